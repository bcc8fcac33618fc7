//! Connections: the accept loop, per-connection timeouts and the connection
//! limit.
//!
//! Each connection is in one phase at a time, and only the phases a client
//! controls have a deadline:
//!
//! | phase     | from                                        | deadline            |
//! |-----------|---------------------------------------------|---------------------|
//! | `Headers` | accept, or the first byte of a later request | `header_timeout`    |
//! | `Body`    | headers complete                            | `body_timeout` (408) |
//! | `Busy`    | body read, until the response is handed over | none (the emulator's work) |
//! | `Idle`    | response handed over                        | `idle_timeout`      |
//!
//! A connection past its deadline is closed (a body past `body_timeout` gets
//! a 408 first). At most `max_connections` are served at once by one
//! emulator (all its listeners together). When a new
//! connection arrives at the limit, the emulator evicts one connection that
//! is waiting on its client: the longest-idle keep-alive connection first,
//! else the one that has spent longest sending its headers or body. Only
//! when every connection is `Busy` does the new one wait (the backlog of
//! the listening socket holds the others) until one finishes. An evicted
//! connection mid-headers or mid-body is dropped at once; an idle one (or
//! one that turned busy meanwhile) is shut down gracefully, so a response
//! already owed is still delivered. So N slow
//! clients (slowloris, half-sent bodies) can never lock a normal client out
//! at a limit of N; each costs at most its timeout. What this does not
//! stop is a client that opens connections faster than others can send
//! their headers: the emulator is a development tool, not a DoS shield.

use super::{handle, Inner};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Largest read buffer per connection (hyper's default is about 400 KiB):
/// bounds request headers and the buffered part of a body.
const MAX_READ_BUF: usize = 64 * 1024;

/// How often a new connection waiting for a free slot looks again (a slot
/// frees when a connection ends or stops being busy).
const SLOT_POLL: Duration = Duration::from_millis(20);

/// The longest pause after repeated accept errors (descriptors exhausted).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What a connection is doing (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Headers,
    Body,
    Busy,
    Idle,
}

/// One connection's phase, shared by its socket wrapper, its request
/// handler and its watchdog.
pub(crate) struct ConnState {
    phase: Mutex<(Phase, Instant)>,
    /// The phase changed: the watchdog recomputes its deadline.
    changed: Notify,
    /// The connection limit chose this connection to make room.
    evict: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            phase: Mutex::new((Phase::Headers, Instant::now())),
            changed: Notify::new(),
            evict: Notify::new(),
        }
    }

    fn get(&self) -> (Phase, Instant) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters `phase` (its clock starts now).
    pub(crate) fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = (phase, Instant::now());
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection starts a request's headers.
    fn on_bytes(&self) {
        let mut p = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        if p.0 == Phase::Idle {
            *p = (Phase::Headers, Instant::now());
            drop(p);
            self.changed.notify_one();
        }
    }

    /// When the current phase runs out, if it can.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let (phase, since) = self.get();
        match phase {
            Phase::Headers => Some(since + limits.header),
            Phase::Idle => Some(since + limits.idle),
            // The body has its own timeout (answered with a 408) and busy
            // time is the emulator's.
            Phase::Body | Phase::Busy => None,
        }
    }
}

/// The timeouts (the connection limit is the [`Registry`]'s).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header: Duration,
    pub(crate) body: Duration,
    pub(crate) idle: Duration,
}

/// The connections being served, and the limit on their number.
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    next: AtomicU64,
    max: usize,
    /// Connection tasks alive (evicted ones until they have let go).
    live: AtomicUsize,
}

/// A connection task's hold on its slot: counted alive and registered
/// until dropped (also when a runtime shutting down drops the task
/// unpolled).
struct Live {
    inner: Arc<Inner>,
    id: u64,
}

impl Live {
    fn new(inner: Arc<Inner>, id: u64) -> Self {
        inner.connections.live.fetch_add(1, Ordering::Relaxed);
        Self { inner, id }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.inner.connections.remove(self.id);
        self.inner.connections.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Registry {
    /// An empty registry admitting at most `max` connections (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            conns: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            max: max.max(1),
            live: AtomicUsize::new(0),
        }
    }

    /// Connection tasks alive.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Admits a connection if there is room, making room by evicting a
    /// connection that waits on its client; `None` when all are busy.
    fn admit(&self) -> Option<(u64, Arc<ConnState>)> {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if conns.len() >= self.max {
            // Longest idle first, then longest in headers or body.
            let victim = conns
                .iter()
                .filter_map(|(id, c)| {
                    let (phase, since) = c.get();
                    let rank = match phase {
                        Phase::Idle => 0,
                        Phase::Headers | Phase::Body => 1,
                        Phase::Busy => return None,
                    };
                    Some((rank, since, *id))
                })
                .min()
                .map(|(_, _, id)| id)?;
            if let Some(c) = conns.remove(&victim) {
                c.evict.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        conns.insert(id, state.clone());
        Some((id, state))
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

/// The socket, noting when an idle connection receives bytes.
struct Tracked {
    stream: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_bytes();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves connections from `listener` until `shutdown` resolves.
pub(crate) async fn serve_until(
    inner: Arc<Inner>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = inner.limits();
    tokio::pin!(shutdown);
    let mut backoff = Duration::ZERO;
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => {
                    backoff = Duration::ZERO;
                    s
                }
                Err(_) => {
                    // Out of descriptors, or a reset before accept: back off
                    // (5 ms doubling to 1 s) and keep serving.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            },
        };
        let (id, state) = loop {
            if let Some(admitted) = inner.connections.admit() {
                break admitted;
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(SLOT_POLL) => {}
            }
        };
        let _ = stream.set_nodelay(true);
        let live = Live::new(inner.clone(), id);
        let inner = inner.clone();
        tokio::spawn(async move {
            connection(inner, stream, state, limits).await;
            drop(live);
        });
    }
}

/// Serves one connection until it ends, times out or is evicted.
async fn connection(inner: Arc<Inner>, stream: TcpStream, state: Arc<ConnState>, limits: Limits) {
    let io = TokioIo::new(Tracked {
        stream,
        state: state.clone(),
    });
    let st = state.clone();
    let svc = hyper::service::service_fn(move |req| {
        let inner = inner.clone();
        let st = st.clone();
        async move {
            st.set(Phase::Body);
            let resp = handle(&inner, req, limits.body, || st.set(Phase::Busy)).await;
            st.set(Phase::Idle);
            Ok::<_, Infallible>(resp)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper's own header timer starts when it begins waiting for a
        // request, idle time included: a backstop that never fires before
        // the watchdog's deadlines below.
        .header_read_timeout(limits.idle + limits.header)
        .max_buf_size(MAX_READ_BUF)
        .keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    loop {
        let deadline = state.deadline(&limits);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = state.evict.notified() => match state.get().0 {
                // Mid-request from a slow client: nothing is owed.
                Phase::Headers | Phase::Body => return,
                // A response may still be on its way out: hyper finishes it
                // and then closes (at once when nothing is in flight).
                Phase::Idle | Phase::Busy => conn.as_mut().graceful_shutdown(),
            },
            () = state.changed.notified() => {}
            () = sleep_until(deadline) => {
                if state.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

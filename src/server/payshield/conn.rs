//! The connection loop of the payShield host protocol servers (the
//! simulator and the proxy, each a [`Handler`]), and the registry that
//! bounds how many connections there are.
//!
//! What a connection may cost is bounded:
//!
//! - **Buffers start empty and grow on demand.** A connection waiting for
//!   its next request holds no buffer at all (it waits for readiness, then
//!   reads). A read reserves [`READ_MIN`] bytes, doubling while reads fill
//!   what was reserved, up to one whole frame ([`codec::MAX_FRAME_LEN`]);
//!   the read buffer never holds more than one partial frame plus one read.
//!   Both buffers are released whenever the connection waits with nothing
//!   half-received.
//! - **Time.** A connection that sends nothing for the idle timeout is
//!   closed; once the first byte of a frame has arrived, the whole frame
//!   must arrive within the frame timeout (a slow drip does not keep it
//!   open); a response that cannot be written within the frame timeout
//!   (a peer that sends but never reads) closes it too.
//! - **Count.** [`Registry::admit`] keeps at most `max_connections`. At the
//!   limit, a new connection takes the place of the connection that has been
//!   idle longest (nothing half-received, idle at least [`EVICT_MIN_IDLE`]),
//!   as nginx reuses idle keep-alive connections when it runs out; when none
//!   qualifies, the new connection is closed at once. Idle connections held
//!   by a flood therefore never lock a working client out.

use crate::payshield::codec;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use zeroize::Zeroize;

/// Bytes reserved for the first read after a wait.
pub(crate) const READ_MIN: usize = 512;
/// Largest read: one whole frame with its length.
pub(crate) const READ_MAX: usize = codec::MAX_FRAME_LEN + 2;
/// A write buffer larger than this is released after use.
pub(crate) const WRITE_KEEP: usize = 4 * 1024;
/// At the connection limit, only a connection idle at least this long may
/// be closed to admit a new one (a new connection has this long to send
/// its first request).
pub(super) const EVICT_MIN_IDLE: Duration = Duration::from_secs(1);

/// What the registry knows of one connection.
struct ConnState {
    /// Milliseconds since the registry's epoch when a byte last arrived
    /// (or the connection was accepted).
    last_active: AtomicU64,
    /// Part of a frame has arrived and the rest has not.
    mid_frame: AtomicBool,
    /// Told when the connection is evicted to admit another.
    evict: Notify,
}

/// The connections being served.
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connections", &self.len())
            .finish()
    }
}

/// A place in the registry; dropping it frees the place.
pub(crate) struct Ticket {
    id: u64,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Ticket {
    /// Completes when the connection is evicted to admit another.
    pub(crate) async fn evicted(&self) {
        self.state.evict.notified().await;
    }

    pub(crate) fn touch(&self, mid_frame: bool) {
        self.state
            .last_active
            .store(self.registry.now_ms(), Ordering::Relaxed);
        self.state.mid_frame.store(mid_frame, Ordering::Relaxed);
    }
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Connections being served now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// A place for a new connection, evicting the longest-idle connection
    /// when `max` are already served; `None` when every connection is busy
    /// or new (the caller closes the new connection).
    pub(crate) fn admit(self: &Arc<Self>, max: usize) -> Option<Ticket> {
        let now = self.now_ms();
        let min_idle = u64::try_from(EVICT_MIN_IDLE.as_millis()).unwrap_or(u64::MAX);
        let mut conns = self.lock();
        if conns.len() >= max.max(1) {
            // O(connections), only when at the limit: bounded by `max`.
            let victim = conns
                .iter()
                .filter(|(_, s)| !s.mid_frame.load(Ordering::Relaxed))
                .map(|(id, s)| (*id, s.last_active.load(Ordering::Relaxed)))
                .filter(|(_, last)| now.saturating_sub(*last) >= min_idle)
                .min_by_key(|(_, last)| *last)
                .map(|(id, _)| id)?;
            if let Some(s) = conns.remove(&victim) {
                s.evict.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            last_active: AtomicU64::new(now),
            mid_frame: AtomicBool::new(false),
            evict: Notify::new(),
        });
        conns.insert(id, Arc::clone(&state));
        Some(Ticket {
            id,
            state,
            registry: Arc::clone(self),
        })
    }
}

/// A client connection: plain TCP, or TLS over TCP.
pub(super) enum Stream {
    /// Plain TCP: reads wait for readiness first, so an idle connection
    /// holds no buffer.
    Tcp(TcpStream),
    /// TLS (feature `tls`): rustls holds its own buffers.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    /// Reads what has arrived into `buf` (waiting for it), after reserving
    /// `chunk` bytes or the rest of the frame begun; reset to [`READ_MIN`]
    /// (and the buffer released) when it waits with nothing half-received.
    /// `(bytes read, bytes reserved)`; 0 read is the end of the stream.
    /// Cancel-safe: nothing read is lost when the future is dropped.
    async fn read_some(
        &mut self,
        buf: &mut Vec<u8>,
        chunk: &mut usize,
    ) -> std::io::Result<(usize, usize)> {
        match self {
            Self::Tcp(sock) => loop {
                buf.reserve_exact((*chunk).max(frame_rest(buf)).min(READ_MAX));
                let spare = buf.capacity() - buf.len();
                match sock.try_read_buf(buf) {
                    Ok(n) => return Ok((n, spare)),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if buf.is_empty() {
                            *buf = Vec::new();
                            *chunk = READ_MIN;
                        }
                        sock.readable().await?;
                    }
                    Err(e) => return Err(e),
                }
            },
            #[cfg(feature = "tls")]
            Self::Tls(s) => {
                use tokio::io::AsyncReadExt;
                buf.reserve_exact((*chunk).max(frame_rest(buf)).min(READ_MAX));
                let spare = buf.capacity() - buf.len();
                let n = s.read_buf(buf).await?;
                Ok((n, spare))
            }
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Tcp(sock) => sock.write_all(buf).await,
            #[cfg(feature = "tls")]
            Self::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
        }
    }
}

/// Writes `buf` within `limit`; false when the peer is gone or too slow.
async fn send(sock: &mut Stream, buf: &[u8], limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, sock.write_all(buf)).await,
        Ok(Ok(()))
    )
}

/// Bytes still missing from the frame at the start of `buf` (0 when its
/// length is not known yet).
pub(crate) fn frame_rest(buf: &[u8]) -> usize {
    match buf {
        [hi, lo, ..] => (2 + usize::from(u16::from_be_bytes([*hi, *lo]))).saturating_sub(buf.len()),
        _ => 0,
    }
}

/// What a [`Handler`] makes of one request.
pub(crate) enum Reply {
    /// Write this (a response frame; empty: nothing).
    Send(Vec<u8>),
    /// Write what is queued, then this (part of a frame, or nothing), then
    /// close the connection.
    Close(Vec<u8>),
    /// Write what is queued, wait this long, then queue this (fault
    /// injection: a slow answer).
    Delayed(Duration, Vec<u8>),
    /// Queue this after the next reply (fault injection: out of order).
    Hold(Vec<u8>),
}

/// A reply on its way: ready at once (the simulator computes in place) or
/// from a task (the proxy asks other HSMs). A task is aborted when its
/// connection goes away.
pub(crate) enum Pending {
    /// Computed already.
    Ready(Option<Reply>),
    /// Being computed by a task.
    Task(tokio::task::JoinHandle<Reply>),
}

impl std::future::Future for Pending {
    type Output = Reply;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Reply> {
        match &mut *self {
            Self::Ready(r) => std::task::Poll::Ready(r.take().unwrap_or(Reply::Close(Vec::new()))),
            // A task that panicked or was cancelled answered nothing.
            Self::Task(h) => std::pin::Pin::new(h)
                .poll(cx)
                .map(|r| r.unwrap_or(Reply::Close(Vec::new()))),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Self::Task(h) = self {
            h.abort();
        }
    }
}

/// Answers the requests of the connections [`serve_listener`] accepts: the
/// simulator and the proxy.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Starts answering one request payload (header, command code, fields).
    /// Called in the order the requests arrive on a connection.
    fn handle(self: &Arc<Self>, payload: &[u8]) -> Pending;
}

/// How a listener bounds its connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A connection that sends nothing (and waits for nothing) this long
    /// is closed.
    pub(crate) idle_timeout: Duration,
    /// A started frame must arrive, a response be written, and a TLS
    /// handshake finish within this long.
    pub(crate) frame_timeout: Duration,
    /// Most connections at once (at the limit the longest idle one makes
    /// room).
    pub(crate) max_connections: usize,
    /// Most requests of one connection being answered at once; answers are
    /// written in request order.
    pub(crate) max_in_flight: usize,
}

/// Requests of one connection answered at once by default. A payShield
/// answers the requests of one connection in the order they came (the
/// header lets a host match them up); how many a real one works on at
/// once is not public. 32 bounds what one connection may hold.
pub(crate) const MAX_IN_FLIGHT: usize = 32;

/// A TLS acceptor (feature `tls`); without the feature, no value exists.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// A TLS acceptor (feature `tls`); without the feature, no value exists.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

/// True when `shutdown` says stop (or its sender is gone).
fn stopping(
    changed: std::result::Result<(), watch::error::RecvError>,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    changed.is_err() || *shutdown.borrow()
}

/// Accepts connections from `listener` and serves each with `handler`
/// until `shutdown` becomes true (or forever when it never does). Over
/// the connection limit with nobody idle, a new connection is closed at
/// once; a failing `accept` (out of descriptors, say) backs off, from
/// [`super::ACCEPT_BACKOFF_MIN`] doubling to [`super::ACCEPT_BACKOFF_MAX`].
pub(crate) async fn serve_listener<H: Handler>(
    listener: tokio::net::TcpListener,
    handler: Arc<H>,
    registry: Arc<Registry>,
    limits: Limits,
    tls: Option<Acceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = super::ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => {
                    backoff = super::ACCEPT_BACKOFF_MIN;
                    let Some(ticket) = registry.admit(limits.max_connections) else {
                        continue;
                    };
                    let _ = sock.set_nodelay(true);
                    let handler = Arc::clone(&handler);
                    let sd = shutdown.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let sock = match tls {
                            // The handshake gets the frame timeout; a
                            // client that fails it (no certificate when one
                            // is required, say) is closed.
                            #[cfg(feature = "tls")]
                            Some(acceptor) => {
                                let limit = limits.frame_timeout;
                                let Ok(Ok(tls)) =
                                    tokio::time::timeout(limit, acceptor.accept(sock)).await
                                else {
                                    return;
                                };
                                Stream::Tls(Box::new(tls))
                            }
                            #[cfg(not(feature = "tls"))]
                            Some(never) => match never {},
                            None => Stream::Tcp(sock),
                        };
                        serve_conn(sock, handler, limits, ticket, sd).await;
                    });
                }
                // Out of descriptors (EMFILE/ENFILE), out of memory, or a
                // connection aborted before it was accepted. The first
                // ones persist while connections wait in the backlog, so
                // retrying at once would spin: pause, longer each time.
                Err(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        changed = shutdown.changed() => {
                            if stopping(changed, &shutdown) { return; }
                        }
                    }
                    backoff = (backoff * 2).min(super::ACCEPT_BACKOFF_MAX);
                }
            },
            changed = shutdown.changed() => {
                if stopping(changed, &shutdown) { return; }
            }
        }
    }
}

/// Queues `reply` in `wbuf` (`held`: a reply the reorder fault keeps back);
/// what a close or a delay needs is done here. False: the connection ends.
async fn queue(
    reply: Reply,
    sock: &mut Stream,
    wbuf: &mut Vec<u8>,
    held: &mut Option<Vec<u8>>,
    limit: Duration,
) -> bool {
    let resp = match reply {
        Reply::Send(r) => r,
        Reply::Close(part) => {
            wbuf.extend_from_slice(&part);
            let _ = send(sock, wbuf, limit).await;
            wbuf.zeroize();
            return false;
        }
        Reply::Delayed(d, r) => {
            if !send(sock, wbuf, limit).await {
                return false;
            }
            wbuf.zeroize();
            tokio::time::sleep(d).await;
            r
        }
        Reply::Hold(r) if held.is_none() => {
            *held = Some(r);
            return true;
        }
        Reply::Hold(r) => r,
    };
    wbuf.extend_from_slice(&resp);
    // Answers may carry secrets (a decrypted PIN, data): wiped once copied.
    let mut resp = resp;
    resp.zeroize();
    if let Some(mut h) = held.take() {
        wbuf.extend_from_slice(&h);
        h.zeroize();
    }
    true
}

/// The reply of `p` if it is ready now (without waiting).
fn ready_now(p: &mut Pending) -> Option<Reply> {
    use std::future::Future as _;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(p).poll(&mut cx) {
        std::task::Poll::Ready(r) => Some(r),
        std::task::Poll::Pending => None,
    }
}

/// Serves one connection until the peer closes, a timeout passes, it is
/// evicted, or the listener shuts down. Up to `limits.max_in_flight`
/// requests are being answered at once; answers are written in request
/// order, those ready together in one write.
async fn serve_conn<H: Handler>(
    mut sock: Stream,
    handler: Arc<H>,
    limits: Limits,
    ticket: Ticket,
    mut shutdown: watch::Receiver<bool>,
) {
    let (idle, frame_limit) = (limits.idle_timeout, limits.frame_timeout);
    let max = limits.max_in_flight.max(1);
    let mut rbuf: Vec<u8> = Vec::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut chunk = READ_MIN;
    let mut last_rx = Instant::now();
    // When the first byte of the frame now half-received arrived.
    let mut frame_start: Option<Instant> = None;
    let mut pending: std::collections::VecDeque<Pending> = std::collections::VecDeque::new();
    let mut held: Option<Vec<u8>> = None;
    loop {
        // Start answering the whole frames received, while there is room.
        let mut consumed = 0;
        while pending.len() < max {
            let Some((used, payload)) = codec::split_frame(rbuf.get(consumed..).unwrap_or(&[]))
            else {
                break;
            };
            consumed += used;
            pending.push_back(handler.handle(payload));
        }
        if consumed > 0 {
            rbuf.drain(..consumed.min(rbuf.len()));
            // What is left began in the last read.
            frame_start = (!rbuf.is_empty()).then_some(last_rx);
        }
        // Queue the answers that are ready, in order; write them together.
        while let Some(reply) = pending.front_mut().and_then(ready_now) {
            pending.pop_front();
            if !queue(reply, &mut sock, &mut wbuf, &mut held, frame_limit).await {
                return;
            }
        }
        if pending.len() < max && codec::split_frame(&rbuf).is_some() {
            continue;
        }
        if pending.is_empty() {
            if let Some(h) = held.take() {
                wbuf.extend_from_slice(&h);
            }
        }
        // Busy (a frame half-received, or answers awaited): not evicted.
        ticket.touch(!rbuf.is_empty() || !pending.is_empty());
        if !wbuf.is_empty() {
            let sent = send(&mut sock, &wbuf, frame_limit).await;
            // Wiped (answers may carry secrets), whole capacity included.
            wbuf.zeroize();
            if !sent {
                return;
            }
        }
        if wbuf.capacity() > WRITE_KEEP {
            wbuf = Vec::new();
        }
        // A half-received frame must complete in time (whole frames
        // waiting for room are not late); a connection waiting for nothing
        // may stay idle so long.
        let partial = !rbuf.is_empty() && codec::split_frame(&rbuf).is_none();
        let deadline = match frame_start {
            Some(t) if partial => Some(t + frame_limit),
            _ if pending.is_empty() && rbuf.is_empty() => Some(last_rx + idle),
            _ => None,
        };
        let can_read = pending.len() < max;
        tokio::select! {
            read = sock.read_some(&mut rbuf, &mut chunk), if can_read => {
                let (n, spare) = match read {
                    Ok((0, _)) | Err(_) => return,
                    Ok(r) => r,
                };
                if n >= spare {
                    chunk = (chunk * 2).min(READ_MAX);
                }
                last_rx = Instant::now();
                if frame_start.is_none() {
                    frame_start = Some(last_rx);
                }
            }
            reply = async {
                match pending.front_mut() {
                    Some(p) => p.await,
                    None => std::future::pending().await,
                }
            } => {
                pending.pop_front();
                if !queue(reply, &mut sock, &mut wbuf, &mut held, frame_limit).await {
                    return;
                }
            }
            () = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => return,
            () = ticket.evicted() => return,
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rest_counts_missing_bytes() {
        assert_eq!(frame_rest(&[]), 0);
        assert_eq!(frame_rest(&[0]), 0);
        assert_eq!(frame_rest(&[0, 4]), 4);
        assert_eq!(frame_rest(&[0, 4, 1, 2]), 2);
        assert_eq!(frame_rest(&[0xFF, 0xFF]), 0xFFFF);
        assert_eq!(frame_rest(&[0, 1, 1, 2]), 0);
    }

    /// Answers only once all `n` requests are being answered at once, and
    /// finishes them last to first.
    struct Reverse {
        barrier: Arc<tokio::sync::Barrier>,
        done: Arc<Vec<tokio::sync::Notify>>,
        next: AtomicU64,
    }

    impl Handler for Reverse {
        fn handle(self: &Arc<Self>, payload: &[u8]) -> Pending {
            let i = usize::try_from(self.next.fetch_add(1, Ordering::Relaxed)).unwrap();
            let (barrier, done) = (Arc::clone(&self.barrier), Arc::clone(&self.done));
            let mut resp = Vec::new();
            codec::write_frame(&mut resp, &[payload]).unwrap();
            Pending::Task(tokio::spawn(async move {
                barrier.wait().await;
                if let Some(later) = done.get(i + 1) {
                    later.notified().await;
                }
                done[i].notify_one();
                Reply::Send(resp)
            }))
        }
    }

    /// Serves `handler` with `limits` on 127.0.0.1, writes `n` frames
    /// (headers `0000`…) at once on one connection and reads as many bytes
    /// back (within 10 s): (what was sent, what came back).
    async fn pipeline<H: Handler>(handler: Arc<H>, limits: Limits, n: usize) -> (Vec<u8>, Vec<u8>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(serve_listener(
            listener,
            handler,
            Arc::new(Registry::new()),
            limits,
            None,
            rx,
        ));
        let mut sock = TcpStream::connect(addr).await.unwrap();
        let mut all = Vec::new();
        for i in 0..n {
            codec::write_frame(&mut all, &[format!("{i:04}NC").as_bytes()]).unwrap();
        }
        sock.write_all(&all).await.unwrap();
        let mut got = vec![0u8; all.len()];
        tokio::time::timeout(Duration::from_secs(10), sock.read_exact(&mut got))
            .await
            .expect("every request answered in time")
            .expect("every request answered");
        let _ = tx.send(true);
        (all, got)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_of_one_connection_are_answered_at_once_and_written_in_order() {
        let n = 8;
        let handler = Arc::new(Reverse {
            barrier: Arc::new(tokio::sync::Barrier::new(n)),
            done: Arc::new((0..n).map(|_| tokio::sync::Notify::new()).collect()),
            next: AtomicU64::new(0),
        });
        let limits = Limits {
            idle_timeout: Duration::from_secs(30),
            frame_timeout: Duration::from_secs(30),
            max_connections: 4,
            max_in_flight: n,
        };
        // One at a time, the barrier would never open.
        let (sent, got) = pipeline(handler, limits, n).await;
        assert_eq!(got, sent, "answers in request order");
    }

    /// Answers each request after the delay it holds.
    struct Slow(Duration);

    impl Handler for Slow {
        fn handle(self: &Arc<Self>, payload: &[u8]) -> Pending {
            let mut resp = Vec::new();
            codec::write_frame(&mut resp, &[payload]).unwrap();
            let d = self.0;
            Pending::Task(tokio::spawn(async move {
                tokio::time::sleep(d).await;
                Reply::Send(resp)
            }))
        }
    }

    #[tokio::test]
    async fn whole_frames_waiting_for_room_outlive_the_frame_timeout() {
        // One request at a time, each answered after 3 frame timeouts.
        let limits = Limits {
            idle_timeout: Duration::from_secs(30),
            frame_timeout: Duration::from_millis(50),
            max_connections: 4,
            max_in_flight: 1,
        };
        let (sent, got) = pipeline(Arc::new(Slow(Duration::from_millis(150))), limits, 3).await;
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn registry_evicts_the_longest_idle_connection_at_the_limit() {
        let r = Arc::new(Registry::new());
        let a = r.admit(2).unwrap();
        let b = r.admit(2).unwrap();
        // Both are new: nobody may be evicted.
        assert!(r.admit(2).is_none());
        // Pretend `a` was last active long ago and `b` is mid-frame.
        a.state.last_active.store(0, Ordering::Relaxed);
        b.state.mid_frame.store(true, Ordering::Relaxed);
        b.state.last_active.store(0, Ordering::Relaxed);
        let epoch_shift = u64::try_from(EVICT_MIN_IDLE.as_millis()).unwrap() + 1;
        let r2 = Arc::new(Registry {
            conns: Mutex::new(r.lock().clone()),
            next_id: AtomicU64::new(10),
            epoch: Instant::now() - Duration::from_millis(epoch_shift),
        });
        let c = r2.admit(2).expect("a is idle: evicted for c");
        assert_eq!(r2.len(), 2);
        assert!(!r2.lock().contains_key(&a.id));
        assert!(r2.lock().contains_key(&b.id));
        // `a` was told.
        tokio::time::timeout(Duration::from_secs(1), a.state.evict.notified())
            .await
            .expect("evicted connection notified");
        drop(c);
        assert_eq!(r2.len(), 1);
    }
}

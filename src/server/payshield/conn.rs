//! One simulator connection, and the registry that bounds how many there are.
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

use super::{Faults, Shared};
use crate::payshield::codec;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

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

/// Serves one connection until the peer closes, a timeout passes, it is
/// evicted, or the simulator shuts down.
pub(super) async fn serve_conn(
    mut sock: Stream,
    shared: Arc<Shared>,
    ticket: Ticket,
    mut shutdown: watch::Receiver<bool>,
) {
    let (idle, frame_limit) = (shared.idle_timeout, shared.frame_timeout);
    let f = &shared.faults;
    let hl = shared.sim.header_len;
    let mut rbuf: Vec<u8> = Vec::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut chunk = READ_MIN;
    let mut last_rx = Instant::now();
    // When the first byte of the frame now half-received arrived.
    let mut frame_start: Option<Instant> = None;
    loop {
        let deadline = match frame_start {
            Some(t) => t + frame_limit,
            None => last_rx + idle,
        };
        let read = tokio::select! {
            r = sock.read_some(&mut rbuf, &mut chunk) => r,
            () = tokio::time::sleep_until(deadline) => return,
            () = ticket.state.evict.notified() => return,
            _ = shutdown.changed() => return,
        };
        let (n, spare) = match read {
            Ok((0, _)) | Err(_) => return,
            Ok(r) => r,
        };
        if n >= spare {
            chunk = (chunk * 2).min(READ_MAX);
        }
        last_rx = Instant::now();
        let mut consumed = 0;
        let mut held: Option<Vec<u8>> = None;
        while let Some((used, payload)) = codec::split_frame(rbuf.get(consumed..).unwrap_or(&[])) {
            consumed += used;
            let seq = shared.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let mut resp = Vec::with_capacity(64);
            shared.sim.handle(payload, &mut resp);
            if Faults::hit(f.drop_every, seq) {
                let _ = send(&mut sock, &wbuf, frame_limit).await;
                return;
            }
            if Faults::hit(f.truncate_every, seq) {
                wbuf.extend_from_slice(resp.get(..resp.len() / 2).unwrap_or(&[]));
                let _ = send(&mut sock, &wbuf, frame_limit).await;
                return;
            }
            if Faults::hit(f.garbage_every, seq) {
                resp.clear();
                let junk_header = vec![b'#'; hl];
                let _ = codec::write_frame(&mut resp, &[&junk_header, b"Z\xFF\x00garbage"]);
            }
            if Faults::hit(f.delay_every, seq) {
                if !send(&mut sock, &wbuf, frame_limit).await {
                    return;
                }
                wbuf.clear();
                tokio::time::sleep(f.delay).await;
            }
            if Faults::hit(f.reorder_every, seq) && held.is_none() {
                held = Some(resp);
                continue;
            }
            wbuf.extend_from_slice(&resp);
            if let Some(h) = held.take() {
                wbuf.extend_from_slice(&h);
            }
        }
        if let Some(h) = held.take() {
            wbuf.extend_from_slice(&h);
        }
        rbuf.drain(..consumed.min(rbuf.len()));
        // A frame completed (or none had started): the rest, if any, is a
        // new frame that started in this read.
        if rbuf.is_empty() {
            frame_start = None;
        } else if consumed > 0 || frame_start.is_none() {
            frame_start = Some(last_rx);
        }
        ticket.touch(!rbuf.is_empty());
        if !wbuf.is_empty() {
            if !send(&mut sock, &wbuf, frame_limit).await {
                return;
            }
            wbuf.clear();
        }
        if wbuf.capacity() > WRITE_KEEP {
            wbuf = Vec::new();
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

//! A payShield proxy that shadows (and can fail over) to another backend:
//! `paycrypto proxy payshield`, for gateways in any language.
//!
//! The proxy listens for the payShield host protocol (2-byte length,
//! header echoed, command code, response code = command + 1, error code).
//! Each command it models — CA/CC (PIN translation), CW/CY (CVV), M6/M8
//! (MAC, mode 0, ISO 9797-1 algorithms 1 and 3), KQ (ARQC verification,
//! Visa and Mastercard session keys, with an ARPC for Visa) and KW (ARQC
//! verification with the EMV common session key, ARPC methods 1 and 2),
//! EC (PIN verification by Visa PVV under a ZPK) and M0/M2 (data
//! encryption and decryption, ECB) — whose keys the key file
//! names is parsed with the codec's typed parser into a typed [`Request`]
//! and run through the layers given to [`PayShieldProxy::new`] (a
//! [`Shadow`](crate::layers::Shadow) and/or a
//! [`Failover`](crate::layers::Failover) over [`ProxyPrimary`]). While the
//! primary answers, the gateway gets the primary's answer **byte for byte**
//! (the primary is sent the gateway's own command, not a re-encoding), and
//! the shadow compares the candidate's typed answer with it. When the
//! failover moved to the candidate, its typed answer is written in the
//! payShield reply format. Every other command (and a modelled one naming
//! a key the key file lacks) passes through to the primary unchanged.
//!
//! Key references: a variant-LMK payShield command carries its keys under
//! the LMK. The key file is the payShield backend's key table
//! ([`KeyTable`] format: `NAME KEY-TYPE KEY-UNDER-LMK USAGE MODE EXPORT KCV`):
//! a key under the LMK resolves to its NAME, which is the key's name on the
//! candidate (on AWS an ARN, an `alias/…`, or a name N meaning `alias/N`).
//!
//! Connections are bounded as the simulator's are (idle and frame
//! timeouts, a connection limit that evicts the longest-idle connection,
//! buffers that grow on demand up to one frame, backoff on accept errors;
//! the simulator's registry is reused). Requests on one connection are
//! answered in order, one at a time. When neither the primary nor the
//! candidate answers a request, the proxy closes that connection (a
//! payShield has no error code for "HSM unreachable"), as a TCP proxy does.

mod keys;
mod map;

pub use keys::KeyMap;

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::ops::{Request, Response};
use crate::payshield::codec::{self, command};
use crate::payshield::{PayShieldBackend, RawResponse};
use crate::server::payshield::conn::{
    frame_rest, Registry, Ticket, READ_MAX, READ_MIN, WRITE_KEEP,
};
use crate::server::payshield::{
    ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, DEFAULT_FRAME_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// The gateway's command and, once the primary answered, its raw answer:
/// what [`ProxyPrimary`] sends and keeps for the proxy's request in flight.
struct Exchange {
    command: Vec<u8>,
    shape: map::Shape,
    keys: KeyMap,
    answer: Mutex<Option<RawResponse>>,
}

tokio::task_local! {
    static EXCHANGE: Arc<Exchange>;
}

/// The primary as the proxy's layers see it: a payShield backend that,
/// for a request the proxy is answering, sends the gateway's own command
/// bytes (so the answer the gateway gets is the primary's, byte for byte)
/// and reads the typed answer from the reply for the comparison. Outside a
/// proxy request it is the payShield backend.
#[derive(Debug, Clone)]
pub struct ProxyPrimary {
    backend: PayShieldBackend,
    name: String,
}

impl ProxyPrimary {
    /// Wraps `backend` (whose key table names the keys, see [`KeyMap`]).
    pub fn new(backend: PayShieldBackend) -> Self {
        let name = backend.name().to_owned();
        Self { backend, name }
    }
}

#[async_trait]
impl Backend for ProxyPrimary {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let Ok(exchange) = EXCHANGE.try_with(Arc::clone) else {
            return self.backend.execute(request).await;
        };
        let raw = self.backend.command(&exchange.command).await?;
        let typed = map::from_raw(&exchange.keys, &request, exchange.shape, &raw);
        *exchange.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(raw);
        typed
    }
}

/// Proxy settings (the simulator's defaults).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Header length in characters the gateway sends (default 4).
    pub header_len: usize,
    /// A connection that sends nothing for this long is closed (300 s).
    pub idle_timeout: Duration,
    /// A started frame must arrive, and an answer be written, within this
    /// long (10 s).
    pub frame_timeout: Duration,
    /// Most gateway connections at once (1024; at the limit the longest
    /// idle one makes room).
    pub max_connections: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            header_len: 4,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Modelled commands run through the layers.
    pub modelled: u64,
    /// Of those, answered by the primary (its bytes returned as they came).
    pub primary_answers: u64,
    /// Of those, answered from the typed answer of another backend (after
    /// a failover).
    pub candidate_answers: u64,
    /// Commands passed through to the primary unchanged.
    pub passed_through: u64,
    /// Requests nobody answered (the connection was closed).
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    modelled: AtomicU64,
    primary_answers: AtomicU64,
    candidate_answers: AtomicU64,
    passed_through: AtomicU64,
    failed: AtomicU64,
}

/// The proxy: the primary, the layers, the key map.
pub struct PayShieldProxy {
    primary: PayShieldBackend,
    layers: Arc<dyn Backend>,
    keys: KeyMap,
    config: ProxyConfig,
    counters: Counters,
}

impl std::fmt::Debug for PayShieldProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayShieldProxy")
            .field("layers", &self.layers.name())
            .field("keys", &self.keys)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl PayShieldProxy {
    /// A proxy in front of `primary`: modelled commands run through
    /// `layers` (built over a [`ProxyPrimary`] of the same backend), the
    /// rest go to `primary` unchanged.
    pub fn new(
        primary: PayShieldBackend,
        layers: Arc<dyn Backend>,
        keys: KeyMap,
        config: ProxyConfig,
    ) -> Self {
        Self {
            primary,
            layers,
            keys,
            config,
            counters: Counters::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyStats {
            modelled: l(&c.modelled),
            primary_answers: l(&c.primary_answers),
            candidate_answers: l(&c.candidate_answers),
            passed_through: l(&c.passed_through),
            failed: l(&c.failed),
        }
    }

    /// Answers one request payload (header + command + fields): appends
    /// the response frame to `out`; false when nobody answered.
    pub async fn answer(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let ok = self.answer_inner(payload, out).await;
        if !ok {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    async fn answer_inner(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let hl = self.config.header_len.min(payload.len());
        let (header, body) = payload.split_at(hl);
        let parsed = match body {
            [a, b, fields @ ..] => command::parse_command([*a, *b], fields)
                .ok()
                // One LMK (identifier absent or 00), as the key file's keys.
                .filter(|r| r.lmk_id.is_none_or(|id| &id == b"00")),
            _ => None,
        };
        let modelled = match &parsed {
            Some(r) => {
                let refs = map::key_refs(&r.command);
                let resolved = self.keys.resolve(&self.primary, &refs).await;
                map::to_request(&resolved, &r.command)
            }
            None => None,
        };
        let Some((request, shape)) = modelled else {
            self.counters.passed_through.fetch_add(1, Ordering::Relaxed);
            return match self.primary.command_raw(body).await {
                Ok(raw) => codec::write_frame(out, &[header, &raw]).is_ok(),
                Err(_) => false,
            };
        };
        self.counters.modelled.fetch_add(1, Ordering::Relaxed);
        let exchange = Arc::new(Exchange {
            command: body.to_vec(),
            shape,
            keys: self.keys.clone(),
            answer: Mutex::new(None),
        });
        let result = EXCHANGE
            .scope(Arc::clone(&exchange), self.layers.execute(request))
            .await;
        let raw = exchange
            .answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(raw) = raw {
            self.counters
                .primary_answers
                .fetch_add(1, Ordering::Relaxed);
            return write_raw(out, header, &raw);
        }
        let Ok(response) = result else {
            return false;
        };
        let code = match body {
            [a, b, ..] => codec::response_code([*a, *b]),
            _ => return false,
        };
        let mut fields = Vec::with_capacity(64);
        if map::encode(shape, &response, &mut fields).is_none() {
            return false;
        }
        self.counters
            .candidate_answers
            .fetch_add(1, Ordering::Relaxed);
        codec::write_frame(out, &[header, &code, &fields]).is_ok()
    }
}

fn write_raw(out: &mut Vec<u8>, header: &[u8], raw: &RawResponse) -> bool {
    codec::write_frame(out, &[header, &raw.code, &raw.error, &raw.body]).is_ok()
}

/// A proxy serving in-process; dropping it (or [`ProxyHandle::shutdown`])
/// stops accepting and closes every connection.
#[derive(Debug)]
pub struct ProxyHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    registry: Arc<Registry>,
    proxy: Arc<PayShieldProxy>,
}

impl ProxyHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Gateway connections served now.
    pub fn connections(&self) -> usize {
        self.registry.len()
    }

    /// The proxy's counters.
    pub fn stats(&self) -> ProxyStats {
        self.proxy.stats()
    }

    /// Stops the proxy.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves `proxy` on `listener` in the current runtime.
pub fn start(listener: TcpListener, proxy: Arc<PayShieldProxy>) -> Result<ProxyHandle> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::invalid("listen address", "no local address").with_source(e))?;
    let (tx, rx) = watch::channel(false);
    let registry = Arc::new(Registry::new());
    tokio::spawn(run(listener, Arc::clone(&proxy), Arc::clone(&registry), rx));
    Ok(ProxyHandle {
        addr,
        shutdown: tx,
        registry,
        proxy,
    })
}

/// Serves `proxy` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, proxy: Arc<PayShieldProxy>) {
    let (_tx, rx) = watch::channel(false);
    run(listener, proxy, Arc::new(Registry::new()), rx).await;
}

async fn run(
    listener: TcpListener,
    proxy: Arc<PayShieldProxy>,
    registry: Arc<Registry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    let Some(ticket) = registry.admit(proxy.config.max_connections) else {
                        continue;
                    };
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(serve_conn(sock, Arc::clone(&proxy), ticket, shutdown.clone()));
                }
                // Out of descriptors and the like: pause, longer each time.
                Err(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        changed = shutdown.changed() => {
                            if changed.is_err() || *shutdown.borrow() { return; }
                        }
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { return; }
            }
        }
    }
}

/// One gateway connection: the simulator's read discipline (buffers on
/// demand up to one frame, idle and frame deadlines, eviction, shutdown),
/// with each frame answered by the proxy before the next is read.
async fn serve_conn(
    mut sock: TcpStream,
    proxy: Arc<PayShieldProxy>,
    ticket: Ticket,
    mut shutdown: watch::Receiver<bool>,
) {
    let (idle, frame_limit) = (proxy.config.idle_timeout, proxy.config.frame_timeout);
    let mut rbuf: Vec<u8> = Vec::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut chunk = READ_MIN;
    let mut last_rx = Instant::now();
    let mut frame_start: Option<Instant> = None;
    loop {
        rbuf.reserve_exact(chunk.max(frame_rest(&rbuf)).min(READ_MAX));
        let spare = rbuf.capacity() - rbuf.len();
        let n = match sock.try_read_buf(&mut rbuf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if rbuf.is_empty() {
                    rbuf = Vec::new();
                    chunk = READ_MIN;
                }
                let deadline = match frame_start {
                    Some(t) => t + frame_limit,
                    None => last_rx + idle,
                };
                tokio::select! {
                    r = sock.readable() => if r.is_err() { return },
                    () = tokio::time::sleep_until(deadline) => return,
                    () = ticket.evicted() => return,
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            Err(_) => return,
        };
        if n >= spare {
            chunk = (chunk * 2).min(READ_MAX);
        }
        last_rx = Instant::now();
        let mut consumed = 0;
        while let Some((used, payload)) = codec::split_frame(rbuf.get(consumed..).unwrap_or(&[])) {
            consumed += used;
            // The answer may take the primary's (or candidate's) time;
            // the connection is busy, not idle, meanwhile.
            ticket.touch(true);
            let answered = tokio::select! {
                ok = proxy.answer(payload, &mut wbuf) => ok,
                _ = shutdown.changed() => return,
            };
            if !answered {
                let _ = send(&mut sock, &wbuf, frame_limit).await;
                return;
            }
        }
        rbuf.drain(..consumed.min(rbuf.len()));
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

/// Writes `buf` to the gateway within `limit`; false when the peer is gone
/// or too slow (the proxy listens on plain TCP only).
async fn send(sock: &mut tokio::net::TcpStream, buf: &[u8], limit: Duration) -> bool {
    use tokio::io::AsyncWriteExt;
    matches!(
        tokio::time::timeout(limit, sock.write_all(buf)).await,
        Ok(Ok(()))
    )
}

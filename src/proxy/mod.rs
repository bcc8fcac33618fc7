//! A payShield proxy that shadows (and can fail over) to another backend:
//! `paycrypto proxy payshield`, for gateways in any language.
//!
//! The proxy listens for the payShield host protocol (2-byte length,
//! header echoed, command code, response code = command + 1, error code).
//! Each command it models — CA/CC (PIN translation), CW/CY (CVV), M6/M8
//! (MAC, mode 0, ISO 9797-1 algorithms 1 and 3), KQ (ARQC verification,
//! Visa and Mastercard session keys, with an ARPC for Visa) and KW (ARQC
//! verification with the EMV common session key, ARPC methods 1 and 2),
//! DA/EA and DC/EC (PIN verification by IBM 3624 offset or Visa PVV under
//! a TPK or ZPK) and M0/M2 (data
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
//! Key references: a payShield command carries its keys under the LMK.
//! The key file ([`KeyMap`]) names each key on the candidate (on AWS an
//! ARN, an `alias/…`, or a name N meaning `alias/N`) by its cryptogram
//! and/or its key check value, in the payShield backend's key-table format
//! ([`KeyTable`](crate::payshield::KeyTable): `NAME KEY-TYPE KEY-UNDER-LMK
//! USAGE MODE EXPORT KCV`) or as JSON:
//!
//! ```json
//! { "keys": [
//!     { "name": "alias/zpk-acquirer", "key": "U1EF828AA8F6B80EB83E19FBC373F3A85", "kcv": "6F1E3F" },
//!     { "name": "arn:aws:payment-cryptography:eu-west-1:111122223333:key/abcd", "kcv": "9B3F5A" },
//!     { "name": "alias/bdk", "kcv": "08D7B4", "key_type": "009" }
//! ] }
//! ```
//!
//! A key reference resolves by cryptogram first, then by the KCV the
//! primary computes for it (BU, cached per cryptogram); see [`KeyMap`] for
//! the schema and the rules.
//!
//! Connections are served by the simulator's connection loop (idle and
//! frame timeouts, a connection limit that evicts the longest-idle
//! connection, buffers that grow on demand up to one frame, backoff on
//! accept errors), over TCP or, with [`ProxyConfig::tls`], TLS. Up to
//! [`ProxyConfig::max_in_flight`] requests of one connection are answered
//! at once, and the answers are written in the order the requests came: a
//! payShield answers a connection's requests in order (the header lets the
//! gateway match them up; how many a real one works on at once is not
//! public, so the bound of 32 is this crate's choice). When neither the
//! primary nor the candidate answers a request, the proxy closes that
//! connection after the answers before it (a payShield has no error code
//! for "HSM unreachable"), as a TCP proxy does.

mod keys;
mod map;
mod metrics;

pub use keys::KeyMap;
pub use metrics::MetricsSampler;

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::ops::{Request, Response};
use crate::payshield::codec::{self, command};
use crate::payshield::{PayShieldBackend, RawResponse};
use crate::server::payshield::conn::{
    serve_listener, Handler, Limits, Pending, Registry, Reply, MAX_IN_FLIGHT,
};
use crate::server::payshield::{
    DEFAULT_FRAME_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The gateway's command and, once the primary answered, its raw answer:
/// what [`ProxyPrimary`] sends and keeps for the proxy's request in flight.
struct Exchange {
    command: zeroize::Zeroizing<Vec<u8>>,
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
    /// Most requests of one gateway connection answered at once (32);
    /// answers are written in request order.
    pub max_in_flight: usize,
    /// Serve TLS (feature `tls`) instead of plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::payshield::TlsServerConfig>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            header_len: 4,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: MAX_IN_FLIGHT,
            #[cfg(feature = "tls")]
            tls: None,
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
    registry: Arc<Registry>,
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
            registry: Arc::new(Registry::new()),
        }
    }

    /// Gateway connections served now.
    pub fn connections(&self) -> usize {
        self.registry.len()
    }

    /// The primary the proxy passes commands to.
    pub fn primary(&self) -> &PayShieldBackend {
        &self.primary
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
            count(&self.counters.failed, "failed");
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
            count(&self.counters.passed_through, "passed_through");
            return match self.primary.command_raw(body).await {
                Ok(raw) => codec::write_frame(out, &[header, &raw]).is_ok(),
                Err(_) => false,
            };
        };
        self.counters.modelled.fetch_add(1, Ordering::Relaxed);
        let exchange = Arc::new(Exchange {
            command: zeroize::Zeroizing::new(body.to_vec()),
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
            count(&self.counters.primary_answers, "primary");
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
        count(&self.counters.candidate_answers, "candidate");
        codec::write_frame(out, &[header, &code, &fields]).is_ok()
    }
}

/// Counts one request in `counter` and in the metric
/// `paycrypto_proxy_requests_total{outcome}`.
fn count(counter: &AtomicU64, outcome: &'static str) {
    counter.fetch_add(1, Ordering::Relaxed);
    ::metrics::counter!("paycrypto_proxy_requests_total", "outcome" => outcome).increment(1);
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
    proxy: Arc<PayShieldProxy>,
}

impl ProxyHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Gateway connections served now.
    pub fn connections(&self) -> usize {
        self.proxy.connections()
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
    tokio::spawn(run(listener, Arc::clone(&proxy), rx));
    Ok(ProxyHandle {
        addr,
        shutdown: tx,
        proxy,
    })
}

/// Serves `proxy` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, proxy: Arc<PayShieldProxy>) {
    let (_tx, rx) = watch::channel(false);
    run(listener, proxy, rx).await;
}

impl Handler for PayShieldProxy {
    /// Answers in a task of its own, so that the requests of one
    /// connection are answered concurrently (written in request order by
    /// the connection loop).
    fn handle(self: &Arc<Self>, payload: &[u8]) -> Pending {
        let proxy = Arc::clone(self);
        // The request may carry PIN blocks, PANs, keys: wiped when done.
        let payload = zeroize::Zeroizing::new(payload.to_vec());
        Pending::Task(tokio::spawn(async move {
            let mut out = Vec::with_capacity(64);
            if proxy.answer(&payload, &mut out).await {
                Reply::Send(out)
            } else {
                Reply::Close(Vec::new())
            }
        }))
    }
}

async fn run(listener: TcpListener, proxy: Arc<PayShieldProxy>, shutdown: watch::Receiver<bool>) {
    let c = &proxy.config;
    let limits = Limits {
        idle_timeout: c.idle_timeout,
        frame_timeout: c.frame_timeout,
        max_connections: c.max_connections.max(1),
        max_in_flight: c.max_in_flight.max(1),
    };
    #[cfg(feature = "tls")]
    let tls = c.tls.as_ref().map(|t| t.acceptor());
    #[cfg(not(feature = "tls"))]
    let tls = None;
    let registry = Arc::clone(&proxy.registry);
    serve_listener(listener, proxy, registry, limits, tls, shutdown).await;
}

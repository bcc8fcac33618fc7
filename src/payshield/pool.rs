//! Connection pool for the payShield client: pipelined requests matched to
//! responses by header, per-request timeouts, reconnect with backoff.
//!
//! Each connection has a writer task (batching queued frames into one
//! write) and a reader task (splitting frames and completing the waiting
//! request whose header the response echoes). A response whose header is
//! unknown means the stream can no longer be trusted: the connection is
//! closed and only the requests that were on it fail, with
//! [`ErrorKind::Transient`]. A timed-out request leaves a tombstone so its
//! header is not reused until its late response arrives or the connection
//! goes: a response can never reach the wrong caller.
//!
//! Reconnects are bounded. A connection proves the host healthy when it
//! carries a response (or stays up for `backoff_max`); one that cannot be
//! opened, or closes before either, is a failure. After a failure only one
//! slot at a time tries again (a probe), `backoff_min` doubling to
//! `backoff_max` apart (with jitter), and calls that find no live
//! connection fail at once with [`ErrorKind::Transient`]: a host that
//! accepts and closes at once costs about one connection per backoff, not
//! one per round trip. The backoff resets only when a connection proves
//! the host healthy again. Whatever happens, a slot starts at most one
//! connection per `backoff_min`.

use super::codec;
use crate::error::{Error, ErrorKind, Result};
use rand::Rng;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::time::Instant;

/// Configuration of a [`super::PayShieldBackend`].
#[derive(Debug, Clone)]
pub struct PayShieldConfig {
    /// `HOST:PORT` of the payShield.
    pub addr: String,
    /// Header length in characters (as configured on the HSM; default 4).
    pub header_len: usize,
    /// Number of TCP connections (default 2), to each host of a cluster.
    pub connections: usize,
    /// Requests in flight per connection (default 256; capped by the
    /// number of distinct headers).
    pub max_in_flight: usize,
    /// Per-request timeout (default 5 s).
    pub request_timeout: Duration,
    /// Connect timeout (default 2 s).
    pub connect_timeout: Duration,
    /// First reconnect delay after a failed connection (default 20 ms),
    /// doubled on each failure in a row up to `backoff_max`; also the least
    /// time between two connection attempts of one slot.
    pub backoff_min: Duration,
    /// Longest reconnect delay (default 2 s); also how long a connection
    /// that has carried no response must stay up to count as healthy.
    pub backoff_max: Duration,
    /// The kind of LMK the payShield runs (default: variant). It decides
    /// the command forms (key blocks, key type `FFF`) and the
    /// capabilities; the HSM does not report it, so it is configured (URL
    /// option `lmk=keyblock`).
    pub lmk: super::LmkKind,
    /// Further payShields of a cluster (default none), `HOST:PORT` each.
    /// With any, the backend holds a pool per host (`addr` and these),
    /// sends each request to the least-loaded healthy host and checks every
    /// host's health (see `health_check_interval`); URL form
    /// `payshield://HOST:PORT,HOST:PORT`.
    pub other_hosts: Vec<String>,
    /// How often each host of a cluster is sent a health check (`NO`,
    /// default 5 s; URL option `health_check`). A host whose check is not
    /// answered within this interval (and the request timeout) is ejected
    /// until a check is answered again. Unused with one host.
    pub health_check_interval: Duration,
    /// TLS (default none: plain TCP): URL scheme `payshields://`.
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::TlsConfig>,
}

impl PayShieldConfig {
    /// Defaults for `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            header_len: 4,
            connections: 2,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_secs(2),
            lmk: super::LmkKind::Variant,
            other_hosts: Vec::new(),
            health_check_interval: Duration::from_secs(5),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The same configuration for a payShield running a key-block LMK.
    pub fn with_key_block_lmk(mut self) -> Self {
        self.lmk = super::LmkKind::KeyBlock;
        self
    }

    fn header_space(&self) -> u64 {
        10u64.saturating_pow(self.header_len.min(9) as u32)
    }
}

/// Checks what a pool needs of its configuration.
pub(crate) fn check_config(cfg: &PayShieldConfig) -> Result<()> {
    if cfg.header_len == 0 {
        return Err(Error::invalid(
            "header length",
            "must be at least 1 to match responses",
        ));
    }
    if cfg.connections == 0 || cfg.max_in_flight == 0 {
        return Err(Error::invalid(
            "pool",
            "connections and max_in_flight must be positive",
        ));
    }
    Ok(())
}

/// A failed call, and whether its request may have reached the HSM (a
/// request that never left this client can go to another host of a
/// cluster).
pub(crate) struct CallError {
    pub(crate) error: Error,
    pub(crate) sent: bool,
}

fn unsent(error: Error) -> CallError {
    CallError { error, sent: false }
}

type Reply = std::result::Result<Vec<u8>, Error>;

enum Entry {
    Waiting {
        tx: oneshot::Sender<Reply>,
        code: [u8; 2],
        id: u64,
    },
    Abandoned,
}

struct Pending {
    map: HashMap<u64, Entry>,
    next: u64,
    abandoned: usize,
    seq: u64,
}

struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<Pending>,
    alive: AtomicBool,
    /// Cleared when a write fails: no new request goes on the connection,
    /// while the reader still delivers the answers that arrived.
    writable: AtomicBool,
    killed: watch::Sender<bool>,
    /// Set once the connection has carried a response.
    proven: watch::Sender<bool>,
    permits: Arc<Semaphore>,
    /// Why the connection closed (once it has).
    close_reason: Mutex<Option<Cow<'static, str>>>,
}

fn transient(msg: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Transient, msg)
}

impl Conn {
    fn kill(&self, reason: impl Into<Cow<'static, str>>) {
        let reason = reason.into();
        let drained: Vec<Entry> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !self.alive.swap(false, Ordering::SeqCst) {
                return;
            }
            p.abandoned = 0;
            p.map.drain().map(|(_, e)| e).collect()
        };
        for e in drained {
            if let Entry::Waiting { tx, .. } = e {
                let _ = tx.send(Err(transient(reason.clone())));
            }
        }
        *self.close_reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        let _ = self.killed.send(true);
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Alive and still sending: a connection new requests may go on.
    fn usable(&self) -> bool {
        self.alive() && self.writable.load(Ordering::SeqCst)
    }

    /// Delivers a response payload (header included) to its caller.
    fn deliver(&self, payload: &[u8], hl: usize) -> std::result::Result<(), &'static str> {
        let header = payload
            .get(..hl)
            .ok_or("response shorter than its header")?;
        let num = parse_header(header).ok_or("response header is not one this client sent")?;
        let entry = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let e = p
                .map
                .remove(&num)
                .ok_or("response header is not one this client sent")?;
            if matches!(e, Entry::Abandoned) {
                p.abandoned = p.abandoned.saturating_sub(1);
            }
            e
        };
        if !*self.proven.borrow() {
            self.proven.send_replace(true);
        }
        if let Entry::Waiting { tx, code, .. } = entry {
            let body = payload.get(hl..).unwrap_or(&[]);
            let reply = if body.get(..2) == Some(&code[..]) {
                Ok(body.to_vec())
            } else {
                Err(Error::new(
                    ErrorKind::Protocol,
                    "response code does not match the command",
                ))
            };
            let _ = tx.send(reply);
        }
        Ok(())
    }
}

fn parse_header(h: &[u8]) -> Option<u64> {
    if h.is_empty() || !h.iter().all(u8::is_ascii_digit) {
        return None;
    }
    h.iter().try_fold(0u64, |a, d| {
        a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

struct Slot {
    conn: Mutex<Option<Arc<Conn>>>,
}

/// The host's health as the pool sees it, shared by its slots (see the
/// module documentation).
struct Gate {
    state: Mutex<GateState>,
    /// Bumped on every change, to wake slots waiting for their turn.
    changed: watch::Sender<u64>,
}

struct GateState {
    /// Failed connections in a row (0: healthy).
    failures: u32,
    /// No probe before this.
    retry_at: Option<Instant>,
    /// A slot is probing now.
    probing: bool,
    /// Why the last connection attempt failed (for the error a caller sees
    /// when no connection comes up: a refused connection, a TLS
    /// certificate the CA does not vouch for…).
    last_error: Option<String>,
}

impl Gate {
    fn new() -> Self {
        Self {
            state: Mutex::new(GateState {
                failures: 0,
                retry_at: None,
                probing: false,
                last_error: None,
            }),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn unhealthy(&self) -> bool {
        self.lock().failures > 0
    }

    fn note_error(&self, why: String) {
        self.lock().last_error = Some(why);
    }

    fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Waits for this slot's turn to connect: at once while the host is
    /// healthy; otherwise as the one probe, once the backoff has passed.
    /// `Some(true)` for a probe; `None` when the pool closes.
    async fn turn(&self, closed: &mut watch::Receiver<bool>) -> Option<bool> {
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let until = {
                let mut st = self.lock();
                if st.failures == 0 {
                    return Some(false);
                }
                let now = Instant::now();
                match st.retry_at {
                    _ if st.probing => None,
                    Some(t) if t > now => Some(t),
                    _ => {
                        st.probing = true;
                        return Some(true);
                    }
                }
            };
            let sleep = async {
                match until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                _ = rx.changed() => {}
                _ = closed.wait_for(|c| *c) => return None,
            }
        }
    }

    /// A connection proved the host healthy: the backoff resets.
    fn healthy(&self) {
        {
            let mut st = self.lock();
            if st.failures == 0 && !st.probing {
                return;
            }
            st.failures = 0;
            st.retry_at = None;
            st.probing = false;
            st.last_error = None;
        }
        self.bump();
    }

    /// A connection failed (or closed unproven). A probe's failure, or the
    /// first failure, lengthens the backoff; other slots' failures while
    /// the host is already known bad do not.
    fn failed(&self, probe: bool, cfg: &PayShieldConfig) {
        {
            let mut st = self.lock();
            if probe || st.failures == 0 {
                st.failures = st.failures.saturating_add(1);
                let doubled = cfg
                    .backoff_min
                    .saturating_mul(1u32 << (st.failures - 1).min(20))
                    .min(cfg.backoff_max);
                // Jitter: between half and all of it, so that many clients
                // do not come back in step.
                let half = doubled / 2;
                let extra = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
                let jitter = Duration::from_micros(rand::rng().random_range(0..=extra));
                st.retry_at = Some(Instant::now() + half + jitter);
            }
            if probe {
                st.probing = false;
            }
        }
        self.bump();
    }
}

impl Slot {
    fn current(&self) -> Option<Arc<Conn>> {
        self.conn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|c| c.usable())
    }
}

/// Decrements an in-flight count however the call ends.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a connection is opened once TCP is up: as it is, or wrapped in TLS.
#[derive(Clone)]
pub(crate) enum Connector {
    /// Plain TCP.
    Plain,
    /// TLS over TCP (feature `tls`).
    #[cfg(feature = "tls")]
    Tls(super::tls::Client),
}

impl Connector {
    /// The connector `cfg` asks for (reading its TLS files, if any).
    pub(crate) fn for_config(cfg: &PayShieldConfig) -> Result<Self> {
        #[cfg(feature = "tls")]
        if let Some(t) = &cfg.tls {
            return super::tls::Client::new(t).map(Self::Tls);
        }
        let _ = cfg;
        Ok(Self::Plain)
    }
}

/// The pool: a fixed set of connection slots, each kept connected by a
/// supervisor task.
pub(crate) struct Pool {
    cfg: Arc<PayShieldConfig>,
    /// The host this pool connects to.
    addr: Arc<str>,
    slots: Vec<Arc<Slot>>,
    gate: Arc<Gate>,
    next: AtomicUsize,
    closed: watch::Sender<bool>,
    /// Calls through [`Pool::call`] in flight now, and answered.
    in_flight: AtomicUsize,
    answered: AtomicU64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("addr", &self.addr)
            .field("connections", &self.slots.len())
            .finish()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = self.closed.send(true);
        for s in &self.slots {
            if let Some(c) = s.conn.lock().unwrap_or_else(|e| e.into_inner()).take() {
                c.kill("client closed");
            }
        }
    }
}

impl Pool {
    /// Starts the supervisors and waits until at least one connection is up
    /// (or the connect timeout passes).
    pub(crate) async fn connect(cfg: PayShieldConfig) -> Result<Self> {
        check_config(&cfg)?;
        let connector = Connector::for_config(&cfg)?;
        let addr: Arc<str> = cfg.addr.as_str().into();
        let pool = Self::start(Arc::new(cfg), addr, connector);
        pool.wait_connected().await?;
        Ok(pool)
    }

    /// Starts the supervisors of a pool to `addr` and returns at once (the
    /// configuration is checked by the caller).
    pub(crate) fn start(cfg: Arc<PayShieldConfig>, addr: Arc<str>, connector: Connector) -> Self {
        let (closed, _) = watch::channel(false);
        let slots: Vec<Arc<Slot>> = (0..cfg.connections)
            .map(|_| {
                Arc::new(Slot {
                    conn: Mutex::new(None),
                })
            })
            .collect();
        let gate = Arc::new(Gate::new());
        for s in &slots {
            tokio::spawn(supervise(
                Arc::clone(s),
                Arc::clone(&cfg),
                Arc::clone(&addr),
                connector.clone(),
                Arc::clone(&gate),
                closed.subscribe(),
            ));
        }
        Self {
            cfg,
            addr,
            slots,
            gate,
            next: AtomicUsize::new(0),
            closed,
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
        }
    }

    /// Waits until at least one connection is up, or fails with
    /// [`ErrorKind::Transient`] (naming why the last attempt failed) when
    /// the connect timeout passes first.
    pub(crate) async fn wait_connected(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.cfg.connect_timeout;
        while self.slots.iter().all(|s| s.current().is_none()) {
            if tokio::time::Instant::now() >= deadline {
                return Err(self.connect_error());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// The error for "no connection came up", with the last reason known.
    pub(crate) fn connect_error(&self) -> Error {
        match self.gate.last_error() {
            Some(why) => Error::new(
                ErrorKind::Transient,
                format!("cannot connect to the payShield at {}: {why}", self.addr),
            ),
            None => transient("cannot connect to the payShield"),
        }
    }

    /// The host this pool connects to.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Number of live connections.
    pub(crate) fn live_connections(&self) -> usize {
        self.slots.iter().filter(|s| s.current().is_some()).count()
    }

    fn pick(&self) -> Option<Arc<Conn>> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).find_map(|i| self.slots.get((start + i) % n).and_then(|s| s.current()))
    }

    /// Sends `body` (command code + fields) and returns the response after
    /// the header (response code, error code, fields).
    pub(crate) async fn call(&self, body: &[u8]) -> Result<Vec<u8>> {
        let deadline = Instant::now() + self.cfg.request_timeout;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = {
            let _counted = Counted(&self.in_flight);
            self.call_checked(body, deadline).await
        };
        match r {
            Ok(r) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                Ok(r)
            }
            Err(e) => Err(e.error),
        }
    }

    /// Calls through [`Pool::call`] in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Calls through [`Pool::call`] answered.
    pub(crate) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Why the last connection attempt failed, while the host has not
    /// proved healthy since.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.gate.last_error()
    }

    /// [`Pool::call`] with a deadline, telling a request that never left
    /// this client (no live connection, no free slot or header) from one
    /// that may have reached the HSM.
    pub(crate) async fn call_checked(
        &self,
        body: &[u8],
        deadline: Instant,
    ) -> std::result::Result<Vec<u8>, CallError> {
        let cmd: [u8; 2] = body
            .get(..2)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(|| unsent(Error::invalid("command", "missing command code")))?;
        let code = codec::response_code(cmd);
        let conn = self.pick().ok_or_else(|| {
            unsent(transient(if self.gate.unhealthy() {
                "the payShield keeps failing (connections refused, closed or unanswered): reconnecting with backoff"
            } else {
                "no payShield connection is available"
            }))
        })?;
        let permit = tokio::time::timeout_at(deadline, Arc::clone(&conn.permits).acquire_owned())
            .await
            .map_err(|_| {
                unsent(Error::new(
                    ErrorKind::Timeout,
                    "timed out waiting for a free request slot",
                ))
            })?
            .map_err(|_| unsent(transient("connection closed")))?;
        let hl = self.cfg.header_len;
        let space = self.cfg.header_space();
        let (rx, (num, id)) = {
            let mut p = conn.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !conn.usable() {
                return Err(unsent(transient("connection lost")));
            }
            if p.map.len() as u64 >= space {
                return Err(unsent(transient("no free request header")));
            }
            let mut num = p.next % space;
            while p.map.contains_key(&num) {
                num = (num + 1) % space;
            }
            p.next = (num + 1) % space;
            let (tx, rx) = oneshot::channel();
            p.seq += 1;
            let id = p.seq;
            p.map.insert(num, Entry::Waiting { tx, code, id });
            (rx, (num, id))
        };
        let mut frame = Vec::with_capacity(2 + hl + body.len());
        let header = format!("{num:0hl$}");
        if codec::write_frame(&mut frame, &[header.as_bytes(), body]).is_err() {
            conn.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map
                .remove(&num);
            return Err(unsent(Error::invalid(
                "request",
                "longer than a payShield frame",
            )));
        }
        if conn.tx.send(frame).is_err() {
            conn.kill("connection lost");
        }
        let out = match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(transient("connection lost")),
            Err(_) => {
                let too_many = {
                    let mut p = conn.pending.lock().unwrap_or_else(|e| e.into_inner());
                    // Only our own entry: the header may already serve a newer request.
                    if matches!(p.map.get(&num), Some(Entry::Waiting { id: i, .. }) if *i == id) {
                        p.map.insert(num, Entry::Abandoned);
                        p.abandoned += 1;
                    }
                    p.abandoned > self.cfg.max_in_flight
                };
                if too_many {
                    conn.kill("too many unanswered requests");
                }
                Err(Error::new(
                    ErrorKind::Timeout,
                    "the payShield did not answer in time",
                ))
            }
        };
        drop(permit);
        out.map_err(|error| CallError { error, sent: true })
    }
}

async fn supervise(
    slot: Arc<Slot>,
    cfg: Arc<PayShieldConfig>,
    addr: Arc<str>,
    connector: Connector,
    gate: Arc<Gate>,
    mut closed: watch::Receiver<bool>,
) {
    let mut last_try: Option<Instant> = None;
    loop {
        if *closed.borrow() {
            return;
        }
        // Whatever else happens, one connection per `backoff_min` at most.
        if let Some(t) = last_try {
            tokio::select! {
                () = tokio::time::sleep_until(t + cfg.backoff_min) => {}
                _ = closed.wait_for(|c| *c) => return,
            }
        }
        let Some(probe) = gate.turn(&mut closed).await else {
            return;
        };
        last_try = Some(Instant::now());
        let conn =
            match tokio::time::timeout(cfg.connect_timeout, open(&addr, &connector, &cfg)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(why)) => {
                    gate.note_error(why);
                    gate.failed(probe, &cfg);
                    continue;
                }
                Err(_) => {
                    gate.note_error("connect timeout".into());
                    gate.failed(probe, &cfg);
                    continue;
                }
            };
        let mut killed = conn.killed.subscribe();
        let mut proven = conn.proven.subscribe();
        *slot.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&conn));
        // Healthy once it carries a response, or stays up `backoff_max`.
        let trial = tokio::time::sleep(cfg.backoff_max);
        tokio::pin!(trial);
        let mut healthy = false;
        loop {
            tokio::select! {
                _ = killed.wait_for(|k| *k) => break,
                _ = closed.wait_for(|c| *c) => { conn.kill("client closed"); return; }
                _ = proven.wait_for(|p| *p), if !healthy => {
                    healthy = true;
                    gate.healthy();
                }
                () = &mut trial, if !healthy => {
                    healthy = true;
                    gate.healthy();
                }
            }
        }
        slot.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
        // A response may have arrived just before the close.
        if healthy || *conn.proven.borrow() {
            gate.healthy();
        } else {
            let why = conn
                .close_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or(Cow::Borrowed("connection lost"));
            gate.note_error(format!("closed before it carried a response ({why})"));
            gate.failed(probe, &cfg);
        }
    }
}

/// Opens one connection to `addr` (TCP, then TLS when configured) and
/// starts its tasks; the error says why not.
async fn open(
    addr: &str,
    connector: &Connector,
    cfg: &PayShieldConfig,
) -> std::result::Result<Arc<Conn>, String> {
    let sock = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("TCP connect failed: {e}"))?;
    let _ = sock.set_nodelay(true);
    match connector {
        Connector::Plain => {
            let (rd, wr) = sock.into_split();
            Ok(start_conn(rd, wr, cfg))
        }
        #[cfg(feature = "tls")]
        Connector::Tls(client) => {
            let stream = client.handshake(addr, sock).await?;
            let (rd, wr) = tokio::io::split(stream);
            Ok(start_conn(rd, wr, cfg))
        }
    }
}

fn start_conn<R, W>(mut rd: R, mut wr: W, cfg: &PayShieldConfig) -> Arc<Conn>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (killed, _) = watch::channel(false);
    let (proven, _) = watch::channel(false);
    let in_flight =
        (cfg.max_in_flight as u64).min(cfg.header_space().saturating_sub(1).max(1)) as usize;
    let conn = Arc::new(Conn {
        tx,
        pending: Mutex::new(Pending {
            map: HashMap::new(),
            next: 0,
            abandoned: 0,
            seq: 0,
        }),
        alive: AtomicBool::new(true),
        writable: AtomicBool::new(true),
        killed,
        proven,
        permits: Arc::new(Semaphore::new(in_flight)),
        close_reason: Mutex::new(None),
    });
    let hl = cfg.header_len;
    let drain_limit = cfg.request_timeout;
    // Writer: batch whatever is queued into one write (flushed: a TLS
    // stream holds written data until then; TCP's flush does nothing).
    let c = Arc::clone(&conn);
    let mut k1 = conn.killed.subscribe();
    tokio::spawn(async move {
        let mut buf = Vec::with_capacity(16 * 1024);
        loop {
            let first = tokio::select! {
                f = rx.recv() => match f { Some(f) => f, None => return },
                _ = k1.wait_for(|k| *k) => return,
            };
            buf.clear();
            buf.extend_from_slice(&first);
            while buf.len() < 64 * 1024 {
                match rx.try_recv() {
                    Ok(f) => buf.extend_from_slice(&f),
                    Err(_) => break,
                }
            }
            let sent = match wr.write_all(&buf).await {
                Ok(()) => wr.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                // A host that closes (a payShield dropping the
                // connection) first writes the answers it has; the reset
                // our write meets can come before our reader has read
                // them. Killing now would fail requests that were
                // answered: stop sending instead, and let the reader
                // deliver what arrived and end the connection at the end
                // of the stream (or, should the read side never end, kill
                // it once no request can still be waiting).
                c.writable.store(false, Ordering::SeqCst);
                tokio::select! {
                    _ = k1.wait_for(|k| *k) => {}
                    () = tokio::time::sleep(drain_limit) => {
                        c.kill(format!("connection lost while sending: {e}"));
                    }
                }
                return;
            }
        }
    });
    // Reader: split frames and deliver by header.
    let c = Arc::clone(&conn);
    let mut k2 = conn.killed.subscribe();
    tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::select! {
                r = rd.read(&mut chunk) => match r {
                    Ok(0) => { c.kill("connection lost"); return; }
                    Err(e) => { c.kill(format!("connection lost: {e}")); return; }
                    Ok(n) => n,
                },
                _ = k2.wait_for(|k| *k) => return,
            };
            buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
            let mut used = 0;
            while let Some((n, payload)) = codec::split_frame(buf.get(used..).unwrap_or(&[])) {
                used += n;
                if c.deliver(payload, hl).is_err() {
                    c.kill("unmatched response: connection reset");
                    return;
                }
            }
            buf.drain(..used.min(buf.len()));
        }
    });
    conn
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Passes its first `ok` writes on to `out`, then fails every write as
    /// a connection the peer has reset does.
    struct ResetAfter {
        ok: usize,
        out: mpsc::UnboundedSender<Vec<u8>>,
    }

    impl AsyncWrite for ResetAfter {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            if self.ok == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()));
            }
            self.ok -= 1;
            let _ = self.out.send(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A host that answers a request and closes makes the next write fail
    /// (reset) while the answer waits unread: the answer still reaches its
    /// caller; only the request that could not be written fails.
    #[tokio::test]
    async fn a_failed_write_does_not_fail_an_answered_request() {
        let cfg = Arc::new(PayShieldConfig::new("127.0.0.1:0"));
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let (client_rd, mut host) = tokio::io::duplex(4096);
        let conn = start_conn(client_rd, ResetAfter { ok: 1, out: out_tx }, &cfg);
        let pool = Arc::new(Pool {
            cfg: Arc::clone(&cfg),
            addr: "test".into(),
            slots: vec![Arc::new(Slot {
                conn: Mutex::new(Some(Arc::clone(&conn))),
            })],
            gate: Arc::new(Gate::new()),
            next: AtomicUsize::new(0),
            closed: watch::channel(false).0,
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
        });
        let p = Arc::clone(&pool);
        let first = tokio::spawn(async move { p.call(b"NC").await });
        // The first request goes out; its header names it.
        let frame = out_rx.recv().await.expect("first request written");
        let header = frame.get(2..2 + cfg.header_len).expect("header").to_vec();
        // The second one meets the reset.
        let p = Arc::clone(&pool);
        let second = tokio::spawn(async move { p.call(b"NC").await });
        while pool.live_connections() > 0 {
            tokio::task::yield_now().await;
        }
        // Only now does the host's answer to the first request arrive,
        // then the end of the stream.
        let mut answer = Vec::new();
        codec::write_frame(&mut answer, &[&header, b"ND00answer"]).unwrap();
        // (Before the fix the reader had gone, and this write failed.)
        let _ = host.write_all(&answer).await;
        drop(host);
        let first = first.await.unwrap();
        assert_eq!(first.as_deref().ok(), Some(&b"ND00answer"[..]), "{first:?}");
        let e = second.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(!conn.alive(), "the connection ends with its stream");
    }
}

//! A payShield-compatible simulator over TCP.
//!
//! Speaks the payShield host protocol (2-byte length, echoed header,
//! command code, response code = command + 1, error code) with a variant LMK
//! (the public test LMK by default) or a key-block LMK
//! ([`SimConfig::key_block_lmk`]: keys are Thales key blocks, AES keys, ISO
//! format 4, AES DUKPT, CMAC and HMAC work). Many connections at once; several
//! requests in flight on one connection are answered in order. Optional
//! [`Faults`] make it drop, delay, garble, truncate or reorder responses for
//! client tests.
//!
//! It is safe to leave running where others can reach it: connections are
//! bounded in number, time and memory (see [`SimConfig`]). A connection that
//! sends nothing for [`SimConfig::idle_timeout`] is closed, and so is one
//! that takes longer than [`SimConfig::frame_timeout`] to send a frame it
//! started or to read a response. At most [`SimConfig::max_connections`]
//! are served: at the limit a new connection takes the place of the one
//! idle longest, or is closed at once when all are busy. An idle
//! connection holds no buffer. When `accept` fails (out of file
//! descriptors, say) the simulator backs off, from 5 ms doubling to 1 s,
//! instead of retrying at once.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use paycrypto::server::payshield::{start, SimConfig};
//! let sim = start(SimConfig::default()).await?;
//! println!("simulator on {}", sim.addr());
//! # Ok(()) }
//! ```

mod commands;
pub(crate) mod conn;

pub use commands::{err, Sim};

use crate::error::{Error, Result};
use crate::payshield::keyblock::KeyBlockLmk;
use crate::payshield::lmk::VariantLmk;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Faults to inject, each every N-th request (counted across all
/// connections, starting at 1; 0 = never). For client tests only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Close the connection instead of answering.
    pub drop_every: u64,
    /// Delay the response by [`Faults::delay`].
    pub delay_every: u64,
    /// How long a delayed response waits.
    pub delay: Duration,
    /// Answer with a garbage frame (a header no client sent) instead.
    pub garbage_every: u64,
    /// Send half of the response frame, then close the connection.
    pub truncate_every: u64,
    /// Hold this response and send it after the next one (out of order).
    pub reorder_every: u64,
}

impl Faults {
    /// Parses a comma-separated spec: `drop=N`, `delay=MS/N`, `garbage=N`,
    /// `truncate=N`, `reorder=N` (e.g. `drop=100,delay=5/10`).
    pub fn parse(spec: &str) -> Result<Self> {
        let mut f = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| Error::invalid("fault", "expected NAME=VALUE"))?;
            let num = |s: &str| -> Result<u64> {
                s.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::invalid("fault", "expected a positive number"))
            };
            match name {
                "drop" => f.drop_every = num(value)?,
                "garbage" => f.garbage_every = num(value)?,
                "truncate" => f.truncate_every = num(value)?,
                "reorder" => f.reorder_every = num(value)?,
                "delay" => {
                    let (ms, n) = value.split_once('/').unwrap_or((value, "1"));
                    f.delay = Duration::from_millis(num(ms)?);
                    f.delay_every = num(n)?;
                }
                _ => {
                    return Err(Error::invalid(
                        "fault",
                        "unknown fault (drop, delay, garbage, truncate, reorder)",
                    ))
                }
            }
        }
        Ok(f)
    }

    fn hit(every: u64, n: u64) -> bool {
        every != 0 && n.is_multiple_of(every)
    }
}

/// Simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Header length in characters (payShield default 4).
    pub header_len: usize,
    /// The LMK set (default: the public test LMK).
    pub lmk: VariantLmk,
    /// A key-block LMK (default: none). When set it replaces `lmk`: the
    /// simulator runs a key-block LMK and every key is a key block.
    pub key_block_lmk: Option<KeyBlockLmk>,
    /// Faults to inject (default: none).
    pub faults: Faults,
    /// A connection that sends nothing for this long is closed (default
    /// 300 s).
    pub idle_timeout: Duration,
    /// Once the first byte of a frame has arrived, the rest must arrive
    /// within this long, and a response must be written within this long,
    /// or the connection is closed (default 10 s).
    pub frame_timeout: Duration,
    /// Most connections served at once (default 1024; 0 counts as 1). At the
    /// limit, a new connection takes the place of the connection idle
    /// longest (nothing half-received, idle for at least a second); when
    /// none is, the new connection is closed at once.
    pub max_connections: usize,
    /// Serve TLS instead of plain TCP (default: plain; feature `tls`):
    /// the certificate, key and optional client CA. The TLS handshake must
    /// finish within `frame_timeout`, and counts against
    /// `max_connections` like any connection.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::payshield::TlsServerConfig>,
}

/// Default [`SimConfig::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default [`SimConfig::frame_timeout`].
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`SimConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// First pause after a failed `accept`; doubled on each failure in a row.
pub(crate) const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause after failed `accept`s.
pub(crate) const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            header_len: 4,
            lmk: VariantLmk::test_lmk(),
            key_block_lmk: None,
            faults: Faults::default(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl SimConfig {
    /// Loads the LMK set from a file (see [`VariantLmk::parse`]).
    pub fn with_lmk_file(mut self, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let text = std::fs::read_to_string(path.as_ref())
            .map_err(|e| Error::invalid("lmk file", "cannot be read").with_source(e))?;
        self.lmk = VariantLmk::parse(&text)?;
        Ok(self)
    }

    /// Runs the test key-block LMK (see [`crate::payshield::keyblock`]).
    pub fn with_test_key_block_lmk(mut self) -> Self {
        self.key_block_lmk = Some(KeyBlockLmk::test_lmk());
        self
    }

    /// Runs a key-block LMK loaded from a file (see [`KeyBlockLmk::parse`]).
    pub fn with_key_block_lmk_file(mut self, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(path.as_ref()).map_err(|e| {
                Error::invalid("key-block lmk file", "cannot be read").with_source(e)
            })?);
        self.key_block_lmk = Some(KeyBlockLmk::parse(&text)?);
        Ok(self)
    }
}

struct Shared {
    sim: Sim,
    faults: Faults,
    counter: AtomicU64,
    idle_timeout: Duration,
    frame_timeout: Duration,
    max_connections: usize,
    registry: Arc<conn::Registry>,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Shared {
    fn new(config: SimConfig) -> Arc<Self> {
        let mut sim = Sim::new(config.lmk, config.header_len);
        if let Some(kb) = config.key_block_lmk {
            sim = sim.with_key_block_lmk(kb);
        }
        Arc::new(Self {
            sim,
            faults: config.faults,
            counter: AtomicU64::new(0),
            idle_timeout: config.idle_timeout,
            frame_timeout: config.frame_timeout,
            max_connections: config.max_connections.max(1),
            registry: Arc::new(conn::Registry::new()),
            #[cfg(feature = "tls")]
            tls: config.tls.as_ref().map(|t| t.acceptor()),
        })
    }
}

/// Serves connections from `listener` until `shutdown` becomes true (or
/// forever when it never does).
pub async fn serve_until(
    listener: TcpListener,
    config: SimConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    run(listener, Shared::new(config), shutdown).await
}

impl Shared {
    fn limits(&self) -> conn::Limits {
        conn::Limits {
            idle_timeout: self.idle_timeout,
            frame_timeout: self.frame_timeout,
            max_connections: self.max_connections,
            max_in_flight: conn::MAX_IN_FLIGHT,
        }
    }
}

impl conn::Handler for Shared {
    /// Answers at once, with the configured faults.
    fn handle(self: &Arc<Self>, payload: &[u8]) -> conn::Pending {
        let f = &self.faults;
        let seq = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut resp = Vec::with_capacity(64);
        self.sim.handle(payload, &mut resp);
        let reply = if Faults::hit(f.drop_every, seq) {
            conn::Reply::Close(Vec::new())
        } else if Faults::hit(f.truncate_every, seq) {
            resp.truncate(resp.len() / 2);
            conn::Reply::Close(resp)
        } else {
            if Faults::hit(f.garbage_every, seq) {
                resp.clear();
                let junk_header = vec![b'#'; self.sim.header_len];
                let _ = crate::payshield::codec::write_frame(
                    &mut resp,
                    &[&junk_header, b"Z\xFF\x00garbage"],
                );
            }
            if Faults::hit(f.delay_every, seq) {
                conn::Reply::Delayed(f.delay, resp)
            } else if Faults::hit(f.reorder_every, seq) {
                conn::Reply::Hold(resp)
            } else {
                conn::Reply::Send(resp)
            }
        };
        conn::Pending::Ready(Some(reply))
    }
}

async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    #[cfg(feature = "tls")]
    let tls = shared.tls.clone();
    #[cfg(not(feature = "tls"))]
    let tls = None;
    let (registry, limits) = (Arc::clone(&shared.registry), shared.limits());
    conn::serve_listener(listener, shared, registry, limits, tls, shutdown).await;
    Ok(())
}

/// Serves connections from `listener` forever.
pub async fn serve(listener: TcpListener, config: SimConfig) -> Result<()> {
    let (_tx, rx) = watch::channel(false);
    let r = serve_until(listener, config, rx).await;
    drop(_tx);
    r
}

/// Binds `listen` (`HOST:PORT`; port 0 picks a free port), prints exactly
/// one line `listening on tcp://HOST:PORT` to stdout (also when serving
/// TLS, which runs over that TCP port), flushed, and serves.
pub async fn bind_and_serve(listen: &str, config: SimConfig) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::invalid("listen address", "cannot bind").with_source(e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::invalid("listen address", "no local address").with_source(e))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on tcp://{addr}");
        let _ = out.flush();
    }
    serve(listener, config).await
}

/// A simulator running in-process; dropping it (or [`SimHandle::shutdown`])
/// stops accepting and closes every connection.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    registry: Arc<conn::Registry>,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.registry.len()
    }

    /// Stops the simulator.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a simulator on `127.0.0.1:0` in the current tokio runtime.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let shared = Shared::new(config);
    let registry = Arc::clone(&shared.registry);
    tokio::spawn(async move {
        let _ = run(listener, shared, rx).await;
    });
    Ok(SimHandle {
        addr,
        shutdown: tx,
        registry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_spec() {
        let f = Faults::parse("drop=100, delay=5/10,garbage=3,truncate=7,reorder=2").unwrap();
        assert_eq!(f.drop_every, 100);
        assert_eq!(f.delay, Duration::from_millis(5));
        assert_eq!(f.delay_every, 10);
        assert_eq!(
            (f.garbage_every, f.truncate_every, f.reorder_every),
            (3, 7, 2)
        );
        assert!(Faults::parse("explode=1").is_err());
        assert!(Faults::parse("drop=0").is_err());
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
    }
}

//! A payShield-compatible simulator over TCP.
//!
//! Speaks the payShield host protocol (2-byte length, echoed header,
//! command code, response code = command + 1, error code) with a variant LMK
//! (the public test LMK by default). Many connections at once; several
//! requests in flight on one connection are answered in order. Optional
//! [`Faults`] make it drop, delay, garble, truncate or reorder responses for
//! client tests.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use paycrypto::server::payshield::{start, SimConfig};
//! let sim = start(SimConfig::default()).await?;
//! println!("simulator on {}", sim.addr());
//! # Ok(()) }
//! ```

mod commands;

pub use commands::{err, Sim};

use crate::error::{Error, Result};
use crate::payshield::codec;
use crate::payshield::lmk::VariantLmk;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
        every != 0 && n % every == 0
    }
}

/// Simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Header length in characters (payShield default 4).
    pub header_len: usize,
    /// The LMK set (default: the public test LMK).
    pub lmk: VariantLmk,
    /// Faults to inject (default: none).
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            header_len: 4,
            lmk: VariantLmk::test_lmk(),
            faults: Faults::default(),
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
}

struct Shared {
    sim: Sim,
    faults: Faults,
    counter: AtomicU64,
}

/// Serves connections from `listener` until `shutdown` becomes true (or
/// forever when it never does).
pub async fn serve_until(
    listener: TcpListener,
    config: SimConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let shared = Arc::new(Shared {
        sim: Sim::new(config.lmk, config.header_len),
        faults: config.faults,
        counter: AtomicU64::new(0),
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((sock, _)) = accepted else { continue };
                let _ = sock.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let sd = shutdown.clone();
                tokio::spawn(async move { connection(sock, shared, sd).await });
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ok(());
                }
            }
        }
    }
}

/// Serves connections from `listener` forever.
pub async fn serve(listener: TcpListener, config: SimConfig) -> Result<()> {
    let (_tx, rx) = watch::channel(false);
    let r = serve_until(listener, config, rx).await;
    drop(_tx);
    r
}

/// Binds `listen` (`HOST:PORT`; port 0 picks a free port), prints exactly
/// one line `listening on tcp://HOST:PORT` to stdout, flushed, and serves.
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
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
    tokio::spawn(async move {
        let _ = serve_until(listener, config, rx).await;
    });
    Ok(SimHandle { addr, shutdown: tx })
}

async fn connection(mut sock: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut rbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut wbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let f = &shared.faults;
    let hl = shared.sim.header_len;
    loop {
        let n = tokio::select! {
            r = sock.read(&mut chunk) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = shutdown.changed() => return,
        };
        rbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        let mut consumed = 0;
        let mut held: Option<Vec<u8>> = None;
        while let Some((used, payload)) = codec::split_frame(rbuf.get(consumed..).unwrap_or(&[])) {
            consumed += used;
            let seq = shared.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let mut resp = Vec::with_capacity(64);
            shared.sim.handle(payload, &mut resp);
            if Faults::hit(f.drop_every, seq) {
                let _ = sock.write_all(&wbuf).await;
                return;
            }
            if Faults::hit(f.truncate_every, seq) {
                wbuf.extend_from_slice(resp.get(..resp.len() / 2).unwrap_or(&[]));
                let _ = sock.write_all(&wbuf).await;
                return;
            }
            if Faults::hit(f.garbage_every, seq) {
                resp.clear();
                let junk_header = vec![b'#'; hl];
                let _ = codec::write_frame(&mut resp, &[&junk_header, b"Z\xFF\x00garbage"]);
            }
            if Faults::hit(f.delay_every, seq) {
                if sock.write_all(&wbuf).await.is_err() {
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
        if !wbuf.is_empty() {
            if sock.write_all(&wbuf).await.is_err() {
                return;
            }
            wbuf.clear();
        }
    }
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

//! Several payShields behind one client: a [`Pool`] per host, requests to
//! the least-loaded healthy host, a health check that ejects a host that
//! stops answering and brings it back when it answers again.
//!
//! Only requests in flight on a connection that dies fail (with
//! [`ErrorKind::Transient`], from the pool); a request that could not be
//! sent on its host (no live connection, no free slot or header) goes to
//! the next host instead, within the same request timeout.

use super::pool::{check_config, CallError, Connector, PayShieldConfig, Pool};
use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The health of one payShield host, as the client sees it
/// (`PayShieldBackend::hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostHealth {
    /// `HOST:PORT`.
    pub addr: String,
    /// Whether the host takes requests: it has a live connection and (in a
    /// cluster) its last health check was answered.
    pub healthy: bool,
    /// Live connections to the host.
    pub live_connections: usize,
    /// Requests in flight on the host now (health checks not counted).
    pub in_flight: usize,
    /// Requests the host has answered (with any error code; health checks
    /// not counted).
    pub answered: u64,
    /// Health checks failed in a row (0 when the last one was answered, or
    /// for a single host, which is not checked).
    pub failed_checks: u64,
    /// Why the host is failing: the last health check's error, else why the
    /// last connection attempt failed; `None` once it has proved healthy
    /// again.
    pub last_error: Option<String>,
}

struct Host {
    pool: Pool,
    /// The last health check was answered.
    checked_ok: AtomicBool,
    failed_checks: AtomicU64,
    in_flight: AtomicUsize,
    answered: AtomicU64,
    last_check_error: std::sync::Mutex<Option<String>>,
}

impl Host {
    fn usable(&self) -> bool {
        self.checked_ok.load(Ordering::Relaxed) && self.pool.live_connections() > 0
    }

    fn health(&self) -> HostHealth {
        let check = self
            .last_check_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        HostHealth {
            addr: self.pool.addr().to_string(),
            healthy: self.usable(),
            live_connections: self.pool.live_connections(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            failed_checks: self.failed_checks.load(Ordering::Relaxed),
            last_error: check.or_else(|| self.pool.last_error()),
        }
    }
}

/// The health of a single-host pool (no health check: healthy while it
/// has a live connection).
pub(crate) fn single_host(pool: &Pool) -> HostHealth {
    let live = pool.live_connections();
    HostHealth {
        addr: pool.addr().to_string(),
        healthy: live > 0,
        live_connections: live,
        in_flight: pool.in_flight(),
        answered: pool.answered(),
        failed_checks: 0,
        last_error: pool.last_error(),
    }
}

/// Decrements a host's in-flight count however the call ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The hosts of one client.
pub(crate) struct Cluster {
    hosts: Vec<Arc<Host>>,
    next: AtomicUsize,
    request_timeout: Duration,
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field(
                "hosts",
                &self.hosts.iter().map(|h| h.pool.addr()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.closed.send(true);
    }
}

/// The health check: `NO` (HSM status, mode 00), which a payShield answers
/// whatever its LMK. The request `NO00` is a published frame (see
/// docs/research/payshield-sources.md, row NO: `0000NO00`); any answer
/// with the right response code counts, whatever its error code.
const HEALTH_CHECK: &[u8] = b"NO00";

impl Cluster {
    /// Starts a pool per host and the health checks, and waits until one
    /// host has a connection (or the connect timeout passes).
    pub(crate) async fn connect(cfg: PayShieldConfig) -> Result<Self> {
        check_config(&cfg)?;
        if cfg.health_check_interval.is_zero() {
            return Err(Error::invalid("health check interval", "must be positive"));
        }
        let mut addrs: Vec<&str> = vec![cfg.addr.as_str()];
        for a in &cfg.other_hosts {
            if addrs.iter().any(|b| b.eq_ignore_ascii_case(a)) {
                return Err(Error::invalid("hosts", "a host is listed twice"));
            }
            addrs.push(a);
        }
        let connector = Connector::for_config(&cfg)?;
        let addrs: Vec<Arc<str>> = addrs.into_iter().map(Arc::from).collect();
        let cfg = Arc::new(cfg);
        let (closed, _) = watch::channel(false);
        let hosts: Vec<Arc<Host>> = addrs
            .into_iter()
            .map(|a| {
                Arc::new(Host {
                    pool: Pool::start(Arc::clone(&cfg), a, connector.clone()),
                    checked_ok: AtomicBool::new(true),
                    failed_checks: AtomicU64::new(0),
                    in_flight: AtomicUsize::new(0),
                    answered: AtomicU64::new(0),
                    last_check_error: std::sync::Mutex::new(None),
                })
            })
            .collect();
        // A check gets the interval to be answered (at most the request
        // timeout): a host slower than that is as good as down.
        let check_timeout = cfg.health_check_interval.min(cfg.request_timeout);
        for h in &hosts {
            tokio::spawn(health_check(
                Arc::downgrade(h),
                cfg.health_check_interval,
                check_timeout,
                closed.subscribe(),
            ));
        }
        let cluster = Self {
            hosts,
            next: AtomicUsize::new(0),
            request_timeout: cfg.request_timeout,
            closed,
        };
        let deadline = Instant::now() + cfg.connect_timeout;
        while cluster.live_connections() == 0 {
            if Instant::now() >= deadline {
                let why: Vec<String> = cluster
                    .hosts
                    .iter()
                    .map(|h| h.pool.connect_error().to_string())
                    .collect();
                return Err(Error::new(
                    ErrorKind::Transient,
                    format!(
                        "cannot connect to any payShield of the cluster: {}",
                        why.join("; ")
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(cluster)
    }

    /// Live connections over all hosts.
    pub(crate) fn live_connections(&self) -> usize {
        self.hosts.iter().map(|h| h.pool.live_connections()).sum()
    }

    /// The health of every host, in configuration order.
    pub(crate) fn health(&self) -> Vec<HostHealth> {
        self.hosts.iter().map(|h| h.health()).collect()
    }

    /// Hosts in the order to try them: usable ones by fewest requests in
    /// flight (ties taken in turn), then the others (a request is better
    /// tried on an ejected host than refused; one without a connection
    /// refuses it at once, unsent).
    fn order(&self) -> Vec<&Arc<Host>> {
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut v: Vec<(bool, usize, usize, &Arc<Host>)> = (0..n)
            .filter_map(|i| {
                let h = self.hosts.get((start + i) % n)?;
                Some((!h.usable(), h.in_flight.load(Ordering::Relaxed), i, h))
            })
            .collect();
        v.sort_by_key(|&(ejected, load, turn, _)| (ejected, load, turn));
        v.into_iter().map(|(_, _, _, h)| h).collect()
    }

    /// Sends `body` to the best host; a request that could not be sent
    /// there goes to the next one. One request timeout covers all tries.
    pub(crate) async fn call(&self, body: &[u8]) -> Result<Vec<u8>> {
        let deadline = Instant::now() + self.request_timeout;
        let mut last = None;
        for host in self.order() {
            host.in_flight.fetch_add(1, Ordering::Relaxed);
            let _guard = InFlight(&host.in_flight);
            match host.pool.call_checked(body, deadline).await {
                Ok(r) => {
                    host.answered.fetch_add(1, Ordering::Relaxed);
                    return Ok(r);
                }
                Err(CallError { error, sent: true }) => return Err(error),
                Err(CallError { error, sent: false }) => {
                    // Bad input fails the same on every host.
                    if error.kind() == ErrorKind::InvalidInput {
                        return Err(error);
                    }
                    last = Some(error);
                }
            }
        }
        Err(last
            .unwrap_or_else(|| Error::new(ErrorKind::Transient, "no payShield host is available")))
    }
}

/// Checks one host every `interval`: an answered `NO` (any error code: the
/// host is up and speaking the protocol) makes it usable again, anything
/// else ejects it until a check is answered. Stops when the cluster goes.
async fn health_check(
    host: std::sync::Weak<Host>,
    interval: Duration,
    timeout: Duration,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        let Some(host) = host.upgrade() else { return };
        let r = host
            .pool
            .call_checked(HEALTH_CHECK, Instant::now() + timeout)
            .await;
        let mut last = host
            .last_check_error
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(_) => {
                host.checked_ok.store(true, Ordering::Relaxed);
                host.failed_checks.store(0, Ordering::Relaxed);
                *last = None;
            }
            Err(e) => {
                host.checked_ok.store(false, Ordering::Relaxed);
                host.failed_checks.fetch_add(1, Ordering::Relaxed);
                *last = Some(format!("health check failed: {}", e.error));
            }
        }
    }
}

//! [`Failover`]: the next backend on transient errors, behind circuit breakers.

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{Request, Response};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Circuit-breaker settings, per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive transient failures (errors or timeouts) that open the
    /// breaker (default 3, at least 1).
    pub failure_threshold: u32,
    /// How long an open breaker skips its backend before letting one probe
    /// request through (default 5 s).
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            open_for: Duration::from_secs(5),
        }
    }
}

/// A circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go to the backend; `failures` consecutive transient failures so far.
    Closed {
        /// Consecutive transient failures.
        failures: u32,
    },
    /// The backend is skipped until the instant passes.
    Open {
        /// When one probe may go through.
        until: Instant,
    },
    /// One probe request is in flight; others skip the backend.
    HalfOpen,
}

/// Health of one backend behind a [`Failover`] (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHealth {
    /// The backend's name.
    pub name: String,
    /// Its breaker's state.
    pub state: BreakerState,
    /// Requests sent to it.
    pub attempts: u64,
    /// Requests it answered (including non-transient errors: it was alive).
    pub answered: u64,
    /// Transient failures and timeouts.
    pub failures: u64,
    /// Times its breaker opened.
    pub opened: u64,
}

struct Member {
    backend: Arc<dyn Backend>,
    state: Mutex<BreakerState>,
    attempts: AtomicU64,
    answered: AtomicU64,
    failures: AtomicU64,
    opened: AtomicU64,
}

/// The `paycrypto_breaker_state` gauge value of a state: 0 closed, 1
/// half-open, 2 open.
fn gauge_value(s: &BreakerState) -> f64 {
    match s {
        BreakerState::Closed { .. } => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open { .. } => 2.0,
    }
}

impl Member {
    /// Publishes the breaker's state (on each change of state kind).
    fn publish(&self, s: &BreakerState) {
        ::metrics::gauge!("paycrypto_breaker_state", "backend" => self.backend.name().to_string())
            .set(gauge_value(s));
    }

    fn lock(&self) -> MutexGuard<'_, BreakerState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// May a request go to this backend now? `Some(true)` when it goes as
    /// the half-open probe. `force` ignores an open breaker.
    fn admit(&self, now: Instant, force: bool) -> Option<bool> {
        let mut s = self.lock();
        match *s {
            BreakerState::Closed { .. } => Some(false),
            BreakerState::Open { until } if now >= until => {
                *s = BreakerState::HalfOpen;
                self.publish(&s);
                Some(true)
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => force.then_some(false),
        }
    }

    fn succeeded(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        let mut s = self.lock();
        let was_closed = matches!(*s, BreakerState::Closed { .. });
        *s = BreakerState::Closed { failures: 0 };
        if !was_closed {
            self.publish(&s);
        }
    }

    /// Records a transient failure; true when this opened the breaker.
    fn failed(&self, cfg: &BreakerConfig) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut s = self.lock();
        let open = BreakerState::Open {
            until: Instant::now() + cfg.open_for,
        };
        let opened = match *s {
            BreakerState::Closed { failures } if failures + 1 < cfg.failure_threshold.max(1) => {
                *s = BreakerState::Closed {
                    failures: failures + 1,
                };
                false
            }
            BreakerState::Open { .. } => {
                *s = open;
                false
            }
            BreakerState::Closed { .. } | BreakerState::HalfOpen => {
                *s = open;
                true
            }
        };
        if opened {
            self.opened.fetch_add(1, Ordering::Relaxed);
            self.publish(&s);
            ::metrics::counter!(
                "paycrypto_breaker_opened_total",
                "backend" => self.backend.name().to_string()
            )
            .increment(1);
        }
        opened
    }
}

/// Puts a half-open breaker back to open-and-due if the probe's future is
/// dropped before it finishes, so the next request probes again.
struct ProbeGuard<'a> {
    member: &'a Member,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut s = self.member.lock();
            if *s == BreakerState::HalfOpen {
                *s = BreakerState::Open {
                    until: Instant::now(),
                };
                self.member.publish(&s);
            }
        }
    }
}

/// Sends each request to the first healthy backend of a list, moving to the
/// next on transient errors and timeouts ([`ErrorKind::is_transient`]).
///
/// Other errors (invalid input, unknown key, key usage, unsupported) and
/// failed verifications are answers: they are returned as they are, never
/// tried elsewhere. Each backend has a circuit breaker: after
/// `failure_threshold` consecutive transient failures it is skipped for
/// `open_for`, then one probe request decides whether it closes again; so a
/// dead primary costs a few timeouts, not one per request. When every breaker
/// is open, the backends are tried in order anyway (a request is better
/// tried than refused).
///
/// Timeouts come from the backends themselves: wrap a backend that can hang
/// in [`Timeout`](super::Timeout).
///
/// Because each backend is a separate system, failing over is not a repeat
/// on the same system, so every operation fails over.
///
/// Each breaker's state is published through the `metrics` facade: gauge
/// `paycrypto_breaker_state{backend}` (0 closed, 1 half-open, 2 open) and
/// counter `paycrypto_breaker_opened_total{backend}`.
pub struct Failover {
    name: String,
    members: Vec<Member>,
    config: BreakerConfig,
}

impl std::fmt::Debug for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover")
            .field("name", &self.name)
            .field("health", &self.health())
            .finish()
    }
}

impl Failover {
    /// Backends in order of preference, with default breaker settings.
    pub fn new(backends: Vec<Arc<dyn Backend>>) -> Self {
        Self::with_config(backends, BreakerConfig::default())
    }

    /// Backends in order of preference, with `config` for every breaker.
    pub fn with_config(backends: Vec<Arc<dyn Backend>>, config: BreakerConfig) -> Self {
        let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
        let name = format!("failover({})", names.join(","));
        let members = backends
            .into_iter()
            .map(|backend| Member {
                backend,
                state: Mutex::new(BreakerState::Closed { failures: 0 }),
                attempts: AtomicU64::new(0),
                answered: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                opened: AtomicU64::new(0),
            })
            .collect::<Vec<Member>>();
        for m in &members {
            m.publish(&BreakerState::Closed { failures: 0 });
        }
        Self {
            name,
            members,
            config,
        }
    }

    /// Each backend's health, in order.
    pub fn health(&self) -> Vec<BackendHealth> {
        self.members
            .iter()
            .map(|m| BackendHealth {
                name: m.backend.name().to_string(),
                state: *m.lock(),
                attempts: m.attempts.load(Ordering::Relaxed),
                answered: m.answered.load(Ordering::Relaxed),
                failures: m.failures.load(Ordering::Relaxed),
                opened: m.opened.load(Ordering::Relaxed),
            })
            .collect()
    }

    async fn attempt(&self, m: &Member, probe: bool, request: Request) -> Result<Response> {
        m.attempts.fetch_add(1, Ordering::Relaxed);
        let mut guard = ProbeGuard {
            member: m,
            armed: probe,
        };
        let result = m.backend.execute(request).await;
        guard.armed = false;
        match &result {
            Err(e) if e.kind().is_transient() => {
                if m.failed(&self.config) {
                    tracing::warn!(
                        backend = m.backend.name(),
                        kind = e.kind().as_str(),
                        "circuit breaker opened"
                    );
                }
            }
            _ => m.succeeded(),
        }
        result
    }
}

#[async_trait]
impl Backend for Failover {
    fn name(&self) -> &str {
        &self.name
    }

    /// What every backend supports: whichever answers, the operation works.
    fn capabilities(&self) -> Capabilities {
        let mut members = self.members.iter();
        let Some(first) = members.next() else {
            return Capabilities::default();
        };
        members.fold(first.backend.capabilities(), |caps, m| {
            caps.intersection(&m.backend.capabilities())
        })
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        let mut last: Option<Error> = None;
        for force in [false, true] {
            let now = Instant::now();
            let mut tried = false;
            for m in &self.members {
                let Some(probe) = m.admit(now, force) else {
                    continue;
                };
                tried = true;
                match self.attempt(m, probe, request.clone()).await {
                    Err(e) if e.kind().is_transient() => {
                        tracing::debug!(
                            backend = m.backend.name(),
                            operation = op.as_str(),
                            kind = e.kind().as_str(),
                            "failing over"
                        );
                        last = Some(e);
                    }
                    other => return other,
                }
            }
            if tried {
                break;
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(ErrorKind::Transient, "no backend to fail over to")
                .with_op(op)
                .with_backend(self.name.clone())
        }))
    }
}

//! [`Retry`]: idempotent operations again after transient errors.

use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::ops::{Request, Response};
use async_trait::async_trait;
use rand::Rng;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// How [`Retry`] retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 3, at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each retry (default 10 ms).
    /// The actual wait is drawn uniformly from half of it to all of it.
    pub initial_backoff: Duration,
    /// Upper bound of the backoff (default 1 s).
    pub max_backoff: Duration,
    /// Retries earned per request (default 0.2: at most about one retry per
    /// five requests in steady state), so a failing backend does not get
    /// several times its normal load.
    pub budget_ratio: f64,
    /// Retries that may be spent in a burst, and the starting balance
    /// (default 10).
    pub budget_burst: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            budget_ratio: 0.2,
            budget_burst: 10,
        }
    }
}

/// What a [`Retry`] did (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryStats {
    /// Retries made.
    pub retries: u64,
    /// Retries wanted but refused by the budget.
    pub budget_exhausted: u64,
}

/// Milli-retries, so fractional ratios add up exactly.
const UNIT: i64 = 1000;

/// Retries a request after a transient error or timeout
/// ([`ErrorKind::is_transient`](crate::ErrorKind::is_transient)), only for
/// idempotent operations ([`Operation::is_idempotent`](crate::Operation::is_idempotent)).
///
/// Never retried: non-idempotent operations (generate, import, delete key),
/// any non-transient error (invalid input, unknown key, key usage,
/// unsupported, protocol), and a failed verification, which is an answer
/// (`Verification::Failed`), not an error. Retries wait an exponential,
/// jittered backoff and spend a retry budget that requests refill.
pub struct Retry<B> {
    inner: B,
    policy: RetryPolicy,
    balance: AtomicI64,
    deposit: i64,
    cap: i64,
    retries: AtomicU64,
    exhausted: AtomicU64,
}

impl<B: Backend> std::fmt::Debug for Retry<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner.name())
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<B: Backend> Retry<B> {
    /// Retries with the default policy.
    pub fn new(inner: B) -> Self {
        Self::with_policy(inner, RetryPolicy::default())
    }

    /// Retries with `policy`.
    pub fn with_policy(inner: B, policy: RetryPolicy) -> Self {
        let ratio = if policy.budget_ratio.is_nan() {
            0.0
        } else {
            policy.budget_ratio.clamp(0.0, 1000.0)
        };
        let cap = i64::from(policy.budget_burst) * UNIT;
        Self {
            inner,
            policy,
            balance: AtomicI64::new(cap),
            deposit: (ratio * UNIT as f64).round() as i64,
            cap,
            retries: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> RetryStats {
        RetryStats {
            retries: self.retries.load(Ordering::Relaxed),
            budget_exhausted: self.exhausted.load(Ordering::Relaxed),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn deposit(&self) {
        let _ = self
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some((b + self.deposit).min(self.cap))
            });
    }

    fn withdraw(&self) -> bool {
        let ok = self
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b >= UNIT).then_some(b - UNIT)
            })
            .is_ok();
        if !ok {
            self.exhausted.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let full = self
            .policy
            .initial_backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff);
        let half = full / 2;
        let jitter_ns = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::rng().random_range(0..=jitter_ns))
    }
}

#[async_trait]
impl<B: Backend> Backend for Retry<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        if !op.is_idempotent() {
            return self.inner.execute(request).await;
        }
        self.deposit();
        let mut attempt = 1;
        loop {
            let result = self.inner.execute(request.clone()).await;
            match result {
                Err(e)
                    if e.kind().is_transient()
                        && attempt < self.policy.max_attempts
                        && self.withdraw() =>
                {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        backend = self.inner.name(),
                        operation = op.as_str(),
                        kind = e.kind().as_str(),
                        attempt,
                        "retrying"
                    );
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

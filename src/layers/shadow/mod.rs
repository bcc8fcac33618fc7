//! [`Shadow`]: answer with the primary, compare with a candidate in the background.

use super::compare::{classify, random_output, Verdict};
pub use super::outcome::{Comparison, ComparisonSink, Outcome, ShadowStats, SkipReason};
use queue::Queue;

mod queue;
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::backend::{Backend, Capabilities};
use crate::error::{ErrorKind, Result};
use crate::ops::*;
use crate::types::{KeyId, Pan};
use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Configuration and construction of a [`Shadow`].
pub struct ShadowBuilder {
    primary: Arc<dyn Backend>,
    candidate: Arc<dyn Backend>,
    sink: Arc<dyn ComparisonSink>,
    sample_rate: f64,
    max_concurrency: usize,
    queue_capacity: usize,
    candidate_timeout: Duration,
    pin_check: Option<PinCheck>,
}

impl std::fmt::Debug for ShadowBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowBuilder")
            .field("primary", &self.primary.name())
            .field("candidate", &self.candidate.name())
            .field("sample_rate", &self.sample_rate)
            .field("max_concurrency", &self.max_concurrency)
            .field("queue_capacity", &self.queue_capacity)
            .field("candidate_timeout", &self.candidate_timeout)
            .finish_non_exhaustive()
    }
}

impl ShadowBuilder {
    /// Fraction of read-only requests sent to the candidate, 0.0 to 1.0
    /// (default 1.0). Values outside the range are clamped; NaN means 0.
    /// Sampling is deterministic: rate 0.25 shadows exactly every fourth request.
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Most candidate calls in flight at once (default 16, at least 1).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// Requests waiting for a candidate slot before new ones are dropped
    /// (default 1024, at least 1).
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// How long the candidate (and the checker) may take before the
    /// comparison counts as a candidate timeout (default 5 s).
    pub fn candidate_timeout(mut self, d: Duration) -> Self {
        self.candidate_timeout = d;
        self
    }

    /// Compares PIN blocks with random fill (ISO formats 1, 3, 4) by meaning:
    /// `checker` translates both outputs to ISO format 0 under `key` (a TDES
    /// PIN key, mode encrypt) and the two deterministic blocks are compared.
    /// The checker also needs decrypt permission on the request's outgoing
    /// PIN key. Using one checker for both blocks means a key that differs
    /// between primary and candidate shows as a mismatch. Without this, such
    /// outputs are reported as skipped ([`SkipReason::NotComparable`]).
    pub fn compare_pin_blocks(mut self, checker: impl Backend + 'static, key: KeyId) -> Self {
        self.pin_check = Some(PinCheck {
            checker: Arc::new(checker),
            key,
        });
        self
    }

    /// Builds the layer. Needs no runtime; the background workers start on
    /// the first shadowed request (and again if the runtime they ran on
    /// has shut down).
    pub fn build(self) -> Shadow {
        let primary_name: Arc<str> = Arc::from(self.primary.name());
        let candidate_name: Arc<str> = Arc::from(self.candidate.name());
        let name = format!("shadow({primary_name},{candidate_name})");
        Shadow {
            name,
            primary: self.primary,
            sample_ppm: (self.sample_rate * 1_000_000.0).round() as u64,
            workers: self.max_concurrency,
            caller: CallerCounters::default(),
            shared: Arc::new(Shared {
                candidate: self.candidate,
                sink: self.sink,
                primary_name,
                candidate_name,
                candidate_timeout: self.candidate_timeout,
                pin_check: self.pin_check,
                queue: Queue::new(self.queue_capacity),
            }),
        }
    }
}

struct PinCheck {
    checker: Arc<dyn Backend>,
    key: KeyId,
}

/// Counters only the callers' paths write (one cache line). A request that
/// reaches the queue is counted under the queue's lock instead, so the
/// common path touches no counter here.
#[derive(Default)]
#[repr(align(128))]
struct CallerCounters {
    sampler: AtomicU64,
    not_sampled: AtomicU64,
    state_changing: AtomicU64,
    dropped: AtomicU64,
    /// Not shadowed for another reason (no runtime, caller cancelled).
    other: AtomicU64,
}

/// A request for the candidate with the primary's answer to compare with.
struct Job {
    request: Request,
    primary: std::result::Result<Response, ErrorKind>,
    primary_latency: Duration,
}

struct Shared {
    candidate: Arc<dyn Backend>,
    sink: Arc<dyn ComparisonSink>,
    primary_name: Arc<str>,
    candidate_name: Arc<str>,
    candidate_timeout: Duration,
    pin_check: Option<PinCheck>,
    queue: Queue,
}

/// Accounts for a worker that is dropped: its runtime shutting down, or a
/// panic in the candidate or the sink. A job it was running counts as
/// ended, and when the last worker is gone the next request starts new
/// ones (on its own runtime). It is created with the task, before its first
/// poll, so a task its runtime drops unpolled is accounted for too.
struct WorkerGuard {
    shared: Arc<Shared>,
    running: bool,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let queue = &self.shared.queue;
        let idle = {
            let mut s = queue.lock();
            // A running worker is neither free nor parked: only the job ends.
            let idle = self.running && {
                s.finished += 1;
                s.finished == s.submitted
            };
            s.workers = s.workers.saturating_sub(1);
            if s.workers == 0 {
                // Free and parked counts were shared with the dead workers.
                s.free = 0;
                s.parked = 0;
                s.granted = 0;
                queue.hints.started.store(false, Ordering::Relaxed);
            }
            idle
        };
        if idle {
            queue.idle.notify_waiters();
        }
    }
}

/// Reports a shadowed request whose caller dropped the future before the
/// primary answered (a cancellation, e.g. by a timeout layer above).
struct CancelGuard<'a> {
    shared: &'a Shared,
    counter: &'a AtomicU64,
    operation: Operation,
    armed: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.counter.fetch_add(1, Ordering::Relaxed);
            self.shared.report(
                self.operation,
                Outcome::Skipped(SkipReason::PrimaryFailed),
                None,
                None,
            );
        }
    }
}

/// Shadows a primary backend with a candidate.
///
/// The caller always gets the primary's result, unchanged, and never waits
/// for the candidate. Once the primary has answered, a read-only request
/// and the primary's answer go into a bounded queue (a request that finds
/// it full is dropped and counted, never queued); `max_concurrency`
/// background workers run queued requests on the candidate, with a
/// timeout, compare the two answers and report a [`Comparison`] to the sink.
/// Running the candidate after the primary, rather than alongside it, keeps
/// the candidate's work off the primary's path on a busy machine and means
/// the comparison always has the primary's answer at hand. State-changing
/// operations (generate, import, delete key) go to the primary only.
///
/// Deterministic outputs compare field by field, byte for byte. PIN blocks
/// in ISO formats 1, 3 and 4 carry random fill, so they compare by meaning
/// when [`ShadowBuilder::compare_pin_blocks`] is configured and are skipped
/// otherwise. Exported TR-31 blocks are random: differing KCVs are a
/// mismatch, equal ones are skipped as not comparable.
pub struct Shadow {
    name: String,
    primary: Arc<dyn Backend>,
    sample_ppm: u64,
    workers: usize,
    caller: CallerCounters,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Shadow {
    /// A shadow with default settings (every read-only request compared,
    /// 16 concurrent candidate calls, a queue of 1024, 5 s candidate timeout).
    pub fn new(
        primary: impl Backend + 'static,
        candidate: impl Backend + 'static,
        sink: impl ComparisonSink + 'static,
    ) -> Self {
        Self::builder(primary, candidate, sink).build()
    }

    /// A builder for the settings.
    pub fn builder(
        primary: impl Backend + 'static,
        candidate: impl Backend + 'static,
        sink: impl ComparisonSink + 'static,
    ) -> ShadowBuilder {
        ShadowBuilder {
            primary: Arc::new(primary),
            candidate: Arc::new(candidate),
            sink: Arc::new(sink),
            sample_rate: 1.0,
            max_concurrency: 16,
            queue_capacity: 1024,
            candidate_timeout: Duration::from_secs(5),
            pin_check: None,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ShadowStats {
        let c = &self.caller;
        let not_sampled = c.not_sampled.load(Ordering::Relaxed);
        let state_changing = c.state_changing.load(Ordering::Relaxed);
        let other = c.other.load(Ordering::Relaxed);
        let dropped = c.dropped.load(Ordering::Relaxed);
        let (queued, finished) = {
            let s = self.shared.queue.lock();
            (s.submitted, s.finished)
        };
        ShadowStats {
            requests: queued + dropped + not_sampled + state_changing + other,
            queued,
            dropped,
            not_sampled,
            state_changing,
            completed: finished,
        }
    }

    /// Comparisons queued or running.
    pub fn pending(&self) -> usize {
        usize::try_from(self.shared.queue.pending()).unwrap_or(usize::MAX)
    }

    /// Waits until every queued comparison has been reported.
    pub async fn flush(&self) {
        // Workers lost with an earlier runtime are restarted on this one.
        if self.shared.queue.pending() > 0 {
            self.ensure_started();
        }
        loop {
            let notified = self.shared.queue.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.queue.pending() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn sampled(&self) -> bool {
        if self.sample_ppm >= 1_000_000 {
            return true;
        }
        // Exactly `rate` of every million consecutive requests, evenly spread.
        let m = self.caller.sampler.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        (m + 1) * self.sample_ppm / 1_000_000 > m * self.sample_ppm / 1_000_000
    }

    /// Starts the background workers if none are running; false outside a
    /// Tokio runtime.
    fn ensure_started(&self) -> bool {
        let queue = &self.shared.queue;
        if queue.hints.started.load(Ordering::Relaxed) {
            return true;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let mut s = queue.lock();
        if s.workers == 0 {
            // Each worker starts free: it looks at the queue before parking.
            s.workers = self.workers;
            s.free = self.workers;
            s.parked = 0;
            s.granted = 0;
            for _ in 0..self.workers {
                handle.spawn(worker(WorkerGuard {
                    shared: self.shared.clone(),
                    running: false,
                }));
            }
            queue.hints.started.store(true, Ordering::Relaxed);
        }
        true
    }

    async fn primary_only(&self, request: Request, reason: SkipReason) -> Result<Response> {
        let op = request.operation();
        let start = Instant::now();
        let result = (*self.primary).execute(request).await;
        self.shared
            .report(op, Outcome::Skipped(reason), Some(start.elapsed()), None);
        result
    }
}

#[async_trait]
impl Backend for Shadow {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.primary.capabilities()
    }

    // Written out rather than `async fn`: the skip paths return the
    // primary's call without a wrapper, and the shadowed path boxes only
    // a small future (the primary's call, the request's copy, a clock
    // reading) instead of one sized for every path.
    fn execute<'life0, 'async_trait>(
        &'life0 self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let c = &self.caller;
        let op = request.operation();
        if is_state_changing(op) {
            c.state_changing.fetch_add(1, Ordering::Relaxed);
            return Box::pin(self.primary_only(request, SkipReason::StateChanging));
        }
        if !self.sampled() {
            c.not_sampled.fetch_add(1, Ordering::Relaxed);
            return Box::pin(self.primary_only(request, SkipReason::NotSampled));
        }
        if !self.ensure_started() {
            c.other.fetch_add(1, Ordering::Relaxed);
            return Box::pin(self.primary_only(request, SkipReason::NoRuntime));
        }
        // A full queue drops the request before anything is copied.
        if self.shared.queue.looks_full() {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return Box::pin(self.primary_only(request, SkipReason::QueueFull));
        }
        let copy = request.clone();
        // Through the trait object itself, not `Arc`'s forwarding impl
        // (which would box the call once more). Nothing runs until polled.
        let call = (*self.primary).execute(request);
        Box::pin(self.shadowed(op, call, copy))
    }
}

impl Shadow {
    /// The shadowed path: the primary answers the caller, then the request
    /// and the answer are queued for the candidate.
    async fn shadowed(
        &self,
        op: Operation,
        call: Pin<Box<dyn Future<Output = Result<Response>> + Send + '_>>,
        copy: Request,
    ) -> Result<Response> {
        let mut cancel = CancelGuard {
            shared: &self.shared,
            counter: &self.caller.other,
            operation: op,
            armed: true,
        };
        let start = Instant::now();
        let result = call.await;
        let primary_latency = start.elapsed();
        cancel.armed = false;
        let job = Job {
            request: copy,
            primary: match &result {
                Ok(r) => Ok(r.clone()),
                Err(e) => Err(e.kind()),
            },
            primary_latency,
        };
        if !self.shared.queue.push(job) {
            self.caller.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.report(
                op,
                Outcome::Skipped(SkipReason::QueueFull),
                Some(primary_latency),
                None,
            );
        }
        result
    }
}

/// Operations never sent to the candidate: they change a backend's state.
fn is_state_changing(op: Operation) -> bool {
    matches!(
        op,
        Operation::GenerateKey | Operation::ImportKey | Operation::DeleteKey
    )
}

/// One of `max_concurrency` background workers: takes jobs off the shared
/// queue and runs them on the candidate, one at a time; parks when the
/// queue is empty.
async fn worker(mut guard: WorkerGuard) {
    let shared = guard.shared.clone();
    let queue = &shared.queue;
    // Whether the previous job still has to be counted as ended (done
    // under the next lock, to take the lock once per job).
    let mut ended = false;
    // Whether this worker has just come back from `notified.await`.
    let mut woke = false;
    loop {
        let notified = queue.work.notified();
        tokio::pin!(notified);
        let (job, wake_next, idle) = {
            let mut s = queue.lock();
            if woke {
                woke = false;
                if s.granted > 0 {
                    // The waker already counted this worker as free.
                    s.granted -= 1;
                } else {
                    // A spurious wake-up: nobody moved it out of `parked`.
                    s.parked = s.parked.saturating_sub(1);
                    s.free += 1;
                }
            }
            let idle = ended && queue.end_job(&mut s);
            ended = false;
            match queue.pop(&mut s) {
                Some(job) => {
                    s.free = s.free.saturating_sub(1);
                    (Some(job), s.wake_one(), idle)
                }
                None => {
                    // Registered before the lock is let go: a caller that
                    // counts this worker as parked always reaches it.
                    notified.as_mut().enable();
                    s.free = s.free.saturating_sub(1);
                    s.parked += 1;
                    (None, false, idle)
                }
            }
        };
        if idle {
            queue.idle.notify_waiters();
        }
        if wake_next {
            queue.work.notify_one();
        }
        let Some(job) = job else {
            notified.await;
            woke = true;
            continue;
        };
        guard.running = true;
        shared.run(job).await;
        guard.running = false;
        ended = true;
    }
}

/// What the outgoing PIN block of a translate request needs for a
/// comparison by meaning.
struct PinContext {
    key: KeyId,
    format: PinBlockFormat,
    pan: Pan,
}

impl Shared {
    fn report(
        &self,
        operation: Operation,
        outcome: Outcome,
        primary_latency: Option<Duration>,
        candidate_latency: Option<Duration>,
    ) {
        self.sink.record(&Comparison {
            operation,
            primary: self.primary_name.clone(),
            candidate: self.candidate_name.clone(),
            outcome,
            primary_latency,
            candidate_latency,
        });
    }

    async fn run(&self, job: Job) {
        let op = job.request.operation();
        let pin_ctx = match &job.request {
            Request::TranslatePin(r) => Some(PinContext {
                key: r.outgoing_key.clone(),
                format: r.outgoing_format,
                pan: r.pan.clone(),
            }),
            Request::GeneratePinData(r) => Some(PinContext {
                key: r.encryption_key.clone(),
                format: r.format,
                pan: r.pan.clone(),
            }),
            _ => None,
        };
        let random = random_output(&job.request);
        let start = Instant::now();
        let candidate = match tokio::time::timeout(
            self.candidate_timeout,
            (*self.candidate).execute(job.request),
        )
        .await
        {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.kind()),
            Err(_) => Err(ErrorKind::Timeout),
        };
        let candidate_latency = start.elapsed();
        let outcome = match classify(&job.primary, &candidate, random) {
            Verdict::Done(o) => o,
            Verdict::ComparePinBlocks(p, c) => match pin_ctx {
                Some(ctx) => self.compare_pin_blocks(ctx, p, c).await,
                None => Outcome::Skipped(SkipReason::NotComparable),
            },
        };
        self.report(
            op,
            outcome,
            Some(job.primary_latency),
            Some(candidate_latency),
        );
    }

    /// Translates both blocks to ISO format 0 under the comparison key on one
    /// checker and compares the deterministic results.
    async fn compare_pin_blocks(
        &self,
        ctx: PinContext,
        primary: EncryptedPinBlock,
        candidate: EncryptedPinBlock,
    ) -> Outcome {
        let Some(check) = &self.pin_check else {
            return Outcome::Skipped(SkipReason::NotComparable);
        };
        let to_iso0 = |block| {
            Request::TranslatePin(TranslatePinRequest {
                incoming_key: PinKey::Key(ctx.key.clone()),
                incoming_format: ctx.format,
                outgoing_key: check.key.clone(),
                outgoing_format: PinBlockFormat::Iso0,
                pan: ctx.pan.clone(),
                pin_block: block,
            })
        };
        let checked = |req| async {
            match tokio::time::timeout(self.candidate_timeout, (*check.checker).execute(req)).await
            {
                Ok(Ok(Response::TranslatePin(r))) => Ok(r.pin_block),
                Ok(Ok(_)) => Err(ErrorKind::Protocol),
                Ok(Err(e)) => Err(e.kind()),
                Err(_) => Err(ErrorKind::Timeout),
            }
        };
        let p = checked(to_iso0(primary)).await;
        let c = checked(to_iso0(candidate)).await;
        match (p, c) {
            (Ok(a), Ok(b)) if a == b => Outcome::Match,
            (Ok(_), Ok(_)) => Outcome::Mismatch { field: "pin_block" },
            (Err(k), _) | (_, Err(k)) if k.is_transient() || k == ErrorKind::Protocol => {
                Outcome::Skipped(SkipReason::ComparisonFailed)
            }
            // Exactly one block fails to decipher as a PIN block under the
            // same key on the same checker: they cannot hold the same PIN.
            (Ok(_), Err(_)) | (Err(_), Ok(_)) => Outcome::Mismatch { field: "pin_block" },
            (Err(_), Err(_)) => Outcome::Skipped(SkipReason::ComparisonFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_exact() {
        let b = || Arc::new(crate::SoftwareBackend::new());
        let s = Shadow::builder(b(), b(), crate::layers::DiscrepancyReport::new())
            .sample_rate(0.25)
            .build();
        let n = (0..1000).filter(|_| s.sampled()).count();
        assert_eq!(n, 250);
        let s = Shadow::builder(b(), b(), crate::layers::DiscrepancyReport::new())
            .sample_rate(f64::NAN)
            .build();
        assert!((0..100).all(|_| !s.sampled()));
    }
}

//! An open-loop, fixed-rate load generator for any backend (feature
//! `load`; the CLI's `paycrypto load`).
//!
//! Request `i` is due at `start + i / rate`, whether or not earlier
//! requests have been answered (open loop): a backend that stalls does not
//! slow the generator down, so its stall shows in the latencies instead of
//! disappearing from them. Latency is measured from the **intended** send
//! time, not from when the request actually left, so the generator's own
//! lateness (and any queueing behind a stall) counts against the backend —
//! the correction for "coordinated omission" that wrk2 popularised.
//! Latencies go into HDR histograms (`hdrhistogram`, 3 significant digits).
//!
//! The requests come from a [`Mix`] of [`Kind`]s, built with random cards
//! and PINs from a seed, over the fixed test key set
//! ([`crate::testing::load`], [`crate::testing::load_payshield`]), and each
//! answer is checked with the test keys' clear values: a wrong answer
//! counts as an error (`wrong_answer`).
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> paycrypto::Result<()> {
//! use paycrypto::load::{run, LoadConfig};
//! use std::{sync::Arc, time::Duration};
//! let backend = Arc::new(paycrypto::SoftwareBackend::new());
//! let keys = paycrypto::testing::load(backend.as_ref()).await?;
//! let config = LoadConfig::new(2_000, Duration::from_secs(10), "translate=50,cvv=30,arqc=20".parse()?)?;
//! let report = run(backend, &keys, &config).await?;
//! println!("{report}");
//! assert_eq!(report.errors_total(), 0);
//! # Ok(()) }
//! ```
//!
//! The generator sends from a thread of its own (sleeping with the
//! operating system's timer, finer than tokio's millisecond wheel) and
//! runs each request as a task on the caller's tokio runtime; a
//! multi-threaded runtime keeps the generator from competing with the
//! backend's client for one core. [`LoadReport::send_lag`] says how late
//! the generator itself was: when it is large, the machine running the
//! generator could not keep the rate, and the latencies say so too.

mod report;
mod workload;

pub use report::{KindReport, LatencyStats, LoadReport, Progress};
pub use workload::{Kind, Mix};

use crate::backend::Backend;
use crate::conformance::KeySet;
use crate::error::{Error, ErrorKind, Result};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use workload::Workload;

/// Highest rate accepted, in requests per second.
pub const MAX_RATE: u32 = 1_000_000;

/// What a load run does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadConfig {
    /// Requests per second (1 to [`MAX_RATE`]).
    pub rate: u32,
    /// How long requests are sent (at most 24 hours).
    pub duration: Duration,
    /// The request kinds and their weights.
    pub mix: Mix,
    /// Seed of the random cards, PINs and mix draws: the same seed sends
    /// the same requests.
    pub seed: u64,
    /// Most requests in flight at once (default 10,000). At the limit the
    /// generator waits; the wait counts in the latencies, as the requests
    /// keep their intended send times. A generator still behind schedule
    /// [`LoadConfig::drain_timeout`] after the planned end stops sending
    /// ([`LoadReport::unsent`]).
    pub max_in_flight: usize,
    /// After the last request is sent, how long answers are awaited
    /// (default 10 s); requests still in flight then are `unfinished`.
    pub drain_timeout: Duration,
    /// How often progress is reported (default 1 s).
    pub progress_interval: Duration,
}

impl LoadConfig {
    /// `rate` requests per second for `duration` with `mix`, a random seed
    /// and the defaults above. Errors (field `rate` or `duration`) for a
    /// rate of 0 or above [`MAX_RATE`], or a duration of zero or over 24 h.
    pub fn new(rate: u32, duration: Duration, mix: Mix) -> Result<Self> {
        let c = Self {
            rate,
            duration,
            mix,
            seed: rand::random(),
            max_in_flight: 10_000,
            drain_timeout: Duration::from_secs(10),
            progress_interval: Duration::from_secs(1),
        };
        c.validate()?;
        Ok(c)
    }

    /// The same run with a fixed seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same run with another in-flight limit (at least 1).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    fn validate(&self) -> Result<()> {
        if !(1..=MAX_RATE).contains(&self.rate) {
            return Err(Error::invalid(
                "rate",
                format!("expected 1 to {MAX_RATE} requests per second"),
            ));
        }
        if self.duration.is_zero() || self.duration > Duration::from_secs(86_400) {
            return Err(Error::invalid(
                "duration",
                "expected more than zero and at most 24 hours",
            ));
        }
        Ok(())
    }

    /// Requests the run sends: `rate × duration`, rounded to the nearest
    /// whole request (at least 1).
    pub fn total_requests(&self) -> u64 {
        ((f64::from(self.rate) * self.duration.as_secs_f64()).round() as u64).max(1)
    }

    /// When request `i` is due, after the start.
    fn due(&self, i: u64) -> Duration {
        let nanos = u128::from(i) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Highest latency recorded exactly (1 hour, in microseconds); longer ones
/// count as this.
const MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // Bounds 1 µs .. 1 h at 3 significant digits: valid constants.
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_US)
}

/// Counts and histograms of one kind (or of the whole run).
struct Tally {
    latency: Histogram<u64>,
    outcomes: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            latency: histogram(),
            outcomes: BTreeMap::new(),
        }
    }
}

/// What the request tasks record into, under one lock.
struct Stats {
    total: Tally,
    kinds: BTreeMap<Kind, Tally>,
    /// Latencies since the last progress report.
    window: Histogram<u64>,
    window_errors: u64,
    send_lag: Histogram<u64>,
    completed: u64,
    errors: u64,
    last_done: Option<Instant>,
}

/// State shared by the sender thread, the request tasks and the caller.
struct Shared {
    stats: Mutex<Stats>,
    sent: AtomicU64,
    stop: AtomicBool,
    finished_sending: AtomicBool,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        match self.stats.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Stops the sender thread when the run ends or its future is dropped.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// The outcome label of one answer: `ok`, `wrong_answer`, or the error kind.
fn outcome(result: &Result<crate::Response>, expect: &workload::Expect) -> &'static str {
    match result {
        Ok(r) if expect.holds(r) => "ok",
        Ok(_) => "wrong_answer",
        Err(e) => e.kind().as_str(),
    }
}

/// Runs a load of `config` against `backend` with the keys of `keys` (the
/// roles the mix needs, with their clear values: the fixed test key set
/// of [`crate::testing::load`]). Returns when every request has been
/// answered, or the drain timeout has passed.
///
/// Must be called inside a tokio runtime (the requests run as tasks on it).
/// Errors: the configuration or the key set is not usable (`InvalidInput`
/// naming the field), or the sender thread could not start.
pub async fn run(
    backend: Arc<dyn Backend>,
    keys: &KeySet,
    config: &LoadConfig,
) -> Result<LoadReport> {
    run_with_progress(backend, keys, config, |_| {}).await
}

/// [`run`], calling `progress` every [`LoadConfig::progress_interval`]
/// while it runs (for a progress line).
pub async fn run_with_progress(
    backend: Arc<dyn Backend>,
    keys: &KeySet,
    config: &LoadConfig,
    mut progress: impl FnMut(&Progress) + Send,
) -> Result<LoadReport> {
    config.validate()?;
    let workload = Arc::new(Workload::new(&config.mix, keys, config.seed)?);
    // Every request kind can be built: fail now rather than 10,000 times.
    for i in 0..64 {
        workload.request(i)?;
    }
    let handle = tokio::runtime::Handle::current();
    let shared = Arc::new(Shared {
        stats: Mutex::new(Stats {
            total: Tally::new(),
            kinds: config
                .mix
                .entries()
                .iter()
                .map(|(k, _)| (*k, Tally::new()))
                .collect(),
            window: histogram(),
            window_errors: 0,
            send_lag: histogram(),
            completed: 0,
            errors: 0,
            last_done: None,
        }),
        sent: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        finished_sending: AtomicBool::new(false),
    });
    let _stop = StopOnDrop(shared.clone());
    let total = config.total_requests();
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
    // Requests start a little after now, so the first ones are not late
    // because the thread was starting.
    let start = Instant::now() + Duration::from_millis(5);
    let sender = {
        let (shared, config, workload, backend, permits) = (
            shared.clone(),
            config.clone(),
            workload.clone(),
            backend.clone(),
            permits.clone(),
        );
        let handle = handle.clone();
        std::thread::Builder::new()
            .name("paycrypto-load".into())
            .spawn(move || {
                send_all(
                    &handle, &shared, &config, &workload, &backend, &permits, start, total,
                );
                shared.finished_sending.store(true, Ordering::Release);
            })
            .map_err(|e| {
                Error::new(ErrorKind::Backend, "cannot start the load generator thread")
                    .with_source(e)
            })?
    };
    let mut next_report = start + config.progress_interval;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        // In this order: once sending is seen finished, `sent` is final
        // (the sender counts each request before it says it is done), and
        // `done` read after it cannot be compared with a stale count. Read
        // the other way round, a caller paused between the reads (a
        // starved machine) could see every request *then counted* answered
        // and sending finished, while the last requests, sent meanwhile,
        // were still in flight: the run ended early and reported them
        // unfinished.
        let sending_done = shared.finished_sending.load(Ordering::Acquire);
        let sent = shared.sent.load(Ordering::Acquire);
        let done = shared.stats().completed;
        if sending_done && done >= sent {
            break;
        }
        let now = Instant::now();
        if sending_done {
            let deadline = *drain_deadline.get_or_insert(now + config.drain_timeout);
            if now >= deadline {
                break;
            }
        }
        if now >= next_report {
            progress(&snapshot_progress(&shared, start, config, total));
            next_report += config.progress_interval;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    // The sender has finished (or stops at its next request).
    let _ = tokio::task::spawn_blocking(move || sender.join()).await;
    let elapsed = start.elapsed();
    Ok(build_report(
        &shared,
        backend.name(),
        config,
        total,
        start,
        elapsed,
    ))
}

/// The sender thread: sends request `i` at `start + due(i)`.
#[allow(clippy::too_many_arguments)]
fn send_all(
    handle: &tokio::runtime::Handle,
    shared: &Arc<Shared>,
    config: &LoadConfig,
    workload: &Arc<Workload>,
    backend: &Arc<dyn Backend>,
    permits: &Arc<tokio::sync::Semaphore>,
    start: Instant,
    total: u64,
) {
    // A backend that cannot keep up leaves the generator behind schedule
    // at the in-flight limit; it catches up for at most the drain timeout
    // after the planned end, then stops: the rest count as unsent, so a
    // run never lasts much longer than asked.
    let give_up = start + config.duration + config.drain_timeout;
    for i in 0..total {
        if shared.stop.load(Ordering::Relaxed) || Instant::now() >= give_up {
            return;
        }
        let intended = start + config.due(i);
        // Never early: a request sent before its time would make its
        // latency look shorter. The operating system's sleep may overrun
        // by its timer slack (some 50 µs on Linux); that lateness counts
        // in the latency and shows in the send lag.
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        // At the in-flight limit, wait for a slot (polling: this thread
        // has no timer of the runtime's); give up once the schedule is
        // hopeless (see `give_up`), leaving the rest unsent.
        let permit = loop {
            match permits.clone().try_acquire_owned() {
                Ok(p) => break p,
                Err(tokio::sync::TryAcquireError::Closed) => return,
                Err(tokio::sync::TryAcquireError::NoPermits) => {
                    if shared.stop.load(Ordering::Relaxed) || Instant::now() >= give_up {
                        return;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        };
        let lag = Instant::now().saturating_duration_since(intended);
        shared.stats().send_lag.saturating_record(micros(lag));
        shared.sent.fetch_add(1, Ordering::AcqRel);
        let (shared, workload, backend) = (shared.clone(), workload.clone(), backend.clone());
        handle.spawn(async move {
            let _permit = permit;
            let (kind, label) = match workload.request(i) {
                Ok((kind, request, expect)) => {
                    let result = backend.execute(request).await;
                    (kind, outcome(&result, &expect))
                }
                // Checked before the run: every kind can be built.
                Err(e) => (Kind::Translate, e.kind().as_str()),
            };
            let done = Instant::now();
            let us = micros(done.saturating_duration_since(intended));
            let mut s = shared.stats();
            let s = &mut *s;
            s.total.latency.saturating_record(us);
            *s.total.outcomes.entry(label).or_default() += 1;
            if let Some(t) = s.kinds.get_mut(&kind) {
                t.latency.saturating_record(us);
                *t.outcomes.entry(label).or_default() += 1;
            }
            s.window.saturating_record(us);
            s.completed += 1;
            if label != "ok" {
                s.errors += 1;
                s.window_errors += 1;
            }
            s.last_done = Some(s.last_done.map_or(done, |d| d.max(done)));
        });
    }
}

fn snapshot_progress(shared: &Shared, start: Instant, config: &LoadConfig, total: u64) -> Progress {
    let sent = shared.sent.load(Ordering::Acquire);
    let mut s = shared.stats();
    let p = Progress {
        elapsed: Instant::now().saturating_duration_since(start),
        duration: config.duration,
        total,
        sent,
        completed: s.completed,
        in_flight: sent.saturating_sub(s.completed),
        errors: s.errors,
        window_completed: s.window.len(),
        window_errors: s.window_errors,
        window_p99: (!s.window.is_empty())
            .then(|| Duration::from_micros(s.window.value_at_quantile(0.99))),
        interval: config.progress_interval,
    };
    s.window.reset();
    s.window_errors = 0;
    p
}

fn build_report(
    shared: &Shared,
    backend: &str,
    config: &LoadConfig,
    total: u64,
    start: Instant,
    elapsed: Duration,
) -> LoadReport {
    let sent = shared.sent.load(Ordering::Acquire);
    let s = shared.stats();
    // The run lasts from the first intended send to the last answer (or
    // the configured duration, when everything was answered in time).
    let answered_by = s
        .last_done
        .map(|d| d.saturating_duration_since(start))
        .unwrap_or(elapsed);
    let span = answered_by.max(config.duration);
    let errors: BTreeMap<String, u64> = s
        .total
        .outcomes
        .iter()
        .filter(|(k, _)| **k != "ok")
        .map(|(k, n)| ((*k).to_string(), *n))
        .collect();
    LoadReport {
        backend: backend.to_string(),
        mix: config.mix.to_string(),
        seed: config.seed,
        target_rate: f64::from(config.rate),
        duration: config.duration,
        planned: total,
        sent,
        unsent: total.saturating_sub(sent),
        completed: s.completed,
        unfinished: sent.saturating_sub(s.completed),
        ok: s.total.outcomes.get("ok").copied().unwrap_or(0),
        errors,
        elapsed: span,
        achieved_rate: if span.is_zero() {
            0.0
        } else {
            s.completed as f64 / span.as_secs_f64()
        },
        latency: LatencyStats::from_histogram(&s.total.latency),
        send_lag: LatencyStats::from_histogram(&s.send_lag),
        // In the order of the mix.
        kinds: config
            .mix
            .entries()
            .iter()
            .filter_map(|(k, _)| s.kinds.get_key_value(k))
            .map(|(k, t)| KindReport {
                kind: k.as_str(),
                operation: k.operation().as_str(),
                completed: t.latency.len(),
                errors: t
                    .outcomes
                    .iter()
                    .filter(|(o, _)| **o != "ok")
                    .map(|(_, n)| n)
                    .sum(),
                latency: LatencyStats::from_histogram(&t.latency),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_and_limits() {
        let mix: Mix = "cvv".parse().unwrap();
        let c = LoadConfig::new(10_000, Duration::from_secs(60), mix.clone()).unwrap();
        assert_eq!(c.total_requests(), 600_000);
        assert_eq!(c.due(0), Duration::ZERO);
        assert_eq!(c.due(1), Duration::from_micros(100));
        assert_eq!(c.due(10_000), Duration::from_secs(1));
        let c = LoadConfig::new(3, Duration::from_millis(500), mix.clone()).unwrap();
        assert_eq!(c.total_requests(), 2);
        assert_eq!(c.due(1), Duration::from_nanos(333_333_333));
        for (rate, d, field) in [
            (0, Duration::from_secs(1), "rate"),
            (MAX_RATE + 1, Duration::from_secs(1), "rate"),
            (1, Duration::ZERO, "duration"),
            (1, Duration::from_secs(86_401), "duration"),
        ] {
            let e = LoadConfig::new(rate, d, mix.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn latencies_clamp_into_the_histogram() {
        let mut h = histogram();
        h.saturating_record(micros(Duration::ZERO));
        h.saturating_record(micros(Duration::from_secs(7200)));
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_US - MAX_US / 500);
    }
}

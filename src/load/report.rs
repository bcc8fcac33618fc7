//! What a load run reports: [`LoadReport`] at the end, [`Progress`] while
//! it runs.

use hdrhistogram::Histogram;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Latency percentiles of a set of requests (from an HDR histogram: each
/// value within 0.1 % of the truth, at 1 µs resolution). In JSON every
/// value is in milliseconds, with the field names `p50_ms`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LatencyStats {
    /// Requests measured.
    pub count: u64,
    /// Smallest.
    #[serde(rename = "min_ms", serialize_with = "ms")]
    pub min: Duration,
    /// Median.
    #[serde(rename = "p50_ms", serialize_with = "ms")]
    pub p50: Duration,
    /// 95th percentile.
    #[serde(rename = "p95_ms", serialize_with = "ms")]
    pub p95: Duration,
    /// 99th percentile.
    #[serde(rename = "p99_ms", serialize_with = "ms")]
    pub p99: Duration,
    /// 99.9th percentile.
    #[serde(rename = "p99_9_ms", serialize_with = "ms")]
    pub p999: Duration,
    /// Largest.
    #[serde(rename = "max_ms", serialize_with = "ms")]
    pub max: Duration,
    /// Arithmetic mean.
    #[serde(rename = "mean_ms", serialize_with = "ms")]
    pub mean: Duration,
}

impl LatencyStats {
    /// The percentiles of a histogram of microseconds (zero when empty).
    pub(crate) fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let us = Duration::from_micros;
        Self {
            count: h.len(),
            min: us(h.min()),
            p50: us(h.value_at_quantile(0.50)),
            p95: us(h.value_at_quantile(0.95)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: Duration::from_secs_f64(h.mean() / 1e6),
        }
    }
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// One mix entry's share of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// The mix entry (`translate`, `cvv`, …).
    pub kind: &'static str,
    /// The operation its requests run.
    pub operation: &'static str,
    /// Requests answered (or failed).
    pub completed: u64,
    /// Of those, errors and wrong answers.
    pub errors: u64,
    /// Their latencies, from the intended send time.
    pub latency: LatencyStats,
}

/// The result of a load run. `Display` prints it as text; it serializes
/// to one JSON object (durations in seconds or milliseconds as the field
/// names say).
///
/// The counts add up: `planned == sent + unsent`, `sent == completed +
/// unfinished`, and `completed == ok + errors_total()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// The backend's name.
    pub backend: String,
    /// The mix, as given (`translate=50,cvv=30,arqc=20`).
    pub mix: String,
    /// The seed of the random requests (the same seed replays them).
    pub seed: u64,
    /// Requests per second asked for.
    pub target_rate: f64,
    /// How long requests were to be sent.
    #[serde(rename = "duration_s", serialize_with = "secs")]
    pub duration: Duration,
    /// Requests the schedule held (`rate × duration`).
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests never sent: the backend fell so far behind that the
    /// generator, waiting at the in-flight limit, was still behind
    /// schedule a drain timeout after the planned end (or the run was
    /// stopped). Their latencies are not in the percentiles; any unsent
    /// request means the backend could not take the rate.
    pub unsent: u64,
    /// Requests answered or failed.
    pub completed: u64,
    /// Requests still in flight when the drain timeout passed.
    pub unfinished: u64,
    /// Requests answered correctly.
    pub ok: u64,
    /// Errors by kind: the error kind (`transient`, `timeout`, …) or
    /// `wrong_answer` (an answer the test keys show to be wrong).
    pub errors: BTreeMap<String, u64>,
    /// From the first intended send to the last answer (at least the
    /// duration).
    #[serde(rename = "elapsed_s", serialize_with = "secs")]
    pub elapsed: Duration,
    /// Requests completed per second over `elapsed`.
    pub achieved_rate: f64,
    /// Latency of every completed request, from its intended send time.
    pub latency: LatencyStats,
    /// How late the generator sent requests after their intended time
    /// (the generator's own health: large values mean this machine could
    /// not keep the rate).
    pub send_lag: LatencyStats,
    /// Per mix entry, in the order of the mix.
    pub kinds: Vec<KindReport>,
}

impl LoadReport {
    /// Errors and wrong answers, all kinds together.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        // Plain numbers, strings and maps always serialize.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backend: {}", self.backend)?;
        writeln!(
            f,
            "target: {} ops/s for {:.1} s, mix {}, seed {}",
            self.target_rate,
            self.duration.as_secs_f64(),
            self.mix,
            self.seed
        )?;
        write!(
            f,
            "requests: {} sent, {} completed, {} unfinished",
            self.sent, self.completed, self.unfinished
        )?;
        if self.unsent > 0 {
            write!(
                f,
                ", {} never sent (the backend fell behind the rate)",
                self.unsent
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "achieved rate: {:.1} ops/s over {:.2} s",
            self.achieved_rate,
            self.elapsed.as_secs_f64()
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "latency ms (from the intended send time): p50 {} p95 {} p99 {} p99.9 {} max {}",
            fmt_ms(l.p50),
            fmt_ms(l.p95),
            fmt_ms(l.p99),
            fmt_ms(l.p999),
            fmt_ms(l.max)
        )?;
        let e: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        if e.is_empty() {
            writeln!(f, "errors: 0")?;
        } else {
            writeln!(f, "errors: {} ({})", self.errors_total(), e.join(" "))?;
        }
        writeln!(
            f,
            "send lag ms (generator): p99 {} max {}",
            fmt_ms(self.send_lag.p99),
            fmt_ms(self.send_lag.max)
        )?;
        writeln!(
            f,
            "{:<10} {:<26} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "kind", "operation", "completed", "errors", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
        )?;
        for k in &self.kinds {
            writeln!(
                f,
                "{:<10} {:<26} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
                k.kind,
                k.operation,
                k.completed,
                k.errors,
                fmt_ms(k.latency.p50),
                fmt_ms(k.latency.p99),
                fmt_ms(k.latency.p999),
                fmt_ms(k.latency.max)
            )?;
        }
        Ok(())
    }
}

/// A load run's progress, reported every progress interval.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Since the start.
    pub elapsed: Duration,
    /// How long requests are sent.
    pub duration: Duration,
    /// Requests the schedule holds.
    pub total: u64,
    /// Requests sent so far.
    pub sent: u64,
    /// Requests answered or failed so far.
    pub completed: u64,
    /// Sent, not yet answered.
    pub in_flight: u64,
    /// Errors and wrong answers so far.
    pub errors: u64,
    /// Requests completed since the last report.
    pub window_completed: u64,
    /// Errors since the last report.
    pub window_errors: u64,
    /// 99th percentile latency of the requests completed since the last
    /// report.
    pub window_p99: Option<Duration>,
    /// The progress interval.
    pub interval: Duration,
}

impl fmt::Display for Progress {
    /// One line: `[ 12.0/60 s] sent 120000 done 119990 in flight 10 | last 1 s: 10000 ops/s p99 1.234 ms, 0 errors | errors 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.interval.as_secs_f64().max(1e-3);
        write!(
            f,
            "[{:>6.1}/{:.0} s] sent {} done {} in flight {} | last {:.0} s: {:.0} ops/s p99 {} ms, {} errors | errors {}",
            self.elapsed.as_secs_f64(),
            self.duration.as_secs_f64(),
            self.sent,
            self.completed,
            self.in_flight,
            secs,
            self.window_completed as f64 / secs,
            self.window_p99.map_or_else(|| "-".to_string(), fmt_ms),
            self.window_errors,
            self.errors
        )
    }
}

//! [`DiscrepancyReport`]: a [`ComparisonSink`] that aggregates comparisons
//! per operation into counts, match rates and latency percentiles.

use super::shadow::{Comparison, ComparisonSink, Outcome};
use crate::ops::Operation;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A latency histogram with bounded memory: exact below 64 ns, then 32
/// buckets per power of two (values within about 3 % of the truth).
#[derive(Debug, Clone, Default)]
pub(crate) struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const LINEAR: u64 = 2 * SUB;

impl Histogram {
    fn index(ns: u64) -> usize {
        if ns < LINEAR {
            return ns as usize;
        }
        let e = 63 - u64::from(ns.leading_zeros()); // >= 6
        let sub = (ns >> (e - u64::from(SUB_BITS))) & (SUB - 1);
        (LINEAR + (e - u64::from(SUB_BITS) - 1) * SUB + sub) as usize
    }

    /// The midpoint of bucket `i`, in nanoseconds.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let e = (i - LINEAR) / SUB + u64::from(SUB_BITS) + 1;
        let sub = (i - LINEAR) % SUB;
        let shift = e - u64::from(SUB_BITS);
        let low = (SUB + sub) << shift;
        low + (1u64 << shift) / 2
    }

    /// Adds every sample of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
    }

    pub(crate) fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = Self::index(ns);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, 0);
        }
        if let Some(b) = self.buckets.get_mut(i) {
            *b += 1;
        }
        self.count += 1;
    }

    /// The value at quantile `q` (0 < q <= 1), in nanoseconds.
    fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }

    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        (self.count > 0).then(|| LatencySummary {
            count: self.count,
            p50_us: self.quantile(0.50) as f64 / 1000.0,
            p95_us: self.quantile(0.95) as f64 / 1000.0,
            p99_us: self.quantile(0.99) as f64 / 1000.0,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    operation: Operation,
    primary: Arc<str>,
    candidate: Arc<str>,
}

#[derive(Debug, Default)]
struct Row {
    matched: u64,
    mismatched: u64,
    candidate_errors: u64,
    candidate_unsupported: u64,
    skipped: u64,
    details: BTreeMap<(&'static str, &'static str), u64>,
    primary: Histogram,
    candidate: Histogram,
}

/// Aggregates [`Comparison`]s per operation (and primary/candidate pair).
///
/// Share it with `Arc` between the [`Shadow`](super::Shadow) that feeds it
/// and the code that prints it. It stores counts and latency histograms
/// only (bounded memory, never request data).
#[derive(Debug, Default)]
pub struct DiscrepancyReport {
    rows: Mutex<BTreeMap<RowKey, Row>>,
}

impl DiscrepancyReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// The report so far.
    pub fn snapshot(&self) -> ReportSnapshot {
        let rows = match self.rows.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let operations = rows
            .iter()
            .map(|(k, r)| {
                let compared =
                    r.matched + r.mismatched + r.candidate_errors + r.candidate_unsupported;
                OperationReport {
                    operation: k.operation.as_str(),
                    primary: k.primary.to_string(),
                    candidate: k.candidate.to_string(),
                    total: compared + r.skipped,
                    matched: r.matched,
                    mismatched: r.mismatched,
                    candidate_errors: r.candidate_errors,
                    candidate_unsupported: r.candidate_unsupported,
                    skipped: r.skipped,
                    match_rate: (compared > 0).then(|| r.matched as f64 / compared as f64),
                    details: r
                        .details
                        .iter()
                        .map(|((class, detail), n)| (format!("{class}:{detail}"), *n))
                        .collect(),
                    primary_latency: r.primary.summary(),
                    candidate_latency: r.candidate.summary(),
                }
            })
            .collect();
        ReportSnapshot { operations }
    }
}

impl ComparisonSink for DiscrepancyReport {
    fn record(&self, c: &Comparison) {
        let key = RowKey {
            operation: c.operation,
            primary: c.primary.clone(),
            candidate: c.candidate.clone(),
        };
        let mut rows = match self.rows.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let row = rows.entry(key).or_default();
        match c.outcome {
            Outcome::Match => row.matched += 1,
            Outcome::Mismatch { .. } => row.mismatched += 1,
            Outcome::CandidateError(_) => row.candidate_errors += 1,
            Outcome::CandidateUnsupported => row.candidate_unsupported += 1,
            Outcome::Skipped(_) => row.skipped += 1,
        }
        let detail = c.outcome.detail();
        if !detail.is_empty() {
            *row.details.entry((c.outcome.class(), detail)).or_default() += 1;
        }
        if let Some(d) = c.primary_latency {
            row.primary.record(d);
        }
        if let Some(d) = c.candidate_latency {
            row.candidate.record(d);
        }
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

/// One operation's row of a [`ReportSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationReport {
    /// The operation (`translate_pin`, …).
    pub operation: &'static str,
    /// The primary backend's name.
    pub primary: String,
    /// The candidate backend's name.
    pub candidate: String,
    /// Requests seen.
    pub total: u64,
    /// Same answer on both.
    pub matched: u64,
    /// Different answers.
    pub mismatched: u64,
    /// The candidate failed.
    pub candidate_errors: u64,
    /// The candidate does not support the operation.
    pub candidate_unsupported: u64,
    /// Not compared (sampling, full queue, state-changing, not comparable…).
    pub skipped: u64,
    /// `matched / (total - skipped)`; `None` when nothing was compared.
    pub match_rate: Option<f64>,
    /// Counts per `class:detail` (`mismatch:verification`,
    /// `candidate_error:timeout`, `skipped:queue_full`, …).
    pub details: BTreeMap<String, u64>,
    /// The primary's latency.
    pub primary_latency: Option<LatencySummary>,
    /// The candidate's latency (requests it ran).
    pub candidate_latency: Option<LatencySummary>,
}

/// A point-in-time copy of a [`DiscrepancyReport`]: `Display` prints a
/// table, [`ReportSnapshot::to_json`] gives JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSnapshot {
    /// One row per operation and backend pair, in operation order.
    pub operations: Vec<OperationReport>,
}

impl ReportSnapshot {
    /// The row for `operation`, when present (the first, with several pairs).
    pub fn operation(&self, operation: Operation) -> Option<&OperationReport> {
        self.operations
            .iter()
            .find(|r| r.operation == operation.as_str())
    }

    /// Sum of one counter over every row.
    pub fn sum(&self, f: impl Fn(&OperationReport) -> u64) -> u64 {
        self.operations.iter().map(f).sum()
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, integers, floats and maps cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

fn lat(l: &Option<LatencySummary>) -> String {
    match l {
        Some(l) => format!("{:.0}/{:.0}/{:.0}", l.p50_us, l.p95_us, l.p99_us),
        None => "-".into(),
    }
}

impl fmt::Display for ReportSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<24} {:<34} {:>7} {:>7} {:>8} {:>8} {:>6} {:>7} {:>7}  {:<17} {:<17}",
            "operation",
            "primary -> candidate",
            "total",
            "match",
            "mismatch",
            "cand_err",
            "unsup",
            "skipped",
            "match%",
            "primary p50/95/99",
            "cand. p50/95/99 µs"
        )?;
        for r in &self.operations {
            let rate = r
                .match_rate
                .map(|m| format!("{:.2}", m * 100.0))
                .unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "{:<24} {:<34} {:>7} {:>7} {:>8} {:>8} {:>6} {:>7} {:>7}  {:<17} {:<17}",
                r.operation,
                format!("{} -> {}", r.primary, r.candidate),
                r.total,
                r.matched,
                r.mismatched,
                r.candidate_errors,
                r.candidate_unsupported,
                r.skipped,
                rate,
                lat(&r.primary_latency),
                lat(&r.candidate_latency),
            )?;
            if !r.details.is_empty() {
                let d: Vec<String> = r.details.iter().map(|(k, n)| format!("{k}={n}")).collect();
                writeln!(f, "{:<24}   {}", "", d.join(" "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotonic_and_close() {
        let mut last = 0;
        for ns in (0..200_000u64).step_by(7).chain([u64::MAX / 2, u64::MAX]) {
            let i = Histogram::index(ns);
            assert!(i >= last, "index not monotonic at {ns}");
            last = i;
            let v = Histogram::value(i) as f64;
            let err = (v - ns as f64).abs() / (ns.max(1) as f64);
            assert!(err <= 0.04, "bucket of {ns} is {v}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary().unwrap();
        assert!((s.p50_us - 50.0).abs() <= 2.0, "{s:?}");
        assert!((s.p99_us - 99.0).abs() <= 4.0, "{s:?}");
        assert_eq!(s.count, 100);
    }
}

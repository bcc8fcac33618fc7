//! [`Timeline`]: a [`ComparisonSink`] that keeps shadow comparisons per
//! time slot — discrepancy rate, skipped operations and each backend's
//! latency percentiles over time — for charts such as the HTML report
//! (feature `html-report`).

use super::report::{Histogram, LatencySummary};
use super::shadow::{Comparison, ComparisonSink, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Counts and latencies of one time slot.
#[derive(Debug, Default, Clone)]
struct Slot {
    matched: u64,
    mismatched: u64,
    candidate_errors: u64,
    candidate_unsupported: u64,
    skipped: BTreeMap<&'static str, u64>,
    latency: BTreeMap<Arc<str>, Histogram>,
}

impl Slot {
    fn merge(&mut self, other: Slot) {
        self.matched += other.matched;
        self.mismatched += other.mismatched;
        self.candidate_errors += other.candidate_errors;
        self.candidate_unsupported += other.candidate_unsupported;
        for (k, n) in other.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
        for (k, h) in other.latency {
            self.latency.entry(k).or_default().merge(&h);
        }
    }
}

#[derive(Debug)]
struct State {
    slot: Duration,
    slots: Vec<Slot>,
}

/// Shadow comparisons per time slot (default 10 s), from when the timeline
/// was created. Memory is bounded: past [`Timeline::MAX_SLOTS`] slots, two
/// neighbouring slots are merged into one of twice the length, so a long
/// run keeps its whole history at a coarser grain. Like the
/// [`DiscrepancyReport`](super::DiscrepancyReport), it stores counts,
/// names and latencies only.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use paycrypto::layers::{DiscrepancyReport, Shadow, Timeline};
/// # use paycrypto::SoftwareBackend;
/// let report = Arc::new(DiscrepancyReport::new());
/// let timeline = Arc::new(Timeline::new(Duration::from_secs(60)));
/// let shadow = Shadow::new(
///     SoftwareBackend::with_name("hsm"),
///     SoftwareBackend::with_name("cloud"),
///     (report.clone(), timeline.clone()),
/// );
/// # let _ = shadow;
/// assert!(timeline.snapshot().points.is_empty());
/// ```
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    state: Mutex<State>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

impl Timeline {
    /// Most slots kept before neighbours are merged.
    pub const MAX_SLOTS: usize = 720;

    /// A timeline with slots of `slot` (at least 1 ms), starting now.
    pub fn new(slot: Duration) -> Self {
        Self {
            start: Instant::now(),
            state: Mutex::new(State {
                slot: slot.max(Duration::from_millis(1)),
                slots: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The timeline so far, one point per slot up to the latest comparison.
    pub fn snapshot(&self) -> TimelineSnapshot {
        let state = self.lock();
        let slot_s = state.slot.as_secs_f64();
        let points = state
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let compared =
                    s.matched + s.mismatched + s.candidate_errors + s.candidate_unsupported;
                TimelinePoint {
                    start_s: i as f64 * slot_s,
                    end_s: (i + 1) as f64 * slot_s,
                    compared,
                    matched: s.matched,
                    mismatched: s.mismatched,
                    candidate_errors: s.candidate_errors,
                    candidate_unsupported: s.candidate_unsupported,
                    discrepancy_rate: (compared > 0)
                        .then(|| (s.mismatched + s.candidate_errors) as f64 / compared as f64),
                    skipped: s
                        .skipped
                        .iter()
                        .map(|(k, n)| ((*k).to_string(), *n))
                        .collect(),
                    latency: s
                        .latency
                        .iter()
                        .filter_map(|(b, h)| h.summary().map(|l| (b.to_string(), l)))
                        .collect(),
                }
            })
            .collect();
        TimelineSnapshot { slot_s, points }
    }
}

impl ComparisonSink for Timeline {
    fn record(&self, c: &Comparison) {
        let at = self.start.elapsed();
        let mut state = self.lock();
        let mut i = (at.as_nanos() / state.slot.as_nanos().max(1)) as usize;
        while i >= Self::MAX_SLOTS {
            // Halve the resolution: slots 2k and 2k+1 become slot k.
            let old = std::mem::take(&mut state.slots);
            let mut merged: Vec<Slot> = Vec::with_capacity(old.len() / 2 + 1);
            for (j, s) in old.into_iter().enumerate() {
                if j % 2 == 0 {
                    merged.push(s);
                } else if let Some(last) = merged.last_mut() {
                    last.merge(s);
                }
            }
            state.slots = merged;
            state.slot *= 2;
            i = (at.as_nanos() / state.slot.as_nanos().max(1)) as usize;
        }
        if state.slots.len() <= i {
            state.slots.resize_with(i + 1, Slot::default);
        }
        let Some(slot) = state.slots.get_mut(i) else {
            return;
        };
        match c.outcome {
            Outcome::Match => slot.matched += 1,
            Outcome::Mismatch { .. } => slot.mismatched += 1,
            Outcome::CandidateError(_) => slot.candidate_errors += 1,
            Outcome::CandidateUnsupported => slot.candidate_unsupported += 1,
            Outcome::Skipped(reason) => *slot.skipped.entry(reason.as_str()).or_default() += 1,
        }
        if let Some(d) = c.primary_latency {
            slot.latency.entry(c.primary.clone()).or_default().record(d);
        }
        if let Some(d) = c.candidate_latency {
            slot.latency
                .entry(c.candidate.clone())
                .or_default()
                .record(d);
        }
    }
}

/// One time slot of a [`TimelineSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Slot start, seconds since the timeline began.
    pub start_s: f64,
    /// Slot end, seconds since the timeline began.
    pub end_s: f64,
    /// Requests compared (every outcome but skipped).
    pub compared: u64,
    /// Same answer on both.
    pub matched: u64,
    /// Different answers.
    pub mismatched: u64,
    /// The candidate failed where the primary answered.
    pub candidate_errors: u64,
    /// The candidate does not support the operation.
    pub candidate_unsupported: u64,
    /// `(mismatched + candidate_errors) / compared`; `None` when nothing
    /// was compared in the slot.
    pub discrepancy_rate: Option<f64>,
    /// Skipped operations by reason (`state_changing`, `queue_full`, …).
    pub skipped: BTreeMap<String, u64>,
    /// Latency percentiles per backend name (primary and candidate).
    pub latency: BTreeMap<String, LatencySummary>,
}

/// A copy of a [`Timeline`]: one point per slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineSnapshot {
    /// Slot length in seconds.
    pub slot_s: f64,
    /// The slots, oldest first (empty slots included, so time is regular).
    pub points: Vec<TimelinePoint>,
}

impl TimelineSnapshot {
    /// Every backend name with latencies, sorted.
    pub fn backends(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .points
            .iter()
            .flat_map(|p| p.latency.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every skip reason seen, sorted.
    pub fn skip_reasons(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .points
            .iter()
            .flat_map(|p| p.skipped.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::SkipReason;
    use crate::ops::Operation;

    fn cmp(outcome: Outcome, p_us: u64, c_us: Option<u64>) -> Comparison {
        Comparison {
            operation: Operation::TranslatePin,
            primary: Arc::from("hsm"),
            candidate: Arc::from("cloud"),
            outcome,
            primary_latency: Some(Duration::from_micros(p_us)),
            candidate_latency: c_us.map(Duration::from_micros),
        }
    }

    #[test]
    fn slots_count_outcomes_and_latencies_per_backend() {
        let t = Timeline::new(Duration::from_secs(3600));
        t.record(&cmp(Outcome::Match, 100, Some(300)));
        t.record(&cmp(Outcome::Match, 100, Some(300)));
        t.record(&cmp(Outcome::Mismatch { field: "pin" }, 100, Some(300)));
        t.record(&cmp(Outcome::Skipped(SkipReason::QueueFull), 100, None));
        let s = t.snapshot();
        assert_eq!(s.points.len(), 1);
        let p = &s.points[0];
        assert_eq!((p.compared, p.matched, p.mismatched), (3, 2, 1));
        assert!((p.discrepancy_rate.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(p.skipped.get("queue_full"), Some(&1));
        assert_eq!(p.latency["hsm"].count, 4);
        assert_eq!(p.latency["cloud"].count, 3);
        assert!((p.latency["cloud"].p50_us - 300.0).abs() < 12.0);
        assert_eq!(s.backends(), ["cloud", "hsm"]);
        assert_eq!(s.skip_reasons(), ["queue_full"]);
    }

    #[test]
    fn a_long_run_merges_slots_and_keeps_every_count() {
        let t = Timeline::new(Duration::from_millis(1));
        for _ in 0..5 {
            t.record(&cmp(Outcome::Match, 10, Some(10)));
        }
        std::thread::sleep(Duration::from_millis(Timeline::MAX_SLOTS as u64 + 20));
        t.record(&cmp(Outcome::Match, 10, Some(10)));
        let s = t.snapshot();
        assert!(s.points.len() <= Timeline::MAX_SLOTS);
        assert!(s.slot_s >= 0.002, "{}", s.slot_s);
        assert_eq!(s.points.iter().map(|p| p.matched).sum::<u64>(), 6);
        assert_eq!(s.points[0].matched, 5);
    }
}

//! What a [`Shadow`](super::Shadow) reports: outcomes, comparisons, the sink
//! trait and counters. Shared by the shadow layer, the comparison rules and
//! the reports.

use crate::error::ErrorKind;
use crate::types::Operation;
use std::sync::Arc;
use std::time::Duration;

/// Why a request was not compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// Left out by the sampling rate.
    NotSampled,
    /// The shadow queue was full: the request was dropped, never queued.
    QueueFull,
    /// The operation changes state (generate, import, delete key): it is
    /// never sent to the candidate.
    StateChanging,
    /// The outputs cannot be compared byte for byte (random fill) and no
    /// way to compare them by meaning is configured.
    NotComparable,
    /// The primary failed transiently, timed out or was cancelled: there is
    /// no reference answer.
    PrimaryFailed,
    /// The primary does not support this request: there is no reference
    /// answer to compare with, whatever the candidate answered (common while
    /// an HSM lacks a feature the cloud has).
    PrimaryUnsupported,
    /// Comparing by meaning failed on the checking backend.
    ComparisonFailed,
    /// `execute` was not polled inside a Tokio runtime, so nothing could run
    /// in the background.
    NoRuntime,
}

impl SkipReason {
    /// A short stable name for reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotSampled => "not_sampled",
            Self::QueueFull => "queue_full",
            Self::StateChanging => "state_changing",
            Self::NotComparable => "not_comparable",
            Self::PrimaryFailed => "primary_failed",
            Self::PrimaryUnsupported => "primary_unsupported",
            Self::ComparisonFailed => "comparison_failed",
            Self::NoRuntime => "no_runtime",
        }
    }
}

/// How one request compared between primary and candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Same answer (same bytes; or, for random-fill PIN blocks, the same
    /// PIN under the same key; or the same error kind).
    Match,
    /// Different answers; `field` names the first field that differs
    /// (`verification`, `pin_block`, `key_check_value`, `error_kind`, …).
    Mismatch {
        /// The first differing response field.
        field: &'static str,
    },
    /// The candidate failed where the primary answered (or failed transiently).
    CandidateError(ErrorKind),
    /// The candidate does not support the operation.
    CandidateUnsupported,
    /// Not compared.
    Skipped(SkipReason),
}

impl Outcome {
    /// The outcome class: `match`, `mismatch`, `candidate_error`,
    /// `candidate_unsupported` or `skipped`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::Mismatch { .. } => "mismatch",
            Self::CandidateError(_) => "candidate_error",
            Self::CandidateUnsupported => "candidate_unsupported",
            Self::Skipped(_) => "skipped",
        }
    }

    /// The detail within the class (mismatching field, error kind or skip
    /// reason), empty for `match` and `candidate_unsupported`.
    pub fn detail(&self) -> &'static str {
        match self {
            Self::Mismatch { field } => field,
            Self::CandidateError(k) => k.as_str(),
            Self::Skipped(r) => r.as_str(),
            Self::Match | Self::CandidateUnsupported => "",
        }
    }
}

/// One comparison as reported to a [`ComparisonSink`].
///
/// It holds names, an outcome and latencies only: never request or response
/// data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The operation.
    pub operation: Operation,
    /// The primary's name.
    pub primary: Arc<str>,
    /// The candidate's name.
    pub candidate: Arc<str>,
    /// How it compared.
    pub outcome: Outcome,
    /// The primary's latency (`None` when the caller cancelled the call).
    pub primary_latency: Option<Duration>,
    /// The candidate's latency (`None` when the candidate was not called).
    pub candidate_latency: Option<Duration>,
}

/// Where comparisons go.
///
/// `record` is called from background tasks for compared requests and from
/// the caller's task for requests skipped before reaching the candidate
/// (sampling, full queue, state-changing operations), so it must be quick
/// and must not block on I/O.
pub trait ComparisonSink: Send + Sync {
    /// Records one comparison.
    fn record(&self, comparison: &Comparison);
}

impl<S: ComparisonSink + ?Sized> ComparisonSink for Arc<S> {
    fn record(&self, comparison: &Comparison) {
        (**self).record(comparison)
    }
}

impl<A: ComparisonSink, B: ComparisonSink> ComparisonSink for (A, B) {
    fn record(&self, comparison: &Comparison) {
        self.0.record(comparison);
        self.1.record(comparison);
    }
}

/// Counters of what a [`Shadow`](super::Shadow) did with requests (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShadowStats {
    /// Requests seen (a request to be shadowed counts once the primary
    /// has answered it, or the caller has given up on it).
    pub requests: u64,
    /// Requests queued for the candidate.
    pub queued: u64,
    /// Requests dropped because the queue was full.
    pub dropped: u64,
    /// Requests left out by sampling.
    pub not_sampled: u64,
    /// State-changing requests (never shadowed).
    pub state_changing: u64,
    /// Comparisons finished and reported.
    pub completed: u64,
}

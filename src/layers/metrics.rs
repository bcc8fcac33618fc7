//! [`Metrics`]: a `tracing` span and `metrics` counters/histograms per
//! operation; [`MetricsSink`]: shadow comparisons as metrics.

use super::shadow::{Comparison, ComparisonSink};
use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::ops::{Request, Response};
use crate::types::Verification;
use async_trait::async_trait;
use std::time::Instant;
use tracing::Instrument;

/// The outcome label of a result: `ok`, `verified`, `not_verified` (a failed
/// verification is an answer, not an error) or the error kind
/// (`transient`, `timeout`, `invalid_input`, …).
pub fn outcome_label(result: &Result<Response>) -> &'static str {
    let verification = match result {
        Err(e) => return e.kind().as_str(),
        Ok(Response::VerifyCardValidation(r))
        | Ok(Response::VerifyMac(r))
        | Ok(Response::VerifyPinData(r)) => r.verification,
        Ok(Response::VerifyArqc(r)) => r.verification,
        Ok(_) => return "ok",
    };
    match verification {
        Verification::Verified => "verified",
        Verification::Failed => "not_verified",
    }
}

/// Observes every request: a `tracing` span `paycrypto.request` with fields
/// `operation`, `backend`, `outcome` and `latency_us`, and through the
/// `metrics` facade:
///
/// - counter `paycrypto_requests_total{operation, backend, outcome}`
/// - counter `paycrypto_request_errors_total{operation, backend, kind}`
///   (errors only; `kind` is the [`ErrorKind`](crate::ErrorKind) name)
/// - histogram `paycrypto_request_duration_seconds{operation, backend}`
///
/// Nothing from the request or the response enters a span or a label.
/// Install any `tracing` subscriber and `metrics` recorder (Prometheus,
/// StatsD, …) to collect them; without one they cost almost nothing.
pub struct Metrics<B> {
    inner: B,
    backend: String,
}

impl<B: Backend> std::fmt::Debug for Metrics<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("backend", &self.backend)
            .finish()
    }
}

impl<B: Backend> Metrics<B> {
    /// Observes `inner`, labelled with its name.
    pub fn new(inner: B) -> Self {
        let backend = inner.name().to_string();
        Self { inner, backend }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for Metrics<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let operation = request.operation().as_str();
        let span = tracing::info_span!(
            "paycrypto.request",
            operation,
            backend = self.backend.as_str(),
            outcome = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        let start = Instant::now();
        let result = self.inner.execute(request).instrument(span.clone()).await;
        let elapsed = start.elapsed();
        let outcome = outcome_label(&result);
        span.record("outcome", outcome);
        span.record(
            "latency_us",
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        );
        ::metrics::counter!(
            "paycrypto_requests_total",
            "operation" => operation,
            "backend" => self.backend.clone(),
            "outcome" => outcome,
        )
        .increment(1);
        if let Err(e) = &result {
            ::metrics::counter!(
                "paycrypto_request_errors_total",
                "operation" => operation,
                "backend" => self.backend.clone(),
                "kind" => e.kind().as_str(),
            )
            .increment(1);
        }
        ::metrics::histogram!(
            "paycrypto_request_duration_seconds",
            "operation" => operation,
            "backend" => self.backend.clone(),
        )
        .record(elapsed.as_secs_f64());
        result
    }
}

/// A [`ComparisonSink`] that turns shadow comparisons into metrics:
///
/// - counter `paycrypto_shadow_comparisons_total{operation, primary, candidate, outcome, detail}`
///   (`outcome` is the class: `match`, `mismatch`, `candidate_error`,
///   `candidate_unsupported`, `skipped`; `detail` the field, error kind or
///   skip reason, e.g. `queue_full` for dropped requests)
/// - histogram `paycrypto_shadow_candidate_duration_seconds{operation, candidate}`
/// - histogram `paycrypto_shadow_primary_duration_seconds{operation, primary}`
///
/// Combine it with a report: `(report.clone(), MetricsSink)` is a sink too.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsSink;

impl ComparisonSink for MetricsSink {
    fn record(&self, c: &Comparison) {
        ::metrics::counter!(
            "paycrypto_shadow_comparisons_total",
            "operation" => c.operation.as_str(),
            "primary" => c.primary.to_string(),
            "candidate" => c.candidate.to_string(),
            "outcome" => c.outcome.class(),
            "detail" => c.outcome.detail(),
        )
        .increment(1);
        if let Some(d) = c.candidate_latency {
            ::metrics::histogram!(
                "paycrypto_shadow_candidate_duration_seconds",
                "operation" => c.operation.as_str(),
                "candidate" => c.candidate.to_string(),
            )
            .record(d.as_secs_f64());
        }
        if let Some(d) = c.primary_latency {
            ::metrics::histogram!(
                "paycrypto_shadow_primary_duration_seconds",
                "operation" => c.operation.as_str(),
                "primary" => c.primary.to_string(),
            )
            .record(d.as_secs_f64());
        }
    }
}

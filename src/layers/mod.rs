//! Layers: backends that wrap backends (feature `layers`).
//!
//! Every layer is itself a [`Backend`](crate::Backend), so layers compose in
//! any order and a gateway keeps calling the typed
//! [`BackendExt`](crate::BackendExt) methods:
//!
//! | layer | what it does |
//! |---|---|
//! | [`Shadow`] | answers with the primary; sends the same request to a candidate in the background and reports how the two compared to a [`ComparisonSink`] |
//! | [`DiscrepancyReport`] | a sink aggregating comparisons per operation: counts per outcome, match rate, latency percentiles; a table or JSON |
//! | [`Timeline`] | a sink keeping comparisons per time slot: discrepancy rate, skipped operations, latency per backend over time (an HTML page with charts: `html`, feature `html-report`) |
//! | [`Failover`] | moves to the next backend on transient errors and timeouts, behind a circuit breaker per backend |
//! | [`Retry`] | retries idempotent operations on transient errors, with backoff and a retry budget |
//! | [`Timeout`] | a deadline per operation |
//! | [`Metrics`] | a `tracing` span and `metrics` counters/histograms per operation (Prometheus exposition: `prometheus`, feature `prometheus`) |
//! | [`Faulty`] | a switch that makes a real backend fail, hang or slow down (drills, fault tests) |
//!
//! The migration in a few lines (HSM primary, cloud candidate):
//!
//! ```
//! # use std::{sync::Arc, time::Duration};
//! # use paycrypto::{Backend, SoftwareBackend};
//! use paycrypto::layers::{DiscrepancyReport, Failover, Metrics, Shadow, Timeout};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let hsm: Arc<dyn Backend> = Arc::new(SoftwareBackend::with_name("hsm"));
//! let cloud: Arc<dyn Backend> = Arc::new(SoftwareBackend::with_name("cloud"));
//! let report = Arc::new(DiscrepancyReport::new());
//! let shadow = Shadow::new(Timeout::new(hsm, Duration::from_millis(250)), cloud.clone(), report.clone());
//! let gateway = Metrics::new(Failover::new(vec![Arc::new(shadow) as Arc<dyn Backend>, cloud]));
//! # let _ = gateway;
//! println!("{}", report.snapshot());
//! # }
//! ```
//!
//! Nothing secret leaves a layer: reports, spans, metrics and errors carry
//! operation names, backend names, outcome classes, error kinds and
//! latencies, never request data (keys, PINs, PIN blocks, PANs).

pub(crate) mod compare;
mod failover;
mod fault;
#[cfg(feature = "html-report")]
pub mod html;
mod metrics;
mod outcome;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod report;
mod retry;
mod shadow;
mod timeline;
mod timeout;

pub use failover::{BackendHealth, BreakerConfig, BreakerState, Failover};
pub use fault::{Fault, FaultSwitch, Faulty};
pub use metrics::{outcome_label, Metrics, MetricsSink};
pub use report::{DiscrepancyReport, LatencySummary, OperationReport, ReportSnapshot};
pub use retry::{Retry, RetryPolicy, RetryStats};
pub use shadow::{
    Comparison, ComparisonSink, Outcome, Shadow, ShadowBuilder, ShadowStats, SkipReason,
};
pub use timeline::{Timeline, TimelinePoint, TimelineSnapshot};
pub use timeout::Timeout;

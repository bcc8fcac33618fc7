//! Prometheus exposition of the crate's metrics (feature `prometheus`).
//!
//! The layers ([`Metrics`](super::Metrics), [`MetricsSink`](super::MetricsSink),
//! [`Failover`](super::Failover)) and the simulators record through the
//! `metrics` facade. [`serve`] installs a Prometheus recorder
//! (`metrics-exporter-prometheus`) as the process's recorder, once, and
//! answers `GET /metrics` on an address of your choice with the text
//! exposition format — what `paycrypto serve … --metrics HOST:PORT` and
//! `paycrypto load … --metrics HOST:PORT` run.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> paycrypto::Result<()> {
//! use paycrypto::layers::{prometheus, Metrics};
//! let exporter = prometheus::serve("127.0.0.1:9464").await?;
//! println!("scrape {}", exporter.url());
//! let gateway = Metrics::new(paycrypto::SoftwareBackend::with_name("hsm"));
//! # let _ = gateway;
//! # Ok(()) }
//! ```
//!
//! # Metrics
//!
//! | name | type | labels |
//! |---|---|---|
//! | `paycrypto_requests_total` | counter | `operation`, `backend`, `outcome` (`ok`, `verified`, `not_verified` or the error kind) |
//! | `paycrypto_request_errors_total` | counter | `operation`, `backend`, `kind` (the error kind) |
//! | `paycrypto_request_duration_seconds` | histogram | `operation`, `backend` |
//! | `paycrypto_shadow_comparisons_total` | counter | `operation`, `primary`, `candidate`, `outcome` (`match`, `mismatch`, `candidate_error`, `candidate_unsupported`, `skipped`), `detail` |
//! | `paycrypto_shadow_candidate_duration_seconds` | histogram | `operation`, `candidate` |
//! | `paycrypto_shadow_primary_duration_seconds` | histogram | `operation`, `primary` |
//! | `paycrypto_breaker_state` | gauge | `backend` (0 closed, 1 half-open, 2 open) |
//! | `paycrypto_breaker_opened_total` | counter | `backend` |
//! | `paycrypto_server_requests_total` | counter | `server` (`payshield`, `aws`), `command` (payShield command code or AWS operation), `outcome` (payShield error code or AWS error type, `ok`) |
//! | `paycrypto_server_request_duration_seconds` | histogram | `server`, `command` |
//! | `paycrypto_proxy_requests_total` | counter | `outcome` (`primary`, `candidate`, `passed_through`, `failed`) |
//! | `paycrypto_proxy_connections` | gauge | none |
//! | `paycrypto_payshield_host_healthy` | gauge | `host` (1 healthy, 0 ejected or unreachable) |
//! | `paycrypto_payshield_host_in_flight` | gauge | `host` |
//! | `paycrypto_payshield_host_ejections_total` | counter | `host` |
//! | `paycrypto_payshield_host_readmissions_total` | counter | `host` |
//!
//! The proxy and host rows are `paycrypto proxy payshield --metrics`'s
//! (see `proxy::MetricsSampler`); `host` is a payShield's configured
//! address (`HOST:PORT`).
//!
//! Histograms are exported with fixed buckets (100 µs to 10 s), so
//! `histogram_quantile` works across instances. Labels hold names of
//! operations, backends, outcome classes, error kinds and command codes
//! only (and host addresses): never a key, PIN, PIN block, PAN or any
//! request data.

use crate::error::{Error, ErrorKind, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Histogram buckets of every `…_duration_seconds` metric, in seconds.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();

/// The Prometheus recorder of this process: installed as the global
/// `metrics` recorder on the first call, the same handle afterwards.
///
/// Errors ([`ErrorKind::Unsupported`]) when another `metrics` recorder was
/// installed first: a process has one recorder.
pub fn handle() -> Result<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), BUCKETS)
                .map_err(|e| e.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|_| {
                "another metrics recorder is already installed in this process".to_string()
            })?;
            Ok(handle)
        })
        .clone()
        .map_err(|why| Error::new(ErrorKind::Unsupported, why))
}

/// The current metrics in the Prometheus text format.
pub fn render() -> Result<String> {
    let h = handle()?;
    h.run_upkeep();
    Ok(h.render())
}

/// A running `/metrics` endpoint; dropping it (or [`Exporter::shutdown`])
/// stops it. The recorder stays installed.
#[derive(Debug)]
pub struct Exporter {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Exporter {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops answering scrapes.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the recorder ([`handle`]) and serves `GET /metrics` on
/// `listen` (`HOST:PORT`; port 0 picks a free port, see
/// [`Exporter::addr`]) in a task of the current tokio runtime.
///
/// Errors: `InvalidInput` (field `metrics address`) when `listen` cannot
/// be bound; `Unsupported` when another recorder is installed.
pub async fn serve(listen: &str) -> Result<Exporter> {
    let handle = handle()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::invalid("metrics address", "cannot bind").with_source(e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::invalid("metrics address", "no local address").with_source(e))?;
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((sock, _)) = accepted else {
                        // Out of descriptors or an aborted connection: pause.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let handle = handle.clone();
                    tokio::spawn(serve_conn(sock, handle));
                }
                changed = stopped.changed() => {
                    if changed.is_err() || *stopped.borrow() {
                        return;
                    }
                }
            }
        }
    });
    Ok(Exporter { addr, stop })
}

/// One scrape connection: `GET /metrics` (or `/`) gets the exposition,
/// anything else 404 or 405; bounded in time.
async fn serve_conn(sock: tokio::net::TcpStream, handle: PrometheusHandle) {
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let handle = handle.clone();
        async move {
            let (status, body) = match (req.method(), req.uri().path()) {
                (&Method::GET, "/metrics" | "/") => {
                    handle.run_upkeep();
                    (StatusCode::OK, handle.render())
                }
                (&Method::GET, _) => (StatusCode::NOT_FOUND, "not found: try /metrics\n".into()),
                _ => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "only GET /metrics\n".to_string(),
                ),
            };
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let conn = builder.serve_connection(TokioIo::new(sock), svc);
    // A scraper that never finishes is let go after a minute.
    let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
}

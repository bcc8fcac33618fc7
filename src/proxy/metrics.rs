//! The proxy's gauges and the payShield host-health metrics, sampled.
//!
//! The layers record their own metrics (requests, latencies, shadow
//! comparisons, breaker state) and the proxy counts each request it
//! answers (`paycrypto_proxy_requests_total{outcome}`) as it goes. What is
//! a state rather than an event is sampled by a [`MetricsSampler`]: the
//! gateway connections, and the health of each payShield host the primary
//! reaches (one host, or each host of a cluster), read from
//! [`PayShieldBackend::hosts`](crate::payshield::PayShieldBackend::hosts):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `paycrypto_proxy_requests_total` | counter | `outcome` (`primary`, `candidate`, `passed_through`, `failed`) |
//! | `paycrypto_proxy_connections` | gauge | none |
//! | `paycrypto_payshield_host_healthy` | gauge | `host` (1 healthy, 0 ejected or unreachable) |
//! | `paycrypto_payshield_host_in_flight` | gauge | `host` |
//! | `paycrypto_payshield_host_ejections_total` | counter | `host` |
//! | `paycrypto_payshield_host_readmissions_total` | counter | `host` |
//!
//! `host` is the host's address as configured (`HOST:PORT`), nothing from
//! a request. An ejection is a sample that finds a host unhealthy after one
//! that found it healthy, a readmission the reverse; a host that is out for
//! less than the sampling interval is not seen (a cluster keeps an ejected
//! host out until a health check answers, so at least one check interval).

use super::PayShieldProxy;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Samples the proxy's gauges and its primary's host health every
/// interval, into the process's `metrics` recorder; stops when dropped
/// (or when the proxy is gone).
#[derive(Debug)]
pub struct MetricsSampler {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MetricsSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MetricsSampler {
    /// Starts sampling `proxy` every `every` (in the current runtime).
    pub fn start(proxy: &Arc<PayShieldProxy>, every: Duration) -> Self {
        let proxy = Arc::downgrade(proxy);
        Self {
            task: tokio::spawn(sample_loop(proxy, every)),
        }
    }
}

async fn sample_loop(proxy: Weak<PayShieldProxy>, every: Duration) {
    let mut healthy: HashMap<String, bool> = HashMap::new();
    loop {
        {
            let Some(p) = proxy.upgrade() else { return };
            sample(&p, &mut healthy);
        }
        tokio::time::sleep(every).await;
    }
}

/// One sample; `healthy` holds each host's state at the last one.
fn sample(proxy: &PayShieldProxy, healthy: &mut HashMap<String, bool>) {
    ::metrics::gauge!("paycrypto_proxy_connections").set(proxy.connections() as f64);
    for h in proxy.primary().hosts() {
        let host = h.addr.clone();
        ::metrics::gauge!("paycrypto_payshield_host_healthy", "host" => host.clone())
            .set(if h.healthy { 1.0 } else { 0.0 });
        ::metrics::gauge!("paycrypto_payshield_host_in_flight", "host" => host.clone())
            .set(h.in_flight as f64);
        let ejections =
            ::metrics::counter!("paycrypto_payshield_host_ejections_total", "host" => host.clone());
        let readmissions = ::metrics::counter!(
            "paycrypto_payshield_host_readmissions_total",
            "host" => host.clone()
        );
        match healthy.insert(host, h.healthy) {
            Some(true) if !h.healthy => ejections.increment(1),
            Some(false) if h.healthy => readmissions.increment(1),
            // The first sample shows both counters (at 0).
            None => {
                ejections.increment(0);
                readmissions.increment(0);
            }
            _ => {}
        }
    }
}

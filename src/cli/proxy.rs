//! `paycrypto proxy payshield`: the shadowing payShield proxy
//! ([`crate::proxy`]) on the command line.

use super::output::CliError;
use super::serve::{start_metrics, Shutdown, TlsServeArgs};
use crate::backend::Backend;
use crate::connect::BackendUrl;
use crate::layers::{DiscrepancyReport, Failover, Metrics, MetricsSink, Shadow};
use crate::proxy::{self, KeyMap, MetricsSampler, PayShieldProxy, ProxyConfig, ProxyPrimary};
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// The proxies.
#[derive(Subcommand)]
pub enum ProxyCommand {
    /// A payShield host-protocol proxy: CA/CC, CW/CY, M6/M8, KQ, KW, DA/EA,
    /// DC/EC and M0/M2 whose keys --keys names run through the shadow (and --failover) layers, the
    /// primary's answer returned byte for byte; every other command passes
    /// through to the primary. Prints one line `listening on
    /// tcp://HOST:PORT`, then serves until interrupted (SIGINT / SIGTERM).
    #[command(after_help = "Example:\n  \
        paycrypto proxy payshield --listen 127.0.0.1:1501 --primary payshield://10.0.0.5:1500 \\\n    \
        --candidate aws://eu-west-1 --keys keys.table --failover")]
    Payshield(ProxyArgs),
}

/// `proxy payshield` arguments.
#[derive(Args)]
pub struct ProxyArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    listen: String,
    /// The payShield the gateway talks to now: payshield://HOST:PORT.
    #[arg(long, value_name = "URL")]
    primary: String,
    /// The shadow candidate: aws, aws://REGION (optionally ?endpoint=URL) or payshield://HOST:PORT.
    #[arg(long, value_name = "URL")]
    candidate: Option<String>,
    /// Key file: a key table (one key a line: NAME KEY-TYPE KEY-UNDER-LMK
    /// USAGE MODE EXPORTABILITY KCV) or JSON (`.json`, or starting with
    /// `{`: {"keys": [{"name", "key", "kcv", "key_type"}]}); NAME is the
    /// key's name on the candidate. A key is found by its cryptogram, else
    /// by the KCV the primary computes for it.
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// Let the candidate answer when the primary's breaker opens.
    #[arg(long, requires = "candidate")]
    failover: bool,
    /// TLS for the gateways' connections (`--tls-cert`, `--tls-key`,
    /// `--tls-client-ca`, as `serve payshield`).
    #[command(flatten)]
    tls: TlsServeArgs,
    /// Serve Prometheus metrics on HOST:PORT at /metrics (the layers'
    /// requests, latencies, shadow comparisons and breaker state; the
    /// proxy's requests and connections; each payShield host's health);
    /// one line on stderr names the address (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<String>,
}

/// How often `--metrics` samples connections and host health.
const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs the proxy until SIGINT / SIGTERM.
pub(super) async fn run(c: &ProxyCommand) -> Result<(), CliError> {
    let ProxyCommand::Payshield(a) = c;
    let keys = KeyMap::load_file(&a.keys).map_err(|e| CliError::arg("--keys", e.to_string()))?;
    let BackendUrl::PayShield(p) = a
        .primary
        .parse::<BackendUrl>()
        .map_err(|e| CliError::arg("--primary", e.to_string()))?
    else {
        return Err(CliError::arg("--primary", "expected payshield://HOST:PORT"));
    };
    let header_len = p.header_len().unwrap_or(4);
    let exporter = start_metrics(a.metrics.as_deref()).await?;
    let primary = p.connect(keys.table().clone()).await?;
    let layers: Arc<dyn Backend> = match &a.candidate {
        None => Arc::new(ProxyPrimary::new(primary.clone())),
        Some(url) => {
            let candidate = url
                .parse::<BackendUrl>()
                .map_err(|e| CliError::arg("--candidate", e.to_string()))?
                .connect()
                .await?;
            let shadow: Arc<dyn Backend> = Arc::new(Shadow::new(
                ProxyPrimary::new(primary.clone()),
                Arc::clone(&candidate),
                (DiscrepancyReport::new(), MetricsSink),
            ));
            if a.failover {
                Arc::new(Failover::new(vec![shadow, candidate]))
            } else {
                shadow
            }
        }
    };
    // Requests and latencies of everything the layers answer.
    let layers: Arc<dyn Backend> = match &exporter {
        Some(_) => Arc::new(Metrics::new(layers)),
        None => layers,
    };
    let config = ProxyConfig {
        header_len,
        tls: a.tls.server_config()?,
        ..ProxyConfig::default()
    };
    let stop = Shutdown::install()
        .map_err(|e| CliError::op(format!("cannot install signal handlers: {e}")))?;
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .map_err(|e| CliError::arg("--listen", format!("{}: {e}", a.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::arg("--listen", e.to_string()))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on tcp://{addr}");
        let _ = out.flush();
    }
    let proxy = Arc::new(PayShieldProxy::new(primary, layers, keys, config));
    let _sampler = exporter
        .as_ref()
        .map(|_| MetricsSampler::start(&proxy, SAMPLE_EVERY));
    tokio::select! {
        () = proxy::serve(listener, proxy) => Ok(()),
        () = stop.wait() => Ok(()),
    }
}

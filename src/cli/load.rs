//! `paycrypto load`: an open-loop fixed-rate load run against any backend
//! ([`crate::load`]), with a progress line on stderr and the report on
//! stdout (one JSON object with `--json`).
//!
//! # Keys
//!
//! Without `--keys FILE` the run loads the fixed test key set
//! ([`crate::testing`]) under a prefix of its own (`paycrypto-load/…`):
//! into the in-process software backend; into a payShield only when it
//! reports the public test LMK (KEKs into the key table, working keys as
//! TR-31 blocks, as `paycrypto conformance` does); into AWS only in a test
//! account (an endpoint on this machine, or `--allow-test-key-import`),
//! and those keys are deleted after the run. With `--keys FILE` the
//! entries named after the roles (`zpk`, `zpk2`, `bdk`, `cvk`, `imk-ac`,
//! `mac-m3`) are used; each needs its `clear` value, as the run builds
//! PIN blocks, CVVs and cryptograms with it (test keys only).

use super::aws::{open_aws, test_keys_allowed};
use super::backend::{backend_url, open_backend, open_payshield};
use super::keys::KeyConfig;
use super::output::{CliError, Output, EXIT_FAILED};
use super::BackendArgs;
use crate::backend::Backend;
use crate::conformance::KeySet;
use crate::connect::BackendUrl;
use crate::layers::{prometheus, Metrics};
use crate::load::{run_with_progress, LoadConfig, Mix, Progress};
use crate::types::KeyId;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

/// `load`.
#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Requests per second, sent on schedule whether or not earlier ones
    /// were answered.
    #[arg(long, value_name = "OPS")]
    rate: u32,
    /// How long to send: a number with a unit, `500ms`, `60s`, `2m`, `1h`
    /// (a bare number is seconds).
    #[arg(long, value_name = "TIME", default_value = "10s")]
    duration: String,
    /// Request kinds and weights: translate (zone PIN translation), dukpt
    /// (PIN from a DUKPT terminal), cvv (CVV2 verify), arqc (EMV ARQC
    /// verify with ARPC), mac (retail MAC).
    #[arg(
        long,
        value_name = "KIND=WEIGHT,…",
        default_value = "translate=50,cvv=30,arqc=20"
    )]
    mix: String,
    /// Seed of the random cards, PINs and draws (printed in the report;
    /// the same seed sends the same requests).
    #[arg(long)]
    seed: Option<u64>,
    /// Most requests in flight at once; at the limit the generator waits
    /// (and the wait counts in the latencies).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_in_flight: usize,
    /// Serve Prometheus metrics of the run (per operation and outcome) on
    /// HOST:PORT at /metrics while it runs; one line on stderr names the
    /// address (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<String>,
}

/// Parses `500ms`, `60s`, `2m`, `1h` or a bare number of seconds.
pub(crate) fn parse_duration(arg: &str, s: &str) -> Result<Duration, CliError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| CliError::arg(arg, "expected a number with a unit: 500ms, 60s, 2m or 1h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(CliError::arg(arg, "unknown unit (expected ms, s, m or h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(CliError::arg(
            arg,
            "expected more than zero and at most 24 hours",
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The backend with its keys, and what to delete afterwards.
struct Prepared {
    backend: Arc<dyn Backend>,
    keys: KeySet,
    cleanup: Vec<KeyId>,
}

/// A prefix of this run's own (keys on a shared AWS account or emulator
/// stay apart from other runs').
fn run_prefix() -> String {
    format!("paycrypto-load-{:08x}/", rand::random::<u32>())
}

async fn prepare(a: &LoadArgs) -> Result<Prepared, CliError> {
    let url = backend_url(&a.backend)?;
    if let Some(path) = &a.backend.keys {
        let config = KeyConfig::load(path)?;
        let backend = open_backend(&url, &config, &a.backend).await?;
        return Ok(Prepared {
            backend,
            keys: config.key_set(),
            cleanup: Vec::new(),
        });
    }
    let load_err = |e: crate::Error| CliError::op(format!("cannot load the test keys: {e}"));
    match &url {
        BackendUrl::Software => {
            let b = crate::SoftwareBackend::with_name("software");
            let p = crate::testing::load_prefixed(&b, "paycrypto-load/")
                .await
                .map_err(load_err)?;
            Ok(Prepared {
                backend: Arc::new(b),
                keys: p.keys,
                cleanup: Vec::new(),
            })
        }
        BackendUrl::PayShield(p) => {
            let ps =
                open_payshield(p, &KeyConfig::default(), a.backend.key_table.as_deref()).await?;
            if !ps.runs_test_lmk().await? {
                return Err(CliError::arg(
                    "--keys",
                    "this payShield runs another LMK than the public test LMK, so the run \
                     loads no test keys into it; name keys under its LMK with --keys FILE \
                     (with their clear test values)",
                ));
            }
            let prov = crate::testing::load_payshield_prefixed(&ps, "paycrypto-load/")
                .await
                .map_err(load_err)?;
            Ok(Prepared {
                backend: Arc::new(ps),
                keys: prov.keys,
                cleanup: Vec::new(),
            })
        }
        BackendUrl::Aws(u) => {
            let opts = a.backend.aws_options();
            if !test_keys_allowed(u, &opts) {
                return Err(CliError::arg(
                    "--keys",
                    "not a test account: the run creates no keys on AWS; name keys with \
                     --keys FILE, or give --allow-test-key-import for a test account",
                ));
            }
            let aws = open_aws(u, &KeyConfig::default(), &opts).await?;
            let prov = crate::testing::load_prefixed(&aws, &run_prefix())
                .await
                .map_err(load_err)?;
            Ok(Prepared {
                backend: Arc::new(aws),
                keys: prov.keys,
                cleanup: prov.created,
            })
        }
    }
}

/// Prints progress on stderr: rewriting one line on a terminal, one line
/// per report otherwise.
fn progress_printer() -> impl FnMut(&Progress) + Send {
    let tty = std::io::stderr().is_terminal();
    move |p: &Progress| {
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r{p}\x1b[K")
        } else {
            writeln!(err, "{p}")
        };
        let _ = err.flush();
    }
}

pub(super) async fn run(a: &LoadArgs, json_out: bool) -> Result<Output, CliError> {
    let duration = parse_duration("--duration", &a.duration)?;
    let mix: Mix = a
        .mix
        .parse()
        .map_err(|e: crate::Error| CliError::arg("--mix", e.context()))?;
    let mut config = LoadConfig::new(a.rate, duration, mix).map_err(|e| {
        let arg = if e.context().contains("duration") {
            "--duration"
        } else {
            "--rate"
        };
        CliError::arg(arg, e.context())
    })?;
    if let Some(seed) = a.seed {
        config = config.with_seed(seed);
    }
    if a.max_in_flight == 0 {
        return Err(CliError::arg("--max-in-flight", "must be at least 1"));
    }
    config = config.with_max_in_flight(a.max_in_flight);
    let exporter = match &a.metrics {
        Some(listen) => {
            let e = prometheus::serve(listen)
                .await
                .map_err(|e| CliError::arg("--metrics", format!("{listen}: {e}")))?;
            eprintln!("metrics on {}", e.url());
            Some(e)
        }
        None => None,
    };
    let prepared = prepare(a).await?;
    let backend: Arc<dyn Backend> = if exporter.is_some() {
        Arc::new(Metrics::new(prepared.backend.clone()))
    } else {
        prepared.backend.clone()
    };
    let result = run_with_progress(backend, &prepared.keys, &config, progress_printer()).await;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    for id in prepared.cleanup.iter().rev() {
        let _ = prepared
            .backend
            .execute(crate::ops::Request::DeleteKey(
                crate::ops::DeleteKeyRequest { key: id.clone() },
            ))
            .await;
    }
    let report = result.map_err(|e| match e.kind() {
        crate::ErrorKind::InvalidInput => CliError::arg("--keys", e.context()),
        _ => CliError::op(e),
    })?;
    let mut out = Output::new();
    out.text = Some(if json_out {
        report.to_json()
    } else {
        report.to_string()
    });
    if report.errors_total() > 0 || report.unfinished > 0 || report.unsent > 0 {
        out.code = EXIT_FAILED;
    }
    drop(exporter);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration("--duration", s);
        assert_eq!(d("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(d("60").unwrap(), Duration::from_secs(60));
        assert_eq!(d("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(d("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(d("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(d("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "0s", "-1s", "10 parsecs", "25h", "1e3s"] {
            let e = d(bad).unwrap_err();
            assert!(e.message.contains("--duration"), "{bad}: {e}");
        }
    }
}

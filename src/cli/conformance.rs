//! `paycrypto conformance`: the suite against a live backend, a pass/fail
//! table per operation, JUnit XML for CI, exit code 0 only when no case fails.

use super::aws::{open_aws, test_keys_allowed};
use super::backend::{backend_url, open_backend, open_payshield};
use super::keys::KeyConfig;
use super::output::{CliError, Output, EXIT_FAILED};
use super::BackendArgs;
use crate::backend::Backend;
use crate::conformance::{
    self, payshield_test_lmk_options, ProvisionOptions, Report, RunOptions, Verdict,
};
use crate::connect::BackendUrl;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

/// `conformance`.
#[derive(Args)]
pub struct ConformanceArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Write JUnit XML here (for CI systems).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Random inputs per agreement case.
    #[arg(long, default_value_t = 8)]
    rounds: usize,
    /// Seed of the random inputs (printed in the report; replays a failure).
    #[arg(long)]
    seed: Option<u64>,
    /// Run only cases whose `operation/name` contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Prefix of the keys the suite creates when it provisions its own keys.
    #[arg(long, value_name = "PREFIX")]
    key_prefix: Option<String>,
}

fn to_json(r: &Report) -> String {
    let t = r.totals();
    let cases: Vec<_> = r
        .results
        .iter()
        .map(|c| {
            json!({
                "operation": c.operation.as_str(),
                "name": c.name,
                "kind": c.kind.as_str(),
                "result": match c.verdict { Verdict::Pass => "pass", Verdict::Fail(_) => "fail", Verdict::Skip(_) => "skip", Verdict::Unsupported(_) => "unsupported" },
                "message": c.verdict.message(),
                "source": c.source,
                "seconds": c.duration.as_secs_f64(),
            })
        })
        .collect();
    let v = json!({
        "backend": r.backend,
        "seed": r.seed,
        "passed": t.passed,
        "failed": t.failed,
        "skipped": t.skipped,
        "unsupported": t.unsupported,
        "notes": r.notes,
        "cases": cases,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

pub(super) async fn run(a: &ConformanceArgs, json_out: bool) -> Result<Output, CliError> {
    let url = backend_url(&a.backend)?;
    if a.rounds == 0 {
        return Err(CliError::arg("--rounds", "must be at least 1"));
    }
    let config = match &a.backend.keys {
        Some(p) => Some(KeyConfig::load(p)?),
        None => None,
    };
    let opts = RunOptions {
        rounds: a.rounds,
        seed: a.seed.unwrap_or_else(rand::random),
        filter: a.filter.clone(),
    };
    let empty = KeyConfig::default();
    let config_ref = config.as_ref().unwrap_or(&empty);
    let mut provision = ProvisionOptions::default();
    if let Some(prefix) = &a.key_prefix {
        provision.prefix = prefix.clone();
    }
    // The backend starts empty (a configuration's clear test keys are
    // loaded when the backend opens: into the software backend, or into a
    // payShield running the public test LMK).
    let mut notes = Vec::new();
    let mut payshield_keks = Vec::new();
    // Whether the suite may create its own keys (without --keys FILE).
    let mut self_provision = true;
    let backend: Arc<dyn Backend> = match &url {
        BackendUrl::PayShield(p) => {
            let ps = open_payshield(p, config_ref, a.backend.key_table.as_deref()).await?;
            if config.is_none() {
                if ps.runs_test_lmk().await? {
                    provision = payshield_test_lmk_options(&ps, provision.prefix.clone()).await?;
                    payshield_keks = provision
                        .existing_keks
                        .values()
                        .map(|k| k.id.clone())
                        .collect();
                    notes.push(format!(
                        "the payShield reports the public test LMK (check value {}): the suite \
                         loaded its KEK under it and its keys as TR-31 blocks",
                        crate::payshield::test_lmk_check_value_for(ps.lmk_kind())
                    ));
                } else {
                    notes.push(
                        "the payShield runs another LMK: the suite loads no clear keys into it; \
                         name keys under its LMK with --keys FILE or --key-table FILE"
                            .to_string(),
                    );
                }
            }
            Arc::new(ps)
        }
        BackendUrl::Aws(aws_url) => {
            let aws_opts = a.backend.aws_options();
            let aws = open_aws(aws_url, config_ref, &aws_opts).await?;
            if config.is_none() {
                if test_keys_allowed(aws_url, &aws_opts) {
                    notes.push(
                        "AWS test account (an endpoint on this machine, or \
                         --allow-test-key-import): the suite imported its KEKs from clear \
                         components (RSA-OAEP key cryptograms) and its keys as TR-31 blocks, \
                         and scheduled them for deletion afterwards"
                            .to_string(),
                    );
                } else {
                    self_provision = false;
                    notes.push(
                        "not a test account: the suite creates no keys on AWS; name existing \
                         keys with --keys FILE, or give --allow-test-key-import for a test account"
                            .to_string(),
                    );
                }
            }
            Arc::new(aws)
        }
        BackendUrl::Software => open_backend(&url, config_ref, &a.backend).await?,
    };
    let mut report = match &config {
        Some(c) => conformance::run(backend.as_ref(), &c.key_set(), &opts).await,
        None if !self_provision => {
            let keys = crate::conformance::KeySet::new().with_default_missing(
                "not a test account: give --keys FILE or --allow-test-key-import",
            );
            conformance::run(backend.as_ref(), &keys, &opts).await
        }
        None => conformance::run_self_provisioned_with(backend.as_ref(), &opts, &provision).await,
    };
    for id in payshield_keks {
        // Host-side only: the key table entry of the suite's KEK.
        let _ = backend
            .execute(crate::ops::Request::DeleteKey(
                crate::ops::DeleteKeyRequest { key: id },
            ))
            .await;
    }
    report.notes.extend(notes);
    if let Some(path) = &a.junit {
        std::fs::write(path, report.to_junit_xml()).map_err(|e| {
            CliError::arg("--junit", format!("cannot write {}: {e}", path.display()))
        })?;
    }
    let mut out = Output::new();
    out.text = Some(if json_out {
        to_json(&report)
    } else {
        report.table()
    });
    if !report.is_success() {
        out.code = EXIT_FAILED;
    }
    Ok(out)
}

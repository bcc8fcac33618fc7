//! A shadowing payShield proxy in front of the payShield simulator, ready
//! for load: what `BENCHMARKS.md` measures through the proxy.
//!
//! ```sh
//! cargo run --release --all-features --example proxy_rig -- [aws|payshield]
//! # prints: listening on tcp://127.0.0.1:PORT
//! target/release/paycrypto load --backend payshield://127.0.0.1:PORT --rate 5000 --duration 60s
//! # Ctrl-C (or SIGTERM) the rig: it prints the proxy's and the shadow's counts
//! ```
//!
//! The rig starts, in this process, the payShield simulator (public test
//! LMK) as the primary, a candidate holding the same test keys under the
//! same names (the AWS emulator, or a second payShield simulator), and
//! `paycrypto::proxy` on 127.0.0.1 with the Shadow and Failover layers,
//! exactly as `paycrypto proxy payshield --failover` builds them. The proxy's
//! key map comes from the primary's key table: `paycrypto load` loads the
//! same clear test keys into the simulator (through the proxy, passed
//! through), and a variant LMK encrypts a clear key of one type to one
//! cryptogram, so its commands name keys the map knows.
#![forbid(unsafe_code)]

use paycrypto::aws::AwsBackend;
use paycrypto::layers::{DiscrepancyReport, Failover, Shadow};
use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::proxy::{self, KeyMap, PayShieldProxy, ProxyConfig, ProxyPrimary};
use paycrypto::{testing, Backend};
use std::sync::Arc;
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A payShield simulator on 127.0.0.1 with the test keys loaded.
async fn simulator() -> Result<(paycrypto::server::payshield::SimHandle, PayShieldBackend), BoxError>
{
    let sim = paycrypto::server::payshield::start(Default::default()).await?;
    let ps = PayShieldBackend::connect(
        PayShieldConfig::new(sim.addr().to_string()),
        KeyTable::new(),
    )
    .await?;
    testing::load_payshield(&ps).await?;
    Ok((sim, ps))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let candidate_kind = std::env::args().nth(1).unwrap_or_else(|| "aws".into());
    let (_sim, ps) = simulator().await?;
    // Kept alive for the whole run.
    let mut _emulator = None;
    let mut _second_sim = None;
    let candidate: Arc<dyn Backend> = match candidate_kind.as_str() {
        "aws" => {
            let emu = paycrypto::server::aws::start(Default::default()).await?;
            let aws = AwsBackend::builder()
                .endpoint_url(emu.endpoint_url())
                .region("us-east-1")
                .credentials("AKIDPROXYRIG", "proxy-rig/secret", None)
                .sdk_retries(false)
                .build()
                .await;
            testing::load(&aws).await?;
            _emulator = Some(emu);
            Arc::new(aws)
        }
        "payshield" => {
            let (sim2, ps2) = simulator().await?;
            _second_sim = Some(sim2);
            Arc::new(ps2)
        }
        other => return Err(format!("candidate must be aws or payshield, not {other:?}").into()),
    };
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Arc::new(Shadow::new(
        ProxyPrimary::new(ps.clone()),
        Arc::clone(&candidate),
        Arc::clone(&report),
    ));
    let layers: Arc<dyn Backend> = Arc::new(Failover::new(vec![
        Arc::clone(&shadow) as Arc<dyn Backend>,
        candidate,
    ]));
    let keys = KeyMap::from_table(ps.keys().clone())?;
    let p = PayShieldProxy::new(ps.clone(), layers, keys, ProxyConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let handle = proxy::start(listener, Arc::new(p))?;
    println!("listening on tcp://{}", handle.addr());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    shadow.flush().await;
    let stats = handle.stats();
    println!(
        "proxy: {} modelled, {} answered by the primary, {} by the candidate, {} passed through, {} failed",
        stats.modelled,
        stats.primary_answers,
        stats.candidate_answers,
        stats.passed_through,
        stats.failed
    );
    let s = shadow.stats();
    println!(
        "shadow: {} requests, {} queued for comparison, {} dropped (queue full)",
        s.requests, s.queued, s.dropped
    );
    let snap = report.snapshot();
    println!(
        "compared: {} total, {} matched, {} mismatched, {} skipped, {} candidate errors",
        snap.sum(|o| o.total),
        snap.sum(|o| o.matched),
        snap.sum(|o| o.mismatched),
        snap.sum(|o| o.skipped),
        snap.sum(|o| o.candidate_errors)
    );
    Ok(())
}

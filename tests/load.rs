//! The load generator (`paycrypto::load`): short open-loop runs against
//! the software backend, the payShield simulator and the AWS emulator
//! (both in-process on 127.0.0.1:0) with the fixed test key set. The
//! counts must add up, every answer must be right (the generator checks
//! each with the test keys), and a backend that answers wrongly or fails
//! must show up as errors by kind. No timing is asserted.

use paycrypto::aws::AwsBackend;
use paycrypto::load::{run, run_with_progress, Kind, LoadConfig, LoadReport, Mix};
use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::{Backend, ErrorKind, Request, Response, SoftwareBackend};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MIX: &str = "translate=30,dukpt=10,cvv=25,arqc=25,mac=10";

fn config(rate: u32, ms: u64) -> LoadConfig {
    LoadConfig::new(rate, Duration::from_millis(ms), MIX.parse().unwrap())
        .unwrap()
        .with_seed(42)
}

/// The invariants of every report.
fn check_counts(r: &LoadReport, cfg: &LoadConfig) {
    assert_eq!(r.planned, cfg.total_requests());
    assert_eq!(r.sent, r.planned, "{r}");
    assert_eq!(r.unsent, 0, "{r}");
    assert_eq!(r.sent, r.completed + r.unfinished, "{r}");
    assert_eq!(r.completed, r.ok + r.errors_total(), "{r}");
    assert_eq!(r.latency.count, r.completed, "{r}");
    let per_kind: u64 = r.kinds.iter().map(|k| k.completed).sum();
    assert_eq!(per_kind, r.completed, "{r}");
    let per_kind_errors: u64 = r.kinds.iter().map(|k| k.errors).sum();
    assert_eq!(per_kind_errors, r.errors_total(), "{r}");
    assert!(r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
    assert_eq!(r.send_lag.count, r.sent);
    // Every kind of the mix was drawn (hundreds of draws, weights >= 10 %).
    let kinds: Vec<&str> = r.kinds.iter().map(|k| k.kind).collect();
    assert_eq!(kinds, ["translate", "dukpt", "cvv", "arqc", "mac"]);
    assert!(r.kinds.iter().all(|k| k.completed > 0), "{r}");
}

fn assert_clean(r: &LoadReport, cfg: &LoadConfig) {
    check_counts(r, cfg);
    assert_eq!(r.errors_total(), 0, "{r}");
    assert_eq!(r.unfinished, 0, "{r}");
    assert_eq!(r.ok, r.planned, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_backend_short_run_adds_up_without_errors() {
    let b = Arc::new(SoftwareBackend::with_name("soft"));
    let keys = paycrypto::testing::load(b.as_ref()).await.unwrap();
    let cfg = config(400, 1500);
    let mut progress = Vec::new();
    let r = run_with_progress(b, &keys, &cfg, |p| progress.push(p.clone()))
        .await
        .unwrap();
    assert_clean(&r, &cfg);
    assert_eq!(r.backend, "soft");
    assert_eq!(r.mix, MIX);
    assert_eq!(r.seed, 42);
    // A progress report each second while it ran, counting up.
    assert!(!progress.is_empty());
    assert!(progress.windows(2).all(|w| w[0].sent <= w[1].sent));
    let line = progress[0].to_string();
    assert!(
        line.contains("sent") && line.contains("in flight"),
        "{line}"
    );
    // The report prints its lines and one JSON object.
    let text = r.to_string();
    for want in [
        "requests: 600 sent, 600 completed, 0 unfinished",
        "achieved rate:",
        "p99.9",
        "errors: 0",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["completed"], 600);
    assert_eq!(v["errors"], serde_json::json!({}));
    assert!(v["latency"]["p99_9_ms"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payshield_simulator_short_run_adds_up_without_errors() {
    let sim = paycrypto::server::payshield::start(Default::default())
        .await
        .unwrap();
    let ps = PayShieldBackend::connect(
        PayShieldConfig::new(sim.addr().to_string()),
        KeyTable::new(),
    )
    .await
    .unwrap();
    let keys = paycrypto::testing::load_payshield(&ps).await.unwrap();
    let cfg = config(400, 1500);
    let r = run(Arc::new(ps), &keys, &cfg).await.unwrap();
    assert_clean(&r, &cfg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_emulator_short_run_adds_up_without_errors() {
    let emu = paycrypto::server::aws::start(Default::default())
        .await
        .unwrap();
    let aws = AwsBackend::builder()
        .endpoint_url(emu.endpoint_url())
        .region("us-east-1")
        .credentials("AKIDLOAD", "load/secret", None)
        .sdk_retries(false)
        .build()
        .await;
    let keys = paycrypto::testing::load(&aws).await.unwrap();
    let cfg = config(100, 1500);
    let r = run(Arc::new(aws), &keys, &cfg).await.unwrap();
    assert_clean(&r, &cfg);
    emu.shutdown().await;
}

/// A backend that fails every third call and garbles every fifth answer.
struct Flaky {
    inner: SoftwareBackend,
    calls: AtomicU64,
}

#[async_trait::async_trait]
impl Backend for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn capabilities(&self) -> paycrypto::Capabilities {
        self.inner.capabilities()
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(3) {
            return Err(paycrypto::Error::new(ErrorKind::Transient, "injected"));
        }
        let r = self.inner.execute(request).await?;
        if n.is_multiple_of(5) {
            // Answer another operation's response: a wrong answer.
            return Ok(Response::DeleteKey(paycrypto::ops::DeleteKeyResponse {
                key: paycrypto::KeyId::new("garbled").unwrap(),
            }));
        }
        Ok(r)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_wrong_answers_are_counted_by_kind() {
    let inner = SoftwareBackend::new();
    let keys = paycrypto::testing::load(&inner).await.unwrap();
    let b = Arc::new(Flaky {
        inner,
        calls: AtomicU64::new(0),
    });
    let cfg = config(300, 1000);
    let r = run(b.clone(), &keys, &cfg).await.unwrap();
    check_counts(&r, &cfg);
    let calls = b.calls.load(Ordering::Relaxed);
    assert_eq!(calls, 300);
    assert_eq!(r.errors.get("transient").copied(), Some(calls / 3));
    // Every fifth call that was not also a third one.
    assert_eq!(
        r.errors.get("wrong_answer").copied(),
        Some(calls / 5 - calls / 15)
    );
    assert_eq!(r.ok, calls - calls / 3 - (calls / 5 - calls / 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_or_clear_value_is_refused_before_sending() {
    let b = Arc::new(SoftwareBackend::new());
    let empty = paycrypto::conformance::KeySet::new();
    let e = run(b.clone(), &empty, &config(10, 100)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("zpk"), "{e}");
    // A key named without its clear value cannot be used to build requests.
    let keys = paycrypto::conformance::KeySet::new().with(
        paycrypto::conformance::Role::Cvk,
        paycrypto::conformance::KeyRef::named(paycrypto::KeyId::new("cvk/1").unwrap()),
    );
    let cfg = LoadConfig::new(10, Duration::from_millis(100), "cvv".parse().unwrap()).unwrap();
    let e = run(b, &keys, &cfg).await.unwrap_err();
    assert!(e.to_string().contains("clear value of the `cvk`"), "{e}");
}

#[test]
fn the_same_seed_sends_the_same_mix() {
    // The draw of kinds depends on the seed and the index only.
    let mix: Mix = "translate=1,cvv=1".parse().unwrap();
    assert_eq!(mix.entries(), &[(Kind::Translate, 1), (Kind::Cvv, 1)]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let counts = |seed: u64| {
        rt.block_on(async {
            let b = Arc::new(SoftwareBackend::new());
            let keys = paycrypto::testing::load(b.as_ref()).await.unwrap();
            let cfg = LoadConfig::new(500, Duration::from_millis(200), mix.clone())
                .unwrap()
                .with_seed(seed);
            let r = run(b, &keys, &cfg).await.unwrap();
            r.kinds.iter().map(|k| k.completed).collect::<Vec<_>>()
        })
    };
    assert_eq!(counts(7), counts(7));
    let (a, b) = (counts(7), counts(8));
    assert_eq!(a.iter().sum::<u64>(), 100);
    assert_eq!(b.iter().sum::<u64>(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_backend_leaves_requests_unfinished_and_unsent_and_the_run_ends() {
    use paycrypto::layers::{Fault, Faulty};
    let inner = SoftwareBackend::new();
    let keys = paycrypto::testing::load(&inner).await.unwrap();
    let hung = Faulty::new(inner);
    hung.switch().set(Fault::Hang);
    let mut cfg = LoadConfig::new(100, Duration::from_millis(300), "cvv".parse().unwrap())
        .unwrap()
        .with_max_in_flight(5);
    cfg.drain_timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let r = run(Arc::new(hung), &keys, &cfg).await.unwrap();
    // Bounded: the planned 0.3 s, catching up for 0.2 s, draining for 0.2 s.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.planned, 30);
    assert_eq!(r.sent, 5, "{r}");
    assert_eq!(r.unsent, 25, "{r}");
    assert_eq!(r.unfinished, 5, "{r}");
    assert_eq!(r.completed, 0, "{r}");
    assert!(r.to_string().contains("25 never sent"), "{r}");
}

//! One `PayShieldBackend` over several payShield simulators: load spread
//! over the hosts, a host killed and restarted under load (0 failed
//! requests through `Retry`, the host ejected and brought back as
//! `PayShieldBackend::hosts` shows).

mod common;

use common::id;
use paycrypto::layers::{Retry, RetryPolicy};
use paycrypto::ops::*;
use paycrypto::payshield::{HostHealth, KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::server::payshield::{serve_until, start, SimConfig};
use paycrypto::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The CVK: clear 0123456789ABCDEF FEDCBA9876543210 (odd parity).
const CVK: &str = "0123456789ABCDEFFEDCBA9876543210";

/// A simulator on `addr` (port 0: a free one) that stops, closing every
/// connection, when the returned sender says so.
async fn sim_on(addr: SocketAddr) -> (SocketAddr, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(serve_until(listener, SimConfig::default(), rx));
    (addr, tx)
}

fn host<'a>(hosts: &'a [HostHealth], addr: &SocketAddr) -> &'a HostHealth {
    let a = addr.to_string();
    hosts.iter().find(|h| h.addr == a).expect("host listed")
}

/// Polls `hosts()` until `want` holds for host `addr`; the time it took.
async fn until(
    ps: &PayShieldBackend,
    addr: &SocketAddr,
    want: impl Fn(&HostHealth) -> bool,
) -> Duration {
    let t = Instant::now();
    loop {
        let hosts = ps.hosts();
        if want(host(&hosts, addr)) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "host state never reached: {hosts:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn cvv_request(i: u64) -> GenerateCardValidationRequest {
    GenerateCardValidationRequest {
        key: id("cvk"),
        pan: Pan::new(&format!("4{:015}", (i % 64) * 7919)).unwrap(),
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        length: paycrypto::CvvLength::THREE,
    }
}

async fn cluster(a: SocketAddr, b: SocketAddr) -> PayShieldBackend {
    let mut cfg = PayShieldConfig::new(a.to_string());
    cfg.other_hosts = vec![b.to_string()];
    cfg.connections = 4;
    cfg.health_check_interval = Duration::from_millis(100);
    cfg.backoff_min = Duration::from_millis(5);
    cfg.backoff_max = Duration::from_millis(200);
    cfg.request_timeout = Duration::from_secs(5);
    PayShieldBackend::connect(cfg, KeyTable::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_killed_and_restarted_under_load_fails_no_request() {
    let sim_a = start(SimConfig::default()).await.unwrap();
    let (addr_b, kill_b) = sim_on("127.0.0.1:0".parse().unwrap()).await;
    let ps = cluster(sim_a.addr(), addr_b).await;
    until(&ps, &addr_b, |h| h.healthy && h.live_connections > 0).await;
    until(&ps, &sim_a.addr(), |h| h.healthy && h.live_connections > 0).await;
    let attrs = KeyAttributes::new(
        KeyUsage::CardVerification,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
    );
    ps.load_test_key(id("cvk"), attrs, &hex::decode(CVK).unwrap())
        .await
        .unwrap();
    // What every answer must be: the software backend's.
    let sw = SoftwareBackend::new();
    common::load_kek(&sw).await;
    common::load(
        &sw,
        "cvk",
        KeyUsage::CardVerification,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
        &hex::decode(CVK).unwrap(),
    )
    .await
    .unwrap();
    let mut want = Vec::new();
    for i in 0..64 {
        want.push(
            sw.generate_card_validation(cvv_request(i))
                .await
                .unwrap()
                .value,
        );
    }
    let want = Arc::new(want);

    let policy = RetryPolicy {
        max_attempts: 5,
        budget_burst: 100_000,
        ..RetryPolicy::default()
    };
    let retry = Arc::new(Retry::with_policy(ps.clone(), policy));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    const CLIENTS: u64 = 300;
    for c in 0..CLIENTS {
        let (retry, stop, ok, failed, want) = (
            Arc::clone(&retry),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&failed),
            Arc::clone(&want),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                match retry.generate_card_validation(cvv_request(i)).await {
                    Ok(r) => {
                        assert_eq!(r.value, want[(i % 64) as usize], "request {i}");
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("request {i} failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += CLIENTS;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before_kill = host(&ps.hosts(), &addr_b).answered;
    assert!(before_kill > 0, "host B took no load: {:?}", ps.hosts());

    // Kill B: its connections close with requests in flight.
    kill_b.send(true).unwrap();
    let ejected = until(&ps, &addr_b, |h| !h.healthy).await;
    let checked = until(&ps, &addr_b, |h| h.failed_checks > 0).await;
    let ok_at_kill = ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ok.load(Ordering::Relaxed) > ok_at_kill,
        "A alone keeps serving"
    );
    let down = ps.hosts();
    assert!(!host(&down, &addr_b).healthy, "{down:?}");
    assert!(host(&down, &sim_a.addr()).healthy, "{down:?}");
    assert!(host(&down, &addr_b).last_error.is_some(), "{down:?}");

    // Restart B on the same port: it comes back and takes load again.
    let restarted_at = Instant::now();
    let (_, _keep_b) = sim_on(addr_b).await;
    until(&ps, &addr_b, |h| h.healthy && h.failed_checks == 0).await;
    let back = restarted_at.elapsed();
    let answered_back = host(&ps.hosts(), &addr_b).answered;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        host(&ps.hosts(), &addr_b).answered > answered_back,
        "B takes load again: {:?}",
        ps.hosts()
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let stats = retry.stats();
    eprintln!(
        "cluster drill: {ok} requests ok, {failed} failed, {} retries; B ejected {ejected:?} \
         after the kill (first failed check {checked:?}), back {back:?} after the restart; \
         hosts {:?}",
        stats.retries,
        ps.hosts()
    );
    assert_eq!(failed, 0, "no request fails through Retry");
    assert!(
        stats.retries > 0,
        "the kill failed requests in flight, which were retried"
    );
    assert_eq!(stats.budget_exhausted, 0);
}

#[tokio::test]
async fn requests_go_to_the_least_loaded_host_and_skip_a_dead_one() {
    let sim_a = start(SimConfig::default()).await.unwrap();
    let sim_b = start(SimConfig::default()).await.unwrap();
    // A third host where nothing listens: requests never sent there go
    // elsewhere, and it shows unhealthy.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut cfg = PayShieldConfig::new(sim_a.addr().to_string());
    cfg.other_hosts = vec![sim_b.addr().to_string(), dead.to_string()];
    cfg.health_check_interval = Duration::from_millis(50);
    let ps = PayShieldBackend::connect(cfg, KeyTable::new())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let ps = ps.clone();
        tasks.push(tokio::spawn(async move { ps.diagnostics().await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every request answered");
    }
    let hosts = ps.hosts();
    assert_eq!(hosts.len(), 3);
    let (a, b, d) = (
        host(&hosts, &sim_a.addr()),
        host(&hosts, &sim_b.addr()),
        host(&hosts, &dead),
    );
    assert!(a.answered > 0 && b.answered > 0, "{hosts:?}");
    assert_eq!(a.answered + b.answered, 200, "{hosts:?}");
    assert_eq!(d.answered, 0);
    assert!(!d.healthy && d.live_connections == 0, "{hosts:?}");
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.contains("refused")),
        "{hosts:?}"
    );
    assert_eq!(
        ps.live_connections(),
        a.live_connections + b.live_connections
    );
    until(&ps, &dead, |h| h.failed_checks > 0).await;
}

#[tokio::test]
async fn a_cluster_with_no_reachable_host_fails_to_connect_naming_each() {
    let dead: Vec<SocketAddr> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        })
        .collect();
    let mut cfg = PayShieldConfig::new(dead[0].to_string());
    cfg.other_hosts = vec![dead[1].to_string()];
    cfg.connect_timeout = Duration::from_millis(100);
    let e = PayShieldBackend::connect(cfg.clone(), KeyTable::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    for d in &dead {
        assert!(e.to_string().contains(&d.to_string()), "{e}");
    }
    cfg.other_hosts = vec![dead[0].to_string()];
    let e = PayShieldBackend::connect(cfg, KeyTable::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("twice"), "{e}");
}

#[tokio::test]
async fn a_single_host_reports_its_health() {
    let sim = start(SimConfig::default()).await.unwrap();
    let ps = PayShieldBackend::connect(
        PayShieldConfig::new(sim.addr().to_string()),
        KeyTable::new(),
    )
    .await
    .unwrap();
    ps.diagnostics().await.unwrap();
    let hosts = ps.hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].addr, sim.addr().to_string());
    assert!(hosts[0].healthy);
    assert_eq!(hosts[0].answered, 1);
    assert_eq!(hosts[0].in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_answering_is_ejected_by_the_health_check() {
    use paycrypto::server::payshield::Faults;
    let sim_a = start(SimConfig::default()).await.unwrap();
    // B accepts and reads but answers each request only after 3 s: its
    // connections stay up, only the health check can tell.
    let sim_b = start(SimConfig {
        faults: Faults {
            delay_every: 1,
            delay: Duration::from_secs(3),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let ps = cluster(sim_a.addr(), sim_b.addr()).await;
    let ejected = until(&ps, &sim_b.addr(), |h| !h.healthy).await;
    let hosts = ps.hosts();
    let b = host(&hosts, &sim_b.addr());
    assert!(b.live_connections > 0, "{hosts:?}");
    assert!(
        b.last_error
            .as_deref()
            .is_some_and(|e| e.contains("health check")),
        "{hosts:?}"
    );
    // Requests now go to A only, and are answered at once.
    let answered_b = b.answered;
    for _ in 0..50 {
        ps.diagnostics().await.unwrap();
    }
    let hosts = ps.hosts();
    assert_eq!(
        host(&hosts, &sim_b.addr()).answered,
        answered_b,
        "{hosts:?}"
    );
    assert!(host(&hosts, &sim_a.addr()).answered >= 50, "{hosts:?}");
    eprintln!("unanswering host ejected {ejected:?} after start (check every 100 ms)");
}

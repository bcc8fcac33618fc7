//! Prometheus exposition (feature `prometheus`): requests through the
//! layers (Metrics over Failover over Shadow) and to both simulators, then
//! one scrape of `/metrics` over 127.0.0.1 with a raw HTTP client. The
//! metric names and label sets the dashboard uses must be there, and no
//! label value may carry request data: every label value comes from a
//! small vocabulary (names, codes, kinds) and none holds a run of digits
//! such as a PAN, a PIN or key material.

use paycrypto::algo::{cipher::BlockCipher, pinblock};
use paycrypto::conformance::Role;
use paycrypto::layers::{
    prometheus, DiscrepancyReport, Failover, Fault, Faulty, Metrics, MetricsSink, Shadow,
};
use paycrypto::ops::*;
use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::testing::key_id;
use paycrypto::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

const PAN: &str = "4123456789012345";
const PIN: &str = "93817";

/// `GET /metrics` with a plain socket; the status line and the body.
fn scrape(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// Each sample line: metric name and its labels.
fn samples(body: &str) -> Vec<(String, BTreeMap<String, String>)> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name_labels, _value) = l.rsplit_once(' ').unwrap();
            match name_labels.split_once('{') {
                None => (name_labels.to_string(), BTreeMap::new()),
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').unwrap();
                    let mut labels = BTreeMap::new();
                    for pair in rest.split("\",") {
                        let (k, v) = pair.split_once("=\"").unwrap();
                        labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
                    }
                    (name.to_string(), labels)
                }
            }
        })
        .collect()
}

fn has(s: &[(String, BTreeMap<String, String>)], name: &str, want: &[(&str, &str)]) -> bool {
    s.iter().any(|(n, l)| {
        n == name
            && want
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
    })
}

/// Nothing secret in the scrape, and no label carries request data: every
/// metric is the crate's, no `secrets` appear anywhere, and each label
/// value is from a small vocabulary (no digit runs) or a host address.
fn no_request_data(body: &str, s: &[(String, BTreeMap<String, String>)], secrets: &[String]) {
    // Nothing secret in any label: a small vocabulary, no digit runs.
    let names: BTreeSet<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().all(|n| n.starts_with("paycrypto_")),
        "{names:?}"
    );
    for secret in secrets {
        assert!(!body.contains(secret.as_str()), "a secret in the scrape");
        assert!(!body.to_lowercase().contains(&secret.to_lowercase()));
    }
    for (name, labels) in s {
        for (k, v) in labels {
            if k == "le" || k == "quantile" {
                continue;
            }
            // A payShield host's address: the one label with digit runs
            // (a port), and only a configured address (tests: loopback).
            if k == "host" {
                let addr: std::net::SocketAddr = v.parse().expect("host label is HOST:PORT");
                assert!(addr.ip().is_loopback(), "{name}{{{k}=\"{v}\"}}");
                continue;
            }
            let ok_chars = v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-(),.".contains(c));
            let digit_run = v
                .as_bytes()
                .windows(4)
                .any(|w| w.iter().all(u8::is_ascii_digit));
            assert!(
                ok_chars && !digit_run && v.len() <= 64,
                "{name}{{{k}=\"{v}\"}}"
            );
        }
    }
}

fn translate_request() -> TranslatePinRequest {
    let zpk = BlockCipher::tdes(&Role::Zpk.fixed_clear()).unwrap();
    let block = pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &Pin::new(PIN).unwrap(),
        Some(PAN),
        &mut rand::rng(),
    )
    .unwrap();
    TranslatePinRequest {
        incoming_key: PinKey::Key(key_id(Role::Zpk)),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: key_id(Role::Zpk2),
        outgoing_format: PinBlockFormat::Iso0,
        pan: Pan::new(PAN).unwrap(),
        pin_block: block,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_shows_layers_and_simulators_without_secrets() {
    let exporter = prometheus::serve("127.0.0.1:0").await.unwrap();
    // The recorder is installed once per process: a second endpoint shares it.
    let second = prometheus::serve("127.0.0.1:0").await.unwrap();
    assert_ne!(exporter.addr(), second.addr());

    // --- the layers: a dead HSM, then Shadow(hsm-b, cloud) behind Failover.
    let dead = Faulty::new(SoftwareBackend::with_name("hsm-a"));
    dead.switch().set(Fault::Error(ErrorKind::Transient));
    let hsm = SoftwareBackend::with_name("hsm-b");
    let cloud = SoftwareBackend::with_name("cloud");
    for b in [&hsm, &cloud] {
        paycrypto::testing::load(b).await.unwrap();
    }
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Arc::new(Shadow::new(
        hsm.clone(),
        cloud.clone(),
        (report.clone(), MetricsSink),
    ));
    let gateway = Metrics::new(Failover::new(vec![
        Arc::new(dead) as Arc<dyn Backend>,
        shadow.clone(),
    ]));
    for _ in 0..5 {
        gateway.translate_pin(translate_request()).await.unwrap();
    }
    let cvv = VerifyCardValidationRequest {
        key: key_id(Role::Cvk),
        pan: Pan::new(PAN).unwrap(),
        expiry: CardExpiry::new("2812").unwrap(),
        kind: CardValidationKind::Cvv2,
        value: "123".parse().unwrap(),
    };
    let _ = gateway.verify_card_validation(cvv).await.unwrap();
    // An error: a key nobody has.
    let mut missing = translate_request();
    missing.outgoing_key = KeyId::new("zpk/nobody").unwrap();
    let e = gateway.translate_pin(missing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyNotFound);
    // A state-changing request: shadow skips it.
    let _ = gateway
        .get_key_info(GetKeyInfoRequest {
            key: key_id(Role::Zpk),
        })
        .await;
    let _ = gateway
        .delete_key(DeleteKeyRequest {
            key: key_id(Role::MacHmac),
        })
        .await;
    shadow.flush().await;

    // --- the simulators, which record per command.
    let sim = paycrypto::server::payshield::start(Default::default())
        .await
        .unwrap();
    let ps = PayShieldBackend::connect(
        PayShieldConfig::new(sim.addr().to_string()),
        KeyTable::new(),
    )
    .await
    .unwrap();
    paycrypto::testing::load_payshield(&ps).await.unwrap();
    ps.translate_pin(translate_request()).await.unwrap();
    let emu = paycrypto::server::aws::start(Default::default())
        .await
        .unwrap();
    let aws = paycrypto::aws::AwsBackend::builder()
        .endpoint_url(emu.endpoint_url())
        .region("us-east-1")
        .credentials("AKIDMETRICS", "metrics/secret", None)
        .sdk_retries(false)
        .build()
        .await;
    paycrypto::testing::load(&aws).await.unwrap();
    aws.translate_pin(translate_request()).await.unwrap();

    let (status, body) = scrape(exporter.addr(), "/metrics");
    assert!(status.contains("200"), "{status}");
    let s = samples(&body);
    let t = "translate_pin";
    assert!(has(
        &s,
        "paycrypto_requests_total",
        &[("operation", t), ("outcome", "ok")]
    ));
    assert!(has(
        &s,
        "paycrypto_requests_total",
        &[("operation", "verify_card_validation")]
    ));
    assert!(has(
        &s,
        "paycrypto_request_errors_total",
        &[("operation", t), ("kind", "key_not_found")]
    ));
    assert!(has(
        &s,
        "paycrypto_request_duration_seconds_bucket",
        &[("operation", t), ("le", "0.001")]
    ));
    assert!(has(
        &s,
        "paycrypto_shadow_comparisons_total",
        &[
            ("operation", t),
            ("primary", "hsm-b"),
            ("candidate", "cloud"),
            ("outcome", "match")
        ]
    ));
    assert!(has(
        &s,
        "paycrypto_shadow_comparisons_total",
        &[("operation", "delete_key"), ("outcome", "skipped")]
    ));
    assert!(has(
        &s,
        "paycrypto_shadow_candidate_duration_seconds_bucket",
        &[("candidate", "cloud")]
    ));
    assert!(has(
        &s,
        "paycrypto_shadow_primary_duration_seconds_count",
        &[("primary", "hsm-b")]
    ));
    // The dead HSM's breaker opened (2); the shadow's stayed closed (0).
    assert!(has(
        &s,
        "paycrypto_breaker_opened_total",
        &[("backend", "hsm-a")]
    ));
    let gauge = |backend: &str| {
        body.lines()
            .find(|l| {
                l.starts_with("paycrypto_breaker_state{") && l.contains(&format!("\"{backend}\""))
            })
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(gauge("hsm-a").as_deref(), Some("2"), "{body}");
    assert_eq!(gauge("shadow(hsm-b,cloud)").as_deref(), Some("0"), "{body}");
    // Both simulators, per command and outcome.
    assert!(has(
        &s,
        "paycrypto_server_requests_total",
        &[
            ("server", "payshield"),
            ("command", "CC"),
            ("outcome", "00")
        ]
    ));
    assert!(has(
        &s,
        "paycrypto_server_requests_total",
        &[("server", "payshield"), ("command", "A6")]
    ));
    assert!(has(
        &s,
        "paycrypto_server_requests_total",
        &[
            ("server", "aws"),
            ("command", "TranslatePinData"),
            ("outcome", "ok")
        ]
    ));
    assert!(has(
        &s,
        "paycrypto_server_requests_total",
        &[("server", "aws"), ("command", "ImportKey")]
    ));
    assert!(has(
        &s,
        "paycrypto_server_request_duration_seconds_bucket",
        &[("server", "payshield"), ("command", "CC")]
    ));

    let secrets = [
        PAN.to_string(),
        PIN.to_string(),
        hex::encode_upper(Role::Zpk.fixed_clear()),
        hex::encode_upper(Role::Cvk.fixed_clear()),
        hex::encode_upper(Role::Zpk2.fixed_clear()),
    ];
    no_request_data(&body, &s, &secrets);
    let names: BTreeSet<&str> = s.iter().map(|(n, _)| n.as_str()).collect();

    // The Grafana dashboard in examples/ queries only metrics and labels
    // that exist.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10, "{}", exprs.len());
    for expr in &exprs {
        let metrics: Vec<&str> = expr
            .match_indices("paycrypto_")
            .map(|(i, _)| {
                let rest = &expr[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        assert!(!metrics.is_empty(), "{expr}");
        for m in &metrics {
            assert!(
                names.contains(m),
                "the dashboard queries {m}, which is not exported"
            );
        }
        for (i, _) in expr.match_indices("by (") {
            let labels = &expr[i + 4..];
            let labels = &labels[..labels.find(')').unwrap()];
            for label in labels.split(',').map(str::trim).filter(|l| *l != "le") {
                assert!(
                    s.iter()
                        .any(|(n, l)| metrics.contains(&n.as_str()) && l.contains_key(label)),
                    "{expr}: no label {label}"
                );
            }
        }
    }

    // Anything but GET /metrics is refused.
    let (status, _) = scrape(exporter.addr(), "/keys");
    assert!(status.contains("404"), "{status}");
    let (status, body2) = scrape(second.addr(), "/metrics");
    assert!(status.contains("200") && body2.contains("paycrypto_requests_total"));
    exporter.shutdown();
    emu.shutdown().await;
}

/// The value of the sample `name{labels}` (labels as printed), if present.
fn value(body: &str, name_labels: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// `paycrypto proxy payshield --metrics`: the proxy's requests (answered
/// by the primary, by the candidate after a failover, passed through), its
/// connections, the layers' metrics, and the payShield host's health
/// (healthy, in flight, ejected when the simulator dies, readmitted when
/// it is back), labelled by the host's address only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_shows_the_proxy_and_payshield_host_health() {
    use paycrypto::layers::BreakerConfig;
    use paycrypto::proxy::{
        self, KeyMap, MetricsSampler, PayShieldProxy, ProxyConfig, ProxyPrimary,
    };
    use paycrypto::server::payshield::SimConfig;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let exporter = prometheus::serve("127.0.0.1:0").await.unwrap();
    let sim = paycrypto::server::payshield::start(SimConfig::default())
        .await
        .unwrap();
    let host = sim.addr();
    let ps = PayShieldBackend::connect(PayShieldConfig::new(host.to_string()), KeyTable::new())
        .await
        .unwrap();
    paycrypto::testing::load_payshield(&ps).await.unwrap();
    let cloud: Arc<dyn Backend> = Arc::new(paycrypto::testing::software_reference().await);
    let shadow: Arc<dyn Backend> = Arc::new(Shadow::new(
        ProxyPrimary::new(ps.clone()),
        Arc::clone(&cloud),
        (DiscrepancyReport::new(), MetricsSink),
    ));
    let layers = Metrics::new(Failover::with_config(
        vec![shadow, cloud],
        BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_secs(60),
        },
    ));
    let p = Arc::new(PayShieldProxy::new(
        ps.clone(),
        Arc::new(layers),
        KeyMap::from_table(ps.keys().clone()).unwrap(),
        ProxyConfig::default(),
    ));
    let _sampler = MetricsSampler::start(&p, Duration::from_millis(10));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = proxy::start(listener, p).unwrap();

    // One request on a fresh gateway connection: the answer's error code,
    // or None when the proxy closed the connection.
    let addr = gw.addr();
    let ask = move |body: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let len = u16::try_from(body.len() + 4).unwrap().to_be_bytes();
        s.write_all(&[&len[..], b"0001", body.as_bytes()].concat())
            .await
            .unwrap();
        let mut n = [0u8; 2];
        s.read_exact(&mut n).await.ok()?;
        let mut a = vec![0u8; usize::from(u16::from_be_bytes(n))];
        s.read_exact(&mut a).await.ok()?;
        Some([a[6], a[7]])
    };
    let cvk = ps.keys().get(&key_id(Role::Cvk)).unwrap().key.to_text();
    let cw = format!("CW{cvk}{PAN};2512101");
    assert_eq!(ask(cw.clone()).await, Some(*b"00"), "CW from the primary");
    assert_eq!(ask("NC".into()).await, Some(*b"00"), "NC passed through");

    // A scrape once the sampler has shown what is asked for (or the last).
    let m = exporter.addr();
    let scrape_when = |want: Box<dyn Fn(&str) -> bool + Send>| async move {
        let mut body = String::new();
        for _ in 0..300 {
            body = tokio::task::spawn_blocking(move || scrape(m, "/metrics").1)
                .await
                .unwrap();
            if want(&body) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        body
    };
    let healthy = format!("paycrypto_payshield_host_healthy{{host=\"{host}\"}}");
    let ejections = format!("paycrypto_payshield_host_ejections_total{{host=\"{host}\"}}");
    let readmissions = format!("paycrypto_payshield_host_readmissions_total{{host=\"{host}\"}}");
    let h = healthy.clone();
    let body = scrape_when(Box::new(move |b| value(b, &h) == Some(1.0))).await;
    assert_eq!(value(&body, &healthy), Some(1.0), "{body}");
    assert_eq!(value(&body, &ejections), Some(0.0), "{body}");

    // The simulator dies: the candidate answers, the host is ejected.
    sim.shutdown();
    drop(sim);
    let mut candidate_answered = false;
    for _ in 0..50 {
        if ask(cw.clone()).await == Some(*b"00") {
            candidate_answered = gw.stats().candidate_answers > 0;
            if candidate_answered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(candidate_answered, "{:?}", gw.stats());
    let e = ejections.clone();
    let body = scrape_when(Box::new(move |b| value(b, &e) == Some(1.0))).await;
    assert_eq!(value(&body, &healthy), Some(0.0), "{body}");
    assert_eq!(value(&body, &ejections), Some(1.0), "{body}");

    // Back on the same address: a passed-through NC reconnects the
    // primary, and the host is readmitted.
    let listener = tokio::net::TcpListener::bind(host).await.unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(paycrypto::server::payshield::serve_until(
        listener,
        SimConfig::default(),
        rx,
    ));
    let mut back = false;
    for _ in 0..100 {
        if ask("NC".into()).await == Some(*b"00") {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back, "NC through the proxy once the simulator is back");
    let r = readmissions.clone();
    let body = scrape_when(Box::new(move |b| value(b, &r) == Some(1.0))).await;
    assert_eq!(value(&body, &healthy), Some(1.0), "{body}");
    assert_eq!(value(&body, &readmissions), Some(1.0), "{body}");

    let s = samples(&body);
    for outcome in ["primary", "candidate", "passed_through"] {
        assert!(
            has(
                &s,
                "paycrypto_proxy_requests_total",
                &[("outcome", outcome)]
            ),
            "{outcome}: {body}"
        );
    }
    assert!(has(&s, "paycrypto_proxy_connections", &[]));
    assert!(has(
        &s,
        "paycrypto_payshield_host_in_flight",
        &[("host", &host.to_string())]
    ));
    assert!(has(
        &s,
        "paycrypto_requests_total",
        &[("operation", "generate_card_validation")]
    ));
    assert!(has(
        &s,
        "paycrypto_shadow_comparisons_total",
        &[
            ("operation", "generate_card_validation"),
            ("outcome", "match")
        ]
    ));
    assert!(has(
        &s,
        "paycrypto_breaker_state",
        &[("backend", "shadow(payshield,reference)")]
    ));
    // Host labels name the simulator's address, nothing else.
    let hosts: BTreeSet<&str> = s
        .iter()
        .filter_map(|(_, l)| l.get("host").map(String::as_str))
        .collect();
    assert_eq!(hosts, BTreeSet::from([host.to_string().as_str()]));
    let secrets = [
        PAN.to_string(),
        cvk.clone(),
        hex::encode_upper(Role::Cvk.fixed_clear()),
    ];
    no_request_data(&body, &s, &secrets);
    drop(gw);
    drop(exporter);
}

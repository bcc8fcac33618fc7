//! `paycrypto::connect(url)` end to end: the payShield simulator and the
//! AWS emulator started in-process on 127.0.0.1:0, each opened from a URL
//! alone, and one keyed operation run through the returned
//! `Arc<dyn Backend>`.
#![cfg(all(feature = "payshield", feature = "aws", feature = "server"))]

use paycrypto::ops::{
    CardValidationKind, GenerateCardValidationRequest, GenerateKeyRequest,
    VerifyCardValidationRequest,
};
use paycrypto::server::{aws, payshield};
use paycrypto::{
    connect, Backend, BackendExt, BackendUrl, CardExpiry, ErrorKind, KeyAlgorithm, KeyAttributes,
    KeyId, KeyUsage, ModesOfUse, Pan, Verification,
};

/// Generates a CVK on `b`, then a CVV2 with it, and verifies that CVV2.
async fn cvv_round_trip(b: &dyn Backend) {
    let cvk = KeyId::new("connect/cvk").unwrap();
    b.generate_key(GenerateKeyRequest {
        key_id: cvk.clone(),
        attributes: KeyAttributes::new(
            KeyUsage::CardVerification,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE_VERIFY,
        ),
    })
    .await
    .unwrap_or_else(|e| panic!("generate a CVK on {}: {e}", b.name()));
    let pan = Pan::new("4123456789012").unwrap();
    let expiry = CardExpiry::new("8701").unwrap();
    let cvv = b
        .generate_card_validation(GenerateCardValidationRequest {
            key: cvk.clone(),
            pan: pan.clone(),
            expiry,
            kind: CardValidationKind::Cvv2,
            length: paycrypto::CvvLength::THREE,
        })
        .await
        .unwrap_or_else(|e| panic!("CVV2 on {}: {e}", b.name()));
    let v = b
        .verify_card_validation(VerifyCardValidationRequest {
            key: cvk,
            pan,
            expiry,
            kind: CardValidationKind::Cvv2,
            value: cvv.value,
        })
        .await
        .unwrap_or_else(|e| panic!("verify CVV2 on {}: {e}", b.name()));
    assert_eq!(v.verification, Verification::Verified, "{}", b.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_from_a_url() {
    let b = connect("software").await.unwrap();
    assert_eq!(b.name(), "software");
    cvv_round_trip(b.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payshield_simulator_from_a_url_with_options() {
    // A 6-character header: the URL's header_len reaches the pool.
    let sim = payshield::start(payshield::SimConfig {
        header_len: 6,
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!(
        "payshield://{}?header_len=6&connections=1&timeout_ms=5000",
        sim.addr()
    );
    let parsed: BackendUrl = url.parse().unwrap();
    assert_eq!(parsed.to_string(), url, "canonical form");
    let b = connect(&url).await.unwrap();
    assert_eq!(b.name(), "payshield");
    cvv_round_trip(b.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payshield_simulator_over_ipv6_loopback() {
    // A host without IPv6 loopback cannot run this one.
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("skipped: no IPv6 loopback on this host");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(payshield::serve_until(
        listener,
        payshield::SimConfig::default(),
        stopped,
    ));
    let url = format!("payshield://[::1]:{port}");
    let BackendUrl::PayShield(p) = url.parse::<BackendUrl>().unwrap() else {
        panic!("payshield")
    };
    assert_eq!(p.config().addr, format!("[::1]:{port}"));
    let b = connect(&url).await.unwrap();
    cvv_round_trip(b.as_ref()).await;
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payshield_refused_connection_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = connect(&format!("payshield://{closed}?connect_timeout_ms=100"))
        .await
        .err()
        .expect("nothing listens");
    assert!(e.kind().is_transient(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_emulator_from_a_url() {
    let emu = aws::start(aws::EmulatorConfig::default()).await.unwrap();
    // No region, no credentials: a local endpoint takes them from the
    // environment or the defaults, which an emulator without
    // --credentials accepts.
    let url = format!("aws://?endpoint={}", emu.endpoint_url());
    let b = connect(&url).await.unwrap();
    assert_eq!(b.name(), "aws");
    cvv_round_trip(b.as_ref()).await;
}

#[tokio::test]
async fn bad_urls_fail_before_any_connection() {
    for (url, kind) in [
        (
            "payshield://127.0.0.1:1500?colour=red",
            ErrorKind::InvalidInput,
        ),
        ("payshield://127.0.0.1", ErrorKind::InvalidInput),
        // TLS needs the CA that verifies the HSM.
        ("payshields://127.0.0.1:1500", ErrorKind::InvalidInput),
        // A cluster lists each host once.
        (
            "payshield://127.0.0.1:1500,127.0.0.1:1500",
            ErrorKind::InvalidInput,
        ),
        ("aws://eu-west-1?endpoint=ftp://x", ErrorKind::InvalidInput),
        ("mainframe://x", ErrorKind::InvalidInput),
    ] {
        let e = connect(url).await.err().expect(url);
        assert_eq!(e.kind(), kind, "{url}: {e}");
    }
}

//! `payshields://`: the payShield client over TLS against the simulator
//! serving TLS (certificates made here with rcgen): the server certificate
//! verified, a wrong CA or name refused with a clear error, client
//! certificates required by the simulator.

use paycrypto::payshield::{
    KeyTable, PayShieldBackend, PayShieldConfig, TlsConfig, TlsServerConfig,
};
use paycrypto::server::payshield::{start, SimConfig, SimHandle};
use paycrypto::{BackendUrl, ErrorKind};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A directory of its own for one test's PEM files (removed on drop).
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "paycrypto-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn write(&self, name: &str, pem: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, pem).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA: its certificate PEM, certificate and key (to sign with).
struct Ca {
    pem: String,
    cert: Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        cert,
        key,
    }
}

/// A leaf certificate for `names` (DNS names; `127.0.0.1` as an IP SAN)
/// signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &Ca, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    for n in names {
        p.subject_alt_names.push(match n.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().unwrap()),
        });
    }
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A TLS simulator whose certificate `ca` signed for 127.0.0.1 and
/// `hsm.test`; with `client_ca`, client certificates are required.
async fn tls_sim(dir: &Dir, ca: &Ca, client_ca: Option<&Path>) -> SimHandle {
    let (cert, key) = leaf(
        ca,
        &["hsm.test", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let cert = dir.write("server.pem", &cert);
    let key = dir.write("server.key", &key);
    let tls = TlsServerConfig::from_pem_files(&cert, &key, client_ca).unwrap();
    start(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn config(sim: &SimHandle, tls: TlsConfig) -> PayShieldConfig {
    let mut c = PayShieldConfig::new(sim.addr().to_string());
    c.tls = Some(tls);
    c.connect_timeout = Duration::from_millis(500);
    c
}

#[tokio::test]
async fn the_server_certificate_is_verified() {
    let dir = Dir::new();
    let ca = ca("payShield test CA");
    let ca_file = dir.write("ca.pem", &ca.pem);
    let sim = tls_sim(&dir, &ca, None).await;
    // By IP address (the certificate names 127.0.0.1)…
    let ps = PayShieldBackend::connect(config(&sim, TlsConfig::new(&ca_file)), KeyTable::new())
        .await
        .unwrap();
    let (lmk_kcv, firmware) = ps.diagnostics().await.unwrap();
    assert_eq!((lmk_kcv.len(), firmware.as_str()), (16, "1500-0023"));
    // …by the name it carries, through a URL…
    let url = format!(
        "payshields://{}?ca={}&server_name=hsm.test",
        sim.addr(),
        ca_file.display()
    );
    let b = paycrypto::connect(&url).await.unwrap();
    assert!(b.capabilities().operations.len() > 1);
    let BackendUrl::PayShield(u) = url.parse::<BackendUrl>().unwrap() else {
        panic!("payshield URL")
    };
    u.connect(KeyTable::new())
        .await
        .unwrap()
        .diagnostics()
        .await
        .unwrap();
    // …and a plain client gets no answer from a TLS port.
    let mut plain = PayShieldConfig::new(sim.addr().to_string());
    plain.request_timeout = Duration::from_millis(300);
    if let Ok(ps) = PayShieldBackend::connect(plain, KeyTable::new()).await {
        let e = ps.diagnostics().await.unwrap_err();
        assert!(e.kind().is_transient(), "{e}");
    }
}

#[tokio::test]
async fn a_wrong_ca_or_name_is_refused_with_a_clear_error() {
    let dir = Dir::new();
    let ca_ok = ca("payShield test CA");
    let other = ca("another CA");
    let other_file = dir.write("other.pem", &other.pem);
    let ok_file = dir.write("ca.pem", &ca_ok.pem);
    let sim = tls_sim(&dir, &ca_ok, None).await;
    let e = PayShieldBackend::connect(config(&sim, TlsConfig::new(&other_file)), KeyTable::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("TLS handshake failed"), "{msg}");
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    assert!(msg.contains(&sim.addr().to_string()), "{msg}");
    let e = PayShieldBackend::connect(
        config(
            &sim,
            TlsConfig::new(&ok_file).with_server_name("other.test"),
        ),
        KeyTable::new(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("not valid for name \"other.test\""),
        "{e}"
    );
    // Files that do not hold what they should: InvalidInput naming them.
    let e = PayShieldBackend::connect(
        config(&sim, TlsConfig::new(dir.0.join("missing.pem"))),
        KeyTable::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("CA file"), "{e}");
    let e = PayShieldBackend::connect(
        config(&sim, TlsConfig::new(dir.write("empty.pem", ""))),
        KeyTable::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
}

#[tokio::test]
async fn client_certificates_required_by_the_simulator() {
    let dir = Dir::new();
    let server_ca = ca("payShield test CA");
    let client_ca = ca("host application CA");
    let ca_file = dir.write("ca.pem", &server_ca.pem);
    let client_ca_file = dir.write("client-ca.pem", &client_ca.pem);
    let sim = tls_sim(&dir, &server_ca, Some(&client_ca_file)).await;
    // Without a certificate: refused.
    let mut cfg = config(&sim, TlsConfig::new(&ca_file));
    cfg.request_timeout = Duration::from_secs(2);
    let refused = match PayShieldBackend::connect(cfg, KeyTable::new()).await {
        Err(e) => e,
        Ok(ps) => ps.diagnostics().await.unwrap_err(),
    };
    assert_eq!(refused.kind(), ErrorKind::Transient, "{refused}");
    // TLS 1.3: the client's handshake ends before the HSM checks its
    // certificate, so the refusal (a fatal alert) arrives on the first read.
    assert!(
        refused.to_string().contains("CertificateRequired"),
        "{refused}"
    );
    // With one from the wrong CA: refused too.
    let (cert, key) = leaf(
        &server_ca,
        &["host.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let wrong = TlsConfig::new(&ca_file)
        .with_client_cert(dir.write("wrong.pem", &cert), dir.write("wrong.key", &key));
    let mut cfg = config(&sim, wrong);
    cfg.request_timeout = Duration::from_secs(2);
    let e = match PayShieldBackend::connect(cfg, KeyTable::new()).await {
        Err(e) => e,
        Ok(ps) => ps.diagnostics().await.unwrap_err(),
    };
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    // With one the client CA issued: served.
    let (cert, key) = leaf(
        &client_ca,
        &["host.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let good = TlsConfig::new(&ca_file).with_client_cert(
        dir.write("client.pem", &cert),
        dir.write("client.key", &key),
    );
    let ps = PayShieldBackend::connect(config(&sim, good), KeyTable::new())
        .await
        .unwrap();
    ps.diagnostics().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let ps = ps.clone();
        tasks.push(tokio::spawn(async move { ps.diagnostics().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(ps.hosts()[0].answered, 101);
    // A certificate without its key is refused before connecting.
    let half = TlsConfig {
        client_key_file: None,
        ..TlsConfig::new(&ca_file).with_client_cert(dir.0.join("client.pem"), "x")
    };
    let e = PayShieldBackend::connect(config(&sim, half), KeyTable::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn a_cluster_over_tls() {
    let dir = Dir::new();
    let ca = ca("payShield test CA");
    let ca_file = dir.write("ca.pem", &ca.pem);
    let a = tls_sim(&dir, &ca, None).await;
    let b = tls_sim(&dir, &ca, None).await;
    let url = format!(
        "payshields://{},{}?ca={}&connections=2&health_check=100ms",
        a.addr(),
        b.addr(),
        ca_file.display()
    );
    let BackendUrl::PayShield(u) = url.parse::<BackendUrl>().unwrap() else {
        panic!("payshield URL")
    };
    let ps = u.connect(KeyTable::new()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let ps = ps.clone();
        tasks.push(tokio::spawn(async move { ps.diagnostics().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let hosts = ps.hosts();
    assert_eq!(hosts.len(), 2);
    assert!(
        hosts.iter().all(|h| h.healthy && h.answered > 0),
        "{hosts:?}"
    );
}

/// `paycrypto proxy payshield` serves TLS as the simulator does: a client
/// over TLS (the proxy's certificate verified) gets the plain simulator's
/// answers through it, and a plain client gets none.
#[cfg(feature = "layers")]
#[tokio::test]
async fn the_proxy_serves_tls_in_front_of_a_plain_simulator() {
    use paycrypto::proxy::{self, KeyMap, PayShieldProxy, ProxyConfig, ProxyPrimary};
    use std::sync::Arc;
    let dir = Dir::new();
    let ca = ca("proxy test CA");
    let ca_file = dir.write("ca.pem", &ca.pem);
    let (cert, key) = leaf(&ca, &["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    let (cert, key) = (dir.write("proxy.pem", &cert), dir.write("proxy.key", &key));
    let sim = start(SimConfig::default()).await.unwrap();
    let primary = PayShieldBackend::connect(
        PayShieldConfig::new(sim.addr().to_string()),
        KeyTable::new(),
    )
    .await
    .unwrap();
    let p = PayShieldProxy::new(
        primary.clone(),
        Arc::new(ProxyPrimary::new(primary.clone())),
        KeyMap::default(),
        ProxyConfig {
            tls: Some(TlsServerConfig::from_pem_files(&cert, &key, None).unwrap()),
            ..ProxyConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = proxy::start(listener, Arc::new(p)).unwrap();
    let mut c = PayShieldConfig::new(handle.addr().to_string());
    c.tls = Some(TlsConfig::new(&ca_file));
    let via = PayShieldBackend::connect(c, KeyTable::new()).await.unwrap();
    for body in [&b"NC"[..], b"B20005HELLO", b"ZZ"] {
        assert_eq!(
            via.command_raw(body).await.unwrap(),
            primary.command_raw(body).await.unwrap(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(handle.stats().passed_through, 3);
    let mut plain = PayShieldConfig::new(handle.addr().to_string());
    plain.request_timeout = Duration::from_millis(300);
    if let Ok(ps) = PayShieldBackend::connect(plain, KeyTable::new()).await {
        assert!(ps.diagnostics().await.is_err());
    }
}

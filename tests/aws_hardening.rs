//! The AWS emulator as attack surface: the signature covers the body and
//! the credential scope, slow clients are timed out and cannot lock others
//! out, memory comes back after an attack, RSA key generation does not stall
//! other clients, a state file that cannot be written leaves no half-done
//! change, and (with the `cli` feature) the command line's credentials
//! sources and dev-mode warning.
//!
//! Every emulator listens on 127.0.0.1:0; every loop is bounded in count and
//! time. The tests run one at a time (they measure memory and latency).

use paycrypto::server::aws::{start, Credentials, EmulatorConfig, RunningEmulator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AK: &str = "AKIDHARDENINGTEST";
const SK: &str = "hardening/secret/key";
const CP: &str = "PaymentCryptographyControlPlane.";
/// An `Authorization` header for development mode (no credentials): well
/// formed, never verified.
const DEV_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDANY/20250101/us-east-1/payment-cryptography/aws4_request, SignedHeaders=host, Signature=00";

/// One test at a time: they measure memory and latency.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn with_credentials() -> EmulatorConfig {
    EmulatorConfig {
        credentials: Credentials::parse(&format!("{AK}:{SK}")),
        ..Default::default()
    }
}

// ------------------------------------------------------------------ SigV4

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for now (civil-from-days, Howard Hinnant).
fn amz_date_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How to sign one control-plane request.
struct Signing<'a> {
    /// The body the signature is computed for.
    signed_body: &'a [u8],
    region: &'a str,
    service: &'a str,
    secret: &'a str,
    /// An `x-amz-content-sha256` header to send, and whether it is signed.
    content_sha256: Option<(&'a str, bool)>,
    /// The payload hash used in the canonical request (default: SHA-256 of
    /// `signed_body`).
    payload_hash: Option<&'a str>,
}

impl<'a> Signing<'a> {
    fn new(signed_body: &'a [u8]) -> Self {
        Self {
            signed_body,
            region: "us-east-1",
            service: "payment-cryptography",
            secret: SK,
            content_sha256: None,
            payload_hash: None,
        }
    }
}

/// The headers (name, value) of a control-plane request to `host`, signed
/// as `s` says.
fn signed_headers(host: &str, op: &str, s: &Signing<'_>) -> Vec<(String, String)> {
    let amz_date = amz_date_now();
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/x-amz-json-1.0".into()),
        ("host".into(), host.into()),
        ("x-amz-date".into(), amz_date.clone()),
        ("x-amz-target".into(), format!("{CP}{op}")),
    ];
    let mut signed = headers.clone();
    if let Some((v, is_signed)) = s.content_sha256 {
        headers.push(("x-amz-content-sha256".into(), v.into()));
        if is_signed {
            signed.push(("x-amz-content-sha256".into(), v.into()));
        }
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    let signed_names = signed_names.join(";");
    let payload_hash = s
        .payload_hash
        .map(str::to_owned)
        .unwrap_or_else(|| sha256_hex(s.signed_body));
    let canonical_request =
        format!("POST\n/\n\n{canonical_headers}\n{signed_names}\n{payload_hash}");
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k = hmac(format!("AWS4{}", s.secret).as_bytes(), date.as_bytes());
    let k = hmac(&k, s.region.as_bytes());
    let k = hmac(&k, s.service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    let signature = hex::encode(hmac(&k, string_to_sign.as_bytes()));
    headers.push((
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed_names}, Signature={signature}"),
    ));
    headers
}

// ------------------------------------------------------------------ raw HTTP

/// Sends one `POST` with `headers` and `body` (plus Content-Length and
/// `Connection: close`) and reads the answer: (status, body). Status 0 when
/// the connection closed without an answer.
async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    let mut head = format!("POST {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k == "host") {
        head.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("send head");
        s.write_all(body).await.expect("send body");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("an answer within 20 s");
    parse_response(&out)
}

fn parse_response(out: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A signed control-plane request: `s` says what is signed, `sent_body` is
/// what is sent.
async fn signed(
    emu: &RunningEmulator,
    op: &str,
    s: &Signing<'_>,
    sent_body: &[u8],
) -> (u16, String) {
    let headers = signed_headers(&emu.addr().to_string(), op, s);
    post(emu.addr(), "/", &headers, sent_body).await
}

/// A development-mode control-plane request (any signature accepted).
async fn dev(addr: std::net::SocketAddr, op: &str, body: &str) -> (u16, String) {
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.0".to_owned(),
        ),
        ("x-amz-target".to_owned(), format!("{CP}{op}")),
        ("authorization".to_owned(), DEV_AUTH.to_owned()),
    ];
    post(addr, "/", &headers, body.as_bytes()).await
}

/// Runs a control-plane operation in-process (no socket, no signature).
async fn direct(emu: &RunningEmulator, op: &str, body: &Value) -> (u16, Value) {
    let a = emu
        .emulator()
        .handle_json(
            "POST",
            "/",
            Some(&format!("{CP}{op}")),
            body.to_string().as_bytes(),
        )
        .await;
    (
        a.status,
        serde_json::from_slice(&a.body).unwrap_or(Value::Null),
    )
}

fn create_key_body() -> Value {
    json!({
        "KeyAttributes": {
            "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true }
        },
        "Exportable": true
    })
}

async fn new_key(emu: &RunningEmulator) -> String {
    let (status, v) = direct(emu, "CreateKey", &create_key_body()).await;
    assert_eq!(status, 200, "{v}");
    v["Key"]["KeyArn"].as_str().expect("KeyArn").to_owned()
}

async fn key_state(emu: &RunningEmulator, arn: &str) -> String {
    let (status, v) = direct(emu, "GetKey", &json!({ "KeyIdentifier": arn })).await;
    assert_eq!(status, 200, "{v}");
    v["Key"]["KeyState"].as_str().expect("KeyState").to_owned()
}

// ------------------------------------------------------------------ 1. body

/// A signature made for `DeleteKey(A)` must not delete B when the body is
/// swapped, whatever `x-amz-content-sha256` claims (signed or not), and
/// `UNSIGNED-PAYLOAD` is refused.
#[test]
fn the_signature_covers_the_body() {
    let _serial = serial();
    runtime().block_on(async {
        let emu = start(with_credentials()).await.expect("start");
        let (a, b) = (new_key(&emu).await, new_key(&emu).await);
        let body_a = json!({ "KeyIdentifier": a, "DeleteKeyInDays": 3 }).to_string();
        let body_b = json!({ "KeyIdentifier": b, "DeleteKeyInDays": 3 }).to_string();
        let hash_a = sha256_hex(body_a.as_bytes());
        let attacks: [(&str, Signing<'_>); 4] = [
            ("no header", Signing::new(body_a.as_bytes())),
            (
                "unsigned x-amz-content-sha256 of A",
                Signing {
                    content_sha256: Some((&hash_a, false)),
                    payload_hash: Some(&hash_a),
                    ..Signing::new(body_a.as_bytes())
                },
            ),
            (
                "signed x-amz-content-sha256 of A",
                Signing {
                    content_sha256: Some((&hash_a, true)),
                    payload_hash: Some(&hash_a),
                    ..Signing::new(body_a.as_bytes())
                },
            ),
            (
                "UNSIGNED-PAYLOAD",
                Signing {
                    content_sha256: Some(("UNSIGNED-PAYLOAD", true)),
                    payload_hash: Some("UNSIGNED-PAYLOAD"),
                    ..Signing::new(body_a.as_bytes())
                },
            ),
        ];
        for (what, s) in &attacks {
            let (status, body) = signed(&emu, "DeleteKey", s, body_b.as_bytes()).await;
            assert_eq!(status, 403, "{what}: {body}");
            assert!(body.contains("InvalidSignatureException"), "{what}: {body}");
            assert_eq!(
                key_state(&emu, &b).await,
                "CREATE_COMPLETE",
                "{what}: B deleted"
            );
        }
        // UNSIGNED-PAYLOAD is refused even for the body it comes with.
        let s = Signing {
            content_sha256: Some(("UNSIGNED-PAYLOAD", true)),
            payload_hash: Some("UNSIGNED-PAYLOAD"),
            ..Signing::new(body_a.as_bytes())
        };
        let (status, body) = signed(&emu, "DeleteKey", &s, body_a.as_bytes()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(key_state(&emu, &a).await, "CREATE_COMPLETE");
        // The same signer is right: the honest requests pass, with and
        // without a (correct, signed) x-amz-content-sha256.
        let s = Signing {
            content_sha256: Some((&hash_a, true)),
            ..Signing::new(body_a.as_bytes())
        };
        let (status, body) = signed(&emu, "DeleteKey", &s, body_a.as_bytes()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(key_state(&emu, &a).await, "DELETE_PENDING");
        let (status, body) = signed(
            &emu,
            "DeleteKey",
            &Signing::new(body_b.as_bytes()),
            body_b.as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(key_state(&emu, &b).await, "DELETE_PENDING");
        emu.shutdown().await;
    });
}

// ------------------------------------------------------------------ 2. scope

/// A valid signature scoped to another region or service is refused with
/// the service's messages.
#[test]
fn the_credential_scope_is_checked() {
    let _serial = serial();
    runtime().block_on(async {
        let emu = start(with_credentials()).await.expect("start");
        let body = b"{}";
        let (status, out) = signed(&emu, "ListKeys", &Signing::new(body), body).await;
        assert_eq!(status, 200, "{out}");
        let s = Signing {
            region: "eu-west-1",
            ..Signing::new(body)
        };
        let (status, out) = signed(&emu, "ListKeys", &s, body).await;
        assert_eq!(status, 403, "{out}");
        assert!(out.contains("InvalidSignatureException"), "{out}");
        assert!(
            out.contains("Credential should be scoped to a valid region, not 'eu-west-1'."),
            "{out}"
        );
        let s = Signing {
            service: "kms",
            ..Signing::new(body)
        };
        let (status, out) = signed(&emu, "ListKeys", &s, body).await;
        assert_eq!(status, 403, "{out}");
        assert!(out.contains("InvalidSignatureException"), "{out}");
        assert!(
            out.contains("Credential should be scoped to correct service: 'payment-cryptography'."),
            "{out}"
        );
        emu.shutdown().await;
        // An emulator for eu-west-1 takes eu-west-1 signatures, not us-east-1.
        let emu = start(EmulatorConfig {
            region: "eu-west-1".into(),
            ..with_credentials()
        })
        .await
        .expect("start");
        let s = Signing {
            region: "eu-west-1",
            ..Signing::new(body)
        };
        let (status, out) = signed(&emu, "ListKeys", &s, body).await;
        assert_eq!(status, 200, "{out}");
        let (status, out) = signed(&emu, "ListKeys", &Signing::new(body), body).await;
        assert_eq!(status, 403, "{out}");
        emu.shutdown().await;
    });
}

// ------------------------------------------------------------------ 3. slow clients

/// Resident memory of this process, in KiB.
fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Waits (bounded) until the server closes `s` or answers; true when it did
/// within `within`.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let mut out = Vec::new();
    let r = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    (r.is_ok(), out)
}

/// 40 slowloris connections against a limit of 32: a normal client is
/// served at once (it evicts the oldest), and every slowloris connection is
/// closed by the header timeout; the connection count returns to zero.
#[test]
fn slowloris_is_timed_out_and_cannot_lock_out_a_client() {
    let _serial = serial();
    runtime().block_on(async {
        let emu = start(EmulatorConfig {
            header_timeout: Duration::from_secs(2),
            max_connections: 32,
            ..Default::default()
        })
        .await
        .expect("start");
        let addr = emu.addr();
        let mut attackers = Vec::new();
        for _ in 0..40 {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
                .await
                .expect("send");
            attackers.push(s);
        }
        // Trickle one header byte per connection every 200 ms, for 600 ms.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for s in &mut attackers {
                let _ = s.write_all(b"X").await;
            }
        }
        let t = Instant::now();
        let (status, body) = dev(addr, "ListKeys", "{}").await;
        let waited = t.elapsed();
        eprintln!("normal client during slowloris: {waited:?}");
        assert_eq!(status, 200, "{body}");
        assert!(waited < Duration::from_secs(1), "waited {waited:?}");
        // Every slowloris connection is closed: evicted, or at 2 s.
        let t = Instant::now();
        for s in &mut attackers {
            let (closed, _) = closed_by_server(s, Duration::from_secs(4)).await;
            assert!(
                closed,
                "a slowloris connection still open after {:?}",
                t.elapsed()
            );
        }
        eprintln!(
            "slowloris connections all closed {:?} after the client",
            t.elapsed()
        );
        let deadline = Instant::now() + Duration::from_secs(2);
        while emu.emulator().open_connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(emu.emulator().open_connections(), 0);
        emu.shutdown().await;
    });
}

/// One development-mode ListKeys on a kept-alive connection: the first
/// bytes of the answer (it fits one read).
async fn keep_alive_list_keys(s: &mut TcpStream, addr: std::net::SocketAddr) -> String {
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\nx-amz-target: {CP}ListKeys\r\nauthorization: {DEV_AUTH}\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    s.write_all(request.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// At the limit, a new client evicts the connection idle longest (after
/// its answer was delivered), not a more recent one.
#[test]
fn at_the_limit_the_longest_idle_connection_makes_room() {
    let _serial = serial();
    runtime().block_on(async {
        let emu = start(EmulatorConfig {
            max_connections: 2,
            ..Default::default()
        })
        .await
        .expect("start");
        let addr = emu.addr();
        let mut older = TcpStream::connect(addr).await.expect("connect");
        let answer = keep_alive_list_keys(&mut older, addr).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut newer = TcpStream::connect(addr).await.expect("connect");
        let answer = keep_alive_list_keys(&mut newer, addr).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let t = Instant::now();
        let (status, body) = dev(addr, "ListKeys", "{}").await;
        assert_eq!(status, 200, "{body}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        let (closed, rest) = closed_by_server(&mut older, Duration::from_secs(2)).await;
        assert!(
            closed && rest.is_empty(),
            "the longest idle connection is closed"
        );
        let answer = keep_alive_list_keys(&mut newer, addr).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "the newer one still serves: {answer}"
        );
        emu.shutdown().await;
    });
}

/// A kept-alive connection may stay idle longer than the header timeout
/// (the idle timeout applies), and is closed once idle past it.
#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let _serial = serial();
    runtime().block_on(async {
        let emu = start(EmulatorConfig {
            header_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(1500),
            ..Default::default()
        })
        .await
        .expect("start");
        let mut s = TcpStream::connect(emu.addr()).await.expect("connect");
        for round in 0..2 {
            let answer = keep_alive_list_keys(&mut s, emu.addr()).await;
            assert!(
                answer.starts_with("HTTP/1.1 200"),
                "round {round}: {answer}"
            );
            // Idle past the header timeout, within the idle timeout.
            tokio::time::sleep(Duration::from_millis(900)).await;
        }
        let t = Instant::now();
        let (closed, rest) = closed_by_server(&mut s, Duration::from_secs(3)).await;
        assert!(closed, "idle connection still open");
        assert!(rest.is_empty());
        let idle = t.elapsed() + Duration::from_millis(900);
        eprintln!("idle connection closed after {idle:?}");
        assert!(
            idle >= Duration::from_millis(1400),
            "closed too early: {idle:?}"
        );
        emu.shutdown().await;
    });
}

/// 300 connections each sending 200 KiB of a declared 256 KiB body: they
/// get a 408 (or are evicted) within the body timeout, and resident memory
/// returns near where it started.
#[test]
fn half_sent_bodies_time_out_and_memory_comes_back() {
    let _serial = serial();
    const ATTACKERS: usize = 300;
    const SENT: usize = 200 * 1024;
    runtime().block_on(async {
        let emu = start(EmulatorConfig {
            body_timeout: Duration::from_secs(1),
            max_connections: 64,
            ..Default::default()
        })
        .await
        .expect("start");
        let addr = emu.addr();
        let (status, _) = dev(addr, "ListKeys", "{}").await;
        assert_eq!(status, 200);
        let before = vm_rss_kib();
        let head = format!(
            "POST /keys/alias%2Fx/encrypt HTTP/1.1\r\nhost: {addr}\r\nauthorization: {DEV_AUTH}\r\ncontent-length: {}\r\n\r\n",
            256 * 1024
        );
        let payload: &'static [u8] = Box::leak(vec![b'0'; SENT].into_boxed_slice());
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..ATTACKERS {
            let head = head.clone();
            tasks.spawn(async move {
                let mut s = TcpStream::connect(addr).await.ok()?;
                let send = async {
                    s.write_all(head.as_bytes()).await?;
                    s.write_all(payload).await
                };
                // An evicted connection may refuse the rest: that is fine.
                let _ = tokio::time::timeout(Duration::from_secs(5), send).await;
                let (closed, out) = closed_by_server(&mut s, Duration::from_secs(8)).await;
                Some((closed, out.starts_with(b"HTTP/1.1 408")))
            });
        }
        let mut peak = 0;
        let (mut closed, mut timeouts) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            peak = peak.max(vm_rss_kib());
            if let Ok(Some((c, t408))) = r {
                closed += usize::from(c);
                timeouts += usize::from(t408);
            }
        }
        let elapsed = t.elapsed();
        let deadline = Instant::now() + Duration::from_secs(3);
        while emu.emulator().open_connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = vm_rss_kib();
        eprintln!(
            "half-sent bodies: {closed}/{ATTACKERS} closed by the server in {elapsed:?} \
             ({timeouts} with a 408); RSS before {before} KiB, peak {peak} KiB, after {after} KiB"
        );
        assert_eq!(closed, ATTACKERS, "every attacker closed by the server");
        assert!(timeouts > 0, "the last ones get a 408");
        assert_eq!(emu.emulator().open_connections(), 0);
        assert!(
            after < before + 24 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
        // Still serving.
        let (status, _) = dev(addr, "ListKeys", "{}").await;
        assert_eq!(status, 200);
        emu.shutdown().await;
    });
}

// ------------------------------------------------------------------ 4. RSA flood

/// Six concurrent RSA-4096 GetParametersForImport requests do not stall a
/// cheap request from another client.
#[test]
fn rsa_key_generation_does_not_stall_other_clients() {
    let _serial = serial();
    const FLOOD: usize = 6;
    runtime().block_on(async {
        let emu = start(EmulatorConfig::default()).await.expect("start");
        let addr = emu.addr();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut flood = tokio::task::JoinSet::new();
        for _ in 0..FLOOD {
            let done = done.clone();
            flood.spawn(async move {
                let (status, body) = dev(
                    addr,
                    "GetParametersForImport",
                    r#"{"KeyMaterialType":"KEY_CRYPTOGRAM","WrappingKeyAlgorithm":"RSA_4096"}"#,
                )
                .await;
                assert_eq!(status, 200, "{body}");
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        let (status, body) = dev(addr, "ListKeys", "{}").await;
        let waited = t.elapsed();
        let finished = done.load(std::sync::atomic::Ordering::SeqCst);
        eprintln!("ListKeys during the RSA-4096 flood: {waited:?} ({finished}/{FLOOD} RSA done)");
        assert_eq!(status, 200, "{body}");
        assert!(finished < FLOOD, "the flood was over before the probe");
        assert!(waited < Duration::from_millis(1000), "waited {waited:?}");
        flood.abort_all();
        emu.shutdown().await;
    });
}

// ------------------------------------------------------------------ 6. state file

/// A change that cannot be saved fails and is rolled back: no key appears
/// (so an SDK retry cannot create a second one), no alias appears. The
/// state file is private to its owner.
#[test]
fn a_change_that_cannot_be_saved_is_rolled_back() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("paycrypto-hardening-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("state.json");
    runtime().block_on(async {
        let emu = start(EmulatorConfig {
            state_file: Some(file.clone()),
            ..Default::default()
        })
        .await
        .expect("start");
        let arn = new_key(&emu).await;
        assert_eq!(emu.emulator().key_count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file)
                .expect("state file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "state file mode {mode:o}");
        }
        // The state path becomes a directory: every save now fails.
        std::fs::remove_file(&file).expect("remove state file");
        std::fs::create_dir(&file).expect("directory in its place");
        let (status, v) = direct(&emu, "CreateKey", &create_key_body()).await;
        assert_eq!(status, 500, "{v}");
        assert_eq!(v["__type"], "InternalServerException", "{v}");
        assert_eq!(
            emu.emulator().key_count(),
            1,
            "the failed CreateKey left a key"
        );
        let (status, v) = direct(&emu, "ListKeys", &json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(v["Keys"].as_array().map(Vec::len), Some(1), "{v}");
        let (status, _) = direct(
            &emu,
            "CreateAlias",
            &json!({ "AliasName": "alias/rolled-back", "KeyArn": arn }),
        )
        .await;
        assert_eq!(status, 500);
        let (status, v) = direct(
            &emu,
            "GetAlias",
            &json!({ "AliasName": "alias/rolled-back" }),
        )
        .await;
        assert_eq!(status, 404, "{v}");
        assert_eq!(v["__type"], "ResourceNotFoundException", "{v}");
        let (status, _) = direct(&emu, "StopKeyUsage", &json!({ "KeyIdentifier": arn })).await;
        assert_eq!(status, 500);
        assert_eq!(
            direct(&emu, "GetKey", &json!({ "KeyIdentifier": arn }))
                .await
                .1["Key"]["Enabled"],
            true
        );
        // Writable again: the next change saves, with only what succeeded.
        std::fs::remove_dir(&file).expect("remove the directory");
        new_key(&emu).await;
        assert_eq!(emu.emulator().key_count(), 2);
        let saved: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("state file")).expect("JSON");
        assert_eq!(saved["keys"].as_array().map(Vec::len), Some(2));
        assert!(
            saved["aliases"].as_object().is_some_and(|m| m.is_empty()),
            "{}",
            saved["aliases"]
        );
        // Nothing but the state file in its directory (no temporary files).
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        emu.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ 5. the command line

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use paycrypto::server::aws::DEV_MODE_WARNING;
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Child, Command, Stdio};

    fn bin() -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_paycrypto"));
        c.env_remove("PAYCRYPTO_EMULATOR_CREDENTIALS");
        c
    }

    /// `paycrypto serve aws` on 127.0.0.1:0: the child, its address, and
    /// the rest of stdout (after the `listening on` line).
    fn spawn(
        mut cmd: Command,
        extra: &[&std::ffi::OsStr],
    ) -> (
        Child,
        std::net::SocketAddr,
        BufReader<std::process::ChildStdout>,
    ) {
        let mut child = cmd
            .args(["serve", "aws", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        let addr = line
            .strip_prefix("listening on http://")
            .and_then(|l| l.strip_suffix('\n'))
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("unexpected first line {line:?}; stderr: {err}");
        };
        (child, addr, stdout)
    }

    /// Kills the child (by its id) and returns the rest of stdout and all
    /// of stderr.
    fn finish(
        mut child: Child,
        mut stdout: BufReader<std::process::ChildStdout>,
    ) -> (String, String) {
        let _ = child.kill();
        let _ = child.wait();
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (out, err)
    }

    async fn list_keys(addr: std::net::SocketAddr, secret: &str) -> u16 {
        let body = b"{}";
        let s = Signing {
            secret,
            ..Signing::new(body)
        };
        let headers = signed_headers(&addr.to_string(), "ListKeys", &s);
        post(addr, "/", &headers, body).await.0
    }

    #[test]
    fn help_shows_the_new_options_and_their_defaults() {
        let out = bin()
            .args(["serve", "aws", "--help"])
            .output()
            .expect("run");
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "--header-timeout",
            "--body-timeout",
            "--idle-timeout",
            "--max-connections",
            "--credentials-file",
            "PAYCRYPTO_EMULATOR_CREDENTIALS",
            "[default: 10]",
            "[default: 60]",
            "[default: 128]",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
    }

    /// Without credentials: exactly one warning line on stderr, and stdout
    /// holds only the `listening on` line.
    #[test]
    fn dev_mode_warns_once_on_stderr() {
        let _serial = serial();
        let (child, addr, stdout) = spawn(bin(), &[]);
        let status = runtime().block_on(list_keys(addr, "anything"));
        assert_eq!(status, 200, "dev mode accepts any signature");
        let (out, err) = finish(child, stdout);
        assert_eq!(out, "", "stdout after the listening line");
        assert_eq!(err, format!("{DEV_MODE_WARNING}\n"));
    }

    /// Credentials from a file or the environment: verified, no warning, and
    /// the secret is not on the command line.
    #[test]
    fn credentials_from_a_file_or_the_environment() {
        let _serial = serial();
        let path =
            std::env::temp_dir().join(format!("paycrypto-hardening-creds-{}", std::process::id()));
        std::fs::write(&path, format!("{AK}:{SK}\n")).expect("write credentials");
        let mut from_env = bin();
        from_env.env("PAYCRYPTO_EMULATOR_CREDENTIALS", format!("{AK}:{SK}"));
        let file_args = [std::ffi::OsStr::new("--credentials-file"), path.as_os_str()];
        for (what, cmd, extra) in [
            ("file", bin(), &file_args[..]),
            ("environment", from_env, &[][..]),
        ] {
            let (child, addr, stdout) = spawn(cmd, extra);
            let rt = runtime();
            assert_eq!(rt.block_on(list_keys(addr, SK)), 200, "{what}");
            assert_eq!(rt.block_on(list_keys(addr, "wrong")), 403, "{what}");
            let (out, err) = finish(child, stdout);
            assert_eq!((out.as_str(), err.as_str()), ("", ""), "{what}");
        }
        // Bad sources exit 2 and never echo a secret.
        std::fs::write(&path, "no-colon-s3cr3t\n").expect("write");
        let out = bin()
            .args([
                "serve",
                "aws",
                "--listen",
                "127.0.0.1:0",
                "--credentials-file",
            ])
            .arg(&path)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--credentials-file") && !err.contains("s3cr3t"),
            "{err}"
        );
        let out = bin()
            .env("PAYCRYPTO_EMULATOR_CREDENTIALS", "AKID:")
            .args(["serve", "aws", "--listen", "127.0.0.1:0"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("PAYCRYPTO_EMULATOR_CREDENTIALS"), "{err}");
        let _ = std::fs::remove_file(&path);
    }

    /// The `paycrypto serve aws` process itself (its runtime, not only the
    /// library) serves a cheap request during an RSA-4096 flood.
    #[test]
    fn the_serving_process_is_not_stalled_by_rsa_generation() {
        let _serial = serial();
        const FLOOD: usize = 6;
        let (child, addr, stdout) = spawn(bin(), &[]);
        let rt = runtime();
        let waited = rt.block_on(async {
            let mut flood = tokio::task::JoinSet::new();
            for _ in 0..FLOOD {
                flood.spawn(dev(
                    addr,
                    "GetParametersForImport",
                    r#"{"KeyMaterialType":"KEY_CRYPTOGRAM","WrappingKeyAlgorithm":"RSA_4096"}"#,
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let t = Instant::now();
            let (status, body) = dev(addr, "ListKeys", "{}").await;
            assert_eq!(status, 200, "{body}");
            let waited = t.elapsed();
            flood.abort_all();
            waited
        });
        drop(rt);
        let _ = finish(child, stdout);
        eprintln!("paycrypto serve aws: ListKeys during the RSA-4096 flood took {waited:?}");
        assert!(waited < Duration::from_millis(1000), "waited {waited:?}");
    }
}

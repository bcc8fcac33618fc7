//! Migration drill: an HSM primary shadowed by a cloud candidate, then the
//! primary killed mid-run while failover finishes the workload.
//!
//! 1. Starts the payShield simulator in-process on 127.0.0.1:0 (the "HSM",
//!    public test LMK) and the AWS Payment Cryptography emulator on
//!    127.0.0.1:0 (the cloud candidate, reached through the AWS SDK with
//!    signed requests), and loads the same keys into both the way a key
//!    ceremony does: a KEK from clear components (on the HSM entered at its
//!    console, here encrypted under the test LMK into the key table; on AWS
//!    through the service's import path for clear keys, an RSA-OAEP key
//!    cryptogram under its import certificate), then working keys as TR-31
//!    blocks under it.
//! 2. Runs a mixed gateway workload of operations both sides support (PIN
//!    translate ISO 0 → 3 and ISO 1 → 0 with TDES zone keys, TDES DUKPT PIN
//!    translate (G0), DUKPT / P2PE decrypt (M2), CVV2 verify (CY), Visa ARQC
//!    verify with ARPC method 1 (KQ)) through
//!    `Metrics(Retry(Failover[Shadow(Timeout(primary), candidate), Timeout(candidate)]))`
//!    and prints the discrepancy report (ISO 3 PIN blocks compare by meaning:
//!    both are translated to ISO 0 under a compare key on the candidate).
//! 3. Kills the primary in the middle of a second run — the simulator is
//!    shut down: open connections close and new ones are refused — and
//!    shows failover finishing it: every answer is checked against the test
//!    keys, and the count of failed requests is printed last (the correct
//!    number is 0; the process exits non-zero otherwise).
//!
//! With `--html FILE` (feature `html-report`) it also writes the shadow
//! report as a self-contained HTML page with charts: discrepancy rate,
//! latency percentiles per backend and skipped operations over time.
//!
//! Run: `cargo run --release --features layers,payshield,aws,server --example migration_drill`
//! (`--features layers,payshield,aws,server,html-report --example migration_drill -- --html drill.html`
//! for the page)

use paycrypto::algo::{cipher::BlockCipher, cvv, dukpt, emv, pinblock};
use paycrypto::aws::AwsBackend;
use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::layers::*;
use paycrypto::ops::*;
use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::server::aws::{self as aws_emulator, Credentials, EmulatorConfig, RunningEmulator};
use paycrypto::server::payshield::{start, SimConfig, SimHandle};
use paycrypto::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Clear *test* keys (never use these in production).
const KEK_PART_1: &str = "0123456789ABCDEFFEDCBA9876543210";
const KEK_PART_2: &str = "1F1F1F1F1F1F1F1F0E0E0E0E0E0E0E0E";
const ZPK_ACQUIRER: &str = "13345779133457791334577913345779";
const ZPK_ISSUER: &str = "0123456789ABCDEFFEDCBA9876543210";
const ZPK_COMPARE: &str = "89ABCDEF0123456776543210FEDCBA98";
const CVK: &str = "4567012389ABCDEFBA98FEDC32107654";
const IMK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const KSN_BASE: &str = "FFFF9876543210E00000";

const WORKERS: usize = 8;
const REQUESTS_PER_RUN: usize = 1200;

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).expect("constant hex")
}

fn id(s: &str) -> KeyId {
    KeyId::new(s).expect("constant key id")
}

/// Credentials the emulator verifies the candidate's SigV4 signatures with.
const DRILL_ACCESS_KEY: &str = "AKIDMIGRATIONDRILL";
const DRILL_SECRET: &str = "migration-drill/secret";

/// The two sides of the migration: the HSM is the payShield simulator
/// in-process (the handle stops it), the candidate the AWS backend over the
/// AWS Payment Cryptography emulator in-process. Against a real AWS test
/// account, build the backend from the environment instead
/// ([`AwsBackend::from_env`]); nothing else changes.
async fn start_backends() -> Result<(
    SimHandle,
    PayShieldBackend,
    RunningEmulator,
    Arc<dyn Backend>,
)> {
    let sim = start(SimConfig::default()).await.map_err(|e| {
        Error::new(ErrorKind::Transient, "cannot start the simulator").with_source(e)
    })?;
    let mut config = PayShieldConfig::new(sim.addr().to_string());
    config.request_timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_millis(200);
    let hsm = PayShieldBackend::connect(config, KeyTable::new())
        .await?
        .with_name("hsm-primary");
    let emulator = aws_emulator::start(EmulatorConfig {
        credentials: Credentials::parse(&format!("{DRILL_ACCESS_KEY}:{DRILL_SECRET}")),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(|e| {
        Error::new(ErrorKind::Transient, "cannot start the AWS emulator").with_source(e)
    })?;
    let cloud = AwsBackend::builder()
        .name("cloud-candidate")
        .endpoint_url(emulator.endpoint_url())
        .region("us-east-1")
        .credentials(DRILL_ACCESS_KEY, DRILL_SECRET, None)
        // The gateway's Retry layer retries; the SDK must not retry as well.
        .sdk_retries(false)
        .build()
        .await;
    Ok((sim, hsm, emulator, Arc::new(cloud)))
}

/// The KEK ceremony: two clear components combined. AWS takes the
/// components through its import path (the backend combines them and wraps
/// the key under the service's RSA import certificate); a payShield takes
/// them at its console, which on the public test LMK is the same as
/// encrypting the combined key under the test LMK into the key table.
async fn load_kek(b: &dyn Backend, payshield: Option<&PayShieldBackend>) -> Result<()> {
    let (p1, p2) = (hx(KEK_PART_1), hx(KEK_PART_2));
    match payshield {
        Some(ps) => {
            let kek = combine_components(KeyAlgorithm::Tdes2, &[&p1, &p2])?;
            let attrs = KeyAttributes::new(
                KeyUsage::KeyEncryption,
                KeyAlgorithm::Tdes2,
                ModesOfUse::BOTH,
            );
            ps.load_test_key(id("kek/ceremony"), attrs, &kek).await?;
        }
        None => {
            b.import_key(kek_from_components(
                id("kek/ceremony"),
                KeyAlgorithm::Tdes2,
                &[&p1, &p2],
            )?)
            .await?;
        }
    }
    Ok(())
}

/// The same working keys into any backend, as TR-31 blocks under the KEK.
async fn load_keys(b: &dyn Backend) -> Result<usize> {
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&hx(KEK_PART_1), &hx(KEK_PART_2)])?;
    let keys = [
        (
            "zpk/acquirer",
            ZPK_ACQUIRER,
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "zpk/issuer",
            ZPK_ISSUER,
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "zpk/compare",
            ZPK_COMPARE,
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "cvk/issuer",
            CVK,
            KeyUsage::CardVerification,
            ModesOfUse::GENERATE_VERIFY,
        ),
        (
            "imk-ac/issuer",
            IMK_AC,
            KeyUsage::EmvAppCryptogram,
            ModesOfUse::DERIVE,
        ),
        ("bdk/p2pe", BDK, KeyUsage::Bdk, ModesOfUse::DERIVE),
    ];
    for (name, key, usage, modes) in keys {
        let attrs = KeyAttributes::new(usage, KeyAlgorithm::Tdes2, modes);
        b.import_key(tr31_import(
            id("kek/ceremony"),
            KeyAlgorithm::Tdes2,
            &kek,
            id(name),
            attrs,
            &hx(key),
        )?)
        .await?;
    }
    Ok(keys.len())
}

/// What the gateway must get back for one request (checked with the test keys).
enum Expect {
    Pin { pan: String, pin: Pin },
    Plaintext(Vec<u8>),
    Verification(Verification),
    Arqc { arpc: Vec<u8> },
}

fn pan_for(i: usize) -> String {
    format!("4{:015}", 111_111_111_111_111u64 + i as u64)
}

fn pin_for(i: usize) -> Result<Pin> {
    Ok(Pin::new(&format!("{:04}", (i * 7919) % 10_000))?)
}

/// Request `i` of the mixed workload, built as the terminal / card would.
fn request(i: usize) -> Result<(Request, Expect)> {
    let pan = pan_for(i);
    Ok(match i % 6 {
        // Zone PIN translation, ISO 0 → ISO 3 and ISO 1 → ISO 0 (CC).
        0 | 1 => {
            let pin = pin_for(i)?;
            let (from, to) = if i.is_multiple_of(6) {
                (PinBlockFormat::Iso0, PinBlockFormat::Iso3)
            } else {
                (PinBlockFormat::Iso1, PinBlockFormat::Iso0)
            };
            let zpk = BlockCipher::tdes(&hx(ZPK_ACQUIRER))?;
            let block =
                pinblock::encrypt_pin_block(&zpk, from, &pin, Some(&pan), &mut rand::rng())?;
            let req = TranslatePinRequest {
                incoming_key: PinKey::Key(id("zpk/acquirer")),
                incoming_format: from,
                outgoing_key: id("zpk/issuer"),
                outgoing_format: to,
                pan: Pan::new(&pan)?,
                pin_block: block,
            };
            (req.into(), Expect::Pin { pan, pin })
        }
        // A PIN from a DUKPT terminal, ISO 0 → ISO 3 under the zone key (G0).
        2 => {
            let pin = pin_for(i)?;
            let ksn = Ksn::parse_initial_hex(KSN_BASE)?.with_counter((i % 1023) as u32 + 1)?;
            let key = dukpt::tdes_working_key(&hx(BDK), &ksn, dukpt::TdesDukptUsage::Pin)?;
            let block = pinblock::encrypt_pin_block(
                &BlockCipher::tdes(key.as_slice())?,
                PinBlockFormat::Iso0,
                &pin,
                Some(&pan),
                &mut rand::rng(),
            )?;
            let req = TranslatePinRequest {
                incoming_key: PinKey::Dukpt(Dukpt {
                    bdk: id("bdk/p2pe"),
                    ksn,
                    key_type: KeyAlgorithm::Tdes2,
                }),
                incoming_format: PinBlockFormat::Iso0,
                outgoing_key: id("zpk/issuer"),
                outgoing_format: PinBlockFormat::Iso3,
                pan: Pan::new(&pan)?,
                pin_block: block,
            };
            (req.into(), Expect::Pin { pan, pin })
        }
        // P2PE: card data from a DUKPT terminal, decrypted (M2).
        3 => {
            let ksn = Ksn::parse_initial_hex(KSN_BASE)?.with_counter((i % 1023) as u32 + 1)?;
            let key = dukpt::tdes_working_key(&hx(BDK), &ksn, dukpt::TdesDukptUsage::DataRequest)?;
            let clear = format!("{pan}=2512101{:09}", i).into_bytes();
            let mut data = clear.clone();
            data.resize(32, 0);
            let plain = data.clone();
            BlockCipher::tdes(key.as_slice())?.encrypt_cbc(&[0; 8], &mut data)?;
            let req = DecryptDataRequest {
                key: DataKey::Dukpt {
                    dukpt: Dukpt {
                        bdk: id("bdk/p2pe"),
                        ksn,
                        key_type: KeyAlgorithm::Tdes2,
                    },
                    variant: DukptVariant::Request,
                },
                mode: CipherMode::Cbc { iv: vec![0; 8] },
                ciphertext: data,
            };
            (req.into(), Expect::Plaintext(plain))
        }
        // CVV2 at checkout (CY).
        4 => {
            let right = cvv::generate_cvv(&hx(CVK), &pan, "2512", "000")?;
            let right = String::from_utf8_lossy(right.as_slice()).into_owned();
            // One in five presented CVV2s is wrong (a typo at checkout).
            let (value, expect) = if i.is_multiple_of(5) {
                let wrong = format!("{:03}", (right.parse::<u32>().unwrap_or(0) + 1) % 1000);
                (wrong, Verification::Failed)
            } else {
                (right, Verification::Verified)
            };
            let req = VerifyCardValidationRequest {
                key: id("cvk/issuer"),
                pan: Pan::new(&pan)?,
                expiry: CardExpiry::new("2512")?,
                kind: CardValidationKind::Cvv2,
                value: value.parse()?,
            };
            (req.into(), Expect::Verification(expect))
        }
        // Visa ARQC (CVN 10: no session key, padding method 1), ARPC method 1 (KQ).
        _ => {
            let atc = [(i >> 8) as u8, i as u8];
            let mut data = hx("0000000010000000000000000840000000000008402512240100B1C2D3E45C");
            data.extend_from_slice(&atc);
            data.extend_from_slice(&hx("0380000000"));
            let mk = emv::derive_icc_mk(&hx(IMK_AC), &pan, Some("01"), emv::MkDerivation::OptionA)?;
            let sk = emv::derive_session_key(mk.as_slice(), emv::SessionKeyDerivation::None)?;
            let arqc = emv::generate_ac(sk.as_slice(), &data, Iso9797Padding::Method1)?;
            let arpc = emv::generate_arpc_method1(mk.as_slice(), &arqc, b"00")?.to_vec();
            let req = VerifyArqcRequest {
                key: id("imk-ac/issuer"),
                mk_derivation: emv::MkDerivation::OptionA,
                session: SessionKeyDerivation::Visa,
                pan: Pan::new(&pan)?,
                psn: Psn::new("01")?,
                transaction_data: data,
                padding: Iso9797Padding::Method1,
                arqc,
                arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
            };
            (req.into(), Expect::Arqc { arpc })
        }
    })
}

/// True when the gateway's answer is the right one.
fn correct(expect: &Expect, got: &Response) -> bool {
    match (expect, got) {
        (Expect::Pin { pan, pin }, Response::TranslatePin(r)) => BlockCipher::tdes(&hx(ZPK_ISSUER))
            .ok()
            .and_then(|k| {
                pinblock::decrypt_pin_block(&k, r.format, r.pin_block.as_bytes(), Some(pan)).ok()
            })
            .is_some_and(|p| p == *pin),
        (Expect::Plaintext(p), Response::DecryptData(r)) => r.plaintext.expose() == p.as_slice(),
        (Expect::Verification(v), Response::VerifyCardValidation(r)) => r.verification == *v,
        (Expect::Arqc { arpc }, Response::VerifyArqc(r)) => {
            r.verification == Verification::Verified && r.arpc.as_deref() == Some(arpc.as_slice())
        }
        _ => false,
    }
}

/// Runs `n` requests starting at `first` with `WORKERS` concurrent callers;
/// calls `at_midpoint` once when half of them have been issued. Returns the
/// number of failed requests (errors or wrong answers).
async fn run(
    gateway: Arc<dyn Backend>,
    first: usize,
    n: usize,
    at_midpoint: Option<Box<dyn Fn() + Send + Sync>>,
) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let at_midpoint = Arc::new(at_midpoint);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (gateway, next, at_midpoint) = (gateway.clone(), next.clone(), at_midpoint.clone());
        workers.push(tokio::spawn(async move {
            let mut failed = 0;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    return failed;
                }
                if k == n / 2 {
                    if let Some(f) = at_midpoint.as_ref() {
                        f();
                    }
                }
                let ok = match request(first + k) {
                    Ok((req, expect)) => match gateway.execute(req).await {
                        Ok(resp) => correct(&expect, &resp),
                        Err(e) => {
                            eprintln!("request {} failed: {e}", first + k);
                            false
                        }
                    },
                    Err(e) => {
                        eprintln!("request {} could not be built: {e}", first + k);
                        false
                    }
                };
                failed += usize::from(!ok);
            }
        }));
    }
    let mut failed = 0;
    for w in workers {
        failed += w.await.unwrap_or(n);
    }
    failed
}

/// The `--html FILE` argument, if given.
fn html_path() -> Result<Option<std::path::PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--html" => match args.next() {
                Some(p) => path = Some(std::path::PathBuf::from(p)),
                None => return Err(Error::invalid("--html", "expected a file name")),
            },
            other => {
                return Err(Error::invalid(
                    "arguments",
                    format!("unknown argument {other} (the drill takes --html FILE)"),
                ))
            }
        }
    }
    if path.is_some() && !cfg!(feature = "html-report") {
        return Err(Error::unsupported(
            "--html needs the example built with the `html-report` feature",
        ));
    }
    Ok(path)
}

/// Writes the shadow report as an HTML page with charts.
#[cfg(feature = "html-report")]
fn write_html(
    path: &std::path::Path,
    report: &DiscrepancyReport,
    timeline: &Timeline,
) -> Result<()> {
    let page = html::render(
        "Migration drill: payShield (HSM) shadowed by AWS Payment Cryptography",
        &report.snapshot(),
        &timeline.snapshot(),
    )?;
    std::fs::write(path, page)
        .map_err(|e| Error::invalid("--html", "cannot write the file").with_source(e))
}

#[cfg(not(feature = "html-report"))]
fn write_html(_: &std::path::Path, _: &DiscrepancyReport, _: &Timeline) -> Result<()> {
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let html_out = html_path()?;
    // 1. Backends and keys.
    let (sim, hsm, emulator, cloud) = start_backends().await?;
    println!(
        "payShield simulator (the HSM) on tcp://{}, test LMK",
        sim.addr()
    );
    println!(
        "AWS Payment Cryptography emulator (the cloud) on {}, SigV4 verified",
        emulator.endpoint_url()
    );
    load_kek(&hsm, Some(&hsm)).await?;
    load_kek(cloud.as_ref(), None).await?;
    for b in [&hsm as &dyn Backend, cloud.as_ref()] {
        let n = load_keys(b).await?;
        println!(
            "loaded {} keys into {:<16} (KEK from components, {n} via TR-31)",
            n + 1,
            b.name()
        );
    }

    // 2. The gateway stack. `Faulty` here only counts the calls that reach
    //    the primary; the kill is the simulator going away.
    let primary = Arc::new(Faulty::new(hsm));
    let report = Arc::new(DiscrepancyReport::new());
    // Comparisons per 100 ms slot, for the HTML page's charts.
    let timeline = Arc::new(Timeline::new(Duration::from_millis(100)));
    let shadow = Arc::new(
        Shadow::builder(
            Timeout::new(primary.clone(), Duration::from_millis(200)),
            cloud.clone(),
            ((report.clone(), MetricsSink), timeline.clone()),
        )
        .max_concurrency(8)
        .queue_capacity(4096)
        .compare_pin_blocks(cloud.clone(), id("zpk/compare"))
        .build(),
    );
    let failover = Failover::with_config(
        vec![
            shadow.clone() as Arc<dyn Backend>,
            Arc::new(Timeout::new(cloud.clone(), Duration::from_secs(2))),
        ],
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(30),
        },
    );
    let gateway = Arc::new(Metrics::new(Retry::new(failover)));

    // 3. Shadow run.
    let start = Instant::now();
    let failed_shadow = run(gateway.clone(), 0, REQUESTS_PER_RUN, None).await;
    shadow.flush().await;
    println!(
        "\n== shadow run: {REQUESTS_PER_RUN} requests in {:.0} ms, {failed_shadow} failed ==",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let snap = report.snapshot();
    println!("{snap}");
    let mismatched = snap.sum(|r| r.mismatched);

    // 4. Kill the primary halfway through the second run: the simulator
    //    stops, its connections close, new connections are refused.
    let sim = Arc::new(sim);
    let calls_at_kill = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let (at_kill, p, s) = (calls_at_kill.clone(), primary.clone(), sim.clone());
    let failed_failover = run(
        gateway.clone(),
        REQUESTS_PER_RUN,
        REQUESTS_PER_RUN,
        Some(Box::new(move || {
            s.shutdown();
            at_kill.store(p.total_calls(), Ordering::Relaxed);
            println!(
                "\n!! primary killed (payShield simulator shut down) after {} requests",
                REQUESTS_PER_RUN / 2
            );
        })),
    )
    .await;
    shadow.flush().await;
    println!(
        "\n== failover run: {REQUESTS_PER_RUN} requests in {:.0} ms ==",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let health = gateway.inner().inner().health();
    for h in &health {
        println!(
            "{:<48} attempts {:>5}  answered {:>5}  transient failures {:>2}  breaker opened {}x, now {}",
            h.name,
            h.attempts,
            h.answered,
            h.failures,
            h.opened,
            match h.state {
                BreakerState::Closed { .. } => "closed",
                BreakerState::Open { .. } => "open",
                BreakerState::HalfOpen => "half-open",
            }
        );
    }
    // Each concurrent caller pays at most one failure before the breaker
    // opens (plus the threshold): not one per request.
    println!(
        "requests sent to the dead primary: {} ({WORKERS} concurrent callers, breaker threshold 3); \
         failures paid: {}",
        primary.total_calls() - calls_at_kill.load(Ordering::Relaxed),
        health.first().map_or(0, |h| h.failures)
    );
    println!("retries: {:?}", gateway.inner().stats());
    println!(
        "\n== final discrepancy report (JSON) ==\n{}",
        report.snapshot().to_json()
    );

    if let Some(path) = &html_out {
        write_html(path, &report, &timeline)?;
        println!("\nHTML report with charts: {}", path.display());
    }
    emulator.shutdown().await;
    let failed = failed_shadow + failed_failover;
    println!("\nmismatches during shadowing: {mismatched}");
    println!(
        "drill time: {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!("failed requests: {failed}");
    if failed != 0 || mismatched != 0 {
        std::process::exit(1);
    }
    Ok(())
}

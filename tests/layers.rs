//! The layers (shadow, report, failover, retry, timeout, metrics) over real
//! software backends, with scripted faults injected by `Faulty` around the
//! surrounding backends. The layers are the thing under test.

mod common;

use common::{id, load, load_kek};
use paycrypto::algo::{cipher::BlockCipher, dukpt, emv, pinblock};
use paycrypto::layers::*;
use paycrypto::ops::*;
use paycrypto::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// Clear *test* keys (all with odd DES parity).
const ZPK_IN: &str = "13345779133457791334577913345779";
const ZPK_OUT: &str = "0123456789ABCDEFFEDCBA9876543210";
const ZPK_CMP: &str = "89ABCDEF0123456776543210FEDCBA98";
const CVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const IMK: &str = "0123456789ABCDEFFEDCBA9876543210";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const WRONG: &str = "4567012389ABCDEFBA98FEDC32107654";
const ZPK_OUT_AES: &str = "AF8CB133A78F8DC2D1359F18527593FB";
const WRONG_AES: &str = "00112233445566778899AABBCCDDEEFF";

const PAN: &str = "4111111111111111";
const PIN: &str = "1234";
const KSN: &str = "FFFF9876543210E00001";
const ARQC_DATA: &str =
    "0000000010000000000000000840000000000008402512240100B1C2D3E45C00002A0380000000";

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Which keys differ from the reference set on a backend (a wrong key).
#[derive(Clone, Copy, Default)]
struct Wrong {
    cvk: bool,
    zpk_out: bool,
    zpk_in: bool,
}

/// A software backend named `name` holding the test keys, loaded through TR-31.
async fn backend(name: &str, wrong: Wrong) -> Arc<SoftwareBackend> {
    let b = SoftwareBackend::with_name(name);
    load_kek(&b).await;
    let pick = |bad: bool, good: &'static str| if bad { WRONG } else { good };
    let keys = [
        (
            "zpk/in",
            pick(wrong.zpk_in, ZPK_IN),
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "zpk/out",
            pick(wrong.zpk_out, ZPK_OUT),
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "zpk/compare",
            ZPK_CMP,
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "cvk",
            pick(wrong.cvk, CVK),
            KeyUsage::CardVerification,
            ModesOfUse::GENERATE_VERIFY,
        ),
        ("imk", IMK, KeyUsage::EmvAppCryptogram, ModesOfUse::DERIVE),
        ("bdk", BDK, KeyUsage::Bdk, ModesOfUse::DERIVE),
    ];
    for (name, key, usage, modes) in keys {
        load(&b, name, usage, KeyAlgorithm::Tdes2, modes, &hx(key))
            .await
            .unwrap();
    }
    let aes = if wrong.zpk_out {
        WRONG_AES
    } else {
        ZPK_OUT_AES
    };
    load(
        &b,
        "zpk/out-aes",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Aes128,
        ModesOfUse::BOTH,
        &hx(aes),
    )
    .await
    .unwrap();
    Arc::new(b)
}

/// A PIN translation from zpk/in to zpk/out (zpk/out-aes for ISO 4); the
/// incoming block is ISO 0, or ISO 1 when ISO 1 goes out (PCI: 0 → 1 is refused).
fn translate(out: PinBlockFormat) -> Request {
    let zpk = BlockCipher::tdes(&hx(ZPK_IN)).unwrap();
    let pin = Pin::new(PIN).unwrap();
    let incoming = if out == PinBlockFormat::Iso1 {
        PinBlockFormat::Iso1
    } else {
        PinBlockFormat::Iso0
    };
    let block =
        pinblock::encrypt_pin_block(&zpk, incoming, &pin, Some(PAN), &mut rand::rng()).unwrap();
    let outgoing = if out == PinBlockFormat::Iso4 {
        "zpk/out-aes"
    } else {
        "zpk/out"
    };
    Request::TranslatePin(TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk/in")),
        incoming_format: incoming,
        outgoing_key: id(outgoing),
        outgoing_format: out,
        pan: Pan::new(PAN).unwrap(),
        pin_block: block,
    })
}

/// An ISO 1 block holding PIN 1234 under ZPK_IN that also deciphers to a
/// valid ISO 1 block, with another PIN, under the WRONG key.
fn ambiguous_iso1_block() -> EncryptedPinBlock {
    let right = BlockCipher::tdes(&hx(ZPK_IN)).unwrap();
    let wrong = BlockCipher::tdes(&hx(WRONG)).unwrap();
    let pin = Pin::new(PIN).unwrap();
    for _ in 0..1_000_000 {
        let b =
            pinblock::encrypt_pin_block(&right, PinBlockFormat::Iso1, &pin, None, &mut rand::rng())
                .unwrap();
        if let Ok(other) =
            pinblock::decrypt_pin_block(&wrong, PinBlockFormat::Iso1, b.as_bytes(), None)
        {
            if other != pin {
                return b;
            }
        }
    }
    panic!("no ambiguous block found");
}

/// ISO 1 under zpk/in translated to `out` (zpk/out-aes for ISO 4).
fn translate_from(block: &EncryptedPinBlock, out: PinBlockFormat) -> Request {
    let outgoing = if out == PinBlockFormat::Iso4 {
        "zpk/out-aes"
    } else {
        "zpk/out"
    };
    Request::TranslatePin(TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk/in")),
        incoming_format: PinBlockFormat::Iso1,
        outgoing_key: id(outgoing),
        outgoing_format: out,
        pan: Pan::new(PAN).unwrap(),
        pin_block: block.clone(),
    })
}

fn cvv2_generate() -> Request {
    Request::GenerateCardValidation(GenerateCardValidationRequest {
        key: id("cvk"),
        pan: Pan::new(PAN).unwrap(),
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        length: paycrypto::CvvLength::THREE,
    })
}

fn cvv2_verify(value: &str) -> Request {
    Request::VerifyCardValidation(VerifyCardValidationRequest {
        key: id("cvk"),
        pan: Pan::new(PAN).unwrap(),
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        value: value.parse().unwrap(),
    })
}

fn arqc_verify() -> Request {
    let psn = Psn::new("01").unwrap();
    let atc = [0x00, 0x2A];
    let data = hx(ARQC_DATA);
    let mk = emv::derive_icc_mk(&hx(IMK), PAN, Some("01"), emv::MkDerivation::OptionA).unwrap();
    let sk = emv::derive_session_key(
        mk.as_slice(),
        emv::SessionKeyDerivation::EmvCommonAtc { atc: &atc },
    )
    .unwrap();
    let arqc = emv::generate_ac(sk.as_slice(), &data, Iso9797Padding::Method2).unwrap();
    Request::VerifyArqc(VerifyArqcRequest {
        key: id("imk"),
        mk_derivation: emv::MkDerivation::OptionA,
        session: SessionKeyDerivation::EmvCommon { atc },
        pan: Pan::new(PAN).unwrap(),
        psn,
        transaction_data: data,
        padding: Iso9797Padding::Method2,
        arqc,
        arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
    })
}

fn dukpt_decrypt() -> Request {
    let ksn = Ksn::parse_hex(KSN).unwrap();
    let key = dukpt::tdes_working_key(&hx(BDK), &ksn, dukpt::TdesDukptUsage::DataRequest).unwrap();
    let mut data = b"4111111111111111=2512101000000000".to_vec();
    data.resize(40, 0);
    BlockCipher::tdes(key.as_slice())
        .unwrap()
        .encrypt_cbc(&[0; 8], &mut data)
        .unwrap();
    Request::DecryptData(DecryptDataRequest {
        key: DataKey::Dukpt {
            dukpt: Dukpt {
                bdk: id("bdk"),
                ksn,
                key_type: KeyAlgorithm::Tdes2,
            },
            variant: DukptVariant::Request,
        },
        mode: CipherMode::Cbc { iv: vec![0; 8] },
        ciphertext: data,
    })
}

/// A mixed gateway workload with deterministic outputs.
fn deterministic_mix() -> Vec<Request> {
    vec![
        translate(PinBlockFormat::Iso0),
        cvv2_generate(),
        cvv2_verify("000"),
        arqc_verify(),
        dukpt_decrypt(),
    ]
}

/// A sink keeping every comparison (to inspect single outcomes).
#[derive(Default)]
struct Recorded(Mutex<Vec<Comparison>>);

impl ComparisonSink for Recorded {
    fn record(&self, c: &Comparison) {
        self.0.lock().unwrap().push(c.clone());
    }
}

impl Recorded {
    fn outcomes(&self) -> Vec<Outcome> {
        self.0.lock().unwrap().iter().map(|c| c.outcome).collect()
    }
}

/// Waits (bounded) for a liveness condition; panics when it never holds.
async fn must_finish<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("the caller was blocked")
}

// ------------------------------------------------------------------ shadow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_answers_with_the_primary_whatever_the_candidate_does() {
    let primary = backend("hsm", Wrong::default()).await;
    for fault in [
        Fault::None,
        Fault::Error(ErrorKind::Transient),
        Fault::Error(ErrorKind::Backend),
        Fault::Hang,
    ] {
        // The candidate answers wrong (other CVK) as well as failing.
        let wrong = backend(
            "cloud",
            Wrong {
                cvk: true,
                zpk_out: false,
                zpk_in: false,
            },
        )
        .await;
        // Oracle: how many answers differ when asked directly.
        let mut differ = 0;
        for req in deterministic_mix() {
            let p = primary.execute(req.clone()).await.unwrap();
            let c = wrong.execute(req).await.unwrap();
            differ += u64::from(p != c);
        }
        assert!(differ >= 1);
        let candidate = Faulty::new(wrong);
        candidate.switch().set(fault);
        let report = Arc::new(DiscrepancyReport::new());
        let shadow = Shadow::builder(primary.clone(), candidate, report.clone())
            .candidate_timeout(Duration::from_millis(100))
            .build();
        for req in deterministic_mix() {
            let expected = primary.execute(req.clone()).await.unwrap();
            let got = must_finish(shadow.execute(req)).await.unwrap();
            assert_eq!(got, expected, "fault {fault:?}");
        }
        must_finish(shadow.flush()).await;
        let snap = report.snapshot();
        let total = snap.sum(|r| r.total);
        assert_eq!(total, 5);
        match fault {
            Fault::None => {
                assert_eq!(snap.sum(|r| r.matched), 5 - differ, "{snap}");
                assert_eq!(snap.sum(|r| r.mismatched), differ, "{snap}");
            }
            Fault::Hang => {
                assert_eq!(snap.sum(|r| r.candidate_errors), 5, "{snap}");
                let d = &snap.operation(Operation::VerifyArqc).unwrap().details;
                assert_eq!(d.get("candidate_error:timeout"), Some(&1));
            }
            _ => assert_eq!(snap.sum(|r| r.candidate_errors), 5, "{snap}"),
        }
    }
}

#[tokio::test]
async fn wrong_candidate_key_is_a_mismatch_both_ways() {
    let primary = backend("hsm", Wrong::default()).await;
    let candidate = backend(
        "cloud",
        Wrong {
            cvk: true,
            zpk_out: false,
            zpk_in: false,
        },
    )
    .await;
    // The CVV2 that only the candidate's (wrong) key accepts.
    let Response::GenerateCardValidation(bad) = candidate.execute(cvv2_generate()).await.unwrap()
    else {
        panic!("wrong response")
    };
    let Response::GenerateCardValidation(good) = primary.execute(cvv2_generate()).await.unwrap()
    else {
        panic!("wrong response")
    };
    assert_ne!(bad.value, good.value);
    let sink = Arc::new(Recorded::default());
    let shadow = Shadow::new(primary, candidate, sink.clone());
    // Primary Verified / candidate Failed, then primary Failed / candidate Verified.
    let v1 = verify_cvv2(&shadow, good.value.expose()).await;
    let v2 = verify_cvv2(&shadow, bad.value.expose()).await;
    assert_eq!(v1, Verification::Verified);
    assert_eq!(v2, Verification::Failed);
    shadow.flush().await;
    assert_eq!(
        sink.outcomes(),
        vec![
            Outcome::Mismatch {
                field: "verification"
            };
            2
        ]
    );
}

async fn verify_cvv2(b: &dyn Backend, value: &str) -> Verification {
    match b.execute(cvv2_verify(value)).await.unwrap() {
        Response::VerifyCardValidation(r) => r.verification,
        _ => panic!("wrong response"),
    }
}

#[tokio::test]
async fn random_fill_pin_blocks_compare_by_meaning() {
    let primary = backend("hsm", Wrong::default()).await;
    let same = backend("cloud", Wrong::default()).await;
    let wrong_out = backend(
        "cloud-wrong-out",
        Wrong {
            cvk: false,
            zpk_out: true,
            zpk_in: false,
        },
    )
    .await;
    let wrong_in = backend(
        "cloud-wrong-in",
        Wrong {
            cvk: false,
            zpk_out: false,
            zpk_in: true,
        },
    )
    .await;
    let ambiguous = ambiguous_iso1_block();
    for format in [
        PinBlockFormat::Iso1,
        PinBlockFormat::Iso3,
        PinBlockFormat::Iso4,
    ] {
        let zpk_out = if format == PinBlockFormat::Iso4 {
            BlockCipher::aes(&hx(ZPK_OUT_AES)).unwrap()
        } else {
            BlockCipher::tdes(&hx(ZPK_OUT)).unwrap()
        };
        // Not configured: never called a match.
        let sink = Arc::new(Recorded::default());
        let shadow = Shadow::new(primary.clone(), same.clone(), sink.clone());
        let r = shadow.execute(translate(format)).await.unwrap();
        shadow.flush().await;
        assert_eq!(
            sink.outcomes(),
            vec![Outcome::Skipped(SkipReason::NotComparable)]
        );
        // The caller gets the primary's block: the PIN under zpk/out.
        let Response::TranslatePin(t) = r else {
            panic!("wrong response")
        };
        let pin = pinblock::decrypt_pin_block(&zpk_out, format, t.pin_block.as_bytes(), Some(PAN))
            .unwrap();
        assert_eq!(pin, Pin::new(PIN).unwrap());

        // Configured: same keys match although the bytes differ; a wrong
        // outgoing key shows in the KCV; a wrong incoming key gives the
        // right key but another PIN, which only the meaning check sees.
        for (candidate, expected) in [
            (same.clone(), Outcome::Match),
            (
                wrong_out.clone(),
                Outcome::Mismatch {
                    field: "key_check_value",
                },
            ),
            (wrong_in.clone(), Outcome::Mismatch { field: "pin_block" }),
        ] {
            let sink = Arc::new(Recorded::default());
            let shadow = Shadow::builder(primary.clone(), candidate, sink.clone())
                .compare_pin_blocks(primary.clone(), id("zpk/compare"))
                .build();
            for _ in 0..3 {
                shadow
                    .execute(translate_from(&ambiguous, format))
                    .await
                    .unwrap();
            }
            shadow.flush().await;
            assert_eq!(sink.outcomes(), vec![expected; 3], "format {format:?}");
        }
    }
    // ISO 0 is deterministic: compared byte for byte without a checker.
    let sink = Arc::new(Recorded::default());
    let shadow = Shadow::new(primary.clone(), wrong_in, sink.clone());
    shadow
        .execute(translate_from(&ambiguous, PinBlockFormat::Iso0))
        .await
        .unwrap();
    shadow.flush().await;
    assert_eq!(
        sink.outcomes(),
        vec![Outcome::Mismatch { field: "pin_block" }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_queue_drops_instead_of_blocking() {
    let primary = backend("hsm", Wrong::default()).await;
    let candidate = Faulty::new(backend("cloud", Wrong::default()).await);
    candidate.switch().set(Fault::Hang);
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Shadow::builder(primary, candidate, report.clone())
        .max_concurrency(1)
        .queue_capacity(2)
        .candidate_timeout(Duration::from_secs(3600))
        .build();
    for _ in 0..50 {
        must_finish(shadow.execute(cvv2_generate())).await.unwrap();
    }
    let s = shadow.stats();
    assert_eq!(s.requests, 50);
    assert_eq!(s.queued + s.dropped, 50);
    // One running, at most one waiting for a slot, two in the queue.
    assert!(s.queued <= 4, "{s:?}");
    assert!(s.dropped >= 46, "{s:?}");
    let snap = report.snapshot();
    let row = snap.operation(Operation::GenerateCardValidation).unwrap();
    assert_eq!(row.details.get("skipped:queue_full"), Some(&s.dropped));
    assert_eq!(shadow.pending() as u64, s.queued);
}

/// A candidate that holds every call at a gate and records how many calls
/// were inside at once.
struct Gated {
    inner: Arc<SoftwareBackend>,
    gate: tokio::sync::Semaphore,
    inside: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Backend for Gated {
    fn name(&self) -> &str {
        "gated"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.inside.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        // Each call uses up one permit.
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        self.inside.fetch_sub(1, SeqCst);
        self.inner.execute(request).await
    }
}

// One runtime thread: the caller queues its whole burst before any worker
// runs, so only the workers waking one another can reach three calls.
#[tokio::test]
async fn shadow_runs_up_to_max_concurrency_candidate_calls_at_once() {
    use std::sync::atomic::Ordering::SeqCst;
    let primary = backend("hsm", Wrong::default()).await;
    let candidate = Arc::new(Gated {
        inner: backend("cloud", Wrong::default()).await,
        gate: tokio::sync::Semaphore::new(0),
        inside: Default::default(),
        most: Default::default(),
    });
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Shadow::builder(primary, candidate.clone(), report.clone())
        .max_concurrency(3)
        .candidate_timeout(Duration::from_secs(3600))
        .build();
    // A first comparison, after which every worker is parked.
    candidate.gate.add_permits(1);
    shadow.execute(cvv2_generate()).await.unwrap();
    must_finish(shadow.flush()).await;
    // A burst of ten: the caller wakes one worker, which wakes the next.
    for _ in 0..10 {
        shadow.execute(cvv2_generate()).await.unwrap();
    }
    must_finish(async {
        while candidate.inside.load(SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert_eq!(shadow.pending(), 10);
    candidate.gate.add_permits(1000);
    must_finish(shadow.flush()).await;
    assert_eq!(candidate.most.load(SeqCst), 3);
    let snap = report.snapshot();
    assert_eq!(snap.sum(|r| r.matched), 11, "{snap}");
    let s = shadow.stats();
    assert_eq!(
        (s.requests, s.queued, s.completed, s.dropped),
        (11, 11, 11, 0)
    );
}

/// A candidate that panics on its first call and answers afterwards.
struct PanicsOnce {
    inner: Arc<SoftwareBackend>,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Backend for PanicsOnce {
    fn name(&self) -> &str {
        "panics-once"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("candidate bug (expected by the test)");
        }
        self.inner.execute(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_candidate_costs_one_comparison_not_the_shadow() {
    let primary = backend("hsm", Wrong::default()).await;
    for workers in [1, 2] {
        let candidate = PanicsOnce {
            inner: backend("cloud", Wrong::default()).await,
            calls: Default::default(),
        };
        let report = Arc::new(DiscrepancyReport::new());
        let shadow = Shadow::builder(primary.clone(), candidate, report.clone())
            .max_concurrency(workers)
            .build();
        for _ in 0..6 {
            let expected = primary.execute(cvv2_generate()).await.unwrap();
            let got = must_finish(shadow.execute(cvv2_generate())).await.unwrap();
            assert_eq!(got, expected);
            // One at a time, so every request finds the workers parked.
            must_finish(shadow.flush()).await;
        }
        assert_eq!(report.snapshot().sum(|r| r.matched), 5, "{workers} workers");
        let s = shadow.stats();
        assert_eq!((s.queued, s.completed, s.dropped), (6, 6, 0));
    }
}

#[test]
fn shadow_outlives_the_runtime_it_started_on() {
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let first = rt();
    let (primary, candidate) = first.block_on(async {
        (
            backend("hsm", Wrong::default()).await,
            Faulty::new(backend("cloud", Wrong::default()).await),
        )
    });
    let switch = candidate.switch();
    switch.set(Fault::Hang);
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Shadow::builder(primary, candidate, report.clone())
        .max_concurrency(1)
        .candidate_timeout(Duration::from_secs(3600))
        .build();
    first.block_on(async {
        for _ in 0..5 {
            must_finish(shadow.execute(cvv2_generate())).await.unwrap();
        }
    });
    // One call hangs on the candidate, four wait in the queue; then the
    // runtime goes away with the workers.
    drop(first);
    switch.set(Fault::None);
    let second = rt();
    let first_matched = second.block_on(async {
        // The queued requests are compared on the new runtime. The one the
        // old runtime's worker was running (if it had taken it before the
        // runtime went away) is lost with it.
        must_finish(shadow.flush()).await;
        let first_matched = report.snapshot().sum(|r| r.matched);
        assert!((4..=5).contains(&first_matched), "{first_matched}");
        for _ in 0..5 {
            must_finish(shadow.execute(cvv2_generate())).await.unwrap();
        }
        must_finish(shadow.flush()).await;
        first_matched
    });
    assert_eq!(report.snapshot().sum(|r| r.matched), first_matched + 5);
    let s = shadow.stats();
    assert_eq!(
        (s.requests, s.queued, s.completed, s.dropped),
        (10, 10, 10, 0)
    );
    assert_eq!(shadow.pending(), 0);
}

#[tokio::test]
async fn shadow_sampling_and_state_changing_operations() {
    let primary = backend("hsm", Wrong::default()).await;
    let candidate = Arc::new(Faulty::new(backend("cloud", Wrong::default()).await));
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Shadow::builder(primary.clone(), candidate.clone(), report.clone())
        .sample_rate(0.5)
        .build();
    for _ in 0..10 {
        shadow.execute(cvv2_generate()).await.unwrap();
    }
    // Key management never reaches the candidate.
    shadow
        .generate_key(GenerateKeyRequest {
            key_id: id("new-key"),
            attributes: KeyAttributes::new(
                KeyUsage::DataEncryption,
                KeyAlgorithm::Aes128,
                ModesOfUse::BOTH,
            ),
        })
        .await
        .unwrap();
    shadow.flush().await;
    assert_eq!(candidate.calls(Operation::GenerateCardValidation), 5);
    assert_eq!(candidate.calls(Operation::GenerateKey), 0);
    assert!(primary
        .get_key_info(GetKeyInfoRequest { key: id("new-key") })
        .await
        .is_ok());
    let snap = report.snapshot();
    let cv = snap.operation(Operation::GenerateCardValidation).unwrap();
    assert_eq!((cv.matched, cv.skipped), (5, 5));
    assert_eq!(cv.match_rate, Some(1.0));
    let gk = snap.operation(Operation::GenerateKey).unwrap();
    assert_eq!(gk.details.get("skipped:state_changing"), Some(&1));
}

#[tokio::test]
async fn candidate_unsupported_and_primary_failures_are_classified() {
    let primary = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let candidate = Faulty::new(backend("cloud", Wrong::default()).await);
    candidate.switch().set(Fault::Error(ErrorKind::Unsupported));
    let sink = Arc::new(Recorded::default());
    let shadow = Shadow::new(primary.clone(), candidate, sink.clone());
    shadow.execute(arqc_verify()).await.unwrap();
    primary.switch().set(Fault::Error(ErrorKind::Transient));
    let e = shadow.execute(arqc_verify()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    shadow.flush().await;
    assert_eq!(
        sink.outcomes(),
        vec![
            Outcome::CandidateUnsupported,
            Outcome::Skipped(SkipReason::PrimaryFailed)
        ]
    );
}

#[tokio::test]
async fn nothing_secret_reaches_a_report() {
    let primary = backend("hsm", Wrong::default()).await;
    let candidate = backend(
        "cloud",
        Wrong {
            cvk: true,
            zpk_out: true,
            zpk_in: false,
        },
    )
    .await;
    let report = Arc::new(DiscrepancyReport::new());
    let sink = Arc::new(Recorded::default());
    let shadow = Shadow::builder(primary, candidate, (report.clone(), sink.clone()))
        .compare_pin_blocks(
            backend("checker", Wrong::default()).await,
            id("zpk/compare"),
        )
        .build();
    let mut secrets: Vec<String> = vec![PAN.into()];
    for key in [ZPK_IN, ZPK_OUT, ZPK_CMP, CVK, WRONG, ZPK_OUT_AES, WRONG_AES] {
        secrets.push(key.into());
        secrets.push(key.to_lowercase());
    }
    for req in deterministic_mix().into_iter().chain([
        translate(PinBlockFormat::Iso3),
        translate(PinBlockFormat::Iso4),
    ]) {
        if let Request::TranslatePin(t) = &req {
            secrets.push(hex::encode(t.pin_block.as_bytes()));
            secrets.push(hex::encode_upper(t.pin_block.as_bytes()));
        }
        if let Ok(Response::GenerateCardValidation(g)) = shadow.execute(req).await {
            secrets.push(format!("\"{}\"", g.value.expose()));
        }
    }
    shadow.flush().await;
    let snap = report.snapshot();
    // ISO 0, 3 and 4 translations (wrong zpk/out) and CVV2 generation (wrong CVK).
    assert_eq!(snap.sum(|r| r.mismatched), 4, "{snap}");
    let text = format!(
        "{snap}\n{}\n{:?}\n{:?}",
        snap.to_json(),
        sink.0.lock().unwrap(),
        snap
    );
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "report leaks {s}:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&snap.to_json()).unwrap();
    assert!(json["operations"].as_array().unwrap().len() >= 5);
    assert!(json["operations"][0]["primary_latency"]["p99_us"].is_number());
}

// ------------------------------------------------------------------ failover

#[tokio::test]
async fn failover_loses_nothing_and_a_dead_primary_costs_one_timeout() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let cloud = Arc::new(Faulty::new(backend("cloud", Wrong::default()).await));
    let kill = hsm.switch();
    let failover = Failover::with_config(
        vec![
            Arc::new(Timeout::new(hsm.clone(), Duration::from_millis(50))) as Arc<dyn Backend>,
            cloud.clone(),
        ],
        BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_secs(3600),
        },
    );
    let reference = backend("reference", Wrong::default()).await;
    let mut answered = 0;
    for i in 0..40 {
        if i == 20 {
            kill.set(Fault::Hang);
        }
        for req in deterministic_mix() {
            let expected = reference.execute(req.clone()).await.unwrap();
            assert_eq!(failover.execute(req).await.unwrap(), expected);
            answered += 1;
        }
    }
    assert_eq!(answered, 200);
    // 100 requests before the kill, then exactly one that hit the timeout.
    assert_eq!(hsm.total_calls(), 101);
    assert_eq!(cloud.total_calls(), 100);
    let health = failover.health();
    assert!(matches!(health[0].state, BreakerState::Open { .. }));
    assert_eq!((health[0].failures, health[0].opened), (1, 1));
}

#[tokio::test]
async fn failover_half_open_probe_closes_the_breaker() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let cloud = Arc::new(Faulty::new(backend("cloud", Wrong::default()).await));
    let failover = Failover::with_config(
        vec![hsm.clone() as Arc<dyn Backend>, cloud.clone()],
        BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_millis(100),
        },
    );
    hsm.switch().set(Fault::Error(ErrorKind::Transient));
    for _ in 0..5 {
        failover.execute(cvv2_generate()).await.unwrap();
    }
    assert_eq!(hsm.total_calls(), 2, "threshold 2, then skipped");
    hsm.switch().heal();
    // Still open: the healed primary is not asked until the breaker is due.
    failover.execute(cvv2_generate()).await.unwrap();
    assert_eq!(hsm.total_calls(), 2);
    tokio::time::sleep(Duration::from_millis(150)).await;
    failover.execute(cvv2_generate()).await.unwrap();
    assert_eq!(hsm.total_calls(), 3, "one probe");
    assert_eq!(
        failover.health()[0].state,
        BreakerState::Closed { failures: 0 }
    );
    failover.execute(cvv2_generate()).await.unwrap();
    assert_eq!(hsm.total_calls(), 4);
    assert_eq!(cloud.total_calls(), 6);
}

#[tokio::test]
async fn failover_never_moves_on_answers_or_non_transient_errors() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let cloud = Arc::new(Faulty::new(backend("cloud", Wrong::default()).await));
    let failover = Failover::new(vec![hsm.clone() as Arc<dyn Backend>, cloud.clone()]);
    // A failed verification is an answer.
    let r = failover.execute(cvv2_verify("000")).await.unwrap();
    assert!(matches!(
        r,
        Response::VerifyCardValidation(VerifyResponse {
            verification: Verification::Failed
        })
    ));
    // An unknown key is the caller's error, not the backend's.
    let mut req = GetKeyInfoRequest { key: id("nope") };
    let e = failover
        .execute(Request::GetKeyInfo(req.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyNotFound);
    hsm.switch().set(Fault::Error(ErrorKind::InvalidInput));
    req.key = id("cvk");
    let e = failover
        .execute(Request::GetKeyInfo(req))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(cloud.total_calls(), 0);
    // Every backend down: the last transient error comes back.
    hsm.switch().set(Fault::Error(ErrorKind::Transient));
    cloud.switch().set(Fault::Error(ErrorKind::Timeout));
    let e = failover.execute(cvv2_generate()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

// ------------------------------------------------------------------ retry

fn fast_retry(
    inner: Arc<Faulty<Arc<SoftwareBackend>>>,
    burst: u32,
) -> Retry<Arc<Faulty<Arc<SoftwareBackend>>>> {
    Retry::with_policy(
        inner,
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            budget_ratio: 0.0,
            budget_burst: burst,
        },
    )
}

#[tokio::test]
async fn retry_repeats_idempotent_operations_after_transient_errors() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let retry = fast_retry(hsm.clone(), 100);
    hsm.switch().script([
        Fault::Error(ErrorKind::Transient),
        Fault::Error(ErrorKind::Timeout),
    ]);
    let r = retry.execute(arqc_verify()).await.unwrap();
    assert!(matches!(r, Response::VerifyArqc(ref a) if a.verification == Verification::Verified));
    assert_eq!(hsm.calls(Operation::VerifyArqc), 3);
    assert_eq!(retry.stats().retries, 2);
    // Attempts are bounded.
    hsm.switch().set(Fault::Error(ErrorKind::Transient));
    let e = retry.execute(arqc_verify()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(hsm.calls(Operation::VerifyArqc), 6);
}

#[tokio::test]
async fn retry_never_repeats_non_idempotent_failed_verifications_or_validation_errors() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let retry = fast_retry(hsm.clone(), 100);
    // Key generation is not idempotent: one call, even on a transient error.
    hsm.switch().script([Fault::Error(ErrorKind::Transient)]);
    let e = retry
        .generate_key(GenerateKeyRequest {
            key_id: id("k"),
            attributes: KeyAttributes::new(
                KeyUsage::DataEncryption,
                KeyAlgorithm::Aes128,
                ModesOfUse::BOTH,
            ),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(hsm.calls(Operation::GenerateKey), 1);
    // A failed verification is an answer.
    let r = retry.execute(cvv2_verify("000")).await.unwrap();
    assert!(
        matches!(r, Response::VerifyCardValidation(v) if v.verification == Verification::Failed)
    );
    assert_eq!(hsm.calls(Operation::VerifyCardValidation), 1);
    // A validation error (PCI: no translation from ISO 0 into ISO 1; a
    // malformed CVV can no longer be constructed) and a key usage error: once each.
    let mut pci = translate(PinBlockFormat::Iso0);
    if let Request::TranslatePin(t) = &mut pci {
        t.outgoing_format = PinBlockFormat::Iso1;
    }
    let e = retry.execute(pci).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(hsm.calls(Operation::TranslatePin), 1);
    let mut bad_key = cvv2_generate();
    if let Request::GenerateCardValidation(r) = &mut bad_key {
        r.key = id("zpk/in");
    }
    let e = retry.execute(bad_key).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage);
    assert_eq!(hsm.calls(Operation::GenerateCardValidation), 1);
    assert_eq!(retry.stats().retries, 0);
}

#[tokio::test]
async fn retry_budget_stops_retry_storms() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let retry = fast_retry(hsm.clone(), 2);
    hsm.switch().set(Fault::Error(ErrorKind::Transient));
    for _ in 0..5 {
        assert!(retry.execute(cvv2_generate()).await.is_err());
    }
    // 5 first attempts + the 2 retries the budget held.
    assert_eq!(hsm.total_calls(), 7);
    assert_eq!(retry.stats().retries, 2);
    assert_eq!(retry.stats().budget_exhausted, 4);
}

// ------------------------------------------------------------------ timeout

#[tokio::test]
async fn timeout_per_operation() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let t = Timeout::new(hsm.clone(), Duration::from_millis(20))
        .with_operation(Operation::VerifyArqc, Duration::from_secs(5));
    assert_eq!(t.deadline(Operation::VerifyArqc), Duration::from_secs(5));
    hsm.switch().set(Fault::Hang);
    let e = must_finish(t.execute(cvv2_generate())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.op(), Some(Operation::GenerateCardValidation));
    assert_eq!(e.backend(), Some("hsm"));
    // A slow answer inside its own (longer) deadline comes through.
    hsm.switch().set(Fault::Delay(Duration::from_millis(60)));
    assert!(t.execute(arqc_verify()).await.is_ok());
    assert!(t.execute(cvv2_generate()).await.is_err());
}

// ------------------------------------------------------------------ metrics / tracing

mod capture {
    use std::fmt::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A tracing subscriber writing every span and event, with all fields, as text.
    #[derive(Clone, Default)]
    pub struct Spans(pub Arc<Mutex<String>>, Arc<AtomicU64>);

    struct Text<'a>(&'a mut String);

    impl Visit for Text<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut s = self.0.lock().unwrap();
            let _ = write!(s, "\nspan {}", span.metadata().name());
            span.record(&mut Text(&mut s));
            Id::from_u64(self.1.fetch_add(1, Ordering::Relaxed) + 1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut Text(&mut self.0.lock().unwrap()));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut s = self.0.lock().unwrap();
            s.push_str("\nevent");
            event.record(&mut Text(&mut s));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// A metrics recorder writing every registered key with its labels.
    #[derive(Default)]
    pub struct Keys(pub Mutex<Vec<String>>);

    impl Keys {
        fn push(&self, key: &metrics::Key) {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", key.name(), labels.join(",")));
        }
    }

    impl metrics::Recorder for Keys {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            self.push(key);
            metrics::Counter::noop()
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            self.push(key);
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            self.push(key);
            metrics::Histogram::noop()
        }
    }
}

#[test]
fn metrics_and_spans_per_operation_without_secrets() {
    let spans = capture::Spans::default();
    let keys = capture::Keys::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (secret_block, cvv) = tracing::subscriber::with_default(spans.clone(), || {
        metrics::with_local_recorder(&keys, || {
            rt.block_on(async {
                let hsm = Faulty::new(backend("hsm", Wrong::default()).await);
                let switch = hsm.switch();
                let report = Arc::new(DiscrepancyReport::new());
                let shadow = Shadow::new(
                    Metrics::new(hsm),
                    Metrics::new(backend("cloud", Wrong::default()).await),
                    (report, MetricsSink),
                );
                let m = Metrics::new(shadow);
                let req = translate(PinBlockFormat::Iso0);
                let Request::TranslatePin(t) = &req else {
                    unreachable!()
                };
                let block = hex::encode_upper(t.pin_block.as_bytes());
                m.execute(req).await.unwrap();
                let Response::GenerateCardValidation(g) = m.execute(cvv2_generate()).await.unwrap()
                else {
                    unreachable!()
                };
                m.execute(cvv2_verify("000")).await.unwrap();
                switch.set(Fault::Error(ErrorKind::Transient));
                assert!(m.execute(arqc_verify()).await.is_err());
                m.inner().flush().await;
                (block, g.value)
            })
        })
    });
    let keys = keys.0.lock().unwrap().join("\n");
    let spans = spans.0.lock().unwrap().clone();
    for expected in [
        "paycrypto_requests_total operation=translate_pin,backend=shadow(hsm,cloud),outcome=ok",
        "paycrypto_requests_total operation=verify_card_validation,backend=hsm,outcome=not_verified",
        "paycrypto_requests_total operation=verify_arqc,backend=hsm,outcome=transient",
        "paycrypto_request_duration_seconds operation=generate_card_validation,backend=cloud",
        "paycrypto_shadow_comparisons_total operation=translate_pin,primary=hsm,candidate=cloud,outcome=match,detail=",
        "paycrypto_shadow_comparisons_total operation=verify_arqc,primary=hsm,candidate=cloud,outcome=skipped,detail=primary_failed",
    ] {
        assert!(keys.contains(expected), "missing {expected} in\n{keys}");
    }
    for expected in [
        "span paycrypto.request operation=\"translate_pin\" backend=\"shadow(hsm,cloud)\"",
        "outcome=\"not_verified\"",
        "outcome=\"transient\"",
        "latency_us=",
    ] {
        assert!(spans.contains(expected), "missing {expected} in\n{spans}");
    }
    let all = format!("{keys}\n{spans}");
    for secret in [PAN, secret_block.as_str(), ZPK_IN, ZPK_OUT, CVK] {
        assert!(!all.contains(secret), "leaked {secret}");
    }
    assert!(!all.contains(&format!("\"{}\"", cvv.expose())));
}

// ------------------------------------------------------------------ composition

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composed_stack_survives_a_primary_killed_mid_run() {
    let hsm = Arc::new(Faulty::new(backend("hsm", Wrong::default()).await));
    let cloud = backend("cloud", Wrong::default()).await;
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Arc::new(
        Shadow::builder(
            Timeout::new(hsm.clone(), Duration::from_millis(50)),
            cloud.clone(),
            report.clone(),
        )
        .compare_pin_blocks(cloud.clone(), id("zpk/compare"))
        .build(),
    );
    let gateway = Arc::new(Metrics::new(Retry::new(Failover::with_config(
        vec![shadow.clone() as Arc<dyn Backend>, cloud.clone()],
        BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(3600),
        },
    ))));
    let reference = backend("reference", Wrong::default()).await;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let gateway = gateway.clone();
        let reference = reference.clone();
        let hsm = hsm.clone();
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for i in 0..30 {
                if t == 0 && i == 15 {
                    hsm.switch().set(Fault::Hang);
                }
                for req in deterministic_mix()
                    .into_iter()
                    .chain([translate(PinBlockFormat::Iso3)])
                {
                    let deterministic = !matches!(&req, Request::TranslatePin(r) if r.outgoing_format == PinBlockFormat::Iso3);
                    let expected = reference.execute(req.clone()).await.unwrap();
                    match gateway.execute(req).await {
                        Ok(r) if !deterministic || r == expected => {}
                        _ => failed += 1,
                    }
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap();
    }
    assert_eq!(failed, 0);
    shadow.flush().await;
    let snap = report.snapshot();
    assert_eq!(snap.sum(|r| r.mismatched), 0, "{snap}");
    assert!(snap.sum(|r| r.matched) >= 6 * 15, "{snap}");
    // The dead primary was abandoned after a handful of timeouts: the
    // threshold plus the requests already in flight when it died.
    let health = gateway.inner().inner().health();
    assert!(health[0].failures <= 2 + 4, "{health:?}");
    assert!(matches!(health[0].state, BreakerState::Open { .. }));
}

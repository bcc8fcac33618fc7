//! One harness for every backend: a table of backends, each also under
//! Retry/Timeout and Shadow, and one property-based routine per property
//! run over all of them. Adding a backend is one line in [`TABLE`].
//!
//! - **Agreement**: random cards, PINs, KSNs, transactions and messages; each
//!   request runs on the backend and on the software reference holding the
//!   same clear keys (`conformance::reference_for`), and the answers must be
//!   equal — or the backend's declared capabilities exclude the request and
//!   it answers `Unsupported`.
//! - **PIN round trip**: a random PIN generated on a backend (with its IBM
//!   3624 offset or Visa PVV) verifies on the reference holding the same
//!   keys, and altered data or another PIN is `Failed`; and on every other
//!   backend of the table (software ↔ payShield simulator ↔ AWS emulator),
//!   which hold the same clear test keys (fixed-key provisioning).
//! - **Malformed requests**: every backend refuses the same bad request with
//!   the same `ErrorKind` (request-shape rules are checked once, in
//!   `Request::validate`; key rules once, in the crate's `rules`).
//!
//! Keys are provisioned on each backend through key exchange, as the
//! conformance suite does (`conformance::provision`), with the same fixed
//! clear values on every backend. Simulators run in
//! process on 127.0.0.1 with port 0.

use futures_like::BoxFuture;
use paycrypto::algo::{cipher::BlockCipher, dukpt, emv, pinblock, pinverify};
use paycrypto::aws::AwsBackend;
use paycrypto::conformance::{
    payshield_test_lmk_options, provision, reference_for, KeySet, ProvisionOptions, Role,
};
use paycrypto::layers::{DiscrepancyReport, Retry, Shadow, Timeout};
use paycrypto::ops::*;
use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use paycrypto::*;
use proptest::prelude::*;
use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

mod futures_like {
    pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
}

/// A backend under test, with what keeps its simulator alive.
struct Made {
    backend: Arc<dyn Backend>,
    provision: ProvisionOptions,
    _guard: Box<dyn Any + Send + Sync>,
}

type Make = fn() -> BoxFuture<Made>;

/// The backends. One line each; every entry also runs under
/// `Retry(Timeout(…))` and as the primary of a `Shadow` with the software
/// reference as candidate.
const TABLE: &[(&str, Make)] = &[
    ("software", software),
    ("payshield", payshield_simulator),
    ("payshield-keyblock", payshield_key_block_simulator),
    ("aws", aws_emulator),
];

fn software() -> BoxFuture<Made> {
    Box::pin(async {
        Made {
            backend: Arc::new(SoftwareBackend::new()),
            provision: ProvisionOptions::with_prefix("h/").with_fixed_keys(),
            _guard: Box::new(()),
        }
    })
}

fn payshield_simulator() -> BoxFuture<Made> {
    payshield_with(paycrypto::payshield::LmkKind::Variant)
}

/// The payShield simulator running the test key-block LMK (keys are
/// Thales key blocks; AES keys, ISO 4, AES DUKPT, CMAC and HMAC on).
fn payshield_key_block_simulator() -> BoxFuture<Made> {
    payshield_with(paycrypto::payshield::LmkKind::KeyBlock)
}

fn payshield_with(lmk: paycrypto::payshield::LmkKind) -> BoxFuture<Made> {
    Box::pin(async move {
        let mut sim_config = paycrypto::server::payshield::SimConfig::default();
        let mut config = PayShieldConfig::new(String::new());
        if lmk == paycrypto::payshield::LmkKind::KeyBlock {
            sim_config = sim_config.with_test_key_block_lmk();
            config = config.with_key_block_lmk();
        }
        let sim = paycrypto::server::payshield::start(sim_config)
            .await
            .expect("start the payShield simulator");
        config.addr = sim.addr().to_string();
        let ps = PayShieldBackend::connect(config, KeyTable::new())
            .await
            .expect("connect to the simulator");
        let provision = payshield_test_lmk_options(&ps, "h/")
            .await
            .expect("the simulator runs the test LMK")
            .with_fixed_keys();
        Made {
            backend: Arc::new(ps),
            provision,
            _guard: Box::new(sim),
        }
    })
}

fn aws_emulator() -> BoxFuture<Made> {
    Box::pin(async {
        let emu = paycrypto::server::aws::start(Default::default())
            .await
            .expect("start the AWS emulator");
        let aws = AwsBackend::builder()
            .endpoint_url(emu.endpoint_url())
            .region("us-east-1")
            .credentials("AKIDHARNESS", "harness/secret", None)
            .sdk_retries(false)
            .build()
            .await;
        Made {
            backend: Arc::new(aws),
            provision: ProvisionOptions::with_prefix("h/").with_fixed_keys(),
            _guard: Box::new(emu),
        }
    })
}

/// One entry of the expanded table.
struct Entry {
    name: String,
    backend: Arc<dyn Backend>,
    keys: KeySet,
    reference: SoftwareBackend,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    entries: Vec<Entry>,
    _guards: Vec<Box<dyn Any + Send + Sync>>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (entries, guards) = rt.block_on(async {
            let mut entries = Vec::new();
            let mut guards = Vec::new();
            for (name, make) in TABLE {
                let made = make().await;
                let p = provision(made.backend.as_ref(), &made.provision).await;
                let reference = reference_for(&p.keys).await;
                let b = made.backend.clone();
                let layered: Vec<(String, Arc<dyn Backend>)> = vec![
                    (name.to_string(), b.clone()),
                    (
                        format!("retry(timeout({name}))"),
                        Arc::new(Retry::new(Timeout::new(b.clone(), Duration::from_secs(10)))),
                    ),
                    (
                        format!("shadow({name}, reference)"),
                        Arc::new(Shadow::new(
                            b.clone(),
                            reference_for(&p.keys).await,
                            DiscrepancyReport::new(),
                        )),
                    ),
                ];
                for (n, backend) in layered {
                    entries.push(Entry {
                        name: n,
                        backend,
                        keys: p.keys.clone(),
                        reference: reference.clone(),
                    });
                }
                guards.push(made._guard);
            }
            (entries, guards)
        });
        Harness {
            rt,
            entries,
            _guards: guards,
        }
    })
}

fn key(keys: &KeySet, role: Role) -> Option<KeyId> {
    keys.get(role).map(|k| k.id.clone())
}

fn clear(keys: &KeySet, role: Role) -> Option<Vec<u8>> {
    keys.get(role)
        .and_then(|k| k.clear.as_ref())
        .map(|c| c.expose().to_vec())
}

// ------------------------------------------------------------ agreement

/// Inputs of one agreement round; the request is built per entry (key names
/// and clear keys differ between backends).
#[derive(Debug, Clone)]
struct Round {
    op: u8,
    pan: String,
    pin: String,
    in_format: PinBlockFormat,
    out_format: PinBlockFormat,
    counter: u32,
    data: Vec<u8>,
    atc: [u8; 2],
    un: [u8; 4],
    session: u8,
    padding: Iso9797Padding,
    arpc: u8,
    cvv_kind: u8,
    expiry: String,
    mac_alg: u8,
    mac_len: Option<usize>,
}

fn round() -> impl Strategy<Value = Round> {
    let formats = prop_oneof![
        Just(PinBlockFormat::Iso0),
        Just(PinBlockFormat::Iso1),
        Just(PinBlockFormat::Iso3),
        Just(PinBlockFormat::Iso4),
    ];
    let paddings = prop_oneof![
        Just(Iso9797Padding::Method1),
        Just(Iso9797Padding::Method2),
        Just(Iso9797Padding::Method3),
    ];
    (
        (
            0u8..7,
            "[1-9][0-9]{12,18}",
            "[0-9]{4,12}",
            formats.clone(),
            formats,
            1u32..0x1F_FFFF,
        ),
        (
            proptest::collection::vec(any::<u8>(), 1..48),
            any::<[u8; 2]>(),
            any::<[u8; 4]>(),
            0u8..3,
            paddings,
            0u8..3,
        ),
        (
            0u8..3,
            "[0-9]{4}",
            0u8..4,
            prop_oneof![Just(None), Just(Some(4usize)), Just(Some(8))],
        ),
    )
        .prop_map(
            |(
                (op, pan, pin, in_format, out_format, counter),
                (data, atc, un, session, padding, arpc),
                (cvv_kind, expiry, mac_alg, mac_len),
            )| Round {
                op,
                pan,
                pin,
                in_format,
                out_format,
                counter,
                data,
                atc,
                un,
                session,
                padding,
                arpc,
                cvv_kind,
                expiry,
                mac_alg,
                mac_len,
            },
        )
}

/// The request for `r` on `e`, or `None` when a key it needs is not there
/// (the backend cannot hold it: declared in its capabilities).
fn build(e: &Entry, r: &Round) -> Option<Request> {
    let k = &e.keys;
    let pan = Pan::new(&r.pan).ok()?;
    let pin = Pin::new(&r.pin).ok()?;
    Some(match r.op {
        // Zone PIN translation (TDES zone keys; ISO 4 with the AES key).
        0 => {
            let (in_role, in_fmt) = match r.in_format {
                PinBlockFormat::Iso4 => (Role::ZpkAes, PinBlockFormat::Iso4),
                f => (Role::Zpk, f),
            };
            let out_fmt = match (in_fmt, r.out_format) {
                // PCI: no translation into ISO 1 from 0/3/4.
                (PinBlockFormat::Iso1, f) => f,
                (_, PinBlockFormat::Iso1) => PinBlockFormat::Iso0,
                (_, f) => f,
            };
            let out_role = if out_fmt == PinBlockFormat::Iso4 {
                Role::ZpkAes
            } else {
                Role::Zpk2
            };
            let c = clear(k, in_role)?;
            let cipher = if in_fmt == PinBlockFormat::Iso4 {
                BlockCipher::aes(&c).ok()?
            } else {
                BlockCipher::tdes(&c).ok()?
            };
            let block = pinblock::encrypt_pin_block(
                &cipher,
                in_fmt,
                &pin,
                Some(pan.expose()),
                &mut rand::rng(),
            )
            .ok()?;
            TranslatePinRequest {
                incoming_key: PinKey::Key(key(k, in_role)?),
                incoming_format: in_fmt,
                outgoing_key: key(k, out_role)?,
                outgoing_format: out_fmt,
                pan,
                pin_block: block,
            }
            .into()
        }
        // TDES DUKPT PIN → zone key (ISO 0 out: deterministic).
        1 => {
            let bdk = clear(k, Role::Bdk)?;
            let ksn = Ksn::parse_initial_hex("FFFF9876543210E00000")
                .ok()?
                .with_counter(r.counter & 0x1F_FFFF)
                .ok()?;
            let ipek_key = dukpt::tdes_working_key(&bdk, &ksn, dukpt::TdesDukptUsage::Pin).ok()?;
            let cipher = BlockCipher::tdes(ipek_key.as_slice()).ok()?;
            let block = pinblock::encrypt_pin_block(
                &cipher,
                PinBlockFormat::Iso0,
                &pin,
                Some(pan.expose()),
                &mut rand::rng(),
            )
            .ok()?;
            TranslatePinRequest {
                incoming_key: PinKey::Dukpt(Dukpt {
                    bdk: key(k, Role::Bdk)?,
                    ksn,
                    key_type: KeyAlgorithm::Tdes2,
                }),
                incoming_format: PinBlockFormat::Iso0,
                outgoing_key: key(k, Role::Zpk)?,
                outgoing_format: PinBlockFormat::Iso0,
                pan,
                pin_block: block,
            }
            .into()
        }
        // Data decryption: DUKPT (P2PE) or the data key, ECB or CBC.
        2 => {
            let mut data = r.data.clone();
            data.resize(data.len().div_ceil(8) * 8, 0);
            let key_ref = if r.session == 0 {
                DataKey::Key(key(k, Role::Dek)?)
            } else {
                DataKey::Dukpt {
                    dukpt: Dukpt {
                        bdk: key(k, Role::Bdk)?,
                        ksn: Ksn::parse_initial_hex("FFFF9876543210E00000")
                            .ok()?
                            .with_counter(r.counter & 0x1F_FFFF)
                            .ok()?,
                        key_type: KeyAlgorithm::Tdes2,
                    },
                    variant: DukptVariant::Request,
                }
            };
            let mode = if r.arpc == 0 {
                CipherMode::Ecb
            } else {
                CipherMode::Cbc { iv: r.un.repeat(2) }
            };
            DecryptDataRequest {
                key: key_ref,
                mode,
                ciphertext: data,
            }
            .into()
        }
        // CVV generation.
        3 => GenerateCardValidationRequest {
            key: key(k, Role::Cvk)?,
            pan,
            expiry: CardExpiry::new(&r.expiry).ok()?,
            kind: match r.cvv_kind {
                0 => CardValidationKind::Cvv(ServiceCode::new("101").ok()?),
                1 => CardValidationKind::Cvv2,
                _ => CardValidationKind::Icvv,
            },
            length: paycrypto::CvvLength::THREE,
        }
        .into(),
        // ARQC verification with a genuine ARQC, every session key and ARPC.
        4 => {
            let imk = clear(k, Role::ImkAc)?;
            let psn = Psn::new("01").ok()?;
            let session = match r.session {
                0 => SessionKeyDerivation::EmvCommon { atc: r.atc },
                1 => SessionKeyDerivation::Mastercard {
                    atc: r.atc,
                    unpredictable_number: r.un,
                },
                _ => SessionKeyDerivation::Visa,
            };
            let icc =
                emv::derive_icc_mk(&imk, pan.expose(), Some("01"), MkDerivation::OptionA).ok()?;
            let sk = emv::derive_session_key(icc.as_slice(), session.to_algo()).ok()?;
            let arqc = emv::generate_ac(sk.as_slice(), &r.data, r.padding).ok()?;
            let arpc = match r.arpc {
                0 => None,
                1 => Some(ArpcMethod::Method1 { arc: *b"00" }),
                _ => Some(ArpcMethod::Method2 {
                    csu: r.un,
                    proprietary_data: ProprietaryAuthData::new(&r.atc).ok()?,
                }),
            };
            VerifyArqcRequest {
                key: key(k, Role::ImkAc)?,
                mk_derivation: MkDerivation::OptionA,
                session,
                pan,
                psn,
                transaction_data: r.data.clone(),
                padding: r.padding,
                arqc: arqc.as_slice().try_into().ok()?,
                arpc,
            }
            .into()
        }
        // PIN verification (IBM 3624 or Visa PVV), zone key or DUKPT, the
        // right PIN or another.
        6 => {
            let ibm = r.session.is_multiple_of(2);
            let role = if ibm { Role::PvkIbm } else { Role::PvkVisa };
            let pvk = BlockCipher::tdes(&clear(k, role)?).ok()?;
            let (pin_key, cipher, format) = match (r.in_format, r.arpc) {
                (PinBlockFormat::Iso4, _) => (
                    PinKey::Key(key(k, Role::ZpkAes)?),
                    BlockCipher::aes(&clear(k, Role::ZpkAes)?).ok()?,
                    PinBlockFormat::Iso4,
                ),
                (f, 0) => {
                    let ksn = Ksn::parse_initial_hex("FFFF9876543210E00000")
                        .ok()?
                        .with_counter(r.counter & 0x1F_FFFF)
                        .ok()?;
                    let wk = dukpt::tdes_working_key(
                        &clear(k, Role::Bdk)?,
                        &ksn,
                        dukpt::TdesDukptUsage::Pin,
                    )
                    .ok()?;
                    let d = Dukpt {
                        bdk: key(k, Role::Bdk)?,
                        ksn,
                        key_type: KeyAlgorithm::Tdes2,
                    };
                    (PinKey::Dukpt(d), BlockCipher::tdes(wk.as_slice()).ok()?, f)
                }
                (f, _) => (
                    PinKey::Key(key(k, Role::Zpk)?),
                    BlockCipher::tdes(&clear(k, Role::Zpk)?).ok()?,
                    f,
                ),
            };
            let method = if ibm {
                let ibm = ibm_params(&r.pan, &r.expiry)?;
                let offset = pinverify::ibm3624_offset(&pvk, &ibm.params(), &pin, None).ok()?;
                PinVerification::Ibm3624 { ibm, offset }
            } else {
                let pvki = Pvki::new(r.un[0] % 7).ok()?;
                let pvv = pinverify::visa_pvv(&pvk, &pan, pvki, &pin).ok()?;
                PinVerification::VisaPvv { pvki, pvv }
            };
            let presented = if r.cvv_kind == 0 {
                other_pin(&pin)?
            } else {
                pin.clone()
            };
            let block = pinblock::encrypt_pin_block(
                &cipher,
                format,
                &presented,
                Some(pan.expose()),
                &mut rand::rng(),
            )
            .ok()?;
            VerifyPinDataRequest {
                verification_key: key(k, role)?,
                pin_key,
                format,
                pan,
                pin_block: block,
                method,
                pin_length: None,
            }
            .into()
        }
        // MAC generation, every algorithm.
        _ => {
            let (role, algorithm) = match r.mac_alg {
                0 => (Role::MacRetail, MacAlgorithm::Iso9797Alg3(r.padding)),
                1 => (Role::MacAlg1, MacAlgorithm::Iso9797Alg1(r.padding)),
                2 => (Role::MacCmacAes, MacAlgorithm::Cmac),
                _ => (Role::MacHmac, MacAlgorithm::HmacSha256),
            };
            GenerateMacRequest {
                key: key(k, role)?,
                algorithm,
                data: r.data.clone(),
                mac_length: r.mac_len,
            }
            .into()
        }
    })
}

/// IBM 3624 parameters for a card: a decimalisation table from `seed`
/// digits (the standard table rotated by the first when those fail an HSM's
/// table check), up to 16 PAN digits ending before the check digit as
/// validation data (so that they hold the account number's last five
/// digits, as a payShield needs).
fn ibm_params(pan: &str, seed: &str) -> Option<Ibm3624> {
    let cycled: String = seed.chars().cycle().take(16).collect();
    let mut table = DecimalizationTable::new(&cycled).ok()?;
    if !table.passes_hsm_check() {
        let shift = usize::from(seed.as_bytes().first()? - b'0');
        let rotated: String = DecimalizationTable::STANDARD
            .chars()
            .cycle()
            .skip(shift)
            .take(16)
            .collect();
        table = DecimalizationTable::new(&rotated).ok()?;
    }
    let end = pan.len().checked_sub(1)?;
    Some(Ibm3624 {
        decimalization_table: table,
        validation_data: PinValidationData::new(pan.get(end.saturating_sub(16)..end)?).ok()?,
        pad: PadCharacter::F,
    })
}

/// A PIN of the same length whose first digit differs.
///
/// Another PIN need not fail verification: a Visa PVV is four decimal
/// digits of a DES output, so about one PIN in ten thousand shares the PVV
/// of a given PIN (under the test PVK, PAN 4123456789000035, PVKI 4: PINs
/// 5700 and 6700). Where the answer must be `Failed`, use
/// [`other_pin_rejected`].
fn other_pin(pin: &Pin) -> Option<Pin> {
    other_pin_shifted(pin, 1)
}

/// `pin` with its first digit advanced by `shift` (modulo 10).
fn other_pin_shifted(pin: &Pin, shift: u8) -> Option<Pin> {
    let mut d = pin.digits().to_vec();
    let first = d.first_mut()?;
    *first = b'0' + (*first - b'0' + shift) % 10;
    Pin::from_digits(&d).ok()
}

/// A PIN of the same length, with another first digit, that the PIN data
/// `check` (computed with the clear PVK `pvk`) does not accept: the first
/// of the nine other first digits whose PVV (or IBM 3624 check) differs.
fn other_pin_rejected(
    pvk: &BlockCipher,
    pan: &Pan,
    pin: &Pin,
    check: &PinVerification,
) -> Result<Pin, TestCaseError> {
    for shift in 1..10 {
        let p = other_pin_shifted(pin, shift).ok_or_else(|| TestCaseError::fail("no other PIN"))?;
        let accepted = match check {
            PinVerification::VisaPvv { pvki, pvv } => {
                pinverify::visa_pvv(pvk, pan, *pvki, &p).map(|x| x == *pvv)
            }
            PinVerification::Ibm3624 { ibm, offset } => {
                pinverify::ibm3624_verify(pvk, &ibm.params(), &p, offset)
            }
        }
        .map_err(|x| TestCaseError::fail(format!("reference algorithm: {x}")))?;
        if !accepted {
            return Ok(p);
        }
    }
    Err(TestCaseError::fail(
        "every first digit gives the same PIN data",
    ))
}

/// Equal answers; ISO 1/3/4 PIN blocks carry random fill, so those compare
/// by the PIN the reference reads out of them.
async fn same_answer(e: &Entry, req: &Request, got: &Response, want: &Response) -> bool {
    match (got, want) {
        (Response::TranslatePin(g), Response::TranslatePin(w))
            if matches!(
                g.format,
                PinBlockFormat::Iso1 | PinBlockFormat::Iso3 | PinBlockFormat::Iso4
            ) =>
        {
            // Translate the backend's block back to ISO 0 on the reference.
            let Request::TranslatePin(t) = req else {
                return false;
            };
            let back = |block: &EncryptedPinBlock| TranslatePinRequest {
                incoming_key: PinKey::Key(t.outgoing_key.clone()),
                incoming_format: t.outgoing_format,
                outgoing_key: t.outgoing_key.clone(),
                outgoing_format: PinBlockFormat::Iso0,
                pan: t.pan.clone(),
                pin_block: block.clone(),
            };
            if t.outgoing_format == PinBlockFormat::Iso4 {
                // ISO 4 → ISO 0 needs a TDES key; compare through ISO 3 is
                // not possible either: read both under the AES key as ISO 4
                // re-encipherments instead.
                let again = |block: &EncryptedPinBlock| TranslatePinRequest {
                    outgoing_format: PinBlockFormat::Iso4,
                    ..back(block)
                };
                let (a, b) = (
                    e.reference.translate_pin(again(&g.pin_block)).await,
                    e.reference.translate_pin(again(&w.pin_block)).await,
                );
                return a.is_ok() && b.is_ok() && g.key_check_value == w.key_check_value;
            }
            let (a, b) = (
                e.reference.translate_pin(back(&g.pin_block)).await,
                e.reference.translate_pin(back(&w.pin_block)).await,
            );
            matches!((a, b), (Ok(a), Ok(b)) if a.pin_block == b.pin_block)
                && g.key_check_value == w.key_check_value
        }
        _ => got == want,
    }
}

fn agreement(r: &Round) -> Result<(), TestCaseError> {
    let h = harness();
    h.rt.block_on(async {
        for e in &h.entries {
            let Some(req) = build(e, r) else {
                // A key this backend cannot hold (its capabilities say so).
                continue;
            };
            let declared = e.backend.capabilities().check(&req);
            let got = e.backend.execute(req.clone()).await;
            if let Err(why) = declared {
                prop_assert_eq!(
                    got.as_ref().err().map(|x| x.kind()),
                    Some(ErrorKind::Unsupported),
                    "{}: undeclared request must be Unsupported ({})",
                    &e.name,
                    why
                );
                continue;
            }
            let want = e.reference.execute(req.clone()).await;
            match (&got, &want) {
                (Ok(g), Ok(w)) => prop_assert!(
                    same_answer(e, &req, g, w).await,
                    "{}: {:?} differs from the reference for {:?}",
                    &e.name,
                    g.operation(),
                    req.operation()
                ),
                (Err(g), Err(w)) => {
                    prop_assert_eq!(g.kind(), w.kind(), "{}: {} vs {}", &e.name, g, w)
                }
                (g, w) => prop_assert!(
                    false,
                    "{}: {:?} vs reference {:?}",
                    &e.name,
                    g.as_ref().map(|r| r.operation()).map_err(|x| x.to_string()),
                    w.as_ref().map(|r| r.operation()).map_err(|x| x.to_string())
                ),
            }
        }
        Ok(())
    })
}

// ------------------------------------------------------------ PIN round trip

/// Inputs of one PIN generation round.
#[derive(Debug, Clone)]
struct PinRound {
    pan: String,
    pin_length: u8,
    ibm: bool,
    format: PinBlockFormat,
    pvki: u8,
    seed: String,
}

fn pin_round() -> impl Strategy<Value = PinRound> {
    (
        "[1-9][0-9]{12,18}",
        4u8..=12,
        any::<bool>(),
        prop_oneof![
            Just(PinBlockFormat::Iso0),
            Just(PinBlockFormat::Iso1),
            Just(PinBlockFormat::Iso3),
            Just(PinBlockFormat::Iso4),
        ],
        0u8..=6,
        "[0-9]{16}",
    )
        .prop_map(|(pan, pin_length, ibm, format, pvki, seed)| PinRound {
            pan,
            pin_length,
            ibm,
            format,
            pvki,
            seed,
        })
}

/// A random-PIN generation request for `r` on `e`, with the clear PIN
/// encryption key to read the result and the clear PVK (test keys), or
/// `None` when a key it needs is not there.
fn build_generate(
    e: &Entry,
    r: &PinRound,
) -> Option<(GeneratePinDataRequest, BlockCipher, BlockCipher)> {
    let k = &e.keys;
    let (pek_role, pek) = if r.format == PinBlockFormat::Iso4 {
        (
            Role::ZpkAes,
            BlockCipher::aes(&clear(k, Role::ZpkAes)?).ok()?,
        )
    } else {
        (Role::Zpk, BlockCipher::tdes(&clear(k, Role::Zpk)?).ok()?)
    };
    let pin_length = PinLength::new(r.pin_length).ok()?;
    let (role, method) = if r.ibm {
        (
            Role::PvkIbm,
            PinGeneration::Ibm3624RandomPin {
                ibm: ibm_params(&r.pan, &r.seed)?,
                pin_length,
            },
        )
    } else {
        (
            Role::PvkVisa,
            PinGeneration::VisaPin {
                pvki: Pvki::new(r.pvki).ok()?,
                pin_length,
            },
        )
    };
    let req = GeneratePinDataRequest {
        generation_key: key(k, role)?,
        encryption_key: key(k, pek_role)?,
        format: r.format,
        pan: Pan::new(&r.pan).ok()?,
        method,
    };
    let pvk = BlockCipher::tdes(&clear(k, role)?).ok()?;
    Some((req, pek, pvk))
}

/// What to verify a generated PIN with: its PIN data, the data altered,
/// and the block of another PIN that the PIN data does not accept (checked
/// with the clear PVK `pvk`), under the same key; checks the returned block
/// first (its format, and a PIN of the requested length).
#[allow(clippy::type_complexity)]
fn pin_checks(
    name: &str,
    r: &PinRound,
    req: &GeneratePinDataRequest,
    g: &GeneratePinDataResponse,
    pek: &BlockCipher,
    pvk: &BlockCipher,
) -> Result<(PinVerification, PinVerification, EncryptedPinBlock), TestCaseError> {
    prop_assert_eq!(g.format, r.format);
    let pan = req.pan.clone();
    let pin =
        pinblock::decrypt_pin_block(pek, r.format, g.pin_block.as_bytes(), Some(pan.expose()))
            .map_err(|x| TestCaseError::fail(format!("{name}: block: {x}")))?;
    prop_assert_eq!(pin.digits().len(), usize::from(r.pin_length), "{}", name);
    let (right, altered) = match (&req.method, &g.pin_data) {
        (PinGeneration::Ibm3624RandomPin { ibm, .. }, PinData::Offset(o)) => {
            let mut v = o.values().to_vec();
            v[0] = (v[0] + 1) % 10;
            (
                PinVerification::Ibm3624 {
                    ibm: ibm.clone(),
                    offset: o.clone(),
                },
                PinVerification::Ibm3624 {
                    ibm: ibm.clone(),
                    offset: PinOffset::from_values(&v).unwrap(),
                },
            )
        }
        (PinGeneration::VisaPin { pvki, .. }, PinData::Pvv(p)) => {
            let mut v = *p.values();
            v[0] = (v[0] + 1) % 10;
            (
                PinVerification::VisaPvv {
                    pvki: *pvki,
                    pvv: p.clone(),
                },
                PinVerification::VisaPvv {
                    pvki: *pvki,
                    pvv: Pvv::from_values(v).unwrap(),
                },
            )
        }
        (m, d) => return Err(TestCaseError::fail(format!("{name}: {d:?} for {m:?}"))),
    };
    let other = pinblock::encrypt_pin_block(
        pek,
        r.format,
        &other_pin_rejected(pvk, &pan, &pin, &right)?,
        Some(pan.expose()),
        &mut rand::rng(),
    )
    .unwrap();
    Ok((right, altered, other))
}

/// A PIN generated on each backend verifies on the reference holding the
/// same keys; the same block against altered PIN data, and another PIN
/// against the generated data, are `Failed`. A backend that does not
/// declare PIN generation answers `Unsupported`.
fn generated_pin_verifies(r: &PinRound) -> Result<(), TestCaseError> {
    let h = harness();
    h.rt.block_on(async {
        let mut verified = 0;
        for e in &h.entries {
            let Some((req, pek, pvk)) = build_generate(e, r) else {
                continue;
            };
            let declared = e.backend.capabilities().check(&Request::from(req.clone()));
            let got = e.backend.generate_pin_data(req.clone()).await;
            if let Err(why) = declared {
                prop_assert_eq!(
                    got.as_ref().err().map(|x| x.kind()),
                    Some(ErrorKind::Unsupported),
                    "{}: undeclared request must be Unsupported ({})",
                    &e.name,
                    why
                );
                continue;
            }
            let g = got.map_err(|x| TestCaseError::fail(format!("{}: {x}", e.name)))?;
            let (right, altered, other) = pin_checks(&e.name, r, &req, &g, &pek, &pvk)?;
            let pin_key = PinKey::Key(req.encryption_key.clone());
            for (block, method, want) in [
                (g.pin_block.clone(), right.clone(), Verification::Verified),
                (g.pin_block.clone(), altered, Verification::Failed),
                (other, right, Verification::Failed),
            ] {
                let v = e
                    .reference
                    .verify_pin_data(VerifyPinDataRequest {
                        verification_key: req.generation_key.clone(),
                        pin_key: pin_key.clone(),
                        format: r.format,
                        pan: req.pan.clone(),
                        pin_block: block,
                        method,
                        pin_length: Some(PinLength::new(r.pin_length).unwrap()),
                    })
                    .await
                    .map_err(|x| TestCaseError::fail(format!("{}: reference: {x}", e.name)))?;
                prop_assert_eq!(v.verification, want, "{}", &e.name);
            }
            verified += 1;
        }
        // Software, payShield with a variant and with a key-block LMK (ISO
        // 0/1/3) and AWS, each bare and under two layers.
        let want = if r.format == PinBlockFormat::Iso4 {
            6
        } else {
            12
        };
        prop_assert_eq!(verified, want, "entries that generated PINs");
        Ok(())
    })
}

/// A PIN generated on one backend verifies on every other backend of the
/// table (software ↔ payShield simulator ↔ AWS emulator), each holding the
/// same clear test keys under its own names (fixed-key provisioning); the
/// altered PIN data and another PIN are `Failed` there too. Pairs where
/// either side does not declare the request (ISO 4 on the payShield) are
/// left out.
fn generated_pin_verifies_on_the_other_backends(r: &PinRound) -> Result<(), TestCaseError> {
    let h = harness();
    h.rt.block_on(async {
        let bare: Vec<&Entry> = h
            .entries
            .iter()
            .filter(|e| TABLE.iter().any(|(n, _)| *n == e.name))
            .collect();
        let mut crossed = Vec::new();
        for a in &bare {
            let Some((req, pek, pvk)) = build_generate(a, r) else {
                continue;
            };
            if a.backend
                .capabilities()
                .check(&Request::from(req.clone()))
                .is_err()
            {
                continue;
            }
            let g = a
                .backend
                .generate_pin_data(req.clone())
                .await
                .map_err(|x| TestCaseError::fail(format!("{}: {x}", a.name)))?;
            let (right, altered, other) = pin_checks(&a.name, r, &req, &g, &pek, &pvk)?;
            let (pvk_role, pek_role) = match (&req.method, r.format) {
                (PinGeneration::VisaPin { .. }, PinBlockFormat::Iso4) => {
                    (Role::PvkVisa, Role::ZpkAes)
                }
                (PinGeneration::VisaPin { .. }, _) => (Role::PvkVisa, Role::Zpk),
                (_, PinBlockFormat::Iso4) => (Role::PvkIbm, Role::ZpkAes),
                _ => (Role::PvkIbm, Role::Zpk),
            };
            for b in &bare {
                if b.name == a.name
                    || !b
                        .backend
                        .capabilities()
                        .operations
                        .contains(&paycrypto::Operation::VerifyPinData)
                {
                    continue;
                }
                let (Some(pvk), Some(zpk)) = (key(&b.keys, pvk_role), key(&b.keys, pek_role))
                else {
                    continue;
                };
                for role in [pvk_role, pek_role] {
                    prop_assert_eq!(
                        clear(&a.keys, role),
                        clear(&b.keys, role),
                        "{} and {} hold different {} keys",
                        &a.name,
                        &b.name,
                        role
                    );
                }
                let n = PinLength::new(r.pin_length).unwrap();
                let mut ran = 0;
                for (block, method, length, want) in [
                    (
                        g.pin_block.clone(),
                        right.clone(),
                        Some(n),
                        Verification::Verified,
                    ),
                    (
                        g.pin_block.clone(),
                        right.clone(),
                        None,
                        Verification::Verified,
                    ),
                    (
                        g.pin_block.clone(),
                        altered.clone(),
                        None,
                        Verification::Failed,
                    ),
                    (other.clone(), right.clone(), None, Verification::Failed),
                ] {
                    let v = VerifyPinDataRequest {
                        verification_key: pvk.clone(),
                        pin_key: PinKey::Key(zpk.clone()),
                        format: r.format,
                        pan: req.pan.clone(),
                        pin_block: block,
                        method,
                        pin_length: length,
                    };
                    if b.backend
                        .capabilities()
                        .check(&Request::from(v.clone()))
                        .is_err()
                    {
                        continue;
                    }
                    let got = b.backend.verify_pin_data(v).await.map_err(|x| {
                        TestCaseError::fail(format!("{} → {}: {x}", a.name, b.name))
                    })?;
                    prop_assert_eq!(got.verification, want, "{} → {}", &a.name, &b.name);
                    ran += 1;
                }
                if ran > 0 {
                    crossed.push(format!("{}→{}", a.name, b.name));
                }
            }
        }
        // Every ordered pair of software, payShield (variant and key-block
        // LMK) and AWS for ISO 0/1/3; software ↔ AWS for ISO 4 (the
        // payShield's PIN commands take TDES keys only).
        let want = if r.format == PinBlockFormat::Iso4 {
            2
        } else {
            12
        };
        prop_assert_eq!(crossed.len(), want, "{:?}", crossed);
        Ok(())
    })
}

// ------------------------------------------------------------ malformed

/// One malformed request, built per entry.
#[derive(Debug, Clone)]
enum Bad {
    /// PCI: translation into ISO 1 from ISO 0.
    IntoIso1FromIso0,
    /// A 16-byte block said to be ISO 0.
    BlockLengthForFormat,
    /// DUKPT with HMAC as the working-key type.
    DukptHmacKeyType,
    /// A MAC length below 4 or above the algorithm's.
    MacLength(usize),
    /// A presented MAC of a wrong length.
    PresentedMac(usize),
    /// ARQC data that is not whole blocks, without padding.
    ArqcDataUnpadded(usize),
    /// Ciphertext that is not whole blocks.
    CiphertextLength(usize),
    /// A CBC IV of a wrong length.
    IvLength(usize),
    /// A key name that does not exist.
    NoSuchKey,
    /// The CVK as a PIN key.
    CvkAsPinKey,
    /// The zone PIN key as a CVK.
    ZpkAsCvk,
    /// Exporting a non-exportable key.
    ExportNonExportable,
    /// A MAC key for data encryption, with an IV of a valid shape (found by
    /// the `differential_aws` fuzz target: the AWS emulator checked the IV
    /// against the key before the key's usage).
    MacKeyForDataWithIv,
    /// An 8-byte IV for an AES data key.
    TdesIvForAesKey,
    /// PIN data in ISO format 2.
    PinDataIso2,
    /// A PIN length shorter than the IBM 3624 offset.
    PinLengthBelowOffset,
}

fn bad() -> impl Strategy<Value = (Bad, String)> {
    let b = prop_oneof![
        Just(Bad::IntoIso1FromIso0),
        Just(Bad::BlockLengthForFormat),
        Just(Bad::DukptHmacKeyType),
        prop_oneof![0usize..4, 9usize..40].prop_map(Bad::MacLength),
        prop_oneof![0usize..4, 9usize..40].prop_map(Bad::PresentedMac),
        (1usize..64)
            .prop_filter("not whole blocks", |n| n % 8 != 0)
            .prop_map(Bad::ArqcDataUnpadded),
        (1usize..64)
            .prop_filter("not whole blocks", |n| n % 8 != 0)
            .prop_map(Bad::CiphertextLength),
        (0usize..24)
            .prop_filter("not a block", |n| *n != 8 && *n != 16)
            .prop_map(Bad::IvLength),
        Just(Bad::NoSuchKey),
        Just(Bad::CvkAsPinKey),
        Just(Bad::ZpkAsCvk),
        Just(Bad::ExportNonExportable),
        Just(Bad::PinDataIso2),
        Just(Bad::PinLengthBelowOffset),
        Just(Bad::MacKeyForDataWithIv),
        Just(Bad::TdesIvForAesKey),
    ];
    (b, "[1-9][0-9]{12,18}")
}

fn build_bad(e: &Entry, b: &Bad, pan: &str) -> Option<Request> {
    let k = &e.keys;
    let pan = Pan::new(pan).ok()?;
    let block8 = EncryptedPinBlock::from_bytes(&[0x11; 8]).ok()?;
    let translate =
        |in_key: PinKey, fmt_in, fmt_out, block: EncryptedPinBlock| -> Option<Request> {
            Some(
                TranslatePinRequest {
                    incoming_key: in_key,
                    incoming_format: fmt_in,
                    outgoing_key: key(k, Role::Zpk2)?,
                    outgoing_format: fmt_out,
                    pan: pan.clone(),
                    pin_block: block,
                }
                .into(),
            )
        };
    let zpk = || Some(PinKey::Key(key(k, Role::Zpk)?));
    Some(match b {
        Bad::IntoIso1FromIso0 => {
            translate(zpk()?, PinBlockFormat::Iso0, PinBlockFormat::Iso1, block8)?
        }
        Bad::BlockLengthForFormat => translate(
            zpk()?,
            PinBlockFormat::Iso0,
            PinBlockFormat::Iso0,
            EncryptedPinBlock::from_bytes(&[0x11; 16]).ok()?,
        )?,
        Bad::DukptHmacKeyType => translate(
            PinKey::Dukpt(Dukpt {
                bdk: key(k, Role::Bdk)?,
                ksn: Ksn::parse_hex("FFFF9876543210E00001").ok()?,
                key_type: KeyAlgorithm::HmacSha256,
            }),
            PinBlockFormat::Iso0,
            PinBlockFormat::Iso0,
            block8,
        )?,
        Bad::MacLength(n) => GenerateMacRequest {
            key: key(k, Role::MacRetail)?,
            algorithm: MacAlgorithm::Iso9797Alg3(Iso9797Padding::Method2),
            data: vec![1; 20],
            mac_length: Some(*n),
        }
        .into(),
        Bad::PresentedMac(n) => VerifyMacRequest {
            key: key(k, Role::MacRetail)?,
            algorithm: MacAlgorithm::Iso9797Alg3(Iso9797Padding::Method2),
            data: vec![1; 20],
            mac: vec![0; *n],
        }
        .into(),
        Bad::ArqcDataUnpadded(n) => VerifyArqcRequest {
            key: key(k, Role::ImkAc)?,
            mk_derivation: MkDerivation::OptionA,
            session: SessionKeyDerivation::EmvCommon { atc: [0, 1] },
            pan,
            psn: Psn::new("00").ok()?,
            transaction_data: vec![0; *n],
            padding: Iso9797Padding::None,
            arqc: [0; 8],
            arpc: None,
        }
        .into(),
        Bad::CiphertextLength(n) => DecryptDataRequest {
            key: DataKey::Key(key(k, Role::Dek)?),
            mode: CipherMode::Ecb,
            ciphertext: vec![0; *n],
        }
        .into(),
        Bad::IvLength(n) => DecryptDataRequest {
            key: DataKey::Key(key(k, Role::Dek)?),
            mode: CipherMode::Cbc { iv: vec![0; *n] },
            ciphertext: vec![0; 16],
        }
        .into(),
        Bad::NoSuchKey => translate(
            PinKey::Key(KeyId::new("h/no-such-key").ok()?),
            PinBlockFormat::Iso0,
            PinBlockFormat::Iso0,
            block8,
        )?,
        Bad::CvkAsPinKey => translate(
            PinKey::Key(key(k, Role::Cvk)?),
            PinBlockFormat::Iso0,
            PinBlockFormat::Iso0,
            block8,
        )?,
        Bad::ZpkAsCvk => GenerateCardValidationRequest {
            key: key(k, Role::Zpk)?,
            pan,
            expiry: CardExpiry::new("2512").ok()?,
            kind: CardValidationKind::Cvv2,
            length: paycrypto::CvvLength::THREE,
        }
        .into(),
        Bad::MacKeyForDataWithIv => EncryptDataRequest {
            key: DataKey::Key(key(k, Role::MacCmacAes)?),
            mode: CipherMode::Cbc { iv: vec![0xC8; 8] },
            plaintext: SecretBytes::new(vec![0; 16]),
        }
        .into(),
        Bad::TdesIvForAesKey => EncryptDataRequest {
            key: DataKey::Key(key(k, Role::DekAes)?),
            mode: CipherMode::Cbc { iv: vec![0; 8] },
            plaintext: SecretBytes::new(vec![0; 16]),
        }
        .into(),
        Bad::ExportNonExportable => ExportKeyRequest::tr31(
            key(k, Role::ZpkNonExportable)?,
            key(k, Role::Kek)?,
            Tr31Version::B,
        )
        .into(),
        Bad::PinDataIso2 | Bad::PinLengthBelowOffset => {
            let iso2 = matches!(b, Bad::PinDataIso2);
            VerifyPinDataRequest {
                verification_key: key(k, Role::PvkIbm).unwrap_or(key(k, Role::Zpk)?),
                pin_key: zpk()?,
                format: if iso2 {
                    PinBlockFormat::Iso2
                } else {
                    PinBlockFormat::Iso0
                },
                pan: pan.clone(),
                pin_block: block8,
                method: PinVerification::Ibm3624 {
                    ibm: ibm_params(pan.expose(), "0123456789")?,
                    offset: PinOffset::new("123456").ok()?,
                },
                pin_length: (!iso2).then_some(PinLength::FOUR),
            }
            .into()
        }
    })
}

fn same_refusal(b: &Bad, pan: &str) -> Result<(), TestCaseError> {
    let h = harness();
    h.rt.block_on(async {
        let mut kinds: Vec<(String, ErrorKind)> = Vec::new();
        for e in &h.entries {
            let Some(req) = build_bad(e, b, pan) else {
                continue;
            };
            let got = e.backend.execute(req).await;
            let kind = match got {
                Ok(r) => {
                    return Err(TestCaseError::fail(format!(
                        "{}: accepted {:?}: {:?}",
                        e.name,
                        b,
                        r.operation()
                    )))
                }
                Err(x) => x.kind(),
            };
            kinds.push((e.name.clone(), kind));
        }
        prop_assert!(kinds.len() >= 3, "too few backends could build {:?}", b);
        let first = kinds[0].1;
        prop_assert!(
            kinds.iter().all(|(_, k)| *k == first),
            "{:?} refused differently: {:?}",
            b,
            kinds
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn every_backend_agrees_with_the_reference(r in round()) {
        agreement(&r)?;
    }

    #[test]
    fn every_backend_refuses_a_malformed_request_with_the_same_kind((b, pan) in bad()) {
        same_refusal(&b, &pan)?;
    }

    #[test]
    fn a_pin_generated_on_a_backend_verifies_on_the_reference(r in pin_round()) {
        generated_pin_verifies(&r)?;
    }

    #[test]
    fn a_pin_generated_on_a_backend_verifies_on_the_others(r in pin_round()) {
        generated_pin_verifies_on_the_other_backends(&r)?;
    }
}

#[test]
fn the_table_is_expanded_with_layers() {
    let h = harness();
    assert_eq!(h.entries.len(), TABLE.len() * 3);
    for e in &h.entries {
        // Every entry could set up the keys the properties need.
        for role in [
            Role::Zpk,
            Role::Zpk2,
            Role::Cvk,
            Role::ImkAc,
            Role::Bdk,
            Role::MacRetail,
        ] {
            assert!(e.keys.get(role).is_some(), "{}: no {role}", e.name);
        }
    }
}

/// The properties above are not vacuous: on fixed inputs, every entry
/// answers (not refuses) each operation the table's backends share, and the
/// answers equal the reference's.
#[test]
fn fixed_rounds_are_answered_and_compared_on_every_entry() {
    let h = harness();
    let base = Round {
        op: 0,
        pan: "4123456789012345".into(),
        pin: "1234".into(),
        in_format: PinBlockFormat::Iso0,
        out_format: PinBlockFormat::Iso3,
        counter: 7,
        data: b"0123456789ABCDEF_transaction".to_vec(),
        atc: [0, 0x2A],
        un: [1, 2, 3, 4],
        session: 0,
        padding: Iso9797Padding::Method2,
        arpc: 1,
        cvv_kind: 1,
        expiry: "2512".into(),
        mac_alg: 0,
        mac_len: Some(8),
    };
    h.rt.block_on(async {
        for e in &h.entries {
            for op in 0..7u8 {
                let r = Round { op, ..base.clone() };
                let req = build(e, &r).unwrap_or_else(|| panic!("{}: op {op} not built", e.name));
                let got = e.backend.execute(req.clone()).await;
                if !e.backend.capabilities().supports(req.operation()) {
                    // An operation the backend does not declare.
                    assert_eq!(
                        got.map(|_| ()).unwrap_err().kind(),
                        ErrorKind::Unsupported,
                        "{}: op {op}",
                        e.name
                    );
                    continue;
                }
                let want = e.reference.execute(req.clone()).await.expect("reference");
                let got = got.unwrap_or_else(|x| panic!("{}: op {op}: {x}", e.name));
                assert!(
                    same_answer(e, &req, &got, &want).await,
                    "{}: op {op} differs",
                    e.name
                );
            }
        }
    });
}

/// The PIN round trip's "another PIN is `Failed`" check once failed at
/// random: a Visa PVV is four decimal digits, so the generated PIN's
/// neighbour (first digit + 1) shares its PVV about once in ten thousand
/// rounds, and the reference then rightly answers `Verified`. This pins
/// such a pair under the fixed test PVK and checks that the PIN the round
/// trip uses instead is rejected by the reference.
#[test]
fn another_pin_sharing_the_pvv_is_not_used_as_the_wrong_pin() {
    let h = harness();
    let e = &h.entries[0];
    let pvk = BlockCipher::tdes(&clear(&e.keys, Role::PvkVisa).unwrap()).unwrap();
    let zpk = BlockCipher::tdes(&clear(&e.keys, Role::Zpk).unwrap()).unwrap();
    let pan = Pan::new("4123456789000035").unwrap();
    let pvki = Pvki::new(4).unwrap();
    let pin = Pin::from_digits(b"5700").unwrap();
    let pvv = pinverify::visa_pvv(&pvk, &pan, pvki, &pin).unwrap();
    let right = PinVerification::VisaPvv { pvki, pvv };
    let verify = |p: &Pin| {
        let block = pinblock::encrypt_pin_block(
            &zpk,
            PinBlockFormat::Iso3,
            p,
            Some(pan.expose()),
            &mut rand::rng(),
        )
        .unwrap();
        h.rt.block_on(e.reference.verify_pin_data(VerifyPinDataRequest {
            verification_key: key(&e.keys, Role::PvkVisa).unwrap(),
            pin_key: PinKey::Key(key(&e.keys, Role::Zpk).unwrap()),
            format: PinBlockFormat::Iso3,
            pan: pan.clone(),
            pin_block: block,
            method: right.clone(),
            pin_length: Some(PinLength::new(4).unwrap()),
        }))
        .unwrap()
        .verification
    };
    let neighbour = other_pin(&pin).unwrap();
    assert_eq!(neighbour.digits(), b"6700");
    assert_eq!(verify(&neighbour), Verification::Verified);
    let other = other_pin_rejected(&pvk, &pan, &pin, &right).unwrap();
    assert_ne!(other.digits(), pin.digits());
    assert_eq!(other.digits().len(), pin.digits().len());
    assert_eq!(verify(&other), Verification::Failed);
}

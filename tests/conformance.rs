//! The conformance suite against the software backend (self-provisioned and
//! with named keys), against deliberately wrong backends to prove the suite
//! catches them, and against the payShield backend over the simulator,
//! directly and through the layers.

use async_trait::async_trait;
use paycrypto::conformance::{
    provision, run, run_self_provisioned, KeyRef, KeySet, ProvisionOptions, Role, RunOptions,
    Verdict,
};
use paycrypto::ops::{Operation, Request, Response};
use paycrypto::{Backend, Capabilities, Error, ErrorKind, SoftwareBackend};

fn opts() -> RunOptions {
    RunOptions {
        rounds: 4,
        seed: 20240601,
        filter: None,
    }
}

#[tokio::test]
async fn software_backend_passes_every_case_with_none_skipped() {
    let b = SoftwareBackend::new();
    let report = run_self_provisioned(&b, &opts()).await;
    let t = report.totals();
    assert_eq!(t.failed, 0, "{}", report.table());
    assert_eq!(t.skipped, 0, "{}", report.table());
    assert_eq!(t.unsupported, 0, "{}", report.table());
    assert!(t.passed >= 40, "{}", report.table());
    // Every operation the backend declares has at least one case.
    let by_op = report.by_operation();
    for op in Operation::ALL {
        assert!(by_op.contains_key(op), "no case for {op}");
    }
    // The keys the suite created were deleted again.
    assert_eq!(b.key_count(), 0, "{}", report.table());
    // Known answers name their source.
    assert!(report
        .results
        .iter()
        .filter(|r| r.kind == paycrypto::conformance::CaseKind::KnownAnswer)
        .all(|r| r.source.is_some()));
}

/// Production style: keys named only (no clear values), KCVs known.
#[tokio::test]
async fn named_keys_without_clear_values_skip_agreement_with_reasons() {
    let b = SoftwareBackend::new();
    let p = provision(&b, &ProvisionOptions::with_prefix("prod/")).await;
    let mut keys = KeySet::new();
    for (role, k) in p.keys.roles() {
        if role == Role::MacHmac {
            continue; // not configured by this user
        }
        keys.insert(role, KeyRef::named(k.id.clone()));
    }
    let report = run(&b, &keys, &opts()).await;
    assert!(report.is_success(), "{}", report.table());
    let skipped: Vec<_> = report
        .results
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Skip(m) => Some((r.name.as_str(), m.as_str())),
            _ => None,
        })
        .collect();
    assert!(
        skipped.iter().any(|(_, m)| m.contains("clear value")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|(_, m)| m.contains("creates no keys")),
        "{skipped:?}"
    );
    // Known answers still run: the published keys are recognised by KCV.
    let kat_passed = report
        .results
        .iter()
        .filter(|r| {
            r.kind == paycrypto::conformance::CaseKind::KnownAnswer && r.verdict == Verdict::Pass
        })
        .count();
    assert!(kat_passed >= 8, "{}", report.table());
    // Round trips need no clear keys.
    assert!(report
        .results
        .iter()
        .any(|r| r.name.contains("generated MACs verify") && r.verdict == Verdict::Pass));
}

/// A backend declaring only MAC operations; honest or lying about the rest.
struct MacOnly {
    inner: SoftwareBackend,
    honest: bool,
}

#[async_trait]
impl Backend for MacOnly {
    fn name(&self) -> &str {
        "mac-only"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Operation::GenerateMac,
            Operation::VerifyMac,
            Operation::ImportKey,
            Operation::GetKeyInfo,
            Operation::DeleteKey,
        ])
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        if self.honest && !self.capabilities().supports(request.operation()) {
            return Err(Error::unsupported("not here").with_op(request.operation()));
        }
        self.inner.execute(request).await
    }
}

#[tokio::test]
async fn undeclared_operations_must_be_unsupported() {
    let honest = MacOnly {
        inner: SoftwareBackend::new(),
        honest: true,
    };
    let report = run_self_provisioned(&honest, &opts()).await;
    assert!(report.is_success(), "{}", report.table());
    let unsupported_rows = report
        .results
        .iter()
        .filter(|r| r.kind == paycrypto::conformance::CaseKind::Unsupported)
        .count();
    assert_eq!(unsupported_rows, Operation::ALL.len() - 5);
    assert!(report
        .results
        .iter()
        .any(|r| r.operation == Operation::TranslatePin
            && matches!(&r.verdict, Verdict::Unsupported(m) if m.contains("does not declare"))));

    let liar = MacOnly {
        inner: SoftwareBackend::new(),
        honest: false,
    };
    let report = run_self_provisioned(&liar, &opts()).await;
    assert!(!report.is_success());
    assert!(report
        .failures()
        .all(|r| r.kind == paycrypto::conformance::CaseKind::Unsupported));
}

/// A backend that gets MACs wrong (last byte flipped) and accepts wrong PANs.
struct Wrong(SoftwareBackend);

#[async_trait]
impl Backend for Wrong {
    fn name(&self) -> &str {
        "wrong"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        match self.0.execute(request).await {
            Ok(Response::GenerateMac(mut r)) => {
                if let Some(b) = r.mac.last_mut() {
                    *b ^= 1;
                }
                Ok(Response::GenerateMac(r))
            }
            Err(e) if e.kind() == ErrorKind::KeyUsage => Err(Error::new(
                ErrorKind::Backend,
                "refused for some other reason",
            )),
            other => other,
        }
    }
}

#[tokio::test]
async fn wrong_answers_and_wrong_refusals_fail() {
    let report = run_self_provisioned(&Wrong(SoftwareBackend::new()), &opts()).await;
    let failed: Vec<_> = report.failures().map(|r| r.name.clone()).collect();
    assert!(
        failed.iter().any(|n| n.contains("retail MAC")),
        "{failed:?}"
    );
    assert!(failed.iter().any(|n| n.contains("AES CMAC")), "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|n| n.contains("key usage: CVK as PIN key")),
        "{failed:?}"
    );
    // Everything else still passes.
    assert!(report
        .results
        .iter()
        .any(|r| r.operation == Operation::TranslatePin && r.verdict == Verdict::Pass));
    let xml = report.to_junit_xml();
    assert!(xml.contains("<failure message="), "{xml}");
}

/// A backend that declares everything but answers Unsupported for CMAC, and
/// one that declares no CMAC (honestly): the suite fails the first and
/// reports the second's CMAC cases unsupported without sending them.
struct NoCmac {
    inner: SoftwareBackend,
    declares_cmac: bool,
    cmac_requests: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Backend for NoCmac {
    fn name(&self) -> &str {
        "no-cmac"
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = self.inner.capabilities();
        if !self.declares_cmac {
            c.mac_algorithms
                .remove(&paycrypto::capabilities::MacKind::Cmac);
        }
        c
    }
    async fn execute(&self, request: Request) -> paycrypto::Result<Response> {
        let cmac = match &request {
            Request::GenerateMac(r) => r.algorithm == paycrypto::ops::MacAlgorithm::Cmac,
            Request::VerifyMac(r) => r.algorithm == paycrypto::ops::MacAlgorithm::Cmac,
            _ => false,
        };
        if cmac {
            self.cmac_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(Error::unsupported("no CMAC here"));
        }
        self.inner.execute(request).await
    }
}

#[tokio::test]
async fn answering_unsupported_for_a_declared_capability_fails() {
    let liar = NoCmac {
        inner: SoftwareBackend::new(),
        declares_cmac: true,
        cmac_requests: Default::default(),
    };
    let report = run_self_provisioned(&liar, &opts()).await;
    let failed: Vec<String> = report
        .failures()
        .map(|r| format!("{}/{}: {:?}", r.operation, r.name, r.verdict))
        .collect();
    assert!(
        failed.iter().any(|f| f.contains("CMAC")
            && f.contains(
                "answered Unsupported for a generate_mac request its capabilities declare"
            )),
        "{failed:#?}"
    );

    let honest = NoCmac {
        inner: SoftwareBackend::new(),
        declares_cmac: false,
        cmac_requests: Default::default(),
    };
    let report = run_self_provisioned(&honest, &opts()).await;
    assert_eq!(report.totals().failed, 0, "{}", report.table());
    assert!(report.results.iter().any(|r| r.name.contains("CMAC")
        && matches!(&r.verdict, Verdict::Unsupported(m) if m.contains("MAC algorithm Cmac"))));
    // Marked unsupported from the declaration: no CMAC request was sent.
    assert_eq!(
        honest
            .cmac_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn a_backend_that_cannot_import_skips_with_why() {
    let b = MacOnly {
        inner: SoftwareBackend::new(),
        honest: true,
    };
    // No keys at all: every keyed case is skipped, nothing fails.
    let report = run(&b, &KeySet::new(), &opts()).await;
    assert!(report.is_success(), "{}", report.table());
    assert!(report
        .results
        .iter()
        .any(|r| matches!(&r.verdict, Verdict::Skip(m) if m.contains("no key configured for role `mac-m3`"))));
}

/// The suite against the payShield backend over the in-process simulator
/// (public test LMK), directly and through the layers.
#[cfg(all(feature = "payshield", feature = "server"))]
mod payshield {
    use super::opts;
    use paycrypto::conformance::{
        payshield_test_lmk_options, run_self_provisioned_with, CaseKind, Report, Verdict,
    };
    use paycrypto::ops::Operation;
    use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
    use paycrypto::server::payshield::{start, SimConfig, SimHandle};
    use paycrypto::ErrorKind;

    pub(super) async fn connect(sim: &SimHandle) -> PayShieldBackend {
        PayShieldBackend::connect(
            PayShieldConfig::new(sim.addr().to_string()),
            KeyTable::new(),
        )
        .await
        .expect("connect to the simulator")
    }

    /// The cases a variant-LMK payShield answers (at least in part) with
    /// Unsupported: AES keys, ISO 4, CMAC/HMAC, MAC lengths other than 4
    /// and 8, ARPCs no payShield command computes (method 2 without the EMV
    /// common session key, method 1 with Mastercard SKD), clear components,
    /// issuer PIN data in ISO 4 or under AES DUKPT.
    pub(super) const UNSUPPORTED: &[&str] = &[
        // No asymmetric keys through the payShield client: no certificates
        // (GetPublicKeyCertificate undeclared), no TR-34 or ECDH.
        "export_key/ECDH: keys move to the reference and back (SP 800-56C / SHA-256 to AES, X9.63 / SHA-512 to TDES)",
        "export_key/TR-34: keys move to the reference and back (two-pass TDES, one-pass AES) with equal KCVs",
        "import_key/ECDH: other shared information and a signature key pair as private key refused",
        "import_key/TR-34: a flipped signature bit, a wrong nonce and a signing key as KRD refused",
        "import_key/bad input: component with a wrong KCV refused",
        "translate_pin/AES DUKPT ISO 4 to zone key",
        "translate_pin/AES zone key, format 4 to and from 0/3",
        "translate_pin/DUKPT (TDES and AES) to zone key",
        "translate_pin/bad input: 8-byte block for format 4 refused",
        "encrypt_data/TDES and AES data keys, ECB and CBC",
        "decrypt_data/encrypt then decrypt gives the plaintext",
        "verify_arqc/random cards and transactions: every session key, padding and ARPC method",
        "generate_mac/TDES CMAC",
        "generate_mac/AES CMAC",
        "generate_mac/every MAC key and algorithm on random messages",
        "verify_mac/generated MACs verify, altered ones fail",
        "generate_mac/key usage: retail-MAC key for CMAC, PIN key for MAC refused",
        "generate_mac/HMAC-SHA-224/384/512: full-length MACs agree, truncated ones verify, altered ones fail",
        "generate_mac/key usage: HMAC-SHA-384 with an HMAC-SHA-256 key, HMAC-SHA-256 with an HMAC-SHA-512 key refused",
        // No host command generates a dynamic CVV or CVC3 (PM verifies
        // them: see the cases checked to pass below).
        "generate_card_validation/Mastercard dynamic CVC3 (jPOS), 5 and 3 digits, generated and verified",
        "generate_card_validation/Visa dynamic CVV (jPOS), generated and verified",
        "generate_card_validation/dynamic CVV and CVC3 on random cards, 3 to 5 digits",
        "generate_card_validation/key usage: CVK (C0) for dynamic CVC3 and dCVV-key (E6) for CVC3 refused",
        // Issuer PIN data: the ISO 4 (AES zone key) and AES DUKPT parts;
        // the TDES parts pass.
        "generate_pin_data/deterministic methods on random cards, formats 0/3/4",
        "verify_pin_data/published DUKPT PIN blocks (TDES ISO 0, AES ISO 4) verify",
        "verify_pin_data/random cards: zone keys and DUKPT, right and wrong PINs",
    ];

    /// The operations a variant-LMK payShield backend does not declare:
    /// ARQC generation, which no host command does, and re-encryption (M4
    /// is not implemented). (Issuer PIN data is declared: DA, EA, GO, DE,
    /// EE, DC, EC, GQ, DG, JA, JC, JE, JG.)
    pub(super) const UNDECLARED: &[Operation] = &[
        Operation::GenerateArqc,
        Operation::ReEncryptData,
        Operation::GetPublicKeyCertificate,
    ];

    /// What a payShield report must show: no failure, no skip, exactly the
    /// expected unsupported cases (each saying why), the TDES known answers
    /// passing.
    pub(super) fn check_payshield_report(report: &Report) {
        let t = report.totals();
        assert_eq!(t.failed, 0, "{}", report.table());
        assert_eq!(t.skipped, 0, "{}", report.table());
        let mut unsupported: Vec<String> = report
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Unsupported(_)))
            .map(|r| format!("{}/{}", r.operation, r.name))
            .collect();
        let mut want: Vec<String> = UNSUPPORTED.iter().map(|s| s.to_string()).collect();
        // Every case of an operation the backend does not declare (issuer
        // PIN data) is unsupported from the declaration, without being run.
        let undeclared = report
            .results
            .iter()
            .filter(|r| UNDECLARED.contains(&r.operation) && r.kind != CaseKind::Unsupported);
        for r in undeclared {
            assert!(
                matches!(&r.verdict, Verdict::Unsupported(m) if m.contains("does not declare")),
                "{}: {:?}",
                r.name,
                r.verdict
            );
            want.push(format!("{}/{}", r.operation, r.name));
        }
        unsupported.sort();
        want.sort();
        assert_eq!(unsupported, want, "{}", report.table());
        for r in &report.results {
            if let Verdict::Unsupported(m) = &r.verdict {
                assert!(m.contains("unsupported"), "{}: {m}", r.name);
            }
        }
        for name in [
            "zone key ISO 0 re-encipherment",
            "TDES DUKPT to zone key",
            "TDES DUKPT request data key, CBC (P2PE)",
            "Visa CVV test data",
            "Visa CVV test data, right and wrong values",
            "altered ARQC is Failed, with no ARPC",
            "ISO 9797-1 algorithm 3 (retail MAC)",
            "KCVs of the published test keys",
            "IBM 3624 natural PIN and PIN from offset",
            "IBM 3624 offset of a given PIN",
            "Visa PVV of a given PIN",
            "IBM 3624 and Visa PVV test data, right and wrong PINs",
            "Visa dynamic CVV and Mastercard CVC3 (jPOS), right and wrong values verified",
        ] {
            let r = report
                .results
                .iter()
                .find(|r| r.name == name)
                .unwrap_or_else(|| panic!("no case {name}"));
            assert_eq!(r.kind, CaseKind::KnownAnswer, "{name}");
            assert_eq!(r.verdict, Verdict::Pass, "{name}: {}", report.table());
        }
        assert!(t.passed >= 30, "{}", report.table());
        // PM verifies the reference's dynamic CVVs (PAN sequence number 00)
        // and CVC3s on random cards.
        let pm = report
            .results
            .iter()
            .find(|r| {
                r.name
                    .starts_with("dynamic CVV and CVC3 of the reference verify")
            })
            .expect("the dynamic verification agreement case");
        assert_eq!(pm.verdict, Verdict::Pass, "{}", report.table());
        // Issuer PIN data: every case runs; the ones reported unsupported
        // ran their TDES parts (ISO 0/1/3, TDES DUKPT) and passed them.
        for r in report.results.iter().filter(|r| {
            matches!(
                r.operation,
                Operation::GeneratePinData | Operation::VerifyPinData
            )
        }) {
            match &r.verdict {
                Verdict::Pass => {}
                Verdict::Unsupported(m) => assert!(m.contains("passed)"), "{}: {m}", r.name),
                other => panic!("{}: {other:?}", r.name),
            }
        }
        // ARQC agreement: KQ (Visa, Mastercard) and KW (EMV common) cover
        // every padding; only the ARPCs without a host command are left.
        let arqc = report
            .results
            .iter()
            .find(|r| {
                r.name
                    .starts_with("random cards and transactions: every session key")
            })
            .expect("the ARQC agreement case");
        assert!(
            matches!(&arqc.verdict, Verdict::Unsupported(m) if m.contains("9 of 27 combinations unsupported")),
            "{}",
            report.table()
        );
    }

    #[tokio::test]
    async fn payshield_over_the_simulator_passes_with_unsupported_variants_named() {
        let sim = start(SimConfig::default()).await.unwrap();
        let ps = connect(&sim).await;
        let p = payshield_test_lmk_options(&ps, "conf/").await.unwrap();
        let report = run_self_provisioned_with(&ps, &opts(), &p).await;
        check_payshield_report(&report);
        let undeclared_cases = report
            .results
            .iter()
            .filter(|r| UNDECLARED.contains(&r.operation) && r.kind != CaseKind::Unsupported)
            .count();
        // GenerateArqc, ReEncryptData (three) and GetPublicKeyCertificate (one).
        assert_eq!(undeclared_cases, 8, "{}", report.table());
        let want = format!("{} unsupported", UNSUPPORTED.len() + undeclared_cases);
        assert!(report.table().contains(&want), "{}", report.table());
        // Only the suite's KEKs are left in the key table.
        assert_eq!(ps.keys().len(), 1, "{:?}", ps.keys().to_text());
    }

    /// The suite over the simulator running the test key-block LMK.
    #[tokio::test]
    async fn payshield_key_block_lmk_over_the_simulator() {
        let sim = start(SimConfig::default().with_test_key_block_lmk())
            .await
            .unwrap();
        let ps = PayShieldBackend::connect(
            PayShieldConfig::new(sim.addr().to_string()).with_key_block_lmk(),
            KeyTable::new(),
        )
        .await
        .unwrap();
        assert!(ps.runs_test_lmk().await.unwrap());
        let p = payshield_test_lmk_options(&ps, "kb/").await.unwrap();
        // Both KEKs load under the key-block LMK: no role is unsupported.
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        let report = run_self_provisioned_with(&ps, &opts(), &p).await;
        let t = report.totals();
        assert_eq!(t.failed, 0, "{}", report.table());
        assert_eq!(t.skipped, 0, "{}", report.table());
        let mut unsupported: Vec<String> = report
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Unsupported(_)))
            .filter(|r| !KEY_BLOCK_UNDECLARED.contains(&r.operation))
            .filter(|r| !r.name.contains("dynamic"))
            .filter(|r| !is_pin_data(r.operation))
            .map(|r| format!("{}/{}", r.operation, r.name))
            .collect();
        unsupported.sort();
        assert_eq!(unsupported, KEY_BLOCK_UNSUPPORTED, "{}", report.table());
        // Issuer PIN data with TDES key blocks (V1/V2 PVKs, P0 PIN keys, B0
        // BDKs): every case runs; the ones reported unsupported ran their
        // TDES parts and passed them (ISO 4 and AES DUKPT are the AES forms
        // of the commands, not modelled), the same set as a variant LMK.
        let mut pin_passed = 0;
        let mut pin_unsupported = Vec::new();
        for r in report.results.iter().filter(|r| is_pin_data(r.operation)) {
            match &r.verdict {
                Verdict::Pass => pin_passed += 1,
                Verdict::Unsupported(m) => {
                    assert!(m.contains("passed)"), "{}: {m}", r.name);
                    pin_unsupported.push(format!("{}/{}", r.operation, r.name));
                }
                other => panic!("{}: {other:?}", r.name),
            }
        }
        assert!(pin_passed >= 8, "{pin_passed}: {}", report.table());
        let want: Vec<&str> = UNSUPPORTED
            .iter()
            .copied()
            .filter(|n| n.contains("pin_data/"))
            .collect();
        pin_unsupported.sort();
        assert_eq!(pin_unsupported, want, "{}", report.table());
        // Of the 13 cases a variant LMK leaves unsupported, these pass now.
        for name in UNSUPPORTED {
            if KEY_BLOCK_UNSUPPORTED.contains(name)
                || name.contains("dynamic")
                || name.contains("pin_data/")
            {
                continue;
            }
            let (op, case) = name.split_once('/').unwrap();
            let r = report
                .results
                .iter()
                .find(|r| r.operation.to_string() == op && r.name == case)
                .unwrap_or_else(|| panic!("no case {name}"));
            assert_eq!(r.verdict, Verdict::Pass, "{name}: {}", report.table());
        }
        for name in ["AES DUKPT ISO 4 to zone key", "AES CMAC", "TDES CMAC"] {
            let r = report.results.iter().find(|r| r.name == name).unwrap();
            assert_eq!(r.kind, CaseKind::KnownAnswer, "{name}");
            assert_eq!(r.verdict, Verdict::Pass, "{name}");
        }
        // ARQC generation and re-encryption are not declared.
        assert!(report
            .results
            .iter()
            .filter(
                |r| KEY_BLOCK_UNDECLARED.contains(&r.operation) && r.kind != CaseKind::Unsupported
            )
            .all(
                |r| matches!(&r.verdict, Verdict::Unsupported(m) if m.contains("does not declare"))
            ));
        // Only the suite's two KEKs are left in the key table.
        assert_eq!(ps.keys().len(), 2, "{:?}", ps.keys().to_text());
    }

    /// The operations a key-block-LMK payShield backend does not declare:
    /// ARQC generation, re-encryption (M4) and public key certificates.
    const KEY_BLOCK_UNDECLARED: &[Operation] = &[
        Operation::GenerateArqc,
        Operation::ReEncryptData,
        Operation::GetPublicKeyCertificate,
    ];

    fn is_pin_data(op: Operation) -> bool {
        matches!(op, Operation::GeneratePinData | Operation::VerifyPinData)
    }

    /// The cases a key-block-LMK payShield still answers Unsupported:
    /// clear components (a payShield takes them at its console only), the
    /// ARPCs no host command computes (method 2 without the EMV common
    /// session key, method 1 with Mastercard SKD: see the client's KQ/KW
    /// table), key exchange with asymmetric keys and HMACs other than
    /// HMAC-SHA-256.
    const KEY_BLOCK_UNSUPPORTED: &[&str] = &[
        // No asymmetric keys through the payShield client (TR-34, ECDH);
        // HMAC-SHA-256 is the only HMAC key type with a published A0 code.
        "export_key/ECDH: keys move to the reference and back (SP 800-56C / SHA-256 to AES, X9.63 / SHA-512 to TDES)",
        "export_key/TR-34: keys move to the reference and back (two-pass TDES, one-pass AES) with equal KCVs",
        "generate_mac/HMAC-SHA-224/384/512: full-length MACs agree, truncated ones verify, altered ones fail",
        "generate_mac/key usage: HMAC-SHA-384 with an HMAC-SHA-256 key, HMAC-SHA-256 with an HMAC-SHA-512 key refused",
        "import_key/ECDH: other shared information and a signature key pair as private key refused",
        "import_key/TR-34: a flipped signature bit, a wrong nonce and a signing key as KRD refused",
        "import_key/bad input: component with a wrong KCV refused",
        "verify_arqc/random cards and transactions: every session key, padding and ARPC method",
];

    /// A payShield with another LMK gets no clear key loaded under it.
    #[tokio::test]
    async fn clear_test_keys_are_refused_under_another_lmk() {
        let mut cfg = SimConfig::default();
        let mut pairs = [[0x01u8; 16]; 20];
        pairs[0][0] = 0x13;
        cfg.lmk = paycrypto::payshield::VariantLmk::from_pairs(pairs);
        let sim = start(cfg).await.unwrap();
        let ps = connect(&sim).await;
        assert!(!ps.runs_test_lmk().await.unwrap());
        let e = payshield_test_lmk_options(&ps, "conf/").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeyUsage);
        assert!(e.to_string().contains("test LMK"), "{e}");
        assert!(ps.keys().is_empty());
    }
}

/// The suite through the layers, with the payShield simulator inside.
#[cfg(all(feature = "payshield", feature = "server", feature = "layers"))]
mod payshield_layers {
    use super::opts;
    use super::payshield::{check_payshield_report, connect};
    use paycrypto::conformance::{
        payshield_test_lmk_options, provision, run, run_self_provisioned_with, Role,
    };
    use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
    use paycrypto::layers::{DiscrepancyReport, Retry, Shadow, Timeout};
    use paycrypto::server::payshield::{start, SimConfig};
    use paycrypto::{BackendExt, KeyAlgorithm, KeyId, SoftwareBackend};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn retry_timeout_payshield_passes() {
        let sim = start(SimConfig::default()).await.unwrap();
        let ps = connect(&sim).await;
        let p = payshield_test_lmk_options(&ps, "layered/").await.unwrap();
        let layered = Retry::new(Timeout::new(ps.clone(), Duration::from_secs(5)));
        let report = run_self_provisioned_with(&layered, &opts(), &p).await;
        check_payshield_report(&report);
    }

    /// Shadow(software, payshield): the suite answered by the software
    /// primary, every read-only request compared with the payShield holding
    /// the same keys under the same names.
    #[tokio::test]
    async fn shadow_software_primary_payshield_candidate_passes_and_agrees() {
        let sim = start(SimConfig::default()).await.unwrap();
        let ps = connect(&sim).await;
        let p = payshield_test_lmk_options(&ps, "shadow/").await.unwrap();
        let provisioned = provision(&ps, &p).await;
        // The same clear keys into the software primary, through its own KEK.
        let sw = SoftwareBackend::with_name("software");
        let (c1, c2) = ([0x13u8; 16], [0x2Cu8; 16]);
        let kek_clear = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
        let kek = KeyId::new("software/kek").unwrap();
        sw.import_key(kek_from_components(kek.clone(), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap())
            .await
            .unwrap();
        let mut loaded = 0;
        for (role, k) in provisioned.keys.roles() {
            let clear = k
                .clear
                .as_ref()
                .expect("provisioned keys have clear values");
            sw.import_key(
                tr31_import(
                    kek.clone(),
                    KeyAlgorithm::Tdes2,
                    &kek_clear,
                    k.id.clone(),
                    role.attributes(),
                    clear.expose(),
                )
                .unwrap(),
            )
            .await
            .unwrap();
            loaded += 1;
        }
        assert!(loaded >= 10, "{loaded} keys");
        assert!(provisioned.keys.get(Role::Zpk).is_some());

        let comparisons = Arc::new(DiscrepancyReport::new());
        let shadow = Shadow::new(sw, ps.clone(), comparisons.clone());
        let report = run(&shadow, &provisioned.keys, &opts()).await;
        let t = report.totals();
        assert_eq!(t.failed, 0, "{}", report.table());
        shadow.flush().await;
        let snap = comparisons.snapshot();
        println!("{}\n{snap}", report.table());
        assert!(snap.sum(|r| r.matched) >= 50, "{snap}");
        assert_eq!(snap.sum(|r| r.mismatched), 0, "{snap}");
        assert!(snap.sum(|r| r.candidate_unsupported) > 0, "{snap}");
    }
}

/// The suite against the AWS backend over the in-process AWS Payment
/// Cryptography emulator (keys provisioned through the service's import
/// paths: KEKs as RSA-OAEP key cryptograms, working keys as TR-31 blocks).
#[cfg(all(feature = "aws", feature = "server"))]
mod aws {
    use super::opts;
    use paycrypto::aws::AwsBackend;
    use paycrypto::conformance::{run_self_provisioned, CaseKind, Report, Verdict};
    use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};

    pub(super) async fn emulator() -> RunningEmulator {
        start(EmulatorConfig::default())
            .await
            .expect("start the emulator")
    }

    pub(super) async fn backend(emu: &RunningEmulator) -> AwsBackend {
        AwsBackend::builder()
            .endpoint_url(emu.endpoint_url())
            .region("us-east-1")
            .credentials("AKIDCONFORMANCE", "conformance/secret", None)
            .sdk_retries(false)
            .build()
            .await
    }

    /// The only variants AWS Payment Cryptography cannot do in the suite:
    /// a MAC over an empty message (MessageData takes 1 to 4096 bytes), the
    /// first NIST SP 800-38B CMAC example.
    pub(super) const UNSUPPORTED: &[&str] = &["generate_mac/TDES CMAC", "generate_mac/AES CMAC"];

    /// What an AWS report must show: no failure, no skip, exactly the
    /// expected unsupported cases (naming the empty message, the other CMAC
    /// vectors passing), every other known answer passing.
    pub(super) fn check_aws_report(report: &Report) {
        let t = report.totals();
        assert_eq!(t.failed, 0, "{}", report.table());
        assert_eq!(t.skipped, 0, "{}", report.table());
        let mut unsupported: Vec<String> = report
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Unsupported(_)))
            .map(|r| format!("{}/{}", r.operation, r.name))
            .collect();
        unsupported.sort();
        let mut want: Vec<String> = UNSUPPORTED.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(unsupported, want, "{}", report.table());
        for r in &report.results {
            if let Verdict::Unsupported(m) = &r.verdict {
                assert!(
                    m.contains("0-byte message") && m.contains("passed"),
                    "{}: {m}",
                    r.name
                );
            }
        }
        let kats = report
            .results
            .iter()
            .filter(|r| r.kind == CaseKind::KnownAnswer && r.verdict == Verdict::Pass)
            .count();
        assert!(kats >= 10, "{}", report.table());
        assert!(t.passed >= 40, "{}", report.table());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_over_the_emulator_passes_with_only_empty_macs_unsupported() {
        let emu = emulator().await;
        let aws = backend(&emu).await;
        let report = run_self_provisioned(&aws, &opts()).await;
        check_aws_report(&report);
        assert!(
            report.table().contains("2 unsupported"),
            "{}",
            report.table()
        );
        // Teardown scheduled every key the suite created for deletion.
        let listed = aws_keys(&emu).await;
        assert!(listed.0 > 10, "{listed:?}");
        assert_eq!(listed.0, listed.1, "{listed:?}");
        emu.shutdown().await;
    }

    /// (keys, keys pending deletion) on the emulator, through the SDK.
    async fn aws_keys(emu: &RunningEmulator) -> (usize, usize) {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(emu.endpoint_url())
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDCONFORMANCE",
                "conformance/secret",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        let keys = aws_sdk_paymentcryptography::Client::new(&conf)
            .list_keys()
            .send()
            .await
            .expect("ListKeys");
        let all = keys.keys();
        let pending = all
            .iter()
            .filter(|k| k.key_state().as_str() == "DELETE_PENDING")
            .count();
        (all.len(), pending)
    }
}

/// The suite through the layers with the AWS backend (over the emulator)
/// inside: Retry(Timeout(aws)), and Shadow(software, aws) with every
/// comparison matching.
#[cfg(all(feature = "aws", feature = "server", feature = "layers"))]
mod aws_layers {
    use super::aws::{backend, check_aws_report, emulator};
    use super::opts;
    use paycrypto::conformance::{provision, run, run_self_provisioned, ProvisionOptions, Role};
    use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
    use paycrypto::layers::{DiscrepancyReport, Retry, Shadow, Timeout};
    use paycrypto::ops::Operation;
    use paycrypto::{BackendExt, KeyAlgorithm, KeyId, SoftwareBackend};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retry_timeout_aws_passes() {
        let emu = emulator().await;
        let layered = Retry::new(Timeout::new(backend(&emu).await, Duration::from_secs(5)));
        let report = run_self_provisioned(&layered, &opts()).await;
        check_aws_report(&report);
        emu.shutdown().await;
    }

    /// Shadow(software, aws): the suite answered by the software reference
    /// as primary, every read-only request compared with AWS holding the
    /// same keys under the same names. The suite provisions AWS through the
    /// service's import paths (KEKs from clear components as RSA-OAEP key
    /// cryptograms, working keys as TR-31 blocks); the same clear keys go
    /// into the software primary as TR-31 blocks under its own KEK.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shadow_software_primary_aws_candidate_agrees() {
        let emu = emulator().await;
        let aws = backend(&emu).await;
        let provisioned = provision(&aws, &ProvisionOptions::with_prefix("shadow-aws/")).await;
        assert!(provisioned.notes.is_empty(), "{:?}", provisioned.notes);
        let sw = SoftwareBackend::with_name("software");
        let (c1, c2) = ([0x31u8; 32], [0x4Cu8; 32]);
        let kek_clear = combine_components(KeyAlgorithm::Aes256, &[&c1, &c2]).unwrap();
        let kek = KeyId::new("software/kek").unwrap();
        sw.import_key(kek_from_components(kek.clone(), KeyAlgorithm::Aes256, &[&c1, &c2]).unwrap())
            .await
            .unwrap();
        let mut loaded = 0;
        for (role, k) in provisioned.keys.roles() {
            let clear = k
                .clear
                .as_ref()
                .expect("provisioned keys have clear values");
            let info = sw
                .import_key(
                    tr31_import(
                        kek.clone(),
                        KeyAlgorithm::Aes256,
                        &kek_clear,
                        k.id.clone(),
                        role.attributes(),
                        clear.expose(),
                    )
                    .unwrap(),
                )
                .await
                .unwrap_or_else(|e| panic!("{role}: {e}"));
            assert_eq!(Some(info.key_check_value), k.kcv, "{role}");
            loaded += 1;
        }
        assert_eq!(loaded, Role::ALL.len());

        let comparisons = Arc::new(DiscrepancyReport::new());
        let shadow = Shadow::new(sw, aws, comparisons.clone());
        let report = run(&shadow, &provisioned.keys, &opts()).await;
        let t = report.totals();
        assert_eq!(t.failed, 0, "{}", report.table());
        assert_eq!(t.skipped, 0, "{}", report.table());
        shadow.flush().await;
        let snap = comparisons.snapshot();
        println!("{}\n{snap}", report.table());
        assert!(snap.sum(|r| r.matched) >= 100, "{snap}");
        assert_eq!(snap.sum(|r| r.mismatched), 0, "{snap}");
        // The candidate's errors: the suite's generate_key is a write, so it
        // runs on the primary only, and describing, certifying or exporting
        // such a key on the candidate finds nothing (the generate/describe
        // case, the key pairs of the certificate and key exchange cases).
        // Nothing else fails on the candidate.
        let not_found = |op| {
            snap.operation(op).map_or(0, |r| {
                r.details
                    .get("candidate_error:key_not_found")
                    .copied()
                    .unwrap_or_default()
            })
        };
        let explained = [
            Operation::GetKeyInfo,
            Operation::GetPublicKeyCertificate,
            Operation::ExportKey,
        ]
        .into_iter()
        .map(not_found)
        .sum::<u64>();
        assert!(not_found(Operation::GetKeyInfo) >= 1, "{snap}");
        assert_eq!(snap.sum(|r| r.candidate_errors), explained, "{snap}");
        // The candidate's Unsupported answers: MACs of an empty message
        // (twice). A translation into ISO format 2 (PCI forbids it) is
        // refused by both sides with the same InvalidInput, since every
        // backend checks request shapes in one place (`Request::validate`).
        let unsupported = |op| snap.operation(op).map_or(0, |r| r.candidate_unsupported);
        assert_eq!(unsupported(Operation::GenerateMac), 2, "{snap}");
        assert_eq!(unsupported(Operation::TranslatePin), 0, "{snap}");
        assert_eq!(snap.sum(|r| r.candidate_unsupported), 2, "{snap}");
        emu.shutdown().await;
    }
}

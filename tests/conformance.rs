//! The conformance suite against the software backend (self-provisioned and
//! with named keys), and against deliberately wrong backends to prove the
//! suite catches them.

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
    let p = provision(
        &b,
        &ProvisionOptions {
            prefix: "prod/".into(),
        },
    )
    .await;
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
            && matches!(&r.verdict, Verdict::Skip(m) if m.contains("does not declare"))));

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

//! Helpers for users' own test and fuzzing harnesses (feature `testing`):
//! the fixed test key set, a loader that puts it on any backend, and
//! [`differential`], which runs one request on a reference and a candidate
//! and compares the answers by meaning, as the shadow layer does.
//!
//! A differential fuzz target of your own is then a few lines:
//!
//! ```no_run
//! # async fn demo(candidate: &dyn paycrypto::Backend, request: paycrypto::Request) {
//! use paycrypto::testing;
//! let reference = testing::software_reference().await;
//! testing::load(candidate).await.expect("test keys");
//! if let Err(d) = testing::differential(&reference, candidate, request).await {
//!     panic!("{d}"); // readable, and never a secret
//! }
//! # }
//! ```
//!
//! The keys are the conformance suite's roles ([`Role`]) under fixed names
//! ([`key_id`]) with fixed clear values ([`Role::fixed_clear`]: the published
//! test key where a role has one). They are **test keys**: every user of
//! this crate knows them. Load them only into a simulator or a test account.

use crate::backend::Backend;
use crate::conformance::{provision, ProvisionOptions, Provisioned};
pub use crate::conformance::{KeySet, Role};
use crate::error::{Error, ErrorKind, Result};
use crate::layers::compare::{classify, random_output, Verdict};
use crate::layers::{Outcome, SkipReason};
use crate::ops::{Request, Response};
use crate::software::SoftwareBackend;
use crate::types::{KeyId, Operation, PinBlockFormat};

#[cfg(feature = "arbitrary")]
mod arbitrary;
#[cfg(feature = "arbitrary")]
pub use arbitrary::RawRequest;

/// Prefix of the test keys' names.
pub const PREFIX: &str = "test/";

/// The name of `role`'s test key on any backend (`test/zpk`, …).
pub fn key_id(role: Role) -> KeyId {
    // Role names are short lower-case words: always a valid key name (a
    // unit test checks every role).
    KeyId::new(format!("{PREFIX}{}", role.as_str())).expect("role names are valid key names")
}

/// The role whose test key `id` names, if any.
pub fn role_of(id: &KeyId) -> Option<Role> {
    id.as_str().strip_prefix(PREFIX).and_then(Role::from_name)
}

/// Provisioning options that load the fixed test key set under [`PREFIX`].
pub fn options() -> ProvisionOptions {
    ProvisionOptions::with_prefix(PREFIX).with_fixed_keys()
}

/// Loads the fixed test key set into `backend` through key exchange (KEKs
/// from clear components, then TR-31 blocks), skipping what its
/// capabilities leave out. Works for the software backend and AWS (the
/// emulator or a test account); for a payShield use
/// [`load_payshield`]. Returns the key set; fails when no key could be
/// loaded.
pub async fn load(backend: &dyn Backend) -> Result<KeySet> {
    load_with(backend, options()).await.map(|p| p.keys)
}

/// [`load`] for a payShield running the public test LMK: the KEKs are
/// loaded under the LMK, the working keys as TR-31 blocks under them.
#[cfg(feature = "payshield")]
pub async fn load_payshield(ps: &crate::payshield::PayShieldBackend) -> Result<KeySet> {
    load_payshield_prefixed(ps, PREFIX).await.map(|p| p.keys)
}

/// [`load`] with the names under `prefix` instead of [`PREFIX`] (one
/// prefix per run keeps runs on a shared backend apart). Returns what
/// [`provision`] returns, so the caller can delete the keys afterwards
/// ([`crate::conformance::teardown`] with [`Provisioned::created`]).
pub async fn load_prefixed(backend: &dyn Backend, prefix: &str) -> Result<Provisioned> {
    let mut opts = options();
    opts.prefix = prefix.to_string();
    load_with(backend, opts).await
}

/// [`load_payshield`] with the names under `prefix`; the KEKs it loads
/// into the key table are in the result's
/// [`KeySet`] (roles `kek`, `kek-aes`), not in [`Provisioned::created`].
#[cfg(feature = "payshield")]
pub async fn load_payshield_prefixed(
    ps: &crate::payshield::PayShieldBackend,
    prefix: &str,
) -> Result<Provisioned> {
    let mut opts = crate::conformance::payshield_test_lmk_options(ps, prefix).await?;
    opts.fixed_keys = true;
    load_with(ps, opts).await
}

async fn load_with(backend: &dyn Backend, opts: ProvisionOptions) -> Result<Provisioned> {
    let p = provision(backend, &opts).await;
    if p.keys.roles().next().is_none() {
        return Err(Error::new(
            ErrorKind::Backend,
            format!("no test key could be loaded: {}", p.notes.join("; ")),
        ));
    }
    Ok(p)
}

/// A software backend holding the whole test key set: the reference for
/// [`differential`].
pub async fn software_reference() -> SoftwareBackend {
    let b = SoftwareBackend::with_name("reference").with_parity_check(false);
    // The software backend holds every role; nothing to report.
    let _ = load(&b).await;
    b
}

/// Whether `keys` (what [`load`] or [`load_payshield`] returned for a
/// candidate) holds every test key `request` names. A payShield with a
/// variant LMK cannot hold the AES roles, say: a request naming one is
/// answered `key_not_found` there and `ok` on the reference, which is no
/// disagreement worth reporting. Names outside the test key set count as
/// held (no backend has them, so all answer alike).
pub fn holds_keys(keys: &KeySet, request: &Request) -> bool {
    request
        .key_ids()
        .into_iter()
        .all(|id| role_of(id).is_none_or(|role| keys.get(role).is_some()))
}

/// How a candidate disagreed with the reference on one request. Its
/// `Display` names the operation and what differed, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The operation.
    pub operation: Operation,
    /// What the shadow layer would report (mismatch with the field, or the
    /// candidate's error kind).
    pub outcome: Outcome,
    /// The reference's answer: `ok` or its error kind.
    pub reference: &'static str,
    /// The candidate's answer: `ok` or its error kind.
    pub candidate: &'static str,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: reference answered {}, candidate answered {} ({} {})",
            self.operation,
            self.reference,
            self.candidate,
            self.outcome.class(),
            self.outcome.detail()
        )
    }
}

impl std::error::Error for Disagreement {}

fn answer(r: &std::result::Result<Response, ErrorKind>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(k) => k.as_str(),
    }
}

/// Runs `request` on `reference` and `candidate` and compares the answers
/// by meaning (the shadow layer's rules: field by field; PIN blocks with
/// random fill by the PIN they carry, read with the test keys' clear
/// values; TR-31 exports by KCV). Agreement also covers refusals of the
/// same kind, and a candidate that answers `Unsupported` for a request its
/// capabilities do not declare.
pub async fn differential(
    reference: &dyn Backend,
    candidate: &dyn Backend,
    request: Request,
) -> std::result::Result<(), Disagreement> {
    let operation = request.operation();
    let declared = candidate.capabilities().check(&request).is_ok();
    let r = reference
        .execute(request.clone())
        .await
        .map_err(|e| e.kind());
    let c = candidate
        .execute(request.clone())
        .await
        .map_err(|e| e.kind());
    let disagree = |outcome| Disagreement {
        operation,
        outcome,
        reference: answer(&r),
        candidate: answer(&c),
    };
    let outcome = match classify(&r, &c, random_output(&request)) {
        Verdict::Done(o) => o,
        Verdict::ComparePinBlocks(a, b) => match same_pin(&request, &a, &b) {
            Some(true) => Outcome::Match,
            Some(false) => Outcome::Mismatch { field: "pin" },
            None => Outcome::Skipped(SkipReason::ComparisonFailed),
        },
    };
    match outcome {
        Outcome::Match | Outcome::Skipped(_) => Ok(()),
        Outcome::CandidateUnsupported if !declared => Ok(()),
        o => Err(disagree(o)),
    }
}

/// Whether two PIN blocks from a translation carry the same PIN, read with
/// the clear value of the outgoing test key (`None` when it is not one).
fn same_pin(
    request: &Request,
    a: &crate::types::EncryptedPinBlock,
    b: &crate::types::EncryptedPinBlock,
) -> Option<bool> {
    use crate::algo::cipher::BlockCipher;
    use crate::algo::pinblock::decrypt_pin_block;
    let Request::TranslatePin(t) = request else {
        return None;
    };
    let clear = role_of(&t.outgoing_key)?.fixed_clear();
    let cipher = if t.outgoing_format == PinBlockFormat::Iso4 {
        BlockCipher::aes(&clear).ok()?
    } else {
        BlockCipher::tdes(&clear).ok()?
    };
    let pan = Some(t.pan.expose());
    let pa = decrypt_pin_block(&cipher, t.outgoing_format, a.as_bytes(), pan).ok()?;
    let pb = decrypt_pin_block(&cipher, t.outgoing_format, b.as_bytes(), pan).ok()?;
    Some(pa == pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendExt;
    use crate::ops::*;
    use crate::types::{CardExpiry, Pan};

    /// A candidate that gets CVVs wrong.
    struct WrongCvv(SoftwareBackend);

    #[async_trait::async_trait]
    impl Backend for WrongCvv {
        fn name(&self) -> &str {
            "wrong-cvv"
        }
        fn capabilities(&self) -> crate::Capabilities {
            self.0.capabilities()
        }
        async fn execute(&self, request: Request) -> Result<Response> {
            match self.0.execute(request).await? {
                Response::GenerateCardValidation(mut r) => {
                    let flipped = if r.value.expose() == "000" {
                        "001"
                    } else {
                        "000"
                    };
                    r.value = crate::Cvv::new(flipped)?;
                    Ok(Response::GenerateCardValidation(r))
                }
                other => Ok(other),
            }
        }
    }

    #[test]
    fn every_role_has_a_test_key_name_and_a_fixed_key() {
        for role in Role::ALL.iter().copied() {
            assert_eq!(role_of(&key_id(role)), Some(role));
            assert_eq!(
                role.fixed_clear().len(),
                role.attributes().algorithm.key_len()
            );
        }
    }

    #[tokio::test]
    async fn agreement_and_disagreement_are_found_by_meaning() {
        let reference = software_reference().await;
        let candidate = SoftwareBackend::with_name("candidate");
        let keys = load(&candidate).await.unwrap();
        assert!(keys.get(Role::Cvk).is_some());
        // ISO 3 out: random fill, so the blocks differ but the PIN agrees.
        let zpk = Role::Zpk.fixed_clear();
        let cipher = crate::algo::cipher::BlockCipher::tdes(&zpk).unwrap();
        let pin = crate::Pin::new("1234").unwrap();
        let block = crate::algo::pinblock::encrypt_pin_block(
            &cipher,
            PinBlockFormat::Iso0,
            &pin,
            Some("4123456789012345"),
            &mut rand::rng(),
        )
        .unwrap();
        let translate = TranslatePinRequest {
            incoming_key: PinKey::Key(key_id(Role::Zpk)),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: key_id(Role::Zpk2),
            outgoing_format: PinBlockFormat::Iso3,
            pan: Pan::new("4123456789012345").unwrap(),
            pin_block: block,
        };
        differential(&reference, &candidate, translate.clone().into())
            .await
            .unwrap();
        // The same refusal on both sides agrees.
        let mut bad = translate;
        bad.outgoing_format = PinBlockFormat::Iso1;
        differential(&reference, &candidate, bad.into())
            .await
            .unwrap();

        let cvv = GenerateCardValidationRequest {
            key: key_id(Role::Cvk),
            pan: Pan::new("4123456789012345").unwrap(),
            expiry: CardExpiry::new("8701").unwrap(),
            kind: CardValidationKind::Cvv2,
            length: crate::types::CvvLength::THREE,
        };
        differential(&reference, &candidate, cvv.clone().into())
            .await
            .unwrap();
        let wrong = WrongCvv(candidate.clone());
        let d = differential(&reference, &wrong, cvv.clone().into())
            .await
            .unwrap_err();
        assert_eq!(d.outcome, Outcome::Mismatch { field: "value" });
        let shown = d.to_string();
        assert!(
            shown.contains("generate_card_validation") && shown.contains("value"),
            "{shown}"
        );
        let real = reference.generate_card_validation(cvv).await.unwrap();
        assert!(!shown.contains(real.value.expose()), "{shown}");
    }
}

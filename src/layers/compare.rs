//! How a shadow compares the primary's and the candidate's answers.

use super::outcome::{Outcome, SkipReason};
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::error::ErrorKind;
use crate::ops::*;

/// The result of comparing two answers.
pub(crate) enum Verdict {
    Done(Outcome),
    ComparePinBlocks(EncryptedPinBlock, EncryptedPinBlock),
}

fn first_diff(fields: &[(&'static str, bool)]) -> Verdict {
    match fields.iter().find(|(_, same)| !same) {
        Some((field, _)) => Verdict::Done(Outcome::Mismatch { field }),
        None => Verdict::Done(Outcome::Match),
    }
}

/// True when the answer to `request` is random by design (a randomly
/// generated PIN with its offset or PVV), so two answers never compare.
pub(crate) fn random_output(request: &Request) -> bool {
    matches!(request, Request::GeneratePinData(r) if r.method.is_random())
}

/// Compares the primary's and the candidate's answers; `random` (from
/// [`random_output`]) marks answers that are random by design.
pub(crate) fn classify(
    primary: &std::result::Result<Response, ErrorKind>,
    candidate: &std::result::Result<Response, ErrorKind>,
    random: bool,
) -> Verdict {
    use Outcome::*;
    let done = Verdict::Done;
    match (primary, candidate) {
        (Err(p), _) if p.is_transient() => done(Skipped(SkipReason::PrimaryFailed)),
        (Err(p), Err(c)) if p == c => done(Match),
        // No reference answer, whatever the candidate said (an answer, or
        // an error such as a key the suite never made on it).
        (Err(ErrorKind::Unsupported), _) => done(Skipped(SkipReason::PrimaryUnsupported)),
        (_, Err(ErrorKind::Unsupported)) => done(CandidateUnsupported),
        (Ok(_), Err(c)) => done(CandidateError(*c)),
        (Err(_), Err(c)) if c.is_transient() => done(CandidateError(*c)),
        (Err(_), _) => done(Mismatch {
            field: "error_kind",
        }),
        (Ok(p), Ok(c)) => compare_responses(p, c, random),
    }
}

/// Field-by-field comparison. Every field of every response is listed, so a
/// new field cannot be forgotten silently; the only fields allowed to differ
/// are PIN blocks with random fill, TR-31 blocks (random by design) and
/// what a random PIN generation gives (`random`).
fn compare_responses(p: &Response, c: &Response, random: bool) -> Verdict {
    use Response as R;
    match (p, c) {
        (R::TranslatePin(a), R::TranslatePin(b)) => {
            if a.format != b.format {
                return Verdict::Done(Outcome::Mismatch { field: "format" });
            }
            if a.key_check_value != b.key_check_value {
                return Verdict::Done(Outcome::Mismatch {
                    field: "key_check_value",
                });
            }
            match a.format {
                PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => {
                    first_diff(&[("pin_block", a.pin_block == b.pin_block)])
                }
                PinBlockFormat::Iso1 | PinBlockFormat::Iso3 | PinBlockFormat::Iso4 => {
                    Verdict::ComparePinBlocks(a.pin_block.clone(), b.pin_block.clone())
                }
            }
        }
        (R::EncryptData(a), R::EncryptData(b)) => first_diff(&[
            ("ciphertext", a.ciphertext == b.ciphertext),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::DecryptData(a), R::DecryptData(b)) => first_diff(&[
            ("plaintext", a.plaintext == b.plaintext),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::ReEncryptData(a), R::ReEncryptData(b)) => first_diff(&[
            ("ciphertext", a.ciphertext == b.ciphertext),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::GenerateCardValidation(a), R::GenerateCardValidation(b)) => first_diff(&[
            ("value", a.value == b.value),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::VerifyCardValidation(a), R::VerifyCardValidation(b))
        | (R::VerifyMac(a), R::VerifyMac(b))
        | (R::VerifyPinData(a), R::VerifyPinData(b)) => {
            first_diff(&[("verification", a.verification == b.verification)])
        }
        (R::VerifyArqc(a), R::VerifyArqc(b)) => first_diff(&[
            ("verification", a.verification == b.verification),
            ("arpc", a.arpc == b.arpc),
        ]),
        (R::GenerateArqc(a), R::GenerateArqc(b)) => first_diff(&[("arqc", a.arqc == b.arqc)]),
        (R::GenerateMac(a), R::GenerateMac(b)) => first_diff(&[
            ("mac", a.mac == b.mac),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::GeneratePinData(a), R::GeneratePinData(b)) => {
            if let Verdict::Done(Outcome::Mismatch { field }) = first_diff(&[
                ("format", a.format == b.format),
                (
                    "generation_key_check_value",
                    a.generation_key_check_value == b.generation_key_check_value,
                ),
                (
                    "encryption_key_check_value",
                    a.encryption_key_check_value == b.encryption_key_check_value,
                ),
            ]) {
                return Verdict::Done(Outcome::Mismatch { field });
            }
            if random {
                // Two random PINs: the offsets / PVVs and blocks differ by design.
                return Verdict::Done(Outcome::Skipped(SkipReason::NotComparable));
            }
            if a.pin_data != b.pin_data {
                return Verdict::Done(Outcome::Mismatch { field: "pin_data" });
            }
            match a.format {
                PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => {
                    first_diff(&[("pin_block", a.pin_block == b.pin_block)])
                }
                PinBlockFormat::Iso1 | PinBlockFormat::Iso3 | PinBlockFormat::Iso4 => {
                    Verdict::ComparePinBlocks(a.pin_block.clone(), b.pin_block.clone())
                }
            }
        }
        (R::GenerateKey(_), R::GenerateKey(_)) => {
            // Two random keys: never comparable (and never shadowed).
            Verdict::Done(Outcome::Skipped(SkipReason::NotComparable))
        }
        (R::ImportKey(a), R::ImportKey(b)) | (R::GetKeyInfo(a), R::GetKeyInfo(b)) => first_diff(&[
            ("key_id", a.key_id == b.key_id),
            ("attributes", a.attributes == b.attributes),
            ("key_check_value", a.key_check_value == b.key_check_value),
        ]),
        (R::ExportKey(a), R::ExportKey(b)) => {
            if a.key_check_value != b.key_check_value {
                Verdict::Done(Outcome::Mismatch {
                    field: "key_check_value",
                })
            } else {
                // TR-31 blocks carry random padding and MACs: the same key
                // exported twice gives different blocks.
                Verdict::Done(Outcome::Skipped(SkipReason::NotComparable))
            }
        }
        (R::DeleteKey(a), R::DeleteKey(b)) => first_diff(&[("key", a.key == b.key)]),
        (R::GetPublicKeyCertificate(_), R::GetPublicKeyCertificate(_)) => {
            // Each backend's key pairs and certificate authorities are its own.
            Verdict::Done(Outcome::Skipped(SkipReason::NotComparable))
        }
        _ => Verdict::Done(Outcome::Mismatch { field: "operation" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Kcv, Verification};

    fn verify(v: Verification) -> std::result::Result<Response, ErrorKind> {
        Ok(Response::VerifyCardValidation(VerifyResponse {
            verification: v,
        }))
    }

    fn outcome(v: Verdict) -> Outcome {
        match v {
            Verdict::Done(o) => o,
            Verdict::ComparePinBlocks(..) => panic!("expected a final verdict"),
        }
    }

    #[test]
    fn failed_primary_verified_candidate_is_a_mismatch() {
        let o = outcome(classify(
            &verify(Verification::Failed),
            &verify(Verification::Verified),
            false,
        ));
        assert_eq!(
            o,
            Outcome::Mismatch {
                field: "verification"
            }
        );
        let o = outcome(classify(
            &verify(Verification::Failed),
            &verify(Verification::Failed),
            false,
        ));
        assert_eq!(o, Outcome::Match);
    }

    #[test]
    fn error_classes() {
        let ok = verify(Verification::Verified);
        assert_eq!(
            outcome(classify(&ok, &Err(ErrorKind::Unsupported), false)),
            Outcome::CandidateUnsupported
        );
        assert_eq!(
            outcome(classify(&ok, &Err(ErrorKind::KeyNotFound), false)),
            Outcome::CandidateError(ErrorKind::KeyNotFound)
        );
        assert_eq!(
            outcome(classify(&Err(ErrorKind::Transient), &ok, false)),
            Outcome::Skipped(SkipReason::PrimaryFailed)
        );
        // An unsupported primary gives no reference: skipped, not a mismatch.
        assert_eq!(
            outcome(classify(&Err(ErrorKind::Unsupported), &ok, false)),
            Outcome::Skipped(SkipReason::PrimaryUnsupported)
        );
        assert_eq!(
            outcome(classify(
                &Err(ErrorKind::Unsupported),
                &Err(ErrorKind::KeyNotFound),
                false
            )),
            Outcome::Skipped(SkipReason::PrimaryUnsupported)
        );
        assert_eq!(
            outcome(classify(
                &Err(ErrorKind::KeyUsage),
                &Err(ErrorKind::KeyUsage),
                false
            )),
            Outcome::Match
        );
        // The candidate accepted what the primary refused.
        assert_eq!(
            outcome(classify(&Err(ErrorKind::KeyUsage), &ok, false)),
            Outcome::Mismatch {
                field: "error_kind"
            }
        );
    }

    #[test]
    fn pin_data_compares_unless_the_pin_is_random() {
        use crate::types::{PinOffset, Pvv};
        let resp = |f, b: u8, data: PinData| {
            Response::GeneratePinData(GeneratePinDataResponse {
                pin_block: EncryptedPinBlock::from_bytes(&[b; 8]).unwrap(),
                format: f,
                pin_data: data,
                generation_key_check_value: Kcv([1, 2, 3]),
                encryption_key_check_value: Kcv([4, 5, 6]),
            })
        };
        let pvv = |s| PinData::Pvv(Pvv::new(s).unwrap());
        let off = |s| PinData::Offset(PinOffset::new(s).unwrap());
        let iso0 = PinBlockFormat::Iso0;
        // Random PINs: never comparable (but the key check values are).
        assert_eq!(
            outcome(compare_responses(
                &resp(iso0, 1, pvv("1234")),
                &resp(iso0, 2, pvv("5678")),
                true
            )),
            Outcome::Skipped(SkipReason::NotComparable)
        );
        // Deterministic: PIN data and (ISO 0) blocks must match.
        assert_eq!(
            outcome(compare_responses(
                &resp(iso0, 1, off("1234")),
                &resp(iso0, 1, off("1234")),
                false
            )),
            Outcome::Match
        );
        assert_eq!(
            outcome(compare_responses(
                &resp(iso0, 1, off("1234")),
                &resp(iso0, 1, off("1235")),
                false
            )),
            Outcome::Mismatch { field: "pin_data" }
        );
        assert_eq!(
            outcome(compare_responses(
                &resp(iso0, 1, off("1234")),
                &resp(iso0, 2, off("1234")),
                false
            )),
            Outcome::Mismatch { field: "pin_block" }
        );
        assert!(matches!(
            compare_responses(
                &resp(PinBlockFormat::Iso3, 1, pvv("1234")),
                &resp(PinBlockFormat::Iso3, 2, pvv("1234")),
                false
            ),
            Verdict::ComparePinBlocks(..)
        ));
    }

    #[test]
    fn random_fill_formats_need_a_meaning_check() {
        let block = |b: u8| EncryptedPinBlock::from_bytes(&[b; 8]).unwrap();
        let resp = |f, b| {
            Response::TranslatePin(TranslatePinResponse {
                pin_block: block(b),
                format: f,
                key_check_value: Kcv([1, 2, 3]),
            })
        };
        assert!(matches!(
            compare_responses(
                &resp(PinBlockFormat::Iso3, 1),
                &resp(PinBlockFormat::Iso3, 2),
                false
            ),
            Verdict::ComparePinBlocks(..)
        ));
        assert_eq!(
            outcome(compare_responses(
                &resp(PinBlockFormat::Iso0, 1),
                &resp(PinBlockFormat::Iso0, 2),
                false
            )),
            Outcome::Mismatch { field: "pin_block" }
        );
        assert_eq!(
            outcome(compare_responses(
                &resp(PinBlockFormat::Iso0, 1),
                &resp(PinBlockFormat::Iso0, 1),
                false
            )),
            Outcome::Match
        );
    }
}

//! Issuer PIN data: IBM 3624 and Visa PVV generation and verification.

use super::pin::tdes_counter;
use super::{case, combine, pan, random_pan, random_pin};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{self, AesDukptKeyType, AesDukptUsage, TdesDukptUsage};
use crate::algo::pinblock::{self, EncryptedPinBlock, Pin, PinBlockFormat};
use crate::algo::pinverify;
use crate::backend::BackendExt;
use crate::capabilities::PinDataLimits;
use crate::conformance::vectors::*;
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::*;
use crate::types::{
    CardExpiry, DecimalizationTable, KeyAlgorithm, KeyId, PadCharacter, Pan, PinLength, PinOffset,
    PinValidationData, Pvki, Pvv, Verification,
};
use crate::Ksn;
use rand::{Rng, RngCore};

mod agree;
mod kat;
mod refuse;
use agree::*;
use kat::*;
use refuse::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            GeneratePinData,
            KnownAnswer,
            "IBM 3624 natural PIN and PIN from offset",
            Some(*SRC_IBM3624),
            [],
            kat_ibm_pins
        ),
        case!(
            GeneratePinData,
            KnownAnswer,
            "IBM 3624 offset of a given PIN",
            Some(*SRC_IBM3624),
            [],
            kat_ibm_offsets
        ),
        case!(
            GeneratePinData,
            KnownAnswer,
            "Visa PVV of a given PIN",
            Some(*SRC_PVV),
            [],
            kat_pvvs
        ),
        case!(
            VerifyPinData,
            KnownAnswer,
            "IBM 3624 and Visa PVV test data, right and wrong PINs",
            Some(*SRC_PVV),
            [],
            kat_verify
        ),
        case!(
            VerifyPinData,
            KnownAnswer,
            "published DUKPT PIN blocks (TDES ISO 0, AES ISO 4) verify",
            Some(*SRC_X924_1),
            [],
            kat_dukpt
        ),
        case!(
            GeneratePinData,
            Agreement,
            "deterministic methods on random cards, formats 0/3/4",
            None,
            [],
            agree_generate
        ),
        case!(
            VerifyPinData,
            Agreement,
            "random cards: zone keys and DUKPT, right and wrong PINs",
            None,
            [],
            agree_verify
        ),
        case!(
            VerifyPinData,
            RoundTrip,
            "generated PINs verify, altered offsets and PVVs fail",
            None,
            [GeneratePinData],
            round_trip
        ),
        case!(
            VerifyPinData,
            Refusal,
            "key usage: zone PIN key as PVK refused",
            None,
            [],
            refuse_zpk_as_pvk
        ),
        case!(
            GeneratePinData,
            Refusal,
            "key usage: IBM 3624 PVK for a Visa PVV refused",
            None,
            [],
            refuse_ibm_pvk_for_pvv
        ),
        case!(
            GeneratePinData,
            Refusal,
            "key usage: PVK as PIN encryption key refused",
            None,
            [],
            refuse_pvk_as_pek
        ),
        case!(
            GenerateCardValidation,
            Refusal,
            "key usage: PVK as CVK refused",
            None,
            [],
            refuse_pvk_as_cvk
        ),
        case!(
            VerifyPinData,
            Refusal,
            "bad input: ISO format 2 refused",
            None,
            [],
            refuse_iso2
        ),
        case!(
            GeneratePinData,
            Refusal,
            "bad input: 16-byte PIN block for format 0 refused",
            None,
            [],
            refuse_block_length
        ),
        case!(
            VerifyPinData,
            Refusal,
            "bad input: PIN length shorter than the offset refused",
            None,
            [],
            refuse_pin_length
        ),
    ]
}

fn stop(e: impl std::fmt::Display) -> Stop {
    fail(e.to_string())
}

fn tdes(key: &[u8]) -> Result<BlockCipher, Stop> {
    BlockCipher::tdes(key).map_err(|e| fail(format!("key: {e}")))
}

fn aes(key: &[u8]) -> Result<BlockCipher, Stop> {
    BlockCipher::aes(key).map_err(|e| fail(format!("key: {e}")))
}

fn published_clear(role: Role) -> Vec<u8> {
    hex::decode(role.published().map(|p| p.0).unwrap_or_default()).unwrap_or_default()
}

/// The published ZPK's name and cipher (checked to be the published key).
async fn published_zpk(ctx: &Ctx<'_>) -> Result<(KeyId, BlockCipher), Stop> {
    let zpk = ctx.published(Role::Zpk).await?;
    Ok((zpk.id.clone(), tdes(&published_clear(Role::Zpk))?))
}

/// The published PVK of `role` on the backend and its cipher.
async fn published_pvk(ctx: &Ctx<'_>, role: Role) -> Result<(KeyId, BlockCipher), Stop> {
    let pvk = ctx.published(role).await?;
    Ok((pvk.id.clone(), tdes(&published_clear(role))?))
}

fn ibm_from(v: &Ibm3624Vector) -> Result<Ibm3624, Stop> {
    Ok(Ibm3624 {
        decimalization_table: DecimalizationTable::new(v.decimalization_table).map_err(stop)?,
        validation_data: PinValidationData::new(v.validation_data).map_err(stop)?,
        pad: PadCharacter::new(v.pad).map_err(stop)?,
    })
}

fn pin(s: &str) -> Result<Pin, Stop> {
    Pin::new(s).map_err(stop)
}

/// `p` with its last digit changed: another PIN of the same length.
fn wrong(p: &str) -> Result<Pin, Stop> {
    let mut b = p.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        *last = b'0' + (*last - b'0' + 1) % 10;
    }
    Pin::from_digits(&b).map_err(stop)
}

fn enc(c: &BlockCipher, f: PinBlockFormat, p: &Pin, pan: &Pan) -> Result<EncryptedPinBlock, Stop> {
    pinblock::encrypt_pin_block(c, f, p, Some(pan.expose()), &mut rand::rng()).map_err(stop)
}

fn dec(c: &BlockCipher, f: PinBlockFormat, b: &EncryptedPinBlock, pan: &Pan) -> Result<Pin, Stop> {
    pinblock::decrypt_pin_block(c, f, b.as_bytes(), Some(pan.expose()))
        .map_err(|e| fail(format!("the returned PIN block does not decode: {e}")))
}

/// Random IBM 3624 parameters for `pan` (validation data: a run of its
/// digits), within what the backend declares ([`PinDataLimits`]): a table
/// passing the HSM's check, validation data holding the account's last
/// five digits.
fn random_ibm(rng: &mut impl Rng, pan: &str, limits: PinDataLimits) -> Result<Ibm3624, Stop> {
    let mut draw = || -> Result<DecimalizationTable, Stop> {
        let table: String = (0..16)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        DecimalizationTable::new(&table).map_err(stop)
    };
    let mut table = draw()?;
    if limits.checked_decimalization_tables {
        let mut tries = 0;
        while !table.passes_hsm_check() {
            tries += 1;
            table = if tries < 100 {
                draw()?
            } else {
                DecimalizationTable::new(DecimalizationTable::STANDARD).map_err(stop)?
            };
        }
    }
    let (from, len) = if limits.validation_data_holds_account && pan.len() >= 12 {
        // Cover the five digits before the check digit, at most 16 digits.
        let last = pan.len() - 1;
        let from = rng.random_range(last.saturating_sub(16)..=last - 5);
        let len = rng.random_range(last - from..=(pan.len() - from).min(16));
        (from, len)
    } else {
        let from = rng.random_range(0..=pan.len().saturating_sub(4));
        (from, rng.random_range(4..=(pan.len() - from).min(16)))
    };
    let pad = format!("{:X}", rng.random_range(0..16u8));
    Ok(Ibm3624 {
        decimalization_table: table,
        validation_data: PinValidationData::new(pan.get(from..from + len).unwrap_or_default())
            .map_err(stop)?,
        pad: PadCharacter::new(&pad).map_err(stop)?,
    })
}

fn random_offset(rng: &mut impl Rng, len: usize) -> Result<PinOffset, Stop> {
    let v: Vec<u8> = (0..len).map(|_| rng.random_range(0..10u8)).collect();
    PinOffset::from_values(&v).map_err(stop)
}

async fn generate(
    ctx: &Ctx<'_>,
    pvk: &KeyId,
    pek: &KeyId,
    format: PinBlockFormat,
    pan: &Pan,
    method: PinGeneration,
) -> crate::Result<GeneratePinDataResponse> {
    ctx.backend
        .generate_pin_data(GeneratePinDataRequest {
            generation_key: pvk.clone(),
            encryption_key: pek.clone(),
            format,
            pan: pan.clone(),
            method,
        })
        .await
}

#[allow(clippy::too_many_arguments)]
fn verify_request(
    pvk: &KeyId,
    pin_key: PinKey,
    format: PinBlockFormat,
    pan: &Pan,
    pin_block: EncryptedPinBlock,
    method: PinVerification,
    pin_length: Option<PinLength>,
) -> VerifyPinDataRequest {
    VerifyPinDataRequest {
        verification_key: pvk.clone(),
        pin_key,
        format,
        pan: pan.clone(),
        pin_block,
        method,
        pin_length,
    }
}

async fn verify(ctx: &Ctx<'_>, r: VerifyPinDataRequest) -> crate::Result<Verification> {
    ctx.backend.verify_pin_data(r).await.map(|r| r.verification)
}

fn expect(what: &str, got: Verification, want: Verification) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(fail(format!("{what}: {got:?}, expected {want:?}")))
    }
}

fn offset_of(r: &GeneratePinDataResponse) -> Result<&PinOffset, Stop> {
    match &r.pin_data {
        PinData::Offset(o) => Ok(o),
        PinData::Pvv(_) => Err(fail("returned a PVV where an offset was expected")),
    }
}

fn pvv_of(r: &GeneratePinDataResponse) -> Result<&Pvv, Stop> {
    match &r.pin_data {
        PinData::Pvv(p) => Ok(p),
        PinData::Offset(_) => Err(fail("returned an offset where a PVV was expected")),
    }
}

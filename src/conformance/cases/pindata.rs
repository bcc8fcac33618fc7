//! Issuer PIN data: IBM 3624 and Visa PVV generation and verification.

use super::pin::tdes_counter;
use super::{case, combine, pan, random_pan, random_pin};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{self, AesDukptKeyType, AesDukptUsage, TdesDukptUsage};
use crate::algo::pinblock::{self, EncryptedPinBlock, Pin, PinBlockFormat};
use crate::algo::pinverify;
use crate::backend::BackendExt;
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

fn random_ibm(rng: &mut impl Rng, pan: &str) -> Result<Ibm3624, Stop> {
    let table: String = (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    let from = rng.random_range(0..=pan.len().saturating_sub(4));
    let len = rng.random_range(4..=(pan.len() - from).min(16));
    let pad = format!("{:X}", rng.random_range(0..16u8));
    Ok(Ibm3624 {
        decimalization_table: DecimalizationTable::new(&table).map_err(stop)?,
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

// ------------------------------------------------------------ known answers

async fn kat_ibm_pins(ctx: &Ctx<'_>) -> Outcome {
    let (pvk, _) = published_pvk(ctx, Role::PvkIbm).await?;
    let (zpk, zc) = published_zpk(ctx).await?;
    for (p, v) in IBM3624.iter() {
        let card = pan(p)?;
        let ibm = ibm_from(v)?;
        let method = PinGeneration::Ibm3624NaturalPin {
            ibm: ibm.clone(),
            pin_length: PinLength::FOUR,
        };
        let r = generate(ctx, &pvk, &zpk, PinBlockFormat::Iso0, &card, method)
            .await
            .map_err(|e| op_failed("natural PIN", &e))?;
        if dec(&zc, PinBlockFormat::Iso0, &r.pin_block, &card)?.as_str() != v.natural_pin {
            return Err(fail(format!(
                "natural PIN for validation data {}: not {}",
                v.validation_data, v.natural_pin
            )));
        }
        if offset_of(&r)?.expose() != "0000" {
            return Err(fail("a natural PIN's offset must be 0000"));
        }
        let offset = PinOffset::new(v.offset).map_err(stop)?;
        let method = PinGeneration::Ibm3624PinFromOffset {
            ibm,
            offset: offset.clone(),
        };
        let r = generate(ctx, &pvk, &zpk, PinBlockFormat::Iso0, &card, method)
            .await
            .map_err(|e| op_failed("PIN from offset", &e))?;
        if dec(&zc, PinBlockFormat::Iso0, &r.pin_block, &card)?.as_str() != v.pin {
            return Err(fail(format!("PIN from offset {}: not {}", v.offset, v.pin)));
        }
        if *offset_of(&r)? != offset {
            return Err(fail("PIN from offset: the offset must come back unchanged"));
        }
    }
    Ok(())
}

async fn kat_ibm_offsets(ctx: &Ctx<'_>) -> Outcome {
    let (pvk, _) = published_pvk(ctx, Role::PvkIbm).await?;
    let (zpk, zc) = published_zpk(ctx).await?;
    for (p, v) in IBM3624.iter() {
        let card = pan(p)?;
        let given = enc(&zc, PinBlockFormat::Iso0, &pin(v.pin)?, &card)?;
        let method = PinGeneration::Ibm3624PinOffset {
            ibm: ibm_from(v)?,
            pin_block: given,
        };
        let r = generate(ctx, &pvk, &zpk, PinBlockFormat::Iso0, &card, method)
            .await
            .map_err(|e| op_failed("offset", &e))?;
        let got = offset_of(&r)?.expose();
        if got != v.offset {
            return Err(fail(format!(
                "offset of PIN {}: got {got}, expected {}",
                v.pin, v.offset
            )));
        }
        if dec(&zc, PinBlockFormat::Iso0, &r.pin_block, &card)?.as_str() != v.pin {
            return Err(fail("the returned PIN block must carry the given PIN"));
        }
    }
    Ok(())
}

async fn kat_pvvs(ctx: &Ctx<'_>) -> Outcome {
    let (pvk, _) = published_pvk(ctx, Role::PvkVisa).await?;
    let (zpk, zc) = published_zpk(ctx).await?;
    for (p, pvki, pin_s, want) in PVV.iter() {
        let card = pan(p)?;
        let method = PinGeneration::VisaPvv {
            pvki: pvki.parse().map_err(stop)?,
            pin_block: enc(&zc, PinBlockFormat::Iso0, &pin(pin_s)?, &card)?,
        };
        let r = generate(ctx, &pvk, &zpk, PinBlockFormat::Iso0, &card, method)
            .await
            .map_err(|e| op_failed("PVV", &e))?;
        let got = pvv_of(&r)?.expose();
        if got != *want {
            return Err(fail(format!(
                "PVV of PIN {pin_s}: got {got}, expected {want}"
            )));
        }
    }
    Ok(())
}

async fn kat_verify(ctx: &Ctx<'_>) -> Outcome {
    let mut results = Vec::new();
    let ibm = async {
        let (pvk, _) = published_pvk(ctx, Role::PvkIbm).await?;
        let (zpk, zc) = published_zpk(ctx).await?;
        for (p, v) in IBM3624.iter() {
            let card = pan(p)?;
            let method = PinVerification::Ibm3624 {
                ibm: ibm_from(v)?,
                offset: PinOffset::new(v.offset).map_err(stop)?,
            };
            for (presented, want) in [
                (pin(v.pin)?, Verification::Verified),
                (wrong(v.pin)?, Verification::Failed),
            ] {
                let b = enc(&zc, PinBlockFormat::Iso0, &presented, &card)?;
                let req = verify_request(
                    &pvk,
                    PinKey::Key(zpk.clone()),
                    PinBlockFormat::Iso0,
                    &card,
                    b,
                    method.clone(),
                    None,
                );
                let got = verify(ctx, req).await.map_err(|e| {
                    op_failed("verify (a wrong PIN must be Failed, not an error)", &e)
                })?;
                expect(&format!("IBM 3624, offset {}", v.offset), got, want)?;
            }
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(ibm);
    let visa = async {
        let (pvk, _) = published_pvk(ctx, Role::PvkVisa).await?;
        let (zpk, zc) = published_zpk(ctx).await?;
        for (p, pvki, pin_s, pvv) in PVV.iter() {
            let card = pan(p)?;
            let method = PinVerification::VisaPvv {
                pvki: pvki.parse().map_err(stop)?,
                pvv: Pvv::new(pvv).map_err(stop)?,
            };
            for (presented, want) in [
                (pin(pin_s)?, Verification::Verified),
                (wrong(pin_s)?, Verification::Failed),
            ] {
                let b = enc(&zc, PinBlockFormat::Iso3, &presented, &card)?;
                let req = verify_request(
                    &pvk,
                    PinKey::Key(zpk.clone()),
                    PinBlockFormat::Iso3,
                    &card,
                    b,
                    method.clone(),
                    None,
                );
                let got = verify(ctx, req).await.map_err(|e| {
                    op_failed("verify (a wrong PIN must be Failed, not an error)", &e)
                })?;
                expect(&format!("Visa PVV {pvv}"), got, want)?;
            }
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(visa);
    combine(results)
}

/// The published DUKPT PIN blocks (PIN 1234) verify against the PVV / offset
/// the reference algorithm computes for them with the published PVKs.
async fn kat_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let mut results = Vec::new();
    let p1234 = pin("1234")?;
    let tdes_part = async {
        let bdk = ctx.published(Role::Bdk).await?.id.clone();
        let (pvk, pc) = published_pvk(ctx, Role::PvkVisa).await?;
        let card = pan(*TDES_DUKPT_PAN)?;
        let pvki = Pvki::new(1).map_err(stop)?;
        let pvv = pinverify::visa_pvv(&pc, &card, pvki, &p1234).map_err(stop)?;
        let other = pinverify::visa_pvv(&pc, &card, pvki, &wrong("1234")?).map_err(stop)?;
        for (ksn, b) in TDES_DUKPT_PIN.iter() {
            for (pvv, want) in [
                (&pvv, Verification::Verified),
                (&other, Verification::Failed),
            ] {
                let d = Dukpt {
                    bdk: bdk.clone(),
                    ksn: Ksn::parse_hex(ksn).map_err(stop)?,
                    key_type: KeyAlgorithm::Tdes2,
                };
                let req = verify_request(
                    &pvk,
                    PinKey::Dukpt(d),
                    PinBlockFormat::Iso0,
                    &card,
                    EncryptedPinBlock::from_bytes(&super::hx(b)).map_err(stop)?,
                    PinVerification::VisaPvv {
                        pvki,
                        pvv: pvv.clone(),
                    },
                    None,
                );
                let got = verify(ctx, req)
                    .await
                    .map_err(|e| op_failed(&format!("verify (KSN {ksn})"), &e))?;
                expect(&format!("TDES DUKPT KSN {ksn}"), got, want)?;
            }
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(tdes_part);
    let aes_part = async {
        let bdk = ctx.published(Role::BdkAes).await?.id.clone();
        let (pvk, pc) = published_pvk(ctx, Role::PvkIbm).await?;
        let card = pan(*AES_DUKPT_PAN)?;
        let ibm = Ibm3624 {
            decimalization_table: DecimalizationTable::new(DecimalizationTable::STANDARD)
                .map_err(stop)?,
            validation_data: PinValidationData::new(card.expose().get(..16).unwrap_or_default())
                .map_err(stop)?,
            pad: PadCharacter::F,
        };
        let offset = pinverify::ibm3624_offset(&pc, &ibm.params(), &p1234, None).map_err(stop)?;
        for (ksn, b) in AES_DUKPT_PIN.iter() {
            let d = Dukpt {
                bdk: bdk.clone(),
                ksn: Ksn::parse_hex(ksn).map_err(stop)?,
                key_type: KeyAlgorithm::Aes128,
            };
            let req = verify_request(
                &pvk,
                PinKey::Dukpt(d),
                PinBlockFormat::Iso4,
                &card,
                EncryptedPinBlock::from_bytes(&super::hx(b)).map_err(stop)?,
                PinVerification::Ibm3624 {
                    ibm: ibm.clone(),
                    offset: offset.clone(),
                },
                None,
            );
            let got = verify(ctx, req)
                .await
                .map_err(|e| op_failed(&format!("verify (KSN {ksn})"), &e))?;
            expect(&format!("AES DUKPT KSN {ksn}"), got, Verification::Verified)?;
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(aes_part);
    combine(results)
}

// ------------------------------------------------------------ agreement

/// A PIN encryption key for `format`: the AES zone key for ISO 4, else the
/// TDES one; its name and cipher.
fn pek(ctx: &Ctx<'_>, format: PinBlockFormat) -> Result<(KeyId, BlockCipher), Stop> {
    if format == PinBlockFormat::Iso4 {
        Ok((
            ctx.key(Role::ZpkAes)?.id.clone(),
            aes(ctx.clear(Role::ZpkAes)?)?,
        ))
    } else {
        Ok((ctx.key(Role::Zpk)?.id.clone(), tdes(ctx.clear(Role::Zpk)?)?))
    }
}

async fn agree_generate(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    let formats = [
        PinBlockFormat::Iso0,
        PinBlockFormat::Iso3,
        PinBlockFormat::Iso4,
    ];
    let mut results = Vec::new();
    for i in 0..ctx.rounds.max(4) {
        let format = formats[i % formats.len()];
        let r = async {
            let (pek_id, pc) = pek(ctx, format)?;
            let card = pan(&random_pan(&mut rng))?;
            let p = pin(&random_pin(&mut rng))?;
            let ibm = random_ibm(&mut rng, card.expose())?;
            let (role, method) = match i % 4 {
                0 => (
                    Role::PvkVisa,
                    PinGeneration::VisaPvv {
                        pvki: Pvki::new(rng.random_range(0..=6)).map_err(stop)?,
                        pin_block: enc(&pc, format, &p, &card)?,
                    },
                ),
                1 => (
                    Role::PvkIbm,
                    PinGeneration::Ibm3624PinOffset {
                        ibm,
                        pin_block: enc(&pc, format, &p, &card)?,
                    },
                ),
                2 => {
                    let n = rng.random_range(4..=12);
                    (
                        Role::PvkIbm,
                        PinGeneration::Ibm3624PinFromOffset {
                            offset: random_offset(&mut rng, n)?,
                            ibm,
                        },
                    )
                }
                _ => (
                    Role::PvkIbm,
                    PinGeneration::Ibm3624NaturalPin {
                        ibm,
                        pin_length: PinLength::new(rng.random_range(4..=12)).map_err(stop)?,
                    },
                ),
            };
            ctx.clear(role)?;
            let pvk = ctx.key(role)?.id.clone();
            let req = GeneratePinDataRequest {
                generation_key: pvk,
                encryption_key: pek_id,
                format,
                pan: card.clone(),
                method,
            };
            let got = ctx
                .backend
                .generate_pin_data(req.clone())
                .await
                .map_err(|e| op_failed("generate", &e))?;
            let want = ctx
                .reference
                .generate_pin_data(req)
                .await
                .map_err(|e| ref_failed("generate", &e))?;
            if got.pin_data != want.pin_data {
                return Err(fail(format!(
                    "format {}: the offset / PVV differs from the reference",
                    format.code()
                )));
            }
            if dec(&pc, format, &got.pin_block, &card)? != dec(&pc, format, &want.pin_block, &card)?
            {
                return Err(fail(format!(
                    "format {}: the PIN block carries another PIN than the reference's",
                    format.code()
                )));
            }
            if (
                got.generation_key_check_value,
                got.encryption_key_check_value,
            ) != (
                want.generation_key_check_value,
                want.encryption_key_check_value,
            ) {
                return Err(fail("key check values differ from the reference"));
            }
            Ok(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

/// How the PIN block of one verification round is protected: its key and
/// the cipher to build it with.
fn round_key(
    ctx: &Ctx<'_>,
    rng: &mut rand::rngs::StdRng,
    i: usize,
) -> Result<(PinKey, BlockCipher, PinBlockFormat), Stop> {
    Ok(match i % 4 {
        0 => {
            let f = [
                PinBlockFormat::Iso0,
                PinBlockFormat::Iso1,
                PinBlockFormat::Iso3,
            ][rng.random_range(0..3)];
            let (id, c) = pek(ctx, f)?;
            (PinKey::Key(id), c, f)
        }
        1 => {
            let (id, c) = pek(ctx, PinBlockFormat::Iso4)?;
            (PinKey::Key(id), c, PinBlockFormat::Iso4)
        }
        2 => {
            let bdk = ctx.clear(Role::Bdk)?;
            let base = Ksn::parse_hex("FFFF9876543210E00001").map_err(stop)?;
            let mut b = base.as_bytes().to_vec();
            for x in b.iter_mut().take(7) {
                *x = rng.random();
            }
            let ksn = Ksn::from_bytes(&b)
                .and_then(|k| k.with_counter(tdes_counter(rng)))
                .map_err(stop)?;
            let key = dukpt::tdes_working_key(bdk, &ksn, TdesDukptUsage::Pin).map_err(stop)?;
            let d = Dukpt {
                bdk: ctx.key(Role::Bdk)?.id.clone(),
                ksn,
                key_type: KeyAlgorithm::Tdes2,
            };
            (
                PinKey::Dukpt(d),
                tdes(key.as_slice())?,
                PinBlockFormat::Iso0,
            )
        }
        _ => {
            let bdk = ctx.clear(Role::BdkAes)?;
            let mut b = [0u8; 12];
            rng.fill_bytes(&mut b[..8]);
            let counter = loop {
                let c: u32 = rng.random();
                if c != 0 && c.count_ones() <= 16 {
                    break c;
                }
            };
            b[8..].copy_from_slice(&counter.to_be_bytes());
            let ksn = Ksn::from_bytes(&b).map_err(stop)?;
            let key = dukpt::aes_working_key(
                bdk,
                &ksn,
                AesDukptUsage::PinEncryption,
                AesDukptKeyType::Aes128,
            )
            .map_err(stop)?;
            let d = Dukpt {
                bdk: ctx.key(Role::BdkAes)?.id.clone(),
                ksn,
                key_type: KeyAlgorithm::Aes128,
            };
            (PinKey::Dukpt(d), aes(key.as_bytes())?, PinBlockFormat::Iso4)
        }
    })
}

async fn agree_verify(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    let mut results = Vec::new();
    for i in 0..ctx.rounds.max(8) {
        let r = async {
            let (pin_key, c, format) = round_key(ctx, &mut rng, i)?;
            let card = pan(&random_pan(&mut rng))?;
            let true_pin = random_pin(&mut rng);
            let ibm_scheme = (i / 4) % 2 == 0;
            let role = if ibm_scheme {
                Role::PvkIbm
            } else {
                Role::PvkVisa
            };
            let pc = tdes(ctx.clear(role)?)?;
            let pvk = ctx.key(role)?.id.clone();
            let method = if ibm_scheme {
                let ibm = random_ibm(&mut rng, card.expose())?;
                let check =
                    PinLength::new(rng.random_range(4..=true_pin.len() as u8)).map_err(stop)?;
                let offset =
                    pinverify::ibm3624_offset(&pc, &ibm.params(), &pin(&true_pin)?, Some(check))
                        .map_err(stop)?;
                PinVerification::Ibm3624 { ibm, offset }
            } else {
                let pvki = Pvki::new(rng.random_range(0..=6)).map_err(stop)?;
                let pvv = pinverify::visa_pvv(&pc, &card, pvki, &pin(&true_pin)?).map_err(stop)?;
                PinVerification::VisaPvv { pvki, pvv }
            };
            let right = rng.random_bool(0.5);
            let presented = if right {
                pin(&true_pin)?
            } else {
                wrong(&true_pin)?
            };
            let req = verify_request(
                &pvk,
                pin_key,
                format,
                &card,
                enc(&c, format, &presented, &card)?,
                method,
                None,
            );
            let got = verify(ctx, req.clone())
                .await
                .map_err(|e| op_failed("verify", &e))?;
            let want = ctx
                .reference
                .verify_pin_data(req)
                .await
                .map_err(|e| ref_failed("verify", &e))?
                .verification;
            expect("verification against the reference", got, want)?;
            if right {
                expect("the right PIN", got, Verification::Verified)?;
            }
            Ok(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

// ------------------------------------------------------------ round trip

async fn round_trip(ctx: &Ctx<'_>) -> Outcome {
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let mut rng = ctx.rng();
    let mut results = Vec::new();
    for (role, i) in [Role::PvkIbm, Role::PvkVisa]
        .into_iter()
        .flat_map(|r| (0..ctx.rounds.min(4)).map(move |i| (r, i)))
    {
        let r = async {
            let pvk = ctx.key(role)?.id.clone();
            let card = pan(&random_pan(&mut rng))?;
            let pin_length = PinLength::new(rng.random_range(4..=12)).map_err(stop)?;
            let format = [PinBlockFormat::Iso0, PinBlockFormat::Iso3][i % 2];
            let (method, check) = if role == Role::PvkIbm {
                let ibm = random_ibm(&mut rng, card.expose())?;
                (
                    PinGeneration::Ibm3624RandomPin {
                        ibm: ibm.clone(),
                        pin_length,
                    },
                    Err(ibm),
                )
            } else {
                let pvki = Pvki::new(rng.random_range(0..=6)).map_err(stop)?;
                (PinGeneration::VisaPin { pvki, pin_length }, Ok(pvki))
            };
            let g = generate(ctx, &pvk, &zpk, format, &card, method)
                .await
                .map_err(|e| op_failed("generate", &e))?;
            let (right, altered) = match (check, &g.pin_data) {
                (Err(ibm), PinData::Offset(o)) => {
                    if o.len() != pin_length.get() {
                        return Err(fail("the offset must have the PIN's length"));
                    }
                    let mut v = o.values().to_vec();
                    if let Some(first) = v.first_mut() {
                        *first = (*first + 1) % 10;
                    }
                    let alt = PinOffset::from_values(&v).map_err(stop)?;
                    (
                        PinVerification::Ibm3624 {
                            ibm: ibm.clone(),
                            offset: o.clone(),
                        },
                        PinVerification::Ibm3624 { ibm, offset: alt },
                    )
                }
                (Ok(pvki), PinData::Pvv(p)) => {
                    let mut v = *p.values();
                    v[3] = (v[3] + 1) % 10;
                    let alt = Pvv::from_values(v).map_err(stop)?;
                    (
                        PinVerification::VisaPvv {
                            pvki,
                            pvv: p.clone(),
                        },
                        PinVerification::VisaPvv { pvki, pvv: alt },
                    )
                }
                _ => return Err(fail("the PIN data is of the other scheme")),
            };
            for (method, length, want) in [
                (right.clone(), None, Verification::Verified),
                (right.clone(), Some(pin_length), Verification::Verified),
                (altered, None, Verification::Failed),
            ] {
                let req = verify_request(
                    &pvk,
                    PinKey::Key(zpk.clone()),
                    format,
                    &card,
                    g.pin_block.clone(),
                    method,
                    length,
                );
                let got = verify(ctx, req)
                    .await
                    .map_err(|e| op_failed("verify (altered data must be Failed)", &e))?;
                expect("generated PIN", got, want)?;
            }
            // Another length than the PIN's: Failed.
            let other =
                PinLength::new(if pin_length.get() == 12 { 11 } else { 12 }).map_err(stop)?;
            if role == Role::PvkVisa {
                let req = verify_request(
                    &pvk,
                    PinKey::Key(zpk.clone()),
                    format,
                    &card,
                    g.pin_block.clone(),
                    right,
                    Some(other),
                );
                let got = verify(ctx, req)
                    .await
                    .map_err(|e| op_failed("verify with another PIN length", &e))?;
                expect("another PIN length", got, Verification::Failed)?;
            }
            Ok(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

// ------------------------------------------------------------ refusals

const USAGE_REFUSALS: &[ErrorKind] = &[ErrorKind::KeyUsage];
const INPUT_REFUSALS: &[ErrorKind] = &[ErrorKind::InvalidInput];

fn ibm_standard(card: &Pan) -> Result<Ibm3624, Stop> {
    Ok(Ibm3624 {
        decimalization_table: DecimalizationTable::new(DecimalizationTable::STANDARD)
            .map_err(stop)?,
        validation_data: PinValidationData::new(card.expose().get(..12).unwrap_or_default())
            .map_err(stop)?,
        pad: PadCharacter::F,
    })
}

/// A PIN block under the ZPK (its clear value or the published one).
fn zpk_block(ctx: &Ctx<'_>, card: &Pan) -> Result<(KeyId, EncryptedPinBlock), Stop> {
    let c = tdes(ctx.clear(Role::Zpk)?)?;
    Ok((
        ctx.key(Role::Zpk)?.id.clone(),
        enc(&c, PinBlockFormat::Iso0, &pin("1234")?, card)?,
    ))
}

async fn refuse_zpk_as_pvk(ctx: &Ctx<'_>) -> Outcome {
    let card = pan("4111111111111111")?;
    let (zpk, b) = zpk_block(ctx, &card)?;
    let req = verify_request(
        &zpk,
        PinKey::Key(zpk.clone()),
        PinBlockFormat::Iso0,
        &card,
        b,
        PinVerification::VisaPvv {
            pvki: Pvki::new(1).map_err(stop)?,
            pvv: Pvv::new("1234").map_err(stop)?,
        },
        None,
    );
    expect_refusal(
        "zone PIN key as PVK",
        verify(ctx, req).await,
        USAGE_REFUSALS,
    )
}

async fn refuse_ibm_pvk_for_pvv(ctx: &Ctx<'_>) -> Outcome {
    let pvk = ctx.key(Role::PvkIbm)?.id.clone();
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let method = PinGeneration::VisaPin {
        pvki: Pvki::new(1).map_err(stop)?,
        pin_length: PinLength::FOUR,
    };
    let r = generate(
        ctx,
        &pvk,
        &zpk,
        PinBlockFormat::Iso0,
        &pan("4111111111111111")?,
        method,
    )
    .await;
    expect_refusal("IBM 3624 PVK (V1) for a Visa PVV", r, USAGE_REFUSALS)
}

async fn refuse_pvk_as_pek(ctx: &Ctx<'_>) -> Outcome {
    let pvk = ctx.key(Role::PvkVisa)?.id.clone();
    let method = PinGeneration::VisaPin {
        pvki: Pvki::new(1).map_err(stop)?,
        pin_length: PinLength::FOUR,
    };
    let r = generate(
        ctx,
        &pvk,
        &pvk,
        PinBlockFormat::Iso0,
        &pan("4111111111111111")?,
        method,
    )
    .await;
    expect_refusal("PVK as PIN encryption key", r, USAGE_REFUSALS)
}

async fn refuse_pvk_as_cvk(ctx: &Ctx<'_>) -> Outcome {
    let pvk = ctx.key(Role::PvkVisa)?.id.clone();
    let r = ctx
        .backend
        .generate_card_validation(GenerateCardValidationRequest {
            key: pvk,
            pan: pan("4111111111111111")?,
            expiry: CardExpiry::new("2512").map_err(stop)?,
            kind: CardValidationKind::Cvv2,
        })
        .await;
    expect_refusal("PVK as CVK", r, USAGE_REFUSALS)
}

async fn refuse_iso2(ctx: &Ctx<'_>) -> Outcome {
    let card = pan("4111111111111111")?;
    let pvk = ctx.key(Role::PvkIbm)?.id.clone();
    let (zpk, b) = zpk_block(ctx, &card)?;
    let req = verify_request(
        &pvk,
        PinKey::Key(zpk),
        PinBlockFormat::Iso2,
        &card,
        b,
        PinVerification::Ibm3624 {
            ibm: ibm_standard(&card)?,
            offset: PinOffset::new("0000").map_err(stop)?,
        },
        None,
    );
    expect_refusal(
        "ISO format 2 PIN data",
        verify(ctx, req).await,
        INPUT_REFUSALS,
    )
}

async fn refuse_block_length(ctx: &Ctx<'_>) -> Outcome {
    let card = pan("4111111111111111")?;
    let pvk = ctx.key(Role::PvkIbm)?.id.clone();
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let method = PinGeneration::Ibm3624PinOffset {
        ibm: ibm_standard(&card)?,
        pin_block: EncryptedPinBlock::from_bytes(&[0x11; 16]).map_err(stop)?,
    };
    let r = generate(ctx, &pvk, &zpk, PinBlockFormat::Iso0, &card, method).await;
    expect_refusal("16-byte block said to be ISO 0", r, INPUT_REFUSALS)
}

async fn refuse_pin_length(ctx: &Ctx<'_>) -> Outcome {
    let card = pan("4111111111111111")?;
    let pvk = ctx.key(Role::PvkIbm)?.id.clone();
    let (zpk, b) = zpk_block(ctx, &card)?;
    let req = verify_request(
        &pvk,
        PinKey::Key(zpk),
        PinBlockFormat::Iso0,
        &card,
        b,
        PinVerification::Ibm3624 {
            ibm: ibm_standard(&card)?,
            offset: PinOffset::new("000000").map_err(stop)?,
        },
        Some(PinLength::FOUR),
    );
    expect_refusal(
        "PIN length 4 with a 6-digit offset",
        verify(ctx, req).await,
        INPUT_REFUSALS,
    )
}

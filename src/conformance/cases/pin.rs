//! PIN translation: zone keys, TDES and AES DUKPT, PCI format rules.

use super::{case, check_eq, hx, pan, random_pan, random_pin};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{self, AesDukptKeyType, AesDukptUsage, TdesDukptUsage};
use crate::algo::pinblock::{self, EncryptedPinBlock, Pin, PinBlockFormat};
use crate::backend::BackendExt;
use crate::conformance::vectors::*;
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::{Dukpt, PinKey, TranslatePinRequest, TranslatePinResponse};
use crate::types::{KeyAlgorithm, KeyId, Pan};
use crate::Ksn;
use rand::{Rng, RngCore};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            TranslatePin,
            KnownAnswer,
            "zone key ISO 0 re-encipherment",
            Some(*SRC_JPOS_PIN),
            [],
            kat_zone
        ),
        case!(
            TranslatePin,
            KnownAnswer,
            "TDES DUKPT to zone key",
            Some(*SRC_X924_1),
            [],
            kat_tdes_dukpt
        ),
        case!(
            TranslatePin,
            KnownAnswer,
            "AES DUKPT ISO 4 to zone key",
            Some(*SRC_X924_3),
            [],
            kat_aes_dukpt
        ),
        case!(
            TranslatePin,
            Agreement,
            "TDES zone keys, formats 0/1/3",
            None,
            [],
            agree_tdes_zone
        ),
        case!(
            TranslatePin,
            Agreement,
            "AES zone key, format 4 to and from 0/3",
            None,
            [],
            agree_aes_zone
        ),
        case!(
            TranslatePin,
            Agreement,
            "DUKPT (TDES and AES) to zone key",
            None,
            [],
            agree_dukpt
        ),
        case!(
            TranslatePin,
            Refusal,
            "PCI: format 0 to 1 refused",
            None,
            [],
            refuse_iso0_to_iso1
        ),
        case!(
            TranslatePin,
            Refusal,
            "PCI: translation into format 2 refused",
            None,
            [],
            refuse_into_iso2
        ),
        case!(
            TranslatePin,
            Refusal,
            "key usage: CVK as PIN key refused",
            None,
            [],
            refuse_cvk_as_pin_key
        ),
        case!(
            TranslatePin,
            Refusal,
            "key usage: zone key as BDK refused",
            None,
            [],
            refuse_zpk_as_bdk
        ),
        case!(
            TranslatePin,
            Refusal,
            "bad input: wrong PAN for the PIN block refused",
            None,
            [],
            refuse_wrong_pan
        ),
        case!(
            TranslatePin,
            Refusal,
            "bad input: 8-byte block for format 4 refused",
            None,
            [],
            refuse_short_iso4
        ),
    ]
}

fn cipher(alg_is_aes: bool, key: &[u8]) -> Result<BlockCipher, Stop> {
    let c = if alg_is_aes {
        BlockCipher::aes(key)
    } else {
        BlockCipher::tdes(key)
    };
    c.map_err(|e| fail(format!("key: {e}")))
}

fn block(bytes: &[u8]) -> Result<EncryptedPinBlock, Stop> {
    EncryptedPinBlock::from_bytes(bytes).map_err(|e| fail(format!("pin block: {e}")))
}

async fn translate(
    ctx: &Ctx<'_>,
    incoming_key: PinKey,
    incoming_format: PinBlockFormat,
    outgoing_key: &KeyId,
    outgoing_format: PinBlockFormat,
    pan: &Pan,
    pin_block: EncryptedPinBlock,
) -> crate::Result<TranslatePinResponse> {
    ctx.backend
        .translate_pin(TranslatePinRequest {
            incoming_key,
            incoming_format,
            outgoing_key: outgoing_key.clone(),
            outgoing_format,
            pan: pan.clone(),
            pin_block,
        })
        .await
}

async fn kat_zone(ctx: &Ctx<'_>) -> Outcome {
    let zpk = ctx.published(Role::Zpk).await?;
    let want = hx(*JPOS_PIN_BLOCK);
    let r = translate(
        ctx,
        PinKey::Key(zpk.id.clone()),
        PinBlockFormat::Iso0,
        &zpk.id,
        PinBlockFormat::Iso0,
        &pan(*JPOS_PAN)?,
        block(&want)?,
    )
    .await
    .map_err(|e| op_failed("translate", &e))?;
    check_eq("pin block", r.pin_block.as_bytes(), &want)
}

/// The published ZPK's cipher (the key is checked to be the published one first).
async fn published_zpk(ctx: &Ctx<'_>) -> Result<(KeyId, BlockCipher), Stop> {
    let zpk = ctx.published(Role::Zpk).await?;
    let clear = hx(Role::Zpk.published().map(|p| p.0).unwrap_or_default());
    Ok((zpk.id.clone(), cipher(false, &clear)?))
}

async fn kat_tdes_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let bdk = ctx.published(Role::Bdk).await?.id.clone();
    let (zpk, zc) = published_zpk(ctx).await?;
    let want =
        pinblock::encipher_pin_block(&zc, PinBlockFormat::Iso0, &hx(*TDES_DUKPT_CLEAR_ISO0), None)
            .map_err(|e| fail(e.to_string()))?;
    let dukpt = DukptKat {
        bdk,
        key_type: KeyAlgorithm::Tdes2,
        format: PinBlockFormat::Iso0,
        pan: *TDES_DUKPT_PAN,
        vectors: &TDES_DUKPT_PIN,
    };
    dukpt.check(ctx, &zpk, &want).await
}

async fn kat_aes_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let bdk = ctx.published(Role::BdkAes).await?.id.clone();
    let (zpk, zc) = published_zpk(ctx).await?;
    let pin = Pin::new("1234").map_err(|e| fail(e.to_string()))?;
    let want = pinblock::encode_pin_block_with_fill(
        PinBlockFormat::Iso0,
        &pin,
        Some(*AES_DUKPT_PAN),
        &[0; 8],
    )
    .and_then(|c| pinblock::encipher_pin_block(&zc, PinBlockFormat::Iso0, c.as_bytes(), None))
    .map_err(|e| fail(e.to_string()))?;
    let dukpt = DukptKat {
        bdk,
        key_type: KeyAlgorithm::Aes128,
        format: PinBlockFormat::Iso4,
        pan: *AES_DUKPT_PAN,
        vectors: &AES_DUKPT_PIN,
    };
    dukpt.check(ctx, &zpk, &want).await
}

/// Published DUKPT PIN blocks (KSN, encrypted block) for one PAN, each of
/// which must translate to the same ISO 0 block under the zone key.
struct DukptKat {
    bdk: KeyId,
    key_type: KeyAlgorithm,
    format: PinBlockFormat,
    pan: &'static str,
    vectors: &'static [(&'static str, &'static str)],
}

impl DukptKat {
    async fn check(&self, ctx: &Ctx<'_>, zpk: &KeyId, want: &EncryptedPinBlock) -> Outcome {
        for (ksn, enc) in self.vectors {
            let ksn = Ksn::parse_hex(ksn).map_err(|e| fail(e.to_string()))?;
            let d = Dukpt {
                bdk: self.bdk.clone(),
                ksn,
                key_type: self.key_type,
            };
            let r = translate(
                ctx,
                PinKey::Dukpt(d),
                self.format,
                zpk,
                PinBlockFormat::Iso0,
                &pan(self.pan)?,
                block(&hx(enc))?,
            )
            .await
            .map_err(|e| op_failed(&format!("translate (KSN {ksn})"), &e))?;
            check_eq(
                &format!("pin block (KSN {ksn})"),
                r.pin_block.as_bytes(),
                want.as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// One random translation on the backend and the reference; the outputs
/// must carry the same PIN (and be identical for the deterministic format 0).
#[allow(clippy::too_many_arguments)]
async fn agree_one(
    ctx: &Ctx<'_>,
    rng: &mut rand::rngs::StdRng,
    incoming: PinKey,
    in_cipher: &BlockCipher,
    in_fmt: PinBlockFormat,
    out_role: Role,
    out_fmt: PinBlockFormat,
) -> Outcome {
    let out_clear = ctx.clear(out_role)?;
    let out_cipher = cipher(out_fmt == PinBlockFormat::Iso4, out_clear)?;
    let out_id = ctx.key(out_role)?.id.clone();
    let pan_s = random_pan(rng);
    let pan_v = pan(&pan_s)?;
    let pin = Pin::new(&random_pin(rng)).map_err(|e| fail(e.to_string()))?;
    let enc = pinblock::encrypt_pin_block(in_cipher, in_fmt, &pin, Some(&pan_s), rng)
        .map_err(|e| fail(e.to_string()))?;
    let what = format!(
        "format {} to {} ({out_role})",
        in_fmt.code(),
        out_fmt.code()
    );
    let got = translate(
        ctx,
        incoming.clone(),
        in_fmt,
        &out_id,
        out_fmt,
        &pan_v,
        enc.clone(),
    )
    .await
    .map_err(|e| op_failed(&what, &e))?;
    let reference = ctx
        .reference
        .translate_pin(TranslatePinRequest {
            incoming_key: incoming,
            incoming_format: in_fmt,
            outgoing_key: out_id,
            outgoing_format: out_fmt,
            pan: pan_v,
            pin_block: enc,
        })
        .await
        .map_err(|e| ref_failed(&what, &e))?;
    let decoded =
        pinblock::decrypt_pin_block(&out_cipher, out_fmt, got.pin_block.as_bytes(), Some(&pan_s))
            .map_err(|e| {
            fail(format!(
                "{what}: the backend's output block does not decode: {e}"
            ))
        })?;
    if decoded != pin {
        return Err(fail(format!(
            "{what}: the backend's output carries a different PIN"
        )));
    }
    if got.format != out_fmt {
        return Err(fail(format!(
            "{what}: response names format {}",
            got.format.code()
        )));
    }
    if out_fmt == PinBlockFormat::Iso0 {
        check_eq(
            &what,
            got.pin_block.as_bytes(),
            reference.pin_block.as_bytes(),
        )?;
    }
    Ok(())
}

async fn agree_tdes_zone(ctx: &Ctx<'_>) -> Outcome {
    let zc = cipher(false, ctx.clear(Role::Zpk)?)?;
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    ctx.clear(Role::Zpk2)?;
    let mut rng = ctx.rng();
    use PinBlockFormat::*;
    let pairs = [
        (Iso0, Iso0),
        (Iso0, Iso3),
        (Iso3, Iso0),
        (Iso3, Iso3),
        (Iso1, Iso0),
        (Iso1, Iso1),
    ];
    for i in 0..ctx.rounds.max(pairs.len()) {
        let (a, b) = pairs[i % pairs.len()];
        agree_one(
            ctx,
            &mut rng,
            PinKey::Key(zpk.clone()),
            &zc,
            a,
            Role::Zpk2,
            b,
        )
        .await?;
    }
    Ok(())
}

async fn agree_aes_zone(ctx: &Ctx<'_>) -> Outcome {
    let zc = cipher(false, ctx.clear(Role::Zpk)?)?;
    let ac = cipher(true, ctx.clear(Role::ZpkAes)?)?;
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let zpk_aes = ctx.key(Role::ZpkAes)?.id.clone();
    let mut rng = ctx.rng();
    use PinBlockFormat::*;
    for i in 0..ctx.rounds.max(3) {
        match i % 3 {
            0 => {
                agree_one(
                    ctx,
                    &mut rng,
                    PinKey::Key(zpk.clone()),
                    &zc,
                    Iso0,
                    Role::ZpkAes,
                    Iso4,
                )
                .await?
            }
            1 => {
                agree_one(
                    ctx,
                    &mut rng,
                    PinKey::Key(zpk_aes.clone()),
                    &ac,
                    Iso4,
                    Role::Zpk,
                    Iso0,
                )
                .await?
            }
            _ => {
                agree_one(
                    ctx,
                    &mut rng,
                    PinKey::Key(zpk_aes.clone()),
                    &ac,
                    Iso4,
                    Role::ZpkAes,
                    Iso4,
                )
                .await?
            }
        }
    }
    Ok(())
}

/// A random TDES transaction counter (at most 10 one-bits, non-zero).
pub(super) fn tdes_counter(rng: &mut impl Rng) -> u32 {
    loop {
        let c = rng.random_range(1..=0x1F_FFFFu32);
        if c.count_ones() <= 10 {
            return c;
        }
    }
}

async fn agree_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    let mut results = Vec::new();
    // TDES DUKPT, formats 0 and 3.
    let tdes = async {
        let bdk = ctx.clear(Role::Bdk)?;
        let bdk_id = ctx.key(Role::Bdk)?.id.clone();
        let base = Ksn::parse_hex("FFFF9876543210E00001").map_err(|e| fail(e.to_string()))?;
        for i in 0..ctx.rounds {
            let mut ksn_bytes = base.as_bytes().to_vec();
            for b in ksn_bytes.iter_mut().take(7) {
                *b = rng.random();
            }
            let ksn = Ksn::from_bytes(&ksn_bytes)
                .and_then(|k| k.with_counter(tdes_counter(&mut rng)))
                .map_err(|e| fail(e.to_string()))?;
            let key = dukpt::tdes_working_key(bdk, &ksn, TdesDukptUsage::Pin)
                .map_err(|e| fail(e.to_string()))?;
            let c = cipher(false, key.as_slice())?;
            let d = Dukpt {
                bdk: bdk_id.clone(),
                ksn,
                key_type: KeyAlgorithm::Tdes2,
            };
            let fmt = if i % 2 == 0 {
                PinBlockFormat::Iso0
            } else {
                PinBlockFormat::Iso3
            };
            agree_one(
                ctx,
                &mut rng,
                PinKey::Dukpt(d),
                &c,
                fmt,
                Role::Zpk,
                PinBlockFormat::Iso0,
            )
            .await?;
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(tdes);
    let mut rng = ctx.rng();
    let aes = async {
        let bdk = ctx.clear(Role::BdkAes)?;
        let bdk_id = ctx.key(Role::BdkAes)?.id.clone();
        for _ in 0..ctx.rounds {
            let mut b = [0u8; 12];
            rng.fill_bytes(&mut b[..8]);
            let counter = loop {
                let c: u32 = rng.random();
                if c != 0 && c.count_ones() <= 16 {
                    break c;
                }
            };
            b[8..].copy_from_slice(&counter.to_be_bytes());
            let ksn = Ksn::from_bytes(&b).map_err(|e| fail(e.to_string()))?;
            let key = dukpt::aes_working_key(
                bdk,
                &ksn,
                AesDukptUsage::PinEncryption,
                AesDukptKeyType::Aes128,
            )
            .map_err(|e| fail(e.to_string()))?;
            let c = cipher(true, key.as_bytes())?;
            let d = Dukpt {
                bdk: bdk_id.clone(),
                ksn,
                key_type: KeyAlgorithm::Aes128,
            };
            agree_one(
                ctx,
                &mut rng,
                PinKey::Dukpt(d),
                &c,
                PinBlockFormat::Iso4,
                Role::Zpk,
                PinBlockFormat::Iso0,
            )
            .await?;
        }
        Ok::<(), Stop>(())
    }
    .await;
    results.push(aes);
    super::combine(results)
}

/// A PIN block that decodes under `zpk` with its PAN: the published block
/// when the key is the published one, else one made from the clear key.
async fn valid_block(ctx: &Ctx<'_>) -> Result<(KeyId, EncryptedPinBlock, Pan), Stop> {
    if let Ok((id, _)) = published_zpk(ctx).await {
        return Ok((id, block(&hx(*JPOS_PIN_BLOCK))?, pan(*JPOS_PAN)?));
    }
    let c = cipher(false, ctx.clear(Role::Zpk)?)?;
    let pin = Pin::new("1234").map_err(|e| fail(e.to_string()))?;
    let enc = pinblock::encrypt_pin_block(
        &c,
        PinBlockFormat::Iso0,
        &pin,
        Some(*JPOS_PAN),
        &mut ctx.rng(),
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok((ctx.key(Role::Zpk)?.id.clone(), enc, pan(*JPOS_PAN)?))
}

const FORMAT_REFUSALS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::KeyUsage,
    ErrorKind::Unsupported,
];
const USAGE_REFUSALS: &[ErrorKind] = &[ErrorKind::KeyUsage, ErrorKind::InvalidInput];

async fn refuse_iso0_to_iso1(ctx: &Ctx<'_>) -> Outcome {
    let (zpk, b, p) = valid_block(ctx).await?;
    let r = translate(
        ctx,
        PinKey::Key(zpk.clone()),
        PinBlockFormat::Iso0,
        &zpk,
        PinBlockFormat::Iso1,
        &p,
        b,
    )
    .await;
    expect_refusal("ISO 0 to ISO 1", r, FORMAT_REFUSALS)
}

async fn refuse_into_iso2(ctx: &Ctx<'_>) -> Outcome {
    let (zpk, b, p) = valid_block(ctx).await?;
    let r = translate(
        ctx,
        PinKey::Key(zpk.clone()),
        PinBlockFormat::Iso0,
        &zpk,
        PinBlockFormat::Iso2,
        &p,
        b,
    )
    .await;
    expect_refusal("ISO 0 to ISO 2", r, FORMAT_REFUSALS)
}

async fn refuse_cvk_as_pin_key(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.key(Role::Cvk)?.id.clone();
    let (zpk, b, p) = valid_block(ctx).await?;
    let r = translate(
        ctx,
        PinKey::Key(cvk),
        PinBlockFormat::Iso0,
        &zpk,
        PinBlockFormat::Iso0,
        &p,
        b,
    )
    .await;
    expect_refusal("CVK as incoming PIN key", r, USAGE_REFUSALS)
}

async fn refuse_zpk_as_bdk(ctx: &Ctx<'_>) -> Outcome {
    let (zpk, b, p) = valid_block(ctx).await?;
    let ksn = Ksn::parse_hex(TDES_DUKPT_PIN[0].0).map_err(|e| fail(e.to_string()))?;
    let d = Dukpt {
        bdk: zpk.clone(),
        ksn,
        key_type: KeyAlgorithm::Tdes2,
    };
    let r = translate(
        ctx,
        PinKey::Dukpt(d),
        PinBlockFormat::Iso0,
        &zpk,
        PinBlockFormat::Iso0,
        &p,
        b,
    )
    .await;
    expect_refusal("zone PIN key as BDK", r, USAGE_REFUSALS)
}

async fn refuse_wrong_pan(ctx: &Ctx<'_>) -> Outcome {
    let (zpk, b, _) = valid_block(ctx).await?;
    // Differs from the block's PAN in the two digits that fall on fill nibbles.
    let wrong = pan("1234567890993")?;
    let r = translate(
        ctx,
        PinKey::Key(zpk.clone()),
        PinBlockFormat::Iso0,
        &zpk,
        PinBlockFormat::Iso0,
        &wrong,
        b,
    )
    .await;
    expect_refusal(
        "ISO 0 block with the wrong PAN",
        r,
        &[ErrorKind::InvalidInput],
    )
}

async fn refuse_short_iso4(ctx: &Ctx<'_>) -> Outcome {
    let aes = ctx.key(Role::ZpkAes)?.id.clone();
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let r = translate(
        ctx,
        PinKey::Key(aes),
        PinBlockFormat::Iso4,
        &zpk,
        PinBlockFormat::Iso0,
        &pan(*AES_DUKPT_PAN)?,
        block(&[0x11; 8])?,
    )
    .await;
    expect_refusal("8-byte ISO 4 block", r, &[ErrorKind::InvalidInput])
}

//! Issuer PIN data: refusals (key usage, malformed values).

use super::*;

pub(super) const USAGE_REFUSALS: &[ErrorKind] = &[ErrorKind::KeyUsage];
pub(super) const INPUT_REFUSALS: &[ErrorKind] = &[ErrorKind::InvalidInput];

pub(super) fn ibm_standard(card: &Pan) -> Result<Ibm3624, Stop> {
    Ok(Ibm3624 {
        decimalization_table: DecimalizationTable::new(DecimalizationTable::STANDARD)
            .map_err(stop)?,
        validation_data: PinValidationData::new(card.expose().get(..12).unwrap_or_default())
            .map_err(stop)?,
        pad: PadCharacter::F,
    })
}

/// A PIN block under the ZPK (its clear value or the published one).
pub(super) fn zpk_block(ctx: &Ctx<'_>, card: &Pan) -> Result<(KeyId, EncryptedPinBlock), Stop> {
    let c = tdes(ctx.clear(Role::Zpk)?)?;
    Ok((
        ctx.key(Role::Zpk)?.id.clone(),
        enc(&c, PinBlockFormat::Iso0, &pin("1234")?, card)?,
    ))
}

pub(super) async fn refuse_zpk_as_pvk(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn refuse_ibm_pvk_for_pvv(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn refuse_pvk_as_pek(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn refuse_pvk_as_cvk(ctx: &Ctx<'_>) -> Outcome {
    let pvk = ctx.key(Role::PvkVisa)?.id.clone();
    let r = ctx
        .backend
        .generate_card_validation(GenerateCardValidationRequest {
            key: pvk,
            pan: pan("4111111111111111")?,
            expiry: CardExpiry::new("2512").map_err(stop)?,
            kind: CardValidationKind::Cvv2,
            length: crate::types::CvvLength::THREE,
        })
        .await;
    expect_refusal("PVK as CVK", r, USAGE_REFUSALS)
}

pub(super) async fn refuse_iso2(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn refuse_block_length(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn refuse_pin_length(ctx: &Ctx<'_>) -> Outcome {
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

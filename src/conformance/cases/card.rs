//! Card validation values: Visa CVV / CVV2 / iCVV, Visa dynamic CVV,
//! Mastercard dynamic CVC3, and the kinds a backend does not declare.

use super::{case, combine, hx, pan, random_bytes, random_pan};
use crate::backend::BackendExt;
use crate::conformance::vectors::*;
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::{
    CardValidationKind, CardValidationType, GenerateCardValidationRequest,
    VerifyCardValidationRequest,
};
use crate::types::{CardExpiry, CvvLength, KeyId, Pan, Psn, ServiceCode, TrackData, Verification};
use rand::Rng;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            GenerateCardValidation,
            KnownAnswer,
            "Visa CVV test data",
            Some(*SRC_CVV),
            [],
            kat_generate
        ),
        case!(
            VerifyCardValidation,
            KnownAnswer,
            "Visa CVV test data, right and wrong values",
            Some(*SRC_CVV),
            [],
            kat_verify
        ),
        case!(
            GenerateCardValidation,
            KnownAnswer,
            "Visa dynamic CVV (jPOS), generated and verified",
            Some(*SRC_DCVV),
            [VerifyCardValidation],
            kat_dcvv
        ),
        case!(
            GenerateCardValidation,
            KnownAnswer,
            "Mastercard dynamic CVC3 (jPOS), 5 and 3 digits, generated and verified",
            Some(*SRC_CVC3),
            [VerifyCardValidation],
            kat_cvc3
        ),
        case!(
            VerifyCardValidation,
            KnownAnswer,
            "Visa dynamic CVV and Mastercard CVC3 (jPOS), right and wrong values verified",
            Some(*SRC_DCVV),
            [],
            kat_dynamic_verify
        ),
        case!(
            VerifyCardValidation,
            Agreement,
            "dynamic CVV and CVC3 of the reference verify on random cards, altered ones fail",
            None,
            [],
            agree_dynamic_verify
        ),
        case!(
            GenerateCardValidation,
            Agreement,
            "CVV, CVV2 and iCVV on random cards",
            None,
            [],
            agree
        ),
        case!(
            GenerateCardValidation,
            Agreement,
            "dynamic CVV and CVC3 on random cards, 3 to 5 digits",
            None,
            [],
            agree_dynamic
        ),
        case!(
            VerifyCardValidation,
            RoundTrip,
            "generated values verify, others fail",
            None,
            [GenerateCardValidation],
            round_trip
        ),
        case!(
            GenerateCardValidation,
            Refusal,
            "key usage: zone PIN key as CVK refused",
            None,
            [],
            refuse_usage
        ),
        case!(
            GenerateCardValidation,
            Refusal,
            "key usage: CVK (C0) for dynamic CVC3 and dCVV-key (E6) for CVC3 refused",
            None,
            [],
            refuse_dynamic_usage
        ),
        case!(
            VerifyCardValidation,
            Refusal,
            "bad input: 2-digit value refused",
            None,
            [],
            refuse_bad_value
        ),
        case!(
            GenerateCardValidation,
            Refusal,
            "undeclared card validation kinds return unsupported",
            None,
            [],
            undeclared_kinds
        ),
    ]
}

fn expiry(s: &str) -> Result<CardExpiry, Stop> {
    CardExpiry::new(s).map_err(|e| fail(e.to_string()))
}

fn kind_for(sc: &str) -> Result<CardValidationKind, Stop> {
    Ok(CardValidationKind::Cvv(
        ServiceCode::new(sc).map_err(|e| fail(e.to_string()))?,
    ))
}

fn psn(s: &str) -> Result<Psn, Stop> {
    Psn::new(s).map_err(|e| fail(e.to_string()))
}

fn length(n: usize) -> Result<CvvLength, Stop> {
    CvvLength::new(n as u8).map_err(|e| fail(e.to_string()))
}

async fn generate_n(
    ctx: &Ctx<'_>,
    key: &KeyId,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
    len: CvvLength,
) -> crate::Result<String> {
    ctx.backend
        .generate_card_validation(GenerateCardValidationRequest {
            key: key.clone(),
            pan: Pan::new(p)?,
            expiry: CardExpiry::new(exp)?,
            kind,
            length: len,
        })
        .await
        .map(|r| r.value.expose().to_owned())
}

async fn generate(
    ctx: &Ctx<'_>,
    key: &KeyId,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
) -> crate::Result<String> {
    generate_n(ctx, key, p, exp, kind, CvvLength::THREE).await
}

async fn verify(
    ctx: &Ctx<'_>,
    key: &KeyId,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
    value: &str,
) -> crate::Result<Verification> {
    ctx.backend
        .verify_card_validation(VerifyCardValidationRequest {
            key: key.clone(),
            pan: Pan::new(p)?,
            expiry: CardExpiry::new(exp)?,
            kind,
            value: crate::Cvv::new(value)?,
        })
        .await
        .map(|r| r.verification)
}

/// `v` with its last digit changed (same length).
fn altered(v: &str) -> String {
    let mut s = v.to_owned();
    if let Some(last) = s.pop() {
        let d = last.to_digit(10).unwrap_or(0);
        s.push(char::from(b'0' + ((d + 1) % 10) as u8));
    }
    s
}

/// Checks that `value` verifies and an altered one fails.
async fn verify_right_and_wrong(
    ctx: &Ctx<'_>,
    key: &KeyId,
    p: &str,
    exp: &str,
    kind: &CardValidationKind,
    value: &str,
) -> Outcome {
    let v = verify(ctx, key, p, exp, kind.clone(), value)
        .await
        .map_err(|e| op_failed("verify", &e))?;
    if v != Verification::Verified {
        return Err(fail(format!(
            "{:?}: a right {}-digit value did not verify",
            kind.kind_type(),
            value.len()
        )));
    }
    let wrong = altered(value);
    let v = verify(ctx, key, p, exp, kind.clone(), &wrong)
        .await
        .map_err(|e| op_failed("verify of a wrong value (must be Failed, not an error)", &e))?;
    if v != Verification::Failed {
        return Err(fail(format!(
            "{:?}: a wrong value verified",
            kind.kind_type()
        )));
    }
    Ok(())
}

async fn kat_generate(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.published(Role::Cvk).await?.id.clone();
    for (p, exp, sc, want) in CVV.iter() {
        let got = generate(ctx, &cvk, p, exp, kind_for(sc)?)
            .await
            .map_err(|e| op_failed("generate", &e))?;
        if got != *want {
            return Err(fail(format!(
                "service code {sc}, expiry {exp}: got {got}, expected {want}"
            )));
        }
    }
    Ok(())
}

async fn kat_verify(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.published(Role::Cvk).await?.id.clone();
    for (p, exp, sc, want) in CVV.iter() {
        verify_right_and_wrong(ctx, &cvk, p, exp, &kind_for(sc)?, want).await?;
    }
    Ok(())
}

async fn kat_dcvv(ctx: &Ctx<'_>) -> Outcome {
    let imk = ctx.published(Role::ImkDcvv).await?.id.clone();
    if DCVV.is_empty() {
        return Err(fail("no visa_dcvv vectors in the vector file"));
    }
    for v in DCVV.iter() {
        let kind = CardValidationKind::DynamicCvv {
            psn: psn(v.psn)?,
            service_code: ServiceCode::new(v.service_code).map_err(|e| fail(e.to_string()))?,
            atc: v.atc,
        };
        let got = generate(ctx, &imk, v.pan, v.expiry, kind.clone())
            .await
            .map_err(|e| op_failed("generate", &e))?;
        if got != v.dcvv {
            return Err(fail(format!(
                "dCVV for a {}-digit PAN: got {got}, expected {}",
                v.pan.len(),
                v.dcvv
            )));
        }
        verify_right_and_wrong(ctx, &imk, v.pan, v.expiry, &kind, v.dcvv).await?;
    }
    Ok(())
}

async fn kat_cvc3(ctx: &Ctx<'_>) -> Outcome {
    let imk = ctx.published(Role::ImkCvc3).await?.id.clone();
    if CVC3.is_empty() {
        return Err(fail(
            "no mastercard_dynamic_cvc3 vectors in the vector file",
        ));
    }
    for v in CVC3.iter() {
        let kind = CardValidationKind::DynamicCvc3 {
            unpredictable_number: v.un,
            psn: psn(v.psn)?,
            atc: v.atc,
            track_data: TrackData::new(&hx(v.track_data)).map_err(|e| fail(e.to_string()))?,
        };
        let got = generate_n(
            ctx,
            &imk,
            v.pan,
            "0000",
            kind.clone(),
            length(v.cvc3.len())?,
        )
        .await
        .map_err(|e| op_failed("generate", &e))?;
        if got != v.cvc3 {
            return Err(fail(format!(
                "{}-digit CVC3: got {got}, expected {}",
                v.cvc3.len(),
                v.cvc3
            )));
        }
        verify_right_and_wrong(ctx, &imk, v.pan, "0000", &kind, v.cvc3).await?;
    }
    Ok(())
}

/// The published dynamic CVV and CVC3 values (jPOS; CVC3 also pyemv)
/// verified right and wrong, with the value lengths the backend declares
/// (a payShield verifies 3-digit values only).
async fn kat_dynamic_verify(ctx: &Ctx<'_>) -> Outcome {
    let caps = ctx.backend.capabilities();
    let lengths = &caps.card_value_lengths;
    let mut ran = 0;
    if caps
        .card_validation_verify
        .contains(&CardValidationType::DynamicCvv)
    {
        let imk = ctx.published(Role::ImkDcvv).await?.id.clone();
        for v in DCVV.iter().filter(|v| lengths.contains(&v.dcvv.len())) {
            let kind = CardValidationKind::DynamicCvv {
                psn: psn(v.psn)?,
                service_code: ServiceCode::new(v.service_code).map_err(|e| fail(e.to_string()))?,
                atc: v.atc,
            };
            verify_right_and_wrong(ctx, &imk, v.pan, v.expiry, &kind, v.dcvv).await?;
            ran += 1;
        }
    }
    if caps
        .card_validation_verify
        .contains(&CardValidationType::DynamicCvc3)
    {
        let imk = ctx.published(Role::ImkCvc3).await?.id.clone();
        for v in CVC3.iter().filter(|v| lengths.contains(&v.cvc3.len())) {
            let kind = CardValidationKind::DynamicCvc3 {
                unpredictable_number: v.un,
                psn: psn(v.psn)?,
                atc: v.atc,
                track_data: TrackData::new(&hx(v.track_data)).map_err(|e| fail(e.to_string()))?,
            };
            verify_right_and_wrong(ctx, &imk, v.pan, "0000", &kind, v.cvc3).await?;
            ran += 1;
        }
    }
    if ran == 0 {
        return Err(Stop::Unsupported(
            "no dynamic CVV / CVC3 kind or value length of the published vectors is declared"
                .into(),
        ));
    }
    Ok(())
}

/// Random cards: the reference generates a dynamic CVV or CVC3 (of a
/// declared kind, length and PAN sequence number) and the backend must
/// verify it and fail an altered one.
async fn agree_dynamic_verify(ctx: &Ctx<'_>) -> Outcome {
    let caps = ctx.backend.capabilities();
    let lengths: Vec<usize> = (3..=5)
        .filter(|n| caps.card_value_lengths.contains(n))
        .collect();
    if lengths.is_empty() {
        return Err(Stop::Unsupported(
            "no card value length of 3 to 5 digits declared".into(),
        ));
    }
    let mut rng = ctx.rng();
    let mut parts = Vec::new();
    for _ in 0..ctx.rounds.max(2) * 2 {
        let p = random_pan(&mut rng);
        let exp = random_expiry(&mut rng);
        let mut kind = random_dynamic(&mut rng, &p, &exp)?;
        if !caps.card_validation_verify.contains(&kind.kind_type()) {
            continue;
        }
        if let CardValidationKind::DynamicCvv { psn: s, .. } = &mut kind {
            if caps.card_validation.dynamic_cvv_psn_zero {
                *s = psn("00")?;
            }
        }
        let len = length(lengths[rng.random_range(0..lengths.len())])?;
        parts.push(verify_reference_value(ctx, &p, &exp, kind, len).await);
    }
    if parts.is_empty() {
        return Err(Stop::Unsupported(
            "neither dynamic CVV nor CVC3 verification declared".into(),
        ));
    }
    combine(parts)
}

async fn verify_reference_value(
    ctx: &Ctx<'_>,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
    len: CvvLength,
) -> Outcome {
    let role = role_for(&kind);
    ctx.clear(role)?;
    let key = ctx.key(role)?.id.clone();
    let want = ctx
        .reference
        .generate_card_validation(GenerateCardValidationRequest {
            key: key.clone(),
            pan: pan(p)?,
            expiry: expiry(exp)?,
            kind: kind.clone(),
            length: len,
        })
        .await
        .map_err(|e| ref_failed("generate", &e))?
        .value
        .expose()
        .to_owned();
    verify_right_and_wrong(ctx, &key, p, exp, &kind, &want).await
}

fn random_expiry(rng: &mut impl Rng) -> String {
    format!(
        "{:02}{:02}",
        rng.random_range(20..60),
        rng.random_range(1..13)
    )
}

fn random_case(rng: &mut impl Rng) -> Result<(String, String, CardValidationKind), Stop> {
    let p = random_pan(rng);
    let exp = random_expiry(rng);
    let kind = match rng.random_range(0..3) {
        0 => kind_for(&format!("{:03}", rng.random_range(100..1000)))?,
        1 => CardValidationKind::Cvv2,
        _ => CardValidationKind::Icvv,
    };
    Ok((p, exp, kind))
}

/// A random dynamic CVV or CVC3 request's kind (with its PAN's track data).
fn random_dynamic(rng: &mut impl Rng, p: &str, exp: &str) -> Result<CardValidationKind, Stop> {
    let mut atc = [0u8; 2];
    rng.fill_bytes(&mut atc);
    let psn = psn(&format!("{:02}", rng.random_range(0..100)))?;
    Ok(if rng.random_bool(0.5) {
        CardValidationKind::DynamicCvv {
            psn,
            service_code: ServiceCode::new(&format!("{:03}", rng.random_range(100..1000)))
                .map_err(|e| fail(e.to_string()))?,
            atc,
        }
    } else {
        let mut un = [0u8; 4];
        rng.fill_bytes(&mut un);
        // Track 2 equivalent: PAN D YYMM service code, discretionary data, F pad.
        let mut track = format!("{p}D{exp}201");
        track.push_str(&hex::encode_upper(random_bytes(rng, 4)));
        if track.len() % 2 == 1 {
            track.push('F');
        }
        CardValidationKind::DynamicCvc3 {
            unpredictable_number: un,
            psn,
            atc,
            track_data: TrackData::new(&hx(&track)).map_err(|e| fail(e.to_string()))?,
        }
    })
}

fn role_for(kind: &CardValidationKind) -> Role {
    match kind {
        CardValidationKind::DynamicCvc3 { .. } => Role::ImkCvc3,
        CardValidationKind::DynamicCvv { .. } => Role::ImkDcvv,
        _ => Role::Cvk,
    }
}

/// Generates on the backend and on the reference; compares.
async fn agree_one(
    ctx: &Ctx<'_>,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
    len: CvvLength,
) -> Outcome {
    let role = role_for(&kind);
    ctx.clear(role)?;
    let key = ctx.key(role)?.id.clone();
    let got = generate_n(ctx, &key, p, exp, kind.clone(), len)
        .await
        .map_err(|e| op_failed("generate", &e))?;
    let want = ctx
        .reference
        .generate_card_validation(GenerateCardValidationRequest {
            key: key.clone(),
            pan: pan(p)?,
            expiry: expiry(exp)?,
            kind: kind.clone(),
            length: len,
        })
        .await
        .map_err(|e| ref_failed("generate", &e))?
        .value
        .expose()
        .to_owned();
    if got != want {
        return Err(fail(format!(
            "{:?}, {len} digits: got {got}, reference {want}",
            kind.kind_type()
        )));
    }
    Ok(())
}

async fn agree(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    for _ in 0..ctx.rounds {
        let (p, exp, kind) = random_case(&mut rng)?;
        agree_one(ctx, &p, &exp, kind, CvvLength::THREE).await?;
    }
    Ok(())
}

async fn agree_dynamic(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    let mut parts = Vec::new();
    for _ in 0..ctx.rounds.max(2) {
        let p = random_pan(&mut rng);
        let exp = random_expiry(&mut rng);
        let kind = random_dynamic(&mut rng, &p, &exp)?;
        let len = length(rng.random_range(3..=5))?;
        parts.push(agree_one(ctx, &p, &exp, kind, len).await);
    }
    combine(parts)
}

async fn round_trip(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.key(Role::Cvk)?.id.clone();
    let mut rng = ctx.rng();
    for _ in 0..ctx.rounds {
        let (p, exp, kind) = random_case(&mut rng)?;
        let v = generate(ctx, &cvk, &p, &exp, kind.clone())
            .await
            .map_err(|e| op_failed("generate", &e))?;
        if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(format!("generated value {v:?} is not 3 digits")));
        }
        verify_right_and_wrong(ctx, &cvk, &p, &exp, &kind, &v).await?;
    }
    Ok(())
}

async fn refuse_usage(ctx: &Ctx<'_>) -> Outcome {
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let r = generate(ctx, &zpk, "4123456789012", "8701", CardValidationKind::Cvv2).await;
    expect_refusal(
        "CVV with a PIN key",
        r,
        &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
    )
}

async fn refuse_dynamic_usage(ctx: &Ctx<'_>) -> Outcome {
    let mut rng = ctx.rng();
    let p = random_pan(&mut rng);
    let exp = random_expiry(&mut rng);
    let cvc3 = loop {
        let k = random_dynamic(&mut rng, &p, &exp)?;
        if matches!(k, CardValidationKind::DynamicCvc3 { .. }) {
            break k;
        }
    };
    let mut parts = Vec::new();
    for role in [Role::Cvk, Role::ImkDcvv] {
        let key = match ctx.key(role) {
            Ok(k) => k.id.clone(),
            Err(stop) => {
                parts.push(Err(stop));
                continue;
            }
        };
        let r = generate(ctx, &key, &p, &exp, cvc3.clone()).await;
        parts.push(expect_refusal(
            &format!("dynamic CVC3 with the `{role}` key"),
            r,
            &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
        ));
    }
    combine(parts)
}

async fn refuse_bad_value(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.key(Role::Cvk)?.id.clone();
    let r = verify(
        ctx,
        &cvk,
        "4123456789012",
        "8701",
        CardValidationKind::Cvv2,
        "12",
    )
    .await;
    expect_refusal("2-digit CVV2", r, &[ErrorKind::InvalidInput])
}

/// A kind of `t` with fixed well-formed parameters.
fn sample_kind(t: CardValidationType) -> Result<CardValidationKind, Stop> {
    let sc = ServiceCode::new("201").map_err(|e| fail(e.to_string()))?;
    let track = TrackData::new(&hx("4111111111111111D2512201")).map_err(|e| fail(e.to_string()))?;
    Ok(match t {
        CardValidationType::Cvv => CardValidationKind::Cvv(sc),
        CardValidationType::Cvv2 => CardValidationKind::Cvv2,
        CardValidationType::Icvv => CardValidationKind::Icvv,
        CardValidationType::AmexCscV1 => CardValidationKind::AmexCscV1,
        CardValidationType::AmexCscV2 => CardValidationKind::AmexCscV2(sc),
        CardValidationType::CardholderVerificationValue => {
            CardValidationKind::CardholderVerificationValue {
                unpredictable_number: [0x12, 0x34, 0x56, 0x78],
                psn: psn("01")?,
                atc: [0x00, 0x42],
            }
        }
        CardValidationType::DynamicCvc3 => CardValidationKind::DynamicCvc3 {
            unpredictable_number: [0x12, 0x34, 0x56, 0x78],
            psn: psn("01")?,
            atc: [0x00, 0x42],
            track_data: track,
        },
        CardValidationType::DynamicCvv => CardValidationKind::DynamicCvv {
            psn: psn("01")?,
            service_code: sc,
            atc: [0x00, 0x42],
        },
        CardValidationType::DiscoverDynamicCvc => CardValidationKind::DiscoverDynamicCvc {
            unpredictable_number: [0x12, 0x34, 0x56, 0x78],
            atc: [0x00, 0x42],
        },
    })
}

/// Every kind the backend does not declare (for generation or for
/// verification) is answered Unsupported — sent to the backend itself,
/// naming a key that need not exist, so no other refusal may come first.
async fn undeclared_kinds(ctx: &Ctx<'_>) -> Outcome {
    let caps = ctx.raw.capabilities();
    let key = KeyId::new("paycrypto-conformance/undeclared").map_err(|e| fail(e.to_string()))?;
    let card = pan("4111111111111111")?;
    let exp = expiry("2512")?;
    let mut checked = 0;
    for t in CardValidationType::ALL {
        for generate in [true, false] {
            let declared = if generate {
                caps.card_validation_generate.contains(&t)
            } else {
                caps.card_validation_verify.contains(&t)
            };
            if declared {
                continue;
            }
            checked += 1;
            let kind = sample_kind(t)?;
            let r = if generate {
                ctx.raw
                    .generate_card_validation(GenerateCardValidationRequest {
                        key: key.clone(),
                        pan: card.clone(),
                        expiry: exp,
                        kind,
                        length: CvvLength::THREE,
                    })
                    .await
                    .map(|_| ())
            } else {
                ctx.raw
                    .verify_card_validation(VerifyCardValidationRequest {
                        key: key.clone(),
                        pan: card.clone(),
                        expiry: exp,
                        kind,
                        value: crate::Cvv::new("123").map_err(|e| fail(e.to_string()))?,
                    })
                    .await
                    .map(|_| ())
            };
            let what = if generate {
                "generation"
            } else {
                "verification"
            };
            match r {
                Ok(()) => {
                    return Err(fail(format!(
                        "{t:?} {what} is not declared, but the backend answered it"
                    )))
                }
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) => {
                    return Err(fail(format!(
                        "{t:?} {what} is not declared: expected unsupported, got {} ({e})",
                        e.kind()
                    )))
                }
            }
        }
    }
    if checked == 0 {
        return Err(Stop::Skip(
            "the backend declares every card validation kind".into(),
        ));
    }
    Ok(())
}

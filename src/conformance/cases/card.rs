//! Card validation values (Visa CVV / CVV2 / iCVV).

use super::{case, pan, random_pan};
use crate::backend::BackendExt;
use crate::conformance::vectors::*;
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::{CardValidationKind, GenerateCardValidationRequest, VerifyCardValidationRequest};
use crate::types::{CardExpiry, KeyId, Pan, ServiceCode, Verification};
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
            Agreement,
            "CVV, CVV2 and iCVV on random cards",
            None,
            [],
            agree
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
            VerifyCardValidation,
            Refusal,
            "bad input: 2-digit value refused",
            None,
            [],
            refuse_bad_value
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

async fn generate(
    ctx: &Ctx<'_>,
    key: &KeyId,
    p: &str,
    exp: &str,
    kind: CardValidationKind,
) -> crate::Result<String> {
    ctx.backend
        .generate_card_validation(GenerateCardValidationRequest {
            key: key.clone(),
            pan: Pan::new(p)?,
            expiry: CardExpiry::new(exp)?,
            kind,
        })
        .await
        .map(|r| r.value.expose().to_owned())
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
        let v = verify(ctx, &cvk, p, exp, kind_for(sc)?, want)
            .await
            .map_err(|e| op_failed("verify", &e))?;
        if v != Verification::Verified {
            return Err(fail(format!("published value {want} did not verify")));
        }
        let wrong = format!("{:03}", (want.parse::<u16>().unwrap_or(0) + 1) % 1000);
        let v = verify(ctx, &cvk, p, exp, kind_for(sc)?, &wrong)
            .await
            .map_err(|e| op_failed("verify of a wrong value (must be Failed, not an error)", &e))?;
        if v != Verification::Failed {
            return Err(fail(format!("wrong value {wrong} verified")));
        }
    }
    Ok(())
}

fn random_case(rng: &mut impl Rng) -> Result<(String, String, CardValidationKind), Stop> {
    let p = random_pan(rng);
    let exp = format!(
        "{:02}{:02}",
        rng.random_range(20..60),
        rng.random_range(1..13)
    );
    let kind = match rng.random_range(0..3) {
        0 => kind_for(&format!("{:03}", rng.random_range(100..1000)))?,
        1 => CardValidationKind::Cvv2,
        _ => CardValidationKind::Icvv,
    };
    Ok((p, exp, kind))
}

async fn agree(ctx: &Ctx<'_>) -> Outcome {
    ctx.clear(Role::Cvk)?;
    let cvk = ctx.key(Role::Cvk)?.id.clone();
    let mut rng = ctx.rng();
    for _ in 0..ctx.rounds {
        let (p, exp, kind) = random_case(&mut rng)?;
        let got = generate(ctx, &cvk, &p, &exp, kind)
            .await
            .map_err(|e| op_failed("generate", &e))?;
        let want = ctx
            .reference
            .generate_card_validation(GenerateCardValidationRequest {
                key: cvk.clone(),
                pan: pan(&p)?,
                expiry: expiry(&exp)?,
                kind,
            })
            .await
            .map_err(|e| ref_failed("generate", &e))?
            .value
            .expose()
            .to_owned();
        if got != want {
            return Err(fail(format!(
                "{kind:?}, expiry {exp}: got {got}, reference {want}"
            )));
        }
    }
    Ok(())
}

async fn round_trip(ctx: &Ctx<'_>) -> Outcome {
    let cvk = ctx.key(Role::Cvk)?.id.clone();
    let mut rng = ctx.rng();
    for _ in 0..ctx.rounds {
        let (p, exp, kind) = random_case(&mut rng)?;
        let v = generate(ctx, &cvk, &p, &exp, kind)
            .await
            .map_err(|e| op_failed("generate", &e))?;
        if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(format!("generated value {v:?} is not 3 digits")));
        }
        let ok = verify(ctx, &cvk, &p, &exp, kind, &v)
            .await
            .map_err(|e| op_failed("verify", &e))?;
        if ok != Verification::Verified {
            return Err(fail("a generated value did not verify"));
        }
        let wrong = format!("{:03}", (v.parse::<u16>().unwrap_or(0) + 1) % 1000);
        let bad = verify(ctx, &cvk, &p, &exp, kind, &wrong)
            .await
            .map_err(|e| op_failed("verify of a wrong value (must be Failed, not an error)", &e))?;
        if bad != Verification::Failed {
            return Err(fail("a wrong value verified"));
        }
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

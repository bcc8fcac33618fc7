//! Issuer PIN data: published known answers (psec IBM 3624 and Visa PVV vectors, X9.24 DUKPT PIN blocks).

use super::*;

pub(super) async fn kat_ibm_pins(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn kat_ibm_offsets(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn kat_pvvs(ctx: &Ctx<'_>) -> Outcome {
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

pub(super) async fn kat_verify(ctx: &Ctx<'_>) -> Outcome {
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
pub(super) async fn kat_dukpt(ctx: &Ctx<'_>) -> Outcome {
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
                    EncryptedPinBlock::from_bytes(&super::super::hx(b)).map_err(stop)?,
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
                EncryptedPinBlock::from_bytes(&super::super::hx(b)).map_err(stop)?,
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

//! Issuer PIN data: agreement with the software reference and round trips.

use super::*;

/// A PIN encryption key for `format`: the AES zone key for ISO 4, else the
/// TDES one; its name and cipher.
pub(super) fn pek(ctx: &Ctx<'_>, format: PinBlockFormat) -> Result<(KeyId, BlockCipher), Stop> {
    if format == PinBlockFormat::Iso4 {
        Ok((
            ctx.key(Role::ZpkAes)?.id.clone(),
            aes(ctx.clear(Role::ZpkAes)?)?,
        ))
    } else {
        Ok((ctx.key(Role::Zpk)?.id.clone(), tdes(ctx.clear(Role::Zpk)?)?))
    }
}

pub(super) async fn agree_generate(ctx: &Ctx<'_>) -> Outcome {
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
            let ibm = random_ibm(&mut rng, card.expose(), ctx.backend.capabilities().pin_data)?;
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
pub(super) fn round_key(
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

pub(super) async fn agree_verify(ctx: &Ctx<'_>) -> Outcome {
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
                let ibm = random_ibm(&mut rng, card.expose(), ctx.backend.capabilities().pin_data)?;
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

pub(super) async fn round_trip(ctx: &Ctx<'_>) -> Outcome {
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
                let ibm = random_ibm(&mut rng, card.expose(), ctx.backend.capabilities().pin_data)?;
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

//! Data encryption and decryption (static keys and DUKPT / P2PE).

use super::{case, check_eq, combine, hx, random_bytes};
use crate::backend::BackendExt;
use crate::conformance::vectors::*;
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::{
    CipherMode, DataKey, DecryptDataRequest, Dukpt, DukptVariant, EncryptDataRequest,
    ReEncryptDataRequest,
};
use crate::types::{KeyAlgorithm, SecretBytes};
use crate::Ksn;
use rand::Rng;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            DecryptData,
            KnownAnswer,
            "TDES DUKPT request data key, CBC (P2PE)",
            Some(*SRC_X924_1),
            [],
            kat_dukpt
        ),
        case!(
            EncryptData,
            Agreement,
            "TDES and AES data keys, ECB and CBC",
            None,
            [],
            agree
        ),
        case!(
            DecryptData,
            RoundTrip,
            "encrypt then decrypt gives the plaintext",
            None,
            [EncryptData],
            round_trip
        ),
        case!(
            EncryptData,
            Refusal,
            "key usage: PIN key for data refused",
            None,
            [],
            refuse_usage
        ),
        case!(
            DecryptData,
            Refusal,
            "key usage: zone key as DUKPT BDK refused",
            None,
            [],
            refuse_zpk_as_bdk
        ),
        case!(
            EncryptData,
            Refusal,
            "bad input: partial block refused",
            None,
            [],
            refuse_partial_block
        ),
        case!(
            ReEncryptData,
            KnownAnswer,
            "P2PE: published TDES DUKPT ciphertext re-encrypted to a data key decrypts to the published plaintext",
            Some(*SRC_X924_1),
            [DecryptData],
            kat_re_encrypt_dukpt
        ),
        case!(
            ReEncryptData,
            Agreement,
            "TDES and AES data keys both ways, ECB and CBC",
            None,
            [],
            agree_re_encrypt
        ),
        case!(
            ReEncryptData,
            Refusal,
            "key usage: PIN key as the outgoing key refused",
            None,
            [],
            refuse_re_encrypt_to_pin_key
        ),
    ]
}

async fn kat_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let bdk = ctx.published(Role::Bdk).await?.id.clone();
    for (ksn, ct) in TDES_DUKPT_DATA.iter() {
        let ksn = Ksn::parse_hex(ksn).map_err(|e| fail(e.to_string()))?;
        let r = ctx
            .backend
            .decrypt_data(DecryptDataRequest {
                key: DataKey::Dukpt {
                    dukpt: Dukpt {
                        bdk: bdk.clone(),
                        ksn,
                        key_type: KeyAlgorithm::Tdes2,
                    },
                    variant: DukptVariant::Request,
                },
                mode: CipherMode::Cbc { iv: vec![0; 8] },
                ciphertext: hx(ct),
            })
            .await
            .map_err(|e| op_failed(&format!("decrypt (KSN {ksn})"), &e))?;
        // The plaintext is published test data, so it may be shown.
        check_eq(
            &format!("plaintext (KSN {ksn})"),
            r.plaintext.expose(),
            &hx(*TDES_DUKPT_DATA_PLAIN),
        )?;
    }
    Ok(())
}

const DATA_ROLES: &[(Role, usize)] = &[(Role::Dek, 8), (Role::DekAes, 16)];

fn mode(rng: &mut impl Rng, block: usize) -> CipherMode {
    if rng.random() {
        CipherMode::Ecb
    } else {
        CipherMode::Cbc {
            iv: random_bytes(rng, block),
        }
    }
}

async fn agree(ctx: &Ctx<'_>) -> Outcome {
    let mut results = Vec::new();
    for (role, block) in DATA_ROLES {
        let r = async {
            ctx.clear(*role)?;
            let k = ctx.key(*role)?.id.clone();
            let mut rng = ctx.rng();
            for _ in 0..ctx.rounds {
                let n = block * rng.random_range(1..6);
                let plain = random_bytes(&mut rng, n);
                let m = mode(&mut rng, *block);
                let req = EncryptDataRequest {
                    key: DataKey::Key(k.clone()),
                    mode: m,
                    plaintext: SecretBytes::new(plain),
                };
                let what = format!("{role}, {n} bytes");
                let got = ctx
                    .backend
                    .encrypt_data(req.clone())
                    .await
                    .map_err(|e| op_failed(&what, &e))?;
                let want = ctx
                    .reference
                    .encrypt_data(req)
                    .await
                    .map_err(|e| ref_failed(&what, &e))?;
                check_eq(&what, &got.ciphertext, &want.ciphertext)?;
            }
            Ok::<(), Stop>(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

async fn round_trip(ctx: &Ctx<'_>) -> Outcome {
    let mut results = Vec::new();
    for (role, block) in DATA_ROLES {
        let r = async {
            let k = ctx.key(*role)?.id.clone();
            let mut rng = ctx.rng();
            for _ in 0..ctx.rounds {
                let n = block * rng.random_range(1..6);
                let plain = SecretBytes::new(random_bytes(&mut rng, n));
                let m = mode(&mut rng, *block);
                let what = format!("{role}, {n} bytes");
                let ct = ctx
                    .backend
                    .encrypt_data(EncryptDataRequest {
                        key: DataKey::Key(k.clone()),
                        mode: m.clone(),
                        plaintext: plain.clone(),
                    })
                    .await
                    .map_err(|e| op_failed(&what, &e))?
                    .ciphertext;
                let back = ctx
                    .backend
                    .decrypt_data(DecryptDataRequest {
                        key: DataKey::Key(k.clone()),
                        mode: m,
                        ciphertext: ct,
                    })
                    .await
                    .map_err(|e| op_failed(&format!("{what}: decrypt"), &e))?
                    .plaintext;
                if back != plain {
                    return Err(fail(format!(
                        "{what}: decrypt did not give the plaintext back"
                    )));
                }
            }
            Ok::<(), Stop>(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

async fn refuse_usage(ctx: &Ctx<'_>) -> Outcome {
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let r = ctx
        .backend
        .encrypt_data(EncryptDataRequest {
            key: DataKey::Key(zpk),
            mode: CipherMode::Ecb,
            plaintext: SecretBytes::new(vec![0; 8]),
        })
        .await;
    expect_refusal(
        "data encryption with a PIN key",
        r,
        &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
    )
}

async fn refuse_zpk_as_bdk(ctx: &Ctx<'_>) -> Outcome {
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let ksn = Ksn::parse_hex(TDES_DUKPT_DATA[0].0).map_err(|e| fail(e.to_string()))?;
    let r = ctx
        .backend
        .decrypt_data(DecryptDataRequest {
            key: DataKey::Dukpt {
                dukpt: Dukpt {
                    bdk: zpk,
                    ksn,
                    key_type: KeyAlgorithm::Tdes2,
                },
                variant: DukptVariant::Request,
            },
            mode: CipherMode::Ecb,
            ciphertext: vec![0; 8],
        })
        .await;
    expect_refusal(
        "DUKPT with a PIN key as BDK",
        r,
        &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
    )
}

/// The published X9.24-1 request-data ciphertexts (TDES DUKPT, CBC with a
/// zero IV) re-encrypted to the TDES data key (ECB): decrypting the result under
/// that key must give the published plaintext. The expected value is the
/// published one; the re-encryption itself has no published vector.
async fn kat_re_encrypt_dukpt(ctx: &Ctx<'_>) -> Outcome {
    let bdk = ctx.published(Role::Bdk).await?.id.clone();
    let dek = ctx.key(Role::Dek)?.id.clone();
    let plain = hx(*TDES_DUKPT_DATA_PLAIN);
    for (ksn, ct) in TDES_DUKPT_DATA.iter() {
        let ksn = Ksn::parse_hex(ksn).map_err(|e| fail(e.to_string()))?;
        let what = format!("re-encrypt (KSN {ksn})");
        let r = ctx
            .backend
            .re_encrypt_data(ReEncryptDataRequest {
                incoming_key: DataKey::Dukpt {
                    dukpt: Dukpt {
                        bdk: bdk.clone(),
                        ksn,
                        key_type: KeyAlgorithm::Tdes2,
                    },
                    variant: DukptVariant::Request,
                },
                incoming_mode: CipherMode::Cbc { iv: vec![0; 8] },
                outgoing_key: DataKey::Key(dek.clone()),
                outgoing_mode: CipherMode::Ecb,
                ciphertext: hx(ct),
            })
            .await
            .map_err(|e| op_failed(&what, &e))?;
        let back = ctx
            .backend
            .decrypt_data(DecryptDataRequest {
                key: DataKey::Key(dek.clone()),
                mode: CipherMode::Ecb,
                ciphertext: r.ciphertext,
            })
            .await
            .map_err(|e| op_failed(&format!("{what}: decrypt"), &e))?;
        check_eq(
            &format!("{what}: plaintext"),
            back.plaintext.expose(),
            &plain,
        )?;
    }
    Ok(())
}

async fn agree_re_encrypt(ctx: &Ctx<'_>) -> Outcome {
    let mut results = Vec::new();
    for (from, to) in [
        (Role::Dek, Role::DekAes),
        (Role::DekAes, Role::Dek),
        (Role::DekAes, Role::DekAes),
    ] {
        let r = async {
            ctx.clear(from)?;
            ctx.clear(to)?;
            let (kin, kout) = (ctx.key(from)?.id.clone(), ctx.key(to)?.id.clone());
            let block = |r: Role| if r == Role::Dek { 8 } else { 16 };
            let mut rng = ctx.rng();
            for _ in 0..ctx.rounds {
                // Whole blocks of both ciphers: the plaintext keeps its length.
                let n = 16 * rng.random_range(1..4);
                let req = ReEncryptDataRequest {
                    incoming_key: DataKey::Key(kin.clone()),
                    incoming_mode: mode(&mut rng, block(from)),
                    outgoing_key: DataKey::Key(kout.clone()),
                    outgoing_mode: mode(&mut rng, block(to)),
                    ciphertext: random_bytes(&mut rng, n),
                };
                let what = format!("{from} to {to}, {n} bytes");
                let got = ctx
                    .backend
                    .re_encrypt_data(req.clone())
                    .await
                    .map_err(|e| op_failed(&what, &e))?;
                let want = ctx
                    .reference
                    .re_encrypt_data(req)
                    .await
                    .map_err(|e| ref_failed(&what, &e))?;
                check_eq(&what, &got.ciphertext, &want.ciphertext)?;
            }
            Ok::<(), Stop>(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

async fn refuse_re_encrypt_to_pin_key(ctx: &Ctx<'_>) -> Outcome {
    let dek = ctx.key(Role::Dek)?.id.clone();
    let zpk = ctx.key(Role::Zpk)?.id.clone();
    let r = ctx
        .backend
        .re_encrypt_data(ReEncryptDataRequest {
            incoming_key: DataKey::Key(dek),
            incoming_mode: CipherMode::Ecb,
            outgoing_key: DataKey::Key(zpk),
            outgoing_mode: CipherMode::Ecb,
            ciphertext: vec![0; 8],
        })
        .await;
    expect_refusal(
        "re-encryption to a PIN key",
        r,
        &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
    )
}

async fn refuse_partial_block(ctx: &Ctx<'_>) -> Outcome {
    let k = ctx.key(Role::Dek)?.id.clone();
    let r = ctx
        .backend
        .encrypt_data(EncryptDataRequest {
            key: DataKey::Key(k),
            mode: CipherMode::Ecb,
            plaintext: SecretBytes::new(vec![0; 7]),
        })
        .await;
    expect_refusal("7-byte plaintext", r, &[ErrorKind::InvalidInput])
}

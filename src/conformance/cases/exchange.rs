//! Asymmetric keys and key exchange between the backend and the software
//! reference: public key certificates, TR-34 and ECDH in both directions
//! (each side's key pairs are certified by its own certificate authority,
//! whose certificate the other side imports as a root), and their
//! refusals.

use super::{case, combine};
use crate::backend::{Backend, BackendExt};
use crate::conformance::{
    expect_refusal, fail, op_failed, ref_failed, Case, Ctx, Outcome, Role, Stop,
};
use crate::error::ErrorKind;
use crate::ops::*;
use crate::types::{KeyAlgorithm, KeyAttributes, KeyClass, KeyId, KeyUsage, ModesOfUse};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            GetPublicKeyCertificate,
            RoundTrip,
            "a generated key pair has a certificate and a chain; a symmetric key has none",
            None,
            [GenerateKey, GetKeyInfo, DeleteKey],
            certificate_round_trip
        ),
        case!(
            ExportKey,
            Agreement,
            "TR-34: keys move to the reference and back (two-pass TDES, one-pass AES) with equal KCVs",
            None,
            [ImportKey, GenerateKey, GetPublicKeyCertificate, DeleteKey],
            tr34_agreement
        ),
        case!(
            ImportKey,
            Refusal,
            "TR-34: a flipped signature bit, a wrong nonce and a signing key as KRD refused",
            None,
            [ExportKey, GenerateKey, GetPublicKeyCertificate, DeleteKey],
            tr34_refusals
        ),
        case!(
            ExportKey,
            Agreement,
            "ECDH: keys move to the reference and back (SP 800-56C / SHA-256 to AES, X9.63 / SHA-512 to TDES)",
            None,
            [ImportKey, GenerateKey, GetPublicKeyCertificate, DeleteKey],
            ecdh_agreement
        ),
        case!(
            ImportKey,
            Refusal,
            "ECDH: other shared information and a signature key pair as private key refused",
            None,
            [ExportKey, GenerateKey, GetPublicKeyCertificate, DeleteKey],
            ecdh_refusals
        ),
    ]
}

/// One side of an exchange: a backend and the keys made on it for a case.
struct Side<'a> {
    backend: &'a dyn Backend,
    what: &'static str,
    made: Vec<KeyId>,
}

impl Side<'_> {
    fn err(&self, what: &str, e: &crate::Error) -> Stop {
        if self.what == "reference" {
            ref_failed(what, e)
        } else {
            op_failed(what, e)
        }
    }

    async fn generate(
        &mut self,
        id: KeyId,
        usage: KeyUsage,
        algorithm: KeyAlgorithm,
        modes: ModesOfUse,
    ) -> Result<KeyInfo, Stop> {
        let info = self
            .backend
            .generate_key(GenerateKeyRequest {
                key_id: id.clone(),
                attributes: KeyAttributes::new(usage, algorithm, modes),
            })
            .await
            .map_err(|e| self.err(&format!("generate {id}"), &e))?;
        self.made.push(id);
        Ok(info)
    }

    async fn certificate(&self, id: &KeyId) -> Result<PublicKeyCertificate, Stop> {
        self.backend
            .get_public_key_certificate(GetPublicKeyCertificateRequest { key: id.clone() })
            .await
            .map_err(|e| self.err(&format!("certificate of {id}"), &e))
    }

    async fn import(&mut self, id: KeyId, material: KeyMaterial) -> crate::Result<KeyInfo> {
        let r = self
            .backend
            .import_key(ImportKeyRequest {
                key_id: id.clone(),
                material,
                expected_kcv: None,
            })
            .await;
        if r.is_ok() {
            self.made.push(id);
        }
        r
    }

    /// Imports `chain`'s first certificate (the other side's CA) as a root.
    async fn import_root(&mut self, id: KeyId, chain: &[Certificate]) -> Result<KeyId, Stop> {
        let ca = chain
            .first()
            .ok_or_else(|| fail("a key pair's certificate came without a chain"))?;
        let attributes = KeyAttributes::new(
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::EccP256,
            ModesOfUse::VERIFY,
        );
        let r = self
            .import(
                id.clone(),
                KeyMaterial::RootCertificate {
                    attributes,
                    certificate: ca.clone(),
                },
            )
            .await;
        match r {
            Ok(_) => Ok(id),
            // Another backend's CA may use another curve or RSA: name it.
            Err(e) => Err(self.err("import of the other side's CA as a root (P-256)", &e)),
        }
    }

    async fn clean(self) {
        for id in self.made.into_iter().rev() {
            let _ = self.backend.delete_key(DeleteKeyRequest { key: id }).await;
        }
    }
}

/// The backend and the reference as two sides, the backend's keys under
/// the case's scratch names, the reference's under `ref/<tag>/`.
fn sides<'a>(ctx: &'a Ctx<'_>) -> (Side<'a>, Side<'a>) {
    (
        Side {
            backend: ctx.backend,
            what: "backend",
            made: Vec::new(),
        },
        Side {
            backend: ctx.reference,
            what: "reference",
            made: Vec::new(),
        },
    )
}

/// The sending and the receiving side: from the backend (`from` 0) or from
/// the reference (1).
fn direction<'s, 'a>(
    b: &'s mut Side<'a>,
    r: &'s mut Side<'a>,
    from: usize,
) -> (&'s mut Side<'a>, &'s mut Side<'a>) {
    if from == 0 {
        (b, r)
    } else {
        (r, b)
    }
}

/// A key sent from `src` arrived at `dst` with the same KCV.
fn same_kcv(
    what: &str,
    (src, dst): (&Side<'_>, &Side<'_>),
    sent: &KeyInfo,
    got: &KeyInfo,
) -> Outcome {
    if got.key_check_value == sent.key_check_value {
        Ok(())
    } else {
        Err(fail(format!(
            "{what} from the {} to the {}: KCV {} sent, {} received",
            src.what, dst.what, sent.key_check_value, got.key_check_value
        )))
    }
}

fn ref_id(tag: &str, name: &str) -> Result<KeyId, Stop> {
    KeyId::new(format!("conformance-ref/{tag}/{name}")).map_err(|e| fail(e.to_string()))
}

async fn certificate_round_trip(ctx: &Ctx<'_>) -> Outcome {
    let (mut b, _) = sides(ctx);
    let r = async {
        let id = ctx.scratch("pair-s0")?;
        let info = b
            .generate(
                id.clone(),
                KeyUsage::AsymmetricSignature,
                KeyAlgorithm::Rsa2048,
                ModesOfUse::SIGN_VERIFY,
            )
            .await?;
        if info.key_class != KeyClass::AsymmetricKeyPair {
            return Err(fail(format!("generated key class {:?}", info.key_class)));
        }
        let described = ctx
            .backend
            .get_key_info(GetKeyInfoRequest { key: id.clone() })
            .await
            .map_err(|e| op_failed("describe", &e))?;
        if described != info {
            return Err(fail("describe gives other key info than generate"));
        }
        let cert = b.certificate(&id).await?;
        if cert.key != id || cert.chain.is_empty() || cert.certificate.der().is_empty() {
            return Err(fail(
                "a key pair's certificate must name it and come with a chain",
            ));
        }
        let symmetric = ctx.key(Role::Kek)?.id.clone();
        let r = ctx
            .backend
            .get_public_key_certificate(GetPublicKeyCertificateRequest { key: symmetric })
            .await;
        expect_refusal(
            "the certificate of a symmetric key",
            r,
            &[ErrorKind::InvalidInput, ErrorKind::KeyUsage],
        )
    }
    .await;
    b.clean().await;
    r
}

/// Key pairs and roots for TR-34 on both sides: each has a KDH (RSA, S0)
/// and a KRD (RSA, D1) key pair; each imports the other's CA.
struct Tr34Parties {
    kdh: [(KeyId, Certificate); 2],
    krd: [(KeyId, Certificate); 2],
    root_of_other: [KeyId; 2],
}

async fn tr34_parties(
    ctx: &Ctx<'_>,
    sides: &mut [&mut Side<'_>; 2],
    tag: &str,
) -> Result<Tr34Parties, Stop> {
    let mut kdh = Vec::new();
    let mut krd = Vec::new();
    let mut chains = Vec::new();
    for (i, side) in sides.iter_mut().enumerate() {
        let name = |n: &str| {
            if i == 0 {
                ctx.scratch(&format!("{tag}-{n}"))
            } else {
                ref_id(tag, n)
            }
        };
        let (s, d) = (name("kdh")?, name("krd")?);
        side.generate(
            s.clone(),
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::Rsa2048,
            ModesOfUse::SIGN_VERIFY,
        )
        .await?;
        side.generate(
            d.clone(),
            KeyUsage::AsymmetricDataEncryption,
            KeyAlgorithm::Rsa2048,
            ModesOfUse::BOTH,
        )
        .await?;
        let sc = side.certificate(&s).await?;
        let dc = side.certificate(&d).await?;
        chains.push(sc.chain.clone());
        kdh.push((s, sc.certificate));
        krd.push((d, dc.certificate));
    }
    let mut roots = Vec::new();
    for (i, side) in sides.iter_mut().enumerate() {
        let id = if i == 0 {
            ctx.scratch(&format!("{tag}-root"))?
        } else {
            ref_id(tag, "root")?
        };
        roots.push(side.import_root(id, &chains[1 - i]).await?);
    }
    let two = |v: Vec<(KeyId, Certificate)>| -> Result<[(KeyId, Certificate); 2], Stop> {
        v.try_into().map_err(|_| fail("two sides"))
    };
    Ok(Tr34Parties {
        kdh: two(kdh)?,
        krd: two(krd)?,
        root_of_other: roots.try_into().map_err(|_| fail("two sides"))?,
    })
}

/// A TR-34 export from side `from` to side `to` of `key`.
fn tr34_export(
    p: &Tr34Parties,
    from: usize,
    to: usize,
    key: KeyId,
    nonce: Option<Vec<u8>>,
) -> ExportKeyRequest {
    ExportKeyRequest {
        key,
        method: ExportMethod::Tr34(Tr34Export {
            certificate_authority: p.root_of_other[from].clone(),
            krd_certificate: p.krd[to].1.clone(),
            kdh: Tr34Kdh::KeyPair {
                key: p.kdh[from].0.clone(),
                certificate: p.kdh[from].1.clone(),
            },
            random_nonce: nonce,
        }),
    }
}

/// The matching TR-34 import on side `to`.
fn tr34_import(
    p: &Tr34Parties,
    from: usize,
    to: usize,
    block: Vec<u8>,
    nonce: Option<Vec<u8>>,
) -> KeyMaterial {
    KeyMaterial::Tr34(Tr34Import {
        certificate_authority: p.root_of_other[to].clone(),
        kdh_certificate: p.kdh[from].1.clone(),
        krd: Tr34Krd::KeyPair {
            key: p.krd[to].0.clone(),
            certificate: p.krd[to].1.clone(),
        },
        key_block: block,
        random_nonce: nonce,
    })
}

fn unhex(s: &str) -> Result<Vec<u8>, Stop> {
    hex::decode(s).map_err(|_| fail("a TR-34 block must be hex"))
}

async fn tr34_agreement(ctx: &Ctx<'_>) -> Outcome {
    let (mut b, mut r) = sides(ctx);
    let out = async {
        let p = tr34_parties(ctx, &mut [&mut b, &mut r], "tr34a").await?;
        let mut results = Vec::new();
        for (from, to, alg, nonce) in [
            (0, 1, KeyAlgorithm::Tdes2, Some(vec![0x5Au8; 8])),
            (1, 0, KeyAlgorithm::Aes128, None),
        ] {
            let one = async {
                let (src, dst) = direction(&mut b, &mut r, from);
                let key = if from == 0 {
                    ctx.scratch(&format!("tr34a-{}", alg.aws_name()))?
                } else {
                    ref_id("tr34a", alg.aws_name())?
                };
                let sent = src
                    .generate(key.clone(), KeyUsage::KeyEncryption, alg, ModesOfUse::BOTH)
                    .await?;
                let block = src
                    .backend
                    .export_key(tr34_export(&p, from, to, key, nonce.clone()))
                    .await
                    .map_err(|e| src.err("TR-34 export", &e))?;
                let dst_id = if to == 0 {
                    ctx.scratch(&format!("tr34a-in-{}", alg.aws_name()))?
                } else {
                    ref_id("tr34a", &format!("in-{}", alg.aws_name()))?
                };
                let got = dst
                    .import(
                        dst_id,
                        tr34_import(&p, from, to, unhex(&block.key_block)?, nonce),
                    )
                    .await
                    .map_err(|e| dst.err("TR-34 import", &e))?;
                same_kcv(
                    &format!("TR-34 ({})", alg.aws_name()),
                    (src, dst),
                    &sent,
                    &got,
                )?;
                if block.key_check_value != sent.key_check_value {
                    return Err(fail("the TR-34 export names another KCV"));
                }
                Ok(())
            }
            .await;
            results.push(one);
        }
        combine(results)
    }
    .await;
    b.clean().await;
    r.clean().await;
    out
}

async fn tr34_refusals(ctx: &Ctx<'_>) -> Outcome {
    let (mut b, mut r) = sides(ctx);
    let out = async {
        let p = tr34_parties(ctx, &mut [&mut b, &mut r], "tr34r").await?;
        // The reference sends a two-pass block to the backend.
        let key = ref_id("tr34r", "sent")?;
        r.generate(
            key.clone(),
            KeyUsage::KeyEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        )
        .await?;
        let nonce = vec![0xA5u8; 16];
        let block = ctx
            .reference
            .export_key(tr34_export(&p, 1, 0, key, Some(nonce.clone())))
            .await
            .map_err(|e| ref_failed("a TR-34 block", &e))?;
        let block = unhex(&block.key_block)?;
        let kinds = [ErrorKind::InvalidInput, ErrorKind::KeyUsage];
        let mut tampered = block.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        let r1 = b
            .import(
                ctx.scratch("tr34r-x1")?,
                tr34_import(&p, 1, 0, tampered, Some(nonce.clone())),
            )
            .await;
        let r2 = b
            .import(
                ctx.scratch("tr34r-x2")?,
                tr34_import(&p, 1, 0, block.clone(), Some(vec![0x11; 16])),
            )
            .await;
        let mut signing_krd = tr34_import(&p, 1, 0, block, Some(nonce));
        if let KeyMaterial::Tr34(t) = &mut signing_krd {
            t.krd = Tr34Krd::KeyPair {
                key: p.kdh[0].0.clone(),
                certificate: p.kdh[0].1.clone(),
            };
        }
        let r3 = b.import(ctx.scratch("tr34r-x3")?, signing_krd).await;
        combine(vec![
            expect_refusal("a block with a flipped signature bit", r1, &kinds),
            expect_refusal("a block with another nonce", r2, &kinds),
            expect_refusal("a signing key pair (S0) as KRD", r3, &kinds),
        ])
    }
    .await;
    b.clean().await;
    r.clean().await;
    out
}

/// ECC key agreement pairs (P-256, K3) and the other side's CA as root on
/// both sides: (pair id, certificate) and root per side.
async fn ecdh_parties(
    ctx: &Ctx<'_>,
    sides: &mut [&mut Side<'_>; 2],
    tag: &str,
) -> Result<([(KeyId, Certificate); 2], [KeyId; 2]), Stop> {
    let mut pairs = Vec::new();
    let mut chains = Vec::new();
    for (i, side) in sides.iter_mut().enumerate() {
        let id = if i == 0 {
            ctx.scratch(&format!("{tag}-k3"))?
        } else {
            ref_id(tag, "k3")?
        };
        side.generate(
            id.clone(),
            KeyUsage::AsymmetricKeyAgreement,
            KeyAlgorithm::EccP256,
            ModesOfUse::DERIVE,
        )
        .await?;
        let c = side.certificate(&id).await?;
        chains.push(c.chain);
        pairs.push((id, c.certificate));
    }
    let mut roots = Vec::new();
    for (i, side) in sides.iter_mut().enumerate() {
        let id = if i == 0 {
            ctx.scratch(&format!("{tag}-root"))?
        } else {
            ref_id(tag, "root")?
        };
        roots.push(side.import_root(id, &chains[1 - i]).await?);
    }
    Ok((
        pairs.try_into().map_err(|_| fail("two sides"))?,
        roots.try_into().map_err(|_| fail("two sides"))?,
    ))
}

fn ecdh_params(
    pairs: &[(KeyId, Certificate); 2],
    roots: &[KeyId; 2],
    own: usize,
    derive: KeyAlgorithm,
    kdf: KeyDerivationFunction,
    hash: KdfHash,
    shared: &[u8],
) -> EcdhParameters {
    EcdhParameters {
        private_key: pairs[own].0.clone(),
        certificate_authority: roots[own].clone(),
        public_key_certificate: pairs[1 - own].1.clone(),
        derive_key_algorithm: derive,
        kdf,
        hash,
        shared_information: shared.to_vec(),
    }
}

async fn ecdh_agreement(ctx: &Ctx<'_>) -> Outcome {
    let (mut b, mut r) = sides(ctx);
    let out = async {
        let (pairs, roots) = ecdh_parties(ctx, &mut [&mut b, &mut r], "ecdha").await?;
        let mut results = Vec::new();
        for (from, derive, kdf, hash) in [
            (
                0,
                KeyAlgorithm::Aes128,
                KeyDerivationFunction::NistSp800,
                KdfHash::Sha256,
            ),
            (
                1,
                KeyAlgorithm::Tdes2,
                KeyDerivationFunction::AnsiX963,
                KdfHash::Sha512,
            ),
        ] {
            let to = 1 - from;
            let one = async {
                let (src, dst) = direction(&mut b, &mut r, from);
                let name = format!("ecdha-{}", derive.aws_name());
                let key = if from == 0 {
                    ctx.scratch(&name)?
                } else {
                    ref_id("ecdha", &name)?
                };
                let sent = src
                    .generate(
                        key.clone(),
                        KeyUsage::DataEncryption,
                        KeyAlgorithm::Aes128,
                        ModesOfUse::BOTH,
                    )
                    .await?;
                let shared = [0x0Fu8, from as u8, 0xF0];
                let block = src
                    .backend
                    .export_key(ExportKeyRequest {
                        key,
                        method: ExportMethod::Ecdh(ecdh_params(
                            &pairs, &roots, from, derive, kdf, hash, &shared,
                        )),
                    })
                    .await
                    .map_err(|e| src.err("ECDH export", &e))?;
                let dst_id = if to == 0 {
                    ctx.scratch(&format!("{name}-in"))?
                } else {
                    ref_id("ecdha", &format!("{name}-in"))?
                };
                let got = dst
                    .import(
                        dst_id,
                        KeyMaterial::Ecdh {
                            params: ecdh_params(&pairs, &roots, to, derive, kdf, hash, &shared),
                            key_block: block.key_block,
                        },
                    )
                    .await
                    .map_err(|e| dst.err("ECDH import", &e))?;
                same_kcv(
                    &format!("ECDH ({})", derive.aws_name()),
                    (src, dst),
                    &sent,
                    &got,
                )
            }
            .await;
            results.push(one);
        }
        combine(results)
    }
    .await;
    b.clean().await;
    r.clean().await;
    out
}

async fn ecdh_refusals(ctx: &Ctx<'_>) -> Outcome {
    let (mut b, mut r) = sides(ctx);
    let out = async {
        let (pairs, roots) = ecdh_parties(ctx, &mut [&mut b, &mut r], "ecdhr").await?;
        let key = ref_id("ecdhr", "sent")?;
        r.generate(
            key.clone(),
            KeyUsage::DataEncryption,
            KeyAlgorithm::Aes128,
            ModesOfUse::BOTH,
        )
        .await?;
        let (kdf, hash) = (KeyDerivationFunction::NistSp800, KdfHash::Sha256);
        let block = ctx
            .reference
            .export_key(ExportKeyRequest {
                key,
                method: ExportMethod::Ecdh(ecdh_params(
                    &pairs,
                    &roots,
                    1,
                    KeyAlgorithm::Aes128,
                    kdf,
                    hash,
                    b"agreed",
                )),
            })
            .await
            .map_err(|e| ref_failed("an ECDH block", &e))?;
        let kinds = [ErrorKind::InvalidInput, ErrorKind::KeyUsage];
        let r1 = b
            .import(
                ctx.scratch("ecdhr-x1")?,
                KeyMaterial::Ecdh {
                    params: ecdh_params(
                        &pairs,
                        &roots,
                        0,
                        KeyAlgorithm::Aes128,
                        kdf,
                        hash,
                        b"other",
                    ),
                    key_block: block.key_block.clone(),
                },
            )
            .await;
        let s0 = ctx.scratch("ecdhr-s0")?;
        b.generate(
            s0.clone(),
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::EccP256,
            ModesOfUse::SIGN_VERIFY,
        )
        .await?;
        let mut params = ecdh_params(
            &pairs,
            &roots,
            0,
            KeyAlgorithm::Aes128,
            kdf,
            hash,
            b"agreed",
        );
        params.private_key = s0;
        let r2 = b
            .import(
                ctx.scratch("ecdhr-x2")?,
                KeyMaterial::Ecdh {
                    params,
                    key_block: block.key_block,
                },
            )
            .await;
        combine(vec![
            expect_refusal(
                "a block under a key agreed with other shared information",
                r1,
                &kinds,
            ),
            expect_refusal("a signature key pair (S0) as ECDH private key", r2, &kinds),
        ])
    }
    .await;
    b.clean().await;
    r.clean().await;
    out
}

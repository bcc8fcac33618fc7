//! Typed key exchange through `AwsBackend` against two AWS emulators:
//! TR-34 (`KeyMaterial::Tr34`, `ExportMethod::Tr34`) and ECDH
//! (`KeyMaterial::Ecdh`, `ExportMethod::Ecdh`) moving a key from one
//! emulator to the other, refusals (a tampered signature, a wrong nonce,
//! wrong key usages, a different KDF input), and `KeyInfo` for asymmetric
//! keys (`GenerateKey` / `GetKeyInfo` with RSA and ECC algorithms).
//!
//! Every step is a typed request: key pairs (`GenerateKey`), their
//! certificates (`GetPublicKeyCertificate`), the partners' certificate
//! authorities (`KeyMaterial::RootCertificate` / `TrustedCertificate`).

#![cfg(all(feature = "aws", feature = "server"))]

use paycrypto::aws::AwsBackend;
use paycrypto::ops::*;
use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};
use paycrypto::types::KeyClass;
use paycrypto::{
    Backend, BackendExt, ErrorKind, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse,
    SoftwareBackend,
};

async fn emulator() -> (RunningEmulator, AwsBackend) {
    let emu = start(EmulatorConfig::default()).await.expect("emulator");
    let aws = AwsBackend::builder()
        .endpoint_url(emu.endpoint_url())
        .region("us-east-1")
        .credentials("AKIDKEYEXCHANGE", "key/exchange/secret", None)
        .sdk_retries(false)
        .build()
        .await;
    (emu, aws)
}

fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

async fn generate(
    aws: &dyn Backend,
    name: &str,
    usage: KeyUsage,
    alg: KeyAlgorithm,
    modes: ModesOfUse,
) -> KeyInfo {
    aws.generate_key(GenerateKeyRequest {
        key_id: id(name),
        attributes: KeyAttributes::new(usage, alg, modes),
    })
    .await
    .unwrap_or_else(|e| panic!("generate {name}: {e}"))
}

/// A key pair's certificate and its chain (the emulator's CA), typed.
async fn certificate(aws: &dyn Backend, name: &str) -> (Certificate, Certificate) {
    let out = aws
        .get_public_key_certificate(GetPublicKeyCertificateRequest { key: id(name) })
        .await
        .expect("GetPublicKeyCertificate");
    assert_eq!(out.key, id(name));
    assert_eq!(out.chain.len(), 1, "the chain is the backend's CA");
    (out.certificate, out.chain[0].clone())
}

/// The attributes of a certificate authority's public key (the emulator's
/// CA key is P-256).
fn ca_attributes() -> KeyAttributes {
    KeyAttributes::new(
        KeyUsage::AsymmetricSignature,
        KeyAlgorithm::EccP256,
        ModesOfUse::VERIFY,
    )
}

/// Imports the other emulator's CA certificate (`chain`, as the API gives
/// it) as a root, typed, named `name`.
async fn import_root(aws: &dyn Backend, chain: &Certificate) -> KeyId {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "root-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let info = aws
        .import_key(ImportKeyRequest {
            key_id: id(&name),
            material: KeyMaterial::RootCertificate {
                attributes: ca_attributes(),
                certificate: chain.clone(),
            },
            expected_kcv: None,
        })
        .await
        .expect("import root");
    assert_eq!(info.key_class, KeyClass::PublicKey);
    info.key_id
}

#[tokio::test]
async fn asymmetric_key_info_is_typed() {
    let (_emu, aws) = emulator().await;
    for (name, usage, alg, modes) in [
        (
            "rsa2048-s0",
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::Rsa2048,
            ModesOfUse::SIGN_VERIFY,
        ),
        (
            "rsa3072-d1",
            KeyUsage::AsymmetricDataEncryption,
            KeyAlgorithm::Rsa3072,
            ModesOfUse::BOTH,
        ),
        (
            "p384-k3",
            KeyUsage::AsymmetricKeyAgreement,
            KeyAlgorithm::EccP384,
            ModesOfUse::DERIVE,
        ),
        (
            "p521-s0",
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::EccP521,
            ModesOfUse::SIGN_VERIFY,
        ),
    ] {
        let info = generate(&aws, name, usage, alg, modes).await;
        assert_eq!(info.key_class, KeyClass::AsymmetricKeyPair, "{name}");
        assert_eq!(info.attributes.algorithm, alg, "{name}");
        assert_eq!(info.attributes.usage, usage, "{name}");
        assert_eq!(info.attributes.modes, modes, "{name}");
        let again = aws
            .get_key_info(GetKeyInfoRequest { key: id(name) })
            .await
            .unwrap();
        assert_eq!(again, info, "{name}");
    }
    // A symmetric usage with an asymmetric algorithm is refused before the service.
    let e = aws
        .generate_key(GenerateKeyRequest {
            key_id: id("bad"),
            attributes: KeyAttributes::new(
                KeyUsage::PinEncryption,
                KeyAlgorithm::Rsa2048,
                ModesOfUse::BOTH,
            ),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // An imported root is a public key.
    let (_emu2, other) = emulator().await;
    generate(
        &other,
        "k",
        KeyUsage::AsymmetricSignature,
        KeyAlgorithm::Rsa2048,
        ModesOfUse::SIGN_VERIFY,
    )
    .await;
    let (_, chain) = certificate(&other, "k").await;
    let root = import_root(&aws, &chain).await;
    let info = aws
        .get_key_info(GetKeyInfoRequest { key: root.clone() })
        .await
        .unwrap();
    assert_eq!(info.key_class, KeyClass::PublicKey);
    assert_eq!(info.attributes.algorithm, KeyAlgorithm::EccP256);
    // The key pair's certificate, trusted under that root.
    let (cert, _) = certificate(&other, "k").await;
    let trusted = aws
        .import_key(ImportKeyRequest {
            key_id: id("trusted-k"),
            material: KeyMaterial::TrustedCertificate {
                certificate_authority: root.clone(),
                attributes: KeyAttributes::new(
                    KeyUsage::AsymmetricSignature,
                    KeyAlgorithm::Rsa2048,
                    ModesOfUse::VERIFY,
                ),
                certificate: cert.clone(),
            },
            expected_kcv: None,
        })
        .await
        .unwrap();
    assert_eq!(trusted.key_class, KeyClass::PublicKey);
    assert_eq!(trusted.attributes.algorithm, KeyAlgorithm::Rsa2048);
    // A certificate under another root is refused; so is a symmetric algorithm.
    let (_emu3, third) = emulator().await;
    let (_, chain3) = {
        generate(
            &third,
            "z",
            KeyUsage::AsymmetricSignature,
            KeyAlgorithm::EccP256,
            ModesOfUse::SIGN_VERIFY,
        )
        .await;
        certificate(&third, "z").await
    };
    let root3 = import_root(&aws, &chain3).await;
    let e = aws
        .import_key(ImportKeyRequest {
            key_id: id("trusted-wrong-root"),
            material: KeyMaterial::TrustedCertificate {
                certificate_authority: root3,
                attributes: KeyAttributes::new(
                    KeyUsage::AsymmetricSignature,
                    KeyAlgorithm::Rsa2048,
                    ModesOfUse::VERIFY,
                ),
                certificate: cert.clone(),
            },
            expected_kcv: None,
        })
        .await
        .unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Unsupported, "{e}");
    let e = aws
        .import_key(ImportKeyRequest {
            key_id: id("trusted-aes"),
            material: KeyMaterial::TrustedCertificate {
                certificate_authority: root,
                attributes: KeyAttributes::new(
                    KeyUsage::KeyEncryption,
                    KeyAlgorithm::Aes128,
                    ModesOfUse::BOTH,
                ),
                certificate: cert,
            },
            expected_kcv: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

/// TR-34 from `kdh` to `krd`: three keys move (two-pass TDES2, one-pass
/// TDES3, two-pass AES128) with equal KCVs; a flipped signature bit, a wrong
/// nonce, a signing key as KRD and a non-signing key as KDH are refused.
async fn tr34_between(kdh: &dyn Backend, krd: &dyn Backend) {
    generate(
        kdh,
        "kdh-sign",
        KeyUsage::AsymmetricSignature,
        KeyAlgorithm::Rsa2048,
        ModesOfUse::SIGN_VERIFY,
    )
    .await;
    generate(
        krd,
        "krd-wrap",
        KeyUsage::AsymmetricDataEncryption,
        KeyAlgorithm::Rsa2048,
        ModesOfUse::BOTH,
    )
    .await;
    let (kdh_cert, kdh_chain) = certificate(kdh, "kdh-sign").await;
    let (krd_cert, krd_chain) = certificate(krd, "krd-wrap").await;
    let krd_root_on_kdh = import_root(kdh, &krd_chain).await;
    let kdh_root_on_krd = import_root(krd, &kdh_chain).await;
    for (alg, nonce) in [
        (KeyAlgorithm::Tdes2, Some(vec![0x11u8; 8])),
        (KeyAlgorithm::Tdes3, None),
        (KeyAlgorithm::Aes128, Some(vec![0x22u8; 16])),
    ] {
        let name = format!("moved-{}", alg.aws_name());
        let sent = generate(kdh, &name, KeyUsage::KeyEncryption, alg, ModesOfUse::BOTH).await;
        let export = ExportKeyRequest {
            key: id(&name),
            method: ExportMethod::Tr34(Tr34Export {
                certificate_authority: krd_root_on_kdh.clone(),
                krd_certificate: krd_cert.clone(),
                kdh: Tr34Kdh::KeyPair {
                    key: id("kdh-sign"),
                    certificate: kdh_cert.clone(),
                },
                random_nonce: nonce.clone(),
            }),
        };
        let block = kdh.export_key(export).await.unwrap();
        assert_eq!(block.key_check_value, sent.key_check_value);
        let der = hex::decode(&block.key_block).unwrap();
        let import = |block: Vec<u8>, nonce: Option<Vec<u8>>, label: &str| ImportKeyRequest {
            key_id: id(&format!("{name}-{label}")),
            material: KeyMaterial::Tr34(Tr34Import {
                certificate_authority: kdh_root_on_krd.clone(),
                kdh_certificate: kdh_cert.clone(),
                krd: Tr34Krd::KeyPair {
                    key: id("krd-wrap"),
                    certificate: krd_cert.clone(),
                },
                key_block: block,
                random_nonce: nonce,
            }),
            expected_kcv: Some(sent.key_check_value),
        };
        let got = krd
            .import_key(import(der.clone(), nonce.clone(), "ok"))
            .await
            .unwrap();
        assert_eq!(got.key_check_value, sent.key_check_value, "{name}");
        assert_eq!(got.attributes.algorithm, alg);
        assert_eq!(got.attributes.usage, KeyUsage::KeyEncryption);
        assert_eq!(got.key_class, KeyClass::Symmetric);

        // The last byte of the block is the signature's: flipped, it does not verify.
        let mut tampered = der.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let e = krd
            .import_key(import(tampered, nonce.clone(), "tampered"))
            .await
            .unwrap_err();
        assert!(e.to_string().to_lowercase().contains("signature"), "{e}");
        // A two-pass block needs its own nonce.
        if nonce.is_some() {
            let e = krd
                .import_key(import(der.clone(), Some(vec![0x33u8; 8]), "nonce"))
                .await
                .unwrap_err();
            assert!(e.to_string().to_lowercase().contains("nonce"), "{e}");
        }
    }
    // A signing key is no KRD key (wrong usage), refused by the service.
    generate(
        krd,
        "krd-s0",
        KeyUsage::AsymmetricSignature,
        KeyAlgorithm::Rsa2048,
        ModesOfUse::SIGN_VERIFY,
    )
    .await;
    let e = krd
        .import_key(ImportKeyRequest {
            key_id: id("never"),
            material: KeyMaterial::Tr34(Tr34Import {
                certificate_authority: kdh_root_on_krd.clone(),
                kdh_certificate: kdh_cert.clone(),
                krd: Tr34Krd::KeyPair {
                    key: id("krd-s0"),
                    certificate: certificate(krd, "krd-s0").await.0,
                },
                key_block: vec![0x30, 0x00],
                random_nonce: None,
            }),
            expected_kcv: None,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key pair"), "{e}");
    // A KDH key that may not sign is refused on export.
    let e = kdh
        .export_key(ExportKeyRequest {
            key: id("moved-TDES_2KEY"),
            method: ExportMethod::Tr34(Tr34Export {
                certificate_authority: krd_root_on_kdh.clone(),
                krd_certificate: krd_cert.clone(),
                kdh: Tr34Kdh::KeyPair {
                    key: id("moved-AES_128"),
                    certificate: kdh_cert.clone(),
                },
                random_nonce: None,
            }),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key pair"), "{e}");
    // A nonce of the wrong length never reaches the service.
    let e = krd
        .import_key(ImportKeyRequest {
            key_id: id("never"),
            material: KeyMaterial::Tr34(Tr34Import {
                certificate_authority: kdh_root_on_krd,
                kdh_certificate: kdh_cert,
                krd: Tr34Krd::ImportToken("import-x".into()),
                key_block: vec![0x30, 0x00],
                random_nonce: Some(vec![1; 7]),
            }),
            expected_kcv: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// ECDH from `a` to `b` with three KDF/hash/derived-key combinations
/// (equal KCVs); other shared information, a signature key pair as private
/// key and an HMAC derived key are refused.
async fn ecdh_between(a: &dyn Backend, b: &dyn Backend) {
    generate(
        a,
        "ecdh",
        KeyUsage::AsymmetricKeyAgreement,
        KeyAlgorithm::EccP256,
        ModesOfUse::DERIVE,
    )
    .await;
    generate(
        b,
        "ecdh",
        KeyUsage::AsymmetricKeyAgreement,
        KeyAlgorithm::EccP256,
        ModesOfUse::DERIVE,
    )
    .await;
    let (a_cert, a_chain) = certificate(a, "ecdh").await;
    let (b_cert, b_chain) = certificate(b, "ecdh").await;
    let b_root_on_a = import_root(a, &b_chain).await;
    let a_root_on_b = import_root(b, &a_chain).await;
    let params =
        |ca: &KeyId, cert: &Certificate, derive, kdf, hash, shared: &[u8]| EcdhParameters {
            private_key: id("ecdh"),
            certificate_authority: ca.clone(),
            public_key_certificate: cert.clone(),
            derive_key_algorithm: derive,
            kdf,
            hash,
            shared_information: shared.to_vec(),
        };
    for (i, (derive, kdf, hash, version)) in [
        (
            KeyAlgorithm::Aes128,
            KeyDerivationFunction::NistSp800,
            KdfHash::Sha256,
            'D',
        ),
        (
            KeyAlgorithm::Aes256,
            KeyDerivationFunction::AnsiX963,
            KdfHash::Sha512,
            'D',
        ),
        (
            KeyAlgorithm::Tdes2,
            KeyDerivationFunction::NistSp800,
            KdfHash::Sha384,
            'B',
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("shared-{i}");
        let sent = generate(
            a,
            &name,
            KeyUsage::DataEncryption,
            KeyAlgorithm::Aes128,
            ModesOfUse::BOTH,
        )
        .await;
        let shared = [0xA5u8, i as u8, 0x5A, 0x01];
        let out = a
            .export_key(ExportKeyRequest {
                key: id(&name),
                method: ExportMethod::Ecdh(params(
                    &b_root_on_a,
                    &b_cert,
                    derive,
                    kdf,
                    hash,
                    &shared,
                )),
            })
            .await
            .unwrap();
        assert!(out.key_block.starts_with(version), "{}", out.key_block);
        let got = b
            .import_key(ImportKeyRequest {
                key_id: id(&name),
                material: KeyMaterial::Ecdh {
                    params: params(&a_root_on_b, &a_cert, derive, kdf, hash, &shared),
                    key_block: out.key_block.clone(),
                },
                expected_kcv: Some(sent.key_check_value),
            })
            .await
            .unwrap();
        assert_eq!(got.key_check_value, sent.key_check_value);
        // Other shared information agrees another key: the block's MAC fails.
        let e = b
            .import_key(ImportKeyRequest {
                key_id: id(&format!("{name}-x")),
                material: KeyMaterial::Ecdh {
                    params: params(&a_root_on_b, &a_cert, derive, kdf, hash, b"other"),
                    key_block: out.key_block,
                },
                expected_kcv: None,
            })
            .await
            .unwrap_err();
        assert_ne!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
    // A signature key pair cannot agree keys.
    generate(
        a,
        "s0",
        KeyUsage::AsymmetricSignature,
        KeyAlgorithm::EccP256,
        ModesOfUse::SIGN_VERIFY,
    )
    .await;
    let mut p = params(
        &b_root_on_a,
        &b_cert,
        KeyAlgorithm::Aes128,
        KeyDerivationFunction::NistSp800,
        KdfHash::Sha256,
        b"x",
    );
    p.private_key = id("s0");
    let e = a
        .export_key(ExportKeyRequest {
            key: id("shared-0"),
            method: ExportMethod::Ecdh(p.clone()),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("key pair"), "{e}");
    // HMAC cannot protect a TR-31 block: refused before the service.
    p.private_key = id("ecdh");
    p.derive_key_algorithm = KeyAlgorithm::HmacSha256;
    let e = a
        .export_key(ExportKeyRequest {
            key: id("shared-0"),
            method: ExportMethod::Ecdh(p),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[derive(Clone, Copy)]
enum Exchange {
    Tr34,
    Ecdh,
}

async fn exchange(kind: Exchange, from: &dyn Backend, to: &dyn Backend) {
    match kind {
        Exchange::Tr34 => tr34_between(from, to).await,
        Exchange::Ecdh => ecdh_between(from, to).await,
    }
}

async fn between_emulators(kind: Exchange) {
    let (_a, a) = emulator().await;
    let (_b, b) = emulator().await;
    exchange(kind, &a, &b).await;
}

/// The software backend to an emulator, and an emulator to the software
/// backend (fresh backends each way).
async fn software_and_emulator_both_ways(kind: Exchange) {
    let (_e, aws) = emulator().await;
    exchange(kind, &SoftwareBackend::with_name("soft-a"), &aws).await;
    let (_e2, aws2) = emulator().await;
    exchange(kind, &aws2, &SoftwareBackend::with_name("soft-b")).await;
}

#[tokio::test]
async fn tr34_between_emulators() {
    between_emulators(Exchange::Tr34).await;
}

#[tokio::test]
async fn tr34_from_software_to_emulator_and_back() {
    software_and_emulator_both_ways(Exchange::Tr34).await;
}

#[tokio::test]
async fn ecdh_between_emulators() {
    between_emulators(Exchange::Ecdh).await;
}

#[tokio::test]
async fn ecdh_from_software_to_emulator_and_back() {
    software_and_emulator_both_ways(Exchange::Ecdh).await;
}

#[tokio::test]
async fn key_exchange_is_declared_where_it_is_served() {
    use paycrypto::capabilities::KeyExchangeKind;
    let soft = SoftwareBackend::new();
    let (_emu, aws) = emulator().await;
    for k in KeyExchangeKind::ALL {
        assert!(soft.capabilities().check_key_exchange(k).is_ok());
        assert!(aws.capabilities().check_key_exchange(k).is_ok());
    }
    // Tokens are AWS's: the software backend refuses them by name.
    let e = soft
        .import_key(ImportKeyRequest {
            key_id: id("never"),
            material: KeyMaterial::Tr34(Tr34Import {
                certificate_authority: id("ca"),
                kdh_certificate: Certificate::from_der(vec![0x30, 0x00]).unwrap(),
                krd: Tr34Krd::ImportToken("import-token".into()),
                key_block: vec![0x30, 0x00],
                random_nonce: None,
            }),
            expected_kcv: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

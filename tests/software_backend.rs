//! The software backend end to end: published vectors through the `Backend`
//! API, and the HSM rules it must enforce.

mod common;

use common::{h, id, load, load_kek, s, vectors};
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::algo::pinblock;
use paycrypto::ops::*;
use paycrypto::*;

async fn hsm() -> SoftwareBackend {
    let b = SoftwareBackend::new();
    load_kek(&b).await;
    b
}

const ZPK: &str = "13345779133457791334577913345779"; // thales_lmk_key clear ZPK, KCV 6FB1C8
const AES_ZPK: &str = "AF8CB133A78F8DC2D1359F18527593FB";

async fn zone_keys(b: &SoftwareBackend) {
    load(
        b,
        "zpk",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &hex::decode(ZPK).unwrap(),
    )
    .await
    .unwrap();
    load(
        b,
        "zpk-aes",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Aes128,
        ModesOfUse::BOTH,
        &hex::decode(AES_ZPK).unwrap(),
    )
    .await
    .unwrap();
}

fn pan(s: &str) -> Pan {
    Pan::new(s).unwrap()
}

// ANSI X9.24-1:2009 A.4 (via openemv/dukpt test data), kind tdes_dukpt_transaction:
// every published encrypted PIN block translates to the zone key, and the
// published CBC ciphertext decrypts with the DUKPT request data key (P2PE).
#[tokio::test]
async fn tdes_dukpt_vectors_through_backend() {
    let b = hsm().await;
    zone_keys(&b).await;
    let v0 = &vectors("tdes_dukpt_transaction")[0];
    load(
        &b,
        "bdk",
        KeyUsage::Bdk,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(v0, "inputs", "bdk"),
    )
    .await
    .unwrap();
    let zpk = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    let mut checked_data = 0;
    for v in vectors("tdes_dukpt_transaction") {
        let ksn = Ksn::parse_hex(s(&v, "inputs", "ksn")).unwrap();
        let dukpt = Dukpt {
            bdk: id("bdk"),
            ksn,
            key_type: KeyAlgorithm::Tdes2,
        };
        let out = b
            .translate_pin(TranslatePinRequest {
                incoming_key: PinKey::Dukpt(dukpt.clone()),
                incoming_format: PinBlockFormat::Iso0,
                outgoing_key: id("zpk"),
                outgoing_format: PinBlockFormat::Iso0,
                pan: pan(s(&v, "inputs", "pan")),
                pin_block: EncryptedPinBlock::from_bytes(&h(&v, "expected", "encrypted_pin_block"))
                    .unwrap(),
            })
            .await
            .unwrap_or_else(|e| panic!("{} ksn {}: {e}", v["source"], s(&v, "inputs", "ksn")));
        // ISO 0 is deterministic: the zone block is E(ZPK, clear block).
        let mut want = h(&v, "inputs", "clear_pin_block_iso0");
        zpk.encrypt_ecb(&mut want).unwrap();
        assert_eq!(
            out.pin_block.as_bytes(),
            &want[..],
            "ksn {}",
            s(&v, "inputs", "ksn")
        );
        assert_eq!(out.key_check_value.to_string(), "6FB1C8");

        if let Some(ct) = v["expected"]["encrypted_request_data_cbc_iv0"].as_str() {
            let r = b
                .decrypt_data(DecryptDataRequest {
                    key: DataKey::Dukpt {
                        dukpt,
                        variant: DukptVariant::Request,
                    },
                    mode: CipherMode::Cbc { iv: vec![0; 8] },
                    ciphertext: hex::decode(ct).unwrap(),
                })
                .await
                .unwrap();
            assert_eq!(
                r.plaintext.expose(),
                &h(&v, "inputs", "encryption_plaintext_hex")[..]
            );
            checked_data += 1;
        }
    }
    assert!(checked_data > 0, "no P2PE ciphertext vectors checked");
}

// ANSI X9.24-3:2017 supplement (via openemv/dukpt), kind aes_dukpt_transaction:
// the published AES format 4 PIN block translates from AES DUKPT to a zone key.
#[tokio::test]
async fn aes_dukpt_pin_vectors_through_backend() {
    let b = hsm().await;
    zone_keys(&b).await;
    let vs = vectors("aes_dukpt_transaction");
    load(
        &b,
        "bdk-aes",
        KeyUsage::Bdk,
        KeyAlgorithm::Aes128,
        ModesOfUse::DERIVE,
        &h(&vs[0], "inputs", "bdk"),
    )
    .await
    .unwrap();
    let zpk = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    let mut n = 0;
    for v in &vs {
        let Some(block) = v["expected"]["encrypted_pin_block_iso4_aes128"].as_str() else {
            continue;
        };
        let p = s(v, "inputs", "pan");
        let out = b
            .translate_pin(TranslatePinRequest {
                incoming_key: PinKey::Dukpt(Dukpt {
                    bdk: id("bdk-aes"),
                    ksn: Ksn::parse_hex(s(v, "inputs", "ksn")).unwrap(),
                    key_type: KeyAlgorithm::Aes128,
                }),
                incoming_format: PinBlockFormat::Iso4,
                outgoing_key: id("zpk"),
                outgoing_format: PinBlockFormat::Iso0,
                pan: pan(p),
                pin_block: EncryptedPinBlock::from_bytes(&hex::decode(block).unwrap()).unwrap(),
            })
            .await
            .unwrap();
        let pin = pinblock::decrypt_pin_block(
            &zpk,
            PinBlockFormat::Iso0,
            out.pin_block.as_bytes(),
            Some(p),
        )
        .unwrap();
        assert_eq!(pin.as_str(), s(v, "inputs", "pin"));
        n += 1;
    }
    assert!(n > 0);
}

// Visa CVV test data (kind visa_cvv, source in the vector): CVK = A || B.
#[tokio::test]
async fn cvv_vectors_through_backend() {
    let b = hsm().await;
    for (i, v) in vectors("visa_cvv").iter().enumerate() {
        let mut cvk = h(v, "inputs", "cvk_a");
        cvk.extend(h(v, "inputs", "cvk_b"));
        let name = format!("cvk{i}");
        load(
            &b,
            &name,
            KeyUsage::CardVerification,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE_VERIFY,
            &cvk,
        )
        .await
        .unwrap();
        let kind =
            CardValidationKind::Cvv(ServiceCode::new(s(v, "inputs", "service_code")).unwrap());
        let g = b
            .generate_card_validation(GenerateCardValidationRequest {
                key: id(&name),
                pan: pan(s(v, "inputs", "pan")),
                expiry: CardExpiry::new(s(v, "inputs", "expiry")).unwrap(),
                kind: kind.clone(),
                length: paycrypto::CvvLength::THREE,
            })
            .await
            .unwrap();
        assert_eq!(g.value.expose(), s(v, "expected", "cvv"), "{}", v["source"]);
        for (value, want) in [
            (g.value.clone(), Verification::Verified),
            (
                format!(
                    "{:03}",
                    (g.value.expose().parse::<u32>().unwrap() + 1) % 1000
                )
                .parse()
                .unwrap(),
                Verification::Failed,
            ),
        ] {
            let r = b
                .verify_card_validation(VerifyCardValidationRequest {
                    key: id(&name),
                    pan: pan(s(v, "inputs", "pan")),
                    expiry: CardExpiry::new(s(v, "inputs", "expiry")).unwrap(),
                    kind: kind.clone(),
                    value,
                })
                .await
                .unwrap();
            assert_eq!(r.verification, want);
        }
    }
}

fn arr<const N: usize>(v: &serde_json::Value, sec: &str, name: &str) -> [u8; N] {
    h(v, sec, name).try_into().unwrap()
}

// jPOS JCESecurityModuleTest testVerifyARQCImpl_VSDC_P00 (kind emv_arqc) and
// testGenerateARPCImpl_VSDC_M1 (kind emv_arpc): Visa CVN 10, option A, ARPC method 1.
#[tokio::test]
async fn arqc_and_arpc_vectors_through_backend() {
    let b = hsm().await;
    let v = &vectors("emv_arqc")[0];
    load(
        &b,
        "imk",
        KeyUsage::EmvAppCryptogram,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(v, "inputs", "imk_ac"),
    )
    .await
    .unwrap();
    let arpc_v = vectors("emv_arpc")
        .into_iter()
        .find(|a| a["inputs"]["arqc"] == v["expected"]["arqc"])
        .expect("an emv_arpc vector for the same ARQC");
    let mut req = VerifyArqcRequest {
        key: id("imk"),
        mk_derivation: MkDerivation::OptionA,
        session: SessionKeyDerivation::Visa,
        pan: pan(s(v, "inputs", "pan")),
        psn: Psn::new(s(v, "inputs", "psn")).unwrap(),
        transaction_data: h(v, "inputs", "cdol_data"),
        padding: Iso9797Padding::Method1,
        arqc: arr(v, "expected", "arqc"),
        arpc: Some(ArpcMethod::Method1 {
            arc: arr(&arpc_v, "inputs", "arc"),
        }),
    };
    let r = b.verify_arqc(req.clone()).await.unwrap();
    assert_eq!(r.verification, Verification::Verified);
    assert_eq!(
        hex::encode_upper(r.arpc.unwrap()),
        s(&arpc_v, "expected", "arpc")
    );
    req.arqc[0] ^= 1;
    let r = b.verify_arqc(req).await.unwrap();
    assert_eq!(r.verification, Verification::Failed);
    assert_eq!(r.arpc, None);
}

// TR-31 blocks from openemv/tr31 (kind tr31_key_block): each imports under its
// KBPK (formed from two components) and the stored key has the published KCV.
#[tokio::test]
async fn tr31_vectors_import() {
    let (mut imported, mut single_des) = (0, 0);
    for (i, v) in vectors("tr31_key_block").iter().enumerate() {
        // Most published blocks use keys without DES parity: load them as a
        // parity-ignoring service would, and check separately that the default refuses them.
        let b = SoftwareBackend::new().with_parity_check(false);
        let kbpk = h(v, "inputs", "kbpk");
        let alg = match (
            kbpk.len(),
            v["inputs"]["key_block"].as_str().unwrap().as_bytes()[0],
        ) {
            (16, b'D') => KeyAlgorithm::Aes128,
            (24, b'D') => KeyAlgorithm::Aes192,
            (32, _) => KeyAlgorithm::Aes256,
            (16, _) => KeyAlgorithm::Tdes2,
            _ => KeyAlgorithm::Tdes3,
        };
        let c2 = vec![0x5Bu8; kbpk.len()];
        let c1: Vec<u8> = kbpk.iter().zip(&c2).map(|(a, b)| a ^ b).collect();
        b.import_key(
            paycrypto::keyload::kek_from_components(id("kbpk"), alg, &[&c1, &c2]).unwrap(),
        )
        .await
        .unwrap();
        let r = b
            .import_key(ImportKeyRequest {
                key_id: id("k"),
                material: KeyMaterial::Tr31 {
                    kek: id("kbpk"),
                    key_block: s(v, "inputs", "key_block").into(),
                },
                expected_kcv: None,
            })
            .await;
        match r {
            Ok(info) => {
                if let Some(kcv) = v["expected"]["kcv"].as_str() {
                    assert_eq!(info.key_check_value.to_string(), &kcv[..6], "vector {i}");
                }
                imported += 1;
            }
            // Single-length DES keys are refused (PCI forbids single DES): a typed error.
            Err(e) if h(v, "expected", "key").len() == 8 => {
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "vector {i}: {e}");
                assert!(e.to_string().contains("key length"), "vector {i}: {e}");
                single_des += 1;
            }
            Err(e) => panic!("vector {i}: {e}"),
        }
    }
    assert_eq!(
        imported + single_des,
        vectors("tr31_key_block").len(),
        "every other published block imports"
    );
    assert!(imported >= 15, "{imported}");
}

#[tokio::test]
async fn pin_key_cannot_decrypt_data_and_cvk_cannot_translate() {
    let b = hsm().await;
    zone_keys(&b).await;
    load(
        &b,
        "cvk",
        KeyUsage::CardVerification,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
        &hex::decode(ZPK).unwrap(),
    )
    .await
    .unwrap();
    let e = b
        .decrypt_data(DecryptDataRequest {
            key: DataKey::Key(id("zpk")),
            mode: CipherMode::Ecb,
            ciphertext: vec![0; 8],
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    assert_eq!(e.op(), Some(Operation::DecryptData));
    let e = b
        .translate_pin(TranslatePinRequest {
            incoming_key: PinKey::Key(id("cvk")),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: id("zpk"),
            outgoing_format: PinBlockFormat::Iso0,
            pan: pan("4111111111111111"),
            pin_block: EncryptedPinBlock::from_bytes(&[0; 8]).unwrap(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    let e = b
        .generate_card_validation(GenerateCardValidationRequest {
            key: id("zpk"),
            pan: pan("4111111111111111"),
            expiry: CardExpiry::new("2512").unwrap(),
            kind: CardValidationKind::Cvv2,
            length: paycrypto::CvvLength::THREE,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
}

async fn iso0_block(pin: &str, p: &str) -> EncryptedPinBlock {
    let zpk = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &Pin::new(pin).unwrap(),
        Some(p),
        &mut rand::rng(),
    )
    .unwrap()
}

// TDES ISO 0 -> ISO 0 re-enciphers the checked clear block: the result must
// be exactly what encoding the PIN afresh under the outgoing key gives, and a
// block that does not decode must fail as decrypting it with the algorithm
// does, before the outgoing key is even looked at.
#[tokio::test]
async fn tdes_iso0_to_iso0_matches_the_algorithm() {
    const ZPK2: &str = "0123456789ABCDEFFEDCBA9876543210";
    let b = hsm().await;
    zone_keys(&b).await;
    load(
        &b,
        "zpk2",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &hex::decode(ZPK2).unwrap(),
    )
    .await
    .unwrap();
    let zpk = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    let zpk2 = BlockCipher::tdes(&hex::decode(ZPK2).unwrap()).unwrap();
    let req = |block, p: &str, out: &str| TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id(out),
        outgoing_format: PinBlockFormat::Iso0,
        pan: pan(p),
        pin_block: block,
    };
    for p in ["411111111111", "4111111111111111", "4000123456789012345"] {
        for digits in ["1234", "98765", "000000000000"] {
            let pin = Pin::new(digits).unwrap();
            let block = pinblock::encrypt_pin_block(
                &zpk,
                PinBlockFormat::Iso0,
                &pin,
                Some(p),
                &mut rand::rng(),
            )
            .unwrap();
            let expected = pinblock::encrypt_pin_block(
                &zpk2,
                PinBlockFormat::Iso0,
                &pin,
                Some(p),
                &mut rand::rng(),
            )
            .unwrap();
            let out = b.translate_pin(req(block, p, "zpk2")).await.unwrap();
            assert_eq!(out.pin_block, expected, "{digits} {p}");
            assert_eq!(out.format, PinBlockFormat::Iso0);
        }
    }
    // Under another PAN the block does not decode: the algorithm's error,
    // even though the outgoing key does not exist.
    let block = iso0_block("1234", "4111111111111111").await;
    let other = "5555555551234567";
    let algo =
        pinblock::decrypt_pin_block(&zpk, PinBlockFormat::Iso0, block.as_bytes(), Some(other))
            .unwrap_err();
    let e = b
        .translate_pin(req(block, other, "no-such-key"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains(&algo.to_string()), "{e} / {algo}");
    // A good block with no outgoing key: KeyNotFound.
    let e = b
        .translate_pin(req(
            iso0_block("1234", "4111111111111111").await,
            "4111111111111111",
            "no-such-key",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyNotFound, "{e}");
}

#[tokio::test]
async fn pci_pin_rules() {
    let b = hsm().await;
    zone_keys(&b).await;
    let p = "4111111111111111";
    let req = |out_fmt, out_key: &str, block| TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id(out_key),
        outgoing_format: out_fmt,
        pan: pan(p),
        pin_block: block,
    };
    // No translation into ISO format 1 from format 0.
    let e = b
        .translate_pin(req(
            PinBlockFormat::Iso1,
            "zpk",
            iso0_block("1234", p).await,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("format"), "{e}");
    // ISO 4 needs an AES key; ISO 0 a TDES key.
    let e = b
        .translate_pin(req(
            PinBlockFormat::Iso4,
            "zpk",
            iso0_block("1234", p).await,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = b
        .translate_pin(req(
            PinBlockFormat::Iso0,
            "zpk-aes",
            iso0_block("1234", p).await,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // 0 -> 3 and 0 -> 4 (TDES zone to AES zone) are allowed and keep the PIN.
    for (fmt, key) in [
        (PinBlockFormat::Iso3, "zpk"),
        (PinBlockFormat::Iso4, "zpk-aes"),
        (PinBlockFormat::Iso0, "zpk"),
    ] {
        let out = b
            .translate_pin(req(fmt, key, iso0_block("98765", p).await))
            .await
            .unwrap();
        let c = if key == "zpk" {
            BlockCipher::tdes(&hex::decode(ZPK).unwrap())
        } else {
            BlockCipher::aes(&hex::decode(AES_ZPK).unwrap())
        }
        .unwrap();
        let pin = pinblock::decrypt_pin_block(&c, fmt, out.pin_block.as_bytes(), Some(p)).unwrap();
        assert_eq!(pin.as_str(), "98765");
    }
    // A PIN block for another PAN never yields the PIN: error or a different PIN.
    let other = "5555555551234567";
    let r = b
        .translate_pin(TranslatePinRequest {
            pan: pan(other),
            ..req(PinBlockFormat::Iso4, "zpk-aes", iso0_block("1234", p).await)
        })
        .await;
    if let Ok(out) = r {
        let c = BlockCipher::aes(&hex::decode(AES_ZPK).unwrap()).unwrap();
        let pin = pinblock::decrypt_pin_block(
            &c,
            PinBlockFormat::Iso4,
            out.pin_block.as_bytes(),
            Some(other),
        )
        .unwrap();
        assert_ne!(pin.as_str(), "1234");
    }
}

#[tokio::test]
async fn key_management_rules() {
    let b = hsm().await;
    // Parity: a TDES key without odd parity is refused.
    let mut bad = hex::decode(ZPK).unwrap();
    bad[0] ^= 1;
    let e = load(
        &b,
        "bad",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &bad,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("parity"), "{e}");
    // Length must match the algorithm.
    let e = b
        .import_key(
            paycrypto::keyload::kek_from_components(
                id("short"),
                KeyAlgorithm::Tdes3,
                &[&[0x11; 16], &[0x22; 16]],
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("length"), "{e}");
    // Unknown and duplicate names.
    let e = b
        .get_key_info(GetKeyInfoRequest { key: id("nope") })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyNotFound);
    load(
        &b,
        "zpk",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &hex::decode(ZPK).unwrap(),
    )
    .await
    .unwrap();
    let e = load(
        &b,
        "zpk",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &hex::decode(ZPK).unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyExists);
    // Components with a wrong KCV are refused.
    let mut req = paycrypto::keyload::kek_from_components(
        id("kek2"),
        KeyAlgorithm::Tdes2,
        &[&[0x11; 16], &[0x22; 16]],
    )
    .unwrap();
    if let KeyMaterial::Components { component_kcvs, .. } = &mut req.material {
        component_kcvs[1] = Kcv([0, 0, 0]);
    }
    let e = b.import_key(req).await.unwrap_err();
    assert!(e.to_string().contains("component 2"), "{e}");
    // Delete.
    b.delete_key(DeleteKeyRequest { key: id("zpk") })
        .await
        .unwrap();
    assert_eq!(
        b.get_key_info(GetKeyInfoRequest { key: id("zpk") })
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::KeyNotFound
    );
}

#[tokio::test]
async fn export_import_between_backends_and_exportability() {
    let a = hsm().await;
    let c = hsm().await;
    for version in [Tr31Version::B] {
        let name = format!("gen-{version:?}");
        let info = a
            .generate_key(GenerateKeyRequest {
                key_id: id(&name),
                attributes: KeyAttributes::new(
                    KeyUsage::DataEncryption,
                    KeyAlgorithm::Aes256,
                    ModesOfUse::BOTH,
                ),
            })
            .await
            .unwrap();
        let ex = a
            .export_key(ExportKeyRequest::tr31(id(&name), id(common::KEK), version))
            .await
            .unwrap();
        assert_eq!(ex.key_check_value, info.key_check_value);
        let imported = c
            .import_key(ImportKeyRequest {
                key_id: id(&name),
                material: KeyMaterial::Tr31 {
                    kek: id(common::KEK),
                    key_block: ex.key_block,
                },
                expected_kcv: Some(info.key_check_value),
            })
            .await
            .unwrap();
        assert_eq!(imported.attributes, info.attributes);
        // Same key on both: encryption agrees.
        let enc = |b: SoftwareBackend| {
            let name = name.clone();
            async move {
                b.encrypt_data(EncryptDataRequest {
                    key: DataKey::Key(id(&name)),
                    mode: CipherMode::Cbc { iv: vec![0; 16] },
                    plaintext: SecretBytes::from_slice(&[7; 32]),
                })
                .await
                .unwrap()
                .ciphertext
            }
        };
        assert_eq!(enc(a.clone()).await, enc(c.clone()).await);
    }
    a.generate_key(GenerateKeyRequest {
        key_id: id("locked"),
        attributes: KeyAttributes::new(
            KeyUsage::PinEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        )
        .with_exportability(Exportability::NonExportable),
    })
    .await
    .unwrap();
    let e = a
        .export_key(ExportKeyRequest::tr31(
            id("locked"),
            id(common::KEK),
            Tr31Version::B,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage);
}

#[tokio::test]
async fn macs_through_backend() {
    let b = hsm().await;
    let v = &vectors("mac_iso9797_alg3")[0];
    load(
        &b,
        "m3",
        KeyUsage::MacIso9797Alg3,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
        &h(v, "inputs", "key"),
    )
    .await
    .unwrap();
    let data = s(v, "inputs", "data_ascii").as_bytes().to_vec();
    let g = b
        .generate_mac(GenerateMacRequest {
            key: id("m3"),
            algorithm: MacAlgorithm::Iso9797Alg3(Iso9797Padding::Method1),
            data: data.clone(),
            mac_length: Some(4),
        })
        .await
        .unwrap();
    assert_eq!(hex::encode_upper(&g.mac), s(v, "expected", "mac_4bytes"));
    let mut wrong = g.mac.clone();
    wrong[0] ^= 0x80;
    for (mac, want) in [
        (g.mac, Verification::Verified),
        (wrong, Verification::Failed),
    ] {
        let r = b
            .verify_mac(VerifyMacRequest {
                key: id("m3"),
                algorithm: MacAlgorithm::Iso9797Alg3(Iso9797Padding::Method1),
                data: data.clone(),
                mac,
            })
            .await
            .unwrap();
        assert_eq!(r.verification, want);
    }
    // A MAC key for alg 3 cannot be used for CMAC.
    let e = b
        .generate_mac(GenerateMacRequest {
            key: id("m3"),
            algorithm: MacAlgorithm::Cmac,
            data,
            mac_length: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage);
}

#[test]
fn requests_never_print_secrets() {
    let p = "4111111111111111";
    let zpk = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    let block = pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &Pin::new("1234").unwrap(),
        Some(p),
        &mut rand::rng(),
    )
    .unwrap();
    let hexblock = hex::encode_upper(block.as_bytes());
    let req = TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id("zpk"),
        outgoing_format: PinBlockFormat::Iso0,
        pan: pan(p),
        pin_block: block,
    };
    let dbg = format!("{req:?}");
    assert!(
        !dbg.contains(p) && !dbg.contains(&hexblock) && !dbg.to_uppercase().contains(&hexblock),
        "{dbg}"
    );
    assert!(dbg.contains("4111********1111"), "{dbg}");
    let dbg = format!("{:?}", SecretBytes::from_slice(&hex::decode(ZPK).unwrap()));
    assert_eq!(dbg, "***");
}

#[tokio::test]
async fn cvv_values_never_print_in_requests_or_responses() {
    let b = hsm().await;
    load(
        &b,
        "cvk",
        KeyUsage::CardVerification,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
        &hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap(),
    )
    .await
    .unwrap();
    let g = b
        .generate_card_validation(GenerateCardValidationRequest {
            key: id("cvk"),
            pan: pan("4123456789012345"),
            expiry: CardExpiry::new("8701").unwrap(),
            kind: CardValidationKind::Cvv2,
            length: paycrypto::CvvLength::THREE,
        })
        .await
        .unwrap();
    let shown = format!("{g:?}");
    assert!(shown.contains("Cvv(***)"), "{shown}");
    assert!(!shown.contains(g.value.expose()), "{shown}");
    let req = VerifyCardValidationRequest {
        key: id("cvk"),
        pan: pan("4123456789012345"),
        expiry: CardExpiry::new("8701").unwrap(),
        kind: CardValidationKind::Cvv2,
        value: Cvv::new("987").unwrap(),
    };
    let shown = format!("{req:?}");
    assert!(
        shown.contains("Cvv(***)") && !shown.contains("987"),
        "{shown}"
    );
    // Malformed values cannot be constructed, so no backend sees them.
    assert_eq!(
        Cvv::new("98").unwrap_err().kind(),
        paycrypto::ErrorKind::InvalidInput
    );
}

/// Issuer PIN data: which keys may do what, and nothing secret in `Debug`.
#[tokio::test]
async fn pin_verification_key_rules_and_redaction() {
    let b = hsm().await;
    zone_keys(&b).await;
    let pvk = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
    for (name, usage, modes) in [
        (
            "pvk-ibm",
            KeyUsage::PinVerificationIbm3624,
            ModesOfUse::GENERATE_VERIFY,
        ),
        (
            "pvk-visa",
            KeyUsage::PinVerificationVisaPvv,
            ModesOfUse::GENERATE_VERIFY,
        ),
        (
            "pvk-verify-only",
            KeyUsage::PinVerificationVisaPvv,
            ModesOfUse {
                verify: true,
                ..ModesOfUse::default()
            },
        ),
    ] {
        load(&b, name, usage, KeyAlgorithm::Tdes2, modes, &pvk)
            .await
            .unwrap();
    }
    // A PVK as a PIN verification key cannot be an AES key: refused at import.
    let e = load(
        &b,
        "pvk-aes",
        KeyUsage::PinVerificationVisaPvv,
        KeyAlgorithm::Aes128,
        ModesOfUse::GENERATE_VERIFY,
        &[0x11; 16],
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let p = pan("4111111111111111");
    let visa = |pvk: &str, pek: &str, format| GeneratePinDataRequest {
        generation_key: id(pvk),
        encryption_key: id(pek),
        format,
        pan: p.clone(),
        method: PinGeneration::VisaPin {
            pvki: Pvki::new(1).unwrap(),
            pin_length: PinLength::FOUR,
        },
    };
    // A PVK cannot encrypt data, nor encrypt a PIN block.
    let e = b
        .encrypt_data(EncryptDataRequest {
            key: DataKey::Key(id("pvk-visa")),
            mode: CipherMode::Ecb,
            plaintext: SecretBytes::new(vec![0; 8]),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    let e = b
        .generate_pin_data(visa("pvk-visa", "pvk-visa", PinBlockFormat::Iso0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    assert!(e.to_string().contains("P0"), "{e}");
    // A PIN key cannot generate or verify a PVV; an IBM PVK cannot do Visa.
    let e = b
        .generate_pin_data(visa("zpk", "zpk", PinBlockFormat::Iso0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    let e = b
        .generate_pin_data(visa("pvk-ibm", "zpk", PinBlockFormat::Iso0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    assert!(e.to_string().contains("V2"), "{e}");
    // Modes of use: a verify-only PVK cannot generate.
    let e = b
        .generate_pin_data(visa("pvk-verify-only", "zpk", PinBlockFormat::Iso0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    // ISO 4 needs the AES PIN key; ISO 2 is no PIN data format.
    let e = b
        .generate_pin_data(visa("pvk-visa", "zpk", PinBlockFormat::Iso4))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = b
        .generate_pin_data(visa("pvk-visa", "zpk", PinBlockFormat::Iso2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("format"), "{e}");

    // Generated in ISO 4 under the AES key, verified by the verify-only PVK.
    let g = b
        .generate_pin_data(visa("pvk-visa", "zpk-aes", PinBlockFormat::Iso4))
        .await
        .unwrap();
    assert_eq!(g.pin_block.as_bytes().len(), 16);
    let PinData::Pvv(pvv) = g.pin_data.clone() else {
        panic!("no PVV")
    };
    let shown = format!("{g:?}");
    assert!(shown.contains("Pvv(***)"), "{shown}");
    assert!(!shown.contains(&pvv.expose()), "{shown}");
    let req = VerifyPinDataRequest {
        verification_key: id("pvk-verify-only"),
        pin_key: PinKey::Key(id("zpk-aes")),
        format: PinBlockFormat::Iso4,
        pan: p.clone(),
        pin_block: g.pin_block.clone(),
        method: PinVerification::VisaPvv {
            pvki: Pvki::new(1).unwrap(),
            pvv: pvv.clone(),
        },
        pin_length: Some(PinLength::FOUR),
    };
    let shown = format!("{req:?}");
    assert!(
        !shown.contains(&pvv.expose()) && !shown.contains(p.expose()),
        "{shown}"
    );
    assert!(b
        .verify_pin_data(req.clone())
        .await
        .unwrap()
        .verification
        .is_verified());
    // Another PVKI, another PAN: Failed, not an error.
    let other_pvki = VerifyPinDataRequest {
        method: PinVerification::VisaPvv {
            pvki: Pvki::new(2).unwrap(),
            pvv,
        },
        ..req.clone()
    };
    assert_eq!(
        b.verify_pin_data(other_pvki).await.unwrap().verification,
        Verification::Failed
    );
    // The zone key cannot verify.
    let e = b
        .verify_pin_data(VerifyPinDataRequest {
            verification_key: id("zpk"),
            ..req.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyUsage, "{e}");
    assert_eq!(e.op(), Some(Operation::VerifyPinData));
    // A block that does not decode under the key is refused, like a translation.
    let e = b
        .verify_pin_data(VerifyPinDataRequest {
            pin_block: EncryptedPinBlock::from_bytes(&[0x5A; 16]).unwrap(),
            ..req
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

//! The emulator's data-plane operations beyond the typed model, in the
//! service's JSON: DUKPT and EMV MACs (`GenerateMac` / `VerifyMac` members
//! `DukptIso9797Algorithm1/3`, `DukptCmac`, `EmvMac`),
//! `GenerateMacEmvPinChange` and `ReEncryptData`, checked against published
//! vectors (`tests/vectors/vectors.json`, each naming its source). Keys with
//! known values enter through the AWS backend (TR-31 under a KEK).

mod common;

use common::{h, s, vectors};
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::algo::{emv, mac, pinblock};
use paycrypto::aws::AwsBackend;
use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};
use paycrypto::types::MkDerivation;
use paycrypto::{KeyAlgorithm, KeyUsage, ModesOfUse, Pin, PinBlockFormat};
use serde_json::{json, Value};

async fn setup() -> (RunningEmulator, AwsBackend) {
    let emu = start(EmulatorConfig::default()).await.expect("emulator");
    let aws = AwsBackend::builder()
        .endpoint_url(emu.endpoint_url())
        .region("us-east-1")
        .credentials("AKIDDATAEXT", "data/ext/secret", None)
        .sdk_retries(false)
        .build()
        .await;
    common::load_kek(&aws).await;
    (emu, aws)
}

async fn load(
    aws: &AwsBackend,
    name: &str,
    usage: KeyUsage,
    alg: KeyAlgorithm,
    modes: ModesOfUse,
    key: &[u8],
) {
    common::load(aws, name, usage, alg, modes, key)
        .await
        .unwrap_or_else(|e| panic!("load {name}: {e}"));
}

/// One data-plane call: (HTTP status, JSON body).
async fn call(emu: &RunningEmulator, path: &str, body: Value) -> (u16, Value) {
    let a = emu
        .emulator()
        .handle_json("POST", path, None, body.to_string().as_bytes())
        .await;
    (a.status, serde_json::from_slice(&a.body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dukpt_macs_match_the_published_x9_24_vectors() {
    let (emu, aws) = setup().await;
    let v = vectors("tdes_dukpt_transaction")
        .into_iter()
        .find(|v| v["expected"]["request_mac_x919_4bytes"].is_string())
        .expect("a TDES DUKPT MAC vector");
    load(
        &aws,
        "dx/bdk",
        KeyUsage::Bdk,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(&v, "inputs", "bdk"),
    )
    .await;
    let data = hex::encode_upper(s(&v, "inputs", "mac_and_encryption_data_ascii"));
    let ksn = s(&v, "inputs", "ksn");
    for (member, variant, len, want) in [
        (
            "DukptIso9797Algorithm3",
            "REQUEST",
            4,
            s(&v, "expected", "request_mac_x919_4bytes"),
        ),
        (
            "DukptIso9797Algorithm3",
            "RESPONSE",
            4,
            s(&v, "expected", "response_mac_x919_4bytes"),
        ),
        (
            "DukptCmac",
            "REQUEST",
            8,
            s(&v, "expected", "request_cmac_tdes_8bytes"),
        ),
        (
            "DukptCmac",
            "RESPONSE",
            8,
            s(&v, "expected", "response_cmac_tdes_8bytes"),
        ),
    ] {
        let attrs = json!({ member: { "KeySerialNumber": ksn, "DukptKeyVariant": variant } });
        let (st, b) = call(
            &emu,
            "/mac/generate",
            json!({
                "KeyIdentifier": "alias/dx/bdk", "MessageData": data,
                "GenerationAttributes": attrs, "MacLength": len,
            }),
        )
        .await;
        assert_eq!(st, 200, "{member} {variant}: {b}");
        assert_eq!(b["Mac"], want, "{member} {variant}");
        let (st, b) = call(
            &emu,
            "/mac/verify",
            json!({
                "KeyIdentifier": "alias/dx/bdk", "MessageData": data,
                "VerificationAttributes": attrs, "Mac": want,
            }),
        )
        .await;
        assert_eq!(st, 200, "{member} {variant} verify: {b}");
        let mut bad = hex::decode(want).unwrap();
        bad[0] ^= 1;
        let (st, b) = call(
            &emu,
            "/mac/verify",
            json!({
                "KeyIdentifier": "alias/dx/bdk", "MessageData": data,
                "VerificationAttributes": attrs, "Mac": hex::encode_upper(bad),
            }),
        )
        .await;
        assert_eq!(
            (st, b["Reason"].as_str()),
            (400, Some("INVALID_MAC")),
            "{b}"
        );
    }
    // ISO 9797-1 algorithm 1 is algorithm 3 without the final TDES step:
    // CBC-MAC (pad method 1) under the same published MAC request key.
    let cbc = mac::cbc_mac(
        &BlockCipher::tdes(&h(&v, "expected", "mac_request_key")).unwrap(),
        s(&v, "inputs", "mac_and_encryption_data_ascii").as_bytes(),
        mac::Padding::Method1,
    )
    .unwrap();
    let (st, b) = call(&emu, "/mac/generate", json!({
        "KeyIdentifier": "alias/dx/bdk", "MessageData": data,
        "GenerationAttributes": { "DukptIso9797Algorithm1": { "KeySerialNumber": ksn, "DukptKeyVariant": "BIDIRECTIONAL" } },
    }))
    .await;
    assert_eq!(
        (st, b["Mac"].as_str()),
        (200, Some(hex::encode_upper(cbc.as_bytes()).as_str())),
        "{b}"
    );
    // A zone key is no BDK.
    load(
        &aws,
        "dx/dek",
        KeyUsage::DataEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &h(&v, "inputs", "bdk"),
    )
    .await;
    let (st, b) = call(&emu, "/mac/generate", json!({
        "KeyIdentifier": "alias/dx/dek", "MessageData": data,
        "GenerationAttributes": { "DukptCmac": { "KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST" } },
    }))
    .await;
    assert_eq!(
        (st, b["__type"].as_str()),
        (400, Some("ValidationException")),
        "{b}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_dukpt_cmac_uses_the_published_mac_generation_key() {
    let (emu, aws) = setup().await;
    let v = vectors("aes_dukpt_working_keys")
        .into_iter()
        .find(|v| v["inputs"]["working_key_type"] == "AES128" && s(v, "inputs", "bdk").len() == 32)
        .expect("an AES-128 DUKPT working-key vector");
    load(
        &aws,
        "dx/bdk-aes",
        KeyUsage::Bdk,
        KeyAlgorithm::Aes128,
        ModesOfUse::DERIVE,
        &h(&v, "inputs", "bdk"),
    )
    .await;
    let msg = b"paycrypto DUKPT CMAC";
    let want = mac::cmac(
        &BlockCipher::aes(&h(&v, "expected", "mac_generation_key")).unwrap(),
        msg,
    );
    let (st, b) = call(
        &emu,
        "/mac/generate",
        json!({
            "KeyIdentifier": "alias/dx/bdk-aes", "MessageData": hex::encode_upper(msg),
            "GenerationAttributes": { "DukptCmac": {
                "KeySerialNumber": s(&v, "inputs", "ksn"), "DukptKeyVariant": "REQUEST",
                "DukptDerivationType": "AES_128" } },
        }),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["Mac"], hex::encode_upper(want.as_bytes()));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emv_mac_matches_the_published_visa_secure_messaging_vector() {
    let (emu, aws) = setup().await;
    let v = &vectors("emv_secure_messaging")[0];
    load(
        &aws,
        "dx/smi",
        KeyUsage::EmvSmIntegrity,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(v, "inputs", "issuer_master_key"),
    )
    .await;
    let body = |mac_len: Option<u32>| {
        let mut b = json!({
            "KeyIdentifier": "alias/dx/smi", "MessageData": s(v, "inputs", "mac_data"),
            "GenerationAttributes": { "EmvMac": {
                "MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": s(v, "inputs", "pan"),
                "PanSequenceNumber": "00", "SessionKeyDerivationMode": "VISA",
                "SessionKeyDerivationValue": { "ApplicationTransactionCounter": s(v, "inputs", "atc") } } },
        });
        if let Some(n) = mac_len {
            b["MacLength"] = json!(n);
        }
        b
    };
    let (st, b) = call(&emu, "/mac/generate", body(None)).await;
    assert_eq!(
        (st, b["Mac"].as_str()),
        (200, Some(s(v, "expected", "command_mac"))),
        "{b}"
    );
    let (_, b) = call(&emu, "/mac/generate", body(Some(4))).await;
    assert_eq!(b["Mac"].as_str(), s(v, "expected", "command_mac").get(..8));
    let mut vb = body(None);
    vb["VerificationAttributes"] = vb["GenerationAttributes"].take();
    vb["Mac"] = json!(s(v, "expected", "command_mac"));
    let (st, b) = call(&emu, "/mac/verify", vb).await;
    assert_eq!(st, 200, "{b}");
    // EMV2000 and AMEX session keys are refused by name.
    let mut eb = body(None);
    eb["GenerationAttributes"]["EmvMac"]["SessionKeyDerivationMode"] = json!("EMV2000");
    let (st, b) = call(&emu, "/mac/generate", eb).await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b["message"].as_str().unwrap_or("").contains("EMV2000"),
        "{b}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emv_pin_change_enciphers_the_iso2_block_and_macs_the_script() {
    let (emu, aws) = setup().await;
    let (imk_smi, imk_smc) = (
        hex::decode("FEDCBA98765432100123456789ABCDEF").unwrap(),
        hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap(),
    );
    let pek = hex::decode("13345779133457791334577913345779").unwrap();
    load(
        &aws,
        "dx/smi",
        KeyUsage::EmvSmIntegrity,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &imk_smi,
    )
    .await;
    load(
        &aws,
        "dx/smc",
        KeyUsage::EmvSmConfidentiality,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &imk_smc,
    )
    .await;
    load(
        &aws,
        "dx/pek",
        KeyUsage::PinEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &pek,
    )
    .await;
    let (pan, psn, ac) = (
        "5413330089600010",
        "01",
        hex::decode("1234567890ABCDEF").unwrap(),
    );
    let pin = Pin::new("4321").unwrap();
    let block = pinblock::encrypt_pin_block(
        &BlockCipher::tdes(&pek).unwrap(),
        PinBlockFormat::Iso0,
        &pin,
        Some(pan),
        &mut rand::rng(),
    )
    .unwrap();
    let message = "8424000218002A1234567890ABCDEF";
    let req = |position: &str, padding: &str, mode: &str| {
        json!({
            "NewPinPekIdentifier": "alias/dx/pek", "NewEncryptedPinBlock": hex::encode_upper(block.as_bytes()),
            "PinBlockFormat": "ISO_FORMAT_0",
            "SecureMessagingIntegrityKeyIdentifier": "alias/dx/smi",
            "SecureMessagingConfidentialityKeyIdentifier": "alias/dx/smc",
            "MessageData": message,
            "DerivationMethodAttributes": { "EmvCommon": {
                "MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": pan, "PanSequenceNumber": psn,
                "ApplicationCryptogram": hex::encode_upper(&ac), "Mode": mode,
                "PinBlockPaddingType": padding, "PinBlockLengthPosition": position } },
        })
    };
    let session = |imk: &[u8]| {
        let mk = emv::derive_icc_mk(imk, pan, Some(psn), MkDerivation::OptionA).unwrap();
        emv::derive_common_session_key(&mk[..], &ac).unwrap()
    };
    for (position, padding, mode) in [
        ("FRONT_OF_PIN_BLOCK", "ISO_IEC_7816_4", "ECB"),
        ("FRONT_OF_PIN_BLOCK", "ISO_IEC_7816_4", "CBC"),
        ("NONE", "NO_PADDING", "ECB"),
    ] {
        let (st, b) = call(
            &emu,
            "/macemvpinchange/generate",
            req(position, padding, mode),
        )
        .await;
        assert_eq!(st, 200, "{b}");
        let enc = hex::decode(b["EncryptedPinBlock"].as_str().unwrap()).unwrap();
        let mut clear = enc.clone();
        let c = BlockCipher::tdes(&session(&imk_smc)[..]).unwrap();
        if mode == "CBC" {
            c.decrypt_cbc(&[0; 8], &mut clear).unwrap();
        } else {
            c.decrypt_ecb(&mut clear).unwrap();
        }
        let iso2 = if position == "NONE" {
            assert_eq!(clear.len(), 8);
            clear.clone()
        } else {
            assert_eq!((clear.len(), clear[0], clear[9]), (16, 0x08, 0x80));
            assert!(clear[10..].iter().all(|x| *x == 0));
            clear[1..9].to_vec()
        };
        // ISO 9564 format 2: 2, the PIN length, the PIN, F fill.
        assert_eq!(hex::encode_upper(&iso2), "244321FFFFFFFFFF");
        let mut macced = hex::decode(message).unwrap();
        macced.extend_from_slice(&enc);
        let want = emv::secure_messaging_mac(&session(&imk_smi)[..], &macced).unwrap();
        assert_eq!(
            b["Mac"].as_str(),
            Some(hex::encode_upper(want).as_str()),
            "{b}"
        );
        assert_eq!(b["NewPinPekKeyCheckValue"].as_str().map(str::len), Some(6));
    }
    // Mismatched padding members, and the derivations not implemented, are
    // ValidationExceptions naming what is refused.
    let (st, b) = call(
        &emu,
        "/macemvpinchange/generate",
        req("NONE", "ISO_IEC_7816_4", "ECB"),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    let mut visa = req("NONE", "NO_PADDING", "ECB");
    visa["DerivationMethodAttributes"] = json!({ "Visa": {
        "MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": pan, "PanSequenceNumber": psn,
        "ApplicationTransactionCounter": "002A", "AuthorizationRequestKeyIdentifier": "alias/dx/smi" } });
    let (st, b) = call(&emu, "/macemvpinchange/generate", visa).await;
    assert_eq!(st, 400, "{b}");
    assert!(b["message"].as_str().unwrap_or("").contains("Visa"), "{b}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_takes_p2pe_data_from_dukpt_to_a_zone_key() {
    let (emu, aws) = setup().await;
    let v = vectors("tdes_dukpt_transaction")
        .into_iter()
        .find(|v| v["expected"]["encrypted_request_data_cbc_iv0"].is_string())
        .expect("a TDES DUKPT data vector");
    load(
        &aws,
        "dx/bdk",
        KeyUsage::Bdk,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(&v, "inputs", "bdk"),
    )
    .await;
    let zone = [0x42u8; 16];
    load(
        &aws,
        "dx/zone",
        KeyUsage::DataEncryption,
        KeyAlgorithm::Aes128,
        ModesOfUse::BOTH,
        &zone,
    )
    .await;
    let plain = h(&v, "inputs", "encryption_plaintext_hex");
    // 24 bytes of published plaintext: the AES side needs whole 16-byte
    // blocks, so the TDES DEK in between is not possible; go to a TDES key.
    let tdes = [
        0x1Fu8, 0x2F, 0x37, 0x4F, 0x57, 0x6D, 0x75, 0x8F, 0x97, 0xA7, 0xB5, 0xC7, 0xD5, 0xE3, 0xF1,
        0x01,
    ];
    load(
        &aws,
        "dx/zone-tdes",
        KeyUsage::DataEncryption,
        KeyAlgorithm::Tdes2,
        ModesOfUse::BOTH,
        &tdes,
    )
    .await;
    let (st, b) = call(
        &emu,
        &format!("/keys/{}/reencrypt", "alias%2Fdx%2Fbdk"),
        json!({
            "OutgoingKeyIdentifier": "alias/dx/zone-tdes",
            "CipherText": s(&v, "expected", "encrypted_request_data_cbc_iv0"),
            "IncomingEncryptionAttributes": { "Dukpt": {
                "KeySerialNumber": s(&v, "inputs", "ksn"), "Mode": "CBC",
                "DukptKeyVariant": "REQUEST", "InitializationVector": "0000000000000000" } },
            "OutgoingEncryptionAttributes": { "Symmetric": { "Mode": "ECB" } },
        }),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let mut ct = hex::decode(b["CipherText"].as_str().unwrap()).unwrap();
    BlockCipher::tdes(&tdes)
        .unwrap()
        .decrypt_ecb(&mut ct)
        .unwrap();
    assert_eq!(ct, plain, "the published plaintext, now under the zone key");
    assert!(b["KeyArn"].as_str().unwrap().contains(":key/"), "{b}");
    // The other way needs a key that may decrypt: a BDK cannot be the
    // outgoing side of a symmetric re-encryption.
    let (st, b) = call(
        &emu,
        "/keys/alias%2Fdx%2Fzone/reencrypt",
        json!({
            "OutgoingKeyIdentifier": "alias/dx/bdk", "CipherText": "00".repeat(16),
            "IncomingEncryptionAttributes": { "Symmetric": { "Mode": "ECB" } },
            "OutgoingEncryptionAttributes": { "Symmetric": { "Mode": "ECB" } },
        }),
    )
    .await;
    assert_eq!(
        (st, b["__type"].as_str()),
        (400, Some("ValidationException")),
        "{b}"
    );
    emu.shutdown().await;
}

/// The escape hatch: the backend's own SDK clients reach what the typed
/// operations do not model, answering the SDK's types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backends_sdk_clients_reach_dukpt_macs_and_tags() {
    use aws_sdk_paymentcryptographydata::types::{
        DukptKeyVariant, MacAlgorithmDukpt, MacAttributes,
    };
    let (emu, aws) = setup().await;
    let v = vectors("tdes_dukpt_transaction")
        .into_iter()
        .find(|v| v["expected"]["request_mac_x919_4bytes"].is_string())
        .expect("a TDES DUKPT MAC vector");
    load(
        &aws,
        "dx/bdk",
        KeyUsage::Bdk,
        KeyAlgorithm::Tdes2,
        ModesOfUse::DERIVE,
        &h(&v, "inputs", "bdk"),
    )
    .await;
    let out = aws
        .data_client()
        .generate_mac()
        .key_identifier("alias/dx/bdk")
        .message_data(hex::encode_upper(s(
            &v,
            "inputs",
            "mac_and_encryption_data_ascii",
        )))
        .generation_attributes(MacAttributes::DukptIso9797Algorithm3(
            MacAlgorithmDukpt::builder()
                .key_serial_number(s(&v, "inputs", "ksn"))
                .dukpt_key_variant(DukptKeyVariant::Request)
                .build()
                .unwrap(),
        ))
        .mac_length(4)
        .send()
        .await
        .unwrap();
    assert_eq!(out.mac(), s(&v, "expected", "request_mac_x919_4bytes"));
    let arn = aws
        .control_client()
        .get_alias()
        .alias_name("alias/dx/bdk")
        .send()
        .await
        .unwrap()
        .alias()
        .unwrap()
        .key_arn()
        .unwrap()
        .to_owned();
    aws.control_client()
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_paymentcryptography::types::Tag::builder()
                .key("owner")
                .value("p2pe")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = aws
        .control_client()
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "owner");
    emu.shutdown().await;
}

//! ECDH key exchange with the emulator: `ImportKey` / `ExportKey`
//! `DiffieHellmanTr31KeyBlock` and `TranslateKeyMaterial`, against a partner
//! that agrees the key-block protection key on its own side
//! (`tests/support/ecdh_partner.rs`: rcgen certificates, aws-lc-rs ECDH, the
//! crate's KDFs and TR-31), with both KDFs and several hashes and key
//! algorithms.

mod common;
#[path = "support/ecdh_partner.rs"]
mod ecdh_partner;

use ecdh_partner::{field, point_of, wrap, Partner};
use paycrypto::algo::kdf::KdfHash;
use paycrypto::algo::tr31;
use paycrypto::aws::AwsBackend;
use paycrypto::keyload::combine_components;
use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};
use paycrypto::{KeyAlgorithm, KeyAttributes, KeyUsage, ModesOfUse};
use serde_json::{json, Value};

async fn call(emu: &RunningEmulator, op: &str, body: Value) -> (u16, Value) {
    let (target, path) = match op {
        "TranslateKeyMaterial" => (None, "/keymaterial/translate".to_owned()),
        _ => (
            Some(format!("PaymentCryptographyControlPlane.{op}")),
            "/".to_owned(),
        ),
    };
    let a = emu
        .emulator()
        .handle_json(
            "POST",
            &path,
            target.as_deref(),
            body.to_string().as_bytes(),
        )
        .await;
    (a.status, serde_json::from_slice(&a.body).unwrap())
}

async fn ok(emu: &RunningEmulator, op: &str, body: Value) -> Value {
    let (st, v) = call(emu, op, body).await;
    assert_eq!(st, 200, "{op}: {v}");
    v
}

fn kcv(alg: KeyAlgorithm, key: &[u8]) -> String {
    paycrypto::software::key_check_value(alg, key)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdh_tr31_import_export_and_translate() {
    let emu = start(EmulatorConfig::default()).await.unwrap();
    let aws = AwsBackend::builder()
        .endpoint_url(emu.endpoint_url())
        .region("us-east-1")
        .credentials("AKIDECDH", "ecdh/secret", None)
        .sdk_retries(false)
        .build()
        .await;
    common::load_kek(&aws).await;
    let partner = Partner::new();
    let root = ok(&emu, "ImportKey", json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY",
            "KeyAlgorithm": "ECC_NIST_P384", "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": field(&partner.root) } } }))
    .await["Key"]["KeyArn"]
        .clone();
    let k3 = ok(&emu, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": { "DeriveKey": true } },
        "Exportable": false,
    }))
    .await["Key"]["KeyArn"]
        .clone();
    let cert = ok(
        &emu,
        "GetPublicKeyCertificate",
        json!({ "KeyIdentifier": k3 }),
    )
    .await;
    let point = point_of(cert["KeyCertificate"].as_str().unwrap());
    let shared = hex::decode("0123456789ABCDEF0011223344556677").unwrap();
    let working = [0x5Au8; 16];
    let attrs = KeyAttributes::new(
        KeyUsage::DataEncryption,
        KeyAlgorithm::Aes128,
        ModesOfUse::BOTH,
    );
    let kek_clear = combine_components(
        KeyAlgorithm::Tdes2,
        &[
            &hex::decode(common::KEK_C1).unwrap(),
            &hex::decode(common::KEK_C2).unwrap(),
        ],
    )
    .unwrap();
    for (kdf_name, nist, hash, derive) in [
        ("NIST_SP800", true, KdfHash::Sha256, KeyAlgorithm::Aes256),
        ("ANSI_X963", false, KdfHash::Sha384, KeyAlgorithm::Aes128),
        ("NIST_SP800", true, KdfHash::Sha512, KeyAlgorithm::Tdes3),
    ] {
        let what = format!("{kdf_name} {} {}", hash.aws_name(), derive.aws_name());
        let kbpk = partner.kbpk(&point, nist, hash, &shared, derive);
        let params = json!({
            "PrivateKeyIdentifier": k3, "CertificateAuthorityPublicKeyIdentifier": root,
            "PublicKeyCertificate": field(&partner.cert), "DeriveKeyAlgorithm": derive.aws_name(),
            "KeyDerivationFunction": kdf_name, "KeyDerivationHashAlgorithm": hash.aws_name(),
            "DerivationData": { "SharedInformation": hex::encode_upper(&shared) },
        });
        // Import: the partner's block under the agreed key.
        let block = wrap(&kbpk, derive, &attrs, &working);
        let mut import = params.clone();
        import["WrappedKeyBlock"] = json!(block);
        let imported = ok(
            &emu,
            "ImportKey",
            json!({ "KeyMaterial": { "DiffieHellmanTr31KeyBlock": import } }),
        )
        .await;
        assert_eq!(
            imported["Key"]["KeyCheckValue"],
            kcv(KeyAlgorithm::Aes128, &working),
            "{what}"
        );
        assert_eq!(
            imported["Key"]["KeyAttributes"]["KeyUsage"],
            "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
        );
        // Export: the partner unwraps the emulator's block with its own key.
        let out = ok(
            &emu,
            "ExportKey",
            json!({
                "ExportKeyIdentifier": imported["Key"]["KeyArn"],
                "KeyMaterial": { "DiffieHellmanTr31KeyBlock": params.clone() },
            }),
        )
        .await;
        let (h, clear) =
            tr31::unwrap(&kbpk, out["WrappedKey"]["KeyMaterial"].as_str().unwrap()).unwrap();
        assert_eq!(clear.to_vec(), working.to_vec(), "{what}");
        assert_eq!(h.key_usage.as_str(), "D0");
        // Translate: the partner's block comes out under the emulator's KEK.
        let t = ok(&emu, "TranslateKeyMaterial", json!({
            "IncomingKeyMaterial": { "DiffieHellmanTr31KeyBlock": import },
            "OutgoingKeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": "alias/kek/test" } },
        }))
        .await;
        assert_eq!(
            t["WrappedKey"]["WrappedKeyMaterialFormat"],
            "TR31_KEY_BLOCK"
        );
        assert_eq!(
            t["WrappedKey"]["KeyCheckValue"],
            kcv(KeyAlgorithm::Aes128, &working)
        );
        let (_, clear) = tr31::unwrap(
            &kek_clear,
            t["WrappedKey"]["WrappedKeyMaterial"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(clear.to_vec(), working.to_vec(), "{what}");
        // Another SharedInformation agrees another key: the block no longer opens.
        let mut other = import.clone();
        other["DerivationData"]["SharedInformation"] = json!("00");
        let (st, v) = call(
            &emu,
            "ImportKey",
            json!({ "KeyMaterial": { "DiffieHellmanTr31KeyBlock": other } }),
        )
        .await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{v}"
        );
    }
    // A partner certificate the named CA did not sign, an HMAC derived key,
    // a private key that is not K3: refused.
    let stranger = Partner::new();
    let base = json!({
        "PrivateKeyIdentifier": k3, "CertificateAuthorityPublicKeyIdentifier": root,
        "PublicKeyCertificate": field(&stranger.cert), "DeriveKeyAlgorithm": "AES_256",
        "KeyDerivationFunction": "NIST_SP800", "KeyDerivationHashAlgorithm": "SHA_256",
        "DerivationData": { "SharedInformation": "00" }, "WrappedKeyBlock": "D".repeat(64),
    });
    let mut hmac = base.clone();
    hmac["PublicKeyCertificate"] = json!(field(&partner.cert));
    hmac["DeriveKeyAlgorithm"] = json!("HMAC_SHA256");
    let mut not_k3 = hmac.clone();
    not_k3["DeriveKeyAlgorithm"] = json!("AES_256");
    not_k3["PrivateKeyIdentifier"] = json!(root);
    for (name, body) in [("stranger", base), ("hmac", hmac), ("not K3", not_k3)] {
        let (st, v) = call(
            &emu,
            "ImportKey",
            json!({ "KeyMaterial": { "DiffieHellmanTr31KeyBlock": body } }),
        )
        .await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{name}: {v}"
        );
    }
    emu.shutdown().await;
}

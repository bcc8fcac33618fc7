//! The AWS emulator's JSON parsing under random and mutated bodies, through
//! `Emulator::handle_json` (the server's path minus socket and SigV4): no
//! panic, every error a documented AWS error type with its documented status,
//! and no error message carrying key material or any hex/digit value of the
//! request.

use paycrypto::server::aws::{Emulator, EmulatorConfig, JsonAnswer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::PathBuf;

const CP: &str = "PaymentCryptographyControlPlane.";
const PAN: &str = "4111111111111111";

/// (alias, KeyUsage, KeyAlgorithm, modes of use).
const KEYS: &[(&str, &str, &str, &[&str])] = &[
    (
        "pek",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
    ),
    (
        "pek-aes",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
    ),
    (
        "bdk",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        &["DeriveKey"],
    ),
    (
        "bdk-aes",
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        &["DeriveKey"],
    ),
    (
        "cvk",
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
    ),
    (
        "imk",
        "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        "TDES_2KEY",
        &["DeriveKey"],
    ),
    (
        "dek",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt"],
    ),
    (
        "dek-aes",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt"],
    ),
    (
        "mac",
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
    ),
    (
        "cmac",
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        &["Generate", "Verify"],
    ),
    (
        "hmac",
        "TR31_M7_HMAC_KEY",
        "HMAC_SHA256",
        &["Generate", "Verify"],
    ),
    (
        "pvk-ibm",
        "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
    ),
    (
        "pvk-visa",
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
    ),
    (
        "kek",
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
    ),
    (
        "kbpk",
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
    ),
];

/// Documented error types and the statuses each may carry (control-plane
/// client faults are all 400 in awsJson1_0).
const DOCUMENTED: &[(&str, &[u16])] = &[
    ("ValidationException", &[400]),
    ("SerializationException", &[400]),
    ("UnknownOperationException", &[400, 404]),
    ("ResourceNotFoundException", &[400, 404]),
    ("ConflictException", &[400, 409]),
    ("VerificationFailedException", &[400]),
    ("AccessDeniedException", &[403]),
    ("ServiceQuotaExceededException", &[400, 402]),
    ("ThrottlingException", &[400, 429]),
];

/// Every operation with a well-formed body to mutate: (method, path,
/// control-plane operation, body).
fn operations() -> Vec<(&'static str, &'static str, Option<&'static str>, Value)> {
    let key_attrs = json!({
        "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
        "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true }
    });
    vec![
        (
            "POST",
            "/pindata/translate",
            None,
            json!({
                "IncomingKeyIdentifier": "alias/pek", "OutgoingKeyIdentifier": "alias/pek-aes",
                "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
                "OutgoingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": PAN } },
                "EncryptedPinBlock": "0123456789ABCDEF",
                "IncomingDukptAttributes": null
            }),
        ),
        (
            "POST",
            "/pindata/translate",
            None,
            json!({
                "IncomingKeyIdentifier": "alias/bdk", "OutgoingKeyIdentifier": "alias/pek",
                "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
                "OutgoingTranslationAttributes": { "IsoFormat1": {} },
                "EncryptedPinBlock": "0123456789ABCDEF",
                "IncomingDukptAttributes": { "KeySerialNumber": "FFFF9876543210E00001", "DukptKeyDerivationType": "TDES_2KEY", "DukptKeyVariant": "BIDIRECTIONAL" }
            }),
        ),
        (
            "POST",
            "/keys/alias%2Fdek-aes/encrypt",
            None,
            json!({
                "PlainText": "00112233445566778899AABBCCDDEEFF",
                "EncryptionAttributes": { "Symmetric": { "Mode": "CBC", "InitializationVector": "00000000000000000000000000000000" } }
            }),
        ),
        (
            "POST",
            "/keys/alias%2Fdek/decrypt",
            None,
            json!({
                "CipherText": "0011223344556677",
                "DecryptionAttributes": { "Symmetric": { "Mode": "ECB" } }
            }),
        ),
        (
            "POST",
            "/keys/alias%2Fbdk/decrypt",
            None,
            json!({
                "CipherText": "00112233445566778899AABBCCDDEEFF",
                "DecryptionAttributes": { "Dukpt": { "KeySerialNumber": "FFFF9876543210E00001", "Mode": "CBC", "DukptKeyVariant": "BIDIRECTIONAL", "InitializationVector": "0000000000000000" } }
            }),
        ),
        (
            "POST",
            "/cardvalidationdata/generate",
            None,
            json!({
                "KeyIdentifier": "alias/cvk", "PrimaryAccountNumber": PAN,
                "GenerationAttributes": { "CardVerificationValue1": { "CardExpiryDate": "1226", "ServiceCode": "101" } },
                "ValidationDataLength": 3
            }),
        ),
        (
            "POST",
            "/cardvalidationdata/verify",
            None,
            json!({
                "KeyIdentifier": "alias/cvk", "PrimaryAccountNumber": PAN, "ValidationData": "123",
                "VerificationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1226" } }
            }),
        ),
        (
            "POST",
            "/cryptogram/verify",
            None,
            json!({
                "KeyIdentifier": "alias/imk", "TransactionData": "00000000010000000000000008400000000000084007011203000000008000",
                "AuthRequestCryptogram": "0102030405060708", "MajorKeyDerivationMode": "EMV_OPTION_A",
                "SessionKeyDerivationAttributes": { "EmvCommon": { "PrimaryAccountNumber": PAN, "PanSequenceNumber": "00", "ApplicationTransactionCounter": "0001" } },
                "AuthResponseAttributes": { "ArpcMethod1": { "AuthResponseCode": "3030" } }
            }),
        ),
        (
            "POST",
            "/mac/generate",
            None,
            json!({
                "KeyIdentifier": "alias/cmac", "MessageData": "00112233445566778899",
                "GenerationAttributes": { "Algorithm": "CMAC" }, "MacLength": 8
            }),
        ),
        (
            "POST",
            "/mac/verify",
            None,
            json!({
                "KeyIdentifier": "alias/mac", "MessageData": "0011223344556677", "Mac": "0011223344556677",
                "VerificationAttributes": { "Algorithm": "ISO9797_ALGORITHM3" }
            }),
        ),
        (
            "POST",
            "/pindata/generate",
            None,
            json!({
                "GenerationKeyIdentifier": "alias/pvk-visa", "EncryptionKeyIdentifier": "alias/pek",
                "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_3", "PinDataLength": 6,
                "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } }
            }),
        ),
        (
            "POST",
            "/pindata/generate",
            None,
            json!({
                "GenerationKeyIdentifier": "alias/pvk-ibm", "EncryptionKeyIdentifier": "alias/pek-aes",
                "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_4",
                "GenerationAttributes": { "Ibm3624PinFromOffset": {
                    "DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F",
                    "PinValidationData": "4111111111", "PinOffset": "123456"
                } }
            }),
        ),
        (
            "POST",
            "/pindata/verify",
            None,
            json!({
                "VerificationKeyIdentifier": "alias/pvk-ibm", "EncryptionKeyIdentifier": "alias/bdk",
                "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0",
                "EncryptedPinBlock": "0011223344556677", "PinDataLength": 4,
                "DukptAttributes": { "KeySerialNumber": "FFFF9876543210E00001", "DukptDerivationType": "TDES_2KEY" },
                "VerificationAttributes": { "Ibm3624Pin": {
                    "DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F",
                    "PinValidationData": "4111111111", "PinOffset": "0000"
                } }
            }),
        ),
        (
            "POST",
            "/pindata/verify",
            None,
            json!({
                "VerificationKeyIdentifier": "alias/pvk-visa", "EncryptionKeyIdentifier": "alias/pek",
                "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_1",
                "EncryptedPinBlock": "0011223344556677",
                "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": "1234" } }
            }),
        ),
        (
            "POST",
            "/",
            Some("CreateKey"),
            json!({ "KeyAttributes": key_attrs, "Exportable": true, "KeyCheckValueAlgorithm": "CMAC", "Tags": [{ "Key": "k", "Value": "v" }] }),
        ),
        (
            "POST",
            "/",
            Some("GetKey"),
            json!({ "KeyIdentifier": "alias/dek" }),
        ),
        (
            "POST",
            "/",
            Some("ListKeys"),
            json!({ "KeyState": "CREATE_COMPLETE", "MaxResults": 5, "NextToken": "1" }),
        ),
        (
            "POST",
            "/",
            Some("DeleteKey"),
            json!({ "KeyIdentifier": "alias/nothing", "DeleteKeyInDays": 3 }),
        ),
        (
            "POST",
            "/",
            Some("RestoreKey"),
            json!({ "KeyIdentifier": "alias/dek" }),
        ),
        (
            "POST",
            "/",
            Some("StartKeyUsage"),
            json!({ "KeyIdentifier": "alias/dek" }),
        ),
        (
            "POST",
            "/",
            Some("StopKeyUsage"),
            json!({ "KeyIdentifier": "alias/nothing" }),
        ),
        (
            "POST",
            "/",
            Some("CreateAlias"),
            json!({ "AliasName": "alias/new" }),
        ),
        (
            "POST",
            "/",
            Some("GetAlias"),
            json!({ "AliasName": "alias/pek" }),
        ),
        ("POST", "/", Some("ListAliases"), json!({ "MaxResults": 2 })),
        (
            "POST",
            "/",
            Some("UpdateAlias"),
            json!({ "AliasName": "alias/new" }),
        ),
        (
            "POST",
            "/",
            Some("DeleteAlias"),
            json!({ "AliasName": "alias/new" }),
        ),
        (
            "POST",
            "/",
            Some("GetParametersForImport"),
            json!({ "KeyMaterialType": "TR31_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048" }),
        ),
        (
            "POST",
            "/",
            Some("GetParametersForExport"),
            json!({ "KeyMaterialType": "TR31_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048" }),
        ),
        (
            "POST",
            "/",
            Some("ImportKey"),
            json!({
                "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": "alias/kek", "WrappedKeyBlock": "B0096P0TE00N0000" } },
                "Enabled": true
            }),
        ),
        (
            "POST",
            "/",
            Some("ImportKey"),
            json!({
                "KeyMaterial": { "KeyCryptogram": { "KeyAttributes": key_attrs, "Exportable": true, "WrappedKeyCryptogram": "00112233", "ImportToken": "import-token-0000000000000000", "WrappingSpec": "RSA_OAEP_SHA_256" } }
            }),
        ),
        (
            "POST",
            "/",
            Some("ExportKey"),
            json!({
                "ExportKeyIdentifier": "alias/dek",
                "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": "alias/kek", "KeyBlockHeaders": { "KeyExportability": "SENSITIVE", "KeyVersion": "00" } } },
                "ExportAttributes": { "ExportDukptInitialKey": { "KeySerialNumber": "FFFF9876543210E00001" } }
            }),
        ),
        (
            "POST",
            "/",
            Some("ListTagsForResource"),
            json!({ "ResourceArn": "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop" }),
        ),
        ("POST", "/", Some("TagResource"), json!({})),
        ("POST", "/", Some("NoSuchOperation"), json!({})),
        ("GET", "/mac/generate", None, json!({})),
        ("POST", "/no/such/path", None, json!({})),
    ]
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn call(emu: &Emulator, method: &str, path: &str, op: Option<&str>, body: &[u8]) -> JsonAnswer {
    let target = op.map(|o| format!("{CP}{o}"));
    block_on(emu.handle_json(method, path, target.as_deref(), body))
}

/// An emulator with one key of each kind behind an alias, persisting to a
/// state file (which holds the clear key material the messages are checked against).
fn seeded(test: &str) -> (Emulator, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("paycrypto-aws-json-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let emu = Emulator::new(EmulatorConfig {
        state_file: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    for (alias, usage, alg, modes) in KEYS {
        let modes: serde_json::Map<String, Value> = modes
            .iter()
            .map(|m| ((*m).to_owned(), json!(true)))
            .collect();
        let body = json!({ "Exportable": true, "KeyAttributes": {
            "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": alg, "KeyModesOfUse": modes } });
        let a = call(
            &emu,
            "POST",
            "/",
            Some("CreateKey"),
            body.to_string().as_bytes(),
        );
        assert_eq!(
            a.status,
            200,
            "{alias}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        let body = json!({ "AliasName": format!("alias/{alias}"), "KeyArn": v["Key"]["KeyArn"] });
        let a = call(
            &emu,
            "POST",
            "/",
            Some("CreateAlias"),
            body.to_string().as_bytes(),
        );
        assert_eq!(a.status, 200, "alias {alias}");
    }
    (emu, file)
}

/// The clear key material (upper-case hex) of every key in the state file.
fn key_material(file: &PathBuf) -> Vec<String> {
    let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let keys = v["keys"].as_array().expect("keys in the state file");
    let out: Vec<String> = keys
        .iter()
        .map(|k| {
            k["material"]
                .as_str()
                .expect("material")
                .to_ascii_uppercase()
        })
        .collect();
    assert!(out.iter().all(|m| m.len() >= 32));
    out
}

/// Hex or digit strings of 8+ characters in the request (`secrets`), and
/// identifiers and tokens (`idents`: error messages may name them, and a
/// secret may happen to be part of one).
fn sensitive(v: &Value, key: &str, secrets: &mut Vec<String>, idents: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let ident = [
                "KeyIdentifier",
                "KeyArn",
                "ResourceArn",
                "AliasName",
                "Token",
            ]
            .iter()
            .any(|f| key.ends_with(f));
            if ident {
                idents.push(s.to_ascii_uppercase());
            } else if s.len() >= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                secrets.push(s.to_ascii_uppercase());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| sensitive(x, key, secrets, idents)),
        Value::Object(m) => m.iter().for_each(|(k, x)| sensitive(x, k, secrets, idents)),
        _ => {}
    }
}

/// JSON pointers to every value below the root.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(p.clone());
            pointers(x, p, out);
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            let p = format!("{at}/{i}");
            out.push(p.clone());
            pointers(x, p, out);
        }),
        _ => {}
    }
}

/// A replacement value; `Key(i)` is the material of the i-th key in the state.
#[derive(Debug, Clone)]
enum Leaf {
    Json(Value),
    Key(usize, bool),
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        Just(Leaf::Json(Value::Null)),
        any::<bool>().prop_map(|b| Leaf::Json(json!(b))),
        any::<i64>().prop_map(|n| Leaf::Json(json!(n))),
        any::<f64>().prop_map(|n| Leaf::Json(json!(n))),
        "[0-9A-Fa-f]{0,80}".prop_map(|s| Leaf::Json(json!(s))),
        "[0-9]{0,24}".prop_map(|s| Leaf::Json(json!(s))),
        ".{0,40}".prop_map(|s| Leaf::Json(json!(s))),
        "alias/[a-z-]{0,8}".prop_map(|s| Leaf::Json(json!(s))),
        Just(Leaf::Json(json!({}))),
        Just(Leaf::Json(json!([]))),
        Just(Leaf::Json(json!([{ "A": 1 }]))),
        (any::<usize>(), any::<bool>()).prop_map(|(i, half)| Leaf::Key(i, half)),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Replace(usize, Leaf),
    Insert(usize, String, Leaf),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), leaf()).prop_map(|(i, l)| Mutation::Replace(i, l)),
        (any::<usize>(), "[A-Z][A-Za-z0-9]{0,12}", leaf())
            .prop_map(|(i, k, l)| Mutation::Insert(i, k, l)),
    ]
}

fn resolve(l: &Leaf, keys: &[String]) -> Value {
    match l {
        Leaf::Json(v) => v.clone(),
        Leaf::Key(i, half) => {
            let k = &keys[i % keys.len()];
            json!(if *half { &k[..k.len() / 2] } else { &k[..] })
        }
    }
}

fn mutate(mut v: Value, muts: &[Mutation], keys: &[String]) -> Value {
    for m in muts {
        let mut ps = vec![String::new()];
        pointers(&v, String::new(), &mut ps);
        let pick = |i: usize| ps[i % ps.len()].clone();
        match m {
            Mutation::Remove(i) => {
                let p = pick(*i);
                if let Some((parent, last)) = p.rsplit_once('/') {
                    match v.pointer_mut(parent) {
                        Some(Value::Object(o)) => {
                            o.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(a)) if !a.is_empty() => {
                            a.pop();
                        }
                        _ => {}
                    }
                }
            }
            Mutation::Replace(i, l) => {
                if let Some(slot) = v.pointer_mut(&pick(*i)) {
                    *slot = resolve(l, keys);
                }
            }
            Mutation::Insert(i, k, l) => {
                if let Some(Value::Object(o)) = v.pointer_mut(&pick(*i)) {
                    o.insert(k.clone(), resolve(l, keys));
                }
            }
        }
    }
    v
}

#[derive(Debug, Clone)]
enum Body {
    Mutated(Vec<Mutation>),
    Bytes(Vec<u8>),
    Truncated(usize),
}

fn check(emu: &Emulator, file: &PathBuf, op: usize, body: &Body) -> Result<(), TestCaseError> {
    let ops = operations();
    let (method, path, target, template) = &ops[op % ops.len()];
    let keys = key_material(file);
    let bytes = match body {
        Body::Mutated(m) => serde_json::to_vec(&mutate(template.clone(), m, &keys)).unwrap(),
        Body::Bytes(b) => b.clone(),
        Body::Truncated(n) => {
            let t = serde_json::to_vec(template).unwrap();
            t[..n % (t.len() + 1)].to_vec()
        }
    };
    let a = call(emu, method, path, *target, &bytes);
    let out: Value =
        serde_json::from_slice(&a.body).map_err(|_| TestCaseError::fail("answer is not JSON"))?;
    if a.status == 200 {
        prop_assert!(a.error_type.is_none());
        prop_assert!(out.is_object());
        return Ok(());
    }
    let kind = a
        .error_type
        .ok_or_else(|| TestCaseError::fail("error without a type"))?;
    prop_assert_eq!(out["__type"].as_str(), Some(kind));
    let statuses = DOCUMENTED
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            TestCaseError::fail(format!("undocumented error type {kind} ({})", a.status))
        })?;
    prop_assert!(
        statuses.contains(&a.status),
        "{} with status {}",
        kind,
        a.status
    );
    let message = out
        .get("message")
        .or_else(|| out.get("Message"))
        .and_then(Value::as_str)
        .ok_or_else(|| TestCaseError::fail("error without a message"))?
        .to_ascii_uppercase();
    prop_assert!(!message.is_empty());
    let body_text = String::from_utf8_lossy(&a.body).to_ascii_uppercase();
    for k in key_material(file) {
        prop_assert!(!body_text.contains(&k), "{} echoes key material", kind);
        prop_assert!(
            !body_text.contains(&k[..k.len() / 2]),
            "{} echoes half a key",
            kind
        );
    }
    if let Ok(req) = serde_json::from_slice::<Value>(&bytes) {
        let (mut secrets, mut idents) = (Vec::new(), Vec::new());
        sensitive(&req, "", &mut secrets, &mut idents);
        let message = idents
            .iter()
            .fold(message.clone(), |m, i| m.replace(i.as_str(), ""));
        for s in secrets {
            prop_assert!(
                !message.contains(&s),
                "{} echoes a request value: {}",
                kind,
                message
            );
        }
    }
    Ok(())
}

#[test]
fn the_templates_are_well_formed_requests() {
    // Guards the mutation base: most templates must get past parsing (200 or
    // a semantic error), or the property below would only test the JSON layer.
    let (emu, _file) = seeded("templates");
    let ok = operations()
        .iter()
        .filter(|(m, p, t, b)| call(&emu, m, p, *t, b.to_string().as_bytes()).status == 200)
        .count();
    assert!(ok >= 12, "only {ok} templates succeed");
}

#[test]
fn random_and_mutated_bodies_get_documented_errors() {
    let (emu, file) = seeded("mutated");
    let n_ops = operations().len();
    let body = prop_oneof![
        6 => proptest::collection::vec(mutation(), 1..5).prop_map(Body::Mutated),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
        1 => any::<usize>().prop_map(Body::Truncated),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 384,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..n_ops, body), |(op, body)| {
            check(&emu, &file, op, &body)
        })
        .unwrap();
}

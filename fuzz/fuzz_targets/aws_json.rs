#![no_main]
//! The AWS Payment Cryptography emulator's JSON request parsing: arbitrary
//! bytes as the body of every data-plane and control-plane operation (the
//! first byte picks the operation) never panic, always answer a documented
//! AWS error type with its status, and never echo a hex or digit string of
//! the request (key material, PIN blocks, PANs) in an error message.
//!
//! Each input runs against a fresh in-memory emulator holding one key of each
//! kind the data plane uses, reachable by alias (`alias/pek`, `alias/bdk`, …),
//! through `Emulator::handle_json`: the server's code path minus the socket
//! and SigV4.

use libfuzzer_sys::fuzz_target;
use paycrypto::server::aws::{Emulator, EmulatorConfig, JsonAnswer};
use std::future::Future;
use std::task::{Context, Poll, Waker};

const CP: &str = "PaymentCryptographyControlPlane.";

/// (method, path, control-plane operation).
const OPS: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/pindata/translate", None),
    ("POST", "/keys/alias%2Fdek/encrypt", None),
    ("POST", "/keys/alias%2Fdek/decrypt", None),
    ("POST", "/keys/alias%2Fdek-aes/encrypt", None),
    ("POST", "/keys/alias%2Fdek-aes/decrypt", None),
    ("POST", "/keys/alias%2Fbdk/decrypt", None),
    ("POST", "/cardvalidationdata/generate", None),
    ("POST", "/cardvalidationdata/verify", None),
    ("POST", "/cryptogram/verify", None),
    ("POST", "/mac/generate", None),
    ("POST", "/mac/verify", None),
    ("POST", "/pindata/generate", None),
    ("POST", "/pindata/verify", None),
    ("POST", "/keys/alias%2Fdek/reencrypt", None),
    ("POST", "/cryptogram/generate", None),
    ("GET", "/mac/generate", None),
    ("POST", "/", Some("CreateKey")),
    ("POST", "/", Some("GetKey")),
    ("POST", "/", Some("ListKeys")),
    ("POST", "/", Some("DeleteKey")),
    ("POST", "/", Some("RestoreKey")),
    ("POST", "/", Some("StartKeyUsage")),
    ("POST", "/", Some("StopKeyUsage")),
    ("POST", "/", Some("CreateAlias")),
    ("POST", "/", Some("GetAlias")),
    ("POST", "/", Some("ListAliases")),
    ("POST", "/", Some("UpdateAlias")),
    ("POST", "/", Some("DeleteAlias")),
    ("POST", "/", Some("GetParametersForImport")),
    ("POST", "/", Some("GetParametersForExport")),
    ("POST", "/", Some("ImportKey")),
    ("POST", "/", Some("ExportKey")),
    ("POST", "/", Some("ListTagsForResource")),
    ("POST", "/", Some("TagResource")),
    ("POST", "/", Some("NoSuchOperation")),
];

/// (alias, KeyUsage, KeyAlgorithm, modes of use).
const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "pek",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        r#""Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true"#,
    ),
    (
        "pek-aes",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        r#""Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true"#,
    ),
    (
        "bdk",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        r#""DeriveKey":true"#,
    ),
    (
        "bdk-aes",
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        r#""DeriveKey":true"#,
    ),
    (
        "cvk",
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        r#""Generate":true,"Verify":true"#,
    ),
    (
        "imk",
        "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        "TDES_2KEY",
        r#""DeriveKey":true"#,
    ),
    (
        "dek",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "TDES_2KEY",
        r#""Encrypt":true,"Decrypt":true"#,
    ),
    (
        "dek-aes",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        r#""Encrypt":true,"Decrypt":true"#,
    ),
    (
        "mac",
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        r#""Generate":true,"Verify":true"#,
    ),
    (
        "cmac",
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        r#""Generate":true,"Verify":true"#,
    ),
    (
        "hmac",
        "TR31_M7_HMAC_KEY",
        "HMAC_SHA256",
        r#""Generate":true,"Verify":true"#,
    ),
    (
        "kek",
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TDES_2KEY",
        r#""Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true"#,
    ),
    (
        "kbpk",
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_128",
        r#""Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true"#,
    ),
    (
        "pvk-ibm",
        "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        r#""Generate":true,"Verify":true"#,
    ),
    (
        "pvk-visa",
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        r#""Generate":true,"Verify":true"#,
    ),
];

/// Error types the two APIs document (plus the awsJson protocol errors).
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

/// The emulator's futures never wait on I/O: one poll completes them.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("emulator request did not complete without I/O"),
    }
}

fn call(emu: &Emulator, op: (&str, &str, Option<&str>), body: &[u8]) -> JsonAnswer {
    let target = op.2.map(|o| format!("{CP}{o}"));
    now(emu.handle_json(op.0, op.1, target.as_deref(), body))
}

fn seeded() -> Emulator {
    let emu = Emulator::new(EmulatorConfig::default()).expect("emulator");
    for (alias, usage, alg, modes) in KEYS {
        let body = format!(
            r#"{{"Exportable":true,"KeyAttributes":{{"KeyUsage":"{usage}","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"{alg}","KeyModesOfUse":{{{modes}}}}}}}"#
        );
        let a = call(&emu, ("POST", "/", Some("CreateKey")), body.as_bytes());
        assert_eq!(
            a.status,
            200,
            "seeding {alias}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let v: serde_json::Value = serde_json::from_slice(&a.body).expect("json");
        let arn = v["Key"]["KeyArn"].as_str().expect("KeyArn");
        let body = serde_json::json!({ "AliasName": format!("alias/{alias}"), "KeyArn": arn });
        let a = call(
            &emu,
            ("POST", "/", Some("CreateAlias")),
            body.to_string().as_bytes(),
        );
        assert_eq!(a.status, 200, "alias {alias}");
    }
    emu
}

/// Hex or digit strings of 8+ characters in the request (`secrets`), and
/// identifiers and tokens (`idents`: error messages may name them, and a
/// secret may happen to be part of one).
fn sensitive(
    v: &serde_json::Value,
    key: &str,
    secrets: &mut Vec<String>,
    idents: &mut Vec<String>,
) {
    match v {
        serde_json::Value::String(s) => {
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
        serde_json::Value::Array(a) => a.iter().for_each(|x| sensitive(x, key, secrets, idents)),
        serde_json::Value::Object(m) => {
            m.iter().for_each(|(k, x)| sensitive(x, k, secrets, idents))
        }
        _ => {}
    }
}

/// Control-plane operations that change no state even when they succeed.
const READ_ONLY: &[&str] = &[
    "GetKey",
    "ListKeys",
    "GetAlias",
    "ListAliases",
    "ListTagsForResource",
    "ExportKey",
];

thread_local! {
    /// The seeded emulator, rebuilt after any request that changed its state,
    /// so every input sees the same keys and aliases.
    static EMU: std::cell::RefCell<Option<Emulator>> = const { std::cell::RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let op = OPS[usize::from(sel) % OPS.len()];
    let emu = EMU.with(|e| e.borrow_mut().get_or_insert_with(seeded).clone());
    let a = call(&emu, op, body);
    if a.status == 200 && op.2.is_some_and(|o| !READ_ONLY.contains(&o)) {
        EMU.with(|e| *e.borrow_mut() = None);
    }
    let out: serde_json::Value = serde_json::from_slice(&a.body).expect("answer is JSON");
    if a.status == 200 {
        assert!(a.error_type.is_none());
        return;
    }
    let kind = a.error_type.expect("error type");
    assert_eq!(out["__type"].as_str(), Some(kind));
    let statuses = DOCUMENTED
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("undocumented error type {kind} (status {})", a.status));
    assert!(
        statuses.contains(&a.status),
        "{kind} with status {}",
        a.status
    );
    let message = out
        .get("message")
        .or_else(|| out.get("Message"))
        .and_then(|m| m.as_str())
        .expect("error message")
        .to_ascii_uppercase();
    if let Ok(req) = serde_json::from_slice::<serde_json::Value>(body) {
        let (mut secrets, mut idents) = (Vec::new(), Vec::new());
        sensitive(&req, "", &mut secrets, &mut idents);
        let message = idents
            .iter()
            .fold(message.clone(), |m, i| m.replace(i.as_str(), ""));
        for s in secrets {
            assert!(
                !message.contains(&s),
                "error message echoes a request value: {kind}"
            );
        }
    }
});

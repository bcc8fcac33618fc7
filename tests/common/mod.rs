//! Shared helpers for integration tests: the published known-answer vectors.
#![allow(dead_code)]

use serde_json::Value;

/// All vectors of `kind` from `tests/vectors/vectors.json` (a copy of the
/// project's published known-answer set; every entry names its `source`).
pub fn vectors(kind: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/vectors.json");
    let text = std::fs::read_to_string(path).expect("read tests/vectors/vectors.json");
    let all: Vec<Value> = serde_json::from_str(&text).expect("parse vectors.json");
    let v: Vec<Value> = all.into_iter().filter(|v| v["kind"] == kind).collect();
    assert!(!v.is_empty(), "no vectors of kind {kind}");
    v
}

/// `v[section][name]` as a string (panics with the vector's source if absent).
pub fn s<'a>(v: &'a Value, section: &str, name: &str) -> &'a str {
    v[section][name]
        .as_str()
        .unwrap_or_else(|| panic!("{section}.{name} missing in vector from {}", v["source"]))
}

/// `v[section][name]` hex-decoded.
pub fn h(v: &Value, section: &str, name: &str) -> Vec<u8> {
    hex::decode(s(v, section, name)).expect("hex")
}

use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::{Backend, BackendExt, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};

/// Clear test KEK components (TDES 2-key) used to load keys into any backend.
pub const KEK_C1: &str = "0123456789ABCDEFFEDCBA9876543210";
/// Second component.
pub const KEK_C2: &str = "5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B";
/// Name of the loading KEK.
pub const KEK: &str = "kek/test";

/// Forms the test KEK on `b` from its two components.
pub async fn load_kek(b: &dyn Backend) {
    let (c1, c2) = (hex::decode(KEK_C1).unwrap(), hex::decode(KEK_C2).unwrap());
    let req =
        kek_from_components(KeyId::new(KEK).unwrap(), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    b.import_key(req).await.expect("load KEK");
}

/// Loads `clear` as `name` through a TR-31 block under the test KEK.
pub async fn load(
    b: &dyn Backend,
    name: &str,
    usage: KeyUsage,
    alg: KeyAlgorithm,
    modes: ModesOfUse,
    clear: &[u8],
) -> paycrypto::Result<paycrypto::ops::KeyInfo> {
    let (c1, c2) = (hex::decode(KEK_C1).unwrap(), hex::decode(KEK_C2).unwrap());
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    let req = tr31_import(
        KeyId::new(KEK).unwrap(),
        KeyAlgorithm::Tdes2,
        &kek,
        KeyId::new(name).unwrap(),
        KeyAttributes::new(usage, alg, modes),
        clear,
    )?;
    b.import_key(req).await
}

/// `KeyId::new(s).unwrap()`.
pub fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

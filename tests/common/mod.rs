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

//! The key configuration file (`--keys FILE`).
//!
//! JSON, one entry per key name:
//!
//! ```json
//! {
//!   "keys": {
//!     "zpk": { "id": "alias/zpk-acquirer-7", "usage": "P0", "algorithm": "TDES_2KEY", "kcv": "6FB1C8" },
//!     "cvk": { "usage": "C0", "clear": "0123456789ABCDEFFEDCBA9876543210" }
//!   }
//! }
//! ```
//!
//! - `id`: the key's name on the backend (an AWS alias or ARN, a payShield
//!   key-table name); defaults to the entry's name. On AWS a name `N` that
//!   is neither an ARN nor `alias/…` means the alias `alias/N` (see
//!   [`super::aws`]).
//! - `usage`: TR-31 key usage (`P0`, `B0`, `C0`, `E0`, `K0`, `M1`, `M3`,
//!   `M6`, `M7`, `D0`, `V1` (IBM 3624 PVK), `V2` (Visa PVV PVK), …). Required
//!   with `clear`.
//! - `algorithm`: `TDES_2KEY`, `TDES_3KEY`, `AES_128`, `AES_192`, `AES_256`,
//!   `HMAC_SHA256`; with `clear` it defaults from the length (16/24 bytes
//!   TDES, 32 bytes AES-256).
//! - `modes`: TR-31 mode of use (`B`, `C`, `X`, `E`, `D`, `G`, `V`, `N`),
//!   defaulting from the usage; `exportability`: `E`, `N` or `S` (default `E`).
//! - `kcv`: the key check value, when known (lets the conformance suite
//!   recognise published test keys without clear values).
//! - `clear`: the clear key in hex — **test keys only**. Keys with `clear`
//!   are loaded into the in-process software backend (through a KEK from
//!   components and TR-31 blocks, like any other backend) and give the
//!   conformance suite what it needs for agreement cases. On a payShield,
//!   only when it runs the **public test LMK** (see below); on AWS, only
//!   into a test account (the emulator, or `--allow-test-key-import`: see
//!   [`super::aws`]).
//! - `lmk` (payShield): the key encrypted under the HSM's LMK, as a key
//!   ceremony or the key database holds it (`U` + 32 hex digits for a
//!   double-length key, `T` + 48 for triple length); `usage` is required,
//!   the algorithm follows from the scheme. `key_type`: the payShield key
//!   type code (`000` ZMK, `001` ZPK, `402` CVK, `009` BDK, `109` MK-AC,
//!   `00A` ZEK, `003` TAK, …), defaulting from the usage. The HSM computes
//!   the check value (BU) when the backend opens, which proves the key
//!   decrypts under its LMK; a `kcv` given must match.
//!

use super::output::CliError;
use crate::conformance::{KeyRef, KeySet, Role};
use crate::payshield::{EncryptedKey, KeyType};
use crate::types::{
    Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, SecretBytes,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of a key configuration file.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// Name on the backend.
    pub id: KeyId,
    /// Attributes, when given (required with `clear`).
    pub attributes: Option<KeyAttributes>,
    /// Known KCV.
    pub kcv: Option<Kcv>,
    /// Clear value (test keys only).
    pub clear: Option<SecretBytes>,
    /// payShield: the key under the LMK, with its key type when given.
    pub under_lmk: Option<(EncryptedKey, Option<KeyType>)>,
}

/// A parsed key configuration file (see the module docs for the format).
#[derive(Debug, Clone, Default)]
pub struct KeyConfig {
    /// Entries by name.
    pub keys: BTreeMap<String, KeyEntry>,
}

fn algorithm_from_name(s: &str) -> Option<KeyAlgorithm> {
    KeyAlgorithm::from_aws_name(&s.to_ascii_uppercase())
}

impl KeyConfig {
    /// Reads and parses a key configuration file.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::arg("--keys", format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text)
            .map_err(|e| CliError::arg("--keys", format!("{}: {}", path.display(), e.message)))
    }

    /// Parses the JSON text of a key configuration file.
    pub fn parse(text: &str) -> Result<Self, CliError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            CliError::usage(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let keys = v
            .get("keys")
            .and_then(Value::as_object)
            .ok_or_else(|| CliError::usage("expected an object with a \"keys\" object"))?;
        let mut out = Self::default();
        for (name, entry) in keys {
            let at = |field: &str, why: &str| {
                CliError::usage(format!("key \"{name}\": field \"{field}\": {why}"))
            };
            let obj = entry
                .as_object()
                .ok_or_else(|| CliError::usage(format!("key \"{name}\": expected an object")))?;
            for field in obj.keys() {
                if !matches!(
                    field.as_str(),
                    "id" | "usage"
                        | "algorithm"
                        | "modes"
                        | "exportability"
                        | "kcv"
                        | "clear"
                        | "lmk"
                        | "key_type"
                ) {
                    return Err(at(field, "unknown field"));
                }
            }
            let s = |field: &str| -> Result<Option<&str>, CliError> {
                match obj.get(field) {
                    None => Ok(None),
                    Some(Value::String(x)) => Ok(Some(x.as_str())),
                    Some(_) => Err(at(field, "expected a string")),
                }
            };
            let id = KeyId::new(s("id")?.unwrap_or(name)).map_err(|e| at("id", &e.to_string()))?;
            let clear = s("clear")?
                .map(|h| {
                    SecretBytes::from_hex("clear", h).map_err(|_| at("clear", "not valid hex"))
                })
                .transpose()?;
            let usage = s("usage")?
                .map(|u| KeyUsage::from_code(u).map_err(|_| at("usage", "unknown TR-31 key usage")))
                .transpose()?;
            let lmk = s("lmk")?
                .map(|k| {
                    EncryptedKey::parse(k).map_err(|_| {
                        at(
                            "lmk",
                            "expected a key under LMK: U + 32 or T + 48 hex digits",
                        )
                    })
                })
                .transpose()?;
            let key_type = s("key_type")?
                .map(|t| {
                    KeyType::parse(t.as_bytes()).map_err(|_| {
                        at("key_type", "expected a payShield key type code (e.g. 001)")
                    })
                })
                .transpose()?;
            if key_type.is_some() && lmk.is_none() {
                return Err(at("key_type", "applies to keys given with \"lmk\" only"));
            }
            if lmk.is_some() && clear.is_some() {
                return Err(at("lmk", "give either \"clear\" or \"lmk\", not both"));
            }
            let lmk_alg = lmk
                .as_ref()
                .map(|k| match k.scheme {
                    // A key block's header names its algorithm, not always
                    // its length: "algorithm" settles TDES_3KEY / AES_192.
                    crate::payshield::KeyScheme::S => {
                        crate::payshield::keyblock::algorithm_of_block(k)
                            .map_err(|_| at("lmk", "not a well-formed key block"))
                    }
                    s => crate::payshield::keytable::algorithm_for(s).map_err(|_| {
                        at(
                            "lmk",
                            "only double- (U) and triple-length (T) keys, or key blocks (S)",
                        )
                    }),
                })
                .transpose()?;
            let key_block = lmk
                .as_ref()
                .is_some_and(|k| k.scheme == crate::payshield::KeyScheme::S);
            let algorithm = match s("algorithm")? {
                Some(a) => Some(algorithm_from_name(a).ok_or_else(|| {
                    at(
                        "algorithm",
                        "expected TDES_2KEY, TDES_3KEY, AES_128, AES_192, AES_256 or HMAC_SHA256",
                    )
                })?),
                None => match (&clear, usage) {
                    (Some(c), Some(KeyUsage::MacHmac)) if c.len() == 32 => {
                        Some(KeyAlgorithm::HmacSha256)
                    }
                    (Some(c), _) => Some(match c.len() {
                        16 => KeyAlgorithm::Tdes2,
                        24 => KeyAlgorithm::Tdes3,
                        32 => KeyAlgorithm::Aes256,
                        _ => return Err(at("clear", "expected 16, 24 or 32 bytes")),
                    }),
                    (None, _) => lmk_alg,
                },
            };
            if let (Some(a), Some(l)) = (algorithm, lmk_alg) {
                let fits = if key_block {
                    a.tr31_code() == l.tr31_code()
                } else {
                    a == l
                };
                if !fits {
                    return Err(at("algorithm", "does not match the key scheme of \"lmk\""));
                }
            }
            let attributes = match (usage, algorithm) {
                (Some(u), Some(a)) => {
                    let modes = match s("modes")? {
                        Some(m) => {
                            let c = m.chars().next().filter(|_| m.len() == 1).ok_or_else(|| {
                                at("modes", "expected one TR-31 mode-of-use character")
                            })?;
                            ModesOfUse::from_tr31(c).map_err(|e| at("modes", &e.to_string()))?
                        }
                        None => ModesOfUse::default_for(u),
                    };
                    let exp = match s("exportability")? {
                        Some(x) => Exportability::from_tr31(x.chars().next().unwrap_or(' '))
                            .map_err(|_| at("exportability", "expected E, N or S"))?,
                        None => Exportability::Exportable,
                    };
                    let a = KeyAttributes::new(u, a, modes).with_exportability(exp);
                    a.validate().map_err(|e| at("usage", &e.to_string()))?;
                    Some(a)
                }
                _ => None,
            };
            if clear.is_some() && attributes.is_none() {
                return Err(at("usage", "required when \"clear\" is given"));
            }
            if lmk.is_some() && attributes.is_none() {
                return Err(at("usage", "required when \"lmk\" is given"));
            }
            if let (Some(c), Some(a)) = (&clear, &attributes) {
                if c.len() != a.algorithm.key_len() {
                    return Err(at("clear", "length does not match the algorithm"));
                }
            }
            let kcv = s("kcv")?
                .map(|k| Kcv::from_hex(k).map_err(|_| at("kcv", "expected 6 hex digits")))
                .transpose()?;
            out.keys.insert(
                name.clone(),
                KeyEntry {
                    id,
                    attributes,
                    kcv,
                    clear,
                    under_lmk: lmk.map(|k| (k, key_type)),
                },
            );
        }
        Ok(out)
    }

    /// The backend key name for `--key NAME`: the entry's `id`, or NAME
    /// itself when no configuration file was given.
    pub fn resolve(&self, arg: &str, name: &str, have_file: bool) -> Result<KeyId, CliError> {
        match self.keys.get(name) {
            Some(e) => Ok(e.id.clone()),
            None if have_file => Err(CliError::arg(
                arg,
                format!("no key named \"{name}\" in the key configuration file"),
            )),
            None => KeyId::new(name).map_err(|e| CliError::arg(arg, e)),
        }
    }

    /// The conformance key set: entries whose names are suite roles.
    pub fn key_set(&self) -> KeySet {
        let mut set = KeySet::new().with_default_missing(
            "not configured in --keys FILE (the suite does not create keys on a configured backend)",
        );
        for (name, e) in &self.keys {
            if let Some(role) = Role::from_name(name) {
                let mut k = KeyRef::named(e.id.clone());
                k.kcv = e.kcv;
                k.clear = e.clear.clone();
                set.insert(role, k);
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_config_parses_and_names_bad_fields() {
        let c = KeyConfig::parse(
            r#"{"keys": {
                "zpk": {"id": "alias/zpk-7", "usage": "P0", "algorithm": "TDES_2KEY", "kcv": "6FB1C8"},
                "bdk": {"usage": "B0", "clear": "FEDCBA9876543210F1F1F1F1F1F1F1F1", "algorithm": "AES_128"},
                "mac": {"usage": "M7", "clear": "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"}
            }}"#,
        )
        .unwrap();
        let zpk = &c.keys["zpk"];
        assert_eq!(zpk.id.as_str(), "alias/zpk-7");
        assert_eq!(zpk.kcv.map(|k| k.to_string()).as_deref(), Some("6FB1C8"));
        let bdk = c.keys["bdk"].attributes.unwrap();
        assert_eq!(bdk.algorithm, KeyAlgorithm::Aes128);
        assert_eq!(bdk.modes, ModesOfUse::DERIVE);
        assert_eq!(
            c.keys["mac"].attributes.unwrap().algorithm,
            KeyAlgorithm::HmacSha256
        );
        assert_eq!(
            c.resolve("--key", "zpk", true).unwrap().as_str(),
            "alias/zpk-7"
        );
        assert!(c.resolve("--key", "other", true).is_err());
        assert_eq!(
            c.resolve("--key", "other", false).unwrap().as_str(),
            "other"
        );
        let ps = KeyConfig::parse(
            r#"{"keys": {"cvk": {"usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "key_type": "402", "kcv": "08D7B4"},
                         "zmk": {"usage": "K0", "lmk": "T0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}}"#,
        )
        .unwrap();
        let cvk = &ps.keys["cvk"];
        let (key, kt) = cvk.under_lmk.as_ref().unwrap();
        assert_eq!(key.to_text(), "U9B4934384B19946B040CD702B4D58145");
        assert_eq!(*kt, Some(KeyType::CVK));
        assert_eq!(cvk.attributes.unwrap().algorithm, KeyAlgorithm::Tdes2);
        let zmk = &ps.keys["zmk"];
        assert_eq!(zmk.attributes.unwrap().algorithm, KeyAlgorithm::Tdes3);
        assert_eq!(zmk.under_lmk.as_ref().unwrap().1, None);
        let set = c.key_set();
        assert!(set.get(Role::Zpk).is_some());
        assert!(set.get(Role::Bdk).is_some());
        assert!(set.get(Role::Cvk).is_none());

        for (text, needle) in [
            ("not json", "not valid JSON"),
            (r#"{"k": {}}"#, "\"keys\""),
            (r#"{"keys": {"a": 1}}"#, "key \"a\""),
            (r#"{"keys": {"a": {"usage": "Z9"}}}"#, "\"usage\""),
            (r#"{"keys": {"a": {"clear": "0011"}}}"#, "\"clear\""),
            (
                r#"{"keys": {"a": {"usage": "P0", "clear": "zz"}}}"#,
                "\"clear\"",
            ),
            (
                r#"{"keys": {"a": {"usage": "P0", "algorithm": "DES"}}}"#,
                "\"algorithm\"",
            ),
            (
                r#"{"keys": {"a": {"usage": "P0", "algorithm": "TDES_2KEY", "modes": "Q"}}}"#,
                "\"modes\"",
            ),
            (r#"{"keys": {"a": {"kcv": "XYZ"}}}"#, "\"kcv\""),
            (r#"{"keys": {"a": {"lmk": "U0011"}}}"#, "\"lmk\""),
            (
                r#"{"keys": {"a": {"lmk": "U9B4934384B19946B040CD702B4D58145"}}}"#,
                "\"usage\"",
            ),
            (
                r#"{"keys": {"a": {"usage": "C0", "key_type": "402"}}}"#,
                "\"key_type\"",
            ),
            (
                r#"{"keys": {"a": {"usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "key_type": "4x2"}}}"#,
                "\"key_type\"",
            ),
            (
                r#"{"keys": {"a": {"usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "clear": "00112233445566778899AABBCCDDEEFF"}}}"#,
                "not both",
            ),
            (
                r#"{"keys": {"a": {"usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "algorithm": "TDES_3KEY"}}}"#,
                "\"algorithm\"",
            ),
            (r#"{"keys": {"a": {"id": "has space"}}}"#, "\"id\""),
            (
                r#"{"keys": {"a": {"usage": "P0", "algorithm": "AES_256", "clear": "00112233445566778899AABBCCDDEEFF"}}}"#,
                "length",
            ),
        ] {
            let e = KeyConfig::parse(text).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {e}");
            assert!(!e.message.contains("00112233"), "{e}");
        }
    }
}

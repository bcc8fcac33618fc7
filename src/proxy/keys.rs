//! The proxy's key file: which candidate key a key reference in a host
//! command means (see [`KeyMap`]).

use crate::error::{Error, Result};
use crate::payshield::{EncryptedKey, KeyScheme, KeyTable, KeyType, PayShieldBackend};
use crate::types::{Kcv, KeyId, KeyUsage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most cryptograms whose primary-computed KCV is remembered; past it a
/// cryptogram's KCV is asked for again each time (a gateway sending ever
/// new keys cannot grow the proxy's memory without bound).
const LEARNED_MAX: usize = 4096;

/// The proxy's key file: keys under the LMK (and key check values) mapped
/// to the names the layers (and the candidate) know them by. Cheap to
/// clone (shared).
///
/// A command names its keys by their cryptogram (the key under the LMK).
/// The proxy resolves a cryptogram to the candidate's key name **by the
/// cryptogram first**, then **by its key check value**: the KCV of a
/// cryptogram the file does not list is computed once by the primary (BU,
/// "generate a key check value", with the key type the command's field
/// gives) and cached per cryptogram. Naming keys by KCV lets a key file be
/// written from the candidate's side alone (AWS lists each key's KCV), and
/// finds a key whose cryptogram differs from the file's (a key block is
/// re-encrypted with new random bytes each time it is exported).
///
/// Two file formats, told apart by a `.json` extension or a first
/// non-blank character `{`:
///
/// - the payShield backend's key table ([`KeyTable`], one key a line:
///   `NAME KEY-TYPE KEY-UNDER-LMK USAGE MODE EXPORT KCV [ALGORITHM]`);
/// - JSON:
///
/// ```json
/// { "keys": [
///     { "name": "alias/zpk-acquirer", "key": "U1EF828AA8F6B80EB83E19FBC373F3A85", "kcv": "6F1E3F" },
///     { "name": "arn:aws:payment-cryptography:eu-west-1:111122223333:key/abcd", "kcv": "9B3F5A" },
///     { "name": "alias/cvk", "key": "U8463435FC4B4DAA0C49025272C29B12C" },
///     { "name": "alias/bdk", "kcv": "08D7B4", "key_type": "009" }
/// ] }
/// ```
///
/// Each entry: `name` (required) is the candidate's key name (on AWS an
/// ARN, an `alias/…`, or a name N meaning `alias/N`); `key` is the
/// cryptogram as a host command carries it; `kcv` its 6-hex-digit check
/// value; `key_type` the payShield key type code (3 characters, `001` ZPK,
/// `402` CVK, …) of the command fields the key appears in. At least one of
/// `key` and `kcv`; no other fields. A KCV identifies the clear key, not
/// its role: when two entries share a KCV (one clear key loaded as two
/// key types), each must give its `key_type`, and a cryptogram found by
/// KCV resolves to the entry whose type the command field has. When only
/// the cryptogram is given, the KCV the typed answers carry is computed by
/// the primary on first use. Errors name the entry (its index and name)
/// and the field.
#[derive(Clone, Default)]
pub struct KeyMap {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<EncryptedKey, KeyId>,
    /// A key table's cryptograms with several names (one clear key loaded
    /// for two usages under one key type), each name with its usage.
    shared: HashMap<EncryptedKey, Vec<(KeyId, KeyUsage)>>,
    /// Names by KCV, each with the key type it is restricted to (if any).
    by_kcv: HashMap<Kcv, Vec<(Option<KeyType>, KeyId)>>,
    kcvs: HashMap<KeyId, Kcv>,
    learned: Mutex<Learned>,
    table: KeyTable,
}

/// What the primary computed (BU).
#[derive(Default)]
struct Learned {
    /// KCV per cryptogram and the key type it was checked as.
    by_key: HashMap<(KeyType, EncryptedKey), Kcv>,
    /// KCVs of names the file gives by cryptogram only.
    by_id: HashMap<KeyId, Kcv>,
}

impl Inner {
    /// Adds `id` under `kcv` (restricted to `kt` when given). When that
    /// makes a KCV lookup ambiguous: an error text if `strict`, else the
    /// name is added and a lookup of that KCV and type finds nothing.
    fn add_kcv(
        &mut self,
        kcv: Kcv,
        kt: Option<KeyType>,
        id: &KeyId,
        strict: bool,
    ) -> std::result::Result<(), String> {
        let names = self.by_kcv.entry(kcv).or_default();
        if names.iter().any(|(_, n)| n == id) {
            return Ok(());
        }
        if let Some((_, prev)) = names
            .iter()
            .find(|(t, _)| t.is_none() || kt.is_none() || *t == kt)
        {
            if strict {
                return Err(format!(
                    "the same KCV as {prev} (give each a different key_type)"
                ));
            }
        }
        names.push((kt, id.clone()));
        Ok(())
    }
}

/// One key a command carries: the key type its field holds (what BU
/// needs) and, where the command says, the usage it needs (which picks
/// among names a key table gives one cryptogram).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) kt: KeyType,
    pub(crate) key: &'a EncryptedKey,
    pub(crate) usage: Option<KeyUsage>,
}

impl<'a> KeyRef<'a> {
    /// A key of type `kt`.
    pub(crate) fn new(kt: KeyType, key: &'a EncryptedKey) -> Self {
        Self {
            kt,
            key,
            usage: None,
        }
    }

    /// A key of type `kt` used for `usage`.
    pub(crate) fn used_for(kt: KeyType, key: &'a EncryptedKey, usage: KeyUsage) -> Self {
        Self {
            kt,
            key,
            usage: Some(usage),
        }
    }
}

/// The names of one command's keys, as [`KeyMap::resolve`] found them.
#[derive(Debug, Default)]
pub(crate) struct Resolved<'a> {
    ids: Vec<(&'a EncryptedKey, KeyId)>,
}

impl Resolved<'_> {
    /// The name of `key`, when it resolved.
    pub(crate) fn id(&self, key: &EncryptedKey) -> Option<KeyId> {
        self.ids
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, id)| id.clone())
    }
}

impl std::fmt::Debug for KeyMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMap")
            .field("by_key", &self.inner.by_key.len())
            .field("by_kcv", &self.inner.by_kcv.len())
            .finish()
    }
}

/// The error for entry `i` (named `name`, when known), field `field`.
fn bad(i: usize, name: Option<&str>, field: &str, what: impl std::fmt::Display) -> Error {
    let entry = match name {
        Some(n) => format!("keys[{i}] ({n})"),
        None => format!("keys[{i}]"),
    };
    Error::invalid("key file", format!("{entry}, field {field}: {what}"))
}

impl KeyMap {
    /// The map for every key of `table` (its names are the candidate's),
    /// by cryptogram and by KCV with its key type. Unlike a JSON file, a
    /// table may give one KCV and key type twice (one clear key loaded for
    /// two usages): that KCV then resolves no key.
    pub fn from_table(table: KeyTable) -> Result<Self> {
        let mut inner = Inner::default();
        for line in table.to_text()?.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(name), Some(_)) = (fields.first(), fields.get(2)) else {
                continue;
            };
            if name.starts_with('#') {
                continue;
            }
            let id = KeyId::new(*name)?;
            let k = table.get(&id)?;
            // A key table may load one clear key twice with one key type
            // (say, a PVK for IBM 3624 and for Visa PVV): the same
            // cryptogram, the same KCV. The cryptogram names the one whose
            // usage the command needs (else the last); by KCV neither
            // resolves.
            if let Some(prev) = inner.by_key.insert(k.key.clone(), id.clone()) {
                let names = inner.shared.entry(k.key.clone()).or_default();
                if names.is_empty() {
                    let usage = table.get(&prev)?.attributes.usage;
                    names.push((prev, usage));
                }
                names.push((id.clone(), k.attributes.usage));
            }
            let _ = inner.add_kcv(k.kcv, Some(k.key_type), &id, false);
            inner.kcvs.insert(id, k.kcv);
        }
        inner.table = table;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Parses the JSON form (see the module docs).
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("key file", format!("not JSON: {e}")))?;
        let entries = v
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(|k| k.as_array())
            .ok_or_else(|| {
                Error::invalid("key file", "expected an object with a \"keys\" array")
            })?;
        if let Some(other) = v
            .as_object()
            .and_then(|o| o.keys().find(|k| k.as_str() != "keys"))
        {
            return Err(Error::invalid(
                "key file",
                format!("unknown top-level field {other}"),
            ));
        }
        let mut inner = Inner::default();
        for (i, e) in entries.iter().enumerate() {
            let o = e
                .as_object()
                .ok_or_else(|| bad(i, None, "-", "expected an object"))?;
            let name = match o.get("name") {
                Some(serde_json::Value::String(s)) => s.as_str(),
                Some(_) => return Err(bad(i, None, "name", "expected a string")),
                None => return Err(bad(i, None, "name", "missing")),
            };
            let id = KeyId::new(name).map_err(|e| bad(i, None, "name", e))?;
            let text = |field: &str| match o.get(field) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(bad(i, Some(name), field, "expected a string")),
            };
            if let Some(f) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "name" | "key" | "kcv" | "key_type"))
            {
                return Err(bad(i, Some(name), f, "unknown field"));
            }
            let key = text("key")?
                .map(|k| EncryptedKey::parse(k).map_err(|e| bad(i, Some(name), "key", e)))
                .transpose()?;
            let kcv = text("kcv")?
                .map(|k| {
                    if k.len() != 6 {
                        return Err(bad(i, Some(name), "kcv", "expected 6 hex digits"));
                    }
                    Kcv::from_hex(k).map_err(|e| bad(i, Some(name), "kcv", e))
                })
                .transpose()?;
            let kt = text("key_type")?
                .map(|t| {
                    KeyType::parse(t.as_bytes()).map_err(|_| {
                        bad(
                            i,
                            Some(name),
                            "key_type",
                            "expected a 3-character key type code",
                        )
                    })
                })
                .transpose()?;
            if key.is_none() && kcv.is_none() {
                return Err(bad(i, Some(name), "key", "neither key nor kcv given"));
            }
            if let Some(k) = key {
                if let Some(prev) = inner.by_key.insert(k, id.clone()) {
                    return Err(bad(
                        i,
                        Some(name),
                        "key",
                        format!("the same cryptogram as {prev}"),
                    ));
                }
            }
            if let Some(kcv) = kcv {
                inner
                    .add_kcv(kcv, kt, &id, true)
                    .map_err(|e| bad(i, Some(name), "kcv", e))?;
                if inner.kcvs.insert(id.clone(), kcv).is_some_and(|k| k != kcv) {
                    return Err(bad(i, Some(name), "kcv", "another KCV for the same name"));
                }
            }
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Loads a key file: JSON when the name ends in `.json` or the text
    /// starts with `{`, else the key-table format.
    pub fn load_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid("key file", "cannot be read").with_source(e))?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            || text.trim_start().starts_with('{');
        if json {
            Self::from_json(&text)
        } else {
            let table = KeyTable::new();
            table.load_str(&text)?;
            Self::from_table(table)
        }
    }

    /// The key table of a key-table file (empty for a JSON file): the
    /// table the primary backend is connected with.
    pub fn table(&self) -> &KeyTable {
        &self.inner.table
    }

    /// Keys named in the file.
    pub fn len(&self) -> usize {
        let by_kcv_only = self
            .inner
            .kcvs
            .keys()
            .filter(|id| !self.inner.by_key.values().any(|v| v == *id))
            .count();
        self.inner.by_key.len() + by_kcv_only
    }

    /// True when the file names no key.
    pub fn is_empty(&self) -> bool {
        self.inner.by_key.is_empty() && self.inner.by_kcv.is_empty()
    }

    fn learned(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.inner.learned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The name for a KCV the primary computed for a key of type `kt`.
    fn by_kcv(&self, kcv: &Kcv, kt: KeyType) -> Option<KeyId> {
        let mut names = self
            .inner
            .by_kcv
            .get(kcv)?
            .iter()
            .filter(|(t, _)| t.is_none_or(|t| t == kt));
        match (names.next(), names.next()) {
            (Some((_, id)), None) => Some(id.clone()),
            _ => None,
        }
    }

    /// The KCV of the key named `id`: the file's, else the one the primary
    /// computed for its cryptogram.
    pub(crate) fn kcv(&self, id: &KeyId) -> Option<Kcv> {
        if let Some(k) = self.inner.kcvs.get(id) {
            return Some(*k);
        }
        self.learned().by_id.get(id).copied()
    }

    /// Asks the primary for a KCV (BU), remembering it (up to a bound).
    async fn check(
        &self,
        primary: &PayShieldBackend,
        kt: KeyType,
        key: &EncryptedKey,
    ) -> Option<Kcv> {
        let slot = (kt, key.clone());
        if let Some(k) = self.learned().by_key.get(&slot) {
            return Some(*k);
        }
        let kcv = primary.check_value(kt, key).await.ok()?;
        let mut learned = self.learned();
        if learned.by_key.len() < LEARNED_MAX {
            learned.by_key.insert(slot, kcv);
        }
        Some(kcv)
    }

    /// The names of a command's keys (`refs`: each key with the key type
    /// its field holds): by cryptogram, else by the KCV the primary
    /// computes (BU, cached per cryptogram and type). A cryptogram the
    /// file lists without a KCV also gets its KCV computed (the typed
    /// answers carry it). A key that does not resolve (unknown KCV, a KCV
    /// two entries of that type share, a key the primary cannot check, the
    /// primary down) is left out and the command passes through.
    pub(crate) async fn resolve<'a>(
        &self,
        primary: &PayShieldBackend,
        refs: &[KeyRef<'a>],
    ) -> Resolved<'a> {
        let mut out = Resolved::default();
        for KeyRef { kt, key, usage } in refs {
            // A key block names its own type; BU takes it as `FFF`.
            let kt = if key.scheme == KeyScheme::S {
                KeyType::KEY_BLOCK
            } else {
                *kt
            };
            let id = match self.inner.by_key.get(*key) {
                Some(id) => {
                    let id = self
                        .inner
                        .shared
                        .get(*key)
                        .and_then(|names| names.iter().find(|(_, u)| Some(*u) == *usage))
                        .map_or(id, |(id, _)| id);
                    if self.kcv(id).is_none() {
                        if let Some(kcv) = self.check(primary, kt, key).await {
                            self.learned().by_id.insert(id.clone(), kcv);
                        }
                    }
                    Some(id.clone())
                }
                None if self.inner.by_kcv.is_empty() => None,
                None => match self.check(primary, kt, key).await {
                    Some(kcv) => self.by_kcv(&kcv, kt),
                    None => None,
                },
            };
            if let Some(id) = id {
                out.ids.push((*key, id));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZPK: &str = "U1EF828AA8F6B80EB83E19FBC373F3A85";

    #[test]
    fn json_entries_by_cryptogram_and_by_kcv() {
        let m = KeyMap::from_json(&format!(
            r#"{{"keys": [{{"name": "alias/zpk", "key": "{ZPK}", "kcv": "6F1E3F"}},
                        {{"name": "alias/cvk", "kcv": "08d7b4"}}]}}"#
        ))
        .unwrap();
        assert!(m
            .inner
            .by_key
            .contains_key(&EncryptedKey::parse(ZPK).unwrap()));
        assert_eq!(
            m.kcv(&KeyId::new("alias/cvk").unwrap()),
            Some(Kcv([0x08, 0xD7, 0xB4]))
        );
        assert_eq!(m.len(), 2);
        // A KCV the primary gave resolves by KCV, whatever the key type.
        let kcv = Kcv([0x08, 0xD7, 0xB4]);
        assert_eq!(m.by_kcv(&kcv, KeyType::CVK).unwrap().as_str(), "alias/cvk");
        assert_eq!(m.by_kcv(&kcv, KeyType::ZPK).unwrap().as_str(), "alias/cvk");
    }

    #[test]
    fn the_documented_example_parses() {
        let m = KeyMap::from_json(
            r#"{ "keys": [
    { "name": "alias/zpk-acquirer", "key": "U1EF828AA8F6B80EB83E19FBC373F3A85", "kcv": "6F1E3F" },
    { "name": "arn:aws:payment-cryptography:eu-west-1:111122223333:key/abcd", "kcv": "9B3F5A" },
    { "name": "alias/cvk", "key": "U8463435FC4B4DAA0C49025272C29B12C" },
    { "name": "alias/bdk", "kcv": "08D7B4", "key_type": "009" }
] }"#,
        )
        .unwrap();
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn one_clear_key_as_two_key_types_needs_the_key_type() {
        let m = KeyMap::from_json(
            r#"{"keys": [{"name": "cvk", "kcv": "08D7B4", "key_type": "402"},
                        {"name": "bdk", "kcv": "08D7B4", "key_type": "009"}]}"#,
        )
        .unwrap();
        let kcv = Kcv([0x08, 0xD7, 0xB4]);
        assert_eq!(m.by_kcv(&kcv, KeyType::CVK).unwrap().as_str(), "cvk");
        assert_eq!(m.by_kcv(&kcv, KeyType::BDK).unwrap().as_str(), "bdk");
        assert!(m.by_kcv(&kcv, KeyType::ZPK).is_none());
        let e = KeyMap::from_json(
            r#"{"keys": [{"name": "cvk", "kcv": "08D7B4", "key_type": "402"},
                        {"name": "bdk", "kcv": "08D7B4"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("keys[1] (bdk), field kcv: the same KCV as cvk"),
            "{e}"
        );
        let e = KeyMap::from_json(r#"{"keys": [{"name": "a", "kcv": "08D7B4", "key_type": "4"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("keys[0] (a), field key_type"), "{e}");
    }

    #[test]
    fn json_errors_name_the_entry_and_the_field() {
        let err = |text: &str| KeyMap::from_json(text).unwrap_err().to_string();
        let e = err(r#"{"keys": [{"name": "a", "kcv": "123456"}, {"name": "b", "kcv": "12345"}]}"#);
        assert!(e.contains("keys[1] (b), field kcv"), "{e}");
        let e = err(r#"{"keys": [{"name": "a", "key": "U12"}]}"#);
        assert!(e.contains("keys[0] (a), field key"), "{e}");
        let e = err(r#"{"keys": [{"kcv": "123456"}]}"#);
        assert!(e.contains("keys[0], field name: missing"), "{e}");
        let e = err(r#"{"keys": [{"name": "a"}]}"#);
        assert!(
            e.contains("keys[0] (a), field key: neither key nor kcv"),
            "{e}"
        );
        let e = err(r#"{"keys": [{"name": "a", "kcv": "123456", "usage": "P0"}]}"#);
        assert!(e.contains("keys[0] (a), field usage: unknown field"), "{e}");
        let e =
            err(r#"{"keys": [{"name": "a", "kcv": "123456"}, {"name": "b", "kcv": "123456"}]}"#);
        assert!(
            e.contains("keys[1] (b), field kcv: the same KCV as a"),
            "{e}"
        );
        let e = err(&format!(
            r#"{{"keys": [{{"name": "a", "key": "{ZPK}"}}, {{"name": "b", "key": "{ZPK}"}}]}}"#
        ));
        assert!(
            e.contains("keys[1] (b), field key: the same cryptogram as a"),
            "{e}"
        );
        let e = err(r#"{"keys": [{"name": "a", "kcv": 123456}]}"#);
        assert!(
            e.contains("keys[0] (a), field kcv: expected a string"),
            "{e}"
        );
        assert!(err("[1]").contains("\"keys\" array"));
        assert!(err(r#"{"keys": [], "extra": 1}"#).contains("extra"));
    }

    #[test]
    fn files_are_told_apart_by_extension_or_content() {
        let dir = std::env::temp_dir().join(format!("paycrypto-proxy-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = format!(r#"{{"keys": [{{"name": "zpk", "key": "{ZPK}"}}]}}"#);
        let table = format!("zpk 001 {ZPK} P0 B E 6F1E3F\n");
        for (file, text, kcv) in [
            ("k.json", format!("  {json}"), None),
            ("k.txt", json.clone(), None),
            ("k.table", table.clone(), Some(Kcv([0x6F, 0x1E, 0x3F]))),
        ] {
            let p = dir.join(file);
            std::fs::write(&p, text).unwrap();
            let m = KeyMap::load_file(&p).unwrap();
            let id = m.inner.by_key[&EncryptedKey::parse(ZPK).unwrap()].clone();
            assert_eq!(id.as_str(), "zpk", "{file}");
            assert_eq!(m.kcv(&id), kcv, "{file}");
        }
        let p = dir.join("bad.json");
        std::fs::write(&p, table).unwrap();
        assert!(KeyMap::load_file(&p)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

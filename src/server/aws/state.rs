//! The emulator's keys and aliases, resolution of key identifiers, and the
//! optional state file (written atomically: a temporary file created
//! exclusively, owner-only, under an unpredictable name; fsync; rename).
//! A change that cannot be saved is rolled back, so the client's error is
//! the whole truth and a retry does not create a second key.
//!
//! Key material is held in the software reference backend (which enforces
//! usage and modes of use) and, for persistence, in the record itself. The
//! state file therefore holds clear key material: it is for development and
//! CI only, like the emulator.

use super::api::{ApiError, ApiResult};
use crate::algo::kcv::{kcv_with, KcvMethod};

use crate::software::SoftwareBackend;
use crate::types::{
    Exportability, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, SecretBytes,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (the awsJson timestamp format).
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_millis() as f64) / 1000.0)
        .unwrap_or(0.0)
}

/// `KeyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyState {
    #[serde(rename = "CREATE_COMPLETE")]
    CreateComplete,
    #[serde(rename = "DELETE_PENDING")]
    DeletePending,
}

impl KeyState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CreateComplete => "CREATE_COMPLETE",
            Self::DeletePending => "DELETE_PENDING",
        }
    }
}

/// One key as the service describes it.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) id: String,
    pub(crate) arn: String,
    pub(crate) seq: u64,
    pub(crate) usage: String,
    pub(crate) algorithm: String,
    pub(crate) modes: Modes,
    pub(crate) exportability: char,
    pub(crate) exportable: bool,
    pub(crate) enabled: bool,
    pub(crate) state: KeyState,
    pub(crate) origin: String,
    pub(crate) kcv: String,
    pub(crate) kcv_algorithm: String,
    pub(crate) created: f64,
    pub(crate) usage_start: Option<f64>,
    pub(crate) usage_stop: Option<f64>,
    pub(crate) delete_pending: Option<f64>,
    pub(crate) delete_at: Option<f64>,
    #[serde(default)]
    pub(crate) tags: Vec<(String, String)>,
    /// Replica Regions and their `KeyReplicationState` (Multi-Region key
    /// replication; the emulator serves one Region and records the rest).
    #[serde(default)]
    pub(crate) replication: BTreeMap<String, String>,
    /// True when the replica Regions came from the account's defaults.
    #[serde(default)]
    pub(crate) using_default_regions: bool,
    /// The resource-based policy (stored and returned, not enforced).
    #[serde(default)]
    pub(crate) policy: Option<String>,
    /// `KeyClass` of an asymmetric key (`ASYMMETRIC_KEY_PAIR` or
    /// `PUBLIC_KEY`); `None` for `SYMMETRIC_KEY`. Asymmetric keys are held
    /// here only (the software backend holds symmetric keys): `material` is
    /// the PKCS #8 private key of a key pair, the DER SubjectPublicKeyInfo of
    /// a public key.
    #[serde(default)]
    pub(crate) key_class: Option<String>,
    /// A public key's certificate (PEM), as imported.
    #[serde(default)]
    pub(crate) certificate: Option<String>,
    /// The key id of the public key that certified this one (a trusted
    /// public key's root); `None` for a root or another key.
    #[serde(default)]
    pub(crate) issuer: Option<String>,
    /// Clear key material as hex (state file only; never logged).
    material: String,
}

impl Drop for KeyRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.material);
    }
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("arn", &self.arn)
            .field("usage", &self.usage)
            .field("algorithm", &self.algorithm)
            .field("kcv", &self.kcv)
            .finish_non_exhaustive()
    }
}

/// `KeyModesOfUse` (serialisable copy of [`ModesOfUse`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Modes([bool; 9]);

impl From<ModesOfUse> for Modes {
    fn from(m: ModesOfUse) -> Self {
        Self(m.to_flags())
    }
}

impl From<Modes> for ModesOfUse {
    fn from(m: Modes) -> Self {
        ModesOfUse::from_flags(m.0)
    }
}

/// The `KeyModesOfUse` JSON object.
pub(crate) fn modes_json(m: ModesOfUse) -> Value {
    json!({
        "Encrypt": m.encrypt, "Decrypt": m.decrypt, "Wrap": m.wrap, "Unwrap": m.unwrap,
        "Generate": m.generate, "Sign": m.sign, "Verify": m.verify,
        "DeriveKey": m.derive_key, "NoRestrictions": m.no_restrictions,
    })
}

impl KeyRecord {
    /// The crate's attributes of this key.
    pub(crate) fn attributes(&self) -> ApiResult<KeyAttributes> {
        let usage = KeyUsage::from_aws_name(&self.usage).map_err(ApiError::from)?;
        let algorithm = KeyAlgorithm::from_aws_name(&self.algorithm)
            .ok_or_else(|| ApiError::internal("stored key has an unknown algorithm"))?;
        let exportability =
            Exportability::from_tr31(self.exportability).unwrap_or(Exportability::Exportable);
        Ok(KeyAttributes::new(usage, algorithm, self.modes.into())
            .with_exportability(exportability))
    }

    /// The key's name inside the software backend (its key id).
    pub(crate) fn soft_id(&self) -> ApiResult<KeyId> {
        KeyId::new(self.id.clone()).map_err(ApiError::from)
    }

    /// Clear key material (for wrapping on export).
    pub(crate) fn material(&self) -> ApiResult<SecretBytes> {
        SecretBytes::from_hex("key material", &self.material).map_err(ApiError::from)
    }

    /// True when usable for cryptographic operations; otherwise the error AWS gives.
    pub(crate) fn check_usable(&self) -> ApiResult<()> {
        if self.state != KeyState::CreateComplete {
            return Err(ApiError::validation(format!(
                "Key {} is pending deletion",
                self.arn
            )));
        }
        if !self.enabled {
            return Err(ApiError::validation(format!(
                "Key {} is disabled",
                self.arn
            )));
        }
        Ok(())
    }

    /// The `Key` JSON structure.
    pub(crate) fn key_json(&self) -> Value {
        let mut v = json!({
            "KeyArn": self.arn,
            "KeyAttributes": self.attributes_json(),
            "KeyCheckValue": self.kcv,
            "KeyCheckValueAlgorithm": self.kcv_algorithm,
            "Enabled": self.enabled,
            "Exportable": self.exportable,
            "KeyState": self.state.as_str(),
            "KeyOrigin": self.origin,
            "CreateTimestamp": self.created,
        });
        if let Value::Object(m) = &mut v {
            self.replication_json(m);
            for (k, t) in [
                ("UsageStartTimestamp", self.usage_start),
                ("UsageStopTimestamp", self.usage_stop),
                ("DeletePendingTimestamp", self.delete_pending),
                ("DeleteTimestamp", self.delete_at),
            ] {
                if let Some(t) = t {
                    m.insert(k.into(), json!(t));
                }
            }
        }
        v
    }

    /// The Multi-Region members of `Key` (only for a key with replicas:
    /// `MultiRegionKeyType` `PRIMARY`, the emulator's Region as
    /// `PrimaryRegion`, and `ReplicationStatus` per replica Region).
    fn replication_json(&self, m: &mut serde_json::Map<String, Value>) {
        if self.replication.is_empty() {
            return;
        }
        let region = self.arn.split(':').nth(3).unwrap_or_default().to_owned();
        let status: serde_json::Map<String, Value> = self
            .replication
            .iter()
            .map(|(r, s)| (r.clone(), json!({ "Status": s })))
            .collect();
        m.insert("MultiRegionKeyType".into(), json!("PRIMARY"));
        m.insert("PrimaryRegion".into(), json!(region));
        m.insert("ReplicationStatus".into(), Value::Object(status));
        m.insert(
            "UsingDefaultReplicationRegions".into(),
            json!(self.using_default_regions),
        );
    }

    /// The `KeyAttributes` JSON structure.
    pub(crate) fn attributes_json(&self) -> Value {
        json!({
            "KeyUsage": self.usage,
            "KeyClass": self.key_class.as_deref().unwrap_or("SYMMETRIC_KEY"),
            "KeyAlgorithm": self.algorithm,
            "KeyModesOfUse": modes_json(self.modes.into()),
        })
    }

    /// The `KeySummary` JSON structure.
    pub(crate) fn summary_json(&self) -> Value {
        json!({
            "KeyArn": self.arn,
            "KeyState": self.state.as_str(),
            "KeyAttributes": self.attributes_json(),
            "KeyCheckValue": self.kcv,
            "Exportable": self.exportable,
            "Enabled": self.enabled,
        })
    }
}

/// Computes a KCV with the named AWS `KeyCheckValueAlgorithm`
/// ([`crate::algo::kcv`]: ANSI_X9_24 for TDES; CMAC for TDES or AES; HMAC
/// for HMAC keys).
pub(crate) fn compute_kcv(alg: KeyAlgorithm, kcv_alg: &str, key: &[u8]) -> ApiResult<String> {
    let bad = || {
        ApiError::field(
            "KeyCheckValueAlgorithm",
            if super::api::echo_safe(kcv_alg) {
                format!("{kcv_alg} is not valid for {}", alg.aws_name())
            } else {
                format!("this value is not valid for {}", alg.aws_name())
            },
        )
    };
    if kcv_alg == "SHA_1" {
        return Err(ApiError::unsupported("KeyCheckValueAlgorithm SHA_1"));
    }
    let method = KcvMethod::from_aws_name(kcv_alg)
        .filter(|m| m.applies_to(alg))
        .ok_or_else(bad)?;
    let kcv = kcv_with(alg, method, key).map_err(crate::Error::from)?;
    Ok(kcv.to_string())
}

/// What a new key is made of.
pub(crate) struct NewKey {
    pub(crate) attributes: KeyAttributes,
    pub(crate) material: SecretBytes,
    pub(crate) exportable: bool,
    pub(crate) enabled: bool,
    pub(crate) origin: &'static str,
    pub(crate) kcv_algorithm: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
}

impl NewKey {
    /// A key that came from outside (`KeyOrigin` `EXTERNAL`), exportable as
    /// its attributes say.
    pub(crate) fn external(
        attributes: KeyAttributes,
        material: SecretBytes,
        enabled: bool,
        kcv_algorithm: Option<String>,
        tags: Vec<(String, String)>,
    ) -> Self {
        Self {
            attributes,
            material,
            exportable: attributes.exportability.allows_export(),
            enabled,
            origin: "EXTERNAL",
            kcv_algorithm,
            tags,
        }
    }
}

/// What a new asymmetric key is made of.
pub(crate) struct NewAsymmetricKey {
    pub(crate) usage: String,
    pub(crate) algorithm: String,
    pub(crate) class: &'static str,
    pub(crate) modes: ModesOfUse,
    /// PKCS #8 private key (key pair) or DER SubjectPublicKeyInfo (public key).
    pub(crate) material: SecretBytes,
    /// DER SubjectPublicKeyInfo.
    pub(crate) spki: Vec<u8>,
    pub(crate) certificate: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) exportable: bool,
    pub(crate) enabled: bool,
    pub(crate) origin: &'static str,
    pub(crate) tags: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize, Default)]
struct Persisted {
    version: u32,
    seq: u64,
    keys: Vec<KeyRecord>,
    aliases: BTreeMap<String, Option<String>>,
    #[serde(default)]
    settings: Account,
}

/// Account-wide settings: default replication Regions and Multi-Party
/// Approval team associations (protected operation → team ARN).
#[derive(Serialize, Deserialize, Default, Clone)]
pub(crate) struct Account {
    pub(crate) default_regions: std::collections::BTreeSet<String>,
    pub(crate) mpa_teams: BTreeMap<String, String>,
}

/// Keys, aliases and the software backend that does the cryptography.
pub(crate) struct Store {
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) soft: SoftwareBackend,
    keys: HashMap<String, Arc<KeyRecord>>,
    aliases: BTreeMap<String, Option<String>>,
    settings: Account,
    seq: u64,
    file: Option<PathBuf>,
    /// The state as last written to `file` (with a file only): what a
    /// change that cannot be saved rolls back to.
    saved: Option<Saved>,
}

/// A snapshot of the store's tables (records are shared, not copied).
struct Saved {
    keys: HashMap<String, Arc<KeyRecord>>,
    aliases: BTreeMap<String, Option<String>>,
    settings: Account,
    seq: u64,
}

impl Store {
    /// An empty store, or the one saved in `file` when it exists.
    pub(crate) fn open(
        region: &str,
        account: &str,
        file: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let mut s = Self {
            region: region.to_owned(),
            account: account.to_owned(),
            // AWS Payment Cryptography does not document a DES parity check on
            // import; the emulator accepts keys without odd parity.
            soft: SoftwareBackend::with_name("aws-emulator").with_parity_check(false),
            keys: HashMap::new(),
            aliases: BTreeMap::new(),
            settings: Account::default(),
            seq: 0,
            file,
            saved: None,
        };
        if let Some(path) = s.file.clone() {
            if path.exists() {
                s.load(&path)?;
                restrict_permissions(&path);
            }
            s.saved = Some(s.snapshot());
        }
        Ok(s)
    }

    fn snapshot(&self) -> Saved {
        Saved {
            keys: self.keys.clone(),
            aliases: self.aliases.clone(),
            settings: self.settings.clone(),
            seq: self.seq,
        }
    }

    /// Returns to the state last saved: keys added since leave the
    /// software backend too.
    fn roll_back(&mut self) {
        let Some(saved) = &self.saved else {
            return;
        };
        for id in self.keys.keys().filter(|id| !saved.keys.contains_key(*id)) {
            if let Ok(kid) = KeyId::new(id.clone()) {
                self.soft.remove_clear(&kid);
            }
        }
        self.keys = saved.keys.clone();
        self.aliases = saved.aliases.clone();
        self.settings = saved.settings.clone();
        self.seq = saved.seq;
    }

    fn load(&mut self, path: &Path) -> std::io::Result<()> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let text = std::fs::read_to_string(path)?;
        let p: Persisted =
            serde_json::from_str(&text).map_err(|_| bad("state file is not valid JSON"))?;
        for k in p.keys {
            if k.key_class.is_some() {
                // Asymmetric keys live in the record alone.
                self.keys.insert(k.id.clone(), Arc::new(k));
                continue;
            }
            let attrs = k
                .attributes()
                .map_err(|_| bad("state file has an invalid key"))?;
            let material = k
                .material()
                .map_err(|_| bad("state file has invalid key material"))?;
            let id = k
                .soft_id()
                .map_err(|_| bad("state file has an invalid key id"))?;
            self.soft
                .insert_clear(id, attrs, material)
                .map_err(|_| bad("state file has an invalid key"))?;
            self.keys.insert(k.id.clone(), Arc::new(k));
        }
        self.aliases = p.aliases;
        self.settings = p.settings;
        self.seq = p.seq;
        Ok(())
    }

    /// Writes the state file, if any, atomically. Every change is followed
    /// by a save under the same write lock; when the save fails, the
    /// change is rolled back and the request fails.
    pub(crate) fn save(&mut self) -> ApiResult<()> {
        match self.write_file() {
            Ok(()) => {
                if self.file.is_some() {
                    self.saved = Some(self.snapshot());
                }
                Ok(())
            }
            Err(e) => {
                self.roll_back();
                Err(e)
            }
        }
    }

    fn write_file(&self) -> ApiResult<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let mut keys: Vec<KeyRecord> = self.keys.values().map(|k| (**k).clone()).collect();
        keys.sort_by_key(|k| k.seq);
        let p = Persisted {
            version: 1,
            seq: self.seq,
            keys,
            aliases: self.aliases.clone(),
            settings: self.settings.clone(),
        };
        let text = serde_json::to_vec_pretty(&p)
            .map_err(|_| ApiError::internal("state encoding failed"))?;
        write_atomic(path, &text)
            .map_err(|e| ApiError::internal(format!("state file write failed: {e}")))
    }

    fn new_key_id() -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        (0..16)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    }

    /// The ARN prefix `arn:aws:payment-cryptography:<region>:<account>:`.
    pub(crate) fn arn_prefix(&self) -> String {
        format!(
            "arn:aws:payment-cryptography:{}:{}:",
            self.region, self.account
        )
    }

    /// Adds a key; returns its record.
    pub(crate) fn add(&mut self, k: NewKey) -> ApiResult<Arc<KeyRecord>> {
        let alg = k.attributes.algorithm;
        let kcv_alg = k
            .kcv_algorithm
            .unwrap_or_else(|| KcvMethod::default_for(alg).aws_name().to_owned());
        let kcv = compute_kcv(alg, &kcv_alg, k.material.expose())?;
        let id = Self::new_key_id();
        let soft_id = KeyId::new(id.clone()).map_err(ApiError::from)?;
        self.soft
            .insert_clear(soft_id, k.attributes, k.material.clone())
            .map_err(ApiError::from)?;
        self.seq += 1;
        let t = now();
        let rec = Arc::new(KeyRecord {
            arn: format!("{}key/{id}", self.arn_prefix()),
            id: id.clone(),
            seq: self.seq,
            usage: k.attributes.usage.aws_name().to_owned(),
            algorithm: alg.aws_name().to_owned(),
            modes: k.attributes.modes.into(),
            exportability: k.attributes.exportability.tr31_code(),
            exportable: k.exportable,
            enabled: k.enabled,
            state: KeyState::CreateComplete,
            origin: k.origin.to_owned(),
            kcv,
            kcv_algorithm: kcv_alg,
            created: t,
            usage_start: k.enabled.then_some(t),
            usage_stop: None,
            delete_pending: None,
            delete_at: None,
            tags: k.tags,
            replication: BTreeMap::new(),
            using_default_regions: false,
            policy: None,
            key_class: None,
            certificate: None,
            issuer: None,
            material: hex::encode_upper(k.material.expose()),
        });
        self.keys.insert(id, rec.clone());
        Ok(rec)
    }

    /// Adds an asymmetric key (held in the record only). Its KCV is the
    /// emulator's: `SHA_1`, the leftmost 4 bytes of SHA-1 over the DER
    /// SubjectPublicKeyInfo (AWS publishes no KCV rule for asymmetric keys).
    pub(crate) fn add_asymmetric(&mut self, k: NewAsymmetricKey) -> Arc<KeyRecord> {
        use sha1::{Digest, Sha1};
        let id = Self::new_key_id();
        self.seq += 1;
        let t = now();
        let digest = Sha1::digest(&k.spki);
        let rec = Arc::new(KeyRecord {
            arn: format!("{}key/{id}", self.arn_prefix()),
            id: id.clone(),
            seq: self.seq,
            usage: k.usage,
            algorithm: k.algorithm,
            modes: k.modes.into(),
            exportability: 'N',
            exportable: k.exportable,
            enabled: k.enabled,
            state: KeyState::CreateComplete,
            origin: k.origin.to_owned(),
            kcv: hex::encode_upper(digest.get(..4).unwrap_or_default()),
            kcv_algorithm: "SHA_1".into(),
            created: t,
            usage_start: k.enabled.then_some(t),
            usage_stop: None,
            delete_pending: None,
            delete_at: None,
            tags: k.tags,
            replication: BTreeMap::new(),
            using_default_regions: false,
            policy: None,
            key_class: Some(k.class.to_owned()),
            certificate: k.certificate,
            issuer: k.issuer,
            material: hex::encode_upper(k.material.expose()),
        });
        self.keys.insert(id, rec.clone());
        rec
    }

    /// Replaces a record (state changes).
    pub(crate) fn update(&mut self, rec: KeyRecord) -> Arc<KeyRecord> {
        let rec = Arc::new(rec);
        self.keys.insert(rec.id.clone(), rec.clone());
        rec
    }

    /// Resolves a key ARN, an alias ARN or an alias name to a key.
    pub(crate) fn resolve(&self, ident: &str) -> ApiResult<Arc<KeyRecord>> {
        let prefix = self.arn_prefix();
        if let Some(rest) = ident.strip_prefix("arn:aws:payment-cryptography:") {
            let ours = ident.starts_with(&prefix);
            let tail = rest.splitn(3, ':').nth(2).unwrap_or("");
            if let Some(id) = tail.strip_prefix("key/") {
                if !(16..=64).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(ApiError::field("KeyIdentifier", "is not a valid key ARN"));
                }
                return match self.keys.get(id) {
                    Some(k) if ours => Ok(k.clone()),
                    _ => Err(ApiError::not_found(ident)),
                };
            }
            if let Some(alias) = tail.strip_prefix("alias/") {
                check_alias_name(alias)?;
                if !ours {
                    return Err(ApiError::not_found(ident));
                }
                return self.resolve_alias(&format!("alias/{alias}"), ident);
            }
            return Err(ApiError::field(
                "KeyIdentifier",
                "is not a valid key ARN or alias",
            ));
        }
        if let Some(alias) = ident.strip_prefix("alias/") {
            check_alias_name(alias)?;
            return self.resolve_alias(ident, ident);
        }
        Err(ApiError::field(
            "KeyIdentifier",
            "must be a key ARN, an alias ARN or an alias name (alias/...)",
        ))
    }

    fn resolve_alias(&self, alias: &str, ident: &str) -> ApiResult<Arc<KeyRecord>> {
        match self.aliases.get(alias) {
            Some(Some(id)) => self
                .keys
                .get(id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(ident)),
            _ => Err(ApiError::not_found(ident)),
        }
    }

    /// Resolves a `KeyArn` field (ARN of a key only).
    pub(crate) fn resolve_arn(&self, arn: &str) -> ApiResult<Arc<KeyRecord>> {
        if !arn.starts_with("arn:") || !arn.contains(":key/") {
            return Err(ApiError::field("KeyArn", "is not a valid key ARN"));
        }
        self.resolve(arn)
    }

    /// Keys in creation order.
    pub(crate) fn keys(&self) -> Vec<Arc<KeyRecord>> {
        let mut v: Vec<_> = self.keys.values().cloned().collect();
        v.sort_by_key(|k| k.seq);
        v
    }

    /// Aliases (name → key id).
    pub(crate) fn aliases(&self) -> &BTreeMap<String, Option<String>> {
        &self.aliases
    }

    /// Sets (or creates) an alias.
    pub(crate) fn set_alias(&mut self, name: &str, key: Option<String>) {
        self.aliases.insert(name.to_owned(), key);
    }

    /// Removes an alias; false when absent.
    pub(crate) fn remove_alias(&mut self, name: &str) -> bool {
        self.aliases.remove(name).is_some()
    }

    /// Account-wide settings.
    pub(crate) fn account(&self) -> &Account {
        &self.settings
    }

    /// Account-wide settings, to change (then [`Store::save`]).
    pub(crate) fn account_mut(&mut self) -> &mut Account {
        &mut self.settings
    }

    /// The ARN of a key id.
    pub(crate) fn arn_of(&self, id: &str) -> Option<String> {
        self.keys.get(id).map(|k| k.arn.clone())
    }
}

/// Validates an alias name's part after `alias/`.
pub(crate) fn check_alias_name(rest: &str) -> ApiResult<()> {
    if rest.is_empty()
        || rest.len() > 250
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(ApiError::field(
            "AliasName",
            "must match alias/[a-zA-Z0-9/_-]+",
        ));
    }
    Ok(())
}

/// Makes an existing state file readable by its owner only (it holds clear
/// key material); best effort.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Replaces `path` with `data`: written to a new file in the same
/// directory, created exclusively (never through an existing file or
/// link) with an unpredictable name and mode 0600, synced, then renamed
/// over `path`. The temporary file is removed on failure.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let mut rng = rand::rng();
    let suffix: String = (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Only a file this call created is ever removed.
    let f = options.open(&tmp)?;
    let write = |mut f: std::fs::File| -> std::io::Result<()> {
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write(f) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_is_private_and_temp_names_vary() {
        let dir = std::env::temp_dir().join(format!(
            "paycrypto-state-unit-{}-{}",
            std::process::id(),
            Store::new_key_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        write_atomic(&path, b"{}").unwrap();
        write_atomic(&path, b"{ }").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"{ }");
        // Nothing left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // A failed write (the target is a directory) leaves no temporary file.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(write_atomic(&path, b"{}").is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

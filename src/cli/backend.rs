//! Choosing a backend (`--backend URL`), the key configuration file
//! (`--keys FILE`), and the calculator session that loads clear test keys
//! given on the command line into an in-process software backend.
//!
//! # Key configuration file
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
//!   `M6`, `M7`, `D0`, …). Required with `clear`.
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
//! # payShield keys
//!
//! A variant-LMK payShield stores no keys: the host keeps each key under
//! the LMK and names it. `--backend payshield://HOST:PORT` builds that key
//! table from the `lmk` entries of `--keys FILE`, and from `--key-table
//! FILE` (one key a line: `<name> <key type> <key under LMK> <usage> <mode>
//! <exportability> <KCV>`, see [`crate::payshield::KeyTable`]).
//!
//! A real payShield accepts clear components only at its console, so
//! `clear` entries are refused on it — except when the HSM reports (NC)
//! the check value of the **public test LMK** (the simulator, a lab HSM):
//! then the tool forms a random KEK, encrypts it under the test LMK
//! straight into the key table, and imports each clear key as a TR-31
//! block under it (A6), like any key exchange. It never does so for any
//! other LMK. `paycrypto conformance` on such an HSM provisions its own
//! keys the same way.
//!
//! For `paycrypto conformance --keys FILE`, the entry names are the suite's
//! roles: `kek`, `kek-aes`, `zpk`, `zpk2`, `zpk-aes`, `zpk-nx`, `bdk`,
//! `bdk-aes`, `cvk`, `imk-ac`, `mac-m3`, `mac-m1`, `mac-cmac`,
//! `mac-cmac-aes`, `mac-hmac`, `dek`, `dek-aes`.

use super::aws::{open_aws, AwsOptions};
use super::output::CliError;
use crate::backend::{Backend, BackendExt};
use crate::conformance::{KeyRef, KeySet, Role};
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::payshield::{EncryptedKey, KeyTable, KeyType, PayShieldBackend, PayShieldConfig};
use crate::software::SoftwareBackend;
use crate::types::{
    Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, SecretBytes,
};
use rand::RngCore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where operations run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendSpec {
    /// The in-process software reference backend.
    Software,
    /// A payShield-compatible HSM (or the simulator) over TCP.
    PayShield {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// AWS Payment Cryptography (or the emulator).
    Aws {
        /// Region (`None`: from the environment).
        region: Option<String>,
        /// Endpoint URL (the emulator, or a VPC endpoint).
        endpoint_url: Option<String>,
    },
}

impl BackendSpec {
    /// Parses `--backend URL` with an optional `--endpoint-url`:
    /// `software`, `payshield://HOST:PORT`, `aws`, `aws://REGION`.
    pub fn parse(url: &str, endpoint_url: Option<&str>) -> Result<Self, CliError> {
        let bad = |why: &str| CliError::arg("--backend", why);
        let spec = if url == "software" {
            Self::Software
        } else if let Some(rest) = url.strip_prefix("payshield://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("payshield://HOST:PORT needs a port"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad("payshield://HOST:PORT needs a host"));
            }
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the payShield port must be a number from 1 to 65535"))?;
            Self::PayShield {
                host: host.to_string(),
                port,
            }
        } else if url == "aws" || url.starts_with("aws://") {
            let region = url.strip_prefix("aws://").filter(|r| !r.is_empty());
            if let Some(r) = region {
                if !r
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err(bad("an AWS region looks like eu-west-1"));
                }
            }
            Self::Aws {
                region: region.map(str::to_string),
                endpoint_url: None,
            }
        } else {
            return Err(bad(
                "expected software, payshield://HOST:PORT, aws or aws://REGION",
            ));
        };
        let Some(e) = endpoint_url else {
            return Ok(spec);
        };
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(CliError::arg(
                "--endpoint-url",
                "expected an http:// or https:// URL",
            ));
        }
        match spec {
            // `--endpoint-url` alone (the default backend) means AWS.
            Self::Aws { region, .. } => Ok(Self::Aws {
                region,
                endpoint_url: Some(e.to_string()),
            }),
            Self::Software => Ok(Self::Aws {
                region: None,
                endpoint_url: Some(e.to_string()),
            }),
            Self::PayShield { .. } => Err(CliError::usage(
                "--endpoint-url applies to the AWS backend only",
            )),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::PayShield { .. } => "payshield",
            Self::Aws { .. } => "aws",
        }
    }
}

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

/// The usual modes of use for a key usage (derive, encrypt/decrypt or generate/verify).
pub(crate) fn default_modes_for(usage: KeyUsage) -> ModesOfUse {
    match usage {
        KeyUsage::Bdk
        | KeyUsage::DukptInitialKey
        | KeyUsage::EmvAppCryptogram
        | KeyUsage::EmvSmConfidentiality
        | KeyUsage::EmvSmIntegrity
        | KeyUsage::EmvDynamicNumbers
        | KeyUsage::EmvCardPersonalization
        | KeyUsage::EmvOther => ModesOfUse::DERIVE,
        KeyUsage::PinEncryption
        | KeyUsage::DataEncryption
        | KeyUsage::KeyEncryption
        | KeyUsage::KeyBlockProtection => ModesOfUse::BOTH,
        _ => ModesOfUse::GENERATE_VERIFY,
    }
}

fn algorithm_from_name(s: &str) -> Option<KeyAlgorithm> {
    [
        KeyAlgorithm::Tdes2,
        KeyAlgorithm::Tdes3,
        KeyAlgorithm::Aes128,
        KeyAlgorithm::Aes192,
        KeyAlgorithm::Aes256,
        KeyAlgorithm::HmacSha256,
    ]
    .into_iter()
    .find(|a| a.aws_name().eq_ignore_ascii_case(s))
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
                .map(|k| {
                    crate::payshield::keytable::algorithm_for(k.scheme)
                        .map_err(|_| at("lmk", "only double- (U) and triple-length (T) keys"))
                })
                .transpose()?;
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
                if a != l {
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
                        None => default_modes_for(u),
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

/// An in-process software backend with a session KEK (formed from two
/// random AES-256 components), into which clear test keys are loaded
/// through TR-31 blocks — the same key-exchange path as any backend.
///
/// TDES parity is not enforced, as a calculator must accept any test key.
pub struct SoftwareSession {
    backend: SoftwareBackend,
    kek: KeyId,
    kek_clear: Zeroizing<Vec<u8>>,
}

impl SoftwareSession {
    /// A fresh session.
    pub async fn new() -> Result<Self, CliError> {
        let backend = SoftwareBackend::new().with_parity_check(false);
        let mut c1 = Zeroizing::new(vec![0u8; 32]);
        let mut c2 = Zeroizing::new(vec![0u8; 32]);
        rand::rng().fill_bytes(&mut c1);
        rand::rng().fill_bytes(&mut c2);
        let kek = KeyId::new("session/kek")?;
        let kek_clear = combine_components(KeyAlgorithm::Aes256, &[&c1, &c2])?;
        backend
            .import_key(kek_from_components(
                kek.clone(),
                KeyAlgorithm::Aes256,
                &[&c1, &c2],
            )?)
            .await?;
        Ok(Self {
            backend,
            kek,
            kek_clear,
        })
    }

    /// Loads `clear` as `name` with `attributes`.
    pub async fn load(
        &self,
        name: &KeyId,
        attributes: KeyAttributes,
        clear: &[u8],
    ) -> crate::Result<()> {
        let req = tr31_import(
            self.kek.clone(),
            KeyAlgorithm::Aes256,
            &self.kek_clear,
            name.clone(),
            attributes,
            clear,
        )?;
        self.backend.import_key(req).await.map(|_| ())
    }

    /// Loads every configuration entry that has a clear value.
    pub async fn load_config(&self, config: &KeyConfig) -> Result<(), CliError> {
        for (name, e) in &config.keys {
            if let (Some(clear), Some(a)) = (&e.clear, e.attributes) {
                self.load(&e.id, a, clear.expose())
                    .await
                    .map_err(|err| CliError::arg("--keys", format!("key \"{name}\": {err}")))?;
            }
        }
        Ok(())
    }

    /// The backend (shares its keys with this session).
    pub fn backend(&self) -> SoftwareBackend {
        self.backend.clone()
    }
}

/// payShield connection options from the command line.
#[derive(Debug, Clone, Default)]
pub struct PayShieldOptions {
    /// Message header length configured on the HSM (default 4).
    pub header_len: Option<usize>,
    /// A key-table file to load (see [`crate::payshield::KeyTable`]).
    pub key_table: Option<PathBuf>,
}

/// Opens the backend `spec` names, with the keys of `config`.
///
/// `software` is an in-process [`SoftwareBackend`] holding the
/// configuration's clear test keys; `payshield://HOST:PORT` connects a
/// [`PayShieldBackend`] (see [`open_payshield`]); `aws[://REGION]` and
/// `--endpoint-url` build an [`AwsBackend`](crate::aws::AwsBackend) (see
/// [`super::aws::open_aws`]).
pub async fn open_backend(
    spec: &BackendSpec,
    config: &KeyConfig,
) -> Result<Arc<dyn Backend>, CliError> {
    open_backend_with(spec, config, &PayShieldOptions::default()).await
}

/// [`open_backend`] with payShield options.
pub async fn open_backend_with(
    spec: &BackendSpec,
    config: &KeyConfig,
    payshield: &PayShieldOptions,
) -> Result<Arc<dyn Backend>, CliError> {
    open_backend_full(spec, config, payshield, &AwsOptions::default()).await
}

/// [`open_backend`] with payShield and AWS options.
pub async fn open_backend_full(
    spec: &BackendSpec,
    config: &KeyConfig,
    payshield: &PayShieldOptions,
    aws: &AwsOptions,
) -> Result<Arc<dyn Backend>, CliError> {
    match spec {
        BackendSpec::Software => {
            let s = SoftwareSession::new().await?;
            s.load_config(config).await?;
            Ok(Arc::new(s.backend()))
        }
        BackendSpec::PayShield { host, port } => Ok(Arc::new(
            open_payshield(host, *port, config, payshield).await?,
        )),
        BackendSpec::Aws {
            region,
            endpoint_url,
        } => Ok(Arc::new(
            open_aws(region.as_deref(), endpoint_url.as_deref(), config, aws).await?,
        )),
    }
}

/// Name of the KEK under which `clear` configuration keys are imported into
/// a payShield running the public test LMK.
pub const PAYSHIELD_SESSION_KEK: &str = "paycrypto-cli/session-kek";

/// Connects to the payShield at `HOST:PORT` and builds its key table: the
/// `--key-table` file, the configuration's `lmk` entries (check values
/// computed by the HSM), and — only when the HSM reports the public test
/// LMK — the configuration's `clear` entries, imported as TR-31 blocks
/// under a random session KEK loaded under the test LMK.
pub async fn open_payshield(
    host: &str,
    port: u16,
    config: &KeyConfig,
    opts: &PayShieldOptions,
) -> Result<PayShieldBackend, CliError> {
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut cfg = PayShieldConfig::new(addr.clone());
    if let Some(h) = opts.header_len {
        if !(1..=255).contains(&h) {
            return Err(CliError::arg(
                "--header-len",
                "expected 1 to 255 characters",
            ));
        }
        cfg.header_len = h;
    }
    let table = KeyTable::new();
    if let Some(path) = &opts.key_table {
        table.load_file(path).map_err(|e| {
            CliError::arg(
                "--key-table",
                format!("{}: {}", path.display(), e.context()),
            )
        })?;
    }
    let ps = PayShieldBackend::connect(cfg, table)
        .await
        .map_err(|e| CliError::op(format!("cannot connect to the payShield at {addr}: {e}")))?;
    // Fail early, with the HSM's answer, when it does not speak the protocol.
    ps.diagnostics().await.map_err(|e| {
        CliError::op(format!(
            "the payShield at {addr} does not answer NC (diagnostics): {e}"
        ))
    })?;
    let key_err =
        |name: &str, e: crate::Error| CliError::arg("--keys", format!("key \"{name}\": {e}"));
    for (name, e) in &config.keys {
        if let (Some((key, kt)), Some(a)) = (&e.under_lmk, e.attributes) {
            ps.add_key_under_lmk(e.id.clone(), *kt, key.clone(), a, e.kcv)
                .await
                .map_err(|err| key_err(name, err))?;
        }
    }
    if config.keys.values().any(|e| e.clear.is_some()) {
        if !ps.runs_test_lmk().await? {
            return Err(CliError::arg(
                "--keys",
                "clear keys can be loaded only into a payShield running the public test LMK; \
                 this HSM reports another LMK check value (give keys under its LMK with \"lmk\")",
            ));
        }
        let kek = KeyId::new(PAYSHIELD_SESSION_KEK)?;
        let mut kek_clear = Zeroizing::new(vec![0u8; 16]);
        rand::rng().fill_bytes(&mut kek_clear);
        crate::algo::cipher::fix_odd_parity(&mut kek_clear);
        let attrs = KeyAttributes::new(
            KeyUsage::KeyEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        )
        .with_exportability(Exportability::NonExportable);
        ps.load_test_key(kek.clone(), attrs, &kek_clear).await?;
        for (name, e) in &config.keys {
            if let (Some(clear), Some(a)) = (&e.clear, e.attributes) {
                let req = tr31_import(
                    kek.clone(),
                    KeyAlgorithm::Tdes2,
                    &kek_clear,
                    e.id.clone(),
                    a,
                    clear.expose(),
                )
                .map_err(|err| key_err(name, err))?;
                ps.import_key(req).await.map_err(|err| key_err(name, err))?;
            }
        }
    }
    Ok(ps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls() {
        assert_eq!(
            BackendSpec::parse("software", None).unwrap(),
            BackendSpec::Software
        );
        assert_eq!(
            BackendSpec::parse("payshield://10.0.0.1:1500", None).unwrap(),
            BackendSpec::PayShield {
                host: "10.0.0.1".into(),
                port: 1500
            }
        );
        assert_eq!(
            BackendSpec::parse("payshield://[::1]:1500", None).unwrap(),
            BackendSpec::PayShield {
                host: "::1".into(),
                port: 1500
            }
        );
        assert_eq!(
            BackendSpec::parse("aws://eu-west-1", None).unwrap(),
            BackendSpec::Aws {
                region: Some("eu-west-1".into()),
                endpoint_url: None
            }
        );
        assert_eq!(
            BackendSpec::parse("software", Some("http://127.0.0.1:4566")).unwrap(),
            BackendSpec::Aws {
                region: None,
                endpoint_url: Some("http://127.0.0.1:4566".into())
            }
        );
        for bad in [
            "payshield://host",
            "payshield://:1500",
            "payshield://h:0",
            "payshield://h:99999",
            "aws://EU WEST",
            "http://x",
            "",
        ] {
            let e = BackendSpec::parse(bad, None).unwrap_err();
            assert!(e.message.contains("--backend"), "{bad}: {e}");
            assert_eq!(e.code, crate::cli::output::EXIT_USAGE);
        }
        assert!(BackendSpec::parse("aws", Some("ftp://x")).is_err());
        assert!(BackendSpec::parse("payshield://h:1", Some("http://x")).is_err());
    }

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

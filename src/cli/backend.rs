//! Choosing a backend (`--backend URL`), loading the key configuration
//! ([`super::keys`]) into it, and the calculator session that loads clear
//! test keys given on the command line into an in-process software backend.
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
use super::keys::KeyConfig;
use super::output::CliError;
use crate::backend::{Backend, BackendExt};
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use crate::software::SoftwareBackend;
use crate::types::{Exportability, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};
use rand::RngCore;
use std::path::PathBuf;
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
}

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

use super::args::with;
use super::aws::open_aws;
use super::keys::KeyConfig;
use super::output::CliError;
use super::BackendArgs;
use crate::backend::{Backend, BackendExt};
use crate::connect::{AwsUrl, BackendUrl, PayShieldUrl};
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::payshield::{KeyTable, PayShieldBackend};
use crate::software::SoftwareBackend;
use crate::types::{Exportability, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};
use rand::RngCore;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The backend URL the arguments give: `--backend URL` (see
/// [`BackendUrl`]), with `--endpoint-url` (which alone means AWS) and, for
/// a payShield, `--header-len`.
pub(crate) fn backend_url(b: &BackendArgs) -> Result<BackendUrl, CliError> {
    parse_backend(&b.backend, b.endpoint_url.as_deref(), b.header_len)
}

fn parse_backend(
    url: &str,
    endpoint_url: Option<&str>,
    header_len: Option<usize>,
) -> Result<BackendUrl, CliError> {
    let url = with("--backend", url.parse::<BackendUrl>())?;
    let url = match endpoint_url {
        None => url,
        Some(e) => {
            let endpoint = with("--endpoint-url", AwsUrl::default().with_endpoint(e))?;
            match url {
                // `--endpoint-url` alone (the default backend) means AWS.
                BackendUrl::Software => BackendUrl::Aws(endpoint),
                BackendUrl::Aws(a) => match a.endpoint() {
                    Some(given) if given != e => {
                        return Err(CliError::usage(
                            "--endpoint-url and the endpoint option of --backend differ; \
                             give the endpoint once",
                        ))
                    }
                    _ => BackendUrl::Aws(with("--endpoint-url", a.with_endpoint(e))?),
                },
                BackendUrl::PayShield(_) => {
                    return Err(CliError::usage(
                        "--endpoint-url applies to the AWS backend only",
                    ))
                }
            }
        }
    };
    Ok(match (url, header_len) {
        (BackendUrl::PayShield(p), Some(h)) => {
            if p.header_len().is_some_and(|given| given != h) {
                return Err(CliError::usage(
                    "--header-len and the header_len option of --backend differ; \
                     give the header length once",
                ));
            }
            BackendUrl::PayShield(with("--header-len", p.with_header_len(h))?)
        }
        (url, _) => url,
    })
}

/// An in-process software backend with a session KEK (formed from two
/// random AES-256 components), into which clear test keys are loaded
/// through TR-31 blocks — the same key-exchange path as any backend.
///
/// TDES parity is not enforced, as a calculator must accept any test key.
pub(crate) struct SoftwareSession {
    backend: SoftwareBackend,
    kek: KeyId,
    kek_clear: Zeroizing<Vec<u8>>,
}

impl SoftwareSession {
    /// A fresh session.
    pub(crate) async fn new() -> Result<Self, CliError> {
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
    pub(crate) async fn load(
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
    pub(crate) async fn load_config(&self, config: &KeyConfig) -> Result<(), CliError> {
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
    pub(crate) fn backend(&self) -> SoftwareBackend {
        self.backend.clone()
    }
}

/// Opens the backend `url` names, with the keys of `config`.
///
/// `software` is an in-process [`SoftwareBackend`] holding the
/// configuration's clear test keys (a [`SoftwareSession`]);
/// `payshield://…` connects a [`PayShieldBackend`] (see
/// [`open_payshield`]); `aws…` builds an [`AwsBackend`](crate::aws::AwsBackend)
/// (see [`open_aws`]).
pub(crate) async fn open_backend(
    url: &BackendUrl,
    config: &KeyConfig,
    args: &BackendArgs,
) -> Result<Arc<dyn Backend>, CliError> {
    match url {
        BackendUrl::Software => {
            let s = SoftwareSession::new().await?;
            s.load_config(config).await?;
            Ok(Arc::new(s.backend()))
        }
        BackendUrl::PayShield(p) => Ok(Arc::new(
            open_payshield(p, config, args.key_table.as_deref()).await?,
        )),
        BackendUrl::Aws(a) => Ok(Arc::new(open_aws(a, config, &args.aws_options()).await?)),
    }
}

/// Name of the KEK under which `clear` configuration keys are imported into
/// a payShield running the public test LMK.
pub(crate) const PAYSHIELD_SESSION_KEK: &str = "paycrypto-cli/session-kek";

/// Connects to the payShield `url` names and builds its key table: the
/// `--key-table` file, the configuration's `lmk` entries (check values
/// computed by the HSM), and — only when the HSM reports the public test
/// LMK — the configuration's `clear` entries, imported as TR-31 blocks
/// under a random session KEK loaded under the test LMK.
pub(crate) async fn open_payshield(
    url: &PayShieldUrl,
    config: &KeyConfig,
    key_table: Option<&Path>,
) -> Result<PayShieldBackend, CliError> {
    let addr = url.addr();
    let table = KeyTable::new();
    if let Some(path) = key_table {
        table.load_file(path).map_err(|e| {
            CliError::arg(
                "--key-table",
                format!("{}: {}", path.display(), e.context()),
            )
        })?;
    }
    let ps = url
        .connect(table)
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
    use crate::cli::output::EXIT_USAGE;

    fn parse(url: &str, endpoint: Option<&str>) -> Result<BackendUrl, CliError> {
        parse_backend(url, endpoint, Some(4))
    }

    #[test]
    fn backend_urls() {
        assert_eq!(parse("software", None).unwrap(), BackendUrl::Software);
        let BackendUrl::PayShield(p) = parse("payshield://10.0.0.1:1500", None).unwrap() else {
            panic!("payshield")
        };
        assert_eq!(
            (p.host(), p.port(), p.header_len()),
            ("10.0.0.1", 1500, Some(4))
        );
        let BackendUrl::PayShield(p) = parse("payshield://[::1]:1500", None).unwrap() else {
            panic!("payshield")
        };
        assert_eq!((p.host(), p.addr().as_str()), ("::1", "[::1]:1500"));
        let BackendUrl::Aws(a) = parse("aws://eu-west-1", None).unwrap() else {
            panic!("aws")
        };
        assert_eq!((a.region(), a.endpoint()), (Some("eu-west-1"), None));
        // --endpoint-url alone means AWS.
        let BackendUrl::Aws(a) = parse("software", Some("http://127.0.0.1:4566")).unwrap() else {
            panic!("aws")
        };
        assert_eq!(
            (a.region(), a.endpoint()),
            (None, Some("http://127.0.0.1:4566"))
        );
        for bad in [
            "payshield://host",
            "payshield://:1500",
            "payshield://h:0",
            "payshield://h:99999",
            "payshields://h:1500",
            "payshield://h:1?colour=red",
            "aws://EU WEST",
            "http://x",
            "",
        ] {
            let e = parse(bad, None).unwrap_err();
            assert!(e.message.contains("--backend"), "{bad}: {e}");
            assert_eq!(e.code, EXIT_USAGE);
        }
        let e = parse("payshield://host", None).unwrap_err();
        assert!(e.message.contains("port"), "{e}");
        let e = parse("aws", Some("ftp://x")).unwrap_err();
        assert!(e.message.contains("--endpoint-url"), "{e}");
        let e = parse("payshield://h:1", Some("http://x")).unwrap_err();
        assert!(e.message.contains("AWS backend only"), "{e}");
    }

    #[test]
    fn flags_merge_into_the_url() {
        // The same endpoint twice is fine; two different ones are refused.
        let u = "aws://eu-west-1?endpoint=http://127.0.0.1:4566";
        assert!(parse(u, Some("http://127.0.0.1:4566")).is_ok());
        let e = parse(u, Some("http://127.0.0.1:9")).unwrap_err();
        assert_eq!(e.code, EXIT_USAGE);
        // --header-len fills the URL's header_len, which may not disagree.
        let hl = |url: &str, h: Option<usize>| match parse_backend(url, None, h) {
            Ok(BackendUrl::PayShield(p)) => Ok(p.header_len()),
            Ok(other) => panic!("{other}"),
            Err(e) => Err(e.message),
        };
        assert_eq!(hl("payshield://h:1", None), Ok(None));
        assert_eq!(hl("payshield://h:1", Some(6)), Ok(Some(6)));
        assert_eq!(hl("payshield://h:1?header_len=6", None), Ok(Some(6)));
        assert_eq!(hl("payshield://h:1?header_len=6", Some(6)), Ok(Some(6)));
        let e = hl("payshield://h:1?header_len=6", Some(4)).unwrap_err();
        assert!(e.contains("--header-len"), "{e}");
        let e = hl("payshield://h:1", Some(0)).unwrap_err();
        assert!(e.contains("--header-len") && e.contains("1 to 255"), "{e}");
        // Other backends ignore --header-len.
        assert!(parse_backend("software", None, Some(0)).is_ok());
    }
}

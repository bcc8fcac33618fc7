//! TLS for the payShield host port (feature `tls`): the client side of
//! `payshields://` and the simulator's server side, on `rustls` with the
//! `aws-lc-rs` provider.
//!
//! What is modelled is what the project's issue 15 asks of a payShield 10K
//! host port: TLS 1.2 and 1.3, the HSM's certificate verified against the
//! operator's CA, an optional client certificate verified by the HSM. No
//! public source we hold describes the HSM's TLS settings (cipher suites,
//! certificate profiles), so none is pinned: cipher suites are rustls'
//! defaults for those versions. The payShield frames inside TLS are the
//! same as over plain TCP.

use crate::error::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;

/// TLS settings of a payShield client ([`super::PayShieldConfig::tls`];
/// URL scheme `payshields://` with options `ca`, `cert`, `key`,
/// `server_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of the CA certificate(s) the HSM's certificate must chain
    /// to (required: a payShield's certificate is issued by the
    /// operator's CA, not a public one).
    pub ca_file: PathBuf,
    /// PEM file of the client certificate chain, for an HSM that asks for
    /// one (with `client_key_file`).
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key (PKCS #8, PKCS #1
    /// or SEC1).
    pub client_key_file: Option<PathBuf>,
    /// The name the HSM's certificate must carry (default: the host of
    /// each address, a DNS name or an IP address).
    pub server_name: Option<String>,
}

impl TlsConfig {
    /// Verifies the HSM against the CA certificate(s) in `ca_file`; no
    /// client certificate.
    pub fn new(ca_file: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: ca_file.into(),
            client_cert_file: None,
            client_key_file: None,
            server_name: None,
        }
    }

    /// The same, presenting the client certificate chain and key in these
    /// PEM files.
    pub fn with_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert_file = Some(cert.into());
        self.client_key_file = Some(key.into());
        self
    }

    /// The same, expecting `name` in the HSM's certificate.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn certs(field: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::invalid(field, format!("cannot read PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(field, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn key(field: &str, path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Error::invalid(field, format!("cannot read a PEM private key: {e}")))
}

fn roots(field: &str, path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(field, path)? {
        roots
            .add(c)
            .map_err(|e| Error::invalid(field, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn tls_error(field: &str, e: rustls::Error) -> Error {
    Error::invalid(field, format!("rejected by TLS: {e}"))
}

/// The client side: a connector built once from a [`TlsConfig`].
#[derive(Clone)]
pub(crate) struct Client {
    connector: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl Client {
    pub(crate) fn new(cfg: &TlsConfig) -> Result<Self> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| tls_error("tls", e))?
            .with_root_certificates(roots("tls CA file", &cfg.ca_file)?);
        let config = match (&cfg.client_cert_file, &cfg.client_key_file) {
            (Some(c), Some(k)) => builder
                .with_client_auth_cert(
                    certs("tls client certificate file", c)?,
                    key("tls client key file", k)?,
                )
                .map_err(|e| tls_error("tls client certificate", e))?,
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::invalid(
                    "tls client certificate",
                    "a client certificate needs both its certificate and its key file",
                ))
            }
        };
        let server_name = cfg
            .server_name
            .as_deref()
            .map(|n| {
                ServerName::try_from(n.to_owned())
                    .map_err(|_| Error::invalid("tls server name", "not a DNS name or IP address"))
            })
            .transpose()?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// The TLS handshake over `sock`, connected to `addr` (`HOST:PORT`).
    pub(crate) async fn handshake(
        &self,
        addr: &str,
        sock: TcpStream,
    ) -> std::result::Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                ServerName::try_from(host.to_owned())
                    .map_err(|_| format!("{host} is not a name TLS can verify"))?
            }
        };
        self.connector
            .connect(name, sock)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))
    }
}

/// TLS settings of the payShield simulator (`paycrypto serve payshield
/// --tls-cert FILE --tls-key FILE [--tls-client-ca FILE]`): its
/// certificate and key, and optionally the CA that client certificates
/// must chain to (then a client without one is refused).
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServerConfig").finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// Reads the certificate chain and key (PEM files), and the client CA
    /// file when client certificates are required.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key_file: impl AsRef<Path>,
        client_ca: Option<&Path>,
    ) -> Result<Self> {
        let chain = certs("tls certificate file", cert.as_ref())?;
        let key = key("tls key file", key_file.as_ref())?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| tls_error("tls", e))?;
        let builder = match client_ca {
            Some(ca) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots("tls client CA file", ca)?),
                    provider(),
                )
                .build()
                .map_err(|e| Error::invalid("tls client CA file", format!("not usable: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| tls_error("tls certificate", e))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

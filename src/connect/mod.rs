//! Opening a backend from a URL: [`connect`] and its parsed form,
//! [`BackendUrl`] (object_store's `parse_url`). The URL grammar is
//! documented on [`BackendUrl`]; the CLI's `--backend` goes through here.

#[cfg(feature = "aws")]
mod aws;
mod parse;
#[cfg(feature = "payshield")]
mod payshield;

#[cfg(feature = "aws")]
pub use aws::AwsUrl;
#[cfg(feature = "payshield")]
pub use payshield::PayShieldUrl;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::software::SoftwareBackend;
use parse::{bad, Parts};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Opens the backend `url` names (see [`BackendUrl`] for the URLs).
///
/// `software` is a fresh in-process [`SoftwareBackend`];
/// `payshield://HOST:PORT` connects a pool (at least one connection up, or
/// an [`ErrorKind::Transient`](crate::ErrorKind::Transient) error) with an
/// empty key table; `aws://REGION` loads the AWS configuration. To keep the
/// concrete type (a payShield key table, an AWS builder option), parse a
/// [`BackendUrl`] and use its variant.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> paycrypto::Result<()> {
/// use paycrypto::BackendExt;
/// let hsm = paycrypto::connect("payshield://10.0.0.5:1500?header_len=2&timeout_ms=800").await?;
/// let info = hsm.get_key_info(paycrypto::ops::GetKeyInfoRequest {
///     key: paycrypto::KeyId::new("zpk/acquirer-7")?,
/// }).await;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Arc<dyn Backend>> {
    url.parse::<BackendUrl>()?.connect().await
}

/// A parsed backend URL: inspect or validate it before [`connect`]ing.
///
/// | URL | Backend |
/// |-----|---------|
/// | `software` or `software://` | an in-process [`SoftwareBackend`] (empty keystore) |
/// | `payshield://HOST:PORT[?OPTIONS]` | a `PayShieldBackend` (feature `payshield`) with an empty key table |
/// | `payshield://HOST:PORT,HOST:PORT…[?OPTIONS]` | one `PayShieldBackend` over a cluster of payShields |
/// | `payshields://HOST:PORT[,…]?ca=FILE[&…]` | the same over TLS (feature `tls`) |
/// | `aws`, `aws://`, `aws://REGION`, each `[?endpoint=URL]` | an `AwsBackend` (feature `aws`) |
///
/// `HOST` is a name, an IPv4 address or an IPv6 address in brackets
/// (`payshield://[::1]:1500`). Options are `NAME=VALUE` pairs joined by
/// `&`; values may be percent-encoded. A payShield URL takes `header_len`
/// (characters, 1–255), `connections` (1–256), `max_in_flight`
/// (1–100000), and `timeout_ms`, `connect_timeout_ms`, `backoff_min_ms`,
/// `backoff_max_ms` (milliseconds, 1–3600000): the `PayShieldConfig`
/// fields `header_len`, `connections`, `max_in_flight`, `request_timeout`,
/// `connect_timeout`, `backoff_min` and `backoff_max`; and `lmk`
/// (`variant`, the default, or `keyblock`: the HSM runs a key-block LMK,
/// `PayShieldConfig::lmk`). Several hosts, comma-separated, make a
/// cluster (`PayShieldConfig::other_hosts`): `health_check` (`5s`,
/// `500ms`; default 5 s) is how often each host is checked.
/// `payshields://` takes `ca` (PEM file of the CA that verifies the HSM;
/// required), `cert` and `key` (PEM files of a client certificate and its
/// key, both or neither) and `server_name` (the name the HSM's
/// certificate carries, default each host): `PayShieldConfig::tls`. An AWS URL takes
/// `endpoint` (an `http://` or `https://` URL: the emulator, a VPC
/// endpoint).
///
/// # Errors
///
/// Every malformed URL is an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error naming the
/// part at fault (scheme, host, port, region, path, option); it never
/// repeats an option's value or a user name. A scheme whose cargo feature
/// is off (`payshields://` without `tls`, say) is
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
/// A URL carries no credentials: a payShield has none, and AWS
/// credentials come from the AWS configuration chain.
///
/// # AWS on this machine
///
/// With an `endpoint` on this machine (a loopback address or `localhost`:
/// the emulator, `paycrypto serve aws`) nothing beyond the environment is
/// read: the region is `aws://REGION`, else `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, else `us-east-1`; the credentials are
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`),
/// else placeholder credentials that an emulator started without
/// `--credentials` accepts. Any other endpoint, or none, uses the standard
/// AWS configuration chain (environment, profile, SSO, IMDS…).
///
/// # Display
///
/// `Display` prints the canonical URL (options in a fixed order) and never
/// an endpoint's user name, password or query string: those print as
/// `***`. `Debug` prints the same.
///
/// ```
/// use paycrypto::{BackendUrl, ErrorKind};
/// let url: BackendUrl = "software".parse()?;
/// assert_eq!(url.to_string(), "software://");
/// let e = "software://?colour=red".parse::<BackendUrl>().unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::InvalidInput);
/// assert!(e.to_string().contains("option colour"));
/// let e = "payshield://10.0.0.5:1500,10.0.0.5:1500".parse::<BackendUrl>().unwrap_err();
/// assert!(e.to_string().contains("listed twice"));
/// # Ok::<(), paycrypto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendUrl {
    /// `software`: the in-process software reference backend.
    Software,
    /// `payshield://HOST:PORT?…` (feature `payshield`).
    #[cfg(feature = "payshield")]
    PayShield(PayShieldUrl),
    /// `aws://REGION?endpoint=…` (feature `aws`).
    #[cfg(feature = "aws")]
    Aws(AwsUrl),
}

impl BackendUrl {
    /// The scheme: `software`, `payshield` or `aws` (also a short backend
    /// name for messages).
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Software => "software",
            #[cfg(feature = "payshield")]
            Self::PayShield(_) => "payshield",
            #[cfg(feature = "aws")]
            Self::Aws(_) => "aws",
        }
    }

    /// Opens the backend (see [`connect`]).
    pub async fn connect(&self) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Self::Software => Arc::new(SoftwareBackend::new()),
            #[cfg(feature = "payshield")]
            Self::PayShield(p) => Arc::new(p.connect(crate::payshield::KeyTable::new()).await?),
            #[cfg(feature = "aws")]
            Self::Aws(a) => Arc::new(a.connect().await),
        })
    }
}

impl FromStr for BackendUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        let parts = Parts::split(url)?;
        match parts.scheme.as_str() {
            "software" => {
                if parts.authority.is_some_and(|a| !a.is_empty() && a != "/") {
                    return Err(bad("host", "software:// takes no host, port or path"));
                }
                if let Some((name, _)) = parts.options()?.into_iter().next() {
                    return Err(parse::unknown_option(&name, "software://", &[]));
                }
                Ok(Self::Software)
            }
            "payshield" => {
                #[cfg(feature = "payshield")]
                return PayShieldUrl::parse(&parts).map(Self::PayShield);
                #[cfg(not(feature = "payshield"))]
                return Err(feature_off("payshield://", "payshield"));
            }
            "payshields" => {
                #[cfg(feature = "tls")]
                return PayShieldUrl::parse(&parts).map(Self::PayShield);
                #[cfg(not(feature = "tls"))]
                return Err(feature_off("payshields:// (payShield over TLS)", "tls"));
            }
            "aws" => {
                #[cfg(feature = "aws")]
                return AwsUrl::parse(&parts).map(Self::Aws);
                #[cfg(not(feature = "aws"))]
                return Err(feature_off("aws://", "aws"));
            }
            other => Err(bad(
                "scheme",
                format!(
                    "unknown scheme {other}://; expected software, payshield://HOST:PORT, \
                     aws or aws://REGION"
                ),
            )),
        }
    }
}

#[cfg(any(not(feature = "payshield"), not(feature = "aws"), not(feature = "tls")))]
fn feature_off(scheme: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "{scheme} backends need paycrypto's `{feature}` cargo feature, \
         which this build does not have"
    ))
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Software => f.write_str("software://"),
            #[cfg(feature = "payshield")]
            Self::PayShield(p) => p.fmt(f),
            #[cfg(feature = "aws")]
            Self::Aws(a) => a.fmt(f),
        }
    }
}

impl fmt::Debug for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendUrl({self})")
    }
}

#[cfg(test)]
mod tests;

//! `aws://REGION?endpoint=URL`: an [`AwsBackendBuilder`] as a URL.

use super::parse::{bad, percent_encode, unknown_option, Parts};
use crate::aws::{AwsBackend, AwsBackendBuilder};
use crate::error::{Error, Result};
use std::fmt;

/// The region of a local endpoint when neither the URL nor the
/// environment gives one.
const LOCAL_DEFAULT_REGION: &str = "us-east-1";
/// Placeholder credentials for a local endpoint (an emulator started
/// without `--credentials` accepts any).
const LOCAL_ACCESS_KEY: &str = "paycrypto-local";
const LOCAL_SECRET_KEY: &str = "paycrypto-local-placeholder";

/// A parsed `aws://REGION?endpoint=URL` URL (see [`BackendUrl`](crate::BackendUrl)):
/// the region and endpoint given, which [`builder`](Self::builder) turns
/// into an [`AwsBackendBuilder`].
///
/// ```
/// use paycrypto::BackendUrl;
/// let url: BackendUrl = "aws://eu-west-1?endpoint=http://127.0.0.1:4566".parse()?;
/// let BackendUrl::Aws(aws) = &url else { unreachable!() };
/// assert_eq!(aws.region(), Some("eu-west-1"));
/// assert!(aws.endpoint_is_local());
/// # Ok::<(), paycrypto::Error>(())
/// ```
///
/// `AwsUrl::default()` is `aws://`: region and endpoint from the AWS
/// configuration.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AwsUrl {
    region: Option<String>,
    endpoint: Option<String>,
}

impl AwsUrl {
    pub(super) fn parse(parts: &Parts<'_>) -> Result<Self> {
        let authority = parts.authority.unwrap_or("");
        let region = authority.strip_suffix('/').unwrap_or(authority);
        if region.contains('/') {
            return Err(bad("path", "aws://REGION takes no path"));
        }
        if region.contains('@') {
            return Err(bad(
                "user info",
                "an aws:// URL carries no credentials (they come from the AWS configuration)",
            ));
        }
        let region = if region.is_empty() {
            None
        } else if region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Some(region.to_string())
        } else {
            return Err(bad("region", "an AWS region looks like eu-west-1"));
        };
        let mut url = Self {
            region,
            endpoint: None,
        };
        for (name, value) in parts.options()? {
            match name.as_str() {
                "endpoint" => url = url.with_endpoint(&value)?,
                _ => return Err(unknown_option(&name, "aws://", &["endpoint"])),
            }
        }
        Ok(url)
    }

    /// The region, when the URL gives one (otherwise from the AWS
    /// configuration, or as [`BackendUrl`](crate::BackendUrl) describes for
    /// a local endpoint).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The endpoint URL, when the URL gives one.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// This URL with endpoint `url` (`http://` or `https://`, with a host).
    pub fn with_endpoint(mut self, url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid("AWS endpoint", reason);
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url[7..]
        } else if lower.starts_with("https://") {
            &url[8..]
        } else {
            return Err(bad("expected an http:// or https:// URL"));
        };
        let host = authority(rest).rsplit('@').next().unwrap_or("");
        if host.is_empty() || host.starts_with(':') {
            return Err(bad("the endpoint URL needs a host"));
        }
        if url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("contains spaces or control characters"));
        }
        self.endpoint = Some(url.to_string());
        Ok(self)
    }

    /// True when the endpoint is on this machine (a loopback address or
    /// `localhost`): the emulator.
    pub fn endpoint_is_local(&self) -> bool {
        self.endpoint.as_deref().is_some_and(is_local_endpoint)
    }

    /// A builder with the region and endpoint; for an endpoint on this
    /// machine, also the region and credentials from the environment (or
    /// the defaults) as [`BackendUrl`](crate::BackendUrl) describes.
    pub fn builder(&self) -> AwsBackendBuilder {
        let mut b = AwsBackend::builder();
        if let Some(u) = &self.endpoint {
            b = b.endpoint_url(u);
        }
        if let Some(r) = &self.region {
            b = b.region(r);
        }
        if self.endpoint_is_local() {
            let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
            if self.region.is_none() {
                let r = env("AWS_REGION")
                    .or_else(|| env("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| LOCAL_DEFAULT_REGION.into());
                b = b.region(r);
            }
            b = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(ak), Some(sk)) => b.credentials(ak, sk, env("AWS_SESSION_TOKEN")),
                _ => b.credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, None),
            };
        }
        b
    }

    /// Builds the [`AwsBackend`] ([`builder`](Self::builder), then
    /// [`AwsBackendBuilder::build`]).
    pub async fn connect(&self) -> AwsBackend {
        self.builder().build().await
    }
}

/// What follows `scheme://` up to the path, query or fragment.
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// True when `url`'s host is this machine (a loopback address or `localhost`).
pub(crate) fn is_local_endpoint(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host_port = authority(rest).rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url` without user info or query string (they print as `***`).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let auth = authority(rest);
    let after = &rest[auth.len()..];
    let host = match auth.rsplit_once('@') {
        Some((_, h)) => format!("***@{h}"),
        None => auth.to_string(),
    };
    let path = after.split(['?', '#']).next().unwrap_or("");
    let tail = if path.len() < after.len() { "?***" } else { "" };
    format!("{scheme}://{host}{path}{tail}")
}

impl fmt::Display for AwsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aws://{}", self.region.as_deref().unwrap_or(""))?;
        if let Some(e) = &self.endpoint {
            write!(f, "?endpoint={}", percent_encode(&redacted(e)))?;
        }
        Ok(())
    }
}

impl fmt::Debug for AwsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsUrl({self})")
    }
}

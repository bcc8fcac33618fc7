//! `payshield://HOST:PORT?OPTIONS`: a [`PayShieldConfig`] as a URL.

use super::parse::{bad, number, unknown_option, Parts};
use crate::error::{Error, Result};
use crate::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

/// An option: its name in the URL and its range.
struct Opt {
    name: &'static str,
    min: u64,
    max: u64,
}

const HOUR_MS: u64 = 3_600_000;

/// The options, in the order `Display` prints them.
const OPTIONS: [Opt; 7] = [
    Opt {
        name: "header_len",
        min: 1,
        max: 255,
    },
    Opt {
        name: "connections",
        min: 1,
        max: 256,
    },
    Opt {
        name: "max_in_flight",
        min: 1,
        max: 100_000,
    },
    Opt {
        name: "timeout_ms",
        min: 1,
        max: HOUR_MS,
    },
    Opt {
        name: "connect_timeout_ms",
        min: 1,
        max: HOUR_MS,
    },
    Opt {
        name: "backoff_min_ms",
        min: 1,
        max: HOUR_MS,
    },
    Opt {
        name: "backoff_max_ms",
        min: 1,
        max: HOUR_MS,
    },
];
const HEADER_LEN: usize = 0;
const CONNECTIONS: usize = 1;
const MAX_IN_FLIGHT: usize = 2;
const TIMEOUT: usize = 3;
const CONNECT_TIMEOUT: usize = 4;
const BACKOFF_MIN: usize = 5;
const BACKOFF_MAX: usize = 6;

/// A parsed `payshield://HOST:PORT?OPTIONS` URL (see
/// [`BackendUrl`](crate::BackendUrl) for the options): the address and the
/// options given, which [`config`](Self::config) turns into a
/// [`PayShieldConfig`].
///
/// ```
/// use paycrypto::BackendUrl;
/// let url: BackendUrl = "payshield://[::1]:1500?header_len=2".parse()?;
/// let BackendUrl::PayShield(ps) = &url else { unreachable!() };
/// assert_eq!(ps.addr(), "[::1]:1500");
/// assert_eq!(ps.config().header_len, 2);
/// assert_eq!(url.to_string(), "payshield://[::1]:1500?header_len=2");
/// # Ok::<(), paycrypto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PayShieldUrl {
    host: String,
    port: u16,
    options: [Option<u64>; 7],
    lmk: Option<crate::payshield::LmkKind>,
}

impl PayShieldUrl {
    pub(super) fn parse(parts: &Parts<'_>) -> Result<Self> {
        let authority = parts.authority.unwrap_or("");
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if authority.contains('/') {
            return Err(bad("path", "payshield://HOST:PORT takes no path"));
        }
        if authority.contains('@') {
            return Err(bad(
                "user info",
                "a payshield:// URL carries no user name or password",
            ));
        }
        if authority.contains(',') {
            return Err(Error::unsupported(
                "several hosts in one payshield:// URL (a payShield cluster) are not \
                 supported yet; connect each host and combine them with the failover layer",
            ));
        }
        let (host, port) = split_host_port(authority)?;
        let mut url = Self {
            host,
            port,
            options: [None; 7],
            lmk: None,
        };
        for (name, value) in parts.options()? {
            if name == "lmk" {
                url.lmk = Some(
                    crate::payshield::LmkKind::from_name(&value)
                        .ok_or_else(|| bad("option lmk", "expected variant or keyblock"))?,
                );
                continue;
            }
            let i = OPTIONS.iter().position(|o| o.name == name).ok_or_else(|| {
                let known: Vec<&str> = OPTIONS.iter().map(|o| o.name).chain(["lmk"]).collect();
                unknown_option(&name, "payshield://", &known)
            })?;
            let o = &OPTIONS[i];
            url.options[i] = Some(number(o.name, &value, o.min, o.max)?);
        }
        let c = url.config();
        if c.backoff_min > c.backoff_max {
            return Err(bad(
                "option backoff_min_ms",
                format!(
                    "must not exceed backoff_max_ms ({} ms)",
                    c.backoff_max.as_millis()
                ),
            ));
        }
        Ok(url)
    }

    /// The host: a name, or an IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `HOST:PORT` (`[V6]:PORT`), as [`PayShieldConfig::addr`] takes it.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `header_len` option, when the URL gives it.
    pub fn header_len(&self) -> Option<usize> {
        self.options[HEADER_LEN].map(|n| n as usize)
    }

    /// This URL with the `header_len` option set to `len` (1 to 255, as in
    /// the URL).
    pub fn with_header_len(mut self, len: usize) -> Result<Self> {
        let o = &OPTIONS[HEADER_LEN];
        let n = u64::try_from(len)
            .ok()
            .filter(|n| (o.min..=o.max).contains(n))
            .ok_or_else(|| {
                Error::invalid(
                    "payShield header length",
                    format!("expected {} to {} characters", o.min, o.max),
                )
            })?;
        self.options[HEADER_LEN] = Some(n);
        Ok(self)
    }

    /// The pool configuration: [`PayShieldConfig::new`]'s defaults, with
    /// the options the URL gives.
    pub fn config(&self) -> PayShieldConfig {
        let mut c = PayShieldConfig::new(self.addr());
        let ms = Duration::from_millis;
        let o = &self.options;
        if let Some(n) = o[HEADER_LEN] {
            c.header_len = n as usize;
        }
        if let Some(n) = o[CONNECTIONS] {
            c.connections = n as usize;
        }
        if let Some(n) = o[MAX_IN_FLIGHT] {
            c.max_in_flight = n as usize;
        }
        if let Some(n) = o[TIMEOUT] {
            c.request_timeout = ms(n);
        }
        if let Some(n) = o[CONNECT_TIMEOUT] {
            c.connect_timeout = ms(n);
        }
        if let Some(n) = o[BACKOFF_MIN] {
            c.backoff_min = ms(n);
        }
        if let Some(n) = o[BACKOFF_MAX] {
            c.backoff_max = ms(n);
        }
        if let Some(k) = self.lmk {
            c.lmk = k;
        }
        c
    }

    /// Connects a [`PayShieldBackend`] with key table `keys` (see
    /// [`PayShieldBackend::connect`]).
    pub async fn connect(&self, keys: KeyTable) -> Result<PayShieldBackend> {
        PayShieldBackend::connect(self.config(), keys).await
    }
}

/// `HOST:PORT` or `[V6]:PORT`; the host checked, the port 1 to 65535.
fn split_host_port(authority: &str) -> Result<(String, u16)> {
    const FORM: &str = "payshield://HOST:PORT needs a host and a port";
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(|| {
            bad(
                "host",
                "an IPv6 address in brackets needs its ]: payshield://[::1]:1500",
            )
        })?;
        let ip = v6
            .parse::<Ipv6Addr>()
            .map_err(|_| bad("host", "expected an IPv6 address in brackets"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| bad("port", "payshield://[V6]:PORT needs a port"))?;
        (ip.to_string(), port)
    } else {
        let (host, port) = authority.rsplit_once(':').ok_or_else(|| {
            if authority.is_empty() {
                bad("host", FORM)
            } else {
                bad("port", "payshield://HOST:PORT needs a port")
            }
        })?;
        if host.contains(':') {
            return Err(bad(
                "host",
                "an IPv6 address goes in brackets: payshield://[::1]:1500",
            ));
        }
        if host.is_empty() {
            return Err(bad("host", "payshield://HOST:PORT needs a host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(bad(
                "host",
                "expected a host name (letters, digits, - . _), an IPv4 address \
                 or an IPv6 address in brackets",
            ));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            bad(
                "port",
                "the payShield port must be a number from 1 to 65535",
            )
        })?;
    Ok((host, port))
}

impl fmt::Display for PayShieldUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payshield://{}", self.addr())?;
        let mut sep = '?';
        for (o, v) in OPTIONS.iter().zip(self.options) {
            if let Some(v) = v {
                write!(f, "{sep}{}={v}", o.name)?;
                sep = '&';
            }
        }
        if let Some(k) = self.lmk {
            write!(f, "{sep}lmk={}", k.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for PayShieldUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayShieldUrl({self})")
    }
}

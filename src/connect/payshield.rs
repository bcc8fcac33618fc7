//! `payshield://HOST:PORT[,HOST:PORT…]?OPTIONS` (and `payshields://`, TLS):
//! a [`PayShieldConfig`] as a URL.

use super::parse::{bad, number, percent_encode, unknown_option, Parts};
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
    /// Further hosts of a cluster.
    others: Vec<(String, u16)>,
    options: [Option<u64>; 7],
    lmk: Option<crate::payshield::LmkKind>,
    /// `health_check`, in milliseconds.
    health_check_ms: Option<u64>,
    /// `payshields://`: the TLS options (`ca` required).
    tls: Option<Box<TlsOptions>>,
}

/// The TLS options of a `payshields://` URL, as given.
#[derive(Clone, PartialEq, Eq, Default)]
struct TlsOptions {
    ca: String,
    cert: Option<String>,
    key: Option<String>,
    server_name: Option<String>,
}

/// The TLS option names.
const TLS_OPTIONS: [&str; 4] = ["ca", "cert", "key", "server_name"];

/// `5s`, `500ms`: the health-check interval, 1 ms to an hour.
fn interval_ms(value: &str) -> Result<u64> {
    let (n, unit) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else {
        (value, 0)
    };
    n.parse::<u64>()
        .ok()
        .filter(|_| unit > 0)
        .and_then(|n| n.checked_mul(unit))
        .filter(|ms| (1..=HOUR_MS).contains(ms))
        .ok_or_else(|| {
            bad(
                "option health_check",
                "expected a duration such as 5s or 500ms, from 1ms to 3600s",
            )
        })
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
        let mut hosts = Vec::new();
        for a in authority.split(',') {
            let hp = split_host_port(a)?;
            if hosts.contains(&hp) {
                return Err(bad("host", "a host is listed twice"));
            }
            hosts.push(hp);
        }
        let mut hosts = hosts.into_iter();
        let (host, port) = hosts
            .next()
            .ok_or_else(|| bad("host", "payshield://HOST:PORT needs a host"))?;
        let tls_scheme = parts.scheme == "payshields";
        let mut url = Self {
            host,
            port,
            others: hosts.collect(),
            options: [None; 7],
            lmk: None,
            health_check_ms: None,
            tls: None,
        };
        let mut tls = TlsOptions::default();
        let mut ca = None;
        for (name, value) in parts.options()? {
            match name.as_str() {
                "lmk" => {
                    url.lmk = Some(
                        crate::payshield::LmkKind::from_name(&value)
                            .ok_or_else(|| bad("option lmk", "expected variant or keyblock"))?,
                    );
                    continue;
                }
                "health_check" => {
                    url.health_check_ms = Some(interval_ms(&value)?);
                    continue;
                }
                n if TLS_OPTIONS.contains(&n) => {
                    if !tls_scheme {
                        return Err(bad(
                            &format!("option {n}"),
                            "a TLS option: use payshields://",
                        ));
                    }
                    if value.is_empty() {
                        return Err(bad(&format!("option {n}"), "must not be empty"));
                    }
                    match n {
                        "ca" => ca = Some(value),
                        "cert" => tls.cert = Some(value),
                        "key" => tls.key = Some(value),
                        _ => tls.server_name = Some(value),
                    }
                    continue;
                }
                _ => {}
            }
            let i = OPTIONS.iter().position(|o| o.name == name).ok_or_else(|| {
                let mut known: Vec<&str> = OPTIONS
                    .iter()
                    .map(|o| o.name)
                    .chain(["lmk", "health_check"])
                    .collect();
                if tls_scheme {
                    known.extend(TLS_OPTIONS);
                }
                let scheme = if tls_scheme {
                    "payshields://"
                } else {
                    "payshield://"
                };
                unknown_option(&name, scheme, &known)
            })?;
            let o = &OPTIONS[i];
            url.options[i] = Some(number(o.name, &value, o.min, o.max)?);
        }
        if url.health_check_ms.is_some() && url.others.is_empty() {
            return Err(bad(
                "option health_check",
                "health checks are for several hosts (payshield://HOST:PORT,HOST:PORT)",
            ));
        }
        if tls_scheme {
            tls.ca = ca.ok_or_else(|| {
                bad(
                    "option ca",
                    "payshields:// needs ca=FILE, the PEM CA certificate(s) that verify the HSM",
                )
            })?;
            if tls.cert.is_some() != tls.key.is_some() {
                return Err(bad(
                    if tls.cert.is_some() {
                        "option key"
                    } else {
                        "option cert"
                    },
                    "a client certificate needs both cert=FILE and key=FILE",
                ));
            }
            url.tls = Some(Box::new(tls));
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

    /// `HOST:PORT` (`[V6]:PORT`) of the first host, as
    /// [`PayShieldConfig::addr`] takes it.
    pub fn addr(&self) -> String {
        join_addr(&self.host, self.port)
    }

    /// Every host's `HOST:PORT`, in URL order (one unless the URL names a
    /// cluster).
    pub fn addrs(&self) -> Vec<String> {
        std::iter::once(self.addr())
            .chain(self.others.iter().map(|(h, p)| join_addr(h, *p)))
            .collect()
    }

    /// Whether the URL is `payshields://` (TLS).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
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
        c.other_hosts = self.addrs().into_iter().skip(1).collect();
        if let Some(n) = self.health_check_ms {
            c.health_check_interval = ms(n);
        }
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            let mut tc = crate::payshield::TlsConfig::new(&t.ca);
            if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
                tc = tc.with_client_cert(cert, key);
            }
            if let Some(n) = &t.server_name {
                tc = tc.with_server_name(n);
            }
            c.tls = Some(tc);
        }
        c
    }

    /// Connects a [`PayShieldBackend`] with key table `keys` (see
    /// [`PayShieldBackend::connect`]).
    pub async fn connect(&self, keys: KeyTable) -> Result<PayShieldBackend> {
        PayShieldBackend::connect(self.config(), keys).await
    }
}

fn join_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
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
        let scheme = if self.is_tls() {
            "payshields"
        } else {
            "payshield"
        };
        write!(f, "{scheme}://{}", self.addrs().join(","))?;
        let mut sep = '?';
        for (o, v) in OPTIONS.iter().zip(self.options) {
            if let Some(v) = v {
                write!(f, "{sep}{}={v}", o.name)?;
                sep = '&';
            }
        }
        if let Some(k) = self.lmk {
            write!(f, "{sep}lmk={}", k.as_str())?;
            sep = '&';
        }
        if let Some(ms) = self.health_check_ms {
            if ms % 1000 == 0 {
                write!(f, "{sep}health_check={}s", ms / 1000)?;
            } else {
                write!(f, "{sep}health_check={ms}ms")?;
            }
            sep = '&';
        }
        if let Some(t) = &self.tls {
            let opts = [
                ("ca", Some(&t.ca)),
                ("cert", t.cert.as_ref()),
                ("key", t.key.as_ref()),
                ("server_name", t.server_name.as_ref()),
            ];
            for (name, v) in opts {
                if let Some(v) = v {
                    write!(f, "{sep}{name}={}", percent_encode(v))?;
                    sep = '&';
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for PayShieldUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayShieldUrl({self})")
    }
}

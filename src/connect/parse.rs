//! Splitting a backend URL into scheme, authority and options; percent
//! coding; the errors every part uses. Pure functions: no I/O, no panics.

use crate::error::{Error, Result};
use std::fmt;

/// An [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error
/// naming `part` of the backend URL.
pub(super) fn bad(part: &str, reason: impl fmt::Display) -> Error {
    if part.is_empty() {
        Error::invalid("backend URL", reason)
    } else {
        Error::invalid(&format!("backend URL {part}"), reason)
    }
}

/// `name` shown in an error when it is a plain option name (else a
/// placeholder: the text might be a value pasted in the wrong place).
fn shown(name: &str) -> &str {
    if !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name
    } else {
        "(unprintable)"
    }
}

/// An unknown option `name` for `scheme`, listing the known ones.
pub(super) fn unknown_option(name: &str, scheme: &str, known: &[&str]) -> Error {
    let name = shown(name);
    if known.is_empty() {
        bad(
            &format!("option {name}"),
            format!("{scheme} takes no options"),
        )
    } else {
        bad(
            &format!("option {name}"),
            format!("unknown option; {scheme} takes {}", known.join(", ")),
        )
    }
}

/// A backend URL split at its delimiters.
pub(super) struct Parts<'a> {
    /// The scheme, lower case (`software` for a bare `software`).
    pub scheme: String,
    /// What follows `://` up to `?` (`None` without `://`).
    pub authority: Option<&'a str>,
    /// What follows the first `?`.
    pub query: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// Splits `url`: `SCHEME[://AUTHORITY][?QUERY]`.
    pub fn split(url: &'a str) -> Result<Self> {
        if url.is_empty() {
            return Err(bad(
                "scheme",
                "empty; expected software, payshield://HOST:PORT, aws or aws://REGION",
            ));
        }
        if url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("", "contains spaces or control characters"));
        }
        if url.contains('#') {
            return Err(bad("fragment", "a backend URL has no #fragment"));
        }
        let (head, query) = match url.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (url, None),
        };
        let (scheme, authority) = match head.split_once("://") {
            Some((s, a)) => (s, Some(a)),
            None => (head, None),
        };
        let valid = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid {
            return Err(bad(
                "scheme",
                "expected software, payshield://HOST:PORT, aws or aws://REGION",
            ));
        }
        Ok(Self {
            scheme: scheme.to_ascii_lowercase(),
            authority,
            query,
        })
    }

    /// The options, in order, values percent-decoded. An empty query (or
    /// empty `&&` pieces) gives nothing; an option given twice is an error.
    pub fn options(&self) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        for piece in self.query.unwrap_or("").split('&') {
            if piece.is_empty() {
                continue;
            }
            let (name, value) = piece
                .split_once('=')
                .ok_or_else(|| bad(&format!("option {}", shown(piece)), "expected NAME=VALUE"))?;
            let part = format!("option {}", shown(name));
            if name.is_empty() {
                return Err(bad("option", "an option without a name (=VALUE)"));
            }
            if out.iter().any(|(n, _)| n == name) {
                return Err(bad(&part, "given twice"));
            }
            out.push((name.to_string(), percent_decode(&part, value)?));
        }
        Ok(out)
    }
}

/// `%XX` sequences decoded; the result must be UTF-8. The value is never
/// repeated in an error.
pub(super) fn percent_decode(part: &str, s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(part, "a % must be followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(part, "percent-encoded bytes are not UTF-8"))
}

/// `s` with the characters that would end a query value (`&`, `#`), `%`
/// itself, and anything outside printable ASCII percent-encoded.
#[cfg(any(feature = "aws", feature = "payshield", test))]
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'%' | b'&' | b'#') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A decimal number in `min..=max` for option `name`.
#[cfg(feature = "payshield")]
pub(super) fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            bad(
                &format!("option {name}"),
                format!("expected a number from {min} to {max}"),
            )
        })
}

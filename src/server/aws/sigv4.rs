//! AWS Signature Version 4 checking, as the service does it: a request must
//! carry a SigV4 `Authorization` header; with configured credentials the
//! credential scope must name the emulator's region and
//! `payment-cryptography`, and the signature is recomputed over the request
//! as received, body included, and compared in constant time.

use super::api::{ApiError, ApiResult};
use super::Credentials;
use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Largest clock difference the service accepts.
const MAX_SKEW_SECS: i64 = 15 * 60;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the fallback is unreachable.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept when `keep_slash`).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Seconds since the epoch of an ISO 8601 basic time `YYYYMMDDTHHMMSSZ`.
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

struct Auth<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(v: &str) -> Option<Auth<'_>> {
    let rest = v.strip_prefix(ALGORITHM)?.trim_start();
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("Credential=") {
            cred = Some(c);
        } else if let Some(s) = part.strip_prefix("SignedHeaders=") {
            signed = Some(s);
        } else if let Some(s) = part.strip_prefix("Signature=") {
            sig = Some(s);
        }
    }
    let mut c = cred?.split('/');
    let (access_key, date, region, service, term) =
        (c.next()?, c.next()?, c.next()?, c.next()?, c.next()?);
    if term != "aws4_request" || c.next().is_some() {
        return None;
    }
    Some(Auth {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?,
        signature: sig?,
    })
}

/// The service name a credential scope must carry.
pub(crate) const SERVICE: &str = "payment-cryptography";

fn invalid_signature() -> ApiError {
    ApiError::auth(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    )
}

/// What the headers alone establish about a request with credentials.
struct Head<'h> {
    auth: Auth<'h>,
    amz_date: &'h str,
}

/// The checks that need no body: an `Authorization` header is present and
/// well formed; with credentials, the access key is known, the credential
/// scope names `region` and this service, and `X-Amz-Date` is current.
/// `Ok(None)` without credentials (any SigV4-signed request is accepted).
fn head<'h>(
    creds: Option<&Credentials>,
    region: &str,
    headers: &'h HeaderMap,
) -> ApiResult<Option<Head<'h>>> {
    let missing = || {
        ApiError::auth(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    };
    let authz = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let incomplete = || {
        ApiError::auth(
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature (AWS4-HMAC-SHA256)",
        )
    };
    let auth = parse_authorization(authz).ok_or_else(incomplete)?;
    let Some(creds) = creds else {
        return Ok(None);
    };
    if auth.access_key != creds.access_key_id {
        return Err(ApiError::auth(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    // The scope messages are the service's (IAM user guide, "Troubleshoot
    // Signature Version 4 signing"; the quoted forms as AWS endpoints send
    // them). The region is quoted only when it cannot be a secret.
    if auth.region != region {
        return Err(ApiError::auth(
            "InvalidSignatureException",
            if super::api::echo_safe(auth.region) {
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    auth.region
                )
            } else {
                "Credential should be scoped to a valid region. ".to_owned()
            },
        ));
    }
    if auth.service != SERVICE {
        return Err(ApiError::auth(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{SERVICE}'. "),
        ));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(incomplete)?;
    let t = parse_amz_date(amz_date).ok_or_else(incomplete)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - t).abs() > MAX_SKEW_SECS {
        return Err(ApiError::auth(
            "InvalidSignatureException",
            format!("Signature expired: {amz_date} is now earlier or later than the allowed 15 minutes."),
        ));
    }
    if amz_date.get(..8) != Some(auth.date) {
        return Err(ApiError::auth(
            "InvalidSignatureException",
            "Credential date does not match X-Amz-Date.",
        ));
    }
    Ok(Some(Head { auth, amz_date }))
}

/// The checks of [`check`] that need no body, so that a request that can
/// never verify is refused before its body is read.
pub(crate) fn check_head(
    creds: Option<&Credentials>,
    region: &str,
    headers: &HeaderMap,
) -> ApiResult<()> {
    head(creds, region, headers).map(|_| ())
}

/// Checks a request's signature. `raw_path` and `raw_query` are as received;
/// `region` is the emulator's. With credentials, the signature must cover
/// the body received: the payload hash signed is SHA-256 of `body`, and an
/// `x-amz-content-sha256` header, signed or not, must equal it (so
/// `UNSIGNED-PAYLOAD` and streaming payloads are refused).
pub(crate) fn check(
    creds: Option<&Credentials>,
    region: &str,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let Some(Head { auth, amz_date }) = head(creds, region, headers)? else {
        return Ok(());
    };
    let Some(creds) = creds else {
        return Ok(());
    };
    let payload_hash = sha256_hex(body);
    if let Some(claimed) = headers.get("x-amz-content-sha256") {
        // The message is S3's (XAmzContentSHA256Mismatch); this service
        // documents none, and answers signature failures with
        // InvalidSignatureException (403).
        if claimed.as_bytes() != payload_hash.as_bytes() {
            return Err(ApiError::auth(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
    }
    // Canonical request.
    let canonical_uri = if raw_path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(raw_path, true)
    };
    let mut query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    query.sort();
    let canonical_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in auth.signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(ApiError::auth(
                "InvalidSignatureException",
                format!("signed header {name} is missing from the request"),
            ));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_query.join("&"),
        auth.signed_headers
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        auth.date.as_bytes(),
    );
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(invalid_signature());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("2015083T123600Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }

    #[test]
    fn authorization_parse() {
        let a = parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc").unwrap();
        assert_eq!(
            (a.access_key, a.region, a.service, a.signature),
            ("AKID", "us-east-1", "iam", "abc")
        );
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc").is_none());
        assert!(parse_authorization("Basic Zm9v").is_none());
    }

    #[test]
    fn encoding() {
        assert_eq!(
            uri_encode("/keys/alias%2Fzpk/encrypt", true),
            "/keys/alias%252Fzpk/encrypt"
        );
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
    }
}

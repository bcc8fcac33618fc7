//! Parsing argument values into the crate's validated types. Every error
//! names the argument and never echoes a secret value.

use super::output::CliError;
use crate::algo::pinblock::{Pin, PinBlockFormat};
use crate::types::{KeyAlgorithm, Pan, SecretBytes};
use crate::Ksn;

/// Hex bytes (not secret).
pub fn hex(arg: &str, s: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(s.trim()).map_err(|_| {
        CliError::arg(
            arg,
            "expected hexadecimal digits (0-9, A-F), an even number of them",
        )
    })
}

/// Secret hex bytes (a clear key or component); the value is never echoed.
pub fn secret_hex(arg: &str, s: &str) -> Result<SecretBytes, CliError> {
    SecretBytes::from_hex(arg, s.trim()).map_err(|_| {
        CliError::arg(
            arg,
            "expected hexadecimal digits (0-9, A-F), an even number of them",
        )
    })
}

/// Fixed-length hex.
pub fn hex_n<const N: usize>(arg: &str, s: &str) -> Result<[u8; N], CliError> {
    let v = hex(arg, s)?;
    v.as_slice().try_into().map_err(|_| {
        CliError::arg(
            arg,
            format!("expected {N} bytes ({} hex digits), got {}", 2 * N, v.len()),
        )
    })
}

/// A PAN.
pub fn pan(arg: &str, s: &str) -> Result<Pan, CliError> {
    Pan::new(s.trim()).map_err(|e| CliError::arg(arg, e.context()))
}

/// A PIN.
pub fn pin(arg: &str, s: &str) -> Result<Pin, CliError> {
    Pin::new(s.trim()).map_err(|e| CliError::arg(arg, &e.reason))
}

/// An ISO 9564 PIN block format: `0`-`4` or `iso0`-`iso4`.
pub fn format(arg: &str, s: &str) -> Result<PinBlockFormat, CliError> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_prefix("iso-")
        .or_else(|| t.strip_prefix("iso"))
        .unwrap_or(&t);
    t.parse::<u8>()
        .ok()
        .and_then(|n| PinBlockFormat::from_code(n).ok())
        .ok_or_else(|| CliError::arg(arg, "expected an ISO 9564 format 0, 1, 2, 3 or 4"))
}

/// A DUKPT KSN (transaction or initial).
pub fn ksn(arg: &str, s: &str) -> Result<Ksn, CliError> {
    let s = s.trim();
    Ksn::parse_hex(s)
        .or_else(|_| Ksn::parse_initial_hex(s))
        .map_err(|e| CliError::arg(arg, &e.reason))
}

/// A transaction KSN (non-zero counter).
pub fn transaction_ksn(arg: &str, s: &str) -> Result<Ksn, CliError> {
    Ksn::parse_hex(s.trim()).map_err(|e| CliError::arg(arg, &e.reason))
}

/// The algorithm of a clear key from its length, with `aes` choosing AES
/// for the 16- and 24-byte lengths (TDES otherwise); 32 bytes is AES-256.
pub fn key_algorithm(arg: &str, len: usize, aes: bool) -> Result<KeyAlgorithm, CliError> {
    Ok(match (len, aes) {
        (16, false) => KeyAlgorithm::Tdes2,
        (24, false) => KeyAlgorithm::Tdes3,
        (16, true) => KeyAlgorithm::Aes128,
        (24, true) => KeyAlgorithm::Aes192,
        (32, _) => KeyAlgorithm::Aes256,
        (n, _) => {
            return Err(CliError::arg(
                arg,
                format!("a key of {n} bytes; expected 16 or 24 (TDES or AES) or 32 (AES-256)"),
            ))
        }
    })
}

/// Parses a value with `parse`, mapping a crate error to the argument.
pub fn with<T>(arg: &str, r: crate::Result<T>) -> Result<T, CliError> {
    r.map_err(|e| CliError::arg(arg, e.context()))
}

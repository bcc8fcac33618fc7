//! The cases, grouped by operation family, and small helpers they share.

mod card;
mod data;
mod emv;
mod exchange;
mod keys;
mod mac;
mod pin;
mod pindata;
pub(crate) mod unsupported;

use super::{fail, Case, Outcome};
use crate::types::Pan;
use rand::Rng;

/// Every case, in report order.
pub(crate) fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(keys::cases());
    v.extend(pin::cases());
    v.extend(pindata::cases());
    v.extend(data::cases());
    v.extend(card::cases());
    v.extend(emv::cases());
    v.extend(mac::cases());
    v.extend(exchange::cases());
    v
}

/// Registers an async case function.
macro_rules! case {
    ($op:ident, $kind:ident, $name:literal, $src:expr, [$($also:ident),*], $f:path) => {
        $crate::conformance::Case {
            name: $name,
            operation: $crate::ops::Operation::$op,
            kind: $crate::conformance::CaseKind::$kind,
            source: $src,
            also: &[$($crate::ops::Operation::$also),*],
            run: |c| Box::pin($f(c)),
        }
    };
}
pub(crate) use case;

/// Decodes a hex constant of this module (always valid).
pub(crate) fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// A constant PAN of this module (always valid).
pub(crate) fn pan(s: &str) -> Result<Pan, super::Stop> {
    Pan::new(s).map_err(|e| fail(format!("constant PAN: {e}")))
}

/// A random 16-digit PAN (IIN 4…).
pub(crate) fn random_pan(rng: &mut impl Rng) -> String {
    let mut s = String::from("4");
    for _ in 0..15 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

/// A random PIN of 4 to 12 digits.
pub(crate) fn random_pin(rng: &mut impl Rng) -> String {
    let n = rng.random_range(4..=12);
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Random bytes.
pub(crate) fn random_bytes(rng: &mut impl Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// Compares non-secret bytes (MACs, ciphertexts, encrypted PIN blocks).
pub(crate) fn check_eq(what: &str, got: &[u8], want: &[u8]) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(fail(format!(
            "{what}: got {}, expected {}",
            hex::encode_upper(got),
            hex::encode_upper(want)
        )))
    }
}

/// Combines the outcomes of a case's parts: any failure fails the case;
/// else any unsupported part makes it unsupported (saying how many parts
/// passed); else it passes when at least one part ran, and skips (joining
/// the reasons) when none could.
pub(crate) fn combine(results: Vec<Outcome>) -> Outcome {
    let mut skips = Vec::new();
    let mut unsupported = Vec::new();
    let mut ran = 0;
    for r in results {
        match r {
            Ok(()) => ran += 1,
            Err(super::Stop::Skip(m)) => {
                if !skips.contains(&m) {
                    skips.push(m)
                }
            }
            Err(super::Stop::Unsupported(m)) => {
                if !unsupported.contains(&m) {
                    unsupported.push(m)
                }
            }
            Err(f) => return Err(f),
        }
    }
    if !unsupported.is_empty() {
        let mut m = unsupported.join("; ");
        if ran > 0 {
            m.push_str(&format!(
                " (the other {ran} part{} passed)",
                if ran == 1 { "" } else { "s" }
            ));
        }
        return Err(super::Stop::Unsupported(m));
    }
    if ran > 0 {
        Ok(())
    } else {
        Err(super::Stop::Skip(skips.join("; ")))
    }
}

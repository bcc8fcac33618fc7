//! Secret values: zeroized on drop, never printed, compared in constant time.

use crate::error::{Error, Result};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Secret bytes (key material, clear components). Zeroized on drop; `Debug`
/// prints `***`; equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps `bytes` (taking ownership so no copy is left behind).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// Decodes hex; the error names `field` but never echoes the value.
    pub fn from_hex(field: &str, hex_str: &str) -> Result<Self> {
        let v = Zeroizing::new(
            hex::decode(hex_str).map_err(|_| Error::invalid(field, "not valid hex"))?,
        );
        Ok(Self(v.to_vec()))
    }

    /// The secret bytes. Keep the borrow short.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Self(v.to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for SecretBytes {}

/// A primary account number: 12 to 19 decimal digits.
///
/// Zeroized on drop. `Debug` and `Display` show only the first 6 and last 4
/// digits (`411111******1111`), as PCI DSS allows.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pan(String);

impl Pan {
    /// Validates a PAN: ASCII digits only, 12 to 19 of them.
    pub fn new(digits: &str) -> Result<Self> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("pan", "must contain decimal digits only"));
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(Error::invalid(
                "pan",
                format!("length {} digits, expected 12 to 19", digits.len()),
            ));
        }
        Ok(Self(digits.to_owned()))
    }

    /// The digits. Keep the borrow short; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form: first 6, `*` for the middle, last 4.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let head = self.0.get(..6).unwrap_or("");
        let tail = self.0.get(n.saturating_sub(4)..).unwrap_or("");
        format!("{head}{}{tail}", "*".repeat(n.saturating_sub(10)))
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl PartialEq for Pan {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for Pan {}

impl std::str::FromStr for Pan {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_masks_and_validates() {
        let p = Pan::new("4111111111111111").unwrap();
        assert_eq!(format!("{p:?}"), "Pan(411111******1111)");
        assert_eq!(p.to_string(), "411111******1111");
        assert!(Pan::new("41111111111").is_err());
        assert!(Pan::new("41111111111111111111").is_err());
        let e = Pan::new("4111x11111111111").unwrap_err();
        assert!(e.to_string().contains("pan"), "{e}");
        assert!(!e.to_string().contains("4111"), "{e}");
    }

    #[test]
    fn secret_bytes_never_print() {
        let s = SecretBytes::from_slice(&[0xAB; 16]);
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s, SecretBytes::from_slice(&[0xAB; 16]));
        assert_ne!(s, SecretBytes::from_slice(&[0xAC; 16]));
        assert!(SecretBytes::from_hex("key", "zz")
            .unwrap_err()
            .to_string()
            .contains("key"));
    }
}

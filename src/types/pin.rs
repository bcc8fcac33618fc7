//! PIN vocabulary: the clear [`Pin`], the ISO 9564-1 [`PinBlockFormat`] and
//! the [`EncryptedPinBlock`]. The PIN block codec is
//! [`crate::algo::pinblock`].

use super::field::{FieldError, FieldResult};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Fewest PIN digits ISO 9564-1 allows.
pub const PIN_MIN_LEN: usize = 4;
/// Most PIN digits ISO 9564-1 allows.
pub const PIN_MAX_LEN: usize = 12;
/// Fewest PAN digits accepted here.
pub const PAN_MIN_LEN: usize = 12;
/// Most PAN digits accepted here (ISO/IEC 7812 maximum).
pub const PAN_MAX_LEN: usize = 19;

/// A clear PIN: 4 to 12 ASCII decimal digits, validated at construction.
///
/// Zeroized on drop; `Debug` prints `***`; equality is constant-time
/// (via [`subtle::ConstantTimeEq`]).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    digits: [u8; PIN_MAX_LEN],
    len: u8,
}

impl Pin {
    /// A PIN from a string of 4 to 12 ASCII decimal digits.
    ///
    /// Errors (`pin`): wrong length, or a character that is not `0`-`9`.
    pub fn new(pin: &str) -> FieldResult<Self> {
        Self::from_digits(pin.as_bytes())
    }

    /// A PIN from 4 to 12 ASCII decimal digit bytes (`b'0'..=b'9'`).
    ///
    /// Errors (`pin`): wrong length, or a byte that is not an ASCII digit.
    pub fn from_digits(digits: &[u8]) -> FieldResult<Self> {
        if let Some(pos) = digits.iter().position(|b| !b.is_ascii_digit()) {
            return Err(FieldError::new(
                "pin",
                format!("character at position {pos} is not a decimal digit"),
            ));
        }
        let len = digits.len();
        if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len) {
            return Err(FieldError::new(
                "pin",
                format!("length {len} digits, expected {PIN_MIN_LEN} to {PIN_MAX_LEN}"),
            ));
        }
        let mut out = [0u8; PIN_MAX_LEN];
        for (o, d) in out.iter_mut().zip(digits) {
            *o = *d;
        }
        Ok(Self {
            digits: out,
            len: len as u8,
        })
    }

    /// A PIN from `len` (4 to 12) ASCII decimal digits at the start of
    /// `digits`, the rest zero, already checked by the caller (the PIN
    /// block decoder), without checking them again.
    pub(crate) fn from_checked_digits(digits: &[u8; PIN_MAX_LEN], len: usize) -> Self {
        debug_assert!((PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len));
        debug_assert!(digits.iter().take(len).all(u8::is_ascii_digit));
        debug_assert!(digits.iter().skip(len).all(|d| *d == 0));
        Self {
            digits: *digits,
            len: len as u8,
        }
    }

    /// The PIN as ASCII decimal digits (4 to 12 bytes).
    pub fn digits(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The PIN as a string of decimal digits.
    pub fn as_str(&self) -> &str {
        // The digits were validated as ASCII at construction.
        std::str::from_utf8(self.digits()).unwrap_or("")
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl ConstantTimeEq for Pin {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Unused digit slots are always zero, so whole-array comparison is exact.
        self.len.ct_eq(&other.len) & self.digits.ct_eq(&other.digits)
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Pin {}

/// An ISO 9564-1 PIN block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinBlockFormat {
    /// Format 0 (ANSI X9.8): PIN XOR PAN, fill `F`.
    Iso0,
    /// Format 1: PIN with transaction-unique fill, no PAN.
    Iso1,
    /// Format 2: PIN with fill `F`, no PAN; ICC offline PIN only.
    Iso2,
    /// Format 3: PIN XOR PAN, random fill `A`-`F`.
    Iso3,
    /// Format 4: 16-byte AES PIN block (PIN field and PAN field).
    Iso4,
}

impl PinBlockFormat {
    /// Every format, in numeric order.
    pub const ALL: [Self; 5] = [Self::Iso0, Self::Iso1, Self::Iso2, Self::Iso3, Self::Iso4];

    /// The format number, which is also the control-field nibble (0-4).
    pub fn code(self) -> u8 {
        match self {
            Self::Iso0 => 0,
            Self::Iso1 => 1,
            Self::Iso2 => 2,
            Self::Iso3 => 3,
            Self::Iso4 => 4,
        }
    }

    /// The format with number `code` (0-4). Errors (`format`): any other number.
    pub fn from_code(code: u8) -> FieldResult<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.code() == code)
            .ok_or_else(|| {
                FieldError::new(
                    "format",
                    format!("{code} is not an ISO 9564-1 PIN block format 0-4"),
                )
            })
    }

    /// PIN block length in bytes: 8 for formats 0-3, 16 for format 4.
    pub fn block_len(self) -> usize {
        match self {
            Self::Iso4 => 16,
            _ => 8,
        }
    }

    /// True when the format binds the PAN (0, 3 and 4). Formats 0 and 3 need
    /// it to encode/decode; format 4 needs it to encipher/decipher.
    pub fn needs_pan(self) -> bool {
        matches!(self, Self::Iso0 | Self::Iso3 | Self::Iso4)
    }
}

/// An enciphered PIN block: 8 bytes (formats 0-3) or 16 bytes (format 4),
/// held inline without heap allocation.
///
/// Zeroized on drop; `Debug` prints `***`; equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EncryptedPinBlock {
    bytes: [u8; 16],
    len: u8,
}

impl EncryptedPinBlock {
    /// Wraps an enciphered PIN block of 8 or 16 bytes.
    ///
    /// Errors (`pin block`): any other length.
    pub fn from_bytes(b: &[u8]) -> FieldResult<Self> {
        if b.len() != 8 && b.len() != 16 {
            return Err(FieldError::new(
                "pin block",
                format!("length {} bytes, expected 8 or 16", b.len()),
            ));
        }
        let mut bytes = [0u8; 16];
        for (o, i) in bytes.iter_mut().zip(b) {
            *o = *i;
        }
        Ok(Self {
            bytes,
            len: b.len() as u8,
        })
    }

    /// The enciphered block's bytes (8 or 16).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for EncryptedPinBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl ConstantTimeEq for EncryptedPinBlock {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.len.ct_eq(&other.len) & self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for EncryptedPinBlock {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for EncryptedPinBlock {}

//! Secret values: zeroized on drop, never printed, compared in constant time.

use super::error::{Error, Result};
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
/// Zeroized on drop. `Debug` and `Display` show at most the first 6 and last
/// 4 digits, as PCI DSS allows, and never more than half of the digits
/// (`4111********1111` for 16 digits, `12******3456` for 12): see
/// [`Pan::masked`].
///
/// Held inline (no heap allocation), so wiping it on drop leaves no copy
/// behind in a freed or reallocated buffer.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pan {
    digits: [u8; PAN_MAX_DIGITS],
    len: u8,
}

/// Most PAN digits (ISO/IEC 7812).
const PAN_MAX_DIGITS: usize = 19;

impl Pan {
    /// Validates a PAN: ASCII digits only, 12 to 19 of them.
    pub fn new(digits: &str) -> Result<Self> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("pan", "must contain decimal digits only"));
        }
        if !(12..=PAN_MAX_DIGITS).contains(&digits.len()) {
            return Err(Error::invalid(
                "pan",
                format!("length {} digits, expected 12 to 19", digits.len()),
            ));
        }
        let mut out = [0u8; PAN_MAX_DIGITS];
        for (o, d) in out.iter_mut().zip(digits.bytes()) {
            *o = d;
        }
        Ok(Self {
            digits: out,
            len: digits.len() as u8,
        })
    }

    /// The digits. Keep the borrow short; never log it.
    pub fn expose(&self) -> &str {
        // ASCII digits, validated on construction.
        std::str::from_utf8(self.digits.get(..usize::from(self.len)).unwrap_or(&[]))
            .unwrap_or_default()
    }

    /// The masked form: at most the first 6 and the last 4 digits, and never
    /// more than half of the digits (`12******3456` for a 12-digit PAN: 6 of
    /// 12 shown). The last 4 are kept; the head gets what the half-rule
    /// leaves, up to 6.
    pub fn masked(&self) -> String {
        let digits = self.expose();
        let n = digits.len();
        let tail_len = 4.min(n / 2);
        let head_len = 6.min((n / 2).saturating_sub(tail_len));
        let head = digits.get(..head_len).unwrap_or("");
        let tail = digits.get(n.saturating_sub(tail_len)..).unwrap_or("");
        format!(
            "{head}{}{tail}",
            "*".repeat(n.saturating_sub(head_len + tail_len))
        )
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
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}
impl Eq for Pan {}

impl std::str::FromStr for Pan {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// A card validation value (CVV, CVV2, iCVV, CVC, CSC, dCVV, CVC3): 3 to 5
/// decimal digits (AWS Payment Cryptography's `ValidationData`, 3 to 5
/// digits). A secret: zeroized on drop, `Debug` prints `Cvv(***)`, equality
/// is constant-time. The one place where "a card validation value is 3 to 5
/// digits" is checked; a request holding a `Cvv` is well formed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Cvv {
    digits: [u8; CVV_MAX_DIGITS],
    len: u8,
}

/// Fewest digits of a card validation value.
const CVV_MIN_DIGITS: usize = 3;
/// Most digits of a card validation value.
const CVV_MAX_DIGITS: usize = 5;

impl Cvv {
    /// Validates 3 to 5 decimal digits. The error names the field (`cvv`)
    /// and never echoes the value.
    pub fn new(digits: &str) -> Result<Self> {
        Self::from_ascii(digits.as_bytes())
            .ok_or_else(|| Error::invalid("cvv", "expected 3 to 5 decimal digits"))
    }

    /// From 3 to 5 ASCII digits computed by a backend (the algorithm's
    /// output, a payShield or AWS response); `None` unless 3 to 5 decimal
    /// digits.
    pub fn from_ascii(bytes: &[u8]) -> Option<Self> {
        if !(CVV_MIN_DIGITS..=CVV_MAX_DIGITS).contains(&bytes.len())
            || !bytes.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let mut digits = [0u8; CVV_MAX_DIGITS];
        for (d, b) in digits.iter_mut().zip(bytes) {
            *d = *b;
        }
        Some(Self {
            digits,
            len: bytes.len() as u8,
        })
    }

    /// The digits. Keep the borrow short; never log it.
    pub fn expose(&self) -> &str {
        // Always 3 to 5 ASCII digits (checked on construction).
        std::str::from_utf8(self.digits.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Number of digits (3 to 5).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a value has at least 3 digits (for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Constant-time comparison with presented digits (any length).
    pub fn ct_eq_bytes(&self, presented: &[u8]) -> bool {
        self.expose().as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvv(***)")
    }
}

impl PartialEq for Cvv {
    fn eq(&self, other: &Self) -> bool {
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}
impl Eq for Cvv {}

impl std::str::FromStr for Cvv {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// Magnetic-stripe track data (track 1 or 2, or the chip's track 2
/// equivalent) as the bytes the card MACs: AWS Payment Cryptography's
/// `TrackData`, 1 to 80 bytes (2 to 160 hex digits). A secret (it holds the
/// PAN): zeroized on drop, `Debug` prints `TrackData(***)`, equality is
/// constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TrackData(Vec<u8>);

/// Most bytes of track data (AWS `TrackDataType`: 160 hex digits).
pub const TRACK_DATA_MAX_LEN: usize = 80;

impl TrackData {
    /// 1 to 80 bytes; the error names the field (`track data`), never the value.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > TRACK_DATA_MAX_LEN {
            return Err(Error::invalid(
                "track data",
                format!("{} bytes, expected 1 to {TRACK_DATA_MAX_LEN}", bytes.len()),
            ));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// From hex (2 to 160 digits, even count); never echoes the value.
    pub fn from_hex(hex_str: &str) -> Result<Self> {
        let v = Zeroizing::new(
            hex::decode(hex_str).map_err(|_| Error::invalid("track data", "not valid hex"))?,
        );
        Self::new(&v)
    }

    /// The bytes. Keep the borrow short; never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TrackData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrackData(***)")
    }
}

impl PartialEq for TrackData {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for TrackData {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_masks_and_validates() {
        let p = Pan::new("4111111111111111").unwrap();
        assert_eq!(format!("{p:?}"), "Pan(4111********1111)");
        assert_eq!(p.to_string(), "4111********1111");
        assert!(Pan::new("41111111111").is_err());
        assert!(Pan::new("41111111111111111111").is_err());
        let e = Pan::new("4111x11111111111").unwrap_err();
        assert!(e.to_string().contains("pan"), "{e}");
        assert!(!e.to_string().contains("4111"), "{e}");
    }

    #[test]
    fn pan_held_inline_round_trips_compares_and_wipes() {
        use zeroize::Zeroize;
        for n in 12..=19 {
            let digits: String = "4000123456789012345".chars().take(n).collect();
            let p = Pan::new(&digits).unwrap();
            assert_eq!(p.expose(), digits);
            assert_eq!(p.clone(), p);
            assert_eq!(digits.parse::<Pan>().unwrap(), p);
            let mut q = p.clone();
            q.zeroize();
            assert_eq!(q.expose(), "");
            assert_ne!(q, p);
        }
        let a = Pan::new("4111111111111111").unwrap();
        assert_ne!(a, Pan::new("4111111111111112").unwrap());
        assert_ne!(a, Pan::new("41111111111111111").unwrap());
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

    #[test]
    fn pan_mask_never_shows_more_than_half_or_6_4() {
        for n in 12..=19 {
            let digits: String = (0..n).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
            let m = Pan::new(&digits).unwrap().masked();
            assert_eq!(m.len(), n);
            let shown = m.bytes().filter(u8::is_ascii_digit).count();
            assert!(shown * 2 <= n, "{n}: {m}");
            let head = m.bytes().take_while(u8::is_ascii_digit).count();
            let tail = m.bytes().rev().take_while(u8::is_ascii_digit).count();
            assert!(head <= 6 && tail <= 4 && head + tail == shown, "{n}: {m}");
            assert_eq!(tail, 4, "{n}: {m}");
            assert_eq!(&m[n - 4..], &digits[n - 4..]);
        }
        assert_eq!(Pan::new("123456789012").unwrap().masked(), "12******9012");
        assert_eq!(Pan::new("4123456789012").unwrap().masked(), "41*******9012");
        assert_eq!(
            Pan::new("1234567890123456789").unwrap().masked(),
            "12345**********6789"
        );
    }

    #[test]
    fn cvv_validates_and_never_prints() {
        let c = Cvv::new("370").unwrap();
        assert_eq!(format!("{c:?}"), "Cvv(***)");
        assert_eq!(c.expose(), "370");
        assert_eq!(c, "370".parse().unwrap());
        assert_ne!(c, Cvv::new("371").unwrap());
        assert!(c.ct_eq_bytes(b"370") && !c.ct_eq_bytes(b"3700") && !c.ct_eq_bytes(b"37"));
        assert_eq!(c.len(), 3);
        let c5 = Cvv::new("45423").unwrap();
        assert_eq!((c5.expose(), c5.len()), ("45423", 5));
        assert_ne!(c5, Cvv::new("4542").unwrap());
        assert_eq!(Cvv::new("0464").unwrap().expose(), "0464");
        for bad in ["", "37", "370000", "37a", " 370", "٣٧٠"] {
            let e = Cvv::new(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("cvv"), "{e}");
        }
        assert!(!Cvv::new("12x").unwrap_err().to_string().contains("12x"));
    }

    #[test]
    fn track_data_validates_and_never_prints() {
        let t = TrackData::from_hex("4111111111111111D2512201").unwrap();
        assert_eq!(format!("{t:?}"), "TrackData(***)");
        assert_eq!(t.expose().len(), 12);
        assert_eq!(t, TrackData::new(t.expose()).unwrap());
        assert_ne!(t, TrackData::new(&[0x41]).unwrap());
        assert!(TrackData::new(&[0x41; TRACK_DATA_MAX_LEN]).is_ok());
        for bad in [&[][..], &[0x41; TRACK_DATA_MAX_LEN + 1][..]] {
            let e = TrackData::new(bad).unwrap_err();
            assert!(e.to_string().contains("track data"), "{e}");
        }
        let e = TrackData::from_hex("4111x1").unwrap_err();
        assert!(!e.to_string().contains("4111"), "{e}");
    }
}

//! Issuer PIN vocabulary (IBM 3624 and Visa PVV): the values a request
//! names, each validated once at construction, so a request that holds one
//! is well formed. Lengths and alphabets follow the AWS Payment Cryptography
//! data-plane model (botocore `payment-cryptography-data/2022-02-03`
//! `service-2.json`: `DecimalizationTableType`, `PinValidationDataType`,
//! `HexLengthEquals1`, `PinOffsetType`, `IntegerRangeBetween0And6`,
//! `IntegerRangeBetween4And12`), except the PVV, which is the four digits
//! the Visa PIN verification algorithm yields.
//!
//! The values derived from a PIN (offset, PVV) and those the service marks
//! sensitive (decimalisation table, validation data) zeroize on drop, print
//! as `***` and compare in constant time.

use super::field::{FieldError, FieldResult};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// `s` as digit values (0-9), checked to be `min..=max` ASCII decimal
/// digits; errors name `field` and never echo the value.
fn digit_values<const N: usize>(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
) -> FieldResult<([u8; N], u8)> {
    let b = s.as_bytes();
    if let Some(pos) = b.iter().position(|c| !c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            format!("character at position {pos} is not a decimal digit"),
        ));
    }
    if !(min..=max).contains(&b.len()) {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(FieldError::new(
            field,
            format!("length {} digits, expected {want}", b.len()),
        ));
    }
    let mut out = [0u8; N];
    for (o, c) in out.iter_mut().zip(b) {
        *o = c - b'0';
    }
    Ok((out, b.len() as u8))
}

/// Digit values (0-9) back to ASCII.
fn ascii(values: &[u8]) -> String {
    values.iter().map(|d| char::from(b'0' + (d % 10))).collect()
}

macro_rules! redacted {
    ($t:ident) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "(***)"))
            }
        }
    };
}

/// The IBM 3624 decimalisation table: 16 decimal digits, the `i`-th giving
/// the decimal digit for hexadecimal digit `i` of the enciphered validation
/// data (IBM CCA, "IBM 3624 PIN-calculation method", step 2).
///
/// Treated as sensitive (AWS marks it so): `Debug` prints `***`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DecimalizationTable([u8; 16]);

impl DecimalizationTable {
    /// The common table `0123456789012345` (A-F map to 0-5).
    pub const STANDARD: &'static str = "0123456789012345";

    /// Validates exactly 16 decimal digits.
    ///
    /// Errors (`decimalization table`): another length, or a non-digit.
    pub fn new(digits: &str) -> FieldResult<Self> {
        let (d, _) = digit_values::<16>("decimalization table", digits, 16, 16)?;
        Ok(Self(d))
    }

    /// The decimal digit (0-9) for hexadecimal digit `nibble` (0-15).
    pub fn map(&self, nibble: u8) -> u8 {
        self.0.get(usize::from(nibble & 0x0F)).copied().unwrap_or(0)
    }

    /// The table as 16 ASCII digits. Keep the borrow short.
    pub fn expose(&self) -> String {
        ascii(&self.0)
    }

    /// Whether the table passes the check a payShield applies to plaintext
    /// decimalisation tables by default: at least 8 different digits, no
    /// digit more than 4 times (payShield host command manual, notes of DE,
    /// EE, DA, EA, CK, GO: "must contain at least 8 different digits, with
    /// no digit occurring more than 4 times. If this condition is not met,
    /// Error Code 25 is returned"; payShield 10K Installation and User
    /// Guide, console command ED). A weak table makes PINs guessable.
    pub fn passes_hsm_check(&self) -> bool {
        let mut count = [0u8; 10];
        for d in self.0 {
            if let Some(c) = count.get_mut(usize::from(d)) {
                *c += 1;
            }
        }
        count.iter().filter(|c| **c > 0).count() >= 8 && count.iter().all(|c| *c <= 4)
    }
}

redacted!(DecimalizationTable);

impl ConstantTimeEq for DecimalizationTable {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for DecimalizationTable {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl Eq for DecimalizationTable {}

/// IBM 3624 PIN validation data: 4 to 16 decimal digits identifying the
/// cardholder (usually part of the PAN), right-padded to 16 hexadecimal
/// digits with a [`PadCharacter`] before encipherment.
///
/// Sensitive: zeroized on drop, `Debug` prints `***`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PinValidationData {
    digits: [u8; 16],
    len: u8,
}

impl PinValidationData {
    /// Validates 4 to 16 decimal digits.
    ///
    /// Errors (`pin validation data`): another length, or a non-digit.
    pub fn new(digits: &str) -> FieldResult<Self> {
        let (d, len) = digit_values::<16>("pin validation data", digits, 4, 16)?;
        Ok(Self { digits: d, len })
    }

    /// The digit values (0-9), 4 to 16 of them.
    pub fn values(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false (at least 4 digits); present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The data as ASCII digits. Keep the borrow short.
    pub fn expose(&self) -> String {
        ascii(self.values())
    }

    /// The 16 hexadecimal characters (ASCII, upper case) the IBM 3624
    /// method enciphers: the digits, right-padded with `pad`.
    pub fn padded(&self, pad: PadCharacter) -> Zeroizing<[u8; 16]> {
        let mut out = Zeroizing::new([0u8; 16]);
        let pad = u8::try_from(pad.as_char()).unwrap_or(b'F');
        for (i, o) in out.iter_mut().enumerate() {
            *o = match self.values().get(i) {
                Some(d) => b'0' + d,
                None => pad,
            };
        }
        out
    }
}

redacted!(PinValidationData);

impl ConstantTimeEq for PinValidationData {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.len.ct_eq(&other.len) & self.digits.ct_eq(&other.digits)
    }
}

impl PartialEq for PinValidationData {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl Eq for PinValidationData {}

/// The hexadecimal digit that right-pads [`PinValidationData`] to 16 digits
/// (AWS `PinValidationDataPadCharacter`: one of `0`-`9`, `A`-`F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PadCharacter(u8);

impl PadCharacter {
    /// `F`, the usual pad.
    pub const F: Self = Self(0x0F);

    /// Validates one character `0`-`9` or `A`-`F` (upper case, as the
    /// service's pattern `[0-9A-F]`).
    ///
    /// Errors (`pad character`): anything else.
    pub fn new(s: &str) -> FieldResult<Self> {
        match s.as_bytes() {
            [c @ b'0'..=b'9'] => Ok(Self(c - b'0')),
            [c @ b'A'..=b'F'] => Ok(Self(c - b'A' + 10)),
            _ => Err(FieldError::new(
                "pad character",
                "expected one hexadecimal digit 0-9 or A-F",
            )),
        }
    }

    /// The nibble value (0-15).
    pub fn nibble(self) -> u8 {
        self.0
    }

    /// The character (`0`-`9`, `A`-`F`).
    pub fn as_char(self) -> char {
        char::from_digit(u32::from(self.0), 16)
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or('F')
    }
}

/// An IBM 3624 PIN offset: 4 to 12 decimal digits. Its length is the PIN
/// check length: the offset applies to, and verification compares, the
/// rightmost that-many digits of the PIN (IBM z/OS ICSF, "PIN Offset
/// Generation algorithm").
///
/// Derived from the PIN: zeroized on drop, `Debug` prints `***`, equality is
/// constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PinOffset {
    digits: [u8; 12],
    len: u8,
}

impl PinOffset {
    /// Validates 4 to 12 decimal digits.
    ///
    /// Errors (`pin offset`): another length, or a non-digit.
    pub fn new(digits: &str) -> FieldResult<Self> {
        let (d, len) = digit_values::<12>("pin offset", digits, 4, 12)?;
        Ok(Self { digits: d, len })
    }

    /// From digit values (0-9) computed by an algorithm.
    ///
    /// Errors (`pin offset`): not 4 to 12 values, or a value over 9.
    pub fn from_values(values: &[u8]) -> FieldResult<Self> {
        if values.iter().any(|v| *v > 9) || !(4..=12).contains(&values.len()) {
            return Err(FieldError::new(
                "pin offset",
                "expected 4 to 12 decimal digit values",
            ));
        }
        let mut digits = [0u8; 12];
        for (o, v) in digits.iter_mut().zip(values) {
            *o = *v;
        }
        Ok(Self {
            digits,
            len: values.len() as u8,
        })
    }

    /// The digit values (0-9).
    pub fn values(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of digits (the PIN check length).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false (at least 4 digits); present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The offset as ASCII digits. Keep the borrow short; never log it.
    pub fn expose(&self) -> String {
        ascii(self.values())
    }
}

redacted!(PinOffset);

impl ConstantTimeEq for PinOffset {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.len.ct_eq(&other.len) & self.digits.ct_eq(&other.digits)
    }
}

impl PartialEq for PinOffset {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl Eq for PinOffset {}

/// The Visa PIN verification key index (PVKI): which of the issuer's PVK
/// pairs computed a PVV, one digit of the transformed security parameter.
/// AWS `PinVerificationKeyIndex` takes 0 to 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pvki(u8);

impl Pvki {
    /// Largest index accepted.
    pub const MAX: u8 = 6;

    /// Validates 0 to 6.
    ///
    /// Errors (`pvki`): a larger index.
    pub fn new(index: u8) -> FieldResult<Self> {
        if index > Self::MAX {
            return Err(FieldError::new("pvki", "expected 0 to 6"));
        }
        Ok(Self(index))
    }

    /// The index.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl std::str::FromStr for Pvki {
    type Err = FieldError;
    fn from_str(s: &str) -> FieldResult<Self> {
        match s.as_bytes() {
            [c @ b'0'..=b'9'] => Self::new(c - b'0'),
            _ => Err(FieldError::new("pvki", "expected one digit 0 to 6")),
        }
    }
}

/// A Visa PIN verification value: exactly four decimal digits.
///
/// Derived from the PIN: zeroized on drop, `Debug` prints `Pvv(***)`,
/// equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pvv([u8; 4]);

impl Pvv {
    /// Validates exactly four decimal digits.
    ///
    /// Errors (`pvv`): another length, or a non-digit.
    pub fn new(digits: &str) -> FieldResult<Self> {
        let (d, _) = digit_values::<4>("pvv", digits, 4, 4)?;
        Ok(Self(d))
    }

    /// From four digit values (0-9) computed by the algorithm.
    ///
    /// Errors (`pvv`): a value over 9.
    pub fn from_values(values: [u8; 4]) -> FieldResult<Self> {
        if values.iter().any(|v| *v > 9) {
            return Err(FieldError::new("pvv", "expected decimal digit values"));
        }
        Ok(Self(values))
    }

    /// The digit values.
    pub fn values(&self) -> &[u8; 4] {
        &self.0
    }

    /// The PVV as four ASCII digits. Keep the borrow short; never log it.
    pub fn expose(&self) -> String {
        ascii(&self.0)
    }
}

redacted!(Pvv);

impl ConstantTimeEq for Pvv {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for Pvv {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl Eq for Pvv {}

/// A PIN length, 4 to 12 digits (ISO 9564-1; AWS `PinDataLength`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PinLength(u8);

impl PinLength {
    /// Four digits, the usual (and AWS's default) length.
    pub const FOUR: Self = Self(4);

    /// Validates 4 to 12.
    ///
    /// Errors (`pin length`): outside 4 to 12.
    pub fn new(n: u8) -> FieldResult<Self> {
        if !(4..=12).contains(&n) {
            return Err(FieldError::new("pin length", "expected 4 to 12 digits"));
        }
        Ok(Self(n))
    }

    /// The length in digits.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_once_and_never_printed() {
        let t = DecimalizationTable::new(DecimalizationTable::STANDARD).unwrap();
        assert_eq!(t.map(0x0A), 0);
        assert_eq!(t.map(0x0F), 5);
        assert_eq!(t.expose(), "0123456789012345");
        assert_eq!(format!("{t:?}"), "DecimalizationTable(***)");
        for bad in ["012345678901234", "01234567890123456", "012345678901234A"] {
            let e = DecimalizationTable::new(bad).unwrap_err();
            assert_eq!(e.field, "decimalization table");
            assert!(!e.to_string().contains(bad));
        }
        let v = PinValidationData::new("1122334455667788").unwrap();
        assert_eq!(v.len(), 16);
        assert_eq!(format!("{v:?}"), "PinValidationData(***)");
        assert!(PinValidationData::new("123").is_err());
        assert!(PinValidationData::new("11223344556677889").is_err());
        assert!(PinValidationData::new("1122x").is_err());
        assert_eq!(PadCharacter::new("F").unwrap(), PadCharacter::F);
        assert_eq!(PadCharacter::new("1").unwrap().nibble(), 1);
        assert_eq!(PadCharacter::new("A").unwrap().as_char(), 'A');
        for bad in ["", "f", "G", "FF"] {
            assert_eq!(PadCharacter::new(bad).unwrap_err().field, "pad character");
        }
        let o = PinOffset::new("6586").unwrap();
        assert_eq!(o.expose(), "6586");
        assert_eq!(format!("{o:?}"), "PinOffset(***)");
        assert_eq!(o, PinOffset::from_values(&[6, 5, 8, 6]).unwrap());
        assert_ne!(o, PinOffset::new("65860").unwrap());
        assert!(PinOffset::new("658").is_err());
        assert!(PinOffset::new("6586658665866").is_err());
        assert!(PinOffset::from_values(&[1, 2, 3, 10]).is_err());
        assert_eq!(Pvki::new(6).unwrap().get(), 6);
        assert_eq!(Pvki::new(7).unwrap_err().field, "pvki");
        assert_eq!("1".parse::<Pvki>().unwrap().get(), 1);
        assert!("9".parse::<Pvki>().is_err() && "10".parse::<Pvki>().is_err());
        let p = Pvv::new("8523").unwrap();
        assert_eq!(p.expose(), "8523");
        assert_eq!(format!("{p:?}"), "Pvv(***)");
        assert_ne!(p, Pvv::new("8524").unwrap());
        for bad in ["852", "85231", "85a3"] {
            let e = Pvv::new(bad).unwrap_err();
            assert_eq!(e.field, "pvv");
            assert!(!e.to_string().contains(bad));
        }
        assert_eq!(PinLength::new(12).unwrap().get(), 12);
        let padded = PinValidationData::new("12345").unwrap();
        assert_eq!(&padded.padded(PadCharacter::F)[..], b"12345FFFFFFFFFFF");
        assert_eq!(
            &v.padded(PadCharacter::new("0").unwrap())[..],
            b"1122334455667788"
        );
        for (table, ok) in [
            ("0123456789012345", true),
            ("0123456701234567", true),
            ("0000111122223333", false),
            ("0123456700000000", false),
            ("0123456012345601", false),
        ] {
            let t = DecimalizationTable::new(table).unwrap();
            assert_eq!(t.passes_hsm_check(), ok, "{table}");
        }
        assert!(PinLength::new(3).is_err() && PinLength::new(13).is_err());
    }
}

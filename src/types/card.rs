//! Small validated card-data values (not secret).

use super::error::{Error, Result};
use std::fmt;

fn digits<const N: usize>(field: &str, s: &str) -> Result<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N || !b.iter().all(u8::is_ascii_digit) {
        return Err(Error::invalid(
            field,
            format!("expected exactly {N} decimal digits"),
        ));
    }
    let mut out = [0u8; N];
    out.copy_from_slice(b);
    Ok(out)
}

macro_rules! digit_type {
    ($(#[$m:meta])* $name:ident, $n:literal, $field:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name([u8; $n]);

        impl $name {
            #[doc = concat!("Validates exactly ", $n, " decimal digits.")]
            pub fn new(s: &str) -> Result<Self> {
                digits::<$n>($field, s).map(Self)
            }

            /// The digits as a string.
            pub fn as_str(&self) -> &str {
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }
    };
}

digit_type!(
    /// Card expiry date: four digits used exactly as given (the caller
    /// chooses YYMM or MMYY and uses it consistently, as HSMs and AWS do).
    CardExpiry, 4, "card expiry"
);
digit_type!(
    /// A three-digit card service code (e.g. `101`; CVV2 uses `000`, iCVV `999`).
    ServiceCode, 3, "service code"
);
digit_type!(
    /// EMV PAN sequence number: two decimal digits (`00` when absent).
    Psn, 2, "pan sequence number"
);

impl ServiceCode {
    /// The service code the Visa CVV algorithm uses for CVV2 (`000`).
    pub const CVV2: Self = Self(*b"000");
    /// The service code the Visa CVV algorithm uses for iCVV (`999`).
    pub const ICVV: Self = Self(*b"999");
}

/// How many digits a generated card validation value has: AWS Payment
/// Cryptography's `ValidationDataLength`, 3 to 5 (default 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CvvLength(u8);

impl CvvLength {
    /// Three digits (the default; CVV, CVV2 and iCVV are 3 digits).
    pub const THREE: Self = Self(3);
    /// Four digits (e.g. the Amex CSC on the card front).
    pub const FOUR: Self = Self(4);
    /// Five digits (e.g. the full Mastercard CVC3).
    pub const FIVE: Self = Self(5);

    /// Validates 3 to 5.
    pub fn new(n: u8) -> Result<Self> {
        if (3..=5).contains(&n) {
            Ok(Self(n))
        } else {
            Err(Error::invalid(
                "validation data length",
                format!("{n} digits, expected 3 to 5"),
            ))
        }
    }

    /// The number of digits.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for CvvLength {
    fn default() -> Self {
        Self::THREE
    }
}

impl fmt::Display for CvvLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_digits() {
        assert_eq!(CardExpiry::new("2512").unwrap().as_str(), "2512");
        assert!(CardExpiry::new("251").is_err());
        assert!(ServiceCode::new("1a1").is_err());
        assert!(Psn::new("0")
            .unwrap_err()
            .to_string()
            .contains("pan sequence number"));
        assert_eq!(CvvLength::new(4).unwrap(), CvvLength::FOUR);
        assert_eq!(CvvLength::default().get(), 3);
        for bad in [0, 2, 6] {
            assert!(CvvLength::new(bad)
                .unwrap_err()
                .to_string()
                .contains("validation data length"));
        }
    }
}

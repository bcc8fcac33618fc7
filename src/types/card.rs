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
    }
}

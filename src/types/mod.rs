//! Value types shared by every operation and backend.

//!
//! This is the bottom layer: it depends on no other module of the crate. The
//! reference algorithms ([`crate::algo`]), the operations ([`crate::ops`]) and
//! everything above take these types.

mod card;
pub mod error;
mod field;
mod key;
pub(crate) mod ksn;
pub(crate) mod operation;
mod params;
pub(crate) mod pin;
mod pindata;
mod secret;

pub use card::{CardExpiry, CvvLength, Psn, ServiceCode};
pub use error::{Error, ErrorKind, Result};
pub use field::{FieldError, FieldResult};
pub use key::{
    Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyClass, KeyId, KeyUsage, ModesOfUse,
    Tr31Version,
};
pub use ksn::Ksn;
pub use operation::Operation;
pub use params::{Iso9797Padding, MkDerivation, ProprietaryAuthData};
pub use pin::{EncryptedPinBlock, Pin, PinBlockFormat};
pub use pindata::{
    DecimalizationTable, PadCharacter, PinLength, PinOffset, PinValidationData, Pvki, Pvv,
};
pub use secret::{Cvv, Pan, SecretBytes, TrackData};

/// The outcome of a verification. A failed verification is a value, not an
/// error, so no layer ever retries a wrong PIN, CVV, ARQC or MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The value verified.
    Verified,
    /// The value did not verify.
    Failed,
}

impl Verification {
    /// True when verified.
    pub fn is_verified(self) -> bool {
        self == Self::Verified
    }

    /// From a constant-time comparison result.
    pub fn from_bool(ok: bool) -> Self {
        if ok {
            Self::Verified
        } else {
            Self::Failed
        }
    }
}

//! Value types shared by every operation and backend.

mod card;
mod key;
mod secret;

pub use card::{CardExpiry, Psn, ServiceCode};
pub use key::{Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};
pub use secret::{Cvv, Pan, SecretBytes};

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

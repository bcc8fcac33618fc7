//! Pure, synchronous reference algorithms.
//!
//! Everything in here is a plain function over byte slices: no keystore, no
//! I/O, no async. Backends and the CLI build on these; users may call them
//! directly (for example to compute a KCV or decode a PIN block in a test).
//!
//! Errors are [`AlgoError`]: they name the offending field and never carry
//! secret values.

pub mod cipher;
pub mod cvv;
pub mod dukpt;
pub mod emv;
pub mod mac;
pub mod pinblock;
pub mod tr31;

/// An error from a reference algorithm: which input was wrong and why.
///
/// The `reason` is written by this crate and never contains key, PIN or PAN
/// material, so it is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct AlgoError {
    /// The input field at fault (for example `"key"`, `"ksn"`, `"pin block"`).
    pub field: &'static str,
    /// What is wrong with it (never the value itself).
    pub reason: String,
}

impl AlgoError {
    /// Builds an error for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias for the algorithms.
pub type AlgoResult<T> = Result<T, AlgoError>;

//! [`FieldError`]: a malformed input field, as the value types and the
//! reference algorithms report it.

/// An input that is wrong: which field and why.
///
/// The `reason` is written by this crate and never contains key, PIN or PAN
/// material, so it is safe to log. It converts into an
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) [`Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct FieldError {
    /// The input field at fault (for example `"key"`, `"ksn"`, `"pin block"`).
    pub field: &'static str,
    /// What is wrong with it (never the value itself).
    pub reason: String,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias for value constructors and algorithms.
pub type FieldResult<T> = Result<T, FieldError>;

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
pub mod kcv;
pub mod kdf;
pub mod mac;
pub mod pinblock;
pub mod pinverify;
pub mod tr31;

/// An error from a reference algorithm: which input was wrong and why (the
/// crate's [`FieldError`](crate::types::FieldError)).
pub use crate::types::FieldError as AlgoError;

/// Result alias for the algorithms.
pub use crate::types::FieldResult as AlgoResult;

//! The crate's error type ([`Error`], [`ErrorKind`], [`Result`]).
//!
//! Defined with the rest of the vocabulary in [`crate::types`] (the bottom
//! layer); this module keeps the `paycrypto::error::…` paths.

pub use crate::types::error::{Error, ErrorKind, Result};

//! The AWS Payment Cryptography backend, on the official AWS SDK for Rust
//! (`aws-sdk-paymentcryptography` for keys, `aws-sdk-paymentcryptographydata`
//! for cryptography).
//!
//! Key names: a [`KeyId`](crate::KeyId) that starts with `arn:` or `alias/` is
//! passed to the service as is; any other name `N` is the alias `alias/N`.
//! New keys (generate, import) get that alias, so the same names work on
//! every backend. Names must then match the service's alias pattern
//! (`[a-zA-Z0-9/_-]`).
//!
//! Mapping notes (see [`AwsBackend`] for the full table):
//! - Keys from clear components are combined locally (as the software
//!   backend does), then imported as an RSA-OAEP (SHA-256) key cryptogram
//!   under the service's import wrapping certificate.
//! - ISO 9797-1 MACs: the service pads with method 1; other paddings are
//!   applied client-side, exactly as the software backend applies them.
//! - A failed verification (`VerificationFailedException`) is
//!   [`Verification::Failed`](crate::Verification::Failed), never an error.

mod client;
mod convert;
mod error;
#[cfg(all(feature = "server", feature = "testing"))]
mod in_process;

pub use client::{AwsBackend, AwsBackendBuilder};
pub use convert::{certificate_from_api, certificate_to_api};

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algo;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backend;
pub mod capabilities;
// The `paycrypto` binary's code: public only for the binary target
// (`paycrypto::cli::main`), not part of the library's API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
#[cfg(feature = "conformance")]
pub mod conformance;
mod connect;
pub mod error;
#[cfg(feature = "asymmetric")]
mod keyexchange;
pub mod keyload;
#[cfg(feature = "layers")]
pub mod layers;
#[cfg(feature = "load")]
pub mod load;
pub mod ops;
pub mod payshield;
#[cfg(all(feature = "payshield", feature = "layers", feature = "server"))]
pub mod proxy;
pub(crate) mod rules;
#[cfg(feature = "server")]
pub mod server;
pub mod software;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
#[cfg(feature = "asymmetric")]
mod x509;

pub use backend::{Backend, BackendExt, Capabilities};
#[cfg(feature = "aws")]
pub use connect::AwsUrl;
#[cfg(feature = "payshield")]
pub use connect::PayShieldUrl;
pub use connect::{connect, BackendUrl};
pub use error::{Error, ErrorKind, Result};
pub use ops::{Request, Response};
pub use software::SoftwareBackend;
pub use types::{
    CardExpiry, Cvv, CvvLength, DecimalizationTable, EncryptedPinBlock, Exportability, Kcv,
    KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, Ksn, ModesOfUse, Operation, PadCharacter, Pan,
    Pin, PinBlockFormat, PinLength, PinOffset, PinValidationData, Psn, Pvki, Pvv, SecretBytes,
    ServiceCode, TrackData, Verification,
};

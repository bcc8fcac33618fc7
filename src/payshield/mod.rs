//! The Thales payShield backend: the host command protocol over TCP.
//!
//! - [`codec`]: pure frame splitting, field parsing, request encoders and
//!   response parsers (fuzzable, no I/O).
//! - [`lmk`]: the variant LMK (key type codes, key schemes, keys under LMK).
//! - [`keytable`]: key names → keys under the LMK, with their attributes.
//! - `PayShieldBackend` (feature `payshield`): a pipelined, pooled async
//!   client implementing [`crate::Backend`]; on a payShield running the
//!   public test LMK, `PayShieldBackend::load_test_key` loads clear test
//!   keys (a KEK, say) into the key table.

pub mod codec;
pub mod keytable;
pub mod lmk;

#[cfg(feature = "payshield")]
mod client;
#[cfg(feature = "payshield")]
mod loading;
#[cfg(feature = "payshield")]
mod pool;

#[cfg(feature = "payshield")]
pub use client::{error_for_code, PayShieldBackend, RawResponse};
pub use keytable::{KeyTable, TableKey};
pub use lmk::{EncryptedKey, KeyScheme, KeyType, VariantLmk};
#[cfg(feature = "payshield")]
pub use loading::test_lmk_check_value;
#[cfg(feature = "payshield")]
pub use pool::PayShieldConfig;

//! The Thales payShield backend: the host command protocol over TCP.
//!
//! - [`KeyTable`]: key names → keys under the LMK ([`EncryptedKey`], with
//!   their [`KeyType`] and attributes).
//! - [`VariantLmk`]: the variant LMK (the simulator's, and the public test
//!   LMK that test keys are loaded under).
//! - [`KeyBlockLmk`] and [`keyblock`]: the key-block LMK and Thales key
//!   blocks (key scheme `S`), for payShields that run a key-block LMK.
//! - `PayShieldBackend` (feature `payshield`): a pipelined, pooled async
//!   client implementing [`crate::Backend`], configured by
//!   `PayShieldConfig` or a `payshield://` [`BackendUrl`](crate::BackendUrl);
//!   on a payShield running the public test LMK,
//!   `PayShieldBackend::load_test_key` loads clear test keys (a KEK, say)
//!   into the key table. Several hosts make a cluster (`HostHealth`,
//!   `PayShieldBackend::hosts`); `payshields://` (feature `tls`) speaks
//!   TLS (`TlsConfig`; the simulator's side `TlsServerConfig`).
//!
//! The host command codec (pure frame splitting, field parsing, request
//! encoders and response parsers) is internal; it is reachable as
//! `payshield::codec` only for the fuzz targets, benches and wire tests,
//! and is not part of the API.

#[doc(hidden)]
pub mod codec;
// Without the client, the key-table helpers serve only the CLI.
#[cfg_attr(not(feature = "payshield"), allow(dead_code))]
pub(crate) mod keytable;
// Without the simulator, some LMK helpers (encrypt_under_zmk) are unused.
pub mod keyblock;
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) mod lmk;

#[cfg(feature = "payshield")]
mod client;
#[cfg(feature = "payshield")]
mod cluster;
#[cfg(feature = "payshield")]
mod link;
#[cfg(feature = "payshield")]
mod loading;
#[cfg(feature = "payshield")]
mod pool;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "payshield")]
pub use client::{error_for_code, PayShieldBackend, RawResponse};
#[cfg(feature = "payshield")]
pub use cluster::HostHealth;
pub use keyblock::{KeyBlockLmk, LmkKind};
pub use keytable::{KeyTable, TableKey};
#[cfg(feature = "payshield")]
pub use link::HostCommandHandler;
pub use lmk::{EncryptedKey, KeyError, KeyScheme, KeyType, VariantLmk};
#[cfg(feature = "payshield")]
pub use loading::{test_lmk_check_value, test_lmk_check_value_for};
#[cfg(feature = "payshield")]
pub use pool::PayShieldConfig;
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsServerConfig};

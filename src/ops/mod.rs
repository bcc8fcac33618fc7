//! Typed operations: one request and one response type per operation, and
//! the [`Request`] / [`Response`] enums that carry them through layers to a
//! backend.
//!
//! Requests are built from validated types ([`Pan`](crate::Pan), [`KeyId`](crate::KeyId), [`Ksn`](crate::Ksn),
//! [`CardExpiry`](crate::CardExpiry), …), so a request that exists is well formed; what depends
//! on the key (lengths, algorithms, usage) is checked by the backend, as an
//! HSM checks it.

mod keys;
mod pindata;
mod types;
mod validate;

pub use pindata::*;
pub use types::*;
pub use validate::{max_mac_len, MAX_MAC_LEN, MIN_MAC_LEN};

pub use crate::types::Operation;
use crate::types::Verification;

macro_rules! request_enums {
    ($($variant:ident($req:ident) -> $resp:ident, $name:literal, idempotent = $idem:literal, $doc:literal;)*) => {
        /// A request to a backend: one variant per operation.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum Request {
            $(#[doc = $doc] $variant($req),)*
        }

        impl Request {
            /// The operation this request is.
            pub fn operation(&self) -> Operation {
                match self { $(Self::$variant(_) => Operation::$variant,)* }
            }
        }

        $(impl From<$req> for Request {
            fn from(r: $req) -> Self {
                Self::$variant(r)
            }
        })*

        /// A response from a backend: one variant per operation.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Response {
            $(#[doc = $doc] $variant($resp),)*
        }

        impl Response {
            /// The operation this response answers.
            pub fn operation(&self) -> Operation {
                match self { $(Self::$variant(_) => Operation::$variant,)* }
            }
        }
    };
}

crate::types::operation::with_operations!(request_enums);

/// The response of a verify operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyResponse {
    /// Whether the value verified.
    pub verification: Verification,
}

//! Typed operations: one request and one response type per operation, and
//! the [`Request`] / [`Response`] enums that carry them through layers to a
//! backend.
//!
//! Requests are built from validated types ([`Pan`](crate::Pan), [`KeyId`](crate::KeyId), [`Ksn`](crate::Ksn),
//! [`CardExpiry`](crate::CardExpiry), …), so a request that exists is well formed; what depends
//! on the key (lengths, algorithms, usage) is checked by the backend, as an
//! HSM checks it.

mod types;

pub use types::*;

use crate::types::Verification;

macro_rules! operations {
    ($($variant:ident($req:ident) -> $resp:ident, $name:literal, idempotent = $idem:literal, $doc:literal;)*) => {
        /// The name of an operation (for capabilities, metrics and reports).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Operation {
            $(#[doc = $doc] $variant,)*
        }

        impl Operation {
            /// Every operation.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)*];

            /// Stable snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// True when sending the request twice has the same effect as
            /// once, so a retry layer may repeat it.
            pub fn is_idempotent(self) -> bool {
                match self { $(Self::$variant => $idem,)* }
            }
        }

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

operations! {
    TranslatePin(TranslatePinRequest) -> TranslatePinResponse, "translate_pin", idempotent = true,
        "Translate an encrypted PIN block from one key (or DUKPT) and format to another.";
    EncryptData(EncryptDataRequest) -> EncryptDataResponse, "encrypt_data", idempotent = true,
        "Encrypt data under a data key or a DUKPT data key.";
    DecryptData(DecryptDataRequest) -> DecryptDataResponse, "decrypt_data", idempotent = true,
        "Decrypt data (P2PE decrypt with DUKPT).";
    GenerateCardValidation(GenerateCardValidationRequest) -> GenerateCardValidationResponse,
        "generate_card_validation", idempotent = true, "Generate a CVV, CVV2 or iCVV.";
    VerifyCardValidation(VerifyCardValidationRequest) -> VerifyResponse,
        "verify_card_validation", idempotent = true, "Verify a CVV, CVV2 or iCVV.";
    VerifyArqc(VerifyArqcRequest) -> VerifyArqcResponse, "verify_arqc", idempotent = true,
        "Verify an EMV ARQC and optionally generate the ARPC.";
    GenerateMac(GenerateMacRequest) -> GenerateMacResponse, "generate_mac", idempotent = true,
        "Generate a MAC.";
    VerifyMac(VerifyMacRequest) -> VerifyResponse, "verify_mac", idempotent = true,
        "Verify a MAC.";
    GenerateKey(GenerateKeyRequest) -> KeyInfo, "generate_key", idempotent = false,
        "Generate a new random key with the given attributes.";
    ImportKey(ImportKeyRequest) -> KeyInfo, "import_key", idempotent = false,
        "Import a key (TR-31 block under a KEK, or clear components).";
    ExportKey(ExportKeyRequest) -> ExportKeyResponse, "export_key", idempotent = true,
        "Export a key as a TR-31 block under a KEK.";
    GetKeyInfo(GetKeyInfoRequest) -> KeyInfo, "get_key_info", idempotent = true,
        "Attributes and key check value of a key.";
    DeleteKey(DeleteKeyRequest) -> DeleteKeyResponse, "delete_key", idempotent = false,
        "Delete a key.";
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The response of a verify operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyResponse {
    /// Whether the value verified.
    pub verification: Verification,
}

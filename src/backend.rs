//! The [`Backend`] trait every backend and layer implements, its declared
//! [`Capabilities`] (defined in [`crate::capabilities`]), and the typed
//! façade [`BackendExt`].

use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use async_trait::async_trait;
use std::sync::Arc;

pub use crate::capabilities::Capabilities;

/// A payment-crypto backend: one method to implement.
///
/// Object-safe (`Arc<dyn Backend>`), so gateways pick backends from
/// configuration at run time; async, because sockets and the AWS SDK are.
/// Layers (shadow, failover, retry, …) are backends wrapping backends.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for reports and errors (`software`, `payshield`, `aws`…).
    fn name(&self) -> &str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Executes one request.
    async fn execute(&self, request: Request) -> Result<Response>;
}

/// The future [`Backend::execute`] returns (as `async_trait` writes it);
/// private: implementors write `async fn execute` under `#[async_trait]`.
type ExecuteFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response>> + Send + 'a>>;

#[async_trait]
impl<B: Backend + ?Sized> Backend for Arc<B> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    // Forwards the inner backend's boxed future instead of boxing it again.
    fn execute<'life0, 'async_trait>(&'life0 self, request: Request) -> ExecuteFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).execute(request)
    }
}

#[async_trait]
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    // Forwards the inner backend's boxed future instead of boxing it again.
    fn execute<'life0, 'async_trait>(&'life0 self, request: Request) -> ExecuteFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).execute(request)
    }
}

fn mismatch(expected: Operation, got: &Response) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!(
            "expected a {} response, got {}",
            expected.as_str(),
            got.operation().as_str()
        ),
    )
    .with_op(expected)
}

macro_rules! typed {
    ($($(#[$m:meta])* $fn:ident($req:ident) -> $resp:ident via $variant:ident;)*) => {
        /// Typed calls over any [`Backend`]; implemented for every backend.
        ///
        /// Each method is `execute` with the request wrapped and the response
        /// unwrapped. It returns the future itself (`Send`, like every
        /// backend's) rather than boxing it again on top of the boxed future
        /// of [`Backend::execute`]; nothing runs until it is polled.
        pub trait BackendExt: Backend {
            $(
                $(#[$m])*
                fn $fn(
                    &self,
                    request: $req,
                ) -> impl std::future::Future<Output = Result<$resp>> + Send {
                    async move {
                        match self.execute(Request::$variant(request)).await? {
                            Response::$variant(r) => Ok(r),
                            other => Err(mismatch(Operation::$variant, &other)),
                        }
                    }
                }
            )*
        }
    };
}

typed! {
    /// Translates a PIN block.
    translate_pin(TranslatePinRequest) -> TranslatePinResponse via TranslatePin;
    /// Encrypts data.
    encrypt_data(EncryptDataRequest) -> EncryptDataResponse via EncryptData;
    /// Decrypts data (P2PE).
    decrypt_data(DecryptDataRequest) -> DecryptDataResponse via DecryptData;
    /// Re-encrypts data from one key to another (P2PE re-encryption).
    re_encrypt_data(ReEncryptDataRequest) -> ReEncryptDataResponse via ReEncryptData;
    /// Generates a card validation value (CVV, CVV2, iCVV, dynamic CVV, CVC3, …).
    generate_card_validation(GenerateCardValidationRequest) -> GenerateCardValidationResponse via GenerateCardValidation;
    /// Verifies a card validation value.
    verify_card_validation(VerifyCardValidationRequest) -> VerifyResponse via VerifyCardValidation;
    /// Verifies an ARQC, with ARPC when asked.
    verify_arqc(VerifyArqcRequest) -> VerifyArqcResponse via VerifyArqc;
    /// Generates an ARQC as the card does (test tooling).
    generate_arqc(GenerateArqcRequest) -> GenerateArqcResponse via GenerateArqc;
    /// Generates a MAC.
    generate_mac(GenerateMacRequest) -> GenerateMacResponse via GenerateMac;
    /// Verifies a MAC.
    verify_mac(VerifyMacRequest) -> VerifyResponse via VerifyMac;
    /// Generates issuer PIN data (a PIN block with its offset or PVV).
    generate_pin_data(GeneratePinDataRequest) -> GeneratePinDataResponse via GeneratePinData;
    /// Verifies a PIN against its offset or PVV.
    verify_pin_data(VerifyPinDataRequest) -> VerifyResponse via VerifyPinData;
    /// Generates a key.
    generate_key(GenerateKeyRequest) -> KeyInfo via GenerateKey;
    /// Imports a key.
    import_key(ImportKeyRequest) -> KeyInfo via ImportKey;
    /// Exports a key (TR-31 under a KEK, TR-34, or TR-31 under an ECDH-agreed key).
    export_key(ExportKeyRequest) -> ExportKeyResponse via ExportKey;
    /// Key attributes and KCV.
    get_key_info(GetKeyInfoRequest) -> KeyInfo via GetKeyInfo;
    /// Deletes a key.
    delete_key(DeleteKeyRequest) -> DeleteKeyResponse via DeleteKey;
    /// The certificate of an asymmetric key, with its chain.
    get_public_key_certificate(GetPublicKeyCertificateRequest) -> PublicKeyCertificate via GetPublicKeyCertificate;
}

impl<B: Backend + ?Sized> BackendExt for B {}

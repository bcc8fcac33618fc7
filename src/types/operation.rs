//! [`Operation`]: the name of each operation. The list of operations lives
//! here, once; [`crate::ops`] builds its `Request` / `Response` enums from it.

/// Calls `$callback!` with the list of operations: variant, request type,
/// response type, snake_case name, idempotence, doc line.
macro_rules! with_operations {
    ($callback:ident) => {
        $callback! {
    TranslatePin(TranslatePinRequest) -> TranslatePinResponse, "translate_pin", idempotent = true,
        "Translate an encrypted PIN block from one key (or DUKPT) and format to another.";
    EncryptData(EncryptDataRequest) -> EncryptDataResponse, "encrypt_data", idempotent = true,
        "Encrypt data under a data key or a DUKPT data key.";
    DecryptData(DecryptDataRequest) -> DecryptDataResponse, "decrypt_data", idempotent = true,
        "Decrypt data (P2PE decrypt with DUKPT).";
    ReEncryptData(ReEncryptDataRequest) -> ReEncryptDataResponse, "re_encrypt_data",
        idempotent = true,
        "Re-encrypt data from one data key or DUKPT data key to another (P2PE re-encryption).";
    GenerateCardValidation(GenerateCardValidationRequest) -> GenerateCardValidationResponse,
        "generate_card_validation", idempotent = true,
        "Generate a card validation value (CVV, CVV2, iCVV, Amex CSC, dynamic CVV or CVC3, …).";
    VerifyCardValidation(VerifyCardValidationRequest) -> VerifyResponse,
        "verify_card_validation", idempotent = true,
        "Verify a card validation value (CVV, CVV2, iCVV, Amex CSC, dynamic CVV or CVC3, …).";
    VerifyArqc(VerifyArqcRequest) -> VerifyArqcResponse, "verify_arqc", idempotent = true,
        "Verify an EMV ARQC and optionally generate the ARPC.";
    GenerateArqc(GenerateArqcRequest) -> GenerateArqcResponse, "generate_arqc", idempotent = true,
        "Generate an EMV ARQC as the card does (test tooling).";
    GenerateMac(GenerateMacRequest) -> GenerateMacResponse, "generate_mac", idempotent = true,
        "Generate a MAC.";
    VerifyMac(VerifyMacRequest) -> VerifyResponse, "verify_mac", idempotent = true,
        "Verify a MAC.";
    GeneratePinData(GeneratePinDataRequest) -> GeneratePinDataResponse, "generate_pin_data",
        idempotent = true,
        "Generate issuer PIN data: a PIN (random, natural or from an offset) with its IBM 3624 offset or Visa PVV, or the offset / PVV of a given PIN.";
    VerifyPinData(VerifyPinDataRequest) -> VerifyResponse, "verify_pin_data", idempotent = true,
        "Verify a PIN against its IBM 3624 offset or Visa PVV.";
    GenerateKey(GenerateKeyRequest) -> KeyInfo, "generate_key", idempotent = false,
        "Generate a new random key with the given attributes.";
    ImportKey(ImportKeyRequest) -> KeyInfo, "import_key", idempotent = false,
        "Import a key (TR-31 block under a KEK, clear components, TR-34, ECDH, or a public key certificate).";
    ExportKey(ExportKeyRequest) -> ExportKeyResponse, "export_key", idempotent = true,
        "Export a key: a TR-31 block under a KEK, a TR-34 block, or a TR-31 block under an ECDH-agreed key.";
    GetKeyInfo(GetKeyInfoRequest) -> KeyInfo, "get_key_info", idempotent = true,
        "Attributes and key check value of a key.";
    DeleteKey(DeleteKeyRequest) -> DeleteKeyResponse, "delete_key", idempotent = false,
        "Delete a key.";
    GetPublicKeyCertificate(GetPublicKeyCertificateRequest) -> PublicKeyCertificate,
        "get_public_key_certificate", idempotent = true,
        "The certificate of an asymmetric key's public key, with the chain that issued it.";
        }
    };
}
pub(crate) use with_operations;

macro_rules! operation_enum {
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
    };
}

with_operations!(operation_enum);

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

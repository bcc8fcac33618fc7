//! Request and response types.

use crate::error::{Error, Result};
use crate::types::{
    CardExpiry, Cvv, CvvLength, EncryptedPinBlock, Kcv, KeyAlgorithm, KeyAttributes, KeyClass,
    KeyId, Ksn, Pan, PinBlockFormat, Psn, SecretBytes, ServiceCode, TrackData, Verification,
};

pub use crate::types::{Iso9797Padding, MkDerivation, ProprietaryAuthData, Tr31Version};

// ---------------------------------------------------------------- DUKPT

/// Which DUKPT working key protects data (AWS `DukptKeyVariant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DukptVariant {
    /// Device → host (X9.24-1 data request variant; X9.24-3 "data encrypt").
    Request,
    /// Host → device (X9.24-1 data response variant; X9.24-3 "data decrypt").
    Response,
    /// Both directions (X9.24-1 request variant; X9.24-3 "data both ways").
    Bidirectional,
}

/// A DUKPT key reference: the BDK's name, the transaction KSN and the
/// working-key type (TDES DUKPT: [`KeyAlgorithm::Tdes2`]; AES DUKPT: any
/// working-key type the BDK may derive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dukpt {
    /// Name of the base derivation key (usage B0).
    pub bdk: KeyId,
    /// Key serial number: 10 bytes for TDES DUKPT, 12 for AES DUKPT.
    pub ksn: Ksn,
    /// Working key type (AWS `DukptKeyDerivationType`).
    pub key_type: KeyAlgorithm,
}

// ---------------------------------------------------------------- PIN

/// Where an incoming PIN block's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinKey {
    /// A PIN encryption key (ZPK/TPK, usage P0) named on the backend.
    Key(KeyId),
    /// A DUKPT PIN key derived from a BDK and KSN.
    Dukpt(Dukpt),
}

/// Translate a PIN block from one key and format to another (PCI PIN rules apply).
#[derive(Debug, Clone)]
pub struct TranslatePinRequest {
    /// Key protecting the incoming block.
    pub incoming_key: PinKey,
    /// Format of the incoming block.
    pub incoming_format: PinBlockFormat,
    /// Key (usage P0) to protect the outgoing block.
    pub outgoing_key: KeyId,
    /// Format of the outgoing block.
    pub outgoing_format: PinBlockFormat,
    /// The card's PAN (formats 0, 3 and 4 bind the PIN to it).
    pub pan: Pan,
    /// The encrypted incoming PIN block.
    pub pin_block: EncryptedPinBlock,
}

/// The translated PIN block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatePinResponse {
    /// The PIN block under the outgoing key.
    pub pin_block: EncryptedPinBlock,
    /// Its format.
    pub format: PinBlockFormat,
    /// KCV of the outgoing key.
    pub key_check_value: Kcv,
}

// ---------------------------------------------------------------- data

/// The key for data encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKey {
    /// A data encryption key (usage D0).
    Key(KeyId),
    /// A DUKPT data key (P2PE).
    Dukpt {
        /// BDK, KSN and working key type.
        dukpt: Dukpt,
        /// Which data key.
        variant: DukptVariant,
    },
}

/// Block cipher mode (no padding: data must be a multiple of the block size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherMode {
    /// ECB.
    Ecb,
    /// CBC with an initialization vector of one block.
    Cbc {
        /// The IV (8 bytes for TDES, 16 for AES).
        iv: Vec<u8>,
    },
}

/// Encrypt data.
#[derive(Debug, Clone)]
pub struct EncryptDataRequest {
    /// The key.
    pub key: DataKey,
    /// The mode.
    pub mode: CipherMode,
    /// The plaintext (a whole number of blocks).
    pub plaintext: SecretBytes,
}

/// Encrypted data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptDataResponse {
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
    /// KCV of the key used (of the BDK for DUKPT).
    pub key_check_value: Kcv,
}

/// Decrypt data.
#[derive(Debug, Clone)]
pub struct DecryptDataRequest {
    /// The key.
    pub key: DataKey,
    /// The mode.
    pub mode: CipherMode,
    /// The ciphertext (a whole number of blocks).
    pub ciphertext: Vec<u8>,
}

/// Decrypted data (secret: often card data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptDataResponse {
    /// The plaintext.
    pub plaintext: SecretBytes,
    /// KCV of the key used (of the BDK for DUKPT).
    pub key_check_value: Kcv,
}

/// Re-encrypt data from one data key (or DUKPT data key) to another without
/// the plaintext leaving the backend: the P2PE flow that takes card data
/// from a terminal's DUKPT key to a zone or storage key (AWS
/// `ReEncryptData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncryptDataRequest {
    /// The key the ciphertext is under (decrypt).
    pub incoming_key: DataKey,
    /// Its mode.
    pub incoming_mode: CipherMode,
    /// The key to encrypt under (encrypt).
    pub outgoing_key: DataKey,
    /// Its mode.
    pub outgoing_mode: CipherMode,
    /// The ciphertext (a whole number of the incoming cipher's blocks).
    pub ciphertext: Vec<u8>,
}

/// Re-encrypted data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReEncryptDataResponse {
    /// The ciphertext under the outgoing key.
    pub ciphertext: Vec<u8>,
    /// KCV of the outgoing key (of its BDK for DUKPT).
    pub key_check_value: Kcv,
}

// ---------------------------------------------------------------- card validation

/// Which card validation value, with the data it is computed over besides
/// the PAN and expiry. The variants are AWS Payment Cryptography's
/// `CardGenerationAttributes` / `CardVerificationAttributes` union members
/// (botocore model `payment-cryptography-data` 2022-02-03), each with the
/// attributes the model gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardValidationKind {
    /// CVV / CVC on the magnetic stripe, with the card's service code
    /// (AWS `CardVerificationValue1`; a Visa CAVV is this kind with the
    /// CAVV's fields in the expiry and service-code positions).
    Cvv(ServiceCode),
    /// CVV2 / CVC2 printed on the card (service code 000; AWS `CardVerificationValue2`).
    Cvv2,
    /// iCVV in the chip's track 2 equivalent data (service code 999; AWS
    /// `CardVerificationValue1` with service code 999).
    Icvv,
    /// American Express CSC version 1 (AWS `AmexCardSecurityCodeVersion1`:
    /// expiry only).
    AmexCscV1,
    /// American Express CSC version 2 (AWS `AmexCardSecurityCodeVersion2`:
    /// expiry and service code).
    AmexCscV2(ServiceCode),
    /// AWS `CardHolderVerificationValue`: unpredictable number, PAN sequence
    /// number and ATC under an EMV master key (AWS key usage E6). The
    /// expiry is not part of it.
    CardholderVerificationValue {
        /// Unpredictable number (4 bytes; AWS takes 1 to 4, left-padded here).
        unpredictable_number: [u8; 4],
        /// PAN sequence number.
        psn: Psn,
        /// Application transaction counter.
        atc: [u8; 2],
    },
    /// Mastercard dynamic CVC3 (AWS `DynamicCardVerificationCode`: master key
    /// usage E4): the ICC key derived from the IMK with PAN and PSN, IVCVC3
    /// from the track data, then the unpredictable number and ATC. The
    /// expiry is not part of it (it is inside the track data).
    DynamicCvc3 {
        /// Unpredictable number (4 bytes).
        unpredictable_number: [u8; 4],
        /// PAN sequence number.
        psn: Psn,
        /// Application transaction counter.
        atc: [u8; 2],
        /// The track data the card MACs for IVCVC3 (a secret: it holds the PAN).
        track_data: TrackData,
    },
    /// Visa dynamic CVV (AWS `DynamicCardVerificationValue`: master key
    /// usage E6): the Visa CVV algorithm under the ICC key derived from the
    /// IMK with PAN and PSN, over the PAN with its first four digits
    /// replaced by the ATC (four hex digits), the expiry and the service code.
    DynamicCvv {
        /// PAN sequence number.
        psn: Psn,
        /// The card's service code.
        service_code: ServiceCode,
        /// Application transaction counter.
        atc: [u8; 2],
    },
    /// Discover dynamic CVC (AWS `DiscoverDynamicCardVerificationCode`:
    /// expiry, unpredictable number, ATC). Verification only: AWS has no
    /// generation attributes for it.
    DiscoverDynamicCvc {
        /// Unpredictable number (4 bytes).
        unpredictable_number: [u8; 4],
        /// Application transaction counter.
        atc: [u8; 2],
    },
}

/// A card validation kind without its parameters (for capabilities and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CardValidationType {
    /// [`CardValidationKind::Cvv`].
    Cvv,
    /// [`CardValidationKind::Cvv2`].
    Cvv2,
    /// [`CardValidationKind::Icvv`].
    Icvv,
    /// [`CardValidationKind::AmexCscV1`].
    AmexCscV1,
    /// [`CardValidationKind::AmexCscV2`].
    AmexCscV2,
    /// [`CardValidationKind::CardholderVerificationValue`].
    CardholderVerificationValue,
    /// [`CardValidationKind::DynamicCvc3`].
    DynamicCvc3,
    /// [`CardValidationKind::DynamicCvv`].
    DynamicCvv,
    /// [`CardValidationKind::DiscoverDynamicCvc`].
    DiscoverDynamicCvc,
}

impl CardValidationType {
    /// Every type.
    pub const ALL: [Self; 9] = [
        Self::Cvv,
        Self::Cvv2,
        Self::Icvv,
        Self::AmexCscV1,
        Self::AmexCscV2,
        Self::CardholderVerificationValue,
        Self::DynamicCvc3,
        Self::DynamicCvv,
        Self::DiscoverDynamicCvc,
    ];

    /// The AWS union member name (`CardVerificationValue1`, …).
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Cvv | Self::Icvv => "CardVerificationValue1",
            Self::Cvv2 => "CardVerificationValue2",
            Self::AmexCscV1 => "AmexCardSecurityCodeVersion1",
            Self::AmexCscV2 => "AmexCardSecurityCodeVersion2",
            Self::CardholderVerificationValue => "CardHolderVerificationValue",
            Self::DynamicCvc3 => "DynamicCardVerificationCode",
            Self::DynamicCvv => "DynamicCardVerificationValue",
            Self::DiscoverDynamicCvc => "DiscoverDynamicCardVerificationCode",
        }
    }
}

impl CardValidationKind {
    /// The kind without its parameters.
    pub fn kind_type(&self) -> CardValidationType {
        match self {
            Self::Cvv(_) => CardValidationType::Cvv,
            Self::Cvv2 => CardValidationType::Cvv2,
            Self::Icvv => CardValidationType::Icvv,
            Self::AmexCscV1 => CardValidationType::AmexCscV1,
            Self::AmexCscV2(_) => CardValidationType::AmexCscV2,
            Self::CardholderVerificationValue { .. } => {
                CardValidationType::CardholderVerificationValue
            }
            Self::DynamicCvc3 { .. } => CardValidationType::DynamicCvc3,
            Self::DynamicCvv { .. } => CardValidationType::DynamicCvv,
            Self::DiscoverDynamicCvc { .. } => CardValidationType::DiscoverDynamicCvc,
        }
    }

    /// The service code the Visa CVV algorithm uses for the CVV kinds
    /// (`Cvv`: the card's, `Cvv2`: 000, `Icvv`: 999), or the card service
    /// code a kind carries (`AmexCscV2`, `DynamicCvv`); `None` for the kinds
    /// whose data has no service code.
    pub fn cvv_service_code(&self) -> Option<ServiceCode> {
        match self {
            Self::Cvv(sc) | Self::AmexCscV2(sc) => Some(*sc),
            Self::DynamicCvv { service_code, .. } => Some(*service_code),
            Self::Cvv2 => Some(ServiceCode::CVV2),
            Self::Icvv => Some(ServiceCode::ICVV),
            Self::AmexCscV1
            | Self::CardholderVerificationValue { .. }
            | Self::DynamicCvc3 { .. }
            | Self::DiscoverDynamicCvc { .. } => None,
        }
    }

    /// [`Self::cvv_service_code`], with `000` for the kinds whose data has
    /// no service code (Amex CSC v1, the cardholder verification value,
    /// dynamic CVC3, Discover dCVC). Kept for the CVV kinds, where it is
    /// always the service code of the CVV data block.
    pub fn service_code(&self) -> ServiceCode {
        self.cvv_service_code().unwrap_or(ServiceCode::CVV2)
    }

    /// Whether the card's expiry is part of this kind's data (every kind but
    /// the cardholder verification value and dynamic CVC3, whose expiry is
    /// inside the track data).
    pub fn uses_expiry(&self) -> bool {
        !matches!(
            self,
            Self::CardholderVerificationValue { .. } | Self::DynamicCvc3 { .. }
        )
    }
}

/// Generate a card validation value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateCardValidationRequest {
    /// Card verification key (usage C0), or the EMV master key the dynamic
    /// kinds derive from (E4 for dynamic CVC3, E6 for dynamic CVV).
    pub key: KeyId,
    /// The PAN.
    pub pan: Pan,
    /// Expiry, four digits as the issuer uses them (not used by the kinds
    /// whose [`CardValidationKind::uses_expiry`] is false).
    pub expiry: CardExpiry,
    /// Which value.
    pub kind: CardValidationKind,
    /// How many digits (AWS `ValidationDataLength`, default 3).
    pub length: CvvLength,
}

/// A generated card validation value (3 to 5 digits, as asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateCardValidationResponse {
    /// The value (a secret: `Debug` prints `Cvv(***)`).
    pub value: Cvv,
    /// KCV of the key.
    pub key_check_value: Kcv,
}

/// Verify a card validation value (its length selects how many digits are compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyCardValidationRequest {
    /// The key, as for [`GenerateCardValidationRequest::key`].
    pub key: KeyId,
    /// The PAN.
    pub pan: Pan,
    /// Expiry, four digits as the issuer uses them (not used by the kinds
    /// whose [`CardValidationKind::uses_expiry`] is false).
    pub expiry: CardExpiry,
    /// Which value.
    pub kind: CardValidationKind,
    /// The value presented (3 to 5 digits; a secret).
    pub value: Cvv,
}

// ---------------------------------------------------------------- EMV

/// How the session key is derived from the ICC master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKeyDerivation {
    /// EMV common session key (EMV Book 2 A1.3) with the ATC.
    EmvCommon {
        /// Application transaction counter.
        atc: [u8; 2],
    },
    /// Mastercard session key with ATC and unpredictable number.
    Mastercard {
        /// Application transaction counter.
        atc: [u8; 2],
        /// Unpredictable number.
        unpredictable_number: [u8; 4],
    },
    /// Visa CVN 10 style: no session key (the ICC master key is used).
    Visa,
}

impl SessionKeyDerivation {
    /// The reference algorithm's form of this derivation (the one mapping
    /// from the request vocabulary to [`crate::algo::emv`]).
    pub fn to_algo(&self) -> crate::algo::emv::SessionKeyDerivation<'_> {
        use crate::algo::emv::SessionKeyDerivation as A;
        match self {
            Self::EmvCommon { atc } => A::EmvCommonAtc { atc },
            Self::Mastercard {
                atc,
                unpredictable_number,
            } => A::Mastercard {
                atc,
                un: unpredictable_number,
            },
            Self::Visa => A::None,
        }
    }
}

/// Which ARPC to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArpcMethod {
    /// EMV method 1: encrypt (ARQC XOR ARC) under the ARPC key.
    Method1 {
        /// Authorisation response code (2 bytes).
        arc: [u8; 2],
    },
    /// EMV method 2: MAC over ARQC || CSU || proprietary data, 4 bytes.
    Method2 {
        /// Card status update (4 bytes).
        csu: [u8; 4],
        /// Proprietary authentication data (0 to 8 bytes).
        proprietary_data: ProprietaryAuthData,
    },
}

/// Verify an ARQC (and produce an ARPC when asked).
#[derive(Debug, Clone)]
pub struct VerifyArqcRequest {
    /// Issuer master key for application cryptograms (usage E0).
    pub key: KeyId,
    /// ICC master key derivation.
    pub mk_derivation: MkDerivation,
    /// Session key derivation.
    pub session: SessionKeyDerivation,
    /// The card's PAN.
    pub pan: Pan,
    /// PAN sequence number.
    pub psn: Psn,
    /// Transaction data (CDOL1 data and card fields) as the card MACed it.
    pub transaction_data: Vec<u8>,
    /// Padding rule for `transaction_data` (`None`: MAC exactly as given,
    /// which must be a multiple of 8 bytes; AWS Payment Cryptography's rule).
    pub padding: Iso9797Padding,
    /// The ARQC presented.
    pub arqc: [u8; 8],
    /// ARPC to generate, if any.
    pub arpc: Option<ArpcMethod>,
}

/// ARQC verification result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyArqcResponse {
    /// Whether the ARQC verified.
    pub verification: Verification,
    /// The ARPC (8 bytes method 1, 4 bytes method 2) when asked and verified.
    pub arpc: Option<Vec<u8>>,
}

/// Generate an ARQC as the card does (test tooling: build transactions that
/// [`VerifyArqcRequest`] accepts), for every session-key derivation ARQC
/// verification supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateArqcRequest {
    /// Issuer master key for application cryptograms (usage E0).
    pub key: KeyId,
    /// ICC master key derivation.
    pub mk_derivation: MkDerivation,
    /// Session key derivation.
    pub session: SessionKeyDerivation,
    /// The card's PAN.
    pub pan: Pan,
    /// PAN sequence number.
    pub psn: Psn,
    /// Transaction data (CDOL1 data and card fields) the card MACs.
    pub transaction_data: Vec<u8>,
    /// Padding rule for `transaction_data`, as in [`VerifyArqcRequest::padding`].
    pub padding: Iso9797Padding,
}

/// A generated ARQC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateArqcResponse {
    /// The authorisation request cryptogram (8 bytes).
    pub arqc: [u8; 8],
}

// ---------------------------------------------------------------- MAC

/// MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// ISO 9797-1 MAC algorithm 1 (CBC-MAC) with the given padding.
    Iso9797Alg1(Iso9797Padding),
    /// ISO 9797-1 MAC algorithm 3 (retail MAC), double-length TDES key.
    Iso9797Alg3(Iso9797Padding),
    /// CMAC (ISO 9797-1 algorithm 5), TDES or AES.
    Cmac,
    /// HMAC-SHA-256 (key algorithm HMAC_SHA256).
    HmacSha256,
    /// HMAC-SHA-224 (key algorithm HMAC_SHA224).
    HmacSha224,
    /// HMAC-SHA-384 (key algorithm HMAC_SHA384).
    HmacSha384,
    /// HMAC-SHA-512 (key algorithm HMAC_SHA512).
    HmacSha512,
}

impl MacAlgorithm {
    /// The HMAC key algorithm this MAC algorithm needs (`None` for the
    /// block-cipher MACs).
    pub fn hmac_key_algorithm(self) -> Option<KeyAlgorithm> {
        match self {
            Self::HmacSha224 => Some(KeyAlgorithm::HmacSha224),
            Self::HmacSha256 => Some(KeyAlgorithm::HmacSha256),
            Self::HmacSha384 => Some(KeyAlgorithm::HmacSha384),
            Self::HmacSha512 => Some(KeyAlgorithm::HmacSha512),
            Self::Iso9797Alg1(_) | Self::Iso9797Alg3(_) | Self::Cmac => None,
        }
    }

    /// True for the HMAC algorithms.
    pub fn is_hmac(self) -> bool {
        self.hmac_key_algorithm().is_some()
    }
}

/// Generate a MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateMacRequest {
    /// MAC key (usage M0/M1/M3/M6/M7 matching the algorithm).
    pub key: KeyId,
    /// Algorithm.
    pub algorithm: MacAlgorithm,
    /// Message.
    pub data: Vec<u8>,
    /// Output length in bytes (4 to the full length); full when `None`.
    pub mac_length: Option<usize>,
}

/// A generated MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateMacResponse {
    /// The MAC.
    pub mac: Vec<u8>,
    /// KCV of the key.
    pub key_check_value: Kcv,
}

/// Verify a MAC (its length selects the truncation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyMacRequest {
    /// MAC key.
    pub key: KeyId,
    /// Algorithm.
    pub algorithm: MacAlgorithm,
    /// Message.
    pub data: Vec<u8>,
    /// The MAC presented (4 bytes to the full length).
    pub mac: Vec<u8>,
}

// ---------------------------------------------------------------- keys

/// Generate a random key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateKeyRequest {
    /// Name for the new key.
    pub key_id: KeyId,
    /// Its attributes.
    pub attributes: KeyAttributes,
}

/// An X.509 certificate, as DER. AWS Payment Cryptography exchanges
/// certificates as base64 of PEM (`CertificateType`); the AWS backend
/// converts (`paycrypto::aws::certificate_from_api` /
/// `certificate_to_api`). Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate(Vec<u8>);

impl Certificate {
    /// A certificate from its DER encoding: one DER SEQUENCE, nothing after
    /// it (the backend checks the rest).
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Self> {
        let der = der.into();
        let bad = || Error::invalid("certificate", "not a DER SEQUENCE");
        let (&tag, rest) = der.split_first().ok_or_else(bad)?;
        let (&first, rest) = rest.split_first().ok_or_else(bad)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad());
            }
            rest.iter()
                .take(n)
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
                + n
        };
        if tag != 0x30 || rest.len() != len {
            return Err(bad());
        }
        Ok(Self(der))
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate({} bytes)", self.0.len())
    }
}

/// The key receiving device's (KRD) RSA key a TR-34 block is encrypted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tr34Krd {
    /// An import token from AWS `GetParametersForImport` with
    /// `KeyMaterialType` `TR34_KEY_BLOCK` (the service's wrapping key;
    /// reach it through `AwsBackend::control_client()`).
    ImportToken(String),
    /// An RSA key pair on the backend (AWS `WrappingKeyIdentifier`) and the
    /// certificate of it the block was encrypted to (`WrappingKeyCertificate`).
    KeyPair {
        /// The key pair.
        key: KeyId,
        /// Its certificate.
        certificate: Certificate,
    },
}

/// A TR-34 key block to import (ANSI X9 TR-34, AWS `ImportTr34KeyBlock`,
/// `KeyBlockFormat` `X9_TR34_2012`): the key's attributes come from the
/// block's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr34Import {
    /// The public key on the backend (an imported root or trusted
    /// certificate) that signed the KDH's certificate.
    pub certificate_authority: KeyId,
    /// The key distribution host's (KDH) signing certificate.
    pub kdh_certificate: Certificate,
    /// The KRD key the block is encrypted to.
    pub krd: Tr34Krd,
    /// The key block (DER `ContentInfo` of `SignedData`, at most 2048 bytes).
    pub key_block: Vec<u8>,
    /// The KRD's random nonce (8 to 16 bytes) for a two-pass block; `None`
    /// for a one-pass block.
    pub random_nonce: Option<Vec<u8>>,
}

/// The key distribution host's (KDH) RSA signing key for a TR-34 export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tr34Kdh {
    /// An export token from AWS `GetParametersForExport` with
    /// `KeyMaterialType` `TR34_KEY_BLOCK` (the service's signing key).
    ExportToken(String),
    /// An RSA key pair on the backend that may sign (AWS
    /// `SigningKeyIdentifier`) and its certificate (`SigningKeyCertificate`).
    KeyPair {
        /// The key pair.
        key: KeyId,
        /// Its certificate.
        certificate: Certificate,
    },
}

/// Export as a TR-34 key block (AWS `ExportTr34KeyBlock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr34Export {
    /// The public key on the backend that signed the KRD's certificate.
    pub certificate_authority: KeyId,
    /// The KRD's certificate (RSA, 2048 bits or more): the block is
    /// encrypted to it.
    pub krd_certificate: Certificate,
    /// The signing key.
    pub kdh: Tr34Kdh,
    /// The KRD's random nonce (8 to 16 bytes) for a two-pass block; `None`
    /// for a one-pass block (signed with the signing time).
    pub random_nonce: Option<Vec<u8>>,
}

/// The key derivation function after ECDH (AWS `KeyDerivationFunction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyDerivationFunction {
    /// NIST SP 800-56C one-step KDF (`NIST_SP800`).
    NistSp800,
    /// ANSI X9.63 KDF (`ANSI_X963`).
    AnsiX963,
}

impl KeyDerivationFunction {
    /// The AWS enum value.
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::NistSp800 => "NIST_SP800",
            Self::AnsiX963 => "ANSI_X963",
        }
    }
}

pub use crate::algo::kdf::KdfHash;

/// ECDH key agreement parameters (AWS `ImportDiffieHellmanTr31KeyBlock` /
/// `ExportDiffieHellmanTr31KeyBlock`): the backend's ECC key pair and the
/// partner's certificate agree a shared secret, the KDF derives a key of
/// `derive_key_algorithm` from it and `shared_information`, and that key
/// protects an ordinary TR-31 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdhParameters {
    /// The backend's ECC key pair (usage K3, mode DeriveKey).
    pub private_key: KeyId,
    /// The public key on the backend that signed the partner's certificate.
    pub certificate_authority: KeyId,
    /// The partner's certificate (an ECC key on the same curve).
    pub public_key_certificate: Certificate,
    /// The algorithm of the derived key (TDES or AES: it is a TR-31 key
    /// block protection key).
    pub derive_key_algorithm: KeyAlgorithm,
    /// The KDF.
    pub kdf: KeyDerivationFunction,
    /// The KDF's hash.
    pub hash: KdfHash,
    /// Shared information for the KDF (1 to 1024 bytes; AWS
    /// `DerivationData.SharedInformation`).
    pub shared_information: Vec<u8>,
}

/// How key material arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// A TR-31 key block under a key-encryption key already on the backend.
    Tr31 {
        /// The KEK (usage K0 or K1, may unwrap).
        kek: KeyId,
        /// The key block.
        key_block: String,
    },
    /// Clear components XORed together (a key ceremony), each with its KCV.
    Components {
        /// Attributes of the resulting key.
        attributes: KeyAttributes,
        /// Two or three components of the key's length.
        components: Vec<SecretBytes>,
        /// The KCV of each component, checked before combining.
        component_kcvs: Vec<Kcv>,
    },
    /// A self-signed root certificate's public key (AWS
    /// `RootCertificatePublicKey`): a certificate authority for TR-34 and
    /// ECDH partners' certificates. Key class `PUBLIC_KEY`.
    RootCertificate {
        /// Usage (S0 for a CA), algorithm (RSA or ECC, the certificate's
        /// key's) and modes (Verify).
        attributes: KeyAttributes,
        /// The certificate (its own signature is checked).
        certificate: Certificate,
    },
    /// A certificate's public key, signed by a root already on the backend
    /// (AWS `TrustedCertificatePublicKey`). Key class `PUBLIC_KEY`.
    TrustedCertificate {
        /// The root that signed it.
        certificate_authority: KeyId,
        /// Usage, algorithm and modes, as for a root.
        attributes: KeyAttributes,
        /// The certificate.
        certificate: Certificate,
    },
    /// A TR-34 key block signed by a KDH and encrypted to the backend.
    Tr34(Tr34Import),
    /// A TR-31 key block under a key agreed by ECDH.
    Ecdh {
        /// The agreement.
        params: EcdhParameters,
        /// The TR-31 key block.
        key_block: String,
    },
}

/// Import a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportKeyRequest {
    /// Name for the imported key.
    pub key_id: KeyId,
    /// The material.
    pub material: KeyMaterial,
    /// Expected KCV of the resulting key, checked when given.
    pub expected_kcv: Option<Kcv>,
}

/// How a key leaves the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportMethod {
    /// A TR-31 key block under a KEK.
    Tr31 {
        /// The wrapping key (usage K0/K1, may wrap).
        kek: KeyId,
        /// TR-31 version (B for TDES KEKs, D for AES KEKs).
        version: Tr31Version,
    },
    /// A TR-34 key block to a KRD.
    Tr34(Tr34Export),
    /// A TR-31 key block under a key agreed by ECDH (version D under an
    /// AES key, B under a TDES key).
    Ecdh(EcdhParameters),
}

/// Export a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportKeyRequest {
    /// The key to export (must be exportable).
    pub key: KeyId,
    /// How.
    pub method: ExportMethod,
}

impl ExportKeyRequest {
    /// Export `key` as a TR-31 block of `version` under `kek`.
    pub fn tr31(key: KeyId, kek: KeyId, version: Tr31Version) -> Self {
        Self {
            key,
            method: ExportMethod::Tr31 { kek, version },
        }
    }
}

/// An exported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportKeyResponse {
    /// The key block: a TR-31 block (text), or a TR-34 block as upper-case
    /// hex of its DER (as AWS returns it).
    pub key_block: String,
    /// KCV of the exported key.
    pub key_check_value: Kcv,
}

/// Look up a key's attributes and KCV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetKeyInfoRequest {
    /// The key.
    pub key: KeyId,
}

/// Look up the certificate of an asymmetric key (a key pair's, issued by
/// the backend; a public key's, as imported): AWS `GetPublicKeyCertificate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPublicKeyCertificateRequest {
    /// The key.
    pub key: KeyId,
}

/// A key's certificate and the chain of certificates that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyCertificate {
    /// The key.
    pub key: KeyId,
    /// Its certificate.
    pub certificate: Certificate,
    /// The issuers' certificates, the issuer of `certificate` first (AWS
    /// `KeyCertificateChain`).
    pub chain: Vec<Certificate>,
}

/// Delete a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteKeyRequest {
    /// The key.
    pub key: KeyId,
}

/// A deleted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteKeyResponse {
    /// The key that was deleted.
    pub key: KeyId,
}

/// What a backend knows about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name.
    pub key_id: KeyId,
    /// Its attributes.
    pub attributes: KeyAttributes,
    /// Its check value (ANSI X9.24 for TDES, CMAC for AES, per AWS; for
    /// asymmetric keys the first 3 bytes of the backend's `SHA_1` check value).
    pub key_check_value: Kcv,
    /// Symmetric key, asymmetric key pair or public key.
    pub key_class: KeyClass,
}

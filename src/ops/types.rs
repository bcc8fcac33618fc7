//! Request and response types.

use crate::types::{
    CardExpiry, Cvv, EncryptedPinBlock, Kcv, KeyAlgorithm, KeyAttributes, KeyId, Ksn, Pan,
    PinBlockFormat, Psn, SecretBytes, ServiceCode, Verification,
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

/// Which card validation value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardValidationKind {
    /// CVV / CVC on the magnetic stripe, with the card's service code.
    Cvv(ServiceCode),
    /// CVV2 / CVC2 printed on the card (service code 000).
    Cvv2,
    /// iCVV in the chip's track 2 equivalent data (service code 999).
    Icvv,
}

impl CardValidationKind {
    /// The service code the Visa CVV algorithm uses for this kind.
    pub fn service_code(self) -> ServiceCode {
        match self {
            Self::Cvv(sc) => sc,
            Self::Cvv2 => ServiceCode::CVV2,
            Self::Icvv => ServiceCode::ICVV,
        }
    }
}

/// Generate a card validation value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateCardValidationRequest {
    /// Card verification key (usage C0).
    pub key: KeyId,
    /// The PAN.
    pub pan: Pan,
    /// Expiry, four digits as the issuer uses them.
    pub expiry: CardExpiry,
    /// Which value.
    pub kind: CardValidationKind,
}

/// A generated card validation value (3 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateCardValidationResponse {
    /// The value (a secret: `Debug` prints `Cvv(***)`).
    pub value: Cvv,
    /// KCV of the key.
    pub key_check_value: Kcv,
}

/// Verify a card validation value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyCardValidationRequest {
    /// Card verification key (usage C0).
    pub key: KeyId,
    /// The PAN.
    pub pan: Pan,
    /// Expiry, four digits as the issuer uses them.
    pub expiry: CardExpiry,
    /// Which value.
    pub kind: CardValidationKind,
    /// The value presented (3 digits; a secret).
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
    /// HMAC-SHA-256.
    HmacSha256,
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

/// Export a key under a KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportKeyRequest {
    /// The key to export (must be exportable).
    pub key: KeyId,
    /// The wrapping key (usage K0/K1, may wrap).
    pub kek: KeyId,
    /// TR-31 version (B for TDES KEKs, D for AES KEKs).
    pub version: Tr31Version,
}

/// An exported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportKeyResponse {
    /// The TR-31 key block.
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
    /// Its check value (ANSI X9.24 for TDES, CMAC for AES, per AWS).
    pub key_check_value: Kcv,
}

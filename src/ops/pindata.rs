//! Issuer PIN data: generate a PIN (or the offset / PVV of a given one)
//! and verify a PIN against its offset or PVV, modelled on AWS Payment
//! Cryptography's `GeneratePinData` and `VerifyPinData` (botocore
//! `payment-cryptography-data/2022-02-03`: `PinGenerationAttributes`,
//! `PinVerificationAttributes`, `PinData`). A clear PIN never leaves a
//! backend: PINs come back enciphered under a PIN encryption key.

use super::types::PinKey;
use crate::algo::pinverify::Ibm3624Params;
use crate::types::{
    DecimalizationTable, EncryptedPinBlock, Kcv, KeyId, PadCharacter, Pan, PinBlockFormat,
    PinLength, PinOffset, PinValidationData, Pvki, Pvv,
};

/// The PIN verification scheme, which decides the PVK's key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinScheme {
    /// IBM 3624 (natural PIN and offset), PVK usage V1.
    Ibm3624,
    /// Visa PIN verification value, PVK usage V2.
    VisaPvv,
}

/// The IBM 3624 parameters besides the key (AWS `Ibm3624NaturalPin` and
/// siblings: `DecimalizationTable`, `PinValidationData`,
/// `PinValidationDataPadCharacter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ibm3624 {
    /// Maps the enciphered validation data to decimal digits.
    pub decimalization_table: DecimalizationTable,
    /// The cardholder's validation data (usually part of the PAN).
    pub validation_data: PinValidationData,
    /// Right-pads the validation data to 16 hexadecimal digits.
    pub pad: PadCharacter,
}

impl Ibm3624 {
    /// The reference algorithm's view of these parameters.
    pub fn params(&self) -> Ibm3624Params<'_> {
        Ibm3624Params {
            table: &self.decimalization_table,
            validation_data: &self.validation_data,
            pad: self.pad,
        }
    }

    /// Where, in the validation data padded to 16 characters, the five PAN
    /// digits before the check digit (the last five of the 12-digit account
    /// number field) start, at 0 to 11 (the first place); `None` when they
    /// do not occur there.
    ///
    /// A payShield takes IBM 3624 validation data as 12 characters with an
    /// `N` where the HSM inserts those five digits (host command manual, DE,
    /// EE, DA, EA: "PIN validation data 12 A: user-defined data consisting
    /// of hexadecimal characters and the character N, which indicates to
    /// the HSM where to insert the last 5 digits of the account number"), so
    /// it can express exactly the validation data this finds a place for.
    pub fn account_digits_at(&self, pan: &Pan) -> Option<usize> {
        let p = pan.expose().as_bytes();
        let end = p.len().checked_sub(1)?;
        let digits = p.get(end.checked_sub(5)?..end)?;
        let padded = self.validation_data.padded(self.pad);
        padded.windows(5).take(12).position(|w| w == digits)
    }
}

/// What to generate (AWS `PinGenerationAttributes`, one member each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinGeneration {
    /// A random PIN and its Visa PVV (AWS `VisaPin`).
    VisaPin {
        /// PIN verification key index.
        pvki: Pvki,
        /// Length of the PIN to generate.
        pin_length: PinLength,
    },
    /// The Visa PVV of a PIN given enciphered under the encryption key in
    /// the request's format (AWS `VisaPinVerificationValue`).
    VisaPvv {
        /// PIN verification key index.
        pvki: Pvki,
        /// The PIN block.
        pin_block: EncryptedPinBlock,
    },
    /// The IBM 3624 natural PIN; its offset is all zeros (AWS
    /// `Ibm3624NaturalPin`).
    Ibm3624NaturalPin {
        /// IBM 3624 parameters.
        ibm: Ibm3624,
        /// Length of the PIN.
        pin_length: PinLength,
    },
    /// A random PIN and its IBM 3624 offset (AWS `Ibm3624RandomPin`).
    Ibm3624RandomPin {
        /// IBM 3624 parameters.
        ibm: Ibm3624,
        /// Length of the PIN (and of its offset).
        pin_length: PinLength,
    },
    /// The IBM 3624 offset of a PIN given enciphered under the encryption
    /// key in the request's format; the offset has the PIN's length (AWS
    /// `Ibm3624PinOffset`).
    Ibm3624PinOffset {
        /// IBM 3624 parameters.
        ibm: Ibm3624,
        /// The PIN block.
        pin_block: EncryptedPinBlock,
    },
    /// The PIN an IBM 3624 offset gives, of the offset's length (AWS
    /// `Ibm3624PinFromOffset`).
    Ibm3624PinFromOffset {
        /// IBM 3624 parameters.
        ibm: Ibm3624,
        /// The offset.
        offset: PinOffset,
    },
}

impl PinGeneration {
    /// The scheme, which decides the generation key's usage.
    pub fn scheme(&self) -> PinScheme {
        match self {
            Self::VisaPin { .. } | Self::VisaPvv { .. } => PinScheme::VisaPvv,
            _ => PinScheme::Ibm3624,
        }
    }

    /// True when the backend draws the PIN at random (two runs differ).
    pub fn is_random(&self) -> bool {
        matches!(self, Self::VisaPin { .. } | Self::Ibm3624RandomPin { .. })
    }

    /// The IBM 3624 parameters, for the IBM methods.
    pub fn ibm(&self) -> Option<&Ibm3624> {
        match self {
            Self::Ibm3624NaturalPin { ibm, .. }
            | Self::Ibm3624RandomPin { ibm, .. }
            | Self::Ibm3624PinOffset { ibm, .. }
            | Self::Ibm3624PinFromOffset { ibm, .. } => Some(ibm),
            Self::VisaPin { .. } | Self::VisaPvv { .. } => None,
        }
    }

    /// The PIN block the request brings, if any (enciphered under the
    /// encryption key in the request's format).
    pub fn incoming_block(&self) -> Option<&EncryptedPinBlock> {
        match self {
            Self::VisaPvv { pin_block, .. } | Self::Ibm3624PinOffset { pin_block, .. } => {
                Some(pin_block)
            }
            _ => None,
        }
    }
}

/// Generate PIN data (AWS `GeneratePinData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratePinDataRequest {
    /// The PIN verification key (usage V1 for IBM 3624, V2 for Visa PVV;
    /// mode generate).
    pub generation_key: KeyId,
    /// The PIN encryption key (usage P0) the PIN block comes back under
    /// (mode encrypt; also decrypt when the request brings a PIN block).
    pub encryption_key: KeyId,
    /// ISO 9564-1 format of the PIN blocks (0, 1, 3 or 4; 4 needs an AES key).
    pub format: PinBlockFormat,
    /// The card's PAN.
    pub pan: Pan,
    /// What to generate.
    pub method: PinGeneration,
}

/// The PIN data generated with a PIN (AWS `PinData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinData {
    /// An IBM 3624 offset (`PinOffset`).
    Offset(PinOffset),
    /// A Visa PVV (`VerificationValue`).
    Pvv(Pvv),
}

/// Generated PIN data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratePinDataResponse {
    /// The PIN, enciphered under the encryption key.
    pub pin_block: EncryptedPinBlock,
    /// Its format.
    pub format: PinBlockFormat,
    /// The offset or PVV.
    pub pin_data: PinData,
    /// KCV of the PIN verification key.
    pub generation_key_check_value: Kcv,
    /// KCV of the PIN encryption key.
    pub encryption_key_check_value: Kcv,
}

/// How to verify a PIN (AWS `PinVerificationAttributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinVerification {
    /// IBM 3624 with an offset (all zeros for a natural PIN); the offset's
    /// length is the PIN check length (AWS `Ibm3624Pin`).
    Ibm3624 {
        /// IBM 3624 parameters.
        ibm: Ibm3624,
        /// The offset on file.
        offset: PinOffset,
    },
    /// Visa PVV (AWS `VisaPin`).
    VisaPvv {
        /// PIN verification key index.
        pvki: Pvki,
        /// The PVV on file.
        pvv: Pvv,
    },
}

impl PinVerification {
    /// The scheme, which decides the verification key's usage.
    pub fn scheme(&self) -> PinScheme {
        match self {
            Self::Ibm3624 { .. } => PinScheme::Ibm3624,
            Self::VisaPvv { .. } => PinScheme::VisaPvv,
        }
    }
}

/// Verify a PIN (AWS `VerifyPinData`). A wrong PIN is
/// [`Verification::Failed`](crate::Verification::Failed), not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPinDataRequest {
    /// The PIN verification key (usage V1 or V2; mode verify).
    pub verification_key: KeyId,
    /// The key the PIN block arrives under: a zone PIN key (P0) or DUKPT.
    pub pin_key: PinKey,
    /// ISO 9564-1 format of the PIN block (0, 1, 3 or 4).
    pub format: PinBlockFormat,
    /// The card's PAN.
    pub pan: Pan,
    /// The PIN block.
    pub pin_block: EncryptedPinBlock,
    /// How to verify.
    pub method: PinVerification,
    /// The expected PIN length (AWS `PinDataLength`): a PIN of another
    /// length does not verify. Any length when `None`.
    pub pin_length: Option<PinLength>,
}

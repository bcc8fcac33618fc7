//! HSM rules over key attributes, written once: which key usages and modes
//! of use each purpose needs, and the algorithm constraints that follow
//! from the purpose (a CVK for the Visa CVV algorithm is double-length
//! TDES, …). Every backend that holds key attributes (software, payShield;
//! the AWS service applies its own) calls [`check`], so the same request is
//! refused with the same [`ErrorKind`](crate::ErrorKind) and message
//! everywhere — what the shadow layer compares.

use crate::error::{Error, Result};
use crate::ops::{CardValidationType, Dukpt, MacAlgorithm, PinScheme};
use crate::types::{KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};

/// What a key is about to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Decrypt an incoming PIN block.
    PinDecrypt,
    /// Encrypt an outgoing PIN block.
    PinEncrypt,
    /// Derive DUKPT keys from a BDK.
    DukptDerive,
    /// Encrypt data.
    DataEncrypt,
    /// Decrypt data.
    DataDecrypt,
    /// Generate a CVV / CVV2 / iCVV.
    CvvGenerate,
    /// Verify a CVV / CVV2 / iCVV.
    CvvVerify,
    /// Verify an ARQC (derive the ICC master key from the issuer master key).
    ArqcVerify,
    /// Generate an ARQC as the card does (derive the ICC master key).
    ArqcGenerate,
    /// Generate or verify a Mastercard dynamic CVC3 (derive the ICC key
    /// from an E4 master key, as AWS Payment Cryptography requires).
    DynamicCvc3,
    /// Generate or verify a Visa dynamic CVV (derive the ICC key from an E6
    /// master key, as AWS Payment Cryptography requires).
    DynamicCvv,
    /// Generate a MAC with this algorithm.
    MacGenerate(MacAlgorithm),
    /// Verify a MAC with this algorithm.
    MacVerify(MacAlgorithm),
    /// Generate a PIN, offset or PVV with a PIN verification key.
    PinGenerate(PinScheme),
    /// Verify a PIN with a PIN verification key.
    PinVerify(PinScheme),
    /// Unwrap an imported key block.
    KeyUnwrap,
    /// Wrap a key for export.
    KeyWrap,
}

impl Purpose {
    /// CVV generation or verification.
    pub(crate) fn cvv(generate: bool) -> Self {
        if generate {
            Self::CvvGenerate
        } else {
            Self::CvvVerify
        }
    }

    /// The purpose of a key for a card validation kind the crate computes
    /// (`None` for the kinds without an algorithm here). Key usages follow
    /// AWS Payment Cryptography's "Valid keys for cryptographic operations"
    /// (GenerateCardData / VerifyCardData): C0 for CVV, CVV2 and iCVV, E4
    /// for the dynamic card verification code, E6 for the dynamic card
    /// verification value, both with the DeriveKey mode of use.
    pub(crate) fn card(kind: CardValidationType, generate: bool) -> Option<Self> {
        match kind {
            CardValidationType::Cvv | CardValidationType::Cvv2 | CardValidationType::Icvv => {
                Some(Self::cvv(generate))
            }
            CardValidationType::DynamicCvc3 => Some(Self::DynamicCvc3),
            CardValidationType::DynamicCvv => Some(Self::DynamicCvv),
            _ => None,
        }
    }

    /// MAC generation or verification with `alg`.
    pub(crate) fn mac(alg: MacAlgorithm, generate: bool) -> Self {
        if generate {
            Self::MacGenerate(alg)
        } else {
            Self::MacVerify(alg)
        }
    }

    /// PIN data generation or verification in `scheme`.
    pub(crate) fn pin_data(scheme: PinScheme, generate: bool) -> Self {
        if generate {
            Self::PinGenerate(scheme)
        } else {
            Self::PinVerify(scheme)
        }
    }

    /// Data encryption or decryption.
    pub(crate) fn data(encrypt: bool) -> Self {
        if encrypt {
            Self::DataEncrypt
        } else {
            Self::DataDecrypt
        }
    }
}

const KEK: &[KeyUsage] = &[KeyUsage::KeyEncryption, KeyUsage::KeyBlockProtection];

impl Purpose {
    /// The key usages that may serve this purpose.
    pub(crate) fn usages(self) -> &'static [KeyUsage] {
        match self {
            Self::PinDecrypt | Self::PinEncrypt => &[KeyUsage::PinEncryption],
            Self::DukptDerive => &[KeyUsage::Bdk],
            Self::DataEncrypt | Self::DataDecrypt => &[KeyUsage::DataEncryption],
            Self::CvvGenerate | Self::CvvVerify => &[KeyUsage::CardVerification],
            Self::ArqcVerify | Self::ArqcGenerate => &[KeyUsage::EmvAppCryptogram],
            Self::DynamicCvc3 => &[KeyUsage::EmvDynamicNumbers],
            Self::DynamicCvv => &[KeyUsage::EmvOther],
            Self::MacGenerate(a) | Self::MacVerify(a) => mac_usages(a),
            Self::PinGenerate(PinScheme::Ibm3624) | Self::PinVerify(PinScheme::Ibm3624) => {
                &[KeyUsage::PinVerificationIbm3624]
            }
            Self::PinGenerate(PinScheme::VisaPvv) | Self::PinVerify(PinScheme::VisaPvv) => {
                &[KeyUsage::PinVerificationVisaPvv]
            }
            Self::KeyUnwrap | Self::KeyWrap => KEK,
        }
    }

    /// Whether modes of use `m` allow this purpose.
    fn allowed_by(self, m: &ModesOfUse) -> bool {
        m.no_restrictions
            || match self {
                Self::PinDecrypt | Self::DataDecrypt => m.decrypt,
                Self::PinEncrypt | Self::DataEncrypt => m.encrypt,
                Self::DukptDerive
                | Self::ArqcVerify
                | Self::ArqcGenerate
                | Self::DynamicCvc3
                | Self::DynamicCvv => m.derive_key,
                Self::CvvGenerate | Self::MacGenerate(_) | Self::PinGenerate(_) => m.generate,
                Self::CvvVerify | Self::MacVerify(_) | Self::PinVerify(_) => m.verify,
                Self::KeyUnwrap => m.unwrap || m.decrypt,
                Self::KeyWrap => m.wrap || m.encrypt,
            }
    }

    /// What the purpose is called in messages.
    fn describe(self) -> &'static str {
        match self {
            Self::PinDecrypt => "PIN block decryption",
            Self::PinEncrypt => "PIN block encryption",
            Self::DukptDerive => "DUKPT key derivation",
            Self::DataEncrypt => "data encryption",
            Self::DataDecrypt => "data decryption",
            Self::CvvGenerate => "CVV generation",
            Self::CvvVerify => "CVV verification",
            Self::ArqcVerify => "ARQC verification",
            Self::ArqcGenerate => "ARQC generation",
            Self::DynamicCvc3 => "dynamic CVC3",
            Self::DynamicCvv => "dynamic CVV",
            Self::MacGenerate(_) => "MAC generation",
            Self::MacVerify(_) => "MAC verification",
            Self::PinGenerate(PinScheme::Ibm3624) => "IBM 3624 PIN generation",
            Self::PinGenerate(PinScheme::VisaPvv) => "Visa PVV generation",
            Self::PinVerify(PinScheme::Ibm3624) => "IBM 3624 PIN verification",
            Self::PinVerify(PinScheme::VisaPvv) => "Visa PVV verification",
            Self::KeyUnwrap => "key unwrapping",
            Self::KeyWrap => "key wrapping",
        }
    }
}

/// The key usages a MAC algorithm takes.
pub(crate) fn mac_usages(alg: MacAlgorithm) -> &'static [KeyUsage] {
    match alg {
        MacAlgorithm::Iso9797Alg1(_) => &[KeyUsage::MacIso9797Alg1, KeyUsage::MacIso16609],
        MacAlgorithm::Iso9797Alg3(_) => &[KeyUsage::MacIso9797Alg3],
        MacAlgorithm::Cmac => &[KeyUsage::MacCmac],
        MacAlgorithm::HmacSha256
        | MacAlgorithm::HmacSha224
        | MacAlgorithm::HmacSha384
        | MacAlgorithm::HmacSha512 => &[KeyUsage::MacHmac],
    }
}

/// Refuses key `id` with `attrs` for `purpose` as an HSM would:
/// [`ErrorKind::KeyUsage`](crate::ErrorKind::KeyUsage) when its usage, mode
/// of use or algorithm does not fit;
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) for an ARQC
/// master key that is not double-length TDES (AES EMV keys are not
/// implemented).
pub(crate) fn check(id: &KeyId, attrs: &KeyAttributes, purpose: Purpose) -> Result<()> {
    let usages = purpose.usages();
    let what = purpose.describe();
    if !usages.contains(&attrs.usage) {
        let allowed: Vec<&str> = usages.iter().map(|u| u.code()).collect();
        return Err(Error::key_usage(format!(
            "key {id} has usage {}; {what} needs {}",
            attrs.usage.code(),
            allowed.join(" or ")
        )));
    }
    if !purpose.allowed_by(&attrs.modes) {
        return Err(Error::key_usage(format!(
            "key {id}'s modes of use do not allow {what}"
        )));
    }
    let tdes2 = attrs.algorithm == KeyAlgorithm::Tdes2;
    match purpose {
        Purpose::CvvGenerate | Purpose::CvvVerify if !tdes2 => Err(Error::key_usage(
            "the Visa CVV algorithm needs a double-length TDES CVK",
        )),
        Purpose::MacGenerate(MacAlgorithm::Iso9797Alg3(_))
        | Purpose::MacVerify(MacAlgorithm::Iso9797Alg3(_))
            if !tdes2 =>
        {
            Err(Error::key_usage(
                "ISO 9797-1 algorithm 3 needs a double-length TDES key",
            ))
        }
        Purpose::MacGenerate(a) | Purpose::MacVerify(a)
            if a.hmac_key_algorithm().is_some_and(|k| k != attrs.algorithm) =>
        {
            Err(Error::key_usage(format!(
                "key {id} (usage {}) is {}; this HMAC needs a {} key",
                attrs.usage.code(),
                attrs.algorithm.aws_name(),
                a.hmac_key_algorithm()
                    .map(KeyAlgorithm::aws_name)
                    .unwrap_or_default()
            )))
        }
        Purpose::PinGenerate(_) | Purpose::PinVerify(_) if !attrs.algorithm.is_tdes() => {
            Err(Error::key_usage(
                "the IBM 3624 and Visa PVV algorithms need a TDES PIN verification key",
            ))
        }
        Purpose::ArqcVerify | Purpose::ArqcGenerate if !tdes2 => Err(Error::unsupported(format!(
            "{what} with a non-TDES-2KEY master key"
        ))),
        Purpose::DynamicCvc3 | Purpose::DynamicCvv if !tdes2 => Err(Error::key_usage(
            "dynamic card verification values need a double-length TDES master key",
        )),
        _ => Ok(()),
    }
}

/// Refuses BDK `bdk` with `attrs` for the DUKPT derivation `d`: the usage
/// and mode ([`check`] with [`Purpose::DukptDerive`]) and the BDK matching
/// the KSN (an AES KSN needs an AES BDK; a TDES KSN a double-length TDES
/// BDK).
pub(crate) fn check_bdk(attrs: &KeyAttributes, d: &Dukpt) -> Result<()> {
    check(&d.bdk, attrs, Purpose::DukptDerive)?;
    if d.ksn.is_aes() {
        if !attrs.algorithm.is_aes() {
            return Err(Error::invalid(
                "ksn",
                "a 12-byte AES DUKPT KSN needs an AES BDK",
            ));
        }
    } else if attrs.algorithm != KeyAlgorithm::Tdes2 {
        return Err(Error::invalid(
            "ksn",
            "a 10-byte TDES DUKPT KSN needs a double-length TDES BDK",
        ));
    }
    Ok(())
}

/// Refuses to export key `id` with `attrs` unless its exportability allows it.
pub(crate) fn check_exportable(id: &KeyId, attrs: &KeyAttributes) -> Result<()> {
    if attrs.exportability.allows_export() {
        Ok(())
    } else {
        Err(Error::key_usage(format!("key {id} is not exportable")))
    }
}

/// What an asymmetric key is about to be used for in key exchange. Where
/// AWS publishes no rule these are the AWS emulator's choices, applied the
/// same way by the software backend and the emulator.
#[cfg(feature = "asymmetric")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PairUse {
    /// TR-34 key receiving device: an RSA key pair (D1 or K2) that may
    /// Unwrap or Decrypt.
    Tr34Krd,
    /// TR-34 key distribution host: an RSA key pair (S0) that may Sign.
    Tr34Kdh,
    /// ECDH: an ECC key pair for key agreement (K3, DeriveKey).
    KeyAgreement,
}

#[cfg(feature = "asymmetric")]
impl PairUse {
    /// What the key must be, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Tr34Krd => "an RSA key pair (TR31_D1 or TR31_K2) that may Unwrap or Decrypt",
            Self::Tr34Kdh => "an RSA key pair that may Sign",
            Self::KeyAgreement => "an ECC key pair for key agreement (TR31_K3, DeriveKey)",
        }
    }
}

/// Refuses key `id` (its attributes `attrs`; `pair`: whether it is a key
/// pair) for `use_` with [`ErrorKind::KeyUsage`](crate::ErrorKind::KeyUsage)
/// saying what it must be.
#[cfg(feature = "asymmetric")]
pub(crate) fn check_key_pair(
    id: &KeyId,
    attrs: &KeyAttributes,
    pair: bool,
    use_: PairUse,
) -> Result<()> {
    let a = attrs.algorithm;
    let m = attrs.modes;
    let ok = pair
        && match use_ {
            PairUse::Tr34Krd => {
                a.is_rsa()
                    && matches!(
                        attrs.usage,
                        KeyUsage::AsymmetricDataEncryption | KeyUsage::Tr34Asymmetric
                    )
                    && (m.unwrap || m.decrypt || m.no_restrictions)
            }
            PairUse::Tr34Kdh => a.is_rsa() && (m.sign || m.no_restrictions),
            PairUse::KeyAgreement => {
                a.is_ecc()
                    && attrs.usage == KeyUsage::AsymmetricKeyAgreement
                    && (m.derive_key || m.no_restrictions)
            }
        };
    if ok {
        Ok(())
    } else {
        Err(Error::key_usage(format!(
            "key {id} must be {}",
            use_.describe()
        )))
    }
}

/// Refuses key `id` as a certificate authority unless it is a public key
/// (`public`) of usage S0 that may Verify.
#[cfg(feature = "asymmetric")]
pub(crate) fn check_certificate_authority(
    id: &KeyId,
    attrs: &KeyAttributes,
    public: bool,
) -> Result<()> {
    if public && attrs.usage == KeyUsage::AsymmetricSignature && attrs.modes.verify {
        Ok(())
    } else {
        Err(Error::key_usage(format!(
            "key {id} is not a certificate authority public key (PUBLIC_KEY, TR31_S0, Verify)"
        )))
    }
}

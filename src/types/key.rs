//! Key names and key attributes (TR-31 / X9.143 vocabulary, as AWS Payment
//! Cryptography and payShield key blocks use it).

use super::error::{Error, Result};
use std::fmt;

/// The name of a key on a backend: an alias such as `zpk/acquirer-7`, an AWS
/// alias (`alias/…`) or ARN. Backends resolve names themselves; the same name
/// on two backends is how layers compare them. Names are not secret.
///
/// Names of up to 30 characters are held inline, so cloning and dropping
/// them (once or more per request) allocates and frees nothing; longer ones
/// (ARNs) are on the heap.
#[derive(Clone)]
pub struct KeyId(Name);

/// Longest name held inline (keeps a `KeyId` at 32 bytes).
const INLINE_NAME: usize = 30;

#[derive(Clone)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl KeyId {
    /// Validates a key name: 1 to 256 printable ASCII characters, no spaces.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        if name.is_empty() || name.len() > 256 {
            return Err(Error::invalid("key id", "must be 1 to 256 characters"));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid(
                "key id",
                "must be printable ASCII without spaces",
            ));
        }
        if name.len() <= INLINE_NAME {
            let mut bytes = [0u8; INLINE_NAME];
            for (o, b) in bytes.iter_mut().zip(name.bytes()) {
                *o = b;
            }
            Ok(Self(Name::Inline {
                len: name.len() as u8,
                bytes,
            }))
        } else {
            Ok(Self(Name::Heap(name.into_boxed_str())))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Printable ASCII, validated on construction.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Name::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Name::Heap(s) => s.as_bytes(),
        }
    }
}

// Equality, order and hash are those of the name (as they were when a
// `KeyId` held a `String`), whichever way it is stored.
impl PartialEq for KeyId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyId {}

impl PartialOrd for KeyId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for KeyId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // What `str`'s hash writes (the bytes, then 0xFF), without checking
        // the bytes are UTF-8 again on every keystore lookup.
        state.write(self.as_bytes());
        state.write_u8(0xFF);
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

macro_rules! key_usages {
    ($($variant:ident => $code:literal, $aws:literal, $doc:literal;)*) => {
        /// What a key may be used for: the TR-31 key usage.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum KeyUsage {
            $(#[doc = $doc] $variant,)*
        }

        impl KeyUsage {
            /// All usages this crate knows.
            pub const ALL: &'static [KeyUsage] = &[$(KeyUsage::$variant,)*];

            /// The two-character TR-31 code (`P0`, `B0`, …).
            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code,)* }
            }

            /// The AWS Payment Cryptography enum value (`TR31_P0_PIN_ENCRYPTION_KEY`, …).
            pub fn aws_name(self) -> &'static str {
                match self { $(Self::$variant => $aws,)* }
            }

            /// Parses a TR-31 code.
            pub fn from_code(code: &str) -> Result<Self> {
                match code {
                    $($code => Ok(Self::$variant),)*
                    _ => Err(Error::invalid("key usage", "unknown TR-31 key usage code")),
                }
            }

            /// Parses an AWS enum value.
            pub fn from_aws_name(name: &str) -> Result<Self> {
                match name {
                    $($aws => Ok(Self::$variant),)*
                    _ => Err(Error::invalid("key usage", "unknown key usage")),
                }
            }
        }
    };
}

key_usages! {
    Bdk => "B0", "TR31_B0_BASE_DERIVATION_KEY", "B0: DUKPT base derivation key.";
    DukptInitialKey => "B1", "TR31_B1_INITIAL_DUKPT_KEY", "B1: initial DUKPT key (IPEK).";
    CardVerification => "C0", "TR31_C0_CARD_VERIFICATION_KEY", "C0: card verification key (CVV/CVC).";
    DataEncryption => "D0", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "D0: symmetric data encryption key.";
    EmvAppCryptogram => "E0", "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS", "E0: EMV issuer master key for application cryptograms.";
    EmvSmConfidentiality => "E1", "TR31_E1_EMV_MKEY_CONFIDENTIALITY", "E1: EMV master key, secure messaging confidentiality.";
    EmvSmIntegrity => "E2", "TR31_E2_EMV_MKEY_INTEGRITY", "E2: EMV master key, secure messaging integrity.";
    EmvDynamicNumbers => "E4", "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS", "E4: EMV master key, dynamic numbers (CVC3).";
    EmvCardPersonalization => "E5", "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION", "E5: EMV card personalization key.";
    EmvOther => "E6", "TR31_E6_EMV_MKEY_OTHER", "E6: other EMV master key.";
    KeyEncryption => "K0", "TR31_K0_KEY_ENCRYPTION_KEY", "K0: key encryption (wrapping) key.";
    KeyBlockProtection => "K1", "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "K1: TR-31 key block protection key.";
    MacIso16609 => "M0", "TR31_M0_ISO_16609_MAC_KEY", "M0: ISO 16609 MAC (TDES CBC-MAC).";
    MacIso9797Alg1 => "M1", "TR31_M1_ISO_9797_1_MAC_KEY", "M1: ISO 9797-1 MAC algorithm 1.";
    MacIso9797Alg3 => "M3", "TR31_M3_ISO_9797_3_MAC_KEY", "M3: ISO 9797-1 MAC algorithm 3 (retail MAC).";
    MacCmac => "M6", "TR31_M6_ISO_9797_5_CMAC_KEY", "M6: ISO 9797-1 MAC algorithm 5 (CMAC).";
    MacHmac => "M7", "TR31_M7_HMAC_KEY", "M7: HMAC key.";
    PinEncryption => "P0", "TR31_P0_PIN_ENCRYPTION_KEY", "P0: PIN encryption key (ZPK/TPK).";
    PinVerificationIbm3624 => "V1", "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "V1: IBM 3624 PIN verification key.";
    PinVerificationVisaPvv => "V2", "TR31_V2_VISA_PIN_VERIFICATION_KEY", "V2: Visa PVV PIN verification key.";
    AsymmetricSignature => "S0", "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "S0: asymmetric key for digital signatures (RSA or ECC; TR-34 KDH signing keys, certificate authorities).";
    AsymmetricDataEncryption => "D1", "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "D1: asymmetric key for data encryption (RSA).";
    Tr34Asymmetric => "K2", "TR31_K2_TR34_ASYMMETRIC_KEY", "K2: TR-34 asymmetric key (RSA).";
    AsymmetricKeyAgreement => "K3", "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "K3: asymmetric key for key agreement (ECC, ECDH).";
}

impl KeyUsage {
    /// True for the usages of asymmetric keys (S0, D1, K2, K3).
    pub fn is_asymmetric(self) -> bool {
        matches!(
            self,
            Self::AsymmetricSignature
                | Self::AsymmetricDataEncryption
                | Self::Tr34Asymmetric
                | Self::AsymmetricKeyAgreement
        )
    }
}

/// Key algorithm and length: the values of AWS Payment Cryptography's
/// `KeyAlgorithm` (botocore `payment-cryptography` 2021-09-14), symmetric
/// and asymmetric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Two-key TDES (16 bytes).
    Tdes2,
    /// Three-key TDES (24 bytes).
    Tdes3,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
    /// HMAC-SHA-256 (32-byte key).
    HmacSha256,
    /// HMAC-SHA-224 (28-byte key).
    HmacSha224,
    /// HMAC-SHA-384 (48-byte key).
    HmacSha384,
    /// HMAC-SHA-512 (64-byte key).
    HmacSha512,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECC on NIST P-256.
    EccP256,
    /// ECC on NIST P-384.
    EccP384,
    /// ECC on NIST P-521.
    EccP521,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order of the AWS model's enum (symmetric first).
    pub const ALL: [Self; 15] = [
        Self::Tdes2,
        Self::Tdes3,
        Self::Aes128,
        Self::Aes192,
        Self::Aes256,
        Self::HmacSha256,
        Self::HmacSha384,
        Self::HmacSha512,
        Self::HmacSha224,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::EccP256,
        Self::EccP384,
        Self::EccP521,
    ];

    /// The symmetric algorithms (AWS `SymmetricKeyAlgorithm`).
    pub const SYMMETRIC: [Self; 9] = [
        Self::Tdes2,
        Self::Tdes3,
        Self::Aes128,
        Self::Aes192,
        Self::Aes256,
        Self::HmacSha256,
        Self::HmacSha384,
        Self::HmacSha512,
        Self::HmacSha224,
    ];

    /// The algorithm with the AWS enum value `name` (`TDES_2KEY`,
    /// `RSA_2048`, …); `None` for any other value.
    pub fn from_aws_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.aws_name() == name)
    }

    /// Key length in bytes; for RSA the modulus length, for ECC the length
    /// of a field element (P-521: 66) — the size of the key, not of what a
    /// backend stores for it.
    pub fn key_len(self) -> usize {
        match self {
            Self::Tdes2 | Self::Aes128 => 16,
            Self::Tdes3 | Self::Aes192 => 24,
            Self::HmacSha224 => 28,
            Self::Aes256 | Self::HmacSha256 | Self::EccP256 => 32,
            Self::HmacSha384 | Self::EccP384 => 48,
            Self::HmacSha512 => 64,
            Self::EccP521 => 66,
            Self::Rsa2048 => 256,
            Self::Rsa3072 => 384,
            Self::Rsa4096 => 512,
        }
    }

    /// True for the DES family.
    pub fn is_tdes(self) -> bool {
        matches!(self, Self::Tdes2 | Self::Tdes3)
    }

    /// True for AES.
    pub fn is_aes(self) -> bool {
        matches!(self, Self::Aes128 | Self::Aes192 | Self::Aes256)
    }

    /// True for the HMAC key algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Self::HmacSha224 | Self::HmacSha256 | Self::HmacSha384 | Self::HmacSha512
        )
    }

    /// True for RSA.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// True for ECC.
    pub fn is_ecc(self) -> bool {
        matches!(self, Self::EccP256 | Self::EccP384 | Self::EccP521)
    }

    /// True for the symmetric algorithms (TDES, AES, HMAC).
    pub fn is_symmetric(self) -> bool {
        !(self.is_rsa() || self.is_ecc())
    }

    /// The TR-31 algorithm character (`T`, `A`, `H`, `R`, `E`).
    pub fn tr31_code(self) -> char {
        if self.is_tdes() {
            'T'
        } else if self.is_aes() {
            'A'
        } else if self.is_hmac() {
            'H'
        } else if self.is_rsa() {
            'R'
        } else {
            'E'
        }
    }

    /// The symmetric algorithm from a TR-31 algorithm character and a key
    /// length in bytes. TR-31's `H` names no hash: the key length chooses
    /// (28, 32, 48, 64 bytes: HMAC-SHA-224/256/384/512).
    pub fn from_tr31(code: char, key_len: usize) -> Result<Self> {
        match (code, key_len) {
            ('T', 16) => Ok(Self::Tdes2),
            ('T', 24) => Ok(Self::Tdes3),
            ('A', 16) => Ok(Self::Aes128),
            ('A', 24) => Ok(Self::Aes192),
            ('A', 32) => Ok(Self::Aes256),
            ('H', 28) => Ok(Self::HmacSha224),
            ('H', 32) => Ok(Self::HmacSha256),
            ('H', 48) => Ok(Self::HmacSha384),
            ('H', 64) => Ok(Self::HmacSha512),
            ('T' | 'A' | 'H', n) => Err(Error::invalid(
                "key length",
                format!("{n} bytes is not valid for TR-31 algorithm {code}"),
            )),
            _ => Err(Error::invalid(
                "key algorithm",
                "unsupported TR-31 algorithm",
            )),
        }
    }

    /// The AWS enum value (`TDES_2KEY`, `AES_128`, `RSA_2048`, …).
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Tdes2 => "TDES_2KEY",
            Self::Tdes3 => "TDES_3KEY",
            Self::Aes128 => "AES_128",
            Self::Aes192 => "AES_192",
            Self::Aes256 => "AES_256",
            Self::HmacSha224 => "HMAC_SHA224",
            Self::HmacSha256 => "HMAC_SHA256",
            Self::HmacSha384 => "HMAC_SHA384",
            Self::HmacSha512 => "HMAC_SHA512",
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EccP256 => "ECC_NIST_P256",
            Self::EccP384 => "ECC_NIST_P384",
            Self::EccP521 => "ECC_NIST_P521",
        }
    }
}

/// What part of a key a backend holds (AWS `KeyClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyClass {
    /// A symmetric key.
    Symmetric,
    /// An asymmetric key pair (the private key stays on the backend).
    AsymmetricKeyPair,
    /// A private key alone.
    PrivateKey,
    /// A public key (an imported root or trusted certificate).
    PublicKey,
}

impl KeyClass {
    /// The AWS enum value (`SYMMETRIC_KEY`, …).
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Symmetric => "SYMMETRIC_KEY",
            Self::AsymmetricKeyPair => "ASYMMETRIC_KEY_PAIR",
            Self::PrivateKey => "PRIVATE_KEY",
            Self::PublicKey => "PUBLIC_KEY",
        }
    }

    /// From an AWS enum value.
    pub fn from_aws_name(name: &str) -> Option<Self> {
        [
            Self::Symmetric,
            Self::AsymmetricKeyPair,
            Self::PrivateKey,
            Self::PublicKey,
        ]
        .into_iter()
        .find(|c| c.aws_name() == name)
    }
}

/// Modes of use (the AWS `KeyModesOfUse` booleans; TR-31 mode-of-use character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ModesOfUse {
    /// May encrypt.
    pub encrypt: bool,
    /// May decrypt.
    pub decrypt: bool,
    /// May wrap keys.
    pub wrap: bool,
    /// May unwrap keys.
    pub unwrap: bool,
    /// May generate (MACs, CVVs, …).
    pub generate: bool,
    /// May sign.
    pub sign: bool,
    /// May verify.
    pub verify: bool,
    /// May derive keys.
    pub derive_key: bool,
    /// No restrictions beyond the key usage.
    pub no_restrictions: bool,
}

impl ModesOfUse {
    /// The usual modes of use for a key usage: derive (BDKs, EMV master
    /// keys), encrypt/decrypt (PIN, data and key-encryption keys) or
    /// generate/verify (card verification, MAC, PIN verification keys).
    pub fn default_for(usage: KeyUsage) -> Self {
        match usage {
            KeyUsage::Bdk
            | KeyUsage::DukptInitialKey
            | KeyUsage::EmvAppCryptogram
            | KeyUsage::EmvSmConfidentiality
            | KeyUsage::EmvSmIntegrity
            | KeyUsage::EmvDynamicNumbers
            | KeyUsage::EmvCardPersonalization
            | KeyUsage::EmvOther => ModesOfUse::DERIVE,
            KeyUsage::PinEncryption
            | KeyUsage::DataEncryption
            | KeyUsage::KeyEncryption
            | KeyUsage::KeyBlockProtection
            | KeyUsage::AsymmetricDataEncryption
            | KeyUsage::Tr34Asymmetric => ModesOfUse::BOTH,
            KeyUsage::AsymmetricSignature => ModesOfUse::SIGN_VERIFY,
            KeyUsage::AsymmetricKeyAgreement => ModesOfUse::DERIVE,
            _ => ModesOfUse::GENERATE_VERIFY,
        }
    }

    /// Encrypt + decrypt + wrap + unwrap (TR-31 `B`).
    pub const BOTH: Self = Self::of(true, true, true, true, false, false, false, false, false);
    /// Decrypt + unwrap only (TR-31 `D`).
    pub const DECRYPT: Self = Self::of(false, true, false, true, false, false, false, false, false);
    /// Encrypt + wrap only (TR-31 `E`).
    pub const ENCRYPT: Self = Self::of(true, false, true, false, false, false, false, false, false);
    /// Generate + verify (TR-31 `C`).
    pub const GENERATE_VERIFY: Self =
        Self::of(false, false, false, false, true, false, true, false, false);
    /// Generate only (TR-31 `G`).
    pub const GENERATE: Self =
        Self::of(false, false, false, false, true, false, false, false, false);
    /// Verify only (TR-31 `V`).
    pub const VERIFY: Self = Self::of(false, false, false, false, false, false, true, false, false);
    /// Sign + verify (TR-31 `S` is sign only; AWS `Sign` and `Verify`):
    /// asymmetric signature key pairs.
    pub const SIGN_VERIFY: Self =
        Self::of(false, false, false, false, false, true, true, false, false);
    /// Key derivation (TR-31 `X`).
    pub const DERIVE: Self = Self::of(false, false, false, false, false, false, false, true, false);
    /// No special restrictions (TR-31 `N`).
    pub const ANY: Self = Self::of(false, false, false, false, false, false, false, false, true);

    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    const fn of(
        encrypt: bool,
        decrypt: bool,
        wrap: bool,
        unwrap: bool,
        generate: bool,
        sign: bool,
        verify: bool,
        derive_key: bool,
        no_restrictions: bool,
    ) -> Self {
        Self::from_flags([
            encrypt,
            decrypt,
            wrap,
            unwrap,
            generate,
            sign,
            verify,
            derive_key,
            no_restrictions,
        ])
    }

    /// From the nine flags in the order of the fields (encrypt, decrypt,
    /// wrap, unwrap, generate, sign, verify, derive key, no restrictions).
    pub const fn from_flags(f: [bool; 9]) -> Self {
        let [encrypt, decrypt, wrap, unwrap, generate, sign, verify, derive_key, no_restrictions] =
            f;
        Self {
            encrypt,
            decrypt,
            wrap,
            unwrap,
            generate,
            sign,
            verify,
            derive_key,
            no_restrictions,
        }
    }

    /// The nine flags in the order of [`ModesOfUse::from_flags`].
    pub const fn to_flags(self) -> [bool; 9] {
        [
            self.encrypt,
            self.decrypt,
            self.wrap,
            self.unwrap,
            self.generate,
            self.sign,
            self.verify,
            self.derive_key,
            self.no_restrictions,
        ]
    }

    /// The TR-31 mode-of-use character.
    pub fn tr31_code(self) -> Result<char> {
        Ok(match self {
            m if m == Self::BOTH => 'B',
            m if m == Self::DECRYPT => 'D',
            m if m == Self::ENCRYPT => 'E',
            m if m == Self::GENERATE_VERIFY => 'C',
            m if m == Self::GENERATE => 'G',
            m if m == Self::VERIFY => 'V',
            m if m == Self::DERIVE => 'X',
            m if m == Self::ANY => 'N',
            _ => {
                return Err(Error::invalid(
                    "modes of use",
                    "combination has no TR-31 mode-of-use character",
                ))
            }
        })
    }

    /// Modes from a TR-31 mode-of-use character.
    pub fn from_tr31(code: char) -> Result<Self> {
        Ok(match code {
            'B' => Self::BOTH,
            'D' => Self::DECRYPT,
            'E' => Self::ENCRYPT,
            'C' => Self::GENERATE_VERIFY,
            'G' => Self::GENERATE,
            'V' => Self::VERIFY,
            'X' => Self::DERIVE,
            'N' => Self::ANY,
            _ => {
                return Err(Error::invalid(
                    "mode of use",
                    "unsupported TR-31 mode of use",
                ))
            }
        })
    }
}

/// Whether a key may leave the backend (wrapped): the TR-31 exportability
/// (key block header byte 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exportability {
    /// `E`: exportable under a trusted key.
    Exportable,
    /// `N`: not exportable.
    NonExportable,
    /// `S`: sensitive; exportable under an untrusted key.
    Sensitive,
}

impl Exportability {
    /// The header character.
    pub fn as_char(self) -> char {
        match self {
            Self::Exportable => 'E',
            Self::NonExportable => 'N',
            Self::Sensitive => 'S',
        }
    }

    /// Parses the header character; `None` if not defined.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'E' => Self::Exportable,
            'N' => Self::NonExportable,
            'S' => Self::Sensitive,
            _ => return None,
        })
    }
}

impl Exportability {
    /// TR-31 character (as [`KeyAlgorithm::tr31_code`] and [`ModesOfUse::tr31_code`]).
    pub fn tr31_code(self) -> char {
        self.as_char()
    }

    /// From a TR-31 character, with a typed error.
    pub fn from_tr31(code: char) -> Result<Self> {
        Self::from_char(code).ok_or_else(|| Error::invalid("exportability", "expected E, N or S"))
    }

    /// True when the key may be exported in a TR-31 block.
    pub fn allows_export(self) -> bool {
        !matches!(self, Self::NonExportable)
    }
}

/// Everything a backend needs to know about a key besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyAttributes {
    /// TR-31 key usage.
    pub usage: KeyUsage,
    /// Algorithm and length.
    pub algorithm: KeyAlgorithm,
    /// Modes of use.
    pub modes: ModesOfUse,
    /// Exportability.
    pub exportability: Exportability,
}

impl KeyAttributes {
    /// Attributes with the given usage, algorithm and modes, exportable.
    pub fn new(usage: KeyUsage, algorithm: KeyAlgorithm, modes: ModesOfUse) -> Self {
        Self {
            usage,
            algorithm,
            modes,
            exportability: Exportability::Exportable,
        }
    }

    /// Same attributes, with the given exportability.
    pub fn with_exportability(mut self, exportability: Exportability) -> Self {
        self.exportability = exportability;
        self
    }

    /// [`Self::validate`] for a public key (an imported certificate's): it
    /// cannot sign, decrypt or unwrap, having no private key.
    pub fn validate_public_key(&self) -> Result<()> {
        self.validate()?;
        if !self.usage.is_asymmetric() || self.algorithm.is_symmetric() {
            return Err(Error::invalid(
                "key algorithm",
                "a public key is RSA or ECC with an asymmetric key usage",
            ));
        }
        let m = self.modes;
        if m.sign || m.decrypt || m.unwrap {
            return Err(Error::invalid(
                "modes of use",
                "a public key cannot Sign, Decrypt or Unwrap",
            ));
        }
        Ok(())
    }

    /// Checks that usage, algorithm and modes go together the way HSMs and
    /// AWS Payment Cryptography require.
    pub fn validate(&self) -> Result<()> {
        use KeyUsage as U;
        let alg = self.algorithm;
        let alg_ok = match self.usage {
            U::MacHmac => alg.is_hmac(),
            U::AsymmetricSignature => alg.is_rsa() || alg.is_ecc(),
            U::AsymmetricDataEncryption | U::Tr34Asymmetric => alg.is_rsa(),
            U::AsymmetricKeyAgreement => alg.is_ecc(),
            U::MacIso16609 | U::MacIso9797Alg1 | U::MacIso9797Alg3 | U::CardVerification => {
                alg.is_tdes() || (self.usage == U::MacIso9797Alg1 && alg.is_aes())
            }
            U::PinVerificationIbm3624 | U::PinVerificationVisaPvv => alg.is_tdes(),
            U::EmvAppCryptogram
            | U::EmvSmConfidentiality
            | U::EmvSmIntegrity
            | U::EmvDynamicNumbers
            | U::EmvCardPersonalization
            | U::EmvOther => alg.is_tdes() || alg.is_aes(),
            _ => alg.is_tdes() || alg.is_aes(),
        };
        if !alg_ok {
            return Err(Error::invalid(
                "key algorithm",
                format!(
                    "{} is not allowed for key usage {}",
                    alg.aws_name(),
                    self.usage.code()
                ),
            ));
        }
        let m = self.modes;
        let modes_ok = match self.usage {
            U::Bdk
            | U::DukptInitialKey
            | U::EmvAppCryptogram
            | U::EmvSmConfidentiality
            | U::EmvSmIntegrity
            | U::EmvDynamicNumbers
            | U::EmvCardPersonalization
            | U::EmvOther => m == ModesOfUse::DERIVE || m == ModesOfUse::ANY,
            U::CardVerification
            | U::MacIso16609
            | U::MacIso9797Alg1
            | U::MacIso9797Alg3
            | U::MacCmac
            | U::MacHmac
            | U::PinVerificationIbm3624
            | U::PinVerificationVisaPvv => {
                (m.generate || m.verify || m.no_restrictions)
                    && !(m.encrypt || m.decrypt || m.wrap || m.unwrap || m.derive_key)
            }
            U::PinEncryption
            | U::DataEncryption
            | U::KeyEncryption
            | U::KeyBlockProtection
            | U::AsymmetricDataEncryption
            | U::Tr34Asymmetric => {
                (m.encrypt || m.decrypt || m.wrap || m.unwrap || m.no_restrictions)
                    && !(m.generate || m.verify || m.sign || m.derive_key)
                    && !(self.usage.is_asymmetric() && m.no_restrictions)
            }
            // Asymmetric keys: the modes their usage names, at least one,
            // never Generate or NoRestrictions (the AWS emulator's rules;
            // AWS publishes none).
            U::AsymmetricSignature => {
                (m.sign || m.verify)
                    && !(m.encrypt
                        || m.decrypt
                        || m.wrap
                        || m.unwrap
                        || m.derive_key
                        || m.generate
                        || m.no_restrictions)
            }
            U::AsymmetricKeyAgreement => {
                m.derive_key
                    && !(m.encrypt
                        || m.decrypt
                        || m.wrap
                        || m.unwrap
                        || m.generate
                        || m.sign
                        || m.verify
                        || m.no_restrictions)
            }
        };
        if !modes_ok {
            return Err(Error::invalid(
                "modes of use",
                format!("not allowed for key usage {}", self.usage.code()),
            ));
        }
        Ok(())
    }
}

/// A key check value: the first bytes of a known encryption under the key,
/// used to confirm a key without revealing it (not secret).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kcv(pub [u8; 3]);

impl Kcv {
    /// Parses 6 hex digits (longer input is accepted and truncated to 6, as
    /// HSMs print 6 or 16).
    pub fn from_hex(s: &str) -> Result<Self> {
        let s = s
            .get(..6)
            .ok_or_else(|| Error::invalid("kcv", "expected 6 hex digits"))?;
        let mut b = [0u8; 3];
        hex::decode_to_slice(s, &mut b).map_err(|_| Error::invalid("kcv", "not valid hex"))?;
        Ok(Self(b))
    }
}

impl fmt::Display for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

impl fmt::Debug for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kcv({self})")
    }
}

/// Key block version id: selects the protection method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tr31Version {
    /// `A`: TDES key variant binding (deprecated).
    A,
    /// `B`: TDES key derivation binding (TDES-CMAC KDF and MAC).
    B,
    /// `C`: TDES key variant binding (same method as A).
    C,
    /// `D`: AES key derivation binding (AES-CMAC KDF and MAC).
    D,
}

impl Tr31Version {
    /// The version id character.
    pub fn as_char(self) -> char {
        match self {
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
        }
    }

    /// Parses a version id character; `None` for unsupported versions.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'A' => Self::A,
            'B' => Self::B,
            'C' => Self::C,
            'D' => Self::D,
            _ => return None,
        })
    }

    /// Encryption block size of the method: 8 (TDES) or 16 (AES).
    pub fn block_size(self) -> usize {
        match self {
            Self::D => 16,
            _ => 8,
        }
    }

    /// Length in bytes of the authenticator (MAC): 4 (A, C), 8 (B) or 16 (D).
    pub fn mac_len(self) -> usize {
        match self {
            Self::A | Self::C => 4,
            Self::B => 8,
            Self::D => 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_inline_and_heap_names_behave_as_strings() {
        use std::hash::{BuildHasher, RandomState};
        let names = [
            "a",
            "zpk1",
            "zpk/acquirer-7",
            &"x".repeat(INLINE_NAME - 1),
            &"x".repeat(INLINE_NAME),
            &"x".repeat(INLINE_NAME + 1),
            &"y".repeat(256),
            "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop",
        ];
        let h = RandomState::new();
        for a in names {
            let ka = KeyId::new(a).unwrap();
            assert_eq!(ka.as_str(), a);
            assert_eq!(ka.to_string(), a);
            assert_eq!(format!("{ka:?}"), format!("KeyId({a})"));
            assert_eq!(h.hash_one(&ka), h.hash_one(a), "{a}");
            assert_eq!(ka.clone(), ka);
            for b in names {
                let kb = KeyId::new(b).unwrap();
                assert_eq!(ka == kb, a == b, "{a} == {b}");
                assert_eq!(ka.cmp(&kb), a.cmp(b), "{a} cmp {b}");
            }
        }
        assert!(KeyId::new("").is_err());
        assert!(KeyId::new("y".repeat(257)).is_err());
        assert!(KeyId::new("has space").is_err());
    }

    #[test]
    fn usage_codes_round_trip() {
        for u in KeyUsage::ALL {
            assert_eq!(KeyUsage::from_code(u.code()).unwrap(), *u);
            assert_eq!(KeyUsage::from_aws_name(u.aws_name()).unwrap(), *u);
        }
        assert!(KeyUsage::from_code("Z9").is_err());
    }

    #[test]
    fn modes_round_trip() {
        for c in "BDECGVXN".chars() {
            assert_eq!(ModesOfUse::from_tr31(c).unwrap().tr31_code().unwrap(), c);
        }
        assert!(ModesOfUse::from_tr31('Q').is_err());
    }

    #[test]
    fn attribute_rules() {
        let pin = KeyAttributes::new(
            KeyUsage::PinEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        );
        assert!(pin.validate().is_ok());
        let bad = KeyAttributes::new(
            KeyUsage::PinEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE,
        );
        assert!(bad.validate().is_err());
        let hm = KeyAttributes::new(
            KeyUsage::MacHmac,
            KeyAlgorithm::Aes128,
            ModesOfUse::GENERATE,
        );
        assert!(hm.validate().is_err());
        let cvk = KeyAttributes::new(
            KeyUsage::CardVerification,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE_VERIFY,
        );
        assert!(cvk.validate().is_ok());
    }

    #[test]
    fn asymmetric_attribute_rules() {
        use KeyAlgorithm as A;
        use KeyUsage as U;
        let ok = |u, a, m| KeyAttributes::new(u, a, m).validate().is_ok();
        assert!(ok(
            U::AsymmetricSignature,
            A::Rsa2048,
            ModesOfUse::SIGN_VERIFY
        ));
        assert!(ok(U::AsymmetricSignature, A::EccP384, ModesOfUse::VERIFY));
        assert!(ok(
            U::AsymmetricDataEncryption,
            A::Rsa4096,
            ModesOfUse::BOTH
        ));
        assert!(ok(
            U::AsymmetricKeyAgreement,
            A::EccP521,
            ModesOfUse::DERIVE
        ));
        // D1 is RSA, K3 is ECC; symmetric usages take no asymmetric keys.
        assert!(!ok(
            U::AsymmetricDataEncryption,
            A::EccP256,
            ModesOfUse::BOTH
        ));
        assert!(!ok(
            U::AsymmetricKeyAgreement,
            A::Rsa2048,
            ModesOfUse::DERIVE
        ));
        assert!(!ok(U::PinEncryption, A::Rsa2048, ModesOfUse::BOTH));
        assert!(!ok(
            U::AsymmetricSignature,
            A::Aes128,
            ModesOfUse::SIGN_VERIFY
        ));
        // No NoRestrictions, no Generate, nothing beyond the usage's modes.
        assert!(!ok(U::AsymmetricSignature, A::Rsa2048, ModesOfUse::ANY));
        assert!(!ok(
            U::AsymmetricKeyAgreement,
            A::EccP256,
            ModesOfUse::GENERATE_VERIFY
        ));
        assert!(!ok(
            U::AsymmetricDataEncryption,
            A::Rsa2048,
            ModesOfUse::ANY
        ));
        // A public key verifies; it cannot sign.
        let public = |m| KeyAttributes::new(U::AsymmetricSignature, A::EccP256, m);
        assert!(public(ModesOfUse::VERIFY).validate_public_key().is_ok());
        assert!(public(ModesOfUse::SIGN_VERIFY)
            .validate_public_key()
            .is_err());
        // HMAC keys of every hash are M7 keys.
        for a in [A::HmacSha224, A::HmacSha256, A::HmacSha384, A::HmacSha512] {
            assert!(ok(U::MacHmac, a, ModesOfUse::GENERATE_VERIFY), "{a:?}");
            assert_eq!(KeyAlgorithm::from_tr31('H', a.key_len()).unwrap(), a);
            assert_eq!(KeyAlgorithm::from_aws_name(a.aws_name()), Some(a));
        }
        for a in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::from_aws_name(a.aws_name()), Some(a));
            assert_eq!(a.is_symmetric(), KeyAlgorithm::SYMMETRIC.contains(&a));
        }
    }

    #[test]
    fn kcv_parse() {
        assert_eq!(Kcv::from_hex("08D7B4").unwrap().to_string(), "08D7B4");
        assert_eq!(
            Kcv::from_hex("08D7B40000000000").unwrap().to_string(),
            "08D7B4"
        );
        assert!(Kcv::from_hex("08D7").is_err());
        assert!(Kcv::from_hex("GGGGGG").is_err());
    }
}

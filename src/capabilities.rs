//! [`Capabilities`]: what a backend supports, as data, at the level users
//! choose by — operation × PIN block format × key algorithm × DUKPT kind ×
//! MAC algorithm × session-key derivation and ARPC method (opendal's
//! `Capability`).
//!
//! A backend declares them truthfully and refuses what it does not declare
//! with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) before
//! doing any work ([`Capabilities::check`]); what it declares it must not
//! answer `Unsupported`. Shadow and conformance read them instead of
//! discovering `Unsupported` at run time.

use crate::error::{Error, Result};
use crate::ops::*;
use crate::types::{KeyAlgorithm, PinBlockFormat};
use std::collections::BTreeSet;

/// The DUKPT standard a derivation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DukptKind {
    /// TDES DUKPT, ANSI X9.24-1 (10-byte KSN).
    Tdes,
    /// AES DUKPT, ANSI X9.24-3 (12-byte KSN).
    Aes,
}

/// A MAC algorithm without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MacKind {
    /// ISO 9797-1 MAC algorithm 1 (CBC-MAC).
    Iso9797Alg1,
    /// ISO 9797-1 MAC algorithm 3 (retail MAC).
    Iso9797Alg3,
    /// CMAC (ISO 9797-1 algorithm 5).
    Cmac,
    /// HMAC-SHA-256.
    HmacSha256,
    /// HMAC-SHA-224.
    HmacSha224,
    /// HMAC-SHA-384.
    HmacSha384,
    /// HMAC-SHA-512.
    HmacSha512,
}

impl From<MacAlgorithm> for MacKind {
    fn from(a: MacAlgorithm) -> Self {
        match a {
            MacAlgorithm::Iso9797Alg1(_) => Self::Iso9797Alg1,
            MacAlgorithm::Iso9797Alg3(_) => Self::Iso9797Alg3,
            MacAlgorithm::Cmac => Self::Cmac,
            MacAlgorithm::HmacSha256 => Self::HmacSha256,
            MacAlgorithm::HmacSha224 => Self::HmacSha224,
            MacAlgorithm::HmacSha384 => Self::HmacSha384,
            MacAlgorithm::HmacSha512 => Self::HmacSha512,
        }
    }
}

/// A key exchange method besides TR-31 under a KEK and clear components
/// (for [`Capabilities::key_exchange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyExchangeKind {
    /// Import of a TR-34 key block ([`KeyMaterial::Tr34`]).
    Tr34Import,
    /// Export as a TR-34 key block ([`ExportMethod::Tr34`]).
    Tr34Export,
    /// Import of a TR-31 block under an ECDH-agreed key ([`KeyMaterial::Ecdh`]).
    EcdhImport,
    /// Export as a TR-31 block under an ECDH-agreed key ([`ExportMethod::Ecdh`]).
    EcdhExport,
    /// Import of root and trusted public key certificates
    /// ([`KeyMaterial::RootCertificate`], [`KeyMaterial::TrustedCertificate`]).
    CertificateImport,
}

impl KeyExchangeKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Tr34Import,
        Self::Tr34Export,
        Self::EcdhImport,
        Self::EcdhExport,
        Self::CertificateImport,
    ];
}

/// A session-key derivation without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionKind {
    /// EMV common session key.
    EmvCommon,
    /// Mastercard session key.
    Mastercard,
    /// No session key (Visa CVN 10).
    Visa,
}

impl From<&SessionKeyDerivation> for SessionKind {
    fn from(s: &SessionKeyDerivation) -> Self {
        match s {
            SessionKeyDerivation::EmvCommon { .. } => Self::EmvCommon,
            SessionKeyDerivation::Mastercard { .. } => Self::Mastercard,
            SessionKeyDerivation::Visa => Self::Visa,
        }
    }
}

/// Which ARPC, if any, an ARQC verification returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArpcKind {
    /// Verification only.
    None,
    /// EMV ARPC method 1.
    Method1,
    /// EMV ARPC method 2.
    Method2,
}

impl From<Option<&ArpcMethod>> for ArpcKind {
    fn from(a: Option<&ArpcMethod>) -> Self {
        match a {
            None => Self::None,
            Some(ArpcMethod::Method1 { .. }) => Self::Method1,
            Some(ArpcMethod::Method2 { .. }) => Self::Method2,
        }
    }
}

/// Limits on issuer PIN data ([`Operation::GeneratePinData`],
/// [`Operation::VerifyPinData`]) besides the PIN block formats. `false`
/// everywhere is no limit ([`Capabilities::all`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PinDataLimits {
    /// IBM 3624 validation data, padded to 16 characters, must hold the
    /// five PAN digits before the check digit within its first 16
    /// characters ([`Ibm3624::account_digits_at`]): a payShield takes the
    /// validation data as 12 characters with `N` where it inserts them.
    pub validation_data_holds_account: bool,
    /// Decimalisation tables must pass the HSM's table check
    /// ([`DecimalizationTable::passes_hsm_check`](crate::types::DecimalizationTable::passes_hsm_check)).
    pub checked_decimalization_tables: bool,
    /// No expected PIN length (`pin_length`) when verifying a PIN block
    /// under a DUKPT key (the backend cannot learn that PIN's length).
    pub no_expected_length_under_dukpt: bool,
    /// TDES PIN keys only: no ISO format 4 PIN block (an AES PIN key's) and
    /// no AES DUKPT, even where PIN translation takes them.
    pub tdes_pin_keys_only: bool,
}

impl PinDataLimits {
    fn either(self, other: Self) -> Self {
        Self {
            validation_data_holds_account: self.validation_data_holds_account
                || other.validation_data_holds_account,
            checked_decimalization_tables: self.checked_decimalization_tables
                || other.checked_decimalization_tables,
            no_expected_length_under_dukpt: self.no_expected_length_under_dukpt
                || other.no_expected_length_under_dukpt,
            tdes_pin_keys_only: self.tdes_pin_keys_only || other.tdes_pin_keys_only,
        }
    }

    /// Refuses a PIN block format or DUKPT kind these limits exclude.
    fn check_pin_key(
        self,
        format: PinBlockFormat,
        dukpt: Option<&crate::ops::Dukpt>,
    ) -> Result<()> {
        if self.tdes_pin_keys_only {
            if format == PinBlockFormat::Iso4 {
                return Err(unsupported(
                    "issuer PIN data in ISO format 4 (an AES PIN key)",
                ));
            }
            if dukpt.is_some_and(|d| d.ksn.is_aes()) {
                return Err(unsupported("issuer PIN data under AES DUKPT"));
            }
        }
        Ok(())
    }

    /// Refuses IBM 3624 parameters these limits exclude.
    fn check_ibm(self, ibm: &Ibm3624, pan: &crate::types::Pan) -> Result<()> {
        if self.checked_decimalization_tables && !ibm.decimalization_table.passes_hsm_check() {
            return Err(unsupported(
                "a decimalisation table with fewer than 8 different digits or a digit more than 4 times",
            ));
        }
        if self.validation_data_holds_account && ibm.account_digits_at(pan).is_none() {
            return Err(unsupported(
                "IBM 3624 validation data without the five PAN digits before the check digit",
            ));
        }
        Ok(())
    }
}

/// Limits on card validation values besides their kinds and lengths.
/// `false` everywhere is no limit ([`Capabilities::all`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CardValidationLimits {
    /// Visa dynamic CVV only for cards with PAN sequence number `00` (a
    /// payShield's PM derives the card key with a zero PAN sequence
    /// number).
    pub dynamic_cvv_psn_zero: bool,
}

impl CardValidationLimits {
    fn either(self, other: Self) -> Self {
        Self {
            dynamic_cvv_psn_zero: self.dynamic_cvv_psn_zero || other.dynamic_cvv_psn_zero,
        }
    }

    /// Refuses a kind these limits exclude.
    fn check(self, kind: &CardValidationKind) -> Result<()> {
        if let CardValidationKind::DynamicCvv { psn, .. } = kind {
            if self.dynamic_cvv_psn_zero && psn.as_str() != "00" {
                return Err(unsupported(
                    "a dynamic CVV for a PAN sequence number other than 00",
                ));
            }
        }
        Ok(())
    }
}

/// What a backend can do (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Operations.
    pub operations: BTreeSet<Operation>,
    /// PIN block formats a PIN can be translated from and to, and PIN data
    /// generated and verified in.
    pub pin_formats: BTreeSet<PinBlockFormat>,
    /// Key algorithms the backend can hold and use.
    pub key_algorithms: BTreeSet<KeyAlgorithm>,
    /// DUKPT standards.
    pub dukpt: BTreeSet<DukptKind>,
    /// DUKPT data-key variants for data encryption and decryption.
    pub dukpt_data_variants: BTreeSet<DukptVariant>,
    /// MAC algorithms.
    pub mac_algorithms: BTreeSet<MacKind>,
    /// MAC lengths in bytes the backend generates and verifies (`None`: any
    /// length the algorithm and key allow).
    pub mac_lengths: Option<BTreeSet<usize>>,
    /// Whether CMAC and HMAC take an empty message.
    pub mac_empty_message: bool,
    /// Session-key derivation and ARPC combinations for ARQC verification.
    pub arqc: BTreeSet<(SessionKind, ArpcKind)>,
    /// Session-key derivations for which ICC master-key derivation option B
    /// works with PANs of more than 16 digits (where it differs from option A).
    pub mk_option_b_long_pan: BTreeSet<SessionKind>,
    /// Longest ARQC transaction data after padding, in bytes (`None`: no limit).
    pub arqc_max_data_len: Option<usize>,
    /// Whether keys can be imported from clear components.
    pub import_components: bool,
    /// TR-31 key block versions a key can be exported in.
    pub tr31_export: BTreeSet<Tr31Version>,
    /// Key exchange by TR-34 and ECDH (import, export).
    pub key_exchange: BTreeSet<KeyExchangeKind>,
    /// Card validation kinds the backend generates.
    pub card_validation_generate: BTreeSet<CardValidationType>,
    /// Card validation kinds the backend verifies.
    pub card_validation_verify: BTreeSet<CardValidationType>,
    /// Card validation value lengths (digits) generated and verified.
    pub card_value_lengths: BTreeSet<usize>,
    /// Limits on issuer PIN data.
    pub pin_data: PinDataLimits,
    /// Limits on card validation values.
    pub card_validation: CardValidationLimits,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::none()
    }
}

impl Capabilities {
    /// Nothing at all.
    pub fn none() -> Self {
        Self {
            operations: BTreeSet::new(),
            pin_formats: BTreeSet::new(),
            key_algorithms: BTreeSet::new(),
            dukpt: BTreeSet::new(),
            dukpt_data_variants: BTreeSet::new(),
            mac_algorithms: BTreeSet::new(),
            mac_lengths: Some(BTreeSet::new()),
            mac_empty_message: false,
            arqc: BTreeSet::new(),
            mk_option_b_long_pan: BTreeSet::new(),
            arqc_max_data_len: Some(0),
            import_components: false,
            tr31_export: BTreeSet::new(),
            key_exchange: BTreeSet::new(),
            card_validation_generate: BTreeSet::new(),
            card_validation_verify: BTreeSet::new(),
            card_value_lengths: BTreeSet::new(),
            pin_data: PinDataLimits::default(),
            card_validation: CardValidationLimits::default(),
        }
    }

    /// Everything the software reference backend does: every operation and
    /// variant the crate models, except the card validation kinds with no
    /// public algorithm (Amex CSC v1/v2, the AWS cardholder verification
    /// value, Discover dCVC), which a service such as AWS Payment
    /// Cryptography may still declare.
    pub fn all() -> Self {
        let card = [
            CardValidationType::Cvv,
            CardValidationType::Cvv2,
            CardValidationType::Icvv,
            CardValidationType::DynamicCvc3,
            CardValidationType::DynamicCvv,
        ];
        let sessions = [
            SessionKind::EmvCommon,
            SessionKind::Mastercard,
            SessionKind::Visa,
        ];
        let arpcs = [ArpcKind::None, ArpcKind::Method1, ArpcKind::Method2];
        Self {
            // Public key certificates need asymmetric keys, which the
            // software backend holds with its feature `asymmetric`.
            operations: Operation::ALL
                .iter()
                .copied()
                .filter(|o| {
                    cfg!(feature = "asymmetric") || *o != Operation::GetPublicKeyCertificate
                })
                .collect(),
            pin_formats: PinBlockFormat::ALL.into_iter().collect(),
            key_algorithms: if cfg!(feature = "asymmetric") {
                KeyAlgorithm::ALL.into_iter().collect()
            } else {
                KeyAlgorithm::SYMMETRIC.into_iter().collect()
            },
            dukpt: [DukptKind::Tdes, DukptKind::Aes].into_iter().collect(),
            dukpt_data_variants: [
                DukptVariant::Request,
                DukptVariant::Response,
                DukptVariant::Bidirectional,
            ]
            .into_iter()
            .collect(),
            mac_algorithms: [
                MacKind::Iso9797Alg1,
                MacKind::Iso9797Alg3,
                MacKind::Cmac,
                MacKind::HmacSha224,
                MacKind::HmacSha256,
                MacKind::HmacSha384,
                MacKind::HmacSha512,
            ]
            .into_iter()
            .collect(),
            mac_lengths: None,
            mac_empty_message: true,
            arqc: sessions
                .iter()
                .flat_map(|s| arpcs.iter().map(move |a| (*s, *a)))
                .collect(),
            mk_option_b_long_pan: sessions.into_iter().collect(),
            arqc_max_data_len: None,
            import_components: true,
            tr31_export: [
                Tr31Version::A,
                Tr31Version::B,
                Tr31Version::C,
                Tr31Version::D,
            ]
            .into_iter()
            .collect(),
            // TR-34 and ECDH need asymmetric keys: the software backend's
            // feature `asymmetric`.
            key_exchange: if cfg!(feature = "asymmetric") {
                KeyExchangeKind::ALL.into_iter().collect()
            } else {
                BTreeSet::new()
            },
            card_validation_generate: card.into_iter().collect(),
            card_validation_verify: card.into_iter().collect(),
            card_value_lengths: (3..=5).collect(),
            pin_data: PinDataLimits::default(),
            card_validation: CardValidationLimits::default(),
        }
    }

    /// Exactly `ops`, with every variant of them.
    pub fn new(ops: impl IntoIterator<Item = Operation>) -> Self {
        Self {
            operations: ops.into_iter().collect(),
            ..Self::all()
        }
    }

    /// True when `op` is supported (in some variant).
    pub fn supports(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// The supported operations, in a stable order.
    pub fn operations(&self) -> impl Iterator<Item = Operation> + '_ {
        self.operations.iter().copied()
    }

    /// True when keys of `alg` can be held and used.
    pub fn supports_key_algorithm(&self, alg: KeyAlgorithm) -> bool {
        self.key_algorithms.contains(&alg)
    }

    /// The capabilities both `self` and `other` have (what a shadowed or
    /// failed-over pair can always do).
    pub fn intersection(&self, other: &Self) -> Self {
        fn both<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> BTreeSet<T> {
            a.intersection(b).cloned().collect()
        }
        Self {
            operations: both(&self.operations, &other.operations),
            pin_formats: both(&self.pin_formats, &other.pin_formats),
            key_algorithms: both(&self.key_algorithms, &other.key_algorithms),
            dukpt: both(&self.dukpt, &other.dukpt),
            dukpt_data_variants: both(&self.dukpt_data_variants, &other.dukpt_data_variants),
            mac_algorithms: both(&self.mac_algorithms, &other.mac_algorithms),
            mac_lengths: match (&self.mac_lengths, &other.mac_lengths) {
                (None, x) | (x, None) => x.clone(),
                (Some(a), Some(b)) => Some(both(a, b)),
            },
            mac_empty_message: self.mac_empty_message && other.mac_empty_message,
            arqc: both(&self.arqc, &other.arqc),
            mk_option_b_long_pan: both(&self.mk_option_b_long_pan, &other.mk_option_b_long_pan),
            arqc_max_data_len: match (self.arqc_max_data_len, other.arqc_max_data_len) {
                (None, x) | (x, None) => x,
                (Some(a), Some(b)) => Some(a.min(b)),
            },
            import_components: self.import_components && other.import_components,
            tr31_export: both(&self.tr31_export, &other.tr31_export),
            key_exchange: both(&self.key_exchange, &other.key_exchange),
            card_validation_generate: both(
                &self.card_validation_generate,
                &other.card_validation_generate,
            ),
            card_validation_verify: both(
                &self.card_validation_verify,
                &other.card_validation_verify,
            ),
            card_value_lengths: both(&self.card_value_lengths, &other.card_value_lengths),
            pin_data: self.pin_data.either(other.pin_data),
            card_validation: self.card_validation.either(other.card_validation),
        }
    }

    /// Refuses `request` with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)
    /// (saying which dimension) unless these capabilities cover it. What
    /// depends on a key's algorithm is checked by
    /// [`check_key_algorithm`](Self::check_key_algorithm) once the key is known.
    pub fn check(&self, request: &Request) -> Result<()> {
        let op = request.operation();
        if !self.supports(op) {
            return Err(unsupported(format!("operation {op}")));
        }
        match request {
            Request::TranslatePin(r) => {
                self.check_format(r.incoming_format)?;
                self.check_format(r.outgoing_format)?;
                if let PinKey::Dukpt(d) = &r.incoming_key {
                    self.check_dukpt(d)?;
                }
            }
            Request::GeneratePinData(r) => {
                self.check_format(r.format)?;
                self.pin_data.check_pin_key(r.format, None)?;
                if let Some(ibm) = r.method.ibm() {
                    self.pin_data.check_ibm(ibm, &r.pan)?;
                }
            }
            Request::VerifyPinData(r) => {
                self.check_format(r.format)?;
                let dukpt = match &r.pin_key {
                    PinKey::Dukpt(d) => Some(d),
                    PinKey::Key(_) => None,
                };
                self.pin_data.check_pin_key(r.format, dukpt)?;
                if let PinKey::Dukpt(d) = &r.pin_key {
                    self.check_dukpt(d)?;
                    if r.pin_length.is_some() && self.pin_data.no_expected_length_under_dukpt {
                        return Err(unsupported(
                            "an expected PIN length for a PIN block under DUKPT",
                        ));
                    }
                }
                if let PinVerification::Ibm3624 { ibm, .. } = &r.method {
                    self.pin_data.check_ibm(ibm, &r.pan)?;
                }
            }
            Request::EncryptData(EncryptDataRequest { key, .. })
            | Request::DecryptData(DecryptDataRequest { key, .. }) => self.check_data_key(key)?,
            Request::ReEncryptData(r) => {
                self.check_data_key(&r.incoming_key)?;
                self.check_data_key(&r.outgoing_key)?;
            }
            Request::VerifyArqc(r) => self.check_arqc(
                &r.session,
                ArpcKind::from(r.arpc.as_ref()),
                r.mk_derivation,
                &r.pan,
                r.transaction_data.len(),
                r.padding,
            )?,
            Request::GenerateArqc(r) => self.check_arqc(
                &r.session,
                ArpcKind::None,
                r.mk_derivation,
                &r.pan,
                r.transaction_data.len(),
                r.padding,
            )?,
            Request::GenerateCardValidation(r) => {
                self.check_card(&r.kind, true)?;
                self.check_card_length(r.length.get())?;
            }
            Request::VerifyCardValidation(r) => {
                self.check_card(&r.kind, false)?;
                self.check_card_length(r.value.len())?;
            }
            Request::GenerateMac(r) => {
                self.check_mac(r.algorithm, r.data.is_empty())?;
                if let (Some(n), Some(lens)) = (r.mac_length, &self.mac_lengths) {
                    if !lens.contains(&n) {
                        return Err(unsupported(format!("{n}-byte MACs")));
                    }
                }
            }
            Request::VerifyMac(r) => {
                self.check_mac(r.algorithm, r.data.is_empty())?;
                if let Some(lens) = &self.mac_lengths {
                    if !lens.contains(&r.mac.len()) {
                        return Err(unsupported(format!("{}-byte MACs", r.mac.len())));
                    }
                }
            }
            Request::GenerateKey(r) => self.check_key_algorithm(r.attributes.algorithm)?,
            Request::ImportKey(r) => match &r.material {
                KeyMaterial::Components { attributes, .. } => {
                    if !self.import_components {
                        return Err(unsupported("key import from clear components"));
                    }
                    self.check_key_algorithm(attributes.algorithm)?;
                }
                KeyMaterial::Tr34(_) => self.check_key_exchange(KeyExchangeKind::Tr34Import)?,
                KeyMaterial::Ecdh { .. } => self.check_key_exchange(KeyExchangeKind::EcdhImport)?,
                KeyMaterial::RootCertificate { .. } | KeyMaterial::TrustedCertificate { .. } => {
                    self.check_key_exchange(KeyExchangeKind::CertificateImport)?
                }
                KeyMaterial::Tr31 { .. } => {}
            },
            Request::ExportKey(r) => match &r.method {
                ExportMethod::Tr31 { version, .. } if !self.tr31_export.contains(version) => {
                    return Err(unsupported(format!(
                        "TR-31 export in version {}",
                        version.as_char()
                    )));
                }
                ExportMethod::Tr34(_) => self.check_key_exchange(KeyExchangeKind::Tr34Export)?,
                ExportMethod::Ecdh(_) => self.check_key_exchange(KeyExchangeKind::EcdhExport)?,
                ExportMethod::Tr31 { .. } => {}
            },
            _ => {}
        }
        Ok(())
    }

    /// Refuses a key exchange method with `Unsupported` unless declared.
    pub fn check_key_exchange(&self, kind: KeyExchangeKind) -> Result<()> {
        if self.key_exchange.contains(&kind) {
            Ok(())
        } else {
            Err(unsupported(format!("key exchange {kind:?}")))
        }
    }

    /// Refuses a key of `alg` with `Unsupported` unless declared.
    pub fn check_key_algorithm(&self, alg: KeyAlgorithm) -> Result<()> {
        if self.supports_key_algorithm(alg) {
            Ok(())
        } else {
            Err(unsupported(format!("{} keys", alg.aws_name())))
        }
    }

    /// An ARQC (verified, or generated with `ArpcKind::None`) with this
    /// session key, MK derivation, PAN and data length.
    fn check_arqc(
        &self,
        session: &SessionKeyDerivation,
        arpc: ArpcKind,
        mk: MkDerivation,
        pan: &crate::types::Pan,
        data_len: usize,
        padding: Iso9797Padding,
    ) -> Result<()> {
        let combo = (SessionKind::from(session), arpc);
        if !self.arqc.contains(&combo) {
            return Err(unsupported(format!(
                "ARQC with session key {:?} and ARPC {:?}",
                combo.0, combo.1
            )));
        }
        if mk == MkDerivation::OptionB
            && pan.expose().len() > 16
            && !self.mk_option_b_long_pan.contains(&combo.0)
        {
            return Err(unsupported(
                "ICC master key option B for a PAN of more than 16 digits",
            ));
        }
        if let Some(max) = self.arqc_max_data_len {
            if padded_len(data_len, padding) > max {
                return Err(unsupported(format!(
                    "ARQC transaction data over {max} bytes after padding"
                )));
            }
        }
        Ok(())
    }

    fn check_card(&self, kind: &CardValidationKind, generate: bool) -> Result<()> {
        let t = kind.kind_type();
        let (set, what) = if generate {
            (&self.card_validation_generate, "generation")
        } else {
            (&self.card_validation_verify, "verification")
        };
        if set.contains(&t) {
            self.card_validation.check(kind)
        } else {
            Err(unsupported(format!("card validation {what} of kind {t:?}")))
        }
    }

    fn check_card_length(&self, digits: usize) -> Result<()> {
        if self.card_value_lengths.contains(&digits) {
            Ok(())
        } else {
            Err(unsupported(format!(
                "{digits}-digit card validation values"
            )))
        }
    }

    fn check_format(&self, f: PinBlockFormat) -> Result<()> {
        if self.pin_formats.contains(&f) {
            Ok(())
        } else {
            Err(unsupported(format!(
                "ISO 9564 PIN block format {}",
                f.code()
            )))
        }
    }

    fn check_data_key(&self, key: &DataKey) -> Result<()> {
        if let DataKey::Dukpt { dukpt, variant } = key {
            self.check_dukpt(dukpt)?;
            if !self.dukpt_data_variants.contains(variant) {
                return Err(unsupported(format!("DUKPT data key variant {variant:?}")));
            }
        }
        Ok(())
    }

    fn check_dukpt(&self, d: &Dukpt) -> Result<()> {
        let kind = if d.ksn.is_aes() {
            DukptKind::Aes
        } else {
            DukptKind::Tdes
        };
        if !self.dukpt.contains(&kind) {
            return Err(unsupported(format!("{kind:?} DUKPT")));
        }
        self.check_key_algorithm(d.key_type)
    }

    fn check_mac(&self, alg: MacAlgorithm, empty: bool) -> Result<()> {
        let kind = MacKind::from(alg);
        if !self.mac_algorithms.contains(&kind) {
            return Err(unsupported(format!("MAC algorithm {kind:?}")));
        }
        if empty
            && !matches!(kind, MacKind::Iso9797Alg1 | MacKind::Iso9797Alg3)
            && !self.mac_empty_message
        {
            return Err(unsupported(format!("{kind:?} of an empty message")));
        }
        Ok(())
    }
}

/// Length of `len` bytes after ISO 9797-1 `padding` to 8-byte blocks.
fn padded_len(len: usize, padding: Iso9797Padding) -> usize {
    let round = |n: usize| n.div_ceil(8) * 8;
    match padding {
        Iso9797Padding::None => len,
        Iso9797Padding::Method1 => round(len.max(1)),
        Iso9797Padding::Method2 => round(len + 1),
        Iso9797Padding::Method3 => 8 + if len == 0 { 0 } else { round(len) },
    }
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::unsupported(format!("not supported by this backend: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::mac::pad_into;

    #[test]
    fn padded_len_matches_the_padding_code() {
        for len in 0..40 {
            for p in [
                Iso9797Padding::Method1,
                Iso9797Padding::Method2,
                Iso9797Padding::Method3,
            ] {
                let mut out = vec![0u8; len + 24];
                let n = pad_into(&vec![0xAB; len], p, 8, &mut out).unwrap();
                assert_eq!(padded_len(len, p), n, "{len} {p:?}");
            }
        }
    }

    #[test]
    fn pin_data_limits_refuse_what_an_hsm_cannot_express() {
        use crate::types::{
            DecimalizationTable, KeyId, PadCharacter, Pan, PinLength, PinValidationData,
        };
        let ibm = |table: &str, data: &str| Ibm3624 {
            decimalization_table: DecimalizationTable::new(table).unwrap(),
            validation_data: PinValidationData::new(data).unwrap(),
            pad: PadCharacter::F,
        };
        let pan = Pan::new("5400089000094").unwrap();
        let req = |ibm: Ibm3624| {
            Request::GeneratePinData(GeneratePinDataRequest {
                generation_key: KeyId::new("pvk").unwrap(),
                encryption_key: KeyId::new("zpk").unwrap(),
                format: PinBlockFormat::Iso0,
                pan: pan.clone(),
                method: PinGeneration::Ibm3624NaturalPin {
                    ibm,
                    pin_length: PinLength::FOUR,
                },
            })
        };
        let good = req(ibm("0123456789012345", "5022654000000092"));
        let weak = req(ibm("0000111122223333", "5022654000000092"));
        let elsewhere = req(ibm("0123456789012345", "1234567890"));
        let all = Capabilities::all();
        for r in [&good, &weak, &elsewhere] {
            assert!(all.check(r).is_ok());
        }
        let mut ps = Capabilities::all();
        ps.pin_data.validation_data_holds_account = true;
        ps.pin_data.checked_decimalization_tables = true;
        assert!(ps.check(&good).is_ok());
        assert!(ps
            .check(&weak)
            .unwrap_err()
            .to_string()
            .contains("decimalisation"));
        assert!(ps
            .check(&elsewhere)
            .unwrap_err()
            .to_string()
            .contains("validation data"));
        // The account digits 00009 sit at 10 in the padded data (`N` there).
        if let Request::GeneratePinData(r) = &good {
            assert_eq!(r.method.ibm().unwrap().account_digits_at(&pan), Some(10));
        }
        // A shadowed pair has the limits of both.
        assert_eq!(all.intersection(&ps).pin_data, ps.pin_data);
    }

    #[test]
    fn card_validation_limits_refuse_a_dcvv_psn_other_than_00() {
        use crate::types::{CardExpiry, Cvv, KeyId, Pan, Psn, ServiceCode};
        let req = |psn: &str| {
            Request::VerifyCardValidation(VerifyCardValidationRequest {
                key: KeyId::new("imk").unwrap(),
                pan: Pan::new("4123456789012345").unwrap(),
                expiry: CardExpiry::new("2512").unwrap(),
                kind: CardValidationKind::DynamicCvv {
                    psn: Psn::new(psn).unwrap(),
                    service_code: ServiceCode::new("201").unwrap(),
                    atc: [0, 1],
                },
                value: Cvv::new("123").unwrap(),
            })
        };
        let all = Capabilities::all();
        assert!(all.check(&req("01")).is_ok());
        let mut ps = Capabilities::all();
        ps.card_validation.dynamic_cvv_psn_zero = true;
        assert!(ps.check(&req("00")).is_ok());
        let e = ps.check(&req("01")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        assert!(e.to_string().contains("PAN sequence number"), "{e}");
        assert_eq!(all.intersection(&ps).card_validation, ps.card_validation);
    }

    #[test]
    fn intersection_keeps_what_both_have() {
        let mut a = Capabilities::all();
        a.pin_formats.remove(&PinBlockFormat::Iso4);
        a.mac_lengths = Some([4, 8].into_iter().collect());
        let b = Capabilities::all();
        let c = a.intersection(&b);
        assert!(!c.pin_formats.contains(&PinBlockFormat::Iso4));
        assert_eq!(c.mac_lengths, a.mac_lengths);
        assert_eq!(Capabilities::all().intersection(&b), b);
    }
}

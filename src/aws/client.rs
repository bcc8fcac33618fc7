//! [`AwsBackend`]: the crate's operations on AWS Payment Cryptography.

use super::convert::{self, alias_for_new_key, kcv, key_identifier, unhex};
use super::error::{code, map, verification};
use crate::algo::mac::{pad_into, Padding};
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::backend::{Backend, Capabilities};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::types::{Cvv, KeyAlgorithm, KeyId, SecretBytes, Verification};
use async_trait::async_trait;
use aws_sdk_paymentcryptography as cp;
use aws_sdk_paymentcryptographydata as dp;
use aws_sdk_paymentcryptographydata::types as dt;
use std::collections::HashMap;
use std::sync::Mutex;

/// The AWS Payment Cryptography backend.
///
/// Built from the standard AWS configuration chain ([`AwsBackend::from_env`])
/// or explicitly ([`AwsBackend::builder`]: endpoint URL, region,
/// credentials). Both SDK clients share one HTTP client, so connections are
/// pooled and reused.
///
/// | Operation | Service call |
/// |---|---|
/// | translate_pin | TranslatePinData (ISO 0/1/3/4; incoming DUKPT) |
/// | encrypt_data / decrypt_data | EncryptData / DecryptData (Symmetric or Dukpt; ECB/CBC) |
/// | generate/verify_card_validation | Generate/VerifyCardValidationData (CVV1; CVV2; iCVV = CVV1 with service code 999) |
/// | verify_arqc | VerifyAuthRequestCryptogram (EmvCommon, Mastercard, Visa; ARPC 1/2) |
/// | generate_mac / verify_mac | GenerateMac / VerifyMac (ISO 9797-1 alg 1/3, CMAC, HMAC-SHA-256) |
/// | generate_key | CreateKey + CreateAlias |
/// | import_key | ImportKey (Tr31KeyBlock; components as an RSA-OAEP KeyCryptogram) + CreateAlias |
/// | export_key | ExportKey (Tr31KeyBlock; version B under TDES KEKs, D under AES KEKs) |
/// | get_key_info | GetKey |
/// | delete_key | DeleteKey (scheduled, 3 days) + DeleteAlias |
///
/// Not available on the service (answered [`ErrorKind::Unsupported`]): ISO
/// format 2 PIN blocks, TR-31 versions A and C on export, exportability `S`
/// (the service has only exportable / non-exportable).
#[derive(Debug)]
pub struct AwsBackend {
    name: String,
    control: cp::Client,
    data: dp::Client,
    algorithms: Mutex<HashMap<String, KeyAlgorithm>>,
}

/// What AWS Payment Cryptography does that the crate models: everything but
/// ISO format 2 PIN blocks (`TranslationIsoFormats` has none), CMAC / HMAC
/// over an empty message (`MessageData` takes 1 to 4096 bytes), and TR-31
/// export in versions A and C (the service exports B and D).
static AWS_CAPABILITIES: std::sync::LazyLock<Capabilities> = std::sync::LazyLock::new(|| {
    let mut c = Capabilities::all();
    c.pin_formats.remove(&PinBlockFormat::Iso2);
    c.mac_empty_message = false;
    c.tr31_export = [Tr31Version::B, Tr31Version::D].into_iter().collect();
    c
});

/// Builds an [`AwsBackend`].
#[derive(Debug, Default)]
pub struct AwsBackendBuilder {
    name: Option<String>,
    endpoint_url: Option<String>,
    region: Option<String>,
    credentials: Option<(String, SecretString, Option<SecretString>)>,
    sdk_retries: Option<bool>,
}

/// A string that never prints.
#[derive(Clone)]
struct SecretString(String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl AwsBackendBuilder {
    /// Backend name in reports (default `aws`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// One endpoint URL for both APIs (an emulator, a VPC endpoint).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// The region (otherwise from the AWS configuration chain).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Static credentials (otherwise from the AWS configuration chain).
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.credentials = Some((
            access_key_id.into(),
            SecretString(secret_access_key.into()),
            session_token.map(SecretString),
        ));
        self
    }

    /// Whether the SDK retries throttled and failed calls itself (default:
    /// yes, the SDK's standard mode). Turn off when a retry layer wraps the
    /// backend, so calls are not retried twice.
    pub fn sdk_retries(mut self, enabled: bool) -> Self {
        self.sdk_retries = Some(enabled);
        self
    }

    /// Loads the configuration and builds the backend.
    pub async fn build(self) -> AwsBackend {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = self.region {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(u) = self.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        if let Some((ak, sk, token)) = self.credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                ak,
                sk.0,
                token.map(|t| t.0),
                None,
                "paycrypto",
            ));
        }
        if self.sdk_retries == Some(false) {
            loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
        }
        let conf = loader.load().await;
        AwsBackend::from_clients(cp::Client::new(&conf), dp::Client::new(&conf))
            .with_name(self.name.unwrap_or_else(|| "aws".into()))
    }
}

fn block_of(alg: KeyAlgorithm) -> usize {
    if alg.is_aes() {
        16
    } else {
        8
    }
}

fn hexu(b: &[u8]) -> String {
    hex::encode_upper(b)
}

fn pin_format(f: PinBlockFormat, pan: &str) -> Result<dt::TranslationIsoFormats> {
    let f034 = || {
        dt::TranslationPinDataIsoFormat034::builder()
            .primary_account_number(pan)
            .build()
            .map_err(|e| Error::invalid("pan", "missing").with_source(e))
    };
    Ok(match f {
        PinBlockFormat::Iso0 => dt::TranslationIsoFormats::IsoFormat0(f034()?),
        PinBlockFormat::Iso1 => dt::TranslationIsoFormats::IsoFormat1(
            dt::TranslationPinDataIsoFormat1::builder().build(),
        ),
        PinBlockFormat::Iso3 => dt::TranslationIsoFormats::IsoFormat3(f034()?),
        PinBlockFormat::Iso4 => dt::TranslationIsoFormats::IsoFormat4(f034()?),
        PinBlockFormat::Iso2 => {
            return Err(Error::unsupported(
                "ISO format 2 PIN blocks (AWS Payment Cryptography translates ISO 0, 1, 3 and 4)",
            ))
        }
    })
}

fn dukpt_type(a: KeyAlgorithm) -> Result<dt::DukptDerivationType> {
    Ok(dt::DukptDerivationType::from(match a {
        KeyAlgorithm::HmacSha256 => {
            return Err(Error::invalid(
                "dukpt key type",
                "HMAC is not a DUKPT working key type",
            ))
        }
        a => a.aws_name(),
    }))
}

fn variant(v: DukptVariant) -> dt::DukptKeyVariant {
    match v {
        DukptVariant::Request => dt::DukptKeyVariant::Request,
        DukptVariant::Response => dt::DukptKeyVariant::Response,
        DukptVariant::Bidirectional => dt::DukptKeyVariant::Bidirectional,
    }
}

fn built<T, E: std::error::Error + Send + Sync + 'static>(
    r: std::result::Result<T, E>,
    what: &'static str,
) -> Result<T> {
    r.map_err(|e| Error::invalid(what, "incomplete request").with_source(e))
}

impl AwsBackend {
    /// A backend configured from the standard AWS configuration chain
    /// (environment, profile, SSO, IMDS…).
    pub async fn from_env() -> Self {
        AwsBackendBuilder::default().build().await
    }

    /// A builder for explicit configuration.
    pub fn builder() -> AwsBackendBuilder {
        AwsBackendBuilder::default()
    }

    /// A backend over existing SDK clients.
    pub fn from_clients(control: cp::Client, data: dp::Client) -> Self {
        Self {
            name: "aws".into(),
            control,
            data,
            algorithms: Mutex::new(HashMap::new()),
        }
    }

    /// Renames the backend (for reports).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The key's algorithm (GetKey, cached per identifier).
    async fn algorithm_of(&self, ident: &str) -> Result<KeyAlgorithm> {
        if let Some(a) = self.cache().get(ident) {
            return Ok(*a);
        }
        let out = self
            .control
            .get_key()
            .key_identifier(ident)
            .send()
            .await
            .map_err(|e| map(e, "GetKey"))?;
        let k = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "GetKey returned no key"))?;
        let a = k
            .key_attributes()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "key without attributes"))?;
        let alg = convert::algorithm(a.key_algorithm().as_str())?;
        self.cache().insert(ident.to_owned(), alg);
        Ok(alg)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyAlgorithm>> {
        self.algorithms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails with KeyExists when `alias` already names a key.
    async fn check_alias_free(&self, alias: &str) -> Result<bool> {
        match self.control.get_alias().alias_name(alias).send().await {
            Ok(out) => {
                if out.alias().and_then(|a| a.key_arn()).is_some() {
                    Err(Error::new(
                        ErrorKind::KeyExists,
                        format!("a key named {alias} already exists"),
                    ))
                } else {
                    Ok(true)
                }
            }
            Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(map(e, "GetAlias")),
        }
    }

    /// Binds `alias` to a new key; deletes the key when that fails.
    async fn bind(
        &self,
        id: &KeyId,
        alias: &str,
        alias_exists: bool,
        key: &cp::types::Key,
    ) -> Result<KeyInfo> {
        let arn = key.key_arn();
        let r = if alias_exists {
            self.control
                .update_alias()
                .alias_name(alias)
                .key_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map(e, "UpdateAlias"))
        } else {
            self.control
                .create_alias()
                .alias_name(alias)
                .key_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map(e, "CreateAlias"))
        };
        if let Err(e) = r {
            let _ = self
                .control
                .delete_key()
                .key_identifier(arn)
                .delete_key_in_days(3)
                .send()
                .await;
            return Err(e);
        }
        self.cache().remove(alias);
        convert::key_info(id.clone(), key)
    }

    async fn translate_pin(&self, r: TranslatePinRequest) -> Result<TranslatePinResponse> {
        let pan = r.pan.expose();
        let mut b = self
            .data
            .translate_pin_data()
            .outgoing_key_identifier(key_identifier(&r.outgoing_key))
            .incoming_translation_attributes(pin_format(r.incoming_format, pan)?)
            .outgoing_translation_attributes(pin_format(r.outgoing_format, pan)?)
            .encrypted_pin_block(hexu(r.pin_block.as_bytes()));
        b = match &r.incoming_key {
            PinKey::Key(k) => b.incoming_key_identifier(key_identifier(k)),
            PinKey::Dukpt(d) => b
                .incoming_key_identifier(key_identifier(&d.bdk))
                .incoming_dukpt_attributes(built(
                    dt::DukptDerivationAttributes::builder()
                        .key_serial_number(d.ksn.to_hex())
                        .dukpt_key_derivation_type(dukpt_type(d.key_type)?)
                        .build(),
                    "dukpt attributes",
                )?),
        };
        let out = b.send().await.map_err(|e| map(e, "TranslatePinData"))?;
        let block = unhex("PinBlock", out.pin_block())?;
        Ok(TranslatePinResponse {
            pin_block: EncryptedPinBlock::from_bytes(&block).map_err(|_| {
                Error::new(
                    ErrorKind::Protocol,
                    "service returned a PIN block of a bad length",
                )
            })?,
            format: r.outgoing_format,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    fn crypt_attrs(
        key: &DataKey,
        mode: &CipherMode,
    ) -> Result<(String, dt::EncryptionDecryptionAttributes)> {
        let iv = match mode {
            CipherMode::Ecb => None,
            CipherMode::Cbc { iv } => Some(hexu(iv)),
        };
        Ok(match key {
            DataKey::Key(k) => {
                let m = match mode {
                    CipherMode::Ecb => dt::EncryptionMode::Ecb,
                    CipherMode::Cbc { .. } => dt::EncryptionMode::Cbc,
                };
                let a = built(
                    dt::SymmetricEncryptionAttributes::builder()
                        .mode(m)
                        .set_initialization_vector(iv)
                        .build(),
                    "symmetric attributes",
                )?;
                (
                    key_identifier(k),
                    dt::EncryptionDecryptionAttributes::Symmetric(a),
                )
            }
            DataKey::Dukpt { dukpt, variant: v } => {
                let m = match mode {
                    CipherMode::Ecb => dt::DukptEncryptionMode::Ecb,
                    CipherMode::Cbc { .. } => dt::DukptEncryptionMode::Cbc,
                };
                let a = built(
                    dt::DukptEncryptionAttributes::builder()
                        .key_serial_number(dukpt.ksn.to_hex())
                        .mode(m)
                        .dukpt_key_derivation_type(dukpt_type(dukpt.key_type)?)
                        .dukpt_key_variant(variant(*v))
                        .set_initialization_vector(iv)
                        .build(),
                    "dukpt attributes",
                )?;
                (
                    key_identifier(&dukpt.bdk),
                    dt::EncryptionDecryptionAttributes::Dukpt(a),
                )
            }
        })
    }

    async fn encrypt_data(&self, r: EncryptDataRequest) -> Result<EncryptDataResponse> {
        let (ident, attrs) = Self::crypt_attrs(&r.key, &r.mode)?;
        let out = self
            .data
            .encrypt_data()
            .key_identifier(ident)
            .plain_text(hexu(r.plaintext.expose()))
            .encryption_attributes(attrs)
            .send()
            .await
            .map_err(|e| map(e, "EncryptData"))?;
        Ok(EncryptDataResponse {
            ciphertext: unhex("CipherText", out.cipher_text())?,
            key_check_value: kcv(out.key_check_value().unwrap_or_default())?,
        })
    }

    async fn decrypt_data(&self, r: DecryptDataRequest) -> Result<DecryptDataResponse> {
        let (ident, attrs) = Self::crypt_attrs(&r.key, &r.mode)?;
        let out = self
            .data
            .decrypt_data()
            .key_identifier(ident)
            .cipher_text(hexu(&r.ciphertext))
            .decryption_attributes(attrs)
            .send()
            .await
            .map_err(|e| map(e, "DecryptData"))?;
        let plain = zeroize::Zeroizing::new(unhex("PlainText", out.plain_text())?);
        Ok(DecryptDataResponse {
            plaintext: SecretBytes::from_slice(&plain),
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    fn cv_attrs(
        kind: CardValidationKind,
        expiry: &str,
    ) -> Result<(
        Option<dt::CardVerificationValue1>,
        Option<dt::CardVerificationValue2>,
    )> {
        Ok(match kind {
            CardValidationKind::Cvv(_) | CardValidationKind::Icvv => (
                Some(built(
                    dt::CardVerificationValue1::builder()
                        .card_expiry_date(expiry)
                        .service_code(kind.service_code().as_str())
                        .build(),
                    "cvv attributes",
                )?),
                None,
            ),
            CardValidationKind::Cvv2 => (
                None,
                Some(built(
                    dt::CardVerificationValue2::builder()
                        .card_expiry_date(expiry)
                        .build(),
                    "cvv2 attributes",
                )?),
            ),
        })
    }

    async fn generate_cv(
        &self,
        r: GenerateCardValidationRequest,
    ) -> Result<GenerateCardValidationResponse> {
        let attrs = match Self::cv_attrs(r.kind, r.expiry.as_str())? {
            (Some(a), _) => dt::CardGenerationAttributes::CardVerificationValue1(a),
            (_, Some(b)) => dt::CardGenerationAttributes::CardVerificationValue2(b),
            _ => return Err(Error::unsupported("card validation kind")),
        };
        let out = self
            .data
            .generate_card_validation_data()
            .key_identifier(key_identifier(&r.key))
            .primary_account_number(r.pan.expose())
            .generation_attributes(attrs)
            .validation_data_length(3)
            .send()
            .await
            .map_err(|e| map(e, "GenerateCardValidationData"))?;
        Ok(GenerateCardValidationResponse {
            value: Cvv::from_ascii(out.validation_data().as_bytes()).ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "GenerateCardValidationData: ValidationData is not 3 digits",
                )
            })?,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    async fn verify_cv(&self, r: VerifyCardValidationRequest) -> Result<VerifyResponse> {
        let attrs = match Self::cv_attrs(r.kind, r.expiry.as_str())? {
            (Some(a), _) => dt::CardVerificationAttributes::CardVerificationValue1(a),
            (_, Some(b)) => dt::CardVerificationAttributes::CardVerificationValue2(b),
            _ => return Err(Error::unsupported("card validation kind")),
        };
        let res = self
            .data
            .verify_card_validation_data()
            .key_identifier(key_identifier(&r.key))
            .primary_account_number(r.pan.expose())
            .verification_attributes(attrs)
            .validation_data(r.value.expose())
            .send()
            .await;
        Ok(VerifyResponse {
            verification: verification(res, "VerifyCardValidationData")?,
        })
    }

    async fn verify_arqc(&self, r: VerifyArqcRequest) -> Result<VerifyArqcResponse> {
        let pan = r.pan.expose();
        let psn = r.psn.as_str();
        let session = match r.session {
            SessionKeyDerivation::EmvCommon { atc } => dt::SessionKeyDerivation::EmvCommon(built(
                dt::SessionKeyEmvCommon::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .application_transaction_counter(hexu(&atc))
                    .build(),
                "session key attributes",
            )?),
            SessionKeyDerivation::Mastercard {
                atc,
                unpredictable_number,
            } => dt::SessionKeyDerivation::Mastercard(built(
                dt::SessionKeyMastercard::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .application_transaction_counter(hexu(&atc))
                    .unpredictable_number(hexu(&unpredictable_number))
                    .build(),
                "session key attributes",
            )?),
            SessionKeyDerivation::Visa => dt::SessionKeyDerivation::Visa(built(
                dt::SessionKeyVisa::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .build(),
                "session key attributes",
            )?),
        };
        // The service MACs the transaction data as given: apply any padding here.
        let data = match r.padding {
            Padding::None => r.transaction_data.clone(),
            p => pad(&r.transaction_data, p, 8)?,
        };
        let arpc = match &r.arpc {
            None => None,
            Some(ArpcMethod::Method1 { arc }) => {
                Some(dt::CryptogramAuthResponse::ArpcMethod1(built(
                    dt::CryptogramVerificationArpcMethod1::builder()
                        .auth_response_code(hexu(arc))
                        .build(),
                    "arpc method 1",
                )?))
            }
            Some(ArpcMethod::Method2 {
                csu,
                proprietary_data,
            }) => Some(dt::CryptogramAuthResponse::ArpcMethod2(built(
                dt::CryptogramVerificationArpcMethod2::builder()
                    .card_status_update(hexu(csu))
                    .set_proprietary_authentication_data(
                        (!proprietary_data.is_empty()).then(|| hexu(proprietary_data.as_bytes())),
                    )
                    .build(),
                "arpc method 2",
            )?)),
        };
        let res = self
            .data
            .verify_auth_request_cryptogram()
            .key_identifier(key_identifier(&r.key))
            .transaction_data(hexu(&data))
            .auth_request_cryptogram(hexu(&r.arqc))
            .major_key_derivation_mode(match r.mk_derivation {
                MkDerivation::OptionA => dt::MajorKeyDerivationMode::EmvOptionA,
                MkDerivation::OptionB => dt::MajorKeyDerivationMode::EmvOptionB,
            })
            .session_key_derivation_attributes(session)
            .set_auth_response_attributes(arpc)
            .send()
            .await;
        match res {
            Ok(out) => Ok(VerifyArqcResponse {
                verification: Verification::Verified,
                arpc: match out.auth_response_value() {
                    Some(v) => Some(unhex("AuthResponseValue", v)?),
                    None => None,
                },
            }),
            Err(e) if code(&e) == Some("VerificationFailedException") => Ok(VerifyArqcResponse {
                verification: Verification::Failed,
                arpc: None,
            }),
            Err(e) => Err(map(e, "VerifyAuthRequestCryptogram")),
        }
    }

    /// Service algorithm and message for a crate MAC request. The service
    /// pads ISO 9797-1 MACs with method 1; other paddings are applied here.
    async fn mac_input(
        &self,
        key: &KeyId,
        alg: MacAlgorithm,
        data: &[u8],
    ) -> Result<(dt::MacAlgorithm, Vec<u8>)> {
        let ident = key_identifier(key);
        let padded = |p: Padding, block: usize| -> Result<Vec<u8>> {
            match p {
                Padding::Method1 if !data.is_empty() => Ok(data.to_vec()),
                Padding::None => {
                    if data.is_empty() || data.len() % block != 0 {
                        Err(Error::invalid("data", format!("length {} bytes is not a positive multiple of the {block}-byte block (padding none)", data.len())))
                    } else {
                        Ok(data.to_vec())
                    }
                }
                p => pad(data, p, block),
            }
        };
        if data.is_empty() && matches!(alg, MacAlgorithm::Cmac | MacAlgorithm::HmacSha256) {
            // MessageData takes 1 to 4096 bytes (2 to 8192 hex digits).
            return Err(Error::unsupported(
                "MACs of an empty message (AWS Payment Cryptography takes 1 to 4096 bytes of message data)",
            ));
        }
        Ok(match alg {
            MacAlgorithm::Iso9797Alg1(p) => {
                let block = if matches!(p, Padding::Method1) && !data.is_empty() {
                    8
                } else if matches!(p, Padding::None) && !data.is_empty() && data.len() % 16 == 0 {
                    16
                } else {
                    block_of(self.algorithm_of(&ident).await?)
                };
                (dt::MacAlgorithm::Iso9797Algorithm1, padded(p, block)?)
            }
            MacAlgorithm::Iso9797Alg3(p) => (dt::MacAlgorithm::Iso9797Algorithm3, padded(p, 8)?),
            MacAlgorithm::Cmac => (dt::MacAlgorithm::Cmac, data.to_vec()),
            MacAlgorithm::HmacSha256 => (dt::MacAlgorithm::HmacSha256, data.to_vec()),
        })
    }

    async fn generate_mac(&self, r: GenerateMacRequest) -> Result<GenerateMacResponse> {
        let (alg, data) = self.mac_input(&r.key, r.algorithm, &r.data).await?;
        let out = self
            .data
            .generate_mac()
            .key_identifier(key_identifier(&r.key))
            .message_data(hexu(&data))
            .generation_attributes(dt::MacAttributes::Algorithm(alg))
            .send()
            .await
            .map_err(|e| map(e, "GenerateMac"))?;
        let mut mac = unhex("Mac", out.mac())?;
        if let Some(n) = r.mac_length {
            if n < 4 || n > mac.len() {
                return Err(Error::invalid(
                    "mac length",
                    format!("must be 4 to {} bytes", mac.len()),
                ));
            }
            mac.truncate(n);
        }
        Ok(GenerateMacResponse {
            mac,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    async fn verify_mac(&self, r: VerifyMacRequest) -> Result<VerifyResponse> {
        let (alg, data) = self.mac_input(&r.key, r.algorithm, &r.data).await?;
        let len = i32::try_from(r.mac.len()).ok().filter(|n| *n <= 16);
        let res = self
            .data
            .verify_mac()
            .key_identifier(key_identifier(&r.key))
            .message_data(hexu(&data))
            .mac(hexu(&r.mac))
            .verification_attributes(dt::MacAttributes::Algorithm(alg))
            .set_mac_length(len)
            .send()
            .await;
        Ok(VerifyResponse {
            verification: verification(res, "VerifyMac")?,
        })
    }

    async fn generate_key(&self, r: GenerateKeyRequest) -> Result<KeyInfo> {
        r.attributes.validate()?;
        let alias = alias_for_new_key(&r.key_id)?;
        let exists = self.check_alias_free(&alias).await?;
        let out = self
            .control
            .create_key()
            .key_attributes(convert::attributes_to_sdk(&r.attributes)?)
            .exportable(r.attributes.exportability.allows_export())
            .enabled(true)
            .send()
            .await
            .map_err(|e| map(e, "CreateKey"))?;
        let key = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "CreateKey returned no key"))?;
        self.bind(&r.key_id, &alias, exists, key).await
    }

    async fn import_key(&self, r: ImportKeyRequest) -> Result<KeyInfo> {
        let alias = alias_for_new_key(&r.key_id)?;
        let material = match r.material {
            KeyMaterial::Tr31 { kek, key_block } => {
                cp::types::ImportKeyMaterial::Tr31KeyBlock(built(
                    cp::types::ImportTr31KeyBlock::builder()
                        .wrapping_key_identifier(key_identifier(&kek))
                        .wrapped_key_block(key_block)
                        .build(),
                    "tr31 import",
                )?)
            }
            KeyMaterial::Components {
                attributes,
                components,
                component_kcvs,
            } => {
                attributes.validate()?;
                let clear = crate::keyload::combine_checked_components(
                    attributes.algorithm,
                    &components,
                    &component_kcvs,
                )?;
                let params = self
                    .control
                    .get_parameters_for_import()
                    .key_material_type(cp::types::KeyMaterialType::KeyCryptogram)
                    .wrapping_key_algorithm(cp::types::KeyAlgorithm::Rsa2048)
                    .send()
                    .await
                    .map_err(|e| map(e, "GetParametersForImport"))?;
                let cryptogram = rsa_oaep_sha256(params.wrapping_key_certificate(), &clear)?;
                cp::types::ImportKeyMaterial::KeyCryptogram(built(
                    cp::types::ImportKeyCryptogram::builder()
                        .key_attributes(convert::attributes_to_sdk(&attributes)?)
                        .exportable(attributes.exportability.allows_export())
                        .wrapped_key_cryptogram(hexu(&cryptogram))
                        .import_token(params.import_token())
                        .wrapping_spec(cp::types::WrappingKeySpec::RsaOaepSha256)
                        .build(),
                    "key cryptogram import",
                )?)
            }
        };
        let exists = self.check_alias_free(&alias).await?;
        let out = self
            .control
            .import_key()
            .key_material(material)
            .enabled(true)
            .send()
            .await
            .map_err(|e| map(e, "ImportKey"))?;
        let key = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "ImportKey returned no key"))?;
        if let Some(expected) = r.expected_kcv {
            if kcv(key.key_check_value())? != expected {
                let _ = self
                    .control
                    .delete_key()
                    .key_identifier(key.key_arn())
                    .delete_key_in_days(3)
                    .send()
                    .await;
                return Err(Error::invalid(
                    "kcv",
                    "the imported key does not match the expected KCV",
                ));
            }
        }
        self.bind(&r.key_id, &alias, exists, key).await
    }

    async fn export_key(&self, r: ExportKeyRequest) -> Result<ExportKeyResponse> {
        if !matches!(r.version, Tr31Version::B | Tr31Version::D) {
            return Err(Error::unsupported(
                "TR-31 versions other than B and D on export",
            ));
        }
        let out = self
            .control
            .export_key()
            .export_key_identifier(key_identifier(&r.key))
            .key_material(cp::types::ExportKeyMaterial::Tr31KeyBlock(built(
                cp::types::ExportTr31KeyBlock::builder()
                    .wrapping_key_identifier(key_identifier(&r.kek))
                    .build(),
                "tr31 export",
            )?))
            .send()
            .await
            .map_err(|e| map(e, "ExportKey"))?;
        let w = out
            .wrapped_key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "ExportKey returned no key"))?;
        let block = w.key_material().to_owned();
        if !block.starts_with(r.version.as_char()) {
            return Err(Error::unsupported(format!(
                "TR-31 version {} under this KEK (the service chose {})",
                r.version.as_char(),
                block.chars().next().unwrap_or('?')
            )));
        }
        Ok(ExportKeyResponse {
            key_block: block,
            key_check_value: kcv(w.key_check_value().unwrap_or_default())?,
        })
    }

    async fn get_key_info(&self, r: GetKeyInfoRequest) -> Result<KeyInfo> {
        let out = self
            .control
            .get_key()
            .key_identifier(key_identifier(&r.key))
            .send()
            .await
            .map_err(|e| map(e, "GetKey"))?;
        let k = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "GetKey returned no key"))?;
        if k.key_state() != &cp::types::KeyState::CreateComplete {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("key {} is {}", r.key, k.key_state().as_str()),
            ));
        }
        convert::key_info(r.key, k)
    }

    async fn delete_key(&self, r: DeleteKeyRequest) -> Result<DeleteKeyResponse> {
        let ident = key_identifier(&r.key);
        self.control
            .delete_key()
            .key_identifier(&ident)
            .delete_key_in_days(3)
            .send()
            .await
            .map_err(|e| map(e, "DeleteKey"))?;
        if ident.starts_with("alias/") {
            match self.control.delete_alias().alias_name(&ident).send().await {
                Ok(_) => {}
                Err(e) if code(&e) == Some("ResourceNotFoundException") => {}
                Err(e) => return Err(map(e, "DeleteAlias")),
            }
        }
        self.cache().remove(&ident);
        Ok(DeleteKeyResponse { key: r.key })
    }
}

fn pad(data: &[u8], p: Padding, block: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; data.len() + 2 * block];
    let n = pad_into(data, p, block, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP (SHA-256) encryption of `key` to the certificate the service gave.
fn rsa_oaep_sha256(cert_field: &str, key: &[u8]) -> Result<Vec<u8>> {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
    let der = crate::x509::api_certificate_der(cert_field)?;
    let spki = crate::x509::spki_of_der(&der)?;
    let protocol = |what: &'static str| Error::new(ErrorKind::Protocol, what);
    let pk = PublicEncryptingKey::from_der(&spki)
        .map_err(|_| protocol("wrapping certificate has no RSA key"))?;
    let pk = OaepPublicEncryptingKey::new(pk).map_err(|_| protocol("wrapping key unusable"))?;
    let mut out = vec![0u8; pk.ciphertext_size()];
    let n = pk
        .encrypt(&OAEP_SHA256_MGF1SHA256, key, &mut out, None)
        .map_err(|_| protocol("RSA-OAEP wrapping failed"))?
        .len();
    out.truncate(n);
    Ok(out)
}

#[async_trait]
impl Backend for AwsBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        AWS_CAPABILITIES.clone()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        if let Err(e) = request
            .validate()
            .and_then(|()| AWS_CAPABILITIES.check(&request))
        {
            return Err(e.with_op(op).with_backend(self.name.clone()));
        }
        let result = match request {
            Request::TranslatePin(r) => self.translate_pin(r).await.map(Response::TranslatePin),
            Request::EncryptData(r) => self.encrypt_data(r).await.map(Response::EncryptData),
            Request::DecryptData(r) => self.decrypt_data(r).await.map(Response::DecryptData),
            Request::GenerateCardValidation(r) => self
                .generate_cv(r)
                .await
                .map(Response::GenerateCardValidation),
            Request::VerifyCardValidation(r) => {
                self.verify_cv(r).await.map(Response::VerifyCardValidation)
            }
            Request::VerifyArqc(r) => self.verify_arqc(r).await.map(Response::VerifyArqc),
            Request::GenerateMac(r) => self.generate_mac(r).await.map(Response::GenerateMac),
            Request::VerifyMac(r) => self.verify_mac(r).await.map(Response::VerifyMac),
            Request::GenerateKey(r) => self.generate_key(r).await.map(Response::GenerateKey),
            Request::ImportKey(r) => self.import_key(r).await.map(Response::ImportKey),
            Request::ExportKey(r) => self.export_key(r).await.map(Response::ExportKey),
            Request::GetKeyInfo(r) => self.get_key_info(r).await.map(Response::GetKeyInfo),
            Request::DeleteKey(r) => self.delete_key(r).await.map(Response::DeleteKey),
        };
        result.map_err(|e| e.with_op(op).with_backend(self.name.clone()))
    }
}

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

mod card;
mod data;
mod keys;
mod mac;
mod pindata;

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
/// | re_encrypt_data | ReEncryptData (Symmetric or Dukpt in and out; ECB/CBC) |
/// | generate/verify_card_validation | Generate/VerifyCardValidationData (CVV1; CVV2; iCVV = CVV1 with service code 999; Amex CSC v1/v2; CardHolderVerificationValue; DynamicCardVerificationCode; DynamicCardVerificationValue; DiscoverDynamicCardVerificationCode, verification only; 3 to 5 digits) |
/// | verify_arqc | VerifyAuthRequestCryptogram (EmvCommon, Mastercard, Visa; ARPC 1/2) |
/// | generate_arqc | GenerateAuthRequestCryptogram (EmvCommon, Mastercard, Visa) |
/// | generate_mac / verify_mac | GenerateMac / VerifyMac (ISO 9797-1 alg 1/3, CMAC, HMAC-SHA-256) |
/// | generate_pin_data | GeneratePinData (VisaPin, VisaPinVerificationValue, Ibm3624NaturalPin / RandomPin / PinOffset / PinFromOffset; ISO 0/1/3/4) |
/// | verify_pin_data | VerifyPinData (VisaPin, Ibm3624Pin; zone key or DukptAttributes) |
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
/// export in versions A and C (the service exports B and D); and more card
/// validation kinds than the software reference computes: every member of
/// `CardGenerationAttributes` and `CardVerificationAttributes` (Discover
/// dCVC is a verification member only).
static AWS_CAPABILITIES: std::sync::LazyLock<Capabilities> = std::sync::LazyLock::new(|| {
    let mut c = Capabilities::all();
    c.card_validation_verify = CardValidationType::ALL.into_iter().collect();
    c.card_validation_generate = CardValidationType::ALL
        .into_iter()
        .filter(|t| *t != CardValidationType::DiscoverDynamicCvc)
        .collect();
    c.pin_formats.remove(&PinBlockFormat::Iso2);
    c.mac_empty_message = false;
    c.tr31_export = [Tr31Version::B, Tr31Version::D].into_iter().collect();
    c.key_algorithms = crate::types::KeyAlgorithm::ALL.into_iter().collect();
    c.operations
        .insert(crate::types::Operation::GetPublicKeyCertificate);
    c.key_exchange = crate::capabilities::KeyExchangeKind::ALL
        .into_iter()
        .collect();
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

    /// The escape hatch to the whole service: the control-plane SDK client
    /// this backend uses (same endpoint, region, credentials and connection
    /// pool), for what the typed operations do not cover — tags, resource
    /// policies, Multi-Region replication, asymmetric keys and certificates,
    /// TR-34 and ECDH key exchange. Answers are the SDK's own types.
    ///
    /// ```no_run
    /// # async fn demo(aws: &paycrypto::aws::AwsBackend) -> Result<(), Box<dyn std::error::Error>> {
    /// use aws_sdk_paymentcryptography::types::Tag;
    /// aws.control_client()
    ///     .tag_resource()
    ///     .resource_arn("arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop")
    ///     .tags(Tag::builder().key("team").value("payments").build()?)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn control_client(&self) -> &cp::Client {
        &self.control
    }

    /// The escape hatch to the data plane: the SDK client this backend uses,
    /// for operations and variants the typed operations do not model —
    /// DUKPT and EMV MACs (`MacAttributes::DukptCmac`, `EmvMac`, …),
    /// `GenerateMacEmvPinChange`, `TranslateKeyMaterial`. Answers are the
    /// SDK's own types.
    ///
    /// ```no_run
    /// # async fn demo(aws: &paycrypto::aws::AwsBackend) -> Result<(), Box<dyn std::error::Error>> {
    /// use aws_sdk_paymentcryptographydata::types::{DukptKeyVariant, MacAlgorithmDukpt, MacAttributes};
    /// let out = aws
    ///     .data_client()
    ///     .generate_mac()
    ///     .key_identifier("alias/bdk")
    ///     .message_data("34303132")
    ///     .generation_attributes(MacAttributes::DukptCmac(
    ///         MacAlgorithmDukpt::builder()
    ///             .key_serial_number("FFFF9876543210E00001")
    ///             .dukpt_key_variant(DukptKeyVariant::Request)
    ///             .build()?,
    ///     ))
    ///     .send()
    ///     .await?;
    /// println!("{}", out.mac());
    /// # Ok(()) }
    /// ```
    pub fn data_client(&self) -> &dp::Client {
        &self.data
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
}

fn pad(data: &[u8], p: Padding, block: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; data.len() + 2 * block];
    let n = pad_into(data, p, block, &mut out)?;
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
            Request::ReEncryptData(r) => self.re_encrypt_data(r).await.map(Response::ReEncryptData),
            Request::GenerateCardValidation(r) => self
                .generate_cv(r)
                .await
                .map(Response::GenerateCardValidation),
            Request::VerifyCardValidation(r) => {
                self.verify_cv(r).await.map(Response::VerifyCardValidation)
            }
            Request::VerifyArqc(r) => self.verify_arqc(r).await.map(Response::VerifyArqc),
            Request::GenerateArqc(r) => self.generate_arqc(r).await.map(Response::GenerateArqc),
            Request::GenerateMac(r) => self.generate_mac(r).await.map(Response::GenerateMac),
            Request::VerifyMac(r) => self.verify_mac(r).await.map(Response::VerifyMac),
            Request::GeneratePinData(r) => self
                .generate_pin_data(r)
                .await
                .map(Response::GeneratePinData),
            Request::VerifyPinData(r) => self.verify_pin_data(r).await.map(Response::VerifyPinData),
            Request::GenerateKey(r) => self.generate_key(r).await.map(Response::GenerateKey),
            Request::ImportKey(r) => self.import_key(r).await.map(Response::ImportKey),
            Request::ExportKey(r) => self.export_key(r).await.map(Response::ExportKey),
            Request::GetKeyInfo(r) => self.get_key_info(r).await.map(Response::GetKeyInfo),
            Request::DeleteKey(r) => self.delete_key(r).await.map(Response::DeleteKey),
            Request::GetPublicKeyCertificate(r) => self
                .public_key_certificate(r)
                .await
                .map(Response::GetPublicKeyCertificate),
        };
        result.map_err(|e| e.with_op(op).with_backend(self.name.clone()))
    }
}

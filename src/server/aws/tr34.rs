//! TR-34 key exchange in the emulator: `ImportKey` with `Tr34KeyBlock` (the
//! emulator as key receiving device, KRD: an import token's key or an RSA
//! key pair) and `ExportKey` with `Tr34KeyBlock` (the emulator as key
//! distribution host, KDH: an export token's key or an RSA key pair). The
//! block itself is [`crate::keyexchange::tr34`]'s, shared with the software
//! backend.

use super::api::{ApiError, ApiResult, Obj};
use super::asym;
use super::state::{now, KeyRecord, NewKey};
use super::Inner;
use crate::keyexchange::tr34;
use crate::rules::PairUse;
use crate::types::SecretBytes;
use crate::x509;
use aws_lc_rs::signature as sig;
use serde_json::{json, Value};

/// A TR-34 error as the API reports it (the import's field names; export
/// maps the KRD certificate's itself).
impl From<tr34::Tr34Error> for ApiError {
    fn from(e: tr34::Tr34Error) -> Self {
        let m = e.message();
        match e {
            tr34::Tr34Error::Malformed(_) => {
                ApiError::field("KeyMaterial.Tr34KeyBlock.WrappedKeyBlock", m)
            }
            tr34::Tr34Error::Nonce(_) => ApiError::field("KeyMaterial.Tr34KeyBlock.RandomNonce", m),
            tr34::Tr34Error::Certificate(_) => {
                ApiError::field("KeyMaterial.Tr34KeyBlock.SigningKeyCertificate", m)
            }
            tr34::Tr34Error::Refused(_) => ApiError::validation(m),
            tr34::Tr34Error::Internal(w) => ApiError::internal(w),
        }
    }
}

/// The KRD's private key: the import token's or a key pair's.
enum Krd {
    Token(super::wrap::Params),
    KeyPair(std::sync::Arc<KeyRecord>),
}

/// `ImportKey` with `Tr34KeyBlock`: the emulator is the KRD whose wrapping
/// key came from `GetParametersForImport` (`ImportToken`); the KDH's
/// `SigningKeyCertificate` must be signed by the certificate authority, the
/// block signed by the KDH and, when `RandomNonce` is given (two-pass), carry
/// that nonce; a block with a nonce needs the `RandomNonce`.
pub(crate) fn import(
    inner: &Inner,
    m: Obj<'_>,
    enabled: bool,
    kcv_algorithm: Option<String>,
    tags: Vec<(String, String)>,
) -> ApiResult<Value> {
    if m.str("KeyBlockFormat")? != "X9_TR34_2012" {
        return Err(ApiError::field(
            &m.field_name("KeyBlockFormat"),
            "must be X9_TR34_2012",
        ));
    }
    let block = m.hex("WrappedKeyBlock", 2, 4096)?;
    let nonce = m.opt_hex("RandomNonce", 16, 32)?;
    // The AWS SDK for Rust (aws-sdk-paymentcryptography 1.130) models
    // `ImportToken` as required and sends `""` when it is not set: an empty
    // token is no token.
    let token = m.opt_str("ImportToken")?.filter(|t| !t.is_empty());
    let mut store = inner.write();
    let krd = match (token, m.opt_str("WrappingKeyIdentifier")?) {
        (Some(token), None) => {
            let params = inner.token_params(&m, "ImportToken", token, true)?;
            let cert = asym::own_certificate(&params.certificate)?;
            (Krd::Token(params), cert)
        }
        (None, Some(_)) => {
            // A KRD key pair on the emulator: RSA, may Unwrap or Decrypt
            // (usage D1 or K2; AWS documents `WrappingKeyIdentifier` as
            // "the key used for unwrapping the import key" and no usage:
            // the emulator's choice), with the certificate the KDH used.
            let (k, cert) = asym::key_pair_with_certificate(
                &store,
                m,
                "WrappingKeyIdentifier",
                "WrappingKeyCertificate",
                PairUse::Tr34Krd,
            )?;
            (Krd::KeyPair(k), cert)
        }
        _ => {
            return Err(ApiError::validation(
                "Tr34KeyBlock takes either ImportToken or WrappingKeyIdentifier (with WrappingKeyCertificate)",
            ))
        }
    };
    let (krd_key, krd) = krd;
    let (_, kdh) = asym::certificate_under_ca(&store, m, "SigningKeyCertificate")?;

    let (key, header) = tr34::open_block(&block, &kdh, &krd, nonce.as_deref(), |encrypted_key| {
        Ok::<_, ApiError>(match &krd_key {
            Krd::Token(params) => params.unwrap_field(
                "RSA_OAEP_SHA_256",
                encrypted_key,
                "KeyMaterial.Tr34KeyBlock.WrappedKeyBlock",
            )?,
            Krd::KeyPair(k) => {
                let pkcs8 = k.material()?;
                crate::keyexchange::pki::oaep_sha256_decrypt(pkcs8.expose(), encrypted_key)
                    .map_err(|e| {
                        ApiError::field("KeyMaterial.Tr34KeyBlock.WrappedKeyBlock", e.context())
                    })?
            }
        })
    })?;
    let attributes = tr34::attributes_of(&header, key.len())?;
    let rec = store.add(NewKey::external(
        attributes,
        SecretBytes::from_slice(&key),
        enabled,
        kcv_algorithm,
        tags,
    ))?;
    store.save()?;
    Ok(json!({ "Key": rec.key_json() }))
}

/// `ExportKey` with `Tr34KeyBlock`: the emulator is the KDH, signing with
/// the `ExportToken`'s key (`GetParametersForExport`) or with
/// `SigningKeyIdentifier` (an RSA key pair, `SigningKeyCertificate` its
/// certificate); the KRD's `WrappingKeyCertificate` must be signed by the
/// certificate authority. With `RandomNonce` the block is two-pass (the
/// nonce is signed), else one-pass (the signing time is).
pub(crate) fn export(
    inner: &Inner,
    key: &KeyRecord,
    material: &SecretBytes,
    m: Obj<'_>,
) -> ApiResult<Value> {
    if m.str("KeyBlockFormat")? != "X9_TR34_2012" {
        return Err(ApiError::field(
            &m.field_name("KeyBlockFormat"),
            "must be X9_TR34_2012",
        ));
    }
    let mut attrs = key.attributes()?;
    let mut version = "00".to_owned();
    let mut s = String::new();
    if let Some(h) = m.opt_obj("KeyBlockHeaders", &mut s)? {
        if h.has("KeyModesOfUse") || h.has("OptionalBlocks") {
            return Err(ApiError::unsupported(
                "Tr34KeyBlock KeyBlockHeaders KeyModesOfUse and OptionalBlocks",
            ));
        }
        if let Some(e) = super::api::key_exportability(&h)? {
            attrs.exportability = e;
        }
        if let Some(v) = h.opt_str("KeyVersion")? {
            if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ApiError::field(
                    &h.field_name("KeyVersion"),
                    "must be 2 characters",
                ));
            }
            version = v.to_owned();
        }
    }
    let nonce = m.opt_hex("RandomNonce", 16, 32)?;
    let store = inner.read();
    let (krd_field, krd) = asym::certificate_under_ca(&store, m, "WrappingKeyCertificate")?;
    // The signer: the export token's key, or a key pair with its certificate.
    let token_params;
    let own_pair;
    // An empty `ExportToken` is none (the Rust SDK sends `""`; see import).
    let (signer, kdh): (&sig::RsaKeyPair, x509::CertParts) = match (
        m.opt_str("ExportToken")?.filter(|t| !t.is_empty()),
        m.opt_str("SigningKeyIdentifier")?,
    ) {
        (Some(token), None) => {
            token_params = inner.token_params(&m, "ExportToken", token, false)?;
            let cert = asym::own_certificate(&token_params.certificate)?;
            (token_params.signing_key(), cert)
        }
        (None, Some(_)) => {
            let (k, cert) = asym::key_pair_with_certificate(
                &store,
                m,
                "SigningKeyIdentifier",
                "SigningKeyCertificate",
                PairUse::Tr34Kdh,
            )?;
            let pkcs8 = k.material()?;
            own_pair = sig::RsaKeyPair::from_pkcs8(pkcs8.expose())
                .map_err(|_| ApiError::internal("stored key pair is unusable"))?;
            (&own_pair, cert)
        }
        _ => {
            return Err(ApiError::validation(
                "Tr34KeyBlock takes either ExportToken or SigningKeyIdentifier (with SigningKeyCertificate)",
            ))
        }
    };
    let block = tr34::build_block(
        &attrs,
        &version,
        material.expose(),
        &kdh,
        signer,
        &krd,
        nonce.as_deref(),
        now() as u64,
    )
    .map_err(|e| match e {
        tr34::Tr34Error::Certificate(m) => ApiError::field(&krd_field, m),
        other => ApiError::from(other),
    })?;
    Ok(json!({ "WrappedKey": {
        "WrappingKeyArn": key.arn,
        "WrappedKeyMaterialFormat": "TR34_KEY_BLOCK",
        "KeyMaterial": hex::encode_upper(&block),
        "KeyCheckValue": key.kcv,
        "KeyCheckValueAlgorithm": key.kcv_algorithm,
    }}))
}

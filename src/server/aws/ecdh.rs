//! ECDH key exchange: `ImportKey` / `ExportKey` with
//! `DiffieHellmanTr31KeyBlock` and the data plane's `TranslateKeyMaterial`
//! (`POST /keymaterial/translate`) with an incoming
//! `DiffieHellmanTr31KeyBlock`.
//!
//! The key-block protection key is agreed, never sent: ECDH between the
//! emulator's key pair (`PrivateKeyIdentifier`: `ASYMMETRIC_KEY_PAIR`,
//! `TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT`, mode DeriveKey) and the
//! partner's public key in `PublicKeyCertificate` (signed by
//! `CertificateAuthorityPublicKeyIdentifier`, an imported root or trusted
//! public key; same curve) gives the shared secret Z (the x-coordinate,
//! aws-lc-rs); `KeyDerivationFunction` `NIST_SP800` (SP 800-56C one-step)
//! or `ANSI_X963` with `KeyDerivationHashAlgorithm` and
//! `DerivationData.SharedInformation` derives a `DeriveKeyAlgorithm` key
//! ([`crate::algo::kdf`]); that key protects an ordinary TR-31 block
//! (version D under AES, B under TDES). TDES keys get odd parity after
//! derivation (the emulator's choice; AWS does not say). HMAC
//! `DeriveKeyAlgorithm`s cannot protect a TR-31 block and are refused.

use super::api::{ApiError, ApiResult, Obj};
use super::asym;
use super::state::Store;
use crate::algo::kdf::KdfHash;
use crate::keyexchange::{ecdh, pki};
use crate::ops::KeyDerivationFunction;
use crate::rules::PairUse;
use crate::types::{KeyAlgorithm, SecretBytes};

/// The key-block protection key the member's parameters agree on, and its
/// algorithm.
pub(crate) fn derive_kbpk(store: &Store, m: Obj<'_>) -> ApiResult<(SecretBytes, KeyAlgorithm)> {
    let own = asym::usable_key_pair(store, m, "PrivateKeyIdentifier", PairUse::KeyAgreement)?;
    let (cert_field, parts) = asym::certificate_under_ca(store, m, "PublicKeyCertificate")?;
    let alg_field = m.field_name("DeriveKeyAlgorithm");
    let derive = KeyAlgorithm::from_aws_name(m.str("DeriveKeyAlgorithm")?)
        .filter(|a| a.is_tdes() || a.is_aes())
        .ok_or_else(|| {
            ApiError::field(
                &alg_field,
                "must be TDES_2KEY, TDES_3KEY, AES_128, AES_192 or AES_256: the derived key protects a TR-31 block",
            )
        })?;
    let hash = KdfHash::from_aws_name(m.str("KeyDerivationHashAlgorithm")?).ok_or_else(|| {
        ApiError::field(
            &m.field_name("KeyDerivationHashAlgorithm"),
            "is not a valid value",
        )
    })?;
    let kdf_name = m.str("KeyDerivationFunction")?;
    // `DerivationData` is a union of string members: `SharedInformation`.
    let shared_hex = data_string(m, "DerivationData", "SharedInformation")?;
    let shared = super::api::decode_hex(
        &format!("{}.SharedInformation", m.field_name("DerivationData")),
        &shared_hex,
    )?;
    let kdf = match kdf_name {
        "NIST_SP800" => KeyDerivationFunction::NistSp800,
        "ANSI_X963" => KeyDerivationFunction::AnsiX963,
        _ => {
            return Err(ApiError::field(
                &m.field_name("KeyDerivationFunction"),
                "is not a valid value",
            ))
        }
    };
    let own_alg = KeyAlgorithm::from_aws_name(&own.algorithm)
        .and_then(pki::public_algorithm)
        .ok_or_else(|| ApiError::internal("stored K3 key is not ECC"))?;
    let pkcs8 = own.material()?;
    let key = ecdh::agree_kbpk(
        pkcs8.expose(),
        own_alg,
        &parts.spki,
        derive,
        kdf,
        hash,
        &shared,
    )
    .map_err(|e| {
        if e.context().contains("public key certificate") {
            ApiError::field(&cert_field, e.context())
        } else {
            ApiError::from(e)
        }
    })?;
    Ok((key, derive))
}

/// The one member of a union whose members are strings.
fn data_string(m: Obj<'_>, union: &str, member: &str) -> ApiResult<String> {
    let name = m.field_name(union);
    let Some(serde_json::Value::Object(map)) = m.raw(union) else {
        return Err(ApiError::field(&name, "is required"));
    };
    let set: Vec<&String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k)
        .collect();
    match set.as_slice() {
        [only] if only.as_str() == member => {}
        [other] => return Err(ApiError::unsupported_member(&name, other)),
        _ => {
            return Err(ApiError::field(
                &name,
                "exactly one member of the union must be set",
            ))
        }
    }
    match map.get(member) {
        Some(serde_json::Value::String(s)) if (2..=2048).contains(&s.len()) => Ok(s.clone()),
        Some(serde_json::Value::String(_)) => Err(ApiError::field(
            &format!("{name}.{member}"),
            "length must be between 2 and 2048",
        )),
        _ => Err(ApiError::serialization(format!(
            "{name}.{member} must be a string"
        ))),
    }
}

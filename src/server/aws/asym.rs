//! Control plane, asymmetric keys: `CreateKey` for RSA (2048/3072/4096) and
//! ECC (NIST P-256/P-384/P-521) key pairs, `ImportKey` of root and trusted
//! public key certificates (`RootCertificatePublicKey`,
//! `TrustedCertificatePublicKey`), `GetPublicKeyCertificate` and
//! `GetCertificateSigningRequest`. Shapes from botocore's
//! `payment-cryptography/2021-09-14`; certificates travel as the API sends
//! them, base64 of PEM (`crate::x509`). Keys are generated with aws-lc-rs
//! (through rcgen, which also writes the certificates and CSRs) and
//! signatures checked with aws-lc-rs.
//!
//! Where AWS publishes no rule, the emulator chooses and says so:
//! - key usage and algorithm: `TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE`
//!   (RSA or ECC; modes Sign, Verify), `TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION`
//!   (RSA; Encrypt, Decrypt, Wrap, Unwrap), `TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT`
//!   (ECC; DeriveKey); a public key cannot Sign, Decrypt or Unwrap;
//! - a key pair's certificate is issued, on each `GetPublicKeyCertificate`,
//!   by the emulator's own CA (one per emulator process, P-256), whose
//!   certificate is the chain; a public key answers the certificate it was
//!   imported with and, as chain, its root's certificate (a root: its own);
//! - the KCV of an asymmetric key (`SHA_1`): see `Store::add_asymmetric`;
//! - CSRs: `SigningAlgorithm` SHA256, SHA384 or SHA512 with RSA keys; the
//!   curve's own hash with ECC keys (P-256/SHA256, P-384/SHA384,
//!   P-521/SHA512); SHA224 is refused by name.

use super::api::{modes_of_use, ApiError, ApiResult, Obj};
use super::manage;
use super::state::{KeyRecord, NewAsymmetricKey, Store};
use super::Inner;
use crate::keyexchange::pki;
use crate::rules::{self, PairUse};
use crate::types::{KeyAlgorithm, KeyAttributes, KeyUsage, ModesOfUse, SecretBytes};
use crate::x509::{self, PublicKeyAlgorithm};
use serde_json::{json, Value};
use std::sync::Arc;

const S0: &str = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE";
const D1: &str = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION";
const K3: &str = "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT";

/// The algorithm of an AWS `KeyAlgorithm` value, if asymmetric.
fn algorithm(name: &str) -> Option<PublicKeyAlgorithm> {
    KeyAlgorithm::from_aws_name(name).and_then(pki::public_algorithm)
}

/// Parsed asymmetric `KeyAttributes`: usage, algorithm, modes.
struct Attributes {
    usage: String,
    algorithm: PublicKeyAlgorithm,
    modes: ModesOfUse,
}

/// Parses and checks asymmetric `KeyAttributes` for `class`.
fn attributes(o: Obj<'_>, class: &str) -> ApiResult<Attributes> {
    let got_class = o.str("KeyClass")?;
    if got_class != class {
        return Err(ApiError::field(
            &o.field_name("KeyClass"),
            format!("must be {class} here"),
        ));
    }
    let alg_s = o.str("KeyAlgorithm")?;
    let algorithm = algorithm(alg_s).ok_or_else(|| {
        ApiError::field(
            &o.field_name("KeyAlgorithm"),
            "must be RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521 for an asymmetric key",
        )
    })?;
    let usage = o.str("KeyUsage")?;
    if ![S0, D1, K3].contains(&usage) {
        return Err(ApiError::field(
            &o.field_name("KeyUsage"),
            "an asymmetric key is TR31_S0, TR31_D1 or TR31_K3",
        ));
    }
    let mut scratch = String::new();
    let m = o.obj("KeyModesOfUse", &mut scratch)?;
    let modes = modes_of_use(&m)?;
    // The rules are the crate's (`KeyAttributes::validate`, and
    // `validate_public_key` for a public key).
    let attrs = KeyAttributes::new(
        KeyUsage::from_aws_name(usage).map_err(ApiError::from)?,
        KeyAlgorithm::from_aws_name(alg_s).ok_or_else(|| ApiError::internal("algorithm"))?,
        modes,
    );
    let checked = if class == "PUBLIC_KEY" {
        attrs.validate_public_key()
    } else {
        attrs.validate()
    };
    checked.map_err(|e| {
        if e.context().starts_with("invalid modes of use") {
            ApiError::field(
                &o.field_name("KeyModesOfUse"),
                format!("are not valid for {usage} on a {class}: {}", e.context()),
            )
        } else {
            ApiError::validation(format!(
                "KeyUsage {usage} is not valid with KeyAlgorithm {alg_s}: {}",
                e.context()
            ))
        }
    })?;
    Ok(Attributes {
        usage: usage.to_owned(),
        algorithm,
        modes,
    })
}

/// [`pki::new_key_pair`] on the blocking pool, one of the emulator's key
/// generation slots at a time (as import/export parameters are).
async fn generate(inner: &Inner, alg: PublicKeyAlgorithm) -> ApiResult<(Vec<u8>, Vec<u8>)> {
    let permit = inner
        .rsa_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("key generation is shut down"))?;
    tokio::task::spawn_blocking(move || {
        let kp = pki::new_key_pair(alg).map_err(ApiError::from);
        drop(permit);
        kp.map(|k| (k.serialize_der(), k.public_key_der()))
    })
    .await
    .map_err(|_| ApiError::internal("key generation failed"))?
}

/// `CreateKey` with `KeyClass` `ASYMMETRIC_KEY_PAIR`.
pub(crate) async fn create_key(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let mut scratch = String::new();
    let a = attributes(o.obj("KeyAttributes", &mut scratch)?, "ASYMMETRIC_KEY_PAIR")?;
    let exportable = o.bool("Exportable")?;
    let enabled = o.opt_bool("Enabled")?.unwrap_or(true);
    if let Some(k) = o.opt_str("KeyCheckValueAlgorithm")? {
        if k != "SHA_1" {
            return Err(ApiError::field(
                "KeyCheckValueAlgorithm",
                "an asymmetric key's KCV is SHA_1",
            ));
        }
    }
    if o.has("DeriveKeyUsage") {
        return Err(ApiError::unsupported("DeriveKeyUsage"));
    }
    let tags = manage::parse_tags(o)?;
    let (pkcs8, spki) = generate(inner, a.algorithm).await?;
    let pkcs8 = zeroize::Zeroizing::new(pkcs8);
    let mut store = inner.write();
    let (regions, using_default) = manage::new_key_regions(&store, o)?;
    let rec = store.add_asymmetric(NewAsymmetricKey {
        usage: a.usage,
        algorithm: a.algorithm.aws_name().unwrap_or_default().to_owned(),
        class: "ASYMMETRIC_KEY_PAIR",
        modes: a.modes,
        material: SecretBytes::from_slice(&pkcs8),
        spki,
        certificate: None,
        issuer: None,
        exportable,
        enabled,
        origin: "AWS_PAYMENT_CRYPTOGRAPHY",
        tags,
    });
    let rec = manage::set_replicas(&mut store, rec, regions, using_default);
    store.save()?;
    Ok(json!({ "Key": rec.key_json() }))
}

/// A certificate field's DER and parts.
pub(crate) fn certificate(field: &str, value: &str) -> ApiResult<(Vec<u8>, x509::CertParts)> {
    let der = x509::api_certificate_der(value).map_err(|e| ApiError::field(field, e.context()))?;
    let parts = x509::parse_certificate(&der).map_err(|e| ApiError::field(field, e.context()))?;
    Ok((der, parts))
}

/// PEM text of a DER certificate.
fn pem(der: &[u8]) -> String {
    x509::der_to_pem(der)
}

/// The certificate in member `cert_member` of `m`, checked against the
/// certificate authority `CertificateAuthorityPublicKeyIdentifier` names:
/// the certificate's field name and parts.
pub(crate) fn certificate_under_ca(
    store: &Store,
    m: Obj<'_>,
    cert_member: &str,
) -> ApiResult<(String, x509::CertParts)> {
    let ca_field = m.field_name("CertificateAuthorityPublicKeyIdentifier");
    let ca = ca_key(
        store,
        &ca_field,
        m.str("CertificateAuthorityPublicKeyIdentifier")?,
    )?;
    let cert_field = m.field_name(cert_member);
    let (_, parts) = certificate(&cert_field, m.str_len(cert_member, 1, 32768)?)?;
    check_signed_by(&cert_field, &parts, &ca)?;
    Ok((cert_field, parts))
}

/// The parts of a certificate the emulator itself issued (an import or
/// export token's).
pub(crate) fn own_certificate(api_field: &str) -> ApiResult<x509::CertParts> {
    x509::parse_certificate(&x509::api_certificate_der(api_field).map_err(ApiError::from)?)
        .map_err(ApiError::from)
}

/// The usable key pair member `ident_member` of `m` names, checked for
/// `use_` (`rules::check_key_pair`).
pub(crate) fn usable_key_pair(
    store: &Store,
    m: Obj<'_>,
    ident_member: &str,
    use_: PairUse,
) -> ApiResult<Arc<KeyRecord>> {
    let k = store.resolve(m.str(ident_member)?)?;
    k.check_usable()?;
    let pair = k.key_class.as_deref() == Some("ASYMMETRIC_KEY_PAIR");
    let arn = crate::types::KeyId::new(k.arn.clone()).map_err(ApiError::from)?;
    rules::check_key_pair(&arn, &k.attributes()?, pair, use_)
        .map_err(|e| ApiError::field(&m.field_name(ident_member), e.context()))?;
    Ok(k)
}

/// [`usable_key_pair`], with the certificate of it member `cert_member` holds.
pub(crate) fn key_pair_with_certificate(
    store: &Store,
    m: Obj<'_>,
    ident_member: &str,
    cert_member: &str,
    use_: PairUse,
) -> ApiResult<(Arc<KeyRecord>, x509::CertParts)> {
    let k = usable_key_pair(store, m, ident_member, use_)?;
    let cert_field = m.field_name(cert_member);
    let value = m
        .opt_str(cert_member)?
        .ok_or_else(|| ApiError::field(&cert_field, format!("is required with {ident_member}")))?;
    let (_, cert) = certificate(&cert_field, value)?;
    if cert.spki != spki_of(&k)? {
        return Err(ApiError::field(&cert_field, "does not certify the key"));
    }
    Ok((k, cert))
}

/// Resolves a certificate authority key: a `PUBLIC_KEY` with usage S0 that
/// may Verify.
pub(crate) fn ca_key(store: &Store, field: &str, ident: &str) -> ApiResult<Arc<KeyRecord>> {
    let ca = store.resolve(ident)?;
    ca.check_usable()?;
    let public = ca.key_class.as_deref() == Some("PUBLIC_KEY");
    let arn = crate::types::KeyId::new(ca.arn.clone()).map_err(ApiError::from)?;
    rules::check_certificate_authority(&arn, &ca.attributes()?, public)
        .map_err(|e| ApiError::field(field, e.context()))?;
    Ok(ca)
}

/// Checks that `cert` is signed by the public key of `ca` (a `PUBLIC_KEY`).
pub(crate) fn check_signed_by(
    field: &str,
    cert: &x509::CertParts,
    ca: &KeyRecord,
) -> ApiResult<()> {
    let spki = ca.material()?;
    let ok = x509::verify_signed_by(cert, spki.expose())
        .map_err(|e| ApiError::field(field, e.context()))?;
    if !ok {
        return Err(ApiError::field(
            field,
            format!("is not signed by the certificate authority {}", ca.arn),
        ));
    }
    Ok(())
}

/// `ImportKey` with `RootCertificatePublicKey` or `TrustedCertificatePublicKey`:
/// the certificate's signature is checked (by its own key for a root, by the
/// named root's for a trusted key) and its public key must be of the stated
/// `KeyAlgorithm`.
pub(crate) fn import_public(
    inner: &Inner,
    member: &str,
    m: Obj<'_>,
    enabled: bool,
    tags: Vec<(String, String)>,
) -> ApiResult<Value> {
    let root = member == "RootCertificatePublicKey";
    if root {
        // A protected operation: refused before anything else while an MPA
        // team guards it.
        manage::mpa_blocks(
            &inner.read(),
            "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE",
            "ImportKey",
        )?;
    }
    let mut scratch = String::new();
    let a = attributes(m.obj("KeyAttributes", &mut scratch)?, "PUBLIC_KEY")?;
    let field = m.field_name("PublicKeyCertificate");
    let (der, parts) = certificate(&field, m.str_len("PublicKeyCertificate", 1, 32768)?)?;
    let (alg, _) = x509::spki_key(&parts.spki).map_err(|e| ApiError::field(&field, e.context()))?;
    if alg != a.algorithm {
        return Err(ApiError::field(
            &field,
            format!(
                "holds a {} key, not the KeyAlgorithm given",
                alg.aws_name().unwrap_or("other")
            ),
        ));
    }
    let mut store = inner.write();
    let issuer = if root {
        if a.usage != S0 || !a.modes.verify {
            return Err(ApiError::validation(format!(
                "a root certificate's key is {S0} with the Verify mode of use"
            )));
        }
        if parts.issuer != parts.subject {
            return Err(ApiError::field(
                &field,
                "is not self-signed (issuer differs from subject)",
            ));
        }
        let ok = x509::verify_signed_by(&parts, &parts.spki)
            .map_err(|e| ApiError::field(&field, e.context()))?;
        if !ok {
            return Err(ApiError::field(&field, "does not verify under its own key"));
        }
        None
    } else {
        let ca_field = m.field_name("CertificateAuthorityPublicKeyIdentifier");
        let ca = ca_key(
            &store,
            &ca_field,
            m.str("CertificateAuthorityPublicKeyIdentifier")?,
        )?;
        check_signed_by(&field, &parts, &ca)?;
        Some(ca.id.clone())
    };
    let rec = store.add_asymmetric(NewAsymmetricKey {
        usage: a.usage,
        algorithm: a.algorithm.aws_name().unwrap_or_default().to_owned(),
        class: "PUBLIC_KEY",
        modes: a.modes,
        material: SecretBytes::from_slice(&parts.spki),
        spki: parts.spki.clone(),
        certificate: Some(pem(&der)),
        issuer,
        exportable: true,
        enabled,
        origin: "EXTERNAL",
        tags,
    });
    store.save()?;
    Ok(json!({ "Key": rec.key_json() }))
}

/// The DER SubjectPublicKeyInfo of an asymmetric key.
pub(crate) fn spki_of(k: &KeyRecord) -> ApiResult<Vec<u8>> {
    let material = k.material()?;
    match k.key_class.as_deref() {
        Some("PUBLIC_KEY") => Ok(material.expose().to_vec()),
        Some("ASYMMETRIC_KEY_PAIR") => {
            let alg = algorithm(&k.algorithm)
                .ok_or_else(|| ApiError::internal("stored key has an unknown algorithm"))?;
            Ok(pki::spki_of_pkcs8(material.expose(), alg)?)
        }
        _ => Err(ApiError::validation(format!(
            "key {} is a symmetric key; this needs an asymmetric key",
            k.arn
        ))),
    }
}

/// `GetPublicKeyCertificate`.
pub(crate) fn get_public_key_certificate(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let store = inner.read();
    let k = store.resolve(o.str("KeyIdentifier")?)?;
    let (cert, chain) = match k.key_class.as_deref() {
        Some("PUBLIC_KEY") => {
            let cert = k.certificate.clone().unwrap_or_default();
            let chain = match &k.issuer {
                Some(id) => store
                    .keys()
                    .into_iter()
                    .find(|r| &r.id == id)
                    .and_then(|r| r.certificate.clone())
                    .unwrap_or_else(|| cert.clone()),
                None => cert.clone(),
            };
            (cert, chain)
        }
        Some("ASYMMETRIC_KEY_PAIR") => {
            let spki = spki_of(&k)?;
            let (cert, _) =
                inner
                    .ca
                    .issue(&spki, &k.id, "paycrypto AWS Payment Cryptography emulator")?;
            (cert, inner.ca.pem())
        }
        _ => {
            return Err(ApiError::validation(format!(
                "key {} is a symmetric key: GetPublicKeyCertificate needs an asymmetric key",
                k.arn
            )))
        }
    };
    Ok(json!({
        "KeyCertificate": x509::api_certificate_field(&cert),
        "KeyCertificateChain": x509::api_certificate_field(&chain),
    }))
}

/// `GetCertificateSigningRequest` for a key pair.
pub(crate) fn get_csr(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let store = inner.read();
    let k = store.resolve(o.str("KeyIdentifier")?)?;
    k.check_usable()?;
    if k.key_class.as_deref() != Some("ASYMMETRIC_KEY_PAIR") {
        return Err(ApiError::validation(format!(
            "key {} is not an ASYMMETRIC_KEY_PAIR: GetCertificateSigningRequest needs one",
            k.arn
        )));
    }
    let alg = algorithm(&k.algorithm)
        .ok_or_else(|| ApiError::internal("stored key has an unknown algorithm"))?;
    let signing = o.str("SigningAlgorithm")?;
    let sign_alg: &'static rcgen::SignatureAlgorithm = match (alg, signing) {
        (PublicKeyAlgorithm::Rsa(_), "SHA256") => &rcgen::PKCS_RSA_SHA256,
        (PublicKeyAlgorithm::Rsa(_), "SHA384") => &rcgen::PKCS_RSA_SHA384,
        (PublicKeyAlgorithm::Rsa(_), "SHA512") => &rcgen::PKCS_RSA_SHA512,
        (PublicKeyAlgorithm::P256, "SHA256") => &rcgen::PKCS_ECDSA_P256_SHA256,
        (PublicKeyAlgorithm::P384, "SHA384") => &rcgen::PKCS_ECDSA_P384_SHA384,
        (PublicKeyAlgorithm::P521, "SHA512") => &rcgen::PKCS_ECDSA_P521_SHA512,
        (_, s @ ("SHA224" | "SHA256" | "SHA384" | "SHA512")) => {
            return Err(ApiError::unsupported(&format!(
                "GetCertificateSigningRequest SigningAlgorithm {s} with {}",
                k.algorithm
            )))
        }
        _ => return Err(ApiError::field("SigningAlgorithm", "is not a valid value")),
    };
    let mut scratch = String::new();
    let subject = o.obj("CertificateSubject", &mut scratch)?;
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|_| ApiError::internal("CSR parameters"))?;
    let dn = &mut p.distinguished_name;
    for (member, kind, min, max) in [
        ("CommonName", rcgen::DnType::CommonName, 1, 64),
        ("Organization", rcgen::DnType::OrganizationName, 1, 64),
        (
            "OrganizationUnit",
            rcgen::DnType::OrganizationalUnitName,
            1,
            64,
        ),
        ("City", rcgen::DnType::LocalityName, 1, 128),
        (
            "StateOrProvince",
            rcgen::DnType::StateOrProvinceName,
            1,
            128,
        ),
        ("Country", rcgen::DnType::CountryName, 2, 2),
        (
            "EmailAddress",
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            1,
            128,
        ),
    ] {
        if member == "CommonName" || subject.has(member) {
            dn.push(kind, subject.str_len(member, min, max)?);
        }
    }
    let material = k.material()?;
    let kp = pki::key_pair(material.expose(), sign_alg)?;
    let csr = p
        .serialize_request(&kp)
        .and_then(|c| c.pem())
        .map_err(|_| ApiError::internal("CSR encoding failed"))?;
    Ok(json!({ "CertificateSigningRequest": x509::api_certificate_field(&csr) }))
}

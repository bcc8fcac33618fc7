//! Key pairs and certificates: generating RSA and ECC key pairs (rcgen over
//! aws-lc-rs), a backend's own certificate authority that certifies them,
//! the public key of a stored key pair, and the check value of an
//! asymmetric key.

use crate::error::{Error, ErrorKind, Result};
use crate::types::{Kcv, KeyAlgorithm};
use crate::x509::{self, PublicKeyAlgorithm};
use zeroize::Zeroizing;

fn internal(what: &'static str) -> Error {
    Error::new(ErrorKind::Backend, what)
}

/// The x509 view of an asymmetric algorithm (`None` for symmetric ones).
pub(crate) fn public_algorithm(a: KeyAlgorithm) -> Option<PublicKeyAlgorithm> {
    Some(match a {
        KeyAlgorithm::Rsa2048 => PublicKeyAlgorithm::Rsa(2048),
        KeyAlgorithm::Rsa3072 => PublicKeyAlgorithm::Rsa(3072),
        KeyAlgorithm::Rsa4096 => PublicKeyAlgorithm::Rsa(4096),
        KeyAlgorithm::EccP256 => PublicKeyAlgorithm::P256,
        KeyAlgorithm::EccP384 => PublicKeyAlgorithm::P384,
        KeyAlgorithm::EccP521 => PublicKeyAlgorithm::P521,
        _ => return None,
    })
}

/// The rcgen algorithm that writes `alg`'s SubjectPublicKeyInfo (and signs
/// with it by default).
pub(crate) fn rcgen_alg(alg: PublicKeyAlgorithm) -> &'static rcgen::SignatureAlgorithm {
    match alg {
        PublicKeyAlgorithm::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        PublicKeyAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        PublicKeyAlgorithm::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        PublicKeyAlgorithm::P521 => &rcgen::PKCS_ECDSA_P521_SHA512,
    }
}

/// A new key pair of `alg`. RSA generation takes up to seconds.
pub(crate) fn new_key_pair(alg: PublicKeyAlgorithm) -> Result<rcgen::KeyPair> {
    let failed = |_| internal("key generation failed");
    match alg {
        PublicKeyAlgorithm::Rsa(bits) => {
            let size = match bits {
                2048 => rcgen::RsaKeySize::_2048,
                3072 => rcgen::RsaKeySize::_3072,
                _ => rcgen::RsaKeySize::_4096,
            };
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size).map_err(failed)
        }
        other => rcgen::KeyPair::generate_for(rcgen_alg(other)).map_err(failed),
    }
}

/// A stored PKCS #8 key pair, to sign with `alg`.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn key_pair(
    pkcs8: &[u8],
    alg: &'static rcgen::SignatureAlgorithm,
) -> Result<rcgen::KeyPair> {
    use base64::Engine;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pkcs8));
    let pem = Zeroizing::new(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        b64.as_str()
    ));
    rcgen::KeyPair::from_pem_and_sign_algo(&pem, alg)
        .map_err(|_| internal("stored key pair is unusable"))
}

/// The DER SubjectPublicKeyInfo of a stored PKCS #8 key pair of `alg`.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn spki_of_pkcs8(pkcs8: &[u8], alg: PublicKeyAlgorithm) -> Result<Vec<u8>> {
    Ok(key_pair(pkcs8, rcgen_alg(alg))?.public_key_der())
}

/// The check value of an asymmetric key: the leftmost bytes of SHA-1 over
/// its DER SubjectPublicKeyInfo (AWS `KeyCheckValueAlgorithm` `SHA_1`; what
/// it hashes AWS does not say: the emulator's and software backend's
/// choice).
pub(crate) fn asymmetric_kcv(spki: &[u8]) -> Kcv {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(spki);
    Kcv([d[0], d[1], d[2]])
}

/// A public key for rcgen to certify.
struct Public<'a> {
    raw: &'a [u8],
    alg: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for Public<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.raw
    }
    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        self.alg
    }
}

/// A backend's certificate authority: issues the certificates of the key
/// pairs it creates (a P-256 key and a self-signed CA certificate).
pub(crate) struct Ca {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca")
    }
}

impl Ca {
    /// A new CA named `name`.
    pub(crate) fn new(name: &str) -> Result<Self> {
        let failed = |_| internal("CA key generation failed");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_owned());
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).map_err(failed)?;
        Ok(Self { key, cert })
    }

    /// The CA's own certificate, PEM.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA's own certificate, DER.
    pub(crate) fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    /// A certificate for the public key `spki` (DER SubjectPublicKeyInfo),
    /// named `common_name` in `organization`: its PEM and DER.
    pub(crate) fn issue(
        &self,
        spki: &[u8],
        common_name: &str,
        organization: &str,
    ) -> Result<(String, Vec<u8>)> {
        let (alg, raw) = x509::spki_key(spki)?;
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|_| internal("certificate parameters"))?;
        p.distinguished_name
            .push(rcgen::DnType::CommonName, common_name.to_owned());
        p.distinguished_name
            .push(rcgen::DnType::OrganizationName, organization.to_owned());
        let public = Public {
            raw: &raw,
            alg: rcgen_alg(alg),
        };
        let cert = p
            .signed_by(&public, &self.cert, &self.key)
            .map_err(|_| internal("certificate issuance failed"))?;
        Ok((cert.pem(), cert.der().to_vec()))
    }
}

/// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption of `ciphertext`
/// with the stored PKCS #8 RSA key pair `pkcs8` (TR-34's key transport).
pub(crate) fn oaep_sha256_decrypt(pkcs8: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
    let key = PrivateDecryptingKey::from_pkcs8(pkcs8)
        .ok()
        .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
        .ok_or_else(|| internal("stored key pair is unusable for RSA-OAEP"))?;
    let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
    let n = key
        .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
        .map_err(|_| {
            Error::invalid(
                "tr34 key block",
                "its ephemeral key could not be unwrapped with the wrapping key",
            )
        })?
        .len();
    out.truncate(n);
    Ok(out)
}

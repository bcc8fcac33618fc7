//! Asymmetric keys in the software backend (feature `asymmetric`): RSA and
//! ECC key pairs certified by the backend's own certificate authority, root
//! and trusted public key certificates, and key exchange by TR-34 and ECDH
//! with the same code the AWS emulator uses ([`crate::keyexchange`]) and
//! the same key rules (`rules::check_key_pair`,
//! `rules::check_certificate_authority`). TR-34 import and export tokens
//! are AWS's (`GetParametersForImport/Export`): refused. The ECDH-agreed
//! key protects a TR-31 block of version D (AES) or B (TDES).

use super::keystore::{Keys, StoredKey};
use super::SoftwareBackend;
use crate::algo::tr31;
use crate::error::{Error, Result};
use crate::keyexchange::{ecdh, pki, tr34};
use crate::ops::*;
use crate::rules::{self, PairUse};
use crate::types::{KeyClass, KeyId, SecretBytes, Tr31Version};
use crate::x509::{self, CertParts};
use zeroize::Zeroizing;

const ORGANIZATION: &str = "paycrypto software backend";

fn parse(cert: &Certificate) -> Result<CertParts> {
    x509::parse_certificate(cert.der())
}

/// The key pair `id` checked against `rule`, and `certificate` (which must
/// certify it) parsed.
fn key_pair<'a>(
    keys: &'a Keys<'_>,
    id: &KeyId,
    certificate: Option<&Certificate>,
    use_: PairUse,
) -> Result<(&'a StoredKey, Option<CertParts>)> {
    let k = keys.get(id)?;
    rules::check_key_pair(
        id,
        &k.attributes,
        k.class == KeyClass::AsymmetricKeyPair,
        use_,
    )?;
    let parts = match certificate {
        Some(c) => {
            let parts = parse(c)?;
            if parts.spki != k.spki {
                return Err(Error::invalid(
                    "certificate",
                    format!("does not certify key {id}"),
                ));
            }
            Some(parts)
        }
        None => None,
    };
    Ok((k, parts))
}

/// `cert`, checked against the certificate authority `ca` (a public key of
/// usage S0 that may Verify).
fn under_ca(keys: &Keys<'_>, ca: &KeyId, cert: &Certificate) -> Result<CertParts> {
    let k = keys.get(ca)?;
    rules::check_certificate_authority(ca, &k.attributes, k.class == KeyClass::PublicKey)?;
    let parts = parse(cert)?;
    if !x509::verify_signed_by(&parts, &k.spki)? {
        return Err(Error::invalid(
            "certificate",
            format!("is not signed by the certificate authority {ca}"),
        ));
    }
    Ok(parts)
}

impl SoftwareBackend {
    /// The backend's certificate authority (made on first use).
    fn ca(&self) -> Result<&pki::Ca> {
        if let Some(ca) = self.ca.get() {
            return Ok(ca);
        }
        let ca = pki::Ca::new(&format!("paycrypto software backend {} CA", self.name))?;
        Ok(self.ca.get_or_init(|| ca))
    }

    /// `GenerateKey` for RSA and ECC attributes: a key pair, certified by
    /// the backend's CA.
    pub(super) fn generate_key_pair(&self, r: GenerateKeyRequest) -> Result<KeyInfo> {
        r.attributes.validate()?;
        let alg = pki::public_algorithm(r.attributes.algorithm)
            .ok_or_else(|| Error::invalid("key algorithm", "not an asymmetric algorithm"))?;
        let kp = pki::new_key_pair(alg)?;
        let pkcs8 = Zeroizing::new(kp.serialize_der());
        let spki = kp.public_key_der();
        let ca = self.ca()?;
        let (_, cert) = ca.issue(&spki, r.key_id.as_str(), ORGANIZATION)?;
        let key = StoredKey::asymmetric(
            r.key_id,
            r.attributes,
            KeyClass::AsymmetricKeyPair,
            SecretBytes::from_slice(&pkcs8),
            spki,
            (cert, vec![ca.der()]),
        )?;
        self.keys.insert(key)
    }

    /// `ImportKey` of a root (`ca` `None`: self-signed) or trusted
    /// (signed by `ca`) public key certificate.
    pub(super) fn import_certificate(
        &self,
        id: KeyId,
        attributes: crate::types::KeyAttributes,
        certificate: &Certificate,
        ca: Option<&KeyId>,
    ) -> Result<StoredKey> {
        attributes.validate_public_key()?;
        let parts = parse(certificate)?;
        let (alg, _) = x509::spki_key(&parts.spki)?;
        if pki::public_algorithm(attributes.algorithm) != Some(alg) {
            return Err(Error::invalid(
                "certificate",
                format!("does not hold a {} key", attributes.algorithm.aws_name()),
            ));
        }
        let chain = match ca {
            None => {
                if !x509::verify_signed_by(&parts, &parts.spki)? {
                    return Err(Error::invalid(
                        "certificate",
                        "a root certificate must be self-signed",
                    ));
                }
                vec![certificate.der().to_vec()]
            }
            Some(ca) => {
                let keys = self.keys.read();
                under_ca(&keys, ca, certificate)?;
                let issuer = keys.get(ca)?;
                issuer
                    .certificate
                    .as_ref()
                    .map(|(c, _)| vec![c.clone()])
                    .unwrap_or_default()
            }
        };
        StoredKey::asymmetric(
            id,
            attributes,
            KeyClass::PublicKey,
            SecretBytes::from_slice(&parts.spki),
            parts.spki.clone(),
            (certificate.der().to_vec(), chain),
        )
    }

    /// `GetPublicKeyCertificate`.
    pub(super) fn public_key_certificate(
        &self,
        r: GetPublicKeyCertificateRequest,
    ) -> Result<PublicKeyCertificate> {
        let k = self.keys.get(&r.key)?;
        let (cert, chain) = k.certificate.as_ref().ok_or_else(|| {
            Error::invalid(
                "key",
                format!(
                    "{} is a symmetric key; a certificate needs an asymmetric key",
                    r.key
                ),
            )
        })?;
        Ok(PublicKeyCertificate {
            key: r.key,
            certificate: Certificate::from_der(cert.clone())?,
            chain: chain
                .iter()
                .map(|c| Certificate::from_der(c.clone()))
                .collect::<Result<_>>()?,
        })
    }

    /// `ImportKey` of a TR-34 block: the key and its attributes.
    pub(super) fn open_tr34(&self, id: KeyId, t: &Tr34Import) -> Result<StoredKey> {
        let Tr34Krd::KeyPair { key, certificate } = &t.krd else {
            return Err(Error::unsupported(
                "TR-34 import tokens (AWS GetParametersForImport) on the software backend: name a key pair",
            ));
        };
        let (key, header) = {
            let keys = self.keys.read();
            let (krd_key, krd) = key_pair(&keys, key, Some(certificate), PairUse::Tr34Krd)?;
            let krd = krd.ok_or_else(|| Error::invalid("certificate", "missing"))?;
            let kdh = under_ca(&keys, &t.certificate_authority, &t.kdh_certificate)?;
            tr34::open_block(&t.key_block, &kdh, &krd, t.random_nonce.as_deref(), |ek| {
                pki::oaep_sha256_decrypt(krd_key.material.expose(), ek)
            })?
        };
        let attributes = tr34::attributes_of(&header, key.len())?;
        StoredKey::new(
            id,
            attributes,
            SecretBytes::from_slice(&key),
            self.require_parity,
        )
    }

    /// `ExportKey` of `key` as a TR-34 block (hex).
    pub(super) fn build_tr34(&self, key: &StoredKey, t: &Tr34Export) -> Result<String> {
        let Tr34Kdh::KeyPair {
            key: kdh_id,
            certificate,
        } = &t.kdh
        else {
            return Err(Error::unsupported(
                "TR-34 export tokens (AWS GetParametersForExport) on the software backend: name a key pair",
            ));
        };
        let keys = self.keys.read();
        let (kdh_key, kdh) = key_pair(&keys, kdh_id, Some(certificate), PairUse::Tr34Kdh)?;
        let kdh = kdh.ok_or_else(|| Error::invalid("certificate", "missing"))?;
        let krd = under_ca(&keys, &t.certificate_authority, &t.krd_certificate)?;
        let signer = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(kdh_key.material.expose())
            .map_err(|_| Error::new(crate::ErrorKind::Backend, "stored key pair is unusable"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let block = tr34::build_block(
            &key.attributes,
            "00",
            key.material.expose(),
            &kdh,
            &signer,
            &krd,
            t.random_nonce.as_deref(),
            now,
        )?;
        Ok(hex::encode_upper(block))
    }

    /// The key-block protection key ECDH parameters agree on.
    fn agreed_kbpk(&self, p: &EcdhParameters) -> Result<SecretBytes> {
        let keys = self.keys.read();
        let (own, _) = key_pair(&keys, &p.private_key, None, PairUse::KeyAgreement)?;
        let partner = under_ca(&keys, &p.certificate_authority, &p.public_key_certificate)?;
        let own_alg = pki::public_algorithm(own.attributes.algorithm)
            .ok_or_else(|| Error::key_usage("ECDH needs an ECC key pair"))?;
        ecdh::agree_kbpk(
            own.material.expose(),
            own_alg,
            &partner.spki,
            p.derive_key_algorithm,
            p.kdf,
            p.hash,
            &p.shared_information,
        )
    }

    /// `ImportKey` of a TR-31 block under an ECDH-agreed key.
    pub(super) fn open_ecdh(
        &self,
        id: KeyId,
        p: &EcdhParameters,
        block: &str,
    ) -> Result<StoredKey> {
        let kbpk = self.agreed_kbpk(p)?;
        let (header, clear) = tr31::unwrap(kbpk.expose(), block)?;
        let attributes = crate::keyload::tr31_attributes(&header, clear.len())?;
        StoredKey::new(
            id,
            attributes,
            SecretBytes::from_slice(&clear),
            self.require_parity,
        )
    }

    /// `ExportKey` of `key` as a TR-31 block under an ECDH-agreed key
    /// (version D under an AES key, B under a TDES key).
    pub(super) fn build_ecdh(&self, key: &StoredKey, p: &EcdhParameters) -> Result<String> {
        let kbpk = self.agreed_kbpk(p)?;
        let version = if p.derive_key_algorithm.is_aes() {
            Tr31Version::D
        } else {
            Tr31Version::B
        };
        let header = crate::keyload::tr31_header(version, &key.attributes)?;
        Ok(tr31::wrap(
            kbpk.expose(),
            &header,
            key.material.expose(),
            &mut rand::rng(),
        )?)
    }
}

//! A key-exchange partner for the emulator's ECDH operations, built from
//! parts the emulator does not use: its own root CA and P-256 key pair
//! (rcgen), ECDH with aws-lc-rs, the crate's KDF (checked against NIST
//! CAVS and RFC 7518 vectors) and TR-31 (checked against published blocks).
#![allow(dead_code)]

use aws_lc_rs::agreement;
use base64::Engine;
use paycrypto::algo::kdf::{self, KdfHash};
use paycrypto::algo::tr31;
use paycrypto::keyload::{tr31_header, tr31_version_for};
use paycrypto::{KeyAlgorithm, KeyAttributes};

/// Base64 of PEM, as the API carries certificates.
pub fn field(cert: &rcgen::Certificate) -> String {
    base64::engine::general_purpose::STANDARD.encode(cert.pem())
}

/// The partner: a root CA and a P-256 key pair certified by it.
pub struct Partner {
    pub root: rcgen::Certificate,
    pub root_key: rcgen::KeyPair,
    pub key: rcgen::KeyPair,
    pub cert: rcgen::Certificate,
}

impl Partner {
    pub fn new() -> Self {
        let root_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "ECDH partner root");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root = p.self_signed(&root_key).unwrap();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "ECDH partner");
        let cert = p.signed_by(&key, &root, &root_key).unwrap();
        Self {
            root,
            root_key,
            key,
            cert,
        }
    }

    /// The key-block protection key agreed with the emulator's P-256 public
    /// point `peer`.
    pub fn kbpk(
        &self,
        peer: &[u8],
        nist: bool,
        hash: KdfHash,
        shared: &[u8],
        alg: KeyAlgorithm,
    ) -> Vec<u8> {
        let private = agreement::PrivateKey::from_private_key_der(
            &agreement::ECDH_P256,
            &self.key.serialize_der(),
        )
        .unwrap();
        let z = agreement::agree(
            &private,
            agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer),
            (),
            |z| Ok(z.to_vec()),
        )
        .unwrap();
        let mut k = if nist {
            kdf::one_step_kdf(hash, &z, shared, alg.key_len())
        } else {
            kdf::x963_kdf(hash, &z, shared, alg.key_len())
        }
        .unwrap()
        .to_vec();
        if alg.is_tdes() {
            paycrypto::algo::cipher::fix_odd_parity(&mut k);
        }
        k
    }
}

/// A TR-31 block of `key` with `attrs` under `kbpk` (of `kbpk_alg`).
pub fn wrap(kbpk: &[u8], kbpk_alg: KeyAlgorithm, attrs: &KeyAttributes, key: &[u8]) -> String {
    let header = tr31_header(tr31_version_for(kbpk_alg).unwrap(), attrs).unwrap();
    tr31::wrap(kbpk, &header, key, &mut rand::rng()).unwrap()
}

/// The uncompressed point in the certificate (base64 of PEM) an API call
/// answered: the BIT STRING of the SubjectPublicKeyInfo, walked by hand.
pub fn point_of(field: &str) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = String::from_utf8(b64.decode(field).unwrap()).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = b64.decode(body).unwrap();
    // The P-256 SubjectPublicKeyInfo prefix: SEQUENCE, AlgorithmIdentifier
    // (ecPublicKey, prime256v1), BIT STRING of 66 bytes (00 04 X Y).
    let prefix = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    let at = der
        .windows(prefix.len())
        .position(|w| w == prefix.as_slice())
        .expect("a P-256 SubjectPublicKeyInfo");
    der[at + prefix.len()..at + prefix.len() + 65].to_vec()
}

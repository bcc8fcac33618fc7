//! ECDH key agreement for TR-31 key exchange (AWS
//! `DiffieHellmanTr31KeyBlock`): ECDH between a stored ECC key pair and the
//! partner's public key gives the shared secret Z (the x-coordinate,
//! aws-lc-rs); NIST SP 800-56C one-step or ANSI X9.63 KDF
//! ([`crate::algo::kdf`]) with the hash and shared information derives a
//! TDES or AES key, the key-block protection key of an ordinary TR-31
//! block. TDES keys get odd parity after derivation (a choice: AWS does not
//! say).

use crate::algo::kdf::{self, KdfHash};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::KeyDerivationFunction;
use crate::types::{KeyAlgorithm, SecretBytes};
use crate::x509::{self, PublicKeyAlgorithm};
use aws_lc_rs::agreement;

/// The key-block protection key agreed between the key pair `private_pkcs8`
/// (of `own`, an ECC curve) and the partner's public key `peer_spki` (DER
/// SubjectPublicKeyInfo, same curve): a `derive` key (TDES or AES) from
/// `kdf` over `hash` with `shared` information.
pub(crate) fn agree_kbpk(
    private_pkcs8: &[u8],
    own: PublicKeyAlgorithm,
    peer_spki: &[u8],
    derive: KeyAlgorithm,
    kdf: KeyDerivationFunction,
    hash: KdfHash,
    shared: &[u8],
) -> Result<SecretBytes> {
    if !(derive.is_tdes() || derive.is_aes()) {
        return Err(Error::invalid(
            "derive key algorithm",
            "must be TDES or AES: the derived key protects a TR-31 block",
        ));
    }
    let (peer_alg, peer_point) = x509::spki_key(peer_spki)?;
    if peer_alg != own {
        return Err(Error::invalid(
            "public key certificate",
            format!(
                "holds a {} key; the private key is {}",
                peer_alg.aws_name().unwrap_or("other"),
                own.aws_name().unwrap_or("other")
            ),
        ));
    }
    let curve = match own {
        PublicKeyAlgorithm::P256 => &agreement::ECDH_P256,
        PublicKeyAlgorithm::P384 => &agreement::ECDH_P384,
        PublicKeyAlgorithm::P521 => &agreement::ECDH_P521,
        PublicKeyAlgorithm::Rsa(_) => {
            return Err(Error::key_usage("ECDH needs an ECC key pair"));
        }
    };
    let private = agreement::PrivateKey::from_private_key_der(curve, private_pkcs8)
        .map_err(|_| Error::new(ErrorKind::Backend, "stored key pair is unusable for ECDH"))?;
    let peer = agreement::UnparsedPublicKey::new(curve, &peer_point);
    let z = agreement::agree(&private, peer, (), |z| {
        Ok(zeroize::Zeroizing::new(z.to_vec()))
    })
    .map_err(|()| {
        Error::invalid(
            "public key certificate",
            "ECDH with the certificate's public key failed",
        )
    })?;
    let len = derive.key_len();
    let mut key = match kdf {
        KeyDerivationFunction::NistSp800 => kdf::one_step_kdf(hash, &z, shared, len),
        KeyDerivationFunction::AnsiX963 => kdf::x963_kdf(hash, &z, shared, len),
    }?;
    if derive.is_tdes() {
        crate::algo::cipher::fix_odd_parity(&mut key);
    }
    Ok(SecretBytes::from_slice(&key))
}

//! RSA key exchange parameters: GetParametersForImport / GetParametersForExport
//! certificates and tokens, and RSA-OAEP unwrapping of key cryptograms.

use super::api::{ApiError, ApiResult};
use super::state::now;
use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256, OAEP_SHA512_MGF1SHA512,
};
use rand::Rng;
use zeroize::Zeroizing;

/// Parameters handed out by GetParametersForImport / GetParametersForExport.
#[derive(Clone)]
pub(crate) struct Params {
    pub(crate) token: String,
    pub(crate) algorithm: String,
    pub(crate) certificate: String,
    pub(crate) valid_until: f64,
    key: PrivateDecryptingKey,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("token", &self.token)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Token ids look like the service's: `import-token-` + 16 alphanumerics.
fn token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}-token-{tail}")
}

/// New RSA parameters: a fresh key pair and a self-signed certificate for it,
/// valid for 30 days (as the service's import tokens are).
pub(crate) fn new_params(prefix: &str, algorithm: &str, common_name: &str) -> ApiResult<Params> {
    let size = match algorithm {
        "RSA_2048" => rcgen::RsaKeySize::_2048,
        "RSA_3072" => rcgen::RsaKeySize::_3072,
        "RSA_4096" => rcgen::RsaKeySize::_4096,
        _ => {
            return Err(ApiError::field(
                "WrappingKeyAlgorithm",
                "must be RSA_2048, RSA_3072 or RSA_4096 for this key material type",
            ))
        }
    };
    let internal = |_| ApiError::internal("RSA key generation failed");
    let kp = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size).map_err(internal)?;
    let pkcs8 = Zeroizing::new(kp.serialize_der());
    let key = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .map_err(|_| ApiError::internal("RSA key load failed"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(internal)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "paycrypto AWS Payment Cryptography emulator",
    );
    let cert = params.self_signed(&kp).map_err(internal)?;
    Ok(Params {
        token: token(prefix),
        algorithm: algorithm.to_owned(),
        certificate: crate::x509::api_certificate_field(&cert.pem()),
        valid_until: now() + 30.0 * 86_400.0,
        key,
    })
}

impl Params {
    /// RSA-OAEP-decrypts a key cryptogram (`RSA_OAEP_SHA_256` or `_512`).
    pub(crate) fn unwrap(&self, spec: &str, cryptogram: &[u8]) -> ApiResult<Zeroizing<Vec<u8>>> {
        let alg = match spec {
            "RSA_OAEP_SHA_256" => &OAEP_SHA256_MGF1SHA256,
            "RSA_OAEP_SHA_512" => &OAEP_SHA512_MGF1SHA512,
            _ => {
                return Err(ApiError::field(
                    "KeyMaterial.KeyCryptogram.WrappingSpec",
                    "must be RSA_OAEP_SHA_256 or RSA_OAEP_SHA_512",
                ))
            }
        };
        let k = OaepPrivateDecryptingKey::new(self.key.clone())
            .map_err(|_| ApiError::internal("RSA key unusable"))?;
        let mut out = Zeroizing::new(vec![0u8; k.min_output_size()]);
        let n = k
            .decrypt(alg, cryptogram, &mut out, None)
            .map_err(|_| {
                ApiError::field(
                    "KeyMaterial.KeyCryptogram.WrappedKeyCryptogram",
                    "could not be unwrapped with the import token's key",
                )
            })?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

/// RSA-OAEP-encrypts `key` to the public key in an API certificate field.
pub(crate) fn wrap_to_certificate(cert_field: &str, spec: &str, key: &[u8]) -> ApiResult<Vec<u8>> {
    let alg = match spec {
        "RSA_OAEP_SHA_256" => &OAEP_SHA256_MGF1SHA256,
        "RSA_OAEP_SHA_512" => &OAEP_SHA512_MGF1SHA512,
        _ => {
            return Err(ApiError::field(
                "WrappingSpec",
                "must be RSA_OAEP_SHA_256 or RSA_OAEP_SHA_512",
            ))
        }
    };
    let der = crate::x509::api_certificate_der(cert_field)
        .map_err(|e| ApiError::field("WrappingKeyCertificate", e.context()))?;
    let spki = crate::x509::spki_of_der(&der)
        .map_err(|e| ApiError::field("WrappingKeyCertificate", e.context()))?;
    let pk = PublicEncryptingKey::from_der(&spki).map_err(|_| {
        ApiError::field("WrappingKeyCertificate", "does not hold an RSA public key")
    })?;
    let pk =
        OaepPublicEncryptingKey::new(pk).map_err(|_| ApiError::internal("RSA key unusable"))?;
    let mut out = vec![0u8; pk.ciphertext_size()];
    let n = pk
        .encrypt(alg, key, &mut out, None)
        .map_err(|_| ApiError::internal("RSA-OAEP wrapping failed"))?
        .len();
    out.truncate(n);
    Ok(out)
}

//! RSA key exchange parameters: GetParametersForImport / GetParametersForExport
//! certificates and tokens, and RSA-OAEP unwrapping of key cryptograms.

use super::api::{ApiError, ApiResult};
use super::state::now;
use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256, OAEP_SHA512_MGF1SHA512,
};
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use zeroize::Zeroizing;

/// How long import and export parameters (token and certificate) stay
/// valid: 30 days, as the service documents ("The import token expires in
/// 30 days", API reference for GetParametersForImport; the same for
/// GetParametersForExport).
pub(crate) const VALIDITY_SECS: f64 = 30.0 * 86_400.0;

/// Most import and export tokens held at once; the oldest goes first.
/// Each holds an RSA private key, and each costs a key generation.
pub(crate) const MAX_LIVE_TOKENS: usize = 64;

/// Parameters handed out by GetParametersForImport / GetParametersForExport.
#[derive(Clone)]
pub(crate) struct Params {
    pub(crate) token: String,
    pub(crate) algorithm: String,
    pub(crate) certificate: String,
    pub(crate) valid_until: f64,
    key: PrivateDecryptingKey,
    /// The same RSA key for signing (TR-34 export: the KDH signs).
    signing: Arc<aws_lc_rs::signature::RsaKeyPair>,
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
/// valid for [`VALIDITY_SECS`]. Slow (an RSA key generation, seconds for
/// RSA-4096): call it through [`generate`], off the request path.
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
    let signing = Arc::new(
        aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| ApiError::internal("RSA key load failed"))?,
    );
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
        valid_until: now() + VALIDITY_SECS,
        key,
        signing,
    })
}

/// [`new_params`] on the blocking thread pool, at most `slots`' permits at
/// a time, so that key generation neither stalls the runtime's workers nor
/// takes every core from other requests. The permit goes with the job: a
/// client that hangs up does not free a slot while its key is still being
/// generated.
pub(crate) async fn generate(
    slots: &Arc<tokio::sync::Semaphore>,
    prefix: &'static str,
    algorithm: String,
    common_name: &'static str,
) -> ApiResult<Params> {
    let permit = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("key generation is shut down"))?;
    tokio::task::spawn_blocking(move || {
        let p = new_params(prefix, &algorithm, common_name);
        drop(permit);
        p
    })
    .await
    .map_err(|_| ApiError::internal("RSA key generation failed"))?
}

/// Import and export parameters handed out and still live: expired ones
/// are dropped, and at most `cap` are held (the oldest evicted first).
pub(crate) struct ParamRegistry {
    tokens: HashMap<String, Params>,
    /// Tokens, oldest first.
    order: VecDeque<String>,
    last_import: Option<String>,
    last_export: Option<String>,
    cap: usize,
}

impl Default for ParamRegistry {
    fn default() -> Self {
        Self::with_capacity(MAX_LIVE_TOKENS)
    }
}

impl ParamRegistry {
    /// An empty registry holding at most `cap` tokens (at least one).
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            tokens: HashMap::new(),
            order: VecDeque::new(),
            last_import: None,
            last_export: None,
            cap: cap.max(1),
        }
    }

    fn purge(&mut self, now: f64) {
        self.tokens.retain(|_, p| p.valid_until > now);
        let tokens = &self.tokens;
        self.order.retain(|t| tokens.contains_key(t));
    }

    /// Adds new parameters (the latest import or export ones), evicting
    /// expired ones and then the oldest while full.
    pub(crate) fn insert(&mut self, p: Params, import: bool, now: f64) {
        self.purge(now);
        while self.tokens.len() >= self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.tokens.remove(&old);
                }
                None => break,
            }
        }
        let token = p.token.clone();
        self.order.push_back(token.clone());
        self.tokens.insert(token.clone(), p);
        if import {
            self.last_import = Some(token);
        } else {
            self.last_export = Some(token);
        }
    }

    /// The parameters of `token`, if it is live at `now`.
    pub(crate) fn valid(&self, token: &str, now: f64) -> Option<&Params> {
        self.tokens.get(token).filter(|p| p.valid_until > now)
    }

    /// The latest import (or export) parameters, if still live.
    pub(crate) fn last(&self, import: bool, now: f64) -> Option<&Params> {
        let last = if import {
            &self.last_import
        } else {
            &self.last_export
        };
        self.valid(last.as_deref()?, now)
    }

    /// Tokens held.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }
}

impl Params {
    /// RSA-OAEP-decrypts a key cryptogram (`RSA_OAEP_SHA_256` or `_512`).
    pub(crate) fn unwrap(&self, spec: &str, cryptogram: &[u8]) -> ApiResult<Zeroizing<Vec<u8>>> {
        self.unwrap_field(
            spec,
            cryptogram,
            "KeyMaterial.KeyCryptogram.WrappedKeyCryptogram",
        )
    }

    /// The RSA key pair, to sign with (TR-34 export).
    pub(crate) fn signing_key(&self) -> &aws_lc_rs::signature::RsaKeyPair {
        &self.signing
    }

    /// [`Params::unwrap`], the error naming `field`.
    pub(crate) fn unwrap_field(
        &self,
        spec: &str,
        cryptogram: &[u8],
        field: &str,
    ) -> ApiResult<Zeroizing<Vec<u8>>> {
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
                ApiError::field(field, "could not be unwrapped with the import token's key")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_the_oldest_is_evicted() {
        let p = new_params("import", "RSA_2048", "test").unwrap();
        let t0 = now();
        let mut reg = ParamRegistry::with_capacity(2);
        let mut a = p.clone();
        a.token = "import-token-a".into();
        let mut b = p.clone();
        b.token = "import-token-b".into();
        let mut c = p.clone();
        c.token = "export-token-c".into();
        reg.insert(a, true, t0);
        reg.insert(b, true, t0);
        assert_eq!(reg.len(), 2);
        reg.insert(c, false, t0);
        assert_eq!(reg.len(), 2, "bounded");
        assert!(reg.valid("import-token-a", t0).is_none(), "oldest evicted");
        assert!(reg.valid("import-token-b", t0).is_some());
        assert_eq!(
            reg.last(true, t0).map(|p| p.token.as_str()),
            Some("import-token-b")
        );
        assert_eq!(
            reg.last(false, t0).map(|p| p.token.as_str()),
            Some("export-token-c")
        );
        // 30 days later nothing is valid, and the next insert drops them all.
        let later = t0 + VALIDITY_SECS + 1.0;
        assert!(reg.valid("import-token-b", later).is_none());
        assert!(reg.last(true, later).is_none());
        let mut d = p;
        d.token = "import-token-d".into();
        d.valid_until = later + VALIDITY_SECS;
        reg.insert(d, true, later);
        assert_eq!(reg.len(), 1, "expired tokens purged");
    }
}

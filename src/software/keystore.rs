//! The software backend's in-memory keystore and the key rules an HSM enforces.

use crate::algo::cipher::{has_odd_parity, BlockCipher};
use crate::algo::kcv::key_check_value;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::KeyInfo;
use crate::types::{Kcv, KeyAttributes, KeyClass, KeyId, SecretBytes};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// A key held by the software backend. Its bytes zeroize on drop and never print.
#[derive(Debug, Clone)]
pub(crate) struct StoredKey {
    pub(crate) id: KeyId,
    pub(crate) attributes: KeyAttributes,
    pub(crate) material: SecretBytes,
    pub(crate) kcv: Kcv,
    /// The key schedule, computed once at load (TDES and AES keys).
    pub(crate) cipher: Option<BlockCipher>,
    /// Symmetric key, key pair (material: PKCS #8) or public key (material:
    /// the DER SubjectPublicKeyInfo).
    pub(crate) class: KeyClass,
    /// An asymmetric key's certificate (DER) and the chain that issued it.
    #[cfg_attr(not(feature = "asymmetric"), allow(dead_code))]
    pub(crate) certificate: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    /// An asymmetric key's DER SubjectPublicKeyInfo.
    #[cfg_attr(not(feature = "asymmetric"), allow(dead_code))]
    pub(crate) spki: Vec<u8>,
}

impl StoredKey {
    /// Validates material against attributes (length, DES parity) and computes the KCV.
    pub(crate) fn new(
        id: KeyId,
        attributes: KeyAttributes,
        material: SecretBytes,
        require_parity: bool,
    ) -> Result<Self> {
        attributes.validate()?;
        let alg = attributes.algorithm;
        if !alg.is_symmetric() {
            return Err(Error::invalid(
                "key algorithm",
                "an asymmetric key is a key pair or a public key, not key material",
            ));
        }
        if material.len() != alg.key_len() {
            return Err(Error::invalid(
                "key length",
                format!(
                    "{} bytes does not match algorithm {} ({} bytes)",
                    material.len(),
                    alg.aws_name(),
                    alg.key_len()
                ),
            ));
        }
        if require_parity && alg.is_tdes() && !has_odd_parity(material.expose()) {
            return Err(Error::invalid(
                "key parity",
                "TDES key does not have odd parity",
            ));
        }
        let kcv = key_check_value(alg, material.expose())?;
        let cipher = if alg.is_tdes() {
            Some(BlockCipher::tdes(material.expose())?)
        } else if alg.is_aes() {
            Some(BlockCipher::aes(material.expose())?)
        } else {
            None
        };
        Ok(Self {
            id,
            attributes,
            material,
            kcv,
            cipher,
            class: KeyClass::Symmetric,
            certificate: None,
            spki: Vec::new(),
        })
    }

    /// An asymmetric key: a key pair (`material` PKCS #8) or a public key
    /// (`material` the SubjectPublicKeyInfo), with its SubjectPublicKeyInfo,
    /// certificate and chain; its KCV is [`crate::keyexchange::pki::asymmetric_kcv`].
    #[cfg(feature = "asymmetric")]
    pub(crate) fn asymmetric(
        id: KeyId,
        attributes: KeyAttributes,
        class: KeyClass,
        material: SecretBytes,
        spki: Vec<u8>,
        certificate: (Vec<u8>, Vec<Vec<u8>>),
    ) -> Result<Self> {
        if class == KeyClass::PublicKey {
            attributes.validate_public_key()?;
        } else {
            attributes.validate()?;
        }
        if attributes.algorithm.is_symmetric() {
            return Err(Error::invalid(
                "key algorithm",
                "an asymmetric key is RSA or ECC",
            ));
        }
        Ok(Self {
            id,
            kcv: crate::keyexchange::pki::asymmetric_kcv(&spki),
            attributes,
            material,
            cipher: None,
            class,
            certificate: Some(certificate),
            spki,
        })
    }

    /// The block cipher for this key, refused for HMAC keys.
    pub(crate) fn cipher(&self) -> Result<&BlockCipher> {
        self.cipher.as_ref().ok_or_else(|| {
            Error::key_usage("an HMAC or asymmetric key cannot be used as a block cipher key")
        })
    }

    pub(crate) fn info(&self) -> KeyInfo {
        KeyInfo {
            key_id: self.id.clone(),
            attributes: self.attributes,
            key_check_value: self.kcv,
            key_class: self.class,
        }
    }
}

/// The map behind the keystore. Key names are hashed with foldhash (seeded
/// per map) rather than SipHash: they are chosen by whoever loads keys, not by
/// whoever sends requests, and hashing them is on every operation's path.
type KeyMap = HashMap<KeyId, Arc<StoredKey>, foldhash::fast::RandomState>;

/// Thread-safe map from key names to keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyStore {
    keys: Arc<RwLock<KeyMap>>,
}

fn not_found(id: &KeyId) -> Error {
    Error::new(ErrorKind::KeyNotFound, format!("no key named {id}"))
}

/// Read access to the keystore for the length of one operation: several
/// lookups under one lock acquisition, borrowing the keys instead of
/// counting references. Other readers share it; an import or deletion waits
/// for it (and, while one waits, so do new readers), so hold it for one
/// operation's own work only, and never take the keystore's lock again
/// while holding it.
pub(crate) struct Keys<'a>(RwLockReadGuard<'a, KeyMap>);

impl Keys<'_> {
    pub(crate) fn get(&self, id: &KeyId) -> Result<&StoredKey> {
        self.0.get(id).map(|k| &**k).ok_or_else(|| not_found(id))
    }
}

impl KeyStore {
    /// Read access for one operation's lookups (see [`Keys`]).
    pub(crate) fn read(&self) -> Keys<'_> {
        Keys(self.keys.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn get(&self, id: &KeyId) -> Result<Arc<StoredKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.get(id).cloned().ok_or_else(|| not_found(id))
    }

    pub(crate) fn insert(&self, key: StoredKey) -> Result<KeyInfo> {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.contains_key(&key.id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {} already exists", key.id),
            ));
        }
        let info = key.info();
        keys.insert(key.id.clone(), Arc::new(key));
        Ok(info)
    }

    pub(crate) fn remove(&self, id: &KeyId) -> Result<()> {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.remove(id).map(|_| ()).ok_or_else(|| not_found(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

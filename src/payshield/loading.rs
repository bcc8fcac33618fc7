//! Adding keys to the backend's key table: keys already under the LMK (from
//! a key ceremony or a key database), and clear *test* keys on a payShield
//! that runs the public test LMK.
//!
//! A real payShield accepts clear key components only at its console (or
//! through A4 with components already encrypted under the LMK), so
//! [`crate::ops::KeyMaterial::Components`] is `Unsupported` on the backend.
//! Test rigs (the simulator, a lab HSM loaded with the published test LMK)
//! still need a KEK whose clear value the test knows, to send working keys
//! as TR-31 blocks. Under the *public* test LMK the host can form that
//! key-under-LMK itself: the LMK is no secret. These methods do exactly
//! that, after asking the HSM (NC) whether its LMK check value is the test
//! LMK's; for any other LMK they refuse and never touch the key table.

use super::client::PayShieldBackend;
use super::codec::{self, request as rq};
use super::keyblock::{KeyBlockLmk, LmkKind};
use super::keytable::{algorithm_for, key_type_for, scheme_for, TableKey};
use super::lmk::{EncryptedKey, KeyScheme, KeyType, VariantLmk};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::KeyInfo;
use crate::types::{Kcv, KeyAttributes, KeyId};

/// The public test LMK's check value as NC reports it (16 hex digits).
pub fn test_lmk_check_value() -> String {
    hex::encode_upper(VariantLmk::test_lmk().check_value())
}

/// The test LMK's check value for an LMK of `kind` (the variant test LMK,
/// or the test key-block LMK: see [`crate::payshield::keyblock`]).
pub fn test_lmk_check_value_for(kind: LmkKind) -> String {
    match kind {
        LmkKind::Variant => test_lmk_check_value(),
        LmkKind::KeyBlock => hex::encode_upper(KeyBlockLmk::test_lmk().check_value()),
    }
}

impl PayShieldBackend {
    /// The key check value of `key` (type `key_type`) as the HSM computes
    /// it (BU). An error when the key does not decrypt under the HSM's LMK
    /// with odd parity (wrong LMK, wrong key type, corrupted value).
    pub async fn check_value(&self, key_type: KeyType, key: &EncryptedKey) -> Result<Kcv> {
        let mut b = Vec::with_capacity(64);
        rq::bu(&mut b, key_type, key);
        let r = self.command(&b).await?;
        if &r.error != b"00" {
            return Err(super::error_for_code(r.error));
        }
        let v = codec::parse_bv(&r.body).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("malformed payShield response: {e}"),
            )
        })?;
        let mut kcv = [0u8; 3];
        for (o, b) in kcv.iter_mut().zip(&v) {
            *o = *b;
        }
        Ok(Kcv(kcv))
    }

    /// Adds a key that is already encrypted under the HSM's LMK (as a key
    /// ceremony or a key database leaves it) to the key table, with its
    /// TR-31 `attributes`. `key_type` defaults from the usage (ZPK for P0,
    /// CVK for C0, …). The HSM computes the check value (BU), which proves
    /// the key decrypts under its LMK; when `expected_kcv` is given it must
    /// match.
    pub async fn add_key_under_lmk(
        &self,
        id: KeyId,
        key_type: Option<KeyType>,
        key: EncryptedKey,
        attributes: KeyAttributes,
        expected_kcv: Option<Kcv>,
    ) -> Result<KeyInfo> {
        attributes.validate()?;
        let key_type = match (key_type, key.scheme) {
            (Some(k), _) => k,
            (None, KeyScheme::S) => KeyType::KEY_BLOCK,
            (None, _) => key_type_for(&attributes)?,
        };
        let fits = match key.scheme {
            KeyScheme::S => super::keyblock::header_of(&key)
                .is_some_and(|h| char::from(h.algorithm) == attributes.algorithm.tr31_code()),
            s => algorithm_for(s)? == attributes.algorithm,
        };
        if !fits {
            return Err(Error::invalid(
                "key under lmk",
                "its key scheme or key block algorithm does not match the algorithm",
            ));
        }
        if self.keys().contains(&id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {id} already exists"),
            ));
        }
        let kcv = self.check_value(key_type, &key).await?;
        if expected_kcv.is_some_and(|k| k != kcv) {
            return Err(Error::invalid(
                "kcv",
                "the key under LMK does not have the expected check value",
            ));
        }
        self.keys().insert(
            id.clone(),
            TableKey {
                key_type,
                key,
                attributes,
                kcv,
            },
        )?;
        Ok(KeyInfo {
            key_id: id,
            attributes,
            key_check_value: kcv,
            key_class: crate::types::KeyClass::Symmetric,
        })
    }

    /// True when the HSM reports (NC) the check value of the test LMK of
    /// the configured kind (variant or key block).
    pub async fn runs_test_lmk(&self) -> Result<bool> {
        let (kcv, _firmware) = self.diagnostics().await?;
        Ok(kcv.eq_ignore_ascii_case(&test_lmk_check_value_for(self.lmk_kind())))
    }

    /// Adds a clear **test** key to the key table, encrypted under the
    /// public test LMK, with `attributes` (any TDES key the key table can
    /// hold; typically a KEK that then imports working keys as TR-31). On
    /// a key-block LMK the key becomes a key block under the test
    /// key-block LMK, and AES and HMAC keys are held too.
    ///
    /// Refuses with [`ErrorKind::KeyUsage`] unless the HSM reports the test
    /// LMK's check value, with [`ErrorKind::Unsupported`] for keys a variant
    /// LMK cannot hold (AES, HMAC), and with [`ErrorKind::InvalidInput`] for
    /// a TDES key without odd parity (the HSM would reject it).
    pub async fn load_test_key(
        &self,
        id: KeyId,
        attributes: KeyAttributes,
        clear: &[u8],
    ) -> Result<KeyInfo> {
        let info = self.load_test_key_inner(id, attributes, clear).await;
        info.map_err(|e| e.with_backend(self.name_owned()))
    }

    fn name_owned(&self) -> String {
        crate::Backend::name(self).to_string()
    }

    async fn load_test_key_inner(
        &self,
        id: KeyId,
        attributes: KeyAttributes,
        clear: &[u8],
    ) -> Result<KeyInfo> {
        attributes.validate()?;
        let kb = self.lmk_kind() == LmkKind::KeyBlock;
        let (key_type, scheme) = if kb {
            (KeyType::KEY_BLOCK, KeyScheme::S)
        } else {
            (
                key_type_for(&attributes)?,
                scheme_for(attributes.algorithm)?,
            )
        };
        if clear.len() != attributes.algorithm.key_len() {
            return Err(Error::invalid(
                "clear key",
                "length does not match the algorithm",
            ));
        }
        if attributes.algorithm.is_tdes() && !crate::algo::cipher::has_odd_parity(clear) {
            return Err(Error::invalid(
                "clear key",
                "a TDES key under the LMK must have odd parity",
            ));
        }
        if !self.runs_test_lmk().await? {
            return Err(Error::new(
                ErrorKind::KeyUsage,
                "clear keys are loaded only into a payShield running the public test LMK; \
                 this HSM reports another LMK check value",
            ));
        }
        if self.keys().contains(&id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {id} already exists"),
            ));
        }
        let (key, kcv) = if kb {
            let h = super::keyblock::header_for(&attributes)?;
            let key = KeyBlockLmk::test_lmk().wrap(&h, clear, &mut rand::rng())?;
            (
                key,
                crate::algo::kcv::key_check_value(attributes.algorithm, clear)?,
            )
        } else {
            (
                VariantLmk::test_lmk().encrypt_key(key_type, scheme, clear)?,
                Kcv(crate::algo::cipher::kcv_tdes(clear)?),
            )
        };
        self.keys().insert(
            id.clone(),
            TableKey {
                key_type,
                key,
                attributes,
                kcv,
            },
        )?;
        Ok(KeyInfo {
            key_id: id,
            attributes,
            key_check_value: kcv,
            key_class: crate::types::KeyClass::Symmetric,
        })
    }
}

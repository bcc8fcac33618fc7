//! Loading clear *test* keys into a payShield that runs the public test LMK.
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
use super::keytable::{key_type_for, scheme_for, TableKey};
use super::lmk::VariantLmk;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::KeyInfo;
use crate::types::{Kcv, KeyAttributes, KeyId};

/// The public test LMK's check value as NC reports it (16 hex digits).
pub fn test_lmk_check_value() -> String {
    hex::encode_upper(VariantLmk::test_lmk().check_value())
}

impl PayShieldBackend {
    /// True when the HSM reports (NC) the public test LMK's check value.
    pub async fn runs_test_lmk(&self) -> Result<bool> {
        let (kcv, _firmware) = self.diagnostics().await?;
        Ok(kcv.eq_ignore_ascii_case(&test_lmk_check_value()))
    }

    /// Adds a clear **test** key to the key table, encrypted under the
    /// public test LMK, with `attributes` (any TDES key the key table can
    /// hold; typically a KEK that then imports working keys as TR-31).
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
        let key_type = key_type_for(&attributes)?;
        let scheme = scheme_for(attributes.algorithm)?;
        if clear.len() != attributes.algorithm.key_len() {
            return Err(Error::invalid(
                "clear key",
                "length does not match the algorithm",
            ));
        }
        if !crate::algo::cipher::has_odd_parity(clear) {
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
        let key = VariantLmk::test_lmk().encrypt_key(key_type, scheme, clear)?;
        let kcv = Kcv(crate::algo::cipher::kcv_tdes(clear)?);
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
        })
    }
}

//! Provisioning the suite on a payShield that runs the public test LMK.

use super::{KeyRef, ProvisionOptions, Role};
use crate::payshield::PayShieldBackend;
use crate::types::{KeyId, SecretBytes};
use rand::RngCore;

/// Provisioning options for `ps`, a payShield that runs the **public test
/// LMK**: a fresh random TDES KEK (`{prefix}kek`) is loaded into the key
/// table under the test LMK ([`PayShieldBackend::load_test_key`]) and given
/// to the suite as an existing KEK; the AES KEK is attempted the same way,
/// and when the HSM cannot hold it (a variant LMK holds DES/TDES keys only)
/// the AES roles are declared unsupported with the backend's reason.
///
/// Fails (touching nothing) when the HSM reports another LMK check value:
/// clear keys are never loaded under a real LMK. The caller may delete the
/// KEKs afterwards ([`ProvisionOptions::existing_keks`]).
pub async fn payshield_test_lmk_options(
    ps: &PayShieldBackend,
    prefix: impl Into<String>,
) -> crate::Result<ProvisionOptions> {
    let mut opts = ProvisionOptions::with_prefix(prefix);
    for role in [Role::Kek, Role::KekAes] {
        let attrs = role.attributes();
        let mut clear = vec![0u8; attrs.algorithm.key_len()];
        rand::rng().fill_bytes(&mut clear);
        if attrs.algorithm.is_tdes() {
            crate::algo::cipher::fix_odd_parity(&mut clear);
        }
        let clear = SecretBytes::new(clear);
        let id = KeyId::new(format!("{}{}", opts.prefix, role.as_str()))?;
        match ps.load_test_key(id.clone(), attrs, clear.expose()).await {
            Ok(info) => {
                opts = opts.with_existing_kek(
                    role,
                    KeyRef::named(id)
                        .with_clear(clear)
                        .with_kcv(info.key_check_value),
                );
            }
            Err(e) if e.kind() == crate::ErrorKind::Unsupported => {
                opts = opts.with_unsupported(role, e.to_string());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(opts)
}

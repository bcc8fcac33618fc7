//! Building key-loading requests from clear *test* keys, the way a key
//! ceremony or a key-injection tool does: a KEK from clear components with
//! their KCVs, then working keys as TR-31 blocks under that KEK.
//!
//! This is how the same keys get onto several backends (so shadowing can
//! compare them) without any backend accepting clear keys directly. Use it
//! with test keys only; production keys come from a real ceremony.

use crate::algo::kcv::key_check_value;
use crate::algo::tr31;
use crate::error::{Error, Result};
use crate::ops::{ImportKeyRequest, KeyMaterial, Tr31Version};
use crate::types::{KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, SecretBytes};

/// An import request forming a key-encryption key (usage K0, modes B) from
/// two or three clear components, each with its computed KCV.
pub fn kek_from_components(
    key_id: KeyId,
    algorithm: KeyAlgorithm,
    components: &[&[u8]],
) -> Result<ImportKeyRequest> {
    let attributes = KeyAttributes::new(KeyUsage::KeyEncryption, algorithm, ModesOfUse::BOTH);
    let mut kcvs = Vec::with_capacity(components.len());
    for c in components {
        kcvs.push(key_check_value(algorithm, c)?);
    }
    Ok(ImportKeyRequest {
        key_id,
        material: KeyMaterial::Components {
            attributes,
            components: components
                .iter()
                .map(|c| SecretBytes::from_slice(c))
                .collect(),
            component_kcvs: kcvs,
        },
        expected_kcv: None,
    })
}

/// The clear key that [`kek_from_components`] forms on a backend: the XOR of
/// the components, adjusted to odd parity for TDES (as HSMs do when two
/// odd-parity components are combined).
pub fn combine_components(
    algorithm: KeyAlgorithm,
    components: &[&[u8]],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let mut key = tr31::combine_components(components)?;
    if algorithm.is_tdes() {
        crate::algo::cipher::fix_odd_parity(&mut key);
    }
    Ok(key)
}

/// What a backend does with [`KeyMaterial::Components`]: checks that there
/// is one KCV per component, that every component has the key's length and
/// matches its KCV, then combines them as [`combine_components`] does. Errors
/// name the component by position, never its value.
pub fn combine_checked_components(
    algorithm: KeyAlgorithm,
    components: &[SecretBytes],
    component_kcvs: &[crate::types::Kcv],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if component_kcvs.len() != components.len() {
        return Err(Error::invalid(
            "component kcvs",
            "one KCV is needed for each component",
        ));
    }
    for (i, (c, kcv)) in components.iter().zip(component_kcvs).enumerate() {
        if c.len() != algorithm.key_len() {
            return Err(Error::invalid(
                "component",
                format!(
                    "component {} has the wrong length for {}",
                    i + 1,
                    algorithm.aws_name()
                ),
            ));
        }
        if key_check_value(algorithm, c.expose())? != *kcv {
            return Err(Error::invalid(
                "component kcv",
                format!("component {} does not match its KCV", i + 1),
            ));
        }
    }
    let parts: Vec<&[u8]> = components.iter().map(|c| c.expose()).collect();
    combine_components(algorithm, &parts)
}

/// The TR-31 version to use under a KEK of `kek_algorithm`: D for AES, B for TDES.
pub fn tr31_version_for(kek_algorithm: KeyAlgorithm) -> Result<Tr31Version> {
    if kek_algorithm.is_aes() {
        Ok(Tr31Version::D)
    } else if kek_algorithm.is_tdes() {
        Ok(Tr31Version::B)
    } else {
        Err(Error::invalid("kek algorithm", "a KEK must be TDES or AES"))
    }
}

/// An import request carrying `clear_key` wrapped in a TR-31 block (version
/// B under a TDES KEK, D under an AES KEK) under the clear KEK `kek_clear`,
/// which must already be on the backend as `kek_id`. The request also
/// carries the expected KCV, so the backend confirms the key it stored.
pub fn tr31_import(
    kek_id: KeyId,
    kek_algorithm: KeyAlgorithm,
    kek_clear: &[u8],
    key_id: KeyId,
    attributes: KeyAttributes,
    clear_key: &[u8],
) -> Result<ImportKeyRequest> {
    let version = tr31_version_for(kek_algorithm)?;
    let header = tr31_header(version, &attributes)?;
    let block = tr31::wrap(kek_clear, &header, clear_key, &mut rand::rng())?;
    Ok(ImportKeyRequest {
        key_id,
        material: KeyMaterial::Tr31 {
            kek: kek_id,
            key_block: block,
        },
        expected_kcv: Some(key_check_value(attributes.algorithm, clear_key)?),
    })
}

/// Attributes of a key from its TR-31 header.
pub fn tr31_attributes(h: &tr31::Tr31Header, key_len: usize) -> Result<KeyAttributes> {
    let usage = KeyUsage::from_code(h.key_usage.as_str())?;
    let algorithm = KeyAlgorithm::from_tr31(h.algorithm.as_char(), key_len)?;
    let modes = crate::types::ModesOfUse::from_tr31(h.mode_of_use.as_char())?;
    let exportability = h.exportability;
    Ok(KeyAttributes::new(usage, algorithm, modes).with_exportability(exportability))
}

/// A TR-31 header for exporting a key with `attributes`.
pub fn tr31_header(version: Tr31Version, a: &KeyAttributes) -> Result<tr31::Tr31Header> {
    let bad = |what: &str| Error::invalid("tr31 header", format!("no TR-31 {what} for this key"));
    Ok(tr31::Tr31Header::new(
        version,
        tr31::KeyUsage::new(a.usage.code())?,
        tr31::Algorithm::from_char(a.algorithm.tr31_code()).ok_or_else(|| bad("algorithm"))?,
        tr31::ModeOfUse::from_char(a.modes.tr31_code()?).ok_or_else(|| bad("mode of use"))?,
        "00",
        a.exportability,
    )?)
}

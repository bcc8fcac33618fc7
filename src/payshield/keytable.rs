//! The payShield backend's key table: key names mapped to keys under the LMK.
//!
//! A variant-LMK payShield stores no keys: the host keeps each key encrypted
//! under the LMK and sends it with every command. The key table is that host
//! side store, with the TR-31 attributes the variant LMK cannot carry (so the
//! backend enforces usage and exportability as a key-block HSM would).
//!
//! File format (one key a line, `#` comments):
//! `<key-id> <key type 3H> <key under LMK> <TR-31 usage> <mode of use> <exportability> <KCV 6H> [<algorithm>]`,
//! for example `zpk/acq 001 U1EF828AA8F6B80EB83E19FBC373F3A85 P0 B E 6F1E3F`.
//! The algorithm (AWS name: `TDES_2KEY`, `AES_128`, …) is needed only for
//! a key block (`S…`, key type `FFF`), whose 16- and 24-byte keys look
//! alike; without it the key block's header decides (TDES 2-key, AES-128
//! or -256, HMAC).

use super::lmk::{EncryptedKey, KeyScheme, KeyType};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

/// One key in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKey {
    /// payShield key type code.
    pub key_type: KeyType,
    /// The key encrypted under the LMK.
    pub key: EncryptedKey,
    /// TR-31 attributes.
    pub attributes: KeyAttributes,
    /// Key check value.
    pub kcv: Kcv,
}

/// The payShield (variant-LMK) key type for keys with `attributes`: ZMK
/// for K0/K1, ZPK for P0, CVK for C0, BDK for B0, MK-AC/SMC/SMI for
/// E0/E1/E2, MK-CVC3 for E4 and MK-AC for E6 (the dynamic CVC3 and CVV
/// master keys AWS types so, as PM takes them), ZEK for D0, TAK for M0/M1/M3, PVK (002) for V1/V2. AES and
/// HMAC keys need a key-block LMK (key type `FFF`) and are unsupported here.
pub fn key_type_for(attributes: &KeyAttributes) -> Result<KeyType> {
    if !attributes.algorithm.is_tdes() {
        return Err(Error::unsupported(
            "payShield with a variant LMK holds DES/TDES keys only (AES and HMAC keys need a key-block LMK)",
        ));
    }
    Ok(match attributes.usage {
        KeyUsage::KeyEncryption | KeyUsage::KeyBlockProtection => KeyType::ZMK,
        KeyUsage::PinEncryption => KeyType::ZPK,
        KeyUsage::CardVerification => KeyType::CVK,
        KeyUsage::Bdk => KeyType::BDK,
        KeyUsage::EmvAppCryptogram => KeyType::MK_AC,
        KeyUsage::EmvSmConfidentiality => KeyType::MK_SMC,
        KeyUsage::EmvSmIntegrity => KeyType::MK_SMI,
        // The CVC3 master key (AWS: E4 for DynamicCardVerificationCode):
        // PM takes an MK-CVC3 (the manual: LMK 28-29 variant 7).
        KeyUsage::EmvDynamicNumbers => KeyType::MK_CVC3,
        // The dCVV master key (AWS: E6 for DynamicCardVerificationValue):
        // PM scheme 0 takes an MK-AC (the manual: LMK 28-29 variant 1).
        KeyUsage::EmvOther => KeyType::MK_AC,
        KeyUsage::DataEncryption => KeyType::ZEK,
        KeyUsage::MacIso16609 | KeyUsage::MacIso9797Alg1 | KeyUsage::MacIso9797Alg3 => KeyType::TAK,
        KeyUsage::PinVerificationIbm3624 | KeyUsage::PinVerificationVisaPvv => KeyType::TPK,
        other => {
            return Err(Error::unsupported(format!(
                "no payShield variant key type for TR-31 usage {}",
                other.code()
            )))
        }
    })
}

/// The LMK key scheme for a TDES algorithm (`U` double, `T` triple).
pub fn scheme_for(alg: KeyAlgorithm) -> Result<KeyScheme> {
    match alg {
        KeyAlgorithm::Tdes2 => Ok(KeyScheme::U),
        KeyAlgorithm::Tdes3 => Ok(KeyScheme::T),
        _ => Err(Error::unsupported(
            "only TDES keys can be held under a variant LMK",
        )),
    }
}

/// The algorithm of a key under the LMK.
pub fn algorithm_for(scheme: KeyScheme) -> Result<KeyAlgorithm> {
    match scheme {
        KeyScheme::U | KeyScheme::X => Ok(KeyAlgorithm::Tdes2),
        KeyScheme::T | KeyScheme::Y => Ok(KeyAlgorithm::Tdes3),
        KeyScheme::Z => Err(Error::unsupported(
            "single-length DES keys are not supported",
        )),
        KeyScheme::S => Err(Error::invalid(
            "key under lmk",
            "a key block's algorithm and length are not in its scheme",
        )),
    }
}

/// Thread-safe map from key names to keys under the LMK. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    keys: Arc<RwLock<HashMap<KeyId, Arc<TableKey>>>>,
}

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key named `id`.
    pub fn get(&self, id: &KeyId) -> Result<Arc<TableKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.get(id)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::KeyNotFound, format!("no key named {id}")))
    }

    /// True when `id` is present.
    pub fn contains(&self, id: &KeyId) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// Adds a key; [`ErrorKind::KeyExists`] if the name is taken.
    pub fn insert(&self, id: KeyId, key: TableKey) -> Result<()> {
        key.attributes.validate()?;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.contains_key(&id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {id} already exists"),
            ));
        }
        keys.insert(id, Arc::new(key));
        Ok(())
    }

    /// Removes a key.
    pub fn remove(&self, id: &KeyId) -> Result<()> {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.remove(id)
            .map(|_| ())
            .ok_or_else(|| Error::new(ErrorKind::KeyNotFound, format!("no key named {id}")))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses the text format and adds every key.
    pub fn load_str(&self, text: &str) -> Result<usize> {
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| Error::invalid("key table", format!("line {}: {what}", i + 1));
            let f: Vec<&str> = line.split_whitespace().collect();
            let ([id, kt, key, usage, mode, exp, kcv] | [id, kt, key, usage, mode, exp, kcv, _]) =
                f.as_slice()
            else {
                return Err(bad("expected 7 or 8 fields"));
            };
            let id = KeyId::new(*id).map_err(|_| bad("bad key id"))?;
            let key_type = KeyType::parse(kt.as_bytes()).map_err(|_| bad("bad key type"))?;
            let key = EncryptedKey::parse(key).map_err(|_| bad("bad key under LMK"))?;
            let algorithm = match (f.get(7), key.scheme) {
                (Some(a), KeyScheme::S) => {
                    let a = KeyAlgorithm::from_aws_name(a).ok_or_else(|| bad("bad algorithm"))?;
                    let header = crate::payshield::keyblock::header_of(&key)
                        .ok_or_else(|| bad("bad key block"))?;
                    if char::from(header.algorithm) != a.tr31_code() {
                        return Err(bad("the algorithm does not match the key block"));
                    }
                    a
                }
                (None, KeyScheme::S) => crate::payshield::keyblock::algorithm_of_block(&key)
                    .map_err(|_| bad("bad key block"))?,
                (Some(_), _) => return Err(bad("an algorithm is given for key blocks only")),
                (None, s) => algorithm_for(s).map_err(|_| bad("unsupported key scheme"))?,
            };
            let usage = KeyUsage::from_code(usage).map_err(|_| bad("bad key usage"))?;
            let one = |s: &str| {
                let mut c = s.chars();
                match (c.next(), c.next()) {
                    (Some(ch), None) => Ok(ch),
                    _ => Err(bad("expected one character")),
                }
            };
            let modes = ModesOfUse::from_tr31(one(mode)?).map_err(|_| bad("bad mode of use"))?;
            let exportability =
                Exportability::from_tr31(one(exp)?).map_err(|_| bad("bad exportability"))?;
            let kcv = Kcv::from_hex(kcv).map_err(|_| bad("bad kcv"))?;
            let attributes =
                KeyAttributes::new(usage, algorithm, modes).with_exportability(exportability);
            self.insert(
                id,
                TableKey {
                    key_type,
                    key,
                    attributes,
                    kcv,
                },
            )?;
            n += 1;
        }
        Ok(n)
    }

    /// Loads a key table file.
    pub fn load_file(&self, path: impl AsRef<std::path::Path>) -> Result<usize> {
        let text = std::fs::read_to_string(path.as_ref())
            .map_err(|e| Error::invalid("key table file", "cannot be read").with_source(e))?;
        self.load_str(&text)
    }

    /// The table in its text format (sorted by name).
    pub fn to_text(&self) -> Result<String> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&KeyId> = keys.keys().collect();
        names.sort();
        let mut s = String::new();
        for id in names {
            let Some(k) = keys.get(id) else { continue };
            let a = &k.attributes;
            let _ = write!(
                s,
                "{id} {} {} {} {} {} {}",
                k.key_type,
                k.key.to_text(),
                a.usage.code(),
                a.modes.tr31_code()?,
                a.exportability.tr31_code(),
                k.kcv
            );
            if k.key.scheme == KeyScheme::S {
                let _ = write!(s, " {}", a.algorithm.aws_name());
            }
            s.push('\n');
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_blocks_in_the_table() {
        use crate::payshield::keyblock::{KeyBlockHeader, KeyBlockLmk};
        let lmk = KeyBlockLmk::test_lmk();
        let h = KeyBlockHeader::new(b'1', *b"P0", b'T', b'B', b'E', *b"00");
        let k = lmk.wrap(&h, &[0x13; 24], &mut rand::rng()).unwrap();
        let t = KeyTable::new();
        let line = format!("zpk/3 FFF {} P0 B E 000000 TDES_3KEY\n", k.to_text());
        t.load_str(&line).unwrap();
        let got = t.get(&KeyId::new("zpk/3").unwrap()).unwrap();
        assert_eq!(got.attributes.algorithm, KeyAlgorithm::Tdes3);
        assert_eq!(got.key_type, KeyType::KEY_BLOCK);
        assert_eq!(t.to_text().unwrap(), line);
        // Without the algorithm the block's header decides (2-key TDES).
        let t2 = KeyTable::new();
        t2.load_str(&line.replace(" TDES_3KEY", "")).unwrap();
        let got = t2.get(&KeyId::new("zpk/3").unwrap()).unwrap();
        assert_eq!(got.attributes.algorithm, KeyAlgorithm::Tdes2);
        // An algorithm that contradicts the block, or one for a variant key.
        assert!(t2
            .load_str(&line.replace("zpk/3", "x").replace("TDES_3KEY", "AES_128"))
            .is_err());
        assert!(t2
            .load_str("y 001 U1EF828AA8F6B80EB83E19FBC373F3A85 P0 B E 6F1E3F TDES_2KEY")
            .is_err());
    }

    #[test]
    fn text_round_trip() {
        let t = KeyTable::new();
        let text = "# test\nzpk/a 001 U1EF828AA8F6B80EB83E19FBC373F3A85 P0 B E 6F1E3F\n";
        assert_eq!(t.load_str(text).unwrap(), 1);
        let k = t.get(&KeyId::new("zpk/a").unwrap()).unwrap();
        assert_eq!(k.key_type, KeyType::ZPK);
        assert_eq!(k.attributes.algorithm, KeyAlgorithm::Tdes2);
        let again = KeyTable::new();
        again.load_str(&t.to_text().unwrap()).unwrap();
        assert_eq!(*again.get(&KeyId::new("zpk/a").unwrap()).unwrap(), *k);
        assert_eq!(t.load_str(text).unwrap_err().kind(), ErrorKind::KeyExists);
        assert!(t.load_str("x 001 U00 P0 B E 000000").is_err());
        assert!(t.load_str("x 001").is_err());
    }
}

//! The payShield backend on a key-block LMK: keys are Thales key blocks
//! (`S…`, key type `FFF`), so AES keys, ISO format 4, AES DUKPT, CMAC and
//! HMAC become available. What differs from the variant-LMK client lives
//! here; the command layouts are in [`crate::payshield::codec::command`]
//! (with the public source, or "unconfirmed", for each field).

use super::{protocol, PayShieldBackend};
use crate::backend::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::payshield::codec::command::{A0KeyBlock, Command, KeyBlockExport, Request as Req};
use crate::payshield::codec::{self, request as rq, CodecError};
use crate::payshield::keyblock::{algorithm_of_block, header_for, header_of};
use crate::payshield::keytable::TableKey;
use crate::payshield::lmk::{KeyScheme, KeyType};
use crate::rules::{self, Purpose};
use crate::types::{KeyAlgorithm, Verification};
use subtle::ConstantTimeEq;

/// What a payShield with a key-block LMK can do through this client: the
/// variant-LMK set (see `VARIANT_LMK_CAPABILITIES`) plus AES (128, 192,
/// 256) and HMAC-SHA-256 keys, ISO format 4 (CA/CC/G0 with AES keys), AES
/// DUKPT (G0, M0/M2), CMAC and HMAC (M6/M8), MACs of any length (native
/// sizes 4, 8, 16 and 32 bytes, truncated by the host; a MAC of another
/// length is verified by generating it and comparing in constant time on
/// the host), and TR-31 export in versions A to D (A8 `!`). DUKPT data
/// keys: the request variant only (for AES DUKPT the bidirectional key is
/// a different key, which M0/M2 have no field to ask for). Issuer PIN data
/// with TDES key blocks (V1/V2 PVKs, P0 PIN keys, B0 BDKs; no ISO format
/// 4, no AES DUKPT there). The dynamic CVV / CVC3 (PM) are not declared:
/// the key-block usage of their master keys is not public.
pub(super) static KEY_BLOCK_LMK_CAPABILITIES: std::sync::LazyLock<Capabilities> =
    std::sync::LazyLock::new(|| {
        use crate::capabilities::{DukptKind, MacKind};
        let mut c = super::VARIANT_LMK_CAPABILITIES.clone();
        c.pin_formats.insert(crate::PinBlockFormat::Iso4);
        // HMAC-SHA-256 is the only HMAC key type with a published A0 code.
        c.key_algorithms = KeyAlgorithm::SYMMETRIC
            .into_iter()
            .filter(|a| !a.is_hmac() || *a == KeyAlgorithm::HmacSha256)
            .collect();
        c.dukpt = [DukptKind::Tdes, DukptKind::Aes].into_iter().collect();
        c.dukpt_data_variants = [DukptVariant::Request].into_iter().collect();
        c.mac_algorithms = [
            MacKind::Iso9797Alg1,
            MacKind::Iso9797Alg3,
            MacKind::Cmac,
            MacKind::HmacSha256,
        ]
        .into_iter()
        .collect();
        c.mac_lengths = None;
        c.mac_empty_message = true;
        c.tr31_export = [
            Tr31Version::A,
            Tr31Version::B,
            Tr31Version::C,
            Tr31Version::D,
        ]
        .into_iter()
        .collect();
        // The issuer PIN commands (DA/EA/GO, DE/EE, DC/EC/GQ, DG,
        // JA/JC/JE/JG) take TDES key blocks (the public key-block frames:
        // V1/V2 PVKs, P0/71 PIN keys, B0 BDKs, 16-digit PIN blocks); their
        // AES forms (32-digit blocks) have no public source and are not
        // modelled: TDES PIN keys only.
        c.pin_data.tdes_pin_keys_only = true;
        // PM (dynamic CVV / CVC3): the key-block key usage a payShield
        // expects for its MK-DCVV is not in any public source (the manual
        // excerpt gives the variant LMK pairs only: MK-AC 28-29 variant 1,
        // MK-CVC3 variant 7), so a key-block LMK does not declare them.
        for t in [
            crate::ops::CardValidationType::DynamicCvv,
            crate::ops::CardValidationType::DynamicCvc3,
        ] {
            c.card_validation_verify.remove(&t);
        }
        c.card_validation.dynamic_cvv_psn_zero = false;
        c
    });

/// The M6/M8 MAC sizes (flag, bytes): `0`/`1` published, `2`/`3`
/// unconfirmed (see [`codec::command::MacCommand`]).
const MAC_SIZES: [(u8, usize); 4] = [(b'0', 4), (b'1', 8), (b'2', 16), (b'3', 32)];

/// The A0 algorithm code for a key algorithm (see [`A0KeyBlock`]).
fn a0_algorithm(a: KeyAlgorithm) -> Result<[u8; 2]> {
    Ok(*match a {
        KeyAlgorithm::Tdes2 => b"T2",
        KeyAlgorithm::Tdes3 => b"T3",
        KeyAlgorithm::Aes128 => b"A1",
        KeyAlgorithm::Aes192 => b"A2",
        KeyAlgorithm::Aes256 => b"A3",
        KeyAlgorithm::HmacSha256 => b"H2",
        other => {
            return Err(Error::unsupported(format!(
                "{} keys on the payShield key-block LMK (no published A0 algorithm code)",
                other.aws_name()
            )))
        }
    })
}

fn encoding(e: CodecError) -> Error {
    Error::invalid(e.field, e.reason)
}

impl PayShieldBackend {
    /// True when configured for a key-block LMK.
    pub(super) fn is_key_block(&self) -> bool {
        self.inner.lmk == crate::payshield::LmkKind::KeyBlock
    }

    /// The capabilities of the configured LMK kind.
    pub(super) fn caps(&self) -> &'static Capabilities {
        if self.is_key_block() {
            &KEY_BLOCK_LMK_CAPABILITIES
        } else {
            &super::VARIANT_LMK_CAPABILITIES
        }
    }

    /// A0 with the key-block attributes of `r.attributes`.
    pub(super) async fn generate_key_kb(&self, r: GenerateKeyRequest) -> Result<KeyInfo> {
        r.attributes.validate()?;
        if self.inner.keys.contains(&r.key_id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {} already exists", r.key_id),
            ));
        }
        let h = header_for(&r.attributes)?;
        let a0 = crate::payshield::codec::command::A0 {
            key_type: KeyType::KEY_BLOCK,
            scheme: KeyScheme::S,
            export: None,
            key_block: Some(A0KeyBlock {
                lmk_id: None,
                usage: h.usage,
                algorithm: a0_algorithm(r.attributes.algorithm)?,
                mode_of_use: h.mode_of_use,
                key_version: h.key_version,
                exportability: h.exportability,
                optional_blocks: Vec::new(),
            }),
        };
        let mut b = Vec::new();
        codec::encode_request(&mut b, &Req::from(Command::A0(a0))).map_err(encoding)?;
        let (_, body) = self.run(&b, false).await?;
        let (key, kcv) = codec::parse_key_kcv(&body).map_err(protocol)?;
        let got = header_of(&key)
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "payShield returned no key block"))?;
        if got.usage != h.usage || got.algorithm != h.algorithm {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned a key block of another usage or algorithm",
            ));
        }
        self.inner.keys.insert(
            r.key_id.clone(),
            TableKey {
                key_type: KeyType::KEY_BLOCK,
                key,
                attributes: r.attributes,
                kcv,
            },
        )?;
        Ok(KeyInfo {
            key_id: r.key_id,
            attributes: r.attributes,
            key_check_value: kcv,
            key_class: crate::types::KeyClass::Symmetric,
        })
    }

    /// A6: a TR-31 block under a KEK into a key block under the LMK.
    pub(super) async fn import_tr31_kb(
        &self,
        r: &ImportKeyRequest,
        kek: &TableKey,
        block: &str,
        header: &crate::algo::tr31::Tr31Header,
    ) -> Result<KeyInfo> {
        let mut b = Vec::with_capacity(block.len() + 200);
        rq::a6_tr31(&mut b, KeyType::KEY_BLOCK, &kek.key, block, KeyScheme::S).map_err(encoding)?;
        let (_, body) = self.run(&b, false).await?;
        let (key, kcv) = codec::parse_key_kcv(&body).map_err(protocol)?;
        if key.scheme != KeyScheme::S {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned a key that is no key block",
            ));
        }
        let alg = algorithm_of_block(&key)?;
        let attributes = crate::keyload::tr31_attributes(header, alg.key_len())?;
        attributes.validate()?;
        if r.expected_kcv.is_some_and(|k| k != kcv) {
            return Err(Error::invalid(
                "kcv",
                "the imported key does not match the expected KCV",
            ));
        }
        self.inner.keys.insert(
            r.key_id.clone(),
            TableKey {
                key_type: KeyType::KEY_BLOCK,
                key,
                attributes,
                kcv,
            },
        )?;
        Ok(KeyInfo {
            key_id: r.key_id.clone(),
            attributes,
            key_check_value: kcv,
            key_class: crate::types::KeyClass::Symmetric,
        })
    }

    /// A8: a key block exported as a TR-31 block of `version` (`R` +
    /// `!` version).
    pub(super) async fn export_key_kb(
        &self,
        version: Tr31Version,
        key: &TableKey,
        kek: &TableKey,
    ) -> Result<ExportKeyResponse> {
        let a8 = crate::payshield::codec::command::A8 {
            key_type: KeyType::KEY_BLOCK,
            flag: None,
            zmk: kek.key.clone(),
            key: key.key.clone(),
            export: crate::payshield::codec::command::A8Export::KeyBlock(KeyBlockExport {
                scheme: b'R',
                lmk_id: None,
                exportability: None,
                version: Some(version.as_char() as u8),
            }),
        };
        let mut b = Vec::new();
        codec::encode_request(&mut b, &Req::from(Command::A8(a8))).map_err(encoding)?;
        self.run_export(&b, version, key).await
    }

    /// The M6/M8 algorithm and padding flags for `alg` on a key-block LMK.
    fn mac_flags(alg: MacAlgorithm) -> (u8, u8) {
        let pad = |p: Iso9797Padding| match p {
            Iso9797Padding::None => b'0',
            Iso9797Padding::Method1 => b'1',
            Iso9797Padding::Method2 => b'2',
            Iso9797Padding::Method3 => b'3',
        };
        match alg {
            MacAlgorithm::Iso9797Alg1(p) => (b'1', pad(p)),
            MacAlgorithm::Iso9797Alg3(p) => (b'3', pad(p)),
            MacAlgorithm::Cmac => (b'5', b'0'),
            MacAlgorithm::HmacSha256
            | MacAlgorithm::HmacSha224
            | MacAlgorithm::HmacSha384
            | MacAlgorithm::HmacSha512 => (b'6', b'0'),
        }
    }

    /// The full MAC length of `alg` with a key of `key_alg`.
    fn full_mac_len(alg: MacAlgorithm, key_alg: KeyAlgorithm) -> usize {
        match alg {
            MacAlgorithm::Cmac | MacAlgorithm::Iso9797Alg1(_) if key_alg.is_aes() => 16,
            MacAlgorithm::HmacSha256 => 32,
            MacAlgorithm::HmacSha224 => 28,
            MacAlgorithm::HmacSha384 => 48,
            MacAlgorithm::HmacSha512 => 64,
            _ => 8,
        }
    }

    /// One M6 (`mac` `None`) or M8 with the native size `size` (flag).
    async fn m6_m8_kb(
        &self,
        k: &TableKey,
        alg: MacAlgorithm,
        size: (u8, usize),
        data: &[u8],
        mac: Option<&[u8]>,
    ) -> Result<(Verification, Vec<u8>)> {
        let (code, pad) = Self::mac_flags(alg);
        let mut b = Vec::with_capacity(data.len() + 200);
        rq::m6_m8(&mut b, mac, size.0, code, pad, k.key_type, &k.key, data).map_err(encoding)?;
        let (v, body) = self.run(&b, mac.is_some()).await?;
        if mac.is_some() {
            return Ok((v, Vec::new()));
        }
        let m = codec::parse_mac(&body, size.1).map_err(protocol)?;
        Ok((v, m))
    }

    /// The smallest native size of at least `n` bytes.
    fn size_for(n: usize) -> Result<(u8, usize)> {
        MAC_SIZES
            .into_iter()
            .find(|(_, len)| *len >= n)
            .ok_or_else(|| Error::invalid("mac length", "longer than 32 bytes"))
    }

    /// M6 on a key-block LMK: the native size at least the requested (or
    /// full) length, truncated to it.
    pub(super) async fn generate_mac_kb(
        &self,
        r: &GenerateMacRequest,
        k: &TableKey,
    ) -> Result<Vec<u8>> {
        rules::check(&r.key, &k.attributes, Purpose::mac(r.algorithm, true))?;
        let n = r
            .mac_length
            .unwrap_or_else(|| Self::full_mac_len(r.algorithm, k.attributes.algorithm));
        let size = Self::size_for(n)?;
        let (_, mut mac) = self.m6_m8_kb(k, r.algorithm, size, &r.data, None).await?;
        mac.truncate(n);
        Ok(mac)
    }

    /// M8 on a key-block LMK for a native length; otherwise M6 and a
    /// constant-time comparison on the host.
    pub(super) async fn verify_mac_kb(
        &self,
        r: &VerifyMacRequest,
        k: &TableKey,
    ) -> Result<Verification> {
        rules::check(&r.key, &k.attributes, Purpose::mac(r.algorithm, false))?;
        let n = r.mac.len();
        let size = Self::size_for(n)?;
        if size.1 == n {
            let (v, _) = self
                .m6_m8_kb(k, r.algorithm, size, &r.data, Some(&r.mac))
                .await?;
            return Ok(v);
        }
        let (_, full) = self.m6_m8_kb(k, r.algorithm, size, &r.data, None).await?;
        let ok = full.get(..n).is_some_and(|m| bool::from(m.ct_eq(&r.mac)));
        Ok(Verification::from_bool(ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::KeyAttributes;

    #[test]
    fn a0_codes_and_block_algorithms() {
        let lmk = crate::payshield::KeyBlockLmk::test_lmk();
        for a in KeyAlgorithm::ALL {
            let Ok(code) = a0_algorithm(a) else { continue };
            assert_eq!(code[0], a.tr31_code() as u8);
            let attrs = KeyAttributes::new(
                crate::types::KeyUsage::DataEncryption,
                a,
                crate::types::ModesOfUse::BOTH,
            );
            let h = header_for(&attrs).unwrap();
            let k = lmk
                .wrap(&h, &vec![1u8; a.key_len()], &mut rand::rng())
                .unwrap();
            let got = algorithm_of_block(&k).unwrap();
            // 16- and 24-byte keys look alike under a key-block LMK.
            let want = match a {
                KeyAlgorithm::Tdes3 => KeyAlgorithm::Tdes2,
                KeyAlgorithm::Aes192 => KeyAlgorithm::Aes128,
                other => other,
            };
            assert_eq!(got, want, "{a:?}");
        }
    }

    #[test]
    fn native_mac_sizes() {
        assert_eq!(PayShieldBackend::size_for(4).unwrap(), (b'0', 4));
        assert_eq!(PayShieldBackend::size_for(5).unwrap(), (b'1', 8));
        assert_eq!(PayShieldBackend::size_for(9).unwrap(), (b'2', 16));
        assert_eq!(PayShieldBackend::size_for(32).unwrap(), (b'3', 32));
        assert!(PayShieldBackend::size_for(33).is_err());
    }
}

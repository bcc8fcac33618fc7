//! The simulator with a key-block LMK: keys arrive as Thales key blocks
//! (`S…`), are checked (version, LMK identifier, authenticator, usage,
//! mode of use) and unwrapped with the LMK; A0 / A6 / A8 / BU produce and
//! take key blocks. Layouts: [`crate::payshield::codec::command`]; the key
//! block format: [`crate::payshield::keyblock`].
//!
//! Error codes (payShield 10K general list, see
//! [`crate::payshield::keyblock::KeyBlockError`]): a block that is not well
//! formed `83`, a bad version `BE`, another LMK `A3`, a wrong authenticator
//! `A4`, a usage the command does not take `A6`, an algorithm it does not
//! take `A7`, a mode of use it does not allow `A8`, a key that may not be
//! exported `AA`; a variant-LMK key (`U…`, `T…`) under a key-block LMK, or
//! a key block under a variant LMK, `26` (invalid key scheme).

use super::{err, key_reply, Code, Fail, Res, Sim};
use crate::algo::cipher::{fix_odd_parity, BlockCipher};
use crate::algo::tr31;
use crate::payshield::codec::command::{A0KeyBlock, A8Export, Bu, KeyUnderZmk, A0, A6, A8};
use crate::payshield::codec::push_hex;
use crate::payshield::codec::reply::KeyOut;
use crate::payshield::keyblock::{self, KeyBlockError, KeyBlockHeader, KeyBlockLmk};
use crate::payshield::lmk::{EncryptedKey, KeyScheme, KeyType};
use crate::types::{Kcv, KeyAlgorithm};
use rand::RngCore;
use zeroize::Zeroizing;

impl From<KeyBlockError> for Fail {
    fn from(e: KeyBlockError) -> Self {
        e.code().into()
    }
}

/// What a command does with a key: the modes of use that allow it (TR-31
/// mode-of-use characters, `N` = no restriction always allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Encrypt (PIN or data) or wrap: `B`, `E`.
    Encrypt,
    /// Decrypt (PIN or data) or unwrap: `B`, `D`.
    Decrypt,
    /// Generate a MAC / CVV: `C`, `G`.
    Generate,
    /// Verify a MAC / CVV: `C`, `V`.
    Verify,
    /// Derive keys (BDK, EMV master keys): `X`.
    Derive,
    /// Anything (BU, A8 of the key itself).
    Any,
}

impl Use {
    fn allows(self, mode: u8) -> bool {
        mode == b'N'
            || match self {
                Self::Encrypt => matches!(mode, b'B' | b'E'),
                Self::Decrypt => matches!(mode, b'B' | b'D'),
                Self::Generate => matches!(mode, b'C' | b'G'),
                Self::Verify => matches!(mode, b'C' | b'V'),
                Self::Derive => mode == b'X',
                Self::Any => true,
            }
    }
}

/// A key recovered from under the LMK, with what the block said about it.
pub(super) struct Clear {
    /// The clear key.
    pub key: Zeroizing<Vec<u8>>,
    /// Its algorithm character (`T` for every variant-LMK key).
    pub algorithm: u8,
    /// The key block header (key-block LMK only).
    pub header: Option<KeyBlockHeader>,
}

impl Clear {
    /// True for an AES key.
    pub fn is_aes(&self) -> bool {
        self.algorithm == b'A'
    }

    /// The block cipher of the key (TDES or AES), else `27`.
    pub fn cipher(&self) -> Result<BlockCipher, Code> {
        match self.algorithm {
            b'A' => BlockCipher::aes(&self.key),
            b'T' => BlockCipher::tdes(&self.key),
            _ => return Err(err::KB_ALGORITHM),
        }
        .map_err(|_| err::KEY_LEN)
    }
}

/// The key usages a key-block key may have where a variant-LMK command
/// expects key type `kt` (TR-31 codes; `71` is the Thales TPK usage of
/// ut-codec-payshield test.js L879 `CAS0007271TN…`). `FFF` takes any.
fn usages_for(kt: KeyType) -> &'static [&'static [u8; 2]] {
    match kt {
        k if k == KeyType::ZMK => &[b"K0", b"K1"],
        k if k == KeyType::ZPK => &[b"P0"],
        k if k == KeyType::TPK => &[b"P0", b"71", b"V1", b"V2"],
        k if k == KeyType::TAK || k == KeyType::ZAK => &[b"M0", b"M1", b"M3", b"M6", b"M7", b"M8"],
        k if k == KeyType::BDK => &[b"B0"],
        k if k == KeyType::CVK => &[b"C0"],
        k if k == KeyType::MK_AC => &[b"E0"],
        k if k == KeyType::MK_SMC => &[b"E1"],
        k if k == KeyType::MK_SMI => &[b"E2"],
        k if k == KeyType::MK_DN => &[b"E4"],
        k if k == KeyType::ZEK || k == KeyType::DEK => &[b"D0"],
        _ => &[],
    }
}

/// The TR-31 algorithm character for a key block's.
fn tr31_algorithm(a: u8) -> Option<tr31::Algorithm> {
    tr31::Algorithm::from_char(char::from(a))
}

/// The key check value (6H) of a clear key of algorithm `alg`: ANSI X9.24
/// for TDES, CMAC of a zero block for AES, HMAC-SHA-256 of the empty
/// message for HMAC keys (the crate's default methods, as the software
/// backend reports them).
fn kcv_of(alg: u8, key: &[u8]) -> Result<Kcv, Code> {
    let a = KeyAlgorithm::from_tr31(char::from(alg), key.len()).map_err(|_| err::KB_KEY_LEN)?;
    crate::algo::kcv::key_check_value(a, key).map_err(|_| err::KB_KEY_LEN)
}

impl Sim {
    /// The key `k` under the LMK for a command that expects key type `kt`
    /// (any key-block usage for `FFF`), for `what` (mode-of-use check). With
    /// a variant LMK: [`Sim::key`]'s check (parity `parity`), algorithm `T`.
    pub(super) fn key_of(
        &self,
        kt: KeyType,
        k: &EncryptedKey,
        parity: Code,
        what: Use,
    ) -> Result<Clear, Code> {
        match &self.key_block_lmk {
            None if k.scheme == KeyScheme::S => Err(err::SCHEME),
            None => Ok(Clear {
                key: self.variant_key(kt, k, parity)?,
                algorithm: b'T',
                header: None,
            }),
            Some(lmk) => {
                let usages = if kt == KeyType::KEY_BLOCK {
                    None
                } else {
                    Some(usages_for(kt))
                };
                kb_key(lmk, k, usages, what)
            }
        }
    }

    /// A key-block key with one of `usages`, for `what`.
    pub(super) fn kb_key_with(
        &self,
        k: &EncryptedKey,
        usages: &[&[u8; 2]],
        what: Use,
    ) -> Result<Clear, Code> {
        match &self.key_block_lmk {
            Some(lmk) => kb_key(lmk, k, Some(usages), what),
            None => Err(err::SCHEME),
        }
    }

    /// NC's check value for the key-block LMK.
    pub(super) fn kb_check_value(lmk: &KeyBlockLmk) -> Vec<u8> {
        let mut kcv = Vec::with_capacity(16);
        push_hex(&mut kcv, &lmk.check_value());
        kcv
    }

    /// A0 under a key-block LMK: key type `FFF`, scheme `S` and the `#`
    /// attributes (else `26` / `15`). Mode 1 also returns the key as a key
    /// block under the ZMK (version `1` under an AES ZMK, `0` under a TDES
    /// one, LMK identifier `FF` as in ut-codec-payshield test.js L409).
    pub(super) fn a0_kb(&self, lmk: &KeyBlockLmk, a: &A0) -> Res {
        if a.key_type != KeyType::KEY_BLOCK || a.scheme != KeyScheme::S {
            return Err(err::SCHEME.into());
        }
        let kb = a.key_block.as_ref().ok_or(err::INPUT)?;
        if kb.lmk_id.is_some_and(|id| id != lmk.id()) {
            return Err(err::LMK_ID.into());
        }
        let (alg, len) = kb.algorithm_and_len().ok_or(err::KB_ALGORITHM)?;
        let mut key = Zeroizing::new(vec![0u8; len]);
        rand::rng().fill_bytes(&mut key);
        if alg == b'T' {
            fix_odd_parity(&mut key);
        }
        let header = header_from_a0(kb, alg);
        let under_lmk = lmk.wrap(&header, &key, &mut rand::rng())?;
        let mut keys = vec![KeyOut::Key(under_lmk)];
        if let Some(e) = &a.export {
            let zmk = kb_key(lmk, &e.zmk, Some(&[b"K0", b"K1"]), Use::Encrypt)?;
            if e.scheme != KeyScheme::S {
                return Err(err::SCHEME.into());
            }
            keys.push(KeyOut::Key(under_zmk(&zmk, &header, &key)?));
        }
        key_reply(keys, kcv_of(alg, &key)?)
    }

    /// A6 under a key-block LMK: the ZMK (usage `K0`/`K1`, mode allowing
    /// unwrap), the key as `R` + a TR-31 block (versions A-D) or as a
    /// Thales key block under the ZMK, key scheme `S`. The key block under
    /// the LMK takes the attributes of the block it came in. Key type `FFF`
    /// or a type the block's usage fits (else `A6`).
    pub(super) fn a6_kb(&self, lmk: &KeyBlockLmk, a: &A6) -> Res {
        if a.scheme != KeyScheme::S || a.atalla.is_some() {
            return Err(err::SCHEME.into());
        }
        let zmk = kb_key(lmk, &a.zmk, Some(&[b"K0", b"K1"]), Use::Decrypt)?;
        let (header, clear) = match &a.key {
            KeyUnderZmk::Tr31(block) => {
                let (h, clear) = tr31::unwrap(&zmk.key, block).map_err(tr31_code)?;
                let header = KeyBlockHeader {
                    version: lmk.version(),
                    usage: usage2(h.key_usage.as_str())?,
                    algorithm: h.algorithm.as_char() as u8,
                    mode_of_use: h.mode_of_use.as_char() as u8,
                    key_version: h.key_version,
                    exportability: h.exportability.tr31_code() as u8,
                    optional_blocks: Vec::new(),
                    lmk_id: lmk.id(),
                };
                (header, clear)
            }
            KeyUnderZmk::Key(k) if k.scheme == KeyScheme::S => {
                keyblock::unwrap(&zmk.key, &k.bytes)?
            }
            KeyUnderZmk::Key(_) => return Err(err::SCHEME.into()),
        };
        if a.key_type != KeyType::KEY_BLOCK && !usages_for(a.key_type).contains(&&header.usage) {
            return Err(err::KB_USAGE.into());
        }
        check_key_len(header.algorithm, clear.len())?;
        let under_lmk = lmk.wrap(&header, &clear, &mut rand::rng())?;
        key_reply(
            vec![KeyOut::Key(under_lmk)],
            kcv_of(header.algorithm, &clear)?,
        )
    }

    /// A8 under a key-block LMK: key type `FFF`, the ZMK (usage `K0`/`K1`,
    /// mode allowing wrap), the key (exportability `E` or `S`, else `AA`),
    /// exported as `R` + a TR-31 block of the version after `!` (default
    /// `D` under an AES ZMK, `B` under a TDES one: **unconfirmed**, the
    /// default is a security setting) or as `S` + a Thales key block under
    /// the ZMK; `&N` makes the exported key non-exportable (the only value
    /// the 9000 A8 table allows, else `AA`).
    pub(super) fn a8_kb(&self, lmk: &KeyBlockLmk, a: &A8) -> Res {
        let A8Export::KeyBlock(x) = &a.export else {
            return Err(err::SCHEME.into());
        };
        if x.lmk_id.is_some_and(|id| id != lmk.id()) {
            return Err(err::LMK_ID.into());
        }
        let zmk = kb_key(lmk, &a.zmk, Some(&[b"K0", b"K1"]), Use::Encrypt)?;
        let usages = if a.key_type == KeyType::KEY_BLOCK {
            None
        } else {
            Some(usages_for(a.key_type))
        };
        let key = kb_key(lmk, &a.key, usages, Use::Any)?;
        let mut header = key.header.clone().ok_or(err::SCHEME)?;
        if !matches!(header.exportability, b'E' | b'S') {
            return Err(err::KB_EXPORT.into());
        }
        match x.exportability {
            None => {}
            Some(b'N') => header.exportability = b'N',
            Some(_) => return Err(err::KB_EXPORT.into()),
        }
        let out = match x.scheme {
            b'R' => {
                let version = match x.version {
                    Some(v) => tr31::Version::from_char(char::from(v)).ok_or(err::KB_HEADER)?,
                    None if zmk.is_aes() => tr31::Version::D,
                    None => tr31::Version::B,
                };
                let h = tr31::Tr31Header::new(
                    version,
                    tr31::KeyUsage::new(header.usage_str()).map_err(|_| err::KB_USAGE)?,
                    tr31_algorithm(header.algorithm).ok_or(err::KB_ALGORITHM)?,
                    tr31::ModeOfUse::from_char(char::from(header.mode_of_use))
                        .ok_or(err::KB_MODE)?,
                    std::str::from_utf8(&header.key_version).map_err(|_| err::KB_HEADER)?,
                    tr31::Exportability::from_char(char::from(header.exportability))
                        .ok_or(err::KB_EXPORT)?,
                )
                .map_err(|_| err::KB_HEADER)?;
                let block = tr31::wrap(&zmk.key, &h, &key.key, &mut rand::rng())
                    .map_err(|_| err::KEY_LEN)?;
                KeyOut::Tr31(block)
            }
            _ => {
                if x.version.is_some() {
                    return Err(err::KB_HEADER.into());
                }
                KeyOut::Key(under_zmk(&zmk, &header, &key.key)?)
            }
        };
        key_reply(vec![out], kcv_of(key.algorithm, &key.key)?)
    }

    /// BU under a key-block LMK: length flag `F`, key type `FFF` (or one
    /// the block's usage fits). The KCV (16H, or 6H for KCV type `1`): the
    /// first bytes of the algorithm's check value computation (see
    /// [`kcv_of`]; for AES and HMAC keys the 16H form is **unconfirmed**).
    pub(super) fn bu_kb(&self, lmk: &KeyBlockLmk, b: &Bu) -> Res {
        if b.length_flag != b'F' || b.key.scheme != KeyScheme::S {
            return Err(err::LENGTH_FLAG.into());
        }
        let usages = if b.key_type == KeyType::KEY_BLOCK {
            None
        } else {
            Some(usages_for(b.key_type))
        };
        let k = kb_key(lmk, &b.key, usages, Use::Any)?;
        let mut full = [0u8; 8];
        match k.algorithm {
            b'T' => {
                k.cipher()?
                    .encrypt_ecb(&mut full)
                    .map_err(|_| err::KEY_LEN)?;
            }
            b'A' => {
                let mut m = [0u8; 16];
                k.cipher()?.cmac(&[0u8; 16], &mut m);
                full.copy_from_slice(&m[..8]);
            }
            _ => {
                let t = crate::algo::mac::hmac_sha256(&k.key, &[]).map_err(|_| err::KEY_LEN)?;
                full.copy_from_slice(t.as_bytes().get(..8).ok_or(err::KEY_LEN)?);
            }
        }
        let n = if matches!(b.kcv_type, Some((_, b'1'))) {
            3
        } else {
            8
        };
        let mut out = Vec::with_capacity(16);
        push_hex(&mut out, full.get(..n).unwrap_or(&full));
        Ok(out)
    }
}

/// Unwraps `k` under the key-block LMK and checks its usage (one of
/// `usages`, when given) and mode of use.
fn kb_key(
    lmk: &KeyBlockLmk,
    k: &EncryptedKey,
    usages: Option<&[&[u8; 2]]>,
    what: Use,
) -> Result<Clear, Code> {
    if k.scheme != KeyScheme::S {
        return Err(err::SCHEME);
    }
    let (header, key) = lmk.unwrap(k).map_err(|e| e.code())?;
    if usages.is_some_and(|u| !u.contains(&&header.usage)) {
        return Err(err::KB_USAGE);
    }
    if !what.allows(header.mode_of_use) {
        return Err(err::KB_MODE);
    }
    check_key_len(header.algorithm, key.len())?;
    Ok(Clear {
        key,
        algorithm: header.algorithm,
        header: Some(header),
    })
}

/// `A5` unless the key's length fits its algorithm (TDES 16 / 24, AES 16 /
/// 24 / 32, HMAC 32: the lengths this crate's keys have).
fn check_key_len(alg: u8, len: usize) -> Result<(), Code> {
    if KeyAlgorithm::from_tr31(char::from(alg), len).is_ok() {
        Ok(())
    } else {
        Err(err::KB_KEY_LEN)
    }
}

fn usage2(s: &str) -> Result<[u8; 2], Code> {
    <[u8; 2]>::try_from(s.as_bytes()).map_err(|_| err::KB_USAGE)
}

fn header_from_a0(kb: &A0KeyBlock, alg: u8) -> KeyBlockHeader {
    KeyBlockHeader {
        version: b'1',
        usage: kb.usage,
        algorithm: alg,
        mode_of_use: kb.mode_of_use,
        key_version: kb.key_version,
        exportability: kb.exportability,
        optional_blocks: kb.optional_blocks.clone(),
        lmk_id: *b"00",
    }
}

/// `key` as a Thales key block under the ZMK: version `1` under an AES ZMK,
/// `0` under a TDES one, LMK identifier `FF`.
fn under_zmk(zmk: &Clear, header: &KeyBlockHeader, key: &[u8]) -> Result<EncryptedKey, Code> {
    let mut h = header.clone();
    h.version = if zmk.is_aes() { b'1' } else { b'0' };
    h.lmk_id = *b"FF";
    let mut pad = Zeroizing::new(vec![0u8; keyblock::padding_len(h.version, key.len())]);
    rand::rng().fill_bytes(&mut pad);
    let text = keyblock::wrap_with_padding(&zmk.key, &h, key, &pad).map_err(|e| e.code())?;
    Ok(EncryptedKey {
        scheme: KeyScheme::S,
        bytes: text.into_bytes(),
    })
}

/// The code for a TR-31 block that does not unwrap: a wrong MAC `A4`, a bad
/// header `83`.
fn tr31_code(e: crate::algo::AlgoError) -> Code {
    if e.field == "tr31 mac" {
        err::KB_AUTH
    } else {
        err::KB_FORMAT
    }
}

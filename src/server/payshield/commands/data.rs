//! M0 / M2 (data encryption) and M6 / M8 (MAC): the simulator side.
//! Layouts and their sources: [`crate::payshield::codec::command`].

use super::card::{aes_key_type, ksn_register};
use super::kb::Use;
use super::{err, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{aes_working_key, tdes_working_key, AesDukptUsage, TdesDukptUsage};
use crate::algo::mac::{self, Padding};
use crate::payshield::codec::command::{DataCipher, MacCommand};
use crate::payshield::codec::reply::{encode_data, DataReply};
use crate::payshield::codec::{decode_hex, push_hex};
use crate::payshield::lmk::KeyType;
use zeroize::Zeroizing;

/// The message field as binary: formats `0` (binary) and `2` (text) as
/// sent, `1` hex-decoded.
fn message_bytes(format: u8, raw: &[u8]) -> Result<Zeroizing<Vec<u8>>, [u8; 2]> {
    match format {
        b'1' => decode_hex("message", raw)
            .map(Zeroizing::new)
            .map_err(|_| err::INPUT),
        _ => Ok(Zeroizing::new(raw.to_vec())),
    }
}

impl Sim {
    /// M0 / M2 in ECB (`00`) or CBC (`01`) mode; CFB modes `02`/`03` are
    /// not modelled (`02`). Key types ZEK, DEK, or BDK else `05`; with a BDK
    /// the data key is the DUKPT "data, request" variant (**unconfirmed**:
    /// no public source says which variant M0/M2 derive; the dinamo frames
    /// only show the layout); data must be a positive multiple
    /// of 8 bytes (`06`). In CBC mode the response starts with the IV for
    /// the next call (position **unconfirmed**, see
    /// [`crate::payshield::codec::reply::DataReply`]).
    ///
    /// Under a key-block LMK the key type is `FFF` and the key a block with
    /// usage `D0` (TDES or AES; AES takes 16-byte blocks and IV) or `B0`
    /// (DUKPT; an AES BDK derives the AES DUKPT "data encryption, encrypt"
    /// key of the BDK's length, **unconfirmed** like the TDES variant).
    pub(super) fn crypt(&self, d: &DataCipher, encrypt: bool) -> Res {
        let cbc = match &d.mode {
            b"00" => false,
            b"01" => true,
            _ => return Err(err::M_MODE.into()),
        };
        let kb = self.key_block_lmk.is_some();
        let types: &[KeyType] = if kb {
            &[KeyType::KEY_BLOCK]
        } else {
            &[KeyType::ZEK, KeyType::DEK, KeyType::BDK]
        };
        if !types.contains(&d.key_type) {
            return Err(err::M_KEY_TYPE.into());
        }
        let mut data = message_bytes(d.input_format, &d.message)?;
        let what = if encrypt { Use::Encrypt } else { Use::Decrypt };
        let key = match (&d.ksn, kb) {
            (Some(_), true) => self.kb_key_with(&d.key, &[b"B0"], Use::Derive)?,
            (None, true) => self.kb_key_with(&d.key, &[b"D0"], what)?,
            (Some(_), false) => self.key_of(d.key_type, &d.key, err::SRC_PARITY, Use::Derive)?,
            (None, false) => self.key_of(d.key_type, &d.key, err::SRC_PARITY, what)?,
        };
        let c = match &d.ksn {
            Some(k) => {
                let ksn = ksn_register(k)?;
                if key.is_aes() {
                    let kt = aes_key_type(key.key.len())?;
                    let dk = aes_working_key(&key.key, &ksn, AesDukptUsage::DataEncrypt, kt)
                        .map_err(|_| err::INPUT)?;
                    BlockCipher::aes(dk.as_bytes())
                } else {
                    if key.key.len() != 16 || ksn.is_aes() {
                        return Err(err::KEY_LEN.into());
                    }
                    let dk = tdes_working_key(&key.key, &ksn, TdesDukptUsage::DataRequest)
                        .map_err(|_| err::INPUT)?;
                    BlockCipher::tdes(dk.as_slice())
                }
                .map_err(|_| err::KEY_LEN)?
            }
            None => key.cipher()?,
        };
        let bs = c.block_size();
        if data.is_empty() || data.len() % bs != 0 {
            return Err(err::M_LENGTH.into());
        }
        if d.iv.as_ref().is_some_and(|iv| iv.len() != bs) {
            return Err(err::INPUT.into());
        }
        let last_in: Vec<u8> = data
            .get(data.len().saturating_sub(bs)..)
            .unwrap_or(&[])
            .to_vec();
        let ok = match (&d.iv, encrypt) {
            (None, true) => c.encrypt_ecb(&mut data),
            (None, false) => c.decrypt_ecb(&mut data),
            (Some(iv), true) => c.encrypt_cbc(iv, &mut data),
            (Some(iv), false) => c.decrypt_cbc(iv, &mut data),
        };
        ok.map_err(|_| err::INPUT)?;
        let iv = if cbc {
            let next = if encrypt {
                data.get(data.len().saturating_sub(bs)..).unwrap_or(&[])
            } else {
                &last_in[..]
            };
            Some(next.to_vec())
        } else {
            None
        };
        let out = match d.output_format {
            b'1' => {
                let mut h = Vec::with_capacity(data.len() * 2);
                push_hex(&mut h, &data);
                h
            }
            _ => data.to_vec(),
        };
        let mut b = Vec::with_capacity(out.len() + 40);
        encode_data(&mut b, &DataReply { iv, data: out }).map_err(|_| err::M_LENGTH)?;
        Ok(b)
    }

    /// M6 / M8 in mode `0` (one block; modes 1-3 are not modelled: `02`).
    /// Algorithm `1` = ISO 9797-1 MAC algorithm 1 (CBC-MAC), `3` = algorithm
    /// 3 (retail MAC, double-length key, else `27`). Key types TAK and ZAK,
    /// else `05`.
    ///
    /// Under a key-block LMK: key type `FFF`, the key's usage must fit the
    /// algorithm (`1`: `M0`/`M1`, `3`: `M3`, `5` CMAC: `M6` with a TDES or
    /// AES key, `6` HMAC-SHA-256: `M7` with an HMAC key; else `A6`), CMAC
    /// and HMAC take padding `0` only (they pad themselves; else `09`), and
    /// the MAC size may not exceed the algorithm's output (else `15`).
    /// Algorithms `5` / `6` and sizes `2` / `3` are **unconfirmed** (see
    /// [`MacCommand`]).
    pub(super) fn mac(&self, m: &MacCommand, verify: bool) -> Res {
        if m.mode != b'0' {
            return Err(err::M_MODE.into());
        }
        let kb = self.key_block_lmk.is_some();
        let types: &[KeyType] = if kb {
            &[KeyType::KEY_BLOCK]
        } else {
            &[KeyType::TAK, KeyType::ZAK]
        };
        if !types.contains(&m.key_type) {
            return Err(err::M_KEY_TYPE.into());
        }
        let padding = match m.padding {
            b'0' => Padding::None,
            b'1' => Padding::Method1,
            b'2' => Padding::Method2,
            b'3' => Padding::Method3,
            _ => return Err(err::MAC_PADDING.into()),
        };
        let data = message_bytes(m.input_format, &m.message)?;
        let size = MacCommand::mac_len(m.mac_size);
        let what = if verify { Use::Verify } else { Use::Generate };
        let usages: &[&[u8; 2]] = match m.algorithm {
            b'1' => &[b"M0", b"M1"],
            b'3' => &[b"M3"],
            b'5' => &[b"M6"],
            b'6' => &[b"M7"],
            _ => return Err(err::MAC_ALGORITHM.into()),
        };
        let key = if kb {
            self.kb_key_with(&m.key, usages, what)?
        } else {
            if !matches!(m.algorithm, b'1' | b'3') {
                return Err(err::MAC_ALGORITHM.into());
            }
            self.key_of(m.key_type, &m.key, err::SRC_PARITY, what)?
        };
        if matches!(m.algorithm, b'5' | b'6') && padding != Padding::None {
            return Err(err::MAC_PADDING.into());
        }
        let tag: Vec<u8> = match m.algorithm {
            b'1' if !key.is_aes() => {
                let c = key.cipher()?;
                mac::cbc_mac(&c, &data, padding)
                    .map_err(|_| err::M_LENGTH)?
                    .as_bytes()
                    .to_vec()
            }
            b'3' if key.key.len() == 16 && !key.is_aes() => {
                mac::retail_mac(&key.key, &data, padding)
                    .map_err(|_| err::M_LENGTH)?
                    .to_vec()
            }
            b'5' if key.algorithm != b'H' => mac::cmac(&key.cipher()?, &data).as_bytes().to_vec(),
            b'6' if key.algorithm == b'H' => mac::hmac_sha256(&key.key, &data)
                .map_err(|_| err::KEY_LEN)?
                .as_bytes()
                .to_vec(),
            b'1' | b'5' | b'6' => return Err(err::KB_ALGORITHM.into()),
            _ => return Err(err::KEY_LEN.into()),
        };
        let tag = tag.get(..size).ok_or(err::INPUT)?;
        match &m.mac {
            Some(p) if verify => {
                use subtle::ConstantTimeEq;
                if bool::from(tag.ct_eq(p)) {
                    Ok(Vec::new())
                } else {
                    Err(err::VERIFY.into())
                }
            }
            _ => {
                let mut b = Vec::with_capacity(2 * size);
                push_hex(&mut b, tag);
                Ok(b)
            }
        }
    }
}

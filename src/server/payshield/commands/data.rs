//! M0 / M2 (data encryption) and M6 / M8 (MAC): the simulator side.
//! Layouts and their sources: [`crate::payshield::codec::command`].

use super::card::ksn_register;
use super::{err, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{tdes_working_key, TdesDukptUsage};
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
    pub(super) fn crypt(&self, d: &DataCipher, encrypt: bool) -> Res {
        let cbc = match &d.mode {
            b"00" => false,
            b"01" => true,
            _ => return Err(err::M_MODE.into()),
        };
        if ![KeyType::ZEK, KeyType::DEK, KeyType::BDK].contains(&d.key_type) {
            return Err(err::M_KEY_TYPE.into());
        }
        let mut data = message_bytes(d.input_format, &d.message)?;
        if data.is_empty() || data.len() % 8 != 0 {
            return Err(err::M_LENGTH.into());
        }
        let key = self.key(d.key_type, &d.key, err::SRC_PARITY)?;
        let c = match &d.ksn {
            Some(k) => {
                let ksn = ksn_register(k)?;
                if key.len() != 16 {
                    return Err(err::KEY_LEN.into());
                }
                let dk = tdes_working_key(&key, &ksn, TdesDukptUsage::DataRequest)
                    .map_err(|_| err::INPUT)?;
                BlockCipher::tdes(dk.as_slice())
            }
            None => BlockCipher::tdes(&key),
        }
        .map_err(|_| err::KEY_LEN)?;
        let last_in: Vec<u8> = data
            .get(data.len().saturating_sub(8)..)
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
                data.get(data.len().saturating_sub(8)..).unwrap_or(&[])
            } else {
                &last_in[..]
            };
            Some(<[u8; 8]>::try_from(next).map_err(|_| err::INPUT)?)
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
        let mut b = Vec::with_capacity(out.len() + 24);
        encode_data(&mut b, &DataReply { iv, data: out }).map_err(|_| err::M_LENGTH)?;
        Ok(b)
    }

    /// M6 / M8 in mode `0` (one block; modes 1-3 are not modelled: `02`).
    /// Algorithm `1` = ISO 9797-1 MAC algorithm 1 (CBC-MAC), `3` = algorithm
    /// 3 (retail MAC, double-length key, else `27`). Key types TAK and ZAK,
    /// else `05`.
    pub(super) fn mac(&self, m: &MacCommand, verify: bool) -> Res {
        if m.mode != b'0' {
            return Err(err::M_MODE.into());
        }
        if m.key_type != KeyType::TAK && m.key_type != KeyType::ZAK {
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
        let key = self.key(m.key_type, &m.key, err::SRC_PARITY)?;
        let tag: Vec<u8> = match m.algorithm {
            b'1' => {
                let c = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
                mac::cbc_mac(&c, &data, padding)
                    .map_err(|_| err::M_LENGTH)?
                    .as_bytes()
                    .to_vec()
            }
            b'3' => {
                if key.len() != 16 {
                    return Err(err::KEY_LEN.into());
                }
                mac::retail_mac(&key, &data, padding)
                    .map_err(|_| err::M_LENGTH)?
                    .to_vec()
            }
            _ => return Err(err::MAC_ALGORITHM.into()),
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
                let mut b = Vec::with_capacity(16);
                push_hex(&mut b, tag);
                Ok(b)
            }
        }
    }
}

//! PIN translation (CA, CC, G0), CVV (CW, CY) and KQ: the simulator side.
//! Layouts and their sources: [`crate::payshield::codec::command`] and
//! [`crate::payshield::codec::kq`].

use super::{err, pin_format, Code, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{tdes_working_key, Ksn, TdesDukptUsage};
use crate::algo::mac::Padding;
use crate::algo::{cvv, emv, pinblock};
use crate::payshield::codec::command::{CardValidation, Cvk, KsnField, PinTranslate, G0};
use crate::payshield::codec::kq::{KqRequest, KqScheme};
use crate::payshield::codec::reply::{encode_pin_translation, PinTranslation};
use crate::payshield::codec::{self, decode_hex};
use crate::payshield::lmk::KeyType;
use zeroize::Zeroizing;

/// The 80-bit KSN register for a KSN field. A KSN shorter than 20 digits
/// is left-padded with `F` (**unconfirmed** for a real HSM: it is the
/// X9.24 convention and what ThalesSim undoes when it strips a leading
/// `FFFF` from `605` + `FFFF9876543210E00008`; the public frames all send 20
/// digits). The descriptor fixed how many digits were read, so a KSN longer
/// than its descriptor says shifts every later field and the request fails
/// on the first field that no longer fits.
pub(super) fn ksn_register(k: &KsnField) -> Result<Ksn, Code> {
    let pad = 20usize.saturating_sub(k.ksn.len());
    let mut digits = Zeroizing::new("F".repeat(pad));
    digits.push_str(&k.ksn);
    let bytes = decode_hex("ksn", digits.as_bytes()).map_err(|_| err::INPUT)?;
    Ksn::from_bytes(&bytes).map_err(|_| err::INPUT)
}

impl Sim {
    /// CA (TPK → ZPK) and CC (ZPK → ZPK).
    pub(super) fn translate(&self, p: &PinTranslate, src_type: KeyType) -> Res {
        let sf = pin_format(&p.source_format)?;
        let df = pin_format(&p.destination_format)?;
        let src = self.key(src_type, &p.source_key, err::SRC_PARITY)?;
        let dst = self.key(KeyType::ZPK, &p.destination_key, err::DST_PARITY)?;
        let sc = BlockCipher::tdes(&src).map_err(|_| err::KEY_LEN)?;
        translate_out(
            &sc,
            &dst,
            &p.pin_block,
            sf,
            df,
            &p.account[..],
            usize::from(p.max_pin_len),
        )
    }

    /// G0 (TDES DUKPT → ZPK).
    pub(super) fn g0(&self, g: &G0) -> Res {
        let sf = pin_format(&g.source_format)?;
        let df = pin_format(&g.destination_format)?;
        let ksn = ksn_register(&g.ksn)?;
        let bdk = self.key(KeyType::BDK, &g.bdk, err::SRC_PARITY)?;
        let zpk = self.key(KeyType::ZPK, &g.zpk, err::DST_PARITY)?;
        if bdk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        let pk = tdes_working_key(&bdk, &ksn, TdesDukptUsage::Pin).map_err(|_| err::INPUT)?;
        let sc = BlockCipher::tdes(pk.as_slice()).map_err(|_| err::KEY_LEN)?;
        translate_out(&sc, &zpk, &g.pin_block, sf, df, &g.account[..], 12)
    }

    fn cvk(&self, c: &Cvk) -> Result<Zeroizing<Vec<u8>>, Code> {
        match c {
            Cvk::Key(k) => {
                let key = self.key(KeyType::CVK, k, err::SRC_PARITY)?;
                if key.len() != 16 {
                    return Err(err::KEY_LEN);
                }
                Ok(key)
            }
            // CVK A and CVK B as two single-length keys.
            Cvk::Pair(a, b) => {
                let ka = self.key(KeyType::CVK, a, err::SRC_PARITY)?;
                let kb = self.key(KeyType::CVK, b, err::SRC_PARITY)?;
                let k = cvv::cvk_from_halves(&ka, &kb).map_err(|_| err::KEY_LEN)?;
                Ok(Zeroizing::new(k.to_vec()))
            }
        }
    }

    /// CW.
    pub(super) fn cw(&self, c: &CardValidation) -> Res {
        let key = self.cvk(&c.cvk)?;
        let (exp, sc) = card_fields(c)?;
        let v = cvv::generate_cvv(&key, &c.pan, exp, sc).map_err(|_| err::INPUT)?;
        Ok(v.to_vec())
    }

    /// CY: `00` or `01` (verification failure).
    pub(super) fn cy(&self, c: &CardValidation) -> Res {
        let key = self.cvk(&c.cvk)?;
        let (exp, sc) = card_fields(c)?;
        let value = c.cvv.as_ref().ok_or(err::INPUT)?;
        let ok = cvv::verify_cvv(&key, &c.pan, exp, sc, &value[..]).map_err(|_| err::INPUT)?;
        if ok {
            Ok(Vec::new())
        } else {
            Err(err::VERIFY.into())
        }
    }

    /// KQ modes 0 (verify), 1 (verify + ARPC) and 2 (ARPC only). Scheme 0:
    /// the AC and the ARPC under the option-A ICC master key (checked on the
    /// dinamo frame). Scheme 1: Mastercard session key for the AC; the ARPC
    /// under that session key is **unconfirmed** (no public source; the
    /// client does not ask KQ scheme 1 for an ARPC).
    pub(super) fn kq(&self, q: &KqRequest) -> Res {
        let imk = self.key(KeyType::MK_AC, &q.mk, err::SRC_PARITY)?;
        if imk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        // PAN/PSN: 16 BCD digits (rightmost 16 of PAN || PSN).
        let mut digits = Zeroizing::new(String::with_capacity(16));
        for b in q.pan_psn {
            for nib in [b >> 4, b & 0x0F] {
                if nib > 9 {
                    return Err(err::INPUT.into());
                }
                digits.push(char::from(b'0' + nib));
            }
        }
        let (pan, psn) = digits.split_at(14);
        let icc = emv::derive_icc_mk(&imk, pan, Some(psn), emv::MkDerivation::OptionA)
            .map_err(|_| err::INPUT)?;
        let sk = match q.scheme {
            KqScheme::Visa => {
                emv::derive_session_key(icc.as_slice(), emv::SessionKeyDerivation::None)
            }
            KqScheme::Mastercard => emv::derive_session_key(
                icc.as_slice(),
                emv::SessionKeyDerivation::Mastercard {
                    atc: &q.atc,
                    un: &q.un,
                },
            ),
        }
        .map_err(|_| err::INPUT)?;
        if let Some(data) = &q.data {
            // As the host command manual says for KQ (and KW): data that is
            // not a multiple of 8 bytes gets zero padding (ISO 9797-1 method
            // 1); any scheme padding (`80 00…`) is the host's to add.
            let ok = emv::verify_ac(sk.as_slice(), data, Padding::Method1, &q.arqc)
                .map_err(|_| err::INPUT)?;
            if !ok {
                return Err(err::VERIFY.into());
            }
        }
        match &q.arc {
            Some(arc) => Ok(emv::generate_arpc_method1(sk.as_slice(), &q.arqc, arc)
                .map_err(|_| err::INPUT)?
                .to_vec()),
            None => Ok(Vec::new()),
        }
    }
}

fn card_fields(c: &CardValidation) -> Result<(&str, &str), Code> {
    let exp = std::str::from_utf8(&c.expiry).map_err(|_| err::INPUT)?;
    let sc = std::str::from_utf8(&c.service_code).map_err(|_| err::INPUT)?;
    Ok((exp, sc))
}

/// Decrypts under `sc`, checks the PIN, re-encrypts under `dst`.
fn translate_out(
    sc: &BlockCipher,
    dst: &[u8],
    block: &[u8],
    sf: pinblock::PinBlockFormat,
    df: pinblock::PinBlockFormat,
    acct: &[u8],
    max: usize,
) -> Res {
    pinblock::check_translation(sf, df).map_err(|_| err::PIN_FORMAT)?;
    // A PAN whose account-number field is exactly `acct`.
    let mut pan = Zeroizing::new(String::from_utf8(acct.to_vec()).map_err(|_| err::INPUT)?);
    pan.push('0');
    let pin = pinblock::decrypt_pin_block(sc, sf, block, Some(&pan)).map_err(|_| err::PIN_BLOCK)?;
    if pin.digits().len() > max {
        return Err(err::PIN_LEN.into());
    }
    let dc = BlockCipher::tdes(dst).map_err(|_| err::KEY_LEN)?;
    let out = pinblock::encrypt_pin_block(&dc, df, &pin, Some(&pan), &mut rand::rng())
        .map_err(|_| err::PIN_BLOCK)?;
    let t = PinTranslation {
        pin_len: u8::try_from(pin.digits().len()).map_err(|_| err::PIN_LEN)?,
        pin_block: out.as_bytes().try_into().map_err(|_| err::PIN_BLOCK)?,
        format: *codec::pin_format_code(df).ok_or(err::PIN_FORMAT)?,
    };
    let mut b = Vec::with_capacity(20);
    encode_pin_translation(&mut b, &t).map_err(|_| err::PIN_LEN)?;
    Ok(b)
}

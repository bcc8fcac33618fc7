//! PIN translation (CA, CC, G0), CVV (CW, CY) and KQ: the simulator side.
//! Layouts and their sources: [`crate::payshield::codec::command`] and
//! [`crate::payshield::codec::kq`].

use super::kb::Use;
use super::{err, Code, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{
    aes_working_key, tdes_working_key, AesDukptKeyType, AesDukptUsage, Ksn, TdesDukptUsage,
};
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
    if k.descriptor.is_none() {
        // AES DUKPT: the 12-byte KSN as sent.
        let bytes = decode_hex("ksn", k.ksn.as_bytes()).map_err(|_| err::INPUT)?;
        return Ksn::from_bytes(&bytes).map_err(|_| err::INPUT);
    }
    let pad = 20usize.saturating_sub(k.ksn.len());
    let mut digits = Zeroizing::new("F".repeat(pad));
    digits.push_str(&k.ksn);
    let bytes = decode_hex("ksn", digits.as_bytes()).map_err(|_| err::INPUT)?;
    Ksn::from_bytes(&bytes).map_err(|_| err::INPUT)
}

impl Sim {
    /// CA (TPK → ZPK) and CC (ZPK → ZPK). Under a key-block LMK the
    /// source key of CA has usage `P0` or `71` (Thales TPK), of CC `P0`;
    /// the keys may be TDES or AES, an AES key taking ISO format 4 (`48`)
    /// PIN blocks only and a TDES key the 8-byte formats only (else `23`).
    pub(super) fn translate(&self, p: &PinTranslate, src_type: KeyType) -> Res {
        let sf = pin_format_iso(&p.source_format)?;
        let df = pin_format_iso(&p.destination_format)?;
        let src = if self.key_block_lmk.is_some() {
            let usages: &[&[u8; 2]] = if src_type == KeyType::TPK {
                &[b"P0", b"71"]
            } else {
                &[b"P0"]
            };
            self.kb_key_with(&p.source_key, usages, Use::Decrypt)?
        } else {
            self.key_of(src_type, &p.source_key, err::SRC_PARITY, Use::Decrypt)?
        };
        let dst = self.key_of(
            KeyType::ZPK,
            &p.destination_key,
            err::DST_PARITY,
            Use::Encrypt,
        )?;
        translate_out(
            &src.cipher()?,
            &dst.cipher()?,
            &p.pin_block,
            (sf, df),
            (&p.account[..], p.pan.as_deref().map(String::as_str)),
            usize::from(p.max_pin_len),
        )
    }

    /// G0 (DUKPT → ZPK): TDES DUKPT with a double-length TDES BDK, or (a
    /// key-block BDK with algorithm `A`) AES DUKPT with the PIN key of the
    /// BDK's own length (**unconfirmed**: no public AES DUKPT frame says
    /// which working-key type G0 derives).
    pub(super) fn g0(&self, g: &G0) -> Res {
        let sf = pin_format_iso(&g.source_format)?;
        let df = pin_format_iso(&g.destination_format)?;
        let ksn = ksn_register(&g.ksn)?;
        let bdk = self.key_of(KeyType::BDK, &g.bdk, err::SRC_PARITY, Use::Derive)?;
        let zpk = self.key_of(KeyType::ZPK, &g.zpk, err::DST_PARITY, Use::Encrypt)?;
        let sc = if bdk.is_aes() {
            let kt = aes_key_type(bdk.key.len())?;
            let pk = aes_working_key(&bdk.key, &ksn, AesDukptUsage::PinEncryption, kt)
                .map_err(|_| err::INPUT)?;
            BlockCipher::aes(pk.as_bytes())
        } else {
            if bdk.key.len() != 16 || ksn.is_aes() {
                return Err(err::KEY_LEN.into());
            }
            let pk =
                tdes_working_key(&bdk.key, &ksn, TdesDukptUsage::Pin).map_err(|_| err::INPUT)?;
            BlockCipher::tdes(pk.as_slice())
        }
        .map_err(|_| err::KEY_LEN)?;
        translate_out(
            &sc,
            &zpk.cipher()?,
            &g.pin_block,
            (sf, df),
            (&g.account[..], g.pan.as_deref().map(String::as_str)),
            12,
        )
    }

    fn cvk(&self, c: &Cvk, what: Use) -> Result<Zeroizing<Vec<u8>>, Code> {
        match c {
            Cvk::Key(k) => {
                let key = self.key_of(KeyType::CVK, k, err::SRC_PARITY, what)?.key;
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
        let key = self.cvk(&c.cvk, Use::Generate)?;
        let (exp, sc) = card_fields(c)?;
        let v = cvv::generate_cvv(&key, &c.pan, exp, sc).map_err(|_| err::INPUT)?;
        Ok(v.to_vec())
    }

    /// CY: `00` or `01` (verification failure).
    pub(super) fn cy(&self, c: &CardValidation) -> Res {
        let key = self.cvk(&c.cvk, Use::Verify)?;
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
        let imk = self
            .key_of(KeyType::MK_AC, &q.mk, err::SRC_PARITY, Use::Derive)?
            .key;
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

/// The AES DUKPT working-key type of an AES BDK's length.
pub(super) fn aes_key_type(len: usize) -> Result<AesDukptKeyType, Code> {
    match len {
        16 => Ok(AesDukptKeyType::Aes128),
        24 => Ok(AesDukptKeyType::Aes192),
        32 => Ok(AesDukptKeyType::Aes256),
        _ => Err(err::KEY_LEN),
    }
}

/// A PIN block format code of the ISO formats (`01`, `05`, `47`, `48`);
/// whether the key fits it is checked by [`translate_out`].
fn pin_format_iso(code: &[u8]) -> Result<pinblock::PinBlockFormat, Code> {
    codec::pin_format_from_code(code).ok_or(err::PIN_FORMAT)
}

/// `23` unless ISO format 4 goes with an AES key and the other formats
/// with a TDES key.
fn check_format_key(f: pinblock::PinBlockFormat, c: &BlockCipher) -> Result<(), Code> {
    if (f == pinblock::PinBlockFormat::Iso4) == c.is_aes() {
        Ok(())
    } else {
        Err(err::PIN_FORMAT)
    }
}

/// Decrypts under `sc`, checks the PIN, re-encrypts under `dc`. `acct` is
/// the 12-digit account number and `pan` the full PAN (required when a
/// format is ISO 4, and then matching the account number, else `15`).
fn translate_out(
    sc: &BlockCipher,
    dc: &BlockCipher,
    block: &[u8],
    (sf, df): (pinblock::PinBlockFormat, pinblock::PinBlockFormat),
    (acct, full): (&[u8], Option<&str>),
    max: usize,
) -> Res {
    use pinblock::PinBlockFormat::Iso4;
    pinblock::check_translation(sf, df).map_err(|_| err::PIN_FORMAT)?;
    check_format_key(sf, sc)?;
    check_format_key(df, dc)?;
    let pan = match full {
        Some(p) => {
            if &codec::account_field(p)[..] != acct {
                return Err(err::INPUT.into());
            }
            Zeroizing::new(p.to_owned())
        }
        None if sf == Iso4 || df == Iso4 => return Err(err::INPUT.into()),
        None => {
            // A PAN whose account-number field is exactly `acct`.
            let mut pan = Zeroizing::new(String::from_utf8(acct.to_vec()).map_err(|_| err::INPUT)?);
            pan.push('0');
            pan
        }
    };
    let pin = pinblock::decrypt_pin_block(sc, sf, block, Some(&pan)).map_err(|_| err::PIN_BLOCK)?;
    if pin.digits().len() > max {
        return Err(err::PIN_LEN.into());
    }
    let out = pinblock::encrypt_pin_block(dc, df, &pin, Some(&pan), &mut rand::rng())
        .map_err(|_| err::PIN_BLOCK)?;
    let t = PinTranslation {
        pin_len: u8::try_from(pin.digits().len()).map_err(|_| err::PIN_LEN)?,
        pin_block: out.as_bytes().to_vec(),
        format: *codec::pin_format_code(df).ok_or(err::PIN_FORMAT)?,
    };
    let mut b = Vec::with_capacity(36);
    encode_pin_translation(&mut b, &t).map_err(|_| err::PIN_LEN)?;
    Ok(b)
}

//! Issuer PIN verification and generation (DA, EA, GO, DE, EE; DC, EC, GQ,
//! DG): the simulator side, over [`crate::algo::pinverify`]. Layouts and
//! their sources: [`crate::payshield::codec::command`] (`pinibm`,
//! `pinvisa`).
//!
//! What the simulator does where the sources stop (each **unconfirmed**):
//! - The check length is "the minimum PIN length" (the manual's words); the
//!   offset covers as many PIN digits as it has (every public frame sends an
//!   offset of exactly the check length: ut-codec-payshield test.js L1331,
//!   L1405, L1523, L2925; dinamo `da_db.sh`). DE returns the offset of the
//!   whole PIN, EE derives a PIN of the offset's length, DA / EA / GO
//!   compare the offset's digits with the rightmost PIN digits; a PIN
//!   shorter than the check length or longer than the maximum does not
//!   verify (`01`).
//! - A decimalisation table of 16 digits is plaintext; any other is
//!   encrypted under LMK pair 18-19 variant 1 (reconstructed: the dinamo DA
//!   / EA frames' table `FD64FC3FAD504BB3` decrypts so under the test LMK to
//!   `0123456789012345`, and with it their offset `0463` verifies their PIN
//!   block; pair 38-39 holds the same value in the test LMK, so the pair is
//!   not settled). Tables failing the default check are `25`.
//! - Validation data whose hexadecimal letters are not all at its end (one
//!   pad character repeated) is not modelled (`15`): the reference
//!   algorithm takes decimal validation data and one pad character, as the
//!   AWS model does.
//! - `02` (a double or triple length PVK: a warning, the answer follows) on
//!   DE, EE, DA, EA, GO, as the manual's notes say; DC, EC, GQ, DG need a
//!   double-length PVK (`27` otherwise).
//! - Key-block LMK: the keys are TDES key blocks whose usage fits the field
//!   (PVK `V1` for the IBM commands, `V2` for the Visa ones, as the public
//!   key-block frames carry; PIN keys `P0`, a TPK also `71`; BDKs `B0`),
//!   else `A6`; the mode of use must allow what the command does (`A8`);
//!   an AES key is `A7` (the commands' AES forms are not modelled); an
//!   encrypted decimalisation table is `25` (its key-block form is not
//!   modelled).

use super::kb::Use;
use super::lmkpin::pan_of;
use super::{err, pin_format, Code, Fail, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{tdes_working_key, TdesDukptUsage};
use crate::algo::{pinblock, pinverify};
use crate::payshield::codec::command::{
    offset_field, offset_from_field, IbmData, IbmDerive, IbmOffset, IbmVerify, IbmVerifyDukpt,
    PinCommand, PvkPair, PvvGenerate, PvvVerify, PvvVerifyDukpt,
};
use crate::payshield::codec::decode_hex;
use crate::payshield::lmk::{EncryptedKey, KeyType};
use crate::types::{
    DecimalizationTable, PadCharacter, Pan, Pin, PinBlockFormat, PinOffset, PinValidationData,
    Pvki, Pvv,
};
use zeroize::Zeroizing;

/// Warning: a double or triple length PVK (processing went on with TDES).
const DOUBLE_PVK: Code = *b"02";
/// Decimalisation table error.
const TABLE: Code = *b"25";
/// DE: the PIN is shorter than the check length (ut-codec-payshield
/// `messages.json` DE/EE/DG/JA: `81` "PIN length mismatch").
const PIN_LEN_MISMATCH: Code = *b"81";
/// Index of LMK pair 18-19 (encrypted decimalisation tables, see the
/// module docs).
const PAIR_18_19: usize = 9;

/// The IBM 3624 parameters of a request, decoded.
struct IbmParams {
    table: DecimalizationTable,
    validation: PinValidationData,
    pad: PadCharacter,
}

impl IbmParams {
    fn algo(&self) -> pinverify::Ibm3624Params<'_> {
        pinverify::Ibm3624Params {
            table: &self.table,
            validation_data: &self.validation,
            pad: self.pad,
        }
    }
}

/// `00`, or the `02` warning with the same body for a longer PVK.
fn answer(pvk_len: usize, body: Vec<u8>) -> Res {
    if pvk_len > 8 {
        Err(Fail {
            code: DOUBLE_PVK,
            body,
        })
    } else {
        Ok(body)
    }
}

/// A verification's answer: `01`, or `00` / `02` as [`answer`].
fn verified(pvk_len: usize, ok: bool) -> Res {
    if ok {
        answer(pvk_len, Vec::new())
    } else {
        Err(err::VERIFY.into())
    }
}

/// A PIN block decoding error: `24` for the PIN length field (the manual's
/// format notes), `20` otherwise.
fn block_error(e: &crate::algo::AlgoError) -> Code {
    if e.field == "pin block PIN length field" {
        err::PIN_LEN
    } else {
        err::PIN_BLOCK
    }
}

fn pvki(p: u8) -> Result<Pvki, Code> {
    Pvki::new(p.wrapping_sub(b'0')).map_err(|_| err::INPUT)
}

fn pvv(p: &[u8; 4]) -> Result<Pvv, Code> {
    Pvv::new(std::str::from_utf8(p).map_err(|_| err::INPUT)?).map_err(|_| err::INPUT)
}

fn pan(account: &[u8; 12]) -> Result<Pan, Code> {
    Pan::new(&pan_of(account)?).map_err(|_| err::INPUT)
}

/// The key-block usages (TR-31) of the keys of the issuer PIN commands
/// under a key-block LMK, by the variant key type a command names: a TPK
/// is `P0` or `71` (the Thales TPK usage of ut-codec-payshield test.js
/// @4063d5b8 L879 and of the public DA/DC/JC key-block frames), a ZPK
/// `P0`, a BDK `B0`.
fn pin_key_usages(kt: KeyType) -> &'static [&'static [u8; 2]] {
    if kt == KeyType::TPK {
        &[b"P0", b"71"]
    } else if kt == KeyType::BDK {
        &[b"B0"]
    } else {
        &[b"P0"]
    }
}

/// The PVK usage of the IBM 3624 commands (DA, EA, GO, DE, EE): `V1`, as
/// the public key-block frames carry (ut-codec-payshield test.js
/// `S00072V1TN00E…`).
const IBM_PVK: &[&[u8; 2]] = &[b"V1"];
/// The PVK usage of the Visa PVV commands (DC, EC, GQ, DG): `V2` (the
/// public key-block frames: `S00072V2TN00E…`).
const VISA_PVK: &[&[u8; 2]] = &[b"V2"];

impl Sim {
    /// A TDES key of an issuer PIN command. Variant LMK: key type `kt`
    /// (parity error `parity`). Key-block LMK: a key block with one of
    /// `usages` (else `A6`), a mode of use allowing `what` (else `A8`),
    /// algorithm `T` (else `A7`: the AES forms of these commands, with
    /// 32-digit PIN blocks, are not modelled).
    fn cmd_key(
        &self,
        kt: KeyType,
        usages: &[&[u8; 2]],
        k: &EncryptedKey,
        parity: Code,
        what: Use,
    ) -> Result<Zeroizing<Vec<u8>>, Code> {
        if self.key_block_lmk.is_none() {
            return self.key(kt, k, parity);
        }
        let c = self.kb_key_with(k, usages, what)?;
        if c.algorithm != b'T' {
            return Err(err::KB_ALGORITHM);
        }
        Ok(c.key)
    }

    /// The PIN key (TPK, ZPK) or BDK of an issuer PIN command, for `what`.
    pub(super) fn pin_key(
        &self,
        kt: KeyType,
        k: &EncryptedKey,
        parity: Code,
        what: Use,
    ) -> Result<Zeroizing<Vec<u8>>, Code> {
        self.cmd_key(kt, pin_key_usages(kt), k, parity, what)
    }

    /// A PVK of the IBM commands (16H or 1A+32H/48H, LMK 14-15; `V1` in a
    /// key block) and its length in bytes.
    fn ibm_pvk(
        &self,
        k: &EncryptedKey,
        parity: Code,
        what: Use,
    ) -> Result<(BlockCipher, usize), Code> {
        let key = self.cmd_key(KeyType::TPK, IBM_PVK, k, parity, what)?;
        Ok((
            BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?,
            key.len(),
        ))
    }

    /// A PVK pair of the Visa commands (`V2` in a key block): double length
    /// only (`27`).
    fn visa_pvk(&self, p: &PvkPair, parity: Code, what: Use) -> Result<BlockCipher, Code> {
        let key = match p {
            PvkPair::Key(k) => self.cmd_key(KeyType::TPK, VISA_PVK, k, parity, what)?,
            PvkPair::Pair(a, b) => {
                let mut k = self.cmd_key(KeyType::TPK, VISA_PVK, a, parity, what)?;
                k.extend_from_slice(&self.cmd_key(KeyType::TPK, VISA_PVK, b, parity, what)?);
                k
            }
        };
        if key.len() != 16 {
            return Err(err::KEY_LEN);
        }
        BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)
    }

    fn table(&self, t: &[u8; 16]) -> Result<DecimalizationTable, Code> {
        let digits: Zeroizing<[u8; 16]> = if t.iter().all(u8::is_ascii_digit) {
            Zeroizing::new(*t)
        } else if self.key_block_lmk.is_some() {
            // An encrypted table under a key-block LMK: not modelled.
            return Err(TABLE);
        } else {
            let mut b: [u8; 8] = decode_hex("decimalisation table", t)
                .map_err(|_| TABLE)?
                .try_into()
                .map_err(|_| TABLE)?;
            let c = self.lmk.pair_cipher(PAIR_18_19, 1).map_err(|_| TABLE)?;
            c.decrypt_ecb(&mut b).map_err(|_| TABLE)?;
            let mut d = Zeroizing::new([0u8; 16]);
            for (pair, x) in d.chunks_exact_mut(2).zip(b) {
                if let [hi, lo] = pair {
                    (*hi, *lo) = (x >> 4, x & 0x0F);
                }
            }
            if d.iter().any(|n| *n > 9) {
                return Err(TABLE);
            }
            for n in d.iter_mut() {
                *n += b'0';
            }
            d
        };
        let t = DecimalizationTable::new(std::str::from_utf8(&digits[..]).map_err(|_| TABLE)?)
            .map_err(|_| TABLE)?;
        if t.passes_hsm_check() {
            Ok(t)
        } else {
            Err(TABLE)
        }
    }

    /// The table, the validation data (with `N` replaced by the last five
    /// account digits) and the check length (4 to 12).
    fn ibm_params(&self, d: &IbmData) -> Result<(IbmParams, usize), Code> {
        let check = usize::from(d.check_length);
        if !(4..=12).contains(&check) {
            return Err(err::INPUT);
        }
        let table = self.table(&d.table)?;
        let (validation, pad) = d.validation_data().map_err(|_| err::INPUT)?;
        Ok((
            IbmParams {
                table,
                validation,
                pad,
            },
            check,
        ))
    }

    /// The PIN in a PIN block under `c`.
    fn block_pin(
        c: &BlockCipher,
        format: &[u8; 2],
        block: &[u8; 8],
        account: &[u8; 12],
    ) -> Result<Pin, Code> {
        let f: PinBlockFormat = pin_format(format)?;
        let pan = pan_of(account)?;
        pinblock::decrypt_pin_block(c, f, block, Some(&pan)).map_err(|e| block_error(&e))
    }

    /// The DUKPT PIN key of a GO / GQ request (BDK parity error 10, not
    /// double or triple length 27).
    fn dukpt_cipher(
        &self,
        bdk: &EncryptedKey,
        ksn: &crate::payshield::codec::command::KsnField,
    ) -> Result<BlockCipher, Code> {
        let ksn = super::card::ksn_register(ksn)?;
        let bdk = self.pin_key(KeyType::BDK, bdk, err::SRC_PARITY, Use::Derive)?;
        if bdk.len() != 16 {
            return Err(err::KEY_LEN);
        }
        let pk = tdes_working_key(&bdk, &ksn, TdesDukptUsage::Pin).map_err(|_| err::INPUT)?;
        BlockCipher::tdes(pk.as_slice()).map_err(|_| err::KEY_LEN)
    }

    /// IBM 3624 verification of `pin` (DA, EA, GO).
    fn ibm_verify(
        pvk: &BlockCipher,
        pvk_len: usize,
        p: &IbmParams,
        pin: &Pin,
        range: std::ops::RangeInclusive<usize>,
        offset: &[u8; 12],
    ) -> Res {
        let offset = offset_from_field(offset).map_err(|_| err::INPUT)?;
        if *range.start() > offset.len() {
            return Err(err::INPUT.into());
        }
        let ok = pinverify::ibm3624_verify(pvk, &p.algo(), pin, &offset).map_err(|_| err::INPUT)?;
        verified(pvk_len, ok && range.contains(&pin.digits().len()))
    }

    /// DA (TPK, parity 10) / EA (ZPK, parity 10); PVK parity 11.
    pub(super) fn ibm_verify_block(&self, v: &IbmVerify, kt: KeyType) -> Res {
        let max = usize::from(v.max_pin_len);
        if !(4..=12).contains(&max) {
            return Err(err::INPUT.into());
        }
        let key = self.pin_key(kt, &v.pin_key, err::SRC_PARITY, Use::Decrypt)?;
        let kc = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
        let (pvk, pvk_len) = self.ibm_pvk(&v.pvk, err::DST_PARITY, Use::Verify)?;
        let (p, check) = self.ibm_params(&v.data)?;
        let pin = Self::block_pin(&kc, &v.format, &v.pin_block, &v.data.account)?;
        Self::ibm_verify(&pvk, pvk_len, &p, &pin, check..=max, &v.offset)
    }

    /// GO mode 0 (BDK parity 10, PVK parity 11).
    pub(super) fn go(&self, v: &IbmVerifyDukpt) -> Res {
        let kc = self.dukpt_cipher(&v.bdk, &v.ksn)?;
        let (pvk, pvk_len) = self.ibm_pvk(&v.pvk, err::DST_PARITY, Use::Verify)?;
        let (p, check) = self.ibm_params(&v.data)?;
        let pin = Self::block_pin(&kc, &v.format, &v.pin_block, &v.data.account)?;
        Self::ibm_verify(&pvk, pvk_len, &p, &pin, check..=12, &v.offset)
    }

    /// DE: the offset of a PIN under the LMK, of the PIN's length (PVK
    /// parity 10).
    pub(super) fn de(&self, d: &IbmOffset) -> Res {
        let (pvk, pvk_len) = self.ibm_pvk(&d.pvk, err::SRC_PARITY, Use::Generate)?;
        let (p, check) = self.ibm_params(&d.data)?;
        let pin = self.decrypt_pin(&d.pin, &d.data.account)?;
        if pin.digits().len() < check {
            return Err(PIN_LEN_MISMATCH.into());
        }
        let offset =
            pinverify::ibm3624_offset(&pvk, &p.algo(), &pin, None).map_err(|_| err::INPUT)?;
        answer(pvk_len, offset_field(&offset).to_vec())
    }

    /// EE: the PIN an offset gives, of the offset's length, under the LMK
    /// (PVK parity 10).
    pub(super) fn ee(&self, d: &IbmDerive) -> Res {
        let (pvk, pvk_len) = self.ibm_pvk(&d.pvk, err::SRC_PARITY, Use::Generate)?;
        let (p, check) = self.ibm_params(&d.data)?;
        let offset: PinOffset = offset_from_field(&d.offset).map_err(|_| err::INPUT)?;
        if check > offset.len() {
            return Err(err::INPUT.into());
        }
        let pin = pinverify::ibm3624_pin_from_offset(&pvk, &p.algo(), &offset, None)
            .map_err(|_| err::INPUT)?;
        let lmk_pin = self.encrypt_pin(&pin, &d.data.account)?;
        answer(pvk_len, lmk_pin.as_bytes().to_vec())
    }

    /// DC (TPK) / EC (ZPK): PIN key parity 10, PVK parity 11.
    pub(super) fn pvv_verify_block(&self, v: &PvvVerify, kt: KeyType) -> Res {
        let key = self.pin_key(kt, &v.pin_key, err::SRC_PARITY, Use::Decrypt)?;
        let kc = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
        let pvk = self.visa_pvk(&v.pvk, err::DST_PARITY, Use::Verify)?;
        let pin = Self::block_pin(&kc, &v.format, &v.pin_block, &v.account)?;
        let ok =
            pinverify::visa_pvv_verify(&pvk, &pan(&v.account)?, pvki(v.pvki)?, &pin, &pvv(&v.pvv)?)
                .map_err(|_| err::INPUT)?;
        verified(0, ok)
    }

    /// GQ mode 0 (BDK parity 10, PVK parity 11).
    pub(super) fn gq(&self, v: &PvvVerifyDukpt) -> Res {
        let kc = self.dukpt_cipher(&v.bdk, &v.ksn)?;
        let pvk = self.visa_pvk(&v.pvk, err::DST_PARITY, Use::Verify)?;
        let pin = Self::block_pin(&kc, &v.format, &v.pin_block, &v.account)?;
        let ok =
            pinverify::visa_pvv_verify(&pvk, &pan(&v.account)?, pvki(v.pvki)?, &pin, &pvv(&v.pvv)?)
                .map_err(|_| err::INPUT)?;
        verified(0, ok)
    }

    /// DG: the PVV of a PIN under the LMK (PVK parity 10).
    pub(super) fn dg(&self, g: &PvvGenerate) -> Res {
        let pvk = self.visa_pvk(&g.pvk, err::SRC_PARITY, Use::Generate)?;
        let pin = self.decrypt_pin(&g.pin, &g.account)?;
        let v = pinverify::visa_pvv(&pvk, &pan(&g.account)?, pvki(g.pvki)?, &pin)
            .map_err(|_| err::INPUT)?;
        Ok(v.expose().into_bytes())
    }
}

impl Sim {
    /// One issuer PIN command.
    pub(super) fn pin(&self, p: &PinCommand) -> Res {
        match p {
            PinCommand::Da(v) => self.ibm_verify_block(v, KeyType::TPK),
            PinCommand::Ea(v) => self.ibm_verify_block(v, KeyType::ZPK),
            PinCommand::Go(v) => self.go(v),
            PinCommand::De(d) => self.de(d),
            PinCommand::Ee(d) => self.ee(d),
            PinCommand::Dc(v) => self.pvv_verify_block(v, KeyType::TPK),
            PinCommand::Ec(v) => self.pvv_verify_block(v, KeyType::ZPK),
            PinCommand::Gq(v) => self.gq(v),
            PinCommand::Dg(g) => self.dg(g),
            PinCommand::Ja(j) => self.ja(j),
            PinCommand::Jc(j) => self.to_lmk(j, KeyType::TPK),
            PinCommand::Je(j) => self.to_lmk(j, KeyType::ZPK),
            PinCommand::Jg(j) => self.jg(j),
            PinCommand::Ba(b) => self.ba(b),
            PinCommand::Ng(n) => self.ng(n),
        }
    }
}

//! PINs under the LMK (JA, JC, JE, JG, BA, NG): the simulator side, and the
//! simulator's own encryption of a PIN under LMK pair 02-03.
//!
//! **Not the payShield's algorithm.** How a payShield encrypts a PIN under
//! the LMK is not published (ThalesSim forum: "the algorithm is unknown and
//! Thales keeps it in secret"); ThalesSim stores `0` + the clear PIN
//! (`AHostCommand.vb` `EncryptPINForHostStorage`), which a simulator used
//! for integration tests must not do, since a PIN under the LMK crosses the
//! wire. This one keeps what the manual states: an encrypted PIN of fixed
//! length `L` = [`PIN_LEN`] decimal digits ("Visa" method, `L N`), one more
//! than the longest PIN, bound to the account number (BA and NG take it).
//! Digit `i` is `p[i] + k[i] mod 10`, where `p` = the PIN length − 4, the
//! PIN digits, then zeros, and `k` = the nibbles (mod 10) of
//! `TDES(LMK 02-03, FFFF ‖ account number)` (with a key-block LMK: of
//! `AES(LMK, FFFF ‖ account number ‖ FF…)`, the leftmost 8 bytes). A host
//! never reads the field,
//! so the client works the same against a real HSM; frames from another
//! HSM carry PINs this simulator decrypts to other values (the golden-frame
//! tests re-encrypt ThalesSim's PINs with BA first).

use super::kb::Use;
use super::{err, pin_format, Code, Res, Sim};
use crate::algo::cipher::BlockCipher;
use crate::algo::pinblock;
use crate::algo::pinverify::random_pin;
use crate::payshield::codec::command::{
    DecryptPin, EncryptPin, LmkPin, PinFromLmk, PinToLmk, RandomPin,
};
use crate::payshield::codec::push_hex;
use crate::payshield::lmk::KeyType;
use crate::types::{Pin, PinLength};
use zeroize::Zeroizing;

/// The simulator's encrypted PIN length `L` (console setting CS on a
/// payShield): 13, room for a 12-digit PIN.
pub const PIN_LEN: usize = 13;

/// Error code: the PIN under the LMK is invalid (payShield 10K general list
/// `14`; BE/BC: "error in PIN from Host database").
pub(super) const LMK_PIN: Code = *b"14";

/// The index of LMK pair 02-03.
const PAIR_02_03: usize = 1;

/// A PAN whose 12-digit account number field is `account` (the fields
/// carry only those digits; formats 0 and 3 and the Visa TSP use no more).
pub(super) fn pan_of(account: &[u8; 12]) -> Result<Zeroizing<String>, Code> {
    let mut pan = Zeroizing::new(String::from_utf8(account.to_vec()).map_err(|_| err::INPUT)?);
    pan.push('0');
    Ok(pan)
}

impl Sim {
    fn pin_keystream(&self, account: &[u8; 12]) -> Result<Zeroizing<[u8; 16]>, Code> {
        let mut block = [0xFFu8; 8];
        for (b, pair) in block.iter_mut().skip(2).zip(account.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *b = ((hi - b'0') << 4) | (lo - b'0');
            }
        }
        if let Some(kb) = &self.key_block_lmk {
            let mut wide = [0xFFu8; 16];
            wide[..8].copy_from_slice(&block);
            let c = kb.cipher().map_err(|_| err::INPUT)?;
            c.encrypt_ecb(&mut wide).map_err(|_| err::INPUT)?;
            block.copy_from_slice(&wide[..8]);
        } else {
            let c = self
                .lmk
                .pair_cipher(PAIR_02_03, 0)
                .map_err(|_| err::INPUT)?;
            c.encrypt8(&mut block).map_err(|_| err::INPUT)?;
        }
        let mut k = Zeroizing::new([0u8; 16]);
        for (pair, b) in k.chunks_exact_mut(2).zip(block) {
            if let [hi, lo] = pair {
                *hi = (b >> 4) % 10;
                *lo = (b & 0x0F) % 10;
            }
        }
        Ok(k)
    }

    /// `pin` under the LMK for `account` (the module docs' scheme).
    pub(super) fn encrypt_pin(&self, pin: &Pin, account: &[u8; 12]) -> Result<LmkPin, Code> {
        let d = pin.digits();
        if !(4..PIN_LEN).contains(&d.len()) {
            return Err(err::PIN_LEN);
        }
        let k = self.pin_keystream(account)?;
        let mut out = Zeroizing::new([b'0'; PIN_LEN]);
        for (i, o) in out.iter_mut().enumerate() {
            let p = match i {
                0 => d.len() as u8 - 4,
                _ => d.get(i - 1).map_or(0, |c| c - b'0'),
            };
            *o = b'0' + (p + k.get(i).copied().unwrap_or(0)) % 10;
        }
        LmkPin::new(&out[..]).map_err(|_| err::INPUT)
    }

    /// The PIN in `p` (encrypted for `account`): `15` for another length
    /// than [`PIN_LEN`], `14` when it does not decrypt to a PIN.
    pub(super) fn decrypt_pin(&self, p: &LmkPin, account: &[u8; 12]) -> Result<Pin, Code> {
        let e = p.as_bytes();
        if e.len() != PIN_LEN || !e.iter().all(u8::is_ascii_digit) {
            return Err(err::INPUT);
        }
        let k = self.pin_keystream(account)?;
        let mut plain = Zeroizing::new([0u8; PIN_LEN]);
        for (i, (o, c)) in plain.iter_mut().zip(e).enumerate() {
            *o = (c - b'0' + 10 - k.get(i).copied().unwrap_or(0)) % 10;
        }
        let n = usize::from(plain[0]) + 4;
        let (digits, rest) = plain
            .get(1..)
            .and_then(|t| Some((t.get(..n)?, t.get(n..)?)))
            .ok_or(LMK_PIN)?;
        if n > 12 || rest.iter().any(|d| *d != 0) {
            return Err(LMK_PIN);
        }
        let ascii: Zeroizing<Vec<u8>> = Zeroizing::new(digits.iter().map(|d| b'0' + d).collect());
        Pin::from_digits(&ascii).map_err(|_| LMK_PIN)
    }

    /// JA: a random PIN of 4 to 12 digits under the LMK.
    pub(super) fn ja(&self, j: &RandomPin) -> Res {
        let n = PinLength::new(j.pin_length).map_err(|_| err::INPUT)?;
        let pin = random_pin(n, &mut rand::rng()).map_err(|_| err::INPUT)?;
        Ok(self.encrypt_pin(&pin, &j.account)?.as_bytes().to_vec())
    }

    /// JC (TPK, parity error 10) / JE (ZPK, 10): a PIN block to the LMK.
    pub(super) fn to_lmk(&self, j: &PinToLmk, kt: KeyType) -> Res {
        let f = pin_format(&j.format)?;
        let key = self.pin_key(kt, &j.key, err::SRC_PARITY, Use::Decrypt)?;
        let c = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
        let pan = pan_of(&j.account)?;
        let pin = pinblock::decrypt_pin_block(&c, f, &j.pin_block, Some(&pan))
            .map_err(|_| err::PIN_BLOCK)?;
        Ok(self.encrypt_pin(&pin, &j.account)?.as_bytes().to_vec())
    }

    /// JG: a PIN under the LMK to a PIN block under a ZPK (parity error 11,
    /// as ut-codec-payshield's JG table says).
    pub(super) fn jg(&self, j: &PinFromLmk) -> Res {
        let f = pin_format(&j.format)?;
        let zpk = self.pin_key(KeyType::ZPK, &j.zpk, err::DST_PARITY, Use::Encrypt)?;
        let pin = self.decrypt_pin(&j.pin, &j.account)?;
        let c = BlockCipher::tdes(&zpk).map_err(|_| err::KEY_LEN)?;
        let pan = pan_of(&j.account)?;
        let block = pinblock::encrypt_pin_block(&c, f, &pin, Some(&pan), &mut rand::rng())
            .map_err(|_| err::PIN_BLOCK)?;
        let mut out = Vec::with_capacity(16);
        push_hex(&mut out, block.as_bytes());
        Ok(out)
    }

    /// BA: a clear PIN (padded with F to [`PIN_LEN`]) to the LMK.
    pub(super) fn ba(&self, b: &EncryptPin) -> Res {
        if b.pin.len() != PIN_LEN {
            return Err(err::INPUT.into());
        }
        let n = b.pin.iter().take_while(|c| c.is_ascii_digit()).count();
        if !b.pin.get(n..).unwrap_or(&[]).iter().all(|c| *c == b'F') {
            return Err(err::INPUT.into());
        }
        let pin = Pin::from_digits(b.pin.get(..n).unwrap_or(&[])).map_err(|_| err::PIN_LEN)?;
        Ok(self.encrypt_pin(&pin, &b.account)?.as_bytes().to_vec())
    }

    /// NG: "available only if selected during configuration" (the manual);
    /// the simulator never hands out a clear PIN, so it is disabled (`68`).
    pub(super) fn ng(&self, _: &DecryptPin) -> Res {
        Err(err::DISABLED.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payshield::lmk::VariantLmk;

    #[test]
    fn pins_under_the_lmk_round_trip_and_bind_the_account() {
        let sim = Sim::new(VariantLmk::test_lmk(), 4);
        let acct = *b"550000025321";
        for p in ["1234", "0000", "987654321012", "55555"] {
            let pin = Pin::new(p).unwrap();
            let e = sim.encrypt_pin(&pin, &acct).unwrap();
            assert_eq!(e.as_bytes().len(), PIN_LEN);
            assert_eq!(sim.decrypt_pin(&e, &acct).unwrap(), pin);
            assert_eq!(sim.encrypt_pin(&pin, &acct).unwrap(), e, "deterministic");
            assert_ne!(sim.encrypt_pin(&pin, b"550000025322").unwrap(), e);
        }
        let e = sim.encrypt_pin(&Pin::new("1234").unwrap(), &acct).unwrap();
        let mut changed = e.as_bytes().to_vec();
        changed[PIN_LEN - 1] = b'0' + (changed[PIN_LEN - 1] - b'0' + 1) % 10;
        assert_eq!(
            sim.decrypt_pin(&LmkPin::new(&changed).unwrap(), &acct),
            Err(LMK_PIN)
        );
        assert_eq!(
            sim.decrypt_pin(&LmkPin::new(b"01234").unwrap(), &acct),
            Err(err::INPUT),
            "ThalesSim's 5-character PIN field"
        );
    }
}

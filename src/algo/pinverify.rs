//! Issuer PIN algorithms: IBM 3624 (natural PIN, PIN offset, PIN from
//! offset, verification) and the Visa PIN verification value (PVV), plus
//! random PIN generation.
//!
//! **IBM 3624** (IBM CCA Basic Services, appendix E, "IBM 3624
//! PIN-calculation method" and "IBM 3624 PIN Offset calculation method";
//! IBM z/OS ICSF, "PIN Offset Generation algorithm"): the validation data,
//! right-padded to 16 hexadecimal digits with the pad character, is
//! enciphered under the PIN verification key; each hexadecimal digit of the
//! result is mapped through the decimalisation table; the leftmost `n`
//! digits are the natural (intermediate) PIN of an `n`-digit PIN. The offset
//! is the digit-wise difference modulo 10 (no borrow) between the customer
//! PIN and the natural PIN; an offset of `m <= n` digits covers the
//! rightmost `m` digits (the PIN check length), and verification compares
//! those digits only.
//!
//! **Visa PVV** (as described in the public Visa PIN verification
//! references and HSM manuals, e.g. the payShield `DG`/`DC` commands): the
//! 16-digit transformed security parameter (TSP) is the 11 rightmost PAN
//! digits excluding the check digit, the PVKI, and the 4 leftmost PIN
//! digits; it is enciphered under the double-length PVK and decimalised
//! (the decimal digits of the result left to right, then its `A`-`F` digits
//! minus 10); the first four are the PVV.
//!
//! Everything here is a pure function over a [`BlockCipher`] holding the PVK
//! (DES family: an AES cipher is refused with a `key` error). Clear PINs and
//! intermediate values zeroize on drop; verification compares in constant
//! time and says only whether the PIN matched.

use super::cipher::BlockCipher;
use super::{AlgoError, AlgoResult};
use crate::types::{
    DecimalizationTable, PadCharacter, Pan, Pin, PinLength, PinOffset, PinValidationData, Pvki, Pvv,
};
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The IBM 3624 parameters that, with the PVK, determine the natural PIN.
#[derive(Debug, Clone, Copy)]
pub struct Ibm3624Params<'a> {
    /// Maps the enciphered data's hexadecimal digits to decimal.
    pub table: &'a DecimalizationTable,
    /// The cardholder's validation data (usually part of the PAN).
    pub validation_data: &'a PinValidationData,
    /// Pads the validation data on the right to 16 hexadecimal digits.
    pub pad: PadCharacter,
}

fn des_family(cipher: &BlockCipher, what: &str) -> AlgoResult<()> {
    if cipher.is_aes() {
        Err(AlgoError::new(
            "key",
            format!("{what} needs a DES-family (TDES) key"),
        ))
    } else {
        Ok(())
    }
}

/// Packs 16 nibbles into 8 bytes.
fn pack(nibbles: &[u8; 16]) -> Zeroizing<[u8; 8]> {
    let mut out = Zeroizing::new([0u8; 8]);
    for (b, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *b = (hi << 4) | (lo & 0x0F);
        }
    }
    out
}

/// The 16 decimalised digits (values 0-9) of the IBM 3624 calculation,
/// before selecting the PIN length: `decimalise(E_pvk(validation data
/// padded to 16 digits))`.
///
/// Errors (`key`): an AES cipher.
pub fn ibm3624_intermediate(
    pvk: &BlockCipher,
    p: &Ibm3624Params<'_>,
) -> AlgoResult<Zeroizing<[u8; 16]>> {
    des_family(pvk, "IBM 3624")?;
    let mut nibbles = Zeroizing::new([p.pad.nibble(); 16]);
    for (slot, d) in nibbles.iter_mut().zip(p.validation_data.values()) {
        *slot = *d;
    }
    let mut block = pack(&nibbles);
    pvk.encrypt8(&mut block)?;
    let mut out = Zeroizing::new([0u8; 16]);
    for (pair, b) in out.chunks_exact_mut(2).zip(block.iter()) {
        if let [hi, lo] = pair {
            *hi = p.table.map(b >> 4);
            *lo = p.table.map(b & 0x0F);
        }
    }
    Ok(out)
}

/// PIN digit values (0-9) as a [`Pin`].
fn pin_from_values(values: &[u8]) -> AlgoResult<Pin> {
    let mut ascii = Zeroizing::new([0u8; 12]);
    let n = values.len().min(12);
    for (o, v) in ascii.iter_mut().zip(values) {
        *o = b'0' + (v % 10);
    }
    Pin::from_digits(ascii.get(..n).unwrap_or(&[]))
}

/// The PIN's digit values (0-9).
fn pin_values(pin: &Pin) -> Zeroizing<[u8; 12]> {
    let mut v = Zeroizing::new([0u8; 12]);
    for (o, d) in v.iter_mut().zip(pin.digits()) {
        *o = d - b'0';
    }
    v
}

/// The IBM 3624 natural PIN of `len` digits (an offset of zeros).
///
/// Errors (`key`): an AES cipher.
pub fn ibm3624_natural_pin(
    pvk: &BlockCipher,
    p: &Ibm3624Params<'_>,
    len: PinLength,
) -> AlgoResult<Pin> {
    let natural = ibm3624_intermediate(pvk, p)?;
    pin_from_values(natural.get(..len.get()).unwrap_or(&[]))
}

/// The IBM 3624 offset of `pin` with `check_len` digits (4 up to the PIN's
/// length; the whole PIN when `None`): the rightmost `check_len` digits of
/// `pin - natural PIN` (digit-wise, modulo 10).
///
/// Errors: `key` (an AES cipher), `pin offset` (a check length over the
/// PIN's length).
pub fn ibm3624_offset(
    pvk: &BlockCipher,
    p: &Ibm3624Params<'_>,
    pin: &Pin,
    check_len: Option<PinLength>,
) -> AlgoResult<PinOffset> {
    let n = pin.digits().len();
    let m = check_len.map_or(n, PinLength::get);
    if m > n {
        return Err(AlgoError::new(
            "pin offset",
            "the PIN check length exceeds the PIN length",
        ));
    }
    let natural = ibm3624_intermediate(pvk, p)?;
    let digits = pin_values(pin);
    let mut off = Zeroizing::new([0u8; 12]);
    for (i, o) in off.iter_mut().enumerate().take(m) {
        let j = n - m + i;
        let (c, a) = (
            digits.get(j).copied().unwrap_or(0),
            natural.get(j).copied().unwrap_or(0),
        );
        *o = (c + 10 - a) % 10;
    }
    PinOffset::from_values(off.get(..m).unwrap_or(&[]))
}

/// The PIN an IBM 3624 offset gives: the natural PIN of `len` digits (the
/// offset's length when `None`) with the offset added (digit-wise, modulo
/// 10) to its rightmost digits.
///
/// Errors: `key` (an AES cipher), `pin length` (shorter than the offset).
pub fn ibm3624_pin_from_offset(
    pvk: &BlockCipher,
    p: &Ibm3624Params<'_>,
    offset: &PinOffset,
    len: Option<PinLength>,
) -> AlgoResult<Pin> {
    let m = offset.len();
    let n = len.map_or(m, PinLength::get);
    if n < m {
        return Err(AlgoError::new(
            "pin length",
            "shorter than the PIN offset (the PIN check length)",
        ));
    }
    let natural = ibm3624_intermediate(pvk, p)?;
    let mut pin = Zeroizing::new([0u8; 12]);
    for (i, d) in pin.iter_mut().enumerate().take(n) {
        let a = natural.get(i).copied().unwrap_or(0);
        let o = if i >= n - m {
            offset.values().get(i - (n - m)).copied().unwrap_or(0)
        } else {
            0
        };
        *d = (a + o) % 10;
    }
    pin_from_values(pin.get(..n).unwrap_or(&[]))
}

/// Verifies `pin` against an IBM 3624 offset: the rightmost `m` digits
/// (`m` = the offset's length) of `natural PIN + offset` must equal the
/// rightmost `m` digits of the PIN, compared in constant time. A PIN shorter
/// than the offset does not verify.
///
/// Errors (`key`): an AES cipher.
pub fn ibm3624_verify(
    pvk: &BlockCipher,
    p: &Ibm3624Params<'_>,
    pin: &Pin,
    offset: &PinOffset,
) -> AlgoResult<bool> {
    let natural = ibm3624_intermediate(pvk, p)?;
    let (n, m) = (pin.digits().len(), offset.len());
    if n < m {
        return Ok(false);
    }
    let digits = pin_values(pin);
    let mut want = Zeroizing::new([0u8; 12]);
    let mut have = Zeroizing::new([0u8; 12]);
    for i in 0..m {
        let j = n - m + i;
        if let (Some(w), Some(h)) = (want.get_mut(i), have.get_mut(i)) {
            *w = (natural.get(j).copied().unwrap_or(0)
                + offset.values().get(i).copied().unwrap_or(0))
                % 10;
            *h = digits.get(j).copied().unwrap_or(0);
        }
    }
    Ok(want.ct_eq(&*have).into())
}

/// The Visa transformed security parameter as 16 nibbles: the 11 rightmost
/// PAN digits excluding the check digit, the PVKI, the 4 leftmost PIN
/// digits. The PAN has at least 12 digits ([`Pan`] guarantees it).
pub fn visa_tsp(pan: &Pan, pvki: Pvki, pin: &Pin) -> Zeroizing<[u8; 16]> {
    let mut t = Zeroizing::new([0u8; 16]);
    let p = pan.expose().as_bytes();
    let body = p.split_last().map(|(_, rest)| rest).unwrap_or(&[]);
    let start = body.len().saturating_sub(11);
    for (slot, d) in t.iter_mut().zip(body.iter().skip(start)) {
        *slot = d.wrapping_sub(b'0') & 0x0F;
    }
    if let Some(s) = t.get_mut(11) {
        *s = pvki.get();
    }
    for (slot, d) in t.iter_mut().skip(12).zip(pin.digits()) {
        *slot = d - b'0';
    }
    t
}

/// The Visa PVV of `pin` for `pan` under PVK `pvk` with index `pvki`.
///
/// Errors (`key`): an AES cipher.
pub fn visa_pvv(pvk: &BlockCipher, pan: &Pan, pvki: Pvki, pin: &Pin) -> AlgoResult<Pvv> {
    des_family(pvk, "the Visa PVV")?;
    let mut block = pack(&visa_tsp(pan, pvki, pin));
    pvk.encrypt8(&mut block)?;
    let nibbles = || block.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let decimal = nibbles().filter(|n| *n < 10);
    let letters = nibbles().filter(|n| *n >= 10).map(|n| n - 10);
    let mut out = Zeroizing::new([0u8; 4]);
    for (o, n) in out.iter_mut().zip(decimal.chain(letters)) {
        *o = n;
    }
    Pvv::from_values(*out)
}

/// Verifies `pin` against a PVV (constant-time comparison).
///
/// Errors (`key`): an AES cipher.
pub fn visa_pvv_verify(
    pvk: &BlockCipher,
    pan: &Pan,
    pvki: Pvki,
    pin: &Pin,
    pvv: &Pvv,
) -> AlgoResult<bool> {
    Ok(visa_pvv(pvk, pan, pvki, pin)?.ct_eq(pvv).into())
}

/// A uniformly random PIN of `len` digits from `rng` (a cryptographically
/// secure generator, for example `rand::rng()`), by rejection sampling.
///
/// Errors (`rng`): a generator so degenerate that it yields no usable byte.
pub fn random_pin<R: RngCore + ?Sized>(len: PinLength, rng: &mut R) -> AlgoResult<Pin> {
    let n = len.get();
    let mut digits = Zeroizing::new([0u8; 12]);
    let mut buf = Zeroizing::new([0u8; 32]);
    let mut have = 0;
    for _ in 0..8 {
        rng.fill_bytes(&mut *buf);
        // 250 = 25 * 10: bytes below it are uniform modulo 10.
        for b in buf.iter().filter(|b| **b < 250) {
            if have < n {
                if let Some(slot) = digits.get_mut(have) {
                    *slot = b % 10;
                    have += 1;
                }
            }
        }
        if have >= n {
            return pin_from_values(digits.get(..n).unwrap_or(&[]));
        }
    }
    Err(AlgoError::new(
        "rng",
        "random source did not yield enough usable bytes",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tdes(h: &str) -> BlockCipher {
        BlockCipher::tdes(&hex::decode(h).unwrap()).unwrap()
    }

    const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";

    #[test]
    fn ibm3624_round_trips_and_check_length() {
        let k = tdes(PVK);
        let t = DecimalizationTable::new("1234567890123456").unwrap();
        let v = PinValidationData::new("1122334455667788").unwrap();
        let p = Ibm3624Params {
            table: &t,
            validation_data: &v,
            pad: PadCharacter::F,
        };
        // psec test_generate_ibm3624_pin: natural PIN 4524.
        let natural = ibm3624_natural_pin(&k, &p, PinLength::FOUR).unwrap();
        assert_eq!(natural.as_str(), "4524");
        let pin = Pin::new("123456").unwrap();
        let off = ibm3624_offset(&k, &p, &pin, None).unwrap();
        assert_eq!(off.len(), 6);
        assert!(ibm3624_verify(&k, &p, &pin, &off).unwrap());
        assert_eq!(ibm3624_pin_from_offset(&k, &p, &off, None).unwrap(), pin);
        // A 4-digit check length covers the rightmost 4 digits only.
        let off4 = ibm3624_offset(&k, &p, &pin, Some(PinLength::FOUR)).unwrap();
        assert_eq!(off4.len(), 4);
        assert!(ibm3624_verify(&k, &p, &pin, &off4).unwrap());
        let other_head = Pin::new("993456").unwrap();
        assert!(ibm3624_verify(&k, &p, &other_head, &off4).unwrap());
        let other_tail = Pin::new("123457").unwrap();
        assert!(!ibm3624_verify(&k, &p, &other_tail, &off4).unwrap());
        // A PIN shorter than the offset never verifies.
        assert!(!ibm3624_verify(&k, &p, &Pin::new("1234").unwrap(), &off).unwrap());
        assert_eq!(
            ibm3624_offset(&k, &p, &Pin::new("1234").unwrap(), PinLength::new(5).ok())
                .unwrap_err()
                .field,
            "pin offset"
        );
        assert_eq!(
            ibm3624_pin_from_offset(&k, &p, &off, Some(PinLength::FOUR))
                .unwrap_err()
                .field,
            "pin length"
        );
        let aes = BlockCipher::aes(&[0u8; 16]).unwrap();
        assert_eq!(
            ibm3624_natural_pin(&aes, &p, PinLength::FOUR)
                .unwrap_err()
                .field,
            "key"
        );
    }

    #[test]
    fn pvv_tsp_layout_and_verify() {
        let pan = Pan::new("1122334455667788").unwrap();
        let pin = Pin::new("4524").unwrap();
        let pvki = Pvki::new(1).unwrap();
        let tsp: String = visa_tsp(&pan, pvki, &pin)
            .iter()
            .map(|n| char::from_digit(u32::from(*n), 16).unwrap())
            .collect();
        assert_eq!(tsp, "3344556677814524");
        let k = tdes(PVK);
        let pvv = visa_pvv(&k, &pan, pvki, &pin).unwrap();
        assert_eq!(pvv.expose(), "8523");
        assert!(visa_pvv_verify(&k, &pan, pvki, &pin, &pvv).unwrap());
        assert!(!visa_pvv_verify(&k, &pan, pvki, &Pin::new("4525").unwrap(), &pvv).unwrap());
        // Only the 4 leftmost PIN digits enter the TSP.
        assert!(visa_pvv_verify(&k, &pan, pvki, &Pin::new("452499").unwrap(), &pvv).unwrap());
        let aes = BlockCipher::aes(&[0u8; 16]).unwrap();
        assert_eq!(visa_pvv(&aes, &pan, pvki, &pin).unwrap_err().field, "key");
    }

    #[test]
    fn random_pins_have_the_length_and_use_every_digit() {
        let mut seen = [false; 10];
        for n in 4..=12u8 {
            let p = random_pin(PinLength::new(n).unwrap(), &mut rand::rng()).unwrap();
            assert_eq!(p.digits().len(), usize::from(n));
            for d in p.digits() {
                seen[usize::from(d - b'0')] = true;
            }
        }
        for _ in 0..50 {
            for d in random_pin(PinLength::FOUR, &mut rand::rng())
                .unwrap()
                .digits()
            {
                seen[usize::from(d - b'0')] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }
}

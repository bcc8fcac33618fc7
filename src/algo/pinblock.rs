//! ISO 9564-1 PIN blocks: formats 0, 1, 2 and 3 (8-byte, enciphered under a
//! DES-family key) and format 4 (16-byte, enciphered under AES).
//!
//! Layouts (one character per nibble; `C` control, `L` PIN length 4-C hex,
//! `P` PIN digit, `F` fill 0xF, `R` random fill):
//!
//! | format | clear PIN block                                    | PAN   |
//! |--------|----------------------------------------------------|-------|
//! | 0      | `0LPPPPpppppppp` + fill `F`, XOR `0000` + 12 PAN digits | yes |
//! | 1      | `1LPPPPpppppppp` + transaction-unique fill (any nibble) | no  |
//! | 2      | `2LPPPPpppppppp` + fill `F` (ICC offline PIN only)  | no    |
//! | 3      | `3LPPPPpppppppp` + random fill `A`-`F`, XOR `0000` + 12 PAN digits | yes |
//! | 4      | PIN field `4LPPPPpppppppp` + fill `A` + 8 random bytes; PAN field `M` + PAN + zeros | yes |
//!
//! For formats 0 and 3 the PAN digits are the 12 rightmost digits excluding
//! the check digit. For format 4 (ISO 9564-1:2017, ANSI X9.24-3 supplement)
//! the "clear PIN block" handled by [`encode_pin_block`] / [`decode_pin_block`]
//! is the plain PIN field; the PAN enters at encipherment:
//! `E(E(pin field) XOR pan field)`.
//!
//! Everything here is a pure function; clear PINs and clear PIN blocks come
//! back in types that zeroize on drop and print `***`.

use super::cipher::{xor_into, BlockCipher};
use super::{AlgoError, AlgoResult};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use crate::types::pin::{
    EncryptedPinBlock, Pin, PinBlockFormat, PAN_MAX_LEN, PAN_MIN_LEN, PIN_MAX_LEN, PIN_MIN_LEN,
};

/// A clear (unenciphered) PIN block: 8 bytes for formats 0-3 (after the PAN
/// XOR, for 0 and 3), or the 16-byte plain PIN field for format 4.
///
/// Zeroized on drop; `Debug` prints `***`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ClearPinBlock {
    bytes: [u8; 16],
    len: u8,
}

impl ClearPinBlock {
    fn from_slice(b: &[u8]) -> Self {
        let mut bytes = [0u8; 16];
        for (o, i) in bytes.iter_mut().zip(b) {
            *o = *i;
        }
        Self {
            bytes,
            len: b.len().min(16) as u8,
        }
    }

    /// The block's bytes (8 or 16).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for ClearPinBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

// ---------------------------------------------------------------------------
// Nibble helpers

/// Splits bytes into nibbles (high first); `out` must be twice as long as `bytes`.
fn unpack(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = b >> 4;
            *lo = b & 0x0F;
        }
    }
}

/// Joins nibbles (high first) into bytes.
fn pack(nibbles: &[u8], out: &mut [u8]) {
    for (b, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *b = (hi << 4) | (lo & 0x0F);
        }
    }
}

/// The 8-byte PIN field `C L PIN... fill...`, fill nibble `i` taken from `fill[i]`.
fn pin_field(control: u8, pin: &Pin, fill: &[u8; 16]) -> Zeroizing<[u8; 8]> {
    let digits = pin.digits();
    let mut n = Zeroizing::new([0u8; 16]);
    n[0] = control;
    n[1] = digits.len() as u8;
    for (slot, d) in n.iter_mut().skip(2).zip(digits) {
        *slot = d & 0x0F;
    }
    for (slot, f) in n.iter_mut().zip(fill).skip(2 + digits.len()) {
        *slot = f & 0x0F;
    }
    let mut out = Zeroizing::new([0u8; 8]);
    pack(&*n, &mut *out);
    out
}

// ---------------------------------------------------------------------------
// PAN fields

/// Validates a PAN: ASCII digits only, 12 to 19 of them.
fn pan_digits(pan: &str) -> AlgoResult<&[u8]> {
    let b = pan.as_bytes();
    if let Some(pos) = b.iter().position(|c| !c.is_ascii_digit()) {
        return Err(AlgoError::new(
            "pan",
            format!("character at position {pos} is not a decimal digit"),
        ));
    }
    if !(PAN_MIN_LEN..=PAN_MAX_LEN).contains(&b.len()) {
        return Err(AlgoError::new(
            "pan",
            format!(
                "length {} digits, expected {PAN_MIN_LEN} to {PAN_MAX_LEN}",
                b.len()
            ),
        ));
    }
    Ok(b)
}

fn require_pan(pan: Option<&str>, format: PinBlockFormat) -> AlgoResult<&str> {
    pan.ok_or_else(|| {
        AlgoError::new(
            "pan",
            format!("required for PIN block format {}", format.code()),
        )
    })
}

/// The 8-byte PAN field of formats 0 and 3: `0000` followed by the 12
/// rightmost PAN digits excluding the check digit (left-padded with zeros if
/// fewer than 12 remain).
///
/// Errors (`pan`): not 12 to 19 ASCII decimal digits.
pub fn pan_field_iso0(pan: &str) -> AlgoResult<[u8; 8]> {
    let d = pan_digits(pan)?;
    let body = d.split_last().map(|(_, rest)| rest).unwrap_or(&[]);
    let body = body.get(body.len().saturating_sub(12)..).unwrap_or(&[]);
    // At most 12 digits = 48 bits: the top four nibbles stay 0.
    let field = body
        .iter()
        .fold(0u64, |acc, dig| (acc << 4) | u64::from(dig & 0x0F));
    Ok(field.to_be_bytes())
}

/// The 16-byte plain PAN field of format 4 (ISO 9564-1:2017): nibble `M` =
/// PAN length - 12, then the PAN left-justified, zero padded to 32 nibbles.
///
/// Errors (`pan`): not 12 to 19 ASCII decimal digits.
pub fn pan_field_iso4(pan: &str) -> AlgoResult<[u8; 16]> {
    Ok(iso4_pan_field_from_digits(pan_digits(pan)?))
}

/// Format 4 PAN field from at most 19 ASCII digits. A PAN shorter than 12
/// digits gets `M = 0` and is right-justified in the 12-digit field with
/// zeros on the left (ISO 9564-1:2017); [`pan_field_iso4`] refuses such PANs
/// before reaching here, but the rule is kept complete.
fn iso4_pan_field_from_digits(d: &[u8]) -> [u8; 16] {
    let mut n = [0u8; 32];
    if d.len() >= PAN_MIN_LEN {
        n[0] = (d.len() - PAN_MIN_LEN).min(0x0F) as u8;
        for (slot, dig) in n.iter_mut().skip(1).zip(d) {
            *slot = dig & 0x0F;
        }
    } else {
        for (slot, dig) in n.iter_mut().take(1 + PAN_MIN_LEN).rev().zip(d.iter().rev()) {
            *slot = dig & 0x0F;
        }
    }
    let mut out = [0u8; 16];
    pack(&n, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Clear PIN block encode / decode

/// Encodes a clear PIN block with explicit fill (deterministic; for tests and
/// for callers that draw their own randomness).
///
/// `fill` is used by:
/// - format 1: fill nibble at block position `i` is nibble `i` of `fill`;
/// - format 3: the same, and every used fill nibble must be `A`-`F`;
/// - format 4: `fill` is the 8 random bytes of the PIN field's right half.
///
/// Formats 0 and 2 ignore it (their fill is `F`). `pan` is required for
/// formats 0 and 3 and ignored otherwise (format 4 binds the PAN at
/// encipherment). For format 4 the result is the 16-byte plain PIN field.
///
/// Errors: `pan` (missing or invalid for formats 0/3), `fill` (a format 3
/// fill nibble outside `A`-`F`).
pub fn encode_pin_block_with_fill(
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&str>,
    fill: &[u8; 8],
) -> AlgoResult<ClearPinBlock> {
    const F_FILL: [u8; 16] = [0x0F; 16];
    let mut fill_n = Zeroizing::new([0u8; 16]);
    unpack(fill, &mut *fill_n);
    let first_fill = 2 + pin.digits().len();
    match format {
        PinBlockFormat::Iso0 => {
            let pf = pan_field_iso0(require_pan(pan, format)?)?;
            let mut b = pin_field(0, pin, &F_FILL);
            xor_into(&mut *b, &pf);
            Ok(ClearPinBlock::from_slice(&*b))
        }
        PinBlockFormat::Iso1 => Ok(ClearPinBlock::from_slice(&*pin_field(1, pin, &fill_n))),
        PinBlockFormat::Iso2 => Ok(ClearPinBlock::from_slice(&*pin_field(2, pin, &F_FILL))),
        PinBlockFormat::Iso3 => {
            let pf = pan_field_iso0(require_pan(pan, format)?)?;
            if let Some(pos) = fill_n
                .iter()
                .enumerate()
                .skip(first_fill)
                .position(|(_, n)| *n < 0x0A)
            {
                return Err(AlgoError::new(
                    "fill",
                    format!(
                        "format 3 fill nibble at block position {} is not in A-F",
                        first_fill + pos
                    ),
                ));
            }
            let mut b = pin_field(3, pin, &fill_n);
            xor_into(&mut *b, &pf);
            Ok(ClearPinBlock::from_slice(&*b))
        }
        PinBlockFormat::Iso4 => {
            let left = pin_field(4, pin, &[0x0A; 16]);
            let mut b = Zeroizing::new([0u8; 16]);
            for (o, i) in b.iter_mut().zip(left.iter().chain(fill.iter())) {
                *o = *i;
            }
            Ok(ClearPinBlock::from_slice(&*b))
        }
    }
}

/// Draws the fill for `format` from `rng` in the layout
/// [`encode_pin_block_with_fill`] expects.
fn random_fill<R: RngCore + ?Sized>(
    format: PinBlockFormat,
    rng: &mut R,
) -> AlgoResult<Zeroizing<[u8; 8]>> {
    let mut fill = Zeroizing::new([0u8; 8]);
    match format {
        PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => {}
        PinBlockFormat::Iso1 | PinBlockFormat::Iso4 => rng.fill_bytes(&mut *fill),
        PinBlockFormat::Iso3 => {
            // Uniform nibbles in A-F by rejection: bytes below 252 (= 6 * 42) mod 6.
            let mut n = Zeroizing::new([0u8; 16]);
            let mut buf = Zeroizing::new([0u8; 32]);
            let mut have = 0usize;
            for _ in 0..4 {
                rng.fill_bytes(&mut *buf);
                for b in buf.iter().filter(|b| **b < 252) {
                    if let Some(slot) = n.get_mut(have) {
                        *slot = 0x0A + b % 6;
                        have += 1;
                    }
                }
                if have >= n.len() {
                    break;
                }
            }
            if have < n.len() {
                return Err(AlgoError::new(
                    "rng",
                    "random source did not yield enough usable fill",
                ));
            }
            pack(&*n, &mut *fill);
        }
    }
    Ok(fill)
}

/// Encodes a clear PIN block, drawing the fill of formats 1, 3 and 4 from
/// `rng` (which must be a cryptographically secure generator, for example
/// `rand::rng()`).
///
/// `pan` is required for formats 0 and 3 and ignored otherwise. For format 4
/// the result is the 16-byte plain PIN field.
///
/// Errors: `pan` (missing or invalid for formats 0/3), `rng` (a generator so
/// degenerate that no `A`-`F` fill could be drawn for format 3).
pub fn encode_pin_block<R: RngCore + ?Sized>(
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&str>,
    rng: &mut R,
) -> AlgoResult<ClearPinBlock> {
    let fill = random_fill(format, rng)?;
    encode_pin_block_with_fill(format, pin, pan, &fill)
}

/// Decodes a clear PIN block (for format 4: the 16-byte plain PIN field) and
/// checks every nibble rule: control field, PIN length 4-12, PIN digits 0-9,
/// fill `F` (formats 0 and 2), `A`-`F` (format 3), `A` (format 4 PIN field;
/// its random half is not checked), any (format 1).
///
/// `pan` is required for formats 0 and 3 and ignored otherwise.
///
/// Errors: `pin block` (wrong length), `pan` (missing or invalid),
/// `pin block control field`, `pin block PIN length field`,
/// `pin block PIN digit`, `pin block fill`. Messages give nibble positions,
/// never values.
pub fn decode_pin_block(
    format: PinBlockFormat,
    block: &[u8],
    pan: Option<&str>,
) -> AlgoResult<Pin> {
    check_block_len("pin block", format, block)?;
    // The first 8 bytes (for format 4, the PIN field's left half) as one
    // 64-bit word, nibble 0 in the top four bits.
    let mut first = Zeroizing::new([0u8; 8]);
    for (o, i) in first.iter_mut().zip(block) {
        *o = *i;
    }
    let mut word = Zeroizing::new(u64::from_be_bytes(*first));
    if matches!(format, PinBlockFormat::Iso0 | PinBlockFormat::Iso3) {
        let pf = pan_field_iso0(require_pan(pan, format)?)?;
        *word ^= u64::from_be_bytes(pf);
    }
    let nibble = |i: usize| ((*word >> (60 - 4 * i)) & 0x0F) as u8;

    if nibble(0) != format.code() {
        return Err(AlgoError::new(
            "pin block control field",
            format!("does not match PIN block format {}", format.code()),
        ));
    }
    let len = usize::from(nibble(1));
    if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len) {
        return Err(AlgoError::new(
            "pin block PIN length field",
            format!("out of range {PIN_MIN_LEN} to {PIN_MAX_LEN}"),
        ));
    }
    let mut digits = Zeroizing::new([0u8; PIN_MAX_LEN]);
    for (i, d) in digits.iter_mut().take(len).enumerate() {
        let nib = nibble(2 + i);
        if nib > 9 {
            return Err(AlgoError::new(
                "pin block PIN digit",
                format!("nibble at position {} is not a decimal digit", i + 2),
            ));
        }
        *d = b'0' + nib;
    }
    let fill_ok = |x: u8| match format {
        PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => x == 0x0F,
        PinBlockFormat::Iso1 => true,
        PinBlockFormat::Iso3 => x >= 0x0A,
        PinBlockFormat::Iso4 => x == 0x0A,
    };
    if let Some(pos) = (2 + len..16).find(|&pos| !fill_ok(nibble(pos))) {
        let expected = match format {
            PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => "F",
            PinBlockFormat::Iso1 => "any",
            PinBlockFormat::Iso3 => "in A-F",
            PinBlockFormat::Iso4 => "A",
        };
        return Err(AlgoError::new(
            "pin block fill",
            format!("nibble at position {pos} is not {expected}"),
        ));
    }
    // Every digit was checked above; unused slots are zero.
    Ok(Pin::from_checked_digits(&digits, len))
}

fn check_block_len(field: &'static str, format: PinBlockFormat, block: &[u8]) -> AlgoResult<()> {
    if block.len() != format.block_len() {
        return Err(AlgoError::new(
            field,
            format!(
                "length {} bytes, expected {} for PIN block format {}",
                block.len(),
                format.block_len(),
                format.code()
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Encipherment

/// Refuses a format/cipher mismatch: format 4 needs AES, formats 0-3 a
/// DES-family (8-byte block) cipher.
fn check_cipher(cipher: &BlockCipher, format: PinBlockFormat) -> AlgoResult<()> {
    match (format, cipher.is_aes()) {
        (PinBlockFormat::Iso4, true) => Ok(()),
        (PinBlockFormat::Iso4, false) => {
            Err(AlgoError::new("key", "PIN block format 4 needs an AES key"))
        }
        (_, true) => Err(AlgoError::new(
            "key",
            format!("PIN block format {} needs a DES-family key", format.code()),
        )),
        (_, false) => Ok(()),
    }
}

/// Enciphers a clear PIN block.
///
/// Formats 0-3: one (T)DES block encryption of the 8-byte clear block (`pan`
/// ignored). Format 4: `clear` is the plain PIN field and the result is
/// `E(E(pin field) XOR pan field)` under AES (`pan` required).
///
/// Errors: `key` (format/cipher mismatch), `pin block` (wrong length),
/// `pan` (missing or invalid for format 4).
pub fn encipher_pin_block(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    clear: &[u8],
    pan: Option<&str>,
) -> AlgoResult<EncryptedPinBlock> {
    check_cipher(cipher, format)?;
    check_block_len("pin block", format, clear)?;
    let mut b = Zeroizing::new([0u8; 16]);
    for (o, i) in b.iter_mut().zip(clear) {
        *o = *i;
    }
    let n = format.block_len();
    let block = b.get_mut(..n).unwrap_or(&mut []);
    if format == PinBlockFormat::Iso4 {
        let pf = pan_field_iso4(require_pan(pan, format)?)?;
        cipher.encrypt_ecb(block)?;
        xor_into(block, &pf);
        cipher.encrypt_ecb(block)?;
    } else {
        cipher.encrypt_ecb(block)?;
    }
    EncryptedPinBlock::from_bytes(block)
}

/// Deciphers a PIN block back to the clear PIN block (for format 4: the plain
/// PIN field, `D(D(block) XOR pan field)`). Does not validate the result; see
/// [`decode_pin_block`].
///
/// Errors: `key` (format/cipher mismatch), `pin block` (wrong length),
/// `pan` (missing or invalid for format 4).
pub fn decipher_pin_block(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    block: &[u8],
    pan: Option<&str>,
) -> AlgoResult<ClearPinBlock> {
    check_cipher(cipher, format)?;
    check_block_len("pin block", format, block)?;
    let mut b = Zeroizing::new([0u8; 16]);
    for (o, i) in b.iter_mut().zip(block) {
        *o = *i;
    }
    let n = format.block_len();
    let clear = b.get_mut(..n).unwrap_or(&mut []);
    if format == PinBlockFormat::Iso4 {
        let pf = pan_field_iso4(require_pan(pan, format)?)?;
        cipher.decrypt_ecb(clear)?;
        xor_into(clear, &pf);
        cipher.decrypt_ecb(clear)?;
    } else {
        cipher.decrypt_ecb(clear)?;
    }
    Ok(ClearPinBlock::from_slice(clear))
}

/// Encodes `pin` in `format` (random fill from `rng`) and enciphers it under
/// `cipher`: format 4 needs an AES cipher, formats 0-3 a DES-family one.
/// `pan` is required for formats 0, 3 and 4 and ignored for 1 and 2.
///
/// Errors: `key` (format/cipher mismatch), `pan`, `rng` (see
/// [`encode_pin_block`]).
pub fn encrypt_pin_block<R: RngCore + ?Sized>(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&str>,
    rng: &mut R,
) -> AlgoResult<EncryptedPinBlock> {
    check_cipher(cipher, format)?;
    let clear = encode_pin_block(format, pin, pan, rng)?;
    encipher_pin_block(cipher, format, clear.as_bytes(), pan)
}

/// Deciphers an enciphered PIN block and decodes the PIN, checking every
/// nibble rule of `format`. `pan` is required for formats 0, 3 and 4.
///
/// Errors: `key` (format/cipher mismatch), `pin block` (wrong length),
/// `pan`, and the decode errors of [`decode_pin_block`] (wrong key or PAN
/// usually shows up as one of those).
pub fn decrypt_pin_block(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    block: &[u8],
    pan: Option<&str>,
) -> AlgoResult<Pin> {
    let clear = decipher_pin_block(cipher, format, block, pan)?;
    decode_pin_block(format, clear.as_bytes(), pan)
}

// ---------------------------------------------------------------------------
// PCI PIN translation rules

/// Checks a PIN block format translation against the PCI PIN Security
/// Requirements (3-3): translation into format 1 from formats 0, 3 or 4 is
/// refused, and so is any translation into format 2 (ICC offline PIN only,
/// including 2 to 2). Every other pair, including same-format re-encipherment,
/// is allowed.
///
/// Errors (`format translation`): the translation is not permitted.
pub fn check_translation(from: PinBlockFormat, to: PinBlockFormat) -> AlgoResult<()> {
    use PinBlockFormat::*;
    match (from, to) {
        (_, Iso2) => Err(AlgoError::new(
            "format translation",
            format!(
                "format {} to 2 not permitted: format 2 is for ICC offline PIN only",
                from.code()
            ),
        )),
        (Iso0 | Iso3 | Iso4, Iso1) => Err(AlgoError::new(
            "format translation",
            format!(
                "format {} to 1 not permitted: it would drop the PAN binding",
                from.code()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PinBlockFormat::*;

    fn pin(s: &str) -> Pin {
        Pin::new(s).unwrap()
    }

    /// A deterministic "random" source that always yields `byte`.
    struct Const(u8);
    impl RngCore for Const {
        fn next_u32(&mut self) -> u32 {
            u32::from_ne_bytes([self.0; 4])
        }
        fn next_u64(&mut self) -> u64 {
            u64::from_ne_bytes([self.0; 8])
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            dst.fill(self.0);
        }
    }

    const PAN: &str = "5555555551234567";

    #[test]
    fn pin_validation() {
        for bad in ["", "123", "1234567890123", "12a4", "12 34", "１２３４"] {
            let e = Pin::new(bad).unwrap_err();
            assert_eq!(e.field, "pin", "{bad:?}");
        }
        assert!(
            Pin::from_digits(&[1, 2, 3, 4]).is_err(),
            "digit values, not ASCII"
        );
        let p = pin("0123456789");
        assert_eq!(p.digits(), b"0123456789");
        assert_eq!(p.as_str(), "0123456789");
        assert_eq!(format!("{p:?}"), "***");
        assert_eq!(p, Pin::from_digits(b"0123456789").unwrap());
        assert_ne!(p, pin("012345678"));
        assert_ne!(pin("1234"), pin("1235"));
        assert_eq!(pin("123456789012").digits().len(), 12);
    }

    #[test]
    fn pan_validation_never_leaks_pan() {
        for bad in [
            "41111111111",
            "41111111111111111111",
            "4111-1111-1111",
            "411111111111111a",
        ] {
            for e in [
                pan_field_iso0(bad).unwrap_err(),
                pan_field_iso4(bad).unwrap_err(),
            ] {
                assert_eq!(e.field, "pan");
                assert!(!e.to_string().contains("4111111"), "{e}");
            }
        }
        // Every length: `0000` and the 12 digits left of the check digit,
        // zero-padded on the left (the field's hex, as a string).
        for n in 12..=19 {
            let pan: String = "9876543210123456789".chars().take(n).collect();
            let body = &pan[n.saturating_sub(13)..n - 1];
            let got: String = pan_field_iso0(&pan)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            assert_eq!(got, format!("{body:0>16}"), "{pan}");
        }
        // 12-digit PAN: 11 digits before the check digit, left-padded.
        assert_eq!(
            pan_field_iso0("123456789012").unwrap(),
            [0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01]
        );
        assert_eq!(
            pan_field_iso4("123456789012").unwrap()[..7],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x20]
        );
        // 19-digit PAN: M = 7.
        assert_eq!(pan_field_iso4("1234567890123456789").unwrap()[0], 0x71);
    }

    #[test]
    fn iso4_short_pan_rule() {
        // ISO 9564-1:2017: PAN under 12 digits -> M = 0, right-justified in 12 digits.
        let f = iso4_pan_field_from_digits(b"12345678");
        assert_eq!(hex::encode_upper(f), "00000123456780000000000000000000");
    }

    #[test]
    fn missing_pan_is_refused() {
        for f in [Iso0, Iso3] {
            assert_eq!(
                encode_pin_block_with_fill(f, &pin("1234"), None, &[0xFF; 8])
                    .unwrap_err()
                    .field,
                "pan"
            );
            assert_eq!(
                decode_pin_block(f, &[0u8; 8], None).unwrap_err().field,
                "pan"
            );
        }
        let aes = BlockCipher::aes(&[1u8; 16]).unwrap();
        assert_eq!(
            encipher_pin_block(&aes, Iso4, &[0u8; 16], None)
                .unwrap_err()
                .field,
            "pan"
        );
        assert_eq!(
            decipher_pin_block(&aes, Iso4, &[0u8; 16], None)
                .unwrap_err()
                .field,
            "pan"
        );
        // Formats 1 and 2 do not need one.
        assert!(encode_pin_block_with_fill(Iso2, &pin("1234"), None, &[0; 8]).is_ok());
    }

    fn decode_err(f: PinBlockFormat, hexblock: &str, pan: Option<&str>) -> AlgoError {
        decode_pin_block(f, &hex::decode(hexblock).unwrap(), pan).unwrap_err()
    }

    #[test]
    fn decode_names_each_field() {
        // Block length.
        assert_eq!(decode_err(Iso2, "241234FFFFFF", None).field, "pin block");
        assert_eq!(
            decode_err(Iso4, "241234FFFFFFFFFF", None).field,
            "pin block"
        );
        // Control field.
        assert_eq!(
            decode_err(Iso2, "141234FFFFFFFFFF", None).field,
            "pin block control field"
        );
        assert_eq!(
            decode_err(Iso1, "241234FFFFFFFFFF", None).field,
            "pin block control field"
        );
        // PIN length out of range.
        assert_eq!(
            decode_err(Iso2, "23123FFFFFFFFFFF", None).field,
            "pin block PIN length field"
        );
        assert_eq!(
            decode_err(Iso2, "2D1234567890123F", None).field,
            "pin block PIN length field"
        );
        // PIN digit.
        let e = decode_err(Iso2, "24123AFFFFFFFFFF", None);
        assert_eq!(e.field, "pin block PIN digit");
        assert!(e.reason.contains("position 5"), "{e}");
        // Fill rules.
        let e = decode_err(Iso2, "241234FFFFFFFFFE", None);
        assert_eq!(
            (e.field, e.reason.contains("position 15")),
            ("pin block fill", true),
            "{e}"
        );
        assert_eq!(
            decode_err(Iso4, "441234AAAAAAAAAB0000000000000000", None).field,
            "pin block fill"
        );
        assert_eq!(
            decode_err(Iso4, "441234AAAAAAAAFA0000000000000000", None).field,
            "pin block fill"
        );
        // Format 0 with a wrong fill (plain 041234FFFFFFFFF0 XOR PAN field).
        let mut b = encode_pin_block_with_fill(Iso0, &pin("1234"), Some(PAN), &[0; 8])
            .unwrap()
            .as_bytes()
            .to_vec();
        b[7] ^= 0x0F;
        assert_eq!(
            decode_pin_block(Iso0, &b, Some(PAN)).unwrap_err().field,
            "pin block fill"
        );
        // Format 3 fill below A: plain 341234FFFFFFFF9F.
        let pf = pan_field_iso0(PAN).unwrap();
        let mut plain = hex::decode("341234FFFFFFFF9F").unwrap();
        xor_into(&mut plain, &pf);
        assert_eq!(
            decode_pin_block(Iso3, &plain, Some(PAN)).unwrap_err().field,
            "pin block fill"
        );
        // Format 1 accepts any fill.
        assert_eq!(
            decode_pin_block(Iso1, &hex::decode("14123401234567FF").unwrap(), None)
                .unwrap()
                .as_str(),
            "1234"
        );
        // Format 4: the random half is not checked.
        assert_eq!(
            decode_pin_block(
                Iso4,
                &hex::decode("441234AAAAAAAAAA0123456789ABCDEF").unwrap(),
                None
            )
            .unwrap()
            .as_str(),
            "1234"
        );
    }

    /// `decode_pin_block` as it was written on a nibble array (before it
    /// worked on one 64-bit word): the reference for the test below.
    fn decode_reference(
        format: PinBlockFormat,
        block: &[u8],
        pan: Option<&str>,
    ) -> AlgoResult<Pin> {
        check_block_len("pin block", format, block)?;
        let mut first = [0u8; 8];
        for (o, i) in first.iter_mut().zip(block) {
            *o = *i;
        }
        if matches!(format, Iso0 | Iso3) {
            let pf = pan_field_iso0(require_pan(pan, format)?)?;
            xor_into(&mut first, &pf);
        }
        let mut n = [0u8; 16];
        unpack(&first, &mut n);
        if n[0] != format.code() {
            return Err(AlgoError::new(
                "pin block control field",
                format!("does not match PIN block format {}", format.code()),
            ));
        }
        let len = usize::from(n[1]);
        if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len) {
            return Err(AlgoError::new(
                "pin block PIN length field",
                format!("out of range {PIN_MIN_LEN} to {PIN_MAX_LEN}"),
            ));
        }
        let mut digits = [0u8; PIN_MAX_LEN];
        for (i, (d, nib)) in digits
            .iter_mut()
            .zip(n.iter().skip(2))
            .take(len)
            .enumerate()
        {
            if *nib > 9 {
                return Err(AlgoError::new(
                    "pin block PIN digit",
                    format!("nibble at position {} is not a decimal digit", i + 2),
                ));
            }
            *d = b'0' + nib;
        }
        let (fill_ok, expected): (fn(u8) -> bool, &str) = match format {
            Iso0 | Iso2 => (|x| x == 0x0F, "F"),
            Iso1 => (|_| true, "any"),
            Iso3 => (|x| x >= 0x0A, "in A-F"),
            Iso4 => (|x| x == 0x0A, "A"),
        };
        if let Some(pos) = n.iter().skip(2 + len).position(|x| !fill_ok(*x)) {
            return Err(AlgoError::new(
                "pin block fill",
                format!("nibble at position {} is not {expected}", 2 + len + pos),
            ));
        }
        Pin::from_digits(digits.get(..len).unwrap_or(&[]))
    }

    #[test]
    fn decode_matches_the_nibble_array_reference() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(9564);
        let pans = [
            None,
            Some("4111111111111111"),
            Some("123456789012"),
            Some("41x1"),
        ];
        let mut oks = 0;
        for _ in 0..100_000 {
            let format = PinBlockFormat::ALL[rng.random_range(0..5)];
            let pan = pans[rng.random_range(0..pans.len())];
            let mut block = [0u8; 16];
            rng.fill_bytes(&mut block);
            // Mostly a plausible control and length nibble, so that the digit
            // and fill rules are reached; sometimes a good digit/fill body.
            if rng.random_bool(0.8) {
                let len = rng.random_range(3..=13u8);
                block[0] = (format.code() << 4) | len;
                if rng.random_bool(0.5) {
                    let fill = match format {
                        Iso0 | Iso2 => 0x0F,
                        Iso3 => rng.random_range(0x0A..=0x0F),
                        Iso4 => 0x0A,
                        Iso1 => rng.random_range(0..16),
                    };
                    let mut n = [0u8; 16];
                    unpack(&block[..8], &mut n);
                    for (i, x) in n.iter_mut().enumerate().skip(2) {
                        if i < 2 + usize::from(len) {
                            *x = rng.random_range(0..=9);
                        } else {
                            *x = fill;
                        }
                    }
                    pack(&n, &mut block[..8]);
                }
                if matches!(format, Iso0 | Iso3) {
                    if let Some(Ok(pf)) = pan.map(pan_field_iso0) {
                        xor_into(&mut block[..8], &pf);
                    }
                }
            }
            let len = if rng.random_bool(0.95) {
                format.block_len()
            } else {
                rng.random_range(0..=16)
            };
            let b = &block[..len];
            match (
                decode_pin_block(format, b, pan),
                decode_reference(format, b, pan),
            ) {
                (Ok(x), Ok(y)) => {
                    assert_eq!(x, y);
                    oks += 1;
                }
                (Err(x), Err(y)) => assert_eq!((x.field, x.to_string()), (y.field, y.to_string())),
                (x, y) => panic!("{format:?} {b:02X?} {pan:?}: {x:?} vs {y:?}"),
            }
        }
        assert!(oks > 1000, "only {oks} blocks decoded");
    }

    #[test]
    fn decode_errors_do_not_leak_pin_digits() {
        let e = decode_err(Iso2, "2C98765432109F7F", None);
        assert_eq!(e.field, "pin block PIN digit");
        assert!(!e.to_string().contains("9876"), "{e}");
    }

    #[test]
    fn format3_explicit_fill_must_be_a_to_f() {
        let p = pin("1234");
        // Nibbles under the PIN (positions 0..6) are ignored; the fill ones are checked.
        let ok = [0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, 0xAB, 0xCD];
        assert!(encode_pin_block_with_fill(Iso3, &p, Some(PAN), &ok).is_ok());
        let bad = [0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, 0xAB, 0xC9];
        let e = encode_pin_block_with_fill(Iso3, &p, Some(PAN), &bad).unwrap_err();
        assert_eq!(e.field, "fill");
        assert!(e.reason.contains("position 15"), "{e}");
    }

    #[test]
    fn random_fill_rules() {
        let p = pin("1234");
        // A degenerate generator cannot produce format 3 fill: error, not a hang.
        assert_eq!(
            encode_pin_block(Iso3, &p, Some(PAN), &mut Const(0xFF))
                .unwrap_err()
                .field,
            "rng"
        );
        // Byte 0 maps to nibble A.
        let b = encode_pin_block(Iso3, &p, Some(PAN), &mut Const(0)).unwrap();
        // 341234AAAAAAAAAA XOR PAN field 0000555555123456.
        assert_eq!(hex::encode_upper(b.as_bytes()), "341261FFFFB89EFC");
        assert_eq!(decode_pin_block(Iso3, b.as_bytes(), Some(PAN)).unwrap(), p);
        // Format 1 and 4 take the generator's bytes as they are.
        let b = encode_pin_block(Iso1, &p, None, &mut Const(0x5A)).unwrap();
        assert_eq!(hex::encode_upper(b.as_bytes()), "1412345A5A5A5A5A");
        let b = encode_pin_block(Iso4, &p, None, &mut Const(0x5A)).unwrap();
        assert_eq!(
            hex::encode_upper(b.as_bytes()),
            "441234AAAAAAAAAA5A5A5A5A5A5A5A5A"
        );
        // Formats 0 and 2 ignore it.
        let b = encode_pin_block(Iso2, &p, None, &mut Const(0x00)).unwrap();
        assert_eq!(hex::encode_upper(b.as_bytes()), "241234FFFFFFFFFF");
        assert_eq!(format!("{b:?}"), "***");
    }

    #[test]
    fn cipher_format_mismatch_is_refused() {
        let tdes = BlockCipher::tdes(&[0x11u8; 16]).unwrap();
        let aes = BlockCipher::aes(&[0x22u8; 16]).unwrap();
        let p = pin("1234");
        let e = encrypt_pin_block(&tdes, Iso4, &p, Some(PAN), &mut Const(1)).unwrap_err();
        assert_eq!(e.field, "key");
        for f in [Iso0, Iso1, Iso2, Iso3] {
            assert_eq!(
                encrypt_pin_block(&aes, f, &p, Some(PAN), &mut Const(0))
                    .unwrap_err()
                    .field,
                "key"
            );
            assert_eq!(
                decrypt_pin_block(&aes, f, &[0u8; 8], Some(PAN))
                    .unwrap_err()
                    .field,
                "key"
            );
            assert_eq!(
                encipher_pin_block(&aes, f, &[0u8; 8], Some(PAN))
                    .unwrap_err()
                    .field,
                "key"
            );
        }
        assert_eq!(
            decrypt_pin_block(&tdes, Iso4, &[0u8; 16], Some(PAN))
                .unwrap_err()
                .field,
            "key"
        );
        // Wrong block length for the format.
        assert_eq!(
            decrypt_pin_block(&tdes, Iso0, &[0u8; 16], Some(PAN))
                .unwrap_err()
                .field,
            "pin block"
        );
        assert_eq!(
            decrypt_pin_block(&aes, Iso4, &[0u8; 8], Some(PAN))
                .unwrap_err()
                .field,
            "pin block"
        );
        assert_eq!(
            encipher_pin_block(&tdes, Iso2, &[0u8; 7], None)
                .unwrap_err()
                .field,
            "pin block"
        );
    }

    #[test]
    fn encrypted_block_type() {
        assert!(EncryptedPinBlock::from_bytes(&[0u8; 12]).is_err());
        let a = EncryptedPinBlock::from_bytes(&[7u8; 8]).unwrap();
        assert_eq!(a.as_bytes(), &[7u8; 8]);
        assert_eq!(format!("{a:?}"), "***");
        assert_eq!(a, a.clone());
        assert_ne!(a, EncryptedPinBlock::from_bytes(&[7u8; 16]).unwrap());
    }

    #[test]
    fn format_helpers() {
        for (i, f) in PinBlockFormat::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(f.code()), i);
            assert_eq!(PinBlockFormat::from_code(f.code()).unwrap(), f);
            assert_eq!(f.block_len(), if f == Iso4 { 16 } else { 8 });
            assert_eq!(f.needs_pan(), matches!(f, Iso0 | Iso3 | Iso4));
        }
        assert_eq!(PinBlockFormat::from_code(5).unwrap_err().field, "format");
    }

    #[test]
    fn translation_rules() {
        // Rows: from 0..4; columns: to 0..4. true = allowed.
        let allowed = [
            [true, false, false, true, true],
            [true, true, false, true, true],
            [true, true, false, true, true],
            [true, false, false, true, true],
            [true, false, false, true, true],
        ];
        for (from, row) in PinBlockFormat::ALL.into_iter().zip(allowed) {
            for (to, ok) in PinBlockFormat::ALL.into_iter().zip(row) {
                let r = check_translation(from, to);
                assert_eq!(r.is_ok(), ok, "{from:?} -> {to:?}");
                if let Err(e) = r {
                    assert_eq!(e.field, "format translation");
                }
            }
        }
    }
}

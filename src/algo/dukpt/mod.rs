//! DUKPT (Derived Unique Key Per Transaction) key derivation, host side.
//!
//! - TDES DUKPT per ANSI X9.24-1:2009 (double-length BDK, 10-byte KSN with a
//!   21-bit transaction counter): IPEK, current transaction key and the
//!   PIN / MAC / data working-key variants ([`tdes_working_key`]).
//! - AES DUKPT per ANSI X9.24-3:2017 (AES-128/192/256 BDK, 12-byte KSN with an
//!   8-byte initial key ID and a 32-bit counter): initial key, transaction
//!   derivation key, working keys of every key usage and type, and the DUKPT
//!   update key ([`aes_working_key`]).
//!
//! Every function is pure: bytes in, keys out. Derived keys are secret and are
//! returned in [`zeroize::Zeroizing`] or in [`DukptKey`], which wipes itself on
//! drop and never prints its bytes. A [`Ksn`] is not secret.

mod aes;
mod tdes;

pub use aes::{
    aes_derivation_key_for_counter, aes_initial_key, aes_transaction_derivation_key,
    aes_update_key, aes_working_key, aes_working_key_for_counter,
    aes_working_key_from_derivation_key, AesDukptKeyType, AesDukptUsage,
};
pub use tdes::{
    tdes_data_encryption_key, tdes_ipek, tdes_transaction_key, tdes_transaction_key_from_ipek,
    tdes_variant_key, tdes_working_key, tdes_working_key_from_transaction_key, TdesDukptUsage,
};

use super::{AlgoError, AlgoResult};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length in bytes of a TDES DUKPT KSN (X9.24-1:2009).
pub const TDES_KSN_LEN: usize = 10;
/// Length in bytes of an AES DUKPT KSN (X9.24-3:2017).
pub const AES_KSN_LEN: usize = 12;
/// Length in bytes of an AES DUKPT initial key ID (BDK ID + derivation ID).
pub const AES_INITIAL_KEY_ID_LEN: usize = 8;

/// Bits of the TDES transaction counter (the rightmost 21 bits of the KSN).
const TDES_COUNTER_MASK: u32 = 0x001F_FFFF;
/// A TDES transaction counter has at most this many one-bits (X9.24-1:2009 A.2).
const TDES_MAX_ONE_BITS: u32 = 10;
/// An AES transaction counter has at most this many one-bits (X9.24-3:2017 6.1).
const AES_MAX_ONE_BITS: u32 = 16;

/// A DUKPT key serial number: TDES (10 bytes) or AES (12 bytes).
///
/// - TDES (ANSI X9.24-1:2009): the leftmost 59 bits are the key set ID and
///   device ID, the rightmost 21 bits the transaction counter.
/// - AES (ANSI X9.24-3:2017): 8-byte initial key ID (4-byte BDK ID and 4-byte
///   derivation ID) followed by a 4-byte big-endian transaction counter.
///
/// [`Ksn::parse_hex`] and [`Ksn::from_bytes`] accept transaction KSNs only: the
/// counter is non-zero and has at most 10 (TDES) or 16 (AES) one-bits, as an
/// originating device never uses any other. [`Ksn::parse_initial_hex`],
/// [`Ksn::initial_from_bytes`] and [`Ksn::initial`] give the initial KSN
/// (counter zero), used to derive the IPEK / initial key.
///
/// A KSN travels in the clear, so `Debug` and `Display` show it in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ksn(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    Tdes([u8; TDES_KSN_LEN]),
    Aes([u8; AES_KSN_LEN]),
}

fn ksn_err(reason: impl Into<String>) -> AlgoError {
    AlgoError::new("ksn", reason)
}

/// Hex-decodes `s` into `out` (exact length already checked); no allocation.
fn decode_hex_into(s: &str, out: &mut [u8]) -> AlgoResult<()> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (i, (pair, o)) in s.as_bytes().chunks(2).zip(out.iter_mut()).enumerate() {
        let (hi, lo) = match pair {
            [a, b] => (*a, *b),
            _ => return Err(ksn_err("odd number of hex characters")),
        };
        let bad = |k: usize| ksn_err(format!("not hexadecimal at character {}", 2 * i + k));
        *o = (nibble(hi).ok_or_else(|| bad(0))? << 4) | nibble(lo).ok_or_else(|| bad(1))?;
    }
    Ok(())
}

impl Ksn {
    /// Parses a transaction KSN from hex (20 characters for TDES, 24 for AES;
    /// either case). Errors (field `ksn`): wrong length, non-hex characters, a
    /// zero counter, or a counter with too many one-bits.
    pub fn parse_hex(s: &str) -> AlgoResult<Self> {
        Self::from_bytes(Self::hex_buf(s)?.as_slice())
    }

    /// Parses an initial KSN from hex: 20 characters (TDES) or 24 (AES) with
    /// a zero counter, or 16 characters (an AES initial key ID alone).
    /// Errors (field `ksn`): wrong length, non-hex, non-zero counter.
    pub fn parse_initial_hex(s: &str) -> AlgoResult<Self> {
        Self::initial_from_bytes(Self::hex_buf(s)?.as_slice())
    }

    fn hex_buf(s: &str) -> AlgoResult<HexBuf> {
        let n = s.len();
        if n % 2 != 0 || !matches!(n / 2, AES_INITIAL_KEY_ID_LEN | TDES_KSN_LEN | AES_KSN_LEN) {
            return Err(ksn_err(format!(
                "length {n} hex characters, expected 20 (TDES) or 24 (AES)"
            )));
        }
        let mut buf = HexBuf {
            bytes: [0u8; AES_KSN_LEN],
            len: n / 2,
        };
        decode_hex_into(s, &mut buf.bytes)?;
        Ok(buf)
    }

    /// A transaction KSN from 10 (TDES) or 12 (AES) bytes. Errors (field
    /// `ksn`): wrong length, a zero counter, or more than 10 (TDES) / 16
    /// (AES) one-bits in the counter.
    pub fn from_bytes(bytes: &[u8]) -> AlgoResult<Self> {
        let ksn = Self::any_from_bytes(bytes)?;
        ksn.check_counter(ksn.counter())?;
        Ok(ksn)
    }

    /// An initial KSN (counter zero) from 10 (TDES) or 12 (AES) bytes, or from
    /// an 8-byte AES initial key ID. Errors (field `ksn`): wrong length, a
    /// non-zero counter (use [`Ksn::initial`] to clear it).
    pub fn initial_from_bytes(bytes: &[u8]) -> AlgoResult<Self> {
        if let Ok(ikid) = <[u8; AES_INITIAL_KEY_ID_LEN]>::try_from(bytes) {
            return Ok(Self::aes_initial(&ikid));
        }
        let ksn = Self::any_from_bytes(bytes)?;
        if ksn.counter() != 0 {
            return Err(ksn_err(
                "an initial KSN has a zero transaction counter (use Ksn::initial to clear it)",
            ));
        }
        Ok(ksn)
    }

    /// The initial AES KSN (counter zero) of an 8-byte initial key ID.
    pub fn aes_initial(initial_key_id: &[u8; AES_INITIAL_KEY_ID_LEN]) -> Self {
        let mut b = [0u8; AES_KSN_LEN];
        b[..AES_INITIAL_KEY_ID_LEN].copy_from_slice(initial_key_id);
        Self(Repr::Aes(b))
    }

    fn any_from_bytes(bytes: &[u8]) -> AlgoResult<Self> {
        if let Ok(b) = <[u8; TDES_KSN_LEN]>::try_from(bytes) {
            Ok(Self(Repr::Tdes(b)))
        } else if let Ok(b) = <[u8; AES_KSN_LEN]>::try_from(bytes) {
            Ok(Self(Repr::Aes(b)))
        } else {
            Err(ksn_err(format!(
                "length {} bytes, expected 10 (TDES) or 12 (AES)",
                bytes.len()
            )))
        }
    }

    fn check_counter(&self, counter: u32) -> AlgoResult<()> {
        let (max, std) = if self.is_aes() {
            (AES_MAX_ONE_BITS, "X9.24-3")
        } else {
            (TDES_MAX_ONE_BITS, "X9.24-1")
        };
        if counter == 0 {
            return Err(ksn_err(
                "transaction counter is zero (that is an initial KSN, not a transaction KSN)",
            ));
        }
        let ones = counter.count_ones();
        if ones > max {
            return Err(ksn_err(format!(
                "transaction counter has {ones} one-bits; {std} allows at most {max}"
            )));
        }
        Ok(())
    }

    /// This KSN with the transaction counter replaced by `counter`. Errors
    /// (field `ksn`): zero, too many one-bits, or (TDES) wider than 21 bits.
    pub fn with_counter(&self, counter: u32) -> AlgoResult<Self> {
        let mut out = self.initial();
        match &mut out.0 {
            Repr::Tdes(b) => {
                if counter > TDES_COUNTER_MASK {
                    return Err(ksn_err("TDES transaction counter is wider than 21 bits"));
                }
                let c = counter.to_be_bytes();
                b[7] |= c[1];
                b[8] = c[2];
                b[9] = c[3];
            }
            Repr::Aes(b) => b[AES_INITIAL_KEY_ID_LEN..].copy_from_slice(&counter.to_be_bytes()),
        }
        out.check_counter(counter)?;
        Ok(out)
    }

    /// The transaction counter: the rightmost 21 bits (TDES) or the last 4
    /// bytes (AES).
    pub fn counter(&self) -> u32 {
        match &self.0 {
            Repr::Tdes(b) => u32::from_be_bytes([0, b[7], b[8], b[9]]) & TDES_COUNTER_MASK,
            Repr::Aes(b) => u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    /// The KSN bytes (10 for TDES, 12 for AES).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Tdes(b) => b,
            Repr::Aes(b) => b,
        }
    }

    /// True for an AES DUKPT KSN (12 bytes), false for TDES (10 bytes).
    pub fn is_aes(&self) -> bool {
        matches!(self.0, Repr::Aes(_))
    }

    /// True when the transaction counter is zero (an initial KSN).
    pub fn is_initial(&self) -> bool {
        self.counter() == 0
    }

    /// The initial KSN: this KSN with the transaction counter cleared.
    pub fn initial(&self) -> Self {
        let mut out = *self;
        match &mut out.0 {
            Repr::Tdes(b) => {
                b[7] &= 0xE0;
                b[8] = 0;
                b[9] = 0;
            }
            Repr::Aes(b) => b[AES_INITIAL_KEY_ID_LEN..].fill(0),
        }
        out
    }

    /// The AES initial key ID (first 8 bytes: BDK ID and derivation ID);
    /// `None` for a TDES KSN (use [`Ksn::initial`] there).
    pub fn initial_key_id(&self) -> Option<[u8; AES_INITIAL_KEY_ID_LEN]> {
        match &self.0 {
            Repr::Tdes(_) => None,
            Repr::Aes(b) => {
                let mut id = [0u8; AES_INITIAL_KEY_ID_LEN];
                id.copy_from_slice(&b[..AES_INITIAL_KEY_ID_LEN]);
                Some(id)
            }
        }
    }

    /// Upper-case hex of the KSN bytes.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.as_bytes())
    }

    /// The TDES KSN bytes, or an error naming `ksn` for an AES KSN.
    fn tdes_bytes(&self) -> AlgoResult<&[u8; TDES_KSN_LEN]> {
        match &self.0 {
            Repr::Tdes(b) => Ok(b),
            Repr::Aes(_) => Err(ksn_err(
                "a 12-byte AES KSN cannot be used for TDES DUKPT (X9.24-1 needs 10 bytes)",
            )),
        }
    }

    /// The AES initial key ID, or an error naming `ksn` for a TDES KSN.
    fn aes_ikid(&self) -> AlgoResult<[u8; AES_INITIAL_KEY_ID_LEN]> {
        self.initial_key_id().ok_or_else(|| {
            ksn_err("a 10-byte TDES KSN cannot be used for AES DUKPT (X9.24-3 needs 12 bytes)")
        })
    }

    /// Errors (field `ksn`) when the counter is zero: a working key needs a
    /// transaction KSN.
    fn require_transaction(&self) -> AlgoResult<()> {
        if self.is_initial() {
            return Err(ksn_err(
                "transaction counter is zero (an initial KSN names no transaction)",
            ));
        }
        Ok(())
    }
}

struct HexBuf {
    bytes: [u8; AES_KSN_LEN],
    len: usize,
}

impl HexBuf {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Ksn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ksn({})", self.to_hex())
    }
}

impl std::fmt::Display for Ksn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for Ksn {
    type Err = AlgoError;
    /// Same as [`Ksn::parse_hex`].
    fn from_str(s: &str) -> AlgoResult<Self> {
        Self::parse_hex(s)
    }
}

/// A derived DUKPT key of 16, 24 or 32 bytes (AES DUKPT keys of any type, or
/// TDES keys derived by AES DUKPT). Fixed storage, no allocation; wiped on
/// drop; `Debug` prints only the length.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DukptKey {
    bytes: [u8; 32],
    len: usize,
}

impl DukptKey {
    /// An all-zero key of `len` bytes (`len` ≤ 32, guaranteed by callers).
    fn zeroed(len: usize) -> Self {
        Self {
            bytes: [0u8; 32],
            len: len.min(32),
        }
    }

    /// A copy of `key` (16, 24 or 32 bytes, checked by callers).
    fn from_slice(key: &[u8]) -> Self {
        let mut k = Self::zeroed(key.len());
        for (d, s) in k.bytes.iter_mut().zip(key) {
            *d = *s;
        }
        k
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn as_mut_bytes(&mut self) -> &mut [u8] {
        self.bytes.get_mut(..self.len).unwrap_or(&mut [])
    }
}

impl std::fmt::Debug for DukptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DukptKey({} bytes, ***)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tdes_and_aes() {
        let k = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
        assert!(!k.is_aes());
        assert_eq!(k.counter(), 1);
        assert_eq!(k.initial().to_hex(), "FFFF9876543210E00000");
        assert_eq!(k.initial_key_id(), None);
        assert_eq!(format!("{k:?}"), "Ksn(FFFF9876543210E00001)");
        let a = Ksn::parse_hex("123456789012345600000001").unwrap();
        assert!(a.is_aes());
        assert_eq!(a.counter(), 1);
        assert_eq!(
            a.initial_key_id(),
            Some([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56])
        );
        assert_eq!(a.initial().to_hex(), "123456789012345600000000");
        assert_eq!("ffff9876543210e00003".parse::<Ksn>().unwrap().counter(), 3);
        // The device-ID bits above the counter stay out of the counter.
        assert_eq!(
            Ksn::parse_hex("FFFF9876543210EFF801").unwrap().counter(),
            0x0F_F801
        );
    }

    #[test]
    fn rejects_bad_ksn() {
        for (s, why) in [
            ("", "length"),
            ("FFFF9876543210E0000", "length"),
            ("FFFF9876543210E000011", "length"),
            ("FFFF9876543210E0000G", "hexadecimal"),
            ("FFFF9876543210E0000\u{e9}", "length"),
            ("FFFF9876543210E00000", "zero"),
            ("123456789012345600000000", "zero"),
            ("FFFF9876543210E007FF", "11 one-bits"),
            ("12345678901234560001FFFF", "17 one-bits"),
            ("1234567890123456", "length"),
        ] {
            let e = Ksn::parse_hex(s).unwrap_err();
            assert_eq!(e.field, "ksn", "{s}");
            assert!(e.reason.contains(why), "{s}: {}", e.reason);
        }
        assert!(Ksn::from_bytes(&[0u8; 11]).is_err());
        assert!(Ksn::parse_hex("FFFF9876543210E003FF").is_ok()); // exactly 10 bits
        assert!(Ksn::parse_hex("12345678901234560000FFFF").is_ok()); // exactly 16 bits
    }

    #[test]
    fn initial_ksn_rules() {
        let i = Ksn::parse_initial_hex("FFFF9876543210E00000").unwrap();
        assert!(i.is_initial());
        assert!(Ksn::parse_initial_hex("FFFF9876543210E00001").is_err());
        let a = Ksn::parse_initial_hex("1234567890123456").unwrap();
        assert_eq!(a.to_hex(), "123456789012345600000000");
        assert_eq!(Ksn::initial_from_bytes(a.as_bytes()).unwrap(), a);
        assert!(Ksn::initial_from_bytes(&[1u8; 12]).is_err());
    }

    #[test]
    fn with_counter_rules() {
        let k = Ksn::parse_hex("FFFF9876543210EFF801").unwrap();
        assert_eq!(k.with_counter(5).unwrap().to_hex(), "FFFF9876543210E00005");
        assert!(k.with_counter(0).is_err());
        assert!(k.with_counter(0x20_0000).is_err());
        assert!(k.with_counter(0x7FF).is_err());
        let a = Ksn::parse_hex("123456789012345600000001").unwrap();
        assert_eq!(a.with_counter(0xFFFF_0000).unwrap().counter(), 0xFFFF_0000);
        assert!(a.with_counter(u32::MAX).is_err());
    }

    #[test]
    fn key_debug_hides_bytes() {
        let k = DukptKey::from_slice(&[0xAB; 16]);
        assert_eq!(format!("{k:?}"), "DukptKey(16 bytes, ***)");
        assert_eq!(k.as_bytes(), &[0xAB; 16]);
    }
}

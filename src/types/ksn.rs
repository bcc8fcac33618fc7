//! [`Ksn`]: the DUKPT key serial number (TDES X9.24-1 and AES X9.24-3).

use super::field::{FieldError, FieldResult};

/// Length in bytes of a TDES DUKPT KSN (X9.24-1:2009).
pub const TDES_KSN_LEN: usize = 10;
/// Length in bytes of an AES DUKPT KSN (X9.24-3:2017).
pub const AES_KSN_LEN: usize = 12;
/// Length in bytes of an AES DUKPT initial key ID (BDK ID + derivation ID).
pub const AES_INITIAL_KEY_ID_LEN: usize = 8;

/// Bits of the TDES transaction counter (the rightmost 21 bits of the KSN).
pub(crate) const TDES_COUNTER_MASK: u32 = 0x001F_FFFF;
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

fn ksn_err(reason: impl Into<String>) -> FieldError {
    FieldError::new("ksn", reason)
}

/// Hex-decodes `s` into `out` (exact length already checked); no allocation.
fn decode_hex_into(s: &str, out: &mut [u8]) -> FieldResult<()> {
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
    pub fn parse_hex(s: &str) -> FieldResult<Self> {
        Self::from_bytes(Self::hex_buf(s)?.as_slice())
    }

    /// Parses an initial KSN from hex: 20 characters (TDES) or 24 (AES) with
    /// a zero counter, or 16 characters (an AES initial key ID alone).
    /// Errors (field `ksn`): wrong length, non-hex, non-zero counter.
    pub fn parse_initial_hex(s: &str) -> FieldResult<Self> {
        Self::initial_from_bytes(Self::hex_buf(s)?.as_slice())
    }

    fn hex_buf(s: &str) -> FieldResult<HexBuf> {
        let n = s.len();
        if !n.is_multiple_of(2)
            || !matches!(n / 2, AES_INITIAL_KEY_ID_LEN | TDES_KSN_LEN | AES_KSN_LEN)
        {
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
    pub fn from_bytes(bytes: &[u8]) -> FieldResult<Self> {
        let ksn = Self::any_from_bytes(bytes)?;
        ksn.check_counter(ksn.counter())?;
        Ok(ksn)
    }

    /// An initial KSN (counter zero) from 10 (TDES) or 12 (AES) bytes, or from
    /// an 8-byte AES initial key ID. Errors (field `ksn`): wrong length, a
    /// non-zero counter (use [`Ksn::initial`] to clear it).
    pub fn initial_from_bytes(bytes: &[u8]) -> FieldResult<Self> {
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

    fn any_from_bytes(bytes: &[u8]) -> FieldResult<Self> {
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

    fn check_counter(&self, counter: u32) -> FieldResult<()> {
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
    pub fn with_counter(&self, counter: u32) -> FieldResult<Self> {
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
    pub(crate) fn tdes_bytes(&self) -> FieldResult<&[u8; TDES_KSN_LEN]> {
        match &self.0 {
            Repr::Tdes(b) => Ok(b),
            Repr::Aes(_) => Err(ksn_err(
                "a 12-byte AES KSN cannot be used for TDES DUKPT (X9.24-1 needs 10 bytes)",
            )),
        }
    }

    /// The AES initial key ID, or an error naming `ksn` for a TDES KSN.
    pub(crate) fn aes_ikid(&self) -> FieldResult<[u8; AES_INITIAL_KEY_ID_LEN]> {
        self.initial_key_id().ok_or_else(|| {
            ksn_err("a 10-byte TDES KSN cannot be used for AES DUKPT (X9.24-3 needs 12 bytes)")
        })
    }

    /// Errors (field `ksn`) when the counter is zero: a working key needs a
    /// transaction KSN.
    pub(crate) fn require_transaction(&self) -> FieldResult<()> {
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
    type Err = FieldError;
    /// Same as [`Ksn::parse_hex`].
    fn from_str(s: &str) -> FieldResult<Self> {
        Self::parse_hex(s)
    }
}

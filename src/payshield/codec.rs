//! The payShield host protocol as pure functions over bytes: frame
//! splitting, a field reader, request encoders and response parsers.
//!
//! Nothing here does I/O, so every function is fuzzable; every parser
//! returns a [`CodecError`] naming the field instead of panicking.
//!
//! Frame: `[2-byte big-endian length][header][command 2][fields…]`. The
//! response code is the command code with its second character advanced by
//! one, then a 2-character error code.

use super::lmk::{EncryptedKey, KeyScheme, KeyType};
use std::fmt;

pub mod command;
pub mod errors;
pub mod kq;
pub mod kw;
pub mod reply;
pub mod request;

pub use command::{encode_request, parse_request, Command, Request};
pub use reply::{
    parse_bv, parse_cx, parse_data, parse_kcv6, parse_key_kcv, parse_kr, parse_mac, parse_nd,
    parse_pin_translation, parse_tr31_export, PinTranslation,
};

/// The reason of every [`CodecError`] about a malformed Thales key block
/// (the simulator answers `83`, "key block format error").
pub const KEY_BLOCK_FORMAT: &str = "key block format error";

/// Largest payload a 2-byte length prefix can carry.
pub const MAX_FRAME_LEN: usize = 0xFFFF;

/// A malformed frame or field (names the field, never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl CodecError {
    /// A new error.
    pub const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for CodecError {}

type R<T> = Result<T, CodecError>;

// ------------------------------------------------------------------ frames

/// Splits one frame off the front of `buf`: `Some((consumed, payload))` when
/// a whole frame is present, `None` when more bytes are needed.
pub fn split_frame(buf: &[u8]) -> Option<(usize, &[u8])> {
    let (&hi, &lo) = (buf.first()?, buf.get(1)?);
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let payload = buf.get(2..2 + len)?;
    Some((2 + len, payload))
}

/// Appends a frame `[len][parts…]` to `out`.
pub fn write_frame(out: &mut Vec<u8>, parts: &[&[u8]]) -> R<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len16 =
        u16::try_from(len).map_err(|_| CodecError::new("frame", "longer than 65535 bytes"))?;
    out.extend_from_slice(&len16.to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(())
}

/// The response code for a command code: second character advanced by one.
pub fn response_code(cmd: [u8; 2]) -> [u8; 2] {
    [cmd[0], cmd[1].wrapping_add(1)]
}

// ------------------------------------------------------------------ reader

/// A cursor over a command or response body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The scheme a key field's tag character announces (`U`, `T`, `X`, `Y`,
/// `S` for a key block); a single-length key has no tag.
pub fn key_tag(c: u8) -> Option<KeyScheme> {
    KeyScheme::from_tag(c).filter(|s| *s != KeyScheme::Z)
}

/// Decodes hex text into bytes.
pub fn decode_hex(field: &'static str, s: &[u8]) -> R<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(CodecError::new(field, "odd number of hex digits"));
    }
    s.chunks(2)
        .map(|p| match p {
            [a, b] => match (hex_val(*a), hex_val(*b)) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(CodecError::new(field, "not hex")),
            },
            _ => Err(CodecError::new(field, "odd number of hex digits")),
        })
        .collect()
}

/// Appends upper-case hex.
pub fn push_hex(out: &mut Vec<u8>, b: &[u8]) {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    for x in b {
        out.push(H[usize::from(x >> 4)]);
        out.push(H[usize::from(x & 0x0F)]);
    }
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    /// The next byte without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    /// Consumes `b` if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Requires `b` next.
    pub fn expect(&mut self, b: u8, field: &'static str) -> R<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(CodecError::new(field, "expected delimiter missing"))
        }
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> R<&'a [u8]> {
        let s = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(CodecError::new(field, "not enough data"))?;
        self.pos += n;
        Ok(s)
    }

    /// Takes `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> R<[u8; N]> {
        let s = self.take(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Takes `n` decimal digits as text.
    pub fn digits(&mut self, n: usize, field: &'static str) -> R<&'a str> {
        let s = self.take(n, field)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new(field, "expected decimal digits"));
        }
        std::str::from_utf8(s).map_err(|_| CodecError::new(field, "expected decimal digits"))
    }

    /// Takes `n` decimal digits as a number.
    pub fn number(&mut self, n: usize, field: &'static str) -> R<usize> {
        let s = self.digits(n, field)?;
        s.parse()
            .map_err(|_| CodecError::new(field, "expected decimal digits"))
    }

    /// Takes `n` hex digits as a number.
    pub fn hex_number(&mut self, n: usize, field: &'static str) -> R<usize> {
        let s = self.take(n, field)?;
        s.iter().try_fold(0usize, |acc, c| {
            hex_val(*c)
                .filter(|_| !c.is_ascii_lowercase())
                .map(|v| acc * 16 + usize::from(v))
                .ok_or(CodecError::new(field, "expected hex digits"))
        })
    }

    /// Takes `n` upper-case hex digits and decodes them (n/2 bytes). Lower
    /// case is refused: a payShield writes hex in upper case, and a field
    /// has one spelling (so what parses re-encodes to the same bytes).
    pub fn hex(&mut self, n: usize, field: &'static str) -> R<Vec<u8>> {
        let s = self.take(n, field)?;
        if s.iter().any(u8::is_ascii_lowercase) {
            return Err(CodecError::new(field, "not upper-case hex"));
        }
        decode_hex(field, s)
    }

    /// Takes `2*N` hex digits into an array.
    pub fn hex_array<const N: usize>(&mut self, field: &'static str) -> R<[u8; N]> {
        let v = self.hex(2 * N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(
            v.get(..N)
                .ok_or(CodecError::new(field, "not enough data"))?,
        );
        Ok(a)
    }

    /// Takes bytes up to (not including) `delim` or the end; consumes the delimiter.
    pub fn until(&mut self, delim: u8, max: usize, field: &'static str) -> R<&'a [u8]> {
        let rest = self.rest();
        let n = rest.iter().position(|b| *b == delim).unwrap_or(rest.len());
        if n > max {
            return Err(CodecError::new(field, "too long"));
        }
        let s = self.take(n, field)?;
        self.eat(delim);
        Ok(s)
    }

    /// A key field: scheme tag (`U`, `T`, `X`, `Y`) + 32H/48H, bare 16H
    /// for a single-length key (the notes' `KEY` = 16H, `U`+32H, `T`+48H,
    /// `X`+32H, `Y`+48H; no public frame writes a `Z` tag in front of a
    /// key, so `Z` is a key scheme *field* value only), or `S` + a Thales
    /// key block (see [`Reader::key_block`]). A TR-31 block (`R`) is read
    /// only where a command takes one.
    pub fn key(&mut self, field: &'static str) -> R<EncryptedKey> {
        let scheme = match self.peek() {
            Some(b'S') => {
                self.pos += 1;
                let b = self.key_block(field)?;
                return Ok(EncryptedKey {
                    scheme: KeyScheme::S,
                    bytes: b.to_vec(),
                });
            }
            Some(b'R') => {
                return Err(CodecError::new(
                    field,
                    "key block scheme not supported here",
                ))
            }
            Some(c) => match key_tag(c) {
                Some(s) => {
                    self.pos += 1;
                    s
                }
                None => KeyScheme::Z,
            },
            None => KeyScheme::Z,
        };
        let bytes = self.hex(scheme.key_len() * 2, field)?;
        Ok(EncryptedKey { scheme, bytes })
    }

    /// A Thales key block after its `S`: self-delimiting by the 4-digit
    /// length after the version character (ut-codec-payshield test.js
    /// @4063d5b8 L216 `S00072K0TB00E0001…`: 72 characters). Only the
    /// framing is checked here (length, printable ASCII); the header's
    /// fields and the authenticator are the HSM's business
    /// ([`crate::payshield::keyblock`]). Errors carry
    /// [`KEY_BLOCK_FORMAT`] as their reason.
    pub fn key_block(&mut self, field: &'static str) -> R<&'a [u8]> {
        let bad = CodecError::new(field, KEY_BLOCK_FORMAT);
        let rest = self.rest();
        let len_digits = rest.get(1..5).ok_or(bad)?;
        if !len_digits.iter().all(u8::is_ascii_digit) {
            return Err(bad);
        }
        let len = len_digits
            .iter()
            .fold(0usize, |a, d| a * 10 + usize::from(d - b'0'));
        if len < crate::payshield::keyblock::HEADER_LEN {
            return Err(bad);
        }
        let b = self.take(len, field).map_err(|_| bad)?;
        if !b.iter().all(u8::is_ascii_graphic) {
            return Err(bad);
        }
        Ok(b)
    }

    /// A 3-character key type code.
    pub fn key_type(&mut self, field: &'static str) -> R<KeyType> {
        let s = self.take(3, field)?;
        KeyType::parse(s).map_err(|_| CodecError::new(field, "invalid key type code"))
    }

    /// A TR-31 key block (self-delimiting by its 4-digit length).
    pub fn tr31_block(&mut self, field: &'static str) -> R<&'a str> {
        let rest = self.rest();
        let len_digits = rest
            .get(1..5)
            .ok_or(CodecError::new(field, "not enough data"))?;
        if !len_digits.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new(field, "bad TR-31 length"));
        }
        let len: usize = std::str::from_utf8(len_digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(CodecError::new(field, "bad TR-31 length"))?;
        let b = self.take(len, field)?;
        if !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(CodecError::new(field, "not printable ASCII"));
        }
        std::str::from_utf8(b).map_err(|_| CodecError::new(field, "not ASCII"))
    }
}

// ------------------------------------------------------------------ PIN block formats

/// payShield PIN block format code for an ISO format (`01` ISO 0, `05` ISO 1,
/// `47` ISO 3, `48` ISO 4; ISO 2 has no host format code).
pub fn pin_format_code(f: crate::PinBlockFormat) -> Option<&'static [u8; 2]> {
    use crate::PinBlockFormat as F;
    match f {
        F::Iso0 => Some(b"01"),
        F::Iso1 => Some(b"05"),
        F::Iso3 => Some(b"47"),
        F::Iso4 => Some(b"48"),
        F::Iso2 => None,
    }
}

/// The ISO format for a payShield PIN block format code.
pub fn pin_format_from_code(code: &[u8]) -> Option<crate::PinBlockFormat> {
    use crate::PinBlockFormat as F;
    match code {
        b"01" => Some(F::Iso0),
        b"05" => Some(F::Iso1),
        b"47" => Some(F::Iso3),
        b"48" => Some(F::Iso4),
        _ => None,
    }
}

/// The 12-digit account number field: the 12 rightmost PAN digits excluding
/// the check digit (left-padded with zeros).
pub fn account_field(pan: &str) -> [u8; 12] {
    let d = pan.as_bytes();
    let body = d.split_last().map(|(_, r)| r).unwrap_or(&[]);
    let mut out = [b'0'; 12];
    for (o, c) in out.iter_mut().rev().zip(body.iter().rev()) {
        *o = *c;
    }
    out
}

// ------------------------------------------------------------------ responses

/// A parsed response frame payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// The echoed header.
    pub header: &'a [u8],
    /// The response code (command + 1).
    pub code: [u8; 2],
    /// The 2-character error code.
    pub error: [u8; 2],
    /// The fields after the error code.
    pub body: &'a [u8],
}

/// Splits a response payload into header, response code, error code and body.
pub fn parse_response(payload: &[u8], header_len: usize) -> R<ResponseHead<'_>> {
    let mut r = Reader::new(payload);
    let header = r.take(header_len, "header")?;
    let code = r.array::<2>("response code")?;
    let error = r.array::<2>("error code")?;
    if !code.iter().all(u8::is_ascii_alphanumeric) || !error.iter().all(u8::is_ascii_alphanumeric) {
        return Err(CodecError::new("response code", "not alphanumeric"));
    }
    Ok(ResponseHead {
        header,
        code,
        error,
        body: r.rest(),
    })
}

/// Runs every request and response parser over `data` (as length-prefixed
/// frames with a 4-character header, and as one request body) and, for
/// each value that parses, encodes it again: returns the name of the first
/// parser whose encoding is not the input (`encode(parse(x)) == x`, with
/// trailing response fields kept verbatim), `None` when all agree. Never
/// panics; the fuzz target asserts `None`.
pub fn round_trip_mismatch(data: &[u8]) -> Option<&'static str> {
    let mut buf = data;
    while let Some((n, payload)) = split_frame(buf) {
        if let Some(body) = payload.get(4..) {
            if let Some(e) = request_round_trip(body) {
                return Some(e);
            }
        }
        if let Ok(h) = parse_response(payload, 4) {
            if let Some(e) = reply_round_trip(h.body) {
                return Some(e);
            }
        }
        buf = buf.get(n..).unwrap_or(&[]);
    }
    request_round_trip(data)
}

fn request_round_trip(body: &[u8]) -> Option<&'static str> {
    let req = parse_request(body).ok()?;
    let mut out = Vec::with_capacity(body.len());
    match encode_request(&mut out, &req) {
        Ok(()) if out == body => None,
        _ => Some("request"),
    }
}

fn reply_round_trip(body: &[u8]) -> Option<&'static str> {
    use reply::*;
    fn same(body: &[u8], mut enc: Vec<u8>, rest: &[u8]) -> bool {
        enc.extend_from_slice(rest);
        enc == body
    }
    for n in [8, 16] {
        if let Ok((t, rest)) = parse_pin_translation_fields_n(body, n) {
            let mut o = Vec::new();
            if encode_pin_translation(&mut o, &t).is_err() || !same(body, o, rest) {
                return Some("pin translation");
            }
        }
    }
    for n in 1..=2 {
        if let Ok((k, rest)) = parse_key_reply(body, n) {
            let mut o = Vec::new();
            encode_key_reply(&mut o, &k);
            if !same(body, o, rest) {
                return Some("key reply");
            }
        }
    }
    for iv in [0, 8, 16] {
        if let Ok((d, rest)) = parse_data_fields_iv(body, iv) {
            let mut o = Vec::new();
            if encode_data(&mut o, &d).is_err() || !same(body, o, rest) {
                return Some("data reply");
            }
        }
    }
    for len in [4, 8, 16, 32] {
        if let Ok((m, rest)) = parse_mac_fields(body, len) {
            let mut o = Vec::new();
            push_hex(&mut o, &m);
            if !same(body, o, rest) {
                return Some("mac reply");
            }
        }
    }
    if let Ok(k) = parse_bv(body) {
        let mut o = Vec::new();
        push_hex(&mut o, &k);
        if o != body {
            return Some("bv reply");
        }
    }
    if let Ok((kcv, fw)) = parse_nd(body) {
        let mut o = Vec::new();
        encode_nd(&mut o, &kcv, &fw);
        if o != body {
            return Some("nd reply");
        }
    }
    if let Ok((c, rest)) = parse_cx_fields(body) {
        if !same(body, c.to_vec(), rest) {
            return Some("cx reply");
        }
    }
    if let Ok((o, rest)) = parse_offset_fields(body) {
        if !same(body, o.to_vec(), rest) {
            return Some("offset reply");
        }
    }
    if let Ok(p) = parse_lmk_pin(body) {
        if p.as_bytes() != body {
            return Some("lmk pin reply");
        }
    }
    if let Ok((p, rest)) = parse_pvv_fields(body) {
        if !same(body, p.to_vec(), rest) {
            return Some("pvv reply");
        }
    }
    if let Ok((b, rest)) = parse_pin_block_fields(body) {
        let mut o = Vec::new();
        push_hex(&mut o, &b);
        if !same(body, o, rest) {
            return Some("pin block reply");
        }
    }
    if let Ok((a, rest)) = parse_kr_fields(body) {
        if !same(body, a.to_vec(), rest) {
            return Some("kr reply");
        }
    }
    for m in b"01234" {
        if let Some(mode) = kw::KwMode::from_code(*m) {
            if let Ok((a, rest)) = kw::parse_kx_fields(body, mode) {
                if !same(body, a.unwrap_or_default(), rest) {
                    return Some("kx reply");
                }
            }
        }
    }
    None
}

/// Runs every parser over `data` (for fuzzing and property tests): never
/// panics.
pub fn parse_all(data: &[u8]) {
    let _ = round_trip_mismatch(data);
    let mut r = Reader::new(data);
    let _ = r.key("key");
    let _ = r.tr31_block("key block");
    let _ = r.key_type("key type");
    let _ = kw::parse_kw(data);
    let _ = kq::parse_kq(data);
    if let Some(fields) = data.get(2..) {
        let _ = kw::parse_kw(fields);
        let _ = kq::parse_kq(fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split() {
        let mut out = Vec::new();
        write_frame(&mut out, &[b"HEAD", b"NC"]).unwrap();
        write_frame(&mut out, &[b"0001B2"]).unwrap();
        let (n, p) = split_frame(&out).unwrap();
        assert_eq!(p, b"HEADNC");
        let (m, q) = split_frame(&out[n..]).unwrap();
        assert_eq!(q, b"0001B2");
        assert_eq!(n + m, out.len());
        assert!(split_frame(&out[..n - 1]).is_none());
        assert!(split_frame(&[0]).is_none());
        assert_eq!(response_code(*b"NC"), *b"ND");
        assert_eq!(response_code(*b"G0"), *b"G1");
    }

    #[test]
    fn reader_fields() {
        let mut r = Reader::new(b"U0123456789ABCDEF0123456789ABCDEF;001R0016");
        let k = r.key("k").unwrap();
        assert_eq!(k.scheme, KeyScheme::U);
        assert!(r.eat(b';'));
        assert_eq!(r.key_type("kt").unwrap(), KeyType::ZPK);
        assert!(r.tr31_block("b").is_err());
        assert!(Reader::new(b"U12").key("k").is_err());
        assert!(Reader::new(b"S12").key("k").is_err());
        assert_eq!(Reader::new(b"00FF").hex_number(4, "n").unwrap(), 255);
        assert!(Reader::new(b"00fg").hex_number(4, "n").is_err());
    }

    #[test]
    fn account_numbers() {
        assert_eq!(&account_field("4111111111111111"), b"111111111111");
        assert_eq!(&account_field("400000000000012"), b"000000000001");
    }

    #[test]
    fn responses_parse() {
        assert!(parse_response(b"0001ND", 4).is_err());
        let h = parse_response(b"0001ND00ABCD", 4).unwrap();
        assert_eq!(h.header, b"0001");
        assert_eq!(&h.error, b"00");
        assert_eq!(h.body, b"ABCD");
        assert!(parse_pin_translation(b"041234567890ABCDEF01").is_ok());
        assert!(parse_pin_translation(b"991234567890ABCDEF01").is_err());
        // Any 2-digit format code parses (03 Diebold, 04 PLUS…); the
        // client compares it with the one it asked for.
        assert!(parse_pin_translation(b"041234567890ABCDEF99").is_ok());
        assert!(parse_pin_translation(b"041234567890ABCDEF9X").is_err());
        assert!(parse_cx(b"12").is_err());
        assert_eq!(parse_data(b"0002hi", false).unwrap(), b"hi");
        assert!(parse_data(b"0003hi", false).is_err());
        parse_all(b"\x00\x0a0001ND00AB\x00");
        assert_eq!(round_trip_mismatch(b"\x00\x0a0001ND00AB\x00"), None);
    }
}

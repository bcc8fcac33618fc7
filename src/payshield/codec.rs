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
use crate::types::Kcv;
use std::fmt;

pub mod kw;

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

/// Decodes hex text into bytes.
pub fn decode_hex(field: &'static str, s: &[u8]) -> R<Vec<u8>> {
    if s.len() % 2 != 0 {
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

    /// Takes `n` hex digits and decodes them (n/2 bytes).
    pub fn hex(&mut self, n: usize, field: &'static str) -> R<Vec<u8>> {
        let s = self.take(n, field)?;
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

    /// A key field: scheme tag + 32H/48H, `Z` + 16H, or bare 16H.
    pub fn key(&mut self, field: &'static str) -> R<EncryptedKey> {
        let scheme = match self.peek().and_then(KeyScheme::from_tag) {
            Some(s) => {
                self.pos += 1;
                s
            }
            None => {
                if matches!(self.peek(), Some(b'S' | b'R')) {
                    return Err(CodecError::new(
                        field,
                        "key block scheme not supported here",
                    ));
                }
                KeyScheme::Z
            }
        };
        let bytes = self.hex(scheme.key_len() * 2, field)?;
        Ok(EncryptedKey { scheme, bytes })
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

/// ND body: LMK check value (16H) and firmware number.
pub fn parse_nd(body: &[u8]) -> R<(String, String)> {
    let mut r = Reader::new(body);
    let kcv = r.take(16, "lmk check value")?;
    decode_hex("lmk check value", kcv)?;
    let fw = r.rest();
    if fw.is_empty() || fw.len() > 32 || !fw.iter().all(|c| c.is_ascii_graphic()) {
        return Err(CodecError::new(
            "firmware number",
            "missing or not printable",
        ));
    }
    Ok((
        String::from_utf8_lossy(kcv).into_owned(),
        String::from_utf8_lossy(fw).into_owned(),
    ))
}

/// A translated PIN block (CB, CD, CJ, G1).
#[derive(Clone, PartialEq, Eq)]
pub struct PinTranslation {
    /// PIN length.
    pub pin_len: u8,
    /// The PIN block under the destination key.
    pub pin_block: [u8; 8],
    /// Its payShield format code.
    pub format: [u8; 2],
}

impl fmt::Debug for PinTranslation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinTranslation(***)")
    }
}

/// Parses CB / CD / CJ / G1 bodies.
pub fn parse_pin_translation(body: &[u8]) -> R<PinTranslation> {
    let mut r = Reader::new(body);
    let pin_len = r.number(2, "pin length")?;
    if !(4..=12).contains(&pin_len) {
        return Err(CodecError::new("pin length", "not 04 to 12"));
    }
    let pin_block = r.hex_array::<8>("pin block")?;
    let format = r.array::<2>("pin block format")?;
    if pin_format_from_code(&format).is_none() {
        return Err(CodecError::new("pin block format", "unknown format code"));
    }
    if !r.is_empty() {
        return Err(CodecError::new("pin translation", "trailing data"));
    }
    Ok(PinTranslation {
        pin_len: pin_len as u8,
        pin_block,
        format,
    })
}

/// A 6H key check value.
pub fn parse_kcv6(r: &mut Reader<'_>) -> R<Kcv> {
    Ok(Kcv(r.hex_array::<3>("kcv")?))
}

/// A1 (mode 0) / A7 body: key under LMK + KCV 6H.
pub fn parse_key_kcv(body: &[u8]) -> R<(EncryptedKey, Kcv)> {
    let mut r = Reader::new(body);
    let key = r.key("key under lmk")?;
    let kcv = parse_kcv6(&mut r)?;
    if !r.is_empty() {
        return Err(CodecError::new("key response", "trailing data"));
    }
    Ok((key, kcv))
}

/// A9 body for a TR-31 export: `R` + key block + KCV 6H.
pub fn parse_tr31_export(body: &[u8]) -> R<(String, Kcv)> {
    let mut r = Reader::new(body);
    r.expect(b'R', "key scheme")?;
    let block = r.tr31_block("key block")?.to_owned();
    let kcv = parse_kcv6(&mut r)?;
    if !r.is_empty() {
        return Err(CodecError::new("export response", "trailing data"));
    }
    Ok((block, kcv))
}

/// BV body: KCV (16H or 6H).
pub fn parse_bv(body: &[u8]) -> R<Vec<u8>> {
    if body.len() != 16 && body.len() != 6 {
        return Err(CodecError::new("kcv", "expected 16 or 6 hex digits"));
    }
    decode_hex("kcv", body)
}

/// CX body: 3-digit CVV.
pub fn parse_cx(body: &[u8]) -> R<[u8; 3]> {
    let mut r = Reader::new(body);
    let d = r.digits(3, "cvv")?;
    if !r.is_empty() {
        return Err(CodecError::new("cvv", "trailing data"));
    }
    let mut a = [0u8; 3];
    a.copy_from_slice(d.as_bytes());
    Ok(a)
}

/// M1 / M3 body: `[IV 16H]` (CBC modes) + length 4H + data (binary output).
pub fn parse_data(body: &[u8], has_iv: bool) -> R<Vec<u8>> {
    let mut r = Reader::new(body);
    if has_iv {
        r.hex(16, "iv")?;
    }
    let n = r.hex_number(4, "message length")?;
    let d = r.take(n, "message")?.to_vec();
    if !r.is_empty() {
        return Err(CodecError::new("message", "trailing data"));
    }
    Ok(d)
}

/// M7 body: MAC as 8H or 16H.
pub fn parse_mac(body: &[u8], mac_len: usize) -> R<Vec<u8>> {
    if body.len() != mac_len * 2 {
        return Err(CodecError::new("mac", "wrong length"));
    }
    decode_hex("mac", body)
}

/// KR body for mode 1: 8-byte binary ARPC.
pub fn parse_kr(body: &[u8]) -> R<[u8; 8]> {
    let mut r = Reader::new(body);
    let a = r.array::<8>("arpc")?;
    if !r.is_empty() {
        return Err(CodecError::new("arpc", "trailing data"));
    }
    Ok(a)
}

/// Runs every response parser, and the KW request parser, over `data` (for
/// fuzzing): never panics.
pub fn parse_all(data: &[u8]) {
    let mut buf = data;
    while let Some((n, payload)) = split_frame(buf) {
        if let Ok(h) = parse_response(payload, 4) {
            let _ = parse_nd(h.body);
            let _ = parse_pin_translation(h.body);
            let _ = parse_key_kcv(h.body);
            let _ = parse_tr31_export(h.body);
            let _ = parse_bv(h.body);
            let _ = parse_cx(h.body);
            let _ = parse_data(h.body, true);
            let _ = parse_data(h.body, false);
            let _ = parse_mac(h.body, 4);
            let _ = parse_mac(h.body, 8);
            let _ = parse_kr(h.body);
            for m in b"01234" {
                if let Some(mode) = kw::KwMode::from_code(*m) {
                    let _ = kw::parse_kx(h.body, mode);
                }
            }
        }
        buf = buf.get(n..).unwrap_or(&[]);
    }
    let mut r = Reader::new(data);
    let _ = r.key("key");
    let _ = r.tr31_block("key block");
    let _ = r.key_type("key type");
    // KW request fields (the simulator's parser), with and without the code.
    let _ = kw::parse_kw(data);
    if let Some(fields) = data.strip_prefix(b"KW") {
        let _ = kw::parse_kw(fields);
    }
}

// ------------------------------------------------------------------ requests

/// Request encoders: each appends the command code and fields (no frame, no
/// header) to `out`. Field layouts follow the payShield host command manual.
pub mod request {
    use super::*;

    /// NC: diagnostics.
    pub fn nc(out: &mut Vec<u8>) {
        out.extend_from_slice(b"NC");
    }

    /// B2: echo `data`.
    pub fn b2(out: &mut Vec<u8>, data: &[u8]) {
        out.extend_from_slice(b"B2");
        let n = data.len().min(0xFFFF);
        out.extend_from_slice(format!("{n:04X}").as_bytes());
        out.extend_from_slice(data.get(..n).unwrap_or(data));
    }

    /// A0 mode 0: generate a key of `kt` under the LMK with `scheme`.
    pub fn a0(out: &mut Vec<u8>, kt: KeyType, scheme: KeyScheme) {
        out.extend_from_slice(b"A00");
        out.extend_from_slice(&kt.code());
        out.push(scheme.tag());
    }

    /// A6: import a TR-31 key block under `zmk` as `kt` with LMK `scheme`.
    pub fn a6_tr31(
        out: &mut Vec<u8>,
        kt: KeyType,
        zmk: &EncryptedKey,
        block: &str,
        scheme: KeyScheme,
    ) {
        out.extend_from_slice(b"A6");
        out.extend_from_slice(&kt.code());
        zmk.write(out);
        out.push(b'R');
        out.extend_from_slice(block.as_bytes());
        out.push(scheme.tag());
    }

    /// A8: export `key` (type `kt`) under `zmk` as a TR-31 version B block
    /// with the given header attributes (usage 2, mode 1, version 2, exportability 1).
    pub fn a8_tr31(
        out: &mut Vec<u8>,
        kt: KeyType,
        zmk: &EncryptedKey,
        key: &EncryptedKey,
        usage: &str,
        mode: u8,
        exportability: u8,
    ) {
        out.extend_from_slice(b"A8");
        out.extend_from_slice(&kt.code());
        zmk.write(out);
        key.write(out);
        out.push(b'R');
        out.push(b'&');
        out.extend_from_slice(usage.as_bytes());
        out.push(mode);
        out.extend_from_slice(b"00");
        out.push(exportability);
    }

    /// BU: key check value of `key` (type `kt`, via key type code `FF`).
    pub fn bu(out: &mut Vec<u8>, kt: KeyType, key: &EncryptedKey) {
        out.extend_from_slice(b"BUFF");
        out.push(match key.scheme.key_len() {
            8 => b'0',
            16 => b'1',
            _ => b'2',
        });
        key.write(out);
        out.push(b';');
        out.extend_from_slice(&kt.code());
    }

    /// Fields common to CA and CC.
    #[allow(clippy::too_many_arguments)]
    pub fn pin_translate(
        out: &mut Vec<u8>,
        cmd: &[u8; 2],
        src: &EncryptedKey,
        dst: &EncryptedKey,
        pin_block: &[u8],
        src_fmt: &[u8; 2],
        dst_fmt: &[u8; 2],
        account: &[u8; 12],
    ) {
        out.extend_from_slice(cmd);
        src.write(out);
        dst.write(out);
        out.extend_from_slice(b"12");
        push_hex(out, pin_block);
        out.extend_from_slice(src_fmt);
        out.extend_from_slice(dst_fmt);
        out.extend_from_slice(account);
    }

    /// G0: translate a TDES DUKPT PIN block to a ZPK.
    #[allow(clippy::too_many_arguments)]
    pub fn g0(
        out: &mut Vec<u8>,
        bdk: &EncryptedKey,
        zpk: &EncryptedKey,
        ksn: &[u8],
        pin_block: &[u8],
        src_fmt: &[u8; 2],
        dst_fmt: &[u8; 2],
        account: &[u8; 12],
    ) {
        out.extend_from_slice(b"G0");
        bdk.write(out);
        zpk.write(out);
        out.extend_from_slice(b"605");
        push_hex(out, ksn);
        push_hex(out, pin_block);
        out.extend_from_slice(src_fmt);
        out.extend_from_slice(dst_fmt);
        out.extend_from_slice(account);
    }

    /// M0 / M2: encrypt / decrypt with binary input and output. `ksn` is set
    /// for DUKPT (key type 009), `iv` for CBC.
    pub fn m0_m2(
        out: &mut Vec<u8>,
        encrypt: bool,
        kt: KeyType,
        key: &EncryptedKey,
        ksn: Option<&[u8]>,
        iv: Option<&[u8]>,
        data: &[u8],
    ) {
        out.extend_from_slice(if encrypt { b"M0" } else { b"M2" });
        out.extend_from_slice(if iv.is_some() { b"01" } else { b"00" });
        out.extend_from_slice(b"00");
        out.extend_from_slice(&kt.code());
        key.write(out);
        if let Some(k) = ksn {
            out.extend_from_slice(b"605");
            push_hex(out, k);
        }
        if let Some(iv) = iv {
            push_hex(out, iv);
        }
        out.extend_from_slice(format!("{:04X}", data.len()).as_bytes());
        out.extend_from_slice(data);
    }

    /// CW: generate a CVV.
    pub fn cw(out: &mut Vec<u8>, cvk: &EncryptedKey, pan: &str, expiry: &str, service_code: &str) {
        out.extend_from_slice(b"CW");
        cvk.write(out);
        out.extend_from_slice(pan.as_bytes());
        out.push(b';');
        out.extend_from_slice(expiry.as_bytes());
        out.extend_from_slice(service_code.as_bytes());
    }

    /// CY: verify a CVV.
    pub fn cy(
        out: &mut Vec<u8>,
        cvk: &EncryptedKey,
        cvv: &[u8],
        pan: &str,
        expiry: &str,
        service_code: &str,
    ) {
        out.extend_from_slice(b"CY");
        cvk.write(out);
        out.extend_from_slice(cvv);
        out.extend_from_slice(pan.as_bytes());
        out.push(b';');
        out.extend_from_slice(expiry.as_bytes());
        out.extend_from_slice(service_code.as_bytes());
    }

    /// KQ: verify an ARQC (mode 0) or verify and generate an ARPC (mode 1).
    #[allow(clippy::too_many_arguments)]
    pub fn kq(
        out: &mut Vec<u8>,
        mode: u8,
        scheme: u8,
        mk: &EncryptedKey,
        pan_psn: &[u8; 8],
        atc: &[u8; 2],
        un: &[u8; 4],
        data: &[u8],
        arqc: &[u8; 8],
        arc: &[u8; 2],
    ) {
        out.extend_from_slice(b"KQ");
        out.push(mode);
        out.push(scheme);
        mk.write(out);
        out.extend_from_slice(pan_psn);
        out.extend_from_slice(atc);
        out.extend_from_slice(un);
        out.extend_from_slice(format!("{:02X}", data.len().min(0xFF)).as_bytes());
        out.extend_from_slice(data);
        out.push(b';');
        out.extend_from_slice(arqc);
        out.extend_from_slice(arc);
    }

    /// M6 / M8: generate / verify a MAC over binary data (single block mode).
    #[allow(clippy::too_many_arguments)]
    pub fn m6_m8(
        out: &mut Vec<u8>,
        verify: Option<&[u8]>,
        mac_size: u8,
        algorithm: u8,
        padding: u8,
        kt: KeyType,
        key: &EncryptedKey,
        data: &[u8],
    ) {
        out.extend_from_slice(if verify.is_some() { b"M8" } else { b"M6" });
        out.push(b'0');
        out.push(b'0');
        out.push(mac_size);
        out.push(algorithm);
        out.push(padding);
        out.extend_from_slice(&kt.code());
        key.write(out);
        out.extend_from_slice(format!("{:04X}", data.len()).as_bytes());
        out.extend_from_slice(data);
        if let Some(m) = verify {
            push_hex(out, m);
        }
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
        assert!(parse_pin_translation(b"041234567890ABCDEF99").is_err());
        assert!(parse_cx(b"12").is_err());
        assert_eq!(parse_data(b"0002hi", false).unwrap(), b"hi");
        assert!(parse_data(b"0003hi", false).is_err());
        parse_all(b"\x00\x0a0001ND00AB\x00");
    }
}

//! Response bodies (after the error code): one parser the client reads
//! with and one encoder the simulator writes with.
//!
//! Parsers read the fields they know and return what follows them
//! (`…_fields` functions) or ignore it (the short forms): a later firmware
//! or an HSM option may append fields, and a parser must never fail on
//! length alone. Encoders write exactly the known fields, so
//! `encode(parse(x).0) ++ parse(x).1 == x` (fuzzed). Hex is read in upper
//! case only, as a payShield writes it.

use super::command::LmkPin;
use super::{push_hex, CodecError, Reader, R};
use crate::payshield::lmk::EncryptedKey;
use crate::types::Kcv;
use std::fmt;
use zeroize::Zeroizing;

// ------------------------------------------------------------------ ND

/// ND body: LMK check value (16H) and firmware number (the rest, printable).
/// Real trace: `ND00` + `5D67270000000000` + `1500-0023`
/// (PayShieldPressureTest `README.md` @3a85979b L124-125).
pub fn parse_nd(body: &[u8]) -> R<(String, String)> {
    let mut r = Reader::new(body);
    let kcv = r.take(16, "lmk check value")?;
    if !kcv
        .iter()
        .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    {
        return Err(CodecError::new("lmk check value", "not upper-case hex"));
    }
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

/// Writes an ND body.
pub fn encode_nd(out: &mut Vec<u8>, lmk_check: &str, firmware: &str) {
    out.extend_from_slice(lmk_check.as_bytes());
    out.extend_from_slice(firmware.as_bytes());
}

// ------------------------------------------------------------------ PIN

/// A translated PIN block (CB, CD, CJ, G1): PIN length 2N, PIN block 16H,
/// format 2N (ut-codec-payshield test.js @4063d5b8 L900 `CB00` + `06` +
/// `14D3E09CD3B6456E` + `01`; L1181 for G1). Under an AES destination key
/// the PIN block is 32H (ISO format 4; **unconfirmed**, no public frame).
#[derive(Clone, PartialEq, Eq)]
pub struct PinTranslation {
    /// PIN length.
    pub pin_len: u8,
    /// The PIN block under the destination key (8 or 16 bytes).
    pub pin_block: Vec<u8>,
    /// Its payShield format code.
    pub format: [u8; 2],
}

impl fmt::Debug for PinTranslation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinTranslation(***)")
    }
}

/// Parses CB / CD / CJ / G1 bodies into the translation and what follows.
pub fn parse_pin_translation_fields(body: &[u8]) -> R<(PinTranslation, &[u8])> {
    parse_pin_translation_fields_n(body, 8)
}

/// [`parse_pin_translation_fields`] with a PIN block of `block_len` bytes
/// (16 under an AES destination key).
pub fn parse_pin_translation_fields_n(body: &[u8], block_len: usize) -> R<(PinTranslation, &[u8])> {
    let mut r = Reader::new(body);
    let pin_len = r.number(2, "pin length")?;
    if !(4..=12).contains(&pin_len) {
        return Err(CodecError::new("pin length", "not 04 to 12"));
    }
    let pin_block = r.hex(2 * block_len, "pin block")?;
    let format = r.array::<2>("pin block format")?;
    if !format.iter().all(u8::is_ascii_digit) {
        return Err(CodecError::new("pin block format", "expected 2 digits"));
    }
    Ok((
        PinTranslation {
            pin_len: pin_len as u8,
            pin_block,
            format,
        },
        r.rest(),
    ))
}

/// Parses CB / CD / CJ / G1 bodies (fields after the format are ignored).
pub fn parse_pin_translation(body: &[u8]) -> R<PinTranslation> {
    Ok(parse_pin_translation_fields(body)?.0)
}

/// [`parse_pin_translation`] with a PIN block of `block_len` bytes.
pub fn parse_pin_translation_n(body: &[u8], block_len: usize) -> R<PinTranslation> {
    Ok(parse_pin_translation_fields_n(body, block_len)?.0)
}

/// Writes a CB / CD / CJ / G1 body.
pub fn encode_pin_translation(out: &mut Vec<u8>, t: &PinTranslation) -> R<()> {
    if !(4..=12).contains(&t.pin_len)
        || !t.format.iter().all(u8::is_ascii_digit)
        || !matches!(t.pin_block.len(), 8 | 16)
    {
        return Err(CodecError::new(
            "pin translation",
            "PIN length, block or format",
        ));
    }
    out.extend_from_slice(format!("{:02}", t.pin_len).as_bytes());
    push_hex(out, &t.pin_block);
    out.extend_from_slice(&t.format);
    Ok(())
}

// ------------------------------------------------------------------ keys

/// A key in a response: a key field (under the LMK or a ZMK) or `R` + a
/// TR-31 key block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOut {
    /// `U`/`T`/`X`/`Y` + hex, bare 16H, or `S` + a Thales key block.
    Key(EncryptedKey),
    /// `R` + TR-31 key block.
    Tr31(String),
}

/// A1 / A7 / A9 body: one or two keys, then a 6H key check value.
/// A1 mode 0 and A7: the key under the LMK; A1 mode 1: that and the key
/// under the ZMK (ut-codec-payshield test.js L228 `A100U…X…` + 6H); A9: the
/// key under the ZMK, or `R` + TR-31 block (`docs/A8_exportKey.png`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReply {
    /// The keys, in order.
    pub keys: Vec<KeyOut>,
    /// Key check value (6H).
    pub kcv: Kcv,
}

/// A 6H key check value.
pub fn parse_kcv6(r: &mut Reader<'_>) -> R<Kcv> {
    Ok(Kcv(r.hex_array::<3>("kcv")?))
}

/// Parses `keys` keys and a 6H KCV; returns what follows them.
pub fn parse_key_reply(body: &[u8], keys: usize) -> R<(KeyReply, &[u8])> {
    let mut r = Reader::new(body);
    let mut out = Vec::with_capacity(keys);
    for _ in 0..keys {
        out.push(if r.eat(b'R') {
            KeyOut::Tr31(r.tr31_block("key block")?.to_owned())
        } else {
            KeyOut::Key(r.key("key")?)
        });
    }
    let kcv = parse_kcv6(&mut r)?;
    Ok((KeyReply { keys: out, kcv }, r.rest()))
}

/// Writes an A1 / A7 / A9 body.
pub fn encode_key_reply(out: &mut Vec<u8>, k: &KeyReply) {
    for key in &k.keys {
        match key {
            KeyOut::Key(e) => e.write(out),
            KeyOut::Tr31(b) => {
                out.push(b'R');
                out.extend_from_slice(b.as_bytes());
            }
        }
    }
    push_hex(out, &k.kcv.0);
}

/// A1 (mode 0) / A7 body: key under LMK + KCV 6H (anything after ignored).
pub fn parse_key_kcv(body: &[u8]) -> R<(EncryptedKey, Kcv)> {
    let (KeyReply { mut keys, kcv }, _) = parse_key_reply(body, 1)?;
    match keys.pop() {
        Some(KeyOut::Key(k)) => Ok((k, kcv)),
        _ => Err(CodecError::new("key response", "expected a key field")),
    }
}

/// A9 body for a TR-31 export: `R` + key block + KCV 6H (anything after
/// ignored).
pub fn parse_tr31_export(body: &[u8]) -> R<(String, Kcv)> {
    let (KeyReply { mut keys, kcv }, _) = parse_key_reply(body, 1)?;
    match keys.pop() {
        Some(KeyOut::Tr31(b)) => Ok((b, kcv)),
        _ => Err(CodecError::new("key scheme", "expected R and a key block")),
    }
}

/// BV body: KCV, 16H or 6H (which one depends on the KCV type the request
/// asked for, so a length other than these is an error here).
pub fn parse_bv(body: &[u8]) -> R<Vec<u8>> {
    if body.len() != 16 && body.len() != 6 {
        return Err(CodecError::new("kcv", "expected 16 or 6 hex digits"));
    }
    Reader::new(body).hex(body.len(), "kcv")
}

// ------------------------------------------------------------------ CVV, data, MAC, ARPC

/// CX body: the 3-digit CVV and what follows it.
pub fn parse_cx_fields(body: &[u8]) -> R<([u8; 3], &[u8])> {
    let mut r = Reader::new(body);
    let d = r.digits(3, "cvv")?;
    let mut a = [0u8; 3];
    a.copy_from_slice(d.as_bytes());
    Ok((a, r.rest()))
}

/// CX body: the 3-digit CVV (anything after it ignored).
pub fn parse_cx(body: &[u8]) -> R<[u8; 3]> {
    Ok(parse_cx_fields(body)?.0)
}

/// An M1 / M3 body: `[IV 16H / 32H]` + length 4H + data.
///
/// **Unconfirmed:** where the IV goes in a CBC-mode response. Every public
/// M1/M3 frame is ECB (`M100` + `0020` + data, ut-codec-payshield test.js
/// L2077/L2084, which parses the rest as opaque). This codec puts the
/// next IV first, before the length, mirroring the request (IV before the
/// length); a real HSM may differ.
#[derive(Clone, PartialEq, Eq)]
pub struct DataReply {
    /// The IV for chaining the next call (CBC modes): 8 bytes, 16 under
    /// an AES key.
    pub iv: Option<Vec<u8>>,
    /// The output field as sent (hex text for output format `1`).
    pub data: Vec<u8>,
}

impl fmt::Debug for DataReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataReply")
            .field("data_len", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// Parses an M1 / M3 body and returns what follows the data.
pub fn parse_data_fields(body: &[u8], has_iv: bool) -> R<(DataReply, &[u8])> {
    parse_data_fields_iv(body, if has_iv { 8 } else { 0 })
}

/// [`parse_data_fields`] with an IV of `iv_len` bytes (0: none, 8, or 16
/// under an AES key).
pub fn parse_data_fields_iv(body: &[u8], iv_len: usize) -> R<(DataReply, &[u8])> {
    let mut r = Reader::new(body);
    let iv = if iv_len > 0 {
        Some(r.hex(2 * iv_len, "iv")?)
    } else {
        None
    };
    let n = r.hex_number(4, "message length")?;
    let data = r.take(n, "message")?.to_vec();
    Ok((DataReply { iv, data }, r.rest()))
}

/// M1 / M3 body: the output field (anything after it ignored).
pub fn parse_data(body: &[u8], has_iv: bool) -> R<Vec<u8>> {
    Ok(parse_data_fields(body, has_iv)?.0.data)
}

/// [`parse_data`] with an IV of `iv_len` bytes (0: none).
pub fn parse_data_iv(body: &[u8], iv_len: usize) -> R<Vec<u8>> {
    Ok(parse_data_fields_iv(body, iv_len)?.0.data)
}

/// Writes an M1 / M3 body.
pub fn encode_data(out: &mut Vec<u8>, d: &DataReply) -> R<()> {
    if d.data.len() > 0xFFFF {
        return Err(CodecError::new(
            "message",
            "longer than 4 hex digits of length",
        ));
    }
    if let Some(iv) = &d.iv {
        push_hex(out, iv);
    }
    out.extend_from_slice(format!("{:04X}", d.data.len()).as_bytes());
    out.extend_from_slice(&d.data);
    Ok(())
}

/// M7 body: a MAC of `mac_len` bytes as hex, and what follows it.
pub fn parse_mac_fields(body: &[u8], mac_len: usize) -> R<(Vec<u8>, &[u8])> {
    let mut r = Reader::new(body);
    let m = r.hex(mac_len * 2, "mac")?;
    Ok((m, r.rest()))
}

/// M7 body: a MAC of `mac_len` bytes (anything after it ignored).
pub fn parse_mac(body: &[u8], mac_len: usize) -> R<Vec<u8>> {
    Ok(parse_mac_fields(body, mac_len)?.0)
}

/// KR body for modes 1 and 2: the 8-byte binary ARPC and what follows.
pub fn parse_kr_fields(body: &[u8]) -> R<([u8; 8], &[u8])> {
    let mut r = Reader::new(body);
    let a = r.array::<8>("arpc")?;
    Ok((a, r.rest()))
}

/// KR body for modes 1 and 2: the 8-byte ARPC (anything after ignored).
pub fn parse_kr(body: &[u8]) -> R<[u8; 8]> {
    Ok(parse_kr_fields(body)?.0)
}

/// Appends a successful KR body (after error `00`): the 8-byte binary ARPC
/// in modes 1 and 2, nothing in mode 0 — the layout [`parse_kr`] reads and
/// the KQ module documents (sources in [`super::kq`]).
pub fn encode_kr(out: &mut Vec<u8>, arpc: Option<&[u8; 8]>) {
    if let Some(a) = arpc {
        out.extend_from_slice(a);
    }
}

// ------------------------------------------------------------------ issuer PIN

/// DF body: the offset field, 12 characters (digits left-justified, `F`
/// padding; ut-codec-payshield test.js L1433 `DF02` + `000000FFFFFF`), and
/// what follows it.
pub fn parse_offset_fields(body: &[u8]) -> R<(Zeroizing<[u8; 12]>, &[u8])> {
    let mut r = Reader::new(body);
    let o = r.array::<12>("offset")?;
    if !o
        .iter()
        .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    {
        return Err(CodecError::new("offset", "not upper-case hex"));
    }
    Ok((Zeroizing::new(o), r.rest()))
}

/// EF, JB, JD, JF, BB body: the PIN under the LMK. It is the whole body:
/// its length (5 to 13) is the HSM's configured encrypted PIN length, which
/// nothing in the response states (ut-codec-payshield test.js L1551 `EF02`
/// + `73638636`, L3186 `JB00` + `2637279`).
pub fn parse_lmk_pin(body: &[u8]) -> R<LmkPin> {
    LmkPin::new(body)
}

/// DH body: the 4-digit PVV (ThalesSim test L159 `00` + `4402`) and what
/// follows it.
pub fn parse_pvv_fields(body: &[u8]) -> R<(Zeroizing<[u8; 4]>, &[u8])> {
    let mut r = Reader::new(body);
    let d = r.digits(4, "pvv")?;
    let mut a = Zeroizing::new([0u8; 4]);
    a.copy_from_slice(d.as_bytes());
    Ok((a, r.rest()))
}

/// JH body: the PIN block 16H (ThalesSim test L204 `00` +
/// `E98FFDA17099AF55`) and what follows it.
pub fn parse_pin_block_fields(body: &[u8]) -> R<([u8; 8], &[u8])> {
    let mut r = Reader::new(body);
    let b = r.hex_array::<8>("pin block")?;
    Ok((b, r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_fields_are_kept_not_refused() {
        let (t, rest) = parse_pin_translation_fields(b"041234567890ABCDEF01XYZ").unwrap();
        assert_eq!(rest, b"XYZ");
        let mut out = Vec::new();
        encode_pin_translation(&mut out, &t).unwrap();
        assert_eq!(out, b"041234567890ABCDEF01");
        assert!(parse_pin_translation(b"991234567890ABCDEF01").is_err());
        assert!(parse_pin_translation(b"041234567890abcdef01").is_err());
        assert_eq!(parse_cx(b"123\x00").unwrap(), *b"123");
        assert_eq!(parse_data(b"0002hiX", false).unwrap(), b"hi");
        assert!(parse_data(b"0003hi", false).is_err());
        let (k, rest) = parse_key_reply(
            b"UAE79B4FFA40D7B229CC683DE461BC734X4DC5B9381D893C6626A37D2F40809FEA1C96B6",
            2,
        )
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(k.keys.len(), 2);
        let mut out = Vec::new();
        encode_key_reply(&mut out, &k);
        assert_eq!(
            out,
            b"UAE79B4FFA40D7B229CC683DE461BC734X4DC5B9381D893C6626A37D2F40809FEA1C96B6"
        );
        assert!(parse_tr31_export(b"U8D6E42E33CCDD7C1ABB2F4C74E3B3DE8A24667").is_err());
        assert!(parse_bv(b"8FFED1").is_ok());
        let (o, rest) = parse_offset_fields(b"000000FFFFFFX").unwrap();
        assert_eq!((&o[..], rest), (&b"000000FFFFFF"[..], &b"X"[..]));
        assert!(parse_offset_fields(b"000000ffffff").is_err());
        assert_eq!(parse_lmk_pin(b"2637279").unwrap().as_bytes(), b"2637279");
        assert!(parse_lmk_pin(b"1234").is_err() && parse_lmk_pin(b"26372a9").is_err());
        assert_eq!(&parse_pvv_fields(b"4402").unwrap().0[..], b"4402");
        assert!(parse_pvv_fields(b"44A2").is_err());
        assert_eq!(
            parse_pin_block_fields(b"E98FFDA17099AF55").unwrap().0,
            [0xE9, 0x8F, 0xFD, 0xA1, 0x70, 0x99, 0xAF, 0x55]
        );
        assert!(parse_bv(b"8ffed1").is_err());
    }
}

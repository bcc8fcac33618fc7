//! Typed host command requests: the one parser the simulator (and the
//! golden-frame tests) read requests with and the one encoder the client's
//! request functions write them with. For every byte string `x`,
//! `encode_request(parse_request(x)) == x` whenever `x` parses (the fuzz
//! target checks it), so the reader and the writer cannot drift apart.
//!
//! Parsers are strict and canonical, as an HSM is: hex is upper case, a
//! single-length key is bare 16H, nothing may follow the last field except
//! an LMK identifier (`%` + 2N). Errors name the field; the simulator maps
//! (command, field) to the payShield error code.
//!
//! Layouts and the public source behind each one are documented on each
//! type; `docs/research/payshield-sources.md` holds the frames and their
//! citations. Where no public source exists, the type's documentation says
//! so.

use super::kq::{encode_kq, read_kq, KqRequest};
use super::kw::{encode_kw, read_kw, KwRequest};
use super::{push_hex, CodecError, Reader, R};
use crate::payshield::lmk::{EncryptedKey, KeyScheme, KeyType};
use std::fmt;
use zeroize::Zeroizing;

// ------------------------------------------------------------------ shared fields

/// The KSN descriptor of G0, M0/M2 (and CI, GO, GQ, GW): three hex digits
/// `XYZ` = length of the base derivation key identifier, of the sub-key
/// identifier (reserved, 0) and of the device identifier, in hex digits.
/// The KSN field that follows has X + Y + Z + 5 hex digits (the
/// transaction counter takes the last 5), 12 to 20.
///
/// Sources: the "Doing PIN Translation" blog comment (andyorrock.typepad.com,
/// 2006: "'605' says that the 16-digit KSN consists of a 6-position BDK ID,
/// a 0-position sub-key, a 5-position device ID … and a 5-position
/// transaction counter"); the manual's CI / G0 tables ("KSN descriptor 3 H";
/// "Key serial number 12 - 20 H"); real frames `A05` + 20 digits
/// (ut-codec-payshield test.js @4063d5b8 L1136) and `609` + 20 digits
/// (dinamo `EFT/m0_m1.sh` @9c182fc5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KsnDescriptor([u8; 3]);

impl KsnDescriptor {
    /// Shortest and longest KSN field (hex digits).
    pub const KSN_DIGITS: std::ops::RangeInclusive<usize> = 12..=20;

    /// Parses the 3 upper-case hex digits; the KSN length they describe must
    /// be 12 to 20 digits.
    pub fn parse(code: &[u8]) -> R<Self> {
        let bad = CodecError::new("ksn descriptor", "expected 3 hex digits (X+Y+Z+5 = 12..20)");
        let c: [u8; 3] = code.try_into().map_err(|_| bad)?;
        if !c
            .iter()
            .all(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(d))
        {
            return Err(bad);
        }
        let d = Self(c);
        if !Self::KSN_DIGITS.contains(&d.ksn_digits()) {
            return Err(bad);
        }
        Ok(d)
    }

    /// The descriptor for a KSN of `digits` hex digits: the device
    /// identifier takes 5 digits, the sub-key 0 and the BDK identifier the
    /// rest (`A05` for 20 digits, as the public frames send; `605` for 16).
    pub fn for_ksn_digits(digits: usize) -> R<Self> {
        if !Self::KSN_DIGITS.contains(&digits) {
            return Err(CodecError::new(
                "ksn",
                "a KSN field has 12 to 20 hex digits",
            ));
        }
        let x = b"0123456789ABCDEF"
            .get(digits - 10)
            .copied()
            .ok_or(CodecError::new("ksn", "too long"))?;
        Ok(Self([x, b'0', b'5']))
    }

    /// The number of hex digits of the KSN field it describes.
    pub fn ksn_digits(self) -> usize {
        self.0
            .iter()
            .map(|c| super::hex_val(*c).map_or(0, usize::from))
            .sum::<usize>()
            + 5
    }

    /// The 3 characters.
    pub fn code(self) -> [u8; 3] {
        self.0
    }
}

/// A DUKPT key serial number field: descriptor + KSN (as hex text; its
/// length is fixed by the descriptor and may be odd).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsnField {
    /// The descriptor.
    pub descriptor: KsnDescriptor,
    /// The KSN, `descriptor.ksn_digits()` upper-case hex digits.
    pub ksn: String,
}

impl KsnField {
    /// The field for a binary KSN (10 bytes for TDES DUKPT): descriptor
    /// derived from its length.
    pub fn from_bytes(ksn: &[u8]) -> R<Self> {
        let descriptor = KsnDescriptor::for_ksn_digits(ksn.len() * 2)?;
        let mut t = Vec::with_capacity(ksn.len() * 2);
        push_hex(&mut t, ksn);
        Ok(Self {
            descriptor,
            ksn: String::from_utf8(t).map_err(|_| CodecError::new("ksn", "not hex"))?,
        })
    }

    fn read(r: &mut Reader<'_>) -> R<Self> {
        let descriptor = KsnDescriptor::parse(r.take(3, "ksn descriptor")?)?;
        let k = r.take(descriptor.ksn_digits(), "ksn")?;
        if !k
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
        {
            return Err(CodecError::new("ksn", "expected upper-case hex digits"));
        }
        let ksn = String::from_utf8(k.to_vec()).map_err(|_| CodecError::new("ksn", "not hex"))?;
        Ok(Self { descriptor, ksn })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        if self.ksn.len() != self.descriptor.ksn_digits()
            || !self
                .ksn
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
        {
            return Err(CodecError::new(
                "ksn",
                "length does not match the KSN descriptor",
            ));
        }
        out.extend_from_slice(&self.descriptor.code());
        out.extend_from_slice(self.ksn.as_bytes());
        Ok(())
    }
}

/// Reads one digit out of `allowed`, else errors on `field`.
fn flag(r: &mut Reader<'_>, field: &'static str, allowed: &[u8]) -> R<u8> {
    let [c] = r.array::<1>(field)?;
    if allowed.contains(&c) {
        Ok(c)
    } else {
        Err(CodecError::new(field, "value not recognised"))
    }
}

fn digits<const N: usize>(r: &mut Reader<'_>, field: &'static str) -> R<[u8; N]> {
    let a = r.array::<N>(field)?;
    if a.iter().all(u8::is_ascii_digit) {
        Ok(a)
    } else {
        Err(CodecError::new(field, "expected decimal digits"))
    }
}

fn key_scheme(r: &mut Reader<'_>, field: &'static str) -> R<KeyScheme> {
    let [c] = r.array::<1>(field)?;
    KeyScheme::from_tag(c).ok_or(CodecError::new(field, "unknown key scheme"))
}

fn check_digits(field: &'static str, b: &[u8]) -> R<()> {
    if b.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(CodecError::new(field, "expected decimal digits"))
    }
}

/// A length-prefixed message (4H = number of characters of the field, as
/// the dinamo M0 frame `0030` + 48 hex characters and the ThalesSim M6
/// frame `0040` + 64 hex characters show).
fn read_message(r: &mut Reader<'_>) -> R<Zeroizing<Vec<u8>>> {
    let n = r.hex_number(4, "message length")?;
    Ok(Zeroizing::new(r.take(n, "message")?.to_vec()))
}

fn write_message(out: &mut Vec<u8>, m: &[u8]) -> R<()> {
    if m.len() > 0xFFFF {
        return Err(CodecError::new(
            "message",
            "longer than 4 hex digits of length",
        ));
    }
    out.extend_from_slice(format!("{:04X}", m.len()).as_bytes());
    out.extend_from_slice(m);
    Ok(())
}

// ------------------------------------------------------------------ key management

/// A0 generate key. Layout (notes; ut-codec-payshield test.js @4063d5b8
/// L88 `A00002U`, L130 `A01002U;0U…X`; pythales `tests.py` @8c4042b6 L88):
/// mode 1N · key type 3H · key scheme (LMK) 1A · mode `1` only: [`;` +
/// ZMK/TMK flag 1N] · ZMK/TMK · key scheme (ZMK) 1A.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A0 {
    /// Key type to generate.
    pub key_type: KeyType,
    /// Key scheme under the LMK.
    pub scheme: KeyScheme,
    /// Mode `1`: also export under this ZMK/TMK.
    pub export: Option<A0Export>,
}

/// The mode-1 part of [`A0`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A0Export {
    /// ZMK/TMK flag after `;` (`0` ZMK, `1` TMK), when sent.
    pub flag: Option<u8>,
    /// The ZMK or TMK under the LMK.
    pub zmk: EncryptedKey,
    /// Key scheme under the ZMK.
    pub scheme: KeyScheme,
}

impl A0 {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let mode = flag(r, "mode", b"01")?;
        let key_type = r.key_type("key type")?;
        let scheme = key_scheme(r, "key scheme")?;
        let export = if mode == b'1' {
            let flag = if r.eat(b';') {
                Some(flag(r, "zmk/tmk flag", b"01")?)
            } else {
                None
            };
            let zmk = r.key("zmk")?;
            let scheme = key_scheme(r, "zmk key scheme")?;
            Some(A0Export { flag, zmk, scheme })
        } else {
            None
        };
        Ok(Self {
            key_type,
            scheme,
            export,
        })
    }

    /// Appends `A0` and the fields (never fails: every field is typed).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"A0");
        self.write(out);
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(if self.export.is_some() { b'1' } else { b'0' });
        out.extend_from_slice(&self.key_type.code());
        out.push(self.scheme.tag());
        if let Some(e) = &self.export {
            if let Some(f) = e.flag {
                out.push(b';');
                out.push(f);
            }
            e.zmk.write(out);
            out.push(e.scheme.tag());
        }
    }
}

/// A key as it arrives under a ZMK: a key field, or `R` + a TR-31 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUnderZmk {
    /// `U`/`T`/`X`/`Y` + hex, or bare 16H.
    Key(EncryptedKey),
    /// `R` + TR-31 key block (self-delimiting by its length field).
    Tr31(String),
}

/// Optional Atalla variant digits (1 or 2) after the key scheme of A6/A8
/// (ThalesSim `HostCommandTests.vb` @9d718466 L148 `…Z5`, L153 `…U1`).
fn read_atalla(r: &mut Reader<'_>) -> R<Option<Vec<u8>>> {
    let rest = r.rest();
    let n = rest
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(r.take(n, "atalla variant")?.to_vec()))
}

/// A6 import key. Layout (notes; dinamo `EFT/a6_a7.sh`; ThalesSim tests
/// L147-154; ut-codec-payshield test.js L368/L388): key type 3H · ZMK ·
/// key under ZMK (key, or `R` + TR-31 block) · key scheme (LMK) 1A ·
/// [Atalla variant 1-2N].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A6 {
    /// Key type of the imported key.
    pub key_type: KeyType,
    /// The ZMK under the LMK.
    pub zmk: EncryptedKey,
    /// The key under the ZMK.
    pub key: KeyUnderZmk,
    /// Key scheme under the LMK.
    pub scheme: KeyScheme,
    /// Atalla variant digits, when sent (the simulator does not model them).
    pub atalla: Option<Vec<u8>>,
}

impl A6 {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let key_type = r.key_type("key type")?;
        let zmk = r.key("zmk")?;
        let key = if r.eat(b'R') {
            KeyUnderZmk::Tr31(r.tr31_block("key block")?.to_owned())
        } else {
            KeyUnderZmk::Key(r.key("key under zmk")?)
        };
        let scheme = key_scheme(r, "key scheme lmk")?;
        let atalla = read_atalla(r)?;
        Ok(Self {
            key_type,
            zmk,
            key,
            scheme,
            atalla,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.extend_from_slice(&self.key_type.code());
        self.zmk.write(out);
        match &self.key {
            KeyUnderZmk::Key(k) => k.write(out),
            KeyUnderZmk::Tr31(b) => {
                out.push(b'R');
                out.extend_from_slice(b.as_bytes());
            }
        }
        out.push(self.scheme.tag());
        write_atalla(out, self.atalla.as_deref())
    }
}

fn write_atalla(out: &mut Vec<u8>, a: Option<&[u8]>) -> R<()> {
    if let Some(a) = a {
        if a.is_empty() || a.len() > 2 || !a.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new("atalla variant", "1 or 2 digits"));
        }
        out.extend_from_slice(a);
    }
    Ok(())
}

/// The `&` fields of an A8 TR-31 export from a variant LMK.
///
/// Layout (ut-codec-payshield `docs/A8_exportKey.png` @4063d5b8, the
/// payShield 9000 A8 table; research file Q4): `&` · key usage 2A · mode
/// of use 1A · key version number 2N · exportability 1A (`N`/`S`) · number
/// of optional blocks 2N (`00`-`02`; "must be present if the above
/// delimiter is present") · per block: id 2A, length 2H (the whole block,
/// `04`-`FF`), data · then optionally `!` + key block version 1A (`A`, `B`,
/// `C`, `D`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr31Export {
    /// TR-31 key usage (2 characters).
    pub usage: [u8; 2],
    /// Mode of use (1 character).
    pub mode_of_use: u8,
    /// Key version number (2 digits).
    pub key_version: [u8; 2],
    /// Exportability (`N`, `S`; `E` is refused by the simulator).
    pub exportability: u8,
    /// Optional blocks: id and data (0 to 2).
    pub optional_blocks: Vec<([u8; 2], String)>,
    /// Key block version after `!`, when sent.
    pub version: Option<u8>,
}

impl Tr31Export {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        r.expect(b'&', "key block fields")?;
        let usage = r.array::<2>("key usage")?;
        if !usage.iter().all(u8::is_ascii_alphanumeric) {
            return Err(CodecError::new("key usage", "expected 2 letters or digits"));
        }
        let [mode_of_use] = r.array::<1>("mode of use")?;
        if !mode_of_use.is_ascii_alphanumeric() {
            return Err(CodecError::new("mode of use", "expected a letter or digit"));
        }
        let key_version = digits::<2>(r, "key version")?;
        let exportability = flag(r, "exportability", b"ENS")?;
        let n = r.number(2, "number of optional blocks")?;
        if n > 2 {
            return Err(CodecError::new("number of optional blocks", "more than 02"));
        }
        let mut optional_blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.array::<2>("optional block")?;
            if !id.iter().all(u8::is_ascii_alphanumeric) || &id == b"PB" {
                return Err(CodecError::new("optional block", "bad identifier"));
            }
            let len = r.hex_number(2, "optional block")?;
            if len < 4 {
                return Err(CodecError::new("optional block", "length under 04"));
            }
            let data = r.take(len - 4, "optional block")?;
            if !data.iter().all(|c| (0x20..=0x7E).contains(c)) {
                return Err(CodecError::new("optional block", "not printable ASCII"));
            }
            let data = String::from_utf8(data.to_vec())
                .map_err(|_| CodecError::new("optional block", "not ASCII"))?;
            optional_blocks.push((id, data));
        }
        let version = if r.eat(b'!') {
            Some(flag(r, "key block version", b"ABCD")?)
        } else {
            None
        };
        Ok(Self {
            usage,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks,
            version,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.push(b'&');
        out.extend_from_slice(&self.usage);
        out.push(self.mode_of_use);
        check_digits("key version", &self.key_version)?;
        out.extend_from_slice(&self.key_version);
        out.push(self.exportability);
        if self.optional_blocks.len() > 2 {
            return Err(CodecError::new("number of optional blocks", "more than 02"));
        }
        out.extend_from_slice(format!("{:02}", self.optional_blocks.len()).as_bytes());
        for (id, data) in &self.optional_blocks {
            let len = data.len() + 4;
            if len > 0xFF {
                return Err(CodecError::new("optional block", "longer than FF"));
            }
            out.extend_from_slice(id);
            out.extend_from_slice(format!("{len:02X}").as_bytes());
            out.extend_from_slice(data.as_bytes());
        }
        if let Some(v) = self.version {
            out.push(b'!');
            out.push(v);
        }
        Ok(())
    }
}

/// How A8 exports the key: under a key scheme, or as a TR-31 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum A8Export {
    /// Key scheme (ZMK) 1A and optional Atalla variant digits.
    Scheme(KeyScheme, Option<Vec<u8>>),
    /// Key scheme `R` and the `&` fields.
    Tr31(Tr31Export),
}

/// A8 export key. Layout (notes; ThalesSim tests L106-110;
/// ut-codec-payshield test.js L476/L498 and `docs/A8_exportKey.png`): key
/// type 3H · [`;` + ZMK/TMK flag 1N] · ZMK/TMK · key under LMK · key scheme
/// (ZMK) 1A · (`R`: [`Tr31Export`]; other: [Atalla variant 1-2N]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A8 {
    /// Key type of the exported key.
    pub key_type: KeyType,
    /// ZMK/TMK flag after `;`, when sent.
    pub flag: Option<u8>,
    /// The ZMK (or TMK) under the LMK.
    pub zmk: EncryptedKey,
    /// The key to export, under the LMK.
    pub key: EncryptedKey,
    /// The export form.
    pub export: A8Export,
}

impl A8 {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let key_type = r.key_type("key type")?;
        let flag = if r.eat(b';') {
            Some(flag(r, "zmk/tmk flag", b"01")?)
        } else {
            None
        };
        let zmk = r.key("zmk")?;
        let key = r.key("key")?;
        let export = if r.eat(b'R') {
            A8Export::Tr31(Tr31Export::read(r)?)
        } else {
            let s = key_scheme(r, "key scheme zmk")?;
            A8Export::Scheme(s, read_atalla(r)?)
        };
        Ok(Self {
            key_type,
            flag,
            zmk,
            key,
            export,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.extend_from_slice(&self.key_type.code());
        if let Some(f) = self.flag {
            out.push(b';');
            out.push(f);
        }
        self.zmk.write(out);
        self.key.write(out);
        match &self.export {
            A8Export::Scheme(s, atalla) => {
                out.push(s.tag());
                write_atalla(out, atalla.as_deref())
            }
            A8Export::Tr31(t) => {
                out.push(b'R');
                t.write(out)
            }
        }
    }
}

/// BU generate a key check value. Layout (notes; ThalesSim tests
/// L130-133; ut-codec-payshield test.js L743-794; dinamo `EFT/bu_bv.sh`):
/// key type code 2 (`FF`: the 3-character key type follows after the key)
/// · key length flag 1N (`0` single, `1` double, `2` triple) · key · [`;` +
/// key type 3H, code `FF` only] · [`;` + reserved 2N + KCV type 1N].
///
/// The split of the last group (`;` `00` `1`) is inferred from the
/// ut-codec-payshield frames (`;001` is answered with a 6H KCV, `;000` with
/// 16H); no manual text for it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bu {
    /// Key type for the key: with code `FF` sent as `FF` + `;` + 3H, else
    /// as its 2-character LMK code (variant 0 only).
    pub key_type: KeyType,
    /// Whether the `FF` form is used.
    pub long_form: bool,
    /// Key length flag (`0`, `1`, `2`).
    pub length_flag: u8,
    /// The key under the LMK.
    pub key: EncryptedKey,
    /// Reserved digits and KCV type (`0` 16H, `1` 6H), when sent.
    pub kcv_type: Option<([u8; 2], u8)>,
}

impl Bu {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let code = r.array::<2>("key type code")?;
        let length_flag = flag(r, "key length flag", b"012")?;
        let key = r.key("key")?;
        let (key_type, long_form) = if &code == b"FF" {
            r.expect(b';', "key type")?;
            (r.key_type("key type")?, true)
        } else {
            let c = [b'0', code[0], code[1]];
            let kt = KeyType::parse(&c)
                .map_err(|_| CodecError::new("key type code", "invalid key type code"))?;
            (kt, false)
        };
        let kcv_type = if r.eat(b';') {
            let reserved = digits::<2>(r, "kcv type")?;
            Some((reserved, flag(r, "kcv type", b"01")?))
        } else {
            None
        };
        Ok(Self {
            key_type,
            long_form,
            length_flag,
            key,
            kcv_type,
        })
    }

    /// Appends `BU` and the fields; `out` is unchanged on error (a short
    /// key type code for a variant other than 0, non-digit reserved field).
    pub fn write_to(&self, out: &mut Vec<u8>) -> R<()> {
        let mut b = b"BU".to_vec();
        self.write(&mut b)?;
        out.extend_from_slice(&b);
        Ok(())
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        let c = self.key_type.code();
        if self.long_form {
            out.extend_from_slice(b"FF");
        } else {
            if c[0] != b'0' {
                return Err(CodecError::new(
                    "key type code",
                    "a variant other than 0 needs the FF form",
                ));
            }
            out.extend_from_slice(&c[1..]);
        }
        out.push(self.length_flag);
        self.key.write(out);
        if self.long_form {
            out.push(b';');
            out.extend_from_slice(&c);
        }
        if let Some((reserved, t)) = self.kcv_type {
            check_digits("kcv type", &reserved)?;
            out.push(b';');
            out.extend_from_slice(&reserved);
            out.push(t);
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ PIN

/// CA (TPK → ZPK) / CC (ZPK → ZPK) translate a PIN block. Layout (notes;
/// the manual's CA/CC tables; ThalesSim tests L191/L216-220;
/// ut-codec-payshield test.js L848/L1056): source key · destination key ·
/// maximum PIN length 2N · PIN block 16H · source format 2N · destination
/// format 2N · account number 12N.
#[derive(Clone, PartialEq, Eq)]
pub struct PinTranslate {
    /// Source TPK (CA) or ZPK (CC).
    pub source_key: EncryptedKey,
    /// Destination ZPK.
    pub destination_key: EncryptedKey,
    /// Maximum PIN length (2 digits).
    pub max_pin_len: u8,
    /// The PIN block under the source key.
    pub pin_block: [u8; 8],
    /// Source PIN block format code.
    pub source_format: [u8; 2],
    /// Destination PIN block format code.
    pub destination_format: [u8; 2],
    /// The 12 account number digits.
    pub account: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for PinTranslate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinTranslate")
            .field(
                "source_format",
                &String::from_utf8_lossy(&self.source_format),
            )
            .field(
                "destination_format",
                &String::from_utf8_lossy(&self.destination_format),
            )
            .finish_non_exhaustive()
    }
}

impl PinTranslate {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let source_key = r.key("source key")?;
        let destination_key = r.key("destination key")?;
        let max_pin_len = r.number(2, "maximum pin length")? as u8;
        let pin_block = r.hex_array::<8>("pin block")?;
        let source_format = digits::<2>(r, "source format")?;
        let destination_format = digits::<2>(r, "destination format")?;
        let account = Zeroizing::new(digits::<12>(r, "account number")?);
        Ok(Self {
            source_key,
            destination_key,
            max_pin_len,
            pin_block,
            source_format,
            destination_format,
            account,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.source_key.write(out);
        self.destination_key.write(out);
        if self.max_pin_len > 99 {
            return Err(CodecError::new("maximum pin length", "2 digits"));
        }
        out.extend_from_slice(format!("{:02}", self.max_pin_len).as_bytes());
        push_hex(out, &self.pin_block);
        check_digits("source format", &self.source_format)?;
        check_digits("destination format", &self.destination_format)?;
        check_digits("account number", &self.account[..])?;
        out.extend_from_slice(&self.source_format);
        out.extend_from_slice(&self.destination_format);
        out.extend_from_slice(&self.account[..]);
        Ok(())
    }
}

/// G0 translate a TDES DUKPT PIN block to a ZPK. Layout (the manual's G0
/// table; ThalesSim `TranslatePINFromDUKPTToZPK3DES_G0.xml`;
/// ut-codec-payshield test.js L1136): BDK · ZPK · KSN descriptor 3H · KSN ·
/// PIN block 16H · source format 2N · destination format 2N · account 12N
/// (no maximum PIN length).
#[derive(Clone, PartialEq, Eq)]
pub struct G0 {
    /// BDK under the LMK.
    pub bdk: EncryptedKey,
    /// Destination ZPK under the LMK.
    pub zpk: EncryptedKey,
    /// KSN descriptor and KSN.
    pub ksn: KsnField,
    /// The PIN block under the DUKPT PIN key.
    pub pin_block: [u8; 8],
    /// Source PIN block format code (the 9000 manual: only `01`).
    pub source_format: [u8; 2],
    /// Destination PIN block format code.
    pub destination_format: [u8; 2],
    /// The 12 account number digits.
    pub account: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for G0 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("G0")
            .field("ksn", &self.ksn)
            .finish_non_exhaustive()
    }
}

impl G0 {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let bdk = r.key("bdk")?;
        let zpk = r.key("zpk")?;
        let ksn = KsnField::read(r)?;
        let pin_block = r.hex_array::<8>("pin block")?;
        let source_format = digits::<2>(r, "source format")?;
        let destination_format = digits::<2>(r, "destination format")?;
        let account = Zeroizing::new(digits::<12>(r, "account number")?);
        Ok(Self {
            bdk,
            zpk,
            ksn,
            pin_block,
            source_format,
            destination_format,
            account,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.bdk.write(out);
        self.zpk.write(out);
        self.ksn.write(out)?;
        push_hex(out, &self.pin_block);
        check_digits("source format", &self.source_format)?;
        check_digits("destination format", &self.destination_format)?;
        check_digits("account number", &self.account[..])?;
        out.extend_from_slice(&self.source_format);
        out.extend_from_slice(&self.destination_format);
        out.extend_from_slice(&self.account[..]);
        Ok(())
    }
}

// ------------------------------------------------------------------ data and MAC

/// M0 (encrypt) / M2 (decrypt) a data block. Layout (notes;
/// ut-codec-payshield `messages.json` pattern and test.js L2042-2168;
/// dinamo `EFT/m0_m1.sh`, `m2_m3.sh`): mode flag 2N (`00` ECB, `01` CBC,
/// `02`/`03` CFB: not modelled by the simulator) · input format 1N (`0`
/// binary, `1` hex, `2` text) · output format 1N (same) · key type 3H ·
/// key · [KSN descriptor + KSN, key type `009` BDK] · [IV 16H, mode ≠ `00`]
/// · message length 4H · message.
///
/// The message length counts the characters of the field (dinamo:
/// `0030` for 48 hex characters; ut-codec-payshield's key-block frames
/// disagree, see the research file). The response's IV position (M1/M3
/// in CBC mode): **no public source**; see [`super::reply::DataReply`].
#[derive(Clone, PartialEq, Eq)]
pub struct DataCipher {
    /// Mode flag (`00`-`03`).
    pub mode: [u8; 2],
    /// Input format flag.
    pub input_format: u8,
    /// Output format flag.
    pub output_format: u8,
    /// Key type.
    pub key_type: KeyType,
    /// The key under the LMK.
    pub key: EncryptedKey,
    /// DUKPT KSN (key type `009` only).
    pub ksn: Option<KsnField>,
    /// IV (modes other than `00`).
    pub iv: Option<[u8; 8]>,
    /// The message field as sent (hex text for input format `1`).
    pub message: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for DataCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataCipher")
            .field("mode", &String::from_utf8_lossy(&self.mode))
            .field("key_type", &self.key_type)
            .field("ksn", &self.ksn)
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl DataCipher {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        let mode = r.array::<2>("mode flag")?;
        if !matches!(&mode, b"00" | b"01" | b"02" | b"03") {
            return Err(CodecError::new("mode flag", "value not recognised"));
        }
        let input_format = flag(r, "input format", b"012")?;
        let output_format = flag(r, "output format", b"012")?;
        let key_type = r.key_type("key type")?;
        let key = r.key("key")?;
        let ksn = if key_type == KeyType::BDK {
            Some(KsnField::read(r)?)
        } else {
            None
        };
        let iv = if &mode == b"00" {
            None
        } else {
            Some(r.hex_array::<8>("iv")?)
        };
        let message = read_message(r)?;
        Ok(Self {
            mode,
            input_format,
            output_format,
            key_type,
            key,
            ksn,
            iv,
            message,
        })
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.extend_from_slice(&self.mode);
        out.push(self.input_format);
        out.push(self.output_format);
        out.extend_from_slice(&self.key_type.code());
        self.key.write(out);
        match (&self.ksn, self.key_type == KeyType::BDK) {
            (Some(k), true) => k.write(out)?,
            (None, false) => {}
            _ => return Err(CodecError::new("ksn", "present exactly for key type 009")),
        }
        match (&self.iv, &self.mode == b"00") {
            (Some(iv), false) => push_hex(out, iv),
            (None, true) => {}
            _ => return Err(CodecError::new("iv", "present exactly when mode is not 00")),
        }
        write_message(out, &self.message)
    }
}

/// M6 (generate) / M8 (verify) a MAC. Layout (the manual's M6/M8 tables
/// and ut-codec-payshield `messages.json` after its commit b1521680 "MAC
/// commands revised for firmware v3.2"; ThalesSim `GenerateMAC_M6.vb`
/// L42-43; frames test.js L2306-2412, ThalesSim tests L624/L630): mode flag
/// 1N · input format 1N (`0` binary, `1` hex, `2` text) · MAC size 1N ·
/// MAC algorithm 1N · padding method 1N · key type 3H (`003` TAK, `008`
/// ZAK) · key · [IV 16H, M6 modes 2/3] · message length 4H · message ·
/// [M8: MAC].
///
/// - MAC algorithm: `1` = ISO 9797-1 MAC algorithm 1, `3` = algorithm 3
///   (X9.19 retail MAC with a double-length key). `2` is not a published
///   value (before firmware 3.2 the same bytes were the 2-digit `01`/`03`).
/// - MAC size `0` = 8H (4 bytes): every public frame. Size `1` = 16H
///   (8 bytes): **no public frame**; kept because the manual has the field.
/// - Padding `0` none, `1` ISO 9797 method 1, `2` method 2 (manual). `3`
///   (method 3) is **not in any public source**; the codec keeps it so the
///   crate's `Iso9797Padding::Method3` can be sent, and a real HSM may
///   answer `09`.
/// - M8 modes other than `0`: the sources disagree on where the IV goes
///   (ut-codec-payshield: none; ThalesSim XML: modes 1, 2), so only mode
///   `0` is parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct MacCommand {
    /// Mode flag (M6: `0`-`3`; M8: `0`).
    pub mode: u8,
    /// Input format flag.
    pub input_format: u8,
    /// MAC size flag.
    pub mac_size: u8,
    /// MAC algorithm flag.
    pub algorithm: u8,
    /// Padding method flag.
    pub padding: u8,
    /// Key type.
    pub key_type: KeyType,
    /// The MAC key under the LMK.
    pub key: EncryptedKey,
    /// IV (M6 modes 2 and 3).
    pub iv: Option<[u8; 8]>,
    /// The message field as sent.
    pub message: Zeroizing<Vec<u8>>,
    /// M8: the MAC to verify (4 bytes for size `0`, 8 for `1`).
    pub mac: Option<Vec<u8>>,
}

impl fmt::Debug for MacCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacCommand")
            .field("algorithm", &char::from(self.algorithm))
            .field("key_type", &self.key_type)
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl MacCommand {
    /// The MAC length in bytes for the size flag.
    pub fn mac_len(size: u8) -> usize {
        if size == b'1' {
            8
        } else {
            4
        }
    }

    fn read(r: &mut Reader<'_>, verify: bool) -> R<Self> {
        let mode = flag(r, "mode flag", if verify { b"0" } else { b"0123" })?;
        let input_format = flag(r, "input format", b"012")?;
        let mac_size = flag(r, "mac size", b"01")?;
        let algorithm = flag(r, "mac algorithm", b"13")?;
        let padding = flag(r, "padding method", b"0123")?;
        let key_type = r.key_type("key type")?;
        let key = r.key("key")?;
        let iv = if !verify && matches!(mode, b'2' | b'3') {
            Some(r.hex_array::<8>("iv")?)
        } else {
            None
        };
        let message = read_message(r)?;
        let mac = if verify {
            Some(r.hex(Self::mac_len(mac_size) * 2, "mac")?)
        } else {
            None
        };
        Ok(Self {
            mode,
            input_format,
            mac_size,
            algorithm,
            padding,
            key_type,
            key,
            iv,
            message,
            mac,
        })
    }

    fn write(&self, out: &mut Vec<u8>, verify: bool) -> R<()> {
        for (v, field, allowed) in [
            (
                self.mode,
                "mode flag",
                if verify { &b"0"[..] } else { b"0123" },
            ),
            (self.input_format, "input format", b"012"),
            (self.mac_size, "mac size", b"01"),
            (self.algorithm, "mac algorithm", b"13"),
            (self.padding, "padding method", b"0123"),
        ] {
            if !allowed.contains(&v) {
                return Err(CodecError::new(field, "value not recognised"));
            }
            out.push(v);
        }
        out.extend_from_slice(&self.key_type.code());
        self.key.write(out);
        let wants_iv = !verify && matches!(self.mode, b'2' | b'3');
        match (&self.iv, wants_iv) {
            (Some(iv), true) => push_hex(out, iv),
            (None, false) => {}
            _ => {
                return Err(CodecError::new(
                    "iv",
                    "present exactly for M6 modes 2 and 3",
                ))
            }
        }
        write_message(out, &self.message)?;
        match (&self.mac, verify) {
            (Some(m), true) if m.len() == Self::mac_len(self.mac_size) => push_hex(out, m),
            (None, false) => {}
            _ => return Err(CodecError::new("mac", "wrong length for the MAC size")),
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ CVV

/// The CVK field of CW/CY: one double-length key (`U` + 32H …) or CVK A
/// and CVK B as two single-length keys (16H + 16H).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cvk {
    /// A double (or triple) length key with a scheme tag.
    Key(EncryptedKey),
    /// CVK A and CVK B.
    Pair(EncryptedKey, EncryptedKey),
}

impl Cvk {
    fn read(r: &mut Reader<'_>) -> R<Self> {
        if r.peek().and_then(super::key_tag).is_some() {
            Ok(Self::Key(r.key("cvk")?))
        } else {
            let a = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, "cvk a")?,
            };
            let b = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, "cvk b")?,
            };
            Ok(Self::Pair(a, b))
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> R<()> {
        match self {
            Self::Key(k) if k.scheme != KeyScheme::Z => k.write(out),
            Self::Pair(a, b) if a.scheme == KeyScheme::Z && b.scheme == KeyScheme::Z => {
                a.write(out);
                b.write(out);
            }
            _ => {
                return Err(CodecError::new(
                    "cvk",
                    "a tagged key or two single-length keys",
                ))
            }
        }
        Ok(())
    }
}

/// CW (generate) / CY (verify) a Visa CVV. Layout (notes; ThalesSim tests
/// L326-337; ut-codec-payshield test.js L1214-1292; dinamo `EFT/cw_cx.sh`,
/// `cy_cz.sh`): CVK · [CY: CVV 3N] · PAN (up to 19 digits) · `;` · expiry
/// 4N · service code 3N.
#[derive(Clone, PartialEq, Eq)]
pub struct CardValidation {
    /// The CVK.
    pub cvk: Cvk,
    /// CY: the CVV to verify.
    pub cvv: Option<Zeroizing<[u8; 3]>>,
    /// PAN digits.
    pub pan: Zeroizing<String>,
    /// Expiry (4 digits, as on the card's track: YYMM).
    pub expiry: [u8; 4],
    /// Service code (3 digits).
    pub service_code: [u8; 3],
}

impl fmt::Debug for CardValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardValidation")
            .field("cvk", &self.cvk)
            .finish_non_exhaustive()
    }
}

impl CardValidation {
    fn read(r: &mut Reader<'_>, verify: bool) -> R<Self> {
        let cvk = Cvk::read(r)?;
        let cvv = if verify {
            Some(Zeroizing::new(digits::<3>(r, "cvv")?))
        } else {
            None
        };
        let pan = r.until(b';', 19, "pan")?;
        if pan.is_empty() || !pan.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new("pan", "expected 1 to 19 digits then ';'"));
        }
        let pan = Zeroizing::new(
            String::from_utf8(pan.to_vec()).map_err(|_| CodecError::new("pan", "not digits"))?,
        );
        // `until` also stops at the end: the delimiter must have been there.
        let expiry = digits::<4>(r, "expiry")?;
        let service_code = digits::<3>(r, "service code")?;
        Ok(Self {
            cvk,
            cvv,
            pan,
            expiry,
            service_code,
        })
    }

    fn write(&self, out: &mut Vec<u8>, verify: bool) -> R<()> {
        self.cvk.write(out)?;
        match (&self.cvv, verify) {
            (Some(c), true) => {
                check_digits("cvv", &c[..])?;
                out.extend_from_slice(&c[..]);
            }
            (None, false) => {}
            _ => return Err(CodecError::new("cvv", "present exactly in CY")),
        }
        if self.pan.is_empty()
            || self.pan.len() > 19
            || !self.pan.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(CodecError::new("pan", "expected 1 to 19 digits"));
        }
        out.extend_from_slice(self.pan.as_bytes());
        out.push(b';');
        check_digits("expiry", &self.expiry)?;
        check_digits("service code", &self.service_code)?;
        out.extend_from_slice(&self.expiry);
        out.extend_from_slice(&self.service_code);
        Ok(())
    }
}

// ------------------------------------------------------------------ the request

/// One modelled host command with its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// NC diagnostics (no fields).
    Nc,
    /// NO HSM status: mode 2N.
    No([u8; 2]),
    /// B2 echo: length 4H + data.
    B2(Vec<u8>),
    /// A0 generate key.
    A0(A0),
    /// A6 import key.
    A6(A6),
    /// A8 export key.
    A8(A8),
    /// BU key check value.
    Bu(Bu),
    /// CA translate PIN TPK → ZPK.
    Ca(PinTranslate),
    /// CC translate PIN ZPK → ZPK.
    Cc(PinTranslate),
    /// G0 translate PIN TDES DUKPT → ZPK.
    G0(G0),
    /// M0 encrypt data.
    M0(DataCipher),
    /// M2 decrypt data.
    M2(DataCipher),
    /// CW generate CVV.
    Cw(CardValidation),
    /// CY verify CVV.
    Cy(CardValidation),
    /// KQ ARQC / ARPC (Visa, M/Chip).
    Kq(KqRequest),
    /// KW ARQC / ARPC (EMV common session key).
    Kw(KwRequest),
    /// M6 generate MAC.
    M6(MacCommand),
    /// M8 verify MAC.
    M8(MacCommand),
}

/// The command codes [`parse_request`] models.
pub const MODELLED: [&[u8; 2]; 18] = [
    b"NC", b"NO", b"B2", b"A0", b"A6", b"A8", b"BU", b"CA", b"CC", b"G0", b"M0", b"M2", b"CW",
    b"CY", b"KQ", b"KW", b"M6", b"M8",
];

impl Command {
    /// The 2-character command code.
    pub fn code(&self) -> [u8; 2] {
        *match self {
            Self::Nc => b"NC",
            Self::No(_) => b"NO",
            Self::B2(_) => b"B2",
            Self::A0(_) => b"A0",
            Self::A6(_) => b"A6",
            Self::A8(_) => b"A8",
            Self::Bu(_) => b"BU",
            Self::Ca(_) => b"CA",
            Self::Cc(_) => b"CC",
            Self::G0(_) => b"G0",
            Self::M0(_) => b"M0",
            Self::M2(_) => b"M2",
            Self::Cw(_) => b"CW",
            Self::Cy(_) => b"CY",
            Self::Kq(_) => b"KQ",
            Self::Kw(_) => b"KW",
            Self::M6(_) => b"M6",
            Self::M8(_) => b"M8",
        }
    }
}

/// A request: command and fields, and the LMK identifier (`%` + 2N) that
/// may end any command (ut-codec-payshield test.js L2168 `…%00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command.
    pub command: Command,
    /// LMK identifier, when sent.
    pub lmk_id: Option<[u8; 2]>,
}

impl From<Command> for Request {
    fn from(command: Command) -> Self {
        Self {
            command,
            lmk_id: None,
        }
    }
}

/// Parses a request body: command code + fields (no header, no length).
/// Errors: `"command code"` for a command that is not modelled, else the
/// field at fault; `"request"` / `"trailing data"` when bytes follow the
/// last field.
pub fn parse_request(body: &[u8]) -> R<Request> {
    let mut r = Reader::new(body);
    let code = r.array::<2>("command code")?;
    parse_command(code, r.rest())
}

/// [`parse_request`] with the command code already split off.
pub fn parse_command(code: [u8; 2], fields: &[u8]) -> R<Request> {
    let mut r = Reader::new(fields);
    let r = &mut r;
    let command = match &code {
        b"NC" => Command::Nc,
        b"NO" => Command::No(digits::<2>(r, "mode")?),
        b"B2" => {
            let n = r.hex_number(4, "length")?;
            Command::B2(r.take(n, "data")?.to_vec())
        }
        b"A0" => Command::A0(A0::read(r)?),
        b"A6" => Command::A6(A6::read(r)?),
        b"A8" => Command::A8(A8::read(r)?),
        b"BU" => Command::Bu(Bu::read(r)?),
        b"CA" => Command::Ca(PinTranslate::read(r)?),
        b"CC" => Command::Cc(PinTranslate::read(r)?),
        b"G0" => Command::G0(G0::read(r)?),
        b"M0" => Command::M0(DataCipher::read(r)?),
        b"M2" => Command::M2(DataCipher::read(r)?),
        b"CW" => Command::Cw(CardValidation::read(r, false)?),
        b"CY" => Command::Cy(CardValidation::read(r, true)?),
        b"KQ" => Command::Kq(read_kq(r)?),
        b"KW" => Command::Kw(read_kw(r)?),
        b"M6" => Command::M6(MacCommand::read(r, false)?),
        b"M8" => Command::M8(MacCommand::read(r, true)?),
        _ => return Err(CodecError::new("command code", "not modelled")),
    };
    let lmk_id = if r.eat(b'%') {
        Some(digits::<2>(r, "lmk identifier")?)
    } else {
        None
    };
    if !r.is_empty() {
        return Err(CodecError::new("request", "trailing data"));
    }
    Ok(Request { command, lmk_id })
}

/// Appends the command code and fields of `req` to `out` (no header, no
/// length). Errors (naming the field) instead of writing what the command
/// cannot carry; `out` is unchanged on error.
pub fn encode_request(out: &mut Vec<u8>, req: &Request) -> R<()> {
    let mut b = Vec::with_capacity(128);
    match &req.command {
        Command::Kq(q) => encode_kq(&mut b, q)?,
        Command::Kw(w) => encode_kw(&mut b, w)?,
        other => {
            b.extend_from_slice(&other.code());
            match other {
                Command::Nc | Command::Kq(_) | Command::Kw(_) => {}
                Command::No(m) => {
                    check_digits("mode", m)?;
                    b.extend_from_slice(m);
                }
                Command::B2(d) => write_message(&mut b, d)?,
                Command::A0(a) => a.write(&mut b),
                Command::A6(a) => a.write(&mut b)?,
                Command::A8(a) => a.write(&mut b)?,
                Command::Bu(a) => a.write(&mut b)?,
                Command::Ca(p) | Command::Cc(p) => p.write(&mut b)?,
                Command::G0(g) => g.write(&mut b)?,
                Command::M0(d) | Command::M2(d) => d.write(&mut b)?,
                Command::Cw(c) => c.write(&mut b, false)?,
                Command::Cy(c) => c.write(&mut b, true)?,
                Command::M6(m) => m.write(&mut b, false)?,
                Command::M8(m) => m.write(&mut b, true)?,
            }
        }
    }
    if let Some(id) = req.lmk_id {
        check_digits("lmk identifier", &id)?;
        b.push(b'%');
        b.extend_from_slice(&id);
    }
    out.extend_from_slice(&b);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: &[u8]) -> Request {
        let req = parse_request(frame)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(frame)));
        let mut out = Vec::new();
        encode_request(&mut out, &req).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(frame)
        );
        req
    }

    #[test]
    fn ksn_descriptor_counts_digits() {
        assert_eq!(KsnDescriptor::parse(b"A05").unwrap().ksn_digits(), 20);
        assert_eq!(KsnDescriptor::parse(b"609").unwrap().ksn_digits(), 20);
        assert_eq!(KsnDescriptor::parse(b"605").unwrap().ksn_digits(), 16);
        assert!(KsnDescriptor::parse(b"F05").is_err());
        assert!(KsnDescriptor::parse(b"a05").is_err());
        assert!(KsnDescriptor::parse(b"205").is_ok());
        assert!(KsnDescriptor::parse(b"105").is_err());
        assert_eq!(&KsnDescriptor::for_ksn_digits(20).unwrap().code(), b"A05");
        assert_eq!(&KsnDescriptor::for_ksn_digits(16).unwrap().code(), b"605");
        assert!(KsnDescriptor::for_ksn_digits(24).is_err());
        assert_eq!(
            KsnField::from_bytes(&[0xFF; 10]).unwrap().descriptor.code(),
            *b"A05"
        );
    }

    #[test]
    fn modelled_layouts_round_trip() {
        round_trip(b"NC");
        round_trip(b"NO00");
        round_trip(b"B20004PING");
        round_trip(b"A00002U");
        round_trip(b"A01002U;0U99D8FC778055B63D3FD53CDA9EEEFB9EX");
        round_trip(b"A6001U71979DEB8587E2734F1E99D5DCAEF9ACX8E80C547F2A1324B84763B0EE32B73ADU1");
        round_trip(b"A8002U1457FF6ADF6250C66C368416B4C9D383U8463435FC4B4DAA0C49025272C29B12CU");
        round_trip(
            b"A8001U1457FF6ADF6250C66C368416B4C9D383U8463435FC4B4DAA0C49025272C29B12CR&P0B00E00!B",
        );
        round_trip(b"A8001U1457FF6ADF6250C66C368416B4C9D383U8463435FC4B4DAA0C49025272C29B12CR&P0B00S01KS08ABCD");
        round_trip(b"BUFF1U77338F74A19E3BB39062A5A479473FC8;002;001");
        round_trip(b"BU021U77338F74A19E3BB39062A5A479473FC8;001");
        round_trip(b"BU0200406FBB23A5214DF");
        round_trip(
            b"M2001100BUB190F7FBB802EA14FAC7917D3F6EDB670020311D8D13F8C617EF838441C36E33A6DA%00",
        );
        round_trip(b"CW0A61E674E88C6A7EEABC38C2B2BB492F4999988887777;9105111");
    }

    #[test]
    fn strict_where_an_hsm_is() {
        let field = |b: &[u8]| parse_request(b).unwrap_err().field;
        // Lower-case hex, a Z-tagged single key, trailing bytes.
        assert_eq!(field(b"BU000ace9b8a0be50c09b"), "key");
        assert_eq!(field(b"BU000ZACE9B8A0BE50C09B"), "key");
        assert_eq!(field(b"NO00X"), "request");
        assert_eq!(field(b"XX"), "command code");
        assert_eq!(
            field(b"M600021003U5FFE8014DA383D44C24AB41E37DB252F0001A"),
            "mac algorithm"
        );
        // The A8 TR-31 export needs the optional block count.
        assert_eq!(
            field(
                b"A8001U1457FF6ADF6250C66C368416B4C9D383U8463435FC4B4DAA0C49025272C29B12CR&P0B00E"
            ),
            "number of optional blocks"
        );
        // `605` says 16 KSN digits: with 20 the fields after it shift.
        assert!(parse_request(
            b"G0U3702EF0DEF15CB6DD5367784A7102C3EU3CBFC71309FC372E9A32EA67BE4C81C9605FFFF000001315240003A496F07B85222517D0101540008900009"
        )
        .is_err());
    }
}

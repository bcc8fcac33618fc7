//! Key management commands: A0, A6, A8, BU.

use super::*;

/// A0 generate key. Layout (notes; ut-codec-payshield test.js @4063d5b8
/// L88 `A00002U`, L130 `A01002U;0U…X`; pythales `tests.py` @8c4042b6 L88):
/// mode 1N · key type 3H · key scheme (LMK) 1A · mode `1` only: [`;` +
/// ZMK/TMK flag 1N] · ZMK/TMK · key scheme (ZMK) 1A · key-block LMK (key
/// type `FFF`, scheme `S`): [`A0KeyBlock`] (test.js L173
/// `A00FFFS%01#K0T2B00E00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A0 {
    /// Key type to generate.
    pub key_type: KeyType,
    /// Key scheme under the LMK.
    pub scheme: KeyScheme,
    /// Mode `1`: also export under this ZMK/TMK.
    pub export: Option<A0Export>,
    /// The key-block attributes (`#` fields), for a key-block LMK.
    pub key_block: Option<A0KeyBlock>,
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
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
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
        let key_block = A0KeyBlock::read(r)?;
        Ok(Self {
            key_type,
            scheme,
            export,
            key_block,
        })
    }

    /// Appends `A0` and the fields; `out` is unchanged on error (a
    /// key-block field the codec does not know).
    pub fn write_to(&self, out: &mut Vec<u8>) -> R<()> {
        let mut b = b"A0".to_vec();
        self.write(&mut b)?;
        out.extend_from_slice(&b);
        Ok(())
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
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
        match &self.key_block {
            Some(k) => k.write(out),
            None => Ok(()),
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
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
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

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
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
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
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

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
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
    /// Key scheme `R` and the `&` fields (variant LMK).
    Tr31(Tr31Export),
    /// A key block under a key-block LMK exported as a key block (`S` or
    /// `R`), read when the key to export is a key block.
    KeyBlock(KeyBlockExport),
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
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let key_type = r.key_type("key type")?;
        let flag = if r.eat(b';') {
            Some(flag(r, "zmk/tmk flag", b"01")?)
        } else {
            None
        };
        let zmk = r.key("zmk")?;
        let key = r.key("key")?;
        let export = if key.scheme == KeyScheme::S {
            A8Export::KeyBlock(KeyBlockExport::read(r)?)
        } else if r.eat(b'R') {
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

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
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
            A8Export::KeyBlock(k) if self.key.scheme == KeyScheme::S => k.write(out),
            A8Export::KeyBlock(_) => Err(CodecError::new(
                "key scheme zmk",
                "a key-block export needs a key block",
            )),
        }
    }
}

/// BU generate a key check value. Layout (notes; ThalesSim tests
/// L130-133; ut-codec-payshield test.js L743-794; dinamo `EFT/bu_bv.sh`):
/// key type code 2 (`FF`: the 3-character key type follows after the key)
/// · key length flag 1A (`0` single, `1` double, `2` triple, `F` a key
/// block: test.js L794 `BUFFFS…;FFF;001`) · key · [`;` + key type 3H,
/// code `FF` only] · [`;` + reserved 2N + KCV type 1N].
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
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let code = r.array::<2>("key type code")?;
        let length_flag = flag(r, "key length flag", b"012F")?;
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

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
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

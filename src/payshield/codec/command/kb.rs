//! The key-block LMK forms of the key commands (A0 `#` fields, A8 export
//! of a key block), and what the other commands' layouts take from a key
//! block's header (AES keys widen the PIN block and the IV).
//!
//! Sources: ut-codec-payshield `messages.json` @4063d5b8 (A0 pattern:
//! `… delimiterLmk, lmkIdentifier, delimiterKeyblock, keyUsageKeyblock,
//! algorithmKeyblock, modeOfUseKeyblock, keyVersionNumberKeyblock,
//! exportabilityKeyblock, optionalBlocksCountKeyblock,
//! optionalBlocksDataKeyblock, delimiterExportKeyblock,
//! modExportabilityKeyblock, delimiterVersionIdKeyblock,
//! keyBlockVersionIdKeyblock …`; A8 pattern: `… keyScheme, delimiterLmk,
//! lmkIdentifier, delimiterKeyblock, modExportabilityKeyblock,
//! delimiterVersionIdKeyblock, keyBlockVersionIdKeyblock …`) and its frames
//! test.js L173 `A00FFFS%01#K0T2B00E00` and L521 `A8FFFS…S…S%01&N`; the
//! payShield 9000 A8 table (`docs/A8_exportKey.png`: `&` modified
//! exportability, only `N`; `!` key block version `A`-`D`).

use super::*;
use crate::payshield::keyblock::header_of;

/// True when `k` is a key block whose algorithm is AES (`A`).
///
/// **Unconfirmed:** with an AES key the PIN block fields of CA / CC / G0
/// and the IV of M0 / M2 are 32H (one AES block) instead of 16H; no public
/// frame shows an AES key in these commands, so this is the codec's
/// reading of "one cipher block", applied by the client and the simulator
/// alike.
pub fn is_aes_block(k: &EncryptedKey) -> bool {
    header_of(k).is_some_and(|h| h.algorithm == b'A')
}

/// True when `k` is a key block with usage `B0` (a BDK): M0 / M2 then
/// read a KSN after it, as they do after a key of type `009`.
pub(super) fn is_bdk_block(k: &EncryptedKey) -> bool {
    header_of(k).is_some_and(|h| &h.usage == b"B0")
}

/// Reads `%` + LMK identifier 2N when it comes before one of `next` (the
/// key-block fields of A0 / A8 follow the LMK identifier, test.js L173
/// `…S%01#K0…`); otherwise leaves it for the end of the request.
pub(super) fn lmk_before(r: &mut Reader<'_>, next: &[u8]) -> R<Option<[u8; 2]>> {
    match r.rest() {
        [b'%', a, b, n, ..] if a.is_ascii_digit() && b.is_ascii_digit() && next.contains(n) => {
            r.take(1, "lmk identifier")?;
            Ok(Some(digits::<2>(r, "lmk identifier")?))
        }
        _ => Ok(None),
    }
}

fn write_lmk(out: &mut Vec<u8>, id: Option<[u8; 2]>) -> R<()> {
    if let Some(id) = id {
        check_digits("lmk identifier", &id)?;
        out.push(b'%');
        out.extend_from_slice(&id);
    }
    Ok(())
}

/// Optional blocks after a count 2N: id 2A, length 2H (the whole block,
/// at least 4), printable data.
pub(super) fn read_optional_blocks(r: &mut Reader<'_>, n: usize) -> R<Vec<([u8; 2], String)>> {
    let mut out = Vec::with_capacity(n.min(8));
    for _ in 0..n {
        let id = r.array::<2>("optional block")?;
        if !id.iter().all(u8::is_ascii_alphanumeric) {
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
        out.push((id, data));
    }
    Ok(out)
}

pub(super) fn write_optional_blocks(out: &mut Vec<u8>, blocks: &[([u8; 2], String)]) -> R<()> {
    if blocks.len() > 99 {
        return Err(CodecError::new("number of optional blocks", "more than 99"));
    }
    out.extend_from_slice(format!("{:02}", blocks.len()).as_bytes());
    for (id, data) in blocks {
        let len = data.len() + 4;
        if len > 0xFF
            || !id.iter().all(u8::is_ascii_alphanumeric)
            || !data.bytes().all(|c| (0x20..=0x7E).contains(&c))
        {
            return Err(CodecError::new("optional block", "id, length or data"));
        }
        out.extend_from_slice(id);
        out.extend_from_slice(format!("{len:02X}").as_bytes());
        out.extend_from_slice(data.as_bytes());
    }
    Ok(())
}

/// The key-block attributes of A0 (key-block LMK): [`%` + LMK id] · `#` ·
/// key usage 2A · algorithm 2A · mode of use 1A · key version number 2N ·
/// exportability 1A · number of optional blocks 2N · optional blocks.
///
/// Algorithm codes: `T2` (double-length TDES) is published (test.js L173);
/// `T3` (triple-length TDES), `A1` / `A2` / `A3` (AES-128 / -192 / -256)
/// and `H2` (a 32-byte HMAC key) are **unconfirmed** (no public frame or
/// table found): the codec and the simulator use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A0KeyBlock {
    /// `%` + LMK identifier written before the `#` (as test.js L173).
    pub lmk_id: Option<[u8; 2]>,
    /// Key usage.
    pub usage: [u8; 2],
    /// Algorithm and length code (`T2`, `T3`, `A1`, `A2`, `A3`, `H2`).
    pub algorithm: [u8; 2],
    /// Mode of use.
    pub mode_of_use: u8,
    /// Key version number.
    pub key_version: [u8; 2],
    /// Exportability (`E`, `N`, `S`).
    pub exportability: u8,
    /// Optional blocks.
    pub optional_blocks: Vec<([u8; 2], String)>,
}

/// The A0 algorithm codes (key block algorithm character, key length).
pub const A0_ALGORITHMS: [(&[u8; 2], u8, usize); 6] = [
    (b"T2", b'T', 16),
    (b"T3", b'T', 24),
    (b"A1", b'A', 16),
    (b"A2", b'A', 24),
    (b"A3", b'A', 32),
    (b"H2", b'H', 32),
];

impl A0KeyBlock {
    /// Reads the fields from `%` / `#` on (`None` when no `#` follows).
    pub(super) fn read(r: &mut Reader<'_>) -> R<Option<Self>> {
        let lmk_id = lmk_before(r, b"#")?;
        if !r.eat(b'#') {
            return Ok(None);
        }
        let usage = r.array::<2>("key usage")?;
        if !usage
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            return Err(CodecError::new("key usage", "expected 2 letters or digits"));
        }
        let algorithm = r.array::<2>("algorithm")?;
        if !A0_ALGORITHMS.iter().any(|(c, _, _)| **c == algorithm) {
            return Err(CodecError::new("algorithm", "value not recognised"));
        }
        let mode_of_use = flag(r, "mode of use", b"BCDEGNSTVXY")?;
        let key_version = digits::<2>(r, "key version")?;
        let exportability = flag(r, "exportability", b"ENS")?;
        let n = r.number(2, "number of optional blocks")?;
        let optional_blocks = read_optional_blocks(r, n)?;
        Ok(Some(Self {
            lmk_id,
            usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks,
        }))
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        write_lmk(out, self.lmk_id)?;
        out.push(b'#');
        out.extend_from_slice(&self.usage);
        if !A0_ALGORITHMS.iter().any(|(c, _, _)| **c == self.algorithm) {
            return Err(CodecError::new("algorithm", "value not recognised"));
        }
        out.extend_from_slice(&self.algorithm);
        out.push(self.mode_of_use);
        check_digits("key version", &self.key_version)?;
        out.extend_from_slice(&self.key_version);
        out.push(self.exportability);
        write_optional_blocks(out, &self.optional_blocks)
    }

    /// The key block algorithm character and key length of the algorithm code.
    pub fn algorithm_and_len(&self) -> Option<(u8, usize)> {
        A0_ALGORITHMS
            .iter()
            .find(|(c, _, _)| **c == self.algorithm)
            .map(|(_, a, n)| (*a, *n))
    }
}

/// A8 with a key-block key: key scheme (ZMK) 1A (`S` Thales key block
/// under the ZMK, `R` TR-31 key block) · [`%` + LMK id] · [`&` + modified
/// exportability 1A (`N`)] · [`!` + key block version 1A].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBlockExport {
    /// Key scheme of the exported key (`S` or `R`).
    pub scheme: u8,
    /// `%` + LMK identifier before the `&` / `!` fields.
    pub lmk_id: Option<[u8; 2]>,
    /// Modified exportability after `&`.
    pub exportability: Option<u8>,
    /// Key block version after `!` (`A`-`D` for TR-31).
    pub version: Option<u8>,
}

impl KeyBlockExport {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let scheme = flag(r, "key scheme zmk", b"SR")?;
        let lmk_id = lmk_before(r, b"&!")?;
        let exportability = if r.eat(b'&') {
            Some(flag(r, "exportability", b"ENS")?)
        } else {
            None
        };
        let version = if r.eat(b'!') {
            Some(flag(r, "key block version", b"ABCD01")?)
        } else {
            None
        };
        Ok(Self {
            scheme,
            lmk_id,
            exportability,
            version,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        if !matches!(self.scheme, b'S' | b'R') {
            return Err(CodecError::new("key scheme zmk", "S or R"));
        }
        out.push(self.scheme);
        write_lmk(out, self.lmk_id)?;
        if let Some(e) = self.exportability {
            out.push(b'&');
            out.push(e);
        }
        if let Some(v) = self.version {
            out.push(b'!');
            out.push(v);
        }
        Ok(())
    }
}

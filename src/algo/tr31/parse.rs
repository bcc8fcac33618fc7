//! The pure TR-31 header parser (see [`super::header`] for the layout).

use super::header::{
    is_code_char, is_printable, Algorithm, Exportability, KeyUsage, ModeOfUse, OptionalBlock,
    Tr31Header, Version, FIXED_HEADER_LEN,
};
use crate::algo::{AlgoError, AlgoResult};

fn field(b: &[u8], at: usize, len: usize) -> &[u8] {
    b.get(at..at + len).unwrap_or(&[])
}

fn parse_dec(s: &[u8]) -> Option<usize> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0usize, |a, d| a * 10 + usize::from(d - b'0')))
}

/// Parses uppercase hex (no lowercase) into a number; at most 8 digits.
fn parse_hex_upper(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter().try_fold(0usize, |a, &c| {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        Some(a * 16 + usize::from(v))
    })
}

fn one_char(b: &[u8], at: usize) -> char {
    b.get(at).map(|&c| char::from(c)).unwrap_or('\0')
}

/// Parses the header of the key block `block`, returning it together with
/// the header's length in characters (where the encrypted payload starts).
pub(crate) fn parse_header_len(block: &str) -> AlgoResult<(Tr31Header, usize)> {
    if !block.is_ascii() {
        return Err(AlgoError::new(
            "tr31 key block",
            "contains non-ASCII characters",
        ));
    }
    let b = block.as_bytes();
    let version = Version::from_char(one_char(b, 0))
        .ok_or_else(|| AlgoError::new("tr31 version", "must be A, B, C or D"))?;
    if b.len() < FIXED_HEADER_LEN {
        return Err(AlgoError::new(
            "tr31 length",
            format!(
                "block is {} characters, shorter than the 16-character header",
                b.len()
            ),
        ));
    }
    let length = parse_dec(field(b, 1, 4))
        .ok_or_else(|| AlgoError::new("tr31 length", "must be 4 decimal digits"))?;
    if length != b.len() {
        return Err(AlgoError::new(
            "tr31 length",
            format!(
                "field says {length} but the block is {} characters",
                b.len()
            ),
        ));
    }
    let key_usage = match field(b, 5, 2) {
        &[x, y] if is_code_char(x) && is_code_char(y) => KeyUsage([x, y]),
        _ => {
            return Err(AlgoError::new(
                "tr31 key usage",
                "must be 2 characters 0-9 / A-Z",
            ))
        }
    };
    let algorithm = Algorithm::from_char(one_char(b, 7))
        .ok_or_else(|| AlgoError::new("tr31 algorithm", "must be one of A D E H R S T"))?;
    let mode_of_use = ModeOfUse::from_char(one_char(b, 8)).ok_or_else(|| {
        AlgoError::new("tr31 mode of use", "must be one of B C D E G N S T V X Y")
    })?;
    let key_version = match field(b, 9, 2) {
        &[x, y] if x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric() => [x, y],
        _ => {
            return Err(AlgoError::new(
                "tr31 key version",
                "must be 2 ASCII letters or digits",
            ))
        }
    };
    let exportability = Exportability::from_char(one_char(b, 11))
        .ok_or_else(|| AlgoError::new("tr31 exportability", "must be E, N or S"))?;
    let count = parse_dec(field(b, 12, 2))
        .ok_or_else(|| AlgoError::new("tr31 optional block", "count must be 2 decimal digits"))?;
    if field(b, 14, 2) != b"00" {
        return Err(AlgoError::new("tr31 reserved", "must be 00"));
    }

    let mut optional_blocks = Vec::with_capacity(count);
    let mut pos = FIXED_HEADER_LEN;
    for i in 0..count {
        let n = i + 1;
        let trunc = || AlgoError::new("tr31 optional block", format!("block {n} is truncated"));
        let id = match field(b, pos, 2) {
            [x, y] if x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric() => [*x, *y],
            [_, _] => {
                return Err(AlgoError::new(
                    "tr31 optional block",
                    format!("block {n} id must be 2 ASCII letters or digits"),
                ))
            }
            _ => return Err(trunc()),
        };
        let short = field(b, pos + 2, 2);
        if short.len() != 2 {
            return Err(trunc());
        }
        let bad_len = || {
            AlgoError::new(
                "tr31 optional block",
                format!("block {n} length is not valid uppercase hex"),
            )
        };
        let short = parse_hex_upper(short).ok_or_else(bad_len)?;
        let (prefix, total) = if short != 0 {
            (4, short)
        } else {
            // Extended form: "00", length of length in bytes, length.
            let ll = field(b, pos + 4, 2);
            if ll.len() != 2 {
                return Err(trunc());
            }
            let ll = parse_hex_upper(ll).ok_or_else(bad_len)?;
            if !(1..=4).contains(&ll) {
                return Err(AlgoError::new(
                    "tr31 optional block",
                    format!("block {n} extended length-of-length {ll} is not 1 to 4 bytes"),
                ));
            }
            let digits = field(b, pos + 6, 2 * ll);
            if digits.len() != 2 * ll {
                return Err(trunc());
            }
            (6 + 2 * ll, parse_hex_upper(digits).ok_or_else(bad_len)?)
        };
        if total < prefix {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("block {n} length {total} is shorter than its own id and length fields"),
            ));
        }
        let data = b.get(pos + prefix..pos + total).ok_or_else(trunc)?;
        if !data.iter().all(|&c| is_printable(c)) {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("block {n} data is not printable ASCII"),
            ));
        }
        if &id == b"PB" && n != count {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("PB padding block is block {n} but must be the last"),
            ));
        }
        optional_blocks.push(OptionalBlock {
            id,
            // ASCII checked above, so this is lossless.
            data: String::from_utf8_lossy(data).into_owned(),
        });
        pos += total;
    }
    let bs = version.block_size();
    if count > 0 && !pos.is_multiple_of(bs) {
        return Err(AlgoError::new(
            "tr31 optional block",
            format!("header length {pos} is not a multiple of the {bs}-byte block"),
        ));
    }
    Ok((
        Tr31Header {
            version,
            length,
            key_usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks,
        },
        pos,
    ))
}

/// Parses and validates the header of a complete TR-31 key block. Pure:
/// no key is needed and nothing is decrypted; never panics.
///
/// Checks: ASCII only; version A/B/C/D (`"tr31 version"`); the 4-digit
/// length equals the block's length (`"tr31 length"`); key usage
/// (`"tr31 key usage"`), algorithm, mode of use, key version,
/// exportability and reserved `00`; optional blocks (`"tr31 optional
/// block"`): id, hex length (short or `0002XXXX` extended form), printable
/// data, `PB` last, header a multiple of the block size.
pub fn parse_header(block: &str) -> AlgoResult<Tr31Header> {
    parse_header_len(block).map(|(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KS_BLOCK: &str = "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627";

    #[test]
    fn parses_fields_and_optional_block() {
        let h = parse_header(KS_BLOCK).unwrap();
        assert_eq!(h.version, Version::B);
        assert_eq!(h.length, 104);
        assert_eq!(h.key_usage, KeyUsage::BDK);
        assert!(h.key_usage.is_known());
        assert_eq!(h.algorithm, Algorithm::Tdes);
        assert_eq!(h.mode_of_use, ModeOfUse::Derive);
        assert_eq!(h.key_version_str(), "12");
        assert_eq!(h.exportability, Exportability::Sensitive);
        assert_eq!(h.optional_blocks.len(), 1);
        assert_eq!(
            h.optional_block("KS").unwrap().data(),
            "00604B120F9292800000"
        );
        assert_eq!(h.header_len(), 40);
        assert_eq!(h.encode(104).unwrap(), &KS_BLOCK[..40]);
    }

    fn err_field(block: &str) -> &'static str {
        parse_header(block).unwrap_err().field
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err_field(""), "tr31 version");
        assert_eq!(err_field("E0016P0TE00E0000"), "tr31 version");
        assert_eq!(err_field("B001"), "tr31 length");
        assert_eq!(err_field("B0017P0TE00E0000"), "tr31 length");
        assert_eq!(err_field("B00X6P0TE00E0000"), "tr31 length");
        assert_eq!(err_field("B0016p0TE00E0000"), "tr31 key usage");
        assert_eq!(err_field("B0016P0ZE00E0000"), "tr31 algorithm");
        assert_eq!(err_field("B0016P0TZ00E0000"), "tr31 mode of use");
        assert_eq!(err_field("B0016P0TE0-E0000"), "tr31 key version");
        assert_eq!(err_field("B0016P0TE00X0000"), "tr31 exportability");
        assert_eq!(err_field("B0016P0TE00E0001"), "tr31 reserved");
        assert_eq!(err_field("B0016P0TE00E0A00"), "tr31 optional block");
        assert_eq!(err_field("B0016P0TE00E0100"), "tr31 optional block");
        assert_eq!(err_field("B0016P0TE00EÉ000"), "tr31 key block");
    }

    #[test]
    fn optional_block_rules() {
        // Truncated block, lowercase hex length, length too short, non-printable data.
        assert_eq!(err_field("B0020P0TE00E0100KS1"), "tr31 length");
        assert_eq!(err_field("B0019P0TE00E0100KS1"), "tr31 optional block");
        assert_eq!(err_field("B0024P0TE00E0100KS0a1234"), "tr31 optional block");
        assert_eq!(err_field("B0024P0TE00E0100KS031234"), "tr31 optional block");
        assert_eq!(
            err_field("B0024P0TE00E0100KS08\t234"),
            "tr31 optional block"
        );
        // Misaligned header (20 chars for an 8-byte block cipher).
        assert_eq!(err_field("B0020P0TE00E0100KS04"), "tr31 optional block");
        // PB must be last.
        assert_eq!(err_field("B0024P0TE00E0200PB04KS04"), "tr31 optional block");
        // Aligned PB layouts parse.
        let h = parse_header("B0024P0TE00E0200KS04PB04").unwrap();
        assert!(h.optional_blocks[1].is_padding());
        let h = parse_header("D0032P0AE00E0200HM0621PB0A000000").unwrap();
        assert_eq!(h.optional_block("HM").unwrap().data(), "21");
    }

    #[test]
    fn extended_length_round_trip() {
        let data = "A".repeat(300);
        let h = Tr31Header::new(
            Version::D,
            KeyUsage::DATA_ENCRYPTION,
            Algorithm::Aes,
            ModeOfUse::EncryptDecrypt,
            "00",
            Exportability::NonExportable,
        )
        .unwrap()
        .with_optional_block(OptionalBlock::new("CT", &data).unwrap())
        .with_padding_block();
        let hl = h.header_len();
        assert_eq!(hl % 16, 0);
        let s = h.encode(hl).unwrap();
        assert!(s.contains("CT00020136"), "{}", &s[..30]);
        let p = parse_header(&s).unwrap();
        assert_eq!(p.optional_block("CT").unwrap().data(), data);
        assert_eq!(p.optional_blocks, h.optional_blocks);
        // Bad length-of-length.
        let bad = s.replacen("CT0002", "CT0000", 1);
        assert_eq!(parse_header(&bad).unwrap_err().field, "tr31 optional block");
    }

    #[test]
    fn builders_validate() {
        assert!(KeyUsage::new("P0").is_ok());
        assert!(KeyUsage::new("P").is_err());
        assert!(KeyUsage::new("p0").is_err());
        assert_eq!(KeyUsage::new("99").unwrap().description(), None);
        assert!(OptionalBlock::new("K", "x").is_err());
        assert!(OptionalBlock::new("KS", "\n").is_err());
        let h = Tr31Header::new(
            Version::B,
            KeyUsage::PIN_ENCRYPTION,
            Algorithm::Tdes,
            ModeOfUse::EncryptOnly,
            "0",
            Exportability::Exportable,
        );
        assert_eq!(h.unwrap_err().field, "tr31 key version");
    }
}

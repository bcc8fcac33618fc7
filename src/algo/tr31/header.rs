//! TR-31 / ANSI X9.143 key block header: fixed fields, optional blocks and
//! the pure parser.
//!
//! Layout of the 16-character fixed header (all ASCII):
//!
//! | pos   | len | field                                   |
//! |-------|-----|-----------------------------------------|
//! | 0     | 1   | version id (`A`, `B`, `C`, `D`)         |
//! | 1     | 4   | key block length (decimal, whole block) |
//! | 5     | 2   | key usage                               |
//! | 7     | 1   | algorithm                               |
//! | 8     | 1   | mode of use                             |
//! | 9     | 2   | key version number                      |
//! | 11    | 1   | exportability                           |
//! | 12    | 2   | number of optional blocks (decimal)     |
//! | 14    | 2   | reserved, `00`                          |
//!
//! Optional blocks follow: id (2 chars), length (2 uppercase hex chars
//! counting the whole optional block) and printable-ASCII data. A length of
//! `00` selects the extended form: `00`, then the length of the length in
//! bytes as 2 hex chars (`02`), then that many bytes of hex length (`XXXX`),
//! again counting the whole optional block. When optional blocks are
//! present the whole header must be a multiple of the cipher block size
//! (8 for A/B/C, 16 for D); a final `PB` (padding) block is used for that.

use crate::algo::{AlgoError, AlgoResult};

/// Length of the fixed part of a TR-31 header.
pub const FIXED_HEADER_LEN: usize = 16;

/// Key block version id: selects the protection method (the crate's
/// [`Tr31Version`](crate::types::Tr31Version)).
pub use crate::types::Tr31Version as Version;

/// Two-character key usage code (e.g. `P0`, `B0`, `K1`), validated as two
/// ASCII digits or uppercase letters. Known codes have associated constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyUsage(pub(super) [u8; 2]);

/// The two bytes of a 2-character literal (compile-time use only).
const fn code2(s: &str) -> [u8; 2] {
    let b = s.as_bytes();
    [b[0], b[1]]
}

macro_rules! usages {
    ($( $name:ident = $code:literal : $desc:literal ),* $(,)?) => {
        impl KeyUsage {
            $(
                #[doc = concat!("`", $code, "`: ", $desc, ".")]
                pub const $name: KeyUsage = KeyUsage(code2($code));
            )*

            /// A description of a known usage code (`None` for other codes,
            /// for example proprietary numeric ones).
            pub fn description(&self) -> Option<&'static str> {
                match self.as_str() {
                    $( $code => Some($desc), )*
                    _ => None,
                }
            }
        }
    };
}

usages! {
    BDK = "B0": "Base derivation key (BDK)",
    DUKPT_INITIAL_KEY = "B1": "Initial DUKPT key",
    BASE_KEY_VARIANT = "B2": "Base key variant key",
    CVK = "C0": "Card verification key",
    DATA_ENCRYPTION = "D0": "Symmetric data encryption key",
    DATA_ENCRYPTION_ASYMMETRIC = "D1": "Asymmetric data encryption key",
    DECIMALIZATION_TABLE = "D2": "Data encryption key for decimalization tables",
    EMV_MK_AC = "E0": "EMV issuer master key: application cryptograms",
    EMV_MK_SM_CONF = "E1": "EMV issuer master key: secure messaging confidentiality",
    EMV_MK_SM_INT = "E2": "EMV issuer master key: secure messaging integrity",
    EMV_MK_DAC = "E3": "EMV issuer master key: data authentication code",
    EMV_MK_DN = "E4": "EMV issuer master key: dynamic numbers",
    EMV_MK_PERSO = "E5": "EMV issuer master key: card personalization",
    EMV_MK_OTHER = "E6": "EMV issuer master key: other",
    IV = "I0": "Initialization vector",
    KEY_ENCRYPTION = "K0": "Key encryption or wrapping key",
    KBPK = "K1": "TR-31 key block protection key",
    TR34_ASYMMETRIC = "K2": "TR-34 asymmetric key",
    KEY_AGREEMENT = "K3": "Asymmetric key for key agreement / wrapping",
    MAC_ISO16609 = "M0": "ISO 16609 MAC algorithm 1 (TDES)",
    MAC_ALG1 = "M1": "ISO 9797-1 MAC algorithm 1",
    MAC_ALG2 = "M2": "ISO 9797-1 MAC algorithm 2",
    MAC_ALG3 = "M3": "ISO 9797-1 MAC algorithm 3",
    MAC_ALG4 = "M4": "ISO 9797-1 MAC algorithm 4",
    MAC_ALG5 = "M5": "ISO 9797-1:1999 MAC algorithm 5",
    MAC_CMAC = "M6": "ISO 9797-1:2011 MAC algorithm 5 (CMAC)",
    MAC_HMAC = "M7": "HMAC key",
    MAC_ALG6 = "M8": "ISO 9797-1:2011 MAC algorithm 6",
    PIN_ENCRYPTION = "P0": "PIN encryption key",
    SIGNATURE = "S0": "Asymmetric key pair for digital signature",
    CA_KEY = "S1": "Asymmetric key pair, CA key",
    NON_X924_ASYMMETRIC = "S2": "Asymmetric key pair, non-X9.24 key",
    PIN_VERIFICATION_OTHER = "V0": "PIN verification key, other algorithm",
    PIN_VERIFICATION_IBM3624 = "V1": "PIN verification key, IBM 3624",
    PIN_VERIFICATION_VISA_PVV = "V2": "PIN verification key, Visa PVV",
    PIN_VERIFICATION_X9132_1 = "V3": "PIN verification key, X9.132 algorithm 1",
    PIN_VERIFICATION_X9132_2 = "V4": "PIN verification key, X9.132 algorithm 2",
}

pub(super) fn is_code_char(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase()
}

impl KeyUsage {
    /// A usage from its 2-character code (digits / uppercase letters; any
    /// such code is accepted, known or proprietary).
    pub fn new(code: &str) -> AlgoResult<Self> {
        match code.as_bytes() {
            &[a, b] if is_code_char(a) && is_code_char(b) => Ok(Self([a, b])),
            _ => Err(AlgoError::new(
                "tr31 key usage",
                "must be 2 characters 0-9 / A-Z",
            )),
        }
    }

    /// The 2-character code.
    pub fn as_str(&self) -> &str {
        // Only constructed from ASCII digits / uppercase letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// True for one of the codes defined by TR-31 / X9.143 (see the constants).
    pub fn is_known(&self) -> bool {
        self.description().is_some()
    }
}

/// Algorithm the wrapped key is for (header byte 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `A`: AES.
    Aes,
    /// `D`: single DES (legacy).
    Des,
    /// `E`: elliptic curve.
    Ec,
    /// `H`: HMAC.
    Hmac,
    /// `R`: RSA.
    Rsa,
    /// `S`: DSA.
    Dsa,
    /// `T`: triple DES.
    Tdes,
}

impl Algorithm {
    /// The header character.
    pub fn as_char(self) -> char {
        match self {
            Self::Aes => 'A',
            Self::Des => 'D',
            Self::Ec => 'E',
            Self::Hmac => 'H',
            Self::Rsa => 'R',
            Self::Dsa => 'S',
            Self::Tdes => 'T',
        }
    }

    /// Parses the header character; `None` if not a defined algorithm.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'A' => Self::Aes,
            'D' => Self::Des,
            'E' => Self::Ec,
            'H' => Self::Hmac,
            'R' => Self::Rsa,
            'S' => Self::Dsa,
            'T' => Self::Tdes,
            _ => return None,
        })
    }
}

/// Mode of use of the wrapped key (header byte 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModeOfUse {
    /// `B`: both encrypt and decrypt / wrap and unwrap.
    EncryptDecrypt,
    /// `C`: both generate and verify.
    GenerateVerify,
    /// `D`: decrypt / unwrap only.
    DecryptOnly,
    /// `E`: encrypt / wrap only.
    EncryptOnly,
    /// `G`: generate only.
    GenerateOnly,
    /// `N`: no special restrictions beyond the key usage.
    NoRestrictions,
    /// `S`: signature only.
    SignatureOnly,
    /// `T`: both sign and decrypt.
    SignDecrypt,
    /// `V`: verify only.
    VerifyOnly,
    /// `X`: key used to derive other keys.
    Derive,
    /// `Y`: key used to create key variants.
    Variant,
}

impl ModeOfUse {
    /// The header character.
    pub fn as_char(self) -> char {
        match self {
            Self::EncryptDecrypt => 'B',
            Self::GenerateVerify => 'C',
            Self::DecryptOnly => 'D',
            Self::EncryptOnly => 'E',
            Self::GenerateOnly => 'G',
            Self::NoRestrictions => 'N',
            Self::SignatureOnly => 'S',
            Self::SignDecrypt => 'T',
            Self::VerifyOnly => 'V',
            Self::Derive => 'X',
            Self::Variant => 'Y',
        }
    }

    /// Parses the header character; `None` if not a defined mode.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'B' => Self::EncryptDecrypt,
            'C' => Self::GenerateVerify,
            'D' => Self::DecryptOnly,
            'E' => Self::EncryptOnly,
            'G' => Self::GenerateOnly,
            'N' => Self::NoRestrictions,
            'S' => Self::SignatureOnly,
            'T' => Self::SignDecrypt,
            'V' => Self::VerifyOnly,
            'X' => Self::Derive,
            'Y' => Self::Variant,
            _ => return None,
        })
    }
}

/// Exportability of the wrapped key (header byte 11).
pub use crate::types::Exportability;

/// One optional header block: 2-character id and printable-ASCII data
/// (the length field is computed when encoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionalBlock {
    pub(super) id: [u8; 2],
    pub(super) data: String,
}

/// Largest optional block (id + length fields + data) the extended
/// 2-byte length form can express.
const MAX_OPT_BLOCK_LEN: usize = 0xFFFF;

impl OptionalBlock {
    /// A block with `id` (2 ASCII letters/digits) and `data` (printable
    /// ASCII, 0x20..=0x7E). Errors name `"tr31 optional block"`.
    pub fn new(id: &str, data: &str) -> AlgoResult<Self> {
        let id = match id.as_bytes() {
            &[a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => [a, b],
            _ => {
                return Err(AlgoError::new(
                    "tr31 optional block",
                    "id must be 2 ASCII letters or digits",
                ))
            }
        };
        if !data.bytes().all(is_printable) {
            return Err(AlgoError::new(
                "tr31 optional block",
                "data must be printable ASCII",
            ));
        }
        if data.len() + 8 > MAX_OPT_BLOCK_LEN {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("data length {} is too long", data.len()),
            ));
        }
        Ok(Self {
            id,
            data: data.to_owned(),
        })
    }

    /// The 2-character id (e.g. `KS`, `PB`).
    pub fn id(&self) -> &str {
        std::str::from_utf8(&self.id).unwrap_or("??")
    }

    /// The block data.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// True for the `PB` padding block.
    pub fn is_padding(&self) -> bool {
        &self.id == b"PB"
    }

    /// Encoded length: short form (`ID` + 2 hex + data) up to 255
    /// characters, extended form (`ID00` + `02` + 4 hex + data) above.
    pub fn encoded_len(&self) -> usize {
        if self.data.len() + 4 <= 0xFF {
            self.data.len() + 4
        } else {
            self.data.len() + 10
        }
    }

    fn encode_into(&self, out: &mut String) {
        let n = self.encoded_len();
        out.push_str(self.id());
        if n <= 0xFF {
            out.push_str(&format!("{n:02X}"));
        } else {
            out.push_str(&format!("0002{n:04X}"));
        }
        out.push_str(&self.data);
    }
}

pub(super) fn is_printable(b: u8) -> bool {
    (0x20..=0x7E).contains(&b)
}

/// A parsed (or to-be-encoded) TR-31 header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tr31Header {
    /// Version id (protection method).
    pub version: Version,
    /// Key block length field as parsed (total characters). [`super::wrap`]
    /// recomputes it; the value given there is ignored.
    pub length: usize,
    /// Key usage.
    pub key_usage: KeyUsage,
    /// Algorithm of the wrapped key.
    pub algorithm: Algorithm,
    /// Mode of use of the wrapped key.
    pub mode_of_use: ModeOfUse,
    /// Key version number (2 ASCII letters/digits; `00` = unused, `c?` = component).
    pub key_version: [u8; 2],
    /// Exportability.
    pub exportability: Exportability,
    /// Optional blocks in order (including any `PB` padding block).
    pub optional_blocks: Vec<OptionalBlock>,
}

impl Tr31Header {
    /// A header without optional blocks (`length` 0 until wrapped).
    /// `key_version` must be 2 ASCII letters/digits (`"00"` when unused).
    pub fn new(
        version: Version,
        key_usage: KeyUsage,
        algorithm: Algorithm,
        mode_of_use: ModeOfUse,
        key_version: &str,
        exportability: Exportability,
    ) -> AlgoResult<Self> {
        let key_version = match key_version.as_bytes() {
            &[a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => [a, b],
            _ => {
                return Err(AlgoError::new(
                    "tr31 key version",
                    "must be 2 ASCII letters or digits",
                ))
            }
        };
        Ok(Self {
            version,
            length: 0,
            key_usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks: Vec::new(),
        })
    }

    /// Appends an optional block (builder style).
    pub fn with_optional_block(mut self, block: OptionalBlock) -> Self {
        self.optional_blocks.push(block);
        self
    }

    /// The key version number as text.
    pub fn key_version_str(&self) -> &str {
        std::str::from_utf8(&self.key_version).unwrap_or("??")
    }

    /// Encoded header length: 16 plus the encoded optional blocks.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN
            + self
                .optional_blocks
                .iter()
                .map(OptionalBlock::encoded_len)
                .sum::<usize>()
    }

    /// The optional block with `id`, if present.
    pub fn optional_block(&self, id: &str) -> Option<&OptionalBlock> {
        self.optional_blocks.iter().find(|b| b.id() == id)
    }

    /// Encodes the header with the given total key block length in the
    /// length field. Checks the same rules as [`super::parse_header`] except that
    /// the length is not compared with a block.
    pub fn encode(&self, total_len: usize) -> AlgoResult<String> {
        if total_len > 9999 {
            return Err(AlgoError::new(
                "tr31 length",
                format!("{total_len} exceeds 9999"),
            ));
        }
        let count = self.optional_blocks.len();
        if count > 99 {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("{count} blocks exceed 99"),
            ));
        }
        for (i, b) in self.optional_blocks.iter().enumerate() {
            // Re-validate: fields are private but the header may have been
            // built from anywhere.
            OptionalBlock::new(b.id(), b.data())?;
            if b.is_padding() && i + 1 != count {
                return Err(AlgoError::new(
                    "tr31 optional block",
                    "PB padding block must be the last block",
                ));
            }
        }
        if !(self.key_version[0].is_ascii_alphanumeric()
            && self.key_version[1].is_ascii_alphanumeric())
        {
            return Err(AlgoError::new(
                "tr31 key version",
                "must be 2 ASCII letters or digits",
            ));
        }
        let hl = self.header_len();
        let bs = self.version.block_size();
        if count > 0 && !hl.is_multiple_of(bs) {
            return Err(AlgoError::new(
                "tr31 optional block",
                format!("header length {hl} is not a multiple of {bs} (add a PB block)"),
            ));
        }
        let mut s = String::with_capacity(hl);
        s.push(self.version.as_char());
        s.push_str(&format!("{total_len:04}"));
        s.push_str(self.key_usage.as_str());
        s.push(self.algorithm.as_char());
        s.push(self.mode_of_use.as_char());
        s.push_str(self.key_version_str());
        s.push(self.exportability.as_char());
        s.push_str(&format!("{count:02}"));
        s.push_str("00");
        for b in &self.optional_blocks {
            b.encode_into(&mut s);
        }
        Ok(s)
    }

    /// Returns a copy whose optional blocks are padded with a final `PB`
    /// block (of `'0'` characters) so the header is a multiple of the
    /// version's block size. An existing layout that already aligns is kept
    /// unchanged; otherwise any `PB` block is dropped and recomputed.
    pub fn with_padding_block(&self) -> Self {
        let bs = self.version.block_size();
        let mut h = self.clone();
        if h.optional_blocks.is_empty() || h.header_len().is_multiple_of(bs) {
            return h;
        }
        h.optional_blocks.retain(|b| !b.is_padding());
        if h.optional_blocks.is_empty() {
            return h;
        }
        let pad = (bs - (h.header_len() + 4) % bs) % bs;
        h.optional_blocks.push(OptionalBlock {
            id: *b"PB",
            data: "0".repeat(pad),
        });
        h
    }
}

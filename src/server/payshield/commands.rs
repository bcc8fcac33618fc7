//! Host command processing for the payShield simulator: one pure function
//! from a request payload to a response payload, built on [`crate::algo`].
//!
//! Requests are read with the codec's typed parser
//! ([`crate::payshield::codec::command`]), the same one the golden-frame
//! tests and the fuzz round trip use; responses are written with the
//! codec's reply encoders, which the client parses with. A request that does
//! not parse gets the error code the HSM uses for the field at fault (by
//! command: `04` is "invalid key type" on A0, "invalid output format" on M0,
//! "invalid MAC algorithm" on M6), never a panic and never a silent accept.
//!
//! Keys arrive encrypted under the LMK; each command decrypts them with the
//! LMK pair and variant of the key type it expects, so a key of the wrong
//! type decrypts to garbage and fails its parity check (error 10 / 11), as
//! on a real payShield.

use crate::algo::cipher::{fix_odd_parity, has_odd_parity, kcv_tdes, BlockCipher};
use crate::algo::{pinblock, tr31};
use crate::payshield::codec::command::{self, A8Export, Bu, Command, KeyUnderZmk, A0, A6, A8};
use crate::payshield::codec::reply::{encode_key_reply, encode_nd, KeyOut, KeyReply};
use crate::payshield::codec::{self, push_hex, CodecError};
use crate::payshield::keyblock::KeyBlockLmk;
use crate::payshield::lmk::{
    encrypt_under_zmk, EncryptedKey, KeyError, KeyScheme, KeyType, VariantLmk,
};
use crate::types::Kcv;
use rand::RngCore;
use zeroize::Zeroizing;

mod card;
mod data;
mod dcvv;
mod kb;
mod kw;
mod lmkpin;
mod pindata;

/// payShield error codes used by the simulator. The meaning of a code
/// depends on the command (see [`crate::payshield::codec::errors`]).
pub mod err {
    /// No error.
    pub const OK: [u8; 2] = *b"00";
    /// Verification failure (or, on A6, a key parity warning).
    pub const VERIFY: [u8; 2] = *b"01";
    /// Invalid key type code.
    pub const KEY_TYPE: [u8; 2] = *b"04";
    /// Invalid key length flag.
    pub const LENGTH_FLAG: [u8; 2] = *b"05";
    /// Source (or only) key parity error.
    pub const SRC_PARITY: [u8; 2] = *b"10";
    /// Destination key parity error.
    pub const DST_PARITY: [u8; 2] = *b"11";
    /// Invalid LMK identifier (payShield 10K table; disputed, see the
    /// codec's error table).
    pub const LMK_ID: [u8; 2] = *b"13";
    /// Invalid input data.
    pub const INPUT: [u8; 2] = *b"15";
    /// PIN block does not contain valid values.
    pub const PIN_BLOCK: [u8; 2] = *b"20";
    /// Invalid PIN block format code.
    pub const PIN_FORMAT: [u8; 2] = *b"23";
    /// PIN too long or too short.
    pub const PIN_LEN: [u8; 2] = *b"24";
    /// Invalid key scheme.
    pub const SCHEME: [u8; 2] = *b"26";
    /// Incompatible key length.
    pub const KEY_LEN: [u8; 2] = *b"27";
    /// KQ / KW: unrecognised mode flag (the code other commands use for an
    /// invalid key type).
    pub const MODE_FLAG: [u8; 2] = *b"04";
    /// KQ / KW: unrecognised scheme ID (the code BU uses for a bad length flag).
    pub const SCHEME_ID: [u8; 2] = *b"05";
    /// M0 / M2 / M6 / M8: invalid mode flag.
    pub const M_MODE: [u8; 2] = *b"02";
    /// M0 / M2 / M6 / M8: invalid input format flag.
    pub const M_INPUT_FORMAT: [u8; 2] = *b"03";
    /// M0 / M2: invalid output format flag.
    pub const M_OUTPUT_FORMAT: [u8; 2] = *b"04";
    /// M6 / M8: invalid MAC algorithm.
    pub const MAC_ALGORITHM: [u8; 2] = *b"04";
    /// M0 / M2 / M6 / M8: invalid key type.
    pub const M_KEY_TYPE: [u8; 2] = *b"05";
    /// M0 / M2 / M6 / M8: invalid message length.
    pub const M_LENGTH: [u8; 2] = *b"06";
    /// M6 / M8: invalid padding method.
    pub const MAC_PADDING: [u8; 2] = *b"09";
    /// Command not available (unknown, disabled or not licensed).
    pub const DISABLED: [u8; 2] = *b"68";
    /// Data length error (B2: less data than the length field says).
    pub const DATA_LENGTH: [u8; 2] = *b"80";
    /// KQ: transaction data length error.
    pub const KQ_DATA_LENGTH: [u8; 2] = *b"80";
    /// KQ: zero-length transaction data.
    pub const KQ_NO_DATA: [u8; 2] = *b"81";
    /// A8 TR-31 export: invalid number of optional blocks.
    pub const OPTIONAL_BLOCKS: [u8; 2] = *b"AB";
    /// Key block format error (length field, sizes, characters).
    pub const KB_FORMAT: [u8; 2] = *b"83";
    /// Key block authentication failure.
    pub const KB_AUTH: [u8; 2] = *b"A4";
    /// Key length does not fit the key block's algorithm.
    pub const KB_KEY_LEN: [u8; 2] = *b"A5";
    /// Invalid key usage (the command does not take the block's usage).
    pub const KB_USAGE: [u8; 2] = *b"A6";
    /// Invalid algorithm.
    pub const KB_ALGORITHM: [u8; 2] = *b"A7";
    /// Invalid mode of use.
    pub const KB_MODE: [u8; 2] = *b"A8";
    /// Invalid export field (the key may not be exported).
    pub const KB_EXPORT: [u8; 2] = *b"AA";
    /// Invalid key block header ID (version).
    pub const KB_HEADER: [u8; 2] = *b"BE";
}

type Code = [u8; 2];

/// A failed command: its error code and, for warnings, the fields that
/// still follow it (A6 answers `01` with the key when its parity is wrong).
#[derive(Debug)]
struct Fail {
    code: Code,
    body: Vec<u8>,
}

impl From<Code> for Fail {
    fn from(code: Code) -> Self {
        Self {
            code,
            body: Vec::new(),
        }
    }
}

impl From<CodecError> for Fail {
    fn from(_: CodecError) -> Self {
        err::INPUT.into()
    }
}

type Res = Result<Vec<u8>, Fail>;

impl From<CodecError> for Code {
    fn from(_: CodecError) -> Self {
        err::INPUT
    }
}

/// The error code for a request that does not parse: by command and the
/// field at fault (ut-codec-payshield `messages.json` per-command tables;
/// the 10K general list for the rest). Missing data is `15`.
fn parse_error(cmd: Code, e: &CodecError) -> Code {
    let data = matches!(&cmd, b"M0" | b"M2");
    let mac = matches!(&cmd, b"M6" | b"M8");
    let emv = matches!(&cmd, b"KQ" | b"KW");
    match e.field {
        "mode flag" if data || mac => err::M_MODE,
        "mode flag" if emv => err::MODE_FLAG,
        "scheme id" if emv => err::SCHEME_ID,
        "input format" => err::M_INPUT_FORMAT,
        "output format" => err::M_OUTPUT_FORMAT,
        "mac algorithm" => err::MAC_ALGORITHM,
        "padding method" => err::MAC_PADDING,
        "key type" if data || mac => err::M_KEY_TYPE,
        "key type" | "key type code" => err::KEY_TYPE,
        "message length" | "message" if data || mac => err::M_LENGTH,
        "key length flag" => err::LENGTH_FLAG,
        "transaction data length" if &cmd == b"KQ" && e.reason == "zero" => err::KQ_NO_DATA,
        "transaction data length" | "transaction data" | "transaction data delimiter"
            if &cmd == b"KQ" =>
        {
            err::KQ_DATA_LENGTH
        }
        "key scheme" | "key scheme lmk" | "key scheme zmk" | "zmk key scheme" => err::SCHEME,
        "source format" | "destination format" | "pin block format" => err::PIN_FORMAT,
        "lmk identifier" => err::LMK_ID,
        // B2 with less data than its length says (ThalesSim L511: 80).
        "data" if &cmd == b"B2" => err::DATA_LENGTH,
        "number of optional blocks" if e.reason != "not enough data" => err::OPTIONAL_BLOCKS,
        _ if e.reason == "key block scheme not supported here" => err::SCHEME,
        _ if e.reason == codec::KEY_BLOCK_FORMAT => err::KB_FORMAT,
        // A0's key-block attributes (`#` fields): the key-block codes.
        "key usage" if &cmd == b"A0" => err::KB_USAGE,
        "algorithm" if &cmd == b"A0" => err::KB_ALGORITHM,
        "mode of use" if &cmd == b"A0" => err::KB_MODE,
        "key version" if &cmd == b"A0" => *b"A9",
        "exportability" if &cmd == b"A0" => err::KB_EXPORT,
        "optional block" if &cmd == b"A0" => *b"AC",
        _ => err::INPUT,
    }
}

#[cfg(feature = "payshield")]
impl crate::payshield::HostCommandHandler for Sim {
    fn handle(&self, payload: &[u8], out: &mut Vec<u8>) {
        Sim::handle(self, payload, out);
    }

    fn lmk_kind(&self) -> crate::payshield::LmkKind {
        if self.key_block_lmk.is_some() {
            crate::payshield::LmkKind::KeyBlock
        } else {
            crate::payshield::LmkKind::Variant
        }
    }
}

/// The simulator's static state.
#[derive(Debug, Clone)]
pub struct Sim {
    /// The LMK set (used when no key-block LMK is set).
    pub lmk: VariantLmk,
    /// A key-block LMK: when set, it is the simulator's only LMK (identifier
    /// `00`) and every key is a key block (`S`).
    pub key_block_lmk: Option<KeyBlockLmk>,
    /// Header length in characters.
    pub header_len: usize,
    /// Firmware number reported by NC / NO (9 characters).
    pub firmware: [u8; 9],
}

impl Sim {
    /// A simulator with `lmk` and `header_len`.
    pub fn new(lmk: VariantLmk, header_len: usize) -> Self {
        Self {
            lmk,
            key_block_lmk: None,
            header_len,
            firmware: *b"1500-0023",
        }
    }

    /// The simulator with a key-block LMK instead of the variant one.
    pub fn with_key_block_lmk(mut self, lmk: KeyBlockLmk) -> Self {
        self.key_block_lmk = Some(lmk);
        self
    }

    /// Processes one request payload (header + command + fields) and appends
    /// the response frame to `out`. Never panics, whatever the input.
    pub fn handle(&self, payload: &[u8], out: &mut Vec<u8>) {
        let hl = self.header_len.min(payload.len());
        let (header, rest) = payload.split_at(hl);
        let (cmd, fields) = match rest {
            [a, b, tail @ ..] => ([*a, *b], tail),
            _ => {
                let _ = codec::write_frame(out, &[header, b"ZZ", &err::INPUT]);
                return;
            }
        };
        let started = std::time::Instant::now();
        let result = self.dispatch(cmd, fields);
        let rc = codec::response_code(cmd);
        let w = match &result {
            Ok(body) => codec::write_frame(out, &[header, &rc, &err::OK, body]),
            Err(f) => codec::write_frame(out, &[header, &rc, &f.code, &f.body]),
        };
        // Labels: a modelled command code or `other`; the error code (two
        // digits, from the simulator's own table).
        let command = if command::MODELLED.contains(&&cmd) {
            String::from_utf8_lossy(&cmd).into_owned()
        } else {
            "other".to_string()
        };
        let code = match &result {
            Ok(_) => err::OK,
            Err(f) => f.code,
        };
        let outcome = if code.iter().all(u8::is_ascii_alphanumeric) {
            String::from_utf8_lossy(&code).into_owned()
        } else {
            "other".to_string()
        };
        crate::server::record_request("payshield", command, outcome, started.elapsed());
        if w.is_err() {
            let _ = codec::write_frame(out, &[header, &rc, &err::INPUT]);
        }
    }

    fn dispatch(&self, cmd: Code, f: &[u8]) -> Res {
        // CI (single-DES DUKPT) and everything not modelled: not available.
        if !command::MODELLED.contains(&&cmd) {
            return Err(err::DISABLED.into());
        }
        let req = command::parse_command(cmd, f).map_err(|e| parse_error(cmd, &e))?;
        // One LMK is loaded: identifier 00.
        if req.lmk_id.is_some_and(|id| &id != b"00") {
            return Err(err::LMK_ID.into());
        }
        match req.command {
            Command::Nc => Ok(self.nc()),
            Command::No(mode) => self.no(mode),
            Command::B2(d) => Ok(d),
            Command::A0(a) => self.a0(&a),
            Command::A6(a) => self.a6(&a),
            Command::A8(a) => self.a8(&a),
            Command::Bu(b) => self.bu(&b),
            Command::Ca(p) => self.translate(&p, KeyType::TPK),
            Command::Cc(p) => self.translate(&p, KeyType::ZPK),
            Command::G0(g) => self.g0(&g),
            Command::M0(d) => self.crypt(&d, true),
            Command::M2(d) => self.crypt(&d, false),
            Command::Cw(c) => self.cw(&c),
            Command::Cy(c) => self.cy(&c),
            Command::Kq(q) => self.kq(&q),
            Command::Kw(w) => self.kw(&w),
            Command::M6(m) => self.mac(&m, false),
            Command::M8(m) => self.mac(&m, true),
            Command::Pin(p) => self.pin(&p),
            Command::Pm(p) => self.pm(&p),
        }
    }

    /// The clear key `k` (expected key type `kt`) from under the LMK: a
    /// variant-LMK key (a wrong type fails its parity check: `parity`), or
    /// a key block whose usage fits `kt` (see [`kb`]).
    fn key(&self, kt: KeyType, k: &EncryptedKey, parity: Code) -> Result<Zeroizing<Vec<u8>>, Code> {
        self.key_of(kt, k, parity, kb::Use::Any).map(|c| c.key)
    }

    fn variant_key(
        &self,
        kt: KeyType,
        k: &EncryptedKey,
        parity: Code,
    ) -> Result<Zeroizing<Vec<u8>>, Code> {
        if k.scheme == KeyScheme::S {
            return Err(err::SCHEME);
        }
        self.lmk.decrypt_key(kt, k).map_err(|e| match e {
            KeyError::Parity => parity,
            KeyError::Scheme => err::SCHEME,
        })
    }

    fn nc(&self) -> Vec<u8> {
        let mut kcv = Vec::with_capacity(16);
        match &self.key_block_lmk {
            Some(kb) => kcv = Self::kb_check_value(kb),
            None => push_hex(&mut kcv, &self.lmk.check_value()),
        }
        let mut b = Vec::with_capacity(25);
        encode_nd(
            &mut b,
            &String::from_utf8_lossy(&kcv),
            &String::from_utf8_lossy(&self.firmware),
        );
        b
    }

    /// NO mode `00`. **Unconfirmed layout:** no public NP frame has more
    /// than ThalesSim's bare `00`; the fields here (I/O buffer size `2`,
    /// Ethernet `1`, 64 TCP sockets, firmware) follow the notes.
    fn no(&self, mode: [u8; 2]) -> Res {
        if &mode != b"00" {
            return Err(err::INPUT.into());
        }
        let mut b = b"2164".to_vec();
        b.extend_from_slice(&self.firmware);
        Ok(b)
    }

    /// A0. The ZMK/TMK flag is read but a TMK is treated as a ZMK (LMK
    /// 04-05).
    fn a0(&self, a: &A0) -> Res {
        if let Some(kb) = &self.key_block_lmk {
            return self.a0_kb(kb, a);
        }
        if a.key_block.is_some() {
            return Err(err::SCHEME.into());
        }
        let scheme = lmk_scheme(a.scheme)?;
        let mut key = Zeroizing::new(vec![0u8; scheme.key_len()]);
        rand::rng().fill_bytes(&mut key);
        fix_odd_parity(&mut key);
        let under_lmk = self
            .lmk
            .encrypt_key(a.key_type, scheme, &key)
            .map_err(|_| err::SCHEME)?;
        let mut keys = vec![KeyOut::Key(under_lmk)];
        if let Some(e) = &a.export {
            let zmk = self.key(KeyType::ZMK, &e.zmk, err::SRC_PARITY)?;
            if e.scheme.key_len() != key.len() {
                return Err(err::KEY_LEN.into());
            }
            let under_zmk =
                encrypt_under_zmk(&zmk, e.scheme, &key, true).map_err(|_| err::KEY_LEN)?;
            keys.push(KeyOut::Key(EncryptedKey {
                scheme: e.scheme,
                bytes: under_zmk.to_vec(),
            }));
        }
        tdes_key_reply(keys, &key)
    }

    /// A6. Atalla variants (ThalesSim frames `…Z5`, `…U1`) are parsed but
    /// not modelled: `15`.
    fn a6(&self, a: &A6) -> Res {
        if let Some(kb) = &self.key_block_lmk {
            return self.a6_kb(kb, a);
        }
        if a.atalla.is_some() {
            return Err(err::INPUT.into());
        }
        let zmk = self.key(KeyType::ZMK, &a.zmk, err::SRC_PARITY)?;
        let clear = match &a.key {
            KeyUnderZmk::Tr31(block) => {
                let (h, clear) = tr31::unwrap(&zmk, block).map_err(|_| err::INPUT)?;
                if h.algorithm != tr31::Algorithm::Tdes {
                    return Err(err::KEY_LEN.into());
                }
                if !usage_allows(h.key_usage.as_str(), a.key_type) {
                    return Err(err::KEY_TYPE.into());
                }
                clear
            }
            KeyUnderZmk::Key(k) => {
                encrypt_under_zmk(&zmk, k.scheme, &k.bytes, false).map_err(|_| err::KEY_LEN)?
            }
        };
        let scheme = lmk_scheme(a.scheme)?;
        if scheme.key_len() != clear.len() {
            return Err(err::KEY_LEN.into());
        }
        let under_lmk = self
            .lmk
            .encrypt_key(a.key_type, scheme, &clear)
            .map_err(|_| err::SCHEME)?;
        let b = tdes_key_reply(vec![KeyOut::Key(under_lmk)], &clear)?;
        if !has_odd_parity(&clear) {
            // Warning: the key is imported, but its parity is wrong.
            return Err(Fail {
                code: err::VERIFY,
                body: b,
            });
        }
        Ok(b)
    }

    /// A8. TR-31 export: the block version is the one after `!`; without
    /// `!` the simulator uses `B` (**unconfirmed**: on a payShield the
    /// default comes from its security settings, which no public source
    /// documents). Optional blocks (0-2) go into the block header.
    fn a8(&self, a: &A8) -> Res {
        if let Some(kb) = &self.key_block_lmk {
            return self.a8_kb(kb, a);
        }
        let zmk = self.key(KeyType::ZMK, &a.zmk, err::SRC_PARITY)?;
        let key = self.key(a.key_type, &a.key, err::DST_PARITY)?;
        let out = match &a.export {
            A8Export::Tr31(t) => {
                let usage = std::str::from_utf8(&t.usage).map_err(|_| err::INPUT)?;
                if !usage_allows(usage, a.key_type) {
                    return Err(err::KEY_TYPE.into());
                }
                let version = tr31::Version::from_char(char::from(t.version.unwrap_or(b'B')))
                    .ok_or(err::INPUT)?;
                let mut header = tr31::Tr31Header::new(
                    version,
                    tr31::KeyUsage::new(usage).map_err(|_| err::INPUT)?,
                    tr31::Algorithm::Tdes,
                    tr31::ModeOfUse::from_char(char::from(t.mode_of_use)).ok_or(err::INPUT)?,
                    std::str::from_utf8(&t.key_version).map_err(|_| err::INPUT)?,
                    tr31::Exportability::from_char(char::from(t.exportability))
                        .ok_or(err::INPUT)?,
                )
                .map_err(|_| err::INPUT)?;
                for (id, data) in &t.optional_blocks {
                    let id = std::str::from_utf8(id).map_err(|_| err::INPUT)?;
                    let block =
                        tr31::OptionalBlock::new(id, data).map_err(|_| err::OPTIONAL_BLOCKS)?;
                    header = header.with_optional_block(block);
                }
                let block =
                    tr31::wrap(&zmk, &header, &key, &mut rand::rng()).map_err(|_| err::KEY_LEN)?;
                KeyOut::Tr31(block)
            }
            A8Export::Scheme(_, Some(_)) => return Err(err::INPUT.into()),
            A8Export::KeyBlock(_) => return Err(err::SCHEME.into()),
            A8Export::Scheme(zs, None) => {
                if zs.key_len() != key.len() {
                    return Err(err::KEY_LEN.into());
                }
                let e = encrypt_under_zmk(&zmk, *zs, &key, true).map_err(|_| err::KEY_LEN)?;
                KeyOut::Key(EncryptedKey {
                    scheme: *zs,
                    bytes: e.to_vec(),
                })
            }
        };
        tdes_key_reply(vec![out], &key)
    }

    /// BU. The KCV is 16H, or 6H when the KCV type field says `1`.
    fn bu(&self, b: &Bu) -> Res {
        if let Some(kb) = &self.key_block_lmk {
            return self.bu_kb(kb, b);
        }
        let want = match b.length_flag {
            b'0' => 8,
            b'1' => 16,
            _ => 24,
        };
        if b.key.scheme.key_len() != want {
            return Err(err::KEY_LEN.into());
        }
        let key = self.key(b.key_type, &b.key, err::SRC_PARITY)?;
        let c = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
        let mut z = [0u8; 8];
        c.encrypt_ecb(&mut z).map_err(|_| err::KEY_LEN)?;
        let n = if matches!(b.kcv_type, Some((_, b'1'))) {
            3
        } else {
            8
        };
        let mut out = Vec::with_capacity(16);
        push_hex(&mut out, z.get(..n).unwrap_or(&z));
        Ok(out)
    }
}

/// A key reply body (keys + the 6H KCV of the TDES key `clear`).
fn tdes_key_reply(keys: Vec<KeyOut>, clear: &[u8]) -> Res {
    key_reply(keys, Kcv(kcv_tdes(clear).map_err(|_| err::KEY_LEN)?))
}

/// A key reply body (keys + the 6H `kcv`).
fn key_reply(keys: Vec<KeyOut>, kcv: Kcv) -> Res {
    let mut b = Vec::new();
    encode_key_reply(&mut b, &KeyReply { keys, kcv });
    Ok(b)
}

/// A key scheme the variant LMK encrypts under (`U`, `T`, `Z`); else `26`.
fn lmk_scheme(s: KeyScheme) -> Result<KeyScheme, Code> {
    match s {
        KeyScheme::U | KeyScheme::T | KeyScheme::Z => Ok(s),
        _ => Err(err::SCHEME),
    }
}

/// An ISO PIN block format code other than `48` (else `23`): the variant-LMK
/// commands' formats. (CA, CC and G0 also take `48` with an AES key, see
/// `card.rs`.)
#[allow(dead_code)]
fn pin_format(code: &[u8]) -> Result<pinblock::PinBlockFormat, Code> {
    match codec::pin_format_from_code(code) {
        // ISO 4 needs an AES key: not with a variant LMK.
        Some(pinblock::PinBlockFormat::Iso4) | None => Err(err::PIN_FORMAT),
        Some(f) => Ok(f),
    }
}

/// Whether a TR-31 key usage may be imported/exported as key type `kt`.
fn usage_allows(usage: &str, kt: KeyType) -> bool {
    let allowed: &[KeyType] = match usage {
        "K0" | "K1" => &[KeyType::ZMK],
        "P0" => &[KeyType::ZPK, KeyType::TPK],
        "C0" => &[KeyType::CVK],
        "B0" => &[KeyType::BDK],
        "E0" => &[KeyType::MK_AC],
        "E1" => &[KeyType::MK_SMC],
        "E2" => &[KeyType::MK_SMI],
        "E4" => &[KeyType::MK_DN, KeyType::MK_CVC3],
        // AWS's dCVV master key usage; PM takes it as an MK-AC.
        "E6" => &[KeyType::MK_AC],
        "D0" => &[KeyType::ZEK, KeyType::DEK],
        "M0" | "M1" | "M3" => &[KeyType::TAK, KeyType::ZAK],
        "V1" | "V2" => &[KeyType::TPK],
        _ => &[],
    };
    allowed.contains(&kt)
}

//! Host command processing for the payShield simulator: one pure function
//! from a request payload to a response payload, built on [`crate::algo`].
//!
//! Keys arrive encrypted under the LMK; each command decrypts them with the
//! LMK pair and variant of the key type it expects, so a key of the wrong
//! type decrypts to garbage and fails its parity check (error 10 / 11), as
//! on a real payShield.

use crate::algo::cipher::{fix_odd_parity, has_odd_parity, kcv_tdes, BlockCipher};
use crate::algo::dukpt::{tdes_working_key, Ksn, TdesDukptUsage};
use crate::algo::mac::{self, Padding};
use crate::algo::{cvv, emv, pinblock, tr31};
use crate::payshield::codec::{self, push_hex, CodecError, Reader};
use crate::payshield::lmk::{
    encrypt_under_zmk, EncryptedKey, KeyError, KeyScheme, KeyType, VariantLmk,
};
use rand::RngCore;
use zeroize::Zeroizing;

mod kw;

/// payShield error codes used by the simulator.
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
    /// KW: unrecognised mode flag (the code other commands use for an
    /// invalid key type).
    pub const MODE_FLAG: [u8; 2] = *b"04";
    /// KW: unrecognised scheme ID (the code BU uses for a bad length flag).
    pub const SCHEME_ID: [u8; 2] = *b"05";
    /// Command not available (unknown, disabled or not licensed).
    pub const DISABLED: [u8; 2] = *b"68";
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

/// The simulator's static state.
#[derive(Debug, Clone)]
pub struct Sim {
    /// The LMK set.
    pub lmk: VariantLmk,
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
            header_len,
            firmware: *b"1500-0023",
        }
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
        let result = self.dispatch(cmd, fields);
        let rc = codec::response_code(cmd);
        let w = match &result {
            Ok(body) => codec::write_frame(out, &[header, &rc, &err::OK, body]),
            Err(f) => codec::write_frame(out, &[header, &rc, &f.code, &f.body]),
        };
        if w.is_err() {
            let _ = codec::write_frame(out, &[header, &rc, &err::INPUT]);
        }
    }

    fn dispatch(&self, cmd: Code, f: &[u8]) -> Res {
        let mut r = Reader::new(f);
        let r = &mut r;
        match &cmd {
            b"NC" => self.nc(r),
            b"NO" => self.no(r),
            b"B2" => b2(r),
            b"A0" => self.a0(r),
            b"A6" => self.a6(r),
            b"A8" => self.a8(r),
            b"BU" => self.bu(r),
            b"CA" => self.translate(r, KeyType::TPK),
            b"CC" => self.translate(r, KeyType::ZPK),
            b"G0" => self.g0(r),
            b"M0" => self.crypt(r, true),
            b"M2" => self.crypt(r, false),
            b"CW" => self.cw(r),
            b"CY" => self.cy(r),
            b"KQ" => self.kq(r),
            b"KW" => self.kw(r),
            b"M6" => self.mac(r, false),
            b"M8" => self.mac(r, true),
            // CI (single-DES DUKPT) and everything else: not available.
            _ => Err(err::DISABLED.into()),
        }
    }

    fn key(&self, kt: KeyType, k: &EncryptedKey, parity: Code) -> Result<Zeroizing<Vec<u8>>, Code> {
        self.lmk.decrypt_key(kt, k).map_err(|e| match e {
            KeyError::Parity => parity,
            KeyError::Scheme => err::SCHEME,
        })
    }

    fn nc(&self, r: &mut Reader<'_>) -> Res {
        end(r)?;
        let mut b = Vec::with_capacity(25);
        push_hex(&mut b, &self.lmk.check_value());
        b.extend_from_slice(&self.firmware);
        Ok(b)
    }

    fn no(&self, r: &mut Reader<'_>) -> Res {
        if r.digits(2, "mode")? != "00" {
            return Err(err::INPUT.into());
        }
        end(r)?;
        // I/O buffer size (2 = 16K), Ethernet type (1), TCP sockets (64), firmware.
        let mut b = b"2164".to_vec();
        b.extend_from_slice(&self.firmware);
        Ok(b)
    }

    fn a0(&self, r: &mut Reader<'_>) -> Res {
        let mode = r.take(1, "mode")?;
        let kt = r.key_type("key type").map_err(|_| err::KEY_TYPE)?;
        let scheme = lmk_scheme(r.take(1, "key scheme")?)?;
        let mut key = Zeroizing::new(vec![0u8; scheme.key_len()]);
        rand::rng().fill_bytes(&mut key);
        fix_odd_parity(&mut key);
        let under_lmk = self
            .lmk
            .encrypt_key(kt, scheme, &key)
            .map_err(|_| err::SCHEME)?;
        let mut b = Vec::new();
        under_lmk.write(&mut b);
        match mode {
            b"0" => end(r)?,
            b"1" => {
                if r.eat(b';') {
                    r.take(1, "zmk/tmk flag")?;
                }
                let zk = r.key("zmk")?;
                let zmk = self.key(KeyType::ZMK, &zk, err::SRC_PARITY)?;
                let zs = any_scheme(r.take(1, "zmk key scheme")?)?;
                end(r)?;
                if zs.key_len() != key.len() {
                    return Err(err::KEY_LEN.into());
                }
                let under_zmk =
                    encrypt_under_zmk(&zmk, zs, &key, true).map_err(|_| err::KEY_LEN)?;
                EncryptedKey {
                    scheme: zs,
                    bytes: under_zmk.to_vec(),
                }
                .write(&mut b);
            }
            _ => return Err(err::INPUT.into()),
        }
        push_hex(&mut b, &kcv_tdes(&key).map_err(|_| err::KEY_LEN)?);
        Ok(b)
    }

    fn a6(&self, r: &mut Reader<'_>) -> Res {
        let kt = r.key_type("key type").map_err(|_| err::KEY_TYPE)?;
        let zk = r.key("zmk")?;
        let zmk = self.key(KeyType::ZMK, &zk, err::SRC_PARITY)?;
        let clear = if r.eat(b'R') {
            let block = r.tr31_block("key block")?;
            let (h, clear) = tr31::unwrap(&zmk, block).map_err(|_| err::INPUT)?;
            if h.algorithm != tr31::Algorithm::Tdes {
                return Err(err::KEY_LEN.into());
            }
            if !usage_allows(h.key_usage.as_str(), kt) {
                return Err(err::KEY_TYPE.into());
            }
            clear
        } else {
            let k = r.key("key under zmk")?;
            encrypt_under_zmk(&zmk, k.scheme, &k.bytes, false).map_err(|_| err::KEY_LEN)?
        };
        let scheme = lmk_scheme(r.take(1, "key scheme lmk")?)?;
        end(r)?;
        if scheme.key_len() != clear.len() {
            return Err(err::KEY_LEN.into());
        }
        let under_lmk = self
            .lmk
            .encrypt_key(kt, scheme, &clear)
            .map_err(|_| err::SCHEME)?;
        let mut b = Vec::new();
        under_lmk.write(&mut b);
        push_hex(&mut b, &kcv_tdes(&clear).map_err(|_| err::KEY_LEN)?);
        if !has_odd_parity(&clear) {
            // Warning: the key is imported, but its parity is wrong.
            return Err(Fail {
                code: err::VERIFY,
                body: b,
            });
        }
        Ok(b)
    }

    fn a8(&self, r: &mut Reader<'_>) -> Res {
        let kt = r.key_type("key type").map_err(|_| err::KEY_TYPE)?;
        if r.eat(b';') {
            r.take(1, "zmk/tmk flag")?;
        }
        let zk = r.key("zmk")?;
        let zmk = self.key(KeyType::ZMK, &zk, err::SRC_PARITY)?;
        let kk = r.key("key")?;
        let key = self.key(kt, &kk, err::DST_PARITY)?;
        let scheme_tag = r.take(1, "key scheme zmk")?;
        let mut b = Vec::new();
        if scheme_tag == b"R" {
            r.expect(b'&', "key block fields")?;
            let usage = r.take(2, "key usage")?;
            let mode = r.take(1, "mode of use")?;
            let version = r.take(2, "key version")?;
            let exp = r.take(1, "exportability")?;
            end(r)?;
            let usage = std::str::from_utf8(usage).map_err(|_| err::INPUT)?;
            if !usage_allows(usage, kt) {
                return Err(err::KEY_TYPE.into());
            }
            let header = tr31::Tr31Header::new(
                tr31::Version::B,
                tr31::KeyUsage::new(usage).map_err(|_| err::INPUT)?,
                tr31::Algorithm::Tdes,
                mode.first()
                    .copied()
                    .and_then(|c| tr31::ModeOfUse::from_char(c as char))
                    .ok_or(err::INPUT)?,
                std::str::from_utf8(version).map_err(|_| err::INPUT)?,
                exp.first()
                    .copied()
                    .and_then(|c| tr31::Exportability::from_char(c as char))
                    .ok_or(err::INPUT)?,
            )
            .map_err(|_| err::INPUT)?;
            let block =
                tr31::wrap(&zmk, &header, &key, &mut rand::rng()).map_err(|_| err::KEY_LEN)?;
            b.push(b'R');
            b.extend_from_slice(block.as_bytes());
        } else {
            let zs = any_scheme(scheme_tag)?;
            end(r)?;
            if zs.key_len() != key.len() {
                return Err(err::KEY_LEN.into());
            }
            let e = encrypt_under_zmk(&zmk, zs, &key, true).map_err(|_| err::KEY_LEN)?;
            EncryptedKey {
                scheme: zs,
                bytes: e.to_vec(),
            }
            .write(&mut b);
        }
        push_hex(&mut b, &kcv_tdes(&key).map_err(|_| err::KEY_LEN)?);
        Ok(b)
    }

    fn bu(&self, r: &mut Reader<'_>) -> Res {
        let code = r.take(2, "key type code")?;
        let flag = r.take(1, "key length flag")?;
        let want = match flag {
            b"0" => 8,
            b"1" => 16,
            b"2" => 24,
            _ => return Err(err::LENGTH_FLAG.into()),
        };
        let k = r.key("key")?;
        let kt = if code == b"FF" {
            r.expect(b';', "key type")?;
            r.key_type("key type").map_err(|_| err::KEY_TYPE)?
        } else {
            let mut c = [b'0'; 3];
            c[1..].copy_from_slice(code);
            KeyType::parse(&c).map_err(|_| err::KEY_TYPE)?
        };
        end(r)?;
        if k.scheme.key_len() != want {
            return Err(err::KEY_LEN.into());
        }
        let key = self.key(kt, &k, err::SRC_PARITY)?;
        let c = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
        let mut z = [0u8; 8];
        c.encrypt_ecb(&mut z).map_err(|_| err::KEY_LEN)?;
        let mut b = Vec::with_capacity(16);
        push_hex(&mut b, &z);
        Ok(b)
    }

    /// CA (TPK → ZPK) and CC (ZPK → ZPK).
    fn translate(&self, r: &mut Reader<'_>, src_type: KeyType) -> Res {
        let sk = r.key("source key")?;
        let dk = r.key("destination key")?;
        let max = r.number(2, "maximum pin length")?;
        let block = r.hex(16, "pin block")?;
        let sf = pin_format(r.take(2, "source format")?)?;
        let df = pin_format(r.take(2, "destination format")?)?;
        let acct = r.digits(12, "account number")?;
        end(r)?;
        let src = self.key(src_type, &sk, err::SRC_PARITY)?;
        let dst = self.key(KeyType::ZPK, &dk, err::DST_PARITY)?;
        let sc = BlockCipher::tdes(&src).map_err(|_| err::KEY_LEN)?;
        translate_out(&sc, &dst, &block, sf, df, acct, max)
    }

    fn g0(&self, r: &mut Reader<'_>) -> Res {
        let bk = r.key("bdk")?;
        let zk = r.key("zpk")?;
        let ksn = ksn_field(r)?;
        let block = r.hex(16, "pin block")?;
        let sf = pin_format(r.take(2, "source format")?)?;
        let df = pin_format(r.take(2, "destination format")?)?;
        let acct = r.digits(12, "account number")?;
        end(r)?;
        let bdk = self.key(KeyType::BDK, &bk, err::SRC_PARITY)?;
        let zpk = self.key(KeyType::ZPK, &zk, err::DST_PARITY)?;
        if bdk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        let pk = tdes_working_key(&bdk, &ksn, TdesDukptUsage::Pin).map_err(|_| err::INPUT)?;
        let sc = BlockCipher::tdes(pk.as_slice()).map_err(|_| err::KEY_LEN)?;
        translate_out(&sc, &zpk, &block, sf, df, acct, 12)
    }

    fn crypt(&self, r: &mut Reader<'_>, encrypt: bool) -> Res {
        let mode = r.take(2, "mode flag")?;
        let cbc = match mode {
            b"00" => false,
            b"01" => true,
            _ => return Err(err::INPUT.into()),
        };
        let in_fmt = r.take(1, "input format")?.to_vec();
        let out_fmt = r.take(1, "output format")?.to_vec();
        let kt = r.key_type("key type").map_err(|_| err::KEY_TYPE)?;
        if ![KeyType::ZEK, KeyType::DEK, KeyType::BDK].contains(&kt) {
            return Err(err::KEY_TYPE.into());
        }
        let k = r.key("key")?;
        let ksn = if kt == KeyType::BDK {
            Some(ksn_field(r)?)
        } else {
            None
        };
        let iv = if cbc { Some(r.hex(16, "iv")?) } else { None };
        let n = r.hex_number(4, "message length")?;
        let raw = r.take(n, "message")?;
        end(r)?;
        let mut data = Zeroizing::new(match in_fmt.as_slice() {
            b"0" => raw.to_vec(),
            b"1" => codec::decode_hex("message", raw)?,
            _ => return Err(err::INPUT.into()),
        });
        if data.is_empty() || data.len() % 8 != 0 {
            return Err(err::INPUT.into());
        }
        let key = self.key(kt, &k, err::SRC_PARITY)?;
        let c = match ksn {
            Some(ksn) => {
                if key.len() != 16 {
                    return Err(err::KEY_LEN.into());
                }
                let dk = tdes_working_key(&key, &ksn, TdesDukptUsage::DataRequest)
                    .map_err(|_| err::INPUT)?;
                BlockCipher::tdes(dk.as_slice())
            }
            None => BlockCipher::tdes(&key),
        }
        .map_err(|_| err::KEY_LEN)?;
        let last_in: Vec<u8> = data
            .get(data.len().saturating_sub(8)..)
            .unwrap_or(&[])
            .to_vec();
        let ok = match (&iv, encrypt) {
            (None, true) => c.encrypt_ecb(&mut data),
            (None, false) => c.decrypt_ecb(&mut data),
            (Some(iv), true) => c.encrypt_cbc(iv, &mut data),
            (Some(iv), false) => c.decrypt_cbc(iv, &mut data),
        };
        ok.map_err(|_| err::INPUT)?;
        let mut b = Vec::with_capacity(data.len() * 2 + 24);
        if cbc {
            let next_iv = if encrypt {
                data.get(data.len().saturating_sub(8)..)
                    .unwrap_or(&[])
                    .to_vec()
            } else {
                last_in
            };
            push_hex(&mut b, &next_iv);
        }
        match out_fmt.as_slice() {
            b"0" => {
                b.extend_from_slice(format!("{:04X}", data.len()).as_bytes());
                b.extend_from_slice(&data);
            }
            b"1" => {
                b.extend_from_slice(format!("{:04X}", data.len() * 2).as_bytes());
                push_hex(&mut b, &data);
            }
            _ => return Err(err::INPUT.into()),
        }
        Ok(b)
    }

    fn cvk(&self, r: &mut Reader<'_>) -> Result<Zeroizing<Vec<u8>>, Code> {
        if matches!(r.peek(), Some(b'U' | b'X' | b'T' | b'Y' | b'Z')) {
            let k = r.key("cvk")?;
            let key = self.key(KeyType::CVK, &k, err::SRC_PARITY)?;
            if key.len() != 16 {
                return Err(err::KEY_LEN);
            }
            Ok(key)
        } else {
            // CVK A and CVK B as two single-length keys (16H each).
            let a = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, "cvk a")?,
            };
            let b = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, "cvk b")?,
            };
            let ka = self.key(KeyType::CVK, &a, err::SRC_PARITY)?;
            let kb = self.key(KeyType::CVK, &b, err::SRC_PARITY)?;
            let k = cvv::cvk_from_halves(&ka, &kb).map_err(|_| err::KEY_LEN)?;
            Ok(Zeroizing::new(k.to_vec()))
        }
    }

    fn cw(&self, r: &mut Reader<'_>) -> Res {
        let key = self.cvk(r)?;
        let (pan, exp, sc) = card_fields(r)?;
        let v = cvv::generate_cvv(&key, pan, exp, sc).map_err(|_| err::INPUT)?;
        Ok(v.to_vec())
    }

    fn cy(&self, r: &mut Reader<'_>) -> Res {
        let key = self.cvk(r)?;
        let value = r.digits(3, "cvv")?.as_bytes().to_vec();
        let (pan, exp, sc) = card_fields(r)?;
        let ok = cvv::verify_cvv(&key, pan, exp, sc, &value).map_err(|_| err::INPUT)?;
        if ok {
            Ok(Vec::new())
        } else {
            Err(err::VERIFY.into())
        }
    }

    fn kq(&self, r: &mut Reader<'_>) -> Res {
        let mode = r.take(1, "mode flag")?.to_vec();
        let scheme = r.take(1, "scheme id")?.to_vec();
        let mk = r.key("mk-ac")?;
        let pan_psn = r.array::<8>("pan/psn")?;
        let atc = r.array::<2>("atc")?;
        let un = r.array::<4>("unpredictable number")?;
        let n = r.hex_number(2, "transaction data length")?;
        let data = r.take(n, "transaction data")?;
        r.expect(b';', "delimiter")?;
        let arqc = r.array::<8>("arqc")?;
        let arc = r.array::<2>("arc")?;
        end(r)?;
        if mode != b"0" && mode != b"1" {
            return Err(err::INPUT.into());
        }
        let imk = self.key(KeyType::MK_AC, &mk, err::SRC_PARITY)?;
        if imk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        // PAN/PSN: 16 BCD digits (rightmost 16 of PAN || PSN).
        let mut digits = String::with_capacity(16);
        for b in pan_psn {
            for nib in [b >> 4, b & 0x0F] {
                if nib > 9 {
                    return Err(err::INPUT.into());
                }
                digits.push(char::from(b'0' + nib));
            }
        }
        let (pan, psn) = digits.split_at(14);
        let icc = emv::derive_icc_mk(&imk, pan, Some(psn), emv::MkDerivation::OptionA)
            .map_err(|_| err::INPUT)?;
        let sk = match scheme.as_slice() {
            b"0" => emv::derive_session_key(icc.as_slice(), emv::SessionKeyDerivation::None),
            b"1" => emv::derive_session_key(
                icc.as_slice(),
                emv::SessionKeyDerivation::Mastercard { atc: &atc, un: &un },
            ),
            _ => return Err(err::INPUT.into()),
        };
        let sk = sk.map_err(|_| err::INPUT)?;
        // As the host command manual says for KQ (and KW): data that is not a
        // multiple of 8 bytes gets zero padding (ISO 9797-1 method 1); any
        // scheme padding (`80 00…`) is the host's to add.
        let ok =
            emv::verify_ac(sk.as_slice(), data, Padding::Method1, &arqc).map_err(|_| err::INPUT)?;
        if !ok {
            return Err(err::VERIFY.into());
        }
        if mode == b"1" {
            let arpc =
                emv::generate_arpc_method1(sk.as_slice(), &arqc, &arc).map_err(|_| err::INPUT)?;
            Ok(arpc.to_vec())
        } else {
            Ok(Vec::new())
        }
    }

    fn mac(&self, r: &mut Reader<'_>, verify: bool) -> Res {
        if r.take(1, "mode flag")? != b"0" {
            return Err(err::INPUT.into());
        }
        let in_fmt = r.take(1, "input format")?.to_vec();
        let size = match r.take(1, "mac size")? {
            b"0" => 4,
            b"1" => 8,
            _ => return Err(err::INPUT.into()),
        };
        let alg = r.take(1, "mac algorithm")?.to_vec();
        let padding = match r.take(1, "padding method")? {
            b"0" => Padding::None,
            b"1" => Padding::Method1,
            b"2" => Padding::Method2,
            b"3" => Padding::Method3,
            _ => return Err(err::INPUT.into()),
        };
        let kt = r.key_type("key type").map_err(|_| err::KEY_TYPE)?;
        if kt != KeyType::TAK && kt != KeyType::ZAK {
            return Err(err::KEY_TYPE.into());
        }
        let k = r.key("key")?;
        let n = r.hex_number(4, "message length")?;
        let raw = r.take(n, "message")?;
        let data = match in_fmt.as_slice() {
            b"0" => raw.to_vec(),
            b"1" => codec::decode_hex("message", raw)?,
            _ => return Err(err::INPUT.into()),
        };
        let presented = if verify {
            Some(r.hex(size * 2, "mac")?)
        } else {
            None
        };
        end(r)?;
        let key = self.key(kt, &k, err::SRC_PARITY)?;
        let tag: Vec<u8> = match alg.as_slice() {
            b"1" => {
                let c = BlockCipher::tdes(&key).map_err(|_| err::KEY_LEN)?;
                mac::cbc_mac(&c, &data, padding)
                    .map_err(|_| err::INPUT)?
                    .as_bytes()
                    .to_vec()
            }
            b"2" => {
                if key.len() != 16 {
                    return Err(err::KEY_LEN.into());
                }
                mac::retail_mac(&key, &data, padding)
                    .map_err(|_| err::INPUT)?
                    .to_vec()
            }
            _ => return Err(err::INPUT.into()),
        };
        let tag = tag.get(..size).ok_or(err::INPUT)?.to_vec();
        match presented {
            Some(p) => {
                use subtle::ConstantTimeEq;
                if bool::from(tag.ct_eq(&p)) {
                    Ok(Vec::new())
                } else {
                    Err(err::VERIFY.into())
                }
            }
            None => {
                let mut b = Vec::with_capacity(16);
                push_hex(&mut b, &tag);
                Ok(b)
            }
        }
    }
}

fn b2(r: &mut Reader<'_>) -> Res {
    let n = r.hex_number(4, "length")?;
    let d = r.take(n, "data")?.to_vec();
    end(r)?;
    Ok(d)
}

fn end(r: &Reader<'_>) -> Result<(), Code> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(err::INPUT)
    }
}

fn lmk_scheme(tag: &[u8]) -> Result<KeyScheme, Code> {
    match tag {
        b"U" => Ok(KeyScheme::U),
        b"T" => Ok(KeyScheme::T),
        b"Z" => Ok(KeyScheme::Z),
        _ => Err(err::SCHEME),
    }
}

fn any_scheme(tag: &[u8]) -> Result<KeyScheme, Code> {
    tag.first()
        .copied()
        .and_then(KeyScheme::from_tag)
        .ok_or(err::SCHEME)
}

fn pin_format(code: &[u8]) -> Result<pinblock::PinBlockFormat, Code> {
    match codec::pin_format_from_code(code) {
        // ISO 4 needs an AES key: not with a variant LMK.
        Some(pinblock::PinBlockFormat::Iso4) | None => Err(err::PIN_FORMAT),
        Some(f) => Ok(f),
    }
}

fn ksn_field(r: &mut Reader<'_>) -> Result<Ksn, Code> {
    let desc = r.take(3, "ksn descriptor")?;
    if !desc.iter().all(|c| c.is_ascii_hexdigit()) {
        return Err(err::INPUT);
    }
    let ksn = r.hex(20, "ksn")?;
    Ksn::from_bytes(&ksn).map_err(|_| err::INPUT)
}

fn card_fields<'a>(r: &mut Reader<'a>) -> Result<(&'a str, &'a str, &'a str), Code> {
    let pan = r.until(b';', 19, "pan")?;
    if pan.is_empty() || !pan.iter().all(u8::is_ascii_digit) {
        return Err(err::INPUT);
    }
    let pan = std::str::from_utf8(pan).map_err(|_| err::INPUT)?;
    let exp = r.digits(4, "expiry")?;
    let sc = r.digits(3, "service code")?;
    end(r)?;
    Ok((pan, exp, sc))
}

/// Decrypts under `sc`, checks the PIN, re-encrypts under `dst`.
fn translate_out(
    sc: &BlockCipher,
    dst: &[u8],
    block: &[u8],
    sf: pinblock::PinBlockFormat,
    df: pinblock::PinBlockFormat,
    acct: &str,
    max: usize,
) -> Res {
    pinblock::check_translation(sf, df).map_err(|_| err::PIN_FORMAT)?;
    // A PAN whose account-number field is exactly `acct`.
    let pan = format!("{acct}0");
    let pin = pinblock::decrypt_pin_block(sc, sf, block, Some(&pan)).map_err(|_| err::PIN_BLOCK)?;
    if pin.digits().len() > max {
        return Err(err::PIN_LEN.into());
    }
    let dc = BlockCipher::tdes(dst).map_err(|_| err::KEY_LEN)?;
    let out = pinblock::encrypt_pin_block(&dc, df, &pin, Some(&pan), &mut rand::rng())
        .map_err(|_| err::PIN_BLOCK)?;
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(format!("{:02}", pin.digits().len()).as_bytes());
    push_hex(&mut b, out.as_bytes());
    b.extend_from_slice(codec::pin_format_code(df).ok_or(err::PIN_FORMAT)?);
    Ok(b)
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
        "E4" => &[KeyType::MK_DN],
        "D0" => &[KeyType::ZEK, KeyType::DEK],
        "M0" | "M1" | "M3" => &[KeyType::TAK, KeyType::ZAK],
        "V1" | "V2" => &[KeyType::TPK],
        _ => &[],
    };
    allowed.contains(&kt)
}

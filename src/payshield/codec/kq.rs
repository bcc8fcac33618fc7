//! KQ → KR: "ARQC verification and/or ARPC generation" (Visa / M/Chip
//! session keys, before KW). Pure encode / parse, like the rest of the
//! codec; the simulator reads KQ with [`parse_kq`], the client writes it with
//! [`encode_kq`].
//!
//! # Field layout (request, after the command code `KQ`)
//!
//! | field | length | present |
//! |---|---|---|
//! | mode flag | 1 N | always: `0` verify ARQC; `1` verify + ARPC; `2` ARPC only (`3`/`4`, MK-SMI discretionary-data modes, are not modelled) |
//! | scheme ID | 1 N | always: `0` Visa VSDC / UKIS; `1` Europay / M/Chip |
//! | MK-AC | 32H / `U`+32H | always (LMK 28-29 variant 1, key type 109) |
//! | PAN/PSN | 8 B | always |
//! | ATC | 2 B | always |
//! | unpredictable number | 4 B | always |
//! | transaction data length | 2 H | modes 0, 1 |
//! | transaction data | n B | modes 0, 1 |
//! | delimiter `;` | 1 | modes 0, 1 |
//! | ARQC / TC / AAC | 8 B | always |
//! | ARC | 2 B | modes 1, 2 — **never in mode 0** |
//!
//! Response `KR` + error + ARPC 8 B (modes 1, 2), nothing more in mode 0.
//!
//! # Sources
//!
//! - "ARC … Not required for Mode 0. Must be present for Mode 1 and Mode 2";
//!   transaction data length, data and `;` "Only present for Modes 0 and 1";
//!   ATC and UN "Present for all modes": the KQ field table of the host
//!   command manual (excerpt quoted in `docs/research/payshield-sources.md`,
//!   Q2).
//! - Frames: ut-codec-payshield `test/config/test.js` @4063d5b8 L1634
//!   (mode 0 ends right after the ARQC) and L1658 (mode 2: ATC, UN, ARQC,
//!   ARC; no data, no `;`); dinamo `EFT/kq_kr.sh` @9c182fc5 (mode 1, a request
//!   sent to an HSM, keys under the public test LMK: its ARQC verifies);
//!   ThalesSim `VerifyARQCAndOrGenerateARPC_KQ.vb` @9d718466 L76-78 and
//!   go_hsm `internal/hsm/logic/KQ.go` @f5cb0947 L210-219 read the ARC only
//!   when the mode is not 0.
//! - Error codes (ut-codec-payshield `messages.json`, KQ): `01` verification
//!   failure, `03` mode 3/4 with scheme ≠ 0, `04` invalid mode, `05`
//!   unrecognised scheme, `10` MK-AC parity, `80` transaction data length
//!   error, `81` zero-length transaction data.
//! - On `01` a payShield in the authorised state appends 8 bytes of
//!   diagnostic data (the same `errorPattern`); parsers ignore it.
//! - Scheme 0 computes the AC directly under the option-A ICC master key
//!   (no session key) and the ARPC (method 1) under the same key: checked on
//!   the dinamo frame, whose ARQC is the ISO 9797-1 algorithm 3 MAC of its
//!   data under that key. Which key KQ scheme 1 uses for the ARPC: **no
//!   public source** (the client does not ask for it).

use super::{CodecError, Reader, R};
use crate::payshield::lmk::EncryptedKey;
use std::fmt;

/// KQ mode flag (the modelled ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KqMode {
    /// `0`: verify the ARQC only (no ARC on the wire).
    Verify,
    /// `1`: verify the ARQC, then generate an ARPC (ARC follows the ARQC).
    VerifyArpc,
    /// `2`: generate an ARPC only (no transaction data, no `;`).
    Arpc,
}

impl KqMode {
    /// The mode flag character.
    pub fn code(self) -> u8 {
        match self {
            Self::Verify => b'0',
            Self::VerifyArpc => b'1',
            Self::Arpc => b'2',
        }
    }

    /// The mode for a flag character (`3`/`4` are not modelled: `None`).
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => Self::Verify,
            b'1' => Self::VerifyArpc,
            b'2' => Self::Arpc,
            _ => return None,
        })
    }

    /// Whether this mode verifies an ARQC (and so carries transaction data).
    pub fn verifies(self) -> bool {
        matches!(self, Self::Verify | Self::VerifyArpc)
    }

    /// Whether this mode generates an ARPC (and so carries an ARC).
    pub fn generates(self) -> bool {
        matches!(self, Self::VerifyArpc | Self::Arpc)
    }
}

/// KQ scheme ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KqScheme {
    /// `0`: Visa VSDC / UKIS (AC under the ICC master key).
    Visa,
    /// `1`: Europay / M/Chip (Mastercard session key derivation).
    Mastercard,
}

impl KqScheme {
    /// The scheme ID character.
    pub fn code(self) -> u8 {
        match self {
            Self::Visa => b'0',
            Self::Mastercard => b'1',
        }
    }

    /// The scheme for an ID character.
    pub fn from_code(c: u8) -> Option<Self> {
        match c {
            b'0' => Some(Self::Visa),
            b'1' => Some(Self::Mastercard),
            _ => None,
        }
    }
}

/// A KQ request. The mode follows from which optional parts are present:
/// data without ARC = mode 0, data and ARC = mode 1, ARC only = mode 2.
#[derive(Clone, PartialEq, Eq)]
pub struct KqRequest {
    /// Scheme ID.
    pub scheme: KqScheme,
    /// MK-AC under the LMK.
    pub mk: EncryptedKey,
    /// The rightmost 16 digits of PAN || PSN, packed BCD.
    pub pan_psn: [u8; 8],
    /// Application transaction counter.
    pub atc: [u8; 2],
    /// Unpredictable number.
    pub un: [u8; 4],
    /// Transaction data (modes 0 and 1): 1..=255 bytes.
    pub data: Option<Vec<u8>>,
    /// The ARQC (TC, AAC).
    pub arqc: [u8; 8],
    /// Authorisation response code (modes 1 and 2).
    pub arc: Option<[u8; 2]>,
}

impl fmt::Debug for KqRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // PAN/PSN and transaction data are card data: not printed.
        f.debug_struct("KqRequest")
            .field("mode", &self.mode().ok())
            .field("scheme", &self.scheme)
            .field("mk", &self.mk)
            .finish_non_exhaustive()
    }
}

impl KqRequest {
    /// The mode flag this request encodes as.
    pub fn mode(&self) -> R<KqMode> {
        Ok(match (&self.data, &self.arc) {
            (Some(_), None) => KqMode::Verify,
            (Some(_), Some(_)) => KqMode::VerifyArpc,
            (None, Some(_)) => KqMode::Arpc,
            (None, None) => {
                return Err(CodecError::new(
                    "mode flag",
                    "neither ARQC verification nor ARPC generation asked for",
                ))
            }
        })
    }
}

/// Appends `KQ` and the fields of `req` to `out` (no frame, no header).
pub fn encode_kq(out: &mut Vec<u8>, req: &KqRequest) -> R<()> {
    let mode = req.mode()?;
    let mut b = Vec::with_capacity(80 + req.data.as_ref().map_or(0, Vec::len));
    b.extend_from_slice(b"KQ");
    b.push(mode.code());
    b.push(req.scheme.code());
    req.mk.write(&mut b);
    b.extend_from_slice(&req.pan_psn);
    b.extend_from_slice(&req.atc);
    b.extend_from_slice(&req.un);
    if let Some(data) = &req.data {
        if data.is_empty() || data.len() > 0xFF {
            return Err(CodecError::new(
                "transaction data",
                "KQ carries 1 to 255 bytes",
            ));
        }
        b.extend_from_slice(format!("{:02X}", data.len()).as_bytes());
        b.extend_from_slice(data);
        b.push(b';');
    }
    b.extend_from_slice(&req.arqc);
    if let Some(arc) = &req.arc {
        b.extend_from_slice(arc);
    }
    out.extend_from_slice(&b);
    Ok(())
}

/// Reads the fields of a KQ request (after the command code) from `r`,
/// leaving anything after them (an LMK identifier, or trailing bytes) for
/// the caller. Errors name the field: `"mode flag"` (payShield `04`),
/// `"scheme id"` (`05`), `"transaction data length"` for a zero length
/// (`81`), `"transaction data"` / `"transaction data delimiter"` when the
/// length does not match the data (`80`), others bad input (`15`).
pub fn read_kq(r: &mut Reader<'_>) -> R<KqRequest> {
    let [m] = r.array::<1>("mode flag")?;
    let mode = KqMode::from_code(m).ok_or(CodecError::new("mode flag", "unrecognised"))?;
    let [s] = r.array::<1>("scheme id")?;
    let scheme = KqScheme::from_code(s).ok_or(CodecError::new("scheme id", "unrecognised"))?;
    let mk = r.key("mk-ac")?;
    let pan_psn = r.array::<8>("pan/psn")?;
    let atc = r.array::<2>("atc")?;
    let un = r.array::<4>("unpredictable number")?;
    let data = if mode.verifies() {
        let n = r.hex_number(2, "transaction data length")?;
        if n == 0 {
            return Err(CodecError::new("transaction data length", "zero"));
        }
        let d = r.take(n, "transaction data")?.to_vec();
        r.expect(b';', "transaction data delimiter")?;
        Some(d)
    } else {
        None
    };
    let arqc = r.array::<8>("arqc")?;
    let arc = if mode.generates() {
        Some(r.array::<2>("arc")?)
    } else {
        None
    };
    Ok(KqRequest {
        scheme,
        mk,
        pan_psn,
        atc,
        un,
        data,
        arqc,
        arc,
    })
}

/// Parses a whole KQ field list (after the command code): nothing may
/// follow the last field (in mode 0 that means no ARC).
pub fn parse_kq(fields: &[u8]) -> R<KqRequest> {
    let mut r = Reader::new(fields);
    let req = read_kq(&mut r)?;
    if !r.is_empty() {
        return Err(CodecError::new("kq", "trailing data"));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payshield::lmk::KeyScheme;

    fn req(data: Option<Vec<u8>>, arc: Option<[u8; 2]>) -> KqRequest {
        KqRequest {
            scheme: KqScheme::Visa,
            mk: EncryptedKey {
                scheme: KeyScheme::U,
                bytes: vec![0x11; 16],
            },
            pan_psn: [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x00],
            atc: [0, 1],
            un: [1, 2, 3, 4],
            data,
            arqc: [0xA5; 8],
            arc,
        }
    }

    #[test]
    fn every_mode_round_trips_and_truncation_fails() {
        for (data, arc) in [
            (Some(vec![0x5A; 37]), None),
            (Some(vec![0x5A; 8]), Some(*b"00")),
            (None, Some([0, 0])),
        ] {
            let q = req(data, arc);
            let mut out = Vec::new();
            encode_kq(&mut out, &q).unwrap();
            assert_eq!(parse_kq(&out[2..]).unwrap(), q);
            for cut in 2..out.len() {
                assert!(parse_kq(&out[2..cut]).is_err());
            }
        }
        assert!(encode_kq(&mut Vec::new(), &req(None, None)).is_err());
        assert!(encode_kq(&mut Vec::new(), &req(Some(vec![]), None)).is_err());
    }

    #[test]
    fn mode_0_carries_no_arc_and_mode_2_no_data() {
        let mut v = Vec::new();
        encode_kq(&mut v, &req(Some(vec![0x5A; 8]), None)).unwrap();
        // …;ARQC and nothing after it.
        assert_eq!(
            &v[v.len() - 9..],
            &[b';', 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5]
        );
        // The old layout (an ARC after a mode-0 ARQC) is refused.
        let mut old = v.clone();
        old.extend_from_slice(&[0, 0]);
        assert_eq!(parse_kq(&old[2..]).unwrap_err().reason, "trailing data");
        let mut m2 = Vec::new();
        encode_kq(&mut m2, &req(None, Some(*b"00"))).unwrap();
        assert!(!m2.contains(&b';'));
        assert_eq!(m2.len(), 2 + 2 + 33 + 8 + 2 + 4 + 8 + 2);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |b: &[u8]| parse_kq(b).unwrap_err().field;
        assert_eq!(field(b"3"), "mode flag");
        assert_eq!(field(b"09"), "scheme id");
        assert_eq!(field(b"00U12"), "mk-ac");
        let mut z = b"00U11111111111111111111111111111111".to_vec();
        z.extend_from_slice(&[0; 14]);
        z.extend_from_slice(b"00");
        assert_eq!(field(&z), "transaction data length");
        assert!(format!("{:?}", req(None, Some([0, 0]))).contains("Arpc"));
    }
}

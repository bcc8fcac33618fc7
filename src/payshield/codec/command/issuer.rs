//! The issuer PIN commands as one family of [`Command`]: IBM 3624 (DA, EA,
//! GO, DE, EE), Visa PVV (DC, EC, GQ, DG) and PINs under the LMK (JA, JC,
//! JE, JG, BA, NG).

use super::pinibm::{IbmDerive, IbmOffset, IbmVerify, IbmVerifyDukpt};
use super::pinlmk::{DecryptPin, EncryptPin, PinFromLmk, PinToLmk, RandomPin};
use super::pinvisa::{PvvGenerate, PvvVerify, PvvVerifyDukpt};
use super::*;

/// One issuer PIN command with its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinCommand {
    /// DA verify a PIN under a TPK, IBM 3624.
    Da(IbmVerify),
    /// EA verify a PIN under a ZPK, IBM 3624.
    Ea(IbmVerify),
    /// GO verify a PIN under a TDES DUKPT key, IBM 3624.
    Go(IbmVerifyDukpt),
    /// DE IBM 3624 offset of a PIN under the LMK.
    De(IbmOffset),
    /// EE IBM 3624 PIN (under the LMK) from an offset.
    Ee(IbmDerive),
    /// DC verify a PIN under a TPK, Visa PVV.
    Dc(PvvVerify),
    /// EC verify a PIN under a ZPK, Visa PVV.
    Ec(PvvVerify),
    /// GQ verify a PIN under a TDES DUKPT key, Visa PVV.
    Gq(PvvVerifyDukpt),
    /// DG Visa PVV of a PIN under the LMK.
    Dg(PvvGenerate),
    /// JA random PIN under the LMK.
    Ja(RandomPin),
    /// JC PIN block under a TPK to the LMK.
    Jc(PinToLmk),
    /// JE PIN block under a ZPK to the LMK.
    Je(PinToLmk),
    /// JG PIN under the LMK to a PIN block under a ZPK.
    Jg(PinFromLmk),
    /// BA clear PIN to the LMK.
    Ba(EncryptPin),
    /// NG PIN under the LMK to clear.
    Ng(DecryptPin),
}

impl PinCommand {
    /// The command codes of the family.
    pub const CODES: [&'static [u8; 2]; 15] = [
        b"DA", b"EA", b"GO", b"DE", b"EE", b"DC", b"EC", b"GQ", b"DG", b"JA", b"JC", b"JE", b"JG",
        b"BA", b"NG",
    ];

    /// The 2-character command code.
    pub fn code(&self) -> [u8; 2] {
        *match self {
            Self::Da(_) => b"DA",
            Self::Ea(_) => b"EA",
            Self::Go(_) => b"GO",
            Self::De(_) => b"DE",
            Self::Ee(_) => b"EE",
            Self::Dc(_) => b"DC",
            Self::Ec(_) => b"EC",
            Self::Gq(_) => b"GQ",
            Self::Dg(_) => b"DG",
            Self::Ja(_) => b"JA",
            Self::Jc(_) => b"JC",
            Self::Je(_) => b"JE",
            Self::Jg(_) => b"JG",
            Self::Ba(_) => b"BA",
            Self::Ng(_) => b"NG",
        }
    }

    /// Reads the fields of command `code`; `None` when `code` is not of
    /// this family.
    pub(super) fn read(code: [u8; 2], r: &mut Reader<'_>) -> Option<R<Self>> {
        Some(match &code {
            b"DA" => IbmVerify::read(r, "tpk").map(Self::Da),
            b"EA" => IbmVerify::read(r, "zpk").map(Self::Ea),
            b"GO" => IbmVerifyDukpt::read(r).map(Self::Go),
            b"DE" => IbmOffset::read(r).map(Self::De),
            b"EE" => IbmDerive::read(r).map(Self::Ee),
            b"DC" => PvvVerify::read(r, "tpk").map(Self::Dc),
            b"EC" => PvvVerify::read(r, "zpk").map(Self::Ec),
            b"GQ" => PvvVerifyDukpt::read(r).map(Self::Gq),
            b"DG" => PvvGenerate::read(r).map(Self::Dg),
            b"JA" => RandomPin::read(r).map(Self::Ja),
            b"JC" => PinToLmk::read(r, "tpk").map(Self::Jc),
            b"JE" => PinToLmk::read(r, "zpk").map(Self::Je),
            b"JG" => PinFromLmk::read(r).map(Self::Jg),
            b"BA" => EncryptPin::read(r).map(Self::Ba),
            b"NG" => DecryptPin::read(r).map(Self::Ng),
            _ => return None,
        })
    }

    /// Writes the fields (after the command code).
    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        match self {
            Self::Da(c) | Self::Ea(c) => c.write(out),
            Self::Go(c) => c.write(out),
            Self::De(c) => c.write(out),
            Self::Ee(c) => c.write(out),
            Self::Dc(c) | Self::Ec(c) => c.write(out),
            Self::Gq(c) => c.write(out),
            Self::Dg(c) => c.write(out),
            Self::Ja(c) => c.write(out),
            Self::Jc(c) | Self::Je(c) => c.write(out),
            Self::Jg(c) => c.write(out),
            Self::Ba(c) => c.write(out),
            Self::Ng(c) => c.write(out),
        }
    }
}

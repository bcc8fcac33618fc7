//! IBM 3624 issuer PIN commands: DA (verify a PIN under a TPK), EA (under
//! a ZPK), GO (under a TDES DUKPT key), DE (offset of a PIN under the LMK)
//! and EE (PIN under the LMK from an offset).
//!
//! Layouts (facts from public sources; field names and order):
//! - DA / EA: the manual's "Verify a terminal PIN using the IBM offset
//!   method" notes; ThalesSim `VerifyTerminalPINwithIBMAlgorithm_DA.xml`,
//!   `VerifyInterchangePINWithIBMAlgorithm_EA.xml` @9d718466;
//!   ut-codec-payshield `messages.json` @4063d5b8 L150-224 (pattern) and
//!   test.js L1331, L2805 (frames); dinamo `EFT/da_db.sh`, `ea_eb.sh`
//!   @9c182fc5 (frames sent to an HSM, keys under the test LMK).
//! - DE / EE: the manual's "Generate an IBM PIN Offset" / "Derive a PIN
//!   using the IBM method" tables (pages corpus); ThalesSim
//!   `GenerateIBMOffset_DE.xml`, `DerivePINUsingTheIBMMethod_EE.xml`;
//!   ut-codec-payshield test.js L1405-1571.
//! - GO: the manual's "Verify a PIN Using the IBM Method (Triple-DES
//!   DUKPT)" notes and mode table (modes 0 PIN only, 1 PIN + MAC);
//!   ut-codec-payshield `messages.json` L322 (field order) and test.js
//!   L2925.
//!
//! Shared fields: check length 2N ("the minimum PIN length") · account
//! number 12N · decimalisation table 16N (plaintext) or 16H (encrypted
//! under the LMK, the default since base software 2.0) · PIN validation
//! data 12A ("hexadecimal characters and the character N, which indicates
//! to the HSM where to insert the last 5 digits of the account number");
//! an offset is 12H, "left-justified and padded with F".

use super::pinlmk::{account, is_upper_hex, pin_format, write_account, write_format, LmkPin};
use super::*;
use crate::types::{DecimalizationTable, PadCharacter, PinOffset, PinValidationData};

/// The IBM 3624 fields every command here carries after its keys and PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct IbmData {
    /// Check length ("the minimum PIN length"), 2 digits.
    pub check_length: u8,
    /// The account number (the last 5 digits replace `N` in the
    /// validation data; a PIN block of format 0 or 3 is bound to it).
    pub account: Zeroizing<[u8; 12]>,
    /// The decimalisation table: 16 digits, or 16 hexadecimal characters
    /// when encrypted under the LMK.
    pub table: Zeroizing<[u8; 16]>,
    /// PIN validation data: hexadecimal characters and `N`.
    pub validation: Zeroizing<[u8; 12]>,
}

impl IbmData {
    /// Characters after the PIN field of DE (check length, account, table,
    /// validation data).
    pub(super) const LEN: usize = 2 + 12 + 16 + 12;

    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let check_length = r.number(2, "check length")? as u8;
        let account = account(r)?;
        let table = r.array::<16>("decimalisation table")?;
        if !table.iter().all(|c| is_upper_hex(*c)) {
            return Err(CodecError::new(
                "decimalisation table",
                "expected 16 digits or 16 upper-case hex characters",
            ));
        }
        let validation = r.array::<12>("pin validation data")?;
        if !validation.iter().all(|c| is_upper_hex(*c) || *c == b'N') {
            return Err(CodecError::new(
                "pin validation data",
                "expected hexadecimal characters and N",
            ));
        }
        Ok(Self {
            check_length,
            account,
            table: Zeroizing::new(table),
            validation: Zeroizing::new(validation),
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        if self.check_length > 99 {
            return Err(CodecError::new("check length", "2 digits"));
        }
        out.extend_from_slice(format!("{:02}", self.check_length).as_bytes());
        write_account(out, &self.account)?;
        if !self.table.iter().all(|c| is_upper_hex(*c)) {
            return Err(CodecError::new(
                "decimalisation table",
                "expected 16 hexadecimal characters",
            ));
        }
        out.extend_from_slice(&self.table[..]);
        if !self
            .validation
            .iter()
            .all(|c| is_upper_hex(*c) || *c == b'N')
        {
            return Err(CodecError::new(
                "pin validation data",
                "expected hexadecimal characters and N",
            ));
        }
        out.extend_from_slice(&self.validation[..]);
        Ok(())
    }
}

impl IbmData {
    /// The validation data and pad character the fields mean: the 12
    /// characters with the account number's last five digits in place of
    /// the one `N` (16 characters), read as the validation data followed by
    /// one pad character repeated to the end (all digits: no padding, pad
    /// `F`) — the inverse of [`validation_field`]. Errors (`pin validation
    /// data`): not exactly one `N`, or no validation data and pad in it.
    pub fn validation_data(&self) -> R<(PinValidationData, PadCharacter)> {
        let bad = |why| CodecError::new("pin validation data", why);
        let mut ns = self
            .validation
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b'N');
        let at = match (ns.next(), ns.next()) {
            (Some((at, _)), None) => at,
            _ => return Err(bad("expected exactly one N")),
        };
        let mut v = Zeroizing::new([0u8; 16]);
        let acct = self.account.get(7..).unwrap_or(&[]);
        let head = self.validation.get(..at).unwrap_or(&[]);
        let tail = self.validation.get(at + 1..).unwrap_or(&[]);
        for (o, c) in v.iter_mut().zip(head.iter().chain(acct).chain(tail)) {
            *o = *c;
        }
        let last = v[15];
        let run = v.iter().rev().take_while(|c| **c == last).count();
        let (digits, pad) = if v.iter().all(u8::is_ascii_digit) {
            (&v[..], PadCharacter::F)
        } else {
            let pad = std::str::from_utf8(&[last])
                .ok()
                .and_then(|c| PadCharacter::new(c).ok())
                .ok_or(bad("not digits then one pad character"))?;
            (v.get(..16 - run).unwrap_or(&[]), pad)
        };
        let validation = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| PinValidationData::new(d).ok())
            .ok_or(bad("not digits then one pad character"))?;
        Ok((validation, pad))
    }
}

/// The plaintext decimalisation table field (16N).
pub fn table_field(t: &DecimalizationTable) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    for (o, n) in out.iter_mut().zip(0u8..) {
        *o = b'0' + t.map(n);
    }
    out
}

/// The PIN validation data field for validation data padded to 16
/// characters (`padded`) whose five account digits start at `at` (0 to
/// 11): the characters around them, with `N` in their place.
pub fn validation_field(padded: &[u8; 16], at: usize) -> R<Zeroizing<[u8; 12]>> {
    let bad = CodecError::new(
        "pin validation data",
        "the account digits must start at 0 to 11",
    );
    let (head, tail) = (
        padded.get(..at).ok_or(bad)?,
        padded.get(at + 5..).ok_or(bad)?,
    );
    let mut out = Zeroizing::new([0u8; 12]);
    for (o, c) in out
        .iter_mut()
        .zip(head.iter().chain(b"N").chain(tail.iter()))
    {
        *o = *c;
    }
    Ok(out)
}

/// The offset field: the offset's digits, left-justified, padded with `F`
/// to 12 characters.
pub fn offset_field(o: &PinOffset) -> Zeroizing<[u8; 12]> {
    let mut out = Zeroizing::new([b'F'; 12]);
    for (slot, d) in out.iter_mut().zip(o.values()) {
        *slot = b'0' + d;
    }
    out
}

/// The offset in a 12H offset field: its leading digits, then only `F`s.
/// Errors (`offset`): another shape, or fewer than 4 digits.
pub fn offset_from_field(f: &[u8; 12]) -> R<PinOffset> {
    let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
    if n < 4 || !f.get(n..).unwrap_or(&[]).iter().all(|c| *c == b'F') {
        return Err(CodecError::new(
            "offset",
            "expected 4 to 12 digits, then F padding",
        ));
    }
    let values: Zeroizing<Vec<u8>> = Zeroizing::new(f.iter().take(n).map(|c| c - b'0').collect());
    PinOffset::from_values(&values)
        .map_err(|_| CodecError::new("offset", "expected 4 to 12 digits"))
}

fn read_offset(r: &mut Reader<'_>) -> R<Zeroizing<[u8; 12]>> {
    let o = r.array::<12>("offset")?;
    if !o.iter().all(|c| is_upper_hex(*c)) {
        return Err(CodecError::new(
            "offset",
            "expected 12 hexadecimal characters",
        ));
    }
    Ok(Zeroizing::new(o))
}

fn write_offset(out: &mut Vec<u8>, o: &[u8; 12]) -> R<()> {
    if !o.iter().all(|c| is_upper_hex(*c)) {
        return Err(CodecError::new(
            "offset",
            "expected 12 hexadecimal characters",
        ));
    }
    out.extend_from_slice(o);
    Ok(())
}

/// DA (TPK) / EA (ZPK) verify a PIN by the IBM 3624 offset method: PIN key
/// · PVK (16H or 1A+32H/48H, LMK 14-15) · maximum PIN length 2N · PIN block
/// 16H · PIN block format 2N · [`IbmData`] · offset 12H → DB / EB (`00`
/// verified, `01` verification failure, `02` verified with a double or
/// triple length PVK, a warning).
#[derive(Clone, PartialEq, Eq)]
pub struct IbmVerify {
    /// The TPK (DA) or ZPK (EA) under the LMK.
    pub pin_key: EncryptedKey,
    /// The PVK under the LMK.
    pub pvk: EncryptedKey,
    /// Maximum PIN length (2 digits; ThalesSim accepts only 12).
    pub max_pin_len: u8,
    /// The PIN block under the PIN key.
    pub pin_block: [u8; 8],
    /// PIN block format code.
    pub format: [u8; 2],
    /// Check length, account, table, validation data.
    pub data: IbmData,
    /// The offset field.
    pub offset: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for IbmVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IbmVerify")
            .field("format", &String::from_utf8_lossy(&self.format))
            .finish_non_exhaustive()
    }
}

impl IbmVerify {
    pub(super) fn read(r: &mut Reader<'_>, key_field: &'static str) -> R<Self> {
        Ok(Self {
            pin_key: r.key(key_field)?,
            pvk: r.key("pvk")?,
            max_pin_len: r.number(2, "maximum pin length")? as u8,
            pin_block: r.hex_array::<8>("pin block")?,
            format: pin_format(r)?,
            data: IbmData::read(r)?,
            offset: read_offset(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.pin_key.write(out);
        self.pvk.write(out);
        if self.max_pin_len > 99 {
            return Err(CodecError::new("maximum pin length", "2 digits"));
        }
        out.extend_from_slice(format!("{:02}", self.max_pin_len).as_bytes());
        push_hex(out, &self.pin_block);
        write_format(out, &self.format)?;
        self.data.write(out)?;
        write_offset(out, &self.offset)
    }
}

/// DE generate the IBM 3624 offset of a PIN under the LMK: PVK · PIN under
/// the LMK · [`IbmData`] → DF offset 12N (left-justified, `F`-padded;
/// ut-codec-payshield test.js L1433 `DF02` + `000000FFFFFF`: `02` is the
/// double-length PVK warning, the offset follows it).
#[derive(Clone, PartialEq, Eq)]
pub struct IbmOffset {
    /// The PVK under the LMK.
    pub pvk: EncryptedKey,
    /// The PIN under the LMK.
    pub pin: LmkPin,
    /// Check length, account, table, validation data.
    pub data: IbmData,
}

impl fmt::Debug for IbmOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IbmOffset").finish_non_exhaustive()
    }
}

impl IbmOffset {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let pvk = r.key("pvk")?;
        let pin = LmkPin::read_before(r, IbmData::LEN)?;
        Ok(Self {
            pvk,
            pin,
            data: IbmData::read(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.pvk.write(out);
        out.extend_from_slice(self.pin.as_bytes());
        self.data.write(out)
    }
}

/// EE derive a PIN by the IBM 3624 method: PVK · offset 12H · [`IbmData`]
/// → EF PIN under the LMK (ut-codec-payshield test.js L1551 `EF02` +
/// `73638636`).
#[derive(Clone, PartialEq, Eq)]
pub struct IbmDerive {
    /// The PVK under the LMK.
    pub pvk: EncryptedKey,
    /// The offset field.
    pub offset: Zeroizing<[u8; 12]>,
    /// Check length, account, table, validation data.
    pub data: IbmData,
}

impl fmt::Debug for IbmDerive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IbmDerive").finish_non_exhaustive()
    }
}

impl IbmDerive {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        Ok(Self {
            pvk: r.key("pvk")?,
            offset: read_offset(r)?,
            data: IbmData::read(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.pvk.write(out);
        write_offset(out, &self.offset)?;
        self.data.write(out)
    }
}

/// GO verify a PIN under a TDES DUKPT key by the IBM 3624 method, mode `0`
/// (PIN only): mode 1N · BDK (LMK 28-29) · PVK · KSN descriptor + KSN · PIN
/// block 16H · PIN block format 2N (01, 04, 05, 47) · [`IbmData`] · offset
/// 12H → GP (`00`, `01`, `02` as DA).
///
/// Mode `1` (PIN and DUKPT MAC verification: MAC mode, MAC method after the
/// mode, MAC and message after the offset) is not modelled: the codec
/// refuses it on the field `mode`. ut-codec-payshield test.js L2948 sends
/// MAC fields after mode `0`, which the manual's table does not allow.
#[derive(Clone, PartialEq, Eq)]
pub struct IbmVerifyDukpt {
    /// The BDK under the LMK.
    pub bdk: EncryptedKey,
    /// The PVK under the LMK.
    pub pvk: EncryptedKey,
    /// KSN descriptor and KSN.
    pub ksn: KsnField,
    /// The PIN block under the DUKPT PIN key.
    pub pin_block: [u8; 8],
    /// PIN block format code.
    pub format: [u8; 2],
    /// Check length, account, table, validation data.
    pub data: IbmData,
    /// The offset field.
    pub offset: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for IbmVerifyDukpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IbmVerifyDukpt")
            .field("ksn", &self.ksn)
            .finish_non_exhaustive()
    }
}

impl IbmVerifyDukpt {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        flag(r, "mode", b"0")?;
        Ok(Self {
            bdk: r.key("bdk")?,
            pvk: r.key("pvk")?,
            ksn: KsnField::read(r, false)?,
            pin_block: r.hex_array::<8>("pin block")?,
            format: pin_format(r)?,
            data: IbmData::read(r)?,
            offset: read_offset(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.push(b'0');
        self.bdk.write(out);
        self.pvk.write(out);
        self.ksn.write(out, false)?;
        push_hex(out, &self.pin_block);
        write_format(out, &self.format)?;
        self.data.write(out)?;
        write_offset(out, &self.offset)
    }
}

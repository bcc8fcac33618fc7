//! Visa PVV issuer PIN commands: DC (verify a PIN under a TPK), EC (under
//! a ZPK), GQ (under a TDES DUKPT key) and DG (PVV of a PIN under the LMK).
//!
//! Layouts (facts from public sources; field names and order):
//! - DC / EC: the manual's "Verify a PIN from a local ATM (or PIN pad
//!   etc.) using the VISA PVV method" table (pages corpus): TPK · PVK pair
//!   (32H or 1A+32H: "the two PVKs each encrypted under LMK pair 14-15") ·
//!   PIN block 16H · format 2N · account 12N · PVKI 1N · PVV 4N; ThalesSim
//!   `VerifyTerminalPINWithVISAAlgorithm_DC.xml` and tests L167-179 @9d718466;
//!   ut-codec-payshield `messages.json` @4063d5b8 L162, L224 and test.js
//!   L2636, L2861; pythales `tests.py` L116-122, L245-251.
//!   ut-codec-payshield's EC pattern allows `;` + a verification PAN before
//!   the PVKI; no public frame carries one, so none is modelled.
//! - DG: ThalesSim `GenerateVISAPVV_DG.xml` and tests L159-162 (PVK pair ·
//!   PIN under the LMK · account 12N · PVKI 1N → DH PVV 4N);
//!   ut-codec-payshield test.js L1467-1509.
//! - GQ: the manual's "Verify a PIN Using the VISA PVV Method (Triple-DES
//!   DUKPT)" table (mode 1N, MAC mode and method "present only for Mode
//!   1", *BDK, *PVK, KSN descriptor 3H, KSN 12-20H, PIN block 16H, format
//!   2N restricted to 01, 04, 05, 47, account 12N, …); ut-codec-payshield
//!   `messages.json` L335 and test.js L3012-3079 (PVKI 1N, PVV 4N last).

use super::card::{KeyOrPair, PairNames};
use super::pinlmk::{account, pin_format, write_account, write_format, LmkPin};
use super::*;

/// The PVK field of DC, EC, DG, GQ: a double-length key with its scheme
/// tag (`U`/`X` + 32H), or PVK A and PVK B as two single-length keys
/// (16H + 16H; ThalesSim tests L160, L168).
pub type PvkPair = KeyOrPair;

/// Names of the PVK field.
const PVK: PairNames = ["pvk", "pvk a", "pvk b"];

fn pvki(r: &mut Reader<'_>) -> R<u8> {
    let [p] = digits::<1>(r, "pvki")?;
    Ok(p)
}

fn write_pvki(out: &mut Vec<u8>, p: u8) -> R<()> {
    check_digits("pvki", &[p])?;
    out.push(p);
    Ok(())
}

/// DC (TPK) / EC (ZPK) verify a PIN against its Visa PVV → DD / ED (`00`
/// verified, `01` verification failure).
#[derive(Clone, PartialEq, Eq)]
pub struct PvvVerify {
    /// The TPK (DC) or ZPK (EC) under the LMK.
    pub pin_key: EncryptedKey,
    /// The PVK pair.
    pub pvk: PvkPair,
    /// The PIN block under the PIN key.
    pub pin_block: [u8; 8],
    /// PIN block format code.
    pub format: [u8; 2],
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
    /// The PVKI digit (ASCII).
    pub pvki: u8,
    /// The PVV (4 digits).
    pub pvv: Zeroizing<[u8; 4]>,
}

impl fmt::Debug for PvvVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvvVerify")
            .field("format", &String::from_utf8_lossy(&self.format))
            .finish_non_exhaustive()
    }
}

impl PvvVerify {
    pub(super) fn read(r: &mut Reader<'_>, key_field: &'static str) -> R<Self> {
        Ok(Self {
            pin_key: r.key(key_field)?,
            pvk: PvkPair::read(r, PVK)?,
            pin_block: r.hex_array::<8>("pin block")?,
            format: pin_format(r)?,
            account: account(r)?,
            pvki: pvki(r)?,
            pvv: Zeroizing::new(digits::<4>(r, "pvv")?),
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.pin_key.write(out);
        self.pvk.write(out, PVK)?;
        push_hex(out, &self.pin_block);
        write_format(out, &self.format)?;
        write_account(out, &self.account)?;
        write_pvki(out, self.pvki)?;
        check_digits("pvv", &self.pvv[..])?;
        out.extend_from_slice(&self.pvv[..]);
        Ok(())
    }
}

/// DG generate the Visa PVV of a PIN under the LMK → DH PVV 4N.
#[derive(Clone, PartialEq, Eq)]
pub struct PvvGenerate {
    /// The PVK pair.
    pub pvk: PvkPair,
    /// The PIN under the LMK.
    pub pin: LmkPin,
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
    /// The PVKI digit (ASCII).
    pub pvki: u8,
}

impl fmt::Debug for PvvGenerate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvvGenerate").finish_non_exhaustive()
    }
}

impl PvvGenerate {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let pvk = PvkPair::read(r, PVK)?;
        let pin = LmkPin::read_before(r, 12 + 1)?;
        Ok(Self {
            pvk,
            pin,
            account: account(r)?,
            pvki: pvki(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.pvk.write(out, PVK)?;
        out.extend_from_slice(self.pin.as_bytes());
        write_account(out, &self.account)?;
        write_pvki(out, self.pvki)
    }
}

/// GQ verify a PIN under a TDES DUKPT key against its Visa PVV, mode `0`
/// (PIN only): mode 1N · BDK · PVK pair · KSN descriptor + KSN · PIN block
/// 16H · format 2N · account 12N · PVKI 1N · PVV 4N → GR (`00`, `01`).
/// Mode `1` (with DUKPT MAC verification) is not modelled: refused on the
/// field `mode`.
#[derive(Clone, PartialEq, Eq)]
pub struct PvvVerifyDukpt {
    /// The BDK under the LMK.
    pub bdk: EncryptedKey,
    /// The PVK pair.
    pub pvk: PvkPair,
    /// KSN descriptor and KSN.
    pub ksn: KsnField,
    /// The PIN block under the DUKPT PIN key.
    pub pin_block: [u8; 8],
    /// PIN block format code.
    pub format: [u8; 2],
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
    /// The PVKI digit (ASCII).
    pub pvki: u8,
    /// The PVV (4 digits).
    pub pvv: Zeroizing<[u8; 4]>,
}

impl fmt::Debug for PvvVerifyDukpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvvVerifyDukpt")
            .field("ksn", &self.ksn)
            .finish_non_exhaustive()
    }
}

impl PvvVerifyDukpt {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        flag(r, "mode", b"0")?;
        Ok(Self {
            bdk: r.key("bdk")?,
            pvk: PvkPair::read(r, PVK)?,
            ksn: KsnField::read(r, false)?,
            pin_block: r.hex_array::<8>("pin block")?,
            format: pin_format(r)?,
            account: account(r)?,
            pvki: pvki(r)?,
            pvv: Zeroizing::new(digits::<4>(r, "pvv")?),
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.push(b'0');
        self.bdk.write(out);
        self.pvk.write(out, PVK)?;
        self.ksn.write(out, false)?;
        push_hex(out, &self.pin_block);
        write_format(out, &self.format)?;
        write_account(out, &self.account)?;
        write_pvki(out, self.pvki)?;
        check_digits("pvv", &self.pvv[..])?;
        out.extend_from_slice(&self.pvv[..]);
        Ok(())
    }
}

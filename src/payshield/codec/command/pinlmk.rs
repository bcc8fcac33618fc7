//! PINs under the LMK: JA (random PIN), JC / JE (PIN block → LMK), JG
//! (LMK → PIN block under a ZPK), BA (clear PIN → LMK) and NG (LMK → clear
//! PIN), with the fields the issuer PIN commands share.
//!
//! Layouts: the manual's JE, BA, NG, BE tables (pages corpus, no URL
//! recorded); ThalesSim `HostCommands/*.xml` @9d718466 and
//! `ThalesCore.Tests/HostCommandTests.vb` L197-211, L674;
//! ut-codec-payshield `messages.json` @4063d5b8 L356-392 and test.js
//! L940-1041, L3174-3192.

use super::*;

/// True for `0`-`9` and `A`-`F`.
pub(super) fn is_upper_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'A'..=b'F').contains(&c)
}

/// Length of an LMK identifier (`%` + 2N) at the end of `rest`, if any.
pub(super) fn lmk_id_len(rest: &[u8]) -> usize {
    match rest.len().checked_sub(3).and_then(|i| rest.get(i)) {
        Some(b'%') => 3,
        _ => 0,
    }
}

/// Reads the PIN block format code (2N).
pub(super) fn pin_format(r: &mut Reader<'_>) -> R<[u8; 2]> {
    digits::<2>(r, "pin block format")
}

/// Reads the 12-digit account number.
pub(super) fn account(r: &mut Reader<'_>) -> R<Zeroizing<[u8; 12]>> {
    Ok(Zeroizing::new(digits::<12>(r, "account number")?))
}

/// Writes a PIN block format code and an account number.
pub(super) fn write_format(out: &mut Vec<u8>, format: &[u8; 2]) -> R<()> {
    check_digits("pin block format", format)?;
    out.extend_from_slice(format);
    Ok(())
}

/// Writes the 12-digit account number.
pub(super) fn write_account(out: &mut Vec<u8>, account: &[u8; 12]) -> R<()> {
    check_digits("account number", account)?;
    out.extend_from_slice(account);
    Ok(())
}

/// A PIN encrypted under LMK pair 02-03 (the manual's `L N or L H`): `L`
/// decimal ("Visa" method) or hexadecimal ("Racal" method) characters,
/// where `L` is the encrypted PIN length the HSM is configured with (5 to
/// 13, console command CS; the BA table: "range 5 – 13"), one more than
/// the longest PIN and the same for every PIN (the manual's "PIN Storage
/// under LMK" section). The host stores it and sends it back; it never
/// reads it. How a payShield encrypts it is not published.
///
/// No field after it says how long it is, so the parser takes what the
/// fixed-length fields after it leave (the HSM knows `L` from its
/// configuration): public frames carry 5 (ThalesSim L159), 7 and 8
/// characters (ut-codec-payshield test.js L3186, L1405).
#[derive(Clone, PartialEq, Eq)]
pub struct LmkPin(Zeroizing<Vec<u8>>);

impl fmt::Debug for LmkPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LmkPin(***)")
    }
}

impl LmkPin {
    /// Shortest and longest encrypted PIN.
    pub const LEN: std::ops::RangeInclusive<usize> = 5..=13;

    /// Checks `b`: 5 to 13 upper-case hexadecimal characters.
    pub fn new(b: &[u8]) -> R<Self> {
        if !Self::LEN.contains(&b.len()) || !b.iter().all(|c| is_upper_hex(*c)) {
            return Err(CodecError::new(
                "pin",
                "expected a PIN under the LMK: 5 to 13 hexadecimal characters",
            ));
        }
        Ok(Self(Zeroizing::new(b.to_vec())))
    }

    /// The characters. Keep the borrow short.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads the field, leaving `tail` characters (and an LMK identifier)
    /// for the fields after it.
    pub(super) fn read_before(r: &mut Reader<'_>, tail: usize) -> R<Self> {
        let rest = r.rest();
        let n = rest
            .len()
            .checked_sub(tail + lmk_id_len(rest))
            .ok_or(CodecError::new("pin", "not enough data"))?;
        Self::new(r.take(n, "pin")?)
    }
}

/// JA generate a random PIN: account number 12N · PIN length 2N → JB PIN
/// under the LMK (ut-codec-payshield `messages.json` L356, test.js L3174
/// `JA` + `540008900009` + `06`; ThalesSim `GenerateRandomPIN_JA.xml`: 04
/// to 12, else 15).
#[derive(Clone, PartialEq, Eq)]
pub struct RandomPin {
    /// The account number the PIN is encrypted with.
    pub account: Zeroizing<[u8; 12]>,
    /// PIN length (2 digits).
    pub pin_length: u8,
}

impl fmt::Debug for RandomPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RandomPin")
            .field("pin_length", &self.pin_length)
            .finish_non_exhaustive()
    }
}

impl RandomPin {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let account = account(r)?;
        let pin_length = r.number(2, "pin length")? as u8;
        Ok(Self {
            account,
            pin_length,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        write_account(out, &self.account)?;
        if self.pin_length > 99 {
            return Err(CodecError::new("pin length", "2 digits"));
        }
        out.extend_from_slice(format!("{:02}", self.pin_length).as_bytes());
        Ok(())
    }
}

/// JC (TPK) / JE (ZPK) translate a PIN block to the LMK: key · PIN block
/// 16H · PIN block format 2N · account number 12N → JD / JF PIN under the
/// LMK (the manual's JE table; ThalesSim tests L197-211; ut-codec-payshield
/// test.js L940, L977).
#[derive(Clone, PartialEq, Eq)]
pub struct PinToLmk {
    /// The TPK (JC) or ZPK (JE) under the LMK.
    pub key: EncryptedKey,
    /// The PIN block under that key.
    pub pin_block: [u8; 8],
    /// PIN block format code.
    pub format: [u8; 2],
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for PinToLmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinToLmk")
            .field("format", &String::from_utf8_lossy(&self.format))
            .finish_non_exhaustive()
    }
}

impl PinToLmk {
    pub(super) fn read(r: &mut Reader<'_>, key_field: &'static str) -> R<Self> {
        Ok(Self {
            key: r.key(key_field)?,
            pin_block: r.hex_array::<8>("pin block")?,
            format: pin_format(r)?,
            account: account(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.key.write(out);
        push_hex(out, &self.pin_block);
        write_format(out, &self.format)?;
        write_account(out, &self.account)
    }
}

/// JG translate a PIN from the LMK to a ZPK: ZPK · PIN block format 2N ·
/// account number 12N · PIN under the LMK → JH PIN block 16H (ThalesSim
/// `TranslatePINFromLMKToZPK_JG.xml` and tests L203-205; ut-codec-payshield
/// test.js L1015). ut-codec-payshield's pattern allows a delimiter before
/// the PIN; no public frame carries one, so none is modelled.
#[derive(Clone, PartialEq, Eq)]
pub struct PinFromLmk {
    /// The destination ZPK under the LMK.
    pub zpk: EncryptedKey,
    /// PIN block format code.
    pub format: [u8; 2],
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
    /// The PIN under the LMK.
    pub pin: LmkPin,
}

impl fmt::Debug for PinFromLmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinFromLmk")
            .field("format", &String::from_utf8_lossy(&self.format))
            .finish_non_exhaustive()
    }
}

impl PinFromLmk {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        Ok(Self {
            zpk: r.key("zpk")?,
            format: pin_format(r)?,
            account: account(r)?,
            pin: LmkPin::read_before(r, 0)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.zpk.write(out);
        write_format(out, &self.format)?;
        write_account(out, &self.account)?;
        out.extend_from_slice(self.pin.as_bytes());
        Ok(())
    }
}

/// BA encrypt a clear PIN: PIN `L` H ("the clear text PIN left-justified
/// and padded with X'F' to the encrypted PIN length L") · account number
/// 12N → BB PIN under the LMK (the manual's BA table; ThalesSim
/// `EncryptClearPIN_BA.xml`). No public frame; the client never sends it (a
/// clear PIN must not leave the host's side of the HSM).
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptPin {
    /// The clear PIN, padded with `F` (5 to 13 characters).
    pub pin: Zeroizing<Vec<u8>>,
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
}

impl fmt::Debug for EncryptPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptPin(***)")
    }
}

impl EncryptPin {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let pin = LmkPin::read_before(r, 12)?;
        Ok(Self {
            pin: pin.0,
            account: account(r)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        let pin = LmkPin::new(&self.pin)?;
        out.extend_from_slice(pin.as_bytes());
        write_account(out, &self.account)
    }
}

/// NG decrypt a PIN under the LMK: account number 12N · PIN under the LMK
/// → NH clear PIN (padded with F) + reference number 12N (the manual's NG
/// table; ThalesSim test L674, whose answer omits the reference number).
/// The manual: "available only if selected during configuration".
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptPin {
    /// The account number.
    pub account: Zeroizing<[u8; 12]>,
    /// The PIN under the LMK.
    pub pin: LmkPin,
}

impl fmt::Debug for DecryptPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecryptPin(***)")
    }
}

impl DecryptPin {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        Ok(Self {
            account: account(r)?,
            pin: LmkPin::read_before(r, 0)?,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        write_account(out, &self.account)?;
        out.extend_from_slice(self.pin.as_bytes());
        Ok(())
    }
}

//! PM: verify a dynamic CVV (Visa dCVV) or CVC3 (Mastercard).
//!
//! Layout, common part (the payShield host command manual's "Verify a
//! Dynamic CVV" table, pages corpus excerpt; the table heads the command
//! code "Value PN", a slip for PM whose response is PN): scheme ID 1N
//! (`0` Visa, `1` Mastercard) · version 1N · MK-DCVV `32H or 1A + 32H` ·
//! key derivation method 1A (`A` EMV option A, `B` option B) · PAN nN ·
//! `;` · the scheme's fields.
//!
//! Scheme `0` version `0` (Visa dCVV, the same manual table): expiry 4N ·
//! service code 3N · ATC 6N ("right justified and padded on the left with
//! zeros") · dCVV 3N. The MK is an MK-AC (LMK 28-29 variant 1). "The PAN
//! sequence number is assumed to be zero for the calculation of the UDK."
//!
//! Scheme `1` version `2` (Mastercard PayPass, PAN and track data given):
//! **not in the manual excerpt** (which lists version `0` only); the layout
//! is ThalesSim's (`ThalesCore/XMLDefs/HostCommands/VerifyDynamicCVV_PM.xml`
//! and `HostCommandTests.vb` L465-475 @9d718466, a simulator, not a real
//! HSM): PAN sequence number 2N · track data length 3N (bytes) · track data
//! (2 hex digits a byte) · unpredictable number 8H · ATC 5N (decimal) ·
//! CVC3 5A (digits, `X` for the leading digits not checked: `XX255`). The
//! MK is an MK-CVC3 (LMK 28-29 variant 7, the manual's table).
//!
//! No public PM frame from a real HSM was found; the golden tests use
//! ThalesSim's scheme-1 frames and, for scheme 0, a frame written from the
//! manual's table.

use super::*;

/// The scheme-specific fields of PM.
#[derive(Clone, PartialEq, Eq)]
pub enum DynamicFields {
    /// Scheme `0`, version `0`: Visa dCVV.
    Visa {
        /// Card expiry (YYMM, as on the track).
        expiry: [u8; 4],
        /// Service code.
        service_code: [u8; 3],
        /// ATC, 6 decimal digits (left zero-padded).
        atc: [u8; 6],
        /// The dCVV to verify.
        dcvv: Zeroizing<[u8; 3]>,
    },
    /// Scheme `1`, version `2` (ThalesSim layout): Mastercard CVC3 from the
    /// PAN and the track data.
    Mastercard {
        /// PAN sequence number.
        psn: [u8; 2],
        /// The track data the card MACs for IVCVC3 (binary).
        track: Zeroizing<Vec<u8>>,
        /// Unpredictable number (8 hex digits).
        un: [u8; 4],
        /// ATC, 5 decimal digits.
        atc: [u8; 5],
        /// The CVC3: 5 characters, digits with `X` in front for the digits
        /// not checked.
        cvc3: Zeroizing<[u8; 5]>,
    },
}

/// The 2-byte ATC of a decimal ATC field (PM's 6-digit Visa or 5-digit
/// Mastercard ATC): `None` when the field holds anything but digits or the
/// value exceeds 65535.
pub fn atc_from_decimal(digits: &[u8]) -> Option<[u8; 2]> {
    let n = digits.iter().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })?;
    u16::try_from(n).ok().map(u16::to_be_bytes)
}

/// PM verify a dynamic CVV / CVC3. See the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct DynamicCvvVerify {
    /// MK-DCVV: an MK-AC (Visa) or MK-CVC3 (Mastercard) under the LMK.
    pub mk: EncryptedKey,
    /// Key derivation method: `A` or `B`.
    pub derivation: u8,
    /// PAN digits.
    pub pan: Zeroizing<String>,
    /// Scheme, version and their fields.
    pub fields: DynamicFields,
}

impl fmt::Debug for DynamicCvvVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.fields {
            DynamicFields::Visa { .. } => "visa",
            DynamicFields::Mastercard { .. } => "mastercard",
        };
        f.debug_struct("DynamicCvvVerify")
            .field("scheme", &scheme)
            .field("derivation", &char::from(self.derivation))
            .finish_non_exhaustive()
    }
}

/// Longest track data (bytes) in the 3N length field.
const MAX_TRACK: usize = 999;

/// A CVC3 field: 5 characters, `X`s then 3 to 5 digits.
fn check_cvc3(c: &[u8; 5]) -> R<()> {
    let x = c.iter().take_while(|b| **b == b'X').count();
    if x <= 2 && c[x..].iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(CodecError::new(
            "cvc3",
            "5 characters: up to two X, then digits",
        ))
    }
}

impl DynamicCvvVerify {
    /// The scheme ID and version characters.
    pub fn scheme_version(&self) -> [u8; 2] {
        match self.fields {
            DynamicFields::Visa { .. } => *b"00",
            DynamicFields::Mastercard { .. } => *b"12",
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let scheme = flag(r, "scheme id", b"01")?;
        let version = r.array::<1>("version")?[0];
        if (scheme, version) != (b'0', b'0') && (scheme, version) != (b'1', b'2') {
            return Err(CodecError::new(
                "version",
                "modelled: 0 for scheme 0, 2 for scheme 1",
            ));
        }
        let mk = r.key("mk")?;
        let derivation = flag(r, "key derivation method", b"AB")?;
        let pan = r.until(b';', 19, "pan")?;
        if pan.is_empty() || !pan.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new("pan", "expected 1 to 19 digits then ';'"));
        }
        let pan = Zeroizing::new(
            String::from_utf8(pan.to_vec()).map_err(|_| CodecError::new("pan", "not digits"))?,
        );
        let fields = if scheme == b'0' {
            DynamicFields::Visa {
                expiry: digits::<4>(r, "expiry")?,
                service_code: digits::<3>(r, "service code")?,
                atc: digits::<6>(r, "atc")?,
                dcvv: Zeroizing::new(digits::<3>(r, "dcvv")?),
            }
        } else {
            let psn = digits::<2>(r, "pan sequence number")?;
            let n = r.number(3, "track data length")?;
            let track = Zeroizing::new(r.hex(2 * n, "track data")?);
            let un = r.hex_array::<4>("unpredictable number")?;
            let atc = digits::<5>(r, "atc")?;
            let cvc3 = Zeroizing::new(r.array::<5>("cvc3")?);
            check_cvc3(&cvc3)?;
            DynamicFields::Mastercard {
                psn,
                track,
                un,
                atc,
                cvc3,
            }
        };
        Ok(Self {
            mk,
            derivation,
            pan,
            fields,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.extend_from_slice(&self.scheme_version());
        self.mk.write(out);
        if !matches!(self.derivation, b'A' | b'B') {
            return Err(CodecError::new("key derivation method", "A or B"));
        }
        out.push(self.derivation);
        if self.pan.is_empty()
            || self.pan.len() > 19
            || !self.pan.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(CodecError::new("pan", "expected 1 to 19 digits"));
        }
        out.extend_from_slice(self.pan.as_bytes());
        out.push(b';');
        match &self.fields {
            DynamicFields::Visa {
                expiry,
                service_code,
                atc,
                dcvv,
            } => {
                check_digits("expiry", expiry)?;
                check_digits("service code", service_code)?;
                check_digits("atc", atc)?;
                check_digits("dcvv", &dcvv[..])?;
                out.extend_from_slice(expiry);
                out.extend_from_slice(service_code);
                out.extend_from_slice(atc);
                out.extend_from_slice(&dcvv[..]);
            }
            DynamicFields::Mastercard {
                psn,
                track,
                un,
                atc,
                cvc3,
            } => {
                check_digits("pan sequence number", psn)?;
                if track.len() > MAX_TRACK {
                    return Err(CodecError::new("track data", "at most 999 bytes"));
                }
                check_digits("atc", atc)?;
                check_cvc3(cvc3)?;
                out.extend_from_slice(psn);
                out.extend_from_slice(format!("{:03}", track.len()).as_bytes());
                push_hex(out, track);
                push_hex(out, un);
                out.extend_from_slice(atc);
                out.extend_from_slice(&cvc3[..]);
            }
        }
        Ok(())
    }
}

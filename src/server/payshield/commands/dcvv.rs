//! PM verify a dynamic CVV (Visa, scheme 0) or CVC3 (Mastercard, scheme 1
//! version 2): the simulator side. Layout and sources:
//! [`crate::payshield::codec::command::DynamicCvvVerify`].
//!
//! What the simulator does where the sources stop (each **unconfirmed**):
//! - The ATC fields (6N Visa, 5N Mastercard) are the counter's decimal
//!   value: the fields are numeric, so they cannot carry the hex digits of
//!   the 2-byte counter, and ThalesSim's PM turns its 5N ATC into the 2
//!   bytes so (`VerifyDynamicCVV_PM.vb` @9d718466). A value over 65535
//!   is `15`.
//! - Visa: the PAN sequence number is `00` (the manual: "assumed to be
//!   zero for the calculation of the UDK").
//! - Mastercard: the track data is MACed as sent (as the AWS
//!   `DynamicCardVerificationCode` `TrackData` and the crate's reference
//!   take it). ThalesSim zeroes the dynamic positions of its sample track
//!   itself before MACing; this simulator expects the host to send the
//!   static track the card MACed.
//! - An `X` in the CVC3 field skips that digit (ThalesSim); the rightmost
//!   digits of the 5-digit CVC3 are compared.
//! - A scheme / version other than 0/0 and 1/2, or a bad field: `15` (the
//!   manual excerpt ends before the response's error codes).
//! - With error `01` a payShield in the authorised state appends the
//!   computed value (the manual's notes); this simulator is never in the
//!   authorised state, so `01` comes alone.

use super::kb::Use;
use super::{err, Res, Sim};
use crate::algo::{cvv, emv};
use crate::payshield::codec::command::{atc_from_decimal, DynamicCvvVerify, DynamicFields};
use crate::payshield::lmk::KeyType;
use crate::types::MkDerivation;
use subtle::ConstantTimeEq;

impl Sim {
    /// PM: `00`, or `01` when the value does not verify.
    pub(super) fn pm(&self, p: &DynamicCvvVerify) -> Res {
        let kt = match p.fields {
            DynamicFields::Visa { .. } => KeyType::MK_AC,
            DynamicFields::Mastercard { .. } => KeyType::MK_CVC3,
        };
        let imk = self.key_of(kt, &p.mk, err::SRC_PARITY, Use::Derive)?.key;
        if imk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        let method = if p.derivation == b'B' {
            MkDerivation::OptionB
        } else {
            MkDerivation::OptionA
        };
        let ok = match &p.fields {
            DynamicFields::Visa {
                expiry,
                service_code,
                atc,
                dcvv,
            } => {
                let icc =
                    emv::derive_icc_mk(&imk, &p.pan, Some("00"), method).map_err(|_| err::INPUT)?;
                let exp = std::str::from_utf8(expiry).map_err(|_| err::INPUT)?;
                let sc = std::str::from_utf8(service_code).map_err(|_| err::INPUT)?;
                cvv::verify_dcvv(
                    icc.as_slice(),
                    &p.pan,
                    &atc_from_decimal(atc).ok_or(err::INPUT)?,
                    exp,
                    sc,
                    &dcvv[..],
                )
                .map_err(|_| err::INPUT)?
            }
            DynamicFields::Mastercard {
                psn,
                track,
                un,
                atc,
                cvc3,
            } => {
                let psn = std::str::from_utf8(psn).map_err(|_| err::INPUT)?;
                let icc =
                    emv::derive_icc_mk(&imk, &p.pan, Some(psn), method).map_err(|_| err::INPUT)?;
                let full = emv::mastercard_cvc3_from_track(
                    icc.as_slice(),
                    track,
                    un,
                    &atc_from_decimal(atc).ok_or(err::INPUT)?,
                )
                .map_err(|_| err::INPUT)?;
                let skip = cvc3.iter().take_while(|c| **c == b'X').count();
                full.get(skip..)
                    .zip(cvc3.get(skip..))
                    .is_some_and(|(a, b)| bool::from(a.ct_eq(b)))
            }
        };
        if ok {
            Ok(Vec::new())
        } else {
            Err(err::VERIFY.into())
        }
    }
}

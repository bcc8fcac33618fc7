//! Card validation verification on the payShield: CY for the Visa CVV
//! kinds, PM for the Visa dynamic CVV (scheme 0) and the Mastercard CVC3
//! (scheme 1 version 2, ThalesSim's layout: see
//! [`crate::payshield::codec::command::DynamicCvvVerify`]).
//!
//! What the payShield cannot do returns Unsupported:
//! - generating a dynamic CVV or CVC3: no host command is known to (the
//!   manual excerpt has PM, verification only);
//! - a Visa dynamic CVV for a PAN sequence number other than `00` (PM
//!   "assumes" a zero PAN sequence number; declared in
//!   [`crate::capabilities::CardValidationLimits`]);
//! - Amex CSC, the cardholder verification value, Discover dCVC: no host
//!   command layout and no public algorithm.
//!
//! The card key is derived with EMV option A, as the AWS attributes imply
//! (they carry no derivation method) and as the software reference does.

use super::{protocol, PayShieldBackend};
use crate::error::{Error, Result};
use crate::ops::*;
use crate::payshield::codec::command::{
    Command, DynamicCvvVerify, DynamicFields, Request as Frame,
};
use crate::payshield::codec::{self, request as rq, CodecError};
use crate::rules::{self, Purpose};
use crate::types::Verification;
use zeroize::Zeroizing;

fn encoding(e: CodecError) -> Error {
    Error::invalid(e.field, e.reason)
}

/// The decimal ATC field of `width` digits for a 2-byte ATC.
fn atc_field<const N: usize>(atc: [u8; 2]) -> [u8; N] {
    let s = format!("{:0N$}", u16::from_be_bytes(atc));
    let mut a = [b'0'; N];
    a.copy_from_slice(&s.as_bytes()[s.len() - N..]);
    a
}

/// A value's digits as a fixed field (`Err` naming `field` otherwise).
fn value_field<const N: usize>(v: &str, field: &'static str) -> Result<Zeroizing<[u8; N]>> {
    let mut a = Zeroizing::new([b'X'; N]);
    let d = v.as_bytes();
    if d.len() > N || d.len() < 3 || !d.iter().all(u8::is_ascii_digit) {
        return Err(Error::invalid(field, "3 to 5 digits"));
    }
    a[N - d.len()..].copy_from_slice(d);
    Ok(a)
}

impl PayShieldBackend {
    /// VerifyCardValidation: CY or PM by kind.
    pub(super) async fn verify_card_validation(
        &self,
        r: VerifyCardValidationRequest,
    ) -> Result<Verification> {
        let value = r.value.expose();
        let (purpose, fields) = match &r.kind {
            CardValidationKind::Cvv(_) | CardValidationKind::Cvv2 | CardValidationKind::Icvv => {
                let k = self.cvk(&r.key, false)?;
                let mut b = Vec::new();
                rq::cy(
                    &mut b,
                    &k.key,
                    value.as_bytes(),
                    r.pan.expose(),
                    r.expiry.as_str(),
                    r.kind.service_code().as_str(),
                );
                let (v, _) = self.run(&b, true).await?;
                return Ok(v);
            }
            CardValidationKind::DynamicCvv {
                psn,
                service_code,
                atc,
            } => {
                if psn.as_str() != "00" {
                    return Err(Error::unsupported(
                        "a payShield's PM takes PAN sequence number 00 only for a Visa dynamic CVV",
                    ));
                }
                let dcvv = value_field::<3>(value, "validation data")?;
                let mut sc = [0u8; 3];
                sc.copy_from_slice(service_code.as_str().as_bytes());
                let mut exp = [0u8; 4];
                exp.copy_from_slice(r.expiry.as_str().as_bytes());
                (
                    Purpose::DynamicCvv,
                    DynamicFields::Visa {
                        expiry: exp,
                        service_code: sc,
                        atc: atc_field::<6>(*atc),
                        dcvv,
                    },
                )
            }
            CardValidationKind::DynamicCvc3 {
                unpredictable_number,
                psn,
                atc,
                track_data,
            } => {
                let mut p = [0u8; 2];
                p.copy_from_slice(psn.as_str().as_bytes());
                (
                    Purpose::DynamicCvc3,
                    DynamicFields::Mastercard {
                        psn: p,
                        track: Zeroizing::new(track_data.expose().to_vec()),
                        un: *unpredictable_number,
                        atc: atc_field::<5>(*atc),
                        cvc3: value_field::<5>(value, "validation data")?,
                    },
                )
            }
            other => {
                return Err(Error::unsupported(format!(
                    "card validation kind {:?} on the payShield backend (no host command)",
                    other.kind_type()
                )))
            }
        };
        let k = self.key(&r.key)?;
        rules::check(&r.key, &k.attributes, purpose)?;
        let pm = DynamicCvvVerify {
            mk: k.key.clone(),
            derivation: b'A',
            pan: Zeroizing::new(r.pan.expose().to_owned()),
            fields,
        };
        let mut b = Vec::with_capacity(160);
        codec::encode_request(&mut b, &Frame::from(Command::Pm(pm))).map_err(encoding)?;
        let (v, body) = self.run(&b, true).await?;
        // `00` has no fields; `01` may carry the computed value (the
        // manual: in the authorised state), which the host does not need.
        if v == Verification::Verified && !body.is_empty() {
            return Err(protocol(CodecError::new("pn", "unexpected data after 00")));
        }
        Ok(v)
    }
}

//! `verify_arqc` on a payShield: KQ for Visa (no session key) and
//! Mastercard SKD, KW for the EMV common session key.
//!
//! Both commands zero-pad transaction data that is not a multiple of 8
//! bytes and leave scheme padding to the host, so the backend pads the data
//! itself with the requested ISO 9797-1 method (the same function the
//! software reference MACs with) and sends whole blocks: the HSM then adds
//! nothing and every padding method works on both commands.
//!
//! | session key | ARPC none | ARPC method 1 | ARPC method 2 |
//! |---|---|---|---|
//! | Visa (none) | KQ scheme 0, mode 0 | KQ scheme 0, mode 1 | unsupported |
//! | Mastercard SKD | KQ scheme 1, mode 0 | unsupported | unsupported |
//! | EMV common (option A / B) | KW scheme 2 / 3, mode 0 | KW mode 1 | KW mode 3 |
//!
//! Why the gaps stay Unsupported: KQ has no ARPC method 2 at all, and KW
//! derives only EMV common (or EMV2000 tree) session keys, never Mastercard
//! SKD (no unpredictable number field) nor "no session key", so a method-2
//! ARPC under those keys has no host command. Mastercard with ARPC method 1
//! through KQ is left out because whether KQ scheme 1 encrypts the ARPC
//! under the session key or the ICC master key (the reference uses the
//! latter) is not settled by any public source.

use super::{protocol, PayShieldBackend};
use crate::algo::mac::pad_into;
use crate::error::{Error, Result};
use crate::ops::*;
use crate::payshield::codec::kw::{encode_kw, pan_psn_16, KwArpc, KwPanPsn, KwRequest, KwScheme};
use crate::payshield::codec::{self, request as rq};
use crate::types::Verification;

/// Largest transaction data field of KQ and KW (2 hex digits of length).
pub(super) const MAX_TXN_DATA: usize = 0xFF;

/// The crate error for a KW error code (the per-command table makes `04`
/// / `05`, mode or scheme not recognised by the firmware, Unsupported).
fn kw_error(code: [u8; 2]) -> Error {
    super::error_for(*b"KW", code)
}

impl PayShieldBackend {
    pub(super) async fn verify_arqc(&self, r: VerifyArqcRequest) -> Result<VerifyArqcResponse> {
        let k = self.key(&r.key)?;
        crate::rules::check(&r.key, &k.attributes, crate::rules::Purpose::ArqcVerify)?;
        // Whole blocks, padded as the card padded them (errors as the
        // reference: padding none needs a positive multiple of 8 bytes).
        let mut data = vec![0u8; r.transaction_data.len() + 16];
        let n = pad_into(&r.transaction_data, r.padding, 8, &mut data)?;
        data.truncate(n);
        if data.len() > MAX_TXN_DATA {
            return Err(Error::unsupported(
                "KQ and KW carry at most 255 bytes of (padded) transaction data",
            ));
        }
        let pan = r.pan.expose();
        let psn = r.psn.as_str();
        match r.session {
            SessionKeyDerivation::EmvCommon { atc } => {
                let (scheme, pan_psn) = match r.mk_derivation {
                    MkDerivation::OptionA => (
                        KwScheme::CommonOptionA,
                        KwPanPsn::Packed16(pan_psn_16(pan, psn)),
                    ),
                    MkDerivation::OptionB => (
                        KwScheme::CommonOptionB,
                        KwPanPsn::full(pan, psn).map_err(|e| Error::invalid(e.field, e.reason))?,
                    ),
                };
                let arpc = match &r.arpc {
                    None => KwArpc::None,
                    Some(ArpcMethod::Method1 { arc }) => KwArpc::Method1 { arc: *arc },
                    Some(ArpcMethod::Method2 {
                        csu,
                        proprietary_data,
                    }) => KwArpc::Method2 {
                        csu: *csu,
                        proprietary: proprietary_data.as_bytes().to_vec(),
                    },
                };
                let req = KwRequest {
                    scheme,
                    mk: k.key.clone(),
                    pan_psn,
                    atc,
                    data: Some(data),
                    arqc: r.arqc,
                    arpc,
                };
                let mode = req.mode().map_err(protocol)?;
                let mut b = Vec::with_capacity(100 + MAX_TXN_DATA);
                encode_kw(&mut b, &req).map_err(|e| Error::invalid(e.field, e.reason))?;
                let resp = self.command(&b).await?;
                match &resp.error {
                    b"00" => Ok(VerifyArqcResponse {
                        verification: Verification::Verified,
                        arpc: codec::kw::parse_kx(&resp.body, mode).map_err(protocol)?,
                    }),
                    // Any diagnostic data after 01 is ignored.
                    b"01" => Ok(VerifyArqcResponse {
                        verification: Verification::Failed,
                        arpc: None,
                    }),
                    _ => Err(kw_error(resp.error)),
                }
            }
            SessionKeyDerivation::Visa | SessionKeyDerivation::Mastercard { .. } => {
                if r.mk_derivation == MkDerivation::OptionB && pan.len() > 16 {
                    return Err(Error::unsupported(
                        "KQ derives ICC master keys by option A only (option B differs for PANs over 16 digits)",
                    ));
                }
                let (scheme, atc, un) = match r.session {
                    SessionKeyDerivation::Mastercard {
                        atc,
                        unpredictable_number,
                    } => (b'1', atc, unpredictable_number),
                    _ => (b'0', [0u8; 2], [0u8; 4]),
                };
                // Mode 0 (verify only) carries no ARC on the wire; mode 1
                // (verify + ARPC) does.
                let arc = match &r.arpc {
                    None => None,
                    Some(ArpcMethod::Method1 { arc }) if scheme == b'0' => Some(*arc),
                    Some(ArpcMethod::Method1 { .. }) => {
                        return Err(Error::unsupported(
                            "ARPC method 1 with a Mastercard session key on payShield (KQ's ARPC key for scheme 1 is not the reference's)",
                        ))
                    }
                    Some(ArpcMethod::Method2 { .. }) => {
                        return Err(Error::unsupported(
                            "ARPC method 2 on payShield needs the EMV common session key (KW); KQ has no method 2",
                        ))
                    }
                };
                let mut b = Vec::with_capacity(80 + data.len());
                rq::kq(
                    &mut b,
                    scheme,
                    &k.key,
                    &pan_psn_16(pan, psn),
                    &atc,
                    &un,
                    Some(&data),
                    &r.arqc,
                    arc.as_ref(),
                )
                .map_err(|e| Error::invalid(e.field, e.reason))?;
                let (v, body) = self.run(&b, true).await?;
                let arpc = if v.is_verified() && arc.is_some() {
                    Some(codec::parse_kr(&body).map_err(protocol)?.to_vec())
                } else {
                    None
                };
                Ok(VerifyArqcResponse {
                    verification: v,
                    arpc,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn unrecognised_kw_mode_or_scheme_is_unsupported() {
        assert_eq!(kw_error(*b"04").kind(), ErrorKind::Unsupported);
        assert_eq!(kw_error(*b"05").kind(), ErrorKind::Unsupported);
        assert_eq!(kw_error(*b"10").kind(), ErrorKind::KeyUsage);
        assert_eq!(kw_error(*b"15").kind(), ErrorKind::InvalidInput);
    }
}

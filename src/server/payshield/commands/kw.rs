//! KW (ARQC verification and/or ARPC generation with the EMV common session
//! key): the simulator side. Field layout and the choices made where public
//! sources are silent: [`crate::payshield::codec::kw`].

use super::{err, Res, Sim};
use crate::algo::emv;
use crate::algo::mac::Padding;
use crate::payshield::codec::kw::{KwArpc, KwPanPsn, KwRequest};
use crate::payshield::lmk::KeyType;

impl Sim {
    /// KW → KX. Errors: `04` unrecognised mode, `05` unrecognised (or not
    /// modelled: EMV2000 tree) scheme (both from the parser), `10` MK-AC
    /// parity (a key of another type), `27` MK-AC not double length, `15`
    /// any other bad field, `01` ARQC verification failure (no diagnostic
    /// data: not in authorised state).
    pub(super) fn kw(&self, req: &KwRequest) -> Res {
        let imk = self
            .key_of(
                KeyType::MK_AC,
                &req.mk,
                err::SRC_PARITY,
                super::kb::Use::Derive,
            )?
            .key;
        if imk.len() != 16 {
            return Err(err::KEY_LEN.into());
        }
        let icc = match &req.pan_psn {
            KwPanPsn::Packed16(f) => {
                let (pan, psn) = KwPanPsn::unpack16(f)?;
                emv::derive_icc_mk(&imk, &pan, Some(&psn), emv::MkDerivation::OptionA)
            }
            KwPanPsn::Full { pan, psn } => {
                let psn = std::str::from_utf8(psn).map_err(|_| err::INPUT)?;
                emv::derive_icc_mk(&imk, pan, Some(psn), emv::MkDerivation::OptionB)
            }
        }
        .map_err(|_| err::INPUT)?;
        let sk = emv::derive_session_key(
            icc.as_slice(),
            emv::SessionKeyDerivation::EmvCommonAtc { atc: &req.atc },
        )
        .map_err(|_| err::INPUT)?;
        if let Some(data) = &req.data {
            // The HSM adds zero padding only when the data is not a multiple
            // of 8 bytes (ISO 9797-1 method 1); scheme padding is the host's.
            let ok = emv::verify_ac(sk.as_slice(), data, Padding::Method1, &req.arqc)
                .map_err(|_| err::INPUT)?;
            if !ok {
                return Err(err::VERIFY.into());
            }
        }
        let arpc = match &req.arpc {
            KwArpc::None => Vec::new(),
            // KW is the EMV common session key command: its method-1 ARPC
            // is under the session key, as EMV 4.4 Book 2 8.2.1 and A1.3.1
            // define it (no Thales text says otherwise; see
            // docs/research/payshield-sources.md Q5).
            KwArpc::Method1 { arc } => emv::generate_arpc_method1(sk.as_slice(), &req.arqc, arc)
                .map_err(|_| err::INPUT)?
                .to_vec(),
            KwArpc::Method2 { csu, proprietary } => {
                emv::generate_arpc_method2(sk.as_slice(), &req.arqc, csu, proprietary)
                    .map_err(|_| err::INPUT)?
                    .to_vec()
            }
        };
        Ok(arpc)
    }
}

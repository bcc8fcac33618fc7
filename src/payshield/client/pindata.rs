//! Issuer PIN data on a payShield (variant LMK, or key-block LMK with TDES
//! key blocks: V1/V2 PVKs, P0 PIN keys, B0 BDKs): generation and
//! verification composed of host commands so that only enciphered PINs
//! cross the wire (PIN blocks under zone or terminal keys, PINs under the
//! LMK, which the host never reads). Under a key-block LMK a `P0` key is
//! a zone key (EA, EC, JE, JG) and a `71` key a terminal key (DA, DC, JC);
//! AES PIN keys (ISO format 4, 32-digit PIN blocks) and AES DUKPT are not
//! modelled for these commands (declared:
//! [`PinDataLimits::tdes_pin_keys_only`](crate::capabilities::PinDataLimits::tdes_pin_keys_only)).
//!
//! | request | commands |
//! |---|---|
//! | Visa: random PIN + PVV | JA → DG, JG |
//! | Visa: PVV of a PIN block | JE / JC → DG (the block is returned as given) |
//! | IBM: natural PIN | EE (offset of zeros) → JG |
//! | IBM: random PIN + offset | JA → DE, JG |
//! | IBM: offset of a PIN block | JE / JC → DE (check length 04) |
//! | IBM: PIN from an offset | EE → JG |
//! | verify IBM, zone / terminal key / TDES DUKPT | EA / DA / GO |
//! | verify Visa, zone / terminal key / TDES DUKPT | EC / DC / GQ |
//! | expected PIN length (zone key) | then CC from the ZPK to itself, whose answer states the PIN length |
//!
//! Limits (declared in the capabilities, [`crate::capabilities::PinDataLimits`]):
//! the validation data must hold the account's last five digits (the
//! payShield's `N`); decimalisation tables must pass the HSM's check; no
//! expected PIN length under DUKPT (no command states that PIN's length
//! without a ZPK). Key-dependent limits answer `Unsupported` at run time: a
//! generated PIN block goes to a ZPK only (JG); an expected PIN length
//! needs a ZPK (CC), not a TPK; Visa PVV commands take double-length PVKs.
//!
//! Decimalisation tables go as plaintext (16N): the HSM's security setting
//! must allow plaintext tables (the manual: encrypted tables are the default
//! since base software 2.0; this client has no encrypted tables to send).

use super::{error_for, fmt_code, protocol, PayShieldBackend};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::payshield::codec::command::{
    offset_field, offset_from_field, table_field, validation_field, Command, IbmData, IbmDerive,
    IbmOffset, IbmVerify, IbmVerifyDukpt, KsnField, LmkPin, PinCommand, PinFromLmk, PinToLmk,
    PvkPair, PvvGenerate, PvvVerify, PvvVerifyDukpt, RandomPin, Request as Frame,
};
use crate::payshield::codec::{self, reply, request as rq, CodecError};
use crate::payshield::keyblock::header_of;
use crate::payshield::keytable::TableKey;
use crate::payshield::lmk::KeyType;
use crate::rules::{self, Purpose};
use crate::types::{
    EncryptedPinBlock, KeyAlgorithm, Pan, PinLength, PinOffset, Pvki, Pvv, Verification,
};
use zeroize::Zeroizing;

/// The double-length PVK warning of DE, EE, DA, EA, GO (the manual's notes:
/// "If a double or triple length PVK is used, Error Code 02 is returned as
/// a warning but processing continues"; ut-codec-payshield `messages.json`
/// lists `02` under `warnings` for these commands).
const DOUBLE_PVK: [u8; 2] = *b"02";

fn encoding(e: CodecError) -> Error {
    Error::invalid(e.field, e.reason)
}

fn pvki_digit(p: Pvki) -> u8 {
    b'0' + p.get()
}

/// The IBM 3624 fields for a request: the validation data with `N` in
/// place of the account's last five digits, the plaintext table, the check
/// length.
fn ibm_data(ibm: &Ibm3624, pan: &Pan, account: &[u8; 12], check: usize) -> Result<IbmData> {
    if !ibm.decimalization_table.passes_hsm_check() {
        return Err(Error::unsupported(
            "a payShield refuses decimalisation tables with fewer than 8 different digits or a digit more than 4 times",
        ));
    }
    let at = ibm.account_digits_at(pan).ok_or_else(|| {
        Error::unsupported(
            "a payShield takes IBM 3624 validation data with N for the five PAN digits before the check digit; this validation data does not hold them",
        )
    })?;
    let check = u8::try_from(check).map_err(|_| Error::invalid("pin offset", "too long"))?;
    Ok(IbmData {
        check_length: check,
        account: Zeroizing::new(*account),
        table: table_field(&ibm.decimalization_table),
        validation: validation_field(&ibm.validation_data.padded(ibm.pad), at).map_err(encoding)?,
    })
}

impl PayShieldBackend {
    /// Sends one issuer PIN command: `00` (and the `02` warning on the IBM
    /// commands) is the answer's body, `01` is [`Verification::Failed`],
    /// any other code the command's error.
    /// True for a terminal PIN key: key type 002 under a variant LMK, a key
    /// block of the Thales TPK usage `71` under a key-block LMK (a `P0` key
    /// block is taken as a zone key).
    fn is_tpk(&self, k: &TableKey) -> bool {
        if self.is_key_block() {
            header_of(&k.key).is_some_and(|h| &h.usage == b"71")
        } else {
            k.key_type == KeyType::TPK
        }
    }

    /// What the commands cannot take, whatever the LMK: a Visa PVK that is
    /// not double length; and (key-block LMK) a PVK or PIN key that is not
    /// TDES (the AES forms of these commands are not modelled).
    fn check_pin_keys(&self, scheme: PinScheme, pvk: &TableKey, pin_key: &TableKey) -> Result<()> {
        if scheme == PinScheme::VisaPvv && pvk.attributes.algorithm != KeyAlgorithm::Tdes2 {
            return Err(Error::unsupported(
                "the payShield's Visa PVV commands take a double-length PVK",
            ));
        }
        for k in [pvk, pin_key] {
            if !k.attributes.algorithm.is_tdes() {
                return Err(Error::unsupported(
                    "issuer PIN commands with AES keys (32-digit PIN blocks) are not modelled",
                ));
            }
        }
        Ok(())
    }

    async fn pin_command(&self, cmd: PinCommand) -> Result<(Verification, Vec<u8>)> {
        let code = cmd.code();
        let mut b = Vec::with_capacity(200);
        codec::encode_request(&mut b, &Frame::from(Command::Pin(cmd))).map_err(encoding)?;
        let r = self.command(&b).await?;
        let ibm = matches!(&code, b"DA" | b"EA" | b"GO" | b"DE" | b"EE");
        let verify = matches!(&code, b"DA" | b"EA" | b"GO" | b"DC" | b"EC" | b"GQ");
        match &r.error {
            b"00" => Ok((Verification::Verified, r.body)),
            c if ibm && *c == DOUBLE_PVK => Ok((Verification::Verified, r.body)),
            b"01" if verify => Ok((Verification::Failed, Vec::new())),
            _ => Err(error_for(code, r.error)),
        }
    }

    async fn lmk_pin(&self, cmd: PinCommand) -> Result<LmkPin> {
        let (_, body) = self.pin_command(cmd).await?;
        reply::parse_lmk_pin(&body).map_err(protocol)
    }

    /// JE (ZPK) or JC (TPK): a PIN block to the LMK.
    async fn block_to_lmk(
        &self,
        key: &TableKey,
        block: &EncryptedPinBlock,
        format: [u8; 2],
        account: &[u8; 12],
    ) -> Result<LmkPin> {
        let t = PinToLmk {
            key: key.key.clone(),
            pin_block: block
                .as_bytes()
                .try_into()
                .map_err(|_| Error::invalid("pin block", "expected 8 bytes"))?,
            format,
            account: Zeroizing::new(*account),
        };
        self.lmk_pin(if self.is_tpk(key) {
            PinCommand::Jc(t)
        } else {
            PinCommand::Je(t)
        })
        .await
    }

    /// JG: a PIN under the LMK to a PIN block under a ZPK.
    async fn lmk_to_zpk(
        &self,
        zpk: &TableKey,
        format: [u8; 2],
        account: &[u8; 12],
        pin: LmkPin,
    ) -> Result<EncryptedPinBlock> {
        let (_, body) = self
            .pin_command(PinCommand::Jg(PinFromLmk {
                zpk: zpk.key.clone(),
                format,
                account: Zeroizing::new(*account),
                pin,
            }))
            .await?;
        let (b, _) = reply::parse_pin_block_fields(&body).map_err(protocol)?;
        Ok(EncryptedPinBlock::from_bytes(&b)?)
    }

    /// DG: the PVV of a PIN under the LMK.
    async fn pvv_of(
        &self,
        pvk: &TableKey,
        pin: LmkPin,
        account: &[u8; 12],
        pvki: Pvki,
    ) -> Result<Pvv> {
        let (_, body) = self
            .pin_command(PinCommand::Dg(PvvGenerate {
                pvk: PvkPair::Key(pvk.key.clone()),
                pin,
                account: Zeroizing::new(*account),
                pvki: pvki_digit(pvki),
            }))
            .await?;
        let (p, _) = reply::parse_pvv_fields(&body).map_err(protocol)?;
        Pvv::new(std::str::from_utf8(&p[..]).unwrap_or_default())
            .map_err(|_| Error::new(ErrorKind::Protocol, "malformed payShield response: PVV"))
    }

    /// DE: the IBM 3624 offset of a PIN under the LMK.
    async fn offset_of(&self, pvk: &TableKey, pin: LmkPin, data: IbmData) -> Result<PinOffset> {
        let (_, body) = self
            .pin_command(PinCommand::De(IbmOffset {
                pvk: pvk.key.clone(),
                pin,
                data,
            }))
            .await?;
        let (o, _) = reply::parse_offset_fields(&body).map_err(protocol)?;
        offset_from_field(&o).map_err(protocol)
    }

    /// The PIN length in a PIN block under a ZPK: CC from the ZPK to
    /// itself answers with it (CD: PIN length 2N, PIN block, format).
    async fn pin_length_under(
        &self,
        zpk: &TableKey,
        block: &[u8; 8],
        format: &[u8; 2],
        pan: &str,
    ) -> Result<usize> {
        let mut b = Vec::with_capacity(120);
        rq::pin_translate(
            &mut b, b"CC", &zpk.key, &zpk.key, block, format, format, pan,
        )
        .map_err(encoding)?;
        let r = self.command(&b).await?;
        if &r.error != b"00" {
            return Err(error_for(*b"CC", r.error));
        }
        let t = codec::parse_pin_translation(&r.body).map_err(protocol)?;
        Ok(usize::from(t.pin_len))
    }

    pub(super) async fn generate_pin_data(
        &self,
        r: GeneratePinDataRequest,
    ) -> Result<GeneratePinDataResponse> {
        let scheme = r.method.scheme();
        let pvk = self.key(&r.generation_key)?;
        rules::check(
            &r.generation_key,
            &pvk.attributes,
            Purpose::pin_data(scheme, true),
        )?;
        let pek = self.key(&r.encryption_key)?;
        rules::check(&r.encryption_key, &pek.attributes, Purpose::PinEncrypt)?;
        if r.method.incoming_block().is_some() {
            rules::check(&r.encryption_key, &pek.attributes, Purpose::PinDecrypt)?;
        } else if self.is_tpk(&pek) {
            return Err(Error::unsupported(
                "a payShield puts a PIN under the LMK into a PIN block under a ZPK only (JG); the encryption key is not a ZPK",
            ));
        }
        self.check_pin_keys(scheme, &pvk, &pek)?;
        let format = *fmt_code(r.format, self.is_key_block())?;
        let account = Zeroizing::new(codec::account_field(r.pan.expose()));
        let (lmk_pin, pin_data) = match &r.method {
            PinGeneration::VisaPin { pvki, pin_length } => {
                let p = self.random_pin(&account, *pin_length).await?;
                let pvv = self.pvv_of(&pvk, p.clone(), &account, *pvki).await?;
                (Some(p), PinData::Pvv(pvv))
            }
            PinGeneration::VisaPvv { pvki, pin_block } => {
                let p = self.block_to_lmk(&pek, pin_block, format, &account).await?;
                (
                    None,
                    PinData::Pvv(self.pvv_of(&pvk, p, &account, *pvki).await?),
                )
            }
            PinGeneration::Ibm3624NaturalPin { ibm, pin_length } => {
                let zeros = [0u8; 12];
                let offset = PinOffset::from_values(zeros.get(..pin_length.get()).unwrap_or(&[]))?;
                let data = ibm_data(ibm, &r.pan, &account, offset.len())?;
                let p = self.derive(&pvk, &offset, data).await?;
                (Some(p), PinData::Offset(offset))
            }
            PinGeneration::Ibm3624RandomPin { ibm, pin_length } => {
                let data = ibm_data(ibm, &r.pan, &account, pin_length.get())?;
                let p = self.random_pin(&account, *pin_length).await?;
                let offset = self.offset_of(&pvk, p.clone(), data).await?;
                if offset.len() != pin_length.get() {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        "payShield returned an offset of another length than the PIN's",
                    ));
                }
                (Some(p), PinData::Offset(offset))
            }
            PinGeneration::Ibm3624PinOffset { ibm, pin_block } => {
                // Check length 04, the least: the offset comes back with
                // the PIN's length (see the simulator's notes: unconfirmed
                // on a payShield, where every public DE frame sends the
                // offset's own length).
                let data = ibm_data(ibm, &r.pan, &account, 4)?;
                let p = self.block_to_lmk(&pek, pin_block, format, &account).await?;
                (None, PinData::Offset(self.offset_of(&pvk, p, data).await?))
            }
            PinGeneration::Ibm3624PinFromOffset { ibm, offset } => {
                let data = ibm_data(ibm, &r.pan, &account, offset.len())?;
                let p = self.derive(&pvk, offset, data).await?;
                (Some(p), PinData::Offset(offset.clone()))
            }
        };
        let pin_block = match (lmk_pin, r.method.incoming_block()) {
            (Some(p), _) => self.lmk_to_zpk(&pek, format, &account, p).await?,
            (None, Some(b)) => b.clone(),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Backend,
                    "no PIN to return (internal)",
                ))
            }
        };
        Ok(GeneratePinDataResponse {
            pin_block,
            format: r.format,
            pin_data,
            generation_key_check_value: pvk.kcv,
            encryption_key_check_value: pek.kcv,
        })
    }

    /// JA: a random PIN under the LMK.
    async fn random_pin(&self, account: &[u8; 12], n: PinLength) -> Result<LmkPin> {
        self.lmk_pin(PinCommand::Ja(RandomPin {
            account: Zeroizing::new(*account),
            pin_length: n.get() as u8,
        }))
        .await
    }

    /// EE: the PIN an offset gives, under the LMK.
    async fn derive(&self, pvk: &TableKey, offset: &PinOffset, data: IbmData) -> Result<LmkPin> {
        self.lmk_pin(PinCommand::Ee(IbmDerive {
            pvk: pvk.key.clone(),
            offset: offset_field(offset),
            data,
        }))
        .await
    }

    pub(super) async fn verify_pin_data(&self, r: VerifyPinDataRequest) -> Result<VerifyResponse> {
        let scheme = r.method.scheme();
        let pvk = self.key(&r.verification_key)?;
        rules::check(
            &r.verification_key,
            &pvk.attributes,
            Purpose::pin_data(scheme, false),
        )?;
        self.check_pin_keys(scheme, &pvk, &pvk)?;
        let format = *fmt_code(r.format, self.is_key_block())?;
        let account = Zeroizing::new(codec::account_field(r.pan.expose()));
        let block: [u8; 8] = r
            .pin_block
            .as_bytes()
            .try_into()
            .map_err(|_| Error::invalid("pin block", "expected 8 bytes"))?;
        let ibm = |offset: &PinOffset, ibm: &Ibm3624| {
            Ok::<_, Error>((
                ibm_data(ibm, &r.pan, &account, offset.len())?,
                offset_field(offset),
            ))
        };
        let pvv_fields = |pvki: &Pvki, pvv: &Pvv| {
            let mut p = Zeroizing::new([0u8; 4]);
            for (o, d) in p.iter_mut().zip(pvv.values()) {
                *o = b'0' + d;
            }
            (PvkPair::Key(pvk.key.clone()), pvki_digit(*pvki), p)
        };
        let (cmd, zpk) = match &r.pin_key {
            PinKey::Key(id) => {
                let k = self.key(id)?;
                rules::check(id, &k.attributes, Purpose::PinDecrypt)?;
                self.check_pin_keys(scheme, &pvk, &k)?;
                let tpk = self.is_tpk(&k);
                if tpk && r.pin_length.is_some() {
                    return Err(Error::unsupported(
                        "an expected PIN length for a PIN block under a TPK (a payShield states a PIN's length when translating it to a ZPK)",
                    ));
                }
                let cmd = match &r.method {
                    PinVerification::Ibm3624 { ibm: i, offset } => {
                        let (data, offset) = ibm(offset, i)?;
                        let v = IbmVerify {
                            pin_key: k.key.clone(),
                            pvk: pvk.key.clone(),
                            max_pin_len: 12,
                            pin_block: block,
                            format,
                            data,
                            offset,
                        };
                        if tpk {
                            PinCommand::Da(v)
                        } else {
                            PinCommand::Ea(v)
                        }
                    }
                    PinVerification::VisaPvv { pvki, pvv } => {
                        let (pvk_field, pvki, pvv) = pvv_fields(pvki, pvv);
                        let v = PvvVerify {
                            pin_key: k.key.clone(),
                            pvk: pvk_field,
                            pin_block: block,
                            format,
                            account: account.clone(),
                            pvki,
                            pvv,
                        };
                        if tpk {
                            PinCommand::Dc(v)
                        } else {
                            PinCommand::Ec(v)
                        }
                    }
                };
                (cmd, Some(k))
            }
            PinKey::Dukpt(d) => {
                if r.pin_length.is_some() {
                    return Err(Error::unsupported(
                        "an expected PIN length for a PIN block under DUKPT",
                    ));
                }
                let bdk = self.dukpt_bdk(d)?;
                let ksn = KsnField::from_bytes(d.ksn.as_bytes()).map_err(encoding)?;
                let cmd = match &r.method {
                    PinVerification::Ibm3624 { ibm: i, offset } => {
                        let (data, offset) = ibm(offset, i)?;
                        PinCommand::Go(IbmVerifyDukpt {
                            bdk: bdk.key.clone(),
                            pvk: pvk.key.clone(),
                            ksn,
                            pin_block: block,
                            format,
                            data,
                            offset,
                        })
                    }
                    PinVerification::VisaPvv { pvki, pvv } => {
                        let (pvk_field, pvki, pvv) = pvv_fields(pvki, pvv);
                        PinCommand::Gq(PvvVerifyDukpt {
                            bdk: bdk.key.clone(),
                            pvk: pvk_field,
                            ksn,
                            pin_block: block,
                            format,
                            account: account.clone(),
                            pvki,
                            pvv,
                        })
                    }
                };
                (cmd, None)
            }
        };
        let (mut verification, _) = self.pin_command(cmd).await?;
        if let (Some(n), Some(zpk), true) = (r.pin_length, zpk, verification.is_verified()) {
            // A PIN of another length than the one expected does not verify
            // (the length is not secret: CD states it).
            let len = self
                .pin_length_under(&zpk, &block, &format, r.pan.expose())
                .await?;
            verification = Verification::from_bool(len == n.get());
        }
        Ok(VerifyResponse { verification })
    }
}

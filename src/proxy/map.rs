//! payShield host commands to typed requests and back.
//!
//! [`to_request`] turns a parsed host command the proxy models (CA/CC, CW/CY,
//! PM, M6/M8, KQ, KW, DA/EA, DC/EC, M0/M2) into a typed [`Request`] whose
//! keys are named through the [`KeyMap`]; [`from_raw`] reads the primary's raw answer into the typed
//! [`Response`] the shadow compares; [`encode`] writes a typed answer (the
//! candidate's, after a failover) in the payShield reply format, with the
//! codec's reply encoders.

use super::keys::{KeyMap, KeyRef, Resolved};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::payshield::codec::command::{
    offset_from_field, CardValidation, Command, Cvk, DataCipher, DynamicCvvVerify, DynamicFields,
    IbmVerify, KeyOrPair, MacCommand, PinCommand, PinTranslate, PvvVerify,
};
use crate::payshield::codec::kq::{KqRequest, KqScheme};
use crate::payshield::codec::kw::{encode_kx, KwArpc, KwMode, KwPanPsn, KwRequest, KwScheme};
use crate::payshield::codec::reply::{
    encode_data, encode_kr, encode_pin_translation, DataReply, PinTranslation,
};
use crate::payshield::codec::{self, decode_hex, push_hex};
use crate::payshield::{KeyType, RawResponse};
use crate::types::{
    CardExpiry, Cvv, CvvLength, DecimalizationTable, EncryptedPinBlock, Iso9797Padding, KeyId,
    KeyUsage, MkDerivation, Pan, PinBlockFormat, ProprietaryAuthData, Psn, Pvki, Pvv, SecretBytes,
    ServiceCode, TrackData, Verification,
};

/// What the proxy needs of the command to write a reply for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// CA / CC: PIN length (from the request's maximum, see [`encode`]),
    /// PIN block, format.
    Translate { max_pin_len: u8 },
    /// CW: the CVV.
    Cvv,
    /// CY, M8, EC: verification in the error code.
    Verify,
    /// EA: verification in the error code, a verified PIN under a double-
    /// or triple-length PVK answered with the warning `02` (as the
    /// simulator and the payShield client have it), else `00`.
    VerifyIbm { long_pvk: bool },
    /// M6: the MAC, `len` bytes.
    Mac { len: usize },
    /// KQ: verification in the error code, then the 8-byte ARPC when the
    /// mode asks for one (KR layout, [`codec::kq`]).
    Kq,
    /// KW: verification in the error code, then the ARPC the mode asks for
    /// (KX layout, [`codec::kw`]).
    Kw(KwMode),
    /// M0 / M2 in ECB mode: the output field (M1 / M3 layout, no IV), as
    /// hex text when the output format flag is `1`, else binary.
    Data { hex: bool },
}

/// A PAN whose 12-digit account number field is `account` (the 12 digits,
/// then a Luhn check digit): CA/CC carry only the account number, which is
/// all ISO formats 0 and 3 bind the PIN block to.
fn pan_from_account(account: &[u8; 12]) -> Option<Pan> {
    let mut sum = 0u32;
    for (i, c) in account.iter().rev().enumerate() {
        let mut d = u32::from(c.checked_sub(b'0')?);
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    let check = char::from(b'0' + u8::try_from((10 - sum % 10) % 10).ok()?);
    let mut s = String::from_utf8(account.to_vec()).ok()?;
    s.push(check);
    Pan::new(&s).ok()
}

fn translate(keys: &Resolved<'_>, p: &PinTranslate) -> Option<(Request, Shape)> {
    let incoming_format = codec::pin_format_from_code(&p.source_format)?;
    let outgoing_format = codec::pin_format_from_code(&p.destination_format)?;
    // ISO 4 carries the whole PAN after `;`; the others the account number.
    let pan = match &p.pan {
        Some(pan) => Pan::new(pan).ok()?,
        None if incoming_format != PinBlockFormat::Iso4
            && outgoing_format != PinBlockFormat::Iso4 =>
        {
            pan_from_account(&p.account)?
        }
        None => return None,
    };
    let request = Request::TranslatePin(TranslatePinRequest {
        incoming_key: PinKey::Key(keys.id(&p.source_key)?),
        incoming_format,
        outgoing_key: keys.id(&p.destination_key)?,
        outgoing_format,
        pan,
        pin_block: EncryptedPinBlock::from_bytes(&p.pin_block).ok()?,
    });
    Some((
        request,
        Shape::Translate {
            max_pin_len: p.max_pin_len,
        },
    ))
}

fn card(keys: &Resolved<'_>, c: &CardValidation) -> Option<(Request, Shape)> {
    let key = match &c.cvk {
        Cvk::Key(k) => keys.id(k)?,
        // CVK A and B as two single keys: the key file names one key each.
        Cvk::Pair(..) => return None,
    };
    let pan = Pan::new(&c.pan).ok()?;
    let expiry = CardExpiry::new(std::str::from_utf8(&c.expiry).ok()?).ok()?;
    let kind =
        CardValidationKind::Cvv(ServiceCode::new(std::str::from_utf8(&c.service_code).ok()?).ok()?);
    Some(match &c.cvv {
        None => (
            Request::GenerateCardValidation(GenerateCardValidationRequest {
                key,
                pan,
                expiry,
                kind,
                length: CvvLength::default(),
            }),
            Shape::Cvv,
        ),
        Some(v) => (
            Request::VerifyCardValidation(VerifyCardValidationRequest {
                key,
                pan,
                expiry,
                kind,
                value: Cvv::from_ascii(&v[..])?,
            }),
            Shape::Verify,
        ),
    })
}

/// PM: the Visa dynamic CVV (scheme 0: PAN sequence number 00) or the
/// Mastercard CVC3 (scheme 1 version 2) to verify. Derivation option A
/// only: the typed request (as AWS's attributes) carries no derivation
/// method, and the crate derives with option A.
fn dynamic(keys: &Resolved<'_>, p: &DynamicCvvVerify) -> Option<(Request, Shape)> {
    if p.derivation != b'A' {
        return None;
    }
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    let (kind, expiry, value) = match &p.fields {
        DynamicFields::Visa {
            expiry,
            service_code,
            atc,
            dcvv,
        } => (
            CardValidationKind::DynamicCvv {
                psn: Psn::new("00").ok()?,
                service_code: ServiceCode::new(&text(service_code)?).ok()?,
                atc: codec::command::atc_from_decimal(atc)?,
            },
            CardExpiry::new(&text(expiry)?).ok()?,
            Cvv::from_ascii(&dcvv[..])?,
        ),
        DynamicFields::Mastercard {
            psn,
            track,
            un,
            atc,
            cvc3,
        } => {
            let skip = cvc3.iter().take_while(|c| **c == b'X').count();
            (
                CardValidationKind::DynamicCvc3 {
                    unpredictable_number: *un,
                    psn: Psn::new(&text(psn)?).ok()?,
                    atc: codec::command::atc_from_decimal(atc)?,
                    track_data: TrackData::new(track).ok()?,
                },
                // Not part of the CVC3 (the track data holds the expiry).
                CardExpiry::new("0000").ok()?,
                Cvv::from_ascii(cvc3.get(skip..)?)?,
            )
        }
    };
    Some((
        Request::VerifyCardValidation(VerifyCardValidationRequest {
            key: keys.id(&p.mk)?,
            pan: Pan::new(&p.pan).ok()?,
            expiry,
            kind,
            value,
        }),
        Shape::Verify,
    ))
}

fn mac(keys: &Resolved<'_>, m: &MacCommand) -> Option<(Request, Shape)> {
    // Mode 0 (one block, no IV) with ISO 9797-1 algorithm 1 or 3: what a
    // variant LMK computes and AWS answers alike.
    if m.mode != b'0' || m.iv.is_some() {
        return None;
    }
    let padding = match m.padding {
        b'0' => Iso9797Padding::None,
        b'1' => Iso9797Padding::Method1,
        b'2' => Iso9797Padding::Method2,
        b'3' => Iso9797Padding::Method3,
        _ => return None,
    };
    let algorithm = match m.algorithm {
        b'1' => MacAlgorithm::Iso9797Alg1(padding),
        b'3' => MacAlgorithm::Iso9797Alg3(padding),
        _ => return None,
    };
    let data = match m.input_format {
        b'1' => decode_hex("message", &m.message).ok()?,
        _ => m.message.to_vec(),
    };
    let len = MacCommand::mac_len(m.mac_size);
    if !matches!(len, 4 | 8) {
        return None;
    }
    let key = keys.id(&m.key)?;
    Some(match &m.mac {
        None => (
            Request::GenerateMac(GenerateMacRequest {
                key,
                algorithm,
                data,
                mac_length: Some(len),
            }),
            Shape::Mac { len },
        ),
        Some(mac) => (
            Request::VerifyMac(VerifyMacRequest {
                key,
                algorithm,
                data,
                mac: mac.clone(),
            }),
            Shape::Verify,
        ),
    })
}

/// The PAN and PSN of a packed 16-digit PAN/PSN field, split as the codec
/// splits it for EMV option A ([`KwPanPsn::unpack16`]: 14 digits, then the
/// PSN). Option A derives from exactly these 16 digits, so the 14-digit
/// "PAN" (left zero-filled for a shorter card number) derives the same ICC
/// master key as the card's own PAN would.
fn pan_psn(packed: &[u8; 8]) -> Option<(Pan, Psn)> {
    let (pan, psn) = KwPanPsn::unpack16(packed).ok()?;
    Some((Pan::new(&pan).ok()?, Psn::new(&psn).ok()?))
}

/// KQ → an ARQC verification: scheme 0 (Visa, no session key) in modes 0
/// and 1 (ARPC method 1 under the ICC master key, as the payShield client
/// and the software reference compute it), scheme 1 (Mastercard session
/// key) in mode 0. Mode 2 (ARPC only) has no typed request, and scheme 1
/// with an ARPC is not modelled (which key KQ scheme 1 encrypts the ARPC
/// under has no public source, see [`codec::kq`]): both pass through.
///
/// KQ zero-pads data that is not a multiple of 8 bytes (the codec's KQ
/// notes): that is ISO 9797-1 padding method 1 on the typed request.
fn kq(keys: &Resolved<'_>, q: &KqRequest) -> Option<(Request, Shape)> {
    let data = q.data.clone()?;
    let (session, arpc) = match (q.scheme, q.arc) {
        (KqScheme::Visa, arc) => (
            SessionKeyDerivation::Visa,
            arc.map(|arc| ArpcMethod::Method1 { arc }),
        ),
        (KqScheme::Mastercard, None) => (
            SessionKeyDerivation::Mastercard {
                atc: q.atc,
                unpredictable_number: q.un,
            },
            None,
        ),
        (KqScheme::Mastercard, Some(_)) => return None,
    };
    let (pan, psn) = pan_psn(&q.pan_psn)?;
    Some((
        Request::VerifyArqc(VerifyArqcRequest {
            key: keys.id(&q.mk)?,
            mk_derivation: MkDerivation::OptionA,
            session,
            pan,
            psn,
            transaction_data: data,
            padding: Iso9797Padding::Method1,
            arqc: q.arqc,
            arpc,
        }),
        Shape::Kq,
    ))
}

/// KW → an ARQC verification with the EMV common session key: scheme 2
/// (option A, packed PAN/PSN) and 3 (option B, whole PAN), modes 0, 1 and
/// 3 (verify, then ARPC method 1 or 2). Modes 2 and 4 (ARPC only) have no
/// typed request and pass through. Data padding as for KQ.
fn kw(keys: &Resolved<'_>, w: &KwRequest) -> Option<(Request, Shape)> {
    let mode = w.mode().ok()?;
    let data = w.data.clone()?;
    let (mk_derivation, pan, psn) = match (&w.scheme, &w.pan_psn) {
        (KwScheme::CommonOptionA, KwPanPsn::Packed16(p)) => {
            let (pan, psn) = pan_psn(p)?;
            (MkDerivation::OptionA, pan, psn)
        }
        (KwScheme::CommonOptionB, KwPanPsn::Full { pan, psn }) => (
            MkDerivation::OptionB,
            Pan::new(pan).ok()?,
            Psn::new(std::str::from_utf8(psn).ok()?).ok()?,
        ),
        _ => return None,
    };
    let arpc = match &w.arpc {
        KwArpc::None => None,
        KwArpc::Method1 { arc } => Some(ArpcMethod::Method1 { arc: *arc }),
        KwArpc::Method2 { csu, proprietary } => Some(ArpcMethod::Method2 {
            csu: *csu,
            proprietary_data: ProprietaryAuthData::new(proprietary).ok()?,
        }),
    };
    Some((
        Request::VerifyArqc(VerifyArqcRequest {
            key: keys.id(&w.mk)?,
            mk_derivation,
            session: SessionKeyDerivation::EmvCommon { atc: w.atc },
            pan,
            psn,
            transaction_data: data,
            padding: Iso9797Padding::Method1,
            arqc: w.arqc,
            arpc,
        }),
        Shape::Kw(mode),
    ))
}

/// EC / DC (verify a PIN under a ZPK / TPK by its Visa PVV, one
/// double-length PVK) → a PIN verification. The PAN is rebuilt from the 12-digit account
/// field as for CA/CC: the PVV's transformed security parameter takes the
/// 11 PAN digits before the check digit, all of which the field holds, and
/// ISO formats 0 and 3 bind to the same 12 digits.
fn pvv_verify(keys: &Resolved<'_>, v: &PvvVerify) -> Option<(Request, Shape)> {
    let KeyOrPair::Key(pvk) = &v.pvk else {
        return None;
    };
    let format = codec::pin_format_from_code(&v.format)?;
    if format == PinBlockFormat::Iso4 {
        return None;
    }
    let request = Request::VerifyPinData(VerifyPinDataRequest {
        verification_key: keys.id(pvk)?,
        pin_key: PinKey::Key(keys.id(&v.pin_key)?),
        format,
        pan: pan_from_account(&v.account)?,
        pin_block: EncryptedPinBlock::from_bytes(&v.pin_block).ok()?,
        method: PinVerification::VisaPvv {
            pvki: Pvki::new(v.pvki.checked_sub(b'0')?).ok()?,
            pvv: Pvv::new(std::str::from_utf8(&v.pvv[..]).ok()?).ok()?,
        },
        pin_length: None,
    });
    Some((request, Shape::Verify))
}

/// EA / DA (verify a PIN under a ZPK / TPK by its IBM 3624 offset) → a
/// PIN verification, when the typed request says the same thing: a plaintext
/// decimalisation table (an encrypted one passes through), maximum PIN
/// length 12 (the typed request has no maximum), and an offset as long as
/// the check length (the typed offset's length is its check length). The
/// validation data is the field's with the account digits in place of its
/// `N` ([`IbmData::validation_data`](crate::payshield::codec::command::IbmData::validation_data),
/// as the simulator reads it).
fn ibm_verify(keys: &Resolved<'_>, v: &IbmVerify) -> Option<(Request, Shape)> {
    let format = codec::pin_format_from_code(&v.format)?;
    if format == PinBlockFormat::Iso4 || v.max_pin_len != 12 {
        return None;
    }
    let table = &v.data.table[..];
    if !table.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let decimalization_table = DecimalizationTable::new(std::str::from_utf8(table).ok()?).ok()?;
    let (validation_data, pad) = v.data.validation_data().ok()?;
    let offset = offset_from_field(&v.offset).ok()?;
    if offset.len() != usize::from(v.data.check_length) {
        return None;
    }
    let request = Request::VerifyPinData(VerifyPinDataRequest {
        verification_key: keys.id(&v.pvk)?,
        pin_key: PinKey::Key(keys.id(&v.pin_key)?),
        format,
        pan: pan_from_account(&v.data.account)?,
        pin_block: EncryptedPinBlock::from_bytes(&v.pin_block).ok()?,
        method: PinVerification::Ibm3624 {
            ibm: Ibm3624 {
                decimalization_table,
                validation_data,
                pad,
            },
            offset,
        },
        pin_length: None,
    });
    let long_pvk = v.pvk.bytes.len() > 8;
    Some((request, Shape::VerifyIbm { long_pvk }))
}

/// M0 / M2 in ECB mode (`00`) under a data key, input and output binary
/// (`0`) or hex (`1`) → data encryption / decryption. CBC and the other
/// modes pass through: where a payShield puts the chaining IV in the
/// M1 / M3 reply has no public source (see [`DataReply`]), so the proxy
/// could not write the candidate's answer after a failover.
fn data(keys: &Resolved<'_>, d: &DataCipher, encrypt: bool) -> Option<(Request, Shape)> {
    if &d.mode != b"00" || d.iv.is_some() || d.ksn.is_some() {
        return None;
    }
    let input = match d.input_format {
        b'0' => d.message.to_vec(),
        b'1' => decode_hex("message", &d.message).ok()?,
        _ => return None,
    };
    let hex = match d.output_format {
        b'0' => false,
        b'1' => true,
        _ => return None,
    };
    let key = DataKey::Key(keys.id(&d.key)?);
    let request = if encrypt {
        Request::EncryptData(EncryptDataRequest {
            key,
            mode: CipherMode::Ecb,
            plaintext: SecretBytes::new(input),
        })
    } else {
        Request::DecryptData(DecryptDataRequest {
            key,
            mode: CipherMode::Ecb,
            ciphertext: input,
        })
    };
    Some((request, Shape::Data { hex }))
}

/// The keys a command the proxy models carries, with the key type each
/// field holds (what BU needs to check a key under a variant LMK): the
/// references [`KeyMap::resolve`] may have to look up by KCV.
pub(super) fn key_refs(command: &Command) -> Vec<KeyRef<'_>> {
    use KeyRef as K;
    match command {
        Command::Ca(p) => vec![
            K::new(KeyType::TPK, &p.source_key),
            K::new(KeyType::ZPK, &p.destination_key),
        ],
        Command::Cc(p) => vec![
            K::new(KeyType::ZPK, &p.source_key),
            K::new(KeyType::ZPK, &p.destination_key),
        ],
        Command::Cw(c) | Command::Cy(c) => match &c.cvk {
            KeyOrPair::Key(k) => vec![K::new(KeyType::CVK, k)],
            KeyOrPair::Pair(..) => Vec::new(),
        },
        Command::M6(m) | Command::M8(m) => vec![K::new(m.key_type, &m.key)],
        Command::M0(d) | Command::M2(d) => vec![K::new(d.key_type, &d.key)],
        // An MK-AC (109) holds an ARQC master key (E0) or a Visa dCVV one
        // (E6): the usage picks when one clear key is both.
        Command::Kq(q) => vec![K::used_for(
            KeyType::MK_AC,
            &q.mk,
            KeyUsage::EmvAppCryptogram,
        )],
        Command::Kw(w) => vec![K::used_for(
            KeyType::MK_AC,
            &w.mk,
            KeyUsage::EmvAppCryptogram,
        )],
        // PM: the Visa dCVV master key is an MK-AC (109), the Mastercard
        // CVC3 one an MK-CVC3 (709), as the simulator holds them.
        Command::Pm(p) => vec![match p.fields {
            DynamicFields::Visa { .. } => K::used_for(KeyType::MK_AC, &p.mk, KeyUsage::EmvOther),
            DynamicFields::Mastercard { .. } => {
                K::used_for(KeyType::MK_CVC3, &p.mk, KeyUsage::EmvDynamicNumbers)
            }
        }],
        // A PVK has the TPK's LMK pair and code (002); one clear key may
        // be a key table's IBM and Visa PVK both: the usage picks.
        Command::Pin(c @ (PinCommand::Ea(v) | PinCommand::Da(v))) => vec![
            K::new(pin_key_type(c), &v.pin_key),
            K::used_for(KeyType::TPK, &v.pvk, KeyUsage::PinVerificationIbm3624),
        ],
        Command::Pin(c @ (PinCommand::Ec(v) | PinCommand::Dc(v))) => match &v.pvk {
            KeyOrPair::Key(k) => vec![
                K::new(pin_key_type(c), &v.pin_key),
                K::used_for(KeyType::TPK, k, KeyUsage::PinVerificationVisaPvv),
            ],
            KeyOrPair::Pair(..) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The PIN key's type of an issuer PIN verification: a TPK for DA / DC,
/// a ZPK for EA / EC.
fn pin_key_type(c: &PinCommand) -> KeyType {
    match c {
        PinCommand::Da(_) | PinCommand::Dc(_) => KeyType::TPK,
        _ => KeyType::ZPK,
    }
}

/// The typed request for a parsed host command, when the proxy models the
/// command and every key it carries resolved; `None` passes the
/// command through to the primary unchanged.
pub(super) fn to_request(keys: &Resolved<'_>, command: &Command) -> Option<(Request, Shape)> {
    match command {
        Command::Ca(p) | Command::Cc(p) => translate(keys, p),
        Command::Cw(c) | Command::Cy(c) => card(keys, c),
        Command::Pm(p) => dynamic(keys, p),
        Command::M6(m) | Command::M8(m) => mac(keys, m),
        Command::Kq(q) => kq(keys, q),
        Command::Kw(w) => kw(keys, w),
        // Under a TPK (DA, DC) or a ZPK (EA, EC): the typed request names
        // the PIN key alone, whatever its payShield type.
        Command::Pin(PinCommand::Ec(v) | PinCommand::Dc(v)) => pvv_verify(keys, v),
        Command::Pin(PinCommand::Ea(v) | PinCommand::Da(v)) => ibm_verify(keys, v),
        Command::M0(d) => data(keys, d, true),
        Command::M2(d) => data(keys, d, false),
        _ => None,
    }
}

fn protocol(what: &'static str) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

fn kcv(keys: &KeyMap, id: &KeyId) -> Result<crate::types::Kcv> {
    keys.kcv(id).ok_or_else(|| {
        Error::new(
            ErrorKind::KeyNotFound,
            format!("no key check value known for {id}"),
        )
    })
}

fn data_kcv(table: &KeyMap, key: &DataKey) -> Result<crate::types::Kcv> {
    match key {
        DataKey::Key(id) => kcv(table, id),
        DataKey::Dukpt { .. } => Err(Error::unsupported("not a command the proxy models")),
    }
}

/// The typed answer in the primary's raw reply to `request` (error `00`,
/// or `01` for a verification that failed); another error code is an
/// error of the kind the payShield client gives it. `shape` is the
/// command's (for the output format of M1 / M3).
pub(super) fn from_raw(
    table: &KeyMap,
    request: &Request,
    shape: Shape,
    raw: &RawResponse,
) -> Result<Response> {
    let verify = matches!(
        request,
        Request::VerifyCardValidation(_)
            | Request::VerifyMac(_)
            | Request::VerifyArqc(_)
            | Request::VerifyPinData(_)
    );
    let data_out = |body: &[u8]| -> Result<Vec<u8>> {
        let d = codec::parse_data(body, false)
            .map_err(|_| protocol("malformed payShield response: M1/M3"))?;
        match shape {
            Shape::Data { hex: true } => decode_hex("message", &d)
                .map_err(|_| protocol("malformed payShield response: M1/M3")),
            _ => Ok(d),
        }
    };
    // The IBM commands answer `02` for a verified PIN under a
    // single-length PVK (a warning; the payShield client reads it so).
    let ibm = matches!(
        request,
        Request::VerifyPinData(VerifyPinDataRequest {
            method: PinVerification::Ibm3624 { .. },
            ..
        })
    );
    let verification = match &raw.error {
        b"00" => Verification::Verified,
        b"02" if ibm => Verification::Verified,
        b"01" if verify => Verification::Failed,
        _ => return Err(crate::payshield::error_for_code(raw.error)),
    };
    Ok(match request {
        Request::TranslatePin(r) => {
            let t = codec::reply::parse_pin_translation_n(&raw.body, r.outgoing_format.block_len())
                .map_err(|_| protocol("malformed payShield response: PIN translation"))?;
            Response::TranslatePin(TranslatePinResponse {
                pin_block: EncryptedPinBlock::from_bytes(&t.pin_block)?,
                format: r.outgoing_format,
                key_check_value: kcv(table, &r.outgoing_key)?,
            })
        }
        Request::GenerateCardValidation(r) => {
            let v = codec::parse_cx(&raw.body)
                .map_err(|_| protocol("malformed payShield response: CX"))?;
            Response::GenerateCardValidation(GenerateCardValidationResponse {
                value: Cvv::from_ascii(&v)
                    .ok_or_else(|| protocol("malformed payShield response: CX"))?,
                key_check_value: kcv(table, &r.key)?,
            })
        }
        Request::VerifyCardValidation(_) => {
            Response::VerifyCardValidation(VerifyResponse { verification })
        }
        Request::GenerateMac(r) => {
            let mac = codec::parse_mac(&raw.body, r.mac_length.unwrap_or(8))
                .map_err(|_| protocol("malformed payShield response: M7"))?;
            Response::GenerateMac(GenerateMacResponse {
                mac,
                key_check_value: kcv(table, &r.key)?,
            })
        }
        Request::VerifyMac(_) => Response::VerifyMac(VerifyResponse { verification }),
        Request::VerifyPinData(_) => Response::VerifyPinData(VerifyResponse { verification }),
        Request::EncryptData(r) => Response::EncryptData(EncryptDataResponse {
            ciphertext: data_out(&raw.body)?,
            key_check_value: data_kcv(table, &r.key)?,
        }),
        Request::DecryptData(r) => Response::DecryptData(DecryptDataResponse {
            plaintext: SecretBytes::new(data_out(&raw.body)?),
            key_check_value: data_kcv(table, &r.key)?,
        }),
        Request::VerifyArqc(r) => {
            // KR and KX carry the ARPC the same way: binary, right after
            // the error code, 8 bytes (method 1) or 4 (method 2, KX only).
            let mode = match &r.arpc {
                None => KwMode::Verify,
                Some(ArpcMethod::Method1 { .. }) => KwMode::VerifyArpc1,
                Some(ArpcMethod::Method2 { .. }) => KwMode::VerifyArpc2,
            };
            let arpc = match verification {
                Verification::Verified => codec::kw::parse_kx(&raw.body, mode)
                    .map_err(|_| protocol("malformed payShield response: KR/KX"))?,
                Verification::Failed => None,
            };
            Response::VerifyArqc(VerifyArqcResponse { verification, arpc })
        }
        _ => return Err(Error::unsupported("not a command the proxy models")),
    })
}

/// Writes the reply fields (error code and body, after the response code)
/// for a typed answer; `None` when the answer does not fit the command.
///
/// A CB/CD reply carries the PIN's length, which no typed answer (and no
/// AWS answer) holds: after a failover the proxy writes the request's
/// maximum PIN length there. **Differs from a payShield**, which writes the
/// PIN's own length; the PIN block and format are exact.
pub(super) fn encode(shape: Shape, response: &Response, out: &mut Vec<u8>) -> Option<()> {
    match (shape, response) {
        (Shape::Translate { max_pin_len }, Response::TranslatePin(t)) => {
            out.extend_from_slice(b"00");
            let code = codec::pin_format_code(t.format)?;
            encode_pin_translation(
                out,
                &PinTranslation {
                    pin_len: max_pin_len.clamp(4, 12),
                    pin_block: t.pin_block.as_bytes().to_vec(),
                    format: *code,
                },
            )
            .ok()
        }
        (Shape::Cvv, Response::GenerateCardValidation(c)) => {
            out.extend_from_slice(b"00");
            out.extend_from_slice(c.value.expose().as_bytes());
            Some(())
        }
        (Shape::Data { hex }, Response::EncryptData(_) | Response::DecryptData(_)) => {
            let bytes = match response {
                Response::EncryptData(e) => e.ciphertext.as_slice(),
                Response::DecryptData(d) => d.plaintext.expose(),
                _ => return None,
            };
            let mut reply = DataReply {
                iv: None,
                data: Vec::with_capacity(bytes.len() * 2),
            };
            if hex {
                push_hex(&mut reply.data, bytes);
            } else {
                reply.data.extend_from_slice(bytes);
            }
            out.extend_from_slice(b"00");
            let written = encode_data(out, &reply).ok();
            // The output field of a decryption is the plaintext: wiped.
            zeroize::Zeroize::zeroize(&mut reply.data);
            written
        }
        (Shape::VerifyIbm { long_pvk }, Response::VerifyPinData(v)) => {
            out.extend_from_slice(match (v.verification, long_pvk) {
                (Verification::Verified, true) => b"02",
                (Verification::Verified, false) => b"00",
                (Verification::Failed, _) => b"01",
            });
            Some(())
        }
        (
            Shape::Verify,
            Response::VerifyCardValidation(v) | Response::VerifyMac(v) | Response::VerifyPinData(v),
        ) => {
            out.extend_from_slice(match v.verification {
                Verification::Verified => b"00",
                Verification::Failed => b"01",
            });
            Some(())
        }
        (Shape::Kq | Shape::Kw(_), Response::VerifyArqc(v))
            if v.verification == Verification::Failed =>
        {
            out.extend_from_slice(b"01");
            Some(())
        }
        (Shape::Kq, Response::VerifyArqc(v)) => {
            out.extend_from_slice(b"00");
            match &v.arpc {
                None => encode_kr(out, None),
                Some(a) => encode_kr(out, Some(&<[u8; 8]>::try_from(a.as_slice()).ok()?)),
            }
            Some(())
        }
        (Shape::Kw(mode), Response::VerifyArqc(v)) => {
            out.extend_from_slice(b"00");
            encode_kx(out, mode, v.arpc.as_deref()).ok()
        }
        (Shape::Mac { len }, Response::GenerateMac(m)) if m.mac.len() >= len => {
            out.extend_from_slice(b"00");
            push_hex(out, m.mac.get(..len)?);
            Some(())
        }
        _ => None,
    }
}

//! Data plane (restJson1): each operation parses the service's JSON into the
//! crate's typed request, runs it on the software reference backend (which
//! enforces key usage and modes of use), and answers in the service's shape.

use super::api::{hex_up, ApiError, ApiResult, Obj};
use super::state::KeyRecord;
use super::Inner;
use crate::algo::dukpt::Ksn;
use crate::algo::mac::Padding;
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::backend::Backend;
use crate::ops::*;
use crate::types::{
    CardExpiry, CvvLength, KeyAlgorithm, Pan, Psn, SecretBytes, ServiceCode, TrackData,
    Verification,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// A data-plane route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    TranslatePin,
    Encrypt(String),
    Decrypt(String),
    GenerateCv,
    VerifyCv,
    VerifyArqc,
    GenerateArqc,
    /// A real data-plane operation the emulator does not implement.
    Unsupported(&'static str),
}

impl Route {
    /// The operation's name in the AWS service model (botocore
    /// `payment-cryptography-data` `service-2.json`), for metrics.
    pub(crate) fn operation_name(&self) -> &'static str {
        match self {
            Self::TranslatePin => "TranslatePinData",
            Self::Encrypt(_) => "EncryptData",
            Self::Decrypt(_) => "DecryptData",
            Self::GenerateCv => "GenerateCardValidationData",
            Self::VerifyCv => "VerifyCardValidationData",
            Self::VerifyArqc => "VerifyAuthRequestCryptogram",
            // In the Rust SDK's model (see `route`).
            Self::GenerateArqc => "GenerateAuthRequestCryptogram",
            Self::Unsupported(name) => name,
        }
    }
}

/// Maps a restJson1 path to its operation; `None` for unknown paths.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        ["pindata", "translate"] => Route::TranslatePin,
        ["keys", id, "encrypt"] => Route::Encrypt(percent_decode(id)?),
        ["keys", id, "decrypt"] => Route::Decrypt(percent_decode(id)?),
        ["cardvalidationdata", "generate"] => Route::GenerateCv,
        ["cardvalidationdata", "verify"] => Route::VerifyCv,
        ["cryptogram", "verify"] => Route::VerifyArqc,
        // In the model the Rust SDK 1.129.0 is generated from; not in
        // botocore 1.43.11's (see `generate_arqc`).
        ["cryptogram", "generate"] => Route::GenerateArqc,
        ["as2805kekvalidation", "generate"] => Route::Unsupported("GenerateAs2805KekValidation"),
        _ => return None,
    })
}

pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(h).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Runs one data-plane operation.
pub(crate) async fn dispatch(inner: &Inner, route: Route, body: &Value) -> ApiResult<Value> {
    let o = Obj::root(body)?;
    match route {
        Route::TranslatePin => translate_pin(inner, o).await,
        Route::Encrypt(id) => crypt(inner, o, &id, true).await,
        Route::Decrypt(id) => crypt(inner, o, &id, false).await,
        Route::GenerateCv => card_validation(inner, o, true).await,
        Route::VerifyCv => card_validation(inner, o, false).await,
        Route::VerifyArqc => verify_arqc(inner, o).await,
        Route::GenerateArqc => generate_arqc(inner, o).await,
        Route::Unsupported(op) => Err(ApiError::unsupported(op)),
    }
}

pub(super) fn key(inner: &Inner, ident: &str) -> ApiResult<Arc<KeyRecord>> {
    if ident.len() < 7 || ident.len() > 322 {
        return Err(ApiError::field(
            "KeyIdentifier",
            "length must be between 7 and 322",
        ));
    }
    let k = inner.read().resolve(ident)?;
    k.check_usable()?;
    Ok(k)
}

pub(super) async fn run(inner: &Inner, req: Request) -> ApiResult<Response> {
    inner.soft().execute(req).await.map_err(ApiError::from)
}

pub(super) fn pan(o: Obj<'_>, key: &str) -> ApiResult<Pan> {
    let s = o.digits(key, 12, 19)?;
    Pan::new(s).map_err(|_| ApiError::field(&o.field_name(key), "is not a valid PAN"))
}

pub(super) fn dukpt_attrs(o: Obj<'_>, bdk: &KeyRecord) -> ApiResult<Dukpt> {
    let ksn_s = o.str_len("KeySerialNumber", 16, 24)?;
    let ksn = Ksn::parse_hex(ksn_s)
        .map_err(|e| ApiError::field(&o.field_name("KeySerialNumber"), e.reason))?;
    let key_type = match o.opt_str("DukptKeyDerivationType")? {
        Some(s) => KeyAlgorithm::from_aws_name(s)
            .filter(|a| a.is_tdes() || a.is_aes())
            .ok_or_else(|| {
                ApiError::field(
                    &o.field_name("DukptKeyDerivationType"),
                    "is not a valid value",
                )
            })?,
        None => {
            let bdk_alg = bdk.attributes()?.algorithm;
            if bdk_alg.is_aes() {
                bdk_alg
            } else {
                KeyAlgorithm::Tdes2
            }
        }
    };
    Ok(Dukpt {
        bdk: bdk.soft_id()?,
        ksn,
        key_type,
    })
}

pub(super) fn variant(o: Obj<'_>) -> ApiResult<DukptVariant> {
    Ok(match o.opt_str("DukptKeyVariant")? {
        None | Some("BIDIRECTIONAL") => DukptVariant::Bidirectional,
        Some("REQUEST") => DukptVariant::Request,
        Some("RESPONSE") => DukptVariant::Response,
        Some(_) => {
            return Err(ApiError::field(
                &o.field_name("DukptKeyVariant"),
                "is not a valid value",
            ))
        }
    })
}

fn pin_format<'a>(
    o: Obj<'a>,
    key: &str,
    scratch: &'a mut String,
) -> ApiResult<(PinBlockFormat, Option<Pan>)> {
    let (member, f) = o.union(key, scratch)?;
    let fmt = match member {
        "IsoFormat0" => PinBlockFormat::Iso0,
        "IsoFormat1" => PinBlockFormat::Iso1,
        "IsoFormat3" => PinBlockFormat::Iso3,
        "IsoFormat4" => PinBlockFormat::Iso4,
        other => return Err(ApiError::unsupported_member(key, other)),
    };
    let p = if fmt == PinBlockFormat::Iso1 {
        None
    } else {
        Some(pan(f, "PrimaryAccountNumber")?)
    };
    Ok((fmt, p))
}

async fn translate_pin(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    for unsupported in [
        "OutgoingDukptAttributes",
        "IncomingWrappedKey",
        "OutgoingWrappedKey",
        "IncomingAs2805Attributes",
    ] {
        if o.has(unsupported) {
            return Err(ApiError::unsupported(unsupported));
        }
    }
    let (mut s1, mut s2) = (String::new(), String::new());
    let (in_fmt, in_pan) = pin_format(o, "IncomingTranslationAttributes", &mut s1)?;
    let (out_fmt, out_pan) = pin_format(o, "OutgoingTranslationAttributes", &mut s2)?;
    let block = o.hex("EncryptedPinBlock", 16, 32)?;
    let pin_block = EncryptedPinBlock::from_bytes(&block)
        .map_err(|e| ApiError::field("EncryptedPinBlock", e.reason))?;
    let pan = match (in_pan, out_pan) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::validation(
                "the incoming and outgoing PANs must be the same",
            ))
        }
        (Some(a), _) | (None, Some(a)) => a,
        // Neither format binds a PAN (ISO 1 to ISO 1): the value is unused.
        (None, None) => Pan::new("000000000000").map_err(ApiError::from)?,
    };
    let incoming = key(inner, o.str("IncomingKeyIdentifier")?)?;
    let outgoing = key(inner, o.str("OutgoingKeyIdentifier")?)?;
    let mut s3 = String::new();
    let incoming_key = match o.opt_obj("IncomingDukptAttributes", &mut s3)? {
        Some(d) => PinKey::Dukpt(dukpt_attrs(d, &incoming)?),
        None => PinKey::Key(incoming.soft_id()?),
    };
    let req = TranslatePinRequest {
        incoming_key,
        incoming_format: in_fmt,
        outgoing_key: outgoing.soft_id()?,
        outgoing_format: out_fmt,
        pan,
        pin_block,
    };
    match run(inner, Request::TranslatePin(req)).await? {
        Response::TranslatePin(r) => Ok(json!({
            "PinBlock": hex_up(r.pin_block.as_bytes()),
            "KeyArn": outgoing.arn,
            "KeyCheckValue": outgoing.kcv,
        })),
        _ => Err(ApiError::internal("unexpected response")),
    }
}

pub(super) fn block_len(alg: KeyAlgorithm) -> usize {
    if alg.is_aes() {
        16
    } else {
        8
    }
}

pub(super) fn mode(o: Obj<'_>, block: usize) -> ApiResult<CipherMode> {
    let iv = o.opt_hex("InitializationVector", 16, 32)?;
    match o.opt_str("Mode")?.unwrap_or("ECB") {
        "ECB" => Ok(CipherMode::Ecb),
        // An IV of the wrong length for the key is refused by the reference
        // after its key-usage check, as every backend orders them (AWS does
        // not publish which it checks first; found by `differential_aws`).
        "CBC" => Ok(CipherMode::Cbc {
            iv: iv.unwrap_or_else(|| vec![0u8; block]),
        }),
        m @ ("CFB" | "CFB1" | "CFB8" | "CFB64" | "CFB128" | "OFB") => {
            Err(ApiError::unsupported(&format!("Mode {m}")))
        }
        _ => Err(ApiError::field(
            &o.field_name("Mode"),
            "is not a valid value",
        )),
    }
}

async fn crypt(inner: &Inner, o: Obj<'_>, ident: &str, encrypt: bool) -> ApiResult<Value> {
    if o.has("WrappedKey") {
        return Err(ApiError::unsupported("WrappedKey"));
    }
    let (attr_field, data_field) = if encrypt {
        ("EncryptionAttributes", "PlainText")
    } else {
        ("DecryptionAttributes", "CipherText")
    };
    let data = o.hex(data_field, 2, if encrypt { 4096 } else { 4224 })?;
    let k = key(inner, ident)?;
    let mut s = String::new();
    let (member, a) = o.union(attr_field, &mut s)?;
    let (data_key, cipher_mode) = match member {
        "Symmetric" => {
            if a.has("PaddingType") {
                return Err(ApiError::unsupported("PaddingType with a symmetric key"));
            }
            let block = block_len(k.attributes()?.algorithm);
            (DataKey::Key(k.soft_id()?), mode(a, block)?)
        }
        "Dukpt" => {
            let d = dukpt_attrs(a, &k)?;
            let block = block_len(d.key_type);
            let v = variant(a)?;
            (
                DataKey::Dukpt {
                    dukpt: d,
                    variant: v,
                },
                mode(a, block)?,
            )
        }
        other => return Err(ApiError::unsupported_member(attr_field, other)),
    };
    if encrypt {
        let req = EncryptDataRequest {
            key: data_key,
            mode: cipher_mode,
            plaintext: SecretBytes::new(data),
        };
        match run(inner, Request::EncryptData(req)).await? {
            Response::EncryptData(r) => Ok(json!({
                "KeyArn": k.arn, "KeyCheckValue": k.kcv, "CipherText": hex_up(&r.ciphertext),
            })),
            _ => Err(ApiError::internal("unexpected response")),
        }
    } else {
        let req = DecryptDataRequest {
            key: data_key,
            mode: cipher_mode,
            ciphertext: data,
        };
        match run(inner, Request::DecryptData(req)).await? {
            Response::DecryptData(r) => Ok(json!({
                "KeyArn": k.arn, "KeyCheckValue": k.kcv, "PlainText": hex_up(r.plaintext.expose()),
            })),
            _ => Err(ApiError::internal("unexpected response")),
        }
    }
}

/// A hex field of `min..=max` digits (botocore `HexLengthBetween2And4`,
/// `HexLengthBetween2And8`) as `N` bytes, left-padded with zeros: the model
/// allows short and odd-length values, which the emulator reads as the
/// same number (an assumption: the service documents no padding rule).
fn padded_hex<const N: usize>(o: Obj<'_>, key: &str, min: usize, max: usize) -> ApiResult<[u8; N]> {
    let s = o.str_len(key, min, max)?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) || s.len() > 2 * N {
        return Err(ApiError::field(&o.field_name(key), "must be hexadecimal"));
    }
    let full = format!("{s:0>width$}", width = 2 * N);
    let v = hex::decode(full)
        .map_err(|_| ApiError::field(&o.field_name(key), "must be hexadecimal"))?;
    v.try_into()
        .map_err(|_| ApiError::field(&o.field_name(key), "has the wrong length"))
}

/// The expiry the software reference is given for the kinds whose data has
/// none (`CardHolderVerificationValue`, `DynamicCardVerificationCode`): it
/// does not use it ([`CardValidationKind::uses_expiry`]).
const UNUSED_EXPIRY: &str = "0000";

/// A `CardGenerationAttributes` / `CardVerificationAttributes` member with
/// the attributes the botocore model gives it (`payment-cryptography-data`
/// 2022-02-03), as the crate's kind and the expiry.
fn card_kind(
    member: &str,
    a: Obj<'_>,
    attr_field: &str,
) -> ApiResult<(CardValidationKind, CardExpiry)> {
    let expiry = |a: Obj<'_>| -> ApiResult<CardExpiry> {
        let e = a.digits("CardExpiryDate", 4, 4)?;
        CardExpiry::new(e).map_err(ApiError::from)
    };
    let service_code = |a: Obj<'_>| -> ApiResult<ServiceCode> {
        ServiceCode::new(a.digits("ServiceCode", 3, 3)?).map_err(ApiError::from)
    };
    let psn = |a: Obj<'_>| -> ApiResult<Psn> {
        Psn::new(a.digits("PanSequenceNumber", 2, 2)?).map_err(ApiError::from)
    };
    let un = |a: Obj<'_>| padded_hex::<4>(a, "UnpredictableNumber", 2, 8);
    let atc = |a: Obj<'_>| padded_hex::<2>(a, "ApplicationTransactionCounter", 2, 4);
    let unused = || CardExpiry::new(UNUSED_EXPIRY).map_err(ApiError::from);
    Ok(match member {
        "CardVerificationValue1" => (CardValidationKind::Cvv(service_code(a)?), expiry(a)?),
        "CardVerificationValue2" => (CardValidationKind::Cvv2, expiry(a)?),
        "AmexCardSecurityCodeVersion1" => (CardValidationKind::AmexCscV1, expiry(a)?),
        "AmexCardSecurityCodeVersion2" => {
            (CardValidationKind::AmexCscV2(service_code(a)?), expiry(a)?)
        }
        "CardHolderVerificationValue" => (
            CardValidationKind::CardholderVerificationValue {
                unpredictable_number: un(a)?,
                psn: psn(a)?,
                atc: atc(a)?,
            },
            unused()?,
        ),
        "DynamicCardVerificationCode" => {
            let track = a.hex("TrackData", 2, 160)?;
            (
                CardValidationKind::DynamicCvc3 {
                    unpredictable_number: un(a)?,
                    psn: psn(a)?,
                    atc: atc(a)?,
                    track_data: TrackData::new(&track).map_err(ApiError::from)?,
                },
                unused()?,
            )
        }
        "DynamicCardVerificationValue" => (
            CardValidationKind::DynamicCvv {
                psn: psn(a)?,
                service_code: service_code(a)?,
                atc: atc(a)?,
            },
            expiry(a)?,
        ),
        // A verification member only (CardGenerationAttributes has none).
        "DiscoverDynamicCardVerificationCode" if attr_field == "VerificationAttributes" => (
            CardValidationKind::DiscoverDynamicCvc {
                unpredictable_number: un(a)?,
                atc: atc(a)?,
            },
            expiry(a)?,
        ),
        other => {
            return Err(ApiError::field(
                attr_field,
                format!(
                    "{} is not a member of this union",
                    if super::api::echo_safe(other) {
                        other
                    } else {
                        "this value"
                    }
                ),
            ))
        }
    })
}

async fn card_validation(inner: &Inner, o: Obj<'_>, generate: bool) -> ApiResult<Value> {
    let attr_field = if generate {
        "GenerationAttributes"
    } else {
        "VerificationAttributes"
    };
    let mut s = String::new();
    let (member, a) = o.union(attr_field, &mut s)?;
    let (kind, expiry) = card_kind(member, a, attr_field)?;
    // Kinds with no public algorithm (Amex CSC, the cardholder verification
    // value, Discover dCVC) are not computed by the software reference: the
    // emulator says so before looking at the key, as for any variant it
    // does not implement.
    let caps = inner.soft().capabilities();
    let known = if generate {
        &caps.card_validation_generate
    } else {
        &caps.card_validation_verify
    };
    if !known.contains(&kind.kind_type()) {
        return Err(ApiError::unsupported_member(attr_field, member));
    }
    let k = key(inner, o.str("KeyIdentifier")?)?;
    let pan = pan(o, "PrimaryAccountNumber")?;
    if generate {
        let length = match o.opt_int("ValidationDataLength", 3, 5)? {
            Some(n) => CvvLength::new(n as u8).map_err(ApiError::from)?,
            None => CvvLength::THREE,
        };
        let req = GenerateCardValidationRequest {
            key: k.soft_id()?,
            pan,
            expiry,
            kind,
            length,
        };
        match run(inner, Request::GenerateCardValidation(req)).await? {
            Response::GenerateCardValidation(r) => Ok(json!({
                "KeyArn": k.arn, "KeyCheckValue": k.kcv, "ValidationData": r.value.expose(),
            })),
            _ => Err(ApiError::internal("unexpected response")),
        }
    } else {
        let value = crate::Cvv::new(o.digits("ValidationData", 3, 5)?).map_err(ApiError::from)?;
        let req = VerifyCardValidationRequest {
            key: k.soft_id()?,
            pan,
            expiry,
            kind,
            value,
        };
        match run(inner, Request::VerifyCardValidation(req)).await? {
            Response::VerifyCardValidation(r) if r.verification == Verification::Verified => {
                Ok(json!({ "KeyArn": k.arn, "KeyCheckValue": k.kcv }))
            }
            Response::VerifyCardValidation(_) => Err(ApiError::verification_failed(
                "INVALID_VALIDATION_DATA",
                "Card validation data verification failed",
            )),
            _ => Err(ApiError::internal("unexpected response")),
        }
    }
}

fn fixed<const N: usize>(o: Obj<'_>, key: &str) -> ApiResult<[u8; N]> {
    let v = o.hex(key, 2 * N, 2 * N)?;
    v.try_into()
        .map_err(|_| ApiError::field(&o.field_name(key), "has the wrong length"))
}

fn mk_mode(o: Obj<'_>) -> ApiResult<MkDerivation> {
    match o.str("MajorKeyDerivationMode")? {
        "EMV_OPTION_A" => Ok(MkDerivation::OptionA),
        "EMV_OPTION_B" => Ok(MkDerivation::OptionB),
        _ => Err(ApiError::field(
            "MajorKeyDerivationMode",
            "is not a valid value",
        )),
    }
}

/// `SessionKeyDerivationAttributes` (shared by the verify and generate
/// cryptogram operations): the derivation, PAN and PSN.
fn session_attrs<'a>(
    o: Obj<'a>,
    scratch: &'a mut String,
) -> ApiResult<(SessionKeyDerivation, Pan, Psn)> {
    let (member, a) = o.union("SessionKeyDerivationAttributes", scratch)?;
    let session = match member {
        "EmvCommon" => SessionKeyDerivation::EmvCommon {
            atc: fixed::<2>(a, "ApplicationTransactionCounter")?,
        },
        "Mastercard" => SessionKeyDerivation::Mastercard {
            atc: fixed::<2>(a, "ApplicationTransactionCounter")?,
            unpredictable_number: fixed::<4>(a, "UnpredictableNumber")?,
        },
        "Visa" => SessionKeyDerivation::Visa,
        other => {
            return Err(ApiError::unsupported_member(
                "SessionKeyDerivationAttributes",
                other,
            ))
        }
    };
    let pan = pan(a, "PrimaryAccountNumber")?;
    let psn = Psn::new(a.digits("PanSequenceNumber", 2, 2)?).map_err(ApiError::from)?;
    Ok((session, pan, psn))
}

/// GenerateAuthRequestCryptogram, shaped as in the service model the Rust
/// SDK `aws-sdk-paymentcryptographydata` 1.129.0 is generated from (POST
/// `/cryptogram/generate`: KeyIdentifier, TransactionData,
/// MajorKeyDerivationMode, SessionKeyDerivationAttributes → KeyArn,
/// KeyCheckValue, AuthRequestCryptogram). botocore 1.43.11's model
/// (2022-02-03, 14 operations) does not have the operation yet.
async fn generate_arqc(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let k = key(inner, o.str("KeyIdentifier")?)?;
    let transaction_data = o.hex("TransactionData", 2, 1024)?;
    let mk_derivation = mk_mode(o)?;
    let mut s = String::new();
    let (session, pan, psn) = session_attrs(o, &mut s)?;
    let req = GenerateArqcRequest {
        key: k.soft_id()?,
        mk_derivation,
        session,
        pan,
        psn,
        transaction_data,
        padding: Padding::None,
    };
    match run(inner, Request::GenerateArqc(req)).await? {
        Response::GenerateArqc(r) => Ok(json!({
            "KeyArn": k.arn, "KeyCheckValue": k.kcv, "AuthRequestCryptogram": hex_up(&r.arqc),
        })),
        _ => Err(ApiError::internal("unexpected response")),
    }
}

async fn verify_arqc(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let k = key(inner, o.str("KeyIdentifier")?)?;
    let transaction_data = o.hex("TransactionData", 2, 1024)?;
    let arqc = fixed::<8>(o, "AuthRequestCryptogram")?;
    let mk_derivation = mk_mode(o)?;
    let mut s = String::new();
    let (session, pan, psn) = session_attrs(o, &mut s)?;
    let mut s2 = String::new();
    let arpc = if o.has("AuthResponseAttributes") {
        let (m, r) = o.union("AuthResponseAttributes", &mut s2)?;
        Some(match m {
            "ArpcMethod1" => ArpcMethod::Method1 {
                arc: fixed::<2>(r, "AuthResponseCode")?,
            },
            "ArpcMethod2" => ArpcMethod::Method2 {
                csu: fixed::<4>(r, "CardStatusUpdate")?,
                proprietary_data: ProprietaryAuthData::new(
                    &r.opt_hex("ProprietaryAuthenticationData", 1, 16)?
                        .unwrap_or_default(),
                )?,
            },
            other => {
                return Err(ApiError::unsupported_member(
                    "AuthResponseAttributes",
                    other,
                ))
            }
        })
    } else {
        None
    };
    let req = VerifyArqcRequest {
        key: k.soft_id()?,
        mk_derivation,
        session,
        pan,
        psn,
        transaction_data,
        padding: Padding::None,
        arqc,
        arpc,
    };
    match run(inner, Request::VerifyArqc(req)).await? {
        Response::VerifyArqc(r) if r.verification == Verification::Verified => {
            let mut out = json!({ "KeyArn": k.arn, "KeyCheckValue": k.kcv });
            if let (Some(v), Value::Object(m)) = (r.arpc, &mut out) {
                m.insert("AuthResponseValue".into(), json!(hex_up(&v)));
            }
            Ok(out)
        }
        Response::VerifyArqc(_) => Err(ApiError::verification_failed(
            "INVALID_AUTH_REQUEST_CRYPTOGRAM",
            "ARQC verification failed",
        )),
        _ => Err(ApiError::internal("unexpected response")),
    }
}

/// `GenerateMac` / `VerifyMac` with `MacAttributes.Algorithm` (the
/// other members are in `data_ext`).
pub(super) async fn mac(inner: &Inner, o: Obj<'_>, generate: bool) -> ApiResult<Value> {
    let attr_field = if generate {
        "GenerationAttributes"
    } else {
        "VerificationAttributes"
    };
    let k = key(inner, o.str("KeyIdentifier")?)?;
    let data = o.hex("MessageData", 2, 8192)?;
    let mut s = String::new();
    let a = o.obj(attr_field, &mut s)?;
    let algorithm = match a.opt_str("Algorithm")? {
        Some("ISO9797_ALGORITHM1") => MacAlgorithm::Iso9797Alg1(Padding::Method1),
        Some("ISO9797_ALGORITHM3") => MacAlgorithm::Iso9797Alg3(Padding::Method1),
        Some("CMAC") => MacAlgorithm::Cmac,
        // `HMAC` names no hash: the key's algorithm chooses it.
        Some("HMAC") => match k.attributes()?.algorithm {
            KeyAlgorithm::HmacSha224 => MacAlgorithm::HmacSha224,
            KeyAlgorithm::HmacSha384 => MacAlgorithm::HmacSha384,
            KeyAlgorithm::HmacSha512 => MacAlgorithm::HmacSha512,
            _ => MacAlgorithm::HmacSha256,
        },
        Some("HMAC_SHA224") => MacAlgorithm::HmacSha224,
        Some("HMAC_SHA256") => MacAlgorithm::HmacSha256,
        Some("HMAC_SHA384") => MacAlgorithm::HmacSha384,
        Some("HMAC_SHA512") => MacAlgorithm::HmacSha512,
        Some(other @ "AS2805_4_1") => {
            return Err(ApiError::unsupported(&format!("MAC algorithm {other}")))
        }
        Some(_) => {
            return Err(ApiError::field(
                &a.field_name("Algorithm"),
                "is not a valid value",
            ))
        }
        None => {
            let mut s2 = String::new();
            let (member, _) = o.union(attr_field, &mut s2)?;
            return Err(ApiError::unsupported_member(attr_field, member));
        }
    };
    let mac_length = o.opt_int("MacLength", 4, 16)?.map(|n| n as usize);
    if generate {
        let req = GenerateMacRequest {
            key: k.soft_id()?,
            algorithm,
            data,
            mac_length,
        };
        match run(inner, Request::GenerateMac(req)).await? {
            Response::GenerateMac(r) => Ok(json!({
                "KeyArn": k.arn, "KeyCheckValue": k.kcv, "Mac": hex_up(&r.mac),
            })),
            _ => Err(ApiError::internal("unexpected response")),
        }
    } else {
        let mac = o.hex("Mac", 4, 128)?;
        if mac_length.is_some_and(|n| n != mac.len()) {
            return Err(ApiError::field(
                "MacLength",
                "must equal the length of Mac in bytes",
            ));
        }
        let req = VerifyMacRequest {
            key: k.soft_id()?,
            algorithm,
            data,
            mac,
        };
        match run(inner, Request::VerifyMac(req)).await? {
            Response::VerifyMac(r) if r.verification == Verification::Verified => {
                Ok(json!({ "KeyArn": k.arn, "KeyCheckValue": k.kcv }))
            }
            Response::VerifyMac(_) => Err(ApiError::verification_failed(
                "INVALID_MAC",
                "MAC verification failed",
            )),
            _ => Err(ApiError::internal("unexpected response")),
        }
    }
}

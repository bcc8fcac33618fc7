//! Data plane, issuer PIN data (restJson1 `POST /pindata/generate` and
//! `POST /pindata/verify`): the service's `GeneratePinData` and
//! `VerifyPinData` shapes (botocore `payment-cryptography-data/2022-02-03`)
//! parsed into the crate's typed requests, run on the software reference
//! backend, answered in the service's shape. A PIN that does not verify is
//! `VerificationFailedException` with `Reason` `INVALID_PIN`.
//!
//! Where the service's behaviour is not published, the emulator follows the
//! software reference and says so here:
//! - `Ibm3624NaturalPin` answers `PinData.PinOffset` of zeros (the natural
//!   PIN's offset); the model requires some `PinData`.
//! - `PinDataLength` (default 4) sets the length of a PIN the service
//!   creates (`VisaPin`, `Ibm3624NaturalPin`, `Ibm3624RandomPin`); with
//!   `Ibm3624PinFromOffset` it must equal the offset's length; the members
//!   that bring a PIN block use that PIN's own length. In `VerifyPinData` a
//!   PIN of another length than `PinDataLength` is `INVALID_PIN`.
//! - `VerificationValue` takes 4 to 12 digits in the model; a Visa PVV is 4,
//!   so other lengths are a `ValidationException`.
//! - A PIN block that does not decode under the key (wrong key, PAN or
//!   format) is a `ValidationException`, as in `TranslatePinData`.
//! - `PrimaryAccountNumber` is optional in the model: it is required here for
//!   ISO formats 0, 3 and 4 and for the Visa PVV, which use it.
//! - `EncryptionWrappedKey` is not implemented (`ValidationException`).

use super::api::{hex_up, ApiError, ApiResult, Obj};
use super::data::{dukpt_attrs, key, pan, run};
use super::Inner;
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::ops::*;
use crate::types::{
    DecimalizationTable, FieldError, PadCharacter, PinLength, PinOffset, PinValidationData, Pvki,
    Pvv, Verification,
};
use serde_json::{json, Value};

/// A PIN-data route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Generate,
    Verify,
}

impl Route {
    /// The operation's name in the AWS service model, for metrics.
    pub(crate) fn operation_name(self) -> &'static str {
        match self {
            Self::Generate => "GeneratePinData",
            Self::Verify => "VerifyPinData",
        }
    }
}

/// Maps a restJson1 path to a PIN-data operation; `None` for other paths.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["pindata", "generate"] => Some(Route::Generate),
        ["pindata", "verify"] => Some(Route::Verify),
        _ => None,
    }
}

/// Runs one PIN-data operation.
pub(crate) async fn dispatch(inner: &Inner, route: Route, body: &Value) -> ApiResult<Value> {
    let o = Obj::root(body)?;
    match route {
        Route::Generate => generate(inner, o).await,
        Route::Verify => verify(inner, o).await,
    }
}

/// A value error from a newtype, naming the request field.
fn field(o: Obj<'_>, key: &str) -> impl Fn(FieldError) -> ApiError {
    let name = o.field_name(key);
    move |e| ApiError::field(&name, e.reason)
}

/// `PinBlockFormat` (`PinBlockFormatForPinData`: ISO 0, 1, 3, 4).
fn format(o: Obj<'_>) -> ApiResult<PinBlockFormat> {
    Ok(match o.str("PinBlockFormat")? {
        "ISO_FORMAT_0" => PinBlockFormat::Iso0,
        "ISO_FORMAT_1" => PinBlockFormat::Iso1,
        "ISO_FORMAT_3" => PinBlockFormat::Iso3,
        "ISO_FORMAT_4" => PinBlockFormat::Iso4,
        _ => return Err(ApiError::field("PinBlockFormat", "is not a valid value")),
    })
}

/// `EncryptedPinBlockType`: 16 to 32 hex digits.
fn pin_block(o: Obj<'_>) -> ApiResult<EncryptedPinBlock> {
    let b = o.hex("EncryptedPinBlock", 16, 32)?;
    EncryptedPinBlock::from_bytes(&b).map_err(field(o, "EncryptedPinBlock"))
}

/// `PinVerificationKeyIndex` (`IntegerRangeBetween0And6`), required.
fn pvki(o: Obj<'_>) -> ApiResult<Pvki> {
    let n = o
        .opt_int("PinVerificationKeyIndex", 0, 6)?
        .ok_or_else(|| ApiError::field(&o.field_name("PinVerificationKeyIndex"), "is required"))?;
    Pvki::new(n as u8).map_err(field(o, "PinVerificationKeyIndex"))
}

/// The IBM 3624 members shared by every `Ibm3624…` shape.
fn ibm3624(o: Obj<'_>) -> ApiResult<Ibm3624> {
    let table = o.digits("DecimalizationTable", 16, 16)?;
    let pad = o.str_len("PinValidationDataPadCharacter", 1, 1)?;
    let data = o.digits("PinValidationData", 4, 16)?;
    Ok(Ibm3624 {
        decimalization_table: DecimalizationTable::new(table)
            .map_err(field(o, "DecimalizationTable"))?,
        validation_data: PinValidationData::new(data).map_err(field(o, "PinValidationData"))?,
        pad: PadCharacter::new(pad).map_err(field(o, "PinValidationDataPadCharacter"))?,
    })
}

fn offset(o: Obj<'_>) -> ApiResult<PinOffset> {
    PinOffset::new(o.digits("PinOffset", 4, 12)?).map_err(field(o, "PinOffset"))
}

/// `PrimaryAccountNumber`: optional in the model (ISO format 1 binds no
/// PAN and IBM 3624 uses none), required for formats 0, 3 and 4 and for
/// the Visa PVV (the PAN is part of its TSP). Where nothing uses it, a
/// placeholder stands in.
fn pan_for(o: Obj<'_>, format: PinBlockFormat, visa: bool) -> ApiResult<crate::types::Pan> {
    if o.has("PrimaryAccountNumber") {
        return pan(o, "PrimaryAccountNumber");
    }
    if format.needs_pan() || visa {
        let why = if visa {
            "is required for the Visa PVV".to_owned()
        } else {
            format!("is required for ISO format {}", format.code())
        };
        return Err(ApiError::field("PrimaryAccountNumber", why));
    }
    crate::types::Pan::new("000000000000").map_err(ApiError::from)
}

/// `PinDataLength` (`IntegerRangeBetween4And12`).
fn pin_length(o: Obj<'_>) -> ApiResult<Option<PinLength>> {
    o.opt_int("PinDataLength", 4, 12)?
        .map(|n| PinLength::new(n as u8).map_err(field(o, "PinDataLength")))
        .transpose()
}

async fn generate(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    if o.has("EncryptionWrappedKey") {
        return Err(ApiError::unsupported("EncryptionWrappedKey"));
    }
    let gen_key = key(inner, o.str("GenerationKeyIdentifier")?)?;
    let enc_key = key(inner, o.str("EncryptionKeyIdentifier")?)?;
    let format = format(o)?;
    let length = pin_length(o)?;
    let mut s = String::new();
    let (member, a) = o.union("GenerationAttributes", &mut s)?;
    // The PIN length the PIN-creating members take (4 unless given); the
    // members that bring a PIN use that PIN's own length.
    let new_pin_length = length.unwrap_or(PinLength::FOUR);
    let method = match member {
        "VisaPin" => PinGeneration::VisaPin {
            pvki: pvki(a)?,
            pin_length: new_pin_length,
        },
        "VisaPinVerificationValue" => PinGeneration::VisaPvv {
            pvki: pvki(a)?,
            pin_block: pin_block(a)?,
        },
        "Ibm3624NaturalPin" => PinGeneration::Ibm3624NaturalPin {
            ibm: ibm3624(a)?,
            pin_length: new_pin_length,
        },
        "Ibm3624RandomPin" => PinGeneration::Ibm3624RandomPin {
            ibm: ibm3624(a)?,
            pin_length: new_pin_length,
        },
        "Ibm3624PinOffset" => PinGeneration::Ibm3624PinOffset {
            ibm: ibm3624(a)?,
            pin_block: pin_block(a)?,
        },
        "Ibm3624PinFromOffset" => {
            let offset = offset(a)?;
            if length.is_some_and(|n| n.get() != offset.len()) {
                return Err(ApiError::field(
                    "PinDataLength",
                    "must equal the length of PinOffset",
                ));
            }
            PinGeneration::Ibm3624PinFromOffset {
                ibm: ibm3624(a)?,
                offset,
            }
        }
        other => return Err(ApiError::unsupported_member("GenerationAttributes", other)),
    };
    let pan = pan_for(o, format, method.scheme() == PinScheme::VisaPvv)?;
    let req = GeneratePinDataRequest {
        generation_key: gen_key.soft_id()?,
        encryption_key: enc_key.soft_id()?,
        format,
        pan,
        method,
    };
    match run(inner, Request::GeneratePinData(req)).await? {
        Response::GeneratePinData(r) => {
            let pin_data = match &r.pin_data {
                PinData::Offset(x) => json!({ "PinOffset": x.expose() }),
                PinData::Pvv(x) => json!({ "VerificationValue": x.expose() }),
            };
            Ok(json!({
                "GenerationKeyArn": gen_key.arn,
                "GenerationKeyCheckValue": gen_key.kcv,
                "EncryptionKeyArn": enc_key.arn,
                "EncryptionKeyCheckValue": enc_key.kcv,
                "EncryptedPinBlock": hex_up(r.pin_block.as_bytes()),
                "PinData": pin_data,
            }))
        }
        _ => Err(ApiError::internal("unexpected response")),
    }
}

async fn verify(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    if o.has("EncryptionWrappedKey") {
        return Err(ApiError::unsupported("EncryptionWrappedKey"));
    }
    let ver_key = key(inner, o.str("VerificationKeyIdentifier")?)?;
    let enc_key = key(inner, o.str("EncryptionKeyIdentifier")?)?;
    let format = format(o)?;
    let block = pin_block(o)?;
    let pin_length = pin_length(o)?;
    let mut s = String::new();
    let (member, a) = o.union("VerificationAttributes", &mut s)?;
    let method = match member {
        "Ibm3624Pin" => PinVerification::Ibm3624 {
            ibm: ibm3624(a)?,
            offset: offset(a)?,
        },
        "VisaPin" => {
            let v = a.digits("VerificationValue", 4, 12)?;
            PinVerification::VisaPvv {
                pvki: pvki(a)?,
                pvv: Pvv::new(v).map_err(field(a, "VerificationValue"))?,
            }
        }
        other => {
            return Err(ApiError::unsupported_member(
                "VerificationAttributes",
                other,
            ))
        }
    };
    let mut s2 = String::new();
    let pin_key = match o.opt_obj("DukptAttributes", &mut s2)? {
        Some(d) => {
            // `DukptAttributes.DukptDerivationType` is required here.
            d.str("DukptDerivationType")?;
            PinKey::Dukpt(dukpt_attrs(d, &enc_key)?)
        }
        None => PinKey::Key(enc_key.soft_id()?),
    };
    let pan = pan_for(o, format, method.scheme() == PinScheme::VisaPvv)?;
    let req = VerifyPinDataRequest {
        verification_key: ver_key.soft_id()?,
        pin_key,
        format,
        pan,
        pin_block: block,
        method,
        pin_length,
    };
    match run(inner, Request::VerifyPinData(req)).await? {
        Response::VerifyPinData(r) if r.verification == Verification::Verified => Ok(json!({
            "VerificationKeyArn": ver_key.arn,
            "VerificationKeyCheckValue": ver_key.kcv,
            "EncryptionKeyArn": enc_key.arn,
            "EncryptionKeyCheckValue": enc_key.kcv,
        })),
        Response::VerifyPinData(_) => Err(ApiError::verification_failed(
            "INVALID_PIN",
            "PIN verification failed",
        )),
        _ => Err(ApiError::internal("unexpected response")),
    }
}

//! Data plane, operations beyond the first set (restJson1): `ReEncryptData`
//! (`POST /keys/{IncomingKeyIdentifier}/reencrypt`). Shapes from botocore's
//! `payment-cryptography-data/2022-02-03`; cryptography by the software
//! reference backend, which enforces key usage and modes of use.

use super::api::{hex_up, ApiError, ApiResult, Obj};
use super::data::{block_len, dukpt_attrs, key, mode, percent_decode, run, variant};
use super::state::KeyRecord;
use super::Inner;
use crate::ops::*;
use serde_json::{json, Value};

/// A route of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ReEncrypt(String),
}

/// Maps a restJson1 path to an operation of this module; `None` for others.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["keys", id, "reencrypt"] => Some(Route::ReEncrypt(percent_decode(id)?)),
        _ => None,
    }
}

/// Runs one operation of this module.
pub(crate) async fn dispatch(inner: &Inner, route: Route, body: &Value) -> ApiResult<Value> {
    let o = Obj::root(body)?;
    match route {
        Route::ReEncrypt(id) => re_encrypt(inner, o, &id).await,
    }
}

/// One side of a re-encryption (`ReEncryptionAttributes`: `Symmetric` or
/// `Dukpt`) as the crate's key and mode.
fn re_side(o: Obj<'_>, field: &str, k: &KeyRecord) -> ApiResult<(DataKey, CipherMode)> {
    let mut s = String::new();
    let (member, a) = o.union(field, &mut s)?;
    match member {
        "Symmetric" => {
            if a.has("PaddingType") {
                return Err(ApiError::unsupported("PaddingType with a symmetric key"));
            }
            let block = block_len(k.attributes()?.algorithm);
            Ok((DataKey::Key(k.soft_id()?), mode(a, block)?))
        }
        "Dukpt" => {
            let d = dukpt_attrs(a, k)?;
            let block = block_len(d.key_type);
            let v = variant(a)?;
            let m = mode(a, block)?;
            Ok((
                DataKey::Dukpt {
                    dukpt: d,
                    variant: v,
                },
                m,
            ))
        }
        other => Err(ApiError::unsupported_member(
            &format!("ReEncryptData {field}"),
            other,
        )),
    }
}

/// `ReEncryptData`: the ciphertext decrypted under the incoming key (a data
/// key, or a DUKPT data key from a BDK) and encrypted under the outgoing one,
/// inside the reference backend. Answers the outgoing key's ARN and KCV.
/// `IncomingWrappedKey` / `OutgoingWrappedKey` are not implemented.
async fn re_encrypt(inner: &Inner, o: Obj<'_>, incoming: &str) -> ApiResult<Value> {
    for unsupported in ["IncomingWrappedKey", "OutgoingWrappedKey"] {
        if o.has(unsupported) {
            return Err(ApiError::unsupported(&format!(
                "ReEncryptData {unsupported}"
            )));
        }
    }
    let ciphertext = o.hex("CipherText", 2, 4224)?;
    let kin = key(inner, incoming)?;
    let kout = key(inner, o.str("OutgoingKeyIdentifier")?)?;
    let (incoming_key, incoming_mode) = re_side(o, "IncomingEncryptionAttributes", &kin)?;
    let (outgoing_key, outgoing_mode) = re_side(o, "OutgoingEncryptionAttributes", &kout)?;
    let req = ReEncryptDataRequest {
        incoming_key,
        incoming_mode,
        outgoing_key,
        outgoing_mode,
        ciphertext,
    };
    match run(inner, Request::ReEncryptData(req)).await? {
        Response::ReEncryptData(r) => Ok(json!({
            "KeyArn": kout.arn,
            "KeyCheckValue": kout.kcv,
            "CipherText": hex_up(&r.ciphertext),
        })),
        _ => Err(ApiError::internal("unexpected response")),
    }
}

//! Data plane, operations beyond the first set (restJson1): `ReEncryptData`
//! (`POST /keys/{IncomingKeyIdentifier}/reencrypt`), the DUKPT and EMV
//! members of `GenerateMac` / `VerifyMac` (`POST /mac/generate`,
//! `/mac/verify`; `Algorithm` goes on to `data`) and
//! `GenerateMacEmvPinChange` (`POST /macemvpinchange/generate`) and
//! `TranslateKeyMaterial` (`POST /keymaterial/translate`). Shapes from botocore's
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
    Mac(bool),
    EmvPinChange,
    TranslateKeyMaterial,
}

/// Maps a restJson1 path to an operation of this module; `None` for others.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["keys", id, "reencrypt"] => Some(Route::ReEncrypt(percent_decode(id)?)),
        ["mac", "generate"] => Some(Route::Mac(true)),
        ["mac", "verify"] => Some(Route::Mac(false)),
        ["macemvpinchange", "generate"] => Some(Route::EmvPinChange),
        ["keymaterial", "translate"] => Some(Route::TranslateKeyMaterial),
        _ => None,
    }
}

/// Runs one operation of this module.
pub(crate) async fn dispatch(inner: &Inner, route: Route, body: &Value) -> ApiResult<Value> {
    let o = Obj::root(body)?;
    match route {
        Route::ReEncrypt(id) => re_encrypt(inner, o, &id).await,
        Route::Mac(generate) => mac(inner, o, generate).await,
        Route::EmvPinChange => emv_pin_change(inner, o).await,
        Route::TranslateKeyMaterial => translate_key_material(inner, o),
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

// ------------------------------------------------------------------ MACs

/// The MAC a request asks for, computed in full (the caller truncates).
/// `MacAttributes` members other than `Algorithm`:
/// - `DukptIso9797Algorithm1`, `DukptIso9797Algorithm3`, `DukptCmac`: a MAC
///   key derived by DUKPT from the BDK (`KeyIdentifier`, usage B0, mode
///   DeriveKey) and the KSN. TDES DUKPT (ANSI X9.24-1:2009 A.6) uses the
///   MAC request variant for `REQUEST` and `BIDIRECTIONAL`, the MAC response
///   variant for `RESPONSE`; AES DUKPT (X9.24-3:2017 6.3.2) uses key usage
///   MAC generation (2000) for `REQUEST`, MAC verification (2001) for
///   `RESPONSE`, both ways (2002) for `BIDIRECTIONAL` — the same direction
///   mapping as DUKPT data keys; AWS does not publish it. ISO 9797-1 MACs
///   pad with method 1, as the service's `Algorithm` MACs do.
/// - `EmvMac`: the EMV secure-messaging integrity MAC (EMV 4.4 Book 2
///   A1.2: ISO 9797-1 algorithm 3, padding method 2) under a session key
///   from the ICC master key derived from the IMK-SMI (`KeyIdentifier`,
///   usage E2): EMV common session key (Book 2 A1.3) with R = the
///   application cryptogram for `EMV_COMMON_SESSION_KEY` and
///   `MASTERCARD_SESSION_KEY`; the Visa SM session key with the ATC for
///   `VISA`. `EMV2000` and `AMEX` are not implemented.
fn mac_member(k: &KeyRecord, member: &str, a: Obj<'_>, data: &[u8]) -> ApiResult<Vec<u8>> {
    match member {
        "DukptIso9797Algorithm1" | "DukptIso9797Algorithm3" | "DukptCmac" => {
            dukpt_mac(k, member, a, data)
        }
        "EmvMac" => emv_mac(k, a, data),
        other => Err(ApiError::unsupported_member("MacAttributes", other)),
    }
}

/// `MacAlgorithmDukpt`: KSN, variant, derivation type (default: the BDK's
/// algorithm for AES DUKPT, TDES_2KEY for TDES DUKPT).
fn dukpt_of(a: Obj<'_>, bdk: &KeyRecord) -> ApiResult<(Dukpt, DukptVariant)> {
    let ksn_s = a.str_len("KeySerialNumber", 16, 24)?;
    let ksn = crate::algo::dukpt::Ksn::parse_hex(ksn_s)
        .map_err(|e| ApiError::field(&a.field_name("KeySerialNumber"), e.reason))?;
    let bdk_alg = bdk.attributes()?.algorithm;
    let key_type = match a.opt_str("DukptDerivationType")? {
        Some(s) => crate::types::KeyAlgorithm::from_aws_name(s)
            .filter(|x| x.is_tdes() || x.is_aes())
            .ok_or_else(|| {
                ApiError::field(&a.field_name("DukptDerivationType"), "is not a valid value")
            })?,
        None if bdk_alg.is_aes() => bdk_alg,
        None => crate::types::KeyAlgorithm::Tdes2,
    };
    if !ksn.is_aes() && key_type != crate::types::KeyAlgorithm::Tdes2 {
        return Err(ApiError::field(
            &a.field_name("DukptDerivationType"),
            "TDES DUKPT (X9.24-1) derives double-length TDES keys only",
        ));
    }
    a.str("DukptKeyVariant")?;
    let d = Dukpt {
        bdk: bdk.soft_id()?,
        ksn,
        key_type,
    };
    Ok((d, variant(a)?))
}

fn dukpt_mac(k: &KeyRecord, member: &str, a: Obj<'_>, data: &[u8]) -> ApiResult<Vec<u8>> {
    use crate::algo::dukpt::{self, AesDukptKeyType, AesDukptUsage, TdesDukptUsage};
    use crate::algo::mac::{self, Padding};
    use crate::types::KeyAlgorithm as A;
    let (d, v) = dukpt_of(a, k)?;
    crate::rules::check_bdk(&k.attributes()?, &d).map_err(ApiError::from)?;
    let bdk = k.material()?;
    let key: zeroize::Zeroizing<Vec<u8>> = if d.ksn.is_aes() {
        let usage = match v {
            DukptVariant::Request => AesDukptUsage::MacGeneration,
            DukptVariant::Response => AesDukptUsage::MacVerification,
            DukptVariant::Bidirectional => AesDukptUsage::MacBoth,
        };
        let t = match d.key_type {
            A::Tdes2 => AesDukptKeyType::Tdes2,
            A::Tdes3 => AesDukptKeyType::Tdes3,
            A::Aes128 => AesDukptKeyType::Aes128,
            A::Aes192 => AesDukptKeyType::Aes192,
            _ => AesDukptKeyType::Aes256,
        };
        let wk = dukpt::aes_working_key(bdk.expose(), &d.ksn, usage, t)
            .map_err(|e| ApiError::from(crate::Error::from(e)))?;
        zeroize::Zeroizing::new(wk.as_bytes().to_vec())
    } else {
        let usage = match v {
            DukptVariant::Request | DukptVariant::Bidirectional => TdesDukptUsage::MacRequest,
            DukptVariant::Response => TdesDukptUsage::MacResponse,
        };
        let wk = dukpt::tdes_working_key(bdk.expose(), &d.ksn, usage)
            .map_err(|e| ApiError::from(crate::Error::from(e)))?;
        zeroize::Zeroizing::new(wk.to_vec())
    };
    let algo_err = |e: crate::algo::AlgoError| ApiError::from(crate::Error::from(e));
    let cipher = || {
        if d.key_type.is_aes() {
            crate::algo::cipher::BlockCipher::aes(&key)
        } else {
            crate::algo::cipher::BlockCipher::tdes(&key)
        }
        .map_err(algo_err)
    };
    Ok(match member {
        "DukptIso9797Algorithm1" => mac::cbc_mac(&cipher()?, data, Padding::Method1)
            .map_err(algo_err)?
            .as_bytes()
            .to_vec(),
        "DukptIso9797Algorithm3" => {
            if d.key_type != A::Tdes2 {
                return Err(ApiError::validation(
                    "DukptIso9797Algorithm3 (retail MAC) needs a TDES_2KEY DUKPT MAC key",
                ));
            }
            mac::retail_mac(&key, data, Padding::Method1)
                .map_err(algo_err)?
                .to_vec()
        }
        _ => mac::cmac(&cipher()?, data).as_bytes().to_vec(),
    })
}

/// Checks an EMV issuer master key: `usage`, TDES_2KEY, mode DeriveKey.
fn check_imk(k: &KeyRecord, usage: crate::types::KeyUsage, field: &str) -> ApiResult<()> {
    let a = k.attributes()?;
    if a.usage != usage {
        return Err(ApiError::validation(format!(
            "{field}: key {} has KeyUsage {}; this needs {}",
            k.arn,
            k.usage,
            usage.aws_name()
        )));
    }
    if a.algorithm != crate::types::KeyAlgorithm::Tdes2 {
        return Err(ApiError::unsupported(&format!(
            "{field}: EMV master keys other than TDES_2KEY"
        )));
    }
    if !(a.modes.derive_key || a.modes.no_restrictions) {
        return Err(ApiError::validation(format!(
            "{field}: key {}'s KeyModesOfUse do not allow DeriveKey",
            k.arn
        )));
    }
    Ok(())
}

/// The ICC master key from an IMK, a PAN and PSN, by option A or B.
fn icc_mk(imk: &KeyRecord, a: Obj<'_>) -> ApiResult<zeroize::Zeroizing<[u8; 16]>> {
    use crate::types::MkDerivation;
    let option = match a.str("MajorKeyDerivationMode")? {
        "EMV_OPTION_A" => MkDerivation::OptionA,
        "EMV_OPTION_B" => MkDerivation::OptionB,
        _ => {
            return Err(ApiError::field(
                &a.field_name("MajorKeyDerivationMode"),
                "is not a valid value",
            ))
        }
    };
    let pan = super::data::pan(a, "PrimaryAccountNumber")?;
    let psn = a.digits("PanSequenceNumber", 2, 2)?;
    let m = imk.material()?;
    crate::algo::emv::derive_icc_mk(m.expose(), pan.expose(), Some(psn), option)
        .map_err(|e| ApiError::from(crate::Error::from(e)))
}

/// An 8-byte hex member.
fn hex8(a: Obj<'_>, key: &str) -> ApiResult<[u8; 8]> {
    let v = a.hex(key, 16, 16)?;
    v.try_into()
        .map_err(|_| ApiError::field(&a.field_name(key), "has the wrong length"))
}

fn emv_mac(k: &KeyRecord, a: Obj<'_>, data: &[u8]) -> ApiResult<Vec<u8>> {
    use crate::algo::emv;
    check_imk(k, crate::types::KeyUsage::EmvSmIntegrity, "EmvMac")?;
    let mk = icc_mk(k, a)?;
    let mut s = String::new();
    let value = a.obj("SessionKeyDerivationValue", &mut s)?;
    let algo_err = |e: crate::algo::AlgoError| ApiError::from(crate::Error::from(e));
    let sk = match a.str("SessionKeyDerivationMode")? {
        "EMV_COMMON_SESSION_KEY" | "MASTERCARD_SESSION_KEY" => {
            let ac = hex8(value, "ApplicationCryptogram")?;
            emv::derive_common_session_key(&mk[..], &ac).map_err(algo_err)?
        }
        "VISA" => {
            let atc = value.hex("ApplicationTransactionCounter", 4, 4)?;
            emv::derive_visa_sm_session_key(&mk[..], &atc).map_err(algo_err)?
        }
        m @ ("EMV2000" | "AMEX") => {
            return Err(ApiError::unsupported(&format!(
                "EmvMac SessionKeyDerivationMode {m}"
            )))
        }
        _ => {
            return Err(ApiError::field(
                &a.field_name("SessionKeyDerivationMode"),
                "is not a valid value",
            ))
        }
    };
    Ok(emv::secure_messaging_mac(&sk[..], data)
        .map_err(algo_err)?
        .to_vec())
}

/// `GenerateMac` / `VerifyMac`: `MacAttributes.Algorithm` goes to the
/// typed path in `data`; the other members are computed here.
async fn mac(inner: &Inner, o: Obj<'_>, generate: bool) -> ApiResult<Value> {
    let attr_field = if generate {
        "GenerationAttributes"
    } else {
        "VerificationAttributes"
    };
    let mut s = String::new();
    let attrs = o.obj(attr_field, &mut s)?;
    if attrs.has("Algorithm") {
        return super::data::mac(inner, o, generate).await;
    }
    let k = key(inner, o.str("KeyIdentifier")?)?;
    let data = o.hex("MessageData", 2, 8192)?;
    let mut s2 = String::new();
    let (member, a) = o.union(attr_field, &mut s2)?;
    let full = mac_member(&k, member, a, &data)?;
    let mac_length = o.opt_int("MacLength", 4, 16)?.map(|n| n as usize);
    if generate {
        let n = mac_length.unwrap_or(full.len());
        let mac = full.get(..n).ok_or_else(|| {
            ApiError::field(
                "MacLength",
                format!("this MAC is {} bytes long", full.len()),
            )
        })?;
        Ok(json!({ "KeyArn": k.arn, "KeyCheckValue": k.kcv, "Mac": hex_up(mac) }))
    } else {
        let mac = o.hex("Mac", 4, 128)?;
        if mac_length.is_some_and(|n| n != mac.len()) {
            return Err(ApiError::field(
                "MacLength",
                "must equal the length of Mac in bytes",
            ));
        }
        let ok = crate::algo::mac::verify_truncated(&full, &mac)
            .map_err(|e| ApiError::field("Mac", e.reason))?;
        if ok {
            Ok(json!({ "KeyArn": k.arn, "KeyCheckValue": k.kcv }))
        } else {
            Err(ApiError::verification_failed(
                "INVALID_MAC",
                "MAC verification failed",
            ))
        }
    }
}

// ------------------------------------------------------------------ EMV PIN change

/// `GenerateMacEmvPinChange` (`POST /macemvpinchange/generate`), for the
/// `EmvCommon` and `Mastercard` derivation methods:
/// 1. the new PIN is decrypted from `NewEncryptedPinBlock` under the PEK
///    (usage P0, mode Decrypt) in `PinBlockFormat` (ISO 0, 1 or 3) and
///    encoded as an ISO 9564 format 2 block (the model: "after translation
///    to ISO2 format");
/// 2. for `PinBlockLengthPosition` `FRONT_OF_PIN_BLOCK` (with
///    `PinBlockPaddingType` `ISO_IEC_7816_4`, as the model requires) the
///    block becomes `08 || block || 80 00 00 00 00 00 00` (the layout IBM
///    documents for its PIN Change/Unblock verb: prepend X'08', append
///    X'80' and six X'00'); for `NONE` (with `NO_PADDING`) it stays 8 bytes;
/// 3. that is enciphered (TDES, `Mode` ECB or CBC with a zero IV) under the
///    secure-messaging confidentiality session key: the EMV common session
///    key (EMV 4.4 Book 2 A1.3) with R = `ApplicationCryptogram`, from the
///    ICC master key derived (option A or B) from the IMK-SMC (usage E1);
/// 4. `Mac` is the secure-messaging integrity MAC (Book 2 A1.2, 8 bytes)
///    over `MessageData || enciphered PIN data` under the same kind of
///    session key from the IMK-SMI (usage E2);
/// 5. `EncryptedPinBlock` answers the enciphered PIN data of step 3 (the
///    model's type takes 16 to 32 hex digits: 8 or 16 bytes).
///
/// AWS publishes no example with values; steps 2, 3 and 5 are the
/// emulator's reading of the model's documentation. `Visa`, `Amex` (which
/// combine the current PIN with the card's AC key) and `Emv2000` are not
/// implemented.
async fn emv_pin_change(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    use crate::algo::{emv, pinblock};
    use crate::types::{KeyUsage, PinBlockFormat};
    let message = o.hex("MessageData", 16, 1024)?;
    let block = o.hex("NewEncryptedPinBlock", 16, 16)?;
    let format = match o.str("PinBlockFormat")? {
        "ISO_FORMAT_0" => PinBlockFormat::Iso0,
        "ISO_FORMAT_1" => PinBlockFormat::Iso1,
        "ISO_FORMAT_3" => PinBlockFormat::Iso3,
        _ => return Err(ApiError::field("PinBlockFormat", "is not a valid value")),
    };
    let pek = key(inner, o.str("NewPinPekIdentifier")?)?;
    let smi = key(inner, o.str("SecureMessagingIntegrityKeyIdentifier")?)?;
    let smc = key(inner, o.str("SecureMessagingConfidentialityKeyIdentifier")?)?;
    let mut s = String::new();
    let (member, a) = o.union("DerivationMethodAttributes", &mut s)?;
    let common = match member {
        "EmvCommon" => true,
        "Mastercard" => false,
        other => {
            return Err(ApiError::unsupported_member(
                "GenerateMacEmvPinChange DerivationMethodAttributes",
                other,
            ))
        }
    };
    let (cbc, front) = if common {
        let cbc = match a.str("Mode")? {
            "ECB" => false,
            "CBC" => true,
            _ => {
                return Err(ApiError::field(
                    &a.field_name("Mode"),
                    "is not a valid value",
                ))
            }
        };
        let front = match (a.str("PinBlockLengthPosition")?, a.str("PinBlockPaddingType")?) {
            ("FRONT_OF_PIN_BLOCK", "ISO_IEC_7816_4") => true,
            ("NONE", "NO_PADDING") => false,
            _ => {
                return Err(ApiError::validation(
                    "PinBlockLengthPosition FRONT_OF_PIN_BLOCK takes PinBlockPaddingType ISO_IEC_7816_4, and NONE takes NO_PADDING",
                ))
            }
        };
        (cbc, front)
    } else {
        // The Mastercard member has no mode or padding members; the
        // emulator uses the layout of IBM's PIN Change/Unblock verb (ECB,
        // length byte and padding), which matches M/Chip's 16-byte PIN data.
        (false, true)
    };
    let ac = hex8(a, "ApplicationCryptogram")?;
    let algo_err = |e: crate::algo::AlgoError| ApiError::from(crate::Error::from(e));
    // 1. The new PIN, as an ISO 9564 format 2 block.
    let pa = pek.attributes()?;
    if pa.usage != KeyUsage::PinEncryption || !(pa.modes.decrypt || pa.modes.no_restrictions) {
        return Err(ApiError::validation(format!(
            "NewPinPekIdentifier: key {} must be a TR31_P0_PIN_ENCRYPTION_KEY allowed to Decrypt",
            pek.arn
        )));
    }
    let pan = super::data::pan(a, "PrimaryAccountNumber")?;
    let pek_bytes = pek.material()?;
    let pek_cipher = if pa.algorithm.is_aes() {
        crate::algo::cipher::BlockCipher::aes(pek_bytes.expose())
    } else {
        crate::algo::cipher::BlockCipher::tdes(pek_bytes.expose())
    }
    .map_err(algo_err)?;
    let pin = pinblock::decrypt_pin_block(&pek_cipher, format, &block, Some(pan.expose()))
        .map_err(|e| ApiError::field("NewEncryptedPinBlock", e.reason))?;
    let iso2 = pinblock::encode_pin_block(PinBlockFormat::Iso2, &pin, None, &mut rand::rng())
        .map_err(algo_err)?;
    // 2. Length byte and ISO/IEC 7816-4 padding, or the bare block.
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(16));
    if front {
        plain.push(0x08);
        plain.extend_from_slice(iso2.as_bytes());
        plain.push(0x80);
        plain.resize(16, 0);
    } else {
        plain.extend_from_slice(iso2.as_bytes());
    }
    // 3. Enciphered under the SMC session key.
    check_imk(
        &smc,
        KeyUsage::EmvSmConfidentiality,
        "SecureMessagingConfidentialityKeyIdentifier",
    )?;
    let smc_sk = emv::derive_common_session_key(&icc_mk(&smc, a)?[..], &ac).map_err(algo_err)?;
    let c = crate::algo::cipher::BlockCipher::tdes(&smc_sk[..]).map_err(algo_err)?;
    let mut enc = plain.to_vec();
    if cbc {
        c.encrypt_cbc(&[0u8; 8], &mut enc).map_err(algo_err)?;
    } else {
        c.encrypt_ecb(&mut enc).map_err(algo_err)?;
    }
    // 4. The MAC over the command and the enciphered PIN data.
    check_imk(
        &smi,
        KeyUsage::EmvSmIntegrity,
        "SecureMessagingIntegrityKeyIdentifier",
    )?;
    let smi_sk = emv::derive_common_session_key(&icc_mk(&smi, a)?[..], &ac).map_err(algo_err)?;
    let mut macced = message;
    macced.extend_from_slice(&enc);
    let mac = emv::secure_messaging_mac(&smi_sk[..], &macced).map_err(algo_err)?;
    Ok(json!({
        "NewPinPekArn": pek.arn,
        "NewPinPekKeyCheckValue": pek.kcv,
        "SecureMessagingIntegrityKeyArn": smi.arn,
        "SecureMessagingIntegrityKeyCheckValue": smi.kcv,
        "SecureMessagingConfidentialityKeyArn": smc.arn,
        "SecureMessagingConfidentialityKeyCheckValue": smc.kcv,
        "Mac": hex_up(&mac),
        "EncryptedPinBlock": hex_up(&enc),
    }))
}

// ------------------------------------------------------------------ key material

/// `TranslateKeyMaterial`: a TR-31 block under a key agreed by ECDH
/// (`IncomingKeyMaterial.DiffieHellmanTr31KeyBlock`, see `ecdh`) re-wrapped
/// as a TR-31 block under a key-encryption key the emulator holds
/// (`OutgoingKeyMaterial.Tr31KeyBlock`), its attributes kept; the key never
/// becomes a key of the emulator. `KeyCheckValue` is the translated key's,
/// by `KeyCheckValueAlgorithm` (the algorithm's default when absent).
fn translate_key_material(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    use crate::algo::tr31;
    let store = inner.read();
    let mut s1 = String::new();
    let (member, m) = o.union("IncomingKeyMaterial", &mut s1)?;
    if member != "DiffieHellmanTr31KeyBlock" {
        return Err(ApiError::unsupported_member(
            "TranslateKeyMaterial IncomingKeyMaterial",
            member,
        ));
    }
    let block = m.str_len("WrappedKeyBlock", 56, 9984)?;
    let (kbpk, _) = super::ecdh::derive_kbpk(&store, m)?;
    let (header, clear) = tr31::unwrap(kbpk.expose(), block)
        .map_err(|e| ApiError::field(&m.field_name("WrappedKeyBlock"), e.reason))?;
    let attributes =
        crate::keyload::tr31_attributes(&header, clear.len()).map_err(ApiError::from)?;
    attributes.validate().map_err(ApiError::from)?;
    let mut s2 = String::new();
    let (out_member, out) = o.union("OutgoingKeyMaterial", &mut s2)?;
    if out_member != "Tr31KeyBlock" {
        return Err(ApiError::unsupported_member(
            "TranslateKeyMaterial OutgoingKeyMaterial",
            out_member,
        ));
    }
    let kek = key(inner, out.str("WrappingKeyIdentifier")?)?;
    super::control::check_kek(&kek, false)?;
    let kek_bytes = kek.material()?;
    let version =
        crate::keyload::tr31_version_for(kek.attributes()?.algorithm).map_err(ApiError::from)?;
    let out_header = crate::keyload::tr31_header(version, &attributes).map_err(ApiError::from)?;
    let wrapped = tr31::wrap(kek_bytes.expose(), &out_header, &clear, &mut rand::rng())
        .map_err(|e| ApiError::validation(e.to_string()))?;
    let kcv_alg = match o.opt_str("KeyCheckValueAlgorithm")? {
        Some(a) => a.to_owned(),
        None => crate::algo::kcv::KcvMethod::default_for(attributes.algorithm)
            .aws_name()
            .to_owned(),
    };
    let kcv = super::state::compute_kcv(attributes.algorithm, &kcv_alg, &clear)?;
    Ok(json!({ "WrappedKey": {
        "WrappedKeyMaterial": wrapped,
        "KeyCheckValue": kcv,
        "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
    }}))
}

//! Control plane (awsJson1_0, `PaymentCryptographyControlPlane.<Op>`).

use super::api::{modes_of_use, ApiError, ApiResult, Obj};
use super::manage;
use super::state::{check_alias_name, now, KeyRecord, KeyState, NewKey, Store};
use super::wrap::{generate, wrap_to_certificate};
use super::Inner;
use crate::algo::cipher::fix_odd_parity;
use crate::algo::tr31;
use crate::types::{Exportability, KeyAlgorithm, KeyAttributes, KeyUsage, SecretBytes};
use rand::RngCore;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// Runs one control-plane operation.
pub(crate) async fn dispatch(inner: &Inner, op: &str, body: &Value) -> ApiResult<Value> {
    let o = Obj::root(body)?;
    match op {
        // The only operations that wait: RSA key generation runs off the
        // request path.
        "GetParametersForImport" => get_parameters(inner, o, true).await,
        "CreateKey" if asymmetric(o) => super::asym::create_key(inner, o).await,
        "GetParametersForExport" => get_parameters(inner, o, false).await,
        _ => dispatch_sync(inner, op, o),
    }
}

fn dispatch_sync(inner: &Inner, op: &str, o: Obj<'_>) -> ApiResult<Value> {
    match op {
        "CreateKey" => create_key(inner, o),
        "GetKey" => {
            let store = inner.read();
            let k = store.resolve(o.str("KeyIdentifier")?)?;
            Ok(json!({ "Key": k.key_json() }))
        }
        "ListKeys" => list_keys(inner, o),
        "DeleteKey" => delete_key(inner, o),
        "RestoreKey" => change_key(inner, o, |k| {
            if k.state != KeyState::DeletePending {
                return Err(ApiError::validation("Key is not pending deletion"));
            }
            k.state = KeyState::CreateComplete;
            k.delete_pending = None;
            k.delete_at = None;
            k.enabled = false;
            Ok(())
        }),
        "StartKeyUsage" => change_key(inner, o, |k| {
            if k.state != KeyState::CreateComplete {
                return Err(ApiError::validation("Key is pending deletion"));
            }
            k.enabled = true;
            k.usage_start = Some(now());
            k.usage_stop = None;
            Ok(())
        }),
        "StopKeyUsage" => change_key(inner, o, |k| {
            if k.state != KeyState::CreateComplete {
                return Err(ApiError::validation("Key is pending deletion"));
            }
            k.enabled = false;
            k.usage_stop = Some(now());
            Ok(())
        }),
        "CreateAlias" => create_alias(inner, o),
        "GetAlias" => {
            let store = inner.read();
            let name = alias_name(o)?;
            match store.aliases().get(name) {
                Some(key) => Ok(json!({ "Alias": alias_json(&store, name, key.as_deref()) })),
                None => Err(ApiError::not_found(name)),
            }
        }
        "ListAliases" => list_aliases(inner, o),
        "UpdateAlias" => {
            let name = alias_name(o)?;
            let mut store = inner.write();
            if !store.aliases().contains_key(name) {
                return Err(ApiError::not_found(name));
            }
            let key = match o.opt_str("KeyArn")? {
                Some(arn) => Some(store.resolve_arn(arn)?.id.clone()),
                None => None,
            };
            store.set_alias(name, key.clone());
            store.save()?;
            Ok(json!({ "Alias": alias_json(&store, name, key.as_deref()) }))
        }
        "DeleteAlias" => {
            let name = alias_name(o)?;
            let mut store = inner.write();
            if !store.remove_alias(name) {
                return Err(ApiError::not_found(name));
            }
            store.save()?;
            Ok(json!({}))
        }
        "ImportKey" => import_key(inner, o),
        "ExportKey" => export_key(inner, o),
        "ListTagsForResource" => manage::list_tags(inner, o),
        "TagResource" => manage::tag_resource(inner, o),
        "UntagResource" => manage::untag_resource(inner, o),
        "PutResourcePolicy" => manage::put_policy(inner, o),
        "GetResourcePolicy" => manage::get_policy(inner, o),
        "DeleteResourcePolicy" => manage::delete_policy(inner, o),
        "AddKeyReplicationRegions" => manage::add_regions(inner, o),
        "RemoveKeyReplicationRegions" => manage::remove_regions(inner, o),
        "EnableDefaultKeyReplicationRegions" => manage::default_regions(inner, o, true),
        "DisableDefaultKeyReplicationRegions" => manage::default_regions(inner, o, false),
        "GetDefaultKeyReplicationRegions" => Ok(manage::get_default_regions(&inner.read())),
        "AssociateMpaTeam" => manage::associate_mpa(inner, o),
        "GetMpaTeamAssociation" => manage::get_mpa(inner, o),
        "DisassociateMpaTeam" => manage::disassociate_mpa(inner, o),
        "GetPublicKeyCertificate" => super::asym::get_public_key_certificate(inner, o),
        "GetCertificateSigningRequest" => super::asym::get_csr(inner, o),
        _ => Err(ApiError::unknown_operation(format!(
            "operation {op} is not part of PaymentCryptographyControlPlane"
        ))),
    }
}

/// True when `CreateKey` asks for an asymmetric key pair.
fn asymmetric(o: Obj<'_>) -> bool {
    let mut s = String::new();
    matches!(
        o.opt_obj("KeyAttributes", &mut s)
            .ok()
            .flatten()
            .map(|a| a.opt_str("KeyClass")),
        Some(Ok(Some("ASYMMETRIC_KEY_PAIR")))
    )
}

fn alias_name<'a>(o: Obj<'a>) -> ApiResult<&'a str> {
    let name = o.str_len("AliasName", 7, 256)?;
    let rest = name
        .strip_prefix("alias/")
        .ok_or_else(|| ApiError::field("AliasName", "must start with alias/"))?;
    check_alias_name(rest)?;
    Ok(name)
}

fn alias_json(store: &Store, name: &str, key: Option<&str>) -> Value {
    match key.and_then(|id| store.arn_of(id)) {
        Some(arn) => json!({ "AliasName": name, "KeyArn": arn }),
        None => json!({ "AliasName": name }),
    }
}

/// Parses `KeyAttributes` into the crate's attributes (symmetric keys only).
pub(crate) fn parse_attributes(o: Obj<'_>) -> ApiResult<KeyAttributes> {
    let usage_s = o.str("KeyUsage")?;
    let usage = KeyUsage::from_aws_name(usage_s)
        .map_err(|_| ApiError::unsupported_value("KeyUsage", usage_s))?;
    let class = o.str("KeyClass")?;
    if class != "SYMMETRIC_KEY" {
        return Err(ApiError::unsupported_value("KeyClass", class));
    }
    let alg_s = o.str("KeyAlgorithm")?;
    let algorithm = KeyAlgorithm::from_aws_name(alg_s)
        .ok_or_else(|| ApiError::unsupported_value("KeyAlgorithm", alg_s))?;
    if !algorithm.is_symmetric() || usage.is_asymmetric() {
        return Err(ApiError::field(
            &o.field_name("KeyClass"),
            format!("SYMMETRIC_KEY does not go with {alg_s} and {usage_s}"),
        ));
    }
    let mut scratch = String::new();
    let m = o.obj("KeyModesOfUse", &mut scratch)?;
    let modes = modes_of_use(&m)?;
    let attrs = KeyAttributes::new(usage, algorithm, modes);
    attrs.validate().map_err(ApiError::from)?;
    Ok(attrs)
}

fn tags(o: Obj<'_>) -> ApiResult<Vec<(String, String)>> {
    manage::parse_tags(o)
}

fn exportability(exportable: bool) -> Exportability {
    if exportable {
        Exportability::Exportable
    } else {
        Exportability::NonExportable
    }
}

fn create_key(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let mut scratch = String::new();
    let attributes = parse_attributes(o.obj("KeyAttributes", &mut scratch)?)?;
    let exportable = o.bool("Exportable")?;
    if o.has("DeriveKeyUsage") {
        return Err(ApiError::unsupported("DeriveKeyUsage"));
    }
    let mut bytes = Zeroizing::new(vec![0u8; attributes.algorithm.key_len()]);
    rand::rng().fill_bytes(&mut bytes);
    if attributes.algorithm.is_tdes() {
        fix_odd_parity(&mut bytes);
    }
    let mut store = inner.write();
    let (regions, using_default) = manage::new_key_regions(&store, o)?;
    let rec = store.add(NewKey {
        attributes: attributes.with_exportability(exportability(exportable)),
        material: SecretBytes::from_slice(&bytes),
        exportable,
        enabled: o.opt_bool("Enabled")?.unwrap_or(true),
        origin: "AWS_PAYMENT_CRYPTOGRAPHY",
        kcv_algorithm: o.opt_str("KeyCheckValueAlgorithm")?.map(str::to_owned),
        tags: tags(o)?,
    })?;
    let rec = manage::set_replicas(&mut store, rec, regions, using_default);
    store.save()?;
    Ok(json!({ "Key": rec.key_json() }))
}

fn list_keys(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let filter = o.opt_str("KeyState")?;
    let store = inner.read();
    let keys: Vec<Value> = store
        .keys()
        .into_iter()
        .filter(|k| filter.is_none_or(|f| f == k.state.as_str()))
        .map(|k| k.summary_json())
        .collect();
    let (keys, next) = super::api::page(keys, o, 100)?;
    let mut out = json!({ "Keys": keys });
    if let (Some(n), Value::Object(m)) = (next, &mut out) {
        m.insert("NextToken".into(), json!(n));
    }
    Ok(out)
}

fn list_aliases(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let store = inner.read();
    let filter = match o.opt_str("KeyArn")? {
        Some(arn) => Some(store.resolve_arn(arn)?.id.clone()),
        None => None,
    };
    let aliases: Vec<Value> = store
        .aliases()
        .iter()
        .filter(|(_, k)| filter.is_none() || k.as_ref() == filter.as_ref())
        .map(|(n, k)| alias_json(&store, n, k.as_deref()))
        .collect();
    let (aliases, next) = super::api::page(aliases, o, 100)?;
    let mut out = json!({ "Aliases": aliases });
    if let (Some(n), Value::Object(m)) = (next, &mut out) {
        m.insert("NextToken".into(), json!(n));
    }
    Ok(out)
}

fn change_key(
    inner: &Inner,
    o: Obj<'_>,
    f: impl FnOnce(&mut KeyRecord) -> ApiResult<()>,
) -> ApiResult<Value> {
    let mut store = inner.write();
    let mut k = (*store.resolve(o.str("KeyIdentifier")?)?).clone();
    f(&mut k)?;
    let k = store.update(k);
    store.save()?;
    Ok(json!({ "Key": k.key_json() }))
}

fn delete_key(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let days = o.opt_int("DeleteKeyInDays", 3, 180)?.unwrap_or(7);
    change_key(inner, o, |k| {
        if k.state == KeyState::DeletePending {
            return Err(ApiError::conflict("Key is already pending deletion"));
        }
        let t = now();
        k.state = KeyState::DeletePending;
        k.enabled = false;
        k.delete_pending = Some(t);
        k.delete_at = Some(t + (days as f64) * 86_400.0);
        Ok(())
    })
}

fn create_alias(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let name = alias_name(o)?;
    let mut store = inner.write();
    if store.aliases().contains_key(name) {
        return Err(ApiError::conflict(format!("Alias {name} already exists")));
    }
    let key = match o.opt_str("KeyArn")? {
        Some(arn) => Some(store.resolve_arn(arn)?.id.clone()),
        None => None,
    };
    store.set_alias(name, key.clone());
    store.save()?;
    Ok(json!({ "Alias": alias_json(&store, name, key.as_deref()) }))
}

async fn get_parameters(inner: &Inner, o: Obj<'_>, import: bool) -> ApiResult<Value> {
    let material = o.str("KeyMaterialType")?;
    let alg_field = if import {
        "WrappingKeyAlgorithm"
    } else {
        "SigningKeyAlgorithm"
    };
    let alg = o.str(alg_field)?;
    match material {
        "KEY_CRYPTOGRAM" | "TR34_KEY_BLOCK" => {}
        "TR31_KEY_BLOCK" => {
            return Err(ApiError::field(
                "KeyMaterialType",
                "TR31_KEY_BLOCK needs no parameters: wrap the block under a key-encryption key already imported",
            ))
        }
        "ROOT_PUBLIC_KEY_CERTIFICATE" | "TRUSTED_PUBLIC_KEY_CERTIFICATE" => {
            return Err(ApiError::field("KeyMaterialType", "is not a wrapped key material type"))
        }
        _ => return Err(ApiError::field("KeyMaterialType", "is not a valid value")),
    }
    let reuse = o.opt_bool("ReuseLastGeneratedToken")?.unwrap_or(false);
    let existing = if reuse {
        let reg = inner.params.lock().unwrap_or_else(|p| p.into_inner());
        reg.last(import, now())
            .filter(|p| p.algorithm == alg)
            .cloned()
    } else {
        None
    };
    let p = match existing {
        Some(p) => p,
        None => {
            let (prefix, cn) = if import {
                (
                    "import",
                    "AWS Payment Cryptography emulator import wrapping key",
                )
            } else {
                (
                    "export",
                    "AWS Payment Cryptography emulator export signing key",
                )
            };
            let p = generate(&inner.rsa_slots, prefix, alg.to_owned(), cn).await?;
            inner
                .params
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(p.clone(), import, now());
            p
        }
    };
    Ok(if import {
        json!({
            "WrappingKeyCertificate": p.certificate,
            "WrappingKeyCertificateChain": p.certificate,
            "WrappingKeyAlgorithm": p.algorithm,
            "ImportToken": p.token,
            "ParametersValidUntilTimestamp": p.valid_until,
        })
    } else {
        json!({
            "SigningKeyCertificate": p.certificate,
            "SigningKeyCertificateChain": p.certificate,
            "SigningKeyAlgorithm": p.algorithm,
            "ExportToken": p.token,
            "ParametersValidUntilTimestamp": p.valid_until,
        })
    })
}

/// Checks that `kek` may unwrap (`unwrap`) or wrap keys.
pub(crate) fn check_kek(kek: &KeyRecord, unwrap: bool) -> ApiResult<()> {
    kek.check_usable()?;
    let a = kek.attributes()?;
    if !matches!(
        a.usage,
        KeyUsage::KeyEncryption | KeyUsage::KeyBlockProtection
    ) {
        return Err(ApiError::validation(format!(
            "Key {} has KeyUsage {}; a TR-31 wrapping key must be TR31_K0_KEY_ENCRYPTION_KEY or TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            kek.arn, kek.usage
        )));
    }
    let m = a.modes;
    let ok = m.no_restrictions
        || if unwrap {
            m.unwrap || m.decrypt
        } else {
            m.wrap || m.encrypt
        };
    if !ok {
        return Err(ApiError::validation(format!(
            "Key {}'s KeyModesOfUse do not allow {}",
            kek.arn,
            if unwrap { "Unwrap" } else { "Wrap" }
        )));
    }
    Ok(())
}

fn import_key(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let mut scratch = String::new();
    let (member, m) = o.union("KeyMaterial", &mut scratch)?;
    let enabled = o.opt_bool("Enabled")?.unwrap_or(true);
    let kcv_algorithm = o.opt_str("KeyCheckValueAlgorithm")?.map(str::to_owned);
    let tags = tags(o)?;
    let (regions, using_default) = manage::new_key_regions(&inner.read(), o)?;
    let replicate =
        |store: &mut Store, rec| manage::set_replicas(store, rec, regions.clone(), using_default);
    match member {
        "Tr31KeyBlock" | "DiffieHellmanTr31KeyBlock" => {
            let block = m.str_len("WrappedKeyBlock", 56, 9984)?;
            let mut store = inner.write();
            let kek_bytes = if member == "Tr31KeyBlock" {
                let kek = store.resolve(m.str("WrappingKeyIdentifier")?)?;
                check_kek(&kek, true)?;
                kek.material()?
            } else {
                super::ecdh::derive_kbpk(&store, m)?.0
            };
            let (header, clear) = tr31::unwrap(kek_bytes.expose(), block)
                .map_err(|e| ApiError::field(&m.field_name("WrappedKeyBlock"), e.reason))?;
            let attributes =
                crate::keyload::tr31_attributes(&header, clear.len()).map_err(ApiError::from)?;
            attributes.validate().map_err(ApiError::from)?;
            let rec = store.add(NewKey::external(
                attributes,
                SecretBytes::from_slice(&clear),
                enabled,
                kcv_algorithm,
                tags,
            ))?;
            let rec = replicate(&mut store, rec);
            store.save()?;
            Ok(json!({ "Key": rec.key_json() }))
        }
        "KeyCryptogram" => {
            let mut s2 = String::new();
            let attributes = parse_attributes(m.obj("KeyAttributes", &mut s2)?)?;
            let exportable = m.bool("Exportable")?;
            let cryptogram = m.hex("WrappedKeyCryptogram", 16, 4096)?;
            let token = m.str("ImportToken")?;
            let spec = m.opt_str("WrappingSpec")?.unwrap_or("RSA_OAEP_SHA_256");
            let params = inner.token_params(&m, "ImportToken", token, true)?;
            let clear = params.unwrap(spec, &cryptogram)?;
            if clear.len() != attributes.algorithm.key_len() {
                return Err(ApiError::validation(format!(
                    "the unwrapped key is {} bytes; {} needs {}",
                    clear.len(),
                    attributes.algorithm.aws_name(),
                    attributes.algorithm.key_len()
                )));
            }
            let mut store = inner.write();
            let rec = store.add(NewKey::external(
                attributes.with_exportability(exportability(exportable)),
                SecretBytes::from_slice(&clear),
                enabled,
                kcv_algorithm,
                tags,
            ))?;
            let rec = replicate(&mut store, rec);
            store.save()?;
            Ok(json!({ "Key": rec.key_json() }))
        }
        "Tr34KeyBlock" => {
            if !regions.is_empty() {
                return Err(ApiError::unsupported(
                    "ImportKey ReplicationRegions with Tr34KeyBlock",
                ));
            }
            super::tr34::import(inner, m, enabled, kcv_algorithm, tags)
        }
        "RootCertificatePublicKey" | "TrustedCertificatePublicKey" => {
            if !regions.is_empty() {
                return Err(ApiError::unsupported(
                    "ImportKey ReplicationRegions for public key certificates",
                ));
            }
            super::asym::import_public(inner, member, m, enabled, tags)
        }
        other => Err(ApiError::unsupported_member("ImportKey KeyMaterial", other)),
    }
}

fn export_key(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let mut scratch = String::new();
    let (member, m) = o.union("KeyMaterial", &mut scratch)?;
    let mut s2 = String::new();
    if let Some(ea) = o.opt_obj("ExportAttributes", &mut s2)? {
        if ea.has("ExportDukptInitialKey") {
            return Err(ApiError::unsupported(
                "ExportAttributes.ExportDukptInitialKey",
            ));
        }
    }
    let store = inner.read();
    let key = store.resolve(o.str("ExportKeyIdentifier")?)?;
    key.check_usable()?;
    if !key.exportable {
        return Err(ApiError::validation(format!(
            "Key {} is not exportable",
            key.arn
        )));
    }
    let material = key.material()?;
    match member {
        "Tr31KeyBlock" => {
            let kek = store.resolve(m.str("WrappingKeyIdentifier")?)?;
            check_kek(&kek, false)?;
            let kek_attrs = kek.attributes()?;
            let kek_bytes = kek.material()?;
            let block = tr31_export(&key, &material, kek_attrs.algorithm, kek_bytes.expose(), m)?;
            Ok(json!({ "WrappedKey": {
                "WrappingKeyArn": kek.arn,
                "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
                "KeyMaterial": block,
                "KeyCheckValue": key.kcv,
                "KeyCheckValueAlgorithm": key.kcv_algorithm,
            }}))
        }
        "Tr34KeyBlock" => {
            drop(store);
            super::tr34::export(inner, &key, &material, m)
        }
        "DiffieHellmanTr31KeyBlock" => {
            let (kbpk, alg) = super::ecdh::derive_kbpk(&store, m)?;
            let own = store.resolve(m.str("PrivateKeyIdentifier")?)?;
            let block = tr31_export(&key, &material, alg, kbpk.expose(), m)?;
            Ok(json!({ "WrappedKey": {
                "WrappingKeyArn": own.arn,
                "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
                "KeyMaterial": block,
                "KeyCheckValue": key.kcv,
                "KeyCheckValueAlgorithm": key.kcv_algorithm,
            }}))
        }
        "KeyCryptogram" => {
            // The wrapping key certificate must be signed by the named
            // certificate authority: an imported root or trusted public key
            // (PUBLIC_KEY, S0, Verify).
            super::asym::certificate_under_ca(&store, m, "WrappingKeyCertificate")?;
            let cert = m.str("WrappingKeyCertificate")?;
            let spec = m.opt_str("WrappingSpec")?.unwrap_or("RSA_OAEP_SHA_256");
            let wrapped = wrap_to_certificate(cert, spec, material.expose())?;
            Ok(json!({ "WrappedKey": {
                "WrappingKeyArn": key.arn,
                "WrappedKeyMaterialFormat": "KEY_CRYPTOGRAM",
                "KeyMaterial": hex::encode_upper(wrapped),
                "KeyCheckValue": key.kcv,
                "KeyCheckValueAlgorithm": key.kcv_algorithm,
            }}))
        }
        other => Err(ApiError::unsupported_member("ExportKey KeyMaterial", other)),
    }
}

/// A TR-31 block of `key` under a key-block protection key of `kek_algorithm`
/// (version B under TDES, D under AES), with the member's optional
/// `KeyBlockHeaders` (modes of use a subset of the key's, exportability,
/// version, optional blocks).
pub(crate) fn tr31_export(
    key: &KeyRecord,
    material: &SecretBytes,
    kek_algorithm: KeyAlgorithm,
    kek_bytes: &[u8],
    m: Obj<'_>,
) -> ApiResult<String> {
    let mut attrs = key.attributes()?;
    let mut s3 = String::new();
    let mut key_version = "00".to_owned();
    let mut optional = Vec::new();
    if let Some(h) = m.opt_obj("KeyBlockHeaders", &mut s3)? {
        if let Some(e) = super::api::key_exportability(&h)? {
            attrs.exportability = e;
        }
        if let Some(v) = h.opt_str("KeyVersion")? {
            key_version = v.to_owned();
        }
        let mut s4 = String::new();
        if let Some(mo) = h.opt_obj("KeyModesOfUse", &mut s4)? {
            let want = modes_of_use(&mo)?;
            let have = attrs.modes;
            let subset = (!want.encrypt || have.encrypt || have.no_restrictions)
                && (!want.decrypt || have.decrypt || have.no_restrictions)
                && (!want.wrap || have.wrap || have.no_restrictions)
                && (!want.unwrap || have.unwrap || have.no_restrictions)
                && (!want.generate || have.generate || have.no_restrictions)
                && (!want.sign || have.sign || have.no_restrictions)
                && (!want.verify || have.verify || have.no_restrictions)
                && (!want.derive_key || have.derive_key || have.no_restrictions)
                && (!want.no_restrictions || have.no_restrictions);
            if !subset {
                return Err(ApiError::field(
                    &h.field_name("KeyModesOfUse"),
                    "must be a subset of the exported key's modes of use",
                ));
            }
            attrs.modes = want;
        }
        if let Some(Value::Object(blocks)) = h.raw("OptionalBlocks") {
            for (id, v) in blocks {
                let data = v.as_str().ok_or_else(|| {
                    ApiError::serialization("OptionalBlocks values must be strings")
                })?;
                optional.push(
                    tr31::OptionalBlock::new(id, data)
                        .map_err(|e| ApiError::field(&h.field_name("OptionalBlocks"), e.reason))?,
                );
            }
        }
    }
    let version = crate::keyload::tr31_version_for(kek_algorithm).map_err(ApiError::from)?;
    let mut header = crate::keyload::tr31_header(version, &attrs).map_err(ApiError::from)?;
    header = tr31::Tr31Header::new(
        header.version,
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
        &key_version,
        header.exportability,
    )
    .map_err(|e| ApiError::field("KeyBlockHeaders.KeyVersion", e.reason))?;
    for b in optional {
        header = header.with_optional_block(b);
    }
    let block = tr31::wrap(kek_bytes, &header, material.expose(), &mut rand::rng())
        .map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(block)
}

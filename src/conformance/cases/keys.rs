//! Key exchange and key management: KCVs, TR-31 import/export, component
//! forming, generate/delete.

use super::{case, combine, random_bytes};
use crate::algo::tr31;
use crate::backend::BackendExt;
use crate::conformance::vectors::SRC_KCV;
use crate::conformance::{expect_refusal, fail, op_failed, Case, Ctx, Outcome, Role, Stop};
use crate::error::ErrorKind;
use crate::keyload::{kek_from_components, tr31_import};
use crate::ops::{
    DeleteKeyRequest, ExportKeyRequest, GenerateKeyRequest, GetKeyInfoRequest, KeyMaterial,
    Tr31Version,
};
use crate::software::key_check_value;
use crate::types::{Kcv, KeyAlgorithm, KeyId};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!(
            GetKeyInfo,
            KnownAnswer,
            "KCVs of the published test keys",
            Some(SRC_KCV),
            [],
            kat_kcv
        ),
        case!(
            GetKeyInfo,
            Agreement,
            "KCV and attributes of every key match",
            None,
            [],
            agree_info
        ),
        case!(
            ExportKey,
            RoundTrip,
            "TR-31 export unwraps to the same key",
            None,
            [],
            export_round_trip
        ),
        case!(
            ExportKey,
            Refusal,
            "key usage: non-exportable key refused",
            None,
            [],
            refuse_non_exportable
        ),
        case!(
            ImportKey,
            Refusal,
            "bad input: TR-31 block with a wrong MAC refused",
            None,
            [],
            refuse_tampered_block
        ),
        case!(
            ImportKey,
            Refusal,
            "bad input: component with a wrong KCV refused",
            None,
            [],
            refuse_bad_component_kcv
        ),
        case!(
            GetKeyInfo,
            Refusal,
            "unknown key name is KeyNotFound",
            None,
            [],
            refuse_unknown_key
        ),
        case!(
            DeleteKey,
            Refusal,
            "deleting an unknown key is KeyNotFound",
            None,
            [],
            refuse_delete_unknown
        ),
        case!(
            GenerateKey,
            RoundTrip,
            "generate, describe, delete, then not found",
            None,
            [GetKeyInfo, DeleteKey],
            lifecycle
        ),
    ]
}

async fn info_kcv(ctx: &Ctx<'_>, id: &KeyId) -> Result<Kcv, Stop> {
    ctx.backend
        .get_key_info(GetKeyInfoRequest { key: id.clone() })
        .await
        .map(|i| i.key_check_value)
        .map_err(|e| op_failed(&format!("get_key_info {id}"), &e))
}

async fn kat_kcv(ctx: &Ctx<'_>) -> Outcome {
    // Published KCVs of the published test keys (see vectors kind `kcv`).
    let published: &[(Role, &str)] = &[(Role::Cvk, "08D7B4"), (Role::Zpk, "6FB1C8")];
    let mut results = Vec::new();
    for (role, want) in published {
        let r = async {
            let k = ctx.published(*role).await?;
            let got = info_kcv(ctx, &k.id).await?;
            if got.to_string() != *want {
                return Err(fail(format!("{role}: KCV {got}, published {want}")));
            }
            Ok(())
        }
        .await;
        results.push(r);
    }
    combine(results)
}

async fn agree_info(ctx: &Ctx<'_>) -> Outcome {
    let mut checked = 0;
    for (role, k) in ctx.keys.roles() {
        let info = ctx
            .backend
            .get_key_info(GetKeyInfoRequest { key: k.id.clone() })
            .await
            .map_err(|e| op_failed(&format!("get_key_info {role}"), &e))?;
        let want = match (&k.clear, k.kcv) {
            (Some(c), _) => Some(
                key_check_value(role.attributes().algorithm, c.expose())
                    .map_err(|e| fail(e.to_string()))?,
            ),
            (None, kcv) => kcv,
        };
        if let Some(want) = want {
            if info.key_check_value != want {
                return Err(fail(format!(
                    "{role}: KCV {}, expected {want}",
                    info.key_check_value
                )));
            }
        }
        // The algorithm is the role's when the suite made the key; a
        // configured production key may differ (e.g. TDES 3-key).
        let a = role.attributes();
        let alg_differs = k.clear.is_some() && info.attributes.algorithm != a.algorithm;
        if info.attributes.usage != a.usage || alg_differs {
            return Err(fail(format!(
                "{role}: described as {} {}, expected {} {}",
                info.attributes.usage.code(),
                info.attributes.algorithm.aws_name(),
                a.usage.code(),
                a.algorithm.aws_name()
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(Stop::Skip(ctx.keys.why_missing(Role::Kek)));
    }
    Ok(())
}

async fn export_round_trip(ctx: &Ctx<'_>) -> Outcome {
    let kek_clear = ctx.clear(Role::Kek)?.to_vec();
    let kek = ctx.key(Role::Kek)?.id.clone();
    let key = ctx.key(Role::Zpk2)?;
    let r = ctx
        .backend
        .export_key(ExportKeyRequest::tr31(key.id.clone(), kek, Tr31Version::B))
        .await
        .map_err(|e| op_failed("export", &e))?;
    let (header, clear) = tr31::unwrap(&kek_clear, &r.key_block).map_err(|e| {
        fail(format!(
            "the exported block does not unwrap under the KEK: {e}"
        ))
    })?;
    if header.key_usage.as_str() != "P0" {
        return Err(fail(format!(
            "exported block has usage {}, expected P0",
            header.key_usage.as_str()
        )));
    }
    let kcv = key_check_value(KeyAlgorithm::Tdes2, &clear).map_err(|e| fail(e.to_string()))?;
    if kcv != r.key_check_value {
        return Err(fail(format!(
            "the unwrapped key has KCV {kcv}, the response says {}",
            r.key_check_value
        )));
    }
    if let Some(want) = &key.clear {
        if want.expose() != clear.as_slice() {
            return Err(fail("the exported key is not the key that was imported"));
        }
    }
    Ok(())
}

async fn refuse_non_exportable(ctx: &Ctx<'_>) -> Outcome {
    let nx = ctx.key(Role::ZpkNonExportable)?.id.clone();
    let kek = ctx.key(Role::Kek)?.id.clone();
    let r = ctx
        .backend
        .export_key(ExportKeyRequest::tr31(nx, kek, Tr31Version::B))
        .await;
    expect_refusal(
        "export of a non-exportable key",
        r,
        &[ErrorKind::KeyUsage, ErrorKind::InvalidInput],
    )
}

/// Deletes a key the backend should not have accepted (best effort).
async fn cleanup(ctx: &Ctx<'_>, id: &KeyId) {
    let _ = ctx
        .backend
        .delete_key(DeleteKeyRequest { key: id.clone() })
        .await;
}

async fn refuse_tampered_block(ctx: &Ctx<'_>) -> Outcome {
    let kek_clear = ctx.clear(Role::Kek)?.to_vec();
    let kek = ctx.key(Role::Kek)?.id.clone();
    let id = ctx.scratch("tampered")?;
    let mut rng = ctx.rng();
    let mut key = random_bytes(&mut rng, 16);
    crate::algo::cipher::fix_odd_parity(&mut key);
    let mut req = tr31_import(
        kek,
        KeyAlgorithm::Tdes2,
        &kek_clear,
        id.clone(),
        Role::Zpk.attributes(),
        &key,
    )
    .map_err(|e| fail(e.to_string()))?;
    if let KeyMaterial::Tr31 { key_block, .. } = &mut req.material {
        // Flip the last hex digit (inside the MAC).
        let last = key_block.pop().unwrap_or('0');
        key_block.push(if last == '0' { '1' } else { '0' });
    }
    let r = ctx.backend.import_key(req).await;
    if r.is_ok() {
        cleanup(ctx, &id).await;
    }
    expect_refusal("altered TR-31 block", r, &[ErrorKind::InvalidInput])
}

async fn refuse_bad_component_kcv(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.scratch("bad-component")?;
    let mut rng = ctx.rng();
    let mut c1 = random_bytes(&mut rng, 16);
    let mut c2 = random_bytes(&mut rng, 16);
    crate::algo::cipher::fix_odd_parity(&mut c1);
    crate::algo::cipher::fix_odd_parity(&mut c2);
    let mut req = kek_from_components(id.clone(), KeyAlgorithm::Tdes2, &[&c1, &c2])
        .map_err(|e| fail(e.to_string()))?;
    if let KeyMaterial::Components { component_kcvs, .. } = &mut req.material {
        if let Some(k) = component_kcvs.get_mut(1) {
            k.0[0] ^= 0x01;
        }
    }
    let r = ctx.backend.import_key(req).await;
    if r.is_ok() {
        cleanup(ctx, &id).await;
    }
    expect_refusal("component with a wrong KCV", r, &[ErrorKind::InvalidInput])
}

async fn refuse_unknown_key(ctx: &Ctx<'_>) -> Outcome {
    let id = KeyId::new(format!(
        "paycrypto-conformance-no-such-key-{:016x}",
        ctx.seed
    ))
    .map_err(|e| fail(e.to_string()))?;
    let r = ctx
        .backend
        .get_key_info(GetKeyInfoRequest { key: id })
        .await;
    expect_refusal("unknown key", r, &[ErrorKind::KeyNotFound])
}

async fn refuse_delete_unknown(ctx: &Ctx<'_>) -> Outcome {
    let id = KeyId::new(format!(
        "paycrypto-conformance-no-such-key-{:016x}",
        ctx.seed
    ))
    .map_err(|e| fail(e.to_string()))?;
    let r = ctx.backend.delete_key(DeleteKeyRequest { key: id }).await;
    expect_refusal("delete of an unknown key", r, &[ErrorKind::KeyNotFound])
}

async fn lifecycle(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.scratch("generated")?;
    let attrs = Role::Cvk.attributes();
    let info = ctx
        .backend
        .generate_key(GenerateKeyRequest {
            key_id: id.clone(),
            attributes: attrs,
        })
        .await
        .map_err(|e| op_failed("generate", &e))?;
    let described = ctx
        .backend
        .get_key_info(GetKeyInfoRequest { key: id.clone() })
        .await;
    let deleted = ctx
        .backend
        .delete_key(DeleteKeyRequest { key: id.clone() })
        .await
        .map_err(|e| op_failed("delete", &e))?;
    let described = described.map_err(|e| op_failed("describe", &e))?;
    if described.key_check_value != info.key_check_value {
        return Err(fail("describe gives another KCV than generate"));
    }
    if described.attributes.usage != attrs.usage
        || described.attributes.algorithm != attrs.algorithm
    {
        return Err(fail(
            "the generated key does not have the requested attributes",
        ));
    }
    if deleted.key != id {
        return Err(fail("delete names another key"));
    }
    let r = ctx
        .backend
        .get_key_info(GetKeyInfoRequest { key: id })
        .await;
    expect_refusal("a deleted key", r, &[ErrorKind::KeyNotFound])
}

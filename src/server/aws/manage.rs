//! Control plane, key management around the keys themselves: tags,
//! resource-based policies, Multi-Region replication and Multi-Party
//! Approval (MPA) team associations. Shapes from the botocore model
//! `payment-cryptography/2021-09-14`; what the service does beyond the shapes
//! is documented per function where the emulator had to choose.
//!
//! The emulator stores and returns all of these; it enforces none: it has
//! one caller (no IAM, so no policy evaluation), serves one Region (replicas
//! are recorded as `SYNCHRONIZED` at once, never served), and runs no
//! approval workflows (see [`mpa_blocks`]).

use super::api::{ApiError, ApiResult, Obj};
use super::state::{KeyRecord, Store};
use super::Inner;
use serde_json::{json, Value};

/// Most tags on one key (`Tags` has at most 200 members in the model).
const MAX_TAGS: usize = 200;

/// The `Tags` list of a request: `Key` 1 to 128 characters, `Value` 1 to
/// 256 (`TagKey`, `TagValue` in the model), at most 200, no key twice.
pub(crate) fn parse_tags(o: Obj<'_>) -> ApiResult<Vec<(String, String)>> {
    let Some(v) = o.raw("Tags") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(ApiError::serialization("Tags must be a list"));
    };
    if items.len() > MAX_TAGS {
        return Err(ApiError::field("Tags", "has more than 200 members"));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(items.len());
    for t in items {
        let t = Obj::root(t)?;
        let key = t.str_len("Key", 1, 128)?;
        let value = t.str_len("Value", 1, 256)?;
        if out.iter().any(|(k, _)| k == key) {
            return Err(ApiError::field("Tags", "names a tag key twice"));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Changes the key named by the `ResourceArn` member and saves.
fn change(
    inner: &Inner,
    o: Obj<'_>,
    field: &str,
    f: impl FnOnce(&mut KeyRecord) -> ApiResult<()>,
) -> ApiResult<KeyRecord> {
    let mut store = inner.write();
    let mut k = (*resolve(&store, o, field)?).clone();
    f(&mut k)?;
    store.update(k.clone());
    store.save()?;
    Ok(k)
}

fn resolve(store: &Store, o: Obj<'_>, field: &str) -> ApiResult<std::sync::Arc<KeyRecord>> {
    let ident = o.str(field)?;
    if field == "ResourceArn" {
        // `ResourceArn`: a key ARN, 70 to 150 characters (no aliases).
        if ident.len() < 70 || ident.len() > 150 {
            return Err(ApiError::field(field, "length must be between 70 and 150"));
        }
        store.resolve_arn(ident)
    } else {
        store.resolve(ident)
    }
}

/// `TagResource`: adds tags, replacing the value of a key already there
/// (the model's documentation). More than 200 tags in all is a
/// `ValidationException`.
pub(crate) fn tag_resource(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    if !o.has("Tags") {
        return Err(ApiError::field("Tags", "is required"));
    }
    let new = parse_tags(o)?;
    change(inner, o, "ResourceArn", |k| {
        for (key, value) in new {
            match k.tags.iter_mut().find(|(t, _)| *t == key) {
                Some(t) => t.1 = value,
                None => k.tags.push((key, value)),
            }
        }
        if k.tags.len() > MAX_TAGS {
            return Err(ApiError::field("Tags", "a key has at most 200 tags"));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `UntagResource`: removes the named tag keys; a key the resource does not
/// have is not an error (the model's documentation).
pub(crate) fn untag_resource(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let keys: Vec<String> = match o.raw("TagKeys") {
        None => return Err(ApiError::field("TagKeys", "is required")),
        Some(Value::Array(items)) if items.len() <= MAX_TAGS => items
            .iter()
            .map(|v| match v.as_str() {
                Some(s) if (1..=128).contains(&s.len()) => Ok(s.to_owned()),
                Some(_) => Err(ApiError::field(
                    "TagKeys",
                    "members must be 1 to 128 characters",
                )),
                None => Err(ApiError::serialization("TagKeys members must be strings")),
            })
            .collect::<ApiResult<_>>()?,
        Some(Value::Array(_)) => {
            return Err(ApiError::field("TagKeys", "has more than 200 members"))
        }
        Some(_) => return Err(ApiError::serialization("TagKeys must be a list")),
    };
    change(inner, o, "ResourceArn", |k| {
        k.tags.retain(|(t, _)| !keys.contains(t));
        Ok(())
    })?;
    Ok(json!({}))
}

/// `ListTagsForResource`, paginated: `MaxResults` 1 to 100, 50 when absent
/// (the model's documentation).
pub(crate) fn list_tags(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let store = inner.read();
    let k = resolve(&store, o, "ResourceArn")?;
    let tags: Vec<Value> = k
        .tags
        .iter()
        .map(|(key, v)| json!({ "Key": key, "Value": v }))
        .collect();
    let (tags, next) = super::api::page(tags, o, 50)?;
    let mut out = json!({ "Tags": tags });
    if let (Some(n), Value::Object(m)) = (next, &mut out) {
        m.insert("NextToken".into(), json!(n));
    }
    Ok(out)
}

/// True when a policy statement allows everyone: `Effect` `Allow` with the
/// principal `*` (as a string, or as the `AWS` member or one of its list).
fn grants_public_access(policy: &Value) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    let star = |v: &Value| match v {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && match s.get("Principal") {
                Some(p @ Value::String(_)) => star(p),
                Some(Value::Object(m)) => m.get("AWS").is_some_and(star),
                _ => false,
            }
    })
}

/// `PutResourcePolicy`: attaches or replaces the key's policy. The policy
/// must be a JSON object with a `Statement`; one that grants public access
/// is refused with `PublicPolicyException` (the model's documentation).
/// The emulator checks no further IAM grammar and enforces nothing.
pub(crate) fn put_policy(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let policy = o.str_len("Policy", 1, 20480)?;
    let parsed: Value = serde_json::from_str(policy)
        .map_err(|_| ApiError::field("Policy", "is not a JSON policy document"))?;
    if !parsed.is_object() || parsed.get("Statement").is_none() {
        return Err(ApiError::field(
            "Policy",
            "must be a JSON object with a Statement",
        ));
    }
    if grants_public_access(&parsed) {
        return Err(ApiError::public_policy(
            "the policy would grant public access to the key",
        ));
    }
    let k = change(inner, o, "ResourceArn", |k| {
        k.policy = Some(policy.to_owned());
        Ok(())
    })?;
    Ok(json!({ "ResourceArn": k.arn, "Policy": policy }))
}

/// `GetResourcePolicy`. A key without a policy answers
/// `ResourceNotFoundException` (the service's answer is not published).
pub(crate) fn get_policy(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let store = inner.read();
    let k = resolve(&store, o, "ResourceArn")?;
    match &k.policy {
        Some(p) => Ok(json!({ "ResourceArn": k.arn, "Policy": p })),
        None => Err(ApiError::not_found(&format!(
            "resource policy of {}",
            k.arn
        ))),
    }
}

/// `DeleteResourcePolicy`. A key without a policy answers
/// `ResourceNotFoundException`, as [`get_policy`].
pub(crate) fn delete_policy(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    change(inner, o, "ResourceArn", |k| match k.policy.take() {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(&format!(
            "resource policy of {}",
            k.arn
        ))),
    })?;
    Ok(json!({}))
}

/// The `ReplicationRegions` list: each a Region name
/// (`^[a-z]{2}-[a-z]{1,16}-[0-9]+$`, the model's `Region`), not the
/// emulator's own Region (a key's primary Region holds no replica), no
/// Region twice.
pub(crate) fn parse_regions(o: Obj<'_>, own: &str) -> ApiResult<Vec<String>> {
    const FIELD: &str = "ReplicationRegions";
    let items = match o.raw(FIELD) {
        None => return Err(ApiError::field(FIELD, "is required")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::serialization("ReplicationRegions must be a list")),
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for v in items {
        let r = v
            .as_str()
            .ok_or_else(|| ApiError::serialization("ReplicationRegions members must be strings"))?;
        if !is_region(r) {
            return Err(ApiError::field(
                FIELD,
                "members must be Region names such as us-west-2",
            ));
        }
        if r == own {
            return Err(ApiError::field(
                FIELD,
                "the key's own Region cannot hold a replica",
            ));
        }
        if !out.iter().any(|x| x == r) {
            out.push(r.to_owned());
        }
    }
    Ok(out)
}

fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    match parts.as_slice() {
        [a, b, c] => {
            a.len() == 2
                && a.bytes().all(|x| x.is_ascii_lowercase())
                && (1..=16).contains(&b.len())
                && b.bytes().all(|x| x.is_ascii_lowercase())
                && !c.is_empty()
                && c.bytes().all(|x| x.is_ascii_digit())
        }
        _ => false,
    }
}

/// The replica Regions of a new key: `ReplicationRegions` when given, else
/// the account's default Regions (then `UsingDefaultReplicationRegions`).
pub(crate) fn new_key_regions(store: &Store, o: Obj<'_>) -> ApiResult<(Vec<String>, bool)> {
    if o.has("ReplicationRegions") {
        return Ok((parse_regions(o, &store.region)?, false));
    }
    let d: Vec<String> = store.account().default_regions.iter().cloned().collect();
    let using = !d.is_empty();
    Ok((d, using))
}

/// Records `regions` as replicas of the key `id` (saved by the caller).
pub(crate) fn set_replicas(
    store: &mut Store,
    rec: std::sync::Arc<KeyRecord>,
    regions: Vec<String>,
    using_default: bool,
) -> std::sync::Arc<KeyRecord> {
    if regions.is_empty() {
        return rec;
    }
    let mut k = (*rec).clone();
    for r in regions {
        k.replication.insert(r, "SYNCHRONIZED".into());
    }
    k.using_default_regions = using_default;
    store.update(k)
}

/// `AddKeyReplicationRegions`: the key must be usable (the model's
/// documentation: "in an active state"); replicas are `SYNCHRONIZED` at once.
pub(crate) fn add_regions(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let own = inner.read().region.clone();
    let regions = parse_regions(o, &own)?;
    let k = change(inner, o, "KeyIdentifier", |k| {
        k.check_usable()?;
        for r in regions {
            k.replication.insert(r, "SYNCHRONIZED".into());
        }
        k.using_default_regions = false;
        Ok(())
    })?;
    Ok(json!({ "Key": k.key_json() }))
}

/// `RemoveKeyReplicationRegions`: removes the named replicas; naming a
/// Region the key is not replicated to is a `ValidationException` (the
/// model: "This key must exist and have replication enabled in the
/// specified regions").
pub(crate) fn remove_regions(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let own = inner.read().region.clone();
    let regions = parse_regions(o, &own)?;
    let k = change(inner, o, "KeyIdentifier", |k| {
        if let Some(r) = regions.iter().find(|r| !k.replication.contains_key(*r)) {
            return Err(ApiError::field(
                "ReplicationRegions",
                format!("the key is not replicated to {r}"),
            ));
        }
        for r in &regions {
            k.replication.remove(r);
        }
        Ok(())
    })?;
    Ok(json!({ "Key": k.key_json() }))
}

/// `EnableDefaultKeyReplicationRegions` / `DisableDefaultKeyReplicationRegions`:
/// adds or removes account default Regions (keys created later replicate to
/// them; existing keys are unaffected, as the model documents). Answers the
/// Regions enabled afterwards.
pub(crate) fn default_regions(inner: &Inner, o: Obj<'_>, enable: bool) -> ApiResult<Value> {
    let mut store = inner.write();
    let regions = parse_regions(o, &store.region.clone())?;
    let set = &mut store.account_mut().default_regions;
    for r in regions {
        if enable {
            set.insert(r);
        } else {
            set.remove(&r);
        }
    }
    store.save()?;
    Ok(get_default_regions(&store))
}

/// `GetDefaultKeyReplicationRegions`.
pub(crate) fn get_default_regions(store: &Store) -> Value {
    let r: Vec<&String> = store.account().default_regions.iter().collect();
    json!({ "EnabledReplicationRegions": r })
}

/// `Action` (`MpaOperation`): the one protected operation the model names.
fn mpa_action<'a>(o: Obj<'a>) -> ApiResult<&'a str> {
    match o.str("Action")? {
        a @ "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE" => Ok(a),
        _ => Err(ApiError::field("Action", "is not a valid value")),
    }
}

fn mpa_json(action: &str, team: &str, state: &str) -> Value {
    json!({ "MpaTeamAssociation": {
        "Action": action, "MpaTeamArn": team, "AssociationState": state,
    }})
}

/// `AssociateMpaTeam`: records the team for the action (`ACTIVE` at once:
/// the emulator runs no approval session for the association itself). An
/// action that already has a team is a `ConflictException`.
pub(crate) fn associate_mpa(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let action = mpa_action(o)?;
    let team = o.str_len("MpaTeamArn", 20, 2048)?;
    let ok = team
        .strip_prefix("arn:aws")
        .and_then(|r| r.split_once(":mpa:"))
        .and_then(|(_, r)| r.split_once(':'))
        .and_then(|(_, r)| r.split_once(":approval-team/"))
        .is_some_and(|(acct, name)| {
            acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    if !ok {
        return Err(ApiError::field(
            "MpaTeamArn",
            "is not an MPA approval team ARN",
        ));
    }
    if o.has("RequesterComment") {
        o.str_len("RequesterComment", 0, 200)?;
    }
    let mut store = inner.write();
    if store.account().mpa_teams.contains_key(action) {
        return Err(ApiError::conflict(format!(
            "an MPA team is already associated with {action}"
        )));
    }
    store
        .account_mut()
        .mpa_teams
        .insert(action.to_owned(), team.to_owned());
    store.save()?;
    Ok(mpa_json(action, team, "ACTIVE"))
}

/// `GetMpaTeamAssociation`: `ResourceNotFoundException` when the action has
/// no team.
pub(crate) fn get_mpa(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let action = mpa_action(o)?;
    let store = inner.read();
    match store.account().mpa_teams.get(action) {
        Some(team) => Ok(mpa_json(action, team, "ACTIVE")),
        None => Err(ApiError::not_found(action)),
    }
}

/// `DisassociateMpaTeam`: removes the association at once and answers it as
/// `DELETE_PENDING` (its last state; a later `GetMpaTeamAssociation` finds
/// none). `ResourceNotFoundException` when the action has no team.
pub(crate) fn disassociate_mpa(inner: &Inner, o: Obj<'_>) -> ApiResult<Value> {
    let action = mpa_action(o)?;
    if o.has("RequesterComment") {
        o.str_len("RequesterComment", 0, 200)?;
    }
    let mut store = inner.write();
    let Some(team) = store.account_mut().mpa_teams.remove(action) else {
        return Err(ApiError::not_found(action));
    };
    store.save()?;
    Ok(mpa_json(action, &team, "DELETE_PENDING"))
}

/// The refusal for an operation an MPA team protects: the emulator runs no
/// approval sessions, so while a team is associated with `action` the
/// operation is a `ValidationException` saying so.
pub(crate) fn mpa_blocks(store: &Store, action: &str, op: &str) -> ApiResult<()> {
    if store.account().mpa_teams.contains_key(action) {
        return Err(ApiError::validation(format!(
            "{op}: an MPA team is associated with {action}, and this emulator does not model Multi-Party Approval sessions; disassociate the team to proceed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_public_policies() {
        assert!(is_region("us-west-2") && is_region("ap-southeast-10"));
        assert!(!is_region("us-west") && !is_region("US-west-2") && !is_region("u-west-2"));
        let public =
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:x", "*"]}}]});
        assert!(grants_public_access(&public));
        let private = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}});
        assert!(!grants_public_access(&private));
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": "*"}]});
        assert!(!grants_public_access(&deny));
    }
}

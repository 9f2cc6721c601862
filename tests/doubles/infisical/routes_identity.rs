//! Organization machine identities, `/api/v1/identities` (contract §4): create, list by org,
//! get (the org-membership shape, whose outer `id` is the membership id), update with
//! upstream's name/protection quirk, delete with protection and cascade, and `details`.
//! Identity names are not unique (observed live), so nothing here checks them. An identity in
//! another organization is indistinguishable from an unknown one: 404.

use serde_json::{Value, json};

use super::errors::{Check, Res, bad_request, err, forbidden, not_found, permission_denied};
use super::state::{Identity, State, iso, now_ms, uuid};
use super::{Caller, Ctx, auth};

pub const ORG_ROLES: [&str; 3] = ["admin", "member", "no-access"];

/// Privilege rank of an org role; custom roles count as member-level (brief's choice).
fn rank(role: &str) -> u8 {
    match role {
        "admin" => 3,
        "no-access" => 1,
        _ => 2,
    }
}

/// Only org admins manage identities, their UA and projects (the double's simplification of
/// CASL: the default `member` role may read identities, `no-access` nothing).
pub fn require_admin(caller: &Caller, action: &str, subject: &str) -> Result<(), super::Reply> {
    if caller.role == "admin" || (action == "read" && caller.role != "no-access") {
        Ok(())
    } else {
        Err(permission_denied(action, subject))
    }
}

/// An identity of the caller's org, or 404 (unknown and other-org alike).
pub fn find_identity<'a>(
    st: &'a State,
    caller: &Caller,
    id: &str,
) -> Result<&'a Identity, super::Reply> {
    st.identity(id)
        .filter(|i| i.org_id == caller.org_id)
        .ok_or_else(|| not_found(format!("Failed to find identity with id {id}")))
}

/// The identity row. Current servers add `authMethods`; legacy rows carry the single
/// `authMethod` instead (contract §12; the brief keeps the two apart).
pub fn row(st: &State, i: &Identity) -> Value {
    let has_ua = st.ua_of(&i.id).is_some();
    let mut v = json!({
        "id": i.id,
        "name": i.name,
        "orgId": i.org_id,
        "createdAt": iso(i.created_at),
        "updatedAt": iso(i.updated_at),
        "hasDeleteProtection": i.has_delete_protection,
        "projectId": null,
    });
    if st.legacy() {
        v["authMethod"] = if has_ua {
            json!("universal-auth")
        } else {
            Value::Null
        };
    } else {
        v["authMethods"] = json!(if has_ua {
            vec!["universal-auth"]
        } else {
            vec![]
        });
    }
    v
}

fn metadata(i: &Identity) -> Value {
    Value::Array(
        i.metadata
            .iter()
            .map(|(id, k, v)| json!({"id": id, "key": k, "value": v}))
            .collect(),
    )
}

/// The get/list shape: the org membership with the identity nested.
pub fn get_shape(st: &State, i: &Identity) -> Value {
    let mut inner = row(st, i);
    if let Some(m) = inner.as_object_mut() {
        for k in ["createdAt", "updatedAt", "projectId"] {
            m.remove(k);
        }
        m.insert(
            "activeLockoutAuthMethods".into(),
            json!(if st.ua_locked(&i.id) {
                vec!["universal-auth"]
            } else {
                vec![]
            }),
        );
    }
    let mut v = json!({
        "id": i.membership_id,
        "identityId": i.id,
        "orgId": i.org_id,
        "role": i.role,
        "roleId": null,
        "createdAt": iso(i.created_at),
        "updatedAt": iso(i.updated_at),
        "metadata": metadata(i),
        "identity": inner,
    });
    if !ORG_ROLES.contains(&i.role.as_str()) {
        v["role"] = json!("custom");
        v["customRole"] = json!({"slug": i.role, "name": i.role});
    }
    v
}

/// Checks an org role the caller wants to grant: custom slugs need the RBAC plan feature, and
/// are not modelled beyond that (with RBAC on, an unknown custom slug is 404); a role above the
/// caller's is a permission-boundary refusal. Messages not in the contract are upstream's
/// wording as far as known (unverified).
fn check_role(st: &State, caller: &Caller, role: &str, what: &str) -> Result<(), super::Reply> {
    if !ORG_ROLES.contains(&role) {
        let rbac = st.org(&caller.org_id).is_some_and(|o| o.rbac);
        if !rbac {
            return Err(bad_request(
                "Failed to assign custom role due to RBAC restriction. Upgrade plan to assign custom role to identity.",
            ));
        }
        return Err(not_found(format!("Role with slug '{role}' not found")));
    }
    if rank(role) > rank(&caller.role) {
        return Err(err(
            403,
            "PermissionBoundaryError",
            format!("Failed to {what} identity to a more privileged role"),
        ));
    }
    Ok(())
}

fn parse_metadata(
    c: &mut Check,
    items: Option<Vec<Value>>,
) -> Option<Vec<(String, String, String)>> {
    let items = items?;
    let mut out = Vec::new();
    for (n, it) in items.iter().enumerate() {
        match (it["key"].as_str(), it["value"].as_str()) {
            (Some(k), Some(v)) => out.push((uuid(), k.to_owned(), v.to_owned())),
            _ => c.custom(
                "metadata",
                &format!("metadata[{n}] needs string key and value"),
            ),
        }
    }
    Some(out)
}

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    Some(match (m, segs.as_slice()) {
        ("POST", ["v1", "identities"]) => create(st, ctx),
        ("GET", ["v1", "identities"]) => list(st, ctx),
        ("GET", ["v1", "identities", "details"]) => details(st, ctx),
        ("GET", ["v1", "identities", id]) => get(st, ctx, id),
        ("PATCH", ["v1", "identities", id]) => update(st, ctx, id),
        ("DELETE", ["v1", "identities", id]) => delete(st, ctx, id),
        _ => return super::routes_ua::handle(st, ctx),
    })
}

/// Refusal for an `orgId`/`organizationId` other than the token's org. The contract is silent;
/// upstream's org permission lookup finds no membership of the caller there and refuses with
/// 403 (message unverified).
fn other_org() -> super::Reply {
    forbidden("Identity is not a member of the specified organization")
}

fn create(st: &mut State, ctx: &Ctx) -> Res {
    let caller = auth(st, ctx)?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let name = c.str_req("name");
    let org_id = c.str_req("organizationId");
    let role = c.str_opt("role").unwrap_or_else(|| "no-access".into());
    let protect = c.bool_opt("hasDeleteProtection").unwrap_or(false);
    let items = c.array_opt("metadata");
    let meta = parse_metadata(&mut c, items).unwrap_or_default();
    c.finish()?;
    if org_id != caller.org_id {
        return Err(other_org());
    }
    require_admin(&caller, "create", "Identity")?;
    check_role(st, &caller, &role, "create")?;
    let now = now_ms();
    let i = Identity {
        id: uuid(),
        membership_id: uuid(),
        name,
        org_id,
        role,
        has_delete_protection: protect,
        metadata: meta,
        created_at: now,
        updated_at: now,
    };
    let mut v = row(st, &i);
    v["metadata"] = metadata(&i);
    st.identities.push(i);
    Ok(json!({ "identity": v }))
}

fn list(st: &mut State, ctx: &Ctx) -> Res {
    let caller = auth(st, ctx)?;
    let mut c = Check::query(&ctx.query, st.legacy());
    let org_id = c.str_req("orgId");
    c.finish()?;
    if org_id != caller.org_id {
        return Err(other_org());
    }
    require_admin(&caller, "read", "Identity")?;
    // Paging on this route is unverified (contract §4): everything is answered.
    let items: Vec<Value> = st
        .identities
        .iter()
        .filter(|i| i.org_id == org_id)
        .map(|i| get_shape(st, i))
        .collect();
    Ok(json!({ "totalCount": items.len(), "identities": items }))
}

fn details(st: &mut State, ctx: &Ctx) -> Res {
    let caller = auth(st, ctx)?;
    let org = st
        .org(&caller.org_id)
        .ok_or_else(|| not_found("Failed to find organization"))?;
    Ok(
        json!({"identityDetails": {"organization": {"id": org.id, "name": org.name, "slug": org.slug}}}),
    )
}

fn get(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    require_admin(&caller, "read", "Identity")?;
    let i = find_identity(st, &caller, id)?;
    Ok(json!({ "identity": get_shape(st, i) }))
}

fn update(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let name = c.str_opt("name");
    let role = c.str_opt("role");
    let protect = c.bool_opt("hasDeleteProtection");
    let items = c.array_opt("metadata");
    let meta = parse_metadata(&mut c, items);
    c.finish()?;
    require_admin(&caller, "edit", "Identity")?;
    find_identity(st, &caller, id)?;
    if let Some(r) = &role {
        check_role(st, &caller, r, "update")?;
    }
    let legacy = st.legacy();
    let Some(i) = st.identities.iter_mut().find(|i| i.id == id) else {
        return Err(not_found(format!("Failed to find identity with id {id}")));
    };
    // Upstream quirk (contract §4): name and protection are written only when a (non-empty)
    // name is given or protection is true; `hasDeleteProtection: false` alone changes nothing.
    if name.as_deref().is_some_and(|n| !n.is_empty()) || protect == Some(true) {
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            i.name = n;
        }
        if let Some(p) = protect {
            i.has_delete_protection = p;
        }
    }
    if let Some(r) = role {
        i.role = r;
    }
    if let Some(m) = meta {
        i.metadata = m;
    }
    i.updated_at = now_ms();
    let i = i.clone();
    let _ = legacy;
    Ok(json!({ "identity": row(st, &i) }))
}

fn delete(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    require_admin(&caller, "delete", "Identity")?;
    let i = find_identity(st, &caller, id)?.clone();
    if i.has_delete_protection {
        return Err(bad_request("Identity has delete protection"));
    }
    let v = row(st, &i);
    // DB cascade: UA config, client secrets, access tokens, project memberships.
    st.identities.retain(|x| x.id != i.id);
    st.uas.retain(|u| u.identity_id != i.id);
    st.client_secrets.retain(|s| s.identity_id != i.id);
    st.tokens.retain(|t| t.identity_id != i.id);
    st.memberships.retain(|m| m.identity_id != i.id);
    Ok(json!({ "identity": v }))
}

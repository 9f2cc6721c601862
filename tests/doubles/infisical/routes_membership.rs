//! Project memberships of identities (contract §9): the current
//! `/api/v1/projects/{pid}/memberships/identities[/{iid}]` routes and the deprecated
//! `/api/v1/projects/{pid}/identity-memberships/{iid}` and
//! `/api/v2/workspace/{pid}/identity-memberships[/{iid}]` ones (same bodies; their PATCH
//! answers `{"roles": [...]}`). One membership per (project, identity), holding a set of role
//! entries; built-in project roles are `admin`, `member`, `viewer`, `no-access`, anything else
//! is a custom role, which this double does not model: without the RBAC plan feature it is the
//! plan refusal, with it the "not found" answer. The list envelope of the current route is
//! unverified; the double answers the legacy one (`identityMemberships` + `totalCount`) there
//! too and honours `offset`/`limit` when given (no default cap).

use serde_json::{Value, json};

use super::access::{Need, by_id};
use super::errors::{Check, Reply, Res, bad_request, not_found};
use super::routes_identity::row;
use super::state::{Membership, Project, RoleEntry, State, iso, now_ms, uuid};
use super::{Caller, Ctx, auth};

const PROJECT_ROLES: [&str; 4] = ["admin", "member", "viewer", "no-access"];

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    // (project id, identity id or None for the list, deprecated route?)
    let (pid, iid, old) = match segs.as_slice() {
        ["v1", "projects", pid, "memberships", "identities"] => (*pid, None, false),
        ["v1", "projects", pid, "memberships", "identities", iid] => (*pid, Some(*iid), false),
        ["v1", "projects", pid, "identity-memberships", iid] => (*pid, Some(*iid), true),
        ["v2", "workspace", pid, "identity-memberships"] => (*pid, None, true),
        ["v2", "workspace", pid, "identity-memberships", iid] => (*pid, Some(*iid), true),
        _ => return super::routes_secrets::handle(st, ctx),
    };
    Some(match (m, iid) {
        ("GET", None) => list(st, ctx, pid),
        ("POST", Some(iid)) => create(st, ctx, pid, iid),
        ("GET", Some(iid)) => get(st, ctx, pid, iid),
        ("PATCH", Some(iid)) => update(st, ctx, pid, iid, old),
        ("DELETE", Some(iid)) => delete(st, ctx, pid, iid),
        _ => return None,
    })
}

fn entry_json(e: &RoleEntry) -> Value {
    json!({
        "id": e.id,
        "role": e.role,
        "customRoleId": null,
        "customRoleName": null,
        "customRoleSlug": null,
        "isTemporary": e.is_temporary,
        "temporaryMode": e.temporary_mode,
        "temporaryRange": e.temporary_range,
        "temporaryAccessStartTime": e.temporary_start,
        // Not computed from the range by the double (the tool compares permanent roles only).
        "temporaryAccessEndTime": null,
    })
}

fn get_shape(st: &State, m: &Membership, p: &Project) -> Value {
    let identity = st.identity(&m.identity_id).map(|i| {
        let r = row(st, i);
        let mut v = json!({"id": i.id, "name": i.name});
        for k in ["authMethods", "authMethod"] {
            if let Some(x) = r.get(k) {
                v[k] = x.clone();
            }
        }
        v
    });
    json!({
        "id": m.id,
        "identityId": m.identity_id,
        "createdAt": iso(m.created_at),
        "updatedAt": iso(m.updated_at),
        "roles": m.roles.iter().map(entry_json).collect::<Vec<_>>(),
        "identity": identity,
        "project": {"id": p.id, "name": p.name},
    })
}

fn short(m: &Membership) -> Value {
    json!({
        "id": m.id,
        "projectId": m.project_id,
        "identityId": m.identity_id,
        "createdAt": iso(m.created_at),
        "updatedAt": iso(m.updated_at),
    })
}

/// The role entries of a create or update body, checked like upstream's zod union
/// (`isTemporary` defaults to false; a temporary entry needs mode, range and start).
fn roles_body(st: &State, ctx: &Ctx, allow_single: bool) -> Result<Vec<RoleEntry>, Reply> {
    let mut c = Check::new(&ctx.body, st.legacy());
    let single = if allow_single && st.legacy() {
        c.str_opt("role")
    } else {
        None
    };
    let roles = if single.is_some() && !c.has("roles") {
        None
    } else if c.has("roles") {
        c.array_opt("roles")
    } else {
        c.str_req("roles");
        None
    };
    let mut out = Vec::new();
    if let Some(items) = &roles {
        if items.is_empty() {
            c.custom("roles", "Array must contain at least 1 element(s)");
        }
        for (n, it) in items.iter().enumerate() {
            let role = it.get("role").and_then(Value::as_str);
            let temp = match it.get("isTemporary") {
                None => Some(false),
                Some(v) => v.as_bool(),
            };
            let text = |k: &str| it.get(k).and_then(Value::as_str).map(str::to_owned);
            match (role, temp) {
                (Some(r), Some(t)) => {
                    let e = RoleEntry {
                        id: uuid(),
                        role: r.to_owned(),
                        is_temporary: t,
                        temporary_mode: text("temporaryMode"),
                        temporary_range: text("temporaryRange"),
                        temporary_start: text("temporaryAccessStartTime"),
                    };
                    if t && (e.temporary_mode.as_deref() != Some("relative")
                        || e.temporary_range.is_none()
                        || e.temporary_start.is_none())
                    {
                        c.custom("roles", &format!("roles[{n}]: temporary role needs temporaryMode, temporaryRange and temporaryAccessStartTime"));
                    }
                    out.push(e);
                }
                _ => c.custom("roles", &format!("roles[{n}]: Required")),
            }
        }
    }
    c.finish()?;
    if let Some(r) = single {
        out.push(RoleEntry {
            id: uuid(),
            role: r,
            is_temporary: false,
            temporary_mode: None,
            temporary_range: None,
            temporary_start: None,
        });
    }
    Ok(out)
}

/// Business checks on a role set: at least one permanent role, custom roles refused.
fn check_roles(st: &State, caller: &Caller, roles: &[RoleEntry]) -> Result<(), Reply> {
    if roles.iter().all(|r| r.is_temporary) {
        return Err(bad_request(
            "Identity must have at least one permanent role",
        ));
    }
    if let Some(custom) = roles
        .iter()
        .find(|r| !PROJECT_ROLES.contains(&r.role.as_str()))
    {
        if st.legacy() {
            return Err(not_found(format!(
                "Specified role was not found: {}",
                custom.role
            )));
        }
        if !st.org(&caller.org_id).is_some_and(|o| o.rbac) {
            return Err(bad_request(
                "Failed to assign custom role to identity due to plan RBAC restriction. Upgrade plan to assign custom role to identity.",
            ));
        }
        return Err(not_found("One or more custom roles not found"));
    }
    Ok(())
}

fn identity_in_org(st: &State, caller: &Caller, iid: &str) -> Result<(), Reply> {
    st.identity(iid)
        .filter(|i| i.org_id == caller.org_id)
        .map(|_| ())
        .ok_or_else(|| not_found(format!("Failed to find identity with ID {iid}")))
}

fn absent_get(st: &State, pid: &str, iid: &str) -> Reply {
    if st.legacy() {
        not_found(format!(
            "Project membership for identity with ID '{iid}' in project with ID '{pid}' not found"
        ))
    } else {
        not_found("Identity membership not found")
    }
}

/// Update/delete of a non-member: current 400, legacy 404 (contract §9).
fn absent_write(st: &State, pid: &str, iid: &str) -> Reply {
    if st.legacy() {
        absent_get(st, pid, iid)
    } else {
        bad_request("Identity doesn't have membership")
    }
}

fn create(st: &mut State, ctx: &Ctx, pid: &str, iid: &str) -> Res {
    let caller = auth(st, ctx)?;
    let roles = roles_body(st, ctx, true)?;
    let p = by_id(st, &caller, pid, Need::Admin, "create", "Identity")?;
    identity_in_org(st, &caller, iid)?;
    if st.membership(&p.id, iid).is_some() {
        return Err(bad_request(if st.legacy() {
            format!(
                "Identity with ID {iid} already exists in project with ID {}",
                p.id
            )
        } else {
            "Identity is already a member".to_owned()
        }));
    }
    check_roles(st, &caller, &roles)?;
    let now = now_ms();
    let m = Membership {
        id: uuid(),
        project_id: p.id,
        identity_id: iid.to_owned(),
        roles,
        created_at: now,
        updated_at: now,
    };
    let v = short(&m);
    st.memberships.push(m);
    Ok(json!({ "identityMembership": v }))
}

fn get(st: &mut State, ctx: &Ctx, pid: &str, iid: &str) -> Res {
    let caller = auth(st, ctx)?;
    let p = by_id(st, &caller, pid, Need::Read, "read", "Identity")?;
    let m = st
        .membership(&p.id, iid)
        .ok_or_else(|| absent_get(st, &p.id, iid))?;
    Ok(json!({ "identityMembership": get_shape(st, m, &p) }))
}

fn list(st: &mut State, ctx: &Ctx, pid: &str) -> Res {
    let caller = auth(st, ctx)?;
    let mut c = Check::query(&ctx.query, st.legacy());
    let offset = ctx.q("offset").map(|s| s.parse::<usize>());
    let limit = ctx.q("limit").map(|s| s.parse::<usize>());
    if matches!(offset, Some(Err(_))) {
        c.custom("offset", "Expected number, received nan");
    }
    if matches!(limit, Some(Err(_))) {
        c.custom("limit", "Expected number, received nan");
    }
    c.finish()?;
    let p = by_id(st, &caller, pid, Need::Read, "read", "Identity")?;
    let all: Vec<Value> = st
        .memberships
        .iter()
        .filter(|m| m.project_id == p.id)
        .map(|m| get_shape(st, m, &p))
        .collect();
    let total = all.len();
    let offset = offset.and_then(Result::ok).unwrap_or(0);
    let limit = limit.and_then(Result::ok).unwrap_or(usize::MAX);
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    Ok(json!({ "identityMemberships": page, "totalCount": total }))
}

fn update(st: &mut State, ctx: &Ctx, pid: &str, iid: &str, old: bool) -> Res {
    let caller = auth(st, ctx)?;
    let roles = roles_body(st, ctx, false)?;
    let p = by_id(st, &caller, pid, Need::Admin, "edit", "Identity")?;
    if st.membership(&p.id, iid).is_none() {
        return Err(absent_write(st, &p.id, iid));
    }
    check_roles(st, &caller, &roles)?;
    let Some(m) = st
        .memberships
        .iter_mut()
        .find(|m| m.project_id == p.id && m.identity_id == iid)
    else {
        return Err(absent_write(st, &p.id, iid));
    };
    m.roles = roles;
    m.updated_at = now_ms();
    let m = m.clone();
    if old {
        let now = iso(m.updated_at);
        let roles: Vec<Value> = m
            .roles
            .iter()
            .map(|e| {
                let mut v = entry_json(e);
                v["projectMembershipId"] = json!(m.id);
                v["createdAt"] = json!(now);
                v["updatedAt"] = json!(now);
                v
            })
            .collect();
        return Ok(json!({ "roles": roles }));
    }
    Ok(json!({ "identityMembership": get_shape(st, &m, &p) }))
}

fn delete(st: &mut State, ctx: &Ctx, pid: &str, iid: &str) -> Res {
    let caller = auth(st, ctx)?;
    let p = by_id(st, &caller, pid, Need::Admin, "delete", "Identity")?;
    let Some(m) = st.membership(&p.id, iid).cloned() else {
        return Err(absent_write(st, &p.id, iid));
    };
    if iid == caller.identity_id {
        return Err(bad_request("You can't delete your own membership"));
    }
    st.memberships.retain(|x| x.id != m.id);
    Ok(json!({ "identityMembership": short(&m) }))
}

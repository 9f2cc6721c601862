//! Environments of a project (contract §8): the current routes under
//! `/api/v1/projects/{projectId}/environments` and the legacy/deprecated ones under
//! `/api/v1/workspace/{projectId}/environments` (envelope key `workspace` instead of
//! `projectId`). Slugs are unique per project; creating at a taken position shifts that
//! environment and every later one up; a PATCH move shifts the ones in between; delete does not
//! renumber. Current servers soft-delete unless `hardDelete=true`; soft-deleted environments are
//! hidden everywhere and can be restored. Whether a soft-deleted slug stays reserved is
//! unverified upstream: the double keeps it reserved (the row still exists under the DB's unique
//! constraint), which is the less convenient choice for a client.

use serde_json::{Value, json};

use super::access::{Need, by_id};
use super::errors::{Check, Reply, Res, bad_request, err, not_found};
use super::state::{Env, State, iso, now_ms, uuid};
use super::{Ctx, auth};

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    let legacy = st.legacy();
    let (ws, rest): (bool, &[&str]) = match segs.as_slice() {
        ["v1", "workspace", "environments", id] if m == "GET" => {
            return Some(get_any(st, ctx, id));
        }
        ["v1", "projects", rest @ ..] => (false, rest),
        ["v1", "workspace", rest @ ..] => (true, rest),
        _ => return super::routes_membership::handle(st, ctx),
    };
    Some(match (m, rest) {
        ("POST", [pid, "environments"]) => create(st, ctx, pid, ws),
        ("GET", [pid, "environments", "slug", slug]) if !ws => get(st, ctx, pid, Sel::Slug(slug)),
        ("GET", [pid, "environments", id]) => get(st, ctx, pid, Sel::Id(id)),
        ("PATCH", [pid, "environments", id]) => update(st, ctx, pid, id, ws),
        ("DELETE", [pid, "environments", id]) => delete(st, ctx, pid, id, ws),
        ("POST", [pid, "environments", id, "restore"]) if !ws && !legacy => {
            restore(st, ctx, pid, id)
        }
        _ => return super::routes_membership::handle(st, ctx),
    })
}

enum Sel<'a> {
    Id(&'a str),
    Slug(&'a str),
}

pub fn env_json(e: &Env) -> Value {
    json!({
        "id": e.id,
        "name": e.name,
        "slug": e.slug,
        "position": e.position,
        "projectId": e.project_id,
        "createdAt": iso(e.created_at),
        "updatedAt": iso(e.updated_at),
    })
}

fn envelope(message: &str, pid: &str, e: &Env, ws: bool) -> Value {
    let key = if ws { "workspace" } else { "projectId" };
    json!({ "message": message, key: pid, "environment": env_json(e) })
}

fn missing(pid: &str, id: &str) -> Reply {
    not_found(format!(
        "Environment with id '{id}' in project with ID '{pid}' not found"
    ))
}

/// The error name of the slug-duplicate 400: services set their own (observed legacy
/// `CreateEnvironment`/`UpdateEnvironment`; current assumed the same).
fn duplicate(update: bool) -> Reply {
    err(
        400,
        if update {
            "UpdateEnvironment"
        } else {
            "CreateEnvironment"
        },
        "Environment with slug already exist",
    )
}

fn env_index(st: &State, pid: &str, id: &str) -> Result<usize, Reply> {
    st.envs
        .iter()
        .position(|e| e.id == id && e.project_id == pid && !e.deleted)
        .ok_or_else(|| missing(pid, id))
}

/// `(name, slug, position)` of a create or update body.
type EnvBody = (Option<String>, Option<String>, Option<i64>);

fn check_body(ctx: &Ctx, legacy: bool, create: bool) -> Result<EnvBody, Reply> {
    let mut c = Check::new(&ctx.body, legacy);
    let (name, slug) = if create {
        (Some(c.str_req("name")), Some(c.str_req("slug")))
    } else {
        (c.str_opt("name"), c.str_opt("slug"))
    };
    if let Some(s) = &slug
        && c.has("slug")
    {
        c.str_len("slug", s, 1, 64);
        c.slug("slug", s);
    }
    let position = c.int_opt("position", 1, i64::MAX);
    c.finish()?;
    Ok((name, slug, position))
}

fn create(st: &mut State, ctx: &Ctx, pid: &str, ws: bool) -> Res {
    let caller = auth(st, ctx)?;
    let (name, slug, position) = check_body(ctx, st.legacy(), true)?;
    let p = by_id(st, &caller, pid, Need::Write, "create", "Environments")?;
    let (name, slug) = (name.unwrap_or_default(), slug.unwrap_or_default());
    if st
        .envs
        .iter()
        .any(|e| e.project_id == p.id && e.slug == slug)
    {
        return Err(duplicate(false));
    }
    let last = st
        .envs_of(&p.id)
        .iter()
        .map(|e| e.position)
        .max()
        .unwrap_or(0);
    let position = match position {
        Some(pos) => {
            if st.envs_of(&p.id).iter().any(|e| e.position == pos) {
                for e in st
                    .envs
                    .iter_mut()
                    .filter(|e| e.project_id == p.id && !e.deleted && e.position >= pos)
                {
                    e.position += 1;
                }
            }
            pos
        }
        None => last + 1,
    };
    let now = now_ms();
    let e = Env {
        id: uuid(),
        project_id: p.id.clone(),
        name,
        slug,
        position,
        deleted: false,
        created_at: now,
        updated_at: now,
    };
    st.new_folder(&e.id, None, "root");
    st.envs.push(e.clone());
    Ok(envelope(
        "Successfully created new environment",
        &p.id,
        &e,
        ws,
    ))
}

fn get(st: &mut State, ctx: &Ctx, pid: &str, sel: Sel) -> Res {
    let caller = auth(st, ctx)?;
    let p = by_id(st, &caller, pid, Need::Read, "read", "Environments")?;
    let e = match sel {
        Sel::Id(id) => st.envs[env_index(st, &p.id, id)?].clone(),
        Sel::Slug(slug) => st
            .envs_of(&p.id)
            .into_iter()
            .find(|e| e.slug == slug)
            .cloned()
            .ok_or_else(|| {
                not_found(format!(
                    "Environment with slug '{slug}' in project with ID '{pid}' not found"
                ))
            })?,
    };
    Ok(json!({ "environment": env_json(&e) }))
}

/// The deprecated `GET /api/v1/workspace/environments/{envId}`: the project comes from the env.
fn get_any(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    let Some(e) = st.envs.iter().find(|e| e.id == id && !e.deleted).cloned() else {
        return Err(not_found(format!("Environment with id '{id}' not found")));
    };
    by_id(
        st,
        &caller,
        &e.project_id,
        Need::Read,
        "read",
        "Environments",
    )
    .map_err(|_| not_found(format!("Environment with id '{id}' not found")))?;
    Ok(json!({ "environment": env_json(&e) }))
}

fn update(st: &mut State, ctx: &Ctx, pid: &str, id: &str, ws: bool) -> Res {
    let caller = auth(st, ctx)?;
    let (name, slug, position) = check_body(ctx, st.legacy(), false)?;
    let p = by_id(st, &caller, pid, Need::Write, "edit", "Environments")?;
    let i = env_index(st, &p.id, id)?;
    if let Some(s) = &slug
        && st
            .envs
            .iter()
            .any(|e| e.project_id == p.id && e.id != id && &e.slug == s)
    {
        return Err(duplicate(true));
    }
    if let Some(to) = position {
        let from = st.envs[i].position;
        let taken = st
            .envs_of(&p.id)
            .iter()
            .any(|e| e.position == to && e.id != id);
        if taken {
            for e in st
                .envs
                .iter_mut()
                .filter(|e| e.project_id == p.id && !e.deleted && e.id != id)
            {
                if to < from && e.position >= to && e.position < from {
                    e.position += 1;
                } else if to > from && e.position > from && e.position <= to {
                    e.position -= 1;
                }
            }
        }
    }
    let e = &mut st.envs[i];
    if let Some(v) = name {
        e.name = v;
    }
    if let Some(v) = slug {
        e.slug = v;
    }
    if let Some(v) = position {
        e.position = v;
    }
    e.updated_at = now_ms();
    let e = e.clone();
    Ok(envelope("Successfully updated environment", &p.id, &e, ws))
}

fn delete(st: &mut State, ctx: &Ctx, pid: &str, id: &str, ws: bool) -> Res {
    let caller = auth(st, ctx)?;
    let mut c = Check::query(&ctx.query, st.legacy());
    let hard = c.query_bool("hardDelete");
    c.finish()?;
    let p = by_id(st, &caller, pid, Need::Write, "delete", "Environments")?;
    let i = env_index(st, &p.id, id)?;
    let e = st.envs[i].clone();
    // Legacy builds have no soft delete.
    if st.legacy() || hard == Some(true) {
        st.drop_env_contents(&e.id);
        st.envs.retain(|x| x.id != e.id);
    } else {
        st.envs[i].deleted = true;
    }
    Ok(envelope("Successfully deleted environment", &p.id, &e, ws))
}

fn restore(st: &mut State, ctx: &Ctx, pid: &str, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    let p = by_id(st, &caller, pid, Need::Write, "edit", "Environments")?;
    let Some(i) = st
        .envs
        .iter()
        .position(|e| e.id == id && e.project_id == p.id)
    else {
        return Err(missing(pid, id));
    };
    if !st.envs[i].deleted {
        // Contract silent; message is the double's.
        return Err(bad_request("Environment is not deleted"));
    }
    st.envs[i].deleted = false;
    st.envs[i].updated_at = now_ms();
    let e = st.envs[i].clone();
    Ok(envelope(
        "Successfully restored environment",
        &p.id,
        &e,
        false,
    ))
}

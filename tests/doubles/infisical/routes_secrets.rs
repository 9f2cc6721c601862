//! Folders (`/api/v2/folders`, deprecated `/api/v1/folders` with `workspaceId`) and raw secrets
//! (`/api/v3/secrets/raw[/{name}]`), enough of contract §10 for the tool's checks. Folders form
//! a tree per environment under a root folder; create makes missing intermediate folders; a
//! sibling with the same name is a 400 on current builds and answers the existing folder on
//! legacy ones. Secrets live in an existing folder, keys are case-sensitive and unique per
//! (folder, type); `version` grows on every update; read and list answer the value, as
//! Infisical does for raw secrets. Not-found wordings the contract does not give are marked.

use serde_json::{Value, json};

use super::access::{Need, by_id};
use super::errors::{Check, Reply, Res, bad_request, not_found};
use super::routes_folders as F;
use super::state::{Env, Secret, State, iso, now_ms, uuid};
use super::{Ctx, auth};

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    let ws = |v: &str| {
        if v == "v1" {
            "workspaceId"
        } else {
            "projectId"
        }
    };
    Some(match (m, segs.as_slice()) {
        ("POST", [v @ ("v1" | "v2"), "folders"]) => F::folder_create(st, ctx, ws(v)),
        ("GET", [v @ ("v1" | "v2"), "folders"]) => F::folder_list(st, ctx, ws(v)),
        ("GET", ["v2", "folders", id]) => F::folder_get(st, ctx, id),
        ("PATCH", [v @ ("v1" | "v2"), "folders", id]) => F::folder_update(st, ctx, ws(v), id),
        ("DELETE", [v @ ("v1" | "v2"), "folders", id]) => F::folder_delete(st, ctx, ws(v), id),
        ("GET", ["v3", "secrets", "raw"]) => secret_list(st, ctx),
        ("GET", ["v3", "secrets", "raw", name]) => secret_read(st, ctx, name),
        ("POST", ["v3", "secrets", "raw", name]) => secret_create(st, ctx, name),
        ("PATCH", ["v3", "secrets", "raw", name]) => secret_update(st, ctx, name),
        ("DELETE", ["v3", "secrets", "raw", name]) => secret_delete(st, ctx, name),
        _ => return None,
    })
}

pub fn parts(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn path_str(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// Where a folder or secret call points: project, environment and the path's segments.
pub struct Place {
    pub project_id: String,
    pub env: Env,
    pub path: Vec<String>,
}

/// Reads `{project key, environment, path key}` from the body or the query and checks access.
pub fn place(
    st: &State,
    ctx: &Ctx,
    pkey: &str,
    path_key: &str,
    from_query: bool,
    need: Need,
    action: &str,
) -> Result<Place, Reply> {
    let caller = auth(st, ctx)?;
    let mut c = if from_query {
        Check::query(&ctx.query, st.legacy())
    } else {
        Check::new(&ctx.body, st.legacy())
    };
    let pid = c.str_req(pkey);
    let env = c.str_req("environment");
    let path = c.str_opt(path_key).unwrap_or_else(|| "/".into());
    c.finish()?;
    let p = by_id(st, &caller, &pid, need, action, "Secrets")?;
    let env = st
        .envs_of(&p.id)
        .into_iter()
        .find(|e| e.slug == env)
        .cloned()
        .ok_or_else(|| {
            not_found(format!(
                "Environment with slug '{env}' in project with ID '{}' not found",
                p.id
            ))
        })?;
    Ok(Place {
        project_id: p.id,
        env,
        path: parts(&path),
    })
}

/// The folder at `path` in the environment, if it exists.
fn resolve(st: &State, env_id: &str, path: &[String]) -> Option<String> {
    let mut cur = st.root_folder(env_id)?.id.clone();
    for name in path {
        cur = st
            .folders
            .iter()
            .find(|f| f.parent_id.as_deref() == Some(cur.as_str()) && &f.name == name)?
            .id
            .clone();
    }
    Some(cur)
}

pub fn resolve_or_404(st: &State, pl: &Place) -> Result<String, Reply> {
    resolve(st, &pl.env.id, &pl.path).ok_or_else(|| {
        // Upstream wording (unverified).
        not_found(format!(
            "Folder with path '{}' in environment with slug '{}' not found",
            path_str(&pl.path),
            pl.env.slug
        ))
    })
}

fn secret_json(s: &Secret, pl: &Place) -> Value {
    json!({
        "id": s.id, "_id": s.id, "workspace": pl.project_id, "environment": pl.env.slug,
        "version": s.version, "type": s.kind, "secretKey": s.key, "secretValue": s.value,
        "secretComment": s.comment, "skipMultilineEncoding": s.skip_multiline_encoding,
        "createdAt": iso(s.created_at), "updatedAt": iso(s.updated_at),
        "secretPath": path_str(&pl.path), "tags": [],
    })
}

fn secret_type(c: &mut Check) -> String {
    let t = c.str_opt("type").unwrap_or_else(|| "shared".into());
    if t != "shared" && t != "personal" {
        c.custom("type", "Invalid enum value. Expected 'shared' | 'personal'");
    }
    t
}

fn find_secret(st: &State, folder: &str, name: &str, kind: &str) -> Result<usize, Reply> {
    st.secrets
        .iter()
        .position(|s| s.folder_id == folder && s.key == name && s.kind == kind)
        .ok_or_else(|| not_found(format!("Secret with name '{name}' not found")))
}

fn secret_list(st: &mut State, ctx: &Ctx) -> Res {
    let pl = place(
        st,
        ctx,
        "workspaceId",
        "secretPath",
        true,
        Need::Read,
        "read",
    )?;
    let folder = resolve_or_404(st, &pl)?;
    let items: Vec<Value> = st
        .secrets
        .iter()
        .filter(|s| s.folder_id == folder)
        .map(|s| secret_json(s, &pl))
        .collect();
    Ok(json!({ "secrets": items, "imports": [] }))
}

fn secret_read(st: &mut State, ctx: &Ctx, name: &str) -> Res {
    let pl = place(
        st,
        ctx,
        "workspaceId",
        "secretPath",
        true,
        Need::Read,
        "read",
    )?;
    let mut c = Check::query(&ctx.query, st.legacy());
    let kind = secret_type(&mut c);
    c.finish()?;
    let folder = resolve_or_404(st, &pl)?;
    let i = find_secret(st, &folder, name, &kind)?;
    Ok(json!({ "secret": secret_json(&st.secrets[i], &pl) }))
}

fn secret_create(st: &mut State, ctx: &Ctx, name: &str) -> Res {
    let pl = place(
        st,
        ctx,
        "workspaceId",
        "secretPath",
        false,
        Need::Write,
        "create",
    )?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let value = c.str_req("secretValue");
    let comment = c.str_opt("secretComment").unwrap_or_default();
    let kind = secret_type(&mut c);
    let skip = c.bool_opt("skipMultilineEncoding").unwrap_or(false);
    c.finish()?;
    let folder = resolve_or_404(st, &pl)?;
    if find_secret(st, &folder, name, &kind).is_ok() {
        return Err(bad_request("Secret already exist"));
    }
    let now = now_ms();
    let s = Secret {
        id: uuid(),
        folder_id: folder,
        key: name.to_owned(),
        value,
        comment,
        kind,
        skip_multiline_encoding: skip,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let v = secret_json(&s, &pl);
    st.secrets.push(s);
    Ok(json!({ "secret": v }))
}

fn secret_update(st: &mut State, ctx: &Ctx, name: &str) -> Res {
    let pl = place(
        st,
        ctx,
        "workspaceId",
        "secretPath",
        false,
        Need::Write,
        "edit",
    )?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let value = c.str_opt("secretValue");
    let comment = c.str_opt("secretComment");
    let new_name = c.str_opt("newSecretName");
    let kind = secret_type(&mut c);
    let skip = c.bool_opt("skipMultilineEncoding");
    c.finish()?;
    let folder = resolve_or_404(st, &pl)?;
    let i = find_secret(st, &folder, name, &kind)?;
    if let Some(n) = &new_name
        && n != name
        && find_secret(st, &folder, n, &kind).is_ok()
    {
        return Err(bad_request("Secret already exist"));
    }
    let s = &mut st.secrets[i];
    if let Some(v) = value {
        s.value = v;
    }
    if let Some(v) = comment {
        s.comment = v;
    }
    if let Some(v) = new_name {
        s.key = v;
    }
    if let Some(v) = skip {
        s.skip_multiline_encoding = v;
    }
    s.version += 1;
    s.updated_at = now_ms();
    Ok(json!({ "secret": secret_json(s, &pl) }))
}

fn secret_delete(st: &mut State, ctx: &Ctx, name: &str) -> Res {
    let pl = place(
        st,
        ctx,
        "workspaceId",
        "secretPath",
        false,
        Need::Write,
        "delete",
    )?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let kind = secret_type(&mut c);
    c.finish()?;
    let folder = resolve_or_404(st, &pl)?;
    let i = find_secret(st, &folder, name, &kind)?;
    let s = st.secrets.remove(i);
    Ok(json!({ "secret": secret_json(&s, &pl) }))
}

//! Folders (contract §10): `/api/v2/folders` and the deprecated `/api/v1/folders`, which names
//! the project `workspaceId`. Folders form a tree per environment under a root folder made with
//! the environment; create makes missing intermediate folders (observed); a sibling with the
//! same name is a 400 on current builds and answers the existing folder with 200 on legacy
//! ones (observed). Deleting removes the subtree and its secrets. Not-found wordings the
//! contract does not give are the double's (marked).

use serde_json::{Value, json};

use super::access::{Need, by_id};
use super::errors::{Check, Reply, Res, bad_request, not_found};
use super::routes_secrets::{path_str, place, resolve_or_404};
use super::state::{Folder, State, iso, now_ms};
use super::{Ctx, auth};

fn folder_json(f: &Folder) -> Value {
    json!({
        "id": f.id, "name": f.name, "envId": f.env_id, "parentId": f.parent_id,
        "version": f.version, "isReserved": false, "description": f.description,
        "createdAt": iso(f.created_at), "updatedAt": iso(f.updated_at),
    })
}

fn valid_name(c: &mut Check, name: &str) {
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        c.custom(
            "name",
            "Folder name can only contain alphanumeric, dashes, and underscores",
        );
    }
}

fn exists(name: &str, path: &[String]) -> Reply {
    bad_request(format!(
        "Folder with name '{name}' already exists in path '{}'",
        path_str(path)
    ))
}

pub fn folder_create(st: &mut State, ctx: &Ctx, pkey: &str) -> Res {
    let pl = place(st, ctx, pkey, "path", false, Need::Write, "create")?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let name = c.str_req("name");
    valid_name(&mut c, &name);
    let description = c.str_opt("description");
    c.finish()?;
    let Some(mut cur) = st.root_folder(&pl.env.id).map(|f| f.id.clone()) else {
        return Err(not_found("Root folder not found"));
    };
    for seg in &pl.path {
        cur = match st
            .folders
            .iter()
            .find(|f| f.parent_id.as_deref() == Some(cur.as_str()) && &f.name == seg)
        {
            Some(f) => f.id.clone(),
            None => st.new_folder(&pl.env.id, Some(cur.clone()), seg),
        };
    }
    if let Some(f) = st
        .folders
        .iter()
        .find(|f| f.parent_id.as_deref() == Some(cur.as_str()) && f.name == name)
    {
        if st.legacy() {
            return Ok(json!({ "folder": folder_json(f) }));
        }
        return Err(exists(&name, &pl.path));
    }
    let id = st.new_folder(&pl.env.id, Some(cur), &name);
    let f = st
        .folders
        .iter_mut()
        .find(|f| f.id == id)
        .ok_or_else(|| not_found("Folder vanished"))?;
    f.description = description;
    Ok(json!({ "folder": folder_json(f) }))
}

pub fn folder_list(st: &mut State, ctx: &Ctx, pkey: &str) -> Res {
    let pl = place(st, ctx, pkey, "path", true, Need::Read, "read")?;
    let parent = resolve_or_404(st, &pl)?;
    let items: Vec<Value> = st
        .folders
        .iter()
        .filter(|f| f.parent_id.as_deref() == Some(parent.as_str()))
        .map(folder_json)
        .collect();
    Ok(json!({ "folders": items }))
}

/// The path of a folder, from the root.
fn folder_path(st: &State, f: &Folder) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = Some(f.clone());
    while let Some(x) = cur {
        if x.parent_id.is_none() {
            break;
        }
        out.push(x.name.clone());
        cur = st
            .folders
            .iter()
            .find(|p| Some(&p.id) == x.parent_id.as_ref())
            .cloned();
    }
    out.reverse();
    out
}

pub fn folder_get(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    // Contract silent on the wording; other-project folders read as unknown.
    let missing = || not_found(format!("Folder with ID '{id}' not found"));
    let f = st
        .folders
        .iter()
        .find(|f| f.id == id && f.parent_id.is_some())
        .cloned()
        .ok_or_else(missing)?;
    let env = st
        .envs
        .iter()
        .find(|e| e.id == f.env_id && !e.deleted)
        .cloned()
        .ok_or_else(missing)?;
    by_id(st, &caller, &env.project_id, Need::Read, "read", "Secrets").map_err(|_| missing())?;
    let mut v = folder_json(&f);
    v["environment"] = json!({"envId": env.id, "envName": env.name, "envSlug": env.slug});
    v["path"] = json!(path_str(&folder_path(st, &f)));
    v["projectId"] = json!(env.project_id);
    Ok(json!({ "folder": v }))
}

pub fn folder_update(st: &mut State, ctx: &Ctx, pkey: &str, id: &str) -> Res {
    let pl = place(st, ctx, pkey, "path", false, Need::Write, "edit")?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let name = c.str_req("name");
    valid_name(&mut c, &name);
    let description = c.str_opt("description");
    c.finish()?;
    let parent = resolve_or_404(st, &pl)?;
    let Some(i) = st
        .folders
        .iter()
        .position(|f| f.id == id && f.parent_id.as_deref() == Some(parent.as_str()))
    else {
        return Err(not_found(format!("Folder with ID '{id}' not found")));
    };
    if st
        .folders
        .iter()
        .any(|f| f.id != id && f.parent_id.as_deref() == Some(parent.as_str()) && f.name == name)
    {
        return Err(exists(&name, &pl.path));
    }
    let f = &mut st.folders[i];
    f.name = name;
    if description.is_some() {
        f.description = description;
    }
    f.version += 1;
    f.updated_at = now_ms();
    Ok(json!({ "folder": folder_json(f) }))
}

pub fn folder_delete(st: &mut State, ctx: &Ctx, pkey: &str, id_or_name: &str) -> Res {
    let pl = place(st, ctx, pkey, "path", false, Need::Write, "delete")?;
    let parent = resolve_or_404(st, &pl)?;
    let Some(f) = st
        .folders
        .iter()
        .find(|f| {
            f.parent_id.as_deref() == Some(parent.as_str())
                && (f.id == id_or_name || f.name == id_or_name)
        })
        .cloned()
    else {
        return Err(not_found(format!(
            "Folder with ID '{id_or_name}' not found"
        )));
    };
    let tree = st.folder_subtree(&f.id);
    st.secrets.retain(|s| !tree.contains(&s.folder_id));
    st.folders.retain(|x| !tree.contains(&x.id));
    Ok(json!({ "folder": folder_json(&f) }))
}

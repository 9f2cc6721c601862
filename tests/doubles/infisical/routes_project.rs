//! Projects (contract §7): the current `/api/v1/projects` routes and the deprecated
//! `/api/v2/workspace` / `/api/v1/workspace` aliases, which both API generations serve.
//! Slugs are unique per organization (a DB constraint), names are not. Creating makes the
//! creator an `admin` member and, unless told otherwise (legacy always), the three default
//! environments, each with a root folder. Lists hold only the caller's projects. Deleting
//! cascades to environments, folders, secrets and memberships.

use rand::Rng;
use serde_json::{Value, json};

use super::access::{Need, by_id, by_slug};
use super::errors::{Check, Res, bad_request, err, forbidden, internal};
use super::routes_identity::require_admin;
use super::state::{Env, Membership, Project, RoleEntry, State, iso, now_ms, uuid};
use super::{Ctx, auth};

const TYPES: [&str; 6] = [
    "secret-manager",
    "cert-manager",
    "kms",
    "ssh",
    "secret-scanning",
    "pam",
];

/// Which envelope an answer goes out in.
#[derive(Clone, Copy)]
enum Wrap {
    Project,
    Workspace,
    Bare,
}

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    let legacy = st.legacy();
    Some(match (m, segs.as_slice()) {
        ("POST", ["v1", "projects"]) | ("POST", ["v2", "workspace"]) => create(st, ctx),
        ("GET", ["v1", "projects"]) => list(st, ctx, "projects"),
        ("GET", ["v1", "workspace"]) if legacy => {
            // Users only on legacy builds (observed 403 for identities; message unverified).
            auth(st, ctx).and_then(|_| Err(forbidden("Identities cannot access this resource")))
        }
        ("GET", ["v1", "workspace"]) => list(st, ctx, "workspaces"),
        ("GET", ["v1", "projects", "slug", slug]) => get(st, ctx, Key::Slug(slug), Wrap::Bare),
        ("GET", ["v1", "projects", id]) => get(st, ctx, Key::Id(id), Wrap::Project),
        ("PATCH", ["v1", "projects", id]) => update(st, ctx, Key::Id(id), Wrap::Project),
        ("DELETE", ["v1", "projects", id]) => delete(st, ctx, Key::Id(id), Wrap::Project),
        ("GET", ["v2", "workspace", slug]) => get(st, ctx, Key::Slug(slug), Wrap::Bare),
        ("PATCH", ["v2", "workspace", slug]) => update(st, ctx, Key::Slug(slug), Wrap::Bare),
        ("DELETE", ["v2", "workspace", slug]) => delete(st, ctx, Key::Slug(slug), Wrap::Bare),
        ("GET", ["v1", "workspace", id]) => get(st, ctx, Key::Id(id), Wrap::Workspace),
        ("PATCH", ["v1", "workspace", id]) => update(st, ctx, Key::Id(id), Wrap::Workspace),
        ("DELETE", ["v1", "workspace", id]) => delete(st, ctx, Key::Id(id), Wrap::Workspace),
        _ => return super::routes_env::handle(st, ctx),
    })
}

#[derive(Clone, Copy)]
enum Key<'a> {
    Id(&'a str),
    Slug(&'a str),
}

fn find(
    st: &State,
    ctx: &Ctx,
    key: Key,
    need: Need,
    action: &str,
) -> Result<Project, super::Reply> {
    let caller = auth(st, ctx)?;
    match key {
        Key::Id(id) => by_id(st, &caller, id, need, action, "Project"),
        Key::Slug(s) => by_slug(st, &caller, s, need, action, "Project"),
    }
}

/// The project object; `with_envs` adds `_id` and the environments ordered by position.
/// Current-only fields are left out in legacy mode.
pub fn project_json(st: &State, p: &Project, with_envs: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "slug": p.slug,
        "orgId": p.org_id,
        "autoCapitalization": p.auto_capitalization,
        "hasDeleteProtection": p.has_delete_protection,
        "version": 3,
        "upgradeStatus": null,
        "pitVersionLimit": 10,
        "kmsCertificateKeyId": null,
        "auditLogsRetentionDays": null,
        "createdAt": iso(p.created_at),
        "updatedAt": iso(p.updated_at),
    });
    if !st.legacy() {
        v["type"] = json!(p.kind);
        v["defaultProduct"] = json!(p.kind);
        v["secretSharing"] = json!(true);
        v["showSnapshotsLegacy"] = json!(false);
        v["secretDetectionIgnoreValues"] = json!([]);
    }
    if with_envs {
        v["_id"] = json!(p.id);
        v["environments"] = Value::Array(
            st.envs_of(&p.id)
                .iter()
                .map(|e| json!({"id": e.id, "name": e.name, "slug": e.slug}))
                .collect(),
        );
    }
    v
}

fn wrap(v: Value, e: Wrap) -> Value {
    match e {
        Wrap::Project => json!({ "project": v }),
        Wrap::Workspace => json!({ "workspace": v }),
        Wrap::Bare => v,
    }
}

/// Upstream's `slugify(name)` plus a random 4-character suffix, for a create without `slug`.
fn generated_slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    let mut rng = rand::rng();
    let suffix: String = (0..4)
        .map(|_| {
            let n = rng.random_range(0..36u8);
            char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 })
        })
        .collect();
    let base: String = s.chars().take(31).collect();
    let base = base.trim_end_matches('-');
    if base.is_empty() {
        suffix
    } else {
        format!("{base}-{suffix}")
    }
}

fn duplicate_slug(st: &State, slug: &str, update: bool) -> super::Reply {
    if st.legacy() {
        // Legacy: the DB unique violation surfaces as a 500 named after the operation
        // (observed for create; `Update` for an update is this double's analogue).
        return internal(if update { "Update" } else { "Create" });
    }
    let prefix = if update {
        "Failed to update project. "
    } else {
        ""
    };
    bad_request(format!(
        "{prefix}A project with the slug \"{slug}\" already exists in your organization. Please choose a different name or slug."
    ))
}

fn create(st: &mut State, ctx: &Ctx) -> Res {
    let caller = auth(st, ctx)?;
    let legacy = st.legacy();
    let mut c = Check::new(&ctx.body, legacy);
    let name = c.str_req("projectName");
    let description = c.str_opt("projectDescription").unwrap_or_default();
    let slug = c.str_opt("slug");
    if let Some(s) = &slug {
        c.str_len("slug", s, 5, 36);
        c.slug("slug", s);
    }
    let kind = c.str_opt("type").unwrap_or_else(|| "secret-manager".into());
    if !TYPES.contains(&kind.as_str()) {
        c.custom("type", "Invalid enum value");
    }
    let template = c.str_opt("template").unwrap_or_else(|| "default".into());
    let _kms = c.str_opt("kmsKeyId");
    // Legacy builds predate `shouldCreateDefaultEnvs` and always create the three (§7).
    let default_envs = c.bool_opt("shouldCreateDefaultEnvs").unwrap_or(true) || legacy;
    let protect = c.bool_opt("hasDeleteProtection").unwrap_or(false);
    c.finish()?;
    require_admin(&caller, "create", "Workspace")?;
    if template != "default" {
        // Templates need a licence the double never has (message unverified).
        return Err(bad_request(
            "Failed to use project template due to plan restriction. Upgrade plan to access project templates.",
        ));
    }
    let slug = slug.unwrap_or_else(|| generated_slug(&name));
    if st
        .projects
        .iter()
        .any(|p| p.org_id == caller.org_id && p.slug == slug)
    {
        return Err(duplicate_slug(st, &slug, false));
    }
    let now = now_ms();
    let p = Project {
        id: uuid(),
        org_id: caller.org_id.clone(),
        name,
        description,
        slug,
        kind,
        auto_capitalization: false,
        has_delete_protection: protect,
        created_at: now,
        updated_at: now,
    };
    if default_envs {
        for (pos, (n, s)) in [
            ("Development", "dev"),
            ("Staging", "staging"),
            ("Production", "prod"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = uuid();
            st.envs.push(Env {
                id: id.clone(),
                project_id: p.id.clone(),
                name: n.into(),
                slug: s.into(),
                position: pos as i64 + 1,
                deleted: false,
                created_at: now,
                updated_at: now,
            });
            st.new_folder(&id, None, "root");
        }
    }
    st.memberships.push(Membership {
        id: uuid(),
        project_id: p.id.clone(),
        identity_id: caller.identity_id,
        roles: vec![RoleEntry {
            id: uuid(),
            role: "admin".into(),
            is_temporary: false,
            temporary_mode: None,
            temporary_range: None,
            temporary_start: None,
        }],
        created_at: now,
        updated_at: now,
    });
    st.projects.push(p.clone());
    Ok(json!({ "project": project_json(st, &p, true) }))
}

fn list(st: &mut State, ctx: &Ctx, key: &str) -> Res {
    let caller = auth(st, ctx)?;
    let kind = ctx.q("type");
    let items: Vec<Value> = st
        .projects
        .iter()
        .filter(|p| {
            p.org_id == caller.org_id && st.membership(&p.id, &caller.identity_id).is_some()
        })
        .filter(|p| kind.is_none_or(|k| k == "all" || k == p.kind))
        .map(|p| project_json(st, p, true))
        .collect();
    Ok(json!({ key: items }))
}

fn get(st: &mut State, ctx: &Ctx, key: Key, e: Wrap) -> Res {
    let p = find(st, ctx, key, Need::Read, "read")?;
    Ok(wrap(project_json(st, &p, true), e))
}

fn update(st: &mut State, ctx: &Ctx, key: Key, e: Wrap) -> Res {
    auth(st, ctx)?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let name = c.str_opt("name");
    if let Some(n) = &name {
        c.str_len("name", n, 0, 64);
    }
    let description = c.str_opt("description");
    if let Some(d) = &description {
        c.str_len("description", d, 0, 256);
    }
    let slug = c.str_opt("slug");
    if let Some(s) = &slug {
        c.str_len("slug", s, 1, 64);
        // The update rule also allows underscores between runs (§7).
        if !s.split(['-', '_']).all(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        }) {
            c.custom("slug", "Slug must be a valid slug");
        }
    }
    let auto_cap = c.bool_opt("autoCapitalization");
    let protect = c.bool_opt("hasDeleteProtection");
    c.finish()?;
    let p = find(st, ctx, key, Need::Admin, "edit")?;
    if let Some(s) = &slug
        && st
            .projects
            .iter()
            .any(|x| x.org_id == p.org_id && x.id != p.id && &x.slug == s)
    {
        return Err(duplicate_slug(st, s, true));
    }
    let Some(x) = st.projects.iter_mut().find(|x| x.id == p.id) else {
        return Err(super::access::missing_by_id(st, &p.id));
    };
    if let Some(v) = name {
        x.name = v;
    }
    if let Some(v) = description {
        x.description = v;
    }
    if let Some(v) = slug {
        x.slug = v;
    }
    if let Some(v) = auto_cap {
        x.auto_capitalization = v;
    }
    if let Some(v) = protect {
        x.has_delete_protection = v;
    }
    x.updated_at = now_ms();
    let p = x.clone();
    Ok(wrap(project_json(st, &p, false), e))
}

fn delete(st: &mut State, ctx: &Ctx, key: Key, e: Wrap) -> Res {
    let p = find(st, ctx, key, Need::Admin, "delete")?;
    if p.has_delete_protection {
        return Err(err(
            403,
            "ForbiddenError",
            "Project delete protection is enabled",
        ));
    }
    let v = project_json(st, &p, false);
    let envs: Vec<String> = st
        .envs
        .iter()
        .filter(|x| x.project_id == p.id)
        .map(|x| x.id.clone())
        .collect();
    for id in &envs {
        st.drop_env_contents(id);
    }
    st.envs.retain(|x| x.project_id != p.id);
    st.memberships.retain(|m| m.project_id != p.id);
    st.projects.retain(|x| x.id != p.id);
    Ok(wrap(v, e))
}

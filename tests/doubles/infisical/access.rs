//! Project lookup and project-level permission, shared by the project, environment,
//! membership, folder and secret routes.
//!
//! Upstream scopes everything to the token's organization and, inside it, to the projects the
//! identity is a member of. The contract leaves open whether a project outside the caller's
//! reach answers 403 or 404 (§1, §7, unverified); the double answers the same as for an unknown
//! project (current: 404 `Project with ID '<id>' not found`; legacy: 500 `Failed to find
//! project by id`), so a client cannot tell "exists elsewhere" from "absent". Inside a project,
//! the roles `admin` and `member` may write environments, folders and secrets, `viewer` may
//! read, `no-access` nothing; project settings and memberships need `admin`.

use super::Caller;
use super::errors::{Reply, internal, not_found, permission_denied};
use super::state::{Project, State};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
    Admin,
}

pub fn missing_by_id(st: &State, id: &str) -> Reply {
    if st.legacy() {
        internal("Failed to find project by id")
    } else {
        not_found(format!("Project with ID '{id}' not found"))
    }
}

pub fn missing_by_slug(st: &State, slug: &str) -> Reply {
    if st.legacy() {
        internal("Failed to find project by slug")
    } else {
        not_found(format!("Project with slug '{slug}' not found"))
    }
}

/// Whether the caller's project roles allow `need`.
pub fn allowed(st: &State, caller: &Caller, project_id: &str, need: Need) -> bool {
    let Some(m) = st.membership(project_id, &caller.identity_id) else {
        return false;
    };
    let has = |r: &str| m.roles.iter().any(|e| e.role == r);
    match need {
        Need::Read => has("admin") || has("member") || has("viewer"),
        Need::Write => has("admin") || has("member"),
        Need::Admin => has("admin"),
    }
}

fn check(
    st: &State,
    caller: &Caller,
    p: &Project,
    need: Need,
    action: &str,
    subject: &str,
) -> Result<Project, Reply> {
    if st.membership(&p.id, &caller.identity_id).is_none() {
        return Err(missing_by_id(st, &p.id));
    }
    if !allowed(st, caller, &p.id, need) {
        return Err(permission_denied(action, subject));
    }
    Ok(p.clone())
}

/// A project of the caller's org the caller is a member of, by id.
pub fn by_id(
    st: &State,
    caller: &Caller,
    id: &str,
    need: Need,
    action: &str,
    subject: &str,
) -> Result<Project, Reply> {
    let p = st
        .projects
        .iter()
        .find(|p| p.id == id && p.org_id == caller.org_id)
        .ok_or_else(|| missing_by_id(st, id))?;
    check(st, caller, p, need, action, subject)
}

/// The same, by slug (unique per org).
pub fn by_slug(
    st: &State,
    caller: &Caller,
    slug: &str,
    need: Need,
    action: &str,
    subject: &str,
) -> Result<Project, Reply> {
    let p = st
        .projects
        .iter()
        .find(|p| p.slug == slug && p.org_id == caller.org_id)
        .filter(|p| st.membership(&p.id, &caller.identity_id).is_some())
        .ok_or_else(|| missing_by_slug(st, slug))?;
    check(st, caller, p, need, action, subject)
}

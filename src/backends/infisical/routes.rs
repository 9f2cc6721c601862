//! Every API path the tool uses, in one place, built from route literals and data: names are
//! percent-encoded segments ([`ApiPath`]), never formatted into the URL. Paths are relative to
//! `{url}/api`.

use crate::backends::path::ApiPath;

pub fn login() -> ApiPath {
    ApiPath::route("v1/auth/universal-auth/login")
}
pub fn identities(org: &str) -> ApiPath {
    ApiPath::route("v1/identities").query("orgId", org)
}
pub fn identity(id: &str) -> ApiPath {
    ApiPath::route("v1/identities").name(id)
}
pub fn universal_auth(identity_id: &str) -> ApiPath {
    ApiPath::route("v1/auth/universal-auth/identities").name(identity_id)
}
pub fn client_secrets(identity_id: &str) -> ApiPath {
    universal_auth(identity_id).lit("client-secrets")
}
pub fn projects() -> ApiPath {
    ApiPath::route("v1/projects")
}
pub fn project(id: &str) -> ApiPath {
    projects().name(id)
}
pub fn project_by_slug(slug: &str) -> ApiPath {
    projects().lit("slug").name(slug)
}
pub fn environments(project_id: &str) -> ApiPath {
    project(project_id).lit("environments")
}
pub fn environment(project_id: &str, env_id: &str) -> ApiPath {
    environments(project_id).name(env_id)
}
pub fn memberships(project_id: &str) -> ApiPath {
    project(project_id).lit("memberships/identities")
}
pub fn membership(project_id: &str, identity_id: &str) -> ApiPath {
    memberships(project_id).name(identity_id)
}
pub fn folders() -> ApiPath {
    ApiPath::route("v2/folders")
}
pub fn folder(id: &str) -> ApiPath {
    folders().name(id)
}
pub fn secrets() -> ApiPath {
    ApiPath::route("v3/secrets/raw")
}
pub fn secret(name: &str) -> ApiPath {
    secrets().name(name)
}

/// The deprecated workspace routes of servers that predate `/api/v1/projects` (contract §7, §9,
/// §12): projects by slug, environments and memberships under the workspace.
pub mod legacy {
    use crate::backends::path::ApiPath;

    pub fn projects() -> ApiPath {
        ApiPath::route("v2/workspace")
    }
    pub fn project(slug: &str) -> ApiPath {
        projects().name(slug)
    }
    pub fn environments(project_id: &str) -> ApiPath {
        ApiPath::route("v1/workspace")
            .name(project_id)
            .lit("environments")
    }
    pub fn environment(project_id: &str, env_id: &str) -> ApiPath {
        environments(project_id).name(env_id)
    }
    pub fn memberships(project_id: &str) -> ApiPath {
        ApiPath::route("v2/workspace")
            .name(project_id)
            .lit("identity-memberships")
    }
    pub fn membership(project_id: &str, identity_id: &str) -> ApiPath {
        memberships(project_id).name(identity_id)
    }
}

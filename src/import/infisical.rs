//! Import of an Infisical project: what exists, written as a topology (`inventories/SLUG.yaml`)
//! that plans "No changes." against the same server once its secrets' variables are set.
//!
//! Everything is read through the same kinds plan and apply use, so what is written is what
//! they compare: the project's settings, its environments (with their order), its folders, its
//! secrets, and the identities that are members of it (with their organization role, their
//! Universal Auth configuration and their role in the project) — except the tool's own
//! identity, which the membership kind never lists. No secret value is written: each secret
//! becomes an `env:` reference, and the report lists the variables to set (or to replace by
//! `sops:` references) before the first plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::backends::{BackendError, Live, Registry};
use crate::model::{Backend, ResourceId};

#[derive(Debug, Error)]
pub enum InfisicalImportError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(
        "project `{0}` does not exist on this Infisical, or the tool's identity is not a member of it"
    )]
    NoProject(String),
    #[error("`{0}` is not a project slug (lowercase letters and digits joined by hyphens)")]
    BadSlug(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cannot write the topology: {0}")]
    Yaml(String),
}

/// What an import wrote.
#[derive(Debug, Default)]
pub struct InfisicalImport {
    pub topology: PathBuf,
    pub objects: usize,
    /// `(address, variable)`: each secret's value is read from this variable.
    pub secret_variables: Vec<(String, String)>,
}

/// The live fields of an object that the file declares (the kinds' attribute names).
fn pick(live: &Live, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| live.get(f).map(|v| ((*f).to_owned(), v.clone())))
        .collect()
}

/// The variable a secret's value is read from: `IFS_<ENV>_<PATH>_<NAME>`, upper-cased, every
/// character that a variable name cannot hold made `_`.
pub fn variable(env: &str, name: &str) -> String {
    let raw = format!("IFS_{env}_{}", name.replace('/', "_"));
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

async fn list(
    registry: &Registry,
    kind: &str,
    scope: &str,
) -> Result<Vec<ResourceId>, BackendError> {
    match registry.get(Backend::Infisical, kind) {
        Some(k) => k.list(scope, &[]).await,
        None => Ok(Vec::new()),
    }
}

async fn read(registry: &Registry, id: &ResourceId) -> Result<Option<Live>, BackendError> {
    match registry.of(id) {
        Some(k) => k.read(id).await,
        None => Ok(None),
    }
}

/// Reads project `slug` through the registry's Infisical kinds and writes it under `out`.
pub async fn import_infisical(
    registry: &Registry,
    slug: &str,
    out: &Path,
) -> Result<InfisicalImport, InfisicalImportError> {
    let is_slug = !slug.is_empty()
        && slug.split('-').all(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !is_slug {
        return Err(InfisicalImportError::BadSlug(slug.to_owned()));
    }
    let mut report = InfisicalImport::default();
    let project_id = ResourceId::on(Backend::Infisical, slug, "project", None, slug);
    let Some(project) = read(registry, &project_id).await? else {
        return Err(InfisicalImportError::NoProject(slug.to_owned()));
    };
    report.objects += 1;
    let mut body = pick(&project, &["name", "description"]);
    let mut environments = Map::new();
    for id in list(registry, "environment", slug).await? {
        if let Some(live) = read(registry, &id).await? {
            environments.insert(
                id.name.clone(),
                Value::Object(pick(&live, &["name", "position"])),
            );
            report.objects += 1;
        }
    }
    body.insert("environments".into(), Value::Object(environments));
    let mut folders: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for id in list(registry, "folder", slug).await? {
        if let Some(env) = &id.mount {
            folders
                .entry(env.clone())
                .or_default()
                .push(json!(format!("/{}", id.name)));
            report.objects += 1;
        }
    }
    if !folders.is_empty() {
        body.insert("folders".into(), json!(folders));
    }
    // env → path → name → reference
    let mut secrets: BTreeMap<String, BTreeMap<String, Map<String, Value>>> = BTreeMap::new();
    for id in list(registry, "secret", slug).await? {
        let Some(env) = &id.mount else { continue };
        let (dir, name) = match id.name.rsplit_once('/') {
            Some((d, n)) => (format!("/{d}"), n.to_owned()),
            None => ("/".to_owned(), id.name.clone()),
        };
        let var = variable(env, &id.name);
        secrets
            .entry(env.clone())
            .or_default()
            .entry(dir)
            .or_default()
            .insert(name, Value::String(format!("env:{var}")));
        report.secret_variables.push((id.address().0, var));
        report.objects += 1;
    }
    if !secrets.is_empty() {
        body.insert("secrets".into(), json!(secrets));
    }
    let mut identities = Map::new();
    for id in list(registry, "membership", slug).await? {
        let Some(membership) = read(registry, &id).await? else {
            continue;
        };
        let name = id.name.clone();
        let identity_id = ResourceId::on(Backend::Infisical, "org", "identity", None, &name);
        let mut identity = match read(registry, &identity_id).await? {
            Some(live) => pick(&live, &["role"]),
            None => continue,
        };
        let ua_id = ResourceId::on(Backend::Infisical, "org", "universal_auth", None, &name);
        if let Some(ua) = read(registry, &ua_id).await? {
            identity.insert(
                "universal_auth".into(),
                Value::Object(pick(
                    &ua,
                    &[
                        "access_token_ttl",
                        "access_token_max_ttl",
                        "access_token_num_uses_limit",
                        "client_secret_trusted_ips",
                        "access_token_trusted_ips",
                    ],
                )),
            );
            report.objects += 1;
        }
        let roles = membership.get("roles").cloned().unwrap_or(json!([]));
        identity.insert("projects".into(), json!({ slug: roles }));
        identities.insert(name, Value::Object(identity));
        report.objects += 2;
    }
    let mut block = Map::new();
    block.insert("url".into(), json!("env:INFISICAL_URL"));
    block.insert(
        "auth".into(),
        json!({"client_id": "env:INFISICAL_CLIENT_ID", "client_secret": "env:INFISICAL_CLIENT_SECRET"}),
    );
    block.insert("organization".into(), json!("env:INFISICAL_ORG_ID"));
    block.insert("projects".into(), json!({ slug: body }));
    if !identities.is_empty() {
        block.insert("identities".into(), Value::Object(identities));
    }
    let doc = json!({"version": 1, "infisical": block});
    let yaml =
        serde_saphyr::to_string(&doc).map_err(|e| InfisicalImportError::Yaml(e.to_string()))?;
    let dir = out.join("inventories");
    let fail = |path: &Path, e: std::io::Error| InfisicalImportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
    let file = dir.join(format!("{slug}.yaml"));
    let text = format!(
        "# Imported from Infisical by `aegisctl import infisical`. The login and the URL come from the\n# environment; every secret's value comes from the variable its env: reference names.\n{yaml}"
    );
    std::fs::write(&file, text).map_err(|e| fail(&file, e))?;
    report.topology = file;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn variables_are_shell_names() {
        assert_eq!(
            super::variable("prod", "app/db/PASS-word"),
            "IFS_PROD_APP_DB_PASS_WORD"
        );
    }
}

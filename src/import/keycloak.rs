//! Import of a Keycloak realm: what exists, written as a realm file in Keycloak's own export
//! shape (`realms/REALM.json`) and a topology naming it (`inventories/REALM.yaml`), which plan
//! "No changes." against the same server.
//!
//! Every object is read through the same kinds plan and apply use, so what is written is
//! exactly what they compare; built-ins are skipped as the kinds' lists skip them. No secret is
//! written: a client's secret (which Keycloak answers in clear, and the kind turns into a digest
//! of this run) and an identity provider's `clientSecret` are left out — Keycloak keeps them
//! as they are, unmanaged until the file declares them as references — and the report lists
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::backends::{BackendError, Live, Registry};
use crate::model::{Backend, DesiredResource, ResourceId};

#[derive(Debug, Error)]
pub enum KeycloakImportError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("realm `{0}` does not exist on this Keycloak")]
    NoRealm(String),
    #[error(
        "the realm name `{0}` cannot name a file: it has `/`, `\\`, a control character, or starts with `.`"
    )]
    BadName(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// What an import wrote.
#[derive(Debug, Default)]
pub struct KeycloakImport {
    pub realm_file: PathBuf,
    pub topology: PathBuf,
    pub objects: usize,
    /// Secrets left out (Keycloak keeps them): where each would be declared.
    pub secrets_left_out: Vec<String>,
}

/// The order the kinds are read in, and where each goes in the representation.
const KINDS: &[&str] = &[
    "client",
    "protocol_mapper",
    "realm_role",
    "client_role",
    "client_scope",
    "group",
    "service_account_roles",
    "identity_provider",
    "idp_mapper",
];

/// Objects read, by kind: each id with its fields.
type ByKind<'k> = BTreeMap<&'k str, Vec<(ResourceId, Map<String, Value>)>>;

fn fields(live: Live) -> Map<String, Value> {
    live.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Reads realm `realm` through the registry's Keycloak kinds and writes it under `out`.
pub async fn import_keycloak(
    registry: &Registry,
    realm: &str,
    out: &Path,
) -> Result<KeycloakImport, KeycloakImportError> {
    if realm.is_empty()
        || realm.starts_with('.')
        || realm
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(KeycloakImportError::BadName(realm.to_owned()));
    }
    let mut report = KeycloakImport::default();
    let realm_id = ResourceId::on(Backend::Keycloak, realm, "realm", None, realm);
    let Some(kind) = registry.of(&realm_id) else {
        return Err(KeycloakImportError::NoRealm(realm.to_owned()));
    };
    let Some(settings) = kind.read(&realm_id).await? else {
        return Err(KeycloakImportError::NoRealm(realm.to_owned()));
    };
    let mut rep = fields(settings);
    // What the realm's own answer holds that aegisctl does not converge (client policies and
    // profiles): a realm file with it would be refused.
    for key in crate::topology::realm_split::NOT_CONVERGED {
        rep.remove(*key);
    }
    rep.insert("realm".into(), Value::String(realm.to_owned()));
    report.objects += 1;
    let mut by_kind: ByKind = BTreeMap::new();
    // The kinds under a client list what the clients they are given hold: every client found.
    let mut clients: Vec<DesiredResource> = Vec::new();
    for name in KINDS {
        let Some(kind) = registry.get(Backend::Keycloak, name) else {
            continue;
        };
        let known: Vec<&DesiredResource> = clients.iter().collect();
        let ids = kind.list(realm, &known).await?;
        // Read in bulk where the kind can (a realm's clients in pages), then one by one.
        kind.prefetch(realm, &ids.iter().collect::<Vec<_>>())
            .await?;
        if *name == "client" {
            clients = ids
                .iter()
                .map(|id| DesiredResource::new(id.clone(), BTreeMap::new()))
                .collect();
        }
        for id in ids {
            if let Some(live) = kind.read(&id).await? {
                report.objects += 1;
                by_kind.entry(name).or_default().push((id, fields(live)));
            }
        }
    }
    assemble(&mut rep, by_kind, &mut report.secrets_left_out);
    write(out, realm, &Value::Object(rep), &mut report)?;
    Ok(report)
}

/// Puts the objects back where a realm export has them.
fn assemble(rep: &mut Map<String, Value>, mut by_kind: ByKind, secrets: &mut Vec<String>) {
    let mut take = |k: &str| by_kind.remove(k).unwrap_or_default();
    let mut mappers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (id, m) in take("protocol_mapper") {
        mappers
            .entry(id.mount.unwrap_or_default())
            .or_default()
            .push(Value::Object(m));
    }
    let mut clients = Vec::new();
    for (id, mut c) in take("client") {
        if c.remove("secret").is_some() {
            secrets.push(format!("client `{}`: `secret`", id.name));
        }
        if let Some(ms) = mappers.remove(&id.name) {
            c.insert("protocolMappers".into(), Value::Array(ms));
        }
        c.insert("clientId".into(), Value::String(id.name.clone()));
        clients.push(Value::Object(c));
    }
    let realm_roles: Vec<Value> = take("realm_role")
        .into_iter()
        .map(|(_, r)| Value::Object(r))
        .collect();
    let mut client_roles: Map<String, Value> = Map::new();
    for (id, r) in take("client_role") {
        if let Value::Array(list) = client_roles
            .entry(id.mount.unwrap_or_default())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::Object(r));
        }
    }
    let scopes: Vec<Value> = take("client_scope")
        .into_iter()
        .map(|(_, s)| Value::Object(s))
        .collect();
    let groups = nest_groups(take("group"));
    let users: Vec<Value> = take("service_account_roles")
        .into_iter()
        .map(|(id, mut u)| {
            u.insert(
                "username".into(),
                Value::String(format!("service-account-{}", id.name)),
            );
            u.insert("serviceAccountClientId".into(), Value::String(id.name));
            Value::Object(u)
        })
        .collect();
    let idps: Vec<Value> = take("identity_provider")
        .into_iter()
        .map(|(id, mut p)| {
            if let Some(Value::Object(config)) = p.get_mut("config")
                && config.remove("clientSecret").is_some()
            {
                secrets.push(format!(
                    "identity provider `{}`: `config.clientSecret`",
                    id.name
                ));
            }
            Value::Object(p)
        })
        .collect();
    let idp_mappers: Vec<Value> = take("idp_mapper")
        .into_iter()
        .map(|(_, m)| Value::Object(m))
        .collect();
    let mut put = |key: &str, v: Value, empty: bool| {
        if !empty {
            rep.insert(key.into(), v);
        }
    };
    put("clients", json!(clients), clients.is_empty());
    let no_roles = realm_roles.is_empty() && client_roles.is_empty();
    put(
        "roles",
        json!({"realm": realm_roles, "client": client_roles}),
        no_roles,
    );
    put("clientScopes", json!(scopes), scopes.is_empty());
    put("groups", json!(groups), groups.is_empty());
    put("users", json!(users), users.is_empty());
    put("identityProviders", json!(idps), idps.is_empty());
    put(
        "identityProviderMappers",
        json!(idp_mappers),
        idp_mappers.is_empty(),
    );
}

/// Groups named by path (`/ops`, `/ops/on call`) back into the export's tree of `subGroups`.
fn nest_groups(groups: Vec<(ResourceId, Map<String, Value>)>) -> Vec<Value> {
    let mut by_path: BTreeMap<String, Map<String, Value>> =
        groups.into_iter().map(|(id, g)| (id.name, g)).collect();
    // Deepest first, so that each group is complete when it is put into its parent.
    let mut paths: Vec<String> = by_path.keys().cloned().collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    let mut roots = Vec::new();
    for path in paths {
        let Some(g) = by_path.remove(&path) else {
            continue;
        };
        match path.rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() && by_path.contains_key(parent) => {
                if let Some(p) = by_path.get_mut(parent)
                    && let Value::Array(subs) = p
                        .entry("subGroups")
                        .or_insert_with(|| Value::Array(Vec::new()))
                {
                    subs.push(Value::Object(g));
                }
            }
            _ => roots.push(Value::Object(g)),
        }
    }
    roots.reverse();
    roots
}

fn write(
    out: &Path,
    realm: &str,
    rep: &Value,
    report: &mut KeycloakImport,
) -> Result<(), KeycloakImportError> {
    let fail = |path: &Path, e: std::io::Error| KeycloakImportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let realms = out.join("realms");
    let inventories = out.join("inventories");
    for d in [&realms, &inventories] {
        std::fs::create_dir_all(d).map_err(|e| fail(d, e))?;
    }
    let file = realms.join(format!("{realm}.json"));
    let text = serde_json::to_string_pretty(rep).unwrap_or_default() + "\n";
    std::fs::write(&file, text).map_err(|e| fail(&file, e))?;
    let topology = inventories.join(format!("{realm}.yaml"));
    // The realm's name is data: quoted as a JSON string (valid YAML) whatever it holds.
    let entry = Value::String(format!("file:../realms/{realm}.json")).to_string();
    let yaml = format!(
        "# Imported from Keycloak by `aegisctl import keycloak`. The admin login and the URL come\n# from the environment; secrets were left out (see the import's report).\nversion: 1\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms:\n    - {entry}\n"
    );
    std::fs::write(&topology, yaml).map_err(|e| fail(&topology, e))?;
    report.realm_file = file;
    report.topology = topology;
    Ok(())
}

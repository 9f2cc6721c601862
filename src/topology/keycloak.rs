//! The `keycloak:` block: how to reach Keycloak, the realm files' objects with the order they
//! must be created in, and the keymaster's KV secrets.
//!
//! Keymaster: with `client_secrets.openbao_kv`, every confidential client gets an OpenBao KV
//! secret (`client_id`, `client_secret`) at the templated path, as an ordinary `kv_secret`
//! object of the plan. A declared client secret is copied as the same value; a secret Keycloak
//! generates is an output of the client ([`OutputRef`]), read once the client exists, so the KV
//! secret always equals what Keycloak holds and a difference shows up as drift.

use std::collections::BTreeSet;

use serde_json::Value;
use serde_saphyr::Spanned;

use super::node::{Loc, Node};
use super::raw::{RawClientSecrets, RawKeycloak, RawKeycloakAdmin};
use super::realm_file;
use super::resolve::{Resolver, check_name};
use crate::backends::keycloak::AdminAuth;
use crate::backends::keycloak::kinds::client::generates_secret;
use crate::backends::keycloak::kinds::spec_of;
use crate::model::{
    Address, AttrValue, Backend, Desired, DesiredResource, KeycloakConn, OutputRef, ResourceId,
};
use crate::sensitive::Sensitive;

pub(super) fn keycloak(r: &mut Resolver, kc: &Spanned<RawKeycloak>, desired: &mut Desired) {
    let block = &kc.value;
    let url = r
        .string(&block.url, "keycloak.url", false)
        .map(|(u, _)| u)
        .filter(|u| {
            let ok = u.starts_with("https://") || u.starts_with("http://");
            if !ok {
                r.problem(
                    block.url.loc,
                    // Not echoed: a value that is no URL might still carry credentials.
                    "`keycloak.url` must start with https:// or http://",
                    "write Keycloak's base URL, e.g. https://keycloak.example.internal (one URL serves the token endpoint and the admin API)".to_string(),
                );
            }
            ok
        });
    let auth = admin(r, &block.admin);
    let ca_cert = block.ca_cert.as_ref().and_then(|n| ca(r, n));
    let first = desired.resources.len();
    let mut realms = Vec::new();
    for node in &block.realms {
        if let Some(file) = realm_file::read(r, node) {
            realms.push(file.realm);
            desired.resources.extend(file.resources);
        }
    }
    let (Some(url), Some(auth)) = (url, auth) else {
        return;
    };
    dependencies(&mut desired.resources[first..]);
    if let Some(cs) = &block.client_secrets {
        keymaster(r, cs, desired, first, None);
    }
    desired.keycloak = Some(KeycloakConn {
        url,
        auth,
        ca_cert,
        realms,
    });
}

fn admin(r: &mut Resolver, a: &Spanned<RawKeycloakAdmin>) -> Option<AdminAuth> {
    let a_loc = Loc::of(a);
    let a = &a.value;
    let text = |r: &mut Resolver, n: &Option<Node>, what: &str, secret: bool| {
        n.as_ref()
            .and_then(|n| r.string(n, what, secret))
            .map(|(v, _)| v)
    };
    let realm = text(r, &a.realm, "keycloak.admin.realm", false).unwrap_or_else(|| "master".into());
    let client_id = text(r, &a.client_id, "keycloak.admin.client_id", false)
        .unwrap_or_else(|| "admin-cli".into());
    let username = text(r, &a.username, "keycloak.admin.username", false);
    let password = text(r, &a.password, "keycloak.admin.password", true);
    let secret = text(r, &a.client_secret, "keycloak.admin.client_secret", true);
    match (username, password, secret) {
        (Some(username), Some(password), None) => Some(AdminAuth::Password {
            realm,
            client_id,
            username,
            password: Sensitive::new(password),
        }),
        (None, None, Some(client_secret)) => Some(AdminAuth::ClientCredentials {
            realm,
            client_id,
            client_secret: Sensitive::new(client_secret),
        }),
        _ => {
            let at = r.key_loc(a_loc, "admin");
            r.problem(
                at,
                "`keycloak.admin` needs either `username` and `password` (password grant) or `client_secret` (client credentials)",
                "e.g. username: env:KEYCLOAK_ADMIN, password: env:KEYCLOAK_ADMIN_PASSWORD".to_string(),
            );
            None
        }
    }
}

fn ca(r: &mut Resolver, n: &Node) -> Option<std::path::PathBuf> {
    let t = n.as_str()?;
    let path = r.dir.join(t.strip_prefix("file:").unwrap_or(t));
    if path.is_file() {
        return Some(path);
    }
    r.problem(
        n.loc,
        format!(
            "`keycloak.ca_cert` names {}, which is not a file",
            path.display()
        ),
        "give the path of a PEM file, relative to the topology file".to_string(),
    );
    None
}

/// Each object waits for what it lives in and for the roles it names, when the file declares
/// them (a role of a built-in client such as `realm-management` is already there).
pub(super) fn dependencies(resources: &mut [DesiredResource]) {
    let declared: BTreeSet<Address> = resources.iter().map(|r| r.address.clone()).collect();
    let kc = |realm: &str, kind: &str, mount: Option<&str>, name: &str| {
        ResourceId::on(Backend::Keycloak, realm, kind, mount, name).address()
    };
    for res in resources.iter_mut() {
        let realm = res.id.namespace.clone();
        let mut deps = Vec::new();
        // An object named under its parent (a client's role, an IdP's mapper) waits for it:
        // the parent's kind is the kind's declared one, its name the id's `mount`.
        let parent = spec_of(&res.id.kind).and_then(|s| s.parent);
        if let (Some(p), Some(m)) = (parent, &res.id.mount) {
            deps.push(kc(&realm, p, None, m));
        }
        match res.id.kind.as_str() {
            // Named by the client it belongs to.
            "service_account_roles" => deps.push(kc(&realm, "client", None, &res.id.name)),
            "group" => match res.id.name.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => {
                    deps.push(kc(&realm, "group", None, parent));
                }
                _ => {}
            },
            _ => {}
        }
        if matches!(res.id.kind.as_str(), "service_account_roles" | "group") {
            deps.extend(named_roles(res, &realm));
        }
        if res.id.kind == "client" {
            // The scopes it links must exist first.
            for field in ["defaultClientScopes", "optionalClientScopes"] {
                if let Some(AttrValue::Plain(Value::Array(names))) = res.attrs.get(field) {
                    for n in names.iter().filter_map(Value::as_str) {
                        deps.push(kc(&realm, "client_scope", None, n));
                    }
                }
            }
        }
        deps.push(kc(&realm, "realm", None, &realm));
        deps.retain(|d| *d != res.address && declared.contains(d));
        deps.sort();
        deps.dedup();
        res.depends_on = deps;
    }
}

/// The roles a service account or a group declares (`realmRoles`, `clientRoles`).
fn named_roles(res: &DesiredResource, realm: &str) -> Vec<Address> {
    let mut out = Vec::new();
    if let Some(AttrValue::Plain(Value::Array(roles))) = res.attrs.get("realmRoles") {
        for role in roles.iter().filter_map(Value::as_str) {
            out.push(ResourceId::on(Backend::Keycloak, realm, "realm_role", None, role).address());
        }
    }
    if let Some(AttrValue::Plain(Value::Object(by_client))) = res.attrs.get("clientRoles") {
        for (client, roles) in by_client {
            for role in roles
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.push(
                    ResourceId::on(Backend::Keycloak, realm, "client_role", Some(client), role)
                        .address(),
                );
            }
        }
    }
    out
}

/// The keymaster's KV secrets of the clients declared from `first` on, in `namespace` (a
/// tenant's realm: its own namespace) or else in the one `client_secrets` names.
pub(super) fn keymaster(
    r: &mut Resolver,
    cs: &Spanned<RawClientSecrets>,
    desired: &mut Desired,
    first: usize,
    namespace: Option<&str>,
) {
    let Some((template, _)) = r.string(
        &cs.value.openbao_kv,
        "keycloak.client_secrets.openbao_kv",
        false,
    ) else {
        return;
    };
    let at = cs.value.openbao_kv.loc;
    let ns = match (namespace, &cs.value.namespace) {
        (Some(tenant), _) => tenant.to_owned(),
        (None, Some(n)) => match r.string(n, "keycloak.client_secrets.namespace", false) {
            Some((ns, _)) if ns == "root" => String::new(),
            Some((ns, _)) => ns.trim_matches('/').to_owned(),
            None => return,
        },
        (None, None) => String::new(),
    };
    let unknown: Vec<&str> = template
        .split('{')
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(name, _)| name))
        .filter(|p| !matches!(*p, "realm" | "clientId"))
        .collect();
    if !unknown.is_empty() || !template.contains("{clientId}") {
        r.problem(
            at,
            "`keycloak.client_secrets.openbao_kv` must name each client's secret: MOUNT/PATH with `{clientId}` (and `{realm}`), and no other placeholder",
            "e.g. secret/keycloak/{realm}/{clientId}".to_string(),
        );
        return;
    }
    let mut made = Vec::new();
    for client in desired.resources[first..]
        .iter()
        .filter(|c| c.id.kind == "client" && generates_secret(c))
    {
        let path = template
            .replace("{realm}", &client.id.namespace)
            .replace("{clientId}", &client.id.name);
        let path = path.trim_matches('/').to_owned();
        if !check_name(r, at, "the keymaster path", &path) {
            continue;
        }
        let Some((mount, rest)) = mount_of(desired, &ns, &path) else {
            r.problem(
                at,
                format!("the keymaster path `{path}` names no secret below a mount"),
                "write MOUNT/PATH, e.g. secret/keycloak/{realm}/{clientId}".to_string(),
            );
            continue;
        };
        let secret = match client.attrs.get("secret") {
            Some(v) => v.clone(),
            None => AttrValue::Output(OutputRef {
                producer: client.id.clone(),
                name: "secret".into(),
            }),
        };
        let attrs = [
            (
                "client_id".to_owned(),
                AttrValue::Plain(Value::String(client.id.name.clone())),
            ),
            ("client_secret".to_owned(), secret),
        ]
        .into();
        let id = ResourceId::new(&ns, "kv_secret", Some(&mount), &rest);
        let mut res = DesiredResource::new(id, attrs);
        res.loc = Some(at);
        res.depends_on = vec![client.address.clone()];
        let mount_id = ResourceId::new(&ns, "mount", None, &mount).address();
        if desired.resources.iter().any(|d| d.address == mount_id) {
            res.depends_on.push(mount_id);
        }
        made.push(res);
    }
    desired.resources.extend(made);
}

/// The KV mount a keymaster path is under: the longest declared secrets mount of the namespace
/// that prefixes it, else its first segment.
fn mount_of(desired: &Desired, ns: &str, path: &str) -> Option<(String, String)> {
    let declared = desired
        .resources
        .iter()
        .filter(|d| d.id.kind == "mount" && d.id.namespace == ns)
        .map(|d| d.id.name.as_str())
        .filter(|m| path.starts_with(&format!("{m}/")))
        .max_by_key(|m| m.len());
    let (mount, rest) = match declared {
        Some(m) => (m, &path[m.len() + 1..]),
        None => path.split_once('/')?,
    };
    (!rest.is_empty()).then(|| (mount.to_owned(), rest.to_owned()))
}

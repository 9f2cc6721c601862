//! A Keycloak realm file, as Keycloak's own export writes it (a RealmRepresentation), split
//! into the objects aegisctl converges one by one (spec/topology.md, "Keycloak realms"): the
//! realm's own settings, clients, their protocol mappers, realm and client roles, client
//! scopes, groups (flattened to paths), service-account role mappings, identity providers and
//! their mappers.
//!
//! Every declared field passes through unchanged, except the ids the server generates (`id`,
//! `internalId`, `containerId`), which a file never needs and a plan never shows. A part of the
//! representation aegisctl does not converge (authentication flows, components, ordinary users,
//! ...) is an error naming its key: silently ignoring it would let an operator believe it is
//! managed.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One object of a realm file.
#[derive(Clone, Debug, PartialEq)]
pub struct RealmObject {
    /// `realm`, `client`, `protocol_mapper`, `realm_role`, `client_role`, `client_scope`,
    /// `group`, `service_account_roles`, `identity_provider`, `idp_mapper`.
    pub kind: &'static str,
    /// The natural key: the realm, a `clientId`, `clientId/name`, a group path, an alias ...
    pub name: String,
    /// For an object under another (a client's mapper or role, an IdP's mapper): the parent's
    /// natural key, and `own` the object's name within it. A `clientId` may hold `/` (SAML
    /// clients are named by URL), so `name` is never split to find them.
    pub parent: Option<String>,
    pub own: String,
    /// Where it is in the file (`clients[2].protocolMappers[0]`), for messages.
    pub at: String,
    pub attrs: Map<String, Value>,
}

/// Parts of a RealmRepresentation that aegisctl does not converge.
pub const NOT_CONVERGED: &[&str] = &[
    "authenticationFlows",
    "authenticatorConfig",
    "components",
    "requiredActions",
    "scopeMappings",
    "clientScopeMappings",
    "federatedUsers",
    "userFederationProviders",
    "userFederationMappers",
    "clientPolicies",
    "clientProfiles",
    "organizations",
    "applications",
    "oauthClients",
    "clientTemplates",
    "keycloakVersion",
];

/// Ids the server generates.
const SERVER_IDS: &[&str] = &["id", "internalId", "containerId"];

/// What a service-account user of an export holds besides its roles: the server's own.
const SERVICE_ACCOUNT_OWN: &[&str] = &[
    "id",
    "username",
    "enabled",
    "createdTimestamp",
    "totp",
    "emailVerified",
    "serviceAccountClientId",
    "disableableCredentialTypes",
    "requiredActions",
    "notBefore",
    "groups",
    "access",
];

struct Splitter {
    realm: String,
    out: Vec<RealmObject>,
    problems: Vec<String>,
    seen: BTreeSet<(&'static str, String)>,
}

fn without_ids(v: &Map<String, Value>, also: &[&str]) -> Map<String, Value> {
    v.iter()
        .filter(|(k, _)| !SERVER_IDS.contains(&k.as_str()) && !also.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Splitter {
    fn push(&mut self, kind: &'static str, name: String, at: String, attrs: Map<String, Value>) {
        let own = name.clone();
        self.push_under(kind, None, own, at, attrs);
    }

    /// An object under `parent` (`None`: directly in the realm).
    fn push_under(
        &mut self,
        kind: &'static str,
        parent: Option<&str>,
        own: String,
        at: String,
        attrs: Map<String, Value>,
    ) {
        let name = match parent {
            Some(p) => format!("{p}/{own}"),
            None => own.clone(),
        };
        if !self.seen.insert((kind, name.clone())) {
            self.problems.push(format!(
                "{at}: a second {kind} `{name}` in realm `{}`",
                self.realm
            ));
            return;
        }
        self.out.push(RealmObject {
            kind,
            name,
            parent: parent.map(str::to_owned),
            own,
            at,
            attrs,
        });
    }

    /// The entries of a list part, as objects (anything else is a problem).
    fn entries<'v>(&mut self, key: &str, v: &'v Value) -> Vec<(usize, &'v Map<String, Value>)> {
        let Some(items) = v.as_array() else {
            self.problems.push(format!("{key}: must be a list"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_object() {
                Some(o) => out.push((i, o)),
                None => self.problems.push(format!("{key}[{i}]: must be a mapping")),
            }
        }
        out
    }

    fn text(&mut self, at: &str, o: &Map<String, Value>, key: &str) -> Option<String> {
        match o.get(key).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => {
                self.problems.push(format!("{at}: no `{key}`"));
                None
            }
        }
    }

    fn clients(&mut self, v: &Value) {
        for (i, c) in self.entries("clients", v) {
            let at = format!("clients[{i}]");
            let Some(client_id) = self.text(&at, c, "clientId") else {
                continue;
            };
            if let Some(mappers) = c.get("protocolMappers") {
                let key = format!("{at}.protocolMappers");
                for (j, m) in self.entries(&key, mappers) {
                    let at = format!("{key}[{j}]");
                    if let Some(name) = self.text(&at, m, "name") {
                        self.push_under(
                            "protocol_mapper",
                            Some(&client_id),
                            name,
                            at,
                            without_ids(m, &[]),
                        );
                    }
                }
            }
            self.push(
                "client",
                client_id,
                at,
                without_ids(c, &["protocolMappers"]),
            );
        }
    }

    fn roles(&mut self, v: &Value) {
        let Some(roles) = v.as_object() else {
            self.problems.push("roles: must be a mapping".into());
            return;
        };
        for (key, part) in roles {
            match key.as_str() {
                "realm" => {
                    for (i, r) in self.entries("roles.realm", part) {
                        let at = format!("roles.realm[{i}]");
                        if let Some(name) = self.text(&at, r, "name") {
                            self.push("realm_role", name, at, without_ids(r, &[]));
                        }
                    }
                }
                "client" => {
                    let Some(by_client) = part.as_object() else {
                        self.problems.push("roles.client: must be a mapping".into());
                        continue;
                    };
                    for (client_id, list) in by_client {
                        let key = format!("roles.client.{client_id}");
                        for (i, r) in self.entries(&key, list) {
                            let at = format!("{key}[{i}]");
                            if let Some(name) = self.text(&at, r, "name") {
                                self.push_under(
                                    "client_role",
                                    Some(client_id),
                                    name,
                                    at,
                                    without_ids(r, &["clientRole"]),
                                );
                            }
                        }
                    }
                }
                other => self.problems.push(format!(
                    "roles.{other}: not a part of a realm's roles (realm, client)"
                )),
            }
        }
    }

    fn groups(&mut self, v: &Value, parent: &str, key: &str) {
        for (i, g) in self.entries(key, v) {
            let at = format!("{key}[{i}]");
            let Some(name) = self.text(&at, g, "name") else {
                continue;
            };
            let path = format!("{parent}/{name}");
            if let Some(sub) = g.get("subGroups") {
                self.groups(sub, &path, &format!("{at}.subGroups"));
            }
            self.push("group", path, at, without_ids(g, &["subGroups", "path"]));
        }
    }

    fn users(&mut self, v: &Value) {
        for (i, u) in self.entries("users", v) {
            let at = format!("users[{i}]");
            let Some(client_id) = u.get("serviceAccountClientId").and_then(Value::as_str) else {
                self.problems.push(format!(
                    "{at}: ordinary users are not converged by aegisctl (only the role mappings of service accounts, users with `serviceAccountClientId`)"
                ));
                continue;
            };
            let unknown: Vec<&str> = u
                .keys()
                .map(String::as_str)
                .filter(|k| {
                    !SERVICE_ACCOUNT_OWN.contains(k) && *k != "realmRoles" && *k != "clientRoles"
                })
                .collect();
            if !unknown.is_empty() {
                self.problems.push(format!(
                    "{at}: a service account's {} are not converged (only realmRoles and clientRoles)",
                    unknown.join(", ")
                ));
            }
            let attrs = u
                .iter()
                .filter(|(k, _)| *k == "realmRoles" || *k == "clientRoles")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.push("service_account_roles", client_id.to_owned(), at, attrs);
        }
    }

    fn named_list(&mut self, key: &str, v: &Value, kind: &'static str, name_key: &str) {
        for (i, o) in self.entries(key, v) {
            let at = format!("{key}[{i}]");
            if let Some(name) = self.text(&at, o, name_key) {
                self.push(kind, name, at, without_ids(o, &[]));
            }
        }
    }

    fn idp_mappers(&mut self, v: &Value) {
        for (i, m) in self.entries("identityProviderMappers", v) {
            let at = format!("identityProviderMappers[{i}]");
            let (Some(alias), Some(name)) = (
                self.text(&at, m, "identityProviderAlias"),
                self.text(&at, m, "name"),
            ) else {
                continue;
            };
            self.push_under("idp_mapper", Some(&alias), name, at, without_ids(m, &[]));
        }
    }
}

/// Splits a realm representation into its objects, or says everything that is wrong with it.
pub fn split(rep: &Value) -> Result<Vec<RealmObject>, Vec<String>> {
    let Some(top) = rep.as_object() else {
        return Err(vec![
            "a realm file must be a mapping (a RealmRepresentation)".into(),
        ]);
    };
    let realm = match top.get("realm").and_then(Value::as_str) {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => return Err(vec!["a realm file needs `realm`: the realm's name".into()]),
    };
    let mut s = Splitter {
        realm: realm.clone(),
        out: Vec::new(),
        problems: Vec::new(),
        seen: BTreeSet::new(),
    };
    let mut settings = Map::new();
    for (key, v) in top {
        match key.as_str() {
            "realm" => {}
            "clients" => s.clients(v),
            "roles" => s.roles(v),
            "clientScopes" => s.named_list("clientScopes", v, "client_scope", "name"),
            "groups" => s.groups(v, "", "groups"),
            "users" => s.users(v),
            "identityProviders" => s.named_list("identityProviders", v, "identity_provider", "alias"),
            "identityProviderMappers" => s.idp_mappers(v),
            k if SERVER_IDS.contains(&k) => {}
            k if NOT_CONVERGED.contains(&k) => s.problems.push(format!(
                "{k}: not converged by aegisctl; remove it from the realm file (it would not be managed)"
            )),
            _ => {
                settings.insert(key.clone(), v.clone());
            }
        }
    }
    let mut out = vec![RealmObject {
        kind: "realm",
        own: realm.clone(),
        parent: None,
        name: realm,
        at: "realm".into(),
        attrs: settings,
    }];
    out.append(&mut s.out);
    if s.problems.is_empty() {
        Ok(out)
    } else {
        Err(s.problems)
    }
}

#[cfg(test)]
#[path = "realm_split_tests.rs"]
mod tests;

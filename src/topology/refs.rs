//! References in the topology: `env:`, `file:`, `sops:` (resolved while loading), `vault:`
//! (checked for shape only: read from OpenBao at plan time) and `json:` (any of the first three,
//! its text parsed as JSON so the value keeps a type). Whatever comes from a reference is
//! sensitive, and no error about one quotes what it holds.

use serde_json::Value;

use super::node::{Node, Raw};
use super::resolve::Resolver;
use crate::model::AttrValue;

impl Resolver<'_> {
    /// Resolves a string that may be a reference. Returns the text and whether it came from a
    /// reference that makes it sensitive. `what` names the field for messages.
    pub(super) fn string(
        &mut self,
        node: &Node,
        what: &str,
        file_is_secret: bool,
    ) -> Option<(String, bool)> {
        let Some(text) = node.as_str() else {
            self.problem(
                node.loc,
                format!("`{what}` must be a string, found {}", node.shape()),
                None,
            );
            return None;
        };
        if let Some(name) = text.strip_prefix("env:") {
            return match (self.env)(name) {
                Some(v) => Some((v, true)),
                None => {
                    self.problem(
                        node.loc,
                        format!(
                            "`{what}` refers to the environment variable {name}, which is not set"
                        ),
                        format!(
                            "export {name} before running aegisctl, or write the value in the file"
                        ),
                    );
                    None
                }
            };
        }
        if let Some(rel) = text.strip_prefix("file:") {
            let path = self.dir.join(rel);
            return match std::fs::read_to_string(&path) {
                Ok(mut s) => {
                    while s.ends_with('\n') || s.ends_with('\r') {
                        s.pop();
                    }
                    Some((s, file_is_secret))
                }
                Err(e) => {
                    self.problem(
                        node.loc,
                        format!(
                            "`{what}` refers to the file {}, which cannot be read: {e}",
                            path.display()
                        ),
                        "paths in file: references are relative to the topology file".to_string(),
                    );
                    None
                }
            };
        }
        if let Some(spec) = text.strip_prefix("sops:") {
            let Some((file, pointer)) = spec.split_once('#') else {
                self.problem(
                    node.loc,
                    format!("`{what}` has a malformed sops: reference"),
                    "write sops:PATH#/json/pointer, e.g. sops:../secrets/db.enc.yaml#/vault_password".to_string(),
                );
                return None;
            };
            let path = self.dir.join(file);
            return match self.sops.value(&path, pointer) {
                Ok(v) => Some((v.expose().clone(), true)),
                Err(e) => {
                    // SopsError messages name files, keys and recipients, never decrypted values.
                    self.problem(
                        node.loc,
                        format!("`{what}`: {e}"),
                        "check the SOPS file and the age identity (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD or ~/.config/sops/age/keys.txt)".to_string(),
                    );
                    None
                }
            };
        }
        if text.starts_with("vault:") {
            self.problem(
                node.loc,
                format!("`{what}` cannot be a vault: reference"),
                "vault: references are read from OpenBao at plan time, so they serve resource fields only; use env: or file: here".to_string(),
            );
            return None;
        }
        Some((text.to_owned(), false))
    }

    /// A `vault:MOUNT/PATH#key` reference, checked for shape only (validate stays offline).
    pub(super) fn vault_ref(&mut self, node: &Node, field: &str, spec: &str) -> Option<AttrValue> {
        match spec.rsplit_once('#') {
            Some((path, key)) if path.trim_matches('/').contains('/') && !key.is_empty() => {
                Some(AttrValue::Vault(crate::model::VaultRef {
                    source: crate::model::RefSource::OpenBaoKv,
                    path: path.trim_matches('/').to_owned(),
                    key: key.to_owned(),
                    at: format!("{}:{}:{}", self.src.name, node.loc.line, node.loc.column),
                }))
            }
            _ => {
                self.problem(
                    node.loc,
                    format!("`{field}` has a malformed vault: reference"),
                    "write vault:MOUNT/PATH#key, e.g. vault:aegis-system/tools/search-api-key#value".to_string(),
                );
                None
            }
        }
    }

    /// `json:REFERENCE`: the text the reference gives (`env:`, `file:`, `sops:`), parsed as
    /// JSON, so a value from outside the file keeps a type (a number, a boolean, an object).
    pub(super) fn json_ref(&mut self, node: &Node, field: &str, inner: &str) -> Option<AttrValue> {
        if !["env:", "file:", "sops:"]
            .iter()
            .any(|p| inner.starts_with(p))
        {
            self.problem(
                node.loc,
                format!("`{field}` has a malformed json: reference"),
                "write json:env:NAME, json:file:PATH or json:sops:PATH#/pointer: the referenced text is parsed as JSON".to_string(),
            );
            return None;
        }
        let inner_node = Node {
            raw: Raw::Str(inner.to_owned()),
            loc: node.loc,
        };
        let (text, _) = self.string(&inner_node, field, true)?;
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Some(AttrValue::secret_json(v)),
            Err(e) => {
                // The position only: the text is a secret.
                self.problem(
                    node.loc,
                    format!(
                        "`{field}`: the value of {} is not JSON (line {}, column {} of it)",
                        inner.split('#').next().unwrap_or(inner),
                        e.line(),
                        e.column()
                    ),
                    "a json: reference must give JSON text, e.g. 5432, true, \"text\" or {\"a\": 1}".to_string(),
                );
                None
            }
        }
    }

    /// `infisical:PROJECT/ENV/PATH/NAME`: an Infisical secret, read at plan time like `vault:`
    /// (the secret at the environment's root is `infisical:PROJECT/ENV/NAME`).
    pub(super) fn infisical_ref(
        &mut self,
        node: &Node,
        field: &str,
        spec: &str,
    ) -> Option<AttrValue> {
        let parts: Vec<&str> = spec.split('/').collect();
        if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
            self.problem(
                node.loc,
                format!("`{field}` has a malformed infisical: reference"),
                "write infisical:PROJECT/ENV/NAME or infisical:PROJECT/ENV/FOLDER/PATH/NAME, e.g. infisical:homelab-apps/prod/ANTHROPIC_API_KEY".to_string(),
            );
            return None;
        }
        let (name, path) = parts.split_last()?;
        Some(AttrValue::Vault(crate::model::VaultRef {
            source: crate::model::RefSource::Infisical,
            path: path.join("/"),
            key: (*name).to_owned(),
            at: format!("{}:{}:{}", self.src.name, node.loc.line, node.loc.column),
        }))
    }

    /// `keycloak:REALM/CLIENT_ID#secret`: a Keycloak client's secret, an output of that client
    /// (known once it exists, so "(known after apply)" before). The client must be declared.
    pub(super) fn keycloak_ref(
        &mut self,
        node: &Node,
        field: &str,
        spec: &str,
    ) -> Option<AttrValue> {
        match spec.split_once('#') {
            Some((path, "secret")) => match path.split_once('/') {
                Some((realm, client)) if !realm.is_empty() && !client.is_empty() => {
                    Some(AttrValue::Output(crate::model::OutputRef {
                        producer: crate::model::ResourceId::on(
                            crate::model::Backend::Keycloak,
                            realm,
                            "client",
                            None,
                            client,
                        ),
                        name: "secret".into(),
                    }))
                }
                _ => {
                    self.problem(
                        node.loc,
                        format!("`{field}` has a malformed keycloak: reference"),
                        "write keycloak:REALM/CLIENT_ID#secret".to_string(),
                    );
                    None
                }
            },
            _ => {
                self.problem(
                    node.loc,
                    format!("`{field}` has a malformed keycloak: reference"),
                    "write keycloak:REALM/CLIENT_ID#secret (a client's secret is the one value a Keycloak object gives)".to_string(),
                );
                None
            }
        }
    }
}

//! Audit devices (`sys/audit/PATH`), because a secrets backbone without an audit trail is not one.
//!
//! OpenBao 2.x refuses to enable audit devices through the API unless the server configuration
//! sets `unsafe_allow_api_audit_creation`; devices are then declared in the server's own config
//! instead. This kind reads that setting once per run (`sys/config/state/sanitized`): where the
//! server refuses, a create becomes a manual step that carries the exact `audit` stanza to add,
//! instead of a failed apply. Devices the server configuration declares are the server's, never
//! "not managed by aegisctl". A device cannot change in place: any change is disable + enable.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{Body, OpenBao, body_from};
use crate::backends::BackendError;
use crate::backends::path::ApiPath;
use crate::backends::{FieldSource, Kind, Live, Made};
use crate::model::{AttrValue, DesiredResource, ResourceId};

/// What the server configuration says about audit devices.
#[derive(Clone, Debug, Default)]
struct ServerAudit {
    /// `None` when the token may not read the sanitized configuration.
    api_creation_allowed: Option<bool>,
    /// Paths of devices declared in the server configuration.
    declared: BTreeSet<String>,
}

pub struct AuditDevice {
    bao: Arc<OpenBao>,
    server: OnceCell<ServerAudit>,
}

impl AuditDevice {
    pub fn new(bao: Arc<OpenBao>) -> Self {
        AuditDevice {
            bao,
            server: OnceCell::new(),
        }
    }

    async fn server(&self) -> Result<&ServerAudit, BackendError> {
        self.server
            .get_or_try_init(|| async {
                let resp = match self
                    .bao
                    .client
                    .read("", &ApiPath::route("sys/config/state/sanitized"))
                    .await
                {
                    Ok(r) => r,
                    Err(e) if e.status() == Some(403) => None,
                    Err(e) => return Err(e),
                };
                let data = resp.as_ref().and_then(|v| v.get("data"));
                Ok(ServerAudit {
                    api_creation_allowed: data
                        .and_then(|d| d.get("unsafe_allow_api_audit_creation"))
                        .and_then(Value::as_bool),
                    declared: data
                        .and_then(|d| d.get("audits"))
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|d| d.get("path").and_then(Value::as_str))
                                .map(|p| p.trim_end_matches('/').to_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .await
            .map_err(Into::into)
    }

    async fn table(&self) -> Result<serde_json::Map<String, Value>, BackendError> {
        let resp = self
            .bao
            .client
            .read("", &ApiPath::route("sys/audit"))
            .await?
            .unwrap_or(Value::Null);
        Ok(resp
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }
}

/// The server-config stanza that declares this device, for operators whose server refuses API
/// creation.
pub fn stanza(res: &DesiredResource) -> String {
    let hcl = |v: &AttrValue| match v {
        AttrValue::Secret(_) | AttrValue::Vault(_) | AttrValue::Output(_) => {
            "\"(sensitive value: fill in)\"".to_owned()
        }
        AttrValue::Plain(Value::String(s)) => serde_json::to_string(s).unwrap_or_default(),
        AttrValue::Plain(other) => other.to_string(),
    };
    let kind = res.plain_str("type").unwrap_or("file");
    let mut out = format!("audit \"{kind}\" \"{}\" {{\n", res.id.name);
    for (k, v) in res
        .attrs
        .iter()
        .filter(|(k, _)| !k.starts_with("options.") && k.as_str() != "type")
    {
        out.push_str(&format!("  {k} = {}\n", hcl(v)));
    }
    let options: Vec<_> = res
        .attrs
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("options.").map(|k| (k, v)))
        .collect();
    if !options.is_empty() {
        out.push_str("  options {\n");
        for (k, v) in options {
            out.push_str(&format!("    {k} = {}\n", hcl(v)));
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[async_trait]
impl Kind for AuditDevice {
    fn name(&self) -> &'static str {
        "audit_device"
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["type", "description", "local", "options.*"]
    }

    fn replace_destroys_data(&self) -> bool {
        false
    }

    fn container(&self, _id: &ResourceId) -> Option<ResourceId> {
        None
    }

    fn field_sources(&self) -> &'static [FieldSource] {
        const S: &[FieldSource] = &[FieldSource::of_system("", "audit/{path}")];
        S
    }

    async fn manual_step(&self, res: &DesiredResource) -> Result<Option<String>, BackendError> {
        if self.server().await?.api_creation_allowed == Some(false) {
            return Ok(Some(format!(
                "OpenBao refuses to enable audit devices through its API (unsafe_allow_api_audit_creation is off). Add this to the server configuration and restart the server:\n{}",
                stanza(res)
            )));
        }
        Ok(None)
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let table = self.table().await?;
        Ok(table
            .get(&format!("{}/", id.name))
            .and_then(Value::as_object)
            .map(|entry| {
                let mut live = Live::new();
                for key in ["type", "description", "local"] {
                    if let Some(v) = entry.get(key) {
                        live.insert(key, v.clone());
                    }
                }
                if let Some(Value::Object(o)) = entry.get("options") {
                    for (k, v) in o {
                        live.insert(format!("options.{k}"), v.clone());
                    }
                }
                live
            }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let options = body_from(
            res.attrs.iter().filter(|(k, _)| k.starts_with("options.")),
            "options.",
        );
        let mut body = json!({ "options": options.json() });
        for (k, v) in res.attrs.iter().filter(|(k, _)| !k.starts_with("options.")) {
            body[k.as_str()] = v.to_wire();
        }
        let path = ApiPath::route("sys/audit").path(&res.id.name);
        match self
            .bao
            .client
            .request(
                reqwest::Method::PUT,
                "",
                &path,
                Some(&Body::new(body)),
                None,
            )
            .await
        {
            Err(e) if e.status() == Some(400) && e.to_string().contains("declarative") => {
                Err(BackendError::Refused(format!(
                    "OpenBao refused to enable the audit device through its API; add this to the server configuration instead:\n{}",
                    stanza(res)
                )))
            }
            other => other.map(|_| Made::none()).map_err(Into::into),
        }
    }

    async fn update(
        &self,
        res: &DesiredResource,
        _changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        self.delete(&res.id).await?;
        self.create(res).await.map(|_| ())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        self.bao
            .client
            .delete("", &ApiPath::route("sys/audit").path(&id.name))
            .await
            .map_err(Into::into)
    }

    async fn list(
        &self,
        namespace: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if !namespace.is_empty() {
            return Ok(Vec::new());
        }
        let declared = self.server().await?.declared.clone();
        Ok(self
            .table()
            .await?
            .keys()
            .map(|k| k.trim_end_matches('/').to_owned())
            .filter(|k| !declared.contains(k))
            .map(|k| ResourceId::new("", "audit_device", None, &k))
            .collect())
    }
}

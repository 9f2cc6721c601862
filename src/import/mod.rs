//! Import: what already exists on an OpenBao server, written as a topology file (plus
//! `policies/*.hcl`) that plans "No changes." against that server.
//!
//! Objects are read through the same kinds that plan and apply use, and only the fields OpenBao
//! publishes as writable parameters are kept (the same schema plan checks against), so the
//! imported fields are exactly the ones the differ compares. Built-ins and aegisctl's own
//! ledger are skipped. No secret value is ever written: KV values (v2 and v1) and write-only
//! secrets (database passwords, AWS secret keys, OIDC client secrets) become `env:`
//! placeholders — `json:env:` for a value that is not text, so it keeps its type — and the
//! report lists them. A placeholder's name is derived from the value's path plus a short hash
//! of it: stable from one import to the next, and distinct for paths that read alike.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::backends::openbao::fields::FieldCheck;
use crate::backends::openbao::{BaoError, OpenBao, Table};
use crate::backends::{Live, Registry};
use crate::model::{AttrValue, DesiredResource, ResourceId};
use crate::topology::resolve::BUILTIN_POLICIES;

mod children;
pub mod infisical;
pub mod keycloak;
mod values;
use values::{clean, env_name, nest, pick};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error(transparent)]
    Bao(#[from] Box<BaoError>),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

impl From<BaoError> for ImportError {
    fn from(e: BaoError) -> Self {
        ImportError::Bao(Box::new(e))
    }
}

impl From<crate::backends::BackendError> for ImportError {
    fn from(e: crate::backends::BackendError) -> Self {
        match e {
            crate::backends::BackendError::OpenBao(b) => ImportError::Bao(b),
            // Keycloak import comes with its own module; until then its errors read as refusals.
            crate::backends::BackendError::Keycloak(k) => {
                ImportError::Bao(Box::new(BaoError::Refused(k.to_string())))
            }
            crate::backends::BackendError::Infisical(i) => {
                ImportError::Bao(Box::new(BaoError::Refused(i.to_string())))
            }
            crate::backends::BackendError::Refused(m) => {
                ImportError::Bao(Box::new(BaoError::Refused(m)))
            }
        }
    }
}

/// What an import wrote.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub topology: PathBuf,
    pub policy_files: Vec<PathBuf>,
    /// Environment variables the topology expects, and what each holds.
    pub placeholders: Vec<(String, String)>,
    pub objects: usize,
}

struct Importer<'a> {
    registry: &'a Registry,
    fields: FieldCheck<'a>,
    ledger: String,
    out: PathBuf,
    report: ImportReport,
}

/// Imports `namespace` (and below) from the server into `out/topology.yaml`.
pub async fn import_openbao(
    bao: &std::sync::Arc<OpenBao>,
    registry: &Registry,
    namespace: &str,
    ledger: &str,
    out: &Path,
) -> Result<ImportReport, ImportError> {
    let mut imp = Importer {
        registry,
        fields: FieldCheck::new(bao),
        ledger: ledger.to_owned(),
        out: out.to_path_buf(),
        report: ImportReport::default(),
    };
    let ns = namespace.trim_matches('/').to_owned();
    let mut openbao = Map::new();
    if ns.is_empty() {
        let plugins = imp.plugins().await?;
        if !plugins.is_empty() {
            openbao.insert("plugins".into(), Value::Array(plugins));
        }
        let audit = imp.audit().await?;
        if !audit.is_empty() {
            openbao.insert("audit".into(), Value::Object(audit));
        }
    }
    let body = imp.namespace(ns.clone()).await?;
    openbao.extend(body);
    let mut doc = Map::new();
    doc.insert("version".into(), json!(1));
    doc.insert("openbao".into(), Value::Object(openbao));
    let mut text = format!(
        "# Imported by aegisctl {} from {}{}.\n# Secret values were not read into this file: set the env: placeholders listed at the end.\n",
        env!("CARGO_PKG_VERSION"),
        bao.client.address(),
        if ns.is_empty() {
            String::new()
        } else {
            format!(
                " (namespace {ns} only).\n# Its paths are relative to that namespace: plan and apply it with BAO_NAMESPACE={ns}"
            )
        }
    );
    text.push_str(&serde_saphyr::to_string(&Value::Object(doc)).map_err(|e| {
        ImportError::Write {
            path: out.join("topology.yaml"),
            reason: e.to_string(),
        }
    })?);
    if !imp.report.placeholders.is_empty() {
        text.push_str(
            "\n# Environment variables this topology reads (secret values, never imported):\n",
        );
        for (var, what) in &imp.report.placeholders {
            text.push_str(&format!("#   {var}: {what}\n"));
        }
    }
    let path = out.join("topology.yaml");
    write(&path, &text)?;
    imp.report.topology = path;
    Ok(imp.report)
}

fn write(path: &Path, text: &str) -> Result<(), ImportError> {
    let err = |e: std::io::Error| ImportError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ImportError>> + Send + 'a>>;

impl Importer<'_> {
    /// A reference to an environment variable for a secret; `json:` when the value is not
    /// text, so that it comes back with its type.
    fn placeholder(&mut self, parts: &[&str], what: String, sample: Option<&Value>) -> Value {
        let name = env_name(parts);
        let typed = match sample {
            Some(Value::String(_)) | None => None,
            Some(Value::Number(_)) => Some("a number"),
            Some(Value::Bool(_)) => Some("a boolean"),
            Some(Value::Null) => Some("null"),
            Some(Value::Array(_)) => Some("a list"),
            Some(Value::Object(_)) => Some("an object"),
        };
        match typed {
            None => {
                self.report.placeholders.push((name.clone(), what));
                Value::String(format!("env:{name}"))
            }
            Some(t) => {
                self.report
                    .placeholders
                    .push((name.clone(), format!("{what}, as JSON: {t}")));
                Value::String(format!("json:env:{name}"))
            }
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, ImportError> {
        match self.registry.of(id) {
            Some(kind) => Ok(kind.read(id).await?),
            None => Ok(None),
        }
    }

    async fn list(
        &self,
        kind: &str,
        ns: &str,
        mounts: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, ImportError> {
        match self.registry.get(crate::model::Backend::OpenBao, kind) {
            Some(k) => Ok(k.list(ns, mounts).await?),
            None => Ok(Vec::new()),
        }
    }

    async fn plugins(&mut self) -> Result<Vec<Value>, ImportError> {
        let mut out = Vec::new();
        for id in self.list("plugin", "", &[]).await? {
            let Some(live) = self.read(&id).await? else {
                continue;
            };
            let mut entry = Map::new();
            entry.insert("type".into(), json!(id.mount.clone().unwrap_or_default()));
            entry.insert(
                "name".into(),
                json!(id.name.split('@').next().unwrap_or_default()),
            );
            entry.extend(pick(
                clean(live),
                Some(&["command", "sha256", "version", "args"]),
                &[],
            ));
            out.push(Value::Object(entry));
            self.report.objects += 1;
        }
        Ok(out)
    }

    async fn audit(&mut self) -> Result<Map<String, Value>, ImportError> {
        let mut out = Map::new();
        for id in self.list("audit_device", "", &[]).await? {
            let Some(live) = self.read(&id).await? else {
                continue;
            };
            out.insert(id.name.clone(), Value::Object(nest(clean(live))));
            self.report.objects += 1;
        }
        Ok(out)
    }

    /// One namespace's blocks, then its children, recursively.
    fn namespace(&mut self, ns: String) -> Boxed<'_, Map<String, Value>> {
        Box::pin(async move {
            let mut body = Map::new();
            let policies = self.policies(&ns).await?;
            if !policies.is_empty() {
                body.insert("policies".into(), Value::Object(policies));
            }
            let auth = self.mounts(&ns, Table::Auth).await?;
            if !auth.is_empty() {
                body.insert("auth".into(), Value::Object(auth));
            }
            let secrets = self.mounts(&ns, Table::Secrets).await?;
            if !secrets.is_empty() {
                body.insert("secrets".into(), Value::Object(secrets));
            }
            let mut children = Map::new();
            for id in self.list("namespace", &ns, &[]).await? {
                let path = if ns.is_empty() {
                    id.name.clone()
                } else {
                    format!("{ns}/{}", id.name)
                };
                let mut child = Map::new();
                if let Some(live) = self.read(&id).await? {
                    child.extend(clean(live));
                }
                child.extend(self.namespace(path).await?);
                children.insert(id.name.clone(), Value::Object(child));
                self.report.objects += 1;
            }
            if !children.is_empty() {
                body.insert("namespaces".into(), Value::Object(children));
            }
            Ok(body)
        })
    }

    async fn policies(&mut self, ns: &str) -> Result<Map<String, Value>, ImportError> {
        let mut out = Map::new();
        for id in self.list("policy", ns, &[]).await? {
            if BUILTIN_POLICIES.contains(&id.name.as_str()) {
                continue;
            }
            let Some(live) = self.read(&id).await? else {
                continue;
            };
            let text = live
                .get("policy")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let rel = if ns.is_empty() {
                format!("policies/{}.hcl", id.name)
            } else {
                format!("policies/{ns}/{}.hcl", id.name)
            };
            let path = self.out.join(&rel);
            write(&path, &format!("{}\n", text.trim_end()))?;
            self.report.policy_files.push(path);
            out.insert(id.name.clone(), json!(format!("file:{rel}")));
            self.report.objects += 1;
        }
        Ok(out)
    }

    async fn mounts(&mut self, ns: &str, table: Table) -> Result<Map<String, Value>, ImportError> {
        let kind = match table {
            Table::Secrets => "mount",
            Table::Auth => "auth",
        };
        let ids = self.list(kind, ns, &[]).await?;
        let mut out = Map::new();
        for id in ids {
            if ns.is_empty() && kind == "mount" && id.name == self.ledger {
                continue;
            }
            let Some(live) = self.read(&id).await? else {
                continue;
            };
            // Any aegisctl ledger (other topologies may use other mounts) is aegisctl's own.
            if live
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.starts_with(crate::state::ledger::LEDGER_DESCRIPTION_PREFIX))
            {
                continue;
            }
            let mount_type = live
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut flat = clean(live);
            // Server defaults carry no information and would only clutter the file.
            flat.retain(|k, v| {
                let default = match k.as_str() {
                    "local" | "seal_wrap" | "external_entropy_access" | "tune.force_no_cache" => {
                        v.as_bool() == Some(false)
                    }
                    "tune.token_type" => v.as_str() == Some("default-service"),
                    _ => false,
                };
                !default
            });
            let mut body = nest(flat);
            // Children are listed by kinds that look for their mount among "declared" mounts.
            let mut attrs = BTreeMap::new();
            attrs.insert("type".to_owned(), AttrValue::Plain(json!(mount_type)));
            let mount_res = DesiredResource::new(id.clone(), attrs);
            self.children(ns, &id.name, &mount_type, &mount_res, &mut body)
                .await?;
            out.insert(id.name.clone(), Value::Object(body));
            self.report.objects += 1;
        }
        Ok(out)
    }
}

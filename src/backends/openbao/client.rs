//! A thin OpenBao client on reqwest: one `request` function, namespaces per request, LIST,
//! response wrapping, and errors that name the address, method, path, status and OpenBao's own
//! message — never a token or a value.
//!
//! Why not vaultrs: it lacks mount/auth tune and per-request namespaces, hard-codes the wrap TTL
//! and drops the response fields a drift check needs (see DEPENDENCIES.md).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use thiserror::Error;

use crate::backends::http;
use crate::backends::path::ApiPath;
use crate::sensitive::{REDACTED, Sensitive};

/// A request body. It may hold secrets, so its `Debug` shows nothing, and the secrets it holds
/// are remembered so they can be scrubbed from any error message the server echoes them in.
pub struct Body {
    json: Value,
    secrets: Vec<Sensitive<String>>,
}

impl Body {
    pub fn new(json: Value) -> Self {
        Body {
            json,
            secrets: Vec::new(),
        }
    }

    /// Marks a secret contained in the body, for scrubbing from error messages.
    pub fn with_secret(mut self, secret: &Sensitive<String>) -> Self {
        self.remember(secret.expose());
        self
    }

    /// Marks every text inside a secret value (and the password of a URL among them, which a
    /// server may echo on its own) for scrubbing.
    pub fn with_secret_value(mut self, value: &Value) -> Self {
        match value {
            Value::String(s) => self.remember(s),
            Value::Array(items) => {
                for v in items {
                    self = self.with_secret_value(v);
                }
            }
            Value::Object(m) => {
                for v in m.values() {
                    self = self.with_secret_value(v);
                }
            }
            Value::Number(n) => self.remember(&n.to_string()),
            _ => {}
        }
        self
    }

    fn remember(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.secrets.push(Sensitive::new(text.to_owned()));
        if let Some(password) = url_password(text) {
            self.secrets.push(Sensitive::new(password));
        }
    }

    pub fn json(&self) -> &Value {
        &self.json
    }
}

/// The password of a URL with credentials in it (`postgresql://user:pw@host/db`), decoded too.
fn url_password(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let userinfo = rest.split(['/', '?', '#']).next()?.rsplit_once('@')?.0;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body(")?;
        f.write_str(REDACTED)?;
        f.write_str(")")
    }
}

/// Everything that can go wrong talking to OpenBao.
#[derive(Debug, Error)]
pub enum BaoError {
    #[error("cannot reach OpenBao at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("OpenBao at {address} answered {status} to {method} {path}{}: {message}", ns_suffix(.namespace))]
    Status {
        address: String,
        method: String,
        path: String,
        namespace: String,
        status: u16,
        message: String,
    },
    #[error("OpenBao at {address} sent an unreadable answer to {method} {path}: {reason}")]
    Decode {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Refused(String),
}

impl BaoError {
    pub fn status(&self) -> Option<u16> {
        match self {
            BaoError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl miette::Diagnostic for BaoError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let text = match self {
            BaoError::Unreachable { .. } => {
                "check that OpenBao is running and that openbao.address / BAO_ADDR is right"
            }
            BaoError::Status {
                status: 401 | 403, ..
            } => {
                "the token was refused or lacks a capability on this path: check the token (openbao.token / BAO_TOKEN) and its policies"
            }
            BaoError::Status { status: 400, .. } => {
                "OpenBao rejected the request: check the declared fields against OpenBao's API for this path"
            }
            BaoError::Status {
                status: 500..=599, ..
            } => "OpenBao failed (retried already): check the server's log",
            BaoError::Setup(_) => "check openbao.address, openbao.ca_cert and BAO_CACERT",
            _ => return None,
        };
        Some(Box::new(text))
    }
}

fn ns_suffix(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" (namespace {ns})")
    }
}

/// A connection to one OpenBao server with one token.
#[derive(Clone)]
pub struct BaoClient {
    http: reqwest::Client,
    address: String,
    token: Sensitive<String>,
    /// `BAO_NAMESPACE`: every namespace of the topology is relative to it.
    base_namespace: String,
}

impl BaoClient {
    pub fn new(
        address: &str,
        token: Sensitive<String>,
        ca_cert: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Self, BaoError> {
        let http = http::client(ca_cert, timeout).map_err(|e| BaoError::Setup(e.to_string()))?;
        let address = address.trim_end_matches('/').to_owned();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(BaoError::Setup(format!(
                "the OpenBao address `{address}` must start with http:// or https://"
            )));
        }
        Ok(BaoClient {
            http,
            address,
            token,
            base_namespace: String::new(),
        })
    }

    /// Makes every request relative to this namespace (`BAO_NAMESPACE`).
    pub fn with_base_namespace(mut self, ns: &str) -> Self {
        self.base_namespace = ns.trim_matches('/').to_owned();
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// A key derived from the token for `purpose` (SHA-256 of both): a secret only the token's
    /// holder can compute, for fingerprints that must not be checkable without it.
    pub fn derived_key(&self, purpose: &[u8]) -> Sensitive<Vec<u8>> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(purpose);
        h.update([0]);
        h.update(self.token.expose().as_bytes());
        Sensitive::new(h.finalize().to_vec())
    }

    /// GET; `None` when the object does not exist (404).
    pub async fn read(&self, ns: &str, path: &ApiPath) -> Result<Option<Value>, BaoError> {
        self.request(Method::GET, ns, path, None, None).await
    }

    /// LIST; the `keys` of the answer, empty when there is nothing (404).
    pub async fn list(&self, ns: &str, path: &ApiPath) -> Result<Vec<String>, BaoError> {
        let method = Method::from_bytes(b"LIST").map_err(|e| BaoError::Setup(e.to_string()))?;
        let resp = self.request(method, ns, path, None, None).await?;
        Ok(resp
            .as_ref()
            .and_then(|v| v.pointer("/data/keys"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// POST (OpenBao treats POST and PUT alike).
    pub async fn write(
        &self,
        ns: &str,
        path: &ApiPath,
        body: &Body,
    ) -> Result<Option<Value>, BaoError> {
        self.request(Method::POST, ns, path, Some(body), None).await
    }

    /// PATCH with a JSON merge patch (OpenBao requires that content type for PATCH).
    pub async fn patch(
        &self,
        ns: &str,
        path: &ApiPath,
        body: &Body,
    ) -> Result<Option<Value>, BaoError> {
        self.request(Method::PATCH, ns, path, Some(body), None)
            .await
    }

    /// DELETE; deleting an absent object is not an error.
    pub async fn delete(&self, ns: &str, path: &ApiPath) -> Result<(), BaoError> {
        self.request(Method::DELETE, ns, path, None, None)
            .await
            .map(|_| ())
    }

    /// The one request function everything goes through.
    ///
    /// A KV v2 mount that was just enabled answers 400 "Upgrading from non-versioned to
    /// versioned data" for a moment; that answer is retried for up to two seconds.
    pub async fn request(
        &self,
        method: Method,
        ns: &str,
        path: &ApiPath,
        body: Option<&Body>,
        wrap_ttl: Option<&str>,
    ) -> Result<Option<Value>, BaoError> {
        let mut tries = 0;
        loop {
            match self
                .request_once(method.clone(), ns, path, body, wrap_ttl)
                .await
            {
                Err(e)
                    if tries < 20
                        && e.status() == Some(400)
                        && e.to_string().contains("Upgrading from non-versioned") =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// One request (with the HTTP layer's own retries).
    async fn request_once(
        &self,
        method: Method,
        ns: &str,
        api_path: &ApiPath,
        body: Option<&Body>,
        wrap_ttl: Option<&str>,
    ) -> Result<Option<Value>, BaoError> {
        let path = api_path.as_str();
        let encoded = api_path.encoded().map_err(BaoError::Refused)?;
        let ns = &match (self.base_namespace.as_str(), ns) {
            ("", n) => n.to_owned(),
            (b, "") => b.to_owned(),
            (b, n) => format!("{b}/{n}"),
        };
        let ns = ns.as_str();
        let url = format!("{}/v1/{}", self.address, encoded);
        tracing::debug!(method = %method, path, namespace = ns, "openbao request");
        let make = || {
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .header("X-Vault-Token", self.token.expose().as_str())
                .header("X-Vault-Request", "true");
            if !ns.is_empty() {
                rb = rb.header("X-Vault-Namespace", ns);
            }
            if let Some(ttl) = wrap_ttl {
                rb = rb.header("X-Vault-Wrap-TTL", ttl);
            }
            if let Some(b) = body {
                // OpenBao wants PATCH bodies as JSON merge patches, and reads only one
                // Content-Type: set it once rather than letting `.json()` set its own too.
                let content_type = if method == Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(b.json.to_string());
            }
            rb
        };
        let resp = http::send(make).await.map_err(|e| BaoError::Unreachable {
            address: self.address.clone(),
            reason: http::innermost(&e),
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| BaoError::Unreachable {
            address: self.address.clone(),
            reason: http::innermost(&e),
        })?;
        let is_write = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        if status == 404 && !is_write {
            // A LIST of nothing, a GET of an absent object and a DELETE of one answer 404; KV v2
            // answers 404 with a body for a deleted version. All mean "absent" to the caller.
            // A write that answers 404 wrote nothing (no handler for the route): an error.
            return Ok(None);
        }
        if status == 204 || (text.trim().is_empty() && (200..300).contains(&status)) {
            return Ok(Some(Value::Null));
        }
        if !(200..300).contains(&status) {
            let mut message = server_message(&text);
            if let Some(b) = body {
                for s in &b.secrets {
                    message = message.replace(s.expose().as_str(), REDACTED);
                }
            }
            return Err(BaoError::Status {
                address: self.address.clone(),
                method: method.to_string(),
                path: path.to_owned(),
                namespace: ns.to_owned(),
                status,
                message,
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| BaoError::Decode {
                address: self.address.clone(),
                method: method.to_string(),
                path: path.to_owned(),
                reason: e.to_string(),
            })
    }
}

/// OpenBao's own words from an error body (`{"errors": [...]}`), or a short fallback.
fn server_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let errors: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // OpenBao wraps lists as "1 error occurred:\n\t* permission denied\n\n": keep the words.
    let errors: Vec<String> = errors
        .iter()
        .flat_map(|e| e.lines().map(str::to_owned).collect::<Vec<_>>())
        .map(|l| l.trim().trim_start_matches("* ").trim().to_owned())
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.ends_with("occurred:") && l.contains("error")))
        .collect();
    if errors.is_empty() {
        let t = text.trim();
        if t.is_empty() {
            "no message".into()
        } else {
            t.chars().take(200).collect()
        }
    } else {
        errors.join("; ")
    }
}

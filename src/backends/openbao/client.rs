//! A thin OpenBao client on reqwest: one `request` function, namespaces per request, LIST,
//! response wrapping, and errors that name the address, method, path, status and OpenBao's own
//! message — never a token or a value.
//!
//! Why not vaultrs: it lacks mount/auth tune and per-request namespaces, hard-codes the wrap TTL
//! and drops the response fields a drift check needs (see DEPENDENCIES.md).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

pub use super::body::Body;
pub use super::error::BaoError;
use crate::backends::http::{self, Retry};
use crate::backends::path::ApiPath;
use crate::sensitive::{REDACTED, Sensitive};

/// A connection to one OpenBao server with one token.
#[derive(Clone)]
pub struct BaoClient {
    http: reqwest::Client,
    address: String,
    token: Sensitive<String>,
    /// `BAO_NAMESPACE`: every namespace of the topology is relative to it.
    base_namespace: String,
    /// The run's retry budget and circuit breaker, shared by every clone.
    health: http::Health,
    /// The newest storage index a write was answered with (`X-Vault-Index`), sent with every
    /// later request so that a raft standby answers only once it has caught up with our own
    /// writes (read-your-writes through any node of a cluster).
    index: Arc<Mutex<Option<String>>>,
}

impl BaoClient {
    pub fn new(
        address: &str,
        token: Sensitive<String>,
        ca_cert: Option<&std::path::Path>,
        timeout: Duration,
        budget: Duration,
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
            health: http::Health::new(budget),
            index: Arc::new(Mutex::new(None)),
        })
    }

    /// The same connection (pool, retry budget, consistency index) with another token: the one
    /// a login just returned.
    pub fn with_token(&self, token: Sensitive<String>) -> Self {
        let mut c = self.clone();
        c.token = token;
        c
    }

    /// The run's retry budget and circuit breaker.
    pub fn health(&self) -> &http::Health {
        &self.health
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

    /// One unauthenticated GET at another node of the cluster (`sys/leader` of the active node a
    /// standby names): no token is sent, nothing is retried, and any failure is `None`.
    pub async fn peek(&self, base: &str, path: &str) -> Option<Value> {
        let url = format!("{}/v1/{path}", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json().await.ok()
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

    /// The one request function everything goes through, for requests that are safe to send
    /// again (see [`Retry::Safe`]).
    pub async fn request(
        &self,
        method: Method,
        ns: &str,
        path: &ApiPath,
        body: Option<&Body>,
        wrap_ttl: Option<&str>,
    ) -> Result<Option<Value>, BaoError> {
        self.request_with(method, ns, path, body, wrap_ttl, Retry::Safe)
            .await
    }

    /// A request that must not happen twice (minting a SecretID): sent again only when its
    /// first attempt surely did not reach the server.
    pub async fn request_unrepeatable(
        &self,
        method: Method,
        ns: &str,
        path: &ApiPath,
        body: Option<&Body>,
        wrap_ttl: Option<&str>,
    ) -> Result<Option<Value>, BaoError> {
        self.request_with(method, ns, path, body, wrap_ttl, Retry::OnlyIfUnsent)
            .await
    }

    /// A KV v2 mount that was just enabled answers 400 "Upgrading from non-versioned to
    /// versioned data" for a moment (a standby: "Waiting for the primary to upgrade from
    /// non-versioned to versioned data"); that answer is retried for up to two seconds.
    async fn request_with(
        &self,
        method: Method,
        ns: &str,
        path: &ApiPath,
        body: Option<&Body>,
        wrap_ttl: Option<&str>,
        retry: Retry,
    ) -> Result<Option<Value>, BaoError> {
        let mut tries = 0;
        loop {
            match self
                .request_once(method.clone(), ns, path, body, wrap_ttl, retry)
                .await
            {
                Err(e)
                    if tries < 20
                        && e.status() == Some(400)
                        && e.to_string().contains("non-versioned to versioned") =>
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
        retry: Retry,
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
        let index = self.index.lock().ok().and_then(|i| i.clone());
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
            if let Some(i) = &index {
                // A standby that has not applied our own writes yet hands the request to the
                // active node instead of answering from older state (or 404 "no handler" for a
                // mount it does not know yet). Needs no server configuration.
                rb = rb
                    .header("X-Vault-Index", i.as_str())
                    .header("X-Vault-Inconsistent", "forward-active-node");
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
        let answer = http::send(make, retry, &self.health)
            .await
            .map_err(|e| self.send_error(&method, path, e))?;
        let (status, text) = (answer.status, answer.text);
        let is_write = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        if let Some(i) = answer.index
            && (is_write || method == Method::DELETE)
            && (200..300).contains(&status)
            && let Ok(mut newest) = self.index.lock()
        {
            *newest = Some(super::consistency::newer(newest.take(), i));
        }
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
                retried: answer.attempts > 1,
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

impl BaoClient {
    fn send_error(&self, method: &Method, path: &str, e: http::SendError) -> BaoError {
        let address = self.address.clone();
        match e {
            http::SendError::Unreachable { reason } => BaoError::Unreachable { address, reason },
            e @ http::SendError::BudgetSpent { .. } => BaoError::Unreachable {
                address,
                reason: e.to_string(),
            },
            http::SendError::Lost { reason } => BaoError::Lost {
                address,
                method: method.to_string(),
                path: path.to_owned(),
                reason,
            },
            http::SendError::Tls { reason } => BaoError::Tls { address, reason },
            e @ http::SendError::CrossOrigin { .. } => {
                BaoError::Redirect(format!("OpenBao at {e}"))
            }
        }
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

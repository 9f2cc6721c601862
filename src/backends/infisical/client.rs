//! A thin Infisical API client on the shared HTTP layer: one Universal Auth login per run,
//! bodies as `serde_json::Value`, every path in one place (`routes.rs`), and errors that name
//! the address, method, path, status and Infisical's own words — never the client secret, the
//! access token or a secret value the request carried.
//!
//! Why our own: the `infisical` crate covers secrets only and drags reqwest 0.12 (see
//! DEPENDENCIES.md).
//!
//! The token is fetched on the first request, shared by every clone and every concurrent request
//! (one `tokio` mutex held across the login), renewed by logging in again ahead of `expiresIn`,
//! and renewed once more when a call answers 401 or 403 `TokenError` (then that call is sent once
//! again). A login Infisical refuses stays refused for the run: Universal Auth locks an identity
//! out after three failed logins, so retrying a wrong secret per request would lock it.
//!
//! Servers from before about late 2024 have no `/api/v1/projects` routes. The first project
//! route answered with Fastify's route-not-found switches the client to the deprecated workspace
//! routes ([`InfisicalClient::call_project`]); other missing routes are
//! [`InfisicalError::NoRoute`], which asks for an upgrade.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroize;

pub use super::error::InfisicalError;
use super::login::{Credentials, Token, login};
use super::message::server_message;
use crate::backends::body::{Body, scrub};
use crate::backends::http::{self, Answer, Retry};
use crate::backends::path::ApiPath;
use crate::sensitive::Sensitive;

/// A connection to one Infisical server with one Universal Auth login. Cheap to clone; clones
/// share the token and the retry budget.
#[derive(Clone)]
pub struct InfisicalClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    address: String,
    client_id: String,
    client_secret: Sensitive<String>,
    organization: String,
    health: http::Health,
    /// Held across a login, so that concurrent callers wanting a token wait for one login.
    token: tokio::sync::Mutex<Slot>,
    /// The server has no `/api/v1/projects` routes: projects, environments and memberships go
    /// through the deprecated workspace routes.
    legacy: AtomicBool,
}

#[derive(Default)]
struct Slot {
    token: Option<Token>,
    /// How many tokens this run has had.
    issued: u64,
    /// Why the login was refused, once it was: it is not tried again (lockout).
    refused: Option<String>,
}

impl std::fmt::Debug for InfisicalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfisicalClient")
            .field("address", &self.inner.address)
            .field("client_id", &self.inner.client_id)
            .field("organization", &self.inner.organization)
            .finish_non_exhaustive()
    }
}

impl InfisicalClient {
    /// A client for the topology's `infisical:` block.
    pub fn from_conn(
        conn: &crate::model::InfisicalConn,
        timeout: Duration,
        budget: Duration,
    ) -> Result<Self, InfisicalError> {
        Self::new(
            &conn.url,
            &conn.client_id,
            conn.client_secret.clone(),
            &conn.organization,
            conn.ca_cert.as_deref(),
            timeout,
            budget,
        )
    }

    /// A client for the server at `base_url` (without `/api`), logging in with the Universal
    /// Auth credentials of the tool's own identity, managing organization `organization` (id).
    pub fn new(
        base_url: &str,
        client_id: &str,
        client_secret: Sensitive<String>,
        organization: &str,
        ca_cert: Option<&std::path::Path>,
        timeout: Duration,
        budget: Duration,
    ) -> Result<Self, InfisicalError> {
        let http =
            http::client(ca_cert, timeout).map_err(|e| InfisicalError::Setup(e.to_string()))?;
        let address = base_url.trim_end_matches('/').to_owned();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(InfisicalError::Setup(format!(
                "the Infisical address `{address}` must start with http:// or https://"
            )));
        }
        Ok(InfisicalClient {
            inner: Arc::new(Inner {
                http,
                address,
                client_id: client_id.to_owned(),
                client_secret,
                organization: organization.to_owned(),
                health: http::Health::new(budget),
                token: tokio::sync::Mutex::new(Slot::default()),
                legacy: AtomicBool::new(false),
            }),
        })
    }

    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The organization (id) every identity and project lives in.
    pub fn organization(&self) -> &str {
        &self.inner.organization
    }

    /// The run's retry budget and circuit breaker.
    pub fn health(&self) -> &http::Health {
        &self.inner.health
    }

    /// The tool's own Universal Auth client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The current access token and its generation; a new one when it is due for renewal or
    /// when `failed` names the generation a request was just refused with.
    async fn bearer(
        &self,
        failed: Option<u64>,
    ) -> Result<(Sensitive<String>, u64), InfisicalError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(reason) = &slot.refused {
            return Err(InfisicalError::Login {
                address: self.inner.address.clone(),
                reason: reason.clone(),
            });
        }
        if let Some(t) = &slot.token
            && failed != Some(t.generation)
            && t.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok((t.access.clone(), t.generation));
        }
        let i = &self.inner;
        let credentials = Credentials {
            http: &i.http,
            address: &i.address,
            client_id: &i.client_id,
            client_secret: &i.client_secret,
            health: &i.health,
        };
        let mut token = match login(&credentials).await {
            Ok(t) => t,
            Err(e) => {
                if let InfisicalError::Login { reason, .. } = &e {
                    slot.refused = Some(reason.clone());
                }
                return Err(e);
            }
        };
        slot.issued += 1;
        token.generation = slot.issued;
        let out = (token.access.clone(), token.generation);
        slot.token = Some(token);
        Ok(out)
    }

    /// The one request function everything goes through: JSON in, JSON out (`Null` for an
    /// empty answer). Anything but 2xx is an error; see [`InfisicalError::is_absent`].
    pub async fn call(
        &self,
        method: Method,
        path: &ApiPath,
        body: Option<&Body>,
        retry: Retry,
    ) -> Result<Value, InfisicalError> {
        let shown = path.as_str();
        let encoded = path.encoded().map_err(InfisicalError::Refused)?;
        let url = format!("{}/api/{encoded}", self.inner.address);
        tracing::debug!(method = %method, path = shown, "infisical request");
        let (mut token, generation) = self.bearer(None).await?;
        let mut answer = self.send(&method, &url, shown, body, &token, retry).await?;
        if token_refused(&answer) {
            // Expired early or revoked: log in again once and send this once more.
            tracing::debug!(method = %method, path = shown, "access token refused; logging in again");
            let earlier = answer.attempts;
            token = self.bearer(Some(generation)).await?.0;
            answer = self.send(&method, &url, shown, body, &token, retry).await?;
            // The refused attempt did nothing; any attempt before it might have.
            answer.attempts += earlier - 1;
        }
        let status = answer.status;
        if (200..300).contains(&status) {
            return self.decode(&method, shown, answer);
        }
        let said = server_message(&answer.text);
        answer.text.zeroize();
        if status == 404 && said.no_route {
            return Err(InfisicalError::NoRoute {
                address: self.inner.address.clone(),
                method: method.to_string(),
                path: shown.to_owned(),
            });
        }
        let secrets = [self.inner.client_secret.clone(), token];
        let mut message = scrub(&said.message, &secrets);
        let mut error = scrub(&said.error, &secrets);
        if let Some(b) = body {
            message = b.scrub(&message);
            error = b.scrub(&error);
        }
        Err(InfisicalError::Status {
            address: self.inner.address.clone(),
            method: method.to_string(),
            path: shown.to_owned(),
            status,
            error,
            message,
            retried: answer.attempts > 1,
        })
    }

    /// Whether this server has shown it predates `/api/v1/projects` (see [`Self::call_project`]).
    pub fn legacy(&self) -> bool {
        self.inner.legacy.load(Ordering::Relaxed)
    }

    /// Marks the server as one without `/api/v1/projects` routes.
    pub fn set_legacy(&self) {
        if !self.inner.legacy.swap(true, Ordering::Relaxed) {
            tracing::info!(
                address = %self.inner.address,
                "this Infisical server has no /api/v1/projects routes: using the deprecated workspace routes"
            );
        }
    }

    /// A call on a project route: `current`, or `legacy` once the server has answered a current
    /// route with Fastify's route-not-found (then this call is sent again on `legacy`).
    pub async fn call_project(
        &self,
        method: Method,
        current: &ApiPath,
        legacy: &ApiPath,
        body: Option<&Body>,
        retry: Retry,
    ) -> Result<Value, InfisicalError> {
        if !self.legacy() {
            match self.call(method.clone(), current, body, retry).await {
                Err(InfisicalError::NoRoute { .. }) => self.set_legacy(),
                other => return other,
            }
        }
        self.call(method, legacy, body, retry).await
    }

    /// [`Self::call_project`] for a GET; `None` when the object is absent.
    pub async fn get_project(
        &self,
        current: &ApiPath,
        legacy: &ApiPath,
    ) -> Result<Option<Value>, InfisicalError> {
        match self
            .call_project(Method::GET, current, legacy, None, Retry::Safe)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_absent() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET; `None` when the server says the object is not there ([`InfisicalError::is_absent`]).
    pub async fn get(&self, path: &ApiPath) -> Result<Option<Value>, InfisicalError> {
        match self.call(Method::GET, path, None, Retry::Safe).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_absent() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One request through the HTTP layer (with its own retries).
    async fn send(
        &self,
        method: &Method,
        url: &str,
        shown: &str,
        body: Option<&Body>,
        token: &Sensitive<String>,
        retry: Retry,
    ) -> Result<Answer, InfisicalError> {
        let text = body.map(|b| Sensitive::new(b.json().to_string()));
        let make = || {
            let rb = self
                .inner
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose());
            match &text {
                Some(t) => rb
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(t.expose().clone()),
                None => rb,
            }
        };
        http::send(make, retry, &self.inner.health)
            .await
            .map_err(|e| InfisicalError::from_send(&self.inner.address, method, shown, e))
    }

    /// Reads a JSON answer; the text is wiped once parsed (secret listings hold values).
    fn decode(
        &self,
        method: &Method,
        shown: &str,
        mut answer: Answer,
    ) -> Result<Value, InfisicalError> {
        if answer.text.trim().is_empty() {
            return Ok(Value::Null);
        }
        let parsed = serde_json::from_str(&answer.text);
        answer.text.zeroize();
        // serde_json's messages name a position, never the text: safe to quote.
        parsed.map_err(|e| InfisicalError::Decode {
            address: self.inner.address.clone(),
            method: method.to_string(),
            path: shown.to_owned(),
            reason: e.to_string(),
        })
    }

    pub(super) fn unreadable(&self, method: &str, path: &ApiPath, reason: &str) -> InfisicalError {
        InfisicalError::Decode {
            address: self.inner.address.clone(),
            method: method.into(),
            path: path.as_str().to_owned(),
            reason: reason.into(),
        }
    }
}

/// Whether an answer refuses the access token (401, or 403 `TokenError`), rather than the
/// request: legacy servers answer a validation failure with 401 too, which a new token would
/// not change.
fn token_refused(answer: &Answer) -> bool {
    match answer.status {
        401 => server_message(&answer.text).error != "ValidationFailure",
        403 => server_message(&answer.text).error == "TokenError",
        _ => false,
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

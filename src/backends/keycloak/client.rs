//! A thin Keycloak admin client on the shared HTTP layer: one admin token per run, bodies as
//! `serde_json::Value`, and errors that name the address, method, path, status and Keycloak's
//! own message — never a token, the admin password or a client secret.
//!
//! Why our own: the generated `keycloak` crate drops fields missing from its OpenAPI snapshot
//! (the differ would go blind to them) and fetches a token per call (see DEPENDENCIES.md).
//!
//! The token is fetched on the first request, shared by every clone and every concurrent
//! request, renewed ahead of its expiry (by its refresh token while that lives, else by a new
//! login), and renewed once more when an admin call answers 401 (then that call is sent once
//! again). A login Keycloak refuses stays refused for the run: trying a wrong password for each
//! of many requests would only trip Keycloak's brute-force lockout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroize;

pub use super::auth::AdminAuth;
use super::auth::{Grant, Token, grant, logout};
pub use super::error::KeycloakError;
use super::message::server_message;
pub use super::redact::{redact_client, redact_credential};
pub use crate::backends::body::Body;
use crate::backends::body::scrub;
use crate::backends::http::{self, Answer, Retry};
use crate::backends::path::{ApiPath, decode_segment};
use crate::sensitive::Sensitive;

/// A connection to one Keycloak server with one admin login. Cheap to clone; clones share the
/// token and the retry budget.
#[derive(Clone)]
pub struct KeycloakClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    address: String,
    auth: AdminAuth,
    health: http::Health,
    /// Held across a login, so that concurrent callers wanting a token wait for one login.
    token: tokio::sync::Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    token: Option<Token>,
    /// How many tokens this run has had.
    issued: u64,
    /// Why the login was refused, once it was: it is not tried again.
    refused: Option<(String, String)>,
}

/// What a `POST` created.
pub struct Created {
    /// The new object's key: the last segment of `Location`, decoded (a UUID for clients,
    /// scopes, groups, mappers; the name for roles and realms; the alias for identity
    /// providers). `None` when Keycloak sent no `Location` (a POST that is not a create).
    pub id: Option<String>,
    /// The answer's body, when there is one (`POST .../client-secret` answers the new secret:
    /// pass it through [`redact_credential`]).
    pub body: Option<Value>,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold a secret: show only that there is one.
        f.debug_struct("Created")
            .field("id", &self.id)
            .field("body", &self.body.as_ref().map(|_| "..."))
            .finish()
    }
}

impl std::fmt::Debug for KeycloakClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakClient")
            .field("address", &self.inner.address)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// `admin/realms/{realm}`: where every admin path of a realm starts.
pub fn admin_realm(realm: &str) -> ApiPath {
    ApiPath::route("admin/realms").name(realm)
}

impl KeycloakClient {
    /// A client for the server at `base_url` (the root, without `/admin`): the login and the
    /// admin API go to the same base, since the token's issuer follows the Host header.
    pub fn new(
        base_url: &str,
        auth: AdminAuth,
        ca_cert: Option<&std::path::Path>,
        timeout: Duration,
        budget: Duration,
    ) -> Result<Self, KeycloakError> {
        let http =
            http::client(ca_cert, timeout).map_err(|e| KeycloakError::Setup(e.to_string()))?;
        let address = base_url.trim_end_matches('/').to_owned();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(KeycloakError::Setup(format!(
                "the Keycloak address `{address}` must start with http:// or https://"
            )));
        }
        Ok(KeycloakClient {
            inner: Arc::new(Inner {
                http,
                address,
                auth,
                health: http::Health::new(budget),
                token: tokio::sync::Mutex::new(Slot::default()),
            }),
        })
    }

    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The run's retry budget and circuit breaker.
    pub fn health(&self) -> &http::Health {
        &self.inner.health
    }

    /// GET; `None` when the object does not exist (404, including an unknown realm).
    pub async fn get(&self, path: &ApiPath) -> Result<Option<Value>, KeycloakError> {
        let answer = self.request(Method::GET, path, None, true).await?;
        if answer.status == 404 {
            return Ok(None);
        }
        self.decode(&Method::GET, path, answer).map(Some)
    }

    /// Every element of a list, read in pages of `page_size` with Keycloak's `first`/`max`
    /// until a short page. A 404 (the realm or parent is absent) is an empty list. Client
    /// lists carry secrets: pass each element through [`redact_client`].
    pub async fn list_paged(
        &self,
        path: &ApiPath,
        page_size: u32,
    ) -> Result<Vec<Value>, KeycloakError> {
        let page_size = page_size.max(1);
        let mut all: Vec<Value> = Vec::new();
        let mut previous_head: Option<Value> = None;
        loop {
            let page_path = path
                .clone()
                .query("first", &all.len().to_string())
                .query("max", &page_size.to_string());
            let page = match self.get(&page_path).await? {
                None => return Ok(all),
                Some(Value::Array(items)) => items,
                Some(_) => return Err(self.decode_error(path, "the answer is not a list")),
            };
            // A server that ignored `first` would hand the same page forever.
            if !page.is_empty() && page.first() == previous_head.as_ref() {
                return Err(self.decode_error(path, "the server ignored the `first` parameter"));
            }
            previous_head = page.first().cloned();
            let full = page.len() >= page_size as usize;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// POST a create. Keycloak answers 409 to a duplicate, so a create whose first attempt may
    /// have landed and whose retry answers 409 is an error with `retried: true`
    /// ([`KeycloakError::may_have_landed`]): the caller re-reads to recognise its own object.
    pub async fn post(&self, path: &ApiPath, body: &Body) -> Result<Created, KeycloakError> {
        let answer = self.request(Method::POST, path, Some(body), false).await?;
        let id = answer.location.as_deref().and_then(location_id);
        let body = if answer.text.trim().is_empty() {
            None
        } else {
            Some(self.decode(&Method::POST, path, answer)?)
        };
        Ok(Created { id, body })
    }

    /// PUT an update (Keycloak answers 204).
    pub async fn put(&self, path: &ApiPath, body: &Body) -> Result<(), KeycloakError> {
        self.request(Method::PUT, path, Some(body), false)
            .await
            .map(|_| ())
    }

    /// DELETE; deleting an absent object is not an error.
    pub async fn delete(&self, path: &ApiPath) -> Result<(), KeycloakError> {
        self.request(Method::DELETE, path, None, true)
            .await
            .map(|_| ())
    }

    /// DELETE with a body (role mappings and composites are removed by listing them).
    pub async fn delete_with(&self, path: &ApiPath, body: &Body) -> Result<(), KeycloakError> {
        self.request(Method::DELETE, path, Some(body), true)
            .await
            .map(|_| ())
    }

    /// Ends the admin session, if the login made one (best effort, at the end of a run).
    pub async fn logout(&self) -> Result<(), KeycloakError> {
        let mut slot = self.inner.token.lock().await;
        let Some(refresh) = slot.token.take().and_then(|t| t.refresh) else {
            return Ok(());
        };
        let i = &self.inner;
        logout(&i.http, &i.address, &i.health, &i.auth, &refresh).await
    }

    /// The current admin token and its generation; a new one when it is due for renewal or
    /// when `failed` names the generation a request was just refused with.
    async fn bearer(&self, failed: Option<u64>) -> Result<(Sensitive<String>, u64), KeycloakError> {
        let i = &self.inner;
        let mut slot = i.token.lock().await;
        if let Some((realm, reason)) = &slot.refused {
            return Err(KeycloakError::Token {
                address: i.address.clone(),
                realm: realm.clone(),
                reason: reason.clone(),
            });
        }
        let now = Instant::now();
        if let Some(t) = &slot.token
            && failed != Some(t.generation)
            && now < t.renew_at
        {
            return Ok((t.access.clone(), t.generation));
        }
        let refresh = slot.token.as_ref().and_then(|t| t.usable_refresh(now));
        let renewed = match refresh {
            Some(r) => {
                tracing::debug!("renewing the keycloak admin token by its refresh token");
                match grant(&i.http, &i.address, &i.health, &i.auth, &Grant::Refresh(r)).await {
                    // The session ended (logout, restart, idle timeout): log in again.
                    Err(KeycloakError::Token { .. }) => None,
                    other => Some(other),
                }
            }
            None => None,
        };
        let fresh = match renewed {
            Some(result) => result,
            None => grant(&i.http, &i.address, &i.health, &i.auth, &Grant::Login).await,
        };
        let mut token = match fresh {
            Ok(t) => t,
            Err(e) => {
                if let KeycloakError::Token { realm, reason, .. } = &e {
                    slot.refused = Some((realm.clone(), reason.clone()));
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

    /// The one request function everything goes through. Returns a 2xx answer (and a 404 when
    /// `absent_ok`); anything else is an error.
    async fn request(
        &self,
        method: Method,
        path: &ApiPath,
        body: Option<&Body>,
        absent_ok: bool,
    ) -> Result<Answer, KeycloakError> {
        let shown = path.as_str();
        let encoded = path.encoded().map_err(KeycloakError::Refused)?;
        let url = format!("{}/{}", self.inner.address, encoded);
        tracing::debug!(method = %method, path = shown, "keycloak request");
        let (mut token, generation) = self.bearer(None).await?;
        let mut answer = self.send(&method, &url, shown, body, &token).await?;
        if answer.status == 401 {
            // Expired early, or its session was ended: renew it once and send this once more.
            tracing::debug!(method = %method, path = shown, "admin token refused; renewing it");
            let earlier = answer.attempts;
            token = self.bearer(Some(generation)).await?.0;
            answer = self.send(&method, &url, shown, body, &token).await?;
            // The refused attempt did nothing; any attempt before it might have.
            answer.attempts += earlier - 1;
        }
        let status = answer.status;
        if (200..300).contains(&status) || (status == 404 && absent_ok) {
            return Ok(answer);
        }
        let mut secrets = self.inner.auth.secrets();
        secrets.push(token);
        let mut message = scrub(&server_message(&answer.text), &secrets);
        if let Some(b) = body {
            message = b.scrub(&message);
        }
        Err(KeycloakError::Status {
            address: self.inner.address.clone(),
            method: method.to_string(),
            path: shown.to_owned(),
            status,
            message,
            retried: answer.attempts > 1,
        })
    }

    /// One request through the HTTP layer (with its own retries). Every method is sent with
    /// [`Retry::Safe`]: reads, PUTs and DELETEs are idempotent, and a create sent twice is
    /// refused with 409, which the caller recognises by `retried`.
    async fn send(
        &self,
        method: &Method,
        url: &str,
        shown: &str,
        body: Option<&Body>,
        token: &Sensitive<String>,
    ) -> Result<Answer, KeycloakError> {
        let make = || {
            let rb = self
                .inner
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose());
            match body {
                Some(b) => rb
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.json().to_string()),
                None => rb,
            }
        };
        http::send(make, Retry::Safe, &self.inner.health)
            .await
            .map_err(|e| KeycloakError::from_send(&self.inner.address, method, shown, e))
    }

    /// Reads a JSON answer; the text is wiped once parsed (client lists hold secrets).
    fn decode(
        &self,
        method: &Method,
        path: &ApiPath,
        mut answer: Answer,
    ) -> Result<Value, KeycloakError> {
        let parsed = serde_json::from_str(&answer.text);
        answer.text.zeroize();
        // serde_json's messages name a position, never the text: safe to quote.
        parsed.map_err(|e| KeycloakError::Decode {
            address: self.inner.address.clone(),
            method: method.to_string(),
            path: path.as_str().to_owned(),
            reason: e.to_string(),
        })
    }

    fn decode_error(&self, path: &ApiPath, reason: &str) -> KeycloakError {
        KeycloakError::Decode {
            address: self.inner.address.clone(),
            method: "GET".into(),
            path: path.as_str().to_owned(),
            reason: reason.into(),
        }
    }
}

/// The new object's key from a `Location` header: its last path segment, percent-decoded.
/// `Location` itself is never reused as a URL: Keycloak does not encode it fully (`:` stays).
pub fn location_id(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?.trim_end_matches('/');
    let last = path.rsplit('/').next()?;
    if last.is_empty() {
        return None;
    }
    decode_segment(last)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "client_request_tests.rs"]
mod request_tests;

//! The admin login: which credentials aegisctl logs in with, the token grants
//! (`application/x-www-form-urlencoded`, as OAuth wants), and when a token must be renewed.
//!
//! Master-realm tokens live 60 s by default, shorter than a long apply, so a token is renewed
//! ahead of its expiry rather than on the 401 that expiry would cause. The login answers are
//! read field by field: a malformed answer must not be quoted in an error, since it holds the
//! token.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::error::KeycloakError;
use super::message::server_message;
use crate::backends::body::scrub;
use crate::backends::http::{self, Retry};
use crate::backends::path::ApiPath;
use crate::sensitive::Sensitive;

/// The realm and client the Keycloak admin CLI logs in with by default.
pub const DEFAULT_REALM: &str = "master";
pub const DEFAULT_CLIENT_ID: &str = "admin-cli";
/// A token is renewed this long before it expires at most (half its life for short ones), so
/// that a request started just before expiry does not arrive with a dead token.
const MAX_SKEW: Duration = Duration::from_secs(30);

/// The credentials aegisctl logs in to Keycloak with.
#[derive(Clone, Debug)]
pub enum AdminAuth {
    /// The password grant of an admin user (by default `admin-cli` in `master`).
    Password {
        realm: String,
        client_id: String,
        username: String,
        password: Sensitive<String>,
    },
    /// The client-credentials grant of a confidential client with a service account.
    ClientCredentials {
        realm: String,
        client_id: String,
        client_secret: Sensitive<String>,
    },
}

impl AdminAuth {
    /// An admin user's password login through `admin-cli` in `master`.
    pub fn password(username: &str, password: Sensitive<String>) -> Self {
        AdminAuth::Password {
            realm: DEFAULT_REALM.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            username: username.into(),
            password,
        }
    }

    /// The realm the login happens in (and whose token endpoint is asked).
    pub fn realm(&self) -> &str {
        match self {
            AdminAuth::Password { realm, .. } | AdminAuth::ClientCredentials { realm, .. } => realm,
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            AdminAuth::Password { client_id, .. }
            | AdminAuth::ClientCredentials { client_id, .. } => client_id,
        }
    }

    /// The secrets of the login, to scrub from any message.
    pub(super) fn secrets(&self) -> Vec<Sensitive<String>> {
        match self {
            AdminAuth::Password { password, .. } => vec![password.clone()],
            AdminAuth::ClientCredentials { client_secret, .. } => vec![client_secret.clone()],
        }
    }

    /// The client authentication fields every form to the token endpoint carries.
    fn client_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            AdminAuth::Password { client_id, .. } => vec![("client_id", client_id)],
            AdminAuth::ClientCredentials {
                client_id,
                client_secret,
                ..
            } => vec![
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
            ],
        }
    }
}

/// An admin token and when to renew it.
pub(super) struct Token {
    pub access: Sensitive<String>,
    pub refresh: Option<Sensitive<String>>,
    /// Renew the access token from this instant on.
    pub renew_at: Instant,
    /// The refresh token is no use from this instant on.
    pub refresh_until: Option<Instant>,
    /// Which token of the run this is: a caller whose request this token failed asks for a
    /// newer one than it, so that concurrent callers hitting the same 401 renew it once.
    pub generation: u64,
}

impl Token {
    /// The refresh token, while it can still be used.
    pub fn usable_refresh(&self, now: Instant) -> Option<Sensitive<String>> {
        match (&self.refresh, self.refresh_until) {
            (Some(r), Some(until)) if now < until => Some(r.clone()),
            _ => None,
        }
    }
}

/// When a token that lives `life` from `start` should be renewed.
fn renew_point(start: Instant, life: Duration) -> Instant {
    start + life - MAX_SKEW.min(life / 2)
}

/// Which grant to ask the token endpoint for.
pub(super) enum Grant {
    /// The configured credentials (password or client credentials).
    Login,
    /// The refresh token of the current session.
    Refresh(Sensitive<String>),
}

/// Where the token endpoint of `realm` is (the issuer follows the request's Host, so the same
/// base URL serves the login and the admin API).
fn token_path(realm: &str, endpoint: &'static str) -> ApiPath {
    ApiPath::route("realms")
        .name(realm)
        .lit("protocol/openid-connect")
        .lit(endpoint)
}

/// Asks for a token. A login refused by Keycloak (wrong credentials, unknown client or realm)
/// is [`KeycloakError::Token`]; a refused refresh is too, and the caller then logs in again.
pub(super) async fn grant(
    http_client: &reqwest::Client,
    address: &str,
    health: &http::Health,
    auth: &AdminAuth,
    grant: &Grant,
) -> Result<Token, KeycloakError> {
    let realm = auth.realm();
    let path = token_path(realm, "token");
    let encoded = path.encoded().map_err(KeycloakError::Refused)?;
    let url = format!("{address}/{encoded}");
    let mut form = auth.client_fields();
    match (grant, auth) {
        (Grant::Refresh(r), _) => {
            form.push(("grant_type", "refresh_token"));
            form.push(("refresh_token", r.expose()));
        }
        (
            Grant::Login,
            AdminAuth::Password {
                username, password, ..
            },
        ) => {
            form.push(("grant_type", "password"));
            form.push(("username", username));
            form.push(("password", password.expose()));
        }
        (Grant::Login, AdminAuth::ClientCredentials { .. }) => {
            form.push(("grant_type", "client_credentials"));
        }
    }
    tracing::debug!(path = path.as_str(), "keycloak token request");
    let started = Instant::now();
    // A login sent twice makes two sessions, which is harmless: safe to retry.
    let make = || http_client.request(Method::POST, &url).form(&form);
    let answer = http::send(make, Retry::Safe, health)
        .await
        .map_err(|e| KeycloakError::from_send(address, &Method::POST, path.as_str(), e))?;
    let mut secrets = auth.secrets();
    if let Grant::Refresh(r) = grant {
        secrets.push(r.clone());
    }
    let refused = |reason: String| KeycloakError::Token {
        address: address.to_owned(),
        realm: realm.to_owned(),
        reason,
    };
    match answer.status {
        200 => parse(answer.text, started).map_err(|reason| KeycloakError::Decode {
            address: address.to_owned(),
            method: "POST".into(),
            path: path.as_str().to_owned(),
            reason,
        }),
        400 | 401 => Err(refused(scrub(
            &explain(auth, &server_message(&answer.text)),
            &secrets,
        ))),
        404 => Err(refused(format!(
            "Keycloak knows no realm `{realm}` ({})",
            scrub(&server_message(&answer.text), &secrets)
        ))),
        status => Err(KeycloakError::Status {
            address: address.to_owned(),
            method: "POST".into(),
            path: path.as_str().to_owned(),
            status,
            message: scrub(&server_message(&answer.text), &secrets),
            retried: answer.attempts > 1,
        }),
    }
}

/// Keycloak's words for a refused login, with what they mean for the operator.
fn explain(auth: &AdminAuth, message: &str) -> String {
    let what = if message.contains("Invalid user credentials") {
        match auth {
            AdminAuth::Password { username, .. } => {
                format!("the password of admin user `{username}` was refused")
            }
            AdminAuth::ClientCredentials { .. } => "the credentials were refused".into(),
        }
    } else if message.contains("Invalid client") {
        format!(
            "client `{}` is unknown or its secret was refused",
            auth.client_id()
        )
    } else if message.contains("service account") {
        format!(
            "client `{}` cannot log in with client credentials (it must be confidential with service accounts enabled)",
            auth.client_id()
        )
    } else {
        return message.to_owned();
    };
    format!("{what} ({message})")
}

/// Reads a token answer. Errors name the missing field, never a value.
fn parse(mut text: String, started: Instant) -> Result<Token, String> {
    use zeroize::Zeroize;
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    text.zeroize();
    let mut v = parsed.map_err(|_| "the token answer is not JSON".to_owned())?;
    let mut take = |key: &str| match v.get_mut(key).map(Value::take) {
        Some(Value::String(s)) if !s.is_empty() => Some(Sensitive::new(s)),
        _ => None,
    };
    let access = take("access_token").ok_or("the token answer has no access_token")?;
    let refresh = take("refresh_token");
    let seconds = |key: &str| v.get(key).and_then(Value::as_u64).filter(|s| *s > 0);
    let life = seconds("expires_in").ok_or("the token answer has no expires_in")?;
    let refresh_life = seconds("refresh_expires_in");
    Ok(Token {
        access,
        refresh_until: match (&refresh, refresh_life) {
            (Some(_), Some(s)) => Some(renew_point(started, Duration::from_secs(s))),
            _ => None,
        },
        refresh,
        renew_at: renew_point(started, Duration::from_secs(life)),
        generation: 0,
    })
}

/// Ends the login's session (best effort: the token expires on its own anyway).
pub(super) async fn logout(
    http_client: &reqwest::Client,
    address: &str,
    health: &http::Health,
    auth: &AdminAuth,
    refresh: &Sensitive<String>,
) -> Result<(), KeycloakError> {
    let path = token_path(auth.realm(), "logout");
    let encoded = path.encoded().map_err(KeycloakError::Refused)?;
    let url = format!("{address}/{encoded}");
    let mut form = auth.client_fields();
    form.push(("refresh_token", refresh.expose()));
    let make = || http_client.request(Method::POST, &url).form(&form);
    let answer = http::send(make, Retry::Safe, health)
        .await
        .map_err(|e| KeycloakError::from_send(address, &Method::POST, path.as_str(), e))?;
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let mut secrets = auth.secrets();
    secrets.push(refresh.clone());
    Err(KeycloakError::Status {
        address: address.to_owned(),
        method: "POST".into(),
        path: path.as_str().to_owned(),
        status: answer.status,
        message: scrub(&server_message(&answer.text), &secrets),
        retried: answer.attempts > 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_ahead_of_expiry() {
        let t0 = Instant::now();
        assert_eq!(
            renew_point(t0, Duration::from_secs(60)),
            t0 + Duration::from_secs(30)
        );
        assert_eq!(
            renew_point(t0, Duration::from_secs(300)),
            t0 + Duration::from_secs(270)
        );
        assert_eq!(
            renew_point(t0, Duration::from_secs(2)),
            t0 + Duration::from_secs(1)
        );
    }

    #[test]
    fn a_malformed_token_answer_is_not_quoted() {
        let t0 = Instant::now();
        let e = parse(
            r#"{"access_token":"canary-tok","expires_in":"x"}"#.into(),
            t0,
        )
        .err()
        .unwrap_or_default();
        assert!(e.contains("expires_in") && !e.contains("canary"), "{e}");
        let ok = parse(
            r#"{"access_token":"a","expires_in":60,"refresh_token":"r","refresh_expires_in":0}"#
                .into(),
            t0,
        )
        .unwrap();
        assert!(
            ok.usable_refresh(t0).is_none(),
            "refresh_expires_in 0: no refresh"
        );
    }
}

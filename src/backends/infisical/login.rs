//! The Universal Auth login of the tool's own identity, and when its token must be renewed.
//!
//! The login answer is read field by field and never quoted: it holds the token. A refusal is
//! [`InfisicalError::Login`] with what it means for the operator (bad or unknown credentials, an
//! expired or used-up secret, trusted IPs, lockout), scrubbed of the client secret.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroize;

use super::error::InfisicalError;
use super::message::server_message;
use super::routes;
use crate::backends::body::scrub;
use crate::backends::http::{self, Retry};
use crate::sensitive::Sensitive;

/// A token is renewed this long before it expires at most (half its life for short ones).
const MAX_SKEW: Duration = Duration::from_secs(30);

/// What a login needs.
pub(super) struct Credentials<'a> {
    pub http: &'a reqwest::Client,
    pub address: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a Sensitive<String>,
    pub health: &'a http::Health,
}

/// An access token and when to renew it.
pub(super) struct Token {
    pub access: Sensitive<String>,
    /// Renew from this instant on; `None` for a token that does not expire (TTL 0).
    pub renew_at: Option<Instant>,
    /// Which token of the run this is: a caller whose request this token failed asks for a
    /// newer one, so that concurrent callers hitting the same 401 log in once.
    pub generation: u64,
}

/// When a token that lives `life` from `start` should be renewed.
pub(super) fn renew_point(start: Instant, life: Duration) -> Instant {
    start + life - MAX_SKEW.min(life / 2)
}

/// One Universal Auth login. A refusal (bad or unknown credentials, an expired or used-up
/// secret, trusted IPs, lockout) is [`InfisicalError::Login`].
pub(super) async fn login(i: &Credentials<'_>) -> Result<Token, InfisicalError> {
    let path = routes::login();
    let encoded = path.encoded().map_err(InfisicalError::Refused)?;
    let url = format!("{}/api/{encoded}", i.address);
    let body =
        json!({"clientId": i.client_id, "clientSecret": i.client_secret.expose()}).to_string();
    tracing::debug!("infisical universal auth login");
    let started = Instant::now();
    let make = || {
        i.http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    };
    // A login sent twice costs one more use of the secret, which is harmless for the tool's
    // own secret (a use-limited secret is for hosts): safe to retry.
    let answer = http::send(make, Retry::Safe, i.health)
        .await
        .map_err(|e| InfisicalError::from_send(i.address, &Method::POST, path.as_str(), e));
    let mut body = body;
    body.zeroize();
    let answer = answer?;
    let secrets = [i.client_secret.clone()];
    if answer.status == 200 {
        return parse_login(answer.text, started).map_err(|reason| InfisicalError::Decode {
            address: i.address.to_owned(),
            method: "POST".into(),
            path: path.as_str().to_owned(),
            reason,
        });
    }
    let said = server_message(&answer.text);
    let message = scrub(&said.message, &secrets);
    let reason = match answer.status {
        401 if said.error == "ValidationFailure" => {
            format!("Infisical rejected the login body: {message}")
        }
        401 if message.to_ascii_lowercase().contains("locked") => {
            format!("the tool's identity is locked out after failed logins ({message})")
        }
        401 | 404 => format!(
            "client id `{}` is unknown or its secret was refused, expired or used up ({message})",
            i.client_id
        ),
        403 => format!(
            "the login was refused from this address: check the client secret's trusted IPs ({message})"
        ),
        422 => format!("Infisical rejected the login body: {message}"),
        status => {
            return Err(InfisicalError::Status {
                address: i.address.to_owned(),
                method: "POST".into(),
                path: path.as_str().to_owned(),
                status,
                error: said.error,
                message,
                retried: answer.attempts > 1,
            });
        }
    };
    Err(InfisicalError::Login {
        address: i.address.to_owned(),
        reason,
    })
}

/// Reads a login answer. Errors name the missing field, never a value.
pub(super) fn parse_login(mut text: String, started: Instant) -> Result<Token, String> {
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    text.zeroize();
    let mut v = parsed.map_err(|_| "the login answer is not JSON".to_owned())?;
    let access = match v.get_mut("accessToken").map(Value::take) {
        Some(Value::String(s)) if !s.is_empty() => Sensitive::new(s),
        _ => return Err("the login answer has no accessToken".into()),
    };
    let life = v.get("expiresIn").and_then(Value::as_u64).unwrap_or(0);
    Ok(Token {
        access,
        renew_at: (life > 0).then(|| renew_point(started, Duration::from_secs(life))),
        generation: 0,
    })
}

//! Logging in as the resolving host would: AppRole (role ID and secret ID from the environment or
//! a file, the shape a bootstrapped container has after unwrapping) or a token. The token is
//! looked up for the audit record (its accessor and display name, never itself), renewed while a
//! process runs, and revoked at the end when aegisctl created it.

use serde_json::{Value, json};

use super::RuntimeError;
use super::audit::Who;
use super::profile::Login;
use crate::backends::BaoError;
use crate::backends::openbao::{BaoClient, Body};
use crate::backends::path::ApiPath;
use crate::sensitive::Sensitive;

/// A logged-in token.
pub struct Token {
    /// A client that sends this token.
    pub bao: BaoClient,
    /// The namespace the token belongs to (its own requests go there).
    pub namespace: String,
    /// Whether aegisctl created it (and so revokes it at the end).
    pub created: bool,
    pub who: Who,
    /// Seconds left when last looked up or renewed (0: does not expire, e.g. a root token).
    pub ttl: u64,
    pub renewable: bool,
}

/// Logs in. `anonymous` is a client without a token (for the AppRole login itself).
pub async fn login(anonymous: &BaoClient, login: &Login) -> Result<Token, RuntimeError> {
    match login {
        Login::AppRole {
            mount,
            role,
            role_id,
            secret_id,
            namespace,
        } => {
            let how = format!(
                "AppRole {mount}/{}",
                role.as_deref().unwrap_or("(role named by its role ID)")
            );
            let body = Body::new(json!({
                "role_id": role_id.expose(),
                "secret_id": secret_id.expose(),
            }))
            .with_secret(role_id)
            .with_secret(secret_id);
            let path = ApiPath::route("auth").path(mount).lit("login");
            // A SecretID may be single-use: a login that may have landed is not sent again.
            let answer = anonymous
                .request_unrepeatable(reqwest::Method::POST, namespace, &path, Some(&body), None)
                .await
                .map_err(|e| RuntimeError::Login {
                    how: how.clone(),
                    source: Box::new(e),
                })?;
            let mut answer = answer.unwrap_or(Value::Null);
            let token = take_str(&mut answer, "/auth/client_token").ok_or_else(|| {
                RuntimeError::Setup(
                    format!("{how}: OpenBao's answer to the login has no token"),
                    "check that the mount is an AppRole auth mount".into(),
                )
            })?;
            let bao = anonymous.with_token(token);
            let mut t = Token {
                bao,
                namespace: namespace.clone(),
                created: true,
                who: Who {
                    login: format!("approle {mount}/{}", role.as_deref().unwrap_or("?")),
                    ..Who::default()
                },
                ttl: answer
                    .pointer("/auth/lease_duration")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                renewable: answer
                    .pointer("/auth/renewable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            };
            t.who.accessor = answer
                .pointer("/auth/accessor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(t)
        }
        Login::Token { token, namespace } => Ok(Token {
            bao: anonymous.with_token(token.clone()),
            namespace: namespace.clone(),
            created: false,
            who: Who {
                login: "token".into(),
                ..Who::default()
            },
            ttl: 0,
            renewable: false,
        }),
    }
}

/// A string of a JSON answer, moved out (the answer keeps nothing) into a [`Sensitive`].
fn take_str(v: &mut Value, pointer: &str) -> Option<Sensitive<String>> {
    match v.pointer_mut(pointer)?.take() {
        Value::String(s) => Some(Sensitive::new(s)),
        _ => None,
    }
}

impl Token {
    /// Looks the token up: its accessor, display name, TTL and renewability.
    pub async fn look_up(&mut self) -> Result<(), RuntimeError> {
        let path = ApiPath::route("auth/token/lookup-self");
        let data = self
            .bao
            .read(&self.namespace, &path)
            .await
            .map_err(|e| RuntimeError::Login {
                how: format!("{} (looking up the token)", self.who.login),
                source: Box::new(e),
            })?
            .unwrap_or(Value::Null);
        let d = data.get("data").cloned().unwrap_or(Value::Null);
        let text = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        self.who.accessor = text("accessor");
        self.who.display_name = text("display_name");
        self.ttl = d.get("ttl").and_then(Value::as_u64).unwrap_or(0);
        self.renewable = d.get("renewable").and_then(Value::as_bool).unwrap_or(false);
        Ok(())
    }

    /// Renews the token by `increment` seconds; returns the TTL OpenBao granted.
    pub async fn renew(&mut self, increment: u64) -> Result<u64, BaoError> {
        let path = ApiPath::route("auth/token/renew-self");
        let body = Body::new(json!({ "increment": increment }));
        let answer = self.bao.write(&self.namespace, &path, &body).await?;
        let ttl = answer
            .as_ref()
            .and_then(|a| a.pointer("/auth/lease_duration"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        self.ttl = ttl;
        Ok(ttl)
    }

    /// Revokes the token (and, in OpenBao, every lease it created). A retry whose first attempt
    /// had landed is answered 403 (the token is gone): that is the revocation done.
    pub async fn revoke(&self) -> Result<(), BaoError> {
        let path = ApiPath::route("auth/token/revoke-self");
        match self
            .bao
            .write(&self.namespace, &path, &Body::new(json!({})))
            .await
        {
            Ok(_) => Ok(()),
            Err(BaoError::Status {
                status: 403,
                retried: true,
                ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

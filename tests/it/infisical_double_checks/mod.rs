//! Checks of the Infisical test double (`tests/doubles/infisical`) against the contract
//! (`/work/shared/contracts/infisical-api.md`), through real HTTP: if the double drifts from the
//! contract, the tests built on it prove nothing.

mod auth;
mod identities;
mod legacy;
mod projects;
mod secrets;

use serde_json::{Value, json};

use super::infisical_double::Infisical;

pub(super) fn run<F: std::future::Future<Output = ()>>(f: F) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(f);
}

/// A client of the double with an optional bearer token.
pub(super) struct Api {
    pub(super) base: String,
    pub(super) http: reqwest::Client,
    pub(super) token: Option<String>,
}

impl Api {
    pub(super) fn new(d: &Infisical, token: Option<String>) -> Api {
        Api {
            base: d.url(),
            http: reqwest::Client::builder().build().unwrap(),
            token,
        }
    }

    pub(super) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(super) async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    pub(super) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub(super) async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body)).await
    }
    pub(super) async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// 200 or panic with the body.
    pub(super) async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert_eq!(s, 200, "{method} {path}: {v}");
        v
    }
}

pub(super) async fn login(d: &Infisical, id: &str, secret: &str) -> (u16, Value) {
    Api::new(d, None)
        .post(
            "/api/v1/auth/universal-auth/login",
            json!({"clientId": id, "clientSecret": secret}),
        )
        .await
}

pub(super) async fn admin(d: &Infisical) -> Api {
    let (id, secret) = d.admin();
    let (s, v) = login(d, &id, &secret).await;
    assert_eq!(s, 200, "{v}");
    Api::new(d, Some(v["accessToken"].as_str().unwrap().to_owned()))
}

/// Asserts a handled error: status, `error`, `message` and a `reqId`.
pub(super) fn is_err(got: &(u16, Value), status: u16, error: &str, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
    assert_eq!(got.1["message"], message, "{}", got.1);
    assert_eq!(got.1["statusCode"], status);
    assert!(got.1["reqId"].as_str().unwrap().starts_with("req-"));
}

/// Creates an identity with UA attached; returns (identity id, client id).
pub(super) async fn identity_with_ua(api: &Api, d: &Infisical, name: &str) -> (String, String) {
    let v = api
        .ok(
            "POST",
            "/api/v1/identities",
            Some(json!({"name": name, "organizationId": d.org_id(), "role": "member"})),
        )
        .await;
    let id = v["identity"]["id"].as_str().unwrap().to_owned();
    let ua = api
        .ok(
            "POST",
            &format!("/api/v1/auth/universal-auth/identities/{id}"),
            Some(json!({})),
        )
        .await;
    (
        id,
        ua["identityUniversalAuth"]["clientId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

pub(super) async fn new_secret(api: &Api, id: &str, body: Value) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/auth/universal-auth/identities/{id}/client-secrets"),
        Some(body),
    )
    .await
}

pub(super) fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

pub(super) async fn project(api: &Api, slug: &str, default_envs: bool) -> Value {
    let body = json!({"projectName": slug, "slug": slug, "shouldCreateDefaultEnvs": default_envs, "organizationSlug": "ignored"});
    api.ok("POST", "/api/v1/projects", Some(body)).await["project"].clone()
}

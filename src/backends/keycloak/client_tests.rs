//! Tests of the Keycloak admin client's login (compiled only under `#[cfg(test)]`, from
//! client.rs) against wiremock: one login for many requests, the form, renewal before expiry
//! and after a 401; and the helpers client_request_tests.rs shares. wiremock serves the edge
//! cases a real Keycloak cannot be made to produce on demand (a token expiring mid-run, a 429).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;

pub(super) const PASSWORD: &str = "canary-admin-pw";
pub(super) const SECRET: &str = "canary-client-secret";
pub(super) const TOKEN_A: &str = "canary-token-a";
pub(super) const TOKEN_B: &str = "canary-token-b";
pub(super) const LOGIN: &str = "/realms/master/protocol/openid-connect/token";

pub(super) fn token(access: &str, expires_in: u64, refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"access_token": access, "expires_in": expires_in,
        "refresh_expires_in": 0, "token_type": "Bearer", "not-before-policy": 0});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
        body["refresh_expires_in"] = json!(1800);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

pub(super) fn login() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(LOGIN))
        .and(body_string_contains("grant_type=password"))
}

pub(super) fn bearer(t: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {t}"))
}

pub(super) fn kc_with(server: &MockServer, auth: AdminAuth) -> KeycloakClient {
    KeycloakClient::new(
        &server.uri(),
        auth,
        None,
        Duration::from_secs(5),
        Duration::from_secs(10),
    )
    .unwrap()
}

pub(super) fn kc(server: &MockServer) -> KeycloakClient {
    kc_with(
        server,
        AdminAuth::password("admin", PASSWORD.to_owned().into()),
    )
}

pub(super) fn realm_path(rest: &'static str) -> ApiPath {
    admin_realm("acme").lit(rest)
}

/// The fields of a form-encoded body.
pub(super) fn form(req: &Request) -> BTreeMap<String, String> {
    let text = String::from_utf8(req.body.clone()).unwrap();
    text.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let d = |s: &str| decode_segment(&s.replace('+', " ")).unwrap();
            (d(k), d(v))
        })
        .collect()
}

pub(super) fn assert_no_canary(text: &str) {
    assert!(!text.contains("canary"), "a secret leaked: {text}");
}

#[tokio::test]
async fn one_login_serves_many_concurrent_requests() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(bearer(TOKEN_A))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(20)
        .mount(&server)
        .await;
    let kc = kc(&server);
    let p = realm_path("clients");
    let all = futures::future::join_all((0..20).map(|_| kc.get(&p))).await;
    assert!(all.iter().all(|r| matches!(r, Ok(Some(_)))), "{all:?}");
}

#[tokio::test]
async fn the_login_is_a_form_with_the_right_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token(TOKEN_A, 60, None))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let odd = "canary p&ss=wörd+%";
    kc_with(&server, AdminAuth::password("admin", odd.to_owned().into()))
        .get(&admin_realm("acme"))
        .await
        .unwrap();
    let cc = AdminAuth::ClientCredentials {
        realm: "acme".into(),
        client_id: "aegis".into(),
        client_secret: SECRET.to_owned().into(),
    };
    kc_with(&server, cc)
        .get(&admin_realm("acme"))
        .await
        .unwrap();
    let got = server.received_requests().await.unwrap();
    let logins: Vec<&Request> = got.iter().filter(|r| r.method.as_str() == "POST").collect();
    assert_eq!(logins[0].url.path(), LOGIN);
    let want: BTreeMap<String, String> = [
        ("grant_type", "password"),
        ("client_id", "admin-cli"),
        ("username", "admin"),
        ("password", odd),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(logins[0]), want);
    assert_eq!(
        logins[1].url.path(),
        "/realms/acme/protocol/openid-connect/token"
    );
    let want: BTreeMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("client_id", "aegis"),
        ("client_secret", SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(logins[1]), want);
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 2, Some("canary-refresh")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(LOGIN))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=canary-refresh"))
        .respond_with(token(TOKEN_B, 60, Some("canary-refresh-2")))
        .expect(1)
        .mount(&server)
        .await;
    for t in [TOKEN_A, TOKEN_B] {
        Mock::given(method("GET"))
            .and(bearer(t))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let kc = kc(&server);
    kc.get(&admin_realm("acme")).await.unwrap().unwrap();
    // Half of a 2 s life: renewed from 1 s on, before any request could meet a 401.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    kc.get(&admin_realm("acme")).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_resends_once() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    login()
        .respond_with(token(TOKEN_B, 60, None))
        .expect(1)
        .mount(&server)
        .await;
    let refused =
        ResponseTemplate::new(401).set_body_json(json!({"error": "HTTP 401 Unauthorized"}));
    Mock::given(method("PUT"))
        .and(bearer(TOKEN_A))
        .respond_with(refused)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(bearer(TOKEN_B))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let body = Body::new(json!({"enabled": true}));
    kc(&server).put(&admin_realm("acme"), &body).await.unwrap();
}

#[tokio::test]
async fn a_lasting_401_is_an_error_after_one_renewal() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": "HTTP 401 Unauthorized"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let e = kc(&server).get(&admin_realm("acme")).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(
        matches!(e, KeycloakError::Status { retried: false, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn concurrent_401s_renew_the_token_once() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None).set_delay(Duration::from_millis(100)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    login()
        .respond_with(token(TOKEN_B, 60, None).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(bearer(TOKEN_A))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(bearer(TOKEN_B))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let kc = kc(&server);
    let p = admin_realm("acme");
    let all = futures::future::join_all((0..10).map(|_| kc.get(&p))).await;
    assert!(all.iter().all(|r| matches!(r, Ok(Some(_)))), "{all:?}");
}

//! #[cfg(test)] Tests of the Infisical client against wiremock (compiled only under
//! `#[cfg(test)]`, from client.rs): one login shared by concurrent requests, a new login after a
//! 401, a refused login not tried again, no secret in any error, and Fastify's missing route.
//! wiremock serves the edge cases the in-repo double is not for (a token refused mid-run).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::backends::infisical::login::parse_login;

const SECRET: &str = "canary-client-secret";
const TOKEN_A: &str = "canary-token-a";
const TOKEN_B: &str = "canary-token-b";
const LOGIN: &str = "/api/v1/auth/universal-auth/login";

fn token(access: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "accessToken": access, "expiresIn": expires_in,
        "accessTokenMaxTTL": 7200, "tokenType": "Bearer"}))
}

fn login() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path(LOGIN))
}

fn bearer(t: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {t}"))
}

fn inf(server: &MockServer) -> InfisicalClient {
    InfisicalClient::new(
        &server.uri(),
        "tool-client-id",
        Sensitive::new(SECRET.to_owned()),
        "org-1",
        None,
        Duration::from_secs(5),
        Duration::from_secs(10),
    )
    .expect("client")
}

fn error(status: u16, name: &str, message: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(
        json!({"reqId": "req-1", "statusCode": status, "error": name, "message": message}),
    )
}

#[tokio::test]
async fn one_login_serves_concurrent_requests() {
    let server = MockServer::start().await;
    login()
        .and(body_string_contains("tool-client-id"))
        .and(body_string_contains(SECRET))
        .respond_with(token(TOKEN_A, 3600).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/identities"))
        .and(bearer(TOKEN_A))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"identities": [
            {"id": "m1", "identityId": "i1", "role": "admin", "identity": {"id": "i1", "name": "agent"}}
        ], "totalCount": 1})))
        .expect(8)
        .mount(&server)
        .await;
    let c = inf(&server);
    let calls = (0..8).map(|_| {
        let c = c.clone();
        async move { c.identity_id("agent").await }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.expect("identity"), "i1");
    }
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    login()
        .respond_with(token(TOKEN_B, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/homelab-apps"))
        .and(bearer(TOKEN_A))
        .respond_with(error(401, "UnauthorizedError", json!("Token missing")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/homelab-apps"))
        .and(bearer(TOKEN_B))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "p1", "slug": "homelab-apps"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = inf(&server);
    assert_eq!(
        c.project_id("homelab-apps").await.expect("project"),
        Some("p1".into())
    );
}

#[tokio::test]
async fn a_token_error_403_is_renewed_too() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 0))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    login().respond_with(token(TOKEN_B, 0)).mount(&server).await;
    Mock::given(method("GET"))
        .and(bearer(TOKEN_A))
        .respond_with(error(
            403,
            "TokenError",
            json!("Your token has expired. Please re-authenticate."),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/gone-project"))
        .and(bearer(TOKEN_B))
        .respond_with(error(
            404,
            "NotFound",
            json!("Project with slug 'gone-project' not found"),
        ))
        .mount(&server)
        .await;
    assert_eq!(
        inf(&server)
            .project_id("gone-project")
            .await
            .expect("absent"),
        None
    );
}

#[tokio::test]
async fn a_refused_login_is_not_tried_again() {
    let server = MockServer::start().await;
    login()
        .respond_with(error(
            401,
            "UnauthorizedError",
            json!(format!("Invalid credentials for {SECRET}")),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let c = inf(&server);
    for _ in 0..3 {
        let e = c.identity_id("agent").await.expect_err("refused");
        let text = format!("{e} {e:?} {}", e.help_text().unwrap_or_default());
        assert!(matches!(e, InfisicalError::Login { .. }), "{text}");
        assert!(
            text.contains("tool-client-id") && text.contains("lock"),
            "{text}"
        );
        assert!(!text.contains("canary"), "{text}");
    }
}

#[tokio::test]
async fn the_legacy_unknown_client_404_is_bad_credentials() {
    let server = MockServer::start().await;
    login()
        .respond_with(error(
            404,
            "NotFound",
            json!("Failed to find universal auth"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let e = inf(&server).identity_id("x").await.expect_err("refused");
    assert!(matches!(e, InfisicalError::Login { .. }), "{e}");
}

#[tokio::test]
async fn no_secret_reaches_an_error() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .mount(&server)
        .await;
    // A server that echoes everything it was sent, and the token it was sent with.
    Mock::given(method("POST"))
        .and(path(
            "/api/v1/auth/universal-auth/identities/i1/client-secrets",
        ))
        .respond_with(error(
            400,
            "BadRequest",
            json!(format!("bad {TOKEN_A} {SECRET}")),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/auth/universal-auth/identities/i1"))
        .respond_with(error(422, "ValidationFailure", json!([
            {"code": "custom", "message": format!("bad canary-ip {TOKEN_A}"), "path": ["clientSecretTrustedIps", 0, "ipAddress"]}])))
        .mount(&server)
        .await;
    let c = inf(&server);
    let e = c
        .create_client_secret("i1", 60, 1, "host")
        .await
        .expect_err("refused");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("canary"), "{text}");
    let e = c
        .update_universal_auth(
            "i1",
            json!({"clientSecretTrustedIps": [{"ipAddress": "x"}]}),
        )
        .await
        .expect_err("refused");
    let text = format!("{e} {e:?} {}", e.help_text().unwrap_or_default());
    assert!(e.is_validation(), "{text}");
    assert!(
        text.contains("clientSecretTrustedIps.0.ipAddress"),
        "{text}"
    );
    assert!(!text.contains("canary-token"), "{text}");
    let debug = format!("{c:?}");
    assert!(!debug.contains("canary"), "{debug}");
}

fn no_route(route: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": format!("Route {route} not found"), "error": "Not Found", "statusCode": 404}))
}

#[tokio::test]
async fn a_missing_route_says_the_server_is_too_old() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/identities"))
        .respond_with(no_route("GET:/api/v1/identities"))
        .mount(&server)
        .await;
    let e = inf(&server)
        .identity_id("agent")
        .await
        .expect_err("no route");
    assert!(matches!(e, InfisicalError::NoRoute { .. }), "{e}");
    assert!(e.to_string().contains("predates /api/v1/projects"), "{e}");
    assert!(e.help_text().unwrap_or_default().contains("upgrade"));
}

#[tokio::test]
async fn project_routes_fall_back_to_the_workspace_routes() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/homelab-apps"))
        .respond_with(no_route("GET:/api/v1/projects/slug/homelab-apps"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/workspace/homelab-apps"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "p1", "slug": "homelab-apps"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/workspace/other-project"))
        .respond_with(error(
            500,
            "Failed to find project by slug",
            json!("Something went wrong"),
        ))
        .mount(&server)
        .await;
    let c = inf(&server);
    assert!(!c.legacy());
    assert_eq!(
        c.project_id("homelab-apps").await.expect("p"),
        Some("p1".into())
    );
    assert!(c.legacy());
    // Once known, the current route is not asked again.
    assert_eq!(
        c.project_id("homelab-apps").await.expect("p"),
        Some("p1".into())
    );
    assert_eq!(c.project_id("other-project").await.expect("absent"), None);
}

#[tokio::test]
async fn bootstrap_calls_read_their_answers() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/auth/universal-auth/identities/none"))
        .respond_with(error(
            400,
            "BadRequest",
            json!("The identity does not have universal auth"),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/auth/universal-auth/identities/i1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "identityUniversalAuth": {"clientId": "c1", "accessTokenTTL": 60}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v1/auth/universal-auth/identities/i1/client-secrets",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "clientSecret": "canary-minted", "clientSecretData": {"id": "cs1"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v1/auth/universal-auth/identities/i1/client-secrets/cs1/revoke",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"clientSecretData": {"id": "cs1"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = inf(&server);
    assert_eq!(c.universal_auth("none").await.expect("absent"), None);
    assert_eq!(
        c.universal_auth("i1")
            .await
            .expect("ua")
            .and_then(|u| u["clientId"].as_str().map(str::to_owned)),
        Some("c1".into())
    );
    let (secret, id) = c
        .create_client_secret("i1", 600, 1, "host")
        .await
        .expect("minted");
    assert_eq!(
        (secret.expose().as_str(), id.as_str()),
        ("canary-minted", "cs1")
    );
    c.revoke_client_secret("i1", "cs1").await.expect("revoked");
}

#[test]
fn a_login_answer_is_never_quoted() {
    let t0 = Instant::now();
    let e = parse_login(r#"{"accessToken":"","expiresIn":1}"#.into(), t0)
        .err()
        .unwrap_or_default();
    assert!(e.contains("accessToken"), "{e}");
    let ok = parse_login(r#"{"accessToken":"canary-t","expiresIn":0}"#.into(), t0).expect("token");
    assert!(ok.renew_at.is_none(), "TTL 0: no expiry");
    let ok = parse_login(r#"{"accessToken":"canary-t","expiresIn":60}"#.into(), t0).expect("token");
    assert_eq!(ok.renew_at, Some(t0 + Duration::from_secs(30)));
}

#[tokio::test]
async fn a_legacy_401_validation_failure_is_not_a_token_problem() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/auth/universal-auth/identities/i1"))
        .respond_with(error(
            401,
            "ValidationFailure",
            json!([{"code": "too_big", "message": "Number must be less than or equal to 30", "path": ["lockoutThreshold"]}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let e = inf(&server)
        .update_universal_auth("i1", json!({"lockoutThreshold": 99}))
        .await
        .expect_err("invalid");
    assert!(e.is_validation(), "{e}");
    let help = e.help_text().unwrap_or_default();
    assert!(
        help.contains("Infisical rejected the request body: lockoutThreshold: Number must be"),
        "{help}"
    );
}

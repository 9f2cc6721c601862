//! Tests of the Keycloak admin client's requests (compiled only under `#[cfg(test)]`, from
//! client.rs) against wiremock: retries, creates and their `Location`, paging, path encoding,
//! absent objects, the id cache, and the secrets that must never show in an error. The login
//! and token tests, and the helpers, are in client_tests.rs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::tests::{
    PASSWORD, SECRET, TOKEN_A, assert_no_canary, kc, kc_with, login, realm_path, token,
};
use super::*;
use crate::backends::keycloak::ids::Ids;

#[tokio::test]
async fn a_429_with_retry_after_and_a_503_are_retried() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    let get = || Mock::given(method("GET")).and(path("/admin/realms/acme"));
    get()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    get()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"realm": "acme"})))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let got = kc(&server).get(&admin_realm("acme")).await.unwrap();
    assert_eq!(got, Some(json!({"realm": "acme"})));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
}

#[tokio::test]
async fn a_create_retried_into_a_409_says_so() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    let post = || Mock::given(method("POST")).and(path("/admin/realms/acme/clients"));
    post()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let exists = json!({"errorMessage": "Client web already exists"});
    post()
        .respond_with(ResponseTemplate::new(409).set_body_json(exists))
        .mount(&server)
        .await;
    let kc = kc(&server);
    let body = Body::new(json!({"clientId": "web"}));
    let e = kc.post(&realm_path("clients"), &body).await.unwrap_err();
    assert!(
        matches!(
            e,
            KeycloakError::Status {
                status: 409,
                retried: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.may_have_landed());
    assert!(e.to_string().contains("Client web already exists"), "{e}");
    // Sent once: a 409 is a plain duplicate.
    let e = kc.post(&realm_path("clients"), &body).await.unwrap_err();
    assert!(matches!(
        e,
        KeycloakError::Status {
            status: 409,
            retried: false,
            ..
        }
    ));
    assert!(!e.may_have_landed());
}

#[tokio::test]
async fn location_yields_the_id() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    let at = format!(
        "{}/admin/realms/acme/clients/u1/roles/aegis:admin",
        server.uri()
    );
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/clients/u1/roles"))
        .respond_with(ResponseTemplate::new(201).insert_header("location", at.as_str()))
        .mount(&server)
        .await;
    let p = realm_path("clients").name("u1").lit("roles");
    let created = kc(&server)
        .post(&p, &Body::new(json!({"name": "aegis:admin"})))
        .await
        .unwrap();
    assert_eq!(created.id.as_deref(), Some("aegis:admin"));
    assert!(created.body.is_none());
    let uuid = "http://kc:8080/admin/realms/acme/clients/d837b355-162c-4c54-b2f7-e709041b34e3";
    assert_eq!(
        location_id(uuid).as_deref(),
        Some("d837b355-162c-4c54-b2f7-e709041b34e3")
    );
    assert_eq!(
        location_id("http://kc/x/roles/a%2Fb%20c").as_deref(),
        Some("a/b c")
    );
    assert_eq!(location_id("http://kc/x/"), Some("x".into()));
}

#[tokio::test]
async fn paging_stops_on_a_short_page() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    let page = |first: &str, items: Value| {
        Mock::given(method("GET"))
            .and(path("/admin/realms/acme/clients"))
            .and(query_param("first", first))
            .and(query_param("max", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items))
            .expect(1)
    };
    page("0", json!([{"clientId": "a"}, {"clientId": "b"}]))
        .mount(&server)
        .await;
    page("2", json!([{"clientId": "c"}])).mount(&server).await;
    let all = kc(&server)
        .list_paged(&realm_path("clients"), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().filter_map(|c| c["clientId"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[tokio::test]
async fn role_names_are_percent_encoded() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    for encoded in ["aegis%3Aadmin", "a%2Fb", "x%20y%3Fz%23"] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/admin/realms/acme/clients/u1/roles/{encoded}"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let kc = kc(&server);
    for name in ["aegis:admin", "a/b", "x y?z#"] {
        let p = realm_path("clients").name("u1").lit("roles").name(name);
        assert!(kc.get(&p).await.unwrap().is_some(), "{name}");
    }
    let e = kc.get(&realm_path("roles").name("..")).await.unwrap_err();
    assert!(matches!(e, KeycloakError::Refused(_)), "{e:?}");
}

#[tokio::test]
async fn errors_name_the_request_but_no_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    // A server that echoes everything it was sent back in its message.
    let echo = json!({"error": "invalid_input", "error_description":
        format!("bad value canary-body-secret, {SECRET}, {TOKEN_A}")});
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_json(echo))
        .mount(&server)
        .await;
    let cc = AdminAuth::ClientCredentials {
        realm: "acme".into(),
        client_id: "aegis".into(),
        client_secret: SECRET.to_owned().into(),
    };
    let kc = kc_with(&server, cc);
    let secret = crate::sensitive::Sensitive::new("canary-body-secret".to_owned());
    let body = Body::new(json!({"secret": secret.expose()})).with_secret(&secret);
    let p = realm_path("clients").name("u1");
    let e = kc.put(&p, &body).await.unwrap_err();
    let text = e.to_string();
    for want in [
        "PUT",
        "admin/realms/acme/clients/u1",
        "400",
        "invalid_input",
        "bad value",
    ] {
        assert!(text.contains(want), "{want} missing: {text}");
    }
    assert_no_canary(&text);
    assert_no_canary(&format!("{e:?}"));
    let help = miette::Diagnostic::help(&e).map(|h| h.to_string());
    assert_no_canary(&help.unwrap_or_default());
    assert_no_canary(&format!("{kc:?} {body:?}"));
}

#[tokio::test]
async fn a_refused_login_says_what_to_check_once() {
    let server = MockServer::start().await;
    let no = json!({"error": "invalid_grant",
        "error_description": format!("Invalid user credentials {PASSWORD}")});
    login()
        .respond_with(ResponseTemplate::new(401).set_body_json(no))
        .expect(1)
        .mount(&server)
        .await;
    let kc = kc(&server);
    for _ in 0..3 {
        let e = kc.get(&admin_realm("acme")).await.unwrap_err();
        assert!(matches!(e, KeycloakError::Token { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("password of admin user `admin`"), "{text}");
        assert!(text.contains("realm master"), "{text}");
        assert_no_canary(&text);
        assert_no_canary(&format!("{e:?}"));
    }
}

#[tokio::test]
async fn absent_objects_read_as_none_and_delete_quietly() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    let gone = ResponseTemplate::new(404).set_body_json(json!({"error": "Could not find client"}));
    Mock::given(wiremock::matchers::any())
        .and(path("/admin/realms/acme/clients/nope"))
        .respond_with(gone)
        .mount(&server)
        .await;
    let kc = kc(&server);
    let p = realm_path("clients").name("nope");
    assert_eq!(kc.get(&p).await.unwrap(), None);
    kc.delete(&p).await.unwrap();
    let e = kc.put(&p, &Body::new(json!({}))).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("Could not find client"), "{e}");
}

#[tokio::test]
async fn resolve_client_asks_once_and_drops_the_secret() {
    let server = MockServer::start().await;
    login()
        .respond_with(token(TOKEN_A, 60, None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "web"))
        .and(query_param("search", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "u1", "clientId": "web", "secret": SECRET}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "none"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let kc = kc(&server);
    let ids = Ids::new();
    for _ in 0..2 {
        let id = ids.resolve_client(&kc, "acme", "web").await.unwrap();
        assert_eq!(id.as_deref(), Some("u1"));
    }
    assert_eq!(ids.resolve_client(&kc, "acme", "none").await.unwrap(), None);
    // A realm read in full answers without asking.
    ids.prime_clients("other", &[json!({"id": "u9", "clientId": "api"})]);
    assert_eq!(
        ids.resolve_client(&kc, "other", "api")
            .await
            .unwrap()
            .as_deref(),
        Some("u9")
    );
    assert_eq!(
        ids.resolve_client(&kc, "other", "gone").await.unwrap(),
        None
    );
    assert_no_canary(&format!("{ids:?}"));
}

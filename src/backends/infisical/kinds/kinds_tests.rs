//! #[cfg(test)] Tests of the Infisical kinds through the `Kind` trait against wiremock (compiled
//! only under `#[cfg(test)]`, from kinds/mod.rs): duplicate identity names, secret values that
//! become digests, the tool's own identity left out of listings, creates that look first.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::backends::keycloak::redact::digest;
use crate::sensitive::Sensitive;

async fn setup() -> (MockServer, Arc<Infisical>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/universal-auth/login"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessToken": "t", "expiresIn": 3600, "accessTokenMaxTTL": 3600, "tokenType": "Bearer"})))
        .mount(&server)
        .await;
    let client = InfisicalClient::new(
        &server.uri(),
        "tool-client-id",
        Sensitive::new("s".to_owned()),
        "org-1",
        None,
        Duration::from_secs(5),
        Duration::from_secs(10),
    )
    .expect("client");
    (server, Arc::new(Infisical::new(client)))
}

fn kind(inf: &Arc<Infisical>, name: &str) -> Arc<dyn Kind> {
    let entry = KINDS.iter().find(|e| e.kind == name).expect("kind");
    (entry.make)(Arc::clone(inf))
}

fn ident(id: &str, name: &str, methods: serde_json::Value) -> serde_json::Value {
    json!({"id": format!("m-{id}"), "identityId": id, "role": "member",
        "identity": {"id": id, "name": name, "authMethods": methods, "hasDeleteProtection": false}})
}

async fn identities(server: &MockServer, items: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/api/v1/identities"))
        .and(query_param("orgId", "org-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"identities": items})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn duplicate_identity_names_are_an_error_and_never_a_create() {
    let (server, inf) = setup().await;
    identities(
        &server,
        json!([
            ident("i1", "agent", json!([])),
            ident("i2", "agent", json!([]))
        ]),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/identities"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let k = kind(&inf, identity::KIND);
    let id = rid(ORG_SCOPE, identity::KIND, None, "agent");
    let e = k.read(&id).await.expect_err("ambiguous");
    let text = format!("{e}");
    assert!(text.contains("`agent`") && text.contains('2'), "{text}");
    let help = miette::Diagnostic::help(&e)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(help.contains("rename or delete the duplicates"), "{help}");
    let res = DesiredResource::new(id, BTreeMap::new());
    assert!(k.create(&res).await.is_err());
}

#[tokio::test]
async fn the_tools_own_identity_is_never_listed() {
    let (server, inf) = setup().await;
    identities(
        &server,
        json!([
            ident("own", "aegisctl", json!(["universal-auth"])),
            ident("i2", "agent", json!(["universal-auth"])),
            ident("i3", "plain", json!([]))
        ]),
    )
    .await;
    for (id, client_id) in [("own", "tool-client-id"), ("i2", "other")] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/auth/universal-auth/identities/{id}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"identityUniversalAuth": {"clientId": client_id}})),
            )
            .mount(&server)
            .await;
    }
    let names = |ids: Vec<ResourceId>| ids.into_iter().map(|i| i.name).collect::<Vec<_>>();
    let listed = kind(&inf, identity::KIND)
        .list(ORG_SCOPE, &[])
        .await
        .expect("list");
    assert_eq!(names(listed), vec!["agent", "plain"]);
    let listed = kind(&inf, universal_auth::KIND)
        .list(ORG_SCOPE, &[])
        .await
        .expect("list");
    assert_eq!(names(listed), vec!["agent"]);
    let ua = kind(&inf, universal_auth::KIND)
        .read(&rid(ORG_SCOPE, universal_auth::KIND, None, "plain"))
        .await;
    assert!(ua.is_ok());
}

#[tokio::test]
async fn secret_values_become_digests_on_read() {
    let (server, inf) = setup().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"projects": [
            {"id": "p1", "slug": "homelab-apps", "name": "Homelab",
             "environments": [{"id": "e1", "name": "Prod", "slug": "prod"}]}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/secrets/raw"))
        .and(query_param("workspaceId", "p1"))
        .and(query_param("secretPath", "/app/db"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"secrets": [
            {"secretKey": "PASSWORD", "secretValue": "canary-secret-value", "secretComment": "db", "type": "shared"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let projects = kind(&inf, project::KIND);
    let pid = rid("homelab-apps", project::KIND, None, "homelab-apps");
    projects
        .prefetch("homelab-apps", &[&pid])
        .await
        .expect("prefetch");
    let live = projects.read(&pid).await.expect("read").expect("project");
    assert_eq!(live.get("name"), Some(&json!("Homelab")));
    let secrets = kind(&inf, secret::KIND);
    let sid = rid(
        "homelab-apps",
        secret::KIND,
        Some("prod"),
        "app/db/PASSWORD",
    );
    secrets
        .prefetch("homelab-apps", &[&sid])
        .await
        .expect("prefetch");
    let live = secrets.read(&sid).await.expect("read").expect("secret");
    let value = live.get("value").cloned().unwrap_or_default();
    assert_eq!(value, json!(digest("canary-secret-value")));
    assert_eq!(
        secrets.normalise("value", json!("canary-secret-value")),
        value
    );
    assert!(!format!("{live:?}").contains("canary"));
    let env = kind(&inf, environment::KIND)
        .read(&rid("homelab-apps", environment::KIND, None, "prod"))
        .await
        .expect("read")
        .expect("env");
    assert_eq!(env.get("position"), Some(&json!(1)));
    let missing = secrets
        .read(&rid(
            "homelab-apps",
            secret::KIND,
            Some("prod"),
            "app/db/OTHER",
        ))
        .await
        .expect("read");
    assert!(missing.is_none());
}

#[tokio::test]
async fn a_membership_that_exists_is_converged_not_duplicated() {
    let (server, inf) = setup().await;
    identities(&server, json!([ident("i2", "agent", json!([]))])).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/homelab-apps"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "p1", "slug": "homelab-apps"})),
        )
        .mount(&server)
        .await;
    let member = "/api/v1/projects/p1/memberships/identities/i2";
    Mock::given(method("POST"))
        .and(path(member))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "reqId": "r", "statusCode": 400, "error": "BadRequest", "message": "Identity is already a member"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(member))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"identityMembership": {
            "roles": [{"role": "admin", "isTemporary": false}]}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(member))
        .and(body_string_contains("viewer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"identityMembership": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut attrs = BTreeMap::new();
    attrs.insert("roles".into(), AttrValue::Plain(json!(["viewer"])));
    let res = DesiredResource::new(rid("homelab-apps", membership::KIND, None, "agent"), attrs);
    kind(&inf, membership::KIND)
        .create(&res)
        .await
        .expect("converged");
}

#[tokio::test]
async fn a_project_that_exists_is_never_created_again() {
    let (server, inf) = setup().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/projects/slug/homelab-apps"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "p1", "slug": "homelab-apps", "name": "x"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/projects"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/projects/p1"))
        .and(body_string_contains("Homelab"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"project": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut attrs = BTreeMap::new();
    attrs.insert("name".into(), AttrValue::Plain(json!("Homelab")));
    let res = DesiredResource::new(
        rid("homelab-apps", project::KIND, None, "homelab-apps"),
        attrs,
    );
    kind(&inf, project::KIND)
        .create(&res)
        .await
        .expect("converged");
}

//! The Keycloak admin client (src/backends/keycloak) against the real Keycloak of keycloak.rs:
//! the one login works, a confidential client is created and read back with its secret taken
//! out of the representation at once, a role named `aegis:admin` travels percent-encoded,
//! paging returns everything, a duplicate is a 409 naming the request (never the secret), and
//! deletes are quiet about what is already gone. wiremock tests (in src/) cover the edges a
//! real server will not produce on demand.

use std::time::Duration;

use aegisctl::backends::body::Body;
use aegisctl::backends::keycloak::{AdminAuth, KeycloakClient, admin_realm, redact_client};
use aegisctl::sensitive::Sensitive;
use serde_json::{Value, json};

use crate::keycloak::{Keycloak, keycloak};

const SECRET: &str = "kc-client-secret-canary-7f3a";

fn client(kc: &Keycloak) -> KeycloakClient {
    KeycloakClient::new(
        kc.base_url(),
        AdminAuth::password(
            kc.admin_user(),
            Sensitive::new(kc.admin_password().to_owned()),
        ),
        None,
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
    .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_client_converses_with_a_real_keycloak() {
    let kc = keycloak();
    let realm = kc.realm("kc-client");
    let c = client(kc);
    let clients = admin_realm(&realm.name).lit("clients");

    let body = Body::new(json!({
        "clientId": "aegis-orchestrator",
        "publicClient": false,
        "serviceAccountsEnabled": true,
        "secret": SECRET,
    }));
    let created = c.post(&clients, &body).await.expect("create the client");
    let id = created.id.expect("the new client's id, from Location");

    // Keycloak answers the secret in clear: it leaves the representation at once.
    let mut read = c
        .get(&clients.clone().name(&id))
        .await
        .expect("read the client")
        .expect("the client exists");
    assert_eq!(read["clientId"], "aegis-orchestrator");
    let secret = redact_client(&mut read).expect("a confidential client has a secret");
    assert_eq!(secret.expose(), SECRET);
    assert!(!read.to_string().contains(SECRET), "{read}");

    // A role whose name holds a colon, created and read back by name.
    let roles = clients.clone().name(&id).lit("roles");
    c.post(&roles, &Body::new(json!({ "name": "aegis:admin" })))
        .await
        .expect("create aegis:admin");
    let role = c
        .get(&roles.clone().name("aegis:admin"))
        .await
        .expect("read aegis:admin")
        .expect("aegis:admin exists");
    assert_eq!(role["name"], "aegis:admin");
    for n in 0..5 {
        let name = format!("aegis:extra-{n}");
        c.post(&roles, &Body::new(json!({ "name": name })))
            .await
            .expect("create a role");
    }
    let all: Vec<Value> = c.list_paged(&roles, 2).await.expect("list the roles");
    assert_eq!(all.len(), 6, "every role, across pages of 2: {all:?}");

    // A duplicate is Keycloak's 409, naming the request, never the body's secret.
    let again = c
        .post(&clients, &body)
        .await
        .expect_err("a second client with the same clientId");
    let text = format!("{again} {again:?}");
    assert_eq!(again.status(), Some(409), "{text}");
    assert!(text.contains("clients"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains(kc.admin_password()), "{text}");

    // Deleting, and deleting what is gone.
    c.delete(&clients.clone().name(&id)).await.expect("delete");
    assert!(
        c.get(&clients.clone().name(&id))
            .await
            .expect("read")
            .is_none()
    );
    c.delete(&clients.clone().name(&id))
        .await
        .expect("a second delete is quiet");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_admin_password_is_one_clear_error_without_the_password() {
    let kc = keycloak();
    let wrong = "wrong-admin-password-canary-19c2";
    let c = KeycloakClient::new(
        kc.base_url(),
        AdminAuth::password(kc.admin_user(), Sensitive::new(wrong.to_owned())),
        None,
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
    .expect("client");
    let err = c
        .get(&admin_realm("master"))
        .await
        .expect_err("the login is refused");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("master"),
        "names the realm it logged into: {text}"
    );
    assert!(!text.contains(wrong), "{text}");
}

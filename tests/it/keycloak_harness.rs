//! Smoke tests of the Keycloak harness (keycloak.rs): the real Keycloak starts, a realm can be
//! created and read back through the admin API, and tests running in parallel share the one
//! instance of this test binary, each in realms of its own.

use serde_json::json;

use crate::keycloak::{keycloak, starts, unique_realm};

#[test]
fn a_realm_is_created_and_read_back() {
    let kc = keycloak();
    let realm = kc.realm("kc-smoke");
    let resp = kc.get(&format!("/admin/realms/{}", realm.name));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["realm"], realm.name.as_str());
    assert_eq!(resp.json()["enabled"], true);
    // The issuer follows the base URL the tests use.
    let discovery = kc.get(&format!(
        "/realms/{}/.well-known/openid-configuration",
        realm.name
    ));
    assert_eq!(
        discovery.json()["issuer"],
        format!("{}/realms/{}", kc.base_url(), realm.name).as_str()
    );
}

#[test]
fn parallel_tests_share_one_instance_in_their_own_realms() {
    let kc = keycloak();
    let name = unique_realm("kc-share");
    kc.create_realm(&name);
    let user = json!({ "username": "alice", "enabled": true });
    let created = kc.call("POST", &format!("/admin/realms/{name}/users"), Some(&user));
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created
        .header("location")
        .and_then(|l| l.rsplit('/').next());
    assert!(id.is_some_and(|i| !i.is_empty()), "no Location header");
    let users = kc.get(&format!(
        "/admin/realms/{name}/users?username=alice&exact=true"
    ));
    assert_eq!(users.json().as_array().map(Vec::len), Some(1));
    kc.delete_realm(&name);
    assert_eq!(kc.get(&format!("/admin/realms/{name}")).status, 404);
    assert_eq!(starts(), 1, "one Keycloak per test binary");
}

#[test]
fn the_admin_token_is_reused_and_realms_are_isolated() {
    let kc = keycloak();
    assert_eq!(kc.admin_token(), kc.admin_token());
    let (a, b) = (kc.realm("kc-iso"), kc.realm("kc-iso"));
    assert_ne!(a.name, b.name);
    let group = json!({ "name": "ops" });
    let resp = kc.call(
        "POST",
        &format!("/admin/realms/{}/groups", a.name),
        Some(&group),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let in_b = kc.get(&format!("/admin/realms/{}/groups", b.name));
    assert_eq!(in_b.json(), json!([]));
    assert_eq!(starts(), 1, "one Keycloak per test binary");
}

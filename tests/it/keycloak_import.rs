//! `aegisctl import keycloak` against the real Keycloak: a realm made by hand through the admin
//! API (a confidential client with a mapper and roles, a realm role, nested groups, a client
//! scope, a service account's roles, a SAML identity provider and its mapper) is imported into
//! a realm file and a topology that plan "No changes." on the same server, and no secret Keycloak
//! holds appears in the files or the output.

use serde_json::json;

use crate::harness::{Bao, s};
use crate::keycloak::{Keycloak, keycloak};
use crate::keycloak_common::ctl;

fn created(kc: &Keycloak, path: &str, body: serde_json::Value) -> String {
    let resp = kc.call("POST", path, Some(&body));
    assert_eq!(resp.status, 201, "POST {path}: {}", resp.text());
    resp.header("location")
        .and_then(|l| l.rsplit('/').next().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn a_hand_made_realm_imports_into_files_that_plan_no_changes() {
    let kc = keycloak();
    let realm = kc.realm("import");
    let r = realm.name.as_str();
    let base = format!("/admin/realms/{r}");
    let web = created(
        kc,
        &format!("{base}/clients"),
        json!({"clientId": "web", "publicClient": false, "serviceAccountsEnabled": true,
               "redirectUris": ["https://web.example/cb"],
               "protocolMappers": [{"name": "aegis_role", "protocol": "openid-connect",
                   "protocolMapper": "oidc-usermodel-client-role-mapper",
                   "config": {"claim.name": "aegis_role", "multivalued": "true",
                              "usermodel.clientRoleMapping.clientId": "web"}}]}),
    );
    created(
        kc,
        &format!("{base}/clients/{web}/roles"),
        json!({"name": "aegis:admin", "description": "all"}),
    );
    created(kc, &format!("{base}/roles"), json!({"name": "reader"}));
    let ops = created(
        kc,
        &format!("{base}/groups"),
        json!({"name": "ops", "attributes": {"team": ["platform"]}}),
    );
    created(
        kc,
        &format!("{base}/groups/{ops}/children"),
        json!({"name": "on call"}),
    );
    created(
        kc,
        &format!("{base}/client-scopes"),
        json!({"name": "aegis-scope", "protocol": "openid-connect"}),
    );
    created(
        kc,
        &format!("{base}/identity-provider/instances"),
        json!({"alias": "corp-saml", "providerId": "saml", "enabled": true,
               "config": {"singleSignOnServiceUrl": "https://idp.example/sso",
                          "idpEntityId": "https://idp.example", "syncMode": "FORCE"}}),
    );
    created(
        kc,
        &format!("{base}/identity-provider/instances/corp-saml/mappers"),
        json!({"name": "engineers", "identityProviderAlias": "corp-saml",
               "identityProviderMapper": "saml-role-idp-mapper",
               "config": {"syncMode": "INHERIT", "attribute.name": "department",
                          "attribute.value": "engineering", "role": "reader"}}),
    );
    let sa = kc
        .get(&format!("{base}/clients/{web}/service-account-user"))
        .json();
    let sa_id = sa["id"].as_str().expect("service account");
    let role = kc.get(&format!("{base}/roles/reader")).json();
    let mapped = kc.call(
        "POST",
        &format!("{base}/users/{sa_id}/role-mappings/realm"),
        Some(&json!([role])),
    );
    assert_eq!(mapped.status, 204, "{}", mapped.text());
    let secret = kc
        .get(&format!("{base}/clients/{web}/client-secret"))
        .json()["value"]
        .as_str()
        .expect("the client secret")
        .to_owned();

    let bao = Bao::start();
    let out = tempfile::tempdir().expect("dir");
    let import = ctl(
        &bao,
        kc,
        &["import", "keycloak", "--realm", r, "--out", s(out.path())],
    );
    assert_eq!(import.code, Some(0), "{import}");
    assert!(import.stdout.contains("client `web`: `secret`"), "{import}");
    let realm_file = out.path().join(format!("realms/{r}.json"));
    let text = std::fs::read_to_string(&realm_file).expect("the realm file");
    for (what, needle) in [
        ("the client secret", secret.as_str()),
        ("the admin password", kc.admin_password()),
        ("a server id", web.as_str()),
    ] {
        assert!(!text.contains(needle), "{what} in the realm file");
        assert!(!import.all().contains(needle), "{what} in the output");
    }
    for part in [
        "\"aegis:admin\"",
        "\"on call\"",
        "\"aegis-scope\"",
        "\"corp-saml\"",
        "\"engineers\"",
        "serviceAccountClientId",
    ] {
        assert!(
            text.contains(part),
            "{part} missing from the realm file:\n{text}"
        );
    }
    let topology = out.path().join(format!("inventories/{r}.yaml"));
    let plan = ctl(&bao, kc, &["plan", "--detailed-exitcode", s(&topology)]);
    assert_eq!(plan.code, Some(0), "the import plans no changes:\n{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
    assert!(!plan.all().contains(&secret), "{plan}");
}

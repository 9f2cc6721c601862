//! Every Keycloak kind through the CLI against the real Keycloak: a realm file declaring realm
//! settings, a client with a mapper, a client scope, nested groups, a service account's roles,
//! a SAML identity provider and its mapper is applied from nothing and plans "No changes.";
//! then each object is edited behind aegisctl's back, `drift` reports each one (exit 2) with
//! its address and attribute, and `apply` converges them all again.

use serde_json::{Value, json};

use crate::harness::{Bao, CHANGED, block, s, section};
use crate::keycloak::{Keycloak, TestRealm, keycloak, unique_realm};
use crate::keycloak_common::ctl;

fn realm_file(realm: &str) -> Value {
    json!({
        "realm": realm,
        "enabled": true,
        "displayName": "Every kind",
        "clients": [{
            "clientId": "svc",
            "publicClient": false,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": false,
            "defaultClientScopes": ["aegis-scope", "profile", "roles"],
            "protocolMappers": [{
                "name": "aegis_role",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-usermodel-client-role-mapper",
                "config": {"claim.name": "aegis_role", "multivalued": "true",
                           "usermodel.clientRoleMapping.clientId": "svc"}
            }]
        }],
        "roles": {
            "realm": [{"name": "reader", "description": "reads"}],
            "client": {"svc": [{"name": "aegis:operator", "description": "runs"}]}
        },
        "clientScopes": [{"name": "aegis-scope", "protocol": "openid-connect",
                          "description": "the platform's scope"}],
        "groups": [{"name": "ops", "attributes": {"team": ["platform"]},
                    "realmRoles": ["reader"],
                    "subGroups": [{"name": "on call", "attributes": {"pager": ["yes"]}}]}],
        "users": [{"username": "service-account-svc", "serviceAccountClientId": "svc",
                   "realmRoles": [format!("default-roles-{realm}"), "reader"],
                   "clientRoles": {"svc": ["aegis:operator"]}}],
        "identityProviders": [{"alias": "corp-saml", "providerId": "saml", "enabled": true,
                               "displayName": "Corporate sign-in",
                               "config": {"singleSignOnServiceUrl": "https://idp.example/sso",
                                          "idpEntityId": "https://idp.example",
                                          "syncMode": "FORCE"}}],
        "identityProviderMappers": [{"name": "engineers", "identityProviderAlias": "corp-saml",
                                     "identityProviderMapper": "saml-role-idp-mapper",
                                     "config": {"syncMode": "INHERIT",
                                                "attribute.name": "department",
                                                "attribute.value": "engineering",
                                                "role": "reader"}}]
    })
}

/// Reads `path`, lets `edit` change the representation, and PUTs it back.
fn edit(kc: &Keycloak, path: &str, change: impl FnOnce(&mut Value)) {
    let mut rep = kc.get(path).json();
    change(&mut rep);
    let resp = kc.call("PUT", path, Some(&rep));
    assert_eq!(resp.status, 204, "PUT {path}: {}", resp.text());
}

fn find(list: &Value, key: &str, value: &str) -> Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x[key] == value))
        .cloned()
        .unwrap_or_else(|| panic!("no {key}={value} in {list}"))
}

#[test]
fn every_keycloak_kind_drifts_and_converges_through_the_cli() {
    let kc = keycloak();
    let realm = TestRealm {
        kc,
        name: unique_realm("drift"),
    };
    let r = realm.name.as_str();
    let bao = Bao::start();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("realm.json"), realm_file(r).to_string()).expect("realm");
    let file = dir.path().join("topology.yaml");
    std::fs::write(
        &file,
        "version: 1\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms: [file:realm.json]\n",
    )
    .expect("topology");
    let f = s(&file);
    let apply = ctl(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let plan = ctl(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(plan.code, Some(0), "{plan}");

    // Behind aegisctl's back, one edit per kind.
    let base = format!("/admin/realms/{r}");
    edit(kc, &base, |v| v["displayName"] = json!("Renamed"));
    let svc = find(
        &kc.get(&format!("{base}/clients?clientId=svc")).json(),
        "clientId",
        "svc",
    );
    let svc_id = svc["id"].as_str().expect("id").to_owned();
    let mappers = kc
        .get(&format!("{base}/clients/{svc_id}/protocol-mappers/models"))
        .json();
    let mapper_id = find(&mappers, "name", "aegis_role")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    edit(
        kc,
        &format!("{base}/clients/{svc_id}/protocol-mappers/models/{mapper_id}"),
        |v| v["config"]["claim.name"] = json!("hijacked"),
    );
    let scope = find(
        &kc.get(&format!("{base}/client-scopes")).json(),
        "name",
        "aegis-scope",
    );
    let scope_id = scope["id"].as_str().expect("id").to_owned();
    edit(kc, &format!("{base}/client-scopes/{scope_id}"), |v| {
        v["description"] = json!("changed")
    });
    let unlinked = kc.call(
        "DELETE",
        &format!("{base}/clients/{svc_id}/default-client-scopes/{scope_id}"),
        None,
    );
    assert_eq!(unlinked.status, 204, "{}", unlinked.text());
    let ops = kc.get(&format!("{base}/group-by-path/ops")).json();
    let ops_id = ops["id"].as_str().expect("id").to_owned();
    edit(kc, &format!("{base}/groups/{ops_id}"), |v| {
        v["attributes"] = json!({"team": ["someone-else"]})
    });
    let sa = kc
        .get(&format!("{base}/clients/{svc_id}/service-account-user"))
        .json();
    let sa_id = sa["id"].as_str().expect("id").to_owned();
    let reader = kc.get(&format!("{base}/roles/reader")).json();
    let removed = kc.call(
        "DELETE",
        &format!("{base}/users/{sa_id}/role-mappings/realm"),
        Some(&json!([reader])),
    );
    assert_eq!(removed.status, 204, "{}", removed.text());
    edit(
        kc,
        &format!("{base}/identity-provider/instances/corp-saml"),
        |v| v["displayName"] = json!("Someone's sign-in"),
    );
    let idp_mappers = kc
        .get(&format!(
            "{base}/identity-provider/instances/corp-saml/mappers"
        ))
        .json();
    let idp_mapper_id = find(&idp_mappers, "name", "engineers")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    edit(
        kc,
        &format!("{base}/identity-provider/instances/corp-saml/mappers/{idp_mapper_id}"),
        |v| v["config"]["attribute.value"] = json!("sales"),
    );

    let drift = ctl(&bao, kc, &["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    let changed = section(&drift.stdout, CHANGED).expect("a changed section");
    for (kind, name, attr) in [
        ("realm", r.to_owned(), "displayName"),
        ("client", "svc".to_owned(), "defaultClientScopes"),
        ("protocol_mapper", "svc/aegis_role".to_owned(), "config"),
        ("client_scope", "aegis-scope".to_owned(), "description"),
        ("group", "/ops".to_owned(), "attributes"),
        ("service_account_roles", "svc".to_owned(), "realmRoles"),
        ("identity_provider", "corp-saml".to_owned(), "displayName"),
        ("idp_mapper", "corp-saml/engineers".to_owned(), "config"),
    ] {
        let address = format!("keycloak[{r}].{kind}[\"{name}\"]");
        let b =
            block(changed, &address).unwrap_or_else(|| panic!("{address} not reported:\n{drift}"));
        assert!(b.contains(attr), "{address} without `{attr}`:\n{b}");
    }

    let fix = ctl(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(fix.code, Some(0), "{fix}");
    let plan = ctl(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(plan.code, Some(0), "converged again:\n{plan}");
    let drift = ctl(&bao, kc, &["drift", f]);
    assert_eq!(drift.code, Some(0), "{drift}");

    // A group taken out of the file: its members would lose it, so --prune alone refuses
    // (nothing deleted) and --allow-destroy deletes it.
    let mut rep = realm_file(r);
    rep["groups"][0]["subGroups"] = json!([]);
    std::fs::write(dir.path().join("realm.json"), rep.to_string()).expect("realm");
    let refused = ctl(&bao, kc, &["apply", "--auto-approve", "--prune", f]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(refused.all().contains("membership"), "{refused}");
    assert_eq!(
        kc.get(&format!("{base}/group-by-path/ops/on%20call"))
            .status,
        200
    );
    let pruned = ctl(
        &bao,
        kc,
        &["apply", "--auto-approve", "--prune", "--allow-destroy", f],
    );
    assert_eq!(pruned.code, Some(0), "{pruned}");
    assert_eq!(
        kc.get(&format!("{base}/group-by-path/ops/on%20call"))
            .status,
        404
    );
    let plan = ctl(&bao, kc, &["plan", "--detailed-exitcode", "--prune", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
}

//! Tests of realm_split.rs (compiled only under #[cfg(test)]): the seed's identity setup
//! splits into the objects of spec/topology.md, server ids vanish, unconverged parts and
//! duplicates are errors naming where they are.

use serde_json::json;

use super::*;

fn names(objs: &[RealmObject]) -> Vec<(String, String)> {
    objs.iter()
        .map(|o| (o.kind.to_owned(), o.name.clone()))
        .collect()
}

#[test]
fn the_seed_realm_splits_into_its_objects() {
    let rep = json!({
        "id": "0b1c-server-id",
        "realm": "aegis-system",
        "enabled": true,
        "accessTokenLifespan": 300,
        "attributes": { "frontendUrl": "https://id.example" },
        "clients": [{
            "id": "9f2e-server-id",
            "clientId": "aegis-orchestrator",
            "publicClient": false,
            "serviceAccountsEnabled": true,
            "redirectUris": ["https://aegis.example/*"],
            "protocolMappers": [{
                "id": "mapper-id",
                "name": "aegis_role",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-usermodel-client-role-mapper",
                "config": { "claim.name": "aegis_role", "multivalued": "true" }
            }]
        }],
        "roles": {
            "realm": [{ "name": "ops", "containerId": "realm-id" }],
            "client": { "aegis-orchestrator": [
                { "name": "aegis:admin", "clientRole": true, "containerId": "9f2e" },
                { "name": "aegis:operator" },
                { "name": "aegis:readonly" }
            ]}
        },
        "groups": [{ "name": "platform", "subGroups": [{ "name": "sre", "realmRoles": ["ops"] }] }],
        "users": [{
            "username": "service-account-aegis-sdk",
            "serviceAccountClientId": "aegis-sdk",
            "enabled": true,
            "clientRoles": { "aegis-orchestrator": ["aegis:operator"] }
        }],
        "identityProviders": [{ "alias": "corp-saml", "providerId": "saml", "config": {} }],
        "identityProviderMappers": [{
            "name": "admins", "identityProviderAlias": "corp-saml",
            "identityProviderMapper": "saml-role-idp-mapper", "config": { "role": "ops" }
        }]
    });
    let objs = split(&rep).expect("splits");
    let got = names(&objs);
    for want in [
        ("realm", "aegis-system"),
        ("client", "aegis-orchestrator"),
        ("protocol_mapper", "aegis-orchestrator/aegis_role"),
        ("realm_role", "ops"),
        ("client_role", "aegis-orchestrator/aegis:admin"),
        ("client_role", "aegis-orchestrator/aegis:readonly"),
        ("group", "/platform"),
        ("group", "/platform/sre"),
        ("service_account_roles", "aegis-sdk"),
        ("identity_provider", "corp-saml"),
        ("idp_mapper", "corp-saml/admins"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} missing from {got:?}"
        );
    }
    let realm = &objs[0];
    assert_eq!(realm.kind, "realm");
    assert_eq!(realm.attrs["accessTokenLifespan"], 300);
    assert!(!realm.attrs.contains_key("id") && !realm.attrs.contains_key("clients"));
    let client = objs.iter().find(|o| o.kind == "client").expect("client");
    assert!(!client.attrs.contains_key("id"));
    assert!(!client.attrs.contains_key("protocolMappers"));
    assert_eq!(
        client.attrs["redirectUris"],
        json!(["https://aegis.example/*"])
    );
    let role = objs
        .iter()
        .find(|o| o.name == "aegis-orchestrator/aegis:admin")
        .expect("role");
    assert!(!role.attrs.contains_key("containerId"));
    let sa = objs
        .iter()
        .find(|o| o.kind == "service_account_roles")
        .expect("service account");
    assert_eq!(
        sa.attrs.keys().collect::<Vec<_>>(),
        ["clientRoles"],
        "only the roles of a service account"
    );
}

#[test]
fn parts_not_converged_are_errors_naming_their_key() {
    let rep = json!({
        "realm": "r",
        "authenticationFlows": [],
        "components": {},
        "users": [{ "username": "alice" }],
    });
    let problems = split(&rep).expect_err("refused");
    let text = problems.join("\n");
    assert!(
        text.contains("authenticationFlows: not converged"),
        "{text}"
    );
    assert!(text.contains("components: not converged"), "{text}");
    assert!(text.contains("users[0]: ordinary users"), "{text}");
}

#[test]
fn missing_names_and_duplicates_are_located() {
    let rep = json!({
        "realm": "r",
        "clients": [{ "clientId": "a" }, { "publicClient": true }, { "clientId": "a" }],
    });
    let problems = split(&rep).expect_err("refused");
    assert!(
        problems.iter().any(|p| p == "clients[1]: no `clientId`"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("clients[2]: a second client `a`")),
        "{problems:?}"
    );
    assert!(split(&json!({ "enabled": true })).is_err(), "no realm name");
}

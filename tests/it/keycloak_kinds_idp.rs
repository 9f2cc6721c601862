//! The `identity_provider` and `idp_mapper` kinds (src/backends/keycloak/kinds) against the real
//! Keycloak of keycloak.rs, each test in a realm of its own, driven through the `Kind` trait:
//! a SAML provider reads back equal, an out-of-band config edit is seen, and an update of one
//! declared key keeps a key the server holds that the file does not declare (an IdP `PUT`
//! replaces `config` wholesale); an OIDC provider's `clientSecret` canary never appears in
//! what is read, in Debug or in an error, and never diffs; a role mapper named with a space,
//! mapping to a role with a colon, goes through create/read/update/list/delete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aegisctl::backends::keycloak::kinds::Keycloak as Kc;
use aegisctl::backends::keycloak::kinds::identity_provider::Idp;
use aegisctl::backends::keycloak::kinds::idp_mapper::IdpMapper;
use aegisctl::backends::{Kind, Live};
use aegisctl::model::{AttrValue, Backend, DesiredResource, ResourceId};
use aegisctl::plan::normalise::equal;
use serde_json::{Value, json};

use crate::keycloak::{Keycloak, keycloak};

const SECRET: &str = "kcidp-client-secret-canary-9b3f";
const SAML: &str = "corp-saml";
const MAPPER: &str = "engineering operators";
const ROLE: &str = "aegis:operator";

fn context(kc: &Keycloak) -> Arc<Kc> {
    crate::keycloak_common::kinds(kc)
}

fn id(realm: &str, kind: &str, parent: Option<&str>, name: &str) -> ResourceId {
    ResourceId::on(Backend::Keycloak, realm, kind, parent, name)
}

fn desired(id: ResourceId, attrs: Value) -> DesiredResource {
    let attrs: BTreeMap<String, AttrValue> = attrs
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), AttrValue::Plain(v.clone())))
        .collect();
    DesiredResource::new(id, attrs)
}

/// Whether every declared field of `res` compares equal to `live`, as the differ compares.
fn same(kind: &dyn Kind, res: &DesiredResource, live: &Live) -> Result<(), String> {
    for (f, v) in &res.attrs {
        let Some(lv) = live.get(f) else {
            return Err(format!("`{f}` is not in what was read"));
        };
        let (d, l) = (
            kind.normalise(f, v.to_wire()),
            kind.normalise(f, lv.clone()),
        );
        if !equal(false, None, f, &d, &l) {
            return Err(format!("`{f}`: declared {d}, read {l}"));
        }
    }
    Ok(())
}

fn saml_config(sso: &str) -> Value {
    json!({
        "singleSignOnServiceUrl": sso,
        "entityId": "https://aegis.example/sp",
        "idpEntityId": "https://idp.example/entity",
        "nameIDPolicyFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "principalType": "SUBJECT",
        "syncMode": "IMPORT",
        "validateSignature": "false",
        "postBindingResponse": true,
    })
}

fn saml(realm: &str, sso: &str) -> DesiredResource {
    desired(
        id(realm, "identity_provider", None, SAML),
        json!({
            "providerId": "saml",
            "displayName": "Corp SSO",
            "enabled": true,
            "trustEmail": false,
            "firstBrokerLoginFlowAlias": "first broker login",
            "config": saml_config(sso),
        }),
    )
}

fn instance(realm: &str, alias: &str) -> String {
    format!("/admin/realms/{realm}/identity-provider/instances/{alias}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saml_provider_converges_and_an_update_keeps_undeclared_config() {
    let kc = keycloak();
    let realm = kc.realm("kcidp-saml");
    let kind = Idp::new(context(kc));
    let res = saml(&realm.name, "https://idp.example/sso");
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.create(&res).await.expect("create");

    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &res, &live).expect("the declared fields read back");
    assert!(!live.contains_key("internalId"));
    assert_eq!(
        live.get("config")
            .and_then(|c| c.get("postBindingResponse")),
        Some(&json!("true")),
        "config values are strings"
    );
    let listed = kind.list(&realm.name, &[]).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&res.id));

    // An out-of-band edit of a declared key: a difference on `config`.
    let mut rep = kc.get(&instance(&realm.name, SAML)).json();
    rep["config"]["singleSignOnServiceUrl"] = json!("https://evil.example/sso");
    rep["config"]["guiOrder"] = json!("7");
    let put = kc.call("PUT", &instance(&realm.name, SAML), Some(&rep));
    assert_eq!(put.status, 204, "{}", put.text());
    let drifted = kind.read(&res.id).await.expect("read").expect("it exists");
    let err = same(&kind, &res, &drifted).expect_err("the edit is seen");
    assert!(err.contains("config"), "{err}");

    // An update of one declared key keeps the key the file does not declare.
    let updated = saml(&realm.name, "https://idp.example/sso2");
    let changed: BTreeSet<String> = ["config".to_owned()].into();
    kind.update(&updated, &changed, &drifted)
        .await
        .expect("update");
    let after = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &updated, &after).expect("the update is read back");
    let config = after.get("config").expect("config");
    assert_eq!(config["guiOrder"], "7", "the undeclared key was lost");
    assert_eq!(after.get("displayName"), Some(&json!("Corp SSO")));

    // `providerId` cannot change in place.
    let oidc = json!("oidc");
    assert!(kind.forces_replace("providerId", &json!("saml"), &oidc));

    let again = kind.create(&res).await.expect_err("a second create");
    assert_eq!(again.status(), Some(409), "{again}");

    kind.delete(&res.id).await.expect("delete");
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.delete(&res.id)
        .await
        .expect("a second delete is quiet");
    assert!(kind.list(&realm.name, &[]).await.expect("list").is_empty());
}

fn oidc(realm: &str, display: &str, secret: Option<&str>) -> DesiredResource {
    let mut config = json!({
        "clientId": "aegis-broker",
        "authorizationUrl": "https://login.example/authorize",
        "tokenUrl": "https://login.example/token",
        "clientAuthMethod": "client_secret_post",
        "syncMode": "IMPORT",
        "validateSignature": false,
    });
    if let Some(s) = secret {
        config["clientSecret"] = json!(s);
    }
    desired(
        id(realm, "identity_provider", None, "corp-oidc"),
        json!({"providerId": "oidc", "displayName": display, "config": config}),
    )
}

/// Every text of a live object (its Debug and its values) free of the canary.
fn assert_no_secret(live: &Live) {
    let debug = format!("{live:?} {live:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    let values: serde_json::Map<String, Value> =
        live.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let text = Value::Object(values).to_string();
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oidc_provider_secret_is_never_read_or_shown_and_never_diffs() {
    let kc = keycloak();
    let realm = kc.realm("kcidp-oidc");
    let kind = Idp::new(context(kc));
    let res = oidc(&realm.name, "Corp", Some(SECRET));
    kind.create(&res).await.expect("create");

    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    assert_no_secret(&live);
    let config = live.get("config").expect("config");
    assert_eq!(
        config["clientSecret"], "**********",
        "the secret was not sent"
    );
    same(&kind, &res, &live).expect("no perpetual diff on the secret");
    assert!(!kind.write_only("config", &res.attrs["config"]));
    let raw = kc.get(&instance(&realm.name, "corp-oidc")).text();
    assert!(!raw.contains(SECRET), "Keycloak answered the secret: {raw}");

    // An update that does not declare the secret keeps the stored one (the mask goes back).
    let quiet = oidc(&realm.name, "Corp 2", None);
    let changed: BTreeSet<String> = ["displayName".to_owned()].into();
    kind.update(&quiet, &changed, &live).await.expect("update");
    let after = kind.read(&res.id).await.expect("read").expect("it exists");
    assert_no_secret(&after);
    assert_eq!(after.get("displayName"), Some(&json!("Corp 2")));
    let config = after.get("config").expect("config");
    assert_eq!(
        config["clientSecret"], "**********",
        "the secret was cleared"
    );

    // An update declaring it sends it; still nothing to read, nothing to diff.
    kind.update(&res, &changed, &after).await.expect("update");
    let again = kind.read(&res.id).await.expect("read").expect("it exists");
    assert_no_secret(&again);
    same(&kind, &res, &again).expect("no diff");

    // Errors carry no secret: a duplicate create, and an update Keycloak refuses.
    let dup = kind.create(&res).await.expect_err("a second create");
    let mut bad = oidc(&realm.name, "Corp", Some(SECRET));
    bad.attrs
        .insert("noSuchField".into(), AttrValue::Plain(json!(SECRET)));
    let refused = kind
        .update(&bad, &changed, &again)
        .await
        .expect_err("an unknown field is refused");
    let text = format!(
        "{dup} {dup:?} {refused} {refused:?} {kind_live:?}",
        kind_live = again
    );
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(refused.status(), Some(400), "{text}");
    kind.delete(&res.id).await.expect("delete");

    // An export's mask is no secret to create a provider with.
    let masked = oidc(&realm.name, "Corp", Some("**********"));
    let err = kind.create(&masked).await.expect_err("the mask is refused");
    assert!(err.to_string().contains("config.clientSecret"), "{err}");
    assert!(kind.read(&res.id).await.expect("read").is_none());
}

fn mapper(realm: &str, value: &str) -> DesiredResource {
    desired(
        id(realm, "idp_mapper", Some(SAML), MAPPER),
        json!({
            "identityProviderMapper": "saml-role-idp-mapper",
            "config": {
                "syncMode": "INHERIT",
                "attribute.name": "Role",
                "attribute.value": value,
                "role": ROLE,
            },
        }),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_mapper_is_created_read_updated_listed_and_deleted() {
    let kc = keycloak();
    let realm = kc.realm("kcidp-mapper");
    let ctx = context(kc);
    let idps = Idp::new(ctx.clone());
    let kind = IdpMapper::new(ctx.clone());
    let res = mapper(&realm.name, "engineering");

    // No provider yet: refused in words, nothing read or listed.
    let err = kind.create(&res).await.expect_err("no provider");
    assert!(err.to_string().contains(SAML), "{err}");
    assert!(kind.read(&res.id).await.expect("read").is_none());

    let role = kc.call(
        "POST",
        &format!("/admin/realms/{}/roles", realm.name),
        Some(&json!({"name": ROLE})),
    );
    assert_eq!(role.status, 201, "{}", role.text());
    let idp = saml(&realm.name, "https://idp.example/sso");
    idps.create(&idp).await.expect("create the provider");
    kind.create(&res).await.expect("create the mapper");

    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &res, &live).expect("read back equal");
    assert_eq!(
        live.get("identityProviderAlias"),
        Some(&json!(SAML)),
        "the alias is sent"
    );
    assert!(!live.contains_key("id"));
    assert_eq!(kind.container(&res.id), Some(idp.id.clone()));
    // A fresh kind (no cached id) finds it by listing.
    let fresh = IdpMapper::new(ctx.clone());
    let found = fresh.read(&res.id).await.expect("read").expect("found");
    same(&fresh, &res, &found).expect("read back equal");

    // An update keeps an undeclared config key the server holds.
    let mut rep = kc
        .get(&format!("{}/mappers", instance(&realm.name, SAML)))
        .json()[0]
        .clone();
    let mid = rep["id"].as_str().expect("an id").to_owned();
    rep["config"]["attribute.friendly.name"] = json!("role");
    let path = format!("{}/mappers/{mid}", instance(&realm.name, SAML));
    let put = kc.call("PUT", &path, Some(&rep));
    assert_eq!(put.status, 204, "{}", put.text());
    let updated = mapper(&realm.name, "platform");
    let changed: BTreeSet<String> = ["config".to_owned()].into();
    kind.update(&updated, &changed, &live)
        .await
        .expect("update");
    let after = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &updated, &after).expect("the update is read back");
    assert!(same(&kind, &res, &after).is_err(), "the old value is gone");
    let config = after.get("config").expect("config");
    assert_eq!(config["attribute.friendly.name"], "role");
    assert!(kind.forces_replace("identityProviderMapper", &json!("a"), &json!("b")));

    let listed = idps.list(&realm.name, &[]).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&idp.id));
    let listed = kind.list(&realm.name, &[]).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&res.id));

    kind.delete(&res.id).await.expect("delete");
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.delete(&res.id)
        .await
        .expect("a second delete is quiet");
    assert!(kind.list(&realm.name, &[]).await.expect("list").is_empty());

    // Deleted out of band behind a cached id: read answers none, not an error.
    kind.create(&res).await.expect("create again");
    assert!(kind.read(&res.id).await.expect("read").is_some());
    let listed = kc
        .get(&format!("{}/mappers", instance(&realm.name, SAML)))
        .json();
    let mid = listed[0]["id"].as_str().expect("an id").to_owned();
    let gone = kc.call(
        "DELETE",
        &format!("{}/mappers/{mid}", instance(&realm.name, SAML)),
        None,
    );
    assert_eq!(gone.status, 204);
    assert!(kind.read(&res.id).await.expect("read").is_none());
}

#[test]
fn both_kinds_are_registered_and_a_mapper_lives_in_its_provider() {
    // Registering sends nothing: an address where nothing listens will do.
    let r = crate::keycloak_common::offline_registry();
    for k in ["identity_provider", "idp_mapper"] {
        assert!(r.get(Backend::Keycloak, k).is_some(), "{k}");
        assert!(r.get(Backend::OpenBao, k).is_none(), "{k}");
    }
    let m = id("acme", "idp_mapper", Some(SAML), MAPPER);
    assert_eq!(
        r.container(&m),
        Some(id("acme", "identity_provider", None, SAML))
    );
    assert_eq!(
        r.container(&id("acme", "identity_provider", None, SAML)),
        Some(id("acme", "realm", None, "acme"))
    );
    let order = |k: &str| {
        r.get(Backend::Keycloak, k)
            .expect("registered")
            .destroy_order()
    };
    assert!(order("idp_mapper") < order("identity_provider"));
    // The differ alone already takes `true` for Keycloak's `"true"` inside a config map.
    let (declared, stored) = (
        json!({"validateSignature": true}),
        json!({"validateSignature": "true"}),
    );
    assert!(equal(false, None, "config", &declared, &stored));
    assert_eq!(
        m.address().to_string(),
        format!("keycloak[acme].idp_mapper[\"{SAML}/{MAPPER}\"]")
    );
}

//! The `realm`, `realm_role` and `client_role` kinds against the real Keycloak of keycloak.rs:
//! each is created from a declared resource, read back with the server's values for the
//! declared fields (and without the server's bookkeeping), updated one field at a time, listed
//! without Keycloak's built-ins, and deleted twice without complaint. Client roles are named
//! `aegis:*` because a colon in a path segment is where a converger goes wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aegisctl::backends::Kind;
use aegisctl::backends::keycloak::kinds::Keycloak;
use aegisctl::backends::keycloak::kinds::client_role::ClientRole;
use aegisctl::backends::keycloak::kinds::realm::Realm;
use aegisctl::backends::keycloak::kinds::realm_role::RealmRole;
use aegisctl::model::{AttrValue, Backend, DesiredResource, ResourceId};
use serde_json::{Value, json};

use crate::keycloak::{self as harness, keycloak};

fn kinds() -> Arc<Keycloak> {
    crate::keycloak_common::kinds(keycloak())
}

fn desired(id: ResourceId, attrs: Value) -> DesiredResource {
    let attrs: BTreeMap<String, AttrValue> = attrs
        .as_object()
        .expect("attrs are an object")
        .iter()
        .map(|(k, v)| (k.clone(), AttrValue::Plain(v.clone())))
        .collect();
    DesiredResource::new(id, attrs)
}

fn id(realm: &str, kind: &str, parent: Option<&str>, name: &str) -> ResourceId {
    ResourceId::on(Backend::Keycloak, realm, kind, parent, name)
}

fn changed(field: &str) -> BTreeSet<String> {
    BTreeSet::from([field.to_owned()])
}

#[test]
fn the_three_kinds_are_registered_as_keycloak_kinds() {
    // Registering sends nothing: an address where nothing listens will do.
    let r = crate::keycloak_common::offline_registry();
    for k in ["realm", "realm_role", "client_role"] {
        assert!(r.get(Backend::Keycloak, k).is_some(), "{k}");
        assert!(r.get(Backend::OpenBao, k).is_none(), "{k}");
    }
    let role = id("acme", "client_role", Some("web"), "aegis:admin");
    assert_eq!(r.container(&role), Some(id("acme", "client", None, "web")));
    let role = id("acme", "realm_role", None, "reader");
    assert_eq!(r.container(&role), Some(id("acme", "realm", None, "acme")));
    assert_eq!(r.container(&id("acme", "realm", None, "acme")), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_realm_is_created_read_updated_listed_and_deleted() {
    let name = harness::unique_realm("kind-realm");
    let kind = Realm::new(kinds());
    let rid = id(&name, "realm", None, &name);
    assert!(kind.read(&rid).await.expect("read").is_none());
    assert!(kind.list(&name, &[]).await.expect("list").is_empty());

    let mut res = desired(
        rid.clone(),
        json!({"enabled": true, "displayName": "Kind Realm", "accessTokenLifespan": 600,
               "attributes": {"aegis.one": "1", "aegis.two": "2"}}),
    );
    kind.create(&res).await.expect("create the realm");
    let live = kind
        .read(&rid)
        .await
        .expect("read")
        .expect("the realm exists");
    assert_eq!(live.get("displayName"), Some(&json!("Kind Realm")));
    assert_eq!(live.get("accessTokenLifespan"), Some(&json!(600)));
    assert_eq!(live.get("enabled"), Some(&json!(true)));
    assert_eq!(live.get("realm"), Some(&json!(name)));
    for owned in ["id", "clients", "roles", "groups", "users", "clientScopes"] {
        assert!(!live.contains_key(owned), "{owned} is another kind's");
    }

    // One field changes; the undeclared ones (sslRequired) are left as they were.
    let ssl = live.get("sslRequired").cloned();
    res.attrs
        .insert("accessTokenLifespan".into(), AttrValue::Plain(json!(900)));
    res.attrs.insert(
        "attributes".into(),
        AttrValue::Plain(json!({"aegis.one": "uno"})),
    );
    kind.update(&res, &changed("accessTokenLifespan"), &live)
        .await
        .expect("update");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("accessTokenLifespan"), Some(&json!(900)));
    assert_eq!(live.get("displayName"), Some(&json!("Kind Realm")));
    assert_eq!(live.get("sslRequired").cloned(), ssl);
    let attrs = live.get("attributes").cloned().unwrap_or_default();
    assert_eq!(attrs["aegis.one"], json!("uno"), "{attrs}");
    // Keycloak's realm PUT replaces `attributes`; the kind lays the declared keys over the
    // live ones, so a key the update does not declare stays.
    assert_eq!(attrs["aegis.two"], json!("2"), "{attrs}");

    assert_eq!(
        kind.list(&name, &[]).await.expect("list"),
        vec![rid.clone()]
    );
    assert!(kind.list("master", &[]).await.expect("list").is_empty());
    assert!(
        kind.delete(&id("master", "realm", None, "master"))
            .await
            .is_err()
    );

    kind.delete(&rid).await.expect("delete");
    assert!(kind.read(&rid).await.expect("read").is_none());
    kind.delete(&rid).await.expect("a second delete is quiet");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_realm_role_round_trips_and_the_builtins_are_never_listed() {
    let realm = keycloak().realm("kind-rrole");
    let kind = RealmRole::new(kinds());
    let rid = id(&realm.name, "realm_role", None, "aegis:reader");
    assert!(kind.read(&rid).await.expect("read").is_none());

    let mut res = desired(
        rid.clone(),
        json!({"description": "reads things", "attributes": {"team": ["ops"]}}),
    );
    kind.create(&res).await.expect("create");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("description"), Some(&json!("reads things")));
    assert_eq!(live.get("attributes"), Some(&json!({"team": ["ops"]})));
    assert_eq!(live.get("name"), Some(&json!("aegis:reader")));
    for dropped in ["id", "containerId", "clientRole"] {
        assert!(!live.contains_key(dropped), "{dropped}");
    }

    res.attrs.insert(
        "description".into(),
        AttrValue::Plain(json!("reads more things")),
    );
    kind.update(&res, &changed("description"), &live)
        .await
        .expect("update");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("description"), Some(&json!("reads more things")));
    assert_eq!(live.get("attributes"), Some(&json!({"team": ["ops"]})));

    // An update that does not declare the description leaves it (the PUT would clear it).
    let only_attrs = desired(rid.clone(), json!({"attributes": {"team": ["sec"]}}));
    kind.update(&only_attrs, &changed("attributes"), &live)
        .await
        .expect("update");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("description"), Some(&json!("reads more things")));
    assert_eq!(live.get("attributes"), Some(&json!({"team": ["sec"]})));

    let listed = kind.list(&realm.name, &[]).await.expect("list");
    assert_eq!(listed, vec![rid.clone()], "only ours, no built-in");

    kind.delete(&rid).await.expect("delete");
    assert!(kind.read(&rid).await.expect("read").is_none());
    kind.delete(&rid).await.expect("a second delete is quiet");
    assert!(kind.list(&realm.name, &[]).await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_roles_with_colons_round_trip_on_a_declared_client() {
    let realm = keycloak().realm("kind-crole");
    let r = &realm.name;
    let made = realm.kc.call(
        "POST",
        &format!("/admin/realms/{r}/clients"),
        Some(&json!({"clientId": "aegis-app", "publicClient": true})),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let kind = ClientRole::new(kinds());

    let names = ["aegis:admin", "aegis:operator", "aegis:readonly"];
    for n in names {
        let rid = id(r, "client_role", Some("aegis-app"), n);
        assert!(kind.read(&rid).await.expect("read").is_none());
        let res = desired(rid, json!({"description": format!("the {n} role")}));
        kind.create(&res).await.expect("create");
    }
    let rid = id(r, "client_role", Some("aegis-app"), "aegis:admin");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("name"), Some(&json!("aegis:admin")));
    assert_eq!(
        live.get("description"),
        Some(&json!("the aegis:admin role"))
    );
    for dropped in ["id", "containerId", "clientRole"] {
        assert!(!live.contains_key(dropped), "{dropped}");
    }

    let res = desired(rid.clone(), json!({"description": "administers"}));
    kind.update(&res, &changed("description"), &live)
        .await
        .expect("update");
    let live = kind.read(&rid).await.expect("read").expect("exists");
    assert_eq!(live.get("description"), Some(&json!("administers")));

    // Listed: the declared client's roles, never a built-in client's (even declared).
    let app = desired(id(r, "client", None, "aegis-app"), json!({}));
    let builtin = desired(id(r, "client", None, "realm-management"), json!({}));
    let absent = desired(id(r, "client", None, "not-yet-created"), json!({}));
    let listed: BTreeSet<ResourceId> = kind
        .list(r, &[&app, &builtin, &absent])
        .await
        .expect("list")
        .into_iter()
        .collect();
    let expected: BTreeSet<ResourceId> = names
        .iter()
        .map(|n| id(r, "client_role", Some("aegis-app"), n))
        .collect();
    assert_eq!(listed, expected);
    assert!(kind.list(r, &[]).await.expect("list").is_empty());

    // A role of a client that does not exist: absent, and creating it names the client.
    let orphan = id(r, "client_role", Some("not-yet-created"), "aegis:admin");
    assert!(kind.read(&orphan).await.expect("read").is_none());
    let err = kind
        .create(&desired(orphan.clone(), json!({})))
        .await
        .expect_err("no such client");
    assert!(err.to_string().contains("not-yet-created"), "{err}");
    kind.delete(&orphan).await.expect("nothing to delete");

    kind.delete(&rid).await.expect("delete");
    assert!(kind.read(&rid).await.expect("read").is_none());
    kind.delete(&rid).await.expect("a second delete is quiet");
}

//! The `service_account_roles`, `group` and `client_scope` kinds against the real Keycloak of
//! keycloak.rs, each test in a realm of its own: an object created from a declared resource
//! reads back equal on every declared field (as the differ compares), an edit made behind the
//! kind's back is seen as a difference and an update converges it, a list shows ours and never
//! Keycloak's built-ins, and a delete works twice. Names carry `:` and spaces (role
//! `aegis:operator`, group `on call`, scope `aegis:audit`) because that is where a converger
//! that formats URLs goes wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aegisctl::backends::keycloak::kinds::Keycloak as Kc;
use aegisctl::backends::keycloak::kinds::group::Group;
use aegisctl::backends::keycloak::kinds::service_account_roles::ServiceAccountRoles;
use aegisctl::backends::{Kind, Live};
use aegisctl::model::{AttrValue, Backend, DesiredResource, ResourceId};
use aegisctl::plan::normalise::equal;
use serde_json::{Value, json};

use crate::keycloak::{Keycloak, TestRealm, keycloak};

mod scopes;

fn context() -> Arc<Kc> {
    crate::keycloak_common::kinds(keycloak())
}

fn id(realm: &str, kind: &str, name: &str) -> ResourceId {
    ResourceId::on(Backend::Keycloak, realm, kind, None, name)
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

fn fields(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The declared fields that differ from `live`, as the differ compares them.
fn differing(kind: &dyn Kind, res: &DesiredResource, live: &Live) -> Vec<String> {
    let mut out = Vec::new();
    for (f, v) in &res.attrs {
        let d = kind.normalise(f, v.to_wire());
        let l = kind.normalise(f, live.get(f).cloned().unwrap_or(Value::Null));
        if !equal(false, None, f, &d, &l) {
            out.push(format!("`{f}`: declared {d}, read {l}"));
        }
    }
    out
}

async fn read(kind: &dyn Kind, id: &ResourceId) -> Live {
    kind.read(id).await.expect("read").expect("it exists")
}

/// A path segment as Keycloak expects it in a raw admin call.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A raw admin call that must answer `status`; its answer's JSON (or null).
fn must(kc: &Keycloak, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    let resp = kc.call(method, path, body.as_ref());
    assert_eq!(resp.status, status, "{method} {path}: {}", resp.text());
    if resp.text().trim().is_empty() {
        Value::Null
    } else {
        resp.json()
    }
}

/// A realm with realm roles `aegis:operator`, `aegis:auditor` and `team/ops:reader` (a `/` in
/// a role name is legal, and must travel as data), a client `aegis-api` with the
/// role `aegis:admin`, a confidential client `aegis-worker` with a service account, and a
/// public client `web` without one.
fn realm_with_roles(prefix: &str) -> TestRealm {
    let realm = keycloak().realm(prefix);
    let (kc, r) = (realm.kc, realm.name.clone());
    for role in ["aegis:operator", "aegis:auditor", "team/ops:reader"] {
        let body = json!({ "name": role });
        must(
            kc,
            "POST",
            &format!("/admin/realms/{r}/roles"),
            Some(body),
            201,
        );
    }
    let clients = format!("/admin/realms/{r}/clients");
    for c in [
        json!({"clientId": "aegis-api", "publicClient": true}),
        json!({"clientId": "aegis-worker", "publicClient": false, "serviceAccountsEnabled": true}),
        json!({"clientId": "web", "publicClient": true}),
    ] {
        must(kc, "POST", &clients, Some(c), 201);
    }
    let api = client_uuid(kc, &r, "aegis-api");
    let body = json!({"name": "aegis:admin"});
    must(
        kc,
        "POST",
        &format!("{clients}/{api}/roles"),
        Some(body),
        201,
    );
    realm
}

fn client_uuid(kc: &Keycloak, realm: &str, client_id: &str) -> String {
    let found = must(
        kc,
        "GET",
        &format!("/admin/realms/{realm}/clients?clientId={client_id}"),
        None,
        200,
    );
    found[0]["id"].as_str().expect("client id").to_owned()
}

fn realm_role(kc: &Keycloak, realm: &str, name: &str) -> Value {
    let path = format!("/admin/realms/{realm}/roles/{}", enc(name));
    must(kc, "GET", &path, None, 200)
}

#[test]
fn the_access_kinds_are_registered_as_keycloak_kinds() {
    // Registering sends nothing: an address where nothing listens will do.
    let r = crate::keycloak_common::offline_registry();
    for k in ["service_account_roles", "group", "client_scope"] {
        assert!(r.get(Backend::Keycloak, k).is_some(), "{k}");
        assert!(r.get(Backend::OpenBao, k).is_none(), "{k}");
    }
    let sa = id("acme", "service_account_roles", "aegis-worker");
    assert_eq!(r.container(&sa), Some(id("acme", "client", "aegis-worker")));
    let sub = id("acme", "group", "/ops/on call");
    assert_eq!(r.container(&sub), Some(id("acme", "group", "/ops")));
    let top = id("acme", "group", "/ops");
    assert_eq!(r.container(&top), Some(id("acme", "realm", "acme")));
    let scope = id("acme", "client_scope", "aegis:audit");
    assert_eq!(r.container(&scope), Some(id("acme", "realm", "acme")));
}

#[tokio::test(flavor = "multi_thread")]
async fn service_account_roles_are_the_exact_set_of_direct_mappings() {
    let realm = realm_with_roles("kind-sa");
    let (kc, r) = (realm.kc, realm.name.as_str());
    let kind = ServiceAccountRoles::new(context());
    let default = format!("default-roles-{r}");
    let sid = id(r, "service_account_roles", "aegis-worker");

    // As Keycloak made it: only its default role, so nothing to list.
    let live = read(&kind, &sid).await;
    assert_eq!(live.get("realmRoles"), Some(&json!([default])));
    assert_eq!(live.get("clientRoles"), Some(&json!({})));
    assert!(kind.list(r, &[]).await.expect("list").is_empty());

    // The declaration is the exact set: default-roles-{realm} is not in it, so it goes.
    let res = desired(
        sid.clone(),
        json!({"realmRoles": ["team/ops:reader", "aegis:operator"],
               "clientRoles": {"aegis-api": ["aegis:admin"]}}),
    );
    kind.create(&res).await.expect("create");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &res, &live), Vec::<String>::new());
    assert_eq!(
        live.get("realmRoles"),
        Some(&json!(["aegis:operator", "team/ops:reader"]))
    );
    assert_eq!(kind.list(r, &[]).await.expect("list"), vec![sid.clone()]);

    // Behind the kind's back: one more realm role and one client role fewer.
    let worker = client_uuid(kc, r, "aegis-worker");
    let user = must(
        kc,
        "GET",
        &format!("/admin/realms/{r}/clients/{worker}/service-account-user"),
        None,
        200,
    );
    let maps = format!(
        "/admin/realms/{r}/users/{}/role-mappings",
        user["id"].as_str().expect("user id")
    );
    let auditor = realm_role(kc, r, "aegis:auditor");
    must(
        kc,
        "POST",
        &format!("{maps}/realm"),
        Some(json!([auditor])),
        204,
    );
    let api = client_uuid(kc, r, "aegis-api");
    must(kc, "DELETE", &format!("{maps}/clients/{api}"), None, 204);
    let live = read(&kind, &sid).await;
    let diff = differing(&kind, &res, &live);
    assert_eq!(diff.len(), 2, "{diff:?}");

    let changed = fields(&["realmRoles", "clientRoles"]);
    kind.update(&res, &changed, &live).await.expect("update");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &res, &live), Vec::<String>::new());

    // A client the file does not name is a difference too (clientRoles is an exact set).
    let only_realm = desired(
        sid.clone(),
        json!({"realmRoles": ["aegis:operator", "team/ops:reader"], "clientRoles": {}}),
    );
    assert_eq!(differing(&kind, &only_realm, &live).len(), 1);

    // Delete: every mapping but default-roles-{realm} goes (the declaration had removed that
    // one already; a delete does not give it back).
    kind.delete(&sid).await.expect("delete");
    let live = read(&kind, &sid).await;
    assert_eq!(live.get("realmRoles"), Some(&json!([])));
    assert_eq!(live.get("clientRoles"), Some(&json!({})));
    assert!(kind.list(r, &[]).await.expect("list").is_empty());
    kind.delete(&sid).await.expect("a second delete is quiet");

    // With default-roles-{realm} declared, it stays, and a delete keeps it.
    let keep = desired(
        sid.clone(),
        json!({"realmRoles": [default, "aegis:auditor"]}),
    );
    kind.update(&keep, &fields(&["realmRoles"]), &live)
        .await
        .expect("update");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &keep, &live), Vec::<String>::new());
    kind.delete(&sid).await.expect("delete");
    let live = read(&kind, &sid).await;
    assert_eq!(live.get("realmRoles"), Some(&json!([default])));

    // A client without a service account, and one that does not exist: absent, and a clear
    // refusal naming the client.
    for client in ["web", "no-such-client"] {
        let other = id(r, "service_account_roles", client);
        assert!(kind.read(&other).await.expect("read").is_none());
        let err = kind
            .create(&desired(other.clone(), json!({"realmRoles": []})))
            .await
            .expect_err("no service account");
        assert!(err.to_string().contains(client), "{err}");
        kind.delete(&other).await.expect("nothing to delete");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_nest_by_path_and_converge_attributes_and_roles() {
    let realm = realm_with_roles("kind-group");
    let (kc, r) = (realm.kc, realm.name.as_str());
    let kind = Group::new(context());
    let ops = id(r, "group", "/ops");
    let oncall = id(r, "group", "/ops/on call");
    assert!(kind.read(&oncall).await.expect("read").is_none());
    assert!(kind.list(r, &[]).await.expect("list").is_empty());

    // A subgroup before its parent: refused, naming the parent.
    let sub = desired(
        oncall.clone(),
        json!({"name": "on call", "attributes": {"pager": ["yes"]}, "realmRoles": [],
               "clientRoles": {"aegis-api": ["aegis:admin"]}}),
    );
    let err = kind.create(&sub).await.expect_err("no parent yet");
    assert!(err.to_string().contains("/ops"), "{err}");

    let top = desired(
        ops.clone(),
        json!({"name": "ops", "attributes": {"team": ["ops", "sre"]},
               "realmRoles": ["aegis:operator", "team/ops:reader"]}),
    );
    kind.create(&top).await.expect("create /ops");
    kind.create(&sub).await.expect("create /ops/on call");
    for res in [&top, &sub] {
        let live = read(&kind, &res.id).await;
        assert_eq!(differing(&kind, res, &live), Vec::<String>::new());
        for own in ["id", "path", "subGroups", "subGroupCount", "access"] {
            assert!(!live.contains_key(own), "{own}");
        }
    }

    // Behind the kind's back: other attributes and one more realm role on the subgroup.
    let found = must(
        kc,
        "GET",
        &format!("/admin/realms/{r}/group-by-path/ops/{}", enc("on call")),
        None,
        200,
    );
    let gid = found["id"].as_str().expect("group id");
    let body = json!({"name": "on call", "attributes": {"pager": ["no"]}});
    must(
        kc,
        "PUT",
        &format!("/admin/realms/{r}/groups/{gid}"),
        Some(body),
        204,
    );
    let auditor = realm_role(kc, r, "aegis:auditor");
    let maps = format!("/admin/realms/{r}/groups/{gid}/role-mappings/realm");
    must(kc, "POST", &maps, Some(json!([auditor])), 204);
    let live = read(&kind, &oncall).await;
    let diff = differing(&kind, &sub, &live);
    assert_eq!(diff.len(), 2, "{diff:?}");

    let changed = fields(&["attributes", "realmRoles"]);
    kind.update(&sub, &changed, &live).await.expect("update");
    let live = read(&kind, &oncall).await;
    assert_eq!(differing(&kind, &sub, &live), Vec::<String>::new());
    assert_eq!(live.get("attributes"), Some(&json!({"pager": ["yes"]})));
    assert_eq!(
        live.get("clientRoles"),
        Some(&json!({"aegis-api": ["aegis:admin"]}))
    );

    let listed: BTreeSet<ResourceId> = kind.list(r, &[]).await.expect("list").into_iter().collect();
    assert_eq!(listed, BTreeSet::from([ops.clone(), oncall.clone()]));

    kind.delete(&oncall).await.expect("delete the subgroup");
    assert!(kind.read(&oncall).await.expect("read").is_none());
    kind.delete(&oncall)
        .await
        .expect("a second delete is quiet");
    assert_eq!(kind.list(r, &[]).await.expect("list"), vec![ops.clone()]);
    kind.delete(&ops).await.expect("delete");
    assert!(kind.read(&ops).await.expect("read").is_none());
    kind.delete(&ops).await.expect("a second delete is quiet");
}

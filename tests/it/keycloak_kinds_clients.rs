//! The `client` and `protocol_mapper` kinds (src/backends/keycloak/kinds) against the real
//! Keycloak of keycloak.rs, each test in a realm of its own: a confidential client created with
//! a declared secret reads back with its declared fields and without the secret anywhere, the
//! secret works for a client-credentials grant, an update of `redirectUris` is seen and leaves
//! the client's mappers alone, built-in clients are never listed, and a mapper written with
//! booleans reads back equal to Keycloak's strings. Every error and Debug text is checked for
//! the secret canary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aegisctl::backends::keycloak::kinds::Keycloak as Kc;
use aegisctl::backends::keycloak::kinds::client::Client;
use aegisctl::backends::keycloak::kinds::protocol_mapper::ProtocolMapper;
use aegisctl::backends::{Kind, Live};
use aegisctl::model::{AttrValue, Backend, DesiredResource, ResourceId};
use aegisctl::plan::normalise::equal;
use serde_json::{Value, json};

use crate::http_wire::call;
use crate::keycloak::{Keycloak, keycloak};

const SECRET: &str = "kck2-client-secret-canary-5d1e";
const CLIENT: &str = "aegis-orchestrator";

fn context(kc: &Keycloak) -> Arc<Kc> {
    crate::keycloak_common::kinds(kc)
}

fn plain(attrs: Value) -> BTreeMap<String, AttrValue> {
    attrs
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), AttrValue::Plain(v.clone())))
        .collect()
}

fn client_res(realm: &str, attrs: Value, secret: Option<&str>) -> DesiredResource {
    let mut attrs = plain(attrs);
    if let Some(s) = secret {
        attrs.insert("secret".into(), AttrValue::secret_text(s.to_owned()));
    }
    let id = ResourceId::on(Backend::Keycloak, realm, "client", None, CLIENT);
    DesiredResource::new(id, attrs)
}

fn mapper_res(realm: &str, name: &str, attrs: Value) -> DesiredResource {
    let id = ResourceId::on(
        Backend::Keycloak,
        realm,
        "protocol_mapper",
        Some(CLIENT),
        name,
    );
    DesiredResource::new(id, plain(attrs))
}

/// Whether every declared field of `res` compares equal to `live`, as the differ compares.
fn same(kind: &dyn Kind, res: &DesiredResource, live: &Live) -> Result<(), String> {
    for (f, v) in &res.attrs {
        if kind.write_only(f, v) {
            continue;
        }
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

/// Every text of a live object (its Debug and its values) free of the canary.
fn assert_no_secret(live: &Live) {
    let debug = format!("{live:?} {live:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    let values: serde_json::Map<String, Value> =
        live.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let text = Value::Object(values).to_string();
    assert!(!text.contains(SECRET), "{text}");
}

/// A client-credentials token request; its status.
fn client_credentials(kc: &Keycloak, realm: &str, secret: &str) -> u16 {
    let url = format!(
        "{}/realms/{realm}/protocol/openid-connect/token",
        kc.base_url()
    );
    let body = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={secret}");
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    call("POST", &url, &headers, Some(&body), Duration::from_secs(30))
        .expect("the token endpoint answers")
        .status
}

fn role_mapper_attrs(claim: &str) -> Value {
    json!({
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-client-role-mapper",
        "config": {
            "claim.name": claim,
            "multivalued": true,
            "access.token.claim": true,
            "id.token.claim": true,
            "usermodel.clientRoleMapping.clientId": CLIENT,
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confidential_client_converges_without_its_secret_ever_being_read() {
    let kc = keycloak();
    let realm = kc.realm("kck-client");
    let ctx = context(kc);
    let kind = Client::new(ctx.clone());
    let mappers = ProtocolMapper::new(ctx.clone());
    let res = client_res(
        &realm.name,
        json!({
            "protocol": "openid-connect",
            "publicClient": false,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": true,
            "directAccessGrantsEnabled": false,
            "redirectUris": ["https://b.example/cb", "https://a.example/cb"],
        }),
        Some(SECRET),
    );
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.create(&res).await.expect("create the client");

    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    assert_no_secret(&live);
    same(&kind, &res, &live).expect("the declared fields read back");
    assert!(!live.contains_key("id") && !live.contains_key("protocolMappers"));
    // What stands for the secret is a digest under this run's key: equal to the declared
    // secret's digest, and to nothing else.
    let digest = live.get("secret").expect("the secret's digest");
    assert_eq!(&kind.normalise("secret", json!(SECRET)), digest);
    assert_ne!(&kind.normalise("secret", json!("another")), digest);
    assert!(!kind.write_only("secret", &AttrValue::secret_text(SECRET.into())));
    assert_eq!(client_credentials(kc, &realm.name, SECRET), 200);
    assert_eq!(client_credentials(kc, &realm.name, "wrong-secret"), 401);

    // A mapper of the client, to see that the client's update leaves it alone.
    let mapper = mapper_res(&realm.name, "aegis_role", role_mapper_attrs("aegis_role"));
    mappers.create(&mapper).await.expect("create a mapper");

    let changed_res = client_res(
        &realm.name,
        json!({
            "protocol": "openid-connect",
            "publicClient": false,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": true,
            "directAccessGrantsEnabled": false,
            "redirectUris": ["https://c.example/cb"],
        }),
        Some(SECRET),
    );
    let changed: BTreeSet<String> = ["redirectUris".to_owned()].into();
    kind.update(&changed_res, &changed, &live)
        .await
        .expect("update redirectUris");
    let after = kind.read(&res.id).await.expect("read").expect("it exists");
    assert_no_secret(&after);
    assert_eq!(
        after.get("redirectUris"),
        Some(&json!(["https://c.example/cb"]))
    );
    assert!(
        mappers.read(&mapper.id).await.expect("read").is_some(),
        "the client's update deleted its mapper"
    );
    assert_eq!(client_credentials(kc, &realm.name, SECRET), 200);

    // Built-in clients are never listed.
    let listed = kind.list(&realm.name, &[&res]).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, [CLIENT], "{listed:?}");

    // A duplicate create fails naming the request, never the secret.
    let again = kind.create(&res).await.expect_err("a second create");
    let text = format!("{again} {again:?}");
    assert_eq!(again.status(), Some(409), "{text}");
    assert!(!text.contains(SECRET), "{text}");

    // A client's scope lists change through their own endpoints (a PUT ignores them): the
    // declared set is linked, the rest unlinked, and the read-back says so.
    let mut scoped = changed_res.clone();
    scoped.attrs.insert(
        "defaultClientScopes".into(),
        AttrValue::Plain(json!(["profile", "roles"])),
    );
    let scopes: BTreeSet<String> = ["defaultClientScopes".to_owned()].into();
    kind.update(&scoped, &scopes, &after)
        .await
        .expect("the scope links converge");
    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &scoped, &live).expect("the declared default scopes, and no others");

    kind.delete(&res.id).await.expect("delete");
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.delete(&res.id)
        .await
        .expect("a second delete is quiet");
    let text = format!("{res:?} {ctx:?}", ctx = ctx.client);
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protocol_mapper_written_with_booleans_reads_back_equal() {
    let kc = keycloak();
    let realm = kc.realm("kck-mapper");
    let ctx = context(kc);
    let clients = Client::new(ctx.clone());
    let kind = ProtocolMapper::new(ctx.clone());
    let client = client_res(
        &realm.name,
        json!({"protocol": "openid-connect", "publicClient": false,
               "serviceAccountsEnabled": false}),
        Some(SECRET),
    );
    let res = mapper_res(&realm.name, "aegis_role", role_mapper_attrs("aegis_role"));

    // No client yet: a clear refusal, and nothing to read or list.
    let err = kind.create(&res).await.expect_err("no client");
    assert!(err.to_string().contains(CLIENT), "{err}");
    assert!(kind.read(&res.id).await.expect("read").is_none());

    clients.create(&client).await.expect("create the client");
    kind.create(&res).await.expect("create the mapper");
    let live = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &res, &live).expect("read back equal");
    assert_eq!(live.pointer_config("multivalued"), Some("true"));
    assert!(!live.contains_key("id"));
    assert_eq!(kind.container(&res.id), Some(client.id.clone()));

    let updated = mapper_res(&realm.name, "aegis_role", role_mapper_attrs("aegis_roles"));
    let changed: BTreeSet<String> = ["config".to_owned()].into();
    kind.update(&updated, &changed, &live)
        .await
        .expect("update");
    let after = kind.read(&res.id).await.expect("read").expect("it exists");
    same(&kind, &updated, &after).expect("the update is read back");
    assert!(same(&kind, &res, &after).is_err(), "the old claim is gone");

    let listed = kind.list(&realm.name, &[&client]).await.expect("list");
    assert_eq!(listed, std::slice::from_ref(&res.id));

    kind.delete(&res.id).await.expect("delete");
    assert!(kind.read(&res.id).await.expect("read").is_none());
    kind.delete(&res.id)
        .await
        .expect("a second delete is quiet");
    assert!(
        kind.list(&realm.name, &[&client])
            .await
            .expect("list")
            .is_empty()
    );
    let text = format!("{err:?} {live:?} {after:?}");
    assert!(!text.contains(SECRET), "{text}");
}

/// A config value of a mapper as read.
trait ConfigValue {
    fn pointer_config(&self, key: &str) -> Option<&str>;
}

impl ConfigValue for Live {
    fn pointer_config(&self, key: &str) -> Option<&str> {
        self.get("config")?.get(key)?.as_str()
    }
}

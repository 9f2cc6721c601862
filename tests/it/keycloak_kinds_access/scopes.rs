//! The `client_scope` kind (see the parent module): a scope owns its protocol mappers, so an
//! edit of one of them behind the kind's back is a difference of the scope, and Keycloak's own
//! scopes are never listed nor deleted.

use aegisctl::backends::Kind;
use aegisctl::backends::keycloak::kinds::client_scope::ClientScope;
use aegisctl::model::AttrValue;
use serde_json::json;

use super::{context, desired, differing, fields, id, must, read};
use crate::keycloak::keycloak;

#[tokio::test(flavor = "multi_thread")]
async fn client_scopes_converge_with_their_mappers_and_builtins_stay() {
    let realm = keycloak().realm("kind-scope");
    let (kc, r) = (realm.kc, realm.name.as_str());
    let kind = ClientScope::new(context());
    // A fresh realm's scopes are all Keycloak's: none listed.
    assert_eq!(kind.list(r, &[]).await.expect("list"), Vec::new());

    let sid = id(r, "client_scope", "aegis:audit");
    assert!(kind.read(&sid).await.expect("read").is_none());
    let audience = json!({"name": "aegis audience", "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.client.audience": "aegis-api", "access.token.claim": true,
                   "id.token.claim": false}});
    let team = json!({"name": "team", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "team", "claim.value": "ops", "jsonType.label": "String",
                   "access.token.claim": "true"}});
    let mut res = desired(
        sid.clone(),
        json!({"name": "aegis:audit", "description": "who did what",
               "protocol": "openid-connect",
               "attributes": {"include.in.token.scope": "true"},
               "protocolMappers": [team, audience]}),
    );
    kind.create(&res).await.expect("create");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &res, &live), Vec::<String>::new());
    assert!(!live.contains_key("id"));
    let mappers = live.get("protocolMappers").cloned().unwrap_or_default();
    assert_eq!(mappers.as_array().map(Vec::len), Some(2), "{mappers}");
    assert!(mappers.to_string().find("\"id\"").is_none(), "{mappers}");

    // Behind the kind's back: a mapper deleted, a stray one added, the description changed.
    let all = must(
        kc,
        "GET",
        &format!("/admin/realms/{r}/client-scopes"),
        None,
        200,
    );
    let scope = all
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "aegis:audit"))
        .expect("the scope is listed");
    let scope_id = scope["id"].as_str().expect("scope id");
    let models = format!("/admin/realms/{r}/client-scopes/{scope_id}/protocol-mappers/models");
    let team_id = scope["protocolMappers"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["name"] == "team"))
        .and_then(|m| m["id"].as_str())
        .expect("team mapper");
    must(kc, "DELETE", &format!("{models}/{team_id}"), None, 204);
    let stray = json!({"name": "stray", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "stray", "claim.value": "x"}});
    must(kc, "POST", &models, Some(stray), 201);
    let body = json!({"name": "aegis:audit", "description": "edited"});
    let at = format!("/admin/realms/{r}/client-scopes/{scope_id}");
    must(kc, "PUT", &at, Some(body), 204);
    let live = read(&kind, &sid).await;
    let diff = differing(&kind, &res, &live);
    assert_eq!(diff.len(), 2, "{diff:?}");

    let changed = fields(&["description", "protocolMappers"]);
    kind.update(&res, &changed, &live).await.expect("update");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &res, &live), Vec::<String>::new());

    // A changed mapper config is rewritten in place.
    let team2 = json!({"name": "team", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "team", "claim.value": "sre", "jsonType.label": "String",
                   "access.token.claim": true}});
    let audience = res.attrs["protocolMappers"].to_wire()[1].clone();
    res.attrs.insert(
        "protocolMappers".into(),
        AttrValue::Plain(json!([audience, team2])),
    );
    assert_eq!(differing(&kind, &res, &live).len(), 1);
    kind.update(&res, &fields(&["protocolMappers"]), &live)
        .await
        .expect("update the mapper");
    let live = read(&kind, &sid).await;
    assert_eq!(differing(&kind, &res, &live), Vec::<String>::new());

    assert_eq!(kind.list(r, &[]).await.expect("list"), vec![sid.clone()]);

    // Keycloak's own scopes are never deleted.
    let err = kind
        .delete(&id(r, "client_scope", "profile"))
        .await
        .expect_err("a built-in scope");
    assert!(err.to_string().contains("profile"), "{err}");
    assert!(
        kind.read(&id(r, "client_scope", "profile"))
            .await
            .expect("read")
            .is_some()
    );

    kind.delete(&sid).await.expect("delete");
    assert!(kind.read(&sid).await.expect("read").is_none());
    kind.delete(&sid).await.expect("a second delete is quiet");
    assert!(kind.list(r, &[]).await.expect("list").is_empty());
}

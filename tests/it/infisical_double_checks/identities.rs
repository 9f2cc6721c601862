//! The double's identities, Universal Auth configs and client secrets against contract §4–§6.

use serde_json::{Value, json};

use super::*;
use crate::infisical_double::{Config, Infisical};

#[test]
fn identity_names_are_not_unique_and_get_shape() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let body = json!({"name": "dup", "organizationId": d.org_id(), "unknownKey": 1});
        let a = api
            .ok("POST", "/api/v1/identities", Some(body.clone()))
            .await;
        let b = api.ok("POST", "/api/v1/identities", Some(body)).await;
        assert_ne!(a["identity"]["id"], b["identity"]["id"]);
        assert_eq!(a["identity"]["authMethods"], json!([]));
        assert_eq!(a["identity"]["hasDeleteProtection"], false);
        assert!(a["identity"].get("unknownKey").is_none());
        let list = api
            .ok(
                "GET",
                &format!("/api/v1/identities?orgId={}", d.org_id()),
                None,
            )
            .await;
        let dups: Vec<&Value> = list["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["identity"]["name"] == "dup")
            .collect();
        assert_eq!(dups.len(), 2);
        assert_eq!(list["totalCount"], 3);
        let id = a["identity"]["id"].as_str().unwrap();
        let got = api
            .ok("GET", &format!("/api/v1/identities/{id}"), None)
            .await;
        let g = &got["identity"];
        assert_ne!(
            g["id"], g["identityId"],
            "the outer id is the membership id"
        );
        assert_eq!(g["identityId"], id);
        assert_eq!(g["identity"]["id"], id);
        assert_eq!(g["role"], "no-access");
        // Another org's id in the list query is refused.
        let (other, _, _) = d.other_org();
        assert_eq!(
            api.get(&format!("/api/v1/identities?orgId={other}"))
                .await
                .0,
            403
        );
    });
}

#[test]
fn identity_update_quirk_and_delete_protection() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let v = api
            .ok(
                "POST",
                "/api/v1/identities",
                Some(
                    json!({"name": "p", "organizationId": d.org_id(), "hasDeleteProtection": true}),
                ),
            )
            .await;
        let path = format!(
            "/api/v1/identities/{}",
            v["identity"]["id"].as_str().unwrap()
        );
        is_err(
            &api.delete(&path).await,
            400,
            "BadRequest",
            "Identity has delete protection",
        );
        // `false` alone is not written (upstream quirk).
        let u = api
            .ok("PATCH", &path, Some(json!({"hasDeleteProtection": false})))
            .await;
        assert_eq!(u["identity"]["hasDeleteProtection"], true);
        let u = api
            .ok(
                "PATCH",
                &path,
                Some(json!({"name": "p", "hasDeleteProtection": false})),
            )
            .await;
        assert_eq!(u["identity"]["hasDeleteProtection"], false);
        api.ok("DELETE", &path, None).await;
        let id = v["identity"]["id"].as_str().unwrap();
        is_err(
            &api.delete(&path).await,
            404,
            "NotFound",
            &format!("Failed to find identity with id {id}"),
        );
    });
}

#[test]
fn ua_attach_twice_absent_and_auth_methods() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let v = api
            .ok(
                "POST",
                "/api/v1/identities",
                Some(json!({"name": "u", "organizationId": d.org_id()})),
            )
            .await;
        let id = v["identity"]["id"].as_str().unwrap();
        let ua = format!("/api/v1/auth/universal-auth/identities/{id}");
        is_err(
            &api.get(&ua).await,
            404,
            "NotFound",
            &format!("Failed to find universal auth for identity with ID {id}"),
        );
        is_err(
            &api.patch(&ua, json!({})).await,
            404,
            "NotFound",
            &format!("Failed to find universal auth for identity with ID {id}"),
        );
        is_err(
            &api.delete(&ua).await,
            400,
            "BadRequest",
            "The identity does not have universal auth",
        );
        is_err(
            &api.post(&format!("{ua}/client-secrets"), json!({})).await,
            400,
            "BadRequest",
            "The identity does not have universal auth",
        );
        is_err(
            &api.post(&ua, json!({"accessTokenTTL": 100, "accessTokenMaxTTL": 10}))
                .await,
            400,
            "BadRequest",
            "Access token TTL cannot be greater than max TTL",
        );
        let first = api.ok("POST", &ua, Some(json!({}))).await;
        is_err(
            &api.post(&ua, json!({})).await,
            400,
            "BadRequest",
            "Failed to add universal auth to already configured identity",
        );
        let again = api.ok("GET", &ua, None).await;
        assert_eq!(
            first["identityUniversalAuth"]["clientId"],
            again["identityUniversalAuth"]["clientId"]
        );
        let got = api
            .ok("GET", &format!("/api/v1/identities/{id}"), None)
            .await;
        assert_eq!(
            got["identity"]["identity"]["authMethods"],
            json!(["universal-auth"])
        );
    });
}

#[test]
fn trusted_ips_normalised_and_licence_refusal() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let v = api
            .ok(
                "POST",
                "/api/v1/identities",
                Some(json!({"name": "ip", "organizationId": d.org_id()})),
            )
            .await;
        let id = v["identity"]["id"].as_str().unwrap();
        let ua = format!("/api/v1/auth/universal-auth/identities/{id}");
        let plan = "Failed to add IP access range to service token due to plan restriction. Upgrade plan to add IP access range.";
        let narrow = json!({"clientSecretTrustedIps": [{"ipAddress": "10.0.8.0/24"}]});
        is_err(
            &api.post(&ua, narrow.clone()).await,
            400,
            "BadRequest",
            plan,
        );
        let open = api.ok("POST", &ua, Some(json!({}))).await;
        assert_eq!(
            open["identityUniversalAuth"]["clientSecretTrustedIps"],
            json!([{"type": "ipv4", "ipAddress": "0.0.0.0", "prefix": 0}, {"type": "ipv6", "ipAddress": "::", "prefix": 0}])
        );
        is_err(
            &api.patch(&ua, narrow.clone()).await,
            400,
            "BadRequest",
            plan,
        );
        d.set_ip_allowlisting(true);
        is_err(
            &api.patch(
                &ua,
                json!({"clientSecretTrustedIps": [{"ipAddress": "10.0.8.0/33"}]}),
            )
            .await,
            400,
            "BadRequest",
            "The IP is not a valid IPv4, IPv6, or CIDR block",
        );
        let body = json!({"clientSecretTrustedIps": [{"ipAddress": "10.0.8.0/24"}, {"ipAddress": "192.168.1.7"}, {"ipAddress": "2001:db8::/32"}]});
        let v = api.ok("PATCH", &ua, Some(body)).await;
        assert_eq!(
            v["identityUniversalAuth"]["clientSecretTrustedIps"],
            json!([
                {"type": "ipv4", "ipAddress": "10.0.8.0", "prefix": 24},
                {"type": "ipv4", "ipAddress": "192.168.1.7"},
                {"type": "ipv6", "ipAddress": "2001:db8::", "prefix": 32}
            ])
        );
        // The double's caller is 127.0.0.1: outside those ranges.
        let s = new_secret(&api, id, json!({})).await;
        let cid = v["identityUniversalAuth"]["clientId"].as_str().unwrap();
        let got = login(&d, cid, s["clientSecret"].as_str().unwrap()).await;
        assert_eq!(got.0, 403, "{}", got.1);
        assert_eq!(got.1["error"], "ForbiddenError");
    });
}

#[test]
fn client_secret_list_leaves_out_revoked_and_revoke_is_idempotent() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (id, _) = identity_with_ua(&api, &d, "cs").await;
        let a = new_secret(&api, &id, json!({})).await;
        new_secret(&api, &id, json!({"ttl": 60})).await;
        let base = format!("/api/v1/auth/universal-auth/identities/{id}/client-secrets");
        let sid = a["clientSecretData"]["id"].as_str().unwrap();
        for _ in 0..2 {
            let v = api.ok("POST", &format!("{base}/{sid}/revoke"), None).await;
            assert_eq!(v["clientSecretData"]["isClientSecretRevoked"], true);
        }
        let list = api.ok("GET", &base, None).await;
        let items = list["clientSecretData"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_ne!(items[0]["id"], sid);
        assert!(items.iter().all(|i| i.get("clientSecret").is_none()));
        assert_eq!(api.get(&format!("{base}/{}", uuid_like())).await.0, 404);
    });
}

#[test]
fn other_org_identity_is_not_found() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (other_org, cid, secret) = d.other_org();
        let (_, tok) = login(&d, &cid, &secret).await;
        let other = Api::new(&d, Some(tok["accessToken"].as_str().unwrap().into()));
        let v = other
            .ok(
                "POST",
                "/api/v1/identities",
                Some(json!({"name": "theirs", "organizationId": other_org})),
            )
            .await;
        let id = v["identity"]["id"].as_str().unwrap();
        let msg = format!("Failed to find identity with id {id}");
        is_err(
            &api.get(&format!("/api/v1/identities/{id}")).await,
            404,
            "NotFound",
            &msg,
        );
        is_err(
            &api.delete(&format!("/api/v1/identities/{id}")).await,
            404,
            "NotFound",
            &msg,
        );
        assert_eq!(
            api.get(&format!("/api/v1/auth/universal-auth/identities/{id}"))
                .await
                .0,
            404
        );
    });
}

#[test]
fn non_admin_identities_cannot_manage() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (id, cid) = identity_with_ua(&api, &d, "member").await;
        let s = new_secret(&api, &id, json!({})).await;
        let (_, t) = login(&d, &cid, s["clientSecret"].as_str().unwrap()).await;
        let member = Api::new(&d, Some(t["accessToken"].as_str().unwrap().into()));
        is_err(
            &member
                .post(
                    "/api/v1/identities",
                    json!({"name": "x", "organizationId": d.org_id()}),
                )
                .await,
            403,
            "PermissionDenied",
            "You are not allowed to create on Identity",
        );
        let (s, v) = member
            .post(
                "/api/v1/projects",
                json!({"projectName": "x", "slug": "xx-xx"}),
            )
            .await;
        assert_eq!((s, &v["error"]), (403, &json!("PermissionDenied")));
        assert_eq!(
            member.ok("GET", "/api/v1/projects", None).await,
            json!({"projects": []})
        );
    });
}

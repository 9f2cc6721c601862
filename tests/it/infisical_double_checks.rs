//! Checks of the Infisical test double (`tests/doubles/infisical`) against the contract
//! (`/work/shared/contracts/infisical-api.md`), through real HTTP: if the double drifts from the
//! contract, the tests built on it prove nothing.

use serde_json::{Value, json};

use super::infisical_double::{Config, Infisical};

fn run<F: std::future::Future<Output = ()>>(f: F) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(f);
}

/// A client of the double with an optional bearer token.
struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    fn new(d: &Infisical, token: Option<String>) -> Api {
        Api {
            base: d.url(),
            http: reqwest::Client::builder().build().unwrap(),
            token,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// 200 or panic with the body.
    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert_eq!(s, 200, "{method} {path}: {v}");
        v
    }
}

async fn login(d: &Infisical, id: &str, secret: &str) -> (u16, Value) {
    Api::new(d, None)
        .post(
            "/api/v1/auth/universal-auth/login",
            json!({"clientId": id, "clientSecret": secret}),
        )
        .await
}

async fn admin(d: &Infisical) -> Api {
    let (id, secret) = d.admin();
    let (s, v) = login(d, &id, &secret).await;
    assert_eq!(s, 200, "{v}");
    Api::new(d, Some(v["accessToken"].as_str().unwrap().to_owned()))
}

/// Asserts a handled error: status, `error`, `message` and a `reqId`.
fn is_err(got: &(u16, Value), status: u16, error: &str, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
    assert_eq!(got.1["message"], message, "{}", got.1);
    assert_eq!(got.1["statusCode"], status);
    assert!(got.1["reqId"].as_str().unwrap().starts_with("req-"));
}

/// Creates an identity with UA attached; returns (identity id, client id).
async fn identity_with_ua(api: &Api, d: &Infisical, name: &str) -> (String, String) {
    let v = api
        .ok(
            "POST",
            "/api/v1/identities",
            Some(json!({"name": name, "organizationId": d.org_id(), "role": "member"})),
        )
        .await;
    let id = v["identity"]["id"].as_str().unwrap().to_owned();
    let ua = api
        .ok(
            "POST",
            &format!("/api/v1/auth/universal-auth/identities/{id}"),
            Some(json!({})),
        )
        .await;
    (
        id,
        ua["identityUniversalAuth"]["clientId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn new_secret(api: &Api, id: &str, body: Value) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/auth/universal-auth/identities/{id}/client-secrets"),
        Some(body),
    )
    .await
}

#[test]
fn login_use_limit_and_revoked_secret() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (id, client_id) = identity_with_ua(&api, &d, "svc").await;
        let once = new_secret(&api, &id, json!({"numUsesLimit": 1, "description": "x"})).await;
        let plain = once["clientSecret"].as_str().unwrap();
        assert_eq!(plain.len(), 64);
        assert_eq!(once["clientSecretData"]["clientSecretPrefix"], plain[..4]);
        let (s, v) = login(&d, &client_id, plain).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["expiresIn"], 2_592_000);
        assert_eq!(v["accessTokenMaxTTL"], 2_592_000);
        assert_eq!(v["tokenType"], "Bearer");
        is_err(
            &login(&d, &client_id, plain).await,
            401,
            "UnauthorizedError",
            "Access denied due to client secret usage limit reached",
        );
        let sid = once["clientSecretData"]["id"].as_str().unwrap();
        let got = api
            .ok(
                "GET",
                &format!("/api/v1/auth/universal-auth/identities/{id}/client-secrets/{sid}"),
                None,
            )
            .await;
        assert_eq!(got["clientSecretData"]["isClientSecretRevoked"], true);
        assert_eq!(got["clientSecretData"]["clientSecretNumUses"], 1);
        assert!(got["clientSecretData"].get("clientSecret").is_none());
        // Now revoked: plain bad credentials.
        is_err(
            &login(&d, &client_id, plain).await,
            401,
            "UnauthorizedError",
            "Invalid credentials",
        );
        is_err(
            &login(&d, "no-such-client", plain).await,
            401,
            "UnauthorizedError",
            "Invalid credentials",
        );
    });
}

#[test]
fn lockout_after_three_failures_and_clear() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (id, client_id) = identity_with_ua(&api, &d, "svc").await;
        let good = new_secret(&api, &id, json!({})).await;
        for _ in 0..3 {
            is_err(
                &login(&d, &client_id, "wrong").await,
                401,
                "UnauthorizedError",
                "Invalid credentials",
            );
        }
        let locked = "This identity auth method is temporarily locked, please try again later";
        let plain = good["clientSecret"].as_str().unwrap();
        is_err(
            &login(&d, &client_id, plain).await,
            401,
            "UnauthorizedError",
            locked,
        );
        let v = api
            .ok(
                "POST",
                &format!("/api/v1/auth/universal-auth/identities/{id}/clear-lockouts"),
                None,
            )
            .await;
        assert_eq!(v, json!({"deleted": 1}));
        assert_eq!(login(&d, &client_id, plain).await.0, 200);
    });
}

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

fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

#[test]
fn validation_token_and_route_errors() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (s, v) = api
            .post("/api/v1/identities", json!({"organizationId": 5}))
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"], "ValidationFailure");
        let issues = v["message"].as_array().unwrap();
        assert!(issues.contains(&json!({"code": "invalid_type", "expected": "string", "received": "undefined", "path": ["name"], "message": "Required"})));
        assert!(issues.iter().any(|i| i["path"] == json!(["organizationId"])
            && i["message"] == "Expected string, received number"));
        is_err(
            &Api::new(&d, None).get("/api/v1/projects").await,
            401,
            "UnauthorizedError",
            "Token missing",
        );
        is_err(
            &Api::new(&d, Some("nope".into()))
                .get("/api/v1/projects")
                .await,
            403,
            "TokenError",
            "invalid token",
        );
        let (s, v) = api.get("/api/v1/x").await;
        assert_eq!(s, 404);
        assert_eq!(
            v,
            json!({"message": "Route GET:/api/v1/x not found", "error": "Not Found", "statusCode": 404})
        );
        let (s, v) = Api::new(&d, None)
            .post("/api/v1/auth/universal-auth/login", json!({}))
            .await;
        assert_eq!((s, v["message"].as_array().map(Vec::len)), (422, Some(2)));
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

async fn project(api: &Api, slug: &str, default_envs: bool) -> Value {
    let body = json!({"projectName": slug, "slug": slug, "shouldCreateDefaultEnvs": default_envs, "organizationSlug": "ignored"});
    api.ok("POST", "/api/v1/projects", Some(body)).await["project"].clone()
}

#[test]
fn project_slug_rules_duplicates_and_shapes() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let p = project(&api, "apps-one", true).await;
        assert_eq!(p["_id"], p["id"]);
        let slugs: Vec<&str> = p["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["slug"].as_str().unwrap())
            .collect();
        assert_eq!(slugs, ["dev", "staging", "prod"]);
        assert_eq!(
            project(&api, "apps-two", false).await["environments"],
            json!([])
        );
        is_err(
            &api.post(
                "/api/v1/projects",
                json!({"projectName": "x", "slug": "apps-one"}),
            )
            .await,
            400,
            "BadRequest",
            "A project with the slug \"apps-one\" already exists in your organization. Please choose a different name or slug.",
        );
        for bad in [
            "abc",
            "Apps-One",
            "apps--one",
            "apps-one-",
            "a-very-long-slug-that-is-over-36-chars",
        ] {
            let (s, v) = api
                .post("/api/v1/projects", json!({"projectName": "x", "slug": bad}))
                .await;
            assert_eq!(s, 422, "{bad}: {v}");
            assert!(v["message"].is_array());
        }
        let id = p["id"].as_str().unwrap();
        let bare = api.ok("GET", "/api/v1/projects/slug/apps-one", None).await;
        assert_eq!(bare["id"], id, "get by slug answers the bare object");
        assert_eq!(
            api.ok("GET", &format!("/api/v1/projects/{id}"), None).await["project"]["id"],
            id
        );
        assert_eq!(
            api.ok("GET", "/api/v2/workspace/apps-one", None).await["id"],
            id
        );
        assert_eq!(
            api.ok("GET", &format!("/api/v1/workspace/{id}"), None)
                .await["workspace"]["id"],
            id
        );
        is_err(
            &api.get("/api/v1/projects/slug/nope-nope").await,
            404,
            "NotFound",
            "Project with slug 'nope-nope' not found",
        );
        api.ok(
            "PATCH",
            &format!("/api/v1/projects/{id}"),
            Some(json!({"hasDeleteProtection": true})),
        )
        .await;
        is_err(
            &api.delete(&format!("/api/v1/projects/{id}")).await,
            403,
            "ForbiddenError",
            "Project delete protection is enabled",
        );
        api.ok(
            "PATCH",
            &format!("/api/v1/projects/{id}"),
            Some(json!({"hasDeleteProtection": false})),
        )
        .await;
        assert_eq!(
            api.ok("DELETE", &format!("/api/v1/projects/{id}"), None)
                .await["project"]["id"],
            id
        );
        is_err(
            &api.get(&format!("/api/v1/projects/{id}")).await,
            404,
            "NotFound",
            &format!("Project with ID '{id}' not found"),
        );
    });
}

#[test]
fn creator_becomes_admin_member_and_lists_are_filtered() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let p = project(&api, "mine-1", false).await;
        let pid = p["id"].as_str().unwrap();
        let me = api.ok("GET", "/api/v1/identities/details", None).await;
        assert_eq!(me["identityDetails"]["organization"]["id"], d.org_id());
        let list = api
            .ok(
                "GET",
                &format!("/api/v1/projects/{pid}/memberships/identities"),
                None,
            )
            .await;
        assert_eq!(list["totalCount"], 1);
        let mine = &list["identityMemberships"][0];
        assert_eq!(mine["roles"][0]["role"], "admin");
        let my_id = mine["identityId"].as_str().unwrap().to_owned();
        is_err(
            &api.post(
                &format!("/api/v1/projects/{pid}/memberships/identities/{my_id}"),
                json!({"roles": [{"role": "admin", "isTemporary": false}]}),
            )
            .await,
            400,
            "BadRequest",
            "Identity is already a member",
        );
        is_err(
            &api.delete(&format!(
                "/api/v1/projects/{pid}/memberships/identities/{my_id}"
            ))
            .await,
            400,
            "BadRequest",
            "You can't delete your own membership",
        );
        // A second admin in the same org makes a project: not in the first one's list.
        let (id2, cid2) = identity_with_ua(&api, &d, "admin2").await;
        api.ok(
            "PATCH",
            &format!("/api/v1/identities/{id2}"),
            Some(json!({"role": "admin"})),
        )
        .await;
        let s2 = new_secret(&api, &id2, json!({})).await;
        let (_, t2) = login(&d, &cid2, s2["clientSecret"].as_str().unwrap()).await;
        let api2 = Api::new(&d, Some(t2["accessToken"].as_str().unwrap().into()));
        let theirs = project(&api2, "theirs-1", false).await;
        let tid = theirs["id"].as_str().unwrap();
        let (oorg, ocid, osecret) = d.other_org();
        let (_, ot) = login(&d, &ocid, &osecret).await;
        let other = Api::new(&d, Some(ot["accessToken"].as_str().unwrap().into()));
        let elsewhere = project(&other, "mine-1", false).await;
        assert_eq!(
            elsewhere["orgId"],
            oorg.as_str(),
            "the same slug in another org is fine"
        );
        let listed = api.ok("GET", "/api/v1/projects", None).await;
        let ids: Vec<&Value> = listed["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["id"])
            .collect();
        assert_eq!(ids, [&p["id"]]);
        is_err(
            &api.get(&format!("/api/v1/projects/{tid}")).await,
            404,
            "NotFound",
            &format!("Project with ID '{tid}' not found"),
        );
        let eid = elsewhere["id"].as_str().unwrap();
        is_err(
            &api.get(&format!("/api/v1/projects/{eid}")).await,
            404,
            "NotFound",
            &format!("Project with ID '{eid}' not found"),
        );
        // Memberships: viewer added, read, updated, removed; then absent.
        let m = format!("/api/v1/projects/{pid}/memberships/identities/{id2}");
        is_err(
            &api.get(&m).await,
            404,
            "NotFound",
            "Identity membership not found",
        );
        is_err(
            &api.patch(&m, json!({"roles": [{"role": "viewer"}]})).await,
            400,
            "BadRequest",
            "Identity doesn't have membership",
        );
        is_err(
            &api.post(&m, json!({"roles": [{"role": "viewer", "isTemporary": true, "temporaryMode": "relative", "temporaryRange": "1h", "temporaryAccessStartTime": "2026-01-01T00:00:00.000Z"}]})).await,
            400,
            "BadRequest",
            "Identity must have at least one permanent role",
        );
        assert!(
            api.post(&m, json!({"roles": [{"role": "developer"}]}))
                .await
                .1["message"]
                .as_str()
                .unwrap()
                .contains("plan RBAC restriction")
        );
        let c = api
            .ok(
                "POST",
                &m,
                Some(json!({"roles": [{"role": "viewer", "isTemporary": false}]})),
            )
            .await;
        assert_eq!(c["identityMembership"]["identityId"], id2);
        assert_eq!(
            api.ok("GET", &m, None).await["identityMembership"]["roles"][0]["role"],
            "viewer"
        );
        let old = format!("/api/v2/workspace/{pid}/identity-memberships/{id2}");
        let u = api
            .ok(
                "PATCH",
                &old,
                Some(json!({"roles": [{"role": "member", "isTemporary": false}]})),
            )
            .await;
        assert_eq!(u["roles"][0]["role"], "member");
        api.ok("DELETE", &m, None).await;
        is_err(
            &api.delete(&m).await,
            400,
            "BadRequest",
            "Identity doesn't have membership",
        );
        let foreign = elsewhere["orgId"].as_str().unwrap();
        assert_ne!(foreign, d.org_id());
    });
}

#[test]
fn environments_slug_duplicates_and_positions() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let p = project(&api, "envs-1", true).await;
        let pid = p["id"].as_str().unwrap();
        let base = format!("/api/v1/projects/{pid}/environments");
        let qa = api
            .ok(
                "POST",
                &base,
                Some(json!({"name": "QA", "slug": "qa", "position": 2})),
            )
            .await;
        assert_eq!(qa["message"], "Successfully created new environment");
        assert_eq!(qa["projectId"], pid);
        assert_eq!(qa["environment"]["position"], 2);
        let pos = |slug: &'static str| {
            let api = &api;
            let base = base.clone();
            async move {
                api.ok("GET", &format!("{base}/slug/{slug}"), None).await["environment"]["position"]
                    .clone()
            }
        };
        assert_eq!(
            (pos("dev").await, pos("staging").await, pos("prod").await),
            (json!(1), json!(3), json!(4))
        );
        let (s, v) = api
            .post(&base, json!({"name": "Dev again", "slug": "dev"}))
            .await;
        assert_eq!(
            (s, &v["error"], &v["message"]),
            (
                400,
                &json!("CreateEnvironment"),
                &json!("Environment with slug already exist")
            )
        );
        let prod = api
            .ok("GET", &format!("/api/v1/projects/{pid}"), None)
            .await["project"]["environments"][3]
            .clone();
        assert_eq!(prod["slug"], "prod");
        let prod_id = prod["id"].as_str().unwrap();
        api.ok(
            "PATCH",
            &format!("{base}/{prod_id}"),
            Some(json!({"position": 1})),
        )
        .await;
        assert_eq!(
            (
                pos("prod").await,
                pos("dev").await,
                pos("qa").await,
                pos("staging").await
            ),
            (json!(1), json!(2), json!(3), json!(4))
        );
        let (s, v) = api
            .patch(&format!("{base}/{prod_id}"), json!({"slug": "qa"}))
            .await;
        assert_eq!((s, &v["error"]), (400, &json!("UpdateEnvironment")));
        let qa_id = qa["environment"]["id"].as_str().unwrap();
        api.ok("DELETE", &format!("{base}/{qa_id}?hardDelete=true"), None)
            .await;
        assert_eq!(
            (pos("dev").await, pos("staging").await),
            (json!(2), json!(4)),
            "delete does not renumber"
        );
        let order: Vec<Value> = api
            .ok("GET", &format!("/api/v1/projects/{pid}"), None)
            .await["project"]["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["slug"].clone())
            .collect();
        assert_eq!(order, [json!("prod"), json!("dev"), json!("staging")]);
        is_err(
            &api.delete(&format!("{base}/{qa_id}")).await,
            404,
            "NotFound",
            &format!("Environment with id '{qa_id}' in project with ID '{pid}' not found"),
        );
        // A soft delete hides the environment but keeps its slug taken (the double's choice).
        let stg = api.ok("GET", &format!("{base}/slug/staging"), None).await["environment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.ok("DELETE", &format!("{base}/{stg}"), None).await;
        assert_eq!(api.get(&format!("{base}/slug/staging")).await.0, 404);
        let (s, _) = api
            .post(&base, json!({"name": "S", "slug": "staging"}))
            .await;
        assert_eq!(s, 400, "a soft-deleted slug stays reserved");
        api.ok("POST", &format!("{base}/{stg}/restore"), None).await;
        assert_eq!(pos("staging").await, json!(4));
        let ws = api
            .ok(
                "POST",
                &format!("/api/v1/workspace/{pid}/environments"),
                Some(json!({"name": "W", "slug": "w"})),
            )
            .await;
        assert_eq!(ws["workspace"], pid);
        assert!(ws.get("projectId").is_none());
    });
}

#[test]
fn folders_and_secrets() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let pid = project(&api, "sec-1", true).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let f = api
            .ok(
                "POST",
                "/api/v2/folders",
                Some(json!({"projectId": pid, "environment": "dev", "name": "c", "path": "/a/b"})),
            )
            .await;
        assert_eq!(f["folder"]["name"], "c");
        is_err(
            &api.post(
                "/api/v2/folders",
                json!({"projectId": pid, "environment": "dev", "name": "c", "path": "/a/b"}),
            )
            .await,
            400,
            "BadRequest",
            "Folder with name 'c' already exists in path '/a/b'",
        );
        let list = api
            .ok(
                "GET",
                &format!("/api/v2/folders?projectId={pid}&environment=dev&path=/a"),
                None,
            )
            .await;
        assert_eq!(list["folders"][0]["name"], "b");
        let got = api
            .ok(
                "GET",
                &format!("/api/v2/folders/{}", f["folder"]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(got["folder"]["path"], "/a/b/c");
        let s = "/api/v3/secrets/raw/DB_PASS";
        let body = json!({"workspaceId": pid, "environment": "dev", "secretPath": "/a", "secretValue": "v1"});
        assert_eq!(
            api.ok("POST", s, Some(body.clone())).await["secret"]["version"],
            1
        );
        is_err(
            &api.post(s, body).await,
            400,
            "BadRequest",
            "Secret already exist",
        );
        let u = api.ok("PATCH", s, Some(json!({"workspaceId": pid, "environment": "dev", "secretPath": "/a", "secretValue": "v2"}))).await;
        assert_eq!(u["secret"]["version"], 2);
        let r = api
            .ok(
                "GET",
                &format!("{s}?workspaceId={pid}&environment=dev&secretPath=/a"),
                None,
            )
            .await;
        assert_eq!(r["secret"]["secretValue"], "v2");
        is_err(
            &api.get(&format!(
                "/api/v3/secrets/raw/NOPE?workspaceId={pid}&environment=dev&secretPath=/a"
            ))
            .await,
            404,
            "NotFound",
            "Secret with name 'NOPE' not found",
        );
        let (st, _) = api.post("/api/v3/secrets/raw/X", json!({"workspaceId": pid, "environment": "dev", "secretPath": "/zz", "secretValue": "v"})).await;
        assert_eq!(st, 404, "the folder must exist");
        api.ok(
            "DELETE",
            s,
            Some(json!({"workspaceId": pid, "environment": "dev", "secretPath": "/a"})),
        )
        .await;
        let l = api
            .ok(
                "GET",
                &format!("/api/v3/secrets/raw?workspaceId={pid}&environment=dev&secretPath=/a"),
                None,
            )
            .await;
        assert_eq!(l["secrets"], json!([]));
    });
}

#[test]
fn legacy_mode_rows() {
    run(async {
        let d = Infisical::start(Config {
            legacy: true,
            ..Config::default()
        })
        .await;
        let api = admin(&d).await;
        let (s, v) = api.post("/api/v1/identities", json!({})).await;
        assert_eq!((s, &v["error"]), (401, &json!("ValidationFailure")));
        assert!(v["message"].is_array());
        let (s, v) = api.get("/api/v1/projects").await;
        assert_eq!(
            (s, v),
            (
                404,
                json!({"message": "Route GET:/api/v1/projects not found", "error": "Not Found", "statusCode": 404})
            )
        );
        let body =
            json!({"projectName": "L", "slug": "legacy-1", "shouldCreateDefaultEnvs": false});
        let p = api
            .ok("POST", "/api/v2/workspace", Some(body.clone()))
            .await["project"]
            .clone();
        assert_eq!(
            p["environments"].as_array().unwrap().len(),
            3,
            "legacy ignores shouldCreateDefaultEnvs"
        );
        let (s, v) = api.post("/api/v2/workspace", body).await;
        assert_eq!(
            (s, &v["error"], &v["message"]),
            (500, &json!("Create"), &json!("Something went wrong"))
        );
        let (s, v) = api.get(&format!("/api/v1/workspace/{}", uuid_like())).await;
        assert_eq!(
            (s, &v["error"]),
            (500, &json!("Failed to find project by id"))
        );
        let (s, v) = api.get("/api/v2/workspace/nope-nope").await;
        assert_eq!(
            (s, &v["error"]),
            (500, &json!("Failed to find project by slug"))
        );
        assert_eq!(api.get("/api/v1/workspace").await.0, 403);
        let v = api
            .ok(
                "POST",
                "/api/v1/identities",
                Some(json!({"name": "l", "organizationId": d.org_id()})),
            )
            .await;
        assert_eq!(v["identity"]["authMethod"], Value::Null);
        assert!(v["identity"].get("authMethods").is_none());
        let id = v["identity"]["id"].as_str().unwrap();
        let ua = format!("/api/v1/auth/universal-auth/identities/{id}");
        for got in [
            api.get(&ua).await,
            api.patch(&ua, json!({})).await,
            api.delete(&ua).await,
        ] {
            is_err(
                &got,
                400,
                "BadRequest",
                "The identity does not have universal auth",
            );
        }
        assert_eq!(login(&d, uuid_like(), "x").await.0, 404);
        let pid = p["id"].as_str().unwrap();
        let fb = json!({"projectId": pid, "environment": "dev", "name": "f"});
        let a = api.ok("POST", "/api/v2/folders", Some(fb.clone())).await;
        let b = api.ok("POST", "/api/v2/folders", Some(fb)).await;
        assert_eq!(
            a["folder"]["id"], b["folder"]["id"],
            "legacy answers the existing folder"
        );
        let m = format!("/api/v2/workspace/{pid}/identity-memberships/{id}");
        assert_eq!(
            api.patch(&m, json!({"roles": [{"role": "viewer"}]}))
                .await
                .0,
            404
        );
        assert_eq!(api.delete(&m).await.0, 404);
        api.ok("POST", &m, Some(json!({"role": "viewer"}))).await;
        is_err(
            &api.post(&m, json!({"role": "viewer"})).await,
            400,
            "BadRequest",
            &format!("Identity with ID {id} already exists in project with ID {pid}"),
        );
        let list = api
            .ok(
                "GET",
                &format!("/api/v2/workspace/{pid}/identity-memberships"),
                None,
            )
            .await;
        assert_eq!(list["totalCount"], 2);
        let envs = format!("/api/v1/workspace/{pid}/environments");
        let (s, v) = api.post(&envs, json!({"name": "Dev", "slug": "dev"})).await;
        assert_eq!((s, &v["error"]), (400, &json!("CreateEnvironment")));
        // Switching back at run time.
        d.set_legacy(false);
        assert_eq!(api.get("/api/v1/projects").await.0, 200);
    });
}

#[test]
fn fail_next_and_recording() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        d.clear_requests();
        d.fail_next("GET", "/api/v1/projects", 503, 1);
        d.fail_next("GET", "/api/v1/projects", 429, 1);
        assert_eq!(api.get("/api/v1/projects").await.0, 503);
        let (s, v) = api.get("/api/v1/projects").await;
        assert_eq!((s, &v["error"]), (429, &json!("RateLimitExceeded")));
        assert_eq!(api.get("/api/v1/projects").await.0, 200);
        let r = d.requests();
        assert_eq!(
            r.iter().map(|r| r.status).collect::<Vec<_>>(),
            [503, 429, 200]
        );
        assert_eq!(r[0].path, "/api/v1/projects");
    });
}

#[test]
fn client_secret_and_token_expiry() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let (id, cid) = identity_with_ua(&api, &d, "exp").await;
        let ua = format!("/api/v1/auth/universal-auth/identities/{id}");
        api.ok(
            "PATCH",
            &ua,
            Some(json!({"accessTokenTTL": 1, "accessTokenMaxTTL": 1})),
        )
        .await;
        let short = new_secret(&api, &id, json!({"ttl": 1})).await;
        let long = new_secret(&api, &id, json!({})).await;
        let (s, t) = login(&d, &cid, long["clientSecret"].as_str().unwrap()).await;
        assert_eq!((s, &t["expiresIn"]), (200, &json!(1)));
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        is_err(
            &login(&d, &cid, short["clientSecret"].as_str().unwrap()).await,
            401,
            "UnauthorizedError",
            "Access denied due to expired client secret",
        );
        let sid = short["clientSecretData"]["id"].as_str().unwrap();
        let got = api
            .ok("GET", &format!("{ua}/client-secrets/{sid}"), None)
            .await;
        assert_eq!(got["clientSecretData"]["isClientSecretRevoked"], true);
        let expired = Api::new(&d, Some(t["accessToken"].as_str().unwrap().into()));
        is_err(
            &expired.get("/api/v1/projects").await,
            403,
            "TokenError",
            "Your token has expired. Please re-authenticate.",
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

#[test]
fn malformed_input_gets_4xx_never_a_crash() {
    run(async {
        let d = Infisical::start(Config::default()).await;
        let api = admin(&d).await;
        let p = project(&api, "junk-1", true).await;
        let pid = p["id"].as_str().unwrap();
        let (iid, _) = identity_with_ua(&api, &d, "junk").await;
        let paths = [
            "/api/v1/auth/universal-auth/login".to_owned(),
            "/api/v1/identities".to_owned(),
            format!("/api/v1/identities/{iid}"),
            format!("/api/v1/auth/universal-auth/identities/{iid}"),
            format!("/api/v1/auth/universal-auth/identities/{iid}/client-secrets"),
            "/api/v1/projects".to_owned(),
            format!("/api/v1/projects/{pid}"),
            format!("/api/v1/projects/{pid}/environments"),
            format!("/api/v1/projects/{pid}/environments/%ZZ"),
            format!("/api/v1/projects/{pid}/memberships/identities/{iid}"),
            "/api/v2/folders".to_owned(),
            "/api/v3/secrets/raw/K%C3%A9%".to_owned(),
        ];
        let bodies = [
            json!([]),
            json!("x"),
            json!(null),
            json!({"roles": 5, "name": 1, "slug": "", "position": -1, "clientSecretTrustedIps": [{}], "ttl": 1.5}),
            json!({"roles": [{"role": "admin", "isTemporary": true}], "accessTokenTTL": 99999999999u64}),
        ];
        for path in &paths {
            for method in ["POST", "PATCH"] {
                for b in &bodies {
                    let (s, v) = api.call(method, path, Some(b.clone())).await;
                    assert!((200..500).contains(&s), "{method} {path} {b}: {s} {v}");
                }
            }
        }
        let raw = reqwest::Client::new()
            .post(format!("{}/api/v1/projects", d.url()))
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), 400);
    });
}

//! The double's login, token and request-level answers: use limits, revocation, lockout,
//! expiry, the 422 issue array, `Token missing`, `TokenError`, Fastify's route 404, and 4xx for
//! malformed input.

use serde_json::json;

use super::*;
use crate::infisical_double::{Config, Infisical};

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

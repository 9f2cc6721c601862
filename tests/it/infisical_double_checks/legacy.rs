//! The double's legacy mode (contract §12) and its failure injection and request recording.

use serde_json::{Value, json};

use super::*;
use crate::infisical_double::{Config, Infisical};

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

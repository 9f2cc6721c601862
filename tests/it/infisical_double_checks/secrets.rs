//! The double's folders and raw secrets against contract §10.

use serde_json::json;

use super::*;
use crate::infisical_double::{Config, Infisical};

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

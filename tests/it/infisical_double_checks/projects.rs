//! The double's projects, memberships and environments against contract
//! §7–§9.

use serde_json::{Value, json};

use super::*;
use crate::infisical_double::{Config, Infisical};

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

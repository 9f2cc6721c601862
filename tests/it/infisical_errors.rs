//! Errors the way Infisical makes them, each a clear exit 1 that says what to do and carries no
//! secret: the self-hosted licence refusal of trusted IPs (objects before it stay applied and
//! recorded, and the fixed file converges), a validation failure whose message is an issue
//! array, an identity name that is not unique, a refused login (tried once: no lockout), an
//! organization the tool's identity is not in, another organization's project (404, read as
//! absent); transient failures (503, 500, 429) ridden through without duplicates; and a legacy
//! server (§12) converged through its own routes and error variants.

use serde_json::json;

use crate::harness::s;
use crate::infisical_common::{Api, HEAD, start};
use crate::infisical_double::Config;

fn identity(ips: &str) -> String {
    format!(
        "{HEAD}  projects:
    err-apps:
      environments: {{ prod: {{ name: Production }} }}
      secrets: {{ prod: {{ /: {{ KEY: ifs-err-canary-1 }} }} }}
  identities:
    runner:
      role: no-access
      universal_auth:
        client_secret_trusted_ips: {ips}
      projects: {{ err-apps: viewer }}
"
    )
}

#[test]
fn the_licence_refusal_says_what_to_do_and_the_fixed_file_converges() {
    let env = start(Config::default());
    let file = env.topology("licence", &identity("[10.0.8.0/24]"));
    let f = s(&file);
    let apply = env.ctl(&["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(1), "{apply}");
    let text = apply.all();
    assert!(
        text.contains("plan restriction"),
        "Infisical's own words:\n{apply}"
    );
    assert!(
        text.contains("0.0.0.0/0") && text.to_lowercase().contains("licen"),
        "what to do:\n{apply}"
    );
    assert!(!text.contains("ifs-err-canary-1"), "{apply}");
    // What could be done was, and is recorded: the next plan only has the refused object left.
    let plan = env.ctl(&["plan", f]);
    assert_eq!(plan.code, Some(0), "the lock was released:\n{plan}");
    assert!(
        plan.stdout
            .contains(r#"infisical[org].universal_auth["runner"] will be created"#),
        "{plan}"
    );
    assert!(
        !plan
            .stdout
            .contains(r#"identity["runner"] will be created"#),
        "{plan}"
    );
    let fixed = env.topology("licence", &identity("[0.0.0.0/0, ::/0]"));
    let apply = env.ctl(&["apply", "--auto-approve", s(&fixed)]);
    assert_eq!(apply.code, Some(0), "{apply}");
    assert_eq!(
        env.ctl(&["plan", "--detailed-exitcode", s(&fixed)]).code,
        Some(0)
    );
}

#[test]
fn validation_failures_duplicates_logins_and_other_organizations_are_clear_errors() {
    let env = start(Config::default());
    let api = env.api();
    // A description Infisical's schema refuses (at most 256 characters): a 422 issue array.
    let yaml = |description: &str| {
        format!(
            "{HEAD}  projects:\n    err-apps:\n      description: \"{description}\"\n      environments: {{ prod: {{ name: P }} }}\n"
        )
    };
    let file = env.topology("validation", &yaml("short"));
    assert_eq!(
        env.ctl(&["apply", "--auto-approve", s(&file)]).code,
        Some(0)
    );
    let file = env.topology("validation", &yaml(&"x".repeat(300)));
    let apply = env.ctl(&["apply", "--auto-approve", s(&file)]);
    assert_eq!(apply.code, Some(1), "{apply}");
    assert!(
        apply
            .all()
            .contains("description: String must contain at most 256"),
        "the issue array, read:\n{apply}"
    );
    assert!(
        apply
            .all()
            .contains("help: Infisical rejected the request body"),
        "{apply}"
    );

    // Two identities with one name: aegisctl never guesses which one is meant.
    for _ in 0..2 {
        api.ok(
            "POST",
            "/api/v1/identities",
            Some(json!({"name": "twin", "organizationId": env.dbl.org_id(), "role": "no-access"})),
        );
    }
    let twin = env.topology(
        "twin",
        &format!("{HEAD}  identities:\n    twin: {{ role: member }}\n"),
    );
    let plan = env.ctl(&["plan", s(&twin)]);
    assert_eq!(plan.code, Some(1), "{plan}");
    assert!(
        plan.all().contains("twin") && plan.all().contains('2'),
        "{plan}"
    );
    let created = api.ok(
        "GET",
        &format!("/api/v1/identities?orgId={}", env.dbl.org_id()),
        None,
    );
    let twins = created["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["identity"]["name"] == "twin")
        .count();
    assert_eq!(twins, 2, "no third one created");

    // A wrong login secret: refused once, said plainly, the secret never shown.
    env.dbl.clear_requests();
    let wrong = "ifs-wrong-login-canary";
    let refused = env.ctl_with(&[("INFISICAL_CLIENT_SECRET", wrong)], &["plan", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(!refused.all().contains(wrong), "{refused}");
    assert!(refused.all().to_lowercase().contains("login"), "{refused}");
    let logins = env
        .dbl
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/universal-auth/login"))
        .count();
    assert_eq!(
        logins, 1,
        "a refused login is not tried again (Infisical locks identities out)"
    );

    // An organization the tool's identity is not in.
    let (other_org, other_id, other_secret) = env.dbl.other_org();
    let elsewhere = env.ctl_with(&[("INFISICAL_ORG_ID", &other_org)], &["plan", s(&twin)]);
    assert_eq!(elsewhere.code, Some(1), "{elsewhere}");
    assert!(
        elsewhere.all().contains("set infisical.organization"),
        "what to do:\n{elsewhere}"
    );

    // Another organization's project does not exist for this one (404): a reference to its
    // secret is an error naming the reference, never its value.
    let foreign = Api::login(&env.dbl.url(), &other_id, &other_secret);
    let p = foreign.ok(
        "POST",
        "/api/v1/projects",
        Some(json!({"projectName": "F", "slug": "foreign-apps", "shouldCreateDefaultEnvs": true})),
    );
    let fid = p["project"]["id"].as_str().unwrap().to_owned();
    foreign.ok(
        "POST",
        "/api/v3/secrets/raw/KEY",
        Some(json!({"workspaceId": fid, "environment": "prod", "secretPath": "/", "secretValue": "ifs-foreign-canary"})),
    );
    let reference = env.topology(
        "foreign",
        &format!("{HEAD}openbao:\n  secrets:\n    kv:\n      type: kv-v2\n      kv:\n        copy: {{ key: infisical:foreign-apps/prod/KEY }}\n"),
    );
    let plan = env.ctl(&["plan", s(&reference)]);
    assert_eq!(plan.code, Some(1), "{plan}");
    assert!(
        plan.all().contains("infisical:foreign-apps/prod/KEY"),
        "{plan}"
    );
    assert!(!plan.all().contains("ifs-foreign-canary"), "{plan}");
}

#[test]
fn a_project_slug_taken_by_a_project_the_tool_cannot_see_is_a_clear_refusal() {
    let env = start(Config::default());
    let api = env.api();
    // Another admin identity of the same organization makes a project the tool is not in.
    let other = api.ok(
        "POST",
        "/api/v1/identities",
        Some(json!({"name": "someone-else", "organizationId": env.dbl.org_id(), "role": "admin"})),
    );
    let oid = other["identity"]["id"].as_str().unwrap().to_owned();
    let ua = api.ok(
        "POST",
        &format!("/api/v1/auth/universal-auth/identities/{oid}"),
        None,
    );
    let client_id = ua["identityUniversalAuth"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cs = api.ok(
        "POST",
        &format!("/api/v1/auth/universal-auth/identities/{oid}/client-secrets"),
        Some(json!({})),
    );
    let someone = Api::login(
        &env.dbl.url(),
        &client_id,
        cs["clientSecret"].as_str().unwrap(),
    );
    someone.ok(
        "POST",
        "/api/v1/projects",
        Some(json!({"projectName": "Hidden", "slug": "hidden-apps", "shouldCreateDefaultEnvs": false})),
    );
    let file = env.topology(
        "hidden",
        &format!(
            "{HEAD}  projects:\n    hidden-apps:\n      environments: {{ prod: {{ name: P }} }}\n"
        ),
    );
    let apply = env.ctl(&["apply", "--auto-approve", s(&file)]);
    assert_eq!(apply.code, Some(1), "{apply}");
    assert!(
        apply.all().contains("hidden-apps") && apply.all().contains("not a member"),
        "says why and what to do:\n{apply}"
    );
    let creates = env
        .dbl
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/projects" && r.status == 200)
        .count();
    assert_eq!(
        creates, 1,
        "only the other identity's project was ever created"
    );
}

#[test]
fn transient_failures_are_ridden_through_without_duplicates() {
    let env = start(Config::default());
    let file = env.topology("transient", &identity("[0.0.0.0/0, ::/0]"));
    env.dbl.fail_next("POST", "/api/v3/secrets/raw", 503, 2);
    env.dbl.fail_next("POST", "/api/v1/identities", 500, 1);
    env.dbl.fail_next("GET", "/api/v1/projects", 429, 1);
    let apply = env.ctl(&["apply", "--auto-approve", s(&file)]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let api = env.api();
    let list = api.ok(
        "GET",
        &format!("/api/v1/identities?orgId={}", env.dbl.org_id()),
        None,
    );
    let runners = list["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["identity"]["name"] == "runner")
        .count();
    assert_eq!(runners, 1, "one identity, however many attempts");
    assert_eq!(
        env.ctl(&["plan", "--detailed-exitcode", s(&file)]).code,
        Some(0)
    );
}

#[test]
fn an_infisical_that_stops_answering_mid_apply_ends_the_run_with_its_summary_and_lock() {
    let env = start(Config::default());
    let file = env.topology("outage", &identity("[0.0.0.0/0, ::/0]"));
    let f = s(&file);
    // The project and identity land; every secret write then meets a server that answers 503.
    env.dbl
        .fail_next("POST", "/api/v3/secrets/raw", 503, 1_000_000);
    let apply = env.ctl(&["apply", "--auto-approve", "--retry-budget", "2", f]);
    assert_eq!(apply.code, Some(1), "{apply}");
    assert!(
        apply.stdout.contains("Apply stopped") || apply.stdout.contains("Apply failed"),
        "a summary:\n{apply}"
    );
    assert!(apply.stdout.contains("Next:"), "{apply}");
    assert!(!apply.all().contains("ifs-err-canary-1"), "{apply}");
    // The server is back: the lock was released, what was done is known, and a re-run converges.
    env.dbl.clear_failures();
    let plan = env.ctl(&["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(
        plan.stdout
            .contains(r#"secret["prod/KEY"] will be created"#),
        "{plan}"
    );
    assert!(
        !plan
            .stdout
            .contains(r#"project["err-apps"] will be created"#),
        "{plan}"
    );
    let again = env.ctl(&["apply", "--auto-approve", f]);
    assert_eq!(again.code, Some(0), "{again}");
    assert_eq!(env.ctl(&["plan", "--detailed-exitcode", f]).code, Some(0));
}

#[test]
fn a_legacy_server_converges_through_its_own_routes() {
    let env = start(Config {
        legacy: true,
        ..Config::default()
    });
    let file = env.topology("legacy", &identity("[0.0.0.0/0, ::/0]"));
    let f = s(&file);
    let apply = env.ctl(&["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let plan = env.ctl(&["plan", "--detailed-exitcode", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(
        !env.dbl
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/api/v1/projects") && r.status == 200),
        "a legacy server has no /api/v1/projects"
    );
    // A role changed behind aegisctl's back is drift there too.
    let api = env.api();
    let project = api.ok("GET", "/api/v2/workspace/err-apps", None);
    let pid = project["id"].as_str().unwrap().to_owned();
    let iid = api.identity_id(&env.dbl.org_id(), "runner");
    api.ok(
        "PATCH",
        &format!("/api/v2/workspace/{pid}/identity-memberships/{iid}"),
        Some(json!({"roles": [{"role": "member", "isTemporary": false}]})),
    );
    let drift = env.ctl(&["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(r#"infisical[err-apps].membership["runner"]"#),
        "{drift}"
    );
    assert_eq!(env.ctl(&["apply", "--auto-approve", f]).code, Some(0));
    assert_eq!(env.ctl(&["plan", "--detailed-exitcode", f]).code, Some(0));
}

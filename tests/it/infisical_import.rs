//! `aegisctl import infisical --project SLUG --out DIR` round trip against the double: a project
//! made by hand through the API (environments in a chosen order, a nested folder, secrets, a
//! member identity with Universal Auth) is imported; the written topology plans "No changes."
//! once the variables its `env:` references name hold the values — and no secret value is in
//! the written file or in any output.

use serde_json::json;

use crate::harness::s;
use crate::infisical_common::start;
use crate::infisical_double::Config;

const VALUES: [(&str, &str, &str, &str); 3] = [
    ("prod", "/", "API_KEY", "ifs-import-canary-1"),
    ("prod", "/app/db", "PASSWORD", "ifs-import-canary-2"),
    ("staging", "/", "API_KEY", "ifs-import-canary-3"),
];

#[test]
fn an_existing_project_imports_and_plans_no_changes() {
    let env = start(Config::default());
    let api = env.api();
    let org = env.dbl.org_id();
    let project = api.ok(
        "POST",
        "/api/v1/projects",
        Some(
            json!({"projectName": "Imported apps", "slug": "imported-apps",
                    "projectDescription": "made by hand", "shouldCreateDefaultEnvs": false}),
        ),
    );
    let pid = project["project"]["id"].as_str().unwrap().to_owned();
    for (slug, name) in [("staging", "Staging"), ("prod", "Production")] {
        api.ok(
            "POST",
            &format!("/api/v1/projects/{pid}/environments"),
            Some(json!({"name": name, "slug": slug})),
        );
    }
    api.ok(
        "POST",
        "/api/v2/folders",
        Some(json!({"projectId": pid, "environment": "prod", "name": "db", "path": "/app"})),
    );
    for (envslug, path, name, value) in VALUES {
        api.ok(
            "POST",
            &format!("/api/v3/secrets/raw/{name}"),
            Some(
                json!({"workspaceId": pid, "environment": envslug, "secretPath": path,
                        "secretValue": value}),
            ),
        );
    }
    let identity = api.ok(
        "POST",
        "/api/v1/identities",
        Some(json!({"name": "importer-bot", "organizationId": org, "role": "member"})),
    );
    let iid = identity["identity"]["id"].as_str().unwrap().to_owned();
    api.ok(
        "POST",
        &format!("/api/v1/auth/universal-auth/identities/{iid}"),
        Some(json!({"accessTokenTTL": 1800, "accessTokenMaxTTL": 7200})),
    );
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pid}/memberships/identities/{iid}"),
        Some(json!({"roles": [{"role": "viewer", "isTemporary": false}]})),
    );

    let out = env.bao.dir.path().join("imported");
    let import = env.ctl(&[
        "import",
        "infisical",
        "--project",
        "imported-apps",
        "--out",
        s(&out),
    ]);
    assert_eq!(import.code, Some(0), "{import}");
    let file = out.join("inventories/imported-apps.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    for (_, _, _, value) in VALUES {
        assert!(
            !text.contains(value) && !import.all().contains(value),
            "a value was imported:\n{text}\n{import}"
        );
    }
    assert!(
        text.contains("importer-bot") && text.contains("viewer"),
        "{text}"
    );
    for var in [
        "IFS_PROD_API_KEY",
        "IFS_PROD_APP_DB_PASSWORD",
        "IFS_STAGING_API_KEY",
    ] {
        assert!(import.stdout.contains(var), "{var} not listed:\n{import}");
    }
    let vars = [
        ("IFS_PROD_API_KEY", VALUES[0].3),
        ("IFS_PROD_APP_DB_PASSWORD", VALUES[1].3),
        ("IFS_STAGING_API_KEY", VALUES[2].3),
    ];
    let plan = env.ctl_with(&vars, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(
        plan.code,
        Some(0),
        "the import round-trips:\n{text}\n{plan}"
    );
    assert!(plan.stdout.contains("No changes."), "{plan}");
    // A value that differs from Infisical's is a change, shown without either value.
    let vars_changed = [
        ("IFS_PROD_API_KEY", "ifs-import-canary-changed"),
        ("IFS_PROD_APP_DB_PASSWORD", VALUES[1].3),
        ("IFS_STAGING_API_KEY", VALUES[2].3),
    ];
    let plan = env.ctl_with(&vars_changed, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert!(
        plan.stdout
            .contains(r#"infisical[imported-apps].secret["prod/API_KEY"]"#),
        "{plan}"
    );
    assert!(!plan.all().contains("ifs-import-canary"), "{plan}");
}

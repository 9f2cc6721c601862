//! Values across servers, against the real Keycloak and OpenBao and the Infisical double: a
//! Keycloak client's generated secret copied into an Infisical project (`keycloak:REALM/CLIENT
//! #secret`, an output of the client: "(known after apply)" before it exists), and an Infisical
//! secret put by hand copied into OpenBao KV and into a Keycloak client's secret
//! (`infisical:PROJECT/ENV/NAME`). Both hold the
//! source's value after apply, plan "No changes.", and follow the source: a secret regenerated
//! in Keycloak behind aegisctl's back shows as drift of the Infisical copy and converges. No
//! value appears in any output.

use serde_json::json;

use crate::harness::s;
use crate::infisical_common::{HEAD, start};
use crate::infisical_double::Config;
use crate::keycloak::{TestRealm, keycloak, unique_realm};

const MODEL_KEY: &str = "ifs-model-key-canary-4411";
const KC_SECRET: &str = "ifs-kc-client-secret-canary-9d20";

#[test]
fn a_keycloak_secret_lands_in_infisical_and_an_infisical_secret_in_openbao() {
    let kc = keycloak();
    let realm = TestRealm {
        kc,
        name: unique_realm("ifsrefs"),
    };
    let r = realm.name.as_str();
    let env = start(Config::default());
    let api = env.api();
    // A secret a person put in Infisical, in a project of its own.
    let inputs = api.ok(
        "POST",
        "/api/v1/projects",
        Some(json!({"projectName": "Inputs", "slug": "ops-inputs", "shouldCreateDefaultEnvs": false})),
    );
    let inputs_id = inputs["project"]["id"].as_str().unwrap().to_owned();
    api.ok(
        "POST",
        &format!("/api/v1/projects/{inputs_id}/environments"),
        Some(json!({"name": "Production", "slug": "prod"})),
    );
    api.ok(
        "POST",
        "/api/v3/secrets/raw/MODEL_KEY",
        Some(json!({"workspaceId": inputs_id, "environment": "prod", "secretPath": "/", "secretValue": MODEL_KEY})),
    );
    api.ok(
        "POST",
        "/api/v3/secrets/raw/KC_SECRET",
        Some(json!({"workspaceId": inputs_id, "environment": "prod", "secretPath": "/", "secretValue": KC_SECRET})),
    );
    let dir = env.bao.dir.path().join("refs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("realm.json"),
        json!({"realm": r, "enabled": true, "clients": [
            {"clientId": "app", "publicClient": false,
             "serviceAccountsEnabled": true, "standardFlowEnabled": false},
            {"clientId": "from-infisical", "publicClient": false, "standardFlowEnabled": false,
             "serviceAccountsEnabled": true, "secret": "infisical:ops-inputs/prod/KC_SECRET"}]})
        .to_string(),
    )
    .unwrap();
    let yaml = format!(
        "{HEAD}  projects:
    homelab-apps:
      environments: {{ prod: {{ name: Production }} }}
      secrets:
        prod:
          /:
            APP_CLIENT_SECRET: keycloak:{r}/app#secret
keycloak:
  url: env:KEYCLOAK_URL
  admin: {{ username: env:KEYCLOAK_ADMIN, password: env:KEYCLOAK_ADMIN_PASSWORD }}
  realms: [file:realm.json]
openbao:
  secrets:
    secret:
      type: kv-v2
      kv:
        model: {{ key: infisical:ops-inputs/prod/MODEL_KEY }}
"
    );
    let file = dir.join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let f = s(&file);
    let kc_env = [
        ("KEYCLOAK_URL", kc.base_url()),
        ("KEYCLOAK_ADMIN", kc.admin_user()),
        ("KEYCLOAK_ADMIN_PASSWORD", kc.admin_password()),
    ];
    let ctl = |args: &[&str]| {
        let run = env.ctl_with(&kc_env, args);
        assert!(!run.all().contains(MODEL_KEY), "{run}");
        assert!(!run.all().contains(KC_SECRET), "{run}");
        assert!(!run.all().contains(kc.admin_password()), "{run}");
        run
    };
    let plan = ctl(&["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("(known after apply)"), "{plan}");
    let apply = ctl(&["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let uuid = kc
        .get(&format!("/admin/realms/{r}/clients?clientId=app"))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kc_secret = || {
        kc.get(&format!("/admin/realms/{r}/clients/{uuid}/client-secret"))
            .json()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let project = api.project("homelab-apps");
    let pid = project["id"].as_str().unwrap().to_owned();
    let copied = || {
        api.ok(
            "GET",
            &format!("/api/v3/secrets/raw/APP_CLIENT_SECRET?workspaceId={pid}&environment=prod&secretPath=/"),
            None,
        )["secret"]["secretValue"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let secret = kc_secret();
    assert_eq!(
        copied(),
        secret,
        "Keycloak's generated secret is in Infisical"
    );
    assert!(!apply.all().contains(&secret), "{apply}");
    let kv = env.bao.read_json("secret/data/model");
    assert_eq!(
        kv["data"]["data"]["key"], MODEL_KEY,
        "Infisical's secret is in OpenBao"
    );
    let other = kc
        .get(&format!(
            "/admin/realms/{r}/clients?clientId=from-infisical"
        ))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = kc
        .get(&format!("/admin/realms/{r}/clients/{other}/client-secret"))
        .json();
    assert_eq!(
        held["value"], KC_SECRET,
        "a Keycloak client took its secret from Infisical"
    );
    let again = ctl(&["plan", "--detailed-exitcode", f]);
    assert_eq!(again.code, Some(0), "{again}");

    // Regenerated behind aegisctl's back: the copy drifts, and apply brings it along.
    let regen = kc.call(
        "POST",
        &format!("/admin/realms/{r}/clients/{uuid}/client-secret"),
        None,
    );
    assert_eq!(regen.status, 200);
    let fresh = kc_secret();
    let drift = ctl(&["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(r#"infisical[homelab-apps].secret["prod/APP_CLIENT_SECRET"]"#),
        "{drift}"
    );
    assert!(
        !drift.all().contains(&fresh) && !drift.all().contains(&secret),
        "{drift}"
    );
    let converge = ctl(&["apply", "--auto-approve", f]);
    assert_eq!(converge.code, Some(0), "{converge}");
    assert_eq!(copied(), fresh);
}

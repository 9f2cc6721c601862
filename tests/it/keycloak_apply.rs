//! plan, apply, drift and prune of a realm file through the CLI, against the real Keycloak of
//! keycloak.rs and a real OpenBao (the keymaster's KV): apply from nothing, "No changes." after,
//! a no-op apply that writes nothing to Keycloak (counted by the realm's own admin events), each
//! out-of-band edit reported by `drift` with its address and attribute and converged again, an
//! unmanaged client reported and never pruned, a removed role pruned only with `--prune`,
//! built-ins untouched, the keymaster's secrets equal to Keycloak's and good for a
//! client-credentials login — and neither the client secret nor the admin password in any
//! output.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Bao, Run, UNMANAGED, block, s, section};
use crate::http_wire::call;
use crate::keycloak::{Keycloak, TestRealm, keycloak, unique_realm};
use crate::keycloak_common::ctl_with;

const DECLARED: &str = "kcapply-declared-secret-canary-71c3";

fn realm_file(realm: &str, with_reader_role: bool) -> String {
    let reader = if with_reader_role {
        r#"{"name": "reader", "description": "reads"}"#
    } else {
        ""
    };
    format!(
        r#"{{
  "realm": "{realm}",
  "enabled": true,
  "displayName": "Apply test",
  "adminEventsEnabled": true,
  "adminEventsDetailsEnabled": false,
  "clients": [
    {{
      "clientId": "aegis-orchestrator",
      "publicClient": false,
      "standardFlowEnabled": true,
      "serviceAccountsEnabled": true,
      "secret": "env:KC_DECLARED_SECRET",
      "redirectUris": ["https://b.example/cb", "https://a.example/cb"],
      "protocolMappers": [{{
        "name": "aegis_role",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-client-role-mapper",
        "config": {{
          "usermodel.clientRoleMapping.clientId": "aegis-orchestrator",
          "claim.name": "aegis_role",
          "jsonType.label": "String",
          "multivalued": true,
          "access.token.claim": true
        }}
      }}]
    }},
    {{
      "clientId": "aegis-sdk",
      "publicClient": false,
      "standardFlowEnabled": false,
      "serviceAccountsEnabled": true
    }}
  ],
  "roles": {{
    "realm": [{reader}],
    "client": {{
      "aegis-orchestrator": [
        {{"name": "aegis:admin", "description": "all"}},
        {{"name": "aegis:operator", "description": "runs"}}
      ]
    }}
  }}
}}"#
    )
}

fn topology(dir: &Path, realm: &str) -> PathBuf {
    let path = dir.join("topology.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: kcapply\nopenbao:\n  secrets:\n    kv: { type: kv-v2 }\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms: [file:realm.json]\n  client_secrets:\n    openbao_kv: kv/keycloak/{realm}/{clientId}\n",
    )
    .expect("topology");
    write_realm(dir, realm, true);
    path
}

fn write_realm(dir: &Path, realm: &str, with_reader_role: bool) {
    std::fs::write(dir.join("realm.json"), realm_file(realm, with_reader_role)).expect("realm");
}

fn ctl(bao: &Bao, kc: &Keycloak, args: &[&str]) -> Run {
    let run = ctl_with(bao, kc, None, &[("KC_DECLARED_SECRET", DECLARED)], args);
    assert!(
        !run.all().contains(DECLARED),
        "a secret in the output of {args:?}:\n{run}"
    );
    run
}

fn uuid(kc: &Keycloak, realm: &str, client_id: &str) -> String {
    let found = kc
        .get(&format!(
            "/admin/realms/{realm}/clients?clientId={client_id}"
        ))
        .json();
    found[0]["id"].as_str().expect("client id").to_owned()
}

fn kc_secret(kc: &Keycloak, realm: &str, client_id: &str) -> String {
    let id = uuid(kc, realm, client_id);
    let v = kc
        .get(&format!("/admin/realms/{realm}/clients/{id}/client-secret"))
        .json();
    v["value"].as_str().expect("secret").to_owned()
}

fn admin_events(kc: &Keycloak, realm: &str) -> usize {
    let v = kc
        .get(&format!("/admin/realms/{realm}/admin-events?max=10000"))
        .json();
    v.as_array().map(Vec::len).unwrap_or(0)
}

fn client_credentials(kc: &Keycloak, realm: &str, client_id: &str, secret: &str) -> Value {
    let url = format!(
        "{}/realms/{realm}/protocol/openid-connect/token",
        kc.base_url()
    );
    let body =
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    call(
        "POST",
        &url,
        &headers,
        Some(&body),
        std::time::Duration::from_secs(30),
    )
    .expect("token endpoint")
    .json()
}

#[test]
fn a_realm_file_applies_converges_drifts_and_prunes_against_a_real_keycloak() {
    let kc = keycloak();
    let realm = TestRealm {
        kc,
        name: unique_realm("apply"),
    };
    let r = realm.name.as_str();
    let bao = Bao::start();
    let dir = tempfile::tempdir().expect("dir");
    let file = topology(dir.path(), r);
    let f = s(&file);

    // From nothing: the realm and everything in it, and the keymaster's secrets.
    let plan = ctl(&bao, kc, &["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    let sdk_kv = "openbao[root].kv_secret[\"kv/keycloak/".to_owned() + r + "/aegis-sdk\"]";
    let sdk_block = block(&plan.stdout, &sdk_kv).expect("the keymaster secret is planned");
    assert!(sdk_block.contains("(known after apply)"), "{sdk_block}");
    let apply = ctl(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    assert!(apply.stdout.contains("Apply complete!"), "{apply}");
    let again = ctl(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(again.code, Some(0), "{again}");
    assert!(again.stdout.contains("No changes."), "{again}");

    // The keymaster: OpenBao holds what Keycloak holds, and it logs in.
    let kv = bao.read_json(&format!("kv/data/keycloak/{r}/aegis-sdk"));
    let generated = kv["data"]["data"]["client_secret"]
        .as_str()
        .expect("kv secret");
    assert_eq!(kv["data"]["data"]["client_id"], "aegis-sdk");
    assert_eq!(generated, kc_secret(kc, r, "aegis-sdk"));
    let token = client_credentials(kc, r, "aegis-sdk", generated);
    assert!(token["access_token"].is_string(), "{token}");
    let kv = bao.read_json(&format!("kv/data/keycloak/{r}/aegis-orchestrator"));
    assert_eq!(kv["data"]["data"]["client_secret"], DECLARED);
    assert_eq!(kc_secret(kc, r, "aegis-orchestrator"), DECLARED);

    // A no-op apply writes nothing to Keycloak.
    let before = admin_events(kc, r);
    let noop = ctl(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(noop.code, Some(0), "{noop}");
    assert_eq!(
        admin_events(kc, r),
        before,
        "a no-op apply wrote to Keycloak"
    );

    // A saved plan holds no secret either (ctl checks the output, this the file).
    let planfile = dir.path().join("plan.bin");
    let saved = ctl(&bao, kc, &["plan", "--out", s(&planfile), f]);
    assert_eq!(saved.code, Some(0), "{saved}");
    let bytes = std::fs::read(&planfile).expect("the plan file");
    let text = String::from_utf8_lossy(&bytes);
    for canary in [DECLARED, kc.admin_password(), generated] {
        assert!(!text.contains(canary), "a secret in the plan file");
    }

    // Out-of-band edits, each reported with its address and attribute.
    let orch = uuid(kc, r, "aegis-orchestrator");
    let mut rep = kc.get(&format!("/admin/realms/{r}/clients/{orch}")).json();
    rep["redirectUris"] = json!(["https://evil.example/cb"]);
    assert_eq!(
        kc.call(
            "PUT",
            &format!("/admin/realms/{r}/clients/{orch}"),
            Some(&rep)
        )
        .status,
        204
    );
    let role = format!("/admin/realms/{r}/clients/{orch}/roles/aegis%3Aadmin");
    let role_rep = json!({"name": "aegis:admin", "description": "changed"});
    assert_eq!(kc.call("PUT", &role, Some(&role_rep)).status, 204);
    let sdk = uuid(kc, r, "aegis-sdk");
    let regen = kc.call(
        "POST",
        &format!("/admin/realms/{r}/clients/{sdk}/client-secret"),
        None,
    );
    assert_eq!(regen.status, 200);
    assert_eq!(
        kc.call("DELETE", &format!("/admin/realms/{r}/roles/reader"), None)
            .status,
        204
    );
    let rogue = json!({"clientId": "rogue"});
    assert_eq!(
        kc.call("POST", &format!("/admin/realms/{r}/clients"), Some(&rogue))
            .status,
        201
    );

    let drift = ctl(&bao, kc, &["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    let client = format!("keycloak[{r}].client[\"aegis-orchestrator\"]");
    assert!(
        block(&drift.stdout, &client).is_some_and(|b| b.contains("redirectUris")),
        "{drift}"
    );
    let role_addr = format!("keycloak[{r}].client_role[\"aegis-orchestrator/aegis:admin\"]");
    assert!(
        block(&drift.stdout, &role_addr).is_some_and(|b| b.contains("description")),
        "{drift}"
    );
    assert!(
        block(&drift.stdout, &sdk_kv).is_some_and(|b| b.contains("client_secret")),
        "{drift}"
    );
    assert!(
        drift
            .stdout
            .contains(&format!("keycloak[{r}].realm_role[\"reader\"]")),
        "{drift}"
    );
    let unmanaged = section(&drift.stdout, UNMANAGED).expect("unmanaged section");
    assert!(
        unmanaged.contains(&format!("keycloak[{r}].client[\"rogue\"]")),
        "{drift}"
    );
    for builtin in [
        "account",
        "admin-cli",
        "broker",
        "realm-management",
        "offline_access",
    ] {
        assert!(
            !unmanaged.contains(&format!("\"{builtin}\"")),
            "{builtin} listed:\n{drift}"
        );
    }
    let json_drift = ctl(&bao, kc, &["drift", "--json", f]);
    assert_eq!(json_drift.code, Some(2), "{json_drift}");

    // -vv logs too: still no secret (ctl checks every stream). The writes it makes are seen as
    // admin events, which is what makes the no-op count above mean something.
    let before_fix = admin_events(kc, r);
    let fix = ctl(&bao, kc, &["apply", "--auto-approve", "-vv", f]);
    assert_eq!(fix.code, Some(0), "{fix}");
    assert!(
        admin_events(kc, r) > before_fix,
        "the converging writes were not counted"
    );
    let again = ctl(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(again.code, Some(0), "{again}");
    let kv = bao.read_json(&format!("kv/data/keycloak/{r}/aegis-sdk"));
    assert_eq!(
        kv["data"]["data"]["client_secret"].as_str(),
        Some(kc_secret(kc, r, "aegis-sdk").as_str())
    );

    // A role taken out of the file: kept without --prune, deleted with it; the rogue client
    // (never aegisctl's) stays, and so do the built-ins.
    write_realm(dir.path(), r, false);
    let plain = ctl(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(
        plain.code,
        Some(0),
        "without --prune nothing is deleted:\n{plain}"
    );
    let prune = ctl(&bao, kc, &["apply", "--auto-approve", "--prune", f]);
    assert_eq!(prune.code, Some(0), "{prune}");
    assert!(prune.stdout.contains("1 destroyed"), "{prune}");
    assert_eq!(
        kc.get(&format!("/admin/realms/{r}/roles/reader")).status,
        404
    );
    assert_eq!(
        kc.get(&format!("/admin/realms/{r}/clients?clientId=rogue"))
            .json()[0]["clientId"],
        "rogue"
    );
    for builtin in ["account", "admin-cli", "broker", "realm-management"] {
        let found = kc
            .get(&format!("/admin/realms/{r}/clients?clientId={builtin}"))
            .json();
        assert_eq!(found[0]["clientId"], builtin, "{builtin} gone");
    }
    let last = ctl(&bao, kc, &["plan", "--detailed-exitcode", "--prune", f]);
    assert_eq!(last.code, Some(0), "{last}");
}

#[test]
fn a_wrong_admin_password_is_one_clear_error_that_shows_no_password() {
    let kc = keycloak();
    let bao = Bao::start();
    let dir = tempfile::tempdir().expect("dir");
    let file = topology(dir.path(), &unique_realm("wrongpw"));
    let wrong = "kcapply-wrong-password-canary-90e1";
    for args in [
        vec!["plan"],
        vec!["apply", "--auto-approve"],
        vec!["drift", "--json"],
    ] {
        let mut cmd = bao.aegisctl();
        cmd.env("KEYCLOAK_URL", kc.base_url())
            .env("KEYCLOAK_ADMIN", kc.admin_user())
            .env("KEYCLOAK_ADMIN_PASSWORD", wrong)
            .env("KC_DECLARED_SECRET", DECLARED)
            .args(&args)
            .arg(s(&file));
        let run = Run::from(cmd.output().expect("run aegisctl"));
        assert_eq!(run.code, Some(1), "{args:?}:\n{run}");
        assert!(
            run.all().contains("Keycloak"),
            "{args:?} names Keycloak:\n{run}"
        );
        for canary in [wrong, DECLARED] {
            assert!(
                !run.all().contains(canary),
                "{args:?} shows a secret:\n{run}"
            );
        }
        assert!(!run.all().contains("panicked"), "{run}");
    }
}

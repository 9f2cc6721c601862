//! The demo topology end to end, against real OpenBao, PostgreSQL and Keycloak: apply, converge,
//! the AppRole really works, and the SDK client logs in with the secret the keymaster put in
//! OpenBao and gets the flat `aegis_role` claim; Infisical (the double, as in the demo) holds the
//! same secret in project homelab-apps.

use crate::harness::{Bao, repo};
use crate::infisical_double::{Config, Infisical};
use crate::postgres::Postgres;

/// What secrets/demo.enc.yaml holds at /search_api_key (SOPS, DEMO-ONLY age key).
const KEY: &str = "demo-search-api-key-from-sops";

/// The orchestrator client's secret (realms/aegis-system.yaml reads it from the environment).
const ORCHESTRATOR_SECRET: &str = "walking-skeleton-orchestrator-canary";

fn demo() -> std::path::PathBuf {
    repo().join("inventories/demo.yaml")
}

/// aegisctl with what the demo topology reads from the environment.
fn demo_ctl(bao: &Bao, pg: &Postgres, ifs: &Infisical) -> assert_cmd::Command {
    let kc = crate::keycloak::keycloak();
    let mut cmd = bao.aegisctl();
    let (client_id, client_secret) = ifs.admin();
    cmd.env("INFISICAL_URL", ifs.url())
        .env("INFISICAL_CLIENT_ID", client_id)
        .env("INFISICAL_CLIENT_SECRET", client_secret)
        .env("INFISICAL_ORG_ID", ifs.org_id());
    cmd.env("KEYCLOAK_URL", kc.base_url())
        .env("KEYCLOAK_ADMIN", kc.admin_user())
        .env("KEYCLOAK_ADMIN_PASSWORD", kc.admin_password())
        .env("AEGIS_ORCHESTRATOR_SECRET", ORCHESTRATOR_SECRET)
        .env("SOPS_AGE_KEY_FILE", repo().join("secrets/demo-age-key.txt"))
        .env_remove("SOPS_AGE_KEY")
        .env("DEMO_PG_PASSWORD", &pg.password)
        .env(
            "DEMO_PG_CONNECTION_URL",
            format!(
                "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres",
                pg.port
            ),
        );
    cmd
}

#[test]
fn demo_converges_and_the_daemon_role_can_sign_and_read() {
    let bao = Bao::start();
    let pg = Postgres::start();
    // As the demo runs it: a licensed server (agent-2's address is a trusted IP).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ifs = rt.block_on(Infisical::start(Config {
        ip_allowlisting: true,
        ..Config::default()
    }));
    demo_ctl(&bao, &pg, &ifs)
        .args(["apply", "--auto-approve"])
        .arg(demo())
        .assert()
        .success();
    let out = demo_ctl(&bao, &pg, &ifs)
        .args(["plan", "--detailed-exitcode"])
        .arg(demo())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes."));

    // Log in as aegis-daemon and use exactly what the policy grants.
    let role_id = bao.read_json("auth/approle/role/aegis-daemon/role-id")["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret: serde_json::Value = serde_json::from_str(&bao.bao_ok(&[
        "write",
        "-format=json",
        "-f",
        "auth/approle/role/aegis-daemon/secret-id",
    ]))
    .unwrap();
    let secret_id = secret["data"]["secret_id"].as_str().unwrap();
    let login: serde_json::Value = serde_json::from_str(&bao.bao_ok(&[
        "write",
        "-format=json",
        "auth/approle/login",
        &format!("role_id={role_id}"),
        &format!("secret_id={secret_id}"),
    ]))
    .unwrap();
    let token = login["auth"]["client_token"].as_str().unwrap();
    let policies: Vec<&str> = login["auth"]["token_policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(policies.contains(&"aegis-policy"), "{policies:?}");

    let as_daemon = |args: &[&str]| {
        std::process::Command::new(crate::harness::bao_bin())
            .args(args)
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", token)
            .output()
            .unwrap()
    };
    let read = as_daemon(&[
        "kv",
        "get",
        "-format=json",
        "aegis-system/tools/search-api-key",
    ]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(v["data"]["data"]["value"], KEY);
    let sign = as_daemon(&[
        "write",
        "-format=json",
        "transit/sign/smcp-signing-key",
        "input=aGVsbG8=",
    ]);
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    assert!(String::from_utf8_lossy(&sign.stdout).contains("vault:v1:"));
    // ...and nothing beyond it.
    let denied = as_daemon(&["read", "sys/policies/acl/aegis-policy"]);
    assert!(!denied.status.success());

    // The orchestrator's part: the SDK client's secret is read from OpenBao (where the keymaster
    // put it), the client-credentials grant gives a token, and its flat `aegis_role` claim holds
    // the role its service account was given.
    let kv = bao.read_json("aegis-system/data/keycloak/aegis-system/aegis-sdk");
    let sdk_secret = kv["data"]["data"]["client_secret"]
        .as_str()
        .expect("the keymaster's secret");
    let kc = crate::keycloak::keycloak();
    let url = format!(
        "{}/realms/aegis-system/protocol/openid-connect/token",
        kc.base_url()
    );
    let body =
        format!("grant_type=client_credentials&client_id=aegis-sdk&client_secret={sdk_secret}");
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let token = crate::http_wire::call(
        "POST",
        &url,
        &headers,
        Some(&body),
        std::time::Duration::from_secs(30),
    )
    .expect("the token endpoint")
    .json();
    let access = token["access_token"].as_str().expect("an access token");
    let payload = access.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("json claims");
    assert_eq!(
        claims["aegis_role"],
        serde_json::json!(["aegis:operator"]),
        "{claims}"
    );
    let (client_id, client_secret) = ifs.admin();
    let api = crate::infisical_common::Api::login(&ifs.url(), &client_id, &client_secret);
    let pid = api.project("homelab-apps")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let copy = api.ok(
        "GET",
        &format!("/api/v3/secrets/raw/AEGIS_SDK_CLIENT_SECRET?workspaceId={pid}&environment=prod&secretPath=/"),
        None,
    );
    assert_eq!(
        copy["secret"]["secretValue"], sdk_secret,
        "Infisical holds Keycloak's secret"
    );
    let kv = bao.read_json("aegis-system/data/keycloak/aegis-system/aegis-orchestrator");
    assert_eq!(kv["data"]["data"]["client_secret"], ORCHESTRATOR_SECRET);
    kc.delete_realm("aegis-system");
    kc.delete_realm("tenant-acme");
    kc.delete_realm("tenant-globex");
}

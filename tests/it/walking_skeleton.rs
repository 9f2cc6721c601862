//! The demo topology end to end: apply, converge, and the AppRole really works.

use crate::harness::{Bao, repo};
use crate::postgres::Postgres;

/// What secrets/demo.enc.yaml holds at /search_api_key (SOPS, DEMO-ONLY age key).
const KEY: &str = "demo-search-api-key-from-sops";

fn demo() -> std::path::PathBuf {
    repo().join("inventories/demo.yaml")
}

/// aegisctl with what the demo topology reads from the environment.
fn demo_ctl(bao: &Bao, pg: &Postgres) -> assert_cmd::Command {
    let mut cmd = bao.aegisctl();
    cmd.env("SOPS_AGE_KEY_FILE", repo().join("secrets/demo-age-key.txt"))
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
    demo_ctl(&bao, &pg)
        .args(["apply", "--auto-approve"])
        .arg(demo())
        .assert()
        .success();
    let out = demo_ctl(&bao, &pg)
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
}

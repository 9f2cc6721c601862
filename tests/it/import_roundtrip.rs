//! `aegisctl import openbao` round trip: a server set up by hand with a script of `bao`
//! commands covering every kind that can run here, imported into a topology, then planned
//! against the same server: "No changes.", with no secret value in the written files.
//!
//! The AWS engine is the one kind missing: it is an external plugin whose binary cannot run
//! here (its kinds are covered against an HTTP double in engines_auth_audit.rs); its catalog
//! registration is part of the script.

use std::collections::BTreeMap;
use std::process::Command;

use crate::harness::Bao;
use crate::postgres::Postgres;
use crate::safety_util::rsa_public_pem;

const KV_SECRET: &str = "imported-kv-value-7c1e";
const TENANT_SECRET: &str = "tenant-kv-value-93ab";

#[test]
fn import_of_a_hand_made_server_plans_no_changes() {
    let plugins = tempfile::tempdir().unwrap();
    let plugin = plugins.path().join("openbao-plugin-secrets-aws");
    std::fs::write(&plugin, "#!/bin/sh\nexit 1\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&plugin)
        .status()
        .unwrap();
    let sha = String::from_utf8(
        Command::new("sha256sum")
            .arg(&plugin)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let sha = sha.split_whitespace().next().unwrap().to_owned();
    let bao = Bao::start_with_config(&format!(
        "plugin_directory = \"{}\"\nunsafe_allow_api_audit_creation = true\n",
        plugins.path().display()
    ));
    let pg = Postgres::start();
    pg.psql_ok("CREATE ROLE reporting WITH LOGIN PASSWORD 'reporting-initial'");
    let pem = rsa_public_pem(bao.dir.path());
    let trail = bao.dir.path().join("trail.log");

    // The operator's script.
    let conn_url = format!(
        "connection_url=postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres",
        pg.port
    );
    let pg_password = format!("password={}", pg.password);
    let trail_path = format!("file_path={}", trail.display());
    let sha_arg = format!("-sha256={sha}");
    let pem_arg = format!("jwt_validation_pubkeys={pem}");
    let kv_arg = format!("token={KV_SECRET}");
    let script: Vec<Vec<&str>> = vec![
        vec!["policy", "write", "reader", "-"],
        vec!["auth", "enable", "approle"],
        vec!["auth", "tune", "-default-lease-ttl=1h", "approle"],
        vec![
            "write",
            "auth/approle/role/daemon",
            "token_policies=reader,default",
            "token_ttl=1h",
            "token_max_ttl=24h",
            "secret_id_num_uses=1",
            "token_bound_cidrs=10.0.0.0/8",
        ],
        vec!["auth", "enable", "userpass"],
        vec!["auth", "tune", "-max-lease-ttl=48h", "userpass"],
        vec!["auth", "enable", "jwt"],
        vec!["write", "auth/jwt/config", &pem_arg, "default_role=ci"],
        vec![
            "write",
            "auth/jwt/role/ci",
            "role_type=jwt",
            "bound_audiences=aegis",
            "user_claim=sub",
            "token_policies=reader",
            "token_ttl=15m",
        ],
        vec![
            "secrets",
            "enable",
            "-path=apps",
            "-description=application secrets",
            "kv-v2",
        ],
        vec!["kv", "put", "apps/team/api", &kv_arg],
        vec!["secrets", "enable", "transit"],
        vec!["write", "-f", "transit/keys/signing", "type=ed25519"],
        vec![
            "write",
            "-f",
            "transit/keys/blackboard",
            "type=aes256-gcm96",
            "auto_rotate_period=720h",
        ],
        vec![
            "write",
            "transit/keys/blackboard/config",
            "deletion_allowed=true",
        ],
        vec!["secrets", "enable", "database"],
        vec![
            "write",
            "database/config/pg",
            "plugin_name=postgresql-database-plugin",
            &conn_url,
            "username=postgres",
            &pg_password,
            "allowed_roles=agent,reporting",
        ],
        vec![
            "write",
            "database/roles/agent",
            "db_name=pg",
            "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            "default_ttl=1h",
            "max_ttl=24h",
        ],
        vec![
            "write",
            "database/static-roles/reporting",
            "db_name=pg",
            "username=reporting",
            "rotation_period=24h",
        ],
        vec![
            "plugin",
            "register",
            &sha_arg,
            "-command=openbao-plugin-secrets-aws",
            "-version=v0.2.0",
            "secret",
            "aws",
        ],
        vec!["audit", "enable", "-path=trail", "file", &trail_path],
        vec!["namespace", "create", "tenant-acme"],
    ];
    for step in &script {
        let out = if step[..3] == ["policy", "write", "reader"] {
            let mut child = Command::new(crate::harness::bao_bin())
                .args(step)
                .env("BAO_ADDR", &bao.addr)
                .env("BAO_TOKEN", &bao.token)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"path \"apps/data/*\" {\n  capabilities = [\"read\"]\n}\n")
                .unwrap();
            child.wait_with_output().unwrap()
        } else {
            bao.bao(step)
        };
        assert!(
            out.status.success(),
            "bao {step:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let in_tenant = |args: &[&str]| {
        let out = Command::new(crate::harness::bao_bin())
            .args(args)
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", &bao.token)
            .env("BAO_NAMESPACE", "tenant-acme")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bao {args:?} in tenant-acme: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    in_tenant(&["secrets", "enable", "-path=secret", "kv-v2"]);
    in_tenant(&[
        "kv",
        "put",
        "secret/app/config",
        &format!("api_key={TENANT_SECRET}"),
    ]);
    in_tenant(&["auth", "enable", "approle"]);
    in_tenant(&[
        "write",
        "auth/approle/role/app",
        "token_policies=default",
        "token_ttl=30m",
    ]);

    // Import.
    let out_dir = bao.dir.path().join("imported");
    let import = bao
        .aegisctl()
        .args(["import", "openbao", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&import.stdout).into_owned();
    assert!(
        import.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let topology = std::fs::read_to_string(out_dir.join("topology.yaml")).unwrap();
    for secret in [KV_SECRET, TENANT_SECRET, pg.password.as_str()] {
        assert!(
            !topology.contains(secret) && !report.contains(secret),
            "a secret was imported"
        );
    }
    assert!(out_dir.join("policies/reader.hcl").is_file(), "{topology}");
    for expected in [
        "tenant-acme:",
        "userpass:",
        "signing:",
        "blackboard:",
        "reporting:",
        "agent:",
        "trail:",
        "sha256:",
        "ci:",
        "jwt_validation_pubkeys:",
    ] {
        assert!(
            topology.contains(expected),
            "`{expected}` missing from the import:\n{topology}"
        );
    }

    // The placeholders the report lists, set to what the server holds. A write-only password
    // cannot be compared: a plain plan shows it `(unverified)` (never silently adopted), and
    // `--adopt` takes the server's as the baseline.
    let placeholders: BTreeMap<String, String> = report
        .lines()
        .filter_map(|l| l.trim().split_once("  ("))
        .map(|(var, what)| (var.to_owned(), what.to_owned()))
        .collect();
    assert!(placeholders.len() >= 3, "{report}");
    let with_env = |args: &[&str]| {
        let mut cmd = bao.aegisctl();
        for (var, what) in &placeholders {
            let value = if what.contains("key `token` of apps/team/api") {
                KV_SECRET
            } else if what.contains("key `api_key` of secret/app/config") {
                TENANT_SECRET
            } else {
                "adopted-write-only"
            };
            cmd.env(var, value);
        }
        let out = cmd
            .args(args)
            .arg(out_dir.join("topology.yaml"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = with_env(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code,
        Some(2),
        "{stdout}{stderr}\n--- imported ---\n{topology}"
    );
    let blk = crate::harness::block(
        &stdout,
        r#"openbao[root].database_connection["database/pg"]"#,
    )
    .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        crate::harness::norm(&blk).contains("~ password = (unverified) -> (sensitive value)"),
        "{blk}"
    );
    assert!(
        stdout.contains("0 to add, 1 to change, 0 to destroy."),
        "only the unverifiable password differs: {stdout}\n--- imported ---\n{topology}"
    );
    let (code, stdout, stderr) = with_env(&["plan", "--adopt", "--detailed-exitcode"]);
    assert_eq!(
        code,
        Some(0),
        "{stdout}{stderr}\n--- imported ---\n{topology}"
    );
    assert!(stdout.contains("No changes."), "{stdout}");
    let (code, stdout, stderr) = with_env(&["apply", "--adopt", "--auto-approve"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = with_env(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code,
        Some(0),
        "after --adopt the baseline is recorded: {stdout}{stderr}"
    );
}

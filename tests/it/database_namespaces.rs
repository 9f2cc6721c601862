//! The database engine against a real PostgreSQL (credentials that really log in, a write-only
//! root password compared by fingerprint, root rotation that never re-sends a stale password),
//! and namespaces (convergence, tenant isolation through each tenant's own AppRole, nesting,
//! drift inside a namespace, and a prune that refuses to delete a namespace holding objects
//! aegisctl does not manage).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{AuditRequest, Bao, Run, bao_bin, block, norm, s, topology};
use crate::postgres::{Postgres, SUPERUSER};

// ---------------------------------------------------------------------------------------------
// helpers

/// Runs aegisctl against `bao` with the given `env:` inputs.
fn ctl(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = bao.aegisctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run aegisctl");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ctl_ok(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let run = ctl(bao, env, args);
    assert_eq!(
        run.code,
        Some(0),
        "aegisctl {args:?} should succeed:\n{run}"
    );
    run
}

/// `plan --detailed-exitcode` exits 0 and says "No changes.".
fn assert_no_changes(bao: &Bao, env: &[(&str, &str)], file: &Path) -> Run {
    let run = ctl(bao, env, &["plan", "--detailed-exitcode", s(file)]);
    assert_eq!(
        run.code,
        Some(0),
        "plan --detailed-exitcode should find nothing to do:\n{run}"
    );
    assert!(run.stdout.contains("No changes."), "{run}");
    run
}

/// Addresses named by `# openbao[...] ...` heading lines.
fn reported(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("# openbao["))
        .map(|l| l.trim_start_matches("# ").to_owned())
        .collect()
}

fn writes_outside_ledger(reqs: &[AuditRequest]) -> Vec<&AuditRequest> {
    reqs.iter()
        .filter(|r| r.is_write() && !r.path.starts_with("aegisctl/"))
        .collect()
}

/// The `bao` CLI with another token (e.g. one minted through an AppRole).
fn bao_as(bao: &Bao, token: &str, args: &[&str]) -> Output {
    Command::new(bao_bin())
        .args(args)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", token)
        .env_remove("BAO_NAMESPACE")
        .output()
        .expect("run bao")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Mints `database/creds/ROLE` and returns (username, password).
fn mint(bao: &Bao, role: &str) -> (String, String) {
    let v = bao.read_json(&format!("database/creds/{role}"));
    let user = v["data"]["username"].as_str().expect("username").to_owned();
    let pass = v["data"]["password"].as_str().expect("password").to_owned();
    (user, pass)
}

/// Logs in to PostgreSQL with minted credentials and checks `current_user` is that user.
fn assert_logs_in(pg: &Postgres, user: &str, pass: &str) {
    let out = pg.psql(user, pass, "select current_user");
    assert!(
        out.status.success(),
        "minted credentials for {user} should log in to PostgreSQL: {}",
        text(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), user);
}

// ---------------------------------------------------------------------------------------------
// the database engine

const CONNECTION: &str = r#"openbao[root].database_connection["database/aegis-db"]"#;
const DB_ROLE: &str = r#"openbao[root].database_role["database/agent-role"]"#;
const DB_MOUNT: &str = r#"openbao[root].mount["database"]"#;

/// A database mount with one connection (as `USER`, password from `env:PG_ROOT_PASSWORD`,
/// `EXTRA` lines appended) and one dynamic role.
fn database_topology(port: u16, user: &str, extra: &str) -> String {
    format!(
        r#"version: 1
openbao:
  ledger: aegisctl
  secrets:
    database:
      type: database
      connections:
        aegis-db:
          plugin_name: postgresql-database-plugin
          connection_url: "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{port}/postgres"
          username: {user}
          password: env:PG_ROOT_PASSWORD
          allowed_roles: [agent-role]
{extra}      roles:
        agent-role:
          db_name: aegis-db
          creation_statements:
            - CREATE ROLE "{{{{name}}}}" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}';
          default_ttl: 1h
          max_ttl: 24h
"#
    )
}

#[test]
fn database_engine_mints_working_credentials_and_a_new_password_is_one_sensitive_change() {
    let pg = Postgres::start();
    let bao = Bao::start();
    let yaml = database_topology(pg.port, SUPERUSER, "");
    assert!(yaml.contains("postgresql://{{username}}:{{password}}@127.0.0.1:"));
    let file = topology(&bao, "db", &yaml);
    let old = pg.password.clone();
    let env_old = [("PG_ROOT_PASSWORD", old.as_str())];

    let apply = ctl_ok(&bao, &env_old, &["apply", "--auto-approve", s(&file)]);
    assert!(
        apply
            .stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{apply}"
    );
    for addr in [DB_MOUNT, CONNECTION, DB_ROLE] {
        assert!(apply.stdout.contains(addr), "{addr} not in:\n{apply}");
    }
    assert!(!apply.all().contains(&old), "the password leaked:\n{apply}");

    // The server holds what the file says (the password is never returned).
    let conn = bao.read_json("database/config/aegis-db");
    assert_eq!(conn["data"]["plugin_name"], "postgresql-database-plugin");
    assert_eq!(
        conn["data"]["connection_details"]["username"], SUPERUSER,
        "{conn}"
    );
    assert_eq!(
        conn["data"]["allowed_roles"],
        serde_json::json!(["agent-role"])
    );
    let role = bao.read_json("database/roles/agent-role");
    assert_eq!(role["data"]["default_ttl"], 3600, "{role}");
    assert_eq!(role["data"]["max_ttl"], 86400, "{role}");

    assert_no_changes(&bao, &env_old, &file);

    // The credentials it mints really log in.
    let (user, pass) = mint(&bao, "agent-role");
    assert_logs_in(&pg, &user, &pass);

    // The operator rotates the database password and updates the input: exactly one change,
    // one attribute, no value.
    let new = "pg-rotated-9d41be77";
    pg.psql_ok(&format!("ALTER ROLE {SUPERUSER} WITH PASSWORD '{new}'"));
    let env_new = [("PG_ROOT_PASSWORD", new)];
    let plan = ctl(&bao, &env_new, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(
        plan.code,
        Some(2),
        "a changed password should plan a change:\n{plan}"
    );
    assert_eq!(
        reported(&plan.stdout),
        vec![format!("{CONNECTION} will be updated in-place")],
        "only the connection should change:\n{plan}"
    );
    let blk = block(&plan.stdout, CONNECTION).expect("the connection's block");
    let lines: Vec<String> = blk.lines().skip(1).map(norm).collect();
    assert_eq!(
        lines,
        vec![
            r#"~ database_connection "database/aegis-db" {"#.to_owned(),
            "~ password = (sensitive value)".to_owned(),
            "}".to_owned(),
        ],
        "the block should change the password and nothing else:\n{plan}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );
    for secret in [old.as_str(), new] {
        assert!(!plan.all().contains(secret), "a password leaked:\n{plan}");
    }

    // The same in JSON: one change, the password null and listed as sensitive.
    let json = ctl(&bao, &env_new, &["plan", "--json", s(&file)]);
    assert_eq!(json.code, Some(0), "{json}");
    for secret in [old.as_str(), new] {
        assert!(!json.all().contains(secret), "a password leaked:\n{json}");
    }
    let doc: Value = serde_json::from_str(&json.stdout).expect("plan --json is one JSON document");
    let changes = doc["changes"].as_array().expect("changes array");
    assert_eq!(changes.len(), 1, "{doc:#}");
    assert_eq!(changes[0]["address"], CONNECTION, "{doc:#}");
    assert!(
        changes[0]["sensitive_paths"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("password")))),
        "password should be listed in sensitive_paths: {doc:#}"
    );

    // Applying it sends the new password; afterwards nothing to do and creds still work.
    let mark = bao.audit_mark();
    let apply = ctl_ok(&bao, &env_new, &["apply", "--auto-approve", s(&file)]);
    assert!(!apply.all().contains(new), "the password leaked:\n{apply}");
    let reqs = bao.audit_requests()[mark..].to_vec();
    let writes = writes_outside_ledger(&reqs);
    assert_eq!(
        writes.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        vec!["database/config/aegis-db"],
        "the apply should write the connection and nothing else: {writes:#?}"
    );
    assert_no_changes(&bao, &env_new, &file);
    let (user, pass) = mint(&bao, "agent-role");
    assert_logs_in(&pg, &user, &pass);
    // The connection kept its other settings.
    let conn = bao.read_json("database/config/aegis-db");
    assert_eq!(
        conn["data"]["allowed_roles"],
        serde_json::json!(["agent-role"])
    );
    assert_eq!(conn["data"]["plugin_name"], "postgresql-database-plugin");
}

#[test]
fn rotate_root_rotates_once_and_never_resends_the_password() {
    let pg = Postgres::start();
    let initial = "vr1-initial-5e0c";
    pg.psql_ok(&format!(
        "CREATE ROLE vaultroot WITH LOGIN SUPERUSER PASSWORD '{initial}'"
    ));
    let check = pg.psql("vaultroot", initial, "select current_user");
    assert!(
        check.status.success(),
        "vaultroot should log in: {}",
        text(&check)
    );

    let bao = Bao::start();
    let file = topology(
        &bao,
        "rotate",
        &database_topology(pg.port, "vaultroot", "          rotate_root: true\n"),
    );
    let env1 = [("PG_ROOT_PASSWORD", initial)];

    let mark = bao.audit_mark();
    let apply = ctl_ok(&bao, &env1, &["apply", "--auto-approve", s(&file)]);
    assert!(
        !apply.all().contains(initial),
        "the password leaked:\n{apply}"
    );
    let first: Vec<AuditRequest> = bao.audit_requests()[mark..].to_vec();
    let config_writes: Vec<_> = first
        .iter()
        .filter(|r| r.is_write() && r.path == "database/config/aegis-db")
        .collect();
    assert_eq!(
        config_writes.len(),
        1,
        "the connection should be written once: {first:#?}"
    );
    let rotations: Vec<_> = first
        .iter()
        .filter(|r| r.is_write() && r.path == "database/rotate-root/aegis-db")
        .collect();
    assert_eq!(
        rotations.len(),
        1,
        "the root should be rotated once: {first:#?}"
    );
    let pos = |p: &str| first.iter().position(|r| r.is_write() && r.path == p);
    assert!(
        pos("database/config/aegis-db") < pos("database/rotate-root/aegis-db"),
        "rotation must follow the connection's creation: {first:#?}"
    );

    // The file's password no longer logs in: only OpenBao knows the root credential now.
    let old_login = pg.psql("vaultroot", initial, "select 1");
    assert!(
        !old_login.status.success(),
        "the rotated-away password still logs in"
    );
    assert!(
        text(&old_login).contains("password authentication failed"),
        "{}",
        text(&old_login)
    );
    // ... and OpenBao still mints working credentials with the rotated one.
    let (user, pass) = mint(&bao, "agent-role");
    assert_logs_in(&pg, &user, &pass);

    assert_no_changes(&bao, &env1, &file);

    // A second apply sends nothing that could carry the password.
    let mark = bao.audit_mark();
    ctl_ok(&bao, &env1, &["apply", "--auto-approve", s(&file)]);
    let second = bao.audit_requests()[mark..].to_vec();
    let to_config: Vec<_> = second
        .iter()
        .filter(|r| r.is_write() && r.path.starts_with("database/config/"))
        .collect();
    assert!(
        to_config.is_empty(),
        "the second apply wrote the connection: {to_config:#?}"
    );
    assert!(
        writes_outside_ledger(&second).is_empty(),
        "a converged apply should write only to the ledger: {:#?}",
        writes_outside_ledger(&second)
    );

    // A changed password input is not a change: the tool never re-sends a (stale) password.
    let env2 = [("PG_ROOT_PASSWORD", "vr2-changed-input-71aa")];
    assert_no_changes(&bao, &env2, &file);
    let mark = bao.audit_mark();
    ctl_ok(&bao, &env2, &["apply", "--auto-approve", s(&file)]);
    let third = bao.audit_requests()[mark..].to_vec();
    assert!(
        writes_outside_ledger(&third).is_empty(),
        "an apply with a new password input after rotation wrote: {:#?}",
        writes_outside_ledger(&third)
    );
    let (user, pass) = mint(&bao, "agent-role");
    assert_logs_in(&pg, &user, &pass);
}

// ---------------------------------------------------------------------------------------------
// namespaces

const ACME_KEY: &str = "acme-api-key-41c9e0";
const ENTB_KEY: &str = "entb-api-key-8d27f3";
const NS_ENV: [(&str, &str); 2] = [("ACME_API_KEY", ACME_KEY), ("ENTB_API_KEY", ENTB_KEY)];

/// One tenant namespace's body: a kv-v2 mount `secret` with one secret, a `reader` policy and an
/// AppRole role `app`. `extra` is appended inside the namespace (indented by the caller).
fn tenant(name: &str, key_env: &str, extra: &str) -> String {
    format!(
        r#"    {name}:
      custom_metadata: {{ tenant: {name} }}
      policies:
        reader: |
          path "secret/data/*" {{ capabilities = ["read"] }}
      auth:
        approle:
          type: approle
          roles:
            app:
              token_policies: [reader]
              token_ttl: 1h
      secrets:
        secret:
          type: kv-v2
          kv:
            app/config:
              api_key: env:{key_env}
{extra}"#
    )
}

const TEAM_X: &str =
    "      namespaces:\n        team-x:\n          secrets:\n            kv: { type: kv-v2 }\n";

fn namespaces_topology(acme: bool, entb: bool) -> String {
    let mut y = String::from("version: 1\nopenbao:\n  ledger: aegisctl\n  namespaces:\n");
    if acme {
        y.push_str(&tenant("tenant-acme", "ACME_API_KEY", TEAM_X));
    }
    if entb {
        y.push_str(&tenant("tenant-enterprise-b", "ENTB_API_KEY", ""));
    }
    y
}

/// A server with both tenants (and tenant-acme/team-x) applied.
fn tenants_converged() -> (Bao, PathBuf) {
    let bao = Bao::start();
    let file = topology(&bao, "tenants", &namespaces_topology(true, true));
    ctl_ok(&bao, &NS_ENV, &["apply", "--auto-approve", s(&file)]);
    (bao, file)
}

/// Logs in through NAMESPACE's AppRole role `app`; returns the client token.
fn approle_login(bao: &Bao, ns: &str) -> String {
    let nsflag = format!("-namespace={ns}");
    let role_id = bao
        .bao_ok(&[
            "read",
            &nsflag,
            "-field=role_id",
            "auth/approle/role/app/role-id",
        ])
        .trim()
        .to_owned();
    let secret_id = bao
        .bao_ok(&[
            "write",
            &nsflag,
            "-f",
            "-field=secret_id",
            "auth/approle/role/app/secret-id",
        ])
        .trim()
        .to_owned();
    let token = bao
        .bao_ok(&[
            "write",
            &nsflag,
            "-field=token",
            "auth/approle/login",
            &format!("role_id={role_id}"),
            &format!("secret_id={secret_id}"),
        ])
        .trim()
        .to_owned();
    assert!(!token.is_empty(), "no token from {ns}'s AppRole login");
    token
}

fn namespace_exists(bao: &Bao, path: &str) -> bool {
    let (parent, name) = match path.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, path),
    };
    let mut args = vec!["read".to_owned(), "-format=json".to_owned()];
    if let Some(p) = parent {
        args.push(format!("-namespace={p}"));
    }
    args.push(format!("sys/namespaces/{name}"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bao.bao(&args).status.success()
}

#[test]
fn namespaces_converge_with_their_own_addresses_and_nesting() {
    let bao = Bao::start();
    let file = topology(&bao, "tenants", &namespaces_topology(true, true));

    let plan = ctl(&bao, &NS_ENV, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    let expected = [
        r#"openbao[root].namespace["tenant-acme"]"#,
        r#"openbao[root].namespace["tenant-enterprise-b"]"#,
        r#"openbao[tenant-acme].policy["reader"]"#,
        r#"openbao[tenant-enterprise-b].policy["reader"]"#,
        r#"openbao[tenant-acme].auth["approle"]"#,
        r#"openbao[tenant-acme].approle_role["approle/app"]"#,
        r#"openbao[tenant-enterprise-b].approle_role["approle/app"]"#,
        r#"openbao[tenant-acme].mount["secret"]"#,
        r#"openbao[tenant-acme].kv_secret["secret/app/config"]"#,
        r#"openbao[tenant-enterprise-b].kv_secret["secret/app/config"]"#,
        r#"openbao[tenant-acme].namespace["team-x"]"#,
        r#"openbao[tenant-acme/team-x].mount["kv"]"#,
    ];
    let created = reported(&plan.stdout);
    for addr in expected {
        assert!(
            created.contains(&format!("{addr} will be created")),
            "{addr} should be created:\n{plan}"
        );
    }
    // 2 tenants × (namespace, policy, auth mount, role, kv mount, secret) + team-x and its mount.
    assert_eq!(created.len(), 14, "{plan}");
    assert!(
        plan.stdout
            .contains("Plan: 14 to add, 0 to change, 0 to destroy."),
        "{plan}"
    );
    assert!(
        !plan.all().contains(ACME_KEY) && !plan.all().contains(ENTB_KEY),
        "a KV value leaked:\n{plan}"
    );

    let apply = ctl_ok(&bao, &NS_ENV, &["apply", "--auto-approve", s(&file)]);
    assert!(
        !apply.all().contains(ACME_KEY) && !apply.all().contains(ENTB_KEY),
        "a KV value leaked:\n{apply}"
    );
    assert_no_changes(&bao, &NS_ENV, &file);

    // What the server holds, namespace by namespace.
    for ns in ["tenant-acme", "tenant-enterprise-b", "tenant-acme/team-x"] {
        assert!(namespace_exists(&bao, ns), "namespace {ns} missing");
    }
    let meta = bao.read_json("sys/namespaces/tenant-acme");
    assert_eq!(
        meta["data"]["custom_metadata"]["tenant"], "tenant-acme",
        "{meta}"
    );
    let mounts: Value = serde_json::from_str(&bao.bao_ok(&[
        "secrets",
        "list",
        "-namespace=tenant-acme/team-x",
        "-format=json",
    ]))
    .expect("mounts json");
    assert_eq!(mounts["kv/"]["type"], "kv", "{mounts}");
    assert_eq!(mounts["kv/"]["options"]["version"], "2", "{mounts}");
    // Nothing leaked to the root: the tenants' policies and AppRole live only in their namespaces.
    assert!(
        !bao.bao(&["read", "sys/policies/acl/reader"])
            .status
            .success()
    );
    assert!(!bao.bao(&["read", "auth/approle/role/app"]).status.success());
    let role: Value = serde_json::from_str(&bao.bao_ok(&[
        "read",
        "-namespace=tenant-acme",
        "-format=json",
        "auth/approle/role/app",
    ]))
    .expect("role json");
    assert_eq!(
        role["data"]["token_policies"],
        serde_json::json!(["reader"]),
        "{role}"
    );
    assert_eq!(role["data"]["token_ttl"], 3600, "{role}");
}

#[test]
fn a_tenant_approle_token_reads_its_own_secret_and_not_its_siblings() {
    let (bao, file) = tenants_converged();
    assert_no_changes(&bao, &NS_ENV, &file);

    let acme = approle_login(&bao, "tenant-acme");
    let own = bao_as(
        &bao,
        &acme,
        &[
            "kv",
            "get",
            "-namespace=tenant-acme",
            "-field=api_key",
            "secret/app/config",
        ],
    );
    assert!(
        own.status.success(),
        "tenant-acme's token should read its secret: {}",
        text(&own)
    );
    assert_eq!(String::from_utf8_lossy(&own.stdout).trim(), ACME_KEY);

    // The sibling's secret: through the namespace header, and through the full path from the root.
    for args in [
        &[
            "read",
            "-namespace=tenant-enterprise-b",
            "secret/data/app/config",
        ][..],
        &["read", "tenant-enterprise-b/secret/data/app/config"][..],
        &[
            "kv",
            "get",
            "-namespace=tenant-enterprise-b",
            "secret/app/config",
        ][..],
    ] {
        let out = bao_as(&bao, &acme, args);
        assert!(
            !out.status.success(),
            "tenant-acme's token read tenant-enterprise-b's secret with {args:?}: {}",
            text(&out)
        );
        // `bao kv get` fails in its preflight with a bare 403; the direct reads say "permission denied".
        assert!(
            text(&out).contains("Code: 403"),
            "{args:?} should be denied with a 403: {}",
            text(&out)
        );
        assert!(!text(&out).contains(ENTB_KEY), "{}", text(&out));
    }

    // And the other way round: enterprise-b's own token reads its own, not acme's.
    let entb = approle_login(&bao, "tenant-enterprise-b");
    let own = bao_as(
        &bao,
        &entb,
        &[
            "kv",
            "get",
            "-namespace=tenant-enterprise-b",
            "-field=api_key",
            "secret/app/config",
        ],
    );
    assert!(own.status.success(), "{}", text(&own));
    assert_eq!(String::from_utf8_lossy(&own.stdout).trim(), ENTB_KEY);
    let other = bao_as(
        &bao,
        &entb,
        &["read", "-namespace=tenant-acme", "secret/data/app/config"],
    );
    assert!(!other.status.success(), "{}", text(&other));
    assert!(
        text(&other).to_lowercase().contains("permission denied"),
        "{}",
        text(&other)
    );
}

#[test]
fn drift_inside_a_namespace_is_reported_with_its_address_and_apply_fixes_it() {
    let (bao, file) = tenants_converged();
    // The dev server's own `secret/` mount at the root is not managed: remove it for a clean start.
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let clean = ctl(&bao, &NS_ENV, &["drift", s(&file)]);
    assert_eq!(
        clean.code,
        Some(0),
        "a fresh apply should leave no drift:\n{clean}"
    );
    assert!(clean.stdout.contains("No drift."), "{clean}");

    bao.bao_ok(&[
        "write",
        "-namespace=tenant-acme",
        "auth/approle/role/app",
        "token_ttl=2h",
    ]);
    let addr = r#"openbao[tenant-acme].approle_role["approle/app"]"#;
    let drift = ctl(&bao, &NS_ENV, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "drift should exit 2:\n{drift}");
    assert!(
        drift.stdout.contains("Changed outside aegisctl:"),
        "{drift}"
    );
    assert_eq!(
        reported(&drift.stdout),
        vec![format!("{addr} changed outside aegisctl")],
        "only tenant-acme's role should be reported:\n{drift}"
    );
    let blk = block(&drift.stdout, addr).expect("the role's block");
    assert!(
        norm(&blk).contains(&norm(r#"~ token_ttl = "1h" -> "2h""#)),
        "{blk}\n\n{drift}"
    );

    // tenant-enterprise-b's role of the same name is untouched and not reported.
    let plan = ctl(&bao, &NS_ENV, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert_eq!(
        reported(&plan.stdout),
        vec![format!("{addr} will be updated in-place")],
        "{plan}"
    );

    let mark = bao.audit_mark();
    ctl_ok(&bao, &NS_ENV, &["apply", "--auto-approve", s(&file)]);
    let writes: Vec<AuditRequest> = writes_outside_ledger(&bao.audit_requests()[mark..])
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        writes.len(),
        1,
        "only the role should be written: {writes:#?}"
    );
    assert_eq!(writes[0].path, "auth/approle/role/app", "{writes:#?}");
    assert_eq!(
        writes[0].namespace.trim_end_matches('/'),
        "tenant-acme",
        "{writes:#?}"
    );

    let role: Value = serde_json::from_str(&bao.bao_ok(&[
        "read",
        "-namespace=tenant-acme",
        "-format=json",
        "auth/approle/role/app",
    ]))
    .expect("role json");
    assert_eq!(role["data"]["token_ttl"], 3600, "{role}");
    let after = ctl(&bao, &NS_ENV, &["drift", s(&file)]);
    assert_eq!(after.code, Some(0), "{after}");
    assert!(after.stdout.contains("No drift."), "{after}");
}

#[test]
fn pruning_a_namespace_holding_unmanaged_objects_is_refused_until_they_are_gone() {
    let (bao, _file) = tenants_converged();
    bao.bao_ok(&[
        "write",
        "-namespace=tenant-enterprise-b",
        "sys/policies/acl/handmade",
        r#"policy=path "secret/data/handmade" { capabilities = ["read"] }"#,
    ]);

    // tenant-enterprise-b leaves the file.
    let file = topology(&bao, "acme-only", &namespaces_topology(true, false));
    let plan = ctl(&bao, &NS_ENV, &["plan", "--prune", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(
        reported(&plan.stdout).contains(
            &r#"openbao[root].namespace["tenant-enterprise-b"] will be destroyed"#.to_owned()
        ),
        "the namespace should be planned for destruction:\n{plan}"
    );
    assert!(
        plan.stdout.contains("object(s) aegisctl does not manage"),
        "the plan should already warn that the prune will be refused:\n{plan}"
    );
    let mark = bao.audit_mark();

    let refused = ctl(
        &bao,
        &NS_ENV,
        &["apply", "--prune", "--auto-approve", s(&file)],
    );
    assert_eq!(
        refused.code,
        Some(1),
        "the prune should be refused:\n{refused}"
    );
    let msg = refused.all();
    assert!(
        msg.contains("object(s) aegisctl does not manage"),
        "the refusal should say why:\n{refused}"
    );
    assert!(msg.contains("tenant-enterprise-b"), "{refused}");
    // Refused means refused: nothing inside the namespace was destroyed on the way.
    let writes: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.is_write() && !r.path.starts_with("aegisctl/"))
        .cloned()
        .collect();
    assert!(writes.is_empty(), "a refused prune wrote {writes:?}");
    bao.bao_ok(&[
        "read",
        "-namespace=tenant-enterprise-b",
        "sys/policies/acl/reader",
    ]);
    assert!(
        msg.contains("handmade"),
        "the refusal should name what is left:\n{refused}"
    );
    assert!(
        namespace_exists(&bao, "tenant-enterprise-b"),
        "the namespace was deleted despite the refusal"
    );
    bao.bao_ok(&[
        "read",
        "-namespace=tenant-enterprise-b",
        "sys/policies/acl/handmade",
    ]);
    assert!(namespace_exists(&bao, "tenant-acme"));

    // Once the hand-made object is gone, the prune goes through.
    bao.bao_ok(&[
        "delete",
        "-namespace=tenant-enterprise-b",
        "sys/policies/acl/handmade",
    ]);
    let pruned = ctl_ok(
        &bao,
        &NS_ENV,
        &["apply", "--prune", "--auto-approve", s(&file)],
    );
    assert!(
        !namespace_exists(&bao, "tenant-enterprise-b"),
        "the namespace should be gone:\n{pruned}"
    );
    let list = bao.bao_ok(&["list", "-format=json", "sys/namespaces"]);
    assert!(!list.contains("tenant-enterprise-b"), "{list}");
    assert!(namespace_exists(&bao, "tenant-acme"));
    assert!(namespace_exists(&bao, "tenant-acme/team-x"));
    let run = ctl(
        &bao,
        &NS_ENV,
        &["plan", "--prune", "--detailed-exitcode", s(&file)],
    );
    assert_eq!(
        run.code,
        Some(0),
        "nothing left to do after the prune:\n{run}"
    );
    assert!(run.stdout.contains("No changes."), "{run}");
}

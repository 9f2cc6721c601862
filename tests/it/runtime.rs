//! `aegisctl run` / `aegisctl env` against the real OpenBao and the real PostgreSQL: the issue's
//! proofs 1–5 and the failure path. The child processes are small shell scripts that write what
//! they saw into the test's directory.

use crate::harness::Run;
use crate::runtime_common::{Fixture, SEARCH_KEY, WEB_SEARCH, read, sigterm};

/// A child that records its variables' names (not values), the database login it was given, and
/// whether that login worked against the real PostgreSQL.
fn child_script(pg_port: u16) -> String {
    format!(
        "env | cut -d= -f1 | sort > names; printf %s \"$DB_USER\" > user; printf %s \"$DB_PASSWORD\" > pass; \
         printf %s \"$SEARCH_API_KEY\" > search; \
         PGPASSWORD=\"$DB_PASSWORD\" PGCONNECT_TIMEOUT=10 psql -X -h 127.0.0.1 -p {pg_port} -U \"$DB_USER\" -d postgres -tAc 'select current_user' > who 2> psql.err"
    )
}

#[test]
fn run_hands_a_leased_database_login_to_the_process_and_revokes_it_at_exit() {
    let fx = Fixture::start("", WEB_SEARCH);
    let out = fx
        .ctl()
        .args([
            "run",
            "topology.yaml",
            "--profile",
            "web-search",
            "--reason",
            "proof 1",
            "--",
        ])
        .args(["sh", "-c", &child_script(fx.pg.port)])
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    let (user, pass) = (read(&fx.path("user")), read(&fx.path("pass")));
    assert!(
        !user.is_empty() && !pass.is_empty(),
        "the child got no login"
    );
    // Proof 1: the process connected with the leased credential...
    assert_eq!(
        read(&fx.path("who")),
        user,
        "psql: {}",
        read(&fx.path("psql.err"))
    );
    assert_eq!(read(&fx.path("search")), SEARCH_KEY);
    // ...and once it exited the lease was revoked: the role no longer logs in.
    assert!(
        !fx.pg_login(&user, &pass),
        "the leased login still works after the run"
    );
    fx.assert_nothing_leased();

    // Proof 2: no OpenBao credential reached the child.
    let names = read(&fx.path("names"));
    let names: Vec<&str> = names.lines().collect();
    for expected in [
        "DB_PASSWORD",
        "DB_USER",
        "LOG_LEVEL",
        "SEARCH_API_KEY",
        "PATH",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    for withheld in [
        "BAO_TOKEN",
        "VAULT_TOKEN",
        "RT_ROLE_ID",
        "RT_SECRET_ID",
        "SOPS_AGE_KEY",
    ] {
        assert!(
            !names.contains(&withheld),
            "{withheld} reached the child: {names:?}"
        );
    }

    // The audit record: who, what, the lease — locally and in OpenBao — and no value.
    let audit = std::fs::read_to_string(fx.path("runtime-audit.jsonl")).expect("audit file");
    let record: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(record["profile"], "web-search");
    assert_eq!(record["reason"], "proof 1");
    assert_eq!(record["program"], "sh");
    assert_eq!(record["who"]["login"], "approle approle/runner");
    assert!(!record["who"]["accessor"].as_str().unwrap().is_empty());
    let lease_id = record["leases"][0]["lease_id"].as_str().unwrap();
    assert!(
        lease_id.starts_with("database/creds/agent-role/"),
        "{record}"
    );
    let vars = record["variables"].as_array().unwrap();
    let db_user = vars.iter().find(|v| v["name"] == "DB_USER").unwrap();
    assert_eq!(db_user["lease_id"], lease_id);
    assert_eq!(
        db_user["source"],
        "lease:database/creds/agent-role#username"
    );
    for secret in [&user, &pass, &SEARCH_KEY.to_owned(), &fx.secret_id] {
        assert!(
            !audit.contains(secret.as_str()),
            "a value is in the audit file"
        );
    }
    let docs = fx
        .bao
        .bao_ok(&["kv", "list", "-format=json", "aegisctl/runtime-audit"]);
    assert!(
        docs.contains("\"vm") || docs.contains('/'),
        "no audit document: {docs}"
    );

    // The runner's token was revoked too: nothing of aegisctl's lives on.
    let accessor = record["who"]["accessor"].as_str().unwrap();
    let lookup = fx.bao.bao(&[
        "write",
        "auth/token/lookup-accessor",
        &format!("accessor={accessor}"),
    ]);
    assert!(
        !lookup.status.success(),
        "aegisctl's token outlived the run"
    );
}

#[test]
fn scopes_narrowest_wins_and_removing_the_workspace_value_falls_back_to_the_team() {
    let profiles = r#"    scoped:
      env:
        LOG_LEVEL: debug
    explicit:
      env:
        SHARED: explicit-value"#;
    let fx = Fixture::start("", profiles);
    let env_json = |profile: &str| {
        let mark = fx.bao.audit_mark();
        let out = fx
            .ctl()
            .args(["env", "topology.yaml", "--profile", profile])
            .args(["--scope", "acme/platform/search", "--format", "json"])
            .output()
            .expect("env");
        let run = Run::from(out);
        assert_eq!(run.code, Some(0), "{run}");
        let scope_reads = fx.bao.audit_requests()[mark..]
            .iter()
            .filter(|r| r.path.starts_with("scoped/"))
            .count();
        (
            serde_json::from_str::<serde_json::Value>(&run.stdout).expect("json"),
            scope_reads,
        )
    };
    let (v, reads) = env_json("scoped");
    assert_eq!(v["SHARED"], "from-workspace");
    assert_eq!(v["TEAM_ONLY"], "team-value");
    assert_eq!(v["ORG_ONLY"], "org-value");
    assert_eq!(v["LOG_LEVEL"], "debug");
    assert_eq!(reads, 3, "one request per scope level");
    // The profile's own variable wins over every scope.
    assert_eq!(env_json("explicit").0["SHARED"], "explicit-value");

    fx.bao.bao_ok(&[
        "kv",
        "metadata",
        "delete",
        "scoped/workspace/acme/platform/search",
    ]);
    assert_eq!(env_json("scoped").0["SHARED"], "from-team");

    // --explain says where each name came from, and what it overrode; never a value.
    let out = fx
        .ctl()
        .args([
            "env",
            "topology.yaml",
            "--profile",
            "scoped",
            "--scope",
            "acme/platform/search",
            "--explain",
        ])
        .output()
        .expect("explain");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    let shared = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("SHARED"))
        .unwrap();
    assert!(shared.contains("team/acme/platform"), "{run}");
    assert!(run.stdout.contains("overrides: scope org/acme"), "{run}");
    assert!(
        !run.all().contains("from-team"),
        "a value in --explain: {run}"
    );
}

#[test]
fn sigterm_to_aegisctl_stops_the_process_and_revokes_its_lease() {
    let fx = Fixture::start("", WEB_SEARCH);
    let ctl = fx.spawn(
        &[],
        &[
        "run",
        "topology.yaml",
        "--profile",
        "web-search",
        "--",
        "sh",
        "-c",
        "printf %s \"$DB_USER\" > user.tmp; printf %s \"$DB_PASSWORD\" > pass; mv user.tmp user; exec sleep 300",
    ]);
    fx.wait_for("user");
    let (user, pass) = (read(&fx.path("user")), read(&fx.path("pass")));
    assert!(
        fx.pg_login(&user, &pass),
        "the lease should work while the process runs"
    );
    sigterm(&ctl);
    let out = ctl.wait_with_output().expect("aegisctl exits");
    // The child died of the forwarded SIGTERM: aegisctl exits as the shell would, 128 + 15.
    assert_eq!(out.status.code(), Some(143), "{}", Run::from(out));
    assert!(!fx.pg_login(&user, &pass), "the lease outlived the SIGTERM");
    fx.assert_nothing_leased();
}

#[test]
fn an_unresolvable_reference_fails_before_the_process_starts_and_leaves_nothing_leased() {
    let profiles = r#"    broken:
      env:
        DB_USER: lease:database/creds/agent-role#username
        SEARCH_API_KEY: vault:kv/tools/search-api-key#value
        MISSING: vault:kv/tools/search-api-key#nope"#;
    let fx = Fixture::start("", profiles);
    let out = fx
        .ctl()
        .args([
            "run",
            "topology.yaml",
            "--profile",
            "broken",
            "--",
            "sh",
            "-c",
            "touch started",
        ])
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!fx.path("started").exists(), "the process was started");
    assert!(
        run.stderr
            .contains("MISSING = vault:kv/tools/search-api-key#nope"),
        "{run}"
    );
    assert!(run.stderr.contains("no key `nope`"), "{run}");
    assert!(
        !run.all().contains(SEARCH_KEY),
        "a value in the error: {run}"
    );
    // The lease minted in parallel was revoked.
    fx.assert_nothing_leased();
}

#[test]
fn a_canary_reaches_the_child_and_nothing_else() {
    let canary = "canary-runtime-5e1d0b77";
    let extra = format!("        canary/app: {{ token: {canary} }}");
    let profiles = r#"    canary:
      env:
        APP_TOKEN: vault:kv/canary/app#token
        DB_PASSWORD: lease:database/creds/agent-role#password
        DB_LOGIN: lease:database/creds/agent-role
    canary-broken:
      env:
        APP_TOKEN: vault:kv/canary/app#token
        OTHER: vault:kv/canary/app#missing"#;
    let fx = Fixture::start(&extra, profiles);
    let mut seen = String::new();
    let mut outputs = Vec::new();
    let mut run = |args: &[&str]| {
        let out = fx.ctl().args(args).output().expect("aegisctl");
        let r = Run::from(out);
        outputs.push(format!("{args:?}\n{r}"));
        r
    };
    let r = run(&[
        "-vv",
        "run",
        "topology.yaml",
        "--profile",
        "canary",
        "--",
        "sh",
        "-c",
        "printf %s \"$APP_TOKEN\" > got; printf %s \"$DB_LOGIN\" > login.json",
    ]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(
        read(&fx.path("got")),
        canary,
        "the child must receive the canary"
    );
    let login: serde_json::Value = serde_json::from_str(&read(&fx.path("login.json"))).unwrap();
    assert!(
        login["username"].is_string() && login["password"].is_string(),
        "{login}"
    );
    let password = login["password"].as_str().unwrap().to_owned();
    run(&[
        "-vv",
        "env",
        "topology.yaml",
        "--profile",
        "canary",
        "--explain",
    ]);
    run(&[
        "-vv",
        "env",
        "topology.yaml",
        "--profile",
        "canary",
        "--out",
        "out.env",
    ]);
    run(&[
        "-vv",
        "run",
        "topology.yaml",
        "--profile",
        "canary-broken",
        "--",
        "true",
    ]);
    run(&["audit", "runtime-audit.jsonl"]);
    run(&["audit", "runtime-audit.jsonl", "--json"]);
    run(&["plan", "topology.yaml", "--json"]);
    for o in &outputs {
        seen.push_str(o);
    }
    seen.push_str(&std::fs::read_to_string(fx.path("runtime-audit.jsonl")).unwrap());
    let docs = fx
        .bao
        .bao_ok(&["kv", "list", "-format=json", "aegisctl/runtime-audit"]);
    seen.push_str(&docs);
    assert!(!seen.contains(canary), "the canary leaked:\n{seen}");
    assert!(!seen.contains(&password), "a leased password leaked");
    // The written file has it (that is its job), with mode 0600.
    let written = std::fs::read_to_string(fx.path("out.env")).unwrap();
    assert!(written.contains(canary));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(fx.path("out.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

//! Leases and logins over time, against the real OpenBao and PostgreSQL: a lease renewed while
//! the process lives (its credential outlives its first TTL) up to its max TTL, with warnings; a
//! given token used, renewed but never revoked; `env` leaving its lease to the TTL and saying so.

use crate::harness::Run;
use crate::runtime_common::{Fixture, SEARCH_KEY, WEB_SEARCH, read, sigterm};

#[test]
fn a_lease_is_renewed_while_the_process_runs_until_its_max_ttl_with_warnings() {
    let profiles = r#"    short:
      env:
        DB_USER: lease:database/creds/short-role#username
        DB_PASSWORD: lease:database/creds/short-role#password"#;
    let fx = Fixture::start("", profiles);
    // The credential's first TTL is 6 s: at 9 s it works only if aegisctl renewed it.
    let script = format!(
        "sleep 9; PGPASSWORD=\"$DB_PASSWORD\" PGCONNECT_TIMEOUT=5 psql -X -h 127.0.0.1 -p {} -U \"$DB_USER\" -d postgres -tAc 'select 1' > at9 2> at9.err; sleep 6",
        fx.pg.port
    );
    let out = fx
        .ctl()
        .args([
            "run",
            "topology.yaml",
            "--profile",
            "short",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        read(&fx.path("at9")),
        "1",
        "not renewed: {}",
        read(&fx.path("at9.err"))
    );
    assert!(run.stderr.contains("reached its max TTL"), "{run}");
    assert!(run.stderr.contains("cannot be renewed further"), "{run}");
    fx.assert_nothing_leased();
}

#[test]
fn the_token_is_renewed_while_the_process_runs_so_its_leases_live_on() {
    let fx = Fixture::start("", WEB_SEARCH);
    // A login whose token lives 5 s: when it expires, OpenBao revokes every lease it created.
    let role_id = fx.bao.bao_ok(&[
        "read",
        "-field=role_id",
        "auth/approle/role/runner-short/role-id",
    ]);
    let secret_id = fx.bao.bao_ok(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/runner-short/secret-id",
    ]);
    std::fs::write(
        fx.path("short.yaml"),
        "version: 1\nruntime:\n  login:\n    approle: runner-short\n    role_id: env:SHORT_ROLE_ID\n    secret_id: env:SHORT_SECRET_ID\n  profiles:\n    p:\n      env:\n        DB_USER: lease:database/creds/agent-role#username\n        DB_PASSWORD: lease:database/creds/agent-role#password\n",
    )
    .unwrap();
    let script = format!(
        "sleep 8; PGPASSWORD=\"$DB_PASSWORD\" PGCONNECT_TIMEOUT=5 psql -X -h 127.0.0.1 -p {} -U \"$DB_USER\" -d postgres -tAc 'select 1' > at8 2> at8.err",
        fx.pg.port
    );
    let out = fx
        .ctl()
        .env("SHORT_ROLE_ID", role_id.trim())
        .env("SHORT_SECRET_ID", secret_id.trim())
        .args([
            "run",
            "short.yaml",
            "--profile",
            "p",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        read(&fx.path("at8")),
        "1",
        "token not renewed: {}",
        read(&fx.path("at8.err"))
    );
    fx.assert_nothing_leased();
}

#[test]
fn a_given_token_is_used_and_left_alive() {
    let fx = Fixture::start("", WEB_SEARCH);
    // A runtime that logs in with a token, in a topology that declares no mounts: the KV
    // mount is found by asking OpenBao.
    fx.token_topology(&["SEARCH_API_KEY: vault:kv/tools/search-api-key#value"]);
    let token = fx.bao.bao_ok(&[
        "token",
        "create",
        "-policy=runner",
        "-ttl=10m",
        "-field=token",
    ]);
    let token = token.trim();
    let out = fx
        .ctl()
        .env("RT_TOKEN", token)
        .args(["run", "token.yaml", "--profile", "p", "--", "sh", "-c"])
        .arg("printf %s \"$SEARCH_API_KEY\" > got; env | cut -d= -f1 > names")
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(read(&fx.path("got")), SEARCH_KEY);
    assert!(!read(&fx.path("names")).lines().any(|n| n == "RT_TOKEN"));
    let lookup = fx.bao.bao(&["token", "lookup", token]);
    assert!(
        lookup.status.success(),
        "a token aegisctl did not create was revoked"
    );
    let audit = std::fs::read_to_string(fx.path("runtime-audit.jsonl")).unwrap();
    assert!(audit.contains("\"login\":\"token\""), "{audit}");
    assert!(!audit.contains(token));
}

#[test]
fn env_leaves_its_lease_to_the_ttl_and_says_so() {
    let fx = Fixture::start("", WEB_SEARCH);
    let out = fx
        .ctl()
        .args([
            "env",
            "topology.yaml",
            "--profile",
            "web-search",
            "--format",
            "shell",
        ])
        .output()
        .expect("env");
    let run = Run::from(out);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains("# lease database/creds/agent-role/"),
        "{run}"
    );
    assert!(
        run.stdout.contains("is not revoked by `aegisctl env`"),
        "{run}"
    );
    assert!(
        run.stderr.contains("is not revoked by `aegisctl env`"),
        "{run}"
    );
    assert_eq!(
        fx.live_leases().len(),
        1,
        "the lease must stay for the process that uses it"
    );
    // The exported login works from a shell that sources the output.
    std::fs::write(fx.path("creds.sh"), &run.stdout).unwrap();
    let check = std::process::Command::new("sh")
        .arg("-c")
        .arg(". ./creds.sh; printf '%s\\n%s' \"$DB_USER\" \"$DB_PASSWORD\"")
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    let (user, pass) = text.split_once('\n').unwrap();
    assert!(fx.pg_login(user, pass), "the exported login does not work");
}

#[test]
fn a_sigterm_while_the_profile_is_resolved_stops_the_start_and_revokes_the_lease() {
    use crate::fault_proxy::{Fault, FaultKind, FaultProxy};
    let fx = Fixture::start("", WEB_SEARCH);
    let proxy = FaultProxy::start(&fx.bao.addr);
    // The KV read is refused (and retried) until the test lets it through: by then the
    // lease was minted and aegisctl has a SIGTERM waiting.
    proxy.add_fault(Fault::new(FaultKind::UnavailableBefore).contains("kv/data/tools"));
    let ctl = fx.spawn(
        &[("BAO_ADDR", &proxy.addr)],
        &[
            "run",
            "topology.yaml",
            "--profile",
            "web-search",
            "--",
            "touch",
            "started",
        ],
    );
    let t = std::time::Instant::now();
    while proxy.matching("GET", "database/creds").is_empty()
        || proxy.matching("GET", "kv/data/tools").is_empty()
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "no requests"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sigterm(&ctl);
    proxy.clear();
    let out = ctl.wait_with_output().expect("aegisctl exits");
    let run = Run::from(out);
    assert_eq!(run.code, Some(143), "{run}");
    assert!(
        run.stderr
            .contains("stopped by SIGTERM before the process started"),
        "{run}"
    );
    assert!(!fx.path("started").exists(), "the process was started");
    fx.assert_nothing_leased();
}

#[test]
fn an_access_that_cannot_be_audited_in_openbao_is_not_handed_over() {
    let fx = Fixture::start("", WEB_SEARCH);
    // A policy like the runner's, without `create` on the audit records.
    let hcl = "path \"kv/data/*\" { capabilities = [\"read\"] }\npath \"database/creds/agent-role\" { capabilities = [\"read\"] }\npath \"sys/leases/revoke\" { capabilities = [\"update\"] }\n";
    std::fs::write(fx.path("no-audit.hcl"), hcl).unwrap();
    fx.bao.bao_ok(&[
        "policy",
        "write",
        "no-audit",
        &fx.path("no-audit.hcl").display().to_string(),
    ]);
    let token = fx.bao.bao_ok(&[
        "token",
        "create",
        "-policy=no-audit",
        "-ttl=10m",
        "-field=token",
    ]);
    fx.token_topology(&[
        "SEARCH_API_KEY: vault:kv/tools/search-api-key#value",
        "DB_USER: lease:database/creds/agent-role#username",
    ]);
    let out = fx
        .ctl()
        .env("RT_TOKEN", token.trim())
        .args([
            "run",
            "token.yaml",
            "--profile",
            "p",
            "--",
            "touch",
            "started",
        ])
        .output()
        .expect("run");
    let run = Run::from(out);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .contains("cannot write the audit record aegisctl/runtime-audit/"),
        "{run}"
    );
    assert!(!fx.path("started").exists(), "the process was started");
    fx.assert_nothing_leased();
}

#[test]
fn a_refused_out_file_is_found_before_anything_is_leased_or_recorded() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::start("", WEB_SEARCH);
    let loose = fx.path("loose.env");
    std::fs::write(&loose, "OLD=1\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&loose, fx.path("link.env")).unwrap();
    for target in ["loose.env", "link.env"] {
        let out = fx
            .ctl()
            .args([
                "env",
                "topology.yaml",
                "--profile",
                "web-search",
                "--out",
                target,
            ])
            .output()
            .expect("env");
        let run = Run::from(out);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stderr.contains("will not overwrite"), "{run}");
    }
    assert_eq!(std::fs::read_to_string(&loose).unwrap(), "OLD=1\n");
    assert!(fx.live_leases().is_empty(), "leased for a refused file");
    assert!(
        !fx.path("runtime-audit.jsonl").exists(),
        "an access recorded that never happened"
    );
}

#[test]
fn openbao_dying_while_the_process_runs_costs_warnings_not_the_processs_status() {
    let mut fx = Fixture::start("", WEB_SEARCH);
    let ctl = fx.spawn(
        &[],
        &[
            "--retry-budget",
            "3",
            "run",
            "topology.yaml",
            "--profile",
            "web-search",
            "--",
            "sh",
            "-c",
            "touch ready; sleep 3; exit 3",
        ],
    );
    fx.wait_for("ready");
    fx.bao.kill();
    let run = Run::from(ctl.wait_with_output().expect("aegisctl exits"));
    assert_eq!(
        run.code,
        Some(3),
        "the process's status, whatever OpenBao does: {run}"
    );
    assert!(
        run.stderr
            .contains("could not revoke lease database/creds/agent-role/"),
        "{run}"
    );
    assert!(run.stderr.contains("end at their TTL"), "{run}");
    assert!(!run.all().contains(SEARCH_KEY));
}

#[test]
fn lost_answers_to_the_audit_write_and_the_token_revocation_are_ridden_through() {
    use crate::fault_proxy::{Fault, FaultKind, FaultProxy};
    let fx = Fixture::start("", WEB_SEARCH);
    let proxy = FaultProxy::start(&fx.bao.addr);
    // OpenBao does both, then the answers are lost. The audit record cannot be sent again
    // (a create-only policy refuses a second write to it), so it is written once more beside
    // the first; the retried revocation meets a token that is gone (403): done.
    proxy.add_fault(
        Fault::new(FaultKind::LostAnswer)
            .contains("aegisctl/data/runtime-audit")
            .first(1),
    );
    proxy.add_fault(
        Fault::new(FaultKind::LostAnswer)
            .contains("auth/token/revoke-self")
            .first(1),
    );
    let run = fx.run(
        &[("BAO_ADDR", &proxy.addr)],
        &[
            "run",
            "topology.yaml",
            "--profile",
            "web-search",
            "--",
            "true",
        ],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!run.stderr.contains("could not revoke"), "{run}");
    assert_eq!(
        proxy.matching("POST", "aegisctl/data/runtime-audit").len(),
        2
    );
    assert_eq!(proxy.matching("POST", "auth/token/revoke-self").len(), 2);
    // One record, in OpenBao as locally; the token is gone; nothing is leased.
    let audit = std::fs::read_to_string(fx.path("runtime-audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1);
    let record: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&fx.audit_doc(&record)).unwrap();
    assert_eq!(doc["data"]["data"], record);
    let listed = fx.run(&[], &["audit", "topology.yaml", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
    assert_eq!(
        listed["records"],
        serde_json::json!([record]),
        "one record, listed once"
    );
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
    fx.assert_nothing_leased();
}

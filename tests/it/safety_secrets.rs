//! Secrets the server will not show back (issue 8, points 8 and 13), against a real PostgreSQL:
//! a `connection_url` with a password in it is sensitive everywhere (human and JSON plans,
//! `-vvv` logs, plan files, server errors), converges although OpenBao answers it masked, and a
//! new password in it is one sensitive change; a write-only `password` of a connection made by
//! hand is `(unverified)` until an apply sends it, or `--adopt` records the server's as the
//! baseline without sending it.

use crate::harness::{Bao, Run, block, norm, s, topology};
use crate::postgres::Postgres;
use crate::safety_util::{assert_no_changes, ctl, ctl_ok, reported, since, writes_outside_ledger};

const CANARY: &str = "canary-url-pw-7d3f19";
const CANARY_2: &str = "canary-url-pw-2-e80c44";
const CONN: &str = r#"openbao[root].database_connection["database/pg"]"#;

fn url_topology(port: u16, password: &str) -> String {
    format!(
        r#"version: 1
openbao:
  secrets:
    database:
      type: database
      connections:
        pg:
          plugin_name: postgresql-database-plugin
          connection_url: "postgresql://vault:{password}@127.0.0.1:{port}/postgres"
          allowed_roles: [dyn]
"#
    )
}

/// No stream of `run` holds `secret`.
fn assert_hidden(run: &Run, secret: &str) {
    assert!(!run.all().contains(secret), "the password leaked:\n{run}");
}

#[test]
fn a_connection_url_with_a_password_is_sensitive_everywhere_and_converges() {
    let pg = Postgres::start();
    let bao = Bao::start();
    pg.psql_ok(&format!(
        "CREATE ROLE vault WITH LOGIN SUPERUSER PASSWORD '{CANARY}'"
    ));
    let file = topology(&bao, "url", &url_topology(pg.port, CANARY));

    for args in [
        vec!["plan", "--detailed-exitcode"],
        vec!["plan", "--json"],
        vec!["-vvv", "plan"],
    ] {
        let mut args = args.clone();
        args.push(s(&file));
        let run = ctl(&bao, &[], &args);
        assert!(
            run.code == Some(2) || run.code == Some(0),
            "{args:?}:\n{run}"
        );
        assert_hidden(&run, CANARY);
    }
    let plan = ctl(&bao, &[], &["plan", s(&file)]);
    let blk = norm(&block(&plan.stdout, CONN).unwrap_or_else(|| panic!("{plan}")));
    assert!(
        blk.contains("+ connection_url = (sensitive value)"),
        "{blk}"
    );
    let plan_file = bao.dir.path().join("url.plan");
    ctl_ok(&bao, &[], &["plan", "-out", s(&plan_file), s(&file)]);
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!saved.contains(CANARY), "the password is in the plan file");

    let run = ctl_ok(&bao, &[], &["-vvv", "apply", s(&plan_file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert_hidden(&run, CANARY);
    // OpenBao answers the URL masked; the connection really works.
    let conn = bao.read_json("database/config/pg");
    let answered = conn["data"]["connection_details"]["connection_url"].to_string();
    assert!(
        answered.contains("xxxxx") && !answered.contains(CANARY),
        "{conn}"
    );
    bao.bao_ok(&["write", "-f", "database/reset/pg"]);

    // Masked or not, nothing differs.
    assert_no_changes(&bao, &[], &file);
    let drift = ctl(&bao, &[], &["drift", s(&file)]);
    assert!(!drift.stdout.contains(CONN), "{drift}");
    assert_hidden(&drift, CANARY);

    // A new password in the URL: one sensitive change, and it converges again.
    pg.psql_ok(&format!("ALTER ROLE vault WITH PASSWORD '{CANARY_2}'"));
    let file = topology(&bao, "url", &url_topology(pg.port, CANARY_2));
    let run = ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(
        reported(&run.stdout),
        vec![format!("{CONN} will be updated in-place")]
    );
    let blk = norm(&block(&run.stdout, CONN).unwrap());
    assert!(
        blk.contains("~ connection_url = (sensitive value)"),
        "{blk}"
    );
    assert_hidden(&run, CANARY_2);
    assert_hidden(&run, CANARY);
    let run = ctl_ok(&bao, &[], &["-vvv", "apply", "--auto-approve", s(&file)]);
    assert_hidden(&run, CANARY_2);
    assert_no_changes(&bao, &[], &file);

    // Import writes the URL as a placeholder, never the masked text OpenBao answers.
    let out = bao.dir.path().join("imported");
    let run = ctl_ok(&bao, &[], &["import", "openbao", "--out", s(&out)]);
    let imported = std::fs::read_to_string(out.join("topology.yaml")).unwrap();
    assert!(
        !imported.contains("xxxxx") && !imported.contains(CANARY_2),
        "{imported}"
    );
    assert!(
        imported.contains("connection_url: env:") && run.stdout.contains("connection URL"),
        "{imported}\n{run}"
    );

    // A wrong password in the URL: the server refuses, and its error shows no password.
    let wrong = "wrong-url-pw-41aa09";
    let file = topology(&bao, "url", &url_topology(pg.port, wrong));
    let run = ctl(&bao, &[], &["-vvv", "apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains("Apply failed") && !run.all().contains("Apply complete!"),
        "{run}"
    );
    assert_hidden(&run, wrong);
    let run = ctl(&bao, &[], &["apply", "--json", "--auto-approve", s(&file)]);
    assert_hidden(&run, wrong);
}

fn conn_topology(port: u16, names: &[&str]) -> String {
    let mut y = String::from(
        "version: 1\nopenbao:\n  secrets:\n    database:\n      type: database\n      connections:\n",
    );
    for n in names {
        y.push_str(&format!(
            "        {n}:\n          plugin_name: postgresql-database-plugin\n          connection_url: \"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{port}/postgres\"\n          username: postgres\n          password: env:PG_PASSWORD\n"
        ));
    }
    y
}

/// `bao write database/config/NAME ...`: a connection made by hand.
fn by_hand(bao: &Bao, pg: &Postgres, name: &str) {
    bao.bao_ok(&[
        "write",
        &format!("database/config/{name}"),
        "plugin_name=postgresql-database-plugin",
        &format!(
            "connection_url=postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres",
            pg.port
        ),
        "username=postgres",
        &format!("password={}", pg.password),
    ]);
}

fn conn_writes(bao: &Bao, mark: usize, name: &str) -> usize {
    writes_outside_ledger(&since(bao, mark))
        .iter()
        .filter(|r| r.path == format!("database/config/{name}"))
        .count()
}

fn assert_unverified(run: &Run, address: &str) {
    let blk = block(&run.stdout, address).unwrap_or_else(|| panic!("{address}:\n{run}"));
    assert!(
        norm(&blk).contains("~ password = (unverified) -> (sensitive value)"),
        "{blk}"
    );
}

#[test]
fn a_write_only_password_never_set_by_aegisctl_is_unverified_until_sent_or_adopted() {
    let pg = Postgres::start();
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "enable", "database"]);
    by_hand(&bao, &pg, "adopted");
    let env = [("PG_PASSWORD", pg.password.as_str())];
    let file = topology(&bao, "hand", &conn_topology(pg.port, &["adopted"]));
    let adopted = r#"openbao[root].database_connection["database/adopted"]"#;

    let plan = ctl(&bao, &env, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert_unverified(&plan, adopted);
    assert!(!plan.all().contains(&pg.password));

    // --adopt: the server's password is the baseline; nothing is sent to the connection.
    let mark = bao.audit_mark();
    let run = ctl_ok(
        &bao,
        &env,
        &["apply", "--adopt", "--auto-approve", s(&file)],
    );
    assert!(!run.all().contains(&pg.password), "{run}");
    assert_eq!(
        conn_writes(&bao, mark, "adopted"),
        0,
        "--adopt must not send the password"
    );
    assert_no_changes(&bao, &env, &file);

    // Without --adopt, apply sends it (and then knows it).
    by_hand(&bao, &pg, "sent");
    let file = topology(&bao, "hand", &conn_topology(pg.port, &["adopted", "sent"]));
    let sent = r#"openbao[root].database_connection["database/sent"]"#;
    let plan = ctl(&bao, &env, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(
        reported(&plan.stdout),
        vec![format!("{sent} will be updated in-place")]
    );
    assert_unverified(&plan, sent);
    let mark = bao.audit_mark();
    ctl_ok(&bao, &env, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(
        conn_writes(&bao, mark, "sent"),
        1,
        "apply must send the password"
    );
    assert_eq!(conn_writes(&bao, mark, "adopted"), 0);
    assert_no_changes(&bao, &env, &file);
    check_logs_in(&bao);
}

/// The ledger entry of `address` as an apply killed between sending and recording leaves it:
/// pending, without fingerprints (written over the shard that holds it, with check-and-set).
fn forget_fingerprints(bao: &Bao, address: &str) {
    let shard = crate::background::shards(bao)
        .into_iter()
        .find(|s| s.entries.contains_key(address))
        .unwrap_or_else(|| panic!("no shard holds {address}"));
    let mut entries = shard.entries.clone();
    let entry = entries.get_mut(address).expect("the entry");
    entry.as_object_mut().expect("an object").remove("fp");
    entry["pending"] = serde_json::json!(true);
    let meta: serde_json::Value = serde_json::from_str(&bao.bao_ok(&[
        "kv",
        "metadata",
        "get",
        "-format=json",
        &format!("aegisctl/shards/{}", shard.key),
    ]))
    .expect("metadata json");
    let version = meta["data"]["current_version"].as_u64().expect("version");
    let body = serde_json::json!({
        "options": { "cas": version },
        "data": {
            "format": 3,
            "namespace": shard.namespace,
            "part": shard.part,
            "resources": serde_json::to_string(&entries).expect("entries"),
        },
    });
    crate::safety_util::curl(
        bao,
        "POST",
        &format!("aegisctl/data/shards/{}", shard.key),
        Some(&body.to_string()),
    );
}

#[test]
fn drift_shows_a_password_the_ledger_holds_no_fingerprint_of_as_unverified() {
    let pg = Postgres::start();
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "enable", "database"]);
    let env = [("PG_PASSWORD", pg.password.as_str())];
    let file = topology(&bao, "crash", &conn_topology(pg.port, &["pg"]));
    ctl_ok(&bao, &env, &["apply", "--auto-approve", s(&file)]);
    // (The dev server's own `secret/` mount is reported as not managed: exit 2 throughout.)
    let drift = ctl(&bao, &env, &["drift", s(&file)]);
    assert!(!drift.stdout.contains(CONN), "{drift}");

    // As after an apply killed before it recorded what it sent: the ledger knows the
    // connection but not what its password was.
    forget_fingerprints(&bao, CONN);
    let drift = ctl(&bao, &env, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert_unverified(&drift, CONN);
    assert!(!drift.all().contains(&pg.password));
    let plan = ctl(&bao, &env, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert_unverified(&plan, CONN);

    // Never adopted silently: the apply sends it, and from then on it is known again.
    let mark = bao.audit_mark();
    ctl_ok(&bao, &env, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(
        conn_writes(&bao, mark, "pg"),
        1,
        "apply must send the password"
    );
    let drift = ctl(&bao, &env, &["drift", s(&file)]);
    assert!(!drift.stdout.contains(CONN), "{drift}");
    assert_no_changes(&bao, &env, &file);
}

/// The connections still work (the password sent was the right one).
fn check_logs_in(bao: &Bao) {
    for name in ["adopted", "sent"] {
        bao.bao_ok(&["write", "-f", &format!("database/reset/{name}")]);
    }
}

//! The apply lock under a lease: a dead holder (killed on this host, or silent past its lease)
//! never blocks the next apply, a live one is never pushed aside without `--force`, a long
//! apply keeps its lock by renewing it, an apply whose lock is forced away stops starting
//! changes, and of two applies racing on a fresh server exactly one runs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::background::{Background, generated, ledger_entries, lock_holder, roles};
use crate::harness::{Bao, Run, assert_no_changes, ctl, ctl_ok, s, topology};

const LEASE_VAR: &str = "AEGISCTL_LOCK_LEASE_SECONDS";
const HELD: &str = "another apply holds the lock";

const POLICY: &str = "version: 1\nopenbao:\n  policies:\n    reader: |\n      path \"secret/*\" { capabilities = [\"TTT\"] }\n";

/// A one-policy topology whose policy grants `capability`.
fn policy_file(bao: &Bao, dir: &str, capability: &str) -> std::path::PathBuf {
    topology(bao, dir, &POLICY.replace("TTT", capability))
}

fn policy_text(bao: &Bao) -> String {
    bao.read_json("sys/policies/acl/reader")["data"]["policy"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// aegisctl with extra environment variables, captured.
fn ctl_env(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = bao.aegisctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.args(args).output().expect("run aegisctl"))
}

/// This host's name as aegisctl finds it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("/proc/sys/kernel/hostname")
        .trim()
        .to_owned()
}

fn rfc3339(unix: u64) -> String {
    aegisctl::clock::rfc3339(unix)
}

fn now() -> u64 {
    aegisctl::clock::now_unix()
}

/// Writes the lock document as another aegisctl would have.
fn put_lock(bao: &Bao, data: Value) {
    let body = bao.dir.path().join("lock.json");
    std::fs::write(&body, json!({ "data": data }).to_string()).expect("write lock body");
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            &format!("X-Vault-Token: {}", bao.token),
            "--data-binary",
            &format!("@{}", body.display()),
            &format!("{}/v1/aegisctl/data/lock", bao.addr),
        ])
        .status()
        .expect("curl");
    assert!(out.success(), "writing the lock document failed");
}

/// The lock document's data and version.
fn lock_doc(bao: &Bao) -> (Value, u64) {
    let v = bao.read_json("aegisctl/data/lock");
    (
        v["data"]["data"].clone(),
        v["data"]["metadata"]["version"].as_u64().unwrap_or(0),
    )
}

fn other_host_lock(expires: u64) -> Value {
    json!({
        "holder": "alice", "host": "ops-host", "pid": 7,
        "since": "2026-01-01T00:00:00Z", "run": "00aa11bb22cc33dd",
        "expires": rfc3339(expires),
    })
}

#[test]
fn a_killed_apply_does_not_block_the_next_apply_on_this_host() {
    let bao = Bao::start();
    let file = generated(&bao, 2000, "big");
    let mut bg = Background::start(
        &bao,
        &["apply", "--auto-approve", "--parallelism", "4", s(&file)],
    );
    let pid = bg.pid();
    bg.wait_until("the first AppRole role exists", |_| !roles(&bao).is_empty());
    bg.signal("KILL");
    let killed = bg.wait();
    assert_eq!(killed.code, None, "killed by a signal:\n{killed}");
    assert!(
        !lock_holder(&bao).is_empty(),
        "a killed apply leaves its lock"
    );

    // The default lease (60 s) has not run out: its process being gone is what frees it.
    let next = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    let took_over = format!("pid {pid} since ");
    assert!(
        next.stderr.contains("took over the apply lock held by")
            && next.stderr.contains(&took_over)
            && next.stderr.contains(&format!("its process {pid} is gone")),
        "the takeover names the old holder ({took_over}):\n{}",
        &next.stderr[..next.stderr.len().min(3000)]
    );
    assert!(next.stdout.contains("Apply complete!"), "{next}");
    assert_no_changes(&bao, &file, &[]);
    assert_eq!(lock_holder(&bao), "", "the lock is given back");
}

#[test]
fn an_expired_lock_is_taken_over_and_a_live_one_is_refused() {
    let bao = Bao::start();
    ctl_ok(
        &bao,
        &[
            "apply",
            "--auto-approve",
            s(&policy_file(&bao, "v1", "read")),
        ],
    );
    let v2 = policy_file(&bao, "v2", "list");

    // Another host's apply with a live lease: refused, naming it, and nothing is written.
    put_lock(&bao, other_host_lock(now() + 600));
    let (_, version) = lock_doc(&bao);
    let mark = bao.audit_mark();
    let refused = ctl(&bao, &["apply", "--auto-approve", s(&v2)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused.stderr.contains(&format!(
            "{HELD}: alice@ops-host pid 7, since 2026-01-01T00:00:00Z; its lease expires at "
        )),
        "{refused}"
    );
    assert!(refused.stderr.contains("aegisctl unlock"), "{refused}");
    let writes: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.is_write())
        .cloned()
        .collect();
    assert!(writes.is_empty(), "a refused apply wrote: {writes:#?}");
    assert_eq!(lock_doc(&bao).1, version);
    assert!(policy_text(&bao).contains("read"));

    // Its lease ran out: taken over with a warning naming it, and the apply runs.
    let expired = now() - 5;
    put_lock(&bao, other_host_lock(expired));
    let next = ctl_ok(&bao, &["apply", "--auto-approve", s(&v2)]);
    assert!(
        next.stderr.contains(&format!(
            "took over the apply lock held by alice@ops-host pid 7 since 2026-01-01T00:00:00Z: its lease expired at {}",
            rfc3339(expired)
        )),
        "{next}"
    );
    assert!(policy_text(&bao).contains("list"));
    assert_eq!(lock_holder(&bao), "");
}

#[test]
fn unlock_refuses_a_live_holder_without_force() {
    let bao = Bao::start();
    let file = policy_file(&bao, "v1", "read");
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);

    // A live process on this host (this test) with a lease that has not run out.
    let pid = std::process::id();
    let live = json!({
        "holder": "bob", "host": hostname(), "pid": pid, "since": rfc3339(now()),
        "run": "0123456789abcdef", "expires": rfc3339(now() + 600),
    });
    put_lock(&bao, live.clone());
    let refused = ctl(&bao, &["unlock", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    let who = format!("bob@{} pid {pid}", hostname());
    assert!(
        refused.stderr.contains(&who),
        "names the holder {who}:\n{refused}"
    );
    assert!(refused.stderr.contains("--force"), "{refused}");
    assert_eq!(lock_doc(&bao).0, live, "the lock is left as it was");

    let forced = ctl_ok(&bao, &["unlock", "--force", s(&file)]);
    assert!(
        forced
            .stdout
            .contains(&format!("Released the lock held by {who} since ")),
        "{forced}"
    );
    assert!(forced.stderr.contains("next heartbeat"), "{forced}");
    assert_eq!(lock_holder(&bao), "");

    // A lease that ran out needs no --force, and the message says why.
    put_lock(&bao, other_host_lock(now() - 5));
    let released = ctl_ok(&bao, &["unlock", s(&file)]);
    assert!(
        released
            .stdout
            .contains("Released the lock held by alice@ops-host pid 7 since 2026-01-01T00:00:00Z: its lease expired at "),
        "{released}"
    );
    assert!(
        ctl_ok(&bao, &["unlock", s(&file)])
            .stdout
            .contains("The lock was not held.")
    );
}

/// Waits until the lock taken by the apply in `bg` is at least `age` old, the apply still
/// running.
fn hold_for(bao: &Bao, bg: &mut Background, age: Duration) {
    // Before the apply creates the ledger mount, the lock cannot even be read.
    let held = |bao: &Bao| {
        bao.bao(&["kv", "get", "-format=json", "aegisctl/lock"])
            .status
            .success()
            && !lock_holder(bao).is_empty()
    };
    bg.wait_until("the apply takes the lock", |_| held(bao));
    let taken = Instant::now();
    bg.wait_until("the lock outlives its lease", |_| taken.elapsed() >= age);
}

#[test]
fn a_long_apply_keeps_its_lock_past_the_lease() {
    let bao = Bao::start();
    let file = generated(&bao, 4000, "big");
    let env = [(LEASE_VAR, "3")];
    let mut bg = Background::start_with_env(
        &bao,
        &env,
        &["apply", "--auto-approve", "--parallelism", "1", s(&file)],
    );
    hold_for(&bao, &mut bg, Duration::from_millis(4500));
    let (first, version) = lock_doc(&bao);
    let refused = ctl_env(&bao, &env, &["apply", "--auto-approve", s(&file)]);
    assert!(
        bg.running(),
        "the apply ended before the check: make it longer"
    );
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(refused.stderr.contains(HELD), "{refused}");
    assert!(!refused.stderr.contains("took over"), "{refused}");
    assert!(version > 2, "renewed every second: version {version}");
    let since = first["since"].as_str().unwrap_or_default();
    let expires = first["expires"].as_str().unwrap_or_default();
    assert!(expires > since, "the lease moves on: {first}");

    let run = bg.wait();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert_eq!(lock_holder(&bao), "");
}

#[test]
fn unlock_force_stops_a_running_apply_at_its_next_heartbeat() {
    let bao = Bao::start();
    let file = generated(&bao, 4000, "a");
    let env = [(LEASE_VAR, "3")];
    let mut bg = Background::start_with_env(
        &bao,
        &env,
        &["apply", "--auto-approve", "--parallelism", "1", s(&file)],
    );
    bg.wait_until("the first AppRole role exists", |_| !roles(&bao).is_empty());
    ctl_ok(&bao, &["unlock", "--force", s(&file)]);
    let run = bg.wait();
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(
            "the apply lock was released by someone else (`aegisctl unlock --force`): no new change is started"
        ),
        "says why it stops:\n{}",
        &run.stderr[run.stderr.len().saturating_sub(3000)..]
    );
    assert!(
        run.stdout
            .contains("Apply stopped, the apply lock was released by someone else"),
        "{run}"
    );
    assert!(run.stdout.contains(" not started"), "{run}");
    assert!(!run.stdout.contains("Apply complete!"), "{run}");
    assert_eq!(
        lock_holder(&bao),
        "",
        "a lost lock is not written by its old holder"
    );

    // A second file over the same objects: after its apply the server is that file, not a mix.
    let text = std::fs::read_to_string(&file).expect("read topology");
    assert!(text.contains("token_ttl: 1h"));
    let b = topology(&bao, "b", &text.replace("token_ttl: 1h", "token_ttl: 3h"));
    ctl_ok(&bao, &["apply", "--auto-approve", s(&b)]);
    assert_no_changes(&bao, &b, &[]);
    assert!(
        ledger_entries(&bao)
            .values()
            .all(|e| e.get("pending").is_none()),
        "nothing left pending"
    );
}

#[test]
fn of_two_applies_racing_on_a_fresh_server_exactly_one_runs() {
    for round in 0..3 {
        let bao = Bao::start();
        let file = generated(&bao, 400, "race");
        let args = ["apply", "--auto-approve", s(&file)];
        let a = Background::start(&bao, &args);
        let b = Background::start(&bao, &args);
        let runs = [a.wait(), b.wait()];
        let won: Vec<&Run> = runs.iter().filter(|r| r.code == Some(0)).collect();
        let lost: Vec<&Run> = runs.iter().filter(|r| r.code != Some(0)).collect();
        for r in &runs {
            assert!(
                !r.stderr.contains("check-and-set") && !r.stderr.contains("already in use"),
                "round {round}: a race error instead of the lock:\n{r}"
            );
        }
        assert_eq!(won.len(), 1, "round {round}: {} + {}", runs[0], runs[1]);
        assert_eq!(lost[0].code, Some(1), "round {round}: {}", lost[0]);
        assert!(lost[0].stderr.contains(HELD), "round {round}: {}", lost[0]);
        assert_no_changes(&bao, &file, &[]);
    }
}

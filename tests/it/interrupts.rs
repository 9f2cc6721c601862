//! SIGINT during an apply: no new change starts, the ones in flight finish, the ledger is
//! written (nothing left pending), the lock is given back, the summary says what was not
//! started, exit 130 — and a re-run converges. A second SIGINT exits at once, leaving the lock
//! held until `aegisctl unlock` (or the next apply on this host) sees its process gone.

use std::path::Path;

use crate::background::{
    Background, existing_generated, generated, ledger_entries, lock_holder, names, roles,
};
use crate::harness::{Bao, Run, ctl, ctl_ok, s, topology};

/// Plan says "No changes.", and an out-of-band edit of a role shows as drift.
fn assert_converged(bao: &Bao, file: &Path, edit: &[&str], address: &str) {
    let plan = ctl(bao, &["plan", "--detailed-exitcode", s(file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
    bao.bao_ok(edit);
    let drift = ctl(bao, &["drift", s(file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(&format!("# {address} changed outside aegisctl")),
        "{drift}"
    );
}

const FIRST_SIGNAL: &str = "interrupted: no new change is started";

#[test]
fn sigint_stops_the_apply_cleanly_and_a_rerun_converges() {
    let bao = Bao::start();
    let file = generated(&bao, 2000, "big");
    let mut bg = Background::start(
        &bao,
        &["apply", "--auto-approve", "--parallelism", "4", s(&file)],
    );
    bg.wait_until("the first AppRole role exists", |_| !roles(&bao).is_empty());
    bg.signal("INT");
    let run = bg.wait();
    assert_eq!(run.code, Some(130), "{run}");
    assert!(run.stderr.contains(FIRST_SIGNAL), "{run}");
    let summary = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Apply interrupted:"))
        .unwrap_or_else(|| panic!("no \"Apply interrupted:\" summary:\n{run}"));
    assert!(summary.contains(" not started"), "{summary}");
    assert!(!run.all().contains("Apply complete!"), "{run}");
    assert!(
        run.stderr.contains(": not started\n"),
        "what did not start is listed:\n{}",
        &run.stderr[run.stderr.len().saturating_sub(2000)..]
    );

    assert_eq!(lock_holder(&bao), "", "the lock is given back");
    let entries = ledger_entries(&bao);
    let pending: Vec<_> = entries
        .iter()
        .filter(|(_, e)| e.get("pending").is_some())
        .map(|(a, _)| a)
        .collect();
    assert!(pending.is_empty(), "settled, nothing pending: {pending:?}");
    let existing = existing_generated(&bao);
    assert!(existing.len() < 1997, "interrupted halfway:\n{summary}");
    let missing: Vec<_> = existing
        .iter()
        .filter(|a| !entries.contains_key(*a))
        .collect();
    assert!(missing.is_empty(), "not in the ledger: {missing:?}");

    // No `unlock` needed: the re-run takes the lock and does the rest.
    let rerun = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(rerun.stdout.contains("Apply complete!"), "{rerun}");
    assert!(rerun.stdout.contains(", 0 destroyed."), "{rerun}");
    assert_converged(
        &bao,
        &file,
        &["write", "auth/approle/role/role-00001", "token_ttl=5h"],
        r#"openbao[root].approle_role["approle/role-00001"]"#,
    );
}

#[test]
fn a_second_sigint_exits_at_once_and_leaves_the_lock_for_unlock() {
    // RSA-4096 keys take a while to generate: changes in flight when the signals come. Their
    // generation time varies, so the writes in flight may all finish before the second signal
    // lands (the apply then ends gracefully, which is not the case under test): try again, on
    // a fresh server, up to three times.
    let (bao, file, run) = (0..3)
        .find_map(|attempt| {
            let (bao, file, run) = two_interrupts();
            let graceful = run.stdout.contains("Apply interrupted:");
            (!graceful || attempt == 2).then_some((bao, file, run))
        })
        .expect("three attempts");
    let keys = |bao: &Bao| names(bao, &["list", "-format=json", "transit/keys"]);
    assert_eq!(run.code, Some(130), "{run}");
    assert!(
        run.stderr.contains("aborted: the apply lock is still held"),
        "{run}"
    );
    assert!(
        !run.stdout.contains("Apply interrupted:") && !run.stdout.contains("Apply complete!"),
        "exited at once, without finishing:\n{run}"
    );
    let holder = lock_holder(&bao);
    assert!(!holder.is_empty(), "the lock is left held");

    // Its process is gone: `unlock` needs no --force (and the next apply would take it over).
    let unlock = ctl_ok(&bao, &["unlock", s(&file)]);
    assert!(
        unlock
            .all()
            .contains(&format!("Released the lock held by {holder}")),
        "unlock names the holder ({holder}):\n{unlock}"
    );
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(keys(&bao).len(), 6);
    assert!(
        ledger_entries(&bao)
            .values()
            .all(|e| e.get("pending").is_none()),
        "the re-run settles what the aborted one left pending"
    );
    assert_converged(
        &bao,
        &file,
        &[
            "write",
            "transit/keys/slow-0/config",
            "deletion_allowed=true",
        ],
        r#"openbao[root].transit_key["transit/slow-0"]"#,
    );
}

/// An apply of six slow Transit keys, interrupted twice while keys are being generated.
fn two_interrupts() -> (Bao, std::path::PathBuf, Run) {
    let bao = Bao::start();
    let mut yaml = String::from(
        "version: 1\nopenbao:\n  secrets:\n    transit:\n      type: transit\n      keys:\n",
    );
    for i in 0..6 {
        yaml.push_str(&format!(
            "        slow-{i}: {{ type: rsa-4096, deletion_allowed: false }}\n"
        ));
    }
    let file = topology(&bao, "slow", &yaml);
    let mut bg = Background::start(
        &bao,
        &["apply", "--auto-approve", "--parallelism", "2", s(&file)],
    );
    let keys = |bao: &Bao| names(bao, &["list", "-format=json", "transit/keys"]);
    bg.wait_until("the first Transit key exists", |_| !keys(&bao).is_empty());
    bg.signal("INT");
    bg.wait_until("the first interrupt is acknowledged", |bg| {
        bg.stderr_so_far().contains(FIRST_SIGNAL)
    });
    bg.signal("INT");
    let run = bg.wait();
    (bao, file, run)
}

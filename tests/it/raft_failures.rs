//! Servers that die, against real persistent OpenBao (raft.rs, raft_cluster.rs): a node killed
//! with SIGKILL mid-apply ends the run with a summary within the retry budget, the ledger holds
//! what was done, and after a restart the next apply takes the dead run's lock over and
//! converges; an apply through a standby converges in one run and never reads stale data back;
//! an apply pointed at a standby rides through the leader's death. Each ends with "No changes."
//! and an out-of-band edit reported by `drift`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Run, s};
use crate::raft::{RaftNode, cluster, report};

/// A generated topology (scripts/bench/gen_topology.py): mounts, policies, AppRole roles, KV
/// secrets, Transit keys.
fn generated(dir: &Path, n: usize) -> PathBuf {
    let status = Command::new("python3")
        .arg(crate::harness::repo().join("scripts/bench/gen_topology.py"))
        .arg(n.to_string())
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("python3 scripts/bench/gen_topology.py");
    assert!(status.success(), "gen_topology.py {n} failed");
    dir.join("topology.yaml")
}

fn ctl(node: &RaftNode, addr: &str, args: &[&str]) -> Run {
    Run::from(
        node.aegisctl()
            .env("BAO_ADDR", addr)
            .args(args)
            .output()
            .expect("run aegisctl"),
    )
}

/// aegisctl started in the background against `addr`, its output going to files (a pipe
/// nobody reads would fill up and stall it).
struct Bg {
    child: std::process::Child,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
}

fn background(node: &RaftNode, addr: &str, args: &[&str]) -> Bg {
    let (out, err) = (
        tempfile::NamedTempFile::new().expect("stdout file"),
        tempfile::NamedTempFile::new().expect("stderr file"),
    );
    let child = Command::new(crate::background::aegisctl_bin())
        .args(args)
        .env("BAO_ADDR", addr)
        .env("BAO_TOKEN", &node.token)
        .env("NO_COLOR", "1")
        .env_remove("BAO_NAMESPACE")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("stdout"))
        .stderr(err.reopen().expect("stderr"))
        .spawn()
        .expect("start aegisctl");
    Bg { child, out, err }
}

fn finish(mut bg: Bg) -> Run {
    let status = bg.child.wait().expect("wait for aegisctl");
    Run::from(std::process::Output {
        status,
        stdout: std::fs::read(bg.out.path()).unwrap_or_default(),
        stderr: std::fs::read(bg.err.path()).unwrap_or_default(),
    })
}

fn policies(node: &RaftNode) -> usize {
    let out = node.bao(&["policy", "list", "-format=json"]).stdout;
    serde_json::from_slice::<Vec<String>>(&out)
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Waits until at least `n` policies exist (the apply is well under way).
fn wait_policies(node: &RaftNode, n: usize) {
    let start = Instant::now();
    while policies(node) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the apply did not get going: {}",
            node.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every ledger entry's address, and those still pending, as the ledger documents hold them.
fn ledger(node: &RaftNode) -> (Vec<String>, Vec<String>) {
    let list = node.bao(&["kv", "list", "-format=json", "aegisctl/shards"]);
    let keys: Vec<String> = serde_json::from_slice(&list.stdout).unwrap_or_default();
    let (mut all, mut pending) = (Vec::new(), Vec::new());
    for key in keys {
        let out = node.bao(&[
            "kv",
            "get",
            "-format=json",
            &format!("aegisctl/shards/{key}"),
        ]);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let text = doc["data"]["data"]["resources"].as_str().unwrap_or("{}");
        let entries: Value = serde_json::from_str(text).unwrap_or_default();
        for (addr, e) in entries.as_object().into_iter().flatten() {
            all.push(addr.clone());
            if e.get("pending").is_some() {
                pending.push(addr.clone());
            }
        }
    }
    (all, pending)
}

/// The out-of-band edit every scenario ends with: `drift` reports it.
fn drift_sees_an_edit(node: &RaftNode, addr: &str, file: &Path) {
    let mut child = Command::new(crate::harness::bao_bin())
        .args(["policy", "write", "pol-00001", "-"])
        .env("BAO_ADDR", &node.addr)
        .env("BAO_TOKEN", &node.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("bao policy write");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"path \"edited/*\" { capabilities = [\"deny\"] }\n");
    }
    assert!(child.wait().expect("bao").success(), "edit the policy");
    let drift = ctl(node, addr, &["drift", s(file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(drift.stdout.contains("pol-00001"), "{drift}");
}

#[test]
fn a_node_killed_mid_apply_ends_the_run_with_a_summary_and_a_rerun_converges() {
    let mut node = RaftNode::single();
    let dir = node.dir.join("topo");
    let file = generated(&dir, 1500);
    let addr = node.addr.clone();
    let apply = background(
        &node,
        &addr,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            "--retry-budget",
            "5",
            s(&file),
        ],
    );
    wait_policies(&node, 60);
    node.kill();
    let killed_at = Instant::now();
    let run = finish(apply);
    report(&format!(
        "raft: the apply ended {:.1}s after its server was SIGKILLed (retry budget 5 s)",
        killed_at.elapsed().as_secs_f64()
    ));
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains("Apply stopped, OpenBao stopped answering"),
        "{run}"
    );
    assert!(run.stdout.contains(" not started"), "{run}");
    assert!(
        run.stdout.contains("\nNext: run `aegisctl apply` again"),
        "{run}"
    );
    assert!(!run.stdout.contains("Apply complete!"), "{run}");

    node.restart();
    node.wait_active(Duration::from_secs(60));
    // What the killed run did is in the ledger: every policy it created is owned or pending.
    let (recorded, _) = ledger(&node);
    let existing: Vec<String> = serde_json::from_slice::<Vec<String>>(
        &node.bao(&["policy", "list", "-format=json"]).stdout,
    )
    .unwrap_or_default()
    .into_iter()
    .filter(|p| p.starts_with("pol-"))
    .collect();
    assert!(!existing.is_empty());
    let unrecorded: Vec<&String> = existing
        .iter()
        .filter(|p| {
            !recorded
                .iter()
                .any(|a| a.ends_with(&format!("policy[\"{p}\"]")))
        })
        .collect();
    assert!(
        unrecorded.is_empty(),
        "created but not recorded: {unrecorded:?}"
    );

    let rerun = ctl(&node, &addr, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(rerun.code, Some(0), "{rerun}");
    assert!(rerun.stderr.contains("took over the apply lock"), "{rerun}");
    assert!(rerun.stdout.contains("Apply complete!"), "{rerun}");
    let (_, pending) = ledger(&node);
    assert!(pending.is_empty(), "nothing left pending: {pending:?}");
    let plan = ctl(&node, &addr, &["plan", s(&file)]);
    assert!(plan.stdout.contains("No changes."), "{plan}");
    drift_sees_an_edit(&node, &addr, &file);
}

#[test]
fn an_apply_through_a_standby_converges_in_one_run_and_reads_its_own_writes() {
    let cluster = cluster();
    let leader = cluster.leader_node();
    let standby = cluster.standby_addr();
    let dir = tempfile::tempdir().expect("dir");
    let file = generated(dir.path(), 400);
    let started = Instant::now();
    let run = ctl(leader, &standby, &["apply", "--auto-approve", s(&file)]);
    report(&format!(
        "raft: apply of 400 objects through a standby: {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert!(!run.stdout.contains("Inconsistent after apply"), "{run}");
    for addr in [standby.as_str(), leader.addr.as_str()] {
        let plan = ctl(leader, addr, &["plan", s(&file)]);
        assert!(plan.stdout.contains("No changes."), "via {addr}: {plan}");
    }
    drift_sees_an_edit(leader, &standby, &file);
    // Clean up for the next test on the shared cluster.
    let _ = leader.bao(&["policy", "delete", "pol-00001"]);
}

#[test]
fn an_apply_pointed_at_a_standby_rides_through_the_leaders_death() {
    let mut cluster = cluster();
    let standby = cluster.standby();
    let addr = cluster.nodes[standby].addr.clone();
    let dir = tempfile::tempdir().expect("dir");
    let file = generated(dir.path(), 1200);
    let apply = {
        let node = &cluster.nodes[standby];
        background(
            node,
            &addr,
            &["apply", "--auto-approve", "--parallelism", "4", s(&file)],
        )
    };
    wait_policies(&cluster.nodes[standby], 60);
    let killed = cluster.kill_leader();
    let killed_at = Instant::now();
    let election = cluster.wait_for_leader(Duration::from_secs(60));
    let run = finish(apply);
    report(&format!(
        "raft: leader killed mid-apply: new leader after {:.1}s, apply finished {:.1}s after the kill",
        election.as_secs_f64(),
        killed_at.elapsed().as_secs_f64()
    ));
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    let node = &cluster.nodes[standby];
    let plan = ctl(node, &addr, &["plan", s(&file)]);
    assert!(plan.stdout.contains("No changes."), "{plan}");
    drift_sees_an_edit(node, &addr, &file);
    let _ = node.bao(&["policy", "delete", "pol-00001"]);
    cluster.restart(killed);
}

#[test]
fn a_restarted_standby_plans_consistently_or_says_that_it_may_be_stale() {
    let mut cluster = cluster();
    let leader = cluster.leader().expect("a leader");
    let standby = cluster.standby();
    let dir = tempfile::tempdir().expect("dir");
    let small = generated(&dir.path().join("small"), 100);
    let big = generated(&dir.path().join("big"), 600);
    let leader_addr = cluster.nodes[leader].addr.clone();
    let run = ctl(
        &cluster.nodes[leader],
        &leader_addr,
        &["apply", "--auto-approve", s(&small)],
    );
    assert_eq!(run.code, Some(0), "{run}");
    // The standby misses a large apply, then comes back and is asked at once.
    cluster.nodes[standby].kill();
    let run = ctl(
        &cluster.nodes[leader],
        &leader_addr,
        &["apply", "--auto-approve", s(&big)],
    );
    assert_eq!(run.code, Some(0), "{run}");
    cluster.nodes[standby].restart();
    let standby_addr = cluster.nodes[standby].addr.clone();
    let plan = ctl(&cluster.nodes[standby], &standby_addr, &["plan", s(&big)]);
    let warned = plan.stderr.contains("may be stale");
    report(&format!(
        "raft: plan through a just-restarted standby: {}",
        if warned {
            "warned that it may be stale"
        } else {
            "consistent"
        }
    ));
    assert!(
        plan.stdout.contains("No changes.") || warned,
        "phantom changes from a lagging standby, without a word:\n{plan}"
    );
    let plan = ctl(&cluster.nodes[standby], &standby_addr, &["plan", s(&big)]);
    assert!(plan.stdout.contains("No changes."), "{plan}");
}

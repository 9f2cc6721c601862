//! The raft figures of docs/benchmarks.md: apply and converged-plan times through a 3-node
//! cluster with OpenBao's default raft settings, via the leader and via a standby, and how long
//! an apply pointed at a standby takes to ride through the leader's death. `#[ignore]`d: they
//! take minutes and report figures, they assert only that each run converged. Run with
//! `scripts/bench-raft.sh` (a release aegisctl through `AEGIS_TEST_BIN`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Run, s};
use crate::raft::{RaftCluster, RaftNode, report};

fn generated(dir: &Path, n: usize, namespaces: Option<usize>) -> PathBuf {
    let mut cmd = Command::new("python3");
    cmd.arg(crate::harness::repo().join("scripts/bench/gen_topology.py"))
        .arg(n.to_string())
        .arg(dir);
    if let Some(k) = namespaces {
        cmd.args(["--namespaces", &k.to_string()]);
    }
    let status = cmd.stdout(Stdio::null()).status().expect("gen_topology.py");
    assert!(status.success());
    dir.join("topology.yaml")
}

fn timed(node: &RaftNode, addr: &str, args: &[&str]) -> (Duration, Run) {
    let start = Instant::now();
    let out = node
        .aegisctl()
        .env("BAO_ADDR", addr)
        .args(args)
        .output()
        .expect("aegisctl");
    (start.elapsed(), Run::from(out))
}

fn policies(node: &RaftNode) -> usize {
    let out = node.bao(&["policy", "list", "-format=json"]).stdout;
    serde_json::from_slice::<Vec<String>>(&out).map_or(0, |v| v.len())
}

fn size() -> usize {
    std::env::var("AEGIS_RAFT_BENCH_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[test]
#[ignore = "a benchmark: scripts/bench-raft.sh"]
#[allow(clippy::zombie_processes)] // try_wait reaps it; only a panic leaves it to the runner
fn raft_bench_apply_and_plan_via_leader_and_standby_and_through_an_election() {
    let n = size();
    let mut cluster = RaftCluster::start(3);
    let dir = tempfile::tempdir().expect("dir");
    let leader = cluster.leader().expect("leader");
    let standby = cluster.standby();
    let via = [
        ("leader", leader, generated(&dir.path().join("a"), n, None)),
        (
            "standby",
            standby,
            generated(&dir.path().join("b"), n, Some(1)),
        ),
    ];
    for (label, i, file) in &via {
        let node = &cluster.nodes[*i];
        let addr = node.addr.clone();
        let (apply, run) = timed(node, &addr, &["apply", "--auto-approve", s(file)]);
        assert_eq!(run.code, Some(0), "{label}: {run}");
        let (plan, run) = timed(node, &addr, &["plan", s(file)]);
        assert!(run.stdout.contains("No changes."), "{label}: {run}");
        report(&format!(
            "raft-bench: {n} objects via the {label}: apply from empty {:.1} s, converged plan {:.2} s",
            apply.as_secs_f64(),
            plan.as_secs_f64()
        ));
    }
    // The election: an apply of 2n more objects through a standby (the first n exist from
    // above), the leader SIGKILLed once 50 new policies exist.
    let file = generated(&dir.path().join("c"), 3 * n, None);
    let node = &cluster.nodes[standby];
    let addr = node.addr.clone();
    let before = policies(node);
    let started = Instant::now();
    let out = tempfile::NamedTempFile::new().expect("out");
    let mut child = Command::new(crate::background::aegisctl_bin())
        .args(["apply", "--auto-approve", s(&file)])
        .env("BAO_ADDR", &addr)
        .env("BAO_TOKEN", &node.token)
        .env("NO_COLOR", "1")
        .env_remove("BAO_NAMESPACE")
        .stdout(out.reopen().expect("out"))
        .stderr(Stdio::null())
        .spawn()
        .expect("apply");
    let (mut killed, mut elected, mut ended) = (None, None, None);
    while ended.is_none() {
        if let Ok(Some(status)) = child.try_wait() {
            ended = Some((started.elapsed(), status));
            break;
        }
        match killed {
            None if policies(&cluster.nodes[standby]) >= before + 50 => {
                killed = Some((cluster.kill_leader(), started.elapsed()));
            }
            Some(_) if elected.is_none() && cluster.leader().is_some() => {
                elected = Some(started.elapsed());
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    let (Some((total, status)), Some((killed, kill_at))) = (ended, killed) else {
        panic!("the apply ended before the leader could be killed: {text}");
    };
    assert!(
        status.success() && text.contains("Apply complete!"),
        "{text}"
    );
    let elected = elected.unwrap_or(total);
    report(&format!(
        "raft-bench: election ridden through: leader SIGKILLed {:.1} s into an apply of {} new objects via a standby; new leader {:.1} s after the kill; the apply finished {:.1} s after the kill ({:.1} s in all)",
        kill_at.as_secs_f64(),
        2 * n,
        (elected - kill_at).as_secs_f64(),
        (total - kill_at).as_secs_f64(),
        total.as_secs_f64(),
    ));
    cluster.restart(killed);
}

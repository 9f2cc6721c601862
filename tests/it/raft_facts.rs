//! Checks of the raft infrastructure (raft.rs, raft_cluster.rs), and measurements of how
//! OpenBao 2.7.2 behaves in HA that docs/raft-notes.md records: standby reads and writes, the
//! `X-Vault-Index` / `X-Vault-Inconsistent` headers, failover timings, a sealed restarted node.
//! The two infrastructure checks run by default; the measurements are `#[ignore]`d (they take
//! minutes and measure OpenBao, not aegisctl): `cargo test --test it raft_facts -- --ignored
//! --nocapture --test-threads=1`.

use std::time::{Duration, Instant};

use crate::http_wire::{CallError, Response};
use crate::raft::{NodeOptions, RaftCluster, RaftNode, cluster, report};

const MIN: Duration = Duration::from_secs(60);

/// Status and a short body, or the transport error, for a report line.
fn brief(r: &Result<Response, CallError>) -> String {
    match r {
        Ok(r) => {
            let loc = r
                .header("location")
                .map(|l| format!(" Location: {l}"))
                .unwrap_or_default();
            let ra = r
                .header("retry-after")
                .map(|l| format!(" Retry-After: {l}"))
                .unwrap_or_default();
            let body: String = r.text().trim().chars().take(120).collect();
            format!("{}{loc}{ra} {body}", r.status)
        }
        Err(e) => format!("{e:?}"),
    }
}

fn ok(r: &Result<Response, CallError>) -> bool {
    r.as_ref().is_ok_and(|r| r.status < 300)
}

/// Writes through `node` until one succeeds; returns the elapsed time and each change of answer.
fn write_until_ok(node: &RaftNode, path: &str, limit: Duration) -> (Duration, Vec<String>) {
    let start = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    while start.elapsed() < limit {
        let r = node.call("PUT", path, &[], Some(r#"{"v":"1"}"#));
        let line = brief(&r);
        if seen.last().is_none_or(|l| !l.ends_with(&line)) {
            seen.push(format!("{:>6} ms: {line}", start.elapsed().as_millis()));
        }
        if ok(&r) {
            return (start.elapsed(), seen);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    node.fail(&format!("no write succeeded within {limit:?}: {seen:?}"))
}

fn ensure_kv(node: &RaftNode, name: &str) {
    let r = node.call(
        "POST",
        &format!("sys/mounts/{name}"),
        &[],
        Some(r#"{"type":"kv"}"#),
    );
    assert!(
        ok(&r) || brief(&r).contains("existing mount"),
        "{}",
        brief(&r)
    );
}

#[test]
fn raft_cluster_survives_a_leader_kill_and_is_healed() {
    let mut c = cluster();
    ensure_kv(c.leader_node(), "facts");
    let killed = c.kill_leader();
    let elected = c.wait_for_leader(MIN);
    let standby = c.standby();
    let (writable, answers) = write_until_ok(&c.nodes[standby], "facts/after-kill", MIN);
    report(&format!(
        "leader {} killed: new leader after {elected:?}, a write through {} succeeded after {writable:?}: {answers:#?}",
        c.nodes[killed].name, c.nodes[standby].name
    ));
    c.restart(killed);
    c.heal();
    assert!(c.nodes.iter().all(RaftNode::is_running));
    assert!(c.leader().is_some());
    let r = c.nodes[killed].get("facts/after-kill");
    assert!(r.is_ok(), "the restarted node answers: {}", brief(&r));
}

#[test]
fn raft_single_node_answers_sealed_after_a_restart_until_unsealed() {
    let mut node = RaftNode::single();
    ensure_kv(&node, "kv");
    assert!(ok(&node.call(
        "PUT",
        "kv/k",
        &[],
        Some(r#"{"v":"before"}"#)
    )));
    node.kill();
    let dead = node.get("sys/health");
    assert_eq!(
        dead.as_ref().err(),
        Some(&CallError::Refused),
        "{}",
        brief(&dead)
    );
    node.start();
    let mut lines = vec![format!("killed: {}", brief(&dead))];
    for (m, p) in [
        ("GET", "sys/health"),
        ("GET", "sys/seal-status"),
        ("GET", "sys/leader"),
        ("GET", "kv/k"),
        ("PUT", "kv/k"),
    ] {
        let r = node.call(m, p, &[], if m == "PUT" { Some("{}") } else { None });
        lines.push(format!("sealed {m} {p}: {}", brief(&r)));
        if p != "sys/seal-status" && p != "sys/health" {
            assert_eq!(
                r.as_ref().map(|r| r.status).ok(),
                Some(503),
                "{}",
                brief(&r)
            );
        }
    }
    assert_eq!(node.health(), Some(503));
    node.unseal();
    node.wait_active(MIN);
    assert_eq!(
        node.get("kv/k").expect("read").json()["data"]["v"],
        "before"
    );
    report(&lines.join("\n"));
}

fn index_of(r: &Result<Response, CallError>) -> String {
    r.as_ref()
        .ok()
        .and_then(|r| r.header("x-vault-index"))
        .unwrap_or_default()
        .to_owned()
}

fn decode(index: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(index)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| format!("(not base64: {index:?})"))
}

/// Mount transit through `node`, then create a key through it at once, `n` times, with
/// `headers(index)` on the key write; counts the answers.
fn mount_then_write(
    node: &RaftNode,
    tag: &str,
    n: usize,
    policies: &[&str],
    send_index: bool,
) -> String {
    let mut counts: std::collections::BTreeMap<String, (usize, u128)> = Default::default();
    for i in 0..n {
        let m = format!("{tag}{i}-{}", std::process::id());
        let r = node.call(
            "POST",
            &format!("sys/mounts/{m}"),
            &[],
            Some(r#"{"type":"transit"}"#),
        );
        assert!(ok(&r), "{}", brief(&r));
        let idx = index_of(&r);
        let mut h: Vec<(&str, &str)> = policies
            .iter()
            .map(|p| ("X-Vault-Inconsistent", *p))
            .collect();
        if send_index {
            h.push(("X-Vault-Index", &idx));
        }
        let start = Instant::now();
        let w = node.call("POST", &format!("{m}/keys/k"), &h, None);
        let took = start.elapsed().as_millis();
        let key = brief(&w).replace(&m, "<mount>");
        let key = if ok(&w) {
            w.as_ref().map(|r| r.status.to_string()).unwrap_or_default()
        } else {
            key
        };
        let e = counts.entry(key).or_default();
        e.0 += 1;
        e.1 = e.1.max(took);
        node.call("DELETE", &format!("sys/mounts/{m}"), &[], None)
            .ok();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, (c, t))| format!("{c}x [{k}] (max {t} ms)"))
        .collect();
    format!(
        "{tag} policies={policies:?} index={send_index}: {}",
        parts.join("; ")
    )
}

#[test]
#[ignore = "measures OpenBao HA behaviour; run with --ignored --nocapture"]
fn raft_facts_standby_reads_writes_and_index_headers() {
    let c = cluster();
    let (a, s) = (c.leader_node(), &c.nodes[c.standby()]);
    ensure_kv(a, "facts");
    let mut out = vec![
        format!("sys/leader on the active node: {}", a.leader_info()),
        format!("sys/leader on a standby: {}", s.leader_info()),
    ];
    // Read-after-write on a standby, no headers.
    let mut stale = 0;
    for i in 0..50 {
        let w = a.call("PUT", "facts/raw", &[], Some(&format!(r#"{{"n":"{i}"}}"#)));
        let r = s.get("facts/raw");
        if r.as_ref()
            .map(|r| r.json()["data"]["n"] != i.to_string().as_str())
            .unwrap_or(true)
        {
            stale += 1;
        }
        if i == 0 {
            out.push(format!(
                "write answer index header: {:?} = {}",
                index_of(&w),
                decode(&index_of(&w))
            ));
        }
    }
    out.push(format!(
        "read on a standby right after a write on the active node: {stale}/50 stale"
    ));
    // How long until a standby has applied a write.
    let mut lags = Vec::new();
    for i in 0..10 {
        let idx = index_of(&a.call("PUT", "facts/lag", &[], Some(&format!(r#"{{"n":"{i}"}}"#))));
        let start = Instant::now();
        while !ok(&s.call(
            "GET",
            "facts/lag",
            &[("X-Vault-Index", &idx), ("X-Vault-Inconsistent", "fail")],
            None,
        )) {
            std::thread::sleep(Duration::from_millis(5));
        }
        lags.push(start.elapsed().as_millis());
    }
    out.push(format!(
        "standby caught up with a write after (ms): {lags:?}"
    ));
    for p in [
        &[][..],
        &["fail"],
        &["await-state"],
        &["forward-active-node"],
        &["await-state", "fail"],
        &["await-state", "forward-active-node"],
    ] {
        // A fresh write each time: the standby is behind it.
        let idx = index_of(&a.call("PUT", "facts/h", &[], Some(r#"{"n":"x"}"#)));
        let mut h: Vec<(&str, &str)> = p.iter().map(|p| ("X-Vault-Inconsistent", *p)).collect();
        h.push(("X-Vault-Index", &idx));
        let start = Instant::now();
        let r = s.call("GET", "facts/h", &h, None);
        out.push(format!(
            "standby read, index of a write just made, {p:?}: {} in {} ms",
            brief(&r),
            start.elapsed().as_millis()
        ));
    }
    let r = s.call(
        "PUT",
        "facts/nf",
        &[("X-Vault-No-Request-Forwarding", "1")],
        Some(r#"{"n":"1"}"#),
    );
    out.push(format!(
        "write through a standby with X-Vault-No-Request-Forwarding: {}",
        brief(&r)
    ));
    out.push(mount_then_write(s, "plain", 50, &[], false));
    out.push(mount_then_write(s, "idx", 20, &[], true));
    out.push(mount_then_write(s, "await", 20, &["await-state"], true));
    out.push(mount_then_write(
        s,
        "fwd",
        20,
        &["forward-active-node"],
        true,
    ));
    out.push(mount_then_write(
        s,
        "fwdnoidx",
        10,
        &["forward-active-node"],
        false,
    ));
    out.push(mount_then_write(a, "active", 20, &[], false));
    report(&out.join("\n"));
}

#[test]
#[ignore = "measures OpenBao HA behaviour; run with --ignored --nocapture"]
fn raft_facts_consistency_max_index_wait() {
    let opts = NodeOptions {
        listener_extra: "  consistency_max_index_wait = \"2s\"".into(),
        ..Default::default()
    };
    let c = RaftCluster::start_with(3, &opts);
    let s = &c.nodes[c.standby()];
    let out = [
        mount_then_write(s, "await", 20, &["await-state"], true),
        mount_then_write(s, "idx", 10, &[], true),
        mount_then_write(s, "plain", 10, &[], false),
    ];
    report(&format!(
        "listener consistency_max_index_wait = \"2s\":\n{}",
        out.join("\n")
    ));
}

#[test]
#[ignore = "measures OpenBao HA behaviour; run with --ignored --nocapture"]
fn raft_facts_failover_timings_with_default_raft_settings() {
    let mut c = RaftCluster::start(3);
    ensure_kv(c.leader_node(), "facts");
    let mut out = Vec::new();
    for round in 1..=3 {
        let killed = c.kill_leader();
        let survivor = (0..3).find(|i| *i != killed).expect("a survivor");
        let (took, answers) = write_until_ok(
            &c.nodes[survivor],
            "facts/failover",
            Duration::from_secs(120),
        );
        let elected = c.leader().map(|l| c.nodes[l].name.clone());
        out.push(format!(
            "round {round}: killed {}, write through {} ok after {took:?}, leader now {elected:?}; answers meanwhile:\n  {}",
            c.nodes[killed].name,
            c.nodes[survivor].name,
            answers.join("\n  ")
        ));
        c.restart(killed);
        c.heal();
    }
    report(&out.join("\n"));
}

#[test]
#[ignore = "measures OpenBao HA behaviour; run with --ignored --nocapture"]
fn raft_facts_restarted_standby_reads_before_catching_up() {
    let mut c = cluster();
    ensure_kv(c.leader_node(), "facts");
    let s = c.standby();
    c.nodes[s].kill();
    let leader = c.leader_node();
    for i in 0..300 {
        leader
            .call(
                "PUT",
                &format!("facts/bulk{}", i % 30),
                &[],
                Some(&format!(r#"{{"n":"{i}"}}"#)),
            )
            .ok();
    }
    let idx = index_of(&leader.call("PUT", "facts/last", &[], Some(r#"{"n":"last"}"#)));
    let committed = leader.leader_info()["raft_committed_index"].clone();
    c.nodes[s].restart();
    let node = &c.nodes[s];
    let start = Instant::now();
    let mut answers: Vec<String> = Vec::new();
    loop {
        let r = node.get("facts/last");
        let with_index = node.call(
            "GET",
            "facts/last",
            &[("X-Vault-Index", &idx), ("X-Vault-Inconsistent", "fail")],
            None,
        );
        let line = format!(
            "{} | with index+fail: {} | {}",
            brief(&r),
            brief(&with_index),
            node.leader_info()
        );
        answers.push(format!("{:>5} ms: {line}", start.elapsed().as_millis()));
        if ok(&r) && ok(&with_index) || start.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    answers.dedup_by(|a, b| a[10..] == b[10..]);
    report(&format!(
        "leader committed index {committed}; restarted standby answers:\n{}",
        answers.join("\n")
    ));
}

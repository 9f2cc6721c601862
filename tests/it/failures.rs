//! A bad day, on purpose: a real OpenBao behind the fault proxy (fault_proxy.rs). A 404 to a
//! write is a failure, never a success; a create whose answer was lost (or whose answer was
//! replaced by a 503 after OpenBao did it) is recognised on the retry's "already in use" and its
//! children still go ahead; 429 with Retry-After is waited out; the bootstrap mint is sent once,
//! whatever happens to its answer, and leaves no SecretID nobody recorded. Each scenario ends
//! converged: a plan without faults says "No changes."

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::fault_proxy::{Fault, FaultProxy};
use crate::harness::{Bao, Run, assert_no_changes, s, write_topology};

const TRANSIT: &str = r#"version: 1
openbao:
  policies:
    reader: |
      path "secret/*" { capabilities = ["read"] }
  secrets:
    transit:
      type: transit
      keys:
        app: { type: aes256-gcm96 }
        web: { type: aes256-gcm96 }
"#;

/// aegisctl pointed at the proxy instead of the server.
fn via(bao: &Bao, proxy: &FaultProxy, args: &[&str]) -> Run {
    let out: Output = bao
        .aegisctl()
        .env("BAO_ADDR", &proxy.addr)
        .args(args)
        .output()
        .expect("run aegisctl");
    Run::from(out)
}

fn topology(bao: &Bao, name: &str, yaml: &str) -> PathBuf {
    let dir = bao.dir.path().join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    write_topology(&dir, yaml)
}

fn keys(bao: &Bao) -> Vec<String> {
    let out = bao.bao(&["list", "-format=json", "transit/keys"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[test]
fn a_404_to_a_write_is_a_failure_and_nothing_is_reported_created() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let file = topology(&bao, "t", TRANSIT);
    proxy.set_faults(vec![
        Fault::no_handler()
            .writes()
            .prefix("sys/policies/acl/reader"),
    ]);
    let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains("policy[\"reader\"]: failed") && run.stderr.contains("404"),
        "{run}"
    );
    assert!(!run.stderr.contains("policy[\"reader\"]: created"), "{run}");
    assert!(run.stdout.contains("Apply failed:"), "{run}");
    assert!(
        bao.bao(&["policy", "read", "reader"]).status.code() != Some(0),
        "the policy does not exist"
    );
    // The rest went through and was recorded: the re-run only creates the policy.
    proxy.clear();
    let plan = via(&bao, &proxy, &["plan", s(&file)]);
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{plan}"
    );
    let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_no_changes(&bao, &file, &[]);
}

#[test]
fn a_mount_create_whose_answer_was_lost_is_recognised_and_its_keys_follow() {
    for (label, fault) in [
        ("lost answer", Fault::lost_answer()),
        ("503 after forwarding", Fault::unavailable_after()),
    ] {
        let bao = Bao::start();
        let proxy = FaultProxy::start(&bao.addr);
        let file = topology(&bao, "t", TRANSIT);
        proxy.set_faults(vec![fault.writes().prefix("sys/mounts/transit").first(1)]);
        let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
        assert_eq!(run.code, Some(0), "{label}: {run}");
        assert!(run.stdout.contains("Apply complete!"), "{label}: {run}");
        let creates = proxy.matching("POST", "sys/mounts/transit");
        assert_eq!(
            creates.len(),
            2,
            "{label}: the create was sent, its answer lost, sent again: {creates:?}"
        );
        assert!(creates.iter().all(|c| c.forwarded), "{label}: {creates:?}");
        let mut k = keys(&bao);
        k.sort();
        assert_eq!(k, ["app", "web"], "{label}: the keys were created too");
        assert_no_changes(&bao, &file, &[]);
    }
}

#[test]
fn rate_limiting_is_waited_out() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let file = topology(&bao, "t", TRANSIT);
    proxy.set_faults(vec![Fault::too_many(1).writes().first(3)]);
    let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(0), "{run}");
    let limited: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.status == Some(429))
        .collect();
    assert_eq!(limited.len(), 3, "{limited:?}");
    for r in &limited {
        let later = proxy
            .requests()
            .into_iter()
            .filter(|x| x.method == r.method && x.path == r.path && x.status != Some(429))
            .count();
        assert!(later >= 1, "{} {} was sent again", r.method, r.path);
    }
    assert_no_changes(&bao, &file, &[]);
}

const BOOT: &str = r#"version: 1
openbao:
  policies:
    reader: |
      path "kv/data/*" { capabilities = ["read"] }
  auth:
    approle:
      roles:
        daemon: { token_policies: [reader], token_ttl: 1h, secret_id_num_uses: 1, secret_id_ttl: 15m }
hosts:
  local-1:
    kind: lxc
    approle: daemon
    cidr: 127.0.0.1/32
"#;

fn secret_ids(bao: &Bao) -> Vec<String> {
    let out = bao.bao(&["list", "-format=json", "auth/approle/role/daemon/secret-id"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn bootstrap_via(bao: &Bao, proxy: &FaultProxy, file: &Path, out: &Path) -> Run {
    via(
        bao,
        proxy,
        &[
            "bootstrap",
            s(file),
            "local-1",
            "--out-dir",
            s(out),
            "--audit-file",
            s(&out.join("audit.jsonl")),
        ],
    )
}

#[test]
fn the_secret_id_mint_is_never_sent_twice_and_leaves_no_unrecorded_secret_id() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let file = topology(&bao, "boot", BOOT);
    let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(0), "{run}");
    let mint = "auth/approle/role/daemon/secret-id";
    for (label, fault) in [
        ("lost answer", Fault::lost_answer()),
        ("503 after forwarding", Fault::unavailable_after()),
        ("503 before forwarding", Fault::unavailable()),
    ] {
        let out = bao
            .dir
            .path()
            .join(format!("out-{}", label.replace(' ', "-")));
        proxy.clear_requests();
        proxy.set_faults(vec![fault.methods(&["POST", "PUT"]).prefix(mint).first(1)]);
        let run = bootstrap_via(&bao, &proxy, &file, &out);
        assert_eq!(run.code, Some(1), "{label}: {run}");
        assert!(
            run.stderr.contains("the SecretID mint did not complete"),
            "{label}: {run}"
        );
        let sent: Vec<_> = proxy
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == mint)
            .collect();
        assert_eq!(sent.len(), 1, "{label}: the mint is sent once: {sent:?}");
        assert!(
            secret_ids(&bao).is_empty(),
            "{label}: a SecretID minted without a record was destroyed"
        );
        let rendered: Vec<_> = std::fs::read_dir(&out)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "audit.jsonl")
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            rendered.is_empty(),
            "{label}: nothing rendered: {rendered:?}"
        );
    }
    // 429 means "not done": the mint is sent again and succeeds, once.
    proxy.clear_requests();
    proxy.set_faults(vec![
        Fault::too_many(1)
            .methods(&["POST", "PUT"])
            .prefix(mint)
            .first(1),
    ]);
    let out = bao.dir.path().join("out-429");
    let run = bootstrap_via(&bao, &proxy, &file, &out);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(secret_ids(&bao).len(), 1, "exactly one SecretID exists");
    let sent = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == mint)
        .count();
    assert_eq!(sent, 2, "the 429 was followed by one retry");
}

#[test]
fn lost_answers_to_the_lock_and_ledger_writes_are_recognised_as_our_own() {
    for (label, fault) in [
        ("lost answer", Fault::lost_answer()),
        ("503 after forwarding", Fault::unavailable_after()),
    ] {
        let bao = Bao::start();
        let proxy = FaultProxy::start(&bao.addr);
        let file = topology(&bao, "t", TRANSIT);
        proxy.set_faults(vec![
            fault.clone().writes().prefix("aegisctl/data/lock").first(1),
            fault.writes().prefix("aegisctl/data/shards").first(1),
        ]);
        let run = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
        assert_eq!(run.code, Some(0), "{label}: {run}");
        assert!(run.stdout.contains("Apply complete!"), "{label}: {run}");
        let hit: Vec<_> = proxy
            .requests()
            .into_iter()
            .filter(|r| r.fault.is_some())
            .map(|r| r.path)
            .collect();
        assert_eq!(hit.len(), 2, "{label}: both faults fired: {hit:?}");
        // The lock was given back, and the next run is not locked out by it.
        proxy.clear();
        assert_no_changes(&bao, &file, &[]);
        let again = via(&bao, &proxy, &["apply", "--auto-approve", s(&file)]);
        assert_eq!(again.code, Some(0), "{label}: {again}");
        assert!(!again.all().contains("took over"), "{label}: {again}");
    }
}

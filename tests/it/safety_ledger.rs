//! The ledger is real: an apply that cannot record what it does fails (and sends nothing);
//! the lock is taken before the ledger is read; the ledger is written as the apply goes, so a
//! run killed halfway leaves one that knows every object it may have created (and `--prune`
//! cleans up after it); a namespace's entries are split into shards under OpenBao's size
//! limits; a format-2 ledger (one `state` document) is read and migrated into shards.
//! (Reserved ledger mounts are refused by validate: see the malformed corpus.)

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;

use crate::background::{
    Background, existing_generated, generated, ledger_entries, lock_holder, names, roles, shards,
};
use crate::harness::{Bao, Run, assert_no_changes, ctl, ctl_ok, s, topology};

/// An out-of-band edit of a policy shows as drift of that policy.
fn assert_edit_is_drift(bao: &Bao, file: &Path, ns: &str, policy: &str) {
    let hcl = bao.dir.path().join("edit.hcl");
    std::fs::write(&hcl, "path \"edited/*\" { capabilities = [\"read\"] }\n").unwrap();
    let flag = format!("-namespace={ns}");
    let mut args = vec!["policy", "write"];
    if !ns.is_empty() {
        args.push(&flag);
    }
    bao.bao_ok(&[&args[..], &[policy, s(&hcl)]].concat());
    let drift = ctl(bao, &["drift", s(file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    let scope = if ns.is_empty() { "root" } else { ns };
    assert!(
        drift.stdout.contains(&format!(
            "# openbao[{scope}].policy[\"{policy}\"] changed outside aegisctl"
        )),
        "{drift}"
    );
}

const TWO_POLICIES: &str = r#"version: 1
openbao:
  policies:
    first: 'path "first/*" { capabilities = ["read"] }'
    second: 'path "second/*" { capabilities = ["read"] }'
"#;

#[test]
fn an_apply_whose_ledger_cannot_be_written_fails_before_sending_anything() {
    let bao = Bao::start();
    let hcl = bao.dir.path().join("no-shards.hcl");
    std::fs::write(
        &hcl,
        "path \"*\" { capabilities = [\"create\", \"read\", \"update\", \"patch\", \"delete\", \"list\", \"sudo\"] }\n\
         path \"aegisctl/data/shards/*\" { capabilities = [\"read\", \"list\"] }\n",
    )
    .unwrap();
    bao.bao_ok(&["policy", "write", "no-shards", s(&hcl)]);
    let token = bao
        .bao_ok(&[
            "token",
            "create",
            "-policy=no-shards",
            "-no-default-policy",
            "-field=token",
        ])
        .trim()
        .to_owned();
    let file = topology(&bao, "no-shards", TWO_POLICIES);
    let mark = bao.audit_mark();
    let out = bao
        .aegisctl()
        .env("BAO_TOKEN", &token)
        .args(["apply", "--auto-approve", s(&file)])
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!run.all().contains("Apply complete!"), "{run}");
    assert!(run.stderr.contains("cannot write the ledger"), "{run}");
    // The creations are recorded before they are sent: unrecorded, nothing was sent.
    let policies = names(&bao, &["policy", "list", "-format=json"]);
    assert!(!policies.contains(&"first".to_owned()), "{policies:?}");
    let writes: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| {
            r.is_write() && !r.path.starts_with("aegisctl/") && r.path != "sys/mounts/aegisctl"
        })
        .map(|r| r.path.clone())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(lock_holder(&bao), "", "the lock is given back");

    // With a token that may write it, the same file converges.
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_no_changes(&bao, &file, &[]);
    assert_edit_is_drift(&bao, &file, "", "first");
}

#[test]
fn the_lock_is_taken_before_the_ledger_is_read() {
    let bao = Bao::start();
    let file = topology(&bao, "order", TWO_POLICIES);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    let file = topology(
        &bao,
        "order",
        &TWO_POLICIES.replace("second/*", "second/changed/*"),
    );
    let mark = bao.audit_mark();
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    let reqs = &bao.audit_requests()[mark..];
    let at = |what: &str, f: &dyn Fn(&crate::harness::AuditRequest) -> bool| {
        reqs.iter()
            .position(f)
            .unwrap_or_else(|| panic!("no {what} in the audit log: {reqs:#?}"))
    };
    let lock = at("lock write", &|r| {
        r.is_write() && r.path == "aegisctl/data/lock"
    });
    let shard = at("shard read", &|r| {
        r.operation == "read" && r.path.starts_with("aegisctl/data/shards/")
    });
    let list = at("shard list", &|r| {
        r.operation == "list" && r.path == "aegisctl/metadata/shards/"
    });
    assert!(
        lock < shard && lock < list,
        "the lock (request {lock}) must come before the ledger's read ({shard}) and list ({list})"
    );
    assert_no_changes(&bao, &file, &[]);
    assert_edit_is_drift(&bao, &file, "", "second");
}

#[test]
fn a_killed_apply_leaves_a_ledger_that_knows_what_it_created_and_prune_cleans_up() {
    let bao = Bao::start();
    let full = generated(&bao, 2000, "full");
    let mut bg = Background::start(
        &bao,
        &["apply", "--auto-approve", "--parallelism", "4", s(&full)],
    );
    bg.wait_until("the first AppRole role exists", |_| !roles(&bao).is_empty());
    bg.signal("KILL");
    let killed = bg.wait();
    assert_eq!(killed.code, None, "killed by a signal:\n{killed}");

    let entries = ledger_entries(&bao);
    let existing = existing_generated(&bao);
    assert!(existing.len() < 2000 - 3, "the run was killed halfway");
    let missing: Vec<_> = existing
        .iter()
        .filter(|a| !entries.contains_key(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "{} objects exist that the ledger does not know (of {}): {:?}",
        missing.len(),
        existing.len(),
        &missing[..missing.len().min(5)]
    );

    // The killed run's lock is cleared by hand; half the objects leave the file.
    let unlock = ctl_ok(&bao, &["unlock", s(&full)]);
    assert!(unlock.all().contains("Released the lock"), "{unlock}");
    let half = generated(&bao, 1000, "half");
    let text = std::fs::read_to_string(&half).unwrap();
    let declared = |prefix: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(prefix))
            .filter_map(|l| l.split(':').next())
            .map(|n| format!("{prefix}{n}"))
            .collect()
    };
    let run = ctl_ok(
        &bao,
        &[
            "apply",
            "--prune",
            "--allow-destroy",
            "--auto-approve",
            s(&half),
        ],
    );
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    let policies: BTreeSet<String> = names(&bao, &["policy", "list", "-format=json"])
        .into_iter()
        .filter(|p| p != "default" && p != "root")
        .collect();
    assert_eq!(
        policies,
        declared("pol-"),
        "the undeclared policies the killed run made are gone"
    );
    let keys: BTreeSet<String> = names(&bao, &["list", "-format=json", "transit/keys"])
        .into_iter()
        .collect();
    assert_eq!(keys, declared("key-"));
    let left: BTreeSet<String> = roles(&bao).into_iter().collect();
    assert_eq!(left, declared("role-"));
    assert_no_changes(&bao, &half, &["--prune"]);
    assert!(
        ledger_entries(&bao)
            .values()
            .all(|e| e.get("pending").is_none()),
        "nothing is pending after a complete apply"
    );
    assert_edit_is_drift(&bao, &half, "", "pol-00001");
}

#[test]
fn a_namespace_past_256_kib_of_entries_is_split_into_shards() {
    let bao = Bao::start();
    let mut yaml = String::from("version: 1\nopenbao:\n  namespaces:\n    big:\n      policies:\n");
    let long =
        "a-policy-name-long-enough-that-fifteen-hundred-of-them-pass-the-shard-size-".repeat(2);
    for i in 0..1500 {
        yaml.push_str(&format!(
            "        {long}{i:04}: 'path \"x/{i}\" {{ capabilities = [\"read\"] }}'\n"
        ));
    }
    let file = topology(&bao, "big", &yaml);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);

    let all = shards(&bao);
    let big: Vec<_> = all.iter().filter(|s| s.namespace == "big").collect();
    assert!(
        big.len() >= 2,
        "1,500 long entries need 2 shards or more: {:?}",
        keys(&all)
    );
    let mut parts: Vec<u64> = big.iter().map(|s| s.part).collect();
    parts.sort();
    assert_eq!(parts, (0..big.len() as u64).collect::<Vec<_>>());
    for s in &all {
        assert!(s.bytes <= 512 * 1024, "{} holds {} bytes", s.key, s.bytes);
    }
    let entries: usize = big.iter().map(|s| s.entries.len()).sum();
    assert_eq!(entries, 1500, "every policy of `big` is in its shards");
    assert!(
        all.iter().any(|s| s.namespace.is_empty()
            && s.entries.contains_key(r#"openbao[root].namespace["big"]"#)),
        "the namespace itself is recorded in the root namespace's shard"
    );
    assert_no_changes(&bao, &file, &[]);
    assert_edit_is_drift(&bao, &file, "big", &format!("{long}0042"));
}

fn keys(shards: &[crate::background::Shard]) -> Vec<(&str, &str, usize)> {
    shards
        .iter()
        .map(|s| (s.key.as_str(), s.namespace.as_str(), s.bytes))
        .collect()
}

#[test]
fn a_format_2_ledger_is_read_then_migrated_into_shards() {
    let bao = Bao::start();
    let hcl = bao.dir.path().join("hand.hcl");
    std::fs::write(&hcl, "path \"hand/*\" { capabilities = [\"read\"] }\n").unwrap();
    for p in ["kept", "dropped"] {
        bao.bao_ok(&["policy", "write", p, s(&hcl)]);
    }
    bao.bao_ok(&["secrets", "enable", "-path=aegisctl", "kv-v2"]);
    let entry = |name: &str| json!({ "id": { "namespace": "", "kind": "policy", "mount": null, "name": name } });
    let resources = json!({
        r#"openbao[root].policy["kept"]"#: entry("kept"),
        r#"openbao[root].policy["dropped"]"#: entry("dropped"),
    });
    bao.bao_ok(&[
        "kv",
        "put",
        "aegisctl/state",
        "format=2",
        &format!("resources={resources}"),
    ]);

    let file = topology(
        &bao,
        "migrate",
        "version: 1\nopenbao:\n  policies:\n    kept: 'path \"hand/*\" { capabilities = [\"read\"] }'\n",
    );
    let plan = ctl(&bao, &["plan", "--prune", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(
        plan.stdout
            .contains(r#"# openbao[root].policy["dropped"] will be destroyed"#),
        "the format-2 ledger's entry is known to prune:\n{plan}"
    );
    assert!(
        plan.stdout.contains("0 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );

    ctl_ok(&bao, &["apply", "--prune", "--auto-approve", s(&file)]);
    assert!(
        !names(&bao, &["policy", "list", "-format=json"]).contains(&"dropped".to_owned()),
        "pruned"
    );
    assert!(
        !bao.bao(&["kv", "metadata", "get", "aegisctl/state"])
            .status
            .success(),
        "the format-2 document is deleted once migrated"
    );
    let entries = ledger_entries(&bao);
    let kept = entries
        .get(r#"openbao[root].policy["kept"]"#)
        .unwrap_or_else(|| panic!("`kept` is in the shards: {entries:?}"));
    assert_eq!(kept["owner"], "topology", "{kept}");
    assert!(!entries.contains_key(r#"openbao[root].policy["dropped"]"#));
    assert!(
        bao.bao(&["kv", "get", "aegisctl/key"]).status.success(),
        "the key is created"
    );
    assert_no_changes(&bao, &file, &["--prune"]);
    assert_edit_is_drift(&bao, &file, "", "kept");
}

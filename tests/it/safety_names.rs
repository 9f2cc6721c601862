//! Names are data, and topologies have names.
//!
//! Object names that are URL syntax (`#`, `?`, `%`, spaces, non-ASCII) reach OpenBao as exactly
//! that name, converge and drift like any other; a name the server's routes refuse fails the
//! apply instead of being reported as created. Two topologies sharing one ledger never plan,
//! prune or declare each other's objects; a file without `name:` is named after its stem.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Bao, CHANGED, assert_no_changes, block, ctl, ctl_ok, s, section, topology};

fn assert_no_drift(bao: &Bao, file: &Path) {
    let run = ctl(bao, &["drift", s(file)]);
    assert_eq!(run.code, Some(0), "expected no drift:\n{run}");
    assert!(run.stdout.contains("No drift."), "{run}");
}

/// `bao ... -format=json` list output as strings (empty when there is nothing to list).
fn list(bao: &Bao, args: &[&str]) -> Vec<String> {
    let out = bao.bao(args);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<String>>(&out.stdout).expect("a JSON list")
}

/// The `# ADDRESS ...` lines of a plan or drift report.
fn reported(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("# openbao["))
        .map(|l| format!("openbao[{l}"))
        .collect()
}

/// A topology file named `name` in the server's temp dir.
fn file(bao: &Bao, name: &str, yaml: &str) -> PathBuf {
    let path = bao.dir.path().join(name);
    std::fs::write(&path, yaml).expect("write topology");
    path
}

const NAMES: &str = r#"version: 1
openbao:
  policies:
    "admin#old": 'path "a/*" { capabilities = ["read"] }'
    "a b": 'path "b/*" { capabilities = ["read"] }'
    "x?y": 'path "c/*" { capabilities = ["read"] }'
    "100%": 'path "d/*" { capabilities = ["read"] }'
    "ünïcödé": 'path "e/*" { capabilities = ["read"] }'
  secrets:
    names-kv:
      type: kv-v2
      kv:
        "dir with space/x#y": { v: hash }
        "q?r/s": { v: query }
"#;

#[test]
fn names_with_url_syntax_reach_the_server_as_written_and_converge() {
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let file = topology(&bao, "names", NAMES);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);

    let mut policies = list(&bao, &["policy", "list", "-format=json"]);
    policies.sort();
    assert_eq!(
        policies,
        [
            "100%",
            "a b",
            "admin#old",
            "default",
            "root",
            "x?y",
            "ünïcödé"
        ],
        "each policy exists under its own name, and no other (no `admin`, `x`, `100`)"
    );
    assert_eq!(
        list(&bao, &["kv", "list", "-format=json", "names-kv"]),
        ["dir with space/", "q?r/"]
    );
    assert_eq!(
        list(
            &bao,
            &["kv", "list", "-format=json", "names-kv/dir with space"]
        ),
        ["x#y"]
    );
    assert_eq!(
        list(&bao, &["kv", "list", "-format=json", "names-kv/q?r"]),
        ["s"]
    );
    for (path, value) in [("dir with space/x#y", "hash"), ("q?r/s", "query")] {
        let v: Value = serde_json::from_str(&bao.bao_ok(&[
            "kv",
            "get",
            "-format=json",
            "-mount=names-kv",
            path,
        ]))
        .expect("kv json");
        assert_eq!(v["data"]["data"]["v"], value, "{path}: {v}");
    }

    assert_no_changes(&bao, &file, &[]);
    assert_no_drift(&bao, &file);

    // An edit of `admin#old` is drift of exactly that policy.
    let hcl = bao.dir.path().join("edit.hcl");
    std::fs::write(&hcl, "path \"intruder/*\" { capabilities = [\"sudo\"] }\n").unwrap();
    bao.bao_ok(&["policy", "write", "admin#old", s(&hcl)]);
    let drift = ctl(&bao, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert_eq!(
        reported(&drift.stdout),
        [r#"openbao[root].policy["admin#old"] changed outside aegisctl"#],
        "{drift}"
    );
    let changed = section(&drift.stdout, CHANGED).unwrap_or_else(|| panic!("{drift}"));
    let blk = block(changed, r#"openbao[root].policy["admin#old"]"#).unwrap();
    assert!(blk.contains(r#"+ path "intruder/*""#), "{blk}");
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_no_drift(&bao, &file);
}

#[test]
fn a_role_name_the_server_routes_elsewhere_fails_the_apply() {
    let bao = Bao::start();
    let yaml = "version: 1\nopenbao:\n  auth:\n    approle:\n      type: approle\n      roles:\n        good: { token_ttl: 1h }\n        \"bad#role\": { token_ttl: 1h }\n";
    let file = topology(&bao, "roles", yaml);
    let run = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(1), "the apply must fail:\n{run}");
    assert!(!run.all().contains("Apply complete!"), "{run}");
    assert!(run.stdout.contains("Apply failed:"), "{run}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(r#"approle_role["approle/bad#role"]: failed"#)),
        "the failure is shown for that role:\n{run}"
    );
    assert!(
        !run.all()
            .contains(r#"approle_role["approle/bad#role"]: created"#),
        "never reported as created:\n{run}"
    );
    assert_eq!(
        list(&bao, &["list", "-format=json", "auth/approle/role"]),
        ["good"],
        "no role named after a prefix of `bad#role` (such as `bad`) was created"
    );
    // Still to do, never recorded as done.
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert_eq!(
        reported(&plan.stdout),
        [r#"openbao[root].approle_role["approle/bad#role"] will be created"#],
        "{plan}"
    );

    let file = topology(
        &bao,
        "roles",
        &yaml.replace("        \"bad#role\": { token_ttl: 1h }\n", ""),
    );
    assert_no_changes(&bao, &file, &["--prune"]);
    bao.bao_ok(&["write", "auth/approle/role/good", "token_ttl=2h"]);
    let drift = ctl(&bao, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(r#"# openbao[root].approle_role["approle/good"] changed outside aegisctl"#),
        "{drift}"
    );
}

const ALPHA: &str = r#"version: 1
name: alpha
openbao:
  policies:
    alpha-read: 'path "alpha/*" { capabilities = ["read"] }'
  auth:
    alpha-approle:
      type: approle
      roles:
        alpha-app: { token_policies: [alpha-read], token_ttl: 1h }
"#;

const BETA: &str = r#"version: 1
name: beta
openbao:
  policies:
    beta-read: 'path "beta/*" { capabilities = ["read"] }'
"#;

#[test]
fn two_topologies_on_one_ledger_never_plan_prune_or_declare_each_others_objects() {
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let alpha = file(&bao, "alpha.yaml", ALPHA);
    let beta = file(&bao, "beta.yaml", BETA);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&alpha)]);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&beta)]);
    assert_no_changes(&bao, &alpha, &["--prune"]);
    assert_no_drift(&bao, &alpha);
    // alpha's objects are neither beta's to prune nor "not managed" in beta's drift.
    assert_no_changes(&bao, &beta, &["--prune"]);
    assert_no_drift(&bao, &beta);

    let mark = bao.audit_mark();
    let run = ctl_ok(&bao, &["apply", "--prune", "--auto-approve", s(&beta)]);
    assert!(run.stdout.contains("No changes."), "{run}");
    let deletes: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.operation == "delete")
        .map(|r| r.path.clone())
        .collect();
    assert!(deletes.is_empty(), "beta's prune deleted {deletes:?}");
    bao.bao_ok(&["policy", "read", "alpha-read"]);
    bao.bao_ok(&["read", "auth/alpha-approle/role/alpha-app"]);

    // An edit of alpha's object is alpha's drift, not beta's.
    bao.bao_ok(&["write", "auth/alpha-approle/role/alpha-app", "token_ttl=2h"]);
    let drift = ctl(&bao, &["drift", s(&alpha)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert_no_drift(&bao, &beta);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&alpha)]);

    // beta declaring one of alpha's objects is an error at that object, naming alpha.
    let greedy =
        BETA.to_owned() + "    alpha-read: 'path \"beta/*\" { capabilities = [\"read\"] }'\n";
    let beta = file(&bao, "beta.yaml", &greedy);
    let mark = bao.audit_mark();
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let run = ctl(&bao, &[args, &[s(&beta)]].concat());
        assert_eq!(run.code, Some(1), "{run}");
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(&format!("{}:6:5: ", s(&beta))))
            .unwrap_or_else(|| panic!("no diagnostic at beta.yaml:6:5 (`alpha-read:`):\n{run}"));
        assert!(
            line.contains(
                r#"openbao[root].policy["alpha-read"] is managed by the topology `alpha`"#
            ),
            "{line}"
        );
    }
    let writes: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.is_write() && r.path != "aegisctl/data/lock")
        .map(|r| r.path.clone())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let text = bao.bao_ok(&["policy", "read", "alpha-read"]);
    assert!(
        text.contains("alpha/*"),
        "alpha's policy was overwritten: {text}"
    );
}

#[test]
fn a_file_without_a_name_is_named_after_its_stem() {
    let bao = Bao::start();
    let yaml = "version: 1\nopenbao:\n  policies:\n    prod-read: 'path \"prod/*\" { capabilities = [\"read\"] }'\n";
    let prod = file(&bao, "prod.yaml", yaml);
    let validate = ctl_ok(&bao, &["validate", "--json", s(&prod)]);
    let doc: Value = serde_json::from_str(&validate.stdout).expect("validate --json");
    assert_eq!(doc["name"], "prod", "{doc}");
    ctl_ok(&bao, &["apply", "--auto-approve", s(&prod)]);
    assert_no_changes(&bao, &prod, &[]);

    // The same file under another name is another topology: prod's objects are not its own.
    let renamed = file(&bao, "production.yaml", yaml);
    let doc: Value =
        serde_json::from_str(&ctl_ok(&bao, &["validate", "--json", s(&renamed)]).stdout).unwrap();
    assert_eq!(doc["name"], "production", "{doc}");
    let run = ctl(&bao, &["plan", s(&renamed)]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(&format!("{}:4:5: ", s(&renamed)))
            && run.stderr.contains("is managed by the topology `prod`")
            && run.stderr.contains("give it `name: prod`"),
        "{run}"
    );

    // Unless it says it is `prod`.
    let renamed = file(
        &bao,
        "production.yaml",
        &yaml.replace("version: 1\n", "version: 1\nname: prod\n"),
    );
    assert_no_changes(&bao, &renamed, &["--prune"]);
    bao.bao_ok(&["policy", "delete", "prod-read"]);
    let drift = ctl(&bao, &["drift", s(&renamed)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(r#"# openbao[root].policy["prod-read"] deleted outside aegisctl"#),
        "{drift}"
    );
}

//! Convergence after the fact: `drift` reports each kind of out-of-band edit and `apply` undoes
//! it; a converged apply writes nothing; saved plans refuse a moved world; the apply lock; `--prune`;
//! replacements that destroy data; and a partial failure that skips only what depends on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{
    AuditRequest, Bao, CHANGED, DELETED, Run, UNMANAGED, block, norm, s, section, topology,
};

/// The KV value the topology seeds (through `env:`), and the one written behind aegisctl's back.
const KV_VALUE: &str = "kv-original-3f9a1c";
const KV_INTRUDER: &str = "kv-intruder-b7e2d4";

/// Nine objects: 2 policies, 1 auth mount + 1 role, 1 kv mount + 1 secret, 1 transit mount + 2 keys.
const OBJECTS: usize = 9;

const BASE: &str = r#"version: 1
openbao:
  ledger: aegisctl
  policies:
    app-read: |
      path "kv/data/app/*" { capabilities = ["read"] }
    ops-read: |
      path "kv/data/ops/*" { capabilities = ["read"] }
  auth:
    approle:
      type: approle
      roles:
        app:
          token_policies: [app-read]
          token_ttl: 1h
  secrets:
    kv:
      type: kv-v2
      tune: { default_lease_ttl: 1h }
      kv:
        app/api-key:
          value: env:APP_API_KEY
    transit:
      type: transit
      keys:
        signing: { type: ed25519, deletion_allowed: false }
        blackboard: { type: aes256-gcm96 }
"#;

const ROLE: &str = r#"openbao[root].approle_role["approle/app"]"#;
const POLICY_APP: &str = r#"openbao[root].policy["app-read"]"#;
const POLICY_OPS: &str = r#"openbao[root].policy["ops-read"]"#;
const MOUNT_KV: &str = r#"openbao[root].mount["kv"]"#;
const KEY_SIGNING: &str = r#"openbao[root].transit_key["transit/signing"]"#;
const KEY_BLACKBOARD: &str = r#"openbao[root].transit_key["transit/blackboard"]"#;
const KV_SECRET: &str = r#"openbao[root].kv_secret["kv/app/api-key"]"#;

// ---------------------------------------------------------------------------------------------
// helpers

/// Runs aegisctl against `bao` with the topology's `env:` inputs set.
fn ctl(bao: &Bao, args: &[&str]) -> Run {
    let out = bao
        .aegisctl()
        .env("APP_API_KEY", KV_VALUE)
        .args(args)
        .output()
        .expect("run aegisctl");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ctl_ok(bao: &Bao, args: &[&str]) -> Run {
    let run = ctl(bao, args);
    assert_eq!(
        run.code,
        Some(0),
        "aegisctl {args:?} should succeed:\n{run}"
    );
    run
}

/// A server with BASE applied.
fn converged() -> (Bao, PathBuf) {
    let bao = Bao::start();
    let file = topology(&bao, "base", BASE);
    let run = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(
        run.stdout.contains(&format!(
            "Plan: {OBJECTS} to add, 0 to change, 0 to destroy."
        )),
        "{run}"
    );
    (bao, file)
}

/// As [`converged`], without the dev server's own `secret/` mount, so that `drift` starts clean.
fn converged_without_dev_mount() -> (Bao, PathBuf) {
    let (bao, file) = converged();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let run = ctl(&bao, &["drift", s(&file)]);
    assert_eq!(
        run.code,
        Some(0),
        "a fresh apply should leave no drift:\n{run}"
    );
    assert!(run.stdout.contains("No drift."), "{run}");
    (bao, file)
}

/// Asserts `drift` exits 2 and reports exactly one object, `address`, under `heading`, with a
/// heading line ending in `verb` and every one of `lines` (whitespace-insensitive) in its block.
fn assert_drift_reports(
    bao: &Bao,
    file: &Path,
    heading: &str,
    address: &str,
    verb: &str,
    lines: &[&str],
) -> Run {
    let run = ctl(bao, &["drift", s(file)]);
    assert_eq!(run.code, Some(2), "drift should exit 2:\n{run}");
    let sec =
        section(&run.stdout, heading).unwrap_or_else(|| panic!("no `{heading}` section:\n{run}"));
    let blk =
        block(sec, address).unwrap_or_else(|| panic!("{address} not under `{heading}`:\n{run}"));
    assert!(
        blk.lines().next().unwrap().trim_end().ends_with(verb),
        "{address} should be reported as `{verb}`:\n{blk}"
    );
    for line in lines {
        assert!(
            norm(&blk).contains(&norm(line)),
            "expected `{line}` in the block of {address}:\n{blk}\n\n{run}"
        );
    }
    let reported = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("# openbao["))
        .count();
    assert_eq!(
        reported, 1,
        "only the edited object should be reported:\n{run}"
    );
    run
}

/// `apply --auto-approve` succeeds and then `drift` exits 0 with "No drift.".
fn assert_apply_converges(bao: &Bao, file: &Path) -> (Run, Run) {
    let apply = ctl_ok(bao, &["apply", "--auto-approve", s(file)]);
    let drift = ctl(bao, &["drift", s(file)]);
    assert_eq!(
        drift.code,
        Some(0),
        "drift after apply should be clean:\n{drift}\n\napply was:\n{apply}"
    );
    assert!(drift.stdout.contains("No drift."), "{drift}");
    (apply, drift)
}

fn writes_outside_ledger(reqs: &[AuditRequest]) -> Vec<&AuditRequest> {
    reqs.iter()
        .filter(|r| r.is_write() && !r.path.starts_with("aegisctl/"))
        .collect()
}

fn role_field(bao: &Bao, role: &str, field: &str) -> serde_json::Value {
    bao.read_json(&format!("auth/approle/role/{role}"))["data"][field].clone()
}

fn lock_holder(bao: &Bao) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", "aegisctl/lock"]))
            .expect("lock json");
    v["data"]["data"]["holder"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// drift: one out-of-band edit each, reported, then undone by apply

#[test]
fn drift_reports_approle_token_ttl_and_apply_reverts_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&["write", "auth/approle/role/app", "token_ttl=2h"]);
    assert_drift_reports(
        &bao,
        &file,
        CHANGED,
        ROLE,
        "changed outside aegisctl",
        &[r#"~ token_ttl = "1h" -> "2h""#],
    );
    assert_apply_converges(&bao, &file);
    assert_eq!(role_field(&bao, "app", "token_ttl"), 3600);
}

#[test]
fn drift_reports_policy_text_and_apply_reverts_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&[
        "write",
        "sys/policies/acl/app-read",
        r#"policy=path "intruder/*" { capabilities = ["sudo"] }"#,
    ]);
    assert_drift_reports(
        &bao,
        &file,
        CHANGED,
        POLICY_APP,
        "changed outside aegisctl",
        &[
            "~ policy",
            r#"- path "kv/data/app/*" { capabilities = ["read"] }"#,
            r#"+ path "intruder/*" { capabilities = ["sudo"] }"#,
        ],
    );
    assert_apply_converges(&bao, &file);
    let text = bao.read_json("sys/policies/acl/app-read")["data"]["policy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("kv/data/app/*") && !text.contains("intruder"),
        "{text}"
    );
}

#[test]
fn drift_reports_mount_tune_and_apply_reverts_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&["secrets", "tune", "-default-lease-ttl=2h", "kv"]);
    assert_drift_reports(
        &bao,
        &file,
        CHANGED,
        MOUNT_KV,
        "changed outside aegisctl",
        &[r#"~ tune.default_lease_ttl = "1h" -> "2h""#],
    );
    assert_apply_converges(&bao, &file);
    assert_eq!(
        bao.read_json("sys/mounts/kv/tune")["data"]["default_lease_ttl"],
        3600
    );
}

#[test]
fn drift_reports_transit_key_config_and_apply_reverts_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&[
        "write",
        "transit/keys/signing/config",
        "deletion_allowed=true",
    ]);
    assert_drift_reports(
        &bao,
        &file,
        CHANGED,
        KEY_SIGNING,
        "changed outside aegisctl",
        &["~ deletion_allowed = false -> true"],
    );
    assert_apply_converges(&bao, &file);
    assert_eq!(
        bao.read_json("transit/keys/signing")["data"]["deletion_allowed"],
        false
    );
}

#[test]
fn drift_reports_kv_value_as_sensitive_and_apply_reverts_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&[
        "kv",
        "put",
        "kv/app/api-key",
        &format!("value={KV_INTRUDER}"),
    ]);
    let drift = assert_drift_reports(
        &bao,
        &file,
        CHANGED,
        KV_SECRET,
        "changed outside aegisctl",
        &["~ value = (sensitive value)"],
    );
    for value in [KV_INTRUDER, KV_VALUE] {
        assert!(
            !drift.all().contains(value),
            "drift printed a KV value:\n{drift}"
        );
    }
    let (apply, after) = assert_apply_converges(&bao, &file);
    for value in [KV_INTRUDER, KV_VALUE] {
        assert!(
            !apply.all().contains(value),
            "apply printed a KV value:\n{apply}"
        );
        assert!(
            !after.all().contains(value),
            "drift printed a KV value:\n{after}"
        );
    }
    assert_eq!(
        bao.bao_ok(&["kv", "get", "-field=value", "kv/app/api-key"])
            .trim(),
        KV_VALUE
    );
}

#[test]
fn drift_reports_deleted_managed_policy_and_apply_recreates_it() {
    let (bao, file) = converged_without_dev_mount();
    bao.bao_ok(&["policy", "delete", "ops-read"]);
    assert_drift_reports(
        &bao,
        &file,
        DELETED,
        POLICY_OPS,
        "deleted outside aegisctl",
        &[r#"- policy "ops-read""#],
    );
    assert_apply_converges(&bao, &file);
    let text = bao.read_json("sys/policies/acl/ops-read")["data"]["policy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("kv/data/ops/*"), "{text}");
}

#[test]
fn drift_reports_unmanaged_policy_which_apply_and_prune_leave_alone() {
    let (bao, file) = converged_without_dev_mount();
    let rogue = r#"openbao[root].policy["rogue"]"#;
    bao.bao_ok(&[
        "write",
        "sys/policies/acl/rogue",
        r#"policy=path "rogue/*" { capabilities = ["read"] }"#,
    ]);
    assert_drift_reports(
        &bao,
        &file,
        UNMANAGED,
        rogue,
        "not managed by aegisctl",
        &[r#"+ policy "rogue""#],
    );

    // apply converges what it manages and leaves what it does not manage alone...
    let apply = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(
        !apply.stdout.contains(rogue),
        "apply should not touch the unmanaged policy:\n{apply}"
    );
    bao.bao_ok(&["policy", "read", "rogue"]);
    assert_drift_reports(
        &bao,
        &file,
        UNMANAGED,
        rogue,
        "not managed by aegisctl",
        &[r#"+ policy "rogue""#],
    );

    // ...and so does --prune, because the ledger never held it.
    let plan = ctl(&bao, &["plan", "--prune", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(!plan.stdout.contains(rogue), "{plan}");
    let prune = ctl_ok(&bao, &["apply", "--prune", "--auto-approve", s(&file)]);
    assert!(
        !prune.all().contains(rogue),
        "apply --prune should not touch the unmanaged policy:\n{prune}"
    );
    bao.bao_ok(&["policy", "read", "rogue"]);
    assert_drift_reports(
        &bao,
        &file,
        UNMANAGED,
        rogue,
        "not managed by aegisctl",
        &[r#"+ policy "rogue""#],
    );
}

// ---------------------------------------------------------------------------------------------
// a converged apply is read-only

#[test]
fn converged_apply_writes_nothing_and_converged_plan_is_cheap() {
    let (bao, file) = converged();

    let mark = bao.audit_mark();
    let apply = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(apply.stdout.contains("No changes."), "{apply}");
    let reqs = bao.audit_requests();
    let writes = writes_outside_ledger(&reqs[mark..]);
    assert!(
        writes.is_empty(),
        "a converged apply wrote outside the ledger: {writes:#?}"
    );

    let mark = bao.audit_mark();
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
    let reqs = bao.audit_requests();
    let sent = &reqs[mark..];
    // Besides one read per object: the two mount tables, the ledger (its shard list, its
    // key, the legacy document, one shard) and the server's version for the field check.
    assert!(
        sent.len() <= OBJECTS + 7,
        "a converged plan of {OBJECTS} objects sent {} requests (at most {} expected): {sent:#?}",
        sent.len(),
        OBJECTS + 7
    );
    assert!(sent.iter().all(|r| !r.is_write()), "plan wrote: {sent:#?}");
}

// ---------------------------------------------------------------------------------------------
// saved plans

#[test]
fn saved_plan_is_refused_after_out_of_band_change_and_applied_without_one() {
    let (bao, _) = converged();
    let changed = BASE.replace("token_ttl: 1h", "token_ttl: 4h").replace(
        r#"path "kv/data/ops/*" { capabilities = ["read"] }"#,
        r#"path "kv/data/ops/*" { capabilities = ["read", "list"] }"#,
    );
    let file = topology(&bao, "changed", &changed);
    let planfile = bao.dir.path().join("changed.plan");

    // Saved, then the world moves under it: the saved plan is refused and nothing is written.
    ctl_ok(&bao, &["plan", s(&file), "-out", s(&planfile)]);
    bao.bao_ok(&["write", "auth/approle/role/app", "token_ttl=2h"]);
    let mark = bao.audit_mark();
    let refused = ctl(&bao, &["apply", s(&planfile)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .all()
            .contains("live state moved since the plan was saved"),
        "{refused}"
    );
    assert!(
        refused.all().contains(ROLE),
        "the refusal should name what moved:\n{refused}"
    );
    let reqs = bao.audit_requests();
    let writes = writes_outside_ledger(&reqs[mark..]);
    assert!(writes.is_empty(), "a refused saved plan wrote: {writes:#?}");
    assert_eq!(role_field(&bao, "app", "token_ttl"), 7200);
    let ops = bao.read_json("sys/policies/acl/ops-read")["data"]["policy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !ops.contains("list"),
        "the policy change of the refused plan was applied: {ops}"
    );

    // Saved and applied with nothing in between: applied exactly.
    ctl_ok(&bao, &["plan", s(&file), "-out", s(&planfile)]);
    let applied = ctl_ok(&bao, &["apply", s(&planfile)]);
    assert!(applied.stdout.contains("Apply complete!"), "{applied}");
    assert_eq!(role_field(&bao, "app", "token_ttl"), 14400);
    let ops = bao.read_json("sys/policies/acl/ops-read")["data"]["policy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ops.contains("list"), "{ops}");
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// the apply lock

#[test]
fn concurrent_apply_is_refused_naming_the_lock_holder() {
    use aegisctl::backends::openbao::BaoClient;
    use aegisctl::sensitive::Sensitive;
    use aegisctl::state::lock::Lock;

    let (bao, _) = converged();
    let file = topology(
        &bao,
        "changed",
        &BASE.replace("token_ttl: 1h", "token_ttl: 3h"),
    );

    // Another apply, in this process, holds the lock.
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let client = BaoClient::new(
        &bao.addr,
        Sensitive::new(bao.token.clone()),
        None,
        Duration::from_secs(10),
        Duration::from_secs(10),
    )
    .expect("client");
    let holder = "lock-tester@test-host pid 4242";
    let (lock, _) = rt
        .block_on(Lock::acquire(
            &client,
            "aegisctl",
            holder,
            Duration::from_secs(60),
        ))
        .expect("take the lock");

    let refused = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused.all().contains(holder),
        "the refusal should name the holder:\n{refused}"
    );
    assert_eq!(
        role_field(&bao, "app", "token_ttl"),
        3600,
        "a refused apply changed the role"
    );

    rt.block_on(lock.release()).expect("release the lock");
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(role_field(&bao, "app", "token_ttl"), 10800);

    // A lock left behind by a killed apply on another host: refused, then `unlock` clears it.
    bao.bao_ok(&[
        "kv",
        "put",
        "aegisctl/lock",
        "holder=alice@ops-host pid 7",
        "since=2026-01-01T00:00:00Z",
    ]);
    let base = topology(&bao, "base-again", BASE);
    let refused = ctl(&bao, &["apply", "--auto-approve", s(&base)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(refused.all().contains("alice@ops-host"), "{refused}");
    assert_eq!(
        role_field(&bao, "app", "token_ttl"),
        10800,
        "a refused apply changed the role"
    );
    let unlock = ctl_ok(&bao, &["unlock", s(&base)]);
    assert!(unlock.all().contains("alice@ops-host"), "{unlock}");
    ctl_ok(&bao, &["apply", "--auto-approve", s(&base)]);
    assert_eq!(role_field(&bao, "app", "token_ttl"), 3600);
}

#[test]
fn lock_is_released_after_successful_and_failed_apply() {
    let (bao, file) = converged();
    assert_eq!(
        lock_holder(&bao),
        "",
        "the lock should be free after a successful apply"
    );

    let bad = topology(
        &bao,
        "bad",
        &BASE.replace(
            "token_ttl: 1h",
            "token_ttl: 1h\n          token_type: bogus",
        ),
    );
    let failed = ctl(&bao, &["apply", "--auto-approve", s(&bad)]);
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed.all().contains("token_type"),
        "the server's complaint should be shown:\n{failed}"
    );
    assert_eq!(
        lock_holder(&bao),
        "",
        "the lock should be free after a failed apply"
    );

    // Another apply really can take it.
    let next = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(next.code, Some(0), "{next}");
    assert!(!next.all().contains("holds the lock"), "{next}");
    assert_eq!(lock_holder(&bao), "");
}

// ---------------------------------------------------------------------------------------------
// --prune

#[test]
fn prune_destroys_managed_objects_no_longer_declared() {
    let (bao, _) = converged();
    let smaller = BASE
        .replace("        blackboard: { type: aes256-gcm96 }\n", "")
        .replace(
            "    ops-read: |\n      path \"kv/data/ops/*\" { capabilities = [\"read\"] }\n",
            "",
        );
    assert!(
        !smaller.contains("blackboard") && !smaller.contains("ops-read"),
        "{smaller}"
    );
    let file = topology(&bao, "smaller", &smaller);

    // Without --prune they are not part of the plan.
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
    assert!(
        !plan.stdout.contains(KEY_BLACKBOARD) && !plan.stdout.contains(POLICY_OPS),
        "{plan}"
    );

    // With --prune they are shown as destroyed; deleting a Transit key destroys its key
    // material, so that one needs --allow-destroy too.
    let plan = ctl(&bao, &["plan", "--prune", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    for address in [KEY_BLACKBOARD, POLICY_OPS] {
        let blk = block(&plan.stdout, address)
            .unwrap_or_else(|| panic!("{address} not in the plan:\n{plan}"));
        assert!(blk.contains("will be destroyed"), "{blk}");
        assert!(
            blk.lines().any(|l| l.trim_start().starts_with("- ")),
            "{blk}"
        );
    }
    let key_block = block(&plan.stdout, KEY_BLACKBOARD).unwrap_or_default();
    assert!(
        key_block.contains("destroys its key material") && key_block.contains("--allow-destroy"),
        "{key_block}"
    );
    let refused = ctl(&bao, &["apply", "--prune", "--auto-approve", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    bao.bao_ok(&["read", "transit/keys/blackboard"]);
    bao.bao_ok(&["policy", "read", "ops-read"]);
    assert!(
        plan.stdout.contains("0 to add, 0 to change, 2 to destroy."),
        "{plan}"
    );

    // A plain apply leaves them; apply --prune deletes them.
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    bao.bao_ok(&["read", "transit/keys/blackboard"]);
    bao.bao_ok(&["policy", "read", "ops-read"]);
    ctl_ok(
        &bao,
        &[
            "apply",
            "--prune",
            "--allow-destroy",
            "--auto-approve",
            s(&file),
        ],
    );
    assert!(
        !bao.bao(&["read", "transit/keys/blackboard"])
            .status
            .success(),
        "the transit key survived --prune"
    );
    assert!(
        !bao.bao(&["policy", "read", "ops-read"]).status.success(),
        "the policy survived --prune"
    );
    bao.bao_ok(&["read", "transit/keys/signing"]);
    bao.bao_ok(&["policy", "read", "app-read"]);

    let plan = ctl(&bao, &["plan", "--prune", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// replacement

#[test]
fn transit_key_type_change_is_a_replacement_that_needs_allow_destroy() {
    let (bao, _) = converged();
    let file = topology(
        &bao,
        "retyped",
        &BASE.replace("signing: { type: ed25519,", "signing: { type: ecdsa-p256,"),
    );

    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    let blk =
        block(&plan.stdout, KEY_SIGNING).unwrap_or_else(|| panic!("no block for the key:\n{plan}"));
    assert!(blk.contains("must be replaced"), "{blk}");
    assert!(
        blk.lines()
            .any(|l| l.trim_start().starts_with("-/+ transit_key")),
        "{blk}"
    );
    assert!(
        norm(&blk).contains(r#"~ type = "ed25519" -> "ecdsa-p256""#),
        "{blk}"
    );

    let refused = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(refused.all().contains("--allow-destroy"), "{refused}");
    assert_eq!(
        bao.read_json("transit/keys/signing")["data"]["type"],
        "ed25519"
    );

    ctl_ok(
        &bao,
        &["apply", "--auto-approve", "--allow-destroy", s(&file)],
    );
    let key = bao.read_json("transit/keys/signing");
    assert_eq!(key["data"]["type"], "ecdsa-p256");
    assert_eq!(
        key["data"]["deletion_allowed"], false,
        "the replacement should carry the declared config"
    );
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// partial failure

const PARTIAL: &str = r#"version: 1
openbao:
  ledger: aegisctl
  policies:
    broken: |
      path "x/*" { capabilities = ["read"
    good: |
      path "y/*" { capabilities = ["read"] }
  auth:
    approle:
      type: approle
      roles:
        needs-broken:
          token_policies: [broken]
          token_ttl: 1h
        bad-type:
          token_type: bogus
        fine:
          token_policies: [good]
          token_ttl: 1h
  secrets:
    transit:
      type: transit
      keys:
        k: { type: aes256-gcm96 }
"#;

#[test]
fn failed_change_skips_its_dependents_and_a_fixed_rerun_converges() {
    let bao = Bao::start();
    let file = topology(&bao, "partial", PARTIAL);
    let run = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(1), "{run}");
    let all = run.all();
    let line = |address: &str| -> String {
        all.lines()
            .find(|l| l.starts_with(&format!("{address}: ")))
            .unwrap_or_else(|| panic!("no result line for {address}:\n{run}"))
            .to_owned()
    };
    let broken = r#"openbao[root].policy["broken"]"#;
    let needs_broken = r#"openbao[root].approle_role["approle/needs-broken"]"#;
    let bad_type = r#"openbao[root].approle_role["approle/bad-type"]"#;
    assert!(line(broken).contains("failed"), "{run}");
    assert!(line(bad_type).contains("failed"), "{run}");
    assert!(
        line(bad_type).contains("token_type"),
        "the server's message should be shown:\n{run}"
    );
    let skipped = line(needs_broken);
    assert!(
        skipped.contains("skipped") && skipped.contains(broken),
        "{run}"
    );
    for ok in [
        r#"openbao[root].policy["good"]"#,
        r#"openbao[root].auth["approle"]"#,
        r#"openbao[root].approle_role["approle/fine"]"#,
        r#"openbao[root].mount["transit"]"#,
        r#"openbao[root].transit_key["transit/k"]"#,
    ] {
        assert!(line(ok).ends_with("created"), "{ok}:\n{run}");
    }
    // The skipped role was never attempted; the independent ones exist.
    assert!(
        !bao.bao(&["read", "auth/approle/role/needs-broken"])
            .status
            .success()
    );
    assert!(
        !bao.bao(&["read", "auth/approle/role/bad-type"])
            .status
            .success()
    );
    bao.bao_ok(&["read", "auth/approle/role/fine"]);
    bao.bao_ok(&["read", "transit/keys/k"]);
    bao.bao_ok(&["policy", "read", "good"]);

    // Fix the topology and run again: it converges.
    let fixed = PARTIAL
        .replace(
            r#"path "x/*" { capabilities = ["read""#,
            r#"path "x/*" { capabilities = ["read"] }"#,
        )
        .replace("token_type: bogus", "token_type: service");
    let file = topology(&bao, "fixed", &fixed);
    let run = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert_eq!(
        role_field(&bao, "needs-broken", "token_policies"),
        serde_json::json!(["broken"])
    );
    assert_eq!(role_field(&bao, "bad-type", "token_type"), "service");
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(plan.stdout.contains("No changes."), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// --target

/// `--target` selects an object and what it depends on, nothing else; applying it leaves the
/// rest for later, and an address the file does not declare is refused before any request.
#[test]
fn target_applies_an_object_and_its_dependencies_only() {
    let bao = Bao::start();
    let file = topology(&bao, "target", BASE);
    let plan = ctl(&bao, &["plan", "--target", ROLE, s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    for wanted in [ROLE, POLICY_APP, r#"openbao[root].auth["approle"]"#] {
        assert!(
            plan.stdout.contains(wanted),
            "--target should include {wanted}:\n{plan}"
        );
    }
    for unwanted in [POLICY_OPS, MOUNT_KV, KEY_SIGNING, KV_SECRET] {
        assert!(
            !plan.stdout.contains(unwanted),
            "--target should leave out {unwanted}:\n{plan}"
        );
    }
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{plan}"
    );

    ctl_ok(
        &bao,
        &["apply", "--auto-approve", "--target", ROLE, s(&file)],
    );
    assert!(bao.bao(&["read", "auth/approle/role/app"]).status.success());
    assert!(
        !bao.bao(&["read", "sys/policies/acl/ops-read"])
            .status
            .success()
    );
    // The rest is still to do.
    let rest = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(rest.code, Some(2), "{rest}");
    assert!(
        rest.stdout.contains(POLICY_OPS) && !rest.stdout.contains(&format!("# {ROLE}")),
        "{rest}"
    );

    let mark = bao.audit_mark();
    let bad = ctl(
        &bao,
        &[
            "plan",
            "--target",
            r#"openbao[root].policy["nope"]"#,
            s(&file),
        ],
    );
    assert_eq!(bad.code, Some(1), "{bad}");
    assert!(bad.stderr.contains("matches no address"), "{bad}");
    assert_eq!(
        bao.audit_mark(),
        mark,
        "an unknown target is refused before any request"
    );
}

/// A few hundred objects converge on a server with default limits: the ledger must fit
/// OpenBao's request limits (`max_request_json_strings` is 1,000 by default), whatever the size
/// of the topology.
#[test]
fn hundreds_of_objects_converge_within_openbaos_request_limits() {
    let bao = Bao::start();
    let mut yaml = String::from("version: 1\nopenbao:\n  policies:\n");
    for i in 0..300 {
        yaml.push_str(&format!(
            "    p{i}: 'path \"kv/data/{i}/*\" {{ capabilities = [\"read\"] }}'\n"
        ));
    }
    let file = topology(&bao, "many", &yaml);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    let plan = ctl(&bao, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    let again = ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert!(again.stdout.contains("No changes."), "{again}");
    // The ledger knows every one of them: removing one and pruning deletes exactly it.
    let fewer = yaml.replace(
        "    p7: 'path \"kv/data/7/*\" { capabilities = [\"read\"] }'\n",
        "",
    );
    let file = topology(&bao, "fewer", &fewer);
    let pruned = ctl_ok(&bao, &["apply", "--prune", "--auto-approve", s(&file)]);
    assert!(
        pruned.stdout.contains("0 added, 0 changed, 1 destroyed"),
        "{pruned}"
    );
    assert!(!bao.bao(&["read", "sys/policies/acl/p7"]).status.success());
}

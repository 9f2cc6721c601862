//! The prune guard, one container type at a time: a container aegisctl manages (a kv-v2 mount, a
//! Transit mount, an AppRole auth mount, a namespace) that holds objects made by hand is not
//! deleted by `--prune` — the plan warns and names them, the apply refuses and sends no write —
//! until `--allow-destroy`, with which the plan lists every one of them by address (recursively)
//! and the apply deletes them. A Transit key's own prune needs `--allow-destroy` too.

use crate::harness::{Bao, UNMANAGED, assert_no_changes, block, ctl, ctl_ok, s, section, topology};

/// Every write the server received after `mark`, except the apply lock's own document (taken and
/// given back by every apply).
fn writes_since(bao: &Bao, mark: usize) -> Vec<String> {
    bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.is_write() && r.path != "aegisctl/data/lock")
        .map(|r| format!("{} {} (ns {:?})", r.operation, r.path, r.namespace))
        .collect()
}

/// Whether `bao ARGS` succeeds (the object is there).
fn exists(bao: &Bao, args: &[&str]) -> bool {
    bao.bao(args).status.success()
}

fn policy_file(bao: &Bao, name: &str) -> String {
    let path = bao.dir.path().join(format!("{name}.hcl"));
    std::fs::write(&path, "path \"hand/*\" { capabilities = [\"read\"] }\n").expect("hcl");
    path.to_str().expect("utf-8").to_owned()
}

/// One container scenario.
struct Guard<'a> {
    /// The topology that declares the container; `without` is the same without it.
    with: &'a str,
    without: &'a str,
    /// The container's address.
    container: &'a str,
    /// Makes the objects by hand (inside the container).
    hand: &'a dyn Fn(&Bao),
    /// What the guard must name: every hand-made object, recursively.
    unmanaged: &'a [&'a str],
    /// `bao` reads that succeed while the container is there, and must fail once it is gone.
    present: &'a [&'a [&'a str]],
}

/// Apply → no changes → hand-made objects show as drift → a prune is warned about and refused
/// with no write → with `--allow-destroy` listed and done → no changes.
fn prune_guard(g: &Guard) {
    let bao = Bao::start();
    // The dev server's own `secret/` mount would be drift of its own.
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let with = topology(&bao, "with", g.with);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&with)]);
    assert_no_changes(&bao, &with, &[]);

    (g.hand)(&bao);
    let drift = ctl(&bao, &["drift", s(&with)]);
    assert_eq!(drift.code, Some(2), "hand-made objects are drift:\n{drift}");
    let sec = section(&drift.stdout, UNMANAGED).unwrap_or_else(|| panic!("{drift}"));
    // The guard's list is recursive; drift names what sits directly in managed containers.
    assert!(
        g.unmanaged.iter().any(|a| sec.contains(a)),
        "drift should name the hand-made objects:\n{drift}"
    );

    let without = topology(&bao, "without", g.without);
    let plan = ctl(&bao, &["plan", "--prune", s(&without)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    let blk = block(&plan.stdout, g.container)
        .unwrap_or_else(|| panic!("{} should be planned for deletion:\n{plan}", g.container));
    assert!(blk.contains("will be destroyed"), "{blk}");
    assert!(
        blk.contains("warning:") && blk.contains("aegisctl does not manage"),
        "the plan should warn that deleting {} destroys unmanaged objects:\n{blk}",
        g.container
    );
    for a in g.unmanaged {
        assert!(blk.contains(a), "the warning should name {a}:\n{blk}");
    }

    let mark = bao.audit_mark();
    let refused = ctl(&bao, &["apply", "--prune", "--auto-approve", s(&without)]);
    assert_eq!(
        refused.code,
        Some(1),
        "the prune must be refused:\n{refused}"
    );
    assert!(!refused.all().contains("Apply complete!"), "{refused}");
    assert!(
        refused.stderr.contains(g.container) && refused.stderr.contains(g.unmanaged[0]),
        "the refusal names the container and what it holds:\n{refused}"
    );
    let writes = writes_since(&bao, mark);
    assert!(
        writes.is_empty(),
        "a refused prune must not write (nor delete) anything: {writes:#?}\n{refused}"
    );
    for read in g.present {
        assert!(exists(&bao, read), "{read:?} is gone after a refused prune");
    }

    let plan = ctl(&bao, &["plan", "--prune", "--allow-destroy", s(&without)]);
    assert_eq!(plan.code, Some(0), "{plan}");
    let blk = block(&plan.stdout, g.container).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        blk.contains(&format!(
            "# --allow-destroy: it also destroys {} object(s) aegisctl does not manage:",
            g.unmanaged.len()
        )),
        "the plan should list what --allow-destroy destroys:\n{blk}"
    );
    for a in g.unmanaged {
        assert!(
            blk.lines().any(|l| l.trim() == format!("#   - {a}")),
            "{a} should be listed by address:\n{blk}"
        );
    }
    assert!(!blk.contains("warning:"), "{blk}");

    let applied = ctl(
        &bao,
        &[
            "apply",
            "--prune",
            "--allow-destroy",
            "--auto-approve",
            s(&without),
        ],
    );
    assert_eq!(applied.code, Some(0), "{applied}");
    assert!(applied.stdout.contains("Apply complete!"), "{applied}");
    for read in g.present {
        assert!(!exists(&bao, read), "{read:?} should be gone:\n{applied}");
    }
    assert_no_changes(&bao, &without, &["--prune"]);
}

const KEEP: &str = r#"version: 1
openbao:
  policies:
    keep: |
      path "keep/*" { capabilities = ["read"] }
"#;

#[test]
fn prune_guard_kv_mount_holding_a_secret_written_by_hand() {
    let with = format!(
        "{KEEP}  secrets:\n    kv:\n      type: kv-v2\n      kv:\n        app/config: {{ url: https://app.example }}\n"
    );
    prune_guard(&Guard {
        with: &with,
        without: KEEP,
        container: r#"openbao[root].mount["kv"]"#,
        hand: &|bao| {
            bao.bao_ok(&["kv", "put", "kv/hand/made", "token=by-hand"]);
        },
        unmanaged: &[r#"openbao[root].kv_secret["kv/hand/made"]"#],
        present: &[
            &["kv", "get", "kv/hand/made"],
            &["read", "sys/mounts/kv/tune"],
        ],
    });
}

#[test]
fn prune_guard_transit_mount_holding_a_hand_made_key() {
    let with = format!(
        "{KEEP}  secrets:\n    transit:\n      type: transit\n      keys:\n        managed: {{ type: aes256-gcm96 }}\n"
    );
    prune_guard(&Guard {
        with: &with,
        without: KEEP,
        container: r#"openbao[root].mount["transit"]"#,
        hand: &|bao| {
            bao.bao_ok(&["write", "-f", "transit/keys/handmade"]);
        },
        unmanaged: &[r#"openbao[root].transit_key["transit/handmade"]"#],
        present: &[
            &["read", "transit/keys/handmade"],
            &["read", "transit/keys/managed"],
        ],
    });
}

#[test]
fn prune_guard_auth_mount_holding_a_hand_made_role() {
    let with = format!(
        "{KEEP}  auth:\n    approle:\n      type: approle\n      roles:\n        app: {{ token_ttl: 1h }}\n"
    );
    prune_guard(&Guard {
        with: &with,
        without: KEEP,
        container: r#"openbao[root].auth["approle"]"#,
        hand: &|bao| {
            bao.bao_ok(&["write", "auth/approle/role/handmade", "token_ttl=2h"]);
        },
        unmanaged: &[r#"openbao[root].approle_role["approle/handmade"]"#],
        present: &[
            &["read", "auth/approle/role/handmade"],
            &["read", "auth/approle/role/app"],
        ],
    });
}

#[test]
fn prune_guard_namespace_holding_a_hand_made_policy_mount_and_child_namespace() {
    let with = format!(
        "{KEEP}  namespaces:\n    team:\n      policies:\n        reader: |\n          path \"x/*\" {{ capabilities = [\"read\"] }}\n"
    );
    prune_guard(&Guard {
        with: &with,
        without: KEEP,
        container: r#"openbao[root].namespace["team"]"#,
        hand: &|bao| {
            let hcl = policy_file(bao, "handpol");
            bao.bao_ok(&["policy", "write", "-namespace=team", "handpol", &hcl]);
            bao.bao_ok(&[
                "secrets",
                "enable",
                "-namespace=team",
                "-path=handkv",
                "kv-v2",
            ]);
            bao.bao_ok(&["kv", "put", "-namespace=team", "handkv/deep/er/s", "a=b"]);
            bao.bao_ok(&["namespace", "create", "-namespace=team", "child"]);
            bao.bao_ok(&["policy", "write", "-namespace=team/child", "inner", &hcl]);
        },
        unmanaged: &[
            r#"openbao[team].kv_secret["handkv/deep/er/s"]"#,
            r#"openbao[team].mount["handkv"]"#,
            r#"openbao[team].namespace["child"]"#,
            r#"openbao[team].policy["handpol"]"#,
            r#"openbao[team/child].policy["inner"]"#,
        ],
        present: &[
            &["read", "sys/namespaces/team"],
            &["policy", "read", "-namespace=team", "handpol"],
            &["kv", "get", "-namespace=team", "handkv/deep/er/s"],
            &["read", "-namespace=team", "sys/namespaces/child"],
            &["policy", "read", "-namespace=team/child", "inner"],
        ],
    });
}

#[test]
fn pruning_a_transit_key_needs_allow_destroy() {
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let both = "version: 1\nopenbao:\n  secrets:\n    transit:\n      type: transit\n      keys:\n        keep: { type: aes256-gcm96 }\n        doomed: { type: ed25519, deletion_allowed: false }\n";
    let file = topology(&bao, "keys", both);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_no_changes(&bao, &file, &[]);
    // An out-of-band edit of the key shows as drift.
    bao.bao_ok(&[
        "write",
        "transit/keys/doomed/config",
        "deletion_allowed=true",
    ]);
    let drift = ctl(&bao, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(r#"openbao[root].transit_key["transit/doomed"] changed outside aegisctl"#),
        "{drift}"
    );
    bao.bao_ok(&[
        "write",
        "transit/keys/doomed/config",
        "deletion_allowed=false",
    ]);

    const DOOMED: &str = r#"openbao[root].transit_key["transit/doomed"]"#;
    let file = topology(
        &bao,
        "keys",
        &both.replace(
            "        doomed: { type: ed25519, deletion_allowed: false }\n",
            "",
        ),
    );
    let plan = ctl(&bao, &["plan", "--prune", s(&file)]);
    let blk = block(&plan.stdout, DOOMED).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        blk.contains("will be destroyed")
            && blk.contains("warning:")
            && blk.contains("--allow-destroy"),
        "deleting key material needs --allow-destroy, and the plan says so:\n{blk}"
    );

    let mark = bao.audit_mark();
    let refused = ctl(&bao, &["apply", "--prune", "--auto-approve", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(!refused.all().contains("Apply complete!"), "{refused}");
    assert!(refused.stderr.contains(DOOMED), "{refused}");
    let writes = writes_since(&bao, mark);
    assert!(writes.is_empty(), "a refused prune wrote {writes:#?}");
    assert!(
        exists(&bao, &["read", "transit/keys/doomed"]),
        "the key must still be there"
    );

    let applied = ctl(
        &bao,
        &[
            "apply",
            "--prune",
            "--allow-destroy",
            "--auto-approve",
            s(&file),
        ],
    );
    assert_eq!(applied.code, Some(0), "{applied}");
    assert!(applied.stdout.contains("Apply complete!"), "{applied}");
    assert!(
        !exists(&bao, &["read", "transit/keys/doomed"]),
        "the key should be gone"
    );
    assert!(exists(&bao, &["read", "transit/keys/keep"]));
    assert_no_changes(&bao, &file, &["--prune"]);
}

/// A container's replace takes its contents with it: its declared children are created again in
/// the same apply (kv-v2 → kv is a replace, v2 → v1 cannot be done in place).
#[test]
fn replacing_a_mount_recreates_its_declared_secrets() {
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let v2 = "version: 1\nopenbao:\n  secrets:\n    app:\n      type: kv-v2\n      kv:\n        db/creds: { user: alice, port: 5432 }\n        api/key: { value: k-1 }\n";
    let file = topology(&bao, "replace", v2);
    ctl_ok(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_no_changes(&bao, &file, &[]);
    const MOUNT: &str = r#"openbao[root].mount["app"]"#;
    const SECRETS: [&str; 2] = [
        r#"openbao[root].kv_secret["app/api/key"]"#,
        r#"openbao[root].kv_secret["app/db/creds"]"#,
    ];

    let file = topology(&bao, "replace", &v2.replace("type: kv-v2", "type: kv"));
    let plan = ctl(&bao, &["plan", s(&file)]);
    let blk = block(&plan.stdout, MOUNT).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        blk.contains("-/+ mount \"app\"") && blk.contains("warning:"),
        "{blk}"
    );
    let mark = bao.audit_mark();
    let refused = ctl(&bao, &["apply", "--auto-approve", s(&file)]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(!refused.all().contains("Apply complete!"), "{refused}");
    let writes = writes_since(&bao, mark);
    assert!(writes.is_empty(), "a refused replace wrote {writes:#?}");

    let plan = ctl(&bao, &["plan", "--allow-destroy", s(&file)]);
    let blk = block(&plan.stdout, MOUNT).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        blk.contains("must be replaced") && blk.contains("-/+ mount \"app\""),
        "{blk}"
    );
    assert!(
        !SECRETS.iter().any(|s| blk.contains(s)),
        "the declared secrets are recreated, not unmanaged objects destroyed:\n{blk}"
    );
    for secret in SECRETS {
        let b = block(&plan.stdout, secret).unwrap_or_else(|| panic!("{plan}"));
        assert!(b.contains("will be created"), "{b}");
        assert!(
            b.contains(&format!("{MOUNT} is replaced, which deletes what it holds")),
            "{b}"
        );
    }
    let applied = ctl(
        &bao,
        &["apply", "--allow-destroy", "--auto-approve", s(&file)],
    );
    assert_eq!(applied.code, Some(0), "{applied}");
    assert!(applied.stdout.contains("Apply complete!"), "{applied}");
    let mounts = bao.read_json("sys/mounts");
    assert_eq!(mounts["data"]["app/"]["type"], "kv", "{mounts}");
    assert_ne!(
        mounts["data"]["app/"]["options"]["version"], "2",
        "{mounts}"
    );
    // Read as kv v1: the data itself, no `data/` layer, JSON types kept.
    let creds = bao.read_json("app/db/creds");
    assert_eq!(creds["data"]["user"], "alice", "{creds}");
    assert_eq!(creds["data"]["port"], 5432, "{creds}");
    assert_eq!(bao.read_json("app/api/key")["data"]["value"], "k-1");
    assert_no_changes(&bao, &file, &[]);

    bao.bao_ok(&["write", "app/db/creds", "user=mallory", "port=5432"]);
    let drift = ctl(&bao, &["drift", s(&file)]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(&format!("# {} changed outside aegisctl", SECRETS[1])),
        "{drift}"
    );
}

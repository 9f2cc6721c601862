//! Saved plans (issue 8, point 9): a plan file applies exactly what was reviewed. A secret input
//! that changed since is refused even on a fresh server, where no ledger (and so no fingerprint
//! key) existed when the plan was made; a plan is applied with the flags it was made with.

use crate::harness::{Bao, s, topology};
use crate::safety_util::{assert_no_changes, ctl, ctl_ok, since, writes};

const TOPOLOGY: &str = r#"version: 1
openbao:
  secrets:
    kv:
      type: kv-v2
      kv:
        app/api: { key: env:API_KEY }
"#;

fn kv_key(bao: &Bao) -> Option<String> {
    let out = bao.bao(&["kv", "get", "-field=key", "kv/app/api"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn a_plan_saved_before_any_ledger_refuses_a_changed_secret_and_applies_an_unchanged_one() {
    let bao = Bao::start();
    let file = topology(&bao, "saved", TOPOLOGY);
    let plan_file = bao.dir.path().join("fresh.plan");
    let reviewed = [("API_KEY", "reviewed-value-4b1e")];
    let run = ctl(
        &bao,
        &reviewed,
        &[
            "plan",
            "-out",
            s(&plan_file),
            "--detailed-exitcode",
            s(&file),
        ],
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        !bao.bao_ok(&["secrets", "list"]).contains("aegisctl/"),
        "planning creates no ledger"
    );
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(saved.contains("aegisctl-plan/2"), "{saved}");
    assert!(
        !saved.contains("reviewed-value-4b1e"),
        "no secret in a plan file"
    );

    // The input changed after the review: refused, and nothing of the plan is written.
    let mark = bao.audit_mark();
    let run = ctl(
        &bao,
        &[("API_KEY", "swapped-value-9c70")],
        &["apply", s(&plan_file)],
    );
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains("changed since the plan was saved"),
        "{run}"
    );
    assert!(!run.all().contains("Apply complete!"), "{run}");
    assert!(!run.all().contains("swapped-value-9c70"), "{run}");
    let written: Vec<String> = writes(&since(&bao, mark))
        .iter()
        .filter(|r| !r.path.starts_with("aegisctl/") && r.path != "sys/mounts/aegisctl")
        .map(|r| r.path.clone())
        .collect();
    assert!(
        written.is_empty(),
        "nothing of the plan may be written: {written:?}"
    );
    assert!(
        !bao.bao_ok(&["secrets", "list"]).contains("kv/"),
        "the kv mount must not exist"
    );
    assert_eq!(kv_key(&bao), None);

    // Unchanged, the same plan applies.
    let run = ctl_ok(&bao, &reviewed, &["apply", s(&plan_file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert_eq!(kv_key(&bao).as_deref(), Some("reviewed-value-4b1e"));
    assert_no_changes(&bao, &reviewed, &file);
}

#[test]
fn a_saved_plan_is_applied_with_the_flags_it_was_made_with() {
    let bao = Bao::start();
    let env = [("API_KEY", "flags-value-0e2d")];
    let with_extra = TOPOLOGY.replace(
        "        app/api: { key: env:API_KEY }\n",
        "        app/api: { key: env:API_KEY }\n    old:\n      type: kv-v2\n",
    );
    let file = topology(&bao, "flags", &with_extra);
    ctl_ok(&bao, &env, &["apply", "--auto-approve", s(&file)]);
    // The `old` mount leaves the file: only --prune deletes it.
    let file = topology(&bao, "flags", TOPOLOGY);
    let plan_file = bao.dir.path().join("prune.plan");
    let run = ctl(
        &bao,
        &env,
        &[
            "plan",
            "--prune",
            "-out",
            s(&plan_file),
            "--detailed-exitcode",
            s(&file),
        ],
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stdout
            .contains(r#"openbao[root].mount["old"] will be destroyed"#),
        "{run}"
    );

    for flags in [
        vec!["--allow-destroy"],
        vec!["--adopt"],
        vec!["--prune", "--allow-destroy"],
    ] {
        let mut args = vec!["apply"];
        args.extend(flags.iter().copied());
        args.push(s(&plan_file));
        let mark = bao.audit_mark();
        let run = ctl(&bao, &env, &args);
        assert_eq!(run.code, Some(1), "{args:?}:\n{run}");
        assert!(
            run.stderr.contains("was made with --prune")
                && run
                    .stderr
                    .contains("a saved plan is applied with the flags it was made with"),
            "{args:?} should be refused for its flags:\n{run}"
        );
        assert!(
            !run.all().contains("moved") && !run.all().contains("changed since"),
            "the world did not move; the flags differ:\n{run}"
        );
        assert!(writes(&since(&bao, mark)).is_empty(), "{args:?} wrote");
    }
    assert!(bao.bao_ok(&["secrets", "list"]).contains("old/"));

    // Without flags, the stored ones apply: the prune goes through.
    let run = ctl_ok(&bao, &env, &["apply", s(&plan_file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert!(!bao.bao_ok(&["secrets", "list"]).contains("old/"));
    assert_no_changes(&bao, &env, &file);
}

//! Declared fields are checked against the parameters OpenBao publishes (issue 8, point 3): a
//! typo such as `token_tll: 1h`, which OpenBao would accept and ignore (the object then plans as
//! converged forever), fails plan, apply and drift before any write, pointing at the key with the
//! nearest valid name; and the schema costs a few requests per run, not one per object.

use std::fmt::Write as _;

use serde_json::Value;

use crate::harness::{Bao, s, topology};
use crate::safety_util::{apply_ok, assert_no_changes, ctl, since, writes};

/// Three typos, one per kind of table: a role's own endpoint, a mount's tune, and a Transit key
/// (whose fields span `keys/{name}` and `keys/{name}/config`). Line and column of each key are
/// in [`TYPOS`].
const TYPOED: &str = r#"version: 1
openbao:
  auth:
    approle:
      roles:
        app:
          token_tll: 1h
  secrets:
    kv:
      type: kv-v2
      tune:
        default_lease_tll: 1h
    transit:
      type: transit
      keys:
        k: { type: aes256-gcm96, min_decryption_verison: 1 }
"#;

/// (position of the misspelt key, field as reported, suggestion).
const TYPOS: &[(&str, &str, &str)] = &[
    ("7:11", "token_tll", "token_ttl"),
    ("12:9", "tune.default_lease_tll", "tune.default_lease_ttl"),
    ("16:34", "min_decryption_verison", "min_decryption_version"),
];

#[test]
fn unknown_fields_fail_plan_apply_and_drift_at_the_key_with_a_suggestion_and_write_nothing() {
    let bao = Bao::start();
    let file = topology(&bao, "typos", TYPOED);
    let mark = bao.audit_mark();

    for args in [
        vec!["plan", "--detailed-exitcode"],
        vec!["apply", "--auto-approve"],
        vec!["drift"],
    ] {
        let mut args = args.clone();
        args.push(s(&file));
        let run = ctl(&bao, &[], &args);
        assert_eq!(run.code, Some(1), "{args:?} should fail:\n{run}");
        for (pos, field, suggestion) in TYPOS {
            let line = run
                .stderr
                .lines()
                .find(|l| l.contains(&format!("topology.yaml:{pos}: ")))
                .unwrap_or_else(|| {
                    panic!("{args:?}: no error at {pos} (the `{field}` key):\n{run}")
                });
            assert!(
                line.contains(&format!("`{field}` is not a parameter OpenBao knows")),
                "{line}\n{run}"
            );
            assert!(
                run.stderr
                    .contains(&format!("help: did you mean `{suggestion}`?")),
                "{args:?}: no suggestion `{suggestion}`:\n{run}"
            );
        }
        assert!(!run.all().contains("Apply complete!"), "{run}");
    }
    // Not one write reached the server: no ledger, no lock, no mount.
    let after = since(&bao, mark);
    assert!(
        writes(&after).is_empty(),
        "a refused topology must not write anything: {:?}",
        writes(&after)
    );
    assert!(
        !bao.bao_ok(&["auth", "list"]).contains("approle/"),
        "the approle mount must not exist"
    );

    // `--json`: the same problems as diagnostics with file, line, column and help.
    let run = ctl(&bao, &[], &["plan", "--json", s(&file)]);
    assert_eq!(run.code, Some(1), "{run}");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    for (pos, field, suggestion) in TYPOS {
        let (line, column) = pos.split_once(':').unwrap();
        let d = diags
            .iter()
            .find(|d| {
                d["summary"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("`{field}`")))
            })
            .unwrap_or_else(|| panic!("no diagnostic for `{field}`: {doc:#}"));
        assert_eq!(d["severity"], "error", "{d}");
        assert!(
            d["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("topology.yaml")),
            "{d}"
        );
        assert_eq!(d["line"].to_string(), line, "{d}");
        assert_eq!(d["column"].to_string(), column, "{d}");
        assert!(
            d["help"].as_str().is_some_and(|h| h.contains(suggestion)),
            "{d}"
        );
    }

    // Spelt right, the same topology converges and stays converged.
    let fixed = TYPOED
        .replace("token_tll", "token_ttl")
        .replace("default_lease_tll", "default_lease_ttl")
        .replace("min_decryption_verison", "min_decryption_version");
    let file = topology(&bao, "typos", &fixed);
    apply_ok(&bao, &[], &file);
    assert_eq!(
        bao.read_json("auth/approle/role/app")["data"]["token_ttl"],
        3600
    );
    assert_no_changes(&bao, &[], &file);
}

/// A topology of `roles` AppRole roles, `keys` Transit keys and `secrets` KV secrets; with
/// `typo`, the last role carries `token_tll`.
fn many(roles: usize, keys: usize, secrets: usize, typo: bool) -> String {
    let mut y = String::from("version: 1\nopenbao:\n  auth:\n    approle:\n      roles:\n");
    for i in 0..roles {
        let field = if typo && i + 1 == roles {
            "token_tll"
        } else {
            "token_ttl"
        };
        writeln!(y, "        r{i}: {{ {field}: 1h, token_max_ttl: 2h }}").unwrap();
    }
    y.push_str("  secrets:\n    transit:\n      type: transit\n      keys:\n");
    for i in 0..keys {
        writeln!(
            y,
            "        k{i}: {{ type: aes256-gcm96, auto_rotate_period: 24h }}"
        )
        .unwrap();
    }
    y.push_str("    kv:\n      type: kv-v2\n      kv:\n");
    for i in 0..secrets {
        writeln!(y, "        app/s{i}: {{ value: v{i} }}").unwrap();
    }
    y
}

/// Requests a plan spent on the schema: `?help=1` reads and `sys/seal-status`.
fn schema_requests(bao: &Bao, mark: usize) -> usize {
    since(bao, mark)
        .iter()
        .filter(|r| r.operation == "help" || r.path == "sys/seal-status")
        .count()
}

#[test]
fn the_schema_costs_a_few_requests_per_run_whatever_the_number_of_objects() {
    let bao = Bao::start();
    let small = topology(&bao, "small", &many(1, 1, 1, false));
    let large = topology(&bao, "large", &many(30, 20, 20, false));

    let mark = bao.audit_mark();
    let run = ctl(&bao, &[], &["plan", s(&small)]);
    assert_eq!(run.code, Some(0), "{run}");
    let for_small = schema_requests(&bao, mark);
    let total_small = since(&bao, mark).len();

    let mark = bao.audit_mark();
    let run = ctl(&bao, &[], &["plan", s(&large)]);
    assert_eq!(run.code, Some(0), "{run}");
    let for_large = schema_requests(&bao, mark);
    let total_large = since(&bao, mark).len();

    assert!(for_small <= 4, "{for_small} schema requests for 5 objects");
    assert_eq!(
        for_large, for_small,
        "the schema must be read once per run, not per object"
    );
    // One read per object and nothing else per object: 67 more objects, 67 more requests.
    assert_eq!(
        total_large - total_small,
        67,
        "{total_small} vs {total_large}"
    );

    // And it is really consulted for every one of them: a typo in the last of 30 roles is found.
    let typoed = topology(&bao, "large", &many(30, 20, 20, true));
    let mark = bao.audit_mark();
    let run = ctl(&bao, &[], &["apply", "--auto-approve", s(&typoed)]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .contains("`token_tll` is not a parameter OpenBao knows")
            && run.stderr.contains("approle_role[\"approle/r29\"]"),
        "{run}"
    );
    assert!(writes(&since(&bao, mark)).is_empty());
}

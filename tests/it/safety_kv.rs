//! KV as OpenBao holds it (issue 8, points 6 and 7): values keep their JSON types and compare
//! exactly (`5432` is not `"5432"`), `json:env:` references parse as JSON, an import writes
//! `json:env:` for non-text values; `kv_metadata:` is converged, drift-checked and reset when
//! pruned; every v2 write carries `cas`, so a mount with `cas_required` takes creates and updates.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::{Bao, block, norm, s, topology};
use crate::safety_util::{apply_ok, assert_drift_on, assert_no_changes, ctl, ctl_ok, curl};

const TYPED: &str = r#"version: 1
openbao:
  secrets:
    kv:
      type: kv-v2
      kv:
        app/typed:
          port: 5432
          port_text: "5432"
          enabled: true
          nested: { a: [1, "x"] }
          from_env: json:env:PORT
"#;
const TYPED_ADDR: &str = r#"openbao[root].kv_secret["kv/app/typed"]"#;

fn kv_data(bao: &Bao, path: &str) -> Value {
    let v: Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", path])).expect("kv get");
    v["data"]["data"].clone()
}

#[test]
fn kv_values_keep_their_json_types_and_compare_exactly() {
    let bao = Bao::start();
    let env = [("PORT", "5432")];
    let file = topology(&bao, "typed", TYPED);
    apply_ok(&bao, &env, &file);
    let want = json!({
        "port": 5432, "port_text": "5432", "enabled": true,
        "nested": {"a": [1, "x"]}, "from_env": 5432,
    });
    assert_eq!(kv_data(&bao, "kv/app/typed"), want);
    assert_no_changes(&bao, &env, &file);

    // The same values as strings (what `bao kv put` would write): drift on exactly those keys.
    curl(
        &bao,
        "POST",
        "kv/data/app/typed",
        Some(
            &json!({"data": {
                "port": "5432", "port_text": "5432", "enabled": "true",
                "nested": {"a": [1, "x"]}, "from_env": 5432,
            }})
            .to_string(),
        ),
    );
    let run = assert_drift_on(&bao, &env, &file, TYPED_ADDR);
    let blk = block(&run.stdout, TYPED_ADDR).unwrap();
    let changed: Vec<&str> = blk
        .lines()
        .filter_map(|l| l.trim().strip_prefix("~ "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|k| *k != "kv_secret")
        .collect();
    assert_eq!(changed, ["enabled", "port"], "{blk}");
    assert!(
        !run.all().contains("5432"),
        "values are never shown:\n{run}"
    );

    // An object against its JSON text is a change as well.
    curl(
        &bao,
        "POST",
        "kv/data/app/typed",
        Some(
            &json!({"data": {
                "port": 5432, "port_text": "5432", "enabled": true,
                "nested": "{\"a\":[1,\"x\"]}", "from_env": 5432,
            }})
            .to_string(),
        ),
    );
    let run = assert_drift_on(&bao, &env, &file, TYPED_ADDR);
    let blk = norm(&block(&run.stdout, TYPED_ADDR).unwrap());
    assert!(
        blk.contains("~ nested = (sensitive value)") && !blk.contains("port"),
        "{blk}"
    );

    apply_ok(&bao, &env, &file);
    assert_eq!(kv_data(&bao, "kv/app/typed"), want);
    assert_no_changes(&bao, &env, &file);

    // A JSON reference of another value is another number.
    let run = ctl(
        &bao,
        &[("PORT", "5433")],
        &["plan", "--detailed-exitcode", s(&file)],
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        norm(&run.stdout).contains("~ from_env = (sensitive value)"),
        "{run}"
    );
}

#[test]
fn an_import_writes_json_references_for_non_text_values_and_plans_no_changes() {
    let bao = Bao::start();
    let file = topology(&bao, "typed", TYPED);
    apply_ok(&bao, &[("PORT", "5432")], &file);

    let out = bao.dir.path().join("imported");
    let import = ctl_ok(&bao, &[], &["import", "openbao", "--out", s(&out)]);
    let text = std::fs::read_to_string(out.join("topology.yaml")).unwrap();
    let typed: BTreeMap<&str, &str> = text
        .lines()
        .skip_while(|l| l.trim() != "app/typed:")
        .skip(1)
        .take(5)
        .filter_map(|l| l.trim().split_once(": "))
        .collect();
    for key in ["port", "enabled", "nested", "from_env"] {
        assert!(
            typed.get(key).is_some_and(|v| v.starts_with("json:env:")),
            "`{key}` should be a json:env: placeholder:\n{text}"
        );
    }
    assert!(
        typed
            .get("port_text")
            .is_some_and(|v| v.starts_with("env:")),
        "a text value stays env::\n{text}"
    );
    assert!(!text.contains("5432"), "no value is imported:\n{text}");

    // The placeholders, set to the values (as JSON where the import says so): no changes.
    let mut env: Vec<(String, String)> = Vec::new();
    for (key, value) in [
        ("port", "5432"),
        ("port_text", "5432"),
        ("enabled", "true"),
        ("nested", r#"{"a":[1,"x"]}"#),
        ("from_env", "5432"),
    ] {
        let var = typed[key].rsplit(':').next().unwrap();
        assert!(import.stdout.contains(var), "{import}");
        env.push((var.to_owned(), value.to_owned()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let imported = out.join("topology.yaml");
    assert_no_changes(&bao, &env, &imported);
}

const META: &str = r#"version: 1
openbao:
  secrets:
    kv:
      type: kv-v2
      kv_metadata:
        app/meta: { max_versions: 3, cas_required: true, delete_version_after: 768h, custom_metadata: { owner: a } }
      kv:
        app/meta: { k: v1 }
    strict:
      type: kv-v2
      kv:
        app/one: { k: v1 }
"#;
const META_ADDR: &str = r#"openbao[root].kv_metadata["kv/app/meta"]"#;

fn metadata(bao: &Bao, path: &str) -> Value {
    let v: Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "metadata", "get", "-format=json", path]))
            .expect("kv metadata get");
    json!({
        "max_versions": v["data"]["max_versions"],
        "cas_required": v["data"]["cas_required"],
        "delete_version_after": v["data"]["delete_version_after"],
        "custom_metadata": v["data"]["custom_metadata"],
    })
}

#[test]
fn kv_metadata_converges_drifts_and_is_reset_when_pruned_and_cas_required_mounts_take_writes() {
    let bao = Bao::start();
    let file = topology(&bao, "meta", META);
    apply_ok(&bao, &[], &file);
    assert_eq!(
        metadata(&bao, "kv/app/meta"),
        json!({"max_versions": 3, "cas_required": true, "delete_version_after": "768h0m0s",
               "custom_metadata": {"owner": "a"}})
    );
    assert_eq!(kv_data(&bao, "kv/app/meta"), json!({"k": "v1"}));
    assert_no_changes(&bao, &[], &file);

    bao.bao_ok(&["kv", "metadata", "put", "-max-versions=9", "kv/app/meta"]);
    let run = assert_drift_on(&bao, &[], &file, META_ADDR);
    let blk = norm(&block(&run.stdout, META_ADDR).unwrap());
    assert!(blk.contains("~ max_versions = 3 -> 9"), "{blk}");
    apply_ok(&bao, &[], &file);
    assert_eq!(metadata(&bao, "kv/app/meta")["max_versions"], 3);

    // A mount that requires check-and-set on every write still takes creates and updates.
    bao.bao_ok(&["write", "strict/config", "cas_required=true"]);
    let changed = META
        .replace(
            "app/one: { k: v1 }",
            "app/one: { k: v2 }\n        app/two: { k: new }",
        )
        .replace("app/meta: { k: v1 }", "app/meta: { k: v2 }");
    let file = topology(&bao, "meta", &changed);
    apply_ok(&bao, &[], &file);
    assert_eq!(kv_data(&bao, "strict/app/one"), json!({"k": "v2"}));
    assert_eq!(kv_data(&bao, "strict/app/two"), json!({"k": "new"}));
    assert_eq!(kv_data(&bao, "kv/app/meta"), json!({"k": "v2"}));
    assert_no_changes(&bao, &[], &file);

    // The metadata leaves the file: --prune resets the settings, and keeps the data.
    let without = changed.replace(
        "      kv_metadata:\n        app/meta: { max_versions: 3, cas_required: true, delete_version_after: 768h, custom_metadata: { owner: a } }\n",
        "",
    );
    assert_ne!(without, changed);
    let file = topology(&bao, "meta", &without);
    let plan = ctl(
        &bao,
        &[],
        &["plan", "--prune", "--detailed-exitcode", s(&file)],
    );
    assert_eq!(plan.code, Some(2), "{plan}");
    assert!(
        plan.stdout
            .contains(&format!("# {META_ADDR} will be destroyed")),
        "{plan}"
    );
    assert!(
        plan.stdout.contains("0 to add, 0 to change, 1 to destroy."),
        "{plan}"
    );
    let run = ctl_ok(&bao, &[], &["apply", "--prune", "--auto-approve", s(&file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    assert_eq!(
        metadata(&bao, "kv/app/meta"),
        json!({"max_versions": 0, "cas_required": false, "delete_version_after": "0s",
               "custom_metadata": null})
    );
    assert_eq!(kv_data(&bao, "kv/app/meta"), json!({"k": "v2"}));
    assert_no_changes(&bao, &[], &file);
}

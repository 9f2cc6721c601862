//! `import openbao --namespace NS` (issue 8, point 14): the output says the file is for that
//! namespace only (BAO_NAMESPACE), Transit `min_decryption_version`, KV metadata and a kv v1
//! mount's contents are kept (values as placeholders, never the values), placeholder names are
//! stable across imports and distinct for `a-b` and `a_b`; with them set, the file plans
//! "No changes." in that namespace.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{Bao, Run, s};
use crate::safety_util::{bao_ns, ctl, ctl_ok};

const NS: &str = "tenant-x";
const VALUE_DASH: &str = "dash-value-1f7e";
const VALUE_UNDERSCORE: &str = "underscore-value-82c3";
const VALUE_V1: &str = "legacy-v1-value-5d90";

/// The tenant's objects, made by hand.
fn seed(bao: &Bao) {
    bao.bao_ok(&["namespace", "create", NS]);
    let ns = |args: &[&str]| bao_ns(bao, NS, args);
    ns(&["secrets", "enable", "transit"]);
    ns(&["write", "-f", "transit/keys/k"]);
    ns(&["write", "-f", "transit/keys/k/rotate"]);
    ns(&["write", "-f", "transit/keys/k/rotate"]);
    ns(&["write", "transit/keys/k/config", "min_decryption_version=2"]);
    ns(&["secrets", "enable", "-path=kv2", "kv-v2"]);
    ns(&["kv", "put", "kv2/app/a-b", &format!("v={VALUE_DASH}")]);
    ns(&["kv", "put", "kv2/app/a_b", &format!("v={VALUE_UNDERSCORE}")]);
    ns(&[
        "kv",
        "metadata",
        "put",
        "-max-versions=4",
        "-cas-required=true",
        "-custom-metadata=owner=x",
        "kv2/app/a-b",
    ]);
    ns(&["secrets", "enable", "-path=old", "kv"]);
    ns(&["kv", "put", "old/legacy", &format!("token={VALUE_V1}")]);
}

/// `import openbao --namespace NS --out DIR`: the run and the topology it wrote.
fn import(bao: &Bao, dir: &Path) -> (Run, String) {
    let run = ctl_ok(
        bao,
        &[],
        &["import", "openbao", "--namespace", NS, "--out", s(dir)],
    );
    let text = std::fs::read_to_string(dir.join("topology.yaml")).expect("topology.yaml");
    (run, text)
}

/// The placeholder variables the output lists, with what each stands for.
fn placeholders(run: &Run) -> BTreeMap<String, String> {
    run.stdout
        .lines()
        .filter_map(|l| l.trim().split_once("  ("))
        .map(|(var, what)| (var.to_owned(), what.trim_end_matches(')').to_owned()))
        .collect()
}

#[test]
fn a_namespace_import_keeps_metadata_key_versions_and_kv_v1_as_stable_placeholders() {
    let bao = Bao::start();
    seed(&bao);
    let first = bao.dir.path().join("first");
    let (run, text) = import(&bao, &first);

    // Whose file it is, in the output and in the file.
    assert!(
        run.stdout.contains(&format!("namespace {NS} only"))
            && run.stdout.contains(&format!("BAO_NAMESPACE={NS}")),
        "the output must say the file is for {NS} only:\n{run}"
    );
    assert!(
        !run.stdout.contains("declared under `namespaces:`"),
        "the file declares nothing under `namespaces:`:\n{run}\n{text}"
    );
    assert!(text.contains(&format!("BAO_NAMESPACE={NS}")), "{text}");

    // What is kept.
    assert!(text.contains("min_decryption_version: 2"), "{text}");
    assert!(text.contains("kv_metadata:"), "{text}");
    assert!(
        text.contains("max_versions: 4") && text.contains("cas_required: true"),
        "{text}"
    );
    assert!(text.contains("owner: x"), "{text}");
    assert!(text.contains("old:") && text.contains("legacy:"), "{text}");
    // ... never a value.
    for value in [VALUE_DASH, VALUE_UNDERSCORE, VALUE_V1] {
        assert!(
            !text.contains(value) && !run.all().contains(value),
            "{value} imported"
        );
    }

    // `a-b` and `a_b`: two names; a second import: the same names.
    let vars = placeholders(&run);
    let of = |what: &str| -> String {
        vars.iter()
            .find(|(_, w)| w.as_str() == what)
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| panic!("no placeholder for {what}: {vars:?}"))
    };
    let dash = of("key `v` of kv2/app/a-b");
    let underscore = of("key `v` of kv2/app/a_b");
    let v1 = of("key `token` of old/legacy");
    assert_ne!(dash, underscore);
    for var in [&dash, &underscore, &v1] {
        assert!(
            text.contains(&format!("env:{var}")),
            "{var} not in the file:\n{text}"
        );
    }
    let second = bao.dir.path().join("second");
    let (run2, text2) = import(&bao, &second);
    assert_eq!(
        placeholders(&run2),
        vars,
        "names must be stable across imports"
    );
    assert_eq!(text2, text);

    // With the values set, in the namespace, the import is what the server holds.
    let env = [
        (dash.as_str(), VALUE_DASH),
        (underscore.as_str(), VALUE_UNDERSCORE),
        (v1.as_str(), VALUE_V1),
        ("BAO_NAMESPACE", NS),
    ];
    let file = first.join("topology.yaml");
    let plan = ctl(&bao, &env, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(0), "{plan}\n--- imported ---\n{text}");
    assert!(plan.stdout.contains("No changes."), "{plan}");

    // A value changed by hand in the kv v1 mount now shows.
    bao_ns(
        &bao,
        NS,
        &["kv", "put", "old/legacy", "token=changed-by-hand"],
    );
    let plan = ctl(&bao, &env, &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    assert!(plan.stdout.contains(r#"kv_secret["old/legacy"]"#), "{plan}");
}

//! A canary secret travels through every command and error path; it must never be printed,
//! logged (even at -vvv), written to a plan file or put in an error message.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{Bao, all_output, write_topology};

mod yaml_styles;

/// The secret put into OpenBao through `env:`.
const CANARY: &str = "canary-4e1f9b2c-do-not-print";
/// A second secret, written out of band with `bao kv put`.
const OOB_CANARY: &str = "canary-7d3a0e58-out-of-band";
/// A literal secret written in the topology file itself (KV data is always sensitive).
const LITERAL_CANARY: &str = "canary-91c0ffee-literal-in-file";

const CANARY_VAR: &str = "AEGIS_TEST_CANARY";

const TOPOLOGY: &str = "\
version: 1
openbao:
  secrets:
    app:
      type: kv-v2
      kv:
        db/creds:
          password: env:AEGIS_TEST_CANARY
          username: app-user
";

/// Collects every run and checks them all for the canaries.
struct Runs {
    forbidden: Vec<String>,
    seen: Vec<(String, Output)>,
}

impl Runs {
    fn new() -> Self {
        Runs {
            forbidden: vec![CANARY.into(), OOB_CANARY.into(), LITERAL_CANARY.into()],
            seen: Vec::new(),
        }
    }

    fn forbid(&mut self, s: &str) {
        self.forbidden.push(s.to_owned());
    }

    /// Runs aegisctl with the canary in the environment; records and returns the output.
    fn run(&mut self, bao: &Bao, label: &str, args: &[&str], file: &Path) -> Output {
        self.run_with(bao, label, args, file, &[])
    }

    fn run_with(
        &mut self,
        bao: &Bao,
        label: &str,
        args: &[&str],
        file: &Path,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = bao.aegisctl();
        cmd.env(CANARY_VAR, CANARY).args(args).arg(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run aegisctl");
        self.seen.push((label.to_owned(), out.clone()));
        out
    }

    fn check_file(&mut self, label: &str, path: &Path) -> String {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{label}: cannot read {}: {e}", path.display()));
        self.seen.push((
            label.to_owned(),
            Output {
                status: std::process::ExitStatus::default(),
                stdout: text.clone().into_bytes(),
                stderr: Vec::new(),
            },
        ));
        text
    }

    fn assert_clean(&self) {
        let mut leaks = Vec::new();
        for (label, out) in &self.seen {
            for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                let text = String::from_utf8_lossy(bytes);
                for f in &self.forbidden {
                    if let Some(i) = text.find(f.as_str()) {
                        let line = text[..i].lines().count() + 1;
                        leaks.push(format!("{label}: {stream} line {line} contains {f}"));
                    }
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "secrets leaked ({} checked outputs):\n{}",
            self.seen.len(),
            leaks.join("\n")
        );
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn kv_value(bao: &Bao, key: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", "app/db/creds"])).unwrap();
    v["data"]["data"][key]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn json_doc(label: &str, out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{label}: stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn verbose_logs_are_on(label: &str, out: &Output, quiet_stderr_len: usize) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.trim().is_empty() && stderr.len() > quiet_stderr_len,
        "{label}: -vvv printed no logs:\n{stderr}"
    );
    assert!(
        stderr.contains("DEBUG") || stderr.contains("TRACE"),
        "{label}: -vvv logs have no DEBUG/TRACE lines:\n{stderr}"
    );
}

#[test]
fn canary_never_appears_in_any_output_log_or_plan_file() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let mut runs = Runs::new();
    runs.forbid(&bao.token);

    let out = runs.run(&bao, "validate", &["validate"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));

    let out = runs.run(&bao, "plan", &["plan"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(sensitive value)"));
    let quiet_plan_stderr = out.stderr.len();

    let out = runs.run(&bao, "plan -vvv", &["-vvv", "plan"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    verbose_logs_are_on("plan -vvv", &out, quiet_plan_stderr);

    let out = runs.run(&bao, "plan --json", &["plan", "--json"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    let doc = json_doc("plan --json", &out);
    let kv = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "openbao[root].kv_secret[\"app/db/creds\"]")
        .expect("the KV secret in the plan");
    assert!(kv["after"]["password"].is_null(), "{kv}");

    let fresh_plan = dir.path().join("fresh.plan");
    let out = runs.run(
        &bao,
        "plan -out (fresh)",
        &["plan", "-out", fresh_plan.to_str().unwrap()],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    let text = runs.check_file("plan file (fresh)", &fresh_plan);
    assert!(
        text.contains("kv_secret"),
        "the plan file holds the plan: {text}"
    );

    // The write that carries the canary, with every log on.
    let out = runs.run(
        &bao,
        "apply --auto-approve -vvv",
        &["-vvv", "apply", "--auto-approve"],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    verbose_logs_are_on("apply -vvv", &out, 0);
    assert_eq!(
        kv_value(&bao, "password"),
        CANARY,
        "the canary really was written"
    );

    let out = runs.run(
        &bao,
        "apply --auto-approve",
        &["apply", "--auto-approve"],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    let out = runs.run(
        &bao,
        "plan --detailed-exitcode (converged)",
        &["plan", "--detailed-exitcode"],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    // The dev server's own `secret/` mount is unmanaged: drift 2, but nothing of ours changed.
    let out = runs.run(&bao, "drift (converged)", &["drift"], &file);
    assert_ne!(code(&out), Some(1), "{}", all_output(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("app/db/creds"),
        "{}",
        all_output(&out)
    );

    // Out of band: another canary replaces the value.
    bao.bao_ok(&[
        "kv",
        "put",
        "app/db/creds",
        &format!("password={OOB_CANARY}"),
        "username=app-user",
    ]);
    let out = runs.run(&bao, "drift", &["drift"], &file);
    assert_eq!(code(&out), Some(2), "{}", all_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("app/db/creds"),
        "{}",
        all_output(&out)
    );
    let out = runs.run(&bao, "drift -vvv", &["-vvv", "drift"], &file);
    assert_eq!(code(&out), Some(2), "{}", all_output(&out));
    verbose_logs_are_on("drift -vvv", &out, 0);
    let out = runs.run(&bao, "drift --json", &["drift", "--json"], &file);
    assert_eq!(code(&out), Some(2), "{}", all_output(&out));
    let doc = json_doc("drift --json", &out);
    assert!(!doc["changes"].as_array().unwrap().is_empty(), "{doc}");

    let out = runs.run(&bao, "plan (drifted)", &["plan"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    let out = runs.run(&bao, "plan --json (drifted)", &["plan", "--json"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    json_doc("plan --json (drifted)", &out);
    let drifted_plan = dir.path().join("drifted.plan");
    let out = runs.run(
        &bao,
        "plan -out (drifted)",
        &["plan", "-out", drifted_plan.to_str().unwrap()],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    runs.check_file("plan file (drifted)", &drifted_plan);

    // Applying the saved plan writes the canary back over the out-of-band one.
    let out = runs.run(
        &bao,
        "apply PLANFILE -vvv",
        &["-vvv", "apply"],
        &drifted_plan,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    assert_eq!(kv_value(&bao, "password"), CANARY);

    runs.assert_clean();
}

/// Error path: the server refuses (403) the write that carries the canary.
#[test]
fn canary_stays_out_of_a_refused_write() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let mut runs = Runs::new();
    runs.forbid(&bao.token);

    let out = runs.run(&bao, "apply (root)", &["apply", "--auto-approve"], &file);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    bao.bao_ok(&[
        "kv",
        "put",
        "app/db/creds",
        &format!("password={OOB_CANARY}"),
        "username=app-user",
    ]);

    // Everything except writing the secrets of `app`.
    let policy = dir.path().join("no-app-writes.hcl");
    std::fs::write(
        &policy,
        "path \"*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\", \"patch\", \"sudo\"] }\n\
         path \"app/data/*\" { capabilities = [\"read\", \"list\"] }\n",
    )
    .unwrap();
    bao.bao_ok(&["policy", "write", "no-app-writes", policy.to_str().unwrap()]);
    let created: serde_json::Value = serde_json::from_str(&bao.bao_ok(&[
        "token",
        "create",
        "-format=json",
        "-policy=no-app-writes",
    ]))
    .unwrap();
    let limited = created["auth"]["client_token"].as_str().unwrap().to_owned();
    runs.forbid(&limited);

    for (label, args) in [
        ("apply as limited token", &["apply", "--auto-approve"][..]),
        (
            "apply -vvv as limited token",
            &["-vvv", "apply", "--auto-approve"][..],
        ),
        (
            "apply --json as limited token",
            &["apply", "--auto-approve", "--json"][..],
        ),
    ] {
        let out = runs.run_with(&bao, label, args, &file, &[("BAO_TOKEN", &limited)]);
        assert_eq!(code(&out), Some(1), "{label}: {}", all_output(&out));
        let text = all_output(&out);
        assert!(
            text.contains("403") && text.contains("permission denied"),
            "{label}: the refusal is reported with its status and OpenBao's message:\n{text}"
        );
        assert!(
            text.contains("app/data/db/creds"),
            "{label}: the refused path is named:\n{text}"
        );
    }
    assert_eq!(
        kv_value(&bao, "password"),
        OOB_CANARY,
        "nothing was written"
    );
    runs.assert_clean();
}

/// Error path: the server echoes the sensitive value in its error ("unknown key type <value>"),
/// and aegisctl scrubs it.
#[test]
fn canary_echoed_by_the_server_is_scrubbed_from_the_error() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(
        dir.path(),
        "\
version: 1
openbao:
  secrets:
    sign:
      type: transit
      keys:
        k1: { type: env:AEGIS_TEST_CANARY }
",
    );
    let mut runs = Runs::new();
    runs.forbid(&bao.token);
    for (label, args) in [
        ("apply (echo)", &["apply", "--auto-approve"][..]),
        (
            "apply -vvv (echo)",
            &["-vvv", "apply", "--auto-approve"][..],
        ),
        (
            "apply --json (echo)",
            &["apply", "--auto-approve", "--json"][..],
        ),
    ] {
        let out = runs.run(&bao, label, args, &file);
        assert_eq!(code(&out), Some(1), "{label}: {}", all_output(&out));
        let text = all_output(&out);
        assert!(
            text.contains("unknown key type"),
            "{label}: OpenBao's message is kept (scrubbed):\n{text}"
        );
    }
    runs.assert_clean();
}

fn broken_copy(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("broken.yaml");
    std::fs::write(&path, format!("{TOPOLOGY}{extra}")).unwrap();
    path
}

/// Error path: a topology error in the file that holds the canary reference.
#[test]
fn canary_stays_out_of_topology_errors() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Runs::new();
    runs.forbid(&bao.token);
    let mark = bao.audit_mark();
    // An unknown key right after the canary's line, and a bad duration elsewhere.
    let path = broken_copy(
        dir.path(),
        "      descripton: typo\n  auth:\n    approle:\n      roles:\n        r: { token_ttl: 1x }\n",
    );
    for (label, args) in [
        ("validate (broken)", &["validate"][..]),
        ("validate --json (broken)", &["validate", "--json"][..]),
        ("plan (broken)", &["plan"][..]),
        ("plan --json (broken)", &["plan", "--json"][..]),
        (
            "apply -vvv (broken)",
            &["-vvv", "apply", "--auto-approve"][..],
        ),
        ("drift (broken)", &["drift"][..]),
    ] {
        let out = runs.run(&bao, label, args, &path);
        assert_eq!(code(&out), Some(1), "{label}: {}", all_output(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("broken.yaml:10:7: unknown field `descripton`"),
            "{label}: {}",
            all_output(&out)
        );
    }
    assert_eq!(bao.audit_mark(), mark, "no request for an invalid topology");
    runs.assert_clean();
}

/// KV data written literally in the file is sensitive too (spec/topology.md): a topology error
/// on its line must not print it in the snippet.
#[test]
fn literal_kv_value_is_not_echoed_in_a_topology_error_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("literal.yaml");
    // A duplicated key (a merge gone wrong) in a KV secret written literally.
    std::fs::write(
        &path,
        format!(
            "version: 1\nopenbao:\n  secrets:\n    app:\n      type: kv-v2\n      kv:\n        db/creds:\n          password: {LITERAL_CANARY}\n          password: {LITERAL_CANARY}-2\n"
        ),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("aegisctl")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["validate"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(1), "{}", all_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(":9:11: duplicate mapping key"),
        "{}",
        all_output(&out)
    );
    let mut runs = Runs::new();
    runs.seen.push(("validate (literal KV value)".into(), out));
    runs.assert_clean();
}

/// `plan -out` before anything was applied, then `apply PLANFILE`: the saved plan of a topology
/// with a secret applies (the ledger's key created by the apply must not count as a change of
/// the topology).
#[test]
fn saved_plan_with_a_secret_applies_on_a_fresh_server() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let mut runs = Runs::new();
    let plan = dir.path().join("first.plan");
    let out = runs.run(
        &bao,
        "plan -out (fresh)",
        &["plan", "-out", plan.to_str().unwrap()],
        &file,
    );
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    runs.check_file("plan file", &plan);
    let out = runs.run(&bao, "apply PLANFILE (fresh)", &["apply"], &plan);
    assert_eq!(code(&out), Some(0), "{}", all_output(&out));
    assert_eq!(kv_value(&bao, "password"), CANARY);
    runs.assert_clean();
}

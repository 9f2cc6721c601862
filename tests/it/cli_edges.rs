//! CLI edges (issue 8, point 11): usage errors exit 1 (2 means "changes"), a closed pipe never
//! panics, `--json` errors carry located diagnostics, the connection-only commands (`unlock`,
//! `bootstrap --list`, `bootstrap --revoke`) do not need the rest of the file's inputs,
//! "Apply complete!" only when everything went through, and a revoke keeps the evidence of
//! what had happened to the bootstrap.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{Bao, Run, aegisctl_cmd, repo, s, topology};
use crate::safety_util::{ctl, ctl_ok};

fn offline(args: &[&str]) -> Run {
    Run::from(
        aegisctl_cmd()
            .env("NO_COLOR", "1")
            .env_remove("BAO_ADDR")
            .env_remove("BAO_TOKEN")
            .args(args)
            .output()
            .expect("run aegisctl"),
    )
}

#[test]
fn usage_errors_exit_1_never_2() {
    let file = repo().join("inventories/demo.yaml");
    for args in [
        vec!["plan"],
        vec!["--bogus"],
        vec!["plan", "--parallelism", "0", s(&file)],
        vec!["drift", "--detailed-exitcode-typo", s(&file)],
    ] {
        let run = offline(&args);
        assert_eq!(run.code, Some(1), "{args:?} is a usage error:\n{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
    }
}

/// `sh -c 'aegisctl ARGS | READER'`: aegisctl's stderr and exit status.
fn piped(bao: &Bao, args: &str, reader: &str) -> (String, String) {
    let bin = aegisctl_cmd().get_program().to_owned();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{{ \"$0\" {args}; echo \"rc=$?\" >&2; }} | {reader} >/dev/null"
        ))
        .arg(bin)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .env("NO_COLOR", "1")
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rc = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("rc="))
        .unwrap_or_default()
        .to_owned();
    (stderr, rc)
}

#[test]
fn a_closed_pipe_never_panics() {
    let bao = Bao::start();
    let file = topology(
        &bao,
        "pipe",
        "version: 1\nopenbao:\n  policies:\n    p: |\n      path \"x/*\" { capabilities = [\"read\"] }\n",
    );
    let plan = format!("plan {}", s(&file));
    for args in [plan.as_str(), "man", "completions bash", "completions zsh"] {
        // `head` reads a little and closes; `true` closes before anything is written.
        for reader in ["head -c1", "head -1", "true"] {
            let (stderr, rc) = piped(&bao, args, reader);
            assert!(
                !stderr.contains("panicked"),
                "`aegisctl {args} | {reader}` panicked:\n{stderr}"
            );
            assert!(
                rc == "0" || rc == "1",
                "`aegisctl {args} | {reader}` exited {rc}:\n{stderr}"
            );
        }
    }
}

#[test]
fn validate_json_diagnostics_carry_file_line_column_summary_and_help() {
    let rel = "tests/fixtures/malformed/unknown-mount-key.yaml";
    let out = aegisctl_cmd()
        .current_dir(repo())
        .args(["validate", "--json", rel])
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, Some(1), "{run}");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    let d = diags
        .iter()
        .find(|d| d["line"].is_number())
        .unwrap_or_else(|| panic!("no located diagnostic: {doc:#}"));
    assert_eq!(d["severity"], "error", "{d}");
    assert_eq!(d["file"], rel, "{d}");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(8), Some(7)),
        "{d}"
    );
    assert!(
        d["summary"]
            .as_str()
            .is_some_and(|t| t.contains("unknown field `descripton`")),
        "{d}"
    );
    assert!(d["help"].as_str().is_some_and(|h| !h.is_empty()), "{d}");
}

const UNSET: &str = "AEGIS_CLI_EDGES_UNSET_VARIABLE";

/// An AppRole role and a host to bootstrap, and a KV secret read from an unset variable.
fn boot_topology() -> String {
    format!(
        r#"version: 1
openbao:
  auth:
    approle:
      roles:
        daemon: {{ token_ttl: 1h, secret_id_num_uses: 1, secret_id_ttl: 15m }}
  secrets:
    kv:
      type: kv-v2
      kv:
        app/unrelated: {{ value: env:{UNSET} }}
hosts:
  local-1:
    kind: lxc
    approle: daemon
    cidr: 127.0.0.1/32
"#
    )
}

/// Plays the container: the cloud-config's files in a temp /etc/aegis, then its script.
fn boot(user_data: &str) -> std::process::Output {
    let doc: Value = serde_saphyr::from_str(user_data).expect("cloud-config");
    let etc = tempfile::tempdir().unwrap();
    let mut script = None;
    for f in doc["write_files"].as_array().expect("write_files") {
        let path = f["path"].as_str().unwrap();
        let local = etc.path().join(Path::new(path).file_name().unwrap());
        std::fs::write(&local, f["content"].as_str().unwrap()).unwrap();
        if path == "/usr/local/sbin/aegis-bootstrap" {
            script = Some(local);
        }
    }
    Command::new("python3")
        .arg(script.expect("the bootstrap script"))
        .env("AEGIS_ETC", etc.path())
        .output()
        .unwrap()
}

#[test]
fn connection_only_commands_ignore_unrelated_unset_inputs_and_a_revoke_keeps_the_evidence() {
    let bao = Bao::start();
    let file = topology(&bao, "boot", &boot_topology());
    let audit = bao.dir.path().join("boot-audit.jsonl");
    let env_set = [(UNSET, "set-for-the-apply")];
    ctl_ok(&bao, &env_set, &["apply", "--auto-approve", s(&file)]);
    let boot_args = |env: &[(&str, &str)], extra: &[&str]| {
        let mut a = vec!["bootstrap", s(&file)];
        a.extend_from_slice(extra);
        a.extend(["--audit-file", s(&audit)]);
        ctl(&bao, env, &a)
    };
    // The container boots: its bootstrap is unwrapped.
    let minted = boot_args(&env_set, &["local-1"]);
    assert_eq!(minted.code, Some(0), "{minted}");
    let booted = boot(&minted.stdout);
    assert!(booted.status.success(), "{booted:?}");

    // From here on the variable is unset (`Bao::aegisctl` inherits no such variable).
    let plan = ctl(&bao, &[], &["plan", s(&file)]);
    assert_eq!(plan.code, Some(1), "{plan}");
    assert!(
        plan.stderr.contains(UNSET),
        "plan names the variable:\n{plan}"
    );

    let unlock = ctl(&bao, &[], &["unlock", s(&file)]);
    assert_eq!(
        unlock.code,
        Some(0),
        "unlock needs only the connection:\n{unlock}"
    );
    let list = boot_args(&[], &["--list"]);
    assert_eq!(list.code, Some(0), "{list}");
    let row = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("local-1"))
            .unwrap_or_else(|| panic!("local-1 in\n{text}"))
            .to_owned()
    };
    assert!(row(&list.stdout).contains("unwrapped"), "{list}");

    let revoke = boot_args(&[], &["--revoke", "local-1"]);
    assert_eq!(revoke.code, Some(0), "{revoke}");
    let list = boot_args(&[], &["--list"]);
    assert_eq!(list.code, Some(0), "{list}");
    assert!(
        row(&list.stdout).contains("revoked (was unwrapped)"),
        "the revoke must keep what had happened:\n{list}"
    );
}

#[test]
fn apply_complete_only_when_everything_went_through_never_with_a_failure_exit() {
    let bao = Bao::start();
    let file = topology(
        &bao,
        "partial",
        r#"version: 1
openbao:
  secrets:
    transit:
      type: transit
      keys:
        good: { type: aes256-gcm96 }
        bad: { type: no-such-key-type }
"#,
    );
    for args in [
        vec!["apply", "--auto-approve", s(&file)],
        vec!["apply", "--auto-approve", "--json", s(&file)],
    ] {
        let run = ctl(&bao, &[], &args);
        assert_eq!(run.code, Some(1), "{args:?}:\n{run}");
        assert!(!run.all().contains("Apply complete!"), "{run}");
        if !args.contains(&"--json") {
            assert!(run.stdout.contains("Apply failed"), "{run}");
            assert!(run.all().contains(r#"transit_key["transit/bad"]"#), "{run}");
        }
    }
    // What could be done was done.
    bao.bao_ok(&["read", "transit/keys/good"]);

    // Written, but still different when read back: OpenBao 2.7.2 stores this (valid) IPv6
    // CIDR of a SecretID binding as `2001:DB8:0:::2/128`.
    let file = topology(
        &bao,
        "inconsistent",
        r#"version: 1
openbao:
  auth:
    approle:
      roles:
        app: { secret_id_bound_cidrs: ["2001:DB8:0:0::2/128"] }
"#,
    );
    let run = ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!run.all().contains("Apply complete!"), "{run}");
    assert!(
        run.stdout.contains("Apply incomplete") && run.stdout.contains("still differ"),
        "{run}"
    );
}

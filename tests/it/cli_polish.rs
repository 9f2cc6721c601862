//! The command line's polish: completions, man page, colour switches, quiet, the JSON plan
//! document, and apply's refusal to run unconfirmed without a terminal.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Bao, all_output, write_topology};

const SECRET: &str = "polish-kv-secret-0b5d";

const TOPOLOGY: &str = "\
version: 1
openbao:
  policies:
    reader: |
      path \"app/data/*\" { capabilities = [\"read\"] }
  secrets:
    app:
      type: kv-v2
      description: application secrets
      kv:
        db/creds:
          password: env:POLISH_SECRET
";

fn aegisctl_offline() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("aegisctl").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

fn has_ansi(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\x1b[")
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef aegisctl"),
        ("fish", "complete -c aegisctl"),
    ] {
        let out = aegisctl_offline()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", all_output(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.len() > 200, "{shell}: a real script, got {script:?}");
        assert!(script.contains("aegisctl"), "{shell}");
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in ["validate", "plan", "apply", "drift"] {
            assert!(script.contains(sub), "{shell}: completes `{sub}`");
        }
        assert!(
            out.stderr.is_empty(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn man_page_is_roff() {
    let out = aegisctl_offline().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH"), "{page}");
    assert!(page.contains("aegisctl"), "{page}");
    assert!(page.contains(".SH"), "sections: {page}");
    assert!(page.contains("plan"), "subcommands listed: {page}");
}

/// Runs a command line inside a pseudo-terminal (util-linux `script`), so that colour would be
/// on unless switched off. Returns everything the terminal saw.
fn on_a_terminal(bao: &Bao, cmdline: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", cmdline, "/dev/null"])
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .env("POLISH_SECRET", SECRET)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("BAO_NAMESPACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("`script` (util-linux) runs")
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn no_color_flag_and_no_color_env_turn_off_ansi_escapes() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let bin = assert_cmd::cargo::cargo_bin("aegisctl");
    let bin = quote(&bin);

    // Off a terminal (the common CI case): plain text either way.
    for (label, args, no_color_env) in [
        ("--no-color", vec!["--no-color", "plan"], false),
        ("NO_COLOR=1", vec!["plan"], true),
    ] {
        let mut cmd = bao.aegisctl();
        cmd.env("POLISH_SECRET", SECRET).env_remove("NO_COLOR");
        if no_color_env {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.args(&args).arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{label}: {}", all_output(&out));
        assert!(!has_ansi(&out.stdout), "{label}: ANSI on stdout");
        assert!(!has_ansi(&out.stderr), "{label}: ANSI on stderr");
    }

    // On a terminal: colour by default (so the check below can see it), none when switched off.
    let plan = format!("{bin} plan {}", quote(&file));
    let coloured = on_a_terminal(&bao, &plan, &[]);
    assert!(
        has_ansi(&coloured.stdout),
        "a plan on a terminal is coloured by default (else this test proves nothing):\n{}",
        String::from_utf8_lossy(&coloured.stdout)
    );
    let flagged = on_a_terminal(
        &bao,
        &format!("{bin} --no-color plan {}", quote(&file)),
        &[],
    );
    let text = String::from_utf8_lossy(&flagged.stdout);
    assert!(text.contains("will be created"), "{text}");
    assert!(
        !has_ansi(&flagged.stdout),
        "--no-color on a terminal:\n{text:?}"
    );
    let env = on_a_terminal(&bao, &plan, &[("NO_COLOR", "1")]);
    let text = String::from_utf8_lossy(&env.stdout);
    assert!(text.contains("will be created"), "{text}");
    assert!(
        !has_ansi(&env.stdout),
        "NO_COLOR=1 on a terminal:\n{text:?}"
    );

    // Errors on a terminal follow the same switches.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "version: 2\n").unwrap();
    let err = on_a_terminal(&bao, &format!("{bin} validate {}", quote(&broken)), &[]);
    assert!(
        has_ansi(&err.stdout),
        "errors on a terminal are coloured by default"
    );
    for (label, cmdline, env) in [
        (
            "--no-color",
            format!("{bin} --no-color validate {}", quote(&broken)),
            vec![],
        ),
        (
            "NO_COLOR=1",
            format!("{bin} validate {}", quote(&broken)),
            vec![("NO_COLOR", "1")],
        ),
    ] {
        let err = on_a_terminal(&bao, &cmdline, &env);
        let text = String::from_utf8_lossy(&err.stdout);
        assert!(
            text.contains("unsupported topology version"),
            "{label}: {text}"
        );
        assert!(
            !has_ansi(&err.stdout),
            "{label}: ANSI in an error:\n{text:?}"
        );
    }
}

fn progress_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| {
            l.starts_with("openbao[")
                && (l.contains(": created") || l.contains(": updated") || l.contains(": failed"))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn quiet_apply_prints_no_progress_lines() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);

    let out = bao
        .aegisctl()
        .env("POLISH_SECRET", SECRET)
        .args(["-q", "apply", "--auto-approve"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(
        progress_lines(&out).is_empty(),
        "-q printed progress: {:?}",
        progress_lines(&out)
    );
    // It did apply.
    assert!(bao.read_json("sys/policies/acl/reader")["data"]["policy"].is_string());

    // Control: without -q the same kind of apply reports each object.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        TOPOLOGY.replace("reader", "writer").replace("app", "app2"),
    )
    .unwrap();
    let out = bao
        .aegisctl()
        .env("POLISH_SECRET", SECRET)
        .args(["apply", "--auto-approve"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(
        progress_lines(&out).len() >= 3,
        "without -q each object is reported:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plan_json_is_one_document_with_the_documented_shape() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let out = bao
        .aegisctl()
        .env("POLISH_SECRET", SECRET)
        .args(["plan", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let docs: Vec<Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "stdout is JSON only ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    assert_eq!(docs.len(), 1, "exactly one document");
    let doc = &docs[0];
    for key in ["format_version", "changes", "summary", "diagnostics"] {
        assert!(doc.get(key).is_some(), "no `{key}`: {doc:#}");
    }
    assert!(doc["diagnostics"].is_array(), "{doc:#}");
    assert!(doc["summary"].is_object(), "{doc:#}");
    let changes = doc["changes"].as_array().expect("changes is a list");
    assert_eq!(changes.len(), 3, "policy, mount, KV secret: {doc:#}");
    for c in changes {
        for key in ["address", "action", "before", "after", "sensitive_paths"] {
            assert!(c.get(key).is_some(), "a change without `{key}`: {c:#}");
        }
        assert!(
            c["address"].as_str().unwrap().starts_with("openbao[root]."),
            "{c}"
        );
        assert_eq!(c["action"], "create", "{c}");
        assert!(c["sensitive_paths"].is_array(), "{c}");
    }
    let kv = changes
        .iter()
        .find(|c| c["address"] == "openbao[root].kv_secret[\"app/db/creds\"]")
        .expect("the KV secret");
    assert!(
        kv["after"].get("password").is_some_and(Value::is_null),
        "the sensitive value is null: {kv:#}"
    );
    assert!(
        kv["sensitive_paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "password"),
        "its name is listed in sensitive_paths: {kv:#}"
    );
    let mount = changes
        .iter()
        .find(|c| c["address"] == "openbao[root].mount[\"app\"]")
        .expect("the mount");
    assert_eq!(mount["after"]["type"], "kv-v2", "{mount:#}");
    assert_eq!(mount["sensitive_paths"], serde_json::json!([]), "{mount:#}");
    assert!(!all_output(&out).contains(SECRET));
}

#[test]
fn apply_without_auto_approve_and_without_a_terminal_refuses_before_any_request() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_topology(dir.path(), TOPOLOGY);
    let mark = bao.audit_mark();
    let out = bao
        .aegisctl()
        .env("POLISH_SECRET", SECRET)
        .arg("apply")
        .arg(&file)
        .write_stdin("yes\n") // a pipe is not a terminal, even if it says yes
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("confirmation") || stderr.contains("terminal"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--auto-approve"),
        "says what to do: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(bao.audit_mark(), mark, "no request was sent");
    assert!(
        !bao.bao(&["read", "sys/policies/acl/reader"])
            .status
            .success(),
        "nothing was applied"
    );
}

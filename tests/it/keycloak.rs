//! A real Keycloak for the integration tests (issue 10, "Real parts"): no double, the
//! distribution itself. [`keycloak`] starts one per test binary on first use, on free loopback
//! ports with an in-memory database, from the home that `scripts/keycloak-dev.sh which` fetches
//! from Maven Central and builds once (or `AEGIS_TEST_KEYCLOAK_HOME`, which scripts/test.sh
//! sets). Starting takes 15-30 s on two cores, so tests share the instance and stay apart by
//! each using its own realms ([`unique_realm`], [`Keycloak::realm`]): they can run in parallel.
//! Test-only code (it lives under tests/).
//!
//! The server is `kc.sh start` (as in the script) in its own process group, listed with a
//! [`Reaper`] that kills the group when the test binary exits (statics are never dropped);
//! its log and transaction store live in the reaper's dir (kept when `AEGIS_KEEP_KEYCLOAK=1`).
//! If Keycloak cannot be fetched or started, every test that asks for it fails with the reason.

#![allow(dead_code)] // each test module uses a different part

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::free_port;
use crate::http_wire::{Response, call};
use crate::reaper::Reaper;

const READY_TIMEOUT: Duration = Duration::from_secs(180);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// As in scripts/keycloak-dev.sh: pinned heap, C1 only (a faster start).
const HEAP: &str = "-Xms64m -Xmx768m";
const JVM_APPEND: &str = "-XX:TieredStopAtLevel=1";

/// The running Keycloak of this test binary.
pub struct Keycloak {
    base_url: String,
    admin_user: String,
    admin_password: String,
    /// The server's console output.
    pub log: PathBuf,
    /// The access token of the admin and when to fetch a new one (tokens of realm master
    /// live 60 s).
    token: Mutex<Option<(String, Instant)>>,
    _reaper: Reaper,
    _child: Child,
}

/// The Keycloak of this test binary, started on first use; panics with the reason if it could
/// not be fetched or started (once: later callers get the same message).
pub fn keycloak() -> &'static Keycloak {
    static KEYCLOAK: OnceLock<Result<Keycloak, String>> = OnceLock::new();
    match KEYCLOAK.get_or_init(|| {
        STARTS.fetch_add(1, Ordering::Relaxed);
        start()
    }) {
        Ok(kc) => kc,
        Err(e) => panic!("no Keycloak for this test: {e}"),
    }
}

static STARTS: AtomicUsize = AtomicUsize::new(0);

/// How many times this test binary started (or tried to start) Keycloak: 1 once a test used it.
pub fn starts() -> usize {
    STARTS.load(Ordering::Relaxed)
}

/// A realm name no other test of this binary gets: `{prefix}-{n}`.
pub fn unique_realm(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/keycloak-dev.sh")
}

/// `scripts/keycloak-dev.sh ARG`'s stdout (its progress goes to our stderr).
fn run_script(arg: &str) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .arg(arg)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run scripts/keycloak-dev.sh {arg}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`scripts/keycloak-dev.sh {arg}` failed ({}); it needs mvn, a JDK 17+ and Maven Central",
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// 32 hex digits from /dev/urandom (the admin password).
fn random_hex() -> String {
    use std::io::Read;
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn start() -> Result<Keycloak, String> {
    let home = match std::env::var("AEGIS_TEST_KEYCLOAK_HOME") {
        Ok(h) if !h.is_empty() => h,
        _ => run_script("which")?,
    };
    let kc_sh = Path::new(&home).join("bin/kc.sh");
    if !kc_sh.is_file() {
        return Err(format!(
            "{} is missing (AEGIS_TEST_KEYCLOAK_HOME={home}; unset, the harness runs \
             scripts/keycloak-dev.sh which)",
            kc_sh.display()
        ));
    }
    let java = run_script("java")?;
    let mut reaper = Reaper::start("keycloak", "AEGIS_KEEP_KEYCLOAK");
    let dir = reaper.base().to_owned();
    let log = dir.join("server.log");
    let password = random_hex();
    let mut last = String::new();
    // A port picked free can be taken before Keycloak binds it: try a few.
    for _attempt in 0..3 {
        let (port, mport) = (free_port(), free_port());
        if port == mport {
            continue;
        }
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(&kc_sh);
        // Nothing of the caller's Keycloak or JVM settings (KC_DB, JAVA_OPTS, ...) leaks in.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("KC_") || k.starts_with("JAVA_OPTS") || k == "JAVA_ADD_OPENS" {
                cmd.env_remove(k.as_ref());
            }
        }
        cmd.args([
            "start",
            "--optimized",
            "--cache=local",
            "--http-enabled=true",
        ])
        .args(["--hostname-strict=false", "--http-host=127.0.0.1"])
        .arg(format!("--http-port={port}"))
        .arg(format!("--http-management-port={mport}"))
        .arg(format!(
            "-Dquarkus.transaction-manager.object-store.directory={}",
            dir.join("transaction-logs").display()
        ))
        .env("JAVA", &java)
        .env("JAVA_OPTS_KC_HEAP", HEAP)
        .env("JAVA_OPTS_APPEND", JVM_APPEND)
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", &password)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().map_err(|e| e.to_string())?))
        .stderr(Stdio::from(out))
        .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", kc_sh.display()))?;
        reaper.set_group(child.id(), true);
        let started = Instant::now();
        let mut kc = Keycloak {
            base_url: format!("http://127.0.0.1:{port}"),
            admin_user: "admin".into(),
            admin_password: password.clone(),
            log: log.clone(),
            token: Mutex::new(None),
            _reaper: reaper,
            _child: child,
        };
        match kc.wait_ready(started) {
            Ok(()) => {
                eprintln!(
                    "Keycloak at {} (ready in {:.1} s; log {})",
                    kc.base_url,
                    started.elapsed().as_secs_f64(),
                    log.display()
                );
                return Ok(kc);
            }
            Err((exited, why)) => {
                // The whole group: java may outlive a kc.sh that died.
                let pgid = kc._child.id();
                kill_group(pgid);
                let _ = kc._child.wait();
                kc._reaper.set_group(pgid, false);
                last = format!("{why}\n--- {} ends ---\n{}", log.display(), kc.log_tail(30));
                if !exited {
                    return Err(last);
                }
                reaper = kc._reaper;
            }
        }
    }
    Err(last)
}

/// `kill -9 -PGID` (kc.sh runs java as a child and does not exec it).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

impl Keycloak {
    /// Until the discovery document of realm master answers 200. `Err((exited, why))`.
    fn wait_ready(&mut self, started: Instant) -> Result<(), (bool, String)> {
        let url = format!(
            "{}/realms/master/.well-known/openid-configuration",
            self.base_url
        );
        while started.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self._child.try_wait() {
                return Err((
                    true,
                    format!("kc.sh exited at start ({status}); a port taken?"),
                ));
            }
            if call("GET", &url, &[], None, Duration::from_secs(2)).is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err((false, format!("not ready within {READY_TIMEOUT:?} ({url})")))
    }

    /// `http://127.0.0.1:PORT`: one base URL for token and admin calls (the issuer follows the
    /// Host header).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bootstrap admin of realm master.
    pub fn admin_user(&self) -> &str {
        &self.admin_user
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// An access token of the admin (password grant on `admin-cli` in realm master), reused
    /// until 15 s before it expires.
    pub fn admin_token(&self) -> String {
        let mut cached = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return token.clone();
        }
        let (token, life) = self.fetch_token().unwrap_or_else(|e| self.fail(&e));
        let until = Instant::now() + Duration::from_secs(life.saturating_sub(15));
        *cached = Some((token.clone(), until));
        token
    }

    /// A new admin access token and its lifetime in seconds.
    fn fetch_token(&self) -> Result<(String, u64), String> {
        let body = format!(
            "grant_type=password&client_id=admin-cli&username={}&password={}",
            form_encode(&self.admin_user),
            form_encode(&self.admin_password)
        );
        let url = format!(
            "{}/realms/master/protocol/openid-connect/token",
            self.base_url
        );
        let headers = [("Content-Type", "application/x-www-form-urlencoded")];
        let resp = call("POST", &url, &headers, Some(&body), HTTP_TIMEOUT)
            .map_err(|e| format!("POST {url}: {e:?}"))?;
        let v = resp.json();
        match v["access_token"].as_str() {
            Some(token) => Ok((token.to_owned(), v["expires_in"].as_u64().unwrap_or(60))),
            None => Err(format!("admin token: {} {}", resp.status, resp.text())),
        }
    }

    /// One call with the admin token; `path` from the base URL (e.g. `/admin/realms/x`), `body`
    /// sent as JSON. The status is `resp.status`, the JSON `resp.json()`, the id of something
    /// created is at the end of `resp.header("location")`. Panics if Keycloak does not answer.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let url = format!("{}{path}", self.base_url);
        let auth = format!("Bearer {}", self.admin_token());
        let text = body.map(Value::to_string);
        let mut headers = vec![("Authorization", auth.as_str())];
        if text.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        call(method, &url, &headers, text.as_deref(), HTTP_TIMEOUT)
            .unwrap_or_else(|e| self.fail(&format!("{method} {path}: {e:?}")))
    }

    pub fn get(&self, path: &str) -> Response {
        self.call("GET", path, None)
    }

    /// Creates an enabled realm; panics unless Keycloak answers 201.
    pub fn create_realm(&self, name: &str) {
        let resp = self.call(
            "POST",
            "/admin/realms",
            Some(&json!({ "realm": name, "enabled": true })),
        );
        if resp.status != 201 {
            self.fail(&format!(
                "create realm {name}: {} {}",
                resp.status,
                resp.text()
            ));
        }
    }

    /// Deletes a realm; a realm already gone is fine.
    pub fn delete_realm(&self, name: &str) {
        let resp = self.call("DELETE", &format!("/admin/realms/{name}"), None);
        if !matches!(resp.status, 204 | 404) {
            self.fail(&format!(
                "delete realm {name}: {} {}",
                resp.status,
                resp.text()
            ));
        }
    }

    /// A new realm `{prefix}-{n}` of this test's own, deleted when the guard drops.
    pub fn realm(&'static self, prefix: &str) -> TestRealm {
        let name = unique_realm(prefix);
        self.create_realm(&name);
        TestRealm { kc: self, name }
    }

    /// The last `n` lines of the server's console output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics naming the server, its log and the end of the log.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "Keycloak ({}) {what}\nlog: {} (AEGIS_KEEP_KEYCLOAK=1 keeps it after the run)\n--- last lines ---\n{}",
            self.base_url,
            self.log.display(),
            self.log_tail(20)
        )
    }
}

/// A realm of one test, deleted on drop (so a long run does not fill Keycloak's heap).
pub struct TestRealm {
    pub kc: &'static Keycloak,
    pub name: String,
}

impl Drop for TestRealm {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.kc.delete_realm(&self.name);
        }
    }
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

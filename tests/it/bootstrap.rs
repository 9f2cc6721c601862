//! `aegisctl bootstrap` end to end against the real OpenBao: the rendered user-data is valid
//! cloud-config, the test plays the container (runs the rendered unwrap-and-login script), the
//! login yields exactly the role's policies, a second unwrap fails, a SecretID logs in once, CIDR
//! binding holds, `--list` tells unwrapped from pending, `--revoke` makes a pending bootstrap
//! unusable, and no token leaks anywhere but the artefact itself.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Bao, write_topology};

const TOPOLOGY: &str = r#"version: 1
openbao:
  policies:
    reader: |
      path "kv/data/*" { capabilities = ["read"] }
  auth:
    approle:
      roles:
        daemon: { token_policies: [reader], token_ttl: 1h, secret_id_num_uses: 1, secret_id_ttl: 15m }
        reusable: { token_policies: [reader], secret_id_num_uses: 0 }
hosts:
  local-1:
    kind: lxc
    approle: daemon
    cidr: 127.0.0.1/32
  remote-1:
    kind: lxc
    approle: daemon
    cidr: 10.0.0.0/8
  agent-1:
    kind: agent
    approle: daemon
    cidr: 127.0.0.1/32
    wrap_ttl: 2m
  multi:
    kind: lxc
    approle: reusable
    cidr: 127.0.0.1/32
"#;

fn setup() -> (Bao, PathBuf, PathBuf) {
    let bao = Bao::start();
    let dir = bao.dir.path().join("boot");
    std::fs::create_dir_all(&dir).unwrap();
    let file = write_topology(&dir, TOPOLOGY);
    bao.aegisctl()
        .args(["apply", "--auto-approve"])
        .arg(&file)
        .assert()
        .success();
    let out = dir.join("out");
    (bao, file, out)
}

fn bootstrap(bao: &Bao, file: &Path, args: &[&str]) -> Output {
    bao.aegisctl()
        .arg("bootstrap")
        .arg(file)
        .args(args)
        .arg("--audit-file")
        .arg(file.with_file_name("audit.jsonl"))
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("rendered YAML parses")
}

/// `cloud-init schema` must accept it.
fn assert_valid_cloud_config(text: &str, dir: &Path) {
    let f = dir.join(format!("check-{}.yaml", rand_suffix()));
    std::fs::write(&f, text).unwrap();
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&f)
        .output()
        .expect("cloud-init (apt-get install cloud-init) validates user-data");
    assert!(
        out.status.success(),
        "cloud-init schema rejected it:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The container: the files of `write_files` under a fake /etc/aegis, then the runcmd script.
struct Container {
    etc: tempfile::TempDir,
    script: PathBuf,
    wrapped: String,
}

impl Container {
    fn from_cloud_config(text: &str) -> Container {
        let doc = yaml(text);
        let etc = tempfile::tempdir().unwrap();
        let mut script = PathBuf::new();
        let mut wrapped = String::new();
        for f in doc["write_files"].as_array().expect("write_files") {
            let path = f["path"].as_str().unwrap();
            let content = f["content"].as_str().unwrap();
            assert!(
                f["permissions"] == "0600" || f["permissions"] == "0700" || path.ends_with(".pem"),
                "{f}"
            );
            let name = Path::new(path).file_name().unwrap();
            let local = etc.path().join(name);
            std::fs::write(&local, content).unwrap();
            if path == "/usr/local/sbin/aegis-bootstrap" {
                script = local;
            }
            if path == "/etc/aegis/wrapped-secret-id" {
                wrapped = content.to_owned();
            }
        }
        assert_eq!(doc["runcmd"][0][0], "/usr/local/sbin/aegis-bootstrap");
        Container {
            etc,
            script,
            wrapped,
        }
    }

    /// Runs the bootstrap script as the container would at first boot.
    fn boot(&self) -> Output {
        Command::new("python3")
            .arg(&self.script)
            .env("AEGIS_ETC", self.etc.path())
            .output()
            .unwrap()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.etc.path().join("bao-token")).unwrap()
    }

    /// Puts the wrapped token back, as an attacker replaying an intercepted bootstrap would.
    fn replay(&self) {
        std::fs::write(self.etc.path().join("wrapped-secret-id"), &self.wrapped).unwrap();
    }
}

#[test]
fn the_container_unwraps_once_logs_in_with_exactly_the_roles_policies() {
    let (bao, file, out) = setup();
    let mark = bao.audit_mark();
    let run = bootstrap(
        &bao,
        &file,
        &["local-1", "--out-dir", out.to_str().unwrap()],
    );
    ok(&run);
    let path = out.join("local-1.user-data.yaml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the artefact holds a wrapped token: 0600");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("#cloud-config\n"));
    assert_valid_cloud_config(&text, bao.dir.path());

    // The mint was wrapped, CIDR-bound and single-use.
    let mint = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.path == "auth/approle/role/daemon/secret-id")
        .count();
    assert_eq!(mint, 1);

    let container = Container::from_cloud_config(&text);
    let boot = container.boot();
    assert!(
        boot.status.success(),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );
    assert!(
        !container.etc.path().join("wrapped-secret-id").exists(),
        "the wrapped token is deleted"
    );
    let token_mode = std::fs::metadata(container.etc.path().join("bao-token"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(token_mode, 0o600);
    let lookup: Value = serde_json::from_slice(
        &Command::new(crate::harness::bao_bin())
            .args(["token", "lookup", "-format=json"])
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", container.token())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let mut policies: Vec<&str> = lookup["data"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    policies.sort();
    assert_eq!(
        policies,
        ["default", "reader"],
        "exactly the role's policies"
    );

    // An intercepted copy replayed: the unwrap fails, loudly.
    container.replay();
    let again = container.boot();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already unwrapped"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_secret_id_logs_in_once_and_only_from_its_cidr() {
    let (bao, file, _) = setup();
    // Unwrap by hand to hold the SecretID itself.
    let text = ok(&bootstrap(&bao, &file, &["agent-1"]));
    let env: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .unwrap()
    };
    assert_eq!(get("AEGIS_BAO_ADDR"), bao.addr);
    let unwrapped: Value = serde_json::from_str(&bao.bao_ok(&[
        "unwrap",
        "-format=json",
        &get("AEGIS_WRAPPED_SECRET_ID"),
    ]))
    .unwrap();
    let secret_id = unwrapped["data"]["secret_id"].as_str().unwrap().to_owned();
    let login = |sid: &str| {
        Command::new(crate::harness::bao_bin())
            .args([
                "write",
                "-format=json",
                "auth/approle/login",
                &format!("role_id={}", get("AEGIS_ROLE_ID")),
                &format!("secret_id={sid}"),
            ])
            .env("BAO_ADDR", &bao.addr)
            .output()
            .unwrap()
    };
    assert!(login(&secret_id).status.success());
    assert!(
        !login(&secret_id).status.success(),
        "a bootstrap SecretID works once"
    );

    // Bound to 10.0.0.0/8: unusable from 127.0.0.1 even with the right wrapped token.
    let remote = ok(&bootstrap(&bao, &file, &["remote-1"]));
    let container = Container::from_cloud_config(&remote);
    let boot = container.boot();
    assert!(
        !boot.status.success(),
        "login from outside the host's CIDR must fail"
    );
    assert!(
        String::from_utf8_lossy(&boot.stderr).contains("login refused"),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );
}

#[test]
fn list_tells_unwrapped_from_pending_and_revoke_makes_a_pending_one_unusable() {
    let (bao, file, _) = setup();
    let used = Container::from_cloud_config(&ok(&bootstrap(&bao, &file, &["local-1"])));
    assert!(used.boot().status.success());
    let pending = Container::from_cloud_config(&ok(&bootstrap(&bao, &file, &["remote-1"])));

    let list = ok(&bootstrap(&bao, &file, &["--list"]));
    let row = |host: &str| {
        list.lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_else(|| panic!("{host} in\n{list}"))
            .to_owned()
    };
    assert!(
        row("local-1").contains("unwrapped") && row("local-1").contains("used or destroyed"),
        "{list}"
    );
    assert!(
        row("remote-1").contains("pending") && row("remote-1").contains("unused"),
        "{list}"
    );

    let revoke = ok(&bootstrap(&bao, &file, &["--revoke", "remote-1"]));
    assert!(revoke.contains("Revoked 1"), "{revoke}");
    let boot = pending.boot();
    assert!(
        !boot.status.success(),
        "a revoked bootstrap cannot be unwrapped"
    );
    let list = ok(&bootstrap(&bao, &file, &["--list", "remote-1"]));
    assert!(list.contains("revoked"), "{list}");
}

#[test]
fn formats_refusals_dry_run_and_no_token_outside_the_artefact() {
    let (bao, file, out) = setup();
    // Incus profile: the user-data inside is valid cloud-config too.
    let incus = ok(&bootstrap(&bao, &file, &["local-1", "--format", "incus"]));
    let doc = yaml(&incus);
    let user_data = doc["config"]["cloud-init.user-data"]
        .as_str()
        .expect("user-data in the profile");
    assert_valid_cloud_config(user_data, bao.dir.path());

    // A role whose SecretIDs are reusable is refused, unless allowed.
    let refused = bootstrap(&bao, &file, &["multi"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("single-use"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ok(&bootstrap(&bao, &file, &["multi", "--allow-multi-use"]));

    // Dry run: placeholders, not one request.
    let mark = bao.audit_mark();
    let dry = ok(&bootstrap(
        &bao,
        &file,
        &["local-1", "agent-1", "--dry-run"],
    ));
    assert_eq!(bao.audit_mark(), mark, "--dry-run sends nothing");
    assert!(dry.contains("<wrapped SecretID"), "{dry}");

    // The artefact is the only place a wrapped token appears.
    let run = bao
        .aegisctl()
        .args(["-vvv", "bootstrap"])
        .arg(&file)
        .args(["local-1", "agent-1", "--out-dir"])
        .arg(&out)
        .arg("--audit-file")
        .arg(file.with_file_name("audit.jsonl"))
        .output()
        .unwrap();
    ok(&run);
    let artefact = std::fs::read_to_string(out.join("local-1.user-data.yaml")).unwrap();
    let wrapped = Container::from_cloud_config(&artefact).wrapped;
    let env = std::fs::read_to_string(out.join("agent-1.env")).unwrap();
    let wrapped_env = env
        .lines()
        .find_map(|l| l.strip_prefix("AEGIS_WRAPPED_SECRET_ID="))
        .unwrap()
        .to_owned();
    let audit = std::fs::read_to_string(file.with_file_name("audit.jsonl")).unwrap();
    let ledger = bao.bao_ok(&["kv", "get", "-format=json", "aegisctl/bootstrap/local-1"]);
    for token in [&wrapped, &wrapped_env, &bao.token] {
        for (what, text) in [
            ("stdout", String::from_utf8_lossy(&run.stdout).into_owned()),
            ("stderr", String::from_utf8_lossy(&run.stderr).into_owned()),
            ("audit file", audit.clone()),
            ("ledger", ledger.clone()),
        ] {
            assert!(
                !text.contains(token.as_str()),
                "a token appears in the {what}"
            );
        }
    }
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("DEBUG"),
        "-vvv logs are on"
    );
    // The audit trail names accessors, host, role and minter.
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    for key in [
        "host",
        "role",
        "namespace",
        "secret_id_accessor",
        "wrapping_accessor",
        "created",
        "wrap_ttl_seconds",
        "minted_by",
    ] {
        assert!(record.get(key).is_some(), "{key} in {record}");
    }
}

/// A broken template of the operator's fails before anything is minted, and its error names the
/// template, never a value.
#[test]
fn a_broken_template_fails_before_minting_and_prints_no_value() {
    let bao = Bao::start();
    let dir = bao.dir.path().join("boot");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mine.j2"),
        "#cloud-config\n# {{ wrapped_token }} {{ role_id }} {{ not_a_variable }}\n",
    )
    .unwrap();
    let file = write_topology(
        &dir,
        &TOPOLOGY.replace(
            "    cidr: 127.0.0.1/32\n  remote-1:",
            "    cidr: 127.0.0.1/32\n    template: mine.j2\n  remote-1:",
        ),
    );
    bao.aegisctl()
        .args(["apply", "--auto-approve"])
        .arg(&file)
        .assert()
        .success();
    let mark = bao.audit_mark();
    let out = bootstrap(&bao, &file, &["local-1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("mine.j2") && stderr.contains("undefined"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("<wrapped-secret-id>") && !stderr.contains("<role-id>"),
        "no variable values: {stderr}"
    );
    assert!(
        bao.audit_requests()[mark..]
            .iter()
            .all(|r| !r.path.ends_with("/secret-id")),
        "nothing may be minted for a template that cannot render"
    );
}

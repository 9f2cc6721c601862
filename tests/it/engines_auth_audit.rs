//! Engines, auth methods and audit devices beyond the basics: the plugin catalog and OIDC auth
//! against a real OpenBao, the AWS engine (an external plugin that cannot run here) against a
//! stateful HTTP double that follows the engine's real API (`doubles/aws_bao.rs`), and audit
//! devices both where the server allows API creation and where it needs a manual step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{
    Bao, CHANGED, DELETED, Run, UNMANAGED, block, norm, s, section, write_topology,
};

#[path = "doubles/aws_bao.rs"]
mod aws_bao;

// ---------------------------------------------------------------------------------------------
// helpers

/// aegisctl against a real OpenBao, with extra environment variables.
fn ctl(bao: &Bao, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = bao.aegisctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.args(args).output().expect("run aegisctl"))
}

fn expect_code(run: Run, code: i32, what: &str) -> Run {
    assert_eq!(run.code, Some(code), "{what}: expected exit {code}:\n{run}");
    run
}

/// The attribute lines of a block (`~ name = ...`, `+ name = ...`), whitespace-normalised.
fn attr_lines(blk: &str) -> Vec<String> {
    blk.lines()
        .skip(1)
        .map(norm)
        .filter(|l| {
            let mut w = l.split(' ');
            matches!(w.next(), Some("~" | "+" | "-" | "-/+")) && l.contains(" = ")
        })
        .collect()
}

/// Asserts the block of `address` under `heading` exists and its first line ends in `verb`;
/// returns the block.
fn drift_block(run: &Run, heading: &str, address: &str, verb: &str) -> String {
    let sec =
        section(&run.stdout, heading).unwrap_or_else(|| panic!("no `{heading}` section:\n{run}"));
    let blk =
        block(sec, address).unwrap_or_else(|| panic!("{address} not under `{heading}`:\n{run}"));
    assert!(
        blk.lines().next().unwrap().trim_end().ends_with(verb),
        "{address} should be reported as `{verb}`:\n{blk}"
    );
    blk
}

/// Asserts no secret appears anywhere in the output of a run.
fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.all().contains(secret),
            "a secret value leaked into aegisctl's output:\n{run}"
        );
    }
}

fn sha256_of(p: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Removes the dev server's own `secret/` mount, so that `drift` can start clean.
fn without_dev_mount(bao: &Bao) {
    bao.bao_ok(&["secrets", "disable", "secret"]);
}

// ---------------------------------------------------------------------------------------------
// 1. plugin catalog (real OpenBao)

const PLUGIN: &str = r#"openbao[root].plugin["secret/aws@v0.2.0"]"#;

/// `bao read sys/plugins/catalog/secret/aws version=v0.2.0`, parsed.
fn catalog_entry(bao: &Bao) -> Value {
    serde_json::from_str(&bao.bao_ok(&[
        "read",
        "-format=json",
        "sys/plugins/catalog/secret/aws",
        "version=v0.2.0",
    ]))
    .expect("json from bao read")
}

fn plugin_topology(sha: &str) -> String {
    format!(
        "version: 1
openbao:
  plugins:
    - type: secret
      name: aws
      command: openbao-plugin-secrets-aws
      sha256: {sha}
      version: v0.2.0
"
    )
}

/// The plugin catalog: registration pins the binary's sha256 (read back with `?version=`), a
/// converged file plans nothing, a new sha256 in the file plans an update, and a re-registration
/// by hand is drift that apply undoes. The plugin directory is set in the server's config
/// (`-dev-plugin-dir` would make the dev server try to run the fake binary and die).
#[test]
fn plugin_registration_pins_the_sha256_and_reports_drift() {
    let plugins = tempfile::tempdir().expect("plugin dir");
    let binary = plugins.path().join("openbao-plugin-secrets-aws");
    std::fs::write(&binary, "#!/bin/sh\necho 'not a real plugin' >&2\nexit 1\n").expect("plugin");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let sha = sha256_of(&binary);
    let other_sha = "0f3c".repeat(16);
    let third_sha = "a1b2".repeat(16);

    let bao = Bao::start_with_config(&format!(
        "plugin_directory = \"{}\"",
        plugins.path().display()
    ));
    let dir = bao.dir.path().join("plugin");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = write_topology(&dir, &plugin_topology(&sha));

    let run = expect_code(
        ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]),
        0,
        "apply registers the plugin",
    );
    assert!(run.stdout.contains(PLUGIN), "{run}");
    let entry = catalog_entry(&bao);
    assert_eq!(entry["data"]["sha256"], json!(sha), "{entry}");
    assert_eq!(
        entry["data"]["command"],
        json!("openbao-plugin-secrets-aws")
    );
    assert_eq!(entry["data"]["version"], json!("v0.2.0"));

    expect_code(
        ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]),
        0,
        "a registered plugin plans nothing",
    );

    // A new sha256 in the file: an in-place update of that field only.
    let moved = write_topology(&dir, &plugin_topology(&other_sha));
    let run = expect_code(
        ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&moved)]),
        2,
        "a new sha256 plans a change",
    );
    let blk = block(&run.stdout, PLUGIN).unwrap_or_else(|| panic!("no block for {PLUGIN}:\n{run}"));
    assert!(blk.contains("will be updated in-place"), "{blk}");
    assert_eq!(
        attr_lines(&blk),
        vec![norm(&format!("~ sha256 = \"{sha}\" -> \"{other_sha}\""))],
        "{blk}"
    );
    let file = write_topology(&dir, &plugin_topology(&sha));

    // Re-registered by hand with another sha256: drift, then apply puts it back.
    without_dev_mount(&bao);
    let run = expect_code(
        ctl(&bao, &[], &["drift", s(&file)]),
        0,
        "no drift right after apply",
    );
    assert!(run.stdout.contains("No drift."), "{run}");
    bao.bao_ok(&[
        "plugin",
        "register",
        &format!("-sha256={third_sha}"),
        "-version=v0.2.0",
        "-command=openbao-plugin-secrets-aws",
        "secret",
        "aws",
    ]);
    let run = expect_code(
        ctl(&bao, &[], &["drift", s(&file)]),
        2,
        "a re-registration by hand is drift",
    );
    let blk = drift_block(&run, CHANGED, PLUGIN, "changed outside aegisctl");
    assert!(norm(&blk).contains("~ sha256"), "{blk}");
    assert!(blk.contains(&third_sha), "{blk}");

    expect_code(
        ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]),
        0,
        "apply re-registers the declared binary",
    );
    let entry = catalog_entry(&bao);
    assert_eq!(entry["data"]["sha256"], json!(sha), "{entry}");
    expect_code(
        ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]),
        0,
        "converged again",
    );
}

// ---------------------------------------------------------------------------------------------
// 2. AWS engine (HTTP double)

const AWS_SECRET: &str = "aws-secret-9d4e1f7a2b";
const AWS_SECRET_2: &str = "aws-secret-rotated-6c8b0e";
const AWS_ROOT: &str = r#"openbao[root].aws_config["aws/root"]"#;
const AWS_LEASE: &str = r#"openbao[root].aws_config["aws/lease"]"#;
const AWS_ROLE: &str = r#"openbao[root].aws_role["aws/tf-state"]"#;
const AWS_MOUNT: &str = r#"openbao[root].mount["aws"]"#;

const AWS_TOPOLOGY: &str = "version: 1
openbao:
  secrets:
    aws:
      type: aws
      config:
        root: { region: eu-west-1, access_key: AKIAEXAMPLE, secret_key: env:AWS_SECRET }
        lease: { lease: 15m, lease_max: 1h }
      roles:
        tf-state:
          credential_type: assumed_role
          role_arns: [arn:aws:iam::123456789012:role/tf-state]
          default_sts_ttl: 15m
          max_sts_ttl: 1h
";

/// A double of OpenBao with the AWS engine, the runtime its server lives on, and a topology.
struct AwsWorld {
    _rt: tokio::runtime::Runtime,
    server: MockServer,
    state: Arc<Mutex<aws_bao::State>>,
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl AwsWorld {
    fn new() -> AwsWorld {
        let rt = runtime();
        let (server, state) = rt.block_on(aws_bao::start());
        let dir = tempfile::tempdir().expect("temp dir");
        let file = write_topology(dir.path(), AWS_TOPOLOGY);
        AwsWorld {
            _rt: rt,
            server,
            state,
            _dir: dir,
            file,
        }
    }

    /// aegisctl against the double, with `AWS_SECRET` set to `secret`.
    fn ctl(&self, secret: &str, args: &[&str]) -> Run {
        let out = Command::new(assert_cmd::cargo::cargo_bin("aegisctl"))
            .args(args)
            .arg(&self.file)
            .env("BAO_ADDR", self.server.uri())
            .env("BAO_TOKEN", "double-token")
            .env("AWS_SECRET", secret)
            .env("NO_COLOR", "1")
            .env_remove("BAO_NAMESPACE")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .output()
            .expect("run aegisctl");
        let run = Run::from(out);
        assert_no_secret(&run, &[AWS_SECRET, AWS_SECRET_2]);
        let unknown = self.state().unknown_requests();
        assert!(
            unknown.is_empty(),
            "aegisctl sent requests the double does not model (no such endpoint in the AWS engine or OpenBao API as modelled): {:?}\n{run}",
            unknown
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
        );
        run
    }

    fn state(&self) -> std::sync::MutexGuard<'_, aws_bao::State> {
        self.state.lock().unwrap()
    }

    fn engine(&self) -> aws_bao::AwsEngine {
        self.state()
            .aws
            .get("aws")
            .cloned()
            .expect("the aws mount exists in the double")
    }

    /// Writes of `config/root` that carried `secret`.
    fn root_writes_with(&self, secret: &str) -> usize {
        self.state()
            .requests_to("POST", "aws/config/root")
            .iter()
            .filter(|r| r.body["secret_key"] == json!(secret))
            .count()
    }

    /// The first apply, which creates all four objects.
    fn apply_initial(&self) -> Run {
        let run = expect_code(
            self.ctl(AWS_SECRET, &["apply", "--auto-approve"]),
            0,
            "apply of the AWS topology",
        );
        for address in [AWS_MOUNT, AWS_ROOT, AWS_LEASE, AWS_ROLE] {
            assert!(
                run.stdout.contains(address),
                "{address} not applied:\n{run}"
            );
        }
        run
    }
}

/// Apply creates the mount, `config/root`, `config/lease` and the role with the engine's own
/// requests; the write-only `secret_key` reaches the engine exactly once and compares through
/// the ledger's fingerprint afterwards, durations compare across `15m`, `"15m0s"` and `900`;
/// an out-of-band TTL change is drift that apply undoes.
#[test]
fn aws_engine_converges_and_reports_role_drift() {
    let w = AwsWorld::new();
    w.apply_initial();

    {
        let st = w.state();
        let mount = &st.mounts["aws/"];
        assert_eq!(mount["type"], json!("aws"), "{mount}");
    }
    let engine = w.engine();
    let root = engine.root.clone().expect("config/root written");
    assert_eq!(root.region, "eu-west-1");
    assert_eq!(root.access_key, "AKIAEXAMPLE");
    assert_eq!(root.secret_key, AWS_SECRET);
    assert_eq!(engine.lease, Some((900, 3600)), "config/lease written");
    let role = engine.roles.get("tf-state").expect("role written");
    assert_eq!(role.credential_types, vec!["assumed_role".to_owned()]);
    assert_eq!(
        role.role_arns,
        vec!["arn:aws:iam::123456789012:role/tf-state".to_owned()]
    );
    assert_eq!((role.default_sts_ttl, role.max_sts_ttl), (900, 3600));
    assert_eq!(w.root_writes_with(AWS_SECRET), 1, "secret_key sent once");
    {
        let st = w.state();
        let leaks = st.body_mentions_outside(AWS_SECRET, "aws/config/root");
        assert!(
            leaks.is_empty(),
            "the secret_key went somewhere else than aws/config/root: {leaks:?}"
        );
    }

    // Converged: the double answers "15m0s"/"1h0m0s" and 900/3600, and no secret_key at all.
    let run = expect_code(
        w.ctl(AWS_SECRET, &["plan", "--detailed-exitcode"]),
        0,
        "a converged AWS engine plans nothing",
    );
    assert!(run.stdout.contains("No changes."), "{run}");
    let run = expect_code(w.ctl(AWS_SECRET, &["drift"]), 0, "no drift after apply");
    assert!(run.stdout.contains("No drift."), "{run}");

    // Out of band: the role's default TTL becomes 30m.
    w.state()
        .aws
        .get_mut("aws")
        .unwrap()
        .roles
        .get_mut("tf-state")
        .unwrap()
        .default_sts_ttl = 1800;
    let run = expect_code(w.ctl(AWS_SECRET, &["drift"]), 2, "an edited role is drift");
    let blk = drift_block(&run, CHANGED, AWS_ROLE, "changed outside aegisctl");
    assert_eq!(
        attr_lines(&blk).len(),
        1,
        "only default_sts_ttl moved:\n{blk}"
    );
    assert!(norm(&blk).contains("~ default_sts_ttl"), "{blk}");
    for other in [AWS_ROOT, AWS_LEASE, AWS_MOUNT] {
        assert!(!run.stdout.contains(other), "{other} did not move:\n{run}");
    }

    let mark = w.state().requests.len();
    expect_code(
        w.ctl(AWS_SECRET, &["apply", "--auto-approve"]),
        0,
        "apply undoes the role drift",
    );
    let role = w.engine().roles["tf-state"].clone();
    assert_eq!((role.default_sts_ttl, role.max_sts_ttl), (900, 3600));
    assert_eq!(
        role.role_arns,
        vec!["arn:aws:iam::123456789012:role/tf-state".to_owned()]
    );
    assert_eq!(role.credential_types, vec!["assumed_role".to_owned()]);
    {
        let st = w.state();
        let writes: Vec<String> = st.requests[mark..]
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("aws/"))
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(
            writes,
            vec!["aws/roles/tf-state".to_owned()],
            "only the role is written"
        );
    }
    assert_eq!(w.root_writes_with(AWS_SECRET), 1, "secret_key not re-sent");
    expect_code(
        w.ctl(AWS_SECRET, &["plan", "--detailed-exitcode"]),
        0,
        "converged again",
    );
}

/// A new `secret_key` input shows as `~ secret_key = (sensitive value)` and nothing else; the
/// apply that follows must leave the rest of `config/root` as declared (the engine replaces
/// the whole configuration on every write).
#[test]
fn aws_secret_key_change_is_a_sensitive_update_of_config_root() {
    let w = AwsWorld::new();
    w.apply_initial();

    let run = expect_code(
        w.ctl(AWS_SECRET_2, &["plan", "--detailed-exitcode"]),
        2,
        "a new secret_key input plans a change",
    );
    let blk =
        block(&run.stdout, AWS_ROOT).unwrap_or_else(|| panic!("no block for {AWS_ROOT}:\n{run}"));
    assert!(blk.contains("will be updated in-place"), "{blk}");
    assert_eq!(
        attr_lines(&blk),
        vec![norm("~ secret_key = (sensitive value)")],
        "{blk}"
    );
    assert!(
        run.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{run}"
    );

    expect_code(
        w.ctl(AWS_SECRET_2, &["apply", "--auto-approve"]),
        0,
        "apply of the new secret_key",
    );
    let root = w.engine().root.expect("config/root");
    assert_eq!(
        root.secret_key, AWS_SECRET_2,
        "the new secret_key reached the engine"
    );
    assert_eq!(
        (root.region.as_str(), root.access_key.as_str()),
        ("eu-west-1", "AKIAEXAMPLE"),
        "writing config/root replaces it whole: a write of secret_key alone wiped the declared region and access_key"
    );
    assert_eq!(w.root_writes_with(AWS_SECRET_2), 1);
    expect_code(
        w.ctl(AWS_SECRET_2, &["plan", "--detailed-exitcode"]),
        0,
        "converged with the new secret_key",
    );
}

/// `config/lease` changed out of band is drift, and apply converges it (the engine needs both
/// `lease` and `lease_max` on every write).
#[test]
fn aws_lease_drift_converges() {
    let w = AwsWorld::new();
    w.apply_initial();

    w.state().aws.get_mut("aws").unwrap().lease = Some((1800, 3600));
    let run = expect_code(w.ctl(AWS_SECRET, &["drift"]), 2, "an edited lease is drift");
    let blk = drift_block(&run, CHANGED, AWS_LEASE, "changed outside aegisctl");
    assert!(norm(&blk).contains("~ lease "), "{blk}");
    assert!(
        !norm(&blk).contains("~ lease_max"),
        "lease_max did not move:\n{blk}"
    );

    expect_code(
        w.ctl(AWS_SECRET, &["apply", "--auto-approve"]),
        0,
        "apply undoes the lease drift",
    );
    assert_eq!(w.engine().lease, Some((900, 3600)));
    expect_code(
        w.ctl(AWS_SECRET, &["plan", "--detailed-exitcode"]),
        0,
        "converged again",
    );
}

// ---------------------------------------------------------------------------------------------
// 3. OIDC auth (real OpenBao, discovery served by wiremock)

const OIDC_SECRET: &str = "oidc-client-secret-4a7c2e9f";
const AUTH_CONFIG: &str = r#"openbao[root].auth_config["oidc/config"]"#;
const JWT_ROLE: &str = r#"openbao[root].jwt_role["oidc/operator"]"#;

/// An OIDC provider's discovery document and (empty) key set, at `server`'s root.
fn serve_discovery(rt: &tokio::runtime::Runtime) -> MockServer {
    rt.block_on(async {
        let server = MockServer::start().await;
        let base = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": base,
                "jwks_uri": format!("{base}/jwks"),
                "authorization_endpoint": format!("{base}/auth"),
                "token_endpoint": format!("{base}/token"),
                "userinfo_endpoint": format!("{base}/userinfo"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": [] })))
            .mount(&server)
            .await;
        server
    })
}

/// An `oidc` auth mount with its config (discovery over http from a local provider, which
/// OpenBao accepts) and a role: apply converges, the client secret is never printed, an
/// out-of-band role edit is drift that apply undoes.
#[test]
fn oidc_auth_converges_and_reports_role_drift() {
    let rt = runtime();
    let provider = serve_discovery(&rt);
    let bao = Bao::start();
    let dir = bao.dir.path().join("oidc");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = write_topology(
        &dir,
        &format!(
            r#"version: 1
openbao:
  auth:
    oidc:
      type: oidc
      config:
        oidc_discovery_url: {url}
        oidc_client_id: aegis
        oidc_client_secret: env:OIDC_SECRET
        default_role: operator
      roles:
        operator:
          role_type: oidc
          bound_audiences: [aegis]
          allowed_redirect_uris: ["http://localhost:8250/oidc/callback"]
          user_claim: sub
          groups_claim: groups
          token_policies: [default]
"#,
            url = provider.uri()
        ),
    );
    let env = [("OIDC_SECRET", OIDC_SECRET)];
    let run = |args: &[&str]| {
        let r = ctl(&bao, &env, args);
        assert_no_secret(&r, &[OIDC_SECRET]);
        r
    };

    let applied = expect_code(
        run(&["apply", "--auto-approve", s(&file)]),
        0,
        "apply of the oidc mount",
    );
    for address in [AUTH_CONFIG, JWT_ROLE] {
        assert!(applied.stdout.contains(address), "{address}:\n{applied}");
    }
    let config = bao.read_json("auth/oidc/config");
    assert_eq!(config["data"]["oidc_client_id"], json!("aegis"), "{config}");
    assert_eq!(
        config["data"]["oidc_discovery_url"],
        json!(provider.uri()),
        "{config}"
    );
    assert_eq!(config["data"]["default_role"], json!("operator"));
    let role = bao.read_json("auth/oidc/role/operator");
    assert_eq!(role["data"]["bound_audiences"], json!(["aegis"]), "{role}");
    assert_eq!(role["data"]["user_claim"], json!("sub"));
    assert_eq!(
        role["data"]["allowed_redirect_uris"],
        json!(["http://localhost:8250/oidc/callback"])
    );

    expect_code(
        run(&["plan", "--detailed-exitcode", s(&file)]),
        0,
        "a converged oidc mount plans nothing",
    );
    without_dev_mount(&bao);
    let clean = expect_code(run(&["drift", s(&file)]), 0, "no drift after apply");
    assert!(clean.stdout.contains("No drift."), "{clean}");

    bao.bao_ok(&["write", "auth/oidc/role/operator", "bound_audiences=other"]);
    let drift = expect_code(run(&["drift", s(&file)]), 2, "an edited role is drift");
    let blk = drift_block(&drift, CHANGED, JWT_ROLE, "changed outside aegisctl");
    assert!(norm(&blk).contains("~ bound_audiences"), "{blk}");
    assert!(blk.contains("other"), "{blk}");
    assert!(
        !drift.stdout.contains(AUTH_CONFIG),
        "the config did not move:\n{drift}"
    );

    expect_code(
        run(&["apply", "--auto-approve", s(&file)]),
        0,
        "apply undoes the role drift",
    );
    let role = bao.read_json("auth/oidc/role/operator");
    assert_eq!(role["data"]["bound_audiences"], json!(["aegis"]), "{role}");
    expect_code(
        run(&["plan", "--detailed-exitcode", s(&file)]),
        0,
        "converged again",
    );
    drop(provider);
}

// ---------------------------------------------------------------------------------------------
// 4. audit devices

const TRAIL: &str = r#"openbao[root].audit_device["trail"]"#;

fn audit_topology(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("trail.log");
    let file = write_topology(
        dir,
        &format!(
            "version: 1
openbao:
  audit:
    trail:
      type: file
      options:
        file_path: {}
",
            log.display()
        ),
    );
    (file, log)
}

fn audit_paths(bao: &Bao) -> Vec<String> {
    let v: Value =
        serde_json::from_str(&bao.bao_ok(&["audit", "list", "-format=json"])).expect("json");
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Where the server allows API creation (`unsafe_allow_api_audit_creation = true` in its
/// config), a declared device converges, its removal by hand is drift, and apply re-enables it.
#[test]
fn audit_device_converges_where_api_creation_is_allowed() {
    let bao = Bao::start_with_config("unsafe_allow_api_audit_creation = true");
    let dir = bao.dir.path().join("audit");
    std::fs::create_dir_all(&dir).expect("dir");
    let (file, log) = audit_topology(&dir);

    let run = expect_code(
        ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]),
        0,
        "apply enables the device",
    );
    assert!(run.stdout.contains(TRAIL), "{run}");
    assert!(audit_paths(&bao).contains(&"trail/".to_owned()));
    let listed: Value =
        serde_json::from_str(&bao.bao_ok(&["audit", "list", "-format=json"])).unwrap();
    assert_eq!(listed["trail/"]["type"], json!("file"), "{listed}");
    assert_eq!(
        listed["trail/"]["options"]["file_path"],
        json!(log.display().to_string()),
        "{listed}"
    );
    expect_code(
        ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]),
        0,
        "a converged device plans nothing",
    );

    without_dev_mount(&bao);
    let clean = expect_code(
        ctl(&bao, &[], &["drift", s(&file)]),
        0,
        "no drift after apply (the harness's config-declared device is the server's)",
    );
    assert!(clean.stdout.contains("No drift."), "{clean}");

    bao.bao_ok(&["audit", "disable", "trail"]);
    let drift = expect_code(
        ctl(&bao, &[], &["drift", s(&file)]),
        2,
        "a disabled device is drift",
    );
    drift_block(&drift, DELETED, TRAIL, "deleted outside aegisctl");

    expect_code(
        ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]),
        0,
        "apply re-enables the device",
    );
    assert!(audit_paths(&bao).contains(&"trail/".to_owned()));
    expect_code(
        ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]),
        0,
        "converged again",
    );
}

/// Where the server refuses API creation (OpenBao 2.x's default), the plan shows the manual
/// step with the exact stanza, apply succeeds and says a manual step is needed (without trying
/// the API), and the device the server's own config declares is never "not managed".
#[test]
fn audit_device_is_a_manual_step_where_api_creation_is_refused() {
    let bao = Bao::start();
    let dir = bao.dir.path().join("audit");
    std::fs::create_dir_all(&dir).expect("dir");
    let (file, log) = audit_topology(&dir);

    let plan = expect_code(ctl(&bao, &[], &["plan", s(&file)]), 0, "plan");
    let blk = block(&plan.stdout, TRAIL).unwrap_or_else(|| panic!("no block for {TRAIL}:\n{plan}"));
    assert!(blk.contains("unsafe_allow_api_audit_creation"), "{blk}");
    assert!(blk.contains(r#"audit "file" "trail" {"#), "{blk}");
    assert!(
        norm(&blk).contains(&norm(&format!("file_path = \"{}\"", log.display()))),
        "{blk}"
    );

    let mark = bao.audit_mark();
    let apply = expect_code(
        ctl(&bao, &[], &["apply", "--auto-approve", s(&file)]),
        0,
        "apply does not fail for a manual step",
    );
    assert!(
        apply.all().to_lowercase().contains("manual step"),
        "apply should say a manual step is needed:\n{apply}"
    );
    assert!(!audit_paths(&bao).contains(&"trail/".to_owned()));
    let tried: Vec<_> = bao.audit_requests()[mark..]
        .iter()
        .filter(|r| r.is_write() && r.path == "sys/audit/trail")
        .cloned()
        .collect();
    assert!(tried.is_empty(), "apply tried the API anyway: {tried:?}");

    without_dev_mount(&bao);
    let drift = ctl(&bao, &[], &["drift", s(&file)]);
    assert!(
        matches!(drift.code, Some(0 | 2)),
        "drift should not fail:\n{drift}"
    );
    assert!(
        !drift.stdout.contains(r#"audit_device["aegis-test"]"#),
        "the config-declared device must not be reported:\n{drift}"
    );
    if let Some(sec) = section(&drift.stdout, UNMANAGED) {
        assert!(!sec.contains("aegis-test"), "{drift}");
    }
}

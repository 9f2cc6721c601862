//! Every Infisical kind through the CLI against the double: a project with two environments
//! (ordered), a nested folder, secrets from a literal, `env:`, `sops:`, `file:` and `vault:`, a
//! machine identity with Universal Auth (trusted IPs) and a project membership are applied from
//! nothing and plan "No changes."; then each is edited behind aegisctl's back through the API,
//! `drift` reports each (exit 2) by address and attribute — never a secret's value — plus an
//! unmanaged secret and identity, and `apply` converges them again; prune removes only what the
//! ledger holds, only with `--prune` (an environment with `--allow-destroy`). No secret value
//! and no login secret appears in any output, `-vv` log, `--json` document or plan file.

use serde_json::json;

use crate::harness::{CHANGED, DELETED, UNMANAGED, block, s, section};
use crate::infisical_common::{HEAD, start};
use crate::infisical_double::Config;

const LITERAL: &str = "ifs-literal-canary-5a1e";
const FROM_ENV: &str = "ifs-env-canary-9b2f";
const FROM_FILE: &str = "ifs-file-canary-3c7d";
const FROM_VAULT: &str = "ifs-vault-canary-0e4a";
const SOPS_VALUE: &str = "CANARY-7f3a9c-do-not-leak";
const OUT_OF_BAND: &str = "ifs-oob-canary-77d1";

/// The whole topology, or (`full` false) without the environment `dev`, the secret TOKEN, the
/// folder `/empty` and the identity (with its Universal Auth and membership).
fn topology(full: bool) -> String {
    let sops = crate::harness::repo()
        .join("tests/fixtures/sops/secrets.enc.yaml")
        .display()
        .to_string();
    let (dev, folders, token, identities) = if full {
        (
            "        dev: { name: Development, position: 1 }\n",
            "      folders:\n        prod: [/empty]\n",
            format!("            TOKEN: {LITERAL}\n"),
            "  identities:
    agent-runner:
      role: no-access
      universal_auth:
        access_token_ttl: 1h
        access_token_max_ttl: 4h
        client_secret_trusted_ips: [10.0.8.0/24, 127.0.0.1]
        access_token_trusted_ips: [0.0.0.0/0, ::/0]
      projects:
        homelab-apps: viewer
",
        )
    } else {
        ("", "", String::new(), "")
    };
    format!(
        "{HEAD}  projects:
    homelab-apps:
      description: Apps of the homelab
      environments:
{dev}        prod: {{ name: Production, position: 2 }}
{folders}      secrets:
        prod:
          /:
            ANTHROPIC_API_KEY: env:IFS_TEST_KEY
            FROM_SOPS: sops:{sops}#/canary
{token}          /app/db:
            PASSWORD: file:password.txt
            FROM_VAULT: vault:secret/ifs#value
{identities}"
    )
}

#[test]
fn every_infisical_kind_applies_drifts_converges_and_prunes() {
    let env = start(Config {
        ip_allowlisting: true,
        ..Config::default()
    });
    let file = env.topology("apply", &topology(true));
    std::fs::write(
        file.with_file_name("password.txt"),
        format!("{FROM_FILE}\n"),
    )
    .unwrap();
    // The dev server's `secret/` (kv-v2) holds the `vault:` input.
    env.bao
        .bao_ok(&["kv", "put", "secret/ifs", &format!("value={FROM_VAULT}")]);
    let key = crate::harness::repo().join("tests/fixtures/sops/test-key.txt");
    let vars = [
        ("IFS_TEST_KEY", FROM_ENV),
        ("SOPS_AGE_KEY_FILE", key.to_str().unwrap()),
    ];
    let canaries = [
        LITERAL,
        FROM_ENV,
        FROM_FILE,
        FROM_VAULT,
        SOPS_VALUE,
        OUT_OF_BAND,
    ];
    let ctl = |args: &[&str]| {
        let run = env.ctl_with(&vars, args);
        for c in canaries {
            assert!(
                !run.all().contains(c),
                "{c} in the output of {args:?}:\n{run}"
            );
        }
        run
    };
    let f = s(&file);

    // From nothing: the plan shows every object, values as sensitive.
    let plan = ctl(&["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    for addr in [
        r#"infisical[homelab-apps].project["homelab-apps"]"#,
        r#"infisical[homelab-apps].environment["prod"]"#,
        r#"infisical[homelab-apps].folder["prod/empty"]"#,
        r#"infisical[homelab-apps].folder["prod/app/db"]"#,
        r#"infisical[homelab-apps].secret["prod/app/db/PASSWORD"]"#,
        r#"infisical[org].identity["agent-runner"]"#,
        r#"infisical[org].universal_auth["agent-runner"]"#,
        r#"infisical[homelab-apps].membership["agent-runner"]"#,
    ] {
        assert!(plan.stdout.contains(addr), "{addr} not planned:\n{plan}");
    }
    let planfile = env.bao.dir.path().join("ifs.plan");
    let saved = ctl(&["plan", "-out", s(&planfile), f]);
    assert_eq!(saved.code, Some(0), "{saved}");
    let apply = ctl(&["-vv", "apply", "--auto-approve", s(&planfile)]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let text = std::fs::read_to_string(&planfile).unwrap();
    for c in canaries {
        assert!(!text.contains(c), "{c} in the plan file");
    }
    let again = ctl(&["plan", "--detailed-exitcode", f]);
    assert_eq!(again.code, Some(0), "{again}");
    assert!(again.stdout.contains("No changes."), "{again}");
    let json = ctl(&["drift", "--json", f]);
    assert_eq!(json.code, Some(0), "{json}");

    // What landed is what was declared.
    let api = env.api();
    let project = api.project("homelab-apps");
    let pid = project["id"].as_str().unwrap().to_owned();
    let slugs: Vec<&str> = project["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["dev", "prod"],
        "created exactly the declared environments, in order"
    );
    let secret = |name: &str, path: &str| {
        api.send(
            "GET",
            &format!(
                "/api/v3/secrets/raw/{name}?workspaceId={pid}&environment=prod&secretPath={path}"
            ),
            None,
        )
    };
    for (name, path, want) in [
        ("ANTHROPIC_API_KEY", "/", FROM_ENV),
        ("FROM_SOPS", "/", SOPS_VALUE),
        ("TOKEN", "/", LITERAL),
        ("PASSWORD", "/app/db", FROM_FILE),
        ("FROM_VAULT", "/app/db", FROM_VAULT),
    ] {
        let (status, body) = secret(name, path);
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["secret"]["secretValue"], want, "{name}");
    }
    let iid = api.identity_id(&env.dbl.org_id(), "agent-runner");
    let ua_path = format!("/api/v1/auth/universal-auth/identities/{iid}");
    let ua = api.ok("GET", &ua_path, None)["identityUniversalAuth"].clone();
    assert_eq!(ua["accessTokenTTL"], 3600);
    assert_eq!(ua["accessTokenMaxTTL"], 14400);

    // Behind aegisctl's back: one edit per kind.
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{pid}"),
        Some(json!({"description": "hijacked"})),
    );
    let envs = project["environments"].as_array().unwrap().clone();
    let env_id = |slug: &str| {
        envs.iter()
            .find(|e| e["slug"] == slug)
            .and_then(|e| e["id"].as_str())
            .unwrap()
            .to_owned()
    };
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{pid}/environments/{}", env_id("prod")),
        Some(json!({"name": "Prod (renamed)", "position": 1})),
    );
    let folders = api.ok(
        "GET",
        &format!("/api/v2/folders?projectId={pid}&environment=prod&path=/"),
        None,
    );
    let empty = folders["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "empty")
        .expect("folder empty")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.ok(
        "DELETE",
        &format!("/api/v2/folders/{empty}"),
        Some(json!({"projectId": pid, "environment": "prod", "path": "/"})),
    );
    api.ok(
        "PATCH",
        "/api/v3/secrets/raw/ANTHROPIC_API_KEY",
        Some(json!({"workspaceId": pid, "environment": "prod", "secretPath": "/", "secretValue": OUT_OF_BAND})),
    );
    api.ok(
        "DELETE",
        "/api/v3/secrets/raw/TOKEN",
        Some(json!({"workspaceId": pid, "environment": "prod", "secretPath": "/"})),
    );
    api.ok(
        "POST",
        "/api/v3/secrets/raw/ROGUE",
        Some(json!({"workspaceId": pid, "environment": "prod", "secretPath": "/", "secretValue": OUT_OF_BAND})),
    );
    api.ok(
        "PATCH",
        &format!("/api/v1/identities/{iid}"),
        Some(json!({"name": "agent-runner", "role": "member"})),
    );
    api.ok(
        "PATCH",
        &ua_path,
        Some(
            json!({"accessTokenTTL": 60, "clientSecretTrustedIps": [{"ipAddress": "10.9.9.0/24"}]}),
        ),
    );
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{pid}/memberships/identities/{iid}"),
        Some(json!({"roles": [{"role": "member", "isTemporary": false}]})),
    );
    api.ok(
        "POST",
        "/api/v1/identities",
        Some(json!({"name": "rogue-runner", "organizationId": env.dbl.org_id(), "role": "no-access"})),
    );

    let drift = ctl(&["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    let changed = section(&drift.stdout, CHANGED).unwrap_or_else(|| panic!("{drift}"));
    for (addr, attr) in [
        (
            r#"infisical[homelab-apps].project["homelab-apps"]"#,
            "description",
        ),
        (r#"infisical[homelab-apps].environment["prod"]"#, "name"),
        (r#"infisical[homelab-apps].environment["prod"]"#, "position"),
        (r#"infisical[homelab-apps].environment["dev"]"#, "position"),
        (
            r#"infisical[homelab-apps].secret["prod/ANTHROPIC_API_KEY"]"#,
            "value",
        ),
        (r#"infisical[org].identity["agent-runner"]"#, "role"),
        (
            r#"infisical[org].universal_auth["agent-runner"]"#,
            "access_token_ttl",
        ),
        (
            r#"infisical[org].universal_auth["agent-runner"]"#,
            "client_secret_trusted_ips",
        ),
        (
            r#"infisical[homelab-apps].membership["agent-runner"]"#,
            "roles",
        ),
    ] {
        let b = block(changed, addr).unwrap_or_else(|| panic!("{addr} not reported:\n{drift}"));
        assert!(b.contains(attr), "{addr}: {attr} not reported:\n{b}");
    }
    let deleted = section(&drift.stdout, DELETED).unwrap_or_else(|| panic!("{drift}"));
    for addr in [
        r#"infisical[homelab-apps].folder["prod/empty"]"#,
        r#"infisical[homelab-apps].secret["prod/TOKEN"]"#,
    ] {
        assert!(
            deleted.contains(addr),
            "{addr} not reported deleted:\n{drift}"
        );
    }
    let unmanaged = section(&drift.stdout, UNMANAGED).unwrap_or_else(|| panic!("{drift}"));
    for addr in [
        r#"infisical[homelab-apps].secret["prod/ROGUE"]"#,
        r#"infisical[org].identity["rogue-runner"]"#,
    ] {
        assert!(
            unmanaged.contains(addr),
            "{addr} not reported unmanaged:\n{drift}"
        );
    }
    let json = ctl(&["drift", "--json", f]);
    assert_eq!(json.code, Some(2), "{json}");

    let converge = ctl(&["apply", "--auto-approve", f]);
    assert_eq!(converge.code, Some(0), "{converge}");
    let after = ctl(&["plan", "--detailed-exitcode", f]);
    assert_eq!(after.code, Some(0), "{after}");
    let (_, body) = secret("ANTHROPIC_API_KEY", "/");
    assert_eq!(
        body["secret"]["secretValue"], FROM_ENV,
        "the declared value is back"
    );

    // Prune: the environment `dev` and the secret TOKEN leave the file.
    let smaller = env.topology("apply", &topology(false));
    let f = s(&smaller);
    let plan = ctl(&["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    assert!(
        !plan.stdout.contains("destroyed"),
        "nothing is destroyed without --prune:\n{plan}"
    );
    let pruned = ctl(&["plan", "--prune", f]);
    assert!(
        pruned
            .stdout
            .contains(r#"infisical[homelab-apps].secret["prod/TOKEN"]"#),
        "{pruned}"
    );
    assert!(
        pruned
            .stdout
            .contains(r#"infisical[homelab-apps].environment["dev"]"#),
        "{pruned}"
    );
    assert!(
        !pruned.stdout.contains("ROGUE"),
        "an object the ledger does not hold is never pruned:\n{pruned}"
    );
    assert!(!pruned.stdout.contains("rogue-runner"), "{pruned}");
    let refused = ctl(&["apply", "--auto-approve", "--prune", f]);
    assert_eq!(
        refused.code,
        Some(1),
        "an environment's deletion needs --allow-destroy:\n{refused}"
    );
    assert!(refused.all().contains("--allow-destroy"), "{refused}");
    let done = ctl(&["apply", "--auto-approve", "--prune", "--allow-destroy", f]);
    assert_eq!(done.code, Some(0), "{done}");
    let (status, _) = secret("TOKEN", "/");
    assert_eq!(status, 404, "pruned");
    let (status, _) = secret("ROGUE", "/");
    assert_eq!(status, 200, "an unmanaged secret is left alone");
    let slugs: Vec<String> = api.project("homelab-apps")["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, ["prod"]);
    let (status, _) = api.send("GET", &format!("/api/v1/identities/{iid}"), None);
    assert_eq!(status, 404, "the pruned identity is gone");
    let (status, _) = api.send(
        "GET",
        &format!(
            "/api/v1/identities/{}",
            api.identity_id(&env.dbl.org_id(), "rogue-runner")
        ),
        None,
    );
    assert_eq!(status, 200, "an unmanaged identity is left alone");
    let last = ctl(&["plan", "--detailed-exitcode", "--prune", f]);
    assert_eq!(last.code, Some(0), "{last}");
}

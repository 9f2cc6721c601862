//! `aegisctl bootstrap` of a host with `infisical_identity`, against a real OpenBao and the
//! Infisical double: the artefact (mode 0600) carries a freshly minted Universal Auth client
//! secret beside the wrapped SecretID; the test plays the host and logs in with it once (its
//! use limit of 1 refuses a second login); the client secret was created with the host's TTL and
//! use limit, and the identity's trusted IPs hold the host's address; the secret appears in no
//! output, audit record or ledger document — only its id, by which `--revoke` revokes it;
//! `--dry-run` mints nothing.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::harness::s;
use crate::infisical_common::{Api, HEAD, start};
use crate::infisical_double::Config;

fn topology() -> String {
    format!(
        "{HEAD}  identities:
    agent-runner:
      role: no-access
      universal_auth:
        access_token_ttl: 10m
openbao:
  auth:
    approle:
      roles:
        daemon: {{ token_ttl: 1h, secret_id_num_uses: 1, secret_id_ttl: 15m }}
hosts:
  agent-1:
    kind: agent
    approle: daemon
    cidr: 127.0.0.1/32
    infisical_identity: agent-runner
    infisical_client_secret: {{ ttl: 2h, num_uses_limit: 1 }}
  lxc-1:
    kind: lxc
    approle: daemon
    cidr: 127.0.0.1/32
    infisical_identity: agent-runner
"
    )
}

/// The value of `KEY=value` in an env file.
fn env_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
        .to_owned()
}

#[test]
fn a_host_gets_a_client_secret_that_logs_in_once_and_is_revoked_with_the_bootstrap() {
    let env = start(Config {
        ip_allowlisting: true,
        ..Config::default()
    });
    let file = env.topology("boot", &topology());
    let f = s(&file);
    let apply = env.ctl(&["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let api = env.api();
    let iid = api.identity_id(&env.dbl.org_id(), "agent-runner");
    let ua = api.ok(
        "GET",
        &format!("/api/v1/auth/universal-auth/identities/{iid}"),
        None,
    );
    let trusted: Vec<Value> = ua["identityUniversalAuth"]["clientSecretTrustedIps"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        trusted,
        [json!({"type": "ipv4", "ipAddress": "127.0.0.1", "prefix": 32})],
        "the hosts' address joined the identity's trusted IPs"
    );
    assert_eq!(
        env.ctl(&["plan", "--detailed-exitcode", f]).code,
        Some(0),
        "converged with the hosts' addresses"
    );

    // --dry-run mints nothing.
    env.dbl.clear_requests();
    let dry = env.ctl(&["bootstrap", "--dry-run", f, "agent-1"]);
    assert_eq!(dry.code, Some(0), "{dry}");
    assert!(
        dry.stdout
            .contains("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=<"),
        "{dry}"
    );
    assert!(
        !env.dbl
            .requests()
            .iter()
            .any(|r| r.path.contains("client-secrets")),
        "a dry run creates no client secret"
    );

    let out = env.bao.dir.path().join("artefacts");
    let audit = env.bao.dir.path().join("audit.jsonl");
    let boot = env.ctl(&[
        "bootstrap",
        f,
        "agent-1",
        "--out-dir",
        s(&out),
        "--audit-file",
        s(&audit),
    ]);
    assert_eq!(boot.code, Some(0), "{boot}");
    let artefact = out.join("agent-1.env");
    let mode = std::fs::metadata(&artefact).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the artefact is its owner's only");
    let text = std::fs::read_to_string(&artefact).unwrap();
    let secret = env_value(&text, "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET");
    let client_id = env_value(&text, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID");
    assert_eq!(secret.len(), 64, "a real client secret: {}", secret.len());
    assert_eq!(
        env_value(&text, "INFISICAL_API_URL"),
        format!("{}/api", env.dbl.url())
    );

    // The create carried the host's TTL and use limit.
    let creates: Vec<_> = env
        .dbl
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/client-secrets"))
        .collect();
    assert_eq!(creates.len(), 1, "one client secret minted");
    assert_eq!(creates[0].body["numUsesLimit"], 1);
    assert_eq!(creates[0].body["ttl"], 7200);

    // Nowhere but in the artefact.
    assert!(!boot.all().contains(&secret), "{boot}");
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(!audit_text.contains(&secret), "{audit_text}");
    let record: Value = serde_json::from_str(audit_text.lines().last().unwrap()).unwrap();
    let secret_id = record["infisical"]["client_secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(record["infisical"]["identity"], "agent-runner");
    let ledger = env
        .bao
        .bao_ok(&["kv", "get", "-format=json", "aegisctl/bootstrap/agent-1"]);
    assert!(
        !ledger.contains(&secret) && ledger.contains(&secret_id),
        "{ledger}"
    );
    let listed = env.ctl(&["bootstrap", "--list", "--json", f]);
    assert!(!listed.all().contains(&secret), "{listed}");

    // The host logs in once; the use limit refuses the second login.
    Api::login(&env.dbl.url(), &client_id, &secret);
    let again = crate::http_wire::call(
        "POST",
        &format!("{}/api/v1/auth/universal-auth/login", env.dbl.url()),
        &[("Content-Type", "application/json")],
        Some(&json!({"clientId": client_id, "clientSecret": secret}).to_string()),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(again.status, 401, "a one-use secret logs in once");
    let listed = env.ctl(&["bootstrap", "--list", f]);
    assert!(
        listed.stdout.contains(&format!("{secret_id} (revoked)")),
        "Infisical revoked the used-up secret, and --list says so:\n{listed}"
    );

    // A second host's secret, then --revoke of that host revokes it.
    let boot2 = env.ctl(&[
        "bootstrap",
        f,
        "lxc-1",
        "--out-dir",
        s(&out),
        "--audit-file",
        s(&audit),
    ]);
    assert_eq!(boot2.code, Some(0), "{boot2}");
    let user_data = std::fs::read_to_string(out.join("lxc-1.user-data.yaml")).unwrap();
    let secret2 = user_data
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=")
        })
        .expect("secret in the user-data")
        .to_owned();
    let revoke = env.ctl(&[
        "bootstrap",
        f,
        "--revoke",
        "lxc-1",
        "--audit-file",
        s(&audit),
    ]);
    assert_eq!(revoke.code, Some(0), "{revoke}");
    let secrets = api.ok(
        "GET",
        &format!("/api/v1/auth/universal-auth/identities/{iid}/client-secrets"),
        None,
    );
    assert!(
        secrets["clientSecretData"].as_array().unwrap().is_empty(),
        "the revoked secret is gone from the list (and the used one is revoked): {secrets}"
    );
    let refused = crate::http_wire::call(
        "POST",
        &format!("{}/api/v1/auth/universal-auth/login", env.dbl.url()),
        &[("Content-Type", "application/json")],
        Some(&json!({"clientId": client_id, "clientSecret": secret2}).to_string()),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(refused.status, 401, "a revoked secret logs in no more");
    assert!(!revoke.all().contains(&secret2), "{revoke}");
}

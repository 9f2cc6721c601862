//! #[cfg(test)] The `infisical:` block read from YAML: the objects and addresses it makes, the
//! order they wait for each other in, what is sensitive, and problems at their line.

use std::io::Write;

use crate::model::{AttrValue, Desired};
use crate::topology::{TopologyError, load_with_env};

const HEAD: &str = "version: 1\ninfisical:\n  url: http://127.0.0.1:1/api\n  auth: { client_id: cid, client_secret: env:INF_SECRET }\n  organization: org-1\n";

fn load(text: &str) -> Result<Desired, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let env = |n: &str| match n {
        "INF_SECRET" => Some("canary-login-secret".to_owned()),
        "AI_KEY" => Some("canary-ai-key".to_owned()),
        _ => None,
    };
    load_with_env(&path, &env).map_err(|e| match e {
        TopologyError::Invalid(ps) => ps
            .iter()
            .map(|p| format!("{}:{} {}", p.line, p.column, p.message))
            .collect(),
        other => vec![other.to_string()],
    })
}

#[test]
fn the_spec_example_makes_every_object_with_its_dependencies() {
    let text = format!(
        "{HEAD}  projects:
    homelab-apps:
      environments:
        dev: {{ name: Development }}
        prod: {{ name: Production, position: 2 }}
      secrets:
        prod:
          /:
            ANTHROPIC_API_KEY: env:AI_KEY
          /app/db:
            PASSWORD: literal-canary
  identities:
    agent-runner:
      role: no-access
      universal_auth:
        access_token_ttl: 1h
        client_secret_trusted_ips: [10.0.8.0/24]
      projects:
        homelab-apps: viewer
"
    );
    let d = load(&text).expect("loads");
    let conn = d.infisical.as_ref().expect("connection");
    assert_eq!(
        conn.url, "http://127.0.0.1:1",
        "/api is not part of the base"
    );
    assert_eq!(conn.client_secret.expose(), "canary-login-secret");
    let addrs: Vec<&str> = d.resources.iter().map(|r| r.address.0.as_str()).collect();
    for want in [
        r#"infisical[homelab-apps].project["homelab-apps"]"#,
        r#"infisical[homelab-apps].environment["prod"]"#,
        r#"infisical[homelab-apps].folder["prod/app"]"#,
        r#"infisical[homelab-apps].folder["prod/app/db"]"#,
        r#"infisical[homelab-apps].secret["prod/ANTHROPIC_API_KEY"]"#,
        r#"infisical[homelab-apps].secret["prod/app/db/PASSWORD"]"#,
        r#"infisical[org].identity["agent-runner"]"#,
        r#"infisical[org].universal_auth["agent-runner"]"#,
        r#"infisical[homelab-apps].membership["agent-runner"]"#,
    ] {
        assert!(addrs.contains(&want), "{want} missing from {addrs:?}");
    }
    let by = |a: &str| d.resources.iter().find(|r| r.address.0 == a).unwrap();
    let secret = by(r#"infisical[homelab-apps].secret["prod/app/db/PASSWORD"]"#);
    assert!(
        matches!(secret.attrs["value"], AttrValue::Secret(_)),
        "a literal secret value is sensitive"
    );
    assert_eq!(
        secret.depends_on[0].0,
        r#"infisical[homelab-apps].folder["prod/app/db"]"#
    );
    let deep = by(r#"infisical[homelab-apps].folder["prod/app/db"]"#);
    assert_eq!(
        deep.depends_on[0].0,
        r#"infisical[homelab-apps].folder["prod/app"]"#
    );
    let member = by(r#"infisical[homelab-apps].membership["agent-runner"]"#);
    assert_eq!(
        member.depends_on.len(),
        2,
        "identity and project: {:?}",
        member.depends_on
    );
    let debug = format!("{d:?}");
    assert!(
        !debug.contains("canary"),
        "no secret in a Debug of the Desired phase"
    );
}

#[test]
fn problems_point_at_their_line() {
    let text = format!(
        "{HEAD}  projects:
    App:
      environments: {{}}
    homelab-apps:
      environments:
        prod: {{ nme: x }}
"
    );
    let p = load(&text).unwrap_err();
    assert!(
        p.iter()
            .any(|m| m.starts_with("11:") && m.contains("unknown field `nme`")),
        "{p:?}"
    );

    let text = format!(
        "{HEAD}  projects:
    App:
      environments: {{}}
    homelab-apps:
      environments: {{ prod: {{ position: 0 }} }}
      secrets:
        staging:
          /:
            A: b
        prod:
          app:
            B: c
          /:
            bad/name: c
"
    );
    let p = load(&text).unwrap_err();
    assert!(
        p.iter().any(|m| m.starts_with("7:5 project slug `App`")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("`position` must be a whole number from 1")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("declares no environment `staging`")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("folder path `app` must start with /")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("secret name `bad/name`")),
        "{p:?}"
    );
}

#[test]
fn a_host_client_secret_needs_universal_auth_and_its_addresses_join_the_trusted_ips() {
    let base = format!(
        "{HEAD}  identities:
    agent-runner:
      universal_auth:
        client_secret_trusted_ips: [10.0.8.0/24]
    no-ua: {{ role: member }}
openbao:
  auth:
    approle:
      roles:
        r: {{ token_ttl: 1h }}
hosts:
  lxc-121:
    kind: lxc
    approle: r
    cidr: 10.0.9.21/32
"
    );
    let d = load(&format!("{base}    infisical_identity: agent-runner\n")).expect("loads");
    let host = d.hosts[0].infisical.as_ref().expect("client secret");
    assert_eq!((host.ttl_seconds, host.num_uses_limit), (3600, 1));
    assert_eq!(host.trusted_ips, ["10.0.9.21/32"]);
    let ua = d
        .resources
        .iter()
        .find(|r| r.id.kind == "universal_auth")
        .unwrap();
    assert_eq!(
        ua.attrs["client_secret_trusted_ips"].to_wire(),
        serde_json::json!(["10.0.8.0/24", "10.0.9.21/32"])
    );
    let p = load(&format!("{base}    infisical_identity: no-ua\n")).unwrap_err();
    assert!(
        p.iter()
            .any(|m| m.contains("does not declare with `universal_auth`")),
        "{p:?}"
    );
    let p = load(&format!(
        "{base}    infisical_identity: agent-runner\n    infisical_client_secret: {{ num_uses_limit: 0 }}\n"
    ))
    .unwrap_err();
    assert!(
        p.iter()
            .any(|m| m.contains("`num_uses_limit` must be a whole number from 1")),
        "{p:?}"
    );
}

#[test]
fn references_to_other_servers() {
    let text = format!(
        "{HEAD}  projects:
    homelab-apps:
      environments: {{ prod: {{ name: P }} }}
      secrets:
        prod:
          /:
            SDK_SECRET: keycloak:aegis-system/aegis-sdk#secret
            COPY: infisical:other-project/prod/NAME
"
    );
    let p = load(&text).unwrap_err();
    assert!(
        p.iter().any(|m| m.contains(
            r#"keycloak[aegis-system].client["aegis-sdk"], which the topology does not declare"#
        )),
        "{p:?}"
    );
    let text = text.replace("keycloak:aegis-system/aegis-sdk#secret", "literal");
    let d = load(&text).expect("loads");
    let copy = d.resources.iter().find(|r| r.id.name == "COPY").unwrap();
    match &copy.attrs["value"] {
        AttrValue::Vault(v) => {
            assert_eq!(v.source, crate::model::RefSource::Infisical);
            assert_eq!(
                (v.path.as_str(), v.key.as_str()),
                ("other-project/prod", "NAME")
            );
        }
        other => panic!("{other:?}"),
    }
}

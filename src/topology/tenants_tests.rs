//! #[cfg(test)] The `tenants:` block expanded: each slug's namespace and realm with the
//! template's objects, placeholders filled in everywhere (names, policies, reference paths),
//! the pairing wired (the realm first; the keymaster into the tenant's namespace), and problems
//! at their line — once, not once per tenant.

use std::io::Write;

use crate::model::{AttrValue, Desired};
use crate::topology::{TopologyError, load_with_env};

fn load(text: &str, files: &[(&str, &str)]) -> Result<Desired, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let path = dir.path().join("t.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let env = |n: &str| match n {
        "KEYCLOAK_URL" => Some("http://127.0.0.1:8080".to_owned()),
        "KC_ADMIN" => Some("admin".to_owned()),
        "KC_PASSWORD" => Some("canary-admin-password".to_owned()),
        "SECRET_acme" => Some("canary-acme".to_owned()),
        "SECRET_beta" => Some("canary-beta".to_owned()),
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

const KEYCLOAK: &str = "keycloak:
  url: env:KEYCLOAK_URL
  admin: { username: env:KC_ADMIN, password: env:KC_PASSWORD }
  client_secrets: { openbao_kv: \"secret/keycloak/{clientId}\" }
";

fn topology(slugs: &str) -> String {
    format!(
        "version: 1
{KEYCLOAK}tenants:
  slugs: {slugs}
  openbao:
    secrets:
      secret:
        type: kv-v2
        kv:
          app/config: {{ owner: \"{{{{ slug }}}}\", token: \"env:SECRET_{{{{ slug }}}}\" }}
    policies:
      reader-{{{{ slug }}}}: |
        path \"secret/data/*\" {{ capabilities = [\"read\"] }}
    auth:
      jwt:
        type: jwt
        config:
          oidc_discovery_url: \"{{{{ keycloak_url }}}}/realms/{{{{ realm }}}}\"
  keycloak:
    enabled: true
    displayName: \"Tenant {{{{ slug }}}}\"
    clients:
      - clientId: vault
        publicClient: false
        serviceAccountsEnabled: true
"
    )
}

#[test]
fn each_slug_expands_into_its_namespace_and_realm() {
    let d = load(&topology("[acme, beta]"), &[]).expect("loads");
    let addrs: Vec<&str> = d.resources.iter().map(|r| r.address.0.as_str()).collect();
    for slug in ["acme", "beta"] {
        for want in [
            format!(r#"openbao[root].namespace["tenant-{slug}"]"#),
            format!(r#"openbao[tenant-{slug}].policy["reader-{slug}"]"#),
            format!(r#"openbao[tenant-{slug}].kv_secret["secret/app/config"]"#),
            format!(r#"keycloak[tenant-{slug}].realm["tenant-{slug}"]"#),
            format!(r#"keycloak[tenant-{slug}].client["vault"]"#),
            format!(r#"openbao[tenant-{slug}].kv_secret["secret/keycloak/vault"]"#),
        ] {
            assert!(addrs.contains(&want.as_str()), "{want} missing: {addrs:?}");
        }
    }
    let by = |a: &str| d.resources.iter().find(|r| r.address.0 == a).unwrap();
    let kv = by(r#"openbao[tenant-beta].kv_secret["secret/app/config"]"#);
    assert_eq!(kv.attrs["owner"].to_wire(), "beta");
    let realm = by(r#"keycloak[tenant-beta].realm["tenant-beta"]"#);
    assert_eq!(realm.attrs["displayName"].to_wire(), "Tenant beta");
    // The pairing: the auth config waits for the realm, whose discovery URL it names.
    let config = d
        .resources
        .iter()
        .find(|r| r.id.namespace == "tenant-acme" && r.attrs.contains_key("oidc_discovery_url"))
        .expect("the jwt config");
    assert_eq!(
        config.attrs["oidc_discovery_url"].to_wire(),
        "http://127.0.0.1:8080/realms/tenant-acme"
    );
    assert!(
        config
            .depends_on
            .iter()
            .any(|a| a.0 == r#"keycloak[tenant-acme].realm["tenant-acme"]"#),
        "{:?}",
        config.depends_on
    );
    // The keymaster of a tenant's realm writes into the tenant's namespace.
    let km = by(r#"openbao[tenant-acme].kv_secret["secret/keycloak/vault"]"#);
    assert!(matches!(km.attrs["client_secret"], AttrValue::Output(_)));
    let kc = d.keycloak.as_ref().unwrap();
    assert!(kc.realms.contains(&"tenant-beta".to_owned()));
}

#[test]
fn placeholders_reach_reference_paths() {
    let d = load(&topology("[acme, beta]"), &[]).expect("loads");
    let token = |ns: &str| {
        d.resources
            .iter()
            .find(|r| r.id.namespace == ns && r.id.kind == "kv_secret" && r.id.name == "app/config")
            .map(|r| r.attrs["token"].clone())
            .unwrap()
    };
    for (ns, want) in [
        ("tenant-acme", "canary-acme"),
        ("tenant-beta", "canary-beta"),
    ] {
        let t = token(ns);
        assert!(t.is_secret(), "a value from env: is sensitive");
        assert_eq!(
            t.to_wire(),
            want,
            "env:SECRET_{{{{ slug }}}} read per tenant"
        );
    }
    assert!(
        !format!("{d:?}").contains("canary"),
        "no secret in a Debug of the Desired phase"
    );
}

#[test]
fn bad_slugs_and_template_problems_are_reported_once_at_their_line() {
    let p = load(&topology("[acme, acme, Bad_Slug, -x]"), &[]).unwrap_err();
    assert!(
        p.iter()
            .any(|m| m.contains("the tenant `acme` is listed twice")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("`Bad_Slug` is not a tenant slug")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("`-x` is not a tenant slug")),
        "{p:?}"
    );
    let typo = topology("[acme, beta]").replace("    policies:", "    polices:");
    let p = load(&typo, &[]).unwrap_err();
    assert_eq!(p.len(), 1, "once, not per tenant: {p:?}");
    assert!(p[0].starts_with("14:5 unknown field `polices`"), "{p:?}");
}

#[test]
fn a_realm_template_file_and_its_realm_name() {
    let text = format!(
        "version: 1\n{KEYCLOAK}tenants:\n  slugs: [acme]\n  keycloak: file:tenant.yaml.j2\n"
    );
    let template = "realm: tenant-{{ slug }}\nenabled: true\ndisplayName: \"{{ slug }} corp\"\n";
    let d = load(&text, &[("tenant.yaml.j2", template)]).expect("loads");
    assert!(
        d.resources
            .iter()
            .any(|r| r.address.0 == r#"keycloak[tenant-acme].realm["tenant-acme"]"#)
    );
    let wrong = "realm: other\nenabled: true\n";
    let p = load(&text, &[("tenant.yaml.j2", wrong)]).unwrap_err();
    assert!(
        p.iter().any(|m| m.contains("this realm is `tenant-acme`")),
        "{p:?}"
    );
}

#[test]
fn tenant_names_must_be_free() {
    let text = format!(
        "version: 1\n{KEYCLOAK}openbao:\n  namespaces:\n    tenant-acme: {{}}\ntenants:\n  slugs: [acme]\n"
    );
    let p = load(&text, &[]).unwrap_err();
    assert!(
        p.iter()
            .any(|m| m.contains("which openbao.namespaces declares already")),
        "{p:?}"
    );
}

//! Tests of realm files (#[cfg(test)] only): references become secrets, an export's masked
//! secret and an unconverged part are refused at their line in the realm file, objects get
//! their parents and dependencies, and the keymaster plans one KV secret per confidential
//! client.

use std::io::Write;

use crate::model::{AttrValue, Backend, Desired};
use crate::topology::{TopologyError, load_with_env};

const TOPOLOGY: &str = "version: 1\nopenbao:\n  secrets:\n    kv: { type: kv-v2 }\nkeycloak:\n  url: http://127.0.0.1:8080\n  admin: { username: admin, password: env:KC_PW }\n  realms: [file:realm.yaml]\n  client_secrets:\n    openbao_kv: kv/kc/{realm}/{clientId}\n";

fn load(realm: &str) -> (tempfile::TempDir, Result<Desired, TopologyError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::File::create(dir.path().join("realm.yaml"))
        .unwrap()
        .write_all(realm.as_bytes())
        .unwrap();
    let topo = dir.path().join("t.yaml");
    std::fs::write(&topo, TOPOLOGY).unwrap();
    let env = |n: &str| match n {
        "KC_PW" => Some("canary-admin-pw".to_owned()),
        "WEB_SECRET" => Some("canary-web-secret".to_owned()),
        _ => None,
    };
    let loaded = load_with_env(&topo, &env);
    (dir, loaded)
}

fn problems(realm: &str) -> Vec<String> {
    match load(realm).1 {
        Err(TopologyError::Invalid(ps)) => ps
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{} {}",
                    p.file.rsplit('/').next().unwrap_or(""),
                    p.line,
                    p.column,
                    p.message
                )
            })
            .collect(),
        Err(e) => vec![e.to_string()],
        Ok(_) => vec![],
    }
}

const REALM: &str = "realm: acme\nenabled: true\nclients:\n  - clientId: web\n    secret: env:WEB_SECRET\n    protocolMappers:\n      - { name: aegis_role, protocolMapper: oidc-usermodel-client-role-mapper }\n  - clientId: spa\n    publicClient: true\n  - clientId: gen\nroles:\n  client:\n    web:\n      - name: \"aegis:admin\"\n";

#[test]
fn a_realm_file_becomes_objects_with_parents_dependencies_and_keymaster_secrets() {
    let (_dir, loaded) = load(REALM);
    let d = loaded.unwrap();
    let kc = d.keycloak.as_ref().expect("the keycloak connection");
    assert_eq!(kc.realms, vec!["acme".to_owned()]);
    let find = |a: &str| {
        d.resources
            .iter()
            .find(|r| r.address.0 == a)
            .unwrap_or_else(|| panic!("{a} missing"))
    };
    let web = find(r#"keycloak[acme].client["web"]"#);
    assert_eq!(web.id.backend, Backend::Keycloak);
    assert!(matches!(
        web.attrs.get("secret"),
        Some(AttrValue::Secret(_))
    ));
    assert_eq!(web.depends_on.len(), 1, "the realm");
    let role = find(r#"keycloak[acme].client_role["web/aegis:admin"]"#);
    assert_eq!(role.id.mount.as_deref(), Some("web"));
    assert!(role.depends_on.contains(&web.address));
    let mapper = find(r#"keycloak[acme].protocol_mapper["web/aegis_role"]"#);
    assert!(mapper.depends_on.contains(&web.address));
    // Keymaster: the declared secret is copied, the generated one is an output; a public
    // client has no secret to keep.
    let kv = find(r#"openbao[root].kv_secret["kv/kc/acme/web"]"#);
    assert!(matches!(
        kv.attrs.get("client_secret"),
        Some(AttrValue::Secret(_))
    ));
    assert!(kv.depends_on.contains(&web.address));
    let kv = find(r#"openbao[root].kv_secret["kv/kc/acme/gen"]"#);
    assert!(
        matches!(kv.attrs.get("client_secret"), Some(AttrValue::Output(o)) if o.name == "secret")
    );
    assert!(
        !d.resources
            .iter()
            .any(|r| r.address.0.contains("kc/acme/spa"))
    );
    let dump = format!("{d:?}");
    assert!(!dump.contains("canary"), "a secret in the Debug of Desired");
}

#[test]
fn masked_secrets_unconverged_parts_and_ordinary_users_are_refused_where_written() {
    let p = problems(
        "realm: acme\nclients:\n  - clientId: web\n    secret: \"**********\"\nauthenticationFlows: []\nusers:\n  - username: alice\n",
    );
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("realm.yaml:4:13 ") && l.contains("masks secrets")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("realm.yaml:5:")
                && l.contains("authenticationFlows: not converged")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("realm.yaml:7:") && l.contains("ordinary users")),
        "{p:?}"
    );
}

#[test]
fn a_missing_realm_file_or_reference_is_an_error_of_the_topology() {
    let p = problems("realm: acme\nclients:\n  - clientId: web\n    secret: env:NOT_SET\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("realm.yaml:4:13 ") && p[0].contains("NOT_SET"),
        "{p:?}"
    );
    let p = problems("realm: [unclosed\n");
    assert!(p.iter().any(|l| l.starts_with("realm.yaml:")), "{p:?}");
}

#[test]
fn a_keycloak_url_without_a_scheme_is_refused_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.yaml");
    std::fs::write(
        &topo,
        "version: 1\nkeycloak:\n  url: admin:canary-pw@keycloak.example\n  admin: { username: admin, password: x }\n",
    )
    .unwrap();
    let Err(TopologyError::Invalid(ps)) = load_with_env(&topo, &|_| None) else {
        panic!("a URL without a scheme must be refused");
    };
    assert_eq!(ps.len(), 1);
    assert_eq!((ps[0].line, ps[0].column), (3, 8));
    assert!(ps[0].message.contains("https://") && !ps[0].message.contains("canary"));
}

#[test]
fn names_that_a_url_would_rewrite_are_refused_before_any_request() {
    let p = problems(
        "realm: acme\nclients:\n  - clientId: \"..\"\nroles:\n  realm:\n    - name: \".\"\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("realm.yaml:3:") && l.contains("the client `..`")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("realm.yaml:6:") && l.contains("the realm_role `.`")),
        "{p:?}"
    );
    let p = problems("realm: \"..\"\n");
    assert!(p.iter().any(|l| l.contains("the realm `..`")), "{p:?}");
    // A colon, a space or a slash is data, encoded: fine.
    assert!(
        problems("realm: acme\nroles:\n  realm:\n    - name: \"team/ops:reader x\"\n").is_empty()
    );
}

#[test]
fn a_literal_client_secret_never_reaches_an_error_snippet() {
    let realm = "{\n  \"realm\": \"acme\",\n  \"clients\": [{ \"clientId\": \"web\",\n    \"secret\": \"canary-literal-secret\",\n    \"bogus\": \"**********\" }],\n  \"identityProviders\": [{ \"alias\": \"x\", \"config\": { \"clientSecret\": \"canary-idp\" } }],\n  \"components\": {}\n}\n";
    let (_dir, loaded) = load(realm);
    let Err(TopologyError::Invalid(ps)) = loaded else {
        panic!("the masked secret and components must be refused");
    };
    assert!(!ps.is_empty());
    for p in &ps {
        let text = format!("{} {:?}", p.src.inner(), p);
        assert!(!text.contains("canary"), "a secret in a snippet: {text}");
    }
}

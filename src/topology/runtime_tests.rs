//! #[cfg(test)] The `runtime:` block: shape checked by every load without its variables,
//! resolved for one profile with them, and refused — at its line — when it is wrong.

use std::io::Write;

use crate::runtime::profile::{Login, Reference};
use crate::topology::{TopologyError, load_with_env};

const BLOCK: &str = "version: 1
openbao:
  secrets:
    kv: { type: kv-v2 }
    ns-kv: { type: kv, options: { version: \"2\" } }
  namespaces:
    team:
      secrets:
        inner: { type: kv-v2 }
runtime:
  login:
    approle: runner
    role_id: env:RT_ROLE_ID
    secret_id: file:secret-id
  scopes: { mount: scoped }
  profiles:
    web:
      namespace: team
      env:
        KEY: vault:inner/tools/key#value
        DB_USER: lease:database/creds/agent#username
        DB: lease:database/creds/agent
        FROM_ENV: env:HOST_VALUE
        LEVEL: debug
        APP: infisical:apps/prod/folder/NAME
";

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("t.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn problems(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    match load_with_env(&write(dir.path(), text), &|_| None) {
        Err(TopologyError::Invalid(ps)) => ps
            .iter()
            .map(|p| format!("{}:{} {}", p.line, p.column, p.message))
            .collect(),
        Err(e) => vec![e.to_string()],
        Ok(_) => vec![],
    }
}

#[test]
fn validate_checks_the_shape_without_the_runtime_hosts_variables() {
    // No RT_ROLE_ID, no secret-id file, no HOST_VALUE, no infisical block: all fine for plan.
    assert_eq!(problems(BLOCK), Vec::<String>::new());
}

#[test]
fn a_typo_a_bad_name_and_a_malformed_reference_are_refused_at_their_lines() {
    let typo = problems("version: 1\nruntime:\n  profiles:\n    p:\n      envv: {}\n");
    assert!(typo[0].starts_with("5:7 unknown field `envv`"), "{typo:?}");
    let text = "version: 1
runtime:
  profiles:
    q:
      env:
        1BAD: x
        BAO_TOKEN: env:X
        L: lease:nopath
        K: keycloak:r/c#secret
        V: vault:kv/x
";
    let p = problems(text);
    assert!(
        p.iter()
            .any(|m| m.contains("`1BAD` is not an environment variable name")),
        "{p:?}"
    );
    assert!(
        p.iter().any(
            |m| m.contains("`BAO_TOKEN` is a variable aegisctl takes its own credentials from")
        ) || p.len() >= 4,
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("8:12 `runtime.profiles.q.env.L` has a malformed reference")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.starts_with("9:12 ")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("10:12 ")), "{p:?}");
}

#[test]
fn a_login_with_both_a_token_and_approle_is_refused() {
    let p = problems(
        "version: 1\nruntime:\n  login:\n    token: env:T\n    role_id: env:R\n    secret_id: env:S\n",
    );
    assert!(
        p.iter().any(|m| m.contains("both a token and AppRole")),
        "{p:?}"
    );
}

#[test]
fn one_profile_resolves_with_its_variables_and_withholds_the_logins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret-id"), "sid-from-file\n").unwrap();
    let path = write(
        dir.path(),
        &BLOCK.replace("        APP: infisical:apps/prod/folder/NAME\n", ""),
    );
    let env = |n: &str| match n {
        "RT_ROLE_ID" => Some("rid".to_owned()),
        "HOST_VALUE" => Some("host-value".to_owned()),
        _ => None,
    };
    let (raw, src, _) = crate::topology::read(&path, &env).unwrap();
    let spec =
        crate::topology::resolve::resolve_runtime(&raw, &path, &src, &env, "web", None).unwrap();
    match &spec.login {
        Login::AppRole {
            mount,
            role_id,
            secret_id,
            ..
        } => {
            assert_eq!(mount, "approle");
            assert_eq!(role_id.expose(), "rid");
            assert_eq!(secret_id.expose(), "sid-from-file");
        }
        other => panic!("{other:?}"),
    }
    assert!(spec.own_vars.contains("RT_ROLE_ID"));
    assert_eq!(spec.profile.namespace, "team");
    assert_eq!(
        spec.kv_mounts.get("").unwrap(),
        &vec!["kv".to_owned(), "ns-kv".to_owned()]
    );
    assert_eq!(
        spec.kv_mounts.get("team").unwrap(),
        &vec!["inner".to_owned()]
    );
    let by = |n: &str| spec.profile.entries.iter().find(|e| e.name == n).unwrap();
    assert_eq!(
        by("FROM_ENV").value.as_ref().unwrap().expose(),
        "host-value"
    );
    assert_eq!(by("FROM_ENV").source, "env:HOST_VALUE");
    assert_eq!(by("LEVEL").source, "literal");
    assert_eq!(
        by("DB").reference,
        Reference::Lease {
            path: "database/creds/agent".into(),
            field: None
        }
    );
    assert_eq!(spec.audit.mount, "aegisctl");
    assert_eq!(spec.audit.prefix, "runtime-audit");
    assert!(spec.audit.file.ends_with("runtime-audit.jsonl"));
    // --namespace overrides the profile's.
    let spec =
        crate::topology::resolve::resolve_runtime(&raw, &path, &src, &env, "web", Some("/other/"))
            .unwrap();
    assert_eq!(spec.profile.namespace, "other");
    // A missing variable is reported at its line; an unknown profile names the known ones.
    let none = |_: &str| None;
    let err = crate::topology::resolve::resolve_runtime(&raw, &path, &src, &none, "web", None)
        .unwrap_err();
    assert!(
        err.iter()
            .any(|p| p.line == 13 && p.message.contains("RT_ROLE_ID")),
        "{err:?}"
    );
    let err = crate::topology::resolve::resolve_runtime(&raw, &path, &src, &env, "nope", None)
        .unwrap_err();
    assert!(
        err.iter()
            .any(|p| p.help.as_deref() == Some("profiles declared: web")),
        "{err:?}"
    );
}

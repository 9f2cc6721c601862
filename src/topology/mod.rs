//! Loading a topology file: parse (spans kept, unknown keys refused) → resolve → Desired.
//!
//! The public entry point is [`load`]; `aegisctl validate` is exactly this function and nothing
//! more, which is why it can promise to send no request.
//!
//! The YAML parser works within a resource budget ([`budget`]): up to 10,000,000 nodes (twice
//! as many parser events) and 256 MiB, while alias bombs stay refused. A larger topology sets
//! `AEGISCTL_YAML_MAX_NODES` (read like `env:` references, through the supplied environment) to
//! raise the node and event limits; a refusal names the limit, its value and that variable.

pub mod budget;
pub mod cycles;
pub mod error;
mod hosts;
mod infisical;
mod infisical_hosts;
mod infisical_identities;
mod keycloak;
mod mounts;
pub mod node;
mod openbao;
mod outputs;
mod parse_message;
mod policies;
pub mod raw;
pub mod raw_infisical;
pub mod raw_runtime;
mod realm_file;
pub mod realm_split;
pub mod redact;
mod refs;
pub mod resolve;
mod runtime;
mod runtime_login;
mod tenants;

use std::path::Path;
use std::sync::Arc;

pub use error::{Problem, Source, TopologyError};
use node::Loc;
use parse_message::{clean_message, hint_for, is_syntax_error, line_col_offset, unclosed_bracket};
use raw::RawTopology;

use crate::model::Desired;

/// Reads, parses and resolves a topology file, with the process environment for `env:`.
pub fn load(path: &Path) -> Result<Desired, TopologyError> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// As [`load`], with the environment supplied (tests use this to avoid global state).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, TopologyError> {
    let (raw, src, text) = read(path, env)?;
    resolve::resolve(&raw, path, &src, &text, env).map_err(TopologyError::Invalid)
}

/// Reads a topology file for its connection settings only (OpenBao address, token, CA, ledger,
/// identity): what `unlock` and `bootstrap --list/--revoke` need, without resolving the rest.
pub fn load_connection(path: &Path) -> Result<Desired, TopologyError> {
    let env = |name: &str| std::env::var(name).ok();
    let (raw, src, _) = read(path, &env)?;
    resolve::resolve_connection(&raw, path, &src, &env).map_err(TopologyError::Invalid)
}

/// Reads a topology file for `aegisctl audit TOPOLOGY`: the connection and where the runtime's
/// audit documents are.
pub fn load_runtime_audit(
    path: &Path,
) -> Result<(Desired, crate::runtime::profile::AuditTarget), TopologyError> {
    let env = |name: &str| std::env::var(name).ok();
    let (raw, src, _) = read(path, &env)?;
    resolve::resolve_runtime_audit(&raw, path, &src, &env).map_err(TopologyError::Invalid)
}

/// Reads a topology file for `aegisctl run` / `aegisctl env`: the connection, the runtime login
/// and one profile (`namespace` from `--namespace` overrides the profile's).
pub fn load_runtime(
    path: &Path,
    profile: &str,
    namespace: Option<&str>,
) -> Result<crate::runtime::profile::RuntimeSpec, TopologyError> {
    let env = |name: &str| std::env::var(name).ok();
    let (raw, src, _) = read(path, &env)?;
    resolve::resolve_runtime(&raw, path, &src, &env, profile, namespace)
        .map_err(TopologyError::Invalid)
}

/// Reads and parses a topology file; the source kept for diagnostics has its literal secret
/// values masked, since snippets quote the file.
fn read(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RawTopology, Source, String), TopologyError> {
    let text = std::fs::read_to_string(path).map_err(|e| TopologyError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let src = Source {
        name: path.display().to_string(),
        text: Arc::new(redact::redact(&text)),
    };
    let raw = parse(&text, &src, env)?;
    // The text itself goes on only to re-read the tenants' templates (see tenants.rs), never
    // into a diagnostic: those quote `src`.
    Ok((raw, src, text))
}

fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<T, TopologyError> {
    let limits = budget::Limits::from_env(env).map_err(|value| TopologyError::BadLimit {
        var: budget::MAX_NODES_VAR,
        value,
    })?;
    let start = Loc {
        line: 1,
        column: 1,
        offset: 0,
        len: 1,
    };
    // serde-saphyr checks the input size of readers only; a string is checked here.
    if text.len() > budget::MAX_BYTES {
        let message = format!(
            "the file is {} bytes, more than the {} bytes (256 MiB) a topology may hold",
            text.len(),
            budget::MAX_BYTES
        );
        let help =
            Some("split the topology, or move large values out with `file:` references".into());
        return Err(TopologyError::Invalid(vec![
            src.problem(start, message, help),
        ]));
    }
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only: `no` or `on` stay strings, as OpenBao would read them.
    options.strict_booleans = true;
    options.with_snippet = false;
    limits.apply(&mut options);
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let mut loc = e
            .location()
            .map(|l| Loc {
                line: l.line(),
                column: l.column(),
                offset: line_col_offset(text, l.line(), l.column()),
                len: 1,
            })
            .unwrap_or(start);
        // A resource limit: our own words (the library's are a Debug dump), and how to raise it.
        if let Some((message, help)) = limits.explain(&e) {
            return TopologyError::Invalid(vec![src.problem(loc, message, Some(help))]);
        }
        let mut message = clean_message(&e.without_snippet().to_string());
        // A flow collection left open makes the parser trip somewhere later; point at the opener.
        if is_syntax_error(&message)
            && let Some(open) = unclosed_bracket(text, loc.offset)
        {
            message = format!(
                "unclosed bracket `{}` (the YAML parser then failed further on: {message})",
                open.1
            );
            loc = open.0;
        }
        let help = hint_for(&message);
        TopologyError::Invalid(vec![src.problem(loc, message, help)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_str(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Desired, TopologyError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        load_with_env(&path, env)
    }

    fn problems(text: &str) -> Vec<String> {
        match load_str(text, &|_| None) {
            Err(TopologyError::Invalid(ps)) => ps
                .iter()
                .map(|p| format!("{}:{} {}", p.line, p.column, p.message))
                .collect(),
            Err(e) => vec![e.to_string()],
            Ok(_) => vec![],
        }
    }

    #[test]
    fn unknown_key_is_refused_with_position() {
        let p = problems("version: 1\nopenbao:\n  polices: {}\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("3:3 unknown field `polices`"), "{p:?}");
    }

    #[test]
    fn bad_duration_points_at_the_value() {
        let p = problems(
            "version: 1\nopenbao:\n  auth:\n    approle:\n      roles:\n        r: { token_ttl: 1x }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("6:25 `token_ttl` is not a valid duration"),
            "{p:?}"
        );
    }

    #[test]
    fn undeclared_policy_is_refused_but_builtins_and_externals_pass() {
        let p = problems(
            "version: 1\nopenbao:\n  policies:\n    ext: { external: true }\n  auth:\n    approle:\n      roles:\n        r: { token_policies: [default, ext, nope] }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("`nope`"), "{p:?}");
    }

    #[test]
    fn env_values_are_secret_and_missing_ones_are_errors() {
        let d = load_str(
            "version: 1\nopenbao:\n  secrets:\n    kv:\n      type: kv-v2\n      kv:\n        a/b: { k: env:CANARY }\n",
            &|n| (n == "CANARY").then(|| "s3cr3t".to_string()),
        )
        .unwrap();
        let kv = d
            .resources
            .iter()
            .find(|r| r.id.kind == "kv_secret")
            .unwrap();
        assert!(kv.attrs["k"].is_secret());
        assert!(!format!("{:?}", d).contains("s3cr3t"));
        let p = problems(
            "version: 1\nopenbao:\n  secrets:\n    kv:\n      type: kv-v2\n      kv:\n        a/b: { k: env:NOPE_NOT_SET }\n",
        );
        assert!(p[0].contains("NOPE_NOT_SET"), "{p:?}");
    }

    /// What serde-saphyr really says for values of the wrong type carries no value.
    #[test]
    fn parser_messages_carry_no_value_from_the_file() {
        for text in [
            "version: \"hunter2\"\n",
            "version: 1\nhosts:\n  h: { kind: lxc, approle: r, cidr: 10.0.0.1/32, external: hunter2 }\n",
            "version: 1\nopenbao:\n  policies: hunter2\n",
        ] {
            let p = problems(text);
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(!p[0].contains("hunter2"), "{p:?}");
        }
    }

    #[test]
    fn yaml_1_2_booleans() {
        let d = load_str(
            "version: 1\nopenbao:\n  auth:\n    approle:\n      roles:\n        r: { x: no }\n",
            &|_| None,
        )
        .unwrap();
        let role = d
            .resources
            .iter()
            .find(|r| r.id.kind == "approle_role")
            .unwrap();
        assert_eq!(role.plain_str("x"), Some("no"));
    }
}

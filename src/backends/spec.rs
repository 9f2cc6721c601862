//! What a kind declares about itself without a connection: where the topology declares it, the
//! kind it lives in, and the rules for its fields — which are secret even when written
//! literally, which the server answers only redacted, which lists keep their order, which hold
//! durations. Resolve reads it (offline: what becomes sensitive, what must parse as a duration),
//! the differ (ordered or set-like lists, redacted fields), and import (durations written as
//! such); the renderers show what resolve marked sensitive.
//!
//! OpenBao's kinds share one rule set: OpenBao names its fields by habit (`*_ttl` is a duration,
//! `password` a secret), which is what the rules say. Keycloak's kinds each declare theirs.

use crate::duration::is_duration_field;
use crate::plan::normalise::ordered_list;

/// A set of fields: none, some by name, or those a naming rule picks.
#[derive(Clone, Copy)]
pub enum Fields {
    None,
    Named(&'static [&'static str]),
    Rule(fn(&str) -> bool),
}

impl Fields {
    pub fn has(&self, field: &str) -> bool {
        match self {
            Fields::None => false,
            Fields::Named(names) => names.contains(&field),
            Fields::Rule(rule) => rule(field),
        }
    }
}

/// One kind's declared facts.
#[derive(Clone, Copy)]
pub struct KindSpec {
    /// Where the topology declares objects of this kind (`openbao`, a realm file's `clients[]`).
    pub block: &'static str,
    /// The kind of the object this one lives in (and is deleted with), if any.
    pub parent: Option<&'static str>,
    /// Fields whose values are secrets even when written literally.
    pub secret: Fields,
    /// Fields the server answers only redacted: compared through their fingerprint.
    pub write_only: Fields,
    /// List fields whose order matters; every other list compares as a set.
    pub ordered: Fields,
    /// Fields holding durations: `90s` and `1h` compare equal to the server's seconds.
    pub durations: Fields,
}

/// The fields OpenBao treats as secrets.
pub const OPENBAO_SECRETS: &[&str] = &[
    "password",
    "secret_key",
    "oidc_client_secret",
    "client_secret",
];

/// OpenBao's kinds: its naming habits.
pub static OPENBAO: KindSpec = KindSpec {
    block: "openbao",
    parent: None,
    secret: Fields::Named(OPENBAO_SECRETS),
    write_only: Fields::None,
    ordered: Fields::Rule(ordered_list),
    durations: Fields::Rule(is_duration_field),
};

/// A Keycloak kind declared in a realm file's `block`, inside a `parent`, with `secret` fields:
/// Keycloak's lists are sets, and its durations are plain seconds.
pub const fn keycloak(
    block: &'static str,
    parent: Option<&'static str>,
    secret: &'static [&'static str],
) -> KindSpec {
    KindSpec {
        block,
        parent,
        secret: Fields::Named(secret),
        write_only: Fields::None,
        ordered: Fields::None,
        durations: Fields::None,
    }
}

/// An Infisical kind declared in the topology's `block`, inside a `parent`, with `secret`
/// fields and fields holding `durations` (the file may write `1h`, the server answers seconds):
/// Infisical's lists are sets.
pub const fn infisical(
    block: &'static str,
    parent: Option<&'static str>,
    secret: &'static [&'static str],
    durations: &'static [&'static str],
) -> KindSpec {
    KindSpec {
        block,
        parent,
        secret: Fields::Named(secret),
        write_only: Fields::None,
        ordered: Fields::None,
        durations: Fields::Named(durations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_name_and_by_rule() {
        assert!(OPENBAO.durations.has("token_ttl") && OPENBAO.durations.has("tune.max_lease_ttl"));
        assert!(!OPENBAO.durations.has("token_policies"));
        assert!(OPENBAO.secret.has("password") && !OPENBAO.secret.has("username"));
        assert!(
            OPENBAO.ordered.has("creation_statements") && !OPENBAO.ordered.has("token_policies")
        );
        let client = keycloak("clients[]", Some("realm"), &["secret"]);
        assert!(client.secret.has("secret") && !client.durations.has("accessTokenLifespan"));
        assert!(!client.ordered.has("redirectUris"));
    }
}

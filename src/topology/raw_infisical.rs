//! The `infisical:` block as written: how to reach Infisical, the projects (environments,
//! folders, secrets) and the organization's machine identities (Universal Auth, project
//! memberships), and a host's Infisical client secret.
//!
//! Unlike OpenBao's and Keycloak's bodies, these fields are aegisctl's own names (Infisical's API
//! names change between its generations), so every level denies unknown fields: a typo such as
//! `acess_token_ttl` is an error at its line, never a silently unmanaged field.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::node::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfisical {
    /// The server's base URL (without `/api`).
    pub url: Node,
    /// The tool's own Universal Auth identity.
    pub auth: Spanned<RawInfisicalAuth>,
    /// The organization's id.
    pub organization: Node,
    pub ca_cert: Option<Node>,
    /// Projects by slug.
    #[serde(default)]
    pub projects: BTreeMap<String, Spanned<RawProject>>,
    /// Organization machine identities by name.
    #[serde(default)]
    pub identities: BTreeMap<String, Spanned<RawIdentity>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfisicalAuth {
    pub client_id: Node,
    pub client_secret: Node,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    pub name: Option<Node>,
    pub description: Option<Node>,
    pub auto_capitalization: Option<Node>,
    pub has_delete_protection: Option<Node>,
    /// Environments by slug.
    #[serde(default)]
    pub environments: BTreeMap<String, Spanned<RawEnvironment>>,
    /// Folders to keep even without secrets: environment → paths (`/app/db`).
    #[serde(default)]
    pub folders: BTreeMap<String, Vec<Node>>,
    /// Secrets: environment → folder path (`/`, `/app/db`) → name → value.
    #[serde(default)]
    pub secrets: BTreeMap<String, BTreeMap<String, Spanned<BTreeMap<String, Node>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub name: Option<Node>,
    pub position: Option<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// The organization role (`admin`, `member`, `no-access`, or a custom role's slug).
    pub role: Option<Node>,
    pub has_delete_protection: Option<Node>,
    pub universal_auth: Option<Spanned<RawUniversalAuth>>,
    /// Project memberships: project slug → role (or a list of roles).
    #[serde(default)]
    pub projects: BTreeMap<String, Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniversalAuth {
    pub access_token_ttl: Option<Node>,
    pub access_token_max_ttl: Option<Node>,
    pub access_token_period: Option<Node>,
    pub access_token_num_uses_limit: Option<Node>,
    pub client_secret_trusted_ips: Option<Node>,
    pub access_token_trusted_ips: Option<Node>,
    pub lockout_enabled: Option<Node>,
    pub lockout_threshold: Option<Node>,
    pub lockout_duration_seconds: Option<Node>,
    pub lockout_counter_reset_seconds: Option<Node>,
}

impl RawUniversalAuth {
    /// Every field with its name, as the `universal_auth` kind names its attributes.
    pub fn fields(&self) -> [(&'static str, &Option<Node>); 10] {
        [
            ("access_token_ttl", &self.access_token_ttl),
            ("access_token_max_ttl", &self.access_token_max_ttl),
            ("access_token_period", &self.access_token_period),
            (
                "access_token_num_uses_limit",
                &self.access_token_num_uses_limit,
            ),
            ("client_secret_trusted_ips", &self.client_secret_trusted_ips),
            ("access_token_trusted_ips", &self.access_token_trusted_ips),
            ("lockout_enabled", &self.lockout_enabled),
            ("lockout_threshold", &self.lockout_threshold),
            ("lockout_duration_seconds", &self.lockout_duration_seconds),
            (
                "lockout_counter_reset_seconds",
                &self.lockout_counter_reset_seconds,
            ),
        ]
    }
}

/// A host's Infisical client secret: how long it lives, how many logins it allows, and which
/// addresses may use it (default: the host's CIDR).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostClientSecret {
    pub ttl: Option<Node>,
    pub num_uses_limit: Option<Node>,
    pub trusted_ips: Option<Node>,
}

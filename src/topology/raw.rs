//! The topology file as written: serde structs that mirror spec/topology.md.
//!
//! Every level the tool owns denies unknown fields, because a typo such as `polices:` would
//! otherwise parse as "no policies" and, with `--prune`, delete them all. Below a resource the
//! server's own field names pass through as [`Node`]s, with their positions kept.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::node::Node;

/// A resource body: the server's field names and their values, passed through.
pub type Body = BTreeMap<String, Node>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    pub version: Spanned<u32>,
    /// The topology's identity in the ledger (default: the file's stem).
    pub name: Option<Node>,
    pub openbao: Option<Spanned<RawOpenBao>>,
    pub keycloak: Option<Spanned<RawKeycloak>>,
    pub infisical: Option<Spanned<super::raw_infisical::RawInfisical>>,
    pub tenants: Option<Spanned<RawTenants>>,
    /// What `aegisctl bootstrap` renders for.
    #[serde(default)]
    pub hosts: BTreeMap<String, RawHost>,
    /// What `aegisctl run` and `aegisctl env` resolve.
    pub runtime: Option<Spanned<super::raw_runtime::RawRuntime>>,
}

/// The `tenants:` block: the slugs, and the two templates each slug expands (see
/// `topology/tenants.rs`). The bodies stay nodes here: they are re-read per tenant, with
/// `{{ slug }}` filled in, as a namespace body and a realm representation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenants {
    pub slugs: Node,
    pub openbao: Option<Node>,
    pub keycloak: Option<Node>,
    /// Where each tenant realm's client secrets go in its own namespace (`MOUNT/PATH` with
    /// `{clientId}`); by default `keycloak.client_secrets.openbao_kv`.
    pub client_secrets: Option<Spanned<RawClientSecrets>>,
}

/// The `keycloak:` block: how to reach Keycloak's admin API, the realm files, and where the
/// confidential clients' secrets go in OpenBao.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeycloak {
    pub url: Node,
    pub admin: Spanned<RawKeycloakAdmin>,
    pub ca_cert: Option<Node>,
    #[serde(default)]
    pub realms: Vec<Node>,
    pub client_secrets: Option<Spanned<RawClientSecrets>>,
}

/// The admin login: a password grant on `client_id` (default `admin-cli`) with
/// `username`/`password`, or client credentials with `client_secret`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeycloakAdmin {
    pub realm: Option<Node>,
    pub client_id: Option<Node>,
    pub username: Option<Node>,
    pub password: Option<Node>,
    pub client_secret: Option<Node>,
}

/// The keymaster: every confidential client's secret is written to OpenBao KV.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientSecrets {
    /// `MOUNT/PATH` with `{realm}` and `{clientId}`.
    pub openbao_kv: Node,
    pub namespace: Option<Node>,
}

/// A host that gets a bootstrap (cloud-init user-data or a launcher env file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// `lxc` (cloud-init user-data) or `agent` (launcher env file).
    pub kind: Node,
    /// The AppRole role to mint a wrapped SecretID for: `ROLE` (under `auth/approle`) or `MOUNT/ROLE`.
    pub approle: Node,
    pub namespace: Option<Node>,
    /// Binds the SecretID and the tokens it logs in to: one CIDR or a list.
    pub cidr: Node,
    pub wrap_ttl: Option<Node>,
    pub template: Option<Node>,
    /// An Infisical machine identity to mint a Universal Auth client secret for, beside the
    /// SecretID.
    pub infisical_identity: Option<Node>,
    /// How that client secret is minted (TTL, use limit, trusted IPs).
    pub infisical_client_secret: Option<Spanned<super::raw_infisical::RawHostClientSecret>>,
    /// The AppRole role is managed elsewhere: do not require the topology to declare it.
    #[serde(default)]
    pub external: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpenBao {
    pub address: Option<Node>,
    pub token: Option<Node>,
    pub ca_cert: Option<Node>,
    pub ledger: Option<Node>,
    #[serde(default)]
    pub policies: BTreeMap<String, Node>,
    #[serde(default)]
    pub auth: BTreeMap<String, Spanned<RawAuthMount>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<RawSecretsMount>>,
    pub plugins: Option<Node>,
    #[serde(default)]
    pub namespaces: BTreeMap<String, Spanned<RawNamespace>>,
    /// Audit devices: path → `type`, `description`, `local`, `options`.
    #[serde(default)]
    pub audit: BTreeMap<String, Spanned<RawAuditDevice>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditDevice {
    #[serde(rename = "type")]
    pub kind: Node,
    pub description: Option<Node>,
    pub local: Option<Node>,
    pub options: Option<Spanned<Body>>,
}

/// A namespace: the same blocks as the root, recursively.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamespace {
    pub custom_metadata: Option<Spanned<Body>>,
    #[serde(default)]
    pub policies: BTreeMap<String, Node>,
    #[serde(default)]
    pub auth: BTreeMap<String, Spanned<RawAuthMount>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<RawSecretsMount>>,
    #[serde(default)]
    pub namespaces: BTreeMap<String, Spanned<RawNamespace>>,
}

/// The blocks a namespace (or the root) holds, borrowed from either.
pub struct Blocks<'a> {
    pub policies: &'a BTreeMap<String, Node>,
    pub auth: &'a BTreeMap<String, Spanned<RawAuthMount>>,
    pub secrets: &'a BTreeMap<String, Spanned<RawSecretsMount>>,
    pub namespaces: &'a BTreeMap<String, Spanned<RawNamespace>>,
}

impl RawOpenBao {
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            policies: &self.policies,
            auth: &self.auth,
            secrets: &self.secrets,
            namespaces: &self.namespaces,
        }
    }
}

impl RawNamespace {
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            policies: &self.policies,
            auth: &self.auth,
            secrets: &self.secrets,
            namespaces: &self.namespaces,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthMount {
    #[serde(rename = "type")]
    pub kind: Option<Node>,
    pub description: Option<Node>,
    pub tune: Option<Spanned<Body>>,
    #[serde(default)]
    pub roles: BTreeMap<String, Spanned<Body>>,
    /// The auth method's own config (`auth/MOUNT/config`), e.g. for jwt/oidc.
    pub config: Option<Spanned<Body>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecretsMount {
    #[serde(rename = "type")]
    pub kind: Option<Node>,
    pub description: Option<Node>,
    pub options: Option<Spanned<Body>>,
    pub tune: Option<Spanned<Body>>,
    /// KV secrets to seed (kv-v2 or kv v1 mounts): path → {key: value}.
    #[serde(default)]
    pub kv: BTreeMap<String, Spanned<Body>>,
    /// KV v2 metadata: path → `max_versions`, `cas_required`, `delete_version_after`,
    /// `custom_metadata`.
    #[serde(default)]
    pub kv_metadata: BTreeMap<String, Spanned<Body>>,
    /// Transit keys: name → key settings.
    #[serde(default)]
    pub keys: BTreeMap<String, Spanned<Body>>,
    /// Database engine connections.
    #[serde(default)]
    pub connections: BTreeMap<String, Spanned<Body>>,
    /// Database or AWS engine roles.
    #[serde(default)]
    pub roles: BTreeMap<String, Spanned<Body>>,
    /// Database engine static roles.
    #[serde(default)]
    pub static_roles: BTreeMap<String, Spanned<Body>>,
    /// Engine config objects (AWS: `root`, `lease`).
    pub config: Option<Spanned<BTreeMap<String, Spanned<Body>>>>,
}

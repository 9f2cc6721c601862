//! The `runtime:` block as written (spec/topology.md): how the resolving host logs in, the
//! scopes mount, where audit records go, and the profiles. Strict like every level the tool
//! owns: a misspelt key is an error at its line, never a silently empty profile.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::node::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    pub login: Option<Spanned<RawLogin>>,
    pub scopes: Option<Spanned<RawScopes>>,
    pub audit: Option<Spanned<RawRuntimeAudit>>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Spanned<RawProfile>>,
}

/// AppRole (`approle` names the role, `role_id` and `secret_id` its credentials) or `token`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    pub approle: Option<Node>,
    /// The AppRole auth mount (default `approle`).
    pub mount: Option<Node>,
    pub role_id: Option<Node>,
    pub secret_id: Option<Node>,
    pub token: Option<Node>,
    /// The namespace the login happens in (where the auth mount is).
    pub namespace: Option<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScopes {
    pub mount: Node,
    pub namespace: Option<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntimeAudit {
    /// The local JSON-lines file (default `runtime-audit.jsonl` beside the topology).
    pub file: Option<Node>,
    /// `MOUNT/PREFIX` of the audit documents in OpenBao (default `LEDGER/runtime-audit`).
    pub openbao: Option<Node>,
    pub namespace: Option<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub namespace: Option<Node>,
    #[serde(default)]
    pub env: BTreeMap<String, Node>,
}

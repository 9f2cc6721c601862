//! What the topology's `runtime:` block gives the runtime: how to log in, where scoped secrets
//! and audit records live, and one profile's variables with their references.
//!
//! The topology loader builds these (`topology/runtime.rs`); `env:`, `file:`, `sops:` and literal
//! values are resolved there (errors located in the file), OpenBao and Infisical references here
//! at run time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::model::{InfisicalConn, OpenBaoConn};
use crate::sensitive::Sensitive;

/// Where a variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// A literal in the file, `env:`, `file:` or `sops:`: resolved while loading.
    Local,
    /// `vault:PATH#key`: a key of a KV secret (`PATH` starts with the mount).
    Vault { path: String, key: String },
    /// `lease:MOUNT/PATH[#field]`: a dynamic credential, one lease per path per run.
    Lease { path: String, field: Option<String> },
    /// `infisical:PROJECT/ENV/PATH/NAME`.
    Infisical {
        project: String,
        env: String,
        folder: String,
        name: String,
    },
}

/// One variable of a profile.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub reference: Reference,
    /// The reference as written (`vault:aegis-system/tools/x#value`, `env:NAME`, `literal`):
    /// what `--explain` and the audit record say. Never a value.
    pub source: String,
    /// The value, for [`Reference::Local`].
    pub value: Option<Sensitive<String>>,
    /// `FILE:LINE:COLUMN` of the entry, for errors.
    pub at: String,
}

/// A profile: one process's environment.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    /// The namespace its OpenBao references (and scopes) are read in; `""` is the root.
    pub namespace: String,
    pub entries: Vec<Entry>,
}

/// How the resolving host logs in to OpenBao.
#[derive(Clone, Debug)]
pub enum Login {
    /// AppRole: the token is aegisctl's own, renewed while the process runs and revoked after.
    AppRole {
        mount: String,
        role: Option<String>,
        role_id: Sensitive<String>,
        secret_id: Sensitive<String>,
        namespace: String,
    },
    /// A token given to aegisctl: renewed while the process runs, never revoked.
    Token {
        token: Sensitive<String>,
        namespace: String,
    },
}

/// The scopes mount (KV v2): `org/ORG`, `team/ORG/TEAM`, `workspace/ORG/TEAM/WS`.
#[derive(Clone, Debug)]
pub struct Scopes {
    pub mount: String,
    /// `None`: the profile's namespace.
    pub namespace: Option<String>,
}

/// Where each resolution is recorded.
#[derive(Clone, Debug)]
pub struct AuditTarget {
    /// The local JSON-lines file.
    pub file: PathBuf,
    /// The KV v2 mount and path prefix of the audit documents in OpenBao.
    pub mount: String,
    pub prefix: String,
    pub namespace: String,
}

/// Everything `run` and `env` need, from one topology file.
#[derive(Clone, Debug)]
pub struct RuntimeSpec {
    pub file: PathBuf,
    pub conn: OpenBaoConn,
    pub infisical: Option<InfisicalConn>,
    pub login: Login,
    pub scopes: Option<Scopes>,
    pub audit: AuditTarget,
    pub profile: Profile,
    /// KV v2 mounts the topology declares, per namespace: `vault:` paths are split at the
    /// longest of them without asking OpenBao.
    pub kv_mounts: BTreeMap<String, Vec<String>>,
    /// Environment variables aegisctl took its own credentials from: never passed to a child.
    pub own_vars: BTreeSet<String>,
}

/// Variables that carry credentials aegisctl itself may use: never passed to a child.
pub const CREDENTIAL_VARS: &[&str] = &[
    "BAO_TOKEN",
    "VAULT_TOKEN",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "AEGIS_ROLE_ID",
    "AEGIS_SECRET_ID",
    "AEGIS_WRAPPED_SECRET_ID",
];

/// Whether a child must not receive this variable (the fixed list, `SOPS_AGE_KEY*`, and the
/// variables the topology's login reads).
pub fn is_withheld(name: &str, own: &BTreeSet<String>) -> bool {
    CREDENTIAL_VARS.contains(&name) || name.starts_with("SOPS_AGE_KEY") || own.contains(name)
}

/// A valid environment variable name (POSIX: letters, digits, `_`, not starting with a digit).
pub fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

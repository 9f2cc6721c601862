//! The Desired phase: what the topology asks for, references resolved, secrets wrapped.
//!
//! A resource is an address, the identity the server knows it by, and the attributes the file
//! declares — and nothing else. "Only declared fields are managed" lives here: the differ only
//! ever looks at the keys of [`DesiredResource::attrs`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::backends::live::SecretJson;
use crate::backends::openbao::schema::FieldType;
use crate::sensitive::Sensitive;
use crate::topology::Source;
use crate::topology::node::Loc;

/// The namespace path of the OpenBao root namespace in ids; shown as `root` in addresses.
pub const ROOT_NS: &str = "";

/// Which server an object lives on.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    OpenBao,
    Keycloak,
    Infisical,
}

impl Backend {
    /// The word addresses start with (`openbao[root]...`, `keycloak[aegis-system]...`).
    pub fn word(self) -> &'static str {
        match self {
            Backend::OpenBao => "openbao",
            Backend::Keycloak => "keycloak",
            Backend::Infisical => "infisical",
        }
    }

    pub fn is_openbao(&self) -> bool {
        *self == Backend::OpenBao
    }
}

/// Where an object lives and what it is: the server-side identity of a resource. OpenBao ids
/// serialise exactly as before backends other than OpenBao existed (the ledger's fingerprints
/// and saved plans are keyed by them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct ResourceId {
    #[serde(default, skip_serializing_if = "Backend::is_openbao")]
    pub backend: Backend,
    /// The scope: the OpenBao namespace path (empty for root), the Keycloak realm, the
    /// Infisical project.
    pub namespace: String,
    /// The resource kind, e.g. `policy`, `approle_role`.
    pub kind: String,
    /// The mount the object lives under, for kinds that live under one.
    pub mount: Option<String>,
    /// The object's own name (a path for KV secrets).
    pub name: String,
}

impl ResourceId {
    /// An OpenBao object.
    pub fn new(namespace: &str, kind: &str, mount: Option<&str>, name: &str) -> Self {
        Self::on(Backend::OpenBao, namespace, kind, mount, name)
    }

    /// An object of any backend, in `scope` (namespace, realm or project).
    pub fn on(backend: Backend, scope: &str, kind: &str, mount: Option<&str>, name: &str) -> Self {
        ResourceId {
            backend,
            namespace: scope.to_owned(),
            kind: kind.to_owned(),
            mount: mount.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The ledger keeps one document (or a few) per scope: an OpenBao namespace is its own key
    /// (as it always was); another backend's scope is `/BACKEND/SCOPE`, which no namespace path
    /// can be (it would start with an empty segment), so realm `tenant-acme` and namespace
    /// `tenant-acme` never share a document.
    pub fn ledger_scope(&self) -> String {
        if self.backend.is_openbao() {
            self.namespace.clone()
        } else {
            format!("/{}/{}", self.backend.word(), self.namespace)
        }
    }

    /// The tenant this object belongs to (`acme` for anything in OpenBao namespace
    /// `tenant-acme` or below it, in Keycloak realm `tenant-acme`, or a namespace
    /// `tenant-acme` itself): tenants pair a realm and a namespace named `tenant-{slug}` (see
    /// `topology/tenants.rs`). Derived from the scope, so a deleted tenant's objects have it too.
    pub fn tenant(&self) -> Option<&str> {
        let scope = match self.backend {
            Backend::OpenBao if self.namespace.is_empty() && self.kind == "namespace" => {
                self.name.as_str()
            }
            Backend::OpenBao | Backend::Keycloak => self.namespace.as_str(),
            Backend::Infisical => return None,
        };
        let first = scope.split('/').next().unwrap_or(scope);
        first.strip_prefix("tenant-").filter(|s| !s.is_empty())
    }

    /// For a namespace resource: the namespace's own full path (`tenant-acme/team-x`).
    pub fn namespace_path(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }

    /// The user-facing address, e.g. `openbao[root].approle_role["approle/aegis-daemon"]`,
    /// `keycloak[aegis-system].client["aegis-orchestrator"]`.
    pub fn address(&self) -> Address {
        let scope = if self.namespace.is_empty() && self.backend.is_openbao() {
            "root"
        } else {
            self.namespace.as_str()
        };
        let name = match &self.mount {
            Some(m) => format!("{m}/{}", self.name),
            None => self.name.clone(),
        };
        Address(format!(
            "{}[{scope}].{}[\"{name}\"]",
            self.backend.word(),
            self.kind
        ))
    }
}

/// A resource's address as plans, drift reports, `--target` and JSON show it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub struct Address(pub String);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A declared attribute value: plain, a secret that must never be shown, or a `vault:`
/// reference still to be read from OpenBao (which turns it into a secret). A secret keeps its
/// JSON type: a KV value written `42` is the number 42, not the text "42".
#[derive(Clone, Debug)]
pub enum AttrValue {
    Plain(Value),
    Secret(Sensitive<SecretJson>),
    Vault(VaultRef),
    /// A value another object produces (a Keycloak client's generated secret), known once that
    /// object exists: read before planning, else "(known after apply)" and read at apply.
    Output(OutputRef),
}

/// Which object produces a value, and which of its outputs it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRef {
    pub producer: ResourceId,
    pub name: String,
}

/// A value read from a server at plan/apply time: `vault:MOUNT/PATH#key` (a key of a KV v2
/// secret already in OpenBao, in the namespace of the object that uses it) or
/// `infisical:PROJECT/ENV/PATH/NAME` (an Infisical secret; `path` is `PROJECT/ENV/PATH`, `key`
/// the secret's name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultRef {
    pub source: RefSource,
    pub path: String,
    pub key: String,
    /// `file:line:column` of the reference, for errors.
    pub at: String,
}

impl AttrValue {
    /// A secret text (from `env:`, `file:`, `sops:`, `vault:`, or a secret field).
    pub fn secret_text(text: String) -> AttrValue {
        AttrValue::Secret(Sensitive::new(SecretJson(Value::String(text))))
    }

    /// A secret of any JSON type (a literal KV value).
    pub fn secret_json(value: Value) -> AttrValue {
        AttrValue::Secret(Sensitive::new(SecretJson(value)))
    }

    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            AttrValue::Secret(_) | AttrValue::Vault(_) | AttrValue::Output(_)
        )
    }

    /// The value as it goes into a request body. Secrets are exposed here and only here. An
    /// unresolved `vault:` reference has no value (the commands resolve them before planning).
    pub fn to_wire(&self) -> Value {
        match self {
            AttrValue::Plain(v) => v.clone(),
            AttrValue::Secret(s) => s.expose().0.clone(),
            AttrValue::Vault(_) | AttrValue::Output(_) => Value::Null,
        }
    }
}

/// Which server a read-at-plan-time reference reads from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefSource {
    #[default]
    OpenBaoKv,
    Infisical,
}

/// One object the topology declares.
#[derive(Clone, Debug)]
pub struct DesiredResource {
    pub id: ResourceId,
    pub address: Address,
    /// Declared attributes, under the server's own field names.
    pub attrs: BTreeMap<String, AttrValue>,
    /// Addresses that must exist before this one (its mount, the policies it names).
    pub depends_on: Vec<Address>,
    /// Where the object is declared (its name), for errors found after loading.
    pub loc: Option<Loc>,
    /// The file `loc` points into when it is not the topology itself (a realm file).
    pub file: Option<Source>,
    /// Where each declared attribute's key is written.
    pub attr_locs: BTreeMap<String, Loc>,
    /// Each attribute's type, as the server's schema publishes it (filled in before planning;
    /// empty where no schema is known).
    pub types: BTreeMap<String, FieldType>,
}

impl DesiredResource {
    pub fn new(id: ResourceId, attrs: BTreeMap<String, AttrValue>) -> Self {
        let address = id.address();
        DesiredResource {
            id,
            address,
            attrs,
            depends_on: Vec::new(),
            loc: None,
            file: None,
            attr_locs: BTreeMap::new(),
            types: BTreeMap::new(),
        }
    }

    /// Where `field` is declared, else where the object is.
    pub fn loc_of(&self, field: &str) -> Option<Loc> {
        self.attr_locs.get(field).copied().or(self.loc)
    }

    /// A plain attribute as a string, if declared so.
    pub fn plain_str(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(AttrValue::Plain(serde_json::Value::String(s))) => Some(s),
            _ => None,
        }
    }
}

/// What a host's bootstrap renders as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    /// An LXC container: cloud-init user-data.
    Lxc,
    /// An agent container: a launcher env file.
    Agent,
}

/// A host `aegisctl bootstrap` mints a wrapped SecretID for.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub kind: HostKind,
    pub namespace: String,
    pub approle_mount: String,
    pub role: String,
    pub cidrs: Vec<String>,
    pub wrap_ttl: String,
    /// A template of the operator's, instead of the built-in one.
    pub template: Option<PathBuf>,
    /// An Infisical Universal Auth client secret to mint beside the SecretID.
    pub infisical: Option<HostInfisical>,
}

/// What a host's Infisical client secret is minted with (`infisical_identity` and
/// `infisical_client_secret` of the host).
#[derive(Clone, Debug)]
pub struct HostInfisical {
    /// The machine identity's name (declared under `infisical.identities`).
    pub identity: String,
    pub ttl_seconds: u64,
    pub num_uses_limit: u64,
    /// The addresses the identity's Universal Auth must trust for client secrets: the host's
    /// CIDR unless the host declares its own.
    pub trusted_ips: Vec<String>,
}

/// How to reach OpenBao, as the topology (or the environment) says.
#[derive(Clone, Debug)]
pub struct OpenBaoConn {
    pub address: Option<String>,
    pub token: Option<Sensitive<String>>,
    pub ca_cert: Option<PathBuf>,
}

/// The first of two environment variables that is set and not empty (`BAO_*`, then `VAULT_*`).
pub fn env_either(bao: &str, vault: &str) -> Option<String> {
    std::env::var(bao)
        .ok()
        .or_else(|| std::env::var(vault).ok())
        .filter(|v| !v.is_empty())
}

impl OpenBaoConn {
    /// The address: the topology's, else `BAO_ADDR`, else `VAULT_ADDR`. Every command that talks
    /// to OpenBao (the operator's and the runtime's) finds it the same way.
    pub fn address_or_env(&self) -> Option<String> {
        self.address
            .clone()
            .or_else(|| env_either("BAO_ADDR", "VAULT_ADDR"))
    }

    /// The CA file: the topology's, else `BAO_CACERT`, else `VAULT_CACERT`.
    pub fn ca_cert_or_env(&self) -> Option<PathBuf> {
        self.ca_cert
            .clone()
            .or_else(|| env_either("BAO_CACERT", "VAULT_CACERT").map(Into::into))
    }

    /// `BAO_NAMESPACE` (or `VAULT_NAMESPACE`): every namespace of the topology is relative to it.
    pub fn base_namespace() -> Option<String> {
        env_either("BAO_NAMESPACE", "VAULT_NAMESPACE")
    }
}

/// How to reach Keycloak, as the topology's `keycloak:` block says.
#[derive(Clone, Debug)]
pub struct KeycloakConn {
    /// One base URL for the token endpoint and the admin API.
    pub url: String,
    pub auth: crate::backends::keycloak::AdminAuth,
    pub ca_cert: Option<PathBuf>,
    /// The realms the realm files declare: the scopes drift and prune look into.
    pub realms: Vec<String>,
}

/// How to reach Infisical, as the topology's `infisical:` block says.
#[derive(Clone, Debug)]
pub struct InfisicalConn {
    /// The base URL, without `/api`.
    pub url: String,
    /// The tool's own Universal Auth identity.
    pub client_id: String,
    pub client_secret: Sensitive<String>,
    /// The organization's id.
    pub organization: String,
    pub ca_cert: Option<PathBuf>,
    /// The projects the file declares: the scopes drift and prune look into (besides the
    /// organization's identities).
    pub projects: Vec<String>,
}

/// The whole Desired phase of one topology file.
#[derive(Clone, Debug)]
pub struct Desired {
    pub file: PathBuf,
    /// The topology's identity (`name:`, by default the file's stem): the ledger records it
    /// with every object, so that a second topology sharing the ledger leaves them alone.
    pub name: String,
    /// The file's text (secret values masked), for diagnostics found after loading.
    pub source: Option<Source>,
    pub conn: OpenBaoConn,
    /// Keycloak, when the topology has a `keycloak:` block.
    pub keycloak: Option<KeycloakConn>,
    /// Infisical, when the topology has an `infisical:` block.
    pub infisical: Option<InfisicalConn>,
    /// The KV v2 mount holding the ledger.
    pub ledger_mount: String,
    pub resources: Vec<DesiredResource>,
    pub hosts: Vec<Host>,
    /// Warnings found while loading (e.g. an HCL policy the local parser could not read).
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openbao_ids_keep_their_address_and_serialised_form() {
        let id = ResourceId::new("", "approle_role", Some("approle"), "aegis-daemon");
        assert_eq!(
            id.address().0,
            r#"openbao[root].approle_role["approle/aegis-daemon"]"#
        );
        // Saved plans and the ledger hold ids serialised before other backends existed.
        let json = serde_json::to_value(&id).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "namespace": "", "kind": "approle_role", "mount": "approle", "name": "aegis-daemon"
            })
        );
        let back: ResourceId = serde_json::from_value(json).expect("read back");
        assert_eq!(back, id);
    }

    #[test]
    fn a_tenant_is_read_from_the_scope() {
        let ns = ResourceId::new("", "namespace", None, "tenant-acme");
        let inside = ResourceId::new("tenant-acme/team", "policy", None, "p");
        let realm = ResourceId::on(Backend::Keycloak, "tenant-acme", "client", None, "app");
        for id in [&ns, &inside, &realm] {
            assert_eq!(id.tenant(), Some("acme"), "{id:?}");
        }
        assert_eq!(
            ResourceId::new("", "policy", None, "tenant-acme").tenant(),
            None
        );
        assert_eq!(
            ResourceId::new("shared", "policy", None, "p").tenant(),
            None
        );
    }

    #[test]
    fn other_backends_name_their_scope_in_the_address() {
        let id = ResourceId::on(
            Backend::Keycloak,
            "aegis-system",
            "client",
            None,
            "aegis-sdk",
        );
        assert_eq!(
            id.address().0,
            r#"keycloak[aegis-system].client["aegis-sdk"]"#
        );
        let json = serde_json::to_value(&id).expect("json");
        assert_eq!(json["backend"], "keycloak");
        assert_eq!(id.ledger_scope(), "/keycloak/aegis-system");
        assert_eq!(
            ResourceId::new("aegis-system", "policy", None, "p").ledger_scope(),
            "aegis-system"
        );
        assert_ne!(
            id,
            ResourceId::new("aegis-system", "client", None, "aegis-sdk"),
            "the same names on another backend are another object"
        );
    }
}

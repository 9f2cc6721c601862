//! The stored state of the Infisical double: organizations, identities, Universal Auth configs,
//! client secrets, access tokens, projects, environments, memberships, folders and secrets
//! (contract §13), the seeding of an organization with its admin identity, and the helpers
//! every route needs (UUIDs, ISO timestamps). Rows are kept in insertion-ordered vectors, which
//! is what the list routes answer in, like rows read back from Postgres by creation time.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use super::Config;
use super::ip::{TrustedIp, default_trusted_ips};

pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes, hex-encoded, like upstream's client secrets (contract §6).
pub fn random_hex32() -> String {
    let b: [u8; 32] = rand::rng().random();
    hex(&b)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// ISO-8601 with milliseconds and `Z` (contract §1).
pub fn iso(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[derive(Clone, Debug)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub ip_allowlisting: bool,
    pub rbac: bool,
}

#[derive(Clone, Debug)]
pub struct Identity {
    pub id: String,
    /// The org membership id: the outer `id` of the get shape (contract §4).
    pub membership_id: String,
    pub name: String,
    pub org_id: String,
    pub role: String,
    pub has_delete_protection: bool,
    /// `(id, key, value)`.
    pub metadata: Vec<(String, String, String)>,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct Ua {
    pub id: String,
    pub identity_id: String,
    pub client_id: String,
    pub access_token_ttl: i64,
    pub access_token_max_ttl: i64,
    pub access_token_num_uses_limit: i64,
    pub access_token_period: i64,
    pub client_secret_trusted_ips: Vec<TrustedIp>,
    pub access_token_trusted_ips: Vec<TrustedIp>,
    pub lockout_enabled: bool,
    pub lockout_threshold: i64,
    pub lockout_duration_seconds: i64,
    pub lockout_counter_reset_seconds: i64,
    /// Failed logins counted since `failures_since` (ms), and the lock's end (ms).
    pub failures: i64,
    pub failures_since: u64,
    pub locked_until: u64,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct ClientSecret {
    pub id: String,
    pub ua_id: String,
    pub identity_id: String,
    /// Plaintext: the double need not hash (contract §13); it never answers it after create.
    pub secret: String,
    pub description: String,
    pub num_uses: i64,
    pub num_uses_limit: i64,
    pub ttl: i64,
    pub revoked: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub token: String,
    pub identity_id: String,
    /// `None` = no expiry (TTL 0).
    pub expires_at: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Project {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    pub slug: String,
    pub kind: String,
    pub auto_capitalization: bool,
    pub has_delete_protection: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct Env {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub slug: String,
    pub position: i64,
    /// Soft-deleted (current servers without `hardDelete=true`): hidden everywhere.
    pub deleted: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct RoleEntry {
    pub id: String,
    pub role: String,
    pub is_temporary: bool,
    pub temporary_mode: Option<String>,
    pub temporary_range: Option<String>,
    pub temporary_start: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub id: String,
    pub project_id: String,
    pub identity_id: String,
    pub roles: Vec<RoleEntry>,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct Folder {
    pub id: String,
    pub env_id: String,
    /// `None` for the environment's root folder.
    pub parent_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Clone, Debug)]
pub struct Secret {
    pub id: String,
    pub folder_id: String,
    pub key: String,
    pub value: String,
    pub comment: String,
    pub kind: String,
    pub skip_multiline_encoding: bool,
    pub version: i64,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A pending injected failure (`Infisical::fail_next`).
#[derive(Clone, Debug)]
pub struct Failure {
    pub method: String,
    pub path_prefix: String,
    pub status: u16,
    pub remaining: u32,
}

#[derive(Debug, Default)]
pub struct State {
    pub config: Config,
    pub orgs: Vec<Org>,
    pub identities: Vec<Identity>,
    pub uas: Vec<Ua>,
    pub client_secrets: Vec<ClientSecret>,
    pub tokens: Vec<Token>,
    pub projects: Vec<Project>,
    pub envs: Vec<Env>,
    pub memberships: Vec<Membership>,
    pub folders: Vec<Folder>,
    pub secrets: Vec<Secret>,
    pub failures: Vec<Failure>,
    pub requests: Vec<super::Recorded>,
    pub next_req: u64,
    /// `(org_id, client_id, client_secret)` of the main org's admin, then the other org's.
    pub admins: Vec<(String, String, String)>,
}

impl State {
    pub fn legacy(&self) -> bool {
        self.config.legacy
    }

    pub fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub fn identity(&self, id: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.id == id)
    }

    pub fn ua_of(&self, identity_id: &str) -> Option<&Ua> {
        self.uas.iter().find(|u| u.identity_id == identity_id)
    }

    pub fn ua_locked(&self, identity_id: &str) -> bool {
        !self.legacy()
            && self
                .ua_of(identity_id)
                .is_some_and(|u| u.locked_until > now_ms())
    }

    pub fn membership(&self, project_id: &str, identity_id: &str) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|m| m.project_id == project_id && m.identity_id == identity_id)
    }

    /// Live environments of a project, ordered by position (then creation, like `_id`).
    pub fn envs_of(&self, project_id: &str) -> Vec<&Env> {
        let mut v: Vec<&Env> = self
            .envs
            .iter()
            .filter(|e| e.project_id == project_id && !e.deleted)
            .collect();
        v.sort_by_key(|e| e.position);
        v
    }

    /// The root folder of an environment, created with the environment.
    pub fn root_folder(&self, env_id: &str) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| f.env_id == env_id && f.parent_id.is_none())
    }

    pub fn new_folder(&mut self, env_id: &str, parent_id: Option<String>, name: &str) -> String {
        let now = now_ms();
        let id = uuid();
        self.folders.push(Folder {
            id: id.clone(),
            env_id: env_id.to_owned(),
            parent_id,
            name: name.to_owned(),
            description: None,
            version: 1,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// Every folder under `folder_id` (itself included).
    pub fn folder_subtree(&self, folder_id: &str) -> Vec<String> {
        let mut out = vec![folder_id.to_owned()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            out.extend(
                self.folders
                    .iter()
                    .filter(|f| f.parent_id.as_deref() == Some(cur.as_str()))
                    .map(|f| f.id.clone()),
            );
            i += 1;
        }
        out
    }

    /// Removes an environment's folders and secrets.
    pub fn drop_env_contents(&mut self, env_id: &str) {
        let folders: Vec<String> = self
            .folders
            .iter()
            .filter(|f| f.env_id == env_id)
            .map(|f| f.id.clone())
            .collect();
        self.secrets.retain(|s| !folders.contains(&s.folder_id));
        self.folders.retain(|f| f.env_id != env_id);
    }
}

impl State {
    /// An organization with one admin identity that has Universal Auth and one client secret
    /// (no use limit, no TTL). Returns `(org_id, client_id, client_secret)`.
    pub fn seed_org(&mut self, name: &str, config: Config) -> (String, String, String) {
        let now = now_ms();
        let org_id = uuid();
        self.orgs.push(Org {
            id: org_id.clone(),
            name: name.to_owned(),
            slug: format!("{name}-{}", &uuid()[..4]),
            ip_allowlisting: config.ip_allowlisting,
            rbac: config.rbac,
        });
        let identity_id = uuid();
        self.identities.push(Identity {
            id: identity_id.clone(),
            membership_id: uuid(),
            name: "aegisctl".into(),
            org_id: org_id.clone(),
            role: "admin".into(),
            has_delete_protection: false,
            metadata: Vec::new(),
            created_at: now,
            updated_at: now,
        });
        let ua_id = uuid();
        let client_id = uuid();
        self.uas.push(Ua {
            id: ua_id.clone(),
            identity_id: identity_id.clone(),
            client_id: client_id.clone(),
            access_token_ttl: 2_592_000,
            access_token_max_ttl: 2_592_000,
            access_token_num_uses_limit: 0,
            access_token_period: 0,
            client_secret_trusted_ips: default_trusted_ips(),
            access_token_trusted_ips: default_trusted_ips(),
            lockout_enabled: true,
            lockout_threshold: 3,
            lockout_duration_seconds: 300,
            lockout_counter_reset_seconds: 30,
            failures: 0,
            failures_since: 0,
            locked_until: 0,
            created_at: now,
            updated_at: now,
        });
        let secret = random_hex32();
        self.client_secrets.push(ClientSecret {
            id: uuid(),
            ua_id,
            identity_id,
            secret: secret.clone(),
            description: "aegisctl".into(),
            num_uses: 0,
            num_uses_limit: 0,
            ttl: 0,
            revoked: false,
            created_at: now,
            updated_at: now,
        });
        (org_id, client_id, secret)
    }
}

//! A stateful HTTP double of OpenBao with the AWS secrets engine mounted, for the AWS kinds
//! (`aws_config`, `aws_role`): OpenBao ships the AWS engine as an external plugin, which cannot
//! run here.
//!
//! It implements what aegisctl sends for an AWS topology, and follows the real API shapes
//! (OpenBao's `sys/` endpoints, KV v2 for the ledger, and the AWS engine as in
//! `builtin/logical/aws` of OpenBao / Vault), never what would be convenient for aegisctl:
//!
//! - `config/root` is overwritten as a whole by every write (fields a write omits become empty,
//!   `max_retries` becomes -1), and its GET answers everything but `secret_key`;
//! - `config/lease` needs both `lease` and `lease_max` on every write and answers Go durations
//!   (`"15m0s"`);
//! - a role write merges the fields it names into the stored role, validates the result, and a
//!   role GET answers TTLs as integer seconds;
//! - unknown paths answer 404 `{"errors":[]}`; requests without a token answer 403.
//!
//! Every request is recorded (method, path, query, JSON body) for assertions.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One request as the double received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Without `/v1/`.
    pub path: String,
    pub query: String,
    pub body: Value,
    /// The status the double answered.
    pub status: u16,
    /// Whether the double implements this method on this path.
    pub known: bool,
}

/// A stored AWS role, as the engine keeps it.
#[derive(Clone, Debug, Default)]
pub struct AwsRole {
    pub credential_types: Vec<String>,
    pub role_arns: Vec<String>,
    pub policy_arns: Vec<String>,
    pub policy_document: String,
    pub iam_groups: Vec<String>,
    pub default_sts_ttl: u64,
    pub max_sts_ttl: u64,
    pub user_path: String,
    pub permissions_boundary_arn: String,
}

impl AwsRole {
    fn response(&self) -> Value {
        json!({
            "credential_type": self.credential_types.join(","),
            "role_arns": self.role_arns,
            "policy_arns": self.policy_arns,
            "policy_document": self.policy_document,
            "iam_groups": self.iam_groups,
            "iam_tags": Value::Null,
            "default_sts_ttl": self.default_sts_ttl,
            "max_sts_ttl": self.max_sts_ttl,
            "user_path": self.user_path,
            "permissions_boundary_arn": self.permissions_boundary_arn,
        })
    }

    fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        let has = |t: &str| self.credential_types.iter().any(|c| c == t);
        if self.credential_types.is_empty() {
            errors.push("did not supply credential_type".to_owned());
        }
        for c in &self.credential_types {
            if !["iam_user", "assumed_role", "federation_token"].contains(&c.as_str()) {
                errors.push(format!("unrecognized credential type: {c}"));
            }
        }
        let sts = has("assumed_role") || has("federation_token");
        if self.default_sts_ttl != 0 && !sts {
            errors.push("default_sts_ttl parameter only valid for assumed_role and federation_token credential types".into());
        }
        if self.max_sts_ttl != 0 && !sts {
            errors.push("max_sts_ttl parameter only valid for assumed_role and federation_token credential types".into());
        }
        if self.max_sts_ttl > 0
            && self.default_sts_ttl > 0
            && self.default_sts_ttl > self.max_sts_ttl
        {
            errors.push(
                "\"default_sts_ttl\" value must be less than or equal to \"max_sts_ttl\" value"
                    .into(),
            );
        }
        if !self.role_arns.is_empty() && !has("assumed_role") {
            errors.push("cannot supply role_arns when credential_type isn't assumed_role".into());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// `config/root` as the engine stores it.
#[derive(Clone, Debug, Default)]
pub struct AwsRoot {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub iam_endpoint: String,
    pub sts_endpoint: String,
    pub max_retries: i64,
    pub username_template: String,
}

/// One mount of the AWS engine.
#[derive(Clone, Debug, Default)]
pub struct AwsEngine {
    pub root: Option<AwsRoot>,
    /// `(lease, lease_max)` in seconds.
    pub lease: Option<(u64, u64)>,
    pub roles: BTreeMap<String, AwsRole>,
}

/// One KV v2 secret: its current version and data.
#[derive(Clone, Debug)]
pub struct KvEntry {
    pub version: u64,
    pub data: Value,
}

#[derive(Debug, Default)]
pub struct State {
    /// `sys/mounts`, keyed `PATH/`.
    pub mounts: Map<String, Value>,
    /// `sys/auth`, keyed `PATH/`.
    pub auth: Map<String, Value>,
    /// KV v2 secrets, keyed `MOUNT/PATH`.
    pub kv: BTreeMap<String, KvEntry>,
    /// AWS engines, keyed by mount path (no slash).
    pub aws: BTreeMap<String, AwsEngine>,
    pub requests: Vec<Recorded>,
}

impl State {
    fn new() -> State {
        let mut s = State::default();
        for (path, kind, desc) in [
            (
                "cubbyhole/",
                "cubbyhole",
                "per-token private secret storage",
            ),
            ("identity/", "identity", "identity store"),
            (
                "sys/",
                "system",
                "system endpoints used for control, policy and debugging",
            ),
        ] {
            s.mounts
                .insert(path.into(), mount_entry(kind, desc, Value::Null));
        }
        s.auth.insert(
            "token/".into(),
            mount_entry("token", "token based credentials", Value::Null),
        );
        s
    }

    /// The requests with this method on this path (without `/v1/`).
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }

    /// Requests on paths or with methods the double does not implement.
    pub fn unknown_requests(&self) -> Vec<Recorded> {
        self.requests.iter().filter(|r| !r.known).cloned().collect()
    }

    /// Whether `text` occurs in any recorded request body other than those to `allowed_path`.
    pub fn body_mentions_outside(&self, text: &str, allowed_path: &str) -> Vec<Recorded> {
        self.requests
            .iter()
            .filter(|r| r.path != allowed_path && r.body.to_string().contains(text))
            .cloned()
            .collect()
    }
}

fn mount_entry(kind: &str, description: &str, options: Value) -> Value {
    json!({
        "type": kind,
        "description": description,
        "accessor": format!("{kind}_0a1b2c3d"),
        "config": { "default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false },
        "options": options,
        "local": false,
        "seal_wrap": false,
        "external_entropy_access": false,
        "plugin_version": "",
        "running_plugin_version": "",
        "running_sha256": "",
        "uuid": "00000000-0000-0000-0000-000000000000",
    })
}

/// A Go-style duration as the framework parses it (`ParseDurationSecond`): a number of seconds
/// (JSON number or digits), or a sequence of number+unit (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`).
pub fn parse_duration(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("invalid duration {n}")),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(0);
            }
            if let Ok(n) = s.parse::<u64>() {
                return Ok(n);
            }
            let mut total_ns: u128 = 0;
            let mut rest = s;
            while !rest.is_empty() {
                let digits: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                if digits.is_empty() {
                    return Err(format!("time: invalid duration \"{s}\""));
                }
                rest = &rest[digits.len()..];
                let unit: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                rest = &rest[unit.len()..];
                let scale: u128 = match unit.as_str() {
                    "ns" => 1,
                    "us" | "µs" => 1_000,
                    "ms" => 1_000_000,
                    "s" => 1_000_000_000,
                    "m" => 60_000_000_000,
                    "h" => 3_600_000_000_000,
                    "d" => 86_400_000_000_000,
                    "" => return Err(format!("time: missing unit in duration \"{s}\"")),
                    _ => return Err(format!("time: unknown unit \"{unit}\" in duration \"{s}\"")),
                };
                let n: f64 = digits
                    .parse()
                    .map_err(|_| format!("time: invalid duration \"{s}\""))?;
                total_ns += (n * scale as f64) as u128;
            }
            Ok((total_ns / 1_000_000_000) as u64)
        }
        other => Err(format!("invalid duration {other}")),
    }
}

/// Seconds as Go's `time.Duration.String()` writes them: `15m0s`, `1h0m0s`, `0s`.
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `TypeCommaStringSlice`: a list, or a comma-separated string.
fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// `TypeString`: numbers and booleans are accepted and turned into text.
fn string_field(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// What the double answers: a status and an optional JSON body.
struct Reply {
    status: u16,
    body: Option<Value>,
    known: bool,
}

impl Reply {
    fn template(self) -> ResponseTemplate {
        let t = ResponseTemplate::new(self.status);
        match self.body {
            Some(b) => t.set_body_json(b),
            None => t,
        }
    }
}

fn ok_json(data: Value) -> Reply {
    Reply {
        status: 200,
        known: true,
        body: Some(json!({
            "request_id": "00000000-0000-0000-0000-000000000001",
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": data,
            "wrap_info": null,
            "warnings": null,
            "auth": null,
        })),
    }
}

fn no_content() -> Reply {
    Reply {
        status: 204,
        body: None,
        known: true,
    }
}

fn error(status: u16, msg: &str) -> Reply {
    let errors: Vec<&str> = if msg.is_empty() { vec![] } else { vec![msg] };
    Reply {
        status,
        body: Some(json!({ "errors": errors })),
        known: true,
    }
}

/// A path or method the double does not implement: 404 as OpenBao answers, but recorded as
/// unknown so tests can tell that aegisctl sent something the double does not model.
fn unknown() -> Reply {
    Reply {
        known: false,
        ..not_found()
    }
}

fn not_found() -> Reply {
    error(404, "")
}

/// The double: answers every request from its state.
#[derive(Clone)]
pub struct AwsBao {
    pub state: Arc<Mutex<State>>,
}

impl Respond for AwsBao {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req
            .url
            .path()
            .strip_prefix("/v1/")
            .unwrap_or(req.url.path())
            .trim_end_matches('/')
            .to_owned();
        let query = req.url.query().unwrap_or_default().to_owned();
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&req.body).unwrap_or(Value::Null)
        };
        let mut method = req.method.as_str().to_owned();
        // `GET ...?list=true` is the HTTP spelling of LIST.
        if method == "GET" && query.split('&').any(|q| q == "list=true") {
            method = "LIST".into();
        }
        // POST and PUT are the same operation to OpenBao.
        if method == "PUT" {
            method = "POST".into();
        }
        let mut state = self.state.lock().unwrap();
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query,
            body: body.clone(),
            status: 0,
            known: true,
        });
        let has_token = req
            .headers
            .get("x-vault-token")
            .is_some_and(|v| !v.is_empty());
        let response = if has_token {
            handle(&mut state, &method, &path, &body)
        } else {
            error(403, "permission denied")
        };
        if let Some(last) = state.requests.last_mut() {
            last.status = response.status;
            last.known = response.known;
        }
        response.template()
    }
}

fn handle(state: &mut State, method: &str, path: &str, body: &Value) -> Reply {
    match (method, path) {
        ("GET", "sys/mounts") => ok_json(Value::Object(state.mounts.clone())),
        // Unauthenticated on a real server; the version the double stands for.
        ("GET", "sys/seal-status") => Reply {
            status: 200,
            known: true,
            body: Some(json!({
                "type": "shamir", "initialized": true, "sealed": false, "version": "2.7.2",
            })),
        },
        // Unauthenticated; a server without HA storage (like a dev server) answers just this.
        ("GET", "sys/leader") => Reply {
            status: 200,
            known: true,
            body: Some(json!({ "ha_enabled": false })),
        },
        ("GET", "sys/auth") => ok_json(Value::Object(state.auth.clone())),
        ("GET", "auth/token/lookup-self") => ok_json(json!({
            "display_name": "root",
            "policies": ["root"],
            "path": "auth/token/root",
        })),
        // The double's token may not read the server configuration, as a non-root token.
        ("GET", "sys/config/state/sanitized") => error(403, "permission denied"),
        ("LIST", "sys/policies/acl") => ok_json(json!({ "keys": ["default", "root"] })),
        ("GET", "sys/audit") => ok_json(json!({})),
        // No namespaces: LIST answers 404, as OpenBao does for an empty list.
        ("LIST", "sys/namespaces") => not_found(),
        ("GET", "sys/plugins/catalog") => ok_json(plugin_catalog()),
        _ => {
            if let Some(mount) = path.strip_prefix("sys/mounts/") {
                return match method {
                    "POST" if !mount.contains('/') => enable_mount(state, mount, body),
                    _ => unknown(),
                };
            }
            let (mount, rest) = path.split_once('/').unwrap_or((path, ""));
            let entry = state.mounts.get(&format!("{mount}/")).cloned();
            match entry.as_ref().and_then(|e| e["type"].as_str()) {
                Some("kv") if entry.as_ref().unwrap()["options"]["version"] == "2" => {
                    kv2(state, mount, method, rest, body)
                }
                Some("aws") => aws(state, mount, method, rest, body),
                // Nothing mounted there: OpenBao has no route, and says so with a 404.
                None if mount != "sys" && mount != "auth" => error(
                    404,
                    &format!("no handler for route \"{path}\". route entry not found."),
                ),
                _ => unknown(),
            }
        }
    }
}

/// The catalog of a server with only built-in plugins (the AWS engine's registration is not
/// part of the topologies this double serves).
fn plugin_catalog() -> Value {
    let builtin = |kind: &str, name: &str| {
        json!({
            "builtin": true,
            "deprecation_status": "supported",
            "name": name,
            "type": kind,
            "version": "v2.7.2+builtin.bao",
        })
    };
    json!({
        "auth": ["approle", "jwt", "oidc", "userpass"],
        "database": [],
        "secret": ["kv", "transit", "database"],
        "detailed": [
            builtin("auth", "approle"),
            builtin("auth", "jwt"),
            builtin("auth", "oidc"),
            builtin("auth", "userpass"),
            builtin("secret", "database"),
            builtin("secret", "kv"),
            builtin("secret", "transit"),
        ],
    })
}

fn enable_mount(state: &mut State, mount: &str, body: &Value) -> Reply {
    let key = format!("{mount}/");
    if state.mounts.contains_key(&key) {
        return error(400, &format!("path is already in use at {key}"));
    }
    let Some(kind) = body["type"].as_str() else {
        return error(400, "missing type");
    };
    let mut options = body.get("options").cloned().unwrap_or(Value::Null);
    if options.as_object().is_some_and(|o| o.is_empty()) {
        options = Value::Null;
    }
    let mut entry = mount_entry(kind, body["description"].as_str().unwrap_or(""), options);
    if let Some(config) = body.get("config").and_then(Value::as_object) {
        for (k, v) in config {
            let v = if k.ends_with("_ttl") {
                match parse_duration(v) {
                    Ok(secs) => json!(secs),
                    Err(e) => return error(400, &e),
                }
            } else {
                v.clone()
            };
            entry["config"][k] = v;
        }
    }
    if kind == "aws" {
        state.aws.insert(mount.to_owned(), AwsEngine::default());
    }
    state.mounts.insert(key, entry);
    no_content()
}

/// KV v2: `MOUNT/data/PATH` with check-and-set, `MOUNT/metadata/...` (LIST, DELETE) and the
/// mount's `config`.
fn kv2(state: &mut State, mount: &str, method: &str, rest: &str, body: &Value) -> Reply {
    if rest == "config" {
        return match method {
            "POST" => no_content(),
            "GET" => ok_json(
                json!({ "cas_required": false, "delete_version_after": "0s", "max_versions": 0 }),
            ),
            _ => unknown(),
        };
    }
    if let Some(p) = rest.strip_prefix("metadata") {
        let p = p.trim_start_matches('/');
        return match method {
            // The keys one level below the prefix, folders with a trailing slash.
            "LIST" => {
                let prefix = if p.is_empty() {
                    format!("{mount}/")
                } else {
                    format!("{mount}/{p}/")
                };
                let mut keys: Vec<String> = state
                    .kv
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(|rest| match rest.split_once('/') {
                        Some((dir, _)) => format!("{dir}/"),
                        None => rest.to_owned(),
                    })
                    .collect();
                keys.sort();
                keys.dedup();
                if keys.is_empty() {
                    not_found()
                } else {
                    ok_json(json!({ "keys": keys }))
                }
            }
            "DELETE" => {
                state.kv.remove(&format!("{mount}/{p}"));
                no_content()
            }
            _ => unknown(),
        };
    }
    let Some(p) = rest.strip_prefix("data/") else {
        return unknown();
    };
    let key = format!("{mount}/{p}");
    match method {
        "GET" => match state.kv.get(&key) {
            None => not_found(),
            Some(e) => ok_json(json!({
                "data": e.data,
                "metadata": {
                    "created_time": "2026-01-01T00:00:00Z",
                    "custom_metadata": null,
                    "deletion_time": "",
                    "destroyed": false,
                    "version": e.version,
                },
            })),
        },
        "POST" => {
            let current = state.kv.get(&key).map(|e| e.version).unwrap_or(0);
            if let Some(cas) = body.pointer("/options/cas")
                && cas.as_u64() != Some(current)
            {
                return error(
                    400,
                    "check-and-set parameter did not match the current version",
                );
            }
            let Some(data) = body.get("data").filter(|d| d.is_object()) else {
                return error(400, "no data provided");
            };
            let version = current + 1;
            state.kv.insert(
                key,
                KvEntry {
                    version,
                    data: data.clone(),
                },
            );
            ok_json(json!({
                "created_time": "2026-01-01T00:00:00Z",
                "custom_metadata": null,
                "deletion_time": "",
                "destroyed": false,
                "version": version,
            }))
        }
        _ => unknown(),
    }
}

/// The AWS secrets engine mounted at `mount`.
fn aws(state: &mut State, mount: &str, method: &str, rest: &str, body: &Value) -> Reply {
    let engine = state.aws.entry(mount.to_owned()).or_default();
    match (method, rest) {
        ("GET", "config/root") => match &engine.root {
            // A read that finds nothing answers 404.
            None => not_found(),
            Some(r) => ok_json(json!({
                "access_key": r.access_key,
                "region": r.region,
                "iam_endpoint": r.iam_endpoint,
                "sts_endpoint": r.sts_endpoint,
                "max_retries": r.max_retries,
                "username_template": r.username_template,
            })),
        },
        ("POST", "config/root") => {
            // A write replaces the whole configuration, as the engine does.
            let max_retries = match body.get("max_retries") {
                None | Some(Value::Null) => -1,
                Some(v) => match v
                    .as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                {
                    Some(n) => n,
                    None => return error(400, "error converting input for field \"max_retries\""),
                },
            };
            let mut username_template = string_field(body.get("username_template"));
            if username_template.is_empty() {
                username_template = "{{ if (eq .Type \"STS\") }}{{ printf \"vault-%s-%s\"  (unix_time) (random 20) | truncate 32 }}{{ else }}{{ printf \"vault-%s-%s-%s\" (printf \"%s-%s\" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}{{ end }}".into();
            }
            engine.root = Some(AwsRoot {
                access_key: string_field(body.get("access_key")),
                secret_key: string_field(body.get("secret_key")),
                region: string_field(body.get("region")),
                iam_endpoint: string_field(body.get("iam_endpoint")),
                sts_endpoint: string_field(body.get("sts_endpoint")),
                max_retries,
                username_template,
            });
            no_content()
        }
        ("GET", "config/lease") => match engine.lease {
            None => not_found(),
            Some((lease, max)) => ok_json(json!({
                "lease": go_duration(lease),
                "lease_max": go_duration(max),
            })),
        },
        ("POST", "config/lease") => {
            let lease = string_field(body.get("lease"));
            let lease_max = string_field(body.get("lease_max"));
            if lease.is_empty() {
                return error(400, "'lease' is a required parameter");
            }
            if lease_max.is_empty() {
                return error(400, "'lease_max' is a required parameter");
            }
            let lease = match parse_duration(&Value::String(lease)) {
                Ok(s) => s,
                Err(e) => return error(400, &format!("Invalid lease: {e}")),
            };
            let lease_max = match parse_duration(&Value::String(lease_max)) {
                Ok(s) => s,
                Err(e) => return error(400, &format!("Invalid lease_max: {e}")),
            };
            engine.lease = Some((lease, lease_max));
            no_content()
        }
        ("LIST", "roles") => {
            if engine.roles.is_empty() {
                not_found()
            } else {
                ok_json(json!({ "keys": engine.roles.keys().collect::<Vec<_>>() }))
            }
        }
        _ => {
            let Some(name) = rest.strip_prefix("roles/").filter(|n| !n.contains('/')) else {
                return unknown();
            };
            match method {
                "GET" => match engine.roles.get(name) {
                    None => not_found(),
                    Some(r) => ok_json(r.response()),
                },
                "DELETE" => {
                    engine.roles.remove(name);
                    no_content()
                }
                "POST" => {
                    let mut role = engine.roles.get(name).cloned().unwrap_or_default();
                    let given = |k: &str| body.get(k).filter(|v| !v.is_null());
                    if let Some(v) = given("credential_type") {
                        role.credential_types = vec![string_field(Some(v))];
                    }
                    if let Some(v) = given("role_arns") {
                        role.role_arns = string_list(v);
                    }
                    if let Some(v) = given("policy_arns") {
                        role.policy_arns = string_list(v);
                    }
                    if let Some(v) = given("policy_document") {
                        role.policy_document = string_field(Some(v));
                    }
                    if let Some(v) = given("iam_groups") {
                        role.iam_groups = string_list(v);
                    }
                    if let Some(v) = given("user_path") {
                        role.user_path = string_field(Some(v));
                    }
                    if let Some(v) = given("permissions_boundary_arn") {
                        role.permissions_boundary_arn = string_field(Some(v));
                    }
                    for (field, slot) in [
                        ("default_sts_ttl", &mut role.default_sts_ttl),
                        ("max_sts_ttl", &mut role.max_sts_ttl),
                    ] {
                        if let Some(v) = given(field) {
                            match parse_duration(v) {
                                Ok(secs) => *slot = secs,
                                Err(e) => {
                                    return error(
                                        400,
                                        &format!(
                                            "error converting input for field \"{field}\": {e}"
                                        ),
                                    );
                                }
                            }
                        }
                    }
                    if let Err(e) = role.validate() {
                        return error(
                            400,
                            &format!("error(s) validating supplied role data: \"{e}\""),
                        );
                    }
                    engine.roles.insert(name.to_owned(), role);
                    no_content()
                }
                _ => unknown(),
            }
        }
    }
}

/// Starts the double; returns the server (keep it alive) and its state.
pub async fn start() -> (MockServer, Arc<Mutex<State>>) {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(State::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(AwsBao {
            state: Arc::clone(&state),
        })
        .mount(&server)
        .await;
    (server, state)
}

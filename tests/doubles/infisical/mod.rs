//! A stateful HTTP double of the Infisical REST API, built on `wiremock`, for the integration
//! tests of `infisical.projects` / `infisical.identities` and `aegisctl bootstrap`: no registry
//! ships Infisical's server, so the tests run against this instead.
//!
//! It follows `/work/shared/contracts/infisical-api.md` to the letter (statuses, `error` and
//! `message` values, envelopes, UUID ids, 200 for every success, unknown body keys dropped,
//! zod-like 422 issue arrays, Fastify's own 404 for unknown routes) and never what would be
//! convenient for a client. Where the contract is silent it models the documented upstream
//! behaviour and says so where it does. A `legacy` switch gives the §12 left column (a
//! 2024-10 self-hosted build): 401 validation failures, 500 on duplicate or missing projects,
//! no `/api/v1/projects` routes, `authMethod` instead of `authMethods`, and so on.
//!
//! Every request is recorded (method, path, query, JSON body, answered status) in order.

#![allow(dead_code)]

mod access;
mod errors;
mod ip;
mod routes_env;
mod routes_folders;
mod routes_identity;
mod routes_login;
mod routes_membership;
mod routes_project;
mod routes_secrets;
mod routes_ua;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use errors::Reply;
use errors::{err, route_not_found};
use state::{State, now_ms};

/// Switches of the double. Default: a current server, unlicensed (no IP allowlisting, no RBAC).
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub legacy: bool,
    pub ip_allowlisting: bool,
    pub rbac: bool,
}

/// One request as the double received it, with the status it answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The full path, `/api/...`.
    pub path: String,
    pub query: String,
    /// The JSON body (`Null` when empty or not JSON).
    pub body: Value,
    pub status: u16,
}

/// The running double.
pub struct Infisical {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

/// Who a bearer token belongs to.
#[derive(Clone, Debug)]
pub struct Caller {
    pub identity_id: String,
    pub org_id: String,
    pub role: String,
}

/// One request, parsed for the route modules.
pub struct Ctx {
    pub method: String,
    /// Path segments after `/api`, percent-decoded (e.g. `["v1", "projects", "<id>"]`).
    pub segs: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
    /// `None` without an `Authorization` header.
    pub bearer: Option<String>,
}

impl Ctx {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Resolves the caller from the bearer token: no header → 401 `Token missing`; an unknown token
/// → 403 `TokenError` `invalid token`; an expired one → 403 `TokenError` with upstream's
/// expiry message.
pub fn auth(st: &State, ctx: &Ctx) -> Result<Caller, Reply> {
    let Some(raw) = ctx.bearer.as_deref() else {
        return Err(err(401, "UnauthorizedError", "Token missing"));
    };
    // Upstream slices the scheme off blindly; anything else then fails as an invalid token.
    let token = raw.strip_prefix("Bearer ").unwrap_or(raw);
    let Some(t) = st.tokens.iter().find(|t| t.token == token) else {
        return Err(err(403, "TokenError", "invalid token"));
    };
    if t.expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(err(
            403,
            "TokenError",
            "Your token has expired. Please re-authenticate.",
        ));
    }
    let Some(id) = st.identity(&t.identity_id) else {
        return Err(err(403, "TokenError", "invalid token"));
    };
    Ok(Caller {
        identity_id: id.id.clone(),
        org_id: id.org_id.clone(),
        role: id.role.clone(),
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Responder {
    state: Arc<Mutex<State>>,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        let query = req.url.query().unwrap_or_default().to_owned();
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&req.body).unwrap_or(Value::Null)
        };
        let reply = handle(&mut st, req, &method, &path, &query, &body);
        st.next_req += 1;
        let n = st.next_req;
        st.requests.push(Recorded {
            method,
            path,
            query,
            body,
            status: reply.status,
        });
        let mut t = ResponseTemplate::new(reply.status);
        match reply.body {
            Some(mut b) => {
                if let Some(Value::String(id)) = b.get_mut("reqId") {
                    *id = format!("req-{n}");
                }
                t = t.set_body_json(b);
            }
            None => t = t.set_body_string(status_text(reply.status)),
        }
        t
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        503 => "Service Unavailable",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn handle(
    st: &mut State,
    req: &Request,
    method: &str,
    path: &str,
    query: &str,
    body: &Value,
) -> Reply {
    if let Some(f) = st
        .failures
        .iter_mut()
        .find(|f| f.remaining > 0 && f.method == method && path.starts_with(&f.path_prefix))
    {
        f.remaining -= 1;
        let status = f.status;
        st.failures.retain(|f| f.remaining > 0);
        return injected(status);
    }
    let url = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let Some(rest) = path.strip_prefix("/api/") else {
        return route_not_found(method, &url);
    };
    // Upstream parses a JSON body before routing only for JSON requests; a body that is not
    // JSON is Fastify's 400 (contract silent; `FST_ERR_CTP_INVALID_JSON_BODY`-like body).
    if !req.body.is_empty() && serde_json::from_slice::<Value>(&req.body).is_err() {
        let mut r = err(
            400,
            "Bad Request",
            "Body is not valid JSON but content-type is set to 'application/json'",
        );
        if let Some(Value::Object(m)) = r.body.as_mut() {
            m.remove("reqId");
        }
        return r;
    }
    let ctx = Ctx {
        method: method.to_owned(),
        segs: rest.split('/').map(percent_decode).collect(),
        query: req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        body: body.clone(),
        bearer: req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    // Legacy builds have no `/api/v1/projects` routes at all (contract §12).
    let legacy_hidden =
        st.legacy() && ctx.segs.len() >= 2 && ctx.segs[0] == "v1" && ctx.segs[1] == "projects";
    let answer = if legacy_hidden {
        None
    } else {
        routes_identity::handle(st, &ctx)
            .or_else(|| routes_project::handle(st, &ctx))
            .or_else(|| routes_secrets::handle(st, &ctx))
    };
    match answer {
        None => route_not_found(method, &url),
        Some(Ok(v)) => Reply {
            status: 200,
            body: Some(v),
        },
        Some(Err(r)) => r,
    }
}

/// The body a real server (or the proxy in front of it) sends for an injected status.
fn injected(status: u16) -> Reply {
    match status {
        429 => err(
            429,
            "RateLimitExceeded",
            "Rate limit exceeded. Please try again in 60 seconds",
        ),
        500 => err(500, "InternalServerError", "Something went wrong"),
        // What a reverse proxy says when the backend is down: not Infisical's JSON.
        502..=504 => Reply { status, body: None },
        s => err(s, "InjectedFailure", "Injected failure"),
    }
}

impl Infisical {
    pub async fn start(config: Config) -> Infisical {
        let mut st = State {
            config,
            ..State::default()
        };
        let main = st.seed_org("aegis", config);
        let other = st.seed_org("elsewhere", config);
        st.admins = vec![main, other];
        let state = Arc::new(Mutex::new(st));
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                state: Arc::clone(&state),
            })
            .mount(&server)
            .await;
        Infisical { server, state }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The base URL without `/api`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    pub fn org_id(&self) -> String {
        self.st().admins[0].0.clone()
    }

    /// The tool's own identity in the main org: `(client_id, client_secret)`.
    pub fn admin(&self) -> (String, String) {
        let st = self.st();
        (st.admins[0].1.clone(), st.admins[0].2.clone())
    }

    /// A second organization with its own admin identity: `(org_id, client_id, client_secret)`.
    pub fn other_org(&self) -> (String, String, String) {
        self.st().admins[1].clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.st().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.st().requests.clear();
    }

    pub fn set_legacy(&self, on: bool) {
        self.st().config.legacy = on;
    }

    /// Sets the licence flag of every organization (and of the config).
    pub fn set_ip_allowlisting(&self, on: bool) {
        let mut st = self.st();
        st.config.ip_allowlisting = on;
        for o in &mut st.orgs {
            o.ip_allowlisting = on;
        }
    }

    /// Fails the next `n` requests with this method whose path starts with `path_prefix`.
    /// Ends every failure `fail_next` set up (the server recovers).
    pub fn clear_failures(&self) {
        self.st().failures.clear();
    }

    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, n: u32) {
        self.st().failures.push(state::Failure {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_owned(),
            status,
            remaining: n,
        });
    }
}

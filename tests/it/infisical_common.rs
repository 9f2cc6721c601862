//! What the Infisical tests share: a real OpenBao (the ledger lives there) beside the Infisical
//! double of `tests/doubles/infisical` (which follows `contracts/infisical-api.md`), aegisctl run
//! with the tool's Universal Auth login in its environment, and an out-of-band admin session
//! that edits Infisical through its HTTP API the way a person with the same rights would.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Bao, Run};
use crate::http_wire::call;
use crate::infisical_double::{Config, Infisical};

/// The login secret of the tool's identity never appears in any output: checked on every run.
pub struct Env {
    pub bao: Bao,
    pub dbl: Infisical,
    /// The runtime the double was started on (dropped last: the double's server lives on its
    /// own thread, the runtime only has to outlive the test).
    _rt: tokio::runtime::Runtime,
}

pub fn start(config: Config) -> Env {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dbl = rt.block_on(Infisical::start(config));
    Env {
        bao: Bao::start(),
        dbl,
        _rt: rt,
    }
}

/// The `infisical:` block's head: the connection from the environment.
pub const HEAD: &str = "version: 1
infisical:
  url: env:INFISICAL_URL
  auth: { client_id: env:INFISICAL_CLIENT_ID, client_secret: env:INFISICAL_CLIENT_SECRET }
  organization: env:INFISICAL_ORG_ID
";

impl Env {
    /// A topology file named `name` in the server's temp dir.
    pub fn topology(&self, name: &str, yaml: &str) -> PathBuf {
        crate::harness::topology(&self.bao, name, yaml)
    }

    /// aegisctl with the tool's login and `extra` in its environment; the login secret is
    /// never in its output.
    pub fn ctl_with(&self, extra: &[(&str, &str)], args: &[&str]) -> Run {
        let (client_id, secret) = self.dbl.admin();
        let mut cmd = self.bao.aegisctl();
        cmd.env("INFISICAL_URL", self.dbl.url())
            .env("INFISICAL_CLIENT_ID", &client_id)
            .env("INFISICAL_CLIENT_SECRET", &secret)
            .env("INFISICAL_ORG_ID", self.dbl.org_id());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let run = Run::from(cmd.args(args).output().expect("run aegisctl"));
        assert!(
            !run.all().contains(&secret),
            "the login secret in the output of {args:?}:\n{run}"
        );
        run
    }

    pub fn ctl(&self, args: &[&str]) -> Run {
        self.ctl_with(&[], args)
    }

    /// An out-of-band session as the tool's own identity (an operator with the same rights).
    pub fn api(&self) -> Api {
        let (client_id, secret) = self.dbl.admin();
        Api::login(&self.dbl.url(), &client_id, &secret)
    }
}

/// A logged-in session on the double's HTTP API.
pub struct Api {
    pub url: String,
    token: String,
}

impl Api {
    pub fn login(url: &str, client_id: &str, secret: &str) -> Api {
        let (status, body) = raw(
            url,
            "POST",
            "/api/v1/auth/universal-auth/login",
            None,
            Some(json!({"clientId": client_id, "clientSecret": secret})),
        );
        assert_eq!(status, 200, "login: {body}");
        Api {
            url: url.to_owned(),
            token: body["accessToken"].as_str().expect("token").to_owned(),
        }
    }

    /// One request; `(status, body)`.
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        raw(&self.url, method, path, Some(&self.token), body)
    }

    /// One request that must answer 200.
    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.send(method, path, body);
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    /// The project with slug `slug` (bare object, with its environments).
    pub fn project(&self, slug: &str) -> Value {
        self.ok("GET", &format!("/api/v1/projects/slug/{slug}"), None)
    }

    /// The identity named `name` in `org` (its id).
    pub fn identity_id(&self, org: &str, name: &str) -> String {
        let list = self.ok("GET", &format!("/api/v1/identities?orgId={org}"), None);
        let found: Vec<&Value> = list["identities"]
            .as_array()
            .expect("identities")
            .iter()
            .filter(|i| i["identity"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "identity {name}: {list}");
        found[0]["identity"]["id"].as_str().expect("id").to_owned()
    }
}

fn raw(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    let text = body.map(|b| b.to_string());
    let r = call(
        method,
        &format!("{url}{path}"),
        &headers,
        text.as_deref(),
        Duration::from_secs(10),
    )
    .expect("request to the double");
    let value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, value)
}

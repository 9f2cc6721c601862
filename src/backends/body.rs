//! A request body that may hold secrets: its `Debug` shows nothing, and the secrets it holds
//! (and the password inside a connection URL among them) are remembered so that an error
//! message echoing them back from the server can be scrubbed. Shared by the backends: OpenBao
//! and Keycloak bodies carry secrets alike.

use serde_json::Value;

use crate::sensitive::{REDACTED, Sensitive};

/// A request body. It may hold secrets, so its `Debug` shows nothing, and the secrets it holds
/// are remembered so they can be scrubbed from any error message the server echoes them in.
pub struct Body {
    pub(super) json: Value,
    pub(super) secrets: Vec<Sensitive<String>>,
}

impl Body {
    pub fn new(json: Value) -> Self {
        Body {
            json,
            secrets: Vec::new(),
        }
    }

    /// Marks a secret contained in the body, for scrubbing from error messages.
    pub fn with_secret(mut self, secret: &Sensitive<String>) -> Self {
        self.remember(secret.expose());
        self
    }

    /// Marks every text inside a secret value (and the password of a URL among them, which a
    /// server may echo on its own) for scrubbing.
    pub fn with_secret_value(mut self, value: &Value) -> Self {
        match value {
            Value::String(s) => self.remember(s),
            Value::Array(items) => {
                for v in items {
                    self = self.with_secret_value(v);
                }
            }
            Value::Object(m) => {
                for v in m.values() {
                    self = self.with_secret_value(v);
                }
            }
            Value::Number(n) => self.remember(&n.to_string()),
            _ => {}
        }
        self
    }

    fn remember(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.secrets.push(Sensitive::new(text.to_owned()));
        if let Some(password) = url_password(text) {
            self.secrets.push(Sensitive::new(password));
        }
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    /// `text` with every secret of the body replaced by [`REDACTED`]: for a server message that
    /// may echo part of the request back.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, &self.secrets)
    }
}

/// `text` with every one of `secrets` replaced by [`REDACTED`], longest first so that a secret
/// containing another is not left half-visible.
pub fn scrub(text: &str, secrets: &[Sensitive<String>]) -> String {
    let mut sorted: Vec<&str> = secrets
        .iter()
        .map(|s| s.expose().as_str())
        .filter(|s| !s.is_empty())
        .collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in sorted {
        out = out.replace(s, REDACTED);
    }
    out
}

/// The password of a URL with credentials in it (`postgresql://user:pw@host/db`), decoded too.
fn url_password(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let userinfo = rest.split(['/', '?', '#']).next()?.rsplit_once('@')?.0;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body(")?;
        f.write_str(REDACTED)?;
        f.write_str(")")
    }
}

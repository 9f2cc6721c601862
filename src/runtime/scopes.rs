//! Scoped secrets, narrowest wins: `--scope ORG/TEAM/WORKSPACE` reads the KV v2 secrets
//! `org/ORG`, `team/ORG/TEAM` and `workspace/ORG/TEAM/WS` of the scopes mount — one request per
//! level, all at once — and each key becomes a variable, a narrower level winning a collision.

use std::collections::BTreeMap;

use serde_json::Value;

use super::RuntimeError;
use crate::backends::openbao::BaoClient;
use crate::backends::path::{ApiPath, check_segment};
use crate::sensitive::Sensitive;

/// A parsed `--scope`: one to three names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    parts: Vec<String>,
}

impl Scope {
    /// `ORG`, `ORG/TEAM` or `ORG/TEAM/WORKSPACE`; each part a plain name.
    pub fn parse(text: &str) -> Result<Scope, RuntimeError> {
        let bad = |why: &str| RuntimeError::BadScope {
            scope: text.escape_debug().to_string(),
            why: why.to_owned(),
        };
        let parts: Vec<String> = text.split('/').map(str::to_owned).collect();
        if parts.len() > 3 {
            return Err(bad("more than three parts"));
        }
        for p in &parts {
            if p.is_empty() {
                return Err(bad("an empty part"));
            }
            if let Some(why) = check_segment(p) {
                return Err(bad(why));
            }
        }
        Ok(Scope { parts })
    }

    /// The levels, widest first: `org/ORG`, `team/ORG/TEAM`, `workspace/ORG/TEAM/WS`.
    pub fn levels(&self) -> Vec<String> {
        let names = ["org", "team", "workspace"];
        (1..=self.parts.len())
            .map(|n| format!("{}/{}", names[n - 1], self.parts[..n].join("/")))
            .collect()
    }

    pub fn as_text(&self) -> String {
        self.parts.join("/")
    }
}

/// One level's secret: its keys and values (a non-string value as JSON text).
pub type Level = (String, BTreeMap<String, Sensitive<String>>);

/// Reads every level at once; an absent level is empty. Widest first.
pub async fn read(
    bao: &BaoClient,
    namespace: &str,
    mount: &str,
    scope: &Scope,
) -> Result<Vec<Level>, RuntimeError> {
    let reads = scope.levels().into_iter().map(|level| async move {
        let path = ApiPath::route("").path(mount).lit("data").path(&level);
        let answer = bao
            .read(namespace, &path)
            .await
            .map_err(|e| RuntimeError::Scope {
                path: format!("{mount}/{level}"),
                source: Box::new(e),
            })?;
        Ok::<_, RuntimeError>((level, values(answer, "/data/data")))
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// The key → value map at `pointer` of a KV answer, each value moved into a [`Sensitive`].
pub fn values(answer: Option<Value>, pointer: &str) -> BTreeMap<String, Sensitive<String>> {
    let mut out = BTreeMap::new();
    let Some(mut answer) = answer else {
        return out;
    };
    if let Some(Value::Object(m)) = answer.pointer_mut(pointer).map(Value::take) {
        for (k, v) in m {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, Sensitive::new(text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_widest_first() {
        let s = Scope::parse("acme/platform/search").unwrap();
        assert_eq!(
            s.levels(),
            [
                "org/acme",
                "team/acme/platform",
                "workspace/acme/platform/search"
            ]
        );
        assert_eq!(Scope::parse("acme").unwrap().levels(), ["org/acme"]);
    }

    #[test]
    fn bad_scopes_are_refused() {
        for bad in ["", "a//b", "a/b/c/d", "a/../b", "a/./b"] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }
}

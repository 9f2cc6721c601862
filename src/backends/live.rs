//! What a server answered about one object, held the way secrets are held.
//!
//! A live object can carry secret values (the data of a KV secret, read back to compare it), so
//! every live object is kept in a [`Sensitive`] wrapper: zeroized when dropped, never printed —
//! its `Debug` lists the field names only. Values leave it through [`Live::get`] for comparison
//! and through the plan's rendering, which shows only fields that are not sensitive.

use std::fmt;

use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::sensitive::Sensitive;

/// A JSON value that may be a secret: its strings are wiped when it is dropped.
#[derive(Clone, Default, PartialEq)]
pub struct SecretJson(pub Value);

fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
    *v = Value::Null;
}

impl Zeroize for SecretJson {
    fn zeroize(&mut self) {
        wipe(&mut self.0);
    }
}

/// The fields of a live object, flattened by its kind (the server's field names; nested
/// settings as dotted names such as `tune.default_lease_ttl`).
#[derive(Clone, Default, PartialEq)]
struct Fields(Map<String, Value>);

impl Zeroize for Fields {
    fn zeroize(&mut self) {
        self.0.values_mut().for_each(wipe);
        self.0.clear();
    }
}

/// A live object: its fields and, where the server versions it, its current revision (a KV
/// secret's version, for check-and-set).
#[derive(Clone, Default, PartialEq)]
pub struct Live {
    fields: Sensitive<Fields>,
    /// The object's current version where the server keeps one (KV v2), for check-and-set.
    pub revision: Option<u64>,
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    pub fn from_map(map: Map<String, Value>) -> Live {
        Live {
            fields: Sensitive::new(Fields(map)),
            revision: None,
        }
    }

    fn map(&self) -> &Map<String, Value> {
        &self.fields.expose().0
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.map().get(field)
    }

    pub fn contains_key(&self, field: &str) -> bool {
        self.map().contains_key(field)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map().keys()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.map().iter()
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// Sets a field (kinds flattening an answer).
    pub fn insert(&mut self, field: impl Into<String>, value: Value) {
        self.fields.expose_mut().0.insert(field.into(), value);
    }

    pub fn remove(&mut self, field: &str) -> Option<Value> {
        self.fields.expose_mut().0.remove(field)
    }

    /// A copy of the fields, to become part of a request body (a KV write that keeps the keys
    /// the file does not declare). Call it only for that.
    pub fn to_map(&self) -> Map<String, Value> {
        self.map().clone()
    }

    pub fn with_revision(mut self, revision: Option<u64>) -> Live {
        self.revision = revision;
        self
    }
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("fields", &self.map().keys().collect::<Vec<_>>())
            .field("revision", &self.revision)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_shows_names_not_values() {
        let mut live = Live::new();
        live.insert("password", json!("canary-live-1"));
        live.insert("nested", json!({"k": ["canary-live-2"]}));
        let text = format!("{live:?} {live:#?}");
        assert!(text.contains("password") && text.contains("nested"));
        assert!(!text.contains("canary"), "{text}");
        assert_eq!(live.get("password"), Some(&json!("canary-live-1")));
    }

    #[test]
    fn zeroize_wipes_strings() {
        let mut s = SecretJson(json!({"a": "x", "b": [1, "y"]}));
        s.zeroize();
        assert_eq!(s.0, Value::Null);
    }
}

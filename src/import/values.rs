//! What import does to the values it reads: drops what carries no information, formats
//! durations, regroups dotted attributes into the file's nesting, and names the environment
//! variables that stand in for secrets.

use serde_json::{Map, Value, json};

use crate::backends::Live;
use crate::backends::spec::OPENBAO;
use crate::duration;

/// Drops what carries no information: nulls, empty strings, lists and maps, zeros.
pub(super) fn clean(live: Live) -> Map<String, Value> {
    live.to_map()
        .into_iter()
        .filter(|(_, v)| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::Bool(_) => true,
        })
        .map(|(k, v)| {
            // What it imports are OpenBao's objects: their duration fields, by its rules.
            let v = match (&v, OPENBAO.durations.has(&k)) {
                (Value::Number(n), true) => n
                    .as_u64()
                    .map(|s| Value::String(duration::format(s)))
                    .unwrap_or(v),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

/// Keeps only `keep` (when given) and drops `drop`.
pub(super) fn pick(
    mut m: Map<String, Value>,
    keep: Option<&[&str]>,
    drop: &[&str],
) -> Map<String, Value> {
    if let Some(keep) = keep {
        m.retain(|k, _| keep.contains(&k.as_str()));
    }
    m.retain(|k, _| !drop.contains(&k.as_str()));
    m
}

/// Regroups dotted mount attributes (`tune.x`, `options.y`) into nested maps.
pub(super) fn nest(flat: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in flat {
        match k.split_once('.') {
            Some((group, key)) => {
                let entry = out.entry(group.to_owned()).or_insert_with(|| json!({}));
                if let Some(o) = entry.as_object_mut() {
                    o.insert(key.to_owned(), v);
                }
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// An environment variable name for a value: its path in upper case, and 8 hex digits of a
/// hash of the exact path, so `a-b` and `a_b` (which read alike) get different names and the
/// same value gets the same name in every import.
pub(super) fn env_name(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::new();
    for c in parts.join("_").chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let base = out.trim_matches('_');
    let hash = hex::encode(Sha256::digest(parts.join("\0").as_bytes()));
    if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
        format!("AEGIS_{base}_{}", &hash[..8])
    } else {
        format!("{base}_{}", &hash[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_names_follow_the_path_and_never_collide() {
        let a = env_name(&["", "aegis-system", "tools/search-api-key", "value"]);
        assert!(
            a.starts_with("AEGIS_SYSTEM_TOOLS_SEARCH_API_KEY_VALUE_"),
            "{a}"
        );
        assert_eq!(
            a.len(),
            "AEGIS_SYSTEM_TOOLS_SEARCH_API_KEY_VALUE_".len() + 8
        );
        // Stable: the same path gives the same name in every import.
        assert_eq!(
            a,
            env_name(&["", "aegis-system", "tools/search-api-key", "value"])
        );
        // Paths that read alike get different names.
        let b = env_name(&["tenant-acme", "db", "pw"]);
        let c = env_name(&["tenant_acme", "db", "pw"]);
        assert!(b.starts_with("TENANT_ACME_DB_PW_") && c.starts_with("TENANT_ACME_DB_PW_"));
        assert_ne!(b, c);
        assert!(env_name(&["", "1kv", "x"]).starts_with("AEGIS_1KV_X_"));
    }

    #[test]
    fn clean_drops_empties_and_formats_durations() {
        let live = Live::from_map(
            serde_json::from_value(
                json!({"a": "", "b": [], "c": 0, "token_ttl": 3600, "d": false, "e": "x"}),
            )
            .unwrap(),
        );
        let m = clean(live);
        assert_eq!(
            Value::Object(m),
            json!({"token_ttl": "1h", "d": false, "e": "x"})
        );
    }
}

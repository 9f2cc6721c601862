//! Read-your-writes through a raft cluster: which of two `X-Vault-Index` values is newer.
//!
//! OpenBao answers writes with an `X-Vault-Index` header (base64 of a JSON object with the
//! `cluster` and a storage-specific `value`). aegisctl sends the newest one it got back with
//! every later request (with `X-Vault-Inconsistent: forward-active-node`), so that a standby
//! that has not applied our own writes yet forwards the request to the active node. Answers to concurrent writes can arrive out of order; when both values read as raft
//! log positions the larger wins, otherwise the latest answer does (the index is meant to be
//! opaque, so this is a best effort that never goes wrong by more than one concurrent write).

use base64::Engine;
use serde_json::Value;

/// The raft position inside an index, when it has a readable one (OpenBao 2.7.2 sends
/// `{"cluster":"<id>","value":"<raft index>"}`, see docs/raft-notes.md).
fn position(index: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(index.trim())
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    match v.get("value")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The newer of the index we had and the one just received.
pub fn newer(old: Option<String>, new: String) -> String {
    match old {
        Some(old) => match (position(&old), position(&new)) {
            (Some(a), Some(b)) if a > b => old,
            _ => new,
        },
        None => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(v)
    }

    #[test]
    fn the_larger_raft_position_wins_whatever_the_order() {
        let a = enc(r#"{"cluster":"c1","value":"17"}"#);
        let b = enc(r#"{"cluster":"c1","value":"12"}"#);
        assert_eq!(newer(Some(a.clone()), b.clone()), a);
        assert_eq!(newer(Some(b), a.clone()), a);
    }

    #[test]
    fn an_unreadable_index_takes_the_latest() {
        assert_eq!(
            newer(Some("opaque-1".into()), "opaque-2".into()),
            "opaque-2"
        );
        assert_eq!(newer(None, "x".into()), "x");
    }
}

//! How the ledger's entries are stored: one document per namespace, split into parts past
//! [`SHARD_TARGET`] bytes, at `shards/<16 hex digits of the namespace's SHA-256>-<part>` (the
//! hash keeps any namespace name out of the key's syntax). Each document holds its entries as
//! one JSON string, because OpenBao refuses request bodies with more than 1,000 JSON strings.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::doc::{self, DocError};
use super::ledger::Entry;
use crate::backends::openbao::BaoClient;
use crate::model::Address;

/// Where the shards live in the ledger mount.
pub const SHARDS: &str = "shards";
/// A shard is split once its text would pass this size (half of the 512 KB each document is
/// kept under, leaving room for one more entry of any realistic size and for the escaping of the
/// text inside the document).
pub const SHARD_TARGET: usize = 256 * 1024;

/// One stored shard document.
#[derive(Clone, Debug)]
pub struct Stored {
    pub key: String,
    pub version: u64,
    pub text: String,
}

/// The document key of part `n` of a namespace's entries.
pub fn shard_key(namespace: &str, n: usize) -> String {
    let h = hex::encode(Sha256::digest(namespace.as_bytes()));
    format!("{SHARDS}/{}-{n}", &h[..16])
}

/// A namespace's entries as shard texts: JSON objects of at most about [`SHARD_TARGET`] bytes.
pub fn chunk(entries: &[(&Address, &Entry)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::from("{");
    for (addr, entry) in entries {
        let item = format!(
            "{}:{}",
            serde_json::to_string(&addr.0).unwrap_or_default(),
            serde_json::to_string(entry).unwrap_or_default()
        );
        if cur.len() > 1 && cur.len() + item.len() + 2 > SHARD_TARGET {
            cur.push('}');
            out.push(std::mem::replace(&mut cur, String::from("{")));
        }
        if cur.len() > 1 {
            cur.push(',');
        }
        cur.push_str(&item);
    }
    if cur.len() > 1 {
        cur.push('}');
        out.push(cur);
    }
    out
}

/// Writes one namespace's shard texts over what is stored (only the documents whose text
/// changed, each with check-and-set; parts no longer needed deleted); returns the new stored
/// list. On a failure, the stored list as it then is.
pub async fn write_namespace(
    client: &BaoClient,
    mount: &str,
    ns: &str,
    texts: &[String],
    old: Vec<Stored>,
) -> Result<Vec<Stored>, (Vec<Stored>, DocError)> {
    let mut stored = Vec::new();
    let mut old = old.into_iter();
    for (n, text) in texts.iter().enumerate() {
        let prev = old.next();
        if let Some(p) = &prev
            && p.text == *text
        {
            stored.push(p.clone());
            continue;
        }
        let key = shard_key(ns, n);
        let cas = prev.as_ref().map_or(0, |p| p.version);
        let data = json!({ "format": 3, "namespace": ns, "part": n, "resources": text });
        match doc::write(client, mount, &key, data, cas).await {
            Ok(version) => {
                stored.push(Stored {
                    key,
                    version,
                    text: text.clone(),
                });
            }
            Err(e) => {
                if let Some(p) = prev {
                    stored.push(p);
                }
                stored.extend(old);
                return Err((stored, e));
            }
        }
    }
    for extra in old {
        if let Err(e) = doc::delete(client, mount, &extra.key).await {
            return Err((stored, e.into()));
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceId;
    use std::collections::BTreeMap;

    fn entry(i: usize) -> (Address, Entry) {
        let id = ResourceId::new("ns", "policy", None, &format!("p-{i:06}"));
        (
            id.address(),
            Entry {
                id,
                owner: "t".into(),
                pending: false,
                fp: BTreeMap::from([("password".into(), "ab".repeat(32))]),
            },
        )
    }

    #[test]
    fn chunks_stay_under_the_target_and_round_trip() {
        let all: BTreeMap<Address, Entry> = (0..5000).map(entry).collect();
        let refs: Vec<(&Address, &Entry)> = all.iter().collect();
        let texts = chunk(&refs);
        assert!(texts.len() > 1, "5,000 entries need several shards");
        let mut back = BTreeMap::new();
        for t in &texts {
            assert!(t.len() <= SHARD_TARGET, "{}", t.len());
            let part: BTreeMap<Address, Entry> = serde_json::from_str(t).unwrap();
            back.extend(part);
        }
        assert_eq!(back, all);
        assert!(chunk(&[]).is_empty());
    }

    #[test]
    fn shard_keys_do_not_depend_on_namespace_syntax() {
        let a = shard_key("tenant-a/team 1", 0);
        assert!(a.starts_with("shards/") && !a[7..].contains('/') && !a.contains(' '));
        assert_ne!(shard_key("a", 0), shard_key("b", 0));
        assert_ne!(shard_key("a", 0), shard_key("a", 1));
    }
}

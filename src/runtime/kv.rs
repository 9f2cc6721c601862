//! `vault:` references at run time: which mount a path is in (the topology's declared KV v2
//! mounts first; else OpenBao's own answer, as `bao kv` asks it) and one read per secret.

use std::collections::BTreeMap;

use serde_json::Value;

use super::profile::RuntimeSpec;
use super::scopes;
use crate::backends::openbao::BaoClient;
use crate::backends::path::ApiPath;
use crate::sensitive::Sensitive;

/// Where KV secret `path` lives: its mount, the path inside it, and whether it is KV v2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KvPath {
    mount: String,
    rel: String,
    v2: bool,
}

pub fn declared_mount(spec: &RuntimeSpec, ns: &str, path: &str) -> Option<KvPath> {
    let mounts = spec.kv_mounts.get(ns)?;
    let m = mounts
        .iter()
        .filter(|m| path.starts_with(&format!("{m}/")))
        .max_by_key(|m| m.len())?;
    Some(KvPath {
        mount: m.clone(),
        rel: path[m.len() + 1..].to_owned(),
        v2: true,
    })
}

/// Asks OpenBao where `path`'s mount is and which KV version it is (the endpoint the `bao kv`
/// commands use, open to any token that may read below the mount); the first segment as a KV v2
/// mount when it will not say.
pub async fn mount_of(bao: &BaoClient, ns: &str, path: &str) -> KvPath {
    let api = ApiPath::route("sys/internal/ui/mounts").path(path);
    let answer = bao.read(ns, &api).await.ok().flatten();
    let data = answer.as_ref().and_then(|a| a.get("data"));
    let mount = data
        .and_then(|d| d.get("path"))
        .and_then(Value::as_str)
        .map(|m| m.trim_matches('/').to_owned())
        .filter(|m| !m.is_empty() && path.starts_with(&format!("{m}/")));
    match mount {
        Some(m) => KvPath {
            rel: path[m.len() + 1..].to_owned(),
            v2: data
                .and_then(|d| d.pointer("/options/version"))
                .and_then(Value::as_str)
                != Some("1"),
            mount: m,
        },
        None => {
            let (m, rel) = path.split_once('/').unwrap_or((path, ""));
            KvPath {
                mount: m.to_owned(),
                rel: rel.to_owned(),
                v2: true,
            }
        }
    }
}

/// One KV secret's keys and values; empty when absent.
pub async fn read_kv(
    bao: &BaoClient,
    ns: &str,
    p: &KvPath,
) -> Result<BTreeMap<String, Sensitive<String>>, crate::backends::BaoError> {
    let (api, pointer) = if p.v2 {
        (
            ApiPath::route("").path(&p.mount).lit("data").path(&p.rel),
            "/data/data",
        )
    } else {
        (ApiPath::route("").path(&p.mount).path(&p.rel), "/data")
    };
    let answer = bao.read(ns, &api).await?;
    Ok(scopes::values(answer, pointer))
}

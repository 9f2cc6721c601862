//! Whether the node aegisctl talks to is a raft standby that lags behind its leader.
//!
//! OpenBao 2.x standbys answer reads themselves, from their own copy of the raft log. A plan,
//! or a drift report, read from a standby that has not applied the latest entries (just
//! restarted, or slow) would show changes that do not exist. Requests after our own writes are
//! made consistent with `X-Vault-Index` (see `consistency.rs`), but a read-only run has no
//! write of its own: before it reads, it asks the leader (whose `sys/leader` needs no token)
//! what it has committed, waits briefly until the standby has applied as much, and otherwise
//! says that what follows may be stale.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::BaoClient;
use crate::backends::path::ApiPath;

/// How long a read-only run waits for a lagging standby to catch up.
const CATCH_UP: Duration = Duration::from_secs(10);

fn index(v: &Value, key: &str) -> u64 {
    v.pointer(&format!("/{key}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// `None` when the node is active, not in a cluster, or a standby that has caught up; else a
/// warning saying why what it answers may be stale.
pub async fn standby_lag(client: &BaoClient) -> Option<String> {
    let path = ApiPath::route("sys/leader");
    let first = client.read("", &path).await.ok().flatten()?;
    if first.get("ha_enabled") != Some(&Value::Bool(true))
        || first.get("is_self") == Some(&Value::Bool(true))
    {
        return None;
    }
    let leader = first
        .get("leader_address")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if leader.is_empty() {
        return Some(format!(
            "OpenBao at {} is a standby that knows no active node: what it answers may be stale; point openbao.address at the active node for a plan you can rely on",
            client.address()
        ));
    }
    // What the leader has committed (its `sys/leader` needs no token, and none is sent); the
    // standby's own idea of it when the leader cannot be asked from here.
    let committed = match client.peek(&leader, "sys/leader").await {
        Some(v) => index(&v, "raft_committed_index"),
        None => index(&first, "raft_committed_index"),
    };
    let started = Instant::now();
    let mut applied = index(&first, "raft_applied_index");
    while applied < committed && started.elapsed() < CATCH_UP {
        tokio::time::sleep(Duration::from_millis(100)).await;
        applied = match client.read("", &path).await {
            Ok(Some(v)) => index(&v, "raft_applied_index"),
            _ => applied,
        };
    }
    (applied < committed).then(|| {
        format!(
            "OpenBao at {} is a standby {} raft entries behind its leader ({leader}) after {}s: what it answers may be stale; point openbao.address at the active node for a plan you can rely on",
            client.address(),
            committed - applied,
            CATCH_UP.as_secs()
        )
    })
}

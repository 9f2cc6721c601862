//! The access record of every resolution (the seeds' AccessContext): who (the token's accessor
//! and display name), on which host, which profile and scope, why (`--reason`), when, each
//! variable's name and source, and the lease ids — never a value. Appended to a local JSON-lines
//! file and written to OpenBao as a KV document of its own (`MOUNT/PREFIX/HOST/DATE/ID`), which a
//! runtime token needs only `create` on: it can add records, never read or rewrite them.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RuntimeError;
use super::profile::AuditTarget;
use crate::backends::openbao::{BaoClient, Body};
use crate::backends::path::ApiPath;

/// The record format's version.
pub const VERSION: u32 = 1;

/// Who resolved: the token's accessor (not the token) and its display name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    pub accessor: String,
    pub display_name: String,
    /// How aegisctl logged in: `approle approle/ROLE` or `token`.
    pub login: String,
}

/// One variable handed over: its name and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarRecord {
    pub name: String,
    /// The reference (`vault:…`, `lease:…`, `env:NAME`, `literal`, `scope`).
    pub source: String,
    /// For scoped secrets: the scope that won (`workspace/acme/platform/search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
}

/// One lease minted for the resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub lease_id: String,
    pub path: String,
    pub ttl_seconds: u64,
    pub renewable: bool,
}

/// One resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    /// Unique per record (time and randomness): the OpenBao document's name.
    pub id: String,
    /// RFC 3339 UTC.
    pub time: String,
    /// `run`, `env` or `env --explain`.
    pub command: String,
    pub host: String,
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The namespace the profile was resolved in (`""`: root).
    #[serde(default)]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub who: Who,
    /// The started program's file name (`run` only; never its arguments, which may hold data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    pub variables: Vec<VarRecord>,
    pub leases: Vec<LeaseRecord>,
}

/// A fresh record id: the time to the nanosecond (so ids sort as the records were made, also
/// within one second) and 8 random bytes.
pub fn new_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let bytes: [u8; 8] = rand::random();
    format!(
        "{}-{:09}-{}",
        now.as_secs(),
        now.subsec_nanos(),
        hex::encode(bytes)
    )
}

/// This host's name, as the record says it.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Appends the record to the local JSON-lines file (created 0600).
pub fn append_local(file: &Path, record: &Record) -> Result<(), RuntimeError> {
    let fail = |e: std::io::Error| RuntimeError::AuditFile {
        path: file.to_path_buf(),
        reason: e.to_string(),
    };
    let line = serde_json::to_string(record).map_err(|e| RuntimeError::AuditFile {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file).map_err(fail)?;
    f.write_all(format!("{line}\n").as_bytes()).map_err(fail)
}

/// Writes the record as its own KV v2 document in OpenBao, with `cas: 0` (it must not exist).
///
/// Sent once: a runtime policy has only `create` there, so a retry of a write that had landed
/// would be refused (403, an update) rather than recognised. When the answer is lost (or the
/// server failed after receiving it) the record is written once more beside the first, as
/// `ID-again`: a record twice (the listing keeps one per id) is better than an access refused
/// for want of its answer, or one not recorded.
pub async fn write_openbao(
    bao: &BaoClient,
    target: &AuditTarget,
    record: &Record,
) -> Result<String, RuntimeError> {
    let date = record.time.get(..10).unwrap_or("undated");
    let dir = format!("{}/{}/{date}", target.prefix, record.host);
    let dir = dir.trim_matches('/').to_owned();
    let data = serde_json::to_value(record).map_err(|e| RuntimeError::AuditFile {
        path: target.file.clone(),
        reason: e.to_string(),
    })?;
    let body = Body::new(serde_json::json!({ "options": { "cas": 0 }, "data": data }));
    let put = |name: String| {
        let rel = format!("{dir}/{name}");
        let body = &body;
        async move {
            let path = ApiPath::route("")
                .path(&target.mount)
                .lit("data")
                .path(&rel);
            let sent = bao
                .request_unrepeatable(
                    reqwest::Method::POST,
                    &target.namespace,
                    &path,
                    Some(body),
                    None,
                )
                .await;
            (format!("{}/{rel}", target.mount), sent)
        }
    };
    let fail = |path: String, e: crate::backends::BaoError| RuntimeError::AuditOpenBao {
        path,
        namespace: target.namespace.clone(),
        source: Box::new(e),
    };
    match put(record.id.clone()).await {
        (path, Ok(_)) => Ok(path),
        (_, Err(e)) if fate_unknown(&e) => match put(format!("{}-again", record.id)).await {
            (path, Ok(_)) => Ok(path),
            (path, Err(e)) => Err(fail(path, e)),
        },
        (path, Err(e)) => Err(fail(path, e)),
    }
}

/// Whether a write may have been done although it failed: its answer was lost, or the server
/// failed after receiving it.
fn fate_unknown(e: &crate::backends::BaoError) -> bool {
    e.may_have_landed() || matches!(e.status(), Some(500..=599))
}

/// Reads the audit documents in OpenBao (`MOUNT/PREFIX/HOST/DATE/ID`, every host's), of the dates
/// from `since_date` (`YYYY-MM-DD`) on; oldest first. Listing needs `list` and `read` on them: an
/// operator's token, not a runtime's.
pub async fn read_openbao(
    bao: &BaoClient,
    target: &AuditTarget,
    since_date: Option<&str>,
) -> Result<Vec<Record>, RuntimeError> {
    use futures::StreamExt;
    let fail = |path: &str, e: crate::backends::BaoError| RuntimeError::AuditOpenBao {
        path: format!("{}/{path}", target.mount),
        namespace: target.namespace.clone(),
        source: Box::new(e),
    };
    let list = |rel: String| async move {
        let path = ApiPath::route("")
            .path(&target.mount)
            .lit("metadata")
            .dir(&rel);
        bao.list(&target.namespace, &path)
            .await
            .map_err(|e| fail(&rel, e))
    };
    let base = target.prefix.trim_matches('/').to_owned();
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.trim_matches('/').to_owned()
        } else {
            format!("{a}/{}", b.trim_matches('/'))
        }
    };
    let mut ids = Vec::new();
    for host in list(base.clone()).await? {
        let host_dir = join(&base, &host);
        for date in list(host_dir.clone()).await? {
            if since_date.is_some_and(|d| date.trim_end_matches('/') < d) {
                continue;
            }
            let date_dir = join(&host_dir, &date);
            for id in list(date_dir.clone()).await? {
                ids.push(join(&date_dir, &id));
            }
        }
    }
    let reads = futures::stream::iter(ids.into_iter().map(|rel| async move {
        let path = ApiPath::route("")
            .path(&target.mount)
            .lit("data")
            .path(&rel);
        let answer = bao
            .read(&target.namespace, &path)
            .await
            .map_err(|e| fail(&rel, e))?;
        let data = answer
            .and_then(|mut a| a.pointer_mut("/data/data").map(serde_json::Value::take))
            .unwrap_or_default();
        serde_json::from_value::<Record>(data).map_err(|e| RuntimeError::AuditFile {
            path: format!("{}/{rel}", target.mount).into(),
            reason: format!("not an aegisctl runtime audit record: {e}"),
        })
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    let mut records = reads.into_iter().collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| (&a.time, &a.id).cmp(&(&b.time, &b.id)));
    // A record written twice (`ID-again`, see `write_openbao`) is one record.
    records.dedup_by(|a, b| a.id == b.id);
    Ok(records)
}

/// Reads a local audit file: every record, in order; a line that is not a record is an error
/// naming its line number.
pub fn read_local(file: &Path) -> Result<Vec<Record>, RuntimeError> {
    let text = std::fs::read_to_string(file).map_err(|e| RuntimeError::AuditFile {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line).map_err(|e| RuntimeError::AuditFile {
            path: file.to_path_buf(),
            reason: format!(
                "line {} is not an aegisctl runtime audit record: {}",
                n + 1,
                e
            ),
        })?;
        out.push(record);
    }
    Ok(out)
}

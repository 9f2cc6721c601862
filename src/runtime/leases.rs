//! Dynamic credentials (`lease:database/creds/ROLE`, AWS STS, …): minted once per path per run,
//! renewed while the process lives (up to their max TTL, with a warning before they end),
//! revoked when it exits. If aegisctl itself is killed they still end at their TTL, which is why
//! the roles they come from should keep short default TTLs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::backends::BaoError;
use crate::backends::openbao::{BaoClient, Body};
use crate::backends::path::ApiPath;
use crate::sensitive::Sensitive;

/// One minted credential.
pub struct Lease {
    pub lease_id: String,
    /// `MOUNT/PATH` as the profile wrote it.
    pub path: String,
    pub namespace: String,
    /// Seconds granted at mint (the increment asked for at each renewal).
    pub ttl: u64,
    pub renewable: bool,
    /// Each field of the credential, as text (a non-string field as JSON).
    pub fields: BTreeMap<String, Sensitive<String>>,
    /// The whole credential as a JSON object (a `lease:` reference without a field).
    pub whole: Sensitive<String>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("lease_id", &self.lease_id)
            .field("path", &self.path)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Mints a credential: one GET of its path. Not sent again when it may have landed: a retry
/// would mint a second credential nobody revokes.
pub async fn mint(bao: &BaoClient, namespace: &str, path: &str) -> Result<Lease, BaoError> {
    let api = ApiPath::route("").path(path);
    let answer = bao
        .request_unrepeatable(reqwest::Method::GET, namespace, &api, None, None)
        .await?;
    let mut answer = answer.ok_or_else(|| {
        BaoError::Refused(format!(
            "{path}: OpenBao has nothing there (no such role or mount)"
        ))
    })?;
    let mut data = match answer.get_mut("data").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut fields = BTreeMap::new();
    for (k, v) in data.iter_mut() {
        let text = match v.take() {
            Value::String(s) => s,
            other => other.to_string(),
        };
        fields.insert(k.clone(), Sensitive::new(text));
    }
    let whole = {
        let object: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.expose().clone())))
            .collect();
        Sensitive::new(Value::Object(object).to_string())
    };
    Ok(Lease {
        lease_id: answer
            .get("lease_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        path: path.to_owned(),
        namespace: namespace.to_owned(),
        ttl: answer
            .get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        renewable: answer
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        fields,
        whole,
    })
}

/// Renews a lease by its original TTL; returns the TTL OpenBao granted (less once the lease
/// meets its max TTL).
pub async fn renew(bao: &BaoClient, lease: &Lease) -> Result<u64, BaoError> {
    let path = ApiPath::route("sys/leases/renew");
    let body = Body::new(json!({ "lease_id": lease.lease_id, "increment": lease.ttl }));
    let answer = bao.write(&lease.namespace, &path, &body).await?;
    Ok(answer
        .as_ref()
        .and_then(|a| a.get("lease_duration"))
        .and_then(Value::as_u64)
        .unwrap_or(0))
}

/// Revokes a lease now (the database role is dropped, the STS key disabled).
pub async fn revoke(bao: &BaoClient, lease: &Lease) -> Result<(), BaoError> {
    if lease.lease_id.is_empty() {
        return Ok(());
    }
    let path = ApiPath::route("sys/leases/revoke");
    let body = Body::new(json!({ "lease_id": lease.lease_id }));
    bao.write(&lease.namespace, &path, &body).await.map(|_| ())
}

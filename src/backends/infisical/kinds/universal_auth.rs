//! The Universal Auth config of an identity (`/api/v1/auth/universal-auth/identities/{id}`),
//! named by the identity's name in the org scope: `infisical[org].universal_auth["agent-runner"]`.
//!
//! Field names are aegisctl's snake_case, mapped to the API's here. Durations may be written
//! `1h` (the spec declares them, so the differ compares seconds) and go out as integer seconds.
//! Trusted IPs go out as `{ipAddress}` items and come back parsed (`{type, ipAddress, prefix}`):
//! both sides become sorted canonical CIDR strings ([`ips`]). A config that is absent reads as
//! `None` whether the server says 404 (current) or 400 "does not have universal auth" (legacy).
//! Deleting it revokes every client secret minted from it, which hosts hold.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Infisical, ORG_SCOPE, absent_ok, rid, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::ips;
use crate::backends::infisical::routes;
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made, SecretJson};
use crate::model::{Backend, DesiredResource, ResourceId};
use crate::sensitive::Sensitive;

pub const KIND: &str = "universal_auth";

/// The fields holding durations.
pub const DURATIONS: &[&str] = &[
    "access_token_ttl",
    "access_token_max_ttl",
    "access_token_period",
];

/// The fields holding trusted-IP lists.
const IP_LISTS: &[&str] = &["client_secret_trusted_ips", "access_token_trusted_ips"];

pub static SPEC: KindSpec = spec::infisical(
    "infisical.identities.*.universal_auth",
    Some("identity"),
    &[],
    DURATIONS,
);

/// aegisctl's attribute names and the API's.
pub const FIELDS: &[(&str, &str)] = &[
    ("access_token_ttl", "accessTokenTTL"),
    ("access_token_max_ttl", "accessTokenMaxTTL"),
    ("access_token_period", "accessTokenPeriod"),
    ("access_token_num_uses_limit", "accessTokenNumUsesLimit"),
    ("client_secret_trusted_ips", "clientSecretTrustedIps"),
    ("access_token_trusted_ips", "accessTokenTrustedIps"),
    ("lockout_enabled", "lockoutEnabled"),
    ("lockout_threshold", "lockoutThreshold"),
    ("lockout_duration_seconds", "lockoutDurationSeconds"),
    (
        "lockout_counter_reset_seconds",
        "lockoutCounterResetSeconds",
    ),
];

pub struct UniversalAuth {
    inf: Arc<Infisical>,
}

impl UniversalAuth {
    pub fn new(inf: Arc<Infisical>) -> Self {
        UniversalAuth { inf }
    }
}

/// A declared value as the API takes it: durations as integer seconds, IP lists as items.
pub fn to_api(field: &str, value: Value) -> Result<Value, String> {
    if IP_LISTS.contains(&field) {
        return Ok(ips::request_items(&value));
    }
    match value {
        Value::String(s) if DURATIONS.contains(&field) || field.ends_with("_seconds") => {
            crate::duration::parse(&s)
                .map(|n| json!(n))
                .map_err(|e| format!("`{field}`: `{s}` is not a duration: {e}"))
        }
        other => Ok(other),
    }
}

/// The body of the declared fields `which` selects, in API names.
pub fn body_of(res: &DesiredResource, which: impl Fn(&str) -> bool) -> Result<Value, BackendError> {
    let mut body = Map::new();
    for (ours, api) in FIELDS {
        if !which(ours) {
            continue;
        }
        if let Some(v) = wire(res, ours) {
            let v = to_api(ours, v)
                .map_err(|e| BackendError::Refused(format!("{}: {e}", res.address)))?;
            body.insert((*api).into(), v);
        }
    }
    Ok(Value::Object(body))
}

/// The live form of a UA config: aegisctl's names, trusted IPs as canonical CIDR strings.
pub fn live_of(ua: &Value) -> Live {
    let mut live = Live::new();
    for (ours, api) in FIELDS {
        if let Some(v) = ua.get(*api) {
            let v = if IP_LISTS.contains(ours) {
                ips::normalise(v)
            } else {
                v.clone()
            };
            live.insert(*ours, v);
        }
    }
    if let Some(c) = ua.get("clientId") {
        live.insert("client_id", c.clone());
    }
    live
}

#[async_trait]
impl Kind for UniversalAuth {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Infisical
    }

    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its client secrets: every host bootstrapped with one loses it"
    }

    fn destroy_order(&self) -> u8 {
        30
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        Some(rid(ORG_SCOPE, super::identity::KIND, None, &id.name))
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        if IP_LISTS.contains(&field) {
            ips::normalise(&value)
        } else {
            value
        }
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some(iid) = self
            .inf
            .lookup
            .identity_id(&self.inf.client, &id.name)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .inf
            .client
            .universal_auth(&iid)
            .await?
            .map(|ua| live_of(&ua)))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let iid = self.inf.identity(&res.id.name).await?;
        let body = body_of(res, |_| true)?;
        let r = self
            .inf
            .client
            .call(
                Method::POST,
                &routes::universal_auth(&iid),
                Some(&Body::new(body.clone())),
                Retry::Safe,
            )
            .await;
        match r {
            Ok(_) => Ok(Made::none()),
            // Attached already (meanwhile, or by a first attempt): converge it with a PATCH.
            Err(e) if e.is_duplicate() => {
                if body.as_object().is_some_and(|m| !m.is_empty()) {
                    self.inf.client.update_universal_auth(&iid, body).await?;
                }
                Ok(Made::none())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        res: &DesiredResource,
        changed: &BTreeSet<String>,
        _live: &Live,
    ) -> Result<(), BackendError> {
        let iid = self.inf.identity(&res.id.name).await?;
        let body = body_of(res, |f| changed.contains(f))?;
        if body.as_object().is_some_and(|m| m.is_empty()) {
            return Ok(());
        }
        self.inf.client.update_universal_auth(&iid, body).await?;
        Ok(())
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some(iid) = self
            .inf
            .lookup
            .identity_id(&self.inf.client, &id.name)
            .await?
        else {
            return Ok(());
        };
        if self
            .inf
            .lookup
            .own_identity(&self.inf.client)
            .await?
            .as_deref()
            == Some(iid.as_str())
        {
            return Err(BackendError::Refused(format!(
                "{}: this is the Universal Auth aegisctl logs in with; it is never deleted",
                id.address()
            )));
        }
        let r = self
            .inf
            .client
            .call(
                Method::DELETE,
                &routes::universal_auth(&iid),
                None,
                Retry::Safe,
            )
            .await;
        absent_ok(r)
    }

    async fn output(
        &self,
        id: &ResourceId,
        name: &str,
    ) -> Result<Option<Sensitive<SecretJson>>, BackendError> {
        if name != "client_id" {
            return Ok(None);
        }
        let Some(iid) = self
            .inf
            .lookup
            .identity_id(&self.inf.client, &id.name)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .inf
            .client
            .universal_auth(&iid)
            .await?
            .and_then(|ua| ua.get("clientId").cloned())
            .map(|c| Sensitive::new(SecretJson(c))))
    }

    async fn list(
        &self,
        scope: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if scope != ORG_SCOPE {
            return Ok(Vec::new());
        }
        let own = self.inf.lookup.own_identity(&self.inf.client).await?;
        let all = self.inf.lookup.identities(&self.inf.client).await?;
        let names: BTreeSet<&str> = all
            .iter()
            .filter(|i| super::lookup::has_universal_auth(i))
            .filter(|i| {
                let id = crate::backends::infisical::calls::identity_id_of(i);
                id.is_some() && id != own.as_deref()
            })
            .filter_map(crate::backends::infisical::calls::identity_name)
            .collect();
        Ok(names
            .into_iter()
            .map(|n| rid(ORG_SCOPE, KIND, None, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrValue;
    use std::collections::BTreeMap;

    #[test]
    fn fields_map_both_ways() {
        let id = rid(ORG_SCOPE, KIND, None, "agent-runner");
        let mut attrs = BTreeMap::new();
        attrs.insert("access_token_ttl".into(), AttrValue::Plain(json!("1h")));
        attrs.insert("access_token_max_ttl".into(), AttrValue::Plain(json!(7200)));
        attrs.insert(
            "client_secret_trusted_ips".into(),
            AttrValue::Plain(json!(["10.0.8.0/24"])),
        );
        attrs.insert("lockout_enabled".into(), AttrValue::Plain(json!(false)));
        let res = DesiredResource::new(id, attrs);
        let body = body_of(&res, |_| true).expect("body");
        assert_eq!(
            body,
            json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 7200,
                "clientSecretTrustedIps": [{"ipAddress": "10.0.8.0/24"}], "lockoutEnabled": false})
        );
        let only = body_of(&res, |f| f == "lockout_enabled").expect("body");
        assert_eq!(only, json!({"lockoutEnabled": false}));
        assert!(to_api("access_token_ttl", json!("soon")).is_err());

        let live = live_of(&json!({"clientId": "c1", "accessTokenTTL": 3600,
            "clientSecretTrustedIps": [{"type": "ipv6", "prefix": 0, "ipAddress": "::"},
                                       {"type": "ipv4", "prefix": 0, "ipAddress": "0.0.0.0"}],
            "lockoutThreshold": 3}));
        assert_eq!(live.get("access_token_ttl"), Some(&json!(3600)));
        assert_eq!(
            live.get("client_secret_trusted_ips"),
            Some(&json!(["0.0.0.0/0", "::/0"]))
        );
        assert_eq!(live.get("lockout_threshold"), Some(&json!(3)));
        assert!(
            SPEC.durations.has("access_token_period") && !SPEC.durations.has("lockout_threshold")
        );
    }
}

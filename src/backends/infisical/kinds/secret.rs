//! Secrets (`/api/v3/secrets/raw/{name}`): mount = the environment's slug, name = `KEY` at `/`
//! or `app/db/KEY` in folder `/app/db` (`infisical[p].secret["prod/app/db/KEY"]`).
//!
//! The value is never kept: Infisical answers it in clear, and the moment an answer is parsed
//! each value becomes its run-keyed [`digest`] (the one Keycloak's client secrets use), the text
//! is wiped, and only the digest reaches a [`Live`]. A declared value is digested the same way in
//! [`Kind::normalise`], so a value changed behind aegisctl's back is drift and no value is ever
//! shown. Every request body carrying a value marks it for scrubbing from error messages. Reads
//! come from one listing per folder (shared through the lookup cache).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::lookup::Place;
use super::{Infisical, ORG_SCOPE, absent_ok, api_path, rid, split_last, wire};
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::backends::infisical::routes;
use crate::backends::keycloak::redact::{DIGEST_PREFIX, digest};
use crate::backends::spec::{self, KindSpec};
use crate::backends::{BackendError, Kind, Live, Made};
use crate::model::{Backend, DesiredResource, ResourceId};

pub const KIND: &str = "secret";

pub static SPEC: KindSpec = spec::infisical(
    "infisical.projects.*.environments.*.secrets",
    Some("environment"),
    &["value"],
    &[],
);

pub struct Secret {
    inf: Arc<Infisical>,
}

impl Secret {
    pub fn new(inf: Arc<Infisical>) -> Self {
        Secret { inf }
    }

    /// The folder place and key of a secret; `None` when its project is absent.
    async fn place(&self, id: &ResourceId) -> Result<Option<(Place, String)>, BackendError> {
        super::place_of(&self.inf, id).await
    }

    /// A request body: the place, and the declared fields `which` selects; the value marked.
    fn body(place: &Place, res: &DesiredResource, which: impl Fn(&str) -> bool) -> Body {
        let mut map = Map::new();
        map.insert("workspaceId".into(), json!(place.0));
        map.insert("environment".into(), json!(place.1));
        map.insert("secretPath".into(), json!(place.2));
        map.insert("type".into(), json!("shared"));
        let value = wire(res, "value").filter(|_| which("value"));
        if let Some(v) = &value {
            map.insert("secretValue".into(), as_text(v));
        }
        if which("comment") {
            map.insert(
                "secretComment".into(),
                wire(res, "comment").unwrap_or_else(|| json!("")),
            );
        }
        let body = Body::new(Value::Object(map));
        match &value {
            Some(v) => body.with_secret_value(v),
            None => body,
        }
    }

    async fn write(
        &self,
        method: Method,
        res: &DesiredResource,
        place: &Place,
        key: &str,
        which: impl Fn(&str) -> bool,
    ) -> Result<(), crate::backends::infisical::InfisicalError> {
        let body = Self::body(place, res, which);
        let r = self
            .inf
            .client
            .call(method, &routes::secret(key), Some(&body), Retry::Safe)
            .await;
        self.inf.lookup.forget_secrets(place);
        r.map(|_| ())
    }
}

/// A value as the API takes it: text (a number or bool declared unquoted becomes its text).
fn as_text(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        other => Value::String(other.to_string()),
    }
}

#[async_trait]
impl Kind for Secret {
    fn name(&self) -> &'static str {
        KIND
    }

    fn spec(&self) -> &'static KindSpec {
        &SPEC
    }

    fn backend(&self) -> Backend {
        Backend::Infisical
    }

    /// A pruned secret's value may exist nowhere else.
    fn delete_destroys_data(&self) -> bool {
        true
    }

    fn data_lost(&self) -> &'static str {
        "its value (Infisical keeps no copy aegisctl could restore)"
    }

    fn destroy_order(&self) -> u8 {
        10
    }

    fn container(&self, id: &ResourceId) -> Option<ResourceId> {
        let env = id.mount.as_deref()?;
        match split_last(&id.name) {
            ("", _) => Some(rid(&id.namespace, super::environment::KIND, None, env)),
            (folder, _) => Some(rid(&id.namespace, super::folder::KIND, Some(env), folder)),
        }
    }

    fn normalise(&self, field: &str, value: Value) -> Value {
        match value {
            Value::String(s) if field == "value" && !s.starts_with(DIGEST_PREFIX) => {
                Value::String(digest(&s))
            }
            v @ (Value::Number(_) | Value::Bool(_)) if field == "value" => {
                Value::String(digest(&v.to_string()))
            }
            other => other,
        }
    }

    async fn prefetch(&self, _scope: &str, ids: &[&ResourceId]) -> Result<(), BackendError> {
        let mut seen = BTreeSet::new();
        for id in ids {
            if let Some((place, _)) = self.place(id).await?
                && seen.insert(place.clone())
            {
                self.inf.lookup.secrets(&self.inf.client, &place).await?;
            }
        }
        Ok(())
    }

    async fn read(&self, id: &ResourceId) -> Result<Option<Live>, BackendError> {
        let Some((place, key)) = self.place(id).await? else {
            return Ok(None);
        };
        let listed = self.inf.lookup.secrets(&self.inf.client, &place).await?;
        Ok(listed.get(&key).map(|e| {
            let mut live = Live::new();
            live.insert("value", json!(e.digest));
            live.insert("comment", json!(e.comment));
            live
        }))
    }

    async fn create(&self, res: &DesiredResource) -> Result<Made, BackendError> {
        let Some((place, key)) = self.place(&res.id).await? else {
            return Err(self
                .inf
                .project(&res.id.namespace)
                .await
                .err()
                .unwrap_or_else(|| {
                    BackendError::Refused(format!("{}: no environment in its id", res.address))
                }));
        };
        match self.write(Method::POST, res, &place, &key, |_| true).await {
            Ok(()) => Ok(Made::none()),
            // The first attempt made it and the retry was refused as a duplicate: write the
            // declared value over it, which is what it already holds.
            Err(e) if e.may_have_landed() => {
                self.write(Method::PATCH, res, &place, &key, |_| true)
                    .await?;
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
        let Some((place, key)) = self.place(&res.id).await? else {
            return Err(BackendError::Refused(format!(
                "{}: its project no longer exists",
                res.address
            )));
        };
        // The value only when it changed: re-sending it would be a needless write of it.
        self.write(Method::PATCH, res, &place, &key, |f| changed.contains(f))
            .await
            .map_err(Into::into)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), BackendError> {
        let Some((place, key)) = self.place(id).await? else {
            return Ok(());
        };
        let body = json!({"workspaceId": place.0, "environment": place.1,
            "secretPath": place.2, "type": "shared"});
        let r = self
            .inf
            .client
            .call(
                Method::DELETE,
                &routes::secret(&key),
                Some(&Body::new(body)),
                Retry::Safe,
            )
            .await;
        self.inf.lookup.forget_secrets(&place);
        absent_ok(r)
    }

    async fn list(
        &self,
        scope: &str,
        _desired: &[&DesiredResource],
    ) -> Result<Vec<ResourceId>, BackendError> {
        if scope == ORG_SCOPE {
            return Ok(Vec::new());
        }
        let Some(p) = self.inf.lookup.project(&self.inf.client, scope).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for env in p.environment_slugs() {
            let mut folders = vec![String::new()];
            folders.extend(super::folder::walk(&self.inf, &p.id, &env).await?);
            for folder in folders {
                let place: Place = (p.id.clone(), env.clone(), api_path(&folder));
                for key in self
                    .inf
                    .lookup
                    .secrets(&self.inf.client, &place)
                    .await?
                    .keys()
                {
                    let name = if folder.is_empty() {
                        key.clone()
                    } else {
                        format!("{folder}/{key}")
                    };
                    out.push(rid(scope, KIND, Some(&env), &name));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrValue;
    use std::collections::BTreeMap;

    #[test]
    fn the_value_is_digested_marked_and_never_kept() {
        let id = rid("proj1", KIND, Some("prod"), "app/db/PASSWORD");
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "value".into(),
            AttrValue::secret_text("canary-value".into()),
        );
        attrs.insert("comment".into(), AttrValue::Plain(json!("db")));
        let res = DesiredResource::new(id, attrs);
        let place: Place = ("pid".into(), "prod".into(), "/app/db".into());
        let body = Secret::body(&place, &res, |_| true);
        assert_eq!(body.json()["secretValue"], "canary-value");
        assert_eq!(body.json()["secretPath"], "/app/db");
        assert!(!body.scrub("echo canary-value").contains("canary"));
        let only_comment = Secret::body(&place, &res, |f| f == "comment");
        assert!(only_comment.json().get("secretValue").is_none());
        let mut item =
            json!({"secretKey": "PASSWORD", "secretValue": "canary-value", "secretComment": "db"});
        let entry = super::super::lookup::entry_of(&mut item);
        assert!(!item.to_string().contains("canary"));
        assert_eq!(entry.digest, digest("canary-value"));
        let inf = Arc::new(Infisical::new(
            crate::backends::infisical::InfisicalClient::new(
                "http://127.0.0.1:9",
                "c",
                crate::sensitive::Sensitive::new("s".to_owned()),
                "o",
                None,
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            )
            .expect("client"),
        ));
        let k = Secret::new(inf);
        assert_eq!(
            k.normalise("value", json!("canary-value")),
            json!(entry.digest)
        );
        assert_eq!(
            k.normalise("value", json!(entry.digest)),
            json!(entry.digest)
        );
        assert_eq!(k.normalise("comment", json!("x")), json!("x"));
    }
}

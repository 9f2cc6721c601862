//! What realm roles and client roles share: the same representation and the same five calls,
//! under a different collection (`/roles` of the realm, `/clients/{uuid}/roles` of a client).
//!
//! A role PUT *replaces* name and description (contract §1.5: `description` absent ⇒ cleared),
//! while the differ manages only the declared fields; so an update carries the live
//! description over when the topology does not declare one. Role names travel as one
//! percent-encoded path segment ([`ApiPath::name`]), so `aegis:admin` round-trips.

use serde_json::{Map, Value};

use super::Keycloak;
use crate::backends::body::Body;
use crate::backends::path::ApiPath;
use crate::backends::{BackendError, Live};
use crate::model::DesiredResource;

/// Fields of a role representation that are the server's bookkeeping, not settings: the
/// role's UUID, its container's UUID, and whether it is a client role (the kind says so).
const SERVER_FIELDS: &[&str] = &["id", "containerId", "clientRole"];

/// Roles per page when listing: paging needs both `first` and `max` (contract §5.3), and then
/// the server sorts by name, so pages do not overlap.
const PAGE: u32 = 100;

/// The declared attributes as a request body; secret values are remembered for scrubbing
/// (nothing in a role or realm should be secret, but a topology may say so).
pub(super) fn declared_body(res: &DesiredResource, extra: Map<String, Value>) -> Body {
    declared_except(res, &[], extra)
}

/// [`declared_body`] without the fields in `skip` (those another endpoint converges).
pub(super) fn declared_except(
    res: &DesiredResource,
    skip: &[&str],
    extra: Map<String, Value>,
) -> Body {
    let mut map = Map::new();
    let mut secrets = Vec::new();
    for (k, v) in res
        .attrs
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
    {
        let wire = v.to_wire();
        if v.is_secret() {
            secrets.push(wire.clone());
        }
        map.insert(k.clone(), wire);
    }
    // The object's identity comes from its id, whatever the attributes say.
    map.extend(extra);
    secrets
        .iter()
        .fold(Body::new(Value::Object(map)), |b, s| b.with_secret_value(s))
}

fn name_field(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_owned()));
    m
}

/// Reads one role of `collection`; `None` when it (or its realm or client) does not exist.
pub(super) async fn read(
    kc: &Keycloak,
    collection: ApiPath,
    name: &str,
) -> Result<Option<Live>, BackendError> {
    let Some(Value::Object(mut rep)) = kc.client.get(&collection.name(name)).await? else {
        return Ok(None);
    };
    for f in SERVER_FIELDS {
        rep.remove(*f);
    }
    Ok(Some(Live::from_map(rep)))
}

/// The role `name` out of a list read in bulk, as [`read`] would have answered it.
pub(super) fn from_list(roles: Vec<Value>, name: &str) -> Option<Live> {
    let Value::Object(mut rep) = roles
        .into_iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))?
    else {
        return None;
    };
    for f in SERVER_FIELDS {
        rep.remove(*f);
    }
    Some(Live::from_map(rep))
}

pub(super) async fn create(
    kc: &Keycloak,
    collection: ApiPath,
    res: &DesiredResource,
) -> Result<(), BackendError> {
    let body = declared_body(res, name_field(&res.id.name));
    kc.client.post(&collection, &body).await?;
    Ok(())
}

pub(super) async fn update(
    kc: &Keycloak,
    collection: ApiPath,
    res: &DesiredResource,
    live: &Live,
) -> Result<(), BackendError> {
    let mut extra = name_field(&res.id.name);
    // The PUT clears a description it is not given: keep the one the server has when the
    // topology leaves it unmanaged. `attributes` absent is kept by the server itself.
    if !res.attrs.contains_key("description")
        && let Some(d) = live.get("description")
    {
        extra.insert("description".into(), d.clone());
    }
    let body = declared_body(res, extra);
    kc.client.put(&collection.name(&res.id.name), &body).await?;
    Ok(())
}

/// Deletes a role; one already gone (or whose container is gone) is not an error.
pub(super) async fn delete(
    kc: &Keycloak,
    collection: ApiPath,
    name: &str,
) -> Result<(), BackendError> {
    kc.client.delete(&collection.name(name)).await?;
    Ok(())
}

/// The names of every role of `collection` (empty when its realm or client is absent).
pub(super) async fn names(kc: &Keycloak, collection: ApiPath) -> Result<Vec<String>, BackendError> {
    let items = kc.client.list_paged(&collection, PAGE).await?;
    Ok(items
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

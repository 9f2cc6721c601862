//! Observe: read the live state of a set of objects, in parallel, one read per object.
//!
//! Containers are read first — OpenBao namespaces shallowest first, then Keycloak realms — and
//! nothing is read inside one that does not exist: those objects are absent by definition, and
//! asking would only earn errors (and, for a realm not yet created, a request per object).

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::diff::Observed;
use crate::backends::{BackendError, Registry};
use crate::model::{Backend, ResourceId};

/// The kind name of namespaces, whose ids scope every other OpenBao id.
pub const NAMESPACE_KIND: &str = "namespace";

/// The kind name of Keycloak realms, whose ids scope every other Keycloak id.
pub const REALM_KIND: &str = "realm";

async fn read_all(
    registry: &Registry,
    ids: Vec<&ResourceId>,
    parallelism: usize,
    out: &mut Observed,
) -> Result<(), BackendError> {
    // Each kind may read its objects of one scope in bulk first (Keycloak's clients).
    let mut groups: BTreeMap<(Backend, &str, &str), Vec<&ResourceId>> = BTreeMap::new();
    for id in &ids {
        groups
            .entry((id.backend, id.kind.as_str(), id.namespace.as_str()))
            .or_default()
            .push(id);
    }
    for ((_, _, scope), group) in &groups {
        if let Some(kind) = group.first().and_then(|id| registry.of(id)) {
            kind.prefetch(scope, group).await?;
        }
    }
    let reads = stream::iter(ids.into_iter().map(|id| async move {
        let live = match registry.of(id) {
            Some(kind) => kind.read(id).await?,
            None => None,
        };
        Ok::<_, BackendError>((id.address(), live))
    }))
    .buffer_unordered(parallelism.max(1));
    out.live.extend(reads.try_collect::<Vec<_>>().await?);
    Ok(())
}

/// Reads every id once, `parallelism` at a time. Unknown kinds read as absent.
pub async fn observe<'a>(
    registry: &Registry,
    ids: impl IntoIterator<Item = &'a ResourceId>,
    parallelism: usize,
) -> Result<Observed, BackendError> {
    let ids: Vec<&ResourceId> = ids.into_iter().collect();
    let mut out = Observed {
        live: BTreeMap::new(),
    };
    let mut absent: BTreeSet<String> = BTreeSet::new();
    let inside_absent = |ns: &str, absent: &BTreeSet<String>| {
        absent
            .iter()
            .any(|a| ns == a || ns.starts_with(&format!("{a}/")))
    };
    let mut by_depth: BTreeMap<usize, Vec<&ResourceId>> = BTreeMap::new();
    let is_namespace =
        |id: &ResourceId| id.backend == Backend::OpenBao && id.kind == NAMESPACE_KIND;
    for id in ids.iter().filter(|id| is_namespace(id)) {
        by_depth
            .entry(id.namespace_path().matches('/').count())
            .or_default()
            .push(id);
    }
    for (_, level) in by_depth {
        let (skip, read): (Vec<&ResourceId>, Vec<&ResourceId>) = level
            .into_iter()
            .partition(|id| inside_absent(&id.namespace, &absent));
        for id in skip {
            out.live.insert(id.address(), None);
            absent.insert(id.namespace_path());
        }
        read_all(registry, read.clone(), parallelism, &mut out).await?;
        for id in read {
            if matches!(out.live.get(&id.address()), Some(None)) {
                absent.insert(id.namespace_path());
            }
        }
    }
    let is_realm = |id: &ResourceId| id.backend == Backend::Keycloak && id.kind == REALM_KIND;
    let realms: Vec<&ResourceId> = ids.iter().copied().filter(|id| is_realm(id)).collect();
    read_all(registry, realms.clone(), parallelism, &mut out).await?;
    let absent_realms: BTreeSet<&str> = realms
        .iter()
        .filter(|id| matches!(out.live.get(&id.address()), Some(None)))
        .map(|id| id.name.as_str())
        .collect();
    let (skip, read): (Vec<&ResourceId>, Vec<&ResourceId>) = ids
        .into_iter()
        .filter(|id| !is_namespace(id) && !is_realm(id))
        .partition(|id| match id.backend {
            Backend::OpenBao => inside_absent(&id.namespace, &absent),
            _ => absent_realms.contains(id.namespace.as_str()),
        });
    for id in skip {
        out.live.insert(id.address(), None);
    }
    read_all(registry, read, parallelism, &mut out).await?;
    Ok(out)
}

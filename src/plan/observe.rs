//! Observe: read the live state of a set of objects, in parallel, one read per object.
//!
//! Namespaces are read first, shallowest first, and nothing is read inside a namespace that
//! does not exist: those objects are absent by definition, and asking would only earn errors.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::diff::Observed;
use crate::backends::{BackendError, Registry};
use crate::model::ResourceId;

/// The kind name of namespaces, whose ids scope every other id.
pub const NAMESPACE_KIND: &str = "namespace";

async fn read_all(
    registry: &Registry,
    ids: Vec<&ResourceId>,
    parallelism: usize,
    out: &mut Observed,
) -> Result<(), BackendError> {
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
    for id in ids.iter().filter(|id| id.kind == NAMESPACE_KIND) {
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
    let (skip, read): (Vec<&ResourceId>, Vec<&ResourceId>) = ids
        .into_iter()
        .filter(|id| id.kind != NAMESPACE_KIND)
        .partition(|id| inside_absent(&id.namespace, &absent));
    for id in skip {
        out.live.insert(id.address(), None);
    }
    read_all(registry, read, parallelism, &mut out).await?;
    Ok(out)
}

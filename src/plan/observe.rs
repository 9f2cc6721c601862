//! Observe: read the live state of a set of objects, in parallel, one read per object.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::diff::Observed;
use crate::backends::{BaoError, Registry};
use crate::model::ResourceId;

/// Reads every id once, `parallelism` at a time. Unknown kinds read as absent.
pub async fn observe<'a>(
    registry: &Registry,
    ids: impl IntoIterator<Item = &'a ResourceId>,
    parallelism: usize,
) -> Result<Observed, BaoError> {
    let reads = stream::iter(ids.into_iter().map(|id| async move {
        let live = match registry.get(&id.kind) {
            Some(kind) => kind.read(id).await?,
            None => None,
        };
        Ok::<_, BaoError>((id.address(), live))
    }))
    .buffer_unordered(parallelism.max(1));
    let live: BTreeMap<_, _> = reads.try_collect::<Vec<_>>().await?.into_iter().collect();
    Ok(Observed { live })
}

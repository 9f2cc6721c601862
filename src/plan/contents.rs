//! The prune guard: what deleting a container (a namespace, a secrets or auth mount) would
//! destroy besides what the plan itself deletes.
//!
//! Deleting a mount deletes every secret, key and role in it; deleting a namespace deletes
//! everything inside. aegisctl may destroy only what its ledger holds, so a container's delete
//! (or replace) is refused at plan time while it holds anything the same plan does not delete,
//! and the error lists it; with `--allow-destroy` the plan lists all of it by name instead, and
//! the executor checks again just before the delete that nothing new has appeared. Contents are
//! found through the kinds themselves ([`Kind::holds`], [`Kind::list`], [`Kind::container`]), so
//! a new kind is covered without touching this module.

use std::collections::BTreeSet;

use crate::backends::{BackendError, Holds, Registry};
use crate::model::{Address, ResourceId};
use crate::plan::{Action, Plan};

/// What a plan takes care of itself inside the containers it deletes or replaces: what it
/// deletes, and what it creates — an object that exists and is planned as a create is a
/// declared child of a replaced container, created again after it. Neither is lost with the
/// container (nor unmanaged).
pub fn handled_by(plan: &Plan) -> BTreeSet<Address> {
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Create))
        .map(|c| c.address.clone())
        .collect()
}

/// Everything inside the container `id` (as read: `live`) that is not in `deleting` (see
/// [`handled_by`]), recursing into containers among them. Empty for an object that holds nothing.
pub async fn lost_with(
    registry: &Registry,
    id: &ResourceId,
    live: &crate::backends::Live,
    deleting: &BTreeSet<Address>,
) -> Result<Vec<ResourceId>, BackendError> {
    let mut out = Vec::new();
    let mut stack: Vec<(ResourceId, crate::backends::Live)> = vec![(id.clone(), live.clone())];
    while let Some((container, live)) = stack.pop() {
        let Some(kind) = registry.of(&container) else {
            continue;
        };
        let Some(holds) = kind.holds(&container, &live) else {
            continue;
        };
        for found in direct(registry, &container, &holds).await? {
            if deleting.contains(&found.address()) {
                continue;
            }
            // Only containers are read again, to list what they hold in turn.
            if let Some(k) = registry.of(&found)
                && k.holds(&found, &crate::backends::Live::new()).is_some()
                && let Some(inner) = k.read(&found).await?
            {
                stack.push((found.clone(), inner));
            }
            out.push(found);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What the container directly holds, per every kind's own listing.
async fn direct(
    registry: &Registry,
    container: &ResourceId,
    holds: &Holds,
) -> Result<Vec<ResourceId>, BackendError> {
    let mut out = Vec::new();
    for kind in registry.all() {
        let listed = match holds {
            Holds::Namespace(path) => kind.list(path, &[]).await?,
            Holds::Mount { namespace, mount } => kind.list(namespace, &[mount.as_ref()]).await?,
        };
        out.extend(
            listed
                .into_iter()
                .filter(|id| registry.container(id).as_ref() == Some(container)),
        );
    }
    Ok(out)
}

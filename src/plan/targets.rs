//! What `--target` selects: an address, or `tenant[SLUG]` for every object of a tenant, and
//! what they depend on. Apart from the differ (`diff.rs`) so that each stays readable.

use std::collections::{BTreeMap, BTreeSet};

use super::diff::PlanError;
use crate::model::{Address, Desired, DesiredResource};

/// The slug of a `tenant[SLUG]` target (`tenant["SLUG"]`, quoted as addresses are, too).
fn tenant_target(target: &str) -> Option<&str> {
    let slug = target.strip_prefix("tenant[")?.strip_suffix(']')?;
    Some(
        slug.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(slug),
    )
}

/// The addresses `--target` selects: each target (an address, or `tenant[SLUG]`: every object
/// of that tenant) and, transitively, what it depends on.
pub fn target_closure(
    desired: &Desired,
    targets: &[String],
) -> Result<Option<BTreeSet<Address>>, PlanError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let by_addr: BTreeMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let mut out = BTreeSet::new();
    let mut stack: Vec<Address> = Vec::new();
    for t in targets {
        if let Some(slug) = tenant_target(t) {
            let before = stack.len();
            let of_tenant = desired
                .resources
                .iter()
                .filter(|r| r.id.tenant() == Some(slug));
            stack.extend(of_tenant.map(|r| r.address.clone()));
            if stack.len() == before {
                let why =
                    format!("matches nothing: no tenant `{slug}` is declared in the topology");
                return Err(PlanError::UnknownTarget(t.clone(), why));
            }
            continue;
        }
        let a = Address(t.clone());
        if !by_addr.contains_key(&a) {
            let why = "matches no address in the topology".to_owned();
            return Err(PlanError::UnknownTarget(t.clone(), why));
        }
        stack.push(a);
    }
    while let Some(a) = stack.pop() {
        if out.insert(a.clone())
            && let Some(r) = by_addr.get(&a)
        {
            stack.extend(r.depends_on.iter().cloned());
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;

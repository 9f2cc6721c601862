//! Roles name policies: each must be declared in the same namespace, built in, or marked
//! `external: true`, and a role waits for the policies it names.

use std::collections::BTreeSet;

use super::node::{Loc, Node, Raw};
use super::raw::Body;
use super::resolve::{BUILTIN_POLICIES, Resolver};
use crate::model::{DesiredResource, ResourceId};

/// Fields of an AppRole (and other auth) role that name policies.
const POLICY_LIST_FIELDS: &[&str] = &["token_policies", "policies"];

/// Roles that name policies must name declared (or built-in, or external) ones.
pub(super) fn check_policies(
    r: &mut Resolver,
    ns: &str,
    name: &str,
    body: &Body,
    known: &BTreeSet<String>,
    res: &mut DesiredResource,
) {
    for field in POLICY_LIST_FIELDS {
        let Some(node) = body.get(*field) else {
            continue;
        };
        for (policy, ploc) in policy_names(node) {
            if !known.contains(&policy) {
                r.problem(
                    ploc,
                    format!("role `{name}` names the policy `{policy}`, which the topology does not declare"),
                    format!("declare it under openbao.policies, or as `{policy}: {{ external: true }}` if it is managed elsewhere"),
                );
            } else if !BUILTIN_POLICIES.contains(&policy.as_str()) {
                res.depends_on
                    .push(ResourceId::new(ns, "policy", None, &policy).address());
            }
        }
    }
}

/// Policy names in a list or a comma-separated string, with where each was written.
fn policy_names(node: &Node) -> Vec<(String, Loc)> {
    match &node.raw {
        Raw::Str(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_owned(), node.loc))
            .collect(),
        Raw::List(items) => items
            .iter()
            .filter_map(|n| n.as_str().map(|s| (s.to_owned(), n.loc)))
            .collect(),
        _ => Vec::new(),
    }
}

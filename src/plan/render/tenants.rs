//! Plans and drift reports laid out per tenant, so that a topology of hundreds of tenants stays
//! readable: what belongs to no tenant first, as it always was, then one section per tenant in
//! slug order; with `--compact`, tenants whose changes have the same shape share one line, and
//! only the odd ones are shown in full. The JSON documents never go through here: they keep
//! every change.

use std::collections::{BTreeMap, BTreeSet};

use super::human::{Styles, change_block};
use crate::model::Backend;
use crate::plan::model::{Action, Change};
use crate::plan::observe::{NAMESPACE_KIND, REALM_KIND};

/// How the human output lays out tenants' changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Every change as its block, under its tenant's heading.
    #[default]
    Full,
    /// Tenants that share a shape with another in one line each shape (`--compact`).
    Compact,
}

impl Layout {
    pub fn compact(compact: bool) -> Layout {
        if compact {
            Layout::Compact
        } else {
            Layout::Full
        }
    }
}

/// What a change touches, seen from its tenant; the order is the order of a shape's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The tenant's namespace `tenant-{slug}` itself.
    Namespace,
    /// Anything in that namespace or below it (a child namespace included).
    InNamespace,
    /// The tenant's realm `tenant-{slug}` itself.
    Realm,
    /// Anything in that realm.
    InRealm,
}

/// One item of a shape: an action on a part, and how many objects it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub part: Part,
    pub action: Action,
    pub count: usize,
}

/// What a tenant's changes amount to once names are left out: tenants with equal shapes would
/// show the same blocks but for the names of their objects and the values of their attributes.
pub type Shape = Vec<Step>;

/// Where `c`, an object of tenant `slug`, sits in it.
pub fn part_of(c: &Change, slug: &str) -> Part {
    let own = |name: &str| name.strip_prefix("tenant-") == Some(slug);
    match c.id.backend {
        Backend::OpenBao
            if c.id.kind == NAMESPACE_KIND && c.id.namespace.is_empty() && own(&c.id.name) =>
        {
            Part::Namespace
        }
        Backend::Keycloak if c.id.kind == REALM_KIND && own(&c.id.name) => Part::Realm,
        Backend::Keycloak => Part::InRealm,
        // Infisical objects belong to no tenant (`ResourceId::tenant`); only OpenBao is left.
        _ => Part::InNamespace,
    }
}

/// The shape of tenant `slug`'s changes: one step per part and action, in a fixed order.
pub fn shape(slug: &str, changes: &[&Change]) -> Shape {
    let mut counts: BTreeMap<(Part, Action), usize> = BTreeMap::new();
    for c in changes {
        *counts.entry((part_of(c, slug), c.action)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((part, action), count)| Step {
            part,
            action,
            count,
        })
        .collect()
}

/// A change that carries more than its attributes (a warning, a manual step, why it is
/// planned, what else it destroys) is read for that text: its tenant is never folded away.
fn has_notes(c: &Change) -> bool {
    c.warning.is_some() || c.manual.is_some() || c.reason.is_some() || !c.destroys.is_empty()
}

/// A step as words: `+ namespace`, `~ 1 object in its realm`, `- 3 objects in its namespace`.
pub fn step_text(s: &Step, styles: Styles) -> String {
    let sym = styles.paint(s.action, s.action.symbol());
    let objects = if s.count == 1 { "object" } else { "objects" };
    let what = match s.part {
        // A tenant has one namespace and one realm; counted anyway should that ever change.
        Part::Namespace | Part::Realm => {
            let word = if s.part == Part::Namespace {
                "namespace"
            } else {
                "realm"
            };
            if s.count == 1 {
                word.to_owned()
            } else {
                format!("{} {word}s", s.count)
            }
        }
        Part::InNamespace => format!("{} {objects} in its namespace", s.count),
        Part::InRealm => format!("{} {objects} in its realm", s.count),
    };
    format!("{sym} {what}")
}

/// The first three slugs, then how many more: `acme, beta, gamma, … and 197 more`.
fn slug_list(slugs: &[&str]) -> String {
    const SHOWN: usize = 3;
    if slugs.len() <= SHOWN {
        return slugs.join(", ");
    }
    format!(
        "{}, … and {} more",
        slugs[..SHOWN].join(", "),
        slugs.len() - SHOWN
    )
}

/// The one line standing for tenants of the same shape.
pub fn shape_line(slugs: &[&str], shape: &Shape, styles: Styles) -> String {
    let steps: Vec<String> = shape.iter().map(|s| step_text(s, styles)).collect();
    let who = format!("{} tenants ({})", slugs.len(), slug_list(slugs));
    format!("{}, each: {}", styles.bold(&who), steps.join(", "))
}

fn tenant_heading(slug: &str) -> String {
    format!("Tenant {slug} (namespace tenant-{slug}, realm tenant-{slug}):")
}

/// Renders `changes` (in their order) as blocks: those of no tenant first, then each tenant's
/// under its heading in slug order, or, with [`Layout::Compact`], the tenants sharing a shape
/// as one line per shape followed by the others in full. `what` says what happens to a change
/// ("will be created", "changed outside aegisctl").
pub fn blocks(
    out: &mut String,
    styles: Styles,
    layout: Layout,
    changes: &[Change],
    what: &dyn Fn(&Change) -> &'static str,
) {
    let mut tenants: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in changes {
        match c.id.tenant() {
            Some(slug) => tenants.entry(slug).or_default().push(c),
            None => change_block(out, styles, c, what(c)),
        }
    }
    let mut full: Vec<(&str, &Vec<&Change>)> = Vec::new();
    if layout == Layout::Compact {
        // Groups in the order of their first tenant, so the output is the same run after run.
        let mut groups: Vec<(Shape, Vec<&str>)> = Vec::new();
        let mut index: BTreeMap<Shape, usize> = BTreeMap::new();
        for (slug, items) in &tenants {
            if items.iter().any(|c| has_notes(c)) {
                continue;
            }
            let s = shape(slug, items);
            match index.get(&s) {
                Some(&i) => groups[i].1.push(slug),
                None => {
                    index.insert(s.clone(), groups.len());
                    groups.push((s, vec![slug]));
                }
            }
        }
        let mut folded: BTreeSet<&str> = BTreeSet::new();
        for (s, slugs) in groups.iter().filter(|(_, slugs)| slugs.len() > 1) {
            out.push_str(&shape_line(slugs, s, styles));
            out.push_str("\n\n");
            folded.extend(slugs.iter().copied());
        }
        full.extend(
            tenants
                .iter()
                .filter(|(slug, _)| !folded.contains(*slug))
                .map(|(s, i)| (*s, i)),
        );
    } else {
        full.extend(tenants.iter().map(|(s, i)| (*s, i)));
    }
    for (slug, items) in full {
        out.push_str(&styles.bold(&tenant_heading(slug)));
        out.push_str("\n\n");
        for c in items {
            change_block(out, styles, c, what(c));
        }
    }
}

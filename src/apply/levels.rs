//! The order of a plan's deletions: level by level, children first (a kind's destroy order,
//! then deeper namespaces first), each level released once the one below it has finished.

use std::collections::{BTreeMap, BTreeSet};

use super::executor::State;
use crate::backends::Registry;
use crate::plan::{Action, Plan};

/// Deletions go level by level, children first: a level is released once every deletion of
/// the levels below it has finished. Levels instead of edges keep a prune of thousands of
/// objects linear (an edge from each deletion to every lower one would be quadratic).
pub(super) struct DeleteLevels {
    /// Levels not released yet, lowest first: (destroy order, deeper namespaces first).
    pending: std::collections::btree_map::IntoIter<(u8, std::cmp::Reverse<usize>), Vec<usize>>,
    /// Deletions of the released level still to finish.
    released: BTreeSet<usize>,
}

impl DeleteLevels {
    pub(super) fn new(plan: &Plan, registry: &Registry) -> Self {
        let mut levels: BTreeMap<(u8, std::cmp::Reverse<usize>), Vec<usize>> = BTreeMap::new();
        for (i, c) in plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action == Action::Delete)
        {
            let order = registry.of(&c.id).map(|k| k.destroy_order()).unwrap_or(50);
            // A namespace inside another goes first (and everything in deeper namespaces).
            let depth = c.id.namespace_path().matches('/').count();
            levels
                .entry((order, std::cmp::Reverse(depth)))
                .or_default()
                .push(i);
        }
        DeleteLevels {
            pending: levels.into_iter(),
            released: BTreeSet::new(),
        }
    }

    /// The next level's deletions that are still to run, once the current one is done
    /// (skipping levels whose deletions were all skipped already).
    pub(super) fn release(&mut self, state: &[State]) -> Vec<usize> {
        if !self.released.is_empty() {
            return Vec::new();
        }
        for (_, level) in self.pending.by_ref() {
            let ready: Vec<usize> = level
                .into_iter()
                .filter(|&i| state[i] == State::Pending)
                .collect();
            if !ready.is_empty() {
                self.released.extend(ready.iter().copied());
                return ready;
            }
        }
        Vec::new()
    }

    /// A deletion ended (done, failed or skipped): the next level may be due.
    pub(super) fn ended(&mut self, i: usize, state: &[State]) -> Vec<usize> {
        if self.released.remove(&i) {
            self.release(state)
        } else {
            Vec::new()
        }
    }
}

//! The Plan phase as data: ordered changes with their attribute diffs, free of secrets, so a
//! plan can be printed, snapshotted, serialised to JSON and saved to a plan file as it is.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Address, ResourceId};

/// What happens to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One attribute's difference. Secret values are `None` with `sensitive: true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrDiff {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
    /// This attribute cannot change in place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replace: bool,
    /// The server does not answer this field and the ledger has no fingerprint of what was
    /// sent: whether it differs cannot be known, so apply sends it (or `--adopt` records it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
    /// The value is another object's output that does not exist yet (a client secret Keycloak
    /// will generate): it is known only once apply has made its producer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_after_apply: bool,
}

/// One object's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub id: ResourceId,
    pub action: Action,
    pub attrs: Vec<AttrDiff>,
    /// Why the change cannot go ahead as planned (e.g. a replace that needs --allow-destroy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The server will not take this change through its API: what the operator must do instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
    /// Why the change is planned when the object itself did not change (its container is
    /// replaced, so it is created again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What else a delete or replace of a container destroys: objects aegisctl does not manage,
    /// listed by address, accepted with `--allow-destroy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destroys: Vec<String>,
}

impl Change {
    /// A change with nothing but its address, id and action.
    pub fn new(id: ResourceId, action: Action, attrs: Vec<AttrDiff>) -> Change {
        Change {
            address: id.address(),
            id,
            action,
            attrs,
            warning: None,
            manual: None,
            reason: None,
            destroys: Vec::new(),
        }
    }

    /// The names of the changed attributes.
    pub fn changed_names(&self) -> std::collections::BTreeSet<String> {
        self.attrs.iter().map(|a| a.name.clone()).collect()
    }
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// Everything `apply` would do, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        summarise(&self.changes)
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

pub fn summarise(changes: &[Change]) -> Summary {
    let mut s = Summary::default();
    for c in changes {
        match c.action {
            Action::Create => s.add += 1,
            Action::Update => s.change += 1,
            Action::Replace => {
                s.add += 1;
                s.destroy += 1
            }
            Action::Delete => s.destroy += 1,
        }
    }
    s
}

/// What drift found, by heading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Managed objects whose declared attributes differ from the file.
    pub changed: Vec<Change>,
    /// Objects the ledger holds that are gone from the server.
    pub deleted: Vec<Change>,
    /// Objects in a managed kind and place that neither the file nor the ledger knows.
    pub unmanaged: Vec<Change>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty() && self.unmanaged.is_empty()
    }
}

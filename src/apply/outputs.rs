//! Output references at apply time: an object that takes another's output (the keymaster's KV
//! secret takes a client's generated secret) gets it from what this apply's create made, else
//! from its producer, which exists by then (it depends on it).

use std::collections::BTreeMap;

use crate::backends::{BackendError, Made, Registry};
use crate::model::{Address, AttrValue, DesiredResource};

/// What the creates of this apply made (generated values), by producer, for the objects that
/// take them: passed along instead of asked for again.
pub(super) type MadeOutputs = std::sync::Mutex<BTreeMap<Address, Made>>;

/// `res` with its output references filled in: from what a create of this apply made, else read
/// from the producer (which exists: `res` depends on it). `None` when it has none.
pub(super) async fn with_outputs(
    registry: &Registry,
    res: &DesiredResource,
    made: &MadeOutputs,
) -> Result<Option<DesiredResource>, BackendError> {
    if !res
        .attrs
        .values()
        .any(|v| matches!(v, AttrValue::Output(_)))
    {
        return Ok(None);
    }
    let mut out = res.clone();
    for value in out.attrs.values_mut() {
        let AttrValue::Output(o) = value else {
            continue;
        };
        let passed = made.lock().ok().and_then(|m| {
            m.get(&o.producer.address())
                .and_then(|p| p.outputs.get(&o.name).cloned())
        });
        if let Some(v) = passed {
            *value = AttrValue::Secret(v);
            continue;
        }
        let kind = registry
            .of(&o.producer)
            .ok_or_else(|| BackendError::Refused(format!("unknown kind `{}`", o.producer.kind)))?;
        let Some(v) = kind.output(&o.producer, &o.name).await? else {
            return Err(BackendError::Refused(format!(
                "{} takes the `{}` of {}, which has none",
                res.address,
                o.name,
                o.producer.address()
            )));
        };
        *value = AttrValue::Secret(v);
    }
    Ok(Some(out))
}

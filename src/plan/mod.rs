//! Plan and drift: the model, the differ, observation, and the renderers that share one shape.

pub mod contents;
pub mod diff;
pub mod model;
pub mod normalise;
pub mod observe;
pub mod render;
pub mod targets;

pub use diff::{Observed, PlanError, PlanOptions};
pub use model::{Action, AttrDiff, Change, Drift, Plan, Summary};

//! Renderers: the same Plan/Drift model as human text (Terraform's habits) or one JSON document.
//! They build strings; printing is the CLI's job.

pub mod human;
pub mod json;

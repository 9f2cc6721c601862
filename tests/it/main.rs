//! Integration tests: the aegisctl binary against a real OpenBao dev server (see harness.rs).
//! One binary, one module per concern.

mod apply_drift;
mod canary;
mod cli_polish;
mod harness;
mod http_edge;
mod malformed;
mod walking_skeleton;

//! Integration tests: the aegisctl binary against a real OpenBao dev server (see harness.rs).
//! One binary, one module per concern.

mod apply_drift;
mod background;
mod bootstrap;
mod canary;
mod cli_edges;
mod cli_polish;
mod database_namespaces;
mod engines_auth_audit;
mod fault_proxy;
mod fault_proxy_checks;
mod faults;
mod harness;
mod http_edge;
mod http_wire;
mod import_roundtrip;
mod interrupts;
mod malformed;
mod postgres;
mod raft;
mod raft_cluster;
mod raft_facts;
mod references;
mod safety_fields;
mod safety_import;
mod safety_kv;
mod safety_ledger;
mod safety_names;
mod safety_normalise;
mod safety_plans;
mod safety_prune;
mod safety_secrets;
mod safety_util;
mod schema;
mod walking_skeleton;

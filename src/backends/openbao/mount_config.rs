//! Mount-level configuration objects that exist once per mount: an auth method's `config`
//! (`auth/MOUNT/config`, e.g. JWT/OIDC discovery URL and client) and the AWS engine's
//! `config/root` and `config/lease`. They go with their mount, so they are never listed as
//! unmanaged and pruning them is a no-op. A write replaces the whole object, so every update
//! sends every declared field. Secrets among their fields (`oidc_client_secret`,
//! `secret_key`) are write-only: compared through fingerprints.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

/// `auth/MOUNT/config`: address `auth_config["MOUNT/config"]`.
pub fn auth_config(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "auth_config",
            auth: true,
            mount_types: &[],
            segment: "",
            listable: false,
            deletable: false,
            write_replaces: true,
            destroy_order: 10,
            sources: {
                const S: &[FieldSource] = &[FieldSource::of_mount("config")];
                S
            },
        },
    )
}

/// `MOUNT/config/root` and `MOUNT/config/lease`: address `aws_config["MOUNT/root"]`.
pub fn aws_config(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "aws_config",
            auth: false,
            mount_types: &[],
            segment: "config",
            listable: false,
            deletable: false,
            write_replaces: true,
            destroy_order: 10,
            // `config/root` and `config/lease` are two endpoints: the name picks one.
            sources: &[FieldSource {
                prefix: "",
                endpoint: "config/{name}",
                system: false,
                by_name: true,
            }],
        },
    )
}

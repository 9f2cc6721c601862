//! Database engine roles (`MOUNT/roles/NAME`): creation and revocation statements
//! (compared in order), default and maximum TTLs.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

pub fn kind(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "database_role",
            auth: false,
            mount_types: &["database"],
            segment: "roles",
            listable: true,
            deletable: true,
            write_replaces: false,
            destroy_order: 10,
            sources: {
                const S: &[FieldSource] = &[FieldSource::of_mount("roles/{name}")];
                S
            },
        },
    )
}

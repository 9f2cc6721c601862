//! Database engine static roles (`MOUNT/static-roles/NAME`): an existing database user whose
//! password OpenBao rotates on a schedule.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

pub fn kind(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "database_static_role",
            auth: false,
            mount_types: &["database"],
            segment: "static-roles",
            listable: true,
            deletable: true,
            write_replaces: false,
            destroy_order: 10,
            sources: {
                const S: &[FieldSource] = &[FieldSource::of_mount("static-roles/{name}")];
                S
            },
        },
    )
}

//! AppRole roles (`auth/MOUNT/role/NAME`). Every declared field passes through under
//! OpenBao's own name; the server answers durations in seconds, which the differ normalises.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

pub fn kind(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "approle_role",
            auth: true,
            mount_types: &["approle"],
            segment: "role",
            listable: true,
            deletable: true,
            write_replaces: false,
            destroy_order: 10,
            sources: {
                const S: &[FieldSource] = &[FieldSource::of_mount("role/{name}")];
                S
            },
        },
    )
}

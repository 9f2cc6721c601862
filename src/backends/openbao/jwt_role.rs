//! JWT/OIDC auth roles (`auth/MOUNT/role/NAME`): bound audiences and claims, user and groups
//! claims, redirect URIs, token policies.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

pub fn kind(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "jwt_role",
            auth: true,
            mount_types: &["jwt", "oidc"],
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

//! AWS secrets engine roles (`MOUNT/roles/NAME`): `credential_type` (assumed_role, iam_user,
//! federation_token), role and policy ARNs, policy document, STS TTLs.

use std::sync::Arc;

use super::OpenBao;
use super::path_kind::{PathKind, PathSpec};
use crate::backends::FieldSource;

pub fn kind(bao: Arc<OpenBao>) -> PathKind {
    PathKind::new(
        bao,
        PathSpec {
            kind: "aws_role",
            auth: false,
            mount_types: &["aws"],
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

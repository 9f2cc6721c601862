//! Renderers: the same Plan/Drift model as human text (Terraform's habits) or one JSON document.
//! They build strings; printing is the CLI's job.

pub mod human;
pub mod json;
pub mod tenants;

#[cfg(test)]
mod tenants_tests;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{human, json as js};
    use crate::model::ResourceId;
    use crate::plan::model::{Action, AttrDiff, Change, Drift, Plan};

    fn attr(
        name: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
        sensitive: bool,
    ) -> AttrDiff {
        AttrDiff {
            name: name.into(),
            before,
            after,
            sensitive,
            forces_replace: false,
            unverified: false,
            known_after_apply: false,
        }
    }

    fn change(
        kind: &str,
        mount: Option<&str>,
        name: &str,
        action: Action,
        attrs: Vec<AttrDiff>,
    ) -> Change {
        Change::new(ResourceId::new("", kind, mount, name), action, attrs)
    }

    fn sample() -> Plan {
        let mut replace = change(
            "transit_key",
            Some("transit"),
            "blackboard-encryption",
            Action::Replace,
            vec![AttrDiff {
                forces_replace: true,
                ..attr(
                    "type",
                    Some(json!("aes128-gcm96")),
                    Some(json!("aes256-gcm96")),
                    false,
                )
            }],
        );
        replace.warning = Some("replacing this transit_key destroys its data (key material, stored secrets); apply refuses without --allow-destroy".into());
        Plan {
            changes: vec![
                change(
                    "transit_key",
                    Some("transit"),
                    "smcp-signing-key",
                    Action::Create,
                    vec![attr("type", None, Some(json!("ed25519")), false)],
                ),
                change(
                    "approle_role",
                    Some("approle"),
                    "aegis-daemon",
                    Action::Update,
                    vec![
                        attr("token_ttl", Some(json!("30m")), Some(json!("1h")), false),
                        attr(
                            "token_policies",
                            Some(json!(["default"])),
                            Some(json!(["aegis-policy"])),
                            false,
                        ),
                    ],
                ),
                change(
                    "kv_secret",
                    Some("aegis-system"),
                    "tools/search-api-key",
                    Action::Update,
                    vec![attr("value", None, None, true)],
                ),
                change(
                    "policy",
                    None,
                    "aegis-policy",
                    Action::Update,
                    vec![attr(
                        "policy",
                        Some(json!("path \"a/*\" {\n  capabilities = [\"read\"]\n}")),
                        Some(json!(
                            "path \"a/*\" {\n  capabilities = [\"read\", \"list\"]\n}"
                        )),
                        false,
                    )],
                ),
                replace,
                change("policy", None, "old", Action::Delete, vec![]),
            ],
        }
    }

    #[test]
    fn plan_human() {
        insta::assert_snapshot!(human::plan(&sample(), human::Styles { color: false }));
    }

    #[test]
    fn plan_human_no_changes() {
        insta::assert_snapshot!(human::plan(
            &Plan::default(),
            human::Styles { color: false }
        ));
    }

    #[test]
    fn plan_json() {
        insta::assert_json_snapshot!(js::plan(&sample(), &[]));
    }

    #[test]
    fn drift_human_and_json() {
        let d = Drift {
            changed: vec![change(
                "approle_role",
                Some("approle"),
                "aegis-daemon",
                Action::Update,
                vec![attr(
                    "token_ttl",
                    Some(json!("1h")),
                    Some(json!("2h")),
                    false,
                )],
            )],
            deleted: vec![change(
                "policy",
                None,
                "aegis-policy",
                Action::Delete,
                vec![],
            )],
            unmanaged: vec![change("policy", None, "rogue", Action::Create, vec![])],
        };
        insta::assert_snapshot!(human::drift(&d, human::Styles { color: false }));
        insta::assert_json_snapshot!(js::drift(&d, &[]));
    }

    #[test]
    fn apply_complete_only_when_everything_went_through() {
        let done = vec![change("policy", None, "p", Action::Create, vec![])];
        let ok = human::AppliedCounts {
            succeeded: done.clone(),
            ..Default::default()
        };
        assert!(human::applied(&ok).starts_with("Apply complete! Resources: 1 added"));
        let cases = [
            human::AppliedCounts {
                failed: 1,
                ..ok.clone()
            },
            human::AppliedCounts {
                skipped: 1,
                ..ok.clone()
            },
            human::AppliedCounts {
                cancelled: 1,
                ..ok.clone()
            },
            human::AppliedCounts {
                inconsistent: 1,
                ..ok.clone()
            },
            human::AppliedCounts {
                ledger_error: true,
                ..ok.clone()
            },
            human::AppliedCounts {
                lock_error: true,
                ..ok.clone()
            },
            human::AppliedCounts {
                stopped: Some("OpenBao stopped answering".into()),
                cancelled: 1,
                ..ok.clone()
            },
        ];
        for c in cases {
            let line = human::applied(&c);
            assert!(!line.contains("complete!"), "{c:?}: {line}");
            assert!(line.contains("1 added"), "{line}");
            assert!(line.contains("\nNext: "), "no next step: {line}");
        }
    }
}

//! The YAML resource budget: how much a topology file may hold before the parser refuses it.
//!
//! serde-saphyr's defaults (250,000 nodes, 1,000,000 events) refuse real topologies: a file
//! of 51,500 objects already has more nodes. The structural limits are therefore raised to
//! [`DEFAULT_MAX_NODES`] nodes (twice as many events: each collection also ends), 256 MiB of
//! input and of scalar text, and the node limit can be raised further with
//! [`MAX_NODES_VAR`]. The limits that stop alias bombs ("billion laughs": a few lines whose
//! aliases expand to billions of nodes) are not raised with it: their size does not grow with
//! the file, so a real topology does not meet them, and they are set here explicitly so that a
//! change of the library's defaults cannot silently lift them.

use serde_saphyr::Error;
use serde_saphyr::budget::BudgetBreach;

/// The environment variable that sets the node limit (and, doubled, the event limit).
pub const MAX_NODES_VAR: &str = "AEGISCTL_YAML_MAX_NODES";
pub const DEFAULT_MAX_NODES: usize = 10_000_000;
/// Input size and total scalar text: 256 MiB.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;
/// Events that aliases may replay in all (each alias re-reads its anchor's events).
pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 1_000_000;
pub const MAX_ALIASES: usize = 50_000;
pub const MAX_ANCHORS: usize = 50_000;
/// Nested mappings and lists.
pub const MAX_DEPTH: usize = 64;
/// Events copied to keep anchored nodes for their aliases (an alias of an alias copies again),
/// and the bytes of text so copied.
pub const MAX_ANCHOR_COPIES: usize = 1_000_000;
pub const MAX_ANCHOR_COPY_BYTES: usize = 64 * 1024 * 1024;
/// Past [`ALIAS_RATIO_MIN_ALIASES`] aliases, more than this many per anchor is refused.
pub const ALIAS_RATIO: usize = 10;
pub const ALIAS_RATIO_MIN_ALIASES: usize = 100;

/// The limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub nodes: usize,
}

impl Limits {
    /// From [`MAX_NODES_VAR`] when set (a positive whole number), the defaults otherwise.
    /// `Err` carries the refused value.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Limits, String> {
        match env(MAX_NODES_VAR) {
            None => Ok(Limits {
                nodes: DEFAULT_MAX_NODES,
            }),
            Some(v) => match v.trim().replace('_', "").parse::<usize>() {
                Ok(n) if n > 0 => Ok(Limits { nodes: n }),
                _ => Err(v),
            },
        }
    }

    pub fn events(self) -> usize {
        self.nodes.saturating_mul(2)
    }

    /// serde-saphyr's options with these limits.
    pub fn apply(self, options: &mut serde_saphyr::Options) {
        let mut b = serde_saphyr::Budget::default();
        b.max_nodes = self.nodes;
        b.max_events = self.events();
        b.max_total_scalar_bytes = MAX_BYTES;
        b.max_reader_input_bytes = Some(MAX_BYTES);
        b.max_aliases = MAX_ALIASES;
        b.max_anchors = MAX_ANCHORS;
        b.max_depth = MAX_DEPTH;
        b.max_recorded_anchor_events = MAX_ANCHOR_COPIES;
        b.max_recorded_anchor_bytes = MAX_ANCHOR_COPY_BYTES;
        // Off: one `&role_defaults` merged into hundreds of roles is an ordinary topology, and
        // the replay and copy limits below already stop a bomb, whatever its shape.
        b.enforce_alias_anchor_ratio = false;
        b.alias_anchor_min_aliases = ALIAS_RATIO_MIN_ALIASES;
        b.alias_anchor_ratio_multiplier = ALIAS_RATIO;
        options.budget = Some(b);
        options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAYED_EVENTS;
    }

    /// What to say (message, help) when `err` is a resource limit; `None` for other errors.
    pub fn explain(self, err: &Error) -> Option<(String, String)> {
        let raise = format!(
            "if the file really is this large, raise the limit with {MAX_NODES_VAR}=N (default {DEFAULT_MAX_NODES} nodes; events are limited to twice as many)"
        );
        let bomb = "aliases that expand this much look like an alias bomb (\"billion laughs\"); this limit cannot be raised: write the repeated parts out, or share fewer of them through aliases".to_owned();
        let mut err = err;
        while let Error::WithSnippet { error, .. } | Error::AliasError { error, .. } = err {
            err = error;
        }
        Some(match err {
            Error::Budget { breach, .. } => match breach {
                BudgetBreach::Nodes { .. } => (
                    format!(
                        "the YAML has more than {} nodes (mappings, lists and values, aliases expanded): the node limit",
                        self.nodes
                    ),
                    raise,
                ),
                BudgetBreach::Events { .. } => (
                    format!(
                        "the YAML has more than {} parser events (aliases expanded): the event limit, twice the node limit",
                        self.events()
                    ),
                    raise,
                ),
                BudgetBreach::ScalarBytes { .. } | BudgetBreach::InputBytes { .. } => (
                    format!("the YAML holds more than {MAX_BYTES} bytes (256 MiB): the size limit"),
                    "split the topology, or move large values out with `file:` references".into(),
                ),
                BudgetBreach::Aliases { .. } => (
                    format!("the YAML has more than {MAX_ALIASES} aliases (`*name`): the alias limit"),
                    bomb,
                ),
                BudgetBreach::Anchors { .. } => (
                    format!("the YAML has more than {MAX_ANCHORS} anchors (`&name`): the anchor limit"),
                    bomb,
                ),
                BudgetBreach::AliasAnchorRatio { aliases, anchors } => (
                    format!(
                        "the YAML has {aliases} aliases for {anchors} anchors: more than {ALIAS_RATIO} aliases per anchor (once there are {ALIAS_RATIO_MIN_ALIASES} aliases) is refused"
                    ),
                    bomb,
                ),
                BudgetBreach::RecordedAnchorEvents { .. } => (
                    format!(
                        "anchored nodes and the aliases inside them need more than {MAX_ANCHOR_COPIES} event copies: the alias expansion limit"
                    ),
                    bomb,
                ),
                BudgetBreach::RecordedAnchorBytes { .. } => (
                    format!(
                        "anchored nodes and the aliases inside them need more than {MAX_ANCHOR_COPY_BYTES} bytes of copies: the alias expansion limit"
                    ),
                    bomb,
                ),
                BudgetBreach::Depth { .. } => (
                    format!("the YAML nests more than {MAX_DEPTH} mappings and lists: the nesting limit"),
                    "flatten the structure; topologies do not need deep nesting".into(),
                ),
                _ => (
                    "the YAML exceeds one of the parser's resource limits (documents or merge keys)".into(),
                    bomb,
                ),
            },
            Error::AliasReplayLimitExceeded {
                max_total_replayed_events,
                ..
            } => (
                format!(
                    "the aliases expand to more than {max_total_replayed_events} events: the alias expansion limit"
                ),
                bomb,
            ),
            Error::AliasExpansionLimitExceeded { .. }
            | Error::AliasReplayStackDepthExceeded { .. }
            | Error::AliasReplayCounterOverflow { .. } => (
                "the aliases expand too much or nest too deeply: the alias expansion limit".into(),
                bomb,
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_sets_the_node_limit_and_refuses_nonsense() {
        let env = |v: &'static str| move |n: &str| (n == MAX_NODES_VAR).then(|| v.to_string());
        assert_eq!(
            Limits::from_env(&|_| None).unwrap().nodes,
            DEFAULT_MAX_NODES
        );
        assert_eq!(
            Limits::from_env(&env("20_000_000")).unwrap().nodes,
            20_000_000
        );
        assert_eq!(
            Limits::from_env(&env("20000000")).unwrap().events(),
            40_000_000
        );
        for bad in ["", "0", "-1", "lots", "1e9"] {
            assert_eq!(Limits::from_env(&env(bad)), Err(bad.to_string()));
        }
    }
}

#[cfg(test)]
mod load_tests {
    use std::io::Write;

    use super::*;
    use crate::topology::{TopologyError, load_with_env};

    fn var(v: &'static str) -> impl Fn(&str) -> Option<String> {
        move |n: &str| (n == MAX_NODES_VAR).then(|| v.to_string())
    }

    fn load(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<usize, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        match load_with_env(&path, env) {
            Ok(d) => Ok(d.resources.len()),
            Err(TopologyError::Invalid(ps)) => Err(ps
                .iter()
                .map(|p| {
                    format!(
                        "{}:{} {} | {}",
                        p.line,
                        p.column,
                        p.message,
                        p.help.clone().unwrap_or_default()
                    )
                })
                .collect()),
            Err(e) => Err(vec![e.to_string()]),
        }
    }

    /// KV secrets: 4 nodes each (path, mapping, key, value).
    fn kv_topology(secrets: usize) -> String {
        let mut t = String::from(
            "version: 1\nopenbao:\n  secrets:\n    app:\n      type: kv-v2\n      kv:\n",
        );
        for i in 0..secrets {
            t.push_str(&format!("        p{i}: {{ k: v{i} }}\n"));
        }
        t
    }

    #[test]
    fn a_topology_of_300_000_nodes_validates() {
        let n = load(&kv_topology(75_000), &|_| None);
        assert!(n.as_ref().is_ok_and(|n| *n > 75_000), "{n:?}");
    }

    #[test]
    fn the_node_limit_is_named_with_its_value_and_the_variable() {
        let p = load(&kv_topology(300), &var("1000")).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("more than 1000 nodes") && p[0].contains(MAX_NODES_VAR),
            "{p:?}"
        );
        assert!(!p[0].contains("Nodes {"), "a Debug dump: {p:?}");
        assert!(load(&kv_topology(300), &var("2000")).is_ok());
        let e = load(&kv_topology(1), &var("many")).unwrap_err();
        assert!(
            e[0].contains(MAX_NODES_VAR) && e[0].contains("`many`"),
            "{e:?}"
        );
    }

    /// Nine levels of ten aliases each: 10^9 strings once expanded.
    fn alias_bomb() -> String {
        let mut t = String::from(
            "version: 1\nname:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let (p, n) = (w[0], w[1]);
            let items = vec![format!("*{p}"); 10].join(", ");
            t.push_str(&format!("  {n}: &{n} [{items}]\n"));
        }
        t
    }

    #[test]
    fn an_alias_bomb_is_refused_whatever_the_node_limit() {
        // Even with a node limit far above what the bomb expands to.
        let p = load(&alias_bomb(), &var("1000000000")).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("alias expansion limit") && p[0].contains("1000000"),
            "{p:?}"
        );
        assert!(p[0].contains("alias bomb"), "{p:?}");
    }

    #[test]
    fn one_anchor_shared_by_hundreds_of_roles_is_an_ordinary_topology() {
        let mut t = String::from(
            "version: 1\nopenbao:\n  auth:\n    approle:\n      roles:\n        base: &defaults { token_ttl: 1h, token_max_ttl: 4h }\n",
        );
        for i in 0..500 {
            t.push_str(&format!(
                "        r{i}: {{ <<: *defaults, secret_id_num_uses: 1 }}\n"
            ));
        }
        // 501 roles and their mount.
        assert_eq!(load(&t, &|_| None), Ok(502));
    }
}

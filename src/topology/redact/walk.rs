//! The structural pass: granit-parser's events with their byte spans, a stack of the open
//! collections, and the spans of the scalars that sit in a secret context.

use std::collections::HashSet;

use granit_parser::{Event, Parser, StructureStyle};

use crate::topology::resolve::MASKED_FIELDS;

/// Reference prefixes: such a value names where the secret is, it is not the secret.
const REFERENCES: &[&str] = &[
    "env:",
    "file:",
    "sops:",
    "vault:",
    "infisical:",
    "keycloak:",
];

/// What a mapping key means for the value under it (only what the rules below need).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    /// No key: the document root, or an item of a sequence under no key.
    Root,
    /// One of `MASKED_FIELDS`, or of the caller's extra secret keys.
    Secret,
    Kv,
    Token,
    OpenBao,
    Secrets,
    Infisical,
    Projects,
    Other,
    /// An alias or a collection used as a key: its name is not known here.
    Unknown,
}

impl Key {
    fn of(name: &str, extra: &[&str]) -> Key {
        match name {
            "kv" => Key::Kv,
            "token" => Key::Token,
            "openbao" => Key::OpenBao,
            "secrets" => Key::Secrets,
            "infisical" => Key::Infisical,
            "projects" => Key::Projects,
            n if MASKED_FIELDS.contains(&n) || extra.contains(&n) => Key::Secret,
            _ => Key::Other,
        }
    }
}

struct Frame {
    map: bool,
    flow: bool,
    /// Everything below is secret.
    secret: bool,
    /// The key this collection is the value of.
    name: Key,
    /// Mappings: the key of the entry being read, or `None` while the next node is a key.
    key: Option<Key>,
    /// This collection is itself a mapping key (`? {...} : value`).
    is_key: bool,
    anchor: usize,
}

/// Where the event stream stopped before the end of the text (a syntax error).
pub(super) struct Stop {
    /// The end of the last complete event: nothing from here on was read structurally.
    pub at: usize,
    /// Flow collections (`[`, `{`) still open there.
    pub flow_depth: usize,
}

#[derive(Default)]
pub(super) struct Walk {
    /// Byte ranges to mask.
    pub masks: Vec<(usize, usize)>,
    /// Anchors referred to by an alias in a secret context.
    pub secret_aliases: Vec<usize>,
    /// (anchor of an open collection, anchor an alias inside it refers to).
    pub edges: Vec<(usize, usize)>,
    /// Every anchor defined.
    pub anchors: Vec<usize>,
    pub stopped: Option<Stop>,
}

/// Where the next node goes.
enum Slot {
    Key,
    Value { secret: bool, name: Key },
}

struct Walker<'a> {
    text: &'a str,
    secret_anchors: &'a HashSet<usize>,
    /// Keys whose values are secret besides `MASKED_FIELDS` (a realm file's `secret`).
    extra: &'a [&'a str],
    stack: Vec<Frame>,
    /// Anchors of the open collections (for `edges`).
    open_anchors: Vec<usize>,
    out: Walk,
}

/// Walks `text`'s events; nodes anchored with an id in `secret_anchors` are secret contexts.
pub(super) fn walk(text: &str, secret_anchors: &HashSet<usize>, extra: &[&str]) -> Walk {
    let mut w = Walker {
        text,
        secret_anchors,
        extra,
        stack: Vec::new(),
        open_anchors: Vec::new(),
        out: Walk::default(),
    };
    let mut last_end = 0;
    for item in Parser::new_from_str(text) {
        let span = item
            .as_ref()
            .ok()
            .and_then(|(_, s)| Some((s.start.byte_offset()?, s.end.byte_offset()?)));
        let (Ok((event, _)), Some((start, end))) = (item, span) else {
            let flow_depth = w.stack.iter().filter(|f| f.flow).count();
            w.out.stopped = Some(Stop {
                at: last_end,
                flow_depth,
            });
            break;
        };
        let end = end.min(text.len());
        let start = start.min(end);
        last_end = last_end.max(end);
        w.event(event, start, end);
    }
    w.out
}

impl Walker<'_> {
    fn event(&mut self, event: Event<'_>, start: usize, end: usize) {
        match event {
            Event::Scalar(value, _, anchor, _) => {
                self.anchor(anchor);
                match self.slot(anchor) {
                    Slot::Key => self.key_done(Key::of(&value, self.extra)),
                    Slot::Value { secret, .. } => {
                        if secret && !self.is_reference(&value, start, end) {
                            self.out.masks.push((start, end));
                        }
                        self.value_done();
                    }
                }
            }
            Event::Alias(target) => {
                for &a in &self.open_anchors {
                    self.out.edges.push((a, target));
                }
                match self.slot(0) {
                    Slot::Key => self.key_done(Key::Unknown),
                    Slot::Value { secret, .. } => {
                        if secret {
                            self.out.secret_aliases.push(target);
                        }
                        self.value_done();
                    }
                }
            }
            Event::MappingStart(style, anchor, _) => self.open(true, style, anchor),
            Event::SequenceStart(style, anchor, _) => self.open(false, style, anchor),
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                if frame.anchor != 0 {
                    self.open_anchors.pop();
                }
                if frame.is_key {
                    self.key_done(Key::Unknown);
                } else {
                    self.value_done();
                }
            }
            _ => {}
        }
    }

    fn anchor(&mut self, anchor: usize) {
        if anchor != 0 {
            self.out.anchors.push(anchor);
        }
    }

    fn open(&mut self, map: bool, style: StructureStyle, anchor: usize) {
        self.anchor(anchor);
        let (is_key, secret, name) = match self.slot(anchor) {
            Slot::Key => (true, false, Key::Unknown),
            Slot::Value { secret, name } => (false, secret, name),
        };
        if anchor != 0 {
            self.open_anchors.push(anchor);
        }
        self.stack.push(Frame {
            map,
            flow: style == StructureStyle::Flow,
            secret,
            name,
            key: None,
            is_key,
            anchor,
        });
    }

    /// Where the next node goes, and whether it is secret.
    fn slot(&self, anchor: usize) -> Slot {
        let anchored = anchor != 0 && self.secret_anchors.contains(&anchor);
        let Some(f) = self.stack.last() else {
            return Slot::Value {
                secret: anchored,
                name: Key::Root,
            };
        };
        if !f.map {
            return Slot::Value {
                secret: f.secret || anchored,
                name: f.name,
            };
        }
        let Some(key) = f.key else {
            return Slot::Key;
        };
        let secret_key = match key {
            Key::Secret | Key::Unknown => true,
            // `secrets: { kv: {type: kv-v2} }` names a mount; any other `kv:` holds KV data.
            Key::Kv => f.name != Key::Secrets,
            Key::Token => f.name == Key::OpenBao,
            // `infisical: {projects: {SLUG: {secrets: ...}}}` holds secret values (OpenBao's
            // `secrets:` names mounts).
            Key::Secrets => self.under_infisical_project(),
            _ => false,
        };
        Slot::Value {
            secret: f.secret || secret_key || anchored,
            name: key,
        }
    }

    fn key_done(&mut self, key: Key) {
        if let Some(f) = self.stack.last_mut() {
            f.key = Some(key);
        }
    }

    fn value_done(&mut self) {
        if let Some(f) = self.stack.last_mut()
            && f.map
        {
            f.key = None;
        }
    }

    /// Whether the open mapping is a project of `infisical.projects`.
    fn under_infisical_project(&self) -> bool {
        let n = self.stack.len();
        n >= 3
            && self.stack[n - 2].name == Key::Projects
            && self.stack[n - 3].name == Key::Infisical
    }

    /// A reference written on one line (a value spread over lines is not a reference to trust).
    fn is_reference(&self, value: &str, start: usize, end: usize) -> bool {
        let one_line = self
            .text
            .get(start..end)
            .is_some_and(|s| !s.contains(['\n', '\r']));
        one_line && REFERENCES.iter().any(|r| value.starts_with(r))
    }
}

//! Masks secret values in the topology text that error snippets quote.
//!
//! A KV value, a password or a token may be written literally in the file; an error next to it
//! must not print it, whatever YAML style it is written in. The masking is structural: the file
//! is read as YAML events (granit-parser, the parser under serde-saphyr, so both agree on the
//! structure) with their byte spans, a stack of open collections tracks where each value sits,
//! and every scalar in a *secret context* is masked:
//!
//! - the value of a field in [`MASKED_FIELDS`](super::resolve::MASKED_FIELDS), and of `token`
//!   directly under `openbao:`, whatever its shape (a flow mapping, a list, a block scalar);
//! - everything under a `kv:` block (KV data is always sensitive), except when `kv` is the name
//!   of a mount under `secrets:`;
//! - the value of a key that is itself an alias or a collection (its name cannot be known);
//! - an anchored node that an alias in a secret context refers to, wherever it is defined, and
//!   the anchors its own aliases refer to (hence two passes: the anchor comes first in the text).
//!
//! References (`env:`, `file:`, `sops:`, `vault:` on one line) stay visible: they are not
//! secrets. Keys, comments and YAML punctuation stay visible, so snippets remain useful.
//!
//! Masking keeps every byte offset: each masked byte becomes `*`, spaces and line breaks are
//! kept, so spans computed on the original text point at the same places in the masked one.
//!
//! Broken YAML: the event stream stops at the first syntax error, and nothing past the last
//! complete event is known structurally. Masking all of that would leave the snippet of a syntax
//! error (which points into exactly that part) unreadable, so the rest is masked lexically and
//! conservatively instead (see [`tail`]): only YAML punctuation and `key:` names that start a line
//! or a flow entry stay visible; every value-looking byte, quoted text, block scalar body, comment
//! and anchor name is masked. An alias past the error may sit in a secret context that cannot
//! be known, so every anchored node of a broken file is masked too.

mod tail;
#[cfg(test)]
mod tests;
mod walk;

use std::collections::{HashMap, HashSet};

/// The topology text with literal secret values masked (same length, same line breaks).
pub fn redact(text: &str) -> String {
    redact_with(text, &[])
}

/// [`redact`], with `extra` keys whose values are secret too (a Keycloak realm file's
/// `secret`, `clientSecret`).
pub fn redact_with(text: &str, extra: &[&str]) -> String {
    let first = walk::walk(text, &HashSet::new(), extra);
    let mut secret_anchors = closure(&first.secret_aliases, &first.edges);
    if first.stopped.is_some() {
        secret_anchors.extend(first.anchors.iter().copied());
    }
    // Anchors come before their aliases in the text: a second pass masks the anchored nodes.
    let done = if secret_anchors.is_empty() {
        first
    } else {
        walk::walk(text, &secret_anchors, extra)
    };
    let mut out = text.as_bytes().to_vec();
    for &(start, end) in &done.masks {
        if let Some(bytes) = out.get_mut(start..end) {
            mask(bytes);
        }
    }
    if let Some(stop) = done.stopped {
        tail::mask_tail(text.as_bytes(), stop.at, stop.flow_depth, &mut out);
    }
    String::from_utf8(out).unwrap_or_else(|_| mask_all(text))
}

/// The anchors reachable from `aliases` through aliases nested in anchored collections.
fn closure(aliases: &[usize], edges: &[(usize, usize)]) -> HashSet<usize> {
    let mut next: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    let mut seen: HashSet<usize> = HashSet::new();
    let mut todo: Vec<usize> = aliases.to_vec();
    while let Some(a) = todo.pop() {
        if seen.insert(a)
            && let Some(more) = next.get(&a)
        {
            todo.extend(more.iter().copied());
        }
    }
    seen
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Replaces every byte but blanks by `*`. Called on whole characters only (spans start and end
/// on character boundaries), so the result stays UTF-8.
fn mask(bytes: &mut [u8]) {
    for b in bytes.iter_mut().filter(|b| !is_blank(**b)) {
        *b = b'*';
    }
}

/// Everything masked, character by character: the fallback should a span ever split a
/// character (it cannot with granit-parser's `&str` input, but a wrong guess must not leak).
fn mask_all(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && is_blank(c as u8) {
                c.to_string()
            } else {
                "*".repeat(c.len_utf8())
            }
        })
        .collect()
}

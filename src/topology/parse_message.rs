//! The YAML parser's messages in the tool's words: no repeated position, no library advice,
//! no value quoted from the file (it may be a secret), and a hint saying what to do.

use super::node::Loc;

/// The parser's message without its own position (we print ours), library advice, or any value
/// from the file (a type error may quote the value, and the value may be a secret).
pub(super) fn clean_message(raw: &str) -> String {
    let mut m = raw
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_owned();
    if let Some(rest) = m.strip_prefix("error: ") {
        m = rest.to_owned();
    }
    if m.starts_with("line ")
        && let Some(idx) = m.find(": ")
    {
        m = m[idx + 2..].to_owned();
    }
    // An error inside an alias' anchor: "... (defined at line L, column C) (used at ...)".
    for tail in [" (defined at line ", " at line "] {
        if let Some(idx) = m.find(tail) {
            m.truncate(idx);
        }
    }
    if let Some(idx) = m.find(", set DuplicateKeyPolicy") {
        m.truncate(idx);
    }
    if let Some(key) = m.strip_prefix("duplicate mapping key: ") {
        m = format!("duplicate mapping key `{key}`");
    }
    scrub_values(&m)
}

/// Replaces what a message quotes from the file by the word `value`: `"..."` (serde's
/// `string "x"`), and `` `...` `` unless it follows a word that names a key, a field, a tag or a
/// type (`unknown field `x``, which is not a value; `unknown variant `x`` is one). granit-parser
/// quotes a character as `` `x' ``.
fn scrub_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['"', '`']) {
        out.push_str(&rest[..i]);
        let quote = rest[i..].chars().next().unwrap_or('"');
        let body = &rest[i + 1..];
        let end = if quote == '"' {
            let mut escaped = false;
            body.char_indices()
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map_or(body.len(), |(j, _)| j + 1)
        } else {
            body.find(['`', '\'']).map_or(body.len(), |j| j + 1)
        };
        let word = out.trim_end().rsplit(' ').next().unwrap_or("");
        if quote == '`' && matches!(word, "field" | "key" | "tag" | "enum" | "bracket") {
            out.push('`');
            out.push_str(&body[..end]);
        } else {
            out.push_str("value");
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

pub(super) fn is_syntax_error(message: &str) -> bool {
    [
        "illegal",
        "did not find",
        "while parsing",
        "unclosed",
        "expected ','",
        "mapping values are not allowed",
        "found unexpected",
        "tabs disallowed",
    ]
    .iter()
    .any(|p| message.contains(p))
}

/// The innermost `[` or `{` still open at `upto` (ignoring quotes and comments), if any.
pub(super) fn unclosed_bracket(text: &str, upto: usize) -> Option<(Loc, char)> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    for (i, c) in text.char_indices() {
        if i >= upto {
            break;
        }
        if comment {
            comment = c != '\n';
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => stack.push((i, c)),
            (None, ']' | '}') => {
                stack.pop();
            }
            _ => {}
        }
    }
    let (offset, c) = stack.pop()?;
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
    Some((
        Loc {
            line,
            column,
            offset,
            len: 1,
        },
        c,
    ))
}

/// Byte offset of a 1-based line and column (columns count characters).
pub(super) fn line_col_offset(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col: usize = l
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map(|(b, _)| b)
                .unwrap_or(0);
            return offset + col;
        }
        offset += l.len();
    }
    offset.min(text.len())
}

pub(super) fn hint_for(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling against spec/topology.md; unknown keys are refused so a typo cannot silently drop (or, with --prune, delete) objects".into())
    } else if message.contains("duplicate mapping key") {
        Some("each key may appear once in a mapping; remove or rename the repeated one".into())
    } else if message.contains("missing field") {
        Some("add the required field".into())
    } else if message.starts_with("unclosed bracket") {
        Some(
            "close the bracket on the line it opens, or write the list as indented `- item` lines"
                .into(),
        )
    } else if message.starts_with("invalid")
        || message.contains("expected") && !is_syntax_error(message)
    {
        Some("check the value's type against spec/topology.md (a mapping, a list, a string, a number)".into())
    } else if is_syntax_error(message) {
        Some("this is not valid YAML here: check the indentation (spaces, not tabs) and that brackets and quotes are closed".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::clean_message;

    #[test]
    fn quoted_values_are_replaced_and_names_kept() {
        for (raw, clean) in [
            (
                "invalid type: string \"hunter2\", expected u32 at line 1, column 10",
                "invalid type: string value, expected u32",
            ),
            (
                "invalid value: string \"hun\\\"ter2\", expected a mount path",
                "invalid value: string value, expected a mount path",
            ),
            (
                "invalid type: integer `31337`, expected a boolean",
                "invalid type: integer value, expected a boolean",
            ),
            (
                "unknown variant `hunter2`, expected one of lxc, agent",
                "unknown variant value, expected one of lxc, agent",
            ),
            ("unexpected character: `h'", "unexpected character: value"),
            (
                "non-finite float `.nan` rejected by the configured policy",
                "non-finite float value rejected by the configured policy",
            ),
            (
                "expected sequence start (defined at line 1, column 13) (used at line 2, column 4)",
                "expected sequence start",
            ),
            // Names of fields and keys are not values: they stay.
            (
                "unknown field `polices`, expected one of address, token",
                "unknown field `polices`, expected one of address, token",
            ),
            (
                "duplicate mapping key: a/b, set DuplicateKeyPolicy in Options if acceptable",
                "duplicate mapping key `a/b`",
            ),
        ] {
            assert_eq!(clean_message(raw), clean, "{raw}");
        }
    }
}

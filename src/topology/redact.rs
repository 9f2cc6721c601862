//! Masks secret values in the topology text that error snippets quote.
//!
//! A KV value or a password may be written literally in the file; an error next to it must not
//! print it. Masking keeps every byte offset (each masked byte becomes `*`), so spans computed on
//! the original text point at the same places in the masked one.

use super::resolve::SECRET_FIELDS;

const REFERENCES: &[&str] = &["env:", "file:", "sops:", "vault:"];

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Replaces the bytes of `line[from..]` that form a value (not a reference, not a comment) by `*`.
fn mask_from(line: &str, from: usize) -> String {
    let value = &line[from..];
    let trimmed = value.trim_start().trim_start_matches(['"', '\'']);
    if trimmed.is_empty()
        || REFERENCES.iter().any(|r| trimmed.starts_with(r))
        || trimmed.starts_with('#')
    {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len());
    out.push_str(&line[..from]);
    for b in value.bytes() {
        out.push(if b == b'\n' || b == b'\r' || b == b' ' {
            b as char
        } else {
            '*'
        });
    }
    out
}

/// The key and the byte index just after `key:` when the line is `key: value` (or `- key: value`).
fn value_start(line: &str) -> Option<(String, usize)> {
    let lead = line.len() - line.trim_start().len();
    let rest = &line[lead..];
    let (rest, lead) = match rest.strip_prefix("- ") {
        Some(r) => (r, lead + 2),
        None => (rest, lead),
    };
    let colon = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(str::len))?;
    let key = rest[..colon]
        .trim_matches(|c| c == '"' || c == '\'')
        .to_owned();
    Some((key, lead + colon + 1))
}

/// The topology text with literal secret values masked: every value inside a `kv:` block and
/// every value of a field the server treats as secret.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Indentation of the `kv:` key whose block we are in.
    let mut kv_block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let blank = content.trim().is_empty() || content.trim_start().starts_with('#');
        if let Some(i) = kv_block
            && !blank
            && indent(content) <= i
        {
            kv_block = None;
        }
        let parsed = value_start(content);
        let masked = match (&parsed, kv_block) {
            (Some((_, at)), Some(_)) => mask_from(line, *at),
            (Some((key, at)), None) if key == "kv" => {
                kv_block = Some(indent(content));
                mask_from(line, *at)
            }
            (Some((key, at)), None) if SECRET_FIELDS.contains(&key.as_str()) => {
                mask_from(line, *at)
            }
            (None, Some(_)) if !blank => mask_from(line, indent(content)),
            _ => line.to_owned(),
        };
        out.push_str(&masked);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_kv_values_and_secret_fields_keeping_offsets() {
        let text = "secrets:\n  s:\n    type: kv-v2\n    kv:\n      a/b:\n        k: hunter2\n        r: env:X\n    description: shown\nconnections:\n  c:\n    password: s3cret\n    username: u\n";
        let r = redact(text);
        assert_eq!(r.len(), text.len());
        assert!(!r.contains("hunter2"), "{r}");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("env:X"));
        assert!(r.contains("description: shown"));
        assert!(r.contains("username: u"));
        let flow = "    kv: { a/b: { k: hunter2 } }\n";
        assert!(!redact(flow).contains("hunter2"));
    }
}

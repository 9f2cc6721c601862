//! The hand-over for a process that aegisctl does not start: `aegisctl env` prints or writes the
//! resolved variables as dotenv, shell or JSON, and explains where each came from. The text is a
//! secret as a whole, so it is built in one buffer and wrapped at once; a file is written 0600,
//! atomically, and never over a file that others could already read (or a link to one).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::RuntimeError;
use crate::sensitive::Sensitive;

/// How `aegisctl env` writes the variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `NAME="value"` lines, as docker compose's `env_file` and python-dotenv read them.
    Dotenv,
    /// One JSON object of names to values.
    Json,
    /// `export NAME='value'` lines, safe to `eval` or `source` in any POSIX shell.
    Shell,
}

/// The variables (sorted by the caller) as `format` writes them. `notes` lead the text as `# `
/// comments in dotenv and shell; JSON has no comments, so the caller prints them on stderr.
pub fn render(
    format: Format,
    vars: &[(String, Sensitive<String>)],
    notes: &[String],
) -> Sensitive<String> {
    // Reserve enough up front that the buffer (usually) never grows: a reallocation would leave
    // a copy of the values behind in freed memory, where zeroizing cannot reach.
    let size: usize = vars
        .iter()
        .map(|(n, v)| n.len() + 2 * v.expose().len() + 16)
        .chain(notes.iter().map(|n| n.len() + 8))
        .sum::<usize>()
        + 8;
    let mut out = Sensitive::new(String::with_capacity(size));
    let buf = out.expose_mut();
    if format != Format::Json {
        for line in notes.iter().flat_map(|n| n.lines()) {
            buf.push_str("# ");
            buf.push_str(line);
            buf.push('\n');
        }
    }
    match format {
        Format::Dotenv => {
            for (name, value) in vars {
                buf.push_str(name);
                buf.push_str("=\"");
                dotenv_escape(buf, value.expose());
                buf.push_str("\"\n");
            }
        }
        Format::Shell => {
            for (name, value) in vars {
                buf.push_str("export ");
                buf.push_str(name);
                buf.push_str("='");
                // Nothing is special inside single quotes but the quote itself: close, write an
                // escaped quote, reopen.
                for c in value.expose().chars() {
                    if c == '\'' {
                        buf.push_str("'\\''");
                    } else {
                        buf.push(c);
                    }
                }
                buf.push_str("'\n");
            }
        }
        Format::Json => {
            if vars.is_empty() {
                buf.push_str("{}\n");
            } else {
                buf.push_str("{\n");
                for (i, (name, value)) in vars.iter().enumerate() {
                    buf.push_str("  ");
                    json_string(buf, name);
                    buf.push_str(": ");
                    json_string(buf, value.expose());
                    buf.push_str(if i + 1 < vars.len() { ",\n" } else { "\n" });
                }
                buf.push_str("}\n");
            }
        }
    }
    out
}

/// Whether `path` may be written by [`write_out`]: checked before anything is resolved, so a
/// refused `--out` leases nothing. (The write checks again: the file may change meanwhile.)
pub fn check_out(path: &Path) -> Result<(), RuntimeError> {
    let refuse = |reason: String, help: String| RuntimeError::Output {
        what: "will not overwrite".into(),
        path: path.to_path_buf(),
        reason,
        help,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refuse(
                "it is a symbolic link".into(),
                "write to the link's target itself, or remove the link; aegisctl does not follow links when writing secrets".into(),
            ));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(refuse(
                "it is not a regular file".into(),
                "choose a file path for --out".into(),
            ));
        }
        Ok(meta) if meta.mode() & 0o077 != 0 => {
            return Err(refuse(
                format!(
                    "its mode is {:04o}: others can read or write it, and aegisctl never overwrites a file with looser permissions than 0600",
                    meta.mode() & 0o7777
                ),
                format!(
                    "run `chmod 600 {}` if it is yours to replace, or remove it (or choose another --out file); the file was left unchanged",
                    path.display()
                ),
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(RuntimeError::Output {
                what: "cannot inspect".into(),
                path: path.to_path_buf(),
                reason: e.to_string(),
                help: "check the directory's permissions".into(),
            });
        }
    }
    Ok(())
}

/// The inside of a double-quoted dotenv value. The escaped set is the one special inside a
/// shell's double quotes, so a shell that sources the line reads the same single-line value; a
/// newline is written `\n` so that every variable stays on one line (a shell keeps those two
/// characters: `--format shell` is the one to source for multi-line values).
fn dotenv_escape(buf: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '"' => buf.push_str("\\\""),
            '$' => buf.push_str("\\$"),
            '`' => buf.push_str("\\`"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            c => buf.push(c),
        }
    }
}

/// A JSON string written straight into the buffer (serde_json would build its own copy first).
fn json_string(buf: &mut String, value: &str) {
    buf.push('"');
    for c in value.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            '\u{8}' => buf.push_str("\\b"),
            '\u{c}' => buf.push_str("\\f"),
            c if u32::from(c) < 0x20 => buf.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// Writes `text` to `path` with mode 0600: a temporary file in the same directory, created
/// exclusively, synced, then renamed over the target, so a reader sees the old file or the new
/// one and never a half-written or briefly readable one. An existing target must be a regular
/// file that only its owner can read or write: aegisctl never replaces a file with looser
/// permissions (someone may rely on them, or may already be reading it) nor follows a link.
pub fn write_out(path: &Path, text: &Sensitive<String>) -> Result<(), RuntimeError> {
    check_out(path)?;
    let temp = temp_path(path);
    let written = write_temp(&temp, text).and_then(|()| {
        // rename(2) replaces the directory entry itself: had the target become a link since the
        // check above, the link is replaced, never followed.
        std::fs::rename(&temp, path)
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(RuntimeError::Output {
            what: "cannot write".into(),
            path: path.to_path_buf(),
            reason: e.to_string(),
            help: "check that the directory exists and is writable; the target was left unchanged"
                .into(),
        });
    }
    // The rename is durable only once the directory is synced; the file is already complete,
    // so a failure here is not worth failing the command for.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A fresh name beside the target: same directory (so the rename stays on one file system),
/// hidden, and unguessable enough that `O_EXCL` is about collisions, not attackers.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let random: u64 = rand::random();
    path.with_file_name(format!(
        ".{name}.aegisctl-{}-{random:016x}.tmp",
        std::process::id()
    ))
}

fn write_temp(temp: &Path, text: &Sensitive<String>) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)?;
    f.write_all(text.expose().as_bytes())?;
    f.sync_all()
}

/// One variable of `aegisctl env --explain`: where it comes from, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplainRow {
    pub name: String,
    /// The reference (`vault:…`, `lease:…`, `env:NAME`, `literal`, `scope`).
    pub source: String,
    /// For a scoped secret: the scope that won (`workspace/acme/platform/search`).
    pub scope: Option<String>,
    /// For a dynamic credential: the lease's TTL in seconds.
    pub lease_ttl: Option<u64>,
    /// The lower-precedence sources this name overrode (`scope team/acme/platform`).
    pub shadowed: Vec<String>,
}

/// The table of `aegisctl env --explain`: a header, then NAME, SOURCE, SCOPE and LEASE TTL in
/// aligned columns, and under a name that overrode others the sources it overrode.
pub fn explain(rows: &[ExplainRow], profile: &str, scope: Option<&str>) -> String {
    let mut out = match scope {
        Some(s) => format!("Profile {profile}, scope {s}:\n"),
        None => format!("Profile {profile}:\n"),
    };
    if rows.is_empty() {
        out.push_str("  (no variables)\n");
        return out;
    }
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.source.clone(),
                r.scope.clone().unwrap_or_else(|| "-".into()),
                r.lease_ttl
                    .map(crate::duration::format)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["NAME", "SOURCE", "SCOPE", "LEASE TTL"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&cells) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 4]| {
        let mut l = String::from("  ");
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(&format!("{cell:<w$}"));
        }
        format!("{}\n", l.trim_end())
    };
    out.push_str(&line(&header));
    for (row, cells) in rows.iter().zip(&cells) {
        out.push_str(&line(cells));
        if !row.shadowed.is_empty() {
            out.push_str(&format!("    (overrides: {})\n", row.shadowed.join(", ")));
        }
    }
    out
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;

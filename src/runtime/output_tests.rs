//! #[cfg(test)]
//! Tests of the hand-over formats (a shell gives every nasty value back byte for byte), of the
//! rules for writing `--out` files, and of the `--explain` table.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, Sensitive<String>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), Sensitive::new(v.to_string())))
        .collect()
}

/// Values a shell or a parser could misread.
const NASTY: &[(&str, &str)] = &[
    ("A_SINGLE", "it's 'quoted' ''"),
    ("B_DOUBLE", "say \"hi\" \\\" done"),
    ("C_SUBST", "$(touch CANARY) ${HOME} $HOME $((1+1))"),
    ("D_BACKTICK", "`touch CANARY` and `id`"),
    ("E_NEWLINES", "line one\nline two\n\nend\n"),
    ("F_BACKSLASH", "C:\\path\\n\\\\ \\"),
    ("G_UNICODE", "héllo ✓ 日本語 🦀"),
    ("H_EMPTY", ""),
    ("I_GLOB", "* ? [a] ~ ! # ; & | < > %"),
    ("J_CR_TAB", "a\r\tb"),
];

/// Sources `text` in `sh` and prints each variable with `printf %s`; the canary file proves no
/// substitution ran.
fn sh_read_back(text: &str, names: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vars.sh");
    std::fs::write(&file, text).unwrap();
    names
        .iter()
        .map(|name| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(". \"$1\"; printf %s \"${name}\""))
                .arg("sh")
                .arg(&file)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!dir.path().join("CANARY").exists(), "a substitution ran");
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

#[test]
fn shell_gives_every_value_back_when_sourced() {
    let v = vars(NASTY);
    let text = render(Format::Shell, &v, &["a note\nover two lines".into()]);
    let names: Vec<&str> = NASTY.iter().map(|(n, _)| *n).collect();
    let back = sh_read_back(text.expose(), &names);
    for ((name, want), got) in NASTY.iter().zip(back) {
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn dotenv_single_line_values_mean_the_same_to_a_shell() {
    // The escaped set is the shell's double-quote set, so a sourced dotenv file agrees (a
    // newline is `\n` to dotenv readers, a backslash and `n` to a shell: left out here).
    let single: Vec<(&str, &str)> = NASTY
        .iter()
        .copied()
        .filter(|(_, v)| !v.contains(['\n', '\r']))
        .collect();
    let text = render(Format::Dotenv, &vars(&single), &[]);
    let names: Vec<&str> = single.iter().map(|(n, _)| *n).collect();
    for ((name, want), got) in single.iter().zip(sh_read_back(text.expose(), &names)) {
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn formats_as_snapshots() {
    let v = vars(&[
        ("API_KEY", "s3cr3t"),
        ("MULTI", "a\nb"),
        ("QUOTES", "it's \"x\" $HOME `id` \\"),
    ]);
    let notes = vec!["leases are not revoked by `aegisctl env`: they expire after 1h".to_string()];
    insta::assert_snapshot!("dotenv", render(Format::Dotenv, &v, &notes).expose());
    insta::assert_snapshot!("shell", render(Format::Shell, &v, &notes).expose());
    insta::assert_snapshot!("json", render(Format::Json, &v, &notes).expose());
}

#[test]
fn json_is_one_object_that_parses_back_and_has_no_notes() {
    let v = vars(NASTY);
    let text = render(Format::Json, &v, &["a note".into()]);
    assert!(text.expose().ends_with("}\n"));
    assert!(!text.expose().contains("a note"));
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text.expose()).unwrap();
    assert_eq!(parsed.len(), NASTY.len());
    for (name, want) in NASTY {
        assert_eq!(parsed[*name], *want, "{name}");
    }
    assert_eq!(render(Format::Json, &[], &[]).expose(), "{}\n");
    let control = vars(&[("C", "\u{1}\u{8}\u{c}\u{1f}")]);
    let parsed: serde_json::Value =
        serde_json::from_str(render(Format::Json, &control, &[]).expose()).unwrap();
    assert_eq!(parsed["C"], "\u{1}\u{8}\u{c}\u{1f}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn secret(text: &str) -> Sensitive<String> {
    Sensitive::new(text.to_string())
}

/// Only the target (and no temporary file) is left in the directory.
fn only_entry(dir: &Path, name: &str) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![name.to_string()]);
}

#[test]
fn a_new_file_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.env");
    write_out(&path, &secret("A=\"1\"\n")).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=\"1\"\n");
    only_entry(dir.path(), "app.env");
}

#[test]
fn an_existing_0600_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.env");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    write_out(&path, &secret("new")).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(mode(&path), 0o600);
    only_entry(dir.path(), "app.env");
}

#[test]
fn an_existing_looser_file_is_refused_and_left_unchanged() {
    for loose in [0o644, 0o640, 0o602, 0o660] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
        let err = write_out(&path, &secret("new")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("{loose:04o}")), "{text}");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("chmod 600"), "{help}");
        assert!(!text.contains("new") && !help.contains("new"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(mode(&path), loose);
        only_entry(dir.path(), "app.env");
    }
}

#[test]
fn a_symlink_is_refused_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.env");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("app.env");
    symlink(&target, &link).unwrap();
    let err = write_out(&link, &secret("new")).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A dangling link too: writing through it would create a file somewhere else.
    let dangling = dir.path().join("dangling.env");
    symlink(dir.path().join("nowhere"), &dangling).unwrap();
    assert!(write_out(&dangling, &secret("new")).is_err());
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let err = write_out(&sub, &secret("new")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(sub.is_dir());
    only_entry(dir.path(), "sub");
}

#[test]
fn a_missing_directory_fails_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("app.env");
    let err = write_out(&path, &secret("new")).unwrap_err();
    assert!(err.to_string().starts_with("cannot write"), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

fn row(name: &str, source: &str, scope: Option<&str>, ttl: Option<u64>) -> ExplainRow {
    ExplainRow {
        name: name.into(),
        source: source.into(),
        scope: scope.map(Into::into),
        lease_ttl: ttl,
        shadowed: Vec::new(),
    }
}

#[test]
fn explain_as_snapshots() {
    let mut team = row(
        "TEAM_TOKEN",
        "scope",
        Some("workspace/acme/platform/search"),
        None,
    );
    team.shadowed = vec!["scope org/acme".into(), "scope team/acme/platform".into()];
    let rows = vec![
        row(
            "DB_PASSWORD",
            "lease:database/creds/agent-role#password",
            None,
            Some(3600),
        ),
        row("LOG_LEVEL", "literal", None, None),
        row(
            "SEARCH_API_KEY",
            "vault:aegis-system/tools/search-api-key#value",
            None,
            None,
        ),
        team,
        row(
            "TOKEN_SHORT",
            "lease:aws/creds/ci#access_key",
            None,
            Some(90),
        ),
    ];
    insta::assert_snapshot!(
        "explain_scoped",
        explain(&rows, "web-search", Some("acme/platform/search"))
    );
    insta::assert_snapshot!("explain_empty", explain(&[], "idle", None));
}

//! A corpus of malformed topologies (tests/fixtures/malformed/*.yaml): each is refused by
//! `validate`, `plan` and `apply` with exit 1, `FILE:LINE:COL: message` pointing at the real
//! mistake, and not one request to the server.
//!
//! Each fixture starts with a `# Malformed:` comment saying what is wrong and a
//! `# Expected: LINE:COL ...` comment that must agree with the table below.

use std::path::Path;
use std::process::Output;

use crate::harness::{Bao, repo};

const DIR: &str = "tests/fixtures/malformed";

/// An environment variable that must not be set (missing-env.yaml refers to it).
const UNSET_VAR: &str = "AEGIS_MALFORMED_UNSET_VARIABLE";

/// (file, line, column, fragment of the message on the `FILE:LINE:COL:` line).
/// Positions are those of the mistake in the file, counted by hand (1-based, in characters).
const CORPUS: &[(&str, u64, u64, &str)] = &[
    ("unknown-top-key.yaml", 3, 1, "unknown field `opnbao`"),
    ("unknown-openbao-key.yaml", 5, 3, "unknown field `polices`"),
    ("unknown-mount-key.yaml", 8, 7, "unknown field `descripton`"),
    ("wrong-type-policies-list.yaml", 5, 13, "expected mapping"),
    ("wrong-type-version.yaml", 3, 10, "invalid"),
    ("duplicate-policy-key.yaml", 8, 5, "duplicate mapping key"),
    ("duplicate-field-key.yaml", 6, 3, "duplicate mapping key"),
    // The `[` that is never closed; the list goes on (as YAML allows) onto line 10.
    ("unclosed-bracket.yaml", 9, 27, "unclosed bracket"),
    ("unclosed-bracket-at-end.yaml", 9, 27, "unclosed bracket"),
    ("bad-indentation.yaml", 8, 4, "did not find expected key"),
    (
        "bad-duration.yaml",
        9,
        22,
        "`token_ttl` is not a valid duration",
    ),
    (
        "undefined-policy.yaml",
        14,
        56,
        "names the policy `writer`, which the topology does not declare",
    ),
    (
        "missing-env.yaml",
        10,
        21,
        "AEGIS_MALFORMED_UNSET_VARIABLE, which is not set",
    ),
    ("missing-file.yaml", 6, 13, "cannot be read"),
    (
        "host-name-path.yaml",
        11,
        3,
        "a host name is letters, digits",
    ),
    ("sops-missing-file.yaml", 10, 16, "cannot read"),
    (
        "vault-reference-malformed.yaml",
        10,
        18,
        "malformed vault: reference",
    ),
    // The offending `roles:` key, not the mount's first key.
    (
        "roles-on-userpass.yaml",
        8,
        7,
        "`userpass` is of type `userpass`",
    ),
    // The offending `kv:` key, not the mount's first key.
    ("kv-on-transit.yaml", 8, 7, "`transit` is of type `transit`"),
    ("version-2.yaml", 3, 10, "unsupported topology version 2"),
    // The name `root`, not the HCL text below it.
    (
        "builtin-root-policy.yaml",
        6,
        5,
        "the built-in policy `root` cannot be managed",
    ),
    // The `admin` key of an incomplete Keycloak login, not the key inside it.
    (
        "keycloak-admin-incomplete.yaml",
        6,
        3,
        "`keycloak.admin` needs either `username` and `password`",
    ),
    // Where the alias expansion runs out of copies: an alias in the `&f` list.
    ("yaml-alias-bomb.yaml", 10, 38, "the alias expansion limit"),
    // The misindented key below a flow-style secret (the secret itself is masked).
    (
        "yaml-syntax-error-after-flow-secret.yaml",
        11,
        6,
        "did not find expected key",
    ),
    ("yaml-tab-indentation.yaml", 9, 4, "tabs disallowed"),
    // Names are data: segments a URL parser would rewrite, or a server cannot hold, are refused
    // (a KV entry is pointed at on its line, at its body).
    (
        "name-dotdot-segment.yaml",
        10,
        24,
        "has a `.` or `..` segment",
    ),
    (
        "name-empty-segment.yaml",
        9,
        20,
        "has an empty path segment",
    ),
    (
        "name-dot-policy.yaml",
        7,
        5,
        "the policy `.` has a `.` or `..` segment",
    ),
    (
        "name-control-character.yaml",
        9,
        24,
        "has a control character",
    ),
    // `approle` and `approle/` are one mount: the second declaration is the mistake.
    (
        "name-declared-twice.yaml",
        8,
        15,
        "openbao[root].auth[\"approle\"] is declared twice",
    ),
    // The ledger cannot live in a mount OpenBao reserves.
    (
        "ledger-reserved-sys.yaml",
        5,
        11,
        "cannot be `sys`: OpenBao reserves",
    ),
    (
        "ledger-reserved-auth.yaml",
        5,
        11,
        "cannot be `auth/x`: OpenBao reserves `auth`",
    ),
    (
        "ledger-reserved-identity.yaml",
        5,
        11,
        "cannot be `identity`: OpenBao reserves",
    ),
    (
        "ledger-reserved-cubbyhole.yaml",
        5,
        11,
        "cannot be `cubbyhole`: OpenBao reserves",
    ),
    (
        "ledger-reserved-token.yaml",
        5,
        11,
        "cannot be `token`: OpenBao reserves",
    ),
];

fn rel(file: &str) -> String {
    format!("{DIR}/{file}")
}

/// Runs aegisctl from the repository root with the fixture's path as given (relative).
fn run(bao: &Bao, args: &[&str], file: &str) -> Output {
    bao.aegisctl()
        .current_dir(repo())
        .env_remove(UNSET_VAR)
        .args(args)
        .arg(rel(file))
        .output()
        .expect("run aegisctl")
}

/// Checks one run; returns what is wrong with it (empty when it is right).
fn check(out: &Output, what: &str, file: &str, line: u64, col: u64, fragment: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) {
        wrong.push(format!(
            "{what} {file}: exit status {:?}, expected 1",
            out.status.code()
        ));
    }
    let position = format!("{}:{line}:{col}: ", rel(file));
    match stderr.lines().find(|l| l.contains(&position)) {
        Some(l) if l.contains(fragment) => {}
        Some(l) => wrong.push(format!(
            "{what} {file}: the line with {position:?} lacks {fragment:?}: {l:?}"
        )),
        None => {
            let printed: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains(&format!("{}:", rel(file))) && !l.contains('['))
                .collect();
            wrong.push(format!(
                "{what} {file}: expected a diagnostic at {position:?} ({fragment:?}); printed: {printed:?}"
            ))
        }
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        wrong.push(format!("{what} {file}: panic on stderr: {stderr}"));
    }
    if !stderr.contains("nothing was sent to any server") {
        wrong.push(format!(
            "{what} {file}: no \"nothing was sent\" summary: {stderr}"
        ));
    }
    wrong
}

#[test]
fn fixtures_and_table_agree() {
    let dir = repo().join(DIR);
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/malformed")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = CORPUS.iter().map(|(f, ..)| f.to_string()).collect();
    in_table.sort();
    assert_eq!(
        on_disk, in_table,
        "every fixture has a row, every row a fixture"
    );
    assert!(CORPUS.len() >= 14);

    for (file, line, col, _) in CORPUS {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        assert!(
            first.starts_with("# Malformed: "),
            "{file}: first line says what is wrong"
        );
        let expected = lines
            .find_map(|l| l.strip_prefix("# Expected: "))
            .unwrap_or_else(|| panic!("{file}: no `# Expected:` header"));
        assert!(
            expected.starts_with(&format!("{line}:{col} ")),
            "{file}: header says {expected:?}, table says {line}:{col}"
        );
        // The position is inside the file and not on a comment or a blank.
        let at = text
            .lines()
            .nth(*line as usize - 1)
            .unwrap_or_else(|| panic!("{file}: no line {line}"));
        assert!(
            (*col as usize) <= at.chars().count() && !at.trim_start().starts_with('#'),
            "{file}: {line}:{col} is not on content: {at:?}"
        );
        let ch = at.chars().nth(*col as usize - 1).unwrap();
        assert!(
            !ch.is_whitespace(),
            "{file}: {line}:{col} points at a blank"
        );
    }
}

/// The whole corpus against one server: every command refuses every file at the right place,
/// and the server's audit log shows that none of them sent a single request.
#[test]
fn corpus_is_refused_at_the_mistake_by_every_command_without_a_request() {
    assert!(
        std::env::var_os(UNSET_VAR).is_none(),
        "{UNSET_VAR} must not be set for this test"
    );
    let bao = Bao::start();
    let before = bao.audit_requests();
    let mut wrong = Vec::new();
    for (file, line, col, fragment) in CORPUS {
        assert!(Path::new(&repo().join(rel(file))).is_file(), "{file}");
        for args in [
            &["validate"][..],
            &["plan"][..],
            &["apply", "--auto-approve"][..],
        ] {
            let out = run(&bao, args, file);
            wrong.extend(check(&out, &args.join(" "), file, *line, *col, fragment));
        }
    }
    let after = bao.audit_requests();
    let sent: Vec<String> = after[before.len()..]
        .iter()
        .map(|r| format!("{} {} (ns {:?})", r.operation, r.path, r.namespace))
        .collect();
    assert!(
        sent.is_empty(),
        "invalid topologies sent requests: {sent:#?}"
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Each problem is its own diagnostic with a snippet and a `help:` line saying what to do
/// (spec/cli.md: "An error says what, where and what to do").
#[test]
fn every_problem_has_a_snippet_and_says_what_to_do() {
    let mut wrong = Vec::new();
    for (file, ..) in CORPUS {
        let out = assert_cmd::Command::cargo_bin("aegisctl")
            .unwrap()
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .env_remove(UNSET_VAR)
            .args(["validate", &rel(file)])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The problem's own diagnostic: from its `× FILE:` line to the summary's `×` line
        // (wherever it points: the position itself is the corpus test's business).
        let Some(start) = stderr.find(&format!("× {}:", rel(file))) else {
            wrong.push(format!("{file}: no diagnostic:\n{stderr}"));
            continue;
        };
        let block = &stderr[start..];
        let block = &block[..block.find("the topology is invalid").unwrap_or(block.len())];
        if !block.contains(&format!("[{}:", rel(file))) {
            wrong.push(format!("{file}: no snippet:\n{block}"));
        }
        if !block.contains("here") {
            wrong.push(format!("{file}: no label in the snippet:\n{block}"));
        }
        if !block.contains("help:") {
            wrong.push(format!("{file}: no `help:` line for the problem:\n{block}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Parser messages are put in the tool's words: the position is printed once (as
/// `FILE:LINE:COL:`), and no library internals leak ("set DuplicateKeyPolicy in Options").
#[test]
fn parser_messages_state_the_position_once_and_leak_no_library_internals() {
    let mut wrong = Vec::new();
    for (file, line, col, _) in CORPUS {
        let out = assert_cmd::Command::cargo_bin("aegisctl")
            .unwrap()
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .env_remove(UNSET_VAR)
            .args(["validate", &rel(file)])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let position = format!("{}:{line}:{col}: ", rel(file));
        let Some(l) = stderr.lines().find(|l| l.contains(&position)) else {
            continue; // reported by the corpus test
        };
        if l.contains(&format!("at line {line}, column {col}")) || l.contains(" at line ") {
            wrong.push(format!("{file}: position repeated in the message: {l:?}"));
        }
        if l.contains("DuplicateKeyPolicy") || l.contains("Options") {
            wrong.push(format!("{file}: library internals in the message: {l:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

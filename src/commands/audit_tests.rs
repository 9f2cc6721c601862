//! #[cfg(test)]
//! Tests of `aegisctl audit`: the blocks as snapshots from hand-made records, the two forms of
//! `--since`, and the filter on a real JSON-lines file.

use super::*;
use crate::runtime::audit::{LeaseRecord, VERSION, VarRecord, Who, append_local};

fn var(name: &str, source: &str, scope: Option<&str>, lease: Option<&str>) -> VarRecord {
    VarRecord {
        name: name.into(),
        source: source.into(),
        scope: scope.map(Into::into),
        lease_id: lease.map(Into::into),
    }
}

fn run_record() -> Record {
    Record {
        version: VERSION,
        id: "1795671612-0011223344556677".into(),
        time: "2026-11-26T05:40:12Z".into(),
        command: "run".into(),
        host: "orchestrator-1".into(),
        profile: "web-search".into(),
        scope: Some("acme/platform/search".into()),
        namespace: String::new(),
        reason: Some("deploy 42".into()),
        who: Who {
            accessor: "3fA9kLm2QxR7".into(),
            display_name: "approle".into(),
            login: "approle approle/aegis-daemon".into(),
        },
        program: Some("python3".into()),
        variables: vec![
            var(
                "DB_USER",
                "lease:database/creds/agent-role#username",
                None,
                Some("database/creds/agent-role/AbCdEf123"),
            ),
            var(
                "SEARCH_API_KEY",
                "vault:aegis-system/tools/search-api-key#value",
                None,
                None,
            ),
            var("TEAM_TOKEN", "scope", Some("team/acme/platform"), None),
        ],
        leases: vec![LeaseRecord {
            lease_id: "database/creds/agent-role/AbCdEf123".into(),
            path: "database/creds/agent-role".into(),
            ttl_seconds: 3600,
            renewable: true,
        }],
    }
}

fn env_record() -> Record {
    Record {
        version: VERSION,
        id: "1795672000-8899aabbccddeeff".into(),
        time: "2026-11-26T05:46:40Z".into(),
        command: "env --explain".into(),
        host: "laptop".into(),
        profile: "batch".into(),
        scope: None,
        namespace: "team-a".into(),
        // A forged second line must stay on the first.
        reason: Some("audit\n2026-01-01T00:00:00Z  run  forged \"x\"".into()),
        who: Who {
            accessor: "zz99".into(),
            display_name: "token".into(),
            login: "token".into(),
        },
        program: None,
        variables: vec![var("LOG_LEVEL", "literal", None, None)],
        leases: Vec::new(),
    }
}

#[test]
fn records_as_snapshots() {
    let records = [run_record(), env_record()];
    let mut text = render(&records);
    text.push_str(&summary(records.len(), Some(1_795_669_200)));
    insta::assert_snapshot!("two_records", text);
    insta::assert_snapshot!("none", format!("{}{}", render(&[]), summary(0, None)));
}

#[test]
fn control_characters_are_escaped() {
    let mut r = run_record();
    r.host = "evil\u{1b}[31mhost".into();
    let text = render(&[r]);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("evil\\u{1b}[31mhost"), "{text}");
}

#[test]
fn since_takes_a_duration_ago_or_a_utc_time() {
    let now = 1_795_671_612;
    assert_eq!(parse_since("30m", now).unwrap(), now - 1800);
    assert_eq!(parse_since("2h", now).unwrap(), now - 7200);
    assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86400);
    assert_eq!(
        parse_since("2026-11-26T05:00:00Z", now).unwrap(),
        crate::clock::parse_rfc3339("2026-11-26T05:00:00Z").unwrap()
    );
    for bad in ["yesterday", "2026-11-26T05:00:00+01:00", "5 minutes", ""] {
        let err = parse_since(bad, now).unwrap_err();
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains("7d") && help.contains("2026-11-26T05:00:00Z"),
            "{bad}: {help}"
        );
    }
}

#[tokio::test]
async fn since_keeps_the_records_at_or_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    append_local(&file, &run_record()).unwrap();
    append_local(&file, &env_record()).unwrap();
    let printer = Printer::new(true, true, true);
    // The output goes to stdout, out of reach here (a since after every record keeps it to
    // one line): the filter is checked on its own below.
    assert_eq!(
        run(&printer, &file, Some("2030-01-01T00:00:00Z"), false)
            .await
            .unwrap(),
        0
    );
    let records = read_local(&file).unwrap();
    let at = |t: &str| Some(crate::clock::parse_rfc3339(t).unwrap());
    assert_eq!(keep_since(records.clone(), None).len(), 2);
    let kept = keep_since(records.clone(), at("2026-11-26T05:46:40Z"));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].command, "env --explain");
    assert_eq!(
        keep_since(records.clone(), at("2026-11-26T05:46:41Z")).len(),
        0
    );
    let mut odd = records;
    odd[0].time = "sometime".into();
    assert_eq!(keep_since(odd, at("2030-01-01T00:00:00Z")).len(), 1);
    let missing = dir.path().join("missing.jsonl");
    let err = run(&printer, &missing, None, true).await.unwrap_err();
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}

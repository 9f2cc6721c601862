//! How an apply ends, for the operator: what still differs after being written, the summary
//! (human or JSON) with what was created, changed, failed and not started and what to do next,
//! and the exit status.

use std::collections::BTreeMap;

use super::session::Session;
use super::{EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::apply::record::Recorder;
use crate::apply::{ApplyReport, Outcome};
use crate::model::{Address, Desired};
use crate::plan::diff::attr_diffs;
use crate::plan::render::{human, json};
use crate::plan::{Action, Change};
use crate::printer::Printer;

pub(super) fn exit_code(report: &ApplyReport) -> u8 {
    if report.cancelled() > 0 {
        EXIT_INTERRUPTED
    } else if report.failed() + report.skipped() > 0 || !report.inconsistent.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

/// What still differs after being written ("inconsistent after apply").
pub(super) fn inconsistent(
    session: &Session,
    desired: &Desired,
    results: &[(Change, Outcome)],
    recorder: &Recorder,
) -> Vec<Change> {
    let by_addr: BTreeMap<&Address, &crate::model::DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let mut out = Vec::new();
    for (c, o) in results {
        if *o != Outcome::Done || c.action == Action::Delete {
            continue;
        }
        let (Some(res), Some(kind)) = (by_addr.get(&c.address), session.registry.of(&c.id)) else {
            continue;
        };
        match recorder.written.get(&c.address) {
            Some(live) => {
                let attrs = attr_diffs(kind.as_ref(), res, live, recorder.ledger, false);
                if !attrs.is_empty() {
                    out.push(Change {
                        action: Action::Update,
                        attrs,
                        ..c.clone()
                    });
                }
            }
            None => out.push(Change {
                action: Action::Create,
                ..c.clone()
            }),
        }
    }
    out
}

pub(super) fn print_report(
    printer: &Printer,
    report: &ApplyReport,
    warnings: &[String],
    ledger_error: bool,
    lock_error: bool,
    stopped: Option<String>,
) {
    if printer.json {
        let rows: Vec<(Change, String, Option<String>)> = report
            .results
            .iter()
            .map(|(c, o)| {
                let err = match o {
                    Outcome::Failed(e) => Some(e.clone()),
                    Outcome::Skipped(up) => Some(format!("upstream {up} failed")),
                    // Not started because the run could not go on: say why on each.
                    Outcome::Cancelled => stopped.clone(),
                    Outcome::Done | Outcome::Manual => None,
                };
                (c.clone(), o.word().to_owned(), err)
            })
            .collect();
        printer.document(&json::apply(&rows, &report.inconsistent, warnings));
        return;
    }
    if !report.inconsistent.is_empty() {
        let mut text = String::from(
            "\nInconsistent after apply: these objects still differ after being written:\n\n",
        );
        for c in &report.inconsistent {
            human::change_block(&mut text, printer.styles(), c, "is still different");
        }
        printer.result(&text);
    }
    printer.result(&format!(
        "\n{}\n",
        human::applied(&human::AppliedCounts {
            succeeded: report.succeeded(),
            failed: report.failed(),
            skipped: report.skipped(),
            manual: report.manual(),
            cancelled: report.cancelled(),
            inconsistent: report.inconsistent.len(),
            ledger_error,
            lock_error,
            stopped,
        })
    ));
}

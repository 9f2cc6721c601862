//! What an apply produces and shares while it runs, as data: how each change ended
//! ([`Outcome`]), the event the executor hands the recorder as each change finishes, the
//! report of the whole run, the progress interface the CLI implements, and the flag that stops
//! the dispatching ([`Cancel`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::backends::Live;
use crate::model::Address;
use crate::plan::Change;

/// How one change ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted because this upstream change failed.
    Skipped(Address),
    /// Not attempted: the server does not take it through its API; the plan says what to do.
    Manual,
    /// Not started: the apply was interrupted first.
    Cancelled,
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Manual => "manual",
            Outcome::Cancelled => "not started",
        }
    }
}

/// Receives progress events (the CLI turns them into a progress bar or log lines).
pub trait Reporter: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, change: &Change, outcome: &Outcome);
}

/// One finished change, as the executor hands it to the recorder.
#[derive(Clone, Debug)]
pub struct Event {
    pub change: Change,
    pub outcome: Outcome,
    /// The object as read back right after it was written (`None` for deletions, failures,
    /// or when the read-back itself failed).
    pub live: Option<Live>,
    /// The object as sent, when that differs from its declaration: its output references
    /// filled in (a generated client secret). The ledger fingerprints what was sent.
    pub sent: Option<Box<crate::model::DesiredResource>>,
}

/// A flag that stops the dispatching of changes: set by an interrupt, or with a reason when
/// the run cannot go on (the server stopped answering, the lock was lost).
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    why: Arc<std::sync::Mutex<Option<String>>>,
}

impl Cancel {
    /// An interrupt (SIGINT/SIGTERM).
    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }
    /// The run cannot go on, for this reason (the first reason given stands).
    pub fn stop(&self, why: impl Into<String>) {
        if let Ok(mut w) = self.why.lock()
            && w.is_none()
        {
            *w = Some(why.into());
        }
        self.flag.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    /// Why the run was stopped, when it was not an interrupt.
    pub fn reason(&self) -> Option<String> {
        self.why.lock().ok().and_then(|w| w.clone())
    }
}

/// What an apply did, change by change, plus what still differs after the re-read.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub results: Vec<(Change, Outcome)>,
    pub inconsistent: Vec<Change>,
}

impl ApplyReport {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|(_, o)| f(o)).count()
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }
    pub fn cancelled(&self) -> usize {
        self.count(|o| *o == Outcome::Cancelled)
    }
    pub fn manual(&self) -> usize {
        self.count(|o| *o == Outcome::Manual)
    }
    pub fn succeeded(&self) -> Vec<Change> {
        self.results
            .iter()
            .filter(|(_, o)| *o == Outcome::Done)
            .map(|(c, _)| c.clone())
            .collect()
    }
}

/// What a change left: the object read back, and the object as sent when its output
/// references were filled in.
pub(super) struct Written {
    pub live: Option<Live>,
    pub sent: Option<crate::model::DesiredResource>,
}

impl Written {
    pub(super) fn none() -> Written {
        Written {
            live: None,
            sent: None,
        }
    }
}

/// A failure as the report shows it: the error, and what to do about it when the backend says
/// (a licence refusal, a missing permission), since an apply's failures are read in its report.
pub(super) fn with_help(e: &crate::backends::BackendError) -> String {
    use miette::Diagnostic;
    match e.help() {
        Some(help) => format!("{e}\n    help: {help}"),
        None => e.to_string(),
    }
}

//! The only writer to stdout and stderr.
//!
//! Results (plans, drift reports, JSON documents) go to stdout; progress, banners, warnings and
//! errors to stderr. Colour follows `--no-color`, `NO_COLOR` and whether the stream is a
//! terminal; `-q` silences everything but results and errors; `--json` keeps stdout to exactly
//! one document.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::apply::{Outcome, Reporter};
use crate::plan::Change;
use crate::plan::render::human::Styles;

/// One line on stderr; a closed stderr is not worth a panic.
fn line_to_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

#[derive(Clone)]
pub struct Printer {
    pub color: bool,
    pub quiet: bool,
    pub json: bool,
    stderr_tty: bool,
}

impl Printer {
    pub fn new(no_color: bool, quiet: bool, json: bool) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stdout_tty = std::io::stdout().is_terminal();
        Printer {
            color: !no_color && !no_color_env && stdout_tty && !json,
            quiet,
            json,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn styles(&self) -> Styles {
        Styles { color: self.color }
    }

    /// A result for stdout (a plan, a report).
    pub fn result(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// The one JSON document of a `--json` run.
    pub fn document(&self, doc: &serde_json::Value) {
        let text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".into());
        self.result(&format!("{text}\n"));
    }

    /// Informational line on stderr; silent with `-q` or `--json`.
    pub fn info(&self, text: &str) {
        if !self.quiet && !self.json {
            line_to_stderr(text);
        }
    }

    pub fn warn(&self, text: &str) {
        if !self.quiet {
            let label = if self.color_err() {
                console::style("warning:")
                    .yellow()
                    .bold()
                    .force_styling(true)
                    .to_string()
            } else {
                "warning:".into()
            };
            line_to_stderr(&format!("{label} {text}"));
        }
    }

    fn color_err(&self) -> bool {
        self.color && self.stderr_tty
    }

    /// An error on stderr: one clear line, or a miette diagnostic with its snippet.
    pub fn error(&self, report: &dyn miette::Diagnostic) {
        let theme = if self.color_err() {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        // Never wrap when not on a terminal: `file:line:col` must stay greppable on one line.
        let width = if self.stderr_tty {
            console::Term::stderr().size().1 as usize
        } else {
            10_000
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(width);
        let mut text = String::new();
        if handler.render_report(&mut text, report).is_err() {
            text = format!("Error: {report}");
        }
        line_to_stderr(text.trim_end());
    }

    pub fn can_prompt(&self) -> bool {
        std::io::stdin().is_terminal() && self.stderr_tty
    }

    /// A reporter for the executor: a progress bar on a terminal, a line per change otherwise.
    pub fn reporter(&self, total: usize) -> ApplyProgress {
        let bar = (self.stderr_tty && !self.quiet && !self.json).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}") {
                bar.set_style(style);
            }
            bar
        });
        ApplyProgress {
            bar,
            lines: !self.quiet && !self.json,
            lock: Mutex::new(()),
        }
    }
}

/// Progress of an apply, as the executor reports it.
pub struct ApplyProgress {
    bar: Option<ProgressBar>,
    lines: bool,
    lock: Mutex<()>,
}

impl ApplyProgress {
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn verb(c: &Change) -> &'static str {
    match c.action {
        crate::plan::Action::Create => "created",
        crate::plan::Action::Update => "updated",
        crate::plan::Action::Replace => "replaced",
        crate::plan::Action::Delete => "destroyed",
    }
}

impl Reporter for ApplyProgress {
    fn started(&self, change: &Change) {
        if let Some(b) = &self.bar {
            b.set_message(change.address.0.clone());
        }
    }

    fn finished(&self, change: &Change, outcome: &Outcome) {
        let line = match outcome {
            Outcome::Done => format!("{}: {}", change.address, verb(change)),
            Outcome::Failed(e) => format!("{}: failed: {e}", change.address),
            Outcome::Skipped(up) => format!("{}: skipped: upstream {up} failed", change.address),
            Outcome::Manual => format!("{}: needs a manual step (see the plan)", change.address),
            Outcome::Cancelled => format!("{}: not started", change.address),
        };
        let _guard = self.lock.lock();
        match &self.bar {
            Some(b) => {
                b.inc(1);
                b.println(line);
            }
            None if self.lines => line_to_stderr(&line),
            None => {}
        }
    }
}

//! Topology problems as miette diagnostics: file, line, column, what is wrong, what to do.
//!
//! The message line itself starts with `file:line:column` so that the position survives when
//! the fancy renderer is off (no terminal, `--json`, a CI log).

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::node::Loc;

/// One thing wrong with the topology, pointing at where it is written.
#[derive(Debug, Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    #[source_code]
    pub src: NamedSource<Arc<String>>,
    #[label("here")]
    pub span: SourceSpan,
    #[help]
    pub help: Option<String>,
}

/// Everything that can stop a topology from loading.
#[derive(Debug, Error, Diagnostic)]
pub enum TopologyError {
    #[error("cannot read topology file {path}: {reason}")]
    #[diagnostic(help("check the path; topology files usually live in inventories/"))]
    Read { path: PathBuf, reason: String },
    #[error("{var} must be a positive whole number of YAML nodes, found `{value}`")]
    #[diagnostic(help(
        "unset it for the default of 10000000, or set a larger number such as 20000000"
    ))]
    BadLimit { var: &'static str, value: String },
    /// The problems are printed one by one before this summary line.
    #[error("the topology is invalid ({} problem{}); nothing was sent to any server", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    #[diagnostic(help("fix the problems above, then check with `aegisctl validate FILE`"))]
    Invalid(Vec<Problem>),
    /// Found against the servers (a field OpenBao does not know, an object another topology
    /// owns); printed like [`TopologyError::Invalid`].
    #[error("the topology does not fit the servers ({} problem{}); nothing was changed", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    #[diagnostic(help("fix the problems above and run again"))]
    Rejected(Vec<Problem>),
}

impl TopologyError {
    /// The located problems, if this error has any.
    pub fn problems(&self) -> &[Problem] {
        match self {
            TopologyError::Invalid(p) | TopologyError::Rejected(p) => p,
            _ => &[],
        }
    }
}

/// The source of one topology file, shared by the problems that point into it.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<String>,
}

impl Source {
    pub fn problem(&self, loc: Loc, message: impl Into<String>, help: Option<String>) -> Problem {
        let len = loc
            .len
            .min(self.text.len().saturating_sub(loc.offset))
            .max(1);
        Problem {
            file: self.name.clone(),
            line: loc.line,
            column: loc.column,
            message: message.into(),
            src: NamedSource::new(self.name.clone(), Arc::clone(&self.text)),
            span: SourceSpan::new(loc.offset.into(), len),
            help,
        }
    }
}

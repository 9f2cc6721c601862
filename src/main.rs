//! aegisctl's entry point: arguments → logging → run → exit status. Nothing else lives here.

use std::io::Write;
use std::process::ExitCode;

use aegisctl::cli::{Cli, Command, normalise_args};
use aegisctl::commands::{self, CliError, EXIT_ERROR};
use aegisctl::printer::Printer;
use clap::{CommandFactory, Parser};
use miette::Diagnostic;

/// Writes to stdout without panicking when the reader has gone (`aegisctl man | head`).
fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

fn main() -> ExitCode {
    // Usage errors exit 1, never 2: to a script, 2 means "changes" or "drift".
    let cli = match Cli::try_parse_from(normalise_args(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), mistakes to stderr; a closed pipe is
            // not worth a panic, so the write's result is dropped.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.verbose);

    match &cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "aegisctl", &mut buf);
            emit(&buf);
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            let mut buf = Vec::new();
            return match man.render(&mut buf) {
                Ok(()) => {
                    emit(&buf);
                    ExitCode::SUCCESS
                }
                Err(_) => ExitCode::from(EXIT_ERROR),
            };
        }
        _ => {}
    }

    let printer = Printer::new(cli.no_color, cli.quiet, false);
    // One thread: the work is waiting on OpenBao, and on a 2-core machine the server needs the
    // other core. Measured: a converged 5,000-object plan took 1.5 s instead of 2.5 s with the
    // multi-thread runtime (docs/benchmarks.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(miette::miette!("cannot start the async runtime: {e}").as_ref());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err((err, json)) => {
            if json {
                let doc = serde_json::json!({
                    "format_version": aegisctl::plan::render::json::FORMAT_VERSION,
                    "changes": [],
                    "diagnostics": diagnostics(&err),
                });
                printer.document(&doc);
            }
            match &err {
                // Every problem of an invalid topology as its own diagnostic, then a summary.
                CliError::Topology(t) if !t.problems().is_empty() => {
                    for p in t.problems() {
                        printer.error(p);
                    }
                    printer.error(&err);
                }
                _ => printer.error(&err),
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The error as `--json` diagnostics: each problem of an invalid topology with its file, line,
/// column, message and help; anything else as one diagnostic with its help.
fn diagnostics(err: &CliError) -> serde_json::Value {
    let help = |d: &dyn Diagnostic| d.help().map(|h| h.to_string());
    let mut out = Vec::new();
    if let CliError::Topology(t) = err {
        for p in t.problems() {
            out.push(serde_json::json!({
                "severity": "error",
                "summary": p.message,
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "help": p.help,
            }));
        }
    }
    out.push(serde_json::json!({
        "severity": "error",
        "summary": err.to_string(),
        "help": help(err),
    }));
    serde_json::Value::Array(out)
}

/// Logs go to stderr, aegisctl's own only: dependencies' debug output could include headers.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("aegisctl={level}"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

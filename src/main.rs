//! aegisctl's entry point: arguments → logging → run → exit status. Nothing else lives here.

use std::process::ExitCode;

use aegisctl::cli::{Cli, Command, normalise_args};
use aegisctl::commands::{self, CliError, EXIT_ERROR};
use aegisctl::printer::Printer;
use aegisctl::topology::TopologyError;
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalise_args(std::env::args_os()));
    init_logging(cli.verbose);

    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "aegisctl",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            return match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
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
                    "diagnostics": [{ "severity": "error", "summary": err.to_string() }],
                });
                printer.document(&doc);
            }
            match &err {
                // Every problem of an invalid topology as its own diagnostic, then a summary.
                CliError::Topology(TopologyError::Invalid(problems)) => {
                    for p in problems {
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

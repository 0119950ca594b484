//! Command line: flags are defined once here (the doc comment of each field is its help text),
//! resolved with `svcc.toml` into [`Settings`], and dispatched to a command. Exit codes: 0 no
//! errors, 1 errors found, 2 usage, configuration or I/O failure.

mod apply;
mod args;
mod commands;
mod compile;
mod diff;
mod dns;
mod trace;

pub use args::Cli;

use clap::Parser;
use std::process::ExitCode;

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    commands::dispatch(cli)
}

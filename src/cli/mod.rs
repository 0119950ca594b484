//! Command line: flags are defined once (`args`, the doc comment of each field is its help
//! text), resolved with `svcc.toml` into `config::Settings`, and dispatched here to one module
//! per command. Commands share only `common` (settings, colour, exit codes, CIDR flags) and
//! `dataplane` (the nft and iptables options); none imports another. `watch` is a part of
//! `apply` (when `apply --watch` applies again), not a command.
//!
//! Exit codes (README): 0 no errors, 1 errors found, 2 usage, configuration or I/O failure.

mod apply;
mod args;
mod catalogue;
mod check;
mod common;
mod compile;
mod dataplane;
mod diff;
mod dns;
mod graph;
mod trace;
mod watch;

pub use args::Cli;

use args::Command;
use clap::{CommandFactory, Parser};
use std::process::ExitCode;

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Check(args) => check::run(&cli.cluster, args),
        Command::Compile(args) => compile::run(&cli.cluster, args),
        Command::Rules(args) => catalogue::rules(args),
        Command::Graph(args) => graph::run(&cli.cluster, args),
        Command::Diff(args) => diff::run(&cli.cluster, args),
        Command::Trace(args) => trace::run(&cli.cluster, args),
        Command::Apply(args) => apply::run(&cli.cluster, args),
        Command::Explain { id } => catalogue::explain(id),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "svcc", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! `svcc check`: the report on stdout, in the format asked for.

use super::args::{CheckArgs, ClusterArgs};
use super::common;
use crate::pipeline;
use crate::report::{self, Report};
use std::io::Write;
use std::process::ExitCode;

pub fn run(cluster: &ClusterArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let settings = match common::input_settings(cluster, args.selector.as_deref(), &args.limits) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let outcome = pipeline::check_paths(&common::paths_or_cwd(&args.paths), &settings)?;
    let unreadable: Vec<String> = outcome.errors.iter().map(|e| e.to_string()).collect();
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
        summary: outcome.summary,
        color: common::use_color(cluster.color, &std::io::stdout()),
        unreadable: &unreadable,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    crate::timing::stage("report", || report::write(args.format, &report, &mut out))?;
    out.flush()?;
    common::print_input_errors(&outcome);
    let code = common::exit_code(&outcome, args.deny_warnings);
    // Freeing every tree of a large run takes longer than the process exit does.
    std::mem::forget(outcome);
    Ok(ExitCode::from(code))
}

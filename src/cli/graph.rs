//! `svcc graph`: what points at what, as DOT or Mermaid on stdout.

use super::args::{ClusterArgs, GraphArgs};
use super::common;
use crate::pipeline;
use std::io::Write;
use std::process::ExitCode;

/// Draws what it can even when the input has errors (they are counted on stderr).
pub fn run(cluster: &ClusterArgs, args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let settings = match common::settings(cluster) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let outcome = pipeline::check_paths(&common::paths_or_cwd(&args.paths), &settings)?;
    common::print_input_errors(&outcome);
    if outcome.summary.errors > 0 {
        eprintln!(
            "svcc: the input has {} errors (`svcc check` shows them); drawing what links",
            outcome.summary.errors
        );
    }
    let mut text = String::new();
    match args.format {
        crate::explain::graph::GraphFormat::Dot => {
            crate::explain::graph::write_dot(&outcome.model, &outcome.links, &mut text)
        }
        crate::explain::graph::GraphFormat::Mermaid => {
            crate::explain::graph::write_mermaid(&outcome.model, &outcome.links, &mut text)
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::from(if outcome.errors.is_empty() {
        0
    } else {
        common::FAILURE
    }))
}

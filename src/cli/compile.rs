//! `svcc compile`: check, lower, emit the target on stdout. Diagnostics go to stderr; when
//! there are errors nothing at all is written to stdout (exit 1), so
//! `svcc compile --target nft m/ | nft -f -` never applies a partial ruleset.

use super::args::{ClusterArgs, CompileArgs};
use super::commands::{exit_code, resolve_settings, use_color};
use crate::diag::Severity;
use crate::emit::{self, Target};
use crate::pipeline;
use crate::plan::LowerOptions;
use crate::report::{self, Report};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(cluster: &ClusterArgs, args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let mut settings = match resolve_settings(cluster) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(text) = &args.selector {
        match crate::selector::parse(text) {
            Ok(s) => settings.selection = Some(s),
            Err(e) => {
                eprintln!("svcc: error: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    if let Some(node) = &args.node {
        if !crate::check::syntax::dns1123_subdomain(node).is_empty() {
            eprintln!("svcc: error: --node `{node}` is not a valid node name");
            return Ok(ExitCode::from(2));
        }
    }
    settings.max_file_bytes = args.limits.max_file_size;
    settings.limits.max_depth = args.limits.max_depth;
    settings.limits.max_alias_nodes = args.limits.max_alias_nodes;
    settings.limits.max_documents = args.limits.max_documents;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let options = LowerOptions {
        node: args.node.clone(),
    };
    let compiled = pipeline::compile(&paths, &settings, &options)?;
    let outcome = &compiled.outcome;
    let shown: Vec<_> = outcome
        .diagnostics
        .iter()
        .filter(|d| !args.quiet || d.severity == Severity::Error)
        .cloned()
        .collect();
    if !shown.is_empty() {
        let report = Report {
            diagnostics: &shown,
            sources: &outcome.sources,
            summary: outcome.summary,
            color: use_color(cluster.color) && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        let mut err = std::io::stderr().lock();
        report::write(args.format, &report, &mut err)?;
    }
    for e in &outcome.errors {
        eprintln!("svcc: error: {e}");
    }
    let Some(plan) = &compiled.plan else {
        return Ok(ExitCode::from(exit_code(outcome, false).max(1)));
    };
    // Render fully before writing, so a failure never leaves half a target on stdout.
    let mut rendered = Vec::new();
    match args.target {
        Target::Plan => emit::plan_json::write(plan, &mut rendered)?,
        Target::Dns => return super::dns::run(plan, &args.dns, &outcome.model),
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&rendered)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

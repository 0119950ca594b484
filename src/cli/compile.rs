//! `svcc compile`: check, lower, emit the target on stdout. Diagnostics go to stderr; when
//! there are errors nothing at all is written to stdout (exit 1), so
//! `svcc compile --target nft m/ | nft -f -` never applies a partial ruleset.

use super::args::{ClusterArgs, CompileArgs, NftArgs};
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
    let nft_options = match nft_options(&args.nft, args.target) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
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
        Target::Nft => match emit::nft::render(plan, &nft_options) {
            Ok(text) => rendered = text.into_bytes(),
            Err(e) => {
                eprintln!("svcc: error: nft target: {e}");
                return Ok(ExitCode::from(1));
            }
        },
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&rendered)?;
    out.flush()?;
    // Freeing every object of a large run takes longer than the process exit does.
    std::mem::forget(compiled);
    std::mem::forget(rendered);
    Ok(ExitCode::SUCCESS)
}

/// The nft target's options from its flags; refused with another target, where they would
/// be silently ignored.
pub(super) fn nft_options(args: &NftArgs, target: Target) -> Result<emit::nft::Options, String> {
    let given = [
        ("--table", args.table.is_some()),
        ("--cluster-cidr", !args.cluster_cidr.is_empty()),
        ("--masquerade-all", args.masquerade_all),
        ("--nodeport-addresses", !args.nodeport_addresses.is_empty()),
    ];
    if target != Target::Nft {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!("{flag} applies only to `--target nft`"));
        }
    }
    let cidrs = |flag: &str, values: &[String]| -> Result<Vec<ipnet::IpNet>, String> {
        values
            .iter()
            .map(|v| match crate::check::syntax::parse_cidr(v.trim()) {
                Ok((net, false)) => Ok(net),
                Ok((net, true)) => Err(format!(
                    "{flag} `{v}` has host bits set; did you mean `{net}`?"
                )),
                Err(_) => Err(format!("{flag} `{v}`: {}", crate::check::syntax::CIDR_FMT)),
            })
            .collect()
    };
    let options = emit::nft::Options {
        table: args
            .table
            .clone()
            .unwrap_or_else(|| emit::nft::DEFAULT_TABLE.to_owned()),
        cluster_cidrs: cidrs("--cluster-cidr", &args.cluster_cidr)?,
        masquerade_all: args.masquerade_all,
        nodeport_addresses: cidrs("--nodeport-addresses", &args.nodeport_addresses)?,
    };
    options.validate().map_err(|e| e.to_string())?;
    Ok(options)
}

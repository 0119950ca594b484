//! `svcc compile`: check, lower, emit the target on stdout. Diagnostics go to stderr; when
//! there are errors nothing at all is written to stdout (exit 1), so
//! `svcc compile --target nft m/ | nft -f -` never applies a partial ruleset.

use super::args::{ClusterArgs, CompileArgs};
use super::common;
use super::dataplane::{iptables_options, nft_options, print_assumptions, refuse_iptables_flags};
use crate::diag::Severity;
use crate::emit::{self, Target};
use crate::pipeline;
use crate::plan::view::Dataplane;
use crate::plan::LowerOptions;
use crate::report::{self, Report};
use std::io::Write;
use std::process::ExitCode;

pub fn run(cluster: &ClusterArgs, args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let settings = match common::input_settings(cluster, args.selector.as_deref(), &args.limits) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let target_options = match args.target {
        Target::Iptables => iptables_options(&args.nft, &args.iptables, &settings, args.target)
            .map(TargetOptions::Iptables),
        _ => nft_options(&args.nft, &settings, args.target)
            .and_then(|o| refuse_iptables_flags(&args.iptables, args.target).map(|()| o))
            .map(TargetOptions::Nft),
    };
    let target_options = match target_options {
        Ok(o) => o,
        Err(e) => return Ok(common::usage(&e)),
    };
    if let Some(node) = &args.node {
        if !crate::syntax::dns1123_subdomain(node).is_empty() {
            return Ok(common::usage(&format!(
                "--node `{node}` is not a valid node name"
            )));
        }
    }
    let paths = common::paths_or_cwd(&args.paths);
    let options = LowerOptions {
        node: args.node.clone(),
        dataplane_only: matches!(args.target, Target::Nft | Target::Iptables),
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
        let unreadable: Vec<String> = outcome.errors.iter().map(|e| e.to_string()).collect();
        let report = Report {
            diagnostics: &shown,
            sources: &outcome.sources,
            summary: outcome.summary,
            color: common::use_color(cluster.color, &std::io::stderr()),
            unreadable: &unreadable,
        };
        let mut err = std::io::stderr().lock();
        report::write(args.format, &report, &mut err)?;
    }
    common::print_input_errors(outcome);
    let pipeline::Compiled { outcome, plan } = compiled;
    let Some(plan) = plan else {
        return Ok(ExitCode::from(common::exit_code(&outcome, false).max(1)));
    };
    if args.target == Target::Dns {
        return super::dns::run(&plan, &args.dns, &args.nft.proxy.cluster_cidr);
    }
    if !args.quiet {
        match (&target_options, args.target) {
            (TargetOptions::Nft(o), Target::Nft) => {
                print_assumptions(&plan, &o.proxy, Dataplane::Nft);
            }
            (TargetOptions::Iptables(o), _) => {
                print_assumptions(&plan, &o.proxy, Dataplane::Iptables);
            }
            _ => {}
        }
    }
    // Only the plan is needed from here: the model's memory is handed back while the ruleset
    // is rendered, so a large cluster does not hold both.
    let freeing = std::thread::spawn(move || drop(outcome));
    // Render fully before writing, so a failure never leaves half a target on stdout.
    let rendered = crate::timing::stage("render", || render(&plan, args, &target_options));
    let _ = freeing.join();
    let rendered = match rendered? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    crate::timing::stage("write", || -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match &rendered {
            Rendered::Text(bytes) => out.write_all(bytes)?,
            Rendered::Nft(tx) => tx.write(&mut out)?,
        }
        out.flush()?;
        Ok(())
    })?;
    // Freeing every object of a large run takes longer than the process exit does.
    std::mem::forget(plan);
    std::mem::forget(rendered);
    Ok(ExitCode::SUCCESS)
}

/// A target's output, complete and validated.
enum Rendered {
    Text(Vec<u8>),
    /// An nft batch, kept in pieces.
    Nft(emit::nft::objects::Transaction),
}

/// Renders the target; `Err` is the exit code after a refused object, already reported.
fn render(
    plan: &crate::plan::Plan,
    args: &CompileArgs,
    target_options: &TargetOptions,
) -> anyhow::Result<Result<Rendered, ExitCode>> {
    let rendered = match (args.target, target_options) {
        (Target::Nft, TargetOptions::Nft(opts)) => match emit::nft::build(plan, opts) {
            Ok(tx) => Rendered::Nft(tx),
            Err(e) => {
                eprintln!("svcc: error: nft target: {e}");
                return Ok(Err(ExitCode::from(1)));
            }
        },
        (Target::Iptables, TargetOptions::Iptables(opts)) => {
            let text = match emit::iptables::render(plan, opts) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("svcc: error: iptables target: {e}");
                    return Ok(Err(ExitCode::from(1)));
                }
            };
            let other = match opts.family {
                emit::iptables::Family::Ipv4 => emit::iptables::Family::Ipv6,
                emit::iptables::Family::Ipv6 => emit::iptables::Family::Ipv4,
            };
            if !args.quiet && emit::iptables::uses_family(plan, other) {
                eprintln!(
                    "warning: the plan has {} addresses, which are not in this {} output; \
                     `svcc compile --target iptables --family {}` writes them for {}",
                    other.name(),
                    opts.family.name(),
                    other.name().to_lowercase(),
                    other.restore_tool()
                );
            }
            Rendered::Text(text.into_bytes())
        }
        (Target::Plan, _) => {
            let mut bytes = Vec::new();
            emit::plan_json::write(plan, &mut bytes)?;
            Rendered::Text(bytes)
        }
        (target, _) => anyhow::bail!("no renderer for the {target:?} target here"),
    };
    Ok(Ok(rendered))
}

/// The rendered target's options.
enum TargetOptions {
    Nft(emit::nft::Options),
    Iptables(emit::iptables::Options),
}

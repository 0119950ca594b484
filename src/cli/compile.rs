//! `svcc compile`: check, lower, emit the target on stdout. Diagnostics go to stderr; when
//! there are errors nothing at all is written to stdout (exit 1), so
//! `svcc compile --target nft m/ | nft -f -` never applies a partial ruleset.

use super::args::{ClusterArgs, CompileArgs, IptablesArgs, NftArgs};
use super::commands::{exit_code, input_settings, use_color};
use crate::diag::Severity;
use crate::emit::{self, Target};
use crate::pipeline;
use crate::plan::LowerOptions;
use crate::report::{self, Report};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(cluster: &ClusterArgs, args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let settings = match input_settings(cluster, args.selector.as_deref(), &args.limits) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let target_options = match args.target {
        Target::Iptables => {
            iptables_options(&args.nft, &args.iptables, args.target).map(TargetOptions::Iptables)
        }
        _ => nft_options(&args.nft, args.target)
            .and_then(|o| refuse_iptables_flags(&args.iptables, args.target).map(|()| o))
            .map(TargetOptions::Nft),
    };
    let target_options = match target_options {
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
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
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
            color: use_color(cluster.color) && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            unreadable: &unreadable,
        };
        let mut err = std::io::stderr().lock();
        report::write(args.format, &report, &mut err)?;
    }
    for e in &outcome.errors {
        let e = e.to_string();
        eprintln!("svcc: error: {}", crate::report::printable::printable(&e));
    }
    let pipeline::Compiled { outcome, plan } = compiled;
    let Some(plan) = plan else {
        return Ok(ExitCode::from(exit_code(&outcome, false).max(1)));
    };
    if args.target == Target::Dns {
        return super::dns::run(&plan, &args.dns, &outcome.model);
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

/// Refuses the kube-proxy flags with a target that would silently ignore them.
fn refuse_net_flags(args: &NftArgs, target: Target) -> Result<(), String> {
    let given = [
        ("--table", args.table.is_some()),
        ("--cluster-cidr", !args.cluster_cidr.is_empty()),
        ("--masquerade-all", args.masquerade_all),
        ("--nodeport-addresses", !args.nodeport_addresses.is_empty()),
    ];
    if !matches!(target, Target::Nft | Target::Iptables) {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!(
                "{flag} applies only to `--target nft` and `--target iptables`"
            ));
        }
    }
    Ok(())
}

fn refuse_iptables_flags(args: &IptablesArgs, target: Target) -> Result<(), String> {
    let given = [
        ("--family", args.family.is_some()),
        ("--no-jumps", args.no_jumps),
    ];
    if target != Target::Iptables {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!("{flag} applies only to `--target iptables`"));
        }
    }
    Ok(())
}

/// CIDRs from a flag, without host bits.
fn cidrs(flag: &str, values: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
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
}

/// The iptables target's options from the shared kube-proxy flags (`--table` is the chain
/// prefix) and its own.
pub(super) fn iptables_options(
    args: &NftArgs,
    ipt: &IptablesArgs,
    target: Target,
) -> Result<emit::iptables::Options, String> {
    refuse_net_flags(args, target)?;
    refuse_iptables_flags(ipt, target)?;
    let options = emit::iptables::Options {
        prefix: args
            .table
            .clone()
            .unwrap_or_else(|| emit::iptables::DEFAULT_PREFIX.to_owned()),
        family: ipt.family.unwrap_or_default(),
        cluster_cidrs: cidrs("--cluster-cidr", &args.cluster_cidr)?,
        masquerade_all: args.masquerade_all,
        nodeport_addresses: cidrs("--nodeport-addresses", &args.nodeport_addresses)?,
        jumps: !ipt.no_jumps,
    };
    options.validate().map_err(|e| e.to_string())?;
    Ok(options)
}

/// The nft target's options from its flags; refused with a target other than nft and
/// iptables, where they would be silently ignored.
pub(super) fn nft_options(args: &NftArgs, target: Target) -> Result<emit::nft::Options, String> {
    refuse_net_flags(args, target)?;
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

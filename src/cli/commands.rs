//! The commands: resolve settings, run the pipeline, render, and choose the exit code.

use super::args::{CheckArgs, Cli, ClusterArgs, ColorChoice, Command, RulesArgs, RulesFormat};
use crate::check::registry::{self, CATALOGUE};
use crate::config::{self, ConfigError};
use crate::diag::Severity;
use crate::pipeline::{self, Settings};
use crate::report::{self, Report};
use crate::source::inputs::Globs;
use clap::CommandFactory;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Check(args) => check(&cli.cluster, args),
        Command::Compile(args) => super::compile::run(&cli.cluster, args),
        Command::Rules(args) => rules(args),
        Command::Graph(args) => graph(&cli.cluster, args),
        Command::Diff(args) => super::diff::run(&cli.cluster, args),
        Command::Trace(args) => super::trace::run(&cli.cluster, args),
        Command::Apply(args) => super::apply::run(&cli.cluster, args),
        Command::Explain { id } => explain(id),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "svcc", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Flags over `svcc.toml` over defaults, each value validated once.
pub fn resolve_settings(cluster: &ClusterArgs) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    let profile = &mut settings.profile;
    if let Some(path) = config::find_config(cluster.config.as_deref()) {
        let origin = path.display().to_string();
        let file = config::read_file_config(&path)?;
        let c = &file.cluster;
        if let Some(v) = &c.service_cidr {
            profile.service_cidrs = config::parse_service_cidrs(v, &origin)?;
            profile.service_cidrs_declared = true;
        }
        if let Some(v) = &c.node_port_range {
            profile.node_port_range = config::parse_node_port_range(v, &origin)?;
        }
        if let Some(v) = &c.cluster_domain {
            profile.cluster_domain = config::parse_cluster_domain(v, &origin)?;
        }
        if let Some(v) = &c.kubernetes_version {
            profile.kubernetes_minor = config::parse_kubernetes_version(v, &origin)?;
        }
        if let Some(v) = &c.default_namespace {
            if !crate::check::syntax::dns1123_label(v).is_empty() {
                return Err(ConfigError {
                    origin,
                    message: format!("default-namespace `{v}` is not a valid namespace name"),
                });
            }
            profile.default_namespace = v.clone();
        }
        let globs = |key: &str, patterns: &[String]| {
            Globs::new(patterns).map_err(|e| ConfigError {
                origin: origin.clone(),
                message: format!("[files] {key}: {e}"),
            })
        };
        settings.filter.include = globs("include", &file.files.include)?;
        settings.filter.exclude = globs("exclude", &file.files.exclude)?;
        settings.apply_together = globs("apply-together", &file.files.apply_together)?;
        for (id, level) in &file.rules {
            if registry::lookup(id).is_none() {
                return Err(ConfigError {
                    origin,
                    message: format!("[rules]: unknown rule `{id}` (see `svcc rules`)"),
                });
            }
            let level = config::parse_level(level).ok_or_else(|| ConfigError {
                origin: origin.clone(),
                message: format!("[rules] {id} = `{level}`: expected off, info, warning or error"),
            })?;
            settings.levels.insert(id.clone(), level);
        }
    }
    let flag = "command line";
    if !cluster.apply_together.is_empty() {
        settings.apply_together = Globs::new(&cluster.apply_together).map_err(|e| ConfigError {
            origin: flag.to_owned(),
            message: format!("--apply-together: {e}"),
        })?;
    }
    if !cluster.service_cidr.is_empty() {
        settings.profile.service_cidrs = config::parse_service_cidrs(&cluster.service_cidr, flag)?;
        settings.profile.service_cidrs_declared = true;
    }
    if let Some(v) = &cluster.node_port_range {
        settings.profile.node_port_range = config::parse_node_port_range(v, flag)?;
    }
    if let Some(v) = &cluster.cluster_domain {
        settings.profile.cluster_domain = config::parse_cluster_domain(v, flag)?;
    }
    if let Some(v) = &cluster.kubernetes_version {
        settings.profile.kubernetes_minor = config::parse_kubernetes_version(v, flag)?;
    }
    if let Some(v) = &cluster.namespace {
        if !crate::check::syntax::dns1123_label(v).is_empty() {
            return Err(ConfigError {
                origin: flag.to_owned(),
                message: format!("--namespace `{v}` is not a valid namespace name"),
            });
        }
        settings.profile.default_namespace = v.clone();
    }
    Ok(settings)
}

pub(super) fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Settings for a command that reads inputs: the profile, `-l` and the input limits. A usage
/// problem is printed here and becomes exit code 2.
pub(super) fn input_settings(
    cluster: &ClusterArgs,
    selector: Option<&str>,
    limits: &super::args::LimitArgs,
) -> Result<Settings, ExitCode> {
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("svcc: error: {e}");
        ExitCode::from(2)
    };
    let mut settings = resolve_settings(cluster).map_err(|e| usage(&e))?;
    if let Some(text) = selector {
        settings.selection = Some(crate::selector::parse(text).map_err(|e| usage(&e))?);
    }
    settings.max_file_bytes = limits.max_file_size;
    settings.limits.max_depth = limits.max_depth;
    settings.limits.max_alias_nodes = limits.max_alias_nodes;
    settings.limits.max_documents = limits.max_documents;
    Ok(settings)
}

fn check(cluster: &ClusterArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let settings = match input_settings(cluster, args.selector.as_deref(), &args.limits) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let outcome = pipeline::check_paths(&paths, &settings)?;
    let unreadable: Vec<String> = outcome.errors.iter().map(|e| e.to_string()).collect();
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
        summary: outcome.summary,
        color: use_color(cluster.color),
        unreadable: &unreadable,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    crate::timing::stage("report", || report::write(args.format, &report, &mut out))?;
    out.flush()?;
    for e in &outcome.errors {
        let e = e.to_string();
        eprintln!("svcc: error: {}", crate::report::printable::printable(&e));
    }
    let code = exit_code(&outcome, args.deny_warnings);
    // Freeing every tree of a large run takes longer than the process exit does.
    std::mem::forget(outcome);
    Ok(ExitCode::from(code))
}

pub(super) fn exit_code(outcome: &pipeline::Outcome, deny_warnings: bool) -> u8 {
    if !outcome.errors.is_empty() {
        2
    } else if outcome.has_errors()
        || (deny_warnings
            && outcome
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Warning))
    {
        1
    } else {
        0
    }
}

/// Draws what it can even when the input has errors (they are counted on stderr).
fn graph(cluster: &ClusterArgs, args: &super::args::GraphArgs) -> anyhow::Result<ExitCode> {
    let settings = match resolve_settings(cluster) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let outcome = pipeline::check_paths(&paths, &settings)?;
    for e in &outcome.errors {
        let e = e.to_string();
        eprintln!("svcc: error: {}", crate::report::printable::printable(&e));
    }
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
        2
    }))
}

fn rules(args: &RulesArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        RulesFormat::Human => {
            let width = CATALOGUE.iter().map(|r| r.id.len()).max().unwrap_or(0);
            for r in CATALOGUE {
                writeln!(
                    out,
                    "{:<width$}  {:<7}  {:<10}  {}",
                    r.id,
                    r.severity.as_str(),
                    r.category,
                    r.title
                )?;
            }
        }
        RulesFormat::Json => {
            let rows: Vec<serde_json::Value> = CATALOGUE
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "title": r.title,
                        "severity": r.severity.as_str(),
                        "category": r.category,
                        "summary": r.summary(),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        RulesFormat::Markdown => {
            writeln!(out, "# svcc rules\n")?;
            writeln!(
                out,
                "| id | severity | category | title |\n|---|---|---|---|"
            )?;
            for r in CATALOGUE {
                writeln!(
                    out,
                    "| [`{}`](../rules/{}.md) | {} | {} | {} |",
                    r.id,
                    r.id,
                    r.severity.as_str(),
                    r.category,
                    r.title
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn explain(id: &str) -> anyhow::Result<ExitCode> {
    let Some(rule) = registry::lookup(id) else {
        let nearest = CATALOGUE
            .iter()
            .min_by_key(|r| edit_distance(r.id, id))
            .filter(|r| edit_distance(r.id, id) <= 3);
        match nearest {
            Some(r) => eprintln!("svcc: error: unknown rule `{id}`; did you mean `{}`?", r.id),
            None => eprintln!("svcc: error: unknown rule `{id}` (see `svcc rules`)"),
        }
        return Ok(ExitCode::from(2));
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: {}", rule.id, rule.title)?;
    writeln!(
        out,
        "severity: {}, category: {}\n",
        rule.severity.as_str(),
        rule.category
    )?;
    writeln!(out, "{}", rule.body().trim_end())?;
    Ok(ExitCode::SUCCESS)
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

//! What the commands share: settings from the flags, colour, exit codes, default paths, and
//! the one parser of CIDR flags. Commands import from here, never from each other.

use super::args::{ClusterArgs, ColorChoice, LimitArgs};
use crate::config::Settings;
use crate::diag::Severity;
use crate::pipeline;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of a usage, configuration or I/O failure.
pub const FAILURE: u8 = 2;

/// Prints a usage or configuration problem; the exit code that goes with it.
pub fn usage(problem: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("svcc: error: {problem}");
    ExitCode::from(FAILURE)
}

/// The settings of a command, resolved from its flags and `svcc.toml`; a problem is printed
/// and becomes exit code 2.
pub fn settings(cluster: &ClusterArgs) -> Result<Settings, ExitCode> {
    Settings::resolve(&cluster.overrides()).map_err(|e| usage(&e))
}

/// Settings for a command that reads inputs: the profile, `-l` and the input limits.
pub fn input_settings(
    cluster: &ClusterArgs,
    selector: Option<&str>,
    limits: &LimitArgs,
) -> Result<Settings, ExitCode> {
    let mut settings = settings(cluster)?;
    if let Some(text) = selector {
        settings.selection = Some(crate::selector::parse(text).map_err(|e| usage(&e))?);
    }
    settings.max_file_bytes = limits.max_file_size;
    settings.limits.max_depth = limits.max_depth;
    settings.limits.max_alias_nodes = limits.max_alias_nodes;
    settings.limits.max_documents = limits.max_documents;
    Ok(settings)
}

/// The paths given, or the working directory.
pub fn paths_or_cwd(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Whether to colour output written to `stream`.
pub fn use_color(choice: ColorChoice, stream: &impl IsTerminal) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stream.is_terminal()
        }
    }
}

/// The README's exit codes: 2 when input could not be read, 1 when errors were found (or
/// warnings, with `--deny-warnings`), else 0.
pub fn exit_code(outcome: &pipeline::Outcome, deny_warnings: bool) -> u8 {
    if !outcome.errors.is_empty() {
        FAILURE
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

/// Prints what could not be read.
pub fn print_input_errors(outcome: &pipeline::Outcome) {
    for e in &outcome.errors {
        let e = e.to_string();
        eprintln!("svcc: error: {}", crate::report::printable::printable(&e));
    }
}

/// CIDRs from a flag (`--cluster-cidr`, `--nodeport-addresses`): valid, and without host bits.
pub fn cidrs(flag: &str, values: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    values
        .iter()
        .map(|v| match crate::syntax::parse_cidr(v.trim()) {
            Ok((net, false)) => Ok(net),
            Ok((net, true)) => Err(format!(
                "{flag} `{v}` has host bits set; did you mean `{net}`?"
            )),
            Err(_) => Err(format!("{flag} `{v}`: {}", crate::syntax::CIDR_FMT)),
        })
        .collect()
}

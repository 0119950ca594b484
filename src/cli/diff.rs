//! `svcc diff OLD NEW` and `svcc diff --git REV[..REV] [PATHS]`.

use super::args::{ClusterArgs, DiffArgs, DiffFormat};
use super::common;
use crate::explain::diff;
use crate::pipeline::{self, Compiled};
use crate::plan::{LowerOptions, Plan};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

pub fn run(cluster: &ClusterArgs, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let settings = match common::settings(cluster) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let options = LowerOptions {
        node: args.node.clone(),
        ..Default::default()
    };
    let sides = match &args.git {
        None => {
            let [old, new] = args.paths.as_slice() else {
                eprintln!(
                    "svcc: error: `svcc diff` takes OLD and NEW paths (or `--git REV[..REV]`)"
                );
                return Ok(ExitCode::from(2));
            };
            (
                (
                    "OLD",
                    pipeline::compile(std::slice::from_ref(old), &settings, &options)?,
                ),
                (
                    "NEW",
                    pipeline::compile(std::slice::from_ref(new), &settings, &options)?,
                ),
            )
        }
        Some(range) => {
            let (from, to) = match range.split_once("..") {
                Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                None => (range.clone(), None),
            };
            let paths = if args.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                args.paths.clone()
            };
            let old = match git_files(&from, &paths) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("svcc: error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let new_side = match &to {
                Some(rev) => match git_files(rev, &paths) {
                    Ok(f) => pipeline::compile_texts(&f, &settings, &options)?,
                    Err(e) => {
                        eprintln!("svcc: error: {e}");
                        return Ok(ExitCode::from(2));
                    }
                },
                None => pipeline::compile(&paths, &settings, &options)?,
            };
            (
                ("OLD", pipeline::compile_texts(&old, &settings, &options)?),
                ("NEW", new_side),
            )
        }
    };
    let (old, new) = match (plan_of(&sides.0), plan_of(&sides.1)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(code), other) | (Ok(_), other @ Err(code)) => {
            // Both sides' problems are reported; the worse exit code wins.
            return Ok(ExitCode::from(other.err().map_or(code, |c| c.max(code))));
        }
    };
    let d = diff::diff(old, new);
    let mut text = String::new();
    match args.format {
        DiffFormat::Human => diff::write_human(&d, &mut text),
        DiffFormat::Markdown => diff::write_markdown(&d, &mut text),
        DiffFormat::Json => {
            text = serde_json::to_string_pretty(&d)?;
            text.push('\n');
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::from(u8::from(
        d.removes_reachability && !args.allow_removals,
    )))
}

/// The plan of one side, or, after a message saying why there is none, the exit code: 2 when
/// input could not be read, 1 when it has errors.
fn plan_of<'a>((label, compiled): &'a (&str, Compiled)) -> Result<&'a Plan, u8> {
    for e in &compiled.outcome.errors {
        eprintln!("svcc: error: {label}: {e}");
    }
    match &compiled.plan {
        Some(plan) => Ok(plan),
        None => {
            let code = common::exit_code(&compiled.outcome, false).max(1);
            if code == 1 {
                eprintln!(
                    "svcc: error: {label} has {} errors; run `svcc check` on it",
                    compiled.outcome.summary.errors
                );
            }
            Err(code)
        }
    }
}

/// Manifest files (`*.yaml`, `*.yml`, `*.json`) under `paths` at a git revision.
fn git_files(rev: &str, paths: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    if rev.starts_with('-') || rev.is_empty() {
        return Err(format!("`{rev}` is not a revision"));
    }
    let mut ls = Command::new("git");
    ls.args(["ls-tree", "-r", "--name-only", "--full-tree", rev, "--"]);
    for p in paths {
        ls.arg(repo_relative(p)?);
    }
    let out = ls.output().map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git ls-tree {rev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut files = Vec::new();
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        if !matches!(
            Path::new(name).extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            continue;
        }
        let show = Command::new("git")
            .args(["show", &format!("{rev}:{name}")])
            .output()
            .map_err(|e| format!("running git: {e}"))?;
        if !show.status.success() {
            return Err(format!(
                "git show {rev}:{name}: {}",
                String::from_utf8_lossy(&show.stderr).trim()
            ));
        }
        let text =
            String::from_utf8(show.stdout).map_err(|_| format!("{rev}:{name} is not UTF-8"))?;
        files.push((format!("{rev}:{name}"), text));
    }
    Ok(files)
}

/// A path as git's pathspec from the top of the work tree.
fn repo_relative(p: &Path) -> Result<String, String> {
    let out = Command::new("git")
        .args(["rev-parse", "--show-prefix"])
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err("not inside a git repository".to_owned());
    }
    let prefix = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let rel = p.to_string_lossy();
    let rel = rel.trim_start_matches("./");
    Ok(if rel == "." || rel.is_empty() {
        if prefix.is_empty() {
            ".".to_owned()
        } else {
            prefix
        }
    } else {
        format!("{prefix}{rel}")
    })
}

//! Report stage: renders diagnostics in the formats users and tools read.
//!
//! Input: sorted diagnostics with their severities settled, the source map and a run summary.
//! Output: text on a writer. Line and column are computed here, once, from byte spans
//! ([`Location`]); every format reports the same positions. One file per format, each with one
//! entry point `write(&Report, &mut dyn Write)`. A run with inputs that could not be read is
//! never reported as clean: each format says so in its own way (the human summary line, the
//! JSON summary's `unreadable`, SARIF's `executionSuccessful: false`, a GitHub error command).

pub mod github;
pub mod human;
pub mod json;
pub mod printable;
pub mod sarif;
pub mod short;

use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style excerpts with labels
    Human,
    /// `file:line:col: severity[rule]: message`, one per line
    Short,
    /// one JSON document (see README)
    Json,
    /// SARIF 2.1.0 for code-scanning tools
    Sarif,
    /// GitHub Actions workflow commands
    Github,
}

/// Counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    #[serde(skip)]
    pub infos: usize,
    /// Findings silenced by suppressions (annotations, file headers).
    #[serde(skip)]
    pub suppressed: usize,
    /// What directory walks found and did not check.
    pub not_checked: NotChecked,
}

/// Files a directory walk found and did not check (see `pipeline::sift`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    /// Files that hold no Kubernetes object (docker-compose, CI workflows, package.json, …).
    pub not_kubernetes: usize,
    /// Template files that are not YAML until rendered.
    pub templates: usize,
    /// Helm chart directories.
    pub helm_charts: usize,
    /// kustomization files and the patches and configurations they list.
    pub kustomize: usize,
}

impl NotChecked {
    pub fn is_empty(&self) -> bool {
        *self == NotChecked::default()
    }
}

impl Summary {
    pub fn count(&mut self, diagnostics: &[Diagnostic]) {
        for d in diagnostics {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => self.infos += 1,
            }
        }
    }
}

pub struct Report<'a> {
    pub diagnostics: &'a [Diagnostic],
    pub sources: &'a SourceMap,
    pub summary: Summary,
    /// Colour (human format only); the caller decides from the terminal and `NO_COLOR`.
    pub color: bool,
    /// Inputs that could not be read (`path: reason`): the run is incomplete, so no format may
    /// report it as clean.
    pub unreadable: &'a [String],
}

/// A span resolved to 1-based lines and columns (columns count characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Report<'_> {
    pub fn locate(&self, span: Span) -> Location {
        let file = self.sources.get(span.file);
        let (line, column) = file.line_col(span.start);
        let (end_line, end_column) = file.line_col(span.end);
        Location {
            file: file.name.clone(),
            line,
            column,
            end_line,
            end_column,
        }
    }
}

pub fn write(format: Format, report: &Report, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => human::write(report, out),
        Format::Short => short::write(report, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        Format::Github => github::write(report, out),
    }
}

//! `--format json`: one document,
//! `{"diagnostics":[{rule, severity, message, file, line, column, end_line, end_column, path,
//! object:{kind, namespace, name}, help, related:[{file, line, column, message}]}],
//! "summary":{files, documents, objects, errors, warnings, not_checked, unreadable}}`.
//! Field order is fixed; `path`, `object` and `help` are `null` when absent. `unreadable` counts
//! the inputs that could not be read (named on stderr): with any, the run is incomplete.

use super::Report;
use crate::diag::ObjectRef;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct Output<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonSummary {
    #[serde(flatten)]
    counts: super::Summary,
    unreadable: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    rule: &'a str,
    severity: &'a str,
    message: &'a str,
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    path: Option<&'a str>,
    object: Option<&'a ObjectRef>,
    help: Option<&'a str>,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    file: String,
    line: usize,
    column: usize,
    message: &'a str,
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let diagnostics = report
        .diagnostics
        .iter()
        .map(|d| {
            let at = report.locate(d.span);
            JsonDiagnostic {
                rule: d.rule,
                severity: d.severity.as_str(),
                message: &d.message,
                file: at.file,
                line: at.line,
                column: at.column,
                end_line: at.end_line,
                end_column: at.end_column,
                path: d.path.as_deref(),
                object: d.object.as_ref(),
                help: d.help.as_deref(),
                related: d
                    .related
                    .iter()
                    .map(|r| {
                        let at = report.locate(r.span);
                        JsonRelated {
                            file: at.file,
                            line: at.line,
                            column: at.column,
                            message: &r.message,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let output = Output {
        diagnostics,
        summary: JsonSummary {
            counts: report.summary,
            unreadable: report.unreadable.len(),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &output)?;
    writeln!(out)
}

//! `svcc rules` (the catalogue) and `svcc explain RULE` (one rule's documentation).

use super::args::{RulesArgs, RulesFormat};
use super::common;
use crate::catalogue::{self, CATALOGUE};
use std::io::Write;
use std::process::ExitCode;

pub fn rules(args: &RulesArgs) -> anyhow::Result<ExitCode> {
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

pub fn explain(id: &str) -> anyhow::Result<ExitCode> {
    let Some(rule) = catalogue::lookup(id) else {
        let nearest = CATALOGUE
            .iter()
            .min_by_key(|r| crate::check::cluster::edit_distance(r.id, id))
            .filter(|r| crate::check::cluster::edit_distance(r.id, id) <= 3);
        match nearest {
            Some(r) => eprintln!("svcc: error: unknown rule `{id}`; did you mean `{}`?", r.id),
            None => eprintln!("svcc: error: unknown rule `{id}` (see `svcc rules`)"),
        }
        return Ok(ExitCode::from(common::FAILURE));
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

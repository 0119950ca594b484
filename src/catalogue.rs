//! The rule catalogue: one row per rule, generated at build time from `rules/*.md` (see
//! `build.rs`). `svcc rules`, `svcc explain`, SARIF rule metadata and the default severities
//! all read this table.

use crate::diag::Severity;

#[derive(Debug)]
pub struct RuleInfo {
    /// Stable id; never reused. Names the bad thing (`nodeport-out-of-range`).
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// `input`, `schema`, `metadata`, `service`, `endpoints`, `workload`, `allocation`, …
    pub category: &'static str,
    /// The whole Markdown file, front matter included.
    pub doc: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

pub fn lookup(id: &str) -> Option<&'static RuleInfo> {
    CATALOGUE.iter().find(|r| r.id == id)
}

impl RuleInfo {
    /// The documentation without its front matter.
    pub fn body(&self) -> &'static str {
        self.doc
            .strip_prefix("---\n")
            .and_then(|t| t.split_once("\n---\n"))
            .map_or(self.doc, |(_, body)| body.trim_start_matches('\n'))
    }

    /// The text of a `## Heading` section, up to the next heading.
    pub fn section(&self, heading: &str) -> Option<&'static str> {
        let body = self.body();
        let marker = format!("## {heading}\n");
        let start = body.find(&marker)? + marker.len();
        let rest = &body[start..];
        let end = rest.find("\n## ").map_or(rest.len(), |e| e + 1);
        Some(rest[..end].trim())
    }

    /// The first fenced code block of a section (the examples).
    pub fn example(&self, heading: &str) -> Option<&'static str> {
        let section = self.section(heading)?;
        let start = section.find("```")?;
        let after_fence = &section[start + 3..];
        let code_start = after_fence.find('\n')? + 1;
        let code = &after_fence[code_start..];
        let end = code.find("```")?;
        Some(&code[..end])
    }

    /// One-paragraph summary: the first paragraph of "What it checks".
    pub fn summary(&self) -> &'static str {
        self.section("What it checks")
            .and_then(|s| s.split("\n\n").next())
            .unwrap_or(self.title)
    }
}

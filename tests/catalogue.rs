//! The rule catalogue (`rules/*.md`) against the code: every rule is documented in the same
//! shape, every failing example triggers its rule, every passing example is clean, and the
//! rule ids the code emits are exactly the ids the catalogue lists.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use svcc::catalogue::{RuleInfo, CATALOGUE};
use svcc::diag::{Diagnostic, Severity};
use svcc::pipeline::{compile_text, compile_texts, Settings};
use svcc::plan::LowerOptions;

/// The sections of a rule document, in order.
const HEADINGS: [&str; 5] = [
    "What it checks",
    "Why it matters",
    "Failing example",
    "Passing example",
    "Reference",
];

const CATEGORIES: [&str; 9] = [
    "input",
    "schema",
    "metadata",
    "service",
    "endpoints",
    "workload",
    "allocation",
    "cluster",
    "config",
];

/// Rules whose failing example cannot be written as one UTF-8 text: their example is a ```text
/// illustration and is not executed (tests/cli.rs covers them). Every other failing example
/// must be ```yaml.
const TEXT_FAILING_EXAMPLES: &[&str] = &["invalid-encoding", "helm-chart-skipped"];

/// Rules about files found by walking a directory: their examples are checked as such.
const WALKED_EXAMPLES: &[&str] = &["template-skipped"];

/// The info string of the first fenced block in a section (`yaml`, `text`, …).
fn fence_language(rule: &RuleInfo, heading: &str) -> Option<&'static str> {
    let section = rule.section(heading)?;
    let start = section.find("```")? + 3;
    let rest = &section[start..];
    Some(rest[..rest.find('\n')?].trim())
}

/// The `## ` headings of a body, outside code fences.
fn headings(body: &str) -> Vec<&str> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in body.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            if let Some(h) = line.strip_prefix("## ") {
                out.push(h.trim());
            }
        }
    }
    out
}

fn run(rule: &RuleInfo, which: &str, text: &str) -> Vec<Diagnostic> {
    let name = format!("{}-{}.yaml", rule.id, which);
    // The examples are judged against the default profile, declared (rules that depend on the
    // service CIDRs are warnings while they are only assumed).
    let mut settings = Settings::default();
    settings.profile.service_cidrs_declared = true;
    // Compiling runs every check and, when there is no error, lowering (whose allocation
    // notes are rules too).
    let compiled = if WALKED_EXAMPLES.contains(&rule.id) {
        compile_texts(
            &[(name, text.to_owned())],
            &settings,
            &LowerOptions::default(),
        )
    } else {
        compile_text(&name, text, &settings, &LowerOptions::default())
    };
    let outcome = compiled
        .unwrap_or_else(|e| panic!("{}: checking the {which} example failed: {e}", rule.id))
        .outcome;
    assert!(
        outcome.errors.is_empty(),
        "{}: input errors in the {which} example: {:?}",
        rule.id,
        outcome.errors
    );
    outcome.diagnostics
}

fn describe(diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "    (no diagnostics)\n".to_owned();
    }
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(
            out,
            "    {}[{}] {}..{} {}: {}",
            d.severity,
            d.rule,
            d.span.start,
            d.span.end,
            d.path.as_deref().unwrap_or("-"),
            d.message
        );
    }
    out
}

#[test]
fn catalogue_is_not_empty_and_ids_are_unique() {
    assert!(
        CATALOGUE.len() >= 60,
        "only {} rules in the catalogue",
        CATALOGUE.len()
    );
    let ids: BTreeSet<&str> = CATALOGUE.iter().map(|r| r.id).collect();
    assert_eq!(
        ids.len(),
        CATALOGUE.len(),
        "duplicate rule ids in the catalogue"
    );
}

#[test]
fn every_rule_document_has_the_expected_shape() {
    let mut problems = Vec::new();
    for rule in CATALOGUE {
        let id = rule.id;
        if rule.title.trim().is_empty() {
            problems.push(format!("{id}: empty title"));
        }
        if !CATEGORIES.contains(&rule.category) {
            problems.push(format!("{id}: unknown category `{}`", rule.category));
        }
        let found = headings(rule.body());
        if found != HEADINGS {
            problems.push(format!(
                "{id}: headings are {found:?}, expected {HEADINGS:?}"
            ));
        }
        for heading in HEADINGS {
            if rule.section(heading).is_none_or(|s| s.trim().is_empty()) {
                problems.push(format!("{id}: section `{heading}` is empty"));
            }
        }
        if rule.summary().trim().is_empty() {
            problems.push(format!("{id}: no summary"));
        }
        for heading in ["Failing example", "Passing example"] {
            if rule.example(heading).is_none_or(|e| e.trim().is_empty()) {
                problems.push(format!("{id}: `{heading}` has no fenced code block"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "catalogue problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn text_examples_are_only_used_where_allowed() {
    let mut problems = Vec::new();
    for rule in CATALOGUE {
        let failing = fence_language(rule, "Failing example");
        let allowed = TEXT_FAILING_EXAMPLES.contains(&rule.id);
        match (failing, allowed) {
            (Some("yaml"), false) | (Some("text"), true) => {}
            (lang, _) => problems.push(format!(
                "{}: failing example is fenced as {lang:?}, expected {}",
                rule.id,
                if allowed { "`text`" } else { "`yaml`" }
            )),
        }
        let passing = fence_language(rule, "Passing example");
        if passing != Some("yaml") {
            problems.push(format!(
                "{}: passing example is fenced as {passing:?}, expected `yaml`",
                rule.id
            ));
        }
    }
    for id in TEXT_FAILING_EXAMPLES {
        if !CATALOGUE.iter().any(|r| r.id == *id) {
            problems.push(format!(
                "{id}: in the text allowlist but not in the catalogue"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn failing_examples_trigger_their_rule() {
    let mut problems = String::new();
    for rule in CATALOGUE {
        if TEXT_FAILING_EXAMPLES.contains(&rule.id) {
            continue;
        }
        let Some(text) = rule.example("Failing example") else {
            continue; // reported by the shape test
        };
        let diagnostics = run(rule, "failing", text);
        let hits: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.rule == rule.id).collect();
        let len = text.len();
        let bad_span = hits
            .iter()
            .find(|d| !(d.span.start <= d.span.end && d.span.end as usize <= len));
        if hits.is_empty() {
            let _ = write!(
                problems,
                "{}: failing example does not trigger the rule; found:\n{}",
                rule.id,
                describe(&diagnostics)
            );
        } else if let Some(d) = bad_span {
            let _ = write!(
                problems,
                "{}: span {}..{} is outside the example ({len} bytes); found:\n{}",
                rule.id,
                d.span.start,
                d.span.end,
                describe(&diagnostics)
            );
        } else if hits.iter().any(|d| d.severity != rule.severity) {
            let _ = write!(
                problems,
                "{}: reported with a severity other than the catalogue's `{}`; found:\n{}",
                rule.id,
                rule.severity,
                describe(&diagnostics)
            );
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}

#[test]
fn passing_examples_are_clean() {
    let mut problems = String::new();
    for rule in CATALOGUE {
        let Some(text) = rule.example("Passing example") else {
            continue; // reported by the shape test
        };
        let diagnostics = run(rule, "passing", text);
        let offending = diagnostics
            .iter()
            .any(|d| d.rule == rule.id || d.severity == Severity::Error);
        if offending {
            let _ = write!(
                problems,
                "{}: passing example reports its own rule or an error:\n{}",
                rule.id,
                describe(&diagnostics)
            );
        }
    }
    assert!(problems.is_empty(), "\n{problems}");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        // Emitters create no diagnostics (they format a checked plan); their own error
        // helpers are not rule ids.
        if path.is_dir() && !path.ends_with("emit") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part of a source file outside its `#[cfg(test)]` module (by convention the module is
/// at the end of the file): unit tests build diagnostics with made-up ids.
fn without_unit_tests(text: String) -> String {
    match text.find("\n#[cfg(test)]\nmod ") {
        Some(at) => text[..at + 1].to_owned(),
        None => text,
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, without_unit_tests(text))
        })
        .collect()
}

fn is_rule_like(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.contains('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Every `"kebab-case"` string literal in a source text.
fn kebab_literals(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('"') {
        let rest = &bytes[i + 1..];
        let n = rest
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
            .count();
        if rest.get(n) == Some(&b'"') {
            let s = &text[i + 1..i + 1 + n];
            if is_rule_like(s) {
                out.insert(s.to_owned());
            }
        }
    }
    out
}

/// Calls that take a rule id as their first argument.
const EMITTERS: [&str; 3] = ["Diagnostic::new(", "invalid(", "unsupported("];

/// The string literals passed as the first argument of an emitter, wherever rustfmt put them.
fn emitted_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for emitter in EMITTERS {
        for (at, _) in text.match_indices(emitter) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `is_invalid(` and the like
            }
            let args = text[at + emitter.len()..].trim_start();
            let Some(literal) = args.strip_prefix('"') else {
                continue; // a variable: the literal is checked where it is written
            };
            if let Some(end) = literal.find('"') {
                out.push(literal[..end].to_owned());
            }
        }
    }
    out
}

#[test]
fn every_catalogue_rule_appears_in_the_code() {
    let mut literals = BTreeSet::new();
    for (_, text) in sources() {
        literals.extend(kebab_literals(&text));
    }
    let missing: Vec<&str> = CATALOGUE
        .iter()
        .map(|r| r.id)
        .filter(|id| !literals.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules documented in rules/ but never named in src/: {missing:?}"
    );
}

#[test]
fn every_emitted_rule_is_in_the_catalogue() {
    let catalogue: BTreeSet<&str> = CATALOGUE.iter().map(|r| r.id).collect();
    let mut emitted = BTreeSet::new();
    let mut problems = Vec::new();
    for (path, text) in sources() {
        for id in emitted_ids(&text) {
            if !catalogue.contains(id.as_str()) {
                problems.push(format!(
                    "{}: emits `{id}`, which has no rules/{id}.md",
                    path.display()
                ));
            }
            emitted.insert(id);
        }
    }
    // Guard against the scan silently finding nothing after a refactor.
    assert!(
        emitted.len() >= 40,
        "only {} rule ids found in src/: {emitted:?}",
        emitted.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_source_scan_handles_line_breaks() {
    let text = "x = Diagnostic::new(\n    \"some-rule\",\n    span,\n);\nlet y = is_invalid(\"not-a-rule\");\ninvalid(rule, span);\nunsupported(\"other-rule\", s);";
    assert_eq!(
        emitted_ids(text),
        vec!["some-rule".to_owned(), "other-rule".to_owned()]
    );
    let literals =
        kebab_literals("let a = \"some-rule\"; let b = \"Not-kebab\"; let c = \"plain\";");
    assert_eq!(
        literals.into_iter().collect::<Vec<_>>(),
        vec!["some-rule".to_owned()]
    );
}

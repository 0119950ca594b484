//! Suppressions: per object with the annotation `svcc.dev/ignore: "ID,ID"` (or `all`), and per
//! file with a header comment `# svcc:ignore ID,ID` before the first document's content.
//! Suppressed findings are counted; a suppression that silences nothing is reported
//! (`unused-suppression`), so stale ones do not pile up.

use crate::catalogue;
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::source::{FileId, SourceFile, Span};
use std::collections::{HashMap, HashSet};

pub const ANNOTATION: &str = "svcc.dev/ignore";
const HEADER_MARKER: &str = "svcc:ignore";

/// One suppressed rule id (or `all`) and where it was written.
#[derive(Clone, Debug)]
pub struct Suppression {
    pub rule: String,
    pub span: Span,
}

fn parse_list(text: &str, span: Span) -> Vec<Suppression> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| Suppression {
            rule: if r == "*" {
                "all".to_owned()
            } else {
                r.to_owned()
            },
            span,
        })
        .collect()
}

/// The `# svcc:ignore …` lines of a file's leading comment block.
pub fn file_header(id: FileId, file: &SourceFile) -> Vec<Suppression> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let trimmed = line.trim();
        let start = offset;
        offset += line.len();
        if trimmed.is_empty() || trimmed == "---" {
            continue;
        }
        let Some(comment) = trimmed.strip_prefix('#') else {
            break;
        };
        if let Some(rest) = comment.trim().strip_prefix(HEADER_MARKER) {
            let span = Span::new(id, start, start + line.trim_end().len());
            out.extend(parse_list(rest, span));
        }
    }
    out
}

fn matches(s: &Suppression, rule: &str) -> bool {
    s.rule == "all" || s.rule == rule
}

/// The suppressions of one run, and what each has silenced so far. Findings go through
/// [`Suppressions::filter`] (once or in several batches: a compile settles the notes of lowering
/// after the checks), then [`Suppressions::finish`] reports those that silenced nothing.
#[derive(Debug, Default)]
pub struct Suppressions {
    objects: HashMap<usize, Vec<Suppression>>,
    files: HashMap<FileId, Vec<Suppression>>,
    used: HashSet<(Option<usize>, Span, String)>,
    suppressed: usize,
}

impl Suppressions {
    pub fn new(model: &Model, files: HashMap<FileId, Vec<Suppression>>) -> Self {
        let objects = model
            .objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let v = o.meta.annotations.get(ANNOTATION)?;
                Some((i, parse_list(&v.value, v.span)))
            })
            .collect();
        Suppressions {
            objects,
            files,
            used: HashSet::new(),
            suppressed: 0,
        }
    }

    /// Removes and counts the suppressed findings; returns the rest.
    pub fn filter(&mut self, findings: Vec<(Option<usize>, Diagnostic)>) -> Vec<Diagnostic> {
        let mut kept = Vec::with_capacity(findings.len());
        for (i, d) in findings {
            let by_object = i
                .and_then(|i| self.objects.get(&i))
                .and_then(|list| list.iter().find(|s| matches(s, d.rule)))
                .map(|s| (i, s));
            let by_file = self
                .files
                .get(&d.span.file)
                .and_then(|list| list.iter().find(|s| matches(s, d.rule)))
                .map(|s| (None, s));
            match by_object.or(by_file) {
                Some((owner, s)) if d.rule != "unused-suppression" => {
                    self.used.insert((owner, s.span, s.rule.clone()));
                    self.suppressed += 1;
                }
                _ => kept.push(d),
            }
        }
        kept
    }

    /// The suppressions that silenced nothing, as `unused-suppression` findings, and the
    /// number of findings suppressed. `selected` says which objects were checked: under `-l`,
    /// a file suppression may have been meant for unselected objects and is not reported.
    pub fn finish(
        self,
        model: &Model,
        selected: &dyn Fn(usize) -> bool,
        selection_active: bool,
    ) -> (Vec<Diagnostic>, usize) {
        let mut owned: Vec<(Option<usize>, &Suppression)> = self
            .objects
            .iter()
            .filter(|(i, _)| selected(**i))
            .flat_map(|(i, list)| list.iter().map(move |s| (Some(*i), s)))
            .chain(
                self.files
                    .values()
                    .filter(|_| !selection_active)
                    .flat_map(|list| list.iter().map(|s| (None, s))),
            )
            .collect();
        owned.sort_by_key(|(_, s)| s.span);
        let mut unused = Vec::new();
        for (owner, s) in owned {
            if self.used.contains(&(owner, s.span, s.rule.clone())) {
                continue;
            }
            let known = s.rule == "all" || catalogue::lookup(&s.rule).is_some();
            let message = if known {
                format!("suppression of `{}` silences nothing", s.rule)
            } else {
                format!("suppression names unknown rule `{}`", s.rule)
            };
            let mut d = Diagnostic::new("unused-suppression", s.span, message)
                .label("unused")
                .help("remove it; see `svcc rules` for rule ids");
            if let Some(i) = owner {
                d = d
                    .path(format!("metadata.annotations[{ANNOTATION}]"))
                    .object(model.objects[i].object_ref());
            }
            unused.push(d);
        }
        (unused, self.suppressed)
    }
}

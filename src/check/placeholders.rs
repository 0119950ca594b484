//! Template placeholders in files found by a directory walk.
//!
//! Repositories keep manifests that are rendered before they are applied: `envsubst` and CI
//! templates (`port: ${PORT}`), Go and Jinja templates whose placeholders happen to be valid
//! YAML (`image: "{{ .Values.image }}"`). A finding on such a value is about the placeholder,
//! not about what will be applied. In files found by a walk, those findings are replaced by one
//! note per file; a file named on the command line is checked as written.

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceMap};
use std::collections::BTreeMap;

/// The rule of the notes about templates.
const NOTE: &str = "template-skipped";

/// Template markers: `{{ … }}` (Go, Helm, Jinja) and `${…}` (shell, envsubst).
fn is_placeholder(text: &str) -> bool {
    text.contains("{{") || text.contains("${")
}

/// Replaces the findings on placeholders in walked files with one `template-skipped` note per
/// file, at the first of them.
pub fn replace(all: &mut Vec<(Option<usize>, Diagnostic)>, sources: &SourceMap) {
    let mut first: BTreeMap<FileId, (Diagnostic, usize)> = BTreeMap::new();
    all.retain(|(_, d)| {
        let file = sources.get(d.span.file);
        // The loader's own note about a template file is not a finding on a placeholder.
        let on_placeholder = file.walked && d.rule != NOTE && is_placeholder(file.slice(d.span));
        if on_placeholder {
            let entry = first.entry(d.span.file).or_insert_with(|| (d.clone(), 0));
            if d.span.start < entry.0.span.start {
                entry.0 = d.clone();
            }
            entry.1 += 1;
        }
        !on_placeholder
    });
    for (file, (d, count)) in first {
        let text = sources.get(file).slice(d.span).to_owned();
        let shown: String = text.chars().take(60).collect();
        let findings = if count == 1 {
            "the finding on it is not reported".to_owned()
        } else {
            format!("{count} findings on placeholders in this file are not reported")
        };
        all.push((
            None,
            Diagnostic::new(
                NOTE,
                d.span,
                format!("`{shown}` is a template placeholder: {findings}"),
            )
            .label("filled in when the file is rendered")
            .help("check what the template renders to (e.g. `envsubst < FILE | svcc check -`), or name the file on the command line to check it as written"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFile, Span};

    #[test]
    fn findings_on_placeholders_become_one_note_in_walked_files() {
        let mut sources = SourceMap::default();
        let text = "port: ${PORT}\napp: {{ .Values.app }}\nname: web\n".to_owned();
        let mut walked = SourceFile::new("w.yaml".into(), None, text.clone());
        walked.walked = true;
        let w = sources.add(walked);
        let named = sources.add(SourceFile::new("n.yaml".into(), None, text.clone()));
        let at = |file, needle: &str| {
            let start = text.find(needle).expect("in text");
            Span::new(file, start, start + needle.len())
        };
        let mut all = vec![
            (
                Some(0),
                Diagnostic::new("wrong-type", at(w, "${PORT}"), "x"),
            ),
            (
                Some(0),
                Diagnostic::new("invalid-label", at(w, "{{ .Values.app }}"), "y"),
            ),
            (Some(0), Diagnostic::new("invalid-name", at(w, "web"), "z")),
            (
                Some(1),
                Diagnostic::new("wrong-type", at(named, "${PORT}"), "x"),
            ),
        ];
        replace(&mut all, &sources);
        let rules: Vec<(&str, FileId)> = all.iter().map(|(_, d)| (d.rule, d.span.file)).collect();
        assert_eq!(
            rules,
            [
                ("invalid-name", w),
                ("wrong-type", named),
                ("template-skipped", w)
            ]
        );
        assert!(
            all[2].1.message.contains("2 findings"),
            "{}",
            all[2].1.message
        );
    }
}

//! Sifting a loaded repository: what of it is checked.
//!
//! A directory walk brings every `*.yaml`, `*.yml` and `*.json` file of a repository, and many
//! are not manifests. Files named on the command line are checked as given; files found by a
//! walk are sifted here, after loading and before linking:
//! - a file that holds no Kubernetes object (docker-compose, CI workflows, package.json,
//!   Prometheus rules: no document with `apiVersion` or `kind`) is counted, not reported; if it
//!   does not parse, it is reported only when it looks like a manifest (`apiVersion:` and
//!   `kind:` lines), and a file with `{{` that does not parse is a template (one note);
//! - kustomization files and the patches and transformer configurations they list are not
//!   objects on their own; the kustomizations are read for the apply units (`link::scope`), and
//!   the labels they set are set on the objects they build (`model::kustomize`);
//! - each Helm chart the walk skipped gets one note at its `Chart.yaml`.

use crate::diag::Diagnostic;
use crate::model::Decoded;
use crate::report::NotChecked;
use crate::source::inputs::Loaded;
use crate::source::repo::{self, Kustomization, Skipped};
use crate::source::yaml::{self, Limits};
use crate::source::{FileId, SourceFile, Span};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// What sifting found besides the files it removed.
#[derive(Debug, Default)]
pub struct Sifted {
    /// The kustomizations of the walked directories.
    pub kustomizations: Vec<Kustomization>,
    /// Notes (templates, Helm charts) and findings about kustomizations.
    pub notes: Vec<Diagnostic>,
    pub not_checked: NotChecked,
    /// Files not checked (index-aligned with the source map, charts' `Chart.yaml` included).
    pub excluded: Vec<bool>,
}

/// Loader findings that mean the file did not parse.
const PARSE_FAILURES: [&str; 3] = ["yaml-syntax", "yaml-unrepresentable", "invalid-encoding"];

/// Largest `Chart.yaml` read for a note's excerpt.
const MAX_CHART_FILE: u64 = 64 * 1024;

pub fn sift(loaded: &mut Loaded<Decoded>, skipped: &Skipped) -> Sifted {
    let files = loaded.sources.len();
    let mut sifted = Sifted {
        excluded: vec![false; files],
        ..Sifted::default()
    };
    read_kustomizations(loaded, &mut sifted);

    // Per file: objects (and documents that look like objects with a mistake), parse failures.
    let mut objects = vec![0usize; files];
    for (piece, file) in loaded.pieces.iter().zip(&loaded.piece_files) {
        objects[file.0 as usize] += piece.objects.len() + piece.diagnostics.len();
    }
    let mut failed = vec![false; files];
    for d in &loaded.diagnostics {
        if PARSE_FAILURES.contains(&d.rule) {
            failed[d.span.file.0 as usize] = true;
        }
    }
    for (id, f) in loaded.sources.iter() {
        let i = id.0 as usize;
        if !f.walked || sifted.excluded[i] || (objects[i] > 0 && !failed[i]) {
            continue;
        }
        if !failed[i] {
            sifted.not_checked.not_kubernetes += 1;
            sifted.excluded[i] = true;
        } else if let Some(at) = f.text.find("{{") {
            sifted.not_checked.templates += 1;
            sifted.excluded[i] = true;
            sifted.notes.push(
                Diagnostic::new(
                    "template-skipped",
                    Span::new(id, at, at + 2),
                    "this file is a template, not YAML, and is not checked",
                )
                .label("template syntax")
                .help("check what it renders to, e.g. `helm template … | svcc check -`"),
            );
        } else if objects[i] == 0 && !looks_like_kubernetes(&f.text) {
            sifted.not_checked.not_kubernetes += 1;
            sifted.excluded[i] = true;
        }
    }

    let excluded = &sifted.excluded;
    loaded
        .diagnostics
        .retain(|d| !excluded[d.span.file.0 as usize]);
    for (piece, file) in loaded.pieces.iter_mut().zip(&loaded.piece_files) {
        let i = file.0 as usize;
        if excluded[i] {
            *piece = Decoded::default();
            continue;
        }
        let not_objects = std::mem::take(&mut piece.not_objects);
        if !loaded.sources.get(*file).walked {
            piece.diagnostics.extend(not_objects);
        }
    }
    set_kustomize_labels(loaded, &sifted.kustomizations);
    note_charts(loaded, skipped, &mut sifted);
    sifted
}

/// Sets the labels of every kustomization on the objects it builds (its resources and those
/// of the kustomizations it includes), and drops the findings that the labels answer.
fn set_kustomize_labels(loaded: &mut Loaded<Decoded>, kustomizations: &[Kustomization]) {
    if kustomizations.iter().all(|k| k.labels.is_empty()) {
        return;
    }
    let by_dir: HashMap<&std::path::Path, &Kustomization> = kustomizations
        .iter()
        .map(|k| (k.dir.as_path(), k))
        .collect();
    let mut per_file: HashMap<PathBuf, Vec<repo::LabelSetting>> = HashMap::new();
    for k in kustomizations.iter().filter(|k| !k.labels.is_empty()) {
        let mut stack = vec![k];
        let mut seen = std::collections::HashSet::new();
        while let Some(built) = stack.pop() {
            if !seen.insert(built.dir.as_path()) {
                continue;
            }
            for r in &built.resources {
                let labels = per_file.entry(r.clone()).or_default();
                for l in &k.labels {
                    if !labels.iter().any(|have| have.key == l.key) {
                        labels.push(l.clone());
                    }
                }
            }
            stack.extend(
                built
                    .includes
                    .iter()
                    .filter_map(|d| by_dir.get(d.as_path())),
            );
        }
    }
    let sources = &loaded.sources;
    for (piece, file) in loaded.pieces.iter_mut().zip(&loaded.piece_files) {
        let source = sources.get(*file);
        let Some(labels) = source
            .path
            .as_deref()
            .filter(|_| source.walked)
            .and_then(|p| per_file.get(&repo::normalize(p)))
        else {
            continue;
        };
        for (index, object) in piece.objects.iter_mut().enumerate() {
            let applied = crate::model::kustomize::apply_labels(object, labels);
            if applied.created_selector {
                piece.findings.retain(|(i, d)| {
                    !(*i == index
                        && d.rule == "missing-required-field"
                        && d.path.as_deref() == Some("spec.selector"))
                });
            }
        }
    }
}

/// Reads the walked kustomization files, and marks them and the fragments they list as not
/// checked.
fn read_kustomizations(loaded: &Loaded<Decoded>, sifted: &mut Sifted) {
    let mut walked: HashMap<PathBuf, FileId> = HashMap::new();
    for (id, f) in loaded.sources.iter() {
        let Some(path) = f.path.as_deref().filter(|_| f.walked) else {
            continue;
        };
        walked.insert(repo::normalize(path), id);
        if !repo::is_kustomization_file(path) {
            continue;
        }
        sifted.excluded[id.0 as usize] = true;
        let parsed = yaml::parse(id, &f.text, &Limits::default());
        let Some(doc) = parsed.documents.first() else {
            continue;
        };
        let Some(mut k) = Kustomization::read(id, path, &doc.root) else {
            continue;
        };
        if let Some((ns, span)) = &k.namespace {
            let problems = crate::syntax::dns1123_label(ns);
            if !problems.is_empty() {
                sifted.notes.push(
                    Diagnostic::new(
                        "invalid-namespace",
                        *span,
                        format!("namespace `{ns}` is invalid: {}", problems.join("; ")),
                    )
                    .label("kustomize sets this namespace on every object it builds")
                    .path("namespace"),
                );
                k.namespace = None;
            }
        }
        sifted.kustomizations.push(k);
    }
    for k in &sifted.kustomizations {
        for fragment in &k.fragments {
            if let Some(id) = walked.get(fragment) {
                sifted.excluded[id.0 as usize] = true;
            }
        }
    }
    sifted.not_checked.kustomize = sifted.excluded.iter().filter(|&&e| e).count();
}

/// One note per Helm chart the walk skipped, at its `Chart.yaml`.
fn note_charts(loaded: &mut Loaded<Decoded>, skipped: &Skipped, sifted: &mut Sifted) {
    for chart in &skipped.charts {
        let mut text = String::new();
        let readable = std::fs::File::open(chart)
            .and_then(|f| f.take(MAX_CHART_FILE).read_to_string(&mut text))
            .is_ok();
        if !readable {
            text.clear();
        }
        let dir = chart
            .parent()
            .map_or_else(String::new, |d| d.display().to_string());
        // The `name:` line when there is one, else the start of the file.
        let at = text
            .match_indices("name:")
            .find(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n')
            .map_or(0..0, |(i, m)| i..i + m.len());
        let mut source = SourceFile::new(chart.display().to_string(), Some(chart.clone()), text);
        source.walked = true;
        let id = loaded.sources.add(source);
        sifted.excluded.push(true);
        sifted.not_checked.helm_charts += 1;
        sifted.notes.push(
            Diagnostic::new(
                "helm-chart-skipped",
                Span::new(id, at.start, at.end),
                format!("Helm chart `{dir}` is not checked: its templates are manifests only once rendered"),
            )
            .label("a Helm chart")
            .help(format!("check what it renders to: `helm template {dir} | svcc check -`")),
        );
    }
}

/// A text with `apiVersion:` and `kind:` keys at the start of a line (or of a list item).
fn looks_like_kubernetes(text: &str) -> bool {
    let has = |key: &str| {
        text.lines().any(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .trim_start_matches('"')
                .starts_with(key)
        })
    };
    has("apiVersion") && has("kind")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_look_like_kubernetes() {
        assert!(looks_like_kubernetes(
            "apiVersion: v1\nkind: Service\nmetadata: {name: [\n"
        ));
        assert!(looks_like_kubernetes(
            "items:\n  - apiVersion: v1\n    kind: Pod\n"
        ));
        assert!(!looks_like_kubernetes(
            "services:\n  web:\n    image: x\n  db: [\n"
        ));
        assert!(!looks_like_kubernetes("{\"name\": \"pkg\", // comment\n}"));
    }
}

//! Snapshots of what `svcc check` reports, reviewed as diffs (`cargo insta review`):
//! human and JSON output for every seed file, and the findings on the real-world corpus.

use std::path::{Path, PathBuf};
use svcc::pipeline::{self, Settings};
use svcc::report::{self, Format, Report};

fn render(paths: &[PathBuf], format: Format) -> String {
    let outcome = pipeline::check_paths(paths, &Settings::default()).expect("schemas load");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
        summary: outcome.summary,
        color: false,
        unreadable: &[],
    };
    let mut out = Vec::new();
    report::write(format, &report, &mut out).expect("write to memory");
    String::from_utf8(out).expect("UTF-8 output")
}

fn seed_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus/seed/good", "corpus/seed/bad"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("seed corpus")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
}

fn snapshot_name(path: &Path) -> String {
    path.to_string_lossy()
        .trim_start_matches("corpus/")
        .replace(['/', '.'], "_")
}

#[test]
fn seed_files_human_and_json() {
    for file in seed_files() {
        let name = snapshot_name(&file);
        insta::with_settings!({
            snapshot_path => "../snapshots/check",
            prepend_module_to_snapshot => false,
            description => file.display().to_string(),
        }, {
            insta::assert_snapshot!(format!("{name}.human"), render(std::slice::from_ref(&file), Format::Human));
            insta::assert_snapshot!(format!("{name}.json"), render(std::slice::from_ref(&file), Format::Json));
        });
    }
}

#[test]
fn seed_good_as_one_cluster() {
    insta::with_settings!({snapshot_path => "../snapshots/check", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("seed_good_cluster.human", render(&[PathBuf::from("corpus/seed/good")], Format::Human));
    });
}

/// Files of the real corpus that are parts of one example (one upstream directory, or a
/// fixture split into `_service`/`_endpoint` files) and are checked together; every other file
/// is checked on its own, since the projects keep alternative variants of the same manifests
/// side by side (checking those together would only report duplicates).
const EXAMPLES: &[&str] = &[
    "kubernetes__examples/_archived__volumes__glusterfs__",
    "GoogleCloudPlatform__microservices-demo/kubernetes-manifests__",
    "Azure-Samples__aks-store-demo/kustomize__base__",
];

fn example_key(path: &str) -> String {
    for prefix in EXAMPLES {
        if path.contains(prefix) {
            return (*prefix).to_owned();
        }
    }
    for suffix in ["_endpoint.yaml", "_service.yaml"] {
        if let Some(stem) = path.strip_suffix(suffix) {
            return stem.to_owned();
        }
    }
    path.to_owned()
}

/// Every finding on 400 real-world manifests; each kind of finding is reviewed in
/// `corpus/real/REVIEW.md`.
#[test]
fn real_corpus_findings() {
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![PathBuf::from("corpus/real")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("corpus/real") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    let mut groups: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for f in files {
        groups
            .entry(example_key(&f))
            .or_default()
            .push(PathBuf::from(f));
    }
    let mut out = String::new();
    for (_, group) in groups {
        out.push_str(&render(&group, Format::Short));
    }
    insta::with_settings!({snapshot_path => "../snapshots/check", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("real_corpus.short", out);
    });
}

#[test]
fn output_is_deterministic() {
    let a = render(&[PathBuf::from("corpus/real")], Format::Json);
    let b = render(&[PathBuf::from("corpus/real")], Format::Json);
    assert_eq!(a, b);
}

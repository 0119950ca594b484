//! The import rules of ARCHITECTURE.md, enforced: every module of `src/` imports only modules
//! of the layers below its own (so the house reads one way, with no circles), and the CLI's
//! commands share only `common`, `dataplane` and `args`.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, bottom first. A module may import its own layer's siblings only where listed in
/// `SAME_LAYER`.
const LAYERS: &[&[&str]] = &[
    &["span", "syntax", "timing"],
    &["diag"],
    &["catalogue"],
    &["source"],
    &["model"],
    &["selector"],
    &["config"],
    &["link"],
    &["check", "report"],
    &["plan"],
    &["emit"],
    &["explain", "apply"],
    &["pipeline"],
    &["cli"],
];

/// Imports within one layer that are allowed (importer, imported).
const SAME_LAYER: &[(&str, &str)] = &[("explain", "emit"), ("apply", "emit")];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `crate::X` paths of a Rust file outside its tests.
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_owned())
            .unwrap_or_default();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer(&module) else {
            problems.push(format!(
                "src/{}: module `{module}` has no layer in this test",
                rel.display()
            ));
            continue;
        };
        *seen.entry(module.clone()).or_default() += 1;
        let text = std::fs::read_to_string(file).expect("read");
        for imported in imports(&text) {
            if imported == module {
                continue;
            }
            let Some(theirs) = layer(&imported) else {
                problems.push(format!(
                    "src/{}: imports unknown module `{imported}`",
                    rel.display()
                ));
                continue;
            };
            let allowed = theirs < own
                || (theirs == own && SAME_LAYER.contains(&(module.as_str(), imported.as_str())));
            if !allowed {
                problems.push(format!(
                    "src/{}: `{module}` imports `{imported}`, which is not below it",
                    rel.display()
                ));
            }
        }
    }
    assert!(seen.len() >= 15, "too few modules found: {seen:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn cli_commands_do_not_import_each_other() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let shared = ["common", "dataplane", "args"];
    // `dns` writes the zones of `compile --target dns`: a part of `compile`, not a command;
    // `watch` says when `apply --watch` applies again: a part of `apply`.
    let parts = [("compile", "dns"), ("apply", "watch")];
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&cli).expect("read src/cli") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        if name == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (at, _) in code.match_indices("super::") {
            let used: String = code[at + "super::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let part = parts.contains(&(name.as_str(), used.as_str()));
            if !used.is_empty() && !shared.contains(&used.as_str()) && used != name && !part {
                problems.push(format!("src/cli/{name}.rs uses `super::{used}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

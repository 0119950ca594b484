//! Builds the rule registry from `rules/*.md`: each file's front matter (`id`, `title`,
//! `severity`, `category`) becomes a row, and the file itself the rule's documentation, so the
//! catalogue, `svcc explain` and the docs cannot drift apart.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=rules");
    // Read when the script runs, not when it was compiled: a build script binary reused from
    // another checkout (a copied target directory) must still read this checkout's rules.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("rules/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut out = String::from("pub static CATALOGUE: &[RuleInfo] = &[\n");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("rule doc is UTF-8");
        let field = |name: &str| -> String {
            let body = text
                .strip_prefix("---\n")
                .and_then(|t| t.split_once("\n---\n"))
                .map(|(fm, _)| fm)
                .unwrap_or_else(|| panic!("{}: no front matter", path.display()));
            body.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("{}: no `{name}` in front matter", path.display()))
                .trim()
                .to_owned()
        };
        let id = field("id");
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        assert_eq!(id, stem, "{}: id must equal the file name", path.display());
        let severity = match field("severity").as_str() {
            "error" => "Error",
            "warning" => "Warning",
            "info" => "Info",
            other => panic!("{}: unknown severity {other}", path.display()),
        };
        writeln!(
            out,
            "    RuleInfo {{ id: {id:?}, title: {:?}, severity: Severity::{severity}, category: {:?}, doc: include_str!({:?}) }},",
            field("title"),
            field("category"),
            path.display().to_string()
        )
        .expect("write to string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("catalogue.rs");
    std::fs::write(dest, out).expect("write catalogue");
}

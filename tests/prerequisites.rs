//! The test suite's own promises about what it needs (see `support/require.rs`): `.ci/run`
//! installs the Debian package of every program a test may require, and no test, nor the
//! scripts that run them, behaves differently when `CI` is set.

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::path::{Path, PathBuf};

/// The packages of `.ci/run`'s `apt-get install` command (its lines joined at `\`).
fn ci_packages() -> Vec<String> {
    let script = std::fs::read_to_string(".ci/run").expect(".ci/run");
    let joined = script.replace("\\\n", " ");
    let installs: Vec<&str> = joined
        .lines()
        .filter(|l| l.trim_start().starts_with("apt-get install"))
        .collect();
    assert_eq!(installs.len(), 1, "one `apt-get install` in .ci/run");
    installs[0]
        .split_whitespace()
        .skip(2)
        .take_while(|w| !w.starts_with('>') && !w.starts_with('&') && !w.starts_with('|'))
        .filter(|w| !w.starts_with('-'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ci_installs_the_package_of_every_required_program() {
    let installed = ci_packages();
    assert!(installed.len() >= 5, "{installed:?}");
    let missing: Vec<String> = support::PACKAGES
        .iter()
        .filter(|(_, package)| !installed.iter().any(|p| p == package))
        .map(|(tool, package)| format!("{package} (for `{tool}`)"))
        .collect();
    assert!(
        missing.is_empty(),
        ".ci/run does not install {}",
        missing.join(", ")
    );
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_depends_on_ci_being_set() {
    let mut paths = Vec::new();
    for dir in ["tests", "scripts", ".ci"] {
        files(Path::new(dir), &mut paths);
    }
    // The patterns are built so that this file does not contain them.
    let ci = ['C', 'I'].iter().collect::<String>();
    let var = format!("\"{ci}\"");
    let shell = format!("${ci}");
    let braced = format!("${{{ci}");
    let mut found = Vec::new();
    for path in &paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let hit = line.contains(&var)
                || line
                    .split(&shell)
                    .skip(1)
                    .any(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
                || line.contains(&[braced.as_str(), "}"].concat())
                || line.contains(&[braced.as_str(), ":"].concat())
                || line.contains(&[braced.as_str(), "-"].concat());
            if hit {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tests must not depend on CI being set (a missing tool fails everywhere; skipping is \
         SVCC_ALLOW_SKIP=1):\n{}",
        found.join("\n")
    );
    assert!(paths.len() > 20, "{paths:?}");
}

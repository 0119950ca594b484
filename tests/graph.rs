//! `svcc graph`: DOT that Graphviz accepts and Mermaid, with dangling selectors and unresolved
//! targetPorts drawn distinctly. Graphviz (`dot`) judges the DOT; this file also proves the
//! skip policy of `support/require.rs` on one of its tests.

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use support::Need;

fn graph(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .arg("graph")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svcc");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // svcc may exit (a usage error) before reading its input: a closed pipe is fine.
        if let Err(e) = input.write_all(text.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(input);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

const DANGLING: &str = r#"apiVersion: v1
kind: Service
metadata: {name: "web"}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: lost}
spec:
  selector: {app: lost}
  ports: [{port: 80}]
"#;

/// Graphviz's `dot` accepts `text`. Without `dot` the test fails, unless `SVCC_ALLOW_SKIP=1`:
/// then this check is skipped and counted, and the test goes on with its other checks.
fn dot_accepts(text: &str) {
    let Ok(()) = support::require(&["dot"], Need::Tools) else {
        return;
    };
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dot");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("dot");
    assert!(
        out.status.success(),
        "dot refused:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn dot_for_the_seed_cluster_is_accepted_by_graphviz() {
    let dot = graph(&["corpus/seed/good"], None);
    assert!(dot.contains("\"Service/default/myapp-nodeport-fixed\" -> \"Deployment/default/myapp\" [label=\"1000→http(8000)\"]"), "{dot}");
    assert!(dot.contains("\"StatefulSet/default/web\" -> \"Service/default/web\" [label=\"serviceName\", style=bold]"));
    assert!(dot.contains("\"Endpoints/default/svc-ep\" -> \"Service/default/svc-ep\""));
    dot_accepts(&dot);
    insta::with_settings!({snapshot_path => "../snapshots/graph", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("seed_good.dot", dot);
        insta::assert_snapshot!("seed_good.mermaid", graph(&["--format", "mermaid", "corpus/seed/good"], None));
    });
}

#[test]
fn dangling_selectors_and_unresolved_ports_are_distinct() {
    let dot = graph(&["-"], Some(DANGLING));
    assert!(dot.contains("\"Service/default/lost\" -> \"missing/default/lost\" [label=\"selects nothing\", style=dashed, color=red"), "{dot}");
    assert!(dot.contains("[label=\"80→web?\", color=orange"), "{dot}");
    dot_accepts(&dot);
    let mermaid = graph(&["--format", "mermaid", "-"], Some(DANGLING));
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("stroke:red"));
    assert!(mermaid.contains("stroke:orange"));
}

#[test]
fn labels_are_escaped() {
    // A quote cannot reach a name (names are validated), but labels carry selector values and
    // the renderer escapes whatever it gets.
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: ExternalName\n  externalName: \"a\\\"b.example.com\"\n";
    let dot = graph(&["-"], Some(input));
    assert!(dot.contains("a\\\"b.example.com"), "{dot}");
    dot_accepts(&dot);
}

/// The skip policy (`support/require.rs`) on a real test: the first test of this file, run
/// again in a child process with an empty `PATH`, so that `dot` cannot be found. Without
/// `SVCC_ALLOW_SKIP` it fails and names the package to install; with `SVCC_ALLOW_SKIP=1` it
/// passes and its skip is recorded, with the reason, where `scripts/test` counts skips.
#[test]
fn without_dot_a_test_fails_unless_skipping_is_allowed() {
    let Ok(()) = support::require(&["dot"], Need::Tools) else {
        return;
    };
    const TEST: &str = "dot_for_the_seed_cluster_is_accepted_by_graphviz";
    let skips = tempfile::tempdir().expect("tempdir");
    let marker = skips.path().join(format!("graph::{TEST}"));
    let run = |env: &[(&str, &str)]| -> (Output, String) {
        let out = support::rerun(&[], TEST, skips.path())
            .envs(env.iter().copied())
            .output()
            .expect("run the test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    };
    let recorded = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(skips.path())
            .expect("skip dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // With `dot` on PATH the test runs and passes, and records no skip: what changes below is
    // caused by PATH alone.
    let (out, text) = run(&[]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 1 passed;"), "{text}");
    assert!(recorded().is_empty(), "{:?}", recorded());

    // No `dot`, skipping not allowed: the test fails, saying what is missing and how to get it.
    let (out, text) = run(&[("PATH", "")]);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("test result: FAILED. 0 passed; 1 failed;"),
        "{text}"
    );
    assert!(text.contains("`dot` (Debian package graphviz)"), "{text}");
    assert!(text.contains("apt-get install graphviz"), "{text}");
    assert!(text.contains("SVCC_ALLOW_SKIP=1"), "{text}");
    assert!(recorded().is_empty(), "{:?}", recorded());

    // Skipping allowed: the test passes, says it skipped, and the skip is recorded.
    let (out, text) = run(&[("PATH", ""), ("SVCC_ALLOW_SKIP", "1")]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 1 passed;"), "{text}");
    assert!(text.contains(&format!("SKIPPED graph::{TEST}")), "{text}");
    assert_eq!(recorded(), [format!("graph::{TEST}")]);
    let reason = std::fs::read_to_string(&marker).expect("marker");
    assert!(
        reason.contains("`dot` (Debian package graphviz)"),
        "{reason}"
    );

    // Any other value of the variable is no opt-in.
    std::fs::remove_file(&marker).expect("remove marker");
    let (out, text) = run(&[("PATH", ""), ("SVCC_ALLOW_SKIP", "yes")]);
    assert!(!out.status.success(), "{text}");
    assert!(recorded().is_empty(), "{:?}", recorded());
}

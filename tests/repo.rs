//! `svcc check` as a CI gate over a repository root (`corpus/repo`): what is not Kubernetes,
//! templates, a Helm chart, kustomize trees, alternatives side by side and documentation
//! examples pass without error; the profile-dependent IPv6 findings are warnings until the
//! profile is declared; a real problem still fails the gate; files named on the command line
//! are checked as written.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn svcc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run svcc")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (rule, severity, file) of every finding.
fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap_or("").to_owned(),
                d["severity"].as_str().unwrap_or("").to_owned(),
                d["file"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_repository_root_passes_with_notes_and_counts() {
    // As CI runs it: from the repository root, on `.`.
    let out = svcc_in(
        &root().join("corpus/repo"),
        &["check", "--format", "json", "."],
    );
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    let found = findings(&v);
    assert!(
        found.iter().all(|(_, severity, _)| severity != "error"),
        "{found:?}"
    );
    let rules: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|(r, s, f)| (r.as_str(), s.as_str(), f.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            (
                "ip-family-not-configured",
                "warning",
                "./ipv6/service-v6.yaml"
            ),
            (
                "ip-family-not-configured",
                "warning",
                "./ipv6/service-v6.yaml"
            ),
            ("template-skipped", "info", "./templated/deployment.yaml"),
            ("template-skipped", "info", "./templated/service.yaml"),
            ("helm-chart-skipped", "info", "./charts/web/Chart.yaml"),
        ],
        "{v:#}"
    );
    let summary = &v["summary"];
    assert_eq!(summary["files"], 15, "{summary}");
    assert_eq!(
        summary["not_checked"],
        serde_json::json!({"not_kubernetes": 5, "templates": 1, "helm_charts": 1, "kustomize": 6})
    );
    // The human report says what was left out.
    let out = svcc_in(&root().join("corpus/repo"), &["check", "."]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "not checked: 5 files that are not Kubernetes, 1 template, 1 Helm chart, 6 kustomize files\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "help: check what it renders to: `helm template ./charts/web | svcc check -`"
        ),
        "{text}"
    );
}

#[test]
fn a_declared_profile_makes_profile_findings_errors() {
    let out = svcc_in(
        &root(),
        &[
            "--service-cidr",
            "10.96.0.0/12",
            "check",
            "--format",
            "json",
            "corpus/repo",
        ],
    );
    let v = json(&out);
    assert_eq!(out.status.code(), Some(1));
    let errors: Vec<(String, String, String)> = findings(&v)
        .into_iter()
        .filter(|(_, s, _)| s == "error")
        .collect();
    assert_eq!(errors.len(), 2, "{v:#}");
    assert!(errors
        .iter()
        .all(|(r, _, f)| r == "ip-family-not-configured" && f.ends_with("ipv6/service-v6.yaml")));
    // A dual-stack profile accepts them.
    let out = svcc_in(
        &root(),
        &[
            "--service-cidr",
            "10.96.0.0/12,fd00:10:96::/112",
            "check",
            "corpus/repo",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_real_problem_still_fails_the_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&root().join("corpus/repo"), dir.path());
    // A nodePort outside the range, in a kustomize base: the cluster refuses it.
    let service = dir.path().join("kustomize/base/service.yaml");
    let text = std::fs::read_to_string(&service).expect("read");
    std::fs::write(
        &service,
        text.replace("spec:\n", "spec:\n  type: NodePort\n")
            .replace(
                "targetPort: grpc\n",
                "targetPort: grpc\n      nodePort: 40000\n",
            ),
    )
    .expect("write");
    let out = svcc_in(dir.path(), &["check", "--format", "short", "."]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error[")).collect();
    assert_eq!(
        errors,
        ["./kustomize/base/service.yaml:13:17: error[nodeport-out-of-range]: nodePort 40000 is outside the NodePort range 30000-32767"],
        "{text}"
    );
}

#[test]
fn files_named_on_the_command_line_are_checked_as_written() {
    let out = svcc_in(
        &root(),
        &[
            "check",
            "--format",
            "short",
            "corpus/repo/docker-compose.yml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("error[missing-type-meta]"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = svcc_in(
        &root(),
        &[
            "check",
            "--format",
            "short",
            "corpus/repo/templated/deployment.yaml",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(":7:13: error[wrong-type]"), "{text}");
    let out = svcc_in(
        &root(),
        &[
            "check",
            "--format",
            "short",
            "corpus/repo/kustomize/overlays/dev/service-patch.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a patch alone is not an object");
}

#[test]
fn a_kustomization_sets_its_namespace() {
    // One overlay over its base: the base's objects are built into `prod`.
    let plan = plan_of(&[
        "corpus/repo/kustomize/base",
        "corpus/repo/kustomize/overlays/prod",
    ]);
    let services: Vec<(&str, &str)> = plan["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["namespace"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(services, [("prod", "api")]);
    // Both overlays: they disagree, so the base keeps the namespace it was written with.
    let plan = plan_of(&["corpus/repo/kustomize"]);
    assert_eq!(plan["services"][0]["namespace"], "default");
}

/// `svcc compile --target plan PATHS`, which must succeed.
fn plan_of(paths: &[&str]) -> Value {
    let mut args = vec!["compile", "--target", "plan"];
    args.extend_from_slice(paths);
    let out = svcc_in(&root(), &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

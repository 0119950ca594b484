//! The `svcc` binary as users run it: exit codes, formats, stdin, configuration, and the seed
//! corpus reported at the right lines.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn svcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run svcc")
}

fn svcc_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svcc");
    // svcc may exit (a usage error) before reading its input: a closed pipe is fine.
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
    {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn seed_good_is_clean() {
    let out = svcc(&["check", "--format", "json", "corpus/seed/good"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["summary"]["errors"], 0, "{v:#}");
    assert_eq!(v["summary"]["files"], 12);
    assert!(v["summary"]["objects"].as_u64().unwrap() >= 12);
}

/// The `bad/` files that single-object checks must catch: (file, rule, line, column).
const SEED_BAD: &[(&str, &str, u64, u64)] = &[
    (
        "nodeport-out-of-range.yaml",
        "nodeport-out-of-range",
        12,
        17,
    ),
    (
        "externalname-with-ports-invalid-name.yaml",
        "invalid-external-name",
        7,
        17,
    ),
    (
        "affinity-timeout-too-long.yaml",
        "affinity-timeout-out-of-range",
        11,
        23,
    ),
    (
        "headless-with-nodeport.yaml",
        "headless-with-nodeport",
        7,
        14,
    ),
];

#[test]
fn seed_bad_reported_at_the_offending_line() {
    for (file, rule, line, column) in SEED_BAD {
        let path = format!("corpus/seed/bad/{file}");
        let out = svcc(&["check", "--format", "json", &path]);
        assert_eq!(out.status.code(), Some(1), "{file}: {}", text(&out));
        let v = json(&out);
        let hit = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["rule"] == *rule)
            .unwrap_or_else(|| panic!("{file}: no `{rule}` in {v:#}"));
        assert_eq!(hit["severity"], "error");
        assert_eq!(
            (hit["line"].as_u64(), hit["column"].as_u64()),
            (Some(*line), Some(*column)),
            "{file}: {hit:#}"
        );
        assert_eq!(hit["file"], path);
        assert!(
            hit["path"].as_str().is_some_and(|p| p.starts_with("spec.")),
            "{hit:#}"
        );
        assert_eq!(hit["object"]["kind"], "Service");
    }
}

#[test]
fn json_shape_is_exact() {
    let out = svcc(&[
        "check",
        "--format",
        "json",
        "corpus/seed/bad/nodeport-out-of-range.yaml",
    ]);
    let v = json(&out);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["diagnostics", "summary"]);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "nodeport-out-of-range")
        .expect("the nodePort finding");
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "rule",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "path",
            "object",
            "help",
            "related"
        ]
    );
    assert_eq!(
        d["message"],
        "nodePort 40000 is outside the NodePort range 30000-32767"
    );
    assert_eq!(d["path"], "spec.ports[0].nodePort");
    assert_eq!(
        d["object"],
        serde_json::json!({"kind": "Service", "namespace": null, "name": "myapp-nodeport-bad"})
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(12), Some(22))
    );
    let summary: Vec<&str> = v["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary,
        [
            "files",
            "documents",
            "objects",
            "errors",
            "warnings",
            "not_checked",
            "unreadable"
        ]
    );
    let not_checked: Vec<&str> = v["summary"]["not_checked"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        not_checked,
        ["not_kubernetes", "templates", "helm_charts", "kustomize"]
    );
}

// See: issue #13 (`svcc check /nonexistent` printed "no problems found", then the error).
#[test]
fn unreadable_inputs_are_never_reported_as_clean() {
    let missing = "does/not/exist.yaml";
    let good = "corpus/seed/good/deploy.yaml";
    for format in ["human", "short", "json", "sarif", "github"] {
        let out = svcc(&["check", "--format", format, missing, good]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(missing), "{format}: {stderr}");
        let t = text(&out);
        assert!(!t.contains("no problems found"), "{format}: {t}");
        match format {
            "human" => assert!(
                t.ends_with(&format!(
                    "error: could not read {missing}: No such file or directory (os error 2); \
                     nothing found in the 1 file (1 object) read\n"
                )),
                "{t}"
            ),
            "short" => assert!(t.is_empty(), "{t}"),
            "json" => assert_eq!(json(&out)["summary"]["unreadable"], 1),
            "sarif" => {
                let run = &json(&out)["runs"][0];
                assert_eq!(run["invocations"][0]["executionSuccessful"], false);
                let text =
                    &run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"];
                assert!(text.as_str().unwrap().contains(missing), "{run:#}");
            }
            "github" => assert!(
                t.contains(&format!("::error title=svcc::could not read {missing}")),
                "{t}"
            ),
            _ => unreachable!(),
        }
    }
    // Nothing readable at all: nothing was checked.
    let out = svcc(&["check", missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nothing was checked"), "{}", text(&out));
    // A readable, clean input keeps its summary and no `unreadable` notification.
    let out = svcc(&["check", "--format", "sarif", good]);
    assert_eq!(out.status.code(), Some(0));
    assert!(json(&out)["runs"][0].get("invocations").is_none());
}

#[test]
fn short_and_github_formats() {
    let path = "corpus/seed/bad/nodeport-out-of-range.yaml";
    let out = svcc(&["check", "--format", "short", path]);
    assert_eq!(
        text(&out),
        format!(
            "{path}:8:5: warning[selector-matches-nothing]: selector `app=myapp` selects no workload in namespace `default`\n\
             {path}:12:17: error[nodeport-out-of-range]: nodePort 40000 is outside the NodePort range 30000-32767\n"
        )
    );
    let out = svcc(&["lint", "--format", "github", path]);
    let t = text(&out);
    assert!(t.contains(&format!("::error file={path},line=12,col=17,endLine=12,endColumn=22,title=nodeport-out-of-range::nodePort 40000")), "{t}");
    assert!(
        t.starts_with(&format!("::warning file={path},line=8,col=5,")),
        "{t}"
    );
}

#[test]
fn sarif_is_valid_json_with_results() {
    let out = svcc(&["check", "--format", "sarif", "corpus/seed/bad"]);
    let v = json(&out);
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert!(results
        .iter()
        .any(|r| r["ruleId"] == "nodeport-out-of-range"));
}

#[test]
fn stdin_is_read_with_dash() {
    let input =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 70000\n";
    let out = svcc_stdin(&["check", "--format", "short", "-"], input);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("<stdin>:7:11: error[port-out-of-range]"),
        "{}",
        text(&out)
    );
}

#[test]
fn strict_decoding_catches_types_duplicates_and_unknown_fields() {
    let input = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  name: t\nspec:\n  ports:\n  - port: \"80\"\n    protocl: TCP\n";
    let out = svcc_stdin(&["check", "--format", "short", "-"], input);
    let t = text(&out);
    assert!(
        t.contains("<stdin>:5:3: warning[yaml-duplicate-key]: duplicate key `name`: the last value is used"),
        "{t}"
    );
    assert!(t.contains("<stdin>:8:11: error[wrong-type]: `spec.ports[0].port` must be an integer, not a string"), "{t}");
    assert!(
        t.contains("<stdin>:9:5: error[unknown-field]: unknown field `spec.ports[0].protocl`"),
        "{t}"
    );
}

#[test]
fn kubectl_style_inputs_decode() {
    // Timestamps stay strings, quoted numbers are strings, `kind: List` items are objects.
    let input = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    creationTimestamp: 2018-07-20T08:00:00Z
  spec:
    selector: {app: web}
    ports:
    - name: http
      port: 80
      targetPort: "http"
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
  data: {k: v}
"#;
    let out = svcc_stdin(&["check", "--format", "json", "-"], input);
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["summary"]["objects"], 2);
}

#[test]
fn missing_type_meta_is_a_diagnostic() {
    let out = svcc_stdin(
        &["check", "--format", "short", "-"],
        "metadata:\n  name: x\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).starts_with("<stdin>:1:1: error[missing-type-meta]"),
        "{}",
        text(&out)
    );
}

#[test]
fn io_failure_exits_2() {
    let out = svcc(&["check", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist.yaml"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        svcc(&["check", "--format", "xml", "corpus/seed/good"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        svcc(&["--node-port-range", "9-1", "check", "corpus/seed/good"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        svcc(&["--kubernetes-version", "1.20", "check", "corpus/seed/good"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        svcc(&[
            "--service-cidr",
            "10.96.0.1/12",
            "check",
            "corpus/seed/good"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn profile_flags_change_allocation_checks() {
    let path = "corpus/seed/bad/nodeport-out-of-range.yaml";
    assert_eq!(
        svcc(&["--node-port-range", "30000-40000", "check", path])
            .status
            .code(),
        Some(0)
    );
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.0.0.10\n  ports: [{port: 80}]\n";
    // Without a declared profile, svcc does not know the cluster's service CIDRs: a warning
    // that says what it assumed and how to declare them.
    let out = svcc_stdin(&["check", "--format", "json", "-"], input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "cluster-ip-out-of-range")
        .expect("the clusterIP finding");
    assert_eq!(d["severity"], "warning");
    assert!(
        d["help"]
            .as_str()
            .unwrap()
            .contains("svcc assumed the service CIDRs 10.96.0.0/12"),
        "{d}"
    );
    // Declared, it is what the API server does: an error.
    let out = svcc_stdin(
        &[
            "--service-cidr",
            "10.96.0.0/12",
            "check",
            "--format",
            "short",
            "-",
        ],
        input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("error[cluster-ip-out-of-range]: clusterIP `10.0.0.10` is outside the service CIDR 10.96.0.0/12"), "{}", text(&out));
    let out = svcc_stdin(&["--service-cidr", "10.0.0.0/16", "check", "-"], input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dual = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n  ports: [{port: 80}]\n";
    let out = svcc_stdin(&["check", "--format", "short", "-"], dual);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("warning[ip-family-not-configured]"),
        "{}",
        text(&out)
    );
    assert_eq!(
        svcc_stdin(&["--service-cidr", "10.96.0.0/12", "check", "-"], dual)
            .status
            .code(),
        Some(1)
    );
    let out = svcc_stdin(
        &[
            "--service-cidr",
            "10.96.0.0/12,fd00:10:96::/112",
            "check",
            "-",
        ],
        dual,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn config_file_sets_the_profile_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("svcc.toml");
    std::fs::write(&cfg, "[cluster]\nnode-port-range = \"30000-40000\"\n").unwrap();
    let path = "corpus/seed/bad/nodeport-out-of-range.yaml";
    let c = cfg.to_str().unwrap();
    assert_eq!(svcc(&["--config", c, "check", path]).status.code(), Some(0));
    assert_eq!(
        svcc(&[
            "--config",
            c,
            "--node-port-range",
            "30000-32767",
            "check",
            path
        ])
        .status
        .code(),
        Some(1)
    );
    std::fs::write(&cfg, "[cluster]\nnode-port-rang = \"30000-40000\"\n").unwrap();
    let out = svcc(&["--config", c, "check", path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("svcc.toml:2:1"), "{err}");
}

#[test]
fn rules_explain_and_completions() {
    let out = svcc(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("nodeport-out-of-range"));
    let out = svcc(&["rules", "--format", "json"]);
    assert!(json(&out).as_array().is_some_and(|a| a.len() > 40));
    let out = svcc(&["explain", "nodeport-out-of-range"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("## Failing example"));
    let out = svcc(&["explain", "nodeport-out-of-rang"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `nodeport-out-of-range`"));
    for shell in ["bash", "zsh", "fish"] {
        let out = svcc(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out).contains("svcc"));
    }
}

#[test]
fn colour_only_when_asked() {
    let path = "corpus/seed/bad/nodeport-out-of-range.yaml";
    let plain = text(&svcc(&["check", path]));
    assert!(
        !plain.contains('\u{1b}'),
        "piped output must not be coloured"
    );
    let forced = text(&svcc(&["--color", "always", "check", path]));
    assert!(forced.contains('\u{1b}'));
    let out = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(["--color", "auto", "check", path])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!text(&out).contains('\u{1b}'));
}

#[test]
fn warnings_alone_exit_0_unless_denied() {
    let input = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  externalName: x.example.com\n  ports: [{port: 80}]\n";
    let out = svcc_stdin(&["check", "--format", "short", "-"], input);
    assert!(
        text(&out).contains("warning[ignored-field]"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        svcc_stdin(&["check", "--deny-warnings", "-"], input)
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn directories_skip_hidden_and_non_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 0}]\n";
    std::fs::create_dir(dir.path().join(".hidden")).unwrap();
    std::fs::write(dir.path().join(".hidden/x.yaml"), bad).unwrap();
    std::fs::write(dir.path().join("notes.txt"), bad).unwrap();
    std::fs::write(
        dir.path().join("ok.yml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ok.json"),
        "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"n\"}}",
    )
    .unwrap();
    let out = svcc(&["check", "--format", "json", dir.path().to_str().unwrap()]);
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["summary"]["files"], 2);
    // A file named explicitly is read whatever its extension.
    let notes = dir.path().join("notes.txt");
    assert_eq!(
        svcc(&["check", notes.to_str().unwrap()]).status.code(),
        Some(1)
    );
}

// See: issue #13 (a binary `.yaml` dumped NUL bytes and escape sequences to the terminal).
#[test]
fn control_characters_from_the_input_are_never_written_raw() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files: [(&str, &[u8]); 3] = [
        // Raw controls in a plain scalar, then invalid UTF-8 next to a NUL.
        (
            "raw.yaml",
            b"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\x00b\x1b[31mred\n",
        ),
        (
            "binary.yaml",
            b"apiVersion: v1\nkind: Serv\xff\xfe\x1b]0;title\x07ice\x00\x01\x9b\n",
        ),
        // Controls that YAML escapes put into a value, which messages quote.
        (
            "escaped.yaml",
            b"apiVersion: v1\nkind: Service\nmetadata:\n  name: \"a\\e[31mred\\0x\\x9b\"\nspec:\n  ports: [{port: 80}]\n",
        ),
    ];
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write input");
        let path = path.to_str().expect("UTF-8 temp path");
        for format in ["human", "short", "github", "json", "sarif"] {
            let out = svcc(&["check", "--color", "never", "--format", format, path]);
            assert_eq!(out.status.code(), Some(1), "{name} {format}");
            for stream in [&out.stdout, &out.stderr] {
                let bad = stream
                    .iter()
                    .find(|b| (**b < 0x20 && !b"\n\t".contains(b)) || **b == 0x7f);
                assert!(
                    bad.is_none(),
                    "{name} {format}: raw byte {bad:?} in\n{}",
                    String::from_utf8_lossy(stream)
                );
                let text = String::from_utf8(stream.clone()).expect("valid UTF-8 output");
                // JSON escapes C0 controls only; a C1 control is a valid JSON character.
                if !["json", "sarif"].contains(&format) {
                    assert!(!text.contains('\u{9b}'), "{name} {format}: C1 control");
                }
            }
        }
        let human = text(&svcc(&["check", "--color", "never", path]));
        assert!(
            human.contains('\u{2400}') || human.contains('\u{241b}'),
            "{human}"
        );
    }
}

// See: issue #13 (compiling manifests from Git gave a ruleset in which every Service rejects,
// without a word).
#[test]
fn compiling_an_input_without_endpoints_says_so_once() {
    let git = [
        "corpus/seed/good/deploy.yaml",
        "corpus/seed/good/svc-clusterip.yaml",
        "corpus/seed/good/svc-nodeport.yaml",
        "corpus/seed/good/svc-headless.yaml",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["compile", "--target", "nft", "--format", "short"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&git);
        svcc(&args)
    };
    let out = run(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning: the ruleset is still written"
    );
    assert!(text(&out).contains("add table ip svcc"), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hits: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no-endpoints-in-input"))
        .collect();
    assert_eq!(hits.len(), 1, "{stderr}");
    assert_eq!(
        hits[0],
        "corpus/seed/good/svc-clusterip.yaml:5:9: warning[no-endpoints-in-input]: the input has no \
         endpoints (no EndpointSlice, Endpoints or Pod with a `podIP`): 3 Services get no backends"
    );
    // The help says how to give endpoints.
    let out = svcc(&[
        "compile", "--target", "nft", "--format", "json", git[0], git[1],
    ]);
    let errs: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr");
    let d = errs["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "no-endpoints-in-input")
        .expect("the finding");
    assert_eq!(d["path"], "metadata.name");
    let help = d["help"].as_str().unwrap();
    assert!(
        help.contains("kubectl get endpointslices -A -o yaml"),
        "{help}"
    );
    assert!(
        help.contains("kubectl get svc,endpointslices -A -o yaml | svcc compile"),
        "{help}"
    );
    // `-q` keeps only errors.
    let out = run(&["-q"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With an endpoint source in the input, nothing is said, even for the Services it leaves
    // without endpoints.
    let with_endpoints = [
        git[0],
        git[1],
        git[2],
        "corpus/seed/good/svc-ep.yaml",
        "corpus/seed/good/ep-myapp.yaml",
    ];
    let mut args = vec!["compile", "--target", "nft", "--format", "short"];
    args.extend_from_slice(&with_endpoints);
    let out = svcc(&args);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("no-endpoints-in-input"), "{stderr}");
}

// See: issue #14 (allocation notes were settled outside the check engine: suppressions and
// `-l` did not apply to them, and the suppression was reported as unused).
#[test]
fn lowering_notes_go_through_suppressions_and_selection() {
    let service = |name: &str, team: &str, annotations: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels: {{team: {team}}}\n{annotations}spec:\n  \
             selector: {{app: {name}}}\n  ports: [{{port: 80}}]\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}, team: {team}}}\nspec:\n  \
             containers: [{{name: c, image: i}}]\nstatus: {{podIP: 10.0.0.9}}\n---\n"
        )
    };
    let notes = |out: &Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("[allocated-cluster-ip]") || l.contains("[unused-suppression]"))
            .map(|l| l.split(": ").nth(1).unwrap_or("").to_owned())
            .collect()
    };
    let compile = |args: &[&str], input: &str| {
        let mut all = vec!["compile", "--target", "plan", "--format", "short"];
        all.extend_from_slice(args);
        all.push("-");
        let out = svcc_stdin(&all, input);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    // Without suppressions, each Service's clusterIP allocation is noted.
    let plain = format!("{}{}", service("a", "web", ""), service("b", "ops", ""));
    assert_eq!(
        notes(&compile(&[], &plain)),
        ["info[allocated-cluster-ip]", "info[allocated-cluster-ip]"]
    );
    // An annotation silences its object's note, and is used.
    let annotated = format!(
        "{}{}",
        service(
            "a",
            "web",
            "  annotations: {svcc.dev/ignore: allocated-cluster-ip}\n"
        ),
        service("b", "ops", "")
    );
    let out = compile(&[], &annotated);
    assert_eq!(notes(&out), ["info[allocated-cluster-ip]"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`default/b` gets clusterIP"));
    // A file header silences them all.
    let header = format!("# svcc:ignore allocated-cluster-ip\n{plain}");
    assert!(notes(&compile(&[], &header)).is_empty());
    // `-l` leaves out the notes of unselected objects.
    let out = compile(&["-l", "team=ops"], &plain);
    assert_eq!(notes(&out), ["info[allocated-cluster-ip]"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`default/b` gets clusterIP"));
}

/// `--node-ip` (and `[node] ip` of svcc.toml, which the flag overrides), `--masquerade-bit`
/// and `--localhost-nodeports`: checked once for compile, apply and trace, refused where a
/// target would ignore them. Without node IPs the default taken is said on stderr (#15).
#[test]
fn node_ip_and_proxy_flags() {
    let file = "corpus/compile/nodeport.yaml";
    let compile = |extra: &[&str]| {
        let mut args = vec!["compile", "--target", "nft", file];
        args.extend_from_slice(extra);
        svcc(&args)
    };
    for (extra, needle) in [
        (
            &["--node-ip", "192.168.0.2,192.168.0.3"][..],
            "at most one address per family",
        ),
        (&["--node-ip", "127.0.0.1"], "is loopback"),
        (&["--node-ip", "192.168.000.2"], "leading zeros"),
        (&["--masquerade-bit", "32"], "32"),
        (
            &["--localhost-nodeports"],
            "applies only to the iptables target",
        ),
    ] {
        let out = compile(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty(), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let out = svcc(&[
        "compile",
        "--target",
        "plan",
        file,
        "--node-ip",
        "192.168.0.2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node-ip applies only to"));

    // Without node IPs: every local address, said in the ruleset and on stderr.
    let out = compile(&[]);
    assert_eq!(out.status.code(), Some(0));
    let note = "NodePorts on every local address but loopback: node addresses unknown";
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("note: {note}")));
    assert!(text(&out).contains(&format!("# assumed: {note}")));
    // With them: the node IPs, and nothing assumed.
    let out = compile(&["--node-ip", "192.168.0.2", "--masquerade-bit", "15"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("note:"));
    let ruleset = text(&out);
    assert!(
        ruleset.contains("add element ip svcc nodeport-ips { 192.168.0.2/32 }"),
        "{ruleset}"
    );
    assert!(ruleset.contains("mark set mark or 0x8000"), "{ruleset}");
    assert!(!ruleset.contains("# assumed"), "{ruleset}");

    // svcc.toml's [node] ip, and the flag winning over it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("svcc.toml");
    std::fs::write(&cfg, "[node]\nip = [\"192.168.7.7\"]\n").unwrap();
    let c = cfg.to_str().unwrap();
    let out = svcc(&["--config", c, "compile", "--target", "nft", file]);
    assert!(
        text(&out).contains("nodeport-ips { 192.168.7.7/32 }"),
        "{}",
        text(&out)
    );
    let out = svcc(&[
        "--config",
        c,
        "compile",
        "--target",
        "nft",
        file,
        "--node-ip",
        "10.1.1.1",
    ]);
    assert!(
        text(&out).contains("nodeport-ips { 10.1.1.1/32 }"),
        "{}",
        text(&out)
    );
    std::fs::write(&cfg, "[node]\nip = [\"::1\"]\n").unwrap();
    let out = svcc(&["--config", c, "compile", "--target", "nft", file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("svcc.toml"));

    // trace: the same flags; NodePorts where the target answers them.
    let trace = |extra: &[&str]| {
        let mut args = vec!["trace", "--format", "json", file, "--from", "203.0.113.9"];
        args.extend_from_slice(extra);
        json(&svcc(&args))["verdict"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let secondary = ["--to", "192.168.1.2:30080/tcp", "--node-ip", "192.168.0.2"];
    assert_eq!(
        trace(&secondary),
        "none",
        "nft: NodePorts on the node IP only"
    );
    let wider = [&secondary[..], &["--nodeport-addresses", "192.168.0.0/16"]].concat();
    assert_eq!(trace(&wider), "dnat");
    let iptables = [&secondary[..], &["--target", "iptables"]].concat();
    assert_eq!(trace(&iptables), "dnat", "iptables: every local address");
    let localhost = ["--to", "127.0.0.1:30080/tcp", "--target", "iptables"];
    assert_eq!(trace(&localhost), "none");
    let localhost = [&localhost[..], &["--localhost-nodeports"]].concat();
    assert_eq!(trace(&localhost), "dnat");
}

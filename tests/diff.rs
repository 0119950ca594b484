//! `svcc diff`: semantic changes of the dataplane and DNS over a sequence of edits to one
//! cluster, with the exit code CI relies on. `--git` is tested against a repository made with
//! `git` (required; see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::Need;

const BASE: &str = r#"apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  clusterIP: 10.96.0.80
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.244.0.5]
- addresses: [10.244.0.6]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.0.81
  ports: [{port: 443}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: api, namespace: shop}
subsets: [{addresses: [{ip: 10.128.0.9}], ports: [{port: 443}]}]
"#;

fn svcc_diff(dir: &Path, old: &str, new: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("old.yaml"), old).unwrap();
    std::fs::write(dir.join("new.yaml"), new).unwrap();
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .arg("diff")
        .args(extra)
        .arg(dir.join("old.yaml"))
        .arg(dir.join("new.yaml"))
        .output()
        .expect("run svcc")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_sequence_of_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let same = svcc_diff(d, BASE, BASE, &[]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert_eq!(text(&same), "no change to the dataplane or DNS\n");

    // Port renamed: the old name disappears (and its SRV record).
    let renamed = BASE.replace("{name: http, port: 80", "{name: web, port: 80");
    let o = svcc_diff(d, BASE, &renamed, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("~ Service shop/web"), "{t}");
    assert!(
        t.contains("- port http: 80/tcp  (removes reachability)"),
        "{t}"
    );
    assert!(t.contains("+ port web: 80/tcp"), "{t}");
    assert!(
        t.contains("- DNS _http._tcp.web.shop.svc.cluster.local."),
        "{t}"
    );

    // Service deleted.
    let deleted = BASE
        .split("---\napiVersion: v1\nkind: Service\nmetadata: {name: api")
        .next()
        .unwrap()
        .to_owned();
    let o = svcc_diff(d, BASE, &deleted, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("- Service shop/api"), "{}", text(&o));
    assert!(text(&o).contains("- DNS api.shop.svc.cluster.local."));

    // Endpoints scaled to zero.
    let zero = BASE.replace(
        "endpoints:\n- addresses: [10.244.0.5]\n- addresses: [10.244.0.6]\n",
        "endpoints: []\n",
    );
    let o = svcc_diff(d, BASE, &zero, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("~ endpoints of port http: 2 endpoints → none  (removes reachability)"),
        "{}",
        text(&o)
    );

    // NodePort moved.
    let moved = BASE.replace("nodePort: 30080", "nodePort: 30081");
    let o = svcc_diff(d, BASE, &moved, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("~ nodePort of port http: 30080 → 30081  (removes reachability)"),
        "{}",
        text(&o)
    );
    assert_eq!(
        svcc_diff(d, BASE, &moved, &["--allow-removals"])
            .status
            .code(),
        Some(0)
    );

    // An endpoint gained: reported, nothing removed.
    let scaled = BASE.replace(
        "- addresses: [10.244.0.6]\n",
        "- addresses: [10.244.0.6]\n- addresses: [10.244.0.7]\n",
    );
    let o = svcc_diff(d, BASE, &scaled, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("+ endpoint of port http: 10.244.0.7:8080"),
        "{}",
        text(&o)
    );

    // Markdown for a pull-request comment, JSON for tools.
    let o = svcc_diff(d, BASE, &moved, &["--format", "markdown"]);
    let t = text(&o);
    assert!(
        t.contains("| `shop/web` | changed | **nodePort of port http** | 30080 | 30081 |"),
        "{t}"
    );
    let o = svcc_diff(d, BASE, &renamed, &["--format", "markdown"]);
    insta::with_settings!({snapshot_path => "../snapshots/diff", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("port_renamed.markdown", String::from_utf8_lossy(&o.stdout));
        insta::assert_snapshot!("endpoints_to_zero.human", String::from_utf8_lossy(&svcc_diff(d, BASE, &zero, &[]).stdout));
    });
    let o = svcc_diff(d, BASE, &moved, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["removes_reachability"], true);
    assert_eq!(
        v["services"][0]["details"][0]["what"],
        "nodePort of port http"
    );
}

// See: issue #14 (exit codes follow the README: 1 is "errors found").
#[test]
fn errors_in_one_side_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let broken = BASE.replace("port: 80,", "port: 0,");
    let o = svcc_diff(dir.path(), BASE, &broken, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("NEW has 1 errors"), "{}", text(&o));
}

#[test]
fn git_revisions() {
    let Ok(()) = support::require(&["git"], Need::Tools) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(["-c", "user.email=t@example.invalid", "-c", "user.name=t"])
            .args(args)
            .current_dir(d)
            .output()
            .expect("git");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    std::fs::create_dir(d.join("k8s")).unwrap();
    std::fs::write(d.join("k8s/app.yaml"), BASE).unwrap();
    std::fs::write(d.join("README.md"), "not a manifest").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    std::fs::write(
        d.join("k8s/app.yaml"),
        BASE.replace("nodePort: 30080", "nodePort: 30081"),
    )
    .unwrap();
    git(&["commit", "-qam", "move"]);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .arg("diff")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = run(&["--git", "HEAD~1..HEAD", "k8s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("30080 → 30081"), "{}", text(&o));
    // A single revision compares with the working tree.
    std::fs::write(d.join("k8s/app.yaml"), BASE).unwrap();
    let o = run(&["--git", "HEAD"]);
    assert!(text(&o).contains("30081 → 30080"), "{}", text(&o));
    assert_eq!(run(&["--git", "no-such-rev"]).status.code(), Some(2));
}

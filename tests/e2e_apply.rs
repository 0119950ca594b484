//! `svcc apply` against the real `nft` in network namespaces made by the test: a sequence of
//! changes applied incrementally (each a delta transaction) leaves exactly the tables a whole
//! load of the same input leaves, traffic goes where the input says after each step, an
//! affinity entry survives an unrelated change, a live table that is not the one the state
//! describes is loaded whole, and a refused transaction leaves the previous tables in place.
//!
//! Tables are compared as `nft -j list table` output with handles removed, objects sorted and
//! each chain's rules in order; the elements of sets with a timeout (affinity entries learnt from
//! traffic) are left out of the comparison and checked on their own.
//!
//! They need root, `ip`, `nft` and python3; without them they fail unless `SVCC_ALLOW_SKIP=1`
//! (see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::netns::{
    pod_ip, run_bounded, run_ok, Netns, Topology, CLIENT_IP, CLUSTER_CIDR, CLUSTER_CIDR6,
    COMMAND_LIMIT, NODE_IP, SERVICE_CIDR, SERVICE_CIDR6,
};
use support::oracle::Target;
use support::scenarios::{eps, eps6, manifest, svcc_binary, topology, NODE_NAME};
use support::traffic::Probe;

/// One Service of the test cluster, with its endpoints (pod number, node name).
#[derive(Clone)]
struct Svc {
    name: &'static str,
    /// Last octet of the clusterIP in 10.96.0.0/24.
    ip: u8,
    /// (port, targetPort on the pods).
    ports: Vec<(u16, u16)>,
    pods: Vec<(usize, &'static str)>,
    affinity: Option<u32>,
    node_port: Option<u16>,
    internal_local: bool,
}

impl Svc {
    fn new(name: &'static str, ip: u8, pods: &[usize]) -> Svc {
        Svc {
            name,
            ip,
            ports: vec![(80, 8080)],
            pods: pods.iter().map(|&p| (p, NODE_NAME)).collect(),
            affinity: None,
            node_port: None,
            internal_local: false,
        }
    }

    fn yaml(&self, out: &mut String) {
        let kind = if self.node_port.is_some() {
            "NodePort"
        } else {
            "ClusterIP"
        };
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {}}}\nspec:\n  type: {kind}\n  clusterIP: 10.96.0.{}\n",
            self.name, self.ip
        );
        if let Some(timeout) = self.affinity {
            let _ = write!(
                out,
                "  sessionAffinity: ClientIP\n  sessionAffinityConfig: {{clientIP: {{timeoutSeconds: {timeout}}}}}\n"
            );
        }
        if self.internal_local {
            out.push_str("  internalTrafficPolicy: Local\n");
        }
        out.push_str("  ports:\n");
        for (i, (port, target)) in self.ports.iter().enumerate() {
            let _ = write!(
                out,
                "    - {{name: p{i}, port: {port}, targetPort: {target}"
            );
            if let (Some(node_port), 0) = (self.node_port, i) {
                let _ = write!(out, ", nodePort: {node_port}");
            }
            out.push_str("}\n");
        }
        let _ = write!(
            out,
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {0}-1\n  labels: {{kubernetes.io/service-name: {0}}}\naddressType: IPv4\nports:\n",
            self.name
        );
        for (i, (_, target)) in self.ports.iter().enumerate() {
            let _ = writeln!(out, "  - {{name: p{i}, port: {target}, protocol: TCP}}");
        }
        out.push_str("endpoints:\n");
        for (pod, node) in &self.pods {
            let _ = writeln!(
                out,
                "  - {{addresses: [\"{}\"], conditions: {{ready: true}}, nodeName: {node}}}",
                pod_ip(*pod)
            );
        }
    }
}

fn cluster_yaml(services: &[Svc]) -> String {
    let mut out = String::new();
    for s in services {
        s.yaml(&mut out);
    }
    out
}

/// The flags every apply of the crafted clusters takes: the node and the pod CIDR.
const NODE_FLAGS: [&str; 4] = ["--node", NODE_NAME, "--cluster-cidr", CLUSTER_CIDR];

/// `svcc apply FLAGS` of `input` with state in `state`, inside `ns`; whether it succeeded, and
/// its stderr.
fn apply_in(
    ns: &Netns,
    input: &Path,
    state: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut cmd = ns.exec(svcc_binary());
    cmd.arg("apply")
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .arg(input);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(&mut cmd, None, COMMAND_LIMIT).unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// svcc's tables in `ns` as comparable lines: every object without its handle, sorted, and
/// each chain's rules in their order; elements of sets with a timeout left out.
fn tables(ns: &Netns) -> Vec<String> {
    let mut objects = Vec::new();
    let mut rules = Vec::new();
    for family in ["ip", "ip6"] {
        let mut cmd = ns.exec("nft");
        cmd.args(["-j", "list", "table", family, "svcc"]);
        let out = run_bounded(&mut cmd, None, COMMAND_LIMIT).unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            continue; // The table does not exist (no Service of that family).
        }
        let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for item in listing["nftables"].as_array().unwrap() {
            let (kind, body) = item.as_object().unwrap().iter().next().unwrap();
            if kind == "metainfo" {
                continue;
            }
            let mut body = body.clone();
            let map = body.as_object_mut().unwrap();
            map.remove("handle");
            // Sets with a timeout learn their elements from traffic (nft lists `dynamic`
            // sets by their `timeout` flag).
            let learning = map
                .get("flags")
                .is_some_and(|f| f.to_string().contains("timeout"));
            if learning {
                map.remove("elem");
            } else if let Some(serde_json::Value::Array(elements)) = map.get_mut("elem") {
                elements.sort_by_key(|e| e.to_string());
            }
            let line = format!("{kind} {body}");
            if kind == "rule" {
                let chain = format!("{family} {}", body["chain"]);
                rules.push((chain, line));
            } else {
                objects.push(line);
            }
        }
    }
    objects.sort();
    rules.sort_by(|a, b| a.0.cmp(&b.0)); // stable: each chain's rules stay in order
    objects.extend(rules.into_iter().map(|(_, l)| l));
    objects
}

/// Elements of the dynamic `affinity-` sets of `ns` that hold `client`.
fn affinity_sets_holding(ns: &Netns, client: &str) -> Vec<String> {
    let out = run_ok(ns.exec("nft").args(["-j", "list", "sets", "ip"]), None);
    let listing: serde_json::Value = serde_json::from_str(&out).unwrap();
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item.get("set"))
        .filter(|set| {
            set["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("affinity-"))
                && set["elem"].to_string().contains(client)
        })
        .map(|set| set["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A node under test: its topology, an input file and a state directory.
struct Node {
    t: Topology,
    dir: tempfile::TempDir,
}

impl Node {
    fn input(&self) -> std::path::PathBuf {
        self.dir.path().join("cluster.yaml")
    }

    /// Writes the cluster, applies it on the node and checks that the node's tables equal a
    /// whole load of the same input in a fresh namespace. `how` is `delta` or `whole`.
    fn step(&self, what: &str, services: &[Svc], how: &str) -> String {
        self.step_with(what, &cluster_yaml(services), how, &[])
    }

    /// [`Node::step`] with the input's text and more flags for both applies.
    fn step_with(&self, what: &str, yaml: &str, how: &str, flags: &[&str]) -> String {
        std::fs::write(self.input(), yaml).unwrap();
        let flags = [&NODE_FLAGS[..], flags].concat();
        let state = self.dir.path().join("state");
        let (ok, stderr) = apply_in(&self.t.node, &self.input(), &state, &flags, &[]);
        assert!(ok, "{what}: apply failed:\n{stderr}");
        assert!(
            stderr.contains(&format!("applied ruleset ({how}")),
            "{what}: expected a {how} load:\n{stderr}"
        );
        if let Some(diff) = differs_from_whole_load(&self.t.node, &self.input(), &flags) {
            self.t.fail(&format!(
                "{what}: the tables differ from a whole load:\n{diff}"
            ));
        }
        stderr
    }
}

/// Loads `input` whole (`--force`) into a fresh namespace and compares `ns`'s tables with
/// what that leaves: `None` when they are the same, else the difference.
fn differs_from_whole_load(ns: &Netns, input: &Path, flags: &[&str]) -> Option<String> {
    let fresh = Netns::create("fresh").unwrap_or_else(|e| panic!("{e}"));
    let fresh_state = tempfile::tempdir().unwrap();
    let forced = [flags, &["--force"]].concat();
    let (ok, stderr) = apply_in(&fresh, input, fresh_state.path(), &forced, &[]);
    assert!(ok, "whole load in a fresh namespace failed:\n{stderr}");
    let (incremental, whole) = (tables(ns), tables(&fresh));
    (incremental != whole).then(|| {
        similar::TextDiff::from_lines(&whole.join("\n"), &incremental.join("\n"))
            .unified_diff()
            .header("whole load", "incremental")
            .to_string()
    })
}

fn node() -> Option<Node> {
    let t = topology(Target::Nft, 4)?;
    Some(Node {
        t,
        dir: tempfile::tempdir().unwrap(),
    })
}

#[test]
fn a_sequence_of_deltas_equals_whole_loads_and_traffic_follows() {
    let Some(node) = node() else {
        return;
    };
    let t = &node.t;
    let mut web = Svc::new("web", 50, &[1, 2]);
    let api = Svc::new("api", 51, &[3]);
    node.step("first apply", std::slice::from_ref(&web), "whole");
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );

    node.step("add a Service", &[web.clone(), api.clone()], "delta");
    t.ensure(
        Probe::tcp("10.96.0.51", 80, 10)
            .run(t)
            .reached_exactly(&eps(&[3], 8080)),
    );
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );

    web.pods.push((4, NODE_NAME));
    node.step("add an endpoint", &[web.clone(), api.clone()], "delta");
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 90)
            .run(t)
            .reached_exactly(&eps(&[1, 2, 4], 8080)),
    );

    web.ports.push((81, 5353));
    node.step("add a port", &[web.clone(), api.clone()], "delta");
    t.ensure(
        Probe::tcp("10.96.0.50", 81, 60)
            .run(t)
            .reached_exactly(&eps(&[1, 2, 4], 5353)),
    );

    let mut api_np = api.clone();
    api_np.node_port = Some(30051);
    node.step(
        "ClusterIP to NodePort",
        &[web.clone(), api_np.clone()],
        "delta",
    );
    t.ensure(
        Probe::tcp(NODE_IP, 30051, 10)
            .run(t)
            .reached_exactly(&eps(&[3], 8080)),
    );

    web.pods = vec![(1, NODE_NAME), (2, "node-b"), (4, "node-b")];
    web.internal_local = true;
    node.step(
        "internalTrafficPolicy Local",
        &[web.clone(), api_np.clone()],
        "delta",
    );
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 20)
            .run(t)
            .reached_exactly(&eps(&[1], 8080)),
    );

    web.internal_local = false;
    web.pods.retain(|(p, _)| *p != 4);
    node.step(
        "policy back to Cluster, an endpoint removed",
        &[web.clone(), api_np.clone()],
        "delta",
    );
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );

    node.step("remove a Service", &[web.clone()], "delta");
    let gone = Probe::tcp("10.96.0.51", 80, 3).timeout(std::time::Duration::from_millis(500));
    t.ensure(gone.run(t).none_answered());
}

#[test]
fn affinity_entries_survive_an_unrelated_delta() {
    let Some(node) = node() else {
        return;
    };
    let t = &node.t;
    let mut sticky = Svc::new("sticky", 60, &[1, 2, 3]);
    sticky.affinity = Some(600);
    let other = Svc::new("other", 61, &[4]);
    node.step("first apply", &[sticky.clone()], "whole");
    let first = Probe::tcp("10.96.0.60", 80, 20).source(CLIENT_IP).run(t);
    let endpoint = first.one_endpoint().unwrap_or_else(|e| t.fail(&e));
    let learnt = affinity_sets_holding(&t.node, &CLIENT_IP.to_string());
    assert_eq!(
        learnt.len(),
        1,
        "one endpoint's affinity set holds the client: {learnt:?}"
    );

    node.step(
        "an unrelated Service added",
        &[sticky.clone(), other.clone()],
        "delta",
    );
    assert_eq!(
        affinity_sets_holding(&t.node, &CLIENT_IP.to_string()),
        learnt,
        "the affinity entry survives the delta"
    );
    let again = Probe::tcp("10.96.0.60", 80, 20).source(CLIENT_IP).run(t);
    t.ensure(again.reached_exactly(std::slice::from_ref(&endpoint)));

    // Another timeout declares the sets again: the delta still equals a whole load.
    sticky.affinity = Some(60);
    node.step(
        "affinity timeout changed",
        &[sticky.clone(), other.clone()],
        "delta",
    );
    sticky.affinity = None;
    node.step("affinity removed", &[sticky, other], "delta");
}

#[test]
fn a_table_that_is_not_as_last_applied_is_loaded_whole() {
    let Some(node) = node() else {
        return;
    };
    let t = &node.t;
    let web = Svc::new("web", 50, &[1, 2]);
    node.step("first apply", std::slice::from_ref(&web), "whole");
    // Someone else replaces the table (here: svcc's own output, loaded by hand without apply).
    let mut compile = Command::new(svcc_binary());
    compile
        .args(["compile", "-q", "--target", "nft", "--node", NODE_NAME])
        .args(["--cluster-cidr", CLUSTER_CIDR])
        .arg(node.input());
    let by_hand = run_ok(&mut compile, None);
    t.apply(&by_hand.replace("10.244.0.12", "10.244.0.13"));
    let stderr = node.step(
        "change after a hand-made load",
        &[web.clone(), Svc::new("api", 51, &[3])],
        "whole",
    );
    assert!(stderr.contains("the delta was refused"), "{stderr}");
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
    // From there on, deltas again.
    node.step("next change", &[web], "delta");
}

#[test]
fn a_refused_transaction_leaves_the_previous_tables() {
    let Some(node) = node() else {
        return;
    };
    let t = &node.t;
    let web = Svc::new("web", 50, &[1, 2]);
    node.step("first apply", std::slice::from_ref(&web), "whole");
    let before = tables(&t.node);
    // An nft that adds one impossible command to whatever it is given, when asked to.
    let real = support::find_on_path("nft").unwrap_or_else(|| t.fail("no nft on PATH"));
    let bin = node.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let wrapper = bin.join("nft");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ -n \"$BREAK\" ]; then {{ cat; echo 'add rule ip svcc no-such-chain accept'; }} | {real} \"$@\"; exit $?; fi\nexec {real} \"$@\"\n",
            real = real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let changed = [web.clone(), Svc::new("api", 51, &[3])];
    std::fs::write(node.input(), cluster_yaml(&changed)).unwrap();
    let state = node.dir.path().join("state");
    let (ok, stderr) = apply_in(
        &t.node,
        &node.input(),
        &state,
        &NODE_FLAGS,
        &[("PATH", &path), ("BREAK", "1")],
    );
    assert!(!ok, "the broken transaction was refused:\n{stderr}");
    assert!(
        stderr.contains("no-such-chain") || stderr.contains("No such file"),
        "{stderr}"
    );
    assert_eq!(tables(&t.node), before, "the previous tables stay");
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
    // The state still describes the live tables: the next apply is a delta.
    let (ok, stderr) = apply_in(
        &t.node,
        &node.input(),
        &state,
        &NODE_FLAGS,
        &[("PATH", &path)],
    );
    assert!(ok && stderr.contains("ruleset (delta"), "{stderr}");
    t.ensure(
        Probe::tcp("10.96.0.51", 80, 10)
            .run(t)
            .reached_exactly(&eps(&[3], 8080)),
    );
}

#[test]
fn dual_stack_deltas_and_a_family_that_comes_and_goes() {
    let Some(node) = node() else {
        return;
    };
    let t = &node.t;
    let cidrs = format!("{SERVICE_CIDR},{SERVICE_CIDR6}");
    let flags = ["--service-cidr", &cidrs, "--cluster-cidr", CLUSTER_CIDR6];
    let dual = std::fs::read_to_string(manifest("dual-stack.yaml")).unwrap();
    node.step_with("first apply, both families", &dual, "whole", &flags);
    t.ensure(
        Probe::tcp("fd00:10:96::150", 80, 40)
            .run(t)
            .reached_exactly(&eps6(&[1, 2], 8080)),
    );

    // One IPv6 endpoint less: a delta of the ip6 table (and the generation of both).
    let fewer = dual.replace(
        "  - addresses: [\"fd00:10:244::12\"]\n    conditions: {ready: true}\n    nodeName: node-a\n",
        "",
    );
    assert_ne!(fewer, dual);
    node.step_with("an IPv6 endpoint removed", &fewer, "delta", &flags);
    t.ensure(
        Probe::tcp("fd00:10:96::150", 80, 20)
            .run(t)
            .reached_exactly(&eps6(&[1], 8080)),
    );
    t.ensure(
        Probe::tcp("10.96.0.150", 80, 40)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );

    // An IPv4 Service only: the ip6 table stays (the service CIDRs are dual), emptied by a delta.
    let v4_only = format!("{}\n", cluster_yaml(&[Svc::new("web", 50, &[1, 2])]));
    node.step_with("IPv4 Services only", &v4_only, "delta", &flags);
    // No IPv6 service CIDR either: the ip6 table goes, which a delta does not do; then back.
    let v4_flags = ["--service-cidr", SERVICE_CIDR];
    node.step_with("IPv6 gone", &v4_only, "whole", &v4_flags);
    t.ensure(
        Probe::tcp("10.96.0.50", 80, 20)
            .run(t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
    node.step_with("IPv6 back", &fewer, "whole", &flags);
    t.ensure(
        Probe::tcp("fd00:10:96::150", 80, 20)
            .run(t)
            .reached_exactly(&eps6(&[1], 8080)),
    );
}

/// kube-proxy's own test clusters (`corpus/kube-proxy/`, transcribed from its proxier tests),
/// applied one after another on one node with the presets of those tests: every change is a
/// delta (or no change at all) and leaves exactly the tables a whole load of that cluster
/// leaves. Clusters nobody wrote for svcc's deltas, with NodePorts, LoadBalancers, traffic
/// policies, terminating endpoints and both families.
#[test]
fn kube_proxy_test_clusters_in_sequence_equal_whole_loads() {
    if support::netns::host().is_none() {
        return;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/kube-proxy");
    let mut clusters: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    clusters.sort();
    assert!(clusters.len() >= 30, "{clusters:?}");
    let flags = [
        "--node",
        "test-node",
        "--node-port-range",
        "3000-32767",
        "--service-cidr",
        "172.30.0.0/16,fd00:172:30::/112",
        "--cluster-cidr",
        "10.0.0.0/8,fd00:10::/64",
        "--node-ip",
        "192.168.0.2,2001:db8::1",
    ];
    let node = Netns::create("sequence").unwrap_or_else(|e| panic!("{e}"));
    let state = tempfile::tempdir().unwrap();
    let mut deltas = 0;
    for (i, cluster) in clusters.iter().enumerate() {
        let name = cluster.file_name().unwrap().to_string_lossy();
        let (ok, stderr) = apply_in(&node, cluster, state.path(), &flags, &[]);
        assert!(ok, "{name}: apply failed:\n{stderr}");
        let expected = if i == 0 {
            "applied ruleset (whole)"
        } else if stderr.contains("no change") {
            "no change"
        } else {
            deltas += 1;
            "applied ruleset (delta of "
        };
        assert!(
            stderr.contains(expected),
            "{name}: expected `{expected}`:\n{stderr}"
        );
        if let Some(diff) = differs_from_whole_load(&node, cluster, &flags) {
            panic!("{name}: the tables differ from a whole load:\n{diff}");
        }
    }
    assert!(deltas >= clusters.len() / 2, "{deltas} deltas");
}

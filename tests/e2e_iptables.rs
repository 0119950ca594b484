//! End-to-end traffic tests for the iptables target: the scenarios of `e2e_nft.rs`, taking the
//! target as a parameter (`support/scenarios.rs`: same manifests under `corpus/e2e/`, same
//! topology and probes), with the node programmed by `svcc compile --target iptables |
//! iptables-restore --noflush` (and `ip6tables-restore` for IPv6), or by
//! `svcc apply --target iptables` for the re-apply scenario; `kube_proxy::*` sends kube-proxy's
//! own packet-flow cases (`corpus/kube-proxy/`).
//!
//! They need root, `ip`, `nft` (the harness probes namespaces with it), `iptables`,
//! `iptables-restore`, `iptables-save` and python3. Without them a test fails, saying what to
//! install, unless `SVCC_ALLOW_SKIP=1` (then it is skipped and counted; see
//! `support/require.rs`).
//!
//! Where kube-proxy's modes differ the scenarios say so: iptables mode does not reject unknown
//! ports of a clusterIP (nft mode does), and its NodePorts answer on every local address
//! whatever `--node-ip` says.

#[allow(dead_code)]
mod support;

use std::time::Duration;
use support::netns::{run_ok, Topology, CLUSTER_CIDR};
use support::oracle::Target;
use support::scenarios::{compile, eps, manifest, topology, NODE_NAME};
use support::traffic::Probe;

crate::e2e_scenarios!(Target::Iptables);

/// `iptables-save` in the node.
fn save(t: &Topology) -> String {
    run_ok(&mut t.node.exec("iptables-save"), None)
}

/// `svcc apply --target iptables` twice with different inputs moves traffic,
/// removes the chains of the Service and endpoint that went away, and never duplicates a jump.
#[test]
fn ipt_reapplying_moves_traffic_and_removes_stale_chains() {
    let Some(t) = topology(Target::Iptables, 3) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let apply = |manifest_name: &str| {
        run_ok(
            t.node
                .exec(env!("CARGO_BIN_EXE_svcc"))
                .args(["apply", "--target", "iptables", "--node", NODE_NAME])
                .args(["--cluster-cidr", CLUSTER_CIDR, "--state-dir"])
                .arg(state.path())
                .arg(manifest(manifest_name)),
            None,
        )
    };
    let jumps = |t: &Topology| {
        save(t)
            .lines()
            .filter(|l| {
                ["PREROUTING", "OUTPUT", "POSTROUTING", "INPUT", "FORWARD"]
                    .iter()
                    .any(|c| l.starts_with(&format!("-A {c} ")))
                    && l.contains("-j SVCC-")
            })
            .count()
    };
    apply("reapply-v1.yaml");
    for service in ["10.96.0.100", "10.96.0.101"] {
        let tally = Probe::tcp(service, 80, 20).run(&t);
        t.ensure(tally.reached_exactly(&eps(&[1], 8080)));
    }
    let jump_count = jumps(&t);
    assert_eq!(jump_count, svcc::emit::iptables::jumps("SVCC").len());

    apply("reapply-v2.yaml");
    apply("reapply-v2.yaml");
    let after = save(&t);
    for stale in ["10.244.0.11", "10.96.0.101"] {
        if after.contains(stale) {
            t.fail(&format!(
                "`{stale}` is still in the rules after the second apply"
            ));
        }
    }
    // Every svcc chain on the node is one that v2 declares: nothing stale is left.
    let v2 = compile(Target::Iptables, &["reapply-v2.yaml"], &[]);
    let declared: std::collections::BTreeSet<&str> = v2
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for chain in after
        .lines()
        .filter_map(|l| l.strip_prefix(":SVCC-"))
        .filter_map(|l| l.split_whitespace().next())
    {
        let chain = format!("SVCC-{chain}");
        if !declared.contains(chain.as_str()) {
            t.fail(&format!("stale chain {chain} left after re-apply"));
        }
    }
    assert_eq!(jumps(&t), jump_count, "no duplicated jump");

    let moved = Probe::tcp("10.96.0.100", 80, 100).run(&t);
    t.ensure(moved.reached_exactly(&eps(&[2], 8080)));
    let added = Probe::tcp("10.96.0.102", 80, 20).run(&t);
    t.ensure(added.reached_exactly(&eps(&[3], 8080)));
    let gone = Probe::tcp("10.96.0.101", 80, 2)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(gone.none_answered());
}

/// kube-proxy's packet-flow tests (`corpus/kube-proxy/`) in the kernel: every case of the
/// upstream test for this target, as real traffic through the compiled ruleset (see
/// `support/oracle_net.rs`): the endpoints reached, refusal or drop, and masquerading.
mod kube_proxy {
    use super::support::oracle::Target;
    use super::support::oracle_net::check_kernel;

    crate::oracle_tests!(check_kernel, Target::Iptables,
        trace_packet => "trace-packet",
        no_endpoints_reject => "no-endpoints-reject",
        cluster_ip_general => "cluster-ip-general",
        load_balancer => "load-balancer",
        node_ports => "node-ports",
        health_check_node_port => "health-check-node-port",
        external_traffic_policy_local => "external-traffic-policy-local",
        external_traffic_policy_cluster => "external-traffic-policy-cluster",
        internal_traffic_policy => "internal-traffic-policy",
        terminating_endpoints_local => "terminating-endpoints-local",
        terminating_endpoints_cluster => "terminating-endpoints-cluster",
        internal_external_masquerade => "internal-external-masquerade",
    );
}

/// Incremental apply (#17): after the first load, `svcc apply --target iptables` sends only the
/// chains that changed. Each step's node must hold exactly what a whole load of the same input
/// gives in a fresh namespace.
mod incremental {
    use super::support::netns::{
        run_bounded, run_ok, Netns, Topology, CLUSTER_CIDR, COMMAND_LIMIT,
    };
    use super::support::oracle::Target;
    use super::support::scenarios::{eps, svcc_binary, topology, NODE_NAME};
    use super::support::traffic::Probe;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Output;

    /// One Service of a step: name, clusterIP, ports (name, port, nodePort), endpoint pods,
    /// sessionAffinity ClientIP, externalTrafficPolicy Local.
    struct Svc<'a> {
        name: &'a str,
        ip: &'a str,
        ports: &'a [(&'a str, u16, u16)],
        pods: &'a [usize],
        affinity: bool,
        local: bool,
    }

    impl Svc<'_> {
        fn yaml(&self) -> String {
            let mut s = format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {}\nspec:\n  type: NodePort\n  \
                 clusterIP: {}\n",
                self.name, self.ip
            );
            if self.affinity {
                s.push_str("  sessionAffinity: ClientIP\n");
            }
            if self.local {
                s.push_str("  externalTrafficPolicy: Local\n");
            }
            s.push_str("  ports:\n");
            for (name, port, node_port) in self.ports {
                s.push_str(&format!(
                    "    - {{name: {name}, port: {port}, targetPort: 8080, nodePort: {node_port}}}\n"
                ));
            }
            s.push_str(&format!(
                "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  \
                 name: {0}-1\n  labels:\n    kubernetes.io/service-name: {0}\naddressType: IPv4\n\
                 ports:\n",
                self.name
            ));
            for (name, _, _) in self.ports {
                s.push_str(&format!(
                    "  - {{name: {name}, port: 8080, protocol: TCP}}\n"
                ));
            }
            s.push_str("endpoints:\n");
            for pod in self.pods {
                s.push_str(&format!(
                    "  - addresses: [\"10.244.0.{}\"]\n    conditions: {{ready: true}}\n    \
                     nodeName: {NODE_NAME}\n",
                    10 + pod
                ));
            }
            s
        }
    }

    fn cluster(services: &[Svc]) -> String {
        services
            .iter()
            .map(Svc::yaml)
            .collect::<Vec<_>>()
            .join("---\n")
    }

    const A: Svc<'static> = Svc {
        name: "a",
        ip: "10.96.0.100",
        ports: &[("http", 80, 30080)],
        pods: &[1],
        affinity: false,
        local: false,
    };
    const B: Svc<'static> = Svc {
        name: "b",
        ip: "10.96.0.101",
        ports: &[("http", 80, 30081)],
        pods: &[2],
        affinity: false,
        local: false,
    };

    /// The steps: each changes one thing of the one before.
    fn steps() -> Vec<(&'static str, String)> {
        vec![
            ("first load", cluster(&[A])),
            ("add a Service", cluster(&[A, B])),
            ("add an endpoint", cluster(&[Svc { pods: &[1, 3], ..A }, B])),
            ("remove an endpoint", cluster(&[A, B])),
            (
                "add a port",
                cluster(&[
                    A,
                    Svc {
                        ports: &[("http", 80, 30081), ("alt", 81, 30082)],
                        ..B
                    },
                ]),
            ),
            (
                "change sessionAffinity",
                cluster(&[
                    Svc {
                        affinity: true,
                        ..A
                    },
                    B,
                ]),
            ),
            (
                "change externalTrafficPolicy",
                cluster(&[
                    Svc {
                        affinity: true,
                        local: true,
                        ..A
                    },
                    B,
                ]),
            ),
            (
                "remove a Service",
                cluster(&[Svc {
                    affinity: true,
                    local: true,
                    ..A
                }]),
            ),
        ]
    }

    /// `svcc apply --target iptables` of `yaml` in `ns` with the state in `state`.
    fn apply(ns: &Netns, state: &Path, yaml: &str) -> Output {
        let input = state.with_extension("yaml");
        std::fs::write(&input, yaml).unwrap();
        let mut cmd = ns.exec(svcc_binary());
        cmd.args(["apply", "--target", "iptables", "--node", NODE_NAME])
            .args(["--cluster-cidr", CLUSTER_CIDR, "--state-dir"])
            .arg(state)
            .arg(&input);
        run_bounded(&mut cmd, None, COMMAND_LIMIT).unwrap_or_else(|e| panic!("{e}"))
    }

    fn stderr(o: &Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// One table of a save: chain declarations, and each chain's rules.
    type SavedTable = (Vec<String>, BTreeMap<String, Vec<String>>);

    /// `iptables-save` without what differs between equal rulesets: counters, comment and
    /// header lines, the order of chain declarations and of the chains' rule groups (each
    /// chain's rules keep their order).
    fn normalized(save: &str) -> String {
        let mut tables: BTreeMap<String, SavedTable> = BTreeMap::new();
        let mut current = String::new();
        for line in save.lines() {
            if line.starts_with('#') || line == "COMMIT" || line.trim().is_empty() {
                continue;
            }
            if let Some(t) = line.strip_prefix('*') {
                current = t.to_owned();
                tables.entry(current.clone()).or_default();
            } else if let Some(decl) = line.strip_prefix(':') {
                let mut words = decl.split_whitespace();
                let (name, policy) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let table = tables.entry(current.clone()).or_default();
                table.0.push(format!(":{name} {policy}"));
            } else {
                let chain = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let table = tables.entry(current.clone()).or_default();
                table.1.entry(chain).or_default().push(line.to_owned());
            }
        }
        let mut out = String::new();
        for (name, (mut decls, rules)) in tables {
            decls.sort();
            out.push_str(&format!("*{name}\n{}\n", decls.join("\n")));
            for lines in rules.values() {
                out.push_str(&lines.join("\n"));
                out.push('\n');
            }
        }
        out
    }

    fn save(ns: &Netns) -> String {
        normalized(&run_ok(&mut ns.exec("iptables-save"), None))
    }

    /// What a whole load of `yaml` gives, in a fresh namespace.
    fn whole(yaml: &str) -> String {
        let ns = Netns::create("whole").unwrap_or_else(|e| panic!("{e}"));
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("state");
        let o = apply(&ns, &dir, yaml);
        assert!(o.status.success(), "whole load failed: {}", stderr(&o));
        assert!(stderr(&o).contains("ruleset (whole)"), "{}", stderr(&o));
        save(&ns)
    }

    fn same_as_whole(t: &Topology, step: &str, yaml: &str) {
        let (got, want) = (save(&t.node), whole(yaml));
        if got != want {
            let diff = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .header("whole load", "incremental")
                .to_string();
            t.fail(&format!(
                "after `{step}` the node differs from a whole load:\n{diff}"
            ));
        }
    }

    #[test]
    fn ipt_each_step_applies_a_delta_equal_to_a_whole_load() {
        let Some(t) = topology(Target::Iptables, 3) else {
            return;
        };
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("state");
        for (i, (step, yaml)) in steps().into_iter().enumerate() {
            let o = apply(&t.node, &dir, &yaml);
            if !o.status.success() {
                t.fail(&format!("`{step}`: svcc apply failed: {}", stderr(&o)));
            }
            let how = if i == 0 {
                "ruleset (whole)"
            } else {
                "ruleset (delta of "
            };
            if !stderr(&o).contains(how) {
                t.fail(&format!("`{step}`: expected `{how}` in: {}", stderr(&o)));
            }
            same_as_whole(&t, step, &yaml);
            if step == "add a Service" {
                // The new Service answers right after its delta.
                let tally = Probe::tcp("10.96.0.101", 80, 20).run(&t);
                t.ensure(tally.reached_exactly(&eps(&[2], 8080)));
                let kept = Probe::tcp("10.96.0.100", 80, 20).run(&t);
                t.ensure(kept.reached_exactly(&eps(&[1], 8080)));
            }
        }
    }

    /// A chain of the last ruleset deleted behind svcc's back: the next delta that needs it
    /// (B's Service chain jumps to it again) is refused, and the whole load after it repairs
    /// the node. (A delta does not read `iptables-save`, too slow at scale; a delta that does
    /// not touch the chain leaves it missing until a whole load or `--force`.)
    #[test]
    fn ipt_a_chain_deleted_behind_its_back_forces_a_whole_load() {
        let Some(t) = topology(Target::Iptables, 3) else {
            return;
        };
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("state");
        let o = apply(&t.node, &dir, &cluster(&[A, B]));
        assert!(o.status.success(), "{}", stderr(&o));
        // Empty B's Service chain (it jumps to its endpoint chain) and delete the endpoint chain.
        let raw = run_ok(&mut t.node.exec("iptables-save"), None);
        let sep = raw
            .lines()
            .find(|l| l.starts_with("-A SVCC-SEP-") && l.contains(" -s 10.244.0.12/32 "))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| t.fail("no endpoint chain of 10.244.0.12"))
            .to_owned();
        let svc = raw
            .lines()
            .find(|l| l.ends_with(&format!("-j {sep}")) && l.starts_with("-A SVCC-SVC-"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| t.fail("no Service chain jumps to the endpoint chain"))
            .to_owned();
        for args in [["-F", &svc], ["-F", &sep], ["-X", &sep]] {
            run_ok(t.node.exec("iptables").args(["-t", "nat"]).args(args), None);
        }
        let next = cluster(&[A, Svc { pods: &[2, 3], ..B }]);
        let o = apply(&t.node, &dir, &next);
        assert!(o.status.success(), "{}", stderr(&o));
        let err = stderr(&o);
        if !(err.contains("ruleset (whole)")
            && err.contains("loading the whole ruleset: the delta"))
        {
            t.fail(&format!(
                "expected the delta refused, then a whole load: {err}"
            ));
        }
        same_as_whole(&t, "repair", &next);
        let tally = Probe::tcp("10.96.0.101", 80, 40).run(&t);
        t.ensure(tally.reached_exactly(&eps(&[2, 3], 8080)));
    }

    /// A delta the kernel refuses (a chain outside svcc's still jumps to one the delta deletes),
    /// and then the whole load refused for the same reason: apply fails, the previous ruleset
    /// stays and the state still names it, so the apply after the obstacle is gone converges.
    #[test]
    fn ipt_a_refused_delta_leaves_the_previous_ruleset() {
        let Some(t) = topology(Target::Iptables, 3) else {
            return;
        };
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join("state");
        let o = apply(&t.node, &dir, &cluster(&[A, B]));
        assert!(o.status.success(), "{}", stderr(&o));
        let raw = run_ok(&mut t.node.exec("iptables-save"), None);
        let svc_b = raw
            .lines()
            .find(|l| l.starts_with("-A SVCC-SERVICES ") && l.contains("-d 10.96.0.101/32"))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| t.fail("no jump to B's Service chain"))
            .to_owned();
        let ipt =
            |args: &[&str]| run_ok(t.node.exec("iptables").args(["-t", "nat"]).args(args), None);
        ipt(&["-N", "OTHER-HOLDER"]);
        ipt(&["-A", "OTHER-HOLDER", "-j", &svc_b]);
        let before = save(&t.node);
        let o = apply(&t.node, &dir, &cluster(&[A]));
        if o.status.success() {
            t.fail(&format!(
                "deleting a referenced chain succeeded: {}",
                stderr(&o)
            ));
        }
        // `iptables-restore --test` does not ask the kernel (nf_tables backend): the delta is
        // refused by its load, which changes nothing, and so is the whole load after it.
        if !stderr(&o).contains("loading the whole ruleset: the delta") {
            t.fail(&format!(
                "expected the delta's refusal, then a whole load: {}",
                stderr(&o)
            ));
        }
        if save(&t.node) != before {
            t.fail("a refused apply changed the node's tables");
        }
        let tally = Probe::tcp("10.96.0.101", 80, 20).run(&t);
        t.ensure(tally.reached_exactly(&eps(&[2], 8080)));

        ipt(&["-F", "OTHER-HOLDER"]);
        ipt(&["-X", "OTHER-HOLDER"]);
        let o = apply(&t.node, &dir, &cluster(&[A]));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("ruleset (delta of "), "{}", stderr(&o));
        same_as_whole(&t, "after the obstacle went", &cluster(&[A]));
    }
}

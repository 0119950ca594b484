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

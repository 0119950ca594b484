//! End-to-end traffic tests for the iptables target: the scenarios of `e2e_nft.rs` (same
//! manifests under `corpus/e2e/`, same topology and probes from `support/`), with the node
//! programmed by `svcc compile --target iptables | iptables-restore --noflush`, or by
//! `svcc apply --target iptables` for the re-apply scenario.
//!
//! They need root, `ip`, `nft` (the harness probes namespaces with it), `iptables`,
//! `iptables-restore`, `iptables-save` and python3. Without them a test fails, saying what to
//! install, unless `SVCC_ALLOW_SKIP=1` (then it is skipped and counted; see
//! `support/require.rs`).
//!
//! One scenario differs from nft on purpose: kube-proxy's iptables mode does not reject
//! unknown ports of a clusterIP (nft mode does), so here such traffic is only checked to reach
//! no endpoint.

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::netns::{
    self, pod_ip, run_bounded, run_ok, Topology, CLIENT_IP, CLIENT_IP_2, CLUSTER_CIDR,
    COMMAND_LIMIT, NODE_IP, NODE_POD_GATEWAY,
};
use support::traffic::Probe;
use support::Need;

const NODE_NAME: &str = "node-a";
/// A refusal (ICMP port unreachable from the node) comes back at once; a drop would take the
/// client's 2 s connect timeout.
const REFUSAL_LIMIT: Duration = Duration::from_millis(500);

/// The topology with `pods` pods, or `None` when the test is skipped (see [`netns::host`]).
fn topology(pods: usize) -> Option<Topology> {
    support::require(
        &["iptables", "iptables-restore", "iptables-save"],
        Need::Root,
    )
    .ok()?;
    let host = netns::host()?;
    Some(Topology::build(host, pods))
}

fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/e2e")
        .join(name)
        .display()
        .to_string()
}

/// `svcc compile --target iptables` of files under `corpus/e2e/`, for [`NODE_NAME`].
fn compile(manifests: &[&str]) -> String {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .args(["compile", "-q", "--target", "iptables", "--node", NODE_NAME])
            .args(["--cluster-cidr", CLUSTER_CIDR])
            .args(manifests.iter().map(|m| manifest(m))),
        None,
    )
}

/// Loads restore input in the node with `iptables-restore --noflush`.
fn load(t: &Topology, input: &str) {
    let mut cmd = t.node.exec("iptables-restore");
    cmd.arg("--noflush");
    let out = run_bounded(&mut cmd, Some(input.as_bytes()), COMMAND_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        t.fail(&format!(
            "iptables-restore refused the input:\n{}\n--- input ---\n{input}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
}

/// `iptables-save` in the node.
fn save(t: &Topology) -> String {
    run_ok(&mut t.node.exec("iptables-save"), None)
}

fn ep(n: usize, port: u16) -> String {
    format!("{}:{port}", pod_ip(n))
}

fn eps(pods: &[usize], port: u16) -> Vec<String> {
    pods.iter().map(|&n| ep(n, port)).collect()
}

/// Scenario 1: ClusterIP over TCP reaches every endpoint and only them, evenly (the
/// statistic rules' 1/3, 1/2, 1 give each 1/3); an off-cluster client is masqueraded, a pod
/// is not.
#[test]
fn ipt_clusterip_tcp_reaches_every_endpoint_and_only_them() {
    let Some(t) = topology(4) else {
        return;
    };
    load(&t, &compile(&["clusterip.yaml"]));

    // 3 endpoints, 300 connections: expected 100 each, σ ≈ 8.2; [50, 150] is ±6σ.
    let tally = Probe::tcp("10.96.0.10", 80, 300).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2, 3], 8080), 1.0 / 6.0, 0.5));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));

    let from_pod = Probe::tcp("10.96.0.10", 80, 60).run_in(&t, &t.pods[3].ns);
    t.ensure(from_pod.reached_exactly(&eps(&[1, 2, 3], 8080)));
    t.ensure(from_pod.peers_are(&pod_ip(4).to_string()));
}

/// Scenario 2: UDP through a ClusterIP (53 → 5353), each exchange a new flow.
#[test]
fn ipt_clusterip_udp_reaches_every_endpoint() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["udp.yaml"]));

    // 2 endpoints, 100 exchanges: σ = 5; [20, 80] is ±6σ.
    let tally = Probe::udp("10.96.0.53", 53, 100).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 5353), 0.2, 0.8));
}

/// Scenario 3: a NodePort on the node's address (addrtype LOCAL) reaches the endpoints,
/// masqueraded (externalTrafficPolicy Cluster); the ClusterIP works too.
#[test]
fn ipt_nodeport_on_node_address_reaches_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["nodeport.yaml"]));

    let tally = Probe::tcp(NODE_IP, 30080, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    t.ensure(
        Probe::tcp("10.96.0.30", 80, 40)
            .run(&t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
}

/// Scenario 4: an externalIP routed to the node reaches the endpoints; another port on it is
/// not the Service's.
#[test]
fn ipt_external_ip_reaches_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["externalip.yaml"]));

    let tally = Probe::tcp("172.31.200.10", 80, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    t.ensure(
        Probe::tcp("172.31.200.10", 81, 1)
            .timeout(Duration::from_secs(1))
            .run(&t)
            .none_answered(),
    );
}

/// Scenario 5: a Service without endpoints refuses at once (filter REJECT), on its ClusterIP
/// (forwarded traffic) and its NodePort (input).
#[test]
fn ipt_service_without_endpoints_refuses_at_once() {
    let Some(t) = topology(2) else {
        return;
    };
    load(&t, &compile(&["no-endpoints.yaml"]));

    for (host, port) in [("10.96.0.50".to_owned(), 80), (NODE_IP.to_string(), 30050)] {
        let tally = Probe::tcp(host, port, 5).run(&t);
        t.ensure(tally.refused_within(REFUSAL_LIMIT));
    }
}

/// Scenario 6: ClientIP affinity (`-m recent`): each client address stays on the endpoint it
/// first reached.
#[test]
fn ipt_client_ip_affinity_keeps_a_client_on_one_endpoint() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["affinity.yaml"]));

    let endpoints = eps(&[1, 2, 3], 8080);
    let mut first = Vec::new();
    for source in [CLIENT_IP, CLIENT_IP_2] {
        // Without affinity, 60 connections over 3 endpoints all land on one with p ≈ 1e-28.
        let tally = Probe::tcp("10.96.0.60", 80, 60).source(source).run(&t);
        let one = tally.one_endpoint().unwrap_or_else(|e| t.fail(&e));
        assert!(endpoints.contains(&one), "{one} is no endpoint");
        first.push(one);
    }
    let again = Probe::tcp("10.96.0.60", 80, 20).source(CLIENT_IP).run(&t);
    t.ensure(again.reached_exactly(&first[..1]));
}

/// Scenario 7 (iptables semantics): a port the ClusterIP does not serve reaches no endpoint.
/// kube-proxy's iptables mode has no reject for it (the packet is routed on, here into the
/// uplink that drops everything), unlike nft mode.
#[test]
fn ipt_unknown_port_on_cluster_ip_reaches_no_endpoint() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["clusterip.yaml"]));

    t.ensure(
        Probe::tcp("10.96.0.10", 80, 30)
            .run(&t)
            .reached_exactly(&eps(&[1, 2, 3], 8080)),
    );
    t.ensure(
        Probe::tcp("10.96.0.10", 81, 2)
            .timeout(Duration::from_secs(1))
            .run(&t)
            .none_answered(),
    );
}

/// Scenario 8: serving-and-terminating endpoints are the fallback when none is ready.
#[test]
fn ipt_terminating_endpoints_serve_as_fallback() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["terminating.yaml"]));

    let draining = Probe::tcp("10.96.0.80", 80, 200).run(&t);
    t.ensure(draining.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    let mixed = Probe::tcp("10.96.0.81", 80, 40).run(&t);
    t.ensure(mixed.reached_exactly(&eps(&[1], 8080)));
}

/// Scenario 9: externalTrafficPolicy Local: NodePort traffic from outside reaches only this
/// node's endpoints (the SVL chain) and keeps its source; the ClusterIP reaches all.
#[test]
fn ipt_external_traffic_policy_local_uses_only_local_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    load(&t, &compile(&["etp-local.yaml"]));

    let nodeport = Probe::tcp(NODE_IP, 30090, 200).run(&t);
    t.ensure(nodeport.spread(&eps(&[1, 3], 8080), 0.25, 0.75));
    t.ensure(nodeport.peers_are(&CLIENT_IP.to_string()));
    let cluster = Probe::tcp("10.96.0.90", 80, 90).run(&t);
    t.ensure(cluster.reached_exactly(&eps(&[1, 2, 3], 8080)));
}

/// Scenario 10: `svcc apply --target iptables` twice with different inputs moves traffic,
/// removes the chains of the Service and endpoint that went away, and never duplicates a jump.
#[test]
fn ipt_reapplying_moves_traffic_and_removes_stale_chains() {
    let Some(t) = topology(3) else {
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
    let v2 = compile(&["reapply-v2.yaml"]);
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

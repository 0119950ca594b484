//! The end-to-end traffic scenarios, each taking the dataplane target as a parameter:
//! `tests/e2e_nft.rs` runs them with the nft target (`nft -f`), `tests/e2e_iptables.rs` with
//! the iptables target (`iptables-restore`/`ip6tables-restore --noflush`), in the topology of
//! `netns.rs`, against the manifests of `corpus/e2e/`. Where kube-proxy's two modes differ,
//! the scenario says so (`unknown_port_on_cluster_ip`).
//!
//! Statistical checks use bounds at least six standard deviations wide: with N attempts over k
//! equally likely endpoints, an endpoint's share is checked against [1/(2k), min(1, 3/(2k))] or
//! wider, and N is chosen so that this is ≥ 6σ; where only "every endpoint reached" is checked,
//! N makes missing one rarer than 1 in 10⁸ runs.

use super::netns::{
    self, pod_ip, pod_ip6, run_bounded, run_ok, Topology, CLIENT_IP, CLIENT_IP_2, CLUSTER_CIDR,
    CLUSTER_CIDR6, COMMAND_LIMIT, NODE_IP, NODE_IP6, NODE_POD_GATEWAY, NODE_POD_GATEWAY6,
    SERVICE_CIDR, SERVICE_CIDR6,
};
use super::oracle::Target;
use super::traffic::Probe;
use super::Need;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The node the manifests are compiled for: endpoints with this `nodeName` are local.
pub const NODE_NAME: &str = "node-a";
/// A refusal comes back at once (an ICMP error or RST from the node); 0.5 s is far below the
/// 2 s connect timeout that a dropped packet would run into.
pub const REFUSAL_LIMIT: Duration = Duration::from_millis(500);

/// The topology with `pods` pods, or `None` when the test is skipped (see [`netns::host`]).
pub fn topology(target: Target, pods: usize) -> Option<Topology> {
    if target == Target::Iptables {
        let tools = [
            "iptables",
            "iptables-restore",
            "iptables-save",
            "ip6tables-restore",
        ];
        super::require(&tools, Need::Root).ok()?;
    }
    let host = netns::host()?;
    Some(Topology::build(host, pods))
}

/// The svcc under test: this build's, or the one `SVCC_E2E_BIN` names.
pub fn svcc_binary() -> std::ffi::OsString {
    std::env::var_os("SVCC_E2E_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_svcc").into())
}

pub fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/e2e")
        .join(name)
        .display()
        .to_string()
}

/// `svcc compile --target TARGET` of files under `corpus/e2e/`, for [`NODE_NAME`], with the
/// pod CIDR and `flags`.
pub fn compile(target: Target, manifests: &[&str], flags: &[&str]) -> String {
    run_ok(
        Command::new(svcc_binary())
            .args([
                "compile",
                "-q",
                "--target",
                target.name(),
                "--node",
                NODE_NAME,
            ])
            .args(["--cluster-cidr", CLUSTER_CIDR])
            .args(flags)
            .args(manifests.iter().map(|m| manifest(m))),
        None,
    )
}

/// Compiles and loads `manifests` into the node: nft replaces its tables; iptables restores
/// the IPv4 input and, when the plan has IPv6 addresses, the IPv6 one.
pub fn load(t: &Topology, target: Target, manifests: &[&str], flags: &[&str]) {
    match target {
        Target::Nft => t.apply(&compile(target, manifests, flags)),
        Target::Iptables => {
            restore(t, "iptables-restore", &compile(target, manifests, flags));
            let v6 = [flags, &["--family", "ipv6"]].concat();
            restore(t, "ip6tables-restore", &compile(target, manifests, &v6));
        }
    }
}

/// Loads restore input in the node with `TOOL --noflush`.
pub fn restore(t: &Topology, tool: &str, input: &str) {
    let mut cmd = t.node.exec(tool);
    cmd.arg("--noflush");
    let out = run_bounded(&mut cmd, Some(input.as_bytes()), COMMAND_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        t.fail(&format!(
            "{tool} refused the input:\n{}\n--- input ---\n{input}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
}

/// `ip:port` of pod `n`'s server, as it identifies itself.
pub fn ep(n: usize, port: u16) -> String {
    format!("{}:{port}", pod_ip(n))
}

pub fn eps(pods: &[usize], port: u16) -> Vec<String> {
    pods.iter().map(|&n| ep(n, port)).collect()
}

/// `[ip]:port` of pod `n`'s server on IPv6.
pub fn eps6(pods: &[usize], port: u16) -> Vec<String> {
    pods.iter()
        .map(|&n| format!("[{}]:{port}", pod_ip6(n)))
        .collect()
}

/// A ClusterIP over TCP reaches all its endpoints (from two EndpointSlices) and only them,
/// evenly; an off-cluster client is masqueraded, a pod is not.
pub fn clusterip_tcp(target: Target) {
    let Some(t) = topology(target, 4) else {
        return;
    };
    load(&t, target, &["clusterip.yaml"], &[]);
    // 3 endpoints, 300 connections: expected 100 each, σ ≈ 8.2; [50, 150] is ±6σ.
    let tally = Probe::tcp("10.96.0.10", 80, 300).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2, 3], 8080), 1.0 / 6.0, 0.5));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    // From pod 4 (not an endpoint, inside the cluster CIDR): the endpoint sees the pod itself.
    let from_pod = Probe::tcp("10.96.0.10", 80, 60).run_in(&t, &t.pods[3].ns);
    t.ensure(from_pod.reached_exactly(&eps(&[1, 2, 3], 8080)));
    t.ensure(from_pod.peers_are(&pod_ip(4).to_string()));
}

/// UDP through a ClusterIP (port 53 to target port 5353), each exchange a new flow.
pub fn clusterip_udp(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["udp.yaml"], &[]);
    // 2 endpoints, 100 exchanges: σ = 5; [20, 80] is ±6σ.
    let tally = Probe::udp("10.96.0.53", 53, 100).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 5353), 0.2, 0.8));
}

/// A NodePort on the node's address reaches the endpoints (externalTrafficPolicy Cluster:
/// masqueraded); the ClusterIP of the same Service works too.
pub fn nodeport(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["nodeport.yaml"], &[]);
    let tally = Probe::tcp(NODE_IP, 30080, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    t.ensure(
        Probe::tcp("10.96.0.30", 80, 40)
            .run(&t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
}

/// `--nodeport-addresses`: NodePorts answer only on node addresses inside the given CIDRs; on
/// another node address (the pods' gateway) the port is the node's own, where nothing listens.
/// `--node-ip` does the same with nft (kube-proxy's nftables default), not with iptables (its
/// default is every local address).
pub fn nodeport_addresses(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    let pod = &t.pods[2].ns;
    // Without the flags, every local address but loopback: also the pods' gateway.
    load(&t, target, &["nodeport.yaml"], &[]);
    let gateway = Probe::tcp(NODE_POD_GATEWAY, 30080, 40).run_in(&t, pod);
    t.ensure(gateway.reached_exactly(&eps(&[1, 2], 8080)));

    load(
        &t,
        target,
        &["nodeport.yaml"],
        &["--nodeport-addresses", "172.31.0.0/24"],
    );
    let listed = Probe::tcp(NODE_IP, 30080, 40).run(&t);
    t.ensure(listed.reached_exactly(&eps(&[1, 2], 8080)));
    let other = Probe::tcp(NODE_POD_GATEWAY, 30080, 3).run_in(&t, pod);
    t.ensure(other.refused_within(REFUSAL_LIMIT));

    let node_ip = NODE_IP.to_string();
    load(&t, target, &["nodeport.yaml"], &["--node-ip", &node_ip]);
    let primary = Probe::tcp(NODE_IP, 30080, 40).run(&t);
    t.ensure(primary.reached_exactly(&eps(&[1, 2], 8080)));
    match target {
        Target::Nft => {
            let other = Probe::tcp(NODE_POD_GATEWAY, 30080, 3).run_in(&t, pod);
            t.ensure(other.refused_within(REFUSAL_LIMIT));
        }
        // Both endpoints must answer: 40 connections over 2 endpoints miss one with
        // p = 2⁻³⁹ (3 connections missed one in 4 runs).
        Target::Iptables => {
            let other = Probe::tcp(NODE_POD_GATEWAY, 30080, 40).run_in(&t, pod);
            t.ensure(other.reached_exactly(&eps(&[1, 2], 8080)));
        }
    }
}

/// An externalIP routed to the node (which does not own it) reaches the endpoints; another
/// port on it is not the Service's (forwarded on, unanswered).
pub fn external_ip(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["externalip.yaml"], &[]);
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

/// A Service without endpoints refuses at once, on its ClusterIP, its NodePort and its
/// externalIP.
pub fn service_without_endpoints(target: Target) {
    let Some(t) = topology(target, 2) else {
        return;
    };
    load(&t, target, &["no-endpoints.yaml"], &[]);
    let addresses = [
        ("10.96.0.50".to_owned(), 80),
        (NODE_IP.to_string(), 30050),
        ("172.31.200.50".to_owned(), 80),
    ];
    for (host, port) in addresses {
        let tally = Probe::tcp(host, port, 5).run(&t);
        t.ensure(tally.refused_within(REFUSAL_LIMIT));
    }
}

/// ClientIP affinity: each client address stays on the endpoint it first reached.
pub fn client_ip_affinity(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["affinity.yaml"], &[]);
    let endpoints = eps(&[1, 2, 3], 8080);
    let mut first = Vec::new();
    for source in [CLIENT_IP, CLIENT_IP_2] {
        // Without affinity, 60 connections over 3 endpoints all land on one with p ≈ 1e-28.
        let tally = Probe::tcp("10.96.0.60", 80, 60).source(source).run(&t);
        let one = tally.one_endpoint().unwrap_or_else(|e| t.fail(&e));
        assert!(endpoints.contains(&one), "{one} is no endpoint");
        first.push(one);
    }
    // Still the same after the other client's connections.
    let again = Probe::tcp("10.96.0.60", 80, 20).source(CLIENT_IP).run(&t);
    t.ensure(again.reached_exactly(&first[..1]));
}

/// A port the ClusterIP does not serve: nftables mode refuses it at once, for TCP and UDP;
/// iptables mode has no rule for it (the packet is routed on, here into the uplink that drops
/// everything), so it reaches no endpoint.
pub fn unknown_port_on_cluster_ip(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["clusterip.yaml"], &[]);
    // The Service's own port works, so what follows is the ruleset's doing.
    t.ensure(
        Probe::tcp("10.96.0.10", 80, 60)
            .run(&t)
            .reached_exactly(&eps(&[1, 2, 3], 8080)),
    );
    match target {
        Target::Nft => {
            for probe in [
                Probe::tcp("10.96.0.10", 81, 5),
                Probe::udp("10.96.0.10", 80, 5),
            ] {
                t.ensure(probe.run(&t).refused_within(REFUSAL_LIMIT));
            }
        }
        Target::Iptables => t.ensure(
            Probe::tcp("10.96.0.10", 81, 2)
                .timeout(Duration::from_secs(1))
                .run(&t)
                .none_answered(),
        ),
    }
}

/// With no ready endpoint, serving and terminating endpoints are the fallback (a terminating
/// endpoint that no longer serves is never used); with a ready one, they are not.
pub fn terminating_fallback(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["terminating.yaml"], &[]);
    let draining = Probe::tcp("10.96.0.80", 80, 200).run(&t);
    t.ensure(draining.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    let mixed = Probe::tcp("10.96.0.81", 80, 40).run(&t);
    t.ensure(mixed.reached_exactly(&eps(&[1], 8080)));
}

/// externalTrafficPolicy Local: NodePort traffic from outside reaches only the endpoints on
/// this node and keeps its source address; the ClusterIP still reaches every endpoint, and so
/// does the NodePort from a pod or from the node itself.
pub fn external_traffic_policy_local(target: Target) {
    let Some(t) = topology(target, 4) else {
        return;
    };
    load(&t, target, &["etp-local.yaml"], &[]);
    let nodeport = Probe::tcp(NODE_IP, 30090, 200).run(&t);
    t.ensure(nodeport.spread(&eps(&[1, 3], 8080), 0.25, 0.75));
    t.ensure(nodeport.peers_are(&CLIENT_IP.to_string()));
    // Pod 2 ("on node-b") is alive and reached through the ClusterIP.
    let cluster = Probe::tcp("10.96.0.90", 80, 90).run(&t);
    t.ensure(cluster.reached_exactly(&eps(&[1, 2, 3], 8080)));
    // Pods skip the Local policy (kube-proxy's short-circuit), unmasqueraded.
    let from_pod = Probe::tcp(NODE_IP, 30090, 90).run_in(&t, &t.pods[3].ns);
    t.ensure(from_pod.reached_exactly(&eps(&[1, 2, 3], 8080)));
    t.ensure(from_pod.peers_are(&pod_ip(4).to_string()));
    // So does the node itself, masqueraded.
    let from_node = Probe::tcp(NODE_IP, 30090, 90).run_in(&t, &t.node);
    t.ensure(from_node.reached_exactly(&eps(&[1, 2, 3], 8080)));
    t.ensure(from_node.peers_are(&NODE_POD_GATEWAY.to_string()));
}

/// Hairpin: a pod whose connection to its own Service lands on itself is masqueraded (else its
/// reply would go to itself, not through the node's conntrack); other endpoints see the pod.
pub fn hairpin(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["clusterip.yaml"], &[]);
    // 50 connections over 3 endpoints miss one with p ≈ 5e-9. A broken hairpin times out,
    // hence the short timeout.
    let tally = Probe::tcp("10.96.0.10", 80, 50)
        .timeout(Duration::from_secs(1))
        .run_in(&t, &t.pods[0].ns);
    t.ensure(tally.reached_exactly(&eps(&[1, 2, 3], 8080)));
    let own = ep(1, 8080);
    let wrong: Vec<_> = tally
        .attempts
        .iter()
        .filter_map(|a| Some((a.answer.as_deref()?, a.peer.as_deref()?)))
        .filter(|&(answer, peer)| {
            let expected = if answer == own {
                NODE_POD_GATEWAY
            } else {
                pod_ip(1)
            };
            peer != expected.to_string()
        })
        .collect();
    if !wrong.is_empty() {
        t.fail(&format!(
            "endpoints saw the wrong source (answer, peer): {wrong:?}\n  {}",
            tally.summary()
        ));
    }
}

/// loadBalancerSourceRanges: the LoadBalancer IP admits listed clients and drops the rest;
/// the NodePort of the same Service is not restricted.
pub fn load_balancer_source_ranges(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["loadbalancer.yaml"], &[]);
    let allowed = Probe::tcp("172.31.200.110", 80, 60)
        .source(CLIENT_IP)
        .run(&t);
    t.ensure(allowed.reached_exactly(&eps(&[1, 2], 8080)));
    let blocked = Probe::tcp("172.31.200.110", 80, 2)
        .source(CLIENT_IP_2)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(blocked.timed_out());
    let nodeport = Probe::tcp(NODE_IP, 30110, 60).source(CLIENT_IP_2).run(&t);
    t.ensure(nodeport.reached_exactly(&eps(&[1, 2], 8080)));
}

/// Local traffic policies for node-a: internalTrafficPolicy Local keeps ClusterIP traffic on
/// the local endpoint; externalTrafficPolicy Local without a local endpoint drops outside
/// NodePort traffic, while pods (via the NodePort) and the ClusterIP still reach the remote one.
pub fn local_policies(target: Target) {
    let Some(t) = topology(target, 4) else {
        return;
    };
    load(&t, target, &["local-policies.yaml"], &[]);
    let internal = Probe::tcp("10.96.0.130", 80, 40).run(&t);
    t.ensure(internal.reached_exactly(&eps(&[1], 8080)));
    let outside = Probe::tcp(NODE_IP, 30131, 2)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(outside.timed_out());
    let from_pod = Probe::tcp(NODE_IP, 30131, 10).run_in(&t, &t.pods[3].ns);
    t.ensure(from_pod.reached_exactly(&eps(&[2], 8080)));
    let cluster = Probe::tcp("10.96.0.131", 80, 10).run(&t);
    t.ensure(cluster.reached_exactly(&eps(&[2], 8080)));
}

/// A Service with several ports, one number on two protocols: each port goes to its own
/// endpoints and target port, also from a process on the node itself (the output hook).
pub fn multiport(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    load(&t, target, &["multiport.yaml"], &[]);
    for ns in [&t.client, &t.node] {
        let http = Probe::tcp("10.96.0.140", 80, 60).run_in(&t, ns);
        t.ensure(http.reached_exactly(&eps(&[1, 2], 8080)));
        let dns_tcp = Probe::tcp("10.96.0.140", 53, 10).run_in(&t, ns);
        t.ensure(dns_tcp.reached_exactly(&eps(&[3], 8080)));
        let dns_udp = Probe::udp("10.96.0.140", 53, 10).run_in(&t, ns);
        t.ensure(dns_udp.reached_exactly(&eps(&[3], 5353)));
    }
}

/// Dual stack: IPv6 does what IPv4 does (ClusterIP over TCP and UDP, NodePort, masquerade from
/// outside the pod CIDR, none from a pod; an unknown port refused by nftables mode, left alone
/// by iptables mode), and each family reaches only its own endpoints.
pub fn dual_stack(target: Target) {
    let Some(t) = topology(target, 3) else {
        return;
    };
    let service_cidrs = format!("{SERVICE_CIDR},{SERVICE_CIDR6}");
    load(
        &t,
        target,
        &["dual-stack.yaml"],
        &[
            "--service-cidr",
            &service_cidrs,
            "--cluster-cidr",
            CLUSTER_CIDR6,
        ],
    );
    // 2 endpoints, 100 attempts each: σ = 5; [20, 80] is ±6σ.
    let v4 = Probe::tcp("10.96.0.150", 80, 100).run(&t);
    t.ensure(v4.spread(&eps(&[1, 2], 8080), 0.2, 0.8));
    let v6 = Probe::tcp("fd00:10:96::150", 80, 100).run(&t);
    t.ensure(v6.spread(&eps6(&[1, 2], 8080), 0.2, 0.8));
    t.ensure(v6.peers_are(&NODE_POD_GATEWAY6.to_string()));
    let v6_udp = Probe::udp("fd00:10:96::150", 53, 100).run(&t);
    t.ensure(v6_udp.spread(&eps6(&[1, 2], 5353), 0.2, 0.8));
    let v6_nodeport = Probe::tcp(NODE_IP6, 30150, 40).run(&t);
    t.ensure(v6_nodeport.reached_exactly(&eps6(&[1, 2], 8080)));
    let v6_from_pod = Probe::tcp("fd00:10:96::150", 80, 40).run_in(&t, &t.pods[2].ns);
    t.ensure(v6_from_pod.reached_exactly(&eps6(&[1, 2], 8080)));
    t.ensure(v6_from_pod.peers_are(&pod_ip6(3).to_string()));
    match target {
        Target::Nft => {
            // Over TCP the refusal takes one SYN retransmission (1 s): through veths the
            // ICMPv6 error arrives while connect() still holds the socket, and the kernel keeps
            // it as a soft error (TcpExtLockDroppedIcmps) until the next SYN is refused. A drop
            // would still be a 2 s timeout. UDP shows the refusal at once.
            let v6_unknown = Probe::tcp("fd00:10:96::150", 81, 2).run(&t);
            t.ensure(v6_unknown.refused_within(Duration::from_millis(1500)));
            let v6_unknown_udp = Probe::udp("fd00:10:96::150", 54, 5).run(&t);
            t.ensure(v6_unknown_udp.refused_within(REFUSAL_LIMIT));
        }
        Target::Iptables => t.ensure(
            Probe::tcp("fd00:10:96::150", 81, 1)
                .timeout(Duration::from_secs(1))
                .run(&t)
                .none_answered(),
        ),
    }
}

/// One `#[test]` per scenario, for `$target`.
#[macro_export]
macro_rules! e2e_scenarios {
    ($target:expr) => {
        $crate::e2e_scenarios!($target,
            clusterip_tcp_reaches_every_endpoint_and_only_them => clusterip_tcp,
            clusterip_udp_reaches_every_endpoint => clusterip_udp,
            nodeport_on_node_address_reaches_endpoints => nodeport,
            nodeport_addresses_limit_where_node_ports_answer => nodeport_addresses,
            external_ip_reaches_endpoints => external_ip,
            service_without_endpoints_refuses_at_once => service_without_endpoints,
            client_ip_affinity_keeps_a_client_on_one_endpoint => client_ip_affinity,
            unknown_port_on_cluster_ip => unknown_port_on_cluster_ip,
            terminating_endpoints_serve_as_fallback => terminating_fallback,
            external_traffic_policy_local_uses_only_local_endpoints => external_traffic_policy_local,
            hairpin_connections_are_masqueraded => hairpin,
            load_balancer_source_ranges_admit_only_listed_clients => load_balancer_source_ranges,
            local_policies_keep_traffic_on_the_node => local_policies,
            each_service_port_reaches_its_own_endpoints => multiport,
            dual_stack_service_works_on_both_families => dual_stack,
        );
    };
    ($target:expr, $($name:ident => $scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                support::scenarios::$scenario($target);
            }
        )*
    };
}

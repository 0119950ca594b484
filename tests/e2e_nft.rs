//! End-to-end traffic tests: `svcc compile --target nft` output loaded with `nft -f` into a node
//! network namespace, then real TCP and UDP traffic from a client namespace to pods that answer
//! with their own address. Each test builds its own namespaces (see `support/netns.rs` for the
//! topology and addresses), so the tests run in parallel, and removes them when it ends, also
//! when it fails.
//!
//! `SVCC_E2E_BIN=PATH` runs them against another svcc binary.
//!
//! They need root, `ip`, `nft` and python3. Without them a test fails, saying what to install,
//! unless `SVCC_ALLOW_SKIP=1` (then it is skipped and counted; see `support/require.rs`).
//!
//! Statistical checks use bounds at least six standard deviations wide: with N attempts over k
//! equally likely endpoints, an endpoint's share is checked against [1/(2k), min(1, 3/(2k))] or
//! wider, and N is chosen so that this is ≥ 6σ; where only "every endpoint reached" is checked,
//! N makes missing one rarer than 1 in 10⁸ runs.

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::netns::{
    self, list_ruleset, pod_ip, pod_ip6, run_ok, Netns, Topology, CLIENT_IP, CLIENT_IP_2,
    CLUSTER_CIDR, CLUSTER_CIDR6, NODE_IP, NODE_IP6, NODE_POD_GATEWAY, NODE_POD_GATEWAY6,
    SERVICE_CIDR, SERVICE_CIDR6,
};
use support::traffic::Probe;

/// The node the manifests are compiled for: endpoints with this `nodeName` are local.
const NODE_NAME: &str = "node-a";
/// A refusal comes back at once (an ICMP error or RST from the node); 0.5 s is far below the
/// 2 s connect timeout that a dropped packet would run into.
const REFUSAL_LIMIT: Duration = Duration::from_millis(500);

/// The topology with `pods` pods, or `None` when the test is skipped (see [`netns::host`]).
fn topology(pods: usize) -> Option<Topology> {
    let host = netns::host()?;
    Some(Topology::build(host, pods))
}

/// The svcc under test: this build's, or the one `SVCC_E2E_BIN` names (another build, or a
/// wrapper that mutates the output to check that these tests catch what they should).
fn svcc_binary() -> std::ffi::OsString {
    std::env::var_os("SVCC_E2E_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_svcc").into())
}

/// `svcc compile --target nft` of files under `corpus/e2e/`, for [`NODE_NAME`].
fn compile(manifests: &[&str]) -> String {
    compile_with(manifests, &[])
}

/// [`compile`] with more flags.
fn compile_with(manifests: &[&str], flags: &[&str]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/e2e");
    run_ok(
        Command::new(svcc_binary())
            .args(["compile", "--target", "nft", "--node", NODE_NAME])
            .args(["--cluster-cidr", CLUSTER_CIDR])
            .args(flags)
            .args(manifests.iter().map(|m| dir.join(m))),
        None,
    )
}

/// `ip:port` of pod `n`'s server, as it identifies itself.
fn ep(n: usize, port: u16) -> String {
    format!("{}:{port}", pod_ip(n))
}

fn eps(pods: &[usize], port: u16) -> Vec<String> {
    pods.iter().map(|&n| ep(n, port)).collect()
}

/// `[ip]:port` of pod `n`'s server on IPv6.
fn eps6(pods: &[usize], port: u16) -> Vec<String> {
    pods.iter()
        .map(|&n| format!("[{}]:{port}", pod_ip6(n)))
        .collect()
}

/// The harness itself, against a small hand-written ruleset: traffic is balanced, a reject is
/// seen as a fast refusal, and a drop as a timeout. If this fails, the environment is at fault,
/// not svcc.
#[test]
fn harness_self_test_with_hand_written_ruleset() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(include_str!("support/hand_written.nft"));

    let tally = Probe::tcp("10.96.0.10", 80, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    t.ensure(
        Probe::tcp("10.96.0.20", 80, 3)
            .run(&t)
            .refused_within(REFUSAL_LIMIT),
    );
    t.ensure(
        Probe::tcp("10.96.0.30", 80, 1)
            .timeout(Duration::from_secs(1))
            .run(&t)
            .timed_out(),
    );
    // Pod 3 is no endpoint, but it answers when addressed directly.
    t.ensure(
        Probe::tcp(pod_ip(3), 8080, 3)
            .run(&t)
            .reached_exactly(&eps(&[3], 8080)),
    );
}

/// Scenario 1: a ClusterIP over TCP reaches all its endpoints (from two EndpointSlices) and only
/// them, evenly; an off-cluster client is masqueraded, a pod is not.
#[test]
fn clusterip_tcp_reaches_every_endpoint_and_only_them() {
    let Some(t) = topology(4) else {
        return;
    };
    t.apply(&compile(&["clusterip.yaml"]));

    // 3 endpoints, 300 connections: expected 100 each, σ ≈ 8.2; [50, 150] is ±6σ.
    let tally = Probe::tcp("10.96.0.10", 80, 300).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2, 3], 8080), 1.0 / 6.0, 0.5));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));

    // From pod 4 (not an endpoint, inside the cluster CIDR): the endpoint sees the pod itself.
    let from_pod = Probe::tcp("10.96.0.10", 80, 60).run_in(&t, &t.pods[3].ns);
    t.ensure(from_pod.reached_exactly(&eps(&[1, 2, 3], 8080)));
    t.ensure(from_pod.peers_are(&pod_ip(4).to_string()));
}

/// Scenario 2: UDP through a ClusterIP (port 53 to target port 5353), each exchange a new flow.
#[test]
fn clusterip_udp_reaches_every_endpoint() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["udp.yaml"]));

    // 2 endpoints, 100 exchanges: σ = 5; [20, 80] is ±6σ.
    let tally = Probe::udp("10.96.0.53", 53, 100).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 5353), 0.2, 0.8));
}

/// Scenario 3: a NodePort on the node's address reaches the endpoints (externalTrafficPolicy
/// Cluster: masqueraded).
#[test]
fn nodeport_on_node_address_reaches_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["nodeport.yaml"]));

    let tally = Probe::tcp(NODE_IP, 30080, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    // The ClusterIP of the same Service works too.
    t.ensure(
        Probe::tcp("10.96.0.30", 80, 40)
            .run(&t)
            .reached_exactly(&eps(&[1, 2], 8080)),
    );
}

/// `--nodeport-addresses`: NodePorts answer only on node addresses inside the given CIDRs; on
/// another node address (the pods' gateway) the port is the node's own, where nothing listens.
#[test]
fn nodeport_addresses_limit_where_node_ports_answer() {
    let Some(t) = topology(3) else {
        return;
    };
    let pod = &t.pods[2].ns;
    // Without the flag, every local address but loopback: also the pods' gateway.
    t.apply(&compile(&["nodeport.yaml"]));
    let gateway = Probe::tcp(NODE_POD_GATEWAY, 30080, 40).run_in(&t, pod);
    t.ensure(gateway.reached_exactly(&eps(&[1, 2], 8080)));

    t.apply(&compile_with(
        &["nodeport.yaml"],
        &["--nodeport-addresses", "172.31.0.0/24"],
    ));
    let listed = Probe::tcp(NODE_IP, 30080, 40).run(&t);
    t.ensure(listed.reached_exactly(&eps(&[1, 2], 8080)));
    let other = Probe::tcp(NODE_POD_GATEWAY, 30080, 3).run_in(&t, pod);
    t.ensure(other.refused_within(REFUSAL_LIMIT));
}

/// Scenario 4: an externalIP routed to the node (which does not own it) reaches the endpoints.
#[test]
fn external_ip_reaches_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["externalip.yaml"]));

    let tally = Probe::tcp("172.31.200.10", 80, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    // Another port on the externalIP is not the Service's: forwarded on, unanswered.
    t.ensure(
        Probe::tcp("172.31.200.10", 81, 1)
            .timeout(Duration::from_secs(1))
            .run(&t)
            .timed_out(),
    );
}

/// Scenario 5: a Service without endpoints refuses at once, on its ClusterIP, its NodePort and
/// its externalIP.
#[test]
fn service_without_endpoints_refuses_at_once() {
    let Some(t) = topology(2) else {
        return;
    };
    t.apply(&compile(&["no-endpoints.yaml"]));

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

/// Scenario 6: ClientIP affinity: each client address stays on the endpoint it first reached.
#[test]
fn client_ip_affinity_keeps_a_client_on_one_endpoint() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["affinity.yaml"]));

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

/// Scenario 7: a port the ClusterIP does not serve is refused at once, for TCP and UDP.
#[test]
fn unknown_port_on_cluster_ip_is_refused() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["clusterip.yaml"]));

    // The Service's own port works, so a refusal below is the ruleset's doing.
    t.ensure(
        Probe::tcp("10.96.0.10", 80, 60)
            .run(&t)
            .reached_exactly(&eps(&[1, 2, 3], 8080)),
    );
    t.ensure(
        Probe::tcp("10.96.0.10", 81, 5)
            .run(&t)
            .refused_within(REFUSAL_LIMIT),
    );
    t.ensure(
        Probe::udp("10.96.0.10", 80, 5)
            .run(&t)
            .refused_within(REFUSAL_LIMIT),
    );
}

/// Scenario 8: with no ready endpoint, serving and terminating endpoints are the fallback (a
/// terminating endpoint that no longer serves is never used); with a ready one, they are not.
#[test]
fn terminating_endpoints_serve_as_fallback() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["terminating.yaml"]));

    let draining = Probe::tcp("10.96.0.80", 80, 200).run(&t);
    t.ensure(draining.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    let mixed = Probe::tcp("10.96.0.81", 80, 40).run(&t);
    t.ensure(mixed.reached_exactly(&eps(&[1], 8080)));
}

/// Scenario 9: externalTrafficPolicy Local: NodePort traffic from outside reaches only the
/// endpoints on this node and keeps its source address; the ClusterIP still reaches every endpoint,
/// and so does the NodePort from a pod or from the node itself.
#[test]
fn external_traffic_policy_local_uses_only_local_endpoints() {
    let Some(t) = topology(4) else {
        return;
    };
    t.apply(&compile(&["etp-local.yaml"]));

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
#[test]
fn hairpin_connections_are_masqueraded() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["clusterip.yaml"]));

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
#[test]
fn load_balancer_source_ranges_admit_only_listed_clients() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["loadbalancer.yaml"]));

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
#[test]
fn local_policies_keep_traffic_on_the_node() {
    let Some(t) = topology(4) else {
        return;
    };
    t.apply(&compile(&["local-policies.yaml"]));

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
#[test]
fn each_service_port_reaches_its_own_endpoints() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile(&["multiport.yaml"]));

    for ns in [&t.client, &t.node] {
        let http = Probe::tcp("10.96.0.140", 80, 60).run_in(&t, ns);
        t.ensure(http.reached_exactly(&eps(&[1, 2], 8080)));
        let dns_tcp = Probe::tcp("10.96.0.140", 53, 10).run_in(&t, ns);
        t.ensure(dns_tcp.reached_exactly(&eps(&[3], 8080)));
        let dns_udp = Probe::udp("10.96.0.140", 53, 10).run_in(&t, ns);
        t.ensure(dns_udp.reached_exactly(&eps(&[3], 5353)));
    }
}

/// Dual stack: the IPv6 table does for IPv6 what the IPv4 one does for IPv4 (ClusterIP over TCP
/// and UDP, NodePort, masquerade from outside the pod CIDR, none from a pod, reject of an unknown
/// port), and each family reaches only its own endpoints.
#[test]
fn dual_stack_service_works_on_both_families() {
    let Some(t) = topology(3) else {
        return;
    };
    let service_cidrs = format!("{SERVICE_CIDR},{SERVICE_CIDR6}");
    t.apply(&compile_with(
        &["dual-stack.yaml"],
        &[
            "--service-cidr",
            &service_cidrs,
            "--cluster-cidr",
            CLUSTER_CIDR6,
        ],
    ));

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
    // An unknown port is refused. Over TCP the refusal takes one SYN retransmission (1 s):
    // through veths the ICMPv6 error arrives while connect() still holds the socket, and the
    // kernel keeps it as a soft error (TcpExtLockDroppedIcmps) until the next SYN is refused.
    // A drop would still be a 2 s timeout. UDP shows the refusal at once.
    let v6_unknown = Probe::tcp("fd00:10:96::150", 81, 2).run(&t);
    t.ensure(v6_unknown.refused_within(Duration::from_millis(1500)));
    let v6_unknown_udp = Probe::udp("fd00:10:96::150", 54, 5).run(&t);
    t.ensure(v6_unknown_udp.refused_within(REFUSAL_LIMIT));
}

/// Scenario 10: applying a new compilation moves traffic and replaces the old ruleset entirely: the
/// result equals the new ruleset loaded into a fresh namespace, and applying it again changes
/// nothing.
#[test]
fn reapplying_replaces_the_previous_ruleset() {
    let Some(t) = topology(3) else {
        return;
    };
    let (v1, v2) = (compile(&["reapply-v1.yaml"]), compile(&["reapply-v2.yaml"]));
    t.apply(&v1);
    for service in ["10.96.0.100", "10.96.0.101"] {
        let tally = Probe::tcp(service, 80, 20).run(&t);
        t.ensure(tally.reached_exactly(&eps(&[1], 8080)));
    }

    t.apply(&v2);
    let after = t.ruleset();
    let fresh = Netns::create("fresh").unwrap_or_else(|e| panic!("{e}"));
    run_ok(fresh.exec("nft").args(["-f", "-"]), Some(v2.as_bytes()));
    let expected = list_ruleset(&fresh);
    if normalize(&after) != normalize(&expected) {
        t.fail(&format!(
            "after applying v1 then v2 the node's ruleset differs from v2 alone:\n\
             --- v2 alone ---\n{expected}"
        ));
    }
    for stale in ["10.244.0.11", "10.96.0.101"] {
        if after.contains(stale) {
            t.fail(&format!(
                "`{stale}` is still in the ruleset after the second apply"
            ));
        }
    }
    t.apply(&v2);
    if normalize(&t.ruleset()) != normalize(&after) {
        t.fail("applying the same ruleset twice changed it");
    }

    // Traffic moved: never pod 1 again. The deleted Service's address is now an unused one of
    // the service CIDR: dropped, not refused (a refusal would mean it is still a ClusterIP).
    let moved = Probe::tcp("10.96.0.100", 80, 100).run(&t);
    t.ensure(moved.reached_exactly(&eps(&[2], 8080)));
    let added = Probe::tcp("10.96.0.102", 80, 20).run(&t);
    t.ensure(added.reached_exactly(&eps(&[3], 8080)));
    let gone = Probe::tcp("10.96.0.101", 80, 2)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(gone.timed_out());
}

/// `nft list ruleset` text with the elements of each set and map sorted: the kernel may list
/// them in another order after a different history.
fn normalize(listing: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<String> = None;
    for line in listing.lines().map(str::trim) {
        let acc = match pending.take() {
            Some(acc) => format!("{acc} {line}"),
            None => match line.strip_prefix("elements = {") {
                Some(rest) => rest.to_owned(),
                None => {
                    out.push_str(line);
                    out.push('\n');
                    continue;
                }
            },
        };
        match acc.strip_suffix('}') {
            Some(body) => {
                let mut items: Vec<&str> = body.split(',').map(str::trim).collect();
                items.sort_unstable();
                out.push_str(&format!("elements = {{ {} }}\n", items.join(", ")));
            }
            None => pending = Some(acc),
        }
    }
    out
}

/// kube-proxy's packet-flow tests (`corpus/kube-proxy/`) in the kernel: every case of the
/// upstream test for this target, as real traffic through the compiled ruleset (see
/// `support/oracle_net.rs`): the endpoints reached, refusal or drop, and masquerading.
mod kube_proxy {
    use super::support::oracle::Target;
    use super::support::oracle_net::check_kernel;

    crate::oracle_tests!(check_kernel, Target::Nft,
        no_endpoints_reject => "no-endpoints-reject",
        cluster_ip_general => "cluster-ip-general",
        load_balancer => "load-balancer",
        node_ports => "node-ports",
        external_traffic_policy_local => "external-traffic-policy-local",
        external_traffic_policy_cluster => "external-traffic-policy-cluster",
        internal_traffic_policy => "internal-traffic-policy",
        terminating_endpoints_local => "terminating-endpoints-local",
        terminating_endpoints_cluster => "terminating-endpoints-cluster",
        internal_external_masquerade => "internal-external-masquerade",
    );
}

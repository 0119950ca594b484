//! End-to-end traffic tests: `svcc compile --target nft` output loaded with `nft -f` into a node
//! network namespace, then real TCP and UDP traffic from a client namespace to pods that answer
//! with their own address. Each test builds its own namespaces (see `support/netns.rs` for the
//! topology and addresses), so the tests run in parallel, and removes them when it ends, also
//! when it fails.
//!
//! They need root, `ip`, `nft` and python3. Without them a test prints why it is skipped and
//! returns, except under `CI`, where it fails.
//!
//! Statistical checks use bounds at least six standard deviations wide: with N attempts over k
//! equally likely endpoints, an endpoint's share is checked against [1/(2k), min(1, 3/(2k))] or
//! wider, and N is chosen so that this is ≥ 6σ (a false failure is rarer than 1 in 10⁸ runs).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::netns::{
    self, list_ruleset, pod_ip, run_ok, Netns, Topology, CLIENT_IP, CLIENT_IP_2, CLUSTER_CIDR,
    NODE_IP, NODE_POD_GATEWAY,
};
use support::traffic::Probe;

/// The node the manifests are compiled for: endpoints with this `nodeName` are local.
const NODE_NAME: &str = "node-a";
/// A refusal comes back at once (an ICMP error or RST from the node); 0.5 s is far below the
/// 2 s connect timeout that a dropped packet would run into.
const REFUSAL_LIMIT: Duration = Duration::from_millis(500);

/// The topology with `pods` pods, or `None` when the test is skipped (see [`netns::host`]).
fn topology(test: &str, pods: usize) -> Option<Topology> {
    let host = netns::host(test)?;
    Some(Topology::build(host, pods))
}

/// `svcc compile --target nft` of files under `corpus/e2e/`, for [`NODE_NAME`].
fn compile(manifests: &[&str]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/e2e");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .args(["compile", "--target", "nft", "--node", NODE_NAME])
            .args(["--cluster-cidr", CLUSTER_CIDR])
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

/// The harness itself, against a small hand-written ruleset: traffic is balanced, a reject is
/// seen as a fast refusal, and a drop as a timeout. If this fails, the environment is at fault,
/// not svcc.
#[test]
fn harness_self_test_with_hand_written_ruleset() {
    let Some(t) = topology("harness_self_test_with_hand_written_ruleset", 3) else {
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
    let dropped = Probe::tcp("10.96.0.30", 80, 1)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(
        (dropped.errors().get("timeout") == Some(&1))
            .then_some(())
            .ok_or_else(|| format!("expected a timeout, got {}", dropped.summary())),
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
    let Some(t) = topology("clusterip_tcp_reaches_every_endpoint_and_only_them", 4) else {
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
    let Some(t) = topology("clusterip_udp_reaches_every_endpoint", 3) else {
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
    let Some(t) = topology("nodeport_on_node_address_reaches_endpoints", 3) else {
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

/// Scenario 4: an externalIP routed to the node (which does not own it) reaches the endpoints.
#[test]
fn external_ip_reaches_endpoints() {
    let Some(t) = topology("external_ip_reaches_endpoints", 3) else {
        return;
    };
    t.apply(&compile(&["externalip.yaml"]));

    let tally = Probe::tcp("172.31.200.10", 80, 200).run(&t);
    t.ensure(tally.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    t.ensure(tally.peers_are(&NODE_POD_GATEWAY.to_string()));
    // Another port on the externalIP is not the Service's.
    t.ensure(
        Probe::tcp("172.31.200.10", 81, 1)
            .timeout(Duration::from_secs(1))
            .run(&t)
            .none_answered(),
    );
}

/// Scenario 5: a Service without endpoints refuses at once, on its ClusterIP and its NodePort.
#[test]
fn service_without_endpoints_refuses_at_once() {
    let Some(t) = topology("service_without_endpoints_refuses_at_once", 2) else {
        return;
    };
    t.apply(&compile(&["no-endpoints.yaml"]));

    for (host, port) in [("10.96.0.50".to_owned(), 80), (NODE_IP.to_string(), 30050)] {
        let tally = Probe::tcp(host, port, 5).run(&t);
        t.ensure(tally.refused_within(REFUSAL_LIMIT));
    }
}

/// Scenario 6: ClientIP affinity: each client address stays on the endpoint it first reached.
#[test]
fn client_ip_affinity_keeps_a_client_on_one_endpoint() {
    let Some(t) = topology("client_ip_affinity_keeps_a_client_on_one_endpoint", 3) else {
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
    let Some(t) = topology("unknown_port_on_cluster_ip_is_refused", 3) else {
        return;
    };
    t.apply(&compile(&["clusterip.yaml"]));

    // The Service's own port works, so a refusal below is the ruleset's doing.
    t.ensure(
        Probe::tcp("10.96.0.10", 80, 30)
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
    let Some(t) = topology("terminating_endpoints_serve_as_fallback", 3) else {
        return;
    };
    t.apply(&compile(&["terminating.yaml"]));

    let draining = Probe::tcp("10.96.0.80", 80, 200).run(&t);
    t.ensure(draining.spread(&eps(&[1, 2], 8080), 0.25, 0.75));
    let mixed = Probe::tcp("10.96.0.81", 80, 40).run(&t);
    t.ensure(mixed.reached_exactly(&eps(&[1], 8080)));
}

/// Scenario 9: externalTrafficPolicy Local: NodePort traffic from outside reaches only the
/// endpoints on this node and keeps its source address; the ClusterIP still reaches every endpoint.
#[test]
fn external_traffic_policy_local_uses_only_local_endpoints() {
    let Some(t) = topology("external_traffic_policy_local_uses_only_local_endpoints", 3) else {
        return;
    };
    t.apply(&compile(&["etp-local.yaml"]));

    let nodeport = Probe::tcp(NODE_IP, 30090, 200).run(&t);
    t.ensure(nodeport.spread(&eps(&[1, 3], 8080), 0.25, 0.75));
    t.ensure(nodeport.peers_are(&CLIENT_IP.to_string()));
    // Pod 2 ("on node-b") is alive and reached through the ClusterIP.
    let cluster = Probe::tcp("10.96.0.90", 80, 90).run(&t);
    t.ensure(cluster.reached_exactly(&eps(&[1, 2, 3], 8080)));
}

/// Scenario 10: applying a new compilation moves traffic and replaces the old ruleset entirely: the
/// result equals the new ruleset loaded into a fresh namespace, and applying it again changes
/// nothing.
#[test]
fn reapplying_replaces_the_previous_ruleset() {
    let Some(t) = topology("reapplying_replaces_the_previous_ruleset", 3) else {
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

    // 2 → traffic moved: never pod 1 again.
    let moved = Probe::tcp("10.96.0.100", 80, 100).run(&t);
    t.ensure(moved.reached_exactly(&eps(&[2], 8080)));
    let added = Probe::tcp("10.96.0.102", 80, 20).run(&t);
    t.ensure(added.reached_exactly(&eps(&[3], 8080)));
    let gone = Probe::tcp("10.96.0.101", 80, 2)
        .timeout(Duration::from_secs(1))
        .run(&t);
    t.ensure(gone.none_answered());
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

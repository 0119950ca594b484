//! End-to-end traffic tests: `svcc compile --target nft` output loaded with `nft -f` into a node
//! network namespace, then real TCP and UDP traffic from a client namespace to pods that answer
//! with their own address. Each test builds its own namespaces (see `support/netns.rs` for the
//! topology and addresses), so the tests run in parallel, and removes them when it ends, also
//! when it fails. The scenarios are shared with the iptables target (`support/scenarios.rs`,
//! each taking the target as a parameter); the harness self-test and the re-apply scenario are
//! nft's own; `kube_proxy::*` sends kube-proxy's own packet-flow cases (`corpus/kube-proxy/`).
//!
//! `SVCC_E2E_BIN=PATH` runs them against another svcc binary.
//!
//! They need root, `ip`, `nft` and python3. Without them a test fails, saying what to install,
//! unless `SVCC_ALLOW_SKIP=1` (then it is skipped and counted; see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::time::Duration;
use support::netns::{list_ruleset, pod_ip, run_ok, Netns, NODE_POD_GATEWAY};
use support::oracle::Target;
use support::scenarios::{compile, eps, topology, REFUSAL_LIMIT};
use support::traffic::Probe;

crate::e2e_scenarios!(Target::Nft);

/// The harness itself, against a small hand-written ruleset: traffic is balanced, a reject is
/// seen as a fast refusal, and a drop as a timeout. If this fails, the environment is at fault,
/// not svcc.
#[test]
fn harness_self_test_with_hand_written_ruleset() {
    let Some(t) = topology(Target::Nft, 3) else {
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

/// Applying a new compilation moves traffic and replaces the old ruleset entirely: the
/// result equals the new ruleset loaded into a fresh namespace, and applying it again changes
/// nothing.
#[test]
fn reapplying_replaces_the_previous_ruleset() {
    let Some(t) = topology(Target::Nft, 3) else {
        return;
    };
    let (v1, v2) = (
        compile(Target::Nft, &["reapply-v1.yaml"], &[]),
        compile(Target::Nft, &["reapply-v2.yaml"], &[]),
    );
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

//! `svcc trace`: the verdicts the ruleset would give, with probabilities and the lines
//! responsible. (The kernel-agreement tests live with the network-namespace tests.)

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::process::Command;

fn trace(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args([
            "trace",
            "corpus/trace/cluster.yaml",
            "--node",
            "node-a",
            "--cluster-cidr",
            "10.244.0.0/16",
            "--format",
            "json",
        ])
        .args(args)
        .output()
        .expect("run svcc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn endpoints(v: &serde_json::Value) -> Vec<String> {
    v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}:{}", c["ip"].as_str().unwrap(), c["port"]))
        .collect()
}

#[test]
fn cluster_ip_reaches_every_ready_endpoint_with_equal_probability() {
    let v = trace(&["--to", "10.96.0.10:53/udp", "--from", "10.244.3.3"]);
    assert_eq!(v["verdict"], "dnat");
    assert_eq!(v["entry"], "cluster-ip");
    assert_eq!(endpoints(&v), ["10.244.0.2:53", "10.244.1.2:53"]);
    assert_eq!(v["candidates"][0]["probability"], 0.5);
    assert_eq!(v["masquerade"], false, "pod source inside the cluster CIDR");
    assert_eq!(v["service_location"], "corpus/trace/cluster.yaml:11:5");
    assert!(v["candidate_locations"][1]
        .as_str()
        .unwrap()
        .starts_with("corpus/trace/cluster.yaml:26:"));
    let v = trace(&["--to", "10.96.0.10:53/tcp", "--from", "192.168.0.9"]);
    assert_eq!(
        v["masquerade"], true,
        "node or outside source to a ClusterIP is masqueraded"
    );
}

#[test]
fn wrong_port_unallocated_ip_and_no_endpoints() {
    assert_eq!(trace(&["--to", "10.96.0.10:54/udp"])["verdict"], "reject");
    assert_eq!(trace(&["--to", "10.96.0.11:53/udp"])["verdict"], "drop");
    assert_eq!(trace(&["--to", "10.96.0.99:80/tcp"])["verdict"], "reject");
    assert_eq!(trace(&["--to", "192.0.2.1:22/tcp"])["verdict"], "none");
}

#[test]
fn node_port_with_local_policy_uses_local_endpoints_for_outside_clients() {
    let v = trace(&["--to", "192.168.0.2:30080/tcp", "--from", "203.0.113.7"]);
    assert_eq!(v["entry"], "node-port");
    assert_eq!(v["policy"], "Local");
    assert_eq!(endpoints(&v), ["10.244.0.5:8080"], "only node-a's endpoint");
    assert_eq!(v["masquerade"], false, "the client address is preserved");
    // A pod is short-circuited to every endpoint, as kube-proxy does.
    let v = trace(&["--to", "192.168.0.2:30080/tcp", "--from", "10.244.1.9"]);
    assert_eq!(endpoints(&v), ["10.244.0.5:8080", "10.244.1.5:8080"]);
    // Terminating-but-serving endpoints are not used while ready ones exist.
    assert!(!endpoints(&v).contains(&"10.244.1.6:8080".to_owned()));
}

#[test]
fn load_balancer_source_ranges_and_affinity() {
    let v = trace(&["--to", "203.0.113.10:443/tcp", "--from", "198.51.100.7"]);
    assert_eq!(v["verdict"], "dnat");
    assert_eq!(v["affinity_seconds"], 10800);
    let v = trace(&["--to", "203.0.113.10:443/tcp", "--from", "192.0.2.50"]);
    assert_eq!(v["verdict"], "drop");
    assert!(v["reason"]
        .as_str()
        .unwrap()
        .contains("loadBalancerSourceRanges"));
}

#[test]
fn human_output_names_the_lines() {
    let out = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args([
            "trace",
            "corpus/trace/cluster.yaml",
            "--to",
            "10.96.0.10:53/udp",
            "--from",
            "10.244.3.3",
            "--cluster-cidr",
            "10.244.0.0/16",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    insta::with_settings!({snapshot_path => "../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("kube_dns_udp", text);
    });
    let bad = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args([
            "trace",
            "corpus/trace/cluster.yaml",
            "--to",
            "10.96.0.10/udp",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected IP:PORT/PROTO"));
}

// See: issue #14 (trace exited 2 on input errors; the README says 1 means errors found).
#[test]
fn trace_exit_codes_follow_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 0}]\n",
    )
    .unwrap();
    let trace = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .arg("trace")
            .arg(path)
            .args(["--to", "10.96.0.10:53/udp"])
            .output()
            .unwrap()
    };
    let out = trace(&broken);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input has 1 errors"));
    let out = trace(&dir.path().join("missing.yaml"));
    assert_eq!(out.status.code(), Some(2));
    // A host-bit --cluster-cidr is refused as `compile` refuses it.
    let out = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args([
            "trace",
            "corpus/trace/cluster.yaml",
            "--to",
            "10.96.0.10:53/udp",
            "--cluster-cidr",
            "10.244.0.1/16",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has host bits set"));
}

/// kube-proxy's packet-flow tests (`corpus/kube-proxy/`): what `svcc trace` says of every
/// case, for each target, is what kube-proxy's tracer expects (see `support/oracle.rs`).
mod kube_proxy {
    use super::support::oracle::{check_trace, Target};

    crate::oracle_tests!(check_trace, Target::Nft,
        nft_no_endpoints_reject => "no-endpoints-reject",
        nft_cluster_ip_general => "cluster-ip-general",
        nft_load_balancer => "load-balancer",
        nft_node_ports => "node-ports",
        nft_external_traffic_policy_local => "external-traffic-policy-local",
        nft_external_traffic_policy_cluster => "external-traffic-policy-cluster",
        nft_internal_traffic_policy => "internal-traffic-policy",
        nft_terminating_endpoints_local => "terminating-endpoints-local",
        nft_terminating_endpoints_cluster => "terminating-endpoints-cluster",
        nft_internal_external_masquerade => "internal-external-masquerade",
    );

    crate::oracle_tests!(check_trace, Target::Iptables,
        iptables_trace_packet => "trace-packet",
        iptables_no_endpoints_reject => "no-endpoints-reject",
        iptables_cluster_ip_general => "cluster-ip-general",
        iptables_load_balancer => "load-balancer",
        iptables_node_ports => "node-ports",
        iptables_health_check_node_port => "health-check-node-port",
        iptables_external_traffic_policy_local => "external-traffic-policy-local",
        iptables_external_traffic_policy_cluster => "external-traffic-policy-cluster",
        iptables_internal_traffic_policy => "internal-traffic-policy",
        iptables_terminating_endpoints_local => "terminating-endpoints-local",
        iptables_terminating_endpoints_cluster => "terminating-endpoints-cluster",
        iptables_internal_external_masquerade => "internal-external-masquerade",
    );
}

// See: issue #15 (trace said "masquerade" for pod traffic to an externalTrafficPolicy: Local
// Service's external addresses; kube-proxy and svcc's rulesets leave it alone).
#[test]
fn pods_reach_local_policy_external_addresses_unmasqueraded() {
    let run = |to: &str, from: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_svcc"))
            .args(["trace", "corpus/compile/etp-local.yaml", "--node", "node-1"])
            .args(["--cluster-cidr", "10.244.0.0/16", "--format", "json"])
            .args(["--node-ip", "192.168.0.2", "--to", to, "--from", from])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    for to in ["198.18.0.20:80/tcp", "192.168.0.2:30081/tcp"] {
        let v = run(to, "10.244.5.5");
        assert_eq!(v["verdict"], "dnat", "{to}");
        assert_eq!(endpoints(&v).len(), 2, "{to}: every endpoint");
        assert_eq!(v["masquerade"], false, "{to}");
        // The node itself: every endpoint too, masqueraded.
        let v = run(to, "192.168.0.2");
        assert_eq!(endpoints(&v).len(), 2, "{to}");
        assert_eq!(v["masquerade"], true, "{to}");
        assert_eq!(v["masquerade_mark"], "0x4000", "{to}");
        // Outside: this node's endpoint, source kept.
        let v = run(to, "203.0.113.9");
        assert_eq!(endpoints(&v), ["10.244.1.30:8080"], "{to}");
        assert_eq!(v["masquerade"], false, "{to}");
    }
}

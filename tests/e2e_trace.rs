//! `svcc trace` against the kernel: for clusters of the nftables end-to-end tests, the
//! endpoints `trace` predicts are exactly those real connections reach through the ruleset
//! loaded in a network namespace, and its reject/drop verdicts are what connections see
//! (a fast refusal, a timeout). The same for the iptables target, whose rules leave packets to
//! unknown ports alone (`svcc trace --target iptables` says so). Same harness and rules as
//! `tests/e2e_nft.rs` and `tests/e2e_iptables.rs`: root, `ip`, `nft`, python3 (and
//! `iptables-restore` for the iptables target), or the test fails unless `SVCC_ALLOW_SKIP=1`.

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::netns::{self, run_ok, Topology, CLIENT_IP, CLUSTER_CIDR, NODE_IP};
use support::traffic::Probe;
use support::Need;

const NODE_NAME: &str = "node-a";

fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/e2e")
        .join(name)
        .display()
        .to_string()
}

fn compile(name: &str) -> String {
    compile_for("nft", name)
}

/// `svcc compile --target TARGET` of a file under `corpus/e2e/`, for [`NODE_NAME`].
fn compile_for(target: &str, name: &str) -> String {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .args(["compile", "-q", "--target", target, "--node", NODE_NAME])
            .args(["--cluster-cidr", CLUSTER_CIDR])
            .arg(manifest(name)),
        None,
    )
}

/// Loads iptables-restore input (with its jumps) into the node namespace.
fn load_iptables(t: &Topology, input: &str) {
    let mut cmd = t.node.exec("iptables-restore");
    cmd.arg("--noflush");
    let out = netns::run_bounded(&mut cmd, Some(input.as_bytes()), netns::COMMAND_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        t.fail(&format!(
            "iptables-restore refused the input: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

/// What `svcc trace --target TARGET` predicts: the verdict and the endpoints (`ip:port`).
fn predict_for(target: &str, name: &str, to: &str, from: &str) -> (String, Vec<String>) {
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .args([
                "trace", "--format", "json", "--target", target, "--node", NODE_NAME,
            ])
            .args(["--cluster-cidr", CLUSTER_CIDR, "--to", to, "--from", from])
            .arg(manifest(name)),
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("trace JSON");
    let mut endpoints: Vec<String> = v["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| format!("{}:{}", c["ip"].as_str().unwrap(), c["port"]))
        .collect();
    endpoints.sort();
    (v["verdict"].as_str().unwrap().to_owned(), endpoints)
}

/// Connects as `probe` says and checks the kernel did what the trace predicted.
fn agree(t: &Topology, name: &str, to: &str, probe: Probe, n: usize) {
    agree_for("nft", t, name, to, probe, n);
}

fn agree_for(target: &str, t: &Topology, name: &str, to: &str, probe: Probe, n: usize) {
    let (verdict, predicted) = predict_for(target, name, to, &CLIENT_IP.to_string());
    let tally = probe.run(t);
    match verdict.as_str() {
        "dnat" => {
            // Enough connections that every predicted endpoint is reached (p(miss) < 1e-8).
            assert!(
                n >= 30 * predicted.len(),
                "too few connections for the check"
            );
            t.ensure(tally.reached_exactly(&predicted));
        }
        "reject" => t.ensure(tally.refused_within(Duration::from_millis(500))),
        "drop" => t.ensure(tally.timed_out()),
        // Not touched by svcc's rules: no endpoint answers (the packet is routed as is).
        "none" => t.ensure(tally.none_answered()),
        other => panic!("{name} {to}: unexpected verdict {other}"),
    }
}

/// The topology with `pods` pods, or `None` when the test is skipped (see [`netns::host`]).
fn topology(pods: usize) -> Option<Topology> {
    Some(Topology::build(netns::host()?, pods))
}

#[test]
fn cluster_ip_endpoints_match_the_kernel() {
    let Some(t) = topology(4) else {
        return;
    };
    t.apply(&compile("clusterip.yaml"));
    agree(
        &t,
        "clusterip.yaml",
        "10.96.0.10:80/tcp",
        Probe::tcp("10.96.0.10", 80, 150),
        150,
    );
    // A port the ClusterIP does not serve: trace says reject, the kernel refuses.
    agree(
        &t,
        "clusterip.yaml",
        "10.96.0.10:81/tcp",
        Probe::tcp("10.96.0.10", 81, 3),
        3,
    );
}

#[test]
fn local_policy_node_port_matches_the_kernel() {
    let Some(t) = topology(4) else {
        return;
    };
    t.apply(&compile("etp-local.yaml"));
    let to = format!("{NODE_IP}:30090/tcp");
    agree(
        &t,
        "etp-local.yaml",
        &to,
        Probe::tcp(NODE_IP, 30090, 120),
        120,
    );
    agree(
        &t,
        "etp-local.yaml",
        "10.96.0.90:80/tcp",
        Probe::tcp("10.96.0.90", 80, 120),
        120,
    );
}

#[test]
fn no_endpoints_and_terminating_fallback_match_the_kernel() {
    let Some(t) = topology(3) else {
        return;
    };
    t.apply(&compile("no-endpoints.yaml"));
    agree(
        &t,
        "no-endpoints.yaml",
        "10.96.0.50:80/tcp",
        Probe::tcp("10.96.0.50", 80, 3),
        3,
    );
    t.apply(&compile("terminating.yaml"));
    agree(
        &t,
        "terminating.yaml",
        "10.96.0.80:80/tcp",
        Probe::tcp("10.96.0.80", 80, 90),
        90,
    );
    agree(
        &t,
        "terminating.yaml",
        "10.96.0.81:80/tcp",
        Probe::tcp("10.96.0.81", 80, 40),
        40,
    );
}

#[test]
fn unallocated_service_address_is_dropped_as_traced() {
    let Some(t) = topology(2) else {
        return;
    };
    t.apply(&compile("clusterip.yaml"));
    agree(
        &t,
        "clusterip.yaml",
        "10.96.0.99:80/tcp",
        Probe::tcp("10.96.0.99", 80, 1).timeout(Duration::from_secs(1)),
        1,
    );
}

#[test]
fn iptables_target_agrees_with_trace() {
    let Ok(()) = support::require(&["iptables-restore"], Need::Root) else {
        return;
    };
    let Some(t) = topology(4) else {
        return;
    };
    load_iptables(&t, &compile_for("iptables", "clusterip.yaml"));
    let probe =
        |host: &str, port: u16, n: usize| Probe::tcp(host, port, n).timeout(Duration::from_secs(1));
    agree_for(
        "iptables",
        &t,
        "clusterip.yaml",
        "10.96.0.10:80/tcp",
        probe("10.96.0.10", 80, 150),
        150,
    );
    // Unknown port: trace says the iptables rules leave it alone; nothing answers.
    agree_for(
        "iptables",
        &t,
        "clusterip.yaml",
        "10.96.0.10:81/tcp",
        probe("10.96.0.10", 81, 1),
        1,
    );
    load_iptables(&t, &compile_for("iptables", "etp-local.yaml"));
    let to = format!("{NODE_IP}:30090/tcp");
    agree_for(
        "iptables",
        &t,
        "etp-local.yaml",
        &to,
        probe(&NODE_IP.to_string(), 30090, 120),
        120,
    );
    load_iptables(&t, &compile_for("iptables", "no-endpoints.yaml"));
    agree_for(
        "iptables",
        &t,
        "no-endpoints.yaml",
        "10.96.0.50:80/tcp",
        probe("10.96.0.50", 80, 3),
        3,
    );
}

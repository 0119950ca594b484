//! Properties over generated clusters (proptest): every valid cluster compiles, its ruleset
//! passes `nft -c` and `iptables-restore --test` (both need root) and its zone passes
//! `named-checkzone`; every mutation that breaks a rule is reported at the mutated field and
//! nothing is emitted. The tools are required once, before the property runs: without them
//! the test fails unless `SVCC_ALLOW_SKIP=1` (see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use proptest::prelude::*;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use support::Need;
use svcc::pipeline::{compile_text, Settings};
use svcc::plan::LowerOptions;

#[derive(Clone, Debug)]
struct Svc {
    name: String,
    kind: u8,
    ports: Vec<(u16, bool)>,
    endpoints: Vec<(u8, bool)>,
    affinity: Option<u32>,
}

fn service() -> impl Strategy<Value = Svc> {
    (
        "[a-z][a-z0-9]{0,6}",
        0u8..5,
        proptest::collection::vec((1u16..=65535, any::<bool>()), 1..4),
        proptest::collection::vec((1u8..250, any::<bool>()), 0..5),
        proptest::option::of(1u32..=86400),
    )
        .prop_map(|(name, kind, ports, endpoints, affinity)| Svc {
            name,
            kind,
            ports,
            endpoints,
            affinity,
        })
}

/// A cluster as manifest text: each Service gets an explicit clusterIP and nodePorts, and an
/// EndpointSlice with its endpoints.
fn cluster(services: &[Svc]) -> String {
    let mut out = String::new();
    for (i, s) in services.iter().enumerate() {
        let name = format!("{}-{i}", s.name);
        let kind = [
            "ClusterIP",
            "NodePort",
            "LoadBalancer",
            "ClusterIP",
            "ExternalName",
        ][s.kind as usize];
        let headless = s.kind == 3;
        let _ = writeln!(out, "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns{}}}\nspec:\n  type: {kind}", i % 3);
        if kind == "ExternalName" {
            let _ = writeln!(out, "  externalName: {name}.example.com");
            continue;
        }
        let ip = if headless {
            "None".to_owned()
        } else {
            format!("10.96.{}.{}", i / 200, 1 + i % 200)
        };
        let _ = writeln!(out, "  clusterIP: {ip}");
        if let (Some(t), false) = (s.affinity, headless) {
            let _ = writeln!(out, "  sessionAffinity: ClientIP\n  sessionAffinityConfig: {{clientIP: {{timeoutSeconds: {t}}}}}");
        }
        out.push_str("  ports:\n");
        let mut seen = std::collections::BTreeSet::new();
        for (k, (port, udp)) in s.ports.iter().enumerate() {
            let proto = if *udp { "UDP" } else { "TCP" };
            if !seen.insert((*port, proto)) {
                continue;
            }
            let _ = write!(out, "  - {{name: p{k}, port: {port}, protocol: {proto}");
            if !headless && kind != "ClusterIP" {
                let _ = write!(out, ", nodePort: {}", 30000 + (i * 4 + k) % 2700);
            }
            out.push_str("}\n");
        }
        let _ = writeln!(out, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  namespace: ns{}\n  labels: {{kubernetes.io/service-name: {name}}}\naddressType: IPv4\nports:", i % 3);
        for (k, (port, udp)) in s.ports.iter().enumerate() {
            let _ = writeln!(
                out,
                "- {{name: p{k}, port: {port}, protocol: {}}}",
                if *udp { "UDP" } else { "TCP" }
            );
        }
        out.push_str("endpoints:\n");
        for (host, ready) in &s.endpoints {
            let _ = writeln!(
                out,
                "- {{addresses: [10.244.{i}.{host}], conditions: {{ready: {ready}}}}}"
            );
        }
        if s.endpoints.is_empty() {
            out.push_str("[]\n");
        }
    }
    out
}

fn fixed(text: &str) -> String {
    // Endpoints listed as `endpoints:\n[]` are written `endpoints: []`.
    text.replace("endpoints:\n[]\n", "endpoints: []\n")
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The tools judge each valid cluster's outputs; they are required once, before the property
/// runs, so the property never meets a missing tool.
#[test]
fn valid_clusters_compile_and_the_tools_accept_them() {
    let Ok(()) = support::require(&["nft", "iptables-restore", "named-checkzone"], Need::Root)
    else {
        return;
    };
    proptest!(config(), |(services in proptest::collection::vec(service(), 1..8))| {
        let text = fixed(&cluster(&services));
        let compiled = compile_text("gen.yaml", &text, &Settings::default(), &LowerOptions { node: Some("n1".into()), ..Default::default() }).unwrap();
        let errors: Vec<_> = compiled.outcome.diagnostics.iter().filter(|d| d.severity == svcc::diag::Severity::Error).collect();
        prop_assert!(errors.is_empty(), "{errors:#?}\n{text}");
        let plan = compiled.plan.expect("a plan");
        let mut ruleset = Vec::new();
        svcc::emit::nft::write(&plan, &svcc::emit::nft::Options::default(), &mut ruleset).unwrap();
        let ruleset = String::from_utf8(ruleset).unwrap();
        // `nft -c` checks against the kernel without changing anything.
        let (ok, msg) = run_with_stdin(Command::new("nft").args(["-c", "-f", "-"]), &ruleset);
        prop_assert!(ok, "nft -c refused:\n{msg}\n{ruleset}");
        let mut restore = Vec::new();
        svcc::emit::iptables::write(&plan, &svcc::emit::iptables::Options::default(), &mut restore).unwrap();
        let restore = String::from_utf8(restore).unwrap();
        // `--test` parses and checks without committing anything.
        let (ok, msg) = run_with_stdin(Command::new("iptables-restore").args(["--test", "--noflush"]), &restore);
        prop_assert!(ok, "iptables-restore --test refused:\n{msg}\n{restore}");
        let zones = svcc::emit::dns::zones(&plan, &svcc::emit::dns::Options::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, &zones[0].text).unwrap();
        let out = Command::new("named-checkzone").args(["-k", "fail", "-i", "full", "cluster.local"]).arg(&path).output().unwrap();
        prop_assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), zones[0].text);
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutations_are_reported_at_the_mutated_field(services in proptest::collection::vec(service(), 1..4), which in 0usize..6) {
        let mut text = fixed(&cluster(&services));
        // The first Service that is not an ExternalName is mutated.
        let Some(target) = services.iter().position(|s| s.kind != 4) else { return Ok(()) };
        let name = format!("{}-{target}", services[target].name);
        let start = text.find(&format!("metadata: {{name: {name}, namespace:")).unwrap();
        let end = text[start..].find("---").map_or(text.len(), |e| start + e);
        let mut block = text[start..end].to_owned();
        let first_port = services[target].ports[0].0;
        let (rule, path) = match which {
            0 => { block = block.replacen(&format!("port: {first_port},"), "port: 70000,", 1); ("port-out-of-range", "spec.ports[0].port") }
            1 => { block = block.replacen(&format!("name: {name},"), &format!("name: {}X,", name), 1); ("invalid-name", "metadata.name") }
            2 => { block = block.replacen("protocol: TCP", "protocol: HTTP", 1).replacen("protocol: UDP", "protocol: HTTP", 1); ("invalid-protocol", "spec.ports[0].protocol") }
            3 if services[target].kind != 3 => { block = block.replacen("clusterIP: 10.96.", "clusterIP: 10.200.", 1); ("cluster-ip-out-of-range", "spec.clusterIP") }
            4 => { block = block.replacen("  ports:\n", "  sessionAffinity: Sometimes\n  ports:\n", 1); ("invalid-session-affinity", "spec.sessionAffinity") }
            _ => { block = block.replacen("  ports:\n", "  ipFamilyPolicy: RequireDualStack\n  ports:\n", 1); ("ip-family-not-configured", "spec.ipFamilyPolicy") }
        };
        // Headless Services have no clusterIP to move, and a selector-less headless Service may
        // ask for dual-stack on any cluster.
        if which >= 3 && which != 4 && services[target].kind == 3 { return Ok(()) }
        text.replace_range(start..end, &block);
        // Declared: findings against the service CIDRs are errors only for a declared profile.
        let mut settings = Settings::default();
        settings.profile.service_cidrs_declared = true;
        let compiled = compile_text("gen.yaml", &text, &settings, &LowerOptions::default()).unwrap();
        prop_assert!(compiled.plan.is_none(), "nothing may be emitted:\n{text}");
        let object = if which == 1 { format!("{name}X") } else { name.clone() };
        let hit = compiled.outcome.diagnostics.iter().any(|d| {
            d.rule == rule && d.path.as_deref() == Some(path) && d.object.as_ref().and_then(|o| o.name.as_deref()) == Some(object.as_str())
        });
        prop_assert!(hit, "no `{rule}` at `{path}`: {:#?}\n{text}", compiled.outcome.diagnostics);
    }
}

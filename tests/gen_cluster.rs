//! The benchmark cluster generator (`examples/gen-cluster.rs`) makes clusters that svcc accepts
//! without a single finding, in both layouts, and always the same bytes for the same arguments.

#[path = "../examples/gen-cluster.rs"]
#[allow(dead_code)]
mod gen_cluster;

use gen_cluster::{generate, Config};
use svcc::pipeline::{self, Settings};
use svcc::plan::LowerOptions;

fn clean(cfg: &Config) -> gen_cluster::Stats {
    let (text, stats) = generate(cfg).expect("generate");
    let compiled = pipeline::compile_text(
        "generated.yaml",
        &text,
        &Settings::default(),
        &LowerOptions::default(),
    )
    .expect("schemas");
    let findings: Vec<String> = compiled
        .outcome
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.rule, d.message))
        .collect();
    assert!(findings.is_empty(), "{cfg:?}: {findings:#?}");
    let plan = compiled.plan.expect("a plan: no errors");
    let mut nft = Vec::new();
    svcc::emit::nft::write(&plan, &Default::default(), &mut nft).expect("nft");
    let expected_objects = stats.services + stats.deployments + stats.endpoint_slices;
    assert_eq!(
        compiled.outcome.summary.objects, expected_objects,
        "{cfg:?}"
    );
    stats
}

#[test]
fn generated_clusters_check_clean_in_both_layouts() {
    for (services, endpoints, seed) in [(1, 1, 1), (2, 3, 9), (300, 10, 1), (300, 4, 42)] {
        for list in [false, true] {
            let cfg = Config {
                services,
                endpoints,
                seed,
                list,
            };
            let stats = clean(&cfg);
            assert_eq!(stats.services, services);
            assert!(stats.first.is_some() && stats.last.is_some());
        }
    }
}

#[test]
fn large_services_are_split_into_slices_of_at_most_100() {
    let stats = clean(&Config {
        services: 12,
        endpoints: 250,
        seed: 3,
        list: true,
    });
    // Every Service with endpoints has 250 of them: three slices (100, 100, 50).
    let with_endpoints = stats.services - stats.external_name;
    assert_eq!(stats.endpoints, with_endpoints * 250);
    assert_eq!(stats.endpoint_slices, with_endpoints * 3);
}

#[test]
fn the_mix_is_realistic_and_node_ports_stay_in_range() {
    let (_, stats) = generate(&Config {
        services: 6000,
        endpoints: 2,
        ..Config::default()
    })
    .expect("generate");
    // Every kind is present; nodePorts never exceed the 2768 of the default range.
    for (what, n) in [
        ("ClusterIP", stats.cluster_ip),
        ("headless", stats.headless),
        ("NodePort", stats.node_port),
        ("LoadBalancer", stats.load_balancer),
        ("ExternalName", stats.external_name),
        ("selector-less", stats.selectorless),
    ] {
        assert!(n > 0, "no {what} Service");
    }
    assert!(stats.node_ports <= 2768, "{}", stats.node_ports);
    assert!(
        stats.service_ports > stats.services,
        "some Services have several ports"
    );
}

#[test]
fn same_arguments_same_bytes() {
    let cfg = Config {
        services: 50,
        endpoints: 5,
        seed: 11,
        list: true,
    };
    assert_eq!(generate(&cfg).unwrap().0, generate(&cfg).unwrap().0);
    let other = Config { seed: 12, ..cfg };
    assert_ne!(generate(&other).unwrap().0, generate(&cfg).unwrap().0);
}

//! Snapshots of what `svcc check` reports, reviewed as diffs (`cargo insta review`):
//! human and JSON output for every seed file, and the findings on the real-world corpus.

use std::path::{Path, PathBuf};
use svcc::pipeline::{self, Settings};
use svcc::report::{self, Format, Report};

fn render(paths: &[PathBuf], format: Format) -> String {
    let outcome = pipeline::check_paths(paths, &Settings::default()).expect("schemas load");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
        summary: outcome.summary,
        color: false,
        unreadable: &[],
    };
    let mut out = Vec::new();
    report::write(format, &report, &mut out).expect("write to memory");
    String::from_utf8(out).expect("UTF-8 output")
}

fn seed_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus/seed/good", "corpus/seed/bad"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("seed corpus")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
}

fn snapshot_name(path: &Path) -> String {
    path.to_string_lossy()
        .trim_start_matches("corpus/")
        .replace(['/', '.'], "_")
}

#[test]
fn seed_files_human_and_json() {
    for file in seed_files() {
        let name = snapshot_name(&file);
        insta::with_settings!({
            snapshot_path => "../snapshots/check",
            prepend_module_to_snapshot => false,
            description => file.display().to_string(),
        }, {
            insta::assert_snapshot!(format!("{name}.human"), render(std::slice::from_ref(&file), Format::Human));
            insta::assert_snapshot!(format!("{name}.json"), render(std::slice::from_ref(&file), Format::Json));
        });
    }
}

#[test]
fn seed_good_as_one_cluster() {
    insta::with_settings!({snapshot_path => "../snapshots/check", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("seed_good_cluster.human", render(&[PathBuf::from("corpus/seed/good")], Format::Human));
    });
}

/// Files of the real corpus that are parts of one example (one upstream directory, or a
/// fixture split into `_service`/`_endpoint` files) and are checked together; every other file
/// is checked on its own, since the projects keep alternative variants of the same manifests
/// side by side (checking those together would only report duplicates).
const EXAMPLES: &[&str] = &[
    "kubernetes__examples/_archived__volumes__glusterfs__",
    "GoogleCloudPlatform__microservices-demo/kubernetes-manifests__",
    "Azure-Samples__aks-store-demo/kustomize__base__",
];

fn example_key(path: &str) -> String {
    for prefix in EXAMPLES {
        if path.contains(prefix) {
            return (*prefix).to_owned();
        }
    }
    for suffix in ["_endpoint.yaml", "_service.yaml"] {
        if let Some(stem) = path.strip_suffix(suffix) {
            return stem.to_owned();
        }
    }
    path.to_owned()
}

/// Every finding on 400 real-world manifests; each kind of finding is reviewed in
/// `corpus/real/REVIEW.md`.
#[test]
fn real_corpus_findings() {
    let mut files: Vec<String> = Vec::new();
    let mut stack = vec![PathBuf::from("corpus/real")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("corpus/real") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    let mut groups: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for f in files {
        groups
            .entry(example_key(&f))
            .or_default()
            .push(PathBuf::from(f));
    }
    let mut out = String::new();
    for (_, group) in groups {
        out.push_str(&render(&group, Format::Short));
    }
    insta::with_settings!({snapshot_path => "../snapshots/check", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("real_corpus.short", out);
    });
}

#[test]
fn output_is_deterministic() {
    let a = render(&[PathBuf::from("corpus/real")], Format::Json);
    let b = render(&[PathBuf::from("corpus/real")], Format::Json);
    assert_eq!(a, b);
}

/// The policy view (`plan::view`): what kube-proxy decides for each Service port, reviewed
/// without a target. Crafted clusters with pod CIDRs for node-1, and kube-proxy's own test
/// clusters (`corpus/kube-proxy/`) under its fixture's node configuration.
#[test]
fn policy_views() {
    use svcc::plan::view::{describe, Dataplane, Proxy};
    let nets =
        |list: &[&str]| -> Vec<ipnet::IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
    let pods = nets(&["10.244.0.0/16", "fd00:10:244::/56"]);
    let kube_proxy = Proxy {
        cluster_cidrs: nets(&["10.0.0.0/8", "fd00:10::/64"]),
        node_ips: vec![
            "192.168.0.2".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ],
        ..Proxy::default()
    };
    let mut cases: Vec<(String, PathBuf, Settings, &str, Proxy, Dataplane)> = Vec::new();
    let mut crafted: Vec<PathBuf> = std::fs::read_dir("corpus/compile")
        .expect("corpus/compile")
        .map(|e| e.expect("entry").path())
        .collect();
    crafted.sort();
    for path in crafted {
        let mut settings = Settings::default();
        if path.ends_with("dual-stack.yaml") {
            settings.profile.service_cidrs = svcc::config::parse_service_cidrs(
                &["10.96.0.0/12".to_owned(), "fd00:10:96::/112".to_owned()],
                "test",
            )
            .expect("CIDRs");
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let proxy = Proxy {
            cluster_cidrs: pods.clone(),
            ..Proxy::default()
        };
        cases.push((
            format!("compile-{name}"),
            path,
            settings,
            "node-1",
            proxy,
            Dataplane::Nft,
        ));
    }
    let mut kp = Settings::default();
    kp.profile.service_cidrs =
        svcc::config::parse_service_cidrs(&["172.30.0.0/16".to_owned()], "test").expect("CIDR");
    kp.profile.node_port_range = (3000, 32767);
    for (file, dataplane) in [
        ("load-balancer", Dataplane::Nft),
        ("external-traffic-policy-local", Dataplane::Nft),
        ("internal-external-masquerade", Dataplane::Nft),
        ("trace-packet", Dataplane::Iptables),
        ("node-ports.ipv4", Dataplane::Iptables),
    ] {
        let path = PathBuf::from(format!("corpus/kube-proxy/{file}.yaml"));
        let proxy = Proxy {
            localhost_nodeports: dataplane == Dataplane::Iptables,
            ..kube_proxy.clone()
        };
        cases.push((
            format!("kube-proxy-{file}"),
            path,
            kp.clone(),
            "test-node",
            proxy,
            dataplane,
        ));
    }
    for (name, path, settings, node, proxy, dataplane) in cases {
        let options = svcc::plan::LowerOptions {
            node: Some(node.to_owned()),
            dataplane_only: true,
        };
        let compiled = pipeline::compile(std::slice::from_ref(&path), &settings, &options)
            .expect("schemas load");
        let plan = compiled
            .plan
            .unwrap_or_else(|| panic!("{} does not compile", path.display()));
        let description = format!("{} --node {node}, {dataplane:?}, {proxy:?}", path.display());
        insta::with_settings!({
            snapshot_path => "../snapshots/plan",
            prepend_module_to_snapshot => false,
            description => description,
        }, {
            insta::assert_snapshot!(name, describe(&plan, &proxy, dataplane));
        });
    }
}

//! The nft target: snapshots of the ruleset for the seed corpus and the crafted clusters of
//! `corpus/compile/`, then the real judge: `nft -c -f` (and a real load) inside a fresh
//! network namespace for every crafted input, the seed corpus and every file of
//! `corpus/real` that compiles, plus atomic replacement of one output by another.
//!
//! The namespace tests need root, `nft` and `ip`. Without them they fail, saying what to
//! install, unless `SVCC_ALLOW_SKIP=1` (then they are skipped and counted; see
//! `support/require.rs`); they never pass silently.

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::Need;
use svcc::config::{parse_service_cidrs, Level};
use svcc::diag::Severity;
use svcc::emit::nft::{self, Options};
use svcc::pipeline::{self, Settings};
use svcc::plan::view::Proxy;
use svcc::plan::{LowerOptions, Plan};

const DUAL_STACK: &[&str] = &["10.96.0.0/12", "fd00:10:96::/112"];
const POD_CIDRS: &[&str] = &["10.244.0.0/16", "fd00:10:244::/56"];

fn settings(service_cidrs: &[&str]) -> Settings {
    let mut settings = Settings::default();
    if !service_cidrs.is_empty() {
        let cidrs: Vec<String> = service_cidrs.iter().map(|s| (*s).to_owned()).collect();
        settings.profile.service_cidrs = parse_service_cidrs(&cidrs, "test").expect("CIDRs");
    }
    // The seed corpus uses externalIPs on purpose; keep that finding a warning whatever
    // the catalogue's default is.
    settings.levels.insert(
        "external-ips-in-use".to_owned(),
        Level::On(Severity::Warning),
    );
    settings
}

/// The plan of `paths`, or `None` when `check` finds errors.
fn try_plan(paths: &[PathBuf], node: Option<&str>, service_cidrs: &[&str]) -> Option<Plan> {
    let options = LowerOptions {
        node: node.map(str::to_owned),
        ..Default::default()
    };
    let compiled =
        pipeline::compile(paths, &settings(service_cidrs), &options).expect("schemas load");
    compiled.plan
}

fn plan(paths: &[&str], node: Option<&str>, service_cidrs: &[&str]) -> Plan {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let options = LowerOptions {
        node: node.map(str::to_owned),
        ..Default::default()
    };
    let compiled =
        pipeline::compile(&paths, &settings(service_cidrs), &options).expect("schemas load");
    let errors: Vec<String> = compiled
        .outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.rule, d.message))
        .collect();
    compiled
        .plan
        .unwrap_or_else(|| panic!("{paths:?} does not compile: {errors:#?}"))
}

fn render(plan: &Plan, opts: &Options) -> String {
    let mut out = Vec::new();
    nft::write(plan, opts, &mut out).expect("nft target writes");
    String::from_utf8(out).expect("UTF-8")
}

fn nets(cidrs: &[&str]) -> Vec<ipnet::IpNet> {
    cidrs.iter().map(|c| c.parse().expect("CIDR")).collect()
}

/// One input compiled one way.
struct Case {
    name: &'static str,
    paths: &'static [&'static str],
    node: Option<&'static str>,
    service_cidrs: &'static [&'static str],
    opts: fn() -> Options,
}

fn default_opts() -> Options {
    Options::default()
}

fn pods_opts() -> Options {
    Options {
        proxy: Proxy {
            cluster_cidrs: nets(POD_CIDRS),
            ..Proxy::default()
        },
        ..Options::default()
    }
}

fn cases() -> Vec<Case> {
    let case = |name, paths, node, opts| Case {
        name,
        paths,
        node,
        service_cidrs: &[],
        opts,
    };
    vec![
        case("seed-good", &["corpus/seed/good"], None, default_opts),
        case(
            "seed-good.node-1",
            &["corpus/seed/good"],
            Some("node-1"),
            pods_opts,
        ),
        case(
            "multi-port",
            &["corpus/compile/multi-port.yaml"],
            None,
            pods_opts,
        ),
        case(
            "multi-port.masquerade-all",
            &["corpus/compile/multi-port.yaml"],
            None,
            || Options {
                proxy: Proxy {
                    masquerade_all: true,
                    ..Proxy::default()
                },
                ..Options::default()
            },
        ),
        case("udp-dns", &["corpus/compile/udp-dns.yaml"], None, pods_opts),
        case(
            "nodeport",
            &["corpus/compile/nodeport.yaml"],
            None,
            pods_opts,
        ),
        case(
            "nodeport.nodeport-addresses",
            &["corpus/compile/nodeport.yaml"],
            None,
            || {
                let mut opts = pods_opts();
                opts.proxy.nodeport_addresses = nets(&["192.168.0.0/16", "10.0.0.0/8", "fd00::/8"]);
                opts
            },
        ),
        case(
            "nodeport.nodeport-addresses-all",
            &["corpus/compile/nodeport.yaml"],
            None,
            || {
                let mut opts = pods_opts();
                opts.proxy.nodeport_addresses = nets(&["0.0.0.0/0"]);
                opts
            },
        ),
        case(
            "loadbalancer",
            &["corpus/compile/loadbalancer.yaml"],
            None,
            pods_opts,
        ),
        // A node IP inside a source range admits the LoadBalancer IPs; another mark.
        case(
            "loadbalancer.node-ip",
            &["corpus/compile/loadbalancer.yaml"],
            None,
            || {
                let mut opts = pods_opts();
                opts.proxy.node_ips = vec!["203.0.113.5".parse().unwrap()];
                opts.proxy.masquerade_bit = 15;
                opts
            },
        ),
        // NodePorts on the node IPs, kube-proxy's nftables default.
        case(
            "nodeport.node-ip",
            &["corpus/compile/nodeport.yaml"],
            None,
            || {
                let mut opts = pods_opts();
                opts.proxy.node_ips =
                    vec!["192.168.0.2".parse().unwrap(), "fd00:1::2".parse().unwrap()];
                opts
            },
        ),
        case(
            "external-ips",
            &["corpus/compile/external-ips.yaml"],
            None,
            pods_opts,
        ),
        case(
            "etp-local.node-1",
            &["corpus/compile/etp-local.yaml"],
            Some("node-1"),
            pods_opts,
        ),
        case(
            "etp-local.node-3",
            &["corpus/compile/etp-local.yaml"],
            Some("node-3"),
            pods_opts,
        ),
        case(
            "etp-local.no-cluster-cidr",
            &["corpus/compile/etp-local.yaml"],
            Some("node-1"),
            default_opts,
        ),
        case(
            "itp-local.node-1",
            &["corpus/compile/itp-local.yaml"],
            Some("node-1"),
            pods_opts,
        ),
        case(
            "itp-local.node-3",
            &["corpus/compile/itp-local.yaml"],
            Some("node-3"),
            pods_opts,
        ),
        case(
            "no-endpoints",
            &["corpus/compile/no-endpoints.yaml"],
            None,
            pods_opts,
        ),
        case(
            "terminating.node-1",
            &["corpus/compile/terminating.yaml"],
            Some("node-1"),
            pods_opts,
        ),
        Case {
            name: "dual-stack.node-1",
            paths: &["corpus/compile/dual-stack.yaml"],
            node: Some("node-1"),
            service_cidrs: DUAL_STACK,
            opts: pods_opts,
        },
        Case {
            name: "all-crafted.dual-stack.node-1",
            paths: &["corpus/compile"],
            node: Some("node-1"),
            service_cidrs: DUAL_STACK,
            opts: || Options {
                table: "svcc-test".to_owned(),
                ..pods_opts()
            },
        },
    ]
}

fn render_case(case: &Case) -> String {
    render(
        &plan(case.paths, case.node, case.service_cidrs),
        &(case.opts)(),
    )
}

#[test]
fn snapshots() {
    for case in cases() {
        let description = format!(
            "svcc compile --target nft {}{}{} with {:?}",
            case.paths.join(" "),
            case.node
                .map(|n| format!(" --node {n}"))
                .unwrap_or_default(),
            if case.service_cidrs.is_empty() {
                String::new()
            } else {
                format!(" --service-cidr {}", case.service_cidrs.join(","))
            },
            (case.opts)(),
        );
        insta::with_settings!({
            snapshot_path => "../snapshots/nft",
            prepend_module_to_snapshot => false,
            description => description,
        }, {
            insta::assert_snapshot!(case.name, render_case(&case));
        });
    }
}

/// Same input, files in another order: the same bytes.
#[test]
fn output_is_deterministic() {
    let mut files: Vec<String> = std::fs::read_dir("corpus/compile")
        .expect("corpus/compile")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    files.sort();
    let forward: Vec<&str> = files.iter().map(String::as_str).collect();
    let backward: Vec<&str> = forward.iter().rev().copied().collect();
    let opts = pods_opts();
    let a = render(&plan(&forward, Some("node-1"), DUAL_STACK), &opts);
    let b = render(&plan(&backward, Some("node-1"), DUAL_STACK), &opts);
    assert_eq!(a, b);
    assert_eq!(
        a,
        render(&plan(&forward, Some("node-1"), DUAL_STACK), &opts)
    );
}

/// Adding a Service only adds lines, and only lines about that Service.
#[test]
fn adding_a_service_only_adds_its_lines() {
    let opts = pods_opts();
    let before = render(&plan(&["corpus/compile/multi-port.yaml"], None, &[]), &opts);
    let after = render(
        &plan(
            &[
                "corpus/compile/multi-port.yaml",
                "corpus/compile/udp-dns.yaml",
            ],
            None,
            &[],
        ),
        &opts,
    );
    let mut old = before.lines().peekable();
    let mut added = Vec::new();
    for line in after.lines() {
        if old.peek() == Some(&line) {
            old.next();
        } else {
            added.push(line);
        }
    }
    assert_eq!(old.next(), None, "a line of the smaller output is missing");
    assert!(!added.is_empty());
    let dns = std::fs::read_to_string("corpus/compile/udp-dns.yaml").unwrap();
    for line in added {
        // The hairpin set names no Service: its element is one of the new endpoints.
        let hairpin = line
            .strip_prefix("add element ip svcc hairpin-endpoints { ")
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|ip| dns.contains(ip));
        assert!(
            line.contains("kube-dns") || line.contains("10.96.0.10") || hairpin,
            "unrelated line added: {line}"
        );
    }
}

#[test]
fn headless_and_external_name_produce_nothing() {
    let output = render(
        &plan(
            &[
                "corpus/seed/good/deploy.yaml",
                "corpus/seed/good/svc-headless.yaml",
                "corpus/seed/good/svc-externalname.yaml",
            ],
            None,
            &[],
        ),
        &Options::default(),
    );
    assert!(!output.contains("default/"), "{output}");
    let empty = render(&plan(&[], None, &[]), &Options::default());
    assert_eq!(output, empty);
}

/// The verdicts that carry the traffic policies, spelled out so that a snapshot accepted
/// by mistake cannot change them unnoticed.
#[test]
fn policies_and_missing_endpoints() {
    let out = |paths: &[&str], node| render(&plan(paths, node, &[]), &pods_opts());
    let none = out(&["corpus/compile/no-endpoints.yaml"], None);
    for line in [
        r#"add element ip svcc no-endpoint-services { 10.96.50.1 . tcp . 80 comment "shop/empty:http" : goto reject-chain }"#,
        r#"add element ip svcc no-endpoint-services { 198.18.0.30 . tcp . 80 comment "shop/empty:http" : goto reject-chain }"#,
        r#"add element ip svcc no-endpoint-nodeports { tcp . 30090 comment "shop/empty:http" : goto reject-chain }"#,
        r#"add element ip svcc no-endpoint-services { 10.96.50.2 . tcp . 5432 comment "shop/idle" : goto reject-chain }"#,
    ] {
        assert!(none.lines().any(|l| l == line), "missing: {line}\n{none}");
    }
    assert!(
        !none.contains("numgen") && !none.contains("svcc endpoint-"),
        "{none}"
    );

    let itp = out(&["corpus/compile/itp-local.yaml"], Some("node-3"));
    assert!(
        itp.contains(r#"{ 10.96.0.20 . udp . 53 comment "kube-system/node-cache:dns" : drop }"#)
    );
    assert!(!itp.contains("add chain ip svcc local-"), "{itp}");
    let itp = out(&["corpus/compile/itp-local.yaml"], Some("node-1"));
    assert!(itp.contains("10.96.0.20 . udp . 53 : goto local-"), "{itp}");
    // One local endpoint: DNATed by the policy chain's only rule, without `numgen`.
    assert!(
        itp.lines().any(|l| l.starts_with("add rule ip svcc local-")
            && l.contains(" dnat to ")
            && !l.contains("numgen")),
        "{itp}"
    );
    assert!(!itp.contains("svcc endpoint-"), "{itp}");

    let etp = out(&["corpus/compile/etp-local.yaml"], Some("node-3"));
    assert!(etp.contains(r#"{ 198.18.0.20 . tcp . 80 comment "edge/ingress:http" : drop }"#));
    assert!(etp.contains(r#"{ tcp . 30081 comment "edge/ingress:http" : drop }"#));
    // Pods and the node itself still reach every endpoint.
    assert!(
        etp.contains("198.18.0.20 . tcp . 80 : goto external-"),
        "{etp}"
    );
    assert!(
        etp.contains("ip saddr 10.244.0.0/16 goto service-"),
        "{etp}"
    );
    assert!(etp.contains("fib saddr type local goto service-"), "{etp}");
    assert!(!etp.contains("goto local-"), "{etp}");
}

/// Two Services claiming one map key (possible when the check that forbids it is turned
/// off): the first in plan order keeps it, and nft still gets a valid batch.
#[test]
fn duplicate_keys_keep_the_first() {
    let text = "\
apiVersion: v1
kind: Service
metadata: {name: a, namespace: x}
spec: {clusterIP: 10.96.1.1, externalIPs: [192.0.2.1], ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: x}
spec: {clusterIP: 10.96.1.2, externalIPs: [192.0.2.1], ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: a-1, namespace: x, labels: {kubernetes.io/service-name: a}}
addressType: IPv4
ports: [{port: 80, protocol: TCP}]
endpoints: [{addresses: [10.244.0.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: b-1, namespace: x, labels: {kubernetes.io/service-name: b}}
addressType: IPv4
ports: [{port: 80, protocol: TCP}]
endpoints: [{addresses: [10.244.0.2]}]
";
    let mut settings = settings(&[]);
    settings
        .levels
        .insert("duplicate-external-ip".to_owned(), Level::Off);
    let compiled = pipeline::compile_text("dup.yaml", text, &settings, &LowerOptions::default())
        .expect("schemas load");
    let plan = compiled
        .plan
        .unwrap_or_else(|| panic!("does not compile: {:#?}", compiled.outcome.diagnostics));
    let output = render(&plan, &Options::default());
    let claims: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("{ 192.0.2.1 . tcp . 80"))
        .collect();
    assert_eq!(claims.len(), 1, "{output}");
    assert!(claims[0].contains("-x/a/tcp/"), "{}", claims[0]);
}

// ---- nft in a network namespace ----

/// A fresh namespace for one test, or `None` when the test must return (skipping allowed,
/// and root, `nft` or `ip` missing).
fn namespace() -> Option<Netns> {
    support::require(&["nft", "ip"], Need::Root).ok()?;
    Some(Netns::new())
}

/// A network namespace for one test, deleted when dropped (also when the test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "svcc-nft-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        Netns { name }
    }

    /// Runs `nft ARGS` in the namespace with `input` on stdin.
    fn nft(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run nft");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to nft");
        child.wait_with_output().expect("wait for nft")
    }

    /// `nft -c -f -` then `nft -f -`: the check, then a real load (the kernel validates
    /// some things, such as loops and hooks, only when a batch commits).
    fn check_and_load(&self, what: &str, ruleset: &str) {
        for args in [&["-c", "-f", "-"][..], &["-f", "-"][..]] {
            let out = self.nft(args, ruleset);
            assert!(
                out.status.success(),
                "nft {} rejects {what}:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn list(&self, args: &[&str]) -> String {
        let out = self.nft(args, "");
        assert!(
            out.status.success(),
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn nft_accepts_crafted_and_seed_outputs() {
    let Some(ns) = namespace() else {
        return;
    };
    for case in cases() {
        let ruleset = render_case(&case);
        ns.check_and_load(case.name, &ruleset);
        let table = (case.opts)().table;
        let tables = ns.list(&["list", "tables"]);
        assert!(
            tables.contains(&format!("table ip {table}\n")),
            "{}: {tables}",
            case.name
        );
        let dual = case.service_cidrs.len() == 2;
        assert_eq!(
            tables.contains(&format!("table ip6 {table}\n")),
            dual,
            "{}: {tables}",
            case.name
        );
    }
}

/// Every file of the real-world corpus that compiles on its own.
#[test]
fn nft_accepts_real_corpus() {
    let Some(ns) = namespace() else {
        return;
    };
    let mut files: Vec<PathBuf> = walk(Path::new("corpus/real"));
    files.sort();
    let (mut compiled, mut services) = (0, 0);
    for file in &files {
        let Some(plan) = try_plan(std::slice::from_ref(file), None, &[]) else {
            continue;
        };
        compiled += 1;
        services += plan.services.len();
        let ruleset = render(&plan, &pods_opts());
        ns.check_and_load(&file.display().to_string(), &ruleset);
    }
    eprintln!(
        "nft accepted {compiled} of {} real files ({services} Services)",
        files.len()
    );
    assert!(compiled >= 50, "only {compiled} real files compile");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read corpus dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
    out
}

/// Loading output B after output A leaves exactly B: A's Service chains and elements are
/// gone, a dual-stack table disappears when B is single-stack, and a batch that fails
/// changes nothing.
#[test]
fn loading_replaces_atomically() {
    let Some(ns) = namespace() else {
        return;
    };
    let opts = pods_opts();
    let a = render(
        &plan(
            &[
                "corpus/compile/multi-port.yaml",
                "corpus/compile/dual-stack.yaml",
            ],
            Some("node-1"),
            DUAL_STACK,
        ),
        &opts,
    );
    let b = render(
        &plan(&["corpus/compile/udp-dns.yaml"], Some("node-1"), &[]),
        &opts,
    );
    ns.check_and_load("A", &a);
    let listed = ns.list(&["list", "ruleset"]);
    assert!(listed.contains("service-") && listed.contains("shop/api/tcp/http"));
    assert!(listed.contains("table ip6 svcc"));

    ns.check_and_load("B", &b);
    let listed = ns.list(&["list", "ruleset"]);
    assert!(
        !listed.contains("shop/"),
        "A's Services survived:\n{listed}"
    );
    assert!(!listed.contains("10.96.20.20"), "A's clusterIP survived");
    assert!(
        !listed.contains("table ip6 svcc"),
        "A's IPv6 table survived"
    );
    assert!(listed.contains("kube-system/kube-dns/udp/dns"));
    // Loading B again is a no-op in effect: the same listing.
    ns.check_and_load("B again", &b);
    assert_eq!(ns.list(&["list", "ruleset"]), listed);

    // A batch that fails at its last line applies nothing.
    let broken = format!("{a}add rule ip svcc no-such-chain drop\n");
    let out = ns.nft(&["-f", "-"], &broken);
    assert!(!out.status.success(), "a broken batch was accepted");
    assert_eq!(
        ns.list(&["list", "ruleset"]),
        listed,
        "a failed batch changed state"
    );

    // The table name keeps svcc apart from a table it does not own.
    let other = render(
        &plan(&["corpus/compile/multi-port.yaml"], None, &[]),
        &Options {
            table: "kube-proxy".to_owned(),
            ..pods_opts()
        },
    );
    ns.check_and_load("kube-proxy table", &other);
    ns.check_and_load("B", &b);
    let tables = ns.list(&["list", "tables"]);
    assert_eq!(tables, "table ip kube-proxy\ntable ip svcc\n");
}

/// The skip policy (`support/require.rs`) for root, on a real namespace test run again in a
/// child process as `nobody` (`setpriv`): without `SVCC_ALLOW_SKIP` it fails, saying that it
/// needs root; with `SVCC_ALLOW_SKIP=1` it passes and its skip is recorded with the reason.
#[test]
fn without_root_a_namespace_test_fails_unless_skipping_is_allowed() {
    let Ok(()) = support::require(&["setpriv", "nft", "ip"], Need::Root) else {
        return;
    };
    const TEST: &str = "loading_replaces_atomically";
    let skips = tempfile::tempdir().expect("tempdir");
    // `nobody` records its skip here.
    std::fs::set_permissions(
        skips.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod the skip dir");
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let run = |prefix: &[&str], env: &[(&str, &str)]| -> (bool, String) {
        let out = support::rerun(prefix, TEST, skips.path())
            .envs(env.iter().copied())
            .output()
            .expect("run the test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let recorded = || -> Vec<String> {
        std::fs::read_dir(skips.path())
            .expect("skip dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };

    // As root the test runs and passes: what changes below is caused by the user alone.
    let (ok, text) = run(&[], &[]);
    assert!(ok && text.contains("test result: ok. 1 passed;"), "{text}");
    assert!(recorded().is_empty(), "{:?}", recorded());

    let (ok, text) = run(&nobody, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("test result: FAILED. 0 passed; 1 failed;"),
        "{text}"
    );
    assert!(
        text.contains("needs root (this process runs as uid 65534)"),
        "{text}"
    );
    assert!(recorded().is_empty(), "{:?}", recorded());

    let (ok, text) = run(&nobody, &[("SVCC_ALLOW_SKIP", "1")]);
    assert!(ok && text.contains("test result: ok. 1 passed;"), "{text}");
    assert_eq!(recorded(), [format!("nft::{TEST}")]);
    let reason = std::fs::read_to_string(skips.path().join(format!("nft::{TEST}"))).unwrap();
    assert!(reason.contains("needs root"), "{reason}");
}

// ---- the command line ----

fn svcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .output()
        .expect("run svcc")
}

#[test]
fn cli_writes_the_library_output() {
    let out = svcc(&[
        "compile",
        "--target",
        "nft",
        "--node",
        "node-1",
        "--service-cidr",
        "10.96.0.0/12,fd00:10:96::/112",
        "--cluster-cidr",
        "10.244.0.0/16,fd00:10:244::/56",
        "--nodeport-addresses",
        "192.168.0.0/16",
        "--masquerade-all",
        "--table",
        "t1",
        "corpus/compile/dual-stack.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = render(
        &plan(
            &["corpus/compile/dual-stack.yaml"],
            Some("node-1"),
            DUAL_STACK,
        ),
        &Options {
            table: "t1".to_owned(),
            proxy: Proxy {
                cluster_cidrs: nets(POD_CIDRS),
                masquerade_all: true,
                nodeport_addresses: nets(&["192.168.0.0/16"]),
                ..Proxy::default()
            },
        },
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn cli_refuses_bad_nft_flags_and_writes_nothing() {
    let file = "corpus/compile/multi-port.yaml";
    for args in [
        &["--table", "1bad"][..],
        &["--table", "a;b"],
        &["--cluster-cidr", "10.244.0.1/16"],
        &["--cluster-cidr", "nonsense"],
        &["--nodeport-addresses", "127.0.0.1/32"],
    ] {
        let mut all = vec!["compile", "--target", "nft", file];
        all.extend_from_slice(args);
        let out = svcc(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
    }
    let out = svcc(&["compile", "--target", "plan", "--table", "x", file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table applies only to `--target nft`"));
}

#[test]
fn cli_writes_nothing_when_check_fails() {
    let out = svcc(&[
        "compile",
        "--target",
        "nft",
        "corpus/seed/bad/nodeport-out-of-range.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

/// Up to 64 endpoints a policy chain picks with a rule per endpoint, which DNATs by itself
/// (no endpoint chains); above, with one vmap to endpoint chains. Both shapes load, and each
/// names every endpoint exactly once.
#[test]
fn endpoint_picks_by_rules_then_by_vmap() {
    let Some(ns) = namespace() else {
        return;
    };
    for count in [1usize, 2, 64, 65, 200] {
        let endpoints: String = (0..count)
            .map(|k| {
                format!(
                    "- addresses: [\"10.244.{}.{}\"]\n  conditions: {{ready: true}}\n",
                    k / 200,
                    k % 200 + 1
                )
            })
            .collect();
        let text = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: big, namespace: shop}}\n\
             spec:\n  clusterIP: 10.96.7.7\n  ports: [{{name: http, port: 80}}]\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: big-1\n  \
             namespace: shop\n  labels: {{kubernetes.io/service-name: big}}\naddressType: IPv4\n\
             ports: [{{name: http, port: 8080, protocol: TCP}}]\nendpoints:\n{endpoints}"
        );
        let compiled = pipeline::compile_text(
            "big.yaml",
            &text,
            &settings(&["10.96.0.0/16"]),
            &LowerOptions::default(),
        )
        .expect("schemas load");
        let plan = compiled.plan.expect("no errors");
        let ruleset = render(&plan, &default_opts());
        let picks: Vec<&str> = ruleset
            .lines()
            .filter(|l| {
                l.starts_with("add rule ip svcc service-")
                    && !l.starts_with("add rule ip svcc service-endpoints-check")
            })
            .collect();
        let named = |l: &str| l.matches("goto endpoint-").count();
        if count <= 64 {
            assert_eq!(picks.len(), count, "{ruleset}");
            assert!(picks
                .iter()
                .all(|l| named(l) == 0 && l.matches(" dnat to ").count() == 1));
            assert!(!picks[picks.len() - 1].contains("numgen"));
            assert!(
                !ruleset.contains("add chain ip svcc endpoint-"),
                "{ruleset}"
            );
        } else {
            assert_eq!(picks.len(), 1, "{ruleset}");
            assert!(picks[0].contains(&format!("numgen random mod {count} vmap {{")));
            assert_eq!(named(picks[0]), count);
        }
        ns.check_and_load(&format!("{count} endpoints"), &ruleset);
    }
}

/// Services are rendered in parallel parts; a key claimed by Services in different parts is
/// still kept by the first Service in order.
#[test]
fn duplicate_keys_keep_the_first_across_parallel_parts() {
    let service = |ns: &str, name: &str, ip: String| {
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec: {{clusterIP: {ip}, externalIPs: [192.0.2.1], ports: [{{port: 80}}]}}\n"
        )
    };
    // a/first comes before the 300 fillers, z/last after them: three parts apart.
    let mut text = service("a", "first", "10.96.1.1".to_owned());
    for i in 0..300 {
        text.push_str(&service(
            "m",
            &format!("f{i:03}"),
            format!("10.96.{}.{}", 2 + i / 250, i % 250 + 1),
        ));
    }
    text.push_str(&service("z", "last", "10.96.1.2".to_owned()));
    let mut settings = settings(&[]);
    settings
        .levels
        .insert("duplicate-external-ip".to_owned(), Level::Off);
    let compiled = pipeline::compile_text("parts.yaml", &text, &settings, &LowerOptions::default())
        .expect("schemas load");
    let plan = compiled
        .plan
        .unwrap_or_else(|| panic!("does not compile: {:#?}", compiled.outcome.diagnostics));
    assert_eq!(plan.services.len(), 302);
    let output = render(&plan, &Options::default());
    let claims: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("{ 192.0.2.1 . tcp . 80"))
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert!(claims[0].contains("\"a/first"), "{}", claims[0]);
    // Every Service's clusterIP is in the output once, in Service order.
    let cluster_ips: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("add element ip svcc cluster-ips "))
        .collect();
    assert_eq!(cluster_ips.len(), 302);
    assert!(cluster_ips[0].contains("10.96.1.1 "), "{}", cluster_ips[0]);
    assert!(
        cluster_ips[301].contains("10.96.1.2 "),
        "{}",
        cluster_ips[301]
    );
}

/// A plan lowered for a dataplane target only leaves out the DNS addresses, and renders the
/// same ruleset.
#[test]
fn dataplane_only_plans_render_the_same_ruleset() {
    let paths = [PathBuf::from("corpus/seed/good")];
    let lowered = |dataplane_only| {
        let options = LowerOptions {
            node: Some("node-1".to_owned()),
            dataplane_only,
        };
        let compiled = pipeline::compile(&paths, &settings(&[]), &options).expect("schemas");
        compiled.plan.expect("the seed compiles")
    };
    let (full, lean) = (lowered(false), lowered(true));
    assert!(full.services.iter().any(|s| !s.addresses.is_empty()));
    assert!(lean.services.iter().all(|s| s.addresses.is_empty()));
    assert_eq!(
        render(&full, &default_opts()),
        render(&lean, &default_opts())
    );
}

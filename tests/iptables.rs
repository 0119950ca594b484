//! The iptables target: kube-proxy's chain-name hashes and probabilities, snapshots of the
//! output, `iptables-restore --test` on everything that compiles, and `svcc apply --target
//! iptables` run twice in a network namespace (no duplicate jumps, stale chains removed).
//!
//! The kernel tests need root, `ip` and the programs of the `iptables` package (`svcc apply`
//! runs both families' `-save`, `-restore` and single-rule tools). Each creates its own
//! namespace and deletes it when it ends, also when it fails. Without the prerequisites a test
//! fails, saying what to install, unless `SVCC_ALLOW_SKIP=1` (then it is skipped and counted;
//! see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::Need;
use svcc::emit::iptables::{self, names, Family};

const SVCC: &str = env!("CARGO_BIN_EXE_svcc");
/// Flags the crafted inputs are compiled with.
const FLAGS: &[&str] = &[
    "--node",
    "node-a",
    "--cluster-cidr",
    "10.244.0.0/16,fd00:10:244::/56",
    "--service-cidr",
    "10.96.0.0/12,fd00:10:96::/112",
];

// ---------------------------------------------------------------------------------------------
// Names and probabilities

/// The hashes of docs/reference/dataplane.md §2.2 (verified against kube-proxy's tests).
#[test]
fn chain_name_hashes_match_kube_proxy() {
    assert_eq!(names::hash16("ns1/svc1:p80tcp"), "XPGD46QRK7WJZT7O");
    assert_eq!(
        names::hash16("ns1/svc1:p80tcp10.180.0.1:80"),
        "SXIVWICOYRO3J4NJ"
    );
    assert_eq!(
        names::hash16("ns1/svc1:p80tcp10.180.0.2:80"),
        "LXVODXWDISEETFEF"
    );
    assert_eq!(names::hash16("ns1/svc1tcp"), "AQI2S6QIMU7PVVRP");
    // The same through the name builders: named and unnamed ports.
    use svcc::plan::Protocol::Tcp;
    let chains = names::PortChains::new("KUBE", "ns1", "svc1", "p80", Tcp);
    assert_eq!(chains.cluster, "KUBE-SVC-XPGD46QRK7WJZT7O");
    assert_eq!(chains.local, "KUBE-SVL-XPGD46QRK7WJZT7O");
    assert_eq!(chains.external, "KUBE-EXT-XPGD46QRK7WJZT7O");
    assert_eq!(chains.firewall, "KUBE-FW-XPGD46QRK7WJZT7O");
    assert_eq!(
        names::PortChains::new("SVCC", "ns1", "svc1", "", Tcp).cluster,
        "SVCC-SVC-AQI2S6QIMU7PVVRP"
    );
    assert_eq!(
        names::endpoint_chain("KUBE", "ns1", "svc1", "p80", Tcp, "10.180.0.1:80"),
        "KUBE-SEP-SXIVWICOYRO3J4NJ"
    );
    assert_eq!(
        names::endpoint_chain("SVCC", "ns1", "svc1", "p80", Tcp, "10.180.0.2:80"),
        "SVCC-SEP-LXVODXWDISEETFEF"
    );
}

/// 1/(N−i) with 10 decimals, rounded as Go's `%0.10f` (ties to even on the exact binary value).
#[test]
fn probabilities_have_ten_decimals() {
    let cases = [
        (1, "1.0000000000"),
        (2, "0.5000000000"),
        (3, "0.3333333333"),
        (6, "0.1666666667"),
        (7, "0.1428571429"),
        (1000, "0.0010000000"),
        (2048, "0.0004882812"),
    ];
    for (n, want) in cases {
        assert_eq!(names::probability(n), want, "1/{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn svcc(args: &[&str]) -> Output {
    Command::new(SVCC)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run svcc")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `svcc compile --target iptables <args>`; panics unless it succeeds.
fn compile(args: &[&str]) -> String {
    let mut all = vec!["compile", "-q", "--target", "iptables"];
    all.extend_from_slice(args);
    let out = svcc(&all);
    assert!(
        out.status.success(),
        "svcc {all:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn crafted(name: &str) -> String {
    format!("corpus/iptables/{name}.yaml")
}

/// Every (snapshot name, compile arguments) of the snapshot and restore tests.
fn cases() -> Vec<(String, Vec<String>)> {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut cases = vec![
        ("seed_good".to_owned(), owned(&["corpus/seed/good"])),
        (
            "trace_cluster".to_owned(),
            owned(&[
                "corpus/trace/cluster.yaml",
                "--node",
                "node-a",
                "--cluster-cidr",
                "10.244.0.0/16",
            ]),
        ),
        (
            "worked-example".to_owned(),
            owned(&[
                "corpus/iptables/worked-example.yaml",
                "--service-cidr",
                "172.30.0.0/16",
                "--cluster-cidr",
                "10.0.0.0/8",
                "--table",
                "KUBE",
            ]),
        ),
    ];
    for name in ["traffic-policies", "loadbalancer"] {
        let mut args = vec![crafted(name)];
        args.extend(owned(FLAGS));
        cases.push((name.to_owned(), args));
    }
    let mut options = vec![crafted("loadbalancer")];
    options.extend(owned(FLAGS));
    options.extend(owned(&[
        "--masquerade-all",
        "--nodeport-addresses",
        "0.0.0.0/0,192.168.0.0/16",
        "--no-jumps",
    ]));
    cases.push(("loadbalancer.options".to_owned(), options));
    // kube-proxy's test node: node IPs (LoadBalancer IPs admitted by the source range that
    // holds one), localhost NodePorts, the health-check port, another masquerade bit.
    for (name, file) in [
        (
            "kube-proxy-trace-packet",
            "corpus/kube-proxy/trace-packet.yaml",
        ),
        (
            "kube-proxy-load-balancer",
            "corpus/kube-proxy/load-balancer.yaml",
        ),
    ] {
        cases.push((
            name.to_owned(),
            owned(&[
                file,
                "--node",
                "test-node",
                "--node-port-range",
                "3000-32767",
                "--service-cidr",
                "172.30.0.0/16",
                "--cluster-cidr",
                "10.0.0.0/8",
                "--node-ip",
                "192.168.0.2,2001:db8::1",
                "--localhost-nodeports",
                "--masquerade-bit",
                "15",
            ]),
        ));
    }
    for family in ["ipv4", "ipv6"] {
        let mut args = vec![crafted("dual-stack"), "--family".to_owned(), family.into()];
        args.extend(owned(FLAGS));
        cases.push((format!("dual-stack.{family}"), args));
    }
    cases
}

fn args_of(case: &[String]) -> Vec<&str> {
    case.iter().map(String::as_str).collect()
}

#[test]
fn snapshots() {
    for (name, args) in cases() {
        let output = compile(&args_of(&args));
        insta::with_settings!({
            snapshot_path => "../snapshots/iptables",
            prepend_module_to_snapshot => false,
            description => format!("svcc compile --target iptables {}", args.join(" ")),
        }, {
            insta::assert_snapshot!(name, output);
        });
    }
}

/// The worked example of docs/reference/dataplane.md §2.5: with prefix KUBE, every service rule is kube-proxy's
/// line for line (kube-proxy's comments on the fixed chains say "kubernetes", not "svcc").
#[test]
fn worked_example_matches_kube_proxy() {
    let out = compile(&[
        "corpus/iptables/worked-example.yaml",
        "--service-cidr",
        "172.30.0.0/16",
        "--cluster-cidr",
        "10.0.0.0/8",
        "--table",
        "KUBE",
    ]);
    let expected = [
        ":KUBE-SEP-LXVODXWDISEETFEF - [0:0]",
        ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]",
        ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]",
        "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O",
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        "-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80",
        "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
        "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
        "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
        "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ",
        "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> 10.180.0.2:80\" -j KUBE-SEP-LXVODXWDISEETFEF",
    ];
    let lines: BTreeSet<&str> = out.lines().collect();
    for line in expected {
        assert!(lines.contains(line), "missing `{line}` in\n{out}");
    }
}

/// Three endpoints: 1/3, then 1/2, then the last without a statistic match; affinity checks
/// come first, one per endpoint.
#[test]
fn random_balancing_and_affinity_order() {
    let out = compile(&[&crafted("loadbalancer"), FLAGS[0], FLAGS[1]]);
    let svc = names::PortChains::new("SVCC", "edge", "lb", "https", svcc::plan::Protocol::Tcp);
    let rules: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(&format!("-A {} ", svc.cluster)))
        .collect();
    assert_eq!(rules.len(), 3 + 3, "{rules:#?}");
    for r in &rules[..3] {
        assert!(
            r.contains("-m recent --name SVCC-SEP-") && r.contains("--rcheck --seconds 300 --reap"),
            "{r}"
        );
    }
    assert!(
        rules[3].contains("--probability 0.3333333333"),
        "{}",
        rules[3]
    );
    assert!(
        rules[4].contains("--probability 0.5000000000"),
        "{}",
        rules[4]
    );
    assert!(!rules[5].contains("statistic"), "{}", rules[5]);
}

#[test]
fn flags_and_families() {
    // The kube-proxy flags work for both targets; the iptables-only ones only for iptables.
    let o = svcc(&[
        "compile",
        "-q",
        "--target",
        "nft",
        "--family",
        "ipv6",
        "corpus/seed/good",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--family applies only to `--target iptables`"));
    let o = svcc(&[
        "compile",
        "-q",
        "--target",
        "plan",
        "--table",
        "X",
        "corpus/seed/good",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = svcc(&[
        "compile",
        "--target",
        "iptables",
        "--table",
        "TOOLONG8",
        "corpus/seed/good",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("chain prefix `TOOLONG8`"),
        "{}",
        text(&o.stderr)
    );
    let o = svcc(&[
        "compile",
        "--target",
        "iptables",
        "--cluster-cidr",
        "10.0.0.0/16,10.2.0.0/16",
        "corpus/seed/good",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // A custom prefix names every chain.
    let out = compile(&["--table", "NODE1", "--no-jumps", "corpus/seed/good"]);
    for line in out.lines().filter(|l| l.starts_with(':')) {
        assert!(line.starts_with(":NODE1-"), "{line}");
    }
    assert!(!out.contains("-I "), "--no-jumps");
    // Dual-stack in the IPv4 output: a warning on stderr says where the IPv6 part is.
    let mut args = vec![
        "compile",
        "--target",
        "iptables",
        "corpus/iptables/dual-stack.yaml",
    ];
    args.extend_from_slice(FLAGS);
    let o = svcc(&args);
    assert!(o.status.success());
    assert!(
        text(&o.stderr).contains("the plan has IPv6 addresses")
            && text(&o.stderr).contains("--family ipv6"),
        "{}",
        text(&o.stderr)
    );
    assert!(!text(&o.stdout).contains("fd00:"), "IPv4 output only");
}

// ---------------------------------------------------------------------------------------------
// The kernel: namespaces

/// A fresh network namespace, or `None` when the test must return (skipping allowed, and root
/// or a program missing).
fn netns() -> Option<Netns> {
    support::require(
        &[
            "ip",
            "iptables",
            "iptables-save",
            "iptables-restore",
            "ip6tables",
            "ip6tables-save",
            "ip6tables-restore",
        ],
        Need::Root,
    )
    .ok()?;
    Some(Netns::new())
}

/// A network namespace, deleted on drop (also while a test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "svcc-ipt-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip netns add: {}", text(&out.stderr));
        Netns { name }
    }

    /// Runs `program args…` in the namespace with `input` on stdin.
    fn run(&self, program: &str, args: &[&str], input: Option<&str>) -> Output {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ip netns exec");
        if let Some(input) = input {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait")
    }

    /// Runs and panics with the output unless it succeeds; returns stdout.
    fn ok(&self, program: &str, args: &[&str], input: Option<&str>) -> String {
        let out = self.run(program, args, input);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}",
            out.status,
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    /// `iptables-restore --test --noflush` (or ip6tables-restore) of `input`; the error names
    /// the offending line.
    fn restore_test(&self, family: Family, input: &str) -> Result<(), String> {
        let out = self.run(family.restore_tool(), &["--test", "--noflush"], Some(input));
        if out.status.success() {
            return Ok(());
        }
        let err = text(&out.stderr);
        let line = err
            .split("line ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.trim().parse::<usize>().ok())
            .and_then(|n| input.lines().nth(n - 1))
            .unwrap_or("");
        Err(format!("{err}\noffending line: {line}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// The kernel: restore

/// Every crafted and seed output is accepted by `iptables-restore --test`, and loads for real
/// (then once more: loading the same input twice must work, only the jumps are duplicated).
#[test]
fn restore_accepts_every_crafted_and_seed_output() {
    let Some(ns) = netns() else {
        return;
    };
    let mut inputs: Vec<(String, Vec<String>)> = cases();
    let mut seeds: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/seed/good"))
            .expect("seed corpus")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
    seeds.sort();
    for seed in seeds {
        inputs.push((
            seed.display().to_string(),
            vec![seed.display().to_string(), "--table".into(), "SEED".into()],
        ));
    }
    for (name, args) in &inputs {
        let family = if name.ends_with("ipv6") {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let output = compile(&args_of(args));
        if let Err(e) = ns.restore_test(family, &output) {
            panic!(
                "{name}: {} --test refused the output: {e}",
                family.restore_tool()
            );
        }
    }
    // Load two of them for real, twice.
    for (name, family) in [
        ("loadbalancer", Family::Ipv4),
        ("dual-stack.ipv6", Family::Ipv6),
    ] {
        let (_, args) = inputs.iter().find(|(n, _)| n == name).expect("case");
        let output = compile(&args_of(args));
        for _ in 0..2 {
            ns.ok(family.restore_tool(), &["--noflush"], Some(&output));
        }
    }
}

/// Each file of the real-world corpus that compiles (separately) gives an input that
/// `iptables-restore --test` accepts, in both families where the plan has IPv6.
#[test]
fn restore_accepts_every_real_corpus_file() {
    let Some(ns) = netns() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/real");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read corpus dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 100, "the real corpus is there");
    let settings = svcc::pipeline::Settings::default();
    let lower = svcc::plan::LowerOptions {
        node: Some("node-a".to_owned()),
        ..Default::default()
    };
    let (mut compiled, mut checked) = (0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let result = svcc::pipeline::compile(std::slice::from_ref(file), &settings, &lower)
            .expect("schemas load");
        let Some(plan) = result.plan else {
            continue;
        };
        compiled += 1;
        for family in Family::ALL {
            if family == Family::Ipv6 && !iptables::uses_family(&plan, family) {
                continue;
            }
            let opts = iptables::Options {
                family,
                proxy: svcc::plan::view::Proxy {
                    cluster_cidrs: vec!["10.244.0.0/16".parse().unwrap()],
                    ..Default::default()
                },
                ..iptables::Options::default()
            };
            let mut out = Vec::new();
            iptables::write(&plan, &opts, &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if let Err(e) = ns.restore_test(family, &text(&out)) {
                failures.push(format!("{} ({}): {e}", file.display(), family.name()));
            }
            checked += 1;
        }
    }
    eprintln!(
        "real corpus: {} files, {compiled} compile, {checked} restore inputs tested",
        files.len()
    );
    assert!(compiled > 50, "most of the real corpus compiles");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The kernel: svcc apply --target iptables

const APPLY_V1: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  clusterIP: 10.96.0.80\n  ports: [{port: 80, nodePort: 30080}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.244.0.5}, {ip: 10.244.0.6}], ports: [{port: 80}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: old}\nspec:\n  clusterIP: 10.96.0.81\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: old}\nsubsets: [{addresses: [{ip: 10.244.0.7}], ports: [{port: 80}]}]\n";

/// v1 without the Service `old` and with one endpoint of `web` gone.
fn apply_v2() -> String {
    let without_old = APPLY_V1
        .split("---\n")
        .take(2)
        .collect::<Vec<_>>()
        .join("---\n");
    without_old.replace("{ip: 10.244.0.5}, ", "")
}

/// The chains of `table` whose names start with `prefix-`, from `iptables-save`.
fn own_chains(ns: &Netns, table: &str, prefix: &str) -> BTreeSet<String> {
    ns.ok("iptables-save", &["-t", table], None)
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| c.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

/// The chains an input declares in `table`.
fn declared(input: &str, table: &str) -> BTreeSet<String> {
    let mut current = "";
    let mut chains = BTreeSet::new();
    for line in input.lines() {
        if let Some(t) = line.strip_prefix('*') {
            current = if t == table { table } else { "" };
        } else if let (false, Some(rest)) = (current.is_empty(), line.strip_prefix(':')) {
            chains.insert(rest.split_whitespace().next().unwrap_or("").to_owned());
        }
    }
    chains
}

/// Rules in built-in chains that jump to svcc's chains, as `-S` prints them.
fn jump_rules(ns: &Netns) -> Vec<String> {
    let mut rules = Vec::new();
    for (table, chains) in [
        ("nat", &["PREROUTING", "OUTPUT", "POSTROUTING"][..]),
        ("filter", &["INPUT", "FORWARD", "OUTPUT"][..]),
    ] {
        for chain in chains {
            let listing = ns.ok("iptables", &["-t", table, "-S", chain], None);
            rules.extend(
                listing
                    .lines()
                    .filter(|l| l.contains("-j SVCC-"))
                    .map(|l| format!("{table} {l}")),
            );
        }
    }
    rules
}

#[test]
fn apply_twice_adds_no_duplicate_jumps_and_removes_stale_chains() {
    let Some(ns) = netns() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.yaml");
    let state = dir.path().join("state");
    let input_s = input.display().to_string();
    let state_s = state.display().to_string();
    let apply = |extra: &[&str]| -> Output {
        let mut args = vec![
            "apply",
            "--target",
            "iptables",
            &input_s,
            "--node",
            "n1",
            "--cluster-cidr",
            "10.244.0.0/16",
            "--state-dir",
            &state_s,
        ];
        args.extend_from_slice(extra);
        let out = ns.run(SVCC, &args, None);
        assert!(
            out.status.success(),
            "svcc {args:?} failed: {}",
            text(&out.stderr)
        );
        out
    };
    let count_prerouting = || {
        ns.ok("iptables", &["-t", "nat", "-S", "PREROUTING"], None)
            .lines()
            .filter(|l| l.contains("-j SVCC-SERVICES"))
            .count()
    };

    std::fs::write(&input, APPLY_V1).unwrap();
    apply(&[]);
    let jumps = jump_rules(&ns);
    assert_eq!(jumps.len(), iptables::jumps("SVCC").len(), "{jumps:#?}");
    assert_eq!(count_prerouting(), 1);
    // Again, forced (the runner runs), and unforced (nothing to do): still one of each.
    apply(&["--force"]);
    let out = apply(&[]);
    assert!(
        text(&out.stderr).contains("no change"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(count_prerouting(), 1, "no duplicate jump");
    assert_eq!(jump_rules(&ns), jumps, "the same jumps, once each");
    let v1_nat = own_chains(&ns, "nat", "SVCC");
    let compiled_v1 = compile(&[&input_s, "--node", "n1", "--no-jumps"]);
    assert_eq!(v1_nat, declared(&compiled_v1, "nat"));

    // A change: Service `old` and one endpoint of `web` are gone, and so are their chains.
    std::fs::write(&input, apply_v2()).unwrap();
    apply(&[]);
    let compiled_v2 = compile(&[&input_s, "--node", "n1", "--no-jumps"]);
    let v2_nat = own_chains(&ns, "nat", "SVCC");
    assert_eq!(
        v2_nat,
        declared(&compiled_v2, "nat"),
        "stale chains removed"
    );
    assert!(
        v1_nat.difference(&v2_nat).count() >= 3,
        "{v1_nat:?} → {v2_nat:?}"
    );
    assert_eq!(
        own_chains(&ns, "filter", "SVCC"),
        declared(&compiled_v2, "filter")
    );
    assert_eq!(jump_rules(&ns), jumps, "jumps untouched by the change");
    let dump = ns.ok("iptables-save", &["-t", "nat"], None);
    assert!(
        !dump.contains("10.244.0.5") && !dump.contains("10.96.0.81"),
        "{dump}"
    );
    assert!(dump.contains("--to-destination 10.244.0.6:80"), "{dump}");

    // A jump deleted by hand comes back on the next (forced) apply, once.
    ns.ok(
        "iptables",
        &[
            "-t",
            "nat",
            "-D",
            "PREROUTING",
            "-m",
            "comment",
            "--comment",
            "svcc service portals",
            "-j",
            "SVCC-SERVICES",
        ],
        None,
    );
    assert_eq!(count_prerouting(), 0);
    apply(&["--force"]);
    assert_eq!(count_prerouting(), 1);

    // --remove leaves nothing of svcc's, and is fine to run twice.
    apply(&["--remove"]);
    apply(&["--remove"]);
    assert!(jump_rules(&ns).is_empty(), "{:?}", jump_rules(&ns));
    assert!(own_chains(&ns, "nat", "SVCC").is_empty());
    assert!(own_chains(&ns, "filter", "SVCC").is_empty());
}

/// The prefix KUBE would make apply delete kube-proxy's chains as stale: refused.
#[test]
fn apply_refuses_the_kube_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let o = svcc(&[
        "apply",
        "--target",
        "iptables",
        "--table",
        "KUBE",
        "--state-dir",
        &state.display().to_string(),
        "corpus/seed/good",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("kube-proxy's chains"),
        "{}",
        text(&o.stderr)
    );
}

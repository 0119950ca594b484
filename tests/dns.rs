//! `svcc compile --target dns` proved with real tools: every zone svcc writes (seed corpus,
//! the crafted inputs in `corpus/dns/`, every real-world file that compiles) passes BIND's and
//! Knot's zone checkers; BIND serves the zones and `dig` gets exactly the answers the
//! Kubernetes DNS specification asks for; the serial follows the content; names at the
//! limits are left out with a warning instead of breaking the zone.
//!
//! The tools (`named-checkzone`, `kzonecheck`, `named`, `dig`; serving also needs root) are run
//! from `PATH`. A test whose tools are missing fails, saying which Debian packages to install,
//! unless `SVCC_ALLOW_SKIP=1` (see `support/require.rs`): then it is skipped and counted.
//!
//! A crafted input may name extra svcc flags on a line `# svcc-flags: ...` (e.g. a dual-stack
//! service CIDR); the tests pass them on every compile of that input.

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::dns_server::{zone_files, Answer, Named};
use support::Need;
use tempfile::TempDir;

const SEED_GOOD: &str = "corpus/seed/good";
const CRAFTED: &str = "corpus/dns";
const REAL: &str = "corpus/real";
const ZONE: &str = "cluster.local";

// --- running svcc ---------------------------------------------------------------------------

fn svcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run svcc")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flags an input asks for on its `# svcc-flags:` lines (none for a directory).
fn input_flags(input: &Path) -> Vec<String> {
    if input.is_dir() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(input).expect("read input");
    text.lines()
        .filter_map(|l| l.strip_prefix("# svcc-flags:"))
        .flat_map(|l| l.split_whitespace().map(str::to_owned))
        .collect()
}

/// `svcc <flags> compile <target args> <input>`.
fn compile(input: &Path, target: &[&str]) -> Output {
    let flags = input_flags(input);
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.push("compile");
    args.extend_from_slice(target);
    args.push(input.to_str().expect("UTF-8 path"));
    svcc(&args)
}

/// Compiles `input` with `--reverse --out-dir DIR` (reverse zones for the service CIDRs and
/// the crafted inputs' pod CIDRs) and diagnostics one per line; panics unless svcc succeeds.
fn compile_zones(input: &Path, dir: &Path) -> Output {
    let out = compile(
        input,
        &[
            "--target",
            "dns",
            "--format",
            "short",
            "--cluster-cidr",
            "10.244.0.0/16,fd00:10:244::/56",
            "--reverse",
            "--out-dir",
            dir.to_str().expect("UTF-8 path"),
        ],
    );
    assert!(
        out.status.success(),
        "svcc failed on {}:\n{}",
        input.display(),
        stderr(&out)
    );
    out
}

/// The forward zone as `--target dns` prints it.
fn forward_zone(input: &Path) -> String {
    let out = compile(input, &["--target", "dns"]);
    assert!(
        out.status.success(),
        "svcc failed on {}:\n{}",
        input.display(),
        stderr(&out)
    );
    stdout(&out)
}

/// The plan (`--target plan`) as JSON.
fn plan(input: &Path) -> serde_json::Value {
    let out = compile(input, &["--target", "plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("plan JSON")
}

fn crafted_inputs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(CRAFTED)
        .expect("corpus/dns")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no crafted inputs in {CRAFTED}");
    v
}

fn crafted(name: &str) -> PathBuf {
    Path::new(CRAFTED).join(name)
}

/// The SOA serial of a zone file.
fn serial(zone: &str) -> u32 {
    let line = zone
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .expect("SOA record");
    line.split_whitespace()
        .nth(6)
        .expect("serial field")
        .parse()
        .expect("numeric serial")
}

// --- tools ----------------------------------------------------------------------------------

/// The zone validators, `named-checkzone` and `kzonecheck`: `Err` when the test must return
/// (skipping allowed and one is missing; see `support::require`).
fn require_validators() -> Result<(), support::Skip> {
    support::require(&["named-checkzone", "kzonecheck"], Need::Tools)
}

/// Runs both validators on one zone file: `Err` carries their output.
fn validate(origin: &str, file: &Path) -> Result<(), String> {
    let mut problems = String::new();
    let runs = [
        Command::new("named-checkzone")
            .args(["-k", "fail", "-i", "full", "-S", "fail", origin])
            .arg(file)
            .output(),
        Command::new("kzonecheck")
            .args(["-o", origin])
            .arg(file)
            .output(),
    ];
    for (tool, run) in ["named-checkzone", "kzonecheck"].iter().zip(runs) {
        let out = run.unwrap_or_else(|e| panic!("run {tool}: {e}"));
        if !out.status.success() {
            problems.push_str(&format!(
                "{tool} {origin} {}: {}\n{}{}\n",
                file.display(),
                out.status,
                stdout(&out),
                stderr(&out)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        Err(format!("{problems}--- zone file ---\n{text}"))
    }
}

/// Validates every zone file in `dir`; returns how many there were.
fn validate_dir(dir: &Path) -> Result<usize, String> {
    let zones = zone_files(dir);
    if zones.is_empty() {
        return Err(format!("no zone files in {}", dir.display()));
    }
    for (origin, file) in &zones {
        validate(origin, file)?;
    }
    Ok(zones.len())
}

fn real_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(Path::new(REAL))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Runs `f` on every item on a few threads; collects the errors.
fn par_each<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<(), String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let errors = std::sync::Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if let Err(e) = f(item) {
                    errors.lock().expect("lock").push(e);
                }
            });
        }
    });
    errors.into_inner().expect("lock")
}

// --- 1. validators on every zone ------------------------------------------------------------

#[test]
fn seed_and_crafted_zones_pass_both_validators() {
    let Ok(()) = require_validators() else {
        return;
    };
    let mut inputs = vec![PathBuf::from(SEED_GOOD)];
    inputs.extend(crafted_inputs());
    let errors = par_each(&inputs, |input| {
        let dir = TempDir::new().expect("tempdir");
        compile_zones(input, dir.path());
        validate_dir(dir.path())
            .map(|_| ())
            .map_err(|e| format!("== {}\n{e}", input.display()))
    });
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn real_corpus_zones_pass_both_validators() {
    let Ok(()) = require_validators() else {
        return;
    };
    let files = real_files();
    let compiled = std::sync::atomic::AtomicUsize::new(0);
    let zones = std::sync::atomic::AtomicUsize::new(0);
    let errors = par_each(&files, |file| {
        let dir = TempDir::new().expect("tempdir");
        let out = compile(
            file,
            &[
                "--target",
                "dns",
                "--reverse",
                "--out-dir",
                dir.path().to_str().expect("UTF-8"),
            ],
        );
        match out.status.code() {
            // Errors in the manifests: nothing may be written.
            Some(1) => {
                return if zone_files(dir.path()).is_empty() {
                    Ok(())
                } else {
                    Err(format!("{}: exit 1 but zones written", file.display()))
                };
            }
            Some(0) => {}
            _ => {
                return Err(format!(
                    "{}: svcc exited with {}\n{}",
                    file.display(),
                    out.status,
                    stderr(&out)
                ))
            }
        }
        compiled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = validate_dir(dir.path()).map_err(|e| format!("== {}\n{e}", file.display()))?;
        zones.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let compiled = compiled.into_inner();
    eprintln!(
        "{compiled} of {} real-world files compiled; {} zones validated",
        files.len(),
        zones.into_inner()
    );
    assert!(
        compiled * 2 > files.len(),
        "only {compiled} of {} files compiled",
        files.len()
    );
}

// --- 2. a real server -----------------------------------------------------------------------

/// BIND serving the zones of `input`, and the input's plan; `None` when the test must return
/// (skipping allowed, and `named`, `dig` or root missing).
fn serve(input: &Path) -> Option<(Named, serde_json::Value)> {
    support::require(&["named", "dig"], Need::Root).ok()?;
    let dir = TempDir::new().expect("tempdir");
    compile_zones(input, dir.path());
    let server = Named::start(dir);
    Some((server, plan(input)))
}

fn fqdn(name: &str) -> String {
    format!("{name}.")
}

fn svc_name(ns: &str, svc: &str) -> String {
    format!("{svc}.{ns}.svc.{ZONE}")
}

/// Would svcc write this name (labels ≤ 63 octets, name ≤ 255 octets on the wire)?
fn writable(name: &str) -> bool {
    name.split('.').all(|l| !l.is_empty() && l.len() <= 63) && name.len() + 2 <= 255
}

fn assert_answer(server: &Named, args: &[&str], name: &str, rtype: &str, expected: &[&str]) {
    let a = server.query(args);
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(a.status, "NOERROR", "{args:?}:\n{}", a.raw);
    assert!(a.authoritative, "{args:?}: not authoritative:\n{}", a.raw);
    assert_eq!(a.rdata(name, rtype), want, "{args:?}:\n{}", a.raw);
}

fn assert_rrset(server: &Named, name: &str, rtype: &str, expected: &[&str]) {
    assert_answer(server, &[name, rtype], name, rtype, expected);
}

fn assert_nxdomain(server: &Named, name: &str, rtype: &str) {
    let a: Answer = server.query(&[name, rtype]);
    assert_eq!(a.status, "NXDOMAIN", "{name} {rtype}:\n{}", a.raw);
    assert!(a.records.is_empty(), "{name} {rtype}:\n{}", a.raw);
}

fn assert_ptr(server: &Named, ip: &str, expected: &[&str]) {
    let reverse = reverse_name(ip.parse().expect("IP"));
    assert_answer(server, &["-x", ip], &reverse, "PTR", expected);
}

fn assert_no_ptr(server: &Named, ip: &str) {
    let a = server.query(&["-x", ip]);
    assert_eq!(a.status, "NXDOMAIN", "-x {ip}:\n{}", a.raw);
}

/// The reverse-lookup name with its final dot, as dig prints it.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa."
        }
    }
}

/// Every Service of the plan answers as the specification says: A/AAAA = clusterIPs and their
/// PTRs, SRV per named port, CNAME for ExternalName, the ready addresses of headless Services,
/// NXDOMAIN for headless Services without any.
fn assert_plan_served(server: &Named, plan: &serde_json::Value) {
    for s in plan["services"].as_array().expect("services") {
        let (ns, name) = (
            s["namespace"].as_str().unwrap(),
            s["name"].as_str().unwrap(),
        );
        let base = svc_name(ns, name);
        if !writable(&base) {
            continue;
        }
        let headless = s["headless"].as_bool().unwrap();
        let ips = |key: &str,
                   filter: &dyn Fn(&serde_json::Value) -> bool|
         -> (Vec<String>, Vec<String>) {
            let all: Vec<IpAddr> = s[key]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| filter(v))
                .map(|v| v["ip"].as_str().unwrap().parse().unwrap())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            (
                all.iter()
                    .filter(|i| i.is_ipv4())
                    .map(|i| i.to_string())
                    .collect(),
                all.iter()
                    .filter(|i| i.is_ipv6())
                    .map(|i| i.to_string())
                    .collect(),
            )
        };
        if let Some(target) = s["external_name"].as_str() {
            assert_rrset(server, &base, "CNAME", &[&fqdn(target)]);
            continue;
        }
        if s["type"] == "externalname" {
            // An IP-valued externalName: no record at all.
            assert_nxdomain(server, &base, "A");
            continue;
        }
        let (v4, v6) = if headless {
            ips("addresses", &|a| a["ready"].as_bool().unwrap())
        } else {
            ips("cluster_ips", &|_| true)
        };
        if v4.is_empty() && v6.is_empty() {
            assert_nxdomain(server, &base, "A");
            assert_nxdomain(server, &base, "AAAA");
            continue;
        }
        // Both sides sorted as strings (rdata() sorts so).
        let as_str = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.join(",")
        };
        for (rtype, set) in [("A", &v4), ("AAAA", &v6)] {
            let a = server.query(&[&base, rtype]);
            assert_eq!(a.status, "NOERROR", "{base} {rtype}:\n{}", a.raw);
            assert_eq!(
                as_str(&a.rdata(&fqdn(&base), rtype)),
                as_str(set),
                "{base} {rtype}:\n{}",
                a.raw
            );
        }
        if !headless {
            for ip in v4.iter().chain(&v6) {
                assert_ptr(server, ip, &[&fqdn(&base)]);
            }
            for p in s["ports"].as_array().unwrap() {
                let port = p["name"].as_str().unwrap();
                let owner = format!("_{port}._{}.{base}", p["protocol"].as_str().unwrap());
                if port.is_empty() || !writable(&owner) {
                    continue;
                }
                let a = server.query(&[&owner, "SRV"]);
                let want = format!("0 100 {} {}", p["port"], fqdn(&base));
                assert!(
                    a.rdata(&fqdn(&owner), "SRV").contains(&want),
                    "{owner} SRV: want {want}:\n{}",
                    a.raw
                );
            }
        }
    }
}

#[test]
fn serve_seed_good() {
    let Some((server, plan)) = serve(Path::new(SEED_GOOD)) else {
        return;
    };
    assert_plan_served(&server, &plan);
    let clusterip = plan["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "myapp-clusterip")
        .expect("myapp-clusterip in the plan")["cluster_ips"][0]["ip"]
        .as_str()
        .expect("allocated clusterIP")
        .to_owned();
    assert_rrset(
        &server,
        &svc_name("default", "myapp-clusterip"),
        "A",
        &[&clusterip],
    );
    assert_ptr(
        &server,
        &clusterip,
        &["myapp-clusterip.default.svc.cluster.local."],
    );
    assert_rrset(
        &server,
        "mongo.default.svc.cluster.local",
        "CNAME",
        &["ds149763.mlab.com."],
    );
    // An A query gets the CNAME; the target is out of zone, so that is all.
    assert_answer(
        &server,
        &["mongo.default.svc.cluster.local", "A"],
        "mongo.default.svc.cluster.local.",
        "CNAME",
        &["ds149763.mlab.com."],
    );
    // Headless Services without ready endpoints do not exist.
    for name in ["myapp-headless", "web"] {
        assert_nxdomain(&server, &svc_name("default", name), "A");
    }
    assert_nxdomain(&server, "web-0.web.default.svc.cluster.local", "A");
    // The only port of myapp-nodeport-fixed has no name (its targetPort is named `http`): the
    // spec gives SRV records to named ports only.
    assert_nxdomain(
        &server,
        "_http._tcp.myapp-nodeport-fixed.default.svc.cluster.local",
        "SRV",
    );
    assert_rrset(&server, "dns-version.cluster.local", "TXT", &["\"1.1.0\""]);
    // No kube-dns Service in the input: the name server is the 10th address of 10.96.0.0/12.
    assert_rrset(&server, "ns.dns.cluster.local", "A", &["10.96.0.10"]);
    assert_rrset(&server, ZONE, "NS", &["ns.dns.cluster.local."]);
}

#[test]
fn serve_headless_endpointslice() {
    let Some((server, plan)) = serve(&crafted("headless-endpointslice.yaml")) else {
        return;
    };
    assert_plan_served(&server, &plan);
    let web = "web.default.svc.cluster.local";
    assert_rrset(
        &server,
        web,
        "A",
        &["10.244.1.10", "10.244.2.11", "10.244.3.12"],
    );
    assert_rrset(&server, &format!("web-0.{web}"), "A", &["10.244.1.10"]);
    assert_rrset(&server, &format!("web-1.{web}"), "A", &["10.244.2.11"]);
    // No hostname: named by the dashed IP.
    assert_rrset(
        &server,
        &format!("10-244-3-12.{web}"),
        "A",
        &["10.244.3.12"],
    );
    // Not ready: in no record.
    assert_nxdomain(&server, &format!("web-2.{web}"), "A");
    assert_nxdomain(&server, &format!("10-244-3-13.{web}"), "A");
    assert_no_ptr(&server, "10.244.3.13");
    // 3 ready endpoints x 2 named ports; weight floor(100/3); the endpoint's port.
    for (port, number) in [("http", 8080), ("metrics", 9090)] {
        assert_rrset(
            &server,
            &format!("_{port}._tcp.{web}"),
            "SRV",
            &[
                &format!("0 33 {number} web-0.{web}."),
                &format!("0 33 {number} web-1.{web}."),
                &format!("0 33 {number} 10-244-3-12.{web}."),
            ],
        );
    }
    assert_ptr(&server, "10.244.1.10", &[&format!("web-0.{web}.")]);
    assert_ptr(&server, "10.244.3.12", &[&format!("10-244-3-12.{web}.")]);
    // publishNotReadyAddresses publishes the not-ready endpoint.
    let peers = "peers.default.svc.cluster.local";
    assert_rrset(&server, peers, "A", &["10.244.4.20"]);
    assert_rrset(&server, &format!("peers-0.{peers}"), "A", &["10.244.4.20"]);
    assert_rrset(
        &server,
        &format!("_gossip._udp.{peers}"),
        "SRV",
        &[&format!("0 100 7946 peers-0.{peers}.")],
    );
}

#[test]
fn serve_dual_stack() {
    let Some((server, plan)) = serve(&crafted("dual-stack.yaml")) else {
        return;
    };
    assert_plan_served(&server, &plan);
    let dual = "dual.default.svc.cluster.local";
    assert_rrset(&server, dual, "A", &["10.96.0.50"]);
    assert_rrset(&server, dual, "AAAA", &["fd00:10:96::50"]);
    assert_ptr(&server, "10.96.0.50", &[&fqdn(dual)]);
    assert_ptr(&server, "fd00:10:96::50", &[&fqdn(dual)]);
    assert_rrset(
        &server,
        &format!("_http._tcp.{dual}"),
        "SRV",
        &[&format!("0 100 80 {dual}.")],
    );
    // Dual-stack kube-dns: A and AAAA glue for the name server.
    assert_rrset(&server, "ns.dns.cluster.local", "A", &["10.96.0.10"]);
    assert_rrset(&server, "ns.dns.cluster.local", "AAAA", &["fd00:10:96::a"]);
    // Dual-stack headless: both families at the Service and at the hostname.
    let db = "db.default.svc.cluster.local";
    assert_rrset(&server, db, "A", &["10.244.1.5"]);
    assert_rrset(
        &server,
        db,
        "AAAA",
        &["fd00:10:244:1::5", "fd00:10:244:2::"],
    );
    assert_rrset(&server, &format!("db-0.{db}"), "A", &["10.244.1.5"]);
    assert_rrset(
        &server,
        &format!("db-0.{db}"),
        "AAAA",
        &["fd00:10:244:1::5"],
    );
    // An IPv6 address ending in `::` gets a `0` after its dashes (CoreDNS).
    assert_rrset(
        &server,
        &format!("fd00-10-244-2--0.{db}"),
        "AAAA",
        &["fd00:10:244:2::"],
    );
    assert_ptr(
        &server,
        "fd00:10:244:2::",
        &[&format!("fd00-10-244-2--0.{db}.")],
    );
    assert_ptr(&server, "fd00:10:244:1::5", &[&format!("db-0.{db}.")]);
}

#[test]
fn serve_kube_dns_and_named_port() {
    let Some((server, plan)) = serve(&crafted("kube-dns.yaml")) else {
        return;
    };
    assert_plan_served(&server, &plan);
    // The name server's address comes from the kube-dns Service.
    assert_rrset(&server, ZONE, "NS", &["ns.dns.cluster.local."]);
    assert_rrset(&server, "ns.dns.cluster.local", "A", &["10.96.0.53"]);
    let soa = server.query(&[ZONE, "SOA"]);
    let soa = soa.rdata(&fqdn(ZONE), "SOA");
    assert_eq!(soa.len(), 1);
    let fields: Vec<&str> = soa[0].split_whitespace().collect();
    assert_eq!(
        fields[..2],
        ["ns.dns.cluster.local.", "hostmaster.cluster.local."]
    );
    assert_eq!(fields[3..], ["7200", "1800", "86400", "30"]);
    let file = forward_zone(&crafted("kube-dns.yaml"));
    assert_eq!(
        fields[2],
        serial(&file).to_string(),
        "served serial = file serial"
    );
    let txt = server.query(&["dns-version.cluster.local", "TXT"]);
    assert_eq!(
        txt.rdata("dns-version.cluster.local.", "TXT"),
        ["\"1.1.0\""],
        "{}",
        txt.raw
    );
    assert!(txt.records.iter().all(|r| r.ttl == 28800), "{}", txt.raw);
    let kube_dns = "kube-dns.kube-system.svc.cluster.local";
    assert_rrset(&server, kube_dns, "A", &["10.96.0.53"]);
    assert_rrset(
        &server,
        &format!("_dns._udp.{kube_dns}"),
        "SRV",
        &[&format!("0 100 53 {kube_dns}.")],
    );
    assert_rrset(
        &server,
        &format!("_dns-tcp._tcp.{kube_dns}"),
        "SRV",
        &[&format!("0 100 53 {kube_dns}.")],
    );
    // The protocol is part of the SRV name.
    assert_nxdomain(&server, &format!("_dns._tcp.{kube_dns}"), "SRV");
    assert_ptr(&server, "10.96.0.53", &[&fqdn(kube_dns)]);
    // A named port `http` on a ClusterIP Service.
    assert_rrset(
        &server,
        "_http._tcp.api.shop.svc.cluster.local",
        "SRV",
        &["0 100 8080 api.shop.svc.cluster.local."],
    );
    let a = server.query(&["api.shop.svc.cluster.local", "A"]);
    assert!(a.records.iter().all(|r| r.ttl == 30), "{}", a.raw);
}

#[test]
fn serve_externalname() {
    let Some((server, plan)) = serve(&crafted("externalname.yaml")) else {
        return;
    };
    assert_plan_served(&server, &plan);
    // The trailing dot of the manifest's externalName is optional; the CNAME is absolute.
    assert_rrset(
        &server,
        "ext.default.svc.cluster.local",
        "CNAME",
        &["www.example.com."],
    );
    // Nothing below a CNAME.
    assert_nxdomain(&server, "x.ext.default.svc.cluster.local", "A");
    // In-zone target: the server follows it.
    let a = server.query(&["ext-internal.default.svc.cluster.local", "A"]);
    assert_eq!(
        a.rdata("ext-internal.default.svc.cluster.local.", "CNAME"),
        ["db.data.svc.cluster.local."],
        "{}",
        a.raw
    );
    assert_eq!(
        a.rdata("db.data.svc.cluster.local.", "A"),
        ["10.96.8.8"],
        "{}",
        a.raw
    );
    // An IP-valued externalName gets no record.
    for rtype in ["A", "CNAME"] {
        assert_nxdomain(&server, "ext-ip.default.svc.cluster.local", rtype);
    }
}

// --- 3. serial --------------------------------------------------------------------------------

/// Every zone file of a directory: (file name, content).
fn read_zones(dir: &Path) -> Vec<(String, String)> {
    zone_files(dir)
        .into_iter()
        .map(|(origin, path)| (origin, std::fs::read_to_string(path).expect("zone file")))
        .collect()
}

fn zones_of(input: &Path) -> Vec<(String, String)> {
    let dir = TempDir::new().expect("tempdir");
    compile_zones(input, dir.path());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("db."))
        .collect();
    assert!(leftovers.is_empty(), "unexpected files: {leftovers:?}");
    read_zones(dir.path())
}

fn zone<'a>(zones: &'a [(String, String)], origin: &str) -> &'a str {
    &zones
        .iter()
        .find(|(o, _)| o == origin)
        .unwrap_or_else(|| panic!("no zone {origin}"))
        .1
}

#[test]
fn same_input_same_zones_and_serial() {
    let mut inputs = vec![PathBuf::from(SEED_GOOD)];
    inputs.extend(crafted_inputs());
    for input in &inputs {
        let first = zones_of(input);
        let second = zones_of(input);
        assert_eq!(
            first,
            second,
            "{}: zones differ between runs",
            input.display()
        );
        // The forward zone on stdout is the file `--out-dir` writes.
        let forward = first
            .iter()
            .find(|(o, _)| !o.ends_with(".arpa"))
            .expect("forward zone");
        assert_eq!(forward_zone(input), forward.1, "{}", input.display());
    }
}

#[test]
fn changing_one_service_changes_the_serial() {
    let original = std::fs::read_to_string(crafted("kube-dns.yaml")).expect("input");
    let tmp = TempDir::new().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).expect("write input");
        p
    };
    let before = zones_of(&write("before.yaml", &original));
    let reverse = "96.10.in-addr.arpa";

    // A port number: only the forward zone changes.
    let port = original.replace("port: 8080", "port: 8081");
    assert_ne!(port, original);
    let after = zones_of(&write("port.yaml", &port));
    assert_ne!(serial(zone(&after, ZONE)), serial(zone(&before, ZONE)));
    assert!(zone(&after, ZONE).contains(" 8081 api.shop.svc.cluster.local."));
    assert_eq!(
        zone(&after, reverse),
        zone(&before, reverse),
        "reverse zone unchanged"
    );

    // A clusterIP: both zones change.
    let ip = original.replace("clusterIP: 10.96.7.7", "clusterIP: 10.96.7.8");
    assert_ne!(ip, original);
    let after = zones_of(&write("ip.yaml", &ip));
    assert_ne!(serial(zone(&after, ZONE)), serial(zone(&before, ZONE)));
    assert_ne!(
        serial(zone(&after, reverse)),
        serial(zone(&before, reverse))
    );

    // Whitespace and comments in the manifest are not content.
    let comment = format!("# a comment\n{original}\n");
    let after = zones_of(&write("comment.yaml", &comment));
    assert_eq!(after, before);

    // --serial pins the serial of every zone.
    let out = svcc(&[
        "compile",
        "--target",
        "dns",
        "--serial",
        "2026112501",
        crafted("kube-dns.yaml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serial(&stdout(&out)), 2026112501);
}

#[test]
fn reverse_needs_an_out_dir() {
    let out = svcc(&["compile", "--target", "dns", "--reverse", SEED_GOOD]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("--out-dir"), "{}", stderr(&out));
}

// --- 4. snapshots ---------------------------------------------------------------------------

#[test]
fn forward_zone_snapshots() {
    let mut inputs = vec![(PathBuf::from(SEED_GOOD), "seed_good".to_owned())];
    for input in crafted_inputs() {
        let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
        inputs.push((input, stem));
    }
    for (input, name) in inputs {
        let text = forward_zone(&input);
        insta::with_settings!({
            snapshot_path => "../snapshots/dns",
            prepend_module_to_snapshot => false,
            description => input.display().to_string(),
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

// --- 5. hostile names -----------------------------------------------------------------------

/// The `dns-name-too-long` warnings svcc printed.
fn name_warnings(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("warning[dns-name-too-long]"))
        .map(str::to_owned)
        .collect()
}

/// The last step of a test: both validators accept the zones in `dir`. Without them the test
/// fails, or with `SVCC_ALLOW_SKIP=1` this step is skipped and counted.
fn validate_zones(dir: &Path) {
    let Ok(()) = require_validators() else {
        return;
    };
    if let Err(e) = validate_dir(dir) {
        panic!("{e}");
    }
}

#[test]
fn a_64_octet_srv_label_is_left_out_with_a_warning() {
    let input = crafted("hostile-names.yaml");
    let ns = format!("n{}1", "s".repeat(61));
    let svc = format!("s{}c", "v".repeat(61));
    let port = format!("p{}t", "o".repeat(61));
    assert_eq!((ns.len(), svc.len(), port.len()), (63, 63, 63));
    let base = format!("{svc}.{ns}.svc.{ZONE}");

    let dir = TempDir::new().expect("tempdir");
    let out = compile_zones(&input, dir.path());
    let warnings = name_warnings(&out);
    assert_eq!(warnings.len(), 1, "{}", stderr(&out));
    assert!(
        warnings[0].contains(&format!("_{port}._tcp.{base}")),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("longer than 63 octets"),
        "{}",
        warnings[0]
    );

    let zones = read_zones(dir.path());
    let forward = zone(&zones, ZONE);
    assert!(!forward.contains(&format!("_{port}")), "{forward}");
    // The rest of the Service is still there.
    assert!(forward.contains(&format!("{base}.")), "{forward}");
    assert!(
        forward.contains(&format!("_http._tcp.{base}.")),
        "{forward}"
    );
    assert!(forward.contains("10.96.9.9"), "{forward}");
    validate_zones(dir.path());
}

#[test]
fn a_name_over_255_octets_is_left_out_with_its_srv_and_ptr() {
    let input = crafted("hostile-long-domain.yaml");
    let host = format!("h{}t", "o".repeat(61));
    let dir = TempDir::new().expect("tempdir");
    let out = compile_zones(&input, dir.path());
    let warnings = name_warnings(&out);
    // One warning per name, although the A record and the SRV target both use it.
    assert_eq!(warnings.len(), 1, "{}", stderr(&out));
    assert!(warnings[0].contains(&host), "{}", warnings[0]);
    assert!(warnings[0].contains("at most 255"), "{}", warnings[0]);
    let zones = read_zones(dir.path());
    for (origin, text) in &zones {
        assert!(!text.contains(&host), "{origin}:\n{text}");
    }
    let forward = &zones.iter().find(|(o, _)| !o.ends_with(".arpa")).unwrap().1;
    assert!(
        forward.contains("10.244.5.1"),
        "the Service-level A record stays:\n{forward}"
    );
    assert!(forward.contains("short."), "{forward}");
    assert!(!zone(&zones, "244.10.in-addr.arpa").contains("1.5.244.10.in-addr.arpa."));
    validate_zones(dir.path());
}

#[test]
fn no_ptr_to_a_service_name_that_cannot_be_written() {
    // 237 characters: the zone's own names fit, `kube-dns.kube-system.svc.` + domain does not.
    let domain = [
        &"a".repeat(63)[..],
        &"a".repeat(63),
        &"a".repeat(63),
        &"b".repeat(45),
    ]
    .join(".");
    let dir = TempDir::new().expect("tempdir");
    let out = svcc(&[
        "--cluster-domain",
        &domain,
        "compile",
        "--target",
        "dns",
        "--reverse",
        "--out-dir",
        dir.path().to_str().unwrap(),
        crafted("kube-dns.yaml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!name_warnings(&out).is_empty(), "{}", stderr(&out));
    let zones = read_zones(dir.path());
    let reverse = zone(&zones, "96.10.in-addr.arpa");
    assert!(!reverse.contains("kube-dns"), "{reverse}");
    // api.shop.svc.<domain> fits, so its PTR stays.
    assert!(reverse.contains("7.7.96.10.in-addr.arpa."), "{reverse}");
    validate_zones(dir.path());
}

#[test]
fn a_cluster_domain_that_cannot_be_a_zone_is_an_error() {
    let long_label = format!("{}.local", "b".repeat(64));
    let too_long = vec!["a".repeat(60); 4].join(".");
    for domain in [long_label, too_long] {
        let out = svcc(&[
            "--cluster-domain",
            &domain,
            "compile",
            "--target",
            "dns",
            SEED_GOOD,
        ]);
        assert_eq!(out.status.code(), Some(2), "{domain}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{domain}: wrote a zone");
        assert!(
            stderr(&out).contains("cannot name a DNS zone"),
            "{}",
            stderr(&out)
        );
    }
}

//! kube-proxy's own packet-flow tests, transcribed as data under `corpus/kube-proxy/` (see its
//! README): each `<test>.toml` lists runs (manifests, flags beyond the target's preset) and
//! packets with the output kube-proxy's tracer expects (`"10.180.0.1:80, 10.180.2.1:80"`,
//! `REJECT`, `DROP`, `ACCEPT`, or `""` for a packet no rule touches) and whether the packet is
//! marked for masquerade. `tests/trace.rs` asks `svcc trace`, `tests/e2e_nft.rs` and
//! `tests/e2e_iptables.rs` the kernel (`oracle_net`), the same cases for both targets.
//!
//! `SVCC_ORACLE_BIN=PATH` runs them against another svcc binary; `SVCC_ORACLE_LEGACY=1` leaves
//! out the flags an svcc older than `--node-ip` lacks; `SVCC_ORACLE_REPORT=1` records the
//! agreement (`target/oracle/*.txt`, one line per test and target) instead of failing, for
//! measuring a binary against the oracle.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The dataplane target under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Nft,
    Iptables,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Nft => "nft",
            Target::Iptables => "iptables",
        }
    }
}

/// One transcribed upstream test.
#[derive(Debug, Deserialize)]
pub struct File {
    pub test: String,
    #[serde(rename = "run")]
    pub runs: Vec<Run>,
}

/// One configuration of the node and cluster, and the packets sent through it.
#[derive(Debug, Deserialize)]
pub struct Run {
    #[serde(default)]
    pub name: String,
    pub targets: Vec<String>,
    /// Files under `corpus/kube-proxy/`.
    pub manifests: Vec<String>,
    /// Flags that replace or add to the target's preset (`""` for a flag without value).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Flags of the preset that this run does without.
    #[serde(default)]
    pub unset: Vec<String>,
    /// Ports a stand-in host firewall drops on the node (appended to `INPUT`): an `ACCEPT`
    /// is then visible as an answer from a listener on the node.
    #[serde(default)]
    pub host_firewall: Vec<u16>,
    pub packets: Vec<Packet>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Packet {
    pub name: String,
    pub from: String,
    /// `IP:PORT/PROTO`, as `svcc trace --to` takes it.
    pub to: String,
    pub output: String,
    pub masq: bool,
    /// The target this packet's expectation belongs to, when the two differ.
    #[serde(default)]
    pub only: Option<String>,
}

/// What kube-proxy's tracer says happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    Untouched,
    Reject,
    Drop,
    Accept,
    /// DNAT to one of these `ip:port` (IPv6 bracketed), sorted.
    Dnat(Vec<String>),
}

impl Packet {
    pub fn expected(&self) -> Expected {
        match self.output.as_str() {
            "" => Expected::Untouched,
            "REJECT" => Expected::Reject,
            "DROP" => Expected::Drop,
            "ACCEPT" => Expected::Accept,
            list => {
                let mut endpoints: Vec<String> =
                    list.split(',').map(|e| e.trim().to_owned()).collect();
                endpoints.sort();
                Expected::Dnat(endpoints)
            }
        }
    }

    /// The destination address, port and protocol.
    pub fn destination(&self) -> (std::net::IpAddr, u16, String) {
        let (addr, proto) = self.to.rsplit_once('/').expect("IP:PORT/PROTO");
        let sock: std::net::SocketAddr = addr.parse().expect("IP:PORT");
        (sock.ip(), sock.port(), proto.to_owned())
    }

    pub fn source(&self) -> std::net::IpAddr {
        self.from.parse().expect("source IP")
    }
}

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/kube-proxy")
}

/// `corpus/kube-proxy/<slug>.toml`.
pub fn load(slug: &str) -> File {
    let path = corpus().join(format!("{slug}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Run {
    pub fn is_for(&self, target: Target) -> bool {
        self.targets.iter().any(|t| t == target.name())
    }

    /// The packets whose expectation holds for `target`.
    pub fn packets(&self, target: Target) -> impl Iterator<Item = &Packet> {
        self.packets
            .iter()
            .filter(move |p| p.only.as_deref().is_none_or(|o| o == target.name()))
    }

    /// The preset of `target` (kube-proxy's test fixture: node `test-node` with primary IPs
    /// 192.168.0.2 and 2001:db8::1, pod CIDRs 10.0.0.0/8 and fd00:10::/64, service CIDR
    /// 172.30.0.0/16, its small NodePorts; iptables mode with localhost NodePorts), with this
    /// run's changes.
    pub fn flags(&self, target: Target) -> Vec<String> {
        let mut flags: Vec<(String, String)> = [
            ("--node", "test-node"),
            ("--node-port-range", "3000-32767"),
            ("--service-cidr", "172.30.0.0/16"),
            ("--cluster-cidr", "10.0.0.0/8,fd00:10::/64"),
            ("--node-ip", "192.168.0.2,2001:db8::1"),
        ]
        .iter()
        .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
        .collect();
        if target == Target::Iptables {
            flags.push(("--localhost-nodeports".to_owned(), String::new()));
        }
        flags.retain(|(f, _)| !self.unset.contains(f));
        for (flag, value) in &self.set {
            match flags.iter_mut().find(|(f, _)| f == flag) {
                Some(entry) => entry.1 = value.clone(),
                None => flags.push((flag.clone(), value.clone())),
            }
        }
        if legacy() {
            flags.retain(|(f, _)| !["--node-ip", "--localhost-nodeports"].contains(&f.as_str()));
        }
        flags
            .into_iter()
            .flat_map(|(f, v)| if v.is_empty() { vec![f] } else { vec![f, v] })
            .collect()
    }

    pub fn manifest_paths(&self) -> Vec<PathBuf> {
        self.manifests.iter().map(|m| corpus().join(m)).collect()
    }

    pub fn label(&self, file: &File) -> String {
        if self.name.is_empty() {
            file.test.clone()
        } else {
            format!("{} [{}]", file.test, self.name)
        }
    }
}

/// The svcc under test.
pub fn svcc() -> std::ffi::OsString {
    std::env::var_os("SVCC_ORACLE_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_svcc").into())
}

/// Leave out flags an older svcc lacks.
pub fn legacy() -> bool {
    std::env::var_os("SVCC_ORACLE_LEGACY").is_some_and(|v| v == "1")
}

/// Record agreement instead of failing.
pub fn reporting() -> bool {
    std::env::var_os("SVCC_ORACLE_REPORT").is_some_and(|v| v == "1")
}

/// What `svcc trace` said about one packet.
#[derive(Debug)]
pub struct Traced {
    pub verdict: String,
    pub endpoints: Vec<String>,
    pub masquerade: bool,
}

/// `svcc trace --format json` of `packet` under `run`'s flags for `target`.
pub fn trace(run: &Run, packet: &Packet, target: Target) -> Result<Traced, String> {
    let mut flags = run.flags(target);
    if legacy() {
        // Before --node-ip, trace took none of the node's addresses.
        if let Some(k) = flags.iter().position(|f| f == "--nodeport-addresses") {
            flags.drain(k..k + 2);
        }
    }
    let out = Command::new(svcc())
        .args(["trace", "--format", "json", "--target", target.name()])
        .args(&flags)
        .args(["--to", &packet.to, "--from", &packet.from])
        .args(run.manifest_paths())
        .output()
        .map_err(|e| format!("cannot run svcc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "svcc trace failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("trace JSON: {e}"))?;
    let mut endpoints: Vec<String> = v["candidates"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    let ip: std::net::IpAddr = c["ip"]
                        .as_str()
                        .unwrap_or("")
                        .parse()
                        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                    let port = c["port"].as_u64().unwrap_or(0) as u16;
                    std::net::SocketAddr::new(ip, port).to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    endpoints.sort();
    Ok(Traced {
        verdict: v["verdict"].as_str().unwrap_or("").to_owned(),
        endpoints,
        masquerade: v["masquerade"].as_bool().unwrap_or(false),
    })
}

/// Whether the trace says what kube-proxy's tracer says.
pub fn trace_agrees(packet: &Packet, traced: &Traced) -> Result<(), String> {
    let expected = packet.expected();
    let ok = match &expected {
        Expected::Untouched => traced.verdict == "none",
        Expected::Reject => traced.verdict == "reject",
        Expected::Drop => traced.verdict == "drop",
        Expected::Accept => traced.verdict == "accept",
        Expected::Dnat(list) => {
            traced.verdict == "dnat"
                && &traced.endpoints == list
                && traced.masquerade == packet.masq
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {:?} (masq {}), trace says {} {:?} (masq {})",
            packet.output, packet.masq, traced.verdict, traced.endpoints, traced.masquerade
        ))
    }
}

/// Cases agreeing out of all, and what disagreed.
#[derive(Debug, Default)]
pub struct Agreement {
    pub agreed: usize,
    pub total: usize,
    pub failures: Vec<String>,
    /// Cases that could not be asked (a protocol the kernel has no sockets for), with why.
    pub unchecked: Vec<String>,
}

impl Agreement {
    pub fn add(&mut self, what: String, result: Result<(), String>) {
        self.total += 1;
        match result {
            Ok(()) => self.agreed += 1,
            Err(why) if why.starts_with("not checked") => {
                self.unchecked.push(format!("{what}: {why}"))
            }
            Err(why) => self.failures.push(format!("{what}: {why}")),
        }
    }

    /// Records the numbers under `target/oracle/` when reporting; else fails on any
    /// disagreement, listing them all.
    pub fn finish(self, kind: &str, target: Target, slug: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oracle");
        let _ = std::fs::create_dir_all(&dir);
        let line = format!(
            "{kind} {} {slug} {} {} {}\n{}",
            target.name(),
            self.agreed,
            self.total,
            self.unchecked.len(),
            self.failures
                .iter()
                .chain(&self.unchecked)
                .map(|f| format!("  {f}\n"))
                .collect::<String>()
        );
        let _ = std::fs::write(
            dir.join(format!("{kind}-{}-{slug}.txt", target.name())),
            &line,
        );
        eprintln!("{line}");
        if !reporting() {
            assert!(
                self.failures.is_empty() && self.total > 0,
                "{} of {} cases disagree with kube-proxy:\n{}",
                self.failures.len(),
                self.total,
                self.failures.join("\n")
            );
        }
    }
}

/// Every packet of `slug` for `target`, through `svcc trace`.
pub fn check_trace(slug: &str, target: Target) {
    let file = load(slug);
    let mut agreement = Agreement::default();
    for run in file.runs.iter().filter(|r| r.is_for(target)) {
        for packet in run.packets(target) {
            let what = format!("{} {}", run.label(&file), packet.name);
            let result = trace(run, packet, target).and_then(|t| trace_agrees(packet, &t));
            agreement.add(what, result);
        }
    }
    agreement.finish("trace", target, slug);
}

/// The transcribed upstream tests, by file name.
pub const TESTS: &[&str] = &[
    "no-endpoints-reject",
    "cluster-ip-general",
    "load-balancer",
    "node-ports",
    "external-traffic-policy-local",
    "external-traffic-policy-cluster",
    "internal-traffic-policy",
    "terminating-endpoints-local",
    "terminating-endpoints-cluster",
    "internal-external-masquerade",
    "trace-packet",
    "health-check-node-port",
];

/// One `#[test]` per transcribed upstream test: `oracle_tests!(check_fn, Target::Nft)`.
#[macro_export]
macro_rules! oracle_tests {
    ($check:path, $target:expr, $($name:ident => $slug:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $check($slug, $target);
            }
        )*
    };
}

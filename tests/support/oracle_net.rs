//! kube-proxy's packet-flow cases (`oracle`) in the kernel: a node namespace with kube-proxy's
//! test node addresses and the compiled ruleset, an external client namespace, and one
//! namespace per pod address (endpoints answer with their own address; pod clients send).
//! Every case is real traffic: which endpoints answer, refusal or timeout, and whether the
//! endpoint saw the node's address (masqueraded) or the client's.
//!
//! ```text
//!   client 203.0.113.2, …  ── eth0 ═ eth-ext ── node 192.168.0.2/24, 192.168.1.2/24,
//!     default via the node                        192.168.99.11/24, 2001:db8::1/64,
//!                                                 2001:db8:1::2/64 (kube-proxy's test node)
//!                                                   ├─ veth ── pod 10.180.0.1/32 (gateway 10.255.255.254)
//!                                                   ├─ veth ── pod 10.0.0.2/32 …
//!                                                   └─ uplink: default route into a sink
//! ```
//!
//! kube-proxy's tracer sends "node" packets through prerouting; here the node's own packets
//! leave a process in the node namespace (its source bound to the node address), as they do on
//! a real node. Where a case expects `ACCEPT` (iptables mode's health-check node port), a
//! stand-in host firewall on the node accepts established traffic and drops the port, and a
//! listener on the node answers what the ruleset accepted. A packet whose source is its own destination (a LoadBalancer IP the node
//! holds, "SNATted to LB") is sent from the node with that address added to its `lo`.
//!
//! SCTP cases are sent as raw INIT chunks (kernels without SCTP sockets, as the test machines'
//! are, still track and NAT SCTP), and the node's conntrack table says which endpoint each
//! association was DNATed to and whether it was masqueraded.

use super::netns::{
    run_bounded, run_ok, Host, Netns, Process, COMMAND_LIMIT, ORACLE_LIMIT, SERVER_PY,
};
use super::oracle::{self, Agreement, Expected, Packet, Run, Target};
use super::traffic::{Harness, Probe, Proto};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// The node's addresses on its client link (kube-proxy's test node).
const NODE_ADDRESSES: &[&str] = &[
    "192.168.0.2/24",
    "192.168.1.2/24",
    "192.168.99.11/24",
    "2001:db8::1/64",
    "2001:db8:1::2/64",
];
/// The node's address towards its pods: what an endpoint sees of masqueraded traffic.
const GATEWAY: &str = "10.255.255.254";
const GATEWAY6: &str = "fd00:10::ffff";
/// Pod CIDRs of the preset: sources inside are pods.
const POD_CIDRS: &[&str] = &["10.0.0.0/8", "fd00:10::/64"];

const SCTP_INIT_PY: &str = include_str!("sctp_init.py");

/// The start of the reason of a case the kernel cannot be asked about.
pub const NOT_CHECKED: &str = "not checked";

/// The namespaces of one upstream test, and what runs in them.
pub struct Node {
    servers: Vec<Process>,
    pods: BTreeMap<IpAddr, Netns>,
    client: Netns,
    node: Netns,
    python: std::path::PathBuf,
    deadline: Instant,
    node_extra: BTreeSet<IpAddr>,
}

impl Harness for Node {
    fn time_left(&self) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.fail(&format!("the test ran past its limit of {ORACLE_LIMIT:?}"));
        }
        left
    }

    fn python_in(&self, ns: &Netns) -> Command {
        ns.exec(&self.python)
    }

    fn fail(&self, message: &str) -> ! {
        let nft = run_bounded(
            self.node.exec("nft").args(["list", "ruleset"]),
            None,
            COMMAND_LIMIT,
        )
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
        panic!(
            "{message}\n--- nft list ruleset (node {}) ---\n{nft}",
            self.node.name
        )
    }
}

fn is_node_address(ip: IpAddr) -> bool {
    ip.is_loopback()
        || NODE_ADDRESSES
            .iter()
            .any(|a| a.split('/').next().and_then(|a| a.parse::<IpAddr>().ok()) == Some(ip))
}

fn is_pod(ip: IpAddr) -> bool {
    POD_CIDRS
        .iter()
        .any(|c| c.parse::<ipnet::IpNet>().is_ok_and(|n| n.contains(&ip)))
}

fn ns(role: &str) -> Netns {
    let ns = Netns::create(role).unwrap_or_else(|e| panic!("{e}"));
    ns.sysctl("net.ipv6.conf.default.accept_dad", "0");
    ns.sysctl("net.ipv6.conf.all.accept_dad", "0");
    ns
}

impl Node {
    /// The namespaces for `endpoints` (address → ports their servers answer on) and the
    /// packets' sources.
    pub fn build(
        host: &Host,
        endpoints: &BTreeMap<IpAddr, BTreeSet<u16>>,
        sources: &[IpAddr],
    ) -> Node {
        let node = ns("node");
        let client = ns("client");
        for (key, value) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
            ("net.ipv4.icmp_ratelimit", "0"),
            ("net.ipv6.icmp.ratelimit", "0"),
            // kube-proxy sets it for localhost NodePorts (iptables mode).
            ("net.ipv4.conf.all.route_localnet", "1"),
        ] {
            node.sysctl(key, value);
        }
        node.ip(&format!(
            "link add eth-ext type veth peer name eth0 netns {}",
            client.name
        ));
        for address in NODE_ADDRESSES {
            node.ip(&format!("addr add {address} dev eth-ext nodad"));
        }
        node.ip("link set eth-ext up");
        client.ip("link set eth0 up");
        client.ip("route add 192.168.0.2/32 dev eth0");
        client.ip("route add default via 192.168.0.2");
        client.ip("-6 route add 2001:db8::1/128 dev eth0");
        client.ip("-6 route add default via 2001:db8::1");
        node.ip("link add uplink type veth peer name uplink-sink");
        node.ip("link set uplink up");
        node.ip("link set uplink-sink up");
        node.ip("neigh add 169.254.255.254 lladdr 02:00:00:00:00:01 dev uplink nud permanent");
        node.ip("route add default via 169.254.255.254 dev uplink onlink");
        node.ip("neigh add fe80::1 lladdr 02:00:00:00:00:01 dev uplink nud permanent");
        node.ip("-6 route add default via fe80::1 dev uplink");

        let mut pods = BTreeMap::new();
        let pod_ips: BTreeSet<IpAddr> = endpoints
            .keys()
            .copied()
            .chain(sources.iter().copied().filter(|&s| is_pod(s)))
            .collect();
        for (n, &ip) in pod_ips.iter().enumerate() {
            let pod = ns(&format!("pod{n}"));
            let veth = format!("veth{n}");
            node.ip(&format!(
                "link add {veth} type veth peer name eth0 netns {}",
                pod.name
            ));
            node.ip(&format!("link set {veth} up"));
            pod.ip("link set eth0 up");
            let (gateway, host) = if ip.is_ipv4() {
                (GATEWAY, 32)
            } else {
                (GATEWAY6, 128)
            };
            node.ip(&format!("addr add {gateway}/{host} dev {veth} nodad"));
            node.ip(&format!("route add {ip}/{host} dev {veth}"));
            pod.ip(&format!("addr add {ip}/{host} dev eth0 nodad"));
            pod.ip(&format!("route add {gateway} dev eth0"));
            pod.ip(&format!("route add default via {gateway} dev eth0"));
            pods.insert(ip, pod);
        }
        for &source in sources {
            if !is_node_address(source) && !is_pod(source) {
                let host = if source.is_ipv4() { 32 } else { 128 };
                client.ip(&format!("addr add {source}/{host} dev eth0 nodad"));
                node.ip(&format!("route add {source}/{host} dev eth-ext"));
            }
        }
        let mut built = Node {
            servers: Vec::new(),
            pods,
            client,
            node,
            python: host.python.clone(),
            deadline: Instant::now() + ORACLE_LIMIT,
            node_extra: BTreeSet::new(),
        };
        for (ip, ports) in endpoints {
            let pod = &built.pods[ip];
            let mut cmd = pod.exec(&built.python);
            cmd.args(["-c", SERVER_PY]).arg(ip.to_string());
            cmd.args(ports.iter().map(|p| p.to_string()));
            let server = Process::start_ready(cmd, &format!("endpoint server {ip}"));
            built.servers.push(server);
        }
        built
    }

    /// Loads `run`'s ruleset for `target` (replacing the previous run's); `Err` when svcc
    /// refuses to compile it.
    pub fn load(&self, run: &Run, target: Target, first: bool) -> Result<(), String> {
        let compile = |extra: &[&str]| -> Result<String, String> {
            let mut cmd = Command::new(oracle::svcc());
            cmd.args(["compile", "-q", "--target", target.name()])
                .args(run.flags(target))
                .args(extra)
                .args(run.manifest_paths());
            let out = run_bounded(&mut cmd, None, COMMAND_LIMIT)?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            } else {
                Err(format!(
                    "svcc compile failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        match target {
            Target::Nft => self.restore("nft", &["-f", "-"], &compile(&[])?),
            Target::Iptables => {
                let jumps: &[&str] = if first { &[] } else { &["--no-jumps"] };
                self.restore("iptables-restore", &["--noflush"], &compile(jumps)?);
                let v6 = [jumps, &["--family", "ipv6"]].concat();
                self.restore("ip6tables-restore", &["--noflush"], &compile(&v6)?);
            }
        }
        if first && !run.host_firewall.is_empty() {
            // A host firewall as they are written: established traffic accepted first, then
            // the guarded ports dropped (appended after svcc's jumps, which sit at the head).
            for tool in ["iptables", "ip6tables"] {
                let established = [
                    "-A",
                    "INPUT",
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "RELATED,ESTABLISHED",
                    "-j",
                    "ACCEPT",
                ];
                run_ok(self.node.exec(tool).args(established), None);
                for &port in &run.host_firewall {
                    let rule = [
                        "-A",
                        "INPUT",
                        "-p",
                        "tcp",
                        "--dport",
                        &port.to_string(),
                        "-j",
                        "DROP",
                    ];
                    run_ok(self.node.exec(tool).args(rule), None);
                }
            }
        }
        Ok(())
    }

    fn restore(&self, tool: &str, args: &[&str], input: &str) {
        let mut cmd = self.node.exec(tool);
        cmd.args(args);
        let out = run_bounded(&mut cmd, Some(input.as_bytes()), COMMAND_LIMIT)
            .unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            self.fail(&format!(
                "{tool} refused the input: {}\n--- input ---\n{input}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }

    /// Listeners on the node for ports a host firewall guards.
    pub fn listen_on_node(&mut self, ports: &[u16]) {
        if ports.is_empty() {
            return;
        }
        let mut cmd = self.node.exec(&self.python);
        cmd.args(["-c", SERVER_PY, "0.0.0.0"]);
        cmd.args(ports.iter().map(|p| format!("{p}/tcp")));
        self.servers
            .push(Process::start_ready(cmd, "node listener"));
    }

    /// The namespace and bound address `packet` leaves from.
    fn origin(&mut self, packet: &Packet) -> (&Netns, String) {
        let source = packet.source();
        let (destination, _, _) = packet.destination();
        if source == destination && !is_node_address(source) && !self.node_extra.contains(&source) {
            let host = if source.is_ipv4() { 32 } else { 128 };
            self.node.ip(&format!("addr add {source}/{host} dev lo"));
            self.node_extra.insert(source);
        }
        let ns = if is_node_address(source) || self.node_extra.contains(&source) {
            &self.node
        } else if let Some(pod) = self.pods.get(&source) {
            pod
        } else {
            &self.client
        };
        (ns, source.to_string())
    }

    /// Sends `packet` as real traffic and checks what the kernel did against kube-proxy.
    pub fn check(&mut self, packet: &Packet) -> Result<(), String> {
        let (destination, port, proto) = packet.destination();
        let proto = match proto.as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "sctp" => return self.check_sctp(packet),
            other => return Err(format!("{NOT_CHECKED}: no {other} probe")),
        };
        let expected = packet.expected();
        let count = match &expected {
            Expected::Dnat(list) => 30 * list.len().max(1),
            Expected::Accept => 3,
            Expected::Reject => 2,
            Expected::Drop | Expected::Untouched => 1,
        };
        let mut probe = match proto {
            Proto::Tcp => Probe::tcp(destination, port, count),
            Proto::Udp => Probe::udp(destination, port, count),
        };
        if matches!(expected, Expected::Drop | Expected::Untouched) {
            probe = probe.timeout(Duration::from_secs(1));
        }
        let (ns, source) = self.origin(packet);
        let probe = probe.source(&source);
        // The probe runs in a namespace the harness owns; `self` is only read.
        let ns_name = ns.name.clone();
        let tally = {
            let ns = self.namespace(&ns_name);
            probe.run_in(self, ns)
        };
        let masq_peer = if destination.is_ipv4() {
            GATEWAY
        } else {
            GATEWAY6
        };
        match expected {
            Expected::Dnat(list) => {
                tally.reached_exactly(&list)?;
                let peer = if packet.masq {
                    masq_peer
                } else {
                    source.as_str()
                };
                tally.peers_are(peer)
            }
            Expected::Reject => {
                let limit = if destination.is_ipv4() { 500 } else { 1500 };
                tally.refused_within(Duration::from_millis(limit))
            }
            Expected::Drop => tally.timed_out(),
            Expected::Untouched => tally.none_answered(),
            Expected::Accept => tally.all_answered(),
        }
    }

    /// SCTP without SCTP sockets: INIT chunks sent as raw packets, and the node's conntrack
    /// table asked where each association went (the reply tuple's source is the endpoint,
    /// its destination the client or, masqueraded, the node).
    fn check_sctp(&mut self, packet: &Packet) -> Result<(), String> {
        let (destination, port, _) = packet.destination();
        let Expected::Dnat(list) = packet.expected() else {
            return Err(format!("{NOT_CHECKED}: only DNAT is checked for SCTP"));
        };
        let count = 30 * list.len().max(1);
        let first: u16 = 40000;
        let (ns, source) = self.origin(packet);
        let ns_name = ns.name.clone();
        let ns = self.namespace(&ns_name);
        let mut cmd = self.python_in(ns);
        cmd.args(["-c", SCTP_INIT_PY, &source, &destination.to_string()])
            .args([port.to_string(), first.to_string(), count.to_string()]);
        run_ok(&mut cmd, None);
        let table = run_ok(self.node.exec("cat").arg("/proc/net/nf_conntrack"), None);
        let (mut reached, mut peers) = (BTreeSet::new(), BTreeSet::new());
        let mut seen = 0;
        for line in table.lines().filter(|l| l.contains(" sctp ")) {
            let field = |name: &str, nth: usize| {
                line.split_whitespace()
                    .filter_map(|w| w.strip_prefix(name))
                    .nth(nth)
                    .map(str::to_owned)
            };
            let original = (field("dst=", 0), field("dport=", 0), field("sport=", 0));
            let sport: u16 = original
                .2
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if original.0 != Some(destination.to_string())
                || original.1 != Some(port.to_string())
                || !(first..first + count as u16).contains(&sport)
            {
                continue;
            }
            seen += 1;
            let (Some(ip), Some(p), Some(peer)) =
                (field("src=", 1), field("sport=", 1), field("dst=", 1))
            else {
                continue;
            };
            let ip: IpAddr = ip.parse().map_err(|e| format!("conntrack: {e}"))?;
            reached.insert(std::net::SocketAddr::new(ip, p.parse().unwrap_or(0)).to_string());
            peers.insert(peer);
        }
        let want: BTreeSet<String> = list.into_iter().collect();
        let peer = if packet.masq {
            if destination.is_ipv4() {
                GATEWAY
            } else {
                GATEWAY6
            }
        } else {
            source.as_str()
        };
        if seen != count || reached != want || peers.len() != 1 || !peers.contains(peer) {
            return Err(format!(
                "{count} SCTP INITs: {seen} in conntrack, to {reached:?} (expected {want:?}), \
                 masqueraded to {peers:?} (expected {peer})"
            ));
        }
        Ok(())
    }

    fn namespace(&self, name: &str) -> &Netns {
        if self.node.name == name {
            &self.node
        } else if self.client.name == name {
            &self.client
        } else {
            self.pods
                .values()
                .find(|p| p.name == name)
                .unwrap_or(&self.client)
        }
    }
}

/// Endpoint addresses and ports of `run`'s plan.
fn endpoints(run: &Run, target: Target, into: &mut BTreeMap<IpAddr, BTreeSet<u16>>) {
    let mut cmd = Command::new(oracle::svcc());
    cmd.args(["compile", "-q", "--target", "plan"]);
    // Only the profile matters for the plan.
    let flags = run.flags(target);
    let mut k = 0;
    while k < flags.len() {
        let f = &flags[k];
        let takes_value = k + 1 < flags.len() && !flags[k + 1].starts_with("--");
        if ["--service-cidr", "--node-port-range", "--node"].contains(&f.as_str()) {
            cmd.arg(f);
            if takes_value {
                cmd.arg(&flags[k + 1]);
            }
        }
        k += if takes_value { 2 } else { 1 };
    }
    cmd.args(run.manifest_paths());
    let plan: serde_json::Value = serde_json::from_str(&run_ok(&mut cmd, None)).expect("plan JSON");
    for svc in plan["services"].as_array().into_iter().flatten() {
        for port in svc["ports"].as_array().into_iter().flatten() {
            for e in port["endpoints"].as_array().into_iter().flatten() {
                let ip: IpAddr = e["ip"].as_str().unwrap_or("").parse().expect("endpoint IP");
                let p = e["port"].as_u64().unwrap_or(0) as u16;
                into.entry(ip).or_default().insert(p);
            }
        }
    }
}

/// Every packet of `slug` for `target`, in the kernel.
pub fn check_kernel(slug: &str, target: Target) {
    let mut tools = vec!["ip", "nft", "python3"];
    if target == Target::Iptables {
        tools.extend([
            "iptables",
            "iptables-restore",
            "ip6tables",
            "ip6tables-restore",
        ]);
    }
    if super::require(&tools, super::Need::Root).is_err() {
        return;
    }
    let Some(host) = super::netns::host() else {
        return;
    };
    let file = oracle::load(slug);
    let runs: Vec<&Run> = file.runs.iter().filter(|r| r.is_for(target)).collect();
    let mut addresses = BTreeMap::new();
    let mut sources = BTreeSet::new();
    let mut firewall = BTreeSet::new();
    for run in &runs {
        endpoints(run, target, &mut addresses);
        // A source that is its own destination is the node's (added to it when sent).
        sources.extend(
            run.packets(target)
                .filter(|p| p.source() != p.destination().0)
                .map(Packet::source),
        );
        firewall.extend(run.host_firewall.iter().copied());
    }
    let sources: Vec<IpAddr> = sources.into_iter().collect();
    let mut node = Node::build(host, &addresses, &sources);
    node.listen_on_node(&firewall.into_iter().collect::<Vec<_>>());
    let mut agreement = Agreement::default();
    let mut jumps_loaded = false;
    for run in &runs {
        let loaded = node.load(run, target, !jumps_loaded);
        jumps_loaded |= loaded.is_ok();
        for packet in run.packets(target) {
            let what = format!("{} {}", run.label(&file), packet.name);
            let result = match &loaded {
                Ok(()) => node.check(packet),
                Err(e) => Err(e.clone()),
            };
            agreement.add(what, result);
        }
    }
    agreement.finish("kernel", target, slug);
}

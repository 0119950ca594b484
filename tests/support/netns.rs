//! A node, a client and pods in network namespaces that the test creates, and the processes
//! that run in them. Everything is owned by guards: dropping a [`Topology`] (also while a test
//! panics) kills every server it started and deletes every namespace it made.
//!
//! Addresses (identical in every topology: each topology has its own namespaces):
//!
//! ```text
//!   client 172.31.0.2, 172.31.0.3 ── veth ── 172.31.0.1 node ── veth-pod1 ── pod1 10.244.0.11/32
//!     routes 10.96.0.0/12,                        │   (10.244.0.1) ── veth-pod2 ── pod2 10.244.0.12/32
//!     10.244.0.0/16, 172.31.200.0/24              │                      …
//!     via 172.31.0.1                             uplink: default route into a veth whose peer
//!                                                  drops everything (a stand-in for the rest of
//!                                                  the network, so unclaimed traffic is forwarded
//!                                                  and the forward hook sees it)
//! ```
//!
//! Every link is dual-stack: IPv6 mirrors the IPv4 plan (client `fd00:172:31::2`, node
//! `fd00:172:31::1` and `fd00:10:244::1`, pod n `fd00:10:244::(10+n)`, service CIDR
//! `fd00:10:96::/112`), with duplicate address detection off so addresses work at once.
//!
//! Pods are routed, not bridged (each a /32 behind its own veth, as routed CNIs do), so traffic
//! between pods, and replies to it, always crosses the node's IP layer and its conntrack, with no
//! need for `br_netfilter`.

use super::{cannot_run, require, Need};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The node's address on the client link (NodePorts are reached here).
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 1);
/// The client's addresses: outside the cluster CIDR.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 2);
pub const CLIENT_IP_2: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 3);
/// The node's address towards its pods (pods' default gateway; masqueraded traffic comes from it).
pub const NODE_POD_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// Prefix for externalIPs, routed by the client via the node (the node owns no address in it).
pub const EXTERNAL_PREFIX: &str = "172.31.200.0/24";
pub const NODE_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x172, 0x31, 0, 0, 0, 0, 1);
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x172, 0x31, 0, 0, 0, 0, 2);
pub const NODE_POD_GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x10, 0x244, 0, 0, 0, 0, 1);
pub const CLUSTER_CIDR6: &str = "fd00:10:244::/56";
pub const SERVICE_CIDR6: &str = "fd00:10:96::/112";
/// Ports every pod's server listens on, for TCP and UDP.
pub const SERVER_PORTS: [u16; 2] = [8080, 5353];

/// Limit for one setup command (`ip`, `nft`, `svcc`).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(20);
/// Limit for a whole test from the moment its topology exists: probes get only what is left.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);
/// Limit for a whole kube-proxy oracle test (many runs, each with its ruleset).
pub const ORACLE_LIMIT: Duration = Duration::from_secs(600);
/// Limit for a server to bind its sockets and say so.
const READY_LIMIT: Duration = Duration::from_secs(10);

pub const SERVER_PY: &str = include_str!("e2e_server.py");
pub const CLIENT_PY: &str = include_str!("e2e_client.py");

/// Address of pod `n` (1-based).
pub fn pod_ip(n: usize) -> Ipv4Addr {
    assert!((1..=200).contains(&n), "pod index {n} out of range");
    Ipv4Addr::new(10, 244, 0, 10 + n as u8)
}

/// IPv6 address of pod `n` (1-based): `fd00:10:244::(10+n)`, the IPv4 last octet read as hex
/// digits (pod 1 is `fd00:10:244::11`).
pub fn pod_ip6(n: usize) -> Ipv6Addr {
    let last = pod_ip(n).octets()[3].to_string();
    let last = u16::from_str_radix(&last, 16).expect("decimal digits are hex digits");
    Ipv6Addr::new(0xfd00, 0x10, 0x244, 0, 0, 0, 0, last)
}

/// What the tests need from the machine, found once per test process.
pub struct Host {
    pub python: PathBuf,
}

/// The host, or `None` when the test cannot run here and skipping is allowed (see
/// [`super::require`]): without root, `ip`, `nft` and python3, or where namespaces do not
/// work, the test fails unless `SVCC_ALLOW_SKIP=1`.
pub fn host() -> Option<&'static Host> {
    require(&["ip", "nft", "python3"], Need::Root).ok()?;
    static HOST: OnceLock<Result<Host, String>> = OnceLock::new();
    match HOST.get_or_init(probe_host) {
        Ok(host) => Some(host),
        Err(why) => {
            let _skip = cannot_run(why);
            None
        }
    }
}

/// What [`require`] cannot see: a python3 that runs, and network namespaces in which `nft`
/// loads a table (root without `CAP_SYS_ADMIN`, or a kernel without nf_tables, fails here).
fn probe_host() -> Result<Host, String> {
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| tool_works(Command::new(p).arg("--version")).is_ok())
        .ok_or("needs a python3 that runs, but `python3 --version` fails")?;
    sweep_stale_namespaces();
    let probe = Netns::create("probe")
        .map_err(|e| format!("needs network namespaces, but `ip netns add` fails: {e}"))?;
    let mut nft = probe.exec("nft");
    nft.args(["-f", "-"]);
    let out = run_bounded(&mut nft, Some(b"add table ip svcc-probe\n"), COMMAND_LIMIT)?;
    if !out.status.success() {
        return Err(format!(
            "needs nftables in network namespaces, but `nft` cannot load a table in one: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Host { python })
}

fn tool_works(cmd: &mut Command) -> Result<(), String> {
    let out = run_bounded(cmd, None, COMMAND_LIMIT)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("exited with {}", out.status))
    }
}

/// Every namespace this harness creates is named `svcc-e2e-<pid>-…`; delete the ones whose test
/// process is gone (killed before its guards could run).
fn sweep_stale_namespaces() {
    let Ok(out) = run_bounded(
        Command::new("ip").args(["netns", "list"]),
        None,
        COMMAND_LIMIT,
    ) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("svcc-e2e-") else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = run_bounded(
                Command::new("ip").args(["netns", "del", name]),
                None,
                COMMAND_LIMIT,
            );
        }
    }
}

/// Runs `cmd` to the end within `limit`, feeding it `stdin`; kills it when the limit passes.
pub fn run_bounded(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    limit: Duration,
) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let writer = child.stdin.take().map(|mut pipe| {
        let input = stdin.unwrap_or_default().to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_bounded(&mut child, limit);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let output = Output {
        status: status.ok_or_else(|| format!("{what} did not finish within {limit:?}"))?,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    Ok(output)
}

/// Runs `cmd` (bounded) and panics unless it succeeds; returns its standard output.
pub fn run_ok(cmd: &mut Command, stdin: Option<&[u8]>) -> String {
    let what = format!("{cmd:?}");
    let out = run_bounded(cmd, stdin, COMMAND_LIMIT).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for `child` at most `limit`; kills and reaps it when it takes longer (then `None`).
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `svcc-e2e-<pid>-<n>-<role>` with loopback up.
    pub fn create(role: &str) -> Result<Netns, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("svcc-e2e-{}-{n}-{role}", std::process::id());
        let out = run_bounded(
            Command::new("ip").args(["netns", "add", &name]),
            None,
            COMMAND_LIMIT,
        )?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let ns = Netns { name };
        ns.ip("link set lo up");
        Ok(ns)
    }

    /// `ip -n <ns> <args>` (arguments split on whitespace); panics unless it succeeds.
    pub fn ip(&self, args: &str) {
        run_ok(
            Command::new("ip")
                .args(["-n", &self.name])
                .args(args.split_whitespace()),
            None,
        );
    }

    /// A command that runs `program` inside the namespace.
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Writes `value` to `/proc/sys/<key>` as seen inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        run_ok(
            self.exec("sh")
                .args(["-c", "echo \"$1\" > \"$2\"", "sh", value, &path]),
            None,
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_bounded(
            Command::new("ip").args(["netns", "del", &self.name]),
            None,
            COMMAND_LIMIT,
        );
    }
}

/// A process in a namespace, killed on drop. Its standard input stays open while the guard
/// lives: the helper scripts exit by themselves when it closes, so even a test process killed
/// outright leaves no server behind.
pub struct Process {
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Process {
    /// Starts `cmd` and waits (bounded) until it prints `ready`.
    pub fn start_ready(mut cmd: Command, what: &str) -> Process {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let process = Process {
            _stdin: child.stdin.take(),
            child,
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(READY_LIMIT) {
            Ok(line) if line.trim() == "ready" => process,
            Ok(line) => panic!("{what} did not start (said {line:?})"),
            Err(_) => panic!("{what} not ready within {READY_LIMIT:?}"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pod: its namespace and address.
pub struct Pod {
    pub ns: Netns,
    pub ip: Ipv4Addr,
    pub ip6: Ipv6Addr,
}

/// The node, the client and the pods, each pod running an endpoint server on
/// [`SERVER_PORTS`]. Field order is drop order: servers go before the namespaces they run in.
pub struct Topology {
    servers: Vec<Process>,
    pub pods: Vec<Pod>,
    pub client: Netns,
    pub node: Netns,
    python: PathBuf,
    deadline: Instant,
}

impl Topology {
    /// Builds the namespaces and links and starts a ready server in each of `pods` pods.
    pub fn build(host: &Host, pods: usize) -> Topology {
        let ns = |role: &str| {
            let ns = Netns::create(role).unwrap_or_else(|e| panic!("{e}"));
            ns.sysctl("net.ipv6.conf.default.accept_dad", "0");
            ns
        };
        let node = ns("node");
        let client = ns("client");
        node.sysctl("net.ipv4.ip_forward", "1");
        node.sysctl("net.ipv6.conf.all.forwarding", "1");
        // The kernel sends a peer at most ~6 ICMP errors in a burst, then one a second: a test
        // that counts fast refusals (ICMP port unreachable from `reject`) would see the rest
        // as 1 s retransmissions. Refusals are what is tested, so they are not rate-limited.
        node.sysctl("net.ipv4.icmp_ratelimit", "0");
        node.sysctl("net.ipv6.icmp.ratelimit", "0");

        node.ip(&format!(
            "link add eth-client type veth peer name eth0 netns {}",
            client.name
        ));
        node.ip(&format!("addr add {NODE_IP}/24 dev eth-client"));
        node.ip(&format!("addr add {NODE_IP6}/64 dev eth-client nodad"));
        node.ip("link set eth-client up");
        client.ip(&format!("addr add {CLIENT_IP}/24 dev eth0"));
        client.ip(&format!("addr add {CLIENT_IP_2}/24 dev eth0"));
        client.ip(&format!("addr add {CLIENT_IP6}/64 dev eth0 nodad"));
        client.ip("link set eth0 up");
        for prefix in [SERVICE_CIDR, CLUSTER_CIDR, EXTERNAL_PREFIX] {
            client.ip(&format!("route add {prefix} via {NODE_IP}"));
        }
        for prefix in [SERVICE_CIDR6, CLUSTER_CIDR6] {
            client.ip(&format!("route add {prefix} via {NODE_IP6}"));
        }

        // The uplink: a default route to a gateway whose MAC nobody has.
        node.ip("link add uplink type veth peer name uplink-sink");
        node.ip("link set uplink up");
        node.ip("link set uplink-sink up");
        node.ip("neigh add 169.254.255.254 lladdr 02:00:00:00:00:01 dev uplink nud permanent");
        node.ip("route add default via 169.254.255.254 dev uplink onlink");
        node.ip("neigh add fe80::1 lladdr 02:00:00:00:00:01 dev uplink nud permanent");
        node.ip("route add default via fe80::1 dev uplink");

        let mut built = Vec::new();
        for n in 1..=pods {
            let pod = Pod {
                ns: ns(&format!("pod{n}")),
                ip: pod_ip(n),
                ip6: pod_ip6(n),
            };
            let veth = format!("veth-pod{n}");
            node.ip(&format!(
                "link add {veth} type veth peer name eth0 netns {}",
                pod.ns.name
            ));
            node.ip(&format!("addr add {NODE_POD_GATEWAY}/32 dev {veth}"));
            node.ip(&format!("link set {veth} up"));
            node.ip(&format!(
                "addr add {NODE_POD_GATEWAY6}/128 dev {veth} nodad"
            ));
            node.ip(&format!("route add {}/32 dev {veth}", pod.ip));
            node.ip(&format!("route add {}/128 dev {veth}", pod.ip6));
            pod.ns.ip(&format!("addr add {}/32 dev eth0", pod.ip));
            pod.ns
                .ip(&format!("addr add {}/128 dev eth0 nodad", pod.ip6));
            pod.ns.ip("link set eth0 up");
            for gateway in [IpAddr::V4(NODE_POD_GATEWAY), IpAddr::V6(NODE_POD_GATEWAY6)] {
                pod.ns.ip(&format!("route add {gateway} dev eth0"));
                pod.ns
                    .ip(&format!("route add default via {gateway} dev eth0"));
            }
            built.push(pod);
        }

        let mut topology = Topology {
            servers: Vec::new(),
            pods: built,
            client,
            node,
            python: host.python.clone(),
            deadline: Instant::now() + TEST_LIMIT,
        };
        for i in 0..topology.pods.len() {
            let pod = &topology.pods[i];
            let mut cmd = pod.ns.exec(&topology.python);
            cmd.args(["-c", SERVER_PY])
                .arg(format!("{},{}", pod.ip, pod.ip6));
            cmd.args(SERVER_PORTS.map(|p| p.to_string()));
            let what = format!("endpoint server in {}", pod.ns.name);
            let server = Process::start_ready(cmd, &what);
            topology.servers.push(server);
        }
        topology
    }

    /// Loads `ruleset` in the node with `nft -f -`; panics with nft's message otherwise.
    pub fn apply(&self, ruleset: &str) {
        let mut cmd = self.node.exec("nft");
        cmd.args(["-f", "-"]);
        let out = run_bounded(&mut cmd, Some(ruleset.as_bytes()), COMMAND_LIMIT)
            .unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            panic!(
                "nft -f rejected the ruleset:\n{}\n--- ruleset ---\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                numbered(ruleset)
            );
        }
    }

    /// `nft list ruleset` in the node.
    pub fn ruleset(&self) -> String {
        list_ruleset(&self.node)
    }

    /// Time left of [`TEST_LIMIT`]; fails the test when none is.
    pub fn time_left(&self) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.fail(&format!("the test ran past its limit of {TEST_LIMIT:?}"));
        }
        left
    }

    /// A command running the Python interpreter inside `ns`.
    pub fn python_in(&self, ns: &Netns) -> Command {
        ns.exec(&self.python)
    }

    /// Panics with `message` and the node's current ruleset, for failures worth debugging.
    pub fn fail(&self, message: &str) -> ! {
        panic!(
            "{message}\n--- nft list ruleset (node {}) ---\n{}",
            self.node.name,
            self.ruleset()
        )
    }

    /// Fails (with the ruleset) when `check` is an error.
    pub fn ensure(&self, check: Result<(), String>) {
        if let Err(message) = check {
            self.fail(&message);
        }
    }
}

/// `nft list ruleset` inside `ns`.
pub fn list_ruleset(ns: &Netns) -> String {
    let mut cmd = ns.exec("nft");
    cmd.args(["list", "ruleset"]);
    run_ok(&mut cmd, None)
}

fn numbered(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:4} {l}\n", i + 1))
        .collect()
}

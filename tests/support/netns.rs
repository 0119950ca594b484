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
//! Pods are routed, not bridged (each a /32 behind its own veth, as routed CNIs do), so traffic
//! between pods, and replies to it, always crosses the node's IP layer and its conntrack, with no
//! need for `br_netfilter`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
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
/// Ports every pod's server listens on, for TCP and UDP.
pub const SERVER_PORTS: [u16; 2] = [8080, 5353];

/// Limit for one setup command (`ip`, `nft`, `svcc`).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(20);
/// Limit for a server to bind its sockets and say so.
const READY_LIMIT: Duration = Duration::from_secs(10);

const SERVER_PY: &str = include_str!("e2e_server.py");
pub const CLIENT_PY: &str = include_str!("e2e_client.py");

/// Address of pod `n` (1-based).
pub fn pod_ip(n: usize) -> Ipv4Addr {
    assert!((1..=200).contains(&n), "pod index {n} out of range");
    Ipv4Addr::new(10, 244, 0, 10 + n as u8)
}

/// What the tests need from the machine, found once per test process.
pub struct Host {
    pub python: PathBuf,
}

/// The host, or `None` after printing why the test is skipped. Under `CI` a missing
/// prerequisite fails the test instead: CI must never pass by skipping.
pub fn host(test: &str) -> Option<&'static Host> {
    static HOST: OnceLock<Result<Host, String>> = OnceLock::new();
    match HOST.get_or_init(probe_host) {
        Ok(host) => Some(host),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("{test}: e2e traffic tests cannot run under CI: {why}")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: {why} (the e2e traffic tests need root, `ip`, `nft` and \
                 python3; with CI set this is a failure)"
            );
            None
        }
    }
}

fn probe_host() -> Result<Host, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    if uid != "0" {
        return Err(format!("not running as root (effective uid {uid})"));
    }
    for (tool, arg) in [("ip", "-V"), ("nft", "--version")] {
        tool_works(Command::new(tool).arg(arg)).map_err(|e| format!("`{tool}`: {e}"))?;
    }
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| tool_works(Command::new(p).arg("--version")).is_ok())
        .ok_or("no working python3")?;
    sweep_stale_namespaces();
    // Root without CAP_SYS_ADMIN or without nf_tables in new namespaces shows here.
    let probe = Netns::create("probe").map_err(|e| format!("cannot create a namespace: {e}"))?;
    let mut nft = probe.exec("nft");
    nft.args(["-f", "-"]);
    let out = run_bounded(&mut nft, Some(b"add table ip svcc-probe\n"), COMMAND_LIMIT)?;
    if !out.status.success() {
        return Err(format!(
            "nft cannot load a table in a namespace: {}",
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
    fn start_ready(mut cmd: Command, what: &str) -> Process {
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
}

/// The node, the client and the pods, each pod running an endpoint server on
/// [`SERVER_PORTS`]. Field order is drop order: servers go before the namespaces they run in.
pub struct Topology {
    servers: Vec<Process>,
    pub pods: Vec<Pod>,
    pub client: Netns,
    pub node: Netns,
    python: PathBuf,
}

impl Topology {
    /// Builds the namespaces and links and starts a ready server in each of `pods` pods.
    pub fn build(host: &Host, pods: usize) -> Topology {
        let ns = |role: &str| Netns::create(role).unwrap_or_else(|e| panic!("{e}"));
        let node = ns("node");
        let client = ns("client");
        node.sysctl("net.ipv4.ip_forward", "1");
        // The kernel rate-limits ICMP errors per destination (a burst of 6, then one a
        // second); a test that expects several refusals in a row to one client needs them all.
        node.sysctl("net.ipv4.icmp_ratelimit", "0");

        node.ip(&format!(
            "link add eth-client type veth peer name eth0 netns {}",
            client.name
        ));
        node.ip(&format!("addr add {NODE_IP}/24 dev eth-client"));
        node.ip("link set eth-client up");
        client.ip(&format!("addr add {CLIENT_IP}/24 dev eth0"));
        client.ip(&format!("addr add {CLIENT_IP_2}/24 dev eth0"));
        client.ip("link set eth0 up");
        for prefix in [SERVICE_CIDR, CLUSTER_CIDR, EXTERNAL_PREFIX] {
            client.ip(&format!("route add {prefix} via {NODE_IP}"));
        }

        // The uplink: a default route to a gateway whose MAC nobody has.
        node.ip("link add uplink type veth peer name uplink-sink");
        node.ip("link set uplink up");
        node.ip("link set uplink-sink up");
        node.ip("neigh add 169.254.255.254 lladdr 02:00:00:00:00:01 dev uplink nud permanent");
        node.ip("route add default via 169.254.255.254 dev uplink onlink");

        let mut built = Vec::new();
        for n in 1..=pods {
            let pod = Pod {
                ns: ns(&format!("pod{n}")),
                ip: pod_ip(n),
            };
            let veth = format!("veth-pod{n}");
            node.ip(&format!(
                "link add {veth} type veth peer name eth0 netns {}",
                pod.ns.name
            ));
            node.ip(&format!("addr add {NODE_POD_GATEWAY}/32 dev {veth}"));
            node.ip(&format!("link set {veth} up"));
            node.ip(&format!("route add {}/32 dev {veth}", pod.ip));
            pod.ns.ip(&format!("addr add {}/32 dev eth0", pod.ip));
            pod.ns.ip("link set eth0 up");
            pod.ns
                .ip(&format!("route add {NODE_POD_GATEWAY} dev eth0 scope link"));
            pod.ns.ip(&format!(
                "route add default via {NODE_POD_GATEWAY} dev eth0"
            ));
            built.push(pod);
        }

        let mut topology = Topology {
            servers: Vec::new(),
            pods: built,
            client,
            node,
            python: host.python.clone(),
        };
        for i in 0..topology.pods.len() {
            let pod = &topology.pods[i];
            let mut cmd = pod.ns.exec(&topology.python);
            cmd.args(["-c", SERVER_PY]).arg(pod.ip.to_string());
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

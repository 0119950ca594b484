//! Generates a large, realistic and deterministic cluster for benchmarks:
//!
//! ```sh
//! cargo run --release --example gen-cluster -- --services 10000 --endpoints 10 --out c.yaml
//! ```
//!
//! Flags: `--services N` (default 1000), `--endpoints M` (endpoints per Service, default 10;
//! ExternalName Services have none), `--out FILE` (`-` for standard output), `--seed S`
//! (default 1), `--list` (one `kind: List`, as `kubectl get svc,deploy,endpointslices -A -o yaml`
//! prints it, with the fields the API server fills in; otherwise a multi-document stream, one
//! Service, its Deployment and its EndpointSlices after another, as a chart renders them).
//!
//! The mix: 77 % ClusterIP, 8 % headless, 6 % NodePort, 4 % LoadBalancer, 3 % selector-less
//! ClusterIP with hand-managed EndpointSlices, 2 % ExternalName; one to three ports (a quarter of
//! the Services have several, some UDP), named and numeric targetPorts, session affinity,
//! traffic policies. Every Service with a selector has a Deployment with `M` replicas and
//! EndpointSlices of at most 100 endpoints (managed-by the EndpointSlice controller, labelled
//! with the Service name), mostly ready, some terminating or not ready. ClusterIPs are explicit,
//! distinct addresses of 10.96.0.0/12; nodePorts are explicit, distinct and in 30000-32767
//! (when the range is used up, later NodePort Services become ClusterIP and LoadBalancers stop
//! allocating nodePorts). Pod addresses are in 10.128.0.0/9, a /24 per node, at most 100 pods a
//! node. The first and the last Service are always ClusterIP Services with a selector and a
//! TCP port 80 (the latency benchmark connects to them).
//!
//! The same arguments always give the same bytes. A summary goes to standard error (standard
//! output when `--out` is a file), as `key=value` lines.

use std::fmt::Write as _;
use std::io::Write as _;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Config {
    pub services: usize,
    /// Endpoints per Service (none for ExternalName).
    pub endpoints: usize,
    pub seed: u64,
    /// One `kind: List` document instead of a stream.
    pub list: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            services: 1000,
            endpoints: 10,
            seed: 1,
            list: false,
        }
    }
}

/// A Service the generator guarantees to be reachable: ClusterIP, selector, TCP port.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub namespace: String,
    pub name: String,
    pub cluster_ip: String,
    pub port: u16,
}

/// Counts of what was generated.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub services: usize,
    pub cluster_ip: usize,
    pub headless: usize,
    pub node_port: usize,
    pub load_balancer: usize,
    pub external_name: usize,
    pub selectorless: usize,
    pub service_ports: usize,
    pub node_ports: usize,
    pub deployments: usize,
    pub endpoint_slices: usize,
    pub endpoints: usize,
    pub namespaces: usize,
    pub nodes: usize,
    pub bytes: usize,
    pub first: Option<Probe>,
    pub last: Option<Probe>,
}

/// Most pods one node runs (the kubelet's default is 110).
const PODS_PER_NODE: usize = 100;
/// Endpoints in one EndpointSlice (the controller's default `--max-endpoints-per-slice`).
const SLICE_MAX: usize = 100;
const NODE_PORT_FIRST: u16 = 30000;
const NODE_PORT_LAST: u16 = 32767;
/// Services per namespace, on average.
const PER_NAMESPACE: usize = 50;
/// Pod addresses: 10.128.0.0/9, one /24 per node.
const POD_BASE: u32 = 0x0a80_0000;
const POD_SPACE: u32 = 1 << 23;
/// Service addresses: 10.96.0.0/12 without its first 256 (kubernetes, kube-dns, …) and its
/// last 256 addresses; a bijection spreads consecutive Services over the range.
const SVC_BASE: u32 = 0x0a60_0000;
const SVC_OFFSET: u64 = 256;
const SVC_SPAN: u64 = (1 << 20) - 512; // 2^9 · 23 · 89
const SVC_STRIDE: u64 = 7919; // prime, coprime to SVC_SPAN

/// The largest cluster the address plan holds.
pub const MAX_PODS: usize = (POD_SPACE as usize / 256) * PODS_PER_NODE;

/// splitmix64: small, fast and good enough to pick shapes.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xd134_2543_de82_ef95));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// `n` characters of the alphabet Kubernetes uses for generated names.
    fn suffix(&mut self, n: usize) -> String {
        const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| *self.pick(SAFE) as char).collect()
    }
    fn uid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    ClusterIp,
    Headless,
    NodePort,
    LoadBalancer,
    Selectorless,
    ExternalName,
}

/// A port pattern: Service port name and number, container port and protocol.
#[derive(Clone, Copy)]
struct PortKind {
    name: &'static str,
    port: u16,
    container: u16,
    udp: bool,
}

const PORTS: &[PortKind] = &[
    PortKind {
        name: "http",
        port: 80,
        container: 8080,
        udp: false,
    },
    PortKind {
        name: "https",
        port: 443,
        container: 8443,
        udp: false,
    },
    PortKind {
        name: "grpc",
        port: 9090,
        container: 9090,
        udp: false,
    },
    PortKind {
        name: "metrics",
        port: 9100,
        container: 9100,
        udp: false,
    },
    PortKind {
        name: "redis",
        port: 6379,
        container: 6379,
        udp: false,
    },
    PortKind {
        name: "postgres",
        port: 5432,
        container: 5432,
        udp: false,
    },
    PortKind {
        name: "dns",
        port: 53,
        container: 5353,
        udp: true,
    },
    PortKind {
        name: "syslog",
        port: 514,
        container: 5514,
        udp: true,
    },
];

/// How a Service port names its target.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Named,
    Number,
    /// No targetPort: the container listens on the Service port.
    Omitted,
}

struct Port {
    kind: PortKind,
    /// Unnamed (only for a single-port Service).
    unnamed: bool,
    target: Target,
    node_port: Option<u16>,
}

impl Port {
    fn container_port(&self) -> u16 {
        match self.target {
            Target::Omitted => self.kind.port,
            _ => self.kind.container,
        }
    }
    fn protocol(&self) -> &'static str {
        if self.kind.udp {
            "UDP"
        } else {
            "TCP"
        }
    }
    fn name(&self) -> &'static str {
        if self.unnamed {
            ""
        } else {
            self.kind.name
        }
    }
}

const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "billing",
    "ledger",
    "orders",
    "inventory",
    "shipping",
    "reviews",
    "ads",
    "media",
    "chat",
    "notify",
    "risk",
];
const ROLES: &[&str] = &[
    "api", "web", "worker", "gateway", "cache", "db", "frontend", "backend", "queue", "indexer",
    "auth", "export", "stream", "sync",
];
const ZONES: &[&str] = &["zone-a", "zone-b", "zone-c"];

/// The generator: one Service (and what belongs to it) at a time.
struct Gen<'c> {
    cfg: &'c Config,
    stats: Stats,
    namespaces: usize,
    nodes: usize,
    /// Pods placed so far (pod addresses are consecutive over the nodes).
    pods: usize,
    next_node_port: u32,
    resource_version: u64,
    /// Addresses given to selector-less Services' endpoints so far.
    external_addresses: usize,
}

fn ipv4(a: u32) -> String {
    let [a, b, c, d] = a.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// Appends `text` as an item of a YAML block sequence at indent 0 (`- ` then two spaces).
fn push_item(out: &mut String, text: &str) {
    let mut first = true;
    for line in text.lines() {
        out.push_str(if first { "- " } else { "  " });
        first = false;
        out.push_str(line);
        out.push('\n');
    }
}

/// `writeln!` into a `String`, which cannot fail.
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {
        writeln!($dst, $($arg)*).expect("writing to a String")
    };
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c Config) -> Gen<'c> {
        let pods = cfg.services * cfg.endpoints;
        Gen {
            cfg,
            stats: Stats::default(),
            namespaces: cfg.services.div_ceil(PER_NAMESPACE).max(1),
            nodes: pods.div_ceil(PODS_PER_NODE).max(3),
            pods: 0,
            next_node_port: NODE_PORT_FIRST as u32,
            resource_version: 1000,
            external_addresses: 0,
        }
    }

    fn cluster_ip(i: usize) -> String {
        let offset = SVC_OFFSET + (i as u64 * SVC_STRIDE) % SVC_SPAN;
        ipv4(SVC_BASE + offset as u32)
    }

    /// The next pod's node and address.
    fn place_pod(&mut self) -> (usize, String) {
        let p = self.pods;
        self.pods += 1;
        let node = p % self.nodes;
        let slot = 2 + p / self.nodes; // .0 is the network, .1 the node's bridge
        (node, ipv4(POD_BASE + node as u32 * 256 + slot as u32))
    }

    fn take_node_ports(&mut self, n: usize) -> Option<Vec<u16>> {
        if self.next_node_port + n as u32 > NODE_PORT_LAST as u32 + 1 {
            return None;
        }
        let first = self.next_node_port;
        self.next_node_port += n as u32;
        Some((first..first + n as u32).map(|p| p as u16).collect())
    }

    /// `creationTimestamp` of a live object (`--list` only).
    fn created(i: usize) -> String {
        format!(
            "  creationTimestamp: \"2025-{:02}-{:02}T{:02}:{:02}:{:02}Z\"\n",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            (i / 24) % 60,
            (i / 7) % 60
        )
    }

    /// `resourceVersion` and `uid` of a live object (`--list` only).
    fn version_and_uid(&mut self, r: &mut Rng) -> String {
        self.resource_version += 1 + r.below(7);
        format!(
            "  resourceVersion: \"{}\"\n  uid: {}\n",
            self.resource_version,
            r.uid()
        )
    }

    /// Generates Service `i`; appends it, its Deployment and its slices to the buffers.
    fn service(&mut self, i: usize, svcs: &mut String, deploys: &mut String, slices: &mut String) {
        let cfg = self.cfg;
        let mut r = Rng::new(cfg.seed, i as u64);
        let probe = i == 0 || i + 1 == cfg.services;
        let mut kind = match r.below(100) {
            _ if probe => Kind::ClusterIp,
            0..=1 => Kind::ExternalName,
            2..=9 => Kind::Headless,
            10..=15 => Kind::NodePort,
            16..=19 => Kind::LoadBalancer,
            20..=22 => Kind::Selectorless,
            _ => Kind::ClusterIp,
        };
        let ns = r.below(self.namespaces as u64) as usize;
        let team = TEAMS[ns % TEAMS.len()];
        let namespace = format!("{team}-{ns:03}");
        let name = format!("{team}-{}-{i}", r.pick(ROLES));

        // Ports: one (75 %), two (20 %) or three (5 %), distinct names and numbers.
        let count = match r.below(20) {
            _ if probe => 1,
            0..=14 => 1,
            15..=18 => 2,
            _ => 3,
        };
        let mut kinds: Vec<PortKind> = Vec::new();
        while kinds.len() < count {
            let k = if probe { PORTS[0] } else { *r.pick(PORTS) };
            if !kinds.iter().any(|o| o.name == k.name) {
                kinds.push(k);
            }
        }
        let mut ports: Vec<Port> = kinds
            .into_iter()
            .map(|k| Port {
                kind: k,
                unnamed: count == 1 && r.below(4) == 0,
                target: match r.below(10) {
                    _ if probe => Target::Named,
                    0..=4 => Target::Named,
                    5..=7 => Target::Number,
                    _ => Target::Omitted,
                },
                node_port: None,
            })
            .collect();
        for p in &mut ports {
            // A numeric or omitted target for an unnamed port, so it never depends on a name.
            if p.unnamed && p.target == Target::Named {
                p.target = Target::Number;
            }
        }
        let local = r.below(10) < 3;
        let mut allocate_lb_node_ports = true;
        let mut health_check_node_port = None;
        if matches!(kind, Kind::NodePort | Kind::LoadBalancer) {
            let needed = ports.len() + usize::from(kind == Kind::LoadBalancer && local);
            match self.take_node_ports(needed) {
                Some(np) => {
                    for (p, n) in ports.iter_mut().zip(&np) {
                        p.node_port = Some(*n);
                    }
                    if needed > ports.len() {
                        health_check_node_port = np.last().copied();
                    }
                }
                None if kind == Kind::NodePort => kind = Kind::ClusterIp,
                None => allocate_lb_node_ports = false,
            }
        }
        let selector = !matches!(kind, Kind::Selectorless | Kind::ExternalName);
        let cluster_ip = match kind {
            Kind::Headless => Some("None".to_owned()),
            Kind::ExternalName => None,
            _ => Some(Self::cluster_ip(i)),
        };
        let live = cfg.list;

        // The Service.
        let st = &mut self.stats;
        st.services += 1;
        st.service_ports += ports.len();
        st.node_ports += ports.iter().filter(|p| p.node_port.is_some()).count()
            + usize::from(health_check_node_port.is_some());
        match kind {
            Kind::ClusterIp => st.cluster_ip += 1,
            Kind::Headless => st.headless += 1,
            Kind::NodePort => st.node_port += 1,
            Kind::LoadBalancer => st.load_balancer += 1,
            Kind::Selectorless => st.selectorless += 1,
            Kind::ExternalName => st.external_name += 1,
        }
        if probe {
            let p = Probe {
                namespace: namespace.clone(),
                name: name.clone(),
                cluster_ip: cluster_ip.clone().expect("a ClusterIP Service"),
                port: ports[0].kind.port,
            };
            if i == 0 {
                st.first = Some(p.clone());
            }
            st.last = Some(p);
        }
        let mut s = String::with_capacity(1024);
        w!(s, "apiVersion: v1\nkind: Service\nmetadata:");
        let scrape = ports.iter().find(|p| p.kind.name == "metrics");
        if let Some(p) = scrape {
            w!(
                s,
                "  annotations:\n    prometheus.io/port: \"{}\"\n    prometheus.io/scrape: \"true\"",
                p.kind.port
            );
        }
        if live {
            s.push_str(&Self::created(i));
        }
        w!(
            s,
            "  labels:\n    app: {name}\n    app.kubernetes.io/managed-by: helm\n    team: {team}"
        );
        w!(s, "  name: {name}\n  namespace: {namespace}");
        if live {
            s.push_str(&self.version_and_uid(&mut r));
        }
        w!(s, "spec:");
        if kind == Kind::LoadBalancer && !allocate_lb_node_ports {
            w!(s, "  allocateLoadBalancerNodePorts: false");
        }
        if let Some(ip) = &cluster_ip {
            w!(s, "  clusterIP: {ip}");
            if live {
                w!(s, "  clusterIPs:\n  - {ip}");
            }
        }
        if matches!(kind, Kind::NodePort | Kind::LoadBalancer) {
            let policy = if local { "Local" } else { "Cluster" };
            if local || live {
                w!(s, "  externalTrafficPolicy: {policy}");
            }
        }
        if kind == Kind::ExternalName {
            w!(s, "  externalName: db-{i}.{}.example.com", namespace);
        }
        if let Some(p) = health_check_node_port {
            w!(s, "  healthCheckNodePort: {p}");
        }
        let itp_local = kind == Kind::ClusterIp && !probe && r.below(50) == 0;
        if itp_local {
            w!(s, "  internalTrafficPolicy: Local");
        } else if live && kind != Kind::ExternalName {
            w!(s, "  internalTrafficPolicy: Cluster");
        }
        if live && kind != Kind::ExternalName {
            w!(s, "  ipFamilies:\n  - IPv4\n  ipFamilyPolicy: SingleStack");
        }
        if kind == Kind::LoadBalancer && r.below(4) == 0 {
            w!(
                s,
                "  loadBalancerSourceRanges:\n  - 192.0.2.0/24\n  - 198.51.100.0/24"
            );
        }
        if kind != Kind::ExternalName {
            w!(s, "  ports:");
            for p in &ports {
                // Keys in kubectl's (sorted) order; the first one carries the item's dash.
                let mut fields = Vec::with_capacity(5);
                if !p.unnamed {
                    fields.push(format!("name: {}", p.kind.name));
                }
                if let Some(n) = p.node_port {
                    fields.push(format!("nodePort: {n}"));
                }
                fields.push(format!("port: {}", p.kind.port));
                fields.push(format!("protocol: {}", p.protocol()));
                match p.target {
                    Target::Named => fields.push(format!("targetPort: {}", p.kind.name)),
                    Target::Number => fields.push(format!("targetPort: {}", p.kind.container)),
                    Target::Omitted if live => fields.push(format!("targetPort: {}", p.kind.port)),
                    Target::Omitted => {}
                }
                for (k, f) in fields.iter().enumerate() {
                    w!(s, "{}{f}", if k == 0 { "  - " } else { "    " });
                }
            }
        }
        if selector {
            if kind == Kind::Headless && r.below(5) == 0 {
                w!(s, "  publishNotReadyAddresses: true");
            }
            w!(s, "  selector:\n    app: {name}");
        }
        let affinity = kind == Kind::ClusterIp && !probe && r.below(20) == 0;
        if affinity {
            w!(
                s,
                "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: {}",
                [600, 3600, 10800][r.below(3) as usize]
            );
        } else if live && kind != Kind::ExternalName {
            w!(s, "  sessionAffinity: None");
        }
        let type_name = match kind {
            Kind::NodePort => "NodePort",
            Kind::LoadBalancer => "LoadBalancer",
            Kind::ExternalName => "ExternalName",
            _ => "ClusterIP",
        };
        if kind != Kind::ClusterIp || live || r.below(2) == 0 {
            w!(s, "  type: {type_name}");
        }
        if live {
            if kind == Kind::LoadBalancer {
                // 198.18.0.0/15 (benchmarking addresses), one per Service.
                w!(
                    s,
                    "status:\n  loadBalancer:\n    ingress:\n    - ip: {}\n      ipMode: VIP",
                    ipv4(0xc612_0000 + i as u32 % (1 << 17))
                );
            } else {
                w!(s, "status:\n  loadBalancer: {{}}");
            }
        }
        self.emit(svcs, &s);

        if kind == Kind::ExternalName {
            return;
        }
        let replicas = cfg.endpoints;
        if selector {
            self.deployment(&mut r, i, &namespace, &name, &ports, deploys);
        }

        // Endpoints: the pods of the Deployment, or hand-managed addresses outside the cluster.
        let mut endpoints = Vec::with_capacity(replicas);
        let pod_hash = r.suffix(10);
        for _ in 0..replicas {
            let condition = match r.below(1000) {
                0..=949 => (true, true, false),
                950..=979 => (false, true, true),
                980..=989 => (false, false, true),
                _ => (false, false, false),
            };
            if selector {
                let (node, ip) = self.place_pod();
                endpoints.push((
                    ip,
                    Some((node, format!("{name}-{pod_hash}-{}", r.suffix(5)))),
                    condition,
                ));
            } else {
                // Machines outside the cluster, in 10.0.0.0/12.
                let n = (self.external_addresses % ((1 << 20) - 512)) as u32;
                self.external_addresses += 1;
                endpoints.push((ipv4(0x0a00_0100 + n), None, (true, true, false)));
            }
        }
        let managed_by = if selector {
            "endpointslice-controller.k8s.io"
        } else {
            "staff"
        };
        for (chunk_index, chunk) in endpoints.chunks(SLICE_MAX).enumerate() {
            let mut e = String::with_capacity(256 + chunk.len() * 200);
            w!(
                e,
                "addressType: IPv4\napiVersion: discovery.k8s.io/v1\nendpoints:"
            );
            for (ip, pod, (ready, serving, terminating)) in chunk {
                w!(
                    e,
                    "- addresses:\n  - {ip}\n  conditions:\n    ready: {ready}\n    serving: {serving}\n    terminating: {terminating}"
                );
                if let Some((node, pod)) = pod {
                    w!(e, "  nodeName: node-{node:04}\n  targetRef:\n    kind: Pod\n    name: {pod}\n    namespace: {namespace}");
                    if live {
                        w!(e, "    uid: {}", r.uid());
                    }
                    w!(e, "  zone: {}", ZONES[node % ZONES.len()]);
                }
            }
            w!(e, "kind: EndpointSlice\nmetadata:");
            if live && selector {
                w!(e, "  annotations:\n    endpoints.kubernetes.io/last-change-trigger-time: \"2025-03-01T12:00:00Z\"");
            }
            if live {
                e.push_str(&Self::created(i));
                if selector {
                    w!(e, "  generateName: {name}-\n  generation: 1");
                }
            }
            w!(e, "  labels:");
            w!(
                e,
                "    endpointslice.kubernetes.io/managed-by: {managed_by}"
            );
            w!(e, "    kubernetes.io/service-name: {name}");
            if kind == Kind::Headless {
                w!(e, "    service.kubernetes.io/headless: \"\"");
            }
            let slice_name = if selector {
                format!("{name}-{}", r.suffix(5))
            } else {
                format!("{name}-{}", chunk_index + 1)
            };
            w!(e, "  name: {slice_name}\n  namespace: {namespace}");
            if live {
                if selector {
                    w!(e, "  ownerReferences:\n  - apiVersion: v1\n    blockOwnerDeletion: true\n    controller: true\n    kind: Service\n    name: {name}\n    uid: {}", r.uid());
                }
                e.push_str(&self.version_and_uid(&mut r));
            }
            w!(e, "ports:");
            for p in &ports {
                w!(
                    e,
                    "- name: \"{}\"\n  port: {}\n  protocol: {}",
                    p.name(),
                    p.container_port(),
                    p.protocol()
                );
            }
            self.stats.endpoint_slices += 1;
            self.stats.endpoints += chunk.len();
            self.emit(slices, &e);
        }
    }

    fn deployment(
        &mut self,
        r: &mut Rng,
        i: usize,
        namespace: &str,
        name: &str,
        ports: &[Port],
        out: &mut String,
    ) {
        let live = self.cfg.list;
        let replicas = self.cfg.endpoints;
        self.stats.deployments += 1;
        let mut d = String::with_capacity(1536);
        w!(d, "apiVersion: apps/v1\nkind: Deployment\nmetadata:");
        if live {
            w!(
                d,
                "  annotations:\n    deployment.kubernetes.io/revision: \"1\""
            );
            d.push_str(&Self::created(i));
            w!(d, "  generation: 1");
        }
        w!(
            d,
            "  labels:\n    app: {name}\n  name: {name}\n  namespace: {namespace}"
        );
        if live {
            d.push_str(&self.version_and_uid(r));
        }
        w!(d, "spec:");
        if live {
            w!(d, "  progressDeadlineSeconds: 600");
        }
        w!(d, "  replicas: {replicas}");
        if live {
            w!(d, "  revisionHistoryLimit: 10");
        }
        w!(d, "  selector:\n    matchLabels:\n      app: {name}");
        if live {
            w!(d, "  strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%\n    type: RollingUpdate");
        }
        w!(d, "  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:");
        w!(
            d,
            "      - image: registry.example.com/{namespace}/{name}:1.{}.{}",
            i % 17,
            r.below(40)
        );
        if live {
            w!(d, "        imagePullPolicy: IfNotPresent");
        }
        w!(d, "        name: app\n        ports:");
        for p in ports {
            w!(d, "        - containerPort: {}", p.container_port());
            if !p.unnamed {
                w!(d, "          name: {}", p.kind.name);
            }
            w!(d, "          protocol: {}", p.protocol());
        }
        if let Some(p) = ports.iter().find(|p| !p.kind.udp) {
            let probe_port = if p.unnamed {
                p.container_port().to_string()
            } else {
                p.kind.name.to_owned()
            };
            w!(
                d,
                "        readinessProbe:\n          tcpSocket:\n            port: {probe_port}"
            );
            if live {
                w!(d, "          failureThreshold: 3\n          periodSeconds: 10\n          successThreshold: 1\n          timeoutSeconds: 1");
            }
        }
        w!(
            d,
            "        resources:\n          limits:\n            memory: {}Mi\n          requests:\n            cpu: {}m\n            memory: {}Mi",
            256 << r.below(3),
            50 * (1 + r.below(8)),
            128 << r.below(3)
        );
        if live {
            w!(d, "        terminationMessagePath: /dev/termination-log\n        terminationMessagePolicy: File");
            w!(d, "      dnsPolicy: ClusterFirst\n      restartPolicy: Always\n      schedulerName: default-scheduler\n      securityContext: {{}}\n      terminationGracePeriodSeconds: 30");
            w!(d, "status:\n  availableReplicas: {replicas}\n  observedGeneration: 1\n  readyReplicas: {replicas}\n  replicas: {replicas}\n  updatedReplicas: {replicas}");
        }
        self.emit(out, &d);
    }

    /// Appends one object: a list item, or a document of the stream.
    fn emit(&self, out: &mut String, text: &str) {
        if self.cfg.list {
            push_item(out, text);
        } else {
            out.push_str("---\n");
            out.push_str(text);
        }
    }
}

/// Generates the cluster `cfg` describes.
pub fn generate(cfg: &Config) -> Result<(String, Stats), String> {
    if cfg.services * cfg.endpoints > MAX_PODS {
        return Err(format!(
            "{} Services × {} endpoints is more than the {MAX_PODS} pods the address plan holds",
            cfg.services, cfg.endpoints
        ));
    }
    let mut g = Gen::new(cfg);
    let mut out = String::new();
    let (mut svcs, mut deploys, mut slices) = (String::new(), String::new(), String::new());
    for i in 0..cfg.services {
        g.service(i, &mut svcs, &mut deploys, &mut slices);
        if !cfg.list {
            // A chart's order: each Service with its Deployment and slices.
            out.push_str(&svcs);
            out.push_str(&deploys);
            out.push_str(&slices);
            svcs.clear();
            deploys.clear();
            slices.clear();
        }
    }
    if cfg.list {
        // `kubectl get -o yaml`: sorted keys, the kinds one after another.
        out.reserve(svcs.len() + deploys.len() + slices.len() + 64);
        out.push_str("apiVersion: v1\nitems:\n");
        out.push_str(&svcs);
        out.push_str(&deploys);
        out.push_str(&slices);
        out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    }
    g.stats.namespaces = g.namespaces;
    g.stats.nodes = g.nodes;
    g.stats.bytes = out.len();
    Ok((out, g.stats))
}

/// The summary printed after generating: `key=value` lines.
pub fn summary(stats: &Stats) -> String {
    let mut s = String::new();
    let probe = |p: &Option<Probe>| {
        p.as_ref().map_or("-".to_owned(), |p| {
            format!("{}/{} {}:{}", p.namespace, p.name, p.cluster_ip, p.port)
        })
    };
    for (k, v) in [
        ("services", stats.services),
        ("clusterip", stats.cluster_ip),
        ("headless", stats.headless),
        ("nodeport", stats.node_port),
        ("loadbalancer", stats.load_balancer),
        ("externalname", stats.external_name),
        ("selectorless", stats.selectorless),
        ("service_ports", stats.service_ports),
        ("node_ports", stats.node_ports),
        ("deployments", stats.deployments),
        ("endpointslices", stats.endpoint_slices),
        ("endpoints", stats.endpoints),
        ("namespaces", stats.namespaces),
        ("nodes", stats.nodes),
        ("bytes", stats.bytes),
    ] {
        w!(s, "{k}={v}");
    }
    w!(s, "first={}", probe(&stats.first));
    w!(s, "last={}", probe(&stats.last));
    s
}

fn usage() -> ! {
    eprintln!(
        "usage: gen-cluster --services N --endpoints M --out FILE [--seed S] [--list]\n\
         (M endpoints per Service; FILE `-` is standard output)"
    );
    std::process::exit(2)
}

#[allow(dead_code)] // unused where this file is a module of a bench or a test
fn main() {
    let mut cfg = Config::default();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| -> String {
            args.next().unwrap_or_else(|| {
                eprintln!("gen-cluster: {what} needs a value");
                usage()
            })
        };
        let number = |v: String| -> u64 {
            v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("gen-cluster: `{v}` is not a number");
                usage()
            })
        };
        match a.as_str() {
            "--services" => cfg.services = number(value("--services")) as usize,
            "--endpoints" => cfg.endpoints = number(value("--endpoints")) as usize,
            "--seed" => cfg.seed = number(value("--seed")),
            "--out" => out = Some(value("--out")),
            "--list" => cfg.list = true,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("gen-cluster: unknown argument `{other}`");
                usage()
            }
        }
    }
    let Some(out) = out else { usage() };
    let (text, stats) = generate(&cfg).unwrap_or_else(|e| {
        eprintln!("gen-cluster: {e}");
        std::process::exit(2)
    });
    let written = if out == "-" {
        std::io::stdout().lock().write_all(text.as_bytes())
    } else {
        std::fs::write(&out, text.as_bytes())
    };
    if let Err(e) = written {
        eprintln!("gen-cluster: {out}: {e}");
        std::process::exit(1);
    }
    if out == "-" {
        eprint!("{}", summary(&stats));
    } else {
        print!("{}", summary(&stats));
    }
}

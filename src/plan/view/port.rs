//! One Service port in one family, as kube-proxy sees it (`docs/reference/dataplane.md` §1.6,
//! §1.9, §1.11, §1.12): which addresses reach it and where nat sends each, which endpoints
//! each policy chain picks among, who is masqueraded, and what traffic that finds no
//! endpoint gets.

use super::super::family::Family;
use super::super::{Endpoint, PortPlan, ServicePlan};
use super::Proxy;
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

/// A traffic policy, and the chain that picks among its endpoints (`service-`/`SVC-` for
/// Cluster, `local-`/`SVL-` for Local).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    Cluster,
    Local,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Cluster => "Cluster",
            Policy::Local => "Local",
        }
    }
}

/// How a packet reaches a Service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    ClusterIp,
    ExternalIp,
    LoadBalancerIp,
    NodePort,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::ClusterIp => "cluster-ip",
            EntryKind::ExternalIp => "external-ip",
            EntryKind::LoadBalancerIp => "load-balancer-ip",
            EntryKind::NodePort => "node-port",
        }
    }
}

/// Where nat sends an entry's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Straight to a policy chain (clusterIP traffic).
    Policy(Policy),
    /// To the external chain (NodePort, externalIP and LoadBalancer traffic), after the
    /// source-range firewall where the entry has one.
    External,
}

/// What the filter does with traffic to an entry that nat did not DNAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoEndpoint {
    /// No usable endpoint at all: ICMP port unreachable.
    Reject,
    /// Endpoints, but none for this traffic's Local policy.
    Drop,
}

/// One address (or the NodePort) that reaches the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// The address; `None` for the NodePort (any address where NodePorts answer).
    pub ip: Option<IpAddr>,
    /// The Service port, or the NodePort.
    pub port: u16,
    /// A LoadBalancer IP with source ranges: the firewall sees the source first.
    pub firewall: bool,
    /// Where nat sends the traffic; `None`: nowhere (no endpoints for it).
    pub nat: Option<Target>,
    /// The verdict for traffic nat did not DNAT; `None`: none (it always is DNATed).
    pub filter: Option<NoEndpoint>,
}

/// Which ClusterIP traffic the internal policy chain marks for masquerade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Masquerade {
    /// None (no local-traffic detector, no `--masquerade-all`).
    Never,
    /// All of it (`--masquerade-all`).
    All,
    /// What does not come from these pod CIDRs.
    NotFrom(Vec<IpNet>),
}

/// Which sources an external-chain rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Any,
    /// Pods (`--cluster-cidr`).
    Pods(Vec<IpNet>),
    /// The node itself (`fib saddr type local`, `-m addrtype --src-type LOCAL`).
    Node,
}

/// What an external-chain rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Mark for masquerade, and go on.
    Masquerade,
    /// Go to a policy chain (the end of the external chain).
    Goto(Policy),
}

/// One rule of the external chain, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalRule {
    pub from: Source,
    pub step: Step,
}

/// One Service port in one family, decided (see the module doc of `plan::view`).
#[derive(Clone, Debug)]
pub struct PortView<'p> {
    pub service: &'p ServicePlan,
    pub port: &'p PortPlan,
    pub family: Family,
    /// The Service's addresses in this family.
    pub cluster_ips: Vec<IpAddr>,
    pub external_ips: Vec<IpAddr>,
    pub load_balancer_ips: Vec<IpAddr>,
    /// `loadBalancerSourceRanges` of this family, aggregated.
    pub source_ranges: Vec<IpNet>,
    /// Endpoints (indices into `port.endpoints`) of the Cluster policy chain; empty when
    /// the port has no such chain.
    pub cluster: Vec<usize>,
    /// Endpoints of the Local policy chain; empty when the port has no such chain.
    pub local: Vec<usize>,
    /// A usable endpoint exists anywhere (kube-proxy's `hasEndpoints`), in this family.
    pub has_endpoints: bool,
    /// The policy of ClusterIP traffic.
    pub internal: Policy,
    /// The policy of external traffic; `None` when nothing external reaches the port.
    pub external: Option<Policy>,
    /// The masquerade rule of the internal policy chain.
    pub masquerade: Masquerade,
    /// The external chain, rule by rule; empty when the port has none.
    pub external_rules: Vec<ExternalRule>,
    /// Sources the LoadBalancer IPs admit (empty: none of this family); `None` when the
    /// port has no source-range firewall.
    pub firewall: Option<Vec<IpNet>>,
    /// The addresses that reach the port: clusterIPs, externalIPs, LoadBalancer IPs, then
    /// the NodePort.
    pub entries: Vec<Entry>,
}

impl<'p> PortView<'p> {
    pub(super) fn new(
        proxy: &Proxy,
        svc: &'p ServicePlan,
        port: &'p PortPlan,
        family: Family,
    ) -> Option<Self> {
        let cluster_ips: Vec<IpAddr> = svc
            .cluster_ips
            .iter()
            .map(|c| c.ip)
            .filter(|&ip| family.has(ip))
            .collect();
        if cluster_ips.is_empty() {
            return None;
        }
        let in_family = |indices: &[usize]| -> Vec<usize> {
            indices
                .iter()
                .copied()
                .filter(|&i| port.endpoints.get(i).is_some_and(|e| family.has(e.ip)))
                .collect()
        };
        let external_ips = family.ips(&svc.external_ips);
        let load_balancer_ips = family.ips(&svc.load_balancer_ips);
        let externally_accessible =
            port.node_port.is_some() || !external_ips.is_empty() || !load_balancer_ips.is_empty();
        let internal = policy(svc.internal_traffic_local);
        let external = externally_accessible.then_some(policy(svc.external_traffic_local));
        // Cluster endpoints serve internal traffic under Cluster policy, and external
        // traffic under Cluster policy or short-circuited (pods, the node) under Local.
        let uses_cluster = internal == Policy::Cluster || externally_accessible;
        let uses_local = internal == Policy::Local || external == Some(Policy::Local);
        let cluster = in_family(&port.cluster);
        let has_endpoints = !cluster.is_empty();
        let mut view = PortView {
            service: svc,
            port,
            family,
            cluster_ips,
            external_ips,
            load_balancer_ips,
            source_ranges: family.nets(&svc.source_ranges),
            cluster: if uses_cluster { cluster } else { Vec::new() },
            local: if uses_local {
                in_family(&port.local)
            } else {
                Vec::new()
            },
            has_endpoints,
            internal,
            external,
            masquerade: Masquerade::Never,
            external_rules: Vec::new(),
            firewall: None,
            entries: Vec::new(),
        };
        view.masquerade = cluster_ip_masquerade(proxy, family);
        view.external_rules = view.external_chain(proxy);
        view.firewall = view.firewall_sources(proxy);
        view.entries = view.entries();
        Some(view)
    }

    /// The endpoints of a policy chain (empty: the port has no such chain).
    pub fn members(&self, policy: Policy) -> &[usize] {
        match policy {
            Policy::Cluster => &self.cluster,
            Policy::Local => &self.local,
        }
    }

    /// Every endpoint some policy chain picks, in plan order.
    pub fn endpoints(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.cluster.iter().chain(&self.local).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    pub fn endpoint(&self, i: usize) -> &'p Endpoint {
        &self.port.endpoints[i]
    }

    /// ClusterIP traffic finds an endpoint.
    pub fn has_internal_endpoints(&self) -> bool {
        self.has_policy_endpoints(self.internal)
    }

    /// External traffic (not short-circuited) finds an endpoint.
    pub fn has_external_endpoints(&self) -> bool {
        self.external
            .is_some_and(|policy| self.has_policy_endpoints(policy))
    }

    fn has_policy_endpoints(&self, policy: Policy) -> bool {
        match policy {
            Policy::Cluster => self.has_endpoints,
            Policy::Local => !self.local.is_empty(),
        }
    }

    /// The port has an external chain: NodePort, externalIP or LoadBalancer traffic, and
    /// endpoints somewhere.
    pub fn uses_external_chain(&self) -> bool {
        !self.external_rules.is_empty()
    }

    /// The verdict for traffic that finds no endpoint: reject when the port has none at
    /// all, drop when it has some but none for this traffic's Local policy.
    pub fn no_endpoint(&self) -> NoEndpoint {
        if self.has_endpoints {
            NoEndpoint::Drop
        } else {
            NoEndpoint::Reject
        }
    }

    /// The external chain: under Cluster policy everything is masqueraded (endpoints may be
    /// elsewhere); under Local policy pods and the node itself skip to the Cluster chain
    /// (the node masqueraded), the rest goes to the Local chain, or falls through to the
    /// filter's drop when there is no local endpoint.
    fn external_chain(&self, proxy: &Proxy) -> Vec<ExternalRule> {
        let Some(policy) = self.external.filter(|_| self.has_endpoints) else {
            return Vec::new();
        };
        let rule = |from, step| ExternalRule { from, step };
        let mut rules = Vec::new();
        match policy {
            Policy::Cluster => rules.push(rule(Source::Any, Step::Masquerade)),
            Policy::Local => {
                let pods = proxy.pods(self.family);
                if !pods.is_empty() {
                    rules.push(rule(Source::Pods(pods), Step::Goto(Policy::Cluster)));
                }
                rules.push(rule(Source::Node, Step::Masquerade));
                rules.push(rule(Source::Node, Step::Goto(Policy::Cluster)));
            }
        }
        if self.has_policy_endpoints(policy) {
            rules.push(rule(Source::Any, Step::Goto(policy)));
        }
        rules
    }

    /// The sources LoadBalancer IPs admit: the source ranges of this family, plus the
    /// LoadBalancer IPs themselves when a node IP is inside a range (traffic from the node
    /// to its own LoadBalancer IP leaves with that IP as its source).
    fn firewall_sources(&self, proxy: &Proxy) -> Option<Vec<IpNet>> {
        let applies = self.has_endpoints
            && !self.load_balancer_ips.is_empty()
            && !self.service.source_ranges.is_empty();
        if !applies {
            return None;
        }
        let mut allowed = self.source_ranges.clone();
        let node_inside = proxy
            .node_ips(self.family)
            .iter()
            .any(|ip| self.source_ranges.iter().any(|r| r.contains(ip)));
        if node_inside {
            allowed.extend(self.load_balancer_ips.iter().map(|&ip| Family::host(ip)));
        }
        Some(IpNet::aggregate(&allowed))
    }

    fn entries(&self) -> Vec<Entry> {
        let no_endpoint = self.no_endpoint();
        let mut entries = Vec::new();
        for &ip in &self.cluster_ips {
            let served = self.has_internal_endpoints();
            entries.push(Entry {
                kind: EntryKind::ClusterIp,
                ip: Some(ip),
                port: self.port.port,
                firewall: false,
                nat: served.then_some(Target::Policy(self.internal)),
                filter: (!served).then_some(no_endpoint),
            });
        }
        let external = self.uses_external_chain().then_some(Target::External);
        let external_filter = (!self.has_external_endpoints()).then_some(no_endpoint);
        let addresses = self
            .external_ips
            .iter()
            .map(|&ip| (EntryKind::ExternalIp, ip))
            .chain(
                self.load_balancer_ips
                    .iter()
                    .map(|&ip| (EntryKind::LoadBalancerIp, ip)),
            );
        for (kind, ip) in addresses {
            entries.push(Entry {
                kind,
                ip: Some(ip),
                port: self.port.port,
                firewall: kind == EntryKind::LoadBalancerIp && self.firewall.is_some(),
                nat: external,
                filter: external_filter,
            });
        }
        if let Some(node_port) = self.port.node_port {
            entries.push(Entry {
                kind: EntryKind::NodePort,
                ip: None,
                port: node_port.port,
                firewall: false,
                nat: external,
                filter: external_filter,
            });
        }
        entries
    }
}

fn policy(local: bool) -> Policy {
    if local {
        Policy::Local
    } else {
        Policy::Cluster
    }
}

/// ClusterIP traffic that may leave the node with a source the endpoint cannot answer is
/// marked: all of it with `--masquerade-all`, else what does not come from a pod; without
/// a pod CIDR, none (kube-proxy without a local-traffic detector).
fn cluster_ip_masquerade(proxy: &Proxy, family: Family) -> Masquerade {
    let pods = proxy.pods(family);
    if proxy.masquerade_all {
        Masquerade::All
    } else if pods.is_empty() {
        Masquerade::Never
    } else {
        Masquerade::NotFrom(pods)
    }
}

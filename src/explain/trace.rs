//! `svcc trace`: where a packet to `IP:PORT/PROTO` goes, following the plan the way the
//! emitted ruleset handles it (kube-proxy nftables semantics, `docs/reference/dataplane.md` §1):
//!
//! 1. the destination is matched as a clusterIP, an externalIP, a LoadBalancer IP (after the
//!    `loadBalancerSourceRanges` firewall), or a nodePort on a node address; an address of the
//!    service CIDR with no match is rejected (an active clusterIP, wrong port) or dropped
//!    (unallocated); anything else is not a Service address;
//! 2. the traffic policy picks the candidates: Cluster uses every usable endpoint, Local only
//!    this node's; external traffic to an `externalTrafficPolicy: Local` Service from a pod
//!    (source inside `--cluster-cidr`) is short-circuited to every endpoint, as kube-proxy does;
//! 3. the verdict is DNAT to one candidate (`numgen random`, equal probabilities), `reject`
//!    when the Service has no endpoints, `drop` under Local policy without local ones;
//! 4. masquerading follows the same rules as the ruleset (`--masquerade-all`, traffic from
//!    outside `--cluster-cidr` to a clusterIP, external traffic under Cluster policy, hairpin).
//!
//! A nodePort matches any destination that is not a Service address (svcc does not know the
//! node's addresses), except loopback, which nftables mode never serves.

use crate::plan::{Origin, Plan, PortPlan, ServicePlan};
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

use super::packet::PacketSpec;

/// Which ruleset the trace follows; they differ on addresses that match no Service port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataplane {
    /// kube-proxy nftables mode: unknown ports of a clusterIP are rejected, unallocated
    /// service-CIDR addresses dropped.
    #[default]
    Nft,
    /// kube-proxy iptables mode: such packets are not touched.
    Iptables,
}

#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    pub from: Option<IpAddr>,
    pub dataplane: Dataplane,
    /// Pod CIDRs (`--cluster-cidr`): ClusterIP traffic from outside is masqueraded.
    pub cluster_cidrs: Vec<IpNet>,
    pub masquerade_all: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    ClusterIp,
    ExternalIp,
    LoadBalancerIp,
    NodePort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Dnat,
    Reject,
    Drop,
    /// Not a Service address: the ruleset does not touch the packet.
    None,
}

#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub ip: IpAddr,
    pub port: u16,
    pub probability: f64,
    pub node: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub packet: String,
    pub from: Option<IpAddr>,
    pub entry: Option<EntryKind>,
    pub service: Option<String>,
    pub port: Option<String>,
    /// Where the matching Service port is defined.
    pub service_origin: Option<Origin>,
    /// `Cluster` or `Local`, for the traffic that matched.
    pub policy: Option<String>,
    pub candidates: Vec<Candidate>,
    /// ClientIP affinity timeout: a client stays on the first endpoint it reaches.
    pub affinity_seconds: Option<u32>,
    pub masquerade: bool,
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
}

impl Trace {
    fn new(packet: &PacketSpec, from: Option<IpAddr>) -> Trace {
        Trace {
            packet: packet.to_string(),
            from,
            entry: None,
            service: None,
            port: None,
            service_origin: None,
            policy: None,
            candidates: Vec::new(),
            affinity_seconds: None,
            masquerade: false,
            verdict: Verdict::None,
            reason: String::new(),
        }
    }
}

fn port_matches(p: &PortPlan, packet: &PacketSpec) -> bool {
    p.port == packet.port && p.protocol == packet.protocol
}

/// The service and port a packet is addressed to, and how.
fn find<'a>(
    plan: &'a Plan,
    packet: &PacketSpec,
) -> Option<(&'a ServicePlan, &'a PortPlan, EntryKind)> {
    for s in &plan.services {
        for p in s.ports.iter().filter(|p| port_matches(p, packet)) {
            if s.cluster_ips.iter().any(|c| c.ip == packet.ip) {
                return Some((s, p, EntryKind::ClusterIp));
            }
            if s.external_ips.contains(&packet.ip) {
                return Some((s, p, EntryKind::ExternalIp));
            }
            if s.load_balancer_ips.contains(&packet.ip) {
                return Some((s, p, EntryKind::LoadBalancerIp));
            }
        }
    }
    if packet.ip.is_loopback() || is_service_address(plan, packet.ip) {
        return None;
    }
    for s in &plan.services {
        for p in &s.ports {
            if p.node_port.is_some_and(|n| n.port == packet.port) && p.protocol == packet.protocol {
                return Some((s, p, EntryKind::NodePort));
            }
        }
    }
    None
}

fn is_service_address(plan: &Plan, ip: IpAddr) -> bool {
    plan.services.iter().any(|s| {
        s.cluster_ips.iter().any(|c| c.ip == ip)
            || s.external_ips.contains(&ip)
            || s.load_balancer_ips.contains(&ip)
    })
}

pub fn trace(plan: &Plan, packet: &PacketSpec, opts: &TraceOptions) -> Trace {
    let mut t = Trace::new(packet, opts.from);
    let Some((svc, port, entry)) = find(plan, packet) else {
        let active = plan
            .services
            .iter()
            .find(|s| s.cluster_ips.iter().any(|c| c.ip == packet.ip));
        if opts.dataplane == Dataplane::Iptables {
            t.reason = match active {
                Some(s) => format!(
                    "{} has no port {}/{}; iptables mode leaves the packet alone",
                    s.id(),
                    packet.port,
                    packet.protocol.as_str()
                ),
                None => format!(
                    "{} is no Service address and {} is no nodePort",
                    packet.ip, packet.port
                ),
            };
            return t;
        }
        if let Some(s) = active {
            t.service = Some(s.id());
            t.verdict = Verdict::Reject;
            t.reason = format!(
                "{} is the clusterIP of {}, which has no port {}/{}",
                packet.ip,
                s.id(),
                packet.port,
                packet.protocol.as_str()
            );
        } else if plan
            .cluster
            .service_cidrs
            .iter()
            .any(|c| c.contains(&packet.ip))
        {
            t.verdict = Verdict::Drop;
            t.reason = format!(
                "{} is in the service CIDR but is no Service's clusterIP",
                packet.ip
            );
        } else {
            t.reason = format!(
                "{} is not a Service address and {} is no nodePort",
                packet.ip, packet.port
            );
        }
        return t;
    };
    t.entry = Some(entry);
    t.service = Some(svc.id());
    t.port = Some(if port.name.is_empty() {
        format!("{}/{}", port.port, port.protocol.as_str())
    } else {
        port.name.clone()
    });
    t.service_origin = Some(port.origin.clone());
    let from_pod = opts
        .from
        .is_some_and(|f| opts.cluster_cidrs.iter().any(|c| c.contains(&f)));
    let external = entry != EntryKind::ClusterIp;
    if entry == EntryKind::LoadBalancerIp && !svc.source_ranges.is_empty() {
        match opts.from {
            Some(f) if !svc.source_ranges.iter().any(|r| r.contains(&f)) => {
                t.verdict = Verdict::Drop;
                t.reason = format!(
                    "{f} is outside the loadBalancerSourceRanges of {}",
                    svc.id()
                );
                return t;
            }
            Some(_) => {}
            None => {
                t.reason =
                    "loadBalancerSourceRanges apply: give --from to check the source; ".to_owned()
            }
        }
    }
    if !port.has_endpoints() {
        t.verdict = Verdict::Reject;
        t.reason.push_str(&format!(
            "{} has no usable endpoints for port {}",
            svc.id(),
            t.port.clone().unwrap_or_default()
        ));
        return t;
    }
    let local = if external {
        svc.external_traffic_local && !from_pod
    } else {
        svc.internal_traffic_local
    };
    let indices = if local { &port.local } else { &port.cluster };
    t.policy = Some(if local { "Local" } else { "Cluster" }.to_owned());
    if indices.is_empty() {
        t.verdict = Verdict::Drop;
        t.reason.push_str(&format!(
            "traffic policy Local and no endpoint of {} is on node {}",
            svc.id(),
            plan.cluster.node.as_deref().unwrap_or("(no --node given)")
        ));
        return t;
    }
    let family = packet.ip.is_ipv4();
    let chosen: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| port.endpoints[i].ip.is_ipv4() == family)
        .collect();
    let n = chosen.len().max(1) as f64;
    t.candidates = chosen
        .iter()
        .map(|&i| {
            let e = &port.endpoints[i];
            Candidate {
                ip: e.ip,
                port: e.port,
                probability: 1.0 / n,
                node: e.node_name.clone(),
                origin: e.origin.clone(),
            }
        })
        .collect();
    if t.candidates.is_empty() {
        t.verdict = Verdict::Reject;
        t.reason
            .push_str("no endpoint of the packet's address family");
        return t;
    }
    t.affinity_seconds = svc.affinity_timeout;
    let hairpin = opts
        .from
        .is_some_and(|f| t.candidates.iter().any(|c| c.ip == f));
    t.masquerade = if external {
        !local || hairpin
    } else {
        opts.masquerade_all
            || hairpin
            || (!opts.cluster_cidrs.is_empty()
                && opts
                    .from
                    .is_some_and(|f| !opts.cluster_cidrs.iter().any(|c| c.contains(&f))))
    };
    t.verdict = Verdict::Dnat;
    t.reason
        .push_str(&format!("DNAT to one of {} endpoints", t.candidates.len()));
    t
}

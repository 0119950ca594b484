//! `svcc trace`: where a packet to `IP:PORT/PROTO` goes. It decides nothing itself: it finds
//! the entry of the plan's policy view ([`crate::plan::view`]) the packet arrives at and
//! walks it ([`PortView::walk`]), the very decisions both rulesets are lowered from:
//!
//! 1. the destination is matched as a clusterIP, an externalIP, a LoadBalancer IP (after the
//!    `loadBalancerSourceRanges` firewall), or a NodePort on an address where NodePorts
//!    answer (nftables mode: the node IPs given with `--node-ip`, else any address but
//!    loopback and the Services'; iptables mode: any local address, loopback with
//!    `--localhost-nodeports`; both: `--nodeport-addresses`);
//! 2. the external chain's rules pick the policy: under `externalTrafficPolicy: Local`, pods
//!    (`--cluster-cidr`) and the node itself (a `--node-ip`, or loopback) skip to every
//!    endpoint, the node masqueraded, the rest gets this node's endpoints;
//! 3. the verdict is DNAT to one candidate (equal probabilities), `reject` when the port has
//!    no endpoints, `drop` under Local policy without local ones;
//! 4. masquerading as the rulesets mark it (`--masquerade-all`, ClusterIP traffic from
//!    outside `--cluster-cidr`, external traffic under Cluster policy, the node's own
//!    external traffic, hairpin).
//!
//! Packets that reach no Service port differ between the dataplanes: nftables mode rejects
//! unknown ports of a clusterIP and drops unallocated service-CIDR addresses, iptables mode
//! leaves them alone but accepts `healthCheckNodePort` traffic to the node.
//!
//! **Differences from kube-proxy.** svcc knows of the node's addresses only what `--node-ip`
//! says (the primary IPs): a source is the node's own when it is one of them or loopback,
//! and where every local address serves NodePorts (iptables mode, or nftables mode without
//! `--node-ip`), any address that is not a Service's is taken for a local one, with a note.
//! Topology hints are not applied (svcc does not know the node's zone).

use crate::plan::view::{self, Entry, PortView, Proxy, Source, Walk, WalkVerdict};
use crate::plan::{Family, Origin, Plan, Protocol};
use serde::Serialize;
use std::net::IpAddr;

use super::packet::PacketSpec;

pub use crate::plan::view::Dataplane;

#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    pub from: Option<IpAddr>,
    pub dataplane: Dataplane,
    /// The node's proxy configuration, as the rulesets are compiled with it.
    pub proxy: Proxy,
}

/// How the packet reached a Service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    ClusterIp,
    ExternalIp,
    LoadBalancerIp,
    NodePort,
    /// iptables mode: the Service's `healthCheckNodePort` on the node.
    HealthCheckNodePort,
}

impl From<view::EntryKind> for EntryKind {
    fn from(kind: view::EntryKind) -> Self {
        match kind {
            view::EntryKind::ClusterIp => EntryKind::ClusterIp,
            view::EntryKind::ExternalIp => EntryKind::ExternalIp,
            view::EntryKind::LoadBalancerIp => EntryKind::LoadBalancerIp,
            view::EntryKind::NodePort => EntryKind::NodePort,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Dnat,
    Reject,
    Drop,
    /// The filter accepts it (iptables mode, `healthCheckNodePort`).
    Accept,
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
    /// `Cluster` or `Local`: the policy chain that picked, or whose lack of endpoints ended
    /// the packet.
    pub policy: Option<String>,
    pub candidates: Vec<Candidate>,
    /// ClientIP affinity timeout: a client stays on the first endpoint it reaches.
    pub affinity_seconds: Option<u32>,
    pub masquerade: bool,
    /// The mark that asks for masquerading (`--masquerade-bit`), when the packet gets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masquerade_mark: Option<String>,
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
    /// What the verdict rests on beyond the manifests: short-circuits, and what svcc had to
    /// assume about the node's addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
            masquerade_mark: None,
            verdict: Verdict::None,
            reason: String::new(),
            notes: Vec::new(),
        }
    }
}

pub fn trace(plan: &Plan, packet: &PacketSpec, opts: &TraceOptions) -> Trace {
    let mut t = Trace::new(packet, opts.from);
    match find(plan, packet, opts) {
        Some((port, entry)) => follow(&mut t, plan, &port, &entry, packet, opts),
        None => stray(&mut t, plan, packet, opts),
    }
    t
}

/// The entry the packet arrives at: a Service address with the port, else a NodePort where
/// NodePorts answer.
fn find<'p>(
    plan: &'p Plan,
    packet: &PacketSpec,
    opts: &TraceOptions,
) -> Option<(PortView<'p>, Entry)> {
    let family = Family::of(packet.ip);
    let views = plan.services.iter().flat_map(|s| {
        s.ports
            .iter()
            .filter_map(move |p| opts.proxy.port(s, p, family))
    });
    let mut node_port = None;
    let serves = opts
        .proxy
        .serves_node_ports(plan, opts.dataplane, packet.ip);
    for view in views {
        if view.port.protocol != packet.protocol {
            continue;
        }
        let by_address = view
            .entries
            .iter()
            .find(|e| e.ip == Some(packet.ip) && e.port == packet.port);
        if let Some(entry) = by_address {
            let entry = entry.clone();
            return Some((view, entry));
        }
        if serves && node_port.is_none() {
            let by_port = view
                .entries
                .iter()
                .find(|e| e.kind == view::EntryKind::NodePort && e.port == packet.port);
            if let Some(entry) = by_port {
                let entry = entry.clone();
                node_port = Some((view, entry));
            }
        }
    }
    node_port
}

/// The packet through the entry it arrived at.
fn follow(
    t: &mut Trace,
    plan: &Plan,
    port: &PortView,
    entry: &Entry,
    packet: &PacketSpec,
    opts: &TraceOptions,
) {
    let svc = port.service;
    let plan_port = port.port;
    t.entry = Some(entry.kind.into());
    t.service = Some(svc.id());
    let port_name = if plan_port.name.is_empty() {
        format!("{}/{}", plan_port.port, plan_port.protocol.as_str())
    } else {
        plan_port.name.clone()
    };
    t.port = Some(port_name.clone());
    t.service_origin = Some(plan_port.origin.clone());
    if entry.kind == view::EntryKind::NodePort
        && !packet.ip.is_loopback()
        && !opts.proxy.node_ips.contains(&packet.ip)
    {
        t.notes.push(format!(
            "{} is taken for a local address of the node (svcc knows only the node IPs of \
             --node-ip)",
            packet.ip
        ));
    }
    let walk = port.walk(entry, opts.from, &opts.proxy);
    notes(t, &walk, opts);
    if walk.firewall_dropped {
        t.verdict = Verdict::Drop;
        t.reason = format!(
            "{} is outside the loadBalancerSourceRanges of {}",
            opts.from.map(|f| f.to_string()).unwrap_or_default(),
            svc.id()
        );
        return;
    }
    if walk.firewall_unchecked {
        t.reason = "loadBalancerSourceRanges apply: give --from to check the source; ".to_owned();
    }
    t.policy = walk.policy.map(|p| p.name().to_owned());
    match walk.verdict {
        WalkVerdict::Reject => {
            t.verdict = Verdict::Reject;
            let elsewhere = !plan_port.cluster.is_empty();
            let why = if elsewhere {
                "no endpoint of the packet's address family".to_owned()
            } else {
                format!("{} has no usable endpoints for port {port_name}", svc.id())
            };
            t.reason.push_str(&why);
        }
        WalkVerdict::Drop => {
            t.verdict = Verdict::Drop;
            t.reason.push_str(&format!(
                "traffic policy Local and no endpoint of {} is on node {}",
                svc.id(),
                plan.cluster.node.as_deref().unwrap_or("(no --node given)")
            ));
        }
        WalkVerdict::Dnat => dnat(t, port, &walk, opts),
    }
}

fn dnat(t: &mut Trace, port: &PortView, walk: &Walk, opts: &TraceOptions) {
    let n = walk.candidates.len().max(1) as f64;
    t.candidates = walk
        .candidates
        .iter()
        .map(|&i| {
            let e = port.endpoint(i);
            Candidate {
                ip: e.ip,
                port: e.port,
                probability: 1.0 / n,
                node: e.node_name.clone(),
                origin: e.origin.clone(),
            }
        })
        .collect();
    t.affinity_seconds = port.service.affinity_timeout;
    t.masquerade = walk.masquerade;
    if walk.masquerade {
        t.masquerade_mark = Some(opts.proxy.mark_text());
    }
    t.verdict = Verdict::Dnat;
    t.reason
        .push_str(&format!("DNAT to one of {} endpoints", t.candidates.len()));
}

/// What the walk rested on, as notes.
fn notes(t: &mut Trace, walk: &Walk, opts: &TraceOptions) {
    let from = opts.from.map(|f| f.to_string()).unwrap_or_default();
    match &walk.short_circuit {
        Some(Source::Pods(_)) => t.notes.push(format!(
            "{from} is a pod (--cluster-cidr): it skips externalTrafficPolicy: Local to every \
             endpoint, unmasqueraded"
        )),
        Some(Source::Node) => t.notes.push(format!(
            "{from} is the node itself: it skips externalTrafficPolicy: Local to every \
             endpoint, masqueraded"
        )),
        _ => {}
    }
    if walk.node_unknown {
        t.notes.push(format!(
            "svcc does not know the node's addresses (--node-ip): were {from} one of them, it \
             would skip externalTrafficPolicy: Local to every endpoint, masqueraded"
        ));
    }
}

/// A packet that reaches no Service port: the health-check port (iptables mode), a wrong
/// port of a clusterIP or an unallocated service-CIDR address (nftables mode), or nothing.
fn stray(t: &mut Trace, plan: &Plan, packet: &PacketSpec, opts: &TraceOptions) {
    let family = Family::of(packet.ip);
    let local = packet.ip.is_loopback()
        || opts.proxy.node_ips.contains(&packet.ip)
        || !view::is_service_address(plan, packet.ip);
    if local && packet.protocol == Protocol::Tcp {
        let checked = plan
            .services
            .iter()
            .find(|s| opts.proxy.health_check(opts.dataplane, s, family) == Some(packet.port));
        if let Some(s) = checked {
            t.entry = Some(EntryKind::HealthCheckNodePort);
            t.service = Some(s.id());
            t.service_origin = Some(s.origin.clone());
            t.verdict = Verdict::Accept;
            t.reason = format!(
                "{} is the healthCheckNodePort of {}: iptables mode accepts it on the node",
                packet.port,
                s.id()
            );
            return;
        }
    }
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
        return;
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
}

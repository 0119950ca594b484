//! The policy view: what kube-proxy decides for the node and for each Service port in one
//! address family, decided once, here, from the [`Plan`] and the node's proxy configuration
//! ([`Proxy`]). The nft and iptables rulesets lower it to their own syntax, and `svcc trace`
//! walks it ([`PortView::walk`]); none of them decides a policy on its own, so the three cannot
//! drift apart. `tests/snapshots.rs` keeps its text ([`PortView`]'s `Display`) for the crafted
//! clusters under `snapshots/plan/`, so a change of decision is reviewed without a target.
//!
//! Node-level decisions live on [`Proxy`]: where NodePorts answer ([`Proxy::node_ports`]),
//! whether a source is the node itself, what was assumed for lack of the node's addresses
//! ([`Proxy::assumptions`]), the masquerade mark, and the health-check ports that iptables
//! mode opens. Per Service port ([`PortView`], built by [`Proxy::port`]):
//! - the entries: each clusterIP, externalIP, LoadBalancer IP and the NodePort, with the
//!   chain nat sends its traffic to and the filter verdict for traffic nat did not DNAT;
//! - the policy chains (`Cluster`, `Local`) and the endpoints each picks among;
//! - masquerading of ClusterIP traffic, and the rules of the external chain (masquerade,
//!   short-circuits of pods and of the node itself, then the external policy);
//! - the sources a LoadBalancer IP admits (`loadBalancerSourceRanges`, plus the LoadBalancer
//!   IPs themselves when a node IP is inside a range, as kube-proxy does).
//!
//! The two dataplanes differ in a few node-level places, named by [`Dataplane`]: nftables
//! mode answers NodePorts on the node's primary IPs by default, rejects unknown ports of a
//! clusterIP and drops unallocated service-CIDR addresses; iptables mode answers NodePorts
//! on every local address (and on localhost with `--localhost-nodeports`) and accepts
//! `healthCheckNodePort` traffic in its filter table.

mod port;
mod text;
mod walk;

pub use port::{
    Entry, EntryKind, ExternalRule, Masquerade, NoEndpoint, Policy, PortView, Source, Step, Target,
};
pub use text::describe;
pub use walk::{Walk, WalkVerdict};

use super::family::{overlaps, Family};
use super::{Plan, PortPlan, ServicePlan};
use ipnet::IpNet;
use std::net::IpAddr;

/// kube-proxy's default `--iptables-masquerade-bit`: mark `0x4000`.
pub const DEFAULT_MASQUERADE_BIT: u8 = 14;

/// Which kube-proxy mode's semantics apply where the two differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataplane {
    /// kube-proxy nftables mode: NodePorts on the node IPs by default, unknown ports of a
    /// clusterIP rejected, unallocated service-CIDR addresses dropped.
    #[default]
    Nft,
    /// kube-proxy iptables mode: NodePorts on every local address, such packets not touched,
    /// health-check node ports accepted.
    Iptables,
}

/// The node's proxy configuration: kube-proxy's flags that change what traffic does (how it
/// is written is each target's business). Validated by the CLI before it gets here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// Pod CIDRs (kube-proxy `--cluster-cidr`, its ClusterCIDR local-traffic detector):
    /// ClusterIP traffic from outside them is masqueraded, and pods skip
    /// `externalTrafficPolicy: Local`. Empty: no detector.
    pub cluster_cidrs: Vec<IpNet>,
    /// Masquerade all ClusterIP traffic (kube-proxy `--masquerade-all`).
    pub masquerade_all: bool,
    /// The node's primary addresses, at most one per family (`--node-ip`). Empty: unknown.
    pub node_ips: Vec<IpAddr>,
    /// Where NodePorts answer (`--nodeport-addresses`); empty: the dataplane's default.
    pub nodeport_addresses: Vec<IpNet>,
    /// iptables mode: NodePorts also answer on `127.0.0.1` (kube-proxy
    /// `--iptables-localhost-nodeports`; needs `net.ipv4.conf.all.route_localnet=1`).
    pub localhost_nodeports: bool,
    /// The bit of the packet mark that asks for masquerading (kube-proxy
    /// `--iptables-masquerade-bit`), 0–31.
    pub masquerade_bit: u8,
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            cluster_cidrs: Vec::new(),
            masquerade_all: false,
            node_ips: Vec::new(),
            nodeport_addresses: Vec::new(),
            localhost_nodeports: false,
            masquerade_bit: DEFAULT_MASQUERADE_BIT,
        }
    }
}

/// Where NodePorts answer, in one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodePorts {
    /// On every local address (`fib daddr type local`, `-m addrtype --dst-type LOCAL`);
    /// loopback only when `localhost`.
    AllLocal { localhost: bool },
    /// On local addresses inside `nets` (none: no NodePorts in this family); loopback only
    /// when `localhost`. `node_ips`: the networks are the node IPs (`--node-ip`), not
    /// `--nodeport-addresses`.
    Within {
        nets: Vec<IpNet>,
        localhost: bool,
        node_ips: bool,
    },
}

impl NodePorts {
    /// Whether NodePorts answer on loopback (iptables mode with `--localhost-nodeports`).
    pub fn serves_loopback(&self, family: Family) -> bool {
        match self {
            NodePorts::AllLocal { localhost } => *localhost,
            NodePorts::Within {
                nets, localhost, ..
            } => *localhost && nets.iter().any(|n| overlaps(n, &family.loopback())),
        }
    }

    /// Whether loopback must be excluded explicitly: it is not served, yet the addresses
    /// that are include it.
    pub fn guards_loopback(&self, family: Family) -> bool {
        match self {
            NodePorts::AllLocal { localhost } => !localhost,
            NodePorts::Within {
                nets, localhost, ..
            } => !localhost && nets.iter().any(|n| overlaps(n, &family.loopback())),
        }
    }
}

impl Proxy {
    /// The pod CIDRs of `family`, aggregated.
    pub fn pods(&self, family: Family) -> Vec<IpNet> {
        family.nets(&self.cluster_cidrs)
    }

    /// The node IPs of `family`.
    pub fn node_ips(&self, family: Family) -> Vec<IpAddr> {
        family.ips(&self.node_ips)
    }

    /// The masquerade mark: `1 << masquerade_bit`.
    pub fn mark(&self) -> u32 {
        1u32 << u32::from(self.masquerade_bit.min(31))
    }

    /// The mark as both targets print it (`0x4000`; kube-proxy prints `0x00004000`).
    pub fn mark_text(&self) -> String {
        format!("{:#x}", self.mark())
    }

    /// Where NodePorts answer in `family`: `--nodeport-addresses`, else the dataplane's
    /// default (nftables mode: the node IPs when known, as kube-proxy's `primary`; iptables
    /// mode: every local address).
    pub fn node_ports(&self, dataplane: Dataplane, family: Family) -> NodePorts {
        let localhost =
            dataplane == Dataplane::Iptables && self.localhost_nodeports && family == Family::Ipv4;
        if !self.nodeport_addresses.is_empty() {
            return NodePorts::Within {
                nets: family.nets(&self.nodeport_addresses),
                localhost,
                node_ips: false,
            };
        }
        match dataplane {
            Dataplane::Nft if !self.node_ips.is_empty() => NodePorts::Within {
                nets: self
                    .node_ips(family)
                    .into_iter()
                    .map(Family::host)
                    .collect(),
                localhost: false,
                node_ips: true,
            },
            Dataplane::Nft => NodePorts::AllLocal { localhost: false },
            Dataplane::Iptables => NodePorts::AllLocal { localhost },
        }
    }

    /// Whether `ip` is the node itself (`fib saddr type local`, `--src-type LOCAL`): a node
    /// IP or loopback. `None` when it is neither and the node IPs are unknown.
    pub fn is_node(&self, ip: IpAddr) -> Option<bool> {
        if ip.is_loopback() || self.node_ips.contains(&ip) {
            Some(true)
        } else if self.node_ips.is_empty() {
            None
        } else {
            Some(false)
        }
    }

    /// Whether NodePort traffic to `ip` would be served: a local address where NodePorts
    /// answer. Addresses svcc cannot place (the node IPs are all it knows of the node's
    /// addresses) count as local unless they are Service addresses.
    pub fn serves_node_ports(&self, plan: &Plan, dataplane: Dataplane, ip: IpAddr) -> bool {
        let family = Family::of(ip);
        let local =
            ip.is_loopback() || self.node_ips.contains(&ip) || !is_service_address(plan, ip);
        match self.node_ports(dataplane, family) {
            NodePorts::AllLocal { localhost } => local && (localhost || !ip.is_loopback()),
            NodePorts::Within {
                nets, localhost, ..
            } => local && (localhost || !ip.is_loopback()) && nets.iter().any(|n| n.contains(&ip)),
        }
    }

    /// The health-check node port iptables mode accepts for `svc` in `family` (kube-proxy
    /// opens it in its filter table; nftables mode opens no firewall holes).
    pub fn health_check(
        &self,
        dataplane: Dataplane,
        svc: &ServicePlan,
        family: Family,
    ) -> Option<u16> {
        let in_family = svc.cluster_ips.iter().any(|c| family.has(c.ip));
        (dataplane == Dataplane::Iptables && in_family)
            .then_some(svc.health_check_node_port)
            .flatten()
    }

    /// The view of one Service port in `family`; `None` when the Service has no clusterIP
    /// of that family (headless, ExternalName, or the other family only).
    pub fn port<'p>(
        &self,
        svc: &'p ServicePlan,
        port: &'p PortPlan,
        family: Family,
    ) -> Option<PortView<'p>> {
        PortView::new(self, svc, port, family)
    }

    /// What was assumed for lack of the node's addresses, relevant to `plan`: each becomes a
    /// comment in the ruleset and a note on standard error (short enough for an nft
    /// comment). Empty when the node IPs are known, or nothing depends on them.
    pub fn assumptions(&self, plan: &Plan, dataplane: Dataplane) -> Vec<String> {
        if !self.node_ips.is_empty() {
            return Vec::new();
        }
        let mut notes = Vec::new();
        let node_ports = plan
            .services
            .iter()
            .flat_map(|s| &s.ports)
            .any(|p| p.node_port.is_some());
        if dataplane == Dataplane::Nft && self.nodeport_addresses.is_empty() && node_ports {
            notes.push(
                "NodePorts on every local address but loopback: node addresses unknown \
                 (--node-ip serves them on the node IPs)"
                    .to_owned(),
            );
        }
        let ranges = plan
            .services
            .iter()
            .any(|s| !s.load_balancer_ips.is_empty() && !s.source_ranges.is_empty());
        if ranges {
            notes.push(
                "LoadBalancer IPs are not admitted as sources by loadBalancerSourceRanges: \
                 node addresses unknown (--node-ip)"
                    .to_owned(),
            );
        }
        notes
    }
}

/// A proxy configuration a dataplane cannot take (the CLI reports it as a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("--nodeport-addresses `{0}` is loopback, where NodePorts never answer{1}")]
    LoopbackNodePorts(IpNet, &'static str),
    #[error(
        "--localhost-nodeports applies only to the iptables target: nftables mode never serves \
         NodePorts on localhost"
    )]
    LocalhostNodePorts,
    #[error("--node-ip `{0}` {1}")]
    NodeIp(IpAddr, &'static str),
    #[error(
        "--node-ip takes at most one address per family (the node's primary IPs), got {0} and {1}"
    )]
    NodeIps(IpAddr, IpAddr),
    #[error("--masquerade-bit {0} is out of range: a bit of the 32-bit mark, 0-31")]
    MasqueradeBit(u8),
}

impl Proxy {
    /// Checks what `dataplane` can do with this configuration.
    pub fn validate(&self, dataplane: Dataplane) -> Result<(), ProxyError> {
        if self.masquerade_bit > 31 {
            return Err(ProxyError::MasqueradeBit(self.masquerade_bit));
        }
        if self.localhost_nodeports && dataplane == Dataplane::Nft {
            return Err(ProxyError::LocalhostNodePorts);
        }
        for (k, &ip) in self.node_ips.iter().enumerate() {
            let problem = if ip.is_unspecified() {
                Some("is unspecified, not an address of the node")
            } else if ip.is_loopback() {
                Some("is loopback, not an address other hosts reach the node at")
            } else if ip.is_multicast() {
                Some("is multicast, not an address of the node")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ProxyError::NodeIp(ip, problem));
            }
            if let Some(&other) = self.node_ips[..k]
                .iter()
                .find(|o| Family::of(**o) == Family::of(ip))
            {
                return Err(ProxyError::NodeIps(other, ip));
            }
        }
        for net in &self.nodeport_addresses {
            let family = Family::of(net.addr());
            if family.loopback().contains(net) {
                let localhost = dataplane == Dataplane::Iptables
                    && self.localhost_nodeports
                    && family == Family::Ipv4;
                if !localhost {
                    let hint = match (dataplane, family) {
                        (Dataplane::Iptables, Family::Ipv4) => " (without --localhost-nodeports)",
                        _ => "",
                    };
                    return Err(ProxyError::LoopbackNodePorts(*net, hint));
                }
            }
        }
        Ok(())
    }
}

/// Whether `ip` is a clusterIP, externalIP or LoadBalancer IP of any Service.
pub fn is_service_address(plan: &Plan, ip: IpAddr) -> bool {
    plan.services.iter().any(|s| {
        s.cluster_ips.iter().any(|c| c.ip == ip)
            || s.external_ips.contains(&ip)
            || s.load_balancer_ips.contains(&ip)
    })
}

/// Every port view of `plan` in `family`, in plan order (Services, then ports).
pub fn ports<'p>(plan: &'p Plan, proxy: &Proxy, family: Family) -> Vec<PortView<'p>> {
    plan.services
        .iter()
        .flat_map(|s| s.ports.iter().map(move |p| (s, p)))
        .filter_map(|(s, p)| proxy.port(s, p, family))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn node_port_addresses_per_dataplane() {
        let mut proxy = Proxy::default();
        assert_eq!(
            proxy.node_ports(Dataplane::Nft, Family::Ipv4),
            NodePorts::AllLocal { localhost: false }
        );
        proxy.localhost_nodeports = true;
        assert_eq!(
            proxy.node_ports(Dataplane::Iptables, Family::Ipv4),
            NodePorts::AllLocal { localhost: true }
        );
        assert_eq!(
            proxy.node_ports(Dataplane::Iptables, Family::Ipv6),
            NodePorts::AllLocal { localhost: false }
        );
        proxy.node_ips = vec!["192.168.0.2".parse().unwrap()];
        assert_eq!(
            proxy.node_ports(Dataplane::Nft, Family::Ipv4),
            NodePorts::Within {
                nets: nets(&["192.168.0.2/32"]),
                localhost: false,
                node_ips: true
            }
        );
        // A family without a node IP gets no NodePorts, as kube-proxy's `primary`.
        assert_eq!(
            proxy.node_ports(Dataplane::Nft, Family::Ipv6),
            NodePorts::Within {
                nets: vec![],
                localhost: false,
                node_ips: true
            }
        );
        // iptables mode keeps every local address.
        assert_eq!(
            proxy.node_ports(Dataplane::Iptables, Family::Ipv4),
            NodePorts::AllLocal { localhost: true }
        );
        proxy.nodeport_addresses = nets(&["0.0.0.0/0"]);
        assert!(proxy
            .node_ports(Dataplane::Nft, Family::Ipv4)
            .guards_loopback(Family::Ipv4));
        assert!(!proxy
            .node_ports(Dataplane::Iptables, Family::Ipv4)
            .guards_loopback(Family::Ipv4));
    }

    #[test]
    fn marks() {
        let mut proxy = Proxy::default();
        assert_eq!(proxy.mark_text(), "0x4000");
        proxy.masquerade_bit = 0;
        assert_eq!(proxy.mark_text(), "0x1");
        proxy.masquerade_bit = 31;
        assert_eq!(proxy.mark_text(), "0x80000000");
    }

    #[test]
    fn node_sources() {
        let mut proxy = Proxy::default();
        let ip: IpAddr = "192.168.0.2".parse().unwrap();
        assert_eq!(proxy.is_node(ip), None);
        assert_eq!(proxy.is_node("127.0.0.1".parse().unwrap()), Some(true));
        proxy.node_ips = vec![ip];
        assert_eq!(proxy.is_node(ip), Some(true));
        assert_eq!(proxy.is_node("192.168.0.3".parse().unwrap()), Some(false));
    }
}

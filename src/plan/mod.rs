//! The plan: the intermediate representation every target is rendered from.
//!
//! Invariants (the contract between lowering and the emitters):
//! - Services are sorted by (namespace, name); ports keep `spec.ports` order; endpoints are
//!   sorted by their `ip:port` text as kube-proxy sorts them (so `10.0.0.10:80` comes before
//!   `10.0.0.2:80`) and are unique per port.
//! - Every address, port, name and string in a plan has passed the check stage: IPs are
//!   canonical, names are DNS labels/subdomains, ports are in range. Emitters format; they do
//!   not validate again and decide nothing.
//! - `cluster` and `local` of a [`PortPlan`] are the endpoints kube-proxy would use (indices
//!   into `endpoints`): for Cluster policy the ready endpoints, or, when there are none, the
//!   serving and terminating ones; for Local policy the same among endpoints on `--node`.
//!   Topology hints are not applied (svcc does not know the node's zone).
//! - `allocated: true` marks a clusterIP or nodePort that the manifests left out and lowering
//!   chose: deterministic (a hash of the Service's identity, probing past addresses already in
//!   use), so adding or removing an unrelated Service does not move it unless they collide.
//! - Headless and ExternalName Services are in the plan (DNS needs them) with no cluster IPs.
//! - Every DNS name the cluster zone could hold for a Service was checked by lowering
//!   ([`dns`]); the ones that cannot exist in DNS are listed in [`ServicePlan::dns_omitted`]
//!   (and were reported as `dns-name-too-long`), so the DNS target never meets one.
//!
//! What kube-proxy does with a Service port in one address family (the chains serving
//! internal and external traffic, masquerading, drop or reject) is decided from the plan by
//! [`view`], once, for every dataplane target and for `svcc trace`.

pub mod allocate;
pub mod dns;
pub mod family;
pub mod lower;
mod no_endpoints;
pub mod view;

pub use family::Family;
pub use lower::{lower, LowerOptions};

use crate::source::Span;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// Version of the plan's JSON shape (`svcc compile --target plan`).
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub cluster: ClusterPlan,
    pub services: Vec<ServicePlan>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterPlan {
    pub cluster_domain: String,
    pub service_cidrs: Vec<IpNet>,
    pub node_port_range: (u16, u16),
    /// The node the plan is for (`--node`): decides which endpoints are local.
    pub node: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lower-case name, as nft and kube-proxy's chain names write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Where a plan entry came from, for explanations and traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Shared by every origin in the same object (a slice names a hundred endpoints).
    pub kind: Arc<str>,
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    /// Field path in API-server notation.
    pub path: String,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIp {
    pub ip: IpAddr,
    pub allocated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePort {
    pub port: u16,
    pub allocated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicePlan {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    pub headless: bool,
    /// Primary family first.
    pub cluster_ips: Vec<ClusterIp>,
    /// ExternalName target, without a trailing dot.
    pub external_name: Option<String>,
    pub external_ips: Vec<IpAddr>,
    /// `spec.loadBalancerIP` and `status.loadBalancer.ingress[].ip` (not `ipMode: Proxy`).
    pub load_balancer_ips: Vec<IpAddr>,
    pub source_ranges: Vec<IpNet>,
    /// ClientIP affinity timeout in seconds.
    pub affinity_timeout: Option<u32>,
    pub external_traffic_local: bool,
    pub internal_traffic_local: bool,
    pub health_check_node_port: Option<u16>,
    pub publish_not_ready_addresses: bool,
    pub ports: Vec<PortPlan>,
    /// Every endpoint address of the Service, whatever the port (DNS answers for headless
    /// Services, ports or not), sorted by IP, unique. Empty in a plan lowered for a dataplane
    /// target only (`LowerOptions::dataplane_only`).
    pub addresses: Vec<Address>,
    /// The Service's DNS names that cannot be written (see [`dns`]); empty for almost every
    /// Service, and then left out of the JSON.
    #[serde(default, skip_serializing_if = "DnsOmitted::is_empty")]
    pub dns_omitted: DnsOmitted,
    pub origin: Origin,
}

/// An endpoint address as DNS sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub ip: IpAddr,
    pub ready: bool,
    pub hostname: Option<String>,
    /// The ports the endpoint objects list with this address (EndpointSlice or Endpoints
    /// `ports`, named or not; for selected Pods, the Service's ports resolved on the Pod),
    /// sorted, unique. They name a headless Service's SRV records. Empty: the endpoint has no
    /// port, and gets address records only.
    #[serde(default)]
    pub ports: Vec<AddressPort>,
}

/// A port of an endpoint address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AddressPort {
    /// `""` when unnamed.
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

/// DNS names of a Service that cannot exist (a label over 63 octets, a name over 255 on the
/// wire): lowering reported each as `dns-name-too-long`; the zone leaves them out, with every
/// record that names them (SRV targets, PTRs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsOmitted {
    /// `<name>.<namespace>.svc.<domain>`: the Service has no record at all.
    #[serde(default)]
    pub service: bool,
    /// The ExternalName target: no CNAME.
    #[serde(default)]
    pub external_name: bool,
    /// SRV names `_<port>._<protocol>.<service>`, by port name and protocol.
    #[serde(default)]
    pub srv: Vec<(String, Protocol)>,
    /// Endpoint names `<hostname or dashed IP>.<service>`, by address.
    #[serde(default)]
    pub endpoints: Vec<IpAddr>,
}

impl DnsOmitted {
    pub fn is_empty(&self) -> bool {
        *self == DnsOmitted::default()
    }

    /// Whether the SRV name of this port is left out.
    pub fn srv(&self, name: &str, protocol: Protocol) -> bool {
        self.srv.iter().any(|(n, p)| n == name && *p == protocol)
    }

    /// Whether the endpoint name of this address is left out.
    pub fn endpoint(&self, ip: IpAddr) -> bool {
        self.endpoints.contains(&ip)
    }
}

impl ServicePlan {
    /// `namespace/name`, as kube-proxy's names and comments write it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// NodePort traffic, externalIPs or LoadBalancer IPs reach it.
    pub fn is_externally_accessible(&self) -> bool {
        self.ports.iter().any(|p| p.node_port.is_some())
            || !self.external_ips.is_empty()
            || !self.load_balancer_ips.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortPlan {
    /// Service port name (`""` when the only port is unnamed).
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
    pub node_port: Option<NodePort>,
    pub endpoints: Vec<Endpoint>,
    /// Indices into `endpoints` used for Cluster traffic policy.
    pub cluster: Vec<usize>,
    /// Indices into `endpoints` used for Local traffic policy (on `--node`).
    pub local: Vec<usize>,
    pub origin: Origin,
}

impl PortPlan {
    /// Any ready, or serving and terminating, endpoint anywhere (kube-proxy's `hasEndpoints`).
    pub fn has_endpoints(&self) -> bool {
        !self.cluster.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node_name: Option<String>,
    /// DNS hostname (EndpointSlice/Endpoints `hostname`, or the Pod's `hostname`).
    pub hostname: Option<String>,
    pub origin: Origin,
}

impl Endpoint {
    /// `ip:port` (`[ip]:port` for IPv6), kube-proxy's sort key.
    pub fn key(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }
}

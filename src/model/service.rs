//! The Service, with the API server's defaults applied (`docs/reference/validation.md` §6) and
//! `clusterIPs` normalised from `clusterIP` as the REST layer does on create.

use super::decode::*;
use crate::source::tree::Node;
use crate::source::Span;

#[derive(Clone, Debug)]
pub struct ServicePort {
    pub span: Span,
    pub name: Option<Spanned<String>>,
    /// Defaulted to `TCP`.
    pub protocol: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    /// As written (`None`, `0` and `""` all mean "same as port").
    pub target_port: Option<Spanned<IntOrStr>>,
    pub node_port: Option<Spanned<i64>>,
    pub app_protocol: Option<Spanned<String>>,
}

impl ServicePort {
    /// The targetPort after defaulting: the port number when unset.
    pub fn effective_target(&self) -> Option<IntOrStr> {
        match self.target_port.as_ref().map(|t| &t.value) {
            Some(IntOrStr::Int(0)) | None => self.port.as_ref().map(|p| IntOrStr::Int(p.value)),
            Some(IntOrStr::Str(s)) if s.is_empty() => {
                self.port.as_ref().map(|p| IntOrStr::Int(p.value))
            }
            Some(t) => Some(t.clone()),
        }
    }

    pub fn name_str(&self) -> &str {
        self.name.as_ref().map_or("", |n| n.value.as_str())
    }
}

#[derive(Clone, Debug, Default)]
pub struct LoadBalancerIngress {
    pub ip: Option<Spanned<String>>,
    pub hostname: Option<Spanned<String>>,
    /// `VIP` (the default) or `Proxy`.
    pub ip_mode: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Service {
    /// Span of `spec` (or of the object when `spec` is absent).
    pub spec_span: Span,
    /// Defaulted to `ClusterIP`.
    pub service_type: Spanned<String>,
    pub cluster_ip: Option<Spanned<String>>,
    /// After normalisation: `[clusterIP]` when only `clusterIP` was given.
    pub cluster_ips: Vec<Spanned<String>>,
    /// True when `clusterIPs` was written in the manifest.
    pub cluster_ips_written: bool,
    pub ip_families: Vec<Spanned<String>>,
    pub ip_family_policy: Option<Spanned<String>>,
    pub ports: Vec<ServicePort>,
    pub selector: StrMap,
    /// Defaulted to `None`.
    pub session_affinity: Spanned<String>,
    /// Defaulted to 10800 for `ClientIP`; `None` otherwise.
    pub affinity_timeout: Option<Spanned<i64>>,
    /// Where `spec.sessionAffinityConfig` is written, if it is.
    pub session_affinity_config: Option<Span>,
    pub external_ips: Vec<Spanned<String>>,
    pub external_name: Option<Spanned<String>>,
    /// As written; see [`Service::external_traffic_policy`] for the defaulted value.
    pub external_traffic_policy_written: Option<Spanned<String>>,
    pub internal_traffic_policy_written: Option<Spanned<String>>,
    pub health_check_node_port: Option<Spanned<i64>>,
    pub load_balancer_ip: Option<Spanned<String>>,
    pub load_balancer_source_ranges: Vec<Spanned<String>>,
    pub load_balancer_source_ranges_span: Option<Span>,
    pub load_balancer_class: Option<Spanned<String>>,
    pub allocate_load_balancer_node_ports: Option<Spanned<bool>>,
    pub publish_not_ready_addresses: bool,
    pub traffic_distribution: Option<Spanned<String>>,
    pub load_balancer_ingress: Vec<LoadBalancerIngress>,
}

impl Service {
    pub fn type_is(&self, t: &str) -> bool {
        self.service_type.value == t
    }

    /// `clusterIP: None` (the API server's test: exactly one clusterIPs entry, `None`).
    pub fn is_headless(&self) -> bool {
        self.cluster_ips.len() == 1 && self.cluster_ips[0].value == "None"
    }

    pub fn is_external_name(&self) -> bool {
        self.type_is("ExternalName")
    }

    /// A selector-less Service: no selector or `selector: {}`.
    pub fn has_selector(&self) -> bool {
        !self.selector.is_empty()
    }

    /// NodePort, LoadBalancer, or ClusterIP with externalIPs (`pkg/api/service/util.go`).
    pub fn is_externally_accessible(&self) -> bool {
        self.type_is("LoadBalancer")
            || self.type_is("NodePort")
            || (self.type_is("ClusterIP") && !self.external_ips.is_empty())
    }

    /// NodePort, or LoadBalancer unless `allocateLoadBalancerNodePorts: false`.
    pub fn allocates_node_ports(&self) -> bool {
        self.type_is("NodePort")
            || (self.type_is("LoadBalancer")
                && self
                    .allocate_load_balancer_node_ports
                    .as_ref()
                    .is_none_or(|a| a.value))
    }

    /// `Cluster` unless written, for externally accessible Services.
    pub fn external_traffic_policy(&self) -> Option<&str> {
        match &self.external_traffic_policy_written {
            Some(p) => Some(p.value.as_str()),
            None if self.is_externally_accessible() => Some("Cluster"),
            None => None,
        }
    }

    /// `Cluster` unless written, for every type but ExternalName.
    pub fn internal_traffic_policy(&self) -> Option<&str> {
        match &self.internal_traffic_policy_written {
            Some(p) => Some(p.value.as_str()),
            None if !self.is_external_name() => Some("Cluster"),
            None => None,
        }
    }
}

pub fn decode(root: &Node) -> Service {
    let spec = map_at(root, "spec");
    let spec_span = spec.map_or(root.span, |s| s.span);
    let empty = Node::new(spec_span, crate::source::tree::Value::Map(Vec::new()));
    let spec = spec.unwrap_or(&empty);

    let service_type = nonempty_str_at(spec, "type")
        .unwrap_or_else(|| Spanned::new("ClusterIP".to_owned(), spec_span));
    let cluster_ip = nonempty_str_at(spec, "clusterIP");
    let written_ips = str_list_at(spec, "clusterIPs");
    let cluster_ips_written = !written_ips.is_empty();
    let cluster_ips = match (&cluster_ip, written_ips.is_empty()) {
        (Some(ip), true) => vec![ip.clone()],
        _ => written_ips,
    };
    let session_affinity = nonempty_str_at(spec, "sessionAffinity")
        .unwrap_or_else(|| Spanned::new("None".to_owned(), spec_span));
    let affinity_timeout = if session_affinity.value == "ClientIP" {
        let written = map_at(spec, "sessionAffinityConfig")
            .and_then(|c| map_at(c, "clientIP"))
            .and_then(|c| int_at(c, "timeoutSeconds"));
        Some(written.unwrap_or_else(|| Spanned::new(10800, session_affinity.span)))
    } else {
        None
    };
    let session_affinity_config = spec.get("sessionAffinityConfig").map(|c| c.span);
    let ports = seq_at(spec, "ports").iter().map(decode_port).collect();
    let load_balancer_ingress = map_at(root, "status")
        .and_then(|s| map_at(s, "loadBalancer"))
        .map(|lb| {
            seq_at(lb, "ingress")
                .iter()
                .map(|i| LoadBalancerIngress {
                    ip: nonempty_str_at(i, "ip"),
                    hostname: nonempty_str_at(i, "hostname"),
                    ip_mode: nonempty_str_at(i, "ipMode"),
                })
                .collect()
        })
        .unwrap_or_default();

    Service {
        spec_span,
        service_type,
        cluster_ip,
        cluster_ips,
        cluster_ips_written,
        ip_families: str_list_at(spec, "ipFamilies"),
        ip_family_policy: nonempty_str_at(spec, "ipFamilyPolicy"),
        ports,
        selector: str_map_at(spec, "selector"),
        session_affinity,
        affinity_timeout,
        session_affinity_config,
        external_ips: str_list_at(spec, "externalIPs"),
        external_name: str_at(spec, "externalName"),
        external_traffic_policy_written: nonempty_str_at(spec, "externalTrafficPolicy"),
        internal_traffic_policy_written: nonempty_str_at(spec, "internalTrafficPolicy"),
        health_check_node_port: nonzero_int_at(spec, "healthCheckNodePort"),
        load_balancer_ip: nonempty_str_at(spec, "loadBalancerIP"),
        load_balancer_source_ranges: str_list_at(spec, "loadBalancerSourceRanges"),
        load_balancer_source_ranges_span: spec.get("loadBalancerSourceRanges").map(|n| n.span),
        load_balancer_class: str_at(spec, "loadBalancerClass"),
        allocate_load_balancer_node_ports: bool_at(spec, "allocateLoadBalancerNodePorts"),
        publish_not_ready_addresses: bool_at(spec, "publishNotReadyAddresses")
            .is_some_and(|b| b.value),
        traffic_distribution: str_at(spec, "trafficDistribution"),
        load_balancer_ingress,
    }
}

fn decode_port(node: &Node) -> ServicePort {
    ServicePort {
        span: node.span,
        name: nonempty_str_at(node, "name"),
        protocol: nonempty_str_at(node, "protocol")
            .unwrap_or_else(|| Spanned::new("TCP".to_owned(), node.span)),
        port: int_at(node, "port"),
        target_port: int_or_str_at(node, "targetPort"),
        node_port: nonzero_int_at(node, "nodePort"),
        app_protocol: str_at(node, "appProtocol"),
    }
}

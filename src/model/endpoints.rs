//! Endpoints (core/v1) and EndpointSlice (discovery.k8s.io/v1), with defaults applied.

use super::decode::*;
use crate::source::tree::Node;
use crate::source::Span;

#[derive(Clone, Debug)]
pub struct EndpointPort {
    pub span: Span,
    pub name: Option<Spanned<String>>,
    /// `None` in an EndpointSlice means "all ports".
    pub port: Option<Spanned<i64>>,
    /// Defaulted to `TCP`.
    pub protocol: Spanned<String>,
    pub app_protocol: Option<Spanned<String>>,
}

impl EndpointPort {
    pub fn name_str(&self) -> &str {
        self.name.as_ref().map_or("", |n| n.value.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct EndpointAddress {
    pub span: Span,
    pub ip: Option<Spanned<String>>,
    pub hostname: Option<Spanned<String>>,
    pub node_name: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct Subset {
    pub span: Span,
    pub addresses: Vec<EndpointAddress>,
    pub not_ready_addresses: Vec<EndpointAddress>,
    pub ports: Vec<EndpointPort>,
}

#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub subsets: Vec<Subset>,
}

#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct SliceEndpoint {
    pub span: Span,
    pub addresses: Vec<Spanned<String>>,
    pub addresses_span: Option<Span>,
    pub conditions: Conditions,
    pub hostname: Option<Spanned<String>>,
    pub node_name: Option<Spanned<String>>,
    pub zone: Option<Spanned<String>>,
    pub deprecated_topology: StrMap,
    pub hint_zones: Vec<Spanned<String>>,
    pub hint_zones_span: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct EndpointSlice {
    pub address_type: Option<Spanned<String>>,
    pub endpoints: Vec<SliceEndpoint>,
    pub endpoints_span: Option<Span>,
    pub ports: Vec<EndpointPort>,
    pub ports_span: Option<Span>,
}

pub fn decode_endpoints(root: &Node) -> Endpoints {
    Endpoints {
        subsets: seq_at(root, "subsets")
            .iter()
            .map(|s| Subset {
                span: s.span,
                addresses: seq_at(s, "addresses").iter().map(decode_address).collect(),
                not_ready_addresses: seq_at(s, "notReadyAddresses")
                    .iter()
                    .map(decode_address)
                    .collect(),
                ports: seq_at(s, "ports").iter().map(decode_port).collect(),
            })
            .collect(),
    }
}

fn decode_address(n: &Node) -> EndpointAddress {
    EndpointAddress {
        span: n.span,
        ip: str_at(n, "ip"),
        hostname: nonempty_str_at(n, "hostname"),
        node_name: nonempty_str_at(n, "nodeName"),
    }
}

fn decode_port(n: &Node) -> EndpointPort {
    EndpointPort {
        span: n.span,
        name: nonempty_str_at(n, "name"),
        port: int_at(n, "port"),
        protocol: nonempty_str_at(n, "protocol")
            .unwrap_or_else(|| Spanned::new("TCP".to_owned(), n.span)),
        app_protocol: str_at(n, "appProtocol"),
    }
}

pub fn decode_slice(root: &Node) -> EndpointSlice {
    EndpointSlice {
        address_type: str_at(root, "addressType"),
        endpoints: seq_at(root, "endpoints")
            .iter()
            .map(decode_slice_endpoint)
            .collect(),
        endpoints_span: root.get("endpoints").map(|n| n.span),
        ports: seq_at(root, "ports").iter().map(decode_port).collect(),
        ports_span: root.get("ports").map(|n| n.span),
    }
}

fn decode_slice_endpoint(n: &Node) -> SliceEndpoint {
    let conditions = map_at(n, "conditions")
        .map(|c| Conditions {
            ready: bool_at(c, "ready").map(|b| b.value),
            serving: bool_at(c, "serving").map(|b| b.value),
            terminating: bool_at(c, "terminating").map(|b| b.value),
        })
        .unwrap_or_default();
    let hints = map_at(n, "hints");
    let hint_zones_node = hints.and_then(|h| h.get("forZones"));
    SliceEndpoint {
        span: n.span,
        addresses: str_list_at(n, "addresses"),
        addresses_span: n.get("addresses").map(|a| a.span),
        conditions,
        hostname: nonempty_str_at(n, "hostname"),
        node_name: nonempty_str_at(n, "nodeName"),
        zone: nonempty_str_at(n, "zone"),
        deprecated_topology: str_map_at(n, "deprecatedTopology"),
        hint_zones: hint_zones_node
            .map(|z| {
                z.as_seq()
                    .iter()
                    .filter_map(|item| str_at(item, "name"))
                    .collect()
            })
            .unwrap_or_default(),
        hint_zones_span: hint_zones_node.map(|z| z.span),
    }
}

//! Endpoints (EP-2 … EP-10) and EndpointSlices (ES-2 … ES-14).

use super::{check_app_protocol, check_port_number, check_protocol, invalid, unsupported};
use crate::check::Sink;
use crate::diag::Diagnostic;
use crate::model::endpoints::{EndpointAddress, EndpointPort, EndpointSlice, Endpoints};
use crate::model::Spanned;
use crate::source::Span;
use crate::syntax;
use std::collections::HashMap;

pub fn check_endpoints(ep: &Endpoints, sink: &mut Sink) {
    for (i, subset) in ep.subsets.iter().enumerate() {
        if subset.addresses.is_empty() && subset.not_ready_addresses.is_empty() {
            sink.report(
                Diagnostic::new(
                    "endpoints-subset-empty",
                    subset.span,
                    format!("subset {i} has no addresses"),
                )
                .label("must specify `addresses` or `notReadyAddresses`")
                .path(format!("subsets[{i}]")),
            );
        }
        for (field, list) in [
            ("addresses", &subset.addresses),
            ("notReadyAddresses", &subset.not_ready_addresses),
        ] {
            for (j, a) in list.iter().enumerate() {
                check_address(sink, a, &format!("subsets[{i}].{field}[{j}]"));
            }
        }
        let many = subset.ports.len() > 1;
        for (k, p) in subset.ports.iter().enumerate() {
            let path = format!("subsets[{i}].ports[{k}]");
            if p.name.is_none() && many {
                sink.report(
                    Diagnostic::new(
                        "port-name-required",
                        p.span,
                        format!(
                            "port {k} of subset {i} has no name, but the subset has {} ports",
                            subset.ports.len()
                        ),
                    )
                    .label("`name` is required when there is more than one port")
                    .path(format!("{path}.name")),
                );
            }
            check_port(sink, p, &path, true);
        }
    }
}

fn check_address(sink: &mut Sink, a: &EndpointAddress, path: &str) {
    match &a.ip {
        None => {}
        Some(ip) => check_endpoint_ip(sink, ip, &format!("{path}.ip"), None),
    }
    if let Some(h) = &a.hostname {
        let problems = syntax::dns1123_label(&h.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-hostname",
                h.span,
                format!("{path}.hostname"),
                "hostname",
                &h.value,
                &problems,
            ));
        }
    }
    if let Some(n) = &a.node_name {
        check_node_name(sink, n, &format!("{path}.nodeName"));
    }
}

fn check_node_name(sink: &mut Sink, n: &Spanned<String>, path: &str) {
    let problems = syntax::dns1123_subdomain(&n.value);
    if !problems.is_empty() {
        sink.report(invalid(
            "invalid-node-name",
            n.span,
            path.to_owned(),
            "nodeName",
            &n.value,
            &problems,
        ));
    }
}

/// An endpoint IP: strict syntax, the family of the slice when given, no special ranges.
fn check_endpoint_ip(sink: &mut Sink, ip: &Spanned<String>, path: &str, family: Option<&str>) {
    match syntax::parse_ip(&ip.value) {
        Err(p) => {
            let detail = match family {
                Some("IPv4") => "must be a valid IPv4 address".to_owned(),
                Some("IPv6") => "must be a valid IPv6 address".to_owned(),
                _ => syntax::ip_problem_message(&p),
            };
            let detail = match p {
                syntax::IpProblem::Ambiguous(why) => why.to_owned(),
                syntax::IpProblem::Invalid => detail,
            };
            sink.report(invalid(
                "invalid-endpoint-address",
                ip.span,
                path.to_owned(),
                "endpoint address",
                &ip.value,
                &[detail],
            ));
        }
        Ok((addr, canonical)) => {
            if let Some(f) = family {
                if syntax::family(addr) != f {
                    sink.report(invalid(
                        "invalid-endpoint-address",
                        ip.span,
                        path.to_owned(),
                        "endpoint address",
                        &ip.value,
                        &[format!("must be a valid {f} address")],
                    ));
                    return;
                }
            }
            if let Some(why) = syntax::special_ip(addr) {
                sink.report(invalid(
                    "invalid-endpoint-address",
                    ip.span,
                    path.to_owned(),
                    "endpoint address",
                    &ip.value,
                    &[why],
                ));
            } else if !canonical {
                sink.report(
                    Diagnostic::new(
                        "non-canonical-ip",
                        ip.span,
                        format!("`{}` is not written in canonical form", ip.value),
                    )
                    .label(format!("canonical form: `{addr}`"))
                    .path(path.to_owned())
                    .help(format!("write `{addr}`")),
                );
            }
        }
    }
}

fn check_port(sink: &mut Sink, p: &EndpointPort, path: &str, number_required: bool) {
    if let Some(name) = &p.name {
        let problems = syntax::dns1123_label(&name.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-port-name",
                name.span,
                format!("{path}.name"),
                "port name",
                &name.value,
                &problems,
            ));
        }
    }
    match &p.port {
        Some(port) => {
            check_port_number(sink, port.value, port.span, format!("{path}.port"), "port")
        }
        None if number_required => {}
        None => {}
    }
    check_protocol(
        sink,
        &p.protocol.value,
        p.protocol.span,
        format!("{path}.protocol"),
    );
    if let Some(app) = &p.app_protocol {
        check_app_protocol(sink, &app.value, app.span, format!("{path}.appProtocol"));
    }
}

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20_000;
const MAX_TOPOLOGY: usize = 16;
const MAX_HINT_ZONES: usize = 8;

fn too_many(span: Span, path: String, what: &str, n: usize, max: usize) -> Diagnostic {
    Diagnostic::new(
        "too-many-items",
        span,
        format!("{n} {what}; at most {max} are allowed"),
    )
    .label("too many")
    .path(path)
}

pub fn check_slice(slice: &EndpointSlice, sink: &mut Sink) {
    let family = match &slice.address_type {
        Some(t) if ["FQDN", "IPv4", "IPv6"].contains(&t.value.as_str()) => Some(t.value.as_str()),
        Some(t) => {
            let mut d = unsupported(
                "invalid-address-type",
                t.span,
                "addressType",
                "addressType",
                &t.value,
                &["FQDN", "IPv4", "IPv6"],
            );
            if t.value == "IP" {
                d = d.help("the deprecated `IP` type was replaced by `IPv4` and `IPv6`");
            }
            sink.report(d);
            None
        }
        None => None,
    };
    if slice.endpoints.len() > MAX_ENDPOINTS {
        sink.report(too_many(
            slice.endpoints_span.unwrap_or_default(),
            "endpoints".into(),
            "endpoints",
            slice.endpoints.len(),
            MAX_ENDPOINTS,
        ));
    } else {
        for (i, e) in slice.endpoints.iter().enumerate() {
            let path = format!("endpoints[{i}]");
            if e.addresses.is_empty() {
                sink.report(
                    Diagnostic::new(
                        "endpoint-addresses-required",
                        e.addresses_span.unwrap_or(e.span),
                        format!("endpoint {i} has no addresses"),
                    )
                    .label("must contain at least 1 address")
                    .path(format!("{path}.addresses")),
                );
            } else if e.addresses.len() > MAX_ADDRESSES {
                sink.report(too_many(
                    e.addresses_span.unwrap_or(e.span),
                    format!("{path}.addresses"),
                    "addresses",
                    e.addresses.len(),
                    MAX_ADDRESSES,
                ));
            }
            for (j, a) in e.addresses.iter().enumerate() {
                let apath = format!("{path}.addresses[{j}]");
                match family {
                    Some("FQDN") => check_fqdn(sink, a, &apath),
                    Some(f) => check_endpoint_ip(sink, a, &apath, Some(f)),
                    None => {}
                }
            }
            if let Some(n) = &e.node_name {
                check_node_name(sink, n, &format!("{path}.nodeName"));
            }
            if let Some(h) = &e.hostname {
                let problems = syntax::dns1123_label(&h.value);
                if !problems.is_empty() {
                    sink.report(invalid(
                        "invalid-hostname",
                        h.span,
                        format!("{path}.hostname"),
                        "hostname",
                        &h.value,
                        &problems,
                    ));
                }
            }
            check_topology(sink, e, &path);
        }
    }
    if slice.ports.len() > MAX_PORTS {
        sink.report(too_many(
            slice.ports_span.unwrap_or_default(),
            "ports".into(),
            "ports",
            slice.ports.len(),
            MAX_PORTS,
        ));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, p) in slice.ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        check_port(sink, p, &path, false);
        let name = p.name_str();
        if let Some(&first) = names.get(name) {
            let span = p.name.as_ref().map_or(p.span, |n| n.span);
            let shown = if name.is_empty() {
                "(empty)".to_owned()
            } else {
                format!("`{name}`")
            };
            sink.report(
                Diagnostic::new(
                    "duplicate-port-name",
                    span,
                    format!("port name {shown} is used twice"),
                )
                .label("used again here")
                .related(slice.ports[first].span, "first used here")
                .path(format!("{path}.name")),
            );
        } else {
            names.insert(name, i);
        }
    }
}

fn check_fqdn(sink: &mut Sink, a: &Spanned<String>, path: &str) {
    let v = a.value.strip_suffix('.').unwrap_or(&a.value);
    let mut problems = syntax::dns1123_subdomain(v);
    if problems.is_empty() && !v.contains('.') {
        problems.push("must contain at least 2 labels".to_owned());
    }
    if !problems.is_empty() {
        sink.report(invalid(
            "invalid-endpoint-address",
            a.span,
            path.to_owned(),
            "FQDN endpoint address",
            &a.value,
            &problems,
        ));
    }
}

fn check_topology(sink: &mut Sink, e: &crate::model::endpoints::SliceEndpoint, path: &str) {
    let topo = &e.deprecated_topology;
    if topo.len() > MAX_TOPOLOGY {
        sink.report(too_many(
            topo.span.unwrap_or(e.span),
            format!("{path}.deprecatedTopology"),
            "topology labels",
            topo.len(),
            MAX_TOPOLOGY,
        ));
    }
    for (k, v) in &topo.entries {
        let kpath = format!("{path}.deprecatedTopology[{}]", k.value);
        if k.value == "topology.kubernetes.io/zone" {
            sink.report(
                Diagnostic::new(
                    "invalid-topology",
                    k.span,
                    "`topology.kubernetes.io/zone` in `deprecatedTopology`",
                )
                .label("moved to the `zone` field")
                .path(kpath.clone())
                .help("set `zone` on the endpoint instead"),
            );
        }
        let mut problems = syntax::qualified_name(&k.value);
        problems.extend(syntax::label_value(&v.value));
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-topology",
                k.span,
                kpath,
                "topology label",
                &format!("{}={}", k.value, v.value),
                &problems,
            ));
        }
    }
    if e.hint_zones.len() > MAX_HINT_ZONES {
        sink.report(too_many(
            e.hint_zones_span.unwrap_or(e.span),
            format!("{path}.hints.forZones"),
            "zone hints",
            e.hint_zones.len(),
            MAX_HINT_ZONES,
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (z, zone) in e.hint_zones.iter().enumerate() {
        let zpath = format!("{path}.hints.forZones[{z}].name");
        if seen.contains(&zone.value.as_str()) {
            sink.report(
                Diagnostic::new(
                    "invalid-topology",
                    zone.span,
                    format!("zone hint `{}` is listed twice", zone.value),
                )
                .label("duplicate")
                .path(zpath.clone()),
            );
        }
        seen.push(&zone.value);
        let problems = syntax::label_value(&zone.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-topology",
                zone.span,
                zpath,
                "zone hint",
                &zone.value,
                &problems,
            ));
        }
    }
}

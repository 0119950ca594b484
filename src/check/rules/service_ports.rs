//! `spec.ports`: names, numbers, protocols, targetPorts, appProtocols and in-Service duplicates
//! (SVC-P1 … SVC-P11).

use super::{check_app_protocol, check_port_number, check_protocol, invalid};
use crate::check::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::service::Service;
use crate::model::IntOrStr;
use crate::syntax;
use std::collections::HashMap;

pub fn check(_ctx: &Context, svc: &Service, sink: &mut Sink) {
    if svc.ports.is_empty() && !svc.is_headless() && !svc.is_external_name() {
        sink.report(
            Diagnostic::new("ports-required", svc.spec_span, "Service has no ports")
                .label("`spec.ports` is required")
                .path("spec.ports")
                .help("add at least one port, or make the Service headless (`clusterIP: None`) or ExternalName"),
        );
    }
    let many = svc.ports.len() > 1;
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<(&str, i64), usize> = HashMap::new();
    for (i, p) in svc.ports.iter().enumerate() {
        let at = |field: &str| format!("spec.ports[{i}].{field}");
        match &p.name {
            None if many => sink.report(
                Diagnostic::new(
                    "port-name-required",
                    p.span,
                    format!(
                        "port {i} has no name, but the Service has {} ports",
                        svc.ports.len()
                    ),
                )
                .label("`name` is required when there is more than one port")
                .path(at("name")),
            ),
            None => {}
            Some(name) => {
                let problems = syntax::dns1123_label(&name.value);
                if !problems.is_empty() {
                    sink.report(invalid(
                        "invalid-port-name",
                        name.span,
                        at("name"),
                        "port name",
                        &name.value,
                        &problems,
                    ));
                }
                if let Some(&first) = names.get(name.value.as_str()) {
                    let first_span = svc.ports[first]
                        .name
                        .as_ref()
                        .map_or(svc.ports[first].span, |n| n.span);
                    sink.report(
                        Diagnostic::new(
                            "duplicate-port-name",
                            name.span,
                            format!("port name `{}` is used twice", name.value),
                        )
                        .label("used again here")
                        .related(first_span, "first used here")
                        .path(at("name")),
                    );
                } else {
                    names.insert(&name.value, i);
                }
            }
        }
        if let Some(port) = &p.port {
            check_port_number(sink, port.value, port.span, at("port"), "port");
            let key = (p.protocol.value.as_str(), port.value);
            if let Some(&first) = numbers.get(&key) {
                let first_span = svc.ports[first]
                    .port
                    .as_ref()
                    .map_or(svc.ports[first].span, |n| n.span);
                sink.report(
                    Diagnostic::new(
                        "duplicate-port",
                        port.span,
                        format!("port {}/{} is defined twice", port.value, p.protocol.value),
                    )
                    .label("defined again here")
                    .related(first_span, "first defined here")
                    .path(format!("spec.ports[{i}]")),
                );
            } else {
                numbers.insert(key, i);
            }
        }
        check_protocol(sink, &p.protocol.value, p.protocol.span, at("protocol"));
        if let Some(t) = &p.target_port {
            match &t.value {
                IntOrStr::Int(0) => {}
                IntOrStr::Int(n) => {
                    check_port_number(sink, *n, t.span, at("targetPort"), "targetPort")
                }
                IntOrStr::Str(s) if s.is_empty() => {}
                IntOrStr::Str(s) => {
                    let problems = syntax::iana_svc_name(s);
                    if !problems.is_empty() {
                        let mut d = invalid(
                            "invalid-target-port",
                            t.span,
                            at("targetPort"),
                            "targetPort name",
                            s,
                            &problems,
                        );
                        if s.parse::<u16>().is_ok() {
                            d = d.help(format!("a quoted number is a port *name*; write `targetPort: {s}` without quotes"));
                        }
                        sink.report(d);
                    }
                }
            }
        }
        if let Some(app) = &p.app_protocol {
            check_app_protocol(sink, &app.value, app.span, at("appProtocol"));
        }
    }
    check_node_port_duplicates(svc, sink);
}

/// The allocator looks a requested nodePort up by `port` number: two entries with different
/// `port`s asking for one nodePort fail (`provided port is already allocated`), whatever their
/// protocols; entries sharing a `port` (53/TCP + 53/UDP) may share it.
fn check_node_port_duplicates(svc: &Service, sink: &mut Sink) {
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (i, p) in svc.ports.iter().enumerate() {
        let Some(np) = &p.node_port else { continue };
        match seen.get(&np.value) {
            Some(&first) => {
                let other = &svc.ports[first];
                let same_port =
                    other.port.as_ref().map(|x| x.value) == p.port.as_ref().map(|x| x.value);
                if !same_port {
                    let first_span = other.node_port.as_ref().map_or(other.span, |n| n.span);
                    sink.report(
                        Diagnostic::new(
                            "duplicate-nodeport",
                            np.span,
                            format!(
                                "nodePort {} is already used by `spec.ports[{first}]` of this Service",
                                np.value
                            ),
                        )
                        .label("already allocated")
                        .related(first_span, "first used here")
                        .path(format!("spec.ports[{i}].nodePort"))
                        .help("ports may share a nodePort only when they share the `port` number (e.g. 53/TCP and 53/UDP)"),
                    );
                }
            }
            None => {
                seen.insert(np.value, i);
            }
        }
    }
}

//! Cluster-wide allocations that two Services cannot share: nodePorts (one allocator for all
//! protocols), health-check node ports, explicit clusterIPs, and externalIP:port/protocol.

use super::{describe, Findings};
use crate::check::syntax;
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::Model;
use crate::source::Span;
use std::collections::HashMap;
use std::net::IpAddr;

pub fn check(model: &Model, _links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    // nodePort → (object, span, spec.ports index or None for healthCheckNodePort)
    let mut node_ports: HashMap<i64, (usize, Span)> = HashMap::new();
    let mut cluster_ips: HashMap<IpAddr, (usize, Span)> = HashMap::new();
    let mut external: HashMap<(IpAddr, i64, String), (usize, Span)> = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(svc) = o.service() else { continue };
        if svc.type_is("NodePort") || svc.type_is("LoadBalancer") {
            let mut own: HashMap<i64, Option<i64>> = HashMap::new();
            for (p, port) in svc.ports.iter().enumerate() {
                let Some(np) = &port.node_port else { continue };
                // Ports of one Service sharing a `port` number share the nodePort; that case and
                // in-Service clashes are checked per object.
                if own
                    .insert(np.value, port.port.as_ref().map(|x| x.value))
                    .is_some()
                {
                    continue;
                }
                match node_ports.get(&np.value) {
                    Some(&(first, first_span)) if first != i => f.add(i, objects, Diagnostic::new(
                        "duplicate-nodeport",
                        np.span,
                        format!("nodePort {} is already used by {}", np.value, describe(&objects[first])),
                    )
                    .label("provided port is already allocated")
                    .related(first_span, "first used here")
                    .path(format!("spec.ports[{p}].nodePort"))
                    .help("node ports are allocated cluster-wide, whatever the protocol: pick another, or leave it out")),
                    Some(_) => {}
                    None => {
                        node_ports.insert(np.value, (i, np.span));
                    }
                }
            }
            if let Some(h) = &svc.health_check_node_port {
                if let Some(&(first, first_span)) = node_ports.get(&h.value) {
                    f.add(i, objects, Diagnostic::new(
                        "health-check-nodeport-conflict",
                        h.span,
                        format!("healthCheckNodePort {} is already a node port of {}", h.value, describe(&objects[first])),
                    )
                    .label("already allocated")
                    .related(first_span, "used here")
                    .path("spec.healthCheckNodePort")
                    .help("health-check ports come from the same range as nodePorts; pick another, or leave it out"));
                } else {
                    node_ports.insert(h.value, (i, h.span));
                }
            }
        }
        if !svc.is_external_name() && !svc.is_headless() {
            for (k, ip) in svc.cluster_ips.iter().enumerate() {
                let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
                    continue;
                };
                match cluster_ips.get(&addr) {
                    Some(&(first, first_span)) if first != i => f.add(
                        i,
                        objects,
                        Diagnostic::new(
                            "duplicate-cluster-ip",
                            ip.span,
                            format!(
                                "clusterIP {} is already used by {}",
                                ip.value,
                                describe(&objects[first])
                            ),
                        )
                        .label("already allocated")
                        .related(first_span, "first used here")
                        .path(if svc.cluster_ips_written {
                            format!("spec.clusterIPs[{k}]")
                        } else {
                            "spec.clusterIP".to_owned()
                        })
                        .help("remove `clusterIP` to let the cluster allocate a free address"),
                    ),
                    Some(_) => {}
                    None => {
                        cluster_ips.insert(addr, (i, ip.span));
                    }
                }
            }
        }
        for ip in &svc.external_ips {
            let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
                continue;
            };
            for port in &svc.ports {
                let Some(n) = &port.port else { continue };
                let key = (addr, n.value, port.protocol.value.clone());
                match external.get(&key) {
                    Some(&(first, first_span)) if first != i => f.add(
                        i,
                        objects,
                        Diagnostic::new(
                            "duplicate-external-ip",
                            ip.span,
                            format!(
                                "{}:{}/{} is already claimed by {}",
                                ip.value,
                                n.value,
                                port.protocol.value,
                                describe(&objects[first])
                            ),
                        )
                        .label("claimed twice")
                        .related(first_span, "first claimed here")
                        .path("spec.externalIPs")
                        .help(
                            "only one Service can receive traffic for an external address and port",
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        external.insert(key, (i, ip.span));
                    }
                }
            }
        }
    }
}

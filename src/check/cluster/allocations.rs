//! Cluster-wide allocations that two Services cannot share: nodePorts (one allocator for all
//! protocols), health-check node ports, explicit clusterIPs, and externalIP:port/protocol.
//!
//! Two Services conflict only when they are applied together (`link::scope`) and are not two
//! definitions of the same Service (an update keeps its own allocations).

use super::{describe, Findings};
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::Model;
use crate::source::Span;
use crate::syntax;
use std::collections::HashMap;
use std::net::IpAddr;

/// Who holds each value so far: every holder, so that a value can be checked against the
/// holders applied together with a new claim.
struct Holders<K> {
    by_value: HashMap<K, Vec<(usize, Span)>>,
}

impl<K: std::hash::Hash + Eq> Holders<K> {
    fn new() -> Self {
        Holders {
            by_value: HashMap::new(),
        }
    }

    /// Records that object `i` claims `value` at `span`, and returns the first earlier holder
    /// it conflicts with.
    fn claim(
        &mut self,
        value: K,
        i: usize,
        span: Span,
        model: &Model,
        links: &Links,
    ) -> Option<(usize, Span)> {
        let holders = self.by_value.entry(value).or_default();
        let objects = &model.objects;
        let conflict = holders.iter().copied().find(|&(h, _)| {
            h != i
                && !(links.namespace(h) == links.namespace(i)
                    && objects[h].name() == objects[i].name())
                && links.scopes.together(objects[h].file, objects[i].file)
        });
        if !holders.iter().any(|&(h, _)| h == i) {
            holders.push((i, span));
        }
        conflict
    }
}

pub fn check(model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    let mut node_ports: Holders<i64> = Holders::new();
    let mut cluster_ips: Holders<IpAddr> = Holders::new();
    let mut external: Holders<(IpAddr, i64, String)> = Holders::new();
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
                if let Some((first, first_span)) =
                    node_ports.claim(np.value, i, np.span, model, links)
                {
                    f.add(i, objects, Diagnostic::new(
                        "duplicate-nodeport",
                        np.span,
                        format!("nodePort {} is already used by {}", np.value, describe(&objects[first])),
                    )
                    .label("provided port is already allocated")
                    .related(first_span, "first used here")
                    .path(format!("spec.ports[{p}].nodePort"))
                    .help("node ports are allocated cluster-wide, whatever the protocol: pick another, or leave it out"));
                }
            }
            if let Some(h) = &svc.health_check_node_port {
                if let Some((first, first_span)) =
                    node_ports.claim(h.value, i, h.span, model, links)
                {
                    f.add(i, objects, Diagnostic::new(
                        "health-check-nodeport-conflict",
                        h.span,
                        format!("healthCheckNodePort {} is already a node port of {}", h.value, describe(&objects[first])),
                    )
                    .label("already allocated")
                    .related(first_span, "used here")
                    .path("spec.healthCheckNodePort")
                    .help("health-check ports come from the same range as nodePorts; pick another, or leave it out"));
                }
            }
        }
        if !svc.is_external_name() && !svc.is_headless() {
            for (k, ip) in svc.cluster_ips.iter().enumerate() {
                let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
                    continue;
                };
                if let Some((first, first_span)) = cluster_ips.claim(addr, i, ip.span, model, links)
                {
                    f.add(
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
                    );
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
                if let Some((first, first_span)) = external.claim(key, i, ip.span, model, links) {
                    f.add(
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
                    );
                }
            }
        }
    }
}

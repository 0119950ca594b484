//! Lowering: the checked, linked model to the [`Plan`].
//!
//! Every dataplane decision is made here, once: which addresses a Service answers on, which
//! endpoints back each port (EndpointSlices, else Endpoints, else selected Pods with a
//! `status.podIP`, as `kubectl get svc,endpointslices,pods -o yaml` dumps and hand-written
//! Endpoints both compile), which of them are usable under each traffic policy, and what the
//! missing clusterIPs and nodePorts are.

use super::allocate;
use super::dns;
use super::*;
use crate::config::Profile;
use crate::diag::Diagnostic;
use crate::link::{resolve_target, Links, Target};
use crate::model::endpoints::EndpointPort;
use crate::model::kinds::KindId;
use crate::model::service::{Service, ServicePort};
use crate::model::{Body, Model, Object};
use crate::syntax;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    /// The node the plan is for: its endpoints are local.
    pub node: Option<String>,
    /// The plan is for a dataplane target (nft, iptables), which never reads
    /// [`ServicePlan::addresses`]: they are left empty rather than gathered a second time.
    pub dataplane_only: bool,
}

/// A Service's port plans and its DNS addresses (with where their names come from), gathered
/// in parallel.
type Gathered = (Vec<Option<PortPlan>>, (Vec<Address>, dns::Sources));

/// Lowers the model. The caller has checked it: lowering assumes valid values and skips what
/// does not parse rather than failing. Returns the plan and its diagnostics: `info` notes for
/// allocations, and `no-endpoints-in-input` when the input has no endpoint source at all.
pub fn lower(
    model: &Model,
    links: &Links,
    profile: &Profile,
    options: &LowerOptions,
) -> (Plan, Vec<(usize, Diagnostic)>) {
    let objects = &model.objects;
    // A Service defined twice is lowered once, from its last definition (the one a cluster
    // applying the whole input ends with).
    let order: Vec<(&str, &str, usize)> = links.each_service().collect();
    let mut taken_ips: HashSet<IpAddr> = HashSet::new();
    let mut taken_ports: HashSet<u16> = HashSet::new();
    for &(_, _, i) in &order {
        let Some(svc) = objects[i].service() else {
            continue;
        };
        for ip in &svc.cluster_ips {
            if let Ok((addr, _)) = syntax::parse_ip(&ip.value) {
                taken_ips.insert(addr);
            }
        }
        for p in &svc.ports {
            if let Some(np) = p
                .node_port
                .as_ref()
                .and_then(|n| u16::try_from(n.value).ok())
            {
                taken_ports.insert(np);
            }
        }
        if let Some(h) = svc
            .health_check_node_port
            .as_ref()
            .and_then(|h| u16::try_from(h.value).ok())
        {
            taken_ports.insert(h);
        }
    }
    // Endpoints (the costly part) are gathered in parallel; addresses and nodePorts are then
    // allocated in Service order, which keeps allocation deterministic.
    let gathered: Vec<Gathered> = order
        .par_iter()
        .map(|&(_, _, i)| match objects[i].service() {
            None => (Vec::new(), Default::default()),
            Some(svc) => (
                svc.ports
                    .iter()
                    .map(|port| port_plan(i, port, svc, model, links, options))
                    .collect(),
                if options.dataplane_only {
                    Default::default()
                } else {
                    dns::addresses(i, svc, model, links)
                },
            ),
        })
        .collect();
    // DNS names are checked for a plan that DNS is rendered from, when the cluster domain can
    // name a zone at all (the DNS target refuses it otherwise).
    let check_dns = !options.dataplane_only && dns::check_domain(&profile.cluster_domain).is_ok();
    let mut diagnostics = Vec::new();
    let mut services = Vec::new();
    for (&(ns, name, i), (port_plans, (addresses, sources))) in order.iter().zip(gathered) {
        let o = &objects[i];
        let Some(svc) = o.service() else { continue };
        let source = OriginObject {
            kind: "Service".into(),
            namespace: ns.into(),
            name: name.into(),
        };
        let origin = |path: &str, span| source.at(path.to_owned(), span);
        let service = ServiceToLower {
            namespace: ns,
            name,
            object: o,
            service: svc,
        };
        // This Service's notes, tagged with its object below.
        let mut notes = Vec::new();
        let cluster_ips = cluster_ips(&service, profile, &mut taken_ips, &mut notes);
        let ports = svc
            .ports
            .iter()
            .zip(port_plans)
            .enumerate()
            .filter_map(|(p, (port, plan))| {
                let mut plan = plan?;
                plan.origin = origin(&format!("spec.ports[{p}]"), port.span);
                plan.node_port =
                    node_port(&service, p, port, profile, &mut taken_ports, &mut notes);
                Some(plan)
            })
            .collect::<Vec<_>>();
        diagnostics.extend(notes.into_iter().map(|d| (i, d)));
        // Ports sharing a `port` number share the allocated nodePort (53/TCP + 53/UDP).
        let ports = share_node_ports(ports);
        services.push(ServicePlan {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            service_type: match svc.service_type.value.as_str() {
                "NodePort" => ServiceType::NodePort,
                "LoadBalancer" => ServiceType::LoadBalancer,
                "ExternalName" => ServiceType::ExternalName,
                _ => ServiceType::ClusterIP,
            },
            headless: svc.is_headless(),
            cluster_ips,
            // An IP-valued externalName gets no record (CoreDNS serves nothing for it).
            external_name: svc
                .external_name
                .as_ref()
                .filter(|_| svc.is_external_name())
                .map(|n| n.value.trim_end_matches('.').to_owned())
                .filter(|n| syntax::parse_ip(n).is_err()),
            external_ips: if svc.is_headless() || svc.is_external_name() {
                Vec::new()
            } else {
                parse_ips(svc.external_ips.iter().map(|s| s.value.as_str()))
            },
            load_balancer_ips: load_balancer_ips(svc),
            source_ranges: svc
                .load_balancer_source_ranges
                .iter()
                .filter_map(|r| syntax::parse_cidr(r.value.trim()).ok().map(|(n, _)| n))
                .collect(),
            affinity_timeout: svc
                .affinity_timeout
                .as_ref()
                .filter(|_| !svc.is_headless())
                .and_then(|t| u32::try_from(t.value).ok()),
            external_traffic_local: svc.external_traffic_policy() == Some("Local"),
            internal_traffic_local: svc.internal_traffic_policy() == Some("Local"),
            health_check_node_port: svc
                .health_check_node_port
                .as_ref()
                .and_then(|h| u16::try_from(h.value).ok()),
            publish_not_ready_addresses: svc.publish_not_ready_addresses,
            ports,
            addresses,
            dns_omitted: DnsOmitted::default(),
            origin: origin("", o.head_span()),
        });
        if check_dns {
            let plan = services.last_mut().expect("just pushed");
            let (omitted, findings) =
                dns::check(plan, svc, i, model, &profile.cluster_domain, &sources);
            plan.dns_omitted = omitted;
            diagnostics.extend(findings);
        }
    }
    let plan = Plan {
        format: FORMAT,
        cluster: ClusterPlan {
            cluster_domain: profile.cluster_domain.clone(),
            service_cidrs: profile.service_cidrs.clone(),
            node_port_range: profile.node_port_range,
            node: options.node.clone(),
        },
        services,
    };
    diagnostics.extend(super::no_endpoints::check(model, links, &plan));
    (plan, diagnostics)
}

fn parse_ips<'a>(values: impl Iterator<Item = &'a str>) -> Vec<IpAddr> {
    values
        .filter_map(|v| syntax::parse_ip(v).ok().map(|(a, _)| a))
        .collect()
}

fn load_balancer_ips(svc: &Service) -> Vec<IpAddr> {
    if !svc.type_is("LoadBalancer") {
        return Vec::new();
    }
    let proxied: Vec<&str> = svc
        .load_balancer_ingress
        .iter()
        .filter(|i| i.ip_mode.as_ref().is_some_and(|m| m.value == "Proxy"))
        .filter_map(|i| i.ip.as_ref().map(|ip| ip.value.as_str()))
        .collect();
    let mut ips = parse_ips(
        svc.load_balancer_ip
            .iter()
            .map(|s| s.value.as_str())
            .chain(
                svc.load_balancer_ingress
                    .iter()
                    .filter_map(|i| i.ip.as_ref().map(|s| s.value.as_str())),
            )
            .filter(|ip| !proxied.contains(ip)),
    );
    ips.sort();
    ips.dedup();
    ips
}

/// The Service being lowered: the name it is lowered under (its last definition's), its
/// object and what was decoded from it. Allocation keys on the name and reports at the object.
#[derive(Clone, Copy)]
struct ServiceToLower<'a> {
    namespace: &'a str,
    name: &'a str,
    object: &'a Object,
    service: &'a Service,
}

/// The Service's cluster IPs: as written, or allocated for the families its policy asks for.
fn cluster_ips(
    service: &ServiceToLower,
    profile: &Profile,
    taken: &mut HashSet<IpAddr>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ClusterIp> {
    let ServiceToLower {
        namespace: ns,
        name,
        object: o,
        service: svc,
    } = *service;
    if svc.is_headless() || svc.is_external_name() {
        return Vec::new();
    }
    let written: Vec<ClusterIp> = parse_ips(svc.cluster_ips.iter().map(|s| s.value.as_str()))
        .into_iter()
        .map(|ip| ClusterIp {
            ip,
            allocated: false,
        })
        .collect();
    let policy = svc
        .ip_family_policy
        .as_ref()
        .map_or("SingleStack", |p| p.value.as_str());
    let mut families: Vec<&str> = if !svc.ip_families.is_empty() {
        svc.ip_families.iter().map(|f| f.value.as_str()).collect()
    } else if let Some(first) = written.first() {
        vec![syntax::family(first.ip)]
    } else {
        vec![profile.primary_family()]
    };
    if policy != "SingleStack" && profile.is_dual_stack() && families.len() == 1 {
        let other = if families[0] == "IPv4" {
            "IPv6"
        } else {
            "IPv4"
        };
        families.push(other);
    }
    let mut out = written;
    for family in families {
        if out.iter().any(|c| syntax::family(c.ip) == family) {
            continue;
        }
        let Some(cidr) = profile.cidr_for(family) else {
            continue;
        };
        let key = format!("{ns}/{name}/{family}");
        if let Some(ip) = allocate::cluster_ip(cidr, &key, taken) {
            diagnostics.push(
                Diagnostic::new("allocated-cluster-ip", o.head_span(), format!("Service `{ns}/{name}` gets clusterIP {ip}"))
                    .label("allocated: the manifest sets none")
                    .path("spec.clusterIP")
                    .object(o.object_ref())
                    .help("write `clusterIP` to pin the address; svcc allocates deterministically from the service CIDR"),
            );
            out.push(ClusterIp {
                ip,
                allocated: true,
            });
        }
    }
    out
}

/// The nodePort of port `p` of the Service: as written (for the types that have one), or
/// allocated when the Service's type asks for nodePorts.
fn node_port(
    service: &ServiceToLower,
    p: usize,
    port: &ServicePort,
    profile: &Profile,
    taken: &mut HashSet<u16>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<NodePort> {
    let ServiceToLower {
        namespace: ns,
        name,
        object: o,
        service: svc,
    } = *service;
    if let Some(np) = port
        .node_port
        .as_ref()
        .and_then(|n| u16::try_from(n.value).ok())
    {
        if svc.type_is("NodePort") || svc.type_is("LoadBalancer") {
            return Some(NodePort {
                port: np,
                allocated: false,
            });
        }
        return None;
    }
    if !svc.allocates_node_ports() {
        return None;
    }
    let number = port.port.as_ref()?.value;
    let key = format!("{ns}/{name}/{number}");
    let allocated = allocate::node_port(profile.node_port_range, &key, taken)?;
    diagnostics.push(
        Diagnostic::new(
            "allocated-node-port",
            port.span,
            format!("port {number} of Service `{ns}/{name}` gets nodePort {allocated}"),
        )
        .label("allocated: the manifest sets none")
        .path(format!("spec.ports[{p}].nodePort"))
        .object(o.object_ref())
        .help(
            "write `nodePort` to pin it; svcc allocates deterministically from the NodePort range",
        ),
    );
    Some(NodePort {
        port: allocated,
        allocated: true,
    })
}

/// Gives ports that share a `port` number the first one's allocated nodePort.
fn share_node_ports(mut ports: Vec<PortPlan>) -> Vec<PortPlan> {
    let mut by_number: BTreeMap<u16, NodePort> = BTreeMap::new();
    for p in &mut ports {
        match (p.node_port, by_number.get(&p.port)) {
            (Some(np), Some(first)) if np.allocated => p.node_port = Some(*first),
            (Some(np), None) => {
                by_number.insert(p.port, np);
            }
            _ => {}
        }
    }
    ports
}

/// One Service port's endpoints and their eligibility.
fn port_plan(
    i: usize,
    port: &ServicePort,
    svc: &Service,
    model: &Model,
    links: &Links,
    options: &LowerOptions,
) -> Option<PortPlan> {
    let number = u16::try_from(port.port.as_ref()?.value).ok()?;
    let protocol = Protocol::parse(&port.protocol.value)?;
    let sl = links.service_links.get(&i)?;
    let mut endpoints = collect(sl, port, model, links, &model.objects[i]);
    if svc.publish_not_ready_addresses {
        for e in &mut endpoints {
            e.ready = true;
            e.serving = true;
        }
    }
    // Sorted and made unique by the text key; each key is formatted once.
    let mut keyed: Vec<(String, Endpoint)> = endpoints.into_iter().map(|e| (e.key(), e)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let endpoints: Vec<Endpoint> = keyed.into_iter().map(|(_, e)| e).collect();
    let usable = |e: &Endpoint, ready: bool| {
        if ready {
            e.ready
        } else {
            e.serving && e.terminating
        }
    };
    let pick = |filter: &dyn Fn(&Endpoint) -> bool| -> Vec<usize> {
        let ready: Vec<usize> = (0..endpoints.len())
            .filter(|&k| filter(&endpoints[k]) && usable(&endpoints[k], true))
            .collect();
        if !ready.is_empty() {
            return ready;
        }
        (0..endpoints.len())
            .filter(|&k| filter(&endpoints[k]) && usable(&endpoints[k], false))
            .collect()
    };
    let cluster = pick(&|_| true);
    let local = match &options.node {
        Some(node) => pick(&|e: &Endpoint| e.node_name.as_deref() == Some(node.as_str())),
        None => Vec::new(),
    };
    Some(PortPlan {
        name: port.name_str().to_owned(),
        protocol,
        port: number,
        node_port: None,
        endpoints,
        cluster,
        local,
        origin: Origin {
            kind: "".into(),
            namespace: "".into(),
            name: "".into(),
            path: String::new(),
            span: port.span,
        },
    })
}

/// The object endpoints come from, named once and shared by the origins of all its endpoints.
struct OriginObject {
    kind: Arc<str>,
    namespace: Arc<str>,
    name: Arc<str>,
}

impl OriginObject {
    fn new(o: &Object, links: &Links, index: usize) -> Self {
        OriginObject {
            kind: o.kind.value.as_str().into(),
            namespace: links.namespace(index).into(),
            name: o.name().into(),
        }
    }

    fn at(&self, path: String, span: crate::source::Span) -> Origin {
        Origin {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            path,
            span,
        }
    }
}

/// Endpoints of a Service port: EndpointSlices, else Endpoints, else the selected Pods.
fn collect(
    sl: &crate::link::ServiceLinks,
    port: &ServicePort,
    model: &Model,
    links: &Links,
    service: &Object,
) -> Vec<Endpoint> {
    if !sl.slices.is_empty() {
        from_slices(&sl.slices, port, model, links)
    } else if !sl.endpoints.is_empty() {
        from_endpoints(&sl.endpoints, port, model, links)
    } else {
        from_pods(&sl.selected, port, model, links, service.name())
    }
}

/// The endpoint port serving a Service port: same name and protocol.
fn matching_port(ports: &[EndpointPort], service_port: &ServicePort) -> Option<u16> {
    ports
        .iter()
        .find(|ep| {
            ep.name_str() == service_port.name_str()
                && ep.protocol.value == service_port.protocol.value
        })
        .and_then(|ep| ep.port.as_ref())
        .and_then(|n| u16::try_from(n.value).ok())
}

fn from_slices(
    slices: &[usize],
    port: &ServicePort,
    model: &Model,
    links: &Links,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for &s in slices {
        let o = &model.objects[s];
        let Body::EndpointSlice(slice) = &o.body else {
            continue;
        };
        if !matches!(
            slice.address_type.as_ref().map(|t| t.value.as_str()),
            Some("IPv4" | "IPv6")
        ) {
            continue;
        }
        let Some(number) = matching_port(&slice.ports, port) else {
            continue;
        };
        let source = OriginObject::new(o, links, s);
        for (k, e) in slice.endpoints.iter().enumerate() {
            // kube-proxy: a nil `ready` means ready; a nil `serving` means the same as ready.
            let ready = e.conditions.ready.unwrap_or(true);
            let serving = e.conditions.serving.unwrap_or(ready);
            let terminating = e.conditions.terminating.unwrap_or(false);
            for (a, addr) in e.addresses.iter().enumerate() {
                let Ok((ip, _)) = syntax::parse_ip(&addr.value) else {
                    continue;
                };
                out.push(Endpoint {
                    ip,
                    port: number,
                    ready,
                    serving,
                    terminating,
                    node_name: e.node_name.as_ref().map(|n| n.value.clone()),
                    hostname: e.hostname.as_ref().map(|h| h.value.clone()),
                    origin: source.at(format!("endpoints[{k}].addresses[{a}]"), addr.span),
                });
            }
        }
    }
    out
}

fn from_endpoints(
    endpoints: &[usize],
    port: &ServicePort,
    model: &Model,
    links: &Links,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for &e in endpoints {
        let o = &model.objects[e];
        let Body::Endpoints(ep) = &o.body else {
            continue;
        };
        let source = OriginObject::new(o, links, e);
        for (s, subset) in ep.subsets.iter().enumerate() {
            let Some(number) = matching_port(&subset.ports, port) else {
                continue;
            };
            for (field, list, ready) in [
                ("addresses", &subset.addresses, true),
                ("notReadyAddresses", &subset.not_ready_addresses, false),
            ] {
                for (a, addr) in list.iter().enumerate() {
                    let Some(Ok((ip, _))) = addr.ip.as_ref().map(|i| syntax::parse_ip(&i.value))
                    else {
                        continue;
                    };
                    out.push(Endpoint {
                        ip,
                        port: number,
                        ready,
                        serving: ready,
                        terminating: false,
                        node_name: addr.node_name.as_ref().map(|n| n.value.clone()),
                        hostname: addr.hostname.as_ref().map(|h| h.value.clone()),
                        origin: source.at(format!("subsets[{s}].{field}[{a}]"), addr.span),
                    });
                }
            }
        }
    }
    out
}

/// Pods selected by the Service that have an IP: the endpoints the controller would write.
fn from_pods(
    selected: &[usize],
    port: &ServicePort,
    model: &Model,
    links: &Links,
    service_name: &str,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for &w in selected {
        let o = &model.objects[w];
        if o.known != Some(KindId::Pod) {
            continue;
        }
        let Some(wl) = o.workload() else { continue };
        let Some(status) = &wl.status else { continue };
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            continue;
        }
        let number = match resolve_target(port, wl) {
            Target::Named { port, .. } | Target::Number { port, .. } => port,
            Target::Missing { .. } => continue,
        };
        let Ok(number) = u16::try_from(number) else {
            continue;
        };
        let terminating = o.meta.deleting;
        let ready = status.ready == Some(true) && !terminating;
        let serving = status.ready == Some(true);
        // The endpoint controller sets a hostname only when the Pod's `subdomain` names this
        // Service (`ShouldSetHostname`).
        let hostname = match (&wl.template.spec.hostname, &wl.template.spec.subdomain) {
            (Some(h), Some(sd)) if sd.value == service_name => Some(h.value.clone()),
            _ => None,
        };
        let source = OriginObject::new(o, links, w);
        let ips = status.pod_ips.iter().chain(status.pod_ip.iter());
        for ip in ips {
            let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
                continue;
            };
            out.push(Endpoint {
                ip: addr,
                port: number,
                ready,
                serving,
                terminating,
                node_name: wl.template.spec.node_name.as_ref().map(|n| n.value.clone()),
                hostname: hostname.clone(),
                origin: source.at("status.podIP".to_owned(), ip.span),
            });
        }
    }
    out
}

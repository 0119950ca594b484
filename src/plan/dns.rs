//! The cluster zone's names, decided and checked while lowering (docs/reference/dns.md §1.2,
//! §1.5): a Service is `<name>.<namespace>.svc.<domain>`, an endpoint `<label>.<service name>`
//! (its hostname, else its dashed IP), an SRV name `_<port>._<protocol>.<service name>`.
//!
//! Every name the DNS target could write for a Service is checked here, once: one that cannot
//! exist in DNS (a label over 63 octets, a name over 255 on the wire) is reported as
//! `dns-name-too-long` at the field that made it (the Service's name, the port's name, the
//! endpoint's hostname or address, the externalName) and listed in the Service's
//! [`DnsOmitted`], so that the target never meets a name it cannot write. The check covers
//! the records of both zone styles (CoreDNS's and the specification's), so a name is reported
//! even when only the CoreDNS style would use it.
//!
//! Also here: each Service's DNS addresses ([`Address`]) with the ports their endpoint
//! objects list. Those ports name a headless Service's SRV records: CoreDNS reads the
//! EndpointSlices' ports, not the Service's (kubernetes/kubernetes#80175).

use super::{Address, AddressPort, DnsOmitted, Protocol, ServicePlan};
use crate::diag::Diagnostic;
use crate::link::{resolve_target, Links, Target};
use crate::model::endpoints::EndpointPort;
use crate::model::kinds::KindId;
use crate::model::service::Service;
use crate::model::{Body, Model};
use crate::source::Span;
use crate::syntax;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `<name>.<namespace>.svc.<domain>`, without the final dot.
pub fn service_name(namespace: &str, name: &str, domain: &str) -> String {
    format!("{name}.{namespace}.svc.{}", domain.trim_end_matches('.'))
}

/// An endpoint's label under its Service: its hostname, else its dashed IP.
pub fn endpoint_label(address: &Address) -> String {
    address
        .hostname
        .clone()
        .unwrap_or_else(|| dashed_ip(address.ip))
}

/// `_<port>._<protocol>.<base>`, without the final dot.
pub fn srv_name(port: &str, protocol: Protocol, base: &str) -> String {
    format!("_{port}._{}.{base}", protocol.as_str())
}

/// CoreDNS's label for an endpoint without a hostname: the IP with `.`/`:` as `-`, and a `0`
/// appended when an IPv6 form ends in `-` (coredns/coredns#7430).
pub fn dashed_ip(ip: IpAddr) -> String {
    let mut s: String = ip
        .to_string()
        .chars()
        .map(|c| if c == '.' || c == ':' { '-' } else { c })
        .collect();
    if s.ends_with('-') {
        s.push('0');
    }
    s
}

/// Why a name cannot be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    LabelTooLong(String),
    NameTooLong(usize),
    BadCharacter(String),
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::LabelTooLong(l) => write!(f, "label `{l}` is longer than 63 octets"),
            NameProblem::NameTooLong(n) => {
                write!(f, "name is {n} octets long; at most 255 are allowed")
            }
            NameProblem::BadCharacter(l) => {
                write!(f, "label `{l}` has a character that is not allowed")
            }
        }
    }
}

/// Checks an absolute name written without the final dot: every label 1–63 octets of
/// `[a-z0-9-]` (a leading `_` for the two SRV labels), at most 255 octets on the wire.
/// Nothing else reaches a zone file, so no zone-file metacharacter (`;`, `(`, `"`, `$`, `@`,
/// `\`, blanks) ever does.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    // Wire length: one length octet per label, the label octets, and the root octet.
    let wire = name.split('.').map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire > 255 {
        return Err(NameProblem::NameTooLong(wire));
    }
    for (i, label) in name.split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(NameProblem::LabelTooLong(label.to_owned()));
        }
        let body = if i < 2 {
            label.strip_prefix('_').unwrap_or(label)
        } else {
            label
        };
        if body.is_empty()
            || !body
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return Err(NameProblem::BadCharacter(label.to_owned()));
        }
    }
    Ok(())
}

/// A cluster domain that cannot be the origin of a valid zone: one of the names every zone
/// holds (SOA, NS, `dns-version`) would be illegal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster domain `{domain}` cannot name a DNS zone: `{name}`: {problem}")]
pub struct DomainError {
    pub domain: String,
    pub name: String,
    pub problem: NameProblem,
}

/// Checks the names derived from the cluster domain alone (Kubernetes' subdomain rule allows
/// 64+-octet labels, and a domain near 253 characters leaves no room for `dns-version.`).
pub fn check_domain(domain: &str) -> Result<(), DomainError> {
    let domain = domain.trim_end_matches('.');
    for name in [
        domain.to_owned(),
        format!("ns.dns.{domain}"),
        format!("hostmaster.{domain}"),
        format!("dns-version.{domain}"),
    ] {
        check_name(&name).map_err(|problem| DomainError {
            domain: domain.to_owned(),
            name: name.clone(),
            problem,
        })?;
    }
    Ok(())
}

// --- addresses -------------------------------------------------------------------------------

/// Where a name was written, for a finding: the object, the field's span and path.
#[derive(Clone, Debug)]
struct Site {
    object: usize,
    span: Span,
    path: String,
}

/// Where each address's name and each port's name come from.
#[derive(Debug, Default)]
pub struct Sources {
    endpoints: BTreeMap<IpAddr, Site>,
    ports: BTreeMap<(String, Protocol), Site>,
}

#[derive(Default)]
struct Gather {
    by_ip: BTreeMap<IpAddr, Address>,
    sources: Sources,
}

impl Gather {
    /// Adds an endpoint address; `site` is where its hostname (else the address) is written.
    fn add(
        &mut self,
        ip: IpAddr,
        ready: bool,
        hostname: Option<&str>,
        ports: &[AddressPort],
        site: Site,
    ) {
        let entry = self.by_ip.entry(ip).or_insert(Address {
            ip,
            ready: false,
            hostname: None,
            ports: Vec::new(),
        });
        entry.ready |= ready;
        entry.ports.extend_from_slice(ports);
        // The first hostname seen names the address, and the finding points at it.
        if entry.hostname.is_none() && hostname.is_some() {
            entry.hostname = hostname.map(str::to_owned);
            self.sources.endpoints.insert(ip, site);
        } else {
            self.sources.endpoints.entry(ip).or_insert(site);
        }
    }

    fn port_site(&mut self, name: &str, protocol: Protocol, site: Site) {
        if !name.is_empty() {
            self.sources
                .ports
                .entry((name.to_owned(), protocol))
                .or_insert(site);
        }
    }

    fn finish(self) -> (Vec<Address>, Sources) {
        let addresses = self
            .by_ip
            .into_values()
            .map(|mut a| {
                a.ports.sort();
                a.ports.dedup();
                a
            })
            .collect();
        (addresses, self.sources)
    }
}

/// The Service's addresses for DNS, from its EndpointSlices, else its Endpoints, else the
/// Pods it selects (as the data plane's endpoints are): every address whatever the port,
/// unique by IP, ready if ready anywhere (every address is, with
/// `publishNotReadyAddresses`), named by the first hostname seen, with the union of its ports.
pub fn addresses(i: usize, svc: &Service, model: &Model, links: &Links) -> (Vec<Address>, Sources) {
    let mut g = Gather::default();
    let Some(sl) = links.service_links.get(&i) else {
        return g.finish();
    };
    let publish = svc.publish_not_ready_addresses;
    if !sl.slices.is_empty() {
        for &s in &sl.slices {
            from_slice(s, model, publish, &mut g);
        }
    } else if !sl.endpoints.is_empty() {
        for &e in &sl.endpoints {
            from_endpoints(e, model, publish, &mut g);
        }
    } else {
        for &w in &sl.selected {
            from_pod(w, i, svc, model, publish, &mut g);
        }
    }
    g.finish()
}

/// The ports of an endpoint object that DNS can name (a number, a known protocol), noting
/// where each name is written (`path` gives the path of the `ports` list).
fn endpoint_ports(
    ports: &[EndpointPort],
    object: usize,
    path: &str,
    g: &mut Gather,
) -> Vec<AddressPort> {
    let mut out = Vec::new();
    for (j, p) in ports.iter().enumerate() {
        let (Some(number), Some(protocol)) = (
            p.port.as_ref().and_then(|n| u16::try_from(n.value).ok()),
            Protocol::parse(&p.protocol.value),
        ) else {
            continue;
        };
        if let Some(name) = &p.name {
            g.port_site(
                &name.value,
                protocol,
                Site {
                    object,
                    span: name.span,
                    path: format!("{path}[{j}].name"),
                },
            );
        }
        out.push(AddressPort {
            name: p.name_str().to_owned(),
            protocol,
            port: number,
        });
    }
    out
}

fn from_slice(s: usize, model: &Model, publish: bool, g: &mut Gather) {
    let Body::EndpointSlice(slice) = &model.objects[s].body else {
        return;
    };
    if !matches!(
        slice.address_type.as_ref().map(|t| t.value.as_str()),
        Some("IPv4" | "IPv6")
    ) {
        return;
    }
    let ports = endpoint_ports(&slice.ports, s, "ports", g);
    for (k, e) in slice.endpoints.iter().enumerate() {
        // CoreDNS: a nil `ready` means ready.
        let ready = e.conditions.ready.unwrap_or(true) || publish;
        for (a, addr) in e.addresses.iter().enumerate() {
            let Ok((ip, _)) = syntax::parse_ip(&addr.value) else {
                continue;
            };
            let site = match &e.hostname {
                Some(h) => Site {
                    object: s,
                    span: h.span,
                    path: format!("endpoints[{k}].hostname"),
                },
                None => Site {
                    object: s,
                    span: addr.span,
                    path: format!("endpoints[{k}].addresses[{a}]"),
                },
            };
            let hostname = e.hostname.as_ref().map(|h| h.value.as_str());
            g.add(ip, ready, hostname, &ports, site);
        }
    }
}

fn from_endpoints(e: usize, model: &Model, publish: bool, g: &mut Gather) {
    let Body::Endpoints(ep) = &model.objects[e].body else {
        return;
    };
    for (s, subset) in ep.subsets.iter().enumerate() {
        let ports = endpoint_ports(&subset.ports, e, &format!("subsets[{s}].ports"), g);
        for (field, list, ready) in [
            ("addresses", &subset.addresses, true),
            ("notReadyAddresses", &subset.not_ready_addresses, false),
        ] {
            for (a, addr) in list.iter().enumerate() {
                let Some(Ok((ip, _))) = addr.ip.as_ref().map(|i| syntax::parse_ip(&i.value)) else {
                    continue;
                };
                let at = format!("subsets[{s}].{field}[{a}]");
                let site = match &addr.hostname {
                    Some(h) => Site {
                        object: e,
                        span: h.span,
                        path: format!("{at}.hostname"),
                    },
                    None => Site {
                        object: e,
                        span: addr.span,
                        path: at,
                    },
                };
                let hostname = addr.hostname.as_ref().map(|h| h.value.as_str());
                g.add(ip, ready || publish, hostname, &ports, site);
            }
        }
    }
}

/// A selected Pod with an IP, as the EndpointSlice controller would list it: its ports are
/// the Service's, resolved on the Pod; its hostname is set only when its `subdomain` names the
/// Service (`ShouldSetHostname`).
fn from_pod(w: usize, i: usize, svc: &Service, model: &Model, publish: bool, g: &mut Gather) {
    let o = &model.objects[w];
    if o.known != Some(KindId::Pod) {
        return;
    }
    let Some(wl) = o.workload() else { return };
    let Some(status) = &wl.status else { return };
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return;
    }
    let ready = (status.ready == Some(true) && !o.meta.deleting) || publish;
    let mut ports = Vec::new();
    for (k, p) in svc.ports.iter().enumerate() {
        let number = match resolve_target(p, wl) {
            Target::Named { port, .. } | Target::Number { port, .. } => port,
            Target::Missing { .. } => continue,
        };
        let (Ok(number @ 1..), Some(protocol)) =
            (u16::try_from(number), Protocol::parse(&p.protocol.value))
        else {
            continue;
        };
        if let Some(name) = &p.name {
            g.port_site(
                &name.value,
                protocol,
                Site {
                    object: i,
                    span: name.span,
                    path: format!("spec.ports[{k}].name"),
                },
            );
        }
        ports.push(AddressPort {
            name: p.name_str().to_owned(),
            protocol,
            port: number,
        });
    }
    let service_name = model.objects[i].name();
    let hostname = match (&wl.template.spec.hostname, &wl.template.spec.subdomain) {
        (Some(h), Some(sd)) if sd.value == service_name => Some(h),
        _ => None,
    };
    for ip in status.pod_ips.iter().chain(status.pod_ip.iter()) {
        let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
            continue;
        };
        let site = match hostname {
            Some(h) => Site {
                object: w,
                span: h.span,
                path: "spec.hostname".to_owned(),
            },
            None => Site {
                object: w,
                span: ip.span,
                path: "status.podIP".to_owned(),
            },
        };
        g.add(
            addr,
            ready,
            hostname.map(|h| h.value.as_str()),
            &ports,
            site,
        );
    }
}

// --- the check -------------------------------------------------------------------------------

/// Checks every name the zone could hold for a lowered Service (object `i`): the Service's
/// name, its ExternalName target, its SRV names (Service ports; for a headless Service, the
/// ports of its ready endpoints) and the names of its ready endpoints. Returns what cannot be
/// written and a `dns-name-too-long` finding for each, with the object it is about.
pub fn check(
    plan: &ServicePlan,
    svc: &Service,
    i: usize,
    model: &Model,
    domain: &str,
    sources: &Sources,
) -> (DnsOmitted, Vec<(usize, Diagnostic)>) {
    let mut omitted = DnsOmitted::default();
    let mut findings = Vec::new();
    let o = &model.objects[i];
    let domain = domain.trim_end_matches('.');
    let service_site = Site {
        object: i,
        span: o.head_span(),
        path: "metadata.name".to_owned(),
    };
    let base = service_name(&plan.namespace, &plan.name, domain);
    let mut report = |name: &str, problem: NameProblem, site: &Site, culprit: &str| {
        let target = &model.objects[site.object];
        let mut d = Diagnostic::new(
            "dns-name-too-long",
            site.span,
            format!("`{name}` cannot be a DNS name: {problem}"),
        )
        .label("the records with this name are left out of the cluster zone")
        .path(site.path.clone())
        .object(target.object_ref())
        .help(format!(
            "DNS allows at most 63 octets in a label and 255 in a name; shorten the {culprit} \
             or the cluster domain `{domain}`"
        ));
        if site.object != i {
            d = d.related(
                o.head_span(),
                format!(
                    "the name is under Service `{}/{}`",
                    plan.namespace, plan.name
                ),
            );
        }
        findings.push((site.object, d));
    };
    if let Err(problem) = check_name(&base) {
        report(&base, problem, &service_site, "Service or namespace name");
        omitted.service = true;
        return (omitted, findings);
    }
    if let Some(target) = &plan.external_name {
        if let Err(problem) = check_name(target) {
            let site = svc
                .external_name
                .as_ref()
                .map_or(service_site.clone(), |n| Site {
                    object: i,
                    span: n.span,
                    path: "spec.externalName".to_owned(),
                });
            report(target, problem, &site, "externalName");
            omitted.external_name = true;
        }
        return (omitted, findings);
    }
    if !plan.headless && plan.cluster_ips.is_empty() {
        // No address to answer with: the zone has nothing for the Service.
        return (omitted, findings);
    }
    // SRV names: the Service's ports, or, headless, its ready endpoints' ports.
    let ready = || plan.addresses.iter().filter(|a| a.ready);
    let mut srv: BTreeMap<(String, Protocol), Site> = BTreeMap::new();
    if plan.headless {
        for p in ready()
            .flat_map(|a| &a.ports)
            .filter(|p| !p.name.is_empty())
        {
            let key = (p.name.clone(), p.protocol);
            let site = sources.ports.get(&key).unwrap_or(&service_site).clone();
            srv.entry(key).or_insert(site);
        }
    } else {
        for p in plan.ports.iter().filter(|p| !p.name.is_empty()) {
            let site = svc
                .ports
                .iter()
                .enumerate()
                .find(|(_, sp)| {
                    sp.name_str() == p.name
                        && Protocol::parse(&sp.protocol.value) == Some(p.protocol)
                })
                .and_then(|(k, sp)| {
                    sp.name.as_ref().map(|n| Site {
                        object: i,
                        span: n.span,
                        path: format!("spec.ports[{k}].name"),
                    })
                })
                .unwrap_or_else(|| service_site.clone());
            srv.entry((p.name.clone(), p.protocol)).or_insert(site);
        }
    }
    for ((port, protocol), site) in srv {
        let name = srv_name(&port, protocol, &base);
        if let Err(problem) = check_name(&name) {
            report(&name, problem, &site, "port name");
            omitted.srv.push((port, protocol));
        }
    }
    // Endpoint names, each reported once (endpoints may share a hostname).
    let mut reported = std::collections::BTreeSet::new();
    for a in ready() {
        let name = format!("{}.{base}", endpoint_label(a));
        if let Err(problem) = check_name(&name) {
            if reported.insert(name.clone()) {
                let site = sources.endpoints.get(&a.ip).unwrap_or(&service_site);
                report(&name, problem, site, "hostname, Service or namespace name");
            }
            omitted.endpoints.push(a.ip);
        }
    }
    (omitted, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("web.default.svc.cluster.local").is_ok());
        assert!(check_name("_http._tcp.web.default.svc.cluster.local").is_ok());
        assert!(check_name(&format!(
            "_{}.web.default.svc.cluster.local",
            "a".repeat(63)
        ))
        .is_err());
        assert!(check_name("web;rm.default.svc.cluster.local").is_err());
        assert!(check_name("we b.default.svc.cluster.local").is_err());
        assert!(check_name("x._tcp.web").is_ok());
        assert!(
            check_name("a._b._c").is_err(),
            "underscores only in the first two labels"
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(matches!(
            check_name(&long),
            Err(NameProblem::NameTooLong(_))
        ));
    }

    #[test]
    fn dashed_ips() {
        assert_eq!(dashed_ip("10.244.2.7".parse().unwrap()), "10-244-2-7");
        assert_eq!(dashed_ip("5678:abcd::1".parse().unwrap()), "5678-abcd--1");
        assert_eq!(dashed_ip("fd00::".parse().unwrap()), "fd00--0");
    }
}

//! `--target dns`: the cluster domain as an RFC 1035 master file, served by any authoritative
//! server (CoreDNS's `file` plugin, BIND, Knot, NSD) to answer like CoreDNS's `kubernetes`
//! plugin (`docs/reference/dns.md`, Kubernetes DNS-Based Service Discovery 1.1.0).
//!
//! Decisions:
//! - Records: SOA (`ns.dns.<zone>. hostmaster.<zone>. serial 7200 1800 86400 ttl`, SOA TTL
//!   min(ttl, 300)), apex NS `ns.dns.<zone>.` with A/AAAA glue (the `kube-dns` Service's
//!   clusterIPs when the input has it, else `--dns-address`, else the 10th address of the
//!   primary service CIDR, kubeadm's convention), `dns-version` TXT "1.1.0" (TTL 28800).
//! - ClusterIP, NodePort, LoadBalancer: A/AAAA per clusterIP; SRV `_<port>._<proto>` for each
//!   named port, `0 100 <port> <svc>.<ns>.svc.<zone>.` (CoreDNS's priority and weight).
//! - Headless: A/AAAA per ready address at the Service name and at `<hostname>` (endpoint
//!   hostname, else the dashed IP); SRV per ready endpoint × named port with weight
//!   floor(100/N), at least 1. No ready endpoints: no records, so the name is NXDOMAIN.
//! - ExternalName: an absolute CNAME. IP-valued externalNames get nothing (lowering drops them
//!   and `check` warns), as CoreDNS does.
//! - `reverse`: PTR records for clusterIPs and ready headless addresses, in one zone per IPv4
//!   /8 (`10.in-addr.arpa`) or IPv6 /64, each its own file.
//! - Every owner and target is a checked lowercase FQDN written with its final dot; a name over
//!   63/255 octets is skipped and reported once ([`Skipped`]), and so is every record naming it
//!   (SRV targets, PTRs). Records are deduplicated and sorted; the serial is derived from the
//!   records, so it changes exactly when the content does.
//! - A cluster domain whose own names (`ns.dns.`, `hostmaster.`, `dns-version.` + domain) are
//!   not valid DNS names is an error ([`DomainError`]): Kubernetes' subdomain rule lets through
//!   64-octet labels and domains too long for those prefixes, and no zone can be written then.

pub mod names;

use crate::plan::{Plan, ServicePlan};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

#[derive(Clone, Debug)]
pub struct Options {
    /// TTL of every record but `dns-version` (seconds).
    pub ttl: u32,
    /// Address of `ns.dns.<zone>` when the input has no `kube-system/kube-dns` Service.
    pub dns_address: Option<IpAddr>,
    /// Also produce reverse (PTR) zones.
    pub reverse: bool,
    /// Fixed SOA serial; default: derived from the content.
    pub serial: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ttl: 30,
            dns_address: None,
            reverse: false,
            serial: None,
        }
    }
}

/// A record left out because its name is not a valid DNS name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub namespace: String,
    pub service: String,
    pub name: String,
    pub problem: String,
}

/// One zone: its origin (without the final dot) and its master-file text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub text: String,
}

/// A cluster domain that cannot be the origin of a valid zone: one of the names every zone
/// holds (SOA, NS, `dns-version`) would be illegal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster domain `{domain}` cannot name a DNS zone: `{name}`: {problem}")]
pub struct DomainError {
    pub domain: String,
    pub name: String,
    pub problem: names::NameProblem,
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
        names::check(&name).map_err(|problem| DomainError {
            domain: domain.to_owned(),
            name: name.clone(),
            problem,
        })?;
    }
    Ok(())
}

/// The zones for a plan: the cluster domain first, then reverse zones in name order, and the
/// records left out (each name once).
pub fn zones(plan: &Plan, opts: &Options) -> Result<(Vec<Zone>, Vec<Skipped>), DomainError> {
    let zone = plan.cluster.cluster_domain.trim_end_matches('.').to_owned();
    check_domain(&zone)?;
    let mut records = Records::default();
    let mut skipped = Vec::new();
    for svc in &plan.services {
        service_records(svc, &zone, &mut records, &mut skipped);
    }
    // A name too long for an endpoint's A record is also too long as its SRV target.
    let mut seen = BTreeSet::new();
    skipped.retain(|s| seen.insert((s.namespace.clone(), s.service.clone(), s.name.clone())));
    let ns_addresses = ns_addresses(plan, opts);
    let mut out = vec![render(&zone, &zone, &records.forward, opts, &ns_addresses)];
    if opts.reverse {
        for (origin, set) in &records.reverse {
            out.push(render(origin, &zone, set, opts, &ns_addresses));
        }
    }
    Ok((out, skipped))
}

/// The forward zone alone (the single-file form of `--target dns`).
pub fn write(
    plan: &Plan,
    opts: &Options,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Skipped>> {
    let (zones, skipped) = zones(plan, opts)?;
    if let Some(first) = zones.first() {
        out.write_all(first.text.as_bytes())?;
    }
    Ok(skipped)
}

/// A record: owner (absolute, no final dot), TTL, type, rdata.
type Record = (String, u32, &'static str, String);

#[derive(Default)]
struct Records {
    forward: BTreeSet<Record>,
    reverse: BTreeMap<String, BTreeSet<Record>>,
}

fn fqdn(name: &str) -> String {
    format!("{name}.")
}

fn address_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "A"
    } else {
        "AAAA"
    }
}

fn service_records(svc: &ServicePlan, zone: &str, r: &mut Records, skipped: &mut Vec<Skipped>) {
    let base = format!("{}.{}.svc.{zone}", svc.name, svc.namespace);
    let mut add = |r: &mut Records,
                   owner: String,
                   rtype: &'static str,
                   rdata: String,
                   target: Option<&str>| {
        for name in std::iter::once(owner.as_str()).chain(target) {
            if let Err(p) = names::check(name) {
                skipped.push(Skipped {
                    namespace: svc.namespace.clone(),
                    service: svc.name.clone(),
                    name: name.to_owned(),
                    problem: p.to_string(),
                });
                return;
            }
        }
        r.forward.insert((owner, 0, rtype, rdata));
    };
    if let Some(target) = &svc.external_name {
        add(r, base.clone(), "CNAME", fqdn(target), Some(target));
        return;
    }
    if !svc.headless {
        for c in &svc.cluster_ips {
            add(r, base.clone(), address_type(c.ip), c.ip.to_string(), None);
            // No PTR to a name that cannot be written (the A record above reported it).
            if names::check(&base).is_ok() {
                r.reverse
                    .entry(names::reverse_zone(c.ip))
                    .or_default()
                    .insert((names::reverse(c.ip), 0, "PTR", fqdn(&base)));
            }
        }
        if svc.cluster_ips.is_empty() {
            return;
        }
        for p in svc.ports.iter().filter(|p| !p.name.is_empty()) {
            let owner = format!("_{}._{}.{base}", p.name, p.protocol.as_str());
            add(
                r,
                owner,
                "SRV",
                format!("0 100 {} {}", p.port, fqdn(&base)),
                None,
            );
        }
        return;
    }
    // Headless: ready addresses only.
    for a in svc.addresses.iter().filter(|a| a.ready) {
        let host = a.hostname.clone().unwrap_or_else(|| names::dashed_ip(a.ip));
        let host_name = format!("{host}.{base}");
        add(r, base.clone(), address_type(a.ip), a.ip.to_string(), None);
        add(
            r,
            host_name.clone(),
            address_type(a.ip),
            a.ip.to_string(),
            None,
        );
        if names::check(&host_name).is_ok() {
            r.reverse
                .entry(names::reverse_zone(a.ip))
                .or_default()
                .insert((names::reverse(a.ip), 0, "PTR", fqdn(&host_name)));
        }
    }
    for p in svc.ports.iter().filter(|p| !p.name.is_empty()) {
        let ready: Vec<_> = p
            .endpoints
            .iter()
            .filter(|e| e.ready || svc.publish_not_ready_addresses)
            .collect();
        let weight = (100 / ready.len().max(1)).max(1);
        for e in ready {
            let host = svc
                .addresses
                .iter()
                .find(|a| a.ip == e.ip)
                .and_then(|a| a.hostname.clone())
                .unwrap_or_else(|| names::dashed_ip(e.ip));
            let target = format!("{host}.{base}");
            let owner = format!("_{}._{}.{base}", p.name, p.protocol.as_str());
            add(
                r,
                owner,
                "SRV",
                format!("0 {weight} {} {}", e.port, fqdn(&target)),
                Some(&target),
            );
        }
    }
}

/// `ns.dns.<zone>` addresses: kube-system/kube-dns's clusterIPs, else the option, else the
/// 10th address of each service CIDR.
fn ns_addresses(plan: &Plan, opts: &Options) -> Vec<IpAddr> {
    if let Some(kube_dns) = plan
        .services
        .iter()
        .find(|s| s.namespace == "kube-system" && s.name == "kube-dns" && !s.cluster_ips.is_empty())
    {
        return kube_dns.cluster_ips.iter().map(|c| c.ip).collect();
    }
    if let Some(ip) = opts.dns_address {
        return vec![ip];
    }
    plan.cluster
        .service_cidrs
        .iter()
        .take(1)
        .filter_map(|cidr| match cidr.network() {
            IpAddr::V4(a) => Some(IpAddr::V4(std::net::Ipv4Addr::from(
                u32::from(a).checked_add(10)?,
            ))),
            IpAddr::V6(a) => Some(IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(a).checked_add(10)?,
            ))),
        })
        .collect()
}

/// One zone file. `cluster_domain` names the NS and SOA hosts (for reverse zones too).
fn render(
    origin: &str,
    cluster_domain: &str,
    records: &BTreeSet<Record>,
    opts: &Options,
    ns_addresses: &[IpAddr],
) -> Zone {
    let ttl = opts.ttl;
    let cluster_ns = format!("ns.dns.{cluster_domain}");
    let mut body = String::new();
    let mut line = |owner: &str, ttl: u32, rtype: &str, rdata: &str| {
        let _ = writeln!(
            body,
            "{:<50} {:>5} IN {:<5} {}",
            fqdn(owner),
            ttl,
            rtype,
            rdata
        );
    };
    line(origin, ttl, "NS", &fqdn(&cluster_ns));
    let is_forward = !origin.ends_with(".arpa");
    if is_forward {
        for ip in ns_addresses {
            line(&cluster_ns, ttl, address_type(*ip), &ip.to_string());
        }
        line(&format!("dns-version.{origin}"), 28800, "TXT", "\"1.1.0\"");
    }
    for (owner, _, rtype, rdata) in records {
        line(owner, ttl, rtype, rdata);
    }
    let serial = opts.serial.unwrap_or_else(|| {
        // Derived from the content: same records, same serial. Kept below 2^31 (RFC 1982).
        (crate::plan::allocate::fnv1a(&body) % (1 << 31)) as u32
    });
    let hostmaster = format!("hostmaster.{cluster_domain}");
    let mut text = format!("$ORIGIN {}\n$TTL {ttl}\n", fqdn(origin));
    let _ = writeln!(
        text,
        "{:<50} {:>5} IN {:<5} {} {} {serial} 7200 1800 86400 {ttl}",
        fqdn(origin),
        ttl.min(300),
        "SOA",
        fqdn(&cluster_ns),
        fqdn(&hostmaster)
    );
    text.push_str(&body);
    Zone {
        origin: origin.to_owned(),
        text,
    }
}

//! `--target dns`: the cluster domain as an RFC 1035 master file, served by any authoritative
//! server (CoreDNS's `file` plugin, BIND, Knot, NSD) to answer like CoreDNS's `kubernetes`
//! plugin (`docs/reference/dns.md`, Kubernetes DNS-Based Service Discovery 1.1.0), and the
//! reverse (PTR) zones.
//!
//! Decisions:
//! - Zone records: SOA (`ns.dns.<zone>. hostmaster.<zone>. serial 7200 1800 86400 ttl`, SOA
//!   TTL min(ttl, 300); `<zone>` is the zone's own origin, reverse zones included, as CoreDNS
//!   writes them), apex NS `ns.dns.<cluster domain>.`, in the cluster zone its A/AAAA glue (the
//!   `kube-dns` Service's clusterIPs when the input has it, else `--dns-address`, else the 10th
//!   address of the primary service CIDR, kubeadm's convention) and `dns-version` TXT "1.1.0"
//!   (TTL 28800).
//! - ClusterIP, NodePort, LoadBalancer: A/AAAA per clusterIP and its PTR; SRV `_<port>._<proto>`
//!   per named Service port, `0 100 <port> <svc>.<ns>.svc.<zone>.` (CoreDNS's priority and
//!   weight, as in its zone transfer).
//! - Headless: A/AAAA per ready address at the Service name and at `<hostname>` (endpoint
//!   hostname, else the dashed IP), with its PTR; SRV `_<port>._<proto>` per ready endpoint ×
//!   named port of the endpoint (EndpointSlice/Endpoints ports, not the Service's), weight
//!   floor(100/N) over the N records of that name, at least 1; portless endpoints get address
//!   records only. No ready endpoints: no records, so the name is NXDOMAIN.
//! - ExternalName: an absolute CNAME. IP-valued externalNames get nothing (lowering drops them
//!   and `check` warns), as CoreDNS does.
//! - [`Style::Coredns`] (the default) adds what CoreDNS's `kubernetes` plugin answers beyond the
//!   specification: SRV at the Service name itself (ClusterIP: one per port, named or not,
//!   weight 100, as in CoreDNS's transfer; headless: one per ready endpoint × port, weight
//!   floor(100/N) as CoreDNS computes it at query time, N counting a portless endpoint once);
//!   the names of the ready endpoints of every Service, not only headless ones
//!   (`<hostname or dashed IP>.<svc>.<ns>.svc.<zone>`); and their PTRs. [`Style::Spec`] leaves
//!   these three out.
//! - `reverse`: PTR records in a stable set of zones ([`reverse::zones`]): the ranges given
//!   (`reverse_cidrs`; by default the plan's service CIDRs), on octet/nibble boundaries, each
//!   zone a file whatever the data. A PTR whose address is in no zone is not written. One PTR
//!   per address and Service (an address behind two Services has two, as in CoreDNS).
//! - Where a static zone cannot answer like CoreDNS (pod records, NODATA for namespaces
//!   without records and for `pod.<zone>`, following CNAMEs out of the zone, SRV weights
//!   computed per response, SERVFAIL before the API is synced, query-side wildcards), the README
//!   lists it, and `tests/dns_coredns.rs` enumerates each such case of CoreDNS's own tests.
//! - Every owner and target is a lowercase FQDN written with its final dot. Names that cannot
//!   exist (over 63/255 octets) were found and reported by lowering (`plan::dns`) and are left
//!   out with every record that names them; a name the plan does not mark is checked again and
//!   refused ([`Error::Name`]). Records are deduplicated and sorted; the serial is derived from
//!   the records, so it changes exactly when the content does.
//! - A cluster domain whose own names (`ns.dns.`, `hostmaster.`, `dns-version.` + domain) are
//!   not valid DNS names is an error ([`Error::Domain`]): Kubernetes' subdomain rule lets
//!   through 64-octet labels and domains too long for those prefixes, and no zone can be
//!   written then.

mod records;
pub mod reverse;

use crate::plan::dns::{check_domain, DomainError, NameProblem};
use crate::plan::Plan;
use ipnet::IpNet;
use records::{address_type, fqdn, Collected, Record};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Which records beyond the specification's the zone holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// What CoreDNS's `kubernetes` plugin answers: the specification's records, SRV at the
    /// Service name, endpoint names and PTRs for every Service
    #[default]
    Coredns,
    /// Only the records of the Kubernetes DNS specification
    Spec,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// TTL of every record but `dns-version` (seconds).
    pub ttl: u32,
    /// Address of `ns.dns.<zone>` when the input has no `kube-system/kube-dns` Service.
    pub dns_address: Option<IpAddr>,
    /// Also produce reverse (PTR) zones.
    pub reverse: bool,
    /// The address ranges the reverse zones cover; empty: the plan's service CIDRs.
    pub reverse_cidrs: Vec<IpNet>,
    /// Fixed SOA serial; default: derived from the content.
    pub serial: Option<u32>,
    pub style: Style,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ttl: 30,
            dns_address: None,
            reverse: false,
            reverse_cidrs: Vec::new(),
            serial: None,
            style: Style::Coredns,
        }
    }
}

impl Options {
    /// Refuses what no zone can hold.
    pub fn validate(&self) -> Result<(), Error> {
        if self.ttl > MAX_TTL {
            return Err(Error::Ttl(self.ttl));
        }
        if let Some(net) = self.reverse_cidrs.iter().find(|n| n.trunc() != **n) {
            return Err(Error::ReverseRange(*net));
        }
        Ok(())
    }
}

/// RFC 2181 §8: TTLs are at most 2^31 − 1.
const MAX_TTL: u32 = 2_147_483_647;

/// Why no zone was written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A name the plan does not mark as omitted and no zone can hold: the plan was not lowered
    /// for DNS (`LowerOptions::dataplane_only`).
    #[error("`{name}` cannot be written in a zone: {problem}")]
    Name { name: String, problem: NameProblem },
    #[error("TTL {0} is over {MAX_TTL} (RFC 2181)")]
    Ttl(u32),
    #[error("reverse zone range `{0}` has host bits set")]
    ReverseRange(IpNet),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One zone: its origin (without the final dot) and its master-file text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub text: String,
}

/// The zones for a plan: the cluster domain first, then, with `reverse`, every reverse zone in
/// name order (also those without records).
pub fn zones(plan: &Plan, opts: &Options) -> Result<Vec<Zone>, Error> {
    opts.validate()?;
    let domain = plan.cluster.cluster_domain.trim_end_matches('.');
    check_domain(domain)?;
    let mut collected = Collected::default();
    for svc in &plan.services {
        collected.service(svc, domain, opts.style)?;
    }
    let ns_addresses = ns_addresses(plan, opts);
    let mut out = vec![render(
        domain,
        domain,
        &collected.forward,
        opts,
        Some(&ns_addresses),
    )];
    if opts.reverse {
        let ranges = if opts.reverse_cidrs.is_empty() {
            &plan.cluster.service_cidrs
        } else {
            &opts.reverse_cidrs
        };
        let zones = reverse::zones(ranges);
        let mut by_zone: BTreeMap<IpNet, BTreeSet<Record>> =
            zones.iter().map(|z| (*z, BTreeSet::new())).collect();
        for (ip, targets) in &collected.ptr {
            let Some(zone) = reverse::zone_of(*ip, &zones) else {
                continue;
            };
            let set = by_zone.get_mut(zone).expect("every zone has a set");
            for target in targets {
                set.insert((reverse::name(*ip), "PTR", fqdn(target)));
            }
        }
        for zone in &zones {
            out.push(render(
                &reverse::zone_name(zone),
                domain,
                &by_zone[zone],
                opts,
                None,
            ));
        }
    }
    Ok(out)
}

/// Writes the cluster zone (the single-file form of `--target dns`); nothing when it cannot
/// be rendered.
pub fn write(plan: &Plan, opts: &Options, out: &mut dyn std::io::Write) -> Result<(), Error> {
    let zones = zones(plan, opts)?;
    out.write_all(zones[0].text.as_bytes())?;
    Ok(())
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

/// One zone file. The apex NS is the cluster's name server, `ns.dns.<cluster domain>`;
/// `glue` (its addresses) is given for the cluster zone, which also gets `dns-version`.
fn render(
    origin: &str,
    cluster_domain: &str,
    records: &BTreeSet<Record>,
    opts: &Options,
    glue: Option<&[IpAddr]>,
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
    if let Some(glue) = glue {
        for ip in glue {
            line(&cluster_ns, ttl, address_type(*ip), &ip.to_string());
        }
        line(&format!("dns-version.{origin}"), 28800, "TXT", "\"1.1.0\"");
    }
    for (owner, rtype, rdata) in records {
        line(owner, ttl, rtype, rdata);
    }
    let serial = opts.serial.unwrap_or_else(|| {
        // Derived from the content: same records, same serial. Kept below 2^31 (RFC 1982).
        (crate::plan::allocate::fnv1a(&body) % (1 << 31)) as u32
    });
    let mut text = format!("$ORIGIN {}\n$TTL {ttl}\n", fqdn(origin));
    let _ = writeln!(
        text,
        "{:<50} {:>5} IN {:<5} {} {} {serial} 7200 1800 86400 {ttl}",
        fqdn(origin),
        ttl.min(300),
        "SOA",
        fqdn(&format!("ns.dns.{origin}")),
        fqdn(&format!("hostmaster.{origin}"))
    );
    text.push_str(&body);
    Zone {
        origin: origin.to_owned(),
        text,
    }
}

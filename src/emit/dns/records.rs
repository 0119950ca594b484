//! The records of one Service, as the module documentation lists them: forward records into
//! the cluster zone, PTR targets by address (placed in the reverse zones later).

use super::{Error, Style};
use crate::plan::dns::{check_name, endpoint_label, service_name, srv_name};
use crate::plan::{Address, Protocol, ServicePlan};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A forward record: owner (absolute, no final dot), type, rdata.
pub type Record = (String, &'static str, String);

/// What the Services add: forward records, and PTR targets (absolute, no final dot) by
/// address.
#[derive(Default)]
pub struct Collected {
    pub forward: BTreeSet<Record>,
    pub ptr: BTreeMap<IpAddr, BTreeSet<String>>,
}

pub fn fqdn(name: &str) -> String {
    format!("{name}.")
}

pub fn address_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "A"
    } else {
        "AAAA"
    }
}

/// A name the plan did not mark as omitted: lowering checked it, so this refuses only a plan
/// that was not lowered for DNS.
fn checked(name: String) -> Result<String, Error> {
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(problem) => Err(Error::Name { name, problem }),
    }
}

/// An SRV record's port and target (`None`: the target's name cannot be written).
type SrvTarget<'a> = (u16, Option<&'a str>);

/// SRV weight of one of `n` records (CoreDNS: floor(100/n), at least 1).
fn weight(n: usize) -> usize {
    (100 / n.max(1)).max(1)
}

impl Collected {
    fn add(&mut self, owner: &str, rtype: &'static str, rdata: String) {
        self.forward.insert((owner.to_owned(), rtype, rdata));
    }

    fn address(&mut self, owner: &str, ip: IpAddr) {
        self.add(owner, address_type(ip), ip.to_string());
    }

    fn ptr(&mut self, ip: IpAddr, target: &str) {
        self.ptr.entry(ip).or_default().insert(target.to_owned());
    }

    /// Adds the records of one Service.
    pub fn service(&mut self, svc: &ServicePlan, domain: &str, style: Style) -> Result<(), Error> {
        let omitted = &svc.dns_omitted;
        if omitted.service {
            return Ok(());
        }
        let base = checked(service_name(&svc.namespace, &svc.name, domain))?;
        if let Some(target) = &svc.external_name {
            if !omitted.external_name {
                let target = checked(target.clone())?;
                self.add(&base, "CNAME", fqdn(&target));
            }
            return Ok(());
        }
        // A Service without a clusterIP (an IP-valued externalName, or none allocated) has no
        // address to answer with.
        if !svc.headless && svc.cluster_ips.is_empty() {
            return Ok(());
        }
        // Ready endpoints with the name each can have.
        let mut ready: Vec<(&Address, Option<String>)> = Vec::new();
        for a in svc.addresses.iter().filter(|a| a.ready) {
            let name = if omitted.endpoint(a.ip) {
                None
            } else {
                Some(checked(format!("{}.{base}", endpoint_label(a)))?)
            };
            ready.push((a, name));
        }
        if svc.headless {
            for (a, name) in &ready {
                self.address(&base, a.ip);
                if let Some(name) = name {
                    self.address(name, a.ip);
                    self.ptr(a.ip, name);
                }
            }
            return self.headless_srv(svc, &base, &ready, style);
        }
        for c in &svc.cluster_ips {
            self.address(&base, c.ip);
            self.ptr(c.ip, &base);
        }
        for p in &svc.ports {
            let rdata = format!("0 100 {} {}", p.port, fqdn(&base));
            if style == Style::Coredns {
                self.add(&base, "SRV", rdata.clone());
            }
            if !p.name.is_empty() && !omitted.srv(&p.name, p.protocol) {
                let owner = checked(srv_name(&p.name, p.protocol, &base))?;
                self.add(&owner, "SRV", rdata);
            }
        }
        if style == Style::Coredns {
            for (a, name) in &ready {
                if let Some(name) = name {
                    self.address(name, a.ip);
                    self.ptr(a.ip, name);
                }
            }
        }
        Ok(())
    }

    /// A headless Service's SRV records, from its ready endpoints' ports: per named port
    /// `_<port>._<proto>` → each endpoint with that port, weight floor(100/N) over those N
    /// endpoints; with the CoreDNS style also the Service name → every endpoint × port, N
    /// counting a portless endpoint once (it answers only A/AAAA).
    fn headless_srv(
        &mut self,
        svc: &ServicePlan,
        base: &str,
        ready: &[(&Address, Option<String>)],
        style: Style,
    ) -> Result<(), Error> {
        let mut named: BTreeMap<(&str, Protocol), Vec<SrvTarget>> = BTreeMap::new();
        let mut all: Vec<SrvTarget> = Vec::new();
        let mut portless = 0;
        for (a, name) in ready {
            if a.ports.is_empty() {
                portless += 1;
            }
            for p in &a.ports {
                all.push((p.port, name.as_deref()));
                if !p.name.is_empty() {
                    named
                        .entry((&p.name, p.protocol))
                        .or_default()
                        .push((p.port, name.as_deref()));
                }
            }
        }
        if style == Style::Coredns {
            let w = weight(all.len() + portless);
            for (port, target) in &all {
                if let Some(target) = target {
                    self.add(base, "SRV", format!("0 {w} {port} {}", fqdn(target)));
                }
            }
        }
        for ((port_name, protocol), list) in named {
            if svc.dns_omitted.srv(port_name, protocol) {
                continue;
            }
            let owner = checked(srv_name(port_name, protocol, base))?;
            let w = weight(list.len());
            for (port, target) in list {
                if let Some(target) = target {
                    self.add(&owner, "SRV", format!("0 {w} {port} {}", fqdn(target)));
                }
            }
        }
        Ok(())
    }
}

//! The view as text, one block per Service port and family: what `snapshots/plan/` keeps, so
//! that a change of decision shows as a diff of decisions rather than of rulesets.

use super::super::family::Family;
use super::super::Plan;
use super::port::{Entry, Masquerade, NoEndpoint, Policy, PortView, Source, Step, Target};
use super::{Dataplane, NodePorts, Proxy};
use ipnet::IpNet;
use std::fmt::{self, Write as _};

impl fmt::Display for PortView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let svc = self.service;
        let name = if self.port.name.is_empty() {
            svc.id()
        } else {
            format!("{}:{}", svc.id(), self.port.name)
        };
        writeln!(
            f,
            "{name} {}/{} {}",
            self.port.protocol.as_str(),
            self.port.port,
            self.family.name()
        )?;
        for entry in &self.entries {
            writeln!(f, "  {}", entry_text(entry))?;
        }
        for policy in [Policy::Cluster, Policy::Local] {
            let members = self.members(policy);
            if members.is_empty() {
                continue;
            }
            let endpoints: Vec<String> = members
                .iter()
                .map(|&i| {
                    let e = self.endpoint(i);
                    match &e.node_name {
                        Some(node) => format!("{} ({node})", e.key()),
                        None => e.key(),
                    }
                })
                .collect();
            write!(f, "  {} chain: {}", policy.name(), endpoints.join(", "))?;
            if policy == self.internal && self.has_internal_endpoints() {
                match &self.masquerade {
                    Masquerade::Never => {}
                    Masquerade::All => write!(f, "; masquerade all ClusterIP traffic")?,
                    Masquerade::NotFrom(pods) => {
                        write!(f, "; masquerade ClusterIP traffic not from {}", nets(pods))?
                    }
                }
            }
            writeln!(f)?;
        }
        if !self.external_rules.is_empty() {
            let rules: Vec<String> = self
                .external_rules
                .iter()
                .map(|r| {
                    let from = match &r.from {
                        Source::Any => "any".to_owned(),
                        Source::Pods(pods) => format!("pods {}", nets(pods)),
                        Source::Node => "node".to_owned(),
                    };
                    let step = match r.step {
                        Step::Masquerade => "masquerade".to_owned(),
                        Step::Goto(p) => p.name().to_owned(),
                    };
                    format!("{from} -> {step}")
                })
                .collect();
            writeln!(f, "  external chain: {}", rules.join("; "))?;
        }
        if let Some(allowed) = &self.firewall {
            let allowed = if allowed.is_empty() {
                "nothing of this family".to_owned()
            } else {
                nets(allowed)
            };
            writeln!(f, "  firewall admits: {allowed}")?;
        }
        Ok(())
    }
}

fn entry_text(entry: &Entry) -> String {
    let mut text = match entry.ip {
        Some(ip) => format!(
            "{} {}",
            entry.kind.name(),
            std::net::SocketAddr::new(ip, entry.port)
        ),
        None => format!("{} {}", entry.kind.name(), entry.port),
    };
    if entry.firewall {
        text.push_str(" -> firewall");
    }
    match entry.nat {
        Some(Target::Policy(p)) => {
            let _ = write!(text, " -> {}", p.name());
        }
        Some(Target::External) => text.push_str(" -> external"),
        None => {}
    }
    if let Some(verdict) = entry.filter {
        let verdict = match verdict {
            NoEndpoint::Reject => "reject",
            NoEndpoint::Drop => "drop",
        };
        if entry.nat.is_some() {
            let _ = write!(text, "; not DNATed: {verdict}");
        } else {
            let _ = write!(text, " -> {verdict}");
        }
    }
    text
}

fn nets(list: &[IpNet]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    items.join(", ")
}

/// The whole view of `plan` under `proxy` for `dataplane`: the node's decisions (where
/// NodePorts answer, the mark, the assumptions made), then every port in every family.
pub fn describe(plan: &Plan, proxy: &Proxy, dataplane: Dataplane) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "dataplane: {dataplane:?}, mark {}", proxy.mark_text());
    for note in proxy.assumptions(plan, dataplane) {
        let _ = writeln!(out, "assumed: {note}");
    }
    for family in Family::ALL {
        let ports = super::ports(plan, proxy, family);
        if ports.is_empty() {
            continue;
        }
        let node_ports = match proxy.node_ports(dataplane, family) {
            NodePorts::AllLocal { localhost: true } => "every local address".to_owned(),
            NodePorts::AllLocal { localhost: false } => {
                "every local address but loopback".to_owned()
            }
            NodePorts::Within { nets: list, .. } if list.is_empty() => "nowhere".to_owned(),
            NodePorts::Within {
                nets: list,
                localhost,
                ..
            } => format!(
                "local addresses in {}{}",
                nets(&list),
                if localhost { "" } else { ", loopback excluded" }
            ),
        };
        let _ = writeln!(out, "\n{} NodePorts: {node_ports}", family.name());
        for svc in &plan.services {
            if let Some(port) = proxy.health_check(dataplane, svc, family) {
                let _ = writeln!(out, "{} health check node port {port}: accepted", svc.id());
            }
        }
        for port in ports {
            let _ = write!(out, "{port}");
        }
    }
    out
}

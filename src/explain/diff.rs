//! `svcc diff OLD NEW`: what a change does to the dataplane and DNS, compared on the plans
//! (not a text diff of rulesets): Services added and removed; for changed Services their
//! virtual addresses, ports, nodePorts, endpoints and policies; DNS names added and removed.
//!
//! A change *removes reachability* when something clients could reach disappears: a Service, a
//! port, a virtual address (clusterIP, externalIP, LoadBalancer IP, nodePort), a DNS name, or
//! every endpoint of a port. `svcc diff` exits 1 then (unless `--allow-removals`), so CI can
//! ask for a review.

use crate::emit::dns;
use crate::plan::{Plan, PortPlan, ServicePlan};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detail {
    pub what: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// This detail removes something clients could reach.
    pub removal: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceChange {
    pub namespace: String,
    pub name: String,
    pub change: Change,
    pub details: Vec<Detail>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DnsChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanDiff {
    pub services: Vec<ServiceChange>,
    pub dns: DnsChange,
    pub removes_reachability: bool,
}

fn detail(
    what: impl Into<String>,
    old: Option<String>,
    new: Option<String>,
    removal: bool,
) -> Detail {
    Detail {
        what: what.into(),
        old,
        new,
        removal,
    }
}

fn set_diff(
    what: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
    removal_on_loss: bool,
    out: &mut Vec<Detail>,
) {
    for gone in old.difference(new) {
        out.push(detail(what, Some(gone.clone()), None, removal_on_loss));
    }
    for added in new.difference(old) {
        out.push(detail(what, None, Some(added.clone()), false));
    }
}

fn port_key(p: &PortPlan) -> String {
    if p.name.is_empty() {
        format!("{}/{}", p.port, p.protocol.as_str())
    } else {
        p.name.clone()
    }
}

fn port_text(p: &PortPlan) -> String {
    format!("{}/{}", p.port, p.protocol.as_str())
}

fn usable(p: &PortPlan) -> BTreeSet<String> {
    p.cluster.iter().map(|&i| p.endpoints[i].key()).collect()
}

fn addresses(s: &ServicePlan) -> BTreeSet<String> {
    s.cluster_ips
        .iter()
        .map(|c| format!("clusterIP {}", c.ip))
        .chain(s.external_ips.iter().map(|ip| format!("externalIP {ip}")))
        .chain(
            s.load_balancer_ips
                .iter()
                .map(|ip| format!("LoadBalancer IP {ip}")),
        )
        .collect()
}

fn compare_service(old: &ServicePlan, new: &ServicePlan) -> Vec<Detail> {
    let mut out = Vec::new();
    let kind = |s: &ServicePlan| {
        let t = format!("{:?}", s.service_type);
        if s.headless {
            format!("{t} (headless)")
        } else {
            t
        }
    };
    if kind(old) != kind(new) {
        out.push(detail("type", Some(kind(old)), Some(kind(new)), false));
    }
    set_diff("address", &addresses(old), &addresses(new), true, &mut out);
    if old.external_name != new.external_name {
        out.push(detail(
            "externalName",
            old.external_name.clone(),
            new.external_name.clone(),
            new.external_name.is_none(),
        ));
    }
    let policies = |s: &ServicePlan| {
        [
            (
                "externalTrafficPolicy",
                if s.external_traffic_local {
                    "Local"
                } else {
                    "Cluster"
                }
                .to_owned(),
            ),
            (
                "internalTrafficPolicy",
                if s.internal_traffic_local {
                    "Local"
                } else {
                    "Cluster"
                }
                .to_owned(),
            ),
            (
                "sessionAffinity",
                s.affinity_timeout
                    .map_or("None".to_owned(), |t| format!("ClientIP {t}s")),
            ),
            (
                "loadBalancerSourceRanges",
                s.source_ranges
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ]
    };
    for ((what, a), (_, b)) in policies(old).into_iter().zip(policies(new)) {
        if a != b {
            out.push(detail(what, Some(a), Some(b), false));
        }
    }
    let old_ports: BTreeMap<String, &PortPlan> =
        old.ports.iter().map(|p| (port_key(p), p)).collect();
    let new_ports: BTreeMap<String, &PortPlan> =
        new.ports.iter().map(|p| (port_key(p), p)).collect();
    for (key, op) in &old_ports {
        let Some(np) = new_ports.get(key) else {
            out.push(detail(
                format!("port {key}"),
                Some(port_text(op)),
                None,
                true,
            ));
            continue;
        };
        if port_text(op) != port_text(np) {
            out.push(detail(
                format!("port {key}"),
                Some(port_text(op)),
                Some(port_text(np)),
                true,
            ));
        }
        let node_port = |p: &PortPlan| p.node_port.map(|n| n.port.to_string());
        if node_port(op) != node_port(np) {
            out.push(detail(
                format!("nodePort of port {key}"),
                node_port(op),
                node_port(np),
                node_port(op).is_some(),
            ));
        }
        let (a, b) = (usable(op), usable(np));
        if a != b {
            if !a.is_empty() && b.is_empty() {
                out.push(detail(
                    format!("endpoints of port {key}"),
                    Some(format!("{} endpoints", a.len())),
                    Some("none".to_owned()),
                    true,
                ));
            } else {
                set_diff(&format!("endpoint of port {key}"), &a, &b, false, &mut out);
            }
        }
    }
    for (key, np) in &new_ports {
        if !old_ports.contains_key(key) {
            out.push(detail(
                format!("port {key}"),
                None,
                Some(port_text(np)),
                false,
            ));
        }
    }
    out
}

/// DNS owner names of the forward zone (what clients can look up), of the specification's
/// records: CoreDNS's endpoint names under every Service would make each endpoint that moves a
/// removed name.
fn dns_names(plan: &Plan) -> BTreeSet<String> {
    let options = dns::Options {
        style: dns::Style::Spec,
        ..dns::Options::default()
    };
    let Ok(zones) = dns::zones(plan, &options) else {
        return BTreeSet::new();
    };
    zones
        .first()
        .map(|z| {
            z.text
                .lines()
                .filter(|l| !l.starts_with('$'))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|owner| owner.contains(".svc."))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
    let index = |p: &Plan| -> BTreeMap<(String, String), ServicePlan> {
        p.services
            .iter()
            .map(|s| ((s.namespace.clone(), s.name.clone()), s.clone()))
            .collect()
    };
    let (a, b) = (index(old), index(new));
    let mut services = Vec::new();
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let (namespace, name) = key.clone();
        match (a.get(key), b.get(key)) {
            (Some(_), None) => services.push(ServiceChange {
                namespace,
                name,
                change: Change::Removed,
                details: vec![detail("service", Some(key.1.clone()), None, true)],
            }),
            (None, Some(_)) => services.push(ServiceChange {
                namespace,
                name,
                change: Change::Added,
                details: Vec::new(),
            }),
            (Some(o), Some(n)) => {
                let details = compare_service(o, n);
                if !details.is_empty() {
                    services.push(ServiceChange {
                        namespace,
                        name,
                        change: Change::Changed,
                        details,
                    });
                }
            }
            (None, None) => {}
        }
    }
    let (da, db) = (dns_names(old), dns_names(new));
    let dns = DnsChange {
        added: db.difference(&da).cloned().collect(),
        removed: da.difference(&db).cloned().collect(),
    };
    let removes_reachability =
        !dns.removed.is_empty() || services.iter().any(|s| s.details.iter().any(|d| d.removal));
    PlanDiff {
        services,
        dns,
        removes_reachability,
    }
}

fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

pub fn write_human(d: &PlanDiff, out: &mut String) {
    if d.services.is_empty() && d.dns.added.is_empty() && d.dns.removed.is_empty() {
        out.push_str("no change to the dataplane or DNS\n");
        return;
    }
    for s in &d.services {
        let sign = match s.change {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed => '~',
        };
        let _ = writeln!(out, "{sign} Service {}/{}", s.namespace, s.name);
        if s.change != Change::Changed {
            continue;
        }
        for x in &s.details {
            let mark = if x.removal {
                "  (removes reachability)"
            } else {
                ""
            };
            match (&x.old, &x.new) {
                (Some(o), None) => {
                    let _ = writeln!(out, "    - {}: {o}{mark}", x.what);
                }
                (None, Some(n)) => {
                    let _ = writeln!(out, "    + {}: {n}", x.what);
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "    ~ {}: {} → {}{mark}",
                        x.what,
                        value(&x.old),
                        value(&x.new)
                    );
                }
            }
        }
    }
    for n in &d.dns.removed {
        let _ = writeln!(out, "- DNS {n}  (removes reachability)");
    }
    for n in &d.dns.added {
        let _ = writeln!(out, "+ DNS {n}");
    }
    if d.removes_reachability {
        out.push_str("\nthis change removes reachability that existed\n");
    }
}

pub fn write_markdown(d: &PlanDiff, out: &mut String) {
    out.push_str("### svcc: dataplane and DNS changes\n\n");
    if d.services.is_empty() && d.dns.added.is_empty() && d.dns.removed.is_empty() {
        out.push_str("No change to the dataplane or DNS.\n");
        return;
    }
    if d.removes_reachability {
        out.push_str("> **This change removes reachability that existed.** Please review.\n\n");
    }
    out.push_str("| Service | change | what | before | after |\n|---|---|---|---|---|\n");
    for s in &d.services {
        let id = format!("`{}/{}`", s.namespace, s.name);
        match s.change {
            Change::Added => {
                let _ = writeln!(out, "| {id} | added | | | |");
            }
            Change::Removed => {
                let _ = writeln!(out, "| {id} | **removed** | | | |");
            }
            Change::Changed => {
                for x in &s.details {
                    let bold = if x.removal { "**" } else { "" };
                    let _ = writeln!(
                        out,
                        "| {id} | changed | {bold}{}{bold} | {} | {} |",
                        x.what,
                        value(&x.old),
                        value(&x.new)
                    );
                }
            }
        }
    }
    if !d.dns.added.is_empty() || !d.dns.removed.is_empty() {
        out.push_str("\nDNS names:\n\n");
        for n in &d.dns.removed {
            let _ = writeln!(out, "- removed `{n}`");
        }
        for n in &d.dns.added {
            let _ = writeln!(out, "- added `{n}`");
        }
    }
}

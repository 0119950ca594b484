//! The plan as kube-proxy's iptables-mode chains and rules, for one address family (see the
//! decisions in `mod.rs`).

use super::names::{self, endpoint_chain, service_port_text, Fixed, PortChains};
use super::restore::{Jump, Restore, Rule, Table};
use super::{Error, Family, Options};
use crate::plan::{Plan, PortPlan, ServicePlan};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The mark that asks the postrouting chain to masquerade (bit 14, kube-proxy's default).
pub const MASQ_MARK: &str = "0x4000";

/// Builds the restore input for `opts.family`.
pub(super) fn build(plan: &Plan, opts: &Options) -> Result<Restore, Error> {
    let mut w = Writer::new(plan, opts)?;
    w.fixed();
    for svc in &plan.services {
        w.service(svc);
    }
    w.nodeport_dispatch();
    Ok(w.finish())
}

/// The jumps from built-in chains into svcc's chains, in kube-proxy's order: inserting each
/// at the head of its chain, in this order, leaves them as kube-proxy leaves its own.
pub fn jumps(prefix: &str) -> Vec<Jump> {
    let f = Fixed::new(prefix);
    let new = || vec!["-m", "conntrack", "--ctstate", "NEW"];
    let rows: Vec<(Table, &'static str, Vec<&str>, &str, &str)> = vec![
        (
            Table::Filter,
            "INPUT",
            new(),
            "svcc externally-visible service portals",
            &f.external_services,
        ),
        (
            Table::Filter,
            "FORWARD",
            new(),
            "svcc externally-visible service portals",
            &f.external_services,
        ),
        (
            Table::Filter,
            "FORWARD",
            new(),
            "svcc service portals",
            &f.services,
        ),
        (
            Table::Filter,
            "OUTPUT",
            new(),
            "svcc service portals",
            &f.services,
        ),
        (
            Table::Filter,
            "FORWARD",
            vec![],
            "svcc forwarding rules",
            &f.forward,
        ),
        (
            Table::Filter,
            "INPUT",
            new(),
            "svcc load balancer firewall",
            &f.proxy_firewall,
        ),
        (
            Table::Filter,
            "OUTPUT",
            new(),
            "svcc load balancer firewall",
            &f.proxy_firewall,
        ),
        (
            Table::Filter,
            "FORWARD",
            new(),
            "svcc load balancer firewall",
            &f.proxy_firewall,
        ),
        (
            Table::Nat,
            "OUTPUT",
            vec![],
            "svcc service portals",
            &f.services,
        ),
        (
            Table::Nat,
            "PREROUTING",
            vec![],
            "svcc service portals",
            &f.services,
        ),
        (
            Table::Nat,
            "POSTROUTING",
            vec![],
            "svcc postrouting rules",
            &f.postrouting,
        ),
    ];
    rows.into_iter()
        .map(|(table, chain, extra, comment, target)| {
            let mut args: Vec<String> = extra.into_iter().map(str::to_owned).collect();
            args.extend(["-m", "comment", "--comment", comment, "-j", target].map(str::to_owned));
            Jump { table, chain, args }
        })
        .collect()
}

/// Builds argument lists: `args!["-j", chain]`.
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(String::from($a)),*] };
}

struct Writer<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    fixed: Fixed,
    /// The pod CIDR of this family (kube-proxy's ClusterCIDR local-traffic detector).
    pods: Option<IpNet>,
    /// Where NodePorts answer: `None`, every local address but loopback; else these CIDRs.
    nodeport_nets: Option<Vec<IpNet>>,
    restore: Restore,
    /// Per-service chains of each table, declared sorted after the fixed ones.
    declared: [BTreeSet<String>; 2],
}

fn index(table: Table) -> usize {
    match table {
        Table::Filter => 0,
        Table::Nat => 1,
    }
}

impl<'a> Writer<'a> {
    fn new(plan: &'a Plan, opts: &'a Options) -> Result<Self, Error> {
        let family = opts.family;
        let pods = family.nets(&opts.cluster_cidrs);
        if pods.len() > 1 {
            return Err(Error::ClusterCidrs {
                family: family.name(),
                cidrs: pods.iter().map(ToString::to_string).collect(),
            });
        }
        let nodeport_nets =
            (!opts.nodeport_addresses.is_empty()).then(|| family.nets(&opts.nodeport_addresses));
        Ok(Writer {
            plan,
            opts,
            fixed: Fixed::new(&opts.prefix),
            pods: pods.first().copied(),
            nodeport_nets,
            restore: Restore::default(),
            declared: [BTreeSet::new(), BTreeSet::new()],
        })
    }

    fn family(&self) -> Family {
        self.opts.family
    }

    fn finish(mut self) -> Restore {
        for table in Table::ALL {
            let declared = std::mem::take(&mut self.declared[index(table)]);
            self.restore.table_mut(table).chains.extend(declared);
        }
        if self.opts.jumps {
            self.restore.jumps = jumps(&self.opts.prefix);
        }
        self.restore
    }

    fn rule(&mut self, table: Table, chain: &str, args: Vec<String>) {
        self.restore.table_mut(table).lines.push(Ok(Rule {
            chain: chain.to_owned(),
            args,
        }));
    }

    fn heading(&mut self, table: Table, text: &str) {
        self.restore
            .table_mut(table)
            .lines
            .push(Err(names::comment(text)));
    }

    fn declare(&mut self, table: Table, chain: &str) {
        self.declared[index(table)].insert(chain.to_owned());
    }

    /// The header, the fixed chains and their rules that do not depend on Services.
    fn fixed(&mut self) {
        let family = self.family();
        let f = self.fixed.clone();
        let header = &mut self.restore.header;
        header.push(format!(
            "svcc: {} input ({}), chains {}-*: load with `{} --noflush`",
            family.restore_tool(),
            family.name(),
            self.opts.prefix,
            family.restore_tool()
        ));
        if let Some(node) = &self.plan.cluster.node {
            header.push(names::comment(&format!("node {node}")));
        }
        self.restore.filter.chains = vec![
            f.services.clone(),
            f.external_services.clone(),
            f.nodeports.clone(),
            f.forward.clone(),
            f.proxy_firewall.clone(),
        ];
        self.restore.nat.chains = vec![
            f.services.clone(),
            f.nodeports.clone(),
            f.mark_masq.clone(),
            f.postrouting.clone(),
        ];
        let mark = format!("{MASQ_MARK}/{MASQ_MARK}");
        self.rule(
            Table::Filter,
            &f.forward,
            args!["-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"],
        );
        self.rule(
            Table::Filter,
            &f.forward,
            args![
                "-m",
                "comment",
                "--comment",
                "svcc forwarding rules",
                "-m",
                "mark",
                "--mark",
                mark.clone(),
                "-j",
                "ACCEPT"
            ],
        );
        self.rule(
            Table::Filter,
            &f.forward,
            args![
                "-m",
                "comment",
                "--comment",
                "svcc forwarding conntrack rule",
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT"
            ],
        );
        self.rule(
            Table::Nat,
            &f.mark_masq,
            args!["-j", "MARK", "--or-mark", MASQ_MARK],
        );
        self.rule(
            Table::Nat,
            &f.postrouting,
            args!["-m", "mark", "!", "--mark", mark, "-j", "RETURN"],
        );
        self.rule(
            Table::Nat,
            &f.postrouting,
            args!["-j", "MARK", "--xor-mark", MASQ_MARK],
        );
        self.rule(
            Table::Nat,
            &f.postrouting,
            args![
                "-m",
                "comment",
                "--comment",
                "svcc service traffic requiring SNAT",
                "-j",
                "MASQUERADE",
                "--random-fully"
            ],
        );
    }

    /// The last rules of nat and filter `SERVICES`/`EXTERNAL-SERVICES`: local destinations go
    /// on to the NodePort chain of the same table. Written after every Service's rules.
    fn nodeport_dispatch(&mut self) {
        let f = self.fixed.clone();
        let loopback = self.family().loopback();
        let comment = "svcc service nodeports; NOTE: this must be the last rule in this chain";
        let mut rules: Vec<Vec<String>> = Vec::new();
        match &self.nodeport_nets {
            None => rules.push(args![
                "-m",
                "comment",
                "--comment",
                comment,
                "-m",
                "addrtype",
                "--dst-type",
                "LOCAL",
                "!",
                "-d",
                loopback.to_string(),
                "-j"
            ]),
            Some(nets) => {
                if nets.iter().any(|n| overlaps(n, &loopback)) {
                    rules.push(args![
                        "-m",
                        "comment",
                        "--comment",
                        "NodePorts never answer on loopback",
                        "-d",
                        loopback.to_string(),
                        "-j",
                        "RETURN"
                    ]);
                }
                for net in nets {
                    rules.push(args![
                        "-m",
                        "comment",
                        "--comment",
                        comment,
                        "-d",
                        net.to_string(),
                        "-m",
                        "addrtype",
                        "--dst-type",
                        "LOCAL",
                        "-j"
                    ]);
                }
            }
        }
        if rules.is_empty() {
            return;
        }
        for (table, chain) in [
            (Table::Nat, &f.services),
            (Table::Filter, &f.external_services),
        ] {
            self.heading(table, "NodePorts: local destinations");
            for rule in &rules {
                let mut args = rule.clone();
                if args.last().is_some_and(|a| a == "-j") {
                    args.push(f.nodeports.clone());
                }
                self.rule(table, chain, args);
            }
        }
    }

    /// One Service: nothing unless it has a clusterIP of this family.
    fn service(&mut self, svc: &ServicePlan) {
        let family = self.family();
        let cluster: Vec<IpAddr> = svc
            .cluster_ips
            .iter()
            .map(|c| c.ip)
            .filter(|&ip| family.has(ip))
            .collect();
        if cluster.is_empty() {
            return;
        }
        let addresses = Addresses {
            cluster,
            external: family.ips(&svc.external_ips),
            load_balancer: family.ips(&svc.load_balancer_ips),
            source_ranges: family.nets(&svc.source_ranges),
        };
        for port in &svc.ports {
            self.port(svc, port, &addresses);
        }
    }
}

/// A Service's addresses in one family.
struct Addresses {
    cluster: Vec<IpAddr>,
    external: Vec<IpAddr>,
    load_balancer: Vec<IpAddr>,
    source_ranges: Vec<IpNet>,
}

/// What kube-proxy derives for one Service port in one family from the plan's endpoint
/// choices: which policy chains exist and whether traffic finds endpoints.
struct PortView {
    /// Endpoints (indices) of the Cluster policy chain; empty when it is not used.
    cluster: Vec<usize>,
    /// Endpoints of the Local policy chain; empty when it is not used.
    local: Vec<usize>,
    /// A usable endpoint exists anywhere (in this family).
    has_endpoints: bool,
    internal_local: bool,
    external_local: bool,
    externally_accessible: bool,
}

impl PortView {
    fn new(svc: &ServicePlan, port: &PortPlan, addresses: &Addresses, family: Family) -> Self {
        let in_family = |indices: &[usize]| -> Vec<usize> {
            indices
                .iter()
                .copied()
                .filter(|&i| family.has(port.endpoints[i].ip))
                .collect()
        };
        let externally_accessible = port.node_port.is_some()
            || !addresses.external.is_empty()
            || !addresses.load_balancer.is_empty();
        let internal_local = svc.internal_traffic_local;
        let external_local = svc.external_traffic_local && externally_accessible;
        // Cluster endpoints serve internal traffic under Cluster policy, and external traffic
        // under Cluster policy or short-circuited (pods, the node) under Local policy.
        let uses_cluster = !internal_local || externally_accessible;
        let uses_local = internal_local || external_local;
        let cluster = in_family(&port.cluster);
        PortView {
            has_endpoints: !cluster.is_empty(),
            cluster: if uses_cluster { cluster } else { Vec::new() },
            local: if uses_local {
                in_family(&port.local)
            } else {
                Vec::new()
            },
            internal_local,
            external_local,
            externally_accessible,
        }
    }

    fn has_internal_endpoints(&self) -> bool {
        if self.internal_local {
            !self.local.is_empty()
        } else {
            self.has_endpoints
        }
    }

    fn has_external_endpoints(&self) -> bool {
        if self.external_local {
            !self.local.is_empty()
        } else {
            self.has_endpoints
        }
    }
}

impl Writer<'_> {
    fn port(&mut self, svc: &ServicePlan, port: &PortPlan, addresses: &Addresses) {
        let family = self.family();
        let prefix = self.opts.prefix.clone();
        let f = self.fixed.clone();
        let view = PortView::new(svc, port, addresses, family);
        let chains = PortChains::new(
            &prefix,
            &svc.namespace,
            &svc.name,
            &port.name,
            port.protocol,
        );
        let text = service_port_text(&svc.namespace, &svc.name, &port.name);
        let proto = port.protocol.as_str();
        let dport = port.port.to_string();
        // `-m tcp -p tcp -d IP --dport N`
        let to = |ip: &str| args!["-m", proto, "-p", proto, "-d", ip, "--dport", dport.clone()];
        let with_comment = |comment: &str, rest: Vec<String>| {
            let mut a = args!["-m", "comment", "--comment", names::comment(comment)];
            a.extend(rest);
            a
        };
        let internal_chain = if view.internal_local {
            &chains.local
        } else {
            &chains.cluster
        };
        let external_policy_chain = if view.external_local {
            &chains.local
        } else {
            &chains.cluster
        };
        let uses_external = view.has_endpoints && view.externally_accessible;
        let uses_firewall = view.has_endpoints
            && !addresses.load_balancer.is_empty()
            && !svc.source_ranges.is_empty();
        let mut endpoints: Vec<usize> = view.cluster.iter().chain(&view.local).copied().collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        let sep = |i: usize| {
            endpoint_chain(
                &prefix,
                &svc.namespace,
                &svc.name,
                &port.name,
                port.protocol,
                &port.endpoints[i].key(),
            )
        };

        self.heading(Table::Nat, &text);
        self.heading(Table::Filter, &text);
        let no_endpoints = if view.has_endpoints {
            ("DROP", format!("{text} has no local endpoints"))
        } else {
            ("REJECT", format!("{text} has no endpoints"))
        };

        // Dispatch by destination.
        for ip in &addresses.cluster {
            let ip = ip.to_string();
            if view.has_internal_endpoints() {
                let rule = with_comment(&format!("{text} cluster IP"), to(&ip));
                self.rule(
                    Table::Nat,
                    &f.services,
                    [rule, args!["-j", internal_chain.clone()]].concat(),
                );
            } else {
                let rule = with_comment(&no_endpoints.1, to(&ip));
                self.rule(
                    Table::Filter,
                    &f.services,
                    [rule, args!["-j", no_endpoints.0]].concat(),
                );
            }
        }
        for ip in &addresses.external {
            let ip = ip.to_string();
            if uses_external {
                let rule = with_comment(&format!("{text} external IP"), to(&ip));
                self.rule(
                    Table::Nat,
                    &f.services,
                    [rule, args!["-j", chains.external.clone()]].concat(),
                );
            }
        }
        for ip in &addresses.load_balancer {
            let ip = ip.to_string();
            if view.has_endpoints {
                let target = if uses_firewall {
                    &chains.firewall
                } else {
                    &chains.external
                };
                let rule = with_comment(&format!("{text} loadbalancer IP"), to(&ip));
                self.rule(
                    Table::Nat,
                    &f.services,
                    [rule, args!["-j", target.clone()]].concat(),
                );
            }
            if uses_firewall {
                let comment = format!("{text} traffic not accepted by {}", chains.firewall);
                let rule = with_comment(&comment, to(&ip));
                self.rule(
                    Table::Filter,
                    &f.proxy_firewall,
                    [rule, args!["-j", "DROP"]].concat(),
                );
            }
        }
        if !view.has_external_endpoints() {
            for ip in addresses.external.iter().chain(&addresses.load_balancer) {
                let rule = with_comment(&no_endpoints.1, to(&ip.to_string()));
                self.rule(
                    Table::Filter,
                    &f.external_services,
                    [rule, args!["-j", no_endpoints.0]].concat(),
                );
            }
        }
        if let Some(node_port) = port.node_port {
            let to_port = args![
                "-m",
                proto,
                "-p",
                proto,
                "--dport",
                node_port.port.to_string()
            ];
            if uses_external {
                let rule = with_comment(&text, to_port.clone());
                self.rule(
                    Table::Nat,
                    &f.nodeports,
                    [rule, args!["-j", chains.external.clone()]].concat(),
                );
            }
            if !view.has_external_endpoints() {
                let rule = with_comment(&no_endpoints.1, to_port);
                self.rule(
                    Table::Filter,
                    &f.nodeports,
                    [rule, args!["-j", no_endpoints.0]].concat(),
                );
            }
        }

        // Policy chains: masquerade, affinity, then the random choice.
        for (chain, members) in [
            (&chains.cluster, &view.cluster),
            (&chains.local, &view.local),
        ] {
            if members.is_empty() {
                continue;
            }
            self.declare(Table::Nat, chain);
            if chain == internal_chain && view.has_internal_endpoints() {
                for ip in &addresses.cluster {
                    let matched = with_comment(&format!("{text} cluster IP"), to(&ip.to_string()));
                    let source = if self.opts.masquerade_all {
                        Vec::new()
                    } else if let Some(pods) = self.pods {
                        args!["!", "-s", pods.to_string()]
                    } else {
                        continue;
                    };
                    self.rule(
                        Table::Nat,
                        chain,
                        [matched, source, args!["-j", f.mark_masq.clone()]].concat(),
                    );
                }
            }
            if let Some(timeout) = svc.affinity_timeout {
                for &i in members.iter() {
                    let target = sep(i);
                    let comment = format!("{text} -> {}", port.endpoints[i].key());
                    let rule = with_comment(
                        &comment,
                        args![
                            "-m",
                            "recent",
                            "--name",
                            target.clone(),
                            "--rcheck",
                            "--seconds",
                            timeout.to_string(),
                            "--reap",
                            "-j",
                            target
                        ],
                    );
                    self.rule(Table::Nat, chain, rule);
                }
            }
            let n = members.len();
            for (k, &i) in members.iter().enumerate() {
                let comment = format!("{text} -> {}", port.endpoints[i].key());
                let mut rest = Vec::new();
                if k + 1 < n {
                    rest = args![
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        names::probability(n - k)
                    ];
                }
                rest.extend(args!["-j", sep(i)]);
                let rule = with_comment(&comment, rest);
                self.rule(Table::Nat, chain, rule);
            }
        }

        // External traffic: masquerade, or under Local policy keep the source and let pods and
        // the node itself skip the policy.
        if uses_external {
            let ext = &chains.external;
            self.declare(Table::Nat, ext);
            if !view.external_local {
                let rule = with_comment(
                    &format!("masquerade traffic for {text} external destinations"),
                    args!["-j", f.mark_masq.clone()],
                );
                self.rule(Table::Nat, ext, rule);
            } else {
                if let Some(pods) = self.pods {
                    let rule = with_comment(
                        &format!("pod traffic for {text} external destinations"),
                        args!["-s", pods.to_string(), "-j", chains.cluster.clone()],
                    );
                    self.rule(Table::Nat, ext, rule);
                }
                let local = args!["-m", "addrtype", "--src-type", "LOCAL"];
                let rule = with_comment(
                    &format!("masquerade LOCAL traffic for {text} external destinations"),
                    [local.clone(), args!["-j", f.mark_masq.clone()]].concat(),
                );
                self.rule(Table::Nat, ext, rule);
                let rule = with_comment(
                    &format!("route LOCAL traffic for {text} external destinations"),
                    [local, args!["-j", chains.cluster.clone()]].concat(),
                );
                self.rule(Table::Nat, ext, rule);
            }
            if view.has_external_endpoints() {
                self.rule(Table::Nat, ext, args!["-j", external_policy_chain.clone()]);
            }
        }

        // loadBalancerSourceRanges: allowed sources go on; the rest falls through undNATed and
        // the filter PROXY-FIREWALL rule drops it.
        if uses_firewall {
            let fw = &chains.firewall;
            self.declare(Table::Nat, fw);
            for range in &addresses.source_ranges {
                let rule = with_comment(
                    &format!("{text} loadbalancer IP"),
                    args!["-s", range.to_string(), "-j", chains.external.clone()],
                );
                self.rule(Table::Nat, fw, rule);
            }
        }

        // Endpoints: hairpin traffic is masqueraded, then DNAT.
        for &i in &endpoints {
            let e = &port.endpoints[i];
            let chain = sep(i);
            self.declare(Table::Nat, &chain);
            let rule = with_comment(
                &text,
                args!["-s", e.ip.to_string(), "-j", f.mark_masq.clone()],
            );
            self.rule(Table::Nat, &chain, rule);
            let mut rest = Vec::new();
            if svc.affinity_timeout.is_some() {
                rest = args!["-m", "recent", "--name", chain.clone(), "--set"];
            }
            rest.extend(args![
                "-m",
                proto,
                "-p",
                proto,
                "-j",
                "DNAT",
                "--to-destination",
                e.key()
            ]);
            let rule = with_comment(&text, rest);
            self.rule(Table::Nat, &chain, rule);
        }
        self.drop_empty_headings();
    }

    /// Removes a trailing heading with no rules after it (a port that wrote nothing there).
    fn drop_empty_headings(&mut self) {
        for table in Table::ALL {
            let lines = &mut self.restore.table_mut(table).lines;
            if matches!(lines.last(), Some(Err(_))) {
                lines.pop();
            }
        }
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

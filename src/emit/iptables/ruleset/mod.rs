//! The plan as kube-proxy's iptables-mode chains and rules, for one address family (see the
//! decisions in `mod.rs`).

use super::names::{self, Fixed};
use super::restore::{Jump, Restore, Rule, Table};
use super::{Error, Family, Options};
use crate::plan::view::{Dataplane, NodePorts};
use crate::plan::{Plan, ServicePlan};
use std::collections::BTreeSet;

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

mod port;

struct Writer<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    fixed: Fixed,
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
        opts.validate()?;
        Ok(Writer {
            plan,
            opts,
            fixed: Fixed::new(&opts.prefix),
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
        for assumption in self.opts.proxy.assumptions(self.plan, Dataplane::Iptables) {
            header.push(format!("assumed: {assumption}"));
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
        let masq_mark = self.opts.proxy.mark_text();
        let mark = format!("{masq_mark}/{masq_mark}");
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
        let node_ports = self.opts.proxy.node_ports(Dataplane::Iptables, family);
        if node_ports.serves_loopback(family) {
            // kube-proxy's KUBE-FIREWALL rule (CVE-2020-8558): with route_localnet on, only
            // the node itself, or DNATed NodePort traffic, may reach loopback addresses.
            self.rule(
                Table::Filter,
                &f.proxy_firewall,
                args![
                    "-m",
                    "comment",
                    "--comment",
                    "block incoming localnet connections",
                    "-d",
                    family.loopback().to_string(),
                    "!",
                    "-s",
                    family.loopback().to_string(),
                    "-m",
                    "conntrack",
                    "!",
                    "--ctstate",
                    "RELATED,ESTABLISHED,DNAT",
                    "-j",
                    "DROP"
                ],
            );
        }
        self.rule(
            Table::Nat,
            &f.mark_masq,
            args!["-j", "MARK", "--or-mark", masq_mark.clone()],
        );
        self.rule(
            Table::Nat,
            &f.postrouting,
            args!["-m", "mark", "!", "--mark", mark, "-j", "RETURN"],
        );
        self.rule(
            Table::Nat,
            &f.postrouting,
            args!["-j", "MARK", "--xor-mark", masq_mark],
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
        let node_ports = self
            .opts
            .proxy
            .node_ports(Dataplane::Iptables, self.family());
        let guard = node_ports.guards_loopback(self.family());
        match &node_ports {
            NodePorts::AllLocal { .. } => {
                let mut rule = args![
                    "-m",
                    "comment",
                    "--comment",
                    comment,
                    "-m",
                    "addrtype",
                    "--dst-type",
                    "LOCAL"
                ];
                if guard {
                    rule.extend(args!["!", "-d", loopback.to_string()]);
                }
                rule.push("-j".to_owned());
                rules.push(rule);
            }
            NodePorts::Within { nets, .. } => {
                if guard {
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
        for port in &svc.ports {
            if let Some(view) = self.opts.proxy.port(svc, port, family) {
                self.port(&view);
            }
        }
        if let Some(port) = self
            .opts
            .proxy
            .health_check(Dataplane::Iptables, svc, family)
        {
            self.health_check(svc, port);
        }
    }
}

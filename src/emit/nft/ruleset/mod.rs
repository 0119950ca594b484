//! The plan as nftables objects: one table per address family, laid out as kube-proxy's
//! nftables mode lays out its own (see the decisions in `mod.rs`).

mod port;

use super::names;
use super::objects::{
    Chain, ChainType, Element, Family, Hook, Map, Object, Rule, Set, Table, TableRef, Transaction,
};
use super::Options;
use crate::plan::view::{Dataplane, NodePorts};
use crate::plan::{Plan, ServicePlan};
use ipnet::IpNet;
use rayon::prelude::*;
use std::collections::HashSet;

/// Up to this many endpoints, a policy chain picks one with a rule per endpoint
/// (`numgen random mod N-k 0 … dnat to …`, or `goto` the endpoint chain); above it, with one
/// `numgen … vmap { … }`, as kube-proxy does for every size. Each vmap is an anonymous set,
/// and loading many of them in one table is quadratic in nft and the kernel: measured here,
/// 2,000 Services with ten endpoints each took 5.0 s to load with vmaps and 1.2 s with rules;
/// 10,000 took over five minutes. A new connection walks at most this many rules, once
/// (conntrack keeps the NAT).
const SEQUENTIAL_PICK_MAX: usize = 64;

/// Services handled by one parallel task.
const SERVICES_PER_PART: usize = 128;

/// Builds the whole transaction: replace both tables, then fill each family in use.
///
/// Services are turned into commands in parallel, in parts of [`SERVICES_PER_PART`]; the
/// parts are joined phase by phase in Service order, so the text is the same as one pass
/// over the Services would give.
pub(super) fn build(plan: &Plan, opts: &Options) -> Transaction {
    let mut tx = Transaction::new();
    let families = families(plan);
    let tables: Vec<String> = Family::ALL
        .iter()
        .map(|f| format!("{} {}", f.as_str(), opts.table))
        .collect();
    tx.note(&format!(
        "svcc: replaces tables {} in one transaction",
        tables.join(" and ")
    ));
    if let Some(node) = &plan.cluster.node {
        tx.note(&names::comment(&format!("node {node}")));
    }
    for assumption in opts.proxy.assumptions(plan, Dataplane::Nft) {
        tx.note(&format!("assumed: {assumption}"));
    }
    // `add` makes the `delete` safe when a table does not exist yet; a family without
    // addresses is left deleted, so a switch from dual-stack leaves nothing behind.
    for family in Family::ALL {
        let table = TableRef::new(family, &opts.table);
        tx.add(&table, Table::default());
        tx.delete(&table, Table::default());
    }
    for family in families {
        let mut fixed = FamilyWriter::new(family, plan, opts);
        fixed.fixed();
        let mut parts = vec![fixed.render()];
        parts.par_extend(plan.services.par_chunks(SERVICES_PER_PART).map(|services| {
            let mut writer = FamilyWriter::new(family, plan, opts);
            for svc in services {
                writer.service(svc);
            }
            writer.render()
        }));
        join(&mut tx, &TableRef::new(family, &opts.table), parts);
    }
    tx
}

/// Commands of some Services in one family, rendered phase by phase; elements are kept as
/// objects, since the first Service to claim a key keeps it.
struct Part {
    chains: Transaction,
    sets: Transaction,
    rules: Transaction,
    elements: Vec<Element>,
}

/// Appends one family's table: chains, then sets and maps, then rules, then elements, so that
/// each command only names objects that earlier commands created.
fn join(tx: &mut Transaction, table: &TableRef, parts: Vec<Part>) {
    tx.add(
        table,
        Table {
            comment: Some("svcc: Kubernetes Services".to_owned()),
        },
    );
    let mut elements = Vec::with_capacity(parts.len());
    let mut rules = Vec::with_capacity(parts.len());
    let mut sets = Vec::with_capacity(parts.len());
    for part in parts {
        tx.append(part.chains);
        sets.push(part.sets);
        rules.push(part.rules);
        elements.push(part.elements);
    }
    sets.into_iter().for_each(|s| tx.append(s));
    rules.into_iter().for_each(|r| tx.append(r));
    let mut claimed: HashSet<(&str, &[String])> = HashSet::new();
    let keep: Vec<bool> = elements
        .iter()
        .flatten()
        .map(|e| claimed.insert((e.set.as_str(), e.key.as_slice())))
        .collect();
    drop(claimed);
    for (element, keep) in elements.into_iter().flatten().zip(keep) {
        if keep {
            tx.add(table, element);
        }
    }
}

/// The families that get a table: those of the service CIDRs and of any clusterIP.
fn families(plan: &Plan) -> Vec<Family> {
    Family::ALL
        .into_iter()
        .filter(|&f| {
            plan.cluster.service_cidrs.iter().any(|c| f.has(c.addr()))
                || plan
                    .services
                    .iter()
                    .flat_map(|s| &s.cluster_ips)
                    .any(|c| f.has(c.ip))
        })
        .collect()
}

/// A rules-phase line: a rule, or a `#` note heading a Service port's rules.
enum RuleLine {
    Note(String),
    Rule(Rule),
}

/// One family's table, collected by phase so that each command only names objects that
/// earlier commands created: chains, then sets and maps, then rules, then elements.
struct FamilyWriter<'a> {
    family: Family,
    table: TableRef,
    plan: &'a Plan,
    opts: &'a Options,
    chains: Vec<Chain>,
    sets: Vec<Object>,
    rules: Vec<RuleLine>,
    elements: Vec<Element>,
}

impl<'a> FamilyWriter<'a> {
    fn new(family: Family, plan: &'a Plan, opts: &'a Options) -> Self {
        FamilyWriter {
            family,
            table: TableRef::new(family, &opts.table),
            plan,
            opts,
            chains: Vec::new(),
            sets: Vec::new(),
            rules: Vec::new(),
            elements: Vec::new(),
        }
    }

    fn render(self) -> Part {
        let table = &self.table;
        let mut chains = Transaction::new();
        for chain in self.chains {
            chains.add(table, chain);
        }
        let mut sets = Transaction::new();
        for set in self.sets {
            sets.add(table, set);
        }
        let mut rules = Transaction::new();
        for line in self.rules {
            match line {
                RuleLine::Note(note) => rules.note(&note),
                RuleLine::Rule(rule) => rules.add(table, rule),
            }
        }
        Part {
            chains,
            sets,
            rules,
            elements: self.elements,
        }
    }

    /// `ip` or `ip6`, as a payload keyword.
    fn ip(&self) -> &'static str {
        self.family.as_str()
    }

    fn rule(&mut self, rule: Rule) {
        self.rules.push(RuleLine::Rule(rule));
    }

    /// Adds an element; of elements with the same key in the same set or map, [`join`] keeps
    /// the first.
    fn element(
        &mut self,
        set: &'static str,
        key: Vec<String>,
        value: Option<String>,
        comment: Option<String>,
    ) {
        self.elements.push(Element {
            set: set.to_owned(),
            key,
            value,
            comment,
        });
    }

    /// Base chains, the chains, sets and maps every Service shares, and their rules.
    fn fixed(&mut self) {
        use names::*;
        let base = [
            (
                FILTER_PREROUTING_PRE_DNAT,
                ChainType::Filter,
                Hook::Prerouting,
                -110,
            ),
            (
                FILTER_OUTPUT_PRE_DNAT,
                ChainType::Filter,
                Hook::Output,
                -110,
            ),
            (FILTER_INPUT, ChainType::Filter, Hook::Input, 0),
            (FILTER_FORWARD, ChainType::Filter, Hook::Forward, 0),
            (FILTER_OUTPUT, ChainType::Filter, Hook::Output, 0),
            (NAT_PREROUTING, ChainType::Nat, Hook::Prerouting, -100),
            (NAT_OUTPUT, ChainType::Nat, Hook::Output, -100),
            (NAT_POSTROUTING, ChainType::Nat, Hook::Postrouting, 100),
        ];
        for (name, chain_type, hook, priority) in base {
            self.chains
                .push(Chain::base(name, chain_type, hook, priority));
        }
        for name in [
            SERVICES,
            MASQUERADING,
            MARK_FOR_MASQUERADE,
            FIREWALL_CHECK,
            SERVICE_ENDPOINTS_CHECK,
            NODEPORT_ENDPOINTS_CHECK,
            CLUSTER_IPS_CHECK,
        ] {
            self.chains.push(Chain::regular(name));
        }
        self.chains.push(Chain {
            comment: Some("reject is not a verdict: maps goto this chain".to_owned()),
            ..Chain::regular(REJECT_CHAIN)
        });

        let addr = self.family.addr_type();
        self.set(CLUSTER_IPS, addr, vec![], "ClusterIPs in use");
        let node_ports = self.opts.proxy.node_ports(Dataplane::Nft, self.family);
        let node_port_nets = match &node_ports {
            NodePorts::AllLocal { .. } => None,
            NodePorts::Within { nets, node_ips, .. } => {
                let comment = if *node_ips {
                    "addresses that accept NodePorts (--node-ip)"
                } else {
                    "addresses that accept NodePorts (--nodeport-addresses)"
                };
                self.set(NODEPORT_IPS, addr, vec!["interval"], comment);
                Some(nets.clone())
            }
        };
        self.set(
            HAIRPIN_ENDPOINTS,
            &format!("{addr} . {addr}"),
            vec![],
            "every endpoint as source . destination: hairpin connections",
        );
        let by_addr = format!("{addr} . inet_proto . inet_service");
        let by_port = "inet_proto . inet_service".to_owned();
        self.map(
            SERVICE_IPS,
            &by_addr,
            "ClusterIPs, externalIPs and LoadBalancer IPs by protocol and port",
        );
        self.map(SERVICE_NODEPORTS, &by_port, "NodePorts by protocol");
        self.map(
            NO_ENDPOINT_SERVICES,
            &by_addr,
            "service addresses without usable endpoints: drop or reject",
        );
        self.map(
            NO_ENDPOINT_NODEPORTS,
            &by_port,
            "NodePorts without usable endpoints: drop or reject",
        );
        self.map(
            FIREWALL_IPS,
            &by_addr,
            "LoadBalancer IPs restricted by loadBalancerSourceRanges",
        );

        let ct_new = |target: &str| format!("ct state new jump {target}");
        let base_rules = [
            (FILTER_PREROUTING_PRE_DNAT, ct_new(FIREWALL_CHECK)),
            (FILTER_OUTPUT_PRE_DNAT, ct_new(FIREWALL_CHECK)),
            (FILTER_INPUT, ct_new(NODEPORT_ENDPOINTS_CHECK)),
            (FILTER_INPUT, ct_new(SERVICE_ENDPOINTS_CHECK)),
            (FILTER_FORWARD, ct_new(SERVICE_ENDPOINTS_CHECK)),
            (FILTER_FORWARD, ct_new(CLUSTER_IPS_CHECK)),
            (FILTER_OUTPUT, ct_new(SERVICE_ENDPOINTS_CHECK)),
            (FILTER_OUTPUT, ct_new(CLUSTER_IPS_CHECK)),
            (NAT_PREROUTING, format!("jump {SERVICES}")),
            (NAT_OUTPUT, format!("jump {SERVICES}")),
            (NAT_POSTROUTING, format!("jump {MASQUERADING}")),
        ];
        for (chain, rule) in base_rules {
            self.rule(Rule::new(chain, rule));
        }
        let ip = self.ip();
        let tuple = format!("{ip} daddr . meta l4proto . th dport");
        // NodePorts: on every local address but loopback, or on the node IPs or
        // --nodeport-addresses (the `nodeport-ips` set), as the view says.
        let loopback = format!("{ip} daddr != {}", self.family.loopback_text());
        let mut input_match = Vec::new();
        if node_ports.guards_loopback(self.family) {
            input_match.push(loopback);
        }
        if node_port_nets.is_some() {
            input_match.push(format!("{ip} daddr @{NODEPORT_IPS}"));
        }
        let input_match = input_match.join(" ");
        let local_match = format!("fib daddr type local {input_match}");
        let mark = self.opts.proxy.mark_text();
        let mut fixed_rules = vec![
            Rule::new(MARK_FOR_MASQUERADE, format!("mark set mark or {mark}")),
            // Hairpin: an endpoint reached itself through a Service. After DNAT its address
            // is both source and destination (see HAIRPIN_ENDPOINTS in `port.rs`).
            Rule::new(
                MASQUERADING,
                format!(
                    "ct status dnat {ip} saddr . {ip} daddr @{HAIRPIN_ENDPOINTS} \
                     jump {MARK_FOR_MASQUERADE}"
                ),
            )
            .with_comment("an endpoint reaching itself"),
            Rule::new(MASQUERADING, format!("mark and {mark} == 0 return")),
            Rule::new(MASQUERADING, format!("mark set mark xor {mark}")),
            Rule::new(MASQUERADING, "masquerade fully-random"),
            Rule::new(FIREWALL_CHECK, format!("{tuple} vmap @{FIREWALL_IPS}")),
            Rule::new(
                SERVICE_ENDPOINTS_CHECK,
                format!("{tuple} vmap @{NO_ENDPOINT_SERVICES}"),
            ),
            Rule::new(
                NODEPORT_ENDPOINTS_CHECK,
                format!("{input_match} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
            ),
            Rule::new(
                CLUSTER_IPS_CHECK,
                format!("{ip} daddr @{CLUSTER_IPS} reject"),
            )
            .with_comment("a ClusterIP, but no Service port"),
        ];
        let service_cidrs = self.family.nets(&self.plan.cluster.service_cidrs);
        if !service_cidrs.is_empty() {
            fixed_rules.push(
                Rule::new(
                    CLUSTER_IPS_CHECK,
                    format!("{ip} daddr {} drop", anonymous_set(&service_cidrs)),
                )
                .with_comment("in the service CIDR, but no ClusterIP"),
            );
        }
        fixed_rules.extend([
            Rule::new(REJECT_CHAIN, "reject"),
            Rule::new(SERVICES, format!("{tuple} vmap @{SERVICE_IPS}")),
            Rule::new(
                SERVICES,
                format!("{local_match} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
            ),
        ]);
        for rule in fixed_rules {
            self.rule(rule);
        }
        for net in node_port_nets.unwrap_or_default() {
            self.element(NODEPORT_IPS, vec![net.to_string()], None, None);
        }
    }

    fn set(&mut self, name: &str, key_type: &str, flags: Vec<&'static str>, comment: &str) {
        self.sets.push(
            Set {
                name: name.to_owned(),
                key_type: key_type.to_owned(),
                flags,
                timeout: None,
                comment: Some(comment.to_owned()),
            }
            .into(),
        );
    }

    fn map(&mut self, name: &str, key_type: &str, comment: &str) {
        self.sets.push(
            Map {
                name: name.to_owned(),
                key_type: key_type.to_owned(),
                value_type: "verdict".to_owned(),
                comment: Some(comment.to_owned()),
            }
            .into(),
        );
    }

    /// One Service: nothing unless it has a clusterIP of this family.
    fn service(&mut self, svc: &ServicePlan) {
        let family = self.family;
        for c in svc.cluster_ips.iter().filter(|c| family.has(c.ip)) {
            self.element(names::CLUSTER_IPS, vec![c.ip.to_string()], None, None);
        }
        for port in &svc.ports {
            if let Some(view) = self.opts.proxy.port(svc, port, self.family) {
                self.port(&view);
            }
        }
    }
}

/// `{ a, b }`: an anonymous set.
fn anonymous_set(nets: &[IpNet]) -> String {
    let items: Vec<String> = nets.iter().map(ToString::to_string).collect();
    format!("{{ {} }}", items.join(", "))
}

/// One network as itself, several as an anonymous set.
fn single_or_set(nets: &[IpNet]) -> String {
    match nets {
        [one] => one.to_string(),
        _ => anonymous_set(nets),
    }
}

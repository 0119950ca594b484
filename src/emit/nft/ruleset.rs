//! The plan as nftables objects: one table per address family, laid out as kube-proxy's
//! nftables mode lays out its own (see the decisions in `mod.rs`).

use super::names::{self, EndpointNames, PortChains};
use super::objects::{
    Chain, ChainType, Element, Family, Hook, Map, Object, Rule, Set, Table, TableRef, Transaction,
};
use super::Options;
use crate::plan::{Endpoint, Plan, PortPlan, ServicePlan};
use ipnet::IpNet;
use rayon::prelude::*;
use std::collections::HashSet;
use std::net::IpAddr;

/// Up to this many endpoints, a policy chain picks one with a rule per endpoint
/// (`numgen random mod N-k 0 goto …`); above it, with one `numgen … vmap { … }`, as
/// kube-proxy does for every size. Each vmap is an anonymous set, and loading many of them
/// in one table is quadratic in nft and the kernel: measured here, 2,000 Services with ten
/// endpoints each took 5.0 s to load with vmaps and 1.2 s with rules; 10,000 took over five
/// minutes. A new connection walks at most this many rules, once (conntrack keeps the NAT).
const SEQUENTIAL_PICK_MAX: usize = 64;

/// The mark that asks `masquerading` to SNAT a packet (bit 14, as kube-proxy's default).
const MASQ_MARK: &str = "0x4000";

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
            plan.cluster
                .service_cidrs
                .iter()
                .any(|c| Family::of(c.addr()) == f)
                || plan
                    .services
                    .iter()
                    .flat_map(|s| &s.cluster_ips)
                    .any(|c| Family::of(c.ip) == f)
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

    fn in_family(&self, ip: IpAddr) -> bool {
        Family::of(ip) == self.family
    }

    fn nets_in_family(&self, nets: &[IpNet]) -> Vec<IpNet> {
        let nets: Vec<IpNet> = nets
            .iter()
            .filter(|n| self.in_family(n.addr()))
            .copied()
            .collect();
        IpNet::aggregate(&nets)
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
        let node_port_nets = self.nets_in_family(&self.opts.nodeport_addresses);
        if !self.opts.nodeport_addresses.is_empty() {
            self.set(
                NODEPORT_IPS,
                addr,
                vec!["interval"],
                "addresses that accept NodePorts (--nodeport-addresses)",
            );
        }
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
        // NodePorts: on every local address but loopback, or on --nodeport-addresses.
        let loopback = format!("{ip} daddr != {}", self.family.loopback());
        let (local_match, input_match) = if self.opts.nodeport_addresses.is_empty() {
            (format!("fib daddr type local {loopback}"), loopback)
        } else {
            let in_set = format!("{ip} daddr @{NODEPORT_IPS}");
            let guarded = if node_port_nets
                .iter()
                .any(|n| overlaps(n, &self.family.loopback_net()))
            {
                format!("{loopback} {in_set}")
            } else {
                in_set
            };
            (format!("fib daddr type local {guarded}"), guarded)
        };
        let mut fixed_rules = vec![
            Rule::new(MARK_FOR_MASQUERADE, format!("mark set mark or {MASQ_MARK}")),
            Rule::new(MASQUERADING, format!("mark and {MASQ_MARK} == 0 return")),
            Rule::new(MASQUERADING, format!("mark set mark xor {MASQ_MARK}")),
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
        let service_cidrs = self.nets_in_family(&self.plan.cluster.service_cidrs);
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
        for net in node_port_nets {
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
        let cluster_ips: Vec<IpAddr> = svc
            .cluster_ips
            .iter()
            .map(|c| c.ip)
            .filter(|&ip| self.in_family(ip))
            .collect();
        if cluster_ips.is_empty() {
            return;
        }
        for &ip in &cluster_ips {
            self.element(names::CLUSTER_IPS, vec![ip.to_string()], None, None);
        }
        let addresses = Addresses {
            cluster: cluster_ips,
            external: svc
                .external_ips
                .iter()
                .copied()
                .filter(|&ip| self.in_family(ip))
                .collect(),
            load_balancer: svc
                .load_balancer_ips
                .iter()
                .copied()
                .filter(|&ip| self.in_family(ip))
                .collect(),
            source_ranges: self.nets_in_family(&svc.source_ranges),
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

/// What kube-proxy derives for one Service port in one family, from the plan's endpoint
/// choices (the plan decides which endpoints are usable; this only combines them).
struct PortView<'p> {
    port: &'p PortPlan,
    /// Endpoints (indices) for Cluster policy, when the port ever uses that policy.
    cluster: Vec<usize>,
    /// Endpoints for Local policy, when the port ever uses that policy.
    local: Vec<usize>,
    /// A usable endpoint exists anywhere (in this family).
    has_endpoints: bool,
    internal_local: bool,
    external_local: bool,
    externally_accessible: bool,
}

impl<'p> PortView<'p> {
    fn new(svc: &ServicePlan, port: &'p PortPlan, addresses: &Addresses, family: Family) -> Self {
        let in_family = |indices: &[usize]| -> Vec<usize> {
            indices
                .iter()
                .copied()
                .filter(|&i| Family::of(port.endpoints[i].ip) == family)
                .collect()
        };
        let externally_accessible = port.node_port.is_some()
            || !addresses.external.is_empty()
            || !addresses.load_balancer.is_empty();
        let internal_local = svc.internal_traffic_local;
        let external_local = svc.external_traffic_local && externally_accessible;
        // Cluster endpoints serve internal traffic under Cluster policy, and external
        // traffic under Cluster policy or short-circuited under Local policy.
        let uses_cluster = !internal_local || externally_accessible;
        let uses_local = internal_local || external_local;
        let cluster = in_family(&port.cluster);
        let has_endpoints = !cluster.is_empty();
        PortView {
            port,
            cluster: if uses_cluster { cluster } else { Vec::new() },
            local: if uses_local {
                in_family(&port.local)
            } else {
                Vec::new()
            },
            has_endpoints,
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

    /// The verdict for traffic that finds no endpoint: reject when the port has none at
    /// all, drop when it has some but none for this traffic's Local policy.
    fn no_endpoint_verdict(&self) -> String {
        if self.has_endpoints {
            "drop".to_owned()
        } else {
            format!("goto {}", names::REJECT_CHAIN)
        }
    }

    fn endpoint(&self, i: usize) -> &'p Endpoint {
        &self.port.endpoints[i]
    }
}

impl FamilyWriter<'_> {
    fn port(&mut self, svc: &ServicePlan, port: &PortPlan, addresses: &Addresses) {
        let view = PortView::new(svc, port, addresses, self.family);
        let chains = PortChains::new(&svc.namespace, &svc.name, port.protocol, &port.name);
        let text = names::service_port_text(&svc.namespace, &svc.name, &port.name);
        let internal_chain = if view.internal_local {
            &chains.local
        } else {
            &chains.service
        };
        let uses_external = view.has_endpoints && view.externally_accessible;
        let uses_firewall = view.has_endpoints
            && !addresses.load_balancer.is_empty()
            && !svc.source_ranges.is_empty();
        let mut endpoints: Vec<usize> = view.cluster.iter().chain(&view.local).copied().collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        // Each endpoint's names are hashed once: they are named in several commands.
        let mut named: Vec<Option<EndpointNames>> = vec![None; port.endpoints.len()];
        for &i in &endpoints {
            let e = view.endpoint(i);
            named[i] = Some(EndpointNames::new(
                &svc.namespace,
                &svc.name,
                port.protocol,
                &port.name,
                e.ip,
                e.port,
            ));
        }
        let no_names = EndpointNames {
            chain: String::new(),
            affinity: String::new(),
        };
        let endpoint_names = |i: usize| named[i].as_ref().unwrap_or(&no_names);

        // Chains and affinity sets.
        let policy_chains = [
            (&chains.service, &view.cluster),
            (&chains.local, &view.local),
        ];
        for (name, members) in policy_chains {
            if !members.is_empty() {
                self.chains.push(Chain::regular(name.clone()));
            }
        }
        if uses_external {
            self.chains.push(Chain::regular(chains.external.clone()));
        }
        if uses_firewall {
            self.chains.push(Chain::regular(chains.firewall.clone()));
        }
        for &i in &endpoints {
            let names = endpoint_names(i);
            self.chains.push(Chain::regular(names.chain.clone()));
            if let Some(timeout) = svc.affinity_timeout {
                self.sets.push(
                    Set {
                        name: names.affinity.clone(),
                        key_type: self.family.addr_type().to_owned(),
                        flags: vec!["dynamic", "timeout"],
                        timeout: Some(timeout),
                        comment: None,
                    }
                    .into(),
                );
            }
        }

        // Rules.
        let rules_before = self.rules.len();
        self.rules.push(RuleLine::Note(names::comment(&text)));
        let ip = self.ip();
        for (name, members) in policy_chains {
            if members.is_empty() {
                continue;
            }
            if name == internal_chain && view.has_internal_endpoints() {
                self.masquerade_rules(name, &addresses.cluster);
            }
            if svc.affinity_timeout.is_some() {
                for &i in members {
                    let names = endpoint_names(i);
                    self.rule(Rule::new(
                        name,
                        format!("{ip} saddr @{} goto {}", names.affinity, names.chain),
                    ));
                }
            }
            if members.len() <= SEQUENTIAL_PICK_MAX {
                // Endpoint k is taken with probability 1/(N-k) among those left: each of the N
                // is equally likely, and no anonymous map is created (see SEQUENTIAL_PICK_MAX).
                for (k, &i) in members.iter().enumerate() {
                    let left = members.len() - k;
                    let chain = &endpoint_names(i).chain;
                    let rule = if left == 1 {
                        format!("goto {chain}")
                    } else {
                        format!("numgen random mod {left} 0 goto {chain}")
                    };
                    self.rule(Rule::new(name, rule));
                }
            } else {
                let branches: Vec<String> = members
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| format!("{k} : goto {}", endpoint_names(i).chain))
                    .collect();
                self.rule(Rule::new(
                    name,
                    format!(
                        "numgen random mod {} vmap {{ {} }}",
                        members.len(),
                        branches.join(" , ")
                    ),
                ));
            }
        }
        if uses_external {
            self.external_rules(&chains, &view);
        }
        if uses_firewall {
            let rule = if addresses.source_ranges.is_empty() {
                // Ranges of the other family only: none of this family's sources may pass.
                Rule::new(&chains.firewall, "drop")
                    .with_comment("no loadBalancerSourceRanges of this family")
            } else {
                Rule::new(
                    &chains.firewall,
                    format!(
                        "{ip} saddr != {} drop",
                        anonymous_set(&addresses.source_ranges)
                    ),
                )
            };
            self.rule(rule);
        }
        for &i in &endpoints {
            let e = view.endpoint(i);
            let names = endpoint_names(i);
            self.rule(Rule::new(
                &names.chain,
                format!("{ip} saddr {} jump {}", e.ip, names::MARK_FOR_MASQUERADE),
            ));
            if svc.affinity_timeout.is_some() {
                self.rule(Rule::new(
                    &names.chain,
                    format!("update @{} {{ {ip} saddr }}", names.affinity),
                ));
            }
            let target = std::net::SocketAddr::new(e.ip, e.port);
            self.rule(Rule::new(
                &names.chain,
                format!("meta l4proto {} dnat to {target}", port.protocol.as_str()),
            ));
        }
        if self.rules.len() == rules_before + 1 {
            // No rules for this port: drop its heading.
            self.rules.pop();
        }

        // Elements.
        let proto = port.protocol.as_str().to_owned();
        let number = port.port.to_string();
        let key = |ip: &IpAddr| vec![ip.to_string(), proto.clone(), number.clone()];
        let goto = |chain: &str| Some(format!("goto {chain}"));
        let no_endpoints = Some(view.no_endpoint_verdict());
        let comment = Some(names::comment(&text));
        for ip in &addresses.cluster {
            if view.has_internal_endpoints() {
                self.element(names::SERVICE_IPS, key(ip), goto(internal_chain), None);
            } else {
                self.element(
                    names::NO_ENDPOINT_SERVICES,
                    key(ip),
                    no_endpoints.clone(),
                    comment.clone(),
                );
            }
        }
        for ip in addresses.external.iter().chain(&addresses.load_balancer) {
            if uses_external {
                self.element(names::SERVICE_IPS, key(ip), goto(&chains.external), None);
            }
        }
        if uses_firewall {
            for ip in &addresses.load_balancer {
                self.element(names::FIREWALL_IPS, key(ip), goto(&chains.firewall), None);
            }
        }
        if !view.has_external_endpoints() {
            for ip in addresses.external.iter().chain(&addresses.load_balancer) {
                self.element(
                    names::NO_ENDPOINT_SERVICES,
                    key(ip),
                    no_endpoints.clone(),
                    comment.clone(),
                );
            }
        }
        if let Some(node_port) = port.node_port {
            let key = vec![proto.clone(), node_port.port.to_string()];
            if uses_external {
                self.element(
                    names::SERVICE_NODEPORTS,
                    key.clone(),
                    goto(&chains.external),
                    None,
                );
            }
            if !view.has_external_endpoints() {
                self.element(names::NO_ENDPOINT_NODEPORTS, key, no_endpoints, comment);
            }
        }
    }

    /// ClusterIP traffic that may leave the node with a source the endpoint cannot answer
    /// is marked for masquerade: all of it with `--masquerade-all`, else what does not come
    /// from a pod (`--cluster-cidr`); without either, none.
    fn masquerade_rules(&mut self, chain: &str, cluster_ips: &[IpAddr]) {
        let ip = self.ip();
        let pods = self.nets_in_family(&self.opts.cluster_cidrs);
        for cluster_ip in cluster_ips {
            let rule = if self.opts.masquerade_all {
                format!(
                    "{ip} daddr {cluster_ip} jump {}",
                    names::MARK_FOR_MASQUERADE
                )
            } else if !pods.is_empty() {
                format!(
                    "{ip} daddr {cluster_ip} {ip} saddr != {} jump {}",
                    single_or_set(&pods),
                    names::MARK_FOR_MASQUERADE
                )
            } else {
                continue;
            };
            self.rule(Rule::new(chain, rule));
        }
    }

    /// Traffic to NodePorts, externalIPs and LoadBalancer IPs.
    fn external_rules(&mut self, chains: &PortChains, view: &PortView) {
        let ip = self.ip();
        let external = &chains.external;
        if !view.external_local {
            // Endpoints may be on other nodes: masquerade so replies come back here.
            self.rule(Rule::new(
                external,
                format!("jump {}", names::MARK_FOR_MASQUERADE),
            ));
        } else {
            let pods = self.nets_in_family(&self.opts.cluster_cidrs);
            if !pods.is_empty() {
                self.rule(
                    Rule::new(
                        external,
                        format!(
                            "{ip} saddr {} goto {}",
                            single_or_set(&pods),
                            chains.service
                        ),
                    )
                    .with_comment("pods skip the Local policy"),
                );
            }
            self.rule(
                Rule::new(
                    external,
                    format!("fib saddr type local jump {}", names::MARK_FOR_MASQUERADE),
                )
                .with_comment("traffic from this node is masqueraded"),
            );
            self.rule(
                Rule::new(
                    external,
                    format!("fib saddr type local goto {}", chains.service),
                )
                .with_comment("traffic from this node skips the Local policy"),
            );
        }
        if view.has_external_endpoints() {
            let policy = if view.external_local {
                &chains.local
            } else {
                &chains.service
            };
            self.rule(Rule::new(external, format!("goto {policy}")));
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

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

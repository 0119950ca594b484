//! One Service port in one family, lowered from its [`PortView`]: the view decides, these
//! functions only write it, one job each (chains, policy chains, external chain, firewall,
//! endpoint chains, map elements).

use super::super::names::{self, EndpointNames, PortChains};
use super::super::objects::{Chain, Rule, Set};
use super::{anonymous_set, single_or_set, FamilyWriter, RuleLine, SEQUENTIAL_PICK_MAX};
use crate::plan::view::{
    EntryKind, Masquerade, NoEndpoint, Policy, PortView, Source, Step, Target,
};
use ipnet::IpNet;
use std::net::IpAddr;

/// The names one port's commands use, hashed once.
struct PortNames {
    chains: PortChains,
    /// `ns/svc:port`, for comments.
    text: String,
    /// Per endpoint of the port: its chain and affinity set, when it has a chain (see
    /// [`chained`]).
    endpoints: Vec<Option<EndpointNames>>,
    /// Never written: an endpoint without a chain has no names.
    none: EndpointNames,
}

/// Per endpoint of the port, whether it gets an `endpoint-` chain: only where the policy
/// chain cannot DNAT to it in the picking rule itself, that is under ClientIP affinity (the
/// chain refreshes the affinity set) and behind a `numgen` vmap (a verdict names a chain).
/// Every other endpoint is DNATed by its picking rule: no chain, no jump.
fn chained(view: &PortView) -> Vec<bool> {
    let mut chained = vec![false; view.port.endpoints.len()];
    let affinity = view.service.affinity_timeout.is_some();
    for policy in [Policy::Cluster, Policy::Local] {
        let members = view.members(policy);
        if affinity || members.len() > SEQUENTIAL_PICK_MAX {
            for &i in members {
                if let Some(c) = chained.get_mut(i) {
                    *c = true;
                }
            }
        }
    }
    chained
}

impl PortNames {
    fn new(view: &PortView) -> Self {
        let (svc, port) = (view.service, view.port);
        let mut endpoints = vec![None; port.endpoints.len()];
        for (i, _) in chained(view).into_iter().enumerate().filter(|(_, c)| *c) {
            let e = view.endpoint(i);
            endpoints[i] = Some(EndpointNames::new(
                &svc.namespace,
                &svc.name,
                port.protocol,
                &port.name,
                e.ip,
                e.port,
            ));
        }
        PortNames {
            chains: PortChains::new(&svc.namespace, &svc.name, port.protocol, &port.name),
            text: names::service_port_text(&svc.namespace, &svc.name, &port.name),
            endpoints,
            none: EndpointNames {
                chain: String::new(),
                affinity: String::new(),
            },
        }
    }

    /// Endpoint `i`'s names, when it has a chain.
    fn chain(&self, i: usize) -> Option<&EndpointNames> {
        self.endpoints.get(i).and_then(Option::as_ref)
    }

    fn endpoint(&self, i: usize) -> &EndpointNames {
        self.endpoints
            .get(i)
            .and_then(Option::as_ref)
            .unwrap_or(&self.none)
    }

    fn policy(&self, policy: Policy) -> &str {
        match policy {
            Policy::Cluster => &self.chains.service,
            Policy::Local => &self.chains.local,
        }
    }
}

impl FamilyWriter<'_> {
    pub(super) fn port(&mut self, view: &PortView) {
        let names = PortNames::new(view);
        self.port_chains(view, &names);
        let rules_before = self.rules.len();
        self.rules.push(RuleLine::Note(names::comment(&names.text)));
        for policy in [Policy::Cluster, Policy::Local] {
            self.policy_rules(view, &names, policy);
        }
        self.external_rules(view, &names);
        if let Some(allowed) = &view.firewall {
            self.firewall_rule(&names.chains.firewall, allowed);
        }
        self.endpoint_rules(view, &names);
        if self.rules.len() == rules_before + 1 {
            // No rules for this port: drop its heading.
            self.rules.pop();
        }
        self.port_elements(view, &names);
        self.hairpin_elements(view);
    }

    /// The port's chains and affinity sets.
    fn port_chains(&mut self, view: &PortView, names: &PortNames) {
        for policy in [Policy::Cluster, Policy::Local] {
            if !view.members(policy).is_empty() {
                self.chains.push(Chain::regular(names.policy(policy)));
            }
        }
        if view.uses_external_chain() {
            self.chains
                .push(Chain::regular(names.chains.external.clone()));
        }
        if view.firewall.is_some() {
            self.chains
                .push(Chain::regular(names.chains.firewall.clone()));
        }
        for endpoint in view.endpoints().into_iter().filter_map(|i| names.chain(i)) {
            self.chains.push(Chain::regular(endpoint.chain.clone()));
            if let Some(timeout) = view.service.affinity_timeout {
                self.sets.push(
                    Set {
                        name: endpoint.affinity.clone(),
                        key_type: self.family.addr_type().to_owned(),
                        flags: vec!["dynamic", "timeout"],
                        timeout: Some(timeout),
                        comment: None,
                    }
                    .into(),
                );
            }
        }
    }

    /// A policy chain: the masquerade rule (internal chain), affinity, then the pick.
    fn policy_rules(&mut self, view: &PortView, names: &PortNames, policy: Policy) {
        let members = view.members(policy);
        if members.is_empty() {
            return;
        }
        let chain = names.policy(policy);
        if policy == view.internal && view.has_internal_endpoints() {
            self.masquerade_rules(chain, &view.masquerade, &view.cluster_ips);
        }
        let ip = self.ip();
        if view.service.affinity_timeout.is_some() {
            for &i in members {
                let endpoint = names.endpoint(i);
                self.rule(Rule::new(
                    chain,
                    format!("{ip} saddr @{} goto {}", endpoint.affinity, endpoint.chain),
                ));
            }
        }
        if members.len() <= SEQUENTIAL_PICK_MAX {
            // Endpoint k is taken with probability 1/(N-k) among those left: each of the N
            // is equally likely, and no anonymous map is created (see SEQUENTIAL_PICK_MAX).
            // The rule DNATs itself unless the endpoint has a chain (see `chained`).
            for (k, &i) in members.iter().enumerate() {
                let left = members.len() - k;
                let action = match names.chain(i) {
                    Some(endpoint) => format!("goto {}", endpoint.chain),
                    None => self.dnat(view, i),
                };
                let rule = if left == 1 {
                    action
                } else {
                    format!("numgen random mod {left} 0 {action}")
                };
                self.rule(Rule::new(chain, rule));
            }
        } else {
            let branches: Vec<String> = members
                .iter()
                .enumerate()
                .map(|(k, &i)| format!("{k} : goto {}", names.endpoint(i).chain))
                .collect();
            self.rule(Rule::new(
                chain,
                format!(
                    "numgen random mod {} vmap {{ {} }}",
                    members.len(),
                    branches.join(" , ")
                ),
            ));
        }
    }

    /// ClusterIP traffic the view marks for masquerade, one rule per clusterIP.
    fn masquerade_rules(&mut self, chain: &str, masquerade: &Masquerade, cluster_ips: &[IpAddr]) {
        let ip = self.ip();
        let mark = names::MARK_FOR_MASQUERADE;
        for cluster_ip in cluster_ips {
            let rule = match masquerade {
                Masquerade::Never => continue,
                Masquerade::All => format!("{ip} daddr {cluster_ip} jump {mark}"),
                Masquerade::NotFrom(pods) => format!(
                    "{ip} daddr {cluster_ip} {ip} saddr != {} jump {mark}",
                    single_or_set(pods)
                ),
            };
            self.rule(Rule::new(chain, rule));
        }
    }

    /// The external chain, rule by rule as the view lists them.
    fn external_rules(&mut self, view: &PortView, names: &PortNames) {
        let ip = self.ip();
        let external = &names.chains.external;
        for rule in &view.external_rules {
            let from = match &rule.from {
                Source::Any => String::new(),
                Source::Pods(pods) => format!("{ip} saddr {} ", single_or_set(pods)),
                Source::Node => "fib saddr type local ".to_owned(),
            };
            let step = match rule.step {
                Step::Masquerade => format!("jump {}", names::MARK_FOR_MASQUERADE),
                Step::Goto(policy) => format!("goto {}", names.policy(policy)),
            };
            let comment = match (&rule.from, rule.step) {
                (Source::Pods(_), Step::Goto(_)) => Some("pods skip the Local policy"),
                (Source::Node, Step::Masquerade) => Some("traffic from this node is masqueraded"),
                (Source::Node, Step::Goto(_)) => {
                    Some("traffic from this node skips the Local policy")
                }
                _ => None,
            };
            let mut lowered = Rule::new(external, format!("{from}{step}"));
            if let Some(comment) = comment {
                lowered = lowered.with_comment(comment);
            }
            self.rule(lowered);
        }
    }

    /// The firewall chain: sources the view does not admit are dropped.
    fn firewall_rule(&mut self, chain: &str, allowed: &[IpNet]) {
        let rule = if allowed.is_empty() {
            // Ranges of the other family only: none of this family's sources may pass.
            Rule::new(chain, "drop").with_comment("no loadBalancerSourceRanges of this family")
        } else {
            Rule::new(
                chain,
                format!("{} saddr != {} drop", self.ip(), anonymous_set(allowed)),
            )
        };
        self.rule(rule);
    }

    /// `meta l4proto P dnat to ADDR:PORT` for endpoint `i` (nft wants the protocol known
    /// before a port is rewritten).
    fn dnat(&self, view: &PortView, i: usize) -> String {
        let e = view.endpoint(i);
        let target = std::net::SocketAddr::new(e.ip, e.port);
        format!(
            "meta l4proto {} dnat to {target}",
            view.port.protocol.as_str()
        )
    }

    /// Endpoint chains, where there are any: affinity refreshed, then DNAT. Hairpin traffic
    /// is masqueraded in `masquerading`, for every endpoint (see `hairpin_elements`).
    fn endpoint_rules(&mut self, view: &PortView, names: &PortNames) {
        let ip = self.ip();
        for i in view.endpoints() {
            let Some(endpoint) = names.chain(i) else {
                continue;
            };
            if view.service.affinity_timeout.is_some() {
                self.rule(Rule::new(
                    &endpoint.chain,
                    format!("update @{} {{ {ip} saddr }}", endpoint.affinity),
                ));
            }
            self.rule(Rule::new(&endpoint.chain, self.dnat(view, i)));
        }
    }

    /// `hairpin-endpoints` holds `ADDR . ADDR` for every endpoint a policy chain picks: after
    /// DNAT to an endpoint, a source equal to the destination is the endpoint reaching itself
    /// through the Service, and `masquerading` masquerades it (kube-proxy does it with
    /// `ip saddr ADDR` in each endpoint chain; nft cannot compare two packet fields, so one
    /// set lookup on the pair stands in for it). Repeated addresses are kept once.
    fn hairpin_elements(&mut self, view: &PortView) {
        for i in view.endpoints() {
            let ip = view.endpoint(i).ip.to_string();
            self.element(names::HAIRPIN_ENDPOINTS, vec![ip.clone(), ip], None, None);
        }
    }

    /// Map elements of the view's entries: where nat sends each address (and the NodePort),
    /// which LoadBalancer IPs the firewall checks, and the filter's verdicts.
    fn port_elements(&mut self, view: &PortView, names: &PortNames) {
        let proto = view.port.protocol.as_str();
        let key = |entry: &crate::plan::view::Entry| -> Vec<String> {
            match entry.ip {
                Some(ip) => vec![ip.to_string(), proto.to_owned(), entry.port.to_string()],
                None => vec![proto.to_owned(), entry.port.to_string()],
            }
        };
        let target = |t: Target| match t {
            Target::Policy(policy) => format!("goto {}", names.policy(policy)),
            Target::External => format!("goto {}", names.chains.external),
        };
        let verdict = |v: NoEndpoint| match v {
            NoEndpoint::Reject => format!("goto {}", names::REJECT_CHAIN),
            NoEndpoint::Drop => "drop".to_owned(),
        };
        let comment = || Some(names::comment(&names.text));
        let is = |kinds: &[EntryKind]| {
            let kinds = kinds.to_vec();
            move |e: &&crate::plan::view::Entry| kinds.contains(&e.kind)
        };
        let addresses = [EntryKind::ExternalIp, EntryKind::LoadBalancerIp];
        for entry in view.entries.iter().filter(is(&[EntryKind::ClusterIp])) {
            if let Some(t) = entry.nat {
                self.element(names::SERVICE_IPS, key(entry), Some(target(t)), None);
            }
            if let Some(v) = entry.filter {
                self.element(
                    names::NO_ENDPOINT_SERVICES,
                    key(entry),
                    Some(verdict(v)),
                    comment(),
                );
            }
        }
        for entry in view.entries.iter().filter(is(&addresses)) {
            if let Some(t) = entry.nat {
                self.element(names::SERVICE_IPS, key(entry), Some(target(t)), None);
            }
        }
        for entry in view.entries.iter().filter(|e| e.firewall) {
            let goto = format!("goto {}", names.chains.firewall);
            self.element(names::FIREWALL_IPS, key(entry), Some(goto), None);
        }
        for entry in view.entries.iter().filter(is(&addresses)) {
            if let Some(v) = entry.filter {
                self.element(
                    names::NO_ENDPOINT_SERVICES,
                    key(entry),
                    Some(verdict(v)),
                    comment(),
                );
            }
        }
        for entry in view.entries.iter().filter(is(&[EntryKind::NodePort])) {
            if let Some(t) = entry.nat {
                self.element(names::SERVICE_NODEPORTS, key(entry), Some(target(t)), None);
            }
            if let Some(v) = entry.filter {
                self.element(
                    names::NO_ENDPOINT_NODEPORTS,
                    key(entry),
                    Some(verdict(v)),
                    comment(),
                );
            }
        }
    }
}

//! One Service port in one family, lowered from its [`PortView`] into kube-proxy's
//! iptables-mode rules: the view decides, these functions only write it, one job each
//! (dispatch by destination, policy chains, external chain, firewall chain, endpoint chains).

use super::super::names::{self, endpoint_chain, service_port_text, PortChains};
use super::super::restore::Table;
use super::Writer;
use crate::plan::view::{
    Entry, EntryKind, Masquerade, NoEndpoint, Policy, PortView, Source, Step, Target,
};
use crate::plan::ServicePlan;

/// What one port's rules name and match, computed once.
struct PortNames {
    chains: PortChains,
    /// `ns/svc:port`, for comments.
    text: String,
    proto: &'static str,
    dport: String,
}

impl PortNames {
    fn policy(&self, policy: Policy) -> &str {
        match policy {
            Policy::Cluster => &self.chains.cluster,
            Policy::Local => &self.chains.local,
        }
    }

    /// `-m tcp -p tcp -d IP --dport N`.
    fn to(&self, ip: &str) -> Vec<String> {
        args![
            "-m",
            self.proto,
            "-p",
            self.proto,
            "-d",
            ip,
            "--dport",
            self.dport.clone()
        ]
    }

    /// The filter target and comment for traffic that finds no endpoint.
    fn no_endpoint(&self, verdict: NoEndpoint) -> (&'static str, String) {
        match verdict {
            NoEndpoint::Drop => ("DROP", format!("{} has no local endpoints", self.text)),
            NoEndpoint::Reject => ("REJECT", format!("{} has no endpoints", self.text)),
        }
    }
}

/// `-m comment --comment TEXT` followed by `rest`.
fn with_comment(comment: &str, rest: Vec<String>) -> Vec<String> {
    let mut a = args!["-m", "comment", "--comment", names::comment(comment)];
    a.extend(rest);
    a
}

impl Writer<'_> {
    pub(super) fn port(&mut self, view: &PortView) {
        let (svc, port) = (view.service, view.port);
        let names = PortNames {
            chains: PortChains::new(
                &self.opts.prefix,
                &svc.namespace,
                &svc.name,
                &port.name,
                port.protocol,
            ),
            text: service_port_text(&svc.namespace, &svc.name, &port.name),
            proto: port.protocol.as_str(),
            dport: port.port.to_string(),
        };
        self.heading(Table::Nat, &names.text);
        self.heading(Table::Filter, &names.text);
        self.dispatch(view, &names);
        for policy in [Policy::Cluster, Policy::Local] {
            self.policy_chain(view, &names, policy);
        }
        self.external_chain(view, &names);
        self.firewall_chain(view, &names);
        self.endpoint_chains(view, &names);
        self.drop_empty_headings();
    }

    /// `healthCheckNodePort`: accepted on local addresses, as kube-proxy's iptables mode
    /// opens it (in svcc's filter `EXTERNAL-SERVICES`, which `INPUT` jumps to).
    pub(super) fn health_check(&mut self, svc: &ServicePlan, port: u16) {
        let text = format!("{} health check node port", svc.id());
        let chain = self.fixed.external_services.clone();
        let rule = with_comment(
            &text,
            args![
                "-m",
                "addrtype",
                "--dst-type",
                "LOCAL",
                "-m",
                "tcp",
                "-p",
                "tcp",
                "--dport",
                port.to_string(),
                "-j",
                "ACCEPT"
            ],
        );
        self.heading(Table::Filter, &svc.id());
        self.rule(Table::Filter, &chain, rule);
    }

    /// Dispatch by destination, entry by entry: nat `SERVICES` and `NODEPORTS` send traffic
    /// to the port's chains; filter `SERVICES`, `EXTERNAL-SERVICES` and `NODEPORTS` reject or
    /// drop what finds no endpoint; filter `PROXY-FIREWALL` drops what the firewall chain
    /// did not admit.
    fn dispatch(&mut self, view: &PortView, names: &PortNames) {
        let f = self.fixed.clone();
        let of = |kind: EntryKind| view.entries.iter().filter(move |e| e.kind == kind);
        let target = |t: Target, entry: &Entry| match t {
            Target::Policy(policy) => names.policy(policy).to_owned(),
            Target::External if entry.firewall => names.chains.firewall.clone(),
            Target::External => names.chains.external.clone(),
        };
        for entry in of(EntryKind::ClusterIp) {
            let ip = entry.ip.map(|ip| ip.to_string()).unwrap_or_default();
            if let Some(t) = entry.nat {
                let rule = with_comment(&format!("{} cluster IP", names.text), names.to(&ip));
                let jump = args!["-j", target(t, entry)];
                self.rule(Table::Nat, &f.services, [rule, jump].concat());
            }
            if let Some(verdict) = entry.filter {
                let (verdict, comment) = names.no_endpoint(verdict);
                let rule = with_comment(&comment, names.to(&ip));
                self.rule(
                    Table::Filter,
                    &f.services,
                    [rule, args!["-j", verdict]].concat(),
                );
            }
        }
        for (kind, label) in [
            (EntryKind::ExternalIp, "external IP"),
            (EntryKind::LoadBalancerIp, "loadbalancer IP"),
        ] {
            for entry in of(kind) {
                let ip = entry.ip.map(|ip| ip.to_string()).unwrap_or_default();
                if let Some(t) = entry.nat {
                    let rule = with_comment(&format!("{} {label}", names.text), names.to(&ip));
                    let jump = args!["-j", target(t, entry)];
                    self.rule(Table::Nat, &f.services, [rule, jump].concat());
                }
                if entry.firewall {
                    let comment = format!(
                        "{} traffic not accepted by {}",
                        names.text, names.chains.firewall
                    );
                    let rule = with_comment(&comment, names.to(&ip));
                    self.rule(
                        Table::Filter,
                        &f.proxy_firewall,
                        [rule, args!["-j", "DROP"]].concat(),
                    );
                }
            }
        }
        let addresses = view
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::ExternalIp | EntryKind::LoadBalancerIp));
        for entry in addresses {
            if let (Some(verdict), Some(ip)) = (entry.filter, entry.ip) {
                let (verdict, comment) = names.no_endpoint(verdict);
                let rule = with_comment(&comment, names.to(&ip.to_string()));
                self.rule(
                    Table::Filter,
                    &f.external_services,
                    [rule, args!["-j", verdict]].concat(),
                );
            }
        }
        for entry in of(EntryKind::NodePort) {
            let to_port = args![
                "-m",
                names.proto,
                "-p",
                names.proto,
                "--dport",
                entry.port.to_string()
            ];
            if let Some(t) = entry.nat {
                let rule = with_comment(&names.text, to_port.clone());
                let jump = args!["-j", target(t, entry)];
                self.rule(Table::Nat, &f.nodeports, [rule, jump].concat());
            }
            if let Some(verdict) = entry.filter {
                let (verdict, comment) = names.no_endpoint(verdict);
                let rule = with_comment(&comment, to_port);
                self.rule(
                    Table::Filter,
                    &f.nodeports,
                    [rule, args!["-j", verdict]].concat(),
                );
            }
        }
    }

    /// A policy chain: the masquerade rule (internal chain), affinity, then the random pick.
    fn policy_chain(&mut self, view: &PortView, names: &PortNames, policy: Policy) {
        let members = view.members(policy);
        if members.is_empty() {
            return;
        }
        let f = self.fixed.clone();
        let chain = names.policy(policy).to_owned();
        self.declare(Table::Nat, &chain);
        if policy == view.internal && view.has_internal_endpoints() {
            for ip in &view.cluster_ips {
                let matched = with_comment(
                    &format!("{} cluster IP", names.text),
                    names.to(&ip.to_string()),
                );
                let source = match &view.masquerade {
                    Masquerade::Never => continue,
                    Masquerade::All => Vec::new(),
                    Masquerade::NotFrom(pods) => match pods.first() {
                        Some(pods) => args!["!", "-s", pods.to_string()],
                        None => continue,
                    },
                };
                self.rule(
                    Table::Nat,
                    &chain,
                    [matched, source, args!["-j", f.mark_masq.clone()]].concat(),
                );
            }
        }
        let sep = |i: usize| self.endpoint_chain(view, i);
        let seps: Vec<String> = members.iter().map(|&i| sep(i)).collect();
        if let Some(timeout) = view.service.affinity_timeout {
            for (&i, target) in members.iter().zip(&seps) {
                let comment = format!("{} -> {}", names.text, view.endpoint(i).key());
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
                        target.clone()
                    ],
                );
                self.rule(Table::Nat, &chain, rule);
            }
        }
        let n = members.len();
        for (k, (&i, target)) in members.iter().zip(&seps).enumerate() {
            let comment = format!("{} -> {}", names.text, view.endpoint(i).key());
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
            rest.extend(args!["-j", target.clone()]);
            self.rule(Table::Nat, &chain, with_comment(&comment, rest));
        }
    }

    /// The external chain, rule by rule as the view lists them.
    fn external_chain(&mut self, view: &PortView, names: &PortNames) {
        if !view.uses_external_chain() {
            return;
        }
        let f = self.fixed.clone();
        let ext = names.chains.external.clone();
        self.declare(Table::Nat, &ext);
        let text = &names.text;
        for rule in &view.external_rules {
            let target = match rule.step {
                Step::Masquerade => f.mark_masq.clone(),
                Step::Goto(policy) => names.policy(policy).to_owned(),
            };
            let local = args!["-m", "addrtype", "--src-type", "LOCAL"];
            let (comment, from) = match (&rule.from, rule.step) {
                (Source::Any, Step::Masquerade) => (
                    Some(format!(
                        "masquerade traffic for {text} external destinations"
                    )),
                    Vec::new(),
                ),
                (Source::Any, Step::Goto(_)) => (None, Vec::new()),
                (Source::Pods(pods), _) => (
                    Some(format!("pod traffic for {text} external destinations")),
                    match pods.first() {
                        Some(pods) => args!["-s", pods.to_string()],
                        None => continue,
                    },
                ),
                (Source::Node, Step::Masquerade) => (
                    Some(format!(
                        "masquerade LOCAL traffic for {text} external destinations"
                    )),
                    local,
                ),
                (Source::Node, Step::Goto(_)) => (
                    Some(format!(
                        "route LOCAL traffic for {text} external destinations"
                    )),
                    local,
                ),
            };
            let rest = [from, args!["-j", target]].concat();
            let lowered = match comment {
                Some(comment) => with_comment(&comment, rest),
                None => rest,
            };
            self.rule(Table::Nat, &ext, lowered);
        }
    }

    /// loadBalancerSourceRanges: admitted sources go on to the external chain; the rest
    /// falls through unDNATed and the filter `PROXY-FIREWALL` rule drops it.
    fn firewall_chain(&mut self, view: &PortView, names: &PortNames) {
        let Some(allowed) = &view.firewall else {
            return;
        };
        let fw = names.chains.firewall.clone();
        self.declare(Table::Nat, &fw);
        for range in allowed {
            let rule = with_comment(
                &format!("{} loadbalancer IP", names.text),
                args!["-s", range.to_string(), "-j", names.chains.external.clone()],
            );
            self.rule(Table::Nat, &fw, rule);
        }
    }

    /// Endpoint chains: hairpin traffic is masqueraded, then DNAT.
    fn endpoint_chains(&mut self, view: &PortView, names: &PortNames) {
        let mark_masq = self.fixed.mark_masq.clone();
        for i in view.endpoints() {
            let e = view.endpoint(i);
            let chain = self.endpoint_chain(view, i);
            self.declare(Table::Nat, &chain);
            let rule = with_comment(
                &names.text,
                args!["-s", e.ip.to_string(), "-j", mark_masq.clone()],
            );
            self.rule(Table::Nat, &chain, rule);
            let mut rest = Vec::new();
            if view.service.affinity_timeout.is_some() {
                rest = args!["-m", "recent", "--name", chain.clone(), "--set"];
            }
            rest.extend(args![
                "-m",
                names.proto,
                "-p",
                names.proto,
                "-j",
                "DNAT",
                "--to-destination",
                e.key()
            ]);
            self.rule(Table::Nat, &chain, with_comment(&names.text, rest));
        }
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

    fn endpoint_chain(&self, view: &PortView, i: usize) -> String {
        let (svc, port) = (view.service, view.port);
        endpoint_chain(
            &self.opts.prefix,
            &svc.namespace,
            &svc.name,
            &port.name,
            port.protocol,
            &view.endpoint(i).key(),
        )
    }
}

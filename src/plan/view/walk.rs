//! A new connection through one entry of a [`PortView`], rule by rule, as the rulesets
//! lowered from the same view handle it: the source-range firewall, the chain nat sends it
//! to, the external chain's rules, the policy chain's endpoints, hairpin masquerading, and
//! the filter's verdict for what nat did not DNAT. `svcc trace` reports it; nothing here is
//! decided anew.

use super::port::{Entry, Masquerade, NoEndpoint, Policy, PortView, Source, Step, Target};
use super::Proxy;
use std::net::IpAddr;

/// How a connection through one entry ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkVerdict {
    /// DNAT to one of the candidates.
    Dnat,
    Reject,
    Drop,
}

/// What happened to the connection, and what it rested on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    pub verdict: WalkVerdict,
    /// The source-range firewall dropped it.
    pub firewall_dropped: bool,
    /// The policy chain that picked (DNAT), or whose missing endpoints ended it (drop);
    /// `None` when the port has no endpoints at all, or the firewall dropped it.
    pub policy: Option<Policy>,
    /// Endpoints (indices into the port's endpoints) the policy chain picks among.
    pub candidates: Vec<usize>,
    /// The connection is marked for masquerade somewhere on its way (hairpin included).
    pub masquerade: bool,
    /// The pod short-circuit or the node's own rules applied (`externalTrafficPolicy:
    /// Local` skipped).
    pub short_circuit: Option<Source>,
    /// The source was not given, so the firewall could not be checked.
    pub firewall_unchecked: bool,
    /// A rule about traffic from the node itself was passed over because the node's
    /// addresses are unknown (`--node-ip`).
    pub node_unknown: bool,
}

impl PortView<'_> {
    /// A new connection from `from` (unknown: `None`) through `entry`.
    pub fn walk(&self, entry: &Entry, from: Option<IpAddr>, proxy: &Proxy) -> Walk {
        let mut walk = Walk {
            verdict: WalkVerdict::Drop,
            firewall_dropped: false,
            policy: None,
            candidates: Vec::new(),
            masquerade: false,
            short_circuit: None,
            firewall_unchecked: false,
            node_unknown: false,
        };
        if entry.firewall {
            let allowed = self.firewall.as_deref().unwrap_or_default();
            match from {
                Some(f) if !allowed.iter().any(|n| n.contains(&f)) => {
                    walk.firewall_dropped = true;
                    return walk;
                }
                Some(_) => {}
                None => walk.firewall_unchecked = true,
            }
        }
        let chosen = match entry.nat {
            None => None,
            Some(Target::Policy(policy)) => {
                walk.masquerade = match &self.masquerade {
                    Masquerade::Never => false,
                    Masquerade::All => true,
                    Masquerade::NotFrom(pods) => {
                        from.is_some_and(|f| !pods.iter().any(|n| n.contains(&f)))
                    }
                };
                Some(policy)
            }
            Some(Target::External) => self.external_walk(from, proxy, &mut walk),
        };
        let Some(policy) = chosen else {
            walk.verdict = match entry.filter.unwrap_or(NoEndpoint::Drop) {
                NoEndpoint::Reject => WalkVerdict::Reject,
                NoEndpoint::Drop => WalkVerdict::Drop,
            };
            if walk.verdict == WalkVerdict::Drop {
                walk.policy = Some(match entry.nat {
                    Some(Target::Policy(p)) => p,
                    _ if entry.kind == super::EntryKind::ClusterIp => self.internal,
                    _ => self.external.unwrap_or(self.internal),
                });
            }
            return walk;
        };
        walk.policy = Some(policy);
        walk.candidates = self.members(policy).to_vec();
        let hairpin =
            from.is_some_and(|f| walk.candidates.iter().any(|&i| self.endpoint(i).ip == f));
        walk.masquerade |= hairpin;
        walk.verdict = if walk.candidates.is_empty() {
            WalkVerdict::Reject
        } else {
            WalkVerdict::Dnat
        };
        walk
    }

    /// The external chain's rules in order: the first `Goto` that matches ends it.
    fn external_walk(
        &self,
        from: Option<IpAddr>,
        proxy: &Proxy,
        walk: &mut Walk,
    ) -> Option<Policy> {
        for rule in &self.external_rules {
            let matches = match &rule.from {
                Source::Any => true,
                Source::Pods(pods) => from.is_some_and(|f| pods.iter().any(|n| n.contains(&f))),
                Source::Node => match from.map(|f| proxy.is_node(f)) {
                    Some(Some(node)) => node,
                    Some(None) => {
                        walk.node_unknown = true;
                        false
                    }
                    None => false,
                },
            };
            if !matches {
                continue;
            }
            match rule.step {
                Step::Masquerade => walk.masquerade = true,
                Step::Goto(policy) => {
                    if rule.from != Source::Any {
                        walk.short_circuit = Some(rule.from.clone());
                    }
                    return Some(policy);
                }
            }
        }
        None
    }
}

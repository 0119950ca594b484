//! `--target iptables`: the plan as `iptables-restore` input with the semantics of
//! kube-proxy's iptables mode (`docs/reference/dataplane.md` §2). The output is
//! deterministic: the same plan and options give the same bytes.
//!
//! # Decisions
//!
//! **Chains and prefix.** Every chain svcc writes is named `<prefix>-…`, the prefix being
//! `SVCC` unless `--table` says otherwise (1–7 letters, digits or `_`, starting with a letter,
//! so that `<prefix>-SEP-<16 characters>` fits iptables' 28), so svcc and kube-proxy (`KUBE-…`)
//! can run on one node. With `--table KUBE` the names are exactly kube-proxy's, which makes
//! the output diffable against a real node. Shared chains: nat `SERVICES`, `NODEPORTS`,
//! `MARK-MASQ`, `POSTROUTING`; filter `SERVICES`, `EXTERNAL-SERVICES`, `NODEPORTS`, `FORWARD`,
//! `PROXY-FIREWALL`. Per Service port (nat): `SVC-<hash>` (Cluster policy endpoints),
//! `SVL-<hash>` (Local policy endpoints), `EXT-<hash>` (NodePort, externalIP and LoadBalancer
//! traffic), `FW-<hash>` (`loadBalancerSourceRanges`), and `SEP-<hash>` per endpoint; the
//! hashes are kube-proxy's (`names.rs`).
//!
//! **Replacement.** The input is for `iptables-restore --noflush` (other chains of the node
//! stay as they are). Every svcc chain in use is declared with `:NAME - [0:0]`, which creates
//! it or empties it, so one restore replaces all rules of svcc's chains in one transaction;
//! a refused input changes nothing. A chain an earlier output had and this one has not is not
//! named here (the emitter cannot know it): `svcc apply --target iptables` lists svcc's chains
//! on the node and adds `:NAME - [0:0]` and `-X NAME` for the stale ones to the same input.
//!
//! **Jumps from built-in chains.** nat `PREROUTING` and `OUTPUT` jump to `SERVICES`, nat
//! `POSTROUTING` to `POSTROUTING`; filter `INPUT` and `FORWARD` to `EXTERNAL-SERVICES`, filter
//! `FORWARD` and `OUTPUT` to `SERVICES`, filter `FORWARD` to `FORWARD`, and filter `INPUT`,
//! `OUTPUT` and `FORWARD` to `PROXY-FIREWALL`, the filter ones for new connections only (the
//! same hooks as kube-proxy, [`jumps`]). A restore input cannot add a rule to a built-in
//! chain idempotently: under `--noflush` an `-A`/`-I` line adds a copy on every load, and a
//! `-D` line for a rule that is not there makes the whole restore fail. So the jumps are
//! written as `-I <chain> 1` lines at the end of their table only when [`Options::jumps`] is
//! set (`svcc compile` sets it unless `--no-jumps`): then
//! `svcc compile --target iptables | iptables-restore --noflush` works on a fresh node, but
//! loading it a second time duplicates the jumps (harmless for packets, since the chains
//! return or DNAT, but untidy). `svcc apply --target iptables` leaves them out of the compiled
//! input and adds each jump only when `iptables -C` does not find it. They are inserted at the
//! head of their chains, as kube-proxy does, so a firewall's own `DROP` rules further down do
//! not hide Services.
//!
//! **Families.** One input holds one family ([`Options::family`]): IPv4 for
//! `iptables-restore`, or IPv6 (`--family ipv6`) for `ip6tables-restore`. As in the nft
//! target, a Service counts in a family when it has a clusterIP of that family, and then
//! contributes that family's addresses, source ranges and endpoints. `svcc compile` warns on
//! stderr when the plan has addresses of the family it did not write.
//!
//! **Per Service port** (kube-proxy's rules), lowered from `plan::view`
//! ([`crate::plan::view`]), which decides for this target, the nft target and `svcc trace`
//! alike (`ruleset/port.rs` only writes, one function per job):
//! - nat `SERVICES`: clusterIP and port to `SVC` (`SVL` with `internalTrafficPolicy: Local`);
//!   externalIPs to `EXT`; LoadBalancer IPs to `EXT`, or to `FW` when source ranges apply;
//!   last, local destinations (`-m addrtype --dst-type LOCAL`) go on to `NODEPORTS`, which
//!   sends NodePorts to `EXT`.
//! - `SVC`/`SVL`: for ClusterIP traffic, `MARK-MASQ` for sources outside the pod CIDR
//!   (`--cluster-cidr`), or for every source with `--masquerade-all`, or never without either;
//!   with ClientIP affinity one `-m recent --rcheck --seconds <timeout> --reap` rule per
//!   endpoint; then one rule per endpoint, rule `i` of `n` with
//!   `-m statistic --mode random --probability 1/(n−i)` (10 decimals), the last one without.
//! - `SEP`: `-s <endpoint> -j MARK-MASQ` (hairpin), then DNAT (with `-m recent --set` under
//!   affinity).
//! - `EXT`: under Cluster policy, mark for masquerade and go to `SVC`; under Local policy, pods
//!   (`--cluster-cidr`) go to `SVC`, traffic from the node itself is masqueraded and goes to
//!   `SVC`, the rest goes to `SVL` when there is a local endpoint.
//! - `FW`: sources in `loadBalancerSourceRanges` go on to `EXT`; the rest is not DNATed and
//!   filter `PROXY-FIREWALL` drops it.
//! - No usable endpoint: no nat chains; filter `SERVICES` (clusterIP) and
//!   `EXTERNAL-SERVICES`/`NODEPORTS` (externalIPs, LoadBalancer IPs, NodePorts) `REJECT`
//!   (ICMP port unreachable). Endpoints, but none for a Local policy: `DROP` instead.
//! - Masquerade: `MARK-MASQ` ORs the mark (`1 << --masquerade-bit`, `0x4000` by default, as
//!   kube-proxy's `--iptables-masquerade-bit` 14); nat `POSTROUTING` returns for unmarked
//!   packets, clears the mark (so a packet is not masqueraded twice) and masquerades with
//!   `--random-fully`. filter `FORWARD` drops `INVALID` conntrack state and accepts marked or
//!   established forwarded traffic, as kube-proxy does.
//!
//! **NodePorts.** As kube-proxy's iptables mode, on every local address
//! (`-m addrtype --dst-type LOCAL`) whatever the node IPs: but loopback
//! (`! -d 127.0.0.0/8`, `::1/128`) unless `--localhost-nodeports` (IPv4 only, as kube-proxy's
//! `--iptables-localhost-nodeports`, its default): then NodePorts answer on `127.0.0.1` too,
//! masqueraded, and filter `PROXY-FIREWALL` drops new connections to `127.0.0.0/8` from
//! elsewhere that were not DNATed (kube-proxy's `KUBE-FIREWALL` rule against CVE-2020-8558).
//! The node must have `net.ipv4.conf.all.route_localnet=1`, which kube-proxy sets and svcc
//! does not. With `--nodeport-addresses CIDR,…`, on local addresses inside the CIDRs of the
//! family (a family with none gets no NodePorts), loopback only with `--localhost-nodeports`
//! (a loopback CIDR without it is refused: it would do nothing). NodePorts are not subject to
//! `loadBalancerSourceRanges`, as in kube-proxy. A Service's `healthCheckNodePort` is accepted
//! on local addresses (filter `EXTERNAL-SERVICES`), as kube-proxy opens it for its health-check
//! server.
//!
//! **Node addresses.** `--node-ip IP[,IP]` (or `[node] ip` in svcc.toml): a node IP inside a
//! `loadBalancerSourceRanges` range admits the LoadBalancer IPs as sources of the `FW` chain,
//! as kube-proxy does. Without node IPs they are not admitted, and the input says so in an
//! `# assumed:` comment (`svcc compile` and `apply` also on stderr). Traffic from the node
//! itself is recognised by `-m addrtype --src-type LOCAL`, which needs no node IP.
//!
//! **Differences from kube-proxy, on purpose.** The REJECT/DROP rules for NodePorts without
//! endpoints live in filter `NODEPORTS`, reached from the end of `EXTERNAL-SERVICES` with the
//! same destination match as nat (kube-proxy keeps them in `EXTERNAL-SERVICES`). The
//! `healthCheckNodePort` ACCEPT sits in `EXTERNAL-SERVICES`, which `INPUT` enters for new
//! connections only (kube-proxy jumps from `INPUT` to `KUBE-NODEPORTS` for every packet): a
//! host firewall must let established traffic through, as they do. The localnet DROP sits in
//! `PROXY-FIREWALL` (new connections) rather than a `KUBE-FIREWALL` chain of its own, so the
//! jumps from built-in chains stay the same whatever the flags. The no-op last rule of
//! kube-proxy's `FW` chains is left out. One pod CIDR per family (kube-proxy's ClusterCIDR
//! detector takes one); more is an error. Comments name svcc instead of Kubernetes; the mark
//! is printed `0x4000` (kube-proxy prints `0x00004000`). Unlike nft mode (and svcc's nft
//! target), iptables mode neither rejects unknown ports of a clusterIP nor drops unused
//! service-CIDR addresses, and neither does this target. kube-proxy's own packet-flow tests
//! (`corpus/kube-proxy/`) agree with this target in the kernel, case for case.
//!
//! **Order.** `*filter` then `*nat`; in each, the shared chains' declarations, then the
//! per-service ones sorted by name; the shared chains' fixed rules; then each Service port in
//! plan order (namespace, name, spec order) under a `# ns/svc:port` heading; the NodePort
//! dispatch last; then the jumps, if any.
//!
//! **Safety.** Every chain name and argument is checked when written (`restore.rs`): chain
//! names are at most 28 bytes of letters, digits, `-` and `_`; bare arguments have no spaces,
//! quotes, `\` or `#`; comments are printable ASCII without `"` or `\`, at most 255 bytes.
//! A plan string that fails is an [`Error`], and nothing is written.

pub mod names;
pub mod restore;
mod ruleset;

pub use restore::{Jump, Table};

use crate::plan::view::{Dataplane, Proxy, ProxyError};
use crate::plan::Plan;
use std::io::{self, Write};

/// The default chain prefix.
pub const DEFAULT_PREFIX: &str = "SVCC";

/// The address family of one restore input (one type with the plan's).
pub use crate::plan::Family;

/// The tools of each family.
impl Family {
    /// The tool that loads this family's input.
    pub fn restore_tool(self) -> &'static str {
        match self {
            Family::Ipv4 => "iptables-restore",
            Family::Ipv6 => "ip6tables-restore",
        }
    }

    /// The tool for single rules (`-C`).
    pub fn tool(self) -> &'static str {
        match self {
            Family::Ipv4 => "iptables",
            Family::Ipv6 => "ip6tables",
        }
    }

    /// The tool that lists the tables.
    pub fn save_tool(self) -> &'static str {
        match self {
            Family::Ipv4 => "iptables-save",
            Family::Ipv6 => "ip6tables-save",
        }
    }
}

/// What the iptables target needs beyond the plan: where to write, and kube-proxy's knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Prefix of every chain name (`SVCC-SERVICES`, …).
    pub prefix: String,
    /// The family this input is for.
    pub family: Family,
    /// The node's proxy configuration (pod CIDRs, at most one per family as kube-proxy's
    /// ClusterCIDR detector takes; `--masquerade-all`, node IPs, `--nodeport-addresses`,
    /// `--localhost-nodeports`, the masquerade bit), from which `plan::view` decides.
    pub proxy: Proxy,
    /// Write the jumps from built-in chains (`-I PREROUTING 1 …`); see the module doc.
    pub jumps: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: DEFAULT_PREFIX.to_owned(),
            family: Family::Ipv4,
            proxy: Proxy::default(),
            jumps: true,
        }
    }
}

impl Options {
    /// Checks the options as `write` does; the CLI calls it to report bad flags early.
    pub fn validate(&self) -> Result<(), Error> {
        if !names::is_prefix(&self.prefix) {
            return Err(Error::Prefix(self.prefix.clone()));
        }
        self.proxy.validate(Dataplane::Iptables)?;
        for family in Family::ALL {
            let pods = self.proxy.pods(family);
            if pods.len() > 1 {
                return Err(Error::ClusterCidrs {
                    family: family.name(),
                    cidrs: pods.iter().map(ToString::to_string).collect(),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "chain prefix `{0}` must start with a letter and hold only letters, digits and `_` \
         (at most 7, so that chain names fit iptables' 28)"
    )]
    Prefix(String),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(
        "the iptables target takes one --cluster-cidr per family (kube-proxy's ClusterCIDR \
         detector), got {family} {}", cidrs.join(", ")
    )]
    ClusterCidrs {
        family: &'static str,
        cidrs: Vec<String>,
    },
    /// A name or text iptables-restore would misread; the plan's invariants rule it out.
    #[error("{what} `{text}`: {reason}")]
    Invalid {
        what: &'static str,
        text: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the plan as restore input for `opts.family`. On error nothing has been written.
pub fn write(plan: &Plan, opts: &Options, out: &mut dyn Write) -> Result<(), Error> {
    out.write_all(render(plan, opts)?.as_bytes())?;
    Ok(())
}

/// The plan as restore input for `opts.family` ([`write`] without the copy into a writer).
pub fn render(plan: &Plan, opts: &Options) -> Result<String, Error> {
    opts.validate()?;
    ruleset::build(plan, opts)?.to_text()
}

/// The jumps from built-in chains into the chains with `prefix`, in the order they are
/// inserted (each at the head of its chain).
pub fn jumps(prefix: &str) -> Vec<Jump> {
    ruleset::jumps(prefix)
}

/// Whether the plan has addresses of `family` (service CIDRs or clusterIPs): a family that
/// has none gives an input with svcc's shared chains only.
pub fn uses_family(plan: &Plan, family: Family) -> bool {
    plan.cluster
        .service_cidrs
        .iter()
        .any(|c| family.has(c.addr()))
        || plan
            .services
            .iter()
            .flat_map(|s| &s.cluster_ips)
            .any(|c| family.has(c.ip))
}

/// Whether `chain` is one of svcc's chains for `prefix` (and so may be deleted when stale).
pub fn is_own_chain(prefix: &str, chain: &str) -> bool {
    chain
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(nodeport_addresses: &[&str], localhost: bool, pods: &[&str]) -> Options {
        let nets = |l: &[&str]| l.iter().map(|n| n.parse().unwrap()).collect();
        Options {
            proxy: Proxy {
                nodeport_addresses: nets(nodeport_addresses),
                localhost_nodeports: localhost,
                cluster_cidrs: nets(pods),
                ..Proxy::default()
            },
            ..Options::default()
        }
    }

    #[test]
    fn options_are_checked() {
        assert!(Options::default().validate().is_ok());
        for (opts, ok) in [
            (
                Options {
                    prefix: "TOOLONGX".into(),
                    ..Options::default()
                },
                false,
            ),
            (proxy(&["127.0.0.1/32"], false, &[]), false),
            // Loopback NodePorts with --localhost-nodeports (IPv4 only).
            (proxy(&["127.0.0.1/32"], true, &[]), true),
            (proxy(&["::1/128"], true, &[]), false),
            (proxy(&[], false, &["10.0.0.0/16", "10.2.0.0/16"]), false),
            // Adjacent networks aggregate to one.
            (
                proxy(&[], false, &["10.0.0.0/16", "10.1.0.0/16", "fd00::/64"]),
                true,
            ),
        ] {
            assert_eq!(opts.validate().is_ok(), ok, "{opts:?}");
        }
    }

    #[test]
    fn own_chains() {
        assert!(is_own_chain("SVCC", "SVCC-SEP-ABC"));
        assert!(!is_own_chain("SVCC", "SVCCX-SEP-ABC"));
        assert!(!is_own_chain("SVCC", "KUBE-SERVICES"));
        assert!(!is_own_chain("SVCC", "SVCC"));
    }
}

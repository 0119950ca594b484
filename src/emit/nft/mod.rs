//! `--target nft`: the plan as an `nft -f` batch with the semantics of kube-proxy's nftables
//! mode (`docs/reference/dataplane.md` §1). The output is plain `add`/`delete`
//! commands, one per line, deterministic: the same plan gives the same bytes.
//!
//! # Decisions
//!
//! **Tables and replacement.** Everything lives in `table ip <name>` (IPv4) and
//! `table ip6 <name>` (IPv6), `<name>` being `svcc` unless `--table` says otherwise, so svcc
//! and kube-proxy (`kube-proxy` tables) can run side by side. The batch starts, for both
//! families, with `add table` then `delete table` (the `add` makes the `delete` valid when the
//! table does not exist), then creates the tables in use anew. `nft -f` applies a file as one
//! transaction, so loading an output replaces whatever an earlier output left, atomically: a
//! chain or element that is not in the new output is gone, and a failing batch changes
//! nothing. A family is in use when a service CIDR or a clusterIP is of that family; the other
//! family's table is deleted and not re-created, so moving from dual-stack to single-stack
//! leaves nothing behind.
//!
//! **Families.** Each family's table is what a kube-proxy for that family would write: a
//! Service counts only if it has a clusterIP of the family; it then contributes that family's
//! clusterIP, externalIPs, LoadBalancer IPs, source ranges and endpoints, and its NodePorts.
//! Headless and ExternalName Services have no clusterIP and produce nothing.
//!
//! **Decisions come from the view.** Every per-port decision (which chain each address goes
//! to, the endpoints of each policy chain, masquerading, the external chain's rules, the
//! firewall's admitted sources, drop or reject) is `plan::view`'s ([`crate::plan::view`]),
//! the same that the iptables target and `svcc trace` read; this target only writes it in
//! nft's words (`ruleset/port.rs`, one function per job).
//!
//! **Layout** (kube-proxy's current one, with base-chain priorities):
//! `filter-prerouting-pre-dnat` and `filter-output-pre-dnat` (-110) jump to `firewall-check`
//! for new connections, so `loadBalancerSourceRanges` see the address before DNAT;
//! `nat-prerouting` and `nat-output` (-100) jump to `services`; `filter-input` (0) checks
//! `nodeport-endpoints-check` and `service-endpoints-check`; `filter-forward` and
//! `filter-output` (0) check `service-endpoints-check` and `cluster-ips-check` after DNAT, so
//! traffic that was already DNATed is never dropped there; `nat-postrouting` (100) jumps to
//! `masquerading`. Maps: `service-ips` and `service-nodeports` dispatch to per-port chains;
//! `no-endpoint-services` and `no-endpoint-nodeports` hold `drop` or `goto reject-chain`
//! (`reject` is not a verdict); `firewall-ips` sends LoadBalancer IPs with source ranges to a
//! `firewall-` chain. Set `cluster-ips` holds every clusterIP in use; set
//! `hairpin-endpoints` (`ADDR . ADDR` for every endpoint) finds hairpin connections in
//! `masquerading`.
//!
//! **Per Service port** (names: see `names.rs`): `service-` chains pick among the Cluster
//! policy endpoints, `local-` chains among the Local policy endpoints, in the plan's endpoint
//! order: up to 64 endpoints with a rule each that DNATs by itself,
//! `numgen random mod N-k 0 meta l4proto P dnat to ADDR:PORT` (the last one without
//! `numgen`), each endpoint equally likely; above 64 with one rule
//! `numgen random mod N vmap { 0 : goto endpoint-… , … }`. `endpoint-` chains exist only
//! where a rule cannot DNAT by itself: behind that vmap (a verdict names a chain) and under
//! ClientIP affinity (the chain refreshes the affinity set, then DNATs); the picking rule
//! then says `goto endpoint-…`. `external-` chains handle NodePort, externalIP and
//! LoadBalancer traffic; `firewall-` chains drop sources outside `loadBalancerSourceRanges`.
//! - ClientIP affinity: one `affinity-` set per endpoint (`flags dynamic,timeout`, the
//!   Service's timeout), checked before `numgen` (`ip saddr @affinity-… goto endpoint-…`) and
//!   refreshed in the endpoint chain. The key is the client address only, whichever Service
//!   address it used.
//! - Hairpin (an endpoint reaching itself through its Service): after DNAT the endpoint's
//!   address is both source and destination. The first rule of `masquerading` (nat
//!   postrouting) sends `ct status dnat` connections whose `saddr . daddr` is in
//!   `hairpin-endpoints` to `mark-for-masquerade`; the rules after it clear the mark and
//!   masquerade, as for any marked connection.
//! - No usable endpoint at all: no chains; the clusterIP, externalIPs, LoadBalancer IPs and
//!   NodePorts map to `goto reject-chain` (ICMP port unreachable).
//! - `internalTrafficPolicy: Local` without a local endpoint: the clusterIP maps to `drop`.
//! - `externalTrafficPolicy: Local`: the external chain sends pods (`--cluster-cidr`) and
//!   the node itself (`fib saddr type local`, masqueraded) to the Cluster policy chain, the
//!   rest to the `local-` chain; without a local endpoint the rest falls through without
//!   DNAT, and the `drop` entry of `no-endpoint-services`/`no-endpoint-nodeports` stops it
//!   in the filter chains. Without `--node` no endpoint is local.
//! - Wrong port on a clusterIP: `reject`; an address of the service CIDR that no Service
//!   uses: `drop` (`cluster-ips-check`).
//!
//! **Masquerade.** `mark-for-masquerade` sets the mark (`1 << --masquerade-bit`, `0x4000` by
//! default, as kube-proxy's `--iptables-masquerade-bit` 14); `masquerading` clears it and
//! masquerades (`fully-random`). ClusterIP traffic is marked when it does not come from a
//! pod (`--cluster-cidr`), or always with `--masquerade-all`; without either it never is
//! (as kube-proxy without a local-traffic detector). External traffic under Cluster policy is
//! always marked, under Local policy only when it comes from the node itself.
//!
//! **Node addresses.** `--node-ip IP[,IP]` (or `[node] ip` in svcc.toml) gives the node's
//! primary IPs, as kube-proxy knows them from its Node object. With them, NodePorts answer on
//! those IPs only (the interval set `nodeport-ips`, kube-proxy's default
//! `--nodeport-addresses primary`; a family without a node IP gets no NodePorts), and a node
//! IP inside a `loadBalancerSourceRanges` range admits the LoadBalancer IPs as sources (the
//! node's own traffic to a LoadBalancer IP it holds leaves with that IP as source). Traffic
//! from the node itself is recognised by `fib saddr type local`, which needs no node IP.
//! Without node IPs, NodePorts answer on every local address but loopback
//! (`fib daddr type local ip daddr != 127.0.0.0/8`, `ip6 daddr != ::1`), LoadBalancer IPs are
//! not admitted, and the batch says so in `# assumed:` comments (`svcc compile` and `apply`
//! also on stderr). `--nodeport-addresses CIDR,…` wins over both: NodePorts answer on local
//! addresses inside the CIDRs of each family, loopback excluded, as kube-proxy answers on the
//! node's addresses inside them. NodePorts are not subject to `loadBalancerSourceRanges`, as
//! in kube-proxy, and `healthCheckNodePort` gets no rule (kube-proxy's nftables mode opens no
//! firewall holes).
//!
//! **Differences from kube-proxy, on purpose.** NodePort addresses are matched in the kernel
//! (`fib daddr type local` and the set) rather than listed at sync time from the node's
//! interfaces; with `--node-ip` the set holds the node IPs, and `fib` keeps a wrong
//! `--node-ip` from opening NodePorts on an address the node does not have. Source ranges of
//! only the other family make the firewall drop every source of this family (fail closed).
//! When two Services claim the same map key (an externalIP and port, say), the first in plan
//! order keeps it; nft would refuse the batch otherwise. The mark is printed `0x4000`
//! (kube-proxy: `0x00004000`). kube-proxy's own packet-flow tests (`corpus/kube-proxy/`)
//! agree with this target in the kernel, case for case.
//!
//! **Differences from kube-proxy's layout, for load time.** kube-proxy's layout costs a
//! chain and three or four rules per endpoint (the pick, hairpin, affinity, DNAT); at 10,000
//! Services (about 100,000 endpoints) that was 121,000 chains and 338,000 rules, and `nft -f`
//! of it took 9.6 s, mostly per-chain and per-rule work in nft and the kernel plus the
//! kernel's linear search of sets by name. The departures, none visible to packets (the
//! layout below loads the same cluster with 18,000 chains and 126,000 rules):
//! - Endpoints are picked by rules up to 64 endpoints (above, kube-proxy's `numgen` vmap):
//!   every vmap is an anonymous set, and loading thousands of them in one table is quadratic
//!   (10,000 Services took over five minutes to load; see `ruleset/mod.rs`).
//! - The picking rule DNATs itself; `endpoint-` chains remain only behind the vmap and under
//!   affinity (above). kube-proxy jumps to an endpoint chain for every endpoint.
//! - Hairpin masquerade is one set and one rule in `masquerading` (above), not
//!   `ip saddr ADDR jump mark-for-masquerade` in each endpoint chain: nft 1.0.6 (Debian
//!   bookworm) cannot compare two packet fields (`ip saddr == ip daddr` is a syntax error),
//!   so the lookup of the pair in a set stands in for it. The connection is marked in nat
//!   postrouting instead of nat prerouting/output; nothing of this table reads the mark in
//!   between. As kube-proxy's rule, it takes connections whose source is the endpoint they
//!   were DNATed to; it would also take such a connection DNATed by another table.
//! - Affinity sets are named `affinity-<HASH16>` (see `names.rs`), not with kube-proxy's
//!   long names: the kernel finds a set by walking the table's sets and comparing whole
//!   names, once when the set is added and once per rule that names it; with ~4,800 affinity
//!   sets at 10,000 Services that walk was a third of the load (`perf`), mostly comparing
//!   names, and the short names take about 1 s of CPU off it. The walk stays quadratic in the number of sets (see
//!   `names.rs`).
//!
//! **Order inside the batch**, per family: the table, chains, sets and maps, rules, elements
//! (an element's verdict names a chain and a rule names sets and maps, so each command only
//! names what earlier commands created). Within each phase: the fixed objects, then Services
//! in plan order (namespace, name), ports in spec order, endpoints in plan order. Adding a
//! Service only adds that Service's lines and its map elements.
//!
//! **Safety.** Every name and text is checked as it is added to the transaction
//! (`objects.rs`): names are nft identifiers of at most 255 bytes, comments are printable
//! ASCII without quotes and at most 128 bytes, rule and element text cannot end a command.
//! A plan string that fails is an [`Error`], and nothing is written.

mod removal;
pub use removal::removal;
pub mod names;
pub mod objects;
mod ruleset;

use std::io::{self, Write};

use crate::plan::view::{Dataplane, Proxy, ProxyError};
use crate::plan::Plan;
use objects::Transaction;

/// The default table name (both families).
pub const DEFAULT_TABLE: &str = "svcc";

/// Longest `--table` name.
pub const MAX_TABLE_NAME: usize = 64;

/// What the nft target needs beyond the plan: the table's name and kube-proxy's knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Name of the `ip` and `ip6` tables.
    pub table: String,
    /// The node's proxy configuration (pod CIDRs, `--masquerade-all`, node IPs,
    /// `--nodeport-addresses`, the masquerade bit), from which `plan::view` decides.
    pub proxy: Proxy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            table: DEFAULT_TABLE.to_owned(),
            proxy: Proxy::default(),
        }
    }
}

impl Options {
    /// Checks the options as `write` does; the CLI calls it to report bad flags early.
    pub fn validate(&self) -> Result<(), Error> {
        validate_table_name(&self.table)?;
        self.proxy.validate(Dataplane::Nft)?;
        Ok(())
    }
}

/// A table name: `[a-zA-Z][a-zA-Z0-9_-]*`, at most [`MAX_TABLE_NAME`] bytes.
pub fn validate_table_name(name: &str) -> Result<(), Error> {
    let mut bytes = name.bytes();
    let ok = name.len() <= MAX_TABLE_NAME
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::TableName(name.to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "table name `{0}` must start with a letter and hold only letters, digits, `_` and `-` \
         (at most 64)"
    )]
    TableName(String),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// A name or text that nft would misread; the plan's invariants rule it out.
    #[error("{kind} `{name}`: {reason}")]
    Invalid {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the plan as an `nft -f` batch. On error nothing has been written.
pub fn write(plan: &Plan, opts: &Options, out: &mut dyn Write) -> Result<(), Error> {
    build(plan, opts)?.write(out)
}

/// The plan as the text of an `nft -f` batch.
pub fn render(plan: &Plan, opts: &Options) -> Result<String, Error> {
    build(plan, opts)?.into_text()
}

/// The plan as a validated batch, ready to be written (the text is kept in pieces: a large
/// ruleset is not copied into one string).
pub fn build(plan: &Plan, opts: &Options) -> Result<Transaction, Error> {
    opts.validate()?;
    let tx = ruleset::build(plan, opts);
    tx.validate()?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for good in ["svcc", "a", "kube-proxy2", "A_b-c", &"x".repeat(64)] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1svcc",
            "-x",
            "_x",
            "a b",
            "a;b",
            "a.b",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_nodeport_addresses_are_refused() {
        for (cidr, ok) in [
            ("127.0.0.0/8", false),
            ("127.0.0.1/32", false),
            ("::1/128", false),
            ("0.0.0.0/0", true),
            ("192.168.0.0/16", true),
            ("::/0", true),
        ] {
            let opts = Options {
                proxy: Proxy {
                    nodeport_addresses: vec![cidr.parse().unwrap()],
                    ..Proxy::default()
                },
                ..Options::default()
            };
            assert_eq!(opts.validate().is_ok(), ok, "{cidr}");
        }
    }
}

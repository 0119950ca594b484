//! Emit stage: the plan rendered for each target. Targets are dumb: they import only `plan`,
//! format it, and decide nothing (docs/design.md principle 4).

pub mod dns;
pub mod hash;
pub mod iptables;
pub mod nft;
pub mod plan_json;

/// What `svcc compile --target` can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The plan as JSON (the contract every other target is rendered from)
    Plan,
    /// The cluster DNS zone as an RFC 1035 master file (`--reverse --out-dir` adds PTR zones)
    Dns,
    /// An `nft -f` batch with kube-proxy's nftables-mode semantics (tables `ip`/`ip6` svcc)
    Nft,
    /// `iptables-restore --noflush` input with kube-proxy's iptables-mode semantics (chains
    /// `SVCC-*`; `--family ipv6` for `ip6tables-restore`)
    Iptables,
}

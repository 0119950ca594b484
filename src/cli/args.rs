//! The flags, as data: clap derives the parser, `--help`, and shell completions from these
//! structs.

use crate::report::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A compiler for Kubernetes Service networking: checks Services, Endpoints, EndpointSlices and
/// the workloads they select the way the API server would, and points at the line.
#[derive(Debug, Parser)]
#[command(name = "svcc", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests and report problems (exit 1 when errors are found)
    #[command(alias = "lint")]
    Check(CheckArgs),
    /// Compile manifests for a node: writes the target to stdout, nothing when there are errors
    Compile(CompileArgs),
    /// Compile for this node and apply: ruleset in one transaction, then the zone files
    Apply(ApplyArgs),
    /// Where a packet to IP:PORT/PROTO goes, and why
    Trace(TraceArgs),
    /// What a change does to the dataplane and DNS (exit 1 when it removes reachability)
    Diff(DiffArgs),
    /// Draw Services, the workloads and endpoints they reach, and what is dangling
    Graph(GraphArgs),
    /// List the rules svcc checks
    Rules(RulesArgs),
    /// Explain one rule: what it checks, why, and examples
    Explain {
        /// Rule id, e.g. `nodeport-out-of-range`
        id: String,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// What svcc needs to know about the cluster. Flags win over `svcc.toml`.
#[derive(Debug, Args, Default)]
pub struct ClusterArgs {
    /// Service CIDR(s): one CIDR, or one IPv4 and one IPv6 CIDR for a dual-stack cluster
    /// [default: 10.96.0.0/12]
    #[arg(long, global = true, value_delimiter = ',', value_name = "CIDR[,CIDR]")]
    pub service_cidr: Vec<String>,
    /// Range of ports for NodePort Services [default: 30000-32767]
    #[arg(long, global = true, value_name = "FIRST-LAST")]
    pub node_port_range: Option<String>,
    /// Cluster DNS domain [default: cluster.local]
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub cluster_domain: Option<String>,
    /// Kubernetes version whose schemas and rules apply (1.33-1.37) [default: 1.37]
    #[arg(long, global = true, value_name = "1.N")]
    pub kubernetes_version: Option<String>,
    /// Namespace of objects that name none [default: default]
    #[arg(long, short = 'n', global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Configuration file [default: the nearest svcc.toml in this directory or a parent]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Files applied together, checked as one unit (repeatable; `**` for the whole input)
    /// [default: each file, and each kustomize root, is a unit]
    #[arg(long, global = true, value_name = "GLOB")]
    pub apply_together: Vec<String>,
    /// When to use colours in human output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

impl ClusterArgs {
    /// What these flags say for [`crate::config::Settings::resolve`].
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            service_cidr: self.service_cidr.clone(),
            node_port_range: self.node_port_range.clone(),
            cluster_domain: self.cluster_domain.clone(),
            kubernetes_version: self.kubernetes_version.clone(),
            namespace: self.namespace.clone(),
            config: self.config.clone(),
            apply_together: self.apply_together.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories to check (`-` reads standard input) [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 1 when there are warnings, not only errors
    #[arg(long)]
    pub deny_warnings: bool,
    /// Check and report only objects whose labels match, e.g. `app=web,tier in (a,b),!canary`
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Options of the DNS target.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// TTL of the zone's records, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=2147483647))]
    pub ttl: u32,
    /// Address of `ns.dns.<zone>` when the input has no kube-system/kube-dns Service
    /// [default: the 10th address of the service CIDR]
    #[arg(long, value_name = "IP")]
    pub dns_address: Option<std::net::IpAddr>,
    /// Also produce PTR zones (`in-addr.arpa`, `ip6.arpa`); needs `--out-dir`
    #[arg(long)]
    pub reverse: bool,
    /// Address ranges of the PTR zones, each split on octet (IPv4) or nibble (IPv6)
    /// boundaries: one zone file per piece, whatever the data [default: the service CIDRs and
    /// `--cluster-cidr`]
    #[arg(
        long,
        requires = "reverse",
        value_delimiter = ',',
        value_name = "CIDR[,CIDR...]"
    )]
    pub reverse_zones: Vec<String>,
    /// Which records: `coredns` adds what CoreDNS's kubernetes plugin answers beyond the
    /// Kubernetes DNS specification (SRV at the Service name, endpoint names and PTRs for
    /// every Service); `spec` writes the specification's records only
    #[arg(long, value_enum, default_value_t = crate::emit::dns::Style::Coredns, value_name = "STYLE")]
    pub dns_style: crate::emit::dns::Style,
    /// Write each zone to DIR/db.<zone> instead of the forward zone to stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Fixed SOA serial [default: derived from the zone's content]
    #[arg(long, value_name = "N")]
    pub serial: Option<u32>,
}

const NFT_HEADING: &str = "nft and iptables targets";

/// Options of `--target nft` and `--target iptables` (kube-proxy's knobs). Each flag names its
/// help heading, so the heading does not spill onto the flags that follow in other commands.
#[derive(Debug, Args)]
pub struct NftArgs {
    /// nft: name of the `ip` and `ip6` tables the ruleset replaces [default: svcc]; iptables:
    /// prefix of every chain name, at most 7 characters [default: SVCC]
    #[arg(long, help_heading = NFT_HEADING, value_name = "NAME")]
    pub table: Option<String>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// kube-proxy's configuration of the node, shared by `compile`, `apply` and `trace`: what
/// changes where traffic goes (`plan::view` decides from it).
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Pod CIDR(s): ClusterIP traffic from outside them is masqueraded, and pods skip
    /// `externalTrafficPolicy: Local` [default: none, no masquerading of ClusterIP traffic];
    /// with `--target dns --reverse`, they are reverse zones too (endpoint PTRs)
    #[arg(long, help_heading = NFT_HEADING, value_delimiter = ',', value_name = "CIDR[,CIDR]")]
    pub cluster_cidr: Vec<String>,
    /// Masquerade all traffic to ClusterIPs
    #[arg(long, help_heading = NFT_HEADING)]
    pub masquerade_all: bool,
    /// NodePorts answer only on local addresses inside these CIDRs [default: nft, the node
    /// IPs (--node-ip), else every local address but loopback; iptables, every local address
    /// but loopback]
    #[arg(long, help_heading = NFT_HEADING, value_delimiter = ',', value_name = "CIDR[,CIDR]")]
    pub nodeport_addresses: Vec<String>,
    /// The node's primary IPs, at most one per family: nft NodePorts answer there by default,
    /// traffic from them is the node's own, and a node IP inside `loadBalancerSourceRanges`
    /// admits the LoadBalancer IPs [default: `[node] ip` of svcc.toml, else unknown]
    #[arg(long, help_heading = NFT_HEADING, value_delimiter = ',', value_name = "IP[,IP]")]
    pub node_ip: Vec<String>,
    /// Bit of the packet mark that asks for masquerading (kube-proxy's
    /// `--iptables-masquerade-bit`) [default: 14, mark 0x4000]
    #[arg(long, help_heading = NFT_HEADING, value_name = "BIT",
          value_parser = clap::value_parser!(u8).range(0..=31))]
    pub masquerade_bit: Option<u8>,
    /// iptables: NodePorts also answer on 127.0.0.1 (kube-proxy's
    /// `--iptables-localhost-nodeports`); the node needs `net.ipv4.conf.all.route_localnet=1`
    #[arg(long, help_heading = NFT_HEADING)]
    pub localhost_nodeports: bool,
}

/// Options of `--target iptables` only.
#[derive(Debug, Args)]
#[command(next_help_heading = "iptables target")]
pub struct IptablesArgs {
    /// Address family of the restore input: ipv4 for `iptables-restore`, ipv6 for
    /// `ip6tables-restore`
    #[arg(long, value_enum, value_name = "FAMILY")]
    pub family: Option<crate::emit::iptables::Family>,
    /// Leave out the jumps from built-in chains (`-I PREROUTING 1 -j SVCC-SERVICES`, …);
    /// without this flag, loading the output twice duplicates them
    #[arg(long)]
    pub no_jumps: bool,
}

/// Bounds on hostile input.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Largest input file, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::inputs::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_size: u64,
    /// Deepest nesting of YAML lists and maps
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_depth: usize,
    /// Most nodes that YAML aliases may expand to, per document
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_alias_nodes: usize,
    /// Most documents in one file
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_documents: usize,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = RulesFormat::Human)]
    pub format: RulesFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Files or directories to compile (`-` reads standard input) [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// What to produce
    #[arg(long, short = 't', value_enum)]
    pub target: crate::emit::Target,
    /// The node to compile for: its endpoints are local (traffic policy `Local`)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Format of diagnostics, which go to standard error
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Only report errors on standard error (no warnings or allocation notes)
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Check and compile only objects whose labels match
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
    #[command(flatten)]
    pub nft: NftArgs,
    #[command(flatten)]
    pub iptables: IptablesArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Files or directories (`-` reads standard input) [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Graphviz DOT (`dot -Tsvg`) or Mermaid
    #[arg(long, value_enum, default_value_t = crate::explain::graph::GraphFormat::Dot)]
    pub format: crate::explain::graph::GraphFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// OLD and NEW manifests (files or directories); with `--git`, paths inside the repository
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Compare manifests at git revisions: `REV` (against the working tree) or `REV..REV`
    #[arg(long, value_name = "REV[..REV]")]
    pub git: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Exit 0 even when the change removes reachability
    #[arg(long)]
    pub allow_removals: bool,
    /// The node to compile for (decides which endpoints are local)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Files or directories (`-` reads standard input) [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The packet: `IP:PORT/PROTO`, e.g. `10.96.0.10:53/udp` or `[fd00::a]:443/tcp`
    #[arg(long, value_name = "IP:PORT/PROTO")]
    pub to: String,
    /// Source address of the packet
    #[arg(long, value_name = "IP")]
    pub from: Option<std::net::IpAddr>,
    /// The node the packet arrives at (decides which endpoints are local)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The ruleset to follow (they differ on NodePort addresses, health-check ports and
    /// packets that match no Service port)
    #[arg(long, value_enum, default_value_t = crate::explain::trace::Dataplane::Nft)]
    pub target: crate::explain::trace::Dataplane,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = TraceFormat::Human)]
    pub format: TraceFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DataplaneTarget {
    /// `nft -f`: tables `ip svcc` and `ip6 svcc`
    Nft,
    /// `iptables-restore --noflush` (and `ip6tables-restore` for IPv6 addresses): chains
    /// `SVCC-*`, jumps from built-in chains added only when missing, stale chains deleted
    Iptables,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories to compile (`-` reads standard input) [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// This node's name: its endpoints are local
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Dataplane to program
    #[arg(long, value_enum, default_value_t = DataplaneTarget::Nft)]
    pub target: DataplaneTarget,
    /// Write the cluster zone to this file
    #[arg(long, value_name = "PATH", conflicts_with = "zone_dir")]
    pub zone_file: Option<PathBuf>,
    /// Write every zone (with `--reverse`, the PTR zones too) to DIR/db.<zone>
    #[arg(long, value_name = "DIR")]
    pub zone_dir: Option<PathBuf>,
    /// Where svcc keeps what it last applied, and its lock
    #[arg(long, value_name = "DIR", default_value = "/var/lib/svcc")]
    pub state_dir: PathBuf,
    /// Command run (by `sh -c`) after a change, e.g. to reload the DNS server
    #[arg(long, value_name = "CMD")]
    pub reload_cmd: Option<String>,
    /// Print what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete svcc's tables (iptables: its chains and jumps) and forget the state
    #[arg(long)]
    pub remove: bool,
    /// Apply again whenever an input file changes; keep the last good state on errors
    #[arg(long)]
    pub watch: bool,
    /// Apply even when the state says nothing changed
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub net: NftArgs,
    #[command(flatten)]
    pub dns: DnsArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

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
    /// When to use colours in human output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
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

/// Options of `--target nft` (kube-proxy's knobs).
#[derive(Debug, Args)]
#[command(next_help_heading = "nft target")]
pub struct NftArgs {
    /// Name of the `ip` and `ip6` tables the ruleset replaces [default: svcc]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Pod CIDR(s): ClusterIP traffic from outside them is masqueraded, and pods skip
    /// `externalTrafficPolicy: Local` [default: none, no masquerading of ClusterIP traffic]
    #[arg(long, value_delimiter = ',', value_name = "CIDR[,CIDR]")]
    pub cluster_cidr: Vec<String>,
    /// Masquerade all traffic to ClusterIPs
    #[arg(long)]
    pub masquerade_all: bool,
    /// NodePorts answer only on local addresses inside these CIDRs [default: every local
    /// address but loopback]
    #[arg(long, value_delimiter = ',', value_name = "CIDR[,CIDR]")]
    pub nodeport_addresses: Vec<String>,
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
    pub limits: LimitArgs,
    /// Last: its help heading applies to every flag after it.
    #[command(flatten)]
    pub nft: NftArgs,
}

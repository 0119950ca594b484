//! The targets' options from their flags (`--table`, the kube-proxy knobs of [`ProxyArgs`],
//! iptables' own, and the DNS target's), shared by `compile`, `apply` and `trace`. Flags that a
//! target would silently ignore are refused.

use super::args::{DnsArgs, IptablesArgs, NftArgs, ProxyArgs};
use super::common;
use crate::config::{parse_node_ips, Settings};
use crate::emit::{self, Target};
use crate::plan::view::{Dataplane, Proxy, DEFAULT_MASQUERADE_BIT};

/// Refuses the kube-proxy flags with a target that would silently ignore them. The DNS target
/// takes `--cluster-cidr`: the pod CIDRs are reverse zones by default.
fn refuse_net_flags(args: &NftArgs, target: Target) -> Result<(), String> {
    let p = &args.proxy;
    let given = [
        ("--table", args.table.is_some()),
        (
            "--cluster-cidr",
            !p.cluster_cidr.is_empty() && target != Target::Dns,
        ),
        ("--masquerade-all", p.masquerade_all),
        ("--nodeport-addresses", !p.nodeport_addresses.is_empty()),
        ("--node-ip", !p.node_ip.is_empty()),
        ("--masquerade-bit", p.masquerade_bit.is_some()),
        ("--localhost-nodeports", p.localhost_nodeports),
    ];
    if !matches!(target, Target::Nft | Target::Iptables) {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            let dns = if *flag == "--cluster-cidr" {
                ", `--target iptables` and `--target dns`"
            } else {
                " and `--target iptables`"
            };
            return Err(format!("{flag} applies only to `--target nft`{dns}"));
        }
    }
    Ok(())
}

pub fn refuse_iptables_flags(args: &IptablesArgs, target: Target) -> Result<(), String> {
    let given = [
        ("--family", args.family.is_some()),
        ("--no-jumps", args.no_jumps),
    ];
    if target != Target::Iptables {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!("{flag} applies only to `--target iptables`"));
        }
    }
    Ok(())
}

/// The node's proxy configuration from the shared flags, `[node] ip` of svcc.toml standing
/// in for `--node-ip`; checked for what `dataplane` can do with it.
pub fn proxy(args: &ProxyArgs, settings: &Settings, dataplane: Dataplane) -> Result<Proxy, String> {
    let node_ips = if args.node_ip.is_empty() {
        settings.node_ips.clone()
    } else {
        parse_node_ips(&args.node_ip, "--node-ip").map_err(|e| e.message)?
    };
    let proxy = Proxy {
        cluster_cidrs: common::cidrs("--cluster-cidr", &args.cluster_cidr)?,
        masquerade_all: args.masquerade_all,
        node_ips,
        nodeport_addresses: common::cidrs("--nodeport-addresses", &args.nodeport_addresses)?,
        localhost_nodeports: args.localhost_nodeports,
        masquerade_bit: args.masquerade_bit.unwrap_or(DEFAULT_MASQUERADE_BIT),
    };
    proxy.validate(dataplane).map_err(|e| e.to_string())?;
    Ok(proxy)
}

/// The iptables target's options from the shared kube-proxy flags (`--table` is the chain
/// prefix) and its own.
pub fn iptables_options(
    args: &NftArgs,
    ipt: &IptablesArgs,
    settings: &Settings,
    target: Target,
) -> Result<emit::iptables::Options, String> {
    refuse_net_flags(args, target)?;
    refuse_iptables_flags(ipt, target)?;
    let options = emit::iptables::Options {
        prefix: args
            .table
            .clone()
            .unwrap_or_else(|| emit::iptables::DEFAULT_PREFIX.to_owned()),
        family: ipt.family.unwrap_or_default(),
        proxy: proxy(&args.proxy, settings, Dataplane::Iptables)?,
        jumps: !ipt.no_jumps,
    };
    options.validate().map_err(|e| e.to_string())?;
    Ok(options)
}

/// The nft target's options from its flags; refused with a target other than nft and
/// iptables, where they would be silently ignored.
pub fn nft_options(
    args: &NftArgs,
    settings: &Settings,
    target: Target,
) -> Result<emit::nft::Options, String> {
    refuse_net_flags(args, target)?;
    let options = emit::nft::Options {
        table: args
            .table
            .clone()
            .unwrap_or_else(|| emit::nft::DEFAULT_TABLE.to_owned()),
        proxy: proxy(&args.proxy, settings, Dataplane::Nft)?,
    };
    options.validate().map_err(|e| e.to_string())?;
    Ok(options)
}

/// The DNS target's options. The reverse zones cover `--reverse-zones`, else the service CIDRs
/// and the pod CIDRs (`--cluster-cidr`).
pub fn dns_options(
    args: &DnsArgs,
    cluster_cidrs: &[String],
    service_cidrs: &[ipnet::IpNet],
) -> Result<emit::dns::Options, String> {
    let reverse_cidrs = if args.reverse_zones.is_empty() {
        let mut ranges = service_cidrs.to_vec();
        ranges.extend(common::cidrs("--cluster-cidr", cluster_cidrs)?);
        ranges
    } else {
        common::cidrs("--reverse-zones", &args.reverse_zones)?
    };
    let options = emit::dns::Options {
        ttl: args.ttl,
        dns_address: args.dns_address,
        reverse: args.reverse,
        reverse_cidrs,
        serial: args.serial,
        style: args.dns_style,
    };
    options.validate().map_err(|e| e.to_string())?;
    Ok(options)
}

/// The defaults taken for lack of the node's addresses, one `note:` line each on standard
/// error (the ruleset carries them as comments too).
pub fn print_assumptions(plan: &crate::plan::Plan, proxy: &Proxy, dataplane: Dataplane) {
    for note in proxy.assumptions(plan, dataplane) {
        eprintln!("note: {note}");
    }
}

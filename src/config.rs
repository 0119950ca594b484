//! Cluster profile and configuration: what svcc needs to know about the cluster and the run,
//! from flags, `svcc.toml` and defaults (in that order of precedence), validated once
//! ([`Settings::resolve`]). Everything after this module trusts the values it hands out.
//!
//! Defaults (docs/design.md): cluster domain `cluster.local`, service CIDR `10.96.0.0/12`
//! (single-stack IPv4), NodePort range `30000-32767`, the newest bundled Kubernetes version.

use crate::diag::Severity;
use crate::selector::Selector;
use crate::source::inputs::{self, Globs, PathFilter};
use crate::source::yaml::Limits;
use crate::syntax;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Kubernetes minors whose schemas are bundled.
pub const SUPPORTED_MINORS: std::ops::RangeInclusive<u32> = 33..=37;
pub const DEFAULT_MINOR: u32 = 37;

/// What svcc knows of the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// One CIDR per family; the first is the primary family.
    pub service_cidrs: Vec<IpNet>,
    pub node_port_range: (u16, u16),
    pub cluster_domain: String,
    /// Kubernetes 1.N.
    pub kubernetes_minor: u32,
    pub default_namespace: String,
    /// The service CIDRs were declared (`--service-cidr` or `[cluster] service-cidr`) rather
    /// than assumed: findings that depend on them are errors only when declared.
    pub service_cidrs_declared: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            service_cidrs: vec!["10.96.0.0/12".parse().expect("constant CIDR")],
            node_port_range: (30000, 32767),
            cluster_domain: "cluster.local".to_owned(),
            kubernetes_minor: DEFAULT_MINOR,
            default_namespace: "default".to_owned(),
            service_cidrs_declared: false,
        }
    }
}

impl Profile {
    pub fn is_dual_stack(&self) -> bool {
        self.service_cidrs.len() == 2
    }

    /// The CIDR of a family (`IPv4`/`IPv6`), if the cluster has it.
    pub fn cidr_for(&self, family: &str) -> Option<&IpNet> {
        self.service_cidrs
            .iter()
            .find(|c| syntax::family(c.addr()) == family)
    }

    pub fn primary_family(&self) -> &'static str {
        self.service_cidrs
            .first()
            .map_or("IPv4", |c| syntax::family(c.addr()))
    }

    pub fn node_port_range_text(&self) -> String {
        format!("{}-{}", self.node_port_range.0, self.node_port_range.1)
    }
}

/// Everything a run is configured with, resolved from flags, `svcc.toml` and defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: Profile,
    pub limits: Limits,
    pub max_file_bytes: u64,
    /// Rule id → level, overriding the catalogue.
    pub levels: BTreeMap<String, Level>,
    /// `-l`: restrict checks and output to objects whose labels match.
    pub selection: Option<Selector>,
    /// `[files]` globs applied while walking directories.
    pub filter: PathFilter,
    /// `[files] apply-together` / `--apply-together`: globs naming files applied together.
    pub apply_together: Globs,
    /// `[node] ip`: the node's primary addresses, at most one per family (`--node-ip`,
    /// which the dataplane commands read, wins). Empty: unknown.
    pub node_ips: Vec<IpAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: Profile::default(),
            limits: Limits::default(),
            max_file_bytes: inputs::DEFAULT_MAX_FILE_BYTES,
            levels: BTreeMap::new(),
            selection: None,
            filter: PathFilter::default(),
            apply_together: Globs::default(),
            node_ips: Vec::new(),
        }
    }
}

/// What the command line says about the cluster and the run; each value wins over
/// `svcc.toml`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub service_cidr: Vec<String>,
    pub node_port_range: Option<String>,
    pub cluster_domain: Option<String>,
    pub kubernetes_version: Option<String>,
    pub namespace: Option<String>,
    /// `--config FILE`, else the nearest `svcc.toml`.
    pub config: Option<PathBuf>,
    pub apply_together: Vec<String>,
}

impl Settings {
    /// Flags over `svcc.toml` over defaults, each value validated once.
    pub fn resolve(flags: &Overrides) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        if let Some(path) = find_config(flags.config.as_deref()) {
            settings.apply_file(&path)?;
        }
        settings.apply_flags(flags)?;
        Ok(settings)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let origin = path.display().to_string();
        let file = read_file_config(path)?;
        let c = &file.cluster;
        let profile = &mut self.profile;
        if let Some(v) = &c.service_cidr {
            profile.service_cidrs = parse_service_cidrs(v, &origin)?;
            profile.service_cidrs_declared = true;
        }
        if let Some(v) = &c.node_port_range {
            profile.node_port_range = parse_node_port_range(v, &origin)?;
        }
        if let Some(v) = &c.cluster_domain {
            profile.cluster_domain = parse_cluster_domain(v, &origin)?;
        }
        if let Some(v) = &c.kubernetes_version {
            profile.kubernetes_minor = parse_kubernetes_version(v, &origin)?;
        }
        if let Some(v) = &c.default_namespace {
            profile.default_namespace = parse_namespace(v, "default-namespace", &origin)?;
        }
        let globs = |key: &str, patterns: &[String]| {
            Globs::new(patterns).map_err(|e| config_error(&origin, format!("[files] {key}: {e}")))
        };
        self.filter.include = globs("include", &file.files.include)?;
        self.filter.exclude = globs("exclude", &file.files.exclude)?;
        self.apply_together = globs("apply-together", &file.files.apply_together)?;
        if let Some(ips) = &file.node.ip {
            self.node_ips = parse_node_ips(ips, &origin)?;
        }
        for (id, level) in &file.rules {
            if crate::catalogue::lookup(id).is_none() {
                return Err(config_error(
                    &origin,
                    format!("[rules]: unknown rule `{id}` (see `svcc rules`)"),
                ));
            }
            let level = parse_level(level).ok_or_else(|| {
                config_error(
                    &origin,
                    format!("[rules] {id} = `{level}`: expected off, info, warning or error"),
                )
            })?;
            self.levels.insert(id.clone(), level);
        }
        Ok(())
    }

    fn apply_flags(&mut self, flags: &Overrides) -> Result<(), ConfigError> {
        let origin = "command line";
        if !flags.apply_together.is_empty() {
            self.apply_together = Globs::new(&flags.apply_together)
                .map_err(|e| config_error(origin, format!("--apply-together: {e}")))?;
        }
        let profile = &mut self.profile;
        if !flags.service_cidr.is_empty() {
            profile.service_cidrs = parse_service_cidrs(&flags.service_cidr, origin)?;
            profile.service_cidrs_declared = true;
        }
        if let Some(v) = &flags.node_port_range {
            profile.node_port_range = parse_node_port_range(v, origin)?;
        }
        if let Some(v) = &flags.cluster_domain {
            profile.cluster_domain = parse_cluster_domain(v, origin)?;
        }
        if let Some(v) = &flags.kubernetes_version {
            profile.kubernetes_minor = parse_kubernetes_version(v, origin)?;
        }
        if let Some(v) = &flags.namespace {
            profile.default_namespace = parse_namespace(v, "--namespace", origin)?;
        }
        Ok(())
    }
}

fn parse_namespace(value: &str, what: &str, origin: &str) -> Result<String, ConfigError> {
    if syntax::dns1123_label(value).is_empty() {
        Ok(value.to_owned())
    } else {
        Err(config_error(
            origin,
            format!("{what} `{value}` is not a valid namespace name"),
        ))
    }
}

/// A configuration problem: exit code 2, with the file and line when it came from a file.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: String,
    pub message: String,
}

fn config_error(origin: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

/// Parses `--service-cidr` values: one or two CIDRs, at most one per family.
pub fn parse_service_cidrs(values: &[String], origin: &str) -> Result<Vec<IpNet>, ConfigError> {
    if values.is_empty() || values.len() > 2 {
        return Err(config_error(
            origin,
            "service-cidr takes one CIDR, or one IPv4 and one IPv6 CIDR",
        ));
    }
    let mut nets = Vec::new();
    for v in values {
        let (net, host_bits) = syntax::parse_cidr(v.trim()).map_err(|_| {
            config_error(origin, format!("service-cidr `{v}`: {}", syntax::CIDR_FMT))
        })?;
        if host_bits {
            return Err(config_error(
                origin,
                format!("service-cidr `{v}` has host bits set; did you mean `{net}`?"),
            ));
        }
        nets.push(net);
    }
    if nets.len() == 2 && nets[0].addr().is_ipv4() == nets[1].addr().is_ipv4() {
        return Err(config_error(
            origin,
            "a dual-stack service-cidr needs one IPv4 and one IPv6 CIDR",
        ));
    }
    Ok(nets)
}

/// Parses node IPs (`--node-ip`, `[node] ip`): canonical addresses a node can have, at most
/// one per family (the node's primary IPs, as kube-proxy's `--nodeport-addresses primary`
/// takes them).
pub fn parse_node_ips(values: &[String], origin: &str) -> Result<Vec<IpAddr>, ConfigError> {
    let mut ips: Vec<IpAddr> = Vec::new();
    for v in values {
        let (ip, _) = syntax::parse_ip(v.trim()).map_err(|p| {
            config_error(
                origin,
                format!("node IP `{v}`: {}", syntax::ip_problem_message(&p)),
            )
        })?;
        let problem = if ip.is_unspecified() {
            Some("is unspecified, not an address of the node")
        } else if ip.is_loopback() {
            Some("is loopback, not an address other hosts reach the node at")
        } else if ip.is_multicast() {
            Some("is multicast, not an address of the node")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(config_error(origin, format!("node IP `{v}` {problem}")));
        }
        if let Some(other) = ips.iter().find(|o| o.is_ipv4() == ip.is_ipv4()) {
            return Err(config_error(
                origin,
                format!(
                    "node IPs take at most one address per family (the node's primary IPs), \
                     got {other} and {ip}"
                ),
            ));
        }
        ips.push(ip);
    }
    Ok(ips)
}

/// Parses `30000-32767`.
pub fn parse_node_port_range(value: &str, origin: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || {
        config_error(
            origin,
            format!("node-port-range `{value}`: expected FIRST-LAST, e.g. 30000-32767"),
        )
    };
    let (a, b) = value.trim().split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses `1.37` (or `v1.37`, `1.37.0`) into the minor 37, if bundled.
pub fn parse_kubernetes_version(value: &str, origin: &str) -> Result<u32, ConfigError> {
    let v = value.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let minor = match (parts.next(), parts.next()) {
        (Some("1"), Some(m)) => m.parse::<u32>().ok(),
        _ => None,
    };
    match minor {
        Some(m) if SUPPORTED_MINORS.contains(&m) => Ok(m),
        _ => Err(config_error(
            origin,
            format!(
                "kubernetes-version `{value}` is not supported; svcc bundles 1.{}-1.{}",
                SUPPORTED_MINORS.start(),
                SUPPORTED_MINORS.end()
            ),
        )),
    }
}

pub fn parse_cluster_domain(value: &str, origin: &str) -> Result<String, ConfigError> {
    let d = value.trim().trim_end_matches('.');
    let fail = |why: String| {
        config_error(
            origin,
            format!("cluster-domain `{value}` cannot name a DNS zone: {why}"),
        )
    };
    if let Some(label) = d.split('.').find(|l| l.len() > 63) {
        return Err(fail(format!(
            "label `{label}` is longer than 63 characters"
        )));
    }
    // The zone's own names (`hostmaster.`, `dns-version.`, `ns.dns.`) must fit in 253 characters.
    if d.len() > 241 {
        return Err(fail(format!(
            "it is {} characters long; at most 241 leave room for the zone's own names",
            d.len()
        )));
    }
    let problems = syntax::dns1123_subdomain(d);
    if !problems.is_empty() {
        return Err(fail(problems.join("; ")));
    }
    Ok(d.to_owned())
}

/// `svcc.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub cluster: ClusterTable,
    /// Rule id → `off`, `info`, `warning` or `error`.
    #[serde(default)]
    pub rules: BTreeMap<String, String>,
    #[serde(default)]
    pub files: FilesTable,
    #[serde(default)]
    pub node: NodeTable,
}

/// What svcc knows of the node it compiles for (the dataplane commands' `--node-ip` wins).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeTable {
    /// The node's primary addresses, at most one per family.
    pub ip: Option<Vec<String>>,
}

/// Globs for files found while walking directories (paths relative to the working directory).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilesTable {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Each glob names files applied together (one apply unit); `**` makes the whole input
    /// one unit.
    #[serde(default)]
    pub apply_together: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterTable {
    pub service_cidr: Option<Vec<String>>,
    pub node_port_range: Option<String>,
    pub cluster_domain: Option<String>,
    pub kubernetes_version: Option<String>,
    pub default_namespace: Option<String>,
}

/// A rule's configured level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Off,
    On(Severity),
}

pub fn parse_level(value: &str) -> Option<Level> {
    Some(match value {
        "off" => Level::Off,
        "info" => Level::On(Severity::Info),
        "warning" | "warn" => Level::On(Severity::Warning),
        "error" => Level::On(Severity::Error),
        _ => return None,
    })
}

/// Reads a config file; errors carry `file:line:col`.
pub fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| config_error(&origin, e.to_string()))?;
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| {
            let line = text[..s.start].matches('\n').count() + 1;
            let col = text[..s.start]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count())
                + 1;
            format!("{origin}:{line}:{col}")
        });
        config_error(at.as_deref().unwrap_or(&origin), e.message().to_owned())
    })
}

/// `--config FILE`, else the first `svcc.toml` in the working directory or one of its parents.
pub fn find_config(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join("svcc.toml"))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profile_values() {
        let nets = parse_service_cidrs(&["10.96.0.0/12".into(), "fd00:10:96::/112".into()], "flag")
            .unwrap();
        assert_eq!(nets.len(), 2);
        assert!(parse_service_cidrs(&["10.96.0.1/12".into()], "flag").is_err());
        assert!(parse_service_cidrs(&["10.0.0.0/8".into(), "10.1.0.0/16".into()], "f").is_err());
        assert_eq!(
            parse_node_port_range("30000-32767", "f").unwrap(),
            (30000, 32767)
        );
        assert!(parse_node_port_range("32767-30000", "f").is_err());
        assert_eq!(parse_kubernetes_version("1.35", "f").unwrap(), 35);
        assert_eq!(parse_kubernetes_version("v1.33.2", "f").unwrap(), 33);
        assert!(parse_kubernetes_version("1.20", "f").is_err());
        assert!(parse_cluster_domain("my domain", "f").is_err());
        let ips = parse_node_ips(&["192.168.0.2".into(), "2001:db8::1".into()], "f").unwrap();
        assert_eq!(ips.len(), 2);
        for bad in [
            &["192.168.0.2", "192.168.0.3"][..],
            &["127.0.0.1"],
            &["0.0.0.0"],
            &["192.168.000.2"],
            &["ff02::1"],
            &["nonsense"],
        ] {
            let values: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            assert!(parse_node_ips(&values, "f").is_err(), "{bad:?}");
        }
    }
}

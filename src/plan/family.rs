//! The address family: one type for the plan's views, both dataplane targets and `trace`.
//! kube-proxy runs one proxier per family, and so does every decision here: a Service counts
//! in a family when it has a clusterIP of that family, and then only that family's addresses,
//! source ranges and endpoints take part.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 or IPv6. (`--family ipv4|ipv6` of the iptables target names it on the command line.)
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `iptables-restore` input, `table ip`
    #[default]
    Ipv4,
    /// `ip6tables-restore` input, `table ip6`
    Ipv6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`, as Kubernetes writes families.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }

    pub fn has(self, ip: IpAddr) -> bool {
        Family::of(ip) == self
    }

    /// The addresses of this family, in their order.
    pub fn ips(self, ips: &[IpAddr]) -> Vec<IpAddr> {
        ips.iter().copied().filter(|&ip| self.has(ip)).collect()
    }

    /// The networks of this family, aggregated (adjacent and nested networks merged).
    pub fn nets(self, nets: &[IpNet]) -> Vec<IpNet> {
        let nets: Vec<IpNet> = nets
            .iter()
            .filter(|n| self.has(n.addr()))
            .copied()
            .collect();
        IpNet::aggregate(&nets)
    }

    /// The loopback network: `127.0.0.0/8`, `::1/128`.
    pub fn loopback(self) -> IpNet {
        match self {
            Family::Ipv4 => IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
            Family::Ipv6 => IpNet::V6(ipnet::Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)),
        }
    }

    /// A host network (`/32`, `/128`) of one address.
    pub fn host(ip: IpAddr) -> IpNet {
        IpNet::from(ip)
    }
}

/// Whether two networks share an address (one contains the other's first address).
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(Family::of(v4), Family::Ipv4);
        assert!(Family::Ipv6.has(v6) && !Family::Ipv6.has(v4));
        assert_eq!(Family::Ipv4.loopback().to_string(), "127.0.0.0/8");
        assert_eq!(Family::Ipv6.loopback().to_string(), "::1/128");
        let nets: Vec<IpNet> = ["10.0.0.0/16", "10.1.0.0/16", "fd00::/64"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(
            Family::Ipv4.nets(&nets),
            vec!["10.0.0.0/15".parse::<IpNet>().unwrap()]
        );
        assert_eq!(Family::host(v4).to_string(), "10.0.0.1/32");
    }
}

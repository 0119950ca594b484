//! Reverse lookups: the PTR owner of an address and the reverse zones, a stable set decided by
//! address ranges (`--reverse-zones`, by default the service CIDRs and `--cluster-cidr`), never
//! by the data: every range becomes the zones on octet (IPv4) or nibble (IPv6) boundaries that
//! cover exactly it, so a server claims no address outside the ranges it was given.

use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

/// The reverse-lookup name (`4.3.2.1.in-addr.arpa`, 32 nibbles `.ip6.arpa`), without the dot.
pub fn name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// The name of the zone of an aligned network (prefix a multiple of 8 for IPv4, of 4 for
/// IPv6): `96.10.in-addr.arpa` for 10.96.0.0/16.
pub fn zone_name(net: &IpNet) -> String {
    let mut labels: Vec<String> = match net {
        IpNet::V4(n) => n.network().octets()[..usize::from(n.prefix_len() / 8)]
            .iter()
            .map(u8::to_string)
            .collect(),
        IpNet::V6(n) => {
            let bits = u128::from(n.network());
            (0..u32::from(n.prefix_len() / 4))
                .map(|i| format!("{:x}", (bits >> (124 - 4 * i)) & 0xf))
                .collect()
        }
    };
    labels.reverse();
    labels.push(
        if net.addr().is_ipv4() {
            "in-addr.arpa"
        } else {
            "ip6.arpa"
        }
        .to_owned(),
    );
    labels.join(".")
}

/// The aligned networks that cover `net` exactly: its prefix rounded up to the next octet
/// (IPv4) or nibble (IPv6) boundary, e.g. sixteen /16s for 10.96.0.0/12. An IPv4 range longer
/// than /24 takes its whole /24 (no classless delegation).
fn aligned(net: IpNet) -> Vec<IpNet> {
    match net.trunc() {
        IpNet::V4(n) if n.prefix_len() > 24 => {
            vec![IpNet::V4(
                Ipv4Net::new(n.network(), 24)
                    .expect("24 is a valid prefix")
                    .trunc(),
            )]
        }
        IpNet::V4(n) => n
            .subnets(n.prefix_len().div_ceil(8) * 8)
            .expect("a longer prefix")
            .map(IpNet::V4)
            .collect(),
        IpNet::V6(n) => n
            .subnets(n.prefix_len().div_ceil(4) * 4)
            .expect("a longer prefix")
            .map(IpNet::V6)
            .collect(),
    }
}

/// The reverse zones for these ranges: aligned, unique, none inside another (a zone inside a
/// given one would take its names away), ordered by zone name.
pub fn zones(ranges: &[IpNet]) -> Vec<IpNet> {
    let mut all: Vec<IpNet> = ranges.iter().flat_map(|r| aligned(*r)).collect();
    all.sort();
    all.dedup();
    let mut kept: Vec<IpNet> = all
        .iter()
        .filter(|z| !all.iter().any(|o| o != *z && o.contains(*z)))
        .copied()
        .collect();
    kept.sort_by_key(zone_name);
    kept
}

/// The zone holding an address's PTR record, if any.
pub fn zone_of(ip: IpAddr, zones: &[IpNet]) -> Option<&IpNet> {
    zones.iter().find(|z| z.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        zones(&nets(list)).iter().map(zone_name).collect()
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            name("10.96.0.20".parse().unwrap()),
            "20.0.96.10.in-addr.arpa"
        );
        assert_eq!(
            name("fd00:10:96::20".parse().unwrap()),
            "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"
        );
    }

    #[test]
    fn ranges_become_aligned_zones() {
        let twelve = names(&["10.96.0.0/12"]);
        assert_eq!(twelve.len(), 16);
        assert!(twelve.contains(&"96.10.in-addr.arpa".to_owned()));
        assert!(twelve.contains(&"111.10.in-addr.arpa".to_owned()));
        assert_eq!(names(&["10.0.0.0/16"]), ["0.10.in-addr.arpa"]);
        assert_eq!(names(&["10.0.0.0/8"]), ["10.in-addr.arpa"]);
        assert_eq!(names(&["0.0.0.0/0"]), ["in-addr.arpa"]);
        assert_eq!(names(&["192.168.1.128/25"]), ["1.168.192.in-addr.arpa"]);
        assert_eq!(
            names(&["fd00:10:96::/112"]),
            ["0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"]
        );
        assert_eq!(
            names(&["1234:abcd::/64"]),
            ["0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa"]
        );
        assert_eq!(names(&["fd00::/6"]).len(), 4);
        // A zone inside another is dropped: the outer zone holds its names.
        assert_eq!(names(&["10.96.0.0/12", "10.0.0.0/8"]), ["10.in-addr.arpa"]);
        assert_eq!(
            names(&["10.0.0.0/16", "10.0.0.0/16"]),
            ["0.10.in-addr.arpa"]
        );
    }

    #[test]
    fn addresses_find_their_zone() {
        let z = zones(&nets(&["10.96.0.0/12", "fd00:10:244::/56"]));
        assert_eq!(
            zone_of("10.97.3.4".parse().unwrap(), &z).map(zone_name),
            Some("97.10.in-addr.arpa".to_owned())
        );
        assert_eq!(zone_of("10.244.0.1".parse().unwrap(), &z), None);
        assert!(zone_of("fd00:10:244:1::5".parse().unwrap(), &z).is_some());
    }
}

//! Deterministic allocation of the clusterIPs and nodePorts that manifests leave out.
//!
//! The candidate is derived from a hash of the Service's identity (FNV-1a, 64 bits), then the
//! allocator probes upward past values already taken (explicit ones first, then earlier
//! allocations in plan order). So an allocation depends only on the Service itself and on what
//! it collides with, never on unrelated Services.

use ipnet::IpNet;
use std::collections::HashSet;
use std::net::IpAddr;

pub fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Allocates an address of `cidr` for `key`, avoiding `taken`, the network address and (IPv4)
/// the broadcast address. `None` when the range is full.
pub fn cluster_ip(cidr: &IpNet, key: &str, taken: &mut HashSet<IpAddr>) -> Option<IpAddr> {
    let host_bits = u32::from(cidr.max_prefix_len() - cidr.prefix_len());
    let size: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    };
    let reserved_top: u128 = u128::from(cidr.addr().is_ipv4());
    let usable = size.checked_sub(1 + reserved_top).filter(|u| *u > 0)?;
    let base = match cidr.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let start = u128::from(fnv1a(key)) % usable;
    for probe in 0..usable.min(1 << 20) {
        let offset = 1 + (start + probe) % usable;
        let value = base + offset;
        let ip = match cidr.addr() {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(value).ok()?)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(value)),
        };
        if taken.insert(ip) {
            return Some(ip);
        }
    }
    None
}

/// Allocates a port in `range` for `key`, avoiding `taken`.
pub fn node_port(range: (u16, u16), key: &str, taken: &mut HashSet<u16>) -> Option<u16> {
    let size = u64::from(range.1 - range.0) + 1;
    let start = fnv1a(key) % size;
    for probe in 0..size {
        let port = range.0 + u16::try_from((start + probe) % size).ok()?;
        if taken.insert(port) {
            return Some(port);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_deterministic_and_avoid_taken_values() {
        let cidr: IpNet = "10.96.0.0/12".parse().unwrap();
        let a = cluster_ip(&cidr, "default/web", &mut HashSet::new()).unwrap();
        let b = cluster_ip(&cidr, "default/web", &mut HashSet::new()).unwrap();
        assert_eq!(a, b);
        assert!(cidr.contains(&a));
        let mut taken: HashSet<IpAddr> = [a].into_iter().collect();
        let c = cluster_ip(&cidr, "default/web", &mut taken).unwrap();
        assert_ne!(a, c);
        let small: IpNet = "10.0.0.0/30".parse().unwrap();
        let mut taken = HashSet::new();
        let x = cluster_ip(&small, "a", &mut taken).unwrap();
        let y = cluster_ip(&small, "b", &mut taken).unwrap();
        assert_ne!(x, y);
        assert!(
            cluster_ip(&small, "c", &mut taken).is_none(),
            "a /30 has two usable addresses"
        );
        let v6: IpNet = "fd00:10:96::/112".parse().unwrap();
        assert!(v6.contains(&cluster_ip(&v6, "x", &mut HashSet::new()).unwrap()));
        let mut ports = HashSet::new();
        let p = node_port((30000, 32767), "default/web/80", &mut ports).unwrap();
        assert!((30000..=32767).contains(&p));
        assert_ne!(
            node_port((30000, 32767), "default/web/80", &mut ports),
            Some(p)
        );
    }
}

//! Owner and target names of the cluster zone, validated before they are written: every label
//! 1–63 octets of `[a-z0-9-]` (a leading `_` for SRV service labels), every name at most 255
//! octets on the wire. Nothing else can reach a zone file, so no zone-file metacharacter
//! (`;`, `(`, `"`, `$`, `@`, `\`, blanks) ever does.

use std::net::IpAddr;

/// Why a name cannot be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    LabelTooLong(String),
    NameTooLong(usize),
    BadCharacter(String),
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::LabelTooLong(l) => write!(f, "label `{l}` is longer than 63 octets"),
            NameProblem::NameTooLong(n) => {
                write!(f, "name is {n} octets long; at most 255 are allowed")
            }
            NameProblem::BadCharacter(l) => {
                write!(f, "label `{l}` has a character that is not allowed")
            }
        }
    }
}

/// Checks an absolute name written without the final dot.
pub fn check(name: &str) -> Result<(), NameProblem> {
    // Wire length: one length octet per label, the label octets, and the root octet.
    let wire = name.split('.').map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire > 255 {
        return Err(NameProblem::NameTooLong(wire));
    }
    for (i, label) in name.split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(NameProblem::LabelTooLong(label.to_owned()));
        }
        let body = if i < 2 {
            label.strip_prefix('_').unwrap_or(label)
        } else {
            label
        };
        if body.is_empty()
            || !body
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return Err(NameProblem::BadCharacter(label.to_owned()));
        }
    }
    Ok(())
}

/// CoreDNS's label for an endpoint without a hostname: the IP with `.`/`:` as `-`, and a `0`
/// appended when an IPv6 form ends in `-`.
pub fn dashed_ip(ip: IpAddr) -> String {
    let mut s: String = ip
        .to_string()
        .chars()
        .map(|c| if c == '.' || c == ':' { '-' } else { c })
        .collect();
    if s.ends_with('-') {
        s.push('0');
    }
    s
}

/// The reverse-lookup name (`4.3.2.1.in-addr.arpa`, 32 nibbles `.ip6.arpa`), without the dot.
pub fn reverse(ip: IpAddr) -> String {
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

/// The reverse zone svcc puts a PTR in: the /8 for IPv4 (`10.in-addr.arpa`), the /64 for IPv6.
pub fn reverse_zone(ip: IpAddr) -> String {
    let full = reverse(ip);
    let keep = match ip {
        IpAddr::V4(_) => 3,
        IpAddr::V6(_) => 16 + 2,
    };
    let labels: Vec<&str> = full.split('.').collect();
    labels[labels.len() - keep..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check("web.default.svc.cluster.local").is_ok());
        assert!(check("_http._tcp.web.default.svc.cluster.local").is_ok());
        assert!(check(&format!(
            "_{}.web.default.svc.cluster.local",
            "a".repeat(63)
        ))
        .is_err());
        assert!(check("web;rm.default.svc.cluster.local").is_err());
        assert!(check("we b.default.svc.cluster.local").is_err());
        assert!(check("x._tcp.web").is_ok());
        assert!(
            check("a._b._c").is_err(),
            "underscores only in the first two labels"
        );
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(matches!(check(&long), Err(NameProblem::NameTooLong(_))));
    }

    #[test]
    fn dashed_and_reverse() {
        assert_eq!(dashed_ip("10.244.2.7".parse().unwrap()), "10-244-2-7");
        assert_eq!(dashed_ip("5678:abcd::1".parse().unwrap()), "5678-abcd--1");
        assert_eq!(dashed_ip("fd00::".parse().unwrap()), "fd00--0");
        assert_eq!(
            reverse("10.96.0.20".parse().unwrap()),
            "20.0.96.10.in-addr.arpa"
        );
        assert_eq!(
            reverse("fd00:10:96::20".parse().unwrap()),
            "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"
        );
        assert_eq!(
            reverse_zone("10.96.0.20".parse().unwrap()),
            "10.in-addr.arpa"
        );
        assert_eq!(
            reverse_zone("fd00:10:96::20".parse().unwrap()),
            "0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"
        );
    }
}

//! Kubernetes' primitive formats (apimachinery `util/validation`): DNS labels and subdomains,
//! IANA service names, qualified names, label values, IPs and CIDRs. Each check returns the
//! problems in the API server's words, empty when the value is valid.
//!
//! IPs are checked strictly: leading zeros (`010.1.1.1`, which some parsers read as octal) and
//! IPv4-mapped IPv6 addresses are refused, as Kubernetes' StrictIPCIDRValidation does. Every IP
//! that may reach an emitted ruleset passes through here, so nothing ambiguous gets to `nft`.

use std::net::IpAddr;

const DNS1123_LABEL_FMT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')";
const DNS1123_SUBDOMAIN_FMT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
const DNS1035_LABEL_FMT: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123')";
const QUALIFIED_NAME_FMT: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc')";
const LABEL_VALUE_FMT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345')";

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_label_shape(s: &str, first: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && first(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !is_label_shape(s, is_lower_alnum) {
        if dns1123_subdomain(s).is_empty() {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(DNS1123_LABEL_FMT.to_owned());
        }
    }
    errs
}

/// RFC 1123 subdomain: labels joined by dots, at most 253 characters.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    if s.is_empty() || !s.split('.').all(|l| is_label_shape(l, is_lower_alnum)) {
        errs.push(DNS1123_SUBDOMAIN_FMT.to_owned());
    }
    errs
}

/// RFC 1035 label (Service names): must start with a letter.
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !is_label_shape(s, |c| c.is_ascii_lowercase()) {
        errs.push(DNS1035_LABEL_FMT.to_owned());
    }
    errs
}

/// A `generateName` prefix: the name rule, but a trailing `-` is allowed.
pub fn name_prefix(s: &str, rule: fn(&str) -> Vec<String>) -> Vec<String> {
    let trimmed = s.strip_suffix('-').unwrap_or(s);
    if trimmed.is_empty() {
        return Vec::new();
    }
    // A prefix gets a random suffix appended, so the length bound is checked by the name itself.
    rule(trimmed)
        .into_iter()
        .filter(|e| !e.starts_with("must be no more than"))
        .collect()
}

/// IANA_SVC_NAME (`IsValidPortName`): container port names and named targetPorts.
pub fn iana_svc_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push("must be no more than 15 characters".to_owned());
    }
    if !s.bytes().all(|c| is_lower_alnum(c) || c == b'-') || s.is_empty() {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    errs
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

/// Qualified name (label and annotation keys, `appProtocol`, `loadBalancerClass`):
/// `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {QUALIFIED_NAME_FMT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else {
        if name.len() > 63 {
            errs.push("name part must be no more than 63 characters".to_owned());
        }
        if !is_name_part(name) {
            errs.push(QUALIFIED_NAME_FMT.to_owned());
        }
    }
    errs
}

/// Label value: empty, or at most 63 characters of the name-part shape.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !s.is_empty() && !is_name_part(s) {
        errs.push(LABEL_VALUE_FMT.to_owned());
    }
    errs
}

/// How an IP string fails, if it does.
#[derive(Debug, PartialEq, Eq)]
pub enum IpProblem {
    /// Not an IP at all.
    Invalid,
    /// An IP with an ambiguous spelling (leading zeros, IPv4-mapped IPv6).
    Ambiguous(&'static str),
}

/// Parses an IP strictly. Returns the address and whether it is written canonically
/// (RFC 5952 for IPv6: lowercase, shortest form).
pub fn parse_ip(s: &str) -> Result<(IpAddr, bool), IpProblem> {
    if s.contains('.') && !s.contains(':') && has_leading_zero_octet(s) {
        return Err(IpProblem::Ambiguous(
            "must not have leading zeros in an IPv4 octet (they are read as octal by some parsers)",
        ));
    }
    let ip: IpAddr = s.parse().map_err(|_| IpProblem::Invalid)?;
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return Err(IpProblem::Ambiguous(
                "must not be an IPv4-mapped IPv6 address; write the IPv4 address",
            ));
        }
    }
    // An IPv4 address that parsed and has no leading zeros is written canonically.
    let canonical = match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(_) => ip.to_string() == s,
    };
    Ok((ip, canonical))
}

fn has_leading_zero_octet(s: &str) -> bool {
    s.split('.').any(|o| o.len() > 1 && o.starts_with('0'))
}

pub const IP_FMT: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/// The API server's `IsValidIP` detail for a string that is not an acceptable IP.
pub fn ip_problem_message(p: &IpProblem) -> String {
    match p {
        IpProblem::Invalid => IP_FMT.to_owned(),
        IpProblem::Ambiguous(why) => (*why).to_owned(),
    }
}

/// `ValidateNonSpecialIP`: unspecified, loopback and link-local addresses are refused.
pub fn special_ip(ip: IpAddr) -> Option<String> {
    let msg = match ip {
        _ if ip.is_unspecified() => return Some(format!("may not be unspecified ({ip})")),
        _ if ip.is_loopback() => "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        IpAddr::V4(v4) if v4.is_link_local() => {
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
        }
        IpAddr::V4(v4) if v4.octets()[..3] == [224, 0, 0] => {
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        }
        IpAddr::V6(v6)
            if (v6.segments()[0] & 0xffc0) == 0xff00 && (v6.segments()[0] & 0x000f) == 2 =>
        {
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        }
        _ => return None,
    };
    Some(msg.to_owned())
}

/// A CIDR, parsed strictly. Returns the network and whether host bits are set.
pub fn parse_cidr(s: &str) -> Result<(ipnet::IpNet, bool), IpProblem> {
    let (addr, len) = s.split_once('/').ok_or(IpProblem::Invalid)?;
    let (ip, _) = parse_ip(addr)?;
    if len.is_empty() || (len.len() > 1 && len.starts_with('0')) {
        return Err(IpProblem::Invalid);
    }
    let len: u8 = len.parse().map_err(|_| IpProblem::Invalid)?;
    let net = ipnet::IpNet::new(ip, len).map_err(|_| IpProblem::Invalid)?;
    Ok((net.trunc(), net.trunc().addr() != ip))
}

pub const CIDR_FMT: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// The family name Kubernetes uses.
pub fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns1123_label("my-name").is_empty());
        assert!(dns1123_label("123-abc").is_empty());
        assert_eq!(dns1123_label("a.b"), vec!["must not contain dots"]);
        assert!(!dns1123_label("-a").is_empty());
        assert!(!dns1123_label(&"a".repeat(64)).is_empty());
        assert!(dns1035_label("a1").is_empty());
        assert!(!dns1035_label("1a").is_empty());
        assert!(dns1123_subdomain("ds149763.mlab.com").is_empty());
        assert!(!dns1123_subdomain("ds149763.mlab.com:49763").is_empty());
    }

    #[test]
    fn iana() {
        assert!(iana_svc_name("http").is_empty());
        assert!(iana_svc_name("http-metrics").is_empty());
        assert_eq!(
            iana_svc_name("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert!(!iana_svc_name("a--b").is_empty());
        assert!(!iana_svc_name("http-metrics-server-a").is_empty());
    }

    #[test]
    fn qualified_names_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(qualified_name("kubernetes.io/h2c").is_empty());
        assert!(!qualified_name("Bad/LoadBalancerClass").is_empty());
        assert!(!qualified_name("a/b/c").is_empty());
        assert!(label_value("").is_empty());
        assert!(label_value("My_Value.1").is_empty());
        assert!(!label_value("-x").is_empty());
    }

    #[test]
    fn ips() {
        assert!(parse_ip("10.96.0.10").unwrap().1);
        assert!(matches!(
            parse_ip("010.1.1.1"),
            Err(IpProblem::Ambiguous(_))
        ));
        assert!(matches!(
            parse_ip("::ffff:10.1.1.1"),
            Err(IpProblem::Ambiguous(_))
        ));
        assert!(!parse_ip("fd00::0010").unwrap().1);
        assert!(parse_ip(" 10.1.1.1").is_err());
        assert!(parse_ip("fe80::1%eth0").is_err());
        assert!(parse_ip("10.1.1.1/32").is_err());
        assert!(special_ip("127.0.0.1".parse().unwrap()).is_some());
        assert!(special_ip("fe80::1".parse().unwrap()).is_some());
        assert!(special_ip("224.0.0.5".parse().unwrap()).is_some());
        assert!(special_ip("10.0.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn cidrs() {
        assert!(!parse_cidr("10.96.0.0/12").unwrap().1);
        assert!(parse_cidr("10.96.0.10/12").unwrap().1);
        assert!(parse_cidr("10.96.0.0").is_err());
        assert!(parse_cidr("10.96.0.0/33").is_err());
        assert!(parse_cidr("010.96.0.0/12").is_err());
    }
}

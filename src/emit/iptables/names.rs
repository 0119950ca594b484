//! Every name and text the iptables target writes: the fixed chains, the hashed per-service and
//! per-endpoint chains, comments, and the checks that keep them valid `iptables-restore` input.
//!
//! Per-service chains are `<prefix>-<kind>-<HASH>`: `HASH` is the first 16 characters of the
//! base32 text of SHA-256 over `<service port name><protocol>` (`ns1/svc1:p80tcp`, or
//! `ns1/svc1tcp` for an unnamed port); an endpoint chain hashes
//! `<service port name><protocol><ip:port>` (`[ip]:port` for IPv6). That is kube-proxy's scheme,
//! so with the prefix `KUBE` the names are exactly kube-proxy's.

use crate::emit::hash::{base32_prefix, sha256};
use crate::plan::Protocol;

/// The longest chain name iptables accepts (`XT_EXTENSION_MAXNAMELEN` minus the NUL).
pub const MAX_CHAIN: usize = 28;
/// `<prefix>-SEP-` plus 16 hash characters must fit [`MAX_CHAIN`]: 7 bytes of prefix.
pub const MAX_PREFIX: usize = MAX_CHAIN - "-SEP-".len() - HASH_LEN;
/// The longest comment the `comment` match stores (256 bytes with the NUL).
pub const MAX_COMMENT: usize = 255;
const HASH_LEN: usize = 16;

/// The chains every Service shares, for one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// nat: dispatch by destination; filter: reject or drop ClusterIPs without endpoints.
    pub services: String,
    /// nat: NodePorts to external chains; filter: NodePorts without endpoints.
    pub nodeports: String,
    /// filter: externalIPs, LoadBalancer IPs and NodePorts without (usable) endpoints.
    pub external_services: String,
    /// filter: accept forwarded traffic of marked and established connections.
    pub forward: String,
    /// filter: drop LoadBalancer traffic that `loadBalancerSourceRanges` did not let through.
    pub proxy_firewall: String,
    /// nat: mark a packet for masquerading.
    pub mark_masq: String,
    /// nat: masquerade marked packets.
    pub postrouting: String,
}

impl Fixed {
    pub fn new(prefix: &str) -> Fixed {
        let name = |suffix: &str| format!("{prefix}-{suffix}");
        Fixed {
            services: name("SERVICES"),
            nodeports: name("NODEPORTS"),
            external_services: name("EXTERNAL-SERVICES"),
            forward: name("FORWARD"),
            proxy_firewall: name("PROXY-FIREWALL"),
            mark_masq: name("MARK-MASQ"),
            postrouting: name("POSTROUTING"),
        }
    }
}

/// The chains of one Service port (all share the hash of the port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortChains {
    /// `-SVC-`: endpoints for Cluster traffic policy.
    pub cluster: String,
    /// `-SVL-`: endpoints for Local traffic policy.
    pub local: String,
    /// `-EXT-`: NodePort, externalIP and LoadBalancer traffic.
    pub external: String,
    /// `-FW-`: `loadBalancerSourceRanges`.
    pub firewall: String,
}

impl PortChains {
    pub fn new(
        prefix: &str,
        namespace: &str,
        service: &str,
        port_name: &str,
        protocol: Protocol,
    ) -> Self {
        let hash = port_hash(namespace, service, port_name, protocol);
        PortChains {
            cluster: format!("{prefix}-SVC-{hash}"),
            local: format!("{prefix}-SVL-{hash}"),
            external: format!("{prefix}-EXT-{hash}"),
            firewall: format!("{prefix}-FW-{hash}"),
        }
    }
}

/// `<prefix>-SEP-<HASH>`: one endpoint of one Service port.
pub fn endpoint_chain(
    prefix: &str,
    namespace: &str,
    service: &str,
    port_name: &str,
    protocol: Protocol,
    endpoint: &str,
) -> String {
    let text = format!(
        "{}{}{endpoint}",
        service_port_text(namespace, service, port_name),
        protocol.as_str()
    );
    format!("{prefix}-SEP-{}", hash16(&text))
}

/// The hash shared by a Service port's SVC, SVL, EXT and FW chains.
pub fn port_hash(namespace: &str, service: &str, port_name: &str, protocol: Protocol) -> String {
    hash16(&format!(
        "{}{}",
        service_port_text(namespace, service, port_name),
        protocol.as_str()
    ))
}

/// The first 16 base32 characters of the SHA-256 of `text`.
pub fn hash16(text: &str) -> String {
    base32_prefix(&sha256(text.as_bytes()), HASH_LEN)
}

/// `ns/svc:port`, or `ns/svc` for an unnamed port: kube-proxy's text for a Service port.
pub fn service_port_text(namespace: &str, service: &str, port_name: &str) -> String {
    if port_name.is_empty() {
        format!("{namespace}/{service}")
    } else {
        format!("{namespace}/{service}:{port_name}")
    }
}

/// kube-proxy's probability for rule `i` of `n` (0-based): 1/(n−i), with 10 decimals.
/// Taking rule `i` with this probability after rules `0..i` failed gives every endpoint 1/n.
pub fn probability(remaining: usize) -> String {
    format!("{:.10}", 1.0 / remaining as f64)
}

/// A prefix: a letter, then letters, digits or `_`, at most [`MAX_PREFIX`] bytes.
pub fn is_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    prefix.len() <= MAX_PREFIX
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A chain name iptables takes: letters, digits, `-` and `_`, at most [`MAX_CHAIN`] bytes,
/// not starting with `-` or `!`.
pub fn is_chain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHAIN
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Text `iptables-restore` reads back as one argument between double quotes: printable ASCII
/// without `"` or `\` (its only special characters inside quotes), at most
/// [`MAX_COMMENT`] bytes.
pub fn is_comment(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_COMMENT
        && text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// A comment from plan text, cut to [`MAX_COMMENT`] bytes (`...` at the end) when longer.
/// Plan strings are DNS names, addresses and numbers, so nothing else needs changing.
pub fn comment(text: &str) -> String {
    if text.len() <= MAX_COMMENT {
        return text.to_owned();
    }
    let mut cut = MAX_COMMENT - 3;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// An unquoted argument: printable ASCII without spaces, quotes, `\` or `#`, not empty.
pub fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (b'!'..=b'~').contains(&b) && !matches!(b, b'"' | b'\'' | b'\\' | b'#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit() {
        let f = Fixed::new("SVCC");
        assert_eq!(f.external_services, "SVCC-EXTERNAL-SERVICES");
        let long = Fixed::new(&"P".repeat(MAX_PREFIX));
        for name in [
            long.services,
            long.nodeports,
            long.external_services,
            long.forward,
            long.proxy_firewall,
            long.mark_masq,
            long.postrouting,
        ] {
            assert!(is_chain(&name), "{name}");
        }
        let chains = PortChains::new(&"P".repeat(MAX_PREFIX), "ns", "s", "", Protocol::Tcp);
        assert!(is_chain(&chains.cluster) && is_chain(&chains.firewall));
        let sep = endpoint_chain(&"P".repeat(MAX_PREFIX), "n", "s", "", Protocol::Udp, "x");
        assert_eq!(sep.len(), MAX_CHAIN);
        assert!(is_chain(&sep));
    }

    #[test]
    fn prefixes() {
        for good in ["SVCC", "KUBE", "a", "ABCDEFG", "X_1"] {
            assert!(is_prefix(good), "{good}");
        }
        for bad in ["", "1A", "ABCDEFGH", "A-B", "A B", "A;B", "_A"] {
            assert!(!is_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn comments() {
        assert!(is_comment("ns/svc:http -> 10.0.0.1:80"));
        assert!(!is_comment("a\"b") && !is_comment("a\\b") && !is_comment("a\nb"));
        let long = comment(&"x".repeat(300));
        assert_eq!(long.len(), MAX_COMMENT);
        assert!(is_comment(&long) && long.ends_with("..."));
    }
}

//! Every name the nft target writes: the fixed chains, sets and maps, the per-service and
//! per-endpoint names with kube-proxy's hashed base, and the comment texts.
//!
//! A per-service name is `<prefix><HASH>-<namespace>/<service>/<protocol>/<port name>`, a
//! per-endpoint name adds `__<ip>/<port>` (IPv6 colons written as dots, since nft identifiers
//! cannot hold colons). `HASH` is the first 8 base32 characters of the SHA-256 of everything
//! after `HASH-`, so names stay unique after truncation and match kube-proxy's. Budget:
//! prefix ≤ 16 bytes, hashed base ≤ 240 bytes (cut to 237 plus `...`), so a name never
//! exceeds nft's 256 bytes. Namespaces, Service names and port names are DNS labels (checked
//! before lowering), and addresses print as digits, dots and hex, so every name built here is
//! an nft identifier; [`is_identifier`] checks it again where the name is used.
//!
//! Affinity sets are the exception: `affinity-<HASH16>`, sixteen base32 characters of the
//! SHA-256 of the same endpoint text, and nothing after. The kernel finds a set by name with
//! a linear walk over the table's sets, comparing whole names, so loading thousands of sets
//! costs (sets x references x name length); with kube-proxy's long names that walk was a
//! third of a 10,000-Service load (see `mod.rs`).

use crate::emit::hash::{base32_prefix, sha256};
use crate::plan::Protocol;
use std::net::IpAddr;

// Base chains, named `<type>-<hook>[-qualifier]`.
pub const FILTER_PREROUTING_PRE_DNAT: &str = "filter-prerouting-pre-dnat";
pub const FILTER_OUTPUT_PRE_DNAT: &str = "filter-output-pre-dnat";
pub const FILTER_INPUT: &str = "filter-input";
pub const FILTER_FORWARD: &str = "filter-forward";
pub const FILTER_OUTPUT: &str = "filter-output";
pub const NAT_PREROUTING: &str = "nat-prerouting";
pub const NAT_OUTPUT: &str = "nat-output";
pub const NAT_POSTROUTING: &str = "nat-postrouting";

// Regular chains shared by all Services.
pub const SERVICES: &str = "services";
pub const MASQUERADING: &str = "masquerading";
pub const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
pub const FIREWALL_CHECK: &str = "firewall-check";
pub const SERVICE_ENDPOINTS_CHECK: &str = "service-endpoints-check";
pub const NODEPORT_ENDPOINTS_CHECK: &str = "nodeport-endpoints-check";
pub const CLUSTER_IPS_CHECK: &str = "cluster-ips-check";
pub const REJECT_CHAIN: &str = "reject-chain";

// Sets and maps.
pub const CLUSTER_IPS: &str = "cluster-ips";
pub const NODEPORT_IPS: &str = "nodeport-ips";
pub const SERVICE_IPS: &str = "service-ips";
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub const FIREWALL_IPS: &str = "firewall-ips";
pub const HAIRPIN_ENDPOINTS: &str = "hairpin-endpoints";

/// Longest name nft stores (its limit is 256 bytes including the terminating NUL).
pub const MAX_NAME: usize = 255;
/// Longest prefix (`endpoint-`, `affinity-`, …) in front of a hashed base.
const MAX_PREFIX: usize = 16;
/// Longest hashed base, `HASH-` included.
const MAX_BASE: usize = 240;
/// Base32 characters of the hash that names an affinity set (80 bits: two names of a million
/// sets collide with odds below 10^-12).
const AFFINITY_HASH: usize = 16;
/// Longest comment nft accepts.
pub const MAX_COMMENT: usize = 128;

/// The names of one Service port's chains (the same in both families' tables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortChains {
    /// Endpoints for Cluster traffic policy.
    pub service: String,
    /// Endpoints for Local traffic policy.
    pub local: String,
    /// Traffic to NodePorts, externalIPs and LoadBalancer IPs.
    pub external: String,
    /// `loadBalancerSourceRanges`.
    pub firewall: String,
}

impl PortChains {
    pub fn new(namespace: &str, service: &str, protocol: Protocol, port_name: &str) -> Self {
        let base = service_base(namespace, service, protocol, port_name);
        PortChains {
            service: prefixed("service-", &base),
            local: prefixed("local-", &base),
            external: prefixed("external-", &base),
            firewall: prefixed("firewall-", &base),
        }
    }
}

/// The names of one endpoint's chain and affinity set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointNames {
    pub chain: String,
    pub affinity: String,
}

impl EndpointNames {
    pub fn new(
        namespace: &str,
        service: &str,
        protocol: Protocol,
        port_name: &str,
        ip: IpAddr,
        port: u16,
    ) -> Self {
        let text = endpoint_text(namespace, service, protocol, port_name, ip, port);
        EndpointNames {
            chain: prefixed("endpoint-", &hashed(&text)),
            affinity: prefixed(
                "affinity-",
                &base32_prefix(&sha256(text.as_bytes()), AFFINITY_HASH),
            ),
        }
    }
}

fn prefixed(prefix: &str, base: &str) -> String {
    debug_assert!(prefix.len() <= MAX_PREFIX);
    format!("{prefix}{base}")
}

/// `HASH-<ns>/<svc>/<proto>/<port name>`.
pub fn service_base(namespace: &str, service: &str, protocol: Protocol, port_name: &str) -> String {
    hashed(&format!(
        "{namespace}/{service}/{}/{port_name}",
        protocol.as_str()
    ))
}

/// `<ns>/<svc>/<proto>/<port name>__<ip>/<port>`: what an endpoint's names hash.
fn endpoint_text(
    namespace: &str,
    service: &str,
    protocol: Protocol,
    port_name: &str,
    ip: IpAddr,
    port: u16,
) -> String {
    let ip = ip.to_string().replace(':', ".");
    format!(
        "{namespace}/{service}/{}/{port_name}__{ip}/{port}",
        protocol.as_str()
    )
}

/// `HASH-<unhashed>`, cut to [`MAX_BASE`] bytes with a `...` marker.
fn hashed(unhashed: &str) -> String {
    let hash = base32_prefix(&sha256(unhashed.as_bytes()), 8);
    let mut name = format!("{hash}-{unhashed}");
    if name.len() > MAX_BASE {
        // Names are ASCII (see the module doc), so any byte index is a char boundary.
        let mut cut = MAX_BASE - 3;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        name.push_str("...");
    }
    name
}

/// `<ns>/<svc>:<port name>`, or `<ns>/<svc>` for an unnamed port: kube-proxy's text for a
/// Service port, used in comments.
pub fn service_port_text(namespace: &str, service: &str, port_name: &str) -> String {
    if port_name.is_empty() {
        format!("{namespace}/{service}")
    } else {
        format!("{namespace}/{service}:{port_name}")
    }
}

/// A name nft's scanner reads as one identifier: a letter, `_` or `.`, then letters, digits
/// and `/ - _ .`; at most [`MAX_NAME`] bytes.
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= MAX_NAME
        && (first.is_ascii_alphabetic() || first == b'_' || first == b'.')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
}

/// A text nft takes between double quotes: printable ASCII without `"` (nft has no escapes),
/// at most [`MAX_COMMENT`] bytes.
pub fn is_comment(text: &str) -> bool {
    text.len() <= MAX_COMMENT
        && text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"')
}

/// Makes `text` a valid comment: characters nft cannot quote become `_`, and a text longer
/// than [`MAX_COMMENT`] is cut and ends in `...`. Plan strings never need the first (they
/// are DNS names); long namespace and Service names can need the second.
pub fn comment(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && is_comment(c.encode_utf8(&mut [0; 4])) {
                c
            } else {
                '_'
            }
        })
        .collect();
    debug_assert_eq!(out, text, "comment text from the plan needed escaping");
    if out.len() > MAX_COMMENT {
        out.truncate(MAX_COMMENT - 3);
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes kube-proxy's own tests expect (docs/reference/dataplane.md §1.5 and §1.14).
    #[test]
    fn hashes_match_kube_proxy() {
        let cases = [
            ("ns1/svc1/tcp/p80", "ULMVA6XW"),
            ("ns1/svc1/tcp/p80__10.180.0.1/80", "5OJB2KTY"),
            ("ns1/svc1/tcp/p80__10.180.0.2/80", "2ZNDXFAB"),
            ("testing/service/tcp/http", "P4ZYZVCF"),
            ("ns1/svc1/tcp/", "6KJ5P52A"),
            ("ns1/svc1/tcp/__10.180.0.1/80", "YIYHB3TY"),
            ("ns1/svc1/tcp/__10.180.0.2/80", "5YI7V6EE"),
        ];
        for (unhashed, want) in cases {
            assert_eq!(hashed(unhashed), format!("{want}-{unhashed}"), "{unhashed}");
        }
    }

    #[test]
    fn chain_names() {
        let chains = PortChains::new("ns1", "svc1", Protocol::Tcp, "p80");
        assert_eq!(chains.service, "service-ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(chains.local, "local-ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(chains.external, "external-ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(chains.firewall, "firewall-ULMVA6XW-ns1/svc1/tcp/p80");
        let unnamed = PortChains::new("ns1", "svc1", Protocol::Tcp, "");
        assert_eq!(unnamed.service, "service-6KJ5P52A-ns1/svc1/tcp/");
        let ep = EndpointNames::new(
            "ns1",
            "svc1",
            Protocol::Tcp,
            "p80",
            "10.180.0.1".parse().unwrap(),
            80,
        );
        assert_eq!(
            ep.chain,
            "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert_eq!(ep.affinity, "affinity-5OJB2KTYBVGFC3LR");
        let ep = EndpointNames::new(
            "ns1",
            "svc1",
            Protocol::Udp,
            "",
            "fd00:10:180::1".parse().unwrap(),
            53,
        );
        assert!(ep.chain.starts_with("endpoint-"), "{}", ep.chain);
        assert!(
            ep.chain.ends_with("-ns1/svc1/udp/__fd00.10.180..1/53"),
            "{}",
            ep.chain
        );
        assert!(is_identifier(&ep.chain));
    }

    #[test]
    fn long_names_are_cut_within_budget() {
        let ns = "n".repeat(63);
        let svc = "s".repeat(63);
        let port = "p".repeat(15);
        let ip: IpAddr = "fd00:1111:2222:3333:4444:5555:6666:7777".parse().unwrap();
        let base = hashed(&endpoint_text(&ns, &svc, Protocol::Sctp, &port, ip, 65535));
        assert!(base.len() <= MAX_BASE, "{}", base.len());
        let ep = EndpointNames::new(&ns, &svc, Protocol::Sctp, &port, ip, 65535);
        assert!(is_identifier(&ep.chain) && is_identifier(&ep.affinity));
        // A base over the budget is cut to 237 bytes plus `...`, keeping its hash.
        let long = hashed(&"x".repeat(300));
        assert_eq!(long.len(), MAX_BASE);
        assert!(long.ends_with("xxx...") && long.as_bytes()[8] == b'-');
    }

    #[test]
    fn identifiers_and_comments() {
        assert!(is_identifier("service-6KJ5P52A-ns1/svc1/tcp/"));
        assert!(is_identifier("svcc"));
        for bad in ["", "1abc", "a b", "a;b", "a\"b", "a:b", "a\nb", "a#b", "é"] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
        assert!(!is_identifier(&"a".repeat(256)));
        assert_eq!(service_port_text("ns", "svc", ""), "ns/svc");
        assert_eq!(service_port_text("ns", "svc", "http"), "ns/svc:http");
        let long = comment(&format!(
            "{}/{}:{}",
            "n".repeat(63),
            "s".repeat(63),
            "p".repeat(15)
        ));
        assert_eq!(long.len(), MAX_COMMENT);
        assert!(long.ends_with("...") && is_comment(&long));
        assert!(!is_comment("a\"b") && !is_comment("a\nb"));
    }
}

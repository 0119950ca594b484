//! Addresses of a Service: clusterIPs and IP families (SVC-C2 … C10, SVC-R6), externalIPs
//! (SVC-E1), loadBalancerSourceRanges and its annotation (SVC-L2, L3), and non-canonical
//! spellings (warnings, as `GetWarningsForService` gives).

use super::service_shape::SOURCE_RANGES_ANNOTATION;
use super::{invalid, unsupported};
use crate::check::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::service::Service;
use crate::model::Spanned;
use crate::syntax::{self, IpProblem};
use std::net::IpAddr;

pub fn check(_ctx: &Context, svc: &Service, sink: &mut Sink) {
    if !svc.is_external_name() {
        check_cluster_ips(svc, sink);
        check_families(svc, sink);
    }
    for (i, ip) in svc.external_ips.iter().enumerate() {
        check_ip(
            sink,
            ip,
            &format!("spec.externalIPs[{i}]"),
            "externalIP",
            "invalid-external-ip",
            true,
        );
    }
    if let Some(ip) = &svc.load_balancer_ip {
        if let Ok((_, false)) = syntax::parse_ip(&ip.value) {
            sink.report(non_canonical(ip, "spec.loadBalancerIP"));
        }
    }
    check_source_ranges(svc, sink);
}

fn non_canonical(ip: &Spanned<String>, path: &str) -> Diagnostic {
    let canonical = syntax::parse_ip(&ip.value)
        .map(|(a, _)| a.to_string())
        .unwrap_or_default();
    Diagnostic::new(
        "non-canonical-ip",
        ip.span,
        format!("`{}` is not written in canonical form", ip.value),
    )
    .label(format!("canonical form: `{canonical}`"))
    .path(path.to_owned())
    .help(format!("write `{canonical}`"))
}

/// Checks one IP: syntax (strict), optionally the special ranges, and canonical form.
fn check_ip(
    sink: &mut Sink,
    ip: &Spanned<String>,
    path: &str,
    what: &str,
    rule: &'static str,
    non_special: bool,
) -> Option<IpAddr> {
    match syntax::parse_ip(&ip.value) {
        Err(p) => {
            let mut d = invalid(
                rule,
                ip.span,
                path.to_owned(),
                what,
                &ip.value,
                &[syntax::ip_problem_message(&p)],
            );
            if p == IpProblem::Invalid && ip.value.trim() != ip.value {
                d = d.help("remove the surrounding spaces");
            } else if p == IpProblem::Invalid && ip.value.contains('/') {
                d = d.help("this field takes an address, not a CIDR");
            }
            sink.report(d);
            None
        }
        Ok((addr, canonical)) => {
            if non_special {
                if let Some(why) = syntax::special_ip(addr) {
                    sink.report(invalid(
                        rule,
                        ip.span,
                        path.to_owned(),
                        what,
                        &ip.value,
                        &[why],
                    ));
                    return None;
                }
            }
            if !canonical {
                sink.report(non_canonical(ip, path));
            }
            Some(addr)
        }
    }
}

fn check_cluster_ips(svc: &Service, sink: &mut Sink) {
    // SVC-C2 / C3: clusterIP and clusterIPs must agree.
    if svc.cluster_ips_written {
        match &svc.cluster_ip {
            Some(ip) if svc.cluster_ips[0].value != ip.value => sink.report(
                Diagnostic::new(
                    "invalid-cluster-ip",
                    svc.cluster_ips[0].span,
                    format!(
                        "first value of `clusterIPs` (`{}`) does not match `clusterIP` (`{}`)",
                        svc.cluster_ips[0].value, ip.value
                    ),
                )
                .label("must match `clusterIP`")
                .related(ip.span, "`clusterIP` set here")
                .path("spec.clusterIPs"),
            ),
            None => sink.report(
                Diagnostic::new(
                    "invalid-cluster-ip",
                    svc.cluster_ips[0].span,
                    "`clusterIPs` is set but `clusterIP` is not",
                )
                .label("must be empty when `clusterIP` is not specified")
                .path("spec.clusterIPs")
                .help(format!(
                    "also set `clusterIP: {}`",
                    svc.cluster_ips[0].value
                )),
            ),
            _ => {}
        }
    }
    let field = |i: usize| {
        if svc.cluster_ips_written {
            format!("spec.clusterIPs[{i}]")
        } else {
            "spec.clusterIP".to_owned()
        }
    };
    let mut parsed: Vec<(usize, IpAddr)> = Vec::new();
    let mut syntax_ok = true;
    for (i, ip) in svc.cluster_ips.iter().enumerate() {
        if ip.value == "None" {
            if i != 0 || svc.cluster_ips.len() > 1 {
                syntax_ok = false;
                sink.report(
                    Diagnostic::new(
                        "invalid-cluster-ip",
                        ip.span,
                        "`None` must be the first and only value of `clusterIPs`",
                    )
                    .label("`None` with other values")
                    .path("spec.clusterIPs"),
                );
            }
            continue;
        }
        // Cluster IPs are allocated from a unicast range: the special ranges fail the CIDR check.
        match check_ip(
            sink,
            ip,
            &field(i),
            "clusterIP",
            "invalid-cluster-ip",
            false,
        ) {
            Some(addr) => parsed.push((i, addr)),
            None => syntax_ok = false,
        }
    }
    if svc.cluster_ips.len() > 2 {
        sink.report(
            Diagnostic::new(
                "invalid-cluster-ip",
                svc.cluster_ips[2].span,
                format!(
                    "`clusterIPs` has {} values; at most 2 are allowed",
                    svc.cluster_ips.len()
                ),
            )
            .label("one IPv4 and one IPv6 at most")
            .path("spec.clusterIPs"),
        );
    } else if syntax_ok && parsed.len() == 2 && parsed[0].1.is_ipv4() == parsed[1].1.is_ipv4() {
        sink.report(
            Diagnostic::new(
                "invalid-cluster-ip",
                svc.cluster_ips[1].span,
                "`clusterIPs` has two addresses of the same family",
            )
            .label("may specify no more than one IP for each IP family")
            .related(svc.cluster_ips[0].span, "the first one")
            .path("spec.clusterIPs"),
        );
    }
    // SVC-C10: each IP matches the family listed at the same index.
    if !svc.is_headless() {
        for (i, addr) in &parsed {
            if let Some(f) = svc.ip_families.get(*i) {
                let actual = syntax::family(*addr);
                if (f.value == "IPv4" || f.value == "IPv6") && f.value != actual {
                    sink.report(
                        Diagnostic::new(
                            "invalid-cluster-ip",
                            svc.cluster_ips[*i].span,
                            format!(
                                "clusterIP `{}` is {actual}, but `ipFamilies[{i}]` is {}",
                                svc.cluster_ips[*i].value, f.value
                            ),
                        )
                        .label(format!("expected an {} value", f.value))
                        .related(f.span, "family declared here")
                        .path(field(*i)),
                    );
                }
            }
        }
    }
}

fn check_families(svc: &Service, sink: &mut Sink) {
    let mut seen: Vec<&str> = Vec::new();
    for (i, f) in svc.ip_families.iter().enumerate() {
        if f.value != "IPv4" && f.value != "IPv6" {
            sink.report(unsupported(
                "invalid-ip-family",
                f.span,
                format!("spec.ipFamilies[{i}]"),
                "IP family",
                &f.value,
                &["IPv4", "IPv6"],
            ));
        } else if seen.contains(&f.value.as_str()) {
            sink.report(
                Diagnostic::new(
                    "invalid-ip-family",
                    f.span,
                    format!("IP family `{}` is listed twice", f.value),
                )
                .label("duplicate family")
                .path(format!("spec.ipFamilies[{i}]")),
            );
        } else {
            seen.push(&f.value);
        }
    }
    if let Some(p) = &svc.ip_family_policy {
        const POLICIES: [&str; 3] = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&p.value.as_str()) {
            sink.report(unsupported(
                "invalid-ip-family",
                p.span,
                "spec.ipFamilyPolicy",
                "ipFamilyPolicy",
                &p.value,
                &POLICIES,
            ));
        } else if p.value == "SingleStack" {
            let ips = svc.cluster_ips.iter().filter(|i| i.value != "None").count();
            if ips == 2 || svc.ip_families.len() == 2 {
                let what = if ips == 2 {
                    "cluster IPs"
                } else {
                    "IP families"
                };
                sink.report(
                    Diagnostic::new("invalid-ip-family", p.span, format!("`ipFamilyPolicy: SingleStack` with two {what}"))
                        .label(format!("must be 'RequireDualStack' or 'PreferDualStack' when multiple {what} are specified"))
                        .path("spec.ipFamilyPolicy"),
                );
            }
        }
    }
}

fn check_source_ranges(svc: &Service, sink: &mut Sink) {
    for (i, r) in svc.load_balancer_source_ranges.iter().enumerate() {
        check_cidr(
            sink,
            r.value.trim(),
            r.span,
            &format!("spec.loadBalancerSourceRanges[{i}]"),
        );
    }
}

/// One source range (also used for the annotation's comma-separated entries).
pub fn check_cidr(sink: &mut Sink, value: &str, span: crate::source::Span, path: &str) {
    match syntax::parse_cidr(value) {
        Err(_) => sink.report(invalid(
            "invalid-source-range",
            span,
            path.to_owned(),
            "source range",
            value,
            &[syntax::CIDR_FMT.to_owned()],
        )),
        Ok((net, true)) => sink.report(
            Diagnostic::new(
                "non-canonical-ip",
                span,
                format!("source range `{value}` has host bits set"),
            )
            .label(format!("the network is `{net}`"))
            .path(path.to_owned())
            .help(format!("write `{net}`")),
        ),
        Ok(_) => {}
    }
}

/// The `service.beta.kubernetes.io/load-balancer-source-ranges` annotation, used only when the
/// field is empty: comma-separated CIDRs.
pub fn check_source_ranges_annotation(
    svc: &Service,
    annotations: &crate::model::StrMap,
    sink: &mut Sink,
) {
    if !svc.load_balancer_source_ranges.is_empty() || !svc.type_is("LoadBalancer") {
        return;
    }
    let Some(v) = annotations.get(SOURCE_RANGES_ANNOTATION) else {
        return;
    };
    let path = format!("metadata.annotations[{SOURCE_RANGES_ANNOTATION}]");
    for entry in v.value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        check_cidr(sink, entry, v.span, &path);
    }
}

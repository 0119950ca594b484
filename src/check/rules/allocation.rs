//! What the API server's allocators refuse, checked against the cluster profile: nodePorts and
//! health-check ports outside the NodePort range (SVC-R1, R3), clusterIPs outside the service
//! CIDRs (SVC-R4), and families or dual-stack policies the cluster does not have (SVC-R5, R7).
//!
//! The service CIDRs are rarely the same from one cluster to the next (kind, k3s, clouds and
//! dual-stack clusters all differ), so when the user did not declare them, the findings that
//! depend on them are warnings saying how to declare them; declared, they are errors. The
//! NodePort range is the same on almost every cluster and is enforced either way.

use crate::check::{Context, Sink};
use crate::diag::{Diagnostic, Severity};
use crate::model::service::Service;
use crate::syntax;

pub fn check(ctx: &Context, svc: &Service, sink: &mut Sink) {
    check_node_ports(ctx, svc, sink);
    if !svc.is_external_name() {
        check_cluster_ips(ctx, svc, sink);
        check_families(ctx, svc, sink);
    }
}

fn check_node_ports(ctx: &Context, svc: &Service, sink: &mut Sink) {
    if !(svc.type_is("NodePort") || svc.type_is("LoadBalancer")) {
        return;
    }
    let (lo, hi) = ctx.profile.node_port_range;
    let range = ctx.profile.node_port_range_text();
    let in_range = |v: i64| (i64::from(lo)..=i64::from(hi)).contains(&v);
    for (i, p) in svc.ports.iter().enumerate() {
        let Some(np) = &p.node_port else { continue };
        if !in_range(np.value) {
            sink.report(
                Diagnostic::new(
                    "nodeport-out-of-range",
                    np.span,
                    format!(
                        "nodePort {} is outside the NodePort range {range}",
                        np.value
                    ),
                )
                .label("not in the valid range")
                .path(format!("spec.ports[{i}].nodePort"))
                .help(format!(
                    "pick a port in {range}, or remove `nodePort` to let the cluster allocate one"
                )),
            );
        }
    }
    if let Some(h) = &svc.health_check_node_port {
        let used = svc.type_is("LoadBalancer") && svc.external_traffic_policy() == Some("Local");
        if used && (1..=65535).contains(&h.value) && !in_range(h.value) {
            sink.report(
                Diagnostic::new(
                    "nodeport-out-of-range",
                    h.span,
                    format!(
                        "healthCheckNodePort {} is outside the NodePort range {range}",
                        h.value
                    ),
                )
                .label("not in the valid range")
                .path("spec.healthCheckNodePort")
                .help(format!(
                    "pick a port in {range}, or remove it to let the cluster allocate one"
                )),
            );
        }
    }
}

/// Caps a finding that depends on the service CIDRs when they were assumed, and says so.
fn against_profile(ctx: &Context, d: Diagnostic) -> Diagnostic {
    if ctx.profile.service_cidrs_declared {
        return d;
    }
    let cidrs = ctx
        .profile
        .service_cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let help = format!(
        "svcc assumed the service CIDRs {cidrs}; declare your cluster's with `--service-cidr` or `[cluster] service-cidr` in svcc.toml (this is then an error)"
    );
    let help = match d.help.as_deref() {
        Some(h) => format!("{h}; {help}"),
        None => help,
    };
    d.help(help).at_most(Severity::Warning)
}

fn check_cluster_ips(ctx: &Context, svc: &Service, sink: &mut Sink) {
    if svc.is_headless() {
        return;
    }
    for (i, ip) in svc.cluster_ips.iter().enumerate() {
        let Ok((addr, _)) = syntax::parse_ip(&ip.value) else {
            continue;
        };
        let path = if svc.cluster_ips_written {
            format!("spec.clusterIPs[{i}]")
        } else {
            "spec.clusterIP".to_owned()
        };
        let family = syntax::family(addr);
        match ctx.profile.cidr_for(family) {
            None => sink.report(against_profile(ctx,
                Diagnostic::new("ip-family-not-configured", ip.span, format!("clusterIP `{}` is {family}, but the cluster has no {family} service CIDR", ip.value))
                    .label(format!("{family} is not configured on this cluster"))
                    .path(path)),
            ),
            Some(cidr) if !cidr.contains(&addr) => sink.report(against_profile(ctx,
                Diagnostic::new("cluster-ip-out-of-range", ip.span, format!("clusterIP `{}` is outside the service CIDR {cidr}", ip.value))
                    .label("not in the valid range")
                    .path(path)
                    .help(format!("pick an address in {cidr}, or remove `clusterIP` to let the cluster allocate one"))),
            ),
            Some(_) => {}
        }
    }
}

fn check_families(ctx: &Context, svc: &Service, sink: &mut Sink) {
    // Headless selector-less Services may list both families on any cluster.
    let exempt = svc.is_headless() && !svc.has_selector();
    if exempt {
        return;
    }
    if let Some(p) = &svc.ip_family_policy {
        if p.value == "RequireDualStack" && !ctx.profile.is_dual_stack() {
            sink.report(against_profile(
                ctx,
                Diagnostic::new(
                    "ip-family-not-configured",
                    p.span,
                    "`ipFamilyPolicy: RequireDualStack` on a single-stack cluster",
                )
                .label("this cluster is not configured for dual-stack services")
                .path("spec.ipFamilyPolicy")
                .help("use `PreferDualStack` to run on single-stack clusters too"),
            ));
        }
    }
    for (i, f) in svc.ip_families.iter().enumerate() {
        if (f.value == "IPv4" || f.value == "IPv6") && ctx.profile.cidr_for(&f.value).is_none() {
            sink.report(against_profile(
                ctx,
                Diagnostic::new(
                    "ip-family-not-configured",
                    f.span,
                    format!("IP family {} is not configured on this cluster", f.value),
                )
                .label("no service CIDR of this family")
                .path(format!("spec.ipFamilies[{i}]")),
            ));
        }
    }
}

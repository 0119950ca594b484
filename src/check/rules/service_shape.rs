//! Type-dependent shape of a Service: its type, headless combinations, ExternalName, session
//! affinity, load-balancer fields and traffic policies (SVC-T*, SVC-A*, SVC-L4/L6, SVC-X*,
//! SVC-P10). A field that the Service's type or settings forbid is `field-not-allowed`.

use super::{check_port_number, invalid, unsupported};
use crate::check::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::service::Service;
use crate::model::Object;
use crate::source::Span;
use crate::syntax;

const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const POLICIES: [&str; 2] = ["Cluster", "Local"];

fn not_allowed(span: Span, path: impl Into<String>, message: String, why: &str) -> Diagnostic {
    Diagnostic::new("field-not-allowed", span, message)
        .label(why.to_owned())
        .path(path)
}

pub fn check(ctx: &Context, object: &Object, svc: &Service, sink: &mut Sink) {
    let t = svc.service_type.value.as_str();
    if !TYPES.contains(&t) {
        sink.report(unsupported(
            "invalid-service-type",
            svc.service_type.span,
            "spec.type",
            "Service type",
            t,
            &TYPES,
        ));
    }
    check_headless(svc, sink);
    check_external_name(svc, sink);
    if t == "ClusterIP" {
        for (i, p) in svc.ports.iter().enumerate() {
            if let Some(np) = &p.node_port {
                sink.report(
                    not_allowed(
                        np.span,
                        format!("spec.ports[{i}].nodePort"),
                        format!("nodePort {} on a ClusterIP Service", np.value),
                        "only NodePort and LoadBalancer Services have node ports",
                    )
                    .help("remove `nodePort`, or set `type: NodePort`"),
                );
            }
        }
    }
    check_affinity(svc, sink);
    check_load_balancer_fields(object, svc, sink);
    check_traffic(ctx, svc, sink);
}

fn check_headless(svc: &Service, sink: &mut Sink) {
    if !svc.is_headless() {
        return;
    }
    let t = svc.service_type.value.as_str();
    if t == "NodePort" || t == "LoadBalancer" {
        let ip = &svc.cluster_ips[0];
        sink.report(
            Diagnostic::new(
                "headless-with-nodeport",
                ip.span,
                format!("`clusterIP: None` is not allowed for type {t}"),
            )
            .label(format!(
                "a headless Service has no virtual IP for {t} traffic to reach"
            ))
            .related(svc.service_type.span, format!("type {t} declared here"))
            .path("spec.clusterIPs[0]")
            .help("use `type: ClusterIP` for a headless Service, or drop `clusterIP: None`"),
        );
    }
}

fn check_external_name(svc: &Service, sink: &mut Sink) {
    if !svc.is_external_name() {
        return;
    }
    let why = "ExternalName Services are only a DNS CNAME";
    if let Some(ip) = svc.cluster_ips.first() {
        let path = if svc.cluster_ips_written {
            "spec.clusterIPs"
        } else {
            "spec.clusterIP"
        };
        sink.report(not_allowed(
            ip.span,
            path,
            format!("`{path}` is set on an ExternalName Service"),
            why,
        ));
    }
    if let Some(f) = svc.ip_families.first() {
        sink.report(not_allowed(
            f.span,
            "spec.ipFamilies",
            "`spec.ipFamilies` is set on an ExternalName Service".to_owned(),
            why,
        ));
    }
    if let Some(p) = &svc.ip_family_policy {
        sink.report(not_allowed(
            p.span,
            "spec.ipFamilyPolicy",
            "`spec.ipFamilyPolicy` is set on an ExternalName Service".to_owned(),
            why,
        ));
    }
    match &svc.external_name {
        None => sink.report(
            Diagnostic::new(
                "invalid-external-name",
                svc.service_type.span,
                "ExternalName Service has no `externalName`",
            )
            .label("`spec.externalName` is required for this type")
            .path("spec.externalName"),
        ),
        Some(name) => {
            let value = name.value.strip_suffix('.').unwrap_or(&name.value);
            let problems = if value.is_empty() {
                vec!["must not be empty".to_owned()]
            } else {
                syntax::dns1123_subdomain(value)
            };
            if !problems.is_empty() {
                let mut d = invalid(
                    "invalid-external-name",
                    name.span,
                    "spec.externalName",
                    "externalName",
                    &name.value,
                    &problems,
                );
                if let Some((host, port)) = value.rsplit_once(':') {
                    if port.parse::<u16>().is_ok() {
                        d = d.help(format!("externalName is a DNS name only: write `{host}` and put port {port} in `spec.ports`"));
                    }
                } else if value.contains("://") {
                    d = d.help("externalName is a DNS name, not a URL");
                }
                sink.report(d);
            }
        }
    }
}

fn check_affinity(svc: &Service, sink: &mut Sink) {
    let a = &svc.session_affinity;
    if a.value != "ClientIP" && a.value != "None" {
        sink.report(unsupported(
            "invalid-session-affinity",
            a.span,
            "spec.sessionAffinity",
            "sessionAffinity",
            &a.value,
            &["ClientIP", "None"],
        ));
        return;
    }
    if let Some(t) = &svc.affinity_timeout {
        if t.value <= 0 || t.value > 86400 {
            sink.report(
                Diagnostic::new(
                    "affinity-timeout-out-of-range",
                    t.span,
                    format!(
                        "session affinity timeout {} is outside 1-86400 seconds",
                        t.value
                    ),
                )
                .label("must be greater than 0 and at most 86400")
                .path("spec.sessionAffinityConfig.clientIP.timeoutSeconds")
                .help("use at most 86400 (one day); the default is 10800"),
            );
        }
    }
}

fn check_load_balancer_fields(object: &Object, svc: &Service, sink: &mut Sink) {
    let is_lb = svc.type_is("LoadBalancer");
    let why = "only LoadBalancer Services use it";
    if !is_lb {
        if let (Some(span), false) = (
            svc.load_balancer_source_ranges_span,
            svc.load_balancer_source_ranges.is_empty(),
        ) {
            sink.report(not_allowed(
                span,
                "spec.loadBalancerSourceRanges",
                format!(
                    "`loadBalancerSourceRanges` on a {} Service",
                    svc.service_type.value
                ),
                why,
            ));
        }
        if svc.load_balancer_source_ranges.is_empty() {
            if let Some(v) = object.meta.annotations.get(SOURCE_RANGES_ANNOTATION) {
                sink.report(not_allowed(
                    v.span,
                    format!("metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"),
                    format!(
                        "annotation `{SOURCE_RANGES_ANNOTATION}` on a {} Service",
                        svc.service_type.value
                    ),
                    why,
                ));
            }
        }
        if let Some(a) = &svc.allocate_load_balancer_node_ports {
            sink.report(not_allowed(
                a.span,
                "spec.allocateLoadBalancerNodePorts",
                format!(
                    "`allocateLoadBalancerNodePorts` on a {} Service",
                    svc.service_type.value
                ),
                why,
            ));
        }
        if let Some(c) = &svc.load_balancer_class {
            sink.report(not_allowed(
                c.span,
                "spec.loadBalancerClass",
                format!(
                    "`loadBalancerClass` on a {} Service",
                    svc.service_type.value
                ),
                why,
            ));
        }
    } else if let Some(c) = &svc.load_balancer_class {
        let problems = syntax::qualified_name(&c.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-load-balancer-class",
                c.span,
                "spec.loadBalancerClass",
                "loadBalancerClass",
                &c.value,
                &problems,
            ));
        }
    }
}

pub const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

fn check_traffic(ctx: &Context, svc: &Service, sink: &mut Sink) {
    if let Some(etp) = &svc.external_traffic_policy_written {
        if !svc.is_externally_accessible() {
            sink.report(
                not_allowed(etp.span, "spec.externalTrafficPolicy", "`externalTrafficPolicy` on a Service that is not externally accessible".to_owned(), "only NodePort, LoadBalancer and Services with externalIPs have external traffic")
                    .help("remove it, or change the Service's type"),
            );
        } else if !POLICIES.contains(&etp.value.as_str()) {
            sink.report(unsupported(
                "invalid-traffic-policy",
                etp.span,
                "spec.externalTrafficPolicy",
                "externalTrafficPolicy",
                &etp.value,
                &POLICIES,
            ));
        }
    }
    if let Some(itp) = &svc.internal_traffic_policy_written {
        if !POLICIES.contains(&itp.value.as_str()) {
            sink.report(unsupported(
                "invalid-traffic-policy",
                itp.span,
                "spec.internalTrafficPolicy",
                "internalTrafficPolicy",
                &itp.value,
                &POLICIES,
            ));
        }
    }
    if let Some(h) = &svc.health_check_node_port {
        let needs = svc.type_is("LoadBalancer") && svc.external_traffic_policy() == Some("Local");
        if !needs {
            sink.report(not_allowed(h.span, "spec.healthCheckNodePort", "`healthCheckNodePort` is set but not used".to_owned(), "only a LoadBalancer Service with `externalTrafficPolicy: Local` has a health-check node port"));
        } else {
            check_port_number(
                sink,
                h.value,
                h.span,
                "spec.healthCheckNodePort",
                "healthCheckNodePort",
            );
        }
    }
    if let Some(td) = &svc.traffic_distribution {
        let supported: &[&str] = if ctx.profile.kubernetes_minor >= 34 {
            &["PreferClose", "PreferSameNode", "PreferSameZone"]
        } else {
            &["PreferClose"]
        };
        if !supported.contains(&td.value.as_str()) {
            sink.report(
                unsupported(
                    "invalid-traffic-distribution",
                    td.span,
                    "spec.trafficDistribution",
                    "trafficDistribution",
                    &td.value,
                    supported,
                )
                .help(format!(
                    "values depend on the Kubernetes version; checked against 1.{}",
                    ctx.profile.kubernetes_minor
                )),
            );
        }
    }
}

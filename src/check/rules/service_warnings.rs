//! The API server's non-fatal warnings for Services (`GetWarningsForService`): fields that are
//! ignored in a Service's configuration, and deprecated settings.

use crate::check::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::service::Service;
use crate::model::Object;

const TOPOLOGY_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";

pub fn check(ctx: &Context, object: &Object, svc: &Service, sink: &mut Sink) {
    let ignored = |span, path: &str, message: String| {
        Diagnostic::new("ignored-field", span, message)
            .label("has no effect")
            .path(path.to_owned())
    };
    if svc.is_headless() && svc.type_is("ClusterIP") {
        if let Some(ip) = &svc.load_balancer_ip {
            sink.report(ignored(
                ip.span,
                "spec.loadBalancerIP",
                "`loadBalancerIP` is ignored for headless Services".to_owned(),
            ));
        }
        if let Some(ip) = svc.external_ips.first() {
            sink.report(ignored(
                ip.span,
                "spec.externalIPs",
                "`externalIPs` are ignored for headless Services".to_owned(),
            ));
        }
        if svc.session_affinity.value == "ClientIP" {
            sink.report(ignored(
                svc.session_affinity.span,
                "spec.sessionAffinity",
                "`sessionAffinity` is ignored for headless Services".to_owned(),
            ));
        }
    }
    if svc.is_external_name() {
        if let Some(name) = &svc.external_name {
            let value = name.value.trim_end_matches('.');
            // An IPv6 address is not a DNS name at all (`invalid-external-name` reports it).
            if crate::syntax::parse_ip(value).is_ok()
                && crate::syntax::dns1123_subdomain(value).is_empty()
            {
                sink.report(
                    Diagnostic::new("external-name-is-ip", name.span, format!("externalName `{}` is an IP address", name.value))
                        .label("CoreDNS serves no record for it")
                        .path("spec.externalName")
                        .help("an ExternalName is a DNS name; for a fixed address use a selector-less Service with an Endpoints object or EndpointSlice"),
                );
            }
        }
        if let Some(ip) = svc.external_ips.first() {
            sink.report(ignored(
                ip.span,
                "spec.externalIPs",
                "`externalIPs` are ignored for ExternalName Services".to_owned(),
            ));
        }
    } else if let Some(name) = svc.external_name.as_ref().filter(|n| !n.value.is_empty()) {
        sink.report(ignored(
            name.span,
            "spec.externalName",
            format!(
                "`externalName` is ignored for {} Services",
                svc.service_type.value
            ),
        ));
    }
    if svc.session_affinity.value == "None" {
        if let Some(cfg) = svc.session_affinity_config {
            sink.report(ignored(
                cfg,
                "spec.sessionAffinityConfig",
                "`sessionAffinityConfig` is ignored when `sessionAffinity` is None".to_owned(),
            ));
        }
    }
    check_topology_annotations(ctx, object, svc, sink);
}

fn check_topology_annotations(ctx: &Context, object: &Object, svc: &Service, sink: &mut Sink) {
    let annotations = &object.meta.annotations;
    let hints = annotations.get(TOPOLOGY_HINTS);
    if let Some(h) = hints {
        sink.report(
            Diagnostic::new(
                "deprecated-field",
                h.span,
                format!("annotation `{TOPOLOGY_HINTS}` is deprecated"),
            )
            .label("deprecated")
            .path(format!("metadata.annotations[{TOPOLOGY_HINTS}]"))
            .help(format!(
                "use `{TOPOLOGY_MODE}`, or `spec.trafficDistribution`"
            )),
        );
    }
    if let (Some(h), Some(m)) = (hints, annotations.get(TOPOLOGY_MODE)) {
        if h.value != m.value {
            sink.report(
                Diagnostic::new(
                    "topology-annotation-conflict",
                    m.span,
                    format!("`{TOPOLOGY_MODE}` and `{TOPOLOGY_HINTS}` disagree"),
                )
                .label(format!(
                    "must match annotations[{TOPOLOGY_HINTS}] when both are specified"
                ))
                .related(h.span, "the other annotation")
                .path(format!("metadata.annotations[{TOPOLOGY_MODE}]")),
            );
        }
    }
    if let Some(td) = &svc.traffic_distribution {
        if td.value == "PreferClose" && ctx.profile.kubernetes_minor >= 34 {
            sink.report(
                Diagnostic::new(
                    "deprecated-field",
                    td.span,
                    "`trafficDistribution: PreferClose` is deprecated",
                )
                .label("deprecated value")
                .path("spec.trafficDistribution")
                .help("use `PreferSameZone`, which means the same"),
            );
        }
    }
}

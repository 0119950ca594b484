//! `ineffective-annotation`: Service annotations that Kubernetes once read and no longer does,
//! each with the field that replaced it. The API server stores any annotation without a word,
//! so a manifest written for an old release keeps them and silently loses their behaviour.
//!
//! Only annotations whose removal is on record are listed (see `rules/ineffective-annotation.md`
//! for the references). `service.kubernetes.io/topology-aware-hints` is not one of them: it is
//! deprecated but still honoured (`deprecated-field`).

use crate::check::Sink;
use crate::diag::Diagnostic;
use crate::model::service::Service;
use crate::model::Object;

/// A Service annotation that does nothing on any Kubernetes version svcc checks against.
struct Removed {
    key: &'static str,
    /// Why it does nothing (the label).
    why: &'static str,
    /// The help, from the annotation's value and the Service.
    instead: fn(value: &str, svc: &Service) -> String,
}

const REMOVED: &[Removed] = &[
    Removed {
        key: "service.alpha.kubernetes.io/tolerate-unready-endpoints",
        why: "removed in Kubernetes 1.24; EndpointSlices never honoured it",
        instead: |value, svc| {
            if svc.publish_not_ready_addresses {
                "remove it: `spec.publishNotReadyAddresses: true` already publishes unready pods"
                    .to_owned()
            } else if is_true(value) {
                "set `spec.publishNotReadyAddresses: true` to publish unready pods, and remove the \
                 annotation"
                    .to_owned()
            } else {
                "remove it; `spec.publishNotReadyAddresses: true` is what publishes unready pods"
                    .to_owned()
            }
        },
    },
    Removed {
        key: "service.beta.kubernetes.io/external-traffic",
        why: "removed in Kubernetes 1.8",
        instead: external_traffic,
    },
    Removed {
        key: "service.alpha.kubernetes.io/external-traffic",
        why: "ignored since Kubernetes 1.7",
        instead: external_traffic,
    },
    Removed {
        key: "service.beta.kubernetes.io/healthcheck-nodeport",
        why: "removed in Kubernetes 1.8",
        instead: health_check_node_port,
    },
    Removed {
        key: "service.alpha.kubernetes.io/healthcheck-nodeport",
        why: "ignored since Kubernetes 1.7",
        instead: health_check_node_port,
    },
];

/// Go's `strconv.ParseBool` true values, which the endpoints controller accepted.
fn is_true(value: &str) -> bool {
    matches!(value, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// `OnlyLocal` was `externalTrafficPolicy: Local`; `Global` the default, `Cluster`.
fn external_traffic(value: &str, svc: &Service) -> String {
    if value != "OnlyLocal" {
        return "remove it: `Global` is the default, `spec.externalTrafficPolicy: Cluster`"
            .to_owned();
    }
    match svc.external_traffic_policy() {
        Some("Local") => {
            "remove it: `spec.externalTrafficPolicy: Local` already says this".to_owned()
        }
        _ => "use `spec.externalTrafficPolicy: Local`, and remove the annotation".to_owned(),
    }
}

fn health_check_node_port(value: &str, svc: &Service) -> String {
    match &svc.health_check_node_port {
        Some(_) => "remove it: `spec.healthCheckNodePort` is set".to_owned(),
        None => format!("use `spec.healthCheckNodePort: {value}`, and remove the annotation"),
    }
}

pub fn check(object: &Object, svc: &Service, sink: &mut Sink) {
    for (key, value) in &object.meta.annotations.entries {
        let Some(removed) = REMOVED.iter().find(|r| r.key == key.value) else {
            continue;
        };
        sink.report(
            Diagnostic::new(
                "ineffective-annotation",
                key.span,
                format!("annotation `{}` has no effect", removed.key),
            )
            .label(removed.why)
            .path(format!("metadata.annotations[{}]", removed.key))
            .help((removed.instead)(&value.value, svc)),
        );
    }
}

//! `no-endpoints-in-input`: a plan lowered from an input that holds no endpoint source at all.
//!
//! Manifests from Git carry Services and workloads but no EndpointSlices, no Endpoints and no
//! Pods with a `status.podIP`: the endpoints exist only in a running cluster. Compiled as they
//! are, every Service gets a ruleset that rejects its connections (and a zone without
//! addresses for headless Services), which is correct for that input and almost never what was
//! meant. Lowering says so once, naming the number of Services affected and how to add the
//! endpoints.
//!
//! Only the input without any endpoint source is reported: when some Services have endpoints,
//! the input came from a cluster (or was written with endpoints), and the Services without any
//! are the business of `service-without-backends` and `selector-matches-nothing`.

use super::{Plan, ServiceType};
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::kinds::KindId;
use crate::model::{Body, Model};

/// The finding, when the model has no endpoint source and the plan has Services left without
/// endpoints; anchored on the first of them in source order (with its object index).
pub fn check(model: &Model, links: &Links, plan: &Plan) -> Option<(usize, Diagnostic)> {
    let has_source = model.objects.iter().any(|o| match &o.body {
        Body::Endpoints(_) | Body::EndpointSlice(_) => true,
        Body::Workload(w) if o.known == Some(KindId::Pod) => w
            .status
            .as_ref()
            .is_some_and(|s| s.pod_ip.is_some() || !s.pod_ips.is_empty()),
        _ => false,
    });
    if has_source {
        return None;
    }
    let affected: Vec<usize> = plan
        .services
        .iter()
        .filter(|s| s.service_type != ServiceType::ExternalName && !s.ports.is_empty())
        .filter(|s| s.ports.iter().all(|p| p.endpoints.is_empty()))
        .filter_map(|s| links.service(&s.namespace, &s.name))
        .collect();
    let first = *affected
        .iter()
        .min_by_key(|&&i| model.objects[i].head_span())?;
    let o = &model.objects[first];
    let (count, label) = match affected.len() - 1 {
        0 => (
            "1 Service gets".to_owned(),
            "no backends for this Service".to_owned(),
        ),
        1 => (
            "2 Services get".to_owned(),
            "no backends for this Service, nor for the other one".to_owned(),
        ),
        n => (
            format!("{} Services get", n + 1),
            format!("no backends for this Service, nor for the {n} others"),
        ),
    };
    Some((
        first,
        Diagnostic::new(
            "no-endpoints-in-input",
            o.head_span(),
            format!(
                "the input has no endpoints (no EndpointSlice, Endpoints or Pod with a `podIP`): \
                 {count} no backends"
            ),
        )
        .label(label)
        .path("metadata.name")
        .object(o.object_ref())
        .help(
            "endpoints exist only in a running cluster: append them to the input \
             (`kubectl get endpointslices -A -o yaml >> endpoints.yaml`, then compile the \
             manifests and that file), or compile what the cluster reports \
             (`kubectl get svc,endpointslices -A -o yaml | svcc compile … -`)",
        ),
    ))
}

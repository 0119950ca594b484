//! A StatefulSet's governing Service: it exists, is headless, and selects the set's pods, so
//! that pods get `<pod>.<service>.<namespace>.svc.<zone>` DNS names.

use super::{describe, is_near, Findings};
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::kinds::KindId;
use crate::model::Model;

pub fn check(model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    for (i, o) in objects.iter().enumerate() {
        if o.known != Some(KindId::StatefulSet) {
            continue;
        }
        let Some(w) = o.workload() else { continue };
        let ns = links.namespace(i);
        let Some(name) = &w.service_name else {
            f.add(
                i,
                objects,
                Diagnostic::new(
                    "statefulset-service-missing",
                    o.head_span(),
                    format!("StatefulSet `{}` has no `serviceName`", o.name()),
                )
                .label("its pods get no stable DNS names")
                .path("spec.serviceName")
                .help("set `spec.serviceName` to a headless Service that selects the pods"),
            );
            continue;
        };
        let Some(&s) = links.governing_services.get(&i) else {
            let mut d = Diagnostic::new(
                "statefulset-service-missing",
                name.span,
                format!(
                    "`serviceName: {}` names no Service in namespace `{ns}`",
                    name.value
                ),
            )
            .label("no such Service in the input")
            .path("spec.serviceName");
            let near = links
                .services
                .get(ns)
                .into_iter()
                .flat_map(|m| m.iter())
                .filter(|(n, _)| is_near(n, &name.value))
                .min_by_key(|(n, _)| super::edit_distance(n, &name.value))
                .and_then(|(n, defs)| Some((n, *defs.last()?)));
            if let Some((n, si)) = near {
                d = d
                    .related(
                        objects[si].head_span(),
                        format!("Service `{n}` has a similar name"),
                    )
                    .help(format!("did you mean `{n}`?"));
            } else {
                d = d.help(format!(
                    "add a headless Service `{}` (`clusterIP: None`) selecting the pods",
                    name.value
                ));
            }
            f.add(i, objects, d);
            continue;
        };
        let Some(svc) = objects[s].service() else {
            continue;
        };
        if !svc.is_headless() {
            f.add(i, objects, Diagnostic::new("statefulset-service-not-headless", name.span, format!("governing Service `{}` is not headless", name.value))
                .label("pods get DNS names only from a headless Service")
                .related(svc.cluster_ips.first().map_or(objects[s].head_span(), |c| c.span), format!("{} has a cluster IP", describe(&objects[s])))
                .path("spec.serviceName")
                .help("set `clusterIP: None` on the governing Service (add a second Service for load-balanced traffic)"));
        }
        let selects = svc.has_selector() && crate::link::selects(&svc.selector, o);
        if !selects {
            f.add(
                i,
                objects,
                Diagnostic::new(
                    "statefulset-service-selects-other-pods",
                    name.span,
                    format!(
                        "governing Service `{}` does not select the pods of StatefulSet `{}`",
                        name.value,
                        o.name()
                    ),
                )
                .label("the Service's selector does not match the pod template labels")
                .related(
                    svc.selector.span.unwrap_or(objects[s].head_span()),
                    "the Service's selector",
                )
                .path("spec.serviceName"),
            );
        }
    }
}

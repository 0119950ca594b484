//! Endpoints and EndpointSlices against their Services: backends that are missing, orphaned,
//! overwritten by the controller, or on port names the Service does not use.

use super::{describe, is_near, Findings};
use crate::diag::Diagnostic;
use crate::link::{Links, SERVICE_NAME_LABEL};
use crate::model::endpoints::EndpointPort;
use crate::model::{Body, Model, Object};
use std::collections::HashMap;

/// The EndpointSlice controller's `managed-by` value.
const CONTROLLER: &str = "endpointslice-controller.k8s.io";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

pub fn check(model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    let unpaired = Unpaired::new(objects, links);
    for (i, o) in objects.iter().enumerate() {
        match &o.body {
            Body::Service(svc) if !svc.is_external_name() => {
                let Some(sl) = links.service_links.get(&i) else {
                    continue;
                };
                let has_backends = !sl.endpoints.is_empty() || !sl.slices.is_empty();
                if !svc.has_selector() && !has_backends {
                    f.add(i, objects, no_backends(i, o, &unpaired));
                }
                if has_backends {
                    check_port_names(i, o, &sl.endpoints, &sl.slices, objects, f);
                }
                if svc.has_selector() {
                    for &e in sl.endpoints.iter().chain(sl.slices.iter()) {
                        if !is_live_or_controller_managed(&objects[e]) {
                            f.add(e, objects, Diagnostic::new(
                                "endpoints-overwritten",
                                objects[e].head_span(),
                                format!("{} is written by hand for Service `{}`, which has a selector", describe(&objects[e]), o.name()),
                            )
                            .label("the endpoints controller replaces this")
                            .related(svc.selector.span.unwrap_or(o.head_span()), "the Service's selector makes the controller own its endpoints")
                            .path("metadata.name")
                            .help("remove the selector to manage endpoints by hand, or remove this object"));
                        }
                    }
                }
            }
            Body::Endpoints(_) if links.service(links.namespace(i), o.name()).is_none() => {
                let d = orphan(i, o, o.name(), o.head_span(), "metadata.name", &unpaired);
                f.add(i, objects, d);
            }
            Body::EndpointSlice(_) => match o.meta.labels.get(SERVICE_NAME_LABEL) {
                None => f.add(
                    i,
                    objects,
                    Diagnostic::new(
                        "endpointslice-without-service-label",
                        o.meta.labels.span.unwrap_or(o.head_span()),
                        format!(
                            "EndpointSlice `{}` has no `{SERVICE_NAME_LABEL}` label",
                            o.name()
                        ),
                    )
                    .label("no Service will use these endpoints")
                    .path(format!("metadata.labels[{SERVICE_NAME_LABEL}]"))
                    .help(format!(
                        "add the label `{SERVICE_NAME_LABEL}: <service name>`"
                    )),
                ),
                Some(name) => {
                    if links.service(links.namespace(i), &name.value).is_none() {
                        f.add(
                            i,
                            objects,
                            orphan(
                                i,
                                o,
                                &name.value,
                                name.span,
                                &format!("metadata.labels[{SERVICE_NAME_LABEL}]"),
                                &unpaired,
                            ),
                        );
                    }
                }
            },
            _ => {}
        }
    }
}

/// Objects from `kubectl get -o yaml` (with a uid or resourceVersion) or written by the
/// controllers are not hand-written.
fn is_live_or_controller_managed(o: &Object) -> bool {
    let live = o.meta.live;
    let managed = o
        .meta
        .labels
        .get(MANAGED_BY)
        .is_some_and(|v| v.value == CONTROLLER)
        || o.meta
            .annotations
            .get("endpoints.kubernetes.io/last-change-trigger-time")
            .is_some();
    live || managed
}

fn no_backends(i: usize, o: &Object, unpaired: &Unpaired) -> Diagnostic {
    let ns = unpaired.links.namespace(i);
    let mut d = Diagnostic::new(
        "service-without-backends",
        o.head_span(),
        format!(
            "selector-less Service `{}` has no Endpoints or EndpointSlice",
            o.name()
        ),
    )
    .label("no backends: connections to it are refused")
    .path("metadata.name");
    let near = unpaired
        .orphans
        .get(ns)
        .filter(|_| unpaired.compares(ns))
        .into_iter()
        .flatten()
        .filter(|(_, wanted)| is_near(wanted, o.name()))
        .min_by_key(|(_, wanted)| super::edit_distance(wanted, o.name()))
        .copied()
        .or_else(|| unpaired.only_pair(ns).map(|(orphan, _)| orphan))
        .map(|(e, _)| &unpaired.objects[e]);
    if let Some(eo) = near {
        let help = match &eo.body {
            Body::Endpoints(_) => format!(
                "an Endpoints object backs the Service of the same name: rename it to `{}`",
                o.name()
            ),
            _ => format!(
                "an EndpointSlice backs the Service its `{SERVICE_NAME_LABEL}` label names: set it to `{}`",
                o.name()
            ),
        };
        d = d
            .related(
                eo.head_span(),
                format!(
                    "{} matches no Service; is it meant for this one?",
                    describe(eo)
                ),
            )
            .help(help);
    } else {
        d = d.help(format!("add an Endpoints object named `{}` (or an EndpointSlice labelled `{SERVICE_NAME_LABEL}: {}`), or a selector", o.name(), o.name()));
    }
    d
}

fn orphan(
    i: usize,
    o: &Object,
    wanted: &str,
    span: crate::source::Span,
    path: &str,
    unpaired: &Unpaired,
) -> Diagnostic {
    let (links, objects) = (unpaired.links, unpaired.objects);
    let ns = links.namespace(i);
    let message = match &o.body {
        Body::Endpoints(_) => format!("Endpoints `{wanted}` match no Service in namespace `{ns}`"),
        _ => format!(
            "{} names Service `{wanted}`, which is not in namespace `{ns}`",
            describe(o)
        ),
    };
    let mut d = Diagnostic::new("orphan-endpoints", span, message)
        .label("no Service of this name")
        .path(path.to_owned());
    let candidates = links
        .services
        .get(ns)
        .filter(|_| unpaired.compares(ns))
        .into_iter()
        .flat_map(|m| m.iter())
        .filter_map(|(name, defs)| Some((name, *defs.last()?)));
    let near = candidates
        .filter(|(name, s)| {
            let s = *s;
            objects[s]
                .service()
                .is_some_and(|svc| !svc.has_selector() && !svc.is_external_name())
                && is_near(name, wanted)
        })
        .min_by_key(|(name, _)| super::edit_distance(name, wanted))
        .map(|(name, s)| (name.as_str(), s))
        .or_else(|| unpaired.only_pair(ns).map(|(_, service)| service));
    if let Some((name, s)) = near {
        let backendless = unpaired
            .backendless
            .get(ns)
            .is_some_and(|b| b.contains(&(name, s)));
        let note = if backendless {
            format!("selector-less Service `{name}` has no backends")
        } else {
            format!("selector-less Service `{name}` has a similar name")
        };
        let help = match &o.body {
            Body::Endpoints(_) => format!("name it after the Service it backs: `{name}`"),
            _ => format!("set the label to the Service it backs: `{name}`"),
        };
        d = d.related(objects[s].head_span(), note).help(help);
    }
    d
}

/// What may pair up, per namespace: Endpoints and EndpointSlices that name no Service (one per
/// wanted name: the slices of one missing Service count once), and selector-less Services
/// without Endpoints or EndpointSlice. Built once per run.
/// Name comparisons a namespace may cost for similar-name hints (a million Endpoints against a
/// million Services would take hours); past it, only the unambiguous pairing is offered.
const NEAR_PAIRS: usize = 1_000_000;

/// An orphan (object index, the Service name it wants).
type Orphan<'a> = (usize, &'a str);
/// A Service without backends (name, object index).
type Backendless<'a> = (&'a str, usize);

struct Unpaired<'a> {
    objects: &'a [Object],
    links: &'a Links,
    orphans: HashMap<&'a str, Vec<Orphan<'a>>>,
    backendless: HashMap<&'a str, Vec<Backendless<'a>>>,
}

impl<'a> Unpaired<'a> {
    fn new(objects: &'a [Object], links: &'a Links) -> Self {
        let mut u = Unpaired {
            objects,
            links,
            orphans: HashMap::new(),
            backendless: HashMap::new(),
        };
        for (e, eo) in objects.iter().enumerate() {
            let ns = links.namespace(e);
            let wanted = match &eo.body {
                Body::Endpoints(_) => Some(eo.name()),
                Body::EndpointSlice(_) => eo
                    .meta
                    .labels
                    .get(SERVICE_NAME_LABEL)
                    .map(|n| n.value.as_str()),
                _ => None,
            };
            if let Some(w) = wanted.filter(|w| links.service(ns, w).is_none()) {
                let list = u.orphans.entry(ns).or_default();
                if !list.iter().any(|(_, o)| *o == w) {
                    list.push((e, w));
                }
            }
        }
        for (ns, services) in &links.services {
            for (name, defs) in services {
                let Some(&s) = defs.last() else { continue };
                let selectorless = objects[s]
                    .service()
                    .is_some_and(|svc| !svc.has_selector() && !svc.is_external_name());
                let backed = links
                    .service_links
                    .get(&s)
                    .is_some_and(|l| !l.endpoints.is_empty() || !l.slices.is_empty());
                if selectorless && !backed {
                    u.backendless
                        .entry(ns.as_str())
                        .or_default()
                        .push((name.as_str(), s));
                }
            }
        }
        u
    }

    /// Whether names are compared in namespace `ns`: every orphan against every Service is a
    /// quadratic search, skipped (and with it the similar-name hints) past [`NEAR_PAIRS`].
    fn compares(&self, ns: &str) -> bool {
        let orphans = self.orphans.get(ns).map_or(0, Vec::len);
        let services = self.links.services.get(ns).map_or(0, |m| m.len());
        orphans.saturating_mul(services) <= NEAR_PAIRS
    }

    /// Without a similar name, an orphan and a Service without backends are offered to each
    /// other only when the pairing is unambiguous: the namespace has exactly one of each.
    fn only_pair(&self, ns: &str) -> Option<(Orphan<'a>, Backendless<'a>)> {
        match (
            self.orphans.get(ns).map(Vec::as_slice),
            self.backendless.get(ns).map(Vec::as_slice),
        ) {
            (Some([orphan]), Some([service])) => Some((*orphan, *service)),
            _ => None,
        }
    }
}

/// Every Service port name must appear among the endpoint ports, or traffic to that port is
/// rejected (kube-proxy matches endpoint ports to Service ports by name).
fn check_port_names(
    i: usize,
    o: &Object,
    endpoints: &[usize],
    slices: &[usize],
    objects: &[Object],
    f: &mut Findings,
) {
    let Some(svc) = o.service() else { return };
    let mut available: Vec<(&EndpointPort, usize)> = Vec::new();
    for &e in endpoints {
        if let Body::Endpoints(ep) = &objects[e].body {
            for s in &ep.subsets {
                available.extend(s.ports.iter().map(|p| (p, e)));
            }
        }
    }
    for &e in slices {
        if let Body::EndpointSlice(sl) = &objects[e].body {
            available.extend(sl.ports.iter().map(|p| (p, e)));
        }
    }
    if available.is_empty() {
        return;
    }
    for (p, port) in svc.ports.iter().enumerate() {
        let name = port.name_str();
        if available
            .iter()
            .any(|(ep, _)| ep.name_str() == name && ep.protocol.value == port.protocol.value)
        {
            continue;
        }
        let (first, e) = available[0];
        let shown = if name.is_empty() {
            "the unnamed Service port".to_owned()
        } else {
            format!("Service port `{name}`")
        };
        let theirs: Vec<String> = available
            .iter()
            .map(|(ep, _)| {
                if ep.name_str().is_empty() {
                    "(unnamed)".to_owned()
                } else {
                    format!("`{}`", ep.name_str())
                }
            })
            .collect();
        f.add(i, objects, Diagnostic::new(
            "endpoint-port-mismatch",
            port.name.as_ref().map_or(port.span, |n| n.span),
            format!("{shown} ({}) has no matching port in the endpoints of Service `{}`", port.protocol.value, o.name()),
        )
        .label(format!("endpoint ports: {}", theirs.join(", ")))
        .related(first.span, format!("ports of {}", describe(&objects[e])))
        .path(if port.name.is_some() { format!("spec.ports[{p}].name") } else { format!("spec.ports[{p}]") })
        .help("endpoint ports are matched to Service ports by name and protocol; traffic to this port is rejected"));
    }
}

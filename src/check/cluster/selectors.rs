//! Service selectors and targetPorts against the selected pod templates.

use super::{describe, is_near, Findings};
use crate::diag::{Diagnostic, Severity};
use crate::link::{Links, Nearness, Target};
use crate::model::{IntOrStr, Model, Object, StrMap};

pub fn check(model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    for (i, o) in objects.iter().enumerate() {
        let Some(svc) = o.service() else { continue };
        if svc.is_external_name() {
            continue;
        }
        if let (Some(span), true) = (svc.selector.span, svc.selector.is_empty()) {
            f.add(i, objects, Diagnostic::new("empty-selector", span, "`selector: {}` selects nothing: the Service is selector-less")
                .label("empty selector")
                .path("spec.selector")
                .help("remove `selector` and provide Endpoints or EndpointSlices, or add the labels of the pods to select"));
            continue;
        }
        let Some(sl) = links.service_links.get(&i) else {
            continue;
        };
        if !svc.has_selector() {
            continue;
        }
        if sl.selected.is_empty() {
            f.add(
                i,
                objects,
                matches_nothing(i, o, &svc.selector, model, links),
            );
            continue;
        }
        for (p, port) in svc.ports.iter().enumerate() {
            let Some(target) = &port.target_port else {
                if let Some(d) = undeclared(
                    port.port.as_ref().map_or(port.span, |s| s.span),
                    p,
                    &sl.targets[p],
                    objects,
                ) {
                    f.add(i, objects, d);
                }
                continue;
            };
            match &target.value {
                IntOrStr::Str(name) if !name.is_empty() => {
                    let missing: Vec<usize> = sl.targets[p]
                        .iter()
                        .filter(|(_, t)| matches!(t, Target::Missing { .. }))
                        .map(|(w, _)| *w)
                        .collect();
                    // Only when no selected template exposes it: a Job or sidecar workload that
                    // shares the labels but serves nothing does not make the Service wrong.
                    if !missing.is_empty() && missing.len() == sl.targets[p].len() {
                        let d = named_missing(
                            target.span,
                            p,
                            name,
                            &port.protocol.value,
                            &missing,
                            objects,
                        );
                        f.add(i, objects, elsewhere(d, sl.selected_near));
                    }
                    let mut numbers: Vec<(i64, usize)> = sl.targets[p]
                        .iter()
                        .filter_map(|(w, t)| match t {
                            Target::Named { port, .. } => Some((*port, *w)),
                            _ => None,
                        })
                        .collect();
                    numbers.sort();
                    numbers.dedup_by_key(|(n, _)| *n);
                    if numbers.len() > 1 {
                        let mut d = Diagnostic::new(
                            "target-port-ambiguous",
                            target.span,
                            format!("targetPort `{name}` means different port numbers in the selected workloads"),
                        )
                        .label(format!("resolves to {}", numbers.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>().join(", ")))
                        .path(format!("spec.ports[{p}].targetPort"));
                        for (n, w) in &numbers {
                            d = d.related(
                                objects[*w].head_span(),
                                format!("`{name}` is port {n} in {}", describe(&objects[*w])),
                            );
                        }
                        f.add(i, objects, d);
                    }
                }
                _ => {
                    if let Some(d) = undeclared(target.span, p, &sl.targets[p], objects) {
                        f.add(i, objects, d);
                    }
                }
            }
        }
    }
}

/// A finding that rests on workloads in other apply units is a warning at most: whether it
/// holds depends on what is applied together.
fn elsewhere(d: Diagnostic, near: Nearness) -> Diagnostic {
    if near == Nearness::SameUnit {
        return d;
    }
    let note = "the selected workloads are in other files, which may not be applied with this one";
    let help = match d.help.as_deref() {
        Some(h) => format!("{h} ({note})"),
        None => note.to_owned(),
    };
    d.help(help).at_most(Severity::Warning)
}

/// A numeric target that containers declaring ports do not declare (warning). Containers that
/// declare no ports at all say nothing, so they are not held against the Service.
fn undeclared(
    span: crate::source::Span,
    p: usize,
    targets: &[(usize, Target)],
    objects: &[Object],
) -> Option<Diagnostic> {
    let mut number = None;
    let mut declaring = Vec::new();
    for (w, t) in targets {
        let Target::Number { port, declared } = t else {
            return None;
        };
        if *declared {
            return None;
        }
        number = Some(*port);
        let declares_any = objects[*w].workload().is_some_and(|wl| {
            wl.template
                .spec
                .serving_containers()
                .any(|c| !c.ports.is_empty())
        });
        if declares_any {
            declaring.push(*w);
        }
    }
    let number = number?;
    let w = *declaring.first()?;
    let wl = objects[w].workload()?;
    let ports: Vec<String> = wl
        .template
        .spec
        .serving_containers()
        .flat_map(|c| c.ports.iter())
        .filter_map(|cp| cp.container_port.as_ref().map(|n| n.value.to_string()))
        .collect();
    Some(
        Diagnostic::new("target-port-not-declared", span, format!("targetPort {number} is not a declared container port of the selected pods"))
            .label(format!("the containers declare {}", ports.join(", ")))
            .path(format!("spec.ports[{p}].targetPort"))
            .related(wl.template.span, format!("pod template of {}", describe(&objects[w])))
            .help("check the port number; container ports are informational, so traffic goes to this port even if nothing listens there"),
    )
}

fn named_missing(
    span: crate::source::Span,
    p: usize,
    name: &str,
    protocol: &str,
    missing: &[usize],
    objects: &[Object],
) -> Diagnostic {
    let mut names: Vec<String> = Vec::new();
    for &w in missing {
        if let Some(wl) = objects[w].workload() {
            for cp in wl
                .template
                .spec
                .serving_containers()
                .flat_map(|c| c.ports.iter())
            {
                if let Some(n) = &cp.name {
                    let s = if cp.protocol.value == "TCP" {
                        format!("`{}`", n.value)
                    } else {
                        format!("`{}` ({})", n.value, cp.protocol.value)
                    };
                    if !names.contains(&s) {
                        names.push(s);
                    }
                }
            }
        }
    }
    let existing = if names.is_empty() {
        "the selected containers have no named ports".to_owned()
    } else {
        format!("named ports there: {}", names.join(", "))
    };
    let mut d = Diagnostic::new(
        "target-port-not-found",
        span,
        format!("targetPort `{name}` ({protocol}) is not a container port of the selected pods"),
    )
    .label(existing)
    .path(format!("spec.ports[{p}].targetPort"))
    .help("pods without a matching port get no endpoint for this Service port; use a name from the pod template, or a port number");
    for &w in missing.iter().take(3) {
        if let Some(wl) = objects[w].workload() {
            d = d.related(
                wl.template.span,
                format!(
                    "pod template of {} has no port `{name}`/{protocol}",
                    describe(&objects[w])
                ),
            );
        }
    }
    d
}

/// "selects no workload", with the nearest miss as a related location.
fn matches_nothing(
    i: usize,
    o: &Object,
    selector: &StrMap,
    model: &Model,
    links: &Links,
) -> Diagnostic {
    let ns = links.namespace(i);
    let text = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut d = Diagnostic::new(
        "selector-matches-nothing",
        selector.span.unwrap_or(o.head_span()),
        format!("selector `{text}` selects no workload in namespace `{ns}`"),
    )
    .label("no pod template in the input has these labels")
    .path("spec.selector");
    // Nearest miss in the same namespace: the workload that agrees on most pairs, preferring
    // one whose disagreement looks like a typo.
    let mut best: Option<(usize, usize, &str, &str)> = None; // (score, object, key, their value)
    for (w, other) in model.objects.iter().enumerate() {
        let Some(wl) = other.workload() else { continue };
        if links.namespace(w) != ns {
            continue;
        }
        let labels = &wl.template.labels;
        let mut score = 0;
        let mut miss: Option<(&str, &str)> = None;
        for (k, v) in selector.iter() {
            match labels.get(k) {
                Some(l) if l.value == v => score += 4,
                Some(l) => {
                    score += if is_near(&l.value, v) { 3 } else { 1 };
                    miss.get_or_insert((k, l.value.as_str()));
                }
                None => {
                    if let Some((lk, _)) = labels.iter().find(|(lk, lv)| is_near(lk, k) && *lv == v)
                    {
                        score += 3;
                        miss.get_or_insert((lk, v));
                    }
                }
            }
        }
        if let Some((k, theirs)) = miss {
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, w, k, theirs));
            }
        }
    }
    if let Some((_, w, key, theirs)) = best {
        let wl = model.objects[w].workload();
        let span = wl
            .and_then(|wl| {
                wl.template
                    .labels
                    .entries
                    .iter()
                    .find(|(k, _)| k.value == key)
                    .map(|(_, v)| v.span)
            })
            .unwrap_or(model.objects[w].head_span());
        d = d
            .related(
                span,
                format!(
                    "near miss: {} has `{key}: {theirs}`",
                    describe(&model.objects[w])
                ),
            )
            .help(format!("did you mean `{key}: {theirs}`?"));
        if let Some((k, v)) = selector
            .entries
            .iter()
            .find(|(k, _)| k.value == key || is_near(&k.value, key))
        {
            d.span = if k.value == key { v.span } else { k.span };
        }
        return d;
    }
    // A workload in another namespace that the selector would select.
    for (w, other) in model.objects.iter().enumerate() {
        let Some(wl) = other.workload() else { continue };
        if links.namespace(w) != ns && selector.is_subset_of(&wl.template.labels) {
            return d
                .related(
                    other.head_span(),
                    format!(
                        "{} in namespace `{}` has these labels",
                        describe(other),
                        links.namespace(w)
                    ),
                )
                .help("a Service selects pods in its own namespace only");
        }
    }
    d.help("the workloads may be defined elsewhere; if not, check the selector against the pod template labels")
}

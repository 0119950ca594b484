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
            .related(
                wl.template.spec.ports_anchor().unwrap_or(wl.template.span),
                format!("container ports of {}", describe(&objects[w])),
            )
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
                wl.template.spec.ports_anchor().unwrap_or(wl.template.span),
                format!(
                    "{} has no container port `{name}`/{protocol}",
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
    if let Some(miss) = nearest_miss(selector, ns, model, links) {
        let other = &model.objects[miss.workload];
        let labels = other.workload().map(|wl| &wl.template.labels);
        let (span, note, help) = match miss.kind {
            Miss::Value { key, theirs } | Miss::Key { theirs: (key, theirs), .. } => (
                labels
                    .and_then(|l| l.entries.iter().find(|(k, _)| k.value == key))
                    .map(|(_, v)| v.span),
                format!("near miss: {} has `{key}: {theirs}`", describe(other)),
                format!("did you mean `{key}: {theirs}`?"),
            ),
            Miss::Absent { key } => (
                labels.and_then(|l| l.span),
                format!(
                    "near miss: {} has the other labels of the selector, but no `{key}`",
                    describe(other)
                ),
                format!(
                    "add the label `{key}` to the pod template of {}, or remove it from the selector",
                    describe(other)
                ),
            ),
        };
        d = d
            .related(span.unwrap_or(other.head_span()), note)
            .help(help);
        // The primary span moves to the selector pair that differs.
        let (ours, at_value) = match miss.kind {
            Miss::Value { key, .. } => (key, true),
            Miss::Key { ours, .. } | Miss::Absent { key: ours } => (ours, false),
        };
        if let Some((k, v)) = selector.entries.iter().find(|(k, _)| k.value == ours) {
            d.span = if at_value { v.span } else { k.span };
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

/// How the nearest workload differs from a selector that selects nothing.
#[derive(Clone, Copy)]
enum Miss<'a> {
    /// The key is there with another value: `(key, their value)`.
    Value { key: &'a str, theirs: &'a str },
    /// A key that looks like a typo of ours, with our value: `theirs` is `(key, value)`.
    Key {
        ours: &'a str,
        theirs: (&'a str, &'a str),
    },
    /// Our key is not among their labels at all.
    Absent { key: &'a str },
}

struct NearMiss<'a> {
    workload: usize,
    kind: Miss<'a>,
}

/// The workload in namespace `ns` that nearly matches `selector`, if one really does: one of
/// its labels differs from a selector pair by a typo (a value or a key within [`is_near`]), or
/// it agrees on most of the selector (more than half of the pairs equal, at least one). A
/// workload that merely shares a key (`app: zk` against `app: echoheaders`) is no near miss.
/// Among several, the one that agrees on most pairs wins, typos counting almost as much.
fn nearest_miss<'a>(
    selector: &'a StrMap,
    ns: &str,
    model: &'a Model,
    links: &Links,
) -> Option<NearMiss<'a>> {
    let mut best: Option<(usize, NearMiss<'a>)> = None;
    for (w, other) in model.objects.iter().enumerate() {
        let Some(wl) = other.workload() else { continue };
        if links.namespace(w) != ns {
            continue;
        }
        let labels = &wl.template.labels;
        let (mut equal, mut score) = (0, 0);
        let (mut typo, mut differs): (Option<Miss>, Option<Miss>) = (None, None);
        for (k, v) in selector.iter() {
            match labels.get(k) {
                Some(l) if l.value == v => {
                    equal += 1;
                    score += 4;
                }
                Some(l) if is_near(&l.value, v) => {
                    score += 3;
                    typo.get_or_insert(Miss::Value {
                        key: k,
                        theirs: &l.value,
                    });
                }
                Some(l) => {
                    score += 1;
                    differs.get_or_insert(Miss::Value {
                        key: k,
                        theirs: &l.value,
                    });
                }
                None => match labels.iter().find(|(lk, lv)| is_near(lk, k) && *lv == v) {
                    Some(theirs) => {
                        score += 3;
                        typo.get_or_insert(Miss::Key { ours: k, theirs });
                    }
                    None => {
                        differs.get_or_insert(Miss::Absent { key: k });
                    }
                },
            }
        }
        let most = equal >= 1 && 2 * equal > selector.len();
        let kind = match (typo, differs) {
            (Some(t), _) => t,
            (None, Some(d)) if most => d,
            _ => continue,
        };
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, NearMiss { workload: w, kind }));
        }
    }
    best.map(|(_, m)| m)
}

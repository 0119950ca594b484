//! Workload selectors and templates: a selector is required and non-empty, its expressions are
//! well-formed, it selects the template's labels, and the template's restart policy suits the
//! kind; Jobs keep their generated selector (`docs/reference/validation.md` §7).

use super::metadata::check_labels;
use super::{invalid, unsupported};
use crate::check::Sink;
use crate::diag::Diagnostic;
use crate::model::kinds::KindId;
use crate::model::workload::{LabelSelector, Workload};
use crate::model::Object;
use crate::syntax;

pub fn check(object: &Object, w: &Workload, sink: &mut Sink) {
    let Some(kind) = object.known else { return };
    let needs_selector = matches!(
        kind,
        KindId::Deployment | KindId::ReplicaSet | KindId::StatefulSet | KindId::DaemonSet
    );
    let labels_path = if w.template_path.is_empty() {
        "metadata.labels".to_owned()
    } else {
        format!("{}.metadata.labels", w.template_path)
    };
    if kind != KindId::Pod {
        check_labels(sink, &w.template.labels, &labels_path);
    }
    match &w.selector {
        None if needs_selector => sink.report(
            Diagnostic::new(
                "selector-required",
                object.head_span(),
                format!("{} has no selector", kind.name()),
            )
            .label("`spec.selector` is required")
            .path(w.selector_path)
            .help("add `spec.selector.matchLabels` with the template's labels"),
        ),
        None => {}
        Some(sel) => {
            if needs_selector && sel.is_empty() {
                sink.report(
                    Diagnostic::new(
                        "selector-required",
                        sel.span,
                        format!(
                            "empty selector is invalid for {}",
                            kind.name().to_ascii_lowercase()
                        ),
                    )
                    .label("selects nothing")
                    .path(w.selector_path),
                );
            }
            check_labels(
                sink,
                &sel.match_labels,
                &format!("{}.matchLabels", w.selector_path),
            );
            check_expressions(sink, sel, w.selector_path);
            if kind == KindId::Job || kind == KindId::CronJob {
                check_job_selector(w, sel, sink);
            } else if !sel.is_empty() && !sel.matches(&w.template.labels) {
                let span = w.template.labels.span.unwrap_or(w.template.span);
                sink.report(
                    Diagnostic::new(
                        "selector-template-mismatch",
                        span,
                        format!(
                            "the selector of {} `{}` does not select its own pod template",
                            kind.name(),
                            object.name()
                        ),
                    )
                    .label("`selector` does not match template `labels`")
                    .related(sel.span, "selector defined here")
                    .path(labels_path.clone())
                    .help("the template's labels must satisfy every term of `spec.selector`"),
                );
            }
        }
    }
    check_restart_policy(kind, w, sink);
}

fn check_expressions(sink: &mut Sink, sel: &LabelSelector, selector_path: &str) {
    for (i, r) in sel.match_expressions.iter().enumerate() {
        let path = format!("{selector_path}.matchExpressions[{i}]");
        if let Some(key) = &r.key {
            let problems = syntax::qualified_name(&key.value);
            if !problems.is_empty() {
                sink.report(invalid(
                    "invalid-label-selector",
                    key.span,
                    format!("{path}.key"),
                    "selector key",
                    &key.value,
                    &problems,
                ));
            }
        }
        let Some(op) = &r.operator else { continue };
        match op.value.as_str() {
            "In" | "NotIn" if r.values.is_empty() => sink.report(
                Diagnostic::new(
                    "invalid-label-selector",
                    op.span,
                    format!("operator `{}` has no values", op.value),
                )
                .label("`values` must be specified when `operator` is 'In' or 'NotIn'")
                .path(format!("{path}.values")),
            ),
            "Exists" | "DoesNotExist" if !r.values.is_empty() => sink.report(
                Diagnostic::new(
                    "invalid-label-selector",
                    r.values_span.unwrap_or(op.span),
                    format!("operator `{}` takes no values", op.value),
                )
                .label(
                    "`values` may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
                .path(format!("{path}.values")),
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {
                for v in &r.values {
                    let problems = syntax::label_value(&v.value);
                    if !problems.is_empty() {
                        sink.report(invalid(
                            "invalid-label-selector",
                            v.span,
                            format!("{path}.values"),
                            "selector value",
                            &v.value,
                            &problems,
                        ));
                    }
                }
            }
            other => sink.report(unsupported(
                "invalid-label-selector",
                op.span,
                format!("{path}.operator"),
                "selector operator",
                other,
                &["DoesNotExist", "Exists", "In", "NotIn"],
            )),
        }
    }
}

/// A Job's selector is generated by the API server; writing one needs `manualSelector: true`.
/// Selectors in `kubectl get -o yaml` output are the generated ones and pass.
fn check_job_selector(w: &Workload, sel: &LabelSelector, sink: &mut Sink) {
    let generated = sel
        .match_labels
        .iter()
        .any(|(k, _)| k == "batch.kubernetes.io/controller-uid" || k == "controller-uid");
    if !w.manual_selector && !generated {
        sink.report(
            Diagnostic::new(
                "job-selector-not-generated",
                sel.span,
                "a Job selector is written without `manualSelector: true`",
            )
            .label("`selector` not auto-generated")
            .path(w.selector_path)
            .help("remove the selector and let the API server generate it"),
        );
    }
}

fn check_restart_policy(kind: KindId, w: &Workload, sink: &mut Sink) {
    let allowed: &[&str] = match kind {
        KindId::Job | KindId::CronJob => &["Never", "OnFailure"],
        KindId::Pod => &["Always", "Never", "OnFailure"],
        _ => &["Always"],
    };
    let path = format!("{}.restartPolicy", w.spec_path);
    match &w.template.spec.restart_policy {
        Some(p) if !allowed.contains(&p.value.as_str()) => {
            sink.report(unsupported(
                "invalid-restart-policy",
                p.span,
                path,
                "restartPolicy",
                &p.value,
                allowed,
            ));
        }
        Some(_) => {}
        // The default is `Always`, which a Job refuses.
        None if matches!(kind, KindId::Job | KindId::CronJob) => sink.report(
            Diagnostic::new(
                "invalid-restart-policy",
                w.template.spec.span,
                format!(
                    "a {} template needs `restartPolicy: Never` or `OnFailure`",
                    kind.name()
                ),
            )
            .label("the default, `Always`, is not allowed for Jobs")
            .path(path),
        ),
        None => {}
    }
}

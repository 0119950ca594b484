//! Object metadata: names per kind, namespace, label and annotation syntax.

use super::invalid;
use crate::check::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::kinds::KindId;
use crate::model::{Object, StrMap};
use crate::syntax::{self, dns1035_label, dns1123_label, dns1123_subdomain};

/// Total size of annotation keys and values (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

pub fn check(_ctx: &Context, object: &Object, sink: &mut Sink) {
    let Some(kind) = object.known else { return };
    let (rule_fn, rule_name): (fn(&str) -> Vec<String>, &str) = match kind {
        KindId::Service => (dns1035_label, "an RFC 1035 label"),
        KindId::StatefulSet | KindId::Namespace => (dns1123_label, "an RFC 1123 label"),
        _ => (dns1123_subdomain, "an RFC 1123 subdomain"),
    };
    let meta = &object.meta;
    match (&meta.name, &meta.generate_name) {
        (Some(name), _) => {
            let problems = rule_fn(&name.value);
            if !problems.is_empty() {
                sink.report(
                    invalid(
                        "invalid-name",
                        name.span,
                        "metadata.name",
                        &format!("{} name", kind.name()),
                        &name.value,
                        &problems,
                    )
                    .help(format!("a {} name must be {rule_name}", kind.name())),
                );
            }
        }
        (None, Some(prefix)) => {
            let problems = syntax::name_prefix(&prefix.value, rule_fn);
            if !problems.is_empty() {
                sink.report(invalid(
                    "invalid-name",
                    prefix.span,
                    "metadata.generateName",
                    "generateName",
                    &prefix.value,
                    &problems,
                ));
            }
        }
        (None, None) => sink.report(
            Diagnostic::new(
                "invalid-name",
                meta.span.unwrap_or(object.kind.span),
                format!("{} has no name", kind.name()),
            )
            .label("`metadata.name` or `metadata.generateName` is required")
            .path("metadata.name"),
        ),
    }
    if let Some(ns) = &meta.namespace {
        let problems = dns1123_label(&ns.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-namespace",
                ns.span,
                "metadata.namespace",
                "namespace",
                &ns.value,
                &problems,
            ));
        }
    }
    check_labels(sink, &meta.labels, "metadata.labels");
    check_annotations(sink, &meta.annotations);
}

/// Label (and selector) keys are qualified names; values are label values.
pub fn check_labels(sink: &mut Sink, labels: &StrMap, path: &str) {
    for (key, value) in &labels.entries {
        let problems = syntax::qualified_name(&key.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-label",
                key.span,
                format!("{path}[{}]", key.value),
                "label key",
                &key.value,
                &problems,
            ));
        }
        let problems = syntax::label_value(&value.value);
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-label",
                value.span,
                format!("{path}[{}]", key.value),
                "label value",
                &value.value,
                &problems,
            ));
        }
    }
}

fn check_annotations(sink: &mut Sink, annotations: &StrMap) {
    let mut total = 0usize;
    for (key, value) in &annotations.entries {
        total += key.value.len() + value.value.len();
        // The API server checks annotation keys lower-cased.
        let problems = syntax::qualified_name(&key.value.to_ascii_lowercase());
        if !problems.is_empty() {
            sink.report(invalid(
                "invalid-annotation",
                key.span,
                format!("metadata.annotations[{}]", key.value),
                "annotation key",
                &key.value,
                &problems,
            ));
        }
    }
    if total > ANNOTATIONS_MAX_BYTES {
        if let Some(span) = annotations.span {
            sink.report(
                Diagnostic::new(
                    "invalid-annotation",
                    span,
                    format!("annotations take {total} bytes; at most {ANNOTATIONS_MAX_BYTES} are allowed"),
                )
                .label("too large")
                .path("metadata.annotations"),
            );
        }
    }
}

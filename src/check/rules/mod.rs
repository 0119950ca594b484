//! The rules: what the API server's validation refuses (`docs/reference/validation.md` §2–§7),
//! applied to objects after defaulting, plus the allocation checks against the profile.
//!
//! Layout departs from "one file per rule": the API server validates a field area in one pass
//! (a port's name, number, protocol and target share their parsing), so each file here owns one
//! field area and reports several rule ids. Every id it reports is a row of the catalogue
//! (`rules/<id>.md`); the catalogue tests check each id's examples.

mod allocation;
mod containers;
mod endpoints;
mod ineffective_annotation;
mod metadata;
mod service_ips;
mod service_ports;
mod service_shape;
mod service_warnings;
mod workload;

use super::{Context, Sink};
use crate::diag::Diagnostic;
use crate::model::{Body, Object};
use crate::source::Span;

/// Runs every per-object rule that applies to the object's kind.
pub fn check_object(ctx: &Context, object: &Object, sink: &mut Sink) {
    metadata::check(ctx, object, sink);
    match &object.body {
        Body::Service(svc) => {
            metadata::check_labels(sink, &svc.selector, "spec.selector");
            service_ports::check(ctx, svc, sink);
            service_shape::check(ctx, object, svc, sink);
            service_ips::check(ctx, svc, sink);
            service_ips::check_source_ranges_annotation(svc, &object.meta.annotations, sink);
            allocation::check(ctx, svc, sink);
            service_warnings::check(ctx, object, svc, sink);
            ineffective_annotation::check(object, svc, sink);
        }
        Body::Endpoints(ep) => endpoints::check_endpoints(ep, sink),
        Body::EndpointSlice(slice) => endpoints::check_slice(slice, sink),
        Body::Workload(w) => {
            workload::check(object, w, sink);
            containers::check(w, sink);
        }
        Body::Namespace | Body::Other => {}
    }
}

/// "`what` `value` is invalid: problems" at a field.
pub(crate) fn invalid(
    rule: &'static str,
    span: Span,
    path: impl Into<String>,
    what: &str,
    value: &str,
    problems: &[String],
) -> Diagnostic {
    Diagnostic::new(
        rule,
        span,
        format!("{what} `{value}` is invalid: {}", problems.join("; ")),
    )
    .label("invalid value")
    .path(path)
}

/// "`value` is not a supported what" with the list of supported values.
pub(crate) fn unsupported(
    rule: &'static str,
    span: Span,
    path: impl Into<String>,
    what: &str,
    value: &str,
    supported: &[&str],
) -> Diagnostic {
    let list = supported
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Diagnostic::new(
        rule,
        span,
        format!("unsupported {what} `{value}`: supported values are {list}"),
    )
    .label("not a supported value")
    .path(path)
}

/// A port number check (1..65535).
pub(crate) fn check_port_number(
    sink: &mut Sink,
    value: i64,
    span: Span,
    path: impl Into<String>,
    what: &str,
) {
    if !(1..=65535).contains(&value) {
        sink.report(
            Diagnostic::new(
                "port-out-of-range",
                span,
                format!("{what} {value} is outside 1-65535"),
            )
            .label("not a valid port number")
            .path(path),
        );
    }
}

pub(crate) const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

pub(crate) fn check_protocol(sink: &mut Sink, value: &str, span: Span, path: impl Into<String>) {
    if !PROTOCOLS.contains(&value) {
        let mut d = unsupported(
            "invalid-protocol",
            span,
            path,
            "protocol",
            value,
            &PROTOCOLS,
        );
        if PROTOCOLS.contains(&value.to_ascii_uppercase().as_str()) {
            d = d.help(format!(
                "protocols are case-sensitive: write `{}`",
                value.to_ascii_uppercase()
            ));
        }
        sink.report(d);
    }
}

pub(crate) fn check_app_protocol(
    sink: &mut Sink,
    value: &str,
    span: Span,
    path: impl Into<String>,
) {
    let problems = crate::syntax::qualified_name(value);
    if !problems.is_empty() {
        sink.report(invalid(
            "invalid-app-protocol",
            span,
            path,
            "appProtocol",
            value,
            &problems,
        ));
    }
}

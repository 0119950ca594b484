//! Findings about the input as a whole: the same object defined twice, and externalIPs in use.

use super::{describe, Findings};
use crate::check::Context;
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::Model;
use std::collections::HashMap;

pub fn check(_ctx: &Context, model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    let mut seen: HashMap<(&str, &str, &str, &str), usize> = HashMap::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        let Some(name) = o.meta.name.as_ref().filter(|n| !n.value.is_empty()) else {
            continue;
        };
        let group = o.api_version.value.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            group,
            o.kind.value.as_str(),
            links.namespace(i),
            name.value.as_str(),
        );
        match seen.get(&key) {
            Some(&first) => f.add(
                i,
                objects,
                Diagnostic::new(
                    "duplicate-object",
                    name.span,
                    format!(
                        "{} is defined twice in namespace `{}`",
                        describe(o),
                        links.namespace(i)
                    ),
                )
                .label("defined again here")
                .related(objects[first].head_span(), "first defined here")
                .path("metadata.name")
                .help("applying both, the second replaces the first; remove one or rename it"),
            ),
            None => {
                seen.insert(key, i);
            }
        }
        if let Some(svc) = o.service() {
            if let (Some(first), false) = (
                svc.external_ips.first(),
                svc.is_external_name() || svc.is_headless(),
            ) {
                f.add(i, objects, Diagnostic::new(
                    "external-ips-in-use",
                    first.span,
                    format!("Service `{}` uses `externalIPs`", o.name()),
                )
                .label("any user who can create Services can claim these addresses (CVE-2020-8554)")
                .path("spec.externalIPs")
                .help("prefer a LoadBalancer Service; if externalIPs are intended, restrict them with an admission policy and turn this rule off"));
            }
        }
    }
}

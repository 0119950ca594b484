//! Findings about the input as a whole: the same object defined twice in one apply unit, and
//! externalIPs in use.
//!
//! The same object in two apply units is an alternative (see `link::scope`), not a finding.
//! Only the kinds svcc models are compared: others are counted, not reported.

use super::{describe, Findings};
use crate::check::Context;
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::kinds::KindId;
use crate::model::Model;
use std::collections::HashMap;

pub fn check(_ctx: &Context, model: &Model, links: &Links, f: &mut Findings) {
    let objects = &model.objects;
    let mut seen: HashMap<(&str, &str, &str, &str), Vec<usize>> =
        HashMap::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        let (Some(kind), Some(name)) = (
            o.known,
            o.meta.name.as_ref().filter(|n| !n.value.is_empty()),
        ) else {
            continue;
        };
        let cluster_scoped = kind == KindId::Namespace;
        let group = o.api_version.value.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            group,
            o.kind.value.as_str(),
            if cluster_scoped {
                ""
            } else {
                links.namespace(i)
            },
            name.value.as_str(),
        );
        let earlier = seen.entry(key).or_default();
        let together = earlier
            .iter()
            .copied()
            .find(|&e| links.scopes.together(objects[e].file, o.file));
        if let Some(first) = together {
            let place = if cluster_scoped {
                String::new()
            } else {
                format!(" in namespace `{}`", links.namespace(i))
            };
            let unit = if objects[first].file == o.file {
                "this file"
            } else {
                "files applied together"
            };
            f.add(
                i,
                objects,
                Diagnostic::new(
                    "duplicate-object",
                    name.span,
                    format!("{} is defined twice{place} in {unit}", describe(o)),
                )
                .label("defined again here")
                .related(objects[first].head_span(), "first defined here")
                .path("metadata.name")
                .help("applying both, this definition replaces the first one; remove one or rename it"),
            );
        }
        earlier.push(i);
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

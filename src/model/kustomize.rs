//! What `kustomize build` changes in the objects that linking reads: the labels a
//! kustomization sets (`commonLabels`, `labels`) on metadata, selectors and pod templates.
//!
//! kustomize's label transformer creates the selector of a Service and of a Deployment,
//! ReplicaSet, DaemonSet, StatefulSet or ReplicationController when it is absent, and adds to
//! a Job's or CronJob's only when one is written; it always adds to pod templates. A base
//! written for such a kustomization may leave selectors out entirely. The labels added here
//! carry the spans of the kustomization that sets them, so a finding about them points there.
//! (The namespace a kustomization sets is applied by `link`, see `link::scope`.)

use super::decode::{Spanned, StrMap};
use super::kinds::KindId;
use super::workload::LabelSelector;
use super::{Body, Object};
use crate::source::repo::LabelSetting;

/// What applying labels changed that earlier checks saw otherwise.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// A workload's selector was created: its absence is not a problem of the built object.
    pub created_selector: bool,
}

/// Sets the labels on one object, as `kustomize build` would.
pub fn apply_labels(object: &mut Object, labels: &[LabelSetting]) -> Applied {
    let mut applied = Applied::default();
    if labels.is_empty() {
        return applied;
    }
    for l in labels {
        insert(&mut object.meta.labels, l);
    }
    let kind = object.known;
    match &mut object.body {
        Body::Service(svc) => {
            for l in labels.iter().filter(|l| l.selectors) {
                insert(&mut svc.selector, l);
            }
        }
        Body::Workload(w) => {
            let creates = matches!(
                kind,
                Some(
                    KindId::Deployment
                        | KindId::ReplicaSet
                        | KindId::DaemonSet
                        | KindId::StatefulSet
                        | KindId::ReplicationController
                )
            );
            for l in labels {
                if l.templates || kind == Some(KindId::Pod) {
                    insert(&mut w.template.labels, l);
                }
                if !l.selectors || kind == Some(KindId::Pod) {
                    continue;
                }
                match &mut w.selector {
                    Some(s) => insert(&mut s.match_labels, l),
                    None if creates => {
                        let mut s = LabelSelector {
                            span: l.key_span,
                            match_labels: StrMap::default(),
                            match_expressions: Vec::new(),
                        };
                        insert(&mut s.match_labels, l);
                        w.selector = Some(s);
                        applied.created_selector = true;
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    applied
}

/// Sets `key: value`, replacing a value already there (kustomize overwrites).
fn insert(map: &mut StrMap, l: &LabelSetting) {
    let value = Spanned::new(l.value.clone(), l.value_span);
    match map.entries.iter_mut().find(|(k, _)| k.value == l.key) {
        Some((_, v)) => *v = value,
        None => {
            map.entries
                .push((Spanned::new(l.key.clone(), l.key_span), value));
            if map.span.is_none() {
                map.span = Some(l.key_span);
            }
        }
    }
}

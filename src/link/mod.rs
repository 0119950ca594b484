//! Link stage: connects the objects of one input the way the cluster would.
//!
//! Input: the [`Model`], the default namespace and the apply units ([`scope`]). Output: a
//! [`Links`] table that later stages (cross-object rules, plan, DNS) read, never recompute:
//! - per namespace, the Services by name (every definition: an input may hold alternatives);
//! - for each Service, the workloads and Pods its selector selects (equality match on the pod
//!   template labels, same namespace only; an empty selector selects nothing), the Endpoints of
//!   its name and the EndpointSlices labelled `kubernetes.io/service-name: <name>`;
//! - for each Service port and each selected workload, the container port its targetPort
//!   resolves to (by name **and** protocol for named ports, as kube's `FindPort` does).
//!
//! Every reference resolves to the nearest objects that match (same apply unit, else same
//! directory, else anywhere), and the links say how near they are, so that a finding resting on
//! another file can be worded and weighed as such.
//!
//! Objects without a namespace are in the default namespace (`default`, or `--namespace`), or
//! in the namespace their kustomization sets.
//! Indices are positions in `Model::objects`. Selection uses an index from label pairs to
//! workloads, so linking stays linear in the number of objects.

pub mod scope;

pub use scope::{Nearness, Scopes};

use crate::model::kinds::KindId;
use crate::model::service::Service;
use crate::model::workload::Workload;
use crate::model::{Body, IntOrStr, Model, Object};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// The label EndpointSlices use to name their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// How one Service port reaches one selected workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The port number traffic is sent to, and whether a container declares it.
    Number { port: i64, declared: bool },
    /// A named targetPort resolved to a container port number.
    Named { name: String, port: i64 },
    /// A named targetPort that the workload's containers do not expose with that protocol.
    Missing { name: String },
}

#[derive(Clone, Debug, Default)]
pub struct ServiceLinks {
    /// Workloads and Pods selected, in input order: the nearest that match (see [`scope`]).
    pub selected: Vec<usize>,
    /// How near the selected workloads are.
    pub selected_near: Nearness,
    /// Endpoints objects named like the Service, the nearest.
    pub endpoints: Vec<usize>,
    /// EndpointSlices labelled with the Service's name, the nearest.
    pub slices: Vec<usize>,
    /// How near the Endpoints and EndpointSlices are.
    pub backends_near: Nearness,
    /// Per Service port (same order as `spec.ports`): per selected workload, the target.
    pub targets: Vec<Vec<(usize, Target)>>,
}

/// The linked cluster.
#[derive(Debug, Default)]
pub struct Links {
    /// Namespace of every object (index-aligned with `Model::objects`), after the namespace a
    /// kustomization sets.
    pub namespaces: Vec<String>,
    /// What is applied together.
    pub scopes: Scopes,
    /// namespace → Service name → every definition, in input order.
    pub services: BTreeMap<String, BTreeMap<String, Vec<usize>>>,
    /// Object index of every Service → its links.
    pub service_links: HashMap<usize, ServiceLinks>,
    /// StatefulSet object index → the Service its `serviceName` names, the nearest, if any.
    pub governing_services: HashMap<usize, usize>,
}

impl Links {
    pub fn namespace(&self, object: usize) -> &str {
        &self.namespaces[object]
    }

    /// The definition of a Service that a cluster applying the whole input ends with: the
    /// last (a later definition replaces an earlier one).
    pub fn service(&self, namespace: &str, name: &str) -> Option<usize> {
        self.services.get(namespace)?.get(name)?.last().copied()
    }

    /// The definitions of a Service nearest to the object at `viewer`.
    pub fn service_near(
        &self,
        model: &Model,
        viewer: usize,
        namespace: &str,
        name: &str,
    ) -> Option<usize> {
        let all = self.services.get(namespace)?.get(name)?;
        let (near, _) = self
            .scopes
            .nearest(model.objects[viewer].file, all, |s| model.objects[s].file);
        near.last().copied()
    }

    /// The last definition of every Service, sorted by namespace and name.
    pub fn each_service(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.services.iter().flat_map(|(ns, by_name)| {
            by_name
                .iter()
                .filter_map(move |(name, all)| Some((ns.as_str(), name.as_str(), *all.last()?)))
        })
    }
}

/// Links the model as one apply unit (tests, tools). `default_namespace` is where objects
/// without a namespace live.
pub fn link(model: &Model, default_namespace: &str) -> Links {
    let files = model
        .objects
        .iter()
        .map(|o| o.file.0 as usize + 1)
        .max()
        .unwrap_or(0);
    link_scoped(model, default_namespace, Scopes::single(files))
}

/// Links the model within its apply units.
pub fn link_scoped(model: &Model, default_namespace: &str, scopes: Scopes) -> Links {
    let objects = &model.objects;
    let namespaces: Vec<String> = objects
        .iter()
        .map(|o| match scopes.namespace_of(o.file) {
            Some(ns) if o.known != Some(KindId::Namespace) => ns.to_owned(),
            _ => o.namespace(default_namespace).to_owned(),
        })
        .collect();
    let mut services: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    let mut endpoints_by_name: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut slices_by_service: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut workloads = WorkloadIndex::default();
    for (i, o) in objects.iter().enumerate() {
        let ns = namespaces[i].as_str();
        match &o.body {
            Body::Service(_) => {
                services
                    .entry(ns.to_owned())
                    .or_default()
                    .entry(o.name().to_owned())
                    .or_default()
                    .push(i);
            }
            Body::Endpoints(_) => endpoints_by_name.entry((ns, o.name())).or_default().push(i),
            Body::EndpointSlice(_) => {
                if let Some(svc) = o.meta.labels.get(SERVICE_NAME_LABEL) {
                    slices_by_service
                        .entry((ns, svc.value.as_str()))
                        .or_default()
                        .push(i);
                }
            }
            Body::Workload(w) => workloads.add(ns, i, w),
            Body::Namespace | Body::Other => {}
        }
    }
    let file_of = |i: usize| objects[i].file;
    // Selecting pods is the costly part, and each Service's links are its own: in parallel.
    let all: Vec<(&str, &str, usize)> = services
        .iter()
        .flat_map(|(ns, by_name)| {
            by_name.iter().flat_map(move |(name, defs)| {
                defs.iter().map(move |&i| (ns.as_str(), name.as_str(), i))
            })
        })
        .collect();
    let service_links: HashMap<usize, ServiceLinks> = all
        .par_iter()
        .filter_map(|&(ns, name, i)| {
            let svc = objects[i].service()?;
            let viewer = objects[i].file;
            let (selected, selected_near) = if svc.has_selector() && !svc.is_external_name() {
                let matching = workloads.select(ns, svc, objects, &namespaces);
                scopes.nearest(viewer, &matching, file_of)
            } else {
                (Vec::new(), Nearness::SameUnit)
            };
            let targets = svc
                .ports
                .iter()
                .map(|p| {
                    selected
                        .iter()
                        .filter_map(|&w| Some((w, resolve_target(p, objects[w].workload()?))))
                        .collect()
                })
                .collect();
            let key = (ns, name);
            let no = Vec::new();
            let (endpoints, endpoints_near) =
                scopes.nearest(viewer, endpoints_by_name.get(&key).unwrap_or(&no), file_of);
            let (slices, slices_near) =
                scopes.nearest(viewer, slices_by_service.get(&key).unwrap_or(&no), file_of);
            let backends_near = match (endpoints.is_empty(), slices.is_empty()) {
                (true, true) => Nearness::SameUnit,
                (false, true) => endpoints_near,
                (true, false) => slices_near,
                (false, false) => endpoints_near.min(slices_near),
            };
            Some((
                i,
                ServiceLinks {
                    selected,
                    selected_near,
                    endpoints,
                    slices,
                    backends_near,
                    targets,
                },
            ))
        })
        .collect();
    let mut governing_services = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(name) = o.workload().and_then(|w| w.service_name.as_ref()) else {
            continue;
        };
        if let Some(defs) = services
            .get(&namespaces[i])
            .and_then(|m| m.get(&name.value))
        {
            let (near, _) = scopes.nearest(o.file, defs, file_of);
            if let Some(&s) = near.last() {
                governing_services.insert(i, s);
            }
        }
    }
    drop(workloads);
    Links {
        namespaces,
        scopes,
        services,
        service_links,
        governing_services,
    }
}

/// The pod templates of one input, indexed by namespace and label pair.
#[derive(Default)]
struct WorkloadIndex<'m> {
    by_label: HashMap<(&'m str, &'m str, &'m str), Vec<usize>>,
}

impl<'m> WorkloadIndex<'m> {
    fn add(&mut self, ns: &'m str, index: usize, w: &'m Workload) {
        for (k, v) in &w.template.labels.entries {
            self.by_label
                .entry((ns, k.value.as_str(), v.value.as_str()))
                .or_default()
                .push(index);
        }
    }

    /// Workloads in `ns` whose pods the selector selects. The index is keyed by a pair from
    /// the template; selectors made only of controller-added labels scan the namespace.
    fn select(
        &self,
        ns: &str,
        svc: &Service,
        objects: &[Object],
        namespaces: &[String],
    ) -> Vec<usize> {
        let Some((k, v)) = svc.selector.iter().find(|(k, _)| !is_controller_label(k)) else {
            return (0..objects.len())
                .filter(|&i| namespaces[i] == ns && selects(&svc.selector, &objects[i]))
                .collect();
        };
        let Some(candidates) = self.by_label.get(&(ns, k, v)) else {
            return Vec::new();
        };
        candidates
            .iter()
            .copied()
            .filter(|&i| selects(&svc.selector, &objects[i]))
            .collect()
    }
}

/// Labels that controllers add to the pods they create, which a template does not carry.
const CONTROLLER_LABELS: [&str; 10] = [
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
    "pod-template-hash",
    "pod-template-generation",
    "batch.kubernetes.io/job-name",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

fn is_controller_label(key: &str) -> bool {
    CONTROLLER_LABELS.contains(&key)
}

/// Whether an equality selector (a Service's) selects the pods of a workload or a Pod: every
/// pair is on the pod template, or is a label the workload's controller puts on its pods
/// (`<statefulset>-<ordinal>` pod names and indices; hashes and uids, which cannot be known
/// from manifests, are taken to match).
pub fn selects(selector: &crate::model::StrMap, object: &Object) -> bool {
    let Some(w) = object.workload() else {
        return false;
    };
    let kind = object.known;
    let replicas = w.replicas.as_ref().map_or(1, |r| r.value.max(0));
    selector.iter().all(|(k, v)| {
        if let Some(l) = w.template.labels.get(k) {
            return l.value == v;
        }
        if kind == Some(KindId::Pod) {
            return false;
        }
        match k {
            "statefulset.kubernetes.io/pod-name" if kind == Some(KindId::StatefulSet) => v
                .strip_prefix(object.name())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|n| n.parse::<i64>().ok())
                .is_some_and(|n| (0..replicas).contains(&n)),
            "apps.kubernetes.io/pod-index" if kind == Some(KindId::StatefulSet) => {
                v.parse::<i64>().is_ok_and(|n| (0..replicas).contains(&n))
            }
            "batch.kubernetes.io/job-name" | "job-name"
                if matches!(kind, Some(KindId::Job | KindId::CronJob)) =>
            {
                kind == Some(KindId::CronJob) || v == object.name()
            }
            "controller-revision-hash" => {
                matches!(kind, Some(KindId::StatefulSet | KindId::DaemonSet))
            }
            "pod-template-hash" => matches!(kind, Some(KindId::Deployment | KindId::ReplicaSet)),
            "pod-template-generation" => kind == Some(KindId::DaemonSet),
            "batch.kubernetes.io/controller-uid"
            | "controller-uid"
            | "batch.kubernetes.io/job-completion-index" => {
                matches!(kind, Some(KindId::Job | KindId::CronJob))
            }
            _ => false,
        }
    })
}

/// kube's `FindPort`: a named targetPort is the first container port (regular containers, then
/// sidecar init containers) with that name and the Service port's protocol.
pub fn resolve_target(port: &crate::model::service::ServicePort, w: &Workload) -> Target {
    match port.effective_target() {
        Some(IntOrStr::Str(name)) => w
            .template
            .spec
            .serving_containers()
            .flat_map(|c| c.ports.iter())
            .find(|cp| {
                cp.name.as_ref().is_some_and(|n| n.value == name)
                    && cp.protocol.value == port.protocol.value
            })
            .and_then(|cp| cp.container_port.as_ref())
            .map_or(Target::Missing { name: name.clone() }, |cp| Target::Named {
                name: name.clone(),
                port: cp.value,
            }),
        Some(IntOrStr::Int(n)) => Target::Number {
            port: n,
            declared: w
                .template
                .spec
                .serving_containers()
                .flat_map(|c| c.ports.iter())
                .any(|cp| cp.container_port.as_ref().is_some_and(|p| p.value == n)),
        },
        None => Target::Number {
            port: 0,
            declared: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_str;

    fn model(text: &str) -> Model {
        crate::model::decode(parse_str(text).documents, 37)
    }

    #[test]
    fn statefulset_pod_name_labels_select_one_pod() {
        let m = model("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: r}\nspec:\n  replicas: 3\n  serviceName: r\n  selector: {matchLabels: {app: r}}\n  template: {metadata: {labels: {app: r}}, spec: {containers: [{name: c, image: i}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: r-2}\nspec:\n  selector: {app: r, statefulset.kubernetes.io/pod-name: r-2}\n  ports: [{port: 1}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: r-3}\nspec:\n  selector: {statefulset.kubernetes.io/pod-name: r-3}\n  ports: [{port: 1}]\n");
        let links = link(&m, "default");
        assert_eq!(links.service_links[&1].selected, vec![0]);
        assert!(
            links.service_links[&2].selected.is_empty(),
            "ordinal 3 of 3 replicas does not exist"
        );
    }
}

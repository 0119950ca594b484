//! Link stage: connects the objects of one input the way the cluster would.
//!
//! Input: the [`Model`] and the default namespace. Output: a [`Links`] table that later stages
//! (cross-object rules, plan, DNS) read, never recompute:
//! - per namespace, the Services by name;
//! - for each Service, the workloads and Pods its selector selects (equality match on the pod
//!   template labels, same namespace only; an empty selector selects nothing), the Endpoints of
//!   its name and the EndpointSlices labelled `kubernetes.io/service-name: <name>`;
//! - for each Service port and each selected workload, the container port its targetPort
//!   resolves to (by name **and** protocol for named ports, as kube's `FindPort` does).
//!
//! Objects without a namespace are in the default namespace (`default`, or `--namespace`).
//! Indices are positions in `Model::objects`. Selection uses an index from label pairs to
//! workloads, so linking stays linear in the number of objects.

use crate::model::service::Service;
use crate::model::workload::Workload;
use crate::model::{Body, IntOrStr, Model, Object};
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
    /// Workloads and Pods selected, in input order.
    pub selected: Vec<usize>,
    /// Endpoints objects named like the Service.
    pub endpoints: Vec<usize>,
    /// EndpointSlices labelled with the Service's name.
    pub slices: Vec<usize>,
    /// Per Service port (same order as `spec.ports`): per selected workload, the target.
    pub targets: Vec<Vec<(usize, Target)>>,
}

/// The linked cluster.
#[derive(Debug, Default)]
pub struct Links {
    /// Namespace of every object (index-aligned with `Model::objects`).
    pub namespaces: Vec<String>,
    /// namespace → Service name → object index (the first definition wins).
    pub services: BTreeMap<String, BTreeMap<String, usize>>,
    /// Object index of a Service → its links.
    pub service_links: HashMap<usize, ServiceLinks>,
    /// StatefulSet object index → the Service its `serviceName` names, if any.
    pub governing_services: HashMap<usize, usize>,
}

impl Links {
    pub fn namespace(&self, object: usize) -> &str {
        &self.namespaces[object]
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<usize> {
        self.services.get(namespace)?.get(name).copied()
    }
}

/// Links the model. `default_namespace` is where objects without a namespace live.
pub fn link(model: &Model, default_namespace: &str) -> Links {
    let objects = &model.objects;
    let namespaces: Vec<String> = objects
        .iter()
        .map(|o| o.namespace(default_namespace).to_owned())
        .collect();
    let mut services: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
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
                    .or_insert(i);
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
    let mut service_links = HashMap::new();
    for (ns, by_name) in &services {
        for (name, &i) in by_name {
            let Some(svc) = objects[i].service() else {
                continue;
            };
            let selected = if svc.has_selector() && !svc.is_external_name() {
                workloads.select(ns, svc, objects)
            } else {
                Vec::new()
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
            let key = (ns.as_str(), name.as_str());
            service_links.insert(
                i,
                ServiceLinks {
                    selected,
                    endpoints: endpoints_by_name.get(&key).cloned().unwrap_or_default(),
                    slices: slices_by_service.get(&key).cloned().unwrap_or_default(),
                    targets,
                },
            );
        }
    }
    let mut governing_services = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(name) = o.workload().and_then(|w| w.service_name.as_ref()) else {
            continue;
        };
        if let Some(&s) = services
            .get(&namespaces[i])
            .and_then(|m| m.get(&name.value))
        {
            governing_services.insert(i, s);
        }
    }
    drop(workloads);
    Links {
        namespaces,
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

    /// Workloads in `ns` whose template labels contain every selector pair.
    fn select(&self, ns: &str, svc: &Service, objects: &[Object]) -> Vec<usize> {
        let Some((k, v)) = svc.selector.iter().next() else {
            return Vec::new();
        };
        let Some(candidates) = self.by_label.get(&(ns, k, v)) else {
            return Vec::new();
        };
        candidates
            .iter()
            .copied()
            .filter(|&i| {
                objects[i]
                    .workload()
                    .is_some_and(|w| svc.selector.is_subset_of(&w.template.labels))
            })
            .collect()
    }
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

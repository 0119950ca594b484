//! Workloads and Pods: what a Service selects. Every workload kind is reduced to a selector and
//! a pod template; a Pod is its own template.

use super::decode::*;
use super::kinds::KindId;
use super::Meta;
use crate::source::tree::Node;
use crate::source::Span;

#[derive(Clone, Debug)]
pub struct Requirement {
    pub span: Span,
    pub key: Option<Spanned<String>>,
    pub operator: Option<Spanned<String>>,
    pub values: Vec<Spanned<String>>,
    pub values_span: Option<Span>,
}

/// A `metav1.LabelSelector` (or, for ReplicationController, a plain map as `match_labels`).
#[derive(Clone, Debug)]
pub struct LabelSelector {
    pub span: Span,
    pub match_labels: StrMap,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether the selector selects a set of labels (Kubernetes' `LabelSelectorAsSelector`).
    pub fn matches(&self, labels: &StrMap) -> bool {
        self.match_labels.is_subset_of(labels)
            && self.match_expressions.iter().all(|r| {
                let (Some(key), Some(op)) = (&r.key, &r.operator) else {
                    return false;
                };
                let value = labels.get(&key.value).map(|v| v.value.as_str());
                let in_values = |v: &str| r.values.iter().any(|x| x.value == v);
                match op.value.as_str() {
                    "In" => value.is_some_and(in_values),
                    "NotIn" => value.is_none_or(|v| !in_values(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

#[derive(Clone, Debug)]
pub struct ContainerPort {
    pub span: Span,
    pub name: Option<Spanned<String>>,
    pub container_port: Option<Spanned<i64>>,
    pub host_port: Option<Spanned<i64>>,
    pub host_ip: Option<Spanned<String>>,
    /// Defaulted to `TCP`.
    pub protocol: Spanned<String>,
}

#[derive(Clone, Debug)]
pub struct Container {
    pub span: Span,
    pub name: Option<Spanned<String>>,
    pub ports: Vec<ContainerPort>,
    /// The `ports` key, where findings about the container's ports point.
    pub ports_key: Option<Span>,
    /// Only on init containers: `Always` makes a sidecar.
    pub restart_policy: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct PodSpec {
    pub span: Span,
    pub containers: Vec<Container>,
    /// The `containers` key.
    pub containers_key: Option<Span>,
    pub init_containers: Vec<Container>,
    pub restart_policy: Option<Spanned<String>>,
    pub hostname: Option<Spanned<String>>,
    pub subdomain: Option<Spanned<String>>,
    pub node_name: Option<Spanned<String>>,
    pub host_network: bool,
}

impl PodSpec {
    /// Where the container ports are declared: the `ports` key of the first serving container
    /// that has one, else the `containers` key; `None` when neither is written.
    pub fn ports_anchor(&self) -> Option<Span> {
        self.serving_containers()
            .find_map(|c| c.ports_key)
            .or(self.containers_key)
    }

    /// Containers whose ports serve traffic: regular containers, then sidecar init containers.
    pub fn serving_containers(&self) -> impl Iterator<Item = &Container> {
        self.containers
            .iter()
            .chain(self.init_containers.iter().filter(|c| {
                c.restart_policy
                    .as_ref()
                    .is_some_and(|r| r.value == "Always")
            }))
    }
}

#[derive(Clone, Debug)]
pub struct PodTemplate {
    pub span: Span,
    pub labels: StrMap,
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Default)]
pub struct PodStatus {
    pub pod_ip: Option<Spanned<String>>,
    pub pod_ips: Vec<Spanned<String>>,
    pub phase: Option<String>,
    pub ready: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct Workload {
    /// Path of the pod template in API-server notation (`spec.template`), `""` for a Pod.
    pub template_path: &'static str,
    /// Path of the pod spec (`spec.template.spec`, or `spec` for a Pod).
    pub spec_path: &'static str,
    /// `None` when absent; Jobs and Pods have none written.
    pub selector: Option<LabelSelector>,
    pub selector_path: &'static str,
    pub template: PodTemplate,
    pub replicas: Option<Spanned<i64>>,
    /// StatefulSet only.
    pub service_name: Option<Spanned<String>>,
    pub pod_management_policy: Option<Spanned<String>>,
    /// Job only.
    pub manual_selector: bool,
    /// Pod only.
    pub status: Option<PodStatus>,
}

pub fn decode(kind: KindId, root: &Node, meta: &Meta) -> Option<Workload> {
    let spec = map_at(root, "spec");
    let empty = Node::new(root.span, crate::source::tree::Value::Map(Vec::new()));
    let spec_or_empty = spec.unwrap_or(&empty);
    let (template_node, template_path, spec_path, selector_owner, selector_path) = match kind {
        KindId::Pod => {
            return Some(decode_pod(root, spec_or_empty, meta));
        }
        KindId::CronJob => {
            let job = map_at(spec_or_empty, "jobTemplate").and_then(|j| map_at(j, "spec"));
            (
                job.and_then(|j| map_at(j, "template")),
                "spec.jobTemplate.spec.template",
                "spec.jobTemplate.spec.template.spec",
                job,
                "spec.jobTemplate.spec.selector",
            )
        }
        KindId::Deployment
        | KindId::StatefulSet
        | KindId::DaemonSet
        | KindId::ReplicaSet
        | KindId::ReplicationController
        | KindId::Job => (
            map_at(spec_or_empty, "template"),
            "spec.template",
            "spec.template.spec",
            spec,
            "spec.selector",
        ),
        KindId::Service | KindId::Endpoints | KindId::EndpointSlice | KindId::Namespace => {
            return None
        }
    };
    let template = template_node.map_or_else(
        || PodTemplate {
            span: spec_or_empty.span,
            labels: StrMap::default(),
            spec: decode_pod_spec(&empty),
        },
        |t| PodTemplate {
            span: t.span,
            labels: map_at(t, "metadata")
                .map(|m| str_map_at(m, "labels"))
                .unwrap_or_default(),
            spec: map_at(t, "spec").map_or_else(|| decode_pod_spec(&empty), decode_pod_spec),
        },
    );
    let selector = selector_owner.and_then(|owner| {
        if kind == KindId::ReplicationController {
            // A plain map, defaulted to the template labels when empty.
            let map = str_map_at(owner, "selector");
            let map = if map.is_empty() {
                template.labels.clone()
            } else {
                map
            };
            Some(LabelSelector {
                span: owner.get("selector").map_or(template.span, |n| n.span),
                match_labels: map,
                match_expressions: Vec::new(),
            })
        } else {
            map_at(owner, "selector").map(decode_selector)
        }
    });
    Some(Workload {
        template_path,
        spec_path,
        selector,
        selector_path,
        template,
        replicas: int_at(spec_or_empty, "replicas"),
        service_name: nonempty_str_at(spec_or_empty, "serviceName"),
        pod_management_policy: nonempty_str_at(spec_or_empty, "podManagementPolicy"),
        manual_selector: selector_owner
            .and_then(|o| bool_at(o, "manualSelector"))
            .is_some_and(|b| b.value),
        status: None,
    })
}

fn decode_pod(root: &Node, spec: &Node, meta: &Meta) -> Workload {
    let status = map_at(root, "status").map(|s| PodStatus {
        pod_ip: nonempty_str_at(s, "podIP"),
        pod_ips: seq_at(s, "podIPs")
            .iter()
            .filter_map(|p| str_at(p, "ip"))
            .collect(),
        phase: str_at(s, "phase").map(|p| p.value),
        ready: seq_at(s, "conditions")
            .iter()
            .find(|c| str_at(c, "type").is_some_and(|t| t.value == "Ready"))
            .and_then(|c| str_at(c, "status"))
            .map(|s| s.value == "True"),
    });
    Workload {
        template_path: "",
        spec_path: "spec",
        selector: None,
        selector_path: "",
        template: PodTemplate {
            span: root.span,
            labels: meta.labels.clone(),
            spec: decode_pod_spec(spec),
        },
        replicas: None,
        service_name: None,
        pod_management_policy: None,
        manual_selector: false,
        status: Some(status.unwrap_or_default()),
    }
}

pub fn decode_selector(n: &Node) -> LabelSelector {
    LabelSelector {
        span: n.span,
        match_labels: str_map_at(n, "matchLabels"),
        match_expressions: seq_at(n, "matchExpressions")
            .iter()
            .map(|r| Requirement {
                span: r.span,
                key: str_at(r, "key"),
                operator: str_at(r, "operator"),
                values: str_list_at(r, "values"),
                values_span: r.get("values").map(|v| v.span),
            })
            .collect(),
    }
}

fn decode_pod_spec(n: &Node) -> PodSpec {
    PodSpec {
        span: n.span,
        containers: seq_at(n, "containers")
            .iter()
            .map(decode_container)
            .collect(),
        containers_key: n.entry("containers").map(|e| e.key_span),
        init_containers: seq_at(n, "initContainers")
            .iter()
            .map(decode_container)
            .collect(),
        restart_policy: nonempty_str_at(n, "restartPolicy"),
        hostname: nonempty_str_at(n, "hostname"),
        subdomain: nonempty_str_at(n, "subdomain"),
        node_name: nonempty_str_at(n, "nodeName"),
        host_network: bool_at(n, "hostNetwork").is_some_and(|b| b.value),
    }
}

fn decode_container(n: &Node) -> Container {
    Container {
        span: n.span,
        name: str_at(n, "name"),
        ports: seq_at(n, "ports")
            .iter()
            .map(|p| ContainerPort {
                span: p.span,
                name: nonempty_str_at(p, "name"),
                container_port: int_at(p, "containerPort"),
                host_port: nonzero_int_at(p, "hostPort"),
                host_ip: nonempty_str_at(p, "hostIP"),
                protocol: nonempty_str_at(p, "protocol")
                    .unwrap_or_else(|| Spanned::new("TCP".to_owned(), p.span)),
            })
            .collect(),
        ports_key: n.entry("ports").map(|e| e.key_span),
        restart_policy: nonempty_str_at(n, "restartPolicy"),
    }
}

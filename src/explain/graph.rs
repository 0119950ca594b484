//! `svcc graph`: Services, the workloads and Pods they select, their Endpoints and
//! EndpointSlices, and StatefulSets' governing Services, as Graphviz DOT or Mermaid.
//!
//! Problems are drawn distinctly: a selector that selects nothing points (dashed, red) at a
//! "no match" node naming the selector; a named targetPort that the selected pods do not
//! expose labels its edge in orange; an Endpoints/EndpointSlice for a missing Service is red.
//! Output is sorted by namespace and name, so it is deterministic. Every identifier and label
//! is escaped for the target syntax.

use crate::link::{Links, Target};
use crate::model::{Body, IntOrStr, Model, Object};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeKind {
    Service,
    Workload,
    Endpoints,
    Missing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EdgeStyle {
    Selects,
    Backs,
    Governs,
    Broken,
    Unresolved,
}

struct Graph {
    /// namespace → node id → (label, kind)
    nodes: BTreeMap<String, BTreeMap<String, (String, NodeKind)>>,
    edges: Vec<(String, String, String, EdgeStyle)>,
}

fn node_id(o: &Object, ns: &str) -> String {
    format!("{}/{}/{}", o.kind.value, ns, o.name())
}

/// Builds the graph of a linked model.
fn build(model: &Model, links: &Links) -> Graph {
    let mut g = Graph {
        nodes: BTreeMap::new(),
        edges: Vec::new(),
    };
    let objects = &model.objects;
    let add_node = |g: &mut Graph, ns: &str, id: String, label: String, kind: NodeKind| {
        g.nodes
            .entry(ns.to_owned())
            .or_default()
            .insert(id, (label, kind));
    };
    for (i, o) in objects.iter().enumerate() {
        let ns = links.namespace(i);
        match &o.body {
            Body::Service(svc) => {
                let ips: Vec<&str> = svc.cluster_ips.iter().map(|c| c.value.as_str()).collect();
                let detail = if svc.is_external_name() {
                    format!(
                        "ExternalName {}",
                        svc.external_name.as_ref().map_or("", |n| n.value.as_str())
                    )
                } else if ips.is_empty() {
                    svc.service_type.value.clone()
                } else {
                    format!("{} {}", svc.service_type.value, ips.join(","))
                };
                add_node(
                    &mut g,
                    ns,
                    node_id(o, ns),
                    format!("Service {}\n{detail}", o.name()),
                    NodeKind::Service,
                );
                let Some(sl) = links.service_links.get(&i) else {
                    continue;
                };
                if svc.has_selector() && !svc.is_external_name() && sl.selected.is_empty() {
                    let sel = svc
                        .selector
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    let missing = format!("missing/{ns}/{}", o.name());
                    add_node(
                        &mut g,
                        ns,
                        missing.clone(),
                        format!("no match\n{sel}"),
                        NodeKind::Missing,
                    );
                    g.edges.push((
                        node_id(o, ns),
                        missing,
                        "selects nothing".to_owned(),
                        EdgeStyle::Broken,
                    ));
                }
                for &w in &sl.selected {
                    let mut labels = Vec::new();
                    let mut unresolved = false;
                    for (p, port) in svc.ports.iter().enumerate() {
                        let target = sl.targets[p].iter().find(|(x, _)| *x == w).map(|(_, t)| t);
                        let number = port.port.as_ref().map_or(0, |n| n.value);
                        labels.push(match target {
                            Some(Target::Named { name, port }) => {
                                format!("{number}→{name}({port})")
                            }
                            Some(Target::Number { port, .. }) => format!("{number}→{port}"),
                            Some(Target::Missing { name }) => {
                                unresolved = true;
                                format!("{number}→{name}?")
                            }
                            None => match port.effective_target() {
                                Some(IntOrStr::Str(n)) => format!("{number}→{n}"),
                                _ => number.to_string(),
                            },
                        });
                    }
                    let style = if unresolved {
                        EdgeStyle::Unresolved
                    } else {
                        EdgeStyle::Selects
                    };
                    g.edges.push((
                        node_id(o, ns),
                        node_id(&objects[w], links.namespace(w)),
                        labels.join(" "),
                        style,
                    ));
                }
                for &e in sl.endpoints.iter().chain(sl.slices.iter()) {
                    g.edges.push((
                        node_id(&objects[e], ns),
                        node_id(o, ns),
                        "backs".to_owned(),
                        EdgeStyle::Backs,
                    ));
                }
            }
            Body::Workload(w) => {
                add_node(
                    &mut g,
                    ns,
                    node_id(o, ns),
                    format!("{} {}", o.kind.value, o.name()),
                    NodeKind::Workload,
                );
                if let Some(&s) = links.governing_services.get(&i) {
                    g.edges.push((
                        node_id(o, ns),
                        node_id(&objects[s], ns),
                        "serviceName".to_owned(),
                        EdgeStyle::Governs,
                    ));
                } else if let Some(name) = &w.service_name {
                    let missing = format!("missing-service/{ns}/{}", name.value);
                    add_node(
                        &mut g,
                        ns,
                        missing.clone(),
                        format!("no Service\n{}", name.value),
                        NodeKind::Missing,
                    );
                    g.edges.push((
                        node_id(o, ns),
                        missing,
                        "serviceName".to_owned(),
                        EdgeStyle::Broken,
                    ));
                }
            }
            Body::Endpoints(_) | Body::EndpointSlice(_) => {
                let linked = links
                    .service_links
                    .values()
                    .any(|sl| sl.endpoints.contains(&i) || sl.slices.contains(&i));
                let kind = if linked {
                    NodeKind::Endpoints
                } else {
                    NodeKind::Missing
                };
                add_node(
                    &mut g,
                    ns,
                    node_id(o, ns),
                    format!("{} {}", o.kind.value, o.name()),
                    kind,
                );
            }
            Body::Namespace | Body::Other => {}
        }
    }
    g.edges.sort();
    g.edges.dedup();
    g
}

fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn write_dot(model: &Model, links: &Links, out: &mut String) {
    let g = build(model, links);
    out.push_str("digraph svcc {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (n, (ns, nodes)) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{n} {{\n    label=\"namespace {}\";\n    style=rounded; color=gray;", dot_escape(ns));
        for (id, (label, kind)) in nodes {
            let attrs = match kind {
                NodeKind::Service => "shape=ellipse, style=filled, fillcolor=\"#dbe9ff\"",
                NodeKind::Workload => "shape=box, style=filled, fillcolor=\"#e8f5e9\"",
                NodeKind::Endpoints => "shape=note",
                NodeKind::Missing => "shape=octagon, color=red, fontcolor=red",
            };
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\", {attrs}];",
                dot_escape(id),
                dot_escape(label)
            );
        }
        out.push_str("  }\n");
    }
    for (from, to, label, style) in &g.edges {
        let attrs = match style {
            EdgeStyle::Selects => "",
            EdgeStyle::Backs => ", style=dotted",
            EdgeStyle::Governs => ", style=bold",
            EdgeStyle::Broken => ", style=dashed, color=red, fontcolor=red",
            EdgeStyle::Unresolved => ", color=orange, fontcolor=orange",
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{attrs}];",
            dot_escape(from),
            dot_escape(to),
            dot_escape(label)
        );
    }
    out.push_str("}\n");
}

/// Mermaid identifiers: letters, digits and `_` only; a stable number keeps them unique.
fn mermaid_ids(g: &Graph) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for nodes in g.nodes.values() {
        for id in nodes.keys() {
            let n = ids.len();
            ids.insert(id.clone(), format!("n{n}"));
        }
    }
    ids
}

fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\''.to_string(),
            '\n' => "<br/>".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect()
}

pub fn write_mermaid(model: &Model, links: &Links, out: &mut String) {
    let g = build(model, links);
    let ids = mermaid_ids(&g);
    out.push_str("flowchart LR\n");
    for (n, (ns, nodes)) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  subgraph ns{n}[\"namespace {}\"]", mermaid_text(ns));
        for (id, (label, kind)) in nodes {
            let label = mermaid_text(label);
            let shape = match kind {
                NodeKind::Service => format!("([\"{label}\"])"),
                NodeKind::Workload => format!("[\"{label}\"]"),
                NodeKind::Endpoints => format!("[/\"{label}\"/]"),
                NodeKind::Missing => format!("{{{{\"{label}\"}}}}"),
            };
            let _ = writeln!(out, "    {}{shape}", ids[id]);
        }
        out.push_str("  end\n");
    }
    for (k, (from, to, label, style)) in g.edges.iter().enumerate() {
        let arrow = match style {
            EdgeStyle::Backs | EdgeStyle::Broken => "-.->",
            EdgeStyle::Governs => "==>",
            _ => "-->",
        };
        let _ = writeln!(
            out,
            "  {} {arrow}|\"{}\"| {}",
            ids[from],
            mermaid_text(label),
            ids[to]
        );
        match style {
            EdgeStyle::Broken => {
                let _ = writeln!(out, "  linkStyle {k} stroke:red,color:red");
            }
            EdgeStyle::Unresolved => {
                let _ = writeln!(out, "  linkStyle {k} stroke:orange,color:orange");
            }
            _ => {}
        }
    }
    for nodes in g.nodes.values() {
        for (id, (_, kind)) in nodes {
            if *kind == NodeKind::Missing {
                let _ = writeln!(out, "  style {} stroke:red,color:red", ids[id]);
            }
        }
    }
}

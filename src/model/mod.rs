//! Model stage: typed Kubernetes objects decoded from the spanned trees.
//!
//! Input: documents from `source`. Output: [`Object`]s for every document and `List` item, each
//! with its type metadata, object metadata and, for the kinds svcc models, a typed body with the
//! API server's defaults applied (`docs/reference/validation.md` §6). Objects of other kinds are kept
//! as [`Body::Other`] and counted, never reported.
//!
//! Objects do not keep their trees: decoding hands each object with its tree to the caller's
//! `inspect` (the per-object checks, which need the tree for the schema and for locating
//! fields) and then drops the tree. The loader decodes documents on the thread that parsed
//! them, so a large input's trees are never all alive at once; at cluster scale they would be
//! most of the memory.
//!
//! Invariants: decoding never fails on a modelled kind; a field of the wrong type reads as
//! absent (it is reported by the schema check).

pub mod decode;
pub mod endpoints;
pub mod kinds;
pub mod kustomize;
pub mod service;
pub mod workload;

pub use decode::{IntOrStr, Spanned, StrMap};

use crate::diag::{Diagnostic, ObjectRef};
use crate::source::tree::{Node, Value};
use crate::source::yaml::Document;
use crate::source::{FileId, Span};
use decode::{map_at, str_at, str_map_at};
use kinds::{KindId, Resolution};

/// Object metadata.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub span: Option<Span>,
    pub name: Option<Spanned<String>>,
    pub generate_name: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub labels: StrMap,
    pub annotations: StrMap,
    /// `metadata.deletionTimestamp` is set: the object is being deleted.
    pub deleting: bool,
    /// `metadata.uid` or `metadata.resourceVersion` is set: the object was read from a cluster
    /// (`kubectl get -o yaml`), not written by hand.
    pub live: bool,
}

/// The typed part of an object.
#[derive(Clone, Debug)]
pub enum Body {
    Service(Box<service::Service>),
    Endpoints(endpoints::Endpoints),
    EndpointSlice(Box<endpoints::EndpointSlice>),
    Workload(Box<workload::Workload>),
    Namespace,
    /// A kind svcc does not model (ConfigMap, CRDs, …).
    Other,
}

#[derive(Clone, Debug)]
pub struct Object {
    pub file: FileId,
    pub api_version: Spanned<String>,
    pub kind: Spanned<String>,
    /// The modelled kind, when svcc knows it.
    pub known: Option<KindId>,
    /// Boxed: a large input of small objects (a million ConfigMaps) keeps `objects` compact
    /// while it is assembled.
    pub meta: Box<Meta>,
    pub body: Body,
}

impl Object {
    pub fn name(&self) -> &str {
        self.meta.name.as_ref().map_or("", |n| n.value.as_str())
    }

    /// The namespace, or `default_ns` when the manifest leaves it out.
    pub fn namespace<'a>(&'a self, default_ns: &'a str) -> &'a str {
        self.meta
            .namespace
            .as_ref()
            .map_or(default_ns, |n| n.value.as_str())
    }

    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.value.clone(),
            namespace: self.meta.namespace.as_ref().map(|n| n.value.clone()),
            name: self.meta.name.as_ref().map(|n| n.value.clone()),
        }
    }

    /// Span to use for findings about the object as a whole: its name, else its kind.
    pub fn head_span(&self) -> Span {
        self.meta.name.as_ref().map_or(self.kind.span, |n| n.span)
    }

    pub fn service(&self) -> Option<&service::Service> {
        match &self.body {
            Body::Service(s) => Some(s),
            _ => None,
        }
    }

    pub fn workload(&self) -> Option<&workload::Workload> {
        match &self.body {
            Body::Workload(w) => Some(w),
            _ => None,
        }
    }
}

/// What the model stage produced.
#[derive(Debug, Default)]
pub struct Model {
    pub objects: Vec<Object>,
    /// Documents seen (after `List` expansion, objects are counted separately).
    pub documents: usize,
}

/// Documents decoded (all those of one piece of a file): their objects, the findings the
/// caller's `inspect` made about each while its tree was alive (sparse: most objects have
/// none), and the findings of decoding.
#[derive(Debug, Default)]
pub struct Decoded {
    pub objects: Vec<Object>,
    /// (index into `objects`, finding).
    pub findings: Vec<(usize, Diagnostic)>,
    pub diagnostics: Vec<Diagnostic>,
    /// Documents that are not Kubernetes objects at all (not a map, or a map with neither
    /// `apiVersion` nor `kind`), one finding each: reported for files named on the command
    /// line, counted for files found by walking a directory (see `pipeline`).
    pub not_objects: Vec<Diagnostic>,
}

impl Model {
    /// Joins decoded parts, in order, into a model. Returns it with the findings of decoding
    /// and the inspections' findings (with indices into `model.objects`). Each part is freed
    /// as soon as it is moved.
    pub fn assemble(
        parts: Vec<Decoded>,
        documents: usize,
    ) -> (Model, Vec<Diagnostic>, Vec<(usize, Diagnostic)>) {
        let mut model = Model {
            documents,
            objects: Vec::with_capacity(parts.iter().map(|p| p.objects.len()).sum()),
        };
        let mut diagnostics = Vec::with_capacity(parts.iter().map(|p| p.diagnostics.len()).sum());
        let mut findings = Vec::with_capacity(parts.iter().map(|p| p.findings.len()).sum());
        for mut part in parts {
            let base = model.objects.len();
            diagnostics.append(&mut part.diagnostics);
            model.objects.append(&mut part.objects);
            findings.extend(part.findings.into_iter().map(|(i, d)| (base + i, d)));
        }
        (model, diagnostics, findings)
    }
}

/// Decodes documents whose trees are not needed afterwards, dropping the findings (tests,
/// tools).
pub fn decode(documents: Vec<Document>, kubernetes_minor: u32) -> Model {
    let count = documents.len();
    let mut decoded = Decoded::default();
    for d in documents {
        decode_document(d.root, kubernetes_minor, &|_, _| Vec::new(), &mut decoded);
    }
    Model::assemble(vec![decoded], count).0
}

/// Decodes one document into objects, expanding `List` kinds, and appends them to `out`.
/// `inspect` sees every object with its tree and returns its findings; the tree is dropped
/// afterwards.
pub fn decode_document(
    root: Node,
    minor: u32,
    inspect: &impl Fn(&Object, &Node) -> Vec<Diagnostic>,
    out: &mut Decoded,
) {
    let mut root = root;
    let Some((api_version, kind)) = type_meta(&root, &mut out.diagnostics, &mut out.not_objects)
    else {
        return;
    };
    let is_list = kind.value == "List"
        || (kind.value.ends_with("List")
            && matches!(root.get("items"), Some(n) if matches!(n.value, Value::Seq(_))));
    if !is_list {
        push_object(root, api_version, kind, minor, inspect, out);
        return;
    }
    let items = match &mut root.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|e| e.key == "items")
            .map(|e| match &mut e.value.value {
                Value::Seq(items) => std::mem::take(items),
                _ => Vec::new(),
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    decode_items(&api_version, &kind, items, minor, inspect, out);
}

/// Whether the items of `list` (a document whose `items` are not in the tree, and known to be
/// a sequence of maps) may be decoded run by run with [`decode_list_items`].
pub fn is_list(list: &Node) -> bool {
    type_meta(list, &mut Vec::new(), &mut Vec::new())
        .is_some_and(|(_, kind)| kind.value.ends_with("List"))
}

/// Decodes a run of the items of `list` (see [`is_list`]) and appends them to `out`.
pub fn decode_list_items(
    list: &Node,
    items: Vec<Node>,
    minor: u32,
    inspect: &impl Fn(&Object, &Node) -> Vec<Diagnostic>,
    out: &mut Decoded,
) {
    if let Some((api_version, kind)) = type_meta(list, &mut Vec::new(), &mut Vec::new()) {
        decode_items(&api_version, &kind, items, minor, inspect, out);
    }
}

fn decode_items(
    api_version: &Spanned<String>,
    kind: &Spanned<String>,
    items: Vec<Node>,
    minor: u32,
    inspect: &impl Fn(&Object, &Node) -> Vec<Diagnostic>,
    out: &mut Decoded,
) {
    // Items of a typed list (`ServiceList`) may omit their type meta, as the API returns them.
    let item_kind = kind.value.strip_suffix("List").unwrap_or("");
    for item in items {
        let tm = if item_kind.is_empty() || !matches!(item.value, Value::Map(_)) {
            // An item of a list is meant as an object: whatever it lacks is reported.
            let mut not_object = Vec::new();
            let tm = type_meta(&item, &mut out.diagnostics, &mut not_object);
            out.diagnostics.append(&mut not_object);
            tm
        } else {
            let av = str_at(&item, "apiVersion").unwrap_or_else(|| api_version.clone());
            let k = str_at(&item, "kind")
                .unwrap_or_else(|| Spanned::new(item_kind.to_owned(), item.span));
            Some((av, k))
        };
        if let Some((av, k)) = tm {
            push_object(item, av, k, minor, inspect, out);
        }
    }
}

fn push_object(
    root: Node,
    api_version: Spanned<String>,
    kind: Spanned<String>,
    minor: u32,
    inspect: &impl Fn(&Object, &Node) -> Vec<Diagnostic>,
    out: &mut Decoded,
) {
    let meta = decode_meta(&root);
    let known = match kinds::resolve(&api_version.value, &kind.value, minor) {
        Resolution::Known(id) => Some(id),
        Resolution::Unmodelled => None,
        Resolution::Removed {
            replacement,
            removed_in,
        } => {
            out.diagnostics.push(
                Diagnostic::new(
                    "removed-api-version",
                    api_version.span,
                    format!(
                        "`{}` {} is not served since Kubernetes {removed_in}",
                        api_version.value, kind.value
                    ),
                )
                .label("removed API version")
                .path("apiVersion")
                .help(format!("use `apiVersion: {replacement}`")),
            );
            None
        }
        Resolution::UnknownVersion { served } => {
            out.diagnostics.push(
                Diagnostic::new(
                    "unknown-api-version",
                    api_version.span,
                    format!("no {} is served at `{}`", kind.value, api_version.value),
                )
                .label("unknown version")
                .path("apiVersion")
                .help(format!("use `apiVersion: {served}`")),
            );
            None
        }
    };
    let body = match known {
        Some(KindId::Service) => Body::Service(Box::new(service::decode(&root))),
        Some(KindId::Endpoints) => Body::Endpoints(endpoints::decode_endpoints(&root)),
        Some(KindId::EndpointSlice) => {
            Body::EndpointSlice(Box::new(endpoints::decode_slice(&root)))
        }
        Some(KindId::Namespace) => Body::Namespace,
        Some(id) => match workload::decode(id, &root, &meta) {
            Some(w) => Body::Workload(Box::new(w)),
            None => Body::Other,
        },
        None => Body::Other,
    };
    let object = Object {
        file: root.span.file,
        api_version,
        kind,
        known,
        meta: Box::new(meta),
        body,
    };
    let index = out.objects.len();
    out.findings
        .extend(inspect(&object, &root).into_iter().map(|d| (index, d)));
    out.objects.push(object);
}

/// `apiVersion` and `kind`, or a diagnostic saying what is missing: in `not_objects` when the
/// document is not an object at all, else in `out`. List items report both in `out`.
fn type_meta(
    root: &Node,
    out: &mut Vec<Diagnostic>,
    not_objects: &mut Vec<Diagnostic>,
) -> Option<(Spanned<String>, Spanned<String>)> {
    if !matches!(root.value, Value::Map(_)) {
        not_objects.push(
            Diagnostic::new(
                "missing-type-meta",
                root.span,
                format!(
                    "document is a {}, not a Kubernetes object",
                    root.type_name()
                ),
            )
            .label("expected a map with `apiVersion` and `kind`"),
        );
        return None;
    }
    let api_version = str_at(root, "apiVersion").filter(|s| !s.value.is_empty());
    let kind = str_at(root, "kind").filter(|s| !s.value.is_empty());
    match (api_version, kind) {
        (Some(a), Some(k)) => Some((a, k)),
        (a, k) => {
            // Fixed texts: a stream of a million such documents costs no formatting.
            let (missing, message, label) = match (&a, &k) {
                (None, None) => (
                    "`apiVersion` and `kind`",
                    "object has no `apiVersion` and `kind`",
                    "`apiVersion` and `kind` missing in this object",
                ),
                (None, _) => (
                    "`apiVersion`",
                    "object has no `apiVersion`",
                    "`apiVersion` missing in this object",
                ),
                _ => (
                    "`kind`",
                    "object has no `kind`",
                    "`kind` missing in this object",
                ),
            };
            let at = Span::new(
                root.span.file,
                root.span.start as usize,
                root.span.start as usize,
            );
            let mut d = Diagnostic::new("missing-type-meta", at, message)
                .label(label)
            .help("every Kubernetes object names its `apiVersion` and `kind`, e.g. `apiVersion: v1` and `kind: Service`");
            if let Some(n) = str_at(root, "metadata")
                .or_else(|| map_at(root, "metadata").and_then(|m| str_at(m, "name")))
            {
                d = d.label(format!("{missing} missing in the object `{}`", n.value));
            }
            // With neither, or without `metadata`, the document is not meant as an object
            // (a Helm `Chart.yaml` has an `apiVersion`, a kustomization may have a `kind`).
            if (a.is_none() && k.is_none()) || root.get("metadata").is_none() {
                not_objects.push(d);
            } else {
                out.push(d);
            }
            None
        }
    }
}

fn decode_meta(root: &Node) -> Meta {
    let Some(m) = map_at(root, "metadata") else {
        return Meta::default();
    };
    Meta {
        span: Some(m.span),
        name: str_at(m, "name"),
        generate_name: str_at(m, "generateName"),
        namespace: str_at(m, "namespace").filter(|n| !n.value.is_empty()),
        labels: str_map_at(m, "labels"),
        annotations: str_map_at(m, "annotations"),
        deleting: m.get("deletionTimestamp").is_some(),
        live: m.get("uid").is_some() || m.get("resourceVersion").is_some(),
    }
}

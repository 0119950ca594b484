//! Small typed readers over the spanned tree.
//!
//! A field of the wrong type reads as absent here: the schema check has already reported it at
//! its span, and the engine keeps one diagnostic per field (see `check`).

use crate::source::tree::{Node, Value};
use crate::source::Span;
use serde::Serialize;

/// A value and the span it came from (the value's own span, or for a default the span of the
/// object that received it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    #[serde(skip)]
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// `int-or-string` fields such as `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntOrStr {
    Int(i64),
    Str(String),
}

/// A string-to-string map (labels, annotations, selectors) with the span of each key and value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StrMap {
    /// Span of the whole map (or `None` when the field is absent).
    pub span: Option<Span>,
    pub entries: Vec<(Spanned<String>, Spanned<String>)>,
}

impl StrMap {
    pub fn get(&self, key: &str) -> Option<&Spanned<String>> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.value.as_str(), v.value.as_str()))
    }

    /// True when every entry of `self` is in `labels` (equality-based selection).
    pub fn is_subset_of(&self, labels: &StrMap) -> bool {
        self.iter()
            .all(|(k, v)| labels.get(k).is_some_and(|l| l.value == v))
    }
}

pub fn str_at(node: &Node, key: &str) -> Option<Spanned<String>> {
    let n = node.get(key)?;
    n.as_str().map(|s| Spanned::new(s.to_owned(), n.span))
}

/// A string field where `""` means unset (Go's zero value).
pub fn nonempty_str_at(node: &Node, key: &str) -> Option<Spanned<String>> {
    str_at(node, key).filter(|s| !s.value.is_empty())
}

pub fn int_at(node: &Node, key: &str) -> Option<Spanned<i64>> {
    let n = node.get(key)?;
    n.as_i64().map(|i| Spanned::new(i, n.span))
}

/// An integer field where `0` means unset (Go's zero value).
pub fn nonzero_int_at(node: &Node, key: &str) -> Option<Spanned<i64>> {
    int_at(node, key).filter(|i| i.value != 0)
}

pub fn bool_at(node: &Node, key: &str) -> Option<Spanned<bool>> {
    let n = node.get(key)?;
    n.as_bool().map(|b| Spanned::new(b, n.span))
}

pub fn int_or_str_at(node: &Node, key: &str) -> Option<Spanned<IntOrStr>> {
    let n = node.get(key)?;
    match &n.value {
        Value::Str(s) => Some(Spanned::new(IntOrStr::Str(s.to_string()), n.span)),
        _ => n.as_i64().map(|i| Spanned::new(IntOrStr::Int(i), n.span)),
    }
}

/// A map field, if present and a map.
pub fn map_at<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.get(key).filter(|n| matches!(n.value, Value::Map(_)))
}

/// The items of a list field (empty when absent or not a list).
pub fn seq_at<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    node.get(key).map_or(&[], Node::as_seq)
}

/// A list of strings; non-string items are skipped (the schema reports them).
pub fn str_list_at(node: &Node, key: &str) -> Vec<Spanned<String>> {
    seq_at(node, key)
        .iter()
        .filter_map(|n| n.as_str().map(|s| Spanned::new(s.to_owned(), n.span)))
        .collect()
}

pub fn str_map_at(node: &Node, key: &str) -> StrMap {
    match node.get(key) {
        Some(
            m @ Node {
                value: Value::Map(entries),
                ..
            },
        ) => StrMap {
            span: Some(m.span),
            entries: entries
                .iter()
                .filter_map(|e| {
                    let v = e.value.as_str()?;
                    Some((
                        Spanned::new(e.key.to_string(), e.key_span),
                        Spanned::new(v.to_owned(), e.value.span),
                    ))
                })
                .collect(),
        },
        _ => StrMap::default(),
    }
}

/// The span of a field's key (falls back to the node's span when absent).
pub fn key_span(node: &Node, key: &str) -> Span {
    node.entry(key).map_or(node.span, |e| e.key_span)
}

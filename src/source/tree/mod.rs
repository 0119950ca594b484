//! The spanned document tree: what a YAML or JSON document means once Kubernetes has decoded it.
//!
//! Values are already resolved (see [`super::resolve`]); map keys are strings, as they are once
//! sigs.k8s.io/yaml has turned the document into JSON. Every node and every key keeps its span.
//! Keys are interned ([`Key`], in [`key`]); short strings are stored inline ([`SmallStr`]).

mod key;

pub use key::Key;

use super::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(SmallStr),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub key_span: Span,
    pub value: Node,
}

/// A string value. Most scalars of a manifest are short (names, addresses, port names, enum
/// values): those are stored inline, without an allocation of their own.
#[derive(Clone)]
pub struct SmallStr(SmallText);

/// Bytes a [`SmallStr`] holds inline: with the length and the variant tag, as large as a
/// `String`.
const INLINE: usize = 22;

#[derive(Clone)]
enum SmallText {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl SmallStr {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only whole `str`s are stored inline, so the bytes are UTF-8.
            SmallText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            SmallText::Heap(s) => s,
        }
    }
}

impl From<&str> for SmallStr {
    fn from(text: &str) -> SmallStr {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            SmallStr(SmallText::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            SmallStr(SmallText::Heap(text.into()))
        }
    }
}

impl From<String> for SmallStr {
    fn from(text: String) -> SmallStr {
        if text.len() <= INLINE {
            SmallStr::from(text.as_str())
        } else {
            SmallStr(SmallText::Heap(text.into_boxed_str()))
        }
    }
}

impl std::ops::Deref for SmallStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for SmallStr {
    fn eq(&self, other: &SmallStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for SmallStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SmallStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for SmallStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Node {
    pub fn new(span: Span, value: Value) -> Node {
        Node { span, value }
    }

    /// The entry under `key` of a map node.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The value under `key` of a map node, ignoring explicit nulls (as Go's decoder does).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key)
            .map(|e| &e.value)
            .filter(|n| !matches!(n.value, Value::Null))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// An integer, as Go's decoder reads one into an integer field. Integral floats count
    /// (`80.0`, `1e3`); one beyond the i64 range saturates, so range checks still report it
    /// (the API server refuses it as an overflow).
    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 => Some(f as i64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Follows a JSON pointer (`/spec/ports/0/port`) to the node it names, returning the node and
    /// the span of the key that leads to it (for a map entry) or of the node.
    pub fn pointer(&self, pointer: &str) -> Option<(&Node, Span)> {
        let mut node = self;
        let mut span = self.span;
        for raw in pointer.split('/').skip(1) {
            let token = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                Value::Map(entries) => {
                    let e = entries.iter().find(|e| e.key == token)?;
                    span = e.key_span;
                    node = &e.value;
                }
                Value::Seq(items) => {
                    node = items.get(token.parse::<usize>().ok()?)?;
                    span = node.span;
                }
                _ => return None,
            }
        }
        Some((node, span))
    }

    /// The document as JSON, as sigs.k8s.io/yaml hands it to the API server's decoder. Map entries
    /// whose value is null are dropped (Go decodes them as absent). Integral floats become
    /// integers (Go's `json.Marshal(80.0)` prints `80`). Non-finite floats cannot be JSON; they
    /// become strings here and are reported by the loader.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => float_to_json(*f),
            Value::Str(s) => J::String(s.to_string()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .filter(|e| !e.value.is_null())
                    .map(|e| (e.key.to_string(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

fn float_to_json(f: f64) -> serde_json::Value {
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return serde_json::Value::from(f as i64);
    }
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(f.to_string()))
}

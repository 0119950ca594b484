//! Maps as sigs.k8s.io/yaml hands them to Kubernetes: keys are strings (a scalar key becomes
//! its JSON text; a list or a map as key is reported and its value dropped), a duplicate key is
//! reported and its last value kept (as kubectl's client-side conversion does), and a merge key
//! (`<<`) adds the entries of the maps it names, after the map's own, which win.

use crate::diag::Diagnostic;
use crate::source::tree::{Entry, Key, Node, Value};
use crate::source::{FileId, Span};
use std::collections::HashMap;

/// Maps with more entries than this get a hash index for duplicate-key detection.
const INDEX_AFTER: usize = 16;

/// A map being built. Its entries live on the builder's shared stack of entries from `base` on
/// (see `Frame`), and move into the map's own vector when it closes.
pub(super) struct OpenMap {
    start: usize,
    pub(super) anchor: usize,
    base: usize,
    merged: Vec<Entry>,
    /// Key → position, built only once the map has more than [`INDEX_AFTER`] entries;
    /// smaller maps look for duplicate keys by scanning.
    index: Option<HashMap<Key, usize>>,
    pending: PendingKey,
}

enum PendingKey {
    None,
    Key {
        name: Key,
        span: Span,
        merge: bool,
    },
    /// A key svcc cannot use (a map or list as key); its value is dropped.
    Skip,
}

impl OpenMap {
    /// A map starting at byte `start`, whose entries go on the shared stack from `base` on.
    pub(super) fn new(start: usize, anchor: usize, base: usize) -> OpenMap {
        OpenMap {
            start,
            anchor,
            base,
            merged: Vec::new(),
            index: None,
            pending: PendingKey::None,
        }
    }

    /// Takes the map's next child: a key, or the value of the key before it. `merge` marks a
    /// plain `<<` key.
    pub(super) fn add(
        &mut self,
        node: Node,
        merge: bool,
        entries: &mut Vec<Entry>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        match std::mem::replace(&mut self.pending, PendingKey::None) {
            PendingKey::None => {
                let (span, type_name) = (node.span, node.type_name());
                self.pending = match key_string(node) {
                    Some(name) => PendingKey::Key { name, span, merge },
                    None => {
                        diagnostics.push(
                            Diagnostic::new(
                                "yaml-syntax",
                                span,
                                format!(
                                    "a {type_name} cannot be a key: Kubernetes objects have string keys"
                                ),
                            )
                            .label("not a string key"),
                        );
                        PendingKey::Skip
                    }
                }
            }
            PendingKey::Skip => {}
            PendingKey::Key {
                span, merge: true, ..
            } => {
                if let Some(d) = merge_into(&mut self.merged, node, span) {
                    diagnostics.push(d);
                }
            }
            PendingKey::Key { name, span, .. } => {
                self.insert(name, span, node, entries, diagnostics);
            }
        }
    }

    /// Adds an entry. A key the map already has is reported, and the value under it replaced.
    fn insert(
        &mut self,
        name: Key,
        span: Span,
        node: Node,
        entries: &mut Vec<Entry>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let base = self.base;
        let found = match &self.index {
            Some(index) => index.get(&name).copied(),
            None => entries[base..].iter().position(|e| e.key == name),
        };
        if let Some(first) = found {
            let first = base + first;
            let first_span: Span = entries[first].key_span;
            diagnostics.push(
                Diagnostic::new(
                    "yaml-duplicate-key",
                    span,
                    format!("duplicate key `{name}`: the last value is used"),
                )
                .label("this value is used")
                .related(
                    first_span,
                    format!("`{name}` first defined here; this line has no effect"),
                )
                .help("remove one of the two: `kubectl apply` converts YAML to JSON on the client and keeps the last value, so the API server never sees the duplicate"),
            );
            entries[first] = Entry {
                key: name,
                key_span: span,
                value: node,
            };
        } else {
            let position = entries.len() - base;
            if let Some(index) = &mut self.index {
                index.insert(name.clone(), position);
            } else if position == INDEX_AFTER {
                let mut built: HashMap<Key, usize> = entries[base..]
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.key.clone(), i))
                    .collect();
                built.insert(name.clone(), position);
                self.index = Some(built);
            }
            entries.push(Entry {
                key: name,
                key_span: span,
                value: node,
            });
        }
    }

    /// The finished map: its entries off the shared stack, then the merged entries whose keys
    /// it does not have. `end_span` is the parser's end of the map, used when it has no entries.
    pub(super) fn close(self, file: FileId, all: &mut Vec<Entry>, end_span: Span) -> Node {
        let start = self.start;
        let mut entries: Vec<Entry> = all.drain(self.base..).collect();
        let end = entries
            .iter()
            .chain(self.merged.iter())
            .map(|e| e.value.span.end.max(e.key_span.end))
            .filter(|&e| e as usize >= start)
            .max()
            .unwrap_or(end_span.end);
        for m in self.merged {
            if !entries.iter().any(|e| e.key == m.key) {
                entries.push(m);
            }
        }
        Node::new(Span::new(file, start, end as usize), Value::Map(entries))
    }
}

/// A scalar key as sigs.k8s.io/yaml turns it into a JSON object key.
fn key_string(node: Node) -> Option<Key> {
    match node.value {
        Value::Str(s) => Some(Key::from(s.as_str())),
        Value::Int(i) => Some(Key::new(i.to_string())),
        Value::Float(f) => Some(Key::new(f.to_string())),
        Value::Bool(b) => Some(Key::new(b.to_string())),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

/// Adds the entries of a merge value (`<<: *base` or `<<: [*a, *b]`); earlier maps win.
fn merge_into(merged: &mut Vec<Entry>, value: Node, key_span: Span) -> Option<Diagnostic> {
    let maps: Vec<Node> = match value.value {
        Value::Map(_) => vec![value],
        Value::Seq(items) if items.iter().all(|n| matches!(n.value, Value::Map(_))) => items,
        _ => {
            return Some(
                Diagnostic::new(
                    "yaml-syntax",
                    key_span,
                    "a merge key `<<` needs a map or a list of maps",
                )
                .label("merge key here"),
            )
        }
    };
    for map in maps {
        if let Value::Map(entries) = map.value {
            for e in entries {
                if !merged.iter().any(|m| m.key == e.key) {
                    merged.push(e);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::source::yaml::{parse_one, parse_str};

    #[test]
    fn duplicate_keys_are_reported_with_both_places() {
        let p = parse_str("a: 1\nb: 2\na: 3\n");
        assert_eq!(p.diagnostics.len(), 1);
        let d = &p.diagnostics[0];
        assert_eq!(d.rule, "yaml-duplicate-key");
        assert_eq!(d.span.start, 10);
        assert_eq!(d.related[0].span.start, 0);
        // kubectl's client-side conversion keeps the last value, and so does svcc; the texts say
        // so rather than claiming the API server refuses the object.
        assert!(
            d.message.contains("the last value is used"),
            "{}",
            d.message
        );
        assert!(d.related[0].message.contains("no effect"));
        let help = d.help.as_deref().unwrap_or("");
        assert!(
            help.contains("kubectl apply") && !help.contains("rejects"),
            "{help}"
        );
        assert_eq!(p.documents[0].root.get("a").unwrap().as_i64(), Some(3));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let root = parse_one("base: &b {p: 1, q: 2}\nobj:\n  <<: *b\n  q: 3\n");
        let obj = root.get("obj").unwrap();
        assert_eq!(obj.get("p").unwrap().as_i64(), Some(1));
        assert_eq!(obj.get("q").unwrap().as_i64(), Some(3));
        // go-yaml v2 reads a plain `y` key as the boolean true, which becomes the key "true".
        let root = parse_one("y: 1\n");
        assert!(root.get("true").is_some());
    }
}

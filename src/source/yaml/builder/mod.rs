//! saphyr events to a spanned tree ([`Node`]), for one piece of text.
//!
//! The builder keeps the open collections on a stack (under the nesting limit), records anchors
//! and expands aliases under a node budget (billion-laughs inputs are refused, not expanded),
//! attaches each finished node to its parent, counts documents, and turns the parser's
//! positions into byte offsets of the file ([`super::offsets`]). What a scalar means is
//! [`scalars`]' job; how a map takes its entries (keys, duplicates, merge keys) is [`maps`]'.

mod maps;
mod scalars;

use super::offsets::{from_original, to_original, Insertion, Offsets};
use super::{Document, Limits, Parsed};
use crate::diag::Diagnostic;
use crate::source::tree::{Entry, Node, Value};
use crate::source::{FileId, Span};
use maps::OpenMap;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// An open collection. Its children live on the builder's shared stacks (`items`, `entries`)
/// from `base` on, and move into a vector of exactly their number when it closes: no vector
/// grows, and no capacity is left unused in the tree.
enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        base: usize,
    },
    Map(OpenMap),
}

pub(super) struct Builder<'a> {
    file: FileId,
    /// Byte offset of this piece in its file.
    base: usize,
    insertions: &'a [Insertion],
    /// Set when the parser stopped at an indentation error (byte offset in `text`).
    flow_indent_error: Option<usize>,
    text: &'a str,
    body: &'a str,
    offsets: Offsets,
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// Children of the open sequences, innermost last.
    items: Vec<Node>,
    /// Entries of the open maps, innermost last.
    entries: Vec<Entry>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    doc_index: usize,
    documents: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(
        file: FileId,
        text: &'a str,
        limits: &'a Limits,
        insertions: &'a [Insertion],
        base: usize,
    ) -> Builder<'a> {
        let (body, skipped) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (rest, 1),
            None => (text, 0),
        };
        Builder {
            file,
            base,
            insertions,
            flow_indent_error: None,
            text,
            body,
            offsets: Offsets::new(text, skipped),
            limits,
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            root: None,
            doc_index: 0,
            documents: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// A byte offset of the original file for a character index of the parser.
    fn byte(&self, char_index: usize) -> usize {
        self.base + to_original(self.offsets.byte(self.text, char_index), self.insertions)
    }

    /// The original text of a span of this file.
    fn text_at(&self, span: Span) -> String {
        let (a, b) = (
            span.start as usize - self.base,
            span.end as usize - self.base,
        );
        let (a, b) = (
            from_original(a, self.insertions),
            from_original(b, self.insertions),
        );
        self.text.get(a..b).unwrap_or("").to_owned()
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        Span::new(
            self.file,
            self.byte(s.start.index()),
            self.byte(s.end.index()),
        )
    }

    pub(super) fn run(&mut self) {
        let mut parser = Parser::new_from_str(self.body);
        while let Some(next) = parser.next_event() {
            match next {
                Err(e) => {
                    if matches!(
                        e.info(),
                        "invalid indentation" | "invalid indentation in flow construct"
                    ) {
                        // In the coordinates of this piece's (possibly re-indented) text.
                        self.flow_indent_error =
                            Some(self.offsets.byte(self.text, e.marker().index()));
                    }
                    let at = self.byte(e.marker().index());
                    let span = Span::new(self.file, at, at);
                    let d = if e.info().contains("recursion limit") {
                        Diagnostic::new("input-limit", span, "nesting too deep for the YAML parser")
                            .label("too deep")
                    } else {
                        Diagnostic::new("yaml-syntax", span, format!("invalid YAML: {}", e.info()))
                            .label("the parser stopped here")
                    };
                    self.diagnostics.push(d);
                    return;
                }
                Ok((event, span)) => {
                    let span = self.span(span);
                    if !self.event(event, span) {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one event; false stops the file.
    fn event(&mut self, event: Event<'_>, span: Span) -> bool {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => true,
            Event::DocumentStart(_) => {
                self.root = None;
                self.anchors.clear();
                self.alias_nodes = 0;
                true
            }
            Event::DocumentEnd => self.end_document(),
            Event::Scalar(text, style, anchor, tag) => {
                let merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                let node = self.scalar(&text, style, tag.as_deref(), span);
                self.complete(node, anchor, merge)
            }
            Event::Alias(id) => self.alias(id, span),
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span);
                self.open(
                    Frame::Seq {
                        start: span.start as usize,
                        anchor,
                        base: self.items.len(),
                    },
                    span,
                )
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span);
                let map = OpenMap::new(span.start as usize, anchor, self.entries.len());
                self.open(Frame::Map(map), span)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
        }
    }

    fn end_document(&mut self) -> bool {
        if let Some(root) = self.root.take() {
            if !root.is_null() {
                self.documents.push(Document { root });
            }
        }
        self.doc_index += 1;
        // The count over the whole file is checked by `parse`; stop early past the limit.
        self.doc_index <= self.limits.max_documents
    }

    fn open(&mut self, frame: Frame, span: Span) -> bool {
        if self.stack.len() >= self.limits.max_depth {
            self.diagnostics.push(
                Diagnostic::new(
                    "input-limit",
                    Span::new(self.file, span.start as usize, span.start as usize),
                    format!("nesting deeper than {} levels", self.limits.max_depth),
                )
                .label("too deep")
                .help("raise the limit with `--max-depth` if this is intended"),
            );
            return false;
        }
        self.stack.push(frame);
        true
    }

    fn close(&mut self, end_span: Span) -> bool {
        let Some(frame) = self.stack.pop() else {
            return true;
        };
        match frame {
            Frame::Seq {
                start,
                anchor,
                base,
            } => {
                let items: Vec<Node> = self.items.drain(base..).collect();
                let end = items.last().map_or(end_span.end, |n| n.span.end);
                let node = Node::new(Span::new(self.file, start, end as usize), Value::Seq(items));
                self.complete(node, anchor, false)
            }
            Frame::Map(map) => {
                let anchor = map.anchor;
                let node = map.close(self.file, &mut self.entries, end_span);
                self.complete(node, anchor, false)
            }
        }
    }

    fn alias(&mut self, id: usize, span: Span) -> bool {
        let Some(target) = self.anchors.get(&id) else {
            self.diagnostics.push(Diagnostic::new(
                "yaml-syntax",
                span,
                "alias refers to an unknown anchor",
            ));
            return false;
        };
        let size = count_nodes(target);
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes > self.limits.max_alias_nodes {
            self.diagnostics.push(
                Diagnostic::new(
                    "input-limit",
                    span,
                    format!(
                        "aliases expand to more than {} nodes in one document",
                        self.limits.max_alias_nodes
                    ),
                )
                .label("expansion stopped here")
                .help("this looks like an alias bomb; raise `--max-alias-nodes` if it is intended"),
            );
            return false;
        }
        let node = target.clone();
        self.complete(node, 0, false)
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    fn complete(&mut self, node: Node, anchor: usize, merge: bool) -> bool {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                true
            }
            Some(Frame::Seq { .. }) => {
                self.items.push(node);
                true
            }
            Some(Frame::Map(map)) => {
                map.add(node, merge, &mut self.entries, &mut self.diagnostics);
                true
            }
        }
    }

    /// Where the parser stopped at an indentation error (a byte offset in the text it parsed).
    pub(super) fn flow_indent_error(&self) -> Option<usize> {
        self.flow_indent_error
    }

    /// The piece's non-empty documents and findings, and the number of documents seen (empty
    /// ones included).
    pub(super) fn finish(self) -> (Parsed, usize) {
        let seen = self.doc_index;
        (
            Parsed {
                count: self.documents.len(),
                documents: self.documents,
                diagnostics: self.diagnostics,
            },
            seen,
        )
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0usize;
    let mut work = vec![node];
    while let Some(n) = work.pop() {
        count += 1;
        match &n.value {
            Value::Seq(items) => work.extend(items.iter()),
            Value::Map(entries) => work.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use crate::source::yaml::{parse_one, parse_str};

    #[test]
    fn spans_are_bytes() {
        let text = "# café ünïcode\nspec:\n  nodePort: 40000\n";
        let root = parse_one(text);
        let (node, key) = root.pointer("/spec/nodePort").unwrap();
        assert_eq!(
            &text[node.span.start as usize..node.span.end as usize],
            "40000"
        );
        assert_eq!(&text[key.start as usize..key.end as usize], "nodePort");
    }

    #[test]
    fn bom_is_skipped_and_offsets_kept() {
        let text = "\u{feff}a: 1\n";
        let root = parse_one(text);
        let e = root.entry("a").unwrap();
        assert_eq!(
            &text[e.key_span.start as usize..e.key_span.end as usize],
            "a"
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            text.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let p = parse_str(&text);
        assert!(p.diagnostics.iter().any(|d| d.rule == "input-limit"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(10_000);
        let p = parse_str(&text);
        assert!(p.diagnostics.iter().any(|d| d.rule == "input-limit"));
    }

    #[test]
    fn multi_document_streams_skip_empty_documents() {
        let p = parse_str("---\n---\na: 1\n---\n# only a comment\n---\nb: 2\n");
        assert!(p.diagnostics.is_empty());
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.count, 2);
    }

    #[test]
    fn json_documents_parse() {
        let root = parse_one("{\"kind\": \"Service\", \"spec\": {\"ports\": [{\"port\": 80}]}}");
        assert_eq!(
            root.pointer("/spec/ports/0/port").unwrap().0.as_i64(),
            Some(80)
        );
    }

    #[test]
    fn syntax_error_keeps_earlier_documents() {
        let p = parse_str("a: 1\n---\nb: [\n");
        assert_eq!(p.documents.len(), 1);
        assert_eq!(p.diagnostics[0].rule, "yaml-syntax");
    }
}

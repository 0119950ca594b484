//! YAML (and JSON) text to spanned document trees.
//!
//! Built on `saphyr-parser` events. svcc adds what Kubernetes' decoder does and the parser does
//! not: go-yaml v2 scalar resolution ([`super::resolve`]), duplicate keys (reported, and resolved
//! as kubectl's client-side conversion does: the last value wins), merge keys (`<<`), alias
//! expansion under a node budget (billion-laughs inputs are refused, not expanded), a nesting
//! limit, and byte offsets (saphyr counts characters).

mod offsets;
mod piece;

use super::resolve::{resolve_plain, Scalar};
use super::tree::{Entry, Key, Node, Value};
use super::{FileId, Span};
use crate::diag::Diagnostic;
use offsets::{from_original, to_original, Insertion, Offsets};
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use std::collections::HashMap;

/// Bounds that keep hostile input from exhausting time or memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nodes that alias expansion may create in one document.
    pub max_alias_nodes: usize,
    /// Nesting depth of sequences and mappings.
    pub max_depth: usize,
    /// Documents in one file.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_alias_nodes: 100_000,
            max_depth: 200,
            max_documents: 1_000_000,
        }
    }
}

/// One non-empty document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
}

/// Documents of a file, with the findings of parsing it.
#[derive(Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    /// Non-empty documents seen.
    pub count: usize,
    pub diagnostics: Vec<Diagnostic>,
}

/// What [`parse_each`] produced: the sink's output for each piece of the file, in file order.
#[derive(Debug)]
pub struct Consumed<O> {
    pub pieces: Vec<O>,
    /// Non-empty documents seen.
    pub count: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl<O> Default for Consumed<O> {
    fn default() -> Self {
        Consumed {
            pieces: Vec::new(),
            count: 0,
            diagnostics: Vec::new(),
        }
    }
}

/// What the loader does with each document, on the worker thread that parsed it. Consuming
/// documents where they are parsed (decoding and checking them, then dropping the tree) means
/// the trees of a large input are never all alive at once.
pub trait Documents: Sync {
    /// What one piece of a file gives: the results of its documents, collected in order (one
    /// collection per piece keeps a million tiny documents from costing a million vectors).
    type Out: Send + Default;

    /// Consumes one non-empty document.
    fn document(&self, doc: Document, out: &mut Self::Out);

    /// Whether the items of a large list parsed in pieces go to [`Documents::list_items`] run
    /// by run (`list` is the document with `items: null`) rather than as one document. The
    /// answer must depend on `list` alone.
    fn splits_list(&self, _list: &Node) -> bool {
        false
    }

    /// Consumes items `first..first + items.len()` of `list`, in the worker that parsed them.
    /// The default hands the run over as a document holding the sequence of items.
    fn list_items(&self, list: &Node, first: usize, items: Vec<Node>, out: &mut Self::Out) {
        let _ = first;
        let span = match (items.first(), items.last()) {
            (Some(a), Some(b)) => {
                Span::new(a.span.file, a.span.start as usize, b.span.end as usize)
            }
            _ => list.span,
        };
        let root = Node::new(span, Value::Seq(items));
        self.document(Document { root }, out);
    }
}

/// Keeps every document's tree ([`parse`]).
pub struct KeepTrees;

impl Documents for KeepTrees {
    type Out = Vec<Document>;

    fn document(&self, doc: Document, out: &mut Vec<Document>) {
        out.push(doc);
    }
}

/// Parses a whole file and keeps every tree; past [`Limits::max_documents`], documents are
/// dropped. See [`parse_each`].
pub fn parse(file: FileId, text: &str, limits: &Limits) -> Parsed {
    let consumed = parse_each(file, text, limits, &KeepTrees);
    let mut documents: Vec<Document> = consumed.pieces.into_iter().flatten().collect();
    documents.truncate(limits.max_documents);
    Parsed {
        documents,
        count: consumed.count.min(limits.max_documents),
        diagnostics: consumed.diagnostics,
    }
}

/// Parses a whole file and hands each document to `sink` as soon as its piece of the file is
/// parsed. Documents before a syntax error are kept; parsing stops at the error (for large
/// files: at the error, up to the next document marker).
///
/// Files above [`PARALLEL_THRESHOLD`] are cut at document markers (`---` at the start of a line,
/// which ends any document even inside a block or quoted scalar) and the pieces are parsed in
/// parallel.
pub fn parse_each<S: Documents>(
    file: FileId,
    text: &str,
    limits: &Limits,
    sink: &S,
) -> Consumed<S::Out> {
    let starts = if text.len() > PARALLEL_THRESHOLD {
        chunk_starts(text)
    } else {
        vec![0]
    };
    if starts.len() == 1 && text.len() > PARALLEL_THRESHOLD {
        if let Some(consumed) = parse_list_in_pieces(file, text, limits, sink) {
            return consumed;
        }
    }
    let ranges: Vec<(usize, usize)> = starts
        .iter()
        .zip(starts.iter().skip(1).chain(std::iter::once(&text.len())))
        .map(|(&a, &b)| (a, b))
        .collect();
    use rayon::prelude::*;
    let pieces: Vec<(S::Out, Vec<Diagnostic>, usize, usize)> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let (parsed, seen) = piece::parse(file, &text[a..b], a, limits);
            let count = parsed.count;
            let (out, diagnostics) = consume(parsed, sink);
            (out, diagnostics, count, seen)
        })
        .collect();
    let mut consumed = Consumed::default();
    let mut seen = 0;
    for (out, diagnostics, count, piece_seen) in pieces {
        consumed.pieces.push(out);
        consumed.count += count;
        consumed.diagnostics.extend(diagnostics);
        seen += piece_seen;
    }
    check_document_count(file, text, &mut consumed, seen, limits);
    consumed
}

/// Hands a piece's documents to the sink, one at a time, so each tree is dropped in turn.
fn consume<S: Documents>(parsed: Parsed, sink: &S) -> (S::Out, Vec<Diagnostic>) {
    let mut out = S::Out::default();
    for doc in parsed.documents {
        sink.document(doc, &mut out);
    }
    (out, parsed.diagnostics)
}

/// Files larger than this are parsed in pieces, in parallel.
pub const PARALLEL_THRESHOLD: usize = 512 * 1024;
const TARGET_CHUNK: usize = 256 * 1024;

/// Byte offsets where pieces start: 0, then document markers roughly every [`TARGET_CHUNK`].
fn chunk_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    let mut search = TARGET_CHUNK;
    while search < bytes.len() {
        let Some(found) = find_marker(bytes, search) else {
            break;
        };
        starts.push(found);
        search = found + TARGET_CHUNK;
    }
    starts
}

/// Where the items of a large list lie: the text before them, the runs of items, the text
/// after them.
struct ListLayout {
    head: (usize, usize),
    runs: Vec<ItemRun>,
    tail: (usize, usize),
}

struct ItemRun {
    range: (usize, usize),
    /// Index of the run's first item in the list.
    first: usize,
    /// Item starts (`- ` at the left margin) in the run's text.
    items: usize,
}

/// One large `List` as `kubectl get -o yaml` prints it (`items:` at the left margin, each item
/// starting with `- ` at the left margin) is parsed in parallel too: the text before the
/// items and the text after them are parsed first and joined into the list document with
/// `items: null`; then runs of items are parsed in parallel. When the sink splits such lists,
/// each run goes to it where it was parsed; otherwise the items are put back into the tree a
/// whole parse gives. Anything else (more documents, any finding in a piece, a key both
/// before and after the items) returns `None`, and the file is parsed as a whole.
fn parse_list_in_pieces<S: Documents>(
    file: FileId,
    text: &str,
    limits: &Limits,
    sink: &S,
) -> Option<Consumed<S::Out>> {
    let layout = list_layout(text)?;
    let part = |(a, b): (usize, usize)| piece::parse(file, &text[a..b], a, limits);
    let (mut head, head_seen) = part(layout.head);
    let (tail, _) = part(layout.tail);
    if !head.diagnostics.is_empty() || !tail.diagnostics.is_empty() {
        return None;
    }
    if head_seen != 1 || head.documents.len() != 1 || tail.documents.len() > 1 {
        return None;
    }
    let mut doc = head.documents.pop()?;
    let Value::Map(entries) = &mut doc.root.value else {
        return None;
    };
    let tail_entries = match tail.documents.into_iter().next() {
        None => Vec::new(),
        Some(d) => match d.root.value {
            Value::Map(e) => e,
            _ => return None,
        },
    };
    if tail_entries
        .iter()
        .any(|t| entries.iter().any(|e| e.key == t.key))
    {
        return None;
    }
    if !entries
        .iter()
        .find(|e| e.key == "items")
        .is_some_and(|e| e.value.is_null())
    {
        return None;
    }
    entries.extend(tail_entries);
    let end = entries
        .iter()
        .map(|e| e.value.span.end.max(e.key_span.end))
        .max()
        .unwrap_or(doc.root.span.end);
    doc.root.span = Span::new(file, doc.root.span.start as usize, end as usize);

    // Each run must parse cleanly into a sequence of maps (objects).
    let run_items = |range: (usize, usize)| -> Option<Vec<Node>> {
        let (run, _) = part(range);
        if !run.diagnostics.is_empty() {
            return None;
        }
        let [d] = <[Document; 1]>::try_from(run.documents).ok()?;
        match d.root.value {
            Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Map(_))) => {
                Some(items)
            }
            _ => None,
        }
    };
    use rayon::prelude::*;
    let pieces = if sink.splits_list(&doc.root) {
        // Each run goes to the sink where it was parsed. A run whose item count differs from
        // the item starts counted in its text is unusual: everything is parsed as a whole
        // (the sink's outputs are plain values, so the ones made are simply dropped).
        let list = &doc.root;
        let outs: Vec<Option<S::Out>> = layout
            .runs
            .par_iter()
            .map(|run| {
                let items = run_items(run.range)?;
                (items.len() == run.items).then(|| {
                    let mut out = S::Out::default();
                    sink.list_items(list, run.first, items, &mut out);
                    out
                })
            })
            .collect();
        outs.into_iter().collect::<Option<Vec<_>>>()?
    } else {
        let runs: Vec<Option<Vec<Node>>> = layout
            .runs
            .par_iter()
            .map(|run| run_items(run.range))
            .collect();
        let mut items = Vec::new();
        for run in runs {
            items.extend(run?);
        }
        // A sequence nested in a map starts where its first item does.
        let start = items.first()?.span.start as usize;
        let end = items.last().map_or(start, |n: &Node| n.span.end as usize);
        let Value::Map(entries) = &mut doc.root.value else {
            return None;
        };
        let slot = entries.iter_mut().find(|e| e.key == "items")?;
        slot.value = Node::new(Span::new(file, start, end), Value::Seq(items));
        let mut out = S::Out::default();
        sink.document(doc, &mut out);
        vec![out]
    };
    Some(Consumed {
        pieces,
        count: 1,
        diagnostics: Vec::new(),
    })
}

/// Finds the items region of a list printed like `kubectl get -o yaml` and cuts it into runs
/// of about [`TARGET_CHUNK`] bytes; `None` unless there are at least two runs.
fn list_layout(text: &str) -> Option<ListLayout> {
    let bytes = text.as_bytes();
    let line_end = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| from + i + 1)
    };
    // The `items:` line, followed at once by the first item.
    let mut at = 0;
    let region_start = loop {
        if at >= bytes.len() {
            return None;
        }
        let next = line_end(at);
        if &bytes[at..next] == b"items:\n" && bytes[next..].starts_with(b"- ") {
            break next;
        }
        at = next;
    };
    // The items run to the first line at the left margin that is neither an item's start, an
    // indented line, an empty line nor a comment.
    let mut region_end = region_start;
    let mut runs = vec![ItemRun {
        range: (region_start, region_start),
        first: 0,
        items: 0,
    }];
    let mut items = 0;
    while region_end < bytes.len() {
        let line = &bytes[region_end..];
        let item_start = line.starts_with(b"- ") || line.starts_with(b"-\n");
        if !(item_start || matches!(line.first(), Some(b' ' | b'\n' | b'#'))) {
            break;
        }
        if item_start {
            let run = runs.len() - 1;
            if line.starts_with(b"- ") && region_end - runs[run].range.0 >= TARGET_CHUNK {
                runs[run].range.1 = region_end;
                runs.push(ItemRun {
                    range: (region_end, region_end),
                    first: items,
                    items: 0,
                });
            }
            let run = runs.len() - 1;
            runs[run].items += 1;
            items += 1;
        }
        region_end = line_end(region_end);
    }
    let last = runs.len() - 1;
    runs[last].range.1 = region_end;
    // Another document after the list: parse the file as a whole.
    if find_marker(bytes, region_end.saturating_sub(1)).is_some()
        || text[region_end..].lines().any(|l| l.starts_with("..."))
    {
        return None;
    }
    if runs.len() < 2 {
        return None; // a single run of items: nothing to gain
    }
    Some(ListLayout {
        head: (0, region_start),
        runs,
        tail: (region_end, bytes.len()),
    })
}

/// The next line at or after `from` that is a `---` document marker.
fn find_marker(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        let nl = bytes[i..].iter().position(|&b| b == b'\n')? + i + 1;
        let rest = &bytes[nl..];
        if rest.starts_with(b"---")
            && matches!(rest.get(3), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
        {
            return Some(nl);
        }
        i = nl;
    }
    None
}

/// `seen` counts every document of the file, empty ones too. Each piece stops at the limit; a
/// file over it is refused with an error (its documents are still checked).
fn check_document_count<T>(
    file: FileId,
    text: &str,
    consumed: &mut Consumed<T>,
    seen: usize,
    limits: &Limits,
) {
    if seen > limits.max_documents {
        let at = Span::new(file, text.len(), text.len());
        consumed.diagnostics.push(
            Diagnostic::new(
                "input-limit",
                at,
                format!("more than {} documents in one file", limits.max_documents),
            )
            .help("split the stream, or raise the limit with `--max-documents`"),
        );
    }
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

/// An open collection. Its children live on the builder's shared stacks (`items`, `entries`)
/// from `base` on, and move into a vector of exactly their number when it closes: no vector
/// grows, and no capacity is left unused in the tree.
enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        base: usize,
    },
    Map {
        start: usize,
        anchor: usize,
        base: usize,
        merged: Vec<Entry>,
        /// Key → position, built only once the map has more than [`INDEX_AFTER`] entries;
        /// smaller maps look for duplicate keys by scanning.
        index: Option<HashMap<Key, usize>>,
        pending: PendingKey,
    },
}

/// Maps with more entries than this get a hash index for duplicate-key detection.
const INDEX_AFTER: usize = 16;

struct Builder<'a> {
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
    fn new(
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

    fn run(&mut self) {
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
                self.open(
                    Frame::Map {
                        start: span.start as usize,
                        anchor,
                        base: self.entries.len(),
                        merged: Vec::new(),
                        index: None,
                        pending: PendingKey::None,
                    },
                    span,
                )
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
            Frame::Map {
                start,
                anchor,
                base,
                merged,
                index: _,
                pending: _,
            } => {
                let mut entries: Vec<Entry> = self.entries.drain(base..).collect();
                let end = entries
                    .iter()
                    .chain(merged.iter())
                    .map(|e| e.value.span.end.max(e.key_span.end))
                    .filter(|&e| e as usize >= start)
                    .max()
                    .unwrap_or(end_span.end);
                for m in merged {
                    if !entries.iter().any(|e| e.key == m.key) {
                        entries.push(m);
                    }
                }
                let node = Node::new(
                    Span::new(self.file, start, end as usize),
                    Value::Map(entries),
                );
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
            Some(Frame::Map {
                base,
                merged,
                index,
                pending,
                ..
            }) => {
                let entries = &mut self.entries;
                let base = *base;
                match std::mem::replace(pending, PendingKey::None) {
                    PendingKey::None => {
                        let (span, type_name) = (node.span, node.type_name());
                        *pending = match key_string(node) {
                            Some(name) => PendingKey::Key { name, span, merge },
                            None => {
                                self.diagnostics.push(
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
                        if let Some(d) = merge_into(merged, node, span) {
                            self.diagnostics.push(d);
                        }
                    }
                    PendingKey::Key { name, span, .. } => {
                        let found = match index {
                            Some(index) => index.get(&name).copied(),
                            None => entries[base..].iter().position(|e| e.key == name),
                        };
                        if let Some(first) = found {
                            let first = base + first;
                            let first_span: Span = entries[first].key_span;
                            self.diagnostics.push(
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
                            if let Some(index) = index {
                                index.insert(name.clone(), position);
                            } else if position == INDEX_AFTER {
                                let mut built: HashMap<Key, usize> = entries[base..]
                                    .iter()
                                    .enumerate()
                                    .map(|(i, e)| (e.key.clone(), i))
                                    .collect();
                                built.insert(name.clone(), position);
                                *index = Some(built);
                            }
                            entries.push(Entry {
                                key: name,
                                key_span: span,
                                value: node,
                            });
                        }
                    }
                }
                true
            }
        }
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Node {
        let value = match tag {
            None if style == ScalarStyle::Plain => self.scalar_value(resolve_plain(text), span),
            None => Value::Str(text.into()),
            Some(tag) => self.tagged(text, tag, span),
        };
        Node::new(span, value)
    }

    fn scalar_value(&mut self, s: Scalar, span: Span) -> Value {
        match s {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::Uint(u) => Value::Float(u as f64),
            Scalar::Float(f) if f.is_finite() => Value::Float(f),
            Scalar::Float(f) => {
                let written = self.text_at(span);
                self.diagnostics.push(
                    Diagnostic::new(
                        "yaml-unrepresentable",
                        span,
                        format!("`{written}` has no JSON representation"),
                    )
                    .label("resolves to a non-finite number")
                    .help("quote it if a string is meant"),
                );
                Value::Str(f.to_string().into())
            }
            Scalar::Str(s) => Value::Str(s),
        }
    }

    fn tagged(&mut self, text: &str, tag: &Tag, span: Span) -> Value {
        // The non-specific tag `!` forces a string.
        if (tag.handle.is_empty() && tag.suffix == "!")
            || (tag.handle == "!" && tag.suffix.is_empty())
        {
            return Value::Str(text.into());
        }
        if tag.is_yaml_core_schema() {
            let resolved = resolve_plain(text);
            let ok = match tag.suffix.as_str() {
                "str" | "timestamp" => return Value::Str(text.into()),
                "int" => matches!(resolved, Scalar::Int(_) | Scalar::Uint(_)),
                "float" => matches!(
                    resolved,
                    Scalar::Int(_) | Scalar::Uint(_) | Scalar::Float(_)
                ),
                "bool" => matches!(resolved, Scalar::Bool(_)),
                "null" => matches!(resolved, Scalar::Null),
                _ => false,
            };
            if ok {
                return self.scalar_value(resolved, span);
            }
            if matches!(tag.suffix.as_str(), "int" | "float" | "bool" | "null") {
                self.diagnostics.push(
                    Diagnostic::new(
                        "yaml-unsupported-tag",
                        span,
                        format!("`{text}` is not a valid `!!{}`", tag.suffix),
                    )
                    .label("tag and value disagree"),
                );
                return Value::Str(text.into());
            }
        }
        self.diagnostics.push(
            Diagnostic::new(
                "yaml-unsupported-tag",
                span,
                format!("unsupported tag `{}`", display_tag(tag)),
            )
            .label("Kubernetes objects are plain JSON values")
            .help("remove the tag; quote the value if a string is meant"),
        );
        Value::Str(text.into())
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, span: Span) {
        let Some(tag) = tag else { return };
        if tag.is_yaml_core_schema() && tag.suffix == expected {
            return;
        }
        self.diagnostics.push(
            Diagnostic::new(
                "yaml-unsupported-tag",
                Span::new(self.file, span.start as usize, span.start as usize),
                format!("unsupported tag `{}`", display_tag(tag)),
            )
            .help("remove the tag"),
        );
    }
}

fn display_tag(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
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

/// Convenience for tests and tools: parse with default limits.
pub fn parse_str(text: &str) -> Parsed {
    parse(FileId(0), text, &Limits::default())
}

/// The one document of `text`, which must parse without findings (for tests).
#[cfg(test)]
fn parse_one(text: &str) -> Node {
    let p = parse_str(text);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.documents.len(), 1);
    p.documents[0].root.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn large_lists_parse_in_pieces_like_a_whole_parse() {
        let mut items = String::new();
        for i in 0..6_000 {
            items.push_str(&format!(
                "- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s{i}\n  spec:\n    ports:\n    - port: {}\n      name: \"p\"\n",
                1000 + i % 50_000
            ));
            if i % 1000 == 0 {
                items.push_str("# a comment\n\n");
            }
        }
        let whole = |text: &str| piece::parse(FileId(0), text, 0, &Limits::default()).0;
        let list = format!(
            "apiVersion: v1\nitems:\n{items}kind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
        assert!(list.len() > PARALLEL_THRESHOLD);
        let pieces = parse_list_in_pieces(FileId(0), &list, &Limits::default(), &KeepTrees)
            .expect("parsed in pieces");
        let reference = whole(&list);
        let documents: Vec<Document> = pieces.pieces.into_iter().flatten().collect();
        assert_eq!(documents.len(), 1);
        // Compared without `assert_eq!`, whose message would print both trees.
        assert!(documents[0].root == reference.documents[0].root);
        assert!(parse_str(&list).documents[0].root == reference.documents[0].root);
        // A sink that splits lists gets every item once, in order, with its index.
        let runs = parse_list_in_pieces(FileId(0), &list, &Limits::default(), &ItemRuns)
            .expect("parsed in pieces");
        assert!(runs.pieces.len() > 1);
        let mut next = 0;
        for (first, names) in runs.pieces.iter().flatten() {
            assert_eq!(*first, next);
            for (k, name) in names.iter().enumerate() {
                assert_eq!(name, &format!("s{}", first + k));
            }
            next += names.len();
        }
        assert_eq!(next, 6_000);
        // Anything unusual is parsed as a whole, with the same result as before.
        for odd in [
            format!("{list}---\nkind: Other\n"),
            format!("apiVersion: v1\nitems:\n- &a {{x: 1}}\n{items}- *a\nkind: List\n"),
            format!("apiVersion: v1\nitems:\n{items}kind: List\napiVersion: v2\n"),
            format!("apiVersion: v1\nitems:\n{items}- [unclosed\nkind: List\n"),
        ] {
            assert!(
                parse_list_in_pieces(FileId(0), &odd, &Limits::default(), &KeepTrees).is_none()
            );
            assert!(parse_list_in_pieces(FileId(0), &odd, &Limits::default(), &ItemRuns).is_none());
            let a = parse_str(&odd);
            let b = whole(&odd);
            assert_eq!(a.documents.len(), b.documents.len());
            assert_eq!(a.diagnostics.len(), b.diagnostics.len());
            for (x, y) in a.documents.iter().zip(&b.documents) {
                assert!(x.root == y.root);
            }
        }
    }

    /// Splits every list; each run becomes (index of its first item, the items' names).
    struct ItemRuns;

    impl Documents for ItemRuns {
        type Out = Vec<(usize, Vec<String>)>;

        fn document(&self, _doc: Document, out: &mut Self::Out) {
            out.push((usize::MAX, Vec::new()));
        }

        fn splits_list(&self, list: &Node) -> bool {
            list.get("kind").and_then(Node::as_str) == Some("List")
        }

        fn list_items(&self, _list: &Node, first: usize, items: Vec<Node>, out: &mut Self::Out) {
            let names = items
                .iter()
                .map(|i| {
                    let name = i.get("metadata").and_then(|m| m.get("name"));
                    name.and_then(Node::as_str).unwrap_or("").to_owned()
                })
                .collect();
            out.push((first, names));
        }
    }

    #[test]
    fn large_streams_parse_in_pieces_with_file_offsets() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!(
                "---\nkind: Service\nmetadata:\n  name: s{i}\n  note: |\n    ---not a marker\n"
            ));
        }
        text.push_str("---\n# empty\n---\nlast: [1, 2\n");
        assert!(text.len() > PARALLEL_THRESHOLD);
        let p = parse_str(&text);
        assert_eq!(p.documents.len(), 20_000);
        let starts: Vec<u32> = p.documents.iter().map(|d| d.root.span.start).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        let d = &p.documents[12_345];
        let name = d.root.get("metadata").unwrap().get("name").unwrap();
        assert_eq!(
            &text[name.span.start as usize..name.span.end as usize],
            "s12345"
        );
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].rule, "yaml-syntax");
    }

    #[test]
    fn tags() {
        let root = parse_one("a: !!str 123\nb: ! 12\n");
        assert_eq!(root.get("a").unwrap().as_str(), Some("123"));
        assert_eq!(root.get("b").unwrap().as_str(), Some("12"));
        let p = parse_str("a: !!binary aGk=\n");
        assert_eq!(p.diagnostics[0].rule, "yaml-unsupported-tag");
    }
}

//! YAML (and JSON) text to spanned document trees.
//!
//! Built on `saphyr-parser` events. svcc adds what Kubernetes' decoder does and the parser does
//! not: go-yaml v2 scalar resolution ([`super::resolve`]), duplicate keys (reported, and resolved
//! as kubectl's client-side conversion does: the last value wins), merge keys (`<<`), alias
//! expansion under a node budget (billion-laughs inputs are refused, not expanded), a nesting
//! limit, and byte offsets (saphyr counts characters).
//!
//! This module is the face: [`parse`], [`parse_each`] and what they take and give. Behind it,
//! one job each:
//! - [`chunks`]: a large stream, cut at document markers and parsed in parallel;
//! - [`lists`]: one large `List` (`kubectl get -o yaml`), parsed in parallel by runs of items;
//! - [`piece`]: one piece of text parsed in one go, re-indenting the flow lines that libyaml
//!   accepts and saphyr refuses;
//! - [`builder`]: saphyr's events to the tree (anchors and aliases, nesting; maps and scalars in
//!   its submodules);
//! - [`offsets`]: the parser's positions to byte offsets of the file.

use super::tree::{Node, Value};
use super::{FileId, Span};
use crate::diag::Diagnostic;

mod builder;
mod chunks;
mod lists;
mod offsets;
mod piece;

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
        chunks::piece_starts(text)
    } else {
        vec![0]
    };
    if starts.len() == 1 && text.len() > PARALLEL_THRESHOLD {
        if let Some(consumed) = lists::parse_in_pieces(file, text, limits, sink) {
            return consumed;
        }
    }
    chunks::parse_pieces(file, text, &starts, limits, sink)
}

/// Files larger than this are parsed in pieces, in parallel.
pub const PARALLEL_THRESHOLD: usize = 512 * 1024;

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

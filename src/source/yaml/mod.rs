//! YAML (and JSON) text to spanned document trees.
//!
//! Built on `saphyr-parser` events. svcc adds what Kubernetes' decoder does and the parser does
//! not: go-yaml v2 scalar resolution ([`super::resolve`]), duplicate keys (reported, and resolved
//! as kubectl's client-side conversion does: the last value wins), merge keys (`<<`), alias
//! expansion under a node budget (billion-laughs inputs are refused, not expanded), a nesting
//! limit, and byte offsets (saphyr counts characters).

use super::tree::{Node, Value};
use super::{FileId, Span};
use crate::diag::Diagnostic;

mod builder;
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
}

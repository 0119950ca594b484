//! One large `List`, as `kubectl get -o yaml` prints it, parsed in parallel: a single document
//! gives the cut at document markers ([`super::chunks`]) nothing to cut, so its items are cut
//! into runs instead, each parsed on a worker thread.

use super::chunks::{find_marker, TARGET_CHUNK};
use super::{piece, Consumed, Document, Documents, Limits};
use crate::source::tree::{Node, Value};
use crate::source::{FileId, Span};
use rayon::prelude::*;

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
pub(super) fn parse_in_pieces<S: Documents>(
    file: FileId,
    text: &str,
    limits: &Limits,
    sink: &S,
) -> Option<Consumed<S::Out>> {
    let layout = layout(text)?;
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
fn layout(text: &str) -> Option<ListLayout> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{parse_str, KeepTrees, PARALLEL_THRESHOLD};

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
        let pieces = parse_in_pieces(FileId(0), &list, &Limits::default(), &KeepTrees)
            .expect("parsed in pieces");
        let reference = whole(&list);
        let documents: Vec<Document> = pieces.pieces.into_iter().flatten().collect();
        assert_eq!(documents.len(), 1);
        // Compared without `assert_eq!`, whose message would print both trees.
        assert!(documents[0].root == reference.documents[0].root);
        assert!(parse_str(&list).documents[0].root == reference.documents[0].root);
        // A sink that splits lists gets every item once, in order, with its index.
        let runs = parse_in_pieces(FileId(0), &list, &Limits::default(), &ItemRuns)
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
            assert!(parse_in_pieces(FileId(0), &odd, &Limits::default(), &KeepTrees).is_none());
            assert!(parse_in_pieces(FileId(0), &odd, &Limits::default(), &ItemRuns).is_none());
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
}

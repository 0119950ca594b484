//! Large streams, parsed in parallel: the text is cut at document markers into pieces of
//! about [`TARGET_CHUNK`] bytes. A `---` at the start of a line ends any document, even inside a
//! block or quoted scalar, so the pieces parse as the whole text does. Each piece is parsed on a
//! worker thread, which hands its documents to the sink; the results are joined in file order.

use super::{piece, Consumed, Documents, Limits, Parsed};
use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use rayon::prelude::*;

/// The size pieces of a large text aim at: a piece ends at the first document marker (for a
/// `List`, the first item) past it.
pub(super) const TARGET_CHUNK: usize = 256 * 1024;

/// Byte offsets where pieces start: 0, then document markers roughly every [`TARGET_CHUNK`].
pub(super) fn piece_starts(text: &str) -> Vec<usize> {
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

/// Parses the pieces of `text` that begin at `starts` (the first at 0), in parallel, and hands
/// each piece's documents to `sink` on the worker that parsed it.
pub(super) fn parse_pieces<S: Documents>(
    file: FileId,
    text: &str,
    starts: &[usize],
    limits: &Limits,
    sink: &S,
) -> Consumed<S::Out> {
    let ranges: Vec<(usize, usize)> = starts
        .iter()
        .zip(starts.iter().skip(1).chain(std::iter::once(&text.len())))
        .map(|(&a, &b)| (a, b))
        .collect();
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

/// The next line at or after `from` that is a `---` document marker.
pub(super) fn find_marker(bytes: &[u8], from: usize) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use crate::source::yaml::{parse_str, PARALLEL_THRESHOLD};

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

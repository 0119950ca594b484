//! One piece of a file, parsed in one go: the [`Builder`] over the piece's text, and the
//! fallback for what libyaml accepts and saphyr refuses (a line of a flow collection dedented
//! below its parent): the line is re-indented and the piece parsed again, its spans mapped back
//! to the original text ([`super::offsets`]).

use super::builder::Builder;
use super::offsets::{to_original, Insertion};
use super::{Limits, Parsed};
use crate::source::FileId;

/// Parses one piece of a file that starts at byte `base`; returns its non-empty documents and
/// the number of documents seen (empty ones included).
pub(super) fn parse(file: FileId, text: &str, base: usize, limits: &Limits) -> (Parsed, usize) {
    let mut variant: Option<(String, Vec<Insertion>)> = None;
    for _ in 0..=MAX_REINDENTS {
        let (body, insertions) = match &variant {
            Some((t, ins)) => (t.as_str(), ins.as_slice()),
            None => (text, &[][..]),
        };
        let mut builder = Builder::new(file, body, limits, insertions, base);
        builder.run();
        if let Some(at) = builder.flow_indent_error() {
            if let Some(next) = reindent(body, at, insertions) {
                variant = Some(next);
                continue;
            }
        }
        return builder.finish();
    }
    (Parsed::default(), 0)
}

/// How many dedented flow lines one file may have (each costs a re-parse).
const MAX_REINDENTS: usize = 16;

/// libyaml (and so kubectl) does not check indentation inside flow collections, so
/// `args: [` … `]` with the `]` under `args` is accepted there; saphyr refuses it. Such a line
/// is re-indented like the line before it and the file parsed again; spans are mapped back.
fn reindent(body: &str, at: usize, insertions: &[Insertion]) -> Option<(String, Vec<Insertion>)> {
    let line_start = body[..at.min(body.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = &body[line_start..];
    let indent = line.len() - line.trim_start_matches(' ').len();
    let first = line.trim_start_matches(' ').chars().next()?;
    let previous = body[..line_start.saturating_sub(1)]
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let prev_indent = previous.len() - previous.trim_start_matches(' ').len();
    let inside_flow = matches!(first, ']' | '}') || previous.trim_end().ends_with(['[', '{', ',']);
    if !inside_flow || prev_indent <= indent {
        return None;
    }
    let count = prev_indent - indent + usize::from(matches!(first, ']' | '}'));
    let mut text = String::with_capacity(body.len() + count);
    text.push_str(&body[..line_start]);
    text.extend(std::iter::repeat_n(' ', count));
    text.push_str(&body[line_start..]);
    let mut all = insertions.to_vec();
    all.push(Insertion {
        original: to_original(line_start, insertions),
        count,
    });
    all.sort_by_key(|i| i.original);
    Some((text, all))
}

#[cfg(test)]
mod tests {
    use crate::source::yaml::parse_one;

    #[test]
    fn dedented_flow_close_is_accepted_like_kubectl() {
        let text = "spec:\n  args: [\n      \"-a\", \"b\",\n  ]\n  env: [\n    x,\n  y]\n  z: 1\n";
        let root = parse_one(text);
        let args = root.get("spec").unwrap().get("args").unwrap();
        assert_eq!(args.as_seq().len(), 2);
        let z = root.get("spec").unwrap().entry("z").unwrap();
        assert_eq!(
            &text[z.key_span.start as usize..z.key_span.end as usize],
            "z"
        );
        let b = &args.as_seq()[1];
        assert_eq!(&text[b.span.start as usize..b.span.end as usize], "\"b\"");
    }
}

//! Text from the input, made safe to write to a terminal.
//!
//! Messages quote input values (a YAML double-quoted string can hold `\e` or `\0`), excerpts
//! quote whole lines, and a file given to svcc may be binary. Written raw, a control character
//! moves the cursor, an escape sequence recolours or retitles the terminal, and a bidirectional
//! override reorders what the reader sees. The text formats (human, short, github) therefore
//! write every such character as one visible stand-in: C0 controls as their Unicode control
//! pictures (`␀`, `␛`), DEL as `␡`, C1 controls and bidirectional overrides as U+FFFD. Invalid
//! UTF-8 never gets this far: the loader already replaced it with U+FFFD. One character for one
//! keeps columns (which count characters) the same as in the file; only byte offsets move, and
//! [`Excerpt`] maps them.
//!
//! JSON and SARIF need none of this: their strings are escaped by the serializer.

use crate::source::{SourceFile, Span};
use std::borrow::Cow;
use std::sync::Arc;

/// The stand-in for a character a terminal must not receive raw; `None` for every other one.
/// Line feeds and tabs are layout, not controls, and stay (a carriage return is a control:
/// excerpts keep the one of a CRLF line end, see [`Excerpt`]).
fn stand_in(c: char) -> Option<char> {
    match c {
        '\n' | '\t' => None,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32),
        '\u{7f}' => Some('\u{2421}'),
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => Some('\u{fffd}'),
        _ => None,
    }
}

/// `text` with every control character replaced by its stand-in (line feeds and tabs stay).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| stand_in(c).is_some()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| stand_in(c).unwrap_or(c)).collect())
}

/// [`printable`], on one line: line feeds become `␊` too (`--format short`).
pub fn printable_line(text: &str) -> Cow<'_, str> {
    match printable(text) {
        Cow::Borrowed(t) if !t.contains('\n') => Cow::Borrowed(t),
        t => Cow::Owned(t.replace('\n', "\u{240a}")),
    }
}

/// A file as an excerpt shows it: the original when it has nothing to replace, else a copy with
/// stand-ins (its name too), and the byte-offset map from the original to the copy.
#[derive(Debug)]
pub struct Excerpt {
    pub file: Arc<SourceFile>,
    /// One entry per replaced character, in order: (its offset in the original, its length
    /// there, the bytes the copy has gained before it).
    shifts: Vec<(u32, u32, u32)>,
}

impl Excerpt {
    pub fn new(original: &Arc<SourceFile>) -> Excerpt {
        let text = &original.text;
        let needs = |i: usize, c: char| {
            stand_in(c).is_some() && !(c == '\r' && text.as_bytes().get(i + 1) == Some(&b'\n'))
        };
        let name = printable(&original.name);
        if !text.char_indices().any(|(i, c)| needs(i, c)) && matches!(name, Cow::Borrowed(_)) {
            return Excerpt {
                file: Arc::clone(original),
                shifts: Vec::new(),
            };
        }
        let mut shown = String::with_capacity(text.len() + 16);
        let mut shifts = Vec::new();
        for (i, c) in text.char_indices() {
            match stand_in(c).filter(|_| needs(i, c)) {
                Some(s) => {
                    let gained = saturate(shown.len() - i);
                    shifts.push((saturate(i), saturate(c.len_utf8()), gained));
                    shown.push(s);
                }
                None => shown.push(c),
            }
        }
        Excerpt {
            file: Arc::new(SourceFile::new(name.into_owned(), None, shown)),
            shifts,
        }
    }

    /// A byte offset of the original, in the copy. An offset inside a replaced character (not
    /// on a character boundary) moves to the start of its stand-in.
    pub fn offset(&self, offset: u32) -> u32 {
        // The last replaced character that starts before `offset`, if any.
        let at = self.shifts.partition_point(|&(start, _, _)| start < offset);
        let Some(&(start, len, gained)) = at.checked_sub(1).and_then(|i| self.shifts.get(i)) else {
            return offset;
        };
        let stand_in_len = 3; // every stand-in is a three-byte UTF-8 character
        if offset < start + len {
            start + gained
        } else {
            offset + gained + stand_in_len - len
        }
    }

    /// A span of the original, in the copy.
    pub fn span(&self, span: Span) -> Span {
        Span {
            file: span.file,
            start: self.offset(span.start),
            end: self.offset(span.end),
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn controls_become_visible_stand_ins() {
        assert_eq!(printable("plain `text`\n\tok"), "plain `text`\n\tok");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\u{0}b\u{1b}[31m\u{7f}"),
            "a\u{2400}b\u{241b}[31m\u{2421}"
        );
        assert_eq!(printable("x\u{9b}y\u{202e}z"), "x\u{fffd}y\u{fffd}z");
        assert_eq!(printable_line("a\nb\r"), "a\u{240a}b\u{240d}");
    }

    #[test]
    fn excerpts_map_offsets_past_stand_ins() {
        let text = "ab\u{0}cd\u{9b}ef\r\ngh\rij";
        let file = Arc::new(SourceFile::new("f".into(), None, text.into()));
        let e = Excerpt::new(&file);
        assert_eq!(e.file.text, "ab\u{2400}cd\u{fffd}ef\r\ngh\u{240d}ij");
        for needle in ["a", "cd", "ef", "gh", "ij", "\r\n"] {
            let start = text.find(needle).unwrap();
            let span = e.span(Span::new(FileId(0), start, start + needle.len()));
            assert_eq!(e.file.slice(span), needle, "{needle:?}");
            // Columns count characters, and every stand-in is one character.
            assert_eq!(e.file.line_col(span.start), file.line_col(start as u32));
        }
        let nul = e.span(Span::new(FileId(0), 2, 3));
        assert_eq!(e.file.slice(nul), "\u{2400}");
        // Inside the two bytes of U+009B: the start of its stand-in.
        let inside = text.find('\u{9b}').unwrap() + 1;
        assert_eq!(e.offset(inside as u32), e.offset(inside as u32 - 1));
    }

    #[test]
    fn clean_files_are_shared_not_copied() {
        let file = Arc::new(SourceFile::new("f".into(), None, "a: 1\r\n".into()));
        let e = Excerpt::new(&file);
        assert!(Arc::ptr_eq(&e.file, &file));
        assert_eq!(e.offset(3), 3);
    }
}

//! Positions: where a parser position lies in the original file.
//!
//! saphyr counts characters, and svcc's spans are byte offsets. [`Offsets`] turns the parser's
//! character indices into byte offsets of the text it parsed. That text may be a re-indented
//! copy of the file ([`super::piece`]): its [`Insertion`]s map offsets back to the original
//! ([`to_original`]) and forth ([`from_original`]).

/// Spaces svcc inserted before a byte offset of the original text.
#[derive(Clone, Copy, Debug)]
pub(super) struct Insertion {
    pub(super) original: usize,
    pub(super) count: usize,
}

/// Maps a byte offset of the original text into the re-indented text.
pub(super) fn from_original(offset: usize, insertions: &[Insertion]) -> usize {
    offset
        + insertions
            .iter()
            .filter(|i| i.original <= offset)
            .map(|i| i.count)
            .sum::<usize>()
}

/// Maps a byte offset of the re-indented text back to the original text.
pub(super) fn to_original(offset: usize, insertions: &[Insertion]) -> usize {
    let mut shift = 0;
    for ins in insertions {
        let start = ins.original + shift;
        if offset < start {
            break;
        }
        if offset < start + ins.count {
            return ins.original;
        }
        shift += ins.count;
    }
    offset - shift
}

/// Maps saphyr's character indices to byte offsets.
pub(super) struct Offsets {
    ascii: bool,
    /// Byte offset of every 64th character.
    checkpoints: Vec<u32>,
    /// Characters skipped before the parser's input (a byte-order mark).
    skipped_chars: usize,
}

const CHECKPOINT: usize = 64;

impl Offsets {
    pub(super) fn new(text: &str, skipped_chars: usize) -> Offsets {
        let ascii = text.is_ascii();
        let mut checkpoints = Vec::new();
        if !ascii {
            for (n, (byte, _)) in text.char_indices().enumerate() {
                if n % CHECKPOINT == 0 {
                    checkpoints.push(byte as u32);
                }
            }
        }
        Offsets {
            ascii,
            checkpoints,
            skipped_chars,
        }
    }

    pub(super) fn byte(&self, text: &str, char_index: usize) -> usize {
        let index = char_index + self.skipped_chars;
        if self.ascii {
            return index.min(text.len());
        }
        let Some(&base) = self.checkpoints.get(index / CHECKPOINT) else {
            return text.len();
        };
        let rest = &text[base as usize..];
        let extra = rest
            .char_indices()
            .nth(index % CHECKPOINT)
            .map_or(rest.len(), |(b, _)| b);
        base as usize + extra
    }
}

//! Positions in the input: a file and a byte range in it. The bottom of the crate: every
//! stage points at the input through these, and they depend on nothing else.
//!
//! Line and column are computed only when a position is rendered (`source::SourceFile`),
//! as byte offsets are cheap to carry and to compare.

/// Index of a file in the input (`source::SourceMap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one file. `start == end` marks a position (an empty span).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: saturate(start),
            end: saturate(end.max(start)),
        }
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both (which must be in the same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A byte offset or length as stored in a [`Span`]: inputs are bounded far below 4 GiB, and an
/// offset past it saturates rather than wraps.
pub fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

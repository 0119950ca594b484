//! Source stage: reading inputs and turning bytes into spanned YAML trees.
//!
//! Input: paths (files, directories, `-` for stdin). Output: a [`SourceMap`] that owns every
//! file's text, and for each file the documents parsed into [`tree::Node`]s. Every node carries a
//! [`Span`] of byte offsets into its file; line and column are computed only when a diagnostic is
//! rendered ([`SourceFile::line_col`]).
//!
//! Invariants: nothing after this stage reads YAML text again; a file that cannot be read or
//! parsed yields diagnostics, never a panic, and its good documents before the error are kept.

pub mod inputs;
pub mod repo;
pub mod resolve;
pub mod tree;
pub mod yaml;

pub use crate::span::{FileId, Span};

use crate::span::saturate;

use std::path::PathBuf;
use std::sync::Arc;

/// One input file and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user named it (or `<stdin>`), used in every report.
    pub name: String,
    pub path: Option<PathBuf>,
    pub text: String,
    /// Found by walking a directory, not named on the command line: a file that is not
    /// Kubernetes is counted, not reported (see `pipeline`).
    pub walked: bool,
    /// Byte offset of the start of each line; computed when a position is first asked for
    /// (a clean run of a large input never needs it).
    line_starts: std::sync::OnceLock<Vec<u32>>,
}

impl SourceFile {
    pub fn new(name: String, path: Option<PathBuf>, text: String) -> SourceFile {
        SourceFile {
            name,
            path,
            text,
            walked: false,
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0u32];
            for (i, b) in self.text.bytes().enumerate() {
                if b == b'\n' {
                    starts.push(saturate(i + 1));
                }
            }
            starts
        })
    }

    /// Byte offset where a line starts (0-based line number; the end of the text past the last).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts()
            .get(line)
            .map_or(self.text.len(), |&s| s as usize)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(saturate(self.text.len()));
        let line_starts = self.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = line_starts[line] as usize;
        let end = (offset as usize).max(start);
        let col = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a span (empty if the span is out of range).
    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

/// All files of one run. Files are shared (`Arc`) so reports can hold them cheaply.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<Arc<SourceFile>>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(saturate(self.files.len()));
        self.files.push(Arc::new(file));
        id
    }

    pub fn get(&self, id: FileId) -> &Arc<SourceFile> {
        &self.files[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &Arc<SourceFile>)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(saturate(i)), f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("t".into(), None, "a: 1\n# café\nb: 2\n".into());
        let off = f.text.find("b:").unwrap() as u32;
        assert_eq!(f.line_col(off), (3, 1));
        let off = f.text.find('\u{e9}').unwrap() as u32 + 2;
        assert_eq!(f.line_col(off), (2, 7));
    }
}

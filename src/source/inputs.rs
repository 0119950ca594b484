//! Finding and reading input files.
//!
//! Paths named by the user are read whatever their extension; directories are walked
//! recursively for `*.yaml`, `*.yml` and `*.json`, skipping hidden entries, Helm charts and
//! third-party trees (see [`super::repo`]), in sorted order so that output never depends on the
//! file system. `-` reads standard input. Files are read and parsed in parallel; results are put
//! back in input order.
//!
//! Files found by a walk are [`Input::Found`]: later stages are lenient with them (a YAML file
//! that is not Kubernetes is counted, not reported). Files named on the command line are
//! [`Input::File`] and checked strictly.

use super::repo::{self, Skipped};
use super::yaml::{self, Document, Documents, KeepTrees, Limits};
use super::{FileId, SourceFile, SourceMap, Span};
use crate::diag::Diagnostic;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Default bound on one input file.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Where one input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    /// A file named on the command line.
    File(PathBuf),
    /// A file found by walking a directory.
    Found(PathBuf),
}

impl Input {
    /// The file's path (`None` for standard input).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin => None,
            Input::File(p) | Input::Found(p) => Some(p),
        }
    }
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub errors: Vec<InputError>,
    /// What the walks left out.
    pub skipped: Skipped,
}

/// A failure to read input: not a finding about the manifests, so it makes the run exit 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Walk {
        path: String,
        source: walkdir::Error,
    },
    #[error("{path}: file is larger than {limit} bytes (see --max-file-size)")]
    TooLarge { path: String, limit: u64 },
}

/// Everything the source stage produced.
#[derive(Debug)]
pub struct Loaded<T = Vec<Document>> {
    pub sources: SourceMap,
    /// What the sink made of each piece of each file, in input order.
    pub pieces: Vec<T>,
    /// The file of each piece (index-aligned with `pieces`).
    pub piece_files: Vec<FileId>,
    /// Non-empty documents seen.
    pub count: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<InputError>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            sources: SourceMap::default(),
            pieces: Vec::new(),
            piece_files: Vec::new(),
            count: 0,
            diagnostics: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// Include and exclude globs (`[files]` in svcc.toml), applied to files found by walking
/// directories. A file named on the command line is always read.
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    pub include: Globs,
    pub exclude: Globs,
}

impl PathFilter {
    pub fn allows(&self, path: &Path) -> bool {
        (self.include.is_empty() || self.include.is_match(path)) && !self.exclude.is_match(path)
    }
}

/// Globs over `/`-separated paths, compiled once (`globset`): `*` and `?` stay within one
/// segment, `**` as a whole segment (`**/x`, `x/**`, `x/**/y`, or `**` alone) spans segments
/// (elsewhere it is `*`); `[ab]`, `[!ab]` and `{a,b}` as in gitignore, `\` escapes. A pattern
/// without `/` matches the file name anywhere. A leading `./` of a pattern or a path is
/// ignored.
#[derive(Clone, Default)]
pub struct Globs {
    /// As written, for messages and fingerprints.
    patterns: Vec<String>,
    set: globset::GlobSet,
}

/// A glob that does not compile: a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("invalid glob `{glob}`: {reason}")]
pub struct GlobError {
    pub glob: String,
    pub reason: String,
}

impl Globs {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Globs, GlobError> {
        let mut set = globset::GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let error = |reason: String| GlobError {
                glob: pattern.to_owned(),
                reason,
            };
            let anchored = pattern.contains('/');
            let rest = pattern.trim_start_matches("./");
            if rest.is_empty() {
                return Err(error("an empty glob matches nothing".to_owned()));
            }
            let glob = if anchored || rest == "**" {
                rest.to_owned()
            } else {
                format!("**/{rest}")
            };
            let glob = globset::GlobBuilder::new(&glob)
                .literal_separator(true)
                .build()
                .map_err(|e| error(e.kind().to_string()))?;
            set.add(glob);
        }
        let set = set.build().map_err(|e| GlobError {
            glob: e.glob().unwrap_or_default().to_owned(),
            reason: e.kind().to_string(),
        })?;
        Ok(Globs {
            patterns: patterns.iter().map(|p| p.as_ref().to_owned()).collect(),
            set,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether any glob matches `path`.
    pub fn is_match(&self, path: &Path) -> bool {
        let text = path.to_string_lossy();
        !self.is_empty() && self.set.is_match(text.trim_start_matches("./"))
    }

    /// The index of the last glob that matches `path`.
    pub fn last_match(&self, path: &Path) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let text = path.to_string_lossy();
        self.set
            .matches(text.trim_start_matches("./"))
            .into_iter()
            .max()
    }
}

/// The patterns as written (the compiled set is no one's business).
impl std::fmt::Debug for Globs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.patterns).finish()
    }
}

/// Expands user-given paths into the list of inputs.
pub fn discover(paths: &[PathBuf], filter: &PathFilter) -> Discovery {
    let mut found = Discovery::default();
    for path in paths {
        if path.as_os_str() == "-" {
            found.inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(source) => found.errors.push(InputError::Io {
                path: path.display().to_string(),
                source,
            }),
            Ok(meta) if meta.is_dir() => walk(path, filter, &mut found),
            Ok(_) => found.inputs.push(Input::File(path.clone())),
        }
    }
    found
}

fn walk(dir: &Path, filter: &PathFilter, found: &mut Discovery) {
    // A directory named on the command line may itself be a chart.
    if let Some(chart) = repo::chart_file(dir) {
        found.skipped.charts.push(chart);
        return;
    }
    let skipped = &mut found.skipped;
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            if is_hidden(e.file_name()) {
                return false;
            }
            if !e.file_type().is_dir() {
                return true;
            }
            if repo::is_vendored_dir(e.file_name()) {
                skipped.vendored.push(e.path().to_path_buf());
                return false;
            }
            match repo::chart_file(e.path()) {
                Some(chart) => {
                    skipped.charts.push(chart);
                    false
                }
                None => true,
            }
        });
    for entry in walker {
        match entry {
            Err(source) => found.errors.push(InputError::Walk {
                path: dir.display().to_string(),
                source,
            }),
            Ok(e)
                if e.file_type().is_file() && is_manifest(e.path()) && filter.allows(e.path()) =>
            {
                found.inputs.push(Input::Found(e.into_path()));
            }
            Ok(_) => {}
        }
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Reads and parses every input, keeping every tree. See [`load_each`].
pub fn load(inputs: &[Input], limits: &Limits, max_file_bytes: u64) -> Loaded {
    load_each(inputs, limits, max_file_bytes, &KeepTrees)
}

/// Reads and parses every input; each document goes to `sink` on the thread that parsed it.
/// Standard input is read once, up front, on this thread.
pub fn load_each<S: Documents>(
    inputs: &[Input],
    limits: &Limits,
    max_file_bytes: u64,
    sink: &S,
) -> Loaded<S::Out> {
    let read: Vec<Result<RawInput, InputError>> = inputs
        .par_iter()
        .map(|input| read_input(input, max_file_bytes))
        .collect();

    let mut loaded = Loaded::default();
    let mut texts = Vec::new();
    for r in read {
        match r {
            Err(e) => loaded.errors.push(e),
            Ok(raw) => texts.push(raw),
        }
    }
    let parsed: Vec<(SourceFile, Option<Diagnostic>, yaml::Consumed<S::Out>)> = texts
        .into_par_iter()
        .enumerate()
        .map(|(i, raw)| {
            let file = FileId(i as u32);
            let (text, encoding_problem) = decode_text(file, raw.bytes);
            let parsed = if encoding_problem.is_some() {
                yaml::Consumed::default()
            } else {
                yaml::parse_each(file, &text, limits, sink)
            };
            let mut source = SourceFile::new(raw.name, raw.path, text);
            source.walked = raw.walked;
            (source, encoding_problem, parsed)
        })
        .collect();
    for (source, encoding_problem, parsed) in parsed {
        // Ids are handed out in order: the same `FileId(i)` the parse used.
        loaded.diagnostics.extend(encoding_problem);
        loaded.add_parsed(source, parsed);
    }
    loaded
}

impl<T> Loaded<T> {
    /// The id the next file added will get (to parse it with).
    pub fn next_file(&self) -> FileId {
        FileId(self.sources.len() as u32)
    }

    /// Adds a file and what parsing it (as [`Loaded::next_file`]) gave.
    pub fn add_parsed(&mut self, source: SourceFile, parsed: yaml::Consumed<T>) -> FileId {
        let file = self.sources.add(source);
        self.diagnostics.extend(parsed.diagnostics);
        self.count += parsed.count;
        self.piece_files
            .extend(std::iter::repeat_n(file, parsed.pieces.len()));
        self.pieces.extend(parsed.pieces);
        file
    }
}

/// One input's bytes, before decoding.
struct RawInput {
    /// The display name (`<stdin>` for standard input).
    name: String,
    path: Option<PathBuf>,
    walked: bool,
    bytes: Vec<u8>,
}

fn read_input(input: &Input, max_file_bytes: u64) -> Result<RawInput, InputError> {
    let (name, path) = match input.path() {
        None => ("<stdin>".to_owned(), None),
        Some(p) => (p.display().to_string(), Some(p.to_path_buf())),
    };
    let io = |source| InputError::Io {
        path: name.clone(),
        source,
    };
    let mut bytes = Vec::new();
    match &path {
        None => std::io::stdin()
            .lock()
            .take(max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?,
        Some(p) => {
            let file = std::fs::File::open(p).map_err(io)?;
            // Sized up front: growing by doubling would hold up to twice the file.
            let size = file
                .metadata()
                .map_or(0, |m| m.len())
                .min(max_file_bytes + 1);
            bytes.reserve_exact(usize::try_from(size).unwrap_or(0).saturating_add(1));
            file.take(max_file_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(io)?
        }
    };
    if bytes.len() as u64 > max_file_bytes {
        return Err(InputError::TooLarge {
            path: name,
            limit: max_file_bytes,
        });
    }
    Ok(RawInput {
        name,
        path,
        walked: matches!(input, Input::Found(_)),
        bytes,
    })
}

/// Bytes to text. UTF-16 with a byte-order mark is decoded (libyaml, and so go-yaml, accept
/// it); invalid UTF-8 is reported at its first bad byte and that file yields no documents.
fn decode_text(file: FileId, bytes: Vec<u8>) -> (String, Option<Diagnostic>) {
    if let Some(text) = decode_utf16(&bytes) {
        return (text, None);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let span = Span::new(file, at, at);
            let d = Diagnostic::new("invalid-encoding", span, "file is not valid UTF-8")
                .label("invalid byte sequence here")
                .help("Kubernetes manifests are UTF-8 text");
            // Nothing of the file is parsed: keep the text for the excerpt only.
            (lossy, Some(d))
        }
    }
}

fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units: Vec<u16> = bytes[2..]
        .chunks(2)
        .map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if little {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect();
    Some(
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_match(pattern: &str, path: &str) -> bool {
        Globs::new(&[pattern]).unwrap().is_match(Path::new(path))
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.yaml", "a/b/c.yaml"));
        assert!(glob_match("charts/**", "charts/x/y.yaml"));
        assert!(glob_match("**/test/*.yaml", "a/test/x.yaml"));
        assert!(glob_match("**/test/*.yaml", "test/x.yaml"));
        assert!(!glob_match("charts/*.yaml", "charts/x/y.yaml"));
        assert!(glob_match("a/?.yml", "a/b.yml"));
        let f = PathFilter {
            include: Globs::default(),
            exclude: Globs::new(&["**/kustomization.yaml"]).unwrap(),
        };
        assert!(!f.allows(Path::new("./k/kustomization.yaml")));
        assert!(f.allows(Path::new("./k/svc.yaml")));
    }

    #[test]
    fn glob_edges() {
        // `*` and `?` stay within one segment.
        assert!(!glob_match("a/*", "a/b/c.yaml"));
        assert!(!glob_match("a?b.yaml", "a/b.yaml"));
        assert!(glob_match("a/*.yaml", "a/.hidden.yaml"));
        // `**` spans zero or more segments, as a whole segment.
        assert!(glob_match("a/**/c.yaml", "a/c.yaml"));
        assert!(glob_match("a/**/c.yaml", "a/b/b/c.yaml"));
        assert!(!glob_match("a/**", "a"));
        assert!(!glob_match("a/**", "ab/c.yaml"));
        assert!(glob_match("**", "a/b/c.yaml"));
        assert!(glob_match("**", "c.yaml"));
        // Inside a segment, `**` is `*`.
        assert!(glob_match("deploy**", "deploy-x.yaml"));
        assert!(!glob_match("deploy**", "deploy/x.yaml"));
        // A pattern without `/` matches the file name at any depth, and only the name.
        assert!(glob_match("c.yaml", "c.yaml"));
        assert!(glob_match("c.yaml", "a/b/c.yaml"));
        assert!(!glob_match("b", "a/b/c.yaml"));
        assert!(glob_match("svc-?.yaml", "x/svc-1.yaml"));
        // With a `/` it is anchored at the start of the path.
        assert!(!glob_match("b/c.yaml", "a/b/c.yaml"));
        // A leading `./` is ignored, in the pattern and in the path; it still anchors.
        assert!(glob_match("./a/*.yaml", "a/x.yaml"));
        assert!(glob_match("a/*.yaml", "./a/x.yaml"));
        assert!(glob_match("./x.yaml", "./x.yaml"));
        assert!(!glob_match("./x.yaml", "a/x.yaml"));
        // Classes and alternatives.
        assert!(glob_match("{deploy,base}/*.yaml", "base/x.yaml"));
        assert!(glob_match("v[0-9].yaml", "v1.yaml"));
        assert!(!glob_match("v[!0-9].yaml", "v1.yaml"));
        // Case matters; absolute paths match absolute patterns.
        assert!(!glob_match("*.YAML", "a.yaml"));
        assert!(glob_match("/srv/**", "/srv/m/a.yaml"));
    }

    #[test]
    fn the_last_matching_glob_and_an_empty_set() {
        let globs = Globs::new(&["deploy/**", "deploy/prod/**", "*.json"]).unwrap();
        assert_eq!(globs.last_match(Path::new("deploy/a.yaml")), Some(0));
        assert_eq!(globs.last_match(Path::new("deploy/prod/a.yaml")), Some(1));
        assert_eq!(globs.last_match(Path::new("deploy/prod/a.json")), Some(2));
        assert_eq!(globs.last_match(Path::new("docs/a.yaml")), None);
        let none = Globs::default();
        assert!(none.is_empty() && !none.is_match(Path::new("a.yaml")));
        assert_eq!(
            format!("{globs:?}"),
            r#"["deploy/**", "deploy/prod/**", "*.json"]"#
        );
        // PathFilter: no include means everything; exclude wins over include.
        let f = PathFilter {
            include: Globs::new(&["deploy/**"]).unwrap(),
            exclude: Globs::new(&["*-test.yaml"]).unwrap(),
        };
        assert!(f.allows(Path::new("deploy/a.yaml")));
        assert!(!f.allows(Path::new("deploy/a-test.yaml")));
        assert!(!f.allows(Path::new("docs/a.yaml")));
    }

    #[test]
    fn invalid_globs_name_the_glob() {
        for bad in ["[abc", "{a,b", "a\\", "", "./"] {
            let e = Globs::new(&["ok/**", bad]).unwrap_err();
            assert_eq!(e.glob, bad);
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid glob `{bad}`: ")),
                "{e}"
            );
        }
    }
}

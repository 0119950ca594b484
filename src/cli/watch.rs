//! `svcc apply --watch`: owns watching the inputs and turning file system events into "the
//! input changed, apply once". `apply` runs the applies; this module only says when.
//!
//! - **What is watched** (inotify, through `notify`): every directory given, recursively (new
//!   subdirectories are added as they appear), and the parent directory of every path given,
//!   not recursively. A file given is watched through its parent, so an editor's save by
//!   rename (write a temporary, rename it over the file) is seen, which a watch on the file's
//!   own inode would lose. The parent also sees a directory given being removed and created
//!   again: its recursive watch is then added anew (before the apply, so nothing written into
//!   the new directory is missed). When a parent directory itself goes away, the watch is lost:
//!   [`Watch::next_change`] says so and `apply` exits 2 (a supervisor restarts it).
//! - **What counts**: creations, writes, removals, renames and metadata changes (reads never
//!   do: svcc's own compile opens every input). Paths of svcc's own outputs (the state
//!   directory, zone files and their temporaries) never count, or each apply would trigger the
//!   next one. Of the rest, a burst counts when one of its paths is an input before or after it
//!   (`source::inputs::discover` with the settings' file filter, run once per burst), when the
//!   set of inputs changed (a directory of manifests moved in), when an input's file now is
//!   another or was changed (device, inode, size, modification time, following symbolic links:
//!   a ConfigMap volume swaps its `..data` link and never touches the linked names), when it
//!   touched a path given, or when the kernel's event queue overflowed (events were lost).
//! - **Debounce**: a burst ends after [`QUIET`] without another event that may count, or at
//!   the latest [`MAX_BURST`] after its first event, then it makes one apply. Events that
//!   arrive during an apply wait in the channel and make one more apply after it.
//! - **Failures**: inotify that cannot start, a path that cannot be watched (missing, or the
//!   inotify watch limit reached, also later for a new subdirectory) and a lost watch are
//!   errors, never a silent fallback to polling.

use crate::source::inputs::{discover, PathFilter};
use crate::source::repo::normalize;
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a burst must be quiet before it is applied. An editor's save (write a temporary,
/// fsync, rename) and a sync tool's update of several files each arrive within a few
/// milliseconds; 50 ms gathers them into one apply while adding little to the latency of a
/// change (an apply itself takes tens of milliseconds to seconds).
pub const QUIET: Duration = Duration::from_millis(50);

/// The longest a burst is gathered: a stream of writes that never pauses for [`QUIET`] still
/// applies about once a second.
pub const MAX_BURST: Duration = Duration::from_secs(1);

/// A watch that cannot be set up, or was lost: `apply` exits 2.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("--watch cannot watch standard input; give files or directories")]
    Stdin,
    #[error("cannot watch {path}: {reason}")]
    Path { path: String, reason: String },
    #[error("cannot start inotify: {0}")]
    Start(String),
    #[error("the watch was lost: {0}")]
    Lost(String),
}

/// One burst that counts, for the log line.
#[derive(Debug)]
pub struct Change {
    /// Events in the burst that may count.
    pub events: usize,
    /// Distinct paths of those events.
    pub paths: usize,
    /// From the first event to the end of the burst (the debounce's share of the latency).
    pub settled: Duration,
}

/// The watched inputs (see the module documentation).
pub struct Watch {
    watcher: RecommendedWatcher,
    events: Receiver<notify::Result<Event>>,
    /// Each path given: (absolute and normalized, given as a directory).
    roots: Vec<(PathBuf, bool)>,
    /// Parent directories watched on their own.
    parents: Vec<PathBuf>,
    /// svcc's own outputs as given (absolute, normalized).
    given_outputs: Vec<PathBuf>,
    /// The same, and their canonical paths where they exist ([`Watch::resolve_outputs`]).
    outputs: Vec<PathBuf>,
    paths: Vec<PathBuf>,
    filter: PathFilter,
    /// The inputs as last discovered (absolute, normalized), with what they are.
    inputs: BTreeMap<PathBuf, Option<Stamp>>,
}

impl Watch {
    /// Watches `paths` (as given to `apply`); events under `outputs` (svcc's own state
    /// directory and zone files) never count.
    pub fn new(
        paths: &[PathBuf],
        filter: &PathFilter,
        outputs: &[PathBuf],
    ) -> Result<Watch, WatchError> {
        let mut roots = Vec::new();
        for path in paths {
            if path.as_os_str() == "-" {
                return Err(WatchError::Stdin);
            }
            let meta = std::fs::metadata(path).map_err(|e| WatchError::Path {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            roots.push((absolute(path), meta.is_dir()));
        }
        let (tx, events) = mpsc::channel();
        let watcher = notify::recommended_watcher(tx).map_err(|e| WatchError::Start(reason(&e)))?;
        let under_a_dir = |p: &Path| roots.iter().any(|(r, dir)| *dir && p.starts_with(r));
        let mut parents: Vec<PathBuf> = roots
            .iter()
            .filter_map(|(r, _)| r.parent().map(Path::to_path_buf))
            .filter(|p| !under_a_dir(p))
            .collect();
        parents.sort();
        parents.dedup();
        let given_outputs: Vec<PathBuf> = outputs.iter().map(|o| absolute(o)).collect();
        let mut watch = Watch {
            watcher,
            events,
            roots,
            parents,
            outputs: given_outputs.clone(),
            given_outputs,
            paths: paths.to_vec(),
            filter: filter.clone(),
            inputs: BTreeMap::new(),
        };
        // Parents first: a recursive watch of a directory must not be turned into a flat one.
        for parent in watch.parents.clone() {
            watch.add(&parent, RecursiveMode::NonRecursive)?;
        }
        for (root, dir) in watch.roots.clone() {
            if dir {
                watch.add(&root, RecursiveMode::Recursive)?;
            }
        }
        watch.inputs = watch.discover();
        Ok(watch)
    }

    /// The directories watched: each directory given (recursively) and each parent.
    pub fn watched(&self) -> usize {
        self.roots.iter().filter(|(_, dir)| *dir).count() + self.parents.len()
    }

    /// Blocks until a burst of events that counts has settled (see the module documentation).
    pub fn next_change(&mut self) -> Result<Change, WatchError> {
        // The state directory appears with the first apply.
        self.resolve_outputs();
        loop {
            let mut burst = Burst::default();
            // Wait, without bound, for the first event that may count.
            while burst.events == 0 {
                let event = self.events.recv().map_err(|_| lost_channel())?;
                self.take(event, &mut burst)?;
            }
            let first = Instant::now();
            let mut last = first;
            loop {
                // Only an event that may count keeps the burst open.
                let end = (last + QUIET).min(first + MAX_BURST);
                let Some(left) = end.checked_duration_since(Instant::now()) else {
                    break;
                };
                match self.events.recv_timeout(left) {
                    Ok(event) => {
                        let before = burst.events;
                        self.take(event, &mut burst)?;
                        if burst.events > before {
                            last = Instant::now();
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return Err(lost_channel()),
                }
            }
            let settled = first.elapsed();
            if self.counts(&burst)? {
                return Ok(Change {
                    events: burst.events,
                    paths: burst.paths.len(),
                    settled,
                });
            }
        }
    }

    /// Adds one event to the burst, if it may count.
    fn take(&self, event: notify::Result<Event>, burst: &mut Burst) -> Result<(), WatchError> {
        let event = match event {
            Ok(e) => e,
            // A new subdirectory that could not be watched, or inotify failing to read.
            Err(e) => return Err(WatchError::Lost(reason(&e))),
        };
        if event.need_rescan() {
            burst.rescan = true;
            burst.events += 1;
            return Ok(());
        }
        if !changes(&event.kind) {
            return Ok(());
        }
        let mut counted = false;
        for path in &event.paths {
            let path = normalize(path);
            if self.is_output(&path) {
                continue;
            }
            counted = true;
            burst.paths.insert(path);
        }
        burst.events += usize::from(counted);
        Ok(())
    }

    /// Whether the burst changed the input; re-adds the watch of a directory given that was
    /// created anew, and fails when a watched parent is gone.
    fn counts(&mut self, burst: &Burst) -> Result<bool, WatchError> {
        let mut touched_root = false;
        for (root, dir) in self.roots.clone() {
            if !burst.paths.contains(&root) {
                continue;
            }
            touched_root = true;
            // Removed, moved away or created anew: watch what is there now (adding a watch
            // that exists costs a walk, nothing more). A directory that is missing is seen
            // again by its parent's watch when it comes back.
            if dir && root.is_dir() {
                self.add(&root, RecursiveMode::Recursive)?;
            }
        }
        for parent in self.parents.clone() {
            if !burst.paths.contains(&parent) {
                continue;
            }
            if !parent.is_dir() {
                return Err(WatchError::Lost(format!(
                    "{} (the directory holding an input) was removed or moved",
                    parent.display()
                )));
            }
            self.add(&parent, RecursiveMode::NonRecursive)?;
        }
        let before = std::mem::take(&mut self.inputs);
        self.inputs = self.discover();
        let input = |p: &PathBuf| before.contains_key(p) || self.inputs.contains_key(p);
        Ok(burst.rescan || touched_root || before != self.inputs || burst.paths.iter().any(input))
    }

    /// The outputs as given, and their canonical paths where they exist.
    fn resolve_outputs(&mut self) {
        let canonical = self
            .given_outputs
            .iter()
            .filter_map(|o| std::fs::canonicalize(o).ok());
        self.outputs = self
            .given_outputs
            .iter()
            .cloned()
            .chain(canonical)
            .collect();
        self.outputs.sort();
        self.outputs.dedup();
    }

    fn add(&mut self, path: &Path, mode: RecursiveMode) -> Result<(), WatchError> {
        self.watcher
            .watch(path, mode)
            .map_err(|e| WatchError::Path {
                path: path.display().to_string(),
                reason: reason(&e),
            })
    }

    /// The input files as discovery finds them now (absolute, normalized), less svcc's own
    /// outputs (a state directory inside a watched one holds `plan.json`), with their stamps.
    fn discover(&self) -> BTreeMap<PathBuf, Option<Stamp>> {
        discover(&self.paths, &self.filter)
            .inputs
            .iter()
            .filter_map(|i| i.path())
            .map(|p| (absolute(p), Stamp::of(p)))
            .filter(|(p, _)| !self.is_output(p))
            .collect()
    }

    /// svcc's own outputs: the state directory, zone files, and the files `apply::fsutil`
    /// makes beside them (its temporaries and probes, [`crate::apply::fsutil::is_scratch_file`]).
    fn is_output(&self, path: &Path) -> bool {
        let own = |p: &Path| self.outputs.iter().any(|o| p.starts_with(o));
        let temporary = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(crate::apply::fsutil::is_scratch_file);
        if temporary || own(path) {
            return true;
        }
        // The same place by another name (a symbolic link on the way).
        match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => {
                std::fs::canonicalize(dir).is_ok_and(|d| d != dir && own(&d.join(name)))
            }
            _ => false,
        }
    }
}

/// What an input file is, links followed: another file, or one changed, has another stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            device: m.dev(),
            inode: m.ino(),
            size: m.size(),
            modified: (m.mtime(), m.mtime_nsec()),
        })
    }
}

/// Events of one burst that may count.
#[derive(Default)]
struct Burst {
    events: usize,
    paths: BTreeSet<PathBuf>,
    rescan: bool,
}

/// Whether an event kind may change the input: anything but reads. `Close(Write)` stays: a
/// file written through a descriptor opened before the watch began is seen when closed.
fn changes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

/// `path` absolute (from the current directory) and normalized, without resolving links:
/// the form of the paths inotify events carry for the watches added here.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    normalize(&path)
}

/// What went wrong, said for a person running a node.
fn reason(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "the inotify watch limit is reached (raise the sysctl fs.inotify.max_user_watches)"
                .to_owned()
        }
        notify::ErrorKind::PathNotFound => "no such file or directory".to_owned(),
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => format!(
            "{io} (the inotify instance limit, sysctl fs.inotify.max_user_instances, or the \
             open file limit is reached)"
        ),
        notify::ErrorKind::Io(io) => io.to_string(),
        notify::ErrorKind::Generic(text) => text.clone(),
        _ => e.to_string(),
    }
}

fn lost_channel() -> WatchError {
    WatchError::Lost("inotify's event thread stopped".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_never_count_writes_do() {
        assert!(!changes(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes(&EventKind::Create(notify::event::CreateKind::File)));
    }

    #[test]
    fn paths_are_absolute_and_normalized() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("a/./b/../c")), cwd.join("a/c"));
        assert_eq!(absolute(Path::new("/x/y/..")), PathBuf::from("/x"));
    }
}

//! `svcc apply`: the thin node runner. Input: a rendered ruleset, zone files and a state
//! directory. It never leaves a node half-configured:
//!
//! 1. one exclusive lock (`<state>/lock`) serializes concurrent runs;
//! 2. when the ruleset and every zone equal what was last applied, nothing is done (no call to
//!    the runner at all) and the result is [`Applied::NoChange`];
//! 3. every target is checked before any is changed: zone directories must be writable, and
//!    the runner tests the ruleset (`nft -c`);
//! 4. the ruleset is applied in one transaction; zone files are written only after it succeeded
//!    (temporary file, fsync, rename, fsync of the directory), so a refused ruleset leaves the
//!    zone untouched; then the reload command runs;
//! 5. the state (the ruleset, then the plan, [`save_plan`]) is saved last. A run killed at any point leaves the old or the new ruleset (the
//!    transaction is atomic) and old or new zone files; the next run converges.
//!
//! The state records what svcc applied (and which version of svcc did), not what the kernel
//! holds. A change is handed to the runner as old and new ruleset ([`Runner::change`]), which
//! may send only the difference; the first apply, `--force` and a ruleset written by another
//! version of svcc are loaded whole ([`Runner::load`]).

pub mod fsutil;
pub mod iptables;
pub mod nft;
pub mod restore_delta;
pub mod runner;

use crate::emit::hash::sha256;
use runner::{Loaded, RunError, Runner};
use std::path::{Path, PathBuf};

/// What one run should make true.
#[derive(Debug, Clone)]
pub struct Request {
    pub ruleset: Vec<u8>,
    /// Destination path and content of each zone file.
    pub zones: Vec<(PathBuf, String)>,
    pub state_dir: PathBuf,
    /// Run through `sh -c` after a change.
    pub reload_cmd: Option<String>,
    /// Apply even when the state says nothing changed.
    pub force: bool,
    /// Fingerprint of what the request was compiled from ([`unchanged`]); `None` when the input
    /// cannot be fingerprinted (standard input).
    pub input: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    NoChange,
    /// `ruleset` says how the ruleset was loaded, `None` when it was unchanged.
    Changed {
        ruleset: Option<Loaded>,
        zones: usize,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Runner(#[from] RunError),
    #[error("cannot write the zone to {path}: {source}")]
    ZoneDir {
        path: String,
        source: std::io::Error,
    },
    #[error("state directory {path}: {source}")]
    State {
        path: String,
        source: std::io::Error,
    },
    #[error("reload command `{command}` failed: {detail}")]
    Reload { command: String, detail: String },
}

const RULESET_FILE: &str = "ruleset";
/// Which svcc applied the ruleset: another version loads the next one whole.
const VERSION_FILE: &str = "version";
const VERSION: &str = concat!("svcc ", env!("CARGO_PKG_VERSION"), "\n");
const PLAN_FILE: &str = "plan.json";
/// The input's fingerprint, then one `sha256 path` line per zone file written.
const INPUT_FILE: &str = "input";

/// Holds the state directory's lock for the life of the value.
pub struct Lock {
    _file: std::fs::File,
}

/// Takes the exclusive lock of a state directory, waiting for another run to finish.
pub fn lock(state_dir: &Path) -> Result<Lock, ApplyError> {
    let state = |source| ApplyError::State {
        path: state_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(state)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("lock"))
        .map_err(state)?;
    file.lock().map_err(state)?;
    Ok(Lock { _file: file })
}

/// What was last applied (empty when nothing was).
pub fn last_ruleset(state_dir: &Path) -> Vec<u8> {
    std::fs::read(state_dir.join(RULESET_FILE)).unwrap_or_default()
}

pub fn last_plan(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(state_dir.join(PLAN_FILE)).ok()
}

/// Why a changed ruleset must be loaded whole rather than handed to [`Runner::change`] as a
/// change of `old` (the last applied ruleset): nothing applied yet, `--force`, or a state
/// written by another version of svcc. `None`: the runner may send a delta.
pub fn whole_load_reason(state_dir: &Path, force: bool, old: &[u8]) -> Option<&'static str> {
    if old.is_empty() {
        Some("nothing applied yet")
    } else if force {
        Some("--force")
    } else if std::fs::read_to_string(state_dir.join(VERSION_FILE)).is_ok_and(|v| v == VERSION) {
        None
    } else {
        Some("the last ruleset was applied by another version of svcc")
    }
}

/// Applies a request. The caller holds the lock.
pub fn apply(req: &Request, runner: &mut dyn Runner) -> Result<Applied, ApplyError> {
    // Read once: at 10,000 Services it is 28 MB, compared here and diffed by the runner.
    let old = last_ruleset(&req.state_dir);
    let ruleset_changed = req.force || old != req.ruleset;
    let changed_zones: Vec<&(PathBuf, String)> = req
        .zones
        .iter()
        .filter(|(path, text)| {
            req.force || std::fs::read(path).ok().as_deref() != Some(text.as_bytes())
        })
        .collect();
    if !ruleset_changed && changed_zones.is_empty() {
        save_input(&req.state_dir, req)?;
        return Ok(Applied::NoChange);
    }
    for (path, _) in &changed_zones {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fsutil::check_writable(dir).map_err(|source| ApplyError::ZoneDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let loaded = if ruleset_changed {
        let whole = whole_load_reason(&req.state_dir, req.force, &old).is_some();
        Some(crate::timing::stage("ruleset into the kernel", || {
            if whole {
                runner.load(&req.ruleset)
            } else {
                runner.change(&old, &req.ruleset)
            }
        })?)
    } else {
        None
    };
    for (path, text) in &changed_zones {
        fsutil::write_atomic(path, text.as_bytes()).map_err(|source| ApplyError::ZoneDir {
            path: path.display().to_string(),
            source,
        })?;
    }
    if let Some(cmd) = &req.reload_cmd {
        run_reload(cmd)?;
    }
    save_ruleset(&req.state_dir, &req.ruleset)?;
    save_input(&req.state_dir, req)?;
    Ok(Applied::Changed {
        ruleset: loaded,
        zones: changed_zones.len(),
    })
}

fn save_ruleset(state_dir: &Path, ruleset: &[u8]) -> Result<(), ApplyError> {
    let state = |source| ApplyError::State {
        path: state_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(state)?;
    fsutil::write_atomic(&state_dir.join(RULESET_FILE), ruleset).map_err(state)?;
    fsutil::write_atomic(&state_dir.join(VERSION_FILE), VERSION.as_bytes()).map_err(state)
}

/// Keeps the plan (as JSON) that the applied state was compiled from, for `--dry-run`'s
/// comparison. Saved apart from [`apply`], so that the caller can serialize a large plan
/// while the kernel loads the ruleset; the caller holds the lock.
pub fn save_plan(state_dir: &Path, plan_json: &str) -> Result<(), ApplyError> {
    fsutil::write_atomic(&state_dir.join(PLAN_FILE), plan_json.as_bytes()).map_err(|source| {
        ApplyError::State {
            path: state_dir.display().to_string(),
            source,
        }
    })
}

/// Records what the applied state was compiled from, and the zone files it wrote; without a
/// fingerprint, forgets any earlier one.
fn save_input(state_dir: &Path, req: &Request) -> Result<(), ApplyError> {
    let state = |source| ApplyError::State {
        path: state_dir.display().to_string(),
        source,
    };
    let path = state_dir.join(INPUT_FILE);
    let Some(fingerprint) = &req.input else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(state(e)),
            _ => Ok(()),
        };
    };
    let mut text = format!("{fingerprint}\n");
    for (zone, content) in &req.zones {
        text.push_str(&format!(
            "{} {}\n",
            hex(&sha256(content.as_bytes())),
            zone.display()
        ));
    }
    fsutil::write_atomic(&path, text.as_bytes()).map_err(state)
}

/// Whether the last apply was compiled from an input with this fingerprint, and every zone
/// file it wrote is still as written: then compiling again would change nothing.
pub fn unchanged(state_dir: &Path, fingerprint: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(state_dir.join(INPUT_FILE)) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(fingerprint) || !state_dir.join(RULESET_FILE).is_file() {
        return false;
    }
    lines.all(|line| {
        line.split_once(' ').is_some_and(|(digest, zone)| {
            std::fs::read(zone).is_ok_and(|bytes| hex(&sha256(&bytes)) == digest)
        })
    })
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Removes svcc's tables (the runner applies `removal`) and forgets the state.
pub fn remove(state_dir: &Path, removal: &[u8], runner: &mut dyn Runner) -> Result<(), ApplyError> {
    runner.apply(removal)?;
    for f in [RULESET_FILE, VERSION_FILE, PLAN_FILE, INPUT_FILE] {
        match std::fs::remove_file(state_dir.join(f)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ApplyError::State {
                    path: state_dir.display().to_string(),
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

fn run_reload(cmd: &str) -> Result<(), ApplyError> {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| ApplyError::Reload {
            command: cmd.to_owned(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ApplyError::Reload {
            command: cmd.to_owned(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// What changes from `old` to `new`, as the hunks of a unified diff (`@@ -l,n +l,n @@`, three
/// lines of context, `-` old, `+` new) without file headers: the caller names the texts.
/// Empty when they are equal. A diff that takes longer than a second is coarser, never wrong.
pub fn line_diff(old: &str, new: &str) -> String {
    similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::runner::FakeRunner;
    use super::*;

    fn request(dir: &Path, ruleset: &str, zone: &str) -> Request {
        Request {
            ruleset: ruleset.as_bytes().to_vec(),
            zones: vec![(dir.join("zones/db.cluster.local"), zone.to_owned())],
            state_dir: dir.join("state"),
            reload_cmd: None,
            force: false,
            input: Some("fingerprint-1".to_owned()),
        }
    }

    #[test]
    fn the_fingerprint_holds_only_while_the_zones_are_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path(), "ruleset A\n", "zone A\n");
        std::fs::create_dir_all(dir.path().join("zones")).unwrap();
        assert!(!unchanged(&req.state_dir, "fingerprint-1"));
        let mut runner = FakeRunner::default();
        apply(&req, &mut runner).unwrap();
        assert!(unchanged(&req.state_dir, "fingerprint-1"));
        assert!(!unchanged(&req.state_dir, "fingerprint-2"));
        // A zone file changed behind svcc's back: the input must be compiled again.
        std::fs::write(&req.zones[0].0, "edited\n").unwrap();
        assert!(!unchanged(&req.state_dir, "fingerprint-1"));
        // Applying again restores it and records the fingerprint again.
        apply(&req, &mut runner).unwrap();
        assert!(unchanged(&req.state_dir, "fingerprint-1"));
        // A request without a fingerprint forgets the old one.
        let stdin = Request {
            input: None,
            ..req.clone()
        };
        apply(&stdin, &mut runner).unwrap();
        assert!(!unchanged(&req.state_dir, "fingerprint-1"));
    }

    #[test]
    fn applies_then_does_nothing_when_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        let req = request(dir.path(), "ruleset A\n", "zone A\n");
        let _lock = lock(&req.state_dir).unwrap();
        let mut fake = FakeRunner::default();
        assert_eq!(
            apply(&req, &mut fake).unwrap(),
            Applied::Changed {
                ruleset: Some(Loaded::Whole { why: None }),
                zones: 1
            }
        );
        assert_eq!(
            fake.calls,
            ["check", "apply"],
            "a first apply is a whole load"
        );
        let mut fake = FakeRunner::default();
        assert_eq!(apply(&req, &mut fake).unwrap(), Applied::NoChange);
        assert!(
            fake.calls.is_empty(),
            "no runner call at all when nothing changed"
        );
        // Only the zone changed: no runner call, the zone is rewritten.
        let req2 = request(dir.path(), "ruleset A\n", "zone B\n");
        let mut fake = FakeRunner::default();
        assert_eq!(
            apply(&req2, &mut fake).unwrap(),
            Applied::Changed {
                ruleset: None,
                zones: 1
            }
        );
        assert!(fake.calls.is_empty());
        assert_eq!(
            std::fs::read_to_string(&req2.zones[0].0).unwrap(),
            "zone B\n"
        );
    }

    #[test]
    fn a_change_is_a_delta_unless_forced_or_from_another_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        apply(
            &request(dir.path(), "A\n", "z\n"),
            &mut FakeRunner::default(),
        )
        .unwrap();
        let mut fake = FakeRunner::default();
        let changed = apply(&request(dir.path(), "B\n", "z\n"), &mut fake).unwrap();
        assert_eq!(fake.calls, ["change", "check", "apply"]);
        assert!(matches!(
            changed,
            Applied::Changed {
                ruleset: Some(Loaded::Delta { .. }),
                ..
            }
        ));
        let forced = Request {
            force: true,
            ..request(dir.path(), "C\n", "z\n")
        };
        let mut fake = FakeRunner::default();
        apply(&forced, &mut fake).unwrap();
        assert_eq!(fake.calls, ["check", "apply"], "--force loads whole");
        std::fs::write(dir.path().join("state/version"), "svcc 0.0.1\n").unwrap();
        let mut fake = FakeRunner::default();
        apply(&request(dir.path(), "D\n", "z\n"), &mut fake).unwrap();
        assert_eq!(
            fake.calls,
            ["check", "apply"],
            "another version loads whole"
        );
        let mut fake = FakeRunner::default();
        apply(&request(dir.path(), "E\n", "z\n"), &mut fake).unwrap();
        assert_eq!(fake.calls[0], "change", "and records this version");
    }

    #[test]
    fn a_refused_ruleset_leaves_zone_and_state_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        let old = request(dir.path(), "ruleset A\n", "zone A\n");
        apply(&old, &mut FakeRunner::default()).unwrap();
        let new = request(dir.path(), "ruleset B\n", "zone B\n");
        let mut fake = FakeRunner {
            refuse_check: Some("Error: syntax error".to_owned()),
            ..FakeRunner::default()
        };
        let err = apply(&new, &mut fake).unwrap_err();
        assert!(err.to_string().contains("syntax error"));
        assert_eq!(fake.calls, ["change", "check"], "never applied");
        assert_eq!(
            std::fs::read_to_string(&new.zones[0].0).unwrap(),
            "zone A\n"
        );
        assert_eq!(last_ruleset(&new.state_dir), b"ruleset A\n");
    }

    #[test]
    fn an_unwritable_zone_directory_stops_everything() {
        let dir = tempfile::tempdir().unwrap();
        let req = Request {
            zones: vec![(dir.path().join("missing/dir/db.cluster.local"), "z".into())],
            ..request(dir.path(), "r\n", "z")
        };
        let mut fake = FakeRunner::default();
        assert!(matches!(
            apply(&req, &mut fake),
            Err(ApplyError::ZoneDir { .. })
        ));
        assert!(fake.calls.is_empty(), "checked before anything changed");
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }

    #[test]
    fn diffs_are_unified_hunks() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nb\nc\n"), "");
        assert_eq!(
            line_diff("a\nb\nc\n", "a\nc\nd\n"),
            "@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n"
        );
        // Nothing before: every line is new.
        assert_eq!(line_diff("", "x\ny\n"), "@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(line_diff("x\n", ""), "@@ -1 +0,0 @@\n-x\n");
        // Far-apart changes are separate hunks with three lines of context.
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l2\n", "two\n").replace("l19\n", "nineteen\n");
        assert_eq!(
            line_diff(&old, &new),
            "@@ -1,5 +1,5 @@\n l1\n-l2\n+two\n l3\n l4\n l5\n\
             @@ -16,5 +16,5 @@\n l16\n l17\n l18\n-l19\n+nineteen\n l20\n"
        );
        // A missing final newline is said, not hidden.
        assert_eq!(
            line_diff("a\n", "a"),
            "@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n"
        );
    }
}

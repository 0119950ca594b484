//! Writing files so that a crash leaves the old or the new content, never a mix: a temporary
//! file in the same directory, fsync, rename over the target, fsync the directory.

use std::io::Write;
use std::path::Path;

/// In the name of a temporary that [`write_atomic`] writes beside its target.
const TEMPORARY_MARK: &str = ".svcc-tmp-";
/// Start of the name of the file [`check_writable`] creates and removes.
const PROBE_PREFIX: &str = ".svcc-probe-";

/// Whether a file name is one of the short-lived files this module makes (for `--watch`,
/// which must not take svcc's own writes for a change of the input).
pub fn is_scratch_file(name: &str) -> bool {
    name.starts_with(PROBE_PREFIX) || name.contains(TEMPORARY_MARK)
}

pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Bounded, so that a name near the 255-octet limit (a zone file of a long cluster domain)
    // still has a temporary beside it.
    let stem: String = name.chars().take(200).collect();
    let tmp = dir.join(format!(".{stem}{TEMPORARY_MARK}{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Fails unless a file can be created in `dir` (checked before anything is changed).
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!("{PROBE_PREFIX}{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_files_are_recognised_by_name() {
        let tmp = format!(".db.cluster.local{TEMPORARY_MARK}42");
        for (name, scratch) in [
            (tmp.as_str(), true),
            (".svcc-probe-42", true),
            ("db.cluster.local", false),
            ("svcc-tmp.yaml", false),
        ] {
            assert_eq!(is_scratch_file(name), scratch, "{name}");
        }
    }

    #[test]
    fn writes_atomically_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.cluster.local");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        check_writable(dir.path()).unwrap();
    }

    #[test]
    fn a_name_near_the_limit_has_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("db.{}", "a".repeat(240)));
        write_atomic(&p, b"zone").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"zone");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

//! Hostile input at scale (issue #8): a million tiny documents, a million documents that are
//! not objects (a million errors), a single 100 MB document and a million empty documents.
//! Each must finish within 5 s with a peak resident set under 1 GiB, with the right exit
//! code and findings.
//!
//! These run the release binary, as users do: the debug build is an order of magnitude
//! slower, so its times would say nothing. `scripts/test` builds it and names it in
//! `SVCC_RELEASE_BIN`; without that variable the test builds it with cargo. nextest runs this
//! binary alone (`.config/nextest.toml`), so other tests do not share its two cores.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(5);
const MAX_RSS_KB: u64 = 1024 * 1024;

fn release_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SVCC_RELEASE_BIN") {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "SVCC_RELEASE_BIN={} is not a file",
                bin.display()
            );
            return bin;
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--locked", "--bin", "svcc"])
            .current_dir(root)
            .status()
            .expect("run cargo build --release");
        assert!(status.success(), "cargo build --release failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| Path::new(root).join("target"), PathBuf::from);
        target.join("release/svcc")
    })
}

struct Run {
    code: Option<i32>,
    wall: Duration,
    peak_rss_kb: u64,
    stdout: String,
    stderr: String,
}

/// Peak resident set so far (`VmHWM`) of a running process.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the release binary on `file`, output to files, sampling its peak RSS until it exits.
/// Killed (and the test failed) past twice the deadline, so a hang cannot stall CI.
fn run(dir: &Path, args: &[&str], file: &Path) -> Run {
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let start = Instant::now();
    let mut child = Command::new(release_binary())
        .args(args)
        .arg(file)
        .env("RAYON_NUM_THREADS", "2")
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn svcc");
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE * 2 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "svcc {args:?} {} ran over {:?}",
                file.display(),
                DEADLINE * 2
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    Run {
        code: status.code(),
        wall,
        peak_rss_kb: peak,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

fn write(dir: &Path, name: &str, fill: impl FnOnce(&mut dyn Write)) -> PathBuf {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
    fill(&mut out);
    out.flush().expect("write input");
    path
}

fn assert_bounded(what: &str, r: &Run) {
    eprintln!(
        "{what}: exit {:?}, {:.2} s, peak RSS {} MB",
        r.code,
        r.wall.as_secs_f64(),
        r.peak_rss_kb / 1024
    );
    assert!(r.wall <= DEADLINE, "{what}: took {:?}", r.wall);
    assert!(
        r.peak_rss_kb > 0 && r.peak_rss_kb <= MAX_RSS_KB,
        "{what}: peak RSS {} KB",
        r.peak_rss_kb
    );
    assert!(
        !r.stderr.contains("panicked"),
        "{what}: panic\n{}",
        r.stderr
    );
}

#[test]
fn a_million_tiny_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "configmaps.yaml", |out| {
        for i in 0..1_000_000 {
            write!(
                out,
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i:07}\n"
            )
            .expect("write");
        }
    });
    let r = run(dir.path(), &["check"], &file);
    assert_bounded("1,000,000 ConfigMaps", &r);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("1000000 objects"), "{}", r.stdout);
}

#[test]
fn a_million_documents_that_are_not_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "not-objects.yaml", |out| {
        for i in 0..1_000_000 {
            write!(out, "---\nname: c{i:07}\n").expect("write");
        }
    });
    // Every finding listed.
    let r = run(dir.path(), &["check", "--format", "short"], &file);
    assert_bounded("1,000,000 non-objects (short)", &r);
    assert_eq!(r.code, Some(1));
    let listed = r
        .stdout
        .lines()
        .filter(|l| l.contains("missing-type-meta"))
        .count();
    assert_eq!(listed, 1_000_000);
    assert!(
        r.stdout.contains(":2:1: error[missing-type-meta]"),
        "{}",
        &r.stdout[..r.stdout.len().min(500)]
    );
    // The default format draws the first thousand and counts the rest.
    let r = run(dir.path(), &["check"], &file);
    assert_bounded("1,000,000 non-objects (human)", &r);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stdout.contains("and 999000 more findings"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1000000 errors"), "{}", r.stdout);
}

#[test]
fn a_single_100_mb_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "big.yaml", |out| {
        write!(
            out,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n"
        )
        .expect("write");
        let value = "x".repeat(80);
        for i in 0..1_100_000 {
            writeln!(out, "  key-{i:07}: {value}").expect("write");
        }
    });
    let size = std::fs::metadata(&file).expect("metadata").len();
    assert!(size >= 100_000_000, "{size} bytes");
    let r = run(dir.path(), &["check", "--format", "short"], &file);
    assert_bounded("one 100 MB document", &r);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn a_million_empty_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "markers.yaml", |out| {
        for _ in 0..1_000_000 {
            out.write_all(b"---\n").expect("write");
        }
    });
    let r = run(dir.path(), &["check", "--format", "short"], &file);
    assert_bounded("1,000,000 document markers", &r);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // One more than the default limit is refused with the limit's finding.
    let file = write(dir.path(), "over.yaml", |out| {
        for _ in 0..1_000_001 {
            out.write_all(b"---\n").expect("write");
        }
        out.write_all(b"kind: Service\n").expect("write");
    });
    let r = run(dir.path(), &["check", "--format", "short"], &file);
    assert_bounded("1,000,001 documents", &r);
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("error[input-limit]"), "{}", r.stderr);
}

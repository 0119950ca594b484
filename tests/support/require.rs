//! What a test needs from the machine (programs, root), and what happens when it is missing.
//!
//! A test that needs a program such as `nft` or `named`, or root, calls [`require`] before it
//! does anything else:
//!
//! ```ignore
//! let Ok(()) = support::require(&["nft", "ip"], Need::Root) else { return };
//! ```
//!
//! When everything is there it returns `Ok(())` and the test runs. When something is missing
//! the test FAILS, with a message that names what is missing, the Debian package that provides
//! it and how to install it. Only the person running the tests can turn that failure into a
//! skip, with `SVCC_ALLOW_SKIP=1`: then [`require`] returns `Err(Skip)`, the test returns at
//! once, and the skip is recorded as a file `<crate>::<test>` holding the reason in the skip
//! directory (`$SVCC_SKIP_DIR`, else `target/svcc-skips/`). `scripts/test` empties that
//! directory before the run and reports every skip after it, so a skip is never a silent pass.
//! Nothing here looks at `CI`: a missing program fails the test wherever it runs.
//!
//! A test whose other checks do not need the program (a graph that `dot` should also accept)
//! may do them first and require the program only for its last step; a skip then means that
//! step did not run, and is counted the same way.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Every program a test may require, with the Debian package that provides it. `.ci/run`
/// installs each of these packages (`tests/prerequisites.rs` checks that it does).
pub const PACKAGES: &[(&str, &str)] = &[
    ("nft", "nftables"),
    ("ip", "iproute2"),
    ("iptables", "iptables"),
    ("iptables-save", "iptables"),
    ("iptables-restore", "iptables"),
    ("ip6tables", "iptables"),
    ("ip6tables-save", "iptables"),
    ("ip6tables-restore", "iptables"),
    ("named", "bind9"),
    ("named-checkzone", "bind9-utils"),
    ("dig", "bind9-dnsutils"),
    ("kzonecheck", "knot-dnssecutils"),
    ("dot", "graphviz"),
    ("python3", "python3"),
    ("prlimit", "util-linux"),
    ("setpriv", "util-linux"),
    ("git", "git"),
];

/// The environment variable that turns a missing prerequisite from a failure into a skip.
pub const ALLOW_SKIP: &str = "SVCC_ALLOW_SKIP";
/// The environment variable naming the directory where skips are recorded.
pub const SKIP_DIR: &str = "SVCC_SKIP_DIR";

/// Whether the test also needs root (network namespaces, loading rulesets, `named -u root`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The programs are enough.
    Tools,
    /// The programs, and an effective user id of 0.
    Root,
}

/// The test cannot run here and skipping was allowed: the skip has been recorded, and the
/// test must return now. Only this module makes one.
#[derive(Debug)]
#[must_use = "a skipped test must return"]
pub struct Skip(());

/// `Ok(())` when every program of `tools` is on `PATH` (and, for [`Need::Root`], the process is
/// root). Otherwise the test fails, unless `SVCC_ALLOW_SKIP=1`, when the skip is recorded and
/// `Err(Skip)` returned.
///
/// A program not in [`PACKAGES`] is a mistake in the test, and panics whatever the settings.
pub fn require(tools: &[&str], need: Need) -> Result<(), Skip> {
    let mut missing = Vec::new();
    let mut packages: Vec<&str> = Vec::new();
    for &tool in tools {
        let package = package_of(tool);
        if find_on_path(tool).is_none() {
            missing.push(format!("`{tool}` (Debian package {package})"));
            if !packages.contains(&package) {
                packages.push(package);
            }
        }
    }
    let euid = effective_uid();
    let not_root = need == Need::Root && euid != Some(0);
    if not_root {
        let uid = euid.map_or_else(|| "an unknown uid".to_owned(), |u| format!("uid {u}"));
        missing.push(format!("root (this process runs as {uid})"));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut how = Vec::new();
    if !packages.is_empty() {
        how.push(format!(
            "`apt-get install {}` (`bash .ci/run` installs every package the tests use)",
            packages.join(" ")
        ));
    }
    if not_root {
        how.push("run the tests as root".to_owned());
    }
    Err(fail_or_skip(
        &format!("needs {}", missing.join(", ")),
        &format!("To run it: {}. ", how.join(", then ")),
    ))
}

/// The test cannot run here, for `why` (a prerequisite [`require`] cannot see, such as a
/// kernel that refuses network namespaces; `why` reads after "it", e.g. "needs …"): fails the
/// test, or records the skip when `SVCC_ALLOW_SKIP=1` and returns the marker the test returns
/// on.
pub fn cannot_run(why: &str) -> Skip {
    fail_or_skip(why, "")
}

/// Panics with `why` and `how` (how to get what is missing), unless skipping is allowed:
/// then records `why` as the test's skip.
fn fail_or_skip(why: &str, how: &str) -> Skip {
    let test = test_name();
    if !skipping_allowed() {
        panic!(
            "{test} cannot run here: it {why}. {how}Or set {ALLOW_SKIP}=1 to skip such tests \
             (scripts/test counts and lists every skip)."
        );
    }
    let dir = skip_dir();
    let recorded = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(&test), format!("{why}\n")));
    if let Err(e) = recorded {
        panic!(
            "{test}: cannot record its skip in {}: {e} (it {why})",
            dir.display()
        );
    }
    // Straight to the process's stderr: the test harness swallows `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: it {why}");
    Skip(())
}

/// Whether the person running the tests allowed skipping (`SVCC_ALLOW_SKIP=1`, nothing else).
pub fn skipping_allowed() -> bool {
    std::env::var_os(ALLOW_SKIP).is_some_and(|v| v == "1")
}

/// Where skips are recorded: `$SVCC_SKIP_DIR`, else `svcc-skips/` in the target directory.
pub fn skip_dir() -> PathBuf {
    match std::env::var_os(SKIP_DIR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory holds CARGO_TARGET_TMPDIR")
            .join("svcc-skips"),
    }
}

/// `<crate>::<test>`: the test harness runs each test on a thread named after it.
pub fn test_name() -> String {
    let crate_name = env!("CARGO_CRATE_NAME");
    match std::thread::current().name() {
        Some(name) if name != "main" => format!("{crate_name}::{name}"),
        _ => format!("{crate_name}::unnamed-test-{}", std::process::id()),
    }
}

/// The Debian package of `tool`; panics for a program the table does not list.
pub fn package_of(tool: &str) -> &'static str {
    PACKAGES
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not in PACKAGES (tests/support/require.rs): add it with its Debian \
                 package, and add the package to .ci/run"
            )
        })
}

/// The file `Command::new(tool)` would run: the first executable `tool` on `PATH`.
pub fn find_on_path(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The effective user id, from `/proc/self/status` (`Uid: real effective saved fs`).
pub fn effective_uid() -> Option<u32> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A command that runs one test of this test binary again in a child process (`--exact
/// TEST`), after the programs of `prefix` (such as `setpriv …`), recording its skips in
/// `skip_dir` and starting with skipping not allowed, whatever this process has. The tests
/// that prove the policy on a real test use it.
pub fn rerun(prefix: &[&str], test: &str, skip_dir: &Path) -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match prefix.split_first() {
        Some((program, args)) => {
            let mut cmd = std::process::Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => std::process::Command::new(exe),
    };
    cmd.args(["--exact", test, "--nocapture"])
        .env(SKIP_DIR, skip_dir)
        .env_remove(ALLOW_SKIP)
        .stdin(std::process::Stdio::null());
    cmd
}

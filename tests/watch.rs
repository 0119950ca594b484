//! `svcc apply --watch` (inotify): which changes of the input make an apply, that a burst makes
//! one, and that svcc's own writes make none. Each test runs `svcc apply --watch` as a child
//! process with a fake `nft` on PATH (a shell script that logs its calls), reads its stderr
//! (one "input changed" line per apply after the first), and kills it when the test ends, on
//! failure too. Every wait is bounded.

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a change may take to be applied before the test fails: generous, as it only
/// bounds a failing test (a first run of these tests beside a release build on two loaded
/// cores once took more than 10 s for the first apply).
const DEADLINE: Duration = Duration::from_secs(30);
/// How long to wait to be sure that nothing happens: longer than svcc's longest burst (1 s)
/// plus an apply with the fake `nft`.
const NOTHING: Duration = Duration::from_millis(2500);

/// A Service `name` at `cluster_ip` with one endpoint.
fn service(name: &str, cluster_ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  clusterIP: {cluster_ip}\n  ports: [{{port: 80}}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {{name: {name}}}\nsubsets: [{{addresses: [{{ip: 10.244.0.5}}], ports: [{{port: 80}}]}}]\n"
    )
}

/// A scratch node: the input directory `in/` (with `in/web.yaml`), a fake `nft` in `bin/`,
/// and the zone file, where the applied Services can be read.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let node = Node {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        for d in ["bin", "zones", "in"] {
            std::fs::create_dir(node.path(d)).expect("mkdir");
        }
        node.write("in/web.yaml", &service("web", "10.96.0.80"));
        // Logs each call; while the file `bin/slow` exists, a load (`-f`) takes a second.
        let script = format!(
            "#!/bin/sh\ncat > /dev/null\necho \"$*\" >> {log}\nif [ \"$1\" = -f ] && [ -e {slow} ]; then sleep 1; fi\n",
            log = node.path("nft.log").display(),
            slow = node.path("bin/slow").display()
        );
        node.write("bin/nft", &script);
        std::fs::set_permissions(node.path("bin/nft"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        node
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn write(&self, p: &str, text: &str) {
        std::fs::write(self.path(p), text).unwrap_or_else(|e| panic!("write {p}: {e}"));
    }

    /// Starts `svcc apply --watch` on `input` (relative to the node), with the state directory
    /// and zone file given, and waits until its first apply is done.
    fn watch(&self, input: &str, state: &str, zone: &str, extra: &[&str]) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_svcc"))
            .arg("apply")
            .arg(self.path(input))
            .args(["--node", "n1", "--watch"])
            .arg("--state-dir")
            .arg(self.path(state))
            .arg("--zone-file")
            .arg(self.path(zone))
            .args(extra)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start svcc apply --watch");
        let pipe = child.stderr.take().expect("stderr is piped");
        let watcher = Watcher {
            child: Mutex::new(child),
            lines: Arc::new(Mutex::new(Vec::new())),
            zone: self.path(zone),
            nft_log: self.path("nft.log"),
        };
        let sink = watcher.lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        watcher.wait_for("svcc apply: applied", 1);
        watcher
    }
}

/// A running `svcc apply --watch`, killed when dropped.
struct Watcher {
    child: Mutex<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    zone: PathBuf,
    nft_log: PathBuf,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Watcher {
    fn log(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    fn count(&self, needle: &str) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// Applies after the first (one per burst that counted).
    fn reapplies(&self) -> usize {
        self.count("svcc apply: input changed")
    }

    /// Rulesets loaded by the fake `nft` (`-f -`, not the `-c` checks).
    fn loads(&self) -> usize {
        std::fs::read_to_string(&self.nft_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("-f"))
            .count()
    }

    fn zone(&self) -> String {
        std::fs::read_to_string(&self.zone).unwrap_or_default()
    }

    /// Waits (bounded) until `needle` was logged `count` times.
    fn wait_for(&self, needle: &str, count: usize) {
        self.wait_until(&format!("{count} × {needle:?}"), || {
            self.count(needle) >= count
        });
    }

    /// Waits (bounded) until `done`; fails with svcc's stderr otherwise.
    fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done() {
            if let Ok(Some(status)) = self.child.lock().expect("child").try_wait() {
                panic!("svcc exited ({status}) waiting for {what}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that, for [`NOTHING`], no apply starts beyond `reapplies`.
    fn stays_at(&self, reapplies: usize) {
        std::thread::sleep(NOTHING);
        assert_eq!(self.reapplies(), reapplies, "{}", self.log());
    }
}

#[test]
fn a_burst_of_five_writes_applies_once() {
    let node = Node::new();
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    assert_eq!(w.loads(), 1, "{}", w.log());
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        node.write(
            &format!("in/{name}.yaml"),
            &service(name, &format!("10.96.0.{}", 10 + i)),
        );
    }
    w.wait_until("the five Services in the zone", || {
        w.zone().contains("e.default.svc.cluster.local.")
    });
    w.stays_at(1);
    assert_eq!(w.loads(), 2, "one ruleset load for the burst: {}", w.log());
    for name in ["a", "b", "c", "d"] {
        assert!(
            w.zone()
                .contains(&format!("{name}.default.svc.cluster.local.")),
            "{}",
            w.zone()
        );
    }
    // The log line says how long the burst took to settle.
    assert!(w.log().contains("; settled in 0."), "{}", w.log());
}

#[test]
fn a_change_during_an_apply_makes_one_more_apply_after_it() {
    let node = Node::new();
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    node.write("bin/slow", "");
    node.write("in/web.yaml", &service("web", "10.96.0.91"));
    w.wait_until("the second load to start", || w.loads() == 2);
    // nft is loading the first change: this one waits for it.
    node.write("in/web.yaml", &service("web", "10.96.0.92"));
    w.wait_until("10.96.0.92 in the zone", || w.zone().contains("10.96.0.92"));
    w.stays_at(2);
    assert_eq!(w.loads(), 3, "{}", w.log());
}

#[test]
fn a_save_by_rename_is_seen_in_a_directory_and_for_a_file_given() {
    let node = Node::new();
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    // An editor's save: a temporary beside the file, renamed over it.
    node.write("in/.web.yaml.swp", &service("web", "10.96.0.81"));
    std::fs::rename(node.path("in/.web.yaml.swp"), node.path("in/web.yaml")).expect("rename");
    w.wait_until("10.96.0.81 in the zone", || w.zone().contains("10.96.0.81"));
    w.stays_at(1);
    drop(w);

    // A file named on the command line is watched through its directory: the rename replaces
    // its inode, and later saves are seen too.
    let w = node.watch("in/web.yaml", "state2", "zones/db.other", &[]);
    for (n, ip) in ["10.96.0.82", "10.96.0.83"].iter().enumerate() {
        node.write("in/web.yaml.tmp", &service("web", ip));
        std::fs::rename(node.path("in/web.yaml.tmp"), node.path("in/web.yaml")).expect("rename");
        w.wait_until(&format!("{ip} in the zone"), || w.zone().contains(ip));
        assert_eq!(w.reapplies(), n + 1, "{}", w.log());
    }
    // Another file of the directory is no input of this run.
    node.write("in/other.yaml", &service("other", "10.96.0.90"));
    w.stays_at(2);
}

#[test]
fn new_files_and_directories_in_a_watched_directory_are_seen() {
    let node = Node::new();
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    node.write("in/api.yaml", &service("api", "10.96.0.20"));
    w.wait_until("api in the zone", || {
        w.zone().contains("api.default.svc.cluster.local.")
    });
    // A new subdirectory, and a file written into it right away.
    std::fs::create_dir(node.path("in/team")).expect("mkdir");
    node.write("in/team/db.yaml", &service("db", "10.96.0.21"));
    w.wait_until("db in the zone", || {
        w.zone().contains("db.default.svc.cluster.local.")
    });
    // The new subdirectory is watched: a later change there is seen.
    node.write("in/team/db.yaml", &service("db", "10.96.0.22"));
    w.wait_until("10.96.0.22 in the zone", || w.zone().contains("10.96.0.22"));
    // A whole directory of manifests moved in.
    std::fs::create_dir(node.path("elsewhere")).expect("mkdir");
    node.write("elsewhere/cache.yaml", &service("cache", "10.96.0.23"));
    std::fs::rename(node.path("elsewhere"), node.path("in/moved")).expect("rename");
    w.wait_until("cache in the zone", || {
        w.zone().contains("cache.default.svc.cluster.local.")
    });
    let applied = w.reapplies();
    w.stays_at(applied);
}

#[test]
fn files_that_are_not_inputs_apply_nothing() {
    let node = Node::new();
    node.write("svcc.toml", "[files]\nexclude = [\"*.draft.yaml\"]\n");
    let config = node.path("svcc.toml");
    let config = config.to_str().expect("UTF-8 path");
    let w = node.watch(
        "in",
        "state",
        "zones/db.cluster.local",
        &["--config", config],
    );
    node.write("in/README.md", "# notes\n");
    node.write("in/notes.txt", "x\n");
    node.write("in/next.draft.yaml", &service("draft", "10.96.0.30")); // excluded by [files]
    node.write("in/.hidden.yaml", &service("hidden", "10.96.0.31"));
    std::fs::create_dir(node.path("in/node_modules")).expect("mkdir");
    node.write("in/node_modules/x.yaml", &service("vendored", "10.96.0.32"));
    std::fs::remove_file(node.path("in/notes.txt")).expect("rm");
    // Reading the inputs is no change either.
    let _ = std::fs::read(node.path("in/web.yaml"));
    w.stays_at(0);
    assert_eq!(w.loads(), 1, "{}", w.log());
    assert!(!w.zone().contains("draft."), "{}", w.zone());
    // The watch is alive: a change of an input is seen, once.
    node.write("in/web.yaml", &service("web", "10.96.0.84"));
    w.wait_until("10.96.0.84 in the zone", || w.zone().contains("10.96.0.84"));
    w.stays_at(1);
}

#[test]
fn a_state_directory_inside_the_watched_directory_does_not_loop() {
    let node = Node::new();
    std::fs::create_dir(node.path("in/zones")).expect("mkdir");
    let w = node.watch("in", "in/state", "in/zones/db.cluster.local", &[]);
    // The first apply wrote the state and the zone under the watched directory.
    assert!(node.path("in/state/plan.json").is_file());
    w.stays_at(0);
    node.write("in/web.yaml", &service("web", "10.96.0.85"));
    w.wait_until("10.96.0.85 in the zone", || w.zone().contains("10.96.0.85"));
    w.stays_at(1);
    // --force rewrites the state on every apply: still no loop.
    drop(w);
    let w = node.watch("in", "in/state", "in/zones/db.cluster.local", &["--force"]);
    w.stays_at(0);
}

#[test]
fn a_directory_removed_and_created_again_is_watched_again() {
    let node = Node::new();
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    std::fs::remove_dir_all(node.path("in")).expect("rm -r");
    // Without its input nothing is applied: the last applied state stays.
    w.wait_for("svcc apply: input changed", 1);
    assert_eq!(w.loads(), 1, "{}", w.log());
    std::fs::create_dir(node.path("in")).expect("mkdir");
    node.write("in/web.yaml", &service("web", "10.96.0.86"));
    w.wait_until("10.96.0.86 in the zone", || w.zone().contains("10.96.0.86"));
    // The new directory is watched itself, not only seen by its parent.
    node.write("in/web.yaml", &service("web", "10.96.0.87"));
    w.wait_until("10.96.0.87 in the zone", || w.zone().contains("10.96.0.87"));
}

#[test]
fn a_configmap_volume_update_is_seen() {
    // kubelet's layout: each key is a link through `..data` to a timestamped directory; an
    // update writes a new directory, swaps `..data` by rename and removes the old directory.
    // The names the walk finds (`web.yaml`) are never touched.
    use std::os::unix::fs::symlink;
    let node = Node::new();
    std::fs::remove_file(node.path("in/web.yaml")).expect("rm");
    std::fs::create_dir(node.path("in/..2026_01")).expect("mkdir");
    node.write("in/..2026_01/web.yaml", &service("web", "10.96.0.80"));
    symlink("..2026_01", node.path("in/..data")).expect("ln");
    symlink("..data/web.yaml", node.path("in/web.yaml")).expect("ln");
    let w = node.watch("in", "state", "zones/db.cluster.local", &[]);
    std::fs::create_dir(node.path("in/..2026_02")).expect("mkdir");
    node.write("in/..2026_02/web.yaml", &service("web", "10.96.0.88"));
    symlink("..2026_02", node.path("in/..data_tmp")).expect("ln");
    std::fs::rename(node.path("in/..data_tmp"), node.path("in/..data")).expect("rename");
    std::fs::remove_dir_all(node.path("in/..2026_01")).expect("rm -r");
    w.wait_until("10.96.0.88 in the zone", || w.zone().contains("10.96.0.88"));
    w.stays_at(1);
}

#[test]
fn a_path_that_cannot_be_watched_is_an_error_exit_2() {
    let node = Node::new();
    let run = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .arg("apply")
            .arg(path)
            .args(["--watch", "--state-dir"])
            .arg(node.path("state"))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", node.path("bin").display()),
            )
            .stdin(Stdio::null())
            .output()
            .expect("run svcc")
    };
    let o = run(&node.path("missing"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("svcc: error: cannot watch"), "{err}");
    assert!(err.contains("missing"), "{err}");
    assert!(!node.path("nft.log").exists(), "nothing applied");
    let o = run(Path::new("-"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot watch standard input"), "{err}");
}

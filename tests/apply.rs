//! `svcc apply`: the failure behaviours a node runner must have. A fake `nft` on PATH (a shell
//! script that logs its calls and can refuse or stall) drives the failure cases; the real `nft`
//! in a network namespace made by the test drives the happy path (root, `nft` and `ip`, or it
//! fails unless `SVCC_ALLOW_SKIP=1`; see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::Need;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.96.0.80\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.244.0.5}], ports: [{port: 80}]}]\n";

/// A scratch node: inputs, zone directory, state directory and a fake `nft`.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let node = Node {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(node.path("bin")).unwrap();
        std::fs::create_dir(node.path("zones")).unwrap();
        std::fs::write(node.path("in.yaml"), SERVICE).unwrap();
        // Logs each call; FAKE_REFUSE makes every call fail (a ruleset the kernel refuses);
        // FAKE_SLEEP stalls `-f`.
        let script = format!(
            "#!/bin/sh\ncat > /dev/null\necho \"start $(date +%s.%N) $*\" >> {log}\nif [ -n \"$FAKE_REFUSE\" ]; then echo 'Error: Could not process rule: No such file or directory' >&2; exit 1; fi\nif [ \"$1\" = \"-f\" ] && [ -n \"$FAKE_SLEEP\" ]; then sleep \"$FAKE_SLEEP\"; fi\necho \"end $(date +%s.%N) $*\" >> {log}\n",
            log = node.path("nft.log").display()
        );
        let fake = node.path("bin/nft");
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        node
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self, extra: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_svcc"));
        cmd.arg("apply")
            .arg(self.path("in.yaml"))
            .args(["--node", "n1"])
            .arg("--state-dir")
            .arg(self.path("state"))
            .arg("--zone-file")
            .arg(self.path("zones/db.cluster.local"))
            .args(extra)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env_remove("FAKE_REFUSE")
            .env_remove("FAKE_SLEEP");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn apply(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(extra, env).output().expect("run svcc")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("nft.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("start"))
            .map(str::to_owned)
            .collect()
    }

    fn zone(&self) -> String {
        std::fs::read_to_string(self.path("zones/db.cluster.local")).unwrap_or_default()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn unchanged_input_makes_no_nft_call_at_all() {
    let node = Node::new();
    let o = node.apply(&[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A whole load is not tested first: the transaction is atomic (src/apply/nft/mod.rs).
    assert_eq!(node.calls().len(), 1, "one load: {:?}", node.calls());
    assert!(node.calls()[0].ends_with(" -f -") && !node.calls()[0].contains("-c"));
    assert!(
        stderr(&o).contains("svcc apply: applied ruleset (whole) and 1 zone file(s)"),
        "{}",
        stderr(&o)
    );
    let o = node.apply(&[], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("svcc apply: no change"),
        "{}",
        stderr(&o)
    );
    assert_eq!(node.calls().len(), 1, "no call when nothing changed");
    // The same input is recognised without compiling it.
    assert!(
        stderr(&o).contains("no change (input as last applied"),
        "{}",
        stderr(&o)
    );
    // A zone file changed behind svcc's back is rewritten (the ruleset is unchanged).
    std::fs::write(node.path("zones/db.cluster.local"), "edited\n").unwrap();
    let o = node.apply(&[], &[]);
    assert!(
        stderr(&o).contains("svcc apply: applied 1 zone file(s)"),
        "{}",
        stderr(&o)
    );
    assert!(node.zone().contains("SOA"), "{}", node.zone());
    assert_eq!(node.calls().len(), 1);
    // An edit of the input that leaves the output as it was compiles, and changes nothing.
    let edited = format!("# a comment\n{SERVICE}");
    std::fs::write(node.path("in.yaml"), edited).unwrap();
    let o = node.apply(&[], &[]);
    assert!(
        stderr(&o).contains("svcc apply: no change (1 services"),
        "{}",
        stderr(&o)
    );
    assert_eq!(node.calls().len(), 1);
    // Other options are another input.
    let o = node.apply(&["--ttl", "7"], &[]);
    assert!(
        stderr(&o).contains("applied 1 zone file(s)"),
        "{}",
        stderr(&o)
    );
    // --force applies anyway.
    node.apply(&["--force"], &[]);
    assert_eq!(node.calls().len(), 2);
}

#[test]
fn missing_nft_is_a_clear_error_exit_2() {
    let node = Node::new();
    std::fs::remove_file(node.path("bin/nft")).unwrap();
    let empty = node.path("bin");
    let o = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(["apply"])
        .arg(node.path("in.yaml"))
        .arg("--state-dir")
        .arg(node.path("state"))
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`nft` was not found on PATH"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_refused_ruleset_keeps_the_previous_state() {
    let node = Node::new();
    assert_eq!(node.apply(&[], &[]).status.code(), Some(0));
    let zone_before = node.zone();
    let state_before = std::fs::read(node.path("state/ruleset")).unwrap();
    std::fs::write(
        node.path("in.yaml"),
        SERVICE.replace("10.244.0.5", "10.244.0.6"),
    )
    .unwrap();
    let o = node.apply(&[], &[("FAKE_REFUSE", "1")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Could not process rule"),
        "nft's message is shown: {}",
        stderr(&o)
    );
    // The delta is refused; the whole load tried after it is refused too. Nothing is tested
    // with `nft -c` first (src/apply/nft/mod.rs says why).
    let calls = node.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.ends_with(" -f -") && !c.contains("-c")),
        "{calls:?}"
    );
    let log = std::fs::read_to_string(node.path("nft.log")).unwrap();
    assert_eq!(
        log.matches("\nend ").count(),
        1,
        "only the first apply ended:\n{log}"
    );
    assert_eq!(node.zone(), zone_before, "zone untouched");
    assert_eq!(
        std::fs::read(node.path("state/ruleset")).unwrap(),
        state_before
    );
}

#[test]
fn an_unwritable_zone_directory_applies_nothing() {
    let node = Node::new();
    let o = Command::new(env!("CARGO_BIN_EXE_svcc"))
        .arg("apply")
        .arg(node.path("in.yaml"))
        .arg("--state-dir")
        .arg(node.path("state"))
        .arg("--zone-file")
        .arg(node.path("in.yaml/db.cluster.local")) // a file, not a directory
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", node.path("bin").display()),
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write the zone"),
        "{}",
        stderr(&o)
    );
    assert!(
        node.calls().is_empty(),
        "checked before anything changed: {:?}",
        node.calls()
    );
}

#[test]
fn input_errors_apply_nothing() {
    let node = Node::new();
    std::fs::write(
        node.path("in.yaml"),
        SERVICE.replace("port: 80}", "port: 0}"),
    )
    .unwrap();
    let o = node.apply(&[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error[port-out-of-range]"),
        "{}",
        stderr(&o)
    );
    assert!(node.calls().is_empty());
    assert!(!node.path("zones/db.cluster.local").exists());
}

#[test]
fn killed_during_apply_leaves_old_or_new_never_a_mix() {
    let node = Node::new();
    assert_eq!(node.apply(&[], &[]).status.code(), Some(0));
    let zone_before = node.zone();
    std::fs::write(
        node.path("in.yaml"),
        SERVICE.replace("10.96.0.80", "10.96.0.81"),
    )
    .unwrap();
    let mut child = node
        .command(&[], &[("FAKE_SLEEP", "5")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the runner is inside `nft -f`, then kill svcc there.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node
        .calls()
        .last()
        .is_some_and(|c| c.contains(" -f -") && !c.contains("-c"))
    {
        assert!(Instant::now() < deadline, "apply never reached nft -f");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The zone is written only after the ruleset: still the old one, and the state too.
    assert_eq!(node.zone(), zone_before);
    assert!(std::fs::read_to_string(node.path("state/plan.json"))
        .unwrap()
        .contains("10.96.0.80"));
    assert!(
        std::fs::read_dir(node.path("zones")).unwrap().count() == 1,
        "no temporary files left"
    );
    // The next run converges.
    let o = node.apply(&[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(node.zone().contains("10.96.0.81"));
}

#[test]
fn concurrent_applies_are_serialized() {
    let node = Node::new();
    let spawn = |input: &str| -> Child {
        let path = node.path(input);
        std::fs::write(
            &path,
            SERVICE.replace(
                "10.244.0.5",
                if input == "a.yaml" {
                    "10.244.0.7"
                } else {
                    "10.244.0.8"
                },
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_svcc"))
            .arg("apply")
            .arg(&path)
            .arg("--state-dir")
            .arg(node.path("state"))
            .arg("--force")
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", node.path("bin").display()),
            )
            .env("FAKE_SLEEP", "1")
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = spawn("a.yaml");
    let mut b = spawn("b.yaml");
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    // Each run's load (forced: whole, untested) is one interval; intervals never overlap.
    let log = std::fs::read_to_string(node.path("nft.log")).unwrap();
    let times: Vec<f64> = log
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 4, "{log}");
    let (first_end, second_start) = (times[1], times[2]);
    assert!(first_end <= second_start, "runs overlapped:\n{log}");
}

#[test]
fn dry_run_prints_unified_hunks_and_changes_nothing() {
    let node = Node::new();
    assert!(node.apply(&[], &[]).status.success());
    let calls = node.calls().len();
    let zone = node.zone();
    std::fs::write(
        node.path("in.yaml"),
        SERVICE.replace("10.244.0.5", "10.244.0.9"),
    )
    .unwrap();
    let o = node.apply(&["--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("+ endpoint of port 80/tcp: 10.244.0.9:80"),
        "{out}"
    );
    let rules = out
        .split_once("\nruleset: changes\n")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("{out}"));
    // Hunks with their ranges and context; the old line then the new one.
    assert!(rules.starts_with("@@ -"), "{out}");
    assert!(
        out.contains("nft would load a delta of "),
        "and says how it would be loaded: {out}"
    );
    let dnat = |ip: &str| format!("meta l4proto tcp dnat to {ip}:80\n");
    let (removed, added) = (
        rules.find("-add rule ip svcc service-").unwrap(),
        rules.find(&dnat("10.244.0.9")).unwrap(),
    );
    assert!(removed < added, "{out}");
    assert!(rules.contains(&dnat("10.244.0.5")), "{out}");
    assert!(
        rules.lines().any(|l| l.starts_with(" add ")),
        "context: {out}"
    );
    // The zone names each endpoint (CoreDNS answers them for any Service): its hunk
    // trades the old address for the new one, and the file itself is untouched.
    let zone_hunks = out
        .split_once("db.cluster.local: changes\n")
        .map(|(_, z)| z)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        zone_hunks.contains("\n-10-244-0-5.web.default.svc.cluster.local."),
        "{out}"
    );
    assert!(
        zone_hunks.contains("\n+10-244-0-9.web.default.svc.cluster.local."),
        "{out}"
    );
    assert_eq!(node.calls().len(), calls, "a dry run calls no nft");
    assert_eq!(node.zone(), zone);
}

/// The real `nft` in a network namespace: apply, no change, dry run, remove.
#[test]
fn real_nft_in_a_namespace() {
    let Ok(()) = support::require(&["nft", "ip"], Need::Root) else {
        return;
    };
    let ns = format!("svcc-apply-{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    struct Guard(String);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = Guard(ns.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.yaml"), SERVICE).unwrap();
    let run = |extra: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_svcc"), "apply"])
            .arg(dir.path().join("in.yaml"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let tables = |ns: &str| {
        String::from_utf8(
            Command::new("ip")
                .args(["netns", "exec", ns, "nft", "list", "tables"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    assert_eq!(tables(&ns), "table ip svcc\n");
    assert!(stderr(&run(&[])).contains("no change"));
    std::fs::write(
        dir.path().join("in.yaml"),
        SERVICE.replace("10.244.0.5", "10.244.0.9"),
    )
    .unwrap();
    let o = run(&["--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("+ endpoint of port 80/tcp: 10.244.0.9:80"),
        "{out}"
    );
    assert!(out.contains("dnat to 10.244.0.9:80"), "{out}");
    let listing = String::from_utf8(
        Command::new("ip")
            .args(["netns", "exec", &ns, "nft", "list", "ruleset"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        listing.contains("10.244.0.5") && !listing.contains("10.244.0.9"),
        "a dry run changes nothing"
    );
    assert!(run(&["--remove"]).status.success());
    assert_eq!(tables(&ns), "");
}

#[test]
fn watch_reapplies_on_change_and_keeps_the_last_good_state() {
    let node = Node::new();
    let mut child = node
        .command(&["--watch"], &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr_pipe = child.stderr.take().unwrap();
    let _kill = Kill(child);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let wait_for = |needle: &str, count: usize| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let n = lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .count();
            if n >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}: {:?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("svcc apply: applied", 1);
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime second
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(node.path("in.yaml"))
        .unwrap();
    f.write_all(SERVICE.replace("10.244.0.5", "10.244.0.6").as_bytes())
        .unwrap();
    drop(f);
    wait_for("svcc apply: applied", 2);
    let applied_calls = node.calls().len();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        node.path("in.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 0}]\n",
    )
    .unwrap();
    wait_for("not applied", 1);
    assert_eq!(
        node.calls().len(),
        applied_calls,
        "a broken input applies nothing"
    );
    assert!(
        node.zone().contains("web.default.svc.cluster.local."),
        "the last good zone stays"
    );
}

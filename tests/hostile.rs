//! Hostile input: every case of `corpus/hostile/CASES.tsv` is either rejected with a clear
//! diagnostic or handled, never a panic, a hang over 5 s or memory over 1 GiB. Cases that pass
//! `check` compile to targets that carry none of their free text. The memory limit is set with
//! `prlimit`: without it the tests fail unless `SVCC_ALLOW_SKIP=1` (see `support/require.rs`).

#[allow(dead_code)] // The harness serves several test crates; each uses part of it.
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Need;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs svcc with a 5 s deadline and a 1 GiB address-space limit (`prlimit`, which each test
/// requires first).
fn svcc(args: &[&str]) -> Run {
    let mut child = Command::new("prlimit")
        .args(["--as=1073741824", "--"])
        .arg(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svcc");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        (o, e)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("svcc {args:?} ran over 5 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = reader.join().expect("reader");
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

fn cases() -> Vec<(String, i32, Vec<String>)> {
    std::fs::read_to_string("corpus/hostile/CASES.tsv")
        .expect("cases table")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let file = f.next().unwrap().to_owned();
            let code = f.next().unwrap().parse().unwrap();
            let rules = f
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            (file, code, rules)
        })
        .collect()
}

#[test]
fn every_case_is_rejected_clearly_or_handled() {
    let Ok(()) = support::require(&["prlimit"], Need::Tools) else {
        return;
    };
    let all = cases();
    assert!(all.len() >= 90, "the table lists the cases");
    for (file, code, rules) in all {
        let path = format!("corpus/hostile/{file}");
        let run = svcc(&["check", "--format", "json", &path]);
        assert!(
            matches!(run.code, Some(0..=2)),
            "{file}: exit {:?} (a crash?)\n{}",
            run.code,
            run.stderr
        );
        assert_eq!(run.code, Some(code), "{file}: {}{}", run.stdout, run.stderr);
        let v: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{file}: {e}: {}", run.stdout));
        for rule in &rules {
            let d = v["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["rule"] == rule.as_str());
            let d = d.unwrap_or_else(|| panic!("{file}: no `{rule}` in {v:#}"));
            assert!(
                d["line"].as_u64().unwrap() >= 1 && d["file"] == path,
                "{file}: {d:#}"
            );
        }
        if code == 1 {
            // Nothing reaches a target from an input with errors.
            for target in ["nft", "dns"] {
                let run = svcc(&["compile", "--target", target, &path]);
                assert_eq!(run.code, Some(1), "{file} --target {target}");
                assert!(run.stdout.is_empty(), "{file}: partial output on stdout");
            }
        }
    }
}

#[test]
fn free_text_never_reaches_a_target() {
    let Ok(()) = support::require(&["prlimit"], Need::Tools) else {
        return;
    };
    for (file, code, _) in cases() {
        if !file.ends_with("-annotation.yaml") {
            continue;
        }
        assert_eq!(code, 0);
        let path = format!("corpus/hostile/{file}");
        let text = std::fs::read_to_string(&path).unwrap();
        let payload = text
            .split("note: ")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap()
            .trim_matches('"')
            .replace("\\\"", "\"");
        for target in ["nft", "dns"] {
            let run = svcc(&["compile", "-q", "--target", target, &path]);
            assert_eq!(run.code, Some(0), "{file}: {}", run.stderr);
            assert!(
                run.stdout.contains("10.96.0.5"),
                "{file}: the Service is compiled"
            );
            // The zone's own `$ORIGIN`/`$TTL` directives are not the payload.
            let body: String = run
                .stdout
                .lines()
                .filter(|l| !l.starts_with('$'))
                .collect::<Vec<_>>()
                .join("\n");
            if payload.len() > 1 && payload != "a b" {
                assert!(
                    !body.contains(&payload),
                    "{file}: `{payload}` reached the {target} output"
                );
            }
        }
    }
}

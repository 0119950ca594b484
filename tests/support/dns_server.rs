//! A throwaway BIND (`named`) serving zone files on 127.0.0.1, and `dig` answers parsed into
//! records. The server runs in the foreground (`-g`) from a private temporary directory, on a
//! free high port, with recursion off; dropping [`Named`] kills it, waits for it and removes the
//! directory, also when a test panics. Every wait is bounded.
//!
//! Several test crates include this file (`#[path]`), each using part of it.
#![allow(dead_code)]

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long the server may take to answer for every zone.
const STARTUP: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// Attempts with a fresh port, in case another process takes the port between the probe and
/// `named` binding it.
const ATTEMPTS: usize = 3;

/// A running `named`. Field order matters: the child is stopped in `Drop::drop`, before the
/// directory holding its files is removed.
pub struct Named {
    child: Child,
    pub port: u16,
    log: PathBuf,
    /// Always `Some` while the server runs; taken only to retry on another port.
    dir: Option<TempDir>,
}

/// One answer record as `dig` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub rdata: String,
}

/// A response: its RCODE (`NOERROR`, `NXDOMAIN`, ...), `aa` flag and answer section.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: String,
    pub authoritative: bool,
    pub records: Vec<Rr>,
    pub raw: String,
}

impl Answer {
    /// The sorted rdata of the answer records with this owner (final dot optional) and type.
    pub fn rdata(&self, name: &str, rtype: &str) -> Vec<String> {
        let name = name.trim_end_matches('.');
        let mut v: Vec<String> = self
            .records
            .iter()
            .filter(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(name) && r.rtype == rtype)
            .map(|r| r.rdata.clone())
            .collect();
        v.sort();
        v
    }
}

/// A free port on 127.0.0.1 for both UDP and TCP (bound to port 0, read, released).
fn free_port() -> u16 {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("local address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// `db.<origin>` files in `dir`: (origin, path), sorted.
pub fn zone_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .expect("read the zone directory")
        .map(|e| e.expect("directory entry").path())
        .filter_map(|p| {
            let origin = p.file_name()?.to_str()?.strip_prefix("db.")?.to_owned();
            Some((origin, p))
        })
        .collect();
    zones.sort();
    zones
}

fn config(dir: &Path, port: u16, zones: &[(String, PathBuf)], options: &str) -> String {
    let d = dir.display();
    let mut conf = format!(
        "options {{\n\
         \x20   directory \"{d}\";\n\
         \x20   listen-on port {port} {{ 127.0.0.1; }};\n\
         \x20   listen-on-v6 {{ none; }};\n\
         \x20   pid-file \"{d}/named.pid\";\n\
         \x20   session-keyfile \"{d}/session.key\";\n\
         \x20   managed-keys-directory \"{d}\";\n\
         \x20   recursion no;\n\
         \x20   dnssec-validation no;\n\
         {options}\
         }};\n\
         controls {{ }};\n"
    );
    for (origin, path) in zones {
        conf.push_str(&format!(
            "zone \"{origin}\" {{ type primary; file \"{}\"; }};\n",
            path.display()
        ));
    }
    conf
}

impl Named {
    /// Serves every `db.<origin>` file in `dir` (which the server then owns) and returns once
    /// the server answers the SOA query of every zone authoritatively. `named` and `dig` are
    /// run from `PATH` (the caller has required them, see [`super::require`]); `named` runs as
    /// root.
    pub fn start(dir: TempDir) -> Named {
        Named::start_with(dir, "")
    }

    /// [`Named::start`] with more statements for the `options` block (each ending in `;`).
    pub fn start_with(dir: TempDir, options: &str) -> Named {
        let zones = zone_files(dir.path());
        assert!(
            !zones.is_empty(),
            "no zone files in {}",
            dir.path().display()
        );
        let mut dir = Some(dir);
        let mut failures = String::new();
        for attempt in 1..=ATTEMPTS {
            let tmp = dir.take().expect("directory");
            let port = free_port();
            let conf = tmp.path().join("named.conf");
            std::fs::write(&conf, config(tmp.path(), port, &zones, options))
                .expect("write named.conf");
            let log = tmp.path().join("named.log");
            let child = Command::new("named")
                .args(["-g", "-u", "root", "-c"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(File::create(&log).expect("create named.log"))
                .stderr(File::create(tmp.path().join("named.stderr")).expect("named.stderr"))
                .spawn()
                .unwrap_or_else(|e| panic!("start named: {e}"));
            let mut server = Named {
                child,
                port,
                log,
                dir: Some(tmp),
            };
            match server.wait_ready(&zones) {
                Ok(()) => return server,
                Err(why) => {
                    failures.push_str(&format!(
                        "attempt {attempt} (port {port}): {why}\n{}\n",
                        server.output()
                    ));
                    // Keep the directory (zone files) for the next attempt; dropping the
                    // server stops it.
                    dir = server.dir.take();
                    drop(server);
                }
            }
        }
        panic!("named did not come up:\n{failures}");
    }

    fn wait_ready(&mut self, zones: &[(String, PathBuf)]) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        let mut pending: Vec<&str> = zones.iter().map(|(o, _)| o.as_str()).collect();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("named exited with {status}"));
            }
            let output = self.output();
            if output.contains("address in use") || output.contains("could not listen") {
                return Err("named could not listen on its port".to_owned());
            }
            pending.retain(|origin| {
                self.try_query(&["+time=1", "+tries=1", origin, "SOA"])
                    .map(|a| !(a.status == "NOERROR" && a.authoritative && !a.records.is_empty()))
                    .unwrap_or(true)
            });
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no authoritative SOA answer within {STARTUP:?} for {pending:?}"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Runs `dig @127.0.0.1 -p PORT +norec` with `args` (a name and type, or `-x IP`).
    fn try_query(&self, args: &[&str]) -> Result<Answer, String> {
        let out = Command::new("dig")
            .arg("@127.0.0.1")
            .args(["-p", &self.port.to_string()])
            .args([
                "+norec",
                "+time=2",
                "+tries=2",
                "+noall",
                "+comments",
                "+answer",
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run dig: {e}"))?;
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "dig {args:?} failed ({}): {raw}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse(&raw).ok_or_else(|| format!("cannot parse dig output for {args:?}:\n{raw}"))
    }

    /// Like [`Named::try_query`], panicking with the server's log when dig fails.
    pub fn query(&self, args: &[&str]) -> Answer {
        self.try_query(args)
            .unwrap_or_else(|e| panic!("{e}\nnamed log:\n{}", self.output()))
    }

    /// Runs `dig` with `args` and returns its standard output, panicking when it fails.
    pub fn dig(&self, args: &[&str]) -> String {
        let out = Command::new("dig")
            .arg("@127.0.0.1")
            .args(["-p", &self.port.to_string()])
            .args(["+norec", "+time=2", "+tries=2", "+noall"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run dig: {e}"));
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "dig {args:?} failed ({}): {raw}{}\nnamed log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.output()
        );
        raw
    }

    /// A whole response: RCODE, flags and the answer, authority and additional sections.
    pub fn message(&self, name: &str, rtype: &str) -> Message {
        let raw = self.dig(&[
            "+comments",
            "+answer",
            "+authority",
            "+additional",
            name,
            rtype,
        ]);
        parse_message(&raw).unwrap_or_else(|| panic!("cannot parse dig output:\n{raw}"))
    }

    /// The records of a zone transfer (`AXFR`, or `IXFR=SERIAL`) as `dig` prints them, the
    /// closing SOA included.
    pub fn transfer(&self, zone: &str, kind: &str) -> Vec<Rr> {
        let raw = self.dig(&["+answer", zone, kind]);
        raw.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(|l| parse_rr(l).unwrap_or_else(|| panic!("cannot parse `{l}`:\n{raw}")))
            .collect()
    }

    /// What the server logged so far.
    pub fn output(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        s.push_str(
            &self
                .dir
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.path().join("named.stderr")).ok())
                .unwrap_or_default(),
        );
        s
    }

    fn stop(&mut self) {
        // SIGKILL, then reap: bounded, and nothing of the server outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.stop();
        // `dir` (a TempDir) is dropped after this, removing the configuration and zone files.
    }
}

/// A response with all its sections, as `dig` prints it.
#[derive(Clone, Debug)]
pub struct Message {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub raw: String,
}

/// One record line of `dig` (`owner TTL class type rdata`).
pub fn parse_rr(line: &str) -> Option<Rr> {
    let mut f = line.split_whitespace();
    let name = f.next()?.to_owned();
    let ttl = f.next()?.parse().ok()?;
    let _class = f.next()?;
    let rtype = f.next()?.to_owned();
    let rdata = f.collect::<Vec<_>>().join(" ");
    Some(Rr {
        name,
        ttl,
        rtype,
        rdata,
    })
}

/// Parses `dig +noall +comments +answer +authority +additional` output.
fn parse_message(raw: &str) -> Option<Message> {
    let mut status = None;
    let mut flags = Vec::new();
    let mut sections: [Vec<Rr>; 3] = Default::default();
    let mut current = None;
    for line in raw.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("status: ").nth(1) {
            status = Some(rest.split(',').next()?.trim().to_owned());
        } else if let Some(f) = line.strip_prefix(";; flags:") {
            flags = f
                .split(';')
                .next()?
                .split_whitespace()
                .map(str::to_owned)
                .collect();
        } else if line.starts_with(";; ANSWER SECTION") {
            current = Some(0);
        } else if line.starts_with(";; AUTHORITY SECTION") {
            current = Some(1);
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            current = Some(2);
        } else if !line.is_empty() && !line.starts_with(';') {
            sections[current?].push(parse_rr(line)?);
        }
    }
    let [answer, authority, additional] = sections;
    Some(Message {
        status: status?,
        flags,
        answer,
        authority,
        additional,
        raw: raw.to_owned(),
    })
}

/// Parses `dig +noall +comments +answer` output.
fn parse(raw: &str) -> Option<Answer> {
    let mut status = None;
    let mut authoritative = false;
    let mut records = Vec::new();
    for line in raw.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("status: ").nth(1) {
            status = Some(rest.split(',').next()?.trim().to_owned());
        } else if let Some(flags) = line.strip_prefix(";; flags:") {
            let flags = flags.split(';').next()?;
            authoritative = flags.split_whitespace().any(|f| f == "aa");
        } else if !line.is_empty() && !line.starts_with(';') {
            let mut f = line.split_whitespace();
            let name = f.next()?.to_owned();
            let ttl = f.next()?.parse().ok()?;
            let _class = f.next()?;
            let rtype = f.next()?.to_owned();
            let rdata = f.collect::<Vec<_>>().join(" ");
            records.push(Rr {
                name,
                ttl,
                rtype,
                rdata,
            });
        }
    }
    Some(Answer {
        status: status?,
        authoritative,
        records,
        raw: raw.to_owned(),
    })
}

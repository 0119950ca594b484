//! Real connections from a namespace, and what they showed: which endpoint answered each one,
//! which source address the endpoint saw, and how each failure looked (refused at once, or a
//! timeout).

use super::netns::{run_bounded, Netns, Topology, CLIENT_PY};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// `count` connections (TCP) or request/answer exchanges (UDP, each on a new socket and so a new
/// conntrack entry) to `host:port`, one after the other.
#[derive(Clone, Debug)]
pub struct Probe {
    pub proto: Proto,
    pub host: String,
    pub port: u16,
    pub count: usize,
    /// Source address to bind (one of the client's), or the kernel's choice.
    pub source: Option<String>,
    /// Limit per attempt.
    pub timeout: Duration,
    /// Limit for all attempts together; attempts not started by then are left out.
    pub deadline: Duration,
}

impl Probe {
    pub fn tcp(host: impl ToString, port: u16, count: usize) -> Probe {
        Probe {
            proto: Proto::Tcp,
            host: host.to_string(),
            port,
            count,
            source: None,
            timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        }
    }

    pub fn udp(host: impl ToString, port: u16, count: usize) -> Probe {
        Probe {
            proto: Proto::Udp,
            ..Probe::tcp(host, port, count)
        }
    }

    pub fn source(mut self, source: impl ToString) -> Probe {
        self.source = Some(source.to_string());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Probe {
        self.timeout = timeout;
        self
    }

    /// Runs the probe from the topology's client namespace.
    pub fn run(&self, topology: &Topology) -> Tally {
        self.run_in(topology, &topology.client)
    }

    /// Runs the probe from `ns` (the client, or a pod acting as a client).
    pub fn run_in(&self, topology: &impl Harness, ns: &Netns) -> Tally {
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let deadline = self.deadline.min(topology.time_left());
        let mut cmd = topology.python_in(ns);
        cmd.args(["-c", CLIENT_PY, proto, &self.host])
            .arg(self.port.to_string())
            .arg(self.count.to_string())
            .args(["--timeout", &self.timeout.as_secs_f64().to_string()])
            .args(["--deadline", &deadline.as_secs_f64().to_string()]);
        if let Some(source) = &self.source {
            cmd.args(["--source", source]);
        }
        // The client stops by itself at its deadline; the margin covers one attempt in flight
        // and the interpreter's start.
        let limit = deadline + self.timeout + Duration::from_secs(10);
        let out = run_bounded(&mut cmd, None, limit).unwrap_or_else(|e| topology.fail(&e));
        let what = format!("{self}");
        if !out.status.success() {
            topology.fail(&format!(
                "client for {what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let report: Report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            topology.fail(&format!(
                "client for {what} printed no report ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            ))
        });
        Tally {
            what,
            attempts: report.results,
            requested: self.count,
        }
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{} × {proto} {host}:{}", self.count, self.port)?;
        if let Some(source) = &self.source {
            write!(f, " from {source}")?;
        }
        Ok(())
    }
}

/// What a probe needs from the namespaces it runs in: the time left, Python, and a way to
/// fail with the state worth seeing.
pub trait Harness {
    fn time_left(&self) -> Duration;
    fn python_in(&self, ns: &Netns) -> Command;
    fn fail(&self, message: &str) -> !;
}

impl Harness for Topology {
    fn time_left(&self) -> Duration {
        Topology::time_left(self)
    }

    fn python_in(&self, ns: &Netns) -> Command {
        Topology::python_in(self, ns)
    }

    fn fail(&self, message: &str) -> ! {
        Topology::fail(self, message)
    }
}

#[derive(Deserialize)]
struct Report {
    results: Vec<Attempt>,
}

/// One connection or exchange: an answer (`ip:port` of the endpoint, the source it saw) or an
/// error (`refused`, `timeout`, `unreachable`, `reset`, or another message).
#[derive(Clone, Debug, Deserialize)]
pub struct Attempt {
    pub answer: Option<String>,
    pub peer: Option<String>,
    pub error: Option<String>,
    pub secs: f64,
}

/// What a probe saw. The checks return `Err` with a summary, for [`Topology::ensure`].
#[derive(Clone, Debug)]
pub struct Tally {
    pub what: String,
    pub attempts: Vec<Attempt>,
    pub requested: usize,
}

impl Tally {
    /// Answers per endpoint.
    pub fn answers(&self) -> BTreeMap<&str, usize> {
        count(self.attempts.iter().filter_map(|a| a.answer.as_deref()))
    }

    /// Source addresses the endpoints saw.
    pub fn peers(&self) -> BTreeMap<&str, usize> {
        count(self.attempts.iter().filter_map(|a| a.peer.as_deref()))
    }

    pub fn errors(&self) -> BTreeMap<&str, usize> {
        count(self.attempts.iter().filter_map(|a| a.error.as_deref()))
    }

    pub fn summary(&self) -> String {
        format!(
            "{}: {} of {} attempted; answers {:?}; errors {:?}; peers seen {:?}",
            self.what,
            self.attempts.len(),
            self.requested,
            self.answers(),
            self.errors(),
            self.peers()
        )
    }

    fn check(&self, ok: bool, claim: &str) -> Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(format!("expected {claim}\n  got {}", self.summary()))
        }
    }

    /// Every attempt was made and answered.
    pub fn all_answered(&self) -> Result<(), String> {
        self.check(
            self.attempts.len() == self.requested && self.errors().is_empty(),
            "every attempt answered",
        )
    }

    /// Every attempt answered, only by `endpoints`, each of them at least once.
    pub fn reached_exactly(&self, endpoints: &[String]) -> Result<(), String> {
        self.all_answered()?;
        let seen: BTreeSet<&str> = self.answers().into_keys().collect();
        let want: BTreeSet<&str> = endpoints.iter().map(String::as_str).collect();
        self.check(seen == want, &format!("answers from exactly {want:?}"))
    }

    /// [`Tally::reached_exactly`], and each endpoint answered a share of the attempts within
    /// `[min, max]`.
    pub fn spread(&self, endpoints: &[String], min: f64, max: f64) -> Result<(), String> {
        self.reached_exactly(endpoints)?;
        let total = self.attempts.len() as f64;
        let bad: Vec<_> = self
            .answers()
            .into_iter()
            .filter(|(_, n)| !(min..=max).contains(&(*n as f64 / total)))
            .collect();
        self.check(
            bad.is_empty(),
            &format!("each endpoint between {min:.2} and {max:.2} of the answers, not {bad:?}"),
        )
    }

    /// Every answer came from one endpoint; returns it.
    pub fn one_endpoint(&self) -> Result<String, String> {
        self.all_answered()?;
        let answers = self.answers();
        self.check(answers.len() == 1, "every answer from one endpoint")?;
        Ok(answers.into_keys().next().unwrap_or_default().to_owned())
    }

    /// Every endpoint saw `source` as the client's address.
    pub fn peers_are(&self, source: &str) -> Result<(), String> {
        let peers = self.peers();
        self.check(
            peers.len() == 1 && peers.contains_key(source),
            &format!("every endpoint to see the client as {source}"),
        )
    }

    /// Every attempt was refused (ICMP port unreachable or RST), each within `limit`: a
    /// rejection, not a drop that only a timeout ends.
    pub fn refused_within(&self, limit: Duration) -> Result<(), String> {
        let all_refused = self.attempts.len() == self.requested
            && self
                .attempts
                .iter()
                .all(|a| a.error.as_deref() == Some("refused"));
        self.check(all_refused, "every attempt refused")?;
        let slowest = self.attempts.iter().map(|a| a.secs).fold(0.0, f64::max);
        self.check(
            slowest <= limit.as_secs_f64(),
            &format!("every refusal within {limit:?}, the slowest took {slowest} s"),
        )
    }

    /// No attempt was answered.
    pub fn none_answered(&self) -> Result<(), String> {
        self.check(self.answers().is_empty(), "no answer at all")
    }

    /// Every attempt timed out: the packets were dropped, not refused.
    pub fn timed_out(&self) -> Result<(), String> {
        self.check(
            self.attempts.len() == self.requested
                && self
                    .attempts
                    .iter()
                    .all(|a| a.error.as_deref() == Some("timeout")),
            "every attempt to time out (a drop)",
        )
    }
}

fn count<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut map = BTreeMap::new();
    for item in items {
        *map.entry(item).or_insert(0) += 1;
    }
    map
}

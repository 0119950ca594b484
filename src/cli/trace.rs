//! `svcc trace --to IP:PORT/PROTO [--from IP]`: human output names the files and lines
//! responsible; `--format json` gives the [`Trace`] as JSON.

use super::args::{ClusterArgs, TraceArgs, TraceFormat};
use super::common;
use crate::explain::packet;
use crate::explain::trace::{self, Trace, TraceOptions, Verdict};
use crate::pipeline;
use crate::plan::{LowerOptions, Origin};
use crate::source::SourceMap;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

pub fn run(cluster: &ClusterArgs, args: &TraceArgs) -> anyhow::Result<ExitCode> {
    let settings = match common::settings(cluster) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let packet = match packet::parse(&args.to) {
        Ok(p) => p,
        Err(e) => return Ok(common::usage(&e)),
    };
    let proxy = match super::dataplane::proxy(&args.proxy, &settings, args.target) {
        Ok(p) => p,
        Err(e) => return Ok(common::usage(&e)),
    };
    let compiled = pipeline::compile(
        &common::paths_or_cwd(&args.paths),
        &settings,
        &LowerOptions {
            node: args.node.clone(),
            ..Default::default()
        },
    )?;
    common::print_input_errors(&compiled.outcome);
    let Some(plan) = &compiled.plan else {
        // Unreadable input is a failure (2); an input with errors is "errors found" (1).
        let code = common::exit_code(&compiled.outcome, false).max(1);
        if code == 1 {
            eprintln!(
                "svcc: error: the input has {} errors; run `svcc check`",
                compiled.outcome.summary.errors
            );
        }
        return Ok(ExitCode::from(code));
    };
    let opts = TraceOptions {
        from: args.from,
        dataplane: args.target,
        proxy,
    };
    let t = trace::trace(plan, &packet, &opts);
    let sources = &compiled.outcome.sources;
    let text = match args.format {
        TraceFormat::Human => human(&t, sources),
        TraceFormat::Json => {
            let mut s = serde_json::to_string_pretty(&Located::new(&t, sources))?;
            s.push('\n');
            s
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn at(origin: &Origin, sources: &SourceMap) -> String {
    if (origin.span.file.0 as usize) >= sources.len() {
        return String::new();
    }
    let file = sources.get(origin.span.file);
    let (line, col) = file.line_col(origin.span.start);
    format!("{}:{line}:{col}", file.name)
}

fn human(t: &Trace, sources: &SourceMap) -> String {
    let mut s = String::new();
    let from = t.from.map_or(String::new(), |f| format!(" from {f}"));
    let _ = writeln!(s, "packet {}{from}", t.packet);
    if let (Some(entry), Some(svc)) = (t.entry, &t.service) {
        let kind = serde_json::to_value(entry)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let origin = t
            .service_origin
            .as_ref()
            .map_or(String::new(), |o| format!("  [{}]", at(o, sources)));
        let _ = writeln!(
            s,
            "  matches {kind} of Service {svc} port {}{origin}",
            t.port.as_deref().unwrap_or("")
        );
    }
    if let Some(p) = &t.policy {
        let _ = writeln!(s, "  traffic policy: {p}");
    }
    if !t.candidates.is_empty() {
        let _ = writeln!(s, "  endpoints ({}, numgen random):", t.candidates.len());
        for c in &t.candidates {
            let node = c
                .node
                .as_ref()
                .map_or(String::new(), |n| format!(" on {n}"));
            let _ = writeln!(
                s,
                "    {:<24} p={:.2}{node}  {} {}/{} {}  [{}]",
                std::net::SocketAddr::new(c.ip, c.port),
                c.probability,
                c.origin.kind,
                c.origin.namespace,
                c.origin.name,
                c.origin.path,
                at(&c.origin, sources)
            );
        }
    }
    if let Some(a) = t.affinity_seconds {
        let _ = writeln!(
            s,
            "  session affinity: ClientIP, a client stays on the endpoint it reached for {a}s"
        );
    }
    if t.verdict == Verdict::Dnat {
        let masquerade = match &t.masquerade_mark {
            Some(mark) if t.masquerade => format!("yes (mark {mark})"),
            _ if t.masquerade => "yes".to_owned(),
            _ => "no".to_owned(),
        };
        let _ = writeln!(s, "  masquerade: {masquerade}");
    }
    for note in &t.notes {
        let _ = writeln!(s, "  note: {note}");
    }
    let verdict = match t.verdict {
        Verdict::Dnat => "DNAT",
        Verdict::Reject => "REJECT",
        Verdict::Drop => "DROP",
        Verdict::Accept => "ACCEPT",
        Verdict::None => "not a Service address",
    };
    let _ = writeln!(s, "  verdict: {verdict}: {}", t.reason);
    s
}

/// The trace with file/line/column for every origin.
#[derive(Serialize)]
struct Located<'a> {
    #[serde(flatten)]
    trace: &'a Trace,
    service_location: Option<String>,
    candidate_locations: Vec<String>,
}

impl<'a> Located<'a> {
    fn new(trace: &'a Trace, sources: &SourceMap) -> Located<'a> {
        Located {
            trace,
            service_location: trace.service_origin.as_ref().map(|o| at(o, sources)),
            candidate_locations: trace
                .candidates
                .iter()
                .map(|c| at(&c.origin, sources))
                .collect(),
        }
    }
}

//! `svcc apply`: compile for this node, then apply through [`crate::apply`]. One log line per
//! run on stderr: what changed and how long it took.

use super::args::{ApplyArgs, ClusterArgs, DataplaneTarget, IptablesArgs};
use super::common::input_settings;
use super::dataplane::dns_options;
use super::watch::Watch;
use crate::apply::iptables::{self as ipt_apply, IptablesApply, SystemXtables};
use crate::apply::nft::NftRunner;
use crate::apply::runner::{Loaded, RunError, Runner};
use crate::apply::{self, Applied, ApplyError, Request};
use crate::emit::{dns, iptables, nft};
use crate::pipeline::{self, Settings};
use crate::plan::{LowerOptions, Plan};
use crate::report::{self, Format, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(cluster: &ClusterArgs, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let settings = match input_settings(cluster, None, &args.limits) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let opts = match dataplane_options(args, &settings) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.dns.reverse && args.zone_dir.is_none() {
        eprintln!("svcc: error: --reverse produces several zones; give --zone-dir DIR");
        return Ok(ExitCode::from(2));
    }
    let mut runner: Box<dyn Runner> = match &opts {
        Dataplane::Nft(_) => match NftRunner::find() {
            Ok(r) => Box::new(r),
            Err(e) => {
                eprintln!("svcc: error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        Dataplane::Iptables(o) => {
            let mode = if args.remove {
                ipt_apply::Mode::Remove
            } else {
                ipt_apply::Mode::Install
            };
            Box::new(IptablesApply::new(&o.prefix, mode, SystemXtables))
        }
    };
    if args.remove {
        let _lock = apply::lock(&args.state_dir)?;
        let (removal, what) = match &opts {
            Dataplane::Nft(o) => (nft::removal(&o.table), format!("tables `{}`", o.table)),
            Dataplane::Iptables(o) => (
                ipt_apply::removal(),
                format!("chains `{}-*` and their jumps", o.prefix),
            ),
        };
        return Ok(
            match apply::remove(&args.state_dir, removal.as_bytes(), runner.as_mut()) {
                Ok(()) => {
                    eprintln!("svcc apply: removed {what}");
                    ExitCode::SUCCESS
                }
                Err(ApplyError::Runner(RunError::NotFound(tool))) => {
                    eprintln!("svcc: error: `{tool}` was not found on PATH");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("svcc: error: {e}");
                    ExitCode::from(1)
                }
            },
        );
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    if !args.watch {
        return Ok(ExitCode::from(once(
            &paths,
            &settings,
            args,
            &opts,
            runner.as_mut(),
        )));
    }
    // Watch before the first apply: a change made while it runs makes one more.
    let mut watch = match Watch::new(&paths, &settings.filter, &own_outputs(args)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!(
        "svcc apply: watching {} director{} (inotify)",
        watch.watched(),
        if watch.watched() == 1 { "y" } else { "ies" }
    );
    let _ = once(&paths, &settings, args, &opts, runner.as_mut());
    loop {
        match watch.next_change() {
            Ok(change) => {
                eprintln!(
                    "svcc apply: input changed ({} events on {} paths; settled in {:.3} s)",
                    change.events,
                    change.paths,
                    change.settled.as_secs_f64()
                );
                let _ = once(&paths, &settings, args, &opts, runner.as_mut());
            }
            Err(e) => {
                eprintln!("svcc: error: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
}

/// What `apply` writes itself: a change there is no change of the input.
fn own_outputs(args: &ApplyArgs) -> Vec<PathBuf> {
    let mut out = vec![args.state_dir.clone()];
    out.extend(args.zone_file.iter().cloned());
    out.extend(args.zone_dir.iter().cloned());
    out
}

/// A digest of everything a run's output depends on: svcc's version, the settings (profile,
/// limits, rules, filters), the command's options, and every input file's path and bytes.
/// `None` when an input is standard input or cannot be read (the run then compiles as usual).
fn input_fingerprint(paths: &[PathBuf], settings: &Settings, args: &ApplyArgs) -> Option<String> {
    let found = crate::source::inputs::discover(paths, &settings.filter);
    if !found.errors.is_empty() {
        return None;
    }
    let mut data = format!(
        "svcc {}\n{settings:?}\n{args:?}\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes();
    for input in &found.inputs {
        let path = input.path()?;
        let bytes = std::fs::read(path).ok()?;
        data.extend_from_slice(format!("{}\0{}\0", path.display(), bytes.len()).as_bytes());
        data.extend_from_slice(&bytes);
    }
    Some(apply::hex(&crate::emit::hash::sha256(&data)))
}

/// One compile-and-apply; returns the exit code.
fn once(
    paths: &[PathBuf],
    settings: &Settings,
    args: &ApplyArgs,
    opts: &Dataplane,
    runner: &mut dyn Runner,
) -> u8 {
    let started = Instant::now();
    // An input identical to the one last applied (and zone files as written) would compile
    // to the same state: nothing to do, without compiling.
    let input = (!args.dry_run)
        .then(|| input_fingerprint(paths, settings, args))
        .flatten();
    if let Some(fingerprint) = input.as_deref().filter(|_| !args.force) {
        if apply::unchanged(&args.state_dir, fingerprint) {
            let elapsed = started.elapsed().as_secs_f64();
            eprintln!("svcc apply: no change (input as last applied; {elapsed:.3} s)");
            return 0;
        }
    }
    let compiled = match pipeline::compile(
        paths,
        settings,
        &LowerOptions {
            node: args.node.clone(),
            // The zones are rendered too: the DNS addresses are needed.
            dataplane_only: false,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return 2;
        }
    };
    let outcome = &compiled.outcome;
    for e in &outcome.errors {
        let e = e.to_string();
        eprintln!("svcc: error: {}", crate::report::printable::printable(&e));
    }
    let Some(plan) = &compiled.plan else {
        let errors: Vec<_> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .cloned()
            .collect();
        let report = Report {
            diagnostics: &errors,
            sources: &outcome.sources,
            summary: outcome.summary,
            color: false,
            unreadable: &[],
        };
        let _ = report::write(Format::Short, &report, &mut std::io::stderr());
        if outcome.errors.is_empty() {
            eprintln!(
                "svcc apply: not applied: the input has {} errors (the last applied state stays)",
                outcome.summary.errors
            );
        } else {
            eprintln!(
                "svcc apply: not applied: {} of the inputs could not be read (the last applied state stays)",
                outcome.errors.len()
            );
        }
        return if outcome.errors.is_empty() { 1 } else { 2 };
    };
    let (proxy, dataplane) = match opts {
        Dataplane::Nft(o) => (&o.proxy, crate::plan::view::Dataplane::Nft),
        Dataplane::Iptables(o) => (&o.proxy, crate::plan::view::Dataplane::Iptables),
    };
    super::dataplane::print_assumptions(plan, proxy, dataplane);
    let request = match crate::timing::stage("render ruleset and zones", || {
        request(plan, args, opts, input)
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("svcc: error: {e}");
            return 2;
        }
    };
    if args.dry_run {
        dry_run(plan, &request, matches!(opts, Dataplane::Nft(_)));
        return 0;
    }
    let result = apply::lock(&request.state_dir).and_then(|_lock| {
        // The plan is kept for `--dry-run`; at 10,000 Services it is 50 MB of JSON, written
        // while the kernel loads the ruleset.
        std::thread::scope(|scope| {
            let json = scope.spawn(|| serde_json::to_string(plan));
            let applied = apply::apply(&request, runner)?;
            match json.join() {
                Ok(Ok(json)) => apply::save_plan(&request.state_dir, &json)?,
                Ok(Err(e)) => eprintln!("svcc apply: warning: the plan was not kept: {e}"),
                Err(_) => eprintln!("svcc apply: warning: the plan was not kept"),
            }
            Ok(applied)
        })
    });
    let elapsed = started.elapsed().as_secs_f64();
    let services = plan.services.len();
    let endpoints: usize = plan
        .services
        .iter()
        .flat_map(|s| &s.ports)
        .map(|p| p.endpoints.len())
        .sum();
    match result {
        Ok(Applied::NoChange) => {
            eprintln!("svcc apply: no change ({services} services, {endpoints} endpoints; {elapsed:.3} s)");
            0
        }
        Ok(Applied::Changed { ruleset, zones }) => {
            let rules = match ruleset {
                // Why a change was loaded whole was said when it happened.
                Some(Loaded::Whole { .. }) => Some("ruleset (whole)".to_owned()),
                Some(Loaded::Delta { commands }) => {
                    Some(format!("ruleset (delta of {commands} commands)"))
                }
                None => None,
            };
            let what = match (rules, zones) {
                (Some(r), 0) => r,
                (Some(r), n) => format!("{r} and {n} zone file(s)"),
                (None, n) => format!("{n} zone file(s)"),
            };
            eprintln!("svcc apply: applied {what} ({services} services, {endpoints} endpoints; {elapsed:.3} s)");
            0
        }
        Err(ApplyError::Runner(RunError::NotFound(tool))) => {
            eprintln!("svcc: error: `{tool}` was not found on PATH");
            2
        }
        Err(e) => {
            eprintln!("svcc: error: {e}\nsvcc apply: nothing changed ({elapsed:.3} s)");
            1
        }
    }
}

/// The dataplane target and its options.
enum Dataplane {
    Nft(nft::Options),
    Iptables(iptables::Options),
}

fn dataplane_options(args: &ApplyArgs, settings: &Settings) -> Result<Dataplane, String> {
    match args.target {
        DataplaneTarget::Nft => {
            super::dataplane::nft_options(&args.net, settings, crate::emit::Target::Nft)
                .map(Dataplane::Nft)
        }
        DataplaneTarget::Iptables => {
            let own = IptablesArgs {
                family: None,
                no_jumps: true,
            };
            let opts = super::dataplane::iptables_options(
                &args.net,
                &own,
                settings,
                crate::emit::Target::Iptables,
            )?;
            if opts.prefix == "KUBE" {
                return Err(
                    "--table KUBE would make svcc delete kube-proxy's chains as stale; \
                     choose another prefix (KUBE is for `svcc compile`, to diff against \
                     kube-proxy)"
                        .to_owned(),
                );
            }
            Ok(Dataplane::Iptables(opts))
        }
    }
}

/// The ruleset to apply: nft's batch, or the iptables inputs (IPv4, then IPv6 when the plan
/// has IPv6 addresses), without jumps: the runner adds the missing ones.
fn ruleset(plan: &Plan, opts: &Dataplane) -> Result<Vec<u8>, String> {
    let mut ruleset = Vec::new();
    match opts {
        Dataplane::Nft(o) => nft::write(plan, o, &mut ruleset).map_err(|e| e.to_string())?,
        Dataplane::Iptables(o) => {
            let render = |family| -> Result<String, String> {
                let mut out = Vec::new();
                let opts = iptables::Options {
                    family,
                    jumps: false,
                    ..o.clone()
                };
                iptables::write(plan, &opts, &mut out).map_err(|e| e.to_string())?;
                Ok(String::from_utf8_lossy(&out).into_owned())
            };
            let v4 = render(iptables::Family::Ipv4)?;
            let v6 = if iptables::uses_family(plan, iptables::Family::Ipv6) {
                Some(render(iptables::Family::Ipv6)?)
            } else {
                None
            };
            ruleset = ipt_apply::join(&v4, v6.as_deref()).into_bytes();
        }
    }
    Ok(ruleset)
}

fn request(
    plan: &Plan,
    args: &ApplyArgs,
    opts: &Dataplane,
    input: Option<String>,
) -> Result<Request, String> {
    let ruleset = ruleset(plan, opts)?;
    let mut zones = Vec::new();
    if args.zone_file.is_some() || args.zone_dir.is_some() {
        let dns_opts = dns_options(
            &args.dns,
            &args.net.proxy.cluster_cidr,
            &plan.cluster.service_cidrs,
        )?;
        let rendered = dns::zones(plan, &dns_opts).map_err(|e| e.to_string())?;
        if let Some(file) = &args.zone_file {
            if let Some(z) = rendered.first() {
                zones.push((file.clone(), z.text.clone()));
            }
        } else if let Some(dir) = &args.zone_dir {
            zones.extend(
                rendered
                    .into_iter()
                    .map(|z| (dir.join(format!("db.{}", z.origin)), z.text)),
            );
        }
    }
    Ok(Request {
        ruleset,
        zones,
        state_dir: args.state_dir.clone(),
        reload_cmd: args.reload_cmd.clone(),
        force: args.force,
        input,
    })
}

/// What would change, against what was last applied: Services, then the text diffs.
fn dry_run(plan: &Plan, req: &Request, nft: bool) {
    let old_plan: Option<Plan> =
        apply::last_plan(&req.state_dir).and_then(|t| serde_json::from_str(&t).ok());
    let mut text = String::new();
    match &old_plan {
        Some(old) => {
            crate::explain::diff::write_human(&crate::explain::diff::diff(old, plan), &mut text)
        }
        None => text.push_str("nothing applied yet: everything is new\n"),
    }
    let old_rules = String::from_utf8_lossy(&apply::last_ruleset(&req.state_dir)).into_owned();
    let new_rules = String::from_utf8_lossy(&req.ruleset).into_owned();
    let rules = apply::line_diff(&old_rules, &new_rules);
    text.push_str(&format!(
        "\nruleset: {}\n{rules}",
        if rules.is_empty() {
            "unchanged"
        } else {
            "changes"
        }
    ));
    if nft && !rules.is_empty() {
        // How apply would load it: the same decisions as `apply::apply` and the nft runner.
        let how = match apply::whole_load_reason(&req.state_dir, req.force, old_rules.as_bytes()) {
            Some(why) => format!("the whole ruleset ({why})"),
            None => match apply::nft::delta_of(old_rules.as_bytes(), &req.ruleset) {
                Ok((_, commands)) => format!(
                    "a delta of {commands} commands (the whole ruleset if the live tables are not as last applied)"
                ),
                Err(why) => format!("the whole ruleset ({why})"),
            },
        };
        text.push_str(&format!("nft would load {how}\n"));
    }
    for (path, zone) in &req.zones {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let d = apply::line_diff(&old, zone);
        text.push_str(&format!(
            "\n{}: {}\n{d}",
            path.display(),
            if d.is_empty() { "unchanged" } else { "changes" }
        ));
    }
    print!("{text}");
}

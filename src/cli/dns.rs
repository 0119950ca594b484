//! `svcc compile --target dns`: the cluster zone on stdout, or every zone in `--out-dir`, each
//! file written atomically and synced to disk as `svcc apply` writes its zones. Names that
//! cannot exist in DNS were reported by lowering (`dns-name-too-long`), with the other
//! findings.

use super::args::DnsArgs;
use super::common;
use super::dataplane::dns_options;
use crate::emit::dns::{self, Error};
use crate::plan::Plan;
use std::io::Write;
use std::process::ExitCode;

pub fn run(plan: &Plan, args: &DnsArgs, cluster_cidrs: &[String]) -> anyhow::Result<ExitCode> {
    let opts = match dns_options(args, cluster_cidrs, &plan.cluster.service_cidrs) {
        Ok(o) => o,
        Err(e) => return Ok(common::usage(&e)),
    };
    if args.reverse && args.out_dir.is_none() {
        return Ok(common::usage(
            &"--reverse produces several zones; give --out-dir DIR",
        ));
    }
    let written = match &args.out_dir {
        None => {
            // Rendered whole before anything reaches stdout.
            let mut text = Vec::new();
            dns::write(plan, &opts, &mut text).and_then(|()| {
                let mut out = std::io::stdout().lock();
                out.write_all(&text)?;
                Ok(out.flush()?)
            })
        }
        Some(dir) => write_dir(plan, &opts, dir),
    };
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Error::Io(e)) => Err(e.into()),
        Err(e @ Error::Name { .. }) => {
            eprintln!("svcc: error: dns target: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Ok(common::usage(&e)),
    }
}

/// Every zone to `dir/db.<zone>`: all rendered first (nothing is written when one cannot be),
/// then each file replaced atomically and synced.
fn write_dir(plan: &Plan, opts: &dns::Options, dir: &std::path::Path) -> Result<(), Error> {
    let zones = dns::zones(plan, opts)?;
    std::fs::create_dir_all(dir)?;
    for z in &zones {
        let path = dir.join(format!("db.{}", z.origin));
        crate::apply::fsutil::write_atomic(&path, z.text.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

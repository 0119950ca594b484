//! `svcc compile --target dns`: the forward zone on stdout, or every zone in `--out-dir`.
//! Names that cannot be written are reported as warnings on stderr.

use super::args::DnsArgs;
use crate::emit::dns::{self, Options};
use crate::model::Model;
use crate::plan::Plan;
use std::io::Write;
use std::process::ExitCode;

pub fn run(plan: &Plan, args: &DnsArgs, _model: &Model) -> anyhow::Result<ExitCode> {
    let opts = Options {
        ttl: args.ttl,
        dns_address: args.dns_address,
        reverse: args.reverse,
        serial: args.serial,
    };
    if args.reverse && args.out_dir.is_none() {
        eprintln!("svcc: error: --reverse produces several zones; give --out-dir DIR");
        return Ok(ExitCode::from(2));
    }
    let (zones, skipped) = dns::zones(plan, &opts);
    for s in &skipped {
        eprintln!(
            "warning[dns-name-too-long]: {} of Service {}/{} is left out of the zone: {}",
            s.name, s.namespace, s.service, s.problem
        );
    }
    match &args.out_dir {
        None => {
            let mut out = std::io::stdout().lock();
            if let Some(z) = zones.first() {
                out.write_all(z.text.as_bytes())?;
            }
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for z in &zones {
                let path = dir.join(format!("db.{}", z.origin));
                let tmp = dir.join(format!(".db.{}.tmp", z.origin));
                std::fs::write(&tmp, &z.text)?;
                std::fs::rename(&tmp, &path)?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

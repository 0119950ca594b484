//! `--target plan`: the plan as pretty-printed JSON, keys in declaration order, deterministic.
//! Shape: `{"format": 1, "cluster": {...}, "services": [ServicePlan]}` (see `src/plan/mod.rs`
//! and the README's "Plan format" section).

use crate::plan::Plan;
use std::io::{self, Write};

pub fn write(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

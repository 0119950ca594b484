//! `--format human`: placeholder until the miette renderer lands (same lines as `short`).

use super::Report;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    super::short::write(report, out)
}

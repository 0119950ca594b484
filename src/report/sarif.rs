//! `--format sarif`: placeholder until the SARIF renderer lands.

use super::Report;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    super::json::write(report, out)
}

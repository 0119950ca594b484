//! `--format short`: one line per finding, `file:line:col: severity[rule]: message`, the form
//! editors and `grep` understand.

use super::Report;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for d in report.diagnostics {
        let at = report.locate(d.span);
        writeln!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            at.file, at.line, at.column, d.severity, d.rule, d.message
        )?;
    }
    Ok(())
}

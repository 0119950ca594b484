//! `--format short`: one line per finding, `file:line:col: severity[rule]: message`, the form
//! editors and `grep` understand. File names and messages are made printable, on one line
//! ([`super::printable`]).

use super::printable::printable_line;
use super::Report;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for d in report.diagnostics {
        let at = report.locate(d.span);
        writeln!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            printable_line(&at.file),
            at.line,
            at.column,
            d.severity,
            d.rule,
            printable_line(&d.message)
        )?;
    }
    Ok(())
}

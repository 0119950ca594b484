//! `--format github`: GitHub Actions workflow commands, so findings appear as annotations on
//! the pull request: `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=ID::message`.
//! Info findings become `::notice`; an input that could not be read becomes a file-less
//! `::error title=svcc::could not read …`. Values are escaped as the runner expects.

use super::Report;
use crate::diag::Severity;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for d in report.diagnostics {
        let at = report.locate(d.span);
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut message = d.message.to_string();
        if let Some(path) = &d.path {
            message.push_str(&format!(" ({path})"));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        writeln!(
            out,
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&at.file),
            at.line,
            at.column,
            at.end_line,
            at.end_column,
            escape_property(d.rule),
            escape_data(&message)
        )?;
    }
    // An input that could not be read fails the run (exit 2): say so where the run is shown.
    for unread in report.unreadable {
        writeln!(
            out,
            "::error title=svcc::{}",
            escape_data(&format!("could not read {unread}"))
        )?;
    }
    Ok(())
}

/// The runner's escapes, on text made printable first (a control character from the input
/// would reach the log raw).
fn escape_data(s: &str) -> String {
    super::printable::printable(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}

//! `iptables-restore` text: tables, chain declarations, rules and jumps from built-in chains,
//! each argument checked as it is written so that no plan string can change a line's meaning.

use super::names::{is_chain, is_comment, is_word};
use super::Error;
use std::fmt::Write as _;

/// The tables svcc writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Filter,
    Nat,
}

impl Table {
    /// In the order they are written (alphabetical, as `iptables-save` sorts them).
    pub const ALL: [Table; 2] = [Table::Filter, Table::Nat];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Nat => "nat",
        }
    }
}

/// One rule: the chain it is appended to and its arguments (`-m`, `tcp`, `-j`, …). An argument
/// holding a space is written between double quotes (comments only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub args: Vec<String>,
}

/// A rule in a built-in chain (`PREROUTING`, `INPUT`, …) that jumps to one of svcc's chains.
/// Restore input cannot add it idempotently (see the module doc), so it is kept apart: the
/// compile output writes it as an `-I <chain> 1` line, `svcc apply` only when `iptables -C`
/// does not find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jump {
    pub table: Table,
    /// The built-in chain.
    pub chain: &'static str,
    /// The rule's arguments, ending in `-j <svcc chain>`.
    pub args: Vec<String>,
}

impl Jump {
    /// The restore line that inserts it at the head of its chain, as kube-proxy does.
    pub fn insert_line(&self) -> Result<String, Error> {
        let mut line = format!("-I {} 1", self.chain);
        write_args(&mut line, &self.args)?;
        Ok(line)
    }

    /// The restore line that deletes it (it must exist, or the whole restore fails).
    pub fn delete_line(&self) -> Result<String, Error> {
        let mut line = format!("-D {}", self.chain);
        write_args(&mut line, &self.args)?;
        Ok(line)
    }

    /// Arguments for `iptables`: `-t <table> -C <chain> <args>…` tests whether it exists.
    pub fn check_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "-t".to_owned(),
            self.table.as_str().to_owned(),
            "-C".to_owned(),
            self.chain.to_owned(),
        ];
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// One table's part of the input.
#[derive(Debug, Default)]
pub struct TableText {
    /// Declared in this order; each `:NAME - [0:0]` creates the chain or empties it.
    pub chains: Vec<String>,
    /// Rules, with `# text` headings between groups (`Err` holds a heading).
    pub lines: Vec<Result<Rule, String>>,
}

/// The whole input: a header, then each table from `*table` to `COMMIT`.
#[derive(Debug, Default)]
pub struct Restore {
    pub header: Vec<String>,
    pub filter: TableText,
    pub nat: TableText,
    /// Jumps from built-in chains, written at the end of their table (empty: none written).
    pub jumps: Vec<Jump>,
}

impl Restore {
    pub fn table_mut(&mut self, table: Table) -> &mut TableText {
        match table {
            Table::Filter => &mut self.filter,
            Table::Nat => &mut self.nat,
        }
    }

    fn table(&self, table: Table) -> &TableText {
        match table {
            Table::Filter => &self.filter,
            Table::Nat => &self.nat,
        }
    }

    /// The text, or the first argument that cannot be written safely.
    pub fn to_text(&self) -> Result<String, Error> {
        let mut out = String::new();
        for line in &self.header {
            check_note(line)?;
            let _ = writeln!(out, "# {line}");
        }
        for table in Table::ALL {
            let text = self.table(table);
            let _ = writeln!(out, "*{}", table.as_str());
            for chain in &text.chains {
                check_chain(chain)?;
                let _ = writeln!(out, ":{chain} - [0:0]");
            }
            for line in &text.lines {
                match line {
                    Ok(rule) => {
                        check_chain(&rule.chain)?;
                        let mut l = format!("-A {}", rule.chain);
                        write_args(&mut l, &rule.args)?;
                        out.push_str(&l);
                        out.push('\n');
                    }
                    Err(heading) => {
                        check_note(heading)?;
                        let _ = writeln!(out, "# {heading}");
                    }
                }
            }
            for jump in self.jumps.iter().filter(|j| j.table == table) {
                out.push_str(&jump.insert_line()?);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        Ok(out)
    }
}

fn invalid(what: &'static str, text: &str, reason: &'static str) -> Error {
    Error::Invalid {
        what,
        text: text.to_owned(),
        reason,
    }
}

fn check_chain(name: &str) -> Result<(), Error> {
    if is_chain(name) {
        Ok(())
    } else {
        Err(invalid(
            "chain",
            name,
            "not a chain name (letters, digits, `-`, `_`; at most 28)",
        ))
    }
}

fn check_note(text: &str) -> Result<(), Error> {
    if text.is_empty() || is_comment(text) {
        Ok(())
    } else {
        Err(invalid("note", text, "not printable ASCII"))
    }
}

/// Appends ` arg` for each argument: bare words as they are, texts with spaces quoted.
fn write_args(line: &mut String, args: &[String]) -> Result<(), Error> {
    if args.is_empty() {
        return Err(invalid("rule", line, "has no arguments"));
    }
    for arg in args {
        if is_word(arg) {
            let _ = write!(line, " {arg}");
        } else if is_comment(arg) {
            let _ = write!(line, " \"{arg}\"");
        } else {
            return Err(invalid(
                "argument",
                arg,
                "holds a character iptables-restore would misread",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(chain: &str, args: &[&str]) -> Rule {
        Rule {
            chain: chain.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn writes_tables_rules_and_jumps() {
        let mut r = Restore {
            header: vec!["svcc".into()],
            ..Restore::default()
        };
        r.nat.chains.push("SVCC-SERVICES".into());
        r.nat.lines.push(Err("ns/svc:http".into()));
        r.nat.lines.push(Ok(rule(
            "SVCC-SERVICES",
            &[
                "-m",
                "comment",
                "--comment",
                "ns/svc:http cluster IP",
                "-j",
                "ACCEPT",
            ],
        )));
        r.jumps.push(Jump {
            table: Table::Nat,
            chain: "PREROUTING",
            args: vec!["-j".into(), "SVCC-SERVICES".into()],
        });
        assert_eq!(
            r.to_text().unwrap(),
            "# svcc\n*filter\nCOMMIT\n*nat\n:SVCC-SERVICES - [0:0]\n# ns/svc:http\n\
             -A SVCC-SERVICES -m comment --comment \"ns/svc:http cluster IP\" -j ACCEPT\n\
             -I PREROUTING 1 -j SVCC-SERVICES\nCOMMIT\n"
        );
        assert_eq!(
            r.jumps[0].check_argv(),
            ["-t", "nat", "-C", "PREROUTING", "-j", "SVCC-SERVICES"]
        );
        assert_eq!(
            r.jumps[0].delete_line().unwrap(),
            "-D PREROUTING -j SVCC-SERVICES"
        );
    }

    /// Text that would end a line, open a quote or start a comment is refused.
    #[test]
    fn refuses_injection() {
        for bad in [
            rule("SVCC-X\n-F", &["-j", "ACCEPT"]),
            rule("SVCC-X", &["-j", "ACCEPT\nCOMMIT"]),
            rule("SVCC-X", &["--comment", "a\" -j DROP \""]),
            rule("SVCC-X", &["--comment", "a\\"]),
            rule("SVCC-X", &[""]),
            rule("SVCC-X", &[]),
            rule(&"X".repeat(29), &["-j", "ACCEPT"]),
        ] {
            let mut r = Restore::default();
            r.filter.lines.push(Ok(bad.clone()));
            assert!(r.to_text().is_err(), "{bad:?}");
        }
    }
}

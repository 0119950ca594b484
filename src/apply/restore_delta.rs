//! The difference between two of svcc's `iptables-restore` inputs, for `svcc apply --target
//! iptables` (see `iptables.rs`): this module owns reading an input into tables, chain
//! declarations and rules, comparing two of them chain by chain, and writing the input that
//! refills only the chains that changed.
//!
//! It reads what `svcc compile --target iptables --no-jumps` writes and nothing more:
//! `*table`, `:CHAIN - [0:0]`, `-A CHAIN …` for a declared chain, `COMMIT`, comments and blank
//! lines. Anything else (a built-in chain's policy, `-I`, `-X`, a rule of an undeclared chain)
//! is a [`ParseError`], and the caller loads the whole input instead.
//!
//! Under `--noflush`, `:CHAIN - [0:0]` creates the chain or empties it; so a chain is refilled
//! by declaring it and appending all its rules again, and a chain that is not mentioned keeps
//! its rules, their counters and its place. A chain is *changed* when the new input declares it
//! and its list of rules (in order) differs from the old input's, or the old input does not
//! declare it; it is *removed* when the old input declares it and the new one does not. Removed
//! chains are not written by [`Delta::changed_input`]: the caller empties and deletes them at the
//! end of their table, after the changed chains (which include every chain that jumped to them:
//! their rule text changed) are refilled.

use std::collections::{BTreeMap, BTreeSet};

/// One table of an input.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedTable {
    /// Declared chains, in the order of their declarations.
    pub chains: Vec<String>,
    /// Each declared chain's rules (whole `-A` lines), in order.
    pub rules: BTreeMap<String, Vec<String>>,
    /// The `-A` lines of the table in input order, as (chain, line).
    order: Vec<(String, String)>,
}

/// An input: its tables by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub tables: BTreeMap<String, ParsedTable>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}: `{text}`")]
pub struct ParseError {
    pub line: usize,
    pub what: &'static str,
    pub text: String,
}

/// Reads one family's restore input.
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    let mut current: Option<(String, ParsedTable)> = None;
    for (i, line) in text.lines().enumerate() {
        let err = |what| ParseError {
            line: i + 1,
            what,
            text: line.to_owned(),
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('*') {
            if current.is_some() {
                return Err(err("table opened before the previous COMMIT"));
            }
            if parsed.tables.contains_key(name) {
                return Err(err("table appears twice"));
            }
            current = Some((name.to_owned(), ParsedTable::default()));
            continue;
        }
        let Some((name, table)) = current.as_mut() else {
            return Err(err("line outside a table"));
        };
        if trimmed == "COMMIT" {
            let table = std::mem::take(table);
            parsed.tables.insert(name.clone(), table);
            current = None;
        } else if let Some(decl) = trimmed.strip_prefix(':') {
            let mut words = decl.split_whitespace();
            let (Some(chain), Some("-"), Some(_counters), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(err("not a user chain declaration `:CHAIN - [0:0]`"));
            };
            if table.rules.contains_key(chain) {
                return Err(err("chain declared twice"));
            }
            table.chains.push(chain.to_owned());
            table.rules.insert(chain.to_owned(), Vec::new());
        } else if let Some(rest) = trimmed.strip_prefix("-A ") {
            let chain = rest.split_whitespace().next().unwrap_or_default();
            let Some(rules) = table.rules.get_mut(chain) else {
                return Err(err("rule of a chain the table does not declare"));
            };
            rules.push(trimmed.to_owned());
            table.order.push((chain.to_owned(), trimmed.to_owned()));
        } else {
            return Err(err("not a line svcc writes"));
        }
    }
    match current {
        Some((name, _)) => Err(ParseError {
            line: text.lines().count(),
            what: "no COMMIT at the end of the table",
            text: format!("*{name}"),
        }),
        None => Ok(parsed),
    }
}

/// What changed in one table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableDelta {
    /// New chains and chains whose rules changed, in the new input's declaration order.
    pub changed: Vec<String>,
    /// Chains the old input declares and the new one does not.
    pub removed: Vec<String>,
    /// The `-A` lines of the changed chains, in the new input's order.
    rules: Vec<String>,
}

/// What changed between two inputs of one family, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    pub tables: BTreeMap<String, TableDelta>,
}

/// Compares two inputs of one family chain by chain.
pub fn diff(old: &Parsed, new: &Parsed) -> Delta {
    let empty = ParsedTable::default();
    let names: BTreeSet<&String> = old.tables.keys().chain(new.tables.keys()).collect();
    let mut delta = Delta::default();
    for name in names {
        let before = old.tables.get(name).unwrap_or(&empty);
        let after = new.tables.get(name).unwrap_or(&empty);
        let changed: Vec<String> = after
            .chains
            .iter()
            .filter(|c| before.rules.get(*c) != after.rules.get(*c))
            .cloned()
            .collect();
        let removed: Vec<String> = before
            .chains
            .iter()
            .filter(|c| !after.rules.contains_key(*c))
            .cloned()
            .collect();
        if changed.is_empty() && removed.is_empty() {
            continue;
        }
        let refilled: BTreeSet<&String> = changed.iter().collect();
        let rules = after
            .order
            .iter()
            .filter(|(chain, _)| refilled.contains(chain))
            .map(|(_, line)| line.clone())
            .collect();
        delta.tables.insert(
            name.clone(),
            TableDelta {
                changed,
                removed,
                rules,
            },
        );
    }
    delta
}

impl Delta {
    /// The chains each table removes, in the old input's declaration order.
    pub fn removed(&self) -> BTreeMap<String, Vec<String>> {
        self.tables
            .iter()
            .filter(|(_, d)| !d.removed.is_empty())
            .map(|(t, d)| (t.clone(), d.removed.clone()))
            .collect()
    }

    /// The restore input (for `--noflush`) that declares, and so empties, each changed chain
    /// and appends its rules again; one `*table … COMMIT` block per table with a changed chain.
    /// Removed chains are not in it (see the module doc).
    pub fn changed_input(&self) -> String {
        let mut out = String::new();
        for (name, table) in &self.tables {
            if table.changed.is_empty() {
                continue;
            }
            out.push_str(&format!("*{name}\n"));
            for chain in &table.changed {
                out.push_str(&format!(":{chain} - [0:0]\n"));
            }
            for line in &table.rules {
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# svcc: header\n*filter\n:SVCC-SERVICES - [0:0]\nCOMMIT\n*nat\n\
        :SVCC-SERVICES - [0:0]\n:SVCC-SVC-A - [0:0]\n:SVCC-SVC-B - [0:0]\n:SVCC-SEP-A1 - [0:0]\n\
        :SVCC-SEP-B1 - [0:0]\n# default/a\n-A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A\n\
        -A SVCC-SVC-A -j SVCC-SEP-A1\n-A SVCC-SEP-A1 -j DNAT --to-destination 10.0.0.1:80\n\
        # default/b\n-A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B\n-A SVCC-SVC-B -j SVCC-SEP-B1\n\
        -A SVCC-SEP-B1 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n";

    fn parsed(text: &str) -> Parsed {
        parse(text).unwrap()
    }

    #[test]
    fn parses_tables_declarations_and_rules_in_order() {
        let p = parsed(OLD);
        assert_eq!(p.tables.len(), 2);
        let nat = &p.tables["nat"];
        assert_eq!(
            nat.chains,
            [
                "SVCC-SERVICES",
                "SVCC-SVC-A",
                "SVCC-SVC-B",
                "SVCC-SEP-A1",
                "SVCC-SEP-B1"
            ]
        );
        assert_eq!(
            nat.rules["SVCC-SERVICES"],
            [
                "-A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A",
                "-A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B"
            ]
        );
        assert!(p.tables["filter"].rules["SVCC-SERVICES"].is_empty());
    }

    #[test]
    fn refuses_what_svcc_does_not_write() {
        for (text, what) in [
            ("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", "declaration"),
            (
                "*nat\n-A PREROUTING -j SVCC-SERVICES\nCOMMIT\n",
                "does not declare",
            ),
            (
                "*nat\n:SVCC-X - [0:0]\n-I SVCC-X 1 -j DROP\nCOMMIT\n",
                "not a line",
            ),
            ("*nat\n:SVCC-X - [0:0]\n-X SVCC-X\nCOMMIT\n", "not a line"),
            ("*nat\n:SVCC-X - [0:0]\n", "no COMMIT"),
            ("-A SVCC-X -j DROP\n", "outside a table"),
            ("*nat\nCOMMIT\n*nat\nCOMMIT\n", "twice"),
            ("*nat\n:SVCC-X - [0:0]\n:SVCC-X - [0:0]\nCOMMIT\n", "twice"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn same_rules_make_an_empty_delta_whatever_the_comments_and_order_of_chains() {
        let reordered = OLD.replace("# default/a\n", "").replace(
            ":SVCC-SVC-A - [0:0]\n:SVCC-SVC-B - [0:0]\n",
            ":SVCC-SVC-B - [0:0]\n:SVCC-SVC-A - [0:0]\n",
        );
        let d = diff(&parsed(OLD), &parsed(&reordered));
        assert!(d.tables.is_empty(), "{d:?}");
        assert_eq!(d.changed_input(), "");
    }

    #[test]
    fn a_new_endpoint_refills_its_service_chain_and_adds_its_endpoint_chain() {
        let new = OLD
            .replace(
                ":SVCC-SEP-B1 - [0:0]\n",
                ":SVCC-SEP-B1 - [0:0]\n:SVCC-SEP-B2 - [0:0]\n",
            )
            .replace(
                "-A SVCC-SVC-B -j SVCC-SEP-B1\n",
                "-A SVCC-SVC-B -m statistic --mode random --probability 0.5 -j SVCC-SEP-B1\n\
                 -A SVCC-SVC-B -j SVCC-SEP-B2\n",
            )
            .replace(
                "-A SVCC-SEP-B1 -j DNAT --to-destination 10.0.0.2:80\n",
                "-A SVCC-SEP-B1 -j DNAT --to-destination 10.0.0.2:80\n\
                 -A SVCC-SEP-B2 -j DNAT --to-destination 10.0.0.3:80\n",
            );
        let d = diff(&parsed(OLD), &parsed(&new));
        assert_eq!(d.tables.len(), 1);
        assert_eq!(d.tables["nat"].changed, ["SVCC-SVC-B", "SVCC-SEP-B2"]);
        assert!(d.tables["nat"].removed.is_empty());
        assert_eq!(
            d.changed_input(),
            "*nat\n:SVCC-SVC-B - [0:0]\n:SVCC-SEP-B2 - [0:0]\n\
             -A SVCC-SVC-B -m statistic --mode random --probability 0.5 -j SVCC-SEP-B1\n\
             -A SVCC-SVC-B -j SVCC-SEP-B2\n\
             -A SVCC-SEP-B2 -j DNAT --to-destination 10.0.0.3:80\nCOMMIT\n"
        );
    }

    #[test]
    fn a_removed_service_refills_the_chains_that_jumped_to_it_and_removes_its_chains() {
        let new = OLD
            .replace(":SVCC-SVC-B - [0:0]\n", "")
            .replace(":SVCC-SEP-B1 - [0:0]\n", "")
            .replace("-A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B\n", "")
            .replace("-A SVCC-SVC-B -j SVCC-SEP-B1\n", "")
            .replace("-A SVCC-SEP-B1 -j DNAT --to-destination 10.0.0.2:80\n", "");
        let d = diff(&parsed(OLD), &parsed(&new));
        let nat = &d.tables["nat"];
        assert_eq!(nat.changed, ["SVCC-SERVICES"]);
        assert_eq!(nat.removed, ["SVCC-SVC-B", "SVCC-SEP-B1"]);
        assert_eq!(d.removed()["nat"], ["SVCC-SVC-B", "SVCC-SEP-B1"]);
        assert_eq!(
            d.changed_input(),
            "*nat\n:SVCC-SERVICES - [0:0]\n-A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A\nCOMMIT\n"
        );
    }

    #[test]
    fn a_chain_emptied_is_changed_and_a_table_that_went_away_removes_its_chains() {
        let new = "*nat\n:SVCC-SERVICES - [0:0]\n:SVCC-SVC-A - [0:0]\n:SVCC-SVC-B - [0:0]\n\
                   :SVCC-SEP-A1 - [0:0]\n:SVCC-SEP-B1 - [0:0]\n\
                   -A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A\n-A SVCC-SVC-A -j SVCC-SEP-A1\n\
                   -A SVCC-SEP-A1 -j DNAT --to-destination 10.0.0.1:80\n\
                   -A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B\n\
                   -A SVCC-SEP-B1 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n";
        let d = diff(&parsed(OLD), &parsed(new));
        assert_eq!(d.tables["nat"].changed, ["SVCC-SVC-B"]);
        assert_eq!(d.tables["filter"].removed, ["SVCC-SERVICES"]);
        assert!(d.tables["filter"].changed.is_empty());
        assert_eq!(
            d.changed_input(),
            "*nat\n:SVCC-SVC-B - [0:0]\nCOMMIT\n",
            "an emptied chain is declared (emptied) with no rules"
        );
    }

    #[test]
    fn a_rule_moved_within_its_chain_is_a_change() {
        let new = OLD.replace(
            "-A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A\n-A SVCC-SVC-A -j SVCC-SEP-A1\n\
             -A SVCC-SEP-A1 -j DNAT --to-destination 10.0.0.1:80\n# default/b\n\
             -A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B\n",
            "-A SVCC-SERVICES -d 10.96.0.2 -j SVCC-SVC-B\n\
             -A SVCC-SERVICES -d 10.96.0.1 -j SVCC-SVC-A\n-A SVCC-SVC-A -j SVCC-SEP-A1\n\
             -A SVCC-SEP-A1 -j DNAT --to-destination 10.0.0.1:80\n",
        );
        assert_ne!(new, OLD);
        let d = diff(&parsed(OLD), &parsed(&new));
        assert_eq!(d.tables["nat"].changed, ["SVCC-SERVICES"]);
    }
}

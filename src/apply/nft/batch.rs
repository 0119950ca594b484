//! Reading an `nft -f` batch written by svcc's nft target back into its objects: per table,
//! the chains with their rules and the sets and maps with their elements, each as the lines
//! that created it. The delta ([`super::delta`]) compares two of these.
//!
//! Only the shapes the target writes are understood (`add table|chain|set|map|rule|element`,
//! `delete table`, `# ` notes, one command per line). Anything else, and any name or key that
//! is not what the target would write, makes the batch unreadable ([`Unreadable`]); apply then
//! loads the new ruleset whole rather than guessing.

use crate::emit::nft::names::is_identifier;
use crate::emit::nft::objects::is_expression_text;
use std::collections::HashMap;

/// A family and a table name, as nft writes them (`ip svcc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId<'a> {
    pub family: &'a str,
    pub name: &'a str,
}

impl std::fmt::Display for TableId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.family, self.name)
    }
}

/// A chain: the line that declares it and its rule lines, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Chain<'a> {
    pub declaration: &'a str,
    pub rules: Vec<&'a str>,
}

/// A set or a map: the line that declares it and its element lines by key.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Set<'a> {
    pub declaration: &'a str,
    pub elements: HashMap<&'a str, &'a str>,
    /// Keys in the order the batch adds them (the delta writes in batch order).
    pub order: Vec<&'a str>,
}

/// One table as the batch (re)creates it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Table<'a> {
    /// The `add table … { comment … }` line that creates it.
    pub declaration: &'a str,
    pub chains: HashMap<&'a str, Chain<'a>>,
    pub chain_order: Vec<&'a str>,
    pub sets: HashMap<&'a str, Set<'a>>,
    pub set_order: Vec<&'a str>,
}

/// The tables a batch leaves behind, in the order it creates them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch<'a> {
    pub tables: Vec<(TableId<'a>, Table<'a>)>,
}

/// A line the reader does not understand, with its number (1-based).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the ruleset is not one svcc writes: {reason}")]
pub struct Unreadable {
    pub line: usize,
    pub reason: &'static str,
}

impl<'a> Batch<'a> {
    pub fn table(&self, id: &TableId<'_>) -> Option<&Table<'a>> {
        self.tables.iter().find(|(t, _)| t == id).map(|(_, t)| t)
    }
}

/// The tables a batch leaves behind, in the order it creates them, read from its `table`
/// lines only (a whole load needs no more).
pub fn tables(text: &str) -> Result<Vec<TableId<'_>>, Unreadable> {
    let mut tables = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some((verb, rest)) = line.split_once(" table ") else {
            continue;
        };
        if !matches!(verb, "add" | "delete") {
            continue;
        }
        let mut words = rest.splitn(3, ' ');
        let (Some(family), Some(name)) = (words.next(), words.next()) else {
            return Err(Unreadable {
                line: index + 1,
                reason: "a table without a name",
            });
        };
        let id = TableId { family, name };
        if !matches!(family, "ip" | "ip6") || !is_identifier(name) {
            return Err(Unreadable {
                line: index + 1,
                reason: "not a table svcc writes",
            });
        }
        tables.retain(|t| *t != id);
        // `add table` without properties only makes the following `delete` safe.
        if verb == "add" && words.next().is_some() {
            tables.push(id);
        }
    }
    Ok(tables)
}

/// Reads a batch. The table a command names must have been created by an earlier line.
pub fn read(text: &str) -> Result<Batch<'_>, Unreadable> {
    let mut batch = Batch::default();
    for (index, line) in text.lines().enumerate() {
        let bad = |reason| Unreadable {
            line: index + 1,
            reason,
        };
        if line.is_empty() || line.starts_with("# ") {
            continue;
        }
        let mut words = line.splitn(6, ' ');
        let (Some(verb), Some(kind), Some(family), Some(table)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad("too few words"));
        };
        if !matches!(family, "ip" | "ip6") || !is_identifier(table) {
            return Err(bad("not a table svcc writes"));
        }
        let id = TableId {
            family,
            name: table,
        };
        let name = words.next();
        let rest = words.next();
        match (verb, kind) {
            ("delete", "table") => batch.tables.retain(|(t, _)| *t != id),
            ("add", "table") => {
                // `add table` without properties only makes the following `delete` safe.
                if name.is_some() {
                    batch.tables.retain(|(t, _)| *t != id);
                    batch.tables.push((
                        id,
                        Table {
                            declaration: line,
                            ..Table::default()
                        },
                    ));
                }
            }
            ("add", "chain" | "set" | "map" | "rule" | "element") => {
                let name = name.filter(|n| is_identifier(n)).ok_or(bad("bad name"))?;
                let Some((_, t)) = batch.tables.iter_mut().find(|(t, _)| *t == id) else {
                    return Err(bad("names a table the batch did not create"));
                };
                add(t, kind, name, rest, line).map_err(bad)?;
            }
            _ => return Err(bad("a command svcc does not write")),
        }
    }
    Ok(batch)
}

/// Files one `add` line of a created table.
fn add<'a>(
    table: &mut Table<'a>,
    kind: &str,
    name: &'a str,
    rest: Option<&'a str>,
    line: &'a str,
) -> Result<(), &'static str> {
    match kind {
        "chain" => declare(
            &mut table.chains,
            &mut table.chain_order,
            name,
            Chain {
                declaration: line,
                rules: Vec::new(),
            },
        )
        .map_err(|()| "a chain declared twice")?,
        "set" | "map" => declare(
            &mut table.sets,
            &mut table.set_order,
            name,
            Set {
                declaration: line,
                ..Set::default()
            },
        )
        .map_err(|()| "a set declared twice")?,
        "rule" => table
            .chains
            .get_mut(name)
            .ok_or("a rule of an undeclared chain")?
            .rules
            .push(line),
        _ => {
            let key = rest
                .and_then(element_key)
                .ok_or("an element without a key")?;
            if !is_expression_text(key) {
                return Err("an element key svcc does not write");
            }
            let set = table
                .sets
                .get_mut(name)
                .ok_or("an element of an undeclared set")?;
            if set.elements.insert(key, line).is_some() {
                return Err("an element added twice");
            }
            set.order.push(key);
        }
    }
    Ok(())
}

/// Files a newly declared object under its name, keeping the order of declarations; a name
/// declared twice is an error.
fn declare<'a, T>(
    objects: &mut HashMap<&'a str, T>,
    order: &mut Vec<&'a str>,
    name: &'a str,
    object: T,
) -> Result<(), ()> {
    if objects.insert(name, object).is_some() {
        return Err(());
    }
    order.push(name);
    Ok(())
}

/// The key of `{ KEY [comment "…"] [: VALUE] }`.
fn element_key(body: &str) -> Option<&str> {
    let inner = body.strip_prefix("{ ")?.strip_suffix(" }")?;
    let end = inner
        .find(" comment \"")
        .or_else(|| inner.find(" : "))
        .unwrap_or(inner.len());
    Some(&inner[..end]).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = "\
# svcc: replaces tables ip svcc and ip6 svcc in one transaction
add table ip svcc
delete table ip svcc
add table ip6 svcc
delete table ip6 svcc
add table ip svcc { comment \"svcc\" ; }
add chain ip svcc services
add chain ip svcc service-A
add set ip svcc cluster-ips { type ipv4_addr ; }
add map ip svcc service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
# default/a
add rule ip svcc services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip svcc service-A dnat to 10.1.0.1:80
add element ip svcc cluster-ips { 10.0.0.1 comment \"default/a\" }
add element ip svcc service-ips { 10.0.0.1 . tcp . 80 : goto service-A }
";

    #[test]
    fn reads_tables_chains_sets_and_keys() {
        let batch = read(BATCH).unwrap();
        assert_eq!(
            batch.tables.len(),
            1,
            "the ip6 table is deleted, not re-created"
        );
        let (id, table) = &batch.tables[0];
        assert_eq!(id.to_string(), "ip svcc");
        assert_eq!(table.chain_order, ["services", "service-A"]);
        assert_eq!(
            table.chains["service-A"].rules,
            ["add rule ip svcc service-A dnat to 10.1.0.1:80"]
        );
        assert_eq!(table.sets["cluster-ips"].order, ["10.0.0.1"]);
        assert_eq!(table.sets["service-ips"].order, ["10.0.0.1 . tcp . 80"]);
        let ids: Vec<String> = tables(BATCH)
            .unwrap()
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(ids, ["ip svcc"], "the table lines alone tell the same");
    }

    #[test]
    fn element_keys() {
        assert_eq!(element_key("{ 10.0.0.1 }"), Some("10.0.0.1"));
        assert_eq!(
            element_key("{ fd00:: . tcp . 80 : goto x }"),
            Some("fd00:: . tcp . 80")
        );
        assert_eq!(element_key("{ fd00:: : drop }"), Some("fd00::"));
        assert_eq!(
            element_key("{ 10.0.0.1 comment \"a : b\" : drop }"),
            Some("10.0.0.1")
        );
        assert_eq!(element_key("{  }"), None);
        assert_eq!(element_key("10.0.0.1"), None);
    }

    #[test]
    fn refuses_what_svcc_does_not_write() {
        for (text, line) in [
            ("flush ruleset\n", 1),
            ("add table ip svcc { }\nadd rule ip svcc nowhere accept\n", 2),
            ("add table ip svcc { }\nadd chain ip svcc a;b\n", 2),
            ("add table inet svcc { }\n", 1),
            ("add chain ip svcc x\n", 1),
            (
                "add table ip svcc { }\nadd set ip svcc s { type mark ; }\nadd element ip svcc s { 1; flush ruleset }\n",
                3,
            ),
        ] {
            assert_eq!(read(text).unwrap_err().line, line, "{text}");
        }
    }
}

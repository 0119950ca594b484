//! The difference between two batches as one `nft -f` transaction: what turns the tables the
//! old batch made into the tables the new batch makes, without touching anything else.
//!
//! Per table, in this order (each command only names what exists at that point):
//!
//! 1. new chains, sets and maps are added;
//! 2. chains whose rules changed, and chains that are going away, are flushed;
//! 3. elements that are gone or changed (same key, other value or comment) are deleted;
//! 4. sets and maps whose declaration changed (an affinity timeout, say) are deleted and
//!    declared again (nft cannot change a set's type or timeout in place); every chain whose
//!    rules name one (`@name`) is flushed and refilled in step 2 and 5;
//! 5. the rules of flushed chains that stay, and of new chains, are added, in batch order;
//! 6. new and changed elements are added, and every element of a new or re-declared set;
//! 7. chains, sets and maps that are gone are deleted. Whatever referred to them was a rule
//!    or an element whose text named them, so it was flushed or deleted above.
//!
//! Unchanged chains keep their rules (and counters), and sets whose declaration is unchanged
//! keep their elements: the entries a `dynamic` affinity set learned survive a delta.
//!
//! There is no delta ([`NoDelta`]) when the two batches do not have the same tables, or a
//! table or chain is declared differently (a base chain's hook or priority): the new batch is
//! then loaded whole.

use super::batch::{Batch, Set, Table, TableId};
use std::collections::HashSet;
use std::fmt::Write as _;

/// Why the new batch must be loaded whole.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoDelta {
    #[error("the tables differ ({0})")]
    Tables(String),
    #[error("table {0} is declared differently")]
    TableDeclaration(String),
    #[error("chain {1} of table {0} is declared differently")]
    ChainDeclaration(String, String),
}

/// The commands that turn `old`'s tables into `new`'s, as `nft -f` text, and their number.
pub fn delta(old: &Batch<'_>, new: &Batch<'_>) -> Result<(String, usize), NoDelta> {
    let ids = |b: &Batch<'_>| {
        b.tables
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
    };
    if ids(old) != ids(new) {
        let names = |b: &Batch<'_>| ids(b).join(", ");
        return Err(NoDelta::Tables(format!(
            "{} before, {} now",
            names(old),
            names(new)
        )));
    }
    let mut out = Delta::default();
    for (id, new_table) in &new.tables {
        let Some(old_table) = old.table(id) else {
            continue;
        };
        table_delta(*id, old_table, new_table, &mut out)?;
    }
    Ok((out.text, out.commands))
}

#[derive(Default)]
struct Delta {
    text: String,
    commands: usize,
}

impl Delta {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.commands += 1;
    }

    fn command(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = self.text.write_fmt(args);
        self.text.push('\n');
        self.commands += 1;
    }
}

fn table_delta(
    id: TableId<'_>,
    old: &Table<'_>,
    new: &Table<'_>,
    out: &mut Delta,
) -> Result<(), NoDelta> {
    if old.declaration != new.declaration {
        return Err(NoDelta::TableDeclaration(id.to_string()));
    }
    // Sets and maps declared again (same name, another declaration).
    let redeclared: Vec<&str> = new
        .set_order
        .iter()
        .copied()
        .filter(|name| {
            old.sets
                .get(name)
                .is_some_and(|o| o.declaration != new.sets[name].declaration)
        })
        .collect();
    let mut refill: Vec<&str> = Vec::new();
    for name in &new.chain_order {
        let chain = &new.chains[name];
        let Some(before) = old.chains.get(name) else {
            continue;
        };
        if before.declaration != chain.declaration {
            return Err(NoDelta::ChainDeclaration(
                id.to_string(),
                (*name).to_owned(),
            ));
        }
        let names_redeclared = || {
            before
                .rules
                .iter()
                .chain(&chain.rules)
                .any(|rule| redeclared.iter().any(|set| names_set(rule, set)))
        };
        if before.rules != chain.rules || names_redeclared() {
            refill.push(name);
        }
    }
    let gone_chains: Vec<&str> = old
        .chain_order
        .iter()
        .copied()
        .filter(|name| !new.chains.contains_key(name))
        .collect();
    let gone_sets: Vec<&str> = old
        .set_order
        .iter()
        .copied()
        .filter(|name| !new.sets.contains_key(name))
        .collect();

    // 1. New chains, sets and maps.
    for name in &new.chain_order {
        if !old.chains.contains_key(name) {
            out.line(new.chains[name].declaration);
        }
    }
    for name in &new.set_order {
        if !old.sets.contains_key(name) {
            out.line(new.sets[name].declaration);
        }
    }
    // 2. Flushes.
    for name in refill.iter().chain(&gone_chains) {
        out.command(format_args!("flush chain {id} {name}"));
    }
    // 3. Elements gone or changed, in sets that stay as declared.
    let kept = |name: &str| old.sets.contains_key(name) && !redeclared.contains(&name);
    for name in new.set_order.iter().filter(|name| kept(name)) {
        let (before, now) = (&old.sets[name], &new.sets[name]);
        for key in &before.order {
            if now.elements.get(key) != before.elements.get(key) {
                out.command(format_args!("delete element {id} {name} {{ {key} }}"));
            }
        }
    }
    // 4. Sets declared again.
    for name in &redeclared {
        out.command(format_args!(
            "delete {} {id} {name}",
            set_kind(&new.sets[name])
        ));
        out.line(new.sets[name].declaration);
    }
    // 5. Rules of refilled and new chains.
    let refilled: HashSet<&str> = refill.iter().copied().collect();
    for name in &new.chain_order {
        if refilled.contains(name) || !old.chains.contains_key(name) {
            for rule in &new.chains[name].rules {
                out.line(rule);
            }
        }
    }
    // 6. Elements new or changed; every element of new and re-declared sets.
    for name in &new.set_order {
        let now = &new.sets[name];
        let whole = !kept(name);
        for key in &now.order {
            let before = (!whole).then(|| old.sets[name].elements.get(key)).flatten();
            if whole || before != now.elements.get(key) {
                out.line(now.elements[key]);
            }
        }
    }
    // 7. What is gone.
    for name in &gone_chains {
        out.command(format_args!("delete chain {id} {name}"));
    }
    for name in &gone_sets {
        out.command(format_args!(
            "delete {} {id} {name}",
            set_kind(&old.sets[name])
        ));
    }
    Ok(())
}

/// `set` or `map`, from the declaration.
fn set_kind(set: &Set<'_>) -> &'static str {
    if set.declaration.starts_with("add map ") {
        "map"
    } else {
        "set"
    }
}

/// Whether a rule line names set `name` (`@name`, ended by a space or the line's end).
fn names_set(rule: &str, name: &str) -> bool {
    rule.match_indices('@').any(|(at, _)| {
        rule[at + 1..]
            .strip_prefix(name)
            .is_some_and(|after| after.is_empty() || after.starts_with(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::super::batch::read;
    use super::*;

    fn batch(body: &str) -> String {
        format!(
            "add table ip svcc\ndelete table ip svcc\nadd table ip svcc {{ comment \"x\" ; }}\n{body}"
        )
    }

    fn diff(old: &str, new: &str) -> Result<String, NoDelta> {
        let (old, new) = (batch(old), batch(new));
        delta(&read(&old).unwrap(), &read(&new).unwrap()).map(|(text, n)| {
            assert_eq!(text.lines().count(), n);
            text
        })
    }

    const BASE: &str = "\
add chain ip svcc services
add chain ip svcc service-a
add chain ip svcc service-b
add map ip svcc service-ips { type ipv4_addr : verdict ; }
add set ip svcc affinity-b { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
add rule ip svcc services ip daddr vmap @service-ips
add rule ip svcc service-a dnat to 10.1.0.1:80
add rule ip svcc service-b ip saddr @affinity-b dnat to 10.1.0.2:80
add element ip svcc service-ips { 10.0.0.1 : goto service-a }
add element ip svcc service-ips { 10.0.0.2 : goto service-b }
";

    #[test]
    fn equal_batches_need_no_command() {
        assert_eq!(diff(BASE, BASE).unwrap(), "");
    }

    #[test]
    fn a_changed_chain_is_flushed_and_refilled() {
        let new = BASE.replace("10.1.0.1:80", "10.1.0.9:80");
        assert_eq!(
            diff(BASE, &new).unwrap(),
            "flush chain ip svcc service-a\nadd rule ip svcc service-a dnat to 10.1.0.9:80\n"
        );
    }

    #[test]
    fn a_removed_service_goes_after_its_element() {
        let new: String = BASE
            .lines()
            .filter(|l| !l.contains("service-a"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            diff(BASE, &new).unwrap(),
            "flush chain ip svcc service-a\n\
             delete element ip svcc service-ips { 10.0.0.1 }\n\
             delete chain ip svcc service-a\n"
        );
    }

    #[test]
    fn an_added_service_is_created_before_it_is_named() {
        let new = format!(
            "{BASE}add chain ip svcc service-c\nadd rule ip svcc service-c dnat to 10.1.0.3:80\n\
             add element ip svcc service-ips {{ 10.0.0.3 : goto service-c }}\n"
        );
        assert_eq!(
            diff(BASE, &new).unwrap(),
            "add chain ip svcc service-c\n\
             add rule ip svcc service-c dnat to 10.1.0.3:80\n\
             add element ip svcc service-ips { 10.0.0.3 : goto service-c }\n"
        );
    }

    #[test]
    fn a_changed_verdict_is_deleted_then_added() {
        let new = BASE.replace("10.0.0.2 : goto service-b", "10.0.0.2 : drop");
        assert_eq!(
            diff(BASE, &new).unwrap(),
            "delete element ip svcc service-ips { 10.0.0.2 }\n\
             add element ip svcc service-ips { 10.0.0.2 : drop }\n"
        );
    }

    #[test]
    fn a_redeclared_set_refills_the_chains_naming_it() {
        let new = BASE.replace("timeout 10800s", "timeout 60s");
        assert_eq!(
            diff(BASE, &new).unwrap(),
            "flush chain ip svcc service-b\n\
             delete set ip svcc affinity-b\n\
             add set ip svcc affinity-b { type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }\n\
             add rule ip svcc service-b ip saddr @affinity-b dnat to 10.1.0.2:80\n"
        );
    }

    #[test]
    fn another_table_or_base_chain_means_a_whole_load() {
        let old = batch("add chain ip svcc in { type filter hook input priority 0 ; }\n");
        let new = batch("add chain ip svcc in { type filter hook input priority 10 ; }\n");
        assert!(matches!(
            delta(&read(&old).unwrap(), &read(&new).unwrap()),
            Err(NoDelta::ChainDeclaration(..))
        ));
        let v6 = format!("{old}add table ip6 svcc {{ comment \"x\" ; }}\n");
        assert!(matches!(
            delta(&read(&old).unwrap(), &read(&v6).unwrap()),
            Err(NoDelta::Tables(_))
        ));
    }

    #[test]
    fn set_names_are_matched_whole() {
        assert!(names_set("ip saddr @affinity-b dnat", "affinity-b"));
        assert!(names_set("vmap @service-ips", "service-ips"));
        assert!(!names_set("ip saddr @affinity-bc dnat", "affinity-b"));
        assert!(!names_set("goto affinity-b", "affinity-b"));
    }
}

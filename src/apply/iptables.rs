//! `svcc apply --target iptables`: what a restore input cannot do by itself.
//!
//! The compiled input (`svcc compile --target iptables --no-jumps`) declares and fills svcc's
//! chains; loading it with `iptables-restore --noflush` replaces their rules in one
//! transaction. Two things depend on the node and are added here, to the same input, right
//! before each test and load:
//!
//! - **Jumps from built-in chains** (`PREROUTING`, `INPUT`, …): each is looked up with
//!   `iptables -t <table> -C <chain> <rule>` and its `-I <chain> 1 <rule>` line is added only
//!   when it is missing. A restore line cannot do that itself: under `--noflush` an insert adds
//!   a copy on every load, and a `-D` for a rule that is not there fails the whole restore. So
//!   running apply again never duplicates a jump, and a jump someone deleted comes back on the
//!   next load (one that changes something, or `--force`).
//! - **Stale chains**: `iptables-save` lists the node's chains; every chain with svcc's prefix
//!   that the new input does not declare is declared too (`:NAME - [0:0]`, which empties it)
//!   and deleted (`-X NAME`) at the end of its table, so chains of removed Services and
//!   endpoints go away in the same transaction. Only svcc's own chains refer to them, and those
//!   are all emptied by the same input, so the deletion cannot fail on a reference.
//!
//! One applied input holds both families: the IPv4 input, then, when the plan has IPv6
//! addresses, the line [`IPV6_MARKER`] and the IPv6 input, loaded with `ip6tables-restore`.
//! Both are tested before either is loaded; the two loads are two transactions. When a plan
//! no longer has IPv6 addresses, the IPv6 input is no longer applied, so svcc's IPv6 chains
//! stay as they were until `svcc apply --target iptables --remove`.
//!
//! `--remove` uses the same machinery with an input that declares nothing: every svcc chain is
//! stale, and every jump that exists gets a `-D` line before the chains are deleted.
//!
//! ## Whole loads and deltas
//!
//! A **whole load** ([`Runner::load`]: the first apply, `--force`, or a fallback below) sends
//! every chain as above. A **delta** ([`Runner::change`], every other apply) sends, per family,
//! only what differs from `old`, the input svcc applied last (its state dir's `ruleset`);
//! `restore_delta` compares the two chain by chain:
//!
//! - chains that are new or whose rules changed are declared (under `--noflush` that empties
//!   them) and all their rules appended again; unchanged chains are not mentioned, so their
//!   rules, counters and places stay;
//! - chains `old` declares and the new input does not are declared (emptied) and deleted at the
//!   end of their table, after the chains that jumped to them were refilled (their rule text
//!   changed, so they are in the delta);
//! - the jumps from built-in chains are looked up (`iptables -C`) and added when missing, as
//!   for a whole load.
//!
//! A delta does **not** read `iptables-save`: at 10,000 Services (iptables 1.8.9, nf_tables
//! backend) it took 121 s before printing the nat table's first rule, and one run segfaulted
//! after 159 s, while the delta's restore took 0.08 s (`benches/apply-iptables.sh`). So a
//! delta does not look for stale chains (a whole load does), and it notices a node that is not
//! what `old` made it only when the restore fails: a rule of the delta that jumps to a chain
//! that is missing is refused. The whole ruleset is loaded instead of a delta, with a line on
//! stderr saying why, when:
//!
//! - `old` and the new input do not have the same families (IPv6 came or went): the whole load
//!   of the new input; as for any whole load, IPv6 chains of a plan that no longer has IPv6
//!   stay until `--remove`;
//! - an input holds a line svcc does not write (see `restore_delta`);
//! - the delta's `--test` or its load fails (a chain it needs was deleted behind svcc's back,
//!   or anything else). Only one whole load follows; when it fails too, the error is returned.
//!   Each family's restore is one transaction, so a refused load leaves that family's tables as
//!   they were. (With the nf_tables backend `iptables-restore --test` does not ask the kernel,
//!   so a chain still referenced from outside svcc is only refused by the load itself.)
//!
//! A delta does not notice svcc chains deleted or changed by hand that it does not touch:
//! `--force` loads the whole ruleset.

use super::restore_delta;
use super::runner::{load_whole_instead, IptablesRunner, Loaded, RunError, Runner};
use crate::emit::iptables::{self, Family, Jump, Table};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Separates the IPv4 and IPv6 inputs in an applied ruleset.
pub const IPV6_MARKER: &str = "# svcc: ip6tables-restore input follows";

/// What apply needs from a node's xtables: look-ups and restores.
pub trait Xtables {
    /// Whether `jump` exists (`iptables -C`).
    fn has_rule(&mut self, family: Family, jump: &Jump) -> Result<bool, RunError>;
    /// The user-defined and built-in chains of each table (`iptables-save`).
    fn chains(&mut self, family: Family) -> Result<BTreeMap<String, BTreeSet<String>>, RunError>;
    /// `iptables-restore --noflush`, with `--test` when `test`.
    fn restore(&mut self, family: Family, input: &[u8], test: bool) -> Result<(), RunError>;
}

/// The node's own `iptables`, `iptables-save` and `iptables-restore` (and the ip6 ones).
#[derive(Debug, Default)]
pub struct SystemXtables;

fn run(tool: &str, args: &[String]) -> Result<std::process::Output, RunError> {
    let program = super::runner::which(tool).ok_or_else(|| RunError::NotFound(tool.to_owned()))?;
    Command::new(program)
        .args(args)
        .output()
        .map_err(|source| RunError::Io {
            tool: tool.to_owned(),
            source,
        })
}

impl Xtables for SystemXtables {
    fn has_rule(&mut self, family: Family, jump: &Jump) -> Result<bool, RunError> {
        let out = run(family.tool(), &jump.check_argv())?;
        match out.status.code() {
            Some(0) => Ok(true),
            // 1: no such rule; 2: its target chain does not exist (yet).
            Some(1 | 2) => Ok(false),
            _ => Err(RunError::Refused {
                tool: family.tool().to_owned(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }),
        }
    }

    fn chains(&mut self, family: Family) -> Result<BTreeMap<String, BTreeSet<String>>, RunError> {
        let out = run(family.save_tool(), &[])?;
        if !out.status.success() {
            return Err(RunError::Refused {
                tool: family.save_tool().to_owned(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(parse_chains(&String::from_utf8_lossy(&out.stdout)))
    }

    fn restore(&mut self, family: Family, input: &[u8], test: bool) -> Result<(), RunError> {
        let mut runner = IptablesRunner::find(family == Family::Ipv6)?;
        if test {
            runner.check(input)
        } else {
            runner.apply(input)
        }
    }
}

/// Chains per table from `iptables-save` text (`*nat`, then `:NAME POLICY [p:b]` lines).
pub fn parse_chains(save: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut chains: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut table = None;
    for line in save.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = Some(name.trim().to_owned());
        } else if let (Some(t), Some(rest)) = (&table, line.strip_prefix(':')) {
            if let Some(name) = rest.split_whitespace().next() {
                chains.entry(t.clone()).or_default().insert(name.to_owned());
            }
        } else if line.trim() == "COMMIT" {
            table = None;
        }
    }
    chains
}

/// Whether the run installs svcc's rules or removes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Add the missing jumps; delete stale chains.
    Install,
    /// Delete the jumps that exist and every svcc chain.
    Remove,
}

/// A [`Runner`] for the iptables target: completes each family's input from the node's state
/// (see the module doc), then tests or loads it.
pub struct IptablesApply<X: Xtables> {
    pub prefix: String,
    pub mode: Mode,
    pub xtables: X,
}

impl<X: Xtables> IptablesApply<X> {
    pub fn new(prefix: &str, mode: Mode, xtables: X) -> Self {
        IptablesApply {
            prefix: prefix.to_owned(),
            mode,
            xtables,
        }
    }

    /// Each family's completed input. A family whose input is only empty tables and that has
    /// nothing of svcc's on the node is left out (nothing to do).
    pub fn complete(&mut self, ruleset: &[u8]) -> Result<Vec<(Family, String)>, RunError> {
        let text = String::from_utf8_lossy(ruleset);
        let mut out = Vec::new();
        for (family, part) in split(&text) {
            let chains = match self.live_chains(family) {
                Ok(c) => c,
                // Removing IPv6 where there is no ip6tables: nothing of svcc's can be there.
                Err(RunError::NotFound(_))
                    if self.mode == Mode::Remove && family == Family::Ipv6 =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let jump_lines = self.jump_lines(family)?;
            let stale = stale_chains(&self.prefix, &chains, &declared_chains(&part));
            let completed = complete_part(&part, &stale, &jump_lines);
            if self.mode == Mode::Remove && completed == part {
                continue;
            }
            out.push((family, completed));
        }
        Ok(out)
    }

    /// The node's chains per table (`iptables-save`), timed under `SVCC_TIMINGS=1`.
    fn live_chains(
        &mut self,
        family: Family,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, RunError> {
        let name = format!("{}: list chains", family.save_tool());
        crate::timing::stage(&name, || self.xtables.chains(family))
    }

    /// The lines for the built-in chains' jumps: inserts of the missing ones (install) or
    /// deletes of the present ones (remove), per table.
    fn jump_lines(&mut self, family: Family) -> Result<BTreeMap<Table, Vec<String>>, RunError> {
        let name = format!("{}: look up jumps", family.tool());
        crate::timing::stage(&name, || {
            let mut jump_lines: BTreeMap<Table, Vec<String>> = BTreeMap::new();
            for jump in iptables::jumps(&self.prefix) {
                let exists = self.xtables.has_rule(family, &jump)?;
                let line = match (self.mode, exists) {
                    (Mode::Install, false) => jump.insert_line(),
                    (Mode::Remove, true) => jump.delete_line(),
                    _ => continue,
                };
                let line = line.map_err(|e| RunError::Refused {
                    tool: "svcc".to_owned(),
                    message: e.to_string(),
                })?;
                jump_lines.entry(jump.table).or_default().push(line);
            }
            Ok(jump_lines)
        })
    }

    /// Tests (`test`) or loads each family's input.
    fn restore_all(&mut self, parts: &[(Family, String)], test: bool) -> Result<(), RunError> {
        for (family, input) in parts {
            let name = format!(
                "{}{}",
                family.restore_tool(),
                if test { " --test" } else { "" }
            );
            crate::timing::stage(&name, || {
                self.xtables.restore(*family, input.as_bytes(), test)
            })?;
        }
        Ok(())
    }

    /// Each family's delta input (see the module doc), or why `new` must be loaded whole.
    pub fn delta(
        &mut self,
        old: &[u8],
        new: &[u8],
    ) -> Result<Result<Vec<(Family, String)>, String>, RunError> {
        let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
        let (old_parts, new_parts) = (split(&old), split(&new));
        let families =
            |parts: &[(Family, String)]| -> Vec<Family> { parts.iter().map(|(f, _)| *f).collect() };
        if families(&old_parts) != families(&new_parts) {
            return Ok(Err(
                "the families differ from the last applied ruleset's".to_owned()
            ));
        }
        let mut out = Vec::new();
        for ((family, old_part), (_, new_part)) in old_parts.iter().zip(&new_parts) {
            let parsed = restore_delta::parse(old_part)
                .and_then(|o| restore_delta::parse(new_part).map(|n| (o, n)));
            let (old_parsed, new_parsed) = match parsed {
                Ok(p) => p,
                Err(e) => {
                    return Ok(Err(format!(
                        "{} input not understood ({e})",
                        family.restore_tool()
                    )))
                }
            };
            let delta = restore_delta::diff(&old_parsed, &new_parsed);
            // Not `iptables-save`: at 10,000 Services it takes minutes (see the module doc). The
            // chains `new` drops are emptied and deleted; a chain the delta needs and that is
            // missing on the node makes the restore fail, and a whole load follows.
            let removed = delta.removed();
            let jumps = self.jump_lines(*family)?;
            let input = complete_part(&delta.changed_input(), &removed, &jumps);
            if commands(&input) > 0 {
                out.push((*family, input));
            }
        }
        Ok(Ok(out))
    }
}

/// The restore lines of an input that change something (not `*table`, `COMMIT` or comments).
pub fn commands(input: &str) -> usize {
    input
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('*') && *l != "COMMIT")
        .count()
}

impl<X: Xtables> Runner for IptablesApply<X> {
    fn tool(&self) -> &str {
        "iptables-restore"
    }

    fn check(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        let parts = self.complete(ruleset)?;
        self.restore_all(&parts, true)
    }

    fn apply(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        let parts = self.complete(ruleset)?;
        self.restore_all(&parts, false)
    }

    /// Completes each family's input once, tests all, then loads all.
    fn load(&mut self, new: &[u8]) -> Result<Loaded, RunError> {
        let parts = self.complete(new)?;
        self.restore_all(&parts, true)?;
        self.restore_all(&parts, false)?;
        Ok(Loaded::Whole { why: None })
    }

    /// Sends only the changed chains (see the module doc); loads `new` whole when the node is
    /// not what `old` made it, when the inputs are not understood, or when the delta is refused.
    fn change(&mut self, old: &[u8], new: &[u8]) -> Result<Loaded, RunError> {
        if self.mode == Mode::Remove {
            return self.load(new);
        }
        let parts = match self.delta(old, new)? {
            Ok(parts) => parts,
            Err(why) => return load_whole_instead(self, new, why),
        };
        if let Err(e) = self.restore_all(&parts, true) {
            return load_whole_instead(self, new, format!("the delta was refused: {e}"));
        }
        if let Err(e) = self.restore_all(&parts, false) {
            return load_whole_instead(self, new, format!("the delta failed: {e}"));
        }
        let commands = parts.iter().map(|(_, input)| commands(input)).sum();
        Ok(Loaded::Delta { commands })
    }
}

/// The applied ruleset: the IPv4 input, then the IPv6 one after [`IPV6_MARKER`] if any.
pub fn join(ipv4: &str, ipv6: Option<&str>) -> String {
    match ipv6 {
        Some(v6) => format!("{ipv4}{IPV6_MARKER}\n{v6}"),
        None => ipv4.to_owned(),
    }
}

/// The family parts of an applied ruleset.
pub fn split(text: &str) -> Vec<(Family, String)> {
    let marker = format!("{IPV6_MARKER}\n");
    match text.split_once(&marker) {
        Some((v4, v6)) => vec![(Family::Ipv4, v4.to_owned()), (Family::Ipv6, v6.to_owned())],
        None => vec![(Family::Ipv4, text.to_owned())],
    }
}

/// The input for the removal of everything svcc has in both families.
pub fn removal() -> String {
    let empty = "*filter\nCOMMIT\n*nat\nCOMMIT\n";
    join(empty, Some(empty))
}

/// Chains each table of an input declares.
fn declared_chains(part: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut declared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in part.lines() {
        if let Some(t) = line.strip_prefix('*') {
            current = Some(t.trim().to_owned());
        } else if let (Some(t), Some(rest)) = (&current, line.strip_prefix(':')) {
            if let Some(name) = rest.split_whitespace().next() {
                declared
                    .entry(t.clone())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
    }
    declared
}

/// svcc's chains on the node (`prefix`-) that `keep` does not declare, per table.
fn stale_chains(
    prefix: &str,
    node: &BTreeMap<String, BTreeSet<String>>,
    keep: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, Vec<String>> {
    node.iter()
        .map(|(table, chains)| {
            let stale = chains
                .iter()
                .filter(|c| iptables::is_own_chain(prefix, c))
                .filter(|c| !keep.get(table).is_some_and(|d| d.contains(*c)))
                .cloned()
                .collect::<Vec<_>>();
            (table.clone(), stale)
        })
        .filter(|(_, stale)| !stale.is_empty())
        .collect()
}

/// Adds to each `*table … COMMIT` block of `part`: declarations of the `stale` chains after
/// `*table`, and before `COMMIT` the jump lines, then `-X` for the stale chains. A table with
/// something to add and no block gets one.
fn complete_part(
    part: &str,
    stale_of: &BTreeMap<String, Vec<String>>,
    jumps: &BTreeMap<Table, Vec<String>>,
) -> String {
    let stale = |table: &str| -> Vec<String> { stale_of.get(table).cloned().unwrap_or_default() };
    let jumps_of = |table: &str| -> Vec<String> {
        Table::ALL
            .iter()
            .find(|t| t.as_str() == table)
            .and_then(|t| jumps.get(t))
            .cloned()
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in part.lines() {
        if let Some(t) = line.strip_prefix('*') {
            let t = t.trim().to_owned();
            out.push_str(line);
            out.push('\n');
            for chain in stale(&t) {
                out.push_str(&format!(":{chain} - [0:0]\n"));
            }
            seen.insert(t.clone());
            current = Some(t);
            continue;
        }
        if line.trim() == "COMMIT" {
            if let Some(t) = current.take() {
                for j in jumps_of(&t) {
                    out.push_str(&j);
                    out.push('\n');
                }
                for chain in stale(&t) {
                    out.push_str(&format!("-X {chain}\n"));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    for table in Table::ALL {
        let t = table.as_str();
        let (stale, jumps) = (stale(t), jumps_of(t));
        if seen.contains(t) || (stale.is_empty() && jumps.is_empty()) {
            continue;
        }
        out.push_str(&format!("*{t}\n"));
        for chain in &stale {
            out.push_str(&format!(":{chain} - [0:0]\n"));
        }
        for j in jumps {
            out.push_str(&j);
            out.push('\n');
        }
        for chain in &stale {
            out.push_str(&format!("-X {chain}\n"));
        }
        out.push_str("COMMIT\n");
    }
    out
}

/// Records restores and answers look-ups from a model of the node; for tests.
#[derive(Debug, Default)]
pub struct FakeXtables {
    /// Chains per family and table.
    pub chains: BTreeMap<(Family, String), BTreeSet<String>>,
    /// Jumps that exist: (family, table, chain, args).
    pub rules: BTreeSet<(Family, String, String, Vec<String>)>,
    /// Every restore: family, test, input.
    pub restores: Vec<(Family, bool, String)>,
    /// Restores to refuse, by their index in `restores` (the refused ones are recorded too).
    pub refuse: BTreeSet<usize>,
    /// How many times the chains were listed.
    pub listings: usize,
}

impl Xtables for FakeXtables {
    fn has_rule(&mut self, family: Family, jump: &Jump) -> Result<bool, RunError> {
        Ok(self.rules.contains(&(
            family,
            jump.table.as_str().to_owned(),
            jump.chain.to_owned(),
            jump.args.clone(),
        )))
    }

    fn chains(&mut self, family: Family) -> Result<BTreeMap<String, BTreeSet<String>>, RunError> {
        self.listings += 1;
        Ok(self
            .chains
            .iter()
            .filter(|((f, _), _)| *f == family)
            .map(|((_, t), c)| (t.clone(), c.clone()))
            .collect())
    }

    fn restore(&mut self, family: Family, input: &[u8], test: bool) -> Result<(), RunError> {
        let index = self.restores.len();
        self.restores
            .push((family, test, String::from_utf8_lossy(input).into_owned()));
        if self.refuse.contains(&index) {
            return Err(RunError::Refused {
                tool: family.restore_tool().to_owned(),
                message: format!("restore {index} refused (fake)"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str =
        "# svcc\n*filter\n:SVCC-SERVICES - [0:0]\nCOMMIT\n*nat\n:SVCC-SERVICES - [0:0]\n:SVCC-SVC-A - [0:0]\n-A SVCC-SERVICES -j SVCC-SVC-A\nCOMMIT\n";

    fn node() -> FakeXtables {
        let mut x = FakeXtables::default();
        let nat: BTreeSet<String> = ["PREROUTING", "SVCC-SERVICES", "SVCC-SVC-OLD", "KUBE-SVC-X"]
            .map(str::to_owned)
            .into();
        x.chains.insert((Family::Ipv4, "nat".into()), nat);
        x
    }

    #[test]
    fn adds_missing_jumps_and_deletes_stale_chains() {
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node());
        let parts = apply.complete(INPUT.as_bytes()).unwrap();
        assert_eq!(parts.len(), 1);
        let text = &parts[0].1;
        let jumps = iptables::jumps("SVCC");
        assert_eq!(text.matches("-I ").count(), jumps.len(), "{text}");
        assert!(text.contains("*nat\n:SVCC-SVC-OLD - [0:0]\n"), "{text}");
        assert!(text.ends_with("-X SVCC-SVC-OLD\nCOMMIT\n"), "{text}");
        assert!(!text.contains("KUBE-SVC-X"), "never touches other chains");
        assert!(!text.contains("-X SVCC-SVC-A") && !text.contains("-X SVCC-SERVICES"));

        // With every jump in place, none is added again.
        for j in &jumps {
            apply.xtables.rules.insert((
                Family::Ipv4,
                j.table.as_str().to_owned(),
                j.chain.to_owned(),
                j.args.clone(),
            ));
        }
        let parts = apply.complete(INPUT.as_bytes()).unwrap();
        assert!(!parts[0].1.contains("-I "), "{}", parts[0].1);
    }

    #[test]
    fn check_then_apply_restore_both_families() {
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node());
        let both = join(INPUT, Some(INPUT));
        apply.check(both.as_bytes()).unwrap();
        apply.apply(both.as_bytes()).unwrap();
        let done: Vec<(Family, bool)> = apply
            .xtables
            .restores
            .iter()
            .map(|(f, t, _)| (*f, *t))
            .collect();
        assert_eq!(
            done,
            [
                (Family::Ipv4, true),
                (Family::Ipv6, true),
                (Family::Ipv4, false),
                (Family::Ipv6, false)
            ]
        );
    }

    #[test]
    fn removal_deletes_existing_jumps_then_every_chain() {
        let mut x = node();
        let jump = iptables::jumps("SVCC")
            .into_iter()
            .find(|j| j.chain == "PREROUTING")
            .unwrap();
        x.rules.insert((
            Family::Ipv4,
            "nat".into(),
            "PREROUTING".into(),
            jump.args.clone(),
        ));
        let mut apply = IptablesApply::new("SVCC", Mode::Remove, x);
        let parts = apply.complete(removal().as_bytes()).unwrap();
        assert_eq!(parts.len(), 1, "IPv6 has nothing of svcc's: left out");
        assert_eq!(
            parts[0].1,
            format!(
                "*filter\nCOMMIT\n*nat\n:SVCC-SERVICES - [0:0]\n:SVCC-SVC-OLD - [0:0]\n{}\n\
                 -X SVCC-SERVICES\n-X SVCC-SVC-OLD\nCOMMIT\n",
                jump.delete_line().unwrap()
            )
        );
    }

    /// A node that holds what `INPUT` made, with every jump in place.
    fn applied_node(input: &str) -> FakeXtables {
        let mut x = FakeXtables::default();
        for (table, chains) in declared_chains(input) {
            let mut chains = chains;
            chains.insert(
                if table == "nat" {
                    "PREROUTING"
                } else {
                    "INPUT"
                }
                .to_owned(),
            );
            x.chains.insert((Family::Ipv4, table), chains);
        }
        for j in iptables::jumps("SVCC") {
            x.rules.insert((
                Family::Ipv4,
                j.table.as_str().to_owned(),
                j.chain.to_owned(),
                j.args.clone(),
            ));
        }
        x
    }

    /// `INPUT` with Service B (its chain and the jump to it) added.
    fn with_b() -> String {
        INPUT
            .replace(
                ":SVCC-SVC-A - [0:0]\n",
                ":SVCC-SVC-A - [0:0]\n:SVCC-SVC-B - [0:0]\n",
            )
            .replace(
                "-A SVCC-SERVICES -j SVCC-SVC-A\n",
                "-A SVCC-SERVICES -j SVCC-SVC-A\n-A SVCC-SERVICES -j SVCC-SVC-B\n-A SVCC-SVC-B -j DROP\n",
            )
    }

    fn tests_and_loads(x: &FakeXtables) -> Vec<(Family, bool)> {
        x.restores.iter().map(|(f, t, _)| (*f, *t)).collect()
    }

    #[test]
    fn change_tests_then_loads_only_the_changed_chains() {
        let mut apply = IptablesApply::new("SVCC", Mode::Install, applied_node(INPUT));
        let new = with_b();
        let loaded = apply.change(INPUT.as_bytes(), new.as_bytes()).unwrap();
        let delta = "*nat\n:SVCC-SERVICES - [0:0]\n:SVCC-SVC-B - [0:0]\n\
                     -A SVCC-SERVICES -j SVCC-SVC-A\n-A SVCC-SERVICES -j SVCC-SVC-B\n\
                     -A SVCC-SVC-B -j DROP\nCOMMIT\n";
        assert_eq!(loaded, Loaded::Delta { commands: 5 });
        assert_eq!(
            apply.xtables.restores,
            [
                (Family::Ipv4, true, delta.to_owned()),
                (Family::Ipv4, false, delta.to_owned())
            ]
        );
    }

    #[test]
    fn change_removes_dropped_chains_and_adds_missing_jumps_without_listing_chains() {
        let mut node = applied_node(&with_b());
        node.chains
            .get_mut(&(Family::Ipv4, "nat".to_owned()))
            .unwrap()
            .insert("SVCC-SEP-LEFTOVER".to_owned());
        let prerouting = iptables::jumps("SVCC")
            .into_iter()
            .find(|j| j.chain == "PREROUTING")
            .unwrap();
        node.rules.remove(&(
            Family::Ipv4,
            "nat".to_owned(),
            "PREROUTING".to_owned(),
            prerouting.args.clone(),
        ));
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node);
        let loaded = apply.change(with_b().as_bytes(), INPUT.as_bytes()).unwrap();
        let (_, _, text) = &apply.xtables.restores[1];
        assert_eq!(
            text,
            &format!(
                "*nat\n:SVCC-SVC-B - [0:0]\n:SVCC-SERVICES - [0:0]\n\
                 -A SVCC-SERVICES -j SVCC-SVC-A\n{}\n-X SVCC-SVC-B\nCOMMIT\n",
                prerouting.insert_line().unwrap()
            )
        );
        assert_eq!(loaded, Loaded::Delta { commands: 5 });
        assert_eq!(
            apply.xtables.listings, 0,
            "a delta does not read iptables-save: stale chains wait for a whole load"
        );
    }

    #[test]
    fn a_refused_delta_falls_back_to_one_whole_load() {
        let mut node = applied_node(INPUT);
        node.refuse.insert(0);
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node);
        let new = with_b();
        let loaded = apply.change(INPUT.as_bytes(), new.as_bytes()).unwrap();
        assert!(matches!(loaded, Loaded::Whole { why: Some(w) } if w.contains("refused")));
        assert_eq!(
            tests_and_loads(&apply.xtables),
            [
                (Family::Ipv4, true),
                (Family::Ipv4, true),
                (Family::Ipv4, false)
            ]
        );
        assert!(
            apply.xtables.restores[2].2.contains(":SVCC-FORWARD")
                || apply.xtables.restores[2].2.contains("*filter")
        );
    }

    #[test]
    fn when_the_whole_load_is_refused_too_nothing_is_loaded() {
        let mut node = applied_node(INPUT);
        node.refuse.extend([0, 1]);
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node);
        let new = with_b();
        assert!(apply.change(INPUT.as_bytes(), new.as_bytes()).is_err());
        assert_eq!(
            tests_and_loads(&apply.xtables),
            [(Family::Ipv4, true), (Family::Ipv4, true)],
            "only tests: the tables stay as they were"
        );
    }

    #[test]
    fn a_failed_delta_load_falls_back_to_a_whole_load() {
        let mut node = applied_node(INPUT);
        node.refuse.insert(1);
        let mut apply = IptablesApply::new("SVCC", Mode::Install, node);
        let loaded = apply.change(INPUT.as_bytes(), with_b().as_bytes()).unwrap();
        assert!(matches!(loaded, Loaded::Whole { why: Some(_) }));
        assert_eq!(apply.xtables.restores.len(), 4);
    }

    #[test]
    fn change_loads_whole_when_ipv6_comes_or_goes() {
        let both = join(INPUT, Some(INPUT));
        for (old, new) in [
            (INPUT.to_owned(), both.clone()),
            (both.clone(), INPUT.to_owned()),
        ] {
            let mut apply = IptablesApply::new("SVCC", Mode::Install, applied_node(INPUT));
            assert!(matches!(
                apply.change(old.as_bytes(), new.as_bytes()).unwrap(),
                Loaded::Whole { why: Some(w) } if w.contains("families")
            ));
        }
    }

    #[test]
    fn a_change_of_comments_only_loads_nothing() {
        let mut apply = IptablesApply::new("SVCC", Mode::Install, applied_node(INPUT));
        let new = INPUT.replace("# svcc\n", "# svcc, another header\n");
        let loaded = apply.change(INPUT.as_bytes(), new.as_bytes()).unwrap();
        assert_eq!(loaded, Loaded::Delta { commands: 0 });
        assert!(apply.xtables.restores.is_empty());
    }

    #[test]
    fn an_input_svcc_does_not_write_is_loaded_whole() {
        let mut apply = IptablesApply::new("SVCC", Mode::Install, applied_node(INPUT));
        let new = INPUT.replace("COMMIT\n*nat", "-I SVCC-SERVICES 1 -j DROP\nCOMMIT\n*nat");
        let loaded = apply.change(INPUT.as_bytes(), new.as_bytes()).unwrap();
        assert!(matches!(loaded, Loaded::Whole { why: Some(w) } if w.contains("not understood")));
    }

    #[test]
    fn parses_iptables_save() {
        let save = "# Generated\n*nat\n:PREROUTING ACCEPT [0:0]\n:SVCC-SERVICES - [0:0]\n-A PREROUTING -j SVCC-SERVICES\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
        let chains = parse_chains(save);
        assert_eq!(
            chains["nat"],
            ["PREROUTING", "SVCC-SERVICES"].map(str::to_owned).into()
        );
        assert_eq!(chains["filter"], ["INPUT"].map(str::to_owned).into());
    }
}

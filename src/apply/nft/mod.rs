//! `svcc apply --target nft`: the runner that talks to `nft`, and how a change reaches the
//! kernel. The first apply, `--force` and a state written by another svcc version load the
//! batch whole ([`crate::apply`] decides); a later change sends only the difference from the
//! last applied batch ([`delta`]), in one transaction.
//!
//! **Knowing the live tables.** Each table svcc loads holds a one-element set,
//! `svcc-generation`, whose element is a digest of the batch that made the table (the first
//! 32 bits of its SHA-256). A delta starts by deleting the element of the batch it was
//! computed from and ends by adding the new batch's element. If the live table is not the one
//! the state describes (someone else loaded or flushed it, the node rebooted, an older svcc
//! loaded it), that first deletion fails, nft refuses the whole transaction, nothing changes,
//! and the runner loads the new batch whole. The check costs nothing beyond the delta itself;
//! listing the table to compare it took 41 s at 10,000 Services (121,000 chains). A rule or element
//! changed by hand inside an otherwise intact table is not noticed: `--force` reloads.
//!
//! **No test before loading** (`nft -c`). Neither a whole load nor a delta is tested first:
//! an `nft -f` batch is one transaction, so a refused batch changes nothing, and the test
//! costs as much as the load. Even a delta of four commands is not cheap to test: before it
//! sends a command that adds a rule or an element, nft 1.0.6 (Debian bookworm's) reads every
//! chain of the table into its cache, 2.0 s for each of the two runs at 10,000 Services with
//! 121,000 chains (BENCHMARKS.md, issue #17). This departs from "test every target before
//! changing any" of [`crate::apply`] only in form: zone files are still written after the
//! ruleset was accepted.

pub mod batch;
pub mod delta;

use super::runner::{load_whole_instead, run_with_input, which, Loaded, RunError, Runner};
use crate::emit::hash::sha256;
use std::path::PathBuf;

/// The set that names the batch a table was made by.
pub const GENERATION_SET: &str = "svcc-generation";

/// `nft -f -`, with the generation set and deltas.
pub struct NftRunner {
    program: PathBuf,
}

impl NftRunner {
    pub fn find() -> Result<NftRunner, RunError> {
        which("nft")
            .map(|program| NftRunner { program })
            .ok_or_else(|| RunError::NotFound("nft".to_owned()))
    }
}

impl Runner for NftRunner {
    fn tool(&self) -> &str {
        "nft"
    }

    fn check(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        run_with_input("nft", &self.program, &["-c", "-f", "-"], ruleset)
    }

    fn apply(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        run_with_input("nft", &self.program, &["-f", "-"], ruleset)
    }

    fn load(&mut self, new: &[u8]) -> Result<Loaded, RunError> {
        self.apply(&stamped(new)?)?;
        Ok(Loaded::Whole { why: None })
    }

    fn change(&mut self, old: &[u8], new: &[u8]) -> Result<Loaded, RunError> {
        let why = match crate::timing::stage("delta", || delta_of(old, new)) {
            Ok((text, commands)) => match self.apply(text.as_bytes()) {
                Ok(()) => return Ok(Loaded::Delta { commands }),
                Err(RunError::Refused { message, .. }) => format!(
                    "the delta was refused: the live tables are not as last applied ({})",
                    first_line(&message)
                ),
                Err(e) => return Err(e),
            },
            Err(why) => why,
        };
        load_whole_instead(self, new, why)
    }
}

/// The generation element of a batch: `0x` and the first 32 bits of its SHA-256.
pub fn generation(batch: &[u8]) -> String {
    format!("0x{}", super::hex(&sha256(batch)[..4]))
}

/// The batch with each table it creates stamped with its generation.
pub fn stamped(batch: &[u8]) -> Result<Vec<u8>, RunError> {
    let text = as_text(batch)?;
    let tables = batch::tables(text).map_err(|e| refused(e.to_string()))?;
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
    let generation = generation(batch);
    for id in &tables {
        out.push_str(&format!(
            "add set {id} {GENERATION_SET} {{ type mark ; comment \"the batch svcc loaded last\" ; }}\n\
             add element {id} {GENERATION_SET} {{ {generation} }}\n"
        ));
    }
    Ok(out.into_bytes())
}

/// The delta from `old` to `new` between the two generation elements, with its number of
/// commands; or why there is none.
pub fn delta_of(old: &[u8], new: &[u8]) -> Result<(String, usize), String> {
    let (old_text, new_text) = match (as_text(old), as_text(new)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => return Err("a ruleset is not UTF-8".to_owned()),
    };
    // Both are read at once: at 10,000 Services each is 66 MB of text.
    let (old_batch, new_batch) = rayon::join(|| batch::read(old_text), || batch::read(new_text));
    let old_batch = old_batch.map_err(|e| format!("the last applied ruleset: {e}"))?;
    let new_batch = new_batch.map_err(|e| format!("the new ruleset: {e}"))?;
    let (body, commands) = delta::delta(&old_batch, &new_batch).map_err(|e| e.to_string())?;
    let (was, now) = (generation(old), generation(new));
    let mut text = String::with_capacity(body.len() + 256);
    for (id, _) in &new_batch.tables {
        text.push_str(&format!(
            "delete element {id} {GENERATION_SET} {{ {was} }}\n"
        ));
    }
    text.push_str(&body);
    for (id, _) in &new_batch.tables {
        text.push_str(&format!("add element {id} {GENERATION_SET} {{ {now} }}\n"));
    }
    Ok((text, commands + 2 * new_batch.tables.len()))
}

fn as_text(batch: &[u8]) -> Result<&str, RunError> {
    std::str::from_utf8(batch).map_err(|_| refused("the ruleset is not UTF-8".to_owned()))
}

fn refused(message: String) -> RunError {
    RunError::Refused {
        tool: "nft".to_owned(),
        message,
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str =
        "add table ip svcc\ndelete table ip svcc\nadd table ip svcc { comment \"x\" ; }\n\
                       add chain ip svcc a\nadd rule ip svcc a accept\n";

    #[test]
    fn a_whole_load_is_stamped_per_table() {
        let out = String::from_utf8(stamped(OLD.as_bytes()).unwrap()).unwrap();
        let gen = generation(OLD.as_bytes());
        assert!(gen.starts_with("0x") && gen.len() == 10, "{gen}");
        assert!(out.starts_with(OLD));
        assert!(out.ends_with(&format!(
            "add element ip svcc svcc-generation {{ {gen} }}\n"
        )));
    }

    #[test]
    fn a_delta_swaps_the_generation_around_the_change() {
        let new = OLD.replace("a accept", "a drop");
        let (text, n) = delta_of(OLD.as_bytes(), new.as_bytes()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(n, lines.len());
        assert_eq!(
            lines,
            [
                format!(
                    "delete element ip svcc svcc-generation {{ {} }}",
                    generation(OLD.as_bytes())
                ),
                "flush chain ip svcc a".to_owned(),
                "add rule ip svcc a drop".to_owned(),
                format!(
                    "add element ip svcc svcc-generation {{ {} }}",
                    generation(new.as_bytes())
                ),
            ]
        );
    }

    #[test]
    fn an_unreadable_state_means_a_whole_load() {
        assert!(delta_of(b"flush ruleset\n", OLD.as_bytes()).is_err());
    }
}

//! Who talks to the kernel: a [`Runner`] tests and applies a ruleset in one transaction. The
//! real runners call `nft` or `iptables-restore`; [`FakeRunner`] records what it was asked, so
//! the apply logic is tested without root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("`{0}` was not found on PATH")]
    NotFound(String),
    #[error("{tool} refused the ruleset:\n{message}")]
    Refused { tool: String, message: String },
    #[error("could not run {tool}: {source}")]
    Io {
        tool: String,
        source: std::io::Error,
    },
}

/// Applies rulesets for one target.
pub trait Runner {
    /// The tool's name, for messages (`nft`, `iptables-restore`).
    fn tool(&self) -> &str;
    /// Tests a ruleset without changing anything (`nft -c`, `iptables-restore --test`).
    fn check(&mut self, ruleset: &[u8]) -> Result<(), RunError>;
    /// Applies a ruleset in one transaction.
    fn apply(&mut self, ruleset: &[u8]) -> Result<(), RunError>;

    /// Loads `new` whole: the first apply, `--force`, or when nothing earlier is known. The
    /// default tests it, then applies it.
    fn load(&mut self, new: &[u8]) -> Result<Loaded, RunError> {
        self.check(new)?;
        self.apply(new)?;
        Ok(Loaded::Whole { why: None })
    }

    /// Replaces `old` (what svcc applied last, as its state says) by `new`. A runner that can
    /// send only the difference does so, and loads `new` whole when the live tables are not
    /// what `old` made them; the default always loads `new` whole.
    fn change(&mut self, old: &[u8], new: &[u8]) -> Result<Loaded, RunError> {
        let _ = old;
        self.load(new)
    }
}

/// Loads `new` whole where a delta could not be used, saying why on stderr first (at scale a
/// whole load takes seconds, and it may be refused in its turn); the result carries the reason.
pub fn load_whole_instead(
    runner: &mut (impl Runner + ?Sized),
    new: &[u8],
    why: String,
) -> Result<Loaded, RunError> {
    eprintln!("svcc apply: loading the whole ruleset: {why}");
    runner.load(new)?;
    Ok(Loaded::Whole { why: Some(why) })
}

/// How a changed ruleset reached the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// The whole ruleset, in one transaction; `why` says why a change was not a delta.
    Whole { why: Option<String> },
    /// Only the difference from the last applied ruleset, in one transaction of `commands`
    /// commands (or restore lines).
    Delta { commands: usize },
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs a command with `input` on stdin; stderr (and stdout) become the error message.
pub(crate) fn run_with_input(
    tool: &str,
    program: &Path,
    args: &[&str],
    input: &[u8],
) -> Result<(), RunError> {
    let io = |source| RunError::Io {
        tool: tool.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(io)?;
    }
    let out = child.wait_with_output().map_err(io)?;
    if out.status.success() {
        return Ok(());
    }
    let mut message = String::from_utf8_lossy(&out.stderr).into_owned();
    message.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(RunError::Refused {
        tool: tool.to_owned(),
        message: message.trim_end().to_owned(),
    })
}

/// `iptables-restore --test --noflush`, then `iptables-restore --noflush` (and the ip6 variant).
pub struct IptablesRunner {
    program: PathBuf,
}

impl IptablesRunner {
    pub fn find(ipv6: bool) -> Result<IptablesRunner, RunError> {
        let name = if ipv6 {
            "ip6tables-restore"
        } else {
            "iptables-restore"
        };
        which(name)
            .map(|program| IptablesRunner { program })
            .ok_or_else(|| RunError::NotFound(name.to_owned()))
    }
}

impl Runner for IptablesRunner {
    fn tool(&self) -> &str {
        "iptables-restore"
    }

    fn check(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        run_with_input(
            "iptables-restore",
            &self.program,
            &["--test", "--noflush"],
            ruleset,
        )
    }

    fn apply(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        run_with_input("iptables-restore", &self.program, &["--noflush"], ruleset)
    }
}

/// Records calls; can be told to refuse.
#[derive(Debug, Default)]
pub struct FakeRunner {
    pub calls: Vec<String>,
    pub applied: Option<Vec<u8>>,
    pub refuse_check: Option<String>,
}

impl Runner for FakeRunner {
    fn tool(&self) -> &str {
        "fake"
    }

    fn check(&mut self, _ruleset: &[u8]) -> Result<(), RunError> {
        self.calls.push("check".to_owned());
        match &self.refuse_check {
            Some(m) => Err(RunError::Refused {
                tool: "fake".to_owned(),
                message: m.clone(),
            }),
            None => Ok(()),
        }
    }

    fn apply(&mut self, ruleset: &[u8]) -> Result<(), RunError> {
        self.calls.push("apply".to_owned());
        self.applied = Some(ruleset.to_vec());
        Ok(())
    }

    /// Records that the change came as a delta (the fake sends `new` whole, as `apply`).
    fn change(&mut self, _old: &[u8], new: &[u8]) -> Result<Loaded, RunError> {
        self.calls.push("change".to_owned());
        self.check(new)?;
        self.apply(new)?;
        Ok(Loaded::Delta { commands: 0 })
    }
}

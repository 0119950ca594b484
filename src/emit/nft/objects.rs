//! nftables objects as nft itself names them, and the transaction that prints them as
//! `nft -f` text, one command per line (`add chain ip svcc services`).
//!
//! Each object knows how to write itself for each verb; [`Transaction`] checks every object
//! as it is added (names are identifiers, comments are quotable, rule and element text holds
//! nothing that could end a command or start a comment), keeps the first error, and writes
//! nothing when there is one. The whole text is one `nft -f` batch, so the kernel applies all
//! of it or none of it.

use super::names::{is_comment, is_identifier};
use super::Error;
use std::fmt::Write as _;
use std::io::Write;

pub use crate::plan::Family;

/// How nft writes a family.
impl Family {
    /// The table family, which is also the payload keyword (`ip daddr`, `ip6 saddr`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }

    /// The data type of an address (`type ipv4_addr`).
    pub fn addr_type(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4_addr",
            Family::Ipv6 => "ipv6_addr",
        }
    }

    /// The loopback addresses, which never accept NodePort traffic, as nft writes them.
    pub fn loopback_text(self) -> &'static str {
        match self {
            Family::Ipv4 => "127.0.0.0/8",
            Family::Ipv6 => "::1",
        }
    }
}

/// What a command does with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Create it, or do nothing if it exists.
    Add,
    /// Remove it (with its content); fails if it does not exist.
    Delete,
    /// Empty it: a table's chains and sets, a chain's rules, a set's elements.
    Flush,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "add",
            Verb::Delete => "delete",
            Verb::Flush => "flush",
        }
    }
}

/// A table. Its family and name are those of the [`TableRef`] it is written for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub comment: Option<String>,
}

/// Which table commands act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    pub family: Family,
    pub name: String,
}

impl TableRef {
    pub fn new(family: Family, name: &str) -> Self {
        TableRef {
            family,
            name: name.to_owned(),
        }
    }
}

/// The type of a base chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

/// The netfilter hook a base chain is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// What makes a chain a base chain: where packets enter it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub chain_type: ChainType,
    pub hook: Hook,
    /// Lower runs first (`dstnat` is -100, `filter` 0, `srcnat` 100).
    pub priority: i32,
}

/// A chain: a base chain when `base` is set, else a regular chain reached by `jump`/`goto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<String>,
}

impl Chain {
    pub fn regular(name: impl Into<String>) -> Self {
        Chain {
            name: name.into(),
            base: None,
            comment: None,
        }
    }

    pub fn base(name: &str, chain_type: ChainType, hook: Hook, priority: i32) -> Self {
        Chain {
            name: name.to_owned(),
            base: Some(BaseChain {
                chain_type,
                hook,
                priority,
            }),
            comment: None,
        }
    }
}

/// A named set of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    /// Key type, e.g. `ipv4_addr` or `ipv4_addr . inet_proto . inet_service`.
    pub key_type: String,
    /// e.g. `interval`, `dynamic`, `timeout`.
    pub flags: Vec<&'static str>,
    /// Default lifetime of elements, in seconds.
    pub timeout: Option<u32>,
    pub comment: Option<String>,
}

/// A named map from keys to values (here always verdicts: a verdict map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    pub name: String,
    pub key_type: String,
    pub value_type: String,
    pub comment: Option<String>,
}

/// A rule appended to a chain. `rule` is nft rule text built by this target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub rule: String,
    pub comment: Option<String>,
}

impl Rule {
    pub fn new(chain: &str, rule: impl Into<String>) -> Self {
        Rule {
            chain: chain.to_owned(),
            rule: rule.into(),
            comment: None,
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// An element of a set (`value` is `None`) or a map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The set or map it belongs to.
    pub set: String,
    /// Key text; the parts of a concatenation are joined with ` . `.
    pub key: Vec<String>,
    pub value: Option<String>,
    pub comment: Option<String>,
}

/// Any object a command can name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Table(Table),
    Chain(Chain),
    Set(Set),
    Map(Map),
    Rule(Rule),
    Element(Element),
}

macro_rules! into_object {
    ($($t:ident),*) => {$(
        impl From<$t> for Object {
            fn from(o: $t) -> Object {
                Object::$t(o)
            }
        }
    )*};
}
into_object!(Table, Chain, Set, Map, Rule, Element);

impl Object {
    fn kind(&self) -> &'static str {
        match self {
            Object::Table(_) => "table",
            Object::Chain(_) => "chain",
            Object::Set(_) => "set",
            Object::Map(_) => "map",
            Object::Rule(_) => "rule",
            Object::Element(_) => "element",
        }
    }

    fn name<'a>(&'a self, table: &'a TableRef) -> &'a str {
        match self {
            Object::Table(_) => &table.name,
            Object::Chain(c) => &c.name,
            Object::Set(s) => &s.name,
            Object::Map(m) => &m.name,
            Object::Rule(r) => &r.chain,
            Object::Element(e) => &e.set,
        }
    }

    fn comment(&self) -> Option<&str> {
        match self {
            Object::Table(t) => t.comment.as_deref(),
            Object::Chain(c) => c.comment.as_deref(),
            Object::Set(s) => s.comment.as_deref(),
            Object::Map(m) => m.comment.as_deref(),
            Object::Rule(r) => r.comment.as_deref(),
            Object::Element(e) => e.comment.as_deref(),
        }
    }

    /// Checks that the object can be written for `verb` without changing the command's
    /// meaning.
    fn validate(&self, verb: Verb, table: &TableRef) -> Result<(), Invalid> {
        let invalid = |reason: &'static str| Invalid {
            kind: self.kind(),
            name: self.name(table).to_owned(),
            reason,
        };
        if !is_identifier(&table.name) {
            return Err(Invalid {
                kind: "table",
                name: table.name.clone(),
                reason: "not an nft identifier",
            });
        }
        if !is_identifier(self.name(table)) {
            return Err(invalid("not an nft identifier"));
        }
        if self.comment().is_some_and(|c| !is_comment(c)) {
            return Err(invalid(
                "comment is not printable ASCII without `\"` or is too long",
            ));
        }
        match (self, verb) {
            (Object::Rule(_), Verb::Delete | Verb::Flush) => {
                return Err(invalid("rules can only be added (deleting needs a handle)"));
            }
            (Object::Element(_), Verb::Flush) => {
                return Err(invalid("elements cannot be flushed; flush the set"));
            }
            _ => {}
        }
        let texts: Vec<&str> = match self {
            Object::Set(s) => std::iter::once(s.key_type.as_str())
                .chain(s.flags.iter().copied())
                .collect(),
            Object::Map(m) => vec![&m.key_type, &m.value_type],
            Object::Rule(r) => vec![&r.rule],
            Object::Element(e) => e
                .key
                .iter()
                .map(String::as_str)
                .chain(e.value.as_deref())
                .collect(),
            _ => Vec::new(),
        };
        if texts.iter().any(|t| !is_expression_text(t)) {
            return Err(invalid(
                "text holds a character nft commands must not contain",
            ));
        }
        if matches!(self, Object::Element(e) if e.key.is_empty()) {
            return Err(invalid("element without a key"));
        }
        Ok(())
    }

    /// Writes one command, without the newline.
    fn write(&self, verb: Verb, table: &TableRef, out: &mut String) {
        let head = |out: &mut String, kind: &str, name: &str| {
            let _ = write!(
                out,
                "{} {kind} {} {}",
                verb.as_str(),
                table.family.as_str(),
                table.name
            );
            if !name.is_empty() {
                let _ = write!(out, " {name}");
            }
        };
        // `{ a ; b ; }` after a name, for the properties of an added object.
        let block = |out: &mut String, parts: &[String]| {
            if !parts.is_empty() {
                let _ = write!(out, " {{ {} ; }}", parts.join(" ; "));
            }
        };
        let comment = |c: &Option<String>| c.as_ref().map(|c| format!("comment \"{c}\""));
        match self {
            Object::Table(t) => {
                head(out, "table", "");
                if verb == Verb::Add {
                    block(out, &comment(&t.comment).into_iter().collect::<Vec<_>>());
                }
            }
            Object::Chain(c) => {
                head(out, "chain", &c.name);
                if verb == Verb::Add {
                    let mut parts = Vec::new();
                    if let Some(b) = &c.base {
                        parts.push(format!(
                            "type {} hook {} priority {}",
                            b.chain_type.as_str(),
                            b.hook.as_str(),
                            b.priority
                        ));
                    }
                    parts.extend(comment(&c.comment));
                    block(out, &parts);
                }
            }
            Object::Set(s) => {
                head(out, "set", &s.name);
                if verb == Verb::Add {
                    let mut parts = vec![format!("type {}", s.key_type)];
                    if !s.flags.is_empty() {
                        parts.push(format!("flags {}", s.flags.join(",")));
                    }
                    parts.extend(s.timeout.map(|t| format!("timeout {t}s")));
                    parts.extend(comment(&s.comment));
                    block(out, &parts);
                }
            }
            Object::Map(m) => {
                head(out, "map", &m.name);
                if verb == Verb::Add {
                    let mut parts = vec![format!("type {} : {}", m.key_type, m.value_type)];
                    parts.extend(comment(&m.comment));
                    block(out, &parts);
                }
            }
            Object::Rule(r) => {
                head(out, "rule", &r.chain);
                let _ = write!(out, " {}", r.rule);
                if let Some(c) = comment(&r.comment) {
                    let _ = write!(out, " {c}");
                }
            }
            Object::Element(e) => {
                head(out, "element", &e.set);
                let _ = write!(out, " {{ {}", e.key.join(" . "));
                if verb == Verb::Add {
                    if let Some(c) = comment(&e.comment) {
                        let _ = write!(out, " {c}");
                    }
                    if let Some(v) = &e.value {
                        let _ = write!(out, " : {v}");
                    }
                }
                out.push_str(" }");
            }
        }
    }
}

impl ChainType {
    fn as_str(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        }
    }
}

impl Hook {
    fn as_str(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

/// Rule, key and value text: printable ASCII without the characters that end a command
/// (`;`, newline), start a comment (`#`), quote (`"`, `'`) or include files (`$` variables).
pub fn is_expression_text(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && !matches!(b, b';' | b'#' | b'"' | b'\'' | b'$'))
}

/// An ordered list of commands, printed as one `nft -f` batch. Each command is written out as
/// it is pushed (a ruleset for a large cluster is hundreds of thousands of commands; keeping
/// them as objects until the end would hold the whole ruleset twice).
#[derive(Debug, Default)]
pub struct Transaction {
    /// Text of transactions appended whole (kept apart: joining them would copy the ruleset).
    chunks: Vec<String>,
    text: String,
    /// Commands written (notes not counted).
    commands: usize,
    /// The first invalid object.
    error: Option<Invalid>,
}

/// Why an object was refused (becomes [`Error::Invalid`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Invalid {
    kind: &'static str,
    name: String,
    reason: &'static str,
}

impl Transaction {
    pub fn new() -> Self {
        Transaction::default()
    }

    /// Appends a command; an invalid object makes the whole transaction fail.
    pub fn push(&mut self, verb: Verb, table: &TableRef, object: impl Into<Object>) {
        if self.error.is_some() {
            return;
        }
        let object = object.into();
        match object.validate(verb, table) {
            Ok(()) => {
                object.write(verb, table, &mut self.text);
                self.text.push('\n');
                self.commands += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn add(&mut self, table: &TableRef, object: impl Into<Object>) {
        self.push(Verb::Add, table, object);
    }

    pub fn delete(&mut self, table: &TableRef, object: impl Into<Object>) {
        self.push(Verb::Delete, table, object);
    }

    /// A `# text` line (ignored by nft). The text must be a valid comment.
    pub fn note(&mut self, text: &str) {
        if self.error.is_none() && !is_comment(text) {
            self.error = Some(Invalid {
                kind: "note",
                name: text.to_owned(),
                reason: "not printable ASCII",
            });
        }
        let _ = writeln!(self.text, "# {text}");
    }

    /// Appends the commands of `other` (rendered apart, for instance in parallel); the first
    /// error in order is kept.
    pub fn append(&mut self, other: Transaction) {
        if self.error.is_none() {
            self.error = other.error;
        }
        if !self.text.is_empty() {
            self.chunks.push(std::mem::take(&mut self.text));
        }
        self.chunks.extend(other.chunks);
        if !other.text.is_empty() {
            self.chunks.push(other.text);
        }
        self.commands += other.commands;
    }

    /// Number of commands (notes not counted).
    pub fn len(&self) -> usize {
        self.commands
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `nft -f` text, or the first error.
    pub fn to_text(&self) -> Result<String, Error> {
        self.validate()?;
        let mut text = String::with_capacity(self.text_len());
        for chunk in &self.chunks {
            text.push_str(chunk);
        }
        text.push_str(&self.text);
        Ok(text)
    }

    /// [`Transaction::to_text`], without a copy when nothing was appended.
    pub fn into_text(self) -> Result<String, Error> {
        if self.chunks.is_empty() {
            self.validate()?;
            return Ok(self.text);
        }
        self.to_text()
    }

    /// Bytes of text.
    fn text_len(&self) -> usize {
        self.chunks.iter().map(String::len).sum::<usize>() + self.text.len()
    }

    /// Whether an object was refused; then nothing may be written.
    pub fn validate(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(Error::Invalid {
                kind: e.kind,
                name: e.name.clone(),
                reason: e.reason,
            }),
            None => Ok(()),
        }
    }

    /// Writes the text; nothing when an object was refused.
    pub fn write(&self, out: &mut dyn Write) -> Result<(), Error> {
        self.validate()?;
        for chunk in &self.chunks {
            out.write_all(chunk.as_bytes())?;
        }
        out.write_all(self.text.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(verb: Verb, object: impl Into<Object>) -> Result<String, Error> {
        let mut tx = Transaction::new();
        tx.push(verb, &TableRef::new(Family::Ipv4, "svcc"), object);
        tx.to_text().map(|t| t.trim_end().to_owned())
    }

    fn objects() -> Vec<Object> {
        vec![
            Table {
                comment: Some("rules for svcc".into()),
            }
            .into(),
            Chain::base("nat-output", ChainType::Nat, Hook::Output, -100).into(),
            Chain {
                comment: Some("helper".into()),
                ..Chain::regular("reject-chain")
            }
            .into(),
            Set {
                name: "affinity-X".into(),
                key_type: "ipv4_addr".into(),
                flags: vec!["dynamic", "timeout"],
                timeout: Some(10800),
                comment: None,
            }
            .into(),
            Map {
                name: "service-ips".into(),
                key_type: "ipv4_addr . inet_proto . inet_service".into(),
                value_type: "verdict".into(),
                comment: Some("VIPs".into()),
            }
            .into(),
            Rule::new("masquerading", "mark and 0x4000 == 0 return")
                .with_comment("skip")
                .into(),
            Element {
                set: "no-endpoint-services".into(),
                key: vec!["10.96.0.1".into(), "tcp".into(), "80".into()],
                value: Some("goto reject-chain".into()),
                comment: Some("ns/svc:http".into()),
            }
            .into(),
        ]
    }

    /// Every object type with every verb: the line it writes, or that it is refused.
    #[test]
    fn every_object_and_verb() {
        let want: [[Result<&str, ()>; 3]; 7] = [
            [
                Ok(r#"add table ip svcc { comment "rules for svcc" ; }"#),
                Ok("delete table ip svcc"),
                Ok("flush table ip svcc"),
            ],
            [
                Ok("add chain ip svcc nat-output { type nat hook output priority -100 ; }"),
                Ok("delete chain ip svcc nat-output"),
                Ok("flush chain ip svcc nat-output"),
            ],
            [
                Ok(r#"add chain ip svcc reject-chain { comment "helper" ; }"#),
                Ok("delete chain ip svcc reject-chain"),
                Ok("flush chain ip svcc reject-chain"),
            ],
            [
                Ok("add set ip svcc affinity-X { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }"),
                Ok("delete set ip svcc affinity-X"),
                Ok("flush set ip svcc affinity-X"),
            ],
            [
                Ok(r#"add map ip svcc service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "VIPs" ; }"#),
                Ok("delete map ip svcc service-ips"),
                Ok("flush map ip svcc service-ips"),
            ],
            [
                Ok(r#"add rule ip svcc masquerading mark and 0x4000 == 0 return comment "skip""#),
                Err(()),
                Err(()),
            ],
            [
                Ok(r#"add element ip svcc no-endpoint-services { 10.96.0.1 . tcp . 80 comment "ns/svc:http" : goto reject-chain }"#),
                Ok("delete element ip svcc no-endpoint-services { 10.96.0.1 . tcp . 80 }"),
                Err(()),
            ],
        ];
        for (object, want) in objects().into_iter().zip(want) {
            for (verb, want) in [Verb::Add, Verb::Delete, Verb::Flush].into_iter().zip(want) {
                let got = line(verb, object.clone());
                match want {
                    Ok(w) => {
                        assert_eq!(got.as_deref().map_err(|_| ()), Ok(w), "{verb:?} {object:?}")
                    }
                    Err(()) => assert!(got.is_err(), "{verb:?} {object:?}: {got:?}"),
                }
            }
        }
    }

    #[test]
    fn ip6_table_and_set_element() {
        let mut tx = Transaction::new();
        let t = TableRef::new(Family::Ipv6, "svcc");
        tx.add(
            &t,
            Chain::base("filter-input", ChainType::Filter, Hook::Input, 0),
        );
        tx.note("ns/svc");
        tx.add(
            &t,
            Element {
                set: "cluster-ips".into(),
                key: vec!["fd00:10:96::1".into()],
                value: None,
                comment: None,
            },
        );
        assert_eq!(tx.len(), 2);
        assert_eq!(
            tx.to_text().unwrap(),
            "add chain ip6 svcc filter-input { type filter hook input priority 0 ; }\n\
             # ns/svc\n\
             add element ip6 svcc cluster-ips { fd00:10:96::1 }\n"
        );
    }

    /// Text that could smuggle a second command into the batch is refused, and the first
    /// error sticks: nothing is written.
    #[test]
    fn refuses_injection() {
        let t = TableRef::new(Family::Ipv4, "svcc");
        let bad: Vec<(TableRef, Object)> = vec![
            (
                TableRef::new(Family::Ipv4, "svcc; flush ruleset"),
                Table::default().into(),
            ),
            (t.clone(), Chain::regular("a\nflush ruleset").into()),
            (
                t.clone(),
                Rule::new("services", "accept; flush ruleset").into(),
            ),
            (
                t.clone(),
                Rule::new("services", "accept\nflush ruleset").into(),
            ),
            (
                t.clone(),
                Rule::new("services", "accept")
                    .with_comment("x\" ; flush ruleset ; \"")
                    .into(),
            ),
            (
                t.clone(),
                Element {
                    set: "cluster-ips".into(),
                    key: vec!["1.2.3.4 } ; flush ruleset #".into()],
                    value: None,
                    comment: None,
                }
                .into(),
            ),
            (t.clone(), Rule::new("services", "").into()),
        ];
        for (table, object) in bad {
            let mut tx = Transaction::new();
            tx.push(Verb::Add, &table, object.clone());
            tx.add(&t, Chain::regular("fine"));
            assert!(tx.to_text().is_err(), "{object:?}");
            assert!(tx.write(&mut Vec::new()).is_err());
        }
    }
}

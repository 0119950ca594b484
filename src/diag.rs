//! The diagnostic: one finding of any stage, as plain data.
//!
//! Stages create diagnostics with a rule id, a primary span, a message and optional labels,
//! help and related locations; the check engine fills in the severity from the rule catalogue
//! and the configuration. Rendering (line/column, colours, formats) belongs to `report`.
//! Wording follows rustc: lowercase, no trailing period, code in backticks, and only `help`
//! says how to fix.

use crate::span::Span;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// A diagnostic's text: borrowed when fixed, owned when formatted.
pub type Text = Cow<'static, str>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object a diagnostic is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => write!(f, " {ns}/{n}"),
            (None, Some(n)) => write!(f, " {n}"),
            _ => Ok(()),
        }
    }
}

/// A secondary location: "first used here", "the near miss".
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable rule id (see `rules/` and `svcc rules`).
    pub rule: &'static str,
    pub severity: Severity,
    /// Stands on its own: what is wrong. (`Cow`: most texts are fixed, and a hostile input
    /// can bring a million findings.)
    pub message: Text,
    pub span: Span,
    /// Short text under the primary span; defaults to nothing.
    pub label: Option<Text>,
    /// Field path in API-server notation (`spec.ports[0].nodePort`); `None` for file-level findings.
    pub path: Option<String>,
    pub object: Option<ObjectRef>,
    pub help: Option<Text>,
    pub related: Vec<Related>,
    /// The most severe this finding may be at its rule's default level: a finding that rests on
    /// an assumption (the default cluster profile, objects in another apply unit) is capped.
    /// A level the user configured for the rule is applied as configured.
    pub ceiling: Option<Severity>,
}

impl Diagnostic {
    /// A new diagnostic; its severity is provisional until the engine applies the catalogue.
    pub fn new(rule: &'static str, span: Span, message: impl Into<Text>) -> Diagnostic {
        Diagnostic {
            rule,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            path: None,
            object: None,
            help: None,
            related: Vec::new(),
            ceiling: None,
        }
    }

    /// Caps the severity (see [`Diagnostic::ceiling`]).
    pub fn at_most(mut self, severity: Severity) -> Self {
        self.ceiling = Some(self.ceiling.map_or(severity, |c| c.min(severity)));
        self
    }

    pub fn label(mut self, label: impl Into<Text>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn object(mut self, object: ObjectRef) -> Self {
        self.object = Some(object);
        self
    }

    pub fn help(mut self, help: impl Into<Text>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    /// Order of reports: by file, then position, then rule.
    pub fn sort_key(&self) -> (u32, u32, u32, &'static str, &str) {
        (
            self.span.file.0,
            self.span.start,
            self.span.end,
            self.rule,
            &self.message,
        )
    }
}

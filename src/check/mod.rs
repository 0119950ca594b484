//! Check stage: everything svcc refuses or warns about.
//!
//! Input: the [`Model`] and the cluster [`Profile`]. Output: diagnostics, severities settled,
//! sorted by file and position. Three layers run per object: the strict schema (types, unknown
//! and required fields), the API server's validation rules after its defaults
//! (`reference/validation.md` §2–§7), and the allocation checks against the profile (NodePort
//! range, service CIDRs, IP families).
//!
//! The engine decides what runs and how loud it is; rules only inspect and report. When the
//! schema already reported a field, rule findings at or under that field are dropped: one
//! problem, one diagnostic.

pub mod path;
pub mod registry;
pub mod rules;
pub mod schema;
pub mod syntax;

use crate::config::{Level, Profile};
use crate::diag::Diagnostic;
use crate::model::{Model, Object};
use rayon::prelude::*;
use schema::SchemaSet;
use std::collections::BTreeMap;

/// What rules may read besides the object.
pub struct Context<'a> {
    pub profile: &'a Profile,
}

/// Collects one object's findings and stamps them with the object.
pub struct Sink<'a> {
    object: &'a Object,
    schema_paths: Vec<String>,
    out: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub fn new(object: &'a Object) -> Sink<'a> {
        Sink {
            object,
            schema_paths: Vec::new(),
            out: Vec::new(),
        }
    }

    fn schema(&mut self, d: Diagnostic) {
        if let Some(p) = &d.path {
            self.schema_paths.push(p.clone());
        }
        self.push(d);
    }

    /// Reports a rule finding, unless the schema already reported that field.
    pub fn report(&mut self, d: Diagnostic) {
        if let Some(p) = &d.path {
            if self.schema_paths.iter().any(|s| path::is_under(p, s)) {
                return;
            }
        }
        self.push(d);
    }

    fn push(&mut self, mut d: Diagnostic) {
        if d.object.is_none() {
            d.object = Some(self.object.object_ref());
        }
        self.out.push(d);
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.out
    }
}

/// Runs every check over the model. `levels` overrides catalogue severities (or turns rules off).
pub fn run(
    model: &Model,
    profile: &Profile,
    schemas: &SchemaSet,
    levels: &BTreeMap<String, Level>,
) -> Vec<Diagnostic> {
    let ctx = Context { profile };
    let per_object: Vec<Vec<Diagnostic>> = model
        .objects
        .par_iter()
        .map(|object| {
            let mut sink = Sink::new(object);
            if let Some(kind) = object.known {
                for d in schemas.check(kind, object) {
                    sink.schema(d);
                }
                rules::check_object(&ctx, object, &mut sink);
            }
            sink.into_diagnostics()
        })
        .collect();
    let mut all: Vec<Diagnostic> = model.diagnostics.clone();
    all.extend(per_object.into_iter().flatten());
    settle(all, levels)
}

/// Applies severities (catalogue default, then configuration), drops rules turned off, sorts.
pub fn settle(diagnostics: Vec<Diagnostic>, levels: &BTreeMap<String, Level>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter_map(|mut d| {
            // Every emitted id is in the catalogue: `tests/catalogue.rs` enforces it.
            let default = registry::lookup(d.rule).map(|r| r.severity);
            match levels.get(d.rule).copied() {
                Some(Level::Off) => return None,
                Some(Level::On(s)) => d.severity = s,
                None => d.severity = default.unwrap_or(d.severity),
            }
            Some(d)
        })
        .collect();
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out.dedup();
    out
}

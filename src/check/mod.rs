//! Check stage: everything svcc refuses or warns about.
//!
//! Input: the [`Model`] and the cluster [`Profile`]. Output: diagnostics, severities settled,
//! sorted by file and position. Three layers run per object: the strict schema (types, unknown
//! and required fields), the API server's validation rules after its defaults
//! (`docs/reference/validation.md` §2–§7), and the allocation checks against the profile (NodePort
//! range, service CIDRs, IP families).
//!
//! Then the cross-object rules run on the linked cluster (`cluster`).
//!
//! The engine decides what runs and how loud it is; rules only inspect and report. When the
//! schema already reported a field, rule findings at or under that field are dropped: one
//! problem, one diagnostic. Selection (`-l`), severities from the configuration and
//! suppressions (`suppress`) are applied here, never in a rule.

pub mod cluster;
pub mod path;
mod placeholders;

pub mod rules;
pub mod schema;
pub mod suppress;

use crate::config::{Level, Profile};
use crate::diag::Diagnostic;
use crate::link::Links;
use crate::model::{Model, Object};
use crate::selector::Selector;
use crate::source::tree::Node;
use crate::source::{FileId, SourceMap};
use schema::SchemaSet;
use std::collections::{BTreeMap, HashMap};

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

/// What the engine needs besides the model: configuration, selection and suppressions.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Rule id → level, overriding the catalogue.
    pub levels: BTreeMap<String, Level>,
    /// `-l`: only objects whose labels match are checked and reported.
    pub selection: Option<&'a Selector>,
    /// Rules silenced for whole files by a header comment (`# svcc:ignore ID,ID`).
    pub file_suppressions: HashMap<FileId, Vec<suppress::Suppression>>,
}

/// The engine's result.
#[derive(Debug, Default)]
pub struct Checked {
    pub diagnostics: Vec<Diagnostic>,
    /// Findings silenced by suppressions.
    pub suppressed: usize,
}

/// The one settle step every finding of a run goes through, whichever stage made it (the
/// loader, the object and cluster rules, lowering's allocation notes): the selection (`-l`),
/// template placeholders in walked files, the severity (catalogue, configuration, ceiling)
/// and the suppressions. Findings may come in several batches; [`Engine::finish`] then
/// reports the suppressions that silenced nothing, after every batch has had its chance.
#[derive(Debug)]
pub struct Engine {
    levels: BTreeMap<String, Level>,
    /// Per object, whether `-l` selects it (`None`: no selection).
    selected: Option<Vec<bool>>,
    suppressions: suppress::Suppressions,
}

impl Engine {
    pub fn new(model: &Model, options: RunOptions) -> Engine {
        let selected = options.selection.map(|s| {
            model
                .objects
                .iter()
                .map(|o| s.matches(&o.meta.labels))
                .collect()
        });
        Engine {
            levels: options.levels,
            selected,
            suppressions: suppress::Suppressions::new(model, options.file_suppressions),
        }
    }

    fn is_selected(&self, object: usize) -> bool {
        self.selected
            .as_ref()
            .is_none_or(|s| s.get(object).copied().unwrap_or(true))
    }

    /// Settles a batch of findings (with the index of the object each is about, if any).
    /// `sources` turns findings on template placeholders in walked files into notes.
    pub fn settle(
        &mut self,
        mut findings: Vec<(Option<usize>, Diagnostic)>,
        sources: Option<&SourceMap>,
    ) -> Vec<Diagnostic> {
        findings.retain(|(i, _)| i.is_none_or(|i| self.is_selected(i)));
        if let Some(sources) = sources {
            placeholders::replace(&mut findings, sources);
        }
        findings.retain_mut(|(_, d)| settle_level(d, &self.levels));
        self.suppressions.filter(findings)
    }

    /// The findings about suppressions that silenced nothing, settled, and the number of
    /// findings suppressed in all batches.
    pub fn finish(self, model: &Model) -> Checked {
        let selected = |i: usize| {
            self.selected
                .as_ref()
                .is_none_or(|s| s.get(i).copied().unwrap_or(true))
        };
        let (mut unused, suppressed) =
            self.suppressions
                .finish(model, &selected, self.selected.is_some());
        unused.retain_mut(|d| settle_level(d, &self.levels));
        Checked {
            diagnostics: unused,
            suppressed,
        }
    }
}

/// The checks of one object on its own: the schema on its tree, then the rules on its typed
/// form. Runs while the object's tree is alive (the loader calls it as it decodes); objects
/// outside the selection are not checked.
pub fn check_object(
    profile: &Profile,
    schemas: &SchemaSet,
    selection: Option<&Selector>,
    object: &Object,
    tree: &Node,
) -> Vec<Diagnostic> {
    let Some(kind) = object.known else {
        return Vec::new();
    };
    if selection.is_some_and(|s| !s.matches(&object.meta.labels)) {
        return Vec::new();
    }
    let mut sink = Sink::new(object);
    for d in schemas.check(kind, tree) {
        sink.schema(d);
    }
    rules::check_object(&Context { profile }, object, &mut sink);
    sink.into_diagnostics()
}

/// Runs the cross-object rules on the linked model and settles every finding so far:
/// `diagnostics` are the findings of loading and decoding, `object_findings` those of
/// [`check_object`] with indices into `model.objects`. The engine is returned for later
/// batches (lowering's notes) and for [`Engine::finish`].
pub fn run(
    model: &Model,
    links: &Links,
    profile: &Profile,
    diagnostics: Vec<Diagnostic>,
    object_findings: Vec<(usize, Diagnostic)>,
    mut engine: Engine,
    sources: Option<&SourceMap>,
) -> (Vec<Diagnostic>, Engine) {
    let ctx = Context { profile };
    let mut all: Vec<(Option<usize>, Diagnostic)> =
        Vec::with_capacity(diagnostics.len() + object_findings.len());
    all.extend(diagnostics.into_iter().map(|d| (None, d)));
    all.extend(object_findings.into_iter().map(|(i, d)| (Some(i), d)));
    all.extend(
        cluster::check(&ctx, model, links)
            .items
            .into_iter()
            .map(|(i, d)| (Some(i), d)),
    );
    let settled = engine.settle(all, sources);
    (settled, engine)
}

/// Sets a finding's severity (catalogue default, then configuration); false when its rule is
/// turned off.
fn settle_level(d: &mut Diagnostic, levels: &BTreeMap<String, Level>) -> bool {
    // Every emitted id is in the catalogue: `tests/catalogue.rs` enforces it.
    let default = crate::catalogue::lookup(d.rule).map(|r| r.severity);
    match levels.get(d.rule).copied() {
        Some(Level::Off) => return false,
        Some(Level::On(s)) => d.severity = s,
        None => {
            d.severity = default.unwrap_or(d.severity);
            if let Some(ceiling) = d.ceiling {
                d.severity = d.severity.min(ceiling);
            }
        }
    }
    true
}

/// Sorts by file and position and removes exact duplicates.
pub fn settle_order(mut out: Vec<Diagnostic>) -> Vec<Diagnostic> {
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out.dedup();
    out
}

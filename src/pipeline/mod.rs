//! The driver: one line per stage, as docs/design.md draws it (load → decode → sift → link →
//! check → lower). The CLI and the tests both go through here.
//!
//! `check` divides the input into apply units (files, kustomize roots, declared groups; see
//! `link::scope`); `compile` and the commands built on it take the whole input as one unit,
//! as the node will run it. Files found by walking directories are sifted first ([`sift`]).
//!
//! Departure from a strict stage-after-stage order: decoding and the per-object checks run
//! inside the load, on the worker that parsed each document ([`DecodeAndCheck`]), so that the
//! trees of a large input are never all alive at once. What needs the whole input (linking,
//! the cross-object rules, suppressions) runs after the load, as before.

use crate::check::{self, schema::SchemaSet, suppress, RunOptions};
use crate::config::Profile;
use crate::diag::{Diagnostic, Severity};
use crate::link::{self, scope, Links};
use crate::model::{self, Decoded, Model};
use crate::report::Summary;
use crate::selector::Selector;
use crate::source::inputs::{self, InputError, Loaded};
use crate::source::repo::Skipped;
use crate::source::tree::Node;
use crate::source::yaml::{self, Documents};
use crate::source::SourceMap;
use crate::timing;
use std::path::PathBuf;

pub use crate::config::Settings;

/// The result of checking a set of inputs.
#[derive(Debug)]
pub struct Outcome {
    pub sources: SourceMap,
    pub model: Model,
    pub links: Links,
    pub diagnostics: Vec<Diagnostic>,
    /// Input that could not be read: the run exits 2.
    pub errors: Vec<InputError>,
    pub summary: Summary,
}

impl Outcome {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

mod sift;

/// Checks files and directories (`-` is standard input), each file an apply unit.
pub fn check_paths(
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    Ok(check_paths_as(paths, settings, scope::Mode::Files)?.finish())
}

fn check_paths_as(
    paths: &[PathBuf],
    settings: &Settings,
    mode: scope::Mode,
) -> Result<Pending, check::schema::SchemaError> {
    let schemas = SchemaSet::shared(settings.profile.kubernetes_minor)?;
    let sink = DecodeAndCheck::new(settings, schemas);
    let mut found = inputs::discover(paths, &settings.filter);
    let mut loaded = timing::stage("load, decode, check objects", || {
        inputs::load_each(
            &found.inputs,
            &settings.limits,
            settings.max_file_bytes,
            &sink,
        )
    });
    found.errors.append(&mut loaded.errors);
    loaded.errors = found.errors;
    Ok(finish_checks(loaded, &found.skipped, settings, mode))
}

/// Checks in-memory text as one file named `name` (tests, `svcc explain` examples).
pub fn check_text(
    name: &str,
    text: &str,
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    check_texts(&[(name.to_owned(), text.to_owned())], settings)
}

/// Checks several in-memory files as named on the command line, each an apply unit.
pub fn check_texts(
    files: &[(String, String)],
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    Ok(check_texts_as(files, false, settings, scope::Mode::Files)?.finish())
}

/// `walked`: the files were found in a tree (`svcc diff --git` lists them from git) and are
/// sifted as a directory walk's are; their names are their paths.
fn check_texts_as(
    files: &[(String, String)],
    walked: bool,
    settings: &Settings,
    mode: scope::Mode,
) -> Result<Pending, check::schema::SchemaError> {
    let schemas = SchemaSet::shared(settings.profile.kubernetes_minor)?;
    let sink = DecodeAndCheck::new(settings, schemas);
    let mut loaded = Loaded::default();
    for (name, text) in files {
        let mut source = crate::source::SourceFile::new(
            name.clone(),
            walked.then(|| PathBuf::from(name)),
            text.clone(),
        );
        source.walked = walked;
        let consumed = yaml::parse_each(loaded.next_file(), text, &settings.limits, &sink);
        loaded.add_parsed(source, consumed);
    }
    Ok(finish_checks(loaded, &Skipped::default(), settings, mode))
}

/// [`compile`] for in-memory files found in a tree (`svcc diff --git`).
pub fn compile_texts(
    files: &[(String, String)],
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Result<Compiled, check::schema::SchemaError> {
    Ok(lower_checked(
        check_texts_as(files, true, settings, scope::Mode::Input)?,
        settings,
        options,
    ))
}

/// What the loader does with each document: decode it, check each object on its own while
/// its tree is alive, and drop the tree (see `model`'s module documentation).
struct DecodeAndCheck<'a> {
    profile: &'a Profile,
    schemas: &'a SchemaSet,
    selection: Option<&'a Selector>,
}

impl<'a> DecodeAndCheck<'a> {
    fn new(settings: &'a Settings, schemas: &'a SchemaSet) -> Self {
        DecodeAndCheck {
            profile: &settings.profile,
            schemas,
            selection: settings.selection.as_ref(),
        }
    }

    fn inspect(&self, object: &model::Object, tree: &Node) -> Vec<Diagnostic> {
        check::check_object(self.profile, self.schemas, self.selection, object, tree)
    }
}

impl Documents for DecodeAndCheck<'_> {
    type Out = Decoded;

    fn document(&self, doc: yaml::Document, out: &mut Self::Out) {
        let inspect = |o: &model::Object, t: &Node| self.inspect(o, t);
        model::decode_document(doc.root, self.profile.kubernetes_minor, &inspect, out);
    }

    fn splits_list(&self, list: &Node) -> bool {
        model::is_list(list)
    }

    fn list_items(&self, list: &Node, _first: usize, items: Vec<Node>, out: &mut Self::Out) {
        let inspect = |o: &model::Object, t: &Node| self.inspect(o, t);
        model::decode_list_items(list, items, self.profile.kubernetes_minor, &inspect, out);
    }
}

/// A checked input whose engine may still settle findings (lowering's notes) before it
/// reports the suppressions that silenced nothing.
struct Pending {
    outcome: Outcome,
    engine: check::Engine,
}

impl Pending {
    /// Settles findings about objects of the model (lowering's notes).
    fn settle(&mut self, findings: Vec<(usize, Diagnostic)>) {
        let findings = findings.into_iter().map(|(i, d)| (Some(i), d)).collect();
        let settled = self.engine.settle(findings, None);
        self.outcome.diagnostics.extend(settled);
    }

    /// Reports the unused suppressions, orders the findings and counts them.
    fn finish(self) -> Outcome {
        let Pending {
            mut outcome,
            engine,
        } = self;
        let checked = engine.finish(&outcome.model);
        outcome.diagnostics.extend(checked.diagnostics);
        outcome.diagnostics = check::settle_order(std::mem::take(&mut outcome.diagnostics));
        outcome.summary.suppressed = checked.suppressed;
        outcome.summary.count(&outcome.diagnostics);
        outcome
    }
}

/// Sifts what walks found, links the decoded objects within their apply units, and runs what
/// needs the whole input.
fn finish_checks(
    mut loaded: Loaded<Decoded>,
    skipped: &Skipped,
    settings: &Settings,
    mode: scope::Mode,
) -> Pending {
    let sifted = timing::stage("sift", || sift::sift(&mut loaded, skipped));
    let (model, mut diagnostics, object_findings) =
        timing::stage("assemble", || Model::assemble(loaded.pieces, loaded.count));
    diagnostics.reserve_exact(loaded.diagnostics.len() + sifted.notes.len());
    diagnostics.extend(loaded.diagnostics);
    diagnostics.extend(sifted.notes);
    let scopes = scope::Scopes::build(
        &loaded.sources,
        scope::Declared {
            mode,
            kustomizations: &sifted.kustomizations,
            together: Some(&settings.apply_together),
        },
    );
    let links = timing::stage("link", || {
        link::link_scoped(&model, &settings.profile.default_namespace, scopes)
    });
    let engine = check::Engine::new(
        &model,
        RunOptions {
            levels: settings.levels.clone(),
            selection: settings.selection.as_ref(),
            file_suppressions: loaded
                .sources
                .iter()
                .map(|(id, f)| (id, suppress::file_header(id, f)))
                .filter(|(_, s)| !s.is_empty())
                .collect(),
        },
    );
    let (diagnostics, engine) = timing::stage("check cluster", || {
        check::run(
            &model,
            &links,
            &settings.profile,
            diagnostics,
            object_findings,
            engine,
            Some(&loaded.sources),
        )
    });
    let summary = Summary {
        files: sifted.excluded.iter().filter(|&&e| !e).count(),
        documents: model.documents,
        objects: model.objects.len(),
        not_checked: sifted.not_checked,
        ..Summary::default()
    };
    Pending {
        outcome: Outcome {
            sources: loaded.sources,
            model,
            links,
            diagnostics,
            errors: loaded.errors,
            summary,
        },
        engine,
    }
}

/// A checked input and, when it has no errors, its plan.
#[derive(Debug)]
pub struct Compiled {
    pub outcome: Outcome,
    /// `None` when `check` found errors: nothing may be emitted.
    pub plan: Option<crate::plan::Plan>,
}

/// Checks the whole input as one apply unit, then lowers it to a plan unless there are
/// errors. Allocation notes (`info`) are added to the outcome's diagnostics.
pub fn compile(
    paths: &[PathBuf],
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Result<Compiled, check::schema::SchemaError> {
    Ok(lower_checked(
        check_paths_as(paths, settings, scope::Mode::Input)?,
        settings,
        options,
    ))
}

/// [`compile`] for in-memory text (tests, examples).
pub fn compile_text(
    name: &str,
    text: &str,
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Result<Compiled, check::schema::SchemaError> {
    Ok(lower_checked(
        check_texts_as(
            &[(name.to_owned(), text.to_owned())],
            false,
            settings,
            scope::Mode::Input,
        )?,
        settings,
        options,
    ))
}

/// Lowers a checked input without errors to a plan; lowering's notes (allocations, an input
/// without endpoints) are settled by the same engine as every other finding.
fn lower_checked(
    mut pending: Pending,
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Compiled {
    let refused = |o: &Outcome| o.has_errors() || !o.errors.is_empty();
    if refused(&pending.outcome) {
        return Compiled {
            outcome: pending.finish(),
            plan: None,
        };
    }
    let outcome = &pending.outcome;
    let (plan, notes) = timing::stage("lower", || {
        crate::plan::lower(&outcome.model, &outcome.links, &settings.profile, options)
    });
    pending.settle(notes);
    let outcome = pending.finish();
    // A suppression configured as an error may have made the input one.
    let plan = (!refused(&outcome)).then_some(plan);
    Compiled { outcome, plan }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large `kind: List` is decoded and checked run by run on the parsing threads; its
    /// findings are the same, at the same places, as for the same objects in a stream.
    #[test]
    fn a_large_list_is_checked_like_a_stream() {
        // One object, its lines indented by `indent`.
        let item = |i: usize, indent: &str| {
            let port = if i == 3_500 { 70_000 } else { 80 };
            format!(
                "kind: Service\nmetadata:\n  name: s{i}\n  namespace: shop\nspec:\n  ports:\n  \
                 - port: {port}\n"
            )
            .lines()
            .map(|l| format!("{indent}{l}\n"))
            .collect::<String>()
        };
        let mut list = String::from("apiVersion: v1\nitems:\n");
        let mut stream = String::new();
        for i in 0..6_000 {
            list.push_str(&format!("- apiVersion: v1\n{}", item(i, "  ")));
            stream.push_str(&format!("---\napiVersion: v1\n{}", item(i, "")));
        }
        list.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
        assert!(list.len() > yaml::PARALLEL_THRESHOLD);
        let settings = Settings::default();
        let (l, s) = (
            check_text("list.yaml", &list, &settings).expect("schemas"),
            check_text("stream.yaml", &stream, &settings).expect("schemas"),
        );
        assert_eq!(l.model.objects.len(), 6_000);
        let found = |o: &Outcome| -> Vec<(&str, Option<String>, String)> {
            o.diagnostics
                .iter()
                .map(|d| {
                    let file = o.sources.get(d.span.file);
                    (d.rule, d.path.clone(), file.slice(d.span).to_owned())
                })
                .collect()
        };
        let (in_list, in_stream) = (found(&l), found(&s));
        assert!(!in_list.is_empty());
        assert!(in_list == in_stream, "{in_list:?}\n{in_stream:?}");
        let bad = l
            .diagnostics
            .iter()
            .find(|d| d.path.as_deref() == Some("spec.ports[0].port"))
            .expect("the out-of-range port is reported");
        let (line, _) = l.sources.get(bad.span.file).line_col(bad.span.start);
        // `items:` is line 2; each item is 8 lines, the port on the item's 8th.
        assert_eq!(line, 2 + 3_500 * 8 + 8);
    }
}

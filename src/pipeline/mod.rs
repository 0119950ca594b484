//! The driver: one line per stage, as DESIGN.md draws it (load → decode → sift → link →
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
use crate::config::{Level, Profile};
use crate::diag::{Diagnostic, Severity};
use crate::link::{self, scope, Links};
use crate::model::{self, Decoded, Model};
use crate::report::Summary;
use crate::selector::Selector;
use crate::source::inputs::{self, InputError, Loaded};
use crate::source::inputs::{Globs, PathFilter};
use crate::source::repo::Skipped;
use crate::source::tree::Node;
use crate::source::yaml::{self, Documents, Limits};
use crate::source::SourceMap;
use crate::timing;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything a run is configured with, resolved from flags, `svcc.toml` and defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: Profile,
    pub limits: Limits,
    pub max_file_bytes: u64,
    /// Rule id → level, overriding the catalogue.
    pub levels: BTreeMap<String, Level>,
    /// `-l`: restrict checks and output to objects whose labels match.
    pub selection: Option<Selector>,
    /// `[files]` globs applied while walking directories.
    pub filter: PathFilter,
    /// `[files] apply-together` / `--apply-together`: globs naming files applied together.
    pub apply_together: Globs,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: Profile::default(),
            limits: Limits::default(),
            max_file_bytes: inputs::DEFAULT_MAX_FILE_BYTES,
            levels: BTreeMap::new(),
            selection: None,
            filter: PathFilter::default(),
            apply_together: Globs::default(),
        }
    }
}

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
    check_paths_as(paths, settings, scope::Mode::Files)
}

fn check_paths_as(
    paths: &[PathBuf],
    settings: &Settings,
    mode: scope::Mode,
) -> Result<Outcome, check::schema::SchemaError> {
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
    check_texts_as(files, false, settings, scope::Mode::Files)
}

/// `walked`: the files were found in a tree (`svcc diff --git` lists them from git) and are
/// sifted as a directory walk's are; their names are their paths.
fn check_texts_as(
    files: &[(String, String)],
    walked: bool,
    settings: &Settings,
    mode: scope::Mode,
) -> Result<Outcome, check::schema::SchemaError> {
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

/// Sifts what walks found, links the decoded objects within their apply units, and runs what
/// needs the whole input.
fn finish_checks(
    mut loaded: Loaded<Decoded>,
    skipped: &Skipped,
    settings: &Settings,
    mode: scope::Mode,
) -> Outcome {
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
    let options = RunOptions {
        levels: settings.levels.clone(),
        selection: settings.selection.as_ref(),
        file_suppressions: loaded
            .sources
            .iter()
            .map(|(id, f)| (id, suppress::file_header(id, f)))
            .filter(|(_, s)| !s.is_empty())
            .collect(),
        sources: Some(&loaded.sources),
    };
    let checked = timing::stage("check cluster", || {
        check::run(
            &model,
            &links,
            &settings.profile,
            diagnostics,
            object_findings,
            &options,
        )
    });
    let mut summary = Summary {
        files: sifted.excluded.iter().filter(|&&e| !e).count(),
        documents: model.documents,
        objects: model.objects.len(),
        suppressed: checked.suppressed,
        not_checked: sifted.not_checked,
        ..Summary::default()
    };
    summary.count(&checked.diagnostics);
    Outcome {
        sources: loaded.sources,
        model,
        links,
        diagnostics: checked.diagnostics,
        errors: loaded.errors,
        summary,
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

fn lower_checked(
    mut outcome: Outcome,
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Compiled {
    if outcome.has_errors() || !outcome.errors.is_empty() {
        return Compiled {
            outcome,
            plan: None,
        };
    }
    let (plan, notes) = timing::stage("lower", || {
        crate::plan::lower(&outcome.model, &outcome.links, &settings.profile, options)
    });
    let notes = check::settle_order(
        notes
            .into_iter()
            .filter_map(|mut d| {
                match settings.levels.get(d.rule) {
                    Some(Level::Off) => return None,
                    Some(Level::On(s)) => d.severity = *s,
                    None => {
                        d.severity =
                            check::registry::lookup(d.rule).map_or(Severity::Info, |r| r.severity)
                    }
                }
                Some(d)
            })
            .collect(),
    );
    outcome.summary.count(&notes);
    outcome.diagnostics.extend(notes);
    outcome.diagnostics = check::settle_order(std::mem::take(&mut outcome.diagnostics));
    Compiled {
        outcome,
        plan: Some(plan),
    }
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

//! The driver: one line per stage, as DESIGN.md draws it (load → decode → check). The CLI and
//! the tests both go through here.

use crate::check::{self, schema::SchemaSet, suppress, RunOptions};
use crate::config::{Level, Profile};
use crate::diag::{Diagnostic, Severity};
use crate::link::{self, Links};
use crate::model::{self, Model};
use crate::report::Summary;
use crate::selector::Selector;
use crate::source::inputs::PathFilter;
use crate::source::inputs::{self, InputError, Loaded};
use crate::source::tree::{Node, Value};
use crate::source::yaml::Limits;
use crate::source::SourceMap;
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

/// Checks files and directories (`-` is standard input).
pub fn check_paths(
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    let (inputs, mut errors) = inputs::discover(paths, &settings.filter);
    let mut loaded = inputs::load(&inputs, &settings.limits, settings.max_file_bytes);
    errors.append(&mut loaded.errors);
    loaded.errors = errors;
    check_loaded(loaded, settings)
}

/// Checks in-memory text as one file named `name` (tests, `svcc explain` examples).
pub fn check_text(
    name: &str,
    text: &str,
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    check_texts(&[(name.to_owned(), text.to_owned())], settings)
}

/// Checks several in-memory files (`svcc diff --git` reads them from git).
pub fn check_texts(
    files: &[(String, String)],
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    let mut loaded = Loaded::default();
    for (name, text) in files {
        let file = loaded.sources.add(crate::source::SourceFile::new(
            name.clone(),
            None,
            text.clone(),
        ));
        let parsed = crate::source::yaml::parse(file, text, &settings.limits);
        loaded.diagnostics.extend(parsed.diagnostics);
        loaded
            .documents
            .extend(parsed.documents.into_iter().map(|d| (file, d)));
    }
    check_loaded(loaded, settings)
}

/// [`compile`] for several in-memory files.
pub fn compile_texts(
    files: &[(String, String)],
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Result<Compiled, check::schema::SchemaError> {
    Ok(lower_checked(
        check_texts(files, settings)?,
        settings,
        options,
    ))
}

fn check_loaded(
    loaded: Loaded,
    settings: &Settings,
) -> Result<Outcome, check::schema::SchemaError> {
    let schemas = SchemaSet::shared(settings.profile.kubernetes_minor)?;
    let mut model = model::decode(loaded.documents, settings.profile.kubernetes_minor);
    model.diagnostics.extend(loaded.diagnostics);
    let links = link::link(&model, &settings.profile.default_namespace);
    let options = RunOptions {
        levels: settings.levels.clone(),
        selection: settings.selection.as_ref(),
        file_suppressions: loaded
            .sources
            .iter()
            .map(|(id, f)| (id, suppress::file_header(id, f)))
            .filter(|(_, s)| !s.is_empty())
            .collect(),
    };
    let checked = check::run(&model, &links, &settings.profile, schemas, &options);
    let mut summary = Summary {
        files: loaded.sources.len(),
        documents: model.documents,
        objects: model.objects.len(),
        suppressed: checked.suppressed,
        ..Summary::default()
    };
    summary.count(&checked.diagnostics);
    Ok(Outcome {
        sources: loaded.sources,
        model,
        links,
        diagnostics: checked.diagnostics,
        errors: loaded.errors,
        summary,
    })
}

/// A checked input and, when it has no errors, its plan.
#[derive(Debug)]
pub struct Compiled {
    /// When there is a plan, the objects' trees (`Object::root`) are gone: nothing after the
    /// checks reads them, and at cluster scale they are most of the memory.
    pub outcome: Outcome,
    /// `None` when `check` found errors: nothing may be emitted.
    pub plan: Option<crate::plan::Plan>,
}

/// Checks, then lowers to a plan unless there are errors. Allocation notes (`info`) are added
/// to the outcome's diagnostics.
pub fn compile(
    paths: &[PathBuf],
    settings: &Settings,
    options: &crate::plan::LowerOptions,
) -> Result<Compiled, check::schema::SchemaError> {
    Ok(lower_checked(
        check_paths(paths, settings)?,
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
        check_text(name, text, settings)?,
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
    // Free the trees on another thread while this one lowers and the caller emits.
    let trees: Vec<Node> = outcome
        .model
        .objects
        .iter_mut()
        .map(|o| {
            let span = o.root.span;
            std::mem::replace(&mut o.root, Node::new(span, Value::Null))
        })
        .collect();
    let freeing = std::thread::spawn(move || drop(trees));
    let (plan, notes) =
        crate::plan::lower(&outcome.model, &outcome.links, &settings.profile, options);
    let _ = freeing.join();
    release_freed_memory();
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

/// Hands memory that is free again back to the system. The trees were built by the parser's
/// worker threads, in their own glibc arenas; once freed, that memory could only be reused by
/// those threads, so without this the process would keep it (as resident memory) while the
/// main thread allocates the plan and the ruleset anew.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim only returns free pages of the allocator's own heaps to
        // the system; it has no preconditions and no effect on allocated memory.
        unsafe {
            malloc_trim(0);
        }
    }
}

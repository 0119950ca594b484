//! `--format human`: rustc-style reports drawn by miette's graphical handler.
//!
//! Each diagnostic becomes a small adapter implementing [`miette::Diagnostic`]: the header is
//! `severity[rule]`, then the message, the excerpt with the primary label and every related
//! location of the same file as secondary labels, the help, a footer naming the field path and
//! the object (`= at spec.ports[0].nodePort in Service default/myapp`), and related locations in
//! other files as miette's related diagnostics, each with its own excerpt. A one-line summary
//! closes the report.
//!
//! Output is deterministic: fixed width, no terminal links, no syntax highlighting, and no escape
//! sequence at all unless `Report::color` is set. Text from the input (excerpts, file names,
//! quoted values) never reaches the terminal raw: see [`super::printable`].

use super::printable::{printable, Excerpt};
use super::Report;
use crate::diag::{Diagnostic, Severity};
use crate::source::{FileId, SourceFile, Span};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

/// Columns the report is wrapped at, whatever the terminal.
const WIDTH: usize = 100;

/// A span covering more lines than this is drawn as its first line only, so that a finding about
/// a whole block does not print the block.
const MAX_SPAN_LINES: usize = 6;

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let handlers = Handlers {
        wrapping: handler(report.color),
        flat: handler(report.color).with_wrap_lines(false),
    };
    let mut excerpts = Excerpts::default();
    for d in report.diagnostics.iter().take(MAX_DRAWN) {
        let text = render(&handlers, report, &mut excerpts, d)?;
        out.write_all(text.as_bytes())?;
        writeln!(out)?;
    }
    if let Some(more) = report
        .diagnostics
        .len()
        .checked_sub(MAX_DRAWN)
        .filter(|&n| n > 0)
    {
        writeln!(
            out,
            "… and {more} more findings, not drawn here (`--format short` lists every one)\n"
        )?;
    }
    if let Some(line) = not_checked_line(&report.summary.not_checked) {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", summary_line(report))
}

/// `not checked: 3 files that are not Kubernetes, 1 Helm chart, 4 kustomize files`, when a
/// walk left anything out.
fn not_checked_line(n: &crate::report::NotChecked) -> Option<String> {
    let parts: Vec<String> = [
        (
            n.not_kubernetes,
            "file that is not Kubernetes",
            "files that are not Kubernetes",
        ),
        (n.templates, "template", "templates"),
        (n.helm_charts, "Helm chart", "Helm charts"),
        (n.kustomize, "kustomize file", "kustomize files"),
    ]
    .into_iter()
    .filter(|(count, _, _)| *count > 0)
    .map(|(count, one, many)| plural(count, one, many))
    .collect();
    (!parts.is_empty()).then(|| format!("not checked: {}", parts.join(", ")))
}

/// Findings drawn in full: past this, a run is not read by a person (a hostile stream of a
/// million documents would take minutes to draw); the summary still counts every finding.
pub const MAX_DRAWN: usize = 1_000;

/// The handler that draws findings, and the same without wrapping, which draws the notes of
/// other files: miette wraps a nested note again as a whole, which would cut the path in its
/// excerpt header; a note's lines (a short message, source lines) are not wrapped anyway.
struct Handlers {
    wrapping: GraphicalReportHandler,
    flat: GraphicalReportHandler,
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(WIDTH)
        .with_links(false)
        .with_urls(false)
        .without_syntax_highlighting()
        .with_context_lines(1)
        .with_show_related_as_nested(true)
        // Lines break at spaces only: a path, a label key or a quoted value is never cut (at a
        // `/` or `-`, as the defaults would); a longer one runs past the width instead.
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation)
        .with_break_words(false)
}

/// The files excerpts are drawn from, each made printable once ([`Excerpt`]).
#[derive(Default)]
struct Excerpts(HashMap<FileId, Arc<Excerpt>>);

impl Excerpts {
    fn get(&mut self, report: &Report, file: FileId) -> Arc<Excerpt> {
        Arc::clone(
            self.0
                .entry(file)
                .or_insert_with(|| Arc::new(Excerpt::new(report.sources.get(file)))),
        )
    }
}

/// One diagnostic, ending with a newline.
fn render(
    handlers: &Handlers,
    report: &Report,
    excerpts: &mut Excerpts,
    d: &Diagnostic,
) -> io::Result<String> {
    let shown = excerpts.get(report, d.span.file);
    let file = &shown.file;
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(printable(d.label.as_deref().unwrap_or(&d.message)).into_owned()),
        display_span(file, shown.span(d.span)),
    )];
    let mut notes = Vec::new();
    for r in &d.related {
        if r.span.file == d.span.file {
            labels.push(LabeledSpan::new_with_span(
                Some(printable(&r.message).into_owned()),
                display_span(file, shown.span(r.span)),
            ));
        } else {
            let other = excerpts.get(report, r.span.file);
            let span = display_span(&other.file, other.span(r.span));
            notes.push(Note {
                message: printable(&r.message).into_owned(),
                span,
                source: FileSource::new(&other.file, &[span]),
            });
        }
    }
    let spans: Vec<SourceSpan> = labels.iter().map(|l| *l.inner()).collect();
    let mut adapter = Adapter {
        diag: d,
        source: FileSource::new(file, &spans),
        labels,
        notes,
        show_notes: false,
    };

    // miette draws the related diagnostics right after the help; the footer belongs between the
    // two, so render without them first and splice the footer in at that point. The notes come
    // from a drawing without wrapping (see [`Handlers`]).
    let base = draw(&handlers.wrapping, &adapter)?;
    let footer = footer(d, report.color);
    if adapter.notes.is_empty() {
        return Ok(base + &footer);
    }
    let flat_base = draw(&handlers.flat, &adapter)?;
    adapter.show_notes = true;
    let flat_full = draw(&handlers.flat, &adapter)?;
    Ok(match flat_full.strip_prefix(flat_base.as_str()) {
        Some(notes) => base + &footer + notes,
        None => flat_full + &footer,
    })
}

fn draw(
    handler: &GraphicalReportHandler,
    diagnostic: &dyn miette::Diagnostic,
) -> io::Result<String> {
    let mut text = String::new();
    handler
        .render_report(&mut text, diagnostic)
        .map_err(|_| io::Error::other("cannot render a diagnostic"))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// `  = at <path> in <object>`, or nothing when the diagnostic has neither.
fn footer(d: &Diagnostic, color: bool) -> String {
    let mut text = String::new();
    if let Some(path) = &d.path {
        text.push_str(" at ");
        text.push_str(&printable(path));
    }
    if let Some(object) = &d.object {
        text.push_str(" in ");
        text.push_str(&printable(&object.to_string()));
    }
    if text.is_empty() {
        return text;
    }
    let eq = paint("=", "1;34", color);
    format!("  {eq}{text}\n")
}

/// The miette span to draw for one of ours: clamped to the text, and cut to its first line when
/// it covers many lines.
fn display_span(file: &SourceFile, span: Span) -> SourceSpan {
    let len = file.text.len();
    let start = (span.start as usize).min(len);
    let mut end = (span.end as usize).clamp(start, len);
    let covered = file.text.get(start..end).unwrap_or("");
    if covered.trim_end_matches('\n').lines().count() > MAX_SPAN_LINES {
        if let Some(nl) = covered.find('\n') {
            end = start + covered[..nl].trim_end().len();
        }
    }
    SourceSpan::new(start.into(), end - start)
}

/// A file as miette source code: named, and with character columns in the excerpt header, like
/// every other format (miette on its own counts bytes).
#[derive(Debug)]
struct FileSource {
    file: Arc<SourceFile>,
    /// The text with a newline added, when a label points at the very end of the file: miette
    /// draws a position only where a character (at least a line break) follows.
    padded: Option<String>,
}

impl FileSource {
    fn new(file: &Arc<SourceFile>, spans: &[SourceSpan]) -> FileSource {
        let at_end = spans.iter().any(|s| s.offset() >= file.text.len());
        FileSource {
            file: Arc::clone(file),
            padded: at_end.then(|| format!("{}\n", file.text)),
        }
    }
}

impl SourceCode for FileSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text: &'a str = self.padded.as_deref().unwrap_or(&self.file.text);
        let offset = u32::try_from(span.offset()).unwrap_or(u32::MAX);
        let (line, column) = self.file.line_col(offset);
        // miette finds lines by scanning from the start of the text it is given: hand it the
        // text from the first context line on, so a file with many findings is not scanned
        // once per finding.
        let first_line = line.saturating_sub(1 + context_lines_before);
        let base = self.file.line_start(first_line).min(span.offset());
        let rest = text.get(base..).unwrap_or("");
        let relative = SourceSpan::new((span.offset() - base).into(), span.len());
        let inner = rest.read_span(&relative, context_lines_before, context_lines_after)?;
        let data_span = SourceSpan::new((inner.span().offset() + base).into(), inner.span().len());
        // miette merges two excerpts of a file into one when the first one's `line() +
        // line_count()` reaches the second one's first line. Its own sources give an absolute
        // line number as the count, which merges excerpts twenty lines apart into one long
        // excerpt; the count of lines shown merges only excerpts that touch.
        let shown_lines = inner.line_count().saturating_sub(inner.line());
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.name.clone(),
            inner.data(),
            data_span,
            inner.line() + first_line,
            column - 1,
            shown_lines,
        )))
    }
}

fn miette_severity(severity: Severity) -> miette::Severity {
    match severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

/// Our diagnostic, as miette sees it.
#[derive(Debug)]
struct Adapter<'a> {
    diag: &'a Diagnostic,
    source: FileSource,
    labels: Vec<LabeledSpan>,
    /// Related locations in other files.
    notes: Vec<Note>,
    show_notes: bool,
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.diag.message))
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{}[{}]",
            self.diag.severity, self.diag.rule
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(miette_severity(self.diag.severity))
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(printable(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if !self.show_notes || self.notes.is_empty() {
            return None;
        }
        Some(Box::new(
            self.notes.iter().map(|n| n as &dyn miette::Diagnostic),
        ))
    }
}

/// A related location in another file: drawn as a note with its own excerpt.
#[derive(Debug)]
struct Note {
    message: String,
    span: SourceSpan,
    source: FileSource,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Note {}

impl miette::Diagnostic for Note {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        // The message is the note's heading; the excerpt only underlines.
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(None, self.span),
        )))
    }
}

/// `error: 3 errors, 1 warning in 2 files (5 objects)`, or
/// `checked 12 files (20 objects): no problems found`, or, when inputs could not be read,
/// `error: could not read x.yaml: …; nothing found in the 2 files (3 objects) read`.
fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let scope = format!(
        "{} ({})",
        plural(s.files, "file", "files"),
        plural(s.objects, "object", "objects")
    );
    let suppressed = if s.suppressed > 0 {
        format!(", {} suppressed", s.suppressed)
    } else {
        String::new()
    };
    let counts: Vec<String> = [
        (s.errors, "error", "errors"),
        (s.warnings, "warning", "warnings"),
        (s.infos, "info", "infos"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect();
    let worst = if s.errors > 0 {
        Some(("error", "1;31"))
    } else if s.warnings > 0 {
        Some(("warning", "1;33"))
    } else if s.infos > 0 {
        Some(("info", "1;36"))
    } else {
        None
    };
    // Inputs that could not be read make the run incomplete: never "no problems found".
    let unreadable = match report.unreadable {
        [] => None,
        [one] => Some(format!("could not read {}", printable(one))),
        [first, rest @ ..] => Some(format!(
            "could not read {} and {}",
            printable(first),
            plural(rest.len(), "more input", "more inputs")
        )),
    };
    match (unreadable, worst) {
        (Some(unread), Some(_)) => format!(
            "{}: {unread}; {} in {scope}{suppressed}",
            paint("error", "1;31", report.color),
            counts.join(", ")
        ),
        (Some(unread), None) if s.files == 0 => format!(
            "{}: {unread}; nothing was checked{suppressed}",
            paint("error", "1;31", report.color),
        ),
        (Some(unread), None) => format!(
            "{}: {unread}; nothing found in the {scope} read{suppressed}",
            paint("error", "1;31", report.color),
        ),
        (None, Some((word, style))) => format!(
            "{}: {} in {scope}{suppressed}",
            paint(word, style, report.color),
            counts.join(", ")
        ),
        (None, None) => format!("checked {scope}: no problems found{suppressed}"),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` in an SGR style when colour is on.
fn paint(text: &str, sgr: &str, color: bool) -> String {
    if color {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::ObjectRef;
    use crate::report::Summary;
    use crate::source::{FileId, SourceMap};

    const SVC: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: myapp
  namespace: default
spec:
  type: NodePort
  ports:
    - port: 80
      nodePort: 40000
    - port: 80
      nodePort: 30080
";

    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp
spec:
  template:
    spec:
      containers:
        - name: app
          ports:
            - containerPort: 8080
";

    fn sources() -> SourceMap {
        let mut map = SourceMap::default();
        map.add(SourceFile::new("svc.yaml".into(), None, SVC.into()));
        map.add(SourceFile::new("deploy.yaml".into(), None, DEPLOY.into()));
        map
    }

    fn span_of(file: u32, text: &str, needle: &str) -> Span {
        let start = text.find(needle).expect("needle in text");
        Span::new(FileId(file), start, start + needle.len())
    }

    fn object() -> ObjectRef {
        ObjectRef {
            kind: "Service".into(),
            namespace: Some("default".into()),
            name: Some("myapp".into()),
        }
    }

    fn diagnostics() -> Vec<Diagnostic> {
        let first_port = span_of(0, SVC, "port: 80");
        let second_port = SVC.rfind("port: 80").unwrap();
        let second_port = Span::new(FileId(0), second_port, second_port + 8);
        vec![
            Diagnostic::new(
                "nodeport-out-of-range",
                span_of(0, SVC, "40000"),
                "nodePort 40000 is outside 30000-32767",
            )
            .label("not in the NodePort range")
            .path("spec.ports[0].nodePort")
            .object(object())
            .help("pick a port between 30000 and 32767, or leave `nodePort` out"),
            Diagnostic::new(
                "duplicate-port",
                second_port,
                "port 80/TCP is declared twice",
            )
            .path("spec.ports[1].port")
            .object(ObjectRef {
                kind: "Service".into(),
                namespace: None,
                name: Some("myapp".into()),
            })
            .related(first_port, "first used here")
            .related(
                span_of(1, DEPLOY, "containerPort: 8080"),
                "the container listens here",
            ),
        ]
    }

    fn render_to_string(diagnostics: &[Diagnostic], summary: Summary, color: bool) -> String {
        let sources = sources();
        let report = Report {
            diagnostics,
            sources: &sources,
            summary,
            color,
            unreadable: &[],
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn summary_of(diagnostics: &[Diagnostic]) -> Summary {
        let mut summary = Summary {
            files: 2,
            documents: 2,
            objects: 2,
            ..Summary::default()
        };
        summary.count(diagnostics);
        summary
    }

    #[test]
    fn renders_rustc_style_without_colour() {
        let diags = diagnostics();
        let text = render_to_string(&diags, summary_of(&diags), false);
        assert!(!text.contains('\x1b'), "escape sequence in:\n{text}");
        // Header, location, message, label, help and footer of the first diagnostic.
        assert!(text.contains("error[nodeport-out-of-range]"), "{text}");
        assert!(
            text.contains("nodePort 40000 is outside 30000-32767"),
            "{text}"
        );
        assert!(text.contains("[svc.yaml:10:17]"), "{text}");
        assert!(text.contains("not in the NodePort range"), "{text}");
        assert!(
            text.contains("help: pick a port between 30000 and 32767"),
            "{text}"
        );
        assert!(
            text.contains("= at spec.ports[0].nodePort in Service default/myapp"),
            "{text}"
        );
        // The second: the message doubles as the label, a same-file related label, an other-file
        // note with its own excerpt, and a footer without namespace.
        assert!(text.contains("error[duplicate-port]"), "{text}");
        assert!(text.contains("[svc.yaml:11:7]"), "{text}");
        assert!(text.contains("first used here"), "{text}");
        assert!(text.contains("[deploy.yaml:11:15]"), "{text}");
        assert!(text.contains("the container listens here"), "{text}");
        assert!(
            text.contains("= at spec.ports[1].port in Service myapp"),
            "{text}"
        );
        // The footer comes before the other file's excerpt.
        let footer = text.find("= at spec.ports[1].port").unwrap();
        let note = text.find("[deploy.yaml:11:15]").unwrap();
        assert!(footer < note, "{text}");
        // Same-file related locations share the excerpt: one excerpt header for svc.yaml there.
        let second = &text[text.find("error[duplicate-port]").unwrap()..];
        assert_eq!(second.matches("[svc.yaml:").count(), 1, "{text}");
        assert!(
            text.ends_with("error: 2 errors in 2 files (2 objects)\n"),
            "{text}"
        );
    }

    // See: issue #13 (the path of a note's excerpt was wrapped mid-name).
    #[test]
    fn long_paths_are_never_broken() {
        let long = format!("{}service-{}.yaml", "manifests/".repeat(12), "x".repeat(17));
        assert_eq!(long.len(), 150);
        let mut sources = SourceMap::default();
        sources.add(SourceFile::new("svc.yaml".into(), None, SVC.into()));
        sources.add(SourceFile::new(long.clone(), None, DEPLOY.into()));
        let d = Diagnostic::new(
            "duplicate-port",
            span_of(0, SVC, "40000"),
            "a message long enough to be wrapped: the `kubernetes.io/service-name` label and \
             the `spec.ports[0].targetPort` field are names, not words to split at a hyphen",
        )
        .label("here")
        .related(
            span_of(1, DEPLOY, "containerPort: 8080"),
            "first defined here",
        )
        .help(
            "see `very-long-directory-name/with-hyphens-and/slashes-in-it.yaml` for the rest of it",
        );
        for color in [false, true] {
            let report = Report {
                diagnostics: std::slice::from_ref(&d),
                sources: &sources,
                summary: Summary::default(),
                color,
                unreadable: &[],
            };
            let mut out = Vec::new();
            write(&report, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(&format!("{long}:11:15")), "{text}");
            assert!(text.contains("`kubernetes.io/service-name`"), "{text}");
            assert!(
                text.contains("`very-long-directory-name/with-hyphens-and/slashes-in-it.yaml`"),
                "{text}"
            );
            assert!(text.contains("first defined here"), "{text}");
            // The other lines are still wrapped at the report's width.
            let widest = text
                .lines()
                .filter(|l| !l.contains(&long))
                .map(|l| l.chars().filter(|c| !c.is_control()).count())
                .max();
            assert!(widest.is_some_and(|w| w <= WIDTH + 12), "{text}");
        }
    }

    #[test]
    fn colour_uses_escape_sequences() {
        let diags = diagnostics();
        let text = render_to_string(&diags, summary_of(&diags), true);
        assert!(text.contains("\x1b["), "{text}");
        assert!(text.contains("nodeport-out-of-range"), "{text}");
    }

    #[test]
    fn empty_spans_point_at_a_position() {
        // At a line's start, in the middle of a line, and at the very end of the file.
        for offset in [0, SVC.find("40000").unwrap(), SVC.len()] {
            let d = Diagnostic::new(
                "missing-field",
                Span::new(FileId(0), offset, offset),
                "something is missing here",
            );
            let text = render_to_string(
                std::slice::from_ref(&d),
                summary_of(std::slice::from_ref(&d)),
                false,
            );
            let at = SourceFile::new("t".into(), None, SVC.into()).line_col(offset as u32);
            assert!(
                text.contains(&format!("[svc.yaml:{}:{}]", at.0, at.1)),
                "{text}"
            );
            assert!(!text.contains("Failed to read"), "{text}");
            assert!(text.contains("something is missing here"), "{text}");
            assert!(text.contains('\u{25b2}'), "no position marker in:\n{text}");
        }
    }

    #[test]
    fn long_spans_are_cut_to_their_first_line() {
        let start = SVC.find("spec:").unwrap();
        let d = Diagnostic::new(
            "whole-spec",
            Span::new(FileId(0), start, SVC.len()),
            "the whole spec is wrong",
        )
        .label("this block");
        let text = render_to_string(
            std::slice::from_ref(&d),
            summary_of(std::slice::from_ref(&d)),
            false,
        );
        assert!(text.contains("[svc.yaml:6:1]"), "{text}");
        assert!(text.contains("this block"), "{text}");
        assert!(!text.contains("nodePort: 30080"), "{text}");
    }

    #[test]
    fn columns_count_characters() {
        let text = "metadata:\n  name: caf\u{e9}-\u{e9}\n";
        let mut sources = SourceMap::default();
        sources.add(SourceFile::new("u.yaml".into(), None, text.into()));
        let start = text.rfind('\u{e9}').unwrap();
        let d = Diagnostic::new(
            "bad-name",
            Span::new(FileId(0), start, start + 2),
            "bad character",
        );
        let report = Report {
            diagnostics: std::slice::from_ref(&d),
            sources: &sources,
            summary: Summary::default(),
            color: false,
            unreadable: &[],
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let at = report.locate(d.span);
        assert!(
            out.contains(&format!("[u.yaml:{}:{}]", at.line, at.column)),
            "{out}"
        );
    }

    #[test]
    fn not_checked_line_counts_what_walks_left_out() {
        use crate::report::NotChecked;
        assert_eq!(not_checked_line(&NotChecked::default()), None);
        let n = NotChecked {
            not_kubernetes: 3,
            templates: 0,
            helm_charts: 1,
            kustomize: 4,
        };
        assert_eq!(
            not_checked_line(&n).as_deref(),
            Some("not checked: 3 files that are not Kubernetes, 1 Helm chart, 4 kustomize files")
        );
    }

    #[test]
    fn summary_lines() {
        let clean = Summary {
            files: 12,
            documents: 20,
            objects: 20,
            ..Summary::default()
        };
        assert_eq!(
            render_to_string(&[], clean, false),
            "checked 12 files (20 objects): no problems found\n"
        );
        let mixed = Summary {
            files: 2,
            objects: 5,
            errors: 3,
            warnings: 1,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&Report {
                diagnostics: &[],
                sources: &sources(),
                summary: mixed,
                color: false,
                unreadable: &[]
            }),
            "error: 3 errors, 1 warning in 2 files (5 objects)"
        );
        let warned = Summary {
            files: 1,
            objects: 1,
            warnings: 2,
            infos: 1,
            suppressed: 4,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&Report {
                diagnostics: &[],
                sources: &sources(),
                summary: warned,
                color: false,
                unreadable: &[]
            }),
            "warning: 2 warnings, 1 info in 1 file (1 object), 4 suppressed"
        );
    }

    // See: issue #13 (`svcc check /nonexistent` said "no problems found").
    #[test]
    fn unreadable_inputs_are_never_clean() {
        let line = |summary: Summary, unreadable: &[String]| {
            summary_line(&Report {
                diagnostics: &[],
                sources: &sources(),
                summary,
                color: false,
                unreadable,
            })
        };
        let missing = ["/nonexistent: No such file or directory (os error 2)".to_owned()];
        assert_eq!(
            line(Summary::default(), &missing),
            "error: could not read /nonexistent: No such file or directory (os error 2); \
             nothing was checked"
        );
        let read = Summary {
            files: 2,
            objects: 3,
            ..Summary::default()
        };
        let two = [
            missing[0].clone(),
            "b.yaml: file is larger than 10 bytes".to_owned(),
        ];
        assert_eq!(
            line(read, &two),
            "error: could not read /nonexistent: No such file or directory (os error 2) and 1 \
             more input; nothing found in the 2 files (3 objects) read"
        );
        let warned = Summary {
            warnings: 1,
            ..read
        };
        assert_eq!(
            line(warned, &missing[..]),
            "error: could not read /nonexistent: No such file or directory (os error 2); \
             1 warning in 2 files (3 objects)"
        );
    }
}

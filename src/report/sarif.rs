//! `--format sarif`: SARIF 2.1.0, as GitHub code scanning reads it.
//!
//! One run. The driver lists every rule of the catalogue, sorted by id, plus any rule that
//! appears in the results without a catalogue entry (described by its first message). Results
//! name their rule by `ruleId` and `ruleIndex`, carry 1-based regions with an exclusive end
//! column (columns count characters, hence `columnKind: unicodeCodePoints`), related locations,
//! and a partial fingerprint over rule, file, field path and object so alerts survive edits that
//! move lines. Artifact URIs are relative to where svcc ran, with forward slashes. Inputs that
//! could not be read add an invocation with `executionSuccessful: false` and one error
//! notification each.
//!
//! The output is deterministic: same input, same bytes.

use super::Report;
use crate::catalogue::{RuleInfo, CATALOGUE};
use crate::diag::{Diagnostic, Severity};
use crate::source::{FileId, Span};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of our entry in `partialFingerprints`; bump the version if the hash input changes.
const FINGERPRINT_KEY: &str = "svcc/v1";

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(report, CATALOGUE))?;
    writeln!(out)
}

/// The whole SARIF log, with rule metadata from `catalogue`.
fn document(report: &Report, catalogue: &[RuleInfo]) -> Value {
    let rules = Rules::new(catalogue, report.diagnostics);
    let artifacts = Artifacts::new(report);
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| result(report, d, &rules, &artifacts, &mut seen))
        .collect();

    let mut driver = Map::new();
    driver.insert("name".into(), json!("svcc"));
    if let Some(uri) = option_env!("CARGO_PKG_REPOSITORY").filter(|u| !u.is_empty()) {
        driver.insert("informationUri".into(), json!(uri));
    }
    driver.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    driver.insert("semanticVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    driver.insert("rules".into(), Value::Array(rules.descriptors));

    let mut run = json!({
        "tool": { "driver": driver },
        "columnKind": "unicodeCodePoints",
        "artifacts": artifacts.values,
        "results": results,
    });
    // Inputs that could not be read: the run did not succeed, whatever the results say.
    if !report.unreadable.is_empty() {
        let notifications: Vec<Value> = report
            .unreadable
            .iter()
            .map(|u| json!({ "level": "error", "message": { "text": format!("could not read {u}") } }))
            .collect();
        run["invocations"] = json!([{
            "executionSuccessful": false,
            "toolExecutionNotifications": notifications,
        }]);
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [run],
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The `reportingDescriptor`s and where each rule id sits among them.
struct Rules {
    descriptors: Vec<Value>,
    index: HashMap<&'static str, usize>,
}

impl Rules {
    fn new(catalogue: &[RuleInfo], diagnostics: &[Diagnostic]) -> Rules {
        let mut by_id: BTreeMap<&'static str, Value> = BTreeMap::new();
        for rule in catalogue {
            by_id.entry(rule.id).or_insert_with(|| {
                let body = rule.body();
                json!({
                    "id": rule.id,
                    "name": rule.id,
                    "shortDescription": { "text": rule.title },
                    "fullDescription": { "text": rule.summary() },
                    "help": { "text": body, "markdown": body },
                    "defaultConfiguration": { "level": level(rule.severity) },
                    "properties": { "tags": [rule.category] },
                })
            });
        }
        // Rules that report without a catalogue entry: described by their first finding.
        for d in diagnostics {
            by_id.entry(d.rule).or_insert_with(|| {
                json!({
                    "id": d.rule,
                    "name": d.rule,
                    "shortDescription": { "text": d.message },
                    "fullDescription": { "text": d.message },
                    "defaultConfiguration": { "level": level(d.severity) },
                })
            });
        }
        let index = by_id.keys().enumerate().map(|(i, id)| (*id, i)).collect();
        Rules {
            descriptors: by_id.into_values().collect(),
            index,
        }
    }
}

/// The files that results point into, in source-map order, one artifact per URI.
struct Artifacts {
    values: Vec<Value>,
    /// A file's URI and the index of its artifact.
    files: HashMap<FileId, (String, usize)>,
}

impl Artifacts {
    fn new(report: &Report) -> Artifacts {
        let mut used: Vec<FileId> = report
            .diagnostics
            .iter()
            .flat_map(|d| std::iter::once(d.span.file).chain(d.related.iter().map(|r| r.span.file)))
            .collect();
        used.sort();
        used.dedup();
        let mut values = Vec::new();
        let mut by_uri: HashMap<String, usize> = HashMap::new();
        let mut files = HashMap::new();
        for file in used {
            let uri = uri(&report.sources.get(file).name);
            let index = *by_uri.entry(uri.clone()).or_insert_with(|| {
                values.push(json!({ "location": { "uri": uri } }));
                values.len() - 1
            });
            files.insert(file, (uri, index));
        }
        Artifacts { values, files }
    }

    fn uri(&self, file: FileId) -> &str {
        &self.files[&file].0
    }

    fn location(&self, file: FileId) -> Value {
        let (uri, index) = &self.files[&file];
        json!({ "uri": uri, "index": index })
    }
}

fn result(
    report: &Report,
    d: &Diagnostic,
    rules: &Rules,
    artifacts: &Artifacts,
    seen: &mut HashMap<u64, usize>,
) -> Value {
    let mut text = d.message.to_string();
    if let Some(path) = &d.path {
        text.push_str(&format!(" (at {path})"));
    }
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }

    let mut value = json!({
        "ruleId": d.rule,
        "ruleIndex": rules.index[d.rule],
        "level": level(d.severity),
        "message": { "text": text },
        "locations": [{ "physicalLocation": physical(report, artifacts, d.span) }],
    });
    let fields = value.as_object_mut().expect("a result is an object");
    if !d.related.is_empty() {
        let related: Vec<Value> = d
            .related
            .iter()
            .enumerate()
            .map(|(i, r)| {
                json!({
                    "id": i + 1,
                    "physicalLocation": physical(report, artifacts, r.span),
                    "message": { "text": r.message },
                })
            })
            .collect();
        fields.insert("relatedLocations".into(), Value::Array(related));
    }
    let base = fingerprint(d, artifacts.uri(d.span.file));
    // The same rule at the same path of the same object twice in a file (file-level findings,
    // mostly): number the repeats so each keeps an alert of its own.
    let repeat = seen.entry(base).or_insert(0);
    let print = if *repeat == 0 {
        base
    } else {
        fnv1a(&[&base.to_be_bytes()[..], &repeat.to_be_bytes()[..]])
    };
    *repeat += 1;
    fields.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT_KEY: format!("{print:016x}") }),
    );
    let mut properties = Map::new();
    if let Some(path) = &d.path {
        properties.insert("path".into(), json!(path));
    }
    if let Some(object) = &d.object {
        properties.insert("object".into(), json!(object.to_string()));
    }
    if !properties.is_empty() {
        fields.insert("properties".into(), Value::Object(properties));
    }
    value
}

fn physical(report: &Report, artifacts: &Artifacts, span: Span) -> Value {
    let at = report.locate(span);
    let (end_line, end_column) = if span.is_empty() {
        (at.line, at.column + 1)
    } else {
        (at.end_line, at.end_column)
    };
    json!({
        "artifactLocation": artifacts.location(span.file),
        "region": {
            "startLine": at.line,
            "startColumn": at.column,
            "endLine": end_line,
            "endColumn": end_column,
        },
    })
}

/// Rule, file, field path and object: what stays the same while lines move.
fn fingerprint(d: &Diagnostic, uri: &str) -> u64 {
    let object = d.object.as_ref().map(|o| o.to_string()).unwrap_or_default();
    fnv1a(&[
        d.rule.as_bytes(),
        uri.as_bytes(),
        d.path.as_deref().unwrap_or("").as_bytes(),
        object.as_bytes(),
    ])
}

/// 64-bit FNV-1a over the parts, each followed by a 0xff separator (a byte UTF-8 never has).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// A file name as a URI reference: forward slashes, no leading `./`, percent-encoded where a
/// URI may not hold the character. Absolute paths become `file:` URIs.
fn uri(name: &str) -> String {
    let mut path = name.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_owned();
    }
    let drive = path.len() >= 3
        && path.as_bytes()[0].is_ascii_alphabetic()
        && path.as_bytes()[1] == b':'
        && path.as_bytes()[2] == b'/';
    let (prefix, path) = if path.starts_with('/') {
        ("file://", path)
    } else if drive {
        ("file:///", path)
    } else {
        ("", path)
    };
    let mut out = String::from(prefix);
    for (i, &byte) in path.as_bytes().iter().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&byte)
            // A colon is fine, except in a relative path's first segment (it would read as a
            // scheme); a drive letter's colon stays.
            || (byte == b':' && (!prefix.is_empty() || path[..i].contains('/')));
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::ObjectRef;
    use crate::report::Summary;
    use crate::source::{SourceFile, SourceMap};

    const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n      nodePort: 40000\n    - port: 80\n";
    const OTHER: &str = "kind: Deployment\n";

    fn sources() -> SourceMap {
        let mut map = SourceMap::default();
        map.add(SourceFile::new(
            "./manifests\\svc.yaml".into(),
            None,
            SVC.into(),
        ));
        map.add(SourceFile::new("deploy.yaml".into(), None, OTHER.into()));
        map
    }

    fn at(file: u32, text: &str, needle: &str, nth_from_end: bool) -> Span {
        let start = if nth_from_end {
            text.rfind(needle)
        } else {
            text.find(needle)
        }
        .expect("needle in text");
        Span::new(FileId(file), start, start + needle.len())
    }

    fn diagnostics() -> Vec<Diagnostic> {
        let object = ObjectRef {
            kind: "Service".into(),
            namespace: Some("default".into()),
            name: Some("web".into()),
        };
        let mut warning = Diagnostic::new(
            "duplicate-port",
            at(0, SVC, "port: 80", true),
            "port 80 is declared twice",
        )
        .path("spec.ports[1].port")
        .object(object.clone())
        .related(at(0, SVC, "port: 80", false), "first used here")
        .related(at(1, OTHER, "Deployment", false), "selected by this");
        warning.severity = Severity::Warning;
        let mut info = Diagnostic::new("some-info", Span::new(FileId(1), 5, 5), "just so you know");
        info.severity = Severity::Info;
        vec![
            Diagnostic::new(
                "nodeport-out-of-range",
                at(0, SVC, "40000", false),
                "nodePort 40000 is out of range",
            )
            .path("spec.ports[0].nodePort")
            .object(object)
            .help("use 30000-32767"),
            warning,
            info,
        ]
    }

    fn render(diagnostics: &[Diagnostic], catalogue: &[RuleInfo]) -> String {
        let sources = sources();
        let report = Report {
            diagnostics,
            sources: &sources,
            summary: Summary::default(),
            color: true,
            unreadable: &[],
        };
        let value = document(&report, catalogue);
        let mut out = Vec::new();
        serde_json::to_writer_pretty(&mut out, &value).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("valid JSON")
    }

    static CATALOGUE_FIXTURE: &[RuleInfo] = &[
        RuleInfo {
            id: "nodeport-out-of-range",
            title: "nodePort outside the cluster's range",
            severity: Severity::Error,
            category: "allocation",
            doc: "---\nid: nodeport-out-of-range\n---\n\n## What it checks\n\nThat a nodePort is in range.\n\nMore.\n",
        },
        RuleInfo {
            id: "aaa-unused",
            title: "a rule nothing reports",
            severity: Severity::Info,
            category: "service",
            doc: "---\nid: aaa-unused\n---\n\nBody.\n",
        },
    ];

    #[test]
    fn structure() {
        let log = parse(&render(&diagnostics(), CATALOGUE_FIXTURE));
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SCHEMA);
        let run = &log["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "svcc");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));

        // Every catalogue rule plus the rules only found in results, sorted by id.
        let rules = driver["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "aaa-unused",
                "duplicate-port",
                "nodeport-out-of-range",
                "some-info"
            ]
        );
        let nodeport = &rules[2];
        assert_eq!(nodeport["name"], "nodeport-out-of-range");
        assert_eq!(
            nodeport["shortDescription"]["text"],
            "nodePort outside the cluster's range"
        );
        assert_eq!(
            nodeport["fullDescription"]["text"],
            "That a nodePort is in range."
        );
        assert!(nodeport["help"]["markdown"]
            .as_str()
            .unwrap()
            .starts_with("## What it checks"));
        assert_eq!(nodeport["defaultConfiguration"]["level"], "error");
        assert_eq!(nodeport["properties"]["tags"][0], "allocation");
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "note");
        assert_eq!(
            rules[1]["shortDescription"]["text"],
            "port 80 is declared twice"
        );

        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        for r in results {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], r["ruleId"]);
        }
        assert_eq!(
            results
                .iter()
                .map(|r| r["level"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["error", "warning", "note"]
        );

        let first = &results[0];
        assert_eq!(
            first["message"]["text"],
            "nodePort 40000 is out of range (at spec.ports[0].nodePort)\nhelp: use 30000-32767"
        );
        let loc = &first["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "manifests/svc.yaml");
        assert_eq!(
            loc["region"],
            json!({"startLine": 8, "startColumn": 17, "endLine": 8, "endColumn": 22})
        );
        assert_eq!(
            run["artifacts"][loc["artifactLocation"]["index"].as_u64().unwrap() as usize]
                ["location"]["uri"],
            "manifests/svc.yaml"
        );

        let related = first.get("relatedLocations");
        assert!(related.is_none());
        let related = results[1]["relatedLocations"].as_array().unwrap();
        assert_eq!(related.len(), 2);
        assert_eq!(related[0]["id"], 1);
        assert_eq!(related[0]["message"]["text"], "first used here");
        assert_eq!(related[0]["physicalLocation"]["region"]["startLine"], 7);
        assert_eq!(related[0]["physicalLocation"]["region"]["startColumn"], 7);
        assert_eq!(related[1]["id"], 2);
        assert_eq!(
            related[1]["physicalLocation"]["artifactLocation"]["uri"],
            "deploy.yaml"
        );

        // An empty span still has a one-column region.
        let empty = &results[2]["locations"][0]["physicalLocation"]["region"];
        assert_eq!(
            empty,
            &json!({"startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 7})
        );
    }

    #[test]
    fn deterministic_and_fingerprinted() {
        let diags = diagnostics();
        let a = render(&diags, CATALOGUE_FIXTURE);
        let b = render(&diags, CATALOGUE_FIXTURE);
        assert_eq!(a, b);
        let print = |log: &Value, i: usize| {
            log["runs"][0]["results"][i]["partialFingerprints"][FINGERPRINT_KEY].clone()
        };
        let log = parse(&a);
        let fp = print(&log, 0);
        assert_eq!(fp.as_str().unwrap().len(), 16);
        assert_ne!(fp, print(&log, 1));

        // Moving the finding to another line keeps the fingerprint; another path changes it.
        let mut moved = diags.clone();
        moved[0].span = at(0, SVC, "nodePort", false);
        assert_eq!(print(&parse(&render(&moved, CATALOGUE_FIXTURE)), 0), fp);
        let mut other = diags.clone();
        other[0].path = Some("spec.ports[1].nodePort".into());
        assert_ne!(print(&parse(&render(&other, CATALOGUE_FIXTURE)), 0), fp);

        // Repeats of the same rule, file, path and object still get distinct fingerprints.
        let twice = vec![diags[2].clone(), diags[2].clone()];
        let log = parse(&render(&twice, &[]));
        assert_ne!(print(&log, 0), print(&log, 1));
    }

    #[test]
    fn works_with_the_real_catalogue() {
        let sources = sources();
        let diags = diagnostics();
        let report = Report {
            diagnostics: &diags,
            sources: &sources,
            summary: Summary::default(),
            color: false,
            unreadable: &[],
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let log = parse(std::str::from_utf8(&out).unwrap());
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        assert!(rules.len() >= CATALOGUE.len());
        for r in log["runs"][0]["results"].as_array().unwrap() {
            assert_eq!(
                rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
                r["ruleId"]
            );
        }
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn one_artifact_per_uri() {
        let mut sources = SourceMap::default();
        let a = sources.add(SourceFile::new("svc.yaml".into(), None, SVC.into()));
        let b = sources.add(SourceFile::new("./svc.yaml".into(), None, SVC.into()));
        let diags =
            vec![Diagnostic::new("x", Span::new(a, 0, 1), "a").related(Span::new(b, 2, 3), "b")];
        let report = Report {
            diagnostics: &diags,
            sources: &sources,
            summary: Summary::default(),
            color: false,
            unreadable: &[],
        };
        let log = document(&report, &[]);
        let run = &log["runs"][0];
        assert_eq!(
            run["artifacts"],
            json!([{ "location": { "uri": "svc.yaml" } }])
        );
        let related = &run["results"][0]["relatedLocations"][0]["physicalLocation"];
        assert_eq!(
            related["artifactLocation"],
            json!({ "uri": "svc.yaml", "index": 0 })
        );
    }

    #[test]
    fn uris() {
        assert_eq!(uri("./a/b.yaml"), "a/b.yaml");
        assert_eq!(uri(".\\dir\\svc.yaml"), "dir/svc.yaml");
        assert_eq!(uri("././x.yaml"), "x.yaml");
        assert_eq!(uri("my dir/caf\u{e9}.yaml"), "my%20dir/caf%C3%A9.yaml");
        assert_eq!(uri("/abs/svc.yaml"), "file:///abs/svc.yaml");
        assert_eq!(uri("C:\\work\\svc.yaml"), "file:///C:/work/svc.yaml");
        assert_eq!(uri("a:b/c:d.yaml"), "a%3Ab/c:d.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
    }
}

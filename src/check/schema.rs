//! Strict schema validation: unknown fields, wrong types and missing required fields, as the
//! API server's strict decoding (`kubectl apply --validate=strict`) reports them.
//!
//! The schemas of every supported Kubernetes minor are embedded; one [`SchemaSet`] holds the
//! chosen minor's definitions and compiles a kind's validator the first time it is needed.
//! Errors carry a JSON pointer, which is mapped back to the span of the offending key or value
//! and to an API-server field path.

use super::path::field_path;
use crate::diag::Diagnostic;
use crate::model::kinds::{KindId, ALL};
use crate::source::tree::Node;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Registry, Validator};
use std::sync::OnceLock;

struct Bundle {
    definitions: &'static str,
    /// Root schemas in the order of [`ALL`].
    kinds: [&'static str; 12],
}

macro_rules! bundle {
    ($v:literal) => {
        Bundle {
            definitions: include_str!(concat!(
                "../../schemas/v1.",
                $v,
                ".0-strict/_definitions.json"
            )),
            kinds: [
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/service-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/endpoints-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/endpointslice-discovery-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/deployment-apps-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/statefulset-apps-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/daemonset-apps-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/replicaset-apps-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/replicationcontroller-v1.json"
                )),
                include_str!(concat!("../../schemas/v1.", $v, ".0-strict/pod-v1.json")),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/job-batch-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/cronjob-batch-v1.json"
                )),
                include_str!(concat!(
                    "../../schemas/v1.",
                    $v,
                    ".0-strict/namespace-v1.json"
                )),
            ],
        }
    };
}

static BUNDLES: [(u32, Bundle); 5] = [
    (33, bundle!("33")),
    (34, bundle!("34")),
    (35, bundle!("35")),
    (36, bundle!("36")),
    (37, bundle!("37")),
];

const DEFINITIONS_URI: &str = "https://kubernetes.io/api/_definitions.json";

/// Validators for one Kubernetes minor.
pub struct SchemaSet {
    registry: Registry<'static>,
    bundle: &'static Bundle,
    validators: [OnceLock<Option<Validator>>; 12],
}

#[derive(Debug, thiserror::Error)]
#[error("bundled schemas for Kubernetes 1.{minor} are unusable: {message}")]
pub struct SchemaError {
    minor: u32,
    message: String,
}

/// One parsed set per minor for the whole process (tests and fuzzers check many inputs).
static SHARED: [OnceLock<Result<SchemaSet, String>>; 5] = [const { OnceLock::new() }; 5];

impl SchemaSet {
    /// The process-wide set for a minor, built on first use.
    pub fn shared(minor: u32) -> Result<&'static SchemaSet, SchemaError> {
        let index = BUNDLES
            .iter()
            .position(|(m, _)| *m == minor)
            .ok_or_else(|| SchemaError {
                minor,
                message: "not bundled".to_owned(),
            })?;
        SHARED[index]
            .get_or_init(|| SchemaSet::new(minor).map_err(|e| e.message))
            .as_ref()
            .map_err(|message| SchemaError {
                minor,
                message: message.clone(),
            })
    }

    pub fn new(minor: u32) -> Result<SchemaSet, SchemaError> {
        let err = |message: String| SchemaError { minor, message };
        let bundle = BUNDLES
            .iter()
            .find(|(m, _)| *m == minor)
            .map(|(_, b)| b)
            .ok_or_else(|| err("not bundled".to_owned()))?;
        let definitions: serde_json::Value =
            serde_json::from_str(bundle.definitions).map_err(|e| err(e.to_string()))?;
        let registry = Registry::new()
            .add(DEFINITIONS_URI, definitions)
            .map_err(|e| err(e.to_string()))?
            .prepare()
            .map_err(|e| err(e.to_string()))?;
        Ok(SchemaSet {
            registry,
            bundle,
            validators: Default::default(),
        })
    }

    fn validator(&self, kind: KindId) -> Option<&Validator> {
        let index = ALL.iter().position(|k| *k == kind)?;
        self.validators[index]
            .get_or_init(|| {
                let schema: serde_json::Value =
                    serde_json::from_str(self.bundle.kinds[index]).ok()?;
                jsonschema::options()
                    .with_registry(&self.registry)
                    .should_validate_formats(false)
                    .build(&schema)
                    .ok()
            })
            .as_ref()
    }

    /// Schema findings for one object of a modelled kind.
    /// Validates an object's tree against the schema of its kind.
    pub fn check(&self, kind: KindId, tree: &Node) -> Vec<Diagnostic> {
        let Some(validator) = self.validator(kind) else {
            return Vec::new();
        };
        let json = tree.to_json();
        if validator.is_valid(&json) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(&json) {
            let pointer = error.instance_path().to_string();
            out.extend(describe(tree, &pointer, error.kind()));
        }
        out
    }
}

fn describe(root: &Node, pointer: &str, kind: &ValidationErrorKind) -> Vec<Diagnostic> {
    let Some((node, key_span)) = root.pointer(pointer) else {
        return Vec::new();
    };
    let path = field_path(root, pointer);
    let join = |field: &str| {
        if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| {
                let span = node.entry(field).map_or(node.span, |e| e.key_span);
                Diagnostic::new(
                    "unknown-field",
                    span,
                    format!("unknown field `{}`", join(field)),
                )
                .label("not a field of this object")
                .path(join(field))
                .help("strict decoding rejects unknown fields; check the spelling and the indentation")
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let field = property.as_str().unwrap_or("?");
            vec![Diagnostic::new(
                "missing-required-field",
                key_span,
                format!("missing required field `{}`", join(field)),
            )
            .label(format!("`{field}` is required here"))
            .path(join(field))]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = expected_types(kind);
            let mut d = Diagnostic::new(
                "wrong-type",
                node.span,
                format!("`{path}` must be {expected}, not {}", article(node.type_name())),
            )
            .label(format!("this is {}", article(node.type_name())))
            .path(path.clone());
            if expected.contains("string") && !matches!(node.type_name(), "map" | "list") {
                d = d.help("quote the value to make it a string");
            }
            vec![d]
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. }
            if is_int_or_string(node) =>
        {
            vec![Diagnostic::new(
                "wrong-type",
                node.span,
                format!(
                    "`{path}` must be a number or a string, not {}",
                    article(node.type_name())
                ),
            )
            .label(format!("this is {}", article(node.type_name())))
            .path(path)]
        }
        other => vec![Diagnostic::new(
            "schema-violation",
            node.span,
            format!("`{path}` does not match the schema ({})", keyword(other)),
        )
        .path(path)],
    }
}

fn is_int_or_string(node: &crate::source::tree::Node) -> bool {
    !matches!(
        node.value,
        crate::source::tree::Value::Str(_) | crate::source::tree::Value::Int(_)
    )
}

fn keyword(kind: &ValidationErrorKind) -> String {
    kind.keyword().to_owned()
}

fn expected_types(kind: &TypeKind) -> String {
    let names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
    };
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| n != "null")
        .map(|n| match n.as_str() {
            "object" => "a map".to_owned(),
            "array" => "a list".to_owned(),
            "integer" => "an integer".to_owned(),
            other => article(other),
        })
        .collect();
    names.join(" or ")
}

fn article(type_name: &str) -> String {
    match type_name {
        "integer" => "an integer".to_owned(),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    }
}

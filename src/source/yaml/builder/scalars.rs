//! Scalars: what a scalar event means once Kubernetes has decoded it. A plain scalar resolves
//! as go-yaml v2 resolves it ([`crate::source::resolve`]), a quoted one is a string; a tag is
//! accepted where it agrees with the value (`!!str`, `!!int`, …, and `!` for a string).
//! Other tags, and values JSON cannot hold (`.inf`), are reported.

use super::Builder;
use crate::diag::Diagnostic;
use crate::source::resolve::{resolve_plain, Scalar};
use crate::source::tree::{Node, Value};
use crate::source::Span;
use saphyr_parser::{ScalarStyle, Tag};

impl Builder<'_> {
    pub(super) fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Node {
        let value = match tag {
            None if style == ScalarStyle::Plain => self.scalar_value(resolve_plain(text), span),
            None => Value::Str(text.into()),
            Some(tag) => self.tagged(text, tag, span),
        };
        Node::new(span, value)
    }

    fn scalar_value(&mut self, s: Scalar, span: Span) -> Value {
        match s {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::Uint(u) => Value::Float(u as f64),
            Scalar::Float(f) if f.is_finite() => Value::Float(f),
            Scalar::Float(f) => {
                let written = self.text_at(span);
                self.diagnostics.push(
                    Diagnostic::new(
                        "yaml-unrepresentable",
                        span,
                        format!("`{written}` has no JSON representation"),
                    )
                    .label("resolves to a non-finite number")
                    .help("quote it if a string is meant"),
                );
                Value::Str(f.to_string().into())
            }
            Scalar::Str(s) => Value::Str(s),
        }
    }

    fn tagged(&mut self, text: &str, tag: &Tag, span: Span) -> Value {
        // The non-specific tag `!` forces a string.
        if (tag.handle.is_empty() && tag.suffix == "!")
            || (tag.handle == "!" && tag.suffix.is_empty())
        {
            return Value::Str(text.into());
        }
        if tag.is_yaml_core_schema() {
            let resolved = resolve_plain(text);
            let ok = match tag.suffix.as_str() {
                "str" | "timestamp" => return Value::Str(text.into()),
                "int" => matches!(resolved, Scalar::Int(_) | Scalar::Uint(_)),
                "float" => matches!(
                    resolved,
                    Scalar::Int(_) | Scalar::Uint(_) | Scalar::Float(_)
                ),
                "bool" => matches!(resolved, Scalar::Bool(_)),
                "null" => matches!(resolved, Scalar::Null),
                _ => false,
            };
            if ok {
                return self.scalar_value(resolved, span);
            }
            if matches!(tag.suffix.as_str(), "int" | "float" | "bool" | "null") {
                self.diagnostics.push(
                    Diagnostic::new(
                        "yaml-unsupported-tag",
                        span,
                        format!("`{text}` is not a valid `!!{}`", tag.suffix),
                    )
                    .label("tag and value disagree"),
                );
                return Value::Str(text.into());
            }
        }
        self.diagnostics.push(
            Diagnostic::new(
                "yaml-unsupported-tag",
                span,
                format!("unsupported tag `{}`", display_tag(tag)),
            )
            .label("Kubernetes objects are plain JSON values")
            .help("remove the tag; quote the value if a string is meant"),
        );
        Value::Str(text.into())
    }

    pub(super) fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, span: Span) {
        let Some(tag) = tag else { return };
        if tag.is_yaml_core_schema() && tag.suffix == expected {
            return;
        }
        self.diagnostics.push(
            Diagnostic::new(
                "yaml-unsupported-tag",
                Span::new(self.file, span.start as usize, span.start as usize),
                format!("unsupported tag `{}`", display_tag(tag)),
            )
            .help("remove the tag"),
        );
    }
}

fn display_tag(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::source::yaml::{parse_one, parse_str};

    #[test]
    fn tags() {
        let root = parse_one("a: !!str 123\nb: ! 12\n");
        assert_eq!(root.get("a").unwrap().as_str(), Some("123"));
        assert_eq!(root.get("b").unwrap().as_str(), Some("12"));
        let p = parse_str("a: !!binary aGk=\n");
        assert_eq!(p.diagnostics[0].rule, "yaml-unsupported-tag");
    }
}

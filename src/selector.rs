//! Label selectors in kubectl syntax (`-l app=web,tier in (a,b),!canary`), parsed with nom.
//!
//! Grammar: requirements separated by commas; each is `key`, `!key`, `key=value`,
//! `key==value`, `key!=value`, `key in (v1,v2)` or `key notin (v1,v2)`. Keys and values are
//! checked with Kubernetes' label syntax. Errors name the column and what was expected.

use crate::model::StrMap;
use crate::syntax;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, multispace0};
use nom::combinator::{all_consuming, map, opt};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid label selector `{input}`: {message} at column {column}")]
pub struct SelectorError {
    pub input: String,
    pub column: usize,
    pub message: String,
}

impl Selector {
    pub fn matches(&self, labels: &StrMap) -> bool {
        self.0.iter().all(|r| {
            let get = |k: &str| labels.get(k).map(|v| v.value.as_str());
            match r {
                Requirement::Exists(k) => get(k).is_some(),
                Requirement::NotExists(k) => get(k).is_none(),
                Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
                Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
                Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
                Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            }
        })
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn ws<'a, O, P: Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>>(
    p: P,
) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>> {
    delimited(multispace0, p, multispace0)
}

fn key(i: &str) -> IResult<&str, String> {
    map(take_while1(is_key_char), str::to_owned).parse(i)
}

fn value(i: &str) -> IResult<&str, String> {
    map(take_while(is_value_char), str::to_owned).parse(i)
}

fn set(i: &str) -> IResult<&str, Vec<String>> {
    delimited(
        ws(char('(')),
        separated_list1(ws(char(',')), ws(value)),
        ws(char(')')),
    )
    .parse(i)
}

fn requirement(i: &str) -> IResult<&str, Requirement> {
    alt((
        map(preceded(ws(char('!')), ws(key)), Requirement::NotExists),
        // `ws(key)` has eaten the blank before `in`; a key cannot end in `in` without one,
        // since letters are key characters.
        map((ws(key), tag("notin"), set), |(k, _, v)| {
            Requirement::NotIn(k, v)
        }),
        map((ws(key), tag("in"), set), |(k, _, v)| Requirement::In(k, v)),
        map((ws(key), ws(tag("!=")), ws(value)), |(k, _, v)| {
            Requirement::NotEquals(k, v)
        }),
        map(
            (ws(key), ws(alt((tag("=="), tag("=")))), ws(value)),
            |(k, _, v)| Requirement::Equals(k, v),
        ),
        map((ws(key), opt(multispace0)), |(k, _)| Requirement::Exists(k)),
    ))
    .parse(i)
}

/// Parses a selector; every key and value must have label syntax.
pub fn parse(input: &str) -> Result<Selector, SelectorError> {
    let fail = |rest: &str, message: String| SelectorError {
        input: input.to_owned(),
        column: input.len() - rest.len() + 1,
        message,
    };
    if input.trim().is_empty() {
        return Err(fail(input, "empty selector".to_owned()));
    }
    let (_, reqs) = all_consuming(separated_list1(char(','), requirement))
        .parse(input)
        .map_err(|e| {
            let rest = match &e {
                nom::Err::Error(e) | nom::Err::Failure(e) => e.input,
                nom::Err::Incomplete(_) => "",
            };
            fail(rest, "expected `key`, `!key`, `key=value`, `key!=value`, `key in (a,b)` or `key notin (a,b)`".to_owned())
        })?;
    for r in &reqs {
        let (k, values): (&String, Vec<&String>) = match r {
            Requirement::Exists(k) | Requirement::NotExists(k) => (k, vec![]),
            Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, vec![v]),
            Requirement::In(k, vs) | Requirement::NotIn(k, vs) => (k, vs.iter().collect()),
        };
        let at = input.find(k.as_str()).map_or(input, |p| &input[p..]);
        let problems = syntax::qualified_name(k);
        if !problems.is_empty() {
            return Err(fail(at, format!("key `{k}`: {}", problems.join("; "))));
        }
        for v in values {
            let problems = syntax::label_value(v);
            if !problems.is_empty() {
                return Err(fail(at, format!("value `{v}`: {}", problems.join("; "))));
            }
        }
    }
    Ok(Selector(reqs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Spanned;
    use crate::source::Span;

    fn labels(pairs: &[(&str, &str)]) -> StrMap {
        StrMap {
            span: None,
            entries: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        Spanned::new(k.to_string(), Span::default()),
                        Spanned::new(v.to_string(), Span::default()),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn parses_kubectl_syntax() {
        let s = parse("app=web, tier in (a, b),!canary,env,x!=y,z notin (q),k==v").unwrap();
        assert_eq!(s.0.len(), 7);
        assert_eq!(
            s.0[1],
            Requirement::In("tier".into(), vec!["a".into(), "b".into()])
        );
        assert!(s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("env", "p"),
            ("k", "v")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("env", "p"),
            ("k", "v"),
            ("canary", "1")
        ])));
        assert!(parse("app.kubernetes.io/name=x").is_ok());
        assert!(parse("a=").unwrap().matches(&labels(&[("a", "")])));
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse("app=web,tier in (a,b").unwrap_err();
        assert!(e.column > 1, "{e}");
        let e = parse("app=web,,x").unwrap_err();
        assert_eq!(e.column, 8, "{e}");
        let e = parse("-bad=x").unwrap_err();
        assert!(e.message.contains("key `-bad`"), "{e}");
        assert!(parse("").is_err());
        assert!(parse("a=b c").is_err());
    }
}

//! Plain-scalar resolution as Kubernetes decodes YAML.
//!
//! The API server and kubectl read YAML through sigs.k8s.io/yaml, which uses go-yaml v2: a YAML
//! 1.1 resolver. So `on`/`yes`/`y` are booleans, integers are read like Go's
//! `strconv.ParseInt(s, 0, 64)` after removing `_` (so `0x50` is 80 and `0755` is 493), base-60
//! is not supported (`1:30` stays a string), and unquoted timestamps end up as strings once the
//! value is turned into JSON. Only plain (unquoted, untagged) scalars are resolved; quoted and
//! block scalars are always strings.

use super::tree::SmallStr;

/// A resolved scalar.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX` that Go reads with `ParseUint`.
    Uint(u64),
    Float(f64),
    Str(SmallStr),
}

/// Resolve a plain scalar with go-yaml v2's rules.
pub fn resolve_plain(text: &str) -> Scalar {
    let Some(first) = text.chars().next() else {
        return Scalar::Null;
    };
    match first {
        '~' | 'n' | 'N' | 'y' | 'Y' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' => {
            resolve_word(text).unwrap_or_else(|| Scalar::Str(text.into()))
        }
        '+' | '-' | '.' | '0'..='9' => {
            resolve_number(text).unwrap_or_else(|| Scalar::Str(text.into()))
        }
        _ => Scalar::Str(text.into()),
    }
}

fn resolve_word(text: &str) -> Option<Scalar> {
    Some(match text {
        "~" | "null" | "Null" | "NULL" => Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            Scalar::Bool(false)
        }
        _ => return None,
    })
}

fn resolve_number(text: &str) -> Option<Scalar> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Scalar::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Scalar::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Scalar::Float(f64::NAN)),
        _ => {}
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(v) = parse_go_int(&plain) {
        return Some(Scalar::Int(v));
    }
    if let Some(v) = parse_go_uint(&plain) {
        return Some(Scalar::Uint(v));
    }
    if is_yaml_float(&plain) {
        if let Ok(v) = plain.parse::<f64>() {
            return Some(Scalar::Float(v));
        }
    }
    // go-yaml v2 reads binary literals itself, with or without a sign.
    if let Some(rest) = plain.strip_prefix("0b") {
        return i64::from_str_radix(rest, 2).ok().map(Scalar::Int);
    }
    if let Some(rest) = plain.strip_prefix("-0b") {
        return i64::from_str_radix(rest, 2).ok().map(|v| Scalar::Int(-v));
    }
    None
}

/// Splits a sign and Go base-0 prefix: `0x`/`0X` hex, `0o`/`0O` octal, `0b`/`0B` binary, a
/// leading `0` octal, else decimal.
fn split_go_int(s: &str) -> Option<(bool, u32, &str)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some((neg, radix, digits))
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, radix, digits) = split_go_int(s)?;
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|v| -v)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn parse_go_uint(s: &str) -> Option<u64> {
    let (neg, radix, digits) = split_go_int(s)?;
    if neg || s.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Scalar::*;

    #[test]
    fn yaml_1_1_words() {
        assert_eq!(resolve_plain("on"), Bool(true));
        assert_eq!(resolve_plain("No"), Bool(false));
        assert_eq!(resolve_plain("y"), Bool(true));
        assert_eq!(resolve_plain("~"), Null);
        assert_eq!(resolve_plain(""), Null);
        assert_eq!(resolve_plain("nope"), Str("nope".into()));
        assert_eq!(resolve_plain("tRUE"), Str("tRUE".into()));
    }

    #[test]
    fn go_integers() {
        assert_eq!(resolve_plain("80"), Int(80));
        assert_eq!(resolve_plain("0x50"), Int(80));
        assert_eq!(resolve_plain("0755"), Int(493));
        assert_eq!(resolve_plain("1_000"), Int(1000));
        assert_eq!(resolve_plain("-0"), Int(0));
        assert_eq!(resolve_plain("0b101"), Int(5));
        assert_eq!(resolve_plain("+12"), Int(12));
        assert_eq!(resolve_plain("18446744073709551615"), Uint(u64::MAX));
    }

    #[test]
    fn floats_and_strings() {
        assert_eq!(resolve_plain("80.0"), Float(80.0));
        assert_eq!(resolve_plain("1e3"), Float(1000.0));
        assert_eq!(resolve_plain("080"), Float(80.0));
        assert_eq!(resolve_plain("99999999999999999999"), Float(1e20));
        assert_eq!(resolve_plain("1:30"), Str("1:30".into()));
        assert_eq!(resolve_plain("10.96.0.10"), Str("10.96.0.10".into()));
        assert_eq!(
            resolve_plain("2018-07-20T08:00:00Z"),
            Str("2018-07-20T08:00:00Z".into())
        );
        assert!(matches!(resolve_plain(".nan"), Float(f) if f.is_nan()));
        assert_eq!(resolve_plain("-.inf"), Float(f64::NEG_INFINITY));
        assert_eq!(resolve_plain("1.2.3"), Str("1.2.3".into()));
        assert_eq!(resolve_plain("-"), Str("-".into()));
    }
}

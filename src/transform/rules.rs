//! The compiled form of each rule and how it turns one source value into one output value.

use std::collections::HashMap;

use chrono_tz::Tz;
use regex::Regex;
use uuid::Uuid;

use super::canon::Canonicalizer;
use super::convert::quoted;
use super::keys::deterministic_uuid;
use super::stats::TransformStats;
use super::time::{GapPolicy, OverlapPolicy, local_to_utc, parse_local};
use crate::value::{Row, Value};

#[derive(Debug)]
pub enum Rule {
    Copy,
    DeterministicKey {
        namespace: Uuid,
        table: String,
    },
    /// `table` is the parent's *source* table, so the key matches its `DeterministicKey`.
    ForeignKey {
        namespace: Uuid,
        table: String,
    },
    Lookup(Lookup),
    Canonicalize {
        dictionary: Canonicalizer,
        default: Option<String>,
    },
    ValueMap(ValueMap),
    Rewrite {
        pattern: Regex,
        template: Vec<Piece>,
    },
    ToUtc {
        zone: Tz,
        gap: GapPolicy,
        overlap: OverlapPolicy,
    },
    Template(Vec<Piece>),
    Scale(f64),
}

#[derive(Debug)]
pub struct Lookup {
    /// The file as the project names it, for messages.
    pub file: String,
    /// The source column, for messages.
    pub column: String,
    pub entries: HashMap<String, String>,
    pub default: Option<String>,
}

#[derive(Debug)]
pub struct ValueMap {
    pub map: HashMap<String, String>,
    /// `A, D, P, R`: the keys, for the message about an unknown value.
    pub expected: String,
    pub default: Option<String>,
}

/// A piece of a `template` (or of a `rewrite` template).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// A capture group of the rewrite pattern.
    Capture(usize),
    /// `{value}`: the field's source value.
    Value,
    /// `{column}`: another column of the source row, by position.
    Column(usize),
}

/// Splits `a {x} b` into pieces; `{{` and `}}` are literal braces.
pub fn parse_template(
    text: &str,
    mut resolve: impl FnMut(&str) -> Result<Piece, String>,
) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => name.push(ch),
                        None => return Err(format!("unclosed \"{{{name}\" in template")),
                    }
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(resolve(name.trim())?);
            }
            '}' => return Err("unmatched \"}\" in template (write \"}}\" for a brace)".into()),
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

impl Rule {
    /// The rule's output for `input` (the field's source value) in `row`;
    /// `Err` is the reason the row cannot be transformed.
    pub fn apply(
        &self,
        input: &Value,
        row: &Row,
        target: &str,
        stats: &mut TransformStats,
    ) -> Result<Value, String> {
        if input.is_null() {
            return match self {
                Rule::DeterministicKey { .. } => Err("the key is NULL".into()),
                Rule::Template(pieces) if !pieces.contains(&Piece::Value) => {
                    Ok(expand(pieces, input, row, None))
                }
                _ => Ok(Value::Null),
            };
        }
        match self {
            Rule::Copy => Ok(input.clone()),
            Rule::DeterministicKey { namespace, table } | Rule::ForeignKey { namespace, table } => {
                Ok(Value::Uuid(deterministic_uuid(*namespace, table, input)))
            }
            Rule::Lookup(l) => {
                let text = input.as_text().unwrap_or_default();
                let key = text.trim();
                match l.entries.get(key) {
                    Some(v) => Ok(Value::Text(v.clone())),
                    None => {
                        stats.record_unmatched(target, key);
                        match &l.default {
                            Some(d) => {
                                stats.record_default(target);
                                Ok(Value::Text(d.clone()))
                            }
                            None => Err(format!("no entry for {}={key} in {}", l.column, l.file)),
                        }
                    }
                }
            }
            Rule::Canonicalize {
                dictionary,
                default,
            } => {
                let text = input.as_text().unwrap_or_default();
                match dictionary.canonical(&text) {
                    Some(name) => Ok(Value::Text(name.to_string())),
                    None => {
                        stats.record_unmatched(target, &text);
                        match default {
                            Some(d) => {
                                stats.record_default(target);
                                Ok(Value::Text(d.clone()))
                            }
                            None => Err(format!("no canonical name for {}", quoted(input))),
                        }
                    }
                }
            }
            Rule::ValueMap(m) => {
                let text = input.as_text().unwrap_or_default();
                let key = text.trim();
                match m.map.get(key) {
                    Some(v) => Ok(Value::Text(v.clone())),
                    None => {
                        stats.record_unmatched(target, key);
                        match &m.default {
                            Some(d) => {
                                stats.record_default(target);
                                Ok(Value::Text(d.clone()))
                            }
                            None => Err(format!(
                                "unknown value \"{key}\" (expected one of {})",
                                m.expected
                            )),
                        }
                    }
                }
            }
            Rule::Rewrite { pattern, template } => {
                let text = input.as_text().unwrap_or_default();
                match pattern.captures(&text) {
                    Some(caps) => Ok(expand(template, input, row, Some(&caps))),
                    None => Err(format!(
                        "{} does not match the pattern {}",
                        quoted(input),
                        pattern.as_str()
                    )),
                }
            }
            Rule::ToUtc { zone, gap, overlap } => {
                let local = match input {
                    Value::Timestamp(_) => return Ok(input.clone()),
                    Value::DateTime(t) => *t,
                    Value::Text(s) => parse_local(s)?,
                    other => {
                        return Err(format!("cannot read {} as a date and time", quoted(other)));
                    }
                };
                local_to_utc(local, *zone, *gap, *overlap).map(Value::Timestamp)
            }
            Rule::Template(pieces) => Ok(expand(pieces, input, row, None)),
            Rule::Scale(factor) => match input.as_f64() {
                Some(x) => Ok(Value::Float(x * factor)),
                None => Err(format!("cannot scale {}: not a number", quoted(input))),
            },
        }
    }
}

fn expand(pieces: &[Piece], input: &Value, row: &Row, caps: Option<&regex::Captures<'_>>) -> Value {
    // The fixed text plus room for the values: one allocation for most rows.
    let fixed: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => s.len(),
            _ => 0,
        })
        .sum();
    let mut out = String::with_capacity(fixed + 48);
    for piece in pieces {
        match piece {
            Piece::Text(s) => out.push_str(s),
            Piece::Capture(i) => {
                out.push_str(caps.and_then(|c| c.get(*i)).map_or("", |m| m.as_str()))
            }
            Piece::Value => push_value(&mut out, input),
            Piece::Column(i) => push_value(&mut out, row.get(*i).unwrap_or(&Value::Null)),
        }
    }
    Value::Text(out)
}

/// NULL reads as nothing inside a template.
fn push_value(out: &mut String, v: &Value) {
    if let Some(text) = v.as_text() {
        out.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_pieces_with_escapes() {
        let pieces = parse_template("s3://{{b}}/{name}/{1}!", |n| match n {
            "name" => Ok(Piece::Value),
            "1" => Ok(Piece::Capture(1)),
            other => Err(format!("no {other}")),
        })
        .unwrap();
        assert_eq!(
            pieces,
            [
                Piece::Text("s3://{b}/".into()),
                Piece::Value,
                Piece::Text("/".into()),
                Piece::Capture(1),
                Piece::Text("!".into())
            ]
        );
        assert_eq!(
            parse_template("{nope}", |n| Err(format!("no {n}"))).unwrap_err(),
            "no nope"
        );
        assert!(parse_template("a {b", |_| Ok(Piece::Value)).is_err());
        assert!(parse_template("a } b", |_| Ok(Piece::Value)).is_err());
    }
}

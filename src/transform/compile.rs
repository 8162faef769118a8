//! Checking a `[[tables]]` entry and compiling it, with `file:line:col` errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use regex::Regex;

use super::canon::Canonicalizer;
use super::convert::convert;
use super::rules::{Lookup, Piece, Rule, ValueMap, parse_template};
use super::table::{CompiledField, CompiledTable, ERROR_POLICIES, ErrorPolicy};
use super::time::{GAP_POLICIES, GapPolicy, OVERLAP_POLICIES, OverlapPolicy, parse_timezone};
use super::when::Condition;
use super::{CompileContext, ForeignKeyCheck, OrphanPolicy, RULES};
use crate::project::error::{ProjectError, hint_for};
use crate::project::model::{FieldMapping, S, TableMapping};
use crate::schema::{ColumnDef, ColumnType};
use crate::value::Value;

const DEFAULT_THRESHOLD: f64 = 0.85;
const ORPHAN_POLICIES: &[&str] = &["keep", "null", "quarantine"];

/// Parameters each rule reads, besides the common `source`, `target`, `type`,
/// `rule`, `when`, `nullable`, `min`, `max` and `on_error`.
fn rule_params(rule: &str) -> &'static [&'static str] {
    match rule {
        "foreign_key" => &["references", "on_orphan"],
        "lookup" => &["lookup", "lookup_key", "lookup_value", "default"],
        "canonicalize" => &["dictionary", "threshold", "default"],
        "value_map" => &["map", "default"],
        "rewrite" => &["pattern", "template"],
        "to_utc" => &["timezone", "dst_gap", "dst_overlap"],
        "template" => &["template"],
        "scale" => &["factor"],
        _ => &[],
    }
}

fn required_params(rule: &str) -> &'static [&'static str] {
    match rule {
        "foreign_key" => &["references"],
        "lookup" => &["lookup", "lookup_key", "lookup_value"],
        "canonicalize" => &["dictionary"],
        "value_map" => &["map"],
        "rewrite" => &["pattern", "template"],
        "template" => &["template"],
        "scale" => &["factor"],
        _ => &[],
    }
}

/// The rule parameters a field sets, with where to point at each; the ones
/// TOML gives no span for point at the field's `target`.
fn present_params(f: &FieldMapping) -> Vec<(&'static str, Range<usize>)> {
    let at = |s: &Option<S<String>>| s.as_ref().map(|s| s.span());
    let here = Some(f.target.span());
    [
        ("references", at(&f.references)),
        ("on_orphan", at(&f.on_orphan)),
        ("lookup", at(&f.lookup)),
        ("lookup_key", at(&f.lookup_key)),
        ("lookup_value", at(&f.lookup_value)),
        ("default", at(&f.default)),
        ("dictionary", at(&f.dictionary)),
        ("threshold", f.threshold.and(here.clone())),
        ("map", f.map.as_ref().and(here.clone())),
        ("pattern", at(&f.pattern)),
        ("template", at(&f.template)),
        ("timezone", at(&f.timezone)),
        ("dst_gap", at(&f.dst_gap)),
        ("dst_overlap", at(&f.dst_overlap)),
        ("factor", f.factor.and(here)),
    ]
    .into_iter()
    .filter_map(|(name, span)| Some((name, span?)))
    .collect()
}

/// Source columns in SELECT order, each once.
#[derive(Default)]
struct SourceColumns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl SourceColumns {
    fn add(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// Compiles one `[[tables]]` entry; the first problem found is returned.
pub fn compile_table(
    mapping: &TableMapping,
    ctx: &CompileContext,
) -> Result<CompiledTable, ProjectError> {
    let mut compiler = Compiler {
        ctx,
        mapping,
        columns: SourceColumns::default(),
    };
    compiler.check_source_column(&mapping.key, "key column")?;
    compiler.columns.add(mapping.key.get_ref());

    let mut fields = Vec::with_capacity(mapping.fields.len());
    let mut target_columns: Vec<ColumnDef> = Vec::with_capacity(mapping.fields.len());
    let mut foreign_keys = Vec::new();
    let mut seen = HashSet::new();
    for f in &mapping.fields {
        if !seen.insert(f.target.get_ref().as_str()) {
            return Err(ctx.locator.at(
                f.target.span(),
                format!(
                    "duplicate target column \"{}\" in table \"{}\"",
                    f.target.get_ref(),
                    mapping.target.get_ref()
                ),
            ));
        }
        let (field, def, fk) = compiler.field(f)?;
        if let Some(mut fk) = fk {
            fk.column = target_columns.len();
            foreign_keys.push(fk);
        }
        fields.push(field);
        target_columns.push(def);
    }

    let target_key = mapping.target_key.get_ref();
    let Some(key_def) = target_columns.iter_mut().find(|c| &c.name == target_key) else {
        return Err(ctx
            .locator
            .at(
                mapping.target_key.span(),
                format!("target_key \"{target_key}\" is not a target column of this table"),
            )
            .with_hint_opt(hint_for(
                target_key,
                mapping.fields.iter().map(|f| f.target.get_ref().as_str()),
            )));
    };
    key_def.nullable = false;

    Ok(CompiledTable {
        source_table: mapping.source.get_ref().clone(),
        target_table: mapping.target.get_ref().clone(),
        key_column: mapping.key.get_ref().clone(),
        target_key: target_key.clone(),
        source_columns: compiler.columns.names,
        target_columns,
        fields,
        foreign_keys,
        timezone: ctx.source_timezone,
    })
}

struct Compiler<'a> {
    ctx: &'a CompileContext<'a>,
    mapping: &'a TableMapping,
    columns: SourceColumns,
}

type Compiled = (CompiledField, ColumnDef, Option<ForeignKeyCheck>);

impl Compiler<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ProjectError {
        self.ctx.locator.at(span, message)
    }

    /// `what "x" not found in table "t"` with a hint, when the source table is known.
    fn check_column(&self, name: &str, span: Range<usize>, what: &str) -> Result<(), ProjectError> {
        let Some(table) = self.ctx.source_table else {
            return Ok(());
        };
        if table.column(name).is_some() {
            return Ok(());
        }
        Err(self
            .err(
                span,
                format!("{what} \"{name}\" not found in table \"{}\"", table.name),
            )
            .with_hint_opt(hint_for(
                name,
                table.columns.iter().map(|c| c.name.as_str()),
            )))
    }

    fn check_source_column(&self, name: &S<String>, what: &str) -> Result<(), ProjectError> {
        self.check_column(name.get_ref(), name.span(), what)
    }

    fn field(&mut self, f: &FieldMapping) -> Result<Compiled, ProjectError> {
        let rule_name: &'static str = match &f.rule {
            None => "copy",
            Some(r) => RULES
                .iter()
                .copied()
                .find(|n| n == r.get_ref())
                .ok_or_else(|| {
                    self.err(r.span(), format!("unknown transform \"{}\"", r.get_ref()))
                        .with_hint_opt(hint_for(r.get_ref(), RULES.iter().copied()))
                })?,
        };
        let rule_span = f
            .rule
            .as_ref()
            .map_or_else(|| f.target.span(), |r| r.span());

        let allowed = rule_params(rule_name);
        for (param, span) in present_params(f) {
            if !allowed.contains(&param) {
                return Err(self.err(
                    span,
                    format!("key \"{param}\" is not used by rule \"{rule_name}\""),
                ));
            }
        }
        let present: Vec<&str> = present_params(f).into_iter().map(|(p, _)| p).collect();
        let needs_source = rule_name != "template";
        let missing = (needs_source && f.source.is_none())
            .then_some("source")
            .or_else(|| {
                required_params(rule_name)
                    .iter()
                    .copied()
                    .find(|p| !present.contains(p))
            });
        if let Some(param) = missing {
            return Err(self.err(rule_span, format!("rule \"{rule_name}\" needs \"{param}\"")));
        }

        let explicit_type = match &f.column_type {
            None => None,
            Some(t) => Some(t.get_ref().parse::<ColumnType>().map_err(|message| {
                self.err(t.span(), message)
                    .with_hint_opt(hint_for(t.get_ref(), ColumnType::NAMES.iter().copied()))
            })?),
        };

        let source = match &f.source {
            Some(s) => {
                self.check_source_column(s, "source column")?;
                Some(self.columns.add(s.get_ref()))
            }
            None => None,
        };

        let when = match &f.when {
            None => None,
            Some(w) => {
                let mut cond = Condition::parse(w.get_ref())
                    .map_err(|e| self.err(w.span(), format!("bad when condition: {e}")))?;
                for column in cond.columns() {
                    if let Some(table) = self.ctx.source_table
                        && table.column(column).is_none()
                    {
                        return Err(self
                            .err(w.span(), format!("unknown column \"{column}\" in when"))
                            .with_hint_opt(hint_for(
                                column,
                                table.columns.iter().map(|c| c.name.as_str()),
                            )));
                    }
                }
                cond.bind(|name| self.columns.add(name));
                Some(cond)
            }
        };

        let on_error = policy(
            self,
            &f.on_error,
            "on_error",
            ERROR_POLICIES,
            ErrorPolicy::parse,
        )?
        .unwrap_or(ErrorPolicy::Quarantine);

        let mut fk = None;
        let (rule, default_type) = match rule_name {
            "copy" | "cast" => {
                let source_type = f
                    .source
                    .as_ref()
                    .and_then(|s| self.ctx.source_table?.column(s.get_ref()))
                    .map(|c| c.column_type);
                (Rule::Copy, source_type.unwrap_or(ColumnType::Text))
            }
            "deterministic_key" => (
                Rule::DeterministicKey {
                    namespace: self.ctx.key_namespace,
                    table: self.mapping.source.get_ref().clone(),
                },
                ColumnType::Uuid,
            ),
            "foreign_key" => {
                let (rule, mut check) = self.foreign_key(f)?;
                check.source_column = source;
                fk = Some(check);
                (rule, ColumnType::Uuid)
            }
            "lookup" => (self.lookup(f)?, ColumnType::Text),
            "canonicalize" => (self.canonicalize(f)?, ColumnType::Text),
            "value_map" => (self.value_map(f)?, ColumnType::Text),
            "rewrite" => (self.rewrite(f)?, ColumnType::Text),
            "to_utc" => (self.to_utc(f)?, ColumnType::Timestamp),
            "template" => (self.template(f)?, ColumnType::Text),
            "scale" => {
                let factor = f.factor.unwrap_or(1.0);
                if !factor.is_finite() {
                    return Err(self.err(
                        f.target.span(),
                        format!("factor {factor} is not a finite number"),
                    ));
                }
                (Rule::Scale(factor), ColumnType::Double)
            }
            other => unreachable!("rule \"{other}\" is in RULES but not compiled"),
        };
        let column_type = explicit_type.unwrap_or(default_type);

        for (bound, set) in [("min", f.min.is_some()), ("max", f.max.is_some())] {
            if set && !column_type.is_numeric() {
                return Err(self.err(
                    f.target.span(),
                    format!(
                        "key \"{bound}\" needs a numeric column; \"{}\" is {column_type}",
                        f.target.get_ref()
                    ),
                ));
            }
        }

        if let Some(default) = &f.default {
            // a default that cannot be stored would fail every row that needs it
            convert(
                Value::Text(default.get_ref().clone()),
                column_type,
                self.ctx.source_timezone,
            )
            .map_err(|e| {
                self.err(
                    default.span(),
                    format!(
                        "default \"{}\" does not fit column \"{}\": {e}",
                        default.get_ref(),
                        f.target.get_ref()
                    ),
                )
            })?;
        }

        let def = ColumnDef {
            name: f.target.get_ref().clone(),
            column_type,
            nullable: f.nullable.unwrap_or(true),
        };
        let field = CompiledField {
            rule_name,
            rule,
            source,
            when,
            min: f.min,
            max: f.max,
            on_error,
        };
        Ok((field, def, fk))
    }

    fn foreign_key(&self, f: &FieldMapping) -> Result<(Rule, ForeignKeyCheck), ProjectError> {
        let references = f.references.as_ref().expect("required parameter checked");
        let name = references.get_ref();
        let Some(parent) = self.ctx.tables.iter().find(|t| t.source.get_ref() == name) else {
            let sources = self.ctx.tables.iter().map(|t| t.source.get_ref().as_str());
            return Err(self
                .err(
                    references.span(),
                    format!("unknown table \"{name}\" in references; it must be the source of a [[tables]] entry"),
                )
                .with_hint_opt(hint_for(name, sources)));
        };
        let on_orphan = policy(
            self,
            &f.on_orphan,
            "on_orphan",
            ORPHAN_POLICIES,
            |s| match s {
                "keep" => Some(OrphanPolicy::Keep),
                "null" => Some(OrphanPolicy::Null),
                "quarantine" => Some(OrphanPolicy::Quarantine),
                _ => None,
            },
        )?
        .unwrap_or(OrphanPolicy::Quarantine);
        let rule = Rule::ForeignKey {
            namespace: self.ctx.key_namespace,
            table: name.clone(),
        };
        let check = ForeignKeyCheck {
            column: 0,
            source_column: None,
            parent_table: parent.target.get_ref().clone(),
            parent_key: parent.target_key.get_ref().clone(),
            on_orphan,
        };
        Ok((rule, check))
    }

    fn lookup(&self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let file = f.lookup.as_ref().expect("required parameter checked");
        let key = f.lookup_key.as_ref().expect("required parameter checked");
        let value = f.lookup_value.as_ref().expect("required parameter checked");
        let shown = file.get_ref();
        let column = f
            .source
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        let default = f.default.as_ref().map(|d| d.get_ref().clone());
        if let Some(table) = super::lookup_table_name(shown) {
            // Read from the source by `Project::compile`; a static check
            // (no connection) has nothing to look in yet.
            let entries = match self.ctx.lookup_tables {
                None => HashMap::new(),
                Some(all) => all
                    .get(&(
                        table.to_string(),
                        key.get_ref().clone(),
                        value.get_ref().clone(),
                    ))
                    .cloned()
                    .ok_or_else(|| {
                        self.err(
                            file.span(),
                            format!("lookup table \"{table}\" was not read from the source"),
                        )
                    })?,
            };
            return Ok(Rule::Lookup(Lookup {
                file: shown.clone(),
                column,
                entries,
                default,
            }));
        }
        let unreadable = |e: csv::Error| {
            self.err(
                file.span(),
                format!("cannot read lookup file \"{shown}\": {e}"),
            )
        };
        let mut reader =
            csv::Reader::from_path(self.ctx.project_dir.join(shown)).map_err(unreadable)?;
        let headers = reader.headers().map_err(unreadable)?.clone();
        let position = |column: &S<String>| {
            headers
                .iter()
                .position(|h| h.trim() == column.get_ref())
                .ok_or_else(|| {
                    self.err(
                        column.span(),
                        format!("column \"{}\" not found in {shown}", column.get_ref()),
                    )
                    .with_hint_opt(hint_for(column.get_ref(), headers.iter()))
                })
        };
        let (k, v) = (position(key)?, position(value)?);
        let mut entries = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(unreadable)?;
            if let (Some(k), Some(v)) = (record.get(k), record.get(v)) {
                // the first row for a key wins, as a spreadsheet reader would expect
                entries
                    .entry(k.trim().to_string())
                    .or_insert_with(|| v.trim().to_string());
            }
        }
        Ok(Rule::Lookup(Lookup {
            file: shown.clone(),
            column,
            entries,
            default,
        }))
    }

    fn canonicalize(&self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let dictionary = f.dictionary.as_ref().expect("required parameter checked");
        let threshold = f.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(self.err(
                f.target.span(),
                format!("threshold {threshold} is outside (0, 1]"),
            ));
        }
        let path = self.ctx.project_dir.join(dictionary.get_ref());
        let loaded = Canonicalizer::load(&path, threshold).map_err(|e| {
            self.err(
                dictionary.span(),
                format!("{e} in \"{}\"", dictionary.get_ref()),
            )
        })?;
        Ok(Rule::Canonicalize {
            dictionary: loaded,
            default: f.default.as_ref().map(|d| d.get_ref().clone()),
        })
    }

    fn value_map(&self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let map: &BTreeMap<String, String> = f.map.as_ref().expect("required parameter checked");
        if map.is_empty() {
            return Err(self.err(f.target.span(), "map is empty"));
        }
        Ok(Rule::ValueMap(ValueMap {
            map: map
                .iter()
                .map(|(k, v)| (k.trim().to_string(), v.clone()))
                .collect(),
            expected: map.keys().map(|k| k.trim()).collect::<Vec<_>>().join(", "),
            default: f.default.as_ref().map(|d| d.get_ref().clone()),
        }))
    }

    fn rewrite(&self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let pattern = f.pattern.as_ref().expect("required parameter checked");
        let template = f.template.as_ref().expect("required parameter checked");
        let regex = Regex::new(pattern.get_ref()).map_err(|e| {
            // regex errors span lines (the pattern, a caret, the reason): keep the reason
            let text = e.to_string();
            let reason = text
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .or_else(|| text.lines().next())
                .unwrap_or_default()
                .to_string();
            self.err(pattern.span(), format!("bad regex in pattern: {reason}"))
        })?;
        let pieces = parse_template(template.get_ref(), |name| {
            if let Ok(n) = name.parse::<usize>() {
                return if n < regex.captures_len() {
                    Ok(Piece::Capture(n))
                } else {
                    Err(format!(
                        "template uses {{{n}}} but the pattern has {} groups",
                        regex.captures_len() - 1
                    ))
                };
            }
            regex
                .capture_names()
                .position(|c| c == Some(name))
                .map(Piece::Capture)
                .ok_or_else(|| {
                    format!("template uses {{{name}}} but the pattern has no group of that name")
                })
        })
        .map_err(|e| self.err(template.span(), e))?;
        Ok(Rule::Rewrite {
            pattern: regex,
            template: pieces,
        })
    }

    fn to_utc(&self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let zone = match &f.timezone {
            Some(tz) => parse_timezone(tz, self.ctx.locator)?,
            None => self.ctx.source_timezone,
        };
        let gap = policy(self, &f.dst_gap, "dst_gap", GAP_POLICIES, GapPolicy::parse)?
            .unwrap_or(GapPolicy::ShiftForward);
        let overlap = policy(
            self,
            &f.dst_overlap,
            "dst_overlap",
            OVERLAP_POLICIES,
            OverlapPolicy::parse,
        )?
        .unwrap_or(OverlapPolicy::Earliest);
        Ok(Rule::ToUtc { zone, gap, overlap })
    }

    fn template(&mut self, f: &FieldMapping) -> Result<Rule, ProjectError> {
        let template = f.template.as_ref().expect("required parameter checked");
        let has_source = f.source.is_some();
        let table = self.ctx.source_table;
        let columns = &mut self.columns;
        let pieces = parse_template(template.get_ref(), |name| {
            if name == "value" {
                return if has_source {
                    Ok(Piece::Value)
                } else {
                    Err("template uses {value} but the field has no \"source\"".into())
                };
            }
            if let Some(table) = table
                && table.column(name).is_none()
            {
                let hint = hint_for(name, table.columns.iter().map(|c| c.name.as_str()));
                let hint = hint.map(|h| format!("; {h}")).unwrap_or_default();
                return Err(format!("unknown column \"{name}\" in template{hint}"));
            }
            Ok(Piece::Column(columns.add(name)))
        })
        .map_err(|e| self.ctx.locator.at(template.span(), e))?;
        Ok(Rule::Template(pieces))
    }
}

/// A policy keyword, or an error listing the accepted ones with a hint.
fn policy<T>(
    compiler: &Compiler<'_>,
    value: &Option<S<String>>,
    what: &str,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ProjectError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match parse(value.get_ref()) {
        Some(p) => Ok(Some(p)),
        None => Err(compiler
            .err(
                value.span(),
                format!(
                    "unknown {what} \"{}\" (expected {})",
                    value.get_ref(),
                    names.join(", ")
                ),
            )
            .with_hint_opt(hint_for(value.get_ref(), names.iter().copied()))),
    }
}

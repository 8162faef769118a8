//! A table's compiled mapping and the per-row hot path.

use chrono_tz::Tz;

use super::convert::convert;
use super::rules::Rule;
use super::when::Condition;
use super::{ForeignKeyCheck, RowFailure, TransformStats};
use crate::schema::{ColumnDef, TableDef};
use crate::value::{Row, Value};

/// What happens to a value a rule cannot transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// The whole row goes to quarantine with the reason.
    Quarantine,
    /// The column becomes NULL (unless it is NOT NULL).
    Null,
    /// The source value is kept as it is, converted to the column type.
    Keep,
}

pub const ERROR_POLICIES: &[&str] = &["quarantine", "null", "keep"];

impl ErrorPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "quarantine" => Some(Self::Quarantine),
            "null" => Some(Self::Null),
            "keep" => Some(Self::Keep),
            _ => None,
        }
    }
}

/// One target column, ready to run.
#[derive(Debug)]
pub(crate) struct CompiledField {
    pub rule_name: &'static str,
    pub rule: Rule,
    /// Position of the source value in the source row.
    pub source: Option<usize>,
    pub when: Option<Condition>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub on_error: ErrorPolicy,
}

/// A `[[tables]]` entry compiled against its source: regexes built, files
/// loaded, names resolved to positions.
#[derive(Debug)]
pub struct CompiledTable {
    pub(crate) source_table: String,
    pub(crate) target_table: String,
    pub(crate) key_column: String,
    pub(crate) target_key: String,
    pub(crate) source_columns: Vec<String>,
    pub(crate) target_columns: Vec<ColumnDef>,
    pub(crate) fields: Vec<CompiledField>,
    pub(crate) foreign_keys: Vec<ForeignKeyCheck>,
    /// Zone of zone-less values converted to timestamps outside `to_utc`.
    pub(crate) timezone: Tz,
}

impl CompiledTable {
    pub fn source_table(&self) -> &str {
        &self.source_table
    }

    pub fn target_table(&self) -> &str {
        &self.target_table
    }

    /// The source key (`key` of the mapping).
    pub fn key_column(&self) -> &str {
        &self.key_column
    }

    /// Columns to SELECT, in the order `transform_row` expects: key first, no duplicates.
    pub fn source_columns(&self) -> &[String] {
        &self.source_columns
    }

    /// Output columns in row order, with resolved types.
    pub fn target_columns(&self) -> &[ColumnDef] {
        &self.target_columns
    }

    pub fn target_key(&self) -> &str {
        &self.target_key
    }

    /// The target table to create; its primary key is the target key.
    pub fn target_def(&self) -> TableDef {
        TableDef {
            name: self.target_table.clone(),
            columns: self.target_columns.clone(),
            primary_key: vec![self.target_key.clone()],
        }
    }

    pub fn foreign_keys(&self) -> &[ForeignKeyCheck] {
        &self.foreign_keys
    }

    /// The target row of one source row (in `source_columns` order).
    pub fn transform_row(&self, row: &Row, stats: &mut TransformStats) -> Result<Row, RowFailure> {
        let mut out = Vec::with_capacity(self.fields.len());
        for (field, def) in self.fields.iter().zip(&self.target_columns) {
            let input = field
                .source
                .and_then(|i| row.get(i))
                .unwrap_or(&Value::Null);
            let value = match self.produce(field, def, input, row, stats) {
                Ok(v) => v,
                Err((rule, reason)) => {
                    let failure = || RowFailure {
                        rule: rule.to_string(),
                        column: def.name.clone(),
                        reason: reason.clone(),
                    };
                    match field.on_error {
                        ErrorPolicy::Quarantine => return Err(failure()),
                        ErrorPolicy::Null => Value::Null,
                        ErrorPolicy::Keep => convert(input.clone(), def.column_type, self.timezone)
                            .map_err(|_| failure())?,
                    }
                }
            };
            if value.is_null() && !def.nullable {
                return Err(RowFailure {
                    rule: field.rule_name.to_string(),
                    column: def.name.clone(),
                    reason: format!("NULL in NOT NULL column {}", def.name),
                });
            }
            out.push(value);
        }
        Ok(out)
    }

    fn produce(
        &self,
        field: &CompiledField,
        def: &ColumnDef,
        input: &Value,
        row: &Row,
        stats: &mut TransformStats,
    ) -> Result<Value, (&'static str, String)> {
        let applies = field.when.as_ref().is_none_or(|c| c.holds(row));
        let value = if applies {
            field.rule.apply(input, row, &def.name, stats)
        } else {
            Ok(input.clone())
        }
        .and_then(|v| convert(v, def.column_type, self.timezone))
        .map_err(|reason| (field.rule_name, reason))?;
        if let Some(x) = value.as_f64() {
            if let Some(max) = field.max
                && x > max
            {
                return Err((
                    "max",
                    format!("{} {} is above max {max}", def.name, value.render()),
                ));
            }
            if let Some(min) = field.min
                && x < min
            {
                return Err((
                    "min",
                    format!("{} {} is below min {min}", def.name, value.render()),
                ));
            }
        }
        Ok(value)
    }
}

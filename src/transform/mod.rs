//! Transformation rules (SPEC §2), compiled once per table and applied row by row.
//!
//! INTERFACE CONTRACT (used by project loading and the pipeline; keep these
//! signatures): see `compile_table`, `CompiledTable::transform_row`.
//!
//! `compile` checks a `[[tables]]` entry and builds each rule once (`rules`);
//! `table` runs them per row. `when`, `time`, `canon`, `convert` and `keys`
//! hold the pieces that rules share.

mod canon;
mod compile;
mod convert;
mod keys;
mod rules;
mod stats;
mod table;
mod time;
mod when;

#[cfg(test)]
mod tests;

use std::path::Path;

use chrono_tz::Tz;
use uuid::Uuid;

use crate::project::error::Locator;
use crate::project::model::TableMapping;
use crate::schema::TableInfo;

pub use compile::compile_table;
pub use keys::{DEFAULT_NAMESPACE, deterministic_uuid};
pub use stats::{ColumnStats, MAX_UNMATCHED_PER_COLUMN, TransformStats};
pub use table::{CompiledTable, ErrorPolicy};
pub use time::{GapPolicy, OverlapPolicy, parse_timezone};

/// The rule names the project file accepts.
pub const RULES: &[&str] = &[
    "copy",
    "cast",
    "deterministic_key",
    "foreign_key",
    "lookup",
    "canonicalize",
    "value_map",
    "rewrite",
    "to_utc",
    "template",
    "scale",
];

/// What compiling a table needs besides its mapping.
pub struct CompileContext<'a> {
    pub locator: &'a Locator,
    /// Folder of the project file: lookup CSVs and dictionaries are relative to it.
    pub project_dir: &'a Path,
    pub key_namespace: Uuid,
    /// `[source].timezone`, the default of `to_utc`.
    pub source_timezone: Tz,
    /// All table mappings of the project, for `foreign_key` references.
    pub tables: &'a [TableMapping],
    /// The live source table, when connected; `None` for static checks only
    /// (types of copied columns are then unknown and default to text).
    pub source_table: Option<&'a TableInfo>,
}

/// A foreign key produced by a `foreign_key` rule, checked by the loader
/// against the parent's target table.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKeyCheck {
    /// Index of the column in the target row.
    pub column: usize,
    pub parent_table: String,
    pub parent_key: String,
    pub on_orphan: OrphanPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanPolicy {
    Keep,
    Null,
    Quarantine,
}

/// Why a row could not be transformed.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFailure {
    pub rule: String,
    pub column: String,
    pub reason: String,
}

// ---- LEAD STUB: replaced by the real rule catalogue on merge ----
use crate::schema::{ColumnType, TableDef};
use crate::value::Value;

pub const DEFAULT_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_8a0e_3d4b_4e5f_9a7b_2c1d_0e9f_8a7b);

pub fn deterministic_uuid(namespace: Uuid, source_table: &str, key: &Value) -> Uuid {
    Uuid::new_v5(
        &namespace,
        format!("{source_table}:{}", key.render()).as_bytes(),
    )
}

pub fn parse_timezone(
    name: &crate::project::model::S<String>,
    locator: &Locator,
) -> Result<Tz, ProjectError> {
    name.get_ref().parse().map_err(|_| {
        locator.at(
            name.span(),
            format!("unknown time zone \"{}\"", name.get_ref()),
        )
    })
}

#[derive(Debug, Default, Clone)]
pub struct TransformStats {
    pub rows: u64,
}

impl TransformStats {
    pub fn merge(&mut self, _other: &Self) {}
}

#[derive(Debug, Clone)]
pub struct CompiledTable {
    source: String,
    target: String,
    key: String,
    target_key: String,
    source_columns: Vec<String>,
    target_columns: Vec<ColumnDef>,
    fks: Vec<ForeignKeyCheck>,
}

pub fn compile_table(
    mapping: &TableMapping,
    _ctx: &CompileContext,
) -> Result<CompiledTable, ProjectError> {
    let mut source_columns = vec![mapping.key.get_ref().clone()];
    let mut target_columns = Vec::new();
    for f in &mapping.fields {
        if let Some(s) = &f.source
            && !source_columns.contains(s.get_ref())
        {
            source_columns.push(s.get_ref().clone());
        }
        target_columns.push(ColumnDef {
            name: f.target.get_ref().clone(),
            column_type: ColumnType::Text,
            nullable: f.target.get_ref() != mapping.target_key.get_ref(),
        });
    }
    Ok(CompiledTable {
        source: mapping.source.get_ref().clone(),
        target: mapping.target.get_ref().clone(),
        key: mapping.key.get_ref().clone(),
        target_key: mapping.target_key.get_ref().clone(),
        source_columns,
        target_columns,
        fks: Vec::new(),
    })
}

impl CompiledTable {
    pub fn source_table(&self) -> &str {
        &self.source
    }
    pub fn target_table(&self) -> &str {
        &self.target
    }
    pub fn key_column(&self) -> &str {
        &self.key
    }
    pub fn source_columns(&self) -> &[String] {
        &self.source_columns
    }
    pub fn target_columns(&self) -> &[ColumnDef] {
        &self.target_columns
    }
    pub fn target_key(&self) -> &str {
        &self.target_key
    }
    pub fn target_def(&self) -> TableDef {
        TableDef {
            name: self.target.clone(),
            columns: self.target_columns.clone(),
            primary_key: vec![self.target_key.clone()],
        }
    }
    pub fn foreign_keys(&self) -> &[ForeignKeyCheck] {
        &self.fks
    }
    pub fn transform_row(&self, row: &Row, _stats: &mut TransformStats) -> Result<Row, RowFailure> {
        Ok(row
            .iter()
            .skip(1)
            .cloned()
            .chain(std::iter::once(row[0].clone()))
            .take(self.target_columns.len())
            .collect())
    }
}

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
    /// `lookup = "table:NAME"` entries read from the source, by (table, key
    /// column, value column); `None` for static checks only.
    pub lookup_tables: Option<&'a LookupTables>,
}

/// Lookup tables read from the source: (table, key column, value column) →
/// key → value, the first row of a key winning.
pub type LookupTables =
    std::collections::HashMap<(String, String, String), std::collections::HashMap<String, String>>;

/// The source table a `lookup` names with `table:NAME`, if it names one.
pub fn lookup_table_name(lookup: &str) -> Option<&str> {
    lookup.strip_prefix("table:").map(str::trim)
}

/// A foreign key produced by a `foreign_key` rule, checked by the loader
/// against the parent's target table.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKeyCheck {
    /// Index of the column in the target row.
    pub column: usize,
    /// Index of the source column the key is derived from, in the source row.
    pub source_column: Option<usize>,
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

//! The migration project file, as written by the operator.
//!
//! Every struct rejects unknown keys. Values that need checks beyond their type
//! (rule names, regexes, time zones, table and column names) are kept `Spanned`,
//! so a failed check can point at the exact line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub project: ProjectSection,
    pub source: Endpoint,
    pub target: Endpoint,
    #[serde(default)]
    pub pipeline: PipelineSection,
    #[serde(default)]
    pub profiling: ProfilingSection,
    #[serde(default)]
    pub evolution: EvolutionSection,
    #[serde(default)]
    pub tables: Vec<TableMapping>,
    #[serde(default)]
    pub validations: Vec<ValidationSpec>,
    #[serde(default)]
    pub timeline: TimelineSection,
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// First working day of the test-run timeline (YYYY-MM-DD).
    pub start_date: Option<S<String>>,
    /// Namespace of the deterministic (UUIDv5) keys; defaults to a fixed
    /// flightdeck namespace so that re-runs agree.
    pub key_namespace: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default)]
    pub name: String,
    /// `sqlite://file.db`, `postgres://…`, `mysql://…`; `${ENV_VAR}` is expanded.
    pub url: S<String>,
    /// Zone of zone-less DATETIME values (IANA name). Default UTC.
    pub timezone: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// Rows per batch at start; the feedback loop adapts it when `adaptive`.
    pub batch_size: usize,
    pub adaptive: bool,
    pub min_batch: usize,
    pub max_batch: usize,
    /// Batches in flight between stages (bounded channels).
    pub channel_capacity: usize,
    /// Upper bound on one batch's size in memory, in bytes; wide or long rows
    /// get smaller batches so memory stays flat.
    pub max_batch_bytes: usize,
    /// Count every source table exactly at the start (a full scan of each on
    /// the source, in the background). Off, a table the source's catalog
    /// puts at 100,000 rows or more goes by that estimate, as gh-ost does
    /// without `--exact-rowcount`.
    pub exact_row_counts: bool,
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            batch_size: 2000,
            adaptive: true,
            min_batch: 200,
            max_batch: 20_000,
            channel_capacity: 1,
            max_batch_bytes: 1 << 20,
            exact_row_counts: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilingSection {
    pub enabled: bool,
    /// Fraction of rows profiled, in (0, 1].
    pub sample: f64,
    /// How many top values each column keeps.
    pub top_k: usize,
}

impl Default for ProfilingSection {
    fn default() -> Self {
        Self {
            enabled: true,
            sample: 1.0,
            top_k: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionSection {
    /// Recommendations below this confidence are never applied.
    pub min_confidence: f64,
    /// Change kinds that may be applied; empty means all.
    pub allow: Vec<S<String>>,
    /// Change kinds that are never applied.
    pub deny: Vec<S<String>>,
    /// Longest one change may hold or wait for a lock on the target, in
    /// milliseconds; also PostgreSQL's `lock_timeout` for its statements and
    /// for rollback's.
    pub lock_budget_ms: u64,
    /// Tables projected past this many rows in 12 months are proposed for
    /// time partitioning.
    pub partition_above_rows: u64,
}

impl Default for EvolutionSection {
    fn default() -> Self {
        Self {
            min_confidence: 0.9,
            allow: Vec::new(),
            deny: Vec::new(),
            lock_budget_ms: 2_000,
            partition_above_rows: 10_000_000,
        }
    }
}

/// The kinds of schema change the evolution engine knows.
pub const CHANGE_KINDS: &[&str] = &[
    "narrow_type",
    "not_null",
    "check",
    "unique",
    "index",
    "partition",
    "enum_table",
    "denormalize",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMapping {
    pub source: S<String>,
    pub target: S<String>,
    /// Source key for keyset pagination (an integer or text column).
    pub key: S<String>,
    /// Target primary key column.
    pub target_key: S<String>,
    /// Source tables that must be migrated first, besides those named by
    /// `foreign_key` rules.
    #[serde(default)]
    pub depends_on: Vec<S<String>>,
    /// Timestamp column whose values feed the growth forecast.
    pub growth_column: Option<S<String>>,
    pub fields: Vec<FieldMapping>,
}

/// One target column: where it comes from and what happens on the way.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// Source column; omitted only for rules that need none (`template`).
    pub source: Option<S<String>>,
    pub target: S<String>,
    /// Target column type; inferred from the rule or the source column if omitted.
    #[serde(rename = "type")]
    pub column_type: Option<S<String>>,
    /// Transformation rule; plain copy (rename/cast) if omitted.
    pub rule: Option<S<String>>,
    /// Condition on the source row; the rule applies only where it holds.
    pub when: Option<S<String>>,
    /// Target column accepts NULL (default true, false for the target key).
    pub nullable: Option<bool>,

    // deterministic_key / foreign_key
    /// foreign_key: source table whose key this column references.
    pub references: Option<S<String>>,
    /// foreign_key: what to do when the parent row is not in the target.
    pub on_orphan: Option<S<String>>,

    // lookup
    /// lookup: CSV file (relative to the project file) or `table:NAME` in the source.
    pub lookup: Option<S<String>>,
    pub lookup_key: Option<S<String>>,
    pub lookup_value: Option<S<String>>,
    /// Value used when a rule finds nothing (lookup, canonicalize, value_map).
    pub default: Option<S<String>>,

    // canonicalize
    /// canonicalize: TOML dictionary of canonical names and synonyms.
    pub dictionary: Option<S<String>>,
    /// canonicalize: minimum similarity (0..1) for a fuzzy match.
    pub threshold: Option<f64>,

    // value_map
    pub map: Option<BTreeMap<String, String>>,

    // rewrite / template
    pub pattern: Option<S<String>>,
    pub template: Option<S<String>>,

    // to_utc
    /// to_utc: zone of the source values; default `[source].timezone`.
    pub timezone: Option<S<String>>,
    /// to_utc: `shift_forward` (default) or `quarantine` for times in a DST gap.
    pub dst_gap: Option<S<String>>,
    /// to_utc: `earliest` (default), `latest` or `quarantine` for ambiguous times.
    pub dst_overlap: Option<S<String>>,

    // scale
    pub factor: Option<f64>,

    // every rule: bounds checked after the rule (business rule); outside → quarantine
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// What to do with a value the rule cannot transform: `quarantine` (default),
    /// `null` or `keep`.
    pub on_error: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    pub name: String,
    /// Target table the check runs on.
    pub table: S<String>,
    /// `not_null`, `unique`, `range`, `in_set`, `sql`, `query_time`.
    pub kind: S<String>,
    pub column: Option<S<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub values: Option<Vec<String>>,
    /// kind = "sql": a query returning the offending rows; kind =
    /// "query_time": a query the platform will run, timed before and after
    /// the schema changes.
    pub sql: Option<String>,
    /// kind = "query_time": the query fails the check above this median.
    pub max_ms: Option<f64>,
}

pub const VALIDATION_KINDS: &[&str] =
    &["not_null", "unique", "range", "in_set", "sql", "query_time"];

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TimelineSection {
    /// Non-working days besides weekends (YYYY-MM-DD).
    pub holidays: Vec<S<String>>,
    /// Phases in order; default: 3/5/4/1/2 working days.
    pub phases: Vec<PhaseSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    pub name: String,
    /// Working days.
    pub days: u32,
    /// The phase that the migration run itself is (at most one).
    #[serde(default)]
    pub execution: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub url: S<String>,
    #[serde(default)]
    pub description: String,
}

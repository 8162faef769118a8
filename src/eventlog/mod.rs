//! The append-only event log in the target (SPEC §7): every run, table, batch and
//! DDL change with its inverse. Rollback reads it newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Kinds of event, as stored in the `kind` column.
pub mod kind {
    pub const RUN_STARTED: &str = "run_started";
    pub const RUN_RESUMED: &str = "run_resumed";
    pub const RUN_FINISHED: &str = "run_finished";
    pub const RUN_FAILED: &str = "run_failed";
    pub const RUN_CANCELLED: &str = "run_cancelled";
    pub const TABLE_CREATED: &str = "table_created";
    pub const BATCH_COMMITTED: &str = "batch_committed";
    /// The primary key of a table the run created, built after its load.
    pub const KEY_BUILT: &str = "key_built";
    pub const DDL_APPLIED: &str = "ddl_applied";
    pub const DECISION: &str = "recommendation_decision";
    pub const VALIDATION: &str = "validation";
    /// One undo step of a rollback; `detail.undoes` is the event it undid.
    pub const ROLLBACK: &str = "rollback";
    pub const ROLLBACK_STARTED: &str = "rollback_started";
    pub const ROLLBACK_FINISHED: &str = "rollback_finished";
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: i64,
    pub run_id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: String,
    /// Target table the event concerns, if any.
    pub table: Option<String>,
    /// One line for lists: "batch 12 of ml_models: keys 2001..4000, 1990 rows, 10 quarantined".
    pub summary: String,
    /// Structured details (key range, counts, DDL, …).
    pub detail: serde_json::Value,
    /// Statements that undo this event, in order; empty when nothing to undo.
    pub inverse: Vec<String>,
}

pub mod lock;
pub mod rollback;
pub mod store;

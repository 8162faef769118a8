//! The append-only event log in the target (SPEC §7): every run, table, batch and
//! DDL change with its inverse. Rollback reads it newest first.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{Database, DbError};

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
    /// A change about to run outside a transaction: its DDL, inverse, and the
    /// catalog probe that tells later whether it took effect.
    pub const DDL_INTENT: &str = "ddl_intent";
    /// A change that did not take effect (refused by the data, out of lock
    /// budget, interrupted). Its inverse, if any, removes what it left.
    pub const DDL_FAILED: &str = "ddl_failed";
    pub const DECISION: &str = "recommendation_decision";
    /// Decisions on a completed run's recommendations, taken after it;
    /// `detail.recommendations` is the queue afterwards.
    pub const QUEUE_DECIDED: &str = "recommendations_decided";
    pub const VALIDATION: &str = "validation";
    /// A declared query timed after its table's load, before the changes
    /// built at the load's end (`query_time` validations).
    pub const QUERY_TIMED: &str = "query_timed";
    /// One undo step of a rollback; `detail.undoes` is the event it undid.
    pub const ROLLBACK: &str = "rollback";
    pub const ROLLBACK_STARTED: &str = "rollback_started";
    pub const ROLLBACK_FINISHED: &str = "rollback_finished";
    /// A rollback stopped on request between two steps; the next resumes it.
    pub const ROLLBACK_STOPPED: &str = "rollback_stopped";
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
    /// Statements that undo this event, in order; empty when nothing to undo
    /// or when they were too long to read for a list (see `inverse_elided`).
    pub inverse: Vec<String>,
    /// Bytes of inverse a listing left unread (a batch's DELETE by key runs
    /// to 40 bytes a row); 0 when `inverse` is complete.
    #[serde(skip_serializing_if = "is_zero")]
    pub inverse_elided: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl EventRecord {
    /// Whether rollback has something to run for this event.
    pub fn has_inverse(&self) -> bool {
        !self.inverse.is_empty() || self.inverse_elided > 0
    }
}

/// The `ddl_intent` events with neither a completion (`ddl_applied` or
/// `ddl_failed` of the same recommendation after it) nor a rollback step:
/// the process stopped between the intent and the outcome.
pub fn dangling_intents(events: &[EventRecord]) -> Vec<&EventRecord> {
    let undone: HashSet<i64> = events
        .iter()
        .filter(|e| e.kind == kind::ROLLBACK)
        .filter_map(|e| e.detail["undoes"].as_i64())
        .collect();
    let outcomes: Vec<&EventRecord> = events
        .iter()
        .filter(|e| matches!(e.kind.as_str(), kind::DDL_APPLIED | kind::DDL_FAILED))
        .collect();
    events
        .iter()
        .filter(|i| i.kind == kind::DDL_INTENT && !undone.contains(&i.id))
        .filter(|i| {
            !outcomes
                .iter()
                .any(|o| o.id > i.id && o.detail["recommendation"] == i.detail["recommendation"])
        })
        .collect()
}

/// The `ddl_applied` events of every run that no rollback step undid, oldest
/// first: the schema changes that should be in the target now.
pub async fn applied_changes(db: &dyn Database) -> Result<Vec<EventRecord>, DbError> {
    let events = store::read_events_of(db, &[kind::DDL_APPLIED, kind::ROLLBACK]).await?;
    let undone: HashSet<i64> = events
        .iter()
        .filter(|e| e.kind == kind::ROLLBACK)
        .filter_map(|e| e.detail["undoes"].as_i64())
        .collect();
    Ok(events
        .into_iter()
        .filter(|e| e.kind == kind::DDL_APPLIED && !undone.contains(&e.id))
        .collect())
}

/// Table → column → the type an applied, not undone, narrowing gave it
/// (the latest, when a column was narrowed twice).
pub fn narrowed_types(
    applied: &[EventRecord],
) -> HashMap<String, HashMap<String, crate::schema::ColumnType>> {
    let mut out: HashMap<String, HashMap<String, crate::schema::ColumnType>> = HashMap::new();
    for e in applied {
        let change = &e.detail["change"];
        if change["change"] != "narrow_type" {
            continue;
        }
        if let (Some(table), Some(column), Some(Ok(to))) = (
            &e.table,
            e.detail["column"].as_str(),
            change["to"].as_str().map(str::parse),
        ) {
            out.entry(table.clone())
                .or_default()
                .insert(column.to_string(), to);
        }
    }
    out
}

/// Runs the catalog probe an online change carries: whether it is in place.
pub async fn in_place(db: &dyn Database, probe: &str) -> Result<bool, DbError> {
    Ok(db
        .query(probe, &[])
        .await?
        .first()
        .and_then(|r| r[0].as_i64())
        .is_some_and(|n| n > 0))
}

pub mod lock;
pub mod rollback;
pub mod store;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: i64, kind: &str, detail: serde_json::Value) -> EventRecord {
        EventRecord {
            id,
            run_id: Uuid::nil(),
            at: Utc::now(),
            kind: kind.into(),
            table: None,
            summary: String::new(),
            detail,
            inverse: vec![],
            inverse_elided: 0,
        }
    }

    #[test]
    fn a_narrowing_gives_its_column_the_type_it_set_the_latest_one_winning() {
        let on = |id, table: &str, column: &str, change: serde_json::Value| EventRecord {
            table: Some(table.into()),
            ..event(
                id,
                kind::DDL_APPLIED,
                json!({ "column": column, "change": change }),
            )
        };
        let narrow = |to: &str| json!({ "change": "narrow_type", "from": "bigint", "to": to });
        let applied = [
            on(1, "t", "a", narrow("int")),
            on(2, "t", "a", narrow("smallint")),
            on(3, "t", "b", json!({ "change": "not_null" })),
            on(4, "u", "c", narrow("varchar(16)")),
            on(5, "u", "d", narrow("no such type")),
        ];
        let types = narrowed_types(&applied);
        use crate::schema::ColumnType;
        assert_eq!(types["t"].len(), 1, "{types:?}");
        assert_eq!(types["t"]["a"], ColumnType::SmallInt);
        assert_eq!(types["u"].len(), 1, "{types:?}");
        assert_eq!(
            types["u"]["c"],
            "varchar(16)".parse::<ColumnType>().unwrap()
        );
    }

    #[test]
    fn an_intent_dangles_until_its_outcome_or_its_undo() {
        let rec = |r: &str| json!({ "recommendation": r });
        let events = [
            event(1, kind::DDL_INTENT, rec("a")),
            event(2, kind::DDL_APPLIED, rec("a")),
            event(3, kind::DDL_INTENT, rec("b")),
            event(4, kind::DDL_FAILED, rec("b")),
            event(5, kind::DDL_INTENT, rec("c")),
            event(6, kind::ROLLBACK, json!({ "undoes": 5 })),
            // Retried after a failure: only the latest attempt is open.
            event(7, kind::DDL_INTENT, rec("b")),
            // An outcome before the intent does not close it.
            event(8, kind::DDL_APPLIED, rec("d")),
            event(9, kind::DDL_INTENT, rec("d")),
        ];
        let ids: Vec<i64> = dangling_intents(&events).iter().map(|e| e.id).collect();
        assert_eq!(ids, [7, 9]);
    }
}

//! Rollback from the event log (SPEC §7): every event that changed the target
//! carries its inverse; undoing them newest first restores the state before
//! the run, or before a chosen event. Each undo step commits in one
//! transaction with its own `rollback` event, so a crash mid-way resumes where
//! it stopped, and a second rollback finds nothing left to do.
//!
//! A change applied outside a transaction (see `evolve`) carries a catalog
//! probe: the plan asks the catalog whether it is still in place, and its
//! inverse runs statement by statement before the step's event. A change
//! whose intent was logged but not its outcome is undone if the catalog shows
//! it in place, else only what the attempt left is removed. A failed change
//! whose leftovers could not be removed then carries their clean-up as its
//! inverse, asked of the catalog the same way.
//!
//! Schema statements wait at most the lock budget for their locks: a step
//! that gives up stops the rollback, which the next one resumes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::kind;
use super::store::{self, Checkpoint, NewEvent, RunRecord};
use super::{EventRecord, dangling_intents, in_place};
use crate::db::{Database, DbError, Statement};

/// Status of a run whose every change was undone; the next `run` starts afresh.
pub const ROLLED_BACK: &str = "rolled_back";
/// Status of a run undone back to an event inside it; the next `run` resumes it.
pub const PARTIALLY_ROLLED_BACK: &str = "partially_rolled_back";

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{0}")]
    Db(#[from] DbError),
    /// The rollback cannot be done as asked; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("there is no event {0} in the event log; `flightdeck log` lists them")]
    NoSuchEvent(i64),
    #[error(
        "gave up after {waited_ms} ms waiting for a lock on table {table} to undo event {event}: another session holds a conflicting lock (a long transaction?); nothing of that step was recorded as undone, so roll back again later, or raise [evolution] lock_budget_ms"
    )]
    LockTimeout {
        table: String,
        event: i64,
        waited_ms: u128,
    },
    #[error(
        "stopped on request after {undone} of {total} steps; {left} steps are still to undo: roll back again to finish (each step undone so far is logged, and none is undone twice)"
    )]
    Stopped {
        undone: usize,
        total: usize,
        left: usize,
    },
}

/// One event to undo.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoStep {
    /// The event being undone.
    pub event_id: i64,
    pub run_id: Uuid,
    pub kind: String,
    pub table: Option<String>,
    pub summary: String,
    /// Statements that will run, in order (read when the step runs if
    /// `deferred`).
    pub statements: Vec<String>,
    /// Bytes of inverse left in the event log until the step runs: a batch's
    /// DELETE by key is 40 bytes a row, too much to hold for a whole run.
    pub deferred: usize,
    /// The statements cannot share a transaction (e.g. `DROP INDEX
    /// CONCURRENTLY`): each runs alone, then the step's event commits.
    pub outside_transaction: bool,
    /// Inverse statements not run, with why (e.g. the table is dropped anyway).
    pub skipped: Vec<(String, String)>,
    /// Target rows this step deletes.
    pub rows: u64,
    /// Quarantined rows this step deletes.
    pub quarantined: u64,
    /// The checkpoint of a source table after this step (batches only):
    /// `Some(None)` deletes it.
    pub checkpoint: Option<(String, Option<Checkpoint>)>,
}

/// How a run ends up after the rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: Uuid,
    pub project: String,
    /// True when everything the run did is undone (status `rolled_back`).
    pub full: bool,
}

/// What a rollback will undo: shown for confirmation, then executed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RollbackPlan {
    /// Undo back to this event (it stays); `None` = the whole latest run.
    pub to: Option<i64>,
    /// Newest first.
    pub steps: Vec<UndoStep>,
    pub runs: Vec<RunOutcome>,
}

impl RollbackPlan {
    /// Nothing to undo and no run to mark: rolling back again is a no-op.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.runs.is_empty()
    }

    /// Tables that will be dropped.
    pub fn tables_dropped(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.kind == kind::TABLE_CREATED)
            .filter_map(|s| s.table.as_deref())
            .collect()
    }

    /// Rows deleted per target table (batches whose table is dropped count too).
    pub fn rows_per_table(&self) -> BTreeMap<&str, u64> {
        let mut out = BTreeMap::new();
        for s in &self.steps {
            if s.kind == kind::BATCH_COMMITTED
                && let Some(t) = &s.table
            {
                *out.entry(t.as_str()).or_insert(0) += s.rows;
            }
        }
        out
    }

    pub fn quarantined(&self) -> u64 {
        self.steps.iter().map(|s| s.quarantined).sum()
    }

    /// Schema statements (DROP TABLE, inverse DDL) in the order they will run.
    ///
    /// A batch's deferred DELETE is not among them.
    pub fn ddl(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.kind != kind::BATCH_COMMITTED)
            .flat_map(|s| s.statements.iter().map(String::as_str))
            .collect()
    }

    /// The plan in a few lines, for a confirmation prompt.
    pub fn describe(&self) -> Vec<String> {
        if self.is_empty() {
            return vec!["nothing to roll back".into()];
        }
        let mut lines = Vec::new();
        for r in &self.runs {
            lines.push(format!(
                "run {} of \"{}\": {}",
                r.run_id,
                r.project,
                if r.full {
                    "undo everything it did".to_string()
                } else {
                    format!("undo back to event {}", self.to.unwrap_or_default())
                }
            ));
        }
        let batches = self
            .steps
            .iter()
            .filter(|s| s.kind == kind::BATCH_COMMITTED)
            .count();
        lines.push(format!(
            "{} undo steps ({batches} batches), newest first",
            self.steps.len()
        ));
        for (t, n) in self.rows_per_table() {
            lines.push(format!("  delete {n} rows from {t}"));
        }
        if self.quarantined() > 0 {
            lines.push(format!(
                "  delete {} quarantined rows from {}",
                self.quarantined(),
                store::QUARANTINE
            ));
        }
        for ddl in self.ddl() {
            lines.push(format!("  {ddl}"));
        }
        lines
    }
}

/// Logs that the rollback `rollback_id` stopped on request before step
/// `next` of the plan, having undone `undone` steps, and says so. A failure
/// to log goes into the error itself: the rollback stopped either way.
async fn stopped(
    db: &dyn Database,
    plan: &RollbackPlan,
    rollback_id: Uuid,
    undone: usize,
    next: usize,
) -> RollbackError {
    let total = plan.steps.len();
    let left = total - next;
    let Some(first) = plan.runs.first() else {
        return RollbackError::Stopped {
            undone,
            total,
            left,
        };
    };
    let logged = db
        .transaction(vec![store::event_statement(
            db.dialect(),
            &NewEvent {
                run_id: first.run_id,
                kind: kind::ROLLBACK_STOPPED,
                table: None,
                summary: format!(
                    "rollback stopped on request: {left} of {total} steps still to undo"
                ),
                detail: json!({
                    "rollback_id": rollback_id.to_string(),
                    "to": plan.to,
                    "undone": undone,
                    "left": left,
                }),
                inverse: vec![],
            },
        )])
        .await;
    match logged {
        Ok(()) => RollbackError::Stopped {
            undone,
            total,
            left,
        },
        Err(e) => RollbackError::Db(e),
    }
}

/// Progress of [`execute`], for a bar or the cockpit.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackProgress {
    Started {
        rollback_id: Uuid,
        steps: usize,
    },
    Step {
        done: usize,
        total: usize,
        event_id: i64,
        summary: String,
    },
    Finished {
        undone: usize,
    },
}

fn detail_u64(e: &EventRecord, key: &str) -> u64 {
    e.detail[key].as_u64().unwrap_or(0)
}

/// Event ids already undone by earlier (perhaps interrupted) rollbacks.
fn undone_ids(events: &[EventRecord]) -> HashSet<i64> {
    events
        .iter()
        .filter(|e| e.kind == kind::ROLLBACK)
        .filter_map(|e| e.detail["undoes"].as_i64())
        .collect()
}

/// Whether an event is an undo of its own (never undone again).
fn is_rollback_kind(k: &str) -> bool {
    matches!(
        k,
        kind::ROLLBACK | kind::ROLLBACK_STARTED | kind::ROLLBACK_FINISHED | kind::ROLLBACK_STOPPED
    )
}

/// Works out what to undo: the whole latest run, or with `to` everything
/// after that event (across runs not rolled back yet). Reads only; the
/// caller has run `store::ensure_schema` and holds the lock.
pub async fn plan(db: &dyn Database, to: Option<i64>) -> Result<RollbackPlan, RollbackError> {
    if let Some(t) = to
        && !event_exists(db, t).await?
    {
        return Err(RollbackError::NoSuchEvent(t));
    }
    let runs = store::list_runs(db).await?;
    let chosen: Vec<&RunRecord> = match to {
        None => match runs.last() {
            Some(r) if r.status != ROLLED_BACK => vec![r],
            _ => vec![],
        },
        Some(_) => runs.iter().filter(|r| r.status != ROLLED_BACK).collect(),
    };
    let mut steps = Vec::new();
    let mut outcomes = Vec::new();
    for run in &chosen {
        let mut events = store::list_run_events(db, run.run_id).await?;
        // Only a batch's inverse waits for its step: the others are read now,
        // since the plan shows them or the catalog decides which of them run.
        for e in events
            .iter_mut()
            .filter(|e| e.inverse_elided > 0 && e.kind != kind::BATCH_COMMITTED)
        {
            e.inverse = store::read_inverse(db, e.id).await?;
            e.inverse_elided = 0;
        }
        let first = events.first().map(|e| e.id).unwrap_or(i64::MAX);
        let undone = undone_ids(&events);
        let dangling: HashSet<i64> = dangling_intents(&events).iter().map(|e| e.id).collect();
        let pending: Vec<&EventRecord> = events
            .iter()
            .filter(|e| to.is_none_or(|t| e.id > t))
            .filter(|e| (e.has_inverse() && !is_rollback_kind(&e.kind)) || dangling.contains(&e.id))
            .filter(|e| !undone.contains(&e.id))
            .collect();
        // Whether each online change is in place now, from the catalog.
        let mut probed = HashMap::new();
        for e in &pending {
            // A failed change's leftover query answers the same question:
            // is there anything for its inverse to remove?
            if let Some(probe) = e.detail["probe"]
                .as_str()
                .or_else(|| e.detail["leftover"].as_str())
            {
                probed.insert(e.id, in_place(db, probe).await?);
            }
        }
        let full = to.is_none_or(|t| t < first);
        if pending.is_empty() && !full {
            continue;
        }
        steps.extend(run_steps(&events, &pending, &undone, &probed)?);
        outcomes.push(RunOutcome {
            run_id: run.run_id,
            project: run.project.clone(),
            full,
        });
    }
    steps.sort_by_key(|s| std::cmp::Reverse(s.event_id));
    // A table dropped by this plan takes its rows with it.
    let dropped: HashSet<String> = steps
        .iter()
        .filter(|s| s.kind == kind::TABLE_CREATED)
        .filter_map(|s| s.table.clone())
        .collect();
    let d = db.dialect();
    for s in &mut steps {
        let Some(table) = s.table.clone().filter(|t| dropped.contains(t)) else {
            continue;
        };
        if s.kind == kind::KEY_BUILT {
            s.skipped.extend(
                s.statements
                    .drain(..)
                    .map(|st| (st, format!("table {table} is dropped by this rollback"))),
            );
            continue;
        }
        if s.kind != kind::BATCH_COMMITTED {
            continue;
        }
        let (keep, skipped) = skip_dropped(d, &table, std::mem::take(&mut s.statements));
        s.statements = keep;
        s.skipped.extend(skipped);
    }
    Ok(RollbackPlan {
        to,
        steps: keys_after_batches(steps),
        runs: outcomes,
    })
}

/// Undoing a batch deletes its rows by key, so a key built after the load
/// is dropped only after the table's batches are undone (the two commute),
/// but still before any older schema change of that table is undone (a
/// partitioning's undo copies the table, and the key with it).
fn keys_after_batches(steps: Vec<UndoStep>) -> Vec<UndoStep> {
    let mut out = Vec::with_capacity(steps.len());
    let mut held: Vec<UndoStep> = Vec::new();
    for s in steps {
        if s.kind == kind::KEY_BUILT && !s.statements.is_empty() {
            held.push(s);
            continue;
        }
        if s.kind != kind::BATCH_COMMITTED {
            let (due, keep): (Vec<UndoStep>, Vec<UndoStep>) =
                held.into_iter().partition(|k| k.table == s.table);
            out.extend(due);
            held = keep;
        }
        out.push(s);
    }
    out.extend(held);
    out
}

/// Splits a batch undo of a table the rollback drops: its DELETE from that
/// table is skipped (the DROP takes the rows), the rest (quarantine) runs.
fn skip_dropped(
    d: &dyn crate::db::Dialect,
    table: &str,
    statements: Vec<String>,
) -> (Vec<String>, Vec<(String, String)>) {
    let prefix = format!("DELETE FROM {} ", d.quote_ident(table));
    let (skip, keep): (Vec<String>, Vec<String>) = statements
        .into_iter()
        .partition(|st| st.starts_with(&prefix));
    let why = format!("table {table} is dropped by this rollback");
    (keep, skip.into_iter().map(|st| (st, why.clone())).collect())
}

/// A statement for the audit trail: one longer than a listing reads is cut
/// to its head and its length (a skipped DELETE by key of 2,000 rows would
/// otherwise be copied whole into its rollback event).
fn for_audit(statement: &str) -> String {
    if statement.len() <= store::LISTED_INVERSE_MAX {
        return statement.to_string();
    }
    let mut end = 200;
    while !statement.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … ({} bytes)", &statement[..end], statement.len())
}

/// The undo steps of one run, with the checkpoint each batch undo leaves.
/// `probed` says which online changes the catalog shows in place.
fn run_steps(
    events: &[EventRecord],
    pending: &[&EventRecord],
    undone: &HashSet<i64>,
    probed: &HashMap<i64, bool>,
) -> Result<Vec<UndoStep>, RollbackError> {
    // Batches that stay, per source table, oldest first, each with the
    // checkpoint that holds once it is committed (running totals).
    let mut batches: HashMap<String, Vec<(i64, Checkpoint)>> = HashMap::new();
    for e in events {
        if e.kind == kind::BATCH_COMMITTED && !undone.contains(&e.id) {
            let src = e.detail["source_table"].as_str().unwrap_or_default();
            let kept = batches.entry(src.to_string()).or_default();
            let (read, written, quarantined) = kept
                .last()
                .map(|(_, c)| (c.read, c.written, c.quarantined))
                .unwrap_or_default();
            kept.push((
                e.id,
                Checkpoint {
                    batch_no: e.detail["batch"].as_i64().unwrap_or(0),
                    last_key: Some(e.detail["last_key"].clone()),
                    read: read + detail_u64(e, "read"),
                    written: written + detail_u64(e, "written"),
                    quarantined: quarantined + detail_u64(e, "quarantined"),
                    done: false,
                },
            ));
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    for e in pending {
        if e.detail["inverse_loses_data"].as_bool() == Some(true)
            && e.detail.get("captured").is_none()
        {
            return Err(RollbackError::Refused(format!(
                "event {} ({}) cannot be undone without losing data: {}; its data was not captured first",
                e.id,
                e.summary,
                e.detail["loss"]
                    .as_str()
                    .unwrap_or("the inverse narrows what it restores")
            )));
        }
        let mut step = UndoStep {
            event_id: e.id,
            run_id: e.run_id,
            kind: e.kind.clone(),
            table: e.table.clone(),
            summary: e.summary.clone(),
            statements: e.inverse.clone(),
            deferred: e.inverse_elided,
            outside_transaction: probed.contains_key(&e.id),
            skipped: Vec::new(),
            rows: 0,
            quarantined: 0,
            checkpoint: None,
        };
        let listed = |key: &str| -> Vec<String> {
            serde_json::from_value(e.detail[key].clone()).unwrap_or_default()
        };
        match (e.kind == kind::DDL_INTENT, probed.get(&e.id)) {
            // Its outcome was never logged, but the catalog shows it took effect.
            (true, Some(true)) => step.statements = listed("inverse"),
            (true, _) => {
                step.statements = listed("cleanup");
                if step.statements.is_empty() {
                    continue;
                }
            }
            (false, Some(false)) => {
                let why = if e.kind == kind::DDL_FAILED {
                    "the catalog shows nothing of it is left"
                } else {
                    "the catalog shows it is not in place any more"
                };
                step.skipped = std::mem::take(&mut step.statements)
                    .into_iter()
                    .map(|s| (s, why.into()))
                    .collect();
            }
            _ => {}
        }
        if e.kind == kind::BATCH_COMMITTED {
            step.rows = detail_u64(e, "written");
            step.quarantined = detail_u64(e, "quarantined");
            let src = e.detail["source_table"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // The checkpoint of the last batch before this one that stays.
            let cp = batches.get(&src).and_then(|kept| {
                let n = kept.partition_point(|(id, _)| *id < e.id);
                n.checked_sub(1).map(|i| kept[i].1.clone())
            });
            step.checkpoint = Some((src, cp));
        }
        out.push(step);
    }
    Ok(out)
}

async fn event_exists(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    let d = db.dialect();
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {} = {}",
        d.quote_ident(store::EVENTS),
        d.quote_ident("id"),
        d.placeholder(1)
    );
    let rows = db.query(&sql, &[crate::value::Value::Int(id)]).await?;
    Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) > 0)
}

/// Runs the plan: each step in one transaction with its `rollback` event,
/// then marks the runs. Steps undone meanwhile (a concurrent or earlier
/// rollback) are skipped, so a stale plan is safe. `pace` caps steps per
/// second (demos, and tests that interrupt a rollback). A step that changes
/// the schema waits at most `lock_wait` for each lock (`[evolution]
/// lock_budget_ms`). Once `stop` turns true the rollback ends after the step
/// it is on, logs where it stopped and returns [`RollbackError::Stopped`];
/// the next rollback resumes from there.
pub async fn execute(
    db: &dyn Database,
    plan: &RollbackPlan,
    progress: mpsc::Sender<RollbackProgress>,
    pace: Option<f64>,
    lock_wait: Duration,
    mut stop: watch::Receiver<bool>,
) -> Result<usize, RollbackError> {
    let d = db.dialect();
    let rollback_id = Uuid::new_v4();
    let send = |p: RollbackProgress| {
        // Nobody watching is fine: the rollback goes on regardless.
        let _ = progress.try_send(p);
    };
    send(RollbackProgress::Started {
        rollback_id,
        steps: plan.steps.len(),
    });
    let mut already: HashSet<i64> = HashSet::new();
    for r in &plan.runs {
        already.extend(undone_ids(
            &store::read_run_events_of(db, r.run_id, &[kind::ROLLBACK]).await?,
        ));
    }
    let dropped: HashSet<&str> = plan.tables_dropped().into_iter().collect();
    if let Some(first) = plan.runs.first() {
        db.transaction(vec![store::event_statement(
            d,
            &NewEvent {
                run_id: first.run_id,
                kind: kind::ROLLBACK_STARTED,
                table: None,
                summary: format!(
                    "rollback started: {} steps{}",
                    plan.steps.len(),
                    plan.to
                        .map(|t| format!(", back to event {t}"))
                        .unwrap_or_default()
                ),
                detail: json!({
                    "rollback_id": rollback_id.to_string(),
                    "to": plan.to,
                    "steps": plan.steps.len(),
                    "runs": plan.runs.iter().map(|r| r.run_id.to_string()).collect::<Vec<_>>(),
                }),
                inverse: vec![],
            },
        )])
        .await?;
    }
    let total = plan.steps.len();
    let mut undone = 0;
    let started = std::time::Instant::now();
    for (i, step) in plan.steps.iter().enumerate() {
        if already.contains(&step.event_id) {
            continue;
        }
        if *stop.borrow() {
            return Err(stopped(db, plan, rollback_id, undone, i).await);
        }
        let gave_up = |e: DbError| {
            if e.is_lock_timeout() {
                RollbackError::LockTimeout {
                    table: step.table.clone().unwrap_or_default(),
                    event: step.event_id,
                    waited_ms: db.dialect().lock_wait_granted(lock_wait).as_millis(),
                }
            } else {
                RollbackError::Db(e)
            }
        };
        let (inverse, skipped) = if step.deferred > 0 {
            let inverse = store::read_inverse(db, step.event_id).await?;
            match step.table.as_deref().filter(|t| dropped.contains(t)) {
                Some(table) => skip_dropped(d, table, inverse),
                None => (inverse, Vec::new()),
            }
        } else {
            (step.statements.clone(), step.skipped.clone())
        };
        let mut statements: Vec<Statement> = Vec::new();
        if step.outside_transaction {
            // Each is idempotent or probed: a crash before the event below
            // leaves a step the next plan finds done or redoes safely.
            for s in &inverse {
                db.execute_ddl(s, lock_wait).await.map_err(gave_up)?;
            }
        } else {
            statements.extend(inverse.iter().map(|s| Statement::new(s.clone(), vec![])));
        }
        match &step.checkpoint {
            Some((src, Some(cp))) => {
                statements.extend(store::checkpoint_statements(d, step.run_id, src, cp))
            }
            Some((src, None)) => statements.push(store::delete_checkpoint(d, step.run_id, src)),
            None => {}
        }
        statements.push(store::event_statement(
            d,
            &NewEvent {
                run_id: step.run_id,
                kind: kind::ROLLBACK,
                table: step.table.as_deref(),
                summary: format!("undid event {}: {}", step.event_id, step.summary),
                detail: json!({
                    "rollback_id": rollback_id.to_string(),
                    "undoes": step.event_id,
                    "undone_kind": step.kind,
                    "statements": inverse.iter().map(|s| for_audit(s)).collect::<Vec<_>>(),
                    "skipped": skipped.iter().map(|(s, why)| json!({"statement": for_audit(s), "why": why})).collect::<Vec<_>>(),
                    "rows": step.rows,
                    "quarantined": step.quarantined,
                }),
                inverse: vec![],
            },
        ));
        // Deleting a batch's rows takes no lock that holds up readers.
        if step.kind == kind::BATCH_COMMITTED {
            db.transaction(statements).await?;
        } else {
            db.transaction_ddl(statements, lock_wait)
                .await
                .map_err(gave_up)?;
        }
        undone += 1;
        send(RollbackProgress::Step {
            done: i + 1,
            total,
            event_id: step.event_id,
            summary: step.summary.clone(),
        });
        if let Some(pace) = pace.filter(|p| *p > 0.0) {
            let due = Duration::from_secs_f64(undone as f64 / pace);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                // A stop request cuts the wait short; the loop sees it. A
                // caller that can never stop (sender gone) just waits.
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    Ok(_) = stop.wait_for(|s| *s) => {}
                }
            }
        }
    }
    for r in &plan.runs {
        let (status, summary) = if r.full {
            (
                ROLLED_BACK,
                "run rolled back: everything it did is undone".to_string(),
            )
        } else {
            (
                PARTIALLY_ROLLED_BACK,
                format!(
                    "run rolled back to event {}; the next run resumes from there",
                    plan.to.unwrap_or_default()
                ),
            )
        };
        let mut statements = vec![store::set_run_status(d, r.run_id, status, r.full)];
        if r.full {
            statements.push(store::delete_run_checkpoints(d, r.run_id));
        }
        statements.push(store::event_statement(
            d,
            &NewEvent {
                run_id: r.run_id,
                kind: kind::ROLLBACK_FINISHED,
                table: None,
                summary,
                detail: json!({
                    "rollback_id": rollback_id.to_string(),
                    "to": plan.to,
                    "status": status,
                }),
                inverse: vec![],
            },
        ));
        db.transaction(statements).await?;
    }
    // The schema the rollback leaves is a version of its own (SPEC §9).
    if let Some(r) = plan.runs.first() {
        let cause = match plan.to {
            Some(to) => format!("rolled back to event {to}"),
            None => "run rolled back".to_string(),
        };
        crate::versions::record_known(db, r.run_id, &cause).await?;
    }
    send(RollbackProgress::Finished { undone });
    Ok(undone)
}

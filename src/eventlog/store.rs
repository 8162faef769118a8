//! flightdeck's own tables in the target: runs, events, checkpoints, quarantine.
//! All carry the `flightdeck_` prefix; all SQL goes through the dialect.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{EventRecord, kind};
use crate::db::{Database, DbError, Dialect, RowSet, Statement};
use crate::schema::{ColumnDef, ColumnType, TableDef};
use crate::value::Value;

pub const RUNS: &str = "flightdeck_runs";
pub const EVENTS: &str = "flightdeck_events";
pub const CHECKPOINTS: &str = "flightdeck_checkpoints";
pub const QUARANTINE: &str = "flightdeck_quarantine";
pub const LOCKS: &str = "flightdeck_locks";

fn col(name: &str, t: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        column_type: t,
        nullable,
    }
}

pub(crate) fn create_if_missing(d: &dyn Dialect, def: &TableDef) -> String {
    d.create_table(def)
        .replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
}

/// DDL for the tool's tables; `IF NOT EXISTS`, so safe on every run.
pub fn schema_statements(d: &dyn Dialect) -> Vec<String> {
    use ColumnType::*;
    let text = |n: &str| col(n, Text, true);
    let key = |n: &str| col(n, Varchar(191), false);
    let runs = TableDef {
        name: RUNS.into(),
        columns: vec![
            key("run_id"),
            col("project", Text, false),
            col("fingerprint", Text, false),
            col("status", Varchar(32), false),
            col("started_at", Text, false),
            text("finished_at"),
            text("host"),
            col("pid", BigInt, true),
            text("fingerprint_material"),
        ],
        primary_key: vec!["run_id".into()],
    };
    let locks = TableDef {
        name: LOCKS.into(),
        columns: vec![
            key("name"),
            col("holder", Text, false),
            col("host", Text, false),
            col("pid", BigInt, false),
            col("started_at", Text, false),
        ],
        primary_key: vec!["name".into()],
    };
    let checkpoints = TableDef {
        name: CHECKPOINTS.into(),
        columns: vec![
            key("run_id"),
            key("source_table"),
            col("batch_no", BigInt, false),
            text("last_key"),
            col("rows_read", BigInt, false),
            col("rows_written", BigInt, false),
            col("rows_quarantined", BigInt, false),
            col("done", Int, false),
            col("updated_at", Text, false),
        ],
        primary_key: vec!["run_id".into(), "source_table".into()],
    };
    let events = format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {} {},\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {},\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {} NOT NULL\n)",
        d.quote_ident(EVENTS),
        d.quote_ident("id"),
        d.serial_primary_key(),
        d.quote_ident("run_id"),
        d.type_name(Varchar(64)),
        d.quote_ident("at"),
        d.type_name(Text),
        d.quote_ident("kind"),
        d.type_name(Varchar(64)),
        d.quote_ident("table_name"),
        d.type_name(Text),
        d.quote_ident("summary"),
        d.type_name(Text),
        d.quote_ident("detail"),
        d.type_name(Text),
        d.quote_ident("inverse"),
        d.type_name(Text),
    );
    let quarantine = format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {} {},\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {},\n  {} {},\n  {} {},\n  {} {} NOT NULL,\n  {} {} NOT NULL,\n  {} {} NOT NULL\n)",
        d.quote_ident(QUARANTINE),
        d.quote_ident("id"),
        d.serial_primary_key(),
        d.quote_ident("run_id"),
        d.type_name(Varchar(64)),
        d.quote_ident("source_table"),
        d.type_name(Varchar(191)),
        d.quote_ident("batch_no"),
        d.type_name(BigInt),
        d.quote_ident("source_key"),
        d.type_name(Text),
        d.quote_ident("rule"),
        d.type_name(Text),
        d.quote_ident("column_name"),
        d.type_name(Text),
        d.quote_ident("reason"),
        d.type_name(Text),
        d.quote_ident("raw_row"),
        d.type_name(Text),
        d.quote_ident("at"),
        d.type_name(Text),
    );
    let mut all = vec![
        create_if_missing(d, &runs),
        events,
        create_if_missing(d, &checkpoints),
        quarantine,
        create_if_missing(d, &locks),
        crate::versions::schema_statement(d),
    ];
    all.extend(d.store_uncompressed(EVENTS, "inverse"));
    all
}

pub async fn ensure_schema(db: &dyn Database) -> Result<(), DbError> {
    let statements = schema_statements(db.dialect())
        .into_iter()
        .map(|s| Statement::new(s, vec![]))
        .collect();
    db.transaction(statements).await?;
    // Targets written by an older build lack the column; add it in place.
    let has_material = db
        .table_info(RUNS)
        .await?
        .is_some_and(|t| t.column("fingerprint_material").is_some());
    if !has_material {
        let d = db.dialect();
        db.execute(
            &format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                d.quote_ident(RUNS),
                d.quote_ident("fingerprint_material"),
                d.type_name(ColumnType::Text)
            ),
            &[],
        )
        .await?;
    }
    ensure_index(
        db,
        QUARANTINE_BATCH,
        QUARANTINE,
        &["run_id", "source_table", "batch_no"],
    )
    .await
}

/// The index by which undoing a batch deletes its quarantined rows: without
/// it each undo step scans the whole quarantine (rolling back a run of a
/// million `models` rows took 12.3 s without it, 3.3 s with it).
pub const QUARANTINE_BATCH: &str = "flightdeck_quarantine_batch";

/// Creates an index unless the table has one of that name. Two processes
/// starting at once may both try: the loser finds it made by the winner.
async fn ensure_index(
    db: &dyn Database,
    name: &str,
    table: &str,
    columns: &[&str],
) -> Result<(), DbError> {
    let d = db.dialect();
    let exists = || async {
        let params = [Value::from(table), Value::from(name)];
        let rows = db.query(d.index_exists_sql(), &params).await?;
        Ok::<bool, DbError>(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) > 0)
    };
    if exists().await? {
        return Ok(());
    }
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let sql = format!(
        "CREATE INDEX {} ON {} ({})",
        d.quote_ident(name),
        d.quote_ident(table),
        d.ident_list(&columns)
    );
    match db.execute(&sql, &[]).await {
        Err(_) if exists().await? => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Placeholders `p(1), p(2), …` joined by commas.
fn placeholders(d: &dyn Dialect, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| d.placeholder(i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event to append, inside the same transaction as what it records.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub run_id: Uuid,
    pub kind: &'a str,
    pub table: Option<&'a str>,
    pub summary: String,
    pub detail: serde_json::Value,
    pub inverse: Vec<String>,
}

pub fn event_statement(d: &dyn Dialect, e: &NewEvent<'_>) -> Statement {
    let cols = [
        "run_id",
        "at",
        "kind",
        "table_name",
        "summary",
        "detail",
        "inverse",
    ];
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        d.quote_ident(EVENTS),
        cols.iter()
            .map(|c| d.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", "),
        placeholders(d, 1, cols.len())
    );
    Statement::new(
        sql,
        vec![
            Value::Text(e.run_id.to_string()),
            Value::Text(now_text()),
            Value::Text(e.kind.to_string()),
            e.table.map(str::to_string).into(),
            Value::Text(e.summary.clone()),
            Value::Text(e.detail.to_string()),
            Value::Text(json!(e.inverse).to_string()),
        ],
    )
}

/// Inverses longer than this are not read for a listing: a batch's is a
/// DELETE by key, 80 KB for 2,000 UUIDs, and a listing of 2,000 events of a
/// million-row run would otherwise read 175 MB each time the cockpit's event
/// log refreshes.
pub const LISTED_INVERSE_MAX: usize = 4096;

/// The event columns; with `inverse_max`, an inverse longer than that is
/// read as empty and its length comes in a ninth column.
fn event_columns(d: &dyn Dialect, inverse_max: Option<usize>) -> String {
    let q = |c: &str| d.quote_ident(c);
    let mut cols: Vec<String> = [
        "id",
        "run_id",
        "at",
        "kind",
        "table_name",
        "summary",
        "detail",
    ]
    .iter()
    .map(|c| q(c))
    .collect();
    let inverse = q("inverse");
    match inverse_max {
        None => cols.push(inverse),
        Some(max) => {
            cols.push(format!(
                "CASE WHEN LENGTH({inverse}) > {max} THEN '' ELSE {inverse} END"
            ));
            cols.push(format!("LENGTH({inverse})"));
        }
    }
    cols.join(", ")
}

fn event_from_row(r: &[Value]) -> EventRecord {
    let text = |i: usize| r[i].as_text().map(|s| s.into_owned()).unwrap_or_default();
    let inverse = text(7);
    let inverse_elided = if inverse.is_empty() {
        r.get(8).and_then(|v| v.as_i64()).unwrap_or(0).max(0) as usize
    } else {
        0
    };
    EventRecord {
        id: r[0].as_i64().unwrap_or_default(),
        run_id: Uuid::parse_str(&text(1)).unwrap_or_default(),
        at: DateTime::parse_from_rfc3339(&text(2))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        kind: text(3),
        table: r[4].as_text().map(|s| s.into_owned()),
        summary: text(5),
        detail: serde_json::from_str(&text(6)).unwrap_or_default(),
        inverse: decode_inverse(&inverse).unwrap_or_default(),
        inverse_elided,
    }
}

/// Events newest first, each with its whole inverse; `run` narrows to one run.
pub async fn read_events(
    db: &dyn Database,
    run: Option<Uuid>,
    limit: usize,
) -> Result<Vec<EventRecord>, DbError> {
    select_events(db, run, limit, None).await
}

/// Events newest first for a list: inverses over [`LISTED_INVERSE_MAX`]
/// bytes are left unread (`inverse_elided` says how long they are).
pub async fn list_events(db: &dyn Database, limit: usize) -> Result<Vec<EventRecord>, DbError> {
    select_events(db, None, limit, Some(LISTED_INVERSE_MAX)).await
}

/// Every event of one run, oldest first, for planning a rollback: inverses
/// over [`LISTED_INVERSE_MAX`] bytes (a batch's DELETE by key) are left
/// unread, so planning a long run holds its events, not its 175 MB of keys;
/// [`read_inverse`] reads one when its step runs.
pub async fn list_run_events(db: &dyn Database, run_id: Uuid) -> Result<Vec<EventRecord>, DbError> {
    let mut events =
        select_events(db, Some(run_id), usize::MAX >> 1, Some(LISTED_INVERSE_MAX)).await?;
    events.reverse();
    Ok(events)
}

/// The whole inverse of one event (empty when there is no such event).
pub async fn read_inverse(db: &dyn Database, event_id: i64) -> Result<Vec<String>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = {}",
        q("inverse"),
        q(EVENTS),
        q("id"),
        d.placeholder(1)
    );
    let rows = db.query(&sql, &[Value::Int(event_id)]).await?;
    Ok(rows
        .first()
        .and_then(|r| r[0].as_text().map(|t| decode_inverse(&t)))
        .transpose()
        .map_err(|e| {
            DbError::Unsupported(format!(
                "the inverse of event {event_id} is not a list of statements ({e}); nothing of its step was undone"
            ))
        })?
        .unwrap_or_default())
}

async fn select_events(
    db: &dyn Database,
    run: Option<Uuid>,
    limit: usize,
    inverse_max: Option<usize>,
) -> Result<Vec<EventRecord>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let filter = if run.is_some() {
        format!(" WHERE {} = {}", q("run_id"), d.placeholder(1))
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} DESC LIMIT {}",
        event_columns(d, inverse_max),
        q(EVENTS),
        q("id"),
        limit
    );
    let params: Vec<Value> = run
        .map(|r| Value::Text(r.to_string()))
        .into_iter()
        .collect();
    let rows = db.query(&sql, &params).await?;
    Ok(rows.iter().map(|r| event_from_row(r)).collect())
}

/// The events of one run of the given kinds, oldest first (a run's batch
/// events can be many and large; this reads only what is asked for).
pub async fn read_run_events_of(
    db: &dyn Database,
    run_id: Uuid,
    kinds: &[&str],
) -> Result<Vec<EventRecord>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = {} AND {} IN ({}) ORDER BY {}",
        event_columns(d, None),
        q(EVENTS),
        q("run_id"),
        d.placeholder(1),
        q("kind"),
        placeholders(d, 2, kinds.len()),
        q("id")
    );
    let mut params = vec![Value::Text(run_id.to_string())];
    params.extend(kinds.iter().map(|k| Value::from(*k)));
    let rows = db.query(&sql, &params).await?;
    Ok(rows.iter().map(|r| event_from_row(r)).collect())
}

/// The events of every run of the given kinds, oldest first.
pub async fn read_events_of(
    db: &dyn Database,
    kinds: &[&str],
) -> Result<Vec<EventRecord>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {} FROM {} WHERE {} IN ({}) ORDER BY {}",
        event_columns(d, None),
        q(EVENTS),
        q("kind"),
        placeholders(d, 1, kinds.len()),
        q("id")
    );
    let params: Vec<Value> = kinds.iter().map(|k| Value::from(*k)).collect();
    let rows = db.query(&sql, &params).await?;
    Ok(rows.iter().map(|r| event_from_row(r)).collect())
}

/// A run as recorded in `flightdeck_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: Uuid,
    pub project: String,
    pub fingerprint: String,
    pub status: String,
    pub started_at: String,
    /// The normalized project material the fingerprint hashes (JSON), so a
    /// refused resume can say what changed; `None` for runs of older builds.
    pub fingerprint_material: Option<String>,
}

fn run_columns(d: &dyn Dialect) -> String {
    [
        "run_id",
        "project",
        "fingerprint",
        "status",
        "started_at",
        "fingerprint_material",
    ]
    .iter()
    .map(|c| d.quote_ident(c))
    .collect::<Vec<_>>()
    .join(", ")
}

fn run_from_row(r: &[Value]) -> RunRecord {
    let text = |i: usize| r[i].as_text().map(|s| s.into_owned()).unwrap_or_default();
    RunRecord {
        run_id: Uuid::parse_str(&text(0)).unwrap_or_default(),
        project: text(1),
        fingerprint: text(2),
        status: text(3),
        started_at: text(4),
        fingerprint_material: r[5].as_text().map(|s| s.into_owned()),
    }
}

/// Every run recorded in the target, oldest first.
pub async fn list_runs(db: &dyn Database) -> Result<Vec<RunRecord>, DbError> {
    let d = db.dialect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        run_columns(d),
        d.quote_ident(RUNS),
        d.quote_ident("started_at")
    );
    Ok(db
        .query(&sql, &[])
        .await?
        .iter()
        .map(|r| run_from_row(r))
        .collect())
}

pub async fn latest_run(db: &dyn Database, project: &str) -> Result<Option<RunRecord>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = {} ORDER BY {} DESC LIMIT 1",
        run_columns(d),
        q(RUNS),
        q("project"),
        d.placeholder(1),
        q("started_at"),
    );
    let rows = db.query(&sql, &[Value::Text(project.into())]).await?;
    Ok(rows.first().map(|r| run_from_row(r)))
}

/// Whether run `run_id` created `table` (an attempt interrupted earlier counts).
pub async fn created_in_run(db: &dyn Database, run_id: Uuid, table: &str) -> Result<bool, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {} = {} AND {} = {} AND {} = {}",
        q(EVENTS),
        q("run_id"),
        d.placeholder(1),
        q("kind"),
        d.placeholder(2),
        q("table_name"),
        d.placeholder(3),
    );
    let params = [
        Value::Text(run_id.to_string()),
        Value::from(kind::TABLE_CREATED),
        Value::Text(table.into()),
    ];
    let rows = db.query(&sql, &params).await?;
    Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) > 0)
}

pub fn insert_run(d: &dyn Dialect, run: &RunRecord) -> Statement {
    let cols = [
        "run_id",
        "project",
        "fingerprint",
        "status",
        "started_at",
        "host",
        "pid",
        "fingerprint_material",
    ];
    Statement::new(
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            d.quote_ident(RUNS),
            cols.iter()
                .map(|c| d.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            placeholders(d, 1, cols.len())
        ),
        vec![
            Value::Text(run.run_id.to_string()),
            Value::Text(run.project.clone()),
            Value::Text(run.fingerprint.clone()),
            Value::Text(run.status.clone()),
            Value::Text(run.started_at.clone()),
            Value::Text(hostname()),
            Value::Int(std::process::id() as i64),
            run.fingerprint_material.clone().into(),
        ],
    )
}

pub fn set_run_status(d: &dyn Dialect, run_id: Uuid, status: &str, finished: bool) -> Statement {
    let q = |c: &str| d.quote_ident(c);
    let finished_at: Value = if finished {
        Value::Text(now_text())
    } else {
        Value::Null
    };
    Statement::new(
        format!(
            "UPDATE {} SET {} = {}, {} = {}, {} = {} WHERE {} = {}",
            q(RUNS),
            q("status"),
            d.placeholder(1),
            q("finished_at"),
            d.placeholder(2),
            q("pid"),
            d.placeholder(3),
            q("run_id"),
            d.placeholder(4)
        ),
        vec![
            Value::Text(status.into()),
            finished_at,
            Value::Int(std::process::id() as i64),
            Value::Text(run_id.to_string()),
        ],
    )
}

/// This machine's name, as recorded with runs and locks.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Where a table's extraction stands, committed with each batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub batch_no: i64,
    /// JSON of the last source key committed.
    pub last_key: Option<serde_json::Value>,
    pub read: u64,
    pub written: u64,
    pub quarantined: u64,
    pub done: bool,
}

pub async fn read_checkpoints(
    db: &dyn Database,
    run_id: Uuid,
) -> Result<std::collections::HashMap<String, Checkpoint>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {} FROM {} WHERE {} = {}",
        q("source_table"),
        q("batch_no"),
        q("last_key"),
        q("rows_read"),
        q("rows_written"),
        q("rows_quarantined"),
        q("done"),
        q(CHECKPOINTS),
        q("run_id"),
        d.placeholder(1)
    );
    let rows = db.query(&sql, &[Value::Text(run_id.to_string())]).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = |i: usize| r[i].as_i64().unwrap_or(0);
            (
                r[0].as_text().map(|s| s.into_owned()).unwrap_or_default(),
                Checkpoint {
                    batch_no: n(1),
                    last_key: r[2].as_text().and_then(|s| serde_json::from_str(&s).ok()),
                    read: n(3) as u64,
                    written: n(4) as u64,
                    quarantined: n(5) as u64,
                    done: n(6) != 0,
                },
            )
        })
        .collect())
}

/// Replaces the table's checkpoint (delete + insert: portable, and inside the
/// batch's transaction).
pub fn checkpoint_statements(
    d: &dyn Dialect,
    run_id: Uuid,
    source_table: &str,
    cp: &Checkpoint,
) -> [Statement; 2] {
    let q = |c: &str| d.quote_ident(c);
    let del = Statement::new(
        format!(
            "DELETE FROM {} WHERE {} = {} AND {} = {}",
            q(CHECKPOINTS),
            q("run_id"),
            d.placeholder(1),
            q("source_table"),
            d.placeholder(2)
        ),
        vec![
            Value::Text(run_id.to_string()),
            Value::Text(source_table.into()),
        ],
    );
    let cols = [
        "run_id",
        "source_table",
        "batch_no",
        "last_key",
        "rows_read",
        "rows_written",
        "rows_quarantined",
        "done",
        "updated_at",
    ];
    let ins = Statement::new(
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            q(CHECKPOINTS),
            cols.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "),
            placeholders(d, 1, cols.len())
        ),
        vec![
            Value::Text(run_id.to_string()),
            Value::Text(source_table.into()),
            Value::Int(cp.batch_no),
            cp.last_key.as_ref().map(|k| k.to_string()).into(),
            Value::Int(cp.read as i64),
            Value::Int(cp.written as i64),
            Value::Int(cp.quarantined as i64),
            Value::Int(cp.done as i64),
            Value::Text(now_text()),
        ],
    );
    [del, ins]
}

/// Removes a table's checkpoint (its first batch was undone).
pub fn delete_checkpoint(d: &dyn Dialect, run_id: Uuid, source_table: &str) -> Statement {
    let [del, _] = checkpoint_statements(d, run_id, source_table, &Checkpoint::default());
    del
}

/// Removes every checkpoint of a run (the run was rolled back entirely).
pub fn delete_run_checkpoints(d: &dyn Dialect, run_id: Uuid) -> Statement {
    Statement::new(
        format!(
            "DELETE FROM {} WHERE {} = {}",
            d.quote_ident(CHECKPOINTS),
            d.quote_ident("run_id"),
            d.placeholder(1)
        ),
        vec![Value::Text(run_id.to_string())],
    )
}

/// A row that could not be migrated, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedRow {
    pub source_key: String,
    pub rule: String,
    pub column: String,
    pub reason: String,
    /// The source row as JSON (column → value).
    pub raw_row: serde_json::Value,
}

/// A batch's quarantined rows as rows of [`QUARANTINE`], written with the
/// batch (see [`crate::db::BatchWrite`]).
pub fn quarantine_rows(
    run_id: Uuid,
    source_table: &str,
    batch_no: i64,
    rows: &[QuarantinedRow],
) -> Option<RowSet> {
    if rows.is_empty() {
        return None;
    }
    let columns = [
        "run_id",
        "source_table",
        "batch_no",
        "source_key",
        "rule",
        "column_name",
        "reason",
        "raw_row",
        "at",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let at = now_text();
    let run_id = run_id.to_string();
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                Value::Text(run_id.clone()),
                Value::Text(source_table.into()),
                Value::Int(batch_no),
                Value::Text(r.source_key.clone()),
                Value::Text(r.rule.clone()),
                Value::Text(r.column.clone()),
                Value::Text(r.reason.clone()),
                Value::Text(r.raw_row.to_string()),
                Value::Text(at.clone()),
            ]
        })
        .collect();
    Some(RowSet {
        table: QUARANTINE.to_string(),
        columns,
        rows,
    })
}

/// Starts an inverse statement stored packed (see [`delete_by_keys`]); no SQL
/// starts with it.
const PACKED: char = '\u{1}';

/// `DELETE FROM table WHERE column IN (keys…)`: the inverse of a batch, as
/// the event log stores it. When every key is a UUID the list is packed, 16
/// bytes a key in base64, about 22 characters a key instead of the 40 of its
/// literals (the inverses were the run's largest write after the rows
/// themselves: 175 MB for the 1M-`models` sample); it reads back as the same
/// DELETE. Other keys are written as literals.
pub fn delete_by_keys<'v, I>(d: &dyn Dialect, table: &str, column: &str, keys: I) -> String
where
    I: ExactSizeIterator<Item = &'v Value> + Clone,
{
    use base64::Engine;
    let head = format!(
        "DELETE FROM {} WHERE {} IN (",
        d.quote_ident(table),
        d.quote_ident(column)
    );
    if keys.clone().all(|k| matches!(k, Value::Uuid(_))) {
        let mut bytes = Vec::with_capacity(keys.len() * 16);
        for k in keys {
            if let Value::Uuid(u) = k {
                bytes.extend_from_slice(u.as_bytes());
            }
        }
        let mut packed = String::with_capacity(head.len() + 2 + bytes.len().div_ceil(3) * 4);
        packed.push(PACKED);
        packed.push_str(&head);
        packed.push(PACKED);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(&bytes, &mut packed);
        return packed;
    }
    let mut sql = head;
    push_key_list(&mut sql, keys);
    sql
}

/// Appends `k1, k2, …)` as literals: the end of a DELETE by key.
fn push_key_list<K: std::borrow::Borrow<Value>>(
    sql: &mut String,
    keys: impl ExactSizeIterator<Item = K>,
) {
    // A UUID key is 40 bytes as a literal with its separator.
    sql.reserve(keys.len() * 40 + 1);
    for (i, k) in keys.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_literal(sql, k.borrow());
    }
    sql.push(')');
}

/// The statement an inverse entry stands for: itself, or the DELETE a
/// packed one ([`delete_by_keys`]) was made from.
fn unpack(entry: String) -> Result<String, String> {
    use base64::Engine;
    let Some(rest) = entry.strip_prefix(PACKED) else {
        return Ok(entry);
    };
    let (head, packed) = rest
        .split_once(PACKED)
        .ok_or("a packed key list without its end mark")?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(packed)
        .map_err(|e| format!("a packed key list that is not base64 ({e})"))?;
    if bytes.is_empty() || bytes.len() % 16 != 0 {
        return Err(format!(
            "a packed key list of {} bytes, not whole UUIDs",
            bytes.len()
        ));
    }
    let mut sql = head.to_string();
    push_key_list(
        &mut sql,
        bytes.chunks_exact(16).map(|key| {
            let mut raw = [0u8; 16];
            raw.copy_from_slice(key);
            Value::Uuid(Uuid::from_bytes(raw))
        }),
    );
    Ok(sql)
}

/// An event's inverse as stored (a JSON list) to the statements it runs.
fn decode_inverse(stored: &str) -> Result<Vec<String>, String> {
    let entries: Vec<String> = serde_json::from_str(stored).map_err(|e| e.to_string())?;
    entries.into_iter().map(unpack).collect()
}

/// SQL literal for an inverse statement stored as text.
pub fn literal(v: &Value) -> String {
    let mut out = String::new();
    push_literal(&mut out, v);
    out
}

/// Appends `literal(v)` to `out`; an inverse lists every key of its batch.
pub fn push_literal(out: &mut String, v: &Value) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = match v {
        Value::Null => write!(out, "NULL"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(f) => write!(out, "{f}"),
        Value::Bool(b) => write!(out, "{}", *b as i64),
        Value::Uuid(u) => write!(out, "'{u}'"),
        Value::Text(s) => {
            out.push('\'');
            for (i, part) in s.split('\'').enumerate() {
                if i > 0 {
                    out.push_str("''");
                }
                out.push_str(part);
            }
            write!(out, "'")
        }
        other => write!(out, "'{}'", other.render().replace('\'', "''")),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite target with flightdeck's tables, in a directory of its own.
    async fn scratch_log() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DbUrl::parse(
            &format!("sqlite://{}", dir.path().join("t.db").display()),
            std::path::Path::new("/"),
        )
        .unwrap();
        let db = crate::db::connect(&url, true).await.unwrap();
        ensure_schema(db.as_ref()).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_listing_leaves_long_inverses_unread_and_says_how_long() {
        let (_dir, db) = scratch_log().await;
        let d = db.dialect();
        let keys: Vec<String> = (0..400)
            .map(|i| format!("'{}'", Uuid::from_u128(i)))
            .collect();
        let long = vec![format!(
            "DELETE FROM \"t\" WHERE \"k\" IN ({})",
            keys.join(", ")
        )];
        let short = vec!["DROP TABLE \"t\"".to_string()];
        let run_id = Uuid::from_u128(7);
        let event = |kind, inverse: &[String]| NewEvent {
            run_id,
            kind,
            table: Some("t"),
            summary: String::new(),
            detail: serde_json::json!({}),
            inverse: inverse.to_vec(),
        };
        db.transaction(vec![
            event_statement(d, &event(crate::eventlog::kind::TABLE_CREATED, &short)),
            event_statement(d, &event(crate::eventlog::kind::BATCH_COMMITTED, &long)),
            event_statement(d, &event(crate::eventlog::kind::RUN_FINISHED, &[])),
        ])
        .await
        .unwrap();
        let stored = serde_json::to_string(&long).unwrap().len();
        assert!(stored > LISTED_INVERSE_MAX);

        let listed = list_events(db.as_ref(), 10).await.unwrap();
        let kinds: Vec<&str> = listed.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["run_finished", "batch_committed", "table_created"]);
        assert!(!listed[0].has_inverse());
        assert!(listed[1].inverse.is_empty());
        assert_eq!(listed[1].inverse_elided, stored);
        assert!(listed[1].has_inverse());
        assert_eq!(listed[2].inverse, short);
        assert_eq!(listed[2].inverse_elided, 0);

        let full = read_events(db.as_ref(), None, 10).await.unwrap();
        assert_eq!(full[1].inverse, long);
        assert_eq!(full[1].inverse_elided, 0);
        // `log --json` prints events whole, without the listing's field.
        assert!(
            !serde_json::to_string(&full[1])
                .unwrap()
                .contains("inverse_elided")
        );
    }

    /// The DELETE of a key list written literal by literal, as before packing.
    fn plain_delete(keys: &[Value]) -> String {
        let mut sql = "DELETE FROM \"t\" WHERE \"k\" IN (".to_string();
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&literal(k));
        }
        sql + ")"
    }

    #[tokio::test]
    async fn a_batch_of_uuid_keys_is_stored_packed_and_reads_back_as_its_delete() {
        let (_dir, db) = scratch_log().await;
        let d = db.dialect();
        let uuids: Vec<Value> = (0..2000u128)
            .map(|i| Value::Uuid(Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c))))
            .collect();
        let mixed = vec![Value::Int(7), Value::Text("O'Brien".into()), Value::Int(-1)];
        let packed = delete_by_keys(d, "t", "k", uuids.iter());
        let literal_sql = delete_by_keys(d, "t", "k", mixed.iter());
        assert!(packed.starts_with(PACKED), "{}", &packed[..60]);
        assert_eq!(literal_sql, plain_delete(&mixed));
        let one_key = delete_by_keys(d, "t", "k", uuids[..1].iter());

        let run_id = Uuid::from_u128(9);
        let event = |inverse: Vec<String>| NewEvent {
            run_id,
            kind: crate::eventlog::kind::BATCH_COMMITTED,
            table: Some("t"),
            summary: String::new(),
            detail: serde_json::json!({}),
            inverse,
        };
        let quarantine = "DELETE FROM \"flightdeck_quarantine\" WHERE \"batch_no\" = 1".to_string();
        db.transaction(vec![
            event_statement(d, &event(vec![packed, quarantine.clone()])),
            event_statement(d, &event(vec![literal_sql.clone()])),
            event_statement(d, &event(vec![one_key])),
        ])
        .await
        .unwrap();

        let full = read_events(db.as_ref(), None, 10).await.unwrap();
        let ids: Vec<i64> = full.iter().rev().map(|e| e.id).collect();
        let plain = plain_delete(&uuids);
        assert_eq!(full[2].inverse, vec![plain.clone(), quarantine.clone()]);
        assert_eq!(full[1].inverse, vec![literal_sql]);
        // Short enough to be listed whole, and unpacked there too.
        assert_eq!(full[0].inverse, vec![plain_delete(&uuids[..1])]);
        let listed = list_events(db.as_ref(), 10).await.unwrap();
        assert_eq!(listed[0].inverse, full[0].inverse);
        assert_eq!(
            read_inverse(db.as_ref(), ids[0]).await.unwrap(),
            vec![plain.clone(), quarantine]
        );
        // What the log holds for 2,000 keys: about 22 bytes a key, not 40.
        let stored = listed[2].inverse_elided;
        assert!(
            stored * 10 < plain.len() * 6,
            "{stored} bytes stored for a {}-byte DELETE",
            plain.len()
        );
    }

    #[test]
    fn a_damaged_packed_key_list_is_an_error_not_a_statement() {
        let head = "DELETE FROM \"t\" WHERE \"k\" IN (";
        for bad in [
            format!("{PACKED}{head}"),
            format!("{PACKED}{head}{PACKED}not base64!"),
            format!("{PACKED}{head}{PACKED}AAAA"),
            format!("{PACKED}{head}{PACKED}"),
        ] {
            let stored = serde_json::to_string(&vec![bad.clone()]).unwrap();
            assert!(decode_inverse(&stored).is_err(), "{bad:?}");
        }
        let fine = serde_json::to_string(&vec!["DROP TABLE \"t\""]).unwrap();
        assert_eq!(decode_inverse(&fine).unwrap(), vec!["DROP TABLE \"t\""]);
    }

    #[test]
    fn literals_quote_text_and_keep_numbers_bare() {
        let u = uuid::Uuid::from_u128(0x1234);
        let cases = [
            (Value::Null, "NULL".to_string()),
            (Value::Int(-42), "-42".into()),
            (Value::Bool(true), "1".into()),
            (Value::Float(0.5), "0.5".into()),
            (Value::Uuid(u), format!("'{u}'")),
            (Value::Text("O'Brien's".into()), "'O''Brien''s'".into()),
            (Value::Text("'".into()), "''''".into()),
            (Value::Text(String::new()), "''".into()),
            (
                Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
                "'2026-01-02'".into(),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(literal(&v), want, "{v:?}");
        }
        let mut list = String::from("(");
        push_literal(&mut list, &Value::Int(1));
        list.push_str(", ");
        push_literal(&mut list, &Value::Text("a'b".into()));
        assert_eq!(list, "(1, 'a''b'");
    }
}

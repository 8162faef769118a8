//! The evolution engine: accepted recommendations, checked against
//! `[evolution]`, ordered, applied to the target between batches with their
//! inverse in the event log, and re-checked on every row loaded afterwards.
//!
//! A change whose statements can share a transaction commits together with
//! its `ddl_applied` event. One that cannot (PostgreSQL's concurrent index
//! builds, every MySQL DDL statement) is bracketed instead: a `ddl_intent`
//! event first, each statement on its own, then `ddl_applied` or
//! `ddl_failed`. After a crash in between, the catalog says whether the
//! change took effect (`resume` here, `rollback::plan` there).
//!
//! No statement waits longer than `[evolution] lock_budget_ms` for a lock
//! (PostgreSQL's `lock_timeout`; MySQL's `lock_wait_timeout`, rounded up to
//! whole seconds): one queued behind a long transaction would
//! hold up every session that comes after it. A change that gives up ends as
//! `ddl_failed`, with what it left removed, and the run goes on.

pub mod after;
mod live;
mod mysql;
mod postgres;
mod sqlite;
#[cfg(test)]
mod tests;

pub use live::LiveEvolution;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::db::{Backend, Database, DbError, Dialect, Statement};
use crate::eventlog::store::{self, NewEvent};
use crate::eventlog::{EventRecord, dangling_intents, in_place, kind};
use crate::project::model::EvolutionSection;
use crate::recommend::{
    Change, Recommendation, RecommendationBook, RecommendationKind, RecommendationState,
};
use crate::schema::{ColumnDef, ColumnType, TableDef};
use crate::value::{Row, Value};

/// A target table as it is now: columns, and the indexes and triggers that a
/// rebuild must re-create.
#[derive(Debug, Clone)]
pub struct LiveTable {
    pub def: TableDef,
    /// `CREATE INDEX` / `CREATE TRIGGER` statements of the table, from the catalog.
    pub dependents: Vec<String>,
    /// Column name → type as the catalog spells it (`character varying(255)`),
    /// so an inverse restores exactly what was there.
    pub native_types: HashMap<String, String>,
    /// Column name → what else the catalog says of it, where a change must
    /// restate it (MySQL); empty elsewhere.
    pub attributes: HashMap<String, ColumnAttributes>,
    /// The columns the table is partitioned by (PostgreSQL); empty if it is not.
    pub partitioned_by: Vec<String>,
}

/// A column as the catalog describes it beyond its type and nullability:
/// what a statement that restates the whole column (MySQL's `MODIFY
/// COLUMN`) must repeat, or the column loses it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnAttributes {
    /// `COLUMN_DEFAULT` as the server reports it; `None`: no default.
    pub default: Option<String>,
    /// Whether `default` is SQL text (MariaDB 10.2.7+: `'it''s'`, `NULL`,
    /// `current_timestamp()`) rather than the bare value (MySQL).
    pub default_is_sql: bool,
    pub charset: Option<String>,
    pub collation: Option<String>,
    /// Empty when the column has none.
    pub comment: String,
    /// `EXTRA`: `auto_increment`, `on update ...`, `DEFAULT_GENERATED`, `INVISIBLE`, ...
    pub extra: String,
    /// `GENERATION_EXPRESSION`; empty unless the column is generated.
    pub generation: String,
}

impl LiveTable {
    pub fn column(&self, name: &str) -> Result<&ColumnDef, String> {
        self.def
            .columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("{} has no column {name}", self.def.name))
    }

    /// The column's type as the catalog spells it, else as the dialect would.
    pub fn sql_type(&self, d: &dyn Dialect, c: &ColumnDef) -> String {
        self.native_types
            .get(&c.name)
            .cloned()
            .unwrap_or_else(|| d.type_name(c.column_type))
    }
}

/// The statements of one change.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// A query counting existing rows that would violate the change.
    pub verify: Option<String>,
    pub forward: Vec<String>,
    pub inverse: Vec<String>,
    /// `None`: the forward statements and their event commit in one
    /// transaction. `Some`: they cannot share one, and run one by one
    /// between an intent and a completion event.
    pub online: Option<Online>,
}

/// How a change that runs outside a transaction is checked and recovered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Online {
    /// A catalog query whose first value is above 0 when the change is in place.
    pub probe: String,
    /// Idempotent statements removing what a failed or interrupted attempt
    /// left behind (an invalid index, a helper constraint); never the change
    /// itself once it is in place.
    pub cleanup: Vec<String>,
    /// Weaker forms of forward statement `i`, tried in order while the server
    /// refuses the one before as unsupported (SQLSTATE 0A000).
    pub fallbacks: Vec<Vec<String>>,
    /// A catalog query whose first value is above 0 when there is something
    /// for `cleanup` to remove, so that nothing takes a lock for nothing;
    /// `None`: the clean-up always runs.
    pub leftover: Option<String>,
}

/// The DDL of each change for one database (the online forms where one exists).
pub trait OnlineDdl: Send + Sync {
    /// Catalog query for a table's index and trigger DDL; `?1`/`$1` is the table.
    fn dependents_query(&self) -> &'static str;
    /// Catalog query for the [`ColumnAttributes`] of a table's columns, one
    /// row each: name, default, default is SQL (0/1), character set,
    /// collation, comment, extra, generation expression. `None` where no
    /// change restates a whole column.
    fn attributes_query(&self) -> Option<&'static str> {
        None
    }
    fn plan(
        &self,
        d: &dyn Dialect,
        live: &LiveTable,
        column: &str,
        change: &Change,
    ) -> Result<Plan, String>;
}

/// The change DDL of a backend.
pub fn online_ddl(backend: Backend) -> &'static dyn OnlineDdl {
    match backend {
        Backend::Sqlite => &sqlite::SqliteDdl,
        Backend::Postgres => &postgres::PostgresDdl,
        Backend::MySql => &mysql::MySqlDdl,
    }
}

pub async fn live_table(
    db: &dyn Database,
    ddl: &dyn OnlineDdl,
    table: &str,
) -> Result<Option<LiveTable>, DbError> {
    let Some(info) = db.table_info(table).await? else {
        return Ok(None);
    };
    let def = TableDef {
        name: table.into(),
        primary_key: info.primary_key(),
        columns: info
            .columns
            .iter()
            .map(|c| ColumnDef {
                name: c.name.clone(),
                column_type: c.column_type,
                nullable: c.nullable && !c.primary_key,
            })
            .collect(),
    };
    let dependents = db
        .query(ddl.dependents_query(), &[Value::Text(table.into())])
        .await?
        .into_iter()
        .filter_map(|r| r[0].as_text().map(|s| s.into_owned()))
        .collect();
    let native_types = info
        .columns
        .into_iter()
        .map(|c| (c.name, c.native_type))
        .collect();
    let mut attributes = HashMap::new();
    if let Some(sql) = ddl.attributes_query() {
        let text = |v: &Value| v.as_text().map(|s| s.into_owned());
        for r in db.query(sql, &[Value::Text(table.into())]).await? {
            let Some(name) = text(&r[0]) else { continue };
            attributes.insert(
                name,
                ColumnAttributes {
                    default: text(&r[1]),
                    default_is_sql: r[2].as_i64().is_some_and(|n| n != 0),
                    charset: text(&r[3]),
                    collation: text(&r[4]),
                    comment: text(&r[5]).unwrap_or_default(),
                    extra: text(&r[6]).unwrap_or_default(),
                    generation: text(&r[7]).unwrap_or_default(),
                },
            );
        }
    }
    let partitioned_by = db.partition_columns(table).await?;
    Ok(Some(LiveTable {
        def,
        dependents,
        native_types,
        attributes,
        partitioned_by,
    }))
}

/// Fills each recommendation's forward and inverse DDL from the declared table.
pub fn fill_ddl(recs: &mut [Recommendation], d: &dyn Dialect, def: &TableDef) {
    let ddl = online_ddl(d.backend());
    let live = LiveTable {
        def: def.clone(),
        dependents: Vec::new(),
        native_types: HashMap::new(),
        attributes: HashMap::new(),
        partitioned_by: Vec::new(),
    };
    for r in recs
        .iter_mut()
        .filter(|r| r.state != RecommendationState::Applied)
    {
        match ddl.plan(d, &live, &r.column, &r.change) {
            Ok(p) => {
                r.forward = p.forward;
                r.inverse = p.inverse;
            }
            Err(e) => r.note = Some(e),
        }
    }
}

/// `'a', 'b'`: the values of a CHECK as SQL literals.
fn in_list(d: &dyn Dialect, values: &[String]) -> String {
    values
        .iter()
        .map(|v| d.string_literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Name of an object flightdeck adds for a change, `fd_{tag}_{table}_{column}`,
/// within the 63 bytes PostgreSQL keeps of a name (MySQL: 64 characters); a
/// longer one is cut and ends in a hash of the whole, so names stay distinct.
fn object_name(tag: &str, table: &str, column: &str) -> String {
    let full = format!("fd_{tag}_{table}_{column}");
    if full.len() <= 63 {
        return full;
    }
    // FNV-1a: stable across builds, unlike the standard library's hasher.
    let hash = full.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 54;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{:08x}", &full[..cut], hash as u32)
}

/// A query counting the rows of `table` that break `change`; `length` is the
/// dialect's function for a string's length in characters.
fn verify_query(
    d: &dyn Dialect,
    table: &str,
    column: &str,
    change: &Change,
    length: &str,
) -> Option<String> {
    let (qt, qc) = (d.quote_ident(table), d.quote_ident(column));
    let cond = match change {
        Change::NotNull => format!("{qc} IS NULL"),
        Change::Check { values } => {
            format!("{qc} IS NOT NULL AND {qc} NOT IN ({})", in_list(d, values))
        }
        Change::NarrowType { to, .. } => misfit(&qc, to.parse().ok()?, length)?,
        Change::Unique => {
            return Some(format!(
                "SELECT COUNT(*) FROM (SELECT {qc} FROM {qt} WHERE {qc} IS NOT NULL GROUP BY {qc} HAVING COUNT(*) > 1) AS fd_dups"
            ));
        }
        Change::Index | Change::Partition { .. } | Change::EnumTable { .. } => return None,
    };
    Some(format!("SELECT COUNT(*) FROM {qt} WHERE {cond}"))
}

/// A condition true when `col` does not fit `t`.
fn misfit(col: &str, t: ColumnType, length: &str) -> Option<String> {
    let range =
        |lo: i64, hi: i64| format!("({col} IS NOT NULL AND ({col} < {lo} OR {col} > {hi}))");
    Some(match t {
        ColumnType::Varchar(n) => format!("({col} IS NOT NULL AND {length}({col}) > {n})"),
        ColumnType::SmallInt => range(i16::MIN as i64, i16::MAX as i64),
        ColumnType::Int => range(i32::MIN as i64, i32::MAX as i64),
        _ => return None,
    })
}

/// The lookup table of an enum: one key column, `value`, as wide as the
/// longest of `values`.
fn lookup_table_def(lookup_table: &str, values: &[String]) -> TableDef {
    let width = values.iter().map(|v| v.chars().count()).max().unwrap_or(1) as u32;
    TableDef {
        name: lookup_table.into(),
        columns: vec![ColumnDef {
            name: "value".into(),
            column_type: ColumnType::Varchar(width.max(1)),
            nullable: false,
        }],
        primary_key: vec!["value".into()],
    }
}

/// A lookup table holding `values`: created and filled in one transaction.
fn lookup_table_plan(d: &dyn Dialect, lookup_table: &str, values: &[String]) -> Plan {
    let def = lookup_table_def(lookup_table, values);
    let rows: Vec<String> = values
        .iter()
        .map(|v| format!("({})", d.string_literal(v)))
        .collect();
    Plan {
        verify: None,
        forward: vec![
            d.create_table(&def),
            format!(
                "INSERT INTO {} ({}) VALUES {}",
                d.quote_ident(lookup_table),
                d.quote_ident("value"),
                rows.join(", ")
            ),
        ],
        inverse: vec![d.drop_table(lookup_table)],
        online: None,
    }
}

/// Whether `narrow_type` from `from` to `to` is a plain type change, one
/// whose values the database converts without a cast expression.
fn plain_narrowing(from: ColumnType, to: ColumnType) -> bool {
    match to {
        ColumnType::Varchar(_) => from.is_textual(),
        ColumnType::SmallInt | ColumnType::Int => from.is_integer(),
        _ => false,
    }
}

/// The event that records a change about to run outside a transaction, with
/// everything needed to settle it after a crash: the probe, the cleanup and
/// the inverse. `None` for a change that runs in a transaction.
/// Accepted and not found violated by the rows since.
fn awaits_applying(r: &Recommendation) -> bool {
    r.state == RecommendationState::Accepted
        && r.note.as_deref().is_none_or(|n| !n.starts_with("violated"))
}

/// An index or UNIQUE on the table still loading waits for its end: during
/// the load nothing reads it, and each later row would pay its maintenance.
fn deferred_to_load_end(r: &Recommendation, loading: Option<&str>) -> bool {
    matches!(
        r.kind,
        RecommendationKind::Index | RecommendationKind::Unique
    ) && loading == Some(r.table.as_str())
}

pub fn intent_event<'a>(run_id: Uuid, r: &'a Recommendation, plan: &Plan) -> Option<NewEvent<'a>> {
    let online = plan.online.as_ref()?;
    let summary = applied_summary(r);
    let mut detail = change_detail(r, &plan.forward);
    detail["fallbacks"] = json!(online.fallbacks);
    detail["inverse"] = json!(plan.inverse);
    detail["probe"] = json!(online.probe);
    detail["cleanup"] = json!(online.cleanup);
    detail["leftover"] = json!(online.leftover);
    detail["summary"] = json!(summary);
    Some(NewEvent {
        run_id,
        kind: kind::DDL_INTENT,
        table: Some(&r.table),
        summary: format!("about to run: {summary}"),
        detail,
        // Nothing to undo yet: rollback asks the catalog about a dangling intent.
        inverse: vec![],
    })
}

fn applied_summary(r: &Recommendation) -> String {
    format!(
        "applied {} on {}.{}: {}",
        r.kind.name(),
        r.table,
        r.column,
        r.evidence
    )
}

fn change_detail(r: &Recommendation, ddl: &[String]) -> serde_json::Value {
    json!({
        "recommendation": r.id,
        "kind": r.kind.name(),
        "column": r.column,
        "confidence": r.confidence,
        "decided_by": r.decided_by,
        "change": r.change,
        "ddl": ddl,
    })
}

/// SQLSTATE of "feature not supported": MySQL's refusal of an ALGORITHM or LOCK.
const UNSUPPORTED: &str = "0A000";

/// Whether the server refused a change because of the data (SQLSTATE class
/// 22, data exception, or 23, integrity constraint violation).
fn refused_by_data(e: &DbError) -> bool {
    e.sqlstate()
        .is_some_and(|s| s.starts_with("22") || s.starts_with("23"))
}

/// Why a change stopped when the server gave up waiting for a lock on `table`.
fn gave_up_waiting(d: &dyn Dialect, table: &str, lock_wait: Duration) -> String {
    format!(
        "gave up after {} ms waiting for a lock on table {table}: another session holds a conflicting lock (a long transaction?); retry later, or raise [evolution] lock_budget_ms",
        d.lock_wait_granted(lock_wait).as_millis()
    )
}

/// What an attempt left behind: the `leftover` query, if any, and the
/// idempotent statements that remove it.
#[derive(Clone, Copy)]
struct Leftover<'a> {
    query: Option<&'a str>,
    cleanup: &'a [String],
}

impl<'a> From<&'a Online> for Leftover<'a> {
    fn from(o: &'a Online) -> Self {
        Leftover {
            query: o.leftover.as_deref(),
            cleanup: &o.cleanup,
        }
    }
}

/// Runs the clean-up statements if the catalog shows something to remove,
/// each waiting at most `lock_wait` for its locks. `None` when nothing is
/// left; else why something stays (the next attempt runs them again).
async fn clean_up(
    db: &dyn Database,
    table: &str,
    left: Leftover<'_>,
    lock_wait: Duration,
) -> Result<Option<String>, DbError> {
    if left.cleanup.is_empty() {
        return Ok(None);
    }
    if let Some(q) = left.query
        && !in_place(db, q).await?
    {
        return Ok(None);
    }
    let mut failure = None;
    for s in left.cleanup {
        if let Err(e) = db.execute_ddl(s, lock_wait).await {
            tracing::warn!(error = %e, statement = %s, "clean-up failed");
            failure.get_or_insert(if e.is_lock_timeout() {
                gave_up_waiting(db.dialect(), table, lock_wait)
            } else {
                e.to_string()
            });
        }
    }
    Ok(match (failure, left.query) {
        (Some(_), Some(q)) if !in_place(db, q).await? => None,
        (failure, _) => failure,
    })
}

/// How one change went.
enum Outcome {
    /// Applied by these statements.
    Applied(Vec<String>),
    /// Already in the target before the run touched it: nothing to apply or undo.
    InPlace,
    /// Not applied; why.
    Failed(String),
}

/// Order of application: rebuilds first (they re-create the others), then the
/// cheap guards, then index builds, then auxiliary tables.
fn rank(k: RecommendationKind) -> u8 {
    match k {
        RecommendationKind::NarrowType => 0,
        RecommendationKind::NotNull | RecommendationKind::Check => 1,
        RecommendationKind::Unique | RecommendationKind::Index => 2,
        RecommendationKind::EnumTable | RecommendationKind::Partition => 3,
    }
}

/// Work per row relative to loading one row through the pipeline, by kind of
/// change, until a change of that kind has been timed: a rebuild copies every
/// row inside the database (no binding, no round trip), an index sorts and
/// writes one entry per row, a guard only scans. Measured on SQLite: copy
/// ~11 µs, index ~4 µs, scan <1 µs per row, against ~130 µs to load one row.
fn prior_relative_cost(k: RecommendationKind) -> f64 {
    match k {
        RecommendationKind::NarrowType | RecommendationKind::Partition => 0.1,
        RecommendationKind::Unique | RecommendationKind::Index => 0.05,
        RecommendationKind::NotNull | RecommendationKind::Check => 0.01,
        RecommendationKind::EnumTable => 0.0,
    }
}

/// A check of loaded rows against a change applied earlier.
#[derive(Debug, Clone)]
struct Guard {
    id: String,
    column: String,
    change: Change,
}

/// What happened to one change in one pass of the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub id: String,
    pub summary: String,
}

/// The engine's state for one run.
pub struct Evolver {
    policy: EvolutionSection,
    run_id: Uuid,
    /// Seconds to load one row, as last measured by the loader.
    pub seconds_per_row: f64,
    guards: HashMap<String, Vec<Guard>>,
    /// Relative cost per kind as measured on changes already applied.
    measured: HashMap<RecommendationKind, f64>,
    /// Changes an interrupted attempt of this run applied already (from the event log).
    earlier: HashMap<String, Vec<String>>,
    /// Accepted changes refused for a reason more rows cannot cure (their lock
    /// estimate over the budget, no plan for this database): not tried again
    /// between batches, where each try would drain the loader's writes in
    /// flight, but once more when no table is loading.
    held: HashSet<String>,
}

impl Evolver {
    pub fn new(policy: EvolutionSection, run_id: Uuid) -> Self {
        Self {
            policy,
            run_id,
            seconds_per_row: 20e-6,
            guards: HashMap::new(),
            measured: HashMap::new(),
            earlier: HashMap::new(),
            held: HashSet::new(),
        }
    }

    /// Reads the changes an interrupted attempt of this run applied, so a
    /// resumed run neither repeats their DDL nor forgets to guard them. A
    /// change that was running outside a transaction when the attempt died
    /// is settled first from the catalog: recorded as applied if it is in
    /// place, cleaned up and left to be applied again if not.
    pub async fn resume(&mut self, db: &dyn Database) -> Result<(), DbError> {
        let log = store::read_run_events_of(
            db,
            self.run_id,
            &[
                kind::DDL_INTENT,
                kind::DDL_APPLIED,
                kind::DDL_FAILED,
                kind::ROLLBACK,
            ],
        )
        .await?;
        let undone: HashSet<i64> = log
            .iter()
            .filter(|e| e.kind == kind::ROLLBACK)
            .filter_map(|e| e.detail["undoes"].as_i64())
            .collect();
        for e in &log {
            if e.kind == kind::DDL_APPLIED
                && !undone.contains(&e.id)
                && let Some(id) = e.detail["recommendation"].as_str()
            {
                self.earlier.insert(id.to_string(), e.inverse.clone());
            }
        }
        for intent in dangling_intents(&log) {
            if let Some((id, inverse)) = settle(db, intent, self.lock_wait()).await? {
                self.earlier.insert(id, inverse);
            }
        }
        Ok(())
    }

    /// Whether an earlier attempt of this run applied `id` and no rollback
    /// undid it (known after [`Evolver::resume`]).
    pub fn applied_before(&self, id: &str) -> bool {
        self.earlier.contains_key(id)
    }

    /// Longest wait for a lock of any one statement.
    fn lock_wait(&self) -> Duration {
        Duration::from_millis(self.policy.lock_budget_ms)
    }

    /// Why the policy refuses `r`, if it does.
    fn refusal(&self, r: &Recommendation) -> Option<String> {
        let name = r.kind.name();
        if self.policy.deny.iter().any(|d| d.get_ref() == name) {
            return Some(format!("[evolution] deny lists {name}"));
        }
        if !self.policy.allow.is_empty() && !self.policy.allow.iter().any(|a| a.get_ref() == name) {
            return Some(format!("[evolution] allow does not list {name}"));
        }
        if r.confidence < self.policy.min_confidence {
            return Some(format!(
                "confidence {:.2} is below [evolution] min_confidence {:.2}",
                r.confidence, self.policy.min_confidence
            ));
        }
        None
    }

    /// True when [`Evolver::apply_ready`] would try to change the target now:
    /// an accepted change not applied before an interruption, not refused by
    /// the policy and not deferred to the end of the load. The loader lets
    /// its writes in flight commit first.
    pub fn has_ready(&self, book: &RecommendationBook, loading: Option<&str>) -> bool {
        book.all().iter().any(|r| {
            awaits_applying(r)
                && !self.earlier.contains_key(&r.id)
                && self.refusal(r).is_none()
                && !self.held.contains(&r.id)
                && !deferred_to_load_end(r, loading)
        })
    }

    /// Applies the accepted recommendations that may go now. `loading` is the
    /// target table whose rows are still streaming.
    pub async fn apply_ready(
        &mut self,
        book: &mut RecommendationBook,
        db: &dyn Database,
        loading: Option<&str>,
    ) -> Result<Vec<Applied>, DbError> {
        let d = db.dialect();
        let ddl = online_ddl(d.backend());
        let mut ready: Vec<Recommendation> =
            book.all().into_iter().filter(awaits_applying).collect();
        ready.sort_by(|a, b| {
            rank(a.kind)
                .cmp(&rank(b.kind))
                .then(a.cost_rows.cmp(&b.cost_rows))
        });
        let mut done = Vec::new();
        for r in ready {
            let note = |book: &mut RecommendationBook, n: String| {
                if let Some(x) = book.get_mut(&r.id) {
                    x.note = Some(n);
                }
            };
            if let Some(inverse) = self.earlier.get(&r.id) {
                if let Some(x) = book.get_mut(&r.id) {
                    x.state = RecommendationState::Applied;
                    x.inverse = inverse.clone();
                    x.note = Some("applied before the run was interrupted".into());
                }
                self.guards.entry(r.table.clone()).or_default().push(Guard {
                    id: r.id.clone(),
                    column: r.column.clone(),
                    change: r.change.clone(),
                });
                continue;
            }
            if let Some(why) = self.refusal(&r) {
                note(book, format!("not applied: {why}"));
                continue;
            }
            if deferred_to_load_end(&r, loading) {
                note(book, "deferred to the end of the table's load: building now costs more than it saves".into());
                continue;
            }
            if loading.is_some() && self.held.contains(&r.id) {
                continue;
            }
            let Some(live) = live_table(db, ddl, &r.table).await? else {
                continue;
            };
            let rows = live_rows(db, &r.table).await? as f64;
            let relative = self
                .measured
                .get(&r.kind)
                .copied()
                .unwrap_or_else(|| prior_relative_cost(r.kind));
            let lock_ms = (rows * self.seconds_per_row * relative * 1000.0) as u64;
            if lock_ms > self.policy.lock_budget_ms {
                self.held.insert(r.id.clone());
                note(
                    book,
                    format!(
                        "not applied: needs about {lock_ms} ms of lock, budget is {} ms",
                        self.policy.lock_budget_ms
                    ),
                );
                continue;
            }
            let plan = match ddl.plan(d, &live, &r.column, &r.change) {
                Ok(p) => p,
                Err(e) => {
                    self.held.insert(r.id.clone());
                    note(book, format!("not applied: {e}"));
                    continue;
                }
            };
            if let Some(q) = &plan.verify {
                let bad = db
                    .query(q, &[])
                    .await?
                    .first()
                    .and_then(|row| row[0].as_i64())
                    .unwrap_or(0);
                if bad > 0 {
                    if let Some(x) = book.get_mut(&r.id) {
                        x.state = RecommendationState::Withdrawn;
                        x.note = Some(format!("withdrawn: {bad} rows in the target violate it"));
                    }
                    continue;
                }
            }
            let t0 = std::time::Instant::now();
            let outcome = match &plan.online {
                None => self.apply_in_transaction(db, &r, &plan, lock_ms).await?,
                Some(online) => self.apply_online(db, &r, &plan, online, lock_ms).await?,
            };
            let took = t0.elapsed().as_secs_f64();
            let Some(x) = book.get_mut(&r.id) else {
                continue;
            };
            match outcome {
                Outcome::Failed(why) => {
                    tracing::warn!(id = %r.id, %why, "change not applied");
                    x.state = RecommendationState::Withdrawn;
                    x.note = Some(format!("withdrawn: {why}"));
                    continue;
                }
                Outcome::InPlace => {
                    x.state = RecommendationState::Applied;
                    x.inverse = Vec::new();
                    x.note =
                        Some("already in place before this run: nothing to apply or undo".into());
                }
                Outcome::Applied(ran) => {
                    if rows >= 1000.0 {
                        // Calibrates the estimate of this kind of change on this database.
                        self.measured
                            .insert(r.kind, took / (rows * self.seconds_per_row.max(1e-9)));
                    }
                    tracing::info!(id = %r.id, estimated_ms = lock_ms, took_ms = took * 1000.0, "change applied");
                    x.state = RecommendationState::Applied;
                    x.forward = ran;
                    x.inverse = plan.inverse;
                    x.note = None;
                    done.push(Applied {
                        id: r.id.clone(),
                        summary: applied_summary(&r),
                    });
                }
            }
            self.guards.entry(r.table.clone()).or_default().push(Guard {
                id: r.id.clone(),
                column: r.column.clone(),
                change: r.change.clone(),
            });
        }
        Ok(done)
    }

    /// Runs the change and its event in one transaction.
    async fn apply_in_transaction(
        &self,
        db: &dyn Database,
        r: &Recommendation,
        plan: &Plan,
        lock_ms: u64,
    ) -> Result<Outcome, DbError> {
        let d = db.dialect();
        let mut statements: Vec<Statement> = plan
            .forward
            .iter()
            .map(|s| Statement::new(s.clone(), vec![]))
            .collect();
        let mut detail = change_detail(r, &plan.forward);
        detail["estimated_lock_ms"] = json!(lock_ms);
        statements.push(store::event_statement(
            d,
            &NewEvent {
                run_id: self.run_id,
                kind: kind::DDL_APPLIED,
                table: Some(&r.table),
                summary: applied_summary(r),
                detail,
                inverse: plan.inverse.clone(),
            },
        ));
        let why = match db.transaction_ddl(statements, self.lock_wait()).await {
            Ok(()) => return Ok(Outcome::Applied(plan.forward.clone())),
            // Rows that break it arrived after the check: nothing was applied.
            Err(e) if refused_by_data(&e) => e.to_string(),
            Err(e) if e.is_lock_timeout() => {
                gave_up_waiting(db.dialect(), &r.table, self.lock_wait())
            }
            Err(e) => return Err(e),
        };
        self.log_failed(db, r, &[], &why, Vec::new(), None).await?;
        Ok(Outcome::Failed(why))
    }

    /// Logs that `r` did not take effect after running `ran`; `left` is what
    /// stays behind of it, which its inverse removes if rolled back.
    async fn log_failed(
        &self,
        db: &dyn Database,
        r: &Recommendation,
        ran: &[String],
        why: &str,
        refused: Vec<serde_json::Value>,
        left: Option<Leftover<'_>>,
    ) -> Result<(), DbError> {
        let mut detail = change_detail(r, ran);
        detail["error"] = json!(why);
        detail["refused"] = json!(refused);
        let mut inverse = Vec::new();
        // Rollback asks the query first, as it asks an online change's probe,
        // and runs the clean-up outside a transaction.
        if let Some(Leftover {
            query: Some(q),
            cleanup,
        }) = left
        {
            inverse = cleanup.to_vec();
            detail["leftover"] = json!(q);
        }
        db.transaction(vec![store::event_statement(
            db.dialect(),
            &NewEvent {
                run_id: self.run_id,
                kind: kind::DDL_FAILED,
                table: Some(&r.table),
                summary: format!(
                    "not applied {} on {}.{}: {why}",
                    r.kind.name(),
                    r.table,
                    r.column
                ),
                detail,
                inverse,
            },
        )])
        .await
    }

    /// Runs the change statement by statement between an intent and a
    /// completion event, taking the weaker form of a statement the server
    /// refuses to run online, and asks the catalog whether it took.
    async fn apply_online(
        &self,
        db: &dyn Database,
        r: &Recommendation,
        plan: &Plan,
        online: &Online,
        lock_ms: u64,
    ) -> Result<Outcome, DbError> {
        let d = db.dialect();
        let wait = self.lock_wait();
        if in_place(db, &online.probe).await? {
            return Ok(Outcome::InPlace);
        }
        // What an attempt of an earlier, abandoned run may have left.
        if let Some(reason) = clean_up(db, &r.table, online.into(), wait).await? {
            let why =
                format!("an earlier attempt left something that could not be removed: {reason}");
            self.log_failed(db, r, &[], &why, Vec::new(), None).await?;
            return Ok(Outcome::Failed(why));
        }
        if let Some(mut intent) = intent_event(self.run_id, r, plan) {
            intent.detail["estimated_lock_ms"] = json!(lock_ms);
            db.transaction(vec![store::event_statement(d, &intent)])
                .await?;
        }
        let mut ran = Vec::new();
        let mut refused = Vec::new();
        let mut failure = None;
        'statements: for (i, first) in plan.forward.iter().enumerate() {
            let weaker = online.fallbacks.get(i).into_iter().flatten();
            for sql in std::iter::once(first).chain(weaker) {
                match db.execute_ddl(sql, wait).await {
                    Ok(_) => {
                        ran.push(sql.clone());
                        continue 'statements;
                    }
                    Err(e) if e.sqlstate().as_deref() == Some(UNSUPPORTED) => {
                        refused.push(json!({ "statement": sql, "error": e.to_string() }));
                        failure = Some(e.to_string());
                    }
                    // The server is gone: the intent stays open for `resume`.
                    Err(e) if e.sqlstate().is_none() => return Err(e),
                    Err(e) if e.is_lock_timeout() => {
                        failure = Some(gave_up_waiting(db.dialect(), &r.table, wait));
                        break 'statements;
                    }
                    Err(e) => {
                        failure = Some(e.to_string());
                        break 'statements;
                    }
                }
            }
            // Every form of this statement was refused.
            break;
        }
        let why = if ran.len() < plan.forward.len() {
            Some(failure.unwrap_or_else(|| "not every statement ran".into()))
        } else if !in_place(db, &online.probe).await? {
            Some("its statements ran, but the catalog does not show it in place".to_string())
        } else {
            None
        };
        // After a failure the clean-up removes what was left, and the catalog
        // decides: a statement may have failed after the change itself took
        // (PostgreSQL's NOT NULL, then dropping its helper CHECK).
        let failed = match why {
            Some(why) => {
                let left = clean_up(db, &r.table, online.into(), wait).await?;
                (!in_place(db, &online.probe).await?).then_some((why, left))
            }
            None => None,
        };
        if let Some((mut why, left)) = failed {
            if let Some(reason) = &left {
                let reason = if *reason == why {
                    "for the same reason"
                } else {
                    reason
                };
                why.push_str(&format!(
                    "; what the attempt left could not be removed ({reason}): the next attempt or a rollback removes it"
                ));
            }
            let left = left.map(|_| Leftover::from(online));
            self.log_failed(db, r, &ran, &why, refused, left).await?;
            return Ok(Outcome::Failed(why));
        }
        let mut detail = change_detail(r, &ran);
        detail["online"] = json!(true);
        detail["probe"] = json!(online.probe);
        detail["refused"] = json!(refused);
        detail["estimated_lock_ms"] = json!(lock_ms);
        let mut summary = applied_summary(r);
        if !refused.is_empty() {
            summary.push_str(" (the online form was refused; ran the form in ddl)");
        }
        db.transaction(vec![store::event_statement(
            d,
            &NewEvent {
                run_id: self.run_id,
                kind: kind::DDL_APPLIED,
                table: Some(&r.table),
                summary,
                detail,
                inverse: plan.inverse.clone(),
            },
        )])
        .await?;
        Ok(Outcome::Applied(ran))
    }

    /// Rows of `rows` (with `columns`) that break a change applied to `table`:
    /// (row index, recommendation id, column, reason). Quarantine them instead
    /// of failing the batch.
    /// True when a change guarding `table` judges a row against the rows
    /// already in it (UNIQUE), not by the row alone.
    pub fn checks_against_target(&self, table: &str) -> bool {
        self.guards
            .get(table)
            .is_some_and(|gs| gs.iter().any(|g| matches!(g.change, Change::Unique)))
    }

    pub async fn violations(
        &self,
        db: &dyn Database,
        table: &str,
        columns: &[String],
        rows: &[Row],
    ) -> Result<Vec<(usize, String, String, String)>, DbError> {
        let Some(guards) = self.guards.get(table) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut flagged = HashSet::new();
        for g in guards {
            let Some(ci) = columns.iter().position(|c| *c == g.column) else {
                continue;
            };
            let mut bad = |i: usize, why: String| {
                if flagged.insert(i) {
                    out.push((i, g.id.clone(), g.column.clone(), why));
                }
            };
            match &g.change {
                Change::Unique => {
                    for i in duplicates(db, table, &g.column, ci, rows).await? {
                        bad(
                            i,
                            format!(
                                "{} {} is already in {table}",
                                g.column,
                                rows[i][ci].render()
                            ),
                        );
                    }
                }
                change => {
                    for (i, row) in rows.iter().enumerate() {
                        if let Some(why) = breaks(change, &row[ci]) {
                            bad(i, format!("{} {}: {why}", g.column, row[ci].render()));
                        }
                    }
                }
            }
        }
        out.sort_by_key(|v| v.0);
        Ok(out)
    }
}

/// Settles an intent whose completion was never written: if the catalog
/// shows the change in place, records it as applied and returns its
/// recommendation and inverse; otherwise removes what the attempt left and
/// records that it did not take, so it is applied again.
async fn settle(
    db: &dyn Database,
    intent: &EventRecord,
    lock_wait: Duration,
) -> Result<Option<(String, Vec<String>)>, DbError> {
    let strings = |key: &str| -> Vec<String> {
        serde_json::from_value(intent.detail[key].clone()).unwrap_or_default()
    };
    let Some(id) = intent.detail["recommendation"].as_str() else {
        return Ok(None);
    };
    let probe = intent.detail["probe"].as_str().unwrap_or_default();
    let took = !probe.is_empty() && in_place(db, probe).await?;
    let mut detail = intent.detail.clone();
    let event = if took {
        detail["online"] = json!(true);
        detail["settled"] = json!("found in place after an interruption");
        NewEvent {
            run_id: intent.run_id,
            kind: kind::DDL_APPLIED,
            table: intent.table.as_deref(),
            summary: format!(
                "{} (found in place after an interruption)",
                intent.detail["summary"].as_str().unwrap_or(id)
            ),
            detail,
            inverse: strings("inverse"),
        }
    } else {
        let cleanup = strings("cleanup");
        let left = Leftover {
            query: intent.detail["leftover"].as_str(),
            cleanup: &cleanup,
        };
        let table = intent.table.as_deref().unwrap_or_default();
        let mut why = "interrupted before it took effect; it will be applied again".to_string();
        let mut inverse = Vec::new();
        if let Some(reason) = clean_up(db, table, left, lock_wait).await? {
            // Removed by the next attempt, or by a rollback, which asks the
            // leftover query (not the change's probe) first.
            why.push_str(&format!(
                "; what it left could not be removed yet ({reason})"
            ));
            if left.query.is_some() {
                inverse = cleanup.clone();
                if let Some(d) = detail.as_object_mut() {
                    d.remove("probe");
                }
            }
        }
        detail["error"] = json!(why);
        NewEvent {
            run_id: intent.run_id,
            kind: kind::DDL_FAILED,
            table: intent.table.as_deref(),
            summary: format!("not applied {id}: {why}"),
            detail,
            inverse,
        }
    };
    db.transaction(vec![store::event_statement(db.dialect(), &event)])
        .await?;
    tracing::info!(%id, took, "settled an interrupted change from the catalog");
    Ok(took.then(|| (id.to_string(), event.inverse)))
}

async fn live_rows(db: &dyn Database, table: &str) -> Result<u64, DbError> {
    let sql = format!("SELECT COUNT(*) FROM {}", db.dialect().quote_ident(table));
    Ok(db
        .query(&sql, &[])
        .await?
        .first()
        .and_then(|r| r[0].as_i64())
        .unwrap_or(0) as u64)
}

/// Why `v` breaks an applied row-level change, if it does.
fn breaks(change: &Change, v: &Value) -> Option<String> {
    match change {
        Change::NotNull => v
            .is_null()
            .then(|| "NULL where NOT NULL was applied".into()),
        // The partition column is part of the primary key.
        Change::Partition { .. } => v
            .is_null()
            .then(|| "NULL in the column the table is partitioned by".into()),
        Change::Check { values } => (!v.is_null() && !values.contains(&v.render()))
            .then(|| format!("not one of {}", values.join(", "))),
        Change::NarrowType { to, .. } => {
            let to: ColumnType = to.parse().ok()?;
            let fits = match (to, v) {
                (_, Value::Null) => true,
                (ColumnType::Varchar(n), v) => {
                    v.as_text().is_none_or(|s| s.chars().count() <= n as usize)
                }
                (ColumnType::SmallInt, v) => v.as_i64().is_some_and(|x| i16::try_from(x).is_ok()),
                (ColumnType::Int, v) => v.as_i64().is_some_and(|x| i32::try_from(x).is_ok()),
                _ => true,
            };
            (!fits).then(|| format!("does not fit {to}"))
        }
        _ => None,
    }
}

/// Rows whose value in column `ci` repeats within the batch or is already in the table.
async fn duplicates(
    db: &dyn Database,
    table: &str,
    column: &str,
    ci: usize,
    rows: &[Row],
) -> Result<Vec<usize>, DbError> {
    let d = db.dialect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut wanted = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r[ci].is_null() {
            continue;
        }
        if seen.insert(r[ci].render()) {
            wanted.push(r[ci].clone());
        } else {
            out.push(i);
        }
    }
    let mut existing = HashSet::new();
    for chunk in wanted.chunks(d.max_bind_params().min(1000)) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| d.placeholder(i)).collect();
        let sql = format!(
            "SELECT {c} FROM {t} WHERE {c} IN ({})",
            marks.join(", "),
            c = d.quote_ident(column),
            t = d.quote_ident(table)
        );
        for r in db.query(&sql, chunk).await? {
            existing.insert(r[0].render());
        }
    }
    for (i, r) in rows.iter().enumerate() {
        if !r[ci].is_null() && existing.contains(&r[ci].render()) && !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

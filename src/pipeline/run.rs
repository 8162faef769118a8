//! One migration run: tables in foreign-key order, each streamed through
//! extract → transform → load tasks joined by bounded channels.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::events::{
    Command, DecisionReceiver, RunControl, RunEvent, RunHandle, RunState, SampleRow, TablePlan,
    TableProgress,
};
use super::parents::{KeyCollector, ParentKeys};
use super::{RunSummary, TableSummary};
use crate::db::{self, BatchWrite, Db, DbError, RowSet, Statement};
use crate::eventlog::kind;
use crate::eventlog::lock::{self, LockError};
use crate::eventlog::store::{self, Checkpoint, NewEvent, QuarantinedRow, RunRecord};
use crate::evolve::LiveEvolution;
use crate::profile::{TableProfileSnapshot, TableProfiler};
use crate::project::{CompileError, Project, error::ProjectError};
use crate::recommend::TableFacts;
use crate::transform::{CompiledTable, ForeignKeyCheck, OrphanPolicy, TransformStats};
use crate::value::{Row, Value};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Project(#[from] ProjectError),
    #[error("{0}")]
    Db(#[from] DbError),
    /// The run cannot go on as asked; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// A database server did not let us in; the message names the project
    /// file's url and the server's reason.
    #[error("{0}")]
    Unreachable(ProjectError),
}

impl From<CompileError> for RunError {
    fn from(e: CompileError) -> Self {
        match e {
            CompileError::Project(p) => RunError::Project(p),
            CompileError::Db(d) => RunError::Db(d),
        }
    }
}

impl RunError {
    /// Exit code per SPEC §11: 2 for the project file, 3 for database/runtime.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Project(_) => 2,
            RunError::Db(_) | RunError::Refused(_) | RunError::Unreachable(_) => 3,
        }
    }
}

/// Knobs of one run that are not in the project file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Upper bound on rows per second, so an audience can follow the demo.
    pub pace: Option<f64>,
    /// Take over the target's lock if its holder's process is gone.
    pub take_over: bool,
    /// Accept every recommendation at or above this confidence (`--accept-above`).
    pub accept_above: Option<f64>,
}

/// A project whose source is reachable and whose tables compiled against it.
#[derive(Clone)]
pub struct Prepared {
    pub project: Arc<Project>,
    pub source: Db,
    pub target: Db,
    pub tables: Vec<Arc<CompiledTable>>,
}

/// A connection that failed, located at the project's `[side] url`: a
/// project-file error for an embedded database (its path is wrong), a
/// database failure for a server (it refused, or is not there).
fn unreachable(project: &Project, side: &str, e: &DbError) -> RunError {
    let (url, span) = match side {
        "source" => (&project.source_url, project.file.source.url.span()),
        _ => (&project.target_url, project.file.target.url.span()),
    };
    let located = project
        .locator
        .at(span, format!("{side} database: {e}"))
        .with_hint(format!(
            "check [{side}] url and that the database is reachable"
        ));
    if url.sqlite_path().is_some() {
        RunError::Project(located)
    } else {
        RunError::Unreachable(located)
    }
}

/// Connects and compiles; writes nothing (a SQLite target file is created
/// only when `open_target` is true).
pub async fn prepare(project: Arc<Project>, open_target: bool) -> Result<Prepared, RunError> {
    let source = db::connect(&project.source_url, false)
        .await
        .map_err(|e| unreachable(&project, "source", &e))?;
    let tables: Vec<Arc<CompiledTable>> = project
        .compile(source.as_ref())
        .await?
        .into_iter()
        .map(Arc::new)
        .collect();
    if open_target {
        // `check` (no target) reports duplicates among its pre-checks instead.
        for t in &tables {
            ensure_unique_key(source.as_ref(), t).await?;
        }
    }
    let target = if open_target {
        db::connect(&project.target_url, true)
            .await
            .map_err(|e| unreachable(&project, "target", &e))?
    } else {
        source.clone()
    };
    Ok(Prepared {
        project,
        source,
        target,
        tables,
    })
}

/// Keyset pagination reads rows in key order and resumes after the last key:
/// with duplicate keys it would skip rows at batch boundaries. A key that the
/// source does not declare as its primary key is counted first.
async fn ensure_unique_key(
    source: &dyn db::Database,
    table: &CompiledTable,
) -> Result<(), RunError> {
    let info = source.table_info(table.source_table()).await?;
    let declared = info.as_ref().is_some_and(|i| {
        let pk: Vec<_> = i.columns.iter().filter(|c| c.primary_key).collect();
        pk.len() == 1 && pk[0].name == table.key_column()
    });
    if declared {
        return Ok(());
    }
    let d = source.dialect();
    let key = d.quote_ident(table.key_column());
    let sql = format!(
        "SELECT COUNT({key}) - COUNT(DISTINCT {key}), COUNT(*) - COUNT({key}) FROM {}",
        d.quote_ident(table.source_table())
    );
    let row = source.query(&sql, &[]).await?;
    let n = |i: usize| row.first().and_then(|r| r[i].as_i64()).unwrap_or(0);
    let (duplicates, nulls) = (n(0), n(1));
    if duplicates > 0 || nulls > 0 {
        return Err(RunError::Refused(format!(
            "key column \"{}\" of source table \"{}\" is not unique ({duplicates} duplicated values, {nulls} NULLs): rows would be skipped or collide; set `key` to a unique column (`flightdeck check` lists the duplicates)",
            table.key_column(),
            table.source_table()
        )));
    }
    Ok(())
}

/// The source row count of each table of the plan, as it becomes known.
type Counted = watch::Receiver<Option<Result<u64, String>>>;

/// Tables the source's catalog puts at this many rows or more load on the
/// catalog's estimate, and are counted only with `exact_row_counts`.
pub const ESTIMATE_FROM_ROWS: u64 = 100_000;

/// Counts the rows of each source table in the background, in plan order,
/// while the first tables load; only progress and recommendation confidence
/// need them. A count is a full scan on most servers (1.8 s for the
/// 1M-`models` sample's five tables on MariaDB), and the second table of the
/// sample used to wait about a second for its own; a table the catalog
/// estimates at `ESTIMATE_FROM_ROWS` rows or more goes by the estimate, so
/// it starts at once and the source is not scanned twice (the post-run
/// reconciliation counts it anyway). With `exact` (`[pipeline]
/// exact_row_counts`) the count replaces the estimate when done, as gh-ost
/// does with `--exact-rowcount`. Two counts run side by side where the
/// source serves large reads in parallel. Each figure is reported as
/// `RunEvent::Counted` and published to its table's receiver.
fn count_source_rows(
    source: Db,
    tables: &[Arc<CompiledTable>],
    exact: bool,
    reporter: Reporter,
) -> (Vec<Counted>, AbortOnDrop) {
    use futures::stream::{self, StreamExt};
    let (senders, receivers): (Vec<_>, Vec<_>) =
        tables.iter().map(|_| watch::channel(None)).unzip();
    let d = source.dialect();
    let jobs: Vec<(usize, String, String, watch::Sender<_>)> = tables
        .iter()
        .zip(senders)
        .enumerate()
        .map(|(i, (t, tx))| {
            let sql = format!("SELECT COUNT(*) FROM {}", d.quote_ident(t.source_table()));
            (i, t.source_table().to_string(), sql, tx)
        })
        .collect();
    let scans = d.concurrent_scans().max(1);
    let task = tokio::spawn(async move {
        let (source, reporter) = (&source, &reporter);
        // Every estimate first (catalog reads), so no large table waits for
        // the counts queued before its own.
        let mut estimated = vec![false; jobs.len()];
        for (table, name, _, tx) in &jobs {
            // A failed estimate is only a missed shortcut.
            let estimate = source.estimated_rows(name).await.ok().flatten();
            if let Some(n) = estimate.filter(|n| *n >= ESTIMATE_FROM_ROWS) {
                reporter
                    .send(RunEvent::Counted {
                        table: *table,
                        source_rows: n,
                        estimated: true,
                    })
                    .await;
                let _ = tx.send(Some(Ok(n)));
                estimated[*table] = true;
            }
        }
        // Boxed before the stream (rust-lang/rust#102211, as in `validate`).
        let counts: Vec<futures::future::BoxFuture<'_, ()>> = jobs
            .into_iter()
            .filter(|(table, ..)| exact || !estimated[*table])
            .map(|(table, name, sql, tx)| {
                let estimated = estimated[table];
                async move {
                    let n = source
                        .query(&sql, &[])
                        .await
                        .map(|rows| rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) as u64)
                        .map_err(|e| e.to_string());
                    match &n {
                        Ok(rows) => {
                            reporter
                                .send(RunEvent::Counted {
                                    table,
                                    source_rows: *rows,
                                    estimated: false,
                                })
                                .await;
                        }
                        // The table loads on its estimate; the error shows
                        // again wherever the source is read next.
                        Err(e) if estimated => {
                            tracing::warn!(table = %name, error = %e, "counting a source table failed");
                            return;
                        }
                        Err(_) => {}
                    }
                    let _ = tx.send(Some(n));
                }
                .boxed()
            })
            .collect();
        stream::iter(counts)
            .buffered(scans)
            .collect::<Vec<()>>()
            .await;
    });
    (receivers, AbortOnDrop(task))
}

/// The latest row count (or estimate) of a table, if there is one yet.
fn latest_source_rows(ctx: &RunContext, index: usize) -> Option<u64> {
    match &*ctx.source_rows[index].borrow() {
        Some(Ok(n)) => Some(*n),
        _ => None,
    }
}

/// Waits for the row count of a table, or its estimate (usually long known).
async fn source_rows_of(
    ctx: &RunContext,
    index: usize,
    table: &CompiledTable,
) -> Result<u64, RunError> {
    let mut rx = ctx.source_rows[index].clone();
    let counted = rx
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|c| c.clone());
    match counted {
        Some(Ok(n)) => Ok(n),
        Some(Err(e)) => Err(RunError::Refused(format!(
            "counting the rows of source table {} failed: {e}",
            table.source_table()
        ))),
        None => Err(RunError::Refused(format!(
            "the row count of source table {} stopped before it finished",
            table.source_table()
        ))),
    }
}

/// Aborts a background task when its owner is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the run on the tokio runtime; steer and watch it through the handle.
pub fn spawn(prepared: Prepared, options: RunOptions) -> RunHandle {
    let (control, commands, decisions) = RunControl::with_decisions();
    let (tx, events) = mpsc::channel(256);
    tokio::spawn(async move {
        let reporter = Reporter { tx: tx.clone() };
        match execute(prepared, options, commands, decisions, &reporter).await {
            Ok(summary) => reporter.send(RunEvent::Finished(summary)).await,
            Err(e) => {
                tracing::error!(error = %e, "run failed");
                reporter
                    .send(RunEvent::StateChanged(RunState::Failed))
                    .await;
                reporter
                    .send(RunEvent::Failed {
                        error: e.to_string(),
                    })
                    .await;
            }
        }
    });
    RunHandle { control, events }
}

struct Reporter {
    tx: mpsc::Sender<RunEvent>,
}

impl Reporter {
    async fn send(&self, e: RunEvent) {
        // A closed receiver means nobody watches; the run goes on regardless.
        let _ = self.tx.send(e).await;
    }
}

/// Rows read from the source, in key order.
struct SourceBatch {
    rows: Vec<Row>,
}

/// Rows ready to load, with what could not be transformed.
struct LoadBatch {
    rows: Vec<Row>,
    quarantined: Vec<QuarantinedRow>,
    /// Source rows each loaded row came from, for FK quarantine.
    origins: Vec<Row>,
    first_key: Value,
    last_key: Value,
    read: u64,
    sample: Option<SampleRow>,
    /// The source rows that went to quarantine, with their place among the
    /// batch's rows, so the profiler sees every row in order.
    failed: Vec<(usize, Row)>,
    /// A fresh profile of the table, a few times a second.
    profile: Option<TableProfileSnapshot>,
}

/// One operator at a time: the run holds the target's lock from before it
/// reads the run state until it stops, however it stops.
async fn execute(
    p: Prepared,
    options: RunOptions,
    commands: watch::Receiver<Command>,
    decisions: DecisionReceiver,
    reporter: &Reporter,
) -> Result<RunSummary, RunError> {
    let target = p.target.clone();
    store::ensure_schema(target.as_ref()).await?;
    let held = lock::acquire(target.as_ref(), "run", options.take_over)
        .await
        .map_err(|e| match e {
            LockError::Db(d) => RunError::Db(d),
            held => RunError::Refused(held.to_string()),
        })?;
    let result = execute_locked(p, options, commands, decisions, reporter).await;
    if let Err(e) = held.release(target.as_ref()).await {
        tracing::warn!(error = %e, "could not release the target lock");
    }
    result
}

async fn execute_locked(
    p: Prepared,
    options: RunOptions,
    mut commands: watch::Receiver<Command>,
    decisions: DecisionReceiver,
    reporter: &Reporter,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let target = p.target.clone();
    let d = target.dialect();

    let project = &p.project;
    let latest = store::latest_run(target.as_ref(), project.name()).await?;
    let (run_id, resumed) = match latest {
        Some(r) if r.status != "rolled_back" => {
            if r.fingerprint != project.fingerprint && r.status != "completed" {
                let changes = crate::validate::fingerprint::changes(
                    r.fingerprint_material.as_deref(),
                    &project.fingerprint_material,
                );
                return Err(RunError::Refused(format!(
                    "run {} of \"{}\" was interrupted, and the project changed since in a way that affects rows already written (mappings, rules, keys or their files): {}; roll it back with `flightdeck rollback` or restore the project file",
                    r.run_id,
                    project.name(),
                    changes.join("; ")
                )));
            }
            let resumed = NewEvent {
                run_id: r.run_id,
                kind: kind::RUN_RESUMED,
                table: None,
                summary: if r.status == "completed" {
                    "run continued after completing: reading the source rows added since".into()
                } else {
                    format!("run resumed after status {}", r.status)
                },
                detail: json!({"previous_status": r.status}),
                inverse: vec![],
            };
            // A completed run stays completed while it catches up.
            let mut statements = vec![store::event_statement(d, &resumed)];
            if r.status != "completed" {
                statements.insert(0, store::set_run_status(d, r.run_id, "running", false));
            }
            target.transaction(statements).await?;
            (r.run_id, Some(r.status))
        }
        _ => {
            let run_id = Uuid::new_v4();
            let record = RunRecord {
                run_id,
                project: project.name().to_string(),
                fingerprint: project.fingerprint.clone(),
                fingerprint_material: Some(project.fingerprint_material.clone()),
                status: "running".into(),
                started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            };
            target
                .transaction(vec![
                    store::insert_run(d, &record),
                    store::event_statement(
                        d,
                        &NewEvent {
                            run_id,
                            kind: kind::RUN_STARTED,
                            table: None,
                            summary: format!(
                                "run started: {} → {}",
                                project.source_url.redacted(),
                                project.target_url.redacted()
                            ),
                            detail: json!({
                                "project": project.name(),
                                "fingerprint": project.fingerprint,
                                "source": project.source_url.redacted(),
                                "target": project.target_url.redacted(),
                            }),
                            inverse: vec![],
                        },
                    ),
                ])
                .await?;
            (run_id, None)
        }
    };
    tracing::info!(%run_id, resumed = resumed.as_deref().unwrap_or("no"), "run started");
    let mut evo = LiveEvolution::new(
        project.file.evolution.clone(),
        run_id,
        decisions,
        options.accept_above,
    );
    if resumed.is_some() {
        evo.engine.resume(target.as_ref()).await?;
        // A completed attempt's queue: what it left undecided is offered again.
        if let Some(queue) = crate::evolve::after::recorded_queue(target.as_ref(), run_id).await? {
            evo.carry(queue);
        }
    }
    let carried = evo.recommendations();

    let checkpoints = store::read_checkpoints(target.as_ref(), run_id).await?;
    let plans: Vec<TablePlan> = p
        .tables
        .iter()
        .map(|t| TablePlan {
            source: t.source_table().into(),
            target: t.target_table().into(),
            source_rows: None,
            estimated: false,
            already_read: checkpoints.get(t.source_table()).map_or(0, |c| c.read),
        })
        .collect();
    reporter
        .send(RunEvent::Started {
            run_id,
            tables: plans,
            resumed,
        })
        .await;
    if !carried.is_empty() {
        reporter.send(RunEvent::Recommendations(carried)).await;
    }
    // After `Started`, so every `Counted` follows the plan it refers to.
    let (plans_rows, _counting) = count_source_rows(
        p.source.clone(),
        &p.tables,
        p.project.file.pipeline.exact_row_counts,
        Reporter {
            tx: reporter.tx.clone(),
        },
    );
    reporter
        .send(RunEvent::StateChanged(RunState::Running))
        .await;

    let ctx = RunContext {
        run_id,
        target_tables: p
            .tables
            .iter()
            .map(|t| t.target_table().to_string())
            .collect(),
        query_checks: project
            .file
            .validations
            .iter()
            .filter(|v| crate::validate::query_time::is_query_time(v))
            .cloned()
            .collect(),
        source: p.source.clone(),
        target: target.clone(),
        pipeline: project.file.pipeline.clone(),
        pace: options.pace,
        evo: tokio::sync::Mutex::new(evo),
        source_rows: plans_rows,
        written_keys: Default::default(),
        profiling: project.file.profiling.clone(),
        partition_rows: project.file.evolution.partition_above_rows,
        growth_columns: project
            .file
            .tables
            .iter()
            .filter_map(|t| {
                let g = t.growth_column.as_ref()?;
                Some((t.source.get_ref().clone(), g.get_ref().clone()))
            })
            .collect(),
    };
    let mut summaries = Vec::new();
    for (i, table) in p.tables.iter().enumerate() {
        let cp = checkpoints
            .get(table.source_table())
            .cloned()
            .unwrap_or_default();
        reporter.send(RunEvent::TableStarted { table: i }).await;
        let outcome = run_table(&ctx, i, table, cp, &p.tables, &mut commands, reporter).await?;
        summaries.push(outcome.summary);
        if outcome.cancelled {
            let decisions = ctx.evo.lock().await.decision_statements(d);
            target
                .transaction(
                    vec![
                        store::set_run_status(d, run_id, "cancelled", false),
                        store::event_statement(
                            d,
                            &NewEvent {
                                run_id,
                                kind: kind::RUN_CANCELLED,
                                table: None,
                                summary: "run stopped by the operator at a batch boundary".into(),
                                detail: json!({}),
                                inverse: vec![],
                            },
                        ),
                    ]
                    .into_iter()
                    .chain(decisions)
                    .collect(),
                )
                .await?;
            reporter
                .send(RunEvent::StateChanged(RunState::Cancelled))
                .await;
            return Ok(RunSummary {
                status: RunState::Cancelled,
                run_id: run_id.to_string(),
                elapsed_s: started.elapsed().as_secs_f64(),
                tables: summaries,
                recommendations: ctx.evo.lock().await.recommendations(),
            });
        }
    }
    let (decisions, recommendations) = {
        let mut evo = ctx.evo.lock().await;
        // Decisions taken while the last table finished.
        for e in evo.apply(target.as_ref(), None).await? {
            reporter.send(e).await;
        }
        (evo.decision_statements(d), evo.recommendations())
    };
    target
        .transaction(
            vec![
                store::set_run_status(d, run_id, "completed", true),
                store::event_statement(
                    d,
                    &NewEvent {
                        run_id,
                        kind: kind::RUN_FINISHED,
                        table: None,
                        summary: format!(
                            "run completed: {} rows written, {} quarantined",
                            crate::recommend::thousands(
                                summaries.iter().map(|s| s.written).sum::<u64>()
                            ),
                            crate::recommend::thousands(
                                summaries.iter().map(|s| s.quarantined).sum::<u64>()
                            )
                        ),
                        detail: json!({
                            "tables": summaries,
                            "elapsed_s": started.elapsed().as_secs_f64(),
                            "recommendations": recommendations,
                        }),
                        inverse: vec![],
                    },
                ),
            ]
            .into_iter()
            .chain(decisions)
            .collect(),
        )
        .await?;
    record_version(&ctx, "run completed").await?;
    reporter
        .send(RunEvent::StateChanged(RunState::Completed))
        .await;
    Ok(RunSummary {
        status: RunState::Completed,
        run_id: run_id.to_string(),
        elapsed_s: started.elapsed().as_secs_f64(),
        tables: summaries,
        recommendations,
    })
}

struct RunContext {
    run_id: Uuid,
    /// The project's target tables, in run order (for schema versions).
    target_tables: Vec<String>,
    /// `query_time` validations: timed after their table's load, before the
    /// changes built at its end.
    query_checks: Vec<crate::project::model::ValidationSpec>,
    source: Db,
    target: Db,
    pipeline: crate::project::model::PipelineSection,
    pace: Option<f64>,
    /// Recommendations and schema changes; only the loader of the current table uses it.
    evo: tokio::sync::Mutex<LiveEvolution>,
    /// Source rows of each table when counted, in table order.
    source_rows: Vec<Counted>,
    /// Source table → the integer keys this run wrote, for the parents this
    /// run loaded from their first row (their children check against them).
    written_keys: std::sync::Mutex<HashMap<String, ParentKeys>>,
    profiling: crate::project::model::ProfilingSection,
    /// Source table → its growth_column.
    growth_columns: HashMap<String, String>,
    /// `[evolution] partition_above_rows`.
    partition_rows: u64,
}

struct TableOutcome {
    summary: TableSummary,
    cancelled: bool,
}

/// Creates the target table (logged with its inverse) unless it exists.
/// Creates `table` in the target unless it exists; true when it did.
async fn ensure_target_table(ctx: &RunContext, table: &CompiledTable) -> Result<bool, RunError> {
    let t = &ctx.target;
    if t.table_info(table.target_table()).await?.is_some() {
        return Ok(false);
    }
    let d = t.dialect();
    let mut def = table.target_def();
    if defers_key(d, table) {
        // `deferred_key_statements` adds it when the table's load is done.
        def.primary_key.clear();
        for c in def
            .columns
            .iter_mut()
            .filter(|c| c.name == table.target_key())
        {
            c.nullable = false;
        }
    }
    let create = d.create_table(&def);
    t.transaction(vec![
        Statement::new(create.clone(), vec![]),
        store::event_statement(
            d,
            &NewEvent {
                run_id: ctx.run_id,
                kind: kind::TABLE_CREATED,
                table: Some(table.target_table()),
                summary: format!(
                    "created table {} ({} columns)",
                    table.target_table(),
                    def.columns.len()
                ),
                detail: json!({ "ddl": create }),
                inverse: vec![d.drop_table(table.target_table())],
            },
        ),
    ])
    .await?;
    Ok(true)
}

/// True when foreign key `fk` names `parent`'s key.
fn points_to(fk: &ForeignKeyCheck, parent: &CompiledTable) -> bool {
    fk.parent_table == parent.target_table() && fk.parent_key == parent.target_key()
}

/// True when `child` has a foreign key into `parent` (another table).
fn references(child: &CompiledTable, parent: &CompiledTable) -> bool {
    child.target_table() != parent.target_table()
        && child.foreign_keys().iter().any(|f| points_to(f, parent))
}

/// True when the table's rows look up their parents in the table itself.
fn self_referencing(table: &CompiledTable) -> bool {
    table
        .foreign_keys()
        .iter()
        .any(|f| f.parent_table == table.target_table())
}

/// A table's key is built after its load unless the dialect keeps rows in
/// key order, or the table's own rows look up their parents in it.
fn defers_key(d: &dyn db::Dialect, table: &CompiledTable) -> bool {
    d.defers_primary_key() && !self_referencing(table)
}

/// The statements adding the primary key of a table this run created without
/// it (in the transaction of the table's final checkpoint), with the event
/// whose inverse drops it. Nothing when the key exists (a resumed run built
/// it) or the table was not created by this run.
async fn deferred_key_statements(
    ctx: &RunContext,
    table: &CompiledTable,
) -> Result<Vec<Statement>, RunError> {
    let t = &ctx.target;
    let d = t.dialect();
    if !defers_key(d, table) {
        return Ok(Vec::new());
    }
    let has_key = t
        .table_info(table.target_table())
        .await?
        .is_some_and(|i| i.columns.iter().any(|c| c.primary_key));
    if has_key || !store::created_in_run(t.as_ref(), ctx.run_id, table.target_table()).await? {
        return Ok(Vec::new());
    }
    // A table partitioned during its load keys on its partition column too.
    let mut key = vec![table.target_key().to_string()];
    for c in t.partition_columns(table.target_table()).await? {
        if !key.contains(&c) {
            key.push(c);
        }
    }
    let (build, drop) = d.add_primary_key(table.target_table(), &key);
    let event = NewEvent {
        run_id: ctx.run_id,
        kind: kind::KEY_BUILT,
        table: Some(table.target_table()),
        summary: format!(
            "built primary key ({}) of {} after its load",
            key.join(", "),
            table.target_table()
        ),
        detail: json!({ "ddl": build }),
        inverse: vec![drop],
    };
    Ok(vec![
        Statement::new(build, vec![]),
        store::event_statement(d, &event),
    ])
}

async fn run_table(
    ctx: &RunContext,
    index: usize,
    table: &Arc<CompiledTable>,
    mut cp: Checkpoint,
    all: &[Arc<CompiledTable>],
    commands: &mut watch::Receiver<Command>,
    reporter: &Reporter,
) -> Result<TableOutcome, RunError> {
    let table_started = Instant::now();
    let mut evo_guard = ctx.evo.lock().await;
    let evo = &mut *evo_guard;
    let summary = |cp: &Checkpoint, rate: f64, elapsed: Duration| TableSummary {
        source: table.source_table().into(),
        target: table.target_table().into(),
        read: cp.read,
        written: cp.written,
        quarantined: cp.quarantined,
        rows_per_s: rate,
        elapsed_s: elapsed.as_secs_f64(),
    };
    if cp.done {
        // A `rollback --to` may have undone the key built after the load.
        let key = deferred_key_statements(ctx, table).await?;
        if !key.is_empty() {
            ctx.target.transaction(key).await?;
        }
        reporter
            .send(RunEvent::TableFinished {
                table: index,
                progress: progress_of(&cp),
            })
            .await;
        return Ok(TableOutcome {
            summary: summary(&cp, 0.0, Duration::ZERO),
            cancelled: false,
        });
    }
    let new_table = ensure_target_table(ctx, table).await?;
    let created = format!("{}{}", table.target_table(), crate::versions::CREATED);
    record_version(ctx, &created).await?;
    let mut parents = Vec::with_capacity(table.foreign_keys().len());
    for fk in table.foreign_keys() {
        let parent = all.iter().find(|p| points_to(fk, p));
        parents.push(match parent {
            // Tables load in foreign-key order: a parent in the project is done.
            Some(p) if p.target_table() != table.target_table() => {
                let collected = ctx
                    .written_keys
                    .lock()
                    .ok()
                    .and_then(|m| m.get(p.source_table()).cloned());
                match collected {
                    Some(keys) => Some(keys),
                    None => {
                        ParentKeys::load(
                            ctx.source.as_ref(),
                            ctx.target.as_ref(),
                            ctx.run_id,
                            p.source_table(),
                            p.key_column(),
                        )
                        .await?
                    }
                }
            }
            _ => None,
        });
    }

    let sizing = BatchSizing {
        rows: Arc::new(AtomicUsize::new(ctx.pipeline.batch_size)),
        row_bytes: Arc::new(AtomicUsize::new(0)),
        max_bytes: ctx.pipeline.max_batch_bytes,
        min_rows: ctx.pipeline.min_batch,
    };
    let cap = ctx.pipeline.channel_capacity;
    let (src_tx, src_rx) = mpsc::channel::<Result<SourceBatch, DbError>>(cap);
    let (load_tx, transformed_rx) = mpsc::channel::<Result<LoadBatch, DbError>>(cap);

    let after = cp.last_key.as_ref().map(key_from_json);
    let extract = tokio::spawn(extract(
        ctx.source.clone(),
        table.source_table().to_string(),
        table.source_columns().to_vec(),
        table.key_column().to_string(),
        after,
        sizing.clone(),
        src_tx,
    ));
    let profiler = ctx.profiling.enabled.then(|| {
        let growth = ctx.growth_columns.get(table.source_table());
        TableProfiler::new(table, &ctx.profiling, growth.map(String::as_str))
    });
    // Rows an earlier, interrupted run read: this run does not read them again.
    let read_before = cp.read;
    let mut facts = TableFacts {
        def: table.target_def(),
        foreign_keys: table
            .foreign_keys()
            .iter()
            .map(|f| table.target_columns()[f.column].name.clone())
            .collect(),
        nulled_orphans: table
            .foreign_keys()
            .iter()
            .filter(|f| f.on_orphan == OrphanPolicy::Null)
            .map(|f| table.target_columns()[f.column].name.clone())
            .collect(),
        expected_rows: source_rows_of(ctx, index, table)
            .await?
            .saturating_sub(read_before),
        partition_rows: ctx.partition_rows as f64,
    };
    let transform = tokio::task::spawn_blocking({
        let table = table.clone();
        move || transform_stage(table, src_rx, load_tx)
    });
    // Profiling runs on a thread of its own between transform and load, so
    // the two share out the work of a batch instead of adding it up.
    let (mut load_rx, profile) = match profiler {
        None => (transformed_rx, None),
        Some(profiler) => {
            let (tx, rx) = mpsc::channel::<Result<LoadBatch, DbError>>(cap);
            let stage =
                tokio::task::spawn_blocking(move || profile_stage(transformed_rx, tx, profiler));
            (rx, Some(stage))
        }
    };

    let d = ctx.target.dialect();
    let target_cols: Vec<String> = table
        .target_columns()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let key_idx = target_cols
        .iter()
        .position(|c| c == table.target_key())
        .unwrap_or(0);
    let mut st = LoadState {
        started: Instant::now(),
        rows_this_run: 0,
        last_report: Instant::now() - Duration::from_secs(1),
        pending_sample: None,
        spent: LoaderTimes::default(),
        inflight: VecDeque::new(),
        last_commit: None,
        // A parent loaded from its first row in this process: its written
        // keys are gathered as its batches commit.
        written_keys: (cp.read == 0 && all.iter().any(|t| references(t, table))).then(|| {
            if new_table {
                KeyCollector::of_new_table()
            } else {
                KeyCollector::default()
            }
        }),
        commands: commands.clone(),
    };
    let mut cancelled = false;
    // A batch is checked while the ones before it are still being written;
    // where the target takes two writers, two batches are written at once
    // and commit in order. Rows that look up parents in their own table wait
    // for every write before them.
    let overlap = !self_referencing(table);
    let depth = ctx.target.concurrent_writes().max(1);

    // Whatever ends the loop, the writes still in flight finish before the
    // table (and the target's lock) is let go.
    let looped: Result<(), RunError> = async {
        let mut mark = Instant::now();
        while let Some(batch) = load_rx.recv().await {
            st.spent.waiting += mark.elapsed();
            mark = Instant::now();
            let mut batch = batch?;
            // Batch boundary: obey pause and cancel before committing more.
            if wait_while_paused(commands, reporter).await == Command::Cancel {
                cancelled = true;
                break;
            }
            if !overlap {
                st.settle_all(ctx, evo, index, &mut cp, &sizing, reporter)
                    .await?;
            }
            fk_checks(ctx, table, &parents, &mut batch).await?;
            unstorable_checks(d, table, &mut batch);
            if let Some(p) = batch.profile.take() {
                // An estimate gives way to the count when it arrives.
                if let Some(n) = latest_source_rows(ctx, index) {
                    facts.expected_rows = n.saturating_sub(read_before);
                }
                for e in evo.on_profile(p, &facts, ctx.target.as_ref()) {
                    reporter.send(e).await;
                }
            }
            quarantine_violations(ctx.target.as_ref(), evo, table, &target_cols, &mut batch).await?;
            if !crate::eventlog::lock::still_held(ctx.target.as_ref()).await? {
                return Err(RunError::Refused(
                    "lost the target lock (its connection dropped): stopped before the next batch; run again to resume".into(),
                ));
            }
            st.spent.checking += mark.elapsed();
            while st.inflight.len() >= depth {
                st.settle_oldest(ctx, evo, index, &mut cp, &sizing, reporter)
                    .await?;
            }
            // A schema change goes in with no batch in flight: none holds the
            // table while its DDL waits for locks, and none was checked
            // without the change.
            let due = st.inflight.is_empty() || {
                let (due, queue) = evo.poll(Some(table.target_table()));
                if let Some(e) = queue {
                    reporter.send(e).await;
                }
                due
            };
            let mut applied = false;
            if due {
                st.settle_all(ctx, evo, index, &mut cp, &sizing, reporter)
                    .await?;
                applied = evolve_between_batches(ctx, evo, table, reporter).await?;
                if applied {
                    let cause = format!(
                        "schema changes applied between batches of {}",
                        table.target_table()
                    );
                    record_version(ctx, &cause).await?;
                }
            }
            // A change applied just now, or one that compares with the rows
            // already in the table, is checked again once they are all in.
            if applied || evo.engine.checks_against_target(table.target_table()) {
                st.settle_all(ctx, evo, index, &mut cp, &sizing, reporter)
                    .await?;
                quarantine_violations(ctx.target.as_ref(), evo, table, &target_cols, &mut batch)
                    .await?;
            }
            let after = st.inflight.back().map_or(&cp, |w| &w.next);
            let (next, event, mut writes) = batch_write(ctx, table, after, &batch, key_idx);
            writes.extra.extend(evo.decision_statements(d));
            writes.rows = RowSet {
                table: table.target_table().to_string(),
                columns: target_cols.clone(),
                rows: std::mem::take(&mut batch.rows),
            };
            // The batch before, when still in flight, commits first.
            let turn = if st.inflight.is_empty() {
                None
            } else {
                st.last_commit.take()
            };
            let (committed, commit_rx) = oneshot::channel();
            st.last_commit = Some(commit_rx);
            let write = tokio::spawn({
                let target = ctx.target.clone();
                async move {
                    let waited = Arc::new(std::sync::Mutex::new(Duration::ZERO));
                    let turn = turn.map(|rx| {
                        let waited = waited.clone();
                        async move {
                            let t = Instant::now();
                            let ok = rx.await.unwrap_or(false);
                            *waited.lock().unwrap() = t.elapsed();
                            ok
                        }
                        .boxed()
                    });
                    let done = target
                        .write_batch_in_turn(writes, turn)
                        .await;
                    let _ = committed.send(done.is_ok());
                    let waited = *waited.lock().unwrap();
                    done.map(|()| waited)
                }
            });
            let keys = st
                .written_keys
                .is_some()
                .then(|| batch.origins.iter().map(|o| o[0].clone()).collect());
            st.inflight.push_back(Inflight {
                write,
                started: Instant::now(),
                keys,
                next,
                read: batch.read,
                sample: batch.sample.take(),
                summary: event,
            });
            mark = Instant::now();
        }
        Ok(())
    }
    .await;
    if let Err(e) = looped {
        while let Some(w) = st.inflight.pop_front() {
            let _ = w.write.await;
        }
        return Err(e);
    }
    drop(load_rx);
    st.settle_all(ctx, evo, index, &mut cp, &sizing, reporter)
        .await?;
    let spent = &st.spent;
    tracing::info!(
        table = table.target_table(),
        batches = spent.batches,
        waiting_s = spent.waiting.as_secs_f64(),
        checking_s = spent.checking.as_secs_f64(),
        writing_s = spent.writing.as_secs_f64(),
        awaiting_writes_s = spent.awaiting.as_secs_f64(),
        "loader time"
    );
    if !cancelled {
        // A stage that ended early reports through its join handle.
        extract
            .await
            .map_err(|e| RunError::Refused(format!("extract task failed: {e}")))??;
        transform
            .await
            .map_err(|e| RunError::Refused(format!("transform task failed: {e}")))?;
        let last_profile = match profile {
            Some(stage) => stage
                .await
                .map_err(|e| RunError::Refused(format!("profile task failed: {e}")))?,
            None => None,
        };
        if let Some(p) = last_profile {
            // Every row is read now, whatever the count or estimate said.
            facts.expected_rows = 0;
            for e in evo.on_profile(p, &facts, ctx.target.as_ref()) {
                reporter.send(e).await;
            }
        }
        // Declared queries on this table, timed before the changes below.
        for v in ctx
            .query_checks
            .iter()
            .filter(|v| v.table.get_ref() == table.target_table())
        {
            crate::validate::query_time::time_before(ctx.target.as_ref(), ctx.run_id, v).await?;
        }
        // The table is loaded: deferred index builds may go now.
        for e in evo.apply(ctx.target.as_ref(), None).await? {
            reporter.send(e).await;
        }
        cp.done = true;
        let mut finish = deferred_key_statements(ctx, table).await?;
        finish.extend(store::checkpoint_statements(
            d,
            ctx.run_id,
            table.source_table(),
            &cp,
        ));
        finish.extend(evo.decision_statements(d));
        ctx.target.transaction(finish).await?;
        let loaded = format!("{} loaded", table.target_table());
        record_version(ctx, &loaded).await?;
        if let Some(keys) = st.written_keys.take().and_then(KeyCollector::finish)
            && let Ok(mut m) = ctx.written_keys.lock()
        {
            m.insert(table.source_table().to_string(), keys);
        }
    }
    let r = rate(st.rows_this_run, st.started);
    reporter
        .send(RunEvent::Progress {
            table: index,
            progress: progress_of(&cp),
            batch_size: sizing.rows.load(Ordering::Relaxed),
            rows_per_s: r,
            sample: st.pending_sample.take(),
        })
        .await;
    if !cancelled {
        reporter
            .send(RunEvent::TableFinished {
                table: index,
                progress: progress_of(&cp),
            })
            .await;
    }
    Ok(TableOutcome {
        summary: summary(&cp, r, table_started.elapsed()),
        cancelled,
    })
}

/// The loader's time for one table, by what it was doing. Writes overlap
/// the checks of the next batch, so the parts add up to more than the whole.
#[derive(Default)]
struct LoaderTimes {
    batches: u64,
    /// For the next batch from the stages before it.
    waiting: Duration,
    /// Foreign keys, storable values, profile and evolution checks, the lock.
    checking: Duration,
    /// Batch transactions, from start to commit.
    writing: Duration,
    /// Of that, the time the loader had nothing else to do.
    awaiting: Duration,
}

/// A batch being written while the next ones are checked.
struct Inflight {
    /// Resolves to the time the write waited for its turn (the commit of
    /// the batch before it), or its error.
    write: tokio::task::JoinHandle<Result<Duration, DbError>>,
    started: Instant,
    /// The checkpoint its transaction writes.
    next: Checkpoint,
    /// Source keys of its rows, when its table's written keys are gathered.
    keys: Option<Vec<Value>>,
    read: u64,
    sample: Option<SampleRow>,
    /// Its `batch_committed` event's summary.
    summary: String,
}

/// The loader's running totals for one table.
struct LoadState {
    started: Instant,
    rows_this_run: u64,
    last_report: Instant,
    pending_sample: Option<SampleRow>,
    spent: LoaderTimes,
    /// Batches written and not yet settled, oldest first.
    inflight: VecDeque<Inflight>,
    /// Resolves when the newest batch in flight has committed (true) or
    /// failed: the next batch's turn.
    last_commit: Option<oneshot::Receiver<bool>>,
    /// The source keys of committed rows, for a table others reference.
    written_keys: Option<KeyCollector>,
    /// The operator's commands, so a `--pace` wait ends on a cancel.
    commands: watch::Receiver<Command>,
}

impl LoadState {
    /// Waits for the oldest batch in flight to commit, then does what follows
    /// a commit: the batch size, memory, pacing and progress. Nothing when no
    /// batch is in flight.
    async fn settle_oldest(
        &mut self,
        ctx: &RunContext,
        evo: &mut LiveEvolution,
        index: usize,
        cp: &mut Checkpoint,
        sizing: &BatchSizing,
        reporter: &Reporter,
    ) -> Result<(), RunError> {
        let Some(w) = self.inflight.pop_front() else {
            return Ok(());
        };
        let waited = Instant::now();
        let turn = w
            .write
            .await
            .map_err(|e| RunError::Refused(format!("write task failed: {e}")))??;
        // Its own time: waiting for the batch before it to commit is not.
        let took = w.started.elapsed().saturating_sub(turn);
        self.spent.awaiting += waited.elapsed();
        self.spent.writing += took;
        self.spent.batches += 1;
        if w.read > 0 {
            evo.engine.seconds_per_row = took.as_secs_f64() / w.read as f64;
        }
        adapt_batch_size(
            &sizing.rows,
            sizing.row_bytes.load(Ordering::Relaxed),
            &ctx.pipeline,
            w.read as usize,
            took,
        );
        *cp = w.next;
        if let (Some(c), Some(keys)) = (self.written_keys.as_mut(), &w.keys) {
            keys.iter().for_each(|k| c.add(k));
        }
        self.rows_this_run += w.read;
        if w.sample.is_some() {
            self.pending_sample = w.sample;
        }
        if let Some(pace) = ctx.pace.filter(|p| *p > 0.0) {
            let due = Duration::from_secs_f64(self.rows_this_run as f64 / pace);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                // A stop is obeyed at the next batch boundary, not after the pause.
                let commands = &mut self.commands;
                let cancelled = async move {
                    if commands.wait_for(|c| *c == Command::Cancel).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancelled => {}
                }
            }
        }
        if self.last_report.elapsed() >= Duration::from_millis(200) {
            self.last_report = Instant::now();
            reporter
                .send(RunEvent::Progress {
                    table: index,
                    progress: progress_of(cp),
                    batch_size: sizing.rows.load(Ordering::Relaxed),
                    rows_per_s: rate(self.rows_this_run, self.started),
                    sample: self.pending_sample.take(),
                })
                .await;
            reporter
                .send(RunEvent::Logged {
                    id: 0,
                    kind: kind::BATCH_COMMITTED.into(),
                    summary: w.summary,
                })
                .await;
        }
        Ok(())
    }

    /// [`LoadState::settle_oldest`] until no batch is in flight.
    async fn settle_all(
        &mut self,
        ctx: &RunContext,
        evo: &mut LiveEvolution,
        index: usize,
        cp: &mut Checkpoint,
        sizing: &BatchSizing,
        reporter: &Reporter,
    ) -> Result<(), RunError> {
        while !self.inflight.is_empty() {
            self.settle_oldest(ctx, evo, index, cp, sizing, reporter)
                .await?;
        }
        Ok(())
    }
}

/// Records the target's schema as a new version when it changed (SPEC §9).
async fn record_version(ctx: &RunContext, cause: &str) -> Result<(), RunError> {
    if let Some(v) =
        crate::versions::record(ctx.target.as_ref(), ctx.run_id, cause, &ctx.target_tables).await?
    {
        tracing::info!(version = v, cause, "schema version recorded");
    }
    Ok(())
}

/// Applies the schema changes whose time has come (no batch may be in
/// flight). True when one was applied.
async fn evolve_between_batches(
    ctx: &RunContext,
    evo: &mut LiveEvolution,
    table: &CompiledTable,
    reporter: &Reporter,
) -> Result<bool, RunError> {
    let mut applied = false;
    for e in evo
        .apply(ctx.target.as_ref(), Some(table.target_table()))
        .await?
    {
        applied |= matches!(&e, RunEvent::Logged { kind: k, .. } if k == kind::DDL_APPLIED);
        reporter.send(e).await;
    }
    Ok(applied)
}

/// A batch's transaction besides its rows: its quarantined rows, the
/// `batch_committed` event with its inverse, and the checkpoint that follows
/// `cp` (`rows` is left for the caller). Returns that checkpoint and the
/// event's summary too.
fn batch_write(
    ctx: &RunContext,
    table: &CompiledTable,
    cp: &Checkpoint,
    batch: &LoadBatch,
    key_idx: usize,
) -> (Checkpoint, String, BatchWrite) {
    let d = ctx.target.dialect();
    let batch_no = cp.batch_no + 1;
    let n_written = batch.rows.len() as u64;
    let n_quarantined = batch.quarantined.len() as u64;
    let mut inverse = Vec::new();
    if !batch.rows.is_empty() {
        inverse.push(store::delete_by_keys(
            d,
            table.target_table(),
            table.target_key(),
            batch.rows.iter().map(|r| &r[key_idx]),
        ));
    }
    if n_quarantined > 0 {
        inverse.push(format!(
            "DELETE FROM {} WHERE {} = {} AND {} = {} AND {} = {}",
            d.quote_ident(store::QUARANTINE),
            d.quote_ident("run_id"),
            store::literal(&Value::Text(ctx.run_id.to_string())),
            d.quote_ident("source_table"),
            store::literal(&Value::Text(table.source_table().into())),
            d.quote_ident("batch_no"),
            batch_no
        ));
    }
    let next = Checkpoint {
        batch_no,
        last_key: Some(batch.last_key.to_json()),
        read: cp.read + batch.read,
        written: cp.written + n_written,
        quarantined: cp.quarantined + n_quarantined,
        done: false,
    };
    let event = NewEvent {
        run_id: ctx.run_id,
        kind: kind::BATCH_COMMITTED,
        table: Some(table.target_table()),
        summary: format!(
            "batch {batch_no} of {}: keys {}..{}, {n_written} rows, {n_quarantined} quarantined",
            table.target_table(),
            batch.first_key.render(),
            batch.last_key.render()
        ),
        detail: json!({
            "batch": batch_no,
            "source_table": table.source_table(),
            "first_key": batch.first_key.to_json(),
            "last_key": batch.last_key.to_json(),
            "read": batch.read,
            "written": n_written,
            "quarantined": n_quarantined,
        }),
        inverse,
    };
    let side = store::quarantine_rows(
        ctx.run_id,
        table.source_table(),
        batch_no,
        &batch.quarantined,
    );
    let mut extra = vec![store::event_statement(d, &event)];
    extra.extend(store::checkpoint_statements(
        d,
        ctx.run_id,
        table.source_table(),
        &next,
    ));
    let write = BatchWrite {
        rows: RowSet::default(),
        side: side.into_iter().collect(),
        extra,
    };
    (next, event.summary, write)
}

fn rate(rows: u64, since: Instant) -> f64 {
    let s = since.elapsed().as_secs_f64();
    if s > 0.0 { rows as f64 / s } else { 0.0 }
}

fn progress_of(cp: &Checkpoint) -> TableProgress {
    TableProgress {
        read: cp.read,
        written: cp.written,
        quarantined: cp.quarantined,
    }
}

/// Blocks while paused; returns the command in force when it may go on.
async fn wait_while_paused(
    commands: &mut watch::Receiver<Command>,
    reporter: &Reporter,
) -> Command {
    let mut announced = false;
    loop {
        let c = *commands.borrow_and_update();
        match c {
            Command::Pause => {
                if !announced {
                    announced = true;
                    reporter
                        .send(RunEvent::StateChanged(RunState::Paused))
                        .await;
                }
                if commands.changed().await.is_err() {
                    return Command::Cancel;
                }
            }
            other => {
                if announced && other == Command::Run {
                    reporter
                        .send(RunEvent::StateChanged(RunState::Running))
                        .await;
                }
                return other;
            }
        }
    }
}

/// The feedback loop: aim for commits of about a quarter second.
fn adapt_batch_size(
    size: &AtomicUsize,
    row_bytes: usize,
    cfg: &crate::project::model::PipelineSection,
    rows: usize,
    took: Duration,
) {
    if !cfg.adaptive || rows == 0 {
        return;
    }
    let target = Duration::from_millis(250).as_secs_f64();
    let per_row = took.as_secs_f64().max(1e-6) / rows as f64;
    let ideal = (target / per_row) as usize;
    let current = size.load(Ordering::Relaxed);
    // Move halfway to the ideal, so one slow commit does not halve throughput.
    let next = ((current + ideal) / 2).clamp(cfg.min_batch, cfg.max_batch);
    size.store(
        next.min(rows_within(cfg.max_batch_bytes, row_bytes, cfg.min_batch)),
        Ordering::Relaxed,
    );
}

/// How many rows of `row_bytes` fit in `max_bytes` (at least `min_rows`).
fn rows_within(max_bytes: usize, row_bytes: usize, min_rows: usize) -> usize {
    max_bytes
        .checked_div(row_bytes)
        .map_or(usize::MAX, |rows| rows.max(min_rows))
}

/// The batch size both the feedback loop and the byte budget steer; the
/// extractor and the loader each hold a copy of the same counters.
#[derive(Clone)]
struct BatchSizing {
    rows: Arc<AtomicUsize>,
    /// Average in-memory size of a source row, measured by the extractor.
    row_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    min_rows: usize,
}

fn key_from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Null => Value::Null,
        other => Value::Text(other.to_string()),
    }
}

async fn extract(
    source: Db,
    table: String,
    columns: Vec<String>,
    key: String,
    mut after: Option<Value>,
    sizing: BatchSizing,
    tx: mpsc::Sender<Result<SourceBatch, DbError>>,
) -> Result<(), DbError> {
    let d = source.dialect();
    let first = d.select_page(&table, &columns, &key, false);
    let next = d.select_page(&table, &columns, &key, true);
    loop {
        let limit = Value::Int(sizing.rows.load(Ordering::Relaxed) as i64);
        let rows = match &after {
            None => source.query(&first, &[limit]).await,
            Some(k) => source.query(&next, &[k.clone(), limit]).await,
        };
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                let _ = tx.send(Err(e)).await;
                return Err(DbError::Unsupported(msg));
            }
        };
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last[0].clone());
        let bytes: usize = rows.iter().flatten().map(Value::footprint).sum();
        let per_row = bytes / rows.len();
        sizing.row_bytes.store(per_row, Ordering::Relaxed);
        let cap = rows_within(sizing.max_bytes, per_row, sizing.min_rows);
        sizing.rows.fetch_min(cap, Ordering::Relaxed);
        if tx.send(Ok(SourceBatch { rows })).await.is_err() {
            // The loader stopped (cancel or failure): nothing more to read.
            return Ok(());
        }
    }
}

fn transform_stage(
    table: Arc<CompiledTable>,
    mut rx: mpsc::Receiver<Result<SourceBatch, DbError>>,
    tx: mpsc::Sender<Result<LoadBatch, DbError>>,
) -> TransformStats {
    let mut stats = TransformStats::default();
    let cols = table.source_columns().to_vec();
    let target_cols: Vec<String> = table
        .target_columns()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    while let Some(batch) = rx.blocking_recv() {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                break;
            }
        };
        let read = batch.rows.len() as u64;
        let first_key = batch
            .rows
            .first()
            .map(|r| r[0].clone())
            .unwrap_or(Value::Null);
        let last_key = batch
            .rows
            .last()
            .map(|r| r[0].clone())
            .unwrap_or(Value::Null);
        let mut rows = Vec::with_capacity(batch.rows.len());
        let mut origins = Vec::with_capacity(batch.rows.len());
        let mut quarantined = Vec::new();
        let mut failed = Vec::new();
        let mut sample = None;
        for (at, src) in batch.rows.into_iter().enumerate() {
            match table.transform_row(&src, &mut stats) {
                Ok(out) => {
                    if sample.is_none() {
                        sample = Some(SampleRow {
                            before: pairs(&cols, &src),
                            after: pairs(&target_cols, &out),
                            quarantined: None,
                        });
                    }
                    rows.push(out);
                    origins.push(src);
                }
                Err(f) => {
                    quarantined.push(QuarantinedRow {
                        source_key: src[0].render(),
                        rule: f.rule,
                        column: f.column,
                        reason: f.reason,
                        raw_row: raw_row(&cols, &src),
                    });
                    failed.push((at, src));
                }
            }
        }
        let out = LoadBatch {
            rows,
            quarantined,
            origins,
            first_key,
            last_key,
            read,
            sample,
            failed,
            profile: None,
        };
        if tx.blocking_send(Ok(out)).is_err() {
            break;
        }
    }
    stats
}

/// Profiles each transformed batch, in row order, on its way to the loader;
/// returns the profile of the whole table when the batches stop.
fn profile_stage(
    mut rx: mpsc::Receiver<Result<LoadBatch, DbError>>,
    tx: mpsc::Sender<Result<LoadBatch, DbError>>,
    mut profiler: TableProfiler,
) -> Option<TableProfileSnapshot> {
    let mut last_profile: Option<Instant> = None;
    while let Some(batch) = rx.blocking_recv() {
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                break;
            }
        };
        let mut failed = std::mem::take(&mut batch.failed).into_iter().peekable();
        let mut loaded = batch.rows.iter().zip(&batch.origins);
        for at in 0..batch.read as usize {
            if failed.peek().is_some_and(|(i, _)| *i == at) {
                if let Some((_, src)) = failed.next() {
                    profiler.observe(&src, None);
                }
            } else if let Some((out, src)) = loaded.next() {
                profiler.observe(src, Some(out));
            }
        }
        // Snapshots cost a sort of the heavy hitters: a few per second is enough.
        let due = last_profile.is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due {
            last_profile = Some(Instant::now());
            batch.profile = Some(profiler.snapshot());
        }
        if tx.blocking_send(Ok(batch)).is_err() {
            return None;
        }
    }
    Some(profiler.snapshot())
}

fn pairs(cols: &[String], row: &Row) -> Vec<(String, String)> {
    cols.iter()
        .zip(row)
        .map(|(c, v)| {
            let mut s = v.render();
            if s.chars().count() > 60 {
                s = format!("{}…", s.chars().take(60).collect::<String>());
            }
            (c.clone(), s)
        })
        .collect()
}

/// The source row as JSON; byte strings as hex so nothing is lost.
pub fn raw_row(cols: &[String], row: &Row) -> serde_json::Value {
    let map = cols
        .iter()
        .zip(row)
        .map(|(c, v)| {
            let j = match v {
                Value::Bytes(b) => {
                    json!({ "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>() })
                }
                other => other.to_json(),
            };
            (c.clone(), j)
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Moves rows holding a value the target cannot store (NUL in PostgreSQL
/// text, NaN in MySQL) to quarantine, so they never fail the whole batch.
fn unstorable_checks(d: &dyn crate::db::Dialect, table: &CompiledTable, batch: &mut LoadBatch) {
    let cols = table.source_columns();
    let mut kept_rows = Vec::with_capacity(batch.rows.len());
    let mut kept_origins = Vec::with_capacity(batch.rows.len());
    for (row, origin) in batch.rows.drain(..).zip(batch.origins.drain(..)) {
        let bad = row
            .iter()
            .enumerate()
            .find_map(|(i, v)| d.unstorable(v).map(|reason| (i, reason)));
        match bad {
            None => {
                kept_rows.push(row);
                kept_origins.push(origin);
            }
            Some((i, reason)) => batch.quarantined.push(QuarantinedRow {
                source_key: origin[0].render(),
                rule: "target".into(),
                column: table.target_columns()[i].name.clone(),
                reason,
                raw_row: raw_row(cols, &origin),
            }),
        }
    }
    batch.rows = kept_rows;
    batch.origins = kept_origins;
}

/// Moves rows that break a change applied during the run to quarantine.
async fn quarantine_violations(
    target: &dyn crate::db::Database,
    evo: &LiveEvolution,
    table: &CompiledTable,
    target_cols: &[String],
    batch: &mut LoadBatch,
) -> Result<(), RunError> {
    let bad = evo
        .engine
        .violations(target, table.target_table(), target_cols, &batch.rows)
        .await?;
    for (i, id, column, reason) in bad.into_iter().rev() {
        batch.rows.remove(i);
        let origin = batch.origins.remove(i);
        batch.quarantined.push(QuarantinedRow {
            source_key: origin[0].render(),
            rule: id,
            column,
            reason,
            raw_row: raw_row(table.source_columns(), &origin),
        });
    }
    Ok(())
}

/// Looks up the batch's foreign keys in the parents' target tables and applies
/// each column's orphan policy. `parents` (one per foreign key) answers for
/// the parent rows this run wrote; only the other values go to the target.
async fn fk_checks(
    ctx: &RunContext,
    table: &CompiledTable,
    parents: &[Option<ParentKeys>],
    batch: &mut LoadBatch,
) -> Result<(), RunError> {
    let d = ctx.target.dialect();
    for (fk, parent) in table.foreign_keys().iter().zip(parents) {
        if fk.on_orphan == OrphanPolicy::Keep {
            continue;
        }
        // Exact integers only: the key rule derives the parent's key from the
        // value as it is, so `42` and `"42"` are different parents.
        let known: Vec<bool> = batch
            .origins
            .iter()
            .map(|o| match (parent, fk.source_column.map(|c| &o[c])) {
                (Some(p), Some(Value::Int(k))) => p.contains(*k),
                _ => false,
            })
            .collect();
        let mut wanted: Vec<Value> = Vec::new();
        let mut seen = HashSet::new();
        // A parent table this run created holds no row outside its bitmap.
        let look_up = !parent.as_ref().is_some_and(ParentKeys::whole_table);
        for (r, _) in batch
            .rows
            .iter()
            .zip(&known)
            .filter(|(_, k)| look_up && !**k)
        {
            let v = &r[fk.column];
            if !v.is_null() && seen.insert(v.render()) {
                wanted.push(v.clone());
            }
        }
        let mut found = HashSet::new();
        let per_query = d.max_bind_params().min(1000);
        for chunk in wanted.chunks(per_query) {
            // Pad to a power of two with a repeated key, so a handful of
            // prepared statements serve every batch.
            let mut chunk = chunk.to_vec();
            let padded = chunk.len().next_power_of_two().min(per_query);
            chunk.resize(padded, chunk[0].clone());
            let chunk = chunk.as_slice();
            let marks: Vec<String> = (1..=chunk.len()).map(|i| d.placeholder(i)).collect();
            let sql = format!(
                "SELECT {k} FROM {t} WHERE {k} IN ({})",
                marks.join(", "),
                k = d.quote_ident(&fk.parent_key),
                t = d.quote_ident(&fk.parent_table),
            );
            for r in ctx.target.query(&sql, chunk).await? {
                found.insert(r[0].render());
            }
        }
        let column = table.target_columns()[fk.column].name.clone();
        let mut kept_rows = Vec::with_capacity(batch.rows.len());
        let mut kept_origins = Vec::with_capacity(batch.rows.len());
        let cols = table.source_columns();
        let rows = batch.rows.drain(..).zip(batch.origins.drain(..));
        for ((mut row, origin), known) in rows.zip(known) {
            let v = &row[fk.column];
            if known || v.is_null() || found.contains(&v.render()) {
                kept_rows.push(row);
                kept_origins.push(origin);
                continue;
            }
            match fk.on_orphan {
                OrphanPolicy::Null | OrphanPolicy::Keep => {
                    row[fk.column] = Value::Null;
                    kept_rows.push(row);
                    kept_origins.push(origin);
                }
                OrphanPolicy::Quarantine => batch.quarantined.push(QuarantinedRow {
                    source_key: origin[0].render(),
                    rule: "foreign_key".into(),
                    column: column.clone(),
                    reason: format!(
                        "orphan: no row in {} with {} = {}",
                        fk.parent_table,
                        fk.parent_key,
                        v.render()
                    ),
                    raw_row: raw_row(cols, &origin),
                }),
            }
        }
        batch.rows = kept_rows;
        batch.origins = kept_origins;
    }
    Ok(())
}

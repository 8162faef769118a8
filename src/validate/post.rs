//! Checks on the target after a run: counts reconcile with the source and the
//! quarantine, keys are unique, columns have their types, foreign keys
//! resolve, a random sample re-transforms to what landed, and the project's
//! own `[[validations]]` hold. Each is its own future, so a few run at once
//! and one slow foreign-key probe does not hold up the rest.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::{self, BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::{CheckResult, CheckStatus, Phase, count_orphans, examples, run_bounded, scalar};
use crate::db::{Database, DbError};
use crate::eventlog::store::QUARANTINE;
use crate::project::Project;
use crate::schema::{ColumnType, TableInfo};
use crate::transform::{CompiledTable, ForeignKeyCheck, OrphanPolicy};
use crate::value::Value;

/// Post-run checks in flight at once by default: two big probes overlap on a
/// server. The command line asks the target's dialect instead
/// (`Dialect::concurrent_scans`: one on SQLite, whose connections share a
/// page cache).
pub const POST_CHECKS_IN_FLIGHT: usize = 2;

/// Knobs of the post-migration checks.
#[derive(Debug, Clone)]
pub struct PostOptions {
    /// Source rows per table re-read and re-transformed.
    pub sample: usize,
    /// Seed of the sample, so a failing check can be reproduced.
    pub seed: u64,
    /// Count only this run's quarantine (a target may hold older runs').
    pub run_id: Option<Uuid>,
    /// Checks run at once; 1 runs them one after another.
    pub in_flight: usize,
    /// Rows each target table holds, when known (the run just wrote them):
    /// foreign-key probes, one per child row and the longest checks by far,
    /// start first, the largest child first.
    pub table_rows: HashMap<String, u64>,
}

impl Default for PostOptions {
    fn default() -> Self {
        Self {
            sample: 50,
            seed: 0x5eed,
            run_id: None,
            in_flight: POST_CHECKS_IN_FLIGHT,
            table_rows: HashMap::new(),
        }
    }
}

/// All post-migration checks, table by table, then the project's own; the
/// results come back in that order whichever finishes first.
pub async fn run_post(
    project: &Project,
    source: &dyn Database,
    target: &dyn Database,
    tables: &[Arc<CompiledTable>],
    options: &PostOptions,
) -> Vec<CheckResult> {
    let in_flight = options.in_flight.max(1);
    // Which checks a table gets depends on its columns: read them first.
    let reads: Vec<_> = tables
        .iter()
        .map(|t| target.table_info(t.target_table()))
        .collect();
    let infos: Vec<_> = stream::iter(reads).buffered(in_flight).collect().await;
    // Types an accepted recommendation narrowed are not the mapping's, on purpose.
    let mut narrowed = match crate::eventlog::applied_changes(target).await {
        Ok(applied) => crate::eventlog::narrowed_types(&applied),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the applied schema changes");
            HashMap::new()
        }
    };
    let mut checks = Vec::new();
    let mut counts = Vec::new();
    for (table, info) in tables.iter().zip(infos) {
        let info = info.ok().flatten();
        let source_rows = Arc::new(SourceRows::default());
        counts.push((table, source_rows.clone()));
        let narrowed = narrowed.remove(table.target_table()).unwrap_or_default();
        checks.extend(table_checks(
            source,
            target,
            table,
            info,
            narrowed,
            options,
            source_rows,
        ));
    }
    for rule in &project.file.validations {
        if !super::query_time::is_query_time(rule) {
            checks.push((0, super::project_rules::run(target, rule, tables).boxed()));
        }
    }
    // The source counts are full scans on the source server: where it serves
    // large reads side by side, they start at once, beside the target's
    // checks, instead of holding a target slot each while the source counts.
    let scans = source.dialect().concurrent_scans();
    let prefetch = async {
        if scans > 1 {
            let started: Vec<BoxFuture<'_, ()>> = counts
                .iter()
                .map(|(t, rows)| rows.prefetch(source, t).boxed())
                .collect();
            stream::iter(started)
                .buffer_unordered(scans)
                .collect::<Vec<()>>()
                .await;
        }
    };
    let (mut results, ()) = future::join(run_bounded(checks, in_flight), prefetch).await;
    // Declared queries are timed last, one at a time, with nothing else running.
    for rule in &project.file.validations {
        if super::query_time::is_query_time(rule) {
            results
                .push(super::timed(super::query_time::check(target, rule, options.run_id)).await);
        }
    }
    results
}

/// The checks of one table, in a fixed order, not started yet.
fn table_checks<'a>(
    source: &'a dyn Database,
    target: &'a dyn Database,
    table: &'a CompiledTable,
    info: Option<TableInfo>,
    narrowed: HashMap<String, ColumnType>,
    options: &'a PostOptions,
    source_rows: Arc<SourceRows>,
) -> Vec<(u64, BoxFuture<'a, CheckResult>)> {
    let Some(info) = info else {
        let mut c = new(format!("{}: exists", table.target_table()), table);
        c.status = CheckStatus::Failed;
        c.message = format!("target table {} does not exist", table.target_table());
        return vec![(0, future::ready(c).boxed())];
    };
    let enforced = sole_key_column(&info, table.target_key());
    // The count and the sample both need the source's row count: one query.
    let mut out = vec![
        (
            0,
            reconcile(source, target, table, options, source_rows.clone()).boxed(),
        ),
        (0, key_uniqueness(target, table, enforced).boxed()),
        (
            0,
            async move { types(target, table, &info, &narrowed) }.boxed(),
        ),
    ];
    let probes = options
        .table_rows
        .get(table.target_table())
        .copied()
        .unwrap_or(0);
    for fk in table.foreign_keys() {
        out.push((probes, foreign_key(target, table, fk).boxed()));
    }
    out.push((
        0,
        super::sample::compare(source, target, table, options, source_rows).boxed(),
    ));
    out
}

/// A source table's row count, read once for the checks that share it.
#[derive(Default)]
pub(super) struct SourceRows(tokio::sync::OnceCell<i64>);

impl SourceRows {
    fn count_sql(source: &dyn Database, table: &CompiledTable) -> String {
        format!(
            "SELECT COUNT(*) FROM {}",
            source.dialect().quote_ident(table.source_table())
        )
    }

    async fn init(&self, source: &dyn Database, sql: &str) -> Result<i64, DbError> {
        self.0
            .get_or_try_init(|| async {
                let rows = source.query(sql, &[]).await?;
                Ok::<_, DbError>(rows.first().and_then(|r| r.first()?.as_i64()).unwrap_or(0))
            })
            .await
            .copied()
    }

    /// Counts ahead of the checks; an error is left for them to report.
    async fn prefetch(&self, source: &dyn Database, table: &CompiledTable) {
        let _ = self.init(source, &Self::count_sql(source, table)).await;
    }

    /// The count, from the first caller's query (each caller's check lists
    /// the SQL, so every check shows what its numbers came from).
    pub(super) async fn get(
        &self,
        source: &dyn Database,
        table: &CompiledTable,
        c: &mut CheckResult,
    ) -> Result<i64, DbError> {
        let sql = Self::count_sql(source, table);
        let n = self.init(source, &sql).await;
        c.sql.push(sql);
        n
    }
}

/// True when the catalog says `key` alone is the table's primary key and
/// cannot be NULL: the database then already refuses duplicates.
fn sole_key_column(info: &TableInfo, key: &str) -> bool {
    let mut pk = info.columns.iter().filter(|c| c.primary_key);
    matches!((pk.next(), pk.next()), (Some(c), None) if c.name == key && !c.nullable)
}

fn new(name: String, table: &CompiledTable) -> CheckResult {
    CheckResult::new(name, Phase::Post, Some(table.target_table()))
}

/// source = target + quarantine, per table.
async fn reconcile(
    source: &dyn Database,
    target: &dyn Database,
    table: &CompiledTable,
    options: &PostOptions,
    source_rows: Arc<SourceRows>,
) -> CheckResult {
    let mut c = new(
        format!("{}: source = target + quarantine", table.target_table()),
        table,
    );
    let run = async {
        let src = source_rows.get(source, table, &mut c).await?;
        let d = target.dialect();
        let tgt = scalar(
            target,
            format!(
                "SELECT COUNT(*) FROM {}",
                d.quote_ident(table.target_table())
            ),
            &[],
            &mut c,
        )
        .await?;
        let mut sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} = {}",
            d.quote_ident(QUARANTINE),
            d.quote_ident("source_table"),
            d.placeholder(1)
        );
        let mut params = vec![Value::Text(table.source_table().into())];
        if let Some(run) = options.run_id {
            sql.push_str(&format!(
                " AND {} = {}",
                d.quote_ident("run_id"),
                d.placeholder(2)
            ));
            params.push(Value::Text(run.to_string()));
        }
        let q = scalar(target, sql, &params, &mut c).await?;
        c.count("source", src)
            .count("target", tgt)
            .count("quarantine", q);
        let diff = src - tgt - q;
        let n = |v: i64| crate::recommend::thousands(v.unsigned_abs());
        c.judge(
            diff.abs(),
            CheckStatus::Failed,
            format!(
                "{} source rows, {} in the target, {} quarantined{}",
                n(src),
                n(tgt),
                n(q),
                match diff {
                    0 => String::new(),
                    d if d > 0 => format!(": {} rows missing", n(d)),
                    d => format!(": {} rows too many", n(-d)),
                }
            ),
        );
        Ok::<_, DbError>(())
    };
    match run.await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

/// No key value twice. When the catalog shows the key is the primary key
/// (`enforced`), the database has checked every row already and the check
/// says so instead of grouping the whole table again.
async fn key_uniqueness(db: &dyn Database, table: &CompiledTable, enforced: bool) -> CheckResult {
    let mut c = new(format!("{}: key uniqueness", table.target_table()), table);
    let d = db.dialect();
    if enforced {
        c.sql.push(format!(
            "-- catalog: primary key of {}",
            d.quote_ident(table.target_table())
        ));
        c.judge(
            0,
            CheckStatus::Failed,
            format!(
                "{} is the primary key: the database refuses duplicates",
                table.target_key()
            ),
        );
        return c;
    }
    let (t, k) = (
        d.quote_ident(table.target_table()),
        d.quote_ident(table.target_key()),
    );
    let groups = format!("SELECT {k}, COUNT(*) FROM {t} GROUP BY {k} HAVING COUNT(*) > 1");
    let run = async {
        let n = scalar(
            db,
            format!("SELECT COUNT(*) FROM ({groups}) {}", d.quote_ident("dup")),
            &[],
            &mut c,
        )
        .await?;
        if n > 0 {
            examples(
                db,
                format!("{groups} LIMIT 5"),
                &[],
                &[table.target_key(), "copies"],
                &mut c,
            )
            .await?;
        }
        c.judge(
            n,
            CheckStatus::Failed,
            format!("{n} duplicated values of {}", table.target_key()),
        );
        Ok::<_, DbError>(())
    };
    match run.await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

/// Every mapped column is there, with the type the mapping resolved or the
/// one an applied recommendation narrowed it to (`narrowed`: column → type).
fn types(
    db: &dyn Database,
    table: &CompiledTable,
    info: &TableInfo,
    narrowed: &HashMap<String, ColumnType>,
) -> CheckResult {
    let mut c = new(format!("{}: column types", table.target_table()), table);
    let d = db.dialect();
    // Types come from the dialect's catalog introspection, not a query of ours.
    c.sql.push(format!(
        "-- catalog: columns of {}",
        d.quote_ident(table.target_table())
    ));
    c.sql
        .push("-- event log: narrowings applied and not undone".into());
    let mut missing = 0;
    let mut differ = 0;
    let mut evolved = 0;
    for def in table.target_columns() {
        let Some(col) = info.column(&def.name) else {
            missing += 1;
            c.examples.push(format!("{}: missing", def.name));
            continue;
        };
        let live = d.parse_native_type(&col.native_type);
        if live == def.column_type {
            continue;
        }
        if narrowed.get(&def.name) == Some(&live) {
            evolved += 1;
            continue;
        }
        differ += 1;
        c.examples.push(format!(
            "{}: {} where the mapping says {}",
            def.name, col.native_type, def.column_type
        ));
    }
    c.examples.truncate(super::MAX_EXAMPLES);
    c.count("columns", table.target_columns().len() as i64)
        .count("missing", missing)
        .count("different_type", differ)
        .count("narrowed", evolved);
    c.status = if missing > 0 {
        CheckStatus::Failed
    } else if differ > 0 {
        // Changed by hand, or by a change flightdeck did not log.
        CheckStatus::Warning
    } else {
        CheckStatus::Passed
    };
    c.message = format!(
        "{} columns: {missing} missing, {differ} with another type",
        table.target_columns().len()
    );
    if evolved > 0 {
        c.message
            .push_str(&format!(", {evolved} narrowed by applied recommendations"));
    }
    c
}

async fn foreign_key(
    db: &dyn Database,
    table: &CompiledTable,
    fk: &ForeignKeyCheck,
) -> CheckResult {
    let col = &table.target_columns()[fk.column].name;
    let mut c = new(
        format!(
            "{}: {col} resolves in {}.{}",
            table.target_table(),
            fk.parent_table,
            fk.parent_key
        ),
        table,
    );
    let run = async {
        let n = count_orphans(
            db,
            &mut c,
            (table.target_table(), table.target_key(), col),
            (&fk.parent_table, &fk.parent_key),
        )
        .await?;
        // `keep` writes dangling keys on purpose; anything else must resolve.
        let bad = if fk.on_orphan == OrphanPolicy::Keep {
            CheckStatus::Warning
        } else {
            CheckStatus::Failed
        };
        c.judge(n, bad, format!("{n} values without a parent row"));
        Ok::<_, DbError>(())
    };
    match run.await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::sole_key_column;
    use crate::schema::{ColumnInfo, ColumnType, TableInfo};

    fn table(cols: &[(&str, bool, bool)]) -> TableInfo {
        TableInfo {
            name: "t".into(),
            columns: cols
                .iter()
                .map(|&(name, nullable, primary_key)| ColumnInfo {
                    name: name.into(),
                    native_type: "TEXT".into(),
                    column_type: ColumnType::Text,
                    nullable,
                    primary_key,
                })
                .collect(),
        }
    }

    #[test]
    fn only_a_sole_not_null_primary_key_column_vouches_for_uniqueness() {
        assert!(sole_key_column(
            &table(&[("k", false, true), ("v", true, false)]),
            "k"
        ));
        // Part of a composite key: (k, v) unique says nothing of k alone.
        assert!(!sole_key_column(
            &table(&[("k", false, true), ("v", false, true)]),
            "k"
        ));
        // Another column is the key, or there is none.
        assert!(!sole_key_column(
            &table(&[("k", false, false), ("v", false, true)]),
            "k"
        ));
        assert!(!sole_key_column(&table(&[("k", false, false)]), "k"));
        // SQLite lets a declared key hold several NULLs, which GROUP BY counts.
        assert!(!sole_key_column(&table(&[("k", true, true)]), "k"));
    }
}

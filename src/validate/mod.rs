//! Pre-migration checks on the source and post-migration checks on the target
//! (SPEC §6). Each check reports its status, counts, the SQL it ran and up to
//! five offending rows; a check whose query fails reports that as a failure
//! instead of stopping the others. Plain data in, plain data out: the cockpit
//! and the headless JSON read the same [`CheckResult`]s.

pub mod fingerprint;
mod post;
mod pre;
mod project_rules;
pub mod query_time;
mod sample;

use std::collections::BTreeMap;
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::db::{Database, DbError};
use crate::value::{Row, Value};

pub use post::{POST_CHECKS_IN_FLIGHT, PostOptions, run_post};
pub use pre::run_pre;

/// Most offending rows a check keeps as examples.
pub const MAX_EXAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// On the source, before anything is written.
    Pre,
    /// On the target, after the run.
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    /// Rows will be (or were) quarantined or defaulted; nothing is wrong with
    /// the migration itself.
    Warning,
    /// Nothing to check (an empty table, a missing prerequisite).
    Skipped,
    Failed,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub phase: Phase,
    /// The table checked (source table before, target table after).
    pub table: Option<String>,
    pub status: CheckStatus,
    /// One line of evidence: "0 NULLs in 12000 rows".
    pub message: String,
    /// Named numbers: rows, offending, elapsed_ms, …
    pub counts: BTreeMap<String, i64>,
    /// The SQL the check ran, in order.
    pub sql: Vec<String>,
    /// Up to [`MAX_EXAMPLES`] offending rows, rendered.
    pub examples: Vec<String>,
}

impl CheckResult {
    pub(crate) fn new(name: impl Into<String>, phase: Phase, table: Option<&str>) -> Self {
        Self {
            name: name.into(),
            phase,
            table: table.map(str::to_string),
            status: CheckStatus::Passed,
            message: String::new(),
            counts: BTreeMap::new(),
            sql: Vec::new(),
            examples: Vec::new(),
        }
    }

    fn count(&mut self, key: &str, n: i64) -> &mut Self {
        self.counts.insert(key.into(), n);
        self
    }

    /// `Warning`/`Failed` when `offending > 0`, else `Passed`, with a message.
    fn judge(&mut self, offending: i64, bad: CheckStatus, message: String) {
        self.count("offending", offending);
        self.status = if offending > 0 {
            bad
        } else {
            CheckStatus::Passed
        };
        self.message = message;
    }

    /// A check that could not run is a failed check, with the reason.
    fn failed(mut self, e: &DbError) -> Self {
        self.status = CheckStatus::Failed;
        self.message = format!("could not run: {e}");
        self
    }
}

/// The worst status of a list: what the command's exit code follows.
pub fn any_failed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.status == CheckStatus::Failed)
}

/// One line per check, for the terminal.
pub fn render_text(results: &[CheckResult]) -> String {
    let mut out = String::new();
    for r in results {
        let status = match r.status {
            CheckStatus::Passed => "ok  ",
            CheckStatus::Warning => "warn",
            CheckStatus::Skipped => "skip",
            CheckStatus::Failed => "FAIL",
        };
        out.push_str(&format!("  [{status}] {}: {}\n", r.name, r.message));
        if r.status != CheckStatus::Passed {
            for e in &r.examples {
                out.push_str(&format!("           e.g. {e}\n"));
            }
        }
    }
    out
}

/// Runs `sql` for one number (a COUNT).
async fn scalar(
    db: &dyn Database,
    sql: String,
    params: &[Value],
    check: &mut CheckResult,
) -> Result<i64, DbError> {
    let rows = db.query(&sql, params).await;
    check.sql.push(sql);
    Ok(rows?.first().and_then(|r| r.first()?.as_i64()).unwrap_or(0))
}

/// Runs `sql` and keeps its rows as examples.
async fn examples(
    db: &dyn Database,
    sql: String,
    params: &[Value],
    columns: &[&str],
    check: &mut CheckResult,
) -> Result<(), DbError> {
    let rows = db.query(&sql, params).await;
    check.sql.push(sql);
    check.examples = rows?
        .iter()
        .take(MAX_EXAMPLES)
        .map(|r| render_row(columns, r))
        .collect();
    Ok(())
}

/// `col=value, …`; long values shortened, so a report stays readable.
pub fn render_row(columns: &[&str], row: &Row) -> String {
    row.iter()
        .enumerate()
        .map(|(i, v)| {
            let mut s = v.render();
            if s.chars().count() > 80 {
                s = format!("{}…", s.chars().take(80).collect::<String>());
            }
            match columns.get(i) {
                Some(c) => format!("{c}={s}"),
                None => s,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds since `t`, for timed checks.
fn elapsed_ms(t: Instant) -> i64 {
    t.elapsed().as_millis() as i64
}

/// Records a check's time since `started` in its `elapsed_ms`, and logs it.
fn finish(mut check: CheckResult, started: Instant) -> CheckResult {
    let ms = elapsed_ms(started);
    check.count("elapsed_ms", ms);
    tracing::info!(
        check = %check.name,
        phase = ?check.phase,
        status = ?check.status,
        elapsed_ms = ms,
        "validation check done"
    );
    check
}

/// Runs one check, timed from its start.
async fn timed(check: impl Future<Output = CheckResult>) -> CheckResult {
    let started = Instant::now();
    finish(check.await, started)
}

/// Runs `checks` with at most `in_flight` of them at once, each timed from
/// its start, and returns the results in the order given. Checks start in
/// order of their expected cost, highest first (ties in the order given):
/// a long check started last would run on alone while the other slots idle.
async fn run_bounded(
    checks: Vec<(u64, BoxFuture<'_, CheckResult>)>,
    in_flight: usize,
) -> Vec<CheckResult> {
    let mut numbered: Vec<(u64, usize, BoxFuture<'_, CheckResult>)> = checks
        .into_iter()
        .enumerate()
        .map(|(i, (cost, check))| (cost, i, check))
        .collect();
    numbered.sort_by_key(|(cost, i, _)| (std::cmp::Reverse(*cost), *i));
    // Boxed before the stream, not mapped on it: a closure inside a stream
    // held across an await fails the Send check (rust-lang/rust#102211).
    let started: Vec<BoxFuture<'_, (usize, CheckResult)>> = numbered
        .into_iter()
        .map(|(_, i, check)| async move { (i, timed(check).await) }.boxed())
        .collect();
    // Unordered, so a finished check never keeps its slot waiting for a slow
    // one started before it; the index puts the results back in order.
    let mut done: Vec<(usize, CheckResult)> = stream::iter(started)
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await;
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, c)| c).collect()
}

/// Counts the rows of `child` whose `column` is set but names no row of
/// `parent` by `key`, and keeps up to five of them (child key, value) as
/// examples in `c`.
async fn count_orphans(
    db: &dyn Database,
    c: &mut CheckResult,
    (child, child_key, column): (&str, &str, &str),
    (parent, key): (&str, &str),
) -> Result<i64, DbError> {
    let d = db.dialect();
    let orphans = format!(
        "FROM {t} {c} WHERE {c}.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {pt} {p} WHERE {p}.{pk} = {c}.{col})",
        t = d.quote_ident(child),
        c = d.quote_ident("c"),
        p = d.quote_ident("p"),
        col = d.quote_ident(column),
        pt = d.quote_ident(parent),
        pk = d.quote_ident(key),
    );
    let count = if d.probes_in_sorted_order() {
        // The values sorted first (a subquery with ORDER BY is not flattened),
        // then one lookup each, in key order.
        format!(
            "SELECT COUNT(*) FROM (SELECT {col} AS {v} FROM {t} WHERE {col} IS NOT NULL ORDER BY 1) {c} \
             WHERE NOT EXISTS (SELECT 1 FROM {pt} {p} WHERE {p}.{pk} = {c}.{v})",
            t = d.quote_ident(child),
            c = d.quote_ident("c"),
            p = d.quote_ident("p"),
            v = d.quote_ident("v"),
            col = d.quote_ident(column),
            pt = d.quote_ident(parent),
            pk = d.quote_ident(key),
        )
    } else {
        format!("SELECT COUNT(*) {orphans}")
    };
    let n = scalar(db, count, &[], c).await?;
    if n > 0 {
        examples(
            db,
            format!(
                "SELECT {c}.{k}, {c}.{col} {orphans} ORDER BY {c}.{k} LIMIT 5",
                c = d.quote_ident("c"),
                k = d.quote_ident(child_key),
                col = d.quote_ident(column),
            ),
            &[],
            &[child_key, column],
            c,
        )
        .await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::FutureExt;

    use super::{CheckResult, Phase, run_bounded};

    #[tokio::test]
    async fn costly_checks_start_first_and_results_keep_their_order() {
        let started = Arc::new(Mutex::new(Vec::new()));
        let check = |name: &'static str, cost: u64| {
            let started = started.clone();
            let run = async move {
                started.lock().unwrap().push(name);
                tokio::task::yield_now().await;
                CheckResult::new(name, Phase::Post, None)
            };
            (cost, run.boxed())
        };
        let checks = vec![check("a", 0), check("b", 5), check("c", 0), check("d", 9)];
        let done = run_bounded(checks, 1).await;
        assert_eq!(*started.lock().unwrap(), ["d", "b", "a", "c"]);
        let names: Vec<&str> = done.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }
}

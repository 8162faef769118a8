//! `kind = "query_time"` validations: a query the new platform will run,
//! timed once its table's rows are loaded but before what is built at the
//! end of the load (its primary key, accepted indexes and unique keys), and
//! again after the run. The check
//! fails above `max_ms` and warns when the changes made it slower.

use std::time::Instant;

use uuid::Uuid;

use super::{CheckResult, CheckStatus, Phase};
use crate::db::{Database, DbError};
use crate::eventlog::{kind, store};
use crate::project::model::ValidationSpec;

/// Runs of the query per timing; the median counts.
pub const RUNS: usize = 3;
/// Slower than this factor after the changes is a warning ...
const SLOWER: f64 = 1.5;
/// ... unless the difference is below this (timer and cache noise).
const NOISE_MS: f64 = 5.0;

pub fn is_query_time(v: &ValidationSpec) -> bool {
    v.kind.get_ref() == "query_time"
}

/// Median wall time of [`RUNS`] runs of `sql`, in milliseconds, rows read
/// to the end.
pub async fn time(db: &dyn Database, sql: &str) -> Result<f64, DbError> {
    let mut ms = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        db.query(sql, &[]).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[RUNS / 2])
}

/// Times `v` now and logs it as the run's "before" timing.
pub async fn time_before(
    db: &dyn Database,
    run_id: Uuid,
    v: &ValidationSpec,
) -> Result<(), DbError> {
    let sql = v.sql.clone().unwrap_or_default();
    let (median, error) = match time(db, &sql).await {
        Ok(ms) => (Some(ms), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let event = store::NewEvent {
        run_id,
        kind: kind::QUERY_TIMED,
        table: Some(v.table.get_ref()),
        summary: match median {
            Some(ms) => format!("\"{}\": median {ms:.1} ms before the changes", v.name),
            None => format!("\"{}\" could not be timed", v.name),
        },
        detail: serde_json::json!({
            "validation": v.name,
            "median_ms": median,
            "runs": RUNS,
            "error": error,
        }),
        inverse: vec![],
    };
    db.transaction(vec![store::event_statement(db.dialect(), &event)])
        .await
}

/// The post-run check of `v` against the run's "before" timing.
pub async fn check(target: &dyn Database, v: &ValidationSpec, run_id: Option<Uuid>) -> CheckResult {
    let mut c = CheckResult::new(v.name.clone(), Phase::Post, Some(v.table.get_ref()));
    let sql = v.sql.clone().unwrap_or_default();
    c.sql.push(sql.clone());
    let after = match time(target, &sql).await {
        Ok(ms) => ms,
        Err(e) => return c.failed(&e),
    };
    let before = match run_id {
        Some(run) => before_of(target, run, &v.name).await.unwrap_or(None),
        None => None,
    };
    c.count("after_us", (after * 1000.0).round() as i64);
    if let Some(b) = before {
        c.count("before_us", (b * 1000.0).round() as i64);
    }
    let compared = match before {
        Some(b) if after <= b => format!(
            "; {b:.1} ms before the changes ({:.1}× faster)",
            b / after.max(0.001)
        ),
        Some(b) => format!(
            "; {b:.1} ms before the changes ({:.1}× slower)",
            after / b.max(0.001)
        ),
        None => "; no timing before the changes (the table was not loaded by this run)".into(),
    };
    c.message = format!("median of {RUNS} runs {after:.1} ms{compared}");
    c.status = match (v.max_ms, before) {
        (Some(max), _) if after > max => {
            c.message.push_str(&format!(", over its limit of {max} ms"));
            CheckStatus::Failed
        }
        (_, Some(b)) if after > b * SLOWER && after - b > NOISE_MS => CheckStatus::Warning,
        _ => CheckStatus::Passed,
    };
    c
}

/// The median logged before the changes, for the run's latest timing of `name`.
async fn before_of(db: &dyn Database, run: Uuid, name: &str) -> Result<Option<f64>, DbError> {
    Ok(store::read_run_events_of(db, run, &[kind::QUERY_TIMED])
        .await?
        .iter()
        .rev()
        .find(|e| e.detail["validation"] == name)
        .and_then(|e| e.detail["median_ms"].as_f64()))
}

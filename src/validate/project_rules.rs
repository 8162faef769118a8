//! The project's own `[[validations]]`: business rules on target tables, one
//! check each (timed, like every check, by the caller).

use std::sync::Arc;

use super::{CheckResult, CheckStatus, MAX_EXAMPLES, Phase, render_row};
use crate::db::{Database, DbError};
use crate::project::model::ValidationSpec;
use crate::transform::CompiledTable;
use crate::value::Value;

/// One rule of the project's `[[validations]]`.
pub(super) async fn run(
    target: &dyn Database,
    rule: &ValidationSpec,
    tables: &[Arc<CompiledTable>],
) -> CheckResult {
    let mut c = CheckResult::new(rule.name.clone(), Phase::Post, Some(rule.table.get_ref()));
    let key = tables
        .iter()
        .find(|t| t.target_table() == rule.table.get_ref())
        .map(|t| t.target_key().to_string());
    match check(target, rule, key.as_deref(), &mut c).await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

/// The WHERE clause of offending rows and its parameters, for column kinds.
fn offending(
    target: &dyn Database,
    v: &ValidationSpec,
    col: &str,
) -> Option<(String, Vec<Value>, String)> {
    let d = target.dialect();
    let c = d.quote_ident(col);
    Some(match v.kind.get_ref().as_str() {
        "not_null" => (format!("{c} IS NULL"), vec![], format!("{col} is NULL")),
        "range" => {
            let mut parts = Vec::new();
            let mut params = Vec::new();
            if let Some(min) = v.min {
                params.push(Value::Float(min));
                parts.push(format!("{c} < {}", d.placeholder(params.len())));
            }
            if let Some(max) = v.max {
                params.push(Value::Float(max));
                parts.push(format!("{c} > {}", d.placeholder(params.len())));
            }
            let bounds = format!(
                "[{}, {}]",
                v.min.map_or("-inf".into(), |m| m.to_string()),
                v.max.map_or("inf".into(), |m| m.to_string())
            );
            (
                parts.join(" OR "),
                params,
                format!("{col} outside {bounds}"),
            )
        }
        "in_set" => {
            let values = v.values.clone().unwrap_or_default();
            let marks: Vec<String> = (1..=values.len()).map(|i| d.placeholder(i)).collect();
            let list = if marks.is_empty() {
                "NULL".to_string()
            } else {
                marks.join(", ")
            };
            (
                format!("{c} IS NOT NULL AND {c} NOT IN ({list})"),
                values.into_iter().map(Value::Text).collect(),
                format!("{col} outside its allowed set"),
            )
        }
        _ => return None,
    })
}

async fn check(
    target: &dyn Database,
    v: &ValidationSpec,
    key: Option<&str>,
    c: &mut CheckResult,
) -> Result<(), DbError> {
    let d = target.dialect();
    let t = d.quote_ident(v.table.get_ref());
    let kind = v.kind.get_ref().as_str();
    if kind == "sql" {
        // The operator's own query: its rows are the offending ones.
        let sql = v.sql.clone().unwrap_or_default();
        let rows = target.query(&sql, &[]).await;
        c.sql.push(sql);
        let rows = rows?;
        c.examples = rows
            .iter()
            .take(MAX_EXAMPLES)
            .map(|r| render_row(&[], r))
            .collect();
        c.judge(
            rows.len() as i64,
            CheckStatus::Failed,
            format!("{} offending rows", rows.len()),
        );
        return Ok(());
    }
    let col = v
        .column
        .as_ref()
        .map(|c| c.get_ref().clone())
        .unwrap_or_default();
    let qc = d.quote_ident(&col);
    if kind == "unique" {
        let groups = format!(
            "SELECT {qc}, COUNT(*) FROM {t} WHERE {qc} IS NOT NULL GROUP BY {qc} HAVING COUNT(*) > 1"
        );
        let sql = format!("SELECT COUNT(*) FROM ({groups}) {}", d.quote_ident("dup"));
        let n = super::scalar(target, sql, &[], c).await?;
        if n > 0 {
            super::examples(
                target,
                format!("{groups} LIMIT 5"),
                &[],
                &[&col, "copies"],
                c,
            )
            .await?;
        }
        c.judge(
            n,
            CheckStatus::Failed,
            format!("{n} values of {col} occur more than once"),
        );
        return Ok(());
    }
    let Some((filter, params, what)) = offending(target, v, &col) else {
        c.status = CheckStatus::Skipped;
        c.message = format!("unknown validation kind {kind}");
        return Ok(());
    };
    let n = super::scalar(
        target,
        format!("SELECT COUNT(*) FROM {t} WHERE {filter}"),
        &params,
        c,
    )
    .await?;
    if n > 0 {
        let (select, names): (String, Vec<&str>) = match key {
            Some(k) if k != col => (format!("{}, {qc}", d.quote_ident(k)), vec![k, &col]),
            _ => (qc.clone(), vec![&col]),
        };
        super::examples(
            target,
            format!("SELECT {select} FROM {t} WHERE {filter} LIMIT 5"),
            &params,
            &names,
            c,
        )
        .await?;
    }
    c.judge(n, CheckStatus::Failed, format!("{n} rows with {what}"));
    Ok(())
}

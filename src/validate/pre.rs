//! Checks on the source before anything is written: volume, key uniqueness,
//! completeness of mandatory fields, categorical values outside their map or
//! dictionary, and references to parents that do not exist.

use std::sync::Arc;
use std::time::Instant;

use super::{CheckResult, CheckStatus, Phase, count_orphans, examples, finish, scalar, timed};
use crate::db::{Database, DbError};
use crate::project::Project;
use crate::project::model::TableMapping;
use crate::transform::{CompiledTable, TransformStats};
use crate::value::Value;

/// All pre-migration checks, table by table in run order, one at a time
/// (the source may be in production), each timed.
pub async fn run_pre(
    project: &Project,
    source: &dyn Database,
    tables: &[Arc<CompiledTable>],
) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for (mapping, table) in project.tables().zip(tables) {
        out.push(timed(volume(source, table)).await);
        out.push(timed(key_uniqueness(source, table)).await);
        out.extend(completeness(source, table).await);
        out.extend(categorical(source, table).await);
        out.extend(references(project, source, mapping, table).await);
    }
    out
}

fn new(name: String, table: &CompiledTable) -> CheckResult {
    CheckResult::new(name, Phase::Pre, Some(table.source_table()))
}

async fn volume(db: &dyn Database, table: &CompiledTable) -> CheckResult {
    let mut c = new(format!("{}: volume", table.source_table()), table);
    let d = db.dialect();
    let sql = format!(
        "SELECT COUNT(*) FROM {}",
        d.quote_ident(table.source_table())
    );
    match scalar(db, sql, &[], &mut c).await {
        Ok(n) => {
            c.count("rows", n);
            if n == 0 {
                c.status = CheckStatus::Warning;
                c.message = "the table is empty: nothing to migrate".into();
            } else {
                c.message = format!(
                    "{} rows to migrate",
                    crate::recommend::thousands(n.unsigned_abs())
                );
            }
            c
        }
        Err(e) => c.failed(&e),
    }
}

async fn key_uniqueness(db: &dyn Database, table: &CompiledTable) -> CheckResult {
    let mut c = new(format!("{}: key uniqueness", table.source_table()), table);
    let run = async {
        let d = db.dialect();
        let (t, k) = (
            d.quote_ident(table.source_table()),
            d.quote_ident(table.key_column()),
        );
        let groups = format!(
            "SELECT {k}, COUNT(*) FROM {t} WHERE {k} IS NOT NULL GROUP BY {k} HAVING COUNT(*) > 1"
        );
        let dups = scalar(
            db,
            format!("SELECT COUNT(*) FROM ({groups}) {}", d.quote_ident("dup")),
            &[],
            &mut c,
        )
        .await?;
        let nulls = scalar(
            db,
            format!("SELECT COUNT(*) FROM {t} WHERE {k} IS NULL"),
            &[],
            &mut c,
        )
        .await?;
        if dups > 0 {
            examples(
                db,
                format!("{groups} LIMIT 5"),
                &[],
                &[table.key_column(), "copies"],
                &mut c,
            )
            .await?;
        }
        c.count("duplicate_keys", dups).count("null_keys", nulls);
        // Duplicates collide on the target's primary key: the run would stop.
        c.judge(
            dups,
            CheckStatus::Failed,
            format!("{dups} duplicated values of {}", table.key_column()),
        );
        if dups == 0 && nulls > 0 {
            c.status = CheckStatus::Warning;
            c.message = format!("{nulls} rows without a key will be quarantined");
        }
        Ok::<_, DbError>(())
    };
    match run.await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

/// Source columns feeding NOT NULL target columns must hold a value.
async fn completeness(db: &dyn Database, table: &CompiledTable) -> Vec<CheckResult> {
    let d = db.dialect();
    let mut out = Vec::new();
    for (field, def) in table.fields.iter().zip(table.target_columns()) {
        let Some(src) = field.source.map(|i| table.source_columns()[i].clone()) else {
            continue;
        };
        if def.nullable {
            continue;
        }
        let started = Instant::now();
        let mut c = new(
            format!(
                "{}: {src} is complete (feeds NOT NULL {})",
                table.source_table(),
                def.name
            ),
            table,
        );
        let (t, k, col) = (
            d.quote_ident(table.source_table()),
            d.quote_ident(table.key_column()),
            d.quote_ident(&src),
        );
        let run = async {
            let n = scalar(
                db,
                format!("SELECT COUNT(*) FROM {t} WHERE {col} IS NULL"),
                &[],
                &mut c,
            )
            .await?;
            if n > 0 {
                examples(
                    db,
                    format!("SELECT {k}, {col} FROM {t} WHERE {col} IS NULL ORDER BY {k} LIMIT 5"),
                    &[],
                    &[table.key_column(), &src],
                    &mut c,
                )
                .await?;
            }
            c.judge(
                n,
                CheckStatus::Warning,
                if n == 0 {
                    format!("no NULLs in {src}")
                } else {
                    format!("{n} NULLs in {src}; those rows will be quarantined")
                },
            );
            Ok::<_, DbError>(())
        };
        let c = match run.await {
            Ok(()) => c,
            Err(e) => c.failed(&e),
        };
        out.push(finish(c, started));
    }
    out
}

/// Values of mapped categorical columns that the map, dictionary or lookup
/// does not know: they will be defaulted or quarantined.
async fn categorical(db: &dyn Database, table: &CompiledTable) -> Vec<CheckResult> {
    let d = db.dialect();
    let mut out = Vec::new();
    for (field, def) in table.fields.iter().zip(table.target_columns()) {
        if !matches!(field.rule_name, "value_map" | "canonicalize" | "lookup") {
            continue;
        }
        let Some(idx) = field.source else { continue };
        let src = table.source_columns()[idx].clone();
        let started = Instant::now();
        let mut c = new(
            format!(
                "{}: {src} values are known to {}",
                table.source_table(),
                field.rule_name
            ),
            table,
        );
        let col = d.quote_ident(&src);
        let sql = format!(
            "SELECT {col}, COUNT(*) FROM {} WHERE {col} IS NOT NULL GROUP BY {col}",
            d.quote_ident(table.source_table())
        );
        let rows = db.query(&sql, &[]).await;
        c.sql.push(sql);
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                out.push(finish(c.failed(&e), started));
                continue;
            }
        };
        let mut unknown: Vec<(String, i64, String)> = Vec::new();
        let (mut total, mut outside) = (0i64, 0i64);
        for r in &rows {
            let n = r[1].as_i64().unwrap_or(0);
            total += n;
            let mut input = vec![Value::Null; table.source_columns().len()];
            input[idx] = r[0].clone();
            let mut stats = TransformStats::default();
            let result = field.rule.apply(&r[0], &input, &def.name, &mut stats);
            let unmatched = stats
                .column(&def.name)
                .is_some_and(|s| s.unmatched_total() > 0);
            if result.is_err() || unmatched {
                outside += n;
                let fate = match result {
                    Ok(v) => format!("defaults to {}", v.render()),
                    Err(_) => "quarantined".into(),
                };
                unknown.push((r[0].render(), n, fate));
            }
        }
        unknown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        c.examples = unknown
            .iter()
            .take(super::MAX_EXAMPLES)
            .map(|(v, n, fate)| format!("{src}={v:?} ×{n} ({fate})"))
            .collect();
        c.count("rows", total)
            .count("distinct_values", rows.len() as i64);
        c.count("distinct_unknown", unknown.len() as i64);
        c.judge(
            outside,
            CheckStatus::Warning,
            format!(
                "{outside} of {total} values ({} distinct) fall outside the {}",
                unknown.len(),
                match field.rule_name {
                    "value_map" => "map",
                    "canonicalize" => "dictionary",
                    _ => "lookup",
                }
            ),
        );
        out.push(finish(c, started));
    }
    out
}

/// Child rows whose `foreign_key` column names no parent row in the source.
async fn references(
    project: &Project,
    db: &dyn Database,
    mapping: &TableMapping,
    table: &CompiledTable,
) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for f in &mapping.fields {
        let (Some(parent), Some(col)) = (&f.references, &f.source) else {
            continue;
        };
        let Some(pmap) = project
            .file
            .tables
            .iter()
            .find(|t| t.source.get_ref() == parent.get_ref())
        else {
            continue;
        };
        let policy = f
            .on_orphan
            .as_ref()
            .map_or("quarantine", |p| p.get_ref().as_str());
        let started = Instant::now();
        let mut c = new(
            format!(
                "{}: {} references {}.{}",
                table.source_table(),
                col.get_ref(),
                parent.get_ref(),
                pmap.key.get_ref()
            ),
            table,
        );
        let run = async {
            let n = count_orphans(
                db,
                &mut c,
                (table.source_table(), table.key_column(), col.get_ref()),
                (parent.get_ref(), pmap.key.get_ref()),
            )
            .await?;
            c.judge(
                n,
                CheckStatus::Warning,
                format!("{n} orphan references (on_orphan = {policy})"),
            );
            Ok::<_, DbError>(())
        };
        let c = match run.await {
            Ok(()) => c,
            Err(e) => c.failed(&e),
        };
        out.push(finish(c, started));
    }
    out
}

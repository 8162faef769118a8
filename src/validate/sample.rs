//! The re-transformed sample: random source rows are read again, transformed
//! again with the same compiled rules, and compared field by field with the
//! row that landed (or found in quarantine when the rules reject them).

use std::sync::Arc;

use super::post::SourceRows;
use super::{CheckResult, CheckStatus, Phase, PostOptions};
use crate::db::{Database, DbError};
use crate::eventlog::store::QUARANTINE;
use crate::transform::{CompiledTable, OrphanPolicy, TransformStats};
use crate::value::{Row, Value};

/// SplitMix64: the same sample for the same seed on every machine.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Distinct row offsets in `0..rows`, at most `n`, ascending.
fn offsets(rows: u64, n: usize, seed: u64) -> Vec<u64> {
    if rows <= n as u64 {
        return (0..rows).collect();
    }
    let mut state = seed;
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < n {
        picked.insert(next(&mut state) % rows);
    }
    picked.into_iter().collect()
}

/// Two cells hold the same value once stored: numbers by value, the rest by
/// their text (a UUID or timestamp may come back as text).
fn same(expected: &Value, found: &Value) -> bool {
    match (expected, found) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Bool(b), other) | (other, Value::Bool(b)) => other.as_i64() == Some(*b as i64),
        // MySQL has no zoned timestamp: flightdeck stores UTC in DATETIME.
        (Value::Timestamp(t), Value::DateTime(n)) | (Value::DateTime(n), Value::Timestamp(t)) => {
            t.naive_utc() == *n
        }
        (a, b)
            if matches!(a, Value::Int(_) | Value::Float(_))
                || matches!(b, Value::Int(_) | Value::Float(_)) =>
        {
            match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.render() == b.render(),
            }
        }
        (a, b) => {
            let (x, y) = (a.render(), b.render());
            x == y || same_json(&x, &y)
        }
    }
}

/// JSON documents equal as values: PostgreSQL's jsonb and MySQL's JSON store
/// objects with their keys reordered and whitespace normalized.
fn same_json(x: &str, y: &str) -> bool {
    let doc = |s: &str| {
        let t = s.trim_start();
        (t.starts_with('{') || t.starts_with('['))
            .then(|| serde_json::from_str::<serde_json::Value>(s).ok())
            .flatten()
    };
    matches!((doc(x), doc(y)), (Some(a), Some(b)) if a == b)
}

pub async fn compare(
    source: &dyn Database,
    target: &dyn Database,
    table: &CompiledTable,
    options: &PostOptions,
    source_rows: Arc<SourceRows>,
) -> CheckResult {
    let mut c = CheckResult::new(
        format!("{}: re-transformed sample matches", table.target_table()),
        Phase::Post,
        Some(table.target_table()),
    );
    match run(source, target, table, options, &source_rows, &mut c).await {
        Ok(()) => c,
        Err(e) => c.failed(&e),
    }
}

async fn run(
    source: &dyn Database,
    target: &dyn Database,
    table: &CompiledTable,
    options: &PostOptions,
    source_rows: &SourceRows,
    c: &mut CheckResult,
) -> Result<(), DbError> {
    let s = source.dialect();
    let d = target.dialect();
    let src_table = s.quote_ident(table.source_table());
    let total = source_rows.get(source, table, c).await?.max(0) as u64;
    let cols: Vec<String> = table
        .source_columns()
        .iter()
        .map(|col| s.quote_ident(col))
        .collect();
    let key_col = s.quote_ident(table.key_column());
    let pick = |offset: u64| {
        format!(
            "SELECT {} FROM {src_table} ORDER BY {key_col} LIMIT 1 OFFSET {offset}",
            cols.join(", "),
        )
    };
    // Integer keys: seek to the key at the same fraction of the key range
    // instead of counting `offset` rows (which scans the table every time).
    let seek = format!(
        "SELECT {} FROM {src_table} WHERE {key_col} >= {} ORDER BY {key_col} LIMIT 1",
        cols.join(", "),
        s.placeholder(1)
    );
    let bounds = source
        .query(
            &format!("SELECT MIN({key_col}), MAX({key_col}) FROM {src_table}"),
            &[],
        )
        .await?;
    let range = match bounds.first().map(|r| (&r[0], &r[1])) {
        Some((Value::Int(lo), Value::Int(hi))) if hi >= lo => Some((*lo, *hi)),
        _ => None,
    };
    let key_at = |offset: u64| {
        range.map(|(lo, hi)| {
            let span = (hi as i128 - lo as i128 + 1) as u128;
            lo + (offset as u128 * span / total.max(1) as u128) as i64
        })
    };
    let tcols: Vec<String> = table
        .target_columns()
        .iter()
        .map(|col| d.quote_ident(&col.name))
        .collect();
    let fetch = format!(
        "SELECT {} FROM {} WHERE {} = {}",
        tcols.join(", "),
        d.quote_ident(table.target_table()),
        d.quote_ident(table.target_key()),
        d.placeholder(1)
    );
    let key_idx = table
        .target_columns()
        .iter()
        .position(|col| col.name == table.target_key())
        .unwrap_or(0);
    let null_ok: Vec<usize> = table
        .foreign_keys()
        .iter()
        .filter(|fk| fk.on_orphan == OrphanPolicy::Null)
        .map(|fk| fk.column)
        .collect();
    let offs = offsets(total, options.sample, options.seed);
    if let Some(&o) = offs.first() {
        c.sql.push(if range.is_some() {
            seek.clone()
        } else {
            pick(o)
        });
    }
    // The sampled rows first, then one question to the quarantine about all
    // of their keys (it has no index on them: one scan, not one per row).
    let mut seen = std::collections::HashSet::new();
    let mut sampled = Vec::new();
    for o in &offs {
        let picked = match key_at(*o) {
            Some(k) => source.query(&seek, &[Value::Int(k)]).await?,
            None => source.query(&pick(*o), &[]).await?,
        };
        let Some(src) = picked.into_iter().next() else {
            continue;
        };
        let key = src[0].render();
        // Two fractions of a sparse key range can land on the same row.
        if seen.insert(key.clone()) {
            sampled.push((key, src));
        }
    }
    c.sql.push(fetch.clone());
    let in_quarantine = quarantined_keys(target, table, &sampled, c).await?;
    let (mut matched, mut quarantined, mut mismatched) = (0i64, 0i64, 0i64);
    let mut stats = TransformStats::default();
    for (key, src) in sampled {
        let in_quarantine = in_quarantine.contains(&key);
        let expected: Row = match table.transform_row(&src, &mut stats) {
            Ok(row) => row,
            Err(f) => {
                if in_quarantine {
                    quarantined += 1;
                } else {
                    mismatched += 1;
                    c.examples.push(format!(
                        "{}={key}: the rules reject it ({}), but it is not in quarantine",
                        table.key_column(),
                        f.reason
                    ));
                }
                continue;
            }
        };
        let found = target.query(&fetch, &[expected[key_idx].clone()]).await?;
        let Some(found) = found.into_iter().next() else {
            // A row whose parent was missing is quarantined by the loader.
            if in_quarantine {
                quarantined += 1;
            } else {
                mismatched += 1;
                c.examples.push(format!(
                    "{}={key}: not in the target and not in quarantine",
                    table.key_column()
                ));
            }
            continue;
        };
        let diffs: Vec<String> = expected
            .iter()
            .zip(&found)
            .enumerate()
            .filter(|(i, (e, f))| !(same(e, f) || f.is_null() && null_ok.contains(i)))
            .map(|(i, (e, f))| {
                format!(
                    "{} expected {} found {}",
                    table.target_columns()[i].name,
                    e.render(),
                    f.render()
                )
            })
            .collect();
        if diffs.is_empty() {
            matched += 1;
        } else {
            mismatched += 1;
            c.examples.push(format!(
                "{}={key}: {}",
                table.key_column(),
                diffs.join("; ")
            ));
        }
    }
    c.examples.truncate(super::MAX_EXAMPLES);
    c.count("sampled", offs.len() as i64)
        .count("matched", matched)
        .count("quarantined", quarantined);
    c.judge(
        mismatched,
        CheckStatus::Failed,
        format!(
            "{} sampled rows: {matched} identical, {quarantined} in quarantine, {mismatched} different",
            offs.len()
        ),
    );
    if offs.is_empty() {
        c.status = CheckStatus::Skipped;
        c.message = "the source table is empty".into();
    }
    Ok(())
}

/// Which of the sampled source keys the quarantine holds for this table, in
/// one query (the keys are bound, at most one sample's worth).
async fn quarantined_keys(
    target: &dyn Database,
    table: &CompiledTable,
    sampled: &[(String, Row)],
    c: &mut CheckResult,
) -> Result<std::collections::HashSet<String>, DbError> {
    let d = target.dialect();
    let mut params = vec![Value::Text(table.source_table().into())];
    params.extend(sampled.iter().map(|(k, _)| Value::Text(k.clone())));
    let sql = format!(
        "SELECT {k} FROM {q} WHERE {t} = {} AND {k} IN ({})",
        d.placeholder(1),
        (2..=params.len().max(2))
            .map(|i| d.placeholder(i))
            .collect::<Vec<_>>()
            .join(", "),
        k = d.quote_ident("source_key"),
        q = d.quote_ident(QUARANTINE),
        t = d.quote_ident("source_table"),
    );
    c.sql.push(sql.clone());
    if sampled.is_empty() {
        return Ok(Default::default());
    }
    let rows = target.query(&sql, &params).await?;
    Ok(rows.iter().map(|r| r[0].render()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_distinct_sorted_and_bounded() {
        let o = offsets(1000, 50, 7);
        assert_eq!(o.len(), 50);
        assert!(o.windows(2).all(|w| w[0] < w[1]));
        assert!(o.iter().all(|&x| x < 1000));
        assert_eq!(offsets(3, 50, 7), vec![0, 1, 2]);
        assert_eq!(offsets(1000, 50, 7), o, "same seed, same sample");
    }

    #[test]
    fn stored_forms_compare_by_value() {
        let u = uuid::Uuid::nil();
        assert!(same(&Value::Uuid(u), &Value::Text(u.to_string())));
        assert!(same(&Value::Int(3), &Value::Float(3.0)));
        assert!(same(&Value::Bool(true), &Value::Int(1)));
        assert!(!same(&Value::Float(0.5), &Value::Float(0.25)));
        assert!(!same(&Value::Null, &Value::Text(String::new())));
        assert!(!same(&Value::Text("a".into()), &Value::Text("b".into())));
        let utc = chrono::DateTime::parse_from_rfc3339("2024-03-10T07:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(same(
            &Value::Timestamp(utc),
            &Value::DateTime(utc.naive_utc())
        ));
        let later = utc.naive_utc() + chrono::Duration::hours(1);
        assert!(!same(&Value::Timestamp(utc), &Value::DateTime(later)));
        // jsonb reorders keys; a different value is still different.
        let stored = Value::Text(r#"{"seed": 1, "lr": 0.3}"#.into());
        assert!(same(&Value::Text(r#"{"lr":0.3,"seed":1}"#.into()), &stored));
        assert!(!same(
            &Value::Text(r#"{"lr":0.3,"seed":2}"#.into()),
            &stored
        ));
        assert!(!same(
            &Value::Text("[1, 2]".into()),
            &Value::Text("[2, 1]".into())
        ));
    }
}

//! Loading the generated legacy database into a database server, so the
//! sample can run from MariaDB (or PostgreSQL) as a real legacy source.

use std::str::FromStr;

use crate::db::{Database, DbError};
use crate::schema::{ColumnDef, ColumnType, TableDef};
use crate::value::Value;

/// Rows per page read from the source and per transaction in the target.
const PAGE_ROWS: i64 = 5_000;

/// The legacy column type as a server should declare it: SQLite's loose type
/// names read strictly (`CHAR(1)` stays a short string, not TEXT).
fn legacy_type(native: &str, source: &dyn Database) -> ColumnType {
    let upper = native.trim().to_ascii_uppercase();
    if let Some(n) = upper
        .strip_prefix("CHAR(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.trim().parse().ok())
    {
        return ColumnType::Varchar(n);
    }
    ColumnType::from_str(&upper).unwrap_or_else(|_| source.dialect().parse_native_type(native))
}

/// Copies `tables` from `source` into new tables of the same name in
/// `target`, key order, one transaction per page. With `replace`, existing
/// tables of those names are dropped first; without, their presence is an error.
pub async fn copy_tables(
    source: &dyn Database,
    target: &dyn Database,
    tables: &[String],
    replace: bool,
) -> Result<Vec<(String, u64)>, DbError> {
    let mut out = Vec::new();
    for table in tables {
        let info = source
            .table_info(table)
            .await?
            .ok_or_else(|| DbError::Unsupported(format!("no table {table} in the source")))?;
        if target.table_info(table).await?.is_some() {
            if !replace {
                return Err(DbError::Unsupported(format!(
                    "table {table} already exists in {}",
                    target.display_url()
                )));
            }
            target
                .execute(&target.dialect().drop_table(table), &[])
                .await?;
        }
        let def = TableDef {
            name: table.clone(),
            columns: info
                .columns
                .iter()
                .map(|c| ColumnDef {
                    name: c.name.clone(),
                    column_type: legacy_type(&c.native_type, source),
                    nullable: c.nullable && !c.primary_key,
                })
                .collect(),
            primary_key: info
                .columns
                .iter()
                .filter(|c| c.primary_key)
                .map(|c| c.name.clone())
                .collect(),
        };
        target
            .execute(&target.dialect().create_table(&def), &[])
            .await?;
        let columns: Vec<String> = info.columns.iter().map(|c| c.name.clone()).collect();
        let key = def
            .primary_key
            .first()
            .cloned()
            .unwrap_or_else(|| columns[0].clone());
        let key_idx = columns.iter().position(|c| *c == key).unwrap_or(0);
        let d = source.dialect();
        let first = d.select_page(table, &columns, &key, false);
        let next = d.select_page(table, &columns, &key, true);
        let mut after: Option<Value> = None;
        let mut copied = 0u64;
        loop {
            let rows = match &after {
                None => source.query(&first, &[Value::Int(PAGE_ROWS)]).await?,
                Some(k) => {
                    source
                        .query(&next, &[k.clone(), Value::Int(PAGE_ROWS)])
                        .await?
                }
            };
            let Some(last) = rows.last() else { break };
            after = Some(last[key_idx].clone());
            copied += rows.len() as u64;
            target
                .write_batch(table, &columns, rows, Vec::new())
                .await?;
        }
        out.push((table.clone(), copied));
    }
    Ok(out)
}

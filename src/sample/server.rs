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
    // Refuse before writing anything: a half-loaded database is worse than none.
    if !replace {
        let mut present = Vec::new();
        for table in tables {
            if target.table_info(table).await?.is_some() {
                present.push(table.as_str());
            }
        }
        if !present.is_empty() {
            return Err(DbError::Unsupported(format!(
                "{} {} already in {}; nothing was written. Pass --force to replace {}, or point --source-url at an empty database",
                if present.len() == 1 {
                    "table"
                } else {
                    "tables"
                },
                present.join(", "),
                target.display_url(),
                if present.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    let mut out = Vec::new();
    for table in tables {
        let info = source
            .table_info(table)
            .await?
            .ok_or_else(|| DbError::Unsupported(format!("no table {table} in the source")))?;
        if target.table_info(table).await?.is_some() {
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
            primary_key: info.primary_key(),
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

const MYSQL_PROJECT_TOML: &str =
    include_str!("../../sample-projects/ai-research-mysql/project.toml");

/// The legacy tables the generator writes.
const LEGACY_TABLES: [&str; 5] = [
    "datasets",
    "models",
    "training_runs",
    "experiments",
    "metrics",
];

/// `ai-research-mysql`: writes the project into `into`, generates the legacy
/// data and loads it into the server at `source_url`. URLs without a password
/// are written into the project file; others stay `${ENV}` references.
pub async fn install_on_server(
    into: &std::path::Path,
    opts: &super::SampleOptions,
    source_url: &crate::db::DbUrl,
    target_url: Option<&crate::db::DbUrl>,
) -> Result<super::SampleSummary, super::SampleError> {
    use super::SampleError;
    let project_file = into.join(super::PROJECT_FILE);
    if project_file.exists() && !opts.force {
        return Err(SampleError::TargetExists { path: project_file });
    }
    std::fs::create_dir_all(into).map_err(SampleError::io(into))?;
    let mut text = MYSQL_PROJECT_TOML.to_string();
    for (var, url) in [
        ("${FLIGHTDECK_LEGACY_URL}", Some(source_url)),
        ("${FLIGHTDECK_PLATFORM_URL}", target_url),
    ] {
        if let Some(u) = url.filter(|u| u.redacted() == u.expose()) {
            text = text.replacen(var, u.expose(), 1);
        }
    }
    // Generated in SQLite first (same seed, same rows as ai-research), then copied.
    let scratch = tempfile_dir(into)?;
    let db_file = scratch.join(super::LEGACY_DB);
    let result = async {
        super::legacy::generate(&db_file, opts).await?;
        let legacy = crate::db::connect(
            &crate::db::DbUrl::parse(&format!("sqlite://{}", db_file.display()), into)
                .map_err(DbError::Unsupported)?,
            false,
        )
        .await?;
        let server = crate::db::connect(source_url, false).await?;
        let tables: Vec<String> = LEGACY_TABLES.iter().map(|s| s.to_string()).collect();
        let copied = copy_tables(legacy.as_ref(), server.as_ref(), &tables, opts.force).await;
        legacy.close().await;
        server.close().await;
        Ok::<_, SampleError>(copied?)
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    let tables = result?;
    // Written once the legacy tables are in: a failed load leaves no project
    // behind that a retry would have to --force over.
    for (file, body) in [
        (super::PROJECT_FILE, text.as_str()),
        ("owners.csv", super::OWNERS_CSV),
        ("algorithms.toml", super::ALGORITHMS_TOML),
    ] {
        let path = into.join(file);
        std::fs::write(&path, body).map_err(SampleError::io(&path))?;
    }
    Ok(super::SampleSummary {
        project_file,
        tables,
    })
}

/// A scratch folder beside the project for the intermediate SQLite file.
fn tempfile_dir(into: &std::path::Path) -> Result<std::path::PathBuf, super::SampleError> {
    let dir = into.join(format!(".legacy-scratch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(super::SampleError::io(&dir))?;
    Ok(dir)
}

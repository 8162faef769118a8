//! SQLite: the embedded default for demos and tests.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Acquire, Arguments, AssertSqlSafe, SqlitePool};

use super::sqlite_raw::RawConn;
use super::{
    Backend, BatchWrite, Database, DbError, DbUrl, Dialect, RowSet, Statement, Turn, head,
};
use crate::schema::ColumnType;
use crate::value::{Row, Value};

pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn placeholder(&self, n: usize) -> String {
        // Anonymous `?`: sqlx looks numbered ones up by name, which is quadratic
        // in the parameter count of a multi-row INSERT.
        let _ = n;
        "?".into()
    }

    fn max_bind_params(&self) -> usize {
        32_766
    }

    fn type_name(&self, t: ColumnType) -> String {
        match t {
            ColumnType::Bool => "BOOLEAN".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Int => "INTEGER".into(),
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::Float => "FLOAT".into(),
            ColumnType::Double => "DOUBLE".into(),
            ColumnType::Decimal(p, s) => format!("DECIMAL({p},{s})"),
            ColumnType::Text => "TEXT".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            ColumnType::Bytes => "BLOB".into(),
            ColumnType::Uuid => "UUID".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::DateTime => "DATETIME".into(),
            ColumnType::Timestamp => "TIMESTAMP".into(),
            ColumnType::Json => "JSON".into(),
        }
    }

    fn parse_native_type(&self, native: &str) -> ColumnType {
        let upper = native.trim().to_ascii_uppercase();
        if let Ok(t) = ColumnType::from_str(&upper) {
            return t;
        }
        // SQLite's affinity rules, in their documented order.
        if upper.contains("INT") {
            ColumnType::BigInt
        } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
            ColumnType::Text
        } else if upper.contains("BLOB") || upper.is_empty() {
            ColumnType::Bytes
        } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
            ColumnType::Double
        } else if upper.contains("BOOL") {
            ColumnType::Bool
        } else if upper.contains("TIMESTAMP") {
            ColumnType::Timestamp
        } else if upper.contains("DATETIME") {
            ColumnType::DateTime
        } else if upper.contains("DATE") {
            ColumnType::Date
        } else {
            ColumnType::Double
        }
    }

    fn list_tables_sql(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    }

    /// The unique index `add_primary_key` builds counts as the key.
    fn table_info_sql(&self) -> &'static str {
        "SELECT name, type, \"notnull\" = 0, \
                pk > 0 OR name IN (SELECT ii.name FROM pragma_index_list(?1) il \
                                   JOIN pragma_index_info(il.name) ii \
                                   WHERE il.name = ?1 || '_pkey' AND il.\"unique\") \
         FROM pragma_table_info(?1) ORDER BY cid"
    }

    /// SQLite enforces the checks and NOT NULLs flightdeck adds by guard
    /// triggers: those are listed as checks.
    fn constraints_sql(&self) -> (&'static str, usize) {
        (
            "SELECT CASE WHEN il.\"unique\" THEN 'unique' ELSE 'index' END, \
                    (SELECT group_concat(name, ',') FROM \
                       (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)), \
                    il.name \
             FROM pragma_index_list(?1) il \
             WHERE il.origin <> 'pk' AND il.name <> ?1 || '_pkey' \
             UNION ALL \
             SELECT 'check', '', sql FROM sqlite_master \
             WHERE type = 'trigger' AND tbl_name = ?1 AND sql IS NOT NULL \
             UNION ALL \
             SELECT 'foreign key', group_concat(\"from\", ','), max(\"table\") \
             FROM pragma_foreign_key_list(?1) GROUP BY id",
            1,
        )
    }

    fn index_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND name = ?2"
    }

    /// SQLite cannot add a primary key to a table: a unique index on the
    /// NOT NULL key column does the same work.
    fn add_primary_key(&self, table: &str, key: &[String]) -> (String, String) {
        let name = self.quote_ident(&format!("{table}_pkey"));
        (
            format!(
                "CREATE UNIQUE INDEX {name} ON {} ({})",
                self.quote_ident(table),
                self.ident_list(key)
            ),
            format!("DROP INDEX {name}"),
        )
    }

    fn serial_primary_key(&self) -> &'static str {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    }

    /// Measured on the 1M-row sample's largest foreign key (2M child rows
    /// into a 1M-key index), one query at a time: 3.8–4.1 s probing in table
    /// order, 1.7–1.8 s sorted first (the sort spills to temporary files, not
    /// memory).
    fn probes_in_sorted_order(&self) -> bool {
        true
    }

    /// One: the bundled SQLite keeps a single page cache for all of the
    /// process's connections (it is built with SQLITE_ENABLE_MEMORY_MANAGEMENT),
    /// and two scans side by side evict each other's pages. Measured on the
    /// 1M-row sample: two sorted foreign-key probes at once took 6.9 s, one
    /// after the other 1.9 s + 1.0 s.
    fn concurrent_scans(&self) -> usize {
        1
    }
}

pub struct SqliteDb {
    pool: SqlitePool,
    url: DbUrl,
    /// A database opened for writing copies its WAL back into the main file
    /// on a connection of its own, off the writer's commits.
    checkpointer: std::sync::Mutex<Option<Checkpointer>>,
}

struct Checkpointer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// How often the checkpointer copies committed WAL frames into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Copies committed WAL frames into the database file (PASSIVE: never waits
/// for, nor blocks, the writer or readers) until told to stop; then copies
/// the rest and empties the WAL (TRUNCATE: other connections of the process
/// may still be open, so closing this one need not be the last close that
/// would), and closes its connection.
async fn checkpoint_until_stopped(
    mut conn: sqlx::SqliteConnection,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        }
    }
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
    {
        tracing::warn!(error = %e, "the last WAL checkpoint failed");
    }
    let _ = sqlx::Connection::close(conn).await;
}

impl SqliteDb {
    pub async fn connect(url: &DbUrl, create: bool) -> Result<Self, DbError> {
        let path = url.sqlite_path().expect("sqlite URL has a path");
        if !create && !path.exists() {
            return Err(DbError::Connect {
                url: url.redacted(),
                reason: "no such file".into(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Loads append (the key index is built after the load), so
            // SQLite's default 2 MB page cache is enough. Temporary storage
            // stays in files: building a key over millions of rows sorts
            // more than the memory budget allows.
            .foreign_keys(false);
        let failed = |e: sqlx::Error| DbError::Connect {
            url: url.redacted(),
            reason: e.to_string(),
        };
        // A database we write: commits only append to the WAL, and a
        // connection of its own copies it back (a checkpoint inside the
        // writer's commit was a fifth of the writer's time).
        let checkpointer = if create {
            let conn = sqlx::ConnectOptions::connect(&options)
                .await
                .map_err(failed)?;
            let (stop, stopped) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(checkpoint_until_stopped(conn, stopped));
            Some(Checkpointer { stop, task })
        } else {
            None
        };
        let options = if create {
            options.pragma("wal_autocheckpoint", "0")
        } else {
            options
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Ok(Self {
            pool,
            url: url.clone(),
            checkpointer: std::sync::Mutex::new(checkpointer),
        })
    }
}

fn bind_all(params: &[Value]) -> Result<SqliteArguments, DbError> {
    bind_owned(params.to_vec())
}

/// Binds by moving the values in: a batch's strings are not copied again.
fn bind_owned(params: Vec<Value>) -> Result<SqliteArguments, DbError> {
    let mut args = SqliteArguments::default();
    args.reserve(params.len(), 0);
    for p in params {
        let r = match p {
            Value::Null => args.add(Option::<i64>::None),
            Value::Bool(b) => args.add(b as i64),
            Value::Int(i) => args.add(i),
            Value::Float(f) => args.add(f),
            Value::Text(s) => args.add(s),
            Value::Bytes(b) => args.add(b),
            Value::Uuid(u) => args.add(u.hyphenated().to_string()),
            Value::Date(_) | Value::DateTime(_) | Value::Timestamp(_) => args.add(p.render()),
        };
        r.map_err(|e| DbError::Unsupported(format!("cannot bind a value: {e}")))?;
    }
    Ok(args)
}

#[async_trait]
impl Database for SqliteDb {
    fn dialect(&self) -> &dyn Dialect {
        &SqliteDialect
    }

    fn display_url(&self) -> String {
        self.url.redacted()
    }

    /// Reads on the raw connection (see `sqlite_raw`): sqlx's rows copy every
    /// value once more before ours do.
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.with_raw(false, move |raw| {
            raw.query(&sql, &params)
                .map_err(|e| DbError::sql(head(&sql))(e.into()))
        })
        .await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let args = bind_all(params)?;
        let done = sqlx::query_with(AssertSqlSafe(sql.to_string()), args)
            .execute(&self.pool)
            .await
            .map_err(DbError::sql(head(sql)))?;
        Ok(done.rows_affected())
    }

    async fn transaction(&self, statements: Vec<Statement>) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(DbError::sql("BEGIN"))?;
        for st in statements {
            let context = head(&st.sql);
            let args = bind_owned(st.params)?;
            sqlx::query_with(AssertSqlSafe(st.sql), args)
                .execute(&mut *tx)
                .await
                .map_err(DbError::sql(context))?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    /// Rows through one prepared INSERT on the raw connection (see
    /// `sqlite_raw`), then `extra`, all in one transaction.
    ///
    /// One writer: the batch before commits first, then this one starts.
    async fn write_batch_in_turn(
        &self,
        batch: BatchWrite,
        turn: Option<Turn>,
    ) -> Result<(), DbError> {
        super::wait_turn(turn).await?;
        let d = &SqliteDialect;
        let BatchWrite { rows, side, extra } = batch;
        let sets: Vec<(String, RowSet)> = std::iter::once(rows)
            .chain(side)
            .filter(|set| !set.columns.is_empty())
            .map(|set| {
                let insert = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    d.quote_ident(&set.table),
                    d.ident_list(&set.columns),
                    vec!["?"; set.columns.len()].join(", ")
                );
                (insert, set)
            })
            .collect();
        self.with_raw(true, move |raw| {
            for (insert, set) in &sets {
                raw.insert_each(insert, set.rows.iter().map(Vec::as_slice))
                    .map_err(|e| DbError::sql(head(insert))(e.into()))?;
            }
            for st in &extra {
                raw.execute(&st.sql, &st.params)
                    .map_err(|e| DbError::sql(head(&st.sql))(e.into()))?;
            }
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        self.pool.close().await;
        let checkpointer = self.checkpointer.lock().expect("not poisoned").take();
        if let Some(c) = checkpointer {
            let _ = c.stop.send(());
            let _ = c.task.await;
        }
    }
}

impl SqliteDb {
    /// Runs `f` with a pooled connection's raw handle (see `sqlite_raw`) on
    /// tokio's blocking pool, so neither the runtime's workers nor the other
    /// futures of the calling task wait for SQLite. With `transaction`, `f`
    /// runs inside BEGIN … COMMIT, rolled back if it fails. The connection,
    /// its lock and the transaction all live inside the blocking closure: a
    /// caller that stops waiting cannot release them while SQLite works.
    async fn with_raw<R, F>(&self, transaction: bool, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&RawConn) -> Result<R, DbError> + Send + 'static,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(DbError::sql("acquire a connection"))?;
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            if !transaction {
                return locked(&rt, &mut conn, f);
            }
            let mut tx = rt
                .block_on((&mut *conn).begin())
                .map_err(DbError::sql("BEGIN"))?;
            let out = locked(&rt, &mut tx, f)?;
            rt.block_on(tx.commit()).map_err(DbError::sql("COMMIT"))?;
            Ok(out)
        })
        .await
        .map_err(|e| DbError::Unsupported(format!("a SQLite task failed: {e}")))?
    }
}

/// `f` on the raw handle of `conn`, locked for exactly that long.
fn locked<R>(
    rt: &tokio::runtime::Handle,
    conn: &mut sqlx::SqliteConnection,
    f: impl FnOnce(&RawConn) -> Result<R, DbError>,
) -> Result<R, DbError> {
    let mut handle = rt
        .block_on(conn.lock_handle())
        .map_err(DbError::sql("lock the connection"))?;
    // SAFETY: `handle` keeps the connection locked, and nothing else uses
    // it, until after `raw`'s last use below.
    let raw = unsafe { RawConn::new(handle.as_raw_handle()) };
    f(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_safely() {
        assert_eq!(SqliteDialect.quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn the_deferred_key_is_a_unique_index_with_quoted_names() {
        let (build, drop) = SqliteDialect.add_primary_key("t\"x", &["k\"y".into()]);
        assert_eq!(
            build,
            "CREATE UNIQUE INDEX \"t\"\"x_pkey\" ON \"t\"\"x\" (\"k\"\"y\")"
        );
        assert_eq!(drop, "DROP INDEX \"t\"\"x_pkey\"");
    }

    async fn key_columns(db: &SqliteDb) -> Vec<String> {
        db.table_info("t").await.unwrap().unwrap().primary_key()
    }

    #[tokio::test]
    async fn table_info_counts_the_deferred_key_index_as_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse("sqlite://k.db", dir.path()).unwrap();
        let db = SqliteDb::connect(&url, true).await.unwrap();
        db.execute("CREATE TABLE \"t\" (\"k\" TEXT NOT NULL, \"v\" TEXT)", &[])
            .await
            .unwrap();
        assert!(key_columns(&db).await.is_empty());
        let (build, _) = SqliteDialect.add_primary_key("t", &["k".into()]);
        db.execute(&build, &[]).await.unwrap();
        assert_eq!(key_columns(&db).await, vec!["k".to_string()]);
        db.close().await;
    }

    #[test]
    fn insert_rows_respects_bind_limit() {
        let rows: Vec<Row> = (0..2500)
            .map(|i| vec![Value::Int(i), Value::Null])
            .collect();
        let st = SqliteDialect.insert_rows("t", &["a".into(), "b".into()], rows);
        // 1000 binds per statement at most: 500 rows of two columns.
        assert_eq!(st.len(), 5);
        assert_eq!(st.iter().map(|s| s.params.len()).sum::<usize>(), 5000);
        assert!(
            st[0]
                .sql
                .starts_with("INSERT INTO \"t\" (\"a\", \"b\") VALUES (?, ?), (?, ?)")
        );
    }

    async fn scratch(name: &str) -> (tempfile::TempDir, SqliteDb) {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite://{name}.db"), dir.path()).unwrap();
        let db = SqliteDb::connect(&url, true).await.unwrap();
        (dir, db)
    }

    /// Every kind of value, including the edges (empty, NUL, non-ASCII,
    /// extremes), as one row.
    fn every_kind() -> Row {
        use chrono::{NaiveDate, TimeZone, Utc};
        let day = NaiveDate::from_ymd_opt(2024, 3, 10).unwrap();
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Float(-0.125),
            Value::Text(String::new()),
            Value::Text("naïve \u{0} 'quoted' \u{1F600}".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0, 255, 7]),
            Value::Uuid(uuid::Uuid::from_u128(
                0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            )),
            Value::Date(day),
            Value::DateTime(day.and_hms_micro_opt(2, 30, 0, 250).unwrap()),
            Value::Timestamp(Utc.with_ymd_and_hms(2024, 11, 3, 6, 0, 0).unwrap()),
        ]
    }

    #[tokio::test]
    async fn the_bulk_path_stores_every_value_as_the_statement_path_does() {
        let (_dir, db) = scratch("bulk").await;
        let row = every_kind();
        let columns: Vec<String> = (0..row.len()).map(|i| format!("c{i}")).collect();
        let ddl = format!(
            "CREATE TABLE \"t\" (\"path\" TEXT, {})",
            columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        db.execute(&ddl, &[]).await.unwrap();
        let mut with_path = vec![Value::Text("statement".into())];
        with_path.extend(row.clone());
        let mut all = vec!["path".to_string()];
        all.extend(columns.clone());
        db.transaction(SqliteDialect.insert_rows("t", &all, vec![with_path]))
            .await
            .unwrap();
        with_path = vec![Value::Text("bulk".into())];
        with_path.extend(row);
        db.write_batch("t", &all, vec![with_path], vec![])
            .await
            .unwrap();
        // Same storage class and same bytes for every column.
        let typed = columns
            .iter()
            .map(|c| format!("typeof(\"{c}\"), quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {typed} FROM \"t\" ORDER BY \"path\" DESC");
        let rows = db.query(&sql, &[]).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], rows[1]);
        assert_eq!(
            rows[0][2 * 6],
            Value::Text("blob".into()),
            "empty blob stays a blob"
        );
        db.close().await;
    }

    #[tokio::test]
    async fn a_failing_statement_in_a_bulk_batch_writes_nothing_and_keeps_its_code() {
        let (_dir, db) = scratch("fail").await;
        db.execute(
            "CREATE TABLE \"t\" (\"k\" INTEGER PRIMARY KEY, \"v\" TEXT)",
            &[],
        )
        .await
        .unwrap();
        db.execute("CREATE TABLE \"log\" (\"n\" INTEGER NOT NULL)", &[])
            .await
            .unwrap();
        let rows: Vec<Row> = (1..=3).map(|i| vec![Value::Int(i), Value::Null]).collect();
        let cols = ["k".to_string(), "v".to_string()];
        // The rows go in, then the batch's own bookkeeping fails.
        let extra = vec![Statement::new(
            "INSERT INTO \"log\" (\"n\") VALUES (?)",
            vec![Value::Null],
        )];
        let err = db
            .write_batch("t", &cols, rows.clone(), extra)
            .await
            .unwrap_err();
        assert_eq!(err.sqlstate().as_deref(), Some("1299"), "{err}"); // NOT NULL
        assert!(err.to_string().contains("INSERT INTO \"log\""), "{err}");
        let n = db.query("SELECT COUNT(*) FROM \"t\"", &[]).await.unwrap();
        assert_eq!(n[0][0], Value::Int(0), "the batch's rows were rolled back");
        // A duplicate key inside the rows: a unique violation, nothing kept.
        let mut dup = rows.clone();
        dup.push(vec![Value::Int(2), Value::Text("again".into())]);
        let err = db.write_batch("t", &cols, dup, vec![]).await.unwrap_err();
        assert_eq!(err.sqlstate().as_deref(), Some("1555"), "{err}"); // PRIMARYKEY
        // The connection is usable afterwards and a good batch commits.
        db.write_batch("t", &cols, rows, vec![]).await.unwrap();
        let n = db.query("SELECT COUNT(*) FROM \"t\"", &[]).await.unwrap();
        assert_eq!(n[0][0], Value::Int(3));
        db.close().await;
    }

    #[tokio::test]
    async fn query_reads_each_value_by_its_storage_class() {
        let (_dir, db) = scratch("read").await;
        let rows = db
            .query(
                "SELECT 7, 0.5, 'é', CAST(x'ff61' AS TEXT), x'', x'00ff', NULL, ?, ? \
                 UNION ALL SELECT 1, 1, 1, 1, 1, 1, 1, 1, 1 WHERE ? = 'no'",
                &[
                    Value::Text("bound".into()),
                    Value::Int(-3),
                    Value::Text("yes".into()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Value::Int(7),
                Value::Float(0.5),
                Value::Text("é".into()),
                // Text that is not UTF-8 is kept, as bytes.
                Value::Bytes(vec![0xff, 0x61]),
                Value::Bytes(vec![]),
                Value::Bytes(vec![0, 0xff]),
                Value::Null,
                Value::Text("bound".into()),
                Value::Int(-3),
            ]]
        );
        let err = db.query("SELECT nope FROM nowhere", &[]).await.unwrap_err();
        assert!(err.to_string().contains("no such table: nowhere"), "{err}");
        db.close().await;
    }

    #[tokio::test]
    async fn committed_batches_reach_the_database_file_without_the_writer_checkpointing() {
        let (dir, db) = scratch("wal").await;
        db.execute("CREATE TABLE \"t\" (\"k\" INTEGER, \"v\" TEXT)", &[])
            .await
            .unwrap();
        let main = dir.path().join("wal.db");
        let before = std::fs::metadata(&main).unwrap().len();
        let rows: Vec<Row> = (0..20_000)
            .map(|i| vec![Value::Int(i), Value::Text("x".repeat(40))])
            .collect();
        db.write_batch("t", &["k".into(), "v".into()], rows, vec![])
            .await
            .unwrap();
        // About 1 MB went into the WAL; the writer's own connections never
        // checkpoint, so only the checkpointer can grow the main file.
        let mut grown = 0;
        for _ in 0..50 {
            grown = std::fs::metadata(&main).unwrap().len();
            if grown > before + 500_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(grown > before + 500_000, "{before} -> {grown} bytes");
        db.close().await;
    }
}

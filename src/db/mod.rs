//! Everything that differs between databases sits behind [`Dialect`] (SQL text)
//! and [`Database`] (I/O). The pipeline only talks to these two traits.

mod locks;
mod mysql;
mod nodelay;
mod pg_copy;
mod postgres;
mod sqlite;
mod sqlite_raw;
mod url;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::schema::{ColumnInfo, ColumnType, ConstraintInfo, ConstraintKind, TableDef, TableInfo};
use crate::value::{Row, Value};

pub use url::{Backend, DbUrl};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{context}: {}", describe(.source))]
    Sql {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// Resolves when the batch before resolves: true when it committed.
pub type Turn = futures::future::BoxFuture<'static, bool>;

/// Waits for a batch's turn (nothing to wait for without one); an error
/// when the batch before it failed, so this one rolls back too.
pub async fn wait_turn(turn: Option<Turn>) -> Result<(), DbError> {
    let committed = match turn {
        Some(turn) => turn.await,
        None => true,
    };
    if committed {
        Ok(())
    } else {
        Err(DbError::Unsupported(
            "rolled back: the batch before it failed to commit (that batch's error says why)"
                .into(),
        ))
    }
}

impl DbError {
    pub fn sql(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
        let context = context.into();
        move |source| DbError::Sql { context, source }
    }

    /// The SQLSTATE of an error the server returned (e.g. `0A000`, feature
    /// not supported); `None` for errors that never reached a server.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            DbError::Sql { source, .. } => source
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// Whether the server gave up waiting for a lock: PostgreSQL's
    /// `lock_timeout` (SQLSTATE 55P03 "lock not available"), MySQL's
    /// `lock_wait_timeout` (error 1205, whose SQLSTATE is the generic HY000).
    pub fn is_lock_timeout(&self) -> bool {
        if self.sqlstate().as_deref() == Some(LOCK_NOT_AVAILABLE) {
            return true;
        }
        matches!(self, DbError::Sql { source, .. } if source
            .as_database_error()
            .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|m| m.number() == MYSQL_LOCK_WAIT_TIMEOUT))
    }
}

/// SQLSTATE of "lock not available".
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// MySQL's ER_LOCK_WAIT_TIMEOUT.
const MYSQL_LOCK_WAIT_TIMEOUT: u16 = 1205;

/// One SQL statement with its bind values, already quoted by the dialect.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// Rows bound for one table, written by the fastest path the database offers
/// (PostgreSQL: COPY).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowSet {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One batch's writes, committed in one transaction or not at all.
#[derive(Debug, Clone, Default)]
pub struct BatchWrite {
    /// The batch's rows for its target table.
    pub rows: RowSet,
    /// Rows for the tool's own tables that go with the batch (its quarantined
    /// rows), written the same way as `rows`.
    pub side: Vec<RowSet>,
    /// Its event, checkpoint and decisions, run after the batch before
    /// committed (see [`Database::write_batch_in_turn`]).
    pub extra: Vec<Statement>,
}

impl BatchWrite {
    /// Every row of the batch as INSERT statements, then `extra`: the
    /// transaction of a database without a faster path.
    pub fn into_statements(self, d: &dyn Dialect) -> Vec<Statement> {
        let mut out = Vec::new();
        for set in std::iter::once(self.rows).chain(self.side) {
            out.extend(d.insert_rows(&set.table, &set.columns, set.rows));
        }
        out.extend(self.extra);
        out
    }
}

/// SQL text generation for one database: quoting, type names, DDL.
pub trait Dialect: Send + Sync {
    fn backend(&self) -> Backend;

    /// Quote an identifier that came from a project file or a catalog.
    fn quote_ident(&self, ident: &str) -> String;

    /// A string literal for SQL text that is stored and replayed (inverse DDL,
    /// catalog probes), where no bind parameter can go.
    fn string_literal(&self, s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// The bind placeholder for the `n`th parameter (1-based). Statements use
    /// their placeholders in order, so positional `?` is a valid answer.
    fn placeholder(&self, n: usize) -> String;

    /// Most bind parameters one statement may carry.
    fn max_bind_params(&self) -> usize;

    fn type_name(&self, column_type: ColumnType) -> String;

    /// Our reading of a native type name from the catalog.
    fn parse_native_type(&self, native: &str) -> ColumnType;

    /// A query whose first column lists the user tables of the current
    /// database or schema, in name order.
    fn list_tables_sql(&self) -> &'static str;

    /// A query, bound to the table name, returning per column in order: name,
    /// native type, nullable (true/1) and part of the primary key (true/1).
    fn table_info_sql(&self) -> &'static str;

    /// Column definition of an auto-incrementing integer primary key.
    fn serial_primary_key(&self) -> &'static str;

    /// A query listing a table's indexes and constraints beyond its primary
    /// key, one per row: kind (`unique`, `index`, `check`, `foreign key`),
    /// key columns joined by commas (empty for a check), and the definition
    /// (see [`ConstraintInfo`]); with how many times it binds the table name.
    fn constraints_sql(&self) -> (&'static str, usize);

    /// A query, bound to the table name, listing the columns a partitioned
    /// table is partitioned by, in order; `None` where flightdeck never
    /// partitions (every primary key of such a table must include them).
    fn partition_columns_sql(&self) -> Option<&'static str> {
        None
    }

    /// A query, bound to a table name then an index name, whose first column
    /// counts the indexes of that name on that table (MySQL has no `CREATE
    /// INDEX IF NOT EXISTS`, so the catalog is asked first everywhere).
    fn index_exists_sql(&self) -> &'static str;

    /// SQL for the catalog's estimate of a table's rows (one bind: the table
    /// name; one row, one integer column, no row when there is no such table),
    /// or `None` when the database keeps no estimate.
    fn estimated_rows_sql(&self) -> Option<&'static str> {
        None
    }

    /// Why this database cannot store `value` in any column (PostgreSQL text
    /// and NUL, MySQL and NaN), so the row goes to quarantine instead of failing
    /// its whole batch.
    fn unstorable(&self, _value: &Value) -> Option<String> {
        None
    }

    /// `CREATE TABLE` for a table flightdeck creates.
    fn create_table(&self, def: &TableDef) -> String {
        let mut cols: Vec<String> = def
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { "" } else { " NOT NULL" };
                format!(
                    "{} {}{}",
                    self.quote_ident(&c.name),
                    self.type_name(c.column_type),
                    null
                )
            })
            .collect();
        if !def.primary_key.is_empty() {
            cols.push(format!(
                "PRIMARY KEY ({})",
                self.ident_list(&def.primary_key)
            ));
        }
        format!(
            "CREATE TABLE {} (\n  {}\n)",
            self.quote_ident(&def.name),
            cols.join(",\n  ")
        )
    }

    /// Adds the primary key to a table created without one, and its inverse.
    /// A run creates its tables without the key and builds it once after the
    /// load (as pgloader does): random UUID keys would otherwise touch index
    /// pages all over the tree on every batch.
    fn add_primary_key(&self, table: &str, key: &[String]) -> (String, String) {
        let name = self.quote_ident(&format!("{table}_pkey"));
        let t = self.quote_ident(table);
        (
            format!(
                "ALTER TABLE {t} ADD CONSTRAINT {name} PRIMARY KEY ({})",
                self.ident_list(key)
            ),
            format!("ALTER TABLE {t} DROP CONSTRAINT {name}"),
        )
    }

    /// A statement, safe to repeat, that stores `column` of `table` as it is,
    /// uncompressed: for large text written once and rarely read (an
    /// event's inverse), where compressing it costs the writer more than the
    /// space saves. `None` where the database has no such choice.
    fn store_uncompressed(&self, _table: &str, _column: &str) -> Option<String> {
        None
    }

    /// Whether a run creates tables without their primary key and adds it
    /// after the load (see `add_primary_key`).
    fn defers_primary_key(&self) -> bool {
        true
    }

    /// Whether lookups of many values in an index go faster in sorted order:
    /// true where the planner joins only by nested loops (SQLite), so each
    /// lookup then lands on the index pages the one before it read. Servers
    /// with hash and merge joins pick their own plan.
    fn probes_in_sorted_order(&self) -> bool {
        false
    }

    /// How long a schema statement allowed `wait` for its locks waits at
    /// most: a server whose lock timeout counts whole seconds waits longer.
    fn lock_wait_granted(&self, wait: std::time::Duration) -> std::time::Duration {
        wait
    }

    /// Large read-only queries (post-run checks) worth running side by side.
    fn concurrent_scans(&self) -> usize {
        2
    }

    /// `a, b, c`, each quoted.
    fn ident_list(&self, idents: &[String]) -> String {
        idents
            .iter()
            .map(|c| self.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn drop_table(&self, name: &str) -> String {
        format!("DROP TABLE {}", self.quote_ident(name))
    }

    /// Keyset page: rows after `after` (or from the start), in key order.
    fn select_page(&self, table: &str, columns: &[String], key: &str, after: bool) -> String {
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        let key = self.quote_ident(key);
        let filter = if after {
            format!(" WHERE {key} > {}", self.placeholder(1))
        } else {
            String::new()
        };
        let limit = self.placeholder(if after { 2 } else { 1 });
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {key} LIMIT {limit}",
            cols.join(", "),
            self.quote_ident(table)
        )
    }

    /// Multi-row INSERT statements for `rows`, split to respect the bind limit.
    fn insert_rows(&self, table: &str, columns: &[String], rows: Vec<Row>) -> Vec<Statement> {
        if rows.is_empty() || columns.is_empty() {
            return Vec::new();
        }
        // A fixed, moderate size: every full chunk is the same prepared
        // statement, and no statement is so large that preparing it dominates.
        let per_stmt = (self.max_bind_params().min(1000) / columns.len()).clamp(1, 1000);
        let head = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.quote_ident(table),
            columns
                .iter()
                .map(|c| self.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut out = Vec::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Row> = rows.by_ref().take(per_stmt).collect();
            let mut sql = String::with_capacity(head.len() + chunk.len() * columns.len() * 4);
            sql.push_str(&head);
            let mut params = Vec::with_capacity(chunk.len() * columns.len());
            let mut n = 0;
            for (i, row) in chunk.into_iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for (j, v) in row.into_iter().enumerate() {
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    n += 1;
                    sql.push_str(&self.placeholder(n));
                    params.push(v);
                }
                sql.push(')');
            }
            out.push(Statement::new(sql, params));
        }
        out
    }
}

/// A live connection pool to one database.
#[async_trait]
pub trait Database: Send + Sync {
    fn dialect(&self) -> &dyn Dialect;

    /// The URL with its password redacted.
    fn display_url(&self) -> String;

    /// Names of the user tables.
    async fn list_tables(&self) -> Result<Vec<String>, DbError> {
        let rows = self.query(self.dialect().list_tables_sql(), &[]).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                r.into_iter()
                    .next()
                    .and_then(|v| v.as_text().map(|s| s.into_owned()))
            })
            .collect())
    }

    /// Columns of one table, or `None` if it does not exist.
    async fn table_info(&self, table: &str) -> Result<Option<TableInfo>, DbError> {
        let d = self.dialect();
        let rows = self
            .query(d.table_info_sql(), &[Value::Text(table.to_string())])
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let flag = |v: &Value| matches!(v, Value::Bool(true)) || v.as_i64().is_some_and(|n| n != 0);
        let columns = rows
            .into_iter()
            .map(|r| {
                let native = r[1].as_text().unwrap_or_default().into_owned();
                ColumnInfo {
                    name: r[0].as_text().unwrap_or_default().into_owned(),
                    column_type: d.parse_native_type(&native),
                    native_type: native,
                    nullable: flag(&r[2]),
                    primary_key: flag(&r[3]),
                }
            })
            .collect();
        Ok(Some(TableInfo {
            name: table.to_string(),
            columns,
        }))
    }

    /// The catalog's estimate of `table`'s row count; `None` where there is
    /// none (a database without estimates, a table never analyzed, or an
    /// estimate of zero, which is often only that).
    async fn estimated_rows(&self, table: &str) -> Result<Option<u64>, DbError> {
        let Some(sql) = self.dialect().estimated_rows_sql() else {
            return Ok(None);
        };
        let rows = self.query(sql, &[Value::Text(table.to_string())]).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .filter(|n| *n > 0)
            .map(|n| n as u64))
    }

    /// The columns `table` is partitioned by (none: not partitioned).
    async fn partition_columns(&self, table: &str) -> Result<Vec<String>, DbError> {
        let Some(sql) = self.dialect().partition_columns_sql() else {
            return Ok(Vec::new());
        };
        let rows = self.query(sql, &[Value::Text(table.to_string())]).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r[0].as_text().map(|s| s.into_owned()))
            .collect())
    }

    /// Indexes and constraints of one table beyond its primary key (none
    /// when the table does not exist).
    async fn constraints(&self, table: &str) -> Result<Vec<ConstraintInfo>, DbError> {
        let (sql, binds) = self.dialect().constraints_sql();
        let params = vec![Value::Text(table.to_string()); binds];
        let rows = self.query(sql, &params).await?;
        let text = |v: &Value| v.as_text().map(|s| s.into_owned()).unwrap_or_default();
        Ok(rows
            .iter()
            .filter_map(|r| {
                let kind = match text(&r[0]).as_str() {
                    "unique" => ConstraintKind::Unique,
                    "index" => ConstraintKind::Index,
                    "check" => ConstraintKind::Check,
                    "foreign key" => ConstraintKind::ForeignKey,
                    _ => return None,
                };
                Some(ConstraintInfo {
                    kind,
                    columns: text(&r[1])
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                    definition: text(&r[2]),
                })
            })
            .collect())
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError>;

    /// Runs all statements in one transaction: all or nothing. MySQL commits
    /// implicitly around DDL, so a batch holding DDL is not atomic there.
    async fn transaction(&self, statements: Vec<Statement>) -> Result<(), DbError>;

    /// Runs one schema statement on its own, outside any transaction (it may
    /// be one no transaction can hold, like `CREATE INDEX CONCURRENTLY`),
    /// waiting at most `lock_wait` for each lock it needs; past that it fails
    /// with [`DbError::is_lock_timeout`] instead of queueing, and with it
    /// every session behind it. Databases without such a bound run it as
    /// `execute` does.
    async fn execute_ddl(&self, sql: &str, lock_wait: Duration) -> Result<u64, DbError> {
        let _ = lock_wait;
        self.execute(sql, &[]).await
    }

    /// [`Database::transaction`] with each lock wait bounded by `lock_wait`,
    /// as in [`Database::execute_ddl`].
    async fn transaction_ddl(
        &self,
        statements: Vec<Statement>,
        lock_wait: Duration,
    ) -> Result<(), DbError> {
        let _ = lock_wait;
        self.transaction(statements).await
    }

    /// Loads `rows` into `table` and runs `extra` (event, checkpoint) in the
    /// same transaction, by the fastest path the database offers
    /// (PostgreSQL: COPY).
    async fn write_batch(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Row>,
        extra: Vec<Statement>,
    ) -> Result<(), DbError> {
        let batch = BatchWrite {
            rows: RowSet {
                table: table.to_string(),
                columns: columns.to_vec(),
                rows,
            },
            side: Vec::new(),
            extra,
        };
        self.write_batch_in_turn(batch, None).await
    }

    /// Batch transactions the loader may have open at once (see
    /// [`Database::write_batch_in_turn`]). One where writers exclude each other.
    fn concurrent_writes(&self) -> usize {
        1
    }

    /// [`Database::write_batch`] for a batch written while the one before it
    /// may still be open on another connection: the rows go in at once, and
    /// `extra` (event, checkpoint) and the commit only after `turn` says the
    /// earlier batch committed. Batches therefore commit in order, each with
    /// its checkpoint, as when they are written one by one. When `turn` says
    /// the earlier batch failed, this one rolls back and fails too. Databases
    /// with one writer wait for the turn first.
    async fn write_batch_in_turn(
        &self,
        batch: BatchWrite,
        turn: Option<Turn>,
    ) -> Result<(), DbError> {
        wait_turn(turn).await?;
        self.transaction(batch.into_statements(self.dialect()))
            .await
    }

    /// Takes the named lock, held on a dedicated connection until `unlock` or
    /// `close`; `false` when another session holds it. Databases without
    /// session locks (SQLite) always grant it.
    async fn try_lock(&self, _name: &str) -> Result<bool, DbError> {
        Ok(true)
    }

    /// Whether the lock taken with `try_lock` is still held: `false` once its
    /// connection died. Check it before each batch and stop writing if lost.
    async fn holds_lock(&self, _name: &str) -> Result<bool, DbError> {
        Ok(true)
    }

    async fn unlock(&self, _name: &str) -> Result<(), DbError> {
        Ok(())
    }

    async fn close(&self);
}

pub type Db = Arc<dyn Database>;

/// SQLite databases this process opened (any may be written: a rollback
/// opens its target without creating it), once a command asked for it
/// (`hold_sqlite_open`). A command ends in `std::process::exit`, which
/// runs no destructors, and a database dropped just before would have no
/// time to close: `close_sqlite` closes each, and the last checkpoint
/// leaves the database file whole. Without it the newest commits could be
/// only in the `-wal` file beside it, and a copy of the database file alone
/// missed them.
static OPEN_SQLITE: std::sync::Mutex<Option<Vec<Arc<sqlite::SqliteDb>>>> =
    std::sync::Mutex::new(None);

/// From now on, SQLite databases stay open until
/// `close_sqlite` (for a command; tests and other callers close their own).
pub fn hold_sqlite_open() {
    if let Ok(mut held) = OPEN_SQLITE.lock() {
        held.get_or_insert_with(Vec::new);
    }
}

/// Closes every SQLite database opened since `hold_sqlite_open`,
/// waiting at most `limit` for connections still in use.
pub async fn close_sqlite(limit: Duration) {
    let open = OPEN_SQLITE
        .lock()
        .ok()
        .and_then(|mut held| held.take())
        .unwrap_or_default();
    let all = futures::future::join_all(open.iter().map(|db| db.close()));
    if tokio::time::timeout(limit, all).await.is_err() {
        tracing::warn!("a database was still in use when the command ended");
    }
}

/// Opens a pool for `url`. A SQLite source must exist; a SQLite target is
/// created. Server databases must exist already (`create` does not apply).
pub async fn connect(url: &DbUrl, create: bool) -> Result<Db, DbError> {
    match url.backend() {
        Backend::Sqlite => {
            let db = Arc::new(sqlite::SqliteDb::connect(url, create).await?);
            if let Ok(mut held) = OPEN_SQLITE.lock()
                && let Some(open) = held.as_mut()
            {
                open.push(db.clone());
            }
            Ok(db)
        }
        Backend::Postgres => Ok(Arc::new(postgres::PostgresDb::connect(url).await?)),
        Backend::MySql => Ok(Arc::new(mysql::MySqlDb::connect(url).await?)),
    }
}

pub use mysql::MySqlDialect;
pub use postgres::PostgresDialect;

/// One line of a statement for error context, never its bound values.
fn head(sql: &str) -> String {
    // Statements can be megabytes long (a batch's INSERT): read only the start.
    let mut one_line = String::new();
    let mut chars = 0;
    for word in sql.split_whitespace() {
        if chars > 0 {
            one_line.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == 80 {
                one_line.push('…');
                return one_line;
            }
            one_line.push(c);
            chars += 1;
        }
    }
    one_line
}

/// A driver error as a person should read it: the server's own message
/// (with PostgreSQL's hint), without the driver's "error returned from
/// database" or the line of the server's C source that raised it, which
/// reads like a line of the project file.
pub fn describe(e: &sqlx::Error) -> String {
    let sqlx::Error::Database(db) = e else {
        return e.to_string();
    };
    let mut out = db.message().to_string();
    if let Some(hint) = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|pg| pg.hint())
    {
        out.push_str("; hint: ");
        out.push_str(hint);
    }
    out
}

/// How long opening the first connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection and closes it, so that a refused connection, a
/// wrong password or a missing database is reported as what it is, at once:
/// a pool retries those until its acquire timeout (30 s) and then says only
/// that it timed out. The error is the driver's, before redaction.
async fn probe<C>(options: &C) -> Result<(), String>
where
    C: sqlx::ConnectOptions,
    C::Connection: Sized,
{
    use sqlx::Connection as _;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(format!(
            "no answer within {} s; check the host, the port and the firewall",
            CONNECT_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(describe(&e)),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// A driver message with the URL's password, should it appear, masked.
fn redact_error(message: &str, url: &DbUrl) -> String {
    let full = url.expose();
    let mut out = message.replace(full, &url.redacted());
    if let Some(rest) = full.split_once("://").map(|(_, r)| r) {
        let auth = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = auth.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            out = out.replace(password, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::head;

    #[test]
    fn head_is_one_line_of_at_most_eighty_characters() {
        assert_eq!(head("SELECT\n  1,\t2"), "SELECT 1, 2");
        let long = format!("INSERT INTO \"t\" VALUES {}", "(?, ?),\n".repeat(10_000));
        let h = head(&long);
        assert_eq!(h.chars().count(), 81);
        assert!(
            h.starts_with("INSERT INTO \"t\" VALUES (?, ?), (?, ?),"),
            "{h}"
        );
        assert!(h.ends_with('…'));
        let exactly = "é".repeat(80);
        assert_eq!(head(&exactly), exactly);
    }

    #[test]
    fn a_batch_without_a_fast_path_inserts_its_rows_then_its_side_rows_then_runs_extra() {
        use super::{BatchWrite, RowSet, Statement, postgres::PostgresDialect};
        use crate::value::Value;
        let set = |table: &str, n: i64| RowSet {
            table: table.into(),
            columns: vec!["a".into()],
            rows: (0..n).map(|i| vec![Value::Int(i)]).collect(),
        };
        let batch = BatchWrite {
            rows: set("t", 2),
            side: vec![set("q", 1), set("empty", 0)],
            extra: vec![Statement::new("UPDATE c SET n = 1", vec![])],
        };
        let sql: Vec<String> = batch
            .into_statements(&PostgresDialect)
            .into_iter()
            .map(|s| format!("{} {:?}", s.sql, s.params))
            .collect();
        assert_eq!(
            sql,
            [
                r#"INSERT INTO "t" ("a") VALUES ($1), ($2) [Int(0), Int(1)]"#,
                r#"INSERT INTO "q" ("a") VALUES ($1) [Int(0)]"#,
                "UPDATE c SET n = 1 []",
            ]
        );
    }
}

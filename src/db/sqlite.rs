//! SQLite: the embedded default for demos and tests.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Row as _, SqlitePool, TypeInfo, ValueRef};

use super::{Backend, Database, DbError, DbUrl, Dialect, Statement, head};
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
                pk > 0 OR name IN (SELECT name FROM pragma_index_info(?1 || '_pkey')) \
         FROM pragma_table_info(?1) ORDER BY cid"
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
}

pub struct SqliteDb {
    pool: SqlitePool,
    url: DbUrl,
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
            .foreign_keys(false)
            // Loads append (the key index is built after the load), so
            // SQLite's default 2 MB page cache is enough; rarer WAL
            // checkpoints keep the load off the kernel. Temporary storage
            // stays in files: building a key over millions of rows sorts
            // more than the memory budget allows.
            .pragma("wal_autocheckpoint", "8192")
            .row_buffer_size(4096);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| DbError::Connect {
                url: url.redacted(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool,
            url: url.clone(),
        })
    }
}

fn bind_all(params: &[Value]) -> Result<SqliteArguments, DbError> {
    bind_owned(params.to_vec())
}

/// Binds by moving the values in: a batch's strings are not copied again.
fn bind_owned(params: Vec<Value>) -> Result<SqliteArguments, DbError> {
    let mut args = SqliteArguments::default();
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

fn decode_row(row: &SqliteRow) -> Result<Row, sqlx::Error> {
    let mut out = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let raw = row.try_get_raw(i)?;
        let v = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" | "BOOLEAN" => Value::Int(row.try_get_unchecked::<i64, _>(i)?),
                "REAL" => Value::Float(row.try_get_unchecked::<f64, _>(i)?),
                "BLOB" => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
                _ => match row.try_get_unchecked::<String, _>(i) {
                    Ok(s) => Value::Text(s),
                    // Text that is not valid UTF-8: keep the bytes, never drop them.
                    Err(_) => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
                },
            }
        };
        out.push(v);
    }
    Ok(out)
}

#[async_trait]
impl Database for SqliteDb {
    fn dialect(&self) -> &dyn Dialect {
        &SqliteDialect
    }

    fn display_url(&self) -> String {
        self.url.redacted()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let args = bind_all(params)?;
        let rows = sqlx::query_with(AssertSqlSafe(sql.to_string()), args)
            .fetch_all(&self.pool)
            .await
            .map_err(DbError::sql(head(sql)))?;
        rows.iter()
            .map(decode_row)
            .collect::<Result<_, _>>()
            .map_err(DbError::sql(head(sql)))
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

    async fn close(&self) {
        self.pool.close().await;
    }
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
        let info = db.table_info("t").await.unwrap().unwrap();
        info.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.clone())
            .collect()
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
}

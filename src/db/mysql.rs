//! MySQL and MariaDB: utf8mb4 sessions in UTC with a strict `sql_mode`,
//! introspection from `information_schema` (current database only), and
//! multi-row INSERT bounded by bind count and `max_allowed_packet`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use futures::TryStreamExt;
use sqlx::mysql::types::MySqlTime;
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{
    Arguments, AssertSqlSafe, Column as _, Connection as _, Executor as _, MySqlConnection,
    MySqlPool, Row as _, TypeInfo, ValueRef,
};

use super::locks::{LockSession, SessionLocks};
use super::postgres::{f32_to_f64, kind_of};
use super::{Backend, BatchWrite, Database, DbError, DbUrl, Dialect, Statement, Turn, head};
use crate::schema::{ColumnType, TableDef};
use crate::value::{Row, Value};

/// Strict, so a value that does not fit fails loudly instead of being
/// truncated or zeroed.
const SQL_MODE: &str = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

/// Longest VARCHAR kept as VARCHAR (65,535 bytes a row / 4 bytes a character).
const MAX_VARCHAR: u32 = 16_383;

pub struct MySqlDialect;

impl Dialect for MySqlDialect {
    /// `lock_wait_timeout` counts whole seconds, at least one (zero would
    /// mean "do not wait at all" on MariaDB).
    fn lock_wait_granted(&self, wait: Duration) -> Duration {
        Duration::from_secs((wait.as_millis().div_ceil(1000).max(1)) as u64)
    }

    fn backend(&self) -> Backend {
        Backend::MySql
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    /// The session's `sql_mode` keeps backslash escapes on.
    fn string_literal(&self, s: &str) -> String {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".into()
    }

    fn max_bind_params(&self) -> usize {
        65_535
    }

    fn type_name(&self, t: ColumnType) -> String {
        match t {
            ColumnType::Bool => "TINYINT(1)".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Int => "INT".into(),
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::Float => "FLOAT".into(),
            ColumnType::Double => "DOUBLE".into(),
            ColumnType::Decimal(p, s) => format!("DECIMAL({p},{s})"),
            ColumnType::Text => "LONGTEXT".into(),
            ColumnType::Varchar(n) if n <= MAX_VARCHAR => format!("VARCHAR({n})"),
            ColumnType::Varchar(_) => "LONGTEXT".into(),
            ColumnType::Bytes => "LONGBLOB".into(),
            ColumnType::Uuid => "CHAR(36)".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::DateTime => "DATETIME(6)".into(),
            // TIMESTAMP ends in 2038; instants are stored as DATETIME in UTC.
            ColumnType::Timestamp => "DATETIME(6)".into(),
            ColumnType::Json => "JSON".into(),
        }
    }

    fn parse_native_type(&self, native: &str) -> ColumnType {
        let lower = native.trim().to_ascii_lowercase();
        let unsigned = lower.contains("unsigned");
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (
                b.trim(),
                rest.split(')').next().unwrap_or("").trim().to_string(),
            ),
            None => (lower.split_whitespace().next().unwrap_or(""), String::new()),
        };
        let nums: Vec<u32> = args
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        match base {
            "tinyint" if nums.first() == Some(&1) => ColumnType::Bool,
            "bool" | "boolean" => ColumnType::Bool,
            "bit" if nums.first().is_none_or(|n| *n == 1) => ColumnType::Bool,
            "tinyint" => ColumnType::SmallInt,
            "smallint" if unsigned => ColumnType::Int,
            "smallint" | "year" => ColumnType::SmallInt,
            "mediumint" => ColumnType::Int,
            "int" | "integer" if unsigned => ColumnType::BigInt,
            "int" | "integer" => ColumnType::Int,
            // BIGINT UNSIGNED exceeds i64: exact as a 20-digit decimal.
            "bigint" if unsigned => ColumnType::Decimal(20, 0),
            "bigint" => ColumnType::BigInt,
            "float" => ColumnType::Float,
            "double" | "real" => ColumnType::Double,
            "decimal" | "numeric" | "dec" | "fixed" => ColumnType::Decimal(
                nums.first().copied().unwrap_or(10).min(255) as u8,
                nums.get(1).copied().unwrap_or(0).min(255) as u8,
            ),
            "char" if nums.first() == Some(&36) => ColumnType::Uuid,
            "uuid" => ColumnType::Uuid,
            "char" | "varchar" => nums
                .first()
                .map_or(ColumnType::Text, |n| ColumnType::Varchar(*n)),
            "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" | "time" => {
                ColumnType::Text
            }
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
                ColumnType::Bytes
            }
            "date" => ColumnType::Date,
            "datetime" => ColumnType::DateTime,
            "timestamp" => ColumnType::Timestamp,
            "json" => ColumnType::Json,
            _ => ColumnType::Text,
        }
    }

    fn list_tables_sql(&self) -> &'static str {
        "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY TABLE_NAME"
    }

    fn table_info_sql(&self) -> &'static str {
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_KEY = 'PRI' \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
         ORDER BY ORDINAL_POSITION"
    }

    /// MariaDB's JSON type is LONGTEXT with a `json_valid` check named after
    /// the column: part of the type, not a constraint of its own.
    fn constraints_sql(&self) -> (&'static str, usize) {
        (
            "SELECT IF(MIN(NON_UNIQUE) = 0, 'unique', 'index'), \
                    GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ','), \
                    INDEX_NAME \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' \
             GROUP BY INDEX_NAME \
             UNION ALL \
             SELECT 'check', '', cc.CHECK_CLAUSE \
             FROM information_schema.TABLE_CONSTRAINTS tc \
             JOIN information_schema.CHECK_CONSTRAINTS cc \
               ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
              AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
             WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.TABLE_NAME = ? \
               AND tc.CONSTRAINT_TYPE = 'CHECK' \
               AND cc.CHECK_CLAUSE <> CONCAT('json_valid(`', cc.CONSTRAINT_NAME, '`)') \
             UNION ALL \
             SELECT 'foreign key', \
                    GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR ','), \
                    MAX(REFERENCED_TABLE_NAME) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
               AND REFERENCED_TABLE_NAME IS NOT NULL \
             GROUP BY CONSTRAINT_NAME",
            3,
        )
    }

    /// InnoDB's sampled statistics (exact for MyISAM).
    fn estimated_rows_sql(&self) -> Option<&'static str> {
        Some(
            "SELECT TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
    }

    fn index_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ?"
    }

    fn serial_primary_key(&self) -> &'static str {
        "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"
    }

    /// InnoDB stores rows in primary-key order: adding the key after the
    /// load would copy the whole table once more.
    fn defers_primary_key(&self) -> bool {
        false
    }

    /// utf8mb4 with a binary collation: keys compare exactly, as in the source.
    /// Text key columns become VARCHAR(191), which utf8mb4 can index anywhere.
    fn create_table(&self, def: &TableDef) -> String {
        let mut cols: Vec<String> = def
            .columns
            .iter()
            .map(|c| {
                let in_key = def.primary_key.contains(&c.name);
                let t = match c.column_type {
                    ColumnType::Text if in_key => "VARCHAR(191)".to_string(),
                    ColumnType::Bytes if in_key => "VARBINARY(255)".to_string(),
                    other => self.type_name(other),
                };
                let null = if c.nullable { "" } else { " NOT NULL" };
                format!("{} {t}{null}", self.quote_ident(&c.name))
            })
            .collect();
        if !def.primary_key.is_empty() {
            cols.push(format!(
                "PRIMARY KEY ({})",
                self.ident_list(&def.primary_key)
            ));
        }
        format!(
            "CREATE TABLE {} (\n  {}\n) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            self.quote_ident(&def.name),
            cols.join(",\n  ")
        )
    }

    fn unstorable(&self, value: &Value) -> Option<String> {
        let year_ok = |y: i32| (1000..=9999).contains(&y);
        use chrono::Datelike;
        match value {
            Value::Float(f) if !f.is_finite() => {
                Some(format!("MySQL cannot store {f} in a numeric column"))
            }
            Value::Date(d) if !year_ok(d.year()) => Some(year_reason(d.year())),
            Value::DateTime(d) if !year_ok(d.year()) => Some(year_reason(d.year())),
            Value::Timestamp(t) if !year_ok(t.year()) => Some(year_reason(t.year())),
            _ => None,
        }
    }
}

fn year_reason(year: i32) -> String {
    format!("MySQL dates hold the years 1000 to 9999, not {year}")
}

pub struct MySqlDb {
    pool: MySqlPool,
    url: DbUrl,
    options: MySqlConnectOptions,
    /// Bytes one INSERT may carry; half of the server's `max_allowed_packet`.
    packet_budget: usize,
    /// GET_LOCK locks, each held by its own connection outside the pool.
    locks: SessionLocks<MySqlConnection>,
}

impl MySqlDb {
    /// A pooled connection whose lock waits are bounded by `lock_wait`; it is
    /// closed, not returned to the pool, when dropped.
    async fn ddl_connection(
        &self,
        lock_wait: Duration,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::MySql>, DbError> {
        let mut conn = self.pool.acquire().await.map_err(DbError::sql("connect"))?;
        conn.close_on_drop();
        exec_on(
            &mut conn,
            &Statement::new(lock_wait_timeout(lock_wait), vec![]),
        )
        .await?;
        Ok(conn)
    }

    pub async fn connect(url: &DbUrl) -> Result<Self, DbError> {
        let fail = |e: sqlx::Error| DbError::Connect {
            url: url.redacted(),
            reason: super::redact_error(&super::describe(&e), url),
        };
        // The driver knows only the mysql:// scheme; mariadb:// means the same.
        let raw = url.expose();
        let raw = match raw.split_once("://") {
            Some((_, rest)) => format!("mysql://{rest}"),
            None => raw.to_string(),
        };
        let options = MySqlConnectOptions::from_str(&raw)
            .map_err(fail)?
            .charset("utf8mb4")
            .collation("utf8mb4_bin")
            .timezone(Some("+00:00".to_string()))
            .pipes_as_concat(false);
        super::probe(&options)
            .await
            .map_err(|reason| DbError::Connect {
                url: url.redacted(),
                reason: super::redact_error(&reason, url),
            })?;
        let pool = MySqlPoolOptions::new()
            .max_connections(5)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    super::nodelay::on_tcp_sockets();
                    conn.execute(SQL_MODE).await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(fail)?;
        let mut db = Self {
            pool,
            url: url.clone(),
            options,
            packet_budget: 1 << 20,
            locks: SessionLocks::default(),
        };
        let packet = db
            .query("SELECT @@max_allowed_packet", &[])
            .await?
            .first()
            .and_then(|r| r[0].as_i64())
            .unwrap_or(4 << 20);
        db.packet_budget = (packet as usize / 2).max(64 << 10);
        Ok(db)
    }

    async fn lock_conn(&self) -> Result<MySqlConnection, DbError> {
        MySqlConnection::connect_with(&self.options)
            .await
            .map_err(DbError::sql("lock connection"))
    }
}

fn bind_all(params: &[Value]) -> Result<MySqlArguments, DbError> {
    let mut args = MySqlArguments::default();
    for p in params {
        let r = match p {
            Value::Null => args.add(Option::<String>::None),
            Value::Bool(b) => args.add(*b),
            Value::Int(i) => args.add(*i),
            Value::Float(f) => args.add(*f),
            Value::Text(s) => args.add(s.as_str()),
            Value::Bytes(b) => args.add(b.as_slice()),
            Value::Uuid(u) => args.add(u.hyphenated().to_string()),
            Value::Date(d) => args.add(*d),
            Value::DateTime(d) => args.add(*d),
            // The session time zone is UTC, and so are the stored instants.
            Value::Timestamp(t) => args.add(t.naive_utc()),
        };
        r.map_err(|e| DbError::Unsupported(format!("cannot bind {}: {e}", kind_of(p))))?;
    }
    Ok(args)
}

/// A DATE/DATETIME/TIMESTAMP in the binary protocol: a length byte, then
/// year (2 bytes), month, day, [hour, minute, second, [microseconds (4)]].
/// Zero and partial dates (`0000-00-00`) are kept as their text, never dropped.
fn decode_temporal(raw: &[u8], type_name: &str) -> Value {
    let binary = raw
        .first()
        .is_some_and(|n| matches!(n, 0 | 4 | 7 | 11) && raw.len() == 1 + *n as usize);
    let (y, mo, d, h, mi, s, us) = if binary {
        let b = &raw[1..];
        let at = |i: usize| b.get(i).copied().unwrap_or(0) as u32;
        let year = b
            .get(0..2)
            .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]) as i32);
        let micros = b
            .get(7..11)
            .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]));
        (year, at(2), at(3), at(4), at(5), at(6), micros)
    } else {
        // Text protocol: parse what the server wrote. (Binary values are
        // not UTF-8: reading them as text would copy them for nothing.)
        let text = String::from_utf8_lossy(raw);
        if let Ok(dt) = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f") {
            return temporal_value(dt, type_name);
        }
        if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return temporal_value(d.and_time(NaiveTime::MIN), type_name);
        }
        return Value::Text(text.into_owned());
    };
    let time = NaiveTime::from_hms_micro_opt(h, mi, s, us);
    match (NaiveDate::from_ymd_opt(y, mo, d), time) {
        (Some(date), Some(time)) => temporal_value(date.and_time(time), type_name),
        _ => Value::Text(if type_name == "DATE" {
            format!("{y:04}-{mo:02}-{d:02}")
        } else {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        }),
    }
}

fn temporal_value(dt: NaiveDateTime, type_name: &str) -> Value {
    match type_name {
        "DATE" => Value::Date(dt.date()),
        // TIMESTAMP columns are instants, read in the session's UTC.
        "TIMESTAMP" => Value::Timestamp(dt.and_utc()),
        _ => Value::DateTime(dt),
    }
}

/// How a result column's values are read, decided once per result set from
/// the column's type (telling binary strings from text takes a look at the
/// collation, too slow to repeat for every value).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Decode {
    Bool,
    Int,
    Unsigned,
    Float,
    Double,
    Decimal,
    /// DATE, DATETIME or TIMESTAMP, by its type name.
    Temporal(&'static str),
    Time,
    Bytes,
    Null,
    /// CHAR, VARCHAR, the TEXTs, ENUM, SET, JSON: text, or bytes if not UTF-8.
    Text,
}

fn decode_plan(row: &MySqlRow) -> Vec<Decode> {
    row.columns()
        .iter()
        .map(|c| {
            let info = c.type_info();
            match info.name() {
                "BOOLEAN" => Decode::Bool,
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Decode::Int,
                "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED"
                | "INT UNSIGNED" | "BIGINT UNSIGNED" => Decode::Unsigned,
                "FLOAT" => Decode::Float,
                "DOUBLE" => Decode::Double,
                "DECIMAL" => Decode::Decimal,
                "DATE" => Decode::Temporal("DATE"),
                "DATETIME" => Decode::Temporal("DATETIME"),
                "TIMESTAMP" => Decode::Temporal("TIMESTAMP"),
                "TIME" => Decode::Time,
                "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB"
                    if is_binary_charset(info) =>
                {
                    Decode::Bytes
                }
                "BIT" | "GEOMETRY" => Decode::Bytes,
                "NULL" => Decode::Null,
                _ => Decode::Text,
            }
        })
        .collect()
}

fn decode_row(row: &MySqlRow, plan: &[Decode]) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(plan.len());
    for (i, how) in plan.iter().enumerate() {
        let err = |e: sqlx::Error| DbError::Sql {
            context: format!("reading column {i}"),
            source: e,
        };
        let raw = row.try_get_raw(i).map_err(err)?;
        if raw.is_null() {
            // The driver reports zero dates as NULL; their bytes say otherwise.
            let zero = match how {
                Decode::Temporal(name) => row
                    .try_get_unchecked::<&[u8], _>(i)
                    .ok()
                    .map(|b| decode_temporal(b, name)),
                _ => None,
            };
            out.push(zero.unwrap_or(Value::Null));
            continue;
        }
        let v = match how {
            Decode::Bool => Value::Bool(row.try_get_unchecked::<i64, _>(i).map_err(err)? != 0),
            Decode::Int => Value::Int(row.try_get_unchecked(i).map_err(err)?),
            Decode::Unsigned => {
                let u: u64 = row.try_get_unchecked(i).map_err(err)?;
                // Beyond i64 only BIGINT UNSIGNED goes; keep it exact as text.
                i64::try_from(u).map_or_else(|_| Value::Text(u.to_string()), Value::Int)
            }
            Decode::Float => Value::Float(f32_to_f64(row.try_get_unchecked(i).map_err(err)?)),
            Decode::Double => Value::Float(row.try_get_unchecked(i).map_err(err)?),
            Decode::Decimal => Value::Text(row.try_get_unchecked(i).map_err(err)?),
            Decode::Temporal(name) => {
                let raw: &[u8] = row.try_get_unchecked(i).map_err(err)?;
                decode_temporal(raw, name)
            }
            Decode::Time => Value::Text(
                row.try_get_unchecked::<MySqlTime, _>(i)
                    .map_err(err)?
                    .to_string(),
            ),
            Decode::Bytes => Value::Bytes(row.try_get_unchecked(i).map_err(err)?),
            Decode::Null => Value::Null,
            Decode::Text => {
                let raw: &[u8] = row.try_get_unchecked(i).map_err(err)?;
                match std::str::from_utf8(raw) {
                    Ok(s) => Value::Text(s.to_string()),
                    Err(_) => Value::Bytes(raw.to_vec()),
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

fn is_binary_charset(info: &sqlx::mysql::MySqlTypeInfo) -> bool {
    format!("{info:?}").contains("collation: Collation(63)")
}

/// Bytes a row adds to an INSERT packet, roughly: payload plus per-value framing.
fn row_bytes(row: &Row) -> usize {
    row.iter()
        .map(|v| {
            12 + match v {
                Value::Text(s) => s.len(),
                Value::Bytes(b) => b.len(),
                _ => 8,
            }
        })
        .sum()
}

/// `SET SESSION lock_wait_timeout` for a wait, as the server can grant it.
fn lock_wait_timeout(wait: Duration) -> String {
    let seconds = MySqlDialect.lock_wait_granted(wait).as_secs();
    format!("SET SESSION lock_wait_timeout = {seconds}")
}

async fn exec_on(conn: &mut MySqlConnection, st: &Statement) -> Result<u64, DbError> {
    let args = bind_all(&st.params)?;
    let done = sqlx::query_with(AssertSqlSafe(st.sql.clone()), args)
        .execute(conn)
        .await
        .map_err(DbError::sql(head(&st.sql)))?;
    Ok(done.rows_affected())
}

#[async_trait]
impl LockSession for MySqlConnection {
    async fn take(&mut self, name: &str) -> Result<bool, DbError> {
        Ok(lock_query(self, LOCK_SQL, name).await? == Some(1))
    }

    async fn holds(&mut self, name: &str) -> Result<bool, DbError> {
        Ok(lock_query(self, HELD_SQL, name).await? == Some(1))
    }

    async fn release(&mut self, name: &str) -> Result<(), DbError> {
        lock_query(self, UNLOCK_SQL, name).await.map(|_| ())
    }
}

async fn lock_query(
    conn: &mut MySqlConnection,
    sql: &'static str,
    name: &str,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(sql)
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(DbError::sql(head(sql)))?;
    row.try_get::<Option<i64>, _>(0)
        .map_err(DbError::sql(head(sql)))
}

// GET_LOCK names are at most 64 characters.
const LOCK_SQL: &str = "SELECT GET_LOCK(LEFT(?, 64), 0)";
const UNLOCK_SQL: &str = "SELECT RELEASE_LOCK(LEFT(?, 64))";
const HELD_SQL: &str = "SELECT IS_USED_LOCK(LEFT(?, 64)) = CONNECTION_ID()";

#[async_trait]
impl Database for MySqlDb {
    fn dialect(&self) -> &dyn Dialect {
        &MySqlDialect
    }

    fn display_url(&self) -> String {
        self.url.redacted()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let args = bind_all(params)?;
        // Each row is decoded as it arrives, so the driver's rows never pile
        // up beside the decoded ones. The decode plan comes from the first
        // row; every row of a result shares it.
        let mut stream = sqlx::query_with(AssertSqlSafe(sql.to_string()), args).fetch(&self.pool);
        let mut plan = None;
        let mut out = Vec::new();
        // The error's context is built only on an error: this runs per row.
        while let Some(row) = stream
            .try_next()
            .await
            .map_err(|e| DbError::sql(head(sql))(e))?
        {
            let plan = plan.get_or_insert_with(|| decode_plan(&row));
            out.push(decode_row(&row, plan)?);
        }
        Ok(out)
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut conn = self.pool.acquire().await.map_err(DbError::sql("connect"))?;
        exec_on(&mut conn, &Statement::new(sql, params.to_vec())).await
    }

    async fn transaction(&self, statements: Vec<Statement>) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(DbError::sql("BEGIN"))?;
        for st in &statements {
            exec_on(&mut tx, st).await?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    /// On a connection whose metadata locks wait at most `lock_wait`
    /// (`lock_wait_timeout`, whole seconds, at least one): a DDL queued
    /// behind a long transaction would otherwise hold up every query of the
    /// table behind it for the server's default, a day on MariaDB and a year
    /// on MySQL. The connection is closed afterwards rather than returned to
    /// the pool with the setting.
    async fn execute_ddl(&self, sql: &str, lock_wait: Duration) -> Result<u64, DbError> {
        let mut conn = self.ddl_connection(lock_wait).await?;
        exec_on(&mut conn, &Statement::new(sql, vec![])).await
    }

    /// As [`MySqlDb::execute_ddl`]; DDL among `statements` commits on its own
    /// (MySQL has no transactional DDL).
    async fn transaction_ddl(
        &self,
        statements: Vec<Statement>,
        lock_wait: Duration,
    ) -> Result<(), DbError> {
        let mut conn = self.ddl_connection(lock_wait).await?;
        let mut tx = (*conn).begin().await.map_err(DbError::sql("BEGIN"))?;
        for st in &statements {
            exec_on(&mut tx, st).await?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    /// Two: a batch's INSERTs run while the one before it commits.
    fn concurrent_writes(&self) -> usize {
        2
    }

    /// A batch's transaction: multi-row INSERTs within the packet budget,
    /// then (after `turn`, when given) `extra` and the commit.
    async fn write_batch_in_turn(
        &self,
        batch: BatchWrite,
        turn: Option<Turn>,
    ) -> Result<(), DbError> {
        let d = MySqlDialect;
        let mut inserts = Vec::new();
        let BatchWrite { rows, side, extra } = batch;
        for set in std::iter::once(rows).chain(side) {
            let mut group = Vec::new();
            let mut size = 0;
            for row in set.rows {
                let n = row_bytes(&row);
                if !group.is_empty() && size + n > self.packet_budget {
                    inserts.extend(d.insert_rows(
                        &set.table,
                        &set.columns,
                        std::mem::take(&mut group),
                    ));
                    size = 0;
                }
                size += n;
                group.push(row);
            }
            inserts.extend(d.insert_rows(&set.table, &set.columns, group));
        }
        let mut tx = self.pool.begin().await.map_err(DbError::sql("BEGIN"))?;
        for st in &inserts {
            exec_on(&mut tx, st).await?;
        }
        drop(inserts);
        super::wait_turn(turn).await?;
        for st in &extra {
            exec_on(&mut tx, st).await?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    async fn try_lock(&self, name: &str) -> Result<bool, DbError> {
        self.locks.try_lock(name, self.lock_conn()).await
    }

    async fn holds_lock(&self, name: &str) -> Result<bool, DbError> {
        self.locks.holds(name).await
    }

    async fn unlock(&self, name: &str) -> Result<(), DbError> {
        self.locks.unlock(name).await
    }

    async fn close(&self) {
        self.locks.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_wait_is_whole_seconds_and_says_so() {
        let d = MySqlDialect;
        for (ms, granted) in [(1, 1), (500, 1), (1000, 1), (2000, 2), (2001, 3)] {
            let wait = Duration::from_millis(ms);
            assert_eq!(
                d.lock_wait_granted(wait),
                Duration::from_secs(granted),
                "{ms} ms"
            );
            assert_eq!(
                lock_wait_timeout(wait),
                format!("SET SESSION lock_wait_timeout = {granted}")
            );
        }
        let msg =
            crate::db::postgres::PostgresDialect.lock_wait_granted(Duration::from_millis(500));
        assert_eq!(
            msg,
            Duration::from_millis(500),
            "PostgreSQL's lock_timeout counts milliseconds"
        );
    }

    #[test]
    fn quotes_with_backticks() {
        assert_eq!(MySqlDialect.quote_ident("a`b"), "`a``b`");
        assert_eq!(MySqlDialect.string_literal(r"a\'b"), r"'a\\''b'");
        let st = MySqlDialect.insert_rows(
            "t",
            &["a".into(), "b".into()],
            vec![vec![Value::Int(1), Value::Null]],
        );
        assert_eq!(st[0].sql, "INSERT INTO `t` (`a`, `b`) VALUES (?, ?)");
    }

    #[test]
    fn legacy_native_types() {
        let d = MySqlDialect;
        assert_eq!(d.parse_native_type("tinyint(1)"), ColumnType::Bool);
        assert_eq!(d.parse_native_type("tinyint(4)"), ColumnType::SmallInt);
        assert_eq!(d.parse_native_type("int(10) unsigned"), ColumnType::BigInt);
        assert_eq!(d.parse_native_type("int(11)"), ColumnType::Int);
        assert_eq!(
            d.parse_native_type("bigint(20) unsigned"),
            ColumnType::Decimal(20, 0)
        );
        assert_eq!(
            d.parse_native_type("decimal(10,2)"),
            ColumnType::Decimal(10, 2)
        );
        assert_eq!(
            d.parse_native_type("varchar(191)"),
            ColumnType::Varchar(191)
        );
        assert_eq!(d.parse_native_type("char(36)"), ColumnType::Uuid);
        assert_eq!(d.parse_native_type("mediumtext"), ColumnType::Text);
        assert_eq!(d.parse_native_type("longblob"), ColumnType::Bytes);
        assert_eq!(d.parse_native_type("datetime(6)"), ColumnType::DateTime);
        assert_eq!(d.parse_native_type("timestamp"), ColumnType::Timestamp);
        for t in [
            ColumnType::Bool,
            ColumnType::BigInt,
            ColumnType::Double,
            ColumnType::Decimal(12, 4),
            ColumnType::Varchar(64),
            ColumnType::Uuid,
            ColumnType::Date,
            ColumnType::DateTime,
        ] {
            assert_eq!(d.parse_native_type(&d.type_name(t)), t, "{t}");
        }
    }

    #[test]
    fn text_keys_fit_a_utf8mb4_index() {
        let def = TableDef {
            name: "t".into(),
            columns: vec![crate::schema::ColumnDef {
                name: "k".into(),
                column_type: ColumnType::Text,
                nullable: false,
            }],
            primary_key: vec!["k".into()],
        };
        let sql = MySqlDialect.create_table(&def);
        assert!(sql.contains("`k` VARCHAR(191) NOT NULL"), "{sql}");
        assert!(sql.ends_with("COLLATE=utf8mb4_bin"), "{sql}");
    }

    #[test]
    fn zero_dates_are_kept_as_text() {
        assert_eq!(
            decode_temporal(&[0], "DATETIME"),
            Value::Text("0000-00-00 00:00:00".into())
        );
        // 2024-03-10 02:30:00 in the binary protocol.
        let raw = [7, 0xe8, 0x07, 3, 10, 2, 30, 0];
        assert_eq!(
            decode_temporal(&raw, "DATETIME"),
            Value::DateTime(
                NaiveDate::from_ymd_opt(2024, 3, 10)
                    .unwrap()
                    .and_hms_opt(2, 30, 0)
                    .unwrap()
            )
        );
        assert_eq!(
            decode_temporal(b"2024-00-15", "DATE"),
            Value::Text("2024-00-15".into())
        );
    }

    #[test]
    fn nan_and_far_years_are_unstorable() {
        assert!(MySqlDialect.unstorable(&Value::Float(f64::NAN)).is_some());
        assert!(MySqlDialect.unstorable(&Value::Float(1.5)).is_none());
        let d = NaiveDate::from_ymd_opt(12000, 1, 1).unwrap();
        assert!(MySqlDialect.unstorable(&Value::Date(d)).is_some());
    }
}

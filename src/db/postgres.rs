//! PostgreSQL: native UUID and TIMESTAMPTZ, catalog introspection from
//! `pg_catalog` (current schema only), and batches loaded with `COPY`.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnectOptions, PgPoolOptions, PgRow, PgTypeInfo,
};
use sqlx::{
    Arguments, AssertSqlSafe, Encode, PgConnection, PgPool, Postgres, Row as _, Type, TypeInfo,
    ValueRef,
};

use super::locks::{LockSession, SessionLocks};
use super::{Backend, BatchWrite, Database, DbError, DbUrl, Dialect, Statement, Turn, head};
use crate::schema::ColumnType;
use crate::value::{Row, Value};

pub struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn max_bind_params(&self) -> usize {
        // The wire protocol counts parameters in an i16.
        32_767
    }

    fn type_name(&self, t: ColumnType) -> String {
        match t {
            ColumnType::Bool => "BOOLEAN".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Int => "INTEGER".into(),
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::Float => "REAL".into(),
            ColumnType::Double => "DOUBLE PRECISION".into(),
            ColumnType::Decimal(p, s) => format!("NUMERIC({p},{s})"),
            ColumnType::Text => "TEXT".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            ColumnType::Bytes => "BYTEA".into(),
            ColumnType::Uuid => "UUID".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::DateTime => "TIMESTAMP".into(),
            ColumnType::Timestamp => "TIMESTAMPTZ".into(),
            ColumnType::Json => "JSONB".into(),
        }
    }

    fn parse_native_type(&self, native: &str) -> ColumnType {
        let lower = native.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')'))),
            None => (lower.as_str(), None),
        };
        let nums: Vec<u32> = args
            .map(|a| a.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_default();
        match base {
            "boolean" | "bool" => ColumnType::Bool,
            "smallint" | "int2" => ColumnType::SmallInt,
            "integer" | "int" | "int4" => ColumnType::Int,
            "bigint" | "int8" => ColumnType::BigInt,
            "real" | "float4" => ColumnType::Float,
            "double precision" | "float8" => ColumnType::Double,
            "numeric" | "decimal" => match nums[..] {
                [p, s] => ColumnType::Decimal(clamp_u8(p), clamp_u8(s)),
                [p] => ColumnType::Decimal(clamp_u8(p), 0),
                _ => ColumnType::Text,
            },
            "character varying" | "varchar" | "character" | "char" | "bpchar" => nums
                .first()
                .map_or(ColumnType::Text, |n| ColumnType::Varchar(*n)),
            "bytea" => ColumnType::Bytes,
            "uuid" => ColumnType::Uuid,
            "date" => ColumnType::Date,
            "json" | "jsonb" => ColumnType::Json,
            _ if base.starts_with("timestamp")
                && lower.contains("with time zone")
                && !lower.contains("without") =>
            {
                ColumnType::Timestamp
            }
            "timestamptz" => ColumnType::Timestamp,
            _ if base.starts_with("timestamp") => ColumnType::DateTime,
            _ => ColumnType::Text,
        }
    }

    fn list_tables_sql(&self) -> &'static str {
        "SELECT c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
                 ORDER BY 1"
    }

    fn table_info_sql(&self) -> &'static str {
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                NOT a.attnotnull, \
                EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
                        WHERE i.indrelid = c.oid AND i.indisprimary \
                          AND a.attnum = ANY(i.indkey)) \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = $1 \
           AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
           AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum"
    }

    fn constraints_sql(&self) -> (&'static str, usize) {
        (
            "SELECT CASE WHEN i.indisunique THEN 'unique' ELSE 'index' END, \
                    (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                       FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n) \
                       JOIN pg_catalog.pg_attribute a \
                         ON a.attrelid = i.indrelid AND a.attnum = k.attnum), \
                    ic.relname::text \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1 \
               AND NOT i.indisprimary AND i.indisvalid \
             UNION ALL \
             SELECT CASE con.contype WHEN 'c' THEN 'check' ELSE 'foreign key' END, \
                    CASE con.contype WHEN 'c' THEN '' ELSE \
                      (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                         FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n) \
                         JOIN pg_catalog.pg_attribute a \
                           ON a.attrelid = con.conrelid AND a.attnum = k.attnum) END, \
                    CASE con.contype WHEN 'c' THEN pg_catalog.pg_get_constraintdef(con.oid) \
                      ELSE (SELECT r.relname::text FROM pg_catalog.pg_class r \
                            WHERE r.oid = con.confrelid) END \
             FROM pg_catalog.pg_constraint con \
             JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1 \
               AND con.contype IN ('c', 'f')",
            1,
        )
    }

    fn partition_columns_sql(&self) -> Option<&'static str> {
        Some(
            "SELECT a.attname::text FROM pg_catalog.pg_partitioned_table pt \
             JOIN pg_catalog.pg_class c ON c.oid = pt.partrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) WITH ORDINALITY k(attnum, i) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() AND c.relname = $1 \
             ORDER BY k.i",
        )
    }

    /// `reltuples` as the last VACUUM, ANALYZE or index build left it; -1
    /// until one of them ran.
    fn estimated_rows_sql(&self) -> Option<&'static str> {
        Some(
            "SELECT c.reltuples::bigint FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1",
        )
    }

    fn index_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM pg_catalog.pg_indexes \
         WHERE schemaname = current_schema() AND tablename = $1 AND indexname = $2"
    }

    fn serial_primary_key(&self) -> &'static str {
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    }

    fn store_uncompressed(&self, table: &str, column: &str) -> Option<String> {
        // Out of line but not compressed (pglz was a tenth of the server's
        // time in a load). ALTER only when needed: it locks the table.
        if table.contains('$') || column.contains('$') {
            return None; // would end the dollar-quoted block early
        }
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let alter = format!(
            "ALTER TABLE {} ALTER COLUMN {} SET STORAGE EXTERNAL",
            self.quote_ident(table),
            self.quote_ident(column)
        );
        Some(format!(
            "DO $flightdeck$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute \
             WHERE attrelid = pg_catalog.to_regclass({}) AND attname = {} AND attstorage <> 'e') \
             THEN EXECUTE {}; END IF; END $flightdeck$",
            lit(&self.quote_ident(table)),
            lit(column),
            lit(&alter)
        ))
    }

    fn unstorable(&self, value: &Value) -> Option<String> {
        match value {
            Value::Text(s) if s.contains('\0') => {
                Some("PostgreSQL text cannot hold the NUL character (0x00)".into())
            }
            _ => None,
        }
    }
}

fn clamp_u8(n: u32) -> u8 {
    n.min(u8::MAX as u32) as u8
}

pub struct PostgresDb {
    pool: PgPool,
    url: DbUrl,
    options: PgConnectOptions,
    /// Advisory locks, each held by its own connection outside the pool.
    locks: SessionLocks<PgConnection>,
}

impl PostgresDb {
    pub async fn connect(url: &DbUrl) -> Result<Self, DbError> {
        let fail = |reason: String| DbError::Connect {
            url: url.redacted(),
            reason,
        };
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|e| fail(super::redact_error(&super::describe(&e), url)))?
            .application_name("flightdeck");
        super::probe(&options)
            .await
            .map_err(|e| fail(super::redact_error(&e, url)))?;
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .after_connect(|_conn, _meta| {
                Box::pin(async move {
                    super::nodelay::on_tcp_sockets();
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(|e| fail(super::redact_error(&super::describe(&e), url)))?;
        Ok(Self {
            options,
            locks: SessionLocks::default(),
            pool,
            url: url.clone(),
        })
    }
}

/// A NULL whose type the server infers from where it is used, so it fits a
/// column of any type.
struct UntypedNull;

impl Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

fn bind_all(params: &[Value]) -> Result<PgArguments, DbError> {
    let mut args = PgArguments::default();
    for p in params {
        let r = match p {
            Value::Null => args.add(UntypedNull),
            Value::Bool(b) => args.add(*b),
            Value::Int(i) => args.add(*i),
            Value::Float(f) => args.add(*f),
            Value::Text(s) => args.add(s.as_str()),
            Value::Bytes(b) => args.add(b.as_slice()),
            Value::Uuid(u) => args.add(*u),
            Value::Date(d) => args.add(*d),
            Value::DateTime(d) => args.add(*d),
            Value::Timestamp(t) => args.add(*t),
        };
        r.map_err(|e| DbError::Unsupported(format!("cannot bind {}: {e}", kind_of(p))))?;
    }
    Ok(args)
}

/// The variant name only: bound values may be secrets or personal data.
pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Text(_) => "a text",
        Value::Bytes(_) => "bytes",
        Value::Uuid(_) => "a uuid",
        Value::Date(_) => "a date",
        Value::DateTime(_) => "a datetime",
        Value::Timestamp(_) => "a timestamp",
    }
}

fn decode_row(row: &PgRow) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let err = |e: sqlx::Error| DbError::Sql {
            context: format!("reading column {i}"),
            source: e,
        };
        let raw = row.try_get_raw(i).map_err(err)?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let type_name = raw.type_info().name().to_string();
        let v = match type_name.as_str() {
            "BOOL" => Value::Bool(row.try_get_unchecked(i).map_err(err)?),
            "INT2" => Value::Int(row.try_get_unchecked::<i16, _>(i).map_err(err)?.into()),
            "INT4" => Value::Int(row.try_get_unchecked::<i32, _>(i).map_err(err)?.into()),
            "INT8" => Value::Int(row.try_get_unchecked(i).map_err(err)?),
            "OID" => Value::Int(row.try_get_unchecked::<Oid, _>(i).map_err(err)?.0.into()),
            // Through the shortest decimal form, so 0.87 stays 0.87 and not 0.8700000047.
            "FLOAT4" => Value::Float(f32_to_f64(row.try_get_unchecked(i).map_err(err)?)),
            "FLOAT8" => Value::Float(row.try_get_unchecked(i).map_err(err)?),
            "NUMERIC" => {
                let raw: &[u8] = row.try_get_unchecked(i).map_err(err)?;
                Value::Text(numeric_text(raw).ok_or_else(|| {
                    DbError::Unsupported(format!("column {i}: malformed NUMERIC from the server"))
                })?)
            }
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "UNKNOWN" | "XML" => {
                Value::Text(row.try_get_unchecked(i).map_err(err)?)
            }
            "BYTEA" => Value::Bytes(row.try_get_unchecked(i).map_err(err)?),
            "UUID" => Value::Uuid(row.try_get_unchecked(i).map_err(err)?),
            "DATE" => Value::Date(row.try_get_unchecked(i).map_err(err)?),
            "TIMESTAMP" => Value::DateTime(row.try_get_unchecked(i).map_err(err)?),
            "TIMESTAMPTZ" => Value::Timestamp(row.try_get_unchecked(i).map_err(err)?),
            "TIME" => Value::Text(
                row.try_get_unchecked::<chrono::NaiveTime, _>(i)
                    .map_err(err)?
                    .to_string(),
            ),
            "JSON" | "JSONB" => {
                let raw: &[u8] = row.try_get_unchecked(i).map_err(err)?;
                // Binary JSONB starts with a format version byte.
                let body = if type_name == "JSONB" {
                    raw.get(1..).unwrap_or_default()
                } else {
                    raw
                };
                Value::Text(String::from_utf8_lossy(body).into_owned())
            }
            other => {
                // Enum labels travel as text; anything else needs a cast.
                match row.try_get_unchecked::<String, _>(i) {
                    Ok(s)
                        if matches!(
                            raw.type_info().kind(),
                            sqlx::postgres::PgTypeKind::Enum(_)
                        ) =>
                    {
                        Value::Text(s)
                    }
                    _ => {
                        return Err(DbError::Unsupported(format!(
                            "column {} has PostgreSQL type {other}, which flightdeck cannot read; cast it to text in a view",
                            row.columns().get(i).map_or("?", |c| sqlx::Column::name(c))
                        )));
                    }
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// The f64 nearest the shortest decimal that reads back as `f` (0.1f32 is
/// 0.1, not 0.10000000149011612). This runs once per FLOAT value read, so
/// the usual magnitudes are rounded arithmetically (`short_decimal`); the
/// rest are formatted on the stack and parsed back.
pub(super) fn f32_to_f64(f: f32) -> f64 {
    if !f.is_finite() {
        return f as f64;
    }
    short_decimal(f).unwrap_or_else(|| formatted_f32(f))
}

/// Powers of ten that an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The shortest decimal that reads back as `f`, found by rounding: for one
/// significant digit, then two, …, the decimals next to `f` at that
/// precision (`c / 10^k` with exact operands, so the division rounds to
/// the f64 nearest the decimal, as parsing its text would); the first
/// precision where one reads back as `f` wins, the nearest to `f` among
/// them, as Rust's shortest formatting picks. `None` outside 1e-7..1e15,
/// where the operands would not be exact.
fn short_decimal(f: f32) -> Option<f64> {
    let x = f as f64;
    if x == 0.0 {
        return Some(x);
    }
    let a = x.abs();
    if !(1e-7..1e15).contains(&a) {
        return None;
    }
    // The leading digit's place; off by one near powers of ten, which
    // only shifts which precision is tried first.
    let lead = a.log10().floor() as i32;
    for digits in 1..=9 {
        let k = digits - 1 - lead;
        let p = POW10[k.unsigned_abs() as usize];
        let (scaled, back): (f64, fn(f64, f64) -> f64) = if k >= 0 {
            (x * p, |c, p| c / p)
        } else {
            (x / p, |c, p| c * p)
        };
        let n = scaled.round();
        let best = [n, n - 1.0, n + 1.0]
            .into_iter()
            .map(|c| back(c, p))
            .filter(|y| *y as f32 == f)
            .min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs()));
        if best.is_some() {
            return best;
        }
    }
    None
}

/// `f32_to_f64` by formatting `f` and parsing the text back.
fn formatted_f32(f: f32) -> f64 {
    use std::io::Write;
    // The longest shortest form of an f32 is under 50 bytes ("-1e-45" in
    // plain notation is 47).
    let mut buf = [0u8; 64];
    let mut cursor = &mut buf[..];
    if write!(cursor, "{f}").is_err() {
        return f as f64;
    }
    let len = 64 - cursor.len();
    std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f as f64)
}

/// Text of a NUMERIC in PostgreSQL's binary form: base-10000 digits with a
/// weight, a sign and a display scale.
fn numeric_text(buf: &[u8]) -> Option<String> {
    let word = |i: usize| buf.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let digit = |i: i32| -> u16 {
        if i < 0 {
            0
        } else {
            digits.get(i as usize).copied().unwrap_or(0)
        }
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                let _ = write!(s, "{}", digit(i));
            } else {
                let _ = write!(s, "{:04}", digit(i));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < dscale {
            let _ = write!(frac, "{:04}", digit(i));
            i += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

/// Opens a batch's transaction: committed without waiting for the WAL flush.
const BEGIN_BATCH: &str = "BEGIN; SET LOCAL synchronous_commit = off";

/// The same SQL may be bound with different value types (an integer one time,
/// NULL the next); a cached prepared statement would keep the first types and
/// misread the binary data of the second, so statements are not cached.
async fn exec_on(conn: &mut PgConnection, st: &Statement) -> Result<u64, DbError> {
    let args = bind_all(&st.params)?;
    let done = sqlx::query_with(AssertSqlSafe(st.sql.clone()), args)
        .persistent(false)
        .execute(conn)
        .await
        .map_err(DbError::sql(head(&st.sql)))?;
    Ok(done.rows_affected())
}

/// `lock_timeout` of `wait`: at least 1 ms, since 0 would mean no bound at all.
fn lock_timeout(wait: Duration) -> String {
    format!("{}ms", wait.as_millis().clamp(1, i32::MAX as u128))
}

/// Advisory locks take a 64-bit key: the lock name's 64-bit hash.
const LOCK_SQL: &str = "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended($1, 0))";
const UNLOCK_SQL: &str = "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtextextended($1, 0))";
const HELD_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks \
     WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted \
       AND ((classid::bigint << 32) | objid::bigint) = pg_catalog.hashtextextended($1, 0))";

#[async_trait]
impl LockSession for PgConnection {
    async fn take(&mut self, name: &str) -> Result<bool, DbError> {
        lock_query(self, LOCK_SQL, name).await
    }

    async fn holds(&mut self, name: &str) -> Result<bool, DbError> {
        lock_query(self, HELD_SQL, name).await
    }

    async fn release(&mut self, name: &str) -> Result<(), DbError> {
        lock_query(self, UNLOCK_SQL, name).await.map(|_| ())
    }
}

async fn lock_query(
    conn: &mut PgConnection,
    sql: &'static str,
    name: &str,
) -> Result<bool, DbError> {
    let row = sqlx::query(sql)
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(DbError::sql(head(sql)))?;
    row.try_get::<bool, _>(0).map_err(DbError::sql(head(sql)))
}

#[async_trait]
impl Database for PostgresDb {
    fn dialect(&self) -> &dyn Dialect {
        &PostgresDialect
    }

    fn display_url(&self) -> String {
        self.url.redacted()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let args = bind_all(params)?;
        let rows = sqlx::query_with(AssertSqlSafe(sql.to_string()), args)
            .persistent(false)
            .fetch_all(&self.pool)
            .await
            .map_err(DbError::sql(head(sql)))?;
        rows.iter().map(decode_row).collect()
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

    /// On a connection of its own whose session starts with `lock_timeout`
    /// set, since the statement may be one no transaction can hold (`SET
    /// LOCAL` needs one); the setting goes with the connection, never back
    /// into the pool, even if this future is dropped half-way.
    async fn execute_ddl(&self, sql: &str, lock_wait: Duration) -> Result<u64, DbError> {
        let options = self
            .options
            .clone()
            .options([("lock_timeout", lock_timeout(lock_wait))]);
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(DbError::sql("connect"))?;
        let result = exec_on(&mut conn, &Statement::new(sql, vec![])).await;
        if let Err(e) = conn.close().await {
            tracing::debug!(error = %e, "closing the DDL connection");
        }
        result
    }

    /// `SET LOCAL`: the bound ends with the transaction.
    async fn transaction_ddl(
        &self,
        statements: Vec<Statement>,
        lock_wait: Duration,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(DbError::sql("BEGIN"))?;
        let set = format!("SET LOCAL lock_timeout = '{}'", lock_timeout(lock_wait));
        exec_on(&mut tx, &Statement::new(set, vec![])).await?;
        for st in &statements {
            exec_on(&mut tx, st).await?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    /// Two: a batch's COPY runs while the one before it commits, and the
    /// server's work on them overlaps (COPY was one backend at a time).
    fn concurrent_writes(&self) -> usize {
        2
    }

    /// A batch's transaction; with a `turn`, the COPY goes first and the
    /// rest waits for the batch before to commit.
    async fn write_batch_in_turn(
        &self,
        batch: BatchWrite,
        turn: Option<Turn>,
    ) -> Result<(), DbError> {
        // The batch, its event and its checkpoint still commit together or
        // not at all; only the wait for the WAL flush is skipped. Should the
        // server itself crash, the last batches (a fraction of a second) are
        // lost with their checkpoints and the next run loads them again. The
        // table's final checkpoint commits synchronously, flushing them all.
        let mut tx = self
            .pool
            .begin_with(AssertSqlSafe(BEGIN_BATCH))
            .await
            .map_err(DbError::sql("BEGIN"))?;
        // The quarantined rows go in beside the batch's own, by COPY too. As
        // multi-row INSERTs (parsed and bound per statement) the 1M-row
        // MariaDB sample's 150k quarantined rows cost the server about 2
        // CPU-s more: runs of 26.0 and 26.9 s against 24.1 and 24.7 s.
        for set in std::iter::once(&batch.rows).chain(&batch.side) {
            if !set.rows.is_empty() && !set.columns.is_empty() {
                super::pg_copy::copy_rows(&mut tx, &set.table, &set.columns, &set.rows).await?;
            }
        }
        let BatchWrite { rows, side, extra } = batch;
        drop((rows, side));
        super::wait_turn(turn).await?;
        for st in &extra {
            exec_on(&mut tx, st).await?;
        }
        tx.commit().await.map_err(DbError::sql("COMMIT"))?;
        Ok(())
    }

    async fn try_lock(&self, name: &str) -> Result<bool, DbError> {
        self.locks
            .try_lock(name, async {
                PgConnection::connect_with(&self.options)
                    .await
                    .map_err(DbError::sql("lock connection"))
            })
            .await
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
    fn single_precision_reads_as_its_shortest_decimal() {
        assert_eq!(f32_to_f64(0.1), 0.1);
        assert_eq!(f32_to_f64(-87.25), -87.25);
        assert_eq!(f32_to_f64(f32::MAX), 3.4028235e38);
        // The smallest subnormal has the longest plain form (48 bytes).
        assert_eq!(f32_to_f64(-f32::from_bits(1)), -1e-45);
        assert_eq!(f32_to_f64(f32::MIN_POSITIVE), 1.1754944e-38);
        assert!(f32_to_f64(f32::NAN).is_nan());
        assert_eq!(f32_to_f64(f32::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(f32_to_f64(0.87), 0.87);
        assert_eq!(f32_to_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(f32_to_f64(1e-5), 1e-5);
        assert_eq!(f32_to_f64(16_777_216.0), 16_777_216.0);
    }

    /// The rounding path gives what formatting gives, bit for bit, over a
    /// sweep of every exponent and many mantissas of both signs.
    #[test]
    fn rounding_agrees_with_formatting_across_the_range() {
        let mut checked = 0;
        for i in 0..(1u64 << 32) / 2_039 {
            let f = f32::from_bits((i * 2_039) as u32);
            if !f.is_finite() {
                continue;
            }
            if let Some(fast) = short_decimal(f) {
                assert_eq!(fast.to_bits(), formatted_f32(f).to_bits(), "{f:e}");
                checked += 1;
            }
        }
        assert!(checked > 500_000, "{checked}");
    }

    #[test]
    fn quotes_and_numbers_placeholders() {
        let d = PostgresDialect;
        assert_eq!(d.quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(d.placeholder(3), "$3");
        let st = d.insert_rows(
            "t",
            &["a".into()],
            vec![vec![Value::Int(1)], vec![Value::Int(2)]],
        );
        assert_eq!(st[0].sql, "INSERT INTO \"t\" (\"a\") VALUES ($1), ($2)");
    }

    #[test]
    fn native_types_read_back_as_written() {
        let d = PostgresDialect;
        for t in [
            ColumnType::Bool,
            ColumnType::SmallInt,
            ColumnType::Int,
            ColumnType::BigInt,
            ColumnType::Float,
            ColumnType::Double,
            ColumnType::Decimal(12, 4),
            ColumnType::Text,
            ColumnType::Varchar(191),
            ColumnType::Bytes,
            ColumnType::Uuid,
            ColumnType::Date,
            ColumnType::DateTime,
            ColumnType::Timestamp,
            ColumnType::Json,
        ] {
            assert_eq!(d.parse_native_type(&d.type_name(t)), t, "{t}");
        }
        // As pg_catalog.format_type spells them.
        assert_eq!(
            d.parse_native_type("timestamp(6) with time zone"),
            ColumnType::Timestamp
        );
        assert_eq!(
            d.parse_native_type("timestamp without time zone"),
            ColumnType::DateTime
        );
        assert_eq!(
            d.parse_native_type("character varying(255)"),
            ColumnType::Varchar(255)
        );
        assert_eq!(
            d.parse_native_type("numeric(10,2)"),
            ColumnType::Decimal(10, 2)
        );
    }

    #[test]
    fn numeric_binary_decodes_to_exact_text() {
        // 12345.678 = digits [1, 2345, 6780], weight 1, dscale 3.
        let enc = |nd: u16, w: i16, sign: u16, ds: u16, digits: &[u16]| {
            let mut v = Vec::new();
            for x in [nd, w as u16, sign, ds] {
                v.extend_from_slice(&x.to_be_bytes());
            }
            for d in digits {
                v.extend_from_slice(&d.to_be_bytes());
            }
            v
        };
        assert_eq!(
            numeric_text(&enc(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        assert_eq!(
            numeric_text(&enc(1, -2, 0x4000, 8, &[1])).unwrap(),
            "-0.00000001"
        );
        assert_eq!(numeric_text(&enc(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric_text(&enc(1, 1, 0, 0, &[7])).unwrap(), "70000");
    }

    #[test]
    fn nul_text_is_unstorable_elsewhere_fine() {
        assert!(
            PostgresDialect
                .unstorable(&Value::Text("a\0b".into()))
                .is_some()
        );
        assert!(
            PostgresDialect
                .unstorable(&Value::Text("a😀b".into()))
                .is_none()
        );
    }
}

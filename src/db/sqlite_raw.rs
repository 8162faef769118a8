//! SQLite's bulk write path: one prepared single-row INSERT stepped once per
//! row on the raw connection, with every value bound in place.
//!
//! sqlx's own path moves each value into an `Arc`, has SQLite copy it again
//! (`SQLITE_TRANSIENT`), looks up every parameter's name, and parses one
//! multi-row statement per chunk: about a quarter of a SQLite load's CPU. The
//! connection comes from sqlx's escape hatch (`lock_handle`) inside an open
//! sqlx transaction, so BEGIN, COMMIT and rollback on drop stay sqlx's.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::ffi::{CStr, c_char, c_int};
use std::fmt;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx::error::{DatabaseError, ErrorKind};

use crate::value::{Row, Value};

/// An error SQLite reported, shaped like sqlx's own so callers see one kind
/// (`sqlstate()` is SQLite's extended result code, as with sqlx).
#[derive(Debug)]
pub struct RawError {
    code: c_int,
    message: String,
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl StdError for RawError {}

impl DatabaseError for RawError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A connection borrowed from sqlx for the length of one batch.
pub struct RawConn {
    db: NonNull<ffi::sqlite3>,
}

impl RawConn {
    /// # Safety
    /// `db` is an open connection that nothing else uses while the returned
    /// value lives (sqlx's `LockedSqliteHandle` held for that long).
    pub unsafe fn new(db: NonNull<ffi::sqlite3>) -> Self {
        Self { db }
    }

    fn error(&self) -> RawError {
        // SAFETY: `db` is open (see `new`); errmsg returns a NUL-terminated
        // string owned by the connection, copied before the next call.
        unsafe {
            let code = ffi::sqlite3_extended_errcode(self.db.as_ptr());
            let msg = ffi::sqlite3_errmsg(self.db.as_ptr());
            let message = if msg.is_null() {
                format!("SQLite error {code}")
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            };
            RawError { code, message }
        }
    }

    fn prepare(&self, sql: &str) -> Result<Stmt<'_>, RawError> {
        let len = c_int::try_from(sql.len()).map_err(|_| RawError {
            code: ffi::SQLITE_TOOBIG,
            message: "statement longer than 2 GiB".into(),
        })?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; SQLite copies what it keeps.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        match NonNull::new(stmt) {
            Some(stmt) if rc == ffi::SQLITE_OK => Ok(Stmt { conn: self, stmt }),
            Some(stmt) => {
                let e = self.error();
                // SAFETY: a statement SQLite returned, finalized once.
                unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
                Err(e)
            }
            None if rc == ffi::SQLITE_OK => Err(RawError {
                code: ffi::SQLITE_MISUSE,
                message: "empty statement".into(),
            }),
            None => Err(self.error()),
        }
    }

    /// Runs `sql` once per row, each row's values bound to its parameters in
    /// order (`sql` has as many as a row has values).
    pub fn insert_each<'r>(
        &self,
        sql: &str,
        rows: impl IntoIterator<Item = &'r [Value]>,
    ) -> Result<(), RawError> {
        let stmt = self.prepare(sql)?;
        for row in rows {
            stmt.bind_all(row)?;
            stmt.run()?;
        }
        Ok(())
    }

    /// Runs a query with its parameters and reads every row, each value by
    /// its storage class (text that is not UTF-8 is kept as bytes).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, RawError> {
        let stmt = self.prepare(sql)?;
        stmt.bind_all(params)?;
        let s = stmt.stmt.as_ptr();
        let mut out = Vec::new();
        loop {
            // SAFETY: valid statement with every parameter bound.
            match unsafe { ffi::sqlite3_step(s) } {
                ffi::SQLITE_ROW => {
                    // SAFETY: a row is current; columns are read before the
                    // next step, and every pointer is copied at once.
                    out.push(unsafe { read_row(s) });
                }
                ffi::SQLITE_DONE => break,
                _ => {
                    let e = self.error();
                    // SAFETY: valid statement; its error is already read.
                    unsafe { ffi::sqlite3_reset(s) };
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Runs one statement with its parameters, discarding any rows.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<(), RawError> {
        let stmt = self.prepare(sql)?;
        stmt.bind_all(params)?;
        stmt.run()
    }
}

/// A prepared statement, finalized on drop.
struct Stmt<'c> {
    conn: &'c RawConn,
    stmt: NonNull<ffi::sqlite3_stmt>,
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: prepared by `RawConn::prepare`, finalized exactly once.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// Text and blobs longer than this cannot be bound (SQLite's hard limit).
const MAX_LEN: usize = i32::MAX as usize;

impl Stmt<'_> {
    fn check(&self, rc: c_int) -> Result<(), RawError> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.conn.error())
        }
    }

    /// Binds `params` to parameters 1..=n. Text and blobs are bound in place
    /// (`SQLITE_STATIC`): the caller keeps them alive until the statement is
    /// stepped and finalized, which `insert_each` and `execute` do.
    fn bind_all(&self, params: &[Value]) -> Result<(), RawError> {
        // SAFETY: valid statement; every pointer bound STATIC outlives the
        // statement's use of it (see above); lengths are checked.
        unsafe {
            let expected = ffi::sqlite3_bind_parameter_count(self.stmt.as_ptr());
            if expected as usize != params.len() {
                return Err(RawError {
                    code: ffi::SQLITE_RANGE,
                    message: format!(
                        "the statement has {expected} parameters, {} values were given",
                        params.len()
                    ),
                });
            }
            for (i, v) in params.iter().enumerate() {
                let i = i as c_int + 1;
                let s = self.stmt.as_ptr();
                let rc = match v {
                    Value::Null => ffi::sqlite3_bind_null(s, i),
                    Value::Bool(b) => ffi::sqlite3_bind_int64(s, i, *b as i64),
                    Value::Int(n) => ffi::sqlite3_bind_int64(s, i, *n),
                    Value::Float(f) => ffi::sqlite3_bind_double(s, i, *f),
                    Value::Text(t) => bind_text(s, i, t.as_bytes(), ffi::SQLITE_STATIC())?,
                    Value::Bytes(b) => {
                        if b.len() > MAX_LEN {
                            return Err(too_big(i));
                        }
                        ffi::sqlite3_bind_blob64(
                            s,
                            i,
                            b.as_ptr().cast(),
                            b.len() as u64,
                            ffi::SQLITE_STATIC(),
                        )
                    }
                    Value::Uuid(u) => {
                        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                        let text = u.hyphenated().encode_lower(&mut buf);
                        bind_text(s, i, text.as_bytes(), ffi::SQLITE_TRANSIENT())?
                    }
                    Value::Date(_) | Value::DateTime(_) | Value::Timestamp(_) => {
                        let text = v.render();
                        bind_text(s, i, text.as_bytes(), ffi::SQLITE_TRANSIENT())?
                    }
                };
                self.check(rc)?;
            }
        }
        Ok(())
    }

    /// Steps to completion and resets the statement for its next use.
    fn run(&self) -> Result<(), RawError> {
        let s = self.stmt.as_ptr();
        loop {
            // SAFETY: valid statement with every parameter bound.
            match unsafe { ffi::sqlite3_step(s) } {
                ffi::SQLITE_ROW => continue,
                ffi::SQLITE_DONE => break,
                _ => {
                    let e = self.conn.error();
                    // SAFETY: valid statement; its error is already read.
                    unsafe { ffi::sqlite3_reset(s) };
                    return Err(e);
                }
            }
        }
        // SAFETY: valid statement.
        self.check(unsafe { ffi::sqlite3_reset(s) })
    }
}

/// # Safety
/// `s` is a valid statement positioned on a row.
unsafe fn read_row(s: *mut ffi::sqlite3_stmt) -> Row {
    // SAFETY: see the function's contract; `column_bytes` is asked after
    // `column_text`/`column_blob`, as SQLite requires, and the bytes are
    // copied before the statement moves.
    unsafe {
        let n = ffi::sqlite3_column_count(s);
        let mut row = Vec::with_capacity(n as usize);
        for i in 0..n {
            row.push(match ffi::sqlite3_column_type(s, i) {
                ffi::SQLITE_INTEGER => Value::Int(ffi::sqlite3_column_int64(s, i)),
                ffi::SQLITE_FLOAT => Value::Float(ffi::sqlite3_column_double(s, i)),
                ffi::SQLITE_TEXT => {
                    let p = ffi::sqlite3_column_text(s, i);
                    let bytes = column_bytes(p, ffi::sqlite3_column_bytes(s, i));
                    match std::str::from_utf8(bytes) {
                        Ok(t) => Value::Text(t.to_owned()),
                        // Text that is not valid UTF-8: keep the bytes.
                        Err(_) => Value::Bytes(bytes.to_vec()),
                    }
                }
                ffi::SQLITE_BLOB => {
                    let p = ffi::sqlite3_column_blob(s, i).cast::<u8>();
                    Value::Bytes(column_bytes(p, ffi::sqlite3_column_bytes(s, i)).to_vec())
                }
                _ => Value::Null,
            });
        }
        row
    }
}

/// # Safety
/// `p` points to `len` readable bytes, or is null when `len` is 0.
unsafe fn column_bytes<'a>(p: *const u8, len: c_int) -> &'a [u8] {
    if p.is_null() || len <= 0 {
        &[]
    } else {
        // SAFETY: see the function's contract.
        unsafe { std::slice::from_raw_parts(p, len as usize) }
    }
}

/// # Safety
/// `s` is a valid statement and `text` outlives its use under `destructor`.
unsafe fn bind_text(
    s: *mut ffi::sqlite3_stmt,
    i: c_int,
    text: &[u8],
    destructor: ffi::sqlite3_destructor_type,
) -> Result<c_int, RawError> {
    if text.len() > MAX_LEN {
        return Err(too_big(i));
    }
    // SAFETY: see the function's contract.
    Ok(unsafe {
        ffi::sqlite3_bind_text64(
            s,
            i,
            text.as_ptr().cast::<c_char>(),
            text.len() as u64,
            destructor,
            ffi::SQLITE_UTF8 as u8,
        )
    })
}

fn too_big(i: c_int) -> RawError {
    RawError {
        code: ffi::SQLITE_TOOBIG,
        message: format!("value of parameter {i} is longer than SQLite allows (2 GiB)"),
    }
}

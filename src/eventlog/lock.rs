//! The one-operator guard: a run or a rollback holds the target's lock row in
//! `flightdeck_locks` (holder, host, pid, start). A second operator is refused
//! with the holder's identity; a lock whose process died on this host can be
//! taken over, explicitly.

use std::fmt;
use std::path::Path;

use crate::db::{Database, DbError, Statement};
use crate::eventlog::store::{self, LOCKS};
use crate::value::Value;

/// The lock row's name: one lock per target database.
const TARGET: &str = "target";

/// Who holds (or wants) the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// What holds it, in the operator's words: "flightdeck run by alice".
    pub holder: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (host {}, pid {}, since {})",
            self.holder, self.host, self.pid, self.started_at
        )
    }
}

impl LockHolder {
    /// This process, doing `purpose` ("run", "rollback").
    pub fn me(purpose: &str) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown user".into());
        Self {
            holder: format!("flightdeck {purpose} by {user}"),
            host: store::hostname(),
            pid: std::process::id() as i64,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// The holder's process is known to be gone: same host, no such pid.
    pub fn is_dead(&self) -> bool {
        self.host == store::hostname() && !pid_alive(self.pid)
    }
}

/// Whether `pid` runs on this machine; unknowable without /proc, so "yes".
fn pid_alive(pid: i64) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(.0))]
    Held(LockHolder),
    #[error("{0}")]
    Db(#[from] DbError),
}

fn held_message(h: &LockHolder) -> String {
    if h.is_dead() {
        format!(
            "the target is locked by {h}, but that process is no longer running on this host; \
             if nothing else uses the target, rerun with --take-over to take the lock over"
        )
    } else if h.host != store::hostname() {
        format!(
            "the target is locked by {h}; wait for it to finish, or, if that process is gone, \
             rerun with --take-over"
        )
    } else {
        format!("the target is locked by {h}; wait for it to finish or stop it first")
    }
}

/// The lock, held until [`TargetLock::release`].
#[derive(Debug)]
pub struct TargetLock {
    holder: LockHolder,
}

impl TargetLock {
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    /// Gives the lock back; only our own row is deleted.
    pub async fn release(self, db: &dyn Database) -> Result<(), DbError> {
        let (sql, params) = delete_holder(db, &self.holder);
        let deleted = db.execute(&sql, &params).await.map(|_| ());
        db.unlock(&session_lock(db)).await?;
        deleted
    }
}

fn delete_holder(db: &dyn Database, h: &LockHolder) -> (String, Vec<Value>) {
    delete_rows(
        db,
        &[
            ("host", Value::Text(h.host.clone())),
            ("pid", Value::Int(h.pid)),
            ("started_at", Value::Text(h.started_at.clone())),
        ],
    )
}

/// `DELETE` of the target's lock rows whose columns equal `matching`.
fn delete_rows(db: &dyn Database, matching: &[(&str, Value)]) -> (String, Vec<Value>) {
    let d = db.dialect();
    let mut sql = format!(
        "DELETE FROM {} WHERE {} = {}",
        d.quote_ident(LOCKS),
        d.quote_ident("name"),
        d.placeholder(1)
    );
    let mut params = vec![Value::Text(TARGET.into())];
    for (column, value) in matching {
        params.push(value.clone());
        sql.push_str(&format!(
            " AND {} = {}",
            d.quote_ident(column),
            d.placeholder(params.len())
        ));
    }
    (sql, params)
}

fn insert_holder(db: &dyn Database, h: &LockHolder) -> Statement {
    let d = db.dialect();
    let cols = ["name", "holder", "host", "pid", "started_at"];
    Statement::new(
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            d.quote_ident(LOCKS),
            cols.iter()
                .map(|c| d.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            (1..=cols.len())
                .map(|i| d.placeholder(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        vec![
            Value::Text(TARGET.into()),
            Value::Text(h.holder.clone()),
            Value::Text(h.host.clone()),
            Value::Int(h.pid),
            Value::Text(h.started_at.clone()),
        ],
    )
}

/// Deletes this process's own lock row, for leaving at once (a second
/// Ctrl-C) while the work that took the lock is still under way: the next
/// run then needs no `--take-over`. Waits at most `within` (a writer of the
/// run may hold the database). True when a row was deleted.
pub async fn release_own(db: &dyn Database, within: std::time::Duration) -> bool {
    let (sql, params) = delete_rows(
        db,
        &[
            ("host", Value::Text(store::hostname())),
            ("pid", Value::Int(std::process::id() as i64)),
        ],
    );
    matches!(
        tokio::time::timeout(within, db.execute(&sql, &params)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// The current holder, if any.
pub async fn current(db: &dyn Database) -> Result<Option<LockHolder>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT {}, {}, {}, {} FROM {} WHERE {} = {}",
        q("holder"),
        q("host"),
        q("pid"),
        q("started_at"),
        q(LOCKS),
        q("name"),
        d.placeholder(1)
    );
    let rows = db.query(&sql, &[Value::Text(TARGET.into())]).await?;
    Ok(rows.first().map(|r| {
        let text = |i: usize| r[i].as_text().map(|s| s.into_owned()).unwrap_or_default();
        LockHolder {
            holder: text(0),
            host: text(1),
            pid: r[2].as_i64().unwrap_or(0),
            started_at: text(3),
        }
    }))
}

/// Takes the target's lock for `purpose`. With `take_over`, a lock whose
/// process is gone (or lives on another host, where we cannot tell) is
/// replaced; a live holder on this host is never displaced.
/// Needs `store::ensure_schema` first.
/// Name of the server-side session lock that guards one target. MySQL lock
/// names are server-wide and at most 64 characters: a hash of the target's
/// (redacted) URL keeps two targets on one server apart.
pub fn session_lock(db: &dyn Database) -> String {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, db.display_url().as_bytes());
    format!("flightdeck:{id}")
}

/// Whether this process still holds the target's session lock; a writer
/// checks it before every batch and stops when it is gone.
pub async fn still_held(db: &dyn Database) -> Result<bool, DbError> {
    db.holds_lock(&session_lock(db)).await
}

pub async fn acquire(
    db: &dyn Database,
    purpose: &str,
    take_over: bool,
) -> Result<TargetLock, LockError> {
    let taken = acquire_row(db, purpose, take_over).await;
    if taken.is_err() {
        // A refused operator must not keep the session lock it may have taken.
        let _ = db.unlock(&session_lock(db)).await;
    }
    taken
}

async fn acquire_row(
    db: &dyn Database,
    purpose: &str,
    take_over: bool,
) -> Result<TargetLock, LockError> {
    let me = LockHolder::me(purpose);
    // Servers with session locks (PostgreSQL advisory, MySQL GET_LOCK) hold one
    // on a dedicated connection: it dies with its process, and losing it stops
    // writes (see `still_held`). SQLite grants it and relies on the row below.
    if !db.try_lock(&session_lock(db)).await? {
        return Err(match current(db).await? {
            Some(h) => LockError::Held(h),
            None => LockError::Db(DbError::Unsupported(
                "another session holds the target's lock".into(),
            )),
        });
    }
    // The insert is the arbiter: the primary key lets exactly one writer in.
    // A few rounds cover a holder that releases between our insert and read.
    for _ in 0..3 {
        let err = match db.transaction(vec![insert_holder(db, &me)]).await {
            Ok(()) => return Ok(TargetLock { holder: me }),
            Err(e) => e,
        };
        let Some(holder) = current(db).await? else {
            if matches!(err, DbError::Sql { .. }) {
                continue;
            }
            return Err(err.into());
        };
        let replaceable = holder.is_dead() || holder.host != me.host;
        if !(take_over && replaceable) {
            return Err(LockError::Held(holder));
        }
        let (sql, params) = delete_holder(db, &holder);
        tracing::warn!(stale = %holder, "taking over the target lock");
        // Delete + insert together: if someone else took it meanwhile, the
        // insert fails and the next round reads the new holder.
        if db
            .transaction(vec![Statement::new(sql, params), insert_holder(db, &me)])
            .await
            .is_ok()
        {
            return Ok(TargetLock { holder: me });
        }
    }
    match current(db).await? {
        Some(h) => Err(LockError::Held(h)),
        None => Err(LockError::Db(DbError::Unsupported(
            "could not take the target lock".into(),
        ))),
    }
}

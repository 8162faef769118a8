//! Helpers shared by the integration tests: the real binary, sample folders,
//! and reading target tables back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flightdeck::db::{self, Db, DbUrl};
use flightdeck::value::Value;

/// The binary under test; `FLIGHTDECK_BIN` points elsewhere when a shared
/// build directory makes cargo's own copy unreliable.
pub fn bin() -> PathBuf {
    std::env::var_os("FLIGHTDECK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_flightdeck")))
}

/// The binary with its logs and data kept inside `home`.
pub fn flightdeck(home: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("NO_COLOR", "1")
        .env_remove("FLIGHTDECK_LOG");
    c
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn flightdeck");
    assert!(
        out.status.success(),
        "command failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `flightdeck sample ai-research --into DIR --rows N`.
pub fn sample(dir: &Path, rows: u64) {
    run_ok(
        flightdeck(dir)
            .args(["sample", "ai-research", "--into"])
            .arg(dir)
            .args(["--rows", &rows.to_string(), "--seed", "7"]),
    );
}

pub async fn open_sqlite(path: &Path) -> Db {
    let url = DbUrl::parse(&format!("sqlite://{}", path.display()), Path::new("/")).unwrap();
    db::connect(&url, false).await.expect("open sqlite")
}

pub async fn query(db: &Db, sql: &str) -> Vec<Vec<Value>> {
    db.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn count(db: &Db, table: &str) -> i64 {
    query(db, &format!("SELECT COUNT(*) FROM \"{table}\""))
        .await
        .first()
        .and_then(|r| r[0].as_i64())
        .unwrap_or(-1)
}

/// Row count and an order-independent hash of every user table (those without
/// the flightdeck_ prefix), by name.
pub async fn content_fingerprint(db: &Db) -> Vec<(String, i64, u64)> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut out = Vec::new();
    for t in db.list_tables().await.unwrap() {
        if t.starts_with("flightdeck_") {
            continue;
        }
        let rows = query(db, &format!("SELECT * FROM \"{t}\"")).await;
        let mut acc = 0u64;
        for r in &rows {
            let mut h = DefaultHasher::new();
            for v in r {
                v.render().hash(&mut h);
                std::mem::discriminant(v).hash(&mut h);
            }
            acc = acc.wrapping_add(h.finish());
        }
        out.push((t, rows.len() as i64, acc));
    }
    out
}

/// Quarantined rows as (source table, source key, rule, reason), sorted.
pub async fn quarantine(db: &Db) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = query(
        db,
        "SELECT source_table, source_key, rule, reason FROM flightdeck_quarantine",
    )
    .await
    .into_iter()
    .map(|r| {
        let t = |i: usize| r[i].render();
        (t(0), t(1), t(2), t(3))
    })
    .collect();
    rows.sort();
    rows
}

/// Sends signal `name` ("INT", "TERM", "HUP") to the child `pid`.
pub fn send_signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {pid}");
}

/// Reads `stderr` line by line until one contains `needle`.
pub fn read_until_line(stderr: &mut impl std::io::BufRead, needle: &str) {
    let mut line = String::new();
    while !line.contains(needle) {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no line with {needle:?}"
        );
    }
}

/// Every event in the log of the sample target `dir/platform.db`, newest first.
pub async fn events(dir: &Path) -> Vec<flightdeck::eventlog::EventRecord> {
    let db = open_sqlite(&dir.join("platform.db")).await;
    let e = flightdeck::eventlog::store::read_events(db.as_ref(), None, 1_000_000)
        .await
        .unwrap();
    db.close().await;
    e
}

/// Reads `pipe` to its end on a thread of its own, so a full pipe cannot
/// hold the child up while the test waits for it.
pub fn read_aside(
    mut pipe: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        pipe.read_to_string(&mut s).unwrap();
        s
    })
}

/// Waits for `child` to exit; kills it and fails, saying `what`, when it
/// is still running `limit` after `since`.
pub fn exit_within(
    child: &mut std::process::Child,
    since: std::time::Instant,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if since.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running {limit:?} after {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `flightdeck run PROJECT --headless --pace PACE` in `dir`, stdout and
/// stderr piped: a run slow enough to signal while it loads.
pub fn paced_run(dir: &Path, pace: &str) -> std::process::Child {
    flightdeck(dir)
        .args(["run", "--headless", "--pace", pace])
        .arg(dir.join("project.toml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Holds the SQLite target's write lock (`BEGIN IMMEDIATE`) until the
/// returned connection rolls back: the next write of a run or rollback waits.
pub async fn hold_target(dir: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// The second SIGINT of a stop that cannot finish (what it waits for is
/// held): `child` must still be stopping half a second after the first,
/// and gone within 6 s of the second. Returns how it exited.
pub async fn second_sigint(child: &mut std::process::Child) -> std::process::ExitStatus {
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "stopped while the target was held"
    );
    let again = std::time::Instant::now();
    send_signal(child.id(), "INT");
    exit_within(
        child,
        again,
        std::time::Duration::from_secs(6),
        "the second SIGINT",
    )
}

//! The one-operator guard with real processes: five runs started at once on
//! one target, exactly one runs; a dead holder's lock is taken over only when
//! asked, a live one never.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};

/// `dir/platform.db`, created if need be, with flightdeck's tables.
async fn target(dir: &Path) -> flightdeck::db::Db {
    let url = flightdeck::db::DbUrl::parse(
        &format!("sqlite://{}", dir.join("platform.db").display()),
        Path::new("/"),
    )
    .unwrap();
    let db = flightdeck::db::connect(&url, true).await.unwrap();
    flightdeck::eventlog::store::ensure_schema(db.as_ref())
        .await
        .unwrap();
    db
}

async fn plant_lock(dir: &Path, holder: &str, host: &str, pid: i64) {
    let db = target(dir).await;
    db.execute(
        "INSERT INTO flightdeck_locks (name, holder, host, pid, started_at) VALUES ('target', ?1, ?2, ?3, '2026-01-01T00:00:00Z')",
        &[holder.into(), host.into(), pid.into()],
    )
    .await
    .unwrap();
    db.close().await;
}

fn run(dir: &Path, extra: &[&str]) -> Output {
    common::flightdeck(dir)
        .args(["run", "--headless"])
        .args(extra)
        .arg(dir.join("project.toml"))
        .output()
        .unwrap()
}

#[test]
fn five_processes_at_once_exactly_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 1000);
    // Paced, so the winner still holds the lock when the others look.
    let children: Vec<_> = (0..5)
        .map(|_| {
            common::flightdeck(dir.path())
                .args(["run", "--headless", "--pace", "2500"])
                .arg(dir.path().join("project.toml"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<(u32, Output)> = children
        .into_iter()
        .map(|c| (c.id(), c.wait_with_output().unwrap()))
        .collect();
    let winners: Vec<&(u32, Output)> = outcomes
        .iter()
        .filter(|(_, o)| o.status.success())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exit codes: {:?}",
        outcomes
            .iter()
            .map(|(_, o)| (
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).into_owned()
            ))
            .collect::<Vec<_>>()
    );
    let winner_pid = winners[0].0;
    let summary: serde_json::Value = serde_json::from_slice(&winners[0].1.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    for (pid, o) in &outcomes {
        if *pid == winner_pid {
            continue;
        }
        assert_eq!(o.status.code(), Some(3));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("locked by flightdeck run by")
                && err.contains(&format!("pid {winner_pid},")),
            "loser {pid} does not name the holder {winner_pid}: {err}"
        );
        assert!(o.stdout.is_empty(), "a refused run prints no summary");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_holder_is_taken_over_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 100);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id() as i64;
    gone.wait().unwrap();
    let host = flightdeck::eventlog::store::hostname();
    plant_lock(dir.path(), "flightdeck run by mallory", &host, dead).await;

    let refused = run(dir.path(), &[]);
    assert_eq!(refused.status.code(), Some(3));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("flightdeck run by mallory")
            && err.contains(&format!("pid {dead}"))
            && err.contains("no longer running")
            && err.contains("--take-over"),
        "{err}"
    );
    let taken = run(dir.path(), &["--take-over"]);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let db = common::open_sqlite(&dir.path().join("platform.db")).await;
    assert_eq!(
        common::count(&db, "flightdeck_locks").await,
        0,
        "released after the run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_holder_is_never_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 100);
    let host = flightdeck::eventlog::store::hostname();
    // This test process is alive on this host.
    plant_lock(
        dir.path(),
        "flightdeck rollback by alice",
        &host,
        std::process::id() as i64,
    )
    .await;
    for extra in [&[][..], &["--take-over"][..]] {
        let out = run(dir.path(), extra);
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("flightdeck rollback by alice") && err.contains("wait for it"),
            "{err}"
        );
    }
    let rb = common::flightdeck(dir.path())
        .args(["rollback", "--yes"])
        .arg(dir.path().join("project.toml"))
        .output()
        .unwrap();
    assert_eq!(rb.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&rb.stderr).contains("flightdeck rollback by alice"));
}

/// A process leaving at once (a second Ctrl-C) deletes its own lock row and
/// no one else's.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_releases_its_own_lock_row_only() {
    use flightdeck::eventlog::lock;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let _held = lock::acquire(db.as_ref(), "run", false).await.unwrap();
    assert!(lock::current(db.as_ref()).await.unwrap().is_some());
    assert!(lock::release_own(db.as_ref(), Duration::from_secs(2)).await);
    assert!(lock::current(db.as_ref()).await.unwrap().is_none());
    db.close().await;

    // Someone else's row stays.
    let other = tempfile::tempdir().unwrap();
    plant_lock(other.path(), "flightdeck run by bob", "elsewhere", 4242).await;
    let db = common::open_sqlite(&other.path().join("platform.db")).await;
    assert!(!lock::release_own(db.as_ref(), Duration::from_secs(2)).await);
    let holder = lock::current(db.as_ref()).await.unwrap().unwrap();
    assert_eq!(holder.host, "elsewhere");
    db.close().await;
}

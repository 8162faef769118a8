//! Rollback with the real binary: apply → rollback restores the target's
//! schema and content exactly, twice is once, apply → rollback → apply is
//! apply, `--to` resumes cleanly, a killed rollback finishes on rerun, and
//! canary passwords never leak.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

const ROWS: u64 = 300;

/// Schema of the operator's tables (not flightdeck_*) and their content.
type State = (Vec<(String, String)>, Vec<(String, i64, u64)>);

async fn state(dir: &Path) -> State {
    let path = dir.join("platform.db");
    if !path.exists() {
        return (Vec::new(), Vec::new());
    }
    let db = common::open_sqlite(&path).await;
    let schema = common::query(
        &db,
        "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'flightdeck_%' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .await
    .into_iter()
    .map(|r| (r[0].render(), r[1].render()))
    .collect();
    let content = common::content_fingerprint(&db).await;
    db.close().await;
    (schema, content)
}

fn run(dir: &Path) -> Output {
    common::flightdeck(dir)
        .args(["run", "--headless"])
        .arg(dir.join("project.toml"))
        .output()
        .unwrap()
}

fn run_json(dir: &Path) -> Json {
    let out = common::run_ok(
        common::flightdeck(dir)
            .args(["run", "--headless"])
            .arg(dir.join("project.toml")),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `flightdeck rollback PROJECT EXTRA…` with no terminal on stdin.
fn rollback_command(dir: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = common::flightdeck(dir);
    cmd.arg("rollback")
        .arg(dir.join("project.toml"))
        .args(extra)
        .stdin(Stdio::null());
    cmd
}

/// How many undo steps the target's event log holds.
async fn undo_steps(dir: &Path) -> i64 {
    let db = common::open_sqlite(&dir.join("platform.db")).await;
    let n = common::query(
        &db,
        "SELECT COUNT(*) FROM flightdeck_events WHERE kind = 'rollback'",
    )
    .await[0][0]
        .as_i64()
        .unwrap();
    db.close().await;
    n
}

fn rollback(dir: &Path, extra: &[&str]) -> Output {
    rollback_command(dir, extra).output().unwrap()
}

fn rollback_ok(dir: &Path, extra: &[&str]) -> String {
    let out = rollback(dir, extra);
    assert!(
        out.status.success(),
        "rollback failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

use common::events;

async fn run_status(dir: &Path) -> Vec<String> {
    let db = common::open_sqlite(&dir.join("platform.db")).await;
    let s = common::query(
        &db,
        "SELECT status FROM flightdeck_runs ORDER BY started_at",
    )
    .await
    .into_iter()
    .map(|r| r[0].render())
    .collect();
    db.close().await;
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_rollback_on_an_empty_target_restores_it_and_twice_is_once() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let before = state(dir.path()).await;
    let first = run_json(dir.path());
    let applied = state(dir.path()).await;
    assert_eq!(applied.1.len(), 5, "the run creates five tables");
    assert_ne!(applied, before);

    // Without a terminal and without --yes: refused, nothing undone.
    let refused = rollback(dir.path(), &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("DROP TABLE \"ml_models\""));
    assert_eq!(state(dir.path()).await, applied);

    rollback_ok(dir.path(), &["--yes"]);
    assert_eq!(
        state(dir.path()).await,
        before,
        "rollback restores the target"
    );
    let db = common::open_sqlite(&dir.path().join("platform.db")).await;
    assert_eq!(common::count(&db, "flightdeck_quarantine").await, 0);
    assert_eq!(common::count(&db, "flightdeck_checkpoints").await, 0);
    assert_eq!(common::count(&db, "flightdeck_locks").await, 0);
    db.close().await;
    assert_eq!(run_status(dir.path()).await, vec!["rolled_back"]);

    // The log only grew: every original event is still there.
    let log = events(dir.path()).await;
    let undone: Vec<i64> = log
        .iter()
        .filter(|e| e.kind == "rollback")
        .map(|e| e.detail["undoes"].as_i64().unwrap())
        .collect();
    let with_inverse: Vec<i64> = log
        .iter()
        .filter(|e| !e.inverse.is_empty())
        .map(|e| e.id)
        .collect();
    assert_eq!(undone, {
        let mut v = with_inverse.clone();
        v.sort();
        v
    });
    assert!(log.iter().any(|e| e.kind == "run_started"));
    // A batch's DELETE by key waits in the log until its step runs; the
    // steps of dropped tables skip it and say so, cut to its head and length.
    let long = |e: &&flightdeck::eventlog::EventRecord| {
        e.kind == "batch_committed"
            && e.inverse.iter().map(String::len).sum::<usize>()
                > flightdeck::eventlog::store::LISTED_INVERSE_MAX
    };
    let big = log.iter().find(long).expect("a batch with a long inverse");
    let undo = log
        .iter()
        .find(|e| e.kind == "rollback" && e.detail["undoes"] == big.id)
        .unwrap();
    let skipped = undo.detail["skipped"][0]["statement"].as_str().unwrap();
    let table = big.table.as_deref().unwrap();
    assert!(
        skipped.starts_with(&format!("DELETE FROM \"{table}\" "))
            && skipped.ends_with(" bytes)")
            && skipped.len() < 300,
        "{skipped}"
    );
    assert_eq!(
        undo.detail["skipped"][0]["why"],
        format!("table {table} is dropped by this rollback")
    );

    // Twice = once: nothing to do, nothing logged, nothing changed.
    let again = rollback_ok(dir.path(), &["--yes"]);
    assert!(again.contains("nothing to roll back"), "{again}");
    assert_eq!(events(dir.path()).await.len(), log.len());
    assert_eq!(state(dir.path()).await, before);

    // Apply again = apply: a fresh run, the same target.
    let second = run_json(dir.path());
    assert_ne!(second["run_id"], first["run_id"]);
    assert_eq!(second["tables"].as_array().unwrap().len(), 5);
    for (a, b) in first["tables"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["tables"].as_array().unwrap())
    {
        assert_eq!(
            (&a["read"], &a["written"], &a["quarantined"]),
            (&b["read"], &b["written"], &b["quarantined"])
        );
    }
    assert_eq!(state(dir.path()).await, applied);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_keeps_what_the_target_held_before_the_run() {
    // Learn the DDL of one mapped table from a scratch run.
    let scratch = tempfile::tempdir().unwrap();
    common::sample(scratch.path(), 50);
    run_json(scratch.path());
    let db = common::open_sqlite(&scratch.path().join("platform.db")).await;
    let ddl = common::query(
        &db,
        "SELECT sql FROM sqlite_master WHERE name = 'experiment_logs'",
    )
    .await[0][0]
        .render();
    db.close().await;

    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    {
        let url = flightdeck::db::DbUrl::parse(
            &format!("sqlite://{}", dir.path().join("platform.db").display()),
            Path::new("/"),
        )
        .unwrap();
        let db = flightdeck::db::connect(&url, true).await.unwrap();
        for sql in [
            "CREATE TABLE crm_contacts (id INTEGER PRIMARY KEY, email TEXT)",
            "INSERT INTO crm_contacts VALUES (1, 'a@example.org'), (2, 'b@example.org')",
            "CREATE INDEX crm_by_email ON crm_contacts (email)",
            &ddl,
            "INSERT INTO experiment_logs (experiment_uuid, original_source_id, name) VALUES ('11111111-1111-1111-1111-111111111111', -1, 'kept by the operator')",
        ] {
            db.execute(sql, &[]).await.unwrap();
        }
        db.close().await;
    }
    let before = state(dir.path()).await;
    // The extra row breaks count reconciliation: validation fails, exit 1.
    let out = run(dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&str> = json["validation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        vec!["experiment_logs: source = target + quarantine"]
    );
    assert_ne!(state(dir.path()).await, before);

    let plan = rollback_ok(dir.path(), &["--yes"]);
    assert!(!plan.contains("DROP TABLE \"experiment_logs\""), "{plan}");
    assert_eq!(state(dir.path()).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_an_event_then_run_resumes_to_the_same_target() {
    // Batches of 120 rows, so a table keeps some and loses others, one with
    // a key list too long for the plan to hold (read when its step runs)
    // and one short enough to be planned whole.
    let small_batches = |dir: &Path| {
        let path = dir.join("project.toml");
        let toml = std::fs::read_to_string(&path)
            .unwrap()
            .replace("batch_size = 2000", "batch_size = 120")
            .replace("min_batch = 200", "min_batch = 50")
            .replace("adaptive = true", "adaptive = false");
        std::fs::write(path, toml).unwrap();
    };
    let reference = tempfile::tempdir().unwrap();
    common::sample(reference.path(), ROWS);
    small_batches(reference.path());
    run_json(reference.path());
    let expected = state(reference.path()).await;

    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    small_batches(dir.path());
    let first = run_json(dir.path());
    // Keep data_sources and ml_models; undo everything after ml_models' first batch.
    let log = events(dir.path()).await;
    let keep = log
        .iter()
        .filter(|e| e.kind == "batch_committed" && e.table.as_deref() == Some("ml_models"))
        .map(|e| e.id)
        .min()
        .unwrap();
    let plan = rollback_ok(dir.path(), &["--yes", "--to", &keep.to_string()]);
    assert!(plan.contains("DROP TABLE \"training_jobs\""), "{plan}");
    assert!(!plan.contains("DROP TABLE \"ml_models\""), "{plan}");
    let (schema, _) = state(dir.path()).await;
    let names: Vec<&str> = schema.iter().map(|(n, _)| n.as_str()).collect();
    // data_sources stays whole with the key built after its load; ml_models
    // keeps one batch and loses its key with the batches undone after it.
    assert_eq!(
        names,
        vec!["data_sources", "data_sources_pkey", "ml_models"]
    );
    assert_eq!(run_status(dir.path()).await, vec!["partially_rolled_back"]);
    // ml_models' batches after the kept one were deleted by key, each key
    // list read from its event only when its step ran.
    let log = events(dir.path()).await;
    let undone_models: Vec<&flightdeck::eventlog::EventRecord> = log
        .iter()
        .filter(|e| e.kind == "rollback" && e.table.as_deref() == Some("ml_models"))
        .filter(|e| e.detail["undone_kind"] == "batch_committed")
        .collect();
    assert!(
        !undone_models.is_empty(),
        "{:?}",
        log.iter()
            .filter(|e| e.kind == "rollback")
            .map(|e| (&e.table, &e.detail["undone_kind"]))
            .collect::<Vec<_>>()
    );
    let inverse_len = |id: &serde_json::Value| {
        let e = log.iter().find(|e| e.id == id.as_i64().unwrap()).unwrap();
        serde_json::to_string(&e.inverse).unwrap().len()
    };
    let max = flightdeck::eventlog::store::LISTED_INVERSE_MAX;
    let lens: Vec<usize> = undone_models
        .iter()
        .map(|e| inverse_len(&e.detail["undoes"]))
        .collect();
    assert!(
        lens.iter().any(|&n| n > max) && lens.iter().any(|&n| n <= max),
        "{lens:?}"
    );
    for e in undone_models {
        let ran = e.detail["statements"][0].as_str().unwrap();
        assert!(ran.starts_with("DELETE FROM \"ml_models\" "), "{ran}");
    }

    let unknown = rollback(dir.path(), &["--yes", "--to", "999999"]);
    assert_eq!(unknown.status.code(), Some(2));

    // The next run resumes the same run and lands the same target.
    let resumed = run_json(dir.path());
    assert_eq!(resumed["run_id"], first["run_id"]);
    assert_eq!(state(dir.path()).await, expected);
    assert_eq!(run_status(dir.path()).await, vec!["completed"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_killed_mid_way_finishes_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let before = state(dir.path()).await;
    run_json(dir.path());

    // 11 steps at 4 per second: kill -9 lands inside the rollback.
    let mut child = rollback_command(dir.path(), &["--yes", "--pace", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let db = common::open_sqlite(&dir.path().join("platform.db")).await;
    loop {
        let steps = common::query(
            &db,
            "SELECT COUNT(*) FROM flightdeck_events WHERE kind = 'rollback'",
        )
        .await[0][0]
            .as_i64()
            .unwrap();
        if steps >= 3 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "rollback ended early");
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    db.close().await;
    assert_ne!(state(dir.path()).await, before, "killed part-way");

    // The dead process's lock is detected, and taken over only on request.
    let stale = rollback(dir.path(), &["--yes"]);
    assert_eq!(stale.status.code(), Some(3));
    let msg = String::from_utf8_lossy(&stale.stderr);
    assert!(
        msg.contains("no longer running") && msg.contains("--take-over"),
        "{msg}"
    );

    rollback_ok(dir.path(), &["--yes", "--take-over"]);
    assert_eq!(state(dir.path()).await, before);
    assert_each_event_undone_once(dir.path(), "").await;
    assert_eq!(run_status(dir.path()).await, vec!["rolled_back"]);
}

/// No event was undone twice across every rollback of the log.
async fn assert_each_event_undone_once(dir: &Path, context: &str) {
    let mut undone: Vec<i64> = events(dir)
        .await
        .iter()
        .filter(|e| e.kind == "rollback")
        .map(|e| e.detail["undoes"].as_i64().unwrap())
        .collect();
    let n = undone.len();
    undone.sort();
    undone.dedup();
    assert_eq!(undone.len(), n, "{context}: an event was undone twice");
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_passwords_never_leak() {
    const CANARY: &str = "canary-pw-7f3e9b21";
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 100);
    let project = dir.path().join("project.toml");
    let text = std::fs::read_to_string(&project).unwrap();
    let text = text
        .replace(
            "url = \"sqlite://platform.db\"",
            "url = \"sqlite://platform.db?password=${FLIGHTDECK_CANARY}\"",
        )
        .replace(
            "url = \"sqlite://legacy.db\"",
            "url = \"sqlite://legacy.db?password=${FLIGHTDECK_CANARY}\"",
        );
    std::fs::write(&project, text).unwrap();

    let mut printed = Vec::new();
    let mut go = |args: &[&str]| {
        let out = common::flightdeck(dir.path())
            .env("FLIGHTDECK_CANARY", CANARY)
            .env("RUST_BACKTRACE", "1")
            .args(args)
            .arg(&project)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        printed.extend(out.stdout);
        printed.extend(out.stderr);
        out.status.code()
    };
    assert_eq!(go(&["check"]), Some(0));
    assert_eq!(go(&["run", "--headless"]), Some(0));
    assert_eq!(go(&["log", "--json"]), Some(0));
    assert_eq!(go(&["rollback", "--yes"]), Some(0));
    assert_eq!(go(&["run", "--headless"]), Some(0));
    assert_eq!(go(&["rollback"]), Some(2));
    let printed = String::from_utf8_lossy(&printed);
    assert!(printed.contains("password=***"), "URLs are shown redacted");
    assert!(!printed.contains(CANARY), "canary on stdout/stderr");

    // Logs, the event log and every other file the tool wrote.
    for f in files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        let hit = bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes());
        assert!(!hit, "canary in {}", f.display());
    }

    // What a panic message would format: the project and its URLs.
    let p = flightdeck::project::parse(
        "project.toml",
        &std::fs::read_to_string(&project).unwrap(),
        dir.path(),
        &|n| (n == "FLIGHTDECK_CANARY").then(|| CANARY.to_string()),
    )
    .unwrap();
    assert!(p.target_url.expose().contains(CANARY));
    let shown = format!("{p:?} {} {}", p.source_url, p.target_url);
    assert!(!shown.contains(CANARY), "canary in Debug/Display");
    let panic = std::panic::catch_unwind(|| panic!("run failed for {:?}", p.target_url))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(!panic.contains(CANARY));
}

/// The kinds of schema change a run applied, from the event log.
async fn applied_kinds(dir: &Path) -> std::collections::BTreeSet<String> {
    events(dir)
        .await
        .iter()
        .filter(|e| e.kind == "ddl_applied")
        .map(|e| e.detail["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn run_accepting(dir: &Path) -> Output {
    common::flightdeck(dir)
        .args(["run", "--headless", "--accept-above", "0.5"])
        .arg(dir.join("project.toml"))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_undoes_every_kind_of_applied_schema_change() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 3_000);
    let before = state(dir.path()).await;
    let out = run_accepting(dir.path());
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kinds = applied_kinds(dir.path()).await;
    for k in ["not_null", "check", "index", "narrow_type"] {
        assert!(kinds.contains(k), "no {k} change was applied: {kinds:?}");
    }
    rollback_ok(dir.path(), &["--yes"]);
    assert_eq!(state(dir.path()).await, before);
    // Apply again after the rollback: the same changes land again.
    let again = run_accepting(dir.path());
    assert!(again.status.code().is_some_and(|c| c <= 1));
    assert_eq!(applied_kinds(dir.path()).await, kinds);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_undoes_schema_changes_on_a_table_the_operator_created() {
    let scratch = tempfile::tempdir().unwrap();
    common::sample(scratch.path(), 50);
    run_json(scratch.path());
    let db = common::open_sqlite(&scratch.path().join("platform.db")).await;
    let ddl = common::query(
        &db,
        "SELECT sql FROM sqlite_master WHERE name = 'ml_models'",
    )
    .await[0][0]
        .render();
    db.close().await;

    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 3_000);
    {
        let url = flightdeck::db::DbUrl::parse(
            &format!("sqlite://{}", dir.path().join("platform.db").display()),
            Path::new("/"),
        )
        .unwrap();
        let db = flightdeck::db::connect(&url, true).await.unwrap();
        db.execute(&ddl, &[]).await.unwrap();
        db.execute(
            "INSERT INTO ml_models (model_uuid, original_source_id, model_name) VALUES ('22222222-2222-2222-2222-222222222222', -7, 'the operator''s own')",
            &[],
        )
        .await
        .unwrap();
        db.close().await;
    }
    let before = state(dir.path()).await;
    let out = run_accepting(dir.path());
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let on_operator_table = events(dir.path())
        .await
        .iter()
        .filter(|e| e.kind == "ddl_applied" && e.table.as_deref() == Some("ml_models"))
        .count();
    assert!(
        on_operator_table > 0,
        "no change was applied to the operator's table"
    );
    assert_ne!(state(dir.path()).await, before);
    rollback_ok(dir.path(), &["--yes"]);
    assert_eq!(
        state(dir.path()).await,
        before,
        "schema or rows of the operator's table changed"
    );
}

/// `flightdeck rollback --yes | head -3`: the reader goes away while the
/// plan and the progress are still being written. The rollback finishes,
/// releases the target's lock and exits 0; it used to panic at the first
/// write to the closed pipe, with the lock held and the target half undone.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_whose_reader_goes_away_still_finishes_and_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let before = state(dir.path()).await;
    run_json(dir.path());
    let mut child = rollback_command(dir.path(), &["--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close both pipes before the child writes: every write fails.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(state(dir.path()).await, before, "the rollback finished");
    // No lock left behind: a second rollback runs, and finds nothing to do.
    let again = rollback_ok(dir.path(), &["--yes"]);
    assert!(again.contains("nothing to roll back"), "{again}");
}

/// Ctrl-C, SIGTERM or a dropped SSH link during a rollback: it stops after
/// the step under way, logs where it stopped, releases the lock and exits 3;
/// the next rollback, without `--take-over`, finishes it. It used to die
/// between two steps with the lock row left behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_stops_a_rollback_between_steps_and_the_next_one_finishes_it() {
    for signal in ["INT", "TERM", "HUP"] {
        let dir = tempfile::tempdir().unwrap();
        common::sample(dir.path(), ROWS);
        let before = state(dir.path()).await;
        run_json(dir.path());

        // 15 steps at 2 per second: the signal lands between two of them.
        let child = rollback_command(dir.path(), &["--yes", "--pace", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while undo_steps(dir.path()).await < 2 {
            assert!(started.elapsed() < Duration::from_secs(60), "SIG{signal}");
            std::thread::sleep(Duration::from_millis(20));
        }
        common::send_signal(child.id(), signal);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "SIG{signal}: {err}");
        assert!(!err.contains("panicked"), "SIG{signal}: {err}");
        assert!(
            err.contains("stopping after the step under way")
                && err.contains("stopped on request after")
                && err.contains("roll back again to finish"),
            "SIG{signal}: {err}"
        );
        let undone_before = undo_steps(dir.path()).await;
        assert!(undone_before < 10, "SIG{signal}: stopped before the end");
        assert_ne!(state(dir.path()).await, before, "SIG{signal}: part-way");
        let log = events(dir.path()).await;
        let of_kind = |k: &str| log.iter().filter(|e| e.kind == k).collect::<Vec<_>>();
        let (started, stopped) = (of_kind("rollback_started"), of_kind("rollback_stopped"));
        assert_eq!((started.len(), stopped.len()), (1, 1), "SIG{signal}");
        let steps = started[0].detail["steps"].as_i64().unwrap();
        assert_eq!(stopped[0].detail["undone"].as_i64(), Some(undone_before));
        assert_eq!(
            stopped[0].detail["left"].as_i64().unwrap() + undone_before,
            steps,
            "SIG{signal}: {:?}",
            stopped[0].detail
        );

        // The lock was released: no --take-over needed to finish.
        let finished = rollback_ok(dir.path(), &["--yes"]);
        assert!(finished.contains("rolled back"), "SIG{signal}: {finished}");
        assert_eq!(state(dir.path()).await, before, "SIG{signal}");
        assert_eq!(run_status(dir.path()).await, vec!["rolled_back"]);
        assert_each_event_undone_once(dir.path(), &format!("SIG{signal}")).await;
    }
}

/// A second Ctrl-C while a rollback is stopping leaves at once, when the
/// step under way cannot end (here: another connection holds the target's
/// write lock). That step is not committed; the lock row could not be
/// deleted either, so the command to go on says `--take-over`, and with it
/// the rollback finishes: the target equals its state before the run.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_leaves_a_rollback_at_once_and_take_over_finishes_it() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let before = state(dir.path()).await;
    run_json(dir.path());
    let mut child = rollback_command(dir.path(), &["--yes", "--pace", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while undo_steps(dir.path()).await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no step undone"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut holder = common::hold_target(dir.path()).await;
    let stderr = common::read_aside(child.stderr.take().unwrap());
    common::send_signal(child.id(), "INT");
    let status = common::second_sigint(&mut child).await;
    let said = stderr.join().unwrap();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    assert!(
        said.contains("stopped at once on a second request: the step under way was not committed"),
        "{said}"
    );
    assert!(
        said.contains("--take-over (the target's lock could not be released)"),
        "{said}"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();

    let refused = rollback(dir.path(), &["--yes"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--take-over"));
    let finished = rollback_ok(dir.path(), &["--yes", "--take-over"]);
    assert!(finished.contains("rolled back"), "{finished}");
    assert_eq!(state(dir.path()).await, before);
    assert_eq!(run_status(dir.path()).await, vec!["rolled_back"]);
    assert_each_event_undone_once(dir.path(), "after the take-over").await;
}

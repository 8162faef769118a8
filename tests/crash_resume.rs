//! Crash safety with the real binary: kill -9 at seeded random moments, rerun,
//! and the target equals an uninterrupted run's.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const ROWS: u64 = 1500;
const PACE: &str = "12000";

/// A run of the sample project in `dir`, killed after `after` if still going.
/// `--take-over`: a killed run leaves its lock behind, by design.
fn run_killed_after(dir: &Path, after: Duration) -> bool {
    let mut child = common::flightdeck(dir)
        .args(["run", "--headless", "--take-over", "--pace", PACE])
        .arg(dir.join("project.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

fn run_to_end(dir: &Path) {
    common::run_ok(
        common::flightdeck(dir)
            .args(["run", "--headless", "--take-over"])
            .arg(dir.join("project.toml")),
    );
}

/// SplitMix64, so the trials are the same on every machine.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_then_resume_equals_an_uninterrupted_run() {
    let template = tempfile::tempdir().unwrap();
    common::sample(template.path(), ROWS);
    let copy = |to: &Path| {
        for f in ["project.toml", "legacy.db", "owners.csv", "algorithms.toml"] {
            std::fs::copy(template.path().join(f), to.join(f)).unwrap();
        }
    };

    let reference = tempfile::tempdir().unwrap();
    copy(reference.path());
    let t0 = Instant::now();
    run_to_end(reference.path());
    let paced = {
        // How long a paced run takes, so kills land inside it.
        let probe = tempfile::tempdir().unwrap();
        copy(probe.path());
        let s = Instant::now();
        run_killed_after(probe.path(), Duration::from_secs(120));
        s.elapsed()
    };
    eprintln!("unpaced run {:?}, paced run {paced:?}", t0.elapsed());
    let ref_db = common::open_sqlite(&reference.path().join("platform.db")).await;
    let expected = common::content_fingerprint(&ref_db).await;
    let expected_q = common::quarantine(&ref_db).await;
    assert_eq!(expected.len(), 5);

    let mut seed = 0x5eed_u64;
    let mut kills = 0;
    for trial in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        copy(dir.path());
        // One or two kills per trial, anywhere from start-up to the end.
        for _ in 0..1 + next(&mut seed) % 2 {
            let at = Duration::from_micros(next(&mut seed) % paced.as_micros().max(1) as u64);
            if run_killed_after(dir.path(), at) {
                kills += 1;
            }
        }
        run_to_end(dir.path());
        let db = common::open_sqlite(&dir.path().join("platform.db")).await;
        assert_eq!(
            common::content_fingerprint(&db).await,
            expected,
            "trial {trial}: target differs"
        );
        assert_eq!(
            common::quarantine(&db).await,
            expected_q,
            "trial {trial}: quarantine differs"
        );
        for (table, key) in [
            ("ml_models", "model_uuid"),
            ("data_sources", "data_source_uuid"),
        ] {
            let dup = common::query(
                &db,
                &format!("SELECT COUNT(*) - COUNT(DISTINCT \"{key}\") FROM \"{table}\""),
            )
            .await;
            assert_eq!(
                dup[0][0].as_i64(),
                Some(0),
                "trial {trial}: duplicate keys in {table}"
            );
        }
    }
    assert!(kills >= 8, "only {kills} kills landed inside a run");
}

/// SIGHUP (a dropped SSH link), SIGINT (Ctrl-C) and SIGTERM stop a headless
/// run at a batch boundary: it says so, gives its account with the command
/// that resumes, exits 3 and releases its lock; the rerun that command
/// names completes with every post-run check passing. The second poll of
/// the finished signal used to panic ("`async fn` resumed after completion").
#[test]
fn a_signal_stops_a_headless_run_cleanly_and_the_rerun_completes() {
    use std::io::{BufReader, Read};
    for signal in ["HUP", "INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        common::sample(dir.path(), ROWS);
        let mut child = common::paced_run(dir.path(), "3000");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // The first table's line: the run is past its start, mid-load.
        common::read_until_line(&mut stderr, " → ");
        common::send_signal(child.id(), signal);
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "SIG{signal}: {rest}");
        assert!(!rest.contains("panicked"), "SIG{signal}: {rest}");
        assert!(
            rest.contains("stopping at the next batch boundary"),
            "{rest}"
        );
        assert!(rest.contains(" stopped after "), "SIG{signal}: {rest}");
        assert!(rest.contains("resume where this run stopped"), "{rest}");
        // No --take-over: the stopped run let go of the target.
        run_to_end_without_take_over(dir.path());
    }
}

/// `--pace` waits between batches; a stop does not wait for the pause to
/// end (at 40 rows/s a batch of 1,000 rows is a 25 s pause).
#[test]
fn a_paced_run_stops_without_finishing_its_pause() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let mut child = common::paced_run(dir.path(), "40");
    // Past the start and into the first pause.
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    common::send_signal(child.id(), "INT");
    let status = common::exit_within(&mut child, signalled, Duration::from_secs(8), "SIGINT");
    assert_eq!(status.code(), Some(3));
    run_to_end_without_take_over(dir.path());
}

fn run_to_end_without_take_over(dir: &Path) {
    let out = common::run_ok(
        common::flightdeck(dir)
            .args(["run", "--headless"])
            .arg(dir.join("project.toml")),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    let checks = summary["validation"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(
        checks.iter().all(|c| c["status"] == "passed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Ctrl-C while the post-run checks run (they can take minutes on a large
/// target) stops them at once: the run completed, the account says how to
/// check it, the exit code is 3. The signal used to be swallowed until the
/// checks finished.
#[test]
fn a_signal_during_the_post_run_checks_stops_them_at_once() {
    use std::io::BufReader;
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    // A check that would run for minutes.
    let project = dir.path().join("project.toml");
    let mut toml = std::fs::read_to_string(&project).unwrap();
    toml.push_str(
        r#"
[[validations]]
name = "A check that takes its time"
table = "ml_models"
kind = "sql"
sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT x FROM c WHERE x < 0"
"#,
    );
    std::fs::write(&project, toml).unwrap();
    let mut child = common::flightdeck(dir.path())
        .args(["run", "--headless"])
        .arg(&project)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    common::read_until_line(&mut stderr, "running the post-run checks");
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    common::send_signal(child.id(), "INT");
    // Read both pipes aside, so a full pipe cannot hold the child up; never
    // wait for the check itself: a child still busy after 10 s fails.
    let stdout = common::read_aside(child.stdout.take().unwrap());
    let rest = common::read_aside(stderr);
    let status = common::exit_within(
        &mut child,
        signalled,
        Duration::from_secs(10),
        "SIGINT: the signal was not heeded",
    );
    let (stdout, rest) = (stdout.join().unwrap(), rest.join().unwrap());
    assert_eq!(status.code(), Some(3), "{rest}");
    assert!(
        rest.contains("post-run checks were stopped on request")
            && rest.contains("the run itself completed"),
        "{rest}"
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert!(summary.get("validation").is_none(), "{summary}");
}

/// Ctrl-C stops a run at the next batch boundary; a second Ctrl-C leaves at
/// once, when the boundary is slow to come (here: another connection holds
/// the target's write lock). The batch under way is not committed, and the
/// run resumes from the last checkpoint. The lock row could not be deleted
/// either (the database was held), so the command to go on says
/// `--take-over`, and the next run without it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_leaves_at_once_and_the_run_resumes() {
    use sqlx::Connection;
    use std::io::BufReader;
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let project = dir.path().join("project.toml");
    let mut child = common::paced_run(dir.path(), "1500");
    let stdout = common::read_aside(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The first table is in: the run is writing.
    common::read_until_line(&mut stderr, "data_sources");
    let mut holder = common::hold_target(dir.path()).await;
    common::send_signal(child.id(), "INT");
    common::read_until_line(&mut stderr, "stopping at the next batch boundary");
    let rest = common::read_aside(stderr);
    let status = common::second_sigint(&mut child).await;
    let said = rest.join().unwrap();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(
        said.contains("stopped at once on a second request: the batch under way was not committed"),
        "{said}"
    );
    assert!(
        said.contains("--headless --take-over (the target's lock could not be released)"),
        "{said}"
    );
    // Scripts still read one JSON object, with the run it left.
    let json: serde_json::Value = serde_json::from_str(&stdout.join().unwrap()).unwrap();
    assert_eq!(json["status"], "interrupted", "{json}");
    assert_eq!(json["run_id"].as_str().map(str::len), Some(36), "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("not committed"),
        "{json}"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();

    let refused = common::flightdeck(dir.path())
        .args(["run", "--headless"])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--take-over"));
    let resumed = common::run_ok(
        common::flightdeck(dir.path())
            .args(["run", "--headless", "--take-over"])
            .arg(&project),
    );
    // Exit 0: the post-run checks passed, count reconciliation among them.
    let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert!(said.contains("resuming run"), "{said}");
}

/// A run that fails on the way still leaves scripts one JSON object on
/// stdout: its status, its run id and the error (here the table being
/// loaded is renamed away beneath the run).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_fails_on_the_way_says_so_in_json() {
    use std::io::BufReader;
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), ROWS);
    let mut child = common::paced_run(dir.path(), "1500");
    let stdout = common::read_aside(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    common::read_until_line(&mut stderr, "data_sources");
    let db = common::open_sqlite(&dir.path().join("platform.db")).await;
    let since = Instant::now();
    let exists = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ml_models'";
    while common::query(&db, exists).await[0][0].as_i64() != Some(1) {
        assert!(since.elapsed() < Duration::from_secs(30), "no ml_models");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    db.execute("ALTER TABLE ml_models RENAME TO ml_models_elsewhere", &[])
        .await
        .unwrap();
    db.close().await;
    let rest = common::read_aside(stderr);
    let status = common::exit_within(
        &mut child,
        Instant::now(),
        Duration::from_secs(30),
        "the failing run",
    );
    let said = rest.join().unwrap();
    assert_eq!(status.code(), Some(3), "{said}");
    let json: serde_json::Value = serde_json::from_str(&stdout.join().unwrap()).unwrap();
    assert_eq!(json["status"], "failed", "{json}");
    assert_eq!(json["run_id"].as_str().map(str::len), Some(36), "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("ml_models"),
        "{json}\n{said}"
    );
}

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

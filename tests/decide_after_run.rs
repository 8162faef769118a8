//! Recommendations a completed run left pending: listed, decided and
//! applied afterwards with `flightdeck recommendations`, in the run's name
//! (so its rollback undoes them), and offered again by a rerun.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value as Json;

fn recommendations(dir: &Path, args: &[&str]) -> Output {
    common::flightdeck(dir)
        .arg("recommendations")
        .arg(dir.join("project.toml"))
        .args(args)
        .output()
        .expect("spawn flightdeck")
}

fn run_headless(dir: &Path, args: &[&str]) -> Json {
    let out = common::run_ok(
        common::flightdeck(dir)
            .args(["run", "--headless"])
            .arg(dir.join("project.toml"))
            .args(args),
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn queue(dir: &Path) -> Vec<Json> {
    let out = common::run_ok(
        common::flightdeck(dir)
            .arg("recommendations")
            .arg(dir.join("project.toml"))
            .arg("--json"),
    );
    let j: Json = serde_json::from_slice(&out.stdout).expect("one JSON object");
    j["recommendations"].as_array().unwrap().clone()
}

fn state_of(queue: &[Json], id: &str) -> String {
    queue
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the queue"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The id of the first pending recommendation of `kind`.
fn pending(queue: &[Json], kind: &str) -> String {
    queue
        .iter()
        .find(|r| r["kind"] == kind && r["state"] == "pending")
        .unwrap_or_else(|| panic!("no pending {kind} in {queue:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// SQLite cannot add NOT NULL to a column: flightdeck guards it with
/// triggers that refuse a NULL on insert and update.
async fn not_null(dir: &Path, table: &str, column: &str) -> bool {
    let db = common::open_sqlite(&dir.join("platform.db")).await;
    let guards = common::query(
        &db,
        &format!(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}' \
             AND sql LIKE '%\"{column}\" IS NULL%'"
        ),
    )
    .await;
    db.close().await;
    !guards.is_empty()
}

async fn indexed(dir: &Path, table: &str, column: &str) -> bool {
    let db = common::open_sqlite(&dir.join("platform.db")).await;
    let indexes = common::query(
        &db,
        &format!(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL"
        ),
    )
    .await;
    let mut found = false;
    for i in indexes {
        let cols = common::query(&db, &format!("PRAGMA index_info(\"{}\")", i[0].render())).await;
        found |= cols.len() == 1 && cols[0][2].render() == column;
    }
    db.close().await;
    found
}

fn subject(id: &str) -> (&str, &str) {
    let (_, subject) = id.split_once(':').unwrap();
    subject.split_once('.').unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_recommendations_of_a_completed_run_are_decided_applied_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    common::sample(dir, 1000);
    let summary = run_headless(dir, &[]);
    let run_id = summary["run_id"].as_str().unwrap().to_string();

    let listed = recommendations(dir, &[]);
    assert!(listed.status.success());
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.starts_with(&format!("run {} (completed): ", &run_id[..8])),
        "{text}"
    );
    let before = queue(dir);
    let nn = pending(&before, "not_null");
    let idx = pending(&before, "index");
    let chk = pending(&before, "check");
    assert!(text.contains(&nn) && text.contains("decide with --accept ID"));
    let (nn_table, nn_column) = subject(&nn);
    let (idx_table, idx_column) = subject(&idx);
    assert!(!not_null(dir, nn_table, nn_column).await);
    assert!(!indexed(dir, idx_table, idx_column).await);

    // A decision naming no recommendation is refused before anything is
    // written, with the nearest id.
    let logged = common::events(dir).await.len();
    let typo = nn.replacen('_', "", 1).replace("not", "nto");
    let refused = recommendations(dir, &["--accept", &idx, "--accept", &typo]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("no recommendation {typo} in the last run")),
        "{said}"
    );
    assert_eq!(common::events(dir).await.len(), logged);
    assert!(!indexed(dir, idx_table, idx_column).await);

    let out = common::run_ok(
        common::flightdeck(dir)
            .arg("recommendations")
            .arg(dir.join("project.toml"))
            .args(["--accept", &nn, "--accept", &idx, "--reject", &chk]),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("3 decisions recorded, 2 changes applied"),
        "{said}"
    );
    assert!(not_null(dir, nn_table, nn_column).await);
    assert!(indexed(dir, idx_table, idx_column).await);
    let after = queue(dir);
    assert_eq!(state_of(&after, &nn), "applied");
    assert_eq!(state_of(&after, &idx), "applied");
    assert_eq!(state_of(&after, &chk), "rejected");
    let still_pending = |q: &[Json]| q.iter().filter(|r| r["state"] == "pending").count();
    assert_eq!(still_pending(&after), still_pending(&before) - 3);

    // In the run's log: the decisions, each change with its inverse, and
    // the queue afterwards.
    let events = common::events(dir).await;
    assert!(events.iter().all(|e| e.run_id.to_string() == run_id));
    let decided: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "recommendation_decision" && e.detail["by"] == "operator")
        .map(|e| e.detail["recommendation"].as_str().unwrap())
        .collect();
    for id in [&nn, &idx, &chk] {
        assert!(decided.contains(&id.as_str()), "{id}: {decided:?}");
    }
    for id in [&nn, &idx] {
        let applied = events
            .iter()
            .find(|e| e.kind == "ddl_applied" && e.detail["recommendation"] == id.as_str())
            .unwrap_or_else(|| panic!("no ddl_applied for {id}"));
        assert!(!applied.inverse.is_empty(), "{id} has no inverse");
    }
    assert_eq!(events[0].kind, "recommendations_decided");

    // Decided already: refused, nothing written.
    let again = recommendations(dir, &["--reject", &nn]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("{nn} is applied")));

    // The report counts what was applied after the run.
    let report = dir.join("report.md");
    common::run_ok(
        common::flightdeck(dir)
            .arg("report")
            .arg(dir.join("project.toml"))
            .arg("--out")
            .arg(&report),
    );
    let applied_in = |q: &[Json]| q.iter().filter(|r| r["state"] == "applied").count();
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains(&format!(
            "{} recommendations from the live profile: {} applied,",
            after.len(),
            applied_in(&after)
        )),
        "{md}"
    );
    assert_eq!(applied_in(&after), applied_in(&before) + 2);

    // The run's rollback undoes the changes applied after it too: the
    // target holds no table of the run afterwards.
    common::run_ok(
        common::flightdeck(dir)
            .arg("rollback")
            .arg(dir.join("project.toml"))
            .arg("--yes"),
    );
    let target = common::open_sqlite(&dir.join("platform.db")).await;
    assert_eq!(common::content_fingerprint(&target).await, vec![]);
    target.close().await;
    let undone: Vec<i64> = common::events(dir)
        .await
        .iter()
        .filter(|e| e.kind == "rollback")
        .map(|e| e.detail["undoes"].as_i64().unwrap())
        .collect();
    for id in [&nn, &idx] {
        let applied = events
            .iter()
            .find(|e| e.kind == "ddl_applied" && e.detail["recommendation"] == id.as_str())
            .unwrap();
        assert!(undone.contains(&applied.id), "{id} was not undone");
    }
    let gone = recommendations(dir, &[]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("was rolled back"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_offers_what_the_completed_run_left_undecided() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    common::sample(dir, 1000);
    let first = run_headless(dir, &[]);
    let ids = |j: &Json, state: &str| -> Vec<String> {
        let mut v: Vec<String> = j["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == state)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let undecided = ids(&first, "pending");
    assert!(undecided.len() > 10, "{first}");

    // No row is new: nothing re-profiles a column, and nothing the first
    // run left is withdrawn for want of rows.
    let again = run_headless(dir, &[]);
    assert_eq!(again["run_id"], first["run_id"]);
    assert_eq!(ids(&again, "pending"), undecided);
    assert_eq!(ids(&again, "withdrawn"), ids(&first, "withdrawn"));

    // Decided on the rerun: applied in the run's name.
    let accepted = run_headless(dir, &["--accept-above", "0.5"]);
    let applied = ids(&accepted, "applied");
    let newly: Vec<&String> = undecided.iter().filter(|id| applied.contains(id)).collect();
    assert!(!newly.is_empty(), "{accepted}");
    let events = common::events(dir).await;
    for id in newly {
        assert!(
            events
                .iter()
                .any(|e| e.kind == "ddl_applied" && e.detail["recommendation"] == id.as_str()),
            "{id} applied without its event"
        );
    }
}

//! The ai-research sample end to end: generate, run headless, and check what
//! landed in the target against the source and the sample's rules.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::America::New_York;
use flightdeck::value::Value;
use serde_json::Value as Json;

fn run_sample(dir: &Path, rows: u64) -> Json {
    common::sample(dir, rows);
    let out = common::run_ok(
        common::flightdeck(dir)
            .args(["run", "--headless"])
            .arg(dir.join("project.toml")),
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| v.render())
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_run_lands_every_row_in_target_or_quarantine_by_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_sample(dir.path(), 20_000);
    assert_eq!(summary["status"], "completed");
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    let source = common::open_sqlite(&dir.path().join("legacy.db")).await;

    // Every table: read = written + quarantined, and the target agrees.
    let quarantine = common::quarantine(&target).await;
    for t in summary["tables"].as_array().unwrap() {
        let (read, written, quarantined) = (
            t["read"].as_i64().unwrap(),
            t["written"].as_i64().unwrap(),
            t["quarantined"].as_i64().unwrap(),
        );
        let src = t["source"].as_str().unwrap();
        assert_eq!(read, common::count(&source, src).await, "{src}: read");
        assert_eq!(
            read,
            written + quarantined,
            "{src}: read = written + quarantined"
        );
        assert_eq!(
            written,
            common::count(&target, t["target"].as_str().unwrap()).await
        );
        let q = quarantine.iter().filter(|q| q.0 == src).count() as i64;
        assert_eq!(q, quarantined, "{src}: quarantine rows");
    }
    assert!(
        quarantine.iter().all(|q| !q.3.trim().is_empty()),
        "a quarantined row has no reason"
    );
    assert!(
        !quarantine.is_empty(),
        "the sample's dirt must produce quarantined rows"
    );

    // ml_models against the legacy rows they came from.
    let legacy: HashMap<i64, Vec<Value>> = common::query(
        &source,
        "SELECT model_id, created_at, artifact_path, notes FROM models",
    )
    .await
    .into_iter()
    .map(|r| (r[0].as_i64().unwrap(), r))
    .collect();
    let datasets: HashSet<String> =
        common::query(&target, "SELECT data_source_uuid FROM data_sources")
            .await
            .into_iter()
            .map(|r| r[0].render())
            .collect();
    let dictionary: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.path().join("algorithms.toml")).unwrap())
            .unwrap();
    let canonical: HashSet<String> = dictionary["canonical"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let statuses = ["Draft", "Pending Review", "Ready for Deployment", "Active"];
    let uri =
        regex::Regex::new(r"^/legacy/storage/models/(v\d+)/(model_[A-Za-z0-9_-]+)\.pkl$").unwrap();
    let models = common::query(
        &target,
        "SELECT model_uuid, original_source_id, training_dataset_uuid, algorithm_type, deployment_status, created_at, model_artifact_uri, description FROM ml_models",
    )
    .await;
    assert!(models.len() > 15_000);
    let mut dangling_checked = 0;
    for m in &models {
        let uuid = uuid::Uuid::parse_str(&m[0].render()).unwrap();
        assert_eq!(uuid.get_version_num(), 5, "model_uuid {uuid} is not v5");
        let id = m[1].as_i64().unwrap();
        assert_eq!(
            uuid,
            flightdeck::transform::deterministic_uuid(
                flightdeck::transform::DEFAULT_NAMESPACE,
                "models",
                &Value::Int(id)
            )
        );
        if let Some(ds) = text(&m[2]) {
            assert!(datasets.contains(&ds), "training_dataset_uuid {ds} dangles");
            dangling_checked += 1;
        }
        assert!(
            canonical.contains(&m[3].render()),
            "algorithm_type {:?}",
            m[3]
        );
        assert!(
            statuses.contains(&m[4].render().as_str()),
            "deployment_status {:?}",
            m[4]
        );

        let src = &legacy[&id];
        // created_at: the legacy New York wall time, in UTC, written with Z.
        let local = NaiveDateTime::parse_from_str(&src[1].render(), "%Y-%m-%d %H:%M:%S").unwrap();
        let created = m[5].render();
        assert!(created.ends_with('Z'), "created_at {created} is not UTC");
        let got = chrono::DateTime::parse_from_rfc3339(&created).unwrap();
        match New_York.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => assert_eq!(got, t, "model {id}"),
            // Overlap: the sample's policy is the earliest instant.
            chrono::LocalResult::Ambiguous(a, b) => assert_eq!(got, a.min(b), "model {id}"),
            // Gap: shift forward by the gap, i.e. read with the offset before it.
            chrono::LocalResult::None => {
                let before = New_York
                    .from_local_datetime(&(local - chrono::Duration::hours(1)))
                    .earliest()
                    .unwrap();
                assert_eq!(
                    got,
                    before + chrono::Duration::hours(1),
                    "model {id} (DST gap)"
                );
            }
        }
        let caps = uri
            .captures(src[2].as_text().unwrap().as_ref())
            .map(|c| (c[1].to_string(), c[2].to_string()));
        let (version, name) = caps.expect("only matching artifact paths are migrated");
        assert_eq!(
            m[6].render(),
            format!("s3://ai-artifacts-bucket/models/{name}/{version}/model.pkl")
        );
        match text(&src[3]) {
            Some(notes) => assert_eq!(
                m[7].render(),
                format!("Migrated from Legacy AI Research DB: {notes}")
            ),
            None => assert!(m[7].is_null()),
        }
    }
    assert!(dangling_checked > 10_000);

    // The event log holds the run, created tables and batches with inverses.
    let log = flightdeck::eventlog::store::read_events(target.as_ref(), None, 10_000)
        .await
        .unwrap();
    assert_eq!(log.iter().filter(|e| e.kind == "table_created").count(), 5);
    let batches: Vec<_> = log.iter().filter(|e| e.kind == "batch_committed").collect();
    assert!(!batches.is_empty());
    assert!(batches.iter().all(|b| !b.inverse.is_empty()));
    let batch_rows: i64 = batches
        .iter()
        .map(|b| b.detail["written"].as_i64().unwrap())
        .sum();
    let written: i64 = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["written"].as_i64().unwrap())
        .sum();
    assert_eq!(batch_rows, written);
    // Newest first: the post-migration checks, logged right after the run.
    let kinds: Vec<&str> = log.iter().take(2).map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["validation", "run_finished"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_identical_across_two_fresh_runs() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_sample(a.path(), 1500);
    run_sample(b.path(), 1500);
    let keys = |dir: std::path::PathBuf| async move {
        let db = common::open_sqlite(&dir.join("platform.db")).await;
        let mut rows: Vec<String> = common::query(
            &db,
            "SELECT original_source_id || ' ' || model_uuid || ' ' || COALESCE(training_dataset_uuid, '') FROM ml_models",
        )
        .await
        .into_iter()
        .map(|r| r[0].render())
        .collect();
        rows.sort();
        rows
    };
    let (ka, kb) = (
        keys(a.path().to_path_buf()).await,
        keys(b.path().to_path_buf()).await,
    );
    assert!(ka.len() > 1000);
    assert_eq!(ka, kb);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_project_is_up_to_date_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_sample(dir.path(), 300);
    let again = common::run_ok(
        common::flightdeck(dir.path())
            .args(["run", "--headless"])
            .arg(dir.path().join("project.toml")),
    );
    // People read stderr: a line per table, said to be done before, and
    // the account of the run with its checks and what comes next.
    let said = String::from_utf8_lossy(&again.stderr);
    let short = &first["run_id"].as_str().unwrap()[..8];
    assert!(
        said.contains(&format!(
            "run {short} completed before; reading the source rows added since: 5 tables"
        )),
        "{said}"
    );
    assert!(
        said.contains("  models → ml_models: 300 read,")
            && said.contains("(by an earlier session)"),
        "{said}"
    );
    assert!(
        said.contains(&format!("run {short} completed after")),
        "{said}"
    );
    assert!(
        said.contains("post-run checks: ") && said.contains(" 0 failed"),
        "{said}"
    );
    assert!(said.contains("flightdeck rollback "), "{said}");
    // A completed run's pending recommendations are decided with
    // `flightdeck recommendations`, not by reopening the cockpit.
    assert!(!said.contains("flightdeck open"), "{said}");
    let again: Json = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["status"], "completed");
    assert_eq!(again["run_id"], first["run_id"]);
    let counts = |j: &Json| -> Vec<(i64, i64, i64)> {
        j["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let n = |k: &str| t[k].as_i64().unwrap();
                (n("read"), n("written"), n("quarantined"))
            })
            .collect()
    };
    assert_eq!(counts(&again), counts(&first));
    // The event log says the run was picked up again, and from what state;
    // the run stays completed.
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    let logged = common::query(
        &target,
        "SELECT e.summary, r.status FROM flightdeck_events e JOIN flightdeck_runs r \
         ON r.run_id = e.run_id WHERE e.kind = 'run_resumed'",
    )
    .await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0][0].render().contains("continued after completing"),
        "{logged:?}"
    );
    assert_eq!(logged[0][1].render(), "completed");
}

/// A run that finds the parent table already in the target looks up the
/// references its own load did not write, and one that names a row that was
/// there before the run resolves. In a parent table the run created, the
/// same reference is an orphan (`on_orphan = "null"` for `models.dataset_id`).
#[tokio::test(flavor = "multi_thread")]
async fn a_reference_resolves_in_a_parent_table_that_held_rows_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_sample(dir.path(), 300);
    assert_eq!(first["status"], "completed");
    let source = common::open_sqlite(&dir.path().join("legacy.db")).await;
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    // The dataset the most models name, and its key in the target.
    let dataset = common::query(
        &source,
        "SELECT dataset_id FROM models WHERE dataset_id IN (SELECT dataset_id FROM datasets) \
         GROUP BY dataset_id ORDER BY COUNT(*) DESC, dataset_id LIMIT 1",
    )
    .await[0][0]
        .as_i64()
        .unwrap();
    let key = common::query(
        &target,
        &format!("SELECT data_source_uuid FROM data_sources WHERE original_source_id = {dataset}"),
    )
    .await[0][0]
        .render();
    // The models that reference it and landed (others go to quarantine for
    // reasons of their own).
    let models: Vec<i64> = common::query(
        &target,
        &format!("SELECT original_source_id FROM ml_models WHERE training_dataset_uuid = '{key}'"),
    )
    .await
    .iter()
    .map(|r| r[0].as_i64().unwrap())
    .collect();
    assert!(!models.is_empty());
    // The source loses the dataset; the target keeps only its row.
    source
        .execute(
            &format!("DELETE FROM datasets WHERE dataset_id = {dataset}"),
            &[],
        )
        .await
        .unwrap();
    source.close().await;
    let reset = |keep_parent: bool| {
        let target = &target;
        async move {
            for t in common::query(
                target,
                "SELECT name FROM sqlite_master WHERE type = 'table'",
            )
            .await
            {
                let t = t[0].render();
                let kept = t.starts_with("sqlite_") || (keep_parent && t == "data_sources");
                if !kept {
                    target
                        .execute(&format!("DROP TABLE \"{t}\""), &[])
                        .await
                        .unwrap();
                }
            }
            if keep_parent {
                target
                    .execute(
                        &format!("DELETE FROM data_sources WHERE original_source_id <> {dataset}"),
                        &[],
                    )
                    .await
                    .unwrap();
            }
        }
    };
    let references = |models: Vec<i64>| {
        let target = &target;
        async move {
            let ids: Vec<String> = models.iter().map(i64::to_string).collect();
            common::query(
                target,
                &format!(
                    "SELECT training_dataset_uuid FROM ml_models WHERE original_source_id IN ({}) \
                     ORDER BY original_source_id",
                    ids.join(", ")
                ),
            )
            .await
            .iter()
            .map(|r| (!r[0].is_null()).then(|| r[0].render()))
            .collect::<Vec<_>>()
        }
    };
    let run = || {
        // Exit 1: `data_sources` holds one row more than its source, and the
        // count check says so.
        let out = common::flightdeck(dir.path())
            .args(["run", "--headless"])
            .arg(dir.path().join("project.toml"))
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Json = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["status"], "completed");
    };

    reset(true).await;
    run();
    assert_eq!(
        references(models.clone()).await,
        vec![Some(key); models.len()],
        "the dataset's row was in the target before the run"
    );

    reset(false).await;
    run();
    assert_eq!(
        references(models.clone()).await,
        vec![None; models.len()],
        "no row of the dataset anywhere: orphans, set to NULL"
    );
    target.close().await;
}

/// When a run ends, the target's file holds everything on its own: its
/// write-ahead log was checkpointed back and emptied, so a copy of
/// `platform.db` alone (what an operator hands over) has every row, event
/// and schema change of the run.
#[tokio::test(flavor = "multi_thread")]
async fn the_target_file_is_whole_when_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    run_sample(dir.path(), 1_500);
    let wal = dir.path().join("platform.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "{} still holds commits", wal.display());
    let copy = dir.path().join("copy.db");
    std::fs::copy(dir.path().join("platform.db"), &copy).unwrap();
    let original = common::open_sqlite(&dir.path().join("platform.db")).await;
    let copied = common::open_sqlite(&copy).await;
    assert_eq!(
        common::content_fingerprint(&copied).await,
        common::content_fingerprint(&original).await
    );
    assert!(common::count(&copied, "flightdeck_events").await > 0);
    original.close().await;
    copied.close().await;
    // A rollback writes the target too, without creating it.
    common::run_ok(
        common::flightdeck(dir.path())
            .args(["rollback", "--yes"])
            .arg(dir.path().join("project.toml")),
    );
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "after the rollback");
}

//! Pre- and post-migration checks, and resume safety, with the real binary
//! where the command line is the subject and the library where a target is
//! tampered with.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use flightdeck::db::{Database, Db, DbError, Dialect, Statement};
use flightdeck::schema::TableInfo;
use flightdeck::validate::{CheckResult, CheckStatus, POST_CHECKS_IN_FLIGHT, PostOptions};
use flightdeck::value::{Row, Value};
use serde_json::Value as Json;

fn cmd(dir: &Path, args: &[&str]) -> Output {
    common::flightdeck(dir)
        .args(args)
        .arg(dir.join("project.toml"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn check_runs_pre_checks_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 500);
    let out = cmd(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = text(&out);
    for expected in [
        "models: volume: 500 rows to migrate",
        "models: key uniqueness: 0 duplicated values of model_id",
        "fall outside the dictionary",
        "fall outside the map",
        "orphan references (on_orphan = quarantine)",
    ] {
        assert!(s.contains(expected), "missing {expected:?} in:\n{s}");
    }
    assert!(
        !dir.path().join("platform.db").exists(),
        "check created the target"
    );
}

/// A server that refuses the connection is named at once, at the project
/// file's url, with the reason: not after the pool's 30 s of retries as "pool
/// timed out". Port 1 on the loopback refuses without any server running.
#[test]
fn a_refused_connection_is_reported_at_once_with_its_reason_and_place() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 50);
    let project = dir.path().join("project.toml");
    let toml = std::fs::read_to_string(&project).unwrap();
    let line = toml
        .lines()
        .position(|l| l.contains("sqlite://platform.db"))
        .unwrap()
        + 1;
    std::fs::write(
        &project,
        toml.replace("sqlite://platform.db", "postgres://fd@127.0.0.1:1/nowhere"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "project.toml:{line}:7: target database: cannot open postgres://fd@127.0.0.1:1/nowhere: "
        )),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("check [target] url"), "{err}");
    assert!(!err.contains("pool timed out"), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_on_duplicate_source_keys_and_reports_the_dirt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "tests/fixtures/validation/dirty_source.toml",
        dir.path().join("project.toml"),
    )
    .unwrap();
    let url = flightdeck::db::DbUrl::parse(
        &format!("sqlite://{}", dir.path().join("source.db").display()),
        Path::new("/"),
    )
    .unwrap();
    let db = flightdeck::db::connect(&url, true).await.unwrap();
    for sql in [
        "CREATE TABLE teams (team_id INTEGER PRIMARY KEY)",
        "INSERT INTO teams VALUES (1), (2)",
        "CREATE TABLE people (person_id INTEGER, name TEXT, role TEXT, team_id INTEGER)",
        "INSERT INTO people VALUES (1, 'Ada', 'a', 1), (2, NULL, 'u', 2), (2, 'Bob', 'x', 9), (3, 'Cy', 'x', 1), (4, 'Di', 'u', 8)",
    ] {
        db.execute(sql, &[]).await.unwrap();
    }
    db.close().await;

    let out = cmd(dir.path(), &["check"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    for expected in [
        "[FAIL] people: key uniqueness: 1 duplicated values of person_id",
        "e.g. person_id=2, copies=2",
        "[warn] people: name is complete (feeds NOT NULL name): 1 NULLs in name",
        "e.g. person_id=2, name=NULL",
        "[warn] people: role values are known to value_map: 2 of 5 values (1 distinct) fall outside the map",
        "e.g. role=\"x\" ×2 (quarantined)",
        "[warn] people: team_id references teams.team_id: 2 orphan references (on_orphan = null)",
        "[ok  ] teams: key uniqueness",
    ] {
        assert!(s.contains(expected), "missing {expected:?} in:\n{s}");
    }
    assert!(!dir.path().join("target.db").exists());
}

fn find<'a>(checks: &'a [CheckResult], name: &str) -> &'a CheckResult {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn post_checks_pass_on_a_clean_run_and_catch_a_tampered_target() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 300);
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let checks = json["validation"].as_array().unwrap();
    assert!(checks.len() > 20);
    assert!(checks.iter().all(|c| c["status"] == "passed"), "{checks:?}");
    // The checks' own time is reported beside the run's, not hidden in it.
    let checks_s = json["checks_s"].as_f64().expect("checks_s");
    assert!(checks_s > 0.0 && checks_s < 60.0, "{checks_s}");
    assert!(
        text(&out).contains(&format!("0 skipped, in {checks_s:.1} s")),
        "{}",
        text(&out)
    );
    assert!(
        checks
            .iter()
            .all(|c| !c["sql"].as_array().unwrap().is_empty())
    );
    let unique = checks
        .iter()
        .find(|c| c["name"] == "ml_models: key uniqueness")
        .unwrap();
    assert_eq!(
        unique["message"],
        "model_uuid is the primary key: the database refuses duplicates"
    );

    // Tamper: lose a row, change a field, break a foreign key, and duplicate
    // a key once the index that refused duplicates is gone.
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    // Jobs of the model deleted below dangle too, and must be counted.
    let jobs_of_lost_model = common::query(
        &target,
        "SELECT COUNT(*) FROM training_jobs WHERE model_uuid = (SELECT model_uuid FROM ml_models ORDER BY original_source_id LIMIT 1)",
    )
    .await[0][0]
        .as_i64()
        .unwrap();
    for sql in [
        "DELETE FROM ml_models WHERE original_source_id = (SELECT MIN(original_source_id) FROM ml_models)",
        "UPDATE data_sources SET name = name || ' (edited)' WHERE original_source_id = 3",
        "UPDATE training_jobs SET model_uuid = '00000000-0000-0000-0000-00000000beef' WHERE original_source_id = (SELECT MAX(original_source_id) FROM training_jobs)",
        "UPDATE ml_models SET primary_metric_value = 87.5 WHERE original_source_id = (SELECT MAX(original_source_id) FROM ml_models)",
        "DROP INDEX experiment_logs_pkey",
        "INSERT INTO experiment_logs SELECT * FROM experiment_logs WHERE original_source_id = (SELECT MAX(original_source_id) FROM experiment_logs)",
    ] {
        target.execute(sql, &[]).await.unwrap();
    }
    let project = Arc::new(flightdeck::project::load(&dir.path().join("project.toml")).unwrap());
    let prepared = flightdeck::pipeline::prepare(project.clone(), true)
        .await
        .unwrap();
    let options = PostOptions {
        sample: 100_000,
        ..Default::default()
    };
    let checks = flightdeck::validate::run_post(
        &project,
        prepared.source.as_ref(),
        target.as_ref(),
        &prepared.tables,
        &options,
    )
    .await;
    let r = find(&checks, "ml_models: source = target + quarantine");
    assert_eq!(r.status, CheckStatus::Failed);
    assert!(r.message.ends_with(": 1 rows missing"), "{}", r.message);
    let s = find(&checks, "data_sources: re-transformed sample matches");
    assert_eq!(s.status, CheckStatus::Failed);
    assert!(
        s.examples
            .iter()
            .any(|e| e.starts_with("dataset_id=3: name expected")),
        "{:?}",
        s.examples
    );
    let fk = find(
        &checks,
        "training_jobs: model_uuid resolves in ml_models.model_uuid",
    );
    assert_eq!(fk.status, CheckStatus::Failed);
    assert_eq!(fk.counts["offending"], 1 + jobs_of_lost_model);
    assert!(
        fk.examples
            .iter()
            .any(|e| e.contains("model_uuid=00000000-0000-0000-0000-00000000beef")),
        "{:?}",
        fk.examples
    );
    // SQLite sorts the values before probing the parent's key (its planner
    // only nests loops): the plan keeps that sort.
    let plan = common::query(&target, &format!("EXPLAIN QUERY PLAN {}", fk.sql[0])).await;
    assert!(
        plan.iter().any(|r| r
            .iter()
            .any(|v| v.render().contains("TEMP B-TREE FOR ORDER BY"))),
        "{plan:?}"
    );
    let m = find(&checks, "Primary metric is a fraction");
    assert_eq!(m.status, CheckStatus::Failed);
    assert_eq!(m.examples.len(), 1);
    assert!(
        m.examples[0].contains("primary_metric_value=87.5"),
        "{:?}",
        m.examples
    );
    assert!(m.counts.contains_key("elapsed_ms"));
    let dup = find(&checks, "experiment_logs: key uniqueness");
    assert_eq!(dup.status, CheckStatus::Failed);
    assert_eq!(dup.message, "1 duplicated values of experiment_uuid");
    assert_eq!(dup.examples.len(), 1, "{:?}", dup.examples);
    assert!(dup.examples[0].ends_with("copies=2"), "{:?}", dup.examples);
    let extra = find(&checks, "experiment_logs: source = target + quarantine");
    assert!(
        extra.message.ends_with(": 1 rows too many"),
        "{}",
        extra.message
    );
    assert_eq!(
        find(&checks, "training_jobs: source = target + quarantine").status,
        CheckStatus::Passed
    );
}

/// Queries in flight at once, over every [`Counted`] database sharing it.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
    /// Every query sent, in the order sent.
    sent: std::sync::Mutex<Vec<String>>,
}

/// A database that counts the checks' queries in flight; catalog reads
/// (`table_info`) pass uncounted.
struct Counted {
    inner: Db,
    in_flight: Arc<InFlight>,
}

#[async_trait]
impl Database for Counted {
    fn dialect(&self) -> &dyn Dialect {
        self.inner.dialect()
    }

    fn display_url(&self) -> String {
        self.inner.display_url()
    }

    async fn table_info(&self, table: &str) -> Result<Option<TableInfo>, DbError> {
        self.inner.table_info(table).await
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.in_flight.sent.lock().unwrap().push(sql.to_string());
        let now = self.in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.in_flight.most.fetch_max(now, Ordering::SeqCst);
        // Give way once: any check started beside this one sends its query now.
        tokio::task::yield_now().await;
        let rows = self.inner.query(sql, params).await;
        self.in_flight.now.fetch_sub(1, Ordering::SeqCst);
        rows
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.inner.execute(sql, params).await
    }

    async fn transaction(&self, statements: Vec<Statement>) -> Result<(), DbError> {
        self.inner.transaction(statements).await
    }

    async fn close(&self) {}
}

/// The checks without their timings, which differ from run to run.
fn untimed(mut checks: Vec<CheckResult>) -> Vec<CheckResult> {
    for c in &mut checks {
        assert!(
            c.counts.remove("elapsed_ms").is_some(),
            "{} is not timed",
            c.name
        );
        // A query_time check is all timings.
        if c.counts.remove("after_us").is_some() {
            c.counts.remove("before_us");
            c.message.clear();
        }
    }
    checks
}

/// The post-run checks with at most `in_flight` at once, the most queries
/// they had in flight together, and every query they sent.
async fn counted_post_checks(
    prepared: &flightdeck::pipeline::Prepared,
    in_flight: usize,
) -> (Vec<CheckResult>, usize, Vec<String>) {
    let counter = Arc::new(InFlight::default());
    let counted = |db: &Db| Counted {
        inner: db.clone(),
        in_flight: counter.clone(),
    };
    let options = PostOptions {
        in_flight,
        ..Default::default()
    };
    let checks = flightdeck::validate::run_post(
        &prepared.project,
        &counted(&prepared.source),
        &counted(&prepared.target),
        &prepared.tables,
        &options,
    )
    .await;
    let sent = counter.sent.lock().unwrap().clone();
    (checks, counter.most.load(Ordering::SeqCst), sent)
}

#[tokio::test(flavor = "multi_thread")]
async fn post_checks_run_two_at_a_time_in_their_sequential_order() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 300);
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let project = Arc::new(flightdeck::project::load(&dir.path().join("project.toml")).unwrap());
    let prepared = flightdeck::pipeline::prepare(project.clone(), true)
        .await
        .unwrap();
    let (one_by_one, most, _) = counted_post_checks(&prepared, 1).await;
    assert_eq!(most, 1, "one check at a time");
    let (concurrent, most, sent) = counted_post_checks(&prepared, POST_CHECKS_IN_FLIGHT).await;
    assert_eq!(POST_CHECKS_IN_FLIGHT, 2);
    assert_eq!(most, 2, "two checks overlap, never more");
    // The count and the sample share one count of each source table, and
    // keys the catalog shows as primary keys are not grouped again.
    for t in &prepared.tables {
        let count = format!("SELECT COUNT(*) FROM \"{}\"", t.source_table());
        assert_eq!(
            sent.iter().filter(|q| **q == count).count(),
            1,
            "{count} in {sent:#?}"
        );
    }
    for t in &prepared.tables {
        let grouped = format!("GROUP BY \"{}\"", t.target_key());
        assert!(!sent.iter().any(|q| q.contains(&grouped)), "{sent:#?}");
    }

    // Table by table, in run order, then the project's rules.
    let mut expected = Vec::new();
    for t in &prepared.tables {
        let name = t.target_table();
        expected.push(format!("{name}: source = target + quarantine"));
        expected.push(format!("{name}: key uniqueness"));
        expected.push(format!("{name}: column types"));
        for fk in t.foreign_keys() {
            expected.push(format!(
                "{name}: {} resolves in {}.{}",
                t.target_columns()[fk.column].name,
                fk.parent_table,
                fk.parent_key
            ));
        }
        expected.push(format!("{name}: re-transformed sample matches"));
    }
    expected.extend(project.file.validations.iter().map(|v| v.name.clone()));
    let names: Vec<&str> = concurrent.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, expected);
    assert!(concurrent.iter().all(|c| c.status == CheckStatus::Passed));
    assert_eq!(untimed(concurrent), untimed(one_by_one));
}

#[test]
fn a_failing_project_validation_exits_1_with_its_examples() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 300);
    let project = dir.path().join("project.toml");
    let mut text = std::fs::read_to_string(&project).unwrap();
    text.push_str(
        "\n[[validations]]\nname = \"Only drafts\"\ntable = \"ml_models\"\nkind = \"in_set\"\ncolumn = \"deployment_status\"\nvalues = [\"Draft\"]\n",
    );
    std::fs::write(&project, text).unwrap();
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "completed");
    let failed: Vec<&Json> = json["validation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "Only drafts");
    assert_eq!(failed[0]["examples"].as_array().unwrap().len(), 5);
    assert!(failed[0]["counts"]["offending"].as_i64().unwrap() > 100);
    assert!(String::from_utf8_lossy(&out.stderr).contains("[FAIL] Only drafts"));
}

#[test]
fn a_declared_query_is_timed_before_and_after_the_changes() {
    let name = "Jobs of the first models answer quickly";
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 2_000);
    let project = dir.path().join("project.toml");
    let mut toml = std::fs::read_to_string(&project).unwrap();
    toml.push_str(
        "\n[[validations]]\nname = \"Impossible budget\"\ntable = \"ml_models\"\nkind = \"query_time\"\nsql = \"SELECT COUNT(*) FROM ml_models\"\nmax_ms = 0.000001\n",
    );
    std::fs::write(&project, toml).unwrap();
    let out = cmd(dir.path(), &["run", "--headless", "--accept-above", "0.95"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let checks = json["validation"].as_array().unwrap();
    let by_name = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap();
    // The sample's own: timed after training_jobs loaded, before its index
    // on model_uuid was built, and again after the run.
    let q = by_name(name);
    assert_eq!(q["status"], "passed", "{q}");
    assert!(q["counts"]["before_us"].as_i64().unwrap() > 0, "{q}");
    assert!(q["counts"]["after_us"].as_i64().unwrap() > 0, "{q}");
    assert!(
        q["message"]
            .as_str()
            .unwrap()
            .contains("ms before the changes"),
        "{q}"
    );
    // The declared limit is enforced.
    let over = by_name("Impossible budget");
    assert_eq!(over["status"], "failed", "{over}");
    assert!(
        over["message"]
            .as_str()
            .unwrap()
            .contains("over its limit of")
    );
    // The timing before the changes is in the event log, ahead of the
    // index it measured without.
    let log = cmd(dir.path(), &["log", "--json"]);
    let events: Vec<Json> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let timed = events
        .iter()
        .find(|e| e["kind"] == "query_timed" && e["detail"]["validation"] == name)
        .expect("a query_timed event");
    assert!(timed["detail"]["median_ms"].as_f64().unwrap() > 0.0);
    let index = events
        .iter()
        .find(|e| {
            e["kind"] == "ddl_applied"
                && e["detail"]["recommendation"] == "index:training_jobs.model_uuid"
        })
        .expect("the index on training_jobs.model_uuid was applied");
    assert!(timed["id"].as_i64() < index["id"].as_i64());

    // A query_time validation needs its query.
    let bad = tempfile::tempdir().unwrap();
    common::sample(bad.path(), 100);
    let p = bad.path().join("project.toml");
    let mut toml = std::fs::read_to_string(&p).unwrap();
    toml.push_str(
        "\n[[validations]]\nname = \"No query\"\ntable = \"ml_models\"\nkind = \"query_time\"\n",
    );
    std::fs::write(&p, toml).unwrap();
    let out = cmd(bad.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("validation kind \"query_time\" needs sql"),
        "{}",
        text(&out)
    );
}

/// A completed run undone back to its first batch: the next run resumes it.
async fn interrupted(dir: &Path) -> String {
    common::sample(dir, 300);
    let out = cmd(dir, &["run", "--headless"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let db = common::open_sqlite(&dir.join("platform.db")).await;
    let first_batch = common::query(
        &db,
        "SELECT MIN(id) FROM flightdeck_events WHERE kind = 'batch_committed'",
    )
    .await[0][0]
        .render();
    db.close().await;
    let rb = common::flightdeck(dir)
        .args(["rollback", "--yes", "--to", &first_batch])
        .arg(dir.join("project.toml"))
        .output()
        .unwrap();
    assert!(rb.status.success(), "{}", text(&rb));
    json["run_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_accepts_comment_and_layout_changes() {
    let dir = tempfile::tempdir().unwrap();
    let run_id = interrupted(dir.path()).await;
    let project = dir.path().join("project.toml");
    let text0 = std::fs::read_to_string(&project).unwrap();
    let edited = format!(
        "# reviewed by the operator before resuming\n\n{}",
        text0
            .replace("threshold = 0.85", "threshold    =    0.85   # unchanged")
            .replace("\n[[tables]]\n", "\n\n\n[[tables]]   # a table\n")
    );
    assert_ne!(edited, text0);
    std::fs::write(&project, edited).unwrap();
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run_id"], run_id.as_str(), "the same run resumed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_whose_mapping_changed_is_refused_naming_the_change() {
    let dir = tempfile::tempdir().unwrap();
    interrupted(dir.path()).await;
    let project = dir.path().join("project.toml");
    let text0 = std::fs::read_to_string(&project).unwrap();
    let edited = text0
        .replace("D = \"Draft\"", "D = \"Drafted\"")
        .replace("threshold = 0.85", "threshold = 0.9");
    std::fs::write(&project, edited).unwrap();
    let out = cmd(dir.path(), &["run", "--headless"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("table models, field deployment_status: map changed"),
        "{err}"
    );
    assert!(
        err.contains("table models, field algorithm_type: threshold changed (0.85 → 0.9)"),
        "{err}"
    );
    assert!(!err.contains("table datasets"), "{err}");
    // Putting the file back makes the resume acceptable again.
    std::fs::write(&project, text0).unwrap();
    assert_eq!(
        cmd(dir.path(), &["run", "--headless"]).status.code(),
        Some(0)
    );
}

//! Shared fixtures for the cockpit tests: the AI-research sample as plain data,
//! a scripted run, and helpers that press keys by action name.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use crossterm::event::KeyEvent;
use flightdeck::eventlog::EventRecord;
use flightdeck::pipeline::{
    RunEvent, RunState, RunSummary, SampleRow, TablePlan, TableProgress, TableSummary,
};
use flightdeck::timeline::Plan;
use flightdeck::tui::{Action, App, Cmd, CockpitInput, Keymap, Msg, Theme};
use flightdeck::tui::{FieldView, TableView};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn field(source: Option<&str>, rule: &str, target: &str, ty: &str) -> FieldView {
    FieldView {
        source: source.map(str::to_string),
        rule: rule.into(),
        target: target.into(),
        target_type: ty.into(),
    }
}

pub fn tables() -> Vec<TableView> {
    vec![
        TableView {
            source: "models".into(),
            target: "ml_models".into(),
            fields: vec![
                field(Some("model_id"), "uuid_key", "model_uuid", "UUID"),
                field(Some("model_id"), "rename", "original_source_id", "BIGINT"),
                field(
                    Some("dataset_id"),
                    "foreign_key",
                    "training_dataset_uuid",
                    "UUID",
                ),
                field(Some("owner_id"), "lookup", "owner_user_id", "UUID"),
                field(Some("algo_type"), "canonicalize", "algorithm", "TEXT"),
                field(Some("status"), "value_map", "lifecycle_status", "TEXT"),
                field(
                    Some("accuracy_score"),
                    "cast",
                    "primary_metric_value",
                    "DOUBLE",
                ),
                field(Some("file_path"), "rewrite", "artifact_uri", "TEXT"),
                field(Some("created_at"), "to_utc", "created_at_utc", "TIMESTAMP"),
                field(Some("notes"), "template", "notes", "TEXT"),
            ],
        },
        TableView {
            source: "datasets".into(),
            target: "data_sources".into(),
            fields: vec![
                field(Some("dataset_id"), "uuid_key", "data_source_uuid", "UUID"),
                field(Some("name"), "rename", "display_name", "TEXT"),
            ],
        },
        TableView {
            source: "training_runs".into(),
            target: "training_jobs".into(),
            fields: vec![field(Some("run_id"), "uuid_key", "job_uuid", "UUID")],
        },
        TableView {
            source: "experiments".into(),
            target: "experiment_logs".into(),
            fields: vec![field(None, "template", "source_system", "TEXT")],
        },
        TableView {
            source: "metrics".into(),
            target: "model_performance".into(),
            fields: vec![field(Some("value"), "cast", "metric_value", "DOUBLE")],
        },
    ]
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn input_with(theme: Theme, read_only: bool) -> CockpitInput {
    CockpitInput {
        project_name: "AI research consolidation".into(),
        source_display: "sqlite://legacy.db".into(),
        target_display: "postgres://migrator:***@db.internal/platform".into(),
        tables: tables(),
        timeline: Plan::build::<&str>(date("2025-03-03"), &[], &[date("2025-03-10")]),
        read_only,
        theme,
        keymap: Keymap::default(),
        autostart: false,
        pace: None,
    }
}

/// A fresh cockpit with a fixed "today" (the execution day) and a fixed clock.
pub fn app() -> App {
    app_with(Theme::built_in("dark").unwrap(), false)
}

pub fn app_with(theme: Theme, read_only: bool) -> App {
    let mut app = App::new(input_with(theme, read_only));
    app.today = date("2025-03-20");
    app.update(Msg::Tick(t0()));
    app
}

/// A fixed origin for the cockpit clock, so elapsed time is reproducible.
pub fn t0() -> Instant {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

pub fn at(secs: u64) -> Msg {
    Msg::Tick(t0() + Duration::from_secs(secs))
}

/// Presses the first key bound to `action`, as a user would.
pub fn press(app: &mut App, action: Action) -> Vec<Cmd> {
    let key = *app
        .keymap
        .keys_for(action)
        .first()
        .unwrap_or_else(|| panic!("{} has no key", action.name()));
    app.update(Msg::Key(key.to_event()))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Msg::Key(KeyEvent::from(crossterm::event::KeyCode::Char(c))));
    }
}

pub fn plans() -> Vec<TablePlan> {
    let t = |s: &str, t: &str, rows| TablePlan {
        source: s.into(),
        target: t.into(),
        source_rows: Some(rows),
        estimated: false,
        already_read: 0,
    };
    vec![
        t("datasets", "data_sources", 400),
        t("models", "ml_models", 20_000),
        t("training_runs", "training_jobs", 60_000),
        t("experiments", "experiment_logs", 12_000),
        t("metrics", "model_performance", 150_000),
    ]
}

pub fn started() -> RunEvent {
    RunEvent::Started {
        run_id: uuid::Uuid::nil(),
        tables: plans(),
        resumed: None,
    }
}

pub fn models_sample() -> SampleRow {
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    SampleRow {
        before: pairs(&[
            ("model_id", "1042"),
            ("algo_type", "random forrest"),
            ("status", "R"),
            ("accuracy_score", "91.5"),
            ("file_path", "/legacy/storage/models/v1/model_A.pkl"),
        ]),
        after: pairs(&[
            ("model_uuid", "6f1c2a4e-93b1-5d0e-8c7a-1b2c3d4e5f60"),
            ("algorithm", "Random Forest"),
            ("lifecycle_status", "Ready for Deployment"),
            ("primary_metric_value", "0.915"),
            (
                "artifact_uri",
                "s3://ai-artifacts-bucket/models/model_A/v1/model.pkl",
            ),
        ]),
        quarantined: None,
    }
}

pub fn progress(table: usize, read: u64, quarantined: u64, rate: f64) -> RunEvent {
    RunEvent::Progress {
        table,
        progress: TableProgress {
            read,
            written: read - quarantined,
            quarantined,
        },
        batch_size: 2000,
        rows_per_s: rate,
        sample: (table == 1).then(models_sample),
    }
}

/// A run part-way through: datasets done, models mid-way, with throughput history.
pub fn mid_run(app: &mut App) {
    app.update(Msg::Run(started()));
    app.update(Msg::Run(RunEvent::TableStarted { table: 0 }));
    app.update(Msg::Run(RunEvent::TableFinished {
        table: 0,
        progress: TableProgress {
            read: 400,
            written: 398,
            quarantined: 2,
        },
    }));
    app.update(Msg::Run(RunEvent::TableStarted { table: 1 }));
    for i in 1..=40u64 {
        let rate = 8_000.0 + ((i * 37) % 11) as f64 * 400.0;
        app.update(Msg::Run(progress(1, i * 300, i / 4, rate)));
    }
    app.update(at(83));
}

pub fn summary(status: RunState) -> RunSummary {
    RunSummary {
        status,
        run_id: uuid::Uuid::nil().to_string(),
        elapsed_s: 90.0,
        tables: plans()
            .into_iter()
            .map(|p| TableSummary {
                source: p.source,
                target: p.target,
                read: p.source_rows.unwrap_or(0),
                written: p.source_rows.unwrap_or(0) - 5,
                quarantined: 5,
                rows_per_s: 9000.0,
                elapsed_s: 10.0,
            })
            .collect(),
        recommendations: Vec::new(),
    }
}

pub fn records(n: i64) -> Vec<EventRecord> {
    (1..=n)
        .map(|id| {
            let (kind, inverse) = match id {
                1 => ("run_started", vec![]),
                2 => (
                    "table_created",
                    vec!["DROP TABLE flightdeck_quarantine_ml_models".to_string()],
                ),
                _ => (
                    "batch_committed",
                    vec![format!(
                        "DELETE FROM ml_models WHERE original_source_id BETWEEN {} AND {}",
                        (id - 3) * 2000 + 1,
                        (id - 2) * 2000
                    )],
                ),
            };
            EventRecord {
                id,
                run_id: uuid::Uuid::nil(),
                at: Utc.with_ymd_and_hms(2025, 3, 19, 9, 0, 0).unwrap()
                    + chrono::Duration::seconds(id * 3),
                kind: kind.into(),
                table: (id > 1).then(|| "ml_models".to_string()),
                summary: format!("event number {id} of the run"),
                detail: serde_json::json!({ "batch": id }),
                inverse,
                inverse_elided: 0,
            }
        })
        .collect()
}

/// Renders `app` into a fresh test terminal of the given size.
pub fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| flightdeck::tui::draw(frame, app))
        .unwrap();
    terminal
}

/// Checks of one phase, one of each status, with SQL and example rows.
pub fn checks(phase: flightdeck::validate::Phase) -> Vec<flightdeck::validate::CheckResult> {
    use flightdeck::validate::{CheckResult, CheckStatus, Phase};
    let (models, metrics) = match phase {
        Phase::Pre => ("models", "metrics"),
        Phase::Post => ("ml_models", "model_performance"),
    };
    let check = |table: &str,
                 name: &str,
                 status,
                 message: &str,
                 counts: &[(&str, i64)],
                 sql: &[&str],
                 examples: &[&str]| CheckResult {
        name: format!("{table}: {name}"),
        phase,
        table: Some(table.to_string()),
        status,
        message: message.to_string(),
        counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        sql: sql.iter().map(|s| s.to_string()).collect(),
        examples: examples.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        check(
            models,
            "volume",
            CheckStatus::Passed,
            "20000 rows",
            &[("rows", 20_000)],
            &["SELECT COUNT(*) FROM \"models\""],
            &[],
        ),
        check(
            models,
            "key uniqueness",
            CheckStatus::Passed,
            "no duplicate or NULL keys in 20000 rows",
            &[("duplicate_keys", 0), ("null_keys", 0)],
            &[
                "SELECT \"model_id\", COUNT(*) FROM \"models\" GROUP BY \"model_id\" HAVING COUNT(*) > 1",
            ],
            &[],
        ),
        check(
            models,
            "status in value_map",
            CheckStatus::Warning,
            "3 rows hold a status outside the map; they will be quarantined",
            &[("offending", 3), ("rows", 20_000)],
            &[
                "SELECT COUNT(*) FROM \"models\" WHERE \"status\" NOT IN ('R', 'D', 'A')",
                "SELECT \"model_id\", \"status\" FROM \"models\" WHERE \"status\" NOT IN ('R', 'D', 'A') LIMIT 5",
            ],
            &[
                "model_id=17, status=X",
                "model_id=923, status=?",
                "model_id=4410, status=",
            ],
        ),
        check(
            metrics,
            "references models",
            CheckStatus::Failed,
            "12 rows point at a model that does not exist",
            &[("offending", 12), ("rows", 150_000)],
            &[
                "SELECT COUNT(*) FROM \"metrics\" m LEFT JOIN \"models\" p ON p.\"model_id\" = m.\"model_id\" WHERE p.\"model_id\" IS NULL",
            ],
            &[
                "metric_id=88, model_id=99001",
                "metric_id=89, model_id=99001",
                "metric_id=412, model_id=99017",
                "metric_id=5001, model_id=99020",
                "metric_id=5002, model_id=99020",
            ],
        ),
        check(
            "experiments",
            "volume",
            CheckStatus::Skipped,
            "the table is empty",
            &[("rows", 0)],
            &["SELECT COUNT(*) FROM \"experiments\""],
            &[],
        ),
    ]
}

/// A plan undoing a whole run: two created tables, three batches, a DDL change.
pub fn rollback_plan(to: Option<i64>) -> flightdeck::eventlog::rollback::RollbackPlan {
    use flightdeck::eventlog::rollback::{RollbackPlan, RunOutcome, UndoStep};
    let step =
        |id: i64, kind: &str, table: &str, statements: &[&str], rows, quarantined| UndoStep {
            event_id: id,
            run_id: uuid::Uuid::nil(),
            kind: kind.into(),
            table: Some(table.into()),
            summary: format!("event {id} on {table}"),
            statements: statements.iter().map(|s| s.to_string()).collect(),
            deferred: 0,
            outside_transaction: false,
            skipped: vec![],
            rows,
            quarantined,
            checkpoint: None,
        };
    RollbackPlan {
        to,
        steps: vec![
            step(
                7,
                "ddl_applied",
                "ml_models",
                &["ALTER TABLE \"ml_models\" DROP CONSTRAINT \"ml_models_status_check\""],
                0,
                0,
            ),
            step(6, "batch_committed", "ml_models", &[], 1_990, 10),
            step(5, "batch_committed", "ml_models", &[], 2_000, 0),
            step(4, "batch_committed", "data_sources", &[], 398, 2),
            step(
                3,
                "table_created",
                "ml_models",
                &["DROP TABLE \"ml_models\""],
                0,
                0,
            ),
            step(
                2,
                "table_created",
                "data_sources",
                &["DROP TABLE \"data_sources\""],
                0,
                0,
            ),
        ],
        runs: vec![RunOutcome {
            run_id: uuid::Uuid::nil(),
            project: "AI research consolidation".into(),
            full: to.is_none(),
        }],
    }
}

/// One profiled column: `numbers` are (min, max, p50, p95, p99) for numeric ones.
#[allow(clippy::too_many_arguments)]
pub fn column_stats(
    name: &str,
    declared: &str,
    inferred: Option<&str>,
    count: u64,
    nulls: u64,
    distinct: u64,
    text: (Option<&str>, Option<&str>, u64),
    numbers: Option<(f64, f64, f64, f64, f64)>,
    histogram: &[u64],
) -> flightdeck::profile::ColumnStats {
    use flightdeck::profile::{ColumnStats, Monotonic, Side};
    let n = |i: usize| numbers.map(|v| [v.0, v.1, v.2, v.3, v.4][i]);
    ColumnStats {
        name: name.into(),
        side: Side::Target,
        declared_type: declared.into(),
        count,
        nulls,
        distinct,
        min: text.0.map(str::to_string).or(n(0).map(|x| x.to_string())),
        max: text.1.map(str::to_string).or(n(1).map(|x| x.to_string())),
        min_number: n(0),
        max_number: n(1),
        mean: n(2),
        stddev: numbers.map(|v| (v.3 - v.2) / 2.0),
        p50: n(2),
        p95: n(3),
        p99: n(4),
        top: Vec::new(),
        domain: None,
        max_len: text.2,
        inferred_type: inferred.map(str::to_string),
        monotonic: Monotonic::Unknown,
        nulls_stable_for: count,
        extremes_stable_for: count / 2,
        domain_stable_for: count / 2,
        outliers: 0,
        outlier_examples: Vec::new(),
        rule_min: None,
        rule_max: None,
        out_of_rule: 0,
        out_of_rule_examples: Vec::new(),
        histogram: histogram.to_vec(),
    }
}

/// A live profile of ml_models: a clean key, a status with a small domain, a
/// metric with outliers and values outside its 0–1 rule, and a growth forecast.
pub fn models_profile() -> flightdeck::profile::TableProfileSnapshot {
    use flightdeck::profile::growth::GrowthForecast;
    use flightdeck::profile::{Monotonic, Side, TableProfileSnapshot, TopValue};
    let mut id = column_stats(
        "original_source_id",
        "BIGINT",
        Some("int"),
        12_000,
        0,
        12_000,
        (None, None, 0),
        Some((1.0, 12_000.0, 6_000.0, 11_400.0, 11_880.0)),
        &[750; 16],
    );
    id.monotonic = Monotonic::StrictlyIncreasing;
    let mut name = column_stats(
        "model_name",
        "TEXT",
        None,
        12_000,
        0,
        11_874,
        (Some("alpha-bert-001"), Some("zeta-vit-977"), 42),
        None,
        &[],
    );
    name.top = vec![TopValue {
        value: "baseline".into(),
        count: 31,
    }];
    let mut status = column_stats(
        "lifecycle_status",
        "TEXT",
        None,
        12_000,
        0,
        4,
        (Some("Archived"), Some("Ready for Deployment"), 20),
        None,
        &[],
    );
    status.top = [
        "Ready for Deployment",
        "In Training",
        "Deprecated",
        "Archived",
    ]
    .iter()
    .zip([5_400, 3_600, 2_040, 960])
    .map(|(v, count)| TopValue {
        value: v.to_string(),
        count,
    })
    .collect();
    status.domain = Some(vec![
        "Archived".into(),
        "Deprecated".into(),
        "In Training".into(),
        "Ready for Deployment".into(),
    ]);
    status.domain_stable_for = 11_990;
    let mut metric = column_stats(
        "primary_metric_value",
        "DOUBLE",
        Some("float"),
        12_000,
        118,
        9_204,
        (None, None, 0),
        Some((0.12, 87.5, 0.84, 0.97, 0.99)),
        &[
            2, 5, 11, 30, 64, 120, 260, 540, 980, 1_600, 2_300, 2_700, 2_100, 900, 250, 18,
        ],
    );
    metric.outliers = 3;
    metric.outlier_examples = vec!["87.5".into(), "91".into(), "64.2".into()];
    metric.rule_min = Some(0.0);
    metric.rule_max = Some(1.0);
    metric.out_of_rule = 3;
    metric.out_of_rule_examples = metric.outlier_examples.clone();
    metric.nulls_stable_for = 2_400;
    let dataset = column_stats(
        "training_dataset_uuid",
        "UUID",
        Some("uuid"),
        12_000,
        0,
        398,
        (
            Some("0a1b2c3d-0000-5000-8000-000000000001"),
            Some("ff0e1d2c-0000-5000-8000-000000000398"),
            36,
        ),
        None,
        &[],
    );
    let mut created = column_stats(
        "created_at_utc",
        "TEXT",
        Some("datetime"),
        12_000,
        0,
        11_990,
        (Some("2021-01-04 08:00:00"), Some("2025-02-28 17:42:10"), 19),
        None,
        &[],
    );
    created.monotonic = Monotonic::Increasing;
    let mut accuracy = column_stats(
        "accuracy_score",
        "REAL",
        None,
        12_000,
        118,
        870,
        (None, None, 0),
        Some((12.0, 99.9, 84.0, 97.0, 99.0)),
        &[
            1, 0, 2, 4, 9, 20, 44, 90, 200, 420, 900, 1_900, 3_100, 3_300, 1_600, 300,
        ],
    );
    accuracy.side = Side::Source;
    TableProfileSnapshot {
        source_table: "models".into(),
        table: "ml_models".into(),
        rows_seen: 12_000,
        rows_profiled: 12_000,
        sample: 1.0,
        columns: vec![id, name, status, metric, dataset, created, accuracy],
        growth: Some(GrowthForecast {
            days_observed: 1_516,
            rows_per_day: 7.9,
            trend_per_day: 0.002,
            rows_now: 12_000.0,
            rows_in_12_months: 14_900.0,
            low: 13_800.0,
            high: 16_100.0,
        }),
    }
}

/// The first table, done: two columns and no forecast.
pub fn sources_profile() -> flightdeck::profile::TableProfileSnapshot {
    flightdeck::profile::TableProfileSnapshot {
        source_table: "datasets".into(),
        table: "data_sources".into(),
        rows_seen: 400,
        rows_profiled: 400,
        sample: 1.0,
        columns: vec![
            column_stats(
                "data_source_uuid",
                "UUID",
                Some("uuid"),
                400,
                0,
                400,
                (Some("0a1b"), Some("ff0e"), 36),
                None,
                &[],
            ),
            column_stats(
                "display_name",
                "TEXT",
                None,
                400,
                12,
                388,
                (Some("ImageNet-1k"), Some("wiki-2023"), 64),
                None,
                &[],
            ),
        ],
        growth: None,
    }
}

/// A queue in every state, deliberately out of score order.
pub fn recommendations() -> Vec<flightdeck::recommend::Recommendation> {
    use flightdeck::recommend::{
        Change, Recommendation, RecommendationKind as K, RecommendationState as S,
    };
    let rec = |kind: K,
               table: &str,
               column: &str,
               change: Change,
               confidence: f64,
               state: S,
               evidence: &str,
               forward: &str,
               inverse: &str| Recommendation {
        id: format!("{}:{table}.{column}", kind.name()),
        kind,
        table: table.into(),
        column: column.into(),
        change,
        confidence,
        benefit: "the database enforces what the data already shows".into(),
        cost: "one validating scan of the table".into(),
        cost_rows: 12_000,
        evidence: evidence.into(),
        forward: vec![forward.into()],
        inverse: vec![inverse.into()],
        state,
        decided_by: matches!(state, S::Applied).then(|| "operator".to_string()),
        note: matches!(state, S::Withdrawn)
            .then(|| "118 NULLs arrived after 2,400 clean rows".to_string()),
    };
    vec![
        rec(
            K::Index,
            "ml_models",
            "training_dataset_uuid",
            Change::Index,
            0.9,
            S::Applied,
            "foreign key to data_sources; 398 distinct values in 12,000 rows",
            "CREATE INDEX \"ix_ml_models_training_dataset_uuid\" ON \"ml_models\" (\"training_dataset_uuid\")",
            "DROP INDEX \"ix_ml_models_training_dataset_uuid\"",
        ),
        rec(
            K::NotNull,
            "ml_models",
            "primary_metric_value",
            Change::NotNull,
            0.0,
            S::Withdrawn,
            "118 NULLs in 12,000 rows",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"primary_metric_value\" SET NOT NULL",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"primary_metric_value\" DROP NOT NULL",
        ),
        rec(
            K::NotNull,
            "ml_models",
            "model_name",
            Change::NotNull,
            0.97,
            S::Pending,
            "0 NULLs in 12,000 rows; stable for the last 12,000",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"model_name\" SET NOT NULL",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"model_name\" DROP NOT NULL",
        ),
        rec(
            K::Check,
            "ml_models",
            "lifecycle_status",
            Change::Check {
                values: vec!["Archived".into(), "Deprecated".into()],
            },
            0.93,
            S::Pending,
            "4 distinct values in 12,000 rows; no new value in the last 11,990",
            "ALTER TABLE \"ml_models\" ADD CONSTRAINT \"ck_ml_models_lifecycle_status\" CHECK (\"lifecycle_status\" IN ('Archived', 'Deprecated', 'In Training', 'Ready for Deployment'))",
            "ALTER TABLE \"ml_models\" DROP CONSTRAINT \"ck_ml_models_lifecycle_status\"",
        ),
        rec(
            K::NarrowType,
            "ml_models",
            "created_at_utc",
            Change::NarrowType {
                from: "TEXT".into(),
                to: "TIMESTAMP".into(),
            },
            0.88,
            S::Deferred,
            "all 12,000 values parse as datetime",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"created_at_utc\" TYPE TIMESTAMP",
            "ALTER TABLE \"ml_models\" ALTER COLUMN \"created_at_utc\" TYPE TEXT",
        ),
        rec(
            K::Unique,
            "data_sources",
            "display_name",
            Change::Unique,
            0.41,
            S::Rejected,
            "388 distinct values in 388 non-NULL rows",
            "CREATE UNIQUE INDEX \"ux_data_sources_display_name\" ON \"data_sources\" (\"display_name\")",
            "DROP INDEX \"ux_data_sources_display_name\"",
        ),
    ]
}

/// Feeds two table profiles and the recommendation queue, as the pipeline does.
pub fn profiled(app: &mut App) {
    app.update(Msg::Run(RunEvent::Profiled(sources_profile())));
    app.update(Msg::Run(RunEvent::Profiled(models_profile())));
    app.update(Msg::Run(RunEvent::Recommendations(recommendations())));
}

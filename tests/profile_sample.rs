//! Profiling, recommendations and live evolution on the ai-research sample,
//! through the library (no binary): what is recommended must hold in the data,
//! and what is accepted must be in the target schema and the event log.

mod common;

use std::sync::Arc;

use flightdeck::pipeline::{self, RunEvent, RunOptions, RunState};
use flightdeck::profile::{Side, TableProfileSnapshot};
use flightdeck::recommend::{Change, Recommendation, RecommendationState};
use flightdeck::sample::SampleOptions;

async fn run(rows: u64, accept_above: Option<f64>) -> (tempfile::TempDir, Vec<RunEvent>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = SampleOptions {
        rows,
        seed: 7,
        force: false,
    };
    let s = flightdeck::sample::install("ai-research", dir.path(), &opts)
        .await
        .unwrap();
    let project = flightdeck::project::load(&s.project_file).unwrap();
    let prepared = pipeline::prepare(Arc::new(project), true).await.unwrap();
    let mut h = pipeline::spawn(
        prepared,
        RunOptions {
            accept_above,
            ..RunOptions::default()
        },
    );
    let mut events = Vec::new();
    while let Some(e) = h.events.recv().await {
        events.push(e);
    }
    (dir, events)
}

fn find<'a>(recs: &'a [Recommendation], id: &str) -> &'a Recommendation {
    recs.iter().find(|r| r.id == id).unwrap_or_else(|| {
        panic!(
            "no {id} among {:?}",
            recs.iter().map(|r| &r.id).collect::<Vec<_>>()
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_recommendations_hold_and_accepted_ones_are_applied_during_the_run() {
    let (dir, events) = run(50_000, Some(0.9)).await;
    let summary = events
        .iter()
        .find_map(|e| match e {
            RunEvent::Finished(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no summary: {:?}", events.last()));
    assert_eq!(summary.status, RunState::Completed);
    assert!(events.iter().any(|e| matches!(e, RunEvent::Profiled(_))));

    // The plan comes uncounted; each table's count follows it, once, and
    // equals what the run read (a fresh run reads every source row).
    let started = events
        .iter()
        .position(|e| matches!(e, RunEvent::Started { .. }))
        .expect("a Started event");
    let RunEvent::Started { tables, .. } = &events[started] else {
        unreachable!()
    };
    assert!(tables.iter().all(|t| t.source_rows.is_none()), "{tables:?}");
    let mut counted = vec![None; tables.len()];
    for (at, e) in events.iter().enumerate() {
        if let RunEvent::Counted {
            table,
            source_rows,
            estimated: false,
        } = e
        {
            assert!(at > started, "Counted before Started");
            assert_eq!(counted[*table].replace(*source_rows), None, "counted twice");
        }
    }
    let read: Vec<Option<u64>> = summary.tables.iter().map(|t| Some(t.read)).collect();
    assert_eq!(counted, read);
    let recs = &summary.recommendations;

    // The ones the sample must produce.
    find(recs, "not_null:ml_models.model_name");
    let check = find(recs, "check:ml_models.deployment_status");
    assert_eq!(
        check.change,
        Change::Check {
            values: ["Active", "Draft", "Pending Review", "Ready for Deployment"]
                .map(String::from)
                .to_vec()
        }
    );
    find(recs, "index:ml_models.training_dataset_uuid");
    assert!(
        recs.iter().any(|r| r.id.starts_with("narrow_type:")),
        "no narrower type"
    );
    for r in recs {
        assert!(
            (0.0..=1.0).contains(&r.confidence),
            "{}: {}",
            r.id,
            r.confidence
        );
        assert!(!r.evidence.is_empty(), "{}: no evidence", r.id);
    }

    // Nothing recommended (and not withdrawn) is violated by the loaded data.
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    for r in recs
        .iter()
        .filter(|r| r.state != RecommendationState::Withdrawn)
    {
        let (t, c) = (&r.table, &r.column);
        let bad = match &r.change {
            Change::NotNull => format!("SELECT COUNT(*) FROM \"{t}\" WHERE \"{c}\" IS NULL"),
            Change::Check { values } => format!(
                "SELECT COUNT(*) FROM \"{t}\" WHERE \"{c}\" NOT IN ({})",
                values
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Change::Unique => format!(
                "SELECT COUNT(*) FROM (SELECT \"{c}\" FROM \"{t}\" GROUP BY \"{c}\" HAVING COUNT(*) > 1)"
            ),
            Change::NarrowType { to, .. } if to.starts_with("varchar(") => {
                let n: String = to.chars().filter(char::is_ascii_digit).collect();
                format!("SELECT COUNT(*) FROM \"{t}\" WHERE length(\"{c}\") > {n}")
            }
            Change::NarrowType { to, .. } if to == "int" => format!(
                "SELECT COUNT(*) FROM \"{t}\" WHERE \"{c}\" > 2147483647 OR \"{c}\" < -2147483648"
            ),
            _ => continue,
        };
        assert_eq!(
            common::query(&target, &bad).await[0][0].as_i64(),
            Some(0),
            "{} is violated",
            r.id
        );
    }

    // The seeded dirt is flagged, against the legacy rows themselves.
    let profiles: Vec<&TableProfileSnapshot> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Profiled(p) => Some(p),
            _ => None,
        })
        .collect();
    let last = |t: &str| *profiles.iter().rev().find(|p| p.table == t).unwrap();
    let models = last("ml_models");
    assert_eq!(
        models.rows_seen, 50_000,
        "the last profile covers the whole table"
    );
    let source = common::open_sqlite(&dir.path().join("legacy.db")).await;
    let q = |sql: &'static str| {
        let source = source.clone();
        async move { common::query(&source, sql).await[0][0].as_i64().unwrap() as u64 }
    };
    let acc = models.column(Side::Source, "accuracy_score").unwrap();
    assert_eq!(
        acc.out_of_rule,
        q("SELECT COUNT(*) FROM models WHERE accuracy_score < 0 OR accuracy_score > 1").await
    );
    // Robust outliers: at least every percentage (≥ 50 among fractions), never a plain fraction.
    assert!(acc.outliers >= q("SELECT COUNT(*) FROM models WHERE accuracy_score >= 50").await);
    assert!(acc.outliers <= acc.out_of_rule);
    for clean in ["primary_metric_value", "original_source_id"] {
        let c = models.column(Side::Target, clean).unwrap();
        assert_eq!(
            (c.outliers, c.out_of_rule),
            (0, 0),
            "{clean}: {:?}",
            c.outlier_examples
        );
    }
    let jobs = last("training_jobs");
    assert_eq!(jobs.column(Side::Target, "gpu_hours").unwrap().outliers, 0);
    let status = models.column(Side::Target, "deployment_status").unwrap();
    assert_eq!(status.nulls, 0);
    assert!(!status.domain_growing());
    // 50,000 models over the legacy years: the forecast is there and brackets its point.
    let g = models
        .growth
        .as_ref()
        .expect("growth forecast from created_at");
    assert!((g.rows_now - 50_000.0).abs() < 1.0, "{g:?}");
    assert!(
        g.low <= g.rows_in_12_months && g.rows_in_12_months <= g.high,
        "{g:?}"
    );
    assert!(g.rows_in_12_months > g.rows_now, "{g:?}");

    // Accepted at ≥ 0.9 and allowed: applied, in the schema, logged with an inverse.
    let applied: Vec<&Recommendation> = recs
        .iter()
        .filter(|r| {
            r.state == RecommendationState::Applied && r.decided_by.as_deref() != Some("project")
        })
        .collect();
    for id in [
        "check:ml_models.deployment_status",
        "index:ml_models.training_dataset_uuid",
    ] {
        assert!(
            applied.iter().any(|r| r.id == id),
            "{id} not applied: {:?}",
            find(recs, id)
        );
    }
    let schema = common::query(&target, "SELECT type, name, tbl_name FROM sqlite_master").await;
    let has = |kind: &str, name: &str| {
        schema
            .iter()
            .any(|r| r[0].render() == kind && r[1].render() == name)
    };
    let events = flightdeck::eventlog::store::read_events(target.as_ref(), None, 100_000)
        .await
        .unwrap();
    for r in &applied {
        assert!(
            r.decided_by
                .as_deref()
                .is_some_and(|d| d.starts_with("accept-above"))
        );
        assert!(r.confidence >= 0.9);
        match r.kind.name() {
            "index" => assert!(
                has("index", &format!("fd_ix_{}_{}", r.table, r.column)),
                "{}",
                r.id
            ),
            "unique" => assert!(
                has("index", &format!("fd_uq_{}_{}", r.table, r.column)),
                "{}",
                r.id
            ),
            "check" => assert!(
                has("trigger", &format!("fd_ck_{}_{}_i", r.table, r.column)),
                "{}",
                r.id
            ),
            "not_null" => assert!(
                has("trigger", &format!("fd_nn_{}_{}_i", r.table, r.column)),
                "{}",
                r.id
            ),
            "narrow_type" => {
                let Change::NarrowType { to, .. } = &r.change else {
                    unreachable!()
                };
                let info = target.table_info(&r.table).await.unwrap().unwrap();
                assert_eq!(
                    info.column(&r.column).unwrap().column_type.to_string(),
                    *to,
                    "{}",
                    r.id
                );
            }
            _ => {}
        }
        let e = events
            .iter()
            .find(|e| e.kind == "ddl_applied" && e.detail["recommendation"] == r.id.as_str())
            .unwrap_or_else(|| panic!("{} not in the event log", r.id));
        assert!(!e.inverse.is_empty(), "{} logged without inverse", r.id);
        assert_eq!(e.inverse, r.inverse);
    }
    // The applied index of ml_models was built at the end of its load, before
    // the run finished: its event precedes the last batch of a later table.
    let ix = events
        .iter()
        .find(|e| e.detail["recommendation"] == "index:ml_models.training_dataset_uuid")
        .unwrap();
    let last_batch = events
        .iter()
        .filter(|e| e.kind == "batch_committed")
        .map(|e| e.id)
        .max()
        .unwrap();
    assert!(ix.id < last_batch, "index applied only after the load");
}

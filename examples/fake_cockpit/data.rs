//! Plain sample data for the fake cockpit and the render benchmark.

use chrono::NaiveDate;
use flightdeck::pipeline::TablePlan;
use flightdeck::timeline::Plan;
use flightdeck::tui::{CockpitInput, FieldView, Keymap, TableView, Theme};

fn field(source: &str, rule: &str, target: &str, ty: &str) -> FieldView {
    FieldView {
        source: Some(source.to_string()),
        rule: rule.to_string(),
        target: target.to_string(),
        target_type: ty.to_string(),
    }
}

pub const TABLES: &[(&str, &str, u64)] = &[
    ("datasets", "data_sources", 2_000),
    ("models", "ml_models", 20_000),
    ("training_runs", "training_jobs", 60_000),
    ("experiments", "experiment_logs", 12_000),
    ("metrics", "model_performance", 150_000),
];

pub fn plans(scale: u64) -> Vec<TablePlan> {
    TABLES
        .iter()
        .map(|(s, t, rows)| TablePlan {
            source: s.to_string(),
            target: t.to_string(),
            source_rows: Some(rows / scale.max(1)),
            estimated: false,
            already_read: 0,
        })
        .collect()
}

pub fn input(theme: Theme, keymap: Keymap, autostart: bool) -> CockpitInput {
    let tables = TABLES
        .iter()
        .map(|(s, t, _)| TableView {
            source: s.to_string(),
            target: t.to_string(),
            fields: vec![
                field(
                    "id",
                    "uuid_key",
                    &format!("{}_uuid", t.trim_end_matches('s')),
                    "UUID",
                ),
                field("id", "rename", "original_source_id", "BIGINT"),
                field("status", "value_map", "lifecycle_status", "TEXT"),
                field("algo_type", "canonicalize", "algorithm", "TEXT"),
                field("created_at", "to_utc", "created_at_utc", "TIMESTAMP"),
                field("notes", "template", "notes", "TEXT"),
            ],
        })
        .collect();
    let start = chrono::Local::now().date_naive() - chrono::Days::new(14);
    let holiday = NaiveDate::from_ymd_opt(2025, 12, 25).expect("a real date");
    CockpitInput {
        project_name: "AI research consolidation (fake backend)".into(),
        source_display: "sqlite://legacy.db".into(),
        target_display: "sqlite://platform.db".into(),
        tables,
        timeline: Plan::build::<&str>(start, &[], &[holiday]),
        read_only: false,
        theme,
        keymap,
        autostart,
        pace: None,
    }
}

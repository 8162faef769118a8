//! The cockpit against a fake pipeline, for trying it in a real terminal:
//! `cargo run --example fake_cockpit [-- --autostart] [--theme NAME]`.
//! It exits with the final run state on stdout once the terminal is restored.

mod data;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use flightdeck::eventlog::EventRecord;
use flightdeck::eventlog::rollback::{RollbackPlan, RollbackProgress, RunOutcome, UndoStep};
use flightdeck::pipeline::{
    Command, RunControl, RunEvent, RunHandle, RunState, RunSummary, SampleRow, TablePlan,
    TableProgress, TableSummary,
};
use flightdeck::tui::{CockpitBackend, Keymap, RollbackUpdate, Theme};
use flightdeck::validate::{CheckResult, Phase};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};

#[derive(Default)]
struct FakeBackend {
    log: Arc<Mutex<Vec<EventRecord>>>,
}

impl CockpitBackend for FakeBackend {
    fn start_run(&self) -> RunHandle {
        let (control, commands) = RunControl::new();
        let (tx, events) = mpsc::channel(64);
        tokio::spawn(fake_run(commands, tx, self.log.clone()));
        RunHandle { control, events }
    }

    fn load_events(&self) -> BoxFuture<'static, Result<Vec<EventRecord>, String>> {
        let log = self.log.clone();
        Box::pin(async move { Ok(log.lock().map_err(|e| e.to_string())?.clone()) })
    }

    fn run_checks(
        &self,
        phase: Phase,
        _run: Option<uuid::Uuid>,
    ) -> BoxFuture<'static, Result<Vec<CheckResult>, String>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(checks(phase))
        })
    }

    /// Every logged event with an inverse and not undone yet, newest first.
    fn plan_rollback(&self, to: Option<i64>) -> BoxFuture<'static, Result<RollbackPlan, String>> {
        let log = self.log.clone();
        Box::pin(async move {
            let log = log.lock().map_err(|e| e.to_string())?;
            let steps: Vec<UndoStep> = log
                .iter()
                .rev()
                .filter(|e| !e.inverse.is_empty() && to.is_none_or(|t| e.id > t))
                .map(|e| UndoStep {
                    event_id: e.id,
                    run_id: e.run_id,
                    kind: e.kind.clone(),
                    table: e.table.clone(),
                    summary: e.summary.clone(),
                    statements: e.inverse.clone(),
                    deferred: 0,
                    outside_transaction: false,
                    skipped: vec![],
                    rows: 500,
                    quarantined: 5,
                    checkpoint: None,
                })
                .collect();
            let runs = if steps.is_empty() {
                vec![]
            } else {
                vec![RunOutcome {
                    run_id: uuid::Uuid::nil(),
                    project: "AI research consolidation".into(),
                    full: to.is_none(),
                }]
            };
            Ok(RollbackPlan { to, steps, runs })
        })
    }

    fn start_rollback(
        &self,
        plan: RollbackPlan,
        stop: watch::Receiver<bool>,
    ) -> mpsc::Receiver<RollbackUpdate> {
        let (tx, rx) = mpsc::channel(16);
        let log = self.log.clone();
        tokio::spawn(async move {
            let total = plan.steps.len();
            let _ = tx
                .send(RollbackUpdate::Progress(RollbackProgress::Started {
                    rollback_id: uuid::Uuid::nil(),
                    steps: total,
                }))
                .await;
            for (i, step) in plan.steps.iter().enumerate() {
                if *stop.borrow() {
                    let why = format!("stopped on request after {i} of {total} steps");
                    let _ = tx.send(RollbackUpdate::Failed(why)).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
                if let Ok(mut log) = log.lock() {
                    log.retain(|e| e.id != step.event_id);
                }
                let _ = tx
                    .send(RollbackUpdate::Progress(RollbackProgress::Step {
                        done: i + 1,
                        total,
                        event_id: step.event_id,
                        summary: step.summary.clone(),
                    }))
                    .await;
            }
            let _ = tx
                .send(RollbackUpdate::Progress(RollbackProgress::Finished {
                    undone: total,
                }))
                .await;
        });
        rx
    }

    fn load_queue(
        &self,
    ) -> BoxFuture<'static, Result<flightdeck::evolve::after::CompletedQueue, String>> {
        Box::pin(async { Ok(None) })
    }

    fn decide_after_run(
        &self,
        _id: String,
        _decision: flightdeck::recommend::Decision,
    ) -> BoxFuture<'static, Result<flightdeck::evolve::after::Decided, String>> {
        Box::pin(async { Err("the fake pipeline keeps no queue after its run".to_string()) })
    }
}

fn log_event(
    log: &Mutex<Vec<EventRecord>>,
    kind: &str,
    table: Option<&str>,
    summary: String,
    inverse: Vec<String>,
) -> i64 {
    let mut log = log.lock().expect("the fake log is never poisoned");
    let id = log.len() as i64 + 1;
    log.push(EventRecord {
        id,
        run_id: uuid::Uuid::nil(),
        at: Utc::now(),
        kind: kind.to_string(),
        table: table.map(str::to_string),
        summary,
        detail: serde_json::json!({}),
        inverse,
        inverse_elided: 0,
    });
    id
}

/// Batches of 500 rows every 50 ms, obeying pause and cancel between batches.
async fn fake_run(
    mut commands: watch::Receiver<Command>,
    tx: mpsc::Sender<RunEvent>,
    log: Arc<Mutex<Vec<EventRecord>>>,
) {
    let plans = data::plans(1);
    let started = Instant::now();
    // As the pipeline does: the plan first, its row counts right after.
    let uncounted = plans
        .iter()
        .map(|p| TablePlan {
            source_rows: None,
            ..p.clone()
        })
        .collect();
    let _ = tx
        .send(RunEvent::Started {
            run_id: uuid::Uuid::nil(),
            tables: uncounted,
            resumed: None,
        })
        .await;
    for (table, plan) in plans.iter().enumerate() {
        let source_rows = plan.source_rows.unwrap_or(0);
        let _ = tx
            .send(RunEvent::Counted {
                table,
                source_rows,
                estimated: false,
            })
            .await;
    }
    let mut totals = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let _ = tx.send(RunEvent::TableStarted { table: i }).await;
        let mut progress = TableProgress::default();
        let total = plan.source_rows.unwrap_or(0);
        while progress.read < total {
            let command = *commands.borrow_and_update();
            match command {
                Command::Cancel => {
                    let _ = tx.send(RunEvent::StateChanged(RunState::Cancelled)).await;
                    let _ = tx
                        .send(RunEvent::Finished(summary(
                            RunState::Cancelled,
                            started,
                            totals,
                        )))
                        .await;
                    return;
                }
                Command::Pause => {
                    let _ = tx.send(RunEvent::StateChanged(RunState::Paused)).await;
                    while *commands.borrow_and_update() == Command::Pause {
                        if commands.changed().await.is_err() {
                            return;
                        }
                    }
                    if *commands.borrow() == Command::Run {
                        let _ = tx.send(RunEvent::StateChanged(RunState::Running)).await;
                    }
                    continue;
                }
                Command::Run => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let batch = 500.min(total - progress.read);
            let first = progress.read + 1;
            progress.read += batch;
            progress.quarantined += batch / 97;
            progress.written = progress.read - progress.quarantined;
            let id = log_event(
                &log,
                "batch_committed",
                Some(&plan.target),
                format!("{} keys {first}..{}", plan.target, progress.read),
                vec![format!(
                    "DELETE FROM {} WHERE original_source_id BETWEEN {first} AND {}",
                    plan.target, progress.read
                )],
            );
            let _ = tx
                .send(RunEvent::Logged {
                    id,
                    kind: "batch_committed".into(),
                    summary: String::new(),
                })
                .await;
            let sample = SampleRow {
                before: vec![
                    ("id".into(), progress.read.to_string()),
                    ("status".into(), "R".into()),
                ],
                after: vec![
                    ("original_source_id".into(), progress.read.to_string()),
                    ("lifecycle_status".into(), "Ready for Deployment".into()),
                ],
                quarantined: None,
            };
            let _ = tx
                .send(RunEvent::Progress {
                    table: i,
                    progress: progress.clone(),
                    batch_size: 500,
                    rows_per_s: 9_000.0 + (progress.read % 7) as f64 * 300.0,
                    sample: Some(sample),
                })
                .await;
        }
        let _ = tx
            .send(RunEvent::TableFinished {
                table: i,
                progress: progress.clone(),
            })
            .await;
        totals.push((plan.clone(), progress));
    }
    let _ = tx
        .send(RunEvent::Finished(summary(
            RunState::Completed,
            started,
            totals,
        )))
        .await;
}

fn summary(
    status: RunState,
    started: Instant,
    totals: Vec<(flightdeck::pipeline::TablePlan, TableProgress)>,
) -> RunSummary {
    RunSummary {
        status,
        run_id: uuid::Uuid::nil().to_string(),
        elapsed_s: started.elapsed().as_secs_f64(),
        tables: totals
            .into_iter()
            .map(|(p, t)| TableSummary {
                source: p.source,
                target: p.target,
                read: t.read,
                written: t.written,
                quarantined: t.quarantined,
                rows_per_s: 0.0,
                elapsed_s: 0.0,
            })
            .collect(),
        recommendations: Vec::new(),
    }
}

#[tokio::main]
async fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let args: Vec<String> = std::env::args().collect();
    let autostart = args.iter().any(|a| a == "--autostart");
    let theme_name = args
        .iter()
        .position(|a| a == "--theme")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let theme = Theme::load(theme_name)?;
    let keymap = Keymap::load()?;
    let exit = flightdeck::tui::run(
        data::input(theme, keymap, autostart),
        Arc::new(FakeBackend::default()),
    )
    .await?;
    println!("final state: {:?}", exit.final_state);
    Ok(())
}

/// A few checks of each phase, one of each status.
fn checks(phase: flightdeck::validate::Phase) -> Vec<flightdeck::validate::CheckResult> {
    use flightdeck::validate::{CheckResult, CheckStatus};
    let check =
        |table: &str, name: &str, status, message: &str, counts: &[(&str, i64)]| CheckResult {
            name: format!("{table}: {name}"),
            phase,
            table: Some(table.to_string()),
            status,
            message: message.to_string(),
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sql: vec![format!("SELECT COUNT(*) FROM {table}")],
            examples: if status == CheckStatus::Passed {
                vec![]
            } else {
                vec![
                    "model_id=17, status=X".into(),
                    "model_id=42, status=Q".into(),
                ]
            },
        };
    vec![
        check(
            "models",
            "volume",
            CheckStatus::Passed,
            "20000 rows",
            &[("rows", 20_000)],
        ),
        check(
            "models",
            "key uniqueness",
            CheckStatus::Passed,
            "no duplicate keys",
            &[("duplicate_keys", 0)],
        ),
        check(
            "models",
            "status values",
            CheckStatus::Warning,
            "2 values outside the map will be quarantined",
            &[("offending", 2), ("rows", 20_000)],
        ),
        check(
            "metrics",
            "references models",
            CheckStatus::Failed,
            "12 orphan references",
            &[("offending", 12)],
        ),
    ]
}

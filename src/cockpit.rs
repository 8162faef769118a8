//! Opens the cockpit on a project: the bridge between the project, the
//! pipeline and the TUI, which knows neither.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::eventlog::rollback::{self, RollbackPlan, RollbackProgress};
use crate::eventlog::{EventRecord, lock, store};
use crate::pipeline::{self, Prepared, RunHandle, RunOptions, RunState};
use crate::project::Project;
use crate::tui::{
    self, CockpitBackend, CockpitInput, FieldView, Keymap, RollbackUpdate, TableView, Theme,
};
use crate::validate::{CheckResult, Phase};

#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub read_only: bool,
    pub theme: Option<String>,
    pub autostart: bool,
    pub pace: Option<f64>,
    /// Take over the target's lock when the process holding it is gone.
    pub take_over: bool,
}

/// Runs the real pipeline for the cockpit. Each start spawns a run over the
/// prepared project; a second start resumes from the checkpoints.
/// Every database task runs on the main runtime (`rt`); the cockpit's own
/// thread only awaits the results, so pipeline work never delays a redraw.
struct PipelineBackend {
    prepared: Prepared,
    options: RunOptions,
    rt: tokio::runtime::Handle,
}

impl PipelineBackend {
    fn on_main<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, String>> {
        let task = self.rt.spawn(fut);
        Box::pin(async move { task.await.map_err(|e| e.to_string())? })
    }
}

impl CockpitBackend for PipelineBackend {
    fn start_run(&self) -> RunHandle {
        let _main = self.rt.enter();
        pipeline::spawn(self.prepared.clone(), self.options.clone())
    }

    fn load_events(&self) -> BoxFuture<'static, Result<Vec<EventRecord>, String>> {
        let target = self.prepared.target.clone();
        self.on_main(async move {
            store::ensure_schema(target.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            store::list_events(target.as_ref(), 2_000)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn run_checks(
        &self,
        phase: Phase,
        run: Option<Uuid>,
    ) -> BoxFuture<'static, Result<Vec<CheckResult>, String>> {
        let p = self.prepared.clone();
        self.on_main(async move {
            Ok(match phase {
                Phase::Pre => {
                    crate::validate::run_pre(&p.project, p.source.as_ref(), &p.tables).await
                }
                Phase::Post => {
                    let run = run.ok_or("no completed run to check")?;
                    let run = run.to_string();
                    let rows = Default::default();
                    crate::cli::post_checks(&p.project, &p.source, &p.target, &p.tables, &run, rows)
                        .await
                }
            })
        })
    }

    fn plan_rollback(&self, to: Option<i64>) -> BoxFuture<'static, Result<RollbackPlan, String>> {
        let target = self.prepared.target.clone();
        self.on_main(async move {
            let db = target.as_ref();
            store::ensure_schema(db).await.map_err(|e| e.to_string())?;
            // Say who holds the target before asking for a confirmation that
            // could not be carried out.
            if let Some(holder) = lock::current(db).await.map_err(|e| e.to_string())? {
                return Err(lock::LockError::Held(holder).to_string());
            }
            rollback::plan(db, to).await.map_err(|e| e.to_string())
        })
    }

    fn start_rollback(
        &self,
        plan: RollbackPlan,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> mpsc::Receiver<RollbackUpdate> {
        let target = self.prepared.target.clone();
        let lock_wait =
            std::time::Duration::from_millis(self.prepared.project.file.evolution.lock_budget_ms);
        let (tx, rx) = mpsc::channel(64);
        self.rt.spawn(async move {
            let db = target.as_ref();
            let held = match lock::acquire(db, "rollback", false).await {
                Ok(held) => held,
                Err(e) => {
                    let _ = tx.send(RollbackUpdate::Failed(e.to_string())).await;
                    return;
                }
            };
            let result = execute_confirmed(db, &plan, &tx, lock_wait, stop).await;
            if let Err(e) = held.release(db).await {
                tracing::warn!(error = %e, "could not release the target lock");
            }
            // Said last, once the lock is free for the next run.
            let last = match result {
                Ok(undone) => RollbackUpdate::Progress(RollbackProgress::Finished { undone }),
                Err(e) => RollbackUpdate::Failed(e),
            };
            let _ = tx.send(last).await;
        });
        rx
    }

    fn load_queue(
        &self,
    ) -> BoxFuture<'static, Result<crate::evolve::after::CompletedQueue, String>> {
        let target = self.prepared.target.clone();
        let project = self.prepared.project.clone();
        self.on_main(async move {
            use crate::evolve::after::{self, AfterRunError};
            let db = target.as_ref();
            store::ensure_schema(db).await.map_err(|e| e.to_string())?;
            match after::completed_queue(db, project.name()).await {
                Ok(queue) => Ok(Some(queue)),
                // No completed run: nothing to decide on.
                Err(AfterRunError::Refused(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn decide_after_run(
        &self,
        id: String,
        decision: crate::recommend::Decision,
    ) -> BoxFuture<'static, Result<crate::evolve::after::Decided, String>> {
        use crate::evolve::after;
        let target = self.prepared.target.clone();
        let project = self.prepared.project.clone();
        self.on_main(async move {
            let decisions = after::Decisions {
                each: vec![(id, decision)],
                accept_above: None,
                by: "operator".into(),
            };
            after::decide(
                target.as_ref(),
                project.name(),
                project.file.evolution.clone(),
                &decisions,
                false,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }
}

/// Runs `plan` if, under the lock, it is still what the event log says: the
/// operator confirmed exactly this and nothing else.
async fn execute_confirmed(
    db: &dyn crate::db::Database,
    plan: &RollbackPlan,
    tx: &mpsc::Sender<RollbackUpdate>,
    lock_wait: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<usize, String> {
    let fresh = rollback::plan(db, plan.to)
        .await
        .map_err(|e| e.to_string())?;
    if fresh != *plan {
        return Err(
            "the event log changed since the plan was shown; nothing was undone, press R again to see the new plan"
                .into(),
        );
    }
    let (progress, mut updates) = mpsc::channel(256);
    let forward = async {
        while let Some(p) = updates.recv().await {
            if !matches!(p, RollbackProgress::Finished { .. }) {
                let _ = tx.send(RollbackUpdate::Progress(p)).await;
            }
        }
    };
    let (result, ()) = tokio::join!(
        rollback::execute(db, plan, progress, None, lock_wait, stop),
        forward
    );
    result.map_err(|e| e.to_string())
}

/// Whether a full-screen cockpit can be drawn here.
pub fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

fn table_views(project: &Project, prepared: &Prepared) -> Vec<TableView> {
    prepared
        .tables
        .iter()
        .map(|t| {
            let mapping = project
                .tables()
                .find(|m| m.source.get_ref() == t.source_table());
            let fields = mapping
                .map(|m| m.fields.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    let target = f.target.get_ref().clone();
                    let target_type = t
                        .target_columns()
                        .iter()
                        .find(|c| c.name == target)
                        .map(|c| c.column_type.to_string())
                        .unwrap_or_default();
                    FieldView {
                        source: f.source.as_ref().map(|s| s.get_ref().clone()),
                        rule: f
                            .rule
                            .as_ref()
                            .map(|r| r.get_ref().clone())
                            .unwrap_or_else(|| "copy".into()),
                        target,
                        target_type,
                    }
                })
                .collect();
            TableView {
                source: t.source_table().into(),
                target: t.target_table().into(),
                fields,
            }
        })
        .collect()
}

/// `flightdeck open` / `demo`: the full-screen cockpit. Returns the exit code.
pub async fn open(path: &Path, options: OpenOptions) -> i32 {
    use crate::cli::exit;
    let project = match crate::project::load(path) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            crate::tell!("{e}");
            return exit::USAGE;
        }
    };
    let theme = match Theme::load(options.theme.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            crate::tell!("flightdeck: {e}");
            return exit::USAGE;
        }
    };
    let keymap = match Keymap::load() {
        Ok(k) => k,
        Err(e) => {
            crate::tell!("flightdeck: {e}");
            return exit::USAGE;
        }
    };
    let prepared = match pipeline::prepare(project.clone(), true).await {
        Ok(p) => p,
        Err(e) => {
            crate::tell!("{e}");
            return e.exit_code();
        }
    };
    let input = CockpitInput {
        project_name: project.name().to_string(),
        source_display: project.source_url.redacted(),
        target_display: project.target_url.redacted(),
        tables: table_views(&project, &prepared),
        timeline: crate::timeline::for_project(&project),
        read_only: options.read_only,
        theme,
        keymap,
        autostart: options.autostart,
        pace: options.pace,
    };
    let target = prepared.target.clone();
    let backend = Arc::new(PipelineBackend {
        rt: tokio::runtime::Handle::current(),
        prepared,
        options: RunOptions {
            pace: options.pace,
            take_over: options.take_over,
            ..Default::default()
        },
    });
    // The cockpit gets a thread and runtime of its own: a redraw never waits
    // behind pipeline work on the main runtime's workers.
    let (done, ui) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("cockpit".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(color_eyre::Report::from)
                .and_then(|rt| rt.block_on(tui::run(input, backend)));
            let _ = done.send(result);
        });
    if let Err(e) = spawned {
        crate::tell!("flightdeck: cannot start the cockpit: {e}");
        return exit::RUNTIME;
    }
    let result = ui
        .await
        .unwrap_or_else(|_| Err(color_eyre::eyre::eyre!("the cockpit stopped unexpectedly")));
    match result {
        Ok(exit) => {
            if let Some(s) = &exit.summary {
                use crate::recommend::thousands;
                crate::tell!(
                    "{}: run {}, {} rows written, {} quarantined",
                    project.name(),
                    s.status.word(),
                    thousands(s.tables.iter().map(|t| t.written).sum::<u64>()),
                    thousands(s.tables.iter().map(|t| t.quarantined).sum::<u64>())
                );
            }
            if let Some(what) = &exit.left_early {
                let p = crate::headless::shell_word(&path.display().to_string());
                let resume = match exit.rollback_unfinished {
                    Some(_) => format!("flightdeck rollback {p}"),
                    None => format!("flightdeck run {p}"),
                };
                return crate::cli::leave_now(target.as_ref(), what, &resume).await;
            }
            if let Some(why) = &exit.rollback_unfinished {
                crate::tell!("flightdeck: rollback not finished: {why}");
                return exit::RUNTIME;
            }
            match exit.final_state {
                RunState::Failed => exit::RUNTIME,
                _ => exit::OK,
            }
        }
        Err(e) => {
            crate::tell!("flightdeck: {e}");
            exit::RUNTIME
        }
    }
}

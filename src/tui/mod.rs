//! The full-screen cockpit (SPEC §10). It takes plain data about the project and a
//! backend that starts runs and reads the event log, so it can be driven by the
//! real pipeline, by the demo, or by a fake in tests.

pub mod app;
pub mod checks;
pub mod event_list;
pub mod keymap;
mod panes;
pub mod profile_view;
pub mod recs_view;
pub mod rollback;
pub mod run_model;
mod runner;
pub mod theme;
pub mod ui;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use app::{App, Cmd, Layer, Msg, Signal, View};
pub use keymap::{ACTIONS, Action, Keymap};
pub use runner::run;
pub use theme::Theme;
pub use ui::{MIN_HEIGHT, MIN_WIDTH, draw};

use crate::eventlog::EventRecord;
use crate::eventlog::rollback::{RollbackPlan, RollbackProgress};
use crate::pipeline::{RunHandle, RunState, RunSummary};
use crate::validate::{CheckResult, Phase};

/// One field of a table mapping, as the Mapping view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldView {
    /// Source column; `None` for a computed field.
    pub source: Option<String>,
    /// The rule in the operator's words ("value_map", "rename", …).
    pub rule: String,
    pub target: String,
    pub target_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableView {
    pub source: String,
    pub target: String,
    pub fields: Vec<FieldView>,
}

/// Everything the cockpit shows that does not come from the run.
pub struct CockpitInput {
    pub project_name: String,
    /// Connection strings with passwords already redacted.
    pub source_display: String,
    pub target_display: String,
    pub tables: Vec<TableView>,
    pub timeline: crate::timeline::Plan,
    /// Hide and refuse actions that change the target.
    pub read_only: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    /// Start the run as soon as the cockpit is up (the demo).
    pub autostart: bool,
    /// Rows per second the run is slowed to (`--pace`), said beside its rate.
    pub pace: Option<f64>,
}

/// What the cockpit needs from the outside world.
pub trait CockpitBackend: Send + Sync + 'static {
    /// Starts (or resumes) the run; must return promptly.
    fn start_run(&self) -> RunHandle;
    /// The event log, in any order.
    fn load_events(&self) -> BoxFuture<'static, Result<Vec<EventRecord>, String>>;
    /// Pre-migration checks on the source, or post-migration checks of `run`
    /// on the target.
    fn run_checks(
        &self,
        phase: Phase,
        run: Option<Uuid>,
    ) -> BoxFuture<'static, Result<Vec<CheckResult>, String>>;
    /// What a rollback of the latest run (or back to event `to`) would undo;
    /// reads only.
    fn plan_rollback(&self, to: Option<i64>) -> BoxFuture<'static, Result<RollbackPlan, String>>;
    /// Runs a confirmed plan under the target lock; must return promptly. The
    /// channel carries progress and ends after `Finished` or `Failed`. Once
    /// `stop` turns true the rollback ends after the step it is on (`Failed`
    /// says where), releasing the lock.
    fn start_rollback(
        &self,
        plan: RollbackPlan,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> mpsc::Receiver<RollbackUpdate>;
    /// The latest completed run of the project and its recorded queue;
    /// `None` when there is none. Reads only.
    fn load_queue(
        &self,
    ) -> BoxFuture<'static, Result<crate::evolve::after::CompletedQueue, String>>;
    /// Records a decision on the completed run's recommendation `id` and
    /// applies it if accepted, under the target lock; the queue afterwards.
    fn decide_after_run(
        &self,
        id: String,
        decision: crate::recommend::Decision,
    ) -> BoxFuture<'static, Result<crate::evolve::after::Decided, String>>;
}

/// What a rollback started from the cockpit reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackUpdate {
    Progress(RollbackProgress),
    /// It did not start (the lock is held, the log changed since the plan was
    /// shown) or stopped part-way; what was undone stays undone.
    Failed(String),
}

/// How the cockpit ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CockpitExit {
    pub final_state: RunState,
    pub summary: Option<RunSummary>,
    /// Why the last rollback did not finish (stopped on the way out, or
    /// failed): the target is part-way back and rolling back again finishes.
    pub rollback_unfinished: Option<String>,
    /// Left before the run or rollback stopped: what was not committed.
    pub left_early: Option<String>,
}

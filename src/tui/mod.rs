//! The full-screen cockpit (SPEC §10). It takes plain data about the project and a
//! backend that starts runs and reads the event log, so it can be driven by the
//! real pipeline, by the demo, or by a fake in tests.

pub mod app;
pub mod event_list;
pub mod keymap;
mod panes;
pub mod run_model;
mod runner;
pub mod theme;
pub mod ui;

use futures::future::BoxFuture;

pub use app::{App, Cmd, Layer, Msg, Signal, View};
pub use keymap::{ACTIONS, Action, Keymap};
pub use runner::run;
pub use theme::Theme;
pub use ui::{MIN_HEIGHT, MIN_WIDTH, draw};

use crate::eventlog::EventRecord;
use crate::pipeline::{RunHandle, RunState, RunSummary};

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
}

/// What the cockpit needs from the outside world.
pub trait CockpitBackend: Send + Sync + 'static {
    /// Starts (or resumes) the run; must return promptly.
    fn start_run(&self) -> RunHandle;
    /// The event log, in any order.
    fn load_events(&self) -> BoxFuture<'static, Result<Vec<EventRecord>, String>>;
}

/// How the cockpit ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CockpitExit {
    pub final_state: RunState,
    pub summary: Option<RunSummary>,
}

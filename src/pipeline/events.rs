//! What a running migration reports, and how it is steered. The cockpit and the
//! headless runner both consume these; the pipeline throttles them at the source.

use serde::Serialize;
use tokio::sync::watch;
use uuid::Uuid;

use crate::recommend::Decision;

/// One table of the plan, in the order it will run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TablePlan {
    pub source: String,
    pub target: String,
    /// Rows in the source table when the run started; `None` until counted
    /// (the count follows as `RunEvent::Counted`).
    pub source_rows: Option<u64>,
    /// `source_rows` is the catalog's estimate, not a count.
    pub estimated: bool,
    /// Rows already done by an earlier, interrupted run of the same project.
    pub already_read: u64,
}

/// A before/after pair of one row, for the Mapping view.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SampleRow {
    /// (source column, value) as read.
    pub before: Vec<(String, String)>,
    /// (target column, value) as written, or empty if quarantined.
    pub after: Vec<(String, String)>,
    /// Why the row was quarantined, if it was.
    pub quarantined: Option<String>,
}

/// Counters of one table, cumulative for the run (resumed rows included).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TableProgress {
    pub read: u64,
    pub written: u64,
    pub quarantined: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Ready,
    Running,
    Paused,
    Completed,
    Cancelled,
    Failed,
}

impl RunState {
    /// The state in a person's words, as the cockpit's header shows it.
    pub fn word(&self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Completed => "completed",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
        }
    }
}

/// How an earlier run ended, from its status, for "resuming run X, which …".
pub fn how_it_ended(status: &str) -> String {
    match status {
        "running" => "did not finish (it failed, or its process died)".into(),
        "cancelled" => "was stopped".into(),
        crate::eventlog::rollback::PARTIALLY_ROLLED_BACK => "was rolled back to an event".into(),
        "completed" => "completed".into(),
        other => format!("ended as {other}"),
    }
}

/// Messages from the pipeline. Progress is throttled to a few per second.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Started {
        run_id: Uuid,
        tables: Vec<TablePlan>,
        /// The status of the earlier run this one picks up ("running" for
        /// one that died, "cancelled", "failed", "completed" for a rerun
        /// that reads what the source gained since); `None` for a new run.
        resumed: Option<String>,
    },
    TableStarted {
        table: usize,
    },
    /// The source row count of a table of the plan, counted in the
    /// background. A large table on a server gets the catalog's estimate
    /// first (`estimated`); its count follows.
    Counted {
        table: usize,
        source_rows: u64,
        estimated: bool,
    },
    /// One or more batches committed since the last report.
    Progress {
        table: usize,
        progress: TableProgress,
        /// Current batch size chosen by the feedback loop.
        batch_size: usize,
        /// Rows per second over the last interval.
        rows_per_s: f64,
        sample: Option<SampleRow>,
    },
    TableFinished {
        table: usize,
        progress: TableProgress,
    },
    /// An event appended to the event log (id, kind, one-line summary).
    Logged {
        id: i64,
        kind: String,
        summary: String,
    },
    /// The latest profile of the table being loaded (throttled).
    Profiled(crate::profile::TableProfileSnapshot),
    /// The whole recommendation queue, whenever it changes.
    Recommendations(Vec<crate::recommend::Recommendation>),
    /// An accepted or applied recommendation that later data violates.
    RecommendationAlert(crate::recommend::Alert),
    StateChanged(RunState),
    Finished(crate::pipeline::RunSummary),
    Failed {
        error: String,
    },
}

/// What the operator asks of a running pipeline; it obeys at a batch boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Pause,
    Cancel,
}

/// Steering handle for a run: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct RunControl {
    tx: watch::Sender<Command>,
    decisions: tokio::sync::mpsc::UnboundedSender<(String, Decision)>,
}

/// The receiving end of the operator's recommendation decisions.
pub type DecisionReceiver = tokio::sync::mpsc::UnboundedReceiver<(String, Decision)>;

impl RunControl {
    /// A control whose decisions go nowhere (for callers that only steer).
    pub fn new() -> (Self, watch::Receiver<Command>) {
        let (c, rx, _) = Self::with_decisions();
        (c, rx)
    }

    pub fn with_decisions() -> (Self, watch::Receiver<Command>, DecisionReceiver) {
        let (tx, rx) = watch::channel(Command::Run);
        let (dtx, drx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx, decisions: dtx }, rx, drx)
    }

    /// Accept, reject or defer a recommendation; applied at the next batch boundary.
    pub fn decide(&self, id: &str, decision: Decision) {
        // A finished run has no receiver; the decision no longer matters.
        let _ = self.decisions.send((id.to_string(), decision));
    }
    pub fn pause(&self) {
        self.tx.send_replace(Command::Pause);
    }
    pub fn resume(&self) {
        self.tx.send_replace(Command::Run);
    }
    pub fn cancel(&self) {
        self.tx.send_replace(Command::Cancel);
    }
}

/// A started run: steer it with `control`, watch it through `events`.
/// The channel closes after `Finished` or `Failed`.
#[derive(Debug)]
pub struct RunHandle {
    pub control: RunControl,
    pub events: tokio::sync::mpsc::Receiver<RunEvent>,
}

//! Extract → (profile tap) → transform → load, over bounded channels.

pub mod events;
mod parents;
mod run;

use serde::Serialize;

pub use events::{
    Command, RunControl, RunEvent, RunHandle, RunState, SampleRow, TablePlan, TableProgress,
    how_it_ended,
};
pub use run::{ESTIMATE_FROM_ROWS, Prepared, RunError, RunOptions, prepare, raw_row, spawn};

/// Per table totals of a finished run, as printed by `run --headless`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableSummary {
    pub source: String,
    pub target: String,
    pub read: u64,
    pub written: u64,
    pub quarantined: u64,
    /// Rows read per second while this run loaded the table (0 for a table
    /// an earlier run finished).
    pub rows_per_s: f64,
    /// Seconds this run spent on the table, its key build included (0 for
    /// one an earlier run finished).
    pub elapsed_s: f64,
}

/// The JSON object `run --headless` prints on stdout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub status: RunState,
    pub run_id: String,
    pub elapsed_s: f64,
    pub tables: Vec<TableSummary>,
    /// Every recommendation of the run with its decision and state.
    pub recommendations: Vec<crate::recommend::Recommendation>,
}

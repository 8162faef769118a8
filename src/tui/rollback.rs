//! The rollback popup's state: planning, confirmation, progress, outcome.

use crate::eventlog::rollback::RollbackPlan;

#[derive(Debug, Clone, PartialEq)]
pub enum RollbackStage {
    /// Waiting for the plan; `to` is the chosen event, `None` the whole latest run.
    Planning {
        to: Option<i64>,
    },
    /// Shown to the operator, who answers y/n.
    Confirming(RollbackPlan),
    Running {
        plan: RollbackPlan,
        done: usize,
        total: usize,
        /// The last step undone, in the log's words.
        last: Option<String>,
    },
    Finished {
        undone: usize,
        to: Option<i64>,
    },
    Failed(String),
}

impl RollbackStage {
    /// Waiting on the database: another rollback must not start.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            RollbackStage::Planning { .. } | RollbackStage::Running { .. }
        )
    }

    pub fn is_running(&self) -> bool {
        matches!(self, RollbackStage::Running { .. })
    }
}
